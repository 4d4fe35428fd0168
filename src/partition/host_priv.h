/* Host side of the simulated partition: state shared by its files (private). */
#ifndef VMB_PARTITION_HOST_PRIV_H
#define VMB_PARTITION_HOST_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmbus/partition.h"
#include "partition/part_priv.h"
#include "partition/wire.h"

/* epoll_event.data.u64 = tag | index. */
#define VMB_HTAG_LISTEN (UINT64_C(1) << 32)
#define VMB_HTAG_CONN	(UINT64_C(2) << 32)
#define VMB_HTAG_PORT	(UINT64_C(3) << 32)
#define VMB_HTAG_TIMER	(UINT64_C(4) << 32)
#define VMB_HTAG_MASK	(UINT64_C(0xffffffff) << 32)

#define VMB_SINT_MASKED (UINT64_C(1) << 16)

/* A host -> guest message waiting for its SINT slot. */
struct vmb_hmsg {
	struct vmb_hmsg *next;
	uint32_t msg_type;
	uint32_t size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};

struct vmb_hmsg_queue {
	struct vmb_hmsg *head;
	struct vmb_hmsg **tail;
};

/* A synthetic timer; deadline is reference time, valid while armed. */
struct vmb_host_stimer {
	uint64_t config;
	uint64_t count;
	uint64_t deadline;
	bool armed;
};

/* The partition clock: reference time = vmb_ref_time_calc(TSC, scale, offset). */
struct vmb_host_clock {
	uint64_t tsc_hz; /* measured at creation */
	uint64_t cur_hz; /* what scale assumes (clock_update) */
	uint64_t scale;
	int64_t offset;
	uint64_t ref_tsc_msr;
	struct hv_ref_tsc_page *page; /* guest RAM; NULL while disabled */
	uint32_t sequence;
};

struct vmb_host_vp {
	int kick_fd; /* eventfd: host -> guest interrupt */
	uint64_t scontrol;
	uint64_t sint[HV_SYNIC_SINT_COUNT];
	/* Into host's view of guest RAM; NULL while the guest has them disabled. */
	struct hv_message_page *simp;
	uint64_t *siefp;
	struct vmb_hmsg_queue q[HV_SYNIC_SINT_COUNT];
	unsigned backlog;
	struct vmb_host_stimer stimer[HV_STIMER_COUNT];
};

#define VMB_HOST_PORT_HASH_BITS 10
#define VMB_HOST_PORT_BUCKETS	(1u << VMB_HOST_PORT_HASH_BITS)

/* A guest HvSignalEvent target. */
struct vmb_host_port {
	uint32_t conn_id;
	uint32_t hash_next; /* index + 1 of the next port in the bucket, 0 ends */
	int efd;
	bool active;
	void (*fn)(void *arg);
	void *arg;
};

/* A guest HvPostMessage accepted into the queue. */
struct vmb_host_post {
	uint32_t conn_id;
	uint32_t vp;
	uint32_t msg_type;
	uint32_t size;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};

struct vmb_host_part {
	struct vmb_host_part_ops ops;
	void *ctx;
	char *socket_path;
	/* Guards everything below; never held across a callback. */
	pthread_mutex_t lock;
	int listen_fd;
	int conn_fd; /* -1: no guest */
	bool hello_done;
	int epfd;
	int memfd;
	uint8_t *ram;
	uint64_t ram_size;
	unsigned mappings;
	struct vmb_host_part_stats stats;

	struct vmb_host_post *posts; /* FIFO ring of post_depth */
	unsigned post_depth, post_head, post_count;

	struct vmb_host_port *ports;
	size_t nports, ports_cap;
	/* GET_PORT, port_add and port_remove find a port by connection id. */
	uint32_t port_hash[VMB_HOST_PORT_BUCKETS]; /* index + 1 of the first, 0 none */

	struct vmb_host_clock clock;
	int timer_fd; /* timerfd for the earliest armed synthetic timer */

	unsigned vp_count;
	struct vmb_host_vp vps[];
};

/* The lock also guards reads through const handles (accessors). */
static inline void vmb_hlock(const struct vmb_host_part *h)
{
	pthread_mutex_lock((pthread_mutex_t *)&h->lock);
}

static inline void vmb_hunlock(const struct vmb_host_part *h)
{
	pthread_mutex_unlock((pthread_mutex_t *)&h->lock);
}

#define vmb_hlog(h, ...) vmb_part_log((h)->ops.log, (h)->ctx, __VA_ARGS__)

/* host_synic.c (lock held) */
void vmb_host_synic_init(struct vmb_host_vp *vp);
void vmb_host_synic_reset(struct vmb_host_vp *vp);
int vmb_host_synic_wrmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t value);
bool vmb_host_synic_backlogged(const struct vmb_host_part *h);

/* Queue a message for a VP's SINT slot (vmb_host_part_send, lock held). */
int vmb_host_synic_post(struct vmb_host_part *h, uint32_t vp, uint32_t sint, uint32_t msg_type,
			const void *payload, size_t len);

/* host_clock.c */
void vmb_host_clock_init(struct vmb_host_clock *c);
uint64_t vmb_host_clock_now(const struct vmb_host_clock *c);
/* Forget the guest's page (guest gone; lock held). */
void vmb_host_clock_reset(struct vmb_host_clock *c);
/* Clock and timer MSRs (lock held): HV status, or -1 if msr is not theirs. */
int vmb_host_clock_wrmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t value);
int vmb_host_rdmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t *value);

/* host_stimer.c (lock held unless noted) */
bool vmb_host_stimer_msr(uint32_t msr);
int vmb_host_stimer_wrmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t value);
uint64_t vmb_host_stimer_rdmsr(const struct vmb_host_part *h, uint32_t vp, uint32_t msr);
void vmb_host_stimer_rearm(struct vmb_host_part *h);
/* The timerfd fired (lock not held). */
void vmb_host_stimer_expire(struct vmb_host_part *h);

/* host_ports.c (lock held) */
struct vmb_host_port *vmb_host_port_find(struct vmb_host_part *h, uint32_t conn_id);
void vmb_host_ports_reset(struct vmb_host_part *h);
/* Dispatch an eventfd wakeup of port index i (lock not held). */
void vmb_host_port_event(struct vmb_host_part *h, uint32_t i);

/* host_post.c */
int vmb_host_post_queue(struct vmb_host_part *h, const struct vmb_wire_post *p); /* lock held */
void vmb_host_post_drain(struct vmb_host_part *h);				 /* not held */

/* host_conn.c (lock not held) */
void vmb_host_conn_accept(struct vmb_host_part *h);
void vmb_host_conn_input(struct vmb_host_part *h);

#endif
