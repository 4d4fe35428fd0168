/*
 * storvsc I/O: one SCSI command = one EXECUTE_SRB request, in-band without
 * data, GPA-direct with one multi-page range describing the data buffer
 * otherwise. Buffers outside guest RAM go through a slot of the
 * controller's bounce pool. Requests are spread over the open channels.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/storage/storvsc_priv.h"

struct stor_req {
	struct stor_ctrl *c;
	struct stor_cmd cmd;
	int slot; /* bounce slot, -1 = none */
	struct vstor_packet pkt;
};

static _Thread_local bool in_completion;
/* The channel whose completion this thread is running, if any. */
static _Thread_local struct vmb_channel *completion_chan;
/* The channel whose drain this thread batches the new requests of. */
static _Thread_local struct vmb_channel *batch_chan;

/*
 * Requests issued from the completions of one drain (a queue refilling
 * itself) reach the host together: one commit, at most one signal, and
 * the host submits them to its disk with one system call.
 */
static void batch_open(struct vmb_channel *ch)
{
	if (batch_chan == ch)
		return;
	if (batch_chan)
		vmb_chan_batch_end(batch_chan);
	vmb_chan_batch_begin(ch);
	batch_chan = ch;
}

void stor_drain_end(void *arg, struct vmb_channel *ch)
{
	(void)arg;
	if (batch_chan == ch) {
		batch_chan = NULL;
		vmb_chan_batch_end(ch);
	}
}

bool stor_in_completion(void)
{
	return in_completion;
}

static uint32_t slot_pages(const struct stor_ctrl *c)
{
	return c->max_transfer / STOR_PAGE;
}

int stor_pool_init(struct stor_ctrl *c)
{
	struct vmb_guest *g = c->sg->g;
	size_t bytes = (size_t)STOR_POOL_SLOTS * c->max_transfer;
	size_t pages = bytes / STOR_PAGE;

	c->pool = vmb_guest_alloc_dma(g, bytes, NULL);
	c->pool_pfns = calloc(pages, sizeof(uint64_t));
	if (!c->pool || !c->pool_pfns) {
		stor_pool_fini(c);
		return -ENOMEM;
	}
	for (size_t i = 0; i < pages; i++) {
		int rc = vmb_guest_va_to_pfn(g, c->pool + i * STOR_PAGE, &c->pool_pfns[i]);

		if (rc < 0) {
			stor_pool_fini(c);
			return rc;
		}
	}
	c->slot_free = STOR_POOL_SLOTS >= 64 ? ~0ull : (1ull << STOR_POOL_SLOTS) - 1;
	return 0;
}

void stor_pool_fini(struct stor_ctrl *c)
{
	if (c->pool)
		vmb_guest_free_dma(c->sg->g, c->pool, (size_t)STOR_POOL_SLOTS * c->max_transfer);
	free(c->pool_pfns);
	c->pool = NULL;
	c->pool_pfns = NULL;
}

/* Page numbers behind a user buffer from vmb_blk_alloc_buf, or NULL. */
static const uint64_t *user_pfns(struct vmb_stor_guest *sg, const void *buf, size_t len)
{
	const uint8_t *p = buf;
	const uint64_t *pfns = NULL;

	pthread_mutex_lock(&sg->lock);
	for (struct stor_dma *d = sg->dmas; d && !pfns; d = d->next)
		if (p >= d->va && p + len <= d->va + d->bytes)
			pfns = d->pfns + (size_t)(p - d->va) / STOR_PAGE;
	pthread_mutex_unlock(&sg->lock);
	return pfns;
}

/* Take an SRB credit and, when bounce is set, a pool slot. */
static int get_credit(struct stor_ctrl *c, bool bounce, int *slot)
{
	int rc = 0;

	*slot = -1;
	pthread_mutex_lock(&c->lock);
	while (c->srbs >= c->srb_limit || (bounce && !c->slot_free)) {
		if (in_completion) {
			rc = -EAGAIN;
			break;
		}
		pthread_cond_wait(&c->cond, &c->lock);
	}
	if (rc == 0) {
		c->srbs++;
		if (bounce) {
			*slot = __builtin_ctzll(c->slot_free);
			c->slot_free &= ~(1ull << *slot);
		}
	}
	pthread_mutex_unlock(&c->lock);
	return rc;
}

static void put_credit(struct stor_ctrl *c, int slot)
{
	pthread_mutex_lock(&c->lock);
	c->srbs--;
	if (slot >= 0)
		c->slot_free |= 1ull << slot;
	pthread_cond_broadcast(&c->cond);
	pthread_mutex_unlock(&c->lock);
}

static void build_srb(struct stor_ctrl *c, const struct stor_cmd *cmd, struct vstor_packet *p)
{
	struct vmscsi_request *s = &p->vm_srb;

	memset(p, 0, sizeof(*p));
	p->operation = VSTOR_OPERATION_EXECUTE_SRB;
	p->flags = REQUEST_COMPLETION_FLAG;
	s->length = c->pkt_size == VSTOR_PACKET_SIZE_WIN8 ? VMSCSI_REQUEST_SIZE_WIN8
							  : VMSCSI_REQUEST_SIZE_PRE_WIN8;
	s->target_id = cmd->target;
	s->lun = cmd->lun;
	s->cdb_length = cmd->cdb_len;
	s->sense_info_length = vstor_sense_buffer_size(c->version);
	s->data_in = cmd->data_in;
	s->data_transfer_length = cmd->len;
	memcpy(s->cdb, cmd->cdb, cmd->cdb_len);
	s->queue_tag = VMSCSI_QUEUE_TAG_UNTAGGED;
	s->queue_action = VMSCSI_QUEUE_ACTION_SIMPLE;
	s->srb_flags = SRB_FLAGS_DISABLE_SYNCH_TRANSFER;
	if (cmd->len)
		s->srb_flags |= cmd->data_in == READ_TYPE ? SRB_FLAGS_DATA_IN : SRB_FLAGS_DATA_OUT;
	s->time_out_value = STOR_SCSI_TIMEOUT;
}

/* Map a completed SRB to 0 / -errno; *xfer = bytes the host moved. */
static int srb_result(struct stor_ctrl *c, const struct stor_req *r, const struct vmb_packet *comp,
		      uint32_t *xfer)
{
	struct vstor_packet p = {0};
	uint8_t srb;

	*xfer = 0;
	if (comp->len < VSTOR_PACKET_HDR_SIZE + VMSCSI_REQUEST_SIZE_PRE_WIN8) {
		vmb_guest_log(c->sg->g, "storvsc%u: short SRB completion (%u bytes)", c->idx,
			      comp->len);
		return -EIO;
	}
	memcpy(&p, comp->data, comp->len < sizeof(p) ? comp->len : sizeof(p));
	if (p.operation != VSTOR_OPERATION_COMPLETE_IO || p.status != VSTOR_STATUS_SUCCESS)
		return -EIO;
	if (p.vm_srb.data_transfer_length > r->cmd.len) {
		vmb_guest_log(c->sg->g, "storvsc%u: host claims %u bytes of a %u-byte buffer",
			      c->idx, p.vm_srb.data_transfer_length, r->cmd.len);
		return -EIO;
	}
	*xfer = p.vm_srb.data_transfer_length;
	srb = SRB_STATUS(p.vm_srb.srb_status);
	if (srb == SRB_STATUS_INVALID_LUN || srb == SRB_STATUS_SELECTION_TIMEOUT)
		return -ENODEV;
	if (srb == SRB_STATUS_DATA_OVERRUN && p.vm_srb.scsi_status == 0)
		return 0; /* underrun: *xfer says how much */
	if (srb != SRB_STATUS_SUCCESS || p.vm_srb.scsi_status != 0)
		return -EIO;
	return 0;
}

static void srb_done(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp, int status)
{
	struct stor_req *r = arg;
	struct stor_ctrl *c = r->c;
	uint32_t xfer = 0;

	in_completion = true;
	completion_chan = ch;
	/* Cancelled requests complete outside any drain: no batch then. */
	if (status == 0) {
		batch_open(ch);
		status = srb_result(c, r, comp, &xfer);
	}
	else if (status != -ECANCELED)
		status = -EIO;
	if (status == 0 && r->slot >= 0 && r->cmd.data_in == READ_TYPE)
		memcpy(r->cmd.buf, c->pool + (size_t)r->slot * c->max_transfer, xfer);
	put_credit(c, r->slot);
	r->cmd.done(r->cmd.arg, status, xfer);
	in_completion = false;
	completion_chan = NULL;
	free(r);
}

/*
 * Round-robin, except that a request issued from a completion goes back on
 * the channel that completed: the same VP thread then takes its completion
 * too, instead of a second VP thread waking (and polling) for it.
 */
static struct vmb_channel *pick_chan(struct stor_ctrl *c)
{
	unsigned n = atomic_load(&c->nchans);

	for (unsigned i = 0; completion_chan && i < n; i++)
		if (c->chans[i] == completion_chan)
			return completion_chan;
	return c->chans[atomic_fetch_add(&c->rr, 1) % n];
}

static int send_srb(struct stor_ctrl *c, struct stor_req *r, const uint64_t *pfns, const void *data)
{
	struct iovec iov = {&r->pkt, c->pkt_size};
	struct vmb_gpa_range range;
	struct vmb_send s = {.iov = &iov, .iovcnt = 1, .done = srb_done, .arg = r};
	struct vmb_channel *ch = pick_chan(c);

	if (r->cmd.len) {
		uint32_t off = (uint32_t)((uintptr_t)data % STOR_PAGE);

		range.len = r->cmd.len;
		range.offset = off;
		range.pfn_count = (off + r->cmd.len + STOR_PAGE - 1) / STOR_PAGE;
		range.pfns = pfns;
		s.type = VM_PKT_DATA_USING_GPA_DIRECT;
		s.ranges = &range;
		s.nranges = 1;
	} else {
		s.flags = VMB_SEND_COMPLETION;
	}
	return vmb_chan_submit(ch, &s, NULL);
}

static int submit_locked(struct stor_ctrl *c, const struct stor_cmd *cmd)
{
	const uint64_t *pfns = NULL;
	const void *data = cmd->buf;
	struct stor_req *r;
	int slot, rc;

	if (cmd->len > c->max_transfer || (cmd->len && !cmd->buf))
		return -EINVAL;
	if (cmd->len)
		pfns = user_pfns(c->sg, cmd->buf, cmd->len);
	r = malloc(sizeof(*r));
	if (!r)
		return -ENOMEM;
	rc = get_credit(c, cmd->len && !pfns, &slot);
	if (rc < 0) {
		free(r);
		return rc;
	}
	r->c = c;
	r->cmd = *cmd;
	r->slot = slot;
	build_srb(c, cmd, &r->pkt);
	if (slot >= 0) {
		data = c->pool + (size_t)slot * c->max_transfer;
		pfns = c->pool_pfns + (size_t)slot * slot_pages(c);
		if (cmd->data_in == WRITE_TYPE)
			memcpy(c->pool + (size_t)slot * c->max_transfer, cmd->buf, cmd->len);
	}
	rc = send_srb(c, r, pfns, data);
	if (rc < 0) {
		put_credit(c, slot);
		free(r);
	}
	return rc;
}

int stor_cmd_submit(struct stor_ctrl *c, const struct stor_cmd *cmd)
{
	int rc;

	if (in_completion) {
		if (pthread_rwlock_tryrdlock(&c->use) != 0)
			return -EAGAIN;
	} else {
		pthread_rwlock_rdlock(&c->use);
	}
	rc = c->gone || !atomic_load(&c->nchans) ? -ECANCELED : submit_locked(c, cmd);
	pthread_rwlock_unlock(&c->use);
	return rc;
}

struct sync_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
	int status;
	uint32_t xfer;
};

static void sync_done(void *arg, int status, uint32_t xfer)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	w->status = status;
	w->xfer = xfer;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

int stor_cmd_sync(struct stor_ctrl *c, struct stor_cmd *cmd, uint32_t *xfer)
{
	struct sync_wait w = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
	int rc;

	if (in_completion)
		return -EDEADLK;
	cmd->done = sync_done;
	cmd->arg = &w;
	rc = stor_cmd_submit(c, cmd);
	if (rc == 0) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		rc = w.status;
		if (xfer)
			*xfer = w.xfer;
	}
	pthread_mutex_destroy(&w.lock);
	pthread_cond_destroy(&w.cond);
	return rc;
}
