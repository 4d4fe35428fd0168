/* Hot add and rescind while channels are open and busy; sub-channels. */
#include "it_common.h"

static void hot_add_and_rescind_under_traffic(void **state)
{
	struct it_host_opts ho = {0};
	const char *sock = it_socket_path();
	struct it_proc host, guest;
	struct it_counts c;
	struct it_hstats hs;

	(void)state;
	assert_int_equal(it_host_start(&host, sock, &ho), 0);
	assert_int_equal(it_guest_start(&guest, sock, 0), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 1"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "traffic 1"), 0);
	it_wait_echoes(&guest, 100);

	/* Hot add: a second device appears and gets traffic too. */
	assert_int_equal(it_cmd(&host, NULL, 0, "add"), 1);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 2"), 0);
	it_counts(&guest, &c);
	it_wait_echoes(&guest, c.echoes + 200);

	/* Rescind the first device while its channel is busy. */
	assert_int_equal(it_cmd(&host, NULL, 0, "remove 0"), 0);
	for (int i = 0; i < 500; i++) {
		it_counts(&guest, &c);
		if (c.removed == 1)
			break;
		usleep(10000);
	}
	assert_int_equal(c.removed, 1);
	assert_int_equal(it_cmd(&guest, NULL, 0, "bound"), 1);
	/* The other device keeps working. */
	it_wait_echoes(&guest, c.echoes + 200);
	assert_int_equal(it_cmd(&guest, NULL, 0, "echo 0 512"), 0);

	it_hstats(&host, &hs);
	assert_int_equal(hs.open, 1);
	assert_int_equal(it_cmd(&guest, NULL, 0, "traffic 0"), 0);
	it_counts(&guest, &c);
	assert_int_equal(c.errors, 0);

	/* Re-offer after release: a new device binds. */
	assert_int_equal(it_cmd(&host, NULL, 0, "add"), 2);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 2"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "echo 1 100"), 0);
	it_quit(&guest);
	it_quit(&host);
}

static void subchannels(void **state)
{
	struct it_host_opts ho = {0};
	const char *sock = it_socket_path();
	struct it_proc host, guest;
	struct it_counts c = {0};
	struct it_hstats hs;

	(void)state;
	assert_int_equal(it_host_start(&host, sock, &ho), 0);
	assert_int_equal(it_guest_start(&guest, sock, 0), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 1"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "subchan 0 3"), 0);
	for (int i = 0; i < 500 && c.subchannels < 3; i++) {
		it_counts(&guest, &c);
		usleep(10000);
	}
	assert_int_equal(c.subchannels, 3);
	it_hstats(&host, &hs);
	assert_int_equal(hs.open, 4);
	/* Rescinding the device takes the sub-channels with it. */
	assert_int_equal(it_cmd(&host, NULL, 0, "remove 0"), 0);
	for (int i = 0; i < 500 && (hs.open || hs.gpadls); i++) {
		it_hstats(&host, &hs);
		usleep(10000);
	}
	assert_int_equal(hs.open, 0);
	assert_int_equal(hs.gpadls, 0);
	it_quit(&guest);
	it_quit(&host);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(hot_add_and_rescind_under_traffic),
		cmocka_unit_test(subchannels),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
