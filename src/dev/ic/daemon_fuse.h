/*
 * The kernel's /dev/vmbus/hv_{kvp,vss,fcopy} daemon device files, as FUSE
 * files (private). Every file opened with the same directory shares one
 * mount, as /dev/vmbus holds all three; the mount goes when its last file
 * is removed.
 *
 * A file carries whole messages: each write() is one message, each read()
 * blocks until one waits (poll() reports POLLIN then). The link behind a
 * file has its own lock; these callbacks are never called with a lock of
 * the mount held, except take/readable, which must not call back here.
 */
#ifndef VMBUS_SRC_DEV_IC_DAEMON_FUSE_H
#define VMBUS_SRC_DEV_IC_DAEMON_FUSE_H

#include <stdbool.h>
#include <stddef.h>

#include "vmbus/guest.h"

struct dfuse_file_ops {
	/* A daemon opens the file: 0 or -EBUSY (one opener at a time). */
	int (*open)(void *ctx);
	/* One message from the daemon: 1 = it registered, 0, or -errno. */
	int (*write)(void *ctx, const void *buf, size_t len);
	/* The next message into buf: its length, or -EAGAIN when none waits. */
	long (*take)(void *ctx, void *buf, size_t cap);
	bool (*readable)(void *ctx);
	bool (*attached)(void *ctx);
	/* The daemon closed the file (exit, crash or kill). */
	void (*release)(void *ctx);
};

struct dfuse_file_desc {
	const char *name;      /* "hv_kvp" */
	size_t msg_max;	       /* largest message a read returns */
	bool positional;       /* pread/pwrite allowed (hv_fcopy_daemon uses them) */
	const char *gone_note; /* logged when a registered daemon goes */
	const struct dfuse_file_ops *ops;
	void *ctx;
};

struct dfuse_file;

/* DIR/<desc->name>; -ENOTSUP without libfuse3 or /dev/fuse, -EEXIST. */
int dfuse_add(struct vmb_guest *g, const char *dir, const struct dfuse_file_desc *desc,
	      struct dfuse_file **out);
/* A message waits for the daemon: complete a blocked read, tell a poller. */
void dfuse_wake(struct dfuse_file *f);
/* Remove the file (waits for calls into its ops to return); NULL is fine. */
void dfuse_remove(struct dfuse_file *f);

#endif
