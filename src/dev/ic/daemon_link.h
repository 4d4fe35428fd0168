/*
 * VSS and fcopy, guest side: the link between a driver and the Linux
 * daemon of its service (hv_vss_daemon, hv_fcopy_daemon) attached through
 * the kernel's device file (private).
 *
 * As in the kernel's hv_utils transport: one daemon at a time opens the
 * file and registers with a version message (answered with ours when it
 * asks for one); then each host transaction becomes one message for the
 * daemon, and the daemon's one answer becomes the host's status.
 */
#ifndef VMBUS_SRC_DEV_IC_DAEMON_LINK_H
#define VMBUS_SRC_DEV_IC_DAEMON_LINK_H

#include <stdbool.h>
#include <stddef.h>

#include "vmbus/dev/ic_services.h"

/* What differs between services: sizes and the three translations. */
struct dlink_service {
	const char *name; /* the device file: "hv_vss" */
	size_t body_max;  /* largest host body kept for the answer */
	size_t msg_max;	  /* largest message to the daemon */
	/* A registration: 0 and the handshake answer (*reply_len 0: none), or -EINVAL. */
	int (*reg)(const void *buf, size_t len, void *reply, size_t *reply_len);
	/* Host body -> message for the daemon: its length, or -errno. */
	long (*request)(const void *body, size_t len, void *msg, size_t cap);
	/* The daemon's answer: 0 and the host status (the body may be edited), or -EINVAL. */
	int (*answer)(const void *ans, size_t len, void *body, size_t body_len, uint32_t *status);
};

/* How an answer reaches the host: vmb_ic_guest_reply_body() but in tests. */
typedef int (*dlink_reply_fn)(struct vmb_ic_guest *ic, uint32_t status, const void *body,
			      uint32_t len);

struct dlink;

int dlink_create(const struct dlink_service *svc, dlink_reply_fn reply, struct dlink **out);
void dlink_destroy(struct dlink *l);

/*
 * Driver (VP thread, IC lock held): hand a host request to the daemon.
 * 0 = deferred (answered through reply), -ENOTCONN = no registered daemon,
 * other -errno from svc->request (nothing was sent).
 */
int dlink_submit(struct dlink *l, struct vmb_ic_guest *ic, const void *body, size_t len);
/* The channel of ic closes: forget its request and wait for an answer in flight. */
void dlink_detach(struct dlink *l, struct vmb_ic_guest *ic);
bool dlink_attached(struct dlink *l);

/* Device file: open (-EBUSY when open), write (1 = registered, 0, -EINVAL), read, release. */
int dlink_open(struct dlink *l);
int dlink_write(struct dlink *l, const void *buf, size_t len);
/* The next message for the daemon: its length, or -EAGAIN. */
long dlink_take(struct dlink *l, void *buf, size_t cap);
bool dlink_readable(struct dlink *l);
/* The daemon is gone: its request, if any, fails with E_FAIL to the host. */
void dlink_release(struct dlink *l);

/*
 * Present the link as DIR/<svc->name> (daemon_fuse.h). gone_note is logged
 * when the daemon goes; positional allows pread/pwrite. -ENOTSUP without FUSE.
 */
int dlink_fuse_start(struct dlink *l, struct vmb_guest *g, const char *dir, const char *gone_note,
		     bool positional);
void dlink_fuse_stop(struct dlink *l);

/* The two services (daemon_svc.c). */
extern const struct dlink_service dlink_vss;
extern const struct dlink_service dlink_fcopy;

#endif
