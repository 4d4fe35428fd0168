/* KVP, guest side: the kernel's /dev/vmbus/hv_kvp as a daemon_fuse file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ic/daemon_fuse.h"
#include "dev/ic/kvp_daemon.h"

struct kvpd_fuse {
	struct kvpd *d;
	struct dfuse_file *file;
};

static int kf_open(void *ctx)
{
	return kvpd_open(ctx);
}

static int kf_write(void *ctx, const void *buf, size_t len)
{
	return kvpd_write(ctx, buf, len);
}

static long kf_take(void *ctx, void *buf, size_t cap)
{
	struct hv_kvp_msg m;
	int rc;

	if (cap < sizeof(m))
		return -EINVAL;
	rc = kvpd_take(ctx, &m);
	if (rc < 0)
		return rc;
	memcpy(buf, &m, sizeof(m));
	return (long)sizeof(m);
}

static bool kf_readable(void *ctx)
{
	return kvpd_readable(ctx);
}

static bool kf_attached(void *ctx)
{
	return kvpd_attached(ctx);
}

static void kf_release(void *ctx)
{
	kvpd_release(ctx);
}

static const struct dfuse_file_ops kf_ops = {
    .open = kf_open,
    .write = kf_write,
    .take = kf_take,
    .readable = kf_readable,
    .attached = kf_attached,
    .release = kf_release,
};

static void kf_wake(void *arg)
{
	struct kvpd_fuse *f = arg;

	dfuse_wake(f->file);
}

int kvpd_fuse_start(struct kvpd *d, struct vmb_guest *g, const char *dir, struct kvpd_fuse **out)
{
	struct dfuse_file_desc desc = {
	    .name = "hv_kvp",
	    .msg_max = sizeof(struct hv_kvp_msg),
	    .gone_note = "the pool files answer again",
	    .ops = &kf_ops,
	    .ctx = d,
	};
	struct kvpd_fuse *f = calloc(1, sizeof(*f));
	int rc;

	if (!f)
		return -ENOMEM;
	f->d = d;
	rc = dfuse_add(g, dir, &desc, &f->file);
	if (rc < 0) {
		free(f);
		return rc;
	}
	kvpd_set_wake(d, kf_wake, f);
	*out = f;
	return 0;
}

void kvpd_fuse_stop(struct kvpd_fuse *f)
{
	if (!f)
		return;
	kvpd_set_wake(f->d, NULL, NULL);
	dfuse_remove(f->file);
	free(f);
}
