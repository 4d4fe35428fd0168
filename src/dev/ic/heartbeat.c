/* Heartbeat IC: host liveness tracking + `vmbus ctl heartbeat`; guest answers. */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/ic.h"

static const struct ic_version hb_msg_versions[] = {{3, 0}, {1, 0}};

/* ---- tracker (pure) ---- */

void vmb_hb_init(struct vmb_hb_tracker *t, unsigned timeout_ms, uint64_t now_ms)
{
	memset(t, 0, sizeof(*t));
	t->timeout_ms = timeout_ms;
	t->start_ms = now_ms;
	t->reported = VMB_HB_WAITING;
}

int vmb_hb_answer(struct vmb_hb_tracker *t, uint64_t req_seq, uint64_t seq, uint64_t now_ms)
{
	if (seq != req_seq + 1) {
		t->bad++;
		return -EPROTO;
	}
	t->answered++;
	t->ever_answered = true;
	t->last_ok_ms = now_ms;
	return 0;
}

enum vmb_hb_state vmb_hb_state(const struct vmb_hb_tracker *t, uint64_t now_ms)
{
	uint64_t since = t->ever_answered ? t->last_ok_ms : t->start_ms;

	if (now_ms - since <= t->timeout_ms)
		return t->ever_answered ? VMB_HB_ALIVE : VMB_HB_WAITING;
	return VMB_HB_MISSING;
}

const char *vmb_hb_state_name(enum vmb_hb_state s)
{
	switch (s) {
	case VMB_HB_WAITING:
		return "waiting";
	case VMB_HB_ALIVE:
		return "alive";
	case VMB_HB_MISSING:
		return "missing";
	}
	return "?";
}

/* ---- host ---- */

struct vmb_hb_host {
	struct vmb_ic_host *ic;
	struct vmb_host *h;
	pthread_mutex_t lock;
	struct vmb_hb_tracker t;
	uint64_t req_seq;
	unsigned timeout_ms;
};

static void hb_done(void *arg, struct vmb_ic_host *ic, int err, const struct vmb_ic_msg *m)
{
	struct vmb_hb_host *hb = arg;
	uint64_t seq = 0;
	int rc = err;

	(void)ic;
	if (err == 0 && (m->body_len < VMB_HB_MIN_BODY || m->hdr.status != HV_S_OK))
		rc = -EBADMSG;
	if (rc == 0)
		memcpy(&seq, m->body, sizeof(seq));
	pthread_mutex_lock(&hb->lock);
	if (rc == 0)
		rc = vmb_hb_answer(&hb->t, hb->req_seq, seq, vmb_ic_now_ms());
	else if (rc == -EBADMSG)
		hb->t.bad++;
	pthread_mutex_unlock(&hb->lock);
	if (rc == -EPROTO || rc == -EBADMSG)
		vmb_host_log(hb->h, "heartbeat: bad answer (seq %" PRIu64 " to %" PRIu64 ")", seq,
			     hb->req_seq);
}

/* Log each change of the liveness state once. */
static void hb_report(struct vmb_hb_host *hb, uint64_t now)
{
	enum vmb_hb_state s, old;

	pthread_mutex_lock(&hb->lock);
	s = vmb_hb_state(&hb->t, now);
	old = hb->t.reported;
	hb->t.reported = s;
	pthread_mutex_unlock(&hb->lock);
	if (s == old)
		return;
	if (s == VMB_HB_MISSING)
		vmb_host_log(hb->h, "heartbeat: guest missing (no answer for %u ms)",
			     hb->timeout_ms);
	else if (s == VMB_HB_ALIVE)
		vmb_host_log(hb->h, "heartbeat: guest alive");
}

static void hb_tick(void *ctx, struct vmb_ic_host *ic, uint64_t now)
{
	struct vmb_hb_host *hb = ctx;
	struct heartbeat_msg_data d = {0};

	hb_report(hb, now);
	pthread_mutex_lock(&hb->lock);
	d.seq_num = hb->t.next_seq;
	/* Set before sending: the answer may arrive before the call returns. */
	hb->req_seq = d.seq_num;
	pthread_mutex_unlock(&hb->lock);
	if (vmb_ic_host_request(ic, &d, sizeof(d), (int)hb->timeout_ms, hb_done, hb) < 0)
		return; /* not negotiated yet, or the previous one is still out */
	pthread_mutex_lock(&hb->lock);
	hb->t.next_seq++;
	hb->t.sent++;
	pthread_mutex_unlock(&hb->lock);
}

void vmb_hb_host_status(struct vmb_hb_host *hb, struct vmb_hb_status *st)
{
	uint64_t now = vmb_ic_now_ms();

	pthread_mutex_lock(&hb->lock);
	st->state = vmb_hb_state(&hb->t, now);
	st->sent = hb->t.sent;
	st->answered = hb->t.answered;
	st->bad = hb->t.bad;
	st->last_answer_ago_ms = hb->t.ever_answered ? now - hb->t.last_ok_ms : UINT64_MAX;
	pthread_mutex_unlock(&hb->lock);
}

static int ctl_heartbeat(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_hb_status st;

	(void)argc;
	(void)argv;
	vmb_hb_host_status(ctx, &st);
	fprintf(out, "state %s\nsent %" PRIu64 "\nanswered %" PRIu64 "\nbad %" PRIu64 "\n",
		vmb_hb_state_name(st.state), st.sent, st.answered, st.bad);
	if (st.last_answer_ago_ms == UINT64_MAX)
		fprintf(out, "last_answer_ms never\n");
	else
		fprintf(out, "last_answer_ms %" PRIu64 "\n", st.last_answer_ago_ms);
	return 0;
}

static void hb_release(void *ctx)
{
	struct vmb_hb_host *hb = ctx;

	pthread_mutex_destroy(&hb->lock);
	free(hb);
}

int vmb_hb_host_add(struct vmb_host *h, const struct vmb_hb_host_config *cfg,
		    struct vmb_hb_host **out)
{
	struct vmb_hb_host *hb = calloc(1, sizeof(*hb));
	struct vmb_ic_host_service s = {
	    .name = "heartbeat",
	    .msgtype = ICMSGTYPE_HEARTBEAT,
	    .class_id = VMB_GUID_HEARTBEAT,
	    .instance_id = VMB_GUID_HEARTBEAT_INSTANCE,
	    .fw_versions = vmb_ic_fw_versions,
	    .nfw = 2,
	    .msg_versions = hb_msg_versions,
	    .nmsg = 2,
	    .tick = hb_tick,
	    .release = hb_release,
	};
	int rc;

	if (!hb)
		return -ENOMEM;
	hb->h = h;
	hb->timeout_ms = cfg && cfg->timeout_ms ? cfg->timeout_ms : 5000;
	s.tick_ms = cfg && cfg->period_ms ? cfg->period_ms : 1000;
	s.ctx = hb;
	pthread_mutex_init(&hb->lock, NULL);
	vmb_hb_init(&hb->t, hb->timeout_ms, vmb_ic_now_ms());
	rc = vmb_ic_host_add(h, &s, &hb->ic);
	if (rc < 0) {
		hb_release(hb);
		return rc;
	}
	vmb_host_ctl_register(h, "heartbeat", "guest liveness: state, requests, answers",
			      ctl_heartbeat, hb);
	if (out)
		*out = hb;
	return 0;
}

/* ---- guest ---- */

struct vmb_hb_guest {
	struct vmb_driver drv;
	struct vmb_ic_guest_service svc;
	uint64_t answered;
};

static int hb_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_hb_guest *hg = ctx;
	uint64_t seq;

	(void)ic;
	if (m->body_len < VMB_HB_MIN_BODY) {
		*status = HV_E_FAIL;
		return VMB_IC_REPLY;
	}
	memcpy(&seq, m->body, sizeof(seq));
	seq++;
	memcpy(m->body, &seq, sizeof(seq));
	__atomic_add_fetch(&hg->answered, 1, __ATOMIC_RELAXED);
	*status = HV_S_OK;
	return VMB_IC_REPLY;
}

static int hb_probe(struct vmb_device *dev)
{
	struct vmb_hb_guest *hg = vmb_device_driver(dev)->ctx;
	struct vmb_ic_guest *ic;
	int rc = vmb_ic_guest_open(dev, &hg->svc, &ic);

	if (rc == 0)
		vmb_device_set_priv(dev, ic);
	return rc;
}

static void hb_remove(struct vmb_device *dev)
{
	vmb_ic_guest_close(vmb_device_priv(dev));
}

int vmb_hb_guest_register(struct vmb_guest *g, struct vmb_hb_guest **out)
{
	struct vmb_hb_guest *hg = calloc(1, sizeof(*hg));
	int rc;

	if (!hg)
		return -ENOMEM;
	hg->svc = (struct vmb_ic_guest_service){
	    .name = "heartbeat",
	    .msgtype = ICMSGTYPE_HEARTBEAT,
	    .fw_versions = vmb_ic_fw_versions,
	    .nfw = 2,
	    .msg_versions = hb_msg_versions,
	    .nmsg = 2,
	    .request = hb_request,
	    .ctx = hg,
	};
	hg->drv = (struct vmb_driver){
	    .name = "hv_heartbeat",
	    .class_id = VMB_GUID_HEARTBEAT,
	    .probe = hb_probe,
	    .remove = hb_remove,
	    .ctx = hg,
	};
	rc = vmb_guest_register_driver(g, &hg->drv);
	if (rc < 0) {
		free(hg);
		return rc;
	}
	*out = hg;
	return 0;
}

void vmb_hb_guest_free(struct vmb_hb_guest *hg)
{
	free(hg);
}

uint64_t vmb_hb_guest_answered(struct vmb_hb_guest *hg)
{
	return __atomic_load_n(&hg->answered, __ATOMIC_RELAXED);
}
