/* RNDIS message parsing and building (PROTOCOL.md 7.4). */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dev/net/rndis.h"

/* [off, off+len) inside a body of body_len bytes, without overflow. */
static bool in_body(uint32_t off, uint32_t len, uint32_t body_len)
{
	return (uint64_t)off + len <= body_len;
}

int vmb_rndis_parse_hdr(const void *buf, size_t len, struct vmb_rndis_msg *m)
{
	struct rndis_msg_hdr h;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, buf, sizeof(h));
	if (h.msg_len < sizeof(h) || h.msg_len > len)
		return -EBADMSG;
	m->type = h.ndis_msg_type;
	m->len = h.msg_len;
	m->body = (const uint8_t *)buf + sizeof(h);
	m->body_len = h.msg_len - (uint32_t)sizeof(h);
	return 0;
}

static int parse_ppi(const uint8_t *p, uint32_t len, struct vmb_rndis_frame *f)
{
	while (len > 0) {
		struct rndis_per_packet_info ppi;
		uint32_t dlen, v;

		if (len < sizeof(ppi))
			return -EBADMSG;
		memcpy(&ppi, p, sizeof(ppi));
		if (ppi.size < sizeof(ppi) || ppi.size > len || ppi.ppi_offset < sizeof(ppi) ||
		    ppi.ppi_offset > ppi.size)
			return -EBADMSG;
		dlen = ppi.size - ppi.ppi_offset;
		if (dlen >= sizeof(v)) {
			memcpy(&v, p + ppi.ppi_offset, sizeof(v));
			if (ppi.type == RNDIS_PPI_TCPIP_CHKSUM) {
				f->has_csum = true;
				f->csum_info = v;
			} else if (ppi.type == RNDIS_PPI_8021Q) {
				f->has_vlan = true;
				f->vlan_info = v;
			}
		}
		p += ppi.size;
		len -= ppi.size;
	}
	return 0;
}

int vmb_rndis_parse_packet(const struct vmb_rndis_msg *m, struct vmb_rndis_frame *f)
{
	struct rndis_packet pk;

	memset(f, 0, sizeof(*f));
	if (m->type != RNDIS_MSG_PACKET || m->body_len < sizeof(pk))
		return -EBADMSG;
	memcpy(&pk, m->body, sizeof(pk));
	if (pk.data_len == 0 || !in_body(pk.data_offset, pk.data_len, m->body_len))
		return -EBADMSG;
	if (pk.per_pkt_info_len) {
		if (!in_body(pk.per_pkt_info_offset, pk.per_pkt_info_len, m->body_len))
			return -EBADMSG;
		if (parse_ppi(m->body + pk.per_pkt_info_offset, pk.per_pkt_info_len, f) < 0)
			return -EBADMSG;
	}
	f->data = m->body + pk.data_offset;
	f->len = pk.data_len;
	return 0;
}

static int parse_query(const struct vmb_rndis_msg *m, struct vmb_rndis_req *r)
{
	struct rndis_query_request q;

	if (m->body_len < sizeof(q))
		return -EBADMSG;
	memcpy(&q, m->body, sizeof(q));
	r->req_id = q.req_id;
	r->oid = q.oid;
	if (q.info_buflen == 0)
		return 0;
	if (!in_body(q.info_buf_offset, q.info_buflen, m->body_len))
		return -EBADMSG;
	r->info = m->body + q.info_buf_offset;
	r->info_len = q.info_buflen;
	return 0;
}

int vmb_rndis_parse_request(const struct vmb_rndis_msg *m, struct vmb_rndis_req *r)
{
	struct rndis_initialize_request in;

	memset(r, 0, sizeof(*r));
	r->type = m->type;
	switch (m->type) {
	case RNDIS_MSG_INIT:
		if (m->body_len < sizeof(in))
			return -EBADMSG;
		memcpy(&in, m->body, sizeof(in));
		r->req_id = in.req_id;
		r->major = in.major_ver;
		r->minor = in.minor_ver;
		r->max_xfer_size = in.max_xfer_size;
		return 0;
	case RNDIS_MSG_QUERY:
	case RNDIS_MSG_SET:
		return parse_query(m, r);
	case RNDIS_MSG_HALT:
	case RNDIS_MSG_KEEPALIVE:
		if (m->body_len < 4)
			return -EBADMSG;
		memcpy(&r->req_id, m->body, 4);
		return 0;
	case RNDIS_MSG_RESET:
		return m->body_len < 4 ? -EBADMSG : 0;
	default:
		return -EOPNOTSUPP;
	}
}

static int parse_query_c(const struct vmb_rndis_msg *m, struct vmb_rndis_resp *r)
{
	struct rndis_query_complete q;

	if (m->body_len < sizeof(q))
		return -EBADMSG;
	memcpy(&q, m->body, sizeof(q));
	r->req_id = q.req_id;
	r->status = q.status;
	if (q.status != RNDIS_STATUS_SUCCESS || q.info_buflen == 0)
		return 0;
	if (!in_body(q.info_buf_offset, q.info_buflen, m->body_len))
		return -EBADMSG;
	r->info = m->body + q.info_buf_offset;
	r->info_len = q.info_buflen;
	return 0;
}

int vmb_rndis_parse_response(const struct vmb_rndis_msg *m, struct vmb_rndis_resp *r)
{
	uint32_t two[2];

	memset(r, 0, sizeof(*r));
	r->type = m->type;
	switch (m->type) {
	case RNDIS_MSG_INIT_C:
		if (m->body_len < sizeof(r->init))
			return -EBADMSG;
		memcpy(&r->init, m->body, sizeof(r->init));
		r->req_id = r->init.req_id;
		r->status = r->init.status;
		return 0;
	case RNDIS_MSG_QUERY_C:
		return parse_query_c(m, r);
	case RNDIS_MSG_SET_C:
	case RNDIS_MSG_KEEPALIVE_C:
	case RNDIS_MSG_RESET_C:
		if (m->body_len < sizeof(two))
			return -EBADMSG;
		memcpy(two, m->body, sizeof(two));
		/* RESET_C has no request id: status comes first. */
		if (m->type == RNDIS_MSG_RESET_C) {
			r->status = two[0];
		} else {
			r->req_id = two[0];
			r->status = two[1];
		}
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

int vmb_rndis_parse_indicate(const struct vmb_rndis_msg *m, uint32_t *status)
{
	struct rndis_indicate_status s;

	if (m->type != RNDIS_MSG_INDICATE_STATUS || m->body_len < sizeof(s))
		return -EBADMSG;
	memcpy(&s, m->body, sizeof(s));
	if (s.status_buflen && !in_body(s.status_buf_offset, s.status_buflen, m->body_len))
		return -EBADMSG;
	*status = s.status;
	return 0;
}

int vmb_rndis_build(void *buf, size_t cap, uint32_t type, const void *body, size_t body_len,
		    const void *tail, size_t tail_len)
{
	struct rndis_msg_hdr h = {.ndis_msg_type = type};
	size_t total = sizeof(h) + body_len + tail_len;
	uint8_t *p = buf;

	if (total > cap || total > INT32_MAX)
		return -ENOSPC;
	h.msg_len = (uint32_t)total;
	memcpy(p, &h, sizeof(h));
	if (body_len)
		memcpy(p + sizeof(h), body, body_len);
	if (tail_len)
		memcpy(p + sizeof(h) + body_len, tail, tail_len);
	return (int)total;
}

int vmb_rndis_build_query(void *buf, size_t cap, uint32_t type, uint32_t req_id, uint32_t oid,
			  const void *info, size_t info_len)
{
	struct rndis_query_request q = {
	    .req_id = req_id,
	    .oid = oid,
	    .info_buflen = (uint32_t)info_len,
	    .info_buf_offset = sizeof(q),
	};

	if (info_len > UINT16_MAX)
		return -ENOSPC;
	return vmb_rndis_build(buf, cap, type, &q, sizeof(q), info, info_len);
}

int vmb_rndis_build_query_c(void *buf, size_t cap, uint32_t req_id, uint32_t status,
			    const void *info, size_t info_len)
{
	struct rndis_query_complete q = {
	    .req_id = req_id,
	    .status = status,
	    .info_buflen = (uint32_t)info_len,
	    .info_buf_offset = info_len ? sizeof(q) : 0,
	};

	if (info_len > UINT16_MAX)
		return -ENOSPC;
	return vmb_rndis_build(buf, cap, RNDIS_MSG_QUERY_C, &q, sizeof(q), info, info_len);
}

size_t vmb_rndis_packet_hdr(void *buf, uint32_t frame_len)
{
	struct rndis_msg_hdr h = {
	    .ndis_msg_type = RNDIS_MSG_PACKET,
	    .msg_len = (uint32_t)RNDIS_PACKET_SIZE + frame_len,
	};
	struct rndis_packet pk = {
	    .data_offset = sizeof(pk),
	    .data_len = frame_len,
	};

	memcpy(buf, &h, sizeof(h));
	memcpy((uint8_t *)buf + sizeof(h), &pk, sizeof(pk));
	return RNDIS_PACKET_SIZE;
}

void vmb_rndis_set_len(void *buf, uint32_t len)
{
	memcpy((uint8_t *)buf + offsetof(struct rndis_msg_hdr, msg_len), &len, sizeof(len));
}
