/*
 * The block API over storvsc LUNs: requests are split into SRBs of at most
 * the host's max_transfer_bytes (READ(16)/WRITE(16)), FLUSH is SYNCHRONIZE
 * CACHE(10) and DISCARD is UNMAP with one block descriptor per SRB.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/storage/storvsc_priv.h"

#define SCSI_READ16	 0x88
#define SCSI_WRITE16	 0x8A
#define SCSI_SYNC_CACHE	 0x35
#define SCSI_UNMAP	 0x42
#define UNMAP_PARAM_LEN	 24
#define UNMAP_MAX_BLOCKS (1u << 22)

/* One SRB of a request; the UNMAP parameter list must outlive the send. */
struct blk_piece {
	struct vmb_blk_io *io;
	uint8_t param[UNMAP_PARAM_LEN];
};

int vmb_blk_open(struct vmb_stor_guest *sg, unsigned ctrl, uint8_t target, uint8_t lun,
		 struct vmb_blk **out)
{
	struct vmb_blk *b = NULL;
	int rc = -ENODEV;

	pthread_mutex_lock(&sg->lock);
	for (unsigned i = 0; i < STOR_MAX_LUNS && rc == -ENODEV; i++) {
		struct stor_lun *l = &sg->luns[i];

		if (!l->present || l->info.ctrl != ctrl || l->info.target != target ||
		    l->info.lun != lun)
			continue;
		b = calloc(1, sizeof(*b));
		rc = b ? 0 : -ENOMEM;
		if (b) {
			b->sg = sg;
			b->c = l->c;
			b->info = l->info;
		}
	}
	pthread_mutex_unlock(&sg->lock);
	if (rc < 0)
		return rc;
	b->qd = STOR_DEFAULT_QD;
	pthread_mutex_init(&b->lock, NULL);
	pthread_cond_init(&b->cond, NULL);
	*out = b;
	return 0;
}

void vmb_blk_close(struct vmb_blk *b)
{
	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	while (b->inflight)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_mutex_unlock(&b->lock);
	pthread_mutex_destroy(&b->lock);
	pthread_cond_destroy(&b->cond);
	free(b);
}

void vmb_blk_get_info(const struct vmb_blk *b, struct vmb_blk_info *out)
{
	*out = b->info;
}

void vmb_blk_set_queue_depth(struct vmb_blk *b, unsigned qd)
{
	pthread_mutex_lock(&b->lock);
	b->qd = qd ? qd : STOR_DEFAULT_QD;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

void *vmb_blk_alloc_buf(struct vmb_blk *b, size_t bytes)
{
	struct vmb_stor_guest *sg = b->sg;
	size_t pages = (bytes + STOR_PAGE - 1) / STOR_PAGE;
	struct stor_dma *d = calloc(1, sizeof(*d));

	if (!d || !pages || !(d->pfns = calloc(pages, sizeof(uint64_t))) ||
	    !(d->va = vmb_guest_alloc_dma(sg->g, pages * STOR_PAGE, NULL)))
		goto fail;
	d->bytes = pages * STOR_PAGE;
	for (size_t i = 0; i < pages; i++)
		if (vmb_guest_va_to_pfn(sg->g, d->va + i * STOR_PAGE, &d->pfns[i]) < 0)
			goto fail;
	pthread_mutex_lock(&sg->lock);
	d->next = sg->dmas;
	sg->dmas = d;
	pthread_mutex_unlock(&sg->lock);
	return d->va;
fail:
	if (d && d->va)
		vmb_guest_free_dma(sg->g, d->va, pages * STOR_PAGE);
	if (d)
		free(d->pfns);
	free(d);
	return NULL;
}

void vmb_blk_free_buf(struct vmb_blk *b, void *buf, size_t bytes)
{
	struct vmb_stor_guest *sg = b->sg;
	struct stor_dma *d = NULL;

	(void)bytes;
	pthread_mutex_lock(&sg->lock);
	for (struct stor_dma **pp = &sg->dmas; *pp; pp = &(*pp)->next) {
		if ((*pp)->va == buf) {
			d = *pp;
			*pp = d->next;
			break;
		}
	}
	pthread_mutex_unlock(&sg->lock);
	if (!d)
		return;
	vmb_guest_free_dma(sg->g, d->va, d->bytes);
	free(d->pfns);
	free(d);
}

static void io_finish(struct vmb_blk_io *io)
{
	struct vmb_blk *b = io->blk_;

	pthread_mutex_lock(&b->lock);
	b->inflight--;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
	io->done(io, io->status_);
}

/* Drop n references of io; the last one completes it. */
static void io_put(struct vmb_blk_io *io, unsigned n, int status)
{
	int zero = 0;

	if (status < 0)
		__atomic_compare_exchange_n(&io->status_, &zero, status, false, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE);
	if (__atomic_sub_fetch(&io->pending_, n, __ATOMIC_ACQ_REL) == 0)
		io_finish(io);
}

static void piece_done(void *arg, int status, uint32_t xfer)
{
	struct blk_piece *p = arg;
	struct vmb_blk_io *io = p->io;

	(void)xfer;
	free(p);
	io_put(io, 1, status);
}

/* The SCSI command of piece [off, off+len) of io. */
static void build_cmd(struct vmb_blk *b, struct vmb_blk_io *io, struct blk_piece *p, uint64_t off,
		      size_t len, struct stor_cmd *cmd)
{
	uint64_t lba = off / b->info.block_size;
	uint32_t blocks = (uint32_t)(len / b->info.block_size);

	*cmd = (struct stor_cmd){.target = b->info.target,
				 .lun = b->info.lun,
				 .done = piece_done,
				 .arg = p,
				 .data_in = UNKNOWN_TYPE,
				 .cdb_len = 16};
	switch (io->op) {
	case VMB_BLK_READ:
	case VMB_BLK_WRITE:
		cmd->cdb[0] = io->op == VMB_BLK_READ ? SCSI_READ16 : SCSI_WRITE16;
		cmd->data_in = io->op == VMB_BLK_READ ? READ_TYPE : WRITE_TYPE;
		stor_put_be64(&cmd->cdb[2], lba);
		stor_put_be32(&cmd->cdb[10], blocks);
		cmd->buf = (uint8_t *)io->buf + (off - io->offset);
		cmd->len = (uint32_t)len;
		break;
	case VMB_BLK_FLUSH:
		cmd->cdb[0] = SCSI_SYNC_CACHE;
		cmd->cdb_len = 10;
		break;
	case VMB_BLK_DISCARD:
		cmd->cdb[0] = SCSI_UNMAP;
		cmd->cdb_len = 10;
		stor_put_be16(&cmd->cdb[7], UNMAP_PARAM_LEN);
		stor_put_be16(&p->param[0], UNMAP_PARAM_LEN - 2);
		stor_put_be16(&p->param[2], 16);
		stor_put_be64(&p->param[8], lba);
		stor_put_be32(&p->param[16], blocks);
		cmd->data_in = WRITE_TYPE;
		cmd->buf = p->param;
		cmd->len = UNMAP_PARAM_LEN;
		break;
	}
}

static size_t piece_max(const struct vmb_blk *b, enum vmb_blk_op op)
{
	if (op == VMB_BLK_DISCARD)
		return (size_t)UNMAP_MAX_BLOCKS * b->info.block_size;
	return b->c->max_transfer;
}

static int check_io(const struct vmb_blk *b, const struct vmb_blk_io *io)
{
	uint32_t bs = b->info.block_size;

	if (!io->done || io->op > VMB_BLK_DISCARD)
		return -EINVAL;
	if (io->op == VMB_BLK_FLUSH)
		return 0;
	if (!io->len || io->offset % bs || io->len % bs || io->offset > b->info.size ||
	    io->len > b->info.size - io->offset)
		return -EINVAL;
	if (io->op != VMB_BLK_DISCARD && !io->buf)
		return -EINVAL;
	return 0;
}

static int take_slot(struct vmb_blk *b)
{
	int rc = 0;

	pthread_mutex_lock(&b->lock);
	while (b->inflight >= b->qd && rc == 0) {
		if (stor_in_completion())
			rc = -EAGAIN;
		else
			pthread_cond_wait(&b->cond, &b->lock);
	}
	if (rc == 0)
		b->inflight++;
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static void drop_slot(struct vmb_blk *b)
{
	pthread_mutex_lock(&b->lock);
	b->inflight--;
	pthread_cond_broadcast(&b->cond);
	pthread_mutex_unlock(&b->lock);
}

int vmb_blk_submit(struct vmb_blk *b, struct vmb_blk_io *io)
{
	size_t max = piece_max(b, io->op), len = io->op == VMB_BLK_FLUSH ? 0 : io->len;
	unsigned n = len ? (unsigned)((len + max - 1) / max) : 1, sent = 0;
	int rc = check_io(b, io);

	if (rc == 0)
		rc = take_slot(b);
	if (rc < 0)
		return rc;
	io->blk_ = b;
	io->status_ = 0;
	/* One reference per piece plus ours, so no piece can finish io early. */
	io->pending_ = n + 1;
	for (uint64_t off = io->offset; sent < n; sent++, off += max) {
		struct blk_piece *p = calloc(1, sizeof(*p));
		struct stor_cmd cmd;
		size_t plen =
		    len && len - (off - io->offset) < max ? len - (off - io->offset) : max;

		rc = p ? 0 : -ENOMEM;
		if (p) {
			p->io = io;
			build_cmd(b, io, p, off, len ? plen : 0, &cmd);
			rc = stor_cmd_submit(b->c, &cmd);
			if (rc < 0)
				free(p);
		}
		if (rc < 0)
			break;
	}
	if (rc < 0 && sent == 0) {
		drop_slot(b);
		return rc;
	}
	io_put(io, n - sent + 1, rc);
	return 0;
}

struct sync_io {
	struct vmb_blk_io io;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void sync_done(struct vmb_blk_io *io, int status)
{
	struct sync_io *s = (struct sync_io *)io;

	(void)status;
	pthread_mutex_lock(&s->lock);
	s->done = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

static int blk_sync(struct vmb_blk *b, enum vmb_blk_op op, uint64_t off, void *buf, size_t len)
{
	struct sync_io s = {
	    .io = {.op = op, .offset = off, .len = len, .buf = buf, .done = sync_done},
	    .lock = PTHREAD_MUTEX_INITIALIZER,
	    .cond = PTHREAD_COND_INITIALIZER};
	int rc = stor_in_completion() ? -EDEADLK : vmb_blk_submit(b, &s.io);

	if (rc == 0) {
		pthread_mutex_lock(&s.lock);
		while (!s.done)
			pthread_cond_wait(&s.cond, &s.lock);
		pthread_mutex_unlock(&s.lock);
		rc = s.io.status_;
	}
	pthread_mutex_destroy(&s.lock);
	pthread_cond_destroy(&s.cond);
	return rc;
}

int vmb_blk_read(struct vmb_blk *b, uint64_t offset, void *buf, size_t len)
{
	return blk_sync(b, VMB_BLK_READ, offset, buf, len);
}

int vmb_blk_write(struct vmb_blk *b, uint64_t offset, const void *buf, size_t len)
{
	/* The buffer is only read (WRITE_TYPE): the cast never leads to a store. */
	return blk_sync(b, VMB_BLK_WRITE, offset, (void *)(uintptr_t)buf, len);
}

int vmb_blk_flush(struct vmb_blk *b)
{
	return blk_sync(b, VMB_BLK_FLUSH, 0, NULL, 0);
}

int vmb_blk_discard(struct vmb_blk *b, uint64_t offset, size_t len)
{
	return blk_sync(b, VMB_BLK_DISCARD, offset, NULL, len);
}
