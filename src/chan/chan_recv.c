/*
 * Receiving: drain the in ring (copy-out or in place), validate every
 * packet, hand completions to their requesters and the rest to the
 * handler, or keep them for vmb_chan_recv() when there is no handler.
 *
 * One thread drains at a time. An interrupt that finds the drainer busy
 * leaves a re-run request instead of blocking, and whoever drops rx_lock
 * honours it, so no signal is lost and no interrupt thread ever waits
 * for a slow handler.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chan/chan_impl.h"
#include "ring/barrier.h"

static int parse_fail(struct vmb_channel *ch, const char *why)
{
	vmb_chan_fail(ch, why);
	return -EPROTO;
}

static int check_ranges(struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_range_iter it;
	struct vmb_gpa_range r;
	int rc = vmb_range_iter_init(&it, pkt);

	while (rc == 0 && (rc = vmb_range_next(&it, &r)) > 0)
		rc = 0;
	return rc < 0 ? parse_fail(ch, "GPA-direct ranges do not fit the descriptor") : 0;
}

static int check_xfer(struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	uint32_t cnt;

	if (pkt->ext_len < 8)
		return parse_fail(ch, "transfer-page packet without range count");
	memcpy(&cnt, (const uint8_t *)pkt->ext + 4, sizeof(cnt));
	if ((uint64_t)cnt * sizeof(struct vmbus_xfer_page_range) > pkt->ext_len - 8u)
		return parse_fail(ch, "transfer-page ranges do not fit the descriptor");
	return 0;
}

/* Validate a packet (d = private snapshot of its descriptor) and fill pkt. */
static int parse(struct vmb_channel *ch, const struct vmpacket_descriptor *d, const uint8_t *raw,
		 struct vmb_packet *pkt)
{
	char why[64];

	if (d->type != VM_PKT_DATA_INBAND && d->type != VM_PKT_DATA_USING_XFER_PAGES &&
	    d->type != VM_PKT_DATA_USING_GPA_DIRECT && d->type != VM_PKT_COMP) {
		snprintf(why, sizeof(why), "packet type %#x not allowed", d->type);
		return parse_fail(ch, why);
	}
	if (d->flags & ~VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED) {
		snprintf(why, sizeof(why), "packet flags %#x undefined", d->flags);
		return parse_fail(ch, why);
	}
	if (d->offset8 < 2 || d->offset8 > d->len8)
		return parse_fail(ch, "packet offset8 outside the packet");
	pkt->type = d->type;
	pkt->flags = d->flags;
	pkt->trans_id = d->trans_id;
	pkt->ext = raw + sizeof(*d);
	pkt->ext_len = d->offset8 * 8u - (uint32_t)sizeof(*d);
	pkt->data = raw + d->offset8 * 8u;
	pkt->len = (uint32_t)(d->len8 - d->offset8) * 8u;
	if (d->type == VM_PKT_DATA_USING_GPA_DIRECT)
		return check_ranges(ch, pkt);
	if (d->type == VM_PKT_DATA_USING_XFER_PAGES)
		return check_xfer(ch, pkt);
	return 0;
}

/* Copy-out buffer of the drain, allocated at first use: most channels of
 * an in-place reader never need it. */
static uint8_t *rx_buffer(struct vmb_channel *ch)
{
	if (!ch->rxbuf)
		ch->rxbuf = aligned_alloc(8, (ch->max_packet + 7u) & ~7u);
	return ch->rxbuf;
}

/*
 * Next packet into rp: in place when in_place and the packet is contiguous
 * in our view of the ring, else copied into buf (NULL: the drain's buffer).
 * *copied says which; a copied packet is consumed already.
 */
static int fetch(struct vmb_channel *ch, uint8_t *buf, bool in_place, struct vmb_ring_pkt *rp,
		 bool *copied)
{
	char why[80];
	int rc;

	if (atomic_load(&ch->error))
		return atomic_load(&ch->error);
	rc = in_place ? vmb_ring_peek(&ch->in, rp) : -ERANGE;
	*copied = rc == -ERANGE;
	if (*copied && !buf && !(buf = rx_buffer(ch))) {
		vmb_chan_fail_err(ch, -ENOMEM, "out of memory for a packet copy");
		return -ENOMEM;
	}
	if (*copied)
		rc = vmb_ring_read(&ch->in, buf, ch->max_packet, rp);
	if (rc == 0 && rp->len > ch->max_packet)
		rc = -EMSGSIZE;
	if (rc == 0 || rc == -EAGAIN)
		return rc;
	if (rc == -EMSGSIZE) {
		snprintf(why, sizeof(why), "packet of %u bytes exceeds max_packet %u", rp->len,
			 ch->max_packet);
		vmb_chan_fail(ch, why);
	} else {
		vmb_chan_fail(ch, ch->in.why ? ch->in.why : "in ring corrupt");
	}
	return -EPROTO;
}

static void release(struct vmb_channel *ch)
{
	int rc = vmb_ring_release(&ch->in);

	if (rc > 0)
		vmb_chan_signal_peer(ch);
	else if (rc < 0)
		vmb_chan_fail(ch, ch->in.why ? ch->in.why : "in ring corrupt");
}

/* ---- backlog (no handler set) ---------------------------------------- */

static bool backlog_full(const struct vmb_channel *ch)
{
	/* Bounded by one ring's worth: beyond that, leave packets in the
	 * ring so the peer is flow-controlled instead of us growing. */
	return !ch->handler && ch->bl_bytes >= ch->in.size;
}

static int backlog_push(struct vmb_channel *ch, const struct vmb_ring_pkt *rp)
{
	struct vmb_backlog *e = malloc(sizeof(*e) + ((rp->len + 7u) & ~7u));
	struct vmb_packet pkt;

	if (!e) {
		vmb_chan_fail_err(ch, -ENOMEM, "out of memory queueing a packet");
		return -ENOMEM;
	}
	e->next = NULL;
	e->desc = rp->desc;
	e->len = rp->len;
	memcpy(e->raw, rp->data, rp->len);
	/* Validate the private copy: that is what vmb_chan_recv() returns. */
	if (parse(ch, &e->desc, (const uint8_t *)e->raw, &pkt) < 0) {
		free(e);
		return -EPROTO;
	}
	if (ch->bl_tail)
		ch->bl_tail->next = e;
	else
		ch->bl_head = e;
	ch->bl_tail = e;
	ch->bl_bytes += e->len;
	return 0;
}

static struct vmb_backlog *backlog_pop(struct vmb_channel *ch, struct vmb_packet *pkt)
{
	struct vmb_backlog *e = ch->bl_head;

	ch->bl_head = e->next;
	if (!ch->bl_head)
		ch->bl_tail = NULL;
	ch->bl_bytes -= e->len;
	parse(ch, &e->desc, (const uint8_t *)e->raw, pkt);
	return e;
}

static int flush_backlog(struct vmb_channel *ch)
{
	struct vmb_packet pkt;
	int n = 0;

	while (ch->handler && ch->bl_head && !atomic_load(&ch->error)) {
		struct vmb_backlog *e = backlog_pop(ch, &pkt);

		ch->handler(ch->handler_arg, ch, &pkt);
		free(e);
		n++;
	}
	return n;
}

void vmb_chan_rx_fini(struct vmb_channel *ch)
{
	struct vmb_backlog *e;

	while ((e = ch->bl_head)) {
		ch->bl_head = e->next;
		free(e);
	}
	free(ch->bl_held);
	ch->bl_tail = ch->bl_held = NULL;
}

/* ---- draining -------------------------------------------------------- */

static int dispatch(struct vmb_channel *ch, const struct vmb_ring_pkt *rp)
{
	struct vmb_packet pkt;

	if (rp->desc.type != VM_PKT_COMP && !ch->handler)
		return backlog_push(ch, rp);
	if (parse(ch, &rp->desc, rp->data, &pkt) < 0)
		return -EPROTO;
	if (pkt.type == VM_PKT_COMP)
		vmb_req_complete(ch, &pkt);
	else
		ch->handler(ch->handler_arg, ch, &pkt);
	return 0;
}

/*
 * Space is handed back every quarter ring, not only once the ring is
 * empty: a blocked producer then refills while we go on reading, instead
 * of the two ends taking turns.
 */
static int drain(struct vmb_channel *ch)
{
	uint32_t freed = 0, step = ch->in.size / 4;
	struct vmb_ring_pkt rp;
	bool copied;
	int n = 0;

	while (!backlog_full(ch) && fetch(ch, NULL, !ch->copy_out, &rp, &copied) == 0) {
		if (dispatch(ch, &rp) < 0)
			break;
		if (!copied)
			vmb_ring_consume(&ch->in, &rp);
		vmb_chan_count(&ch->st.rx_packets);
		n++;
		freed += rp.len + VMBUS_PKT_TRAILER_SIZE;
		if (freed >= step) {
			release(ch);
			freed = 0;
		}
	}
	release(ch);
	return n;
}

static bool rx_stop(struct vmb_channel *ch)
{
	return atomic_load(&ch->error) || atomic_load(&ch->closing) || backlog_full(ch);
}

/*
 * The ring is drained and still masked: wait up to the poll budget for
 * more. Data that arrives meanwhile costs the peer no signal (it sees the
 * mask); true when there is some to drain.
 */
static bool poll_more(struct vmb_channel *ch)
{
	uint32_t ns = atomic_load_explicit(&ch->poll_ns, memory_order_relaxed);
	struct timespec end;

	if (ns == 0 || rx_stop(ch))
		return false;
	end = vmb_chan_deadline(ns);
	do {
		for (int i = 0; i < 16; i++) {
			if (!vmb_ring_empty(&ch->in))
				return true;
			vmb_cpu_relax();
		}
	} while (!vmb_chan_expired(&end) && !atomic_load(&ch->closing));
	return false;
}

static int drain_ended(struct vmb_channel *ch, int n)
{
	if (n > 0 && ch->drain_end)
		ch->drain_end(ch->drain_end_arg, ch);
	return n;
}

/* Drain with the interrupt masked, then unmask and look again (3.9). */
static int rx_service(struct vmb_channel *ch)
{
	int n = drain_ended(ch, flush_backlog(ch)), k;

	do {
		vmb_ring_mask(&ch->in);
		/* Poll only after real work: an interrupt that only freed ring
		 * space for our sender should not burn the sender's CPU. */
		do {
			k = drain_ended(ch, drain(ch));
			n += k;
		} while (k > 0 && poll_more(ch));
	} while (vmb_ring_unmask(&ch->in) && !rx_stop(ch));
	return n;
}

int vmb_chan_run_rx(struct vmb_channel *ch)
{
	int n = -1;

	atomic_store(&ch->rx_rerun, true);
	while (atomic_load(&ch->rx_rerun)) {
		if (pthread_mutex_trylock(&ch->rx_lock) != 0)
			return n;
		while (atomic_exchange(&ch->rx_rerun, false))
			n = (n < 0 ? 0 : n) + rx_service(ch);
		pthread_mutex_unlock(&ch->rx_lock);
	}
	return n;
}

void vmb_chan_rx_unlock(struct vmb_channel *ch)
{
	pthread_mutex_unlock(&ch->rx_lock);
	if (atomic_load(&ch->rx_rerun))
		vmb_chan_run_rx(ch);
}

void vmb_chan_interrupt(struct vmb_channel *ch)
{
	bool waiter = atomic_load(&ch->tx_waiters) > 0;

	if (atomic_load(&ch->closing))
		return;
	atomic_fetch_add(&ch->st.interrupts, 1);
	if (waiter) {
		/* Under tx_lock: a sender between vmb_ring_want_space() and its
		 * wait holds it, so the wake-up cannot fall into that gap. */
		pthread_mutex_lock(&ch->tx_lock);
		pthread_cond_broadcast(&ch->tx_cv);
		pthread_mutex_unlock(&ch->tx_lock);
	}
	if (vmb_chan_run_rx(ch) == 0 && !waiter)
		atomic_fetch_add(&ch->st.needless_interrupts, 1);
}

void vmb_chan_set_poll(struct vmb_channel *ch, uint32_t ns)
{
	if (ns > VMB_CHAN_POLL_MAX_NS)
		ns = VMB_CHAN_POLL_MAX_NS;
	atomic_store(&ch->poll_ns, ns);
}

void vmb_chan_set_handler(struct vmb_channel *ch, vmb_packet_fn fn, void *arg)
{
	pthread_mutex_lock(&ch->rx_lock);
	ch->handler = fn;
	ch->handler_arg = arg;
	/* Packets queued while there was no handler go to the new one. */
	if (fn && ch->bl_head)
		atomic_store(&ch->rx_rerun, true);
	vmb_chan_rx_unlock(ch);
}

void vmb_chan_set_drain_end(struct vmb_channel *ch, vmb_drain_fn fn, void *arg)
{
	pthread_mutex_lock(&ch->rx_lock);
	ch->drain_end = fn;
	ch->drain_end_arg = arg;
	vmb_chan_rx_unlock(ch);
}

/* ---- polling --------------------------------------------------------- */

static int recv_ring(struct vmb_channel *ch, struct vmb_packet *pkt)
{
	struct vmb_ring_pkt rp;
	bool copied;
	int rc;

	if (!ch->pollbuf) {
		ch->pollbuf = aligned_alloc(8, (ch->max_packet + 7u) & ~7u);
		if (!ch->pollbuf)
			return -ENOMEM;
	}
	/* Always a private copy: the packet must outlive later drains. */
	while ((rc = fetch(ch, ch->pollbuf, false, &rp, &copied)) == 0) {
		rc = parse(ch, &rp.desc, rp.data, pkt);
		if (rc < 0)
			break;
		vmb_chan_count(&ch->st.rx_packets);
		if (pkt->type != VM_PKT_COMP)
			break;
		vmb_req_complete(ch, pkt);
	}
	release(ch);
	return rc;
}

int vmb_chan_recv(struct vmb_channel *ch, struct vmb_packet *pkt)
{
	int rc;

	pthread_mutex_lock(&ch->rx_lock);
	free(ch->bl_held);
	ch->bl_held = NULL;
	rc = atomic_load(&ch->error);
	if (rc == 0 && ch->bl_head)
		ch->bl_held = backlog_pop(ch, pkt);
	else if (rc == 0)
		rc = recv_ring(ch, pkt);
	vmb_chan_rx_unlock(ch);
	return rc;
}
