/*
 * Storage VSP/VSC wire format (storvsp / storvsc), PROTOCOL.md section 6.
 *
 * Every request is an in-band or GPA-direct packet carrying a vstor_packet
 * with COMPLETION_REQUESTED; every answer is a COMP packet with the same
 * trans_id whose payload is a vstor_packet with operation COMPLETE_IO. The
 * host also sends unsolicited in-band packets with trans_id 0
 * (ENUMERATE_BUS = rescan, REMOVE_DEVICE, EVENT_NOTIFICATION).
 *
 * Names follow Linux storvsc so that a grep across projects finds them.
 */
#ifndef VMBUS_DEV_STORAGE_PROTO_H
#define VMBUS_DEV_STORAGE_PROTO_H

#include <stddef.h>
#include <stdint.h>

/* ---- versions (6.3) ---- */
#define VMSTOR_PROTO_VERSION(major, minor) ((uint16_t)(((major) << 8) | (minor)))
#define VMSTOR_PROTO_VERSION_WIN6	   VMSTOR_PROTO_VERSION(2, 0) /* WS2008 */
#define VMSTOR_PROTO_VERSION_WIN7	   VMSTOR_PROTO_VERSION(4, 2)
#define VMSTOR_PROTO_VERSION_WIN8	   VMSTOR_PROTO_VERSION(5, 1)
#define VMSTOR_PROTO_VERSION_WIN8_1	   VMSTOR_PROTO_VERSION(6, 0)
#define VMSTOR_PROTO_VERSION_WIN10	   VMSTOR_PROTO_VERSION(6, 2)
#define VMSTOR_PROTO_VERSION_CURRENT	   VMSTOR_PROTO_VERSION_WIN10

/* ---- operations (6.1) ---- */
enum vstor_packet_operation {
	VSTOR_OPERATION_COMPLETE_IO = 1,
	VSTOR_OPERATION_REMOVE_DEVICE = 2,
	VSTOR_OPERATION_EXECUTE_SRB = 3,
	VSTOR_OPERATION_RESET_LUN = 4,
	VSTOR_OPERATION_RESET_ADAPTER = 5,
	VSTOR_OPERATION_RESET_BUS = 6,
	VSTOR_OPERATION_BEGIN_INITIALIZATION = 7,
	VSTOR_OPERATION_END_INITIALIZATION = 8,
	VSTOR_OPERATION_QUERY_PROTOCOL_VERSION = 9,
	VSTOR_OPERATION_QUERY_PROPERTIES = 10,
	VSTOR_OPERATION_ENUMERATE_BUS = 11,
	VSTOR_OPERATION_FCHBA_DATA = 12,
	VSTOR_OPERATION_CREATE_SUB_CHANNELS = 13,
	VSTOR_OPERATION_EVENT_NOTIFICATION = 14,
	VSTOR_OPERATION_MAXIMUM = 14,
};

/* vstor_packet.flags: Linux sets it on requests, hosts send 0. */
#define REQUEST_COMPLETION_FLAG 0x1u

/* ---- NTSTATUS values in vstor_packet.status ---- */
#define VSTOR_STATUS_SUCCESS		  0x00000000u
#define VSTOR_STATUS_INVALID_PARAMETER	  0xC000000Du
#define VSTOR_STATUS_REVISION_MISMATCH	  0xC0000059u
#define VSTOR_STATUS_INVALID_DEVICE_STATE 0xC0000184u

/* ---- SRB status (vmscsi_request.srb_status, bits 0-5 + flags) ---- */
#define SRB_STATUS_PENDING	     0x00
#define SRB_STATUS_SUCCESS	     0x01
#define SRB_STATUS_ABORTED	     0x02
#define SRB_STATUS_ERROR	     0x04
#define SRB_STATUS_INVALID_REQUEST   0x06
#define SRB_STATUS_TIMEOUT	     0x09
#define SRB_STATUS_SELECTION_TIMEOUT 0x0A
#define SRB_STATUS_BUS_RESET	     0x0E
#define SRB_STATUS_DATA_OVERRUN	     0x12
#define SRB_STATUS_INVALID_LUN	     0x20
#define SRB_STATUS_INTERNAL_ERROR    0x30
#define SRB_STATUS_QUEUE_FROZEN	     0x40
#define SRB_STATUS_AUTOSENSE_VALID   0x80
#define SRB_STATUS(x)		     ((x)&0x3F)

/* ---- SRB flags (vmscsi_request.srb_flags) ---- */
#define SRB_FLAGS_QUEUE_ACTION_ENABLE	 0x00000002u
#define SRB_FLAGS_DISABLE_SYNCH_TRANSFER 0x00000008u
#define SRB_FLAGS_DISABLE_AUTOSENSE	 0x00000020u
#define SRB_FLAGS_DATA_IN		 0x00000040u
#define SRB_FLAGS_DATA_OUT		 0x00000080u
#define SRB_FLAGS_NO_DATA_TRANSFER	 0x00000000u

/* vmscsi_request.data_in */
#define WRITE_TYPE   0 /* data out: guest -> disk */
#define READ_TYPE    1 /* data in: disk -> guest */
#define UNKNOWN_TYPE 2 /* no data */

/* Linux untagged queue_tag, simple-tag queue_action. */
#define VMSCSI_QUEUE_TAG_UNTAGGED  0xFF
#define VMSCSI_QUEUE_ACTION_SIMPLE 0x20

#define STORVSC_MAX_CDB_SIZE		   16
#define STORVSC_SENSE_BUFFER_SIZE	   0x14 /* >= 5.1 */
#define STORVSC_SENSE_BUFFER_SIZE_PRE_WIN8 0x12
#define STORVSC_MAX_TARGETS		   2
#define STORVSC_MAX_LUNS_PER_TARGET	   255
#define STORVSC_MAX_CHANNELS		   8

/* ---- vmscsi_request (6.2), at vstor_packet offset 12 ---- */
struct vmscsi_request {
	uint16_t length; /* sizeof the request the sender uses */
	uint8_t srb_status;
	uint8_t scsi_status;
	uint8_t port_number; /* reserved to host */
	uint8_t path_id;
	uint8_t target_id;
	uint8_t lun;
	uint8_t cdb_length;
	uint8_t sense_info_length; /* request: buffer size; reply: valid bytes */
	uint8_t data_in;	   /* WRITE_TYPE / READ_TYPE / UNKNOWN_TYPE */
	uint8_t reserved;
	uint32_t data_transfer_length; /* request: buffer; reply: transferred */
	union {
		uint8_t cdb[STORVSC_MAX_CDB_SIZE];
		uint8_t sense_data[STORVSC_SENSE_BUFFER_SIZE];
	};
	/* Win8 (5.1) extension; pre-Win8 requests end here (0x24 bytes). */
	uint16_t reserve;
	uint8_t queue_tag;
	uint8_t queue_action;
	uint32_t srb_flags;
	uint32_t time_out_value;
	uint32_t queue_sort_key;
};
_Static_assert(sizeof(struct vmscsi_request) == 0x34, "vmscsi_request");
_Static_assert(offsetof(struct vmscsi_request, data_transfer_length) == 12, "dtl");
_Static_assert(offsetof(struct vmscsi_request, cdb) == 16, "cdb");
_Static_assert(offsetof(struct vmscsi_request, sense_data) == 16, "sense");
_Static_assert(offsetof(struct vmscsi_request, reserve) == 36, "win8 ext");
_Static_assert(offsetof(struct vmscsi_request, srb_flags) == 40, "srb_flags");
_Static_assert(offsetof(struct vmscsi_request, queue_sort_key) == 48, "sort key");

#define VMSCSI_REQUEST_SIZE_WIN8     0x34
#define VMSCSI_REQUEST_SIZE_PRE_WIN8 0x24

/* ---- other payloads ---- */

/* QUERY_PROPERTIES reply. FreeBSD calls bytes 0-3 proto_ver/path/target. */
struct vmstorage_channel_properties {
	uint32_t reserved;
	uint16_t max_channel_cnt; /* sub-channels the host will offer */
	uint16_t reserved1;
	uint32_t flags;
	uint32_t max_transfer_bytes;
	uint32_t reserved2[2]; /* a u64 on the wire; kept 4-aligned here */
};
_Static_assert(sizeof(struct vmstorage_channel_properties) == 24, "props");
_Static_assert(offsetof(struct vmstorage_channel_properties, max_transfer_bytes) == 12, "mtb");

#define STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL 0x1u

/* QUERY_PROTOCOL_VERSION */
struct vmstorage_protocol_version {
	uint16_t major_minor; /* VMSTOR_PROTO_VERSION() */
	uint16_t revision;    /* 0 */
};
_Static_assert(sizeof(struct vmstorage_protocol_version) == 4, "version");

/* FCHBA_DATA */
struct hv_fc_wwn_packet {
	uint8_t primary_active;
	uint8_t reserved1[3];
	uint8_t primary_port_wwn[8];
	uint8_t primary_node_wwn[8];
	uint8_t secondary_port_wwn[8];
	uint8_t secondary_node_wwn[8];
};
_Static_assert(sizeof(struct hv_fc_wwn_packet) == 36, "wwn");

/* EVENT_NOTIFICATION (host -> guest, >= 6.0) */
struct vstor_event_notification {
	uint8_t lun;
	uint8_t target;
	uint8_t path;
	uint8_t flags;
};
_Static_assert(sizeof(struct vstor_event_notification) == 4, "event");

/* ---- vstor_packet (6.1) ---- */
struct vstor_packet {
	uint32_t operation; /* enum vstor_packet_operation */
	uint32_t flags;	    /* REQUEST_COMPLETION_FLAG */
	uint32_t status;    /* NTSTATUS from the host */
	union {
		struct vmscsi_request vm_srb;
		struct vmstorage_channel_properties storage_channel_properties;
		struct vmstorage_protocol_version version;
		struct hv_fc_wwn_packet wwn_packet;
		struct vstor_event_notification event;
		uint16_t sub_channel_count; /* CREATE_SUB_CHANNELS */
		uint8_t buffer[0x34];
	};
};
_Static_assert(sizeof(struct vstor_packet) == 0x40, "vstor_packet");
_Static_assert(offsetof(struct vstor_packet, vm_srb) == 12, "vm_srb");

/* Packet size per protocol: 0x40 for >= 5.1 (Win8), 0x30 before. */
#define VSTOR_PACKET_SIZE_WIN8	   0x40
#define VSTOR_PACKET_SIZE_PRE_WIN8 0x30
/* Minimum bytes a peer must send for the header fields to be present. */
#define VSTOR_PACKET_HDR_SIZE 12

static inline uint32_t vstor_packet_size(uint16_t version)
{
	return version >= VMSTOR_PROTO_VERSION_WIN8 ? VSTOR_PACKET_SIZE_WIN8
						    : VSTOR_PACKET_SIZE_PRE_WIN8;
}

static inline uint8_t vstor_sense_buffer_size(uint16_t version)
{
	return version >= VMSTOR_PROTO_VERSION_WIN8 ? STORVSC_SENSE_BUFFER_SIZE
						    : STORVSC_SENSE_BUFFER_SIZE_PRE_WIN8;
}

/* Largest transfer one EXECUTE_SRB may carry (as OpenVMM advertises). */
#define VSTOR_MAX_TRANSFER_BYTES 0x40000u

/* OPENCHANNEL user data storvsc sends (zeroed channel properties). */
#define VSTOR_OPEN_USERDATA_SIZE 24

#endif
