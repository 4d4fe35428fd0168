/* IC framework, guest side: answer negotiation, dispatch requests, reply. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/ic.h"

struct vmb_ic_guest {
	struct vmb_device *dev;
	struct vmb_channel *ch;
	pthread_mutex_t lock; /* sm, pending */
	struct vmb_ic_guest_sm sm;
	/* The deferred request: its buffer, length and VMBus trans_id. */
	uint8_t pending[VMB_IC_MAX_MSG];
	size_t pending_len;
	uint64_t pending_tid;
	uint8_t buf[VMB_IC_MAX_MSG]; /* the request being processed */
};

static void finish(void *buf, struct vmb_ic_msg *m, uint32_t status)
{
	m->hdr.status = status;
	m->hdr.icflags = ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE;
	memcpy((uint8_t *)buf + sizeof(struct vmbuspipe_hdr), &m->hdr, sizeof(m->hdr));
}

static int negotiate(struct vmb_ic_guest_sm *sm, void *buf, struct vmb_ic_msg *m)
{
	const struct vmb_ic_guest_service *s = sm->svc;
	struct ic_version fw, mv;
	int rc =
	    vmb_ic_negotiate_pick(m, s->fw_versions, s->nfw, s->msg_versions, s->nmsg, &fw, &mv);

	if (rc == -EBADMSG)
		return rc;
	sm->negotiated = rc == 0;
	if (rc == 0) {
		sm->fw = fw;
		sm->msgver = mv;
	}
	/* No common version still gets an answer (counts 0), as Linux does. */
	finish(buf, m, HV_S_OK);
	return VMB_IC_REPLY;
}

int vmb_ic_guest_process(struct vmb_ic_guest_sm *sm, struct vmb_ic_guest *ic, void *buf, size_t len,
			 size_t *out_len)
{
	const struct vmb_ic_guest_service *s = sm->svc;
	struct vmb_ic_msg m;
	uint32_t status = HV_E_FAIL;
	int rc = vmb_ic_parse(buf, len, &m);

	if (rc < 0)
		return rc;
	if ((m.hdr.icflags & (ICMSGHDRFLAG_REQUEST | ICMSGHDRFLAG_RESPONSE)) !=
	    ICMSGHDRFLAG_REQUEST)
		return -EBADMSG;
	sm->requests++;
	*out_len = m.len;
	if (m.hdr.icmsgtype == ICMSGTYPE_NEGOTIATE)
		return negotiate(sm, buf, &m);
	if (!sm->negotiated || m.hdr.icmsgtype != s->msgtype || sm->deferred) {
		/* Wrong type, no negotiation or one at a time: fail this one, keep serving. */
		sm->rejected++;
		finish(buf, &m, HV_E_FAIL);
		return VMB_IC_REPLY;
	}
	rc = s->request(s->ctx, ic, &m, &status);
	if (rc == VMB_IC_DEFER) {
		sm->deferred = true;
		return rc;
	}
	if (rc < 0)
		return rc;
	finish(buf, &m, status);
	return VMB_IC_REPLY;
}

static void ic_log(struct vmb_ic_guest *ic, const char *what, int rc)
{
	vmb_guest_log(vmb_device_guest(ic->dev), "%s: %s (%s)", ic->sm.svc->name, what,
		      strerror(-rc));
}

static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_ic_guest *ic = arg;
	size_t out = 0;
	int rc;

	if (pkt->type != VM_PKT_DATA_INBAND || pkt->len > sizeof(ic->buf)) {
		ic_log(ic, "packet dropped: not an in-band IC message", -EBADMSG);
		return;
	}
	pthread_mutex_lock(&ic->lock);
	memcpy(ic->buf, pkt->data, pkt->len);
	rc = vmb_ic_guest_process(&ic->sm, ic, ic->buf, pkt->len, &out);
	if (rc == VMB_IC_DEFER) {
		memcpy(ic->pending, ic->buf, pkt->len);
		ic->pending_len = pkt->len;
		ic->pending_tid = pkt->trans_id;
	}
	pthread_mutex_unlock(&ic->lock);
	if (rc == VMB_IC_REPLY)
		rc = vmb_chan_send(ch, ic->buf, out, pkt->trans_id, 0);
	if (rc < 0)
		ic_log(ic, "request dropped", rc);
}

int vmb_ic_guest_reply(struct vmb_ic_guest *ic, uint32_t status)
{
	return vmb_ic_guest_reply_body(ic, status, NULL, 0);
}

int vmb_ic_guest_reply_body(struct vmb_ic_guest *ic, uint32_t status, const void *body,
			    uint32_t body_len)
{
	struct vmb_ic_msg m;
	uint8_t *copy;
	size_t len;
	uint64_t tid;
	int rc = 0;

	pthread_mutex_lock(&ic->lock);
	if (!ic->sm.deferred) {
		pthread_mutex_unlock(&ic->lock);
		return -EALREADY;
	}
	len = ic->pending_len;
	tid = ic->pending_tid;
	copy = malloc(len);
	if (copy) {
		memcpy(copy, ic->pending, len);
		/* Parsed when deferred: only the body can differ. */
		rc = vmb_ic_parse(copy, len, &m);
		if (rc == 0 && body_len > m.body_len)
			rc = -EMSGSIZE;
		if (rc == 0 && body_len)
			memcpy(m.body, body, body_len);
		if (rc == 0)
			finish(copy, &m, status);
	}
	/* A refused body leaves the request deferred: the caller can still answer it. */
	if (rc == 0)
		ic->sm.deferred = false;
	pthread_mutex_unlock(&ic->lock);
	if (rc < 0) {
		free(copy);
		return rc;
	}
	if (!copy)
		return -ENOMEM;
	rc = vmb_chan_send(ic->ch, copy, len, tid, 0);
	free(copy);
	return rc;
}

int vmb_ic_guest_open(struct vmb_device *dev, const struct vmb_ic_guest_service *svc,
		      struct vmb_ic_guest **out)
{
	struct vmb_ic_guest *ic = calloc(1, sizeof(*ic));
	struct vmb_open_opts o = {
	    .send_ring = VMB_IC_RING_BYTES,
	    .recv_ring = VMB_IC_RING_BYTES,
	    .handler = on_packet,
	    .copy_out = true,
	    .max_packet = VMB_IC_MAX_MSG + 64,
	};
	int rc;

	if (!ic)
		return -ENOMEM;
	ic->dev = dev;
	ic->sm.svc = svc;
	pthread_mutex_init(&ic->lock, NULL);
	o.arg = ic;
	rc = vmb_device_open(dev, &o, &ic->ch);
	if (rc < 0) {
		pthread_mutex_destroy(&ic->lock);
		free(ic);
		return rc;
	}
	*out = ic;
	return 0;
}

void vmb_ic_guest_close(struct vmb_ic_guest *ic)
{
	if (!ic)
		return;
	vmb_device_close(ic->dev, ic->ch);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
}

bool vmb_ic_guest_versions(struct vmb_ic_guest *ic, struct ic_version *fw,
			   struct ic_version *msgver)
{
	bool ok;

	pthread_mutex_lock(&ic->lock);
	ok = ic->sm.negotiated;
	*fw = ic->sm.fw;
	*msgver = ic->sm.msgver;
	pthread_mutex_unlock(&ic->lock);
	return ok;
}

struct vmb_device *vmb_ic_guest_device(struct vmb_ic_guest *ic)
{
	return ic->dev;
}
