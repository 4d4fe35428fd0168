/*
 * Guest storage: storvsc (the synthetic SCSI VSC), a block API over the
 * LUNs it finds, and an export of block devices as files through FUSE.
 *
 * storvsc negotiates like Linux (newest protocol first), opens one
 * sub-channel per VP when the host supports multi-channel, discovers LUNs
 * with REPORT LUNS and rescans when the host says the bus changed. Data
 * travels as GPA-direct packets describing guest RAM; buffers from
 * vmb_blk_alloc_buf() go to the host as they are, others are bounced.
 */
#ifndef VMBUS_DEV_STORVSC_H
#define VMBUS_DEV_STORVSC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/guest.h"

struct vmb_stor_guest;
struct vmb_blk;

/* A LUN: controller (probe order), target and LUN number. */
struct vmb_blk_info {
	unsigned ctrl;
	uint8_t target, lun;
	uint64_t size;	     /* bytes */
	uint32_t block_size; /* logical block bytes */
};

struct vmb_stor_guest_config {
	/* A LUN appeared (added) or went away; runs on a storvsc thread that
	 * may block, never concurrently for one controller. May be NULL. */
	void (*lun_event)(void *arg, const struct vmb_blk_info *lun, bool added);
	void *arg;
	unsigned max_subchannels; /* cap on sub-channels; 0 = one per VP */
	/* Export every LUN as a file DIR/lun<N> (DIR/c<C>t<T>l<N> beyond controller 0,
	 * target 0) through FUSE; NULL = no export. */
	const char *fuse_dir;
};

/* Register the storvsc driver on a guest; free after vmb_guest_destroy(). */
int vmb_stor_guest_register(struct vmb_guest *g, const struct vmb_stor_guest_config *cfg,
			    struct vmb_stor_guest **out);
void vmb_stor_guest_free(struct vmb_stor_guest *sg);
/* Wait up to timeout_ms until at least n LUNs are known. */
int vmb_stor_guest_wait(struct vmb_stor_guest *sg, unsigned n, int timeout_ms);
/* Copy up to cap known LUNs to out; returns how many there are. */
unsigned vmb_stor_guest_luns(struct vmb_stor_guest *sg, struct vmb_blk_info *out, unsigned cap);
/* Rescan every controller now (as on the host's bus-change notification). */
int vmb_stor_guest_rescan(struct vmb_stor_guest *sg);
/* Channels open on controller ctrl (primary + sub-channels), 0 if none. */
unsigned vmb_stor_guest_channels(struct vmb_stor_guest *sg, unsigned ctrl);

/* ---- block API ---- */

int vmb_blk_open(struct vmb_stor_guest *sg, unsigned ctrl, uint8_t target, uint8_t lun,
		 struct vmb_blk **out);
/* Waits for the caller's outstanding I/O to complete first. */
void vmb_blk_close(struct vmb_blk *b);
void vmb_blk_get_info(const struct vmb_blk *b, struct vmb_blk_info *out);

/* Guest RAM the host reads and writes directly (no bounce copy). */
void *vmb_blk_alloc_buf(struct vmb_blk *b, size_t bytes);
void vmb_blk_free_buf(struct vmb_blk *b, void *buf, size_t bytes);

enum vmb_blk_op {
	VMB_BLK_READ,
	VMB_BLK_WRITE,
	VMB_BLK_FLUSH,	 /* SYNCHRONIZE CACHE: earlier completed writes are durable */
	VMB_BLK_DISCARD, /* UNMAP */
};

struct vmb_blk_io {
	enum vmb_blk_op op;
	uint64_t offset; /* bytes, block aligned */
	size_t len;	 /* bytes, block multiple (0 for FLUSH) */
	void *buf;	 /* READ/WRITE */
	/* 0 or -errno (-EIO media/SCSI error, -ENODEV LUN gone, -ECANCELED
	 * controller gone). Runs on a VP thread: it must not block, but it may
	 * submit again. */
	void (*done)(struct vmb_blk_io *io, int status);
	void *arg;
	/* storvsc's own */
	struct vmb_blk *blk_;
	int status_;
	unsigned pending_;
};

/*
 * Queue io. Waits while queue_depth requests of this LUN are in flight;
 * -EAGAIN instead when called from a VP thread (a completion callback).
 */
int vmb_blk_submit(struct vmb_blk *b, struct vmb_blk_io *io);
/* Requests of this LUN in flight at once; 0 = 128. */
void vmb_blk_set_queue_depth(struct vmb_blk *b, unsigned qd);

/* Synchronous wrappers; buf may be any memory. */
int vmb_blk_read(struct vmb_blk *b, uint64_t offset, void *buf, size_t len);
int vmb_blk_write(struct vmb_blk *b, uint64_t offset, const void *buf, size_t len);
int vmb_blk_flush(struct vmb_blk *b);
int vmb_blk_discard(struct vmb_blk *b, uint64_t offset, size_t len);

/* ---- FUSE export: block devices as files in one directory ---- */

struct vmb_fuse_export;

struct vmb_fuse_disk {
	uint64_t size;
	uint32_t block_size;
	/* Block-aligned I/O; return 0 or -errno. discard may be NULL; a
	 * discarded range must read back as zeros. */
	int (*read)(void *ctx, uint64_t off, void *buf, size_t len);
	int (*write)(void *ctx, uint64_t off, const void *buf, size_t len);
	int (*flush)(void *ctx);
	int (*discard)(void *ctx, uint64_t off, size_t len);
	void *ctx;
};

/* Mount an empty FUSE file system on dir (created if missing). -ENOTSUP without libfuse3. */
int vmb_fuse_export_start(const char *dir, struct vmb_fuse_export **out);
/* Publish dir/name; the disk is copied. */
int vmb_fuse_export_add(struct vmb_fuse_export *fx, const char *name,
			const struct vmb_fuse_disk *disk);
/* Unpublish dir/name; returns once no operation on it is running. */
int vmb_fuse_export_remove(struct vmb_fuse_export *fx, const char *name);
/* Unmount and free. */
void vmb_fuse_export_stop(struct vmb_fuse_export *fx);

#endif
