/*
 * VMBus channel-management ("control path") messages, PROTOCOL.md section 1.
 * Every message starts with the 8-byte header and fits in one SynIC message
 * payload (240 bytes). Offsets in comments include the header.
 */
#ifndef VMBUS_PROTO_CHANNEL_H
#define VMBUS_PROTO_CHANNEL_H

#include <stddef.h>
#include <stdint.h>

#include "vmbus/proto/guid.h"

#define VMBUS_MESSAGE_SINT 2
#define VMBUS_MESSAGE_CONNECTION_ID 1
#define VMBUS_EVENT_CONNECTION_ID 2
#define VMBUS_MONITOR_CONNECTION_ID 3
#define VMBUS_MESSAGE_CONNECTION_ID_4 4
#define VMBUS_MAX_MESSAGE_SIZE 240

/* Relids 1..2047; 0 is never used (event flag 0 is special). */
#define VMBUS_MAX_RELID 2047
#define VMBUS_INVALID_RELID 0xffffffffu

/* Version word = (major << 16) | minor. */
#define VMBUS_VERSION(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))
#define VERSION_WS2008 VMBUS_VERSION(0, 13)
#define VERSION_WIN7 VMBUS_VERSION(1, 1)
#define VERSION_WIN8 VMBUS_VERSION(2, 4)
#define VERSION_WIN8_1 VMBUS_VERSION(3, 0)
#define VERSION_WIN10 VMBUS_VERSION(4, 0)
#define VERSION_WIN10_V4_1 VMBUS_VERSION(4, 1)
#define VERSION_WIN10_V5 VMBUS_VERSION(5, 0)
#define VERSION_WIN10_V5_1 VMBUS_VERSION(5, 1)
#define VERSION_WIN10_V5_2 VMBUS_VERSION(5, 2)
#define VERSION_WIN10_V5_3 VMBUS_VERSION(5, 3)
#define VERSION_COPPER VMBUS_VERSION(6, 0)
#define VMBUS_VERSION_COUNT 11

enum vmbus_channel_message_type {
	CHANNELMSG_INVALID = 0,
	CHANNELMSG_OFFERCHANNEL = 1,
	CHANNELMSG_RESCIND_CHANNELOFFER = 2,
	CHANNELMSG_REQUESTOFFERS = 3,
	CHANNELMSG_ALLOFFERS_DELIVERED = 4,
	CHANNELMSG_OPENCHANNEL = 5,
	CHANNELMSG_OPENCHANNEL_RESULT = 6,
	CHANNELMSG_CLOSECHANNEL = 7,
	CHANNELMSG_GPADL_HEADER = 8,
	CHANNELMSG_GPADL_BODY = 9,
	CHANNELMSG_GPADL_CREATED = 10,
	CHANNELMSG_GPADL_TEARDOWN = 11,
	CHANNELMSG_GPADL_TORNDOWN = 12,
	CHANNELMSG_RELID_RELEASED = 13,
	CHANNELMSG_INITIATE_CONTACT = 14,
	CHANNELMSG_VERSION_RESPONSE = 15,
	CHANNELMSG_UNLOAD = 16,
	CHANNELMSG_UNLOAD_RESPONSE = 17,
	CHANNELMSG_OPEN_RESERVED_CHANNEL = 18,
	CHANNELMSG_CLOSE_RESERVED_CHANNEL = 19,
	CHANNELMSG_CLOSE_RESERVED_RESPONSE = 20,
	CHANNELMSG_TL_CONNECT_REQUEST = 21,
	CHANNELMSG_MODIFYCHANNEL = 22,
	CHANNELMSG_TL_CONNECT_RESULT = 23,
	CHANNELMSG_MODIFYCHANNEL_RESPONSE = 24,
	CHANNELMSG_MODIFY_CONNECTION = 25,
	CHANNELMSG_MODIFY_CONNECTION_RESPONSE = 26,
	CHANNELMSG_PAUSE = 27,
	CHANNELMSG_PAUSE_RESPONSE = 28,
	CHANNELMSG_RESUME = 29,
	CHANNELMSG_COUNT
};

/* 6.0 feature flags (INITIATE_CONTACT / VERSION_RESPONSE). */
#define VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS 0x01u
#define VMBUS_FEATURE_CHANNEL_INTERRUPT_REDIRECTION 0x02u
#define VMBUS_FEATURE_MODIFY_CONNECTION 0x04u
#define VMBUS_FEATURE_CLIENT_ID 0x08u
#define VMBUS_FEATURE_CONFIDENTIAL_CHANNELS 0x10u
#define VMBUS_FEATURE_PAUSE_RESUME 0x20u
#define VMBUS_FEATURE_SERVER_SPECIFIED_MONITOR_PAGES 0x40u
#define VMBUS_FEATURE_GPA_PINNING 0x80u

/* Offer chn_flags. */
#define VMBUS_CHANNEL_ENUMERATE_DEVICE_INTERFACE 0x0001u
#define VMBUS_CHANNEL_NAMED_PIPE_MODE 0x0010u
#define VMBUS_CHANNEL_LOOPBACK_OFFER 0x0100u
#define VMBUS_CHANNEL_PARENT_OFFER 0x0200u
#define VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION 0x0400u
#define VMBUS_CHANNEL_TLNPI_PROVIDER_OFFER 0x2000u

/* VERSION_RESPONSE connection_state. */
#define VMBUS_CONNECTION_SUCCESSFUL 0
#define VMBUS_CONNECTION_FAILED_LOW_RESOURCES 1
#define VMBUS_CONNECTION_FAILED_UNKNOWN 2

/* Status used by hosts for a failed GPADL/open (NTSTATUS E_FAIL-like). */
#define VMBUS_STATUS_FAILURE 0x8000ffffu

#pragma pack(push, 1)

struct vmbus_channel_message_header {
	uint32_t msgtype;
	uint32_t padding;
};

struct vmbus_channel_offer_channel {
	struct vmbus_channel_message_header header;
	struct vmb_guid if_type;     /* 8 */
	struct vmb_guid if_instance; /* 24 */
	uint64_t reserved1;          /* 40 */
	uint64_t reserved2;          /* 48 */
	uint16_t chn_flags;          /* 56 */
	uint16_t mmio_megabytes;     /* 58 */
	uint8_t user_def[120];       /* 60 */
	uint16_t sub_channel_index;  /* 180 */
	uint16_t mmio_megabytes_optional; /* 182 */
	uint32_t child_relid;        /* 184 */
	uint8_t monitorid;           /* 188 */
	uint8_t monitor_allocated;   /* 189: bit 0 */
	uint16_t is_dedicated_interrupt; /* 190: bit 0; Win7+ */
	uint32_t connection_id;      /* 192: Win7+ */
};

/* RESCIND_CHANNELOFFER, CLOSECHANNEL, RELID_RELEASED. */
struct vmbus_channel_relid_msg {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
};

struct vmbus_channel_open_channel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;                      /* 8 */
	uint32_t openid;                           /* 12 */
	uint32_t ringbuffer_gpadlhandle;           /* 16 */
	uint32_t target_vp;                        /* 20 */
	uint32_t downstream_ringbuffer_pageoffset; /* 24 */
	uint8_t userdata[120];                     /* 28 */
	/* OpenChannel2 (6.0 with GUEST_SPECIFIED_SIGNAL_PARAMETERS): */
	uint32_t connection_id; /* 148 */
	uint16_t event_flag;    /* 152 */
	uint16_t flags;         /* 154 */
};

struct vmbus_channel_open_result {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t openid;
	uint32_t status;
};

struct vmbus_gpa_range {
	uint32_t byte_count;
	uint32_t byte_offset;
	uint64_t pfn_array[];
};

struct vmbus_channel_gpadl_header {
	struct vmbus_channel_message_header header;
	uint32_t child_relid; /* 8 */
	uint32_t gpadl;       /* 12 */
	uint16_t range_buflen; /* 16: bytes of all ranges incl. PFNs in BODYs */
	uint16_t rangecount;  /* 18 */
	uint8_t range[];      /* 20: struct vmbus_gpa_range records */
};

struct vmbus_channel_gpadl_body {
	struct vmbus_channel_message_header header;
	uint32_t msgnumber; /* hosts ignore it */
	uint32_t gpadl;
	uint64_t pfn[];
};

struct vmbus_channel_gpadl_created {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;
	uint32_t creation_status;
};

struct vmbus_channel_gpadl_teardown {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t gpadl;
};

struct vmbus_channel_gpadl_torndown {
	struct vmbus_channel_message_header header;
	uint32_t gpadl;
};

struct vmbus_channel_initiate_contact {
	struct vmbus_channel_message_header header;
	uint32_t vmbus_version_requested; /* 8 */
	uint32_t target_vcpu;             /* 12 */
	union {                           /* 16 */
		uint64_t interrupt_page; /* < 5.0 */
		struct {
			uint8_t msg_sint; /* >= 5.0 */
			uint8_t msg_vtl;  /* >= 5.1 */
			uint8_t reserved[2];
			uint32_t feature_flags; /* 6.0 */
		};
	};
	uint64_t monitor_page1; /* 24: H->G */
	uint64_t monitor_page2; /* 32: G->H */
	struct vmb_guid client_id; /* 40: only with VMBUS_FEATURE_CLIENT_ID */
};

struct vmbus_channel_version_response {
	struct vmbus_channel_message_header header;
	uint8_t version_supported; /* 8 */
	uint8_t connection_state;  /* 9 */
	uint16_t padding;          /* 10 */
	uint32_t msg_conn_id;      /* 12: >= 5.0 */
	uint32_t supported_features; /* 16: 6.0 */
	uint32_t padding2;           /* 20 */
	uint64_t parent_to_child_monitor_page_gpa; /* 24 */
	uint64_t child_to_parent_monitor_page_gpa; /* 32 */
};

struct vmbus_channel_open_reserved {
	struct vmbus_channel_message_header header;
	uint32_t channel_id;
	uint32_t target_vp;
	uint32_t target_sint;
	uint32_t ring_buffer_gpadl;
	uint32_t downstream_page_offset;
};

struct vmbus_channel_close_reserved {
	struct vmbus_channel_message_header header;
	uint32_t channel_id;
	uint32_t target_vp;
	uint32_t target_sint;
};

struct vmbus_channel_close_reserved_response {
	struct vmbus_channel_message_header header;
	uint32_t channel_id;
};

struct vmbus_channel_tl_connect_request {
	struct vmbus_channel_message_header header;
	struct vmb_guid guest_endpoint_id;
	struct vmb_guid host_service_id;
	struct vmb_guid silo_id; /* 5.2+, optional */
};

struct vmbus_channel_tl_connect_result {
	struct vmbus_channel_message_header header;
	struct vmb_guid endpoint_id;
	struct vmb_guid service_id;
	int32_t status;
};

struct vmbus_channel_modifychannel {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	uint32_t target_vp;
};

struct vmbus_channel_modifychannel_response {
	struct vmbus_channel_message_header header;
	uint32_t child_relid;
	int32_t status;
};

struct vmbus_channel_modify_connection {
	struct vmbus_channel_message_header header;
	uint64_t parent_to_child_monitor_page_gpa;
	uint64_t child_to_parent_monitor_page_gpa;
};

struct vmbus_channel_modify_connection_response {
	struct vmbus_channel_message_header header;
	uint8_t connection_state;
};

#pragma pack(pop)

#define VMB_CHECK_OFF(t, f, o) _Static_assert(offsetof(t, f) == (o), #t "." #f)
#define VMB_CHECK_SIZE(t, s) _Static_assert(sizeof(t) == (s), #t " size")

VMB_CHECK_SIZE(struct vmbus_channel_message_header, 8);
VMB_CHECK_SIZE(struct vmbus_channel_offer_channel, 196);
VMB_CHECK_OFF(struct vmbus_channel_offer_channel, chn_flags, 56);
VMB_CHECK_OFF(struct vmbus_channel_offer_channel, user_def, 60);
VMB_CHECK_OFF(struct vmbus_channel_offer_channel, sub_channel_index, 180);
VMB_CHECK_OFF(struct vmbus_channel_offer_channel, child_relid, 184);
VMB_CHECK_OFF(struct vmbus_channel_offer_channel, monitorid, 188);
VMB_CHECK_OFF(struct vmbus_channel_offer_channel, is_dedicated_interrupt, 190);
VMB_CHECK_OFF(struct vmbus_channel_offer_channel, connection_id, 192);
VMB_CHECK_SIZE(struct vmbus_channel_relid_msg, 12);
VMB_CHECK_SIZE(struct vmbus_channel_open_channel, 156);
VMB_CHECK_OFF(struct vmbus_channel_open_channel, userdata, 28);
VMB_CHECK_OFF(struct vmbus_channel_open_channel, connection_id, 148);
VMB_CHECK_SIZE(struct vmbus_channel_open_result, 20);
VMB_CHECK_SIZE(struct vmbus_gpa_range, 8);
VMB_CHECK_SIZE(struct vmbus_channel_gpadl_header, 20);
VMB_CHECK_SIZE(struct vmbus_channel_gpadl_body, 16);
VMB_CHECK_SIZE(struct vmbus_channel_gpadl_created, 20);
VMB_CHECK_SIZE(struct vmbus_channel_gpadl_teardown, 16);
VMB_CHECK_SIZE(struct vmbus_channel_gpadl_torndown, 12);
VMB_CHECK_SIZE(struct vmbus_channel_initiate_contact, 56);
VMB_CHECK_OFF(struct vmbus_channel_initiate_contact, feature_flags, 20);
VMB_CHECK_OFF(struct vmbus_channel_initiate_contact, monitor_page1, 24);
VMB_CHECK_OFF(struct vmbus_channel_initiate_contact, client_id, 40);
VMB_CHECK_SIZE(struct vmbus_channel_version_response, 40);
VMB_CHECK_OFF(struct vmbus_channel_version_response, msg_conn_id, 12);
VMB_CHECK_OFF(struct vmbus_channel_version_response, supported_features, 16);
VMB_CHECK_SIZE(struct vmbus_channel_open_reserved, 28);
VMB_CHECK_SIZE(struct vmbus_channel_close_reserved, 20);
VMB_CHECK_SIZE(struct vmbus_channel_close_reserved_response, 12);
VMB_CHECK_SIZE(struct vmbus_channel_tl_connect_request, 56);
VMB_CHECK_SIZE(struct vmbus_channel_tl_connect_result, 44);
VMB_CHECK_SIZE(struct vmbus_channel_modifychannel, 16);
VMB_CHECK_SIZE(struct vmbus_channel_modifychannel_response, 16);
VMB_CHECK_SIZE(struct vmbus_channel_modify_connection, 24);
VMB_CHECK_SIZE(struct vmbus_channel_modify_connection_response, 9);

/* GPADL message capacity (PROTOCOL.md 1.8). */
#define VMBUS_GPADL_HEADER_MAX_PFNS                                        \
	((VMBUS_MAX_MESSAGE_SIZE - sizeof(struct vmbus_channel_gpadl_header) - \
	  sizeof(struct vmbus_gpa_range)) /                                    \
	 8)
#define VMBUS_GPADL_BODY_MAX_PFNS                                          \
	((VMBUS_MAX_MESSAGE_SIZE - sizeof(struct vmbus_channel_gpadl_body)) / 8)
_Static_assert(VMBUS_GPADL_HEADER_MAX_PFNS == 26, "26 PFNs in a header");
_Static_assert(VMBUS_GPADL_BODY_MAX_PFNS == 28, "28 PFNs in a body");

/* Size of the pre-Win7 offer (ends before is_dedicated_interrupt). */
#define VMBUS_OFFER_SIZE_PRE_WIN7 190

#endif
