/* storvsc internals: controllers, LUNs, SRB requests, DMA pools. */
#ifndef VMBUS_DEV_STORAGE_STORVSC_PRIV_H
#define VMBUS_DEV_STORAGE_STORVSC_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "vmbus/dev/storage_proto.h"
#include "vmbus/dev/storvsc.h"

#define STOR_MAX_CTRLS	  16
#define STOR_MAX_LUNS	  256
#define STOR_MAX_CHANS	  64
#define STOR_RING_BYTES	  (256u * 1024)
#define STOR_POOL_SLOTS	  64
#define STOR_CHAN_REQS	  200 /* in flight per channel (the channel has 256 ids) */
#define STOR_INIT_TIMEOUT 10000
#define STOR_SCSI_TIMEOUT 60
#define STOR_DEFAULT_QD	  128
#define STOR_PAGE	  4096u
/*
 * No receive polling on storvsc channels. The VP thread that takes a
 * completion usually issues the next request from it, which wakes the
 * host's loop thread; the scheduler tends to put that thread on the
 * waker's CPU, where a polling VP thread keeps it off the CPU for the
 * whole budget. Measured on 2 vCPUs (docs/PERFORMANCE.md, Storage): 4 KiB
 * reads at QD 1 took ~58 us of CPU per I/O with the default 20 us budget
 * and ~14 us without, with QD 32 unchanged.
 */
#define STOR_GUEST_POLL_NS 0

/* A buffer of guest RAM with its page numbers (bounce slot or user buffer). */
struct stor_dma {
	uint8_t *va;
	size_t bytes;
	uint64_t *pfns;
	struct stor_dma *next;
};

struct stor_ctrl {
	struct vmb_stor_guest *sg;
	struct vmb_device *dev;
	unsigned idx;
	uint16_t version;
	uint32_t pkt_size;     /* vstor_packet bytes for the negotiated version */
	uint32_t max_transfer; /* bytes per SRB */
	uint16_t max_sub;
	bool multi_channel;

	/* I/O holds it shared while it uses the channels; removal exclusively. */
	pthread_rwlock_t use;
	bool gone;
	struct vmb_channel *chans[STOR_MAX_CHANS]; /* [0] primary */
	_Atomic unsigned nchans;
	atomic_uint rr;

	/* SRB credits and bounce slots (lock/cond); rescan state (lock). */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned srbs, srb_limit;
	uint8_t *pool;
	uint64_t *pool_pfns; /* STOR_POOL_SLOTS * pages per slot */
	uint64_t slot_free;  /* bitmap */

	/* Rescan thread: woken by the host's bus-change packets. Its own
	 * condition: every completion broadcasts cond, and waking this thread
	 * for each of them cost a context switch per I/O. */
	pthread_cond_t rescan_cond;
	pthread_t rescan_thr;
	bool rescan_pending, rescan_stop, rescan_started;
};

struct stor_lun {
	struct vmb_blk_info info;
	bool present;
	bool discard; /* LBPME and LBPRZ: UNMAP reads back zeros */
	struct stor_ctrl *c;
	char fuse_name[32];
	struct vmb_blk *fuse_blk; /* the export's handle while exported */
};

struct vmb_stor_guest {
	struct vmb_driver drv;
	struct vmb_guest *g;
	struct vmb_stor_guest_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct stor_ctrl *ctrls[STOR_MAX_CTRLS]; /* kept until free: blk handles point here */
	unsigned nctrls;
	struct stor_lun luns[STOR_MAX_LUNS];
	struct stor_dma *dmas; /* user buffers from vmb_blk_alloc_buf */
	struct vmb_fuse_export *fx;
};

struct vmb_blk {
	struct vmb_stor_guest *sg;
	struct stor_ctrl *c;
	struct vmb_blk_info info;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned inflight, qd;
};

/* One SCSI command (storvsc.c builds them for discovery, blk.c for I/O). */
struct stor_cmd {
	uint8_t target, lun;
	uint8_t cdb[16];
	uint8_t cdb_len;
	uint8_t data_in; /* READ_TYPE / WRITE_TYPE / UNKNOWN_TYPE */
	void *buf;	 /* any memory; bounced unless in guest DMA memory */
	uint32_t len;
	/* 0 / -errno; *xfer = bytes the host transferred. On a VP thread. */
	void (*done)(void *arg, int status, uint32_t xfer);
	void *arg;
};

/* Queue a command; waits for credits unless on a VP thread (-EAGAIN). */
int stor_cmd_submit(struct stor_ctrl *c, const struct stor_cmd *cmd);
/* Run a command and wait for it; *xfer may be NULL. */
int stor_cmd_sync(struct stor_ctrl *c, struct stor_cmd *cmd, uint32_t *xfer);
/* Bounce pool of a controller. */
int stor_pool_init(struct stor_ctrl *c);
void stor_pool_fini(struct stor_ctrl *c);
/* Is the current thread running a storvsc completion (a VP thread)? */
bool stor_in_completion(void);
/* Channel drain-end callback: publishes the requests its completions issued. */
void stor_drain_end(void *arg, struct vmb_channel *ch);

/* LUN discovery (storvsc_scan.c). */
void stor_rescan(struct stor_ctrl *c);
void stor_forget_ctrl(struct stor_ctrl *c);
/* Known LUNs (sg->lock held); copies up to cap to out. */
unsigned vmb_stor_guest_luns_locked(struct vmb_stor_guest *sg, struct vmb_blk_info *out,
				    unsigned cap);

/* Export/unexport a LUN through the guest's FUSE export, if any. */
void stor_fuse_lun(struct vmb_stor_guest *sg, struct stor_lun *l, bool added);

void stor_put_be16(uint8_t *p, uint16_t v);
void stor_put_be32(uint8_t *p, uint32_t v);
void stor_put_be64(uint8_t *p, uint64_t v);
uint32_t stor_get_be32(const uint8_t *p);
uint64_t stor_get_be64(const uint8_t *p);

#endif
