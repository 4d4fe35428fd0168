/*
 * One VMBus ring buffer over caller memory (PROTOCOL.md section 3).
 *
 * A ring is used by exactly one producer and one consumer, each in its own
 * address space or thread; either end may be hostile. The struct below is
 * the local, private view of one end; only the header page and the data
 * area are shared. Functions return 0 or a negative errno:
 *   -EAGAIN   ring full (producer) or empty (consumer)
 *   -EMSGSIZE packet can never fit / caller buffer too small
 *   -EPROTO   the peer corrupted the ring (indices or packet framing);
 *             sticky: every later call fails the same way
 *
 * Signalling follows Hyper-V exactly (section 3.9): vmb_ring_commit() says
 * whether the consumer must be interrupted (empty -> non-empty and not
 * masked) and vmb_ring_release() says whether the producer must be
 * interrupted (pending_send_sz crossed). The caller delivers the signal.
 */
#ifndef VMBUS_RING_H
#define VMBUS_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmbus/proto/ring.h"

/* vmb_ring_init() flags */
#define VMB_RING_DOUBLE_MAPPED 0x1u /* data[size .. 2*size) aliases data[0 .. size) */

struct vmb_ring_stats {
	uint64_t packets; /* written (producer) or read (consumer) */
	uint64_t bytes;	  /* ring bytes including descriptor, padding, trailer */
	uint64_t signals; /* times this end decided the peer must be signalled */
	uint64_t full;	  /* producer: writes refused for lack of space */
};

struct vmb_ring {
	struct vmbus_ring_header *hdr; /* shared */
	uint8_t *data;		       /* shared data area */
	uint32_t size;		       /* data area bytes */
	uint32_t flags;
	/* producer: packets in [hdr->write_index, wr) are written, not yet visible */
	uint32_t wr;
	/* consumer: packets in [hdr->read_index, rd) are consumed, not yet released */
	uint32_t rd;
	/* private copies of what this end last published; the peer may scribble
	 * over the header, so the index we own is never read back from it */
	uint32_t wr_pub;
	uint32_t rd_pub;
	/* the peer's index as last loaded and validated: the header line
	 * holding both indices is touched only when these run out */
	uint32_t ri_seen; /* producer */
	uint32_t wi_seen; /* consumer */
	int error;	  /* sticky -EPROTO once the peer corrupted the ring */
	const char *why;  /* static text naming the corruption, for one log line */
	struct vmb_ring_stats stats;
};

/*
 * Attach to a ring. hdr is the 4 KiB header page, data the data area of
 * data_size bytes (a non-zero multiple of 8; of the page size when double
 * mapped). The current indices are read and validated (-EPROTO if the
 * peer left them out of range), so both ends may attach at any time.
 */
int vmb_ring_init(struct vmb_ring *r, void *hdr, void *data, uint32_t data_size, uint32_t flags);

/* Zero a header page and advertise pending_send_sz support (ring owner). */
void vmb_ring_header_reset(void *hdr);

/* Largest payload+descriptor a single packet can have in this ring. */
uint32_t vmb_ring_max_packet(const struct vmb_ring *r);

/* ---- producer -------------------------------------------------------- */

/*
 * Append one packet made of the concatenated iovecs (the first must start
 * with a struct vmpacket_descriptor whose len8 matches the padded total),
 * zero padding to 8 bytes and the trailer. Not visible to the consumer
 * until vmb_ring_commit(). -EAGAIN when it does not fit now.
 */
int vmb_ring_write(struct vmb_ring *r, const struct iovec *iov, unsigned iovcnt);

/*
 * The same for the common case of a descriptor without extension
 * (d->offset8 == 2) followed by plen bytes of payload, stored in one step.
 */
int vmb_ring_write_inband(struct vmb_ring *r, const struct vmpacket_descriptor *d,
			  const void *payload, uint32_t plen);

/*
 * Publish all written packets with one index store. Returns 1 when the
 * consumer must be signalled, 0 when not, -EPROTO on a corrupt ring.
 */
int vmb_ring_commit(struct vmb_ring *r);

/*
 * Flow control: the producer needs `bytes` of packet space (without the
 * trailer). Sets pending_send_sz and re-checks; returns 0 when the space
 * is there now (pending cleared), -EAGAIN when the caller must wait for the
 * consumer's signal and retry.
 */
int vmb_ring_want_space(struct vmb_ring *r, uint32_t bytes);
void vmb_ring_clear_pending(struct vmb_ring *r);

/*
 * Largest packet (descriptor + payload, without the trailer) that fits
 * right now: free space minus the trailer and the 8 bytes that stay free.
 */
uint32_t vmb_ring_avail_write(const struct vmb_ring *r);

/* ---- consumer -------------------------------------------------------- */

/* A validated packet; desc is a private snapshot, data points at the packet. */
struct vmb_ring_pkt {
	struct vmpacket_descriptor desc;
	const uint8_t *data; /* start of the packet (descriptor included) */
	uint32_t len;	     /* desc.len8 * 8 */
};

/*
 * In-place read of the next packet (requires VMB_RING_DOUBLE_MAPPED or a
 * packet that does not wrap). The descriptor is snapshot and validated;
 * the bytes behind pkt->data stay in shared memory, so the caller must
 * snapshot anything it validates. Call vmb_ring_consume() when done.
 * -ERANGE when the packet wraps and the ring is not double mapped (use
 * vmb_ring_read() for that one).
 */
int vmb_ring_peek(struct vmb_ring *r, struct vmb_ring_pkt *pkt);
void vmb_ring_consume(struct vmb_ring *r, const struct vmb_ring_pkt *pkt);

/*
 * Copy-out read: copy the next packet into buf (cap bytes), then validate
 * the private copy. pkt->data points into buf. Consumes the packet.
 * -EMSGSIZE leaves the packet in the ring with pkt->len set to the size needed.
 */
int vmb_ring_read(struct vmb_ring *r, void *buf, size_t cap, struct vmb_ring_pkt *pkt);

/*
 * Publish the read index for everything consumed. Returns 1 when the
 * producer waits for space that is now free (signal it), 0 otherwise.
 */
int vmb_ring_release(struct vmb_ring *r);

/* Interrupt masking for batched draining. unmask returns true when data
 * arrived meanwhile (the caller must drain again). */
void vmb_ring_mask(struct vmb_ring *r);
bool vmb_ring_unmask(struct vmb_ring *r);

bool vmb_ring_empty(const struct vmb_ring *r);
uint32_t vmb_ring_avail_read(const struct vmb_ring *r);

#endif
