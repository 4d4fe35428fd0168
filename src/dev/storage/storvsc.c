/*
 * storvsc: the guest's synthetic SCSI driver. Probe runs the init sequence
 * on the primary channel (BEGIN_INITIALIZATION, QUERY_PROTOCOL_VERSION
 * newest first, QUERY_PROPERTIES, END_INITIALIZATION), asks for one
 * sub-channel per extra VP when the host is multi-channel, then scans for
 * LUNs. A thread per controller rescans when the host reports a bus change.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dev/storage/storvsc_priv.h"
#include "vmbus/proto/guid.h"
#include "util/deadline.h"

/* Linux's list (storvsc_drv.c protocol_version[]), newest first. */
static const uint16_t stor_versions[] = {
    VMSTOR_PROTO_VERSION_WIN10,
    VMSTOR_PROTO_VERSION_WIN8_1,
    VMSTOR_PROTO_VERSION_WIN8,
};

static struct vmb_stor_guest *sg_of(struct vmb_device *dev)
{
	return vmb_device_driver(dev)->ctx;
}

static void wake_rescan(struct stor_ctrl *c)
{
	pthread_mutex_lock(&c->lock);
	c->rescan_pending = true;
	pthread_cond_signal(&c->rescan_cond);
	pthread_mutex_unlock(&c->lock);
}

/* Unsolicited host packets: bus changes trigger a rescan on our own thread. */
static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct stor_ctrl *c = arg;
	uint32_t op;

	(void)ch;
	if (pkt->len < sizeof(op)) {
		vmb_guest_log(c->sg->g, "storvsc%u: short packet (%u bytes)", c->idx, pkt->len);
		return;
	}
	memcpy(&op, pkt->data, sizeof(op));
	switch (op) {
	case VSTOR_OPERATION_ENUMERATE_BUS:
	case VSTOR_OPERATION_REMOVE_DEVICE:
	case VSTOR_OPERATION_EVENT_NOTIFICATION:
		wake_rescan(c);
		break;
	default:
		vmb_guest_log(c->sg->g, "storvsc%u: unexpected operation %u", c->idx, op);
	}
}

/* One init request on the primary; the host's NTSTATUS in *status. */
static int init_request(struct stor_ctrl *c, uint32_t op, struct vstor_packet *p, uint32_t *status)
{
	struct vstor_packet resp = {0};
	size_t got = 0;
	int rc;

	p->operation = op;
	p->flags = REQUEST_COMPLETION_FLAG;
	rc = vmb_chan_request_sync(c->chans[0], p, sizeof(*p), &resp, sizeof(resp), &got,
				   STOR_INIT_TIMEOUT);
	if (rc < 0)
		return rc;
	if (got < VSTOR_PACKET_HDR_SIZE || resp.operation != VSTOR_OPERATION_COMPLETE_IO) {
		vmb_guest_log(c->sg->g, "storvsc%u: bad reply to operation %u", c->idx, op);
		return -EPROTO;
	}
	*status = resp.status;
	*p = resp;
	return 0;
}

static int init_simple(struct stor_ctrl *c, uint32_t op)
{
	struct vstor_packet p = {0};
	uint32_t st;
	int rc = init_request(c, op, &p, &st);

	if (rc == 0 && st != VSTOR_STATUS_SUCCESS) {
		vmb_guest_log(c->sg->g, "storvsc%u: operation %u failed: 0x%x", c->idx, op, st);
		rc = -EPROTO;
	}
	return rc;
}

static int negotiate(struct stor_ctrl *c)
{
	for (unsigned i = 0; i < sizeof(stor_versions) / sizeof(stor_versions[0]); i++) {
		struct vstor_packet p = {0};
		uint32_t st;
		int rc;

		p.version.major_minor = stor_versions[i];
		rc = init_request(c, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, &p, &st);
		if (rc < 0)
			return rc;
		if (st == VSTOR_STATUS_SUCCESS) {
			c->version = stor_versions[i];
			c->pkt_size = vstor_packet_size(c->version);
			return 0;
		}
		if (st != VSTOR_STATUS_REVISION_MISMATCH)
			break;
	}
	vmb_guest_log(c->sg->g, "storvsc%u: no common protocol version", c->idx);
	return -EPROTO;
}

static int query_properties(struct stor_ctrl *c)
{
	struct vstor_packet p = {0};
	struct vmstorage_channel_properties pr;
	uint32_t st;
	int rc = init_request(c, VSTOR_OPERATION_QUERY_PROPERTIES, &p, &st);

	if (rc < 0)
		return rc;
	if (st != VSTOR_STATUS_SUCCESS)
		return -EPROTO;
	pr = p.storage_channel_properties;
	/* Transfers are split at a page multiple no larger than the host's limit. */
	c->max_transfer = pr.max_transfer_bytes & ~(STOR_PAGE - 1);
	if (c->max_transfer == 0 || c->max_transfer > VSTOR_MAX_TRANSFER_BYTES)
		c->max_transfer = VSTOR_MAX_TRANSFER_BYTES;
	c->multi_channel = c->version >= VMSTOR_PROTO_VERSION_WIN8 &&
			   (pr.flags & STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);
	c->max_sub = pr.max_channel_cnt;
	return 0;
}

static int request_subchannels(struct stor_ctrl *c)
{
	unsigned vps = vmb_guest_vp_count(c->sg->g);
	unsigned n = vps > 1 ? vps - 1 : 0;
	struct vstor_packet p = {0};
	uint32_t st;
	int rc;

	if (n > c->max_sub)
		n = c->max_sub;
	if (c->sg->cfg.max_subchannels && n > c->sg->cfg.max_subchannels)
		n = c->sg->cfg.max_subchannels;
	if (n > STOR_MAX_CHANS - 1)
		n = STOR_MAX_CHANS - 1;
	if (!c->multi_channel || n == 0)
		return 0;
	p.sub_channel_count = (uint16_t)n;
	rc = init_request(c, VSTOR_OPERATION_CREATE_SUB_CHANNELS, &p, &st);
	if (rc == 0 && st != VSTOR_STATUS_SUCCESS)
		vmb_guest_log(c->sg->g, "storvsc%u: CREATE_SUB_CHANNELS(%u) failed: 0x%x", c->idx,
			      n, st);
	return rc;
}

static int init_sequence(struct stor_ctrl *c)
{
	int rc = init_simple(c, VSTOR_OPERATION_BEGIN_INITIALIZATION);

	if (rc == 0)
		rc = negotiate(c);
	if (rc == 0)
		rc = query_properties(c);
	if (rc == 0)
		rc = init_simple(c, VSTOR_OPERATION_END_INITIALIZATION);
	return rc;
}

static void *rescan_main(void *arg)
{
	struct stor_ctrl *c = arg;

	pthread_mutex_lock(&c->lock);
	while (!c->rescan_stop) {
		if (!c->rescan_pending) {
			pthread_cond_wait(&c->rescan_cond, &c->lock);
			continue;
		}
		c->rescan_pending = false;
		pthread_mutex_unlock(&c->lock);
		stor_rescan(c);
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

static void open_opts(struct stor_ctrl *c, struct vmb_open_opts *o)
{
	static const uint8_t userdata[VSTOR_OPEN_USERDATA_SIZE];

	*o = (struct vmb_open_opts){
	    .send_ring = STOR_RING_BYTES,
	    .recv_ring = STOR_RING_BYTES,
	    .handler = on_packet,
	    .arg = c,
	    .userdata = userdata,
	    .userdata_len = sizeof(userdata),
	    .copy_out = true,
	};
}

static struct stor_ctrl *ctrl_new(struct vmb_stor_guest *sg, struct vmb_device *dev)
{
	struct stor_ctrl *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->sg = sg;
	c->dev = dev;
	c->srb_limit = STOR_CHAN_REQS;
	pthread_rwlock_init(&c->use, NULL);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->cond, NULL);
	pthread_cond_init(&c->rescan_cond, NULL);
	return c;
}

static void ctrl_stop(struct stor_ctrl *c)
{
	if (c->rescan_started) {
		pthread_mutex_lock(&c->lock);
		c->rescan_stop = true;
		pthread_cond_signal(&c->rescan_cond);
		pthread_mutex_unlock(&c->lock);
		pthread_join(c->rescan_thr, NULL);
		c->rescan_started = false;
	}
	pthread_rwlock_wrlock(&c->use);
	c->gone = true;
	for (unsigned i = atomic_load(&c->nchans); i-- > 0;)
		vmb_device_close(c->dev, c->chans[i]);
	atomic_store(&c->nchans, 0);
	pthread_rwlock_unlock(&c->use);
	stor_pool_fini(c);
}

static int attach(struct vmb_stor_guest *sg, struct stor_ctrl *c)
{
	int rc = 0;

	pthread_mutex_lock(&sg->lock);
	if (sg->nctrls == STOR_MAX_CTRLS)
		rc = -ENOSPC;
	else
		sg->ctrls[c->idx = sg->nctrls++] = c;
	pthread_mutex_unlock(&sg->lock);
	return rc;
}

static int stor_probe(struct vmb_device *dev)
{
	struct vmb_stor_guest *sg = sg_of(dev);
	struct stor_ctrl *c = ctrl_new(sg, dev);
	struct vmb_open_opts o;
	int rc;

	if (!c)
		return -ENOMEM;
	rc = attach(sg, c);
	if (rc < 0) {
		pthread_rwlock_destroy(&c->use);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		pthread_cond_destroy(&c->rescan_cond);
		free(c);
		return rc;
	}
	open_opts(c, &o);
	/* Init traffic uses the 0x40-byte packet before a version is agreed, as Linux does. */
	c->pkt_size = VSTOR_PACKET_SIZE_WIN8;
	rc = vmb_device_open(dev, &o, &c->chans[0]);
	if (rc == 0) {
		atomic_store(&c->nchans, 1);
		vmb_chan_set_poll(c->chans[0], STOR_GUEST_POLL_NS);
		vmb_chan_set_drain_end(c->chans[0], stor_drain_end, c);
		rc = init_sequence(c);
	}
	if (rc == 0)
		rc = stor_pool_init(c);
	/* Sub-channel offers may arrive as soon as we ask for them. */
	vmb_device_set_priv(dev, c);
	if (rc == 0)
		rc = request_subchannels(c);
	if (rc == 0)
		c->rescan_started = pthread_create(&c->rescan_thr, NULL, rescan_main, c) == 0;
	if (rc < 0 || !c->rescan_started) {
		vmb_device_set_priv(dev, NULL);
		ctrl_stop(c);
		return rc < 0 ? rc : -ENOMEM;
	}
	wake_rescan(c);
	return 0;
}

static void stor_remove(struct vmb_device *dev)
{
	struct stor_ctrl *c = vmb_device_priv(dev);

	if (!c)
		return;
	ctrl_stop(c);
	stor_forget_ctrl(c);
	vmb_device_set_priv(dev, NULL);
}

static void stor_subchannel(struct vmb_device *dev, uint16_t index)
{
	struct stor_ctrl *c = vmb_device_priv(dev);
	struct vmb_channel *ch = NULL;
	struct vmb_open_opts o;

	if (!c || index == 0 || index >= STOR_MAX_CHANS)
		return;
	open_opts(c, &o);
	pthread_rwlock_wrlock(&c->use);
	/* Sub-channels open in offer order; one that skips ahead is refused. */
	if (!c->gone && index == atomic_load(&c->nchans) &&
	    vmb_device_open_sub(dev, index, &o, &ch) == 0) {
		c->chans[index] = ch;
		vmb_chan_set_poll(ch, STOR_GUEST_POLL_NS);
		vmb_chan_set_drain_end(ch, stor_drain_end, c);
		atomic_store(&c->nchans, index + 1u);
		pthread_mutex_lock(&c->lock);
		c->srb_limit = STOR_CHAN_REQS * (index + 1u);
		pthread_mutex_unlock(&c->lock);
	}
	pthread_rwlock_unlock(&c->use);
}

int vmb_stor_guest_register(struct vmb_guest *g, const struct vmb_stor_guest_config *cfg,
			    struct vmb_stor_guest **out)
{
	struct vmb_stor_guest *sg = calloc(1, sizeof(*sg));
	int rc;

	if (!sg)
		return -ENOMEM;
	sg->g = g;
	if (cfg)
		sg->cfg = *cfg;
	sg->drv = (struct vmb_driver){
	    .name = "storvsc",
	    .class_id = VMB_GUID_SCSI,
	    .high_speed = true,
	    .probe = stor_probe,
	    .remove = stor_remove,
	    .subchannel = stor_subchannel,
	    .ctx = sg,
	};
	pthread_mutex_init(&sg->lock, NULL);
	pthread_cond_init(&sg->cond, NULL);
	if (sg->cfg.fuse_dir) {
		rc = vmb_fuse_export_start(sg->cfg.fuse_dir, &sg->fx);
		if (rc < 0) {
			vmb_guest_log(g, "storvsc: FUSE export on %s failed: %d", sg->cfg.fuse_dir,
				      rc);
			vmb_stor_guest_free(sg);
			return rc;
		}
	}
	rc = vmb_guest_register_driver(g, &sg->drv);
	if (rc < 0) {
		vmb_stor_guest_free(sg);
		return rc;
	}
	*out = sg;
	return 0;
}

void vmb_stor_guest_free(struct vmb_stor_guest *sg)
{
	if (!sg)
		return;
	vmb_fuse_export_stop(sg->fx);
	for (unsigned i = 0; i < sg->nctrls; i++) {
		struct stor_ctrl *c = sg->ctrls[i];

		pthread_rwlock_destroy(&c->use);
		pthread_mutex_destroy(&c->lock);
		pthread_cond_destroy(&c->cond);
		pthread_cond_destroy(&c->rescan_cond);
		free(c);
	}
	while (sg->dmas) {
		struct stor_dma *d = sg->dmas;

		sg->dmas = d->next;
		free(d->pfns);
		free(d);
	}
	pthread_mutex_destroy(&sg->lock);
	pthread_cond_destroy(&sg->cond);
	free(sg);
}

int vmb_stor_guest_wait(struct vmb_stor_guest *sg, unsigned n, int timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	vmb_deadline_after(&dl, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&sg->lock);
	while (rc == 0 && vmb_stor_guest_luns_locked(sg, NULL, 0) < n)
		rc = pthread_cond_timedwait(&sg->cond, &sg->lock, &dl);
	pthread_mutex_unlock(&sg->lock);
	return rc ? -ETIMEDOUT : 0;
}

int vmb_stor_guest_rescan(struct vmb_stor_guest *sg)
{
	unsigned n;

	pthread_mutex_lock(&sg->lock);
	n = sg->nctrls;
	pthread_mutex_unlock(&sg->lock);
	for (unsigned i = 0; i < n; i++)
		wake_rescan(sg->ctrls[i]);
	return n ? 0 : -ENODEV;
}

unsigned vmb_stor_guest_channels(struct vmb_stor_guest *sg, unsigned ctrl)
{
	struct stor_ctrl *c = NULL;

	pthread_mutex_lock(&sg->lock);
	if (ctrl < sg->nctrls)
		c = sg->ctrls[ctrl];
	pthread_mutex_unlock(&sg->lock);
	return c ? atomic_load(&c->nchans) : 0;
}
