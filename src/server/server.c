/*
 * Host VMBus server: creation, message dispatch, H->G sending (with the
 * PAUSE queue) and connection teardown.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_priv.h"

void vmb_srv_log(const struct vmb_server *s, const char *fmt, ...)
{
	char line[192];
	va_list ap;

	if (!s->ops->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	s->ops->log(s->ctx, line);
}

int vmb_srv_reject(const struct vmb_server *s, uint32_t type, int err, const char *fmt, ...)
{
	char why[128];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(why, sizeof(why), fmt, ap);
	va_end(ap);
	vmb_srv_log(s, "vmbus server: rejected %s (%u): %s", vmb_msg_name(type), type, why);
	return err;
}

static void queue_free(struct vmb_server *s)
{
	struct vmb_srv_qmsg *q;

	while ((q = s->qhead) != NULL) {
		s->qhead = q->next;
		free(q);
	}
	s->qtail = NULL;
	s->qlen = 0;
}

static void queue_push(struct vmb_server *s, const void *msg, size_t len)
{
	struct vmb_srv_qmsg *q = malloc(sizeof(*q));

	if (!q) {
		vmb_srv_log(s, "vmbus server: out of memory, dropped a paused message");
		return;
	}
	q->next = NULL;
	q->len = len;
	memcpy(q->data, msg, len);
	if (s->qtail)
		s->qtail->next = q;
	else
		s->qhead = q;
	s->qtail = q;
	s->qlen++;
}

void vmb_srv_send(struct vmb_server *s, const void *msg, size_t len)
{
	if (s->paused) {
		queue_push(s, msg, len);
		return;
	}
	s->ops->send(s->ctx, s->target_vcpu, s->msg_sint, msg, len);
}

/* RESUME: deliver what PAUSE held back, in order. */
void vmb_srv_flush(struct vmb_server *s)
{
	struct vmb_srv_qmsg *q;

	s->paused = false;
	while ((q = s->qhead) != NULL) {
		s->qhead = q->next;
		s->ops->send(s->ctx, s->target_vcpu, s->msg_sint, q->data, q->len);
		free(q);
	}
	s->qtail = NULL;
	s->qlen = 0;
}

/*
 * Forget the guest's connection: close open channels, drop every GPADL,
 * free rescinded channels. Offered channels stay and are offered again
 * after the next REQUESTOFFERS. Messages held by PAUSE belong to the old
 * connection and are dropped.
 */
void vmb_srv_drop_connection(struct vmb_server *s)
{
	bool was_connected = s->state != VMB_SRV_DISCONNECTED;
	struct vmb_server_channel *ch;
	uint32_t r;

	for (r = 1; r <= s->relid_top; r++) {
		ch = s->chans[r];
		if (ch && ch->state == VMB_SCH_OPEN)
			vmb_srv_chan_do_close(s, ch);
	}
	vmb_srv_gpadl_drop_all(s);
	for (r = 1; r <= s->relid_top; r++) {
		ch = s->chans[r];
		if (!ch)
			continue;
		if (ch->state == VMB_SCH_REVOKED)
			vmb_srv_chan_free(s, ch);
		else
			ch->seen = false;
	}
	queue_free(s);
	s->paused = false;
	s->state = VMB_SRV_DISCONNECTED;
	s->version = 0;
	s->features = 0;
	s->target_vcpu = 0;
	s->msg_sint = VMBUS_MESSAGE_SINT;
	s->interrupt_page = 0;
	s->monitor_page1 = 0;
	s->monitor_page2 = 0;
	if (was_connected && s->ops->connected)
		s->ops->connected(s->ctx, 0);
}

int vmb_server_create(const struct vmb_server_config *cfg, const struct vmb_server_ops *ops,
		      void *ctx, struct vmb_server **out)
{
	struct vmb_server *s;

	if (!cfg || !ops || !ops->send || !out || !cfg->vp_count || !cfg->guest_pages)
		return -EINVAL;
	if (cfg->max_version && !vmb_version_known(cfg->max_version))
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->cfg = *cfg;
	if (!s->cfg.max_version)
		s->cfg.max_version = VERSION_COPPER;
	if (!s->cfg.gpadl_limit)
		s->cfg.gpadl_limit = VMB_SRV_DEFAULT_GPADL_LIMIT;
	s->cfg.features &= VMB_SRV_FEATURES;
	s->ops = ops;
	s->ctx = ctx;
	s->msg_sint = VMBUS_MESSAGE_SINT;
	*out = s;
	return 0;
}

void vmb_server_destroy(struct vmb_server *s)
{
	uint32_t r;

	if (!s)
		return;
	vmb_srv_gpadl_free_all(s);
	queue_free(s);
	for (r = 1; r <= s->relid_top; r++)
		free(s->chans[r]);
	free(s);
}

void vmb_server_reset(struct vmb_server *s)
{
	vmb_srv_drop_connection(s);
}

static int dispatch(struct vmb_server *s, uint32_t type, const void *m, size_t len)
{
	switch (type) {
	case CHANNELMSG_REQUESTOFFERS:
		return vmb_srv_request_offers(s);
	case CHANNELMSG_OPENCHANNEL:
		return vmb_srv_open(s, m, len);
	case CHANNELMSG_CLOSECHANNEL:
		return vmb_srv_close(s, m);
	case CHANNELMSG_GPADL_HEADER:
		return vmb_srv_gpadl_header(s, m, len);
	case CHANNELMSG_GPADL_BODY:
		return vmb_srv_gpadl_body(s, m, len);
	case CHANNELMSG_GPADL_TEARDOWN:
		return vmb_srv_gpadl_teardown(s, m);
	case CHANNELMSG_RELID_RELEASED:
		return vmb_srv_relid_released(s, m);
	case CHANNELMSG_UNLOAD:
		return vmb_srv_unload(s);
	case CHANNELMSG_TL_CONNECT_REQUEST:
		return vmb_srv_tl_connect(s, m, len);
	case CHANNELMSG_MODIFYCHANNEL:
		return vmb_srv_modify(s, m);
	case CHANNELMSG_MODIFY_CONNECTION:
		return vmb_srv_modify_connection(s, m);
	case CHANNELMSG_PAUSE:
		return vmb_srv_pause(s);
	case CHANNELMSG_RESUME:
		return vmb_srv_resume(s);
	default:
		/* OPEN/CLOSE_RESERVED_CHANNEL: no kernel-debugger transport here. */
		return vmb_srv_reject(s, type, -EPROTO, "not supported");
	}
}

int vmb_server_recv(struct vmb_server *s, uint32_t conn_id, const void *msg, size_t len)
{
	union {
		uint8_t b[VMBUS_MAX_MESSAGE_SIZE];
		struct vmbus_channel_message_header h;
	} buf;
	char why[96] = "";
	uint32_t type = 0;
	int rc;

	if (!s || (!msg && len))
		return -EINVAL;
	if (len >= sizeof(type))
		memcpy(&type, msg, sizeof(type));
	if (len < sizeof(buf.h) || len > sizeof(buf))
		return vmb_srv_reject(s, type, -EBADMSG, "length %zu", len);
	/* One snapshot: the sender's buffer is never read again. */
	memset(&buf, 0, sizeof(buf));
	memcpy(buf.b, msg, len);
	/* INITIATE_CONTACT starts over: judge it as if nothing were negotiated. */
	if (type == CHANNELMSG_INITIATE_CONTACT)
		rc = vmb_msg_check(buf.b, len, VMB_G2H, 0, 0, why, sizeof(why));
	else
		rc = vmb_msg_check(buf.b, len, VMB_G2H, s->version, s->features, why, sizeof(why));
	if (rc < 0)
		return vmb_srv_reject(s, type, -EBADMSG, "%s", why);
	if (type == CHANNELMSG_INITIATE_CONTACT)
		return vmb_srv_initiate_contact(s, conn_id, buf.b, len);
	if (s->state == VMB_SRV_DISCONNECTED)
		return vmb_srv_reject(s, type, -EPROTO, "not connected");
	if (conn_id != VMBUS_MESSAGE_CONNECTION_ID)
		return vmb_srv_reject(s, type, -EPROTO, "on connection id %u", conn_id);
	if (s->paused && s->qlen >= VMB_SRV_MAX_QUEUED && type != CHANNELMSG_RESUME &&
	    type != CHANNELMSG_UNLOAD)
		return vmb_srv_reject(s, type, -EPROTO, "paused with %u replies queued", s->qlen);
	return dispatch(s, type, buf.b, len);
}

enum vmb_server_state vmb_server_state(const struct vmb_server *s)
{
	return s->state;
}

uint32_t vmb_server_version(const struct vmb_server *s)
{
	return s->version;
}

uint32_t vmb_server_target_vcpu(const struct vmb_server *s)
{
	return s->target_vcpu;
}

uint32_t vmb_server_msg_conn_id(const struct vmb_server *s)
{
	return s->state == VMB_SRV_DISCONNECTED ? 0 : VMBUS_MESSAGE_CONNECTION_ID;
}

uint32_t vmb_server_msg_sint(const struct vmb_server *s)
{
	return s->msg_sint;
}

uint64_t vmb_server_interrupt_page(const struct vmb_server *s)
{
	return s->interrupt_page;
}

void vmb_server_monitor_pages(const struct vmb_server *s, uint64_t *page1, uint64_t *page2)
{
	*page1 = s->monitor_page1;
	*page2 = s->monitor_page2;
}

uint32_t vmb_server_features(const struct vmb_server *s)
{
	return s->features;
}

bool vmb_server_paused(const struct vmb_server *s)
{
	return s->paused;
}
