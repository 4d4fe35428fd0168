/* storvsp: channel state and the initialization protocol (PROTOCOL.md 6.4). */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/storage/storvsp_priv.h"
#include "vmbus/msg.h"

static const uint16_t stor_versions[] = {
    VMSTOR_PROTO_VERSION_WIN10, VMSTOR_PROTO_VERSION_WIN8_1, VMSTOR_PROTO_VERSION_WIN8,
    VMSTOR_PROTO_VERSION_WIN7,	VMSTOR_PROTO_VERSION_WIN6,
};

void vmb_stor_log(struct stor_chan *sc, const char *fmt, ...)
{
	char line[256];
	va_list ap;

	if (!sc->c->h)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vmb_host_log(sc->c->h, "storvsp: channel %u: %s", sc->sub, line);
}

int vmb_stor_ctrl_init(struct vmb_stor_ctrl **out, const struct vmb_stor_config *cfg)
{
	struct vmb_stor_ctrl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->cfg = *cfg;
	if (!c->cfg.max_subchannels)
		c->cfg.max_subchannels = 16;
	if (c->cfg.max_subchannels > STOR_MAX_CHANNELS - 1)
		c->cfg.max_subchannels = STOR_MAX_CHANNELS - 1;
	if (!c->cfg.max_version)
		c->cfg.max_version = VMSTOR_PROTO_VERSION_CURRENT;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->idle, NULL);
	*out = c;
	return 0;
}

/* Every channel is closed: nothing can be in flight. */
void vmb_stor_ctrl_free(struct vmb_stor_ctrl *c)
{
	for (unsigned i = 0; i < VMB_SCSI_MAX_LUNS; i++) {
		if (!c->luns[i])
			continue;
		vmb_disk_close(c->luns[i]->disk);
		free(c->luns[i]);
	}
	pthread_cond_destroy(&c->idle);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

struct stor_chan *vmb_stor_chan_open(struct vmb_stor_ctrl *c, uint16_t sub, struct vmb_channel *ch,
				     stor_reply_fn reply, void *arg)
{
	struct stor_chan *sc;

	if (sub >= STOR_MAX_CHANNELS || c->chans[sub])
		return NULL;
	sc = calloc(1, sizeof(*sc));
	if (!sc)
		return NULL;
	sc->c = c;
	sc->ch = ch;
	sc->sub = sub;
	sc->reply = reply;
	sc->reply_arg = arg;
	pthread_mutex_lock(&c->lock);
	c->chans[sub] = sc;
	/* A reopened primary channel starts the handshake over. */
	if (sub == 0) {
		c->state = STOR_START;
		c->version = 0;
		c->subs_offered = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return sc;
}

void vmb_stor_chan_close(struct stor_chan *sc)
{
	struct vmb_stor_ctrl *c = sc->c;

	pthread_mutex_lock(&c->lock);
	while (sc->inflight)
		pthread_cond_wait(&c->idle, &c->lock);
	c->chans[sc->sub] = NULL;
	pthread_mutex_unlock(&c->lock);
	free(sc);
}

/* Completions are as long as the request they answer (0x30..0x40), like OpenVMM. */
static uint32_t reply_size(const struct vmb_stor_ctrl *c, uint32_t req_len)
{
	if (req_len >= VSTOR_PACKET_SIZE_PRE_WIN8 && req_len <= VSTOR_PACKET_SIZE_WIN8)
		return req_len;
	if (req_len > VSTOR_PACKET_SIZE_WIN8)
		return VSTOR_PACKET_SIZE_WIN8;
	return c->version ? vstor_packet_size(c->version) : VSTOR_PACKET_SIZE_WIN8;
}

static void reply_status(struct stor_chan *sc, const struct vmb_packet *pkt, uint32_t status,
			 const struct vstor_packet *body)
{
	struct vstor_packet r = {0};

	if (!(pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED))
		return;
	if (body)
		r = *body;
	r.operation = VSTOR_OPERATION_COMPLETE_IO;
	r.flags = 0;
	r.status = status;
	sc->reply(sc->reply_arg, pkt->trans_id, &r, reply_size(sc->c, pkt->len));
}

static uint32_t query_version(struct vmb_stor_ctrl *c, const struct vstor_packet *vp)
{
	uint16_t v = vp->version.major_minor;

	if (c->state != STOR_BEGUN && c->state != STOR_VERSIONED)
		return VSTOR_STATUS_INVALID_DEVICE_STATE;
	if (v > c->cfg.max_version)
		return VSTOR_STATUS_REVISION_MISMATCH;
	for (size_t i = 0; i < sizeof(stor_versions) / sizeof(stor_versions[0]); i++) {
		if (stor_versions[i] == v) {
			c->version = v;
			c->state = STOR_VERSIONED;
			return VSTOR_STATUS_SUCCESS;
		}
	}
	return VSTOR_STATUS_REVISION_MISMATCH;
}

static uint32_t query_properties(struct vmb_stor_ctrl *c, struct vstor_packet *out)
{
	struct vmstorage_channel_properties *p = &out->storage_channel_properties;

	if (c->state != STOR_VERSIONED && c->state != STOR_READY)
		return VSTOR_STATUS_INVALID_DEVICE_STATE;
	memset(p, 0, sizeof(*p));
	p->max_transfer_bytes = VSTOR_MAX_TRANSFER_BYTES;
	/* Multi-channel exists from Win8 (5.1) on. */
	if (c->version >= VMSTOR_PROTO_VERSION_WIN8) {
		p->max_channel_cnt = (uint16_t)c->cfg.max_subchannels;
		p->flags = STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL;
	}
	return VSTOR_STATUS_SUCCESS;
}

static uint32_t create_subchannels(struct stor_chan *sc, const struct vstor_packet *vp)
{
	struct vmb_stor_ctrl *c = sc->c;
	uint16_t n = vp->sub_channel_count;

	if (sc->sub != 0 || c->version < VMSTOR_PROTO_VERSION_WIN8 ||
	    (c->state != STOR_VERSIONED && c->state != STOR_READY))
		return VSTOR_STATUS_INVALID_DEVICE_STATE;
	if (n == 0 || n > c->cfg.max_subchannels || c->subs_offered)
		return VSTOR_STATUS_INVALID_PARAMETER;
	if (c->v && vmb_vsp_offer_subchannels(c->v, n) < 0)
		return VSTOR_STATUS_INVALID_DEVICE_STATE;
	c->subs_offered = n;
	return VSTOR_STATUS_SUCCESS;
}

/* Initialization operations: primary channel only, in order. */
static uint32_t control_op(struct stor_chan *sc, const struct vstor_packet *vp,
			   struct vstor_packet *out)
{
	struct vmb_stor_ctrl *c = sc->c;

	if (sc->sub != 0)
		return VSTOR_STATUS_INVALID_DEVICE_STATE;
	switch (vp->operation) {
	case VSTOR_OPERATION_BEGIN_INITIALIZATION:
		if (c->state != STOR_START)
			return VSTOR_STATUS_INVALID_DEVICE_STATE;
		c->state = STOR_BEGUN;
		return VSTOR_STATUS_SUCCESS;
	case VSTOR_OPERATION_QUERY_PROTOCOL_VERSION:
		out->version = vp->version;
		return query_version(c, vp);
	case VSTOR_OPERATION_QUERY_PROPERTIES:
		return query_properties(c, out);
	case VSTOR_OPERATION_END_INITIALIZATION:
		if (c->state != STOR_VERSIONED)
			return VSTOR_STATUS_INVALID_DEVICE_STATE;
		c->state = STOR_READY;
		return VSTOR_STATUS_SUCCESS;
	default:
		return VSTOR_STATUS_INVALID_PARAMETER;
	}
}

void vmb_stor_packet(struct stor_chan *sc, const struct vmb_packet *pkt)
{
	struct vstor_packet vp = {0}, out = {0};
	uint32_t status;

	if (pkt->type != VM_PKT_DATA_INBAND && pkt->type != VM_PKT_DATA_USING_GPA_DIRECT) {
		vmb_stor_log(sc, "packet type %u ignored", pkt->type);
		return reply_status(sc, pkt, VSTOR_STATUS_INVALID_PARAMETER, NULL);
	}
	/* Guests may send anything up to 0x40 bytes whatever the version. */
	memcpy(&vp, pkt->data, pkt->len < sizeof(vp) ? pkt->len : sizeof(vp));
	if (pkt->len < VSTOR_PACKET_HDR_SIZE) {
		vmb_stor_log(sc, "truncated packet (%u bytes)", pkt->len);
		return reply_status(sc, pkt, VSTOR_STATUS_INVALID_PARAMETER, NULL);
	}
	switch (vp.operation) {
	case VSTOR_OPERATION_EXECUTE_SRB:
		return vmb_stor_execute_srb(sc, pkt, &vp, reply_size(sc->c, pkt->len));
	case VSTOR_OPERATION_RESET_LUN:
	case VSTOR_OPERATION_RESET_ADAPTER:
	case VSTOR_OPERATION_RESET_BUS:
		return reply_status(sc, pkt, VSTOR_STATUS_SUCCESS, NULL);
	case VSTOR_OPERATION_CREATE_SUB_CHANNELS:
		pthread_mutex_lock(&sc->c->lock);
		status = create_subchannels(sc, &vp);
		pthread_mutex_unlock(&sc->c->lock);
		break;
	default:
		pthread_mutex_lock(&sc->c->lock);
		status = control_op(sc, &vp, &out);
		pthread_mutex_unlock(&sc->c->lock);
		break;
	}
	if (status != VSTOR_STATUS_SUCCESS && status != VSTOR_STATUS_REVISION_MISMATCH)
		vmb_stor_log(sc, "operation %u failed: status %#x", vp.operation, status);
	reply_status(sc, pkt, status, &out);
}
