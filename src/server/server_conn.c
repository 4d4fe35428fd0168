/*
 * Connection-level messages: INITIATE_CONTACT, UNLOAD, TL_CONNECT_REQUEST,
 * MODIFY_CONNECTION, PAUSE and RESUME.
 */
#include <errno.h>
#include <string.h>

#include "server/server_priv.h"
#include "vmbus/proto/hv.h"

static bool gpa_ok(const struct vmb_server *s, uint64_t gpa)
{
	return (gpa >> HV_PAGE_SHIFT) < s->cfg.guest_pages;
}

/* Both monitor pages or neither, and inside guest memory. */
static bool monitor_pages_ok(const struct vmb_server *s, uint64_t p1, uint64_t p2)
{
	if (!p1 && !p2)
		return true;
	return p1 && p2 && gpa_ok(s, p1) && gpa_ok(s, p2);
}

static void version_response(struct vmb_server *s, uint8_t supported, uint8_t state)
{
	struct vmbus_channel_version_response r;
	size_t len = 16;

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_VERSION_RESPONSE);
	r.version_supported = supported;
	r.connection_state = state;
	if (supported && s->version >= VERSION_WIN10_V5)
		r.msg_conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	if (supported && s->version == VERSION_COPPER) {
		r.supported_features = s->features;
		len = 20;
	}
	vmb_srv_send(s, &r, len);
}

/* Answer a refused request and forget where it asked to be answered. */
static void refuse(struct vmb_server *s, uint8_t state)
{
	version_response(s, 0, state);
	s->target_vcpu = 0;
	s->msg_sint = VMBUS_MESSAGE_SINT;
}

static bool version_ok(const struct vmb_server *s, uint32_t v)
{
	return vmb_version_known(v) && v <= s->cfg.max_version;
}

static int accept_contact(struct vmb_server *s, const struct vmbus_channel_initiate_contact *ic)
{
	uint32_t v = ic->vmbus_version_requested;

	s->version = v;
	if (v == VERSION_COPPER)
		s->features = ic->feature_flags & s->cfg.features;
	if (v < VERSION_WIN10_V5)
		s->interrupt_page = ic->interrupt_page;
	s->monitor_page1 = ic->monitor_page1;
	s->monitor_page2 = ic->monitor_page2;
	s->state = VMB_SRV_CONNECTED;
	version_response(s, 1, VMBUS_CONNECTION_SUCCESSFUL);
	if (s->ops->connected)
		s->ops->connected(s->ctx, v);
	return 0;
}

int vmb_srv_initiate_contact(struct vmb_server *s, uint32_t conn_id, const void *msg, size_t len)
{
	const struct vmbus_channel_initiate_contact *ic = msg;
	uint32_t v = ic->vmbus_version_requested;
	uint32_t want =
	    v >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4 : VMBUS_MESSAGE_CONNECTION_ID;
	uint32_t vp = v >= VERSION_WIN8_1 ? ic->target_vcpu : 0;
	uint32_t sint = v >= VERSION_WIN10_V5 ? ic->msg_sint : VMBUS_MESSAGE_SINT;
	const uint32_t type = CHANNELMSG_INITIATE_CONTACT;

	(void)len;
	if (conn_id != want)
		return vmb_srv_reject(s, type, -EPROTO, "version %#x on connection id %u, needs %u",
				      v, conn_id, want);
	if (vp >= s->cfg.vp_count)
		return vmb_srv_reject(s, type, -EPROTO, "target_vcpu %u >= %u", vp,
				      s->cfg.vp_count);
	if (sint >= HV_SYNIC_SINT_COUNT)
		return vmb_srv_reject(s, type, -EPROTO, "msg_sint %u", sint);

	vmb_srv_drop_connection(s);
	s->target_vcpu = vp;
	s->msg_sint = sint;
	if (!version_ok(s, v)) {
		refuse(s, VMBUS_CONNECTION_SUCCESSFUL);
		return 0;
	}
	if (!monitor_pages_ok(s, ic->monitor_page1, ic->monitor_page2) ||
	    (v < VERSION_WIN10_V5 && ic->interrupt_page && !gpa_ok(s, ic->interrupt_page))) {
		refuse(s, VMBUS_CONNECTION_FAILED_UNKNOWN);
		return vmb_srv_reject(s, type, -EPROTO, "bad monitor or interrupt page GPA");
	}
	return accept_contact(s, ic);
}

int vmb_srv_unload(struct vmb_server *s)
{
	struct vmbus_channel_message_header r;
	uint32_t vp = s->target_vcpu, sint = s->msg_sint, v = s->version;

	vmb_srv_drop_connection(s);
	/* UNLOAD_RESPONSE exists from Win7; it goes where the old connection pointed. */
	if (v >= VERSION_WIN7) {
		vmb_msg_init(&r, sizeof(r), CHANNELMSG_UNLOAD_RESPONSE);
		s->ops->send(s->ctx, vp, sint, &r, sizeof(r));
	}
	return 0;
}

int vmb_srv_tl_connect(struct vmb_server *s, const void *msg, size_t len)
{
	const struct vmbus_channel_tl_connect_request *m = msg;
	struct vmbus_channel_tl_connect_result r;

	(void)len;
	if (s->version < VERSION_WIN10_V4_1) {
		/* No TL_CONNECT_RESULT before 4.1: the guest just never hears back. */
		vmb_srv_log(s, "vmbus server: TL_CONNECT_REQUEST refused (no hv_sock service)");
		return 0;
	}
	vmb_msg_init(&r, sizeof(r), CHANNELMSG_TL_CONNECT_RESULT);
	r.endpoint_id = m->guest_endpoint_id;
	r.service_id = m->host_service_id;
	r.status = VMB_SRV_CONNECTION_REFUSED;
	vmb_srv_send(s, &r, sizeof(r));
	return 0;
}

int vmb_srv_modify_connection(struct vmb_server *s, const void *msg)
{
	const struct vmbus_channel_modify_connection *m = msg;
	struct vmbus_channel_modify_connection_response r;
	uint64_t p1 = m->parent_to_child_monitor_page_gpa;
	uint64_t p2 = m->child_to_parent_monitor_page_gpa;
	bool ok = monitor_pages_ok(s, p1, p2);

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_MODIFY_CONNECTION_RESPONSE);
	r.connection_state = ok ? VMBUS_CONNECTION_SUCCESSFUL : VMBUS_CONNECTION_FAILED_UNKNOWN;
	vmb_srv_send(s, &r, sizeof(r));
	if (!ok)
		return vmb_srv_reject(s, CHANNELMSG_MODIFY_CONNECTION, -EPROTO,
				      "bad monitor page GPAs");
	s->monitor_page1 = p1;
	s->monitor_page2 = p2;
	return 0;
}

int vmb_srv_pause(struct vmb_server *s)
{
	struct vmbus_channel_message_header r;

	if (s->paused)
		return vmb_srv_reject(s, CHANNELMSG_PAUSE, -EPROTO, "already paused");
	vmb_msg_init(&r, sizeof(r), CHANNELMSG_PAUSE_RESPONSE);
	vmb_srv_send(s, &r, sizeof(r));
	s->paused = true;
	return 0;
}

int vmb_srv_resume(struct vmb_server *s)
{
	if (!s->paused)
		return vmb_srv_reject(s, CHANNELMSG_RESUME, -EPROTO, "not paused");
	vmb_srv_flush(s);
	return 0;
}
