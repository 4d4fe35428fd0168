/*
 * Guest runtime pieces that need no host: the init_vp_index policy, the
 * sysfs formats, and create() failing cleanly. The end-to-end behaviour
 * is covered by tests/integration.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "guest/guest_priv.h"

static void slow_devices_use_vp0(void **state)
{
	bool online[4] = {true, true, true, true};
	uint32_t rr = 2;

	(void)state;
	for (int i = 0; i < 5; i++)
		assert_int_equal(vmb_guest_pick_vp(online, 4, false, &rr), 0);
	assert_int_equal(rr, 2);
}

static void high_speed_round_robin(void **state)
{
	bool online[3] = {true, true, true};
	uint32_t rr = 0;

	(void)state;
	assert_int_equal(vmb_guest_pick_vp(online, 3, true, &rr), 0);
	assert_int_equal(vmb_guest_pick_vp(online, 3, true, &rr), 1);
	assert_int_equal(vmb_guest_pick_vp(online, 3, true, &rr), 2);
	assert_int_equal(vmb_guest_pick_vp(online, 3, true, &rr), 0);
}

static void high_speed_skips_offline(void **state)
{
	bool online[4] = {true, false, false, true};
	uint32_t rr = 1;

	(void)state;
	assert_int_equal(vmb_guest_pick_vp(online, 4, true, &rr), 3);
	assert_int_equal(vmb_guest_pick_vp(online, 4, true, &rr), 0);
	assert_int_equal(vmb_guest_pick_vp(online, 4, true, &rr), 3);
}

static void no_online_vp_falls_back_to_0(void **state)
{
	bool online[2] = {false, false};
	uint32_t rr = 1;

	(void)state;
	assert_int_equal(vmb_guest_pick_vp(online, 2, true, &rr), 0);
	assert_int_equal(vmb_guest_pick_vp(NULL, 0, true, &rr), 0);
}

static void class_id_braced_lowercase(void **state)
{
	const struct vmb_guid id = VMB_GUID_TEST;
	char buf[64];

	(void)state;
	vmb_sysfs_guid_braced(&id, buf, sizeof(buf));
	assert_string_equal(buf, "{6c3a1f2e-93b4-4d7a-a05e-1b8f2c47d910}");
}

/* The string a Linux guest shows for hv_netvsc. */
static void modalias_is_wire_bytes(void **state)
{
	const struct vmb_guid net = VMB_GUID_NET;
	char buf[64];

	(void)state;
	vmb_sysfs_modalias(&net, buf, sizeof(buf));
	assert_string_equal(buf, "vmbus:635161f83edfc546913ff2d2f965ed0e");
}

static void modalias_truncates_safely(void **state)
{
	const struct vmb_guid net = VMB_GUID_NET;
	char buf[12];

	(void)state;
	memset(buf, 'x', sizeof(buf));
	vmb_sysfs_modalias(&net, buf, sizeof(buf));
	assert_true(strlen(buf) < sizeof(buf));
	assert_memory_equal(buf, "vmbus:6351", 10);
}

static void state_numbers_match_linux(void **state)
{
	(void)state;
	assert_int_equal(vmb_sysfs_state(VMB_CCH_OFFERED, false), 0);
	assert_int_equal(vmb_sysfs_state(VMB_CCH_OPENING, false), 1);
	assert_int_equal(vmb_sysfs_state(VMB_CCH_OPEN, false), 3);
	assert_int_equal(vmb_sysfs_state(VMB_CCH_RESCINDED, true), 3);
	assert_int_equal(vmb_sysfs_state(VMB_CCH_RESCINDED, false), 0);
}

static void create_rejects_misuse(void **state)
{
	struct vmb_guest_config cfg = {0};
	struct vmb_guest *g = NULL;

	(void)state;
	assert_int_equal(vmb_guest_create(NULL, &g), -EINVAL);
	assert_int_equal(vmb_guest_create(&cfg, &g), -EINVAL);
	assert_null(g);
}

/* No host listening: create fails, and ASan sees nothing leaked. */
static void create_without_host_fails(void **state)
{
	struct vmb_guest_config cfg = {
	    .socket_path = "/nonexistent/vmbus-test.sock",
	    .timeout_ms = 200,
	};
	struct vmb_guest *g = NULL;

	(void)state;
	assert_true(vmb_guest_create(&cfg, &g) < 0);
	assert_null(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(slow_devices_use_vp0),
	    cmocka_unit_test(high_speed_round_robin),
	    cmocka_unit_test(high_speed_skips_offline),
	    cmocka_unit_test(no_online_vp_falls_back_to_0),
	    cmocka_unit_test(class_id_braced_lowercase),
	    cmocka_unit_test(modalias_is_wire_bytes),
	    cmocka_unit_test(modalias_truncates_safely),
	    cmocka_unit_test(state_numbers_match_linux),
	    cmocka_unit_test(create_rejects_misuse),
	    cmocka_unit_test(create_without_host_fails),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
