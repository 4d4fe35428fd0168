/* Each storvsc LUN as a file of the guest's FUSE export. */
#include <stdio.h>

#include "dev/storage/storvsc_priv.h"

static int lun_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	return vmb_blk_read(ctx, off, buf, len);
}

static int lun_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	return vmb_blk_write(ctx, off, buf, len);
}

static int lun_flush(void *ctx)
{
	return vmb_blk_flush(ctx);
}

static int lun_discard(void *ctx, uint64_t off, size_t len)
{
	return vmb_blk_discard(ctx, off, len);
}

static void lun_name(const struct vmb_blk_info *i, char *name, size_t cap)
{
	if (i->ctrl == 0 && i->target == 0)
		snprintf(name, cap, "lun%u", i->lun);
	else
		snprintf(name, cap, "c%ut%ul%u", i->ctrl, i->target, i->lun);
}

static void export_lun(struct vmb_stor_guest *sg, struct stor_lun *l)
{
	struct vmb_fuse_disk d = {
	    .size = l->info.size,
	    .block_size = l->info.block_size,
	    .read = lun_read,
	    .write = lun_write,
	    .flush = lun_flush,
	    .discard = l->discard ? lun_discard : NULL,
	};
	struct vmb_blk *b;
	int rc = vmb_blk_open(sg, l->info.ctrl, l->info.target, l->info.lun, &b);

	if (rc == 0) {
		d.ctx = b;
		lun_name(&l->info, l->fuse_name, sizeof(l->fuse_name));
		rc = vmb_fuse_export_add(sg->fx, l->fuse_name, &d);
		if (rc < 0)
			vmb_blk_close(b);
	}
	if (rc < 0) {
		vmb_guest_log(sg->g, "storvsc: cannot export LUN %u:%u:%u: %d", l->info.ctrl,
			      l->info.target, l->info.lun, rc);
		return;
	}
	pthread_mutex_lock(&sg->lock);
	l->fuse_blk = b;
	pthread_mutex_unlock(&sg->lock);
}

static void unexport_lun(struct vmb_stor_guest *sg, struct stor_lun *l)
{
	struct vmb_blk *b;

	pthread_mutex_lock(&sg->lock);
	b = l->fuse_blk;
	pthread_mutex_unlock(&sg->lock);
	if (!b)
		return;
	vmb_fuse_export_remove(sg->fx, l->fuse_name);
	vmb_blk_close(b);
	/* The slot can be reused only now that the export no longer uses it. */
	pthread_mutex_lock(&sg->lock);
	l->fuse_blk = NULL;
	pthread_mutex_unlock(&sg->lock);
}

void stor_fuse_lun(struct vmb_stor_guest *sg, struct stor_lun *l, bool added)
{
	if (!sg->fx)
		return;
	if (added)
		export_lun(sg, l);
	else
		unexport_lun(sg, l);
}
