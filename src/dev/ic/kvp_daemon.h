/*
 * KVP, guest side: the link between the KVP driver and a Linux
 * hv_kvp_daemon attached through the kernel's device file (private).
 *
 * One daemon at a time opens the file and registers (KVP_OP_REGISTER1 or
 * the legacy KVP_OP_REGISTER); it then reads the version message, and a
 * request per host transaction, and writes one answer for each.
 */
#ifndef VMBUS_SRC_DEV_IC_KVP_DAEMON_H
#define VMBUS_SRC_DEV_IC_KVP_DAEMON_H

#include <stdbool.h>

#include "vmbus/dev/ic_services.h"

/* How an answer reaches the host: vmb_ic_guest_reply_body() but in tests. */
typedef int (*kvpd_reply_fn)(struct vmb_ic_guest *ic, uint32_t status, const void *body,
			     uint32_t len);

struct kvpd;

int kvpd_create(kvpd_reply_fn reply, struct kvpd **out);
void kvpd_destroy(struct kvpd *d);
/* Called, without any lock of the link held, when a message waits for the daemon. */
void kvpd_set_wake(struct kvpd *d, void (*wake)(void *arg), void *arg);

/*
 * Driver (VP thread, IC lock held): hand a host request to the daemon.
 * 0 = deferred (the answer comes through reply), -ENOTCONN = no registered
 * daemon, -EOPNOTSUPP / -EBADMSG = answer it locally.
 */
int kvpd_submit(struct kvpd *d, struct vmb_ic_guest *ic, const void *body, size_t len);
/* The channel of ic closes: forget its request and wait for an answer in flight. */
void kvpd_detach(struct kvpd *d, struct vmb_ic_guest *ic);
bool kvpd_attached(struct kvpd *d);

/* Device file: open (-EBUSY when open), write, read, release. */
int kvpd_open(struct kvpd *d);
/*
 * A registration or an answer of sizeof(struct hv_kvp_msg) bytes: 1 when it
 * registered the daemon, 0 for an answer, -EINVAL.
 */
int kvpd_write(struct kvpd *d, const void *buf, size_t len);
/* The next message for the daemon: 0, or -EAGAIN when none waits. */
int kvpd_take(struct kvpd *d, struct hv_kvp_msg *out);
bool kvpd_readable(struct kvpd *d);
/* The daemon is gone: its request, if any, fails with E_FAIL to the host. */
void kvpd_release(struct kvpd *d);

/*
 * Present the link as DIR/hv_kvp (FUSE, direct I/O, poll): the path the
 * daemon opens is /dev/vmbus/hv_kvp, so DIR is bound there. -ENOTSUP
 * without libfuse3 or /dev/fuse.
 */
struct kvpd_fuse;
int kvpd_fuse_start(struct kvpd *d, struct vmb_guest *g, const char *dir, struct kvpd_fuse **out);
void kvpd_fuse_stop(struct kvpd_fuse *f);

#endif
