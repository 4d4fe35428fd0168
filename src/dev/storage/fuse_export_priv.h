/* FUSE export internals: the per-disk state and its byte-granular I/O. */
#ifndef VMBUS_DEV_STORAGE_FUSE_EXPORT_PRIV_H
#define VMBUS_DEV_STORAGE_FUSE_EXPORT_PRIV_H

#include <pthread.h>
#include <stdbool.h>
#include <sys/types.h>

#include "vmbus/dev/storvsc.h"

#define FX_MAX_DISKS 256
#define FX_NAME_MAX  63

struct fx_disk {
	char name[FX_NAME_MAX + 1];
	struct vmb_fuse_disk disk;
	uint64_t gen; /* bumped per add: stale inode numbers stop matching */
	bool present;
	unsigned refs; /* operations running on it */
	/* Writes that read-modify-write edge blocks hold it exclusively, others shared. */
	pthread_rwlock_t rmw;
	bool rmw_init;
};

struct vmb_fuse_export {
	struct fuse_session *se;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct fx_disk disks[FX_MAX_DISKS];
};

/* Byte-granular I/O over a block disk: bytes done (short at the end) or -errno. */
ssize_t vmb_fx_read(struct fx_disk *d, uint64_t off, void *buf, size_t len);
ssize_t vmb_fx_write(struct fx_disk *d, uint64_t off, const void *buf, size_t len);
/* Discard the whole blocks inside [off, off+len) and zero the partial edges. */
int vmb_fx_punch(struct fx_disk *d, uint64_t off, uint64_t len);

#endif
