/* RNDIS and NVSP parsing/building (src/dev/net/rndis*.c). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/net/rndis.h"

static void nvsp_short_and_padded(void **state)
{
	struct nvsp_message in = {.msg_type = NVSP_MSG_TYPE_INIT}, out;

	(void)state;
	in.init.min_protocol_ver = NVSP_PROTOCOL_VERSION_2;
	in.init.max_protocol_ver = NVSP_PROTOCOL_VERSION_61;
	assert_int_equal(vmb_nvsp_parse(&in, 12, &out), 0);
	assert_int_equal(out.init.max_protocol_ver, NVSP_PROTOCOL_VERSION_61);
	assert_int_equal(out.raw[20], 0);
	assert_int_equal(vmb_nvsp_parse(&in, 11, &out), -EBADMSG);
	assert_int_equal(vmb_nvsp_parse(&in, 3, &out), -EBADMSG);
	/* A v1-sized recv-buffer completion carries its whole section. */
	in.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE;
	assert_int_equal(vmb_nvsp_parse(&in, NVSP_MESSAGE_SIZE_V1, &out), 0);
	assert_int_equal(vmb_nvsp_parse(&in, NVSP_MESSAGE_SIZE_V1 - 1, &out), -EBADMSG);
	/* Unknown types pass: the caller decides. */
	in.msg_type = 999;
	assert_int_equal(vmb_nvsp_parse(&in, 4, &out), 0);
	assert_int_equal(vmb_nvsp_msg_size(NVSP_PROTOCOL_VERSION_6), 28);
	assert_int_equal(vmb_nvsp_msg_size(NVSP_PROTOCOL_VERSION_61), 40);
	assert_true(vmb_nvsp_version_known(NVSP_PROTOCOL_VERSION_4));
	assert_false(vmb_nvsp_version_known(0x00030000));
}

static void packet_round_trip(void **state)
{
	uint8_t buf[256];
	struct vmb_rndis_msg m;
	struct vmb_rndis_frame f;
	size_t h;

	(void)state;
	h = vmb_rndis_packet_hdr(buf, 60);
	assert_int_equal(h, 44);
	memset(buf + h, 0xab, 60);
	assert_int_equal(vmb_rndis_parse_hdr(buf, sizeof(buf), &m), 0);
	assert_int_equal(m.len, 104);
	assert_int_equal(vmb_rndis_parse_packet(&m, &f), 0);
	assert_ptr_equal(f.data, buf + 44);
	assert_int_equal(f.len, 60);
	assert_false(f.has_csum);
	/* msg_len past the buffer */
	assert_int_equal(vmb_rndis_parse_hdr(buf, 103, &m), -EBADMSG);
}

static void packet_bad_offsets(void **state)
{
	uint8_t buf[128] = {0};
	struct rndis_packet pk;
	struct vmb_rndis_msg m;
	struct vmb_rndis_frame f;

	(void)state;
	vmb_rndis_packet_hdr(buf, 60);
	assert_int_equal(vmb_rndis_parse_hdr(buf, sizeof(buf), &m), 0);
	memcpy(&pk, buf + 8, sizeof(pk));
	pk.data_offset = 0xFFFFFFF0u; /* wraps around if added in 32 bits */
	memcpy(buf + 8, &pk, sizeof(pk));
	assert_int_equal(vmb_rndis_parse_packet(&m, &f), -EBADMSG);
	pk.data_offset = 36;
	pk.data_len = 0;
	memcpy(buf + 8, &pk, sizeof(pk));
	assert_int_equal(vmb_rndis_parse_packet(&m, &f), -EBADMSG);
	pk.data_len = 60;
	pk.per_pkt_info_offset = 90;
	pk.per_pkt_info_len = 12;
	memcpy(buf + 8, &pk, sizeof(pk));
	assert_int_equal(vmb_rndis_parse_packet(&m, &f), -EBADMSG);
}

static void packet_with_ppi(void **state)
{
	uint8_t buf[200] = {0};
	struct rndis_packet pk = {.per_pkt_info_offset = 36, .per_pkt_info_len = 32};
	struct rndis_per_packet_info ppi = {
	    .size = 16, .type = RNDIS_PPI_TCPIP_CHKSUM, .ppi_offset = 12};
	uint32_t v = 0x5;
	struct vmb_rndis_msg m;
	struct vmb_rndis_frame f;

	(void)state;
	pk.data_offset = 36 + 32;
	pk.data_len = 20;
	memcpy(buf + 8, &pk, sizeof(pk));
	memcpy(buf + 8 + 36, &ppi, sizeof(ppi));
	memcpy(buf + 8 + 36 + 12, &v, 4);
	ppi.type = RNDIS_PPI_8021Q;
	v = 42 << 4;
	memcpy(buf + 8 + 52, &ppi, sizeof(ppi));
	memcpy(buf + 8 + 52 + 12, &v, 4);
	assert_int_equal(
	    vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_PACKET, buf + 8, 36 + 32 + 20, NULL, 0),
	    8 + 36 + 32 + 20);
	assert_int_equal(vmb_rndis_parse_hdr(buf, sizeof(buf), &m), 0);
	assert_int_equal(vmb_rndis_parse_packet(&m, &f), 0);
	assert_true(f.has_csum);
	assert_int_equal(f.csum_info, 5);
	assert_true(f.has_vlan);
	assert_int_equal(f.vlan_info >> 4, 42);
	/* A PPI element claiming more than is left. */
	ppi.size = 40;
	memcpy(buf + 8 + 52, &ppi, sizeof(ppi));
	assert_int_equal(vmb_rndis_parse_packet(&m, &f), -EBADMSG);
	/* A PPI element of size 0 would loop forever. */
	ppi.size = 0;
	memcpy(buf + 8 + 52, &ppi, sizeof(ppi));
	assert_int_equal(vmb_rndis_parse_packet(&m, &f), -EBADMSG);
}

static void query_set_requests(void **state)
{
	uint8_t buf[64];
	uint32_t filter = NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_BROADCAST;
	struct vmb_rndis_msg m;
	struct vmb_rndis_req r;
	int n;

	(void)state;
	n = vmb_rndis_build_query(buf, sizeof(buf), RNDIS_MSG_SET, 7,
				  RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &filter, 4);
	assert_int_equal(n, 8 + 20 + 4);
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_request(&m, &r), 0);
	assert_int_equal(r.type, RNDIS_MSG_SET);
	assert_int_equal(r.req_id, 7);
	assert_int_equal(r.oid, RNDIS_OID_GEN_CURRENT_PACKET_FILTER);
	assert_int_equal(r.info_len, 4);
	assert_memory_equal(r.info, &filter, 4);
	/* Info buffer claimed beyond the message. */
	buf[8 + 8] = 5;
	assert_int_equal(vmb_rndis_parse_request(&m, &r), -EBADMSG);
	assert_int_equal(vmb_rndis_build_query(buf, 20, RNDIS_MSG_QUERY, 1, 2, NULL, 0), -ENOSPC);
	/* Unknown message types are not requests. */
	n = vmb_rndis_build(buf, sizeof(buf), 0x77, "abcd", 4, NULL, 0);
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_request(&m, &r), -EOPNOTSUPP);
}

static void init_and_query_completions(void **state)
{
	uint8_t buf[128];
	uint8_t mac[6] = {0, 0x15, 0x5d, 1, 2, 3};
	struct rndis_initialize_complete ic = {
	    .req_id = 3, .status = 0, .major_ver = 1, .max_xfer_size = 0x4000};
	struct vmb_rndis_msg m;
	struct vmb_rndis_resp r;
	int n;

	(void)state;
	n = vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_INIT_C, &ic, sizeof(ic), NULL, 0);
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_response(&m, &r), 0);
	assert_int_equal(r.req_id, 3);
	assert_int_equal(r.init.max_xfer_size, 0x4000);
	/* A truncated INIT_C. */
	n = vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_INIT_C, &ic, 20, NULL, 0);
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_response(&m, &r), -EBADMSG);

	n = vmb_rndis_build_query_c(buf, sizeof(buf), 9, RNDIS_STATUS_SUCCESS, mac, 6);
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_response(&m, &r), 0);
	assert_int_equal(r.req_id, 9);
	assert_int_equal(r.info_len, 6);
	assert_memory_equal(r.info, mac, 6);
	/* A failed query carries no buffer, whatever its fields say. */
	n = vmb_rndis_build_query_c(buf, sizeof(buf), 9, RNDIS_STATUS_NOT_SUPPORTED, NULL, 0);
	buf[8 + 8] = 0xff;
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_response(&m, &r), 0);
	assert_null(r.info);
	assert_int_equal(r.status, RNDIS_STATUS_NOT_SUPPORTED);
}

static void indicate_status(void **state)
{
	uint8_t buf[64];
	struct rndis_indicate_status s = {.status = RNDIS_STATUS_MEDIA_CONNECT};
	struct vmb_rndis_msg m;
	uint32_t st = 0;
	int n;

	(void)state;
	n = vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_INDICATE_STATUS, &s, sizeof(s), NULL, 0);
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_indicate(&m, &st), 0);
	assert_int_equal(st, RNDIS_STATUS_MEDIA_CONNECT);
	s.status_buflen = 8;
	s.status_buf_offset = 12;
	n = vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_INDICATE_STATUS, &s, sizeof(s), NULL, 0);
	assert_int_equal(vmb_rndis_parse_hdr(buf, (size_t)n, &m), 0);
	assert_int_equal(vmb_rndis_parse_indicate(&m, &st), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(nvsp_short_and_padded), cmocka_unit_test(packet_round_trip),
	    cmocka_unit_test(packet_bad_offsets),    cmocka_unit_test(packet_with_ppi),
	    cmocka_unit_test(query_set_requests),    cmocka_unit_test(init_and_query_completions),
	    cmocka_unit_test(indicate_status),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
