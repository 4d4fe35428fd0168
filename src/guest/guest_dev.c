/*
 * Driver model: offers become devices, drivers bind by class GUID, and
 * probe, remove and sub-channel callbacks run on worker threads so they
 * may block on the host. Several devices are worked on at once, but the
 * items of one device run one at a time and in the order queued. Rescinds
 * may come at any time and in any order; only a worker frees a device.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest_priv.h"

int vmb_guest_queue(struct vmb_guest *g, enum vmb_work_type type, struct vmb_device *dev,
		    struct vmb_gchan *gc, uint32_t relid)
{
	struct vmb_work *w = calloc(1, sizeof(*w));

	if (!w) {
		vmb_guest_log(g, "relid %u: out of memory queueing work", relid);
		return -ENOMEM;
	}
	w->type = type;
	w->dev = dev;
	w->gc = gc;
	w->relid = relid;
	if (g->wq_tail)
		g->wq_tail->next = w;
	else
		g->wq_head = w;
	g->wq_tail = w;
	pthread_cond_signal(&g->wq_cond);
	return 0;
}

static const struct vmb_driver *match_driver(struct vmb_guest *g, const struct vmb_guid *cls)
{
	for (unsigned i = 0; i < g->ndrivers; i++)
		if (vmb_guid_eq(&g->drivers[i]->class_id, cls))
			return g->drivers[i];
	return NULL;
}

static struct vmb_device *find_device(struct vmb_guest *g, const struct vmb_guid *inst)
{
	for (struct vmb_device *d = g->devs; d; d = d->next)
		if (!d->removing && vmb_guid_eq(&d->offer.if_instance, inst))
			return d;
	return NULL;
}

static struct vmb_gchan *new_gchan(struct vmb_device *dev, struct vmb_client_channel *cc)
{
	const struct vmb_client_offer *o = vmb_cli_chan_offer(cc);
	struct vmb_gchan *gc = calloc(1, sizeof(*gc));

	if (!gc)
		return NULL;
	gc->dev = dev;
	gc->cc = cc;
	gc->relid = o->relid;
	gc->index = o->sub_channel_index;
	gc->monitor_id = o->monitor_id;
	vmb_cli_chan_set_priv(cc, gc);
	return gc;
}

static void offer_primary(struct vmb_guest *g, struct vmb_client_channel *cc)
{
	struct vmb_device *dev = calloc(1, sizeof(*dev));

	if (!dev || !(dev->chans = new_gchan(dev, cc))) {
		free(dev);
		vmb_guest_log(g, "relid %u: out of memory for device",
			      vmb_cli_chan_offer(cc)->relid);
		return;
	}
	dev->g = g;
	dev->offer = *vmb_cli_chan_offer(cc);
	dev->next = g->devs;
	g->devs = dev;
	dev->drv = match_driver(g, &dev->offer.if_type);
	if (dev->drv && vmb_guest_queue(g, VMB_WORK_PROBE, dev, NULL, 0))
		dev->drv = NULL;
	vmb_guest_sysfs_kick(g);
}

/* Sub-channels join their primary's device, appended in offer order. */
static void offer_sub(struct vmb_guest *g, struct vmb_client_channel *cc)
{
	const struct vmb_client_offer *o = vmb_cli_chan_offer(cc);
	struct vmb_device *dev = find_device(g, &o->if_instance);
	struct vmb_gchan *gc, **pp;

	if (!dev || !(gc = new_gchan(dev, cc))) {
		vmb_guest_log(g, "relid %u: sub-channel %u without a device, releasing", o->relid,
			      o->sub_channel_index);
		vmb_guest_queue(g, VMB_WORK_RELEASE, NULL, NULL, o->relid);
		return;
	}
	for (pp = &dev->chans; *pp; pp = &(*pp)->next)
		;
	*pp = gc;
	if (dev->bound && dev->drv->subchannel)
		vmb_guest_queue(g, VMB_WORK_SUBCHAN, dev, gc, gc->relid);
	vmb_guest_sysfs_kick(g);
}

void vmb_guest_on_offer(struct vmb_guest *g, struct vmb_client_channel *cc)
{
	if (vmb_cli_chan_offer(cc)->sub_channel_index == 0)
		offer_primary(g, cc);
	else
		offer_sub(g, cc);
}

void vmb_guest_on_rescind(struct vmb_guest *g, struct vmb_client_channel *cc)
{
	struct vmb_gchan *gc = vmb_cli_chan_priv(cc);
	struct vmb_device *dev;

	if (!gc) {
		vmb_guest_queue(g, VMB_WORK_RELEASE, NULL, NULL, vmb_cli_chan_offer(cc)->relid);
		return;
	}
	gc->rescinded = true;
	dev = gc->dev;
	/*
	 * Nothing in flight will ever complete, but vmb_chan_shutdown() runs
	 * completion callbacks, so not under g->lock: part_message() does it
	 * once the lock is dropped.
	 */
	if (gc->relid < VMB_RELID_TABLE) {
		g->shutdown_pending[gc->relid / 64] |= 1ull << (gc->relid % 64);
		g->any_shutdown = true;
	}
	vmb_guest_sysfs_kick(g);
	/* An already queued remove releases every rescinded relid of the device. */
	if (dev->removing)
		return;
	if (gc->index == 0) {
		if (!vmb_guest_queue(g, VMB_WORK_REMOVE, dev, NULL, gc->relid))
			dev->removing = true;
	} else {
		vmb_guest_queue(g, VMB_WORK_SUB_RESCIND, dev, gc, gc->relid);
	}
}

int vmb_guest_register_driver(struct vmb_guest *g, const struct vmb_driver *drv)
{
	int rc = 0;

	if (!g || !drv || !drv->probe)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	if (g->ndrivers == VMB_MAX_DRIVERS || match_driver(g, &drv->class_id)) {
		rc = g->ndrivers == VMB_MAX_DRIVERS ? -ENOSPC : -EEXIST;
		goto out;
	}
	g->drivers[g->ndrivers++] = drv;
	for (struct vmb_device *d = g->devs; d; d = d->next) {
		if (d->drv || d->removing || !vmb_guid_eq(&d->offer.if_type, &drv->class_id))
			continue;
		if (!vmb_guest_queue(g, VMB_WORK_PROBE, d, NULL, 0))
			d->drv = drv;
	}
out:
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* ---- worker -------------------------------------------------------- */

/* Close what the driver left open and drop the device's GPADLs. */
static void dev_cleanup(struct vmb_guest *g, struct vmb_device *dev)
{
	for (struct vmb_gchan *gc = dev->chans; gc; gc = gc->next)
		vmb_guest_gchan_close(g, gc);
	vmb_guest_dev_gpadls_free(g, dev);
}

static void do_probe(struct vmb_guest *g, struct vmb_device *dev)
{
	const struct vmb_driver *drv;
	int rc;

	pthread_mutex_lock(&g->lock);
	drv = dev->removing ? NULL : dev->drv;
	pthread_mutex_unlock(&g->lock);
	if (!drv)
		return;
	rc = drv->probe(dev);
	pthread_mutex_lock(&g->lock);
	if (rc) {
		dev->drv = NULL;
	} else {
		dev->bound = true;
		/* Sub-channels offered during probe are announced now, unless
		 * a remove is queued: nothing may follow it for this device. */
		for (struct vmb_gchan *gc = dev->chans; gc && !dev->removing; gc = gc->next)
			if (gc->index && !gc->rescinded && drv->subchannel)
				vmb_guest_queue(g, VMB_WORK_SUBCHAN, dev, gc, gc->relid);
	}
	vmb_guest_sysfs_kick(g);
	pthread_mutex_unlock(&g->lock);
	if (rc) {
		vmb_guest_log(g, "%s: probe of relid %u failed: %s", drv->name, dev->offer.relid,
			      strerror(rc < 0 ? -rc : rc));
		dev_cleanup(g, dev);
	}
}

static void release_locked(struct vmb_guest *g, struct vmb_gchan *gc)
{
	int rc;

	if (!gc->cc)
		return;
	vmb_cli_chan_set_priv(gc->cc, NULL);
	if (gc->rescinded) {
		rc = vmb_client_release(g->cli, gc->cc);
		if (rc)
			vmb_guest_log(g, "relid %u: release failed: %s", gc->relid, strerror(-rc));
	}
	gc->cc = NULL;
}

static void unlink_device(struct vmb_guest *g, struct vmb_device *dev)
{
	for (struct vmb_device **pp = &g->devs; *pp; pp = &(*pp)->next) {
		if (*pp == dev) {
			*pp = dev->next;
			return;
		}
	}
}

static void do_remove(struct vmb_guest *g, struct vmb_device *dev)
{
	struct vmb_gchan *gc;
	bool bound;

	pthread_mutex_lock(&g->lock);
	bound = dev->bound;
	pthread_mutex_unlock(&g->lock);
	if (bound && dev->drv->remove)
		dev->drv->remove(dev);
	dev_cleanup(g, dev);
	pthread_mutex_lock(&g->lock);
	for (gc = dev->chans; gc; gc = gc->next)
		release_locked(g, gc);
	unlink_device(g, dev);
	vmb_guest_wake(g);
	pthread_mutex_unlock(&g->lock);
	vmb_guest_sysfs_remove_dev(g, dev);
	while ((gc = dev->chans)) {
		dev->chans = gc->next;
		free(gc);
	}
	free(dev);
}

static void do_sub_rescind(struct vmb_guest *g, struct vmb_gchan *gc)
{
	vmb_guest_gchan_close(g, gc);
	pthread_mutex_lock(&g->lock);
	release_locked(g, gc);
	vmb_guest_sysfs_kick(g);
	pthread_mutex_unlock(&g->lock);
}

/* An offer nobody owns: hand the relid back (RELID_RELEASED). */
static void do_release(struct vmb_guest *g, uint32_t relid)
{
	struct vmb_client_channel *cc;
	int rc;

	pthread_mutex_lock(&g->lock);
	cc = vmb_client_find(g->cli, relid);
	if (cc && !vmb_cli_chan_priv(cc)) {
		rc = vmb_client_release(g->cli, cc);
		if (rc)
			vmb_guest_log(g, "relid %u: release failed: %s", relid, strerror(-rc));
	}
	pthread_mutex_unlock(&g->lock);
}

static void do_subchan(struct vmb_guest *g, struct vmb_device *dev, struct vmb_gchan *gc)
{
	bool gone;

	pthread_mutex_lock(&g->lock);
	gone = gc->rescinded;
	pthread_mutex_unlock(&g->lock);
	if (!gone)
		dev->drv->subchannel(dev, gc->index);
}

static void run_work(struct vmb_guest *g, struct vmb_work *w)
{
	switch (w->type) {
	case VMB_WORK_PROBE:
		do_probe(g, w->dev);
		break;
	case VMB_WORK_REMOVE:
		do_remove(g, w->dev);
		break;
	case VMB_WORK_SUBCHAN:
		do_subchan(g, w->dev, w->gc);
		break;
	case VMB_WORK_SUB_RESCIND:
		do_sub_rescind(g, w->gc);
		break;
	case VMB_WORK_RELEASE:
		do_release(g, w->relid);
		break;
	}
}

/* The first item whose device no other worker holds (g->lock held). */
static struct vmb_work *take_work(struct vmb_guest *g)
{
	struct vmb_work *prev = NULL;

	for (struct vmb_work *w = g->wq_head; w; prev = w, w = w->next) {
		if (w->dev && w->dev->in_work)
			continue;
		if (prev)
			prev->next = w->next;
		else
			g->wq_head = w->next;
		if (g->wq_tail == w)
			g->wq_tail = prev;
		if (w->dev)
			w->dev->in_work = true;
		return w;
	}
	return NULL;
}

void *vmb_guest_worker_main(void *arg)
{
	struct vmb_guest *g = arg;
	struct vmb_work *w;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		w = take_work(g);
		if (!w && g->wq_stop && !g->wq_head)
			break;
		if (!w) {
			pthread_cond_wait(&g->wq_cond, &g->lock);
			continue;
		}
		pthread_mutex_unlock(&g->lock);
		run_work(g, w);
		pthread_mutex_lock(&g->lock);
		/* A remove freed its device; nothing is queued behind it. */
		if (w->dev && w->type != VMB_WORK_REMOVE)
			w->dev->in_work = false;
		/* Items of this device, or the end of the queue, may now be due. */
		pthread_cond_broadcast(&g->wq_cond);
		free(w);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

static bool no_devices(void *arg)
{
	return ((struct vmb_guest *)arg)->devs == NULL;
}

/* Remove every device through the worker and wait for it (bounded). */
void vmb_guest_remove_all(struct vmb_guest *g)
{
	int rc;

	pthread_mutex_lock(&g->lock);
	for (struct vmb_device *d = g->devs; d; d = d->next)
		if (!d->removing && !vmb_guest_queue(g, VMB_WORK_REMOVE, d, NULL, d->offer.relid))
			d->removing = true;
	/* Every step of a removal is bounded, so waiting them out ends. */
	do {
		rc = vmb_guest_wait_until(g, no_devices, g);
	} while (rc == -ETIMEDOUT);
	pthread_mutex_unlock(&g->lock);
}

/* ---- accessors ----------------------------------------------------- */

const struct vmb_client_offer *vmb_device_offer(const struct vmb_device *dev)
{
	return &dev->offer;
}

struct vmb_guest *vmb_device_guest(const struct vmb_device *dev)
{
	return dev->g;
}

void vmb_device_set_priv(struct vmb_device *dev, void *priv)
{
	dev->priv = priv;
}

void *vmb_device_priv(const struct vmb_device *dev)
{
	return dev->priv;
}

/* The driver probing or bound to dev (NULL when unbound). */
const struct vmb_driver *vmb_device_driver(const struct vmb_device *dev)
{
	const struct vmb_driver *drv;

	pthread_mutex_lock(&dev->g->lock);
	drv = dev->drv;
	pthread_mutex_unlock(&dev->g->lock);
	return drv;
}
