/* Guest side of the simulated partition: state shared by its files (private). */
#ifndef VMB_PARTITION_GUEST_PRIV_H
#define VMB_PARTITION_GUEST_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmbus/partition.h"
#include "partition/part_priv.h"
#include "partition/wire.h"

struct vmb_guest_work {
	struct vmb_guest_work *next;
	void (*fn)(void *arg);
	void *arg;
};

struct vmb_guest_vp {
	struct vmb_guest_part *g;
	uint32_t index;
	int kick_fd; /* from the host */
	int wake_fd; /* run_on, online changes, stop */
	int epfd;
	bool inited;
	bool thread_started;
	pthread_t thread;
	struct hv_message_page *simp;
	uint64_t *siefp;

	pthread_mutex_t lock; /* guards the fields below */
	void (*ce_fn)(void *ctx, uint32_t vp, uint64_t expiration, uint64_t delivery);
	void *ce_ctx;
	void (*dt_fn)(void *ctx, uint32_t vp, uint32_t timer, uint32_t expiries);
	void *dt_ctx;
	struct vmb_guest_work *work;
	struct vmb_guest_work **work_tail;
	bool online;
	bool stopping;
	/* bumped by every VP loop pass (take_state): offline waits for it */
	uint64_t passes;
	pthread_cond_t passed;
};

struct vmb_guest_port {
	uint32_t conn_id;
	int efd;
};

struct vmb_guest_part {
	struct vmb_guest_part_ops ops;
	void *ctx;
	int sock;
	int memfd;
	uint8_t *ram;
	uint64_t ram_size;
	int host_gone; /* atomic */

	pthread_mutex_t rpc_lock; /* one request in flight */
	uint32_t seq;

	pthread_mutex_t port_lock;
	struct vmb_guest_port *ports;
	size_t nports, ports_cap;

	pthread_mutex_t mem_lock;
	struct vmb_palloc alloc;

	/* Reference TSC page (guest_clock.c); set once, before readers use it. */
	struct hv_ref_tsc_page *tsc_page;
	uint64_t tsc_hz;

	unsigned vp_count;
	struct vmb_guest_vp vps[];
};

#define vmb_glog(g, ...) vmb_part_log((g)->ops.log, (g)->ctx, __VA_ARGS__)

/*
 * One request/reply round trip: m is the request (type and body set), len
 * its length; on return m holds the reply. Returns the reply's HV status
 * or -errno (-ENOTCONN once the host is gone). A reply may carry at most
 * max_fds descriptors, stored in fds (*nfds of them).
 */
int vmb_guest_rpc(struct vmb_guest_part *g, struct vmb_wire_msg *m, size_t len, int *fds,
		  unsigned max_fds, unsigned *nfds);
/* Mark the host gone; returns true for the first caller only. */
bool vmb_gpart_host_gone(struct vmb_guest_part *g);

/*
 * guest_clock.c: hand a timer-0 expiry of `vp` to its clock-event handler.
 * Returns false if no handler takes it (it goes to ops->message).
 */
bool vmb_guest_clockevent_deliver(struct vmb_guest_vp *vp, const void *payload, size_t len);
/* The direct-timer expiries counted in a value read from the kick eventfd. */
void vmb_guest_direct_timer_deliver(struct vmb_guest_vp *vp, uint64_t kick);

/* guest_vp.c */
int vmb_guest_vp_init(struct vmb_guest_part *g, struct vmb_guest_vp *vp, uint32_t index);
void vmb_guest_vp_fini(struct vmb_guest_vp *vp);
int vmb_guest_vp_start(struct vmb_guest_vp *vp);
void vmb_guest_vp_stop(struct vmb_guest_vp *vp);

#endif
