/* proto layer: message validation, GPADL split/parse, GUIDs, versions. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus/msg.h"

struct type_case {
	uint32_t type;
	enum vmb_dir dir;
	uint32_t min_ver;  /* lowest version that accepts it */
	uint32_t prev_ver; /* the version below, which must reject it (0 = before negotiation) */
	uint32_t features;
	size_t size;
};

static const struct type_case type_cases[] = {
    {CHANNELMSG_OFFERCHANNEL, VMB_H2G, VERSION_WS2008, 0, 0, 196},
    {CHANNELMSG_RESCIND_CHANNELOFFER, VMB_H2G, VERSION_WS2008, 0, 0, 12},
    {CHANNELMSG_REQUESTOFFERS, VMB_G2H, VERSION_WS2008, 0, 0, 8},
    {CHANNELMSG_ALLOFFERS_DELIVERED, VMB_H2G, VERSION_WS2008, 0, 0, 8},
    {CHANNELMSG_OPENCHANNEL, VMB_G2H, VERSION_WS2008, 0, 0, 148},
    {CHANNELMSG_OPENCHANNEL_RESULT, VMB_H2G, VERSION_WS2008, 0, 0, 20},
    {CHANNELMSG_CLOSECHANNEL, VMB_G2H, VERSION_WS2008, 0, 0, 12},
    {CHANNELMSG_GPADL_HEADER, VMB_G2H, VERSION_WS2008, 0, 0, 36},
    {CHANNELMSG_GPADL_BODY, VMB_G2H, VERSION_WS2008, 0, 0, 24},
    {CHANNELMSG_GPADL_CREATED, VMB_H2G, VERSION_WS2008, 0, 0, 20},
    {CHANNELMSG_GPADL_TEARDOWN, VMB_G2H, VERSION_WS2008, 0, 0, 16},
    {CHANNELMSG_GPADL_TORNDOWN, VMB_H2G, VERSION_WS2008, 0, 0, 12},
    {CHANNELMSG_RELID_RELEASED, VMB_G2H, VERSION_WS2008, 0, 0, 12},
    {CHANNELMSG_INITIATE_CONTACT, VMB_G2H, 0, 0, 0, 40},
    {CHANNELMSG_VERSION_RESPONSE, VMB_H2G, 0, 0, 0, 16},
    {CHANNELMSG_UNLOAD, VMB_G2H, VERSION_WS2008, 0, 0, 8},
    {CHANNELMSG_UNLOAD_RESPONSE, VMB_H2G, VERSION_WIN7, VERSION_WS2008, 0, 8},
    {CHANNELMSG_OPEN_RESERVED_CHANNEL, VMB_G2H, VERSION_WIN10, VERSION_WIN8_1, 0, 28},
    {CHANNELMSG_CLOSE_RESERVED_CHANNEL, VMB_G2H, VERSION_WS2008, 0, 0, 20},
    {CHANNELMSG_CLOSE_RESERVED_RESPONSE, VMB_H2G, VERSION_WIN10, VERSION_WIN8_1, 0, 12},
    {CHANNELMSG_TL_CONNECT_REQUEST, VMB_G2H, VERSION_WIN10, VERSION_WIN8_1, 0, 40},
    {CHANNELMSG_MODIFYCHANNEL, VMB_G2H, VERSION_WIN10_V4_1, VERSION_WIN10, 0, 16},
    {CHANNELMSG_TL_CONNECT_RESULT, VMB_H2G, VERSION_WIN10_V4_1, VERSION_WIN10, 0, 44},
    {CHANNELMSG_MODIFYCHANNEL_RESPONSE, VMB_H2G, VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, 0, 16},
    {CHANNELMSG_MODIFY_CONNECTION, VMB_G2H, VERSION_COPPER, VERSION_WIN10_V5_3,
     VMBUS_FEATURE_MODIFY_CONNECTION, 24},
    {CHANNELMSG_MODIFY_CONNECTION_RESPONSE, VMB_H2G, VERSION_COPPER, VERSION_WIN10_V5_3,
     VMBUS_FEATURE_MODIFY_CONNECTION, 9},
    {CHANNELMSG_PAUSE, VMB_G2H, VERSION_COPPER, VERSION_WIN10_V5_3, VMBUS_FEATURE_PAUSE_RESUME, 8},
    {CHANNELMSG_PAUSE_RESPONSE, VMB_H2G, VERSION_COPPER, VERSION_WIN10_V5_3,
     VMBUS_FEATURE_PAUSE_RESUME, 8},
    {CHANNELMSG_RESUME, VMB_G2H, VERSION_COPPER, VERSION_WIN10_V5_3, VMBUS_FEATURE_PAUSE_RESUME, 8},
};

/* A valid message of the case's type, size bytes long, in a 241-byte buffer. */
static void make_msg(uint8_t *buf, const struct type_case *c)
{
	static const uint64_t pfns[27] = {0x1234};

	memset(buf, 0, VMBUS_MAX_MESSAGE_SIZE + 1);
	if (c->type == CHANNELMSG_GPADL_HEADER)
		assert_int_equal(vmb_gpadl_build(buf, 0, 1, 2, pfns, 1), c->size);
	else if (c->type == CHANNELMSG_GPADL_BODY)
		assert_int_equal(vmb_gpadl_build(buf, 1, 1, 2, pfns, 27), c->size);
	else
		vmb_msg_init(buf, c->size, c->type);
}

static int check(const void *msg, size_t len, enum vmb_dir dir, uint32_t version, uint32_t features)
{
	char why[96] = "";
	int ret = vmb_msg_check(msg, len, dir, version, features, why, sizeof(why));

	if (ret < 0)
		assert_true(why[0] != '\0');
	return ret;
}

static void test_every_type_accepted(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE + 1];

	(void)state;
	assert_int_equal(sizeof(type_cases) / sizeof(type_cases[0]), CHANNELMSG_COUNT - 1);
	for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++) {
		const struct type_case *c = &type_cases[i];

		make_msg(buf, c);
		assert_int_equal(check(buf, c->size, c->dir, c->min_ver, c->features), c->type);
		/* Also at the newest version, and with trailing space. */
		assert_int_equal(check(buf,
				       c->size + 8 * (c->type != CHANNELMSG_GPADL_HEADER &&
						      c->type != CHANNELMSG_GPADL_BODY),
				       c->dir, VERSION_COPPER, c->features),
				 c->type);
	}
}

static void test_every_type_rejected(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE + 1];

	(void)state;
	for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++) {
		const struct type_case *c = &type_cases[i];
		enum vmb_dir other = c->dir == VMB_G2H ? VMB_H2G : VMB_G2H;

		make_msg(buf, c);
		/* At 0.13 an offer may be 190 bytes: test shortness at 6.0. */
		assert_int_equal(check(buf, c->size - 1, c->dir, VERSION_COPPER, c->features),
				 -EBADMSG);
		assert_int_equal(check(buf, c->size, other, c->min_ver, c->features), -EBADMSG);
		assert_int_equal(
		    check(buf, VMBUS_MAX_MESSAGE_SIZE + 1, c->dir, c->min_ver, c->features),
		    -EBADMSG);
		if (c->min_ver != 0)
			assert_int_equal(check(buf, c->size, c->dir, c->prev_ver, c->features),
					 -EBADMSG);
		if (c->features != 0)
			assert_int_equal(check(buf, c->size, c->dir, c->min_ver, 0), -EBADMSG);
		assert_int_equal(vmb_msg_min_size(c->type, other, VERSION_COPPER, 0xff), 0);
	}
}

static void test_min_sizes(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(type_cases) / sizeof(type_cases[0]); i++) {
		const struct type_case *c = &type_cases[i];
		size_t want = c->type == CHANNELMSG_GPADL_HEADER ? 28 : c->size;

		assert_int_equal(vmb_msg_min_size(c->type, c->dir, VERSION_COPPER, 0xff) != 0, 1);
		assert_int_equal(vmb_msg_min_size(c->type, c->dir, VERSION_COPPER, c->features),
				 want);
	}
	assert_int_equal(vmb_msg_min_size(CHANNELMSG_OFFERCHANNEL, VMB_H2G, VERSION_WS2008, 0),
			 190);
	assert_int_equal(vmb_msg_min_size(CHANNELMSG_INITIATE_CONTACT, VMB_G2H, VERSION_COPPER,
					  VMBUS_FEATURE_CLIENT_ID),
			 56);
	assert_int_equal(vmb_msg_min_size(0, VMB_G2H, VERSION_COPPER, 0), 0);
	assert_int_equal(vmb_msg_min_size(CHANNELMSG_COUNT, VMB_G2H, VERSION_COPPER, 0), 0);
}

static void test_size_exceptions(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];

	(void)state;
	vmb_msg_init(buf, sizeof(buf), CHANNELMSG_OFFERCHANNEL);
	assert_int_equal(check(buf, 190, VMB_H2G, VERSION_WS2008, 0), CHANNELMSG_OFFERCHANNEL);
	assert_int_equal(check(buf, 189, VMB_H2G, VERSION_WS2008, 0), -EBADMSG);
	assert_int_equal(check(buf, 190, VMB_H2G, VERSION_WIN7, 0), -EBADMSG);
	assert_int_equal(check(buf, 190, VMB_H2G, VERSION_WIN10_V5_3, 0), -EBADMSG);

	vmb_msg_init(buf, sizeof(buf), CHANNELMSG_INITIATE_CONTACT);
	assert_int_equal(check(buf, 40, VMB_G2H, 0, VMBUS_FEATURE_CLIENT_ID), -EBADMSG);
	assert_int_equal(check(buf, 56, VMB_G2H, 0, VMBUS_FEATURE_CLIENT_ID),
			 CHANNELMSG_INITIATE_CONTACT);
	assert_int_equal(check(buf, 40, VMB_G2H, VERSION_WIN10_V5_3, 0),
			 CHANNELMSG_INITIATE_CONTACT);

	vmb_msg_init(buf, sizeof(buf), CHANNELMSG_VERSION_RESPONSE);
	assert_int_equal(check(buf, 40, VMB_H2G, 0, 0), CHANNELMSG_VERSION_RESPONSE);
}

static void test_before_negotiation(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];

	(void)state;
	for (uint32_t t = 1; t < CHANNELMSG_COUNT; t++) {
		int want = t == CHANNELMSG_INITIATE_CONTACT || t == CHANNELMSG_VERSION_RESPONSE
			       ? (int)t
			       : -EBADMSG;
		int g2h, h2g;

		vmb_msg_init(buf, sizeof(buf), t);
		g2h = vmb_msg_check(buf, 56, VMB_G2H, 0, 0xff, NULL, 0);
		h2g = vmb_msg_check(buf, 56, VMB_H2G, 0, 0xff, NULL, 0);
		if (want < 0) {
			assert_int_equal(g2h, -EBADMSG);
			assert_int_equal(h2g, -EBADMSG);
		} else {
			assert_true(g2h == want || h2g == want);
		}
	}
}

static void test_bad_headers(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE] = {0};
	char why[64];

	(void)state;
	assert_int_equal(vmb_msg_check(buf, 7, VMB_G2H, VERSION_WIN10, 0, why, sizeof(why)),
			 -EBADMSG);
	assert_int_equal(vmb_msg_check(buf, 0, VMB_G2H, VERSION_WIN10, 0, why, sizeof(why)),
			 -EBADMSG);
	for (uint32_t t = CHANNELMSG_COUNT; t < CHANNELMSG_COUNT + 3; t++) {
		vmb_msg_init(buf, sizeof(buf), t);
		assert_int_equal(check(buf, 40, VMB_G2H, VERSION_COPPER, 0xff), -EBADMSG);
		assert_int_equal(check(buf, 40, VMB_H2G, VERSION_COPPER, 0xff), -EBADMSG);
	}
	vmb_msg_init(buf, sizeof(buf), 0);
	assert_int_equal(check(buf, 40, VMB_G2H, VERSION_COPPER, 0xff), -EBADMSG);
	/* A tiny why buffer is still NUL-terminated. */
	why[0] = 'x';
	why[1] = 'y';
	assert_int_equal(vmb_msg_check(buf, 40, VMB_G2H, VERSION_COPPER, 0, why, 2), -EBADMSG);
	assert_int_equal(why[1], '\0');
}

static void test_names(void **state)
{
	(void)state;
	assert_string_equal(vmb_msg_name(CHANNELMSG_OFFERCHANNEL), "OFFERCHANNEL");
	assert_string_equal(vmb_msg_name(CHANNELMSG_GPADL_HEADER), "GPADL_HEADER");
	assert_string_equal(vmb_msg_name(CHANNELMSG_RESUME), "RESUME");
	assert_string_equal(vmb_msg_name(30), "UNKNOWN");
	for (uint32_t t = 1; t < CHANNELMSG_COUNT; t++)
		assert_string_not_equal(vmb_msg_name(t), "UNKNOWN");
}

/* ---- GPADL --------------------------------------------------------------- */

static void gpadl_round_trip(size_t n)
{
	uint64_t *pfns = calloc(n, sizeof(*pfns));
	uint64_t *got = calloc(n, sizeof(*got));
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	unsigned count = vmb_gpadl_msg_count(n);
	size_t have = 0;

	assert_non_null(pfns);
	assert_non_null(got);
	for (size_t i = 0; i < n; i++)
		pfns[i] = 0x100000000ull * i + 0xabc00 + i;
	assert_int_equal(count, n <= 26 ? 1 : 1 + (n - 26 + 27) / 28);
	for (unsigned i = 0; i < count; i++) {
		size_t len = vmb_gpadl_build(buf, i, 7, 0xe1e10, pfns, n);
		size_t left = n - have;
		size_t expect_pfns = i == 0 ? (left < 26 ? left : 26) : (left < 28 ? left : 28);
		uint32_t carried;

		assert_int_equal(len, (i == 0 ? 28 : 16) + 8 * expect_pfns);
		assert_int_equal(vmb_msg_check(buf, len, VMB_G2H, VERSION_WS2008, 0, NULL, 0),
				 i == 0 ? CHANNELMSG_GPADL_HEADER : CHANNELMSG_GPADL_BODY);
		if (i == 0) {
			struct vmb_gpadl_hdr_info info;

			assert_int_equal(vmb_gpadl_parse_header(buf, len, &info, got, n), 0);
			assert_int_equal(info.relid, 7);
			assert_int_equal(info.handle, 0xe1e10);
			assert_int_equal(info.total_pfns, n);
			assert_int_equal(info.rangecount, 1);
			assert_int_equal(info.byte_offset, 0);
			assert_int_equal(info.byte_count, n * 4096);
			carried = info.carried;
		} else {
			struct vmbus_channel_gpadl_body b;
			uint32_t handle;

			memcpy(&b, buf, sizeof(b));
			assert_int_equal(b.msgnumber, i);
			assert_int_equal(
			    vmb_gpadl_parse_body(buf, len, &handle, got + have, n - have, &carried),
			    0);
			assert_int_equal(handle, 0xe1e10);
		}
		assert_int_equal(carried, expect_pfns);
		have += carried;
	}
	assert_int_equal(have, n);
	assert_memory_equal(got, pfns, n * sizeof(*pfns));
	assert_int_equal(vmb_gpadl_build(buf, count, 7, 0xe1e10, pfns, n), 0);
	free(pfns);
	free(got);
}

static void test_gpadl_round_trips(void **state)
{
	static const size_t sizes[] = {1, 26, 27, 54, 55, 1000, VMB_GPADL_MAX_PFNS};

	(void)state;
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++)
		gpadl_round_trip(sizes[i]);
	assert_int_equal(vmb_gpadl_msg_count(0), 0);
	assert_int_equal(vmb_gpadl_msg_count(VMB_GPADL_MAX_PFNS + 1), 0);
	assert_int_equal(vmb_gpadl_msg_count(1000), 36);
}

/* Header with one range and n PFNs, then let the test corrupt it. */
static size_t gpadl_hdr(uint8_t *buf, size_t n)
{
	static const uint64_t pfns[26] = {1, 2, 3, 4};

	return vmb_gpadl_build(buf, 0, 3, 9, pfns, n);
}

static void put16(uint8_t *buf, size_t off, uint16_t v)
{
	memcpy(buf + off, &v, sizeof(v));
}

static void put32(uint8_t *buf, size_t off, uint32_t v)
{
	memcpy(buf + off, &v, sizeof(v));
}

static int check_gpadl(const uint8_t *buf, size_t len)
{
	return check(buf, len, VMB_G2H, VERSION_WIN10, 0);
}

static void test_gpadl_corrupt(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	size_t len;

	(void)state;
	len = gpadl_hdr(buf, 2);
	assert_int_equal(check_gpadl(buf, len), CHANNELMSG_GPADL_HEADER);
	put16(buf, 18, 0); /* rangecount */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	put32(buf, 24, 4096); /* byte_offset */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);
	put32(buf, 20, 4096); /* ... even when the PFN count would match */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	put32(buf, 20, 0); /* byte_count */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	put32(buf, 20, 3 * 4096); /* ranges ask for 3 PFNs, range_buflen for 2 */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	put32(buf, 20, 4096); /* range needs 1 PFN, range_buflen says 2 */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	put32(buf, 24, 1); /* 2 pages from offset 1 span 3 PFNs */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	put16(buf, 16, 8 + 8 * 2 + 4); /* range_buflen not in words */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	put16(buf, 16, 8 + 8 * 1); /* carries more PFNs than announced */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);

	len = gpadl_hdr(buf, 2);
	assert_int_equal(check_gpadl(buf, len - 4), -EBADMSG); /* partial PFN */
	assert_int_equal(check_gpadl(buf, 20), -EBADMSG);      /* no range */

	len = gpadl_hdr(buf, 2);
	put16(buf, 18, 2); /* a second range that cannot fit range_buflen */
	assert_int_equal(check_gpadl(buf, len), -EBADMSG);
}

static void test_gpadl_multi_range(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE] = {0};
	struct vmb_gpadl_hdr_info info;
	uint64_t pfns[4] = {0}, v;

	(void)state;
	vmb_msg_init(buf, sizeof(buf), CHANNELMSG_GPADL_HEADER);
	put16(buf, 16, 8 + 8 + 8 + 16); /* range_buflen */
	put16(buf, 18, 2);
	put32(buf, 20, 100); /* range 0: 100 bytes at offset 10, one PFN */
	put32(buf, 24, 10);
	v = 0x11;
	memcpy(buf + 28, &v, 8);
	put32(buf, 36, 8192); /* range 1: two whole pages */
	put32(buf, 40, 0);
	v = 0x22;
	memcpy(buf + 44, &v, 8);
	v = 0x33;
	memcpy(buf + 52, &v, 8);
	assert_int_equal(check_gpadl(buf, 60), CHANNELMSG_GPADL_HEADER);
	assert_int_equal(vmb_gpadl_parse_header(buf, 60, &info, pfns, 4), 0);
	assert_int_equal(info.total_pfns, 3);
	assert_int_equal(info.carried, 3);
	assert_int_equal(info.byte_count, 100);
	assert_int_equal(info.byte_offset, 10);
	assert_int_equal(pfns[0], 0x11);
	assert_int_equal(pfns[1], 0x22);
	assert_int_equal(pfns[2], 0x33);

	/* The second record may follow in a BODY. */
	assert_int_equal(check_gpadl(buf, 36), CHANNELMSG_GPADL_HEADER);
	assert_int_equal(vmb_gpadl_parse_header(buf, 36, &info, pfns, 4), 0);
	assert_int_equal(info.carried, 1);
	assert_int_equal(info.total_pfns, 3);

	/* A small cap copies only that many. */
	memset(pfns, 0, sizeof(pfns));
	assert_int_equal(vmb_gpadl_parse_header(buf, 60, &info, pfns, 2), 0);
	assert_int_equal(info.carried, 3);
	assert_int_equal(pfns[1], 0x22);
	assert_int_equal(pfns[2], 0);

	/* range_buflen too small for a second record still to come. */
	put16(buf, 16, 8 + 8 + 8);
	assert_int_equal(check_gpadl(buf, 36), -EBADMSG);
}

static void test_gpadl_body_lengths(void **state)
{
	static const uint64_t pfns[30];
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	uint32_t count;

	(void)state;
	assert_int_equal(vmb_gpadl_build(buf, 1, 1, 2, pfns, 30), 16 + 8 * 4);
	assert_int_equal(check_gpadl(buf, 16 + 8 * 4), CHANNELMSG_GPADL_BODY);
	assert_int_equal(check_gpadl(buf, 16 + 8 * 4 - 3), -EBADMSG);
	assert_int_equal(check_gpadl(buf, 16), -EBADMSG);
	assert_int_equal(vmb_gpadl_parse_body(buf, 16 + 8 * 3 + 1, NULL, NULL, 0, &count),
			 -EBADMSG);
	assert_int_equal(vmb_gpadl_parse_body(buf, 16, NULL, NULL, 0, &count), -EBADMSG);
	assert_int_equal(vmb_gpadl_parse_body(buf, 16 + 8 * 4, NULL, NULL, 0, &count), 0);
	assert_int_equal(count, 4);
}

/* ---- GUIDs and versions -------------------------------------------------- */

struct guid_case {
	struct vmb_guid g;
	const char *str;
	uint8_t wire[16];
};

static const struct guid_case guid_cases[] = {
    {VMB_GUID_SCSI,
     "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f",
     {0xd9, 0x63, 0x61, 0xba, 0xa1, 0x04, 0x29, 0x4d, 0xb6, 0x05, 0x72, 0xe2, 0xff, 0xb1, 0xdc,
      0x7f}},
    {VMB_GUID_IDE,
     "32412632-86cb-44a2-9b5c-50d1417354f5",
     {0x32, 0x26, 0x41, 0x32, 0xcb, 0x86, 0xa2, 0x44, 0x9b, 0x5c, 0x50, 0xd1, 0x41, 0x73, 0x54,
      0xf5}},
    {VMB_GUID_NET,
     "f8615163-df3e-46c5-913f-f2d2f965ed0e",
     {0x63, 0x51, 0x61, 0xf8, 0x3e, 0xdf, 0xc5, 0x46, 0x91, 0x3f, 0xf2, 0xd2, 0xf9, 0x65, 0xed,
      0x0e}},
    {VMB_GUID_PCI,
     "44c4f61d-4444-4400-9d52-802e27ede19f",
     {0x1d, 0xf6, 0xc4, 0x44, 0x44, 0x44, 0x00, 0x44, 0x9d, 0x52, 0x80, 0x2e, 0x27, 0xed, 0xe1,
      0x9f}},
    {VMB_GUID_SYNTHVID,
     "da0a7802-e377-4aac-8e77-0558eb1073f8",
     {0x02, 0x78, 0x0a, 0xda, 0x77, 0xe3, 0xac, 0x4a, 0x8e, 0x77, 0x05, 0x58, 0xeb, 0x10, 0x73,
      0xf8}},
    {VMB_GUID_KBD,
     "f912ad6d-2b17-48ea-bd65-f927a61c7684",
     {0x6d, 0xad, 0x12, 0xf9, 0x17, 0x2b, 0xea, 0x48, 0xbd, 0x65, 0xf9, 0x27, 0xa6, 0x1c, 0x76,
      0x84}},
    {VMB_GUID_MOUSE,
     "cfa8b69e-5b4a-4cc0-b98b-8ba1a1f3f95a",
     {0x9e, 0xb6, 0xa8, 0xcf, 0x4a, 0x5b, 0xc0, 0x4c, 0xb9, 0x8b, 0x8b, 0xa1, 0xa1, 0xf3, 0xf9,
      0x5a}},
    {VMB_GUID_KVP,
     "a9a0f4e7-5a45-4d96-b827-8a841e8c03e6",
     {0xe7, 0xf4, 0xa0, 0xa9, 0x45, 0x5a, 0x96, 0x4d, 0xb8, 0x27, 0x8a, 0x84, 0x1e, 0x8c, 0x03,
      0xe6}},
    {VMB_GUID_TIMESYNC,
     "9527e630-d0ae-497b-adce-e80ab0175caf",
     {0x30, 0xe6, 0x27, 0x95, 0xae, 0xd0, 0x7b, 0x49, 0xad, 0xce, 0xe8, 0x0a, 0xb0, 0x17, 0x5c,
      0xaf}},
    {VMB_GUID_HEARTBEAT,
     "57164f39-9115-4e78-ab55-382f3bd5422d",
     {0x39, 0x4f, 0x16, 0x57, 0x15, 0x91, 0x78, 0x4e, 0xab, 0x55, 0x38, 0x2f, 0x3b, 0xd5, 0x42,
      0x2d}},
    {VMB_GUID_SHUTDOWN,
     "0e0b6031-5213-4934-818b-38d90ced39db",
     {0x31, 0x60, 0x0b, 0x0e, 0x13, 0x52, 0x34, 0x49, 0x81, 0x8b, 0x38, 0xd9, 0x0c, 0xed, 0x39,
      0xdb}},
    {VMB_GUID_FCOPY,
     "34d14be3-dee4-41c8-9ae7-6b174977c192",
     {0xe3, 0x4b, 0xd1, 0x34, 0xe4, 0xde, 0xc8, 0x41, 0x9a, 0xe7, 0x6b, 0x17, 0x49, 0x77, 0xc1,
      0x92}},
    {VMB_GUID_VSS,
     "35fa2e29-ea23-4236-96ae-3a6ebacba440",
     {0x29, 0x2e, 0xfa, 0x35, 0x23, 0xea, 0x36, 0x42, 0x96, 0xae, 0x3a, 0x6e, 0xba, 0xcb, 0xa4,
      0x40}},
    {VMB_GUID_BALLOON,
     "525074dc-8985-46e2-8057-a307dc18a502",
     {0xdc, 0x74, 0x50, 0x52, 0x85, 0x89, 0xe2, 0x46, 0x80, 0x57, 0xa3, 0x07, 0xdc, 0x18, 0xa5,
      0x02}},
    {VMB_GUID_TEST,
     "6c3a1f2e-93b4-4d7a-a05e-1b8f2c47d910",
     {0x2e, 0x1f, 0x3a, 0x6c, 0xb4, 0x93, 0x7a, 0x4d, 0xa0, 0x5e, 0x1b, 0x8f, 0x2c, 0x47, 0xd9,
      0x10}},
};

#define N_GUIDS (sizeof(guid_cases) / sizeof(guid_cases[0]))

static void test_guid_round_trips(void **state)
{
	char s[VMB_GUID_STR_LEN];
	struct vmb_guid g;

	(void)state;
	for (size_t i = 0; i < N_GUIDS; i++) {
		const struct guid_case *c = &guid_cases[i];

		assert_memory_equal(c->g.b, c->wire, 16);
		assert_string_equal(vmb_guid_str(&c->g, s), c->str);
		assert_int_equal(vmb_guid_parse(c->str, &g), 0);
		assert_memory_equal(g.b, c->wire, 16);
		assert_true(vmb_guid_eq(&g, &c->g));
		assert_false(vmb_guid_is_null(&g));
		assert_non_null(vmb_class_name(&g));
		assert_non_null(vmb_class_short(&g));
		for (size_t j = 0; j < i; j++) {
			assert_string_not_equal(vmb_class_name(&g),
						vmb_class_name(&guid_cases[j].g));
			assert_string_not_equal(vmb_class_short(&g),
						vmb_class_short(&guid_cases[j].g));
		}
	}
}

static void test_guid_parse_errors(void **state)
{
	static const char *const bad[] = {
	    "",
	    "ba6163d9-04a1-4d29-b605-72e2ffb1dc7",
	    "ba6163d9-04a1-4d29-b605-72e2ffb1dc7f0",
	    "ba6163d904a1-4d29-b605-72e2ffb1dc7f0",
	    "ba6163d9-04a1-4d29-b605+72e2ffb1dc7f",
	    "ba6163g9-04a1-4d29-b605-72e2ffb1dc7f",
	    "{ba6163d9-04a1-4d29-b605-72e2ffb1dc7f}",
	};
	struct vmb_guid g = VMB_GUID_NET, scsi = VMB_GUID_SCSI, null_guid = {{0}};
	char s[VMB_GUID_STR_LEN];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vmb_guid_parse(bad[i], &g), -EINVAL);
		assert_memory_equal(&g, &(struct vmb_guid)VMB_GUID_NET, 16);
	}
	assert_int_equal(vmb_guid_parse("BA6163D9-04A1-4D29-B605-72E2FFB1DC7F", &g), 0);
	assert_true(vmb_guid_eq(&g, &scsi));
	assert_true(vmb_guid_is_null(&null_guid));
	assert_string_equal(vmb_guid_str(&null_guid, s), "00000000-0000-0000-0000-000000000000");
	assert_null(vmb_class_name(&null_guid));
	assert_null(vmb_class_short(&null_guid));
	assert_string_equal(vmb_class_name(&scsi), "Synthetic SCSI Controller");
	assert_string_equal(vmb_class_short(&scsi), "storvsc");
}

static void test_versions(void **state)
{
	char buf[16];

	(void)state;
	assert_int_equal(vmb_versions[0], VERSION_COPPER);
	assert_int_equal(vmb_versions[VMBUS_VERSION_COUNT - 1], VERSION_WS2008);
	for (size_t i = 1; i < VMBUS_VERSION_COUNT; i++)
		assert_true(vmb_versions[i] < vmb_versions[i - 1]);
	assert_true(vmb_version_known(VERSION_WIN8));
	assert_false(vmb_version_known(VMBUS_VERSION(2, 0)));
	assert_false(vmb_version_known(0));
	assert_string_equal(vmb_version_str(VERSION_WIN10_V5_3, buf, sizeof(buf)), "5.3");
	assert_string_equal(vmb_version_str(VERSION_WS2008, buf, sizeof(buf)), "0.13");
	assert_string_equal(vmb_version_str(VERSION_COPPER, buf, sizeof(buf)), "6.0");
	assert_string_equal(vmb_version_str(VERSION_WIN8, buf, sizeof(buf)), "2.4");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_every_type_accepted),
	    cmocka_unit_test(test_every_type_rejected),
	    cmocka_unit_test(test_min_sizes),
	    cmocka_unit_test(test_size_exceptions),
	    cmocka_unit_test(test_before_negotiation),
	    cmocka_unit_test(test_bad_headers),
	    cmocka_unit_test(test_names),
	    cmocka_unit_test(test_gpadl_round_trips),
	    cmocka_unit_test(test_gpadl_corrupt),
	    cmocka_unit_test(test_gpadl_multi_range),
	    cmocka_unit_test(test_gpadl_body_lengths),
	    cmocka_unit_test(test_guid_round_trips),
	    cmocka_unit_test(test_guid_parse_errors),
	    cmocka_unit_test(test_versions),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
