/*
 * The guest's glue between partition, client and channels: partition
 * callbacks (messages, event flags, host loss), client callbacks, the
 * outbound message FIFO and its poster thread, and the G->H signal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "guest/guest_priv.h"
#include "vmbus/trace.h"

/* ---- posting ------------------------------------------------------- */

/*
 * Called under g->lock: only queue. Posting here could deadlock: the host
 * back-pressures its post queue until it can deliver its own messages,
 * which needs a VP thread, which needs g->lock.
 */
static int cli_post(void *ctx, uint32_t conn_id, const void *msg, size_t len)
{
	struct vmb_guest *g = ctx;
	struct vmb_outmsg *m;

	if (len > sizeof(m->msg))
		return HV_STATUS_INVALID_PARAMETER;
	m = malloc(sizeof(*m));
	if (!m)
		return HV_STATUS_INSUFFICIENT_MEMORY;
	m->conn_id = conn_id;
	m->len = len;
	memcpy(m->msg, msg, len);
	m->next = NULL;
	if (g->trace)
		vmb_trace_msg(g->trace, 0, vmb_guest_cur_vp < 0 ? 0 : (uint32_t)vmb_guest_cur_vp,
			      conn_id, msg, len);
	pthread_mutex_lock(&g->pq_lock);
	if (g->pq_tail)
		g->pq_tail->next = m;
	else
		g->pq_head = m;
	g->pq_tail = m;
	pthread_cond_signal(&g->pq_cond);
	pthread_mutex_unlock(&g->pq_lock);
	return HV_STATUS_SUCCESS;
}

static void host_lost(struct vmb_guest *g)
{
	pthread_mutex_lock(&g->lock);
	atomic_store(&g->host_down, true);
	vmb_guest_wake(g);
	pthread_mutex_unlock(&g->lock);
}

static struct vmb_outmsg *pq_pop(struct vmb_guest *g)
{
	struct vmb_outmsg *m;

	pthread_mutex_lock(&g->pq_lock);
	while (!g->pq_head && !g->pq_stop)
		pthread_cond_wait(&g->pq_cond, &g->pq_lock);
	m = g->pq_head;
	if (m) {
		g->pq_head = m->next;
		if (!g->pq_head)
			g->pq_tail = NULL;
	}
	pthread_mutex_unlock(&g->pq_lock);
	return m;
}

void *vmb_guest_poster_main(void *arg)
{
	struct vmb_guest *g = arg;
	struct vmb_outmsg *m;
	int st;

	while ((m = pq_pop(g))) {
		if (vmb_guest_host_gone(g)) {
			free(m);
			continue;
		}
		st = vmb_guest_part_post(g->part, m->conn_id, HVMSG_VMBUS, m->msg, m->len);
		if (st != HV_STATUS_SUCCESS) {
			vmb_guest_log(g,
				      "post %s to connection %u failed (HV status %d): host gone",
				      vmb_msg_name(((const uint32_t *)m->msg)[0]), m->conn_id, st);
			host_lost(g);
		}
		free(m);
	}
	return NULL;
}

/* Stops after the FIFO drained (UNLOAD is the last message posted). */
void vmb_guest_poster_stop(struct vmb_guest *g)
{
	if (!g->poster_started)
		return;
	pthread_mutex_lock(&g->pq_lock);
	g->pq_stop = true;
	pthread_cond_signal(&g->pq_cond);
	pthread_mutex_unlock(&g->pq_lock);
	pthread_join(g->poster, NULL);
	g->poster_started = false;
}

/* ---- G->H channel signal (PROTOCOL.md 2.6) ------------------------ */

void vmb_guest_signal_chan(struct vmb_guest *g, const struct vmb_gchan *gc)
{
	int st;

	if (atomic_load(&g->version) < VERSION_WIN8) {
		uint8_t *send = g->int_page + HV_PAGE_SIZE / 2;

		__atomic_fetch_or(&send[gc->relid / 8], (uint8_t)(1u << (gc->relid % 8)),
				  __ATOMIC_SEQ_CST);
	}
	st = vmb_guest_part_signal(g->part, gc->signal_conn, 0);
	if (st != HV_STATUS_SUCCESS && !vmb_guest_host_gone(g))
		vmb_guest_log(g, "relid %u: signal connection %u failed (HV status %d)", gc->relid,
			      gc->signal_conn, st);
}

/* ---- partition callbacks (VP threads) ------------------------------ */

static void dispatch_relid(struct vmb_guest *g, uint32_t relid)
{
	struct vmb_channel *ch;

	if (relid == 0 || relid >= VMB_RELID_TABLE)
		return;
	ch = atomic_load(&g->relid_tab[relid]);
	if (ch)
		vmb_chan_interrupt(ch);
}

/* Legacy hosts set the relid bit in the H->G half, then event flag 0. */
static void scan_interrupt_page(struct vmb_guest *g)
{
	uint64_t *words = (uint64_t *)(void *)g->int_page;
	uint64_t w;

	for (uint32_t i = 0; i < VMB_RELID_TABLE / 64; i++) {
		if (!__atomic_load_n(&words[i], __ATOMIC_RELAXED))
			continue;
		w = __atomic_exchange_n(&words[i], 0, __ATOMIC_ACQ_REL);
		while (w) {
			unsigned bit = (unsigned)__builtin_ctzll(w);

			w &= w - 1;
			dispatch_relid(g, i * 64 + bit);
		}
	}
}

static void part_event(void *ctx, uint32_t vp, uint32_t flag)
{
	struct vmb_guest *g = ctx;

	vmb_guest_cur_vp = (int)vp;
	if (flag == 0) {
		if (atomic_load(&g->version) < VERSION_WIN8)
			scan_interrupt_page(g);
		return;
	}
	dispatch_relid(g, flag);
}

/*
 * A rescinded channel's waiters (a probe blocked in a request, say) must
 * fail now, not at their timeout. Done after dropping g->lock because it
 * runs completion callbacks; the relid table plus the close path's grace
 * period keep the channel alive meanwhile.
 */
static void shutdown_rescinded(struct vmb_guest *g)
{
	uint64_t pend[VMB_RELID_TABLE / 64];
	struct vmb_channel *ch;

	pthread_mutex_lock(&g->lock);
	memcpy(pend, g->shutdown_pending, sizeof(pend));
	memset(g->shutdown_pending, 0, sizeof(pend));
	g->any_shutdown = false;
	pthread_mutex_unlock(&g->lock);
	for (uint32_t i = 0; i < VMB_RELID_TABLE / 64; i++) {
		while (pend[i]) {
			unsigned bit = (unsigned)__builtin_ctzll(pend[i]);

			pend[i] &= pend[i] - 1;
			ch = atomic_load(&g->relid_tab[i * 64 + bit]);
			if (ch)
				vmb_chan_shutdown(ch);
		}
	}
}

static void part_message(void *ctx, uint32_t vp, uint32_t sint, uint32_t type, const void *payload,
			 size_t len)
{
	struct vmb_guest *g = ctx;
	bool shut;

	vmb_guest_cur_vp = (int)vp;
	if (type != HVMSG_VMBUS) {
		if (!atomic_flag_test_and_set(&g->timer_logged))
			vmb_guest_log(g, "vp %u sint %u: ignoring SynIC message type %#x", vp, sint,
				      type);
		return;
	}
	if (g->trace)
		vmb_trace_msg(g->trace, 1, vp, sint, payload, len);
	pthread_mutex_lock(&g->lock);
	if (g->cli)
		vmb_client_recv(g->cli, payload, len);
	shut = g->any_shutdown;
	pthread_mutex_unlock(&g->lock);
	if (shut)
		shutdown_rescinded(g);
}

/*
 * On a VP thread, like shutdown_rescinded(): channels in relid_tab stay
 * valid here. Requests waiting for a dead host would otherwise sit out
 * their own timeouts before the guest can quit.
 */
static void part_host_down(void *ctx)
{
	struct vmb_guest *g = ctx;
	struct vmb_channel *ch;

	vmb_guest_log(g, "host went away");
	host_lost(g);
	for (uint32_t relid = 1; relid < VMB_RELID_TABLE; relid++) {
		ch = atomic_load(&g->relid_tab[relid]);
		if (ch)
			vmb_chan_shutdown(ch);
	}
}

static void part_log(void *ctx, const char *msg)
{
	vmb_guest_log(ctx, "partition: %s", msg);
}

const struct vmb_guest_part_ops vmb_guest_part_ops = {
    .event = part_event,
    .message = part_message,
    .host_down = part_host_down,
    .log = part_log,
};

/* ---- client callbacks (g->lock held) ------------------------------- */

static void cli_connected(void *ctx, uint32_t version)
{
	struct vmb_guest *g = ctx;

	atomic_store(&g->version, version);
	g->connected = true;
	vmb_guest_wake(g);
}

static void cli_offer(void *ctx, struct vmb_client_channel *cc)
{
	vmb_guest_on_offer(ctx, cc);
}

static void cli_all_offers(void *ctx)
{
	struct vmb_guest *g = ctx;

	g->all_offers = true;
	vmb_guest_wake(g);
}

static void cli_rescind(void *ctx, struct vmb_client_channel *cc)
{
	struct vmb_guest *g = ctx;

	vmb_guest_on_rescind(g, cc);
	vmb_guest_wake(g);
}

static void cli_gpadl_created(void *ctx, uint32_t handle, uint32_t status)
{
	struct vmb_guest *g = ctx;
	struct vmb_gpadl *gp = vmb_guest_gpadl_find(g, handle);

	if (!gp || gp->state != VMB_GPADL_CREATING)
		return;
	gp->status = status;
	gp->state = status ? VMB_GPADL_FAILED : VMB_GPADL_CREATED;
	vmb_guest_wake(g);
}

static void cli_gpadl_torndown(void *ctx, uint32_t handle)
{
	struct vmb_guest *g = ctx;
	struct vmb_gpadl *gp = vmb_guest_gpadl_find(g, handle);

	if (!gp)
		return;
	gp->state = VMB_GPADL_TORNDOWN;
	vmb_guest_wake(g);
}

static void cli_open_result(void *ctx, struct vmb_client_channel *cc, uint32_t status)
{
	struct vmb_guest *g = ctx;
	struct vmb_gchan *gc = vmb_cli_chan_priv(cc);

	if (!gc)
		return;
	gc->open_done = true;
	gc->open_status = status;
	vmb_guest_wake(g);
}

static void cli_modify_result(void *ctx, struct vmb_client_channel *cc, int32_t status)
{
	struct vmb_guest *g = ctx;
	struct vmb_gchan *gc = vmb_cli_chan_priv(cc);

	if (!gc)
		return;
	gc->modify_done = true;
	gc->modify_status = status;
	vmb_guest_wake(g);
}

static void cli_unloaded(void *ctx)
{
	struct vmb_guest *g = ctx;

	g->unloaded = true;
	vmb_guest_wake(g);
}

static void cli_log(void *ctx, const char *msg)
{
	vmb_guest_log(ctx, "%s", msg);
}

const struct vmb_client_ops vmb_guest_client_ops = {
    .post = cli_post,
    .connected = cli_connected,
    .offer = cli_offer,
    .all_offers = cli_all_offers,
    .rescind = cli_rescind,
    .gpadl_created = cli_gpadl_created,
    .gpadl_torndown = cli_gpadl_torndown,
    .open_result = cli_open_result,
    .modify_result = cli_modify_result,
    .unloaded = cli_unloaded,
    .log = cli_log,
};
