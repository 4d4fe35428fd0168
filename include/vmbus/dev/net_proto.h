/*
 * Synthetic NIC wire format: NVSP (netvsc <-> netvsp messages on the
 * channel) and RNDIS (carried inside the send buffer, GPA-direct pages or
 * receive-buffer transfer pages). PROTOCOL.md section 7.
 *
 * Names follow Linux hyperv_net.h / rndis.h so that a grep across projects
 * finds them. All fields are little-endian; structs are packed where the
 * wire has no padding.
 */
#ifndef VMBUS_DEV_NET_PROTO_H
#define VMBUS_DEV_NET_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* ======================= NVSP (7.1) ================================== */

#define NVSP_PROTOCOL_VERSION_1	 0x00000002u
#define NVSP_PROTOCOL_VERSION_2	 0x00030002u
#define NVSP_PROTOCOL_VERSION_4	 0x00040000u
#define NVSP_PROTOCOL_VERSION_5	 0x00050000u
#define NVSP_PROTOCOL_VERSION_6	 0x00060000u
#define NVSP_PROTOCOL_VERSION_61 0x00060001u

/* Every NVSP message is sent at this fixed size (hosts pad or truncate). */
#define NVSP_MESSAGE_SIZE_V1  28u /* NVSP < 6.1 */
#define NVSP_MESSAGE_SIZE_V61 40u

enum nvsp_status {
	NVSP_STAT_NONE = 0,
	NVSP_STAT_SUCCESS = 1,
	NVSP_STAT_FAIL = 2,
	NVSP_STAT_PROTOCOL_TOO_NEW = 3,
	NVSP_STAT_PROTOCOL_TOO_OLD = 4,
	NVSP_STAT_INVALID_RNDIS_PKT = 5,
	NVSP_STAT_BUSY = 6,
	NVSP_STAT_PROTOCOL_UNSUPPORTED = 7,
};

enum nvsp_msg_type {
	NVSP_MSG_TYPE_INIT = 1,
	NVSP_MSG_TYPE_INIT_COMPLETE = 2,
	NVSP_MSG1_TYPE_SEND_NDIS_VER = 100,
	NVSP_MSG1_TYPE_SEND_RECV_BUF = 101,
	NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE = 102,
	NVSP_MSG1_TYPE_REVOKE_RECV_BUF = 103,
	NVSP_MSG1_TYPE_SEND_SEND_BUF = 104,
	NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE = 105,
	NVSP_MSG1_TYPE_REVOKE_SEND_BUF = 106,
	NVSP_MSG1_TYPE_SEND_RNDIS_PKT = 107,
	NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE = 108,
	NVSP_MSG2_TYPE_SEND_NDIS_CONFIG = 125,
	NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION = 128,
	NVSP_MSG4_TYPE_SWITCH_DATA_PATH = 129,
	NVSP_MSG5_TYPE_OID_QUERY_EX = 131,
	NVSP_MSG5_TYPE_OID_QUERY_EX_COMP = 132,
	NVSP_MSG5_TYPE_SUBCHANNEL = 133,
	NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE = 134,
};

/* SEND_RNDIS_PKT channel_type */
#define NVSP_RNDIS_CHANNEL_DATA	   0u
#define NVSP_RNDIS_CHANNEL_CONTROL 1u
/* send_buf_section_index when the RNDIS message is not in the send buffer */
#define NVSP_INVALID_SECTION_INDEX 0xFFFFFFFFu

/* Linux registers its receive buffer under this transfer-page-set id. */
#define NETVSC_RECEIVE_BUFFER_ID 0xCAFE
#define NETVSC_SEND_BUFFER_ID	 0

#define NVSP_SUBCHANNEL_ALLOCATE 1u
#define VRSS_SEND_TAB_SIZE	 16u
/* Where the table really starts: hosts <= v6 may report a wrong offset. */
#define NVSP5_INDIRECTION_TABLE_OFFSET 40u

#define NDIS_CONFIG_CAP_VMQ	  (1ull << 0)
#define NDIS_CONFIG_CAP_SRIOV	  (1ull << 2)
#define NDIS_CONFIG_CAP_IEEE8021Q (1ull << 3)

struct nvsp_message_init {
	uint32_t min_protocol_ver;
	uint32_t max_protocol_ver;
} __attribute__((packed));

struct nvsp_message_init_complete {
	uint32_t negotiated_protocol_ver; /* deprecated */
	uint32_t max_mdl_chain_len;
	uint32_t status;
} __attribute__((packed));

struct nvsp_1_message_send_ndis_version {
	uint32_t ndis_major_ver;
	uint32_t ndis_minor_ver;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer {
	uint32_t gpadl_handle;
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_receive_buffer_section {
	uint32_t offset;
	uint32_t sub_alloc_size;
	uint32_t num_sub_allocs;
	uint32_t end_offset;
} __attribute__((packed));

struct nvsp_1_message_send_receive_buffer_complete {
	uint32_t status;
	uint32_t num_sections;
	struct nvsp_1_receive_buffer_section sections[1];
} __attribute__((packed));

struct nvsp_1_message_revoke_buffer {
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_send_buffer {
	uint32_t gpadl_handle;
	uint16_t id;
} __attribute__((packed));

struct nvsp_1_message_send_send_buffer_complete {
	uint32_t status;
	uint32_t section_size;
} __attribute__((packed));

struct nvsp_1_message_send_rndis_packet {
	uint32_t channel_type;
	uint32_t send_buf_section_index;
	uint32_t send_buf_section_size;
} __attribute__((packed));

struct nvsp_1_message_send_rndis_packet_complete {
	uint32_t status;
} __attribute__((packed));

struct nvsp_2_send_ndis_config {
	uint32_t mtu;
	uint32_t reserved;
	uint64_t capabilities;
} __attribute__((packed));

struct nvsp_5_subchannel_request {
	uint32_t op;
	uint32_t num_subchannels;
} __attribute__((packed));

struct nvsp_5_subchannel_complete {
	uint32_t status;
	uint32_t num_subchannels;
} __attribute__((packed));

struct nvsp_5_send_indirect_table {
	uint32_t count;
	uint32_t offset; /* of the table, from the start of the nvsp_message */
} __attribute__((packed));

struct nvsp_message {
	uint32_t msg_type;
	union {
		struct nvsp_message_init init;
		struct nvsp_message_init_complete init_complete;
		struct nvsp_1_message_send_ndis_version ndis_ver;
		struct nvsp_1_message_send_receive_buffer recv_buf;
		struct nvsp_1_message_send_receive_buffer_complete recv_buf_complete;
		struct nvsp_1_message_revoke_buffer revoke;
		struct nvsp_1_message_send_send_buffer send_buf;
		struct nvsp_1_message_send_send_buffer_complete send_buf_complete;
		struct nvsp_1_message_send_rndis_packet rndis_pkt;
		struct nvsp_1_message_send_rndis_packet_complete rndis_pkt_complete;
		struct nvsp_2_send_ndis_config ndis_config;
		struct nvsp_5_subchannel_request subchan_req;
		struct nvsp_5_subchannel_complete subchan_complete;
		struct nvsp_5_send_indirect_table indirect;
		uint8_t raw[NVSP_MESSAGE_SIZE_V61 - 4];
	};
} __attribute__((packed));

_Static_assert(sizeof(struct nvsp_message) == NVSP_MESSAGE_SIZE_V61, "nvsp_message");
_Static_assert(sizeof(struct nvsp_1_message_send_receive_buffer) == 6, "send recv buf");
_Static_assert(4 + sizeof(struct nvsp_1_message_send_receive_buffer_complete) ==
		   NVSP_MESSAGE_SIZE_V1,
	       "recv buf complete fills a v1 message");
_Static_assert(sizeof(struct nvsp_2_send_ndis_config) == 16, "ndis config");
_Static_assert(offsetof(struct nvsp_message, rndis_pkt.send_buf_section_size) == 12, "rndis pkt");

/* Send-buffer section size Hyper-V and OpenVMM report. */
#define NETVSP_SEND_SECTION_SIZE 6144u

/* ======================= RNDIS (7.4) ================================= */

#define RNDIS_MSG_PACKET	  0x00000001u
#define RNDIS_MSG_INIT		  0x00000002u
#define RNDIS_MSG_HALT		  0x00000003u
#define RNDIS_MSG_QUERY		  0x00000004u
#define RNDIS_MSG_SET		  0x00000005u
#define RNDIS_MSG_RESET		  0x00000006u
#define RNDIS_MSG_INDICATE_STATUS 0x00000007u
#define RNDIS_MSG_KEEPALIVE	  0x00000008u
#define RNDIS_MSG_COMPLETION	  0x80000000u
#define RNDIS_MSG_INIT_C	  (RNDIS_MSG_INIT | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_QUERY_C	  (RNDIS_MSG_QUERY | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_SET_C		  (RNDIS_MSG_SET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_RESET_C	  (RNDIS_MSG_RESET | RNDIS_MSG_COMPLETION)
#define RNDIS_MSG_KEEPALIVE_C	  (RNDIS_MSG_KEEPALIVE | RNDIS_MSG_COMPLETION)

#define RNDIS_MAJOR_VERSION 1u
#define RNDIS_MINOR_VERSION 0u

#define RNDIS_STATUS_SUCCESS	       0x00000000u
#define RNDIS_STATUS_PENDING	       0x00000103u
#define RNDIS_STATUS_MEDIA_CONNECT     0x4001000Bu
#define RNDIS_STATUS_MEDIA_DISCONNECT  0x4001000Cu
#define RNDIS_STATUS_LINK_SPEED_CHANGE 0x40010013u
#define RNDIS_STATUS_NETWORK_CHANGE    0x40010018u
#define RNDIS_STATUS_FAILURE	       0xC0000001u
#define RNDIS_STATUS_INVALID_DATA      0xC0010015u
#define RNDIS_STATUS_NOT_SUPPORTED     0xC00000BBu

#define RNDIS_MEDIUM_802_3 0u

/* OIDs */
#define RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE	 0x00010106u
#define RNDIS_OID_GEN_LINK_SPEED		 0x00010107u
#define RNDIS_OID_GEN_CURRENT_PACKET_FILTER	 0x0001010Eu
#define RNDIS_OID_GEN_MEDIA_CONNECT_STATUS	 0x00010114u
#define RNDIS_OID_GEN_RECEIVE_SCALE_CAPABILITIES 0x00010203u
#define RNDIS_OID_GEN_RECEIVE_SCALE_PARAMETERS	 0x00010204u
#define RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER	 0x0001021Bu
#define RNDIS_OID_GEN_FRIENDLY_NAME		 0x00020216u
#define RNDIS_OID_802_3_PERMANENT_ADDRESS	 0x01010101u
#define RNDIS_OID_802_3_CURRENT_ADDRESS		 0x01010102u
#define RNDIS_OID_802_3_MULTICAST_LIST		 0x01010103u
#define RNDIS_OID_OFFLOAD_ENCAPSULATION		 0x0101010Au
#define RNDIS_OID_TCP_OFFLOAD_CURRENT_CONFIG	 0xFC01020Bu
#define RNDIS_OID_TCP_OFFLOAD_PARAMETERS	 0xFC01020Cu
#define RNDIS_OID_TCP_OFFLOAD_HARDWARE_CAPS	 0xFC01020Du

/* GEN_CURRENT_PACKET_FILTER bits */
#define NDIS_PACKET_TYPE_DIRECTED      0x01u
#define NDIS_PACKET_TYPE_MULTICAST     0x02u
#define NDIS_PACKET_TYPE_ALL_MULTICAST 0x04u
#define NDIS_PACKET_TYPE_BROADCAST     0x08u
#define NDIS_PACKET_TYPE_PROMISCUOUS   0x20u

/* GEN_MEDIA_CONNECT_STATUS values */
#define RNDIS_MEDIA_STATE_CONNECTED    0u
#define RNDIS_MEDIA_STATE_DISCONNECTED 1u

struct rndis_msg_hdr {
	uint32_t ndis_msg_type;
	uint32_t msg_len; /* whole message including this header */
};

struct rndis_initialize_request {
	uint32_t req_id;
	uint32_t major_ver;
	uint32_t minor_ver;
	uint32_t max_xfer_size;
};

struct rndis_initialize_complete {
	uint32_t req_id;
	uint32_t status;
	uint32_t major_ver;
	uint32_t minor_ver;
	uint32_t dev_flags;
	uint32_t medium;
	uint32_t max_pkt_per_msg;
	uint32_t max_xfer_size;
	uint32_t pkt_alignment_factor;
	uint32_t af_list_offset;
	uint32_t af_list_size;
};

/* QUERY and SET share the layout; the info buffer offset counts from req_id. */
struct rndis_query_request {
	uint32_t req_id;
	uint32_t oid;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
	uint32_t dev_vc_handle;
};

struct rndis_query_complete {
	uint32_t req_id;
	uint32_t status;
	uint32_t info_buflen;
	uint32_t info_buf_offset;
};

struct rndis_set_complete {
	uint32_t req_id;
	uint32_t status;
};

struct rndis_reset_complete {
	uint32_t status;
	uint32_t addressing_reset;
};

struct rndis_indicate_status {
	uint32_t status;
	uint32_t status_buflen;
	uint32_t status_buf_offset;
};

struct rndis_keepalive_request {
	uint32_t req_id;
};

struct rndis_keepalive_complete {
	uint32_t req_id;
	uint32_t status;
};

/* Offsets count from data_offset's own position (the start of this body). */
struct rndis_packet {
	uint32_t data_offset;
	uint32_t data_len;
	uint32_t oob_data_offset;
	uint32_t oob_data_len;
	uint32_t num_oob_data_elements;
	uint32_t per_pkt_info_offset;
	uint32_t per_pkt_info_len;
	uint32_t vc_handle;
	uint32_t reserved;
};

struct rndis_per_packet_info {
	uint32_t size; /* including this header */
	uint32_t type; /* bits 0-30 type, bit 31 internal */
	uint32_t ppi_offset;
};

#define RNDIS_PPI_INTERNAL	0x80000000u
#define RNDIS_PPI_TCPIP_CHKSUM	0u
#define RNDIS_PPI_IPSEC		1u
#define RNDIS_PPI_TCP_LARGESEND 2u
#define RNDIS_PPI_8021Q		6u
#define RNDIS_PPI_ORIGINAL_PKT	7u
#define RNDIS_PPI_HASH_VALUE	8u

#define RNDIS_HEADER_SIZE (sizeof(struct rndis_msg_hdr))
#define RNDIS_PACKET_SIZE (RNDIS_HEADER_SIZE + sizeof(struct rndis_packet))

_Static_assert(sizeof(struct rndis_msg_hdr) == 8, "rndis hdr");
_Static_assert(sizeof(struct rndis_initialize_complete) == 44, "init complete");
_Static_assert(sizeof(struct rndis_query_request) == 20, "query");
_Static_assert(sizeof(struct rndis_packet) == 36, "rndis packet");
_Static_assert(sizeof(struct rndis_per_packet_info) == 12, "ppi");

#endif
