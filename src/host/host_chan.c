/*
 * Host side of an open channel: map the guest's ring GPADL, build the
 * vmb_channel, route the guest's signals to it and ours to the guest.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_priv.h"
#include "vmbus/ring.h"

/*
 * The seed: a guest that signals when its ring did not go empty ->
 * non-empty is misbehaving; past this many needless signals in one second
 * the host stops listening to the channel for a while (the guest's work
 * is picked up when the pause ends, so nothing is lost).
 */
#define NEEDLESS_PER_SEC_LIMIT 10000u
#define THROTTLE_NS 100000000ull /* 100 ms */

static void hc_signal(void *ctx)
{
	struct host_chan *hc = ctx;
	struct vmb_host *h = hc->h;
	uint32_t version = vmb_server_version(h->srv);

	if (version < VERSION_WIN8) {
		/* Legacy: relid bit in the H->G half of the interrupt page, then flag 0 on VP 0. */
		uint8_t *page = vmb_host_part_gpa(h->part, vmb_server_interrupt_page(h->srv),
						  HV_PAGE_SIZE);

		if (!page)
			return;
		__atomic_fetch_or(&page[hc->relid / 8], (uint8_t)(1u << (hc->relid % 8)),
				  __ATOMIC_SEQ_CST);
		vmb_host_part_signal(h->part, 0, VMBUS_MESSAGE_SINT, 0);
		return;
	}
	vmb_host_part_signal(h->part, __atomic_load_n(&hc->vp, __ATOMIC_ACQUIRE),
			     VMBUS_MESSAGE_SINT, hc->event_flag);
}

static void *hc_gpa(void *ctx, uint64_t gpa, size_t len)
{
	struct host_chan *hc = ctx;

	return vmb_host_part_gpa(hc->h->part, gpa, len);
}

static void hc_log(void *ctx, const char *msg)
{
	struct host_chan *hc = ctx;

	vmb_host_log(hc->h, "%s/%u relid %u: %s", hc->v->d.name, hc->sub, hc->relid, msg);
}

static const struct vmb_chan_ops hc_ops = {
	.signal = hc_signal,
	.gpa = hc_gpa,
	.log = hc_log,
};

/* Count needless signals and decide whether the channel is being throttled. */
static bool hc_throttled(struct host_chan *hc, uint64_t now)
{
	struct vmb_chan_stats st;

	if (now < hc->throttled_until_ns)
		return true;
	vmb_chan_get_stats(hc->ch, &st);
	uint64_t fresh = st.needless_interrupts - hc->last_needless;

	hc->last_needless = st.needless_interrupts;
	hc->h->needless_signals += fresh;
	if (now - hc->window_start_ns > 1000000000ull) {
		hc->window_start_ns = now;
		hc->window_needless = 0;
	}
	hc->window_needless += fresh;
	if (hc->window_needless <= NEEDLESS_PER_SEC_LIMIT)
		return false;
	if (!hc->throttled_until_ns)
		hc->h->nthrottled++; /* not already waiting for catch-up */
	hc->throttled_until_ns = now + THROTTLE_NS;
	hc->window_needless = 0;
	hc->h->throttled++;
	vmb_host_log(hc->h, "%s relid %u: guest sends needless signals, throttling for 100 ms",
		     hc->v->d.name, hc->relid);
	return true;
}

static void hc_port(void *arg)
{
	struct host_chan *hc = arg;

	if (hc_throttled(hc, vmb_host_now_ns()))
		return;
	vmb_chan_interrupt(hc->ch);
}

static int hc_map(struct host_chan *hc, const struct vmb_gpadl_view *gv, uint32_t down)
{
	struct vmb_host_part *part = hc->h->part;
	int rc;

	rc = vmb_host_part_map(part, gv->pfns, down, true, &hc->in_map);
	if (rc < 0)
		return rc;
	rc = vmb_host_part_map(part, gv->pfns + down, gv->count - down, true, &hc->out_map);
	if (rc < 0) {
		vmb_host_part_unmap(part, &hc->in_map);
		return rc;
	}
	return 0;
}

static void hc_free(struct host_chan *hc)
{
	if (hc->ch)
		vmb_chan_destroy(hc->ch);
	if (hc->out_map.addr)
		vmb_host_part_unmap(hc->h->part, &hc->out_map);
	if (hc->in_map.addr)
		vmb_host_part_unmap(hc->h->part, &hc->in_map);
	free(hc);
}

static int hc_create_chan(struct host_chan *hc)
{
	uint8_t *in = hc->in_map.addr, *out = hc->out_map.addr;
	struct vmb_chan_config cc = {
		.out_hdr = out,
		.out_data = out + HV_PAGE_SIZE,
		.out_size = (uint32_t)((hc->out_map.npages - 1) * HV_PAGE_SIZE),
		.in_hdr = in,
		.in_data = in + HV_PAGE_SIZE,
		.in_size = (uint32_t)((hc->in_map.npages - 1) * HV_PAGE_SIZE),
		/* Contiguous rings are views into guest RAM, mapped once. */
		.ring_flags = hc->in_map.view || hc->out_map.view ? 0 : VMB_RING_DOUBLE_MAPPED,
		.copy_out = hc->v->d.copy_out,
		.max_packet = hc->v->d.max_packet ? hc->v->d.max_packet : 65536,
		.relid = hc->relid,
		.ops = &hc_ops,
		.ops_ctx = hc,
	};

	/* The host owns the feature bit of the ring it produces into. */
	((struct vmbus_ring_header *)out)->feature_bits |= VMBUS_RING_FEAT_PENDING_SEND_SZ;
	return vmb_chan_create(&cc, &hc->ch);
}

uint32_t vmb_host_chan_open(struct vmb_host *h, struct vmb_server_channel *sch,
			    const struct vmb_open_params *p)
{
	struct vmb_vsp *v = vmb_srv_chan_dev(sch);
	struct vmb_gpadl_view gv;
	struct host_chan *hc;
	int rc;

	if (!v || v->removing || vmb_server_gpadl(h->srv, p->gpadl, &gv) < 0)
		return VMBUS_STATUS_FAILURE;
	hc = calloc(1, sizeof(*hc));
	if (!hc)
		return VMBUS_STATUS_FAILURE;
	hc->h = h;
	hc->v = v;
	hc->sub = vmb_srv_chan_offer(sch)->sub_channel_index;
	hc->relid = vmb_srv_chan_relid(sch);
	hc->conn_id = p->connection_id;
	hc->event_flag = p->event_flag;
	hc->vp = p->target_vp;
	hc->window_start_ns = vmb_host_now_ns();

	rc = hc_map(hc, &gv, p->downstream_pages);
	if (rc == 0)
		rc = hc_create_chan(hc);
	/* 0.13 guests signal through the shared legacy port instead. */
	hc->own_port = vmb_server_version(h->srv) >= VERSION_WIN7;
	if (rc == 0 && hc->own_port)
		rc = vmb_host_part_port_add(h->part, hc->conn_id, hc_port, hc);
	if (rc < 0) {
		vmb_host_log(h, "%s relid %u: cannot open (%s)", v->d.name, hc->relid,
			     strerror(-rc));
		hc_free(hc);
		return VMBUS_STATUS_FAILURE;
	}
	vmb_srv_chan_set_priv(sch, hc);
	if (v->d.ops->open(v->d.dev, v, hc->sub, hc->ch, p) != 0) {
		if (hc->own_port)
			vmb_host_part_port_remove(h->part, hc->conn_id);
		vmb_srv_chan_set_priv(sch, NULL);
		hc_free(hc);
		return VMBUS_STATUS_FAILURE;
	}
	/* Like Hyper-V, poke the device once so host-initiated protocols start. */
	vmb_chan_interrupt(hc->ch);
	return 0;
}

/* Resume channels whose throttling pause is over: pick up their work. */
void vmb_host_chan_catch_up(struct vmb_host *h)
{
	uint64_t now;

	/* Called after every loop step: only walk the channels when one is paused. */
	if (!h->nthrottled)
		return;
	now = vmb_host_now_ns();
	for (struct vmb_server_channel *c = vmb_server_next(h->srv, NULL); c;
	     c = vmb_server_next(h->srv, c)) {
		struct host_chan *hc = vmb_srv_chan_priv(c);

		if (hc && hc->throttled_until_ns && now >= hc->throttled_until_ns) {
			hc->throttled_until_ns = 0;
			h->nthrottled--;
			vmb_chan_interrupt(hc->ch);
		}
	}
}

/*
 * 0.13 guests have no per-channel connection: they set the relid bit in
 * the G->H half of the interrupt page and signal connection 2.
 */
static void hc_legacy_port(void *arg)
{
	struct vmb_host *h = arg;
	uint8_t *page = vmb_host_part_gpa(h->part, vmb_server_interrupt_page(h->srv),
					  HV_PAGE_SIZE);

	if (!page)
		return;
	for (struct vmb_server_channel *c = vmb_server_next(h->srv, NULL); c;
	     c = vmb_server_next(h->srv, c)) {
		uint32_t relid = vmb_srv_chan_relid(c);
		uint8_t *byte = &page[HV_PAGE_SIZE / 2 + relid / 8];
		uint8_t bit = (uint8_t)(1u << (relid % 8));
		struct host_chan *hc = vmb_srv_chan_priv(c);

		if ((__atomic_fetch_and(byte, (uint8_t)~bit, __ATOMIC_SEQ_CST) & bit) && hc)
			hc_port(hc);
	}
}

void vmb_host_chan_connected(struct vmb_host *h, uint32_t version)
{
	if (version < VERSION_WIN7)
		vmb_host_part_port_add(h->part, VMBUS_EVENT_CONNECTION_ID, hc_legacy_port, h);
	else
		vmb_host_part_port_remove(h->part, VMBUS_EVENT_CONNECTION_ID);
}

void vmb_host_chan_close(struct vmb_host *h, struct vmb_server_channel *sch)
{
	struct host_chan *hc = vmb_srv_chan_priv(sch);

	if (!hc)
		return;
	if (hc->own_port)
		vmb_host_part_port_remove(h->part, hc->conn_id);
	if (hc->throttled_until_ns)
		h->nthrottled--;
	if (hc->v->d.ops->close)
		hc->v->d.ops->close(hc->v->d.dev, hc->v, hc->sub, hc->ch);
	vmb_srv_chan_set_priv(sch, NULL);
	hc_free(hc);
}
