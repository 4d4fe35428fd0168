/*
 * IC framework and services, pure parts: framing, negotiation (every
 * version-list combination), the guest state machine, heartbeat liveness,
 * shutdown decisions and time-sync sample parsing.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus/dev/ic.h"

#define V(a, b) ((struct ic_version){(a), (b)})

static const struct ic_version fw_both[] = {{3, 0}, {1, 0}};
static const struct ic_version fw_old[] = {{1, 0}};
static const struct ic_version fw_new[] = {{3, 0}};
static const struct ic_version fw_none[] = {{2, 0}};
static const struct ic_version ts_all[] = {{4, 0}, {3, 0}, {1, 0}};
static const struct ic_version ts_old[] = {{3, 0}, {1, 0}};
static const struct ic_version ts_v1[] = {{1, 0}};
static const struct ic_version ts_weird[] = {{9, 9}, {7, 1}};

static uint8_t buf[VMB_IC_MAX_MSG + 64];

static void set_u32(uint8_t *p, uint32_t v)
{
	memcpy(p, &v, sizeof(v));
}

static void set_u16(uint8_t *p, uint16_t v)
{
	memcpy(p, &v, sizeof(v));
}

/* ---- framing ---- */

static void test_build_layout(void **state)
{
	static const uint8_t body[4] = {1, 2, 3, 4};
	int len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_HEARTBEAT, V(3, 0), V(3, 0), 7, body,
			       sizeof(body));
	uint32_t u32;
	uint16_t u16;

	(void)state;
	assert_int_equal(len, 32);
	memcpy(&u32, buf, 4);
	assert_int_equal(u32, 1); /* pipe DATA */
	memcpy(&u32, buf + 4, 4);
	assert_int_equal(u32, 24);
	memcpy(&u16, buf + 12, 2);
	assert_int_equal(u16, ICMSGTYPE_HEARTBEAT);
	memcpy(&u16, buf + 18, 2);
	assert_int_equal(u16, 4); /* icmsgsize */
	assert_int_equal(buf[24], 7);
	assert_int_equal(buf[25], ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST);
	assert_memory_equal(buf + 28, body, 4);
	assert_int_equal(vmb_ic_build(buf, 31, 1, V(3, 0), V(3, 0), 0, body, 4), -EINVAL);
	assert_int_equal(
	    vmb_ic_build(buf, sizeof(buf), 1, V(3, 0), V(3, 0), 0, buf, VMB_IC_MAX_MSG), -EINVAL);
}

static void test_parse(void **state)
{
	struct vmb_ic_msg m;
	int len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_SHUTDOWN, V(3, 0), V(3, 2), 1, NULL, 0);

	(void)state;
	assert_int_equal(len, 28);
	assert_int_equal(vmb_ic_parse(buf, 28, &m), 0);
	assert_int_equal(m.body_len, 0);
	assert_int_equal(m.len, 28);
	/* Ring padding after the message is fine. */
	assert_int_equal(vmb_ic_parse(buf, 32, &m), 0);
	assert_int_equal(m.len, 28);
	/* Truncated. */
	for (size_t n = 0; n < 28; n++)
		assert_int_equal(vmb_ic_parse(buf, n, &m), -EBADMSG);
	/* Wrong pipe type. */
	set_u32(buf, 2);
	assert_int_equal(vmb_ic_parse(buf, 28, &m), -EBADMSG);
	set_u32(buf, 1);
	/* msgsize beyond the packet, or below the IC header. */
	set_u32(buf + 4, 21);
	assert_int_equal(vmb_ic_parse(buf, 28, &m), -EBADMSG);
	set_u32(buf + 4, 19);
	assert_int_equal(vmb_ic_parse(buf, 28, &m), -EBADMSG);
	set_u32(buf + 4, 20);
	/* icmsgsize larger than the body present. */
	set_u16(buf + 18, 1);
	assert_int_equal(vmb_ic_parse(buf, 28, &m), -EBADMSG);
	set_u16(buf + 18, 0);
	/* Oversized message. */
	set_u32(buf + 4, VMB_IC_MAX_MSG - 8 + 1);
	assert_int_equal(vmb_ic_parse(buf, sizeof(buf), &m), -EBADMSG);
	set_u32(buf + 4, VMB_IC_MAX_MSG - 8);
	assert_int_equal(vmb_ic_parse(buf, sizeof(buf), &m), 0);
}

/* ---- negotiation ---- */

struct neg_case {
	const struct ic_version *hfw, *hmsg, *gfw, *gmsg;
	unsigned nhfw, nhmsg, ngfw, ngmsg;
	int want;
	struct ic_version fw, msg;
};

static void run_neg(const struct neg_case *c)
{
	struct vmb_ic_msg m;
	struct ic_version fw = {0, 0}, mv = {0, 0}, hfw, hmv;
	int len = vmb_ic_build_negotiate(buf, sizeof(buf), 1, c->hfw, c->nhfw, c->hmsg, c->nhmsg);

	assert_true(len > 0);
	assert_int_equal(vmb_ic_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(vmb_ic_negotiate_pick(&m, c->gfw, c->ngfw, c->gmsg, c->ngmsg, &fw, &mv),
			 c->want);
	/* The host reads the guest's answer from the same bytes. */
	memcpy(buf + 8, &m.hdr, sizeof(m.hdr));
	assert_int_equal(vmb_ic_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(
	    vmb_ic_negotiate_result(&m, c->hfw, c->nhfw, c->hmsg, c->nhmsg, &hfw, &hmv), c->want);
	if (c->want == 0) {
		assert_int_equal(m.hdr.icmsgsize, 16);
		assert_int_equal(fw.major, c->fw.major);
		assert_int_equal(fw.minor, c->fw.minor);
		assert_int_equal(mv.major, c->msg.major);
		assert_int_equal(mv.minor, c->msg.minor);
		assert_memory_equal(&hfw, &fw, sizeof(fw));
		assert_memory_equal(&hmv, &mv, sizeof(mv));
	}
}

static void test_negotiate_combinations(void **state)
{
	const struct neg_case cases[] = {
	    /* Both lists full: highest common pair. */
	    {fw_both, ts_all, fw_both, ts_all, 2, 3, 2, 3, 0, {3, 0}, {4, 0}},
	    /* Old host framework only. */
	    {fw_old, ts_all, fw_both, ts_all, 1, 3, 2, 3, 0, {1, 0}, {4, 0}},
	    /* Guest only knows 3.0 framework, host both. */
	    {fw_both, ts_all, fw_new, ts_all, 2, 3, 1, 3, 0, {3, 0}, {4, 0}},
	    /* Host without 4.0 time sync. */
	    {fw_both, ts_old, fw_both, ts_all, 2, 2, 2, 3, 0, {3, 0}, {3, 0}},
	    {fw_both, ts_v1, fw_both, ts_all, 2, 1, 2, 3, 0, {3, 0}, {1, 0}},
	    /* Guest preference order wins over host order. */
	    {fw_both, ts_v1, fw_old, ts_v1, 2, 1, 1, 1, 0, {1, 0}, {1, 0}},
	    /* No common framework. */
	    {fw_none, ts_all, fw_both, ts_all, 1, 3, 2, 3, -ENOTSUP, {0, 0}, {0, 0}},
	    /* No common message version. */
	    {fw_both, ts_weird, fw_both, ts_all, 2, 2, 2, 3, -ENOTSUP, {0, 0}, {0, 0}},
	    /* Neither. */
	    {fw_none, ts_weird, fw_both, ts_all, 1, 2, 2, 3, -ENOTSUP, {0, 0}, {0, 0}},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_neg(&cases[i]);
}

static void test_negotiate_malformed(void **state)
{
	struct vmb_ic_msg m;
	struct ic_version fw, mv;
	int len = vmb_ic_build_negotiate(buf, sizeof(buf), 1, fw_both, 2, ts_all, 3);

	(void)state;
	/* Counts past the body. */
	set_u16(buf + 28, 3);
	assert_int_equal(vmb_ic_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(vmb_ic_negotiate_pick(&m, fw_both, 2, ts_all, 3, &fw, &mv), -EBADMSG);
	/* More than 100 versions. */
	set_u16(buf + 28, 101);
	assert_int_equal(vmb_ic_negotiate_pick(&m, fw_both, 2, ts_all, 3, &fw, &mv), -EBADMSG);
	/* Body shorter than the counts. */
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_NEGOTIATE, V(3, 0), V(3, 0), 1, NULL, 4);
	assert_int_equal(len, -EINVAL);
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_NEGOTIATE, V(3, 0), V(3, 0), 1, fw_both, 4);
	assert_int_equal(vmb_ic_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(vmb_ic_negotiate_pick(&m, fw_both, 2, ts_all, 3, &fw, &mv), -EBADMSG);
	/* Host side: counts must be 1/1 and the versions ones it offered. */
	len = vmb_ic_build_negotiate(buf, sizeof(buf), 1, fw_both, 2, ts_all, 3);
	assert_int_equal(vmb_ic_parse(buf, (size_t)len, &m), 0);
	assert_int_equal(vmb_ic_negotiate_result(&m, fw_both, 2, ts_all, 3, &fw, &mv), -EBADMSG);
	assert_int_equal(vmb_ic_negotiate_pick(&m, fw_both, 2, ts_all, 3, &fw, &mv), 0);
	assert_int_equal(vmb_ic_negotiate_result(&m, fw_old, 1, ts_all, 3, &fw, &mv), -EBADMSG);
	assert_int_equal(vmb_ic_negotiate_result(&m, fw_both, 2, ts_v1, 1, &fw, &mv), -EBADMSG);
	/* Not a negotiate message. */
	m.hdr.icmsgtype = ICMSGTYPE_HEARTBEAT;
	assert_int_equal(vmb_ic_negotiate_result(&m, fw_both, 2, ts_all, 3, &fw, &mv), -EBADMSG);
	/* Lists the host may not offer. */
	assert_int_equal(vmb_ic_build_negotiate(buf, sizeof(buf), 1, fw_both, 0, ts_all, 3),
			 -EINVAL);
	assert_int_equal(vmb_ic_build_negotiate(buf, sizeof(buf), 1, fw_both, 101, ts_all, 3),
			 -EINVAL);
}

/* ---- guest state machine ---- */

struct echo_svc {
	int calls;
	int ret;
};

static int echo_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct echo_svc *e = ctx;

	(void)ic;
	e->calls++;
	if (m->body_len)
		m->body[0] ^= 0xff;
	*status = 0x1234;
	return e->ret;
}

static uint32_t reply_status(void)
{
	uint32_t st;

	memcpy(&st, buf + 8 + offsetof(struct icmsg_hdr, status), sizeof(st));
	return st;
}

static void test_guest_sm(void **state)
{
	struct echo_svc e = {0, VMB_IC_REPLY};
	struct vmb_ic_guest_service svc = {
	    .name = "t",
	    .msgtype = ICMSGTYPE_HEARTBEAT,
	    .fw_versions = fw_both,
	    .nfw = 2,
	    .msg_versions = ts_old,
	    .nmsg = 2,
	    .request = echo_request,
	    .ctx = &e,
	};
	struct vmb_ic_guest_sm sm = {.svc = &svc};
	uint8_t body[8] = {0x11};
	size_t out = 0;
	int len;

	(void)state;
	/* A request before negotiation fails but is answered. */
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_HEARTBEAT, V(3, 0), V(3, 0), 1, body, 8);
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_REPLY);
	assert_int_equal(reply_status(), HV_E_FAIL);
	assert_int_equal(buf[25], ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE);
	assert_int_equal(e.calls, 0);
	/* Negotiate. */
	len = vmb_ic_build_negotiate(buf, sizeof(buf), 2, fw_both, 2, ts_all, 3);
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_REPLY);
	assert_int_equal(out, (size_t)len);
	assert_true(sm.negotiated);
	assert_int_equal(sm.msgver.major, 3);
	assert_int_equal(reply_status(), HV_S_OK);
	/* Dispatch: the body is edited in place, the status is the service's. */
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_HEARTBEAT, V(3, 0), V(3, 0), 3, body, 8);
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_REPLY);
	assert_int_equal(e.calls, 1);
	assert_int_equal(buf[28], 0xee);
	assert_int_equal(reply_status(), 0x1234);
	/* Wrong message type: failure status, service not called. */
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_KVPEXCHANGE, V(3, 0), V(3, 0), 4, body, 8);
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_REPLY);
	assert_int_equal(reply_status(), HV_E_FAIL);
	assert_int_equal(e.calls, 1);
	/* A response (not a request) is dropped. */
	buf[25] = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), -EBADMSG);
	/* Truncated message dropped. */
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, 20, &out), -EBADMSG);
	/* Deferred: the next one is refused until the reply. */
	e.ret = VMB_IC_DEFER;
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_HEARTBEAT, V(3, 0), V(3, 0), 5, body, 8);
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_DEFER);
	assert_true(sm.deferred);
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_HEARTBEAT, V(3, 0), V(3, 0), 6, body, 8);
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_REPLY);
	assert_int_equal(reply_status(), HV_E_FAIL);
	assert_int_equal(e.calls, 2);
}

static void test_guest_sm_no_common(void **state)
{
	struct echo_svc e = {0, VMB_IC_REPLY};
	struct vmb_ic_guest_service svc = {
	    .msgtype = ICMSGTYPE_TIMESYNC,
	    .fw_versions = fw_both,
	    .nfw = 2,
	    .msg_versions = ts_all,
	    .nmsg = 3,
	    .request = echo_request,
	    .ctx = &e,
	};
	struct vmb_ic_guest_sm sm = {.svc = &svc};
	uint16_t cnt[2];
	size_t out;
	int len = vmb_ic_build_negotiate(buf, sizeof(buf), 1, fw_both, 2, ts_weird, 2);

	(void)state;
	/* Linux still replies, with counts 0/0. */
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_REPLY);
	assert_false(sm.negotiated);
	memcpy(cnt, buf + 28, sizeof(cnt));
	assert_int_equal(cnt[0], 0);
	assert_int_equal(cnt[1], 0);
	len = vmb_ic_build(buf, sizeof(buf), ICMSGTYPE_TIMESYNC, V(3, 0), V(4, 0), 2, NULL, 0);
	assert_int_equal(vmb_ic_guest_process(&sm, NULL, buf, (size_t)len, &out), VMB_IC_REPLY);
	assert_int_equal(reply_status(), HV_E_FAIL);
	assert_int_equal(e.calls, 0);
}

/* ---- heartbeat ---- */

static void test_heartbeat_tracker(void **state)
{
	struct vmb_hb_tracker t;

	(void)state;
	vmb_hb_init(&t, 2000, 1000);
	assert_int_equal(vmb_hb_state(&t, 1000), VMB_HB_WAITING);
	assert_int_equal(vmb_hb_state(&t, 3000), VMB_HB_WAITING);
	assert_int_equal(vmb_hb_state(&t, 3001), VMB_HB_MISSING);
	assert_int_equal(vmb_hb_answer(&t, 5, 6, 3500), 0);
	assert_int_equal(vmb_hb_state(&t, 3500), VMB_HB_ALIVE);
	assert_int_equal(vmb_hb_state(&t, 5500), VMB_HB_ALIVE);
	assert_int_equal(vmb_hb_state(&t, 5501), VMB_HB_MISSING);
	/* A wrong sequence is not a sign of life. */
	assert_int_equal(vmb_hb_answer(&t, 6, 6, 5600), -EPROTO);
	assert_int_equal(vmb_hb_state(&t, 5600), VMB_HB_MISSING);
	assert_int_equal(t.bad, 1);
	assert_int_equal(vmb_hb_answer(&t, 7, 8, 5700), 0);
	assert_int_equal(vmb_hb_state(&t, 5700), VMB_HB_ALIVE);
	assert_int_equal(t.answered, 2);
	assert_string_equal(vmb_hb_state_name(VMB_HB_MISSING), "missing");
}

/* ---- shutdown ---- */

static void test_shutdown_decide(void **state)
{
	struct shutdown_msg_data d = {.reason_code = VMB_SHTDN_REASON_PLANNED};
	uint32_t flags = 99;

	(void)state;
	assert_int_equal(vmb_sd_guest_decide(true, (uint8_t *)&d, sizeof(d), &flags), HV_S_OK);
	assert_int_equal(flags, 0);
	d.flags = VMB_SHUTDOWN_FLAG_REBOOT | VMB_SHUTDOWN_FLAG_FORCE;
	assert_int_equal(vmb_sd_guest_decide(true, (uint8_t *)&d, 12, &flags), HV_S_OK);
	assert_int_equal(flags, 3);
	assert_int_equal(vmb_sd_guest_decide(false, (uint8_t *)&d, sizeof(d), &flags), HV_E_FAIL);
	d.flags = VMB_SHUTDOWN_FLAG_HIBERNATE;
	assert_int_equal(vmb_sd_guest_decide(true, (uint8_t *)&d, sizeof(d), &flags), HV_E_FAIL);
	assert_int_equal(vmb_sd_guest_decide(true, (uint8_t *)&d, 11, &flags), HV_E_FAIL);
}

/* ---- time sync ---- */

static void test_timesync_parse(void **state)
{
	struct ictimesync_ref_data r = {
	    .parenttime = 1000000, .vmreferencetime = 500, .flags = ICTIMESYNCFLAG_SYNC};
	struct ictimesync_data o = {.parenttime = 2000000, .flags = ICTIMESYNCFLAG_SAMPLE};
	struct vmb_ts_sample s;

	(void)state;
	/* v4: host now = parent + (ref_now - vmreferencetime). */
	assert_int_equal(
	    vmb_ts_parse_sample((uint8_t *)&r, VMB_TS_REF_BODY, V(4, 0), 700, 1000150, &s), 0);
	assert_true(s.v4);
	assert_int_equal(s.flags, ICTIMESYNCFLAG_SYNC);
	assert_int_equal(s.offset, 50);
	/* Reference counter behind the sample: no wrap-around. */
	assert_int_equal(
	    vmb_ts_parse_sample((uint8_t *)&r, VMB_TS_REF_BODY, V(4, 0), 400, 1000000, &s), 0);
	assert_int_equal(s.offset, -100);
	assert_int_equal(
	    vmb_ts_parse_sample((uint8_t *)&r, VMB_TS_REF_MIN_BODY, V(4, 0), 700, 0, &s), 0);
	assert_int_equal(
	    vmb_ts_parse_sample((uint8_t *)&r, VMB_TS_REF_MIN_BODY - 1, V(4, 0), 700, 0, &s),
	    -EBADMSG);
	/* Old format: parenttime alone. */
	assert_int_equal(vmb_ts_parse_sample((uint8_t *)&o, 28, V(3, 0), 0, 2000300, &s), 0);
	assert_false(s.v4);
	assert_int_equal(s.offset, -300);
	assert_int_equal(s.flags, ICTIMESYNCFLAG_SAMPLE);
	assert_int_equal(vmb_ts_parse_sample((uint8_t *)&o, 24, V(1, 0), 0, 0, &s), -EBADMSG);
	/* Absurd times are rejected. */
	o.parenttime = UINT64_MAX;
	assert_int_equal(vmb_ts_parse_sample((uint8_t *)&o, 28, V(3, 0), 0, 0, &s), -EBADMSG);
	r.vmreferencetime = UINT64_MAX;
	assert_int_equal(vmb_ts_parse_sample((uint8_t *)&r, 24, V(4, 0), 0, 0, &s), -EBADMSG);
}

static void test_timesync_clocks(void **state)
{
	uint64_t w = vmb_ts_wall_now(), w2 = vmb_ts_wall_now();

	(void)state;
	/* After 2020-01-01 in 1601-based 100 ns units. */
	assert_true(w > VMB_WLTIMEDELTA + 15778368000000000ull);
	assert_true(w2 >= w);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_build_layout),
	    cmocka_unit_test(test_parse),
	    cmocka_unit_test(test_negotiate_combinations),
	    cmocka_unit_test(test_negotiate_malformed),
	    cmocka_unit_test(test_guest_sm),
	    cmocka_unit_test(test_guest_sm_no_common),
	    cmocka_unit_test(test_heartbeat_tracker),
	    cmocka_unit_test(test_shutdown_decide),
	    cmocka_unit_test(test_timesync_parse),
	    cmocka_unit_test(test_timesync_clocks),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
