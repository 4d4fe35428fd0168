/* storvsp on a vmb_host: the VSP ops, LUN hot plug and `vmbus ctl disk`. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/storage/storvsp_priv.h"

static void chan_reply(void *arg, uint64_t trans_id, const void *buf, size_t len)
{
	struct stor_chan *sc = arg;

	/* Fails only when the channel is going away; nobody is left to tell. */
	vmb_chan_complete(sc->ch, trans_id, buf, len);
}

/*
 * Every answer a drain produces (including the page-cache hits that
 * vmb_stor_drain_end() completes) goes out in one channel batch: one
 * commit and at most one signal per drain instead of one per request.
 */
static void chan_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct stor_chan *sc = arg;

	if (!sc->batching) {
		vmb_chan_batch_begin(ch);
		sc->batching = true;
	}
	vmb_stor_packet(sc, pkt);
}

static void chan_drain_end(void *arg, struct vmb_channel *ch)
{
	struct stor_chan *sc = arg;

	vmb_stor_drain_end(sc);
	if (sc->batching) {
		sc->batching = false;
		vmb_chan_batch_end(ch);
	}
}

static int stor_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		     const struct vmb_open_params *p)
{
	struct vmb_stor_ctrl *c = dev;
	struct stor_chan *sc;

	(void)v;
	(void)p;
	sc = vmb_stor_chan_open(c, sub, ch, chan_reply, NULL);
	if (!sc)
		return -EINVAL;
	sc->reply_arg = sc;
	vmb_chan_set_drain_end(ch, chan_drain_end, sc);
	vmb_chan_set_handler(ch, chan_packet, sc);
	return 0;
}

static void stor_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_stor_ctrl *c = dev;
	struct stor_chan *sc = sub < STOR_MAX_CHANNELS ? c->chans[sub] : NULL;

	(void)v;
	if (!sc)
		return;
	/* Completions blocked on a full ring must give up before we wait for them. */
	vmb_chan_shutdown(ch);
	vmb_stor_chan_close(sc);
}

static void stor_release(void *dev)
{
	vmb_stor_ctrl_free(dev);
}

static const struct vmb_vsp_ops stor_ops = {
    .open = stor_open,
    .close = stor_close,
    .release = stor_release,
};

int vmb_stor_add(struct vmb_host *h, const struct vmb_stor_config *cfg, struct vmb_stor_ctrl **out)
{
	struct vmb_vsp_desc d = {
	    .name = "storvsp",
	    .class_id = VMB_GUID_SCSI,
	    .instance_id = cfg->instance,
	    .max_packet = 8192,
	    .copy_out = true,
	    .ops = &stor_ops,
	};
	struct vmb_stor_ctrl *c;
	int rc = vmb_stor_ctrl_init(&c, cfg);

	if (rc < 0)
		return rc;
	c->h = h;
	d.dev = c;
	rc = vmb_host_add_device(h, &d, &c->v);
	if (rc < 0) {
		vmb_stor_ctrl_free(c);
		return rc;
	}
	*out = c;
	return 0;
}

int vmb_stor_remove(struct vmb_stor_ctrl *c)
{
	return vmb_host_remove_device(c->h, c->v);
}

/* Tell the guest the bus changed (unsolicited, trans_id 0). */
static void notify_rescan(struct vmb_stor_ctrl *c)
{
	struct vstor_packet p = {.operation = VSTOR_OPERATION_ENUMERATE_BUS};

	pthread_mutex_lock(&c->lock);
	/* NOWAIT: under the lock we must not wait for the loop thread. */
	if (c->state == STOR_READY && c->chans[0] &&
	    vmb_chan_send(c->chans[0]->ch, &p, vstor_packet_size(c->version), 0, VMB_SEND_NOWAIT) <
		0 &&
	    c->h)
		vmb_host_log(c->h, "storvsp: bus rescan notification not sent");
	pthread_mutex_unlock(&c->lock);
}

static uint64_t lun_id(const char *path, unsigned lun)
{
	uint64_t h = 1469598103934665603ull;

	for (const char *p = path; *p; p++)
		h = (h ^ (uint8_t)*p) * 1099511628211ull;
	return h ^ lun;
}

int vmb_stor_lun_add(struct vmb_stor_ctrl *c, int lun, const struct vmb_stor_disk_config *d)
{
	struct vmb_disk_config dc = {d->path, d->size, d->ro, d->direct};
	struct stor_lun *l = calloc(1, sizeof(*l));
	int rc;

	if (!l)
		return -ENOMEM;
	if (lun >= (int)VMB_SCSI_MAX_LUNS || (rc = vmb_disk_open(&dc, &l->disk)) < 0) {
		free(l);
		return lun >= (int)VMB_SCSI_MAX_LUNS ? -EINVAL : rc;
	}
	l->info.present = true;
	l->info.ro = d->ro;
	l->info.unmap = d->unmap && !d->ro;
	l->info.blocks = vmb_disk_size(l->disk) / VMB_SCSI_BLOCK_SIZE;
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; lun < 0 && i < VMB_SCSI_MAX_LUNS; i++)
		if (!c->luns[i])
			lun = (int)i;
	rc = lun < 0 ? -ENOSPC : c->luns[lun] ? -EEXIST : lun;
	if (rc >= 0) {
		l->info.id = lun_id(d->path, (unsigned)lun);
		snprintf(l->info.serial, sizeof(l->info.serial), "%016llx",
			 (unsigned long long)l->info.id);
		c->luns[lun] = l;
	}
	pthread_mutex_unlock(&c->lock);
	if (rc < 0) {
		vmb_disk_close(l->disk);
		free(l);
		return rc;
	}
	notify_rescan(c);
	return rc;
}

int vmb_stor_lun_remove(struct vmb_stor_ctrl *c, unsigned lun)
{
	struct stor_lun *l;

	if (lun >= VMB_SCSI_MAX_LUNS)
		return -EINVAL;
	pthread_mutex_lock(&c->lock);
	l = c->luns[lun];
	c->luns[lun] = NULL;
	while (l && l->inflight)
		pthread_cond_wait(&c->idle, &c->lock);
	pthread_mutex_unlock(&c->lock);
	if (!l)
		return -ENOENT;
	vmb_disk_close(l->disk);
	free(l);
	notify_rescan(c);
	return 0;
}

void vmb_stor_lun_list(struct vmb_stor_ctrl *c, FILE *out)
{
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < VMB_SCSI_MAX_LUNS; i++) {
		struct stor_lun *l = c->luns[i];

		if (l)
			fprintf(out, "lun %u size %llu %s %s\n", i,
				(unsigned long long)vmb_disk_size(l->disk),
				l->info.ro ? "ro" : "rw", vmb_disk_path(l->disk));
	}
	pthread_mutex_unlock(&c->lock);
}
