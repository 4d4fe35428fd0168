/*
 * Resource limits and failure: the GPADL aggregate limit, VP retargeting
 * under traffic and VP offline refusal, kill -9 of the guest (the host
 * frees every mapping and fd), kill -9 of the host (the guest exits with a
 * clear error).
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "it_common.h"

static void gpadl_limit(void **state)
{
	struct it_host_opts ho = {.gpadl_limit = 4u << 20};
	const char *sock = it_socket_path();
	struct it_proc host, guest;
	struct it_hstats hs;

	(void)state;
	assert_int_equal(it_host_start(&host, sock, &ho), 0);
	assert_int_equal(it_guest_start(&guest, sock, 0), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 1"), 0);
	/* Under the limit (the rings already use 136 KiB): fine. */
	assert_int_equal(it_cmd(&guest, NULL, 0, "gpadl 0 1048576"), 0);
	/* Over it: a clean failure, and the device keeps working. */
	assert_true(it_cmd(&guest, NULL, 0, "gpadl 0 8388608") < 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "echo 0 100"), 0);
	it_hstats(&host, &hs);
	assert_int_equal(hs.gpadls, 1); /* only the ring GPADL remains */
	it_quit(&guest);
	it_quit(&host);
}

static void retarget_under_traffic(void **state)
{
	struct it_host_opts ho = {.vps = 2};
	const char *sock = it_socket_path();
	struct it_proc host, guest;
	struct it_counts c;

	(void)state;
	assert_int_equal(it_host_start(&host, sock, &ho), 0);
	assert_int_equal(it_guest_start(&guest, sock, 0), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 1"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "traffic 1"), 0);
	it_wait_echoes(&guest, 100);
	for (unsigned i = 0; i < 20; i++) {
		assert_int_equal(it_cmd(&guest, NULL, 0, "setvp 0 %u", (i + 1) % 2), 0);
		it_counts(&guest, &c);
		it_wait_echoes(&guest, c.echoes + 20);
	}
	/* The channel now targets VP 0: VP 1 may go offline, VP 0 may not. */
	assert_int_equal(it_cmd(&guest, NULL, 0, "offline 1"), 0);
	assert_true(it_cmd(&guest, NULL, 0, "setvp 0 1") < 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "online 1"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "setvp 0 1"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "offline 1"), -EBUSY);
	assert_int_equal(it_cmd(&guest, NULL, 0, "traffic 0"), 0);
	it_counts(&guest, &c);
	assert_int_equal(c.errors, 0);
	it_quit(&guest);
	it_quit(&host);
}

static void guest_killed(void **state)
{
	struct it_host_opts ho = {.test_devices = 2};
	const char *sock = it_socket_path();
	struct it_proc host, guest;
	struct it_hstats hs;
	int fds_before, fds_after = -1;

	(void)state;
	assert_int_equal(it_host_start(&host, sock, &ho), 0);
	fds_before = it_fd_count(host.pid);
	for (int round = 0; round < 3; round++) {
		assert_int_equal(it_guest_start(&guest, sock, 0), 0);
		assert_int_equal(it_cmd(&guest, NULL, 0, "wait 2"), 0);
		assert_int_equal(it_cmd(&guest, NULL, 0, "traffic 1"), 0);
		it_wait_echoes(&guest, 50);
		it_hstats(&host, &hs);
		assert_int_equal(hs.open, 2);
		assert_true(hs.mappings >= 4);
		it_kill(&guest, SIGKILL);
		assert_true(it_wait(&guest, 5000) >= 0);
		/* The host notices, closes both channels and unmaps everything. */
		for (int i = 0; i < 300; i++) {
			it_hstats(&host, &hs);
			fds_after = it_fd_count(host.pid);
			if (!hs.open && !hs.gpadls && !hs.mappings && fds_after == fds_before)
				break;
			usleep(10000);
		}
		assert_int_equal(hs.open, 0);
		assert_int_equal(hs.gpadls, 0);
		assert_int_equal(hs.mappings, 0);
		assert_int_equal(fds_after, fds_before);
	}
	it_quit(&host);
}

static void host_killed(void **state)
{
	const char *sock = it_socket_path();
	char sysfs[300], bound[400];
	/* No disk: the default image in the default run directory is locked
	 * by whichever other test's host holds it at the time. */
	char *host_argv[] = {VMBUS_TOOL, "host", "--socket", (char *)sock, "-o", "storage.disk=none",
			     NULL};
	char *guest_argv[] = {VMBUS_TOOL, "guest", "--socket", (char *)sock, "--sysfs", sysfs,
			      NULL};
	pid_t host, guest;
	int status = 0;

	snprintf(sysfs, sizeof(sysfs), "%s.sysfs", sock);
	/* The default test device's driver file: the guest is up and bound. */
	snprintf(bound, sizeof(bound), "%s/devices/7e570000-0001-4000-8000-000000000000/driver",
		 sysfs);

	(void)state;
	host = fork();
	if (host == 0) {
		execv(VMBUS_TOOL, host_argv);
		_exit(127);
	}
	for (int i = 0; i < 200 && access(sock, F_OK) != 0; i++)
		usleep(10000);
	guest = fork();
	if (guest == 0) {
		execv(VMBUS_TOOL, guest_argv);
		_exit(127);
	}
	for (int i = 0; i < 1000 && access(bound, F_OK) != 0; i++)
		usleep(10000);
	assert_int_equal(access(bound, F_OK), 0);
	kill(host, SIGKILL);
	waitpid(host, NULL, 0);
	/* The guest must notice and exit on its own, promptly, with status 3. */
	for (int i = 0; i < 1000; i++) {
		if (waitpid(guest, &status, WNOHANG) == guest)
			break;
		usleep(10000);
	}
	if (kill(guest, 0) == 0) {
		kill(guest, SIGKILL);
		waitpid(guest, &status, 0);
		fail_msg("the guest did not exit after its host died");
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(gpadl_limit),
		cmocka_unit_test(retarget_under_traffic),
		cmocka_unit_test(guest_killed),
		cmocka_unit_test(host_killed),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
