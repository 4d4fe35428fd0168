/*
 * Server GPADLs: header + body assembly at 1, 26, 27 and 100 PFNs,
 * handle rules, PFN range, the aggregate limit at and over, teardown
 * (immediate and deferred while the ring is open) and multi-range headers.
 */
#include "server_fake.h"

static struct fake *gpadl_setup(uint64_t limit)
{
	struct vmb_server_config cfg = {
	    .guest_pages = FAKE_PAGES,
	    .vp_count = FAKE_VPS,
	    .gpadl_limit = limit,
	};
	struct fake *f = fake_new_cfg(&cfg);

	fake_offer(f, 1, 0, false);
	fake_offer(f, 2, 0, false);
	fake_up(f, VERSION_WIN10_V5_3, 0);
	return f;
}

static int send_teardown(struct fake *f, uint32_t relid, uint32_t handle)
{
	struct vmbus_channel_gpadl_teardown t = {
	    .header.msgtype = CHANNELMSG_GPADL_TEARDOWN, .child_relid = relid, .gpadl = handle};

	return fake_recv(f, 1, &t, sizeof(t));
}

static void test_gpadl_sizes(void **state)
{
	static const size_t sizes[] = {1, 26, 27, 28 + 26, 100, 8190};
	unsigned i, j;

	(void)state;
	for (i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct fake *f = gpadl_setup(0);
		uint64_t *pfns = calloc(sizes[i], sizeof(*pfns));
		uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
		unsigned count = vmb_gpadl_msg_count(sizes[i]);
		struct vmb_gpadl_view v;

		assert_non_null(pfns);
		for (j = 0; j < sizes[i]; j++)
			pfns[j] = 0x1000 + 3 * j;
		for (j = 0; j < count; j++) {
			size_t len = vmb_gpadl_build(buf, j, 2, 0xe1e10, pfns, sizes[i]);

			assert_int_equal(fake_recv(f, 1, buf, len), 0);
			assert_int_equal(f->nsent, j + 1 == count);
			assert_int_equal(vmb_server_gpadl(f->s, 0xe1e10, &v),
					 j + 1 == count ? 0 : -ENOENT);
		}
		expect_created(&f->sent[0], 2, 0xe1e10, 0);
		assert_int_equal(v.count, sizes[i]);
		assert_int_equal(v.relid, 2);
		assert_int_equal(v.byte_count, sizes[i] * 4096);
		assert_int_equal(v.byte_offset, 0);
		assert_memory_equal(v.pfns, pfns, sizes[i] * sizeof(*pfns));
		assert_int_equal(vmb_server_gpadl_bytes(f->s), sizes[i] * 4096);
		assert_int_equal(vmb_server_gpadl_count(f->s), 1);
		assert_int_equal(f->nev, 0);
		free(pfns);
		fake_free(f);
	}
}

static void test_gpadl_handles(void **state)
{
	struct fake *f = gpadl_setup(0);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	uint64_t pfns[40] = {0};
	size_t len;

	(void)state;
	fake_gpadl(f, 1, 0x10, 0x100, 2);
	fake_clear(f);
	/* Unique across the connection, whatever the relid. */
	len = vmb_gpadl_build(buf, 0, 2, 0x10, pfns, 2);
	assert_int_equal(fake_recv(f, 1, buf, len), -EPROTO);
	len = vmb_gpadl_build(buf, 0, 1, 0, pfns, 2);
	assert_int_equal(fake_recv(f, 1, buf, len), -EPROTO);
	/* In progress counts too. */
	len = vmb_gpadl_build(buf, 0, 1, 0x20, pfns, 30);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	assert_int_equal(fake_recv(f, 1, buf, len), -EPROTO);
	/* Relid not offered. */
	len = vmb_gpadl_build(buf, 0, 3, 0x30, pfns, 2);
	assert_int_equal(fake_recv(f, 1, buf, len), -EPROTO);
	EXPECT_NONE_SENT(f);

	/* Bodies: unknown handle, too many PFNs, for a complete GPADL. */
	len = vmb_gpadl_build(buf, 1, 1, 0x21, pfns, 30);
	assert_int_equal(fake_recv(f, 1, buf, len), -EPROTO);
	len = vmb_gpadl_build(buf, 1, 1, 0x20, pfns, 35);
	assert_int_equal(fake_recv(f, 1, buf, len), -EPROTO);
	len = vmb_gpadl_build(buf, 1, 1, 0x10, pfns, 30);
	assert_int_equal(fake_recv(f, 1, buf, len), -EPROTO);
	EXPECT_NONE_SENT(f);
	/* The in-progress one still completes normally. */
	len = vmb_gpadl_build(buf, 1, 1, 0x20, pfns, 30);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	expect_created(&f->sent[0], 1, 0x20, 0);
	fake_free(f);
}

static void test_gpadl_bad_pfn(void **state)
{
	struct fake *f = gpadl_setup(0);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	uint64_t pfns[100];
	unsigned i, count = vmb_gpadl_msg_count(100);
	size_t len;

	(void)state;
	/* In the header of a one-message GPADL: answered at once. */
	pfns[0] = FAKE_PAGES;
	len = vmb_gpadl_build(buf, 0, 1, 0x40, pfns, 1);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	EXPECT_TYPES(f, CHANNELMSG_GPADL_CREATED);
	expect_created(&f->sent[0], 1, 0x40, VMBUS_STATUS_FAILURE);
	assert_int_equal(vmb_server_gpadl_count(f->s), 0);

	/* In a body: the rest is consumed silently, then one failure. */
	for (i = 0; i < 100; i++)
		pfns[i] = FAKE_PAGES - 1 - i;
	pfns[60] = ~0ull;
	fake_clear(f);
	for (i = 0; i < count; i++) {
		len = vmb_gpadl_build(buf, i, 1, 0x41, pfns, 100);
		assert_int_equal(fake_recv(f, 1, buf, len), 0);
		assert_int_equal(f->nsent, i + 1 == count);
		if (i >= 2)
			assert_int_equal(vmb_server_gpadl_bytes(f->s), 0);
	}
	expect_created(&f->sent[0], 1, 0x41, VMBUS_STATUS_FAILURE);
	assert_int_equal(vmb_server_gpadl_count(f->s), 0);
	assert_int_equal(f->nlog, 1);
	/* The handle is free again. */
	pfns[60] = 5;
	fake_gpadl(f, 1, 0x41, 5, 100);
	fake_free(f);
}

static void test_gpadl_limit(void **state)
{
	struct fake *f = gpadl_setup(64 * 4096);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	uint64_t pfns[27] = {0};
	size_t len;

	(void)state;
	fake_gpadl(f, 1, 0x1, 0x100, 32);
	fake_clear(f);
	fake_gpadl(f, 2, 0x2, 0x100, 32); /* exactly at the limit */
	expect_created(&f->sent[0], 2, 0x2, 0);
	assert_int_equal(vmb_server_gpadl_bytes(f->s), 64 * 4096);

	/* Over: the bodies are still taken, then a clean failure. */
	fake_clear(f);
	len = vmb_gpadl_build(buf, 0, 1, 0x3, pfns, 27);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	EXPECT_NONE_SENT(f);
	len = vmb_gpadl_build(buf, 1, 1, 0x3, pfns, 27);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	expect_created(&f->sent[0], 1, 0x3, VMBUS_STATUS_FAILURE);
	assert_int_equal(vmb_server_gpadl_bytes(f->s), 64 * 4096);
	assert_int_equal(vmb_server_gpadl_count(f->s), 2);

	/* Room again after a teardown. */
	fake_clear(f);
	assert_int_equal(send_teardown(f, 1, 0x1), 0);
	EXPECT_TYPES(f, CHANNELMSG_GPADL_TORNDOWN);
	EXPECT_EVENTS(f, "removed 0x1");
	fake_clear(f);
	fake_gpadl(f, 1, 0x3, 0x100, 27);
	expect_created(&f->sent[0], 1, 0x3, 0);
	fake_free(f);
}

static void test_gpadl_limit_default(void **state)
{
	struct fake *f = gpadl_setup(0);
	unsigned i;

	(void)state;
	/* 1280 MiB = 160 GPADLs of 8 MiB (2048 pages). */
	for (i = 0; i < 160; i++)
		fake_gpadl(f, 1, 0x100 + i, 0, 2048);
	assert_int_equal(vmb_server_gpadl_bytes(f->s), 1280ull << 20);
	fake_clear(f);
	fake_gpadl(f, 1, 0x999, 0, 1);
	expect_created(&f->sent[0], 1, 0x999, VMBUS_STATUS_FAILURE);
	fake_free(f);
}

static void test_gpadl_teardown(void **state)
{
	struct fake *f = gpadl_setup(0);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	uint64_t pfns[30] = {0};
	size_t len;

	(void)state;
	fake_open_channel(f, 1, 0x500);
	fake_gpadl(f, 1, 0x600, 0x10, 3);
	fake_clear(f);

	/* Wrong relid, unknown handle, still being created. */
	assert_int_equal(send_teardown(f, 2, 0x600), -EPROTO);
	assert_int_equal(send_teardown(f, 1, 0x601), -EPROTO);
	len = vmb_gpadl_build(buf, 0, 1, 0x700, pfns, 30);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	assert_int_equal(send_teardown(f, 1, 0x700), -EPROTO);
	EXPECT_NONE_SENT(f);

	/* Not a ring: at once. */
	assert_int_equal(send_teardown(f, 1, 0x600), 0);
	EXPECT_TYPES(f, CHANNELMSG_GPADL_TORNDOWN);
	assert_int_equal(f->sent[0].len, 12);
	assert_int_equal(msg_u32(&f->sent[0], 8), 0x600);
	EXPECT_EVENTS(f, "removed 0x600");

	/* The ring of an open channel: after the close. */
	fake_clear(f);
	assert_int_equal(send_teardown(f, 1, 0x500), 0);
	EXPECT_NONE_SENT(f);
	assert_int_equal(send_teardown(f, 1, 0x500), -EPROTO);
	assert_int_equal(vmb_server_gpadl(f->s, 0x500, &(struct vmb_gpadl_view){0}), 0);
	assert_int_equal(send_relid(f, CHANNELMSG_CLOSECHANNEL, 1), 0);
	EXPECT_EVENTS(f, "close 1", "removed 0x500");
	EXPECT_TYPES(f, CHANNELMSG_GPADL_TORNDOWN);
	assert_int_equal(msg_u32(&f->sent[0], 8), 0x500);
	assert_int_equal(vmb_server_gpadl(f->s, 0x500, &(struct vmb_gpadl_view){0}), -ENOENT);
	fake_free(f);
}

/* Two ranges in one header: 2 pages then 1 page at byte offset 0x80. */
static size_t multi_range(uint8_t *buf, uint32_t handle, uint64_t pfn3)
{
	struct vmbus_channel_gpadl_header h = {.header.msgtype = CHANNELMSG_GPADL_HEADER};
	struct vmbus_gpa_range r1 = {.byte_count = 8192, .byte_offset = 0};
	struct vmbus_gpa_range r2 = {.byte_count = 100, .byte_offset = 0x80};
	uint64_t p[3] = {0x10, 0x11, pfn3};
	size_t off = sizeof(h);

	h.child_relid = 1;
	h.gpadl = handle;
	h.rangecount = 2;
	h.range_buflen = 2 * 8 + 3 * 8;
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + off, &r1, 8);
	memcpy(buf + off + 8, p, 16);
	memcpy(buf + off + 24, &r2, 8);
	memcpy(buf + off + 32, &p[2], 8);
	return off + 40;
}

static void test_gpadl_multi_range(void **state)
{
	struct fake *f = gpadl_setup(0);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	struct vmb_gpadl_view v;
	size_t len = multi_range(buf, 0x900, 0x20);

	(void)state;
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	expect_created(&f->sent[0], 1, 0x900, 0);
	assert_int_equal(vmb_server_gpadl(f->s, 0x900, &v), 0);
	assert_int_equal(v.count, 3);
	assert_int_equal(v.pfns[2], 0x20);
	assert_int_equal(v.byte_count, 8192);
	assert_int_equal(vmb_server_gpadl_bytes(f->s), 3 * 4096);

	fake_clear(f);
	len = multi_range(buf, 0x901, FAKE_PAGES);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	expect_created(&f->sent[0], 1, 0x901, VMBUS_STATUS_FAILURE);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_gpadl_sizes),		cmocka_unit_test(test_gpadl_handles),
	    cmocka_unit_test(test_gpadl_bad_pfn),	cmocka_unit_test(test_gpadl_limit),
	    cmocka_unit_test(test_gpadl_limit_default), cmocka_unit_test(test_gpadl_teardown),
	    cmocka_unit_test(test_gpadl_multi_range),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
