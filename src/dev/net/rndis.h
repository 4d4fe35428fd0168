/*
 * RNDIS and NVSP parsing and building, shared by netvsp (host) and netvsc
 * (guest). Pure functions over caller buffers: parsers take a private
 * snapshot (never shared memory) and return pointers into it.
 */
#ifndef VMB_DEV_NET_RNDIS_H
#define VMB_DEV_NET_RNDIS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/dev/net_proto.h"

/* ---- NVSP ---- */

/*
 * Copy an NVSP message of len bytes into *out (zero-padded to 40 bytes),
 * checking that it is long enough for its type's body. Unknown types are
 * accepted (the caller decides). -EBADMSG when short.
 */
int vmb_nvsp_parse(const void *buf, size_t len, struct nvsp_message *out);
/* NVSP message size for a negotiated version (7.1). */
size_t vmb_nvsp_msg_size(uint32_t version);
bool vmb_nvsp_version_known(uint32_t version);

/* ---- RNDIS ---- */

struct vmb_rndis_msg {
	uint32_t type;
	uint32_t len;	     /* msg_len, <= the buffer */
	const uint8_t *body; /* after the 8-byte header */
	uint32_t body_len;
};

/* One RNDIS message at the start of buf[0..len). */
int vmb_rndis_parse_hdr(const void *buf, size_t len, struct vmb_rndis_msg *m);

struct vmb_rndis_frame {
	const uint8_t *data;
	uint32_t len;
	bool has_csum;
	uint32_t csum_info;
	bool has_vlan;
	uint32_t vlan_info;
};

/* A PACKET message: the frame and the per-packet info we understand. */
int vmb_rndis_parse_packet(const struct vmb_rndis_msg *m, struct vmb_rndis_frame *f);

/* A control request (INIT, QUERY, SET, RESET, HALT, KEEPALIVE), host side. */
struct vmb_rndis_req {
	uint32_t type;
	uint32_t req_id; /* 0 for RESET and HALT */
	uint32_t oid;
	const uint8_t *info;
	uint32_t info_len;
	uint32_t major, minor, max_xfer_size; /* INIT */
};
int vmb_rndis_parse_request(const struct vmb_rndis_msg *m, struct vmb_rndis_req *r);

/* A completion (INIT_C, QUERY_C, SET_C, RESET_C, KEEPALIVE_C), guest side. */
struct vmb_rndis_resp {
	uint32_t type;
	uint32_t req_id; /* 0 for RESET_C */
	uint32_t status;
	const uint8_t *info; /* QUERY_C */
	uint32_t info_len;
	struct rndis_initialize_complete init; /* INIT_C */
};
int vmb_rndis_parse_response(const struct vmb_rndis_msg *m, struct vmb_rndis_resp *r);

/* INDICATE_STATUS: the status code (the buffer is validated, not returned). */
int vmb_rndis_parse_indicate(const struct vmb_rndis_msg *m, uint32_t *status);

/*
 * Build type + body + tail into buf (header filled in). Returns the message
 * length or -ENOSPC. Body offsets (info_buf_offset...) are the caller's.
 */
int vmb_rndis_build(void *buf, size_t cap, uint32_t type, const void *body, size_t body_len,
		    const void *tail, size_t tail_len);
/* QUERY or SET request with its info buffer. */
int vmb_rndis_build_query(void *buf, size_t cap, uint32_t type, uint32_t req_id, uint32_t oid,
			  const void *info, size_t info_len);
/* QUERY_C with its info buffer. */
int vmb_rndis_build_query_c(void *buf, size_t cap, uint32_t req_id, uint32_t status,
			    const void *info, size_t info_len);
/*
 * PACKET header for a frame of frame_len bytes that follows it directly
 * (no per-packet info). Returns the header size (RNDIS_PACKET_SIZE).
 */
size_t vmb_rndis_packet_hdr(void *buf, uint32_t frame_len);
/* Stretch a built message to len bytes: the padding before the next one in a batch. */
void vmb_rndis_set_len(void *buf, uint32_t len);

#endif
