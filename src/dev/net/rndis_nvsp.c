/* NVSP message validation (PROTOCOL.md 7.1). */
#include <errno.h>
#include <string.h>

#include "dev/net/rndis.h"

/* Bytes after msg_type each known type needs; 0 = none, unknown types too. */
static size_t body_min(uint32_t type)
{
	const struct nvsp_message *m = NULL;

	switch (type) {
	case NVSP_MSG_TYPE_INIT:
		return sizeof(m->init);
	case NVSP_MSG_TYPE_INIT_COMPLETE:
		return sizeof(m->init_complete);
	case NVSP_MSG1_TYPE_SEND_NDIS_VER:
		return sizeof(m->ndis_ver);
	case NVSP_MSG1_TYPE_SEND_RECV_BUF:
		return sizeof(m->recv_buf);
	case NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE:
		return sizeof(m->recv_buf_complete);
	case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
	case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
		return sizeof(m->revoke);
	case NVSP_MSG1_TYPE_SEND_SEND_BUF:
		return sizeof(m->send_buf);
	case NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE:
		return sizeof(m->send_buf_complete);
	case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
		return sizeof(m->rndis_pkt);
	case NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE:
		return sizeof(m->rndis_pkt_complete);
	case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG:
		return sizeof(m->ndis_config);
	case NVSP_MSG5_TYPE_SUBCHANNEL:
		return sizeof(m->subchan_req);
	case NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE:
		return sizeof(m->indirect);
	default:
		return 0;
	}
}

int vmb_nvsp_parse(const void *buf, size_t len, struct nvsp_message *out)
{
	memset(out, 0, sizeof(*out));
	if (len < sizeof(out->msg_type))
		return -EBADMSG;
	memcpy(out, buf, len < sizeof(*out) ? len : sizeof(*out));
	if (len - sizeof(out->msg_type) < body_min(out->msg_type))
		return -EBADMSG;
	return 0;
}

size_t vmb_nvsp_msg_size(uint32_t version)
{
	return version >= NVSP_PROTOCOL_VERSION_61 ? NVSP_MESSAGE_SIZE_V61 : NVSP_MESSAGE_SIZE_V1;
}

bool vmb_nvsp_version_known(uint32_t version)
{
	switch (version) {
	case NVSP_PROTOCOL_VERSION_1:
	case NVSP_PROTOCOL_VERSION_2:
	case NVSP_PROTOCOL_VERSION_4:
	case NVSP_PROTOCOL_VERSION_5:
	case NVSP_PROTOCOL_VERSION_6:
	case NVSP_PROTOCOL_VERSION_61:
		return true;
	default:
		return false;
	}
}
