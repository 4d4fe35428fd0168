/*
 * The guest <-> host socket protocol of the simulated partition (private).
 *
 * One SOCK_SEQPACKET datagram per request or reply: a 16-byte header and a
 * body whose length is fixed per type (POST: 16 bytes + payload). The guest
 * has at most one request in flight; the host answers every request with
 * the same type | VMB_WIRE_REPLY, the same seq and an HV_STATUS_* value.
 * File descriptors travel as SCM_RIGHTS on the HELLO and GET_PORT replies.
 */
#ifndef VMB_PARTITION_WIRE_H
#define VMB_PARTITION_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "vmbus/proto/hv.h"

#define VMB_WIRE_VERSION 1
#define VMB_WIRE_REPLY	 0x80000000u
/* memfd + one eventfd per VP; stays below the kernel's SCM_MAX_FD. */
#define VMB_WIRE_MAX_FDS (1 + VMB_PART_MAX_VPS)

enum {
	VMB_WIRE_HELLO = 1,
	VMB_WIRE_POST = 2,
	VMB_WIRE_WRMSR = 3,
	VMB_WIRE_GET_PORT = 4,
	VMB_WIRE_RDMSR = 5,
};

struct vmb_wire_hdr {
	uint32_t type;
	uint32_t seq;
	uint32_t status; /* replies: HV_STATUS_*; requests: 0 */
	uint32_t reserved;
};

struct vmb_wire_hello {
	uint32_t version;
	uint32_t reserved;
};

/* Sent with SCM_RIGHTS: memfd, then the kick eventfd of VP 0..vp_count-1. */
struct vmb_wire_hello_reply {
	uint32_t version;
	uint32_t vp_count;
	uint64_t ram_size;
};

struct vmb_wire_post {
	uint32_t conn_id;
	uint32_t vp;
	uint32_t msg_type;
	uint32_t size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};
#define VMB_WIRE_POST_FIXED offsetof(struct vmb_wire_post, payload)

struct vmb_wire_wrmsr {
	uint32_t vp;
	uint32_t msr;
	uint64_t value;
};

/* Request and (successful) reply: the reply carries the value. */
struct vmb_wire_rdmsr {
	uint32_t vp;
	uint32_t msr;
	uint64_t value;
};

/* The reply carries the port's eventfd on success. */
struct vmb_wire_get_port {
	uint32_t conn_id;
	uint32_t reserved;
};

struct vmb_wire_msg {
	struct vmb_wire_hdr hdr;
	union {
		struct vmb_wire_hello hello;
		struct vmb_wire_hello_reply hello_reply;
		struct vmb_wire_post post;
		struct vmb_wire_wrmsr wrmsr;
		struct vmb_wire_get_port get_port;
		struct vmb_wire_rdmsr rdmsr;
	} u;
};

_Static_assert(sizeof(struct vmb_wire_hdr) == 16, "wire hdr");
_Static_assert(sizeof(struct vmb_wire_post) == 256, "wire post");
_Static_assert(sizeof(struct vmb_wire_hello_reply) == 16, "wire hello reply");

/*
 * Check a received datagram of len bytes: 0, -ENOSYS for an unknown request
 * type, -EBADMSG if the length does not match its type.
 */
int vmb_wire_check(const struct vmb_wire_msg *m, size_t len);

/* Send one datagram with nfds descriptors attached. 0 or -errno. */
int vmb_wire_send(int fd, const void *buf, size_t len, const int *fds, unsigned nfds);

/*
 * Receive one datagram. Returns its length, 0 on end of file, or -errno:
 * -EAGAIN (non-blocking, nothing there), -EBADMSG if the datagram was larger
 * than cap or carried more than max_fds descriptors (all of them closed).
 */
long vmb_wire_recv(int fd, void *buf, size_t cap, int *fds, unsigned max_fds, unsigned *nfds,
		   int flags);

void vmb_wire_close_fds(const int *fds, unsigned n);

#endif
