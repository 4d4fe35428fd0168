/*
 * GPADLs: guest pages handed to the host under a handle. Creation waits
 * for GPADL_CREATED, teardown for GPADL_TORNDOWN. Pages whose teardown
 * never completed are leaked on purpose: the host may still write them.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest_priv.h"

static struct vmb_gpadl **bucket(struct vmb_guest *g, uint32_t handle)
{
	return &g->gpadl_hash[handle % VMB_GPADL_BUCKETS];
}

struct vmb_gpadl *vmb_guest_gpadl_find(struct vmb_guest *g, uint32_t handle)
{
	for (struct vmb_gpadl *gp = *bucket(g, handle); gp; gp = gp->hnext)
		if (gp->handle == handle)
			return gp;
	return NULL;
}

static void gpadl_link(struct vmb_guest *g, struct vmb_gpadl *gp)
{
	struct vmb_gpadl **b = bucket(g, gp->handle);

	gp->next = g->gpadls;
	if (gp->next)
		gp->next->pprev = &gp->next;
	gp->pprev = &g->gpadls;
	g->gpadls = gp;
	gp->hnext = *b;
	*b = gp;
}

static void gpadl_unlink(struct vmb_guest *g, struct vmb_gpadl *gp)
{
	*gp->pprev = gp->next;
	if (gp->next)
		gp->next->pprev = gp->pprev;
	for (struct vmb_gpadl **pp = bucket(g, gp->handle); *pp; pp = &(*pp)->hnext) {
		if (*pp == gp) {
			*pp = gp->hnext;
			return;
		}
	}
}

static bool gpadl_settled(void *arg)
{
	return ((struct vmb_gpadl *)arg)->state != VMB_GPADL_CREATING;
}

static bool gpadl_gone(void *arg)
{
	return ((struct vmb_gpadl *)arg)->state == VMB_GPADL_TORNDOWN;
}

/*
 * Create a GPADL over gp->pfns for the channel gc (g->lock held). On
 * -ETIMEDOUT the caller must leak the pages.
 */
int vmb_gpadl_create_locked(struct vmb_guest *g, struct vmb_gchan *gc, struct vmb_gpadl *gp)
{
	int rc;

	if (!gc->cc || gc->rescinded)
		return -ENODEV;
	rc = vmb_client_gpadl_create(g->cli, gc->cc, gp->pfns, gp->npages, &gp->handle);
	if (rc)
		return rc;
	gp->state = VMB_GPADL_CREATING;
	gpadl_link(g, gp);
	rc = vmb_guest_wait_until(g, gpadl_settled, gp);
	if (!rc && gp->state == VMB_GPADL_FAILED) {
		vmb_guest_log(g, "relid %u: GPADL %#x refused (status %#x)", gc->relid, gp->handle,
			      gp->status);
		rc = gc->rescinded ? -ENODEV : -ENOSPC;
	}
	if (rc)
		gpadl_unlink(g, gp);
	return rc;
}

/* Tear down (g->lock held). 0 = the pages are ours again. */
int vmb_gpadl_teardown_locked(struct vmb_guest *g, struct vmb_gchan *gc, struct vmb_gpadl *gp)
{
	int rc = 0;

	if (!vmb_guest_host_gone(g)) {
		rc = gc->cc ? vmb_client_gpadl_teardown(g->cli, gc->cc, gp->handle) : -ENODEV;
		if (!rc) {
			gp->state = VMB_GPADL_TEARING;
			rc = vmb_guest_wait_until(g, gpadl_gone, gp);
		}
		if (rc == -EPIPE)
			rc = 0;
	}
	gpadl_unlink(g, gp);
	if (rc)
		vmb_guest_log(g, "relid %u: GPADL %#x teardown failed (%s), leaking %zu pages",
			      gc->relid, gp->handle, strerror(-rc), gp->npages);
	return rc;
}

/* Allocate gp->npages guest pages into gp->pfns. */
int vmb_gpadl_pages_alloc(struct vmb_guest *g, struct vmb_gpadl *gp, size_t npages)
{
	int rc;

	gp->pfns = calloc(npages, sizeof(*gp->pfns));
	if (!gp->pfns)
		return -ENOMEM;
	gp->npages = npages;
	rc = vmb_guest_part_alloc(g->part, npages, gp->pfns);
	if (rc) {
		free(gp->pfns);
		gp->pfns = NULL;
	}
	return rc;
}

void vmb_gpadl_pages_free(struct vmb_guest *g, struct vmb_gpadl *gp)
{
	vmb_guest_part_free(g->part, gp->pfns, gp->npages);
	free(gp->pfns);
	gp->pfns = NULL;
}

static struct vmb_gpadl *dev_gpadl_find(struct vmb_device *dev, uint32_t handle)
{
	struct vmb_gpadl *gp = vmb_guest_gpadl_find(dev->g, handle);

	return gp && gp->dev == dev ? gp : NULL;
}

int vmb_device_gpadl_alloc(struct vmb_device *dev, size_t bytes, void **addr, uint32_t *handle)
{
	struct vmb_guest *g = dev->g;
	struct vmb_gpadl *gp;
	size_t npages = (bytes + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;
	int rc;

	if (!bytes || !addr || !handle || bytes > ((size_t)1 << 30))
		return -EINVAL;
	if (vmb_guest_cur_vp >= 0)
		return -EDEADLK;
	gp = calloc(1, sizeof(*gp));
	if (!gp)
		return -ENOMEM;
	gp->dev = dev;
	rc = vmb_gpadl_pages_alloc(g, gp, npages);
	if (rc)
		goto out_free;
	rc = vmb_guest_part_map(g->part, gp->pfns, npages, false, &gp->map);
	if (rc)
		goto out_pages;
	pthread_mutex_lock(&g->lock);
	rc = dev->removing ? -ENODEV : vmb_gpadl_create_locked(g, dev->chans, gp);
	pthread_mutex_unlock(&g->lock);
	if (rc == -ETIMEDOUT)
		return rc; /* the host may still use the pages */
	if (rc)
		goto out_unmap;
	*addr = gp->map.addr;
	*handle = gp->handle;
	return 0;
out_unmap:
	vmb_guest_part_unmap(g->part, &gp->map);
out_pages:
	vmb_gpadl_pages_free(g, gp);
out_free:
	free(gp);
	return rc;
}

/* g->lock held; the state check makes a second free of the same handle fail. */
static int dev_gpadl_release(struct vmb_guest *g, struct vmb_device *dev, struct vmb_gpadl *gp)
{
	int rc = vmb_gpadl_teardown_locked(g, dev->chans, gp);

	if (rc)
		return rc;
	vmb_guest_part_unmap(g->part, &gp->map);
	vmb_gpadl_pages_free(g, gp);
	free(gp);
	return 0;
}

int vmb_device_gpadl_free(struct vmb_device *dev, uint32_t handle)
{
	struct vmb_guest *g = dev->g;
	struct vmb_gpadl *gp;
	int rc = -ENOENT;

	if (vmb_guest_cur_vp >= 0)
		return -EDEADLK;
	pthread_mutex_lock(&g->lock);
	gp = dev_gpadl_find(dev, handle);
	if (gp && gp->state == VMB_GPADL_CREATED)
		rc = dev_gpadl_release(g, dev, gp);
	pthread_mutex_unlock(&g->lock);
	return rc;
}

/* A failed teardown unlinks (leaks) the GPADL, so this always ends. */
void vmb_guest_dev_gpadls_free(struct vmb_guest *g, struct vmb_device *dev)
{
	struct vmb_gpadl *gp;

	pthread_mutex_lock(&g->lock);
	for (;;) {
		for (gp = g->gpadls; gp; gp = gp->next)
			if (gp->dev == dev && gp->state == VMB_GPADL_CREATED)
				break;
		if (!gp)
			break;
		dev_gpadl_release(g, dev, gp);
	}
	pthread_mutex_unlock(&g->lock);
}
