/*
 * Channels: offers (initial and hot add), open, close, modify, rescind and
 * release.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_priv.h"
#include "vmbus/proto/hv.h"

struct vmb_server_channel *vmb_srv_chan_lookup(const struct vmb_server *s, uint32_t relid)
{
	struct vmb_server_channel *ch;

	if (relid == 0 || relid > VMBUS_MAX_RELID)
		return NULL;
	ch = s->chans[relid];
	/* A relid the guest was never told about does not exist for it. */
	return ch && ch->seen ? ch : NULL;
}

static uint32_t default_conn_id(const struct vmb_server *s, uint32_t relid)
{
	/* Before Win7 every channel signals through the shared event connection. */
	if (s->version < VERSION_WIN7)
		return VMBUS_EVENT_CONNECTION_ID;
	return VMB_SRV_CONN_ID_BASE + relid;
}

/* Sub-channels do not exist before Win8. */
static bool offerable(const struct vmb_server *s, const struct vmb_server_channel *ch)
{
	if (ch->state == VMB_SCH_REVOKED || ch->seen)
		return false;
	return s->version >= VERSION_WIN8 || ch->offer.sub_channel_index == 0;
}

static void send_offer(struct vmb_server *s, struct vmb_server_channel *ch)
{
	struct vmbus_channel_offer_channel m;
	size_t len = sizeof(m);

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_OFFERCHANNEL);
	m.if_type = ch->offer.if_type;
	m.if_instance = ch->offer.if_instance;
	m.chn_flags = ch->offer.chn_flags;
	m.mmio_megabytes = ch->offer.mmio_megabytes;
	memcpy(m.user_def, ch->offer.user_def, sizeof(m.user_def));
	m.sub_channel_index = ch->offer.sub_channel_index;
	m.child_relid = ch->relid;
	m.monitorid = ch->monitor_id;
	m.monitor_allocated = ch->monitor_id != VMB_SRV_NO_MONITOR;
	if (s->version >= VERSION_WIN7) {
		m.is_dedicated_interrupt = 1;
		m.connection_id = VMB_SRV_CONN_ID_BASE + ch->relid;
	} else {
		len = VMBUS_OFFER_SIZE_PRE_WIN7;
	}
	vmb_srv_send(s, &m, len);
	ch->seen = true;
	ch->conn_id = default_conn_id(s, ch->relid);
}

static bool same_device(const struct vmb_server_channel *a, const struct vmb_server_channel *b)
{
	return vmb_guid_eq(&a->offer.if_type, &b->offer.if_type) &&
	       vmb_guid_eq(&a->offer.if_instance, &b->offer.if_instance);
}

/* A sub-channel waits when its primary has yet to go out. */
static bool primary_pending(const struct vmb_server *s, const struct vmb_server_channel *sub)
{
	const struct vmb_server_channel *ch;
	uint32_t r;

	for (r = 1; r <= s->relid_top; r++) {
		ch = s->chans[r];
		if (ch && ch->offer.sub_channel_index == 0 && offerable(s, ch) &&
		    same_device(ch, sub))
			return true;
	}
	return false;
}

static void send_subchannels(struct vmb_server *s, const struct vmb_server_channel *primary)
{
	struct vmb_server_channel *ch;
	uint32_t r;

	for (r = 1; r <= s->relid_top; r++) {
		ch = s->chans[r];
		if (ch && ch->offer.sub_channel_index && offerable(s, ch) &&
		    same_device(ch, primary))
			send_offer(s, ch);
	}
}

/* Relid order, except that a primary always precedes its sub-channels. */
static void send_pending_offers(struct vmb_server *s)
{
	struct vmb_server_channel *ch;
	uint32_t r;

	for (r = 1; r <= s->relid_top; r++) {
		ch = s->chans[r];
		if (!ch || !offerable(s, ch))
			continue;
		if (ch->offer.sub_channel_index && primary_pending(s, ch))
			continue;
		send_offer(s, ch);
		if (ch->offer.sub_channel_index == 0)
			send_subchannels(s, ch);
	}
}

int vmb_srv_request_offers(struct vmb_server *s)
{
	struct vmbus_channel_message_header m;

	if (s->state != VMB_SRV_CONNECTED)
		return vmb_srv_reject(s, CHANNELMSG_REQUESTOFFERS, -EPROTO,
				      "offers already requested");
	s->state = VMB_SRV_OFFERED;
	send_pending_offers(s);
	vmb_msg_init(&m, sizeof(m), CHANNELMSG_ALLOFFERS_DELIVERED);
	vmb_srv_send(s, &m, sizeof(m));
	return 0;
}

static int alloc_monitor_id(struct vmb_server *s, uint8_t *id)
{
	unsigned i;

	for (i = 0; i < VMB_SRV_MONITOR_IDS; i++) {
		if (!(s->monitor_used[i / 64] & (1ull << (i % 64)))) {
			s->monitor_used[i / 64] |= 1ull << (i % 64);
			*id = (uint8_t)i;
			return 0;
		}
	}
	return -ENOSPC;
}

static uint32_t free_relid(const struct vmb_server *s)
{
	uint32_t r;

	for (r = 1; r <= VMBUS_MAX_RELID; r++)
		if (!s->chans[r])
			return r;
	return 0;
}

int vmb_server_offer(struct vmb_server *s, const struct vmb_offer *o, void *dev,
		     struct vmb_server_channel **out)
{
	struct vmb_server_channel *ch;
	uint32_t relid;

	if (!s || !o)
		return -EINVAL;
	relid = free_relid(s);
	if (!relid)
		return -ENOSPC;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->monitor_id = VMB_SRV_NO_MONITOR;
	if (o->monitor && alloc_monitor_id(s, &ch->monitor_id)) {
		free(ch);
		return -ENOSPC;
	}
	ch->relid = relid;
	ch->state = VMB_SCH_CLOSED;
	ch->conn_id = default_conn_id(s, relid);
	ch->event_flag = (uint16_t)relid;
	ch->offer = *o;
	ch->dev = dev;
	s->chans[relid] = ch;
	s->nchans++;
	if (relid > s->relid_top)
		s->relid_top = relid;
	if (s->state == VMB_SRV_OFFERED)
		send_pending_offers(s);
	if (out)
		*out = ch;
	return 0;
}

void vmb_srv_chan_do_close(struct vmb_server *s, struct vmb_server_channel *ch)
{
	ch->state = VMB_SCH_CLOSED;
	ch->ring_gpadl = 0;
	ch->conn_id = default_conn_id(s, ch->relid);
	ch->event_flag = (uint16_t)ch->relid;
	if (s->ops->close)
		s->ops->close(s->ctx, ch);
}

void vmb_srv_chan_free(struct vmb_server *s, struct vmb_server_channel *ch)
{
	vmb_srv_gpadl_drop_relid(s, ch->relid);
	if (ch->monitor_id != VMB_SRV_NO_MONITOR)
		s->monitor_used[ch->monitor_id / 64] &= ~(1ull << (ch->monitor_id % 64));
	s->chans[ch->relid] = NULL;
	if (--s->nchans == 0)
		s->relid_top = 0;
	if (s->ops->released)
		s->ops->released(s->ctx, ch);
	free(ch);
}

int vmb_server_rescind(struct vmb_server *s, struct vmb_server_channel *ch)
{
	struct vmbus_channel_relid_msg m;

	if (!s || !ch || ch->relid == 0 || ch->relid > VMBUS_MAX_RELID ||
	    s->chans[ch->relid] != ch || ch->state == VMB_SCH_REVOKED)
		return -EINVAL;
	if (ch->state == VMB_SCH_OPEN) {
		vmb_srv_chan_do_close(s, ch);
		vmb_srv_gpadl_finish_teardowns(s, ch->relid);
	}
	if (!ch->seen) {
		vmb_srv_chan_free(s, ch);
		return 0;
	}
	vmb_srv_gpadl_revoke(s, ch->relid);
	ch->state = VMB_SCH_REVOKED;
	vmb_msg_init(&m, sizeof(m), CHANNELMSG_RESCIND_CHANNELOFFER);
	m.child_relid = ch->relid;
	vmb_srv_send(s, &m, sizeof(m));
	return 0;
}

static void open_result(struct vmb_server *s, uint32_t relid, uint32_t openid, uint32_t status)
{
	struct vmbus_channel_open_result r;

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_OPENCHANNEL_RESULT);
	r.child_relid = relid;
	r.openid = openid;
	r.status = status;
	vmb_srv_send(s, &r, sizeof(r));
}

/* Check the ring GPADL and fill in what the device needs; NULL or a reason. */
static const char *open_params(const struct vmb_server *s, const struct vmb_server_channel *ch,
			       const struct vmbus_channel_open_channel *m, size_t len,
			       struct vmb_open_params *p)
{
	const struct vmb_srv_gpadl *g = vmb_srv_gpadl_find(s, m->ringbuffer_gpadlhandle);
	uint32_t off = m->downstream_ringbuffer_pageoffset;

	if (!g || !vmb_srv_gpadl_complete(g) || g->relid != ch->relid || g->teardown_wait)
		return "ring GPADL not usable";
	/* Each ring needs its header page and at least one data page. */
	if (off < 2 || g->total < 4 || off > g->total - 2)
		return "bad downstream ring offset";
	memset(p, 0, sizeof(*p));
	p->openid = m->openid;
	p->gpadl = m->ringbuffer_gpadlhandle;
	p->target_vp = s->version >= VERSION_WIN8 ? m->target_vp : 0;
	if (p->target_vp >= s->cfg.vp_count)
		return "target_vp out of range";
	p->downstream_pages = off;
	memcpy(p->userdata, m->userdata, sizeof(p->userdata));
	p->connection_id = default_conn_id(s, ch->relid);
	p->event_flag = (uint16_t)ch->relid;
	if (!(s->features & VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS) || len < sizeof(*m))
		return NULL;
	p->connection_id = m->connection_id;
	p->event_flag = m->event_flag;
	if (!p->connection_id || p->connection_id > HV_CONNECTION_ID_MASK)
		return "bad guest connection_id";
	if (!p->event_flag || p->event_flag >= HV_EVENT_FLAGS_COUNT)
		return "bad guest event_flag";
	return NULL;
}

int vmb_srv_open(struct vmb_server *s, const void *msg, size_t len)
{
	const struct vmbus_channel_open_channel *m = msg;
	struct vmb_server_channel *ch = vmb_srv_chan_lookup(s, m->child_relid);
	const char *why = NULL;
	struct vmb_open_params p;
	uint32_t status;

	if (ch && ch->state == VMB_SCH_REVOKED)
		return 0;
	if (!ch)
		why = "unknown relid";
	else if (ch->state == VMB_SCH_OPEN)
		why = "already open";
	else
		why = open_params(s, ch, m, len, &p);
	if (why) {
		/* The guest waits for a result: always answer. */
		open_result(s, m->child_relid, m->openid, VMBUS_STATUS_FAILURE);
		return vmb_srv_reject(s, CHANNELMSG_OPENCHANNEL, -EPROTO, "relid %u: %s",
				      m->child_relid, why);
	}
	status = s->ops->open ? s->ops->open(s->ctx, ch, &p) : VMBUS_STATUS_FAILURE;
	if (status == 0) {
		ch->state = VMB_SCH_OPEN;
		ch->ring_gpadl = p.gpadl;
		ch->target_vp = p.target_vp;
		ch->conn_id = p.connection_id;
		ch->event_flag = p.event_flag;
	}
	open_result(s, ch->relid, p.openid, status);
	return 0;
}

int vmb_srv_close(struct vmb_server *s, const void *msg)
{
	const struct vmbus_channel_relid_msg *m = msg;
	struct vmb_server_channel *ch = vmb_srv_chan_lookup(s, m->child_relid);

	if (ch && ch->state == VMB_SCH_REVOKED)
		return 0;
	if (!ch || ch->state != VMB_SCH_OPEN)
		return vmb_srv_reject(s, CHANNELMSG_CLOSECHANNEL, -EPROTO, "relid %u not open",
				      m->child_relid);
	vmb_srv_chan_do_close(s, ch);
	vmb_srv_gpadl_finish_teardowns(s, ch->relid);
	return 0;
}

int vmb_srv_modify(struct vmb_server *s, const void *msg)
{
	const struct vmbus_channel_modifychannel *m = msg;
	struct vmb_server_channel *ch = vmb_srv_chan_lookup(s, m->child_relid);
	bool ok = ch && ch->state == VMB_SCH_OPEN && m->target_vp < s->cfg.vp_count;
	struct vmbus_channel_modifychannel_response r;

	if (ok) {
		ch->target_vp = m->target_vp;
		if (s->ops->retarget)
			s->ops->retarget(s->ctx, ch, m->target_vp);
	}
	if (s->version >= VERSION_WIN10_V5_3) {
		vmb_msg_init(&r, sizeof(r), CHANNELMSG_MODIFYCHANNEL_RESPONSE);
		r.child_relid = m->child_relid;
		r.status = ok ? 0 : (int32_t)VMBUS_STATUS_FAILURE;
		vmb_srv_send(s, &r, sizeof(r));
	}
	if (!ok)
		return vmb_srv_reject(s, CHANNELMSG_MODIFYCHANNEL, -EPROTO,
				      "relid %u not open or vp %u out of range", m->child_relid,
				      m->target_vp);
	return 0;
}

int vmb_srv_relid_released(struct vmb_server *s, const void *msg)
{
	const struct vmbus_channel_relid_msg *m = msg;
	struct vmb_server_channel *ch = vmb_srv_chan_lookup(s, m->child_relid);

	if (!ch || ch->state != VMB_SCH_REVOKED)
		return vmb_srv_reject(s, CHANNELMSG_RELID_RELEASED, -EPROTO,
				      "relid %u not rescinded", m->child_relid);
	vmb_srv_chan_free(s, ch);
	return 0;
}

struct vmb_server_channel *vmb_server_next(const struct vmb_server *s,
					   const struct vmb_server_channel *prev)
{
	uint32_t r;

	for (r = prev ? prev->relid + 1 : 1; r <= s->relid_top; r++)
		if (s->chans[r])
			return s->chans[r];
	return NULL;
}

uint32_t vmb_srv_chan_relid(const struct vmb_server_channel *ch)
{
	return ch->relid;
}

uint32_t vmb_srv_chan_conn_id(const struct vmb_server_channel *ch)
{
	return ch->conn_id;
}

uint32_t vmb_srv_chan_target_vp(const struct vmb_server_channel *ch)
{
	return ch->target_vp;
}

enum vmb_srv_chan_state vmb_srv_chan_state(const struct vmb_server_channel *ch)
{
	return ch->state;
}

const struct vmb_offer *vmb_srv_chan_offer(const struct vmb_server_channel *ch)
{
	return &ch->offer;
}

void *vmb_srv_chan_dev(const struct vmb_server_channel *ch)
{
	return ch->dev;
}

void vmb_srv_chan_set_priv(struct vmb_server_channel *ch, void *priv)
{
	ch->priv = priv;
}

void *vmb_srv_chan_priv(const struct vmb_server_channel *ch)
{
	return ch->priv;
}
