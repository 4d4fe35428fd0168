/*
 * The simulated partition: what Hyper-V itself provides under VMBus, built
 * from ordinary Linux primitives so a host process and a guest process can
 * run on any Linux machine (DESIGN.md, "Processes and transport").
 *
 *  - guest RAM: a memfd, mapped whole by both processes;
 *  - per-VP SynIC: message page (SIMP) and event-flags page (SIEFP) that
 *    the guest places in its RAM with synthetic-MSR writes;
 *  - HvPostMessage: a request over a Unix SOCK_SEQPACKET socket into a
 *    bounded host queue (full = HV_STATUS_INSUFFICIENT_BUFFERS);
 *  - HvSignalEvent: one eventfd per connection id (like KVM's Hyper-V
 *    eventfds), handed to the guest on first use;
 *  - host -> guest: message written to the VP's SINT slot (pending flag +
 *    end-of-message handshake) or event flag set, then the VP's eventfd.
 *
 * This is the seam where a real VMM (KVM with Hyper-V enlightenments)
 * would plug in. It is the only layer that knows about fds and processes.
 */
#ifndef VMBUS_PARTITION_H
#define VMBUS_PARTITION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/proto/hv.h"

/* VPs per partition (each VP's eventfd travels in one SCM_RIGHTS message). */
#define VMB_PART_MAX_VPS 64

/* A guest page list mapped into one contiguous range of this process. */
struct vmb_mapping {
	void *addr;    /* first byte of the first page */
	size_t len;    /* bytes covered (including a ring's second view) */
	size_t npages; /* pages of the list */
	bool view;     /* contiguous pages: a view into the RAM mapping, and a
			* ring has no second view of its data */
};

/* ======================= host side =================================== */

struct vmb_host_part;

struct vmb_host_part_config {
	size_t ram_size; /* guest RAM bytes (page multiple) */
	unsigned vp_count;
	unsigned post_queue_depth; /* 0 = 16, Hyper-V's per-port depth */
	const char *socket_path;   /* a stale socket file there is replaced */
};

struct vmb_host_part_ops {
	/*
	 * A guest HvPostMessage taken off the queue (in order, from
	 * vmb_host_part_poll()). conn_id is the target connection id, vp the
	 * sender VP.
	 */
	void (*post)(void *ctx, uint32_t conn_id, uint32_t vp, uint32_t msg_type,
		     const void *payload, size_t len);
	/*
	 * A guest connected (hello done) / went away. guest_down runs before
	 * the partition frees the guest's state (SynIC, queues, ports) and
	 * replaces guest RAM with a fresh zeroed memfd; unmap its mappings here.
	 */
	void (*guest_up)(void *ctx);
	void (*guest_down)(void *ctx);
	void (*log)(void *ctx, const char *msg);
};

int vmb_host_part_create(const struct vmb_host_part_config *cfg,
			 const struct vmb_host_part_ops *ops, void *ctx,
			 struct vmb_host_part **out);
void vmb_host_part_destroy(struct vmb_host_part *h);

/*
 * Event loop step: wait up to timeout_ms for the socket, posted messages
 * and port eventfds, and dispatch them. Returns 0, or -errno.
 *
 * Every function of the host side is thread safe; callbacks run from
 * vmb_host_part_poll() without internal locks held, so they may call back
 * into the partition. A port removed from another thread than the poll
 * thread may see one last call already under way.
 */
int vmb_host_part_poll(struct vmb_host_part *h, int timeout_ms);
/* An fd that becomes readable when vmb_host_part_poll() has work (epoll). */
int vmb_host_part_fd(const struct vmb_host_part *h);

/*
 * Deliver a message to the guest's SINT slot on `vp` (queued while busy or
 * while the VP has no message page). -ENOTCONN without a guest, -EINVAL for
 * a bad vp/sint/type/len, -EAGAIN if the VP's backlog is at its hard limit.
 * vmb_host_part_poll() stops taking guest posts while any VP has more than
 * VMB_HOST_PART_BACKLOG_SOFT messages queued, so a guest that never frees
 * its slot is back-pressured instead of growing host memory.
 */
int vmb_host_part_send(struct vmb_host_part *h, uint32_t vp, uint32_t sint, uint32_t msg_type,
		       const void *payload, size_t len);
#define VMB_HOST_PART_BACKLOG_SOFT 64
#define VMB_HOST_PART_BACKLOG_MAX  1024
/* Messages queued for a VP because the guest has not freed the slot. */
unsigned vmb_host_part_backlog(const struct vmb_host_part *h, uint32_t vp);

/*
 * Set event flag `flag` of `sint` on `vp` and interrupt the VP if it was
 * clear. -ENOTCONN without a guest, -ENXIO if the VP has no event-flags page.
 */
int vmb_host_part_signal(struct vmb_host_part *h, uint32_t vp, uint32_t sint, uint32_t flag);

/*
 * Register a port: guest HvSignalEvent(conn_id) calls fn(arg) from
 * vmb_host_part_poll(). Removing stops the calls; the port's eventfd stays
 * for the rest of the guest connection (a guest caches it), so adding the
 * same conn_id again revives it. Ports belong to one guest connection and
 * are dropped after guest_down.
 */
int vmb_host_part_port_add(struct vmb_host_part *h, uint32_t conn_id, void (*fn)(void *arg),
			   void *arg);
void vmb_host_part_port_remove(struct vmb_host_part *h, uint32_t conn_id);

/* Guest RAM in this process: pointer to [gpa, gpa+len) or NULL if outside. */
void *vmb_host_part_gpa(const struct vmb_host_part *h, uint64_t gpa, size_t len);
uint64_t vmb_host_part_pages(const struct vmb_host_part *h);
unsigned vmb_host_part_vp_count(const struct vmb_host_part *h);

/*
 * Map a list of guest pages contiguously. Contiguous PFNs (the usual case)
 * cost nothing: m->view is set and addr points into guest RAM as
 * vmb_host_part_gpa() does. Other lists are mmaps of the memfd, one per
 * contiguous PFN run; with ring = true the list is one ring (page 0 the
 * header, pages 1..n-1 the data) and its data is mapped a second time
 * right after itself, so no copy wraps. A view has no second view: a
 * ring in a view is not double mapped (VMB_RING_DOUBLE_MAPPED unset).
 */
int vmb_host_part_map(struct vmb_host_part *h, const uint64_t *pfns, size_t n, bool ring,
		      struct vmb_mapping *m);
void vmb_host_part_unmap(struct vmb_host_part *h, struct vmb_mapping *m);
/* Mappings currently live (for leak tests). */
unsigned vmb_host_part_mapping_count(const struct vmb_host_part *h);

/*
 * Hand guest pages [first_pfn, first_pfn + count) back to the host: their
 * memory is freed (hole punched in the RAM memfd) and they read as zeros
 * in both processes. -EINVAL when the range leaves guest RAM.
 */
int vmb_host_part_discard(struct vmb_host_part *h, uint64_t first_pfn, uint64_t count);
/* Bytes of guest RAM currently backed by host memory. */
int vmb_host_part_resident(struct vmb_host_part *h, uint64_t *bytes);

/* Is a guest connected? */
bool vmb_host_part_guest_connected(const struct vmb_host_part *h);

struct vmb_host_part_stats {
	uint64_t posts, posts_refused; /* refused = queue full */
	uint64_t messages_sent, event_signals;
	uint64_t guest_signals; /* HvSignalEvent received */
};
void vmb_host_part_get_stats(const struct vmb_host_part *h, struct vmb_host_part_stats *st);

/* ======================= guest side ================================== */

struct vmb_guest_part;

struct vmb_guest_part_ops {
	/* Event flag `flag` (relid) was set on SINT2 of `vp`. Runs on VP thread vp. */
	void (*event)(void *ctx, uint32_t vp, uint32_t flag);
	/* A message arrived in a SINT slot of `vp` (already copied out, slot freed). */
	void (*message)(void *ctx, uint32_t vp, uint32_t sint, uint32_t msg_type,
			const void *payload, size_t len);
	/* The host went away: nothing more will arrive. */
	void (*host_down)(void *ctx);
	void (*log)(void *ctx, const char *msg);
};

/*
 * Connect to a host's socket, map guest RAM, and enable the SynIC on every
 * VP (SIMP/SIEFP pages allocated from guest RAM, MSR writes to the host).
 * VP threads start with vmb_guest_part_start().
 */
int vmb_guest_part_connect(const char *socket_path, const struct vmb_guest_part_ops *ops, void *ctx,
			   struct vmb_guest_part **out);
int vmb_guest_part_start(struct vmb_guest_part *g);
/* Stops the VP threads (not from a VP thread) and disconnects. */
void vmb_guest_part_destroy(struct vmb_guest_part *g);

unsigned vmb_guest_part_vp_count(const struct vmb_guest_part *g);
/* Guest RAM in this process. */
void *vmb_guest_part_gpa(const struct vmb_guest_part *g, uint64_t gpa, size_t len);
uint64_t vmb_guest_part_pages(const struct vmb_guest_part *g);

/*
 * Hypercalls; both return an HV_STATUS_* value, or a negative errno when the
 * host is unreachable (-ENOTCONN once it has gone, -ETIMEDOUT if it does
 * not answer). post retries HV_STATUS_INSUFFICIENT_BUFFERS with exponential
 * back-off (10 us .. 10 ms, about a second in all) before returning it.
 */
int vmb_guest_part_post(struct vmb_guest_part *g, uint32_t conn_id, uint32_t msg_type,
			const void *payload, size_t len);
int vmb_guest_part_signal(struct vmb_guest_part *g, uint32_t conn_id, uint16_t flag);

/* Write a synthetic MSR of `vp` (SIMP, SIEFP, SINTn, SCONTROL, ...). */
int vmb_guest_part_wrmsr(struct vmb_guest_part *g, uint32_t vp, uint32_t msr, uint64_t value);

/*
 * Guest physical page allocator over guest RAM (all pages but the SynIC
 * pages the partition keeps for itself). Pages come back zeroed; -ENOMEM
 * if fewer than npages are free.
 */
int vmb_guest_part_alloc(struct vmb_guest_part *g, size_t npages, uint64_t *pfns);
void vmb_guest_part_free(struct vmb_guest_part *g, const uint64_t *pfns, size_t npages);
/* Pages the allocator could hand out right now. */
uint64_t vmb_guest_part_free_pages(struct vmb_guest_part *g);

/*
 * Map a list of guest pages contiguously in the guest process, exactly as
 * vmb_host_part_map() does on the host (contiguous PFNs: a view, m->view).
 */
int vmb_guest_part_map(struct vmb_guest_part *g, const uint64_t *pfns, size_t n, bool ring,
		       struct vmb_mapping *m);
void vmb_guest_part_unmap(struct vmb_guest_part *g, struct vmb_mapping *m);

/*
 * Take a VP offline/online: an offline VP's thread stops taking
 * interrupts (they stay pending and are handled when it comes back). The
 * caller (the guest runtime) refuses if channels target it.
 */
int vmb_guest_part_vp_set_online(struct vmb_guest_part *g, uint32_t vp, bool online);

/* Run fn(arg) on VP thread `vp` soon (used to hand work to a VP). */
int vmb_guest_part_run_on(struct vmb_guest_part *g, uint32_t vp, void (*fn)(void *), void *arg);

#endif
