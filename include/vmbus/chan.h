/*
 * The channel API every device uses, on both ends.
 *
 * A vmb_channel is one end of an open channel: an outgoing ring it
 * produces into, an incoming ring it consumes from, and a way to signal
 * the peer. The host VSP and the guest VSC see the same API; only the
 * ops behind it differ (guest: HvSignalEvent; host: event flag + SINT).
 *
 * Threading: any number of threads may send concurrently (sends are
 * serialised per channel). Receiving happens either through the handler
 * (called from vmb_chan_interrupt(), which the partition calls when the
 * peer signals) or by polling vmb_chan_recv(); use one or the other.
 * Functions return 0 or -errno; once the peer corrupts a ring the channel
 * is broken (-EPROTO from then on), reported once through the log.
 */
#ifndef VMBUS_CHAN_H
#define VMBUS_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "vmbus/proto/ring.h"

struct vmb_channel;

struct vmb_chan_ops {
	/* Interrupt the peer for this channel. */
	void (*signal)(void *ctx);
	/* Local address of guest-physical [gpa, gpa+len), NULL if outside RAM.
	 * May be NULL (no guest memory: vmb_chan_gpa() always fails). */
	void *(*gpa)(void *ctx, uint64_t gpa, size_t len);
	/* One log line (no newline), may be NULL. */
	void (*log)(void *ctx, const char *msg);
};

struct vmb_chan_config {
	void *out_hdr, *out_data; /* ring this end writes */
	uint32_t out_size;
	void *in_hdr, *in_data; /* ring this end reads */
	uint32_t in_size;
	uint32_t ring_flags; /* VMB_RING_DOUBLE_MAPPED when data areas are */
	/* Snapshot every packet before validating it. Without it, handlers get
	 * packets in place in shared memory (except, in a ring that is not
	 * double mapped, a packet that wraps: that one is copied). */
	bool copy_out;
	uint32_t max_packet;   /* largest packet accepted; 0 = what the in ring holds */
	unsigned max_requests; /* transaction slots; 0 = 256 */
	uint32_t relid;	       /* for log lines */
	const struct vmb_chan_ops *ops;
	void *ops_ctx;
};

int vmb_chan_create(const struct vmb_chan_config *cfg, struct vmb_channel **out);
/* Outstanding requests complete with -ECANCELED. */
void vmb_chan_destroy(struct vmb_channel *ch);

uint32_t vmb_chan_relid(const struct vmb_channel *ch);
int vmb_chan_error(const struct vmb_channel *ch);
/*
 * The peer is gone (rescinded or closing): outstanding requests complete
 * with -ECANCELED now and every later send fails with -ECANCELED, without
 * the error log of vmb_chan_fail().
 */
void vmb_chan_shutdown(struct vmb_channel *ch);
/* Put the channel into the broken state (e.g. a device protocol violation). */
void vmb_chan_fail(struct vmb_channel *ch, const char *why);

/* ---- receiving ------------------------------------------------------- */

struct vmb_packet {
	uint16_t type; /* VM_PKT_DATA_INBAND, _GPA_DIRECT, _XFER_PAGES, _COMP */
	uint16_t flags;
	uint64_t trans_id;
	const void *ext; /* descriptor extension (GPA ranges, xfer ranges) */
	uint32_t ext_len;
	const void *data; /* payload */
	uint32_t len;
};

typedef void (*vmb_packet_fn)(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt);
/* comp is NULL when status < 0 (channel closed: -ECANCELED, broken: -EPROTO). */
typedef void (*vmb_completion_fn)(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp,
				  int status);

/*
 * Handlers and completion callbacks may send on the channel, but must not
 * call vmb_chan_set_handler(), vmb_chan_recv(), vmb_chan_request_sync() or
 * vmb_chan_ring_state() on it. Completions are only delivered to the
 * callback of the request that allocated their id; others are logged and
 * dropped.
 */
void vmb_chan_set_handler(struct vmb_channel *ch, vmb_packet_fn fn, void *arg);

/*
 * End of a drain: after vmb_chan_interrupt() has handed one or more
 * packets to the handler (or to completion callbacks), and before it polls
 * for more or unmasks. A device that queues work per packet submits it
 * here in one go (storage: one io_uring_enter() per drain, replies inside
 * one vmb_chan_batch_begin/end). Same thread and rules as the handler;
 * fn NULL turns it off.
 */
typedef void (*vmb_drain_fn)(void *arg, struct vmb_channel *ch);
void vmb_chan_set_drain_end(struct vmb_channel *ch, vmb_drain_fn fn, void *arg);

/*
 * The peer signalled: drain the incoming ring with its interrupt masked,
 * hand completions of our requests to their callbacks and everything else
 * to the handler, release consumed space (signalling a waiting producer),
 * and wake senders waiting for ring space.
 */
void vmb_chan_interrupt(struct vmb_channel *ch);

/*
 * Adaptive signalling: once the incoming ring looks empty,
 * vmb_chan_interrupt() keeps the interrupt masked and re-checks for up to
 * ns nanoseconds before unmasking, so a peer that keeps sending sees the
 * mask and does not signal (PROTOCOL.md 3.9 still holds either way). The
 * caller's thread spins meanwhile. The same budget bounds how long a
 * sender that finds its out ring full looks for space before it sets
 * pending_send_sz and sleeps. 0 turns both off; new channels start with
 * VMB_CHAN_POLL_DEFAULT_NS (docs/PERFORMANCE.md has the measurements).
 */
#define VMB_CHAN_POLL_DEFAULT_NS 20000
#define VMB_CHAN_POLL_MAX_NS	 1000000
void vmb_chan_set_poll(struct vmb_channel *ch, uint32_t ns);

/*
 * Poll mode: the next non-completion packet (always a private copy); data
 * valid until the next call. -EAGAIN when there is none. With no handler
 * set, packets drained by vmb_chan_interrupt() or by a waiting
 * vmb_chan_request_sync() are kept (up to one ring's worth) for this call.
 */
int vmb_chan_recv(struct vmb_channel *ch, struct vmb_packet *pkt);

/* ---- GPA ranges (GPA-direct packets) -------------------------------- */

struct vmb_gpa_range {
	uint32_t len;	 /* byte_count */
	uint32_t offset; /* byte_offset into the first page, < 4096 */
	uint32_t pfn_count;
	const uint64_t *pfns;
};

struct vmb_range_iter {
	const uint8_t *p;
	uint32_t left;
	uint32_t count;
};

/* Iterate the ranges of a GPA-direct packet, validating each record. */
int vmb_range_iter_init(struct vmb_range_iter *it, const struct vmb_packet *pkt);
/* 1 = got one, 0 = done, -EBADMSG = malformed. */
int vmb_range_next(struct vmb_range_iter *it, struct vmb_gpa_range *out);

/* Local address of guest-physical memory, NULL when outside guest RAM. */
void *vmb_chan_gpa(struct vmb_channel *ch, uint64_t gpa, size_t len);

/* ---- sending --------------------------------------------------------- */

#define VMB_SEND_COMPLETION 0x1u /* set COMPLETION_REQUESTED */
#define VMB_SEND_NOWAIT	    0x2u /* -EAGAIN instead of waiting for space */

/* Limits of one send: caller iovecs and GPA ranges. */
#define VMB_CHAN_MAX_IOV    32
#define VMB_CHAN_MAX_RANGES 64

struct vmb_send {
	/* 0 = inband; VM_PKT_DATA_USING_GPA_DIRECT; VM_PKT_DATA_USING_XFER_PAGES;
	 * VM_PKT_COMP. GPA-direct and transfer-page packets always request a
	 * completion (as Linux and Hyper-V send them). */
	uint16_t type;
	const struct iovec *iov;
	unsigned iovcnt;
	const struct vmb_gpa_range *ranges; /* GPA direct only */
	unsigned nranges;
	uint64_t trans_id; /* ignored when done != NULL */
	uint32_t flags;
	vmb_completion_fn done; /* non-NULL: request with an allocated id */
	void *arg;
	/* Transfer pages only: ranges of the transfer page set. */
	uint16_t xfer_pageset_id;
	const struct vmbus_xfer_page_range *xfer;
	unsigned nxfer;
};

/* The general form; *trans_id (may be NULL) receives the id used. */
int vmb_chan_submit(struct vmb_channel *ch, const struct vmb_send *s, uint64_t *trans_id);
/*
 * Send s[0..n) in order as one batch: one lock, one commit, at most one
 * signal (plus what waiting for ring space needs). The cheap way to
 * stream small packets. Stops at the first packet that fails; returns
 * how many were sent, or -errno when the first one failed.
 */
int vmb_chan_submit_many(struct vmb_channel *ch, const struct vmb_send *s, unsigned n);

int vmb_chan_send(struct vmb_channel *ch, const void *buf, size_t len, uint64_t trans_id,
		  uint32_t flags);
/* Page-buffer send: n <= 32 single-page ranges. */
int vmb_chan_send_pagebuf(struct vmb_channel *ch, const struct vmbus_page_buffer *pb, unsigned n,
			  const void *buf, size_t len, uint64_t trans_id, uint32_t flags);
/* Multipage-buffer send: one or more multi-page ranges. */
int vmb_chan_send_mpb(struct vmb_channel *ch, const struct vmb_gpa_range *r, unsigned nranges,
		      const void *buf, size_t len, uint64_t trans_id, uint32_t flags);
int vmb_chan_complete(struct vmb_channel *ch, uint64_t trans_id, const void *buf, size_t len);
/* Send inband with an allocated transaction id; done runs on completion. */
int vmb_chan_request(struct vmb_channel *ch, const void *buf, size_t len, vmb_completion_fn done,
		     void *arg);
/*
 * Blocking request: wait up to timeout_ms for the completion and copy its
 * payload to resp (*resp_len = bytes copied, at most resp_cap); timeout_ms
 * < 0 waits without limit. Must not be called from this channel's own
 * handler or completion callbacks.
 */
int vmb_chan_request_sync(struct vmb_channel *ch, const void *buf, size_t len, void *resp,
			  size_t resp_cap, size_t *resp_len, int timeout_ms);

/* Batching: sends between begin and end are published with one signal. */
void vmb_chan_batch_begin(struct vmb_channel *ch);
int vmb_chan_batch_end(struct vmb_channel *ch);

struct vmb_chan_stats {
	uint64_t tx_packets, rx_packets;
	uint64_t signals_sent, interrupts;
	uint64_t needless_interrupts; /* interrupt found nothing new to do */
	uint64_t tx_full;	      /* sends that waited for space */
	unsigned requests_in_flight;
};
void vmb_chan_get_stats(const struct vmb_channel *ch, struct vmb_chan_stats *st);

/* Ring state for `vmbus ls -v`. */
struct vmb_ring_state {
	uint32_t write_index, read_index, interrupt_mask, pending_send_sz;
	uint32_t size, avail_read, avail_write;
};
void vmb_chan_ring_state(const struct vmb_channel *ch, struct vmb_ring_state *out,
			 struct vmb_ring_state *in);

#endif
