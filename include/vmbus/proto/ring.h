/* Ring buffer and packet wire layouts, PROTOCOL.md section 3. */
#ifndef VMBUS_PROTO_RING_H
#define VMBUS_PROTO_RING_H

#include <stddef.h>
#include <stdint.h>

/* First page of every ring; the data area follows in the next page. */
struct vmbus_ring_header {
	volatile uint32_t write_index;     /* 0x00: producer */
	volatile uint32_t read_index;      /* 0x04: consumer */
	volatile uint32_t interrupt_mask;  /* 0x08: consumer */
	volatile uint32_t pending_send_sz; /* 0x0c: producer */
	uint32_t reserved1[12];            /* 0x10 */
	volatile uint32_t feature_bits;    /* 0x40: bit0 pending_send_sz */
	uint8_t reserved2[4096 - 0x44];
};
_Static_assert(sizeof(struct vmbus_ring_header) == 4096, "ring header page");
_Static_assert(offsetof(struct vmbus_ring_header, pending_send_sz) == 0x0c,
	       "pending_send_sz");
_Static_assert(offsetof(struct vmbus_ring_header, feature_bits) == 0x40,
	       "feature_bits");

#define VMBUS_RING_FEAT_PENDING_SEND_SZ 0x1u

enum vmbus_packet_type {
	VM_PKT_INVALID = 0x0,
	VM_PKT_SYNCH = 0x1,
	VM_PKT_ADD_XFER_PAGESET = 0x2,
	VM_PKT_RM_XFER_PAGESET = 0x3,
	VM_PKT_ESTABLISH_GPADL = 0x4,
	VM_PKT_TEARDOWN_GPADL = 0x5,
	VM_PKT_DATA_INBAND = 0x6,
	VM_PKT_DATA_USING_XFER_PAGES = 0x7,
	VM_PKT_DATA_USING_GPADL = 0x8,
	VM_PKT_DATA_USING_GPA_DIRECT = 0x9,
	VM_PKT_CANCEL_REQUEST = 0xa,
	VM_PKT_COMP = 0xb,
	VM_PKT_DATA_USING_ADDITIONAL_PKT = 0xc,
	VM_PKT_ADDITIONAL_DATA = 0xd,
};

#define VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED 0x1u

/* Every packet starts with this; lengths are in 8-byte units. */
struct vmpacket_descriptor {
	uint16_t type;
	uint16_t offset8; /* payload start, >= 2 */
	uint16_t len8;    /* whole packet without trailer, >= offset8 */
	uint16_t flags;
	uint64_t trans_id;
};
_Static_assert(sizeof(struct vmpacket_descriptor) == 16, "descriptor");

/* Written after every packet: high 32 bits = ring offset of its start. */
#define VMBUS_PKT_TRAILER_SIZE 8u
#define VMBUS_PKT_MAX_LEN8 0xffffu

/* One GPA range record as used by GPA-direct packets. */
struct vmbus_gpa_range_hdr {
	uint32_t byte_count;
	uint32_t byte_offset;
};
_Static_assert(sizeof(struct vmbus_gpa_range_hdr) == 8, "gpa range");

/* Header of a GPA-direct packet; ranges and then the payload follow. */
struct vmbus_gpa_direct_header {
	struct vmpacket_descriptor d;
	uint32_t reserved;
	uint32_t range_count;
};
_Static_assert(sizeof(struct vmbus_gpa_direct_header) == 24, "gpa direct");

/* Page-buffer entry (Linux hv_page_buffer) = a one-PFN range. */
struct vmbus_page_buffer {
	uint32_t len;
	uint32_t offset;
	uint64_t pfn;
};
_Static_assert(sizeof(struct vmbus_page_buffer) == 16, "page buffer");

#define VMBUS_MAX_PAGE_BUFFER_COUNT 32
#define VMBUS_MAX_MULTIPAGE_BUFFER_COUNT 32

/* Transfer-page packet header; {u32 byte_count, u32 byte_offset}[] follow. */
struct vmbus_xfer_page_header {
	struct vmpacket_descriptor d;
	uint16_t xfer_pageset_id;
	uint8_t sender_owns_set;
	uint8_t reserved;
	uint32_t range_cnt;
};
_Static_assert(sizeof(struct vmbus_xfer_page_header) == 24, "xfer page");

struct vmbus_xfer_page_range {
	uint32_t byte_count;
	uint32_t byte_offset;
};

/* Pipe framing for NAMED_PIPE_MODE channels (section 3.10). */
struct vmbus_pipe_hdr {
	uint32_t type;
	uint32_t size;
};
#define VMBUS_PIPE_TYPE_DATA 1

#endif
