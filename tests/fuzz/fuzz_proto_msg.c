/*
 * Fuzz the control-message validator: every input is checked as a message
 * in both directions at every version (and before negotiation), with no
 * and all 6.0 features. Whatever vmb_msg_check() accepts must then parse;
 * the input is also reused as a PFN list for a GPADL build/parse round trip
 * and as a GUID for a text round trip.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/msg.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void parse_accepted(const uint8_t *data, size_t size, int type)
{
	uint64_t pfns[VMBUS_GPADL_BODY_MAX_PFNS];
	struct vmb_gpadl_hdr_info info;
	uint32_t handle, count;

	if (type == CHANNELMSG_GPADL_HEADER) {
		REQUIRE(vmb_gpadl_parse_header(data, size, &info, pfns,
					       VMBUS_GPADL_HEADER_MAX_PFNS) == 0);
		REQUIRE(info.carried <= info.total_pfns);
		REQUIRE(info.rangecount >= 1);
		REQUIRE(info.byte_count > 0 && info.byte_offset < 4096);
		REQUIRE(20 + 8 * (size_t)info.carried < size);
	} else if (type == CHANNELMSG_GPADL_BODY) {
		REQUIRE(vmb_gpadl_parse_body(data, size, &handle, pfns, VMBUS_GPADL_BODY_MAX_PFNS,
					     &count) == 0);
		REQUIRE(count >= 1 && 16 + 8 * (size_t)count == size);
	}
}

static void check_one(const uint8_t *data, size_t size, enum vmb_dir dir, uint32_t version,
		      uint32_t features)
{
	char why[128] = "";
	uint32_t type;
	int ret;

	ret = vmb_msg_check(data, size, dir, version, features, why, sizeof(why));
	if (ret < 0) {
		REQUIRE(ret == -EBADMSG);
		REQUIRE(why[0] != '\0');
		return;
	}
	memcpy(&type, data, sizeof(type));
	REQUIRE((uint32_t)ret == type);
	REQUIRE(size <= VMBUS_MAX_MESSAGE_SIZE);
	REQUIRE(vmb_msg_min_size(type, dir, version, features) != 0);
	REQUIRE(size >= vmb_msg_min_size(type, dir, version, features));
	REQUIRE(strcmp(vmb_msg_name(type), "UNKNOWN") != 0);
	parse_accepted(data, size, ret);
}

static void check_all(const uint8_t *data, size_t size)
{
	static const uint32_t feature_sets[] = {0, 0xff};

	for (int dir = VMB_G2H; dir <= VMB_H2G; dir++) {
		for (size_t f = 0; f < 2; f++) {
			check_one(data, size, (enum vmb_dir)dir, 0, feature_sets[f]);
			for (size_t v = 0; v < VMBUS_VERSION_COUNT; v++)
				check_one(data, size, (enum vmb_dir)dir, vmb_versions[v],
					  feature_sets[f]);
		}
	}
}

static void gpadl_round_trip(const uint8_t *data, size_t size)
{
	size_t n = size / 8 > 0 ? size / 8 : 1;
	uint64_t *in = calloc(n, 8), *out = calloc(n, 8);
	uint8_t msg[VMBUS_MAX_MESSAGE_SIZE];
	unsigned count = vmb_gpadl_msg_count(n);
	size_t have = 0;

	REQUIRE(in != NULL && out != NULL);
	memcpy(in, data, size / 8 * 8);
	for (unsigned i = 0; i < count; i++) {
		size_t len = vmb_gpadl_build(msg, i, 1, 2, in, n);
		uint32_t got;

		REQUIRE(vmb_msg_check(msg, len, VMB_G2H, VERSION_WS2008, 0, NULL, 0) ==
			(i == 0 ? CHANNELMSG_GPADL_HEADER : CHANNELMSG_GPADL_BODY));
		if (i == 0) {
			struct vmb_gpadl_hdr_info info;

			REQUIRE(vmb_gpadl_parse_header(msg, len, &info, out, n) == 0);
			REQUIRE(info.total_pfns == n);
			got = info.carried;
		} else {
			REQUIRE(vmb_gpadl_parse_body(msg, len, NULL, out + have, n - have, &got) ==
				0);
		}
		have += got;
	}
	REQUIRE(count == 0 || (have == n && memcmp(in, out, n * 8) == 0));
	free(in);
	free(out);
}

static void guid_round_trip(const uint8_t *data, size_t size)
{
	struct vmb_guid g, back;
	char s[VMB_GUID_STR_LEN];

	if (size < sizeof(g.b))
		return;
	memcpy(g.b, data, sizeof(g.b));
	REQUIRE(vmb_guid_parse(vmb_guid_str(&g, s), &back) == 0);
	REQUIRE(vmb_guid_eq(&g, &back));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	check_all(data, size);
	gpadl_round_trip(data, size);
	guid_round_trip(data, size);
	return 0;
}
