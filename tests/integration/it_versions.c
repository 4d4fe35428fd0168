/* Negotiation at each of the 11 VMBus versions, host maximum forced down. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "harness.h"
#include "vmbus/msg.h"

static void run_at(uint32_t version)
{
	struct it_host_opts ho = {.max_version = version};
	const char *sock = it_socket_path();
	struct it_proc host, guest;
	char name[16];

	print_message("version %s\n", vmb_version_str(version, name, sizeof(name)));
	assert_int_equal(it_host_start(&host, sock, &ho), 0);
	assert_int_equal(it_guest_start(&guest, sock, 0), 0);
	/* The guest starts at 6.0 and must fall back to exactly the host's maximum. */
	assert_int_equal(it_cmd(&guest, NULL, 0, "version"), (long)version);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 1"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "echo 0 1000"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "echo 0 4000"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "quit"), -EPIPE);
	assert_int_equal(it_wait(&guest, 10000), 0);
	assert_int_equal(it_cmd(&host, NULL, 0, "quit"), -EPIPE);
	assert_int_equal(it_wait(&host, 10000), 0);
}

static void every_version(void **state)
{
	(void)state;
	for (unsigned i = 0; i < VMBUS_VERSION_COUNT; i++)
		run_at(vmb_versions[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_version),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
