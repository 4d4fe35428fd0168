/*
 * Opening and closing a device's channels (PROTOCOL.md 1.7, 3.1): one
 * GPADL holds the G->H ring (header + data) followed by the H->G ring.
 * Its pages are normally contiguous and each ring is then a view into
 * guest RAM; otherwise a ring is mapped with its data twice.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest_priv.h"
#include "vmbus/ring.h"

#define VMB_DEFAULT_RING (64u * 1024)
#define VMB_MAX_RING	 (256u * 1024 * 1024)

static void chan_signal(void *ctx)
{
	struct vmb_gchan *gc = ctx;

	vmb_guest_signal_chan(gc->dev->g, gc);
}

static void *chan_gpa(void *ctx, uint64_t gpa, size_t len)
{
	struct vmb_gchan *gc = ctx;

	return vmb_guest_part_gpa(gc->dev->g->part, gpa, len);
}

static void chan_log(void *ctx, const char *msg)
{
	struct vmb_gchan *gc = ctx;

	vmb_guest_log(gc->dev->g, "relid %u: %s", gc->relid, msg);
}

static const struct vmb_chan_ops guest_chan_ops = {
    .signal = chan_signal,
    .gpa = chan_gpa,
    .log = chan_log,
};

static struct vmb_gchan *find_index(struct vmb_device *dev, uint16_t index)
{
	for (struct vmb_gchan *gc = dev->chans; gc; gc = gc->next)
		if (gc->index == index)
			return gc;
	return NULL;
}

static uint32_t ring_bytes(uint32_t v)
{
	return v ? v : VMB_DEFAULT_RING;
}

static bool ring_size_ok(uint32_t v)
{
	return v % HV_PAGE_SIZE == 0 && v <= VMB_MAX_RING;
}

static void unmap_rings(struct vmb_guest *g, struct vmb_gchan *gc)
{
	if (gc->out_map.addr)
		vmb_guest_part_unmap(g->part, &gc->out_map);
	if (gc->in_map.addr)
		vmb_guest_part_unmap(g->part, &gc->in_map);
	memset(&gc->out_map, 0, sizeof(gc->out_map));
	memset(&gc->in_map, 0, sizeof(gc->in_map));
}

static int map_rings(struct vmb_guest *g, struct vmb_gchan *gc, size_t out_pages)
{
	struct vmb_gpadl *gp = gc->ring;
	int rc;

	rc = vmb_guest_part_map(g->part, gp->pfns, out_pages, true, &gc->out_map);
	if (!rc)
		rc = vmb_guest_part_map(g->part, gp->pfns + out_pages, gp->npages - out_pages, true,
					&gc->in_map);
	if (rc) {
		unmap_rings(g, gc);
		return rc;
	}
	vmb_ring_header_reset(gc->out_map.addr);
	vmb_ring_header_reset(gc->in_map.addr);
	return 0;
}

static int create_chan(struct vmb_gchan *gc, const struct vmb_open_opts *o, uint32_t send,
		       uint32_t recv, struct vmb_channel **ch)
{
	struct vmb_chan_config cfg = {
	    .out_hdr = gc->out_map.addr,
	    .out_data = (uint8_t *)gc->out_map.addr + HV_PAGE_SIZE,
	    .out_size = send,
	    .in_hdr = gc->in_map.addr,
	    .in_data = (uint8_t *)gc->in_map.addr + HV_PAGE_SIZE,
	    .in_size = recv,
	    /* Contiguous rings are views into guest RAM, mapped once. */
	    .ring_flags = gc->out_map.view || gc->in_map.view ? 0 : VMB_RING_DOUBLE_MAPPED,
	    .copy_out = o->copy_out,
	    .max_packet = o->max_packet ? o->max_packet : 64u * 1024,
	    .relid = gc->relid,
	    .ops = &guest_chan_ops,
	    .ops_ctx = gc,
	};
	int rc = vmb_chan_create(&cfg, ch);

	if (!rc)
		vmb_chan_set_handler(*ch, o->handler, o->arg);
	return rc;
}

static bool open_settled(void *arg)
{
	struct vmb_gchan *gc = arg;

	return gc->open_done || gc->rescinded;
}

/* GPADL is up: OPENCHANNEL and wait for the result (g->lock held). */
static int open_locked(struct vmb_guest *g, struct vmb_gchan *gc, const struct vmb_open_opts *o,
		       uint32_t out_pages)
{
	const struct vmb_driver *drv = gc->dev->drv;
	int rc;

	if (!gc->cc || gc->rescinded)
		return -ENODEV;
	gc->vp = vmb_guest_pick_vp(g->vp_online, g->vp_count, drv && drv->high_speed, &g->rr);
	gc->vp_old = gc->vp;
	gc->open_done = false;
	gc->signal_conn = vmb_cli_chan_signal_conn(gc->cc);
	rc = vmb_client_open(g->cli, gc->cc, gc->ring->handle, out_pages, gc->vp, o->userdata,
			     o->userdata_len);
	if (!rc)
		rc = vmb_guest_wait_until(g, open_settled, gc);
	if (rc)
		return rc;
	if (!gc->open_done)
		return -ENODEV;
	if (gc->open_status) {
		vmb_guest_log(g, "relid %u: host refused open (status %#x)", gc->relid,
			      gc->open_status);
		return -EIO;
	}
	return 0;
}

static int setup_ring(struct vmb_guest *g, struct vmb_gchan *gc, uint32_t send, uint32_t recv)
{
	size_t out_pages = 1 + send / HV_PAGE_SIZE;
	struct vmb_gpadl *gp = calloc(1, sizeof(*gp));
	int rc;

	if (!gp)
		return -ENOMEM;
	rc = vmb_gpadl_pages_alloc(g, gp, out_pages + 1 + recv / HV_PAGE_SIZE);
	if (rc) {
		free(gp);
		return rc;
	}
	/* Under the lock: vmb_guest_va_to_pfn() walks the ring mappings. */
	pthread_mutex_lock(&g->lock);
	gc->ring = gp;
	rc = map_rings(g, gc, out_pages);
	if (rc)
		gc->ring = NULL;
	pthread_mutex_unlock(&g->lock);
	if (rc) {
		vmb_gpadl_pages_free(g, gp);
		free(gp);
	}
	return rc;
}

/* Free ring memory, unless the host may still own it (keep_pages: leak it). */
static void free_ring(struct vmb_guest *g, struct vmb_gchan *gc, bool keep_pages)
{
	struct vmb_gpadl *gp;

	pthread_mutex_lock(&g->lock);
	gp = gc->ring;
	gc->ring = NULL;
	if (!keep_pages)
		unmap_rings(g, gc);
	pthread_mutex_unlock(&g->lock);
	if (!keep_pages) {
		vmb_gpadl_pages_free(g, gp);
		free(gp);
	}
}

static void open_fail(struct vmb_guest *g, struct vmb_gchan *gc, struct vmb_channel *ch,
		      int stage_rc, bool gpadl_up)
{
	bool keep = stage_rc == -ETIMEDOUT;

	pthread_mutex_lock(&g->lock);
	if (gpadl_up && vmb_gpadl_teardown_locked(g, gc, gc->ring))
		keep = true;
	pthread_mutex_unlock(&g->lock);
	if (ch)
		vmb_chan_destroy(ch);
	free_ring(g, gc, keep);
}

static int open_gchan(struct vmb_guest *g, struct vmb_gchan *gc, const struct vmb_open_opts *o,
		      struct vmb_channel **out)
{
	uint32_t send = ring_bytes(o->send_ring), recv = ring_bytes(o->recv_ring);
	struct vmb_channel *ch = NULL;
	int rc;

	if (!ring_size_ok(send) || !ring_size_ok(recv))
		return -EINVAL;
	rc = setup_ring(g, gc, send, recv);
	if (!rc)
		rc = create_chan(gc, o, send, recv, &ch);
	if (rc) {
		if (gc->ring)
			free_ring(g, gc, false);
		return rc;
	}
	pthread_mutex_lock(&g->lock);
	rc = vmb_gpadl_create_locked(g, gc, gc->ring);
	if (rc) {
		pthread_mutex_unlock(&g->lock);
		open_fail(g, gc, ch, rc, false);
		return rc;
	}
	rc = open_locked(g, gc, o, 1 + send / HV_PAGE_SIZE);
	if (!rc) {
		gc->ch = ch;
		/* Published under the lock so a rescind right after finds it. */
		atomic_store(&g->relid_tab[gc->relid], ch);
		vmb_guest_sysfs_kick(g);
	}
	pthread_mutex_unlock(&g->lock);
	if (rc) {
		/* A late OPENCHANNEL_RESULT must not find a half-open channel. */
		open_fail(g, gc, ch, rc == -ETIMEDOUT ? rc : 0, true);
		return rc;
	}
	/* The host may have written and signalled before we published. */
	vmb_chan_interrupt(ch);
	*out = ch;
	return 0;
}

/* Claim gc for an open/close so two callers cannot race on it. */
static int claim(struct vmb_guest *g, struct vmb_gchan *gc, bool want_open)
{
	int rc = 0;

	pthread_mutex_lock(&g->lock);
	if (gc->busy)
		rc = -EBUSY;
	else if (want_open && (gc->rescinded || !gc->cc || gc->dev->removing))
		rc = -ENODEV;
	else if (want_open && gc->ch)
		rc = -EALREADY;
	else if (!want_open && !gc->ch)
		rc = -ENOTCONN;
	else if (gc->relid >= VMB_RELID_TABLE)
		rc = -ERANGE;
	if (!rc)
		gc->busy = true;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

static void unclaim(struct vmb_guest *g, struct vmb_gchan *gc)
{
	pthread_mutex_lock(&g->lock);
	gc->busy = false;
	vmb_guest_sysfs_kick(g);
	vmb_guest_wake(g);
	pthread_mutex_unlock(&g->lock);
}

static int open_index(struct vmb_device *dev, uint16_t index, const struct vmb_open_opts *o,
		      struct vmb_channel **ch)
{
	struct vmb_guest *g = dev->g;
	struct vmb_gchan *gc;
	int rc;

	if (!o || !ch)
		return -EINVAL;
	/* Opening waits for the host, which needs the VP threads. */
	if (vmb_guest_cur_vp >= 0)
		return -EDEADLK;
	pthread_mutex_lock(&g->lock);
	gc = find_index(dev, index);
	pthread_mutex_unlock(&g->lock);
	if (!gc)
		return -ENOENT;
	rc = claim(g, gc, true);
	if (rc)
		return rc;
	rc = open_gchan(g, gc, o, ch);
	unclaim(g, gc);
	return rc;
}

int vmb_device_open(struct vmb_device *dev, const struct vmb_open_opts *o, struct vmb_channel **ch)
{
	return open_index(dev, 0, o, ch);
}

int vmb_device_open_sub(struct vmb_device *dev, uint16_t index, const struct vmb_open_opts *o,
			struct vmb_channel **ch)
{
	if (index == 0)
		return -EINVAL;
	return open_index(dev, index, o, ch);
}

static void close_claimed(struct vmb_guest *g, struct vmb_gchan *gc)
{
	struct vmb_channel *ch;
	int rc;

	atomic_store(&g->relid_tab[gc->relid], NULL);
	vmb_guest_grace(g);
	pthread_mutex_lock(&g->lock);
	ch = gc->ch;
	gc->ch = NULL;
	/* After a rescind the host ignores CLOSECHANNEL; don't send it. */
	if (gc->cc && vmb_cli_chan_state(gc->cc) == VMB_CCH_OPEN && !vmb_guest_host_gone(g)) {
		rc = vmb_client_close(g->cli, gc->cc);
		if (rc)
			vmb_guest_log(g, "relid %u: close: %s", gc->relid, strerror(-rc));
	}
	rc = vmb_gpadl_teardown_locked(g, gc, gc->ring);
	pthread_mutex_unlock(&g->lock);
	vmb_chan_destroy(ch);
	free_ring(g, gc, rc != 0);
}

void vmb_guest_gchan_close(struct vmb_guest *g, struct vmb_gchan *gc)
{
	if (claim(g, gc, false))
		return;
	close_claimed(g, gc);
	unclaim(g, gc);
}

static struct vmb_gchan *find_chan(struct vmb_device *dev, const struct vmb_channel *ch)
{
	for (struct vmb_gchan *gc = dev->chans; gc; gc = gc->next)
		if (gc->ch == ch)
			return gc;
	return NULL;
}

int vmb_device_close(struct vmb_device *dev, struct vmb_channel *ch)
{
	struct vmb_guest *g = dev->g;
	struct vmb_gchan *gc;
	int rc;

	if (!ch)
		return -EINVAL;
	/* The grace period waits for every VP thread, this one included. */
	if (vmb_guest_cur_vp >= 0)
		return -EDEADLK;
	pthread_mutex_lock(&g->lock);
	gc = find_chan(dev, ch);
	pthread_mutex_unlock(&g->lock);
	if (!gc)
		return -ENOENT;
	rc = claim(g, gc, false);
	if (rc)
		return rc;
	close_claimed(g, gc);
	unclaim(g, gc);
	return 0;
}

uint32_t vmb_channel_vp(struct vmb_device *dev, const struct vmb_channel *ch)
{
	struct vmb_gchan *gc;
	uint32_t vp = 0;

	pthread_mutex_lock(&dev->g->lock);
	gc = find_chan(dev, ch);
	if (gc)
		vp = gc->vp;
	pthread_mutex_unlock(&dev->g->lock);
	return vp;
}
