/* Hypervisor (TLFS) wire facts used by VMBus: SynIC pages and hypercalls. */
#ifndef VMBUS_PROTO_HV_H
#define VMBUS_PROTO_HV_H

#include <stddef.h>
#include <stdint.h>

#define HV_PAGE_SIZE 4096u
#define HV_PAGE_SHIFT 12

/* Hypercall status codes (PROTOCOL.md 2.5). */
enum {
	HV_STATUS_SUCCESS = 0,
	HV_STATUS_INVALID_HYPERCALL_CODE = 2,
	HV_STATUS_INVALID_HYPERCALL_INPUT = 3,
	HV_STATUS_INVALID_ALIGNMENT = 4,
	HV_STATUS_INVALID_PARAMETER = 5,
	HV_STATUS_ACCESS_DENIED = 6,
	HV_STATUS_OPERATION_DENIED = 8,
	HV_STATUS_INSUFFICIENT_MEMORY = 11,
	HV_STATUS_INVALID_PORT_ID = 17,
	HV_STATUS_INVALID_CONNECTION_ID = 18,
	HV_STATUS_INSUFFICIENT_BUFFERS = 19,
	HV_STATUS_NOT_ACKNOWLEDGED = 20,
	HV_STATUS_NO_DATA = 27,
	HV_STATUS_TIME_OUT = 120,
};

#define HVCALL_POST_MESSAGE 0x005c
#define HVCALL_SIGNAL_EVENT 0x005d

/* Synthetic MSRs (PROTOCOL.md 2.1). */
#define HV_X64_MSR_GUEST_OS_ID 0x40000000u
#define HV_X64_MSR_HYPERCALL 0x40000001u
#define HV_X64_MSR_VP_INDEX 0x40000002u
#define HV_X64_MSR_TIME_REF_COUNT 0x40000020u
#define HV_X64_MSR_REFERENCE_TSC 0x40000021u
#define HV_X64_MSR_TSC_FREQUENCY 0x40000022u
#define HV_X64_MSR_SCONTROL 0x40000080u
#define HV_X64_MSR_SVERSION 0x40000081u
#define HV_X64_MSR_SIEFP 0x40000082u
#define HV_X64_MSR_SIMP 0x40000083u
#define HV_X64_MSR_EOM 0x40000084u
#define HV_X64_MSR_SINT0 0x40000090u
#define HV_X64_MSR_STIMER0_CONFIG 0x400000b0u
#define HV_X64_MSR_STIMER0_COUNT 0x400000b1u
#define HV_X64_MSR_STIMER_CONFIG(n) (HV_X64_MSR_STIMER0_CONFIG + 2u * (n))
#define HV_X64_MSR_STIMER_COUNT(n) (HV_X64_MSR_STIMER0_COUNT + 2u * (n))

/* Synthetic timers (PROTOCOL.md 9.2): four per VP. */
#define HV_STIMER_COUNT 4
#define HV_STIMER_ENABLE (UINT64_C(1) << 0)
#define HV_STIMER_PERIODIC (UINT64_C(1) << 1)
#define HV_STIMER_LAZY (UINT64_C(1) << 2)
#define HV_STIMER_AUTO_ENABLE (UINT64_C(1) << 3)
#define HV_STIMER_APIC_VECTOR(c) (((c) >> 4) & 0xff)
#define HV_STIMER_DIRECT_MODE (UINT64_C(1) << 12)
#define HV_STIMER_SINTX(c) ((uint32_t)((c) >> 16) & 0xf)
#define HV_STIMER_CONFIG_MASK UINT64_C(0xf1fff)

/* REFERENCE_TSC MSR: bit 0 enable, bits 12-63 the page's GPA. */
#define HV_REF_TSC_ENABLE UINT64_C(1)

#define HV_SYNIC_SINT_COUNT 16
#define HV_MESSAGE_SIZE 256
#define HV_MESSAGE_PAYLOAD_SIZE 240
#define HV_EVENT_FLAGS_BYTES 256 /* per SINT: 2048 flag bits */
#define HV_EVENT_FLAGS_COUNT (HV_EVENT_FLAGS_BYTES * 8)

/* hv_message.message_type values. */
#define HVMSG_NONE 0x00000000u
#define HVMSG_VMBUS 0x00000001u
#define HVMSG_TIMER_EXPIRED 0x80000010u

#define HV_MESSAGE_FLAG_PENDING 0x01

/* One SynIC message slot (SIMP page = 16 of these, slot n for SINTn). */
struct hv_message_header {
	uint32_t message_type;
	uint8_t payload_size;
	uint8_t message_flags;
	uint16_t reserved;
	uint64_t sender; /* port id; guests ignore it */
};
_Static_assert(sizeof(struct hv_message_header) == 16, "hv_message_header");

struct hv_message {
	struct hv_message_header header;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};
_Static_assert(sizeof(struct hv_message) == HV_MESSAGE_SIZE, "hv_message");

struct hv_message_page {
	struct hv_message sint_message[HV_SYNIC_SINT_COUNT];
};
_Static_assert(sizeof(struct hv_message_page) == HV_PAGE_SIZE, "SIMP");

struct hv_event_flags_page {
	uint8_t flags[HV_SYNIC_SINT_COUNT][HV_EVENT_FLAGS_BYTES];
};
_Static_assert(sizeof(struct hv_event_flags_page) == HV_PAGE_SIZE, "SIEFP");

/* HvCallPostMessage input (256 bytes, 8-byte aligned). */
struct hv_input_post_message {
	uint32_t connection_id;
	uint32_t reserved;
	uint32_t message_type;
	uint32_t payload_size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};
_Static_assert(sizeof(struct hv_input_post_message) == 256, "post input");

/* HvCallSignalEvent fast input. */
struct hv_input_signal_event {
	uint32_t connection_id;
	uint16_t flag_number;
	uint16_t reserved;
};
_Static_assert(sizeof(struct hv_input_signal_event) == 8, "signal input");

/* Payload of an HVMSG_TIMER_EXPIRED message. */
struct hv_timer_message_payload {
	uint32_t timer_index;
	uint32_t reserved;
	uint64_t expiration_time;
	uint64_t delivery_time;
};
_Static_assert(sizeof(struct hv_timer_message_payload) == 24, "timer msg");

/*
 * Reference TSC page (PROTOCOL.md 9.1): reference time in 100 ns units =
 * ((tsc * tsc_scale) >> 64) + tsc_offset with a 128-bit product. Sequence 0
 * means "invalid: read TIME_REF_COUNT instead".
 */
struct hv_ref_tsc_page {
	uint32_t tsc_sequence;
	uint32_t reserved1;
	uint64_t tsc_scale;
	int64_t tsc_offset;
	uint64_t timeline_bias;
	uint64_t tsc_multiplier;
	uint64_t reserved2[507];
};
_Static_assert(sizeof(struct hv_ref_tsc_page) == HV_PAGE_SIZE, "reference TSC page");
_Static_assert(offsetof(struct hv_ref_tsc_page, tsc_scale) == 8, "tsc_scale");
_Static_assert(offsetof(struct hv_ref_tsc_page, tsc_offset) == 16, "tsc_offset");

/* Connection ids: low 24 bits only. */
#define HV_CONNECTION_ID_MASK 0x00ffffffu

#endif
