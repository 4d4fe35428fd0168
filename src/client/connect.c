/*
 * Guest VMBus client: version negotiation, REQUESTOFFERS and unload.
 */
#include <errno.h>
#include <string.h>

#include "client/client_impl.h"
#include "vmbus/proto/hv.h"

static bool version_wanted(const struct vmb_client *c, uint32_t v)
{
	return v <= c->cfg.max_version && v >= c->cfg.min_version;
}

/* First wanted index of vmb_versions at or after from; COUNT when none. */
static unsigned next_version(const struct vmb_client *c, unsigned from)
{
	unsigned i;

	for (i = from; i < VMBUS_VERSION_COUNT; i++) {
		if (version_wanted(c, vmb_versions[i]))
			break;
	}
	return i;
}

static size_t build_contact(const struct vmb_client *c, uint32_t v, union vmb_cli_msg *m,
			    uint32_t *conn_id)
{
	struct vmbus_channel_initiate_contact *ic = &m->contact;
	size_t len = offsetof(struct vmbus_channel_initiate_contact, client_id);

	vmb_msg_init(ic, sizeof(*ic), CHANNELMSG_INITIATE_CONTACT);
	ic->vmbus_version_requested = v;
	/* Hosts before 3.0 deliver control messages to VP 0 only. */
	ic->target_vcpu = v >= VERSION_WIN8_1 ? c->cfg.target_vcpu : 0;
	ic->monitor_page1 = c->cfg.monitor_page1;
	ic->monitor_page2 = c->cfg.monitor_page2;
	if (v < VERSION_WIN10_V5) {
		ic->interrupt_page = c->cfg.interrupt_page;
		*conn_id = VMBUS_MESSAGE_CONNECTION_ID;
		return len;
	}
	/* 5.0 turned bytes 16..23 into SINT/VTL and moved contact to port 4. */
	ic->msg_sint = VMBUS_MESSAGE_SINT;
	ic->msg_vtl = 0;
	*conn_id = VMBUS_MESSAGE_CONNECTION_ID_4;
	if (v >= VERSION_COPPER) {
		ic->feature_flags = c->cfg.features;
		if (c->cfg.features & VMBUS_FEATURE_CLIENT_ID) {
			ic->client_id = c->cfg.client_id;
			len = sizeof(*ic);
		}
	}
	return len;
}

static void negotiation_failed(struct vmb_client *c)
{
	c->state = VMB_CLI_FAILED;
	c->version = 0;
	c->features = 0;
	c->msg_conn_id = 0;
	if (c->ops.connected != NULL)
		c->ops.connected(c->ctx, 0);
}

/*
 * Post INITIATE_CONTACT for the newest wanted version at or after index
 * from. A host without the 5.0 multi-client port refuses connection 4 at
 * the hypercall, so that refusal means "try older", not "give up".
 */
static int contact_from(struct vmb_client *c, unsigned from)
{
	union vmb_cli_msg m;
	char vs[16];
	unsigned i;

	for (i = next_version(c, from); i < VMBUS_VERSION_COUNT; i = next_version(c, i + 1)) {
		uint32_t v = vmb_versions[i], conn;
		size_t len = build_contact(c, v, &m, &conn);
		int st = c->ops.post(c->ctx, conn, &m, len);

		if (st == HV_STATUS_SUCCESS) {
			c->state = VMB_CLI_CONTACTING;
			c->ver_idx = i;
			c->version = v;
			return 0;
		}
		vmb_cli_log(c, "vmbus client: INITIATE_CONTACT %s on connection %u: status %d",
			    vmb_version_str(v, vs, sizeof(vs)), conn, st);
		if (st != HV_STATUS_INVALID_CONNECTION_ID) {
			negotiation_failed(c);
			return -EIO;
		}
	}
	vmb_cli_log(c, "vmbus client: no common protocol version");
	negotiation_failed(c);
	return -ECONNREFUSED;
}

int vmb_client_connect(struct vmb_client *c)
{
	if (c->state != VMB_CLI_IDLE && c->state != VMB_CLI_FAILED &&
	    c->state != VMB_CLI_CONTACTING)
		return -EINVAL;
	c->version = 0;
	c->features = 0;
	c->msg_conn_id = 0;
	return contact_from(c, 0);
}

int vmb_client_request_offers(struct vmb_client *c)
{
	struct vmbus_channel_message_header h;
	int ret;

	if (c->state != VMB_CLI_CONNECTED)
		return -EINVAL;
	vmb_msg_init(&h, sizeof(h), CHANNELMSG_REQUESTOFFERS);
	ret = vmb_cli_post(c, &h, sizeof(h));
	if (ret == 0)
		c->state = VMB_CLI_REQUESTED;
	return ret;
}

/* Accepted version: check what the host granted before believing it. */
static int version_accepted(struct vmb_client *c, const struct vmbus_channel_version_response *r,
			    size_t len)
{
	uint32_t v = c->version, conn = VMBUS_MESSAGE_CONNECTION_ID, feat = 0;

	if (v >= VERSION_WIN8 && r->connection_state != VMBUS_CONNECTION_SUCCESSFUL) {
		vmb_cli_log(c,
			    "vmbus client: host accepted the version but failed the "
			    "connection (state %u)",
			    r->connection_state);
		negotiation_failed(c);
		return 0;
	}
	if (v >= VERSION_WIN10_V5) {
		conn = r->msg_conn_id;
		if (conn == 0 || conn > HV_CONNECTION_ID_MASK) {
			negotiation_failed(c);
			return vmb_cli_reject(c, CHANNELMSG_VERSION_RESPONSE, -EPROTO,
					      "message connection id %#x", conn);
		}
	}
	if (v >= VERSION_COPPER) {
		if (len < offsetof(struct vmbus_channel_version_response, padding2)) {
			negotiation_failed(c);
			return vmb_cli_reject(c, CHANNELMSG_VERSION_RESPONSE, -EBADMSG,
					      "%zu bytes, no feature flags", len);
		}
		feat = r->supported_features;
		if (feat & ~c->cfg.features) {
			negotiation_failed(c);
			return vmb_cli_reject(c, CHANNELMSG_VERSION_RESPONSE, -EPROTO,
					      "features %#x granted, %#x asked", feat,
					      c->cfg.features);
		}
	}
	c->msg_conn_id = conn;
	c->features = feat;
	c->state = VMB_CLI_CONNECTED;
	if (c->ops.connected != NULL)
		c->ops.connected(c->ctx, v);
	/* A failed post leaves CONNECTED; the owner may retry request_offers. */
	vmb_client_request_offers(c);
	return 0;
}

int vmb_cli_on_version(struct vmb_client *c, const union vmb_cli_msg *m, size_t len)
{
	const struct vmbus_channel_version_response *r = &m->version;
	char vs[16];

	if (c->state != VMB_CLI_CONTACTING)
		return vmb_cli_reject(c, CHANNELMSG_VERSION_RESPONSE, -EPROTO,
				      "no INITIATE_CONTACT outstanding");
	if (r->version_supported > 1)
		return vmb_cli_reject(c, CHANNELMSG_VERSION_RESPONSE, -EBADMSG,
				      "version_supported %u", r->version_supported);
	if (r->version_supported == 1)
		return version_accepted(c, r, len);
	vmb_cli_log(c, "vmbus client: host declined version %s",
		    vmb_version_str(c->version, vs, sizeof(vs)));
	contact_from(c, c->ver_idx + 1);
	return 0;
}

static void unload_done(struct vmb_client *c)
{
	vmb_cli_free_all(c);
	c->state = VMB_CLI_IDLE;
	c->version = 0;
	c->features = 0;
	c->msg_conn_id = 0;
	if (c->ops.unloaded != NULL)
		c->ops.unloaded(c->ctx);
}

int vmb_client_unload(struct vmb_client *c)
{
	struct vmbus_channel_message_header h;
	int ret;

	if (c->state != VMB_CLI_CONNECTED && c->state != VMB_CLI_REQUESTED &&
	    c->state != VMB_CLI_READY)
		return -EINVAL;
	vmb_msg_init(&h, sizeof(h), CHANNELMSG_UNLOAD);
	ret = vmb_cli_post(c, &h, sizeof(h));
	if (ret != 0)
		return ret;
	/* UNLOAD_RESPONSE only exists from 1.1; older hosts never answer. */
	if (c->version < VERSION_WIN7)
		unload_done(c);
	else
		c->state = VMB_CLI_UNLOADING;
	return 0;
}

int vmb_cli_on_unload_response(struct vmb_client *c)
{
	if (c->state != VMB_CLI_UNLOADING)
		return vmb_cli_reject(c, CHANNELMSG_UNLOAD_RESPONSE, -EPROTO, "no UNLOAD posted");
	unload_done(c);
	return 0;
}
