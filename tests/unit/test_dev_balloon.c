/* Dynamic memory: message parsing, ballooned-page books, host page release. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/dev/balloon.h"

static size_t put_ranges(uint64_t *buf, uint16_t type, bool more, const uint64_t *r, uint32_t n)
{
	struct vmb_dm_ranges_hdr rh = {.hdr = {.type = type}};

	rh.hdr.size = (uint16_t)(sizeof(rh) + n * 8u);
	if (type == VMB_DM_BALLOON_RESPONSE) {
		rh.word1 = (n << 1) | more;
	} else {
		rh.word0 = more;
		rh.word1 = n;
	}
	memcpy(buf, &rh, sizeof(rh));
	memcpy(buf + 2, r, n * 8u);
	return rh.hdr.size;
}

static void test_hdr(void **state)
{
	struct vmb_dm_status st = {.hdr = {.type = VMB_DM_STATUS_REPORT, .size = 48}};
	uint8_t padded[56] = {0};
	struct vmb_dm_hdr h;
	struct vmb_dm_status out;

	(void)state;
	assert_int_equal(vmb_dm_parse_hdr(&st, 7, &h), -EBADMSG);
	assert_int_equal(vmb_dm_parse_hdr(&st, 48, &h), 0);
	assert_int_equal(vmb_dm_parse_fixed(&st, 48, VMB_DM_STATUS_REPORT, sizeof(out), &out), 0);
	/* Wrong type, size beyond the packet, size below the fixed part. */
	assert_int_equal(vmb_dm_parse_fixed(&st, 48, VMB_DM_CAPS_REPORT, 32, &out), -EBADMSG);
	st.hdr.size = 49;
	assert_int_equal(vmb_dm_parse_hdr(&st, 48, &h), -EBADMSG);
	st.hdr.size = 40;
	assert_int_equal(vmb_dm_parse_fixed(&st, 48, VMB_DM_STATUS_REPORT, sizeof(out), &out),
			 -EBADMSG);
	st.hdr.size = 4;
	assert_int_equal(vmb_dm_parse_hdr(&st, 48, &h), -EBADMSG);
	/* Padding up to 7 bytes is fine, a full spare word is not. */
	st.hdr.size = 48;
	memcpy(padded, &st, sizeof(st));
	assert_int_equal(vmb_dm_parse_hdr(padded, 55, &h), 0);
	assert_int_equal(vmb_dm_parse_hdr(padded, 56, &h), -EBADMSG);
}

static void test_ranges(void **state)
{
	uint64_t buf[VMB_DM_MAX_MSG / 8 + 8];
	uint64_t r[2] = {vmb_dm_range(100, 3), vmb_dm_range(200, 1)};
	struct vmb_dm_piece pc;
	size_t len;

	(void)state;
	len = put_ranges(buf, VMB_DM_BALLOON_RESPONSE, true, r, 2);
	assert_int_equal(vmb_dm_parse_ranges(buf, len, VMB_DM_BALLOON_RESPONSE, &pc), 0);
	assert_true(pc.more);
	assert_int_equal(pc.count, 2);
	assert_int_equal(vmb_dm_range_pfn(pc.ranges[0]), 100);
	assert_int_equal(vmb_dm_range_count(pc.ranges[0]), 3);
	len = put_ranges(buf, VMB_DM_UNBALLOON_REQUEST, false, r, 2);
	assert_int_equal(vmb_dm_parse_ranges(buf, len, VMB_DM_UNBALLOON_REQUEST, &pc), 0);
	assert_false(pc.more);
	assert_int_equal(pc.count, 2);
	/* Truncated: the packet is shorter than the ranges claimed. */
	assert_int_equal(vmb_dm_parse_ranges(buf, len - 8, VMB_DM_UNBALLOON_REQUEST, &pc),
			 -EBADMSG);
	/* Count disagreeing with the size. */
	((struct vmb_dm_ranges_hdr *)buf)->word1 = 3;
	assert_int_equal(vmb_dm_parse_ranges(buf, len, VMB_DM_UNBALLOON_REQUEST, &pc), -EBADMSG);
	/* An empty range. */
	r[1] = vmb_dm_range(200, 0);
	len = put_ranges(buf, VMB_DM_BALLOON_RESPONSE, false, r, 2);
	assert_int_equal(vmb_dm_parse_ranges(buf, len, VMB_DM_BALLOON_RESPONSE, &pc), -EBADMSG);
	/* Oversized: more ranges than one 4 KiB piece holds. */
	((struct vmb_dm_ranges_hdr *)buf)->word1 = (uint32_t)(VMB_DM_MAX_RANGES + 1) << 1;
	((struct vmb_dm_ranges_hdr *)buf)->hdr.size = (uint16_t)(16 + (VMB_DM_MAX_RANGES + 1) * 8);
	assert_int_equal(vmb_dm_parse_ranges(buf, sizeof(buf), VMB_DM_BALLOON_RESPONSE, &pc),
			 -EBADMSG);
	/* Zero ranges are a valid (empty) answer. */
	len = put_ranges(buf, VMB_DM_BALLOON_RESPONSE, false, r, 0);
	assert_int_equal(vmb_dm_parse_ranges(buf, len, VMB_DM_BALLOON_RESPONSE, &pc), 0);
	assert_int_equal(pc.count, 0);
	assert_int_equal(vmb_dm_parse_ranges(buf, len, VMB_DM_STATUS_REPORT, &pc), -EINVAL);
}

static void test_pages(void **state)
{
	struct vmb_dm_pages p;
	uint64_t ok[2] = {vmb_dm_range(10, 5), vmb_dm_range(100, 1)};
	uint64_t overlap_self[2] = {vmb_dm_range(300, 4), vmb_dm_range(302, 1)};
	uint64_t dup[2] = {vmb_dm_range(400, 1), vmb_dm_range(12, 1)};
	uint64_t outside[1] = {vmb_dm_range(1020, 8)};
	uint64_t half[2] = {vmb_dm_range(400, 1), vmb_dm_range(50, 1)};
	uint64_t out[8], cursor = 0;

	(void)state;
	assert_int_equal(vmb_dm_pages_init(&p, 1024), 0);
	assert_int_equal(vmb_dm_pages_claim(&p, ok, 2, 6), 0);
	assert_int_equal(p.count, 6);
	/* Each failure leaves the books exactly as they were. */
	assert_int_equal(vmb_dm_pages_claim(&p, overlap_self, 2, 100), -EINVAL);
	assert_int_equal(vmb_dm_pages_claim(&p, dup, 2, 100), -EINVAL);
	assert_int_equal(vmb_dm_pages_claim(&p, outside, 1, 100), -EINVAL);
	assert_int_equal(vmb_dm_pages_claim(&p, overlap_self, 1, 3), -EINVAL); /* over the limit */
	assert_int_equal(p.count, 6);
	assert_int_equal(vmb_dm_pages_claim(&p, dup, 1, 1), 0); /* 400 was untouched */
	assert_int_equal(p.count, 7);
	/* Release only what is ballooned, all or nothing. */
	assert_int_equal(vmb_dm_pages_release(&p, overlap_self, 1), -EINVAL);
	assert_int_equal(vmb_dm_pages_release(&p, half, 2), -EINVAL);
	assert_int_equal(p.count, 7);
	/* Collect: ranges in order, bounded by pages and by range slots. */
	assert_int_equal(vmb_dm_pages_collect(&p, &cursor, 3, out, 8), 1);
	assert_int_equal(out[0], vmb_dm_range(10, 3));
	assert_int_equal(vmb_dm_pages_collect(&p, &cursor, 100, out, 2), 2);
	assert_int_equal(out[0], vmb_dm_range(13, 2));
	assert_int_equal(out[1], vmb_dm_range(100, 1));
	assert_int_equal(vmb_dm_pages_collect(&p, &cursor, 100, out, 8), 1);
	assert_int_equal(out[0], vmb_dm_range(400, 1));
	assert_int_equal(vmb_dm_pages_collect(&p, &cursor, 100, out, 8), 0);
	assert_int_equal(vmb_dm_pages_release(&p, ok, 2), 0);
	assert_int_equal(vmb_dm_pages_release(&p, dup, 1), 0);
	assert_int_equal(p.count, 0);
	vmb_dm_pages_fini(&p);
}

/* The host really gets ballooned memory back: the memfd's blocks drop. */
static void test_discard(void **state)
{
	struct vmb_host_part_config cfg = {.ram_size = 16 << 20, .vp_count = 1};
	struct vmb_host_part_ops ops = {0};
	struct vmb_host_part *h;
	char path[64];
	uint64_t before, after;
	uint8_t *p;

	(void)state;
	snprintf(path, sizeof(path), "/tmp/vmb-balloon-test-%d.sock", (int)getpid());
	cfg.socket_path = path;
	assert_int_equal(vmb_host_part_create(&cfg, &ops, NULL, &h), 0);
	p = vmb_host_part_gpa(h, 1024 * HV_PAGE_SIZE, 1024 * HV_PAGE_SIZE);
	assert_non_null(p);
	assert_int_equal(vmb_host_part_resident(h, &before), 0);
	memset(p, 0x5a, 1024 * HV_PAGE_SIZE);
	assert_int_equal(vmb_host_part_resident(h, &after), 0);
	assert_true(after >= before + 1024 * HV_PAGE_SIZE);
	assert_int_equal(vmb_host_part_discard(h, 1024, 1024), 0);
	assert_int_equal(vmb_host_part_resident(h, &after), 0);
	assert_true(after <= before);
	assert_int_equal(p[0], 0);
	assert_int_equal(p[1024 * HV_PAGE_SIZE - 1], 0);
	assert_int_equal(vmb_host_part_discard(h, 4096, 1), -EINVAL);
	assert_int_equal(vmb_host_part_discard(h, 4000, 97), -EINVAL);
	assert_int_equal(vmb_host_part_discard(h, 1, 0), -EINVAL);
	assert_int_equal(vmb_host_part_discard(h, UINT64_MAX, 2), -EINVAL);
	vmb_host_part_destroy(h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_hdr),
	    cmocka_unit_test(test_ranges),
	    cmocka_unit_test(test_pages),
	    cmocka_unit_test(test_discard),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
