/* Private state of a channel end, shared by the files of src/chan. */
#ifndef VMB_CHAN_IMPL_H
#define VMB_CHAN_IMPL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmbus/chan.h"
#include "vmbus/ring.h"

/* Bounded waits: short enough that a lost signal costs little, long enough
 * that a stuck peer is reported rather than waited on forever. */
#define VMB_CHAN_POLL_NS	 1000000L
#define VMB_CHAN_SEND_TIMEOUT_MS 30000

struct vmb_req_slot {
	uint32_t gen;
	bool busy;
	unsigned next_free;
	vmb_completion_fn fn;
	void *arg;
};

/* A packet drained with no handler set, kept for vmb_chan_recv(). */
struct vmb_backlog {
	struct vmb_backlog *next;
	struct vmpacket_descriptor desc;
	uint32_t len;
	uint64_t raw[]; /* len bytes, 8-aligned like the ring */
};

struct vmb_chan_counters {
	atomic_uint_fast64_t tx_packets, rx_packets, signals_sent, interrupts;
	atomic_uint_fast64_t needless_interrupts, tx_full;
};

struct vmb_channel {
	struct vmb_ring out, in;
	const struct vmb_chan_ops *ops;
	void *ops_ctx;
	uint32_t relid;
	uint32_t max_packet;
	bool copy_out;
	atomic_int error;
	atomic_bool closing;

	/* Sending: out ring, batching. */
	pthread_mutex_t tx_lock;
	pthread_cond_t tx_cv;
	unsigned batch_depth;
	bool batch_dirty;
	atomic_uint tx_waiters;

	/* Receiving: in ring, handler, buffers, backlog. */
	pthread_mutex_t rx_lock;
	atomic_bool rx_rerun;
	atomic_uint poll_ns; /* adaptive signalling budget, 0 = off */
	vmb_packet_fn handler;
	void *handler_arg;
	vmb_drain_fn drain_end;
	void *drain_end_arg;
	uint8_t *rxbuf;	  /* drain copy-out buffer */
	uint8_t *pollbuf; /* vmb_chan_recv() copy, valid until the next call */
	struct vmb_backlog *bl_head, *bl_tail, *bl_held;
	uint32_t bl_bytes;

	/* Transaction ids, synchronous waiters, destroy rendezvous. */
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct vmb_req_slot *slots;
	unsigned nslots, max_slots, free_head, in_flight, blocked;

	struct vmb_chan_counters st;
};

/*
 * Count one event on a counter whose updates a lock already serializes
 * (tx_packets: tx_lock, rx_packets: rx_lock): a plain add, not a locked
 * instruction per packet; vmb_chan_get_stats() still reads it untorn.
 */
static inline void vmb_chan_count(atomic_uint_fast64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

void vmb_chan_logf(struct vmb_channel *ch, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Enter the broken state with err (first caller logs and wins). */
void vmb_chan_fail_err(struct vmb_channel *ch, int err, const char *why);
void vmb_chan_signal_peer(struct vmb_channel *ch);
/* Absolute CLOCK_MONOTONIC time ns from now / whether it has passed. */
struct timespec vmb_chan_deadline(long long ns);
bool vmb_chan_expired(const struct timespec *t);

/* reqtable.c */
void vmb_req_init(struct vmb_channel *ch, unsigned n);
void vmb_req_fini(struct vmb_channel *ch);
int vmb_req_alloc(struct vmb_channel *ch, vmb_completion_fn fn, void *arg, uint64_t *id);
/* Remove id from the table; false if it is not outstanding. */
bool vmb_req_take(struct vmb_channel *ch, uint64_t id, vmb_completion_fn *fn, void **arg);
/* Complete every outstanding request with status (comp NULL). */
void vmb_req_cancel_all(struct vmb_channel *ch, int status);
void vmb_req_complete(struct vmb_channel *ch, const struct vmb_packet *pkt);

/* chan_recv.c */
/* Drain the in ring now unless another thread is at it; returns packets
 * handled, or -1 when the running drainer was asked to go again instead. */
int vmb_chan_run_rx(struct vmb_channel *ch);
/* Drop rx_lock, then honour a re-run request left meanwhile. */
void vmb_chan_rx_unlock(struct vmb_channel *ch);
void vmb_chan_rx_fini(struct vmb_channel *ch);

#endif
