/* IC framework, pure part: pipe + IC header parsing, building, negotiation. */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/ic.h"

const struct ic_version vmb_ic_fw_versions[2] = {{3, 0}, {1, 0}};

int vmb_ic_parse(void *buf, size_t len, struct vmb_ic_msg *m)
{
	struct vmbuspipe_hdr pipe;

	if (len < ICMSG_HDR)
		return -EBADMSG;
	memcpy(&pipe, buf, sizeof(pipe));
	if (pipe.flags != VMBUS_PIPE_TYPE_DATA)
		return -EBADMSG;
	/* The ring pads packets to 8 bytes, so msgsize may be below len - 8. */
	if (pipe.msgsize > len - sizeof(pipe) || pipe.msgsize < ICMSG_HDR - sizeof(pipe))
		return -EBADMSG;
	if (pipe.msgsize + sizeof(pipe) > VMB_IC_MAX_MSG)
		return -EBADMSG;
	memcpy(&m->hdr, (uint8_t *)buf + sizeof(pipe), sizeof(m->hdr));
	m->len = pipe.msgsize + (uint32_t)sizeof(pipe);
	m->body = (uint8_t *)buf + ICMSG_HDR;
	m->body_len = m->len - ICMSG_HDR;
	if (m->hdr.icmsgsize > m->body_len)
		return -EBADMSG;
	return 0;
}

static void put_hdr(void *buf, const struct icmsg_hdr *h)
{
	memcpy((uint8_t *)buf + sizeof(struct vmbuspipe_hdr), h, sizeof(*h));
}

int vmb_ic_build(void *buf, size_t cap, uint16_t msgtype, struct ic_version fw,
		 struct ic_version msgver, uint8_t xid, const void *body, uint32_t body_len)
{
	struct vmbuspipe_hdr pipe = {.flags = VMBUS_PIPE_TYPE_DATA};
	struct icmsg_hdr h = {
	    .icverframe = fw,
	    .icmsgtype = msgtype,
	    .icvermsg = msgver,
	    .ictransaction_id = xid,
	    .icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_REQUEST,
	};
	size_t total = ICMSG_HDR + (size_t)body_len;

	if (total > cap || total > VMB_IC_MAX_MSG || body_len > UINT16_MAX || (body_len && !body))
		return -EINVAL;
	pipe.msgsize = (uint32_t)(total - sizeof(pipe));
	h.icmsgsize = (uint16_t)body_len;
	memcpy(buf, &pipe, sizeof(pipe));
	put_hdr(buf, &h);
	if (body_len)
		memcpy((uint8_t *)buf + ICMSG_HDR, body, body_len);
	return (int)total;
}

int vmb_ic_build_negotiate(void *buf, size_t cap, uint8_t xid, const struct ic_version *fw,
			   unsigned nfw, const struct ic_version *msg, unsigned nmsg)
{
	uint8_t body[sizeof(struct icmsg_negotiate) + 2 * VMB_IC_MAX_VERSIONS * 4];
	struct icmsg_negotiate n = {.icframe_vercnt = (uint16_t)nfw,
				    .icmsg_vercnt = (uint16_t)nmsg};
	size_t off = sizeof(n);

	if (nfw == 0 || nmsg == 0 || nfw > VMB_IC_MAX_VERSIONS || nmsg > VMB_IC_MAX_VERSIONS)
		return -EINVAL;
	memcpy(body, &n, sizeof(n));
	memcpy(body + off, fw, nfw * sizeof(*fw));
	off += nfw * sizeof(*fw);
	memcpy(body + off, msg, nmsg * sizeof(*msg));
	off += nmsg * sizeof(*msg);
	return vmb_ic_build(buf, cap, ICMSGTYPE_NEGOTIATE, fw[0], msg[0], xid, body, (uint32_t)off);
}

static bool ver_eq(struct ic_version a, struct ic_version b)
{
	return a.major == b.major && a.minor == b.minor;
}

static bool list_has(const uint8_t *list, unsigned n, struct ic_version v)
{
	for (unsigned i = 0; i < n; i++) {
		struct ic_version x;

		memcpy(&x, list + 4 * (size_t)i, sizeof(x));
		if (ver_eq(x, v))
			return true;
	}
	return false;
}

static bool arr_has(const struct ic_version *a, unsigned n, struct ic_version v)
{
	for (unsigned i = 0; i < n; i++)
		if (ver_eq(a[i], v))
			return true;
	return false;
}

/* Snapshot the counts and check both lists are present. */
static int neg_counts(const struct vmb_ic_msg *m, struct icmsg_negotiate *n)
{
	if (m->hdr.icmsgtype != ICMSGTYPE_NEGOTIATE || m->body_len < sizeof(*n))
		return -EBADMSG;
	memcpy(n, m->body, sizeof(*n));
	if (n->icframe_vercnt > VMB_IC_MAX_VERSIONS || n->icmsg_vercnt > VMB_IC_MAX_VERSIONS)
		return -EBADMSG;
	if (sizeof(*n) + 4u * ((size_t)n->icframe_vercnt + n->icmsg_vercnt) > m->body_len)
		return -EBADMSG;
	return 0;
}

int vmb_ic_negotiate_pick(struct vmb_ic_msg *m, const struct ic_version *fw_pref, unsigned nfw,
			  const struct ic_version *msg_pref, unsigned nmsg, struct ic_version *fw,
			  struct ic_version *msgver)
{
	struct icmsg_negotiate n;
	const uint8_t *fws = m->body + sizeof(n);
	const uint8_t *msgs;
	bool got_fw = false, got_msg = false;
	int rc = neg_counts(m, &n);

	if (rc < 0)
		return rc;
	msgs = fws + 4 * (size_t)n.icframe_vercnt;
	for (unsigned i = 0; i < nfw && !got_fw; i++)
		if ((got_fw = list_has(fws, n.icframe_vercnt, fw_pref[i])))
			*fw = fw_pref[i];
	for (unsigned i = 0; i < nmsg && !got_msg; i++)
		if ((got_msg = list_has(msgs, n.icmsg_vercnt, msg_pref[i])))
			*msgver = msg_pref[i];
	if (!got_fw || !got_msg) {
		n.icframe_vercnt = 0;
		n.icmsg_vercnt = 0;
		memcpy(m->body, &n, sizeof(n));
		return -ENOTSUP;
	}
	/* The answer needs 16 bytes; the request held at least two versions. */
	n.icframe_vercnt = 1;
	n.icmsg_vercnt = 1;
	memcpy(m->body, &n, sizeof(n));
	memcpy(m->body + sizeof(n), fw, sizeof(*fw));
	memcpy(m->body + sizeof(n) + 4, msgver, sizeof(*msgver));
	m->hdr.icmsgsize = sizeof(n) + 8;
	return 0;
}

int vmb_ic_negotiate_result(const struct vmb_ic_msg *m, const struct ic_version *fw, unsigned nfw,
			    const struct ic_version *msg, unsigned nmsg, struct ic_version *fw_out,
			    struct ic_version *msg_out)
{
	struct icmsg_negotiate n;
	struct ic_version a, b;
	int rc = neg_counts(m, &n);

	if (rc < 0)
		return rc;
	if (n.icframe_vercnt == 0 || n.icmsg_vercnt == 0)
		return -ENOTSUP;
	if (n.icframe_vercnt != 1 || n.icmsg_vercnt != 1)
		return -EBADMSG;
	memcpy(&a, m->body + sizeof(n), sizeof(a));
	memcpy(&b, m->body + sizeof(n) + 4, sizeof(b));
	if (!arr_has(fw, nfw, a) || !arr_has(msg, nmsg, b))
		return -EBADMSG;
	*fw_out = a;
	*msg_out = b;
	return 0;
}
