/* netvsp: RNDIS messages from the guest (control requests and frames). */
#include <errno.h>
#include <string.h>

#include "dev/net/netvsp_priv.h"

#define NETVSP_MTU	  1500u
#define NETVSP_LINK_SPEED 100000000u /* 10 Gbit/s in 100 bit/s units */

static void reply(struct vmb_netvsp *n, const uint8_t *msg, int len)
{
	/* Lost replies make the guest's request time out; that is all it can do. */
	if (len < 0 || netvsp_send_rndis(n, msg, (uint32_t)len) < 0)
		vmb_host_log(n->h, "netvsp: RNDIS reply dropped (receive buffer full)");
}

static void do_init(struct vmb_netvsp *n, const struct vmb_rndis_req *r)
{
	struct rndis_initialize_complete c = {
	    .req_id = r->req_id,
	    .status = RNDIS_STATUS_SUCCESS,
	    .major_ver = RNDIS_MAJOR_VERSION,
	    .minor_ver = RNDIS_MINOR_VERSION,
	    .dev_flags = 1, /* connectionless */
	    .medium = RNDIS_MEDIUM_802_3,
	    .max_pkt_per_msg = 8,
	    .max_xfer_size = NETVSP_MAX_RNDIS,
	    .pkt_alignment_factor = 3, /* 8-byte aligned RNDIS messages */
	};
	uint8_t buf[64];

	if (r->major != RNDIS_MAJOR_VERSION)
		c.status = RNDIS_STATUS_NOT_SUPPORTED;
	pthread_mutex_lock(&n->lock);
	n->rndis_ready = c.status == RNDIS_STATUS_SUCCESS;
	pthread_mutex_unlock(&n->lock);
	reply(n, buf, vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_INIT_C, &c, sizeof(c), NULL, 0));
}

static void do_query(struct vmb_netvsp *n, const struct vmb_rndis_req *r)
{
	uint8_t buf[64];
	uint32_t v = 0;
	const void *info = &v;
	size_t len = sizeof(v);
	uint32_t status = RNDIS_STATUS_SUCCESS;

	pthread_mutex_lock(&n->lock);
	switch (r->oid) {
	case RNDIS_OID_GEN_MAXIMUM_FRAME_SIZE:
		v = NETVSP_MTU;
		break;
	case RNDIS_OID_GEN_LINK_SPEED:
		v = NETVSP_LINK_SPEED;
		break;
	case RNDIS_OID_GEN_MEDIA_CONNECT_STATUS:
		v = n->link_down ? RNDIS_MEDIA_STATE_DISCONNECTED : RNDIS_MEDIA_STATE_CONNECTED;
		break;
	case RNDIS_OID_GEN_CURRENT_PACKET_FILTER:
		v = n->filter;
		break;
	case RNDIS_OID_802_3_PERMANENT_ADDRESS:
	case RNDIS_OID_802_3_CURRENT_ADDRESS:
		info = n->mac;
		len = sizeof(n->mac);
		break;
	default:
		/* RSS, offload and friendly name: the guest falls back to defaults. */
		status = RNDIS_STATUS_NOT_SUPPORTED;
		info = NULL;
		len = 0;
	}
	pthread_mutex_unlock(&n->lock);
	reply(n, buf, vmb_rndis_build_query_c(buf, sizeof(buf), r->req_id, status, info, len));
}

static void do_set(struct vmb_netvsp *n, const struct vmb_rndis_req *r)
{
	struct rndis_set_complete c = {.req_id = r->req_id, .status = RNDIS_STATUS_SUCCESS};
	uint8_t buf[32];

	switch (r->oid) {
	case RNDIS_OID_GEN_CURRENT_PACKET_FILTER:
		if (r->info_len < 4) {
			c.status = RNDIS_STATUS_INVALID_DATA;
			break;
		}
		pthread_mutex_lock(&n->lock);
		memcpy(&n->filter, r->info, 4);
		pthread_mutex_unlock(&n->lock);
		break;
	case RNDIS_OID_802_3_MULTICAST_LIST:
	case RNDIS_OID_GEN_RNDIS_CONFIG_PARAMETER:
		/* The TAP sees every frame anyway; nothing to program. */
		break;
	default:
		c.status = RNDIS_STATUS_NOT_SUPPORTED;
	}
	reply(n, buf, vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_SET_C, &c, sizeof(c), NULL, 0));
}

static int do_control(struct vmb_netvsp *n, const struct vmb_rndis_msg *m)
{
	struct vmb_rndis_req r;
	uint8_t buf[32];
	uint32_t two[2] = {0, RNDIS_STATUS_SUCCESS};
	int rc = vmb_rndis_parse_request(m, &r);

	if (rc < 0)
		return rc;
	switch (r.type) {
	case RNDIS_MSG_INIT:
		do_init(n, &r);
		break;
	case RNDIS_MSG_QUERY:
		do_query(n, &r);
		break;
	case RNDIS_MSG_SET:
		do_set(n, &r);
		break;
	case RNDIS_MSG_KEEPALIVE:
		two[0] = r.req_id;
		reply(n, buf,
		      vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_KEEPALIVE_C, two, sizeof(two),
				      NULL, 0));
		break;
	case RNDIS_MSG_RESET:
		two[0] = RNDIS_STATUS_SUCCESS;
		two[1] = 0;
		pthread_mutex_lock(&n->lock);
		n->filter = 0;
		pthread_mutex_unlock(&n->lock);
		reply(n, buf,
		      vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_RESET_C, two, sizeof(two), NULL,
				      0));
		break;
	case RNDIS_MSG_HALT:
		pthread_mutex_lock(&n->lock);
		n->rndis_ready = false;
		n->filter = 0;
		pthread_mutex_unlock(&n->lock);
		break;
	}
	return 0;
}

static int do_frame(struct vmb_netvsp *n, const struct vmb_rndis_msg *m, struct vmb_tap_counts *c)
{
	struct vmb_rndis_frame f;
	int rc = vmb_rndis_parse_packet(m, &f);

	if (rc == 0)
		vmb_tap_queue(&n->tapw, f.data, f.len, c);
	return rc;
}

/*
 * The guest may pack several RNDIS messages into one send (Linux batches
 * frames, so does netvsc); their frames reach the TAP in one flush.
 */
int netvsp_rndis(struct vmb_netvsp *n, const uint8_t *buf, uint32_t len)
{
	struct vmb_tap_counts c = {0};
	uint32_t off = 0;
	int rc = 0;

	/* Padding after the last message is shorter than a header. */
	while (rc == 0 && len - off >= RNDIS_HEADER_SIZE) {
		struct vmb_rndis_msg m;

		rc = vmb_rndis_parse_hdr(buf + off, len - off, &m);
		if (rc == 0 && m.type == RNDIS_MSG_PACKET)
			rc = do_frame(n, &m, &c);
		else if (rc == 0)
			rc = do_control(n, &m);
		if (rc == 0)
			off += m.len;
	}
	vmb_tap_flush(&n->tapw, &c);
	pthread_mutex_lock(&n->lock);
	n->st.tx_frames += c.frames;
	n->st.tx_bytes += c.bytes;
	n->st.tx_dropped += c.dropped;
	pthread_mutex_unlock(&n->lock);
	return rc;
}
