/*
 * Guest runtime internals shared by the src/guest files.
 *
 * Locking: g->lock protects the client, the device list, the GPADL list,
 * the work queue and every field below marked (L). Client callbacks run
 * under it (from a VP thread or from an API call), so they only record
 * state, queue work and wake waiters. The outbound message FIFO has its
 * own lock so that posting never needs g->lock. The relid table is read
 * lock-free by VP threads.
 */
#ifndef VMB_GUEST_PRIV_H
#define VMB_GUEST_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/loglimit.h"
#include "vmbus/guest.h"

#define VMB_RELID_TABLE 2048
#define VMB_MAX_DRIVERS 64
/*
 * Workers for probe/remove: each mostly waits for the host, so several
 * devices come up at once. Items of one device still run one at a time,
 * in queue order.
 */
#define VMB_GUEST_WORKERS 8

struct vmb_guest;
struct vmb_device;
struct vmb_waiter;

#define VMB_GPADL_BUCKETS 1024u

enum vmb_gpadl_state {
	VMB_GPADL_CREATING,
	VMB_GPADL_CREATED,
	VMB_GPADL_FAILED,
	VMB_GPADL_TEARING,
	VMB_GPADL_TORNDOWN,
};

/* Guest memory shared with the host under one GPADL handle. */
struct vmb_gpadl {
	uint32_t handle;
	enum vmb_gpadl_state state; /* (L) */
	uint32_t status;	    /* (L) creation status */
	struct vmb_device *dev;	    /* owner, NULL for ring GPADLs */
	uint64_t *pfns;
	size_t npages;
	struct vmb_mapping map; /* gpadl_alloc buffers only */
	struct vmb_gpadl *next; /* (L) g->gpadls */
	struct vmb_gpadl **pprev; /* (L) the link to us in g->gpadls */
	struct vmb_gpadl *hnext; /* (L) g->gpadl_hash bucket */
};

/* One channel (primary or sub-channel) of a device. */
struct vmb_gchan {
	struct vmb_device *dev;
	struct vmb_client_channel *cc; /* (L) NULL once released/detached */
	uint32_t relid;
	uint16_t index;
	uint8_t monitor_id;
	bool rescinded; /* (L) */
	bool busy;	/* (L) an open or close is in progress */
	/* open state */
	struct vmb_channel *ch; /* (L) */
	struct vmb_gpadl *ring;
	struct vmb_mapping out_map, in_map;
	uint32_t signal_conn;
	uint32_t vp, vp_old; /* (L) vp_old differs while a retarget is in flight */
	bool open_done;	     /* (L) */
	uint32_t open_status;
	bool modify_done; /* (L) */
	int32_t modify_status;
	struct vmb_gchan *next; /* (L) dev->chans */
};

struct vmb_device {
	struct vmb_guest *g;
	struct vmb_client_offer offer;
	const struct vmb_driver *drv; /* (L) */
	bool bound;		      /* (L) probe succeeded */
	bool removing;		      /* (L) remove queued */
	bool in_work;		      /* (L) a worker runs an item of this device */
	void *priv;
	struct vmb_gchan *chans; /* (L) primary first */
	struct vmb_device *next; /* (L) g->devs */
};

enum vmb_work_type {
	VMB_WORK_PROBE,
	VMB_WORK_REMOVE,
	VMB_WORK_SUBCHAN,
	VMB_WORK_SUB_RESCIND,
	VMB_WORK_RELEASE,
};

struct vmb_work {
	enum vmb_work_type type;
	struct vmb_device *dev;
	struct vmb_gchan *gc;
	uint32_t relid;
	struct vmb_work *next;
};

/* Guest memory from vmb_guest_alloc_dma(). */
struct vmb_dma {
	struct vmb_mapping map;
	uint64_t *pfns;
	struct vmb_dma *next; /* (L) g->dmas */
};

struct vmb_outmsg {
	uint32_t conn_id;
	size_t len;
	uint8_t msg[VMBUS_MAX_MESSAGE_SIZE];
	struct vmb_outmsg *next;
};

struct vmb_guest {
	struct vmb_loglimit log; /* vmb_guest_log rate limit */
	struct vmb_guest_config cfg;
	int timeout_ms;
	struct vmb_guest_part *part;
	struct vmb_client *cli;
	struct vmb_trace *trace;

	pthread_mutex_t lock;
	pthread_cond_t cond;	    /* vmb_guest_run(), broadcast on every change */
	struct vmb_waiter *waiters; /* (L) in vmb_guest_wait_until() */

	_Atomic uint32_t version;
	_Atomic bool host_down;
	bool connected;	 /* (L) VERSION_RESPONSE settled */
	bool all_offers; /* (L) */
	bool unloaded;	 /* (L) */
	bool stopped;	 /* (L) vmb_guest_stop() */
	bool destroying; /* (L) */
	atomic_flag timer_logged;

	const struct vmb_driver *drivers[VMB_MAX_DRIVERS]; /* (L) */
	unsigned ndrivers;
	struct vmb_device *devs;  /* (L) */
	struct vmb_gpadl *gpadls; /* (L) */
	/* (L) the same GPADLs by handle: every GPADL_CREATED/TORNDOWN looks
	 * one up, and 1,000 open channels made a list walk per message */
	struct vmb_gpadl *gpadl_hash[VMB_GPADL_BUCKETS];
	struct vmb_dma *dmas;	  /* (L) */
	uint32_t vp_count;
	bool *vp_online; /* (L) */
	uint32_t rr;	 /* (L) round-robin cursor for high-speed channels */

	/* rescinded relids whose channel the VP thread shuts down after the message */
	uint64_t shutdown_pending[VMB_RELID_TABLE / 64]; /* (L) */
	bool any_shutdown;				 /* (L) */

	/* relid -> open channel, read by VP threads without the lock */
	_Atomic(struct vmb_channel *) relid_tab[VMB_RELID_TABLE];

	/* legacy (< 2.4) interrupt page: [0, 2048) H->G, [2048, 4096) G->H */
	uint64_t int_pfn;
	uint8_t *int_page;

	/* workers: probe, remove, sub-channel callbacks, relid release */
	pthread_t workers[VMB_GUEST_WORKERS];
	unsigned nworkers;
	pthread_cond_t wq_cond;
	struct vmb_work *wq_head, *wq_tail; /* (L) */
	bool wq_stop;			    /* (L) */

	/* poster: G->H control messages in order */
	pthread_t poster;
	bool poster_started;
	pthread_mutex_t pq_lock;
	pthread_cond_t pq_cond;
	struct vmb_outmsg *pq_head, *pq_tail;
	bool pq_stop;

	/* sysfs tree writer */
	pthread_t sysfs;
	bool sysfs_started;
	pthread_mutex_t sysfs_lock; /* taken before g->lock, never after */
	pthread_cond_t sysfs_cond;
	bool sysfs_dirty; /* (L) */
	bool sysfs_stop;  /* (L) */
};

/* The VP this thread runs (0..n-1), or -1 when not on a VP thread. */
extern _Thread_local int vmb_guest_cur_vp;

/* guest.c */
/* Wait on g->cond (g->lock held) until done(arg) or timeout/host loss. */
int vmb_guest_wait_until(struct vmb_guest *g, bool (*done)(void *), void *arg);
/* Something changed (g->lock held): wake the waiters whose condition holds. */
void vmb_guest_wake(struct vmb_guest *g);
bool vmb_guest_host_gone(const struct vmb_guest *g);

/* guest_ctl.c */
extern const struct vmb_guest_part_ops vmb_guest_part_ops;
extern const struct vmb_client_ops vmb_guest_client_ops;
void *vmb_guest_poster_main(void *arg);
void vmb_guest_poster_stop(struct vmb_guest *g);
void vmb_guest_signal_chan(struct vmb_guest *g, const struct vmb_gchan *gc);

/* guest_dev.c */
void vmb_guest_on_offer(struct vmb_guest *g, struct vmb_client_channel *cc);
void vmb_guest_on_rescind(struct vmb_guest *g, struct vmb_client_channel *cc);
void *vmb_guest_worker_main(void *arg);
void vmb_guest_remove_all(struct vmb_guest *g);
int vmb_guest_queue(struct vmb_guest *g, enum vmb_work_type type, struct vmb_device *dev,
		    struct vmb_gchan *gc, uint32_t relid);

/* guest_gpadl.c (g->lock held where _locked) */
struct vmb_gpadl *vmb_guest_gpadl_find(struct vmb_guest *g, uint32_t handle);
int vmb_gpadl_create_locked(struct vmb_guest *g, struct vmb_gchan *gc, struct vmb_gpadl *gp);
int vmb_gpadl_teardown_locked(struct vmb_guest *g, struct vmb_gchan *gc, struct vmb_gpadl *gp);
int vmb_gpadl_pages_alloc(struct vmb_guest *g, struct vmb_gpadl *gp, size_t npages);
void vmb_gpadl_pages_free(struct vmb_guest *g, struct vmb_gpadl *gp);
void vmb_guest_dev_gpadls_free(struct vmb_guest *g, struct vmb_device *dev);

/* guest_chan.c */
void vmb_guest_gchan_close(struct vmb_guest *g, struct vmb_gchan *gc);

/* guest_vp.c */
/* Wait until no VP thread is inside a channel interrupt it started earlier. */
void vmb_guest_grace(struct vmb_guest *g);
/* init_vp_index policy: VP 0 for slow devices, round-robin otherwise. */
uint32_t vmb_guest_pick_vp(const bool *online, uint32_t n, bool high_speed, uint32_t *rr);

/* guest_sysfs.c */
void *vmb_guest_sysfs_main(void *arg);
void vmb_guest_sysfs_kick(struct vmb_guest *g);
void vmb_guest_sysfs_remove_dev(struct vmb_guest *g, const struct vmb_device *dev);
/* "{xxxxxxxx-...}" */
void vmb_sysfs_guid_braced(const struct vmb_guid *id, char *buf, size_t len);
/* "vmbus:" + 32 hex digits of the wire bytes */
void vmb_sysfs_modalias(const struct vmb_guid *id, char *buf, size_t len);
/* Linux's channel state number for a client channel state. */
unsigned vmb_sysfs_state(enum vmb_cli_chan_state st, bool open);

#endif
