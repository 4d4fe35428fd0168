/*
 * IC framework, host side: offer in message-pipe mode, negotiate when the
 * guest opens, one outstanding request at a time with a timeout.
 *
 * Locking: ic->lock guards the channel pointer, the state and the request
 * slot. Done callbacks and ticks run without it. The timer thread never
 * takes the host lock, so release() (which may run under it) can join it.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmbus/dev/ic.h"

#define IC_NEGOTIATE_TIMEOUT_MS 5000
#define IC_IDLE_WAIT_MS		200

enum ic_state { IC_CLOSED, IC_NEED_NEGOTIATE, IC_NEGOTIATING, IC_READY, IC_FAILED };

struct vmb_ic_host {
	struct vmb_host *h;
	struct vmb_vsp *v;
	struct vmb_ic_host_service svc;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t timer;
	bool stop;
	struct vmb_channel *ch;
	enum ic_state state;
	struct ic_version fw, msgver;
	/* The one outstanding request. */
	bool busy;
	uint16_t msgtype;
	uint64_t deadline_ms;
	vmb_ic_done_fn done;
	void *arg;
	uint8_t xid;
	uint64_t tid;
	uint64_t next_tick_ms;
	uint8_t rbuf[VMB_IC_MAX_MSG]; /* response copy (loop thread only) */
};

uint64_t vmb_ic_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

/* Called with ic->lock held: send buf as the outstanding request. */
static int send_locked(struct vmb_ic_host *ic, const void *buf, int len, uint16_t msgtype,
		       int timeout_ms, vmb_ic_done_fn done, void *arg)
{
	int rc;

	if (!ic->ch)
		return -ENOTCONN;
	if (ic->busy)
		return -EBUSY;
	/* Never wait for ring space: this may run on the loop or timer thread. */
	rc = vmb_chan_send(ic->ch, buf, (size_t)len, ++ic->tid, VMB_SEND_NOWAIT);
	if (rc < 0)
		return rc;
	ic->busy = true;
	ic->msgtype = msgtype;
	ic->deadline_ms = vmb_ic_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 1);
	ic->done = done;
	ic->arg = arg;
	return 0;
}

static void neg_done(void *arg, struct vmb_ic_host *ic, int err, const struct vmb_ic_msg *m)
{
	const struct vmb_ic_host_service *s = &ic->svc;
	struct ic_version fw = {0, 0}, mv = {0, 0};

	(void)arg;
	if (err == 0)
		err = vmb_ic_negotiate_result(m, s->fw_versions, s->nfw, s->msg_versions, s->nmsg,
					      &fw, &mv);
	pthread_mutex_lock(&ic->lock);
	if (ic->state == IC_NEGOTIATING) {
		ic->state = err == 0 ? IC_READY : IC_FAILED;
		ic->fw = fw;
		ic->msgver = mv;
	}
	pthread_cond_broadcast(&ic->cond);
	pthread_mutex_unlock(&ic->lock);
	if (err == 0)
		vmb_host_log(ic->h, "%s: negotiated framework %u.%u, message %u.%u", s->name,
			     fw.major, fw.minor, mv.major, mv.minor);
	else if (err != -ECANCELED)
		vmb_host_log(ic->h, "%s: version negotiation failed (%s)", s->name, strerror(-err));
	if (s->ready)
		s->ready(s->ctx, ic, err);
}

static void start_negotiate_locked(struct vmb_ic_host *ic)
{
	uint8_t buf[ICMSG_HDR + 8 + 8 * VMB_IC_MAX_VERSIONS];
	int len = vmb_ic_build_negotiate(buf, sizeof(buf), ++ic->xid, ic->svc.fw_versions,
					 ic->svc.nfw, ic->svc.msg_versions, ic->svc.nmsg);

	if (len < 0 || send_locked(ic, buf, len, ICMSGTYPE_NEGOTIATE, IC_NEGOTIATE_TIMEOUT_MS,
				   neg_done, NULL) < 0)
		return; /* retried on the next timer pass */
	ic->state = IC_NEGOTIATING;
}

/* Take the outstanding request out of the slot (lock held). */
static vmb_ic_done_fn take_locked(struct vmb_ic_host *ic, void **arg)
{
	vmb_ic_done_fn fn = ic->busy ? ic->done : NULL;

	*arg = ic->arg;
	ic->busy = false;
	ic->done = NULL;
	return fn;
}

static uint64_t timer_step_locked(struct vmb_ic_host *ic, uint64_t now)
{
	uint64_t wake = now + IC_IDLE_WAIT_MS;
	void *arg;

	if (ic->busy && now >= ic->deadline_ms) {
		vmb_ic_done_fn fn = take_locked(ic, &arg);

		if (ic->state == IC_NEGOTIATING)
			ic->state = IC_NEED_NEGOTIATE;
		pthread_mutex_unlock(&ic->lock);
		fn(arg, ic, -ETIMEDOUT, NULL);
		pthread_mutex_lock(&ic->lock);
	}
	if (ic->state == IC_NEED_NEGOTIATE && !ic->busy)
		start_negotiate_locked(ic);
	if (ic->svc.tick && now >= ic->next_tick_ms) {
		ic->next_tick_ms = now + ic->svc.tick_ms;
		pthread_mutex_unlock(&ic->lock);
		ic->svc.tick(ic->svc.ctx, ic, now);
		pthread_mutex_lock(&ic->lock);
	}
	if (ic->busy && ic->deadline_ms < wake)
		wake = ic->deadline_ms;
	if (ic->svc.tick && ic->next_tick_ms < wake)
		wake = ic->next_tick_ms;
	return wake;
}

static void *timer_main(void *arg)
{
	struct vmb_ic_host *ic = arg;

	pthread_mutex_lock(&ic->lock);
	while (!ic->stop) {
		uint64_t wake = timer_step_locked(ic, vmb_ic_now_ms());
		struct timespec ts = {.tv_sec = (time_t)(wake / 1000),
				      .tv_nsec = (long)(wake % 1000) * 1000000};

		if (!ic->stop)
			pthread_cond_timedwait(&ic->cond, &ic->lock, &ts);
	}
	pthread_mutex_unlock(&ic->lock);
	return NULL;
}

static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_ic_host *ic = arg;
	struct vmb_ic_msg m;
	vmb_ic_done_fn fn = NULL;
	void *darg = NULL;

	(void)ch;
	if (pkt->type != VM_PKT_DATA_INBAND || pkt->len > sizeof(ic->rbuf)) {
		vmb_host_log(ic->h, "%s: dropped a packet that is no IC message", ic->svc.name);
		return;
	}
	memcpy(ic->rbuf, pkt->data, pkt->len);
	if (vmb_ic_parse(ic->rbuf, pkt->len, &m) < 0 || !(m.hdr.icflags & ICMSGHDRFLAG_RESPONSE)) {
		vmb_host_log(ic->h, "%s: dropped a malformed IC response (%u bytes)", ic->svc.name,
			     pkt->len);
		return;
	}
	pthread_mutex_lock(&ic->lock);
	/* Any trans_id is accepted: some guests answer with ~0. */
	if (ic->busy && ic->msgtype == m.hdr.icmsgtype)
		fn = take_locked(ic, &darg);
	pthread_mutex_unlock(&ic->lock);
	if (!fn) {
		vmb_host_log(ic->h, "%s: dropped an unexpected IC response (type %u)", ic->svc.name,
			     m.hdr.icmsgtype);
		return;
	}
	fn(darg, ic, 0, &m);
}

static int ic_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		   const struct vmb_open_params *p)
{
	struct vmb_ic_host *ic = dev;

	(void)v;
	(void)p;
	if (sub != 0)
		return -EINVAL;
	vmb_chan_set_handler(ch, on_packet, ic);
	pthread_mutex_lock(&ic->lock);
	ic->ch = ch;
	ic->state = IC_NEED_NEGOTIATE;
	pthread_cond_broadcast(&ic->cond);
	pthread_mutex_unlock(&ic->lock);
	return 0;
}

static void ic_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_ic_host *ic = dev;
	vmb_ic_done_fn fn;
	void *arg;

	(void)v;
	(void)sub;
	(void)ch;
	pthread_mutex_lock(&ic->lock);
	ic->ch = NULL;
	ic->state = IC_CLOSED;
	fn = take_locked(ic, &arg);
	pthread_cond_broadcast(&ic->cond);
	pthread_mutex_unlock(&ic->lock);
	if (fn)
		fn(arg, ic, -ECANCELED, NULL);
}

static void ic_release(void *dev)
{
	struct vmb_ic_host *ic = dev;

	pthread_mutex_lock(&ic->lock);
	ic->stop = true;
	pthread_cond_broadcast(&ic->cond);
	pthread_mutex_unlock(&ic->lock);
	pthread_join(ic->timer, NULL);
	if (ic->svc.release)
		ic->svc.release(ic->svc.ctx);
	pthread_cond_destroy(&ic->cond);
	pthread_mutex_destroy(&ic->lock);
	free(ic);
}

static const struct vmb_vsp_ops ic_ops = {
    .open = ic_open,
    .close = ic_close,
    .release = ic_release,
};

static int ic_init_sync(struct vmb_ic_host *ic)
{
	pthread_condattr_t ca;
	int rc;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	rc = pthread_cond_init(&ic->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (rc)
		return -rc;
	pthread_mutex_init(&ic->lock, NULL);
	rc = pthread_create(&ic->timer, NULL, timer_main, ic);
	if (rc) {
		pthread_mutex_destroy(&ic->lock);
		pthread_cond_destroy(&ic->cond);
		return -rc;
	}
	return 0;
}

int vmb_ic_host_add(struct vmb_host *h, const struct vmb_ic_host_service *svc,
		    struct vmb_ic_host **out)
{
	struct vmb_ic_host *ic;
	struct vmb_vsp_desc d = {
	    .name = svc->name,
	    .class_id = svc->class_id,
	    .instance_id = svc->instance_id,
	    .chn_flags = VMB_IC_CHN_FLAGS,
	    .max_packet = VMB_IC_MAX_MSG + 64,
	    .copy_out = true,
	    .ops = &ic_ops,
	};
	uint32_t mode = VMB_IC_PIPE_MODE_MESSAGE;
	int rc;

	if (!svc->nfw || !svc->nmsg || svc->nfw > VMB_IC_MAX_VERSIONS ||
	    svc->nmsg > VMB_IC_MAX_VERSIONS)
		return -EINVAL;
	ic = calloc(1, sizeof(*ic));
	if (!ic)
		return -ENOMEM;
	ic->h = h;
	ic->svc = *svc;
	rc = ic_init_sync(ic);
	if (rc < 0) {
		free(ic);
		return rc;
	}
	memcpy(d.user_def, &mode, sizeof(mode));
	d.dev = ic;
	rc = vmb_host_add_device(h, &d, &ic->v);
	if (rc < 0) {
		/* Not taken by the host: free ours, leave ctx to the caller. */
		ic->svc.release = NULL;
		ic_release(ic);
		return rc;
	}
	*out = ic;
	return 0;
}

int vmb_ic_host_request(struct vmb_ic_host *ic, const void *body, uint32_t body_len, int timeout_ms,
			vmb_ic_done_fn done, void *arg)
{
	uint8_t *buf = malloc(VMB_IC_MAX_MSG);
	int len, rc;

	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&ic->lock);
	if (ic->state != IC_READY) {
		rc = -ENOTCONN;
	} else {
		len = vmb_ic_build(buf, VMB_IC_MAX_MSG, ic->svc.msgtype, ic->fw, ic->msgver,
				   (uint8_t)(ic->xid + 1), body, body_len);
		rc = len < 0 ? len
			     : send_locked(ic, buf, len, ic->svc.msgtype, timeout_ms, done, arg);
		if (rc == 0) {
			ic->xid++;
			pthread_cond_broadcast(&ic->cond); /* the timer watches the deadline */
		}
	}
	pthread_mutex_unlock(&ic->lock);
	free(buf);
	return rc;
}

struct sync_wait {
	bool finished;
	int err;
	uint32_t status;
	void *resp;
	uint32_t cap, *len;
};

static void sync_done(void *arg, struct vmb_ic_host *ic, int err, const struct vmb_ic_msg *m)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&ic->lock);
	w->err = err;
	if (err == 0) {
		uint32_t n = m->body_len < w->cap ? m->body_len : w->cap;

		w->status = m->hdr.status;
		if (w->resp && n)
			memcpy(w->resp, m->body, n);
		if (w->len)
			*w->len = n;
	}
	w->finished = true;
	pthread_cond_broadcast(&ic->cond);
	pthread_mutex_unlock(&ic->lock);
}

static int wait_ready_locked(struct vmb_ic_host *ic, uint64_t deadline)
{
	while (ic->state != IC_READY) {
		struct timespec ts = {.tv_sec = (time_t)(deadline / 1000),
				      .tv_nsec = (long)(deadline % 1000) * 1000000};

		if (ic->state == IC_FAILED)
			return -ENOTSUP;
		if (vmb_ic_now_ms() >= deadline)
			return -ENOTCONN;
		pthread_cond_timedwait(&ic->cond, &ic->lock, &ts);
	}
	return 0;
}

int vmb_ic_host_request_sync(struct vmb_ic_host *ic, const void *body, uint32_t body_len,
			     int timeout_ms, uint32_t *status, void *resp, uint32_t resp_cap,
			     uint32_t *resp_len)
{
	struct sync_wait w = {.resp = resp, .cap = resp ? resp_cap : 0, .len = resp_len};
	uint64_t deadline = vmb_ic_now_ms() + (uint64_t)(timeout_ms > 0 ? timeout_ms : 0);
	int rc;

	pthread_mutex_lock(&ic->lock);
	rc = wait_ready_locked(ic, deadline);
	pthread_mutex_unlock(&ic->lock);
	if (rc < 0)
		return rc;
	rc = vmb_ic_host_request(ic, body, body_len, timeout_ms, sync_done, &w);
	if (rc < 0)
		return rc;
	/* done runs exactly once: response, timeout or close. */
	pthread_mutex_lock(&ic->lock);
	while (!w.finished)
		pthread_cond_wait(&ic->cond, &ic->lock);
	pthread_mutex_unlock(&ic->lock);
	if (w.err == 0 && status)
		*status = w.status;
	return w.err;
}

bool vmb_ic_host_versions(struct vmb_ic_host *ic, struct ic_version *fw, struct ic_version *msgver)
{
	bool ok;

	pthread_mutex_lock(&ic->lock);
	ok = ic->state == IC_READY;
	*fw = ic->fw;
	*msgver = ic->msgver;
	pthread_mutex_unlock(&ic->lock);
	return ok;
}

struct vmb_host *vmb_ic_host_host(struct vmb_ic_host *ic)
{
	return ic->h;
}
