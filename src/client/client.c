/*
 * Guest VMBus client: object lifetime, accessors, posting and logging.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_impl.h"
#include "vmbus/proto/hv.h"

/* Linux and FreeBSD start here; keeping it makes traces comparable. */
#define VMB_CLI_FIRST_GPADL 0xE1E10u

int vmb_client_create(const struct vmb_client_config *cfg, const struct vmb_client_ops *ops,
		      void *ctx, struct vmb_client **out)
{
	struct vmb_client *c;

	if (cfg == NULL || ops == NULL || ops->post == NULL || out == NULL)
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->cfg = *cfg;
	if (c->cfg.vp_count == 0)
		c->cfg.vp_count = 1;
	if (c->cfg.max_version == 0)
		c->cfg.max_version = VERSION_COPPER;
	if (c->cfg.min_version == 0)
		c->cfg.min_version = VERSION_WS2008;
	if (c->cfg.target_vcpu >= c->cfg.vp_count ||
	    (c->cfg.monitor_page1 == 0) != (c->cfg.monitor_page2 == 0)) {
		free(c);
		return -EINVAL;
	}
	c->ops = *ops;
	c->ctx = ctx;
	c->state = VMB_CLI_IDLE;
	c->next_gpadl = VMB_CLI_FIRST_GPADL;
	*out = c;
	return 0;
}

void vmb_client_destroy(struct vmb_client *c)
{
	if (c == NULL)
		return;
	vmb_cli_free_all(c);
	free(c->gpadl);
	free(c);
}

void vmb_cli_log(struct vmb_client *c, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	if (c->ops.log == NULL)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	c->ops.log(c->ctx, buf);
}

int vmb_cli_reject(struct vmb_client *c, uint32_t type, int err, const char *fmt, ...)
{
	char why[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vmb_cli_log(c, "vmbus client: %s rejected: %s", vmb_msg_name(type), why);
	return err;
}

int vmb_cli_post_on(struct vmb_client *c, uint32_t conn_id, const void *msg, size_t len)
{
	const struct vmbus_channel_message_header *h = msg;
	int st = c->ops.post(c->ctx, conn_id, msg, len);

	if (st == HV_STATUS_SUCCESS)
		return 0;
	vmb_cli_log(c, "vmbus client: posting %s on connection %u failed: status %d",
		    vmb_msg_name(h->msgtype), conn_id, st);
	return -EIO;
}

int vmb_cli_post(struct vmb_client *c, const void *msg, size_t len)
{
	return vmb_cli_post_on(c, c->msg_conn_id, msg, len);
}

int vmb_cli_post_relid(struct vmb_client *c, uint32_t type, uint32_t relid)
{
	struct vmbus_channel_relid_msg m;

	vmb_msg_init(&m, sizeof(m), type);
	m.child_relid = relid;
	return vmb_cli_post(c, &m, sizeof(m));
}

bool vmb_cli_has_chan(const struct vmb_client *c, const struct vmb_client_channel *ch)
{
	return ch != NULL && ch->offer.relid >= 1 && ch->offer.relid <= VMBUS_MAX_RELID &&
	       c->chan[ch->offer.relid] == ch;
}

void vmb_cli_free_chan(struct vmb_client *c, struct vmb_client_channel *ch)
{
	vmb_cli_gpadl_forget_relid(c, ch->offer.relid);
	c->chan[ch->offer.relid] = NULL;
	if (--c->nchan == 0)
		c->relid_top = 0;
	free(ch);
}

void vmb_cli_free_all(struct vmb_client *c)
{
	uint32_t relid;

	for (relid = 1; relid <= c->relid_top && c->nchan > 0; relid++) {
		if (c->chan[relid] != NULL)
			vmb_cli_free_chan(c, c->chan[relid]);
	}
	c->ngpadl = 0;
}

enum vmb_client_state vmb_client_state(const struct vmb_client *c)
{
	return c->state;
}

uint32_t vmb_client_version(const struct vmb_client *c)
{
	return c->state == VMB_CLI_CONTACTING || c->state == VMB_CLI_FAILED ? 0 : c->version;
}

uint32_t vmb_client_msg_conn_id(const struct vmb_client *c)
{
	return c->msg_conn_id;
}

struct vmb_client_channel *vmb_client_find(const struct vmb_client *c, uint32_t relid)
{
	if (relid < 1 || relid > VMBUS_MAX_RELID)
		return NULL;
	return c->chan[relid];
}

struct vmb_client_channel *vmb_client_next(const struct vmb_client *c,
					   const struct vmb_client_channel *prev)
{
	uint32_t relid = prev == NULL ? 1 : prev->offer.relid + 1;

	for (; relid <= c->relid_top; relid++) {
		if (c->chan[relid] != NULL)
			return c->chan[relid];
	}
	return NULL;
}

const struct vmb_client_offer *vmb_cli_chan_offer(const struct vmb_client_channel *ch)
{
	return &ch->offer;
}

enum vmb_cli_chan_state vmb_cli_chan_state(const struct vmb_client_channel *ch)
{
	return ch->state;
}

uint32_t vmb_cli_chan_target_vp(const struct vmb_client_channel *ch)
{
	return ch->target_vp;
}

uint32_t vmb_cli_chan_signal_conn(const struct vmb_client_channel *ch)
{
	return ch->offer.dedicated_interrupt ? ch->offer.connection_id : VMBUS_EVENT_CONNECTION_ID;
}

void vmb_cli_chan_set_priv(struct vmb_client_channel *ch, void *priv)
{
	ch->priv = priv;
}

void *vmb_cli_chan_priv(const struct vmb_client_channel *ch)
{
	return ch->priv;
}
