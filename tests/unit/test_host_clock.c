/* `vmbus ctl clock-update`: argument checks and the frequency it sets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/host.h"

static char dir[64], sock_path[96];

static int run(struct vmb_host *h, int argc, char **argv, char *text, size_t cap)
{
	FILE *out = fmemopen(text, cap, "w");
	assert_non_null(out);
	int rc = vmb_host_ctl_run(h, argc, argv, out);
	fclose(out);
	return rc;
}

static void test_clock_update(void **state)
{
	(void)state;
	struct vmb_host_config cfg = {.socket_path = sock_path, .ram_size = 16 << 20};
	struct vmb_host *h;
	char text[256];
	unsigned long long hz, measured, ref;

	assert_int_equal(vmb_host_create(&cfg, &h), 0);
	char *ok[] = {"clock-update", "--scale", "-250", "--count", "10"};
	memset(text, 0, sizeof(text));
	assert_int_equal(run(h, 5, ok, text, sizeof(text)), 0);
	assert_int_equal(
	    sscanf(text, "tsc_hz %llu measured %llu ref_time %llu", &hz, &measured, &ref), 3);
	assert_int_equal(hz, measured - measured / 1000000 * 250);
	assert_true(ref > 0);

	char *bad[][3] = {{"clock-update", "--scale", "200000"},
			  {"clock-update", "--scale", "12x"},
			  {"clock-update", "--count", "0"},
			  {"clock-update", "--frobnicate", "1"}};
	for (size_t i = 0; i < 4; i++)
		assert_int_equal(run(h, 3, bad[i], text, sizeof(text)), -EINVAL);
	char *missing[] = {"clock-update", "--scale"};
	assert_int_equal(run(h, 2, missing, text, sizeof(text)), -EINVAL);
	vmb_host_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_clock_update)};

	snprintf(dir, sizeof(dir), "/tmp/vmb_hclock_XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/h.sock", dir);
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	unlink(sock_path);
	rmdir(dir);
	return rc;
}
