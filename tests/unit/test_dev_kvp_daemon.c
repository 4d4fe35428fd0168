/* KVP daemon handoff: message translation and the link's state machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/ic/kvp_daemon.h"

/* What the link sent to the host. */
static struct {
	int calls;
	struct vmb_ic_guest *ic;
	uint32_t status;
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	uint32_t len;
} sent;

static int fake_reply(struct vmb_ic_guest *ic, uint32_t status, const void *body, uint32_t len)
{
	sent.calls++;
	sent.ic = ic;
	sent.status = status;
	memcpy(sent.body, body, len);
	sent.len = len;
	return 0;
}

static int wakes;
static void on_wake(void *arg)
{
	(void)arg;
	wakes++;
}

#define IC ((struct vmb_ic_guest *)(uintptr_t)0x1000)

static int build(uint8_t op, uint8_t pool, const char *key, const char *value, uint32_t index,
		 void *buf)
{
	struct vmb_kvp_req r = {.op = op, .pool = pool, .index = index, .value_type = REG_SZ};

	snprintf(r.key, sizeof(r.key), "%s", key);
	snprintf(r.value, sizeof(r.value), "%s", value);
	return vmb_kvp_build(&r, buf, sizeof(struct hv_kvp_ip_msg));
}

static struct kvpd *attached(int reg_op)
{
	struct hv_kvp_msg reg = {0}, ver;
	struct kvpd *d;

	memset(&sent, 0, sizeof(sent));
	wakes = 0;
	assert_int_equal(kvpd_create(fake_reply, &d), 0);
	kvpd_set_wake(d, on_wake, NULL);
	assert_int_equal(kvpd_open(d), 0);
	assert_int_equal(kvpd_open(d), -EBUSY);
	reg.kvp_hdr.operation = (uint8_t)reg_op;
	assert_int_equal(kvpd_write(d, &reg, sizeof(reg)), 1);
	assert_true(kvpd_attached(d));
	assert_int_equal(wakes, 1);
	assert_int_equal(kvpd_take(d, &ver), 0);
	assert_int_equal(ver.kvp_hdr.operation, reg_op);
	assert_string_equal((const char *)ver.body.version, VMB_KVP_DRV_VERSION);
	assert_int_equal(kvpd_take(d, &ver), -EAGAIN);
	return d;
}

static void set_request_is_utf8(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct hv_kvp_msg m;
	int len = build(KVP_OP_SET, 1, "ключ", "välüe", 0, body);

	(void)state;
	assert_true(len > 0);
	assert_int_equal(vmb_kvp_daemon_request(body, (size_t)len, &m), 0);
	assert_int_equal(m.kvp_hdr.operation, KVP_OP_SET);
	assert_int_equal(m.kvp_hdr.pool, 1);
	assert_string_equal((const char *)m.body.rec.key, "ключ");
	assert_int_equal(m.body.rec.key_size, strlen("ключ") + 1);
	assert_string_equal((const char *)m.body.rec.value, "välüe");
	assert_int_equal(m.body.rec.value_size, strlen("välüe") + 1);
}

static void get_asks_whole_value_and_answer_is_utf16(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct hv_kvp_msg m;
	struct vmb_kvp_req back;
	int len = build(KVP_OP_GET, 0, "color", "", 0, body);

	(void)state;
	assert_int_equal(vmb_kvp_daemon_request(body, (size_t)len, &m), 0);
	assert_int_equal(m.body.rec.value_size, HV_KVP_EXCHANGE_MAX_VALUE_SIZE);
	m.error = 0;
	strcpy((char *)m.body.rec.value, "blue ✓");
	assert_int_equal(vmb_kvp_daemon_answer(&m, KVP_OP_REGISTER1, body, (size_t)len), HV_S_OK);
	assert_int_equal(vmb_kvp_get_record(&((struct hv_kvp_msg_value *)(void *)body)->data,
					    back.key, back.value),
			 0);
	assert_string_equal(back.key, "color");
	assert_string_equal(back.value, "blue ✓");
}

static void errors_follow_the_registration(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct hv_kvp_msg m = {0};
	int len = build(KVP_OP_ENUMERATE, 0, "", "", 7, body);

	(void)state;
	assert_int_equal(vmb_kvp_daemon_request(body, (size_t)len, &m), 0);
	assert_int_equal(m.body.en.index, 7);
	m.error = (int32_t)HV_S_CONT;
	assert_int_equal(vmb_kvp_daemon_answer(&m, KVP_OP_REGISTER1, body, (size_t)len), HV_S_CONT);
	/* Legacy daemons: an empty key ends the enumeration, error is ignored. */
	memset(&m, 0, sizeof(m));
	assert_int_equal(vmb_kvp_daemon_answer(&m, KVP_OP_REGISTER, body, (size_t)len), HV_S_CONT);
	strcpy((char *)m.body.en.data.key, "k");
	strcpy((char *)m.body.en.data.value, "v");
	assert_int_equal(vmb_kvp_daemon_answer(&m, KVP_OP_REGISTER, body, (size_t)len), HV_S_OK);
}

/* Unterminated strings too long for the wire: a clean failure, nothing read past them. */
static void overlong_daemon_strings_fail(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct hv_kvp_msg m;
	int len = build(KVP_OP_ENUMERATE, 0, "", "", 0, body);

	(void)state;
	memset(&m, 'a', sizeof(m));
	m.error = 0;
	assert_int_equal(vmb_kvp_daemon_answer(&m, KVP_OP_REGISTER1, body, (size_t)len), HV_E_FAIL);
	/* A key that fits in UTF-16 with an unterminated value is cut to fit too. */
	memset(m.body.en.data.key, 0, sizeof(m.body.en.data.key));
	strcpy((char *)m.body.en.data.key, "k");
	assert_int_equal(vmb_kvp_daemon_answer(&m, KVP_OP_REGISTER1, body, (size_t)len), HV_E_FAIL);
	memset(m.body.en.data.value + 100, 0, 1);
	assert_int_equal(vmb_kvp_daemon_answer(&m, KVP_OP_REGISTER1, body, (size_t)len), HV_S_OK);
}

static void ip_info_stays_local(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)] = {KVP_OP_GET_IP_INFO, 0};
	struct hv_kvp_msg m;

	(void)state;
	assert_int_equal(vmb_kvp_daemon_request(body, sizeof(body), &m), -EOPNOTSUPP);
	assert_int_equal(vmb_kvp_daemon_request(body, 10, &m), -EBADMSG);
}

static void no_daemon_means_local(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct hv_kvp_msg reg = {0};
	struct kvpd *d;
	int len = build(KVP_OP_DELETE, 0, "k", "", 0, body);

	(void)state;
	assert_int_equal(kvpd_create(fake_reply, &d), 0);
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), -ENOTCONN);
	assert_int_equal(kvpd_open(d), 0);
	/* Opened but not registered yet; a bad registration keeps it so. */
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), -ENOTCONN);
	reg.kvp_hdr.operation = KVP_OP_SET;
	assert_int_equal(kvpd_write(d, &reg, sizeof(reg)), -EINVAL);
	assert_int_equal(kvpd_write(d, &reg, sizeof(reg) - 2), -EINVAL);
	assert_false(kvpd_attached(d));
	kvpd_destroy(d);
}

static void round_trip_through_the_daemon(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct kvpd *d = attached(KVP_OP_REGISTER1);
	struct hv_kvp_msg m;
	int len = build(KVP_OP_DELETE, 3, "gone", "", 0, body);

	(void)state;
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), 0);
	assert_int_equal(wakes, 2);
	assert_true(kvpd_readable(d));
	/* An answer before the daemon read the request is spurious. */
	assert_int_equal(kvpd_write(d, &m, sizeof(m)), -EINVAL);
	assert_int_equal(kvpd_take(d, &m), 0);
	assert_int_equal(m.kvp_hdr.operation, KVP_OP_DELETE);
	assert_string_equal((const char *)m.body.del.key, "gone");
	/* One at a time, as the IC layer guarantees. */
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), -EBUSY);
	m.error = 0;
	assert_int_equal(kvpd_write(d, &m, sizeof(m)), 0);
	assert_int_equal(sent.calls, 1);
	assert_ptr_equal(sent.ic, IC);
	assert_int_equal(sent.status, HV_S_OK);
	assert_int_equal(sent.len, (uint32_t)len);
	assert_memory_equal(sent.body, body, (size_t)len);
	/* Nothing outstanding now: a second answer is refused. */
	assert_int_equal(kvpd_write(d, &m, sizeof(m)), -EINVAL);
	assert_int_equal(sent.calls, 1);
	kvpd_release(d);
	kvpd_destroy(d);
}

static void release_fails_the_pending_request(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct kvpd *d = attached(KVP_OP_REGISTER1);
	struct hv_kvp_msg m;
	int len = build(KVP_OP_SET, 0, "k", "v", 0, body);

	(void)state;
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), 0);
	assert_int_equal(kvpd_take(d, &m), 0);
	kvpd_release(d);
	assert_int_equal(sent.calls, 1);
	assert_int_equal(sent.status, HV_E_FAIL);
	assert_false(kvpd_attached(d));
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), -ENOTCONN);
	/* A restarted daemon opens and registers again. */
	assert_int_equal(kvpd_open(d), 0);
	memset(&m, 0, sizeof(m));
	m.kvp_hdr.operation = KVP_OP_REGISTER1;
	assert_int_equal(kvpd_write(d, &m, sizeof(m)), 1);
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), 0);
	kvpd_release(d);
	assert_int_equal(sent.calls, 2);
	kvpd_destroy(d);
}

static void detach_forgets_the_request(void **state)
{
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	struct kvpd *d = attached(KVP_OP_REGISTER1);
	struct hv_kvp_msg m;
	int len = build(KVP_OP_GET, 0, "k", "", 0, body);

	(void)state;
	assert_int_equal(kvpd_submit(d, IC, body, (size_t)len), 0);
	kvpd_detach(d, IC);
	assert_false(kvpd_readable(d));
	memset(&m, 0, sizeof(m));
	assert_int_equal(kvpd_write(d, &m, sizeof(m)), -EINVAL);
	kvpd_release(d);
	assert_int_equal(sent.calls, 0);
	kvpd_destroy(d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(set_request_is_utf8),
	    cmocka_unit_test(get_asks_whole_value_and_answer_is_utf16),
	    cmocka_unit_test(errors_follow_the_registration),
	    cmocka_unit_test(overlong_daemon_strings_fail),
	    cmocka_unit_test(ip_info_stays_local),
	    cmocka_unit_test(no_daemon_means_local),
	    cmocka_unit_test(round_trip_through_the_daemon),
	    cmocka_unit_test(release_fails_the_pending_request),
	    cmocka_unit_test(detach_forgets_the_request),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
