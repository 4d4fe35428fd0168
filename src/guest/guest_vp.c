/*
 * Virtual processors: which VP a channel interrupts (init_vp_index),
 * retargeting (MODIFYCHANNEL), CPU offline refusal, and the grace period
 * that lets a channel be freed once no VP thread can still be inside it.
 */
#include <errno.h>
#include <string.h>

#include "guest/guest_priv.h"

/*
 * Slow devices interrupt the VMBUS_CONNECT_CPU (VP 0); high-speed ones
 * are spread over the online VPs so their channels run in parallel.
 */
uint32_t vmb_guest_pick_vp(const bool *online, uint32_t n, bool high_speed, uint32_t *rr)
{
	if (!high_speed || n == 0)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t vp = (*rr + i) % n;

		if (online[vp]) {
			*rr = (vp + 1) % n;
			return vp;
		}
	}
	return 0;
}

struct grace {
	pthread_mutex_t m;
	pthread_cond_t c;
	unsigned left;
};

static void grace_tick(void *arg)
{
	struct grace *gr = arg;

	pthread_mutex_lock(&gr->m);
	if (--gr->left == 0)
		pthread_cond_signal(&gr->c);
	pthread_mutex_unlock(&gr->m);
}

/*
 * A VP thread runs queued functions between interrupts, so once each
 * online VP ran a no-op, none is still dispatching to a channel that was
 * unpublished before. Offline VPs take no interrupts.
 */
void vmb_guest_grace(struct vmb_guest *g)
{
	struct grace gr = {.left = 1};

	pthread_mutex_init(&gr.m, NULL);
	pthread_cond_init(&gr.c, NULL);
	for (uint32_t vp = 0; vp < g->vp_count; vp++) {
		bool online;

		pthread_mutex_lock(&g->lock);
		online = g->vp_online[vp];
		pthread_mutex_unlock(&g->lock);
		pthread_mutex_lock(&gr.m);
		gr.left++;
		pthread_mutex_unlock(&gr.m);
		if (!online || vmb_guest_part_run_on(g->part, vp, grace_tick, &gr))
			grace_tick(&gr);
	}
	grace_tick(&gr);
	pthread_mutex_lock(&gr.m);
	while (gr.left)
		pthread_cond_wait(&gr.c, &gr.m);
	pthread_mutex_unlock(&gr.m);
	pthread_cond_destroy(&gr.c);
	pthread_mutex_destroy(&gr.m);
}

static bool modify_settled(void *arg)
{
	struct vmb_gchan *gc = arg;

	return gc->modify_done || gc->rescinded;
}

/* g->lock held. Before 5.3 the host never acknowledges MODIFYCHANNEL. */
static int modify_locked(struct vmb_guest *g, struct vmb_gchan *gc, uint32_t vp)
{
	int rc;

	gc->modify_done = false;
	rc = vmb_client_modify(g->cli, gc->cc, vp);
	if (rc || atomic_load(&g->version) < VERSION_WIN10_V5_3)
		return rc;
	rc = vmb_guest_wait_until(g, modify_settled, gc);
	if (rc)
		return rc;
	if (!gc->modify_done)
		return -ENODEV;
	if (gc->modify_status) {
		vmb_guest_log(g, "relid %u: host refused VP %u (status %#x)", gc->relid, vp,
			      (unsigned)gc->modify_status);
		return -EIO;
	}
	return 0;
}

int vmb_channel_set_vp(struct vmb_device *dev, struct vmb_channel *ch, uint32_t vp)
{
	struct vmb_guest *g = dev->g;
	struct vmb_gchan *gc = NULL;
	int rc;

	if (!ch)
		return -EINVAL;
	if (atomic_load(&g->version) < VERSION_WIN10_V4_1)
		return -EOPNOTSUPP;
	if (vmb_guest_cur_vp >= 0)
		return -EDEADLK;
	pthread_mutex_lock(&g->lock);
	for (gc = dev->chans; gc && gc->ch != ch; gc = gc->next)
		;
	if (!gc || gc->busy || !gc->cc)
		rc = gc && gc->busy ? -EBUSY : -ENOENT;
	else if (vp >= g->vp_count || !g->vp_online[vp])
		rc = -EINVAL;
	else if (gc->rescinded)
		rc = -ENODEV;
	else
		rc = 0;
	if (!rc && vp != gc->vp) {
		/* Until the host answers both VPs count as targeted. */
		gc->busy = true;
		gc->vp_old = gc->vp;
		gc->vp = vp;
		rc = modify_locked(g, gc, vp);
		if (rc && rc != -ETIMEDOUT)
			gc->vp = gc->vp_old;
		gc->vp_old = gc->vp;
		gc->busy = false;
		vmb_guest_sysfs_kick(g);
		vmb_guest_wake(g);
	}
	pthread_mutex_unlock(&g->lock);
	return rc;
}

static bool vp_targeted(struct vmb_guest *g, uint32_t vp)
{
	for (struct vmb_device *d = g->devs; d; d = d->next)
		for (struct vmb_gchan *gc = d->chans; gc; gc = gc->next)
			if ((gc->ch || gc->busy) && (gc->vp == vp || gc->vp_old == vp))
				return true;
	return false;
}

int vmb_guest_vp_offline(struct vmb_guest *g, uint32_t vp)
{
	int rc = 0;

	if (vp >= g->vp_count)
		return -EINVAL;
	/* VP 0 receives the control messages (VMBUS_CONNECT_CPU). */
	if (vp == 0)
		return -EBUSY;
	pthread_mutex_lock(&g->lock);
	if (!g->vp_online[vp])
		rc = -EALREADY;
	else if (vp_targeted(g, vp))
		rc = -EBUSY;
	else
		g->vp_online[vp] = false;
	pthread_mutex_unlock(&g->lock);
	if (rc)
		return rc;
	rc = vmb_guest_part_vp_set_online(g->part, vp, false);
	if (rc) {
		pthread_mutex_lock(&g->lock);
		g->vp_online[vp] = true;
		pthread_mutex_unlock(&g->lock);
	}
	return rc;
}

int vmb_guest_vp_online(struct vmb_guest *g, uint32_t vp)
{
	int rc;

	if (vp >= g->vp_count)
		return -EINVAL;
	rc = vmb_guest_part_vp_set_online(g->part, vp, true);
	if (rc)
		return rc;
	pthread_mutex_lock(&g->lock);
	g->vp_online[vp] = true;
	pthread_mutex_unlock(&g->lock);
	return 0;
}
