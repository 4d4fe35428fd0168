/*
 * Guest VMBus client: offers, rescinds, open/close/release and modify.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_impl.h"
#include "vmbus/proto/hv.h"

/* The monitor pages hold 4 trigger groups of 32 bits. */
#define VMB_CLI_MAX_MONITOR_ID 127

static bool offers_flowing(const struct vmb_client *c)
{
	return c->state == VMB_CLI_REQUESTED || c->state == VMB_CLI_READY;
}

static int offer_check(struct vmb_client *c, const struct vmbus_channel_offer_channel *o)
{
	uint32_t relid = o->child_relid;

	if (!offers_flowing(c))
		return vmb_cli_reject(c, CHANNELMSG_OFFERCHANNEL, -EPROTO, "offers not requested");
	if (relid < 1 || relid > VMBUS_MAX_RELID)
		return vmb_cli_reject(c, CHANNELMSG_OFFERCHANNEL, -EBADMSG, "relid %u", relid);
	if (c->chan[relid] != NULL)
		return vmb_cli_reject(c, CHANNELMSG_OFFERCHANNEL, -EPROTO, "duplicate relid %u",
				      relid);
	if (o->sub_channel_index != 0 && c->version < VERSION_WIN8)
		return vmb_cli_reject(c, CHANNELMSG_OFFERCHANNEL, -EBADMSG,
				      "sub-channel %u before 2.4", o->sub_channel_index);
	if ((o->monitor_allocated & 1) && o->monitorid > VMB_CLI_MAX_MONITOR_ID)
		return vmb_cli_reject(c, CHANNELMSG_OFFERCHANNEL, -EBADMSG, "monitor id %u",
				      o->monitorid);
	if (c->version >= VERSION_WIN7 && (o->is_dedicated_interrupt & 1) &&
	    (o->connection_id == 0 || o->connection_id > HV_CONNECTION_ID_MASK))
		return vmb_cli_reject(c, CHANNELMSG_OFFERCHANNEL, -EBADMSG, "connection id %#x",
				      o->connection_id);
	return 0;
}

static void offer_copy(const struct vmb_client *c, const struct vmbus_channel_offer_channel *o,
		       struct vmb_client_offer *out)
{
	out->if_type = o->if_type;
	out->if_instance = o->if_instance;
	out->chn_flags = o->chn_flags;
	out->mmio_megabytes = o->mmio_megabytes;
	memcpy(out->user_def, o->user_def, sizeof(out->user_def));
	out->sub_channel_index = o->sub_channel_index;
	out->relid = o->child_relid;
	out->monitor_allocated = o->monitor_allocated & 1;
	out->monitor_id = out->monitor_allocated ? o->monitorid : 0xff;
	/* 0.13 offers stop at byte 190: shared interrupt, legacy connection. */
	if (c->version < VERSION_WIN7) {
		out->dedicated_interrupt = false;
		out->connection_id = VMBUS_EVENT_CONNECTION_ID;
	} else {
		out->dedicated_interrupt = o->is_dedicated_interrupt & 1;
		out->connection_id = o->connection_id;
	}
}

int vmb_cli_on_offer(struct vmb_client *c, const union vmb_cli_msg *m, size_t len)
{
	const struct vmbus_channel_offer_channel *o = &m->offer;
	struct vmb_client_channel *ch;
	int ret;

	(void)len; /* vmb_msg_check() enforced 190/196; unused bytes are zero */
	ret = offer_check(c, o);
	if (ret != 0)
		return ret;
	ch = calloc(1, sizeof(*ch));
	if (ch == NULL) {
		/* The host keeps the relid until we give it back. */
		vmb_cli_log(c, "vmbus client: no memory for relid %u, releasing it",
			    o->child_relid);
		vmb_cli_post_relid(c, CHANNELMSG_RELID_RELEASED, o->child_relid);
		return -ENOMEM;
	}
	offer_copy(c, o, &ch->offer);
	ch->state = VMB_CCH_OFFERED;
	ch->openid = ch->offer.relid;
	c->chan[ch->offer.relid] = ch;
	c->nchan++;
	if (ch->offer.relid > c->relid_top)
		c->relid_top = ch->offer.relid;
	if (c->ops.offer != NULL)
		c->ops.offer(c->ctx, ch);
	return 0;
}

int vmb_cli_on_all_offers(struct vmb_client *c)
{
	if (c->state != VMB_CLI_REQUESTED)
		return vmb_cli_reject(c, CHANNELMSG_ALLOFFERS_DELIVERED, -EPROTO,
				      "offers not requested or already complete");
	c->state = VMB_CLI_READY;
	if (c->ops.all_offers != NULL)
		c->ops.all_offers(c->ctx);
	return 0;
}

int vmb_cli_on_rescind(struct vmb_client *c, const union vmb_cli_msg *m)
{
	uint32_t relid = m->relid.child_relid;
	struct vmb_client_channel *ch = vmb_client_find(c, relid);

	if (ch == NULL)
		return vmb_cli_reject(c, CHANNELMSG_RESCIND_CHANNELOFFER, -EPROTO,
				      "unknown relid %u", relid);
	if (ch->state == VMB_CCH_RESCINDED)
		return vmb_cli_reject(c, CHANNELMSG_RESCIND_CHANNELOFFER, -EPROTO,
				      "relid %u already rescinded", relid);
	ch->state = VMB_CCH_RESCINDED;
	if (c->ops.rescind != NULL)
		c->ops.rescind(c->ctx, ch);
	return 0;
}

int vmb_client_open(struct vmb_client *c, struct vmb_client_channel *ch, uint32_t gpadl,
		    uint32_t downstream_pages, uint32_t target_vp, const void *userdata,
		    size_t userdata_len)
{
	struct vmbus_channel_open_channel m;
	const struct vmb_cli_gpadl *g = vmb_cli_gpadl_find(c, gpadl);
	int ret;

	if (!offers_flowing(c) || !vmb_cli_has_chan(c, ch) || ch->state != VMB_CCH_OFFERED)
		return -EINVAL;
	if (userdata_len > sizeof(m.userdata) || (userdata == NULL && userdata_len != 0))
		return -EINVAL;
	if (g == NULL || g->relid != ch->offer.relid || g->state != VMB_CGP_READY)
		return -EINVAL;
	/* Before 2.4 every channel interrupt goes to VP 0. */
	if (c->version < VERSION_WIN8)
		target_vp = 0;
	else if (target_vp >= c->cfg.vp_count)
		return -EINVAL;
	vmb_msg_init(&m, sizeof(m), CHANNELMSG_OPENCHANNEL);
	m.child_relid = ch->offer.relid;
	m.openid = ch->openid;
	m.ringbuffer_gpadlhandle = gpadl;
	m.target_vp = target_vp;
	m.downstream_ringbuffer_pageoffset = downstream_pages;
	if (userdata_len != 0)
		memcpy(m.userdata, userdata, userdata_len);
	ret = vmb_cli_post(c, &m, offsetof(struct vmbus_channel_open_channel, connection_id));
	if (ret != 0)
		return ret;
	ch->state = VMB_CCH_OPENING;
	ch->opened = true;
	ch->target_vp = target_vp;
	return 0;
}

int vmb_cli_on_open_result(struct vmb_client *c, const union vmb_cli_msg *m)
{
	const struct vmbus_channel_open_result *r = &m->open_result;
	struct vmb_client_channel *ch = vmb_client_find(c, r->child_relid);

	if (ch == NULL || ch->state != VMB_CCH_OPENING || r->openid != ch->openid)
		return vmb_cli_reject(c, CHANNELMSG_OPENCHANNEL_RESULT, -EPROTO,
				      "no open pending for relid %u openid %u", r->child_relid,
				      r->openid);
	if (r->status == 0) {
		ch->state = VMB_CCH_OPEN;
	} else {
		ch->state = VMB_CCH_OFFERED;
		ch->opened = false;
	}
	if (c->ops.open_result != NULL)
		c->ops.open_result(c->ctx, ch, r->status);
	return 0;
}

int vmb_client_close(struct vmb_client *c, struct vmb_client_channel *ch)
{
	int ret;

	if (!vmb_cli_has_chan(c, ch) || !ch->opened)
		return -EINVAL;
	ret = vmb_cli_post_relid(c, CHANNELMSG_CLOSECHANNEL, ch->offer.relid);
	if (ret != 0)
		return ret;
	ch->opened = false;
	ch->modify_pending = false;
	if (ch->state != VMB_CCH_RESCINDED)
		ch->state = VMB_CCH_OFFERED;
	return 0;
}

int vmb_client_release(struct vmb_client *c, struct vmb_client_channel *ch)
{
	int ret;

	if (!vmb_cli_has_chan(c, ch) || ch->state != VMB_CCH_RESCINDED)
		return -EINVAL;
	ret = vmb_cli_post_relid(c, CHANNELMSG_RELID_RELEASED, ch->offer.relid);
	if (ret != 0)
		return ret;
	vmb_cli_free_chan(c, ch);
	return 0;
}

int vmb_client_modify(struct vmb_client *c, struct vmb_client_channel *ch, uint32_t vp)
{
	struct vmbus_channel_modifychannel m;
	int ret;

	if (!offers_flowing(c))
		return -EINVAL;
	if (c->version < VERSION_WIN10_V4_1)
		return -EOPNOTSUPP;
	if (!vmb_cli_has_chan(c, ch) || ch->state != VMB_CCH_OPEN || vp >= c->cfg.vp_count)
		return -EINVAL;
	if (ch->modify_pending)
		return -EBUSY;
	vmb_msg_init(&m, sizeof(m), CHANNELMSG_MODIFYCHANNEL);
	m.child_relid = ch->offer.relid;
	m.target_vp = vp;
	ret = vmb_cli_post(c, &m, sizeof(m));
	if (ret != 0)
		return ret;
	ch->target_vp = vp;
	/* Hosts before 5.3 move the interrupt silently; no answer will come. */
	ch->modify_pending = c->version >= VERSION_WIN10_V5_3;
	return 0;
}

int vmb_cli_on_modify_response(struct vmb_client *c, const union vmb_cli_msg *m)
{
	const struct vmbus_channel_modifychannel_response *r = &m->modify_resp;
	struct vmb_client_channel *ch = vmb_client_find(c, r->child_relid);

	if (ch == NULL || !ch->modify_pending)
		return vmb_cli_reject(c, CHANNELMSG_MODIFYCHANNEL_RESPONSE, -EPROTO,
				      "no modify pending for relid %u", r->child_relid);
	ch->modify_pending = false;
	if (c->ops.modify_result != NULL)
		c->ops.modify_result(c->ctx, ch, r->status);
	return 0;
}
