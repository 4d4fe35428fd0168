/*
 * Guest VMBus client: dispatch of host messages.
 */
#include <errno.h>
#include <string.h>

#include "client/client_impl.h"

/* Version the message table is checked against: 0 until one is agreed. */
static uint32_t check_version(const struct vmb_client *c)
{
	switch (c->state) {
	case VMB_CLI_CONNECTED:
	case VMB_CLI_REQUESTED:
	case VMB_CLI_READY:
	case VMB_CLI_UNLOADING:
		return c->version;
	default:
		return 0;
	}
}

static int on_tl_result(struct vmb_client *c, const union vmb_cli_msg *m)
{
	char ep[VMB_GUID_STR_LEN], svc[VMB_GUID_STR_LEN];

	vmb_cli_log(c, "vmbus client: hv_sock connect %s -> %s failed: status %#x",
		    vmb_guid_str(&m->tl_result.endpoint_id, ep),
		    vmb_guid_str(&m->tl_result.service_id, svc), (uint32_t)m->tl_result.status);
	return 0;
}

static int dispatch(struct vmb_client *c, int type, const union vmb_cli_msg *m, size_t len)
{
	switch (type) {
	case CHANNELMSG_VERSION_RESPONSE:
		return vmb_cli_on_version(c, m, len);
	case CHANNELMSG_OFFERCHANNEL:
		return vmb_cli_on_offer(c, m, len);
	case CHANNELMSG_ALLOFFERS_DELIVERED:
		return vmb_cli_on_all_offers(c);
	case CHANNELMSG_RESCIND_CHANNELOFFER:
		return vmb_cli_on_rescind(c, m);
	case CHANNELMSG_OPENCHANNEL_RESULT:
		return vmb_cli_on_open_result(c, m);
	case CHANNELMSG_GPADL_CREATED:
		return vmb_cli_on_gpadl_created(c, m);
	case CHANNELMSG_GPADL_TORNDOWN:
		return vmb_cli_on_gpadl_torndown(c, m);
	case CHANNELMSG_MODIFYCHANNEL_RESPONSE:
		return vmb_cli_on_modify_response(c, m);
	case CHANNELMSG_UNLOAD_RESPONSE:
		return vmb_cli_on_unload_response(c);
	case CHANNELMSG_TL_CONNECT_RESULT:
		return on_tl_result(c, m);
	default:
		/* Reserved channels, MODIFY_CONNECTION, PAUSE: never requested. */
		return vmb_cli_reject(c, (uint32_t)type, -EPROTO, "never requested");
	}
}

int vmb_client_recv(struct vmb_client *c, const void *msg, size_t len)
{
	union vmb_cli_msg m;
	char why[128];
	int type;

	if (msg == NULL || len > sizeof(m)) {
		vmb_cli_log(c, "vmbus client: message rejected: %zu bytes", len);
		return -EBADMSG;
	}
	/* The slot is in memory the host can still write: work on a copy. */
	memset(&m, 0, sizeof(m));
	memcpy(&m, msg, len);
	why[0] = '\0';
	type = vmb_msg_check(&m, len, VMB_H2G, check_version(c), c->features, why, sizeof(why));
	if (type < 0) {
		vmb_cli_log(c, "vmbus client: message rejected: %s", why);
		return -EBADMSG;
	}
	return dispatch(c, type, &m, len);
}
