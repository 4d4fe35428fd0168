/* VSS and fcopy daemon handoff: the link's state machine and both services' messages. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dev/ic/daemon_link.h"

/* What the link sent to the host. */
static struct {
	int calls;
	struct vmb_ic_guest *ic;
	uint32_t status;
	uint8_t body[VMB_VSS_MAX_BODY];
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

#define IC ((struct vmb_ic_guest *)(uintptr_t)0x1000)

/* A link with a daemon registered; *ver = the handshake answer it read (or -1). */
static struct dlink *attached(const struct dlink_service *svc, const void *reg, size_t len,
			      long *ver_len)
{
	uint8_t buf[8192];
	struct dlink *l;

	memset(&sent, 0, sizeof(sent));
	assert_int_equal(dlink_create(svc, fake_reply, &l), 0);
	assert_int_equal(dlink_submit(l, IC, reg, len), -ENOTCONN);
	assert_int_equal(dlink_open(l), 0);
	assert_int_equal(dlink_open(l), -EBUSY);
	assert_int_equal(dlink_write(l, reg, len), 1);
	assert_true(dlink_attached(l));
	*ver_len = dlink_take(l, buf, sizeof(buf));
	if (*ver_len == 4) {
		uint32_t v;
		memcpy(&v, buf, 4);
		assert_true(v == 129 || v == 1);
	}
	return l;
}

static void vss_body(uint8_t *b, uint8_t op)
{
	memset(b, 0, 64);
	b[0] = op;
}

static void test_vss_handshake(void **state)
{
	uint8_t reg[12] = {129}, legacy[12] = {128}, bad[12] = {5};
	long n;
	struct dlink *l = attached(&dlink_vss, reg, sizeof(reg), &n);

	(void)state;
	assert_int_equal(n, 4);
	dlink_destroy(l);
	/* The legacy registration expects no answer. */
	l = attached(&dlink_vss, legacy, sizeof(legacy), &n);
	assert_int_equal(n, -EAGAIN);
	dlink_destroy(l);
	/* Wrong size or operation: refused, not registered. */
	assert_int_equal(dlink_create(&dlink_vss, fake_reply, &l), 0);
	assert_int_equal(dlink_open(l), 0);
	assert_int_equal(dlink_write(l, reg, 8), -EINVAL);
	assert_int_equal(dlink_write(l, bad, sizeof(bad)), -EINVAL);
	assert_false(dlink_attached(l));
	dlink_destroy(l);
}

static void test_vss_freeze_and_check(void **state)
{
	uint8_t reg[12] = {129}, body[64], msg[64], ans[12] = {0};
	long n;
	struct dlink *l = attached(&dlink_vss, reg, sizeof(reg), &n);
	int32_t err = 1;

	(void)state;
	/* FREEZE reaches the daemon as a 12-byte message with the operation only. */
	vss_body(body, VSS_OP_FREEZE);
	body[20] = 0xaa; /* LUN data the daemon must not see */
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), 0);
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), -EBUSY);
	assert_true(dlink_readable(l));
	assert_int_equal(dlink_take(l, msg, sizeof(msg)), 12);
	assert_int_equal(msg[0], VSS_OP_FREEZE);
	for (int i = 1; i < 12; i++)
		assert_int_equal(msg[i], 0);
	assert_int_equal(dlink_write(l, ans, 8), -EINVAL); /* wrong size */
	memcpy(ans, &err, sizeof(err));
	assert_int_equal(dlink_write(l, ans, sizeof(ans)), 0);
	assert_int_equal(sent.calls, 1);
	assert_int_equal(sent.status, HV_E_FAIL);
	assert_int_equal(sent.len, sizeof(body));
	assert_int_equal(sent.body[20], 0xaa);
	/* HOT_BACKUP: success carries Linux's flags. */
	vss_body(body, VSS_OP_HOT_BACKUP);
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), 0);
	assert_int_equal(dlink_take(l, msg, sizeof(msg)), 12);
	memset(ans, 0, sizeof(ans));
	assert_int_equal(dlink_write(l, ans, sizeof(ans)), 0);
	assert_int_equal(sent.status, HV_S_OK);
	assert_int_equal(sent.body[8], VSS_HBU_NO_AUTO_RECOVERY);
	/* Not the daemon's: answered by the driver. */
	vss_body(body, VSS_OP_GET_DM_INFO);
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), -EOPNOTSUPP);
	assert_int_equal(dlink_submit(l, IC, body, 4), -EBADMSG);
	dlink_destroy(l);
}

static void test_spurious_and_release(void **state)
{
	uint8_t reg[12] = {129}, body[64], msg[64], ans[12] = {0};
	long n;
	struct dlink *l = attached(&dlink_vss, reg, sizeof(reg), &n);

	(void)state;
	/* An answer nobody asked for. */
	assert_int_equal(dlink_write(l, ans, sizeof(ans)), -EINVAL);
	/* Asked but not read yet: still spurious. */
	vss_body(body, VSS_OP_THAW);
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), 0);
	assert_int_equal(dlink_write(l, ans, sizeof(ans)), -EINVAL);
	assert_int_equal(dlink_take(l, msg, sizeof(msg)), 12);
	/* The daemon dies holding the request: a clean failure, then the driver again. */
	dlink_release(l);
	assert_int_equal(sent.calls, 1);
	assert_int_equal(sent.status, HV_E_FAIL);
	assert_false(dlink_attached(l));
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), -ENOTCONN);
	/* A new daemon registers again. */
	assert_int_equal(dlink_open(l), 0);
	assert_int_equal(dlink_write(l, reg, sizeof(reg)), 1);
	/* Its handshake answer unread: requests stay with the driver. */
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), -ENOTCONN);
	assert_int_equal(dlink_take(l, msg, sizeof(msg)), 4);
	assert_int_equal(dlink_submit(l, IC, body, sizeof(body)), 0);
	/* The channel closes: the request is forgotten, no answer goes out. */
	dlink_detach(l, IC);
	assert_int_equal(dlink_take(l, msg, sizeof(msg)), -EAGAIN);
	dlink_release(l);
	assert_int_equal(sent.calls, 1);
	dlink_destroy(l);
}

static void test_fcopy(void **state)
{
	uint32_t reg = 1, bad = 7, st;
	uint8_t *body = calloc(1, sizeof(struct hv_do_fcopy));
	uint8_t *msg = calloc(1, sizeof(struct hv_do_fcopy));
	struct hv_start_fcopy start;
	long n;
	struct dlink *l;

	(void)state;
	assert_int_equal(dlink_create(&dlink_fcopy, fake_reply, &l), 0);
	assert_int_equal(dlink_open(l), 0);
	assert_int_equal(dlink_write(l, &bad, sizeof(bad)), -EINVAL);
	dlink_destroy(l);
	l = attached(&dlink_fcopy, &reg, sizeof(reg), &n);
	assert_int_equal(n, 4);
	/* START: the UTF-16 names become UTF-8 in the same arrays. */
	assert_true(vmb_fcopy_build_start(body, sizeof(start), "/tmp/dir", "é.txt",
					  FCOPY_OVER_WRITE, 1234) > 0);
	assert_int_equal(dlink_submit(l, IC, body, sizeof(start)), 0);
	assert_int_equal(dlink_take(l, msg, sizeof(struct hv_do_fcopy)), (long)sizeof(start));
	memcpy(&start, msg, sizeof(start));
	assert_int_equal(start.hdr.operation, START_FILE_COPY);
	assert_string_equal((const char *)msg + offsetof(struct hv_start_fcopy, file_name),
			    "é.txt");
	assert_string_equal((const char *)msg + offsetof(struct hv_start_fcopy, path_name),
			    "/tmp/dir");
	assert_int_equal(start.copy_flags, FCOPY_OVER_WRITE);
	assert_int_equal(start.file_size, 1234);
	/* The daemon's int goes to the host as it is. */
	st = HV_ERROR_ALREADY_EXISTS;
	assert_int_equal(dlink_write(l, &st, 2), -EINVAL);
	assert_int_equal(dlink_write(l, &st, sizeof(st)), 0);
	assert_int_equal(sent.status, HV_ERROR_ALREADY_EXISTS);
	/* A short WRITE fragment reaches the daemon as the whole struct. */
	n = vmb_fcopy_build_write(body, sizeof(struct hv_do_fcopy), 0, "abc", 3);
	assert_true(n > 0);
	assert_int_equal(dlink_submit(l, IC, body, (size_t)n), 0);
	assert_int_equal(dlink_take(l, msg, sizeof(struct hv_do_fcopy)),
			 (long)sizeof(struct hv_do_fcopy));
	assert_memory_equal(msg + offsetof(struct hv_do_fcopy, data), "abc", 3);
	st = 0;
	assert_int_equal(dlink_write(l, &st, sizeof(st)), 0);
	assert_int_equal(sent.status, HV_S_OK);
	/* A truncated fragment is refused before the daemon sees it. */
	assert_int_equal(dlink_submit(l, IC, body, offsetof(struct hv_do_fcopy, data) + 2),
			 -EBADMSG);
	assert_false(dlink_readable(l));
	dlink_destroy(l);
	free(body);
	free(msg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_vss_handshake),
	    cmocka_unit_test(test_vss_freeze_and_check),
	    cmocka_unit_test(test_spurious_and_release),
	    cmocka_unit_test(test_fcopy),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
