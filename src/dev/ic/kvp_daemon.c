/* KVP, guest side: hand host requests to a registered Linux hv_kvp_daemon. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ic/kvp_daemon.h"

struct kvpd {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* inflight dropped to 0 */
	kvpd_reply_fn reply;
	void (*wake)(void *arg);
	void *wake_arg;
	bool open;
	int reg_op; /* 0 until the daemon registers */
	/* The message the daemon reads next (version, then requests). */
	bool out_ready;
	struct hv_kvp_msg out;
	/* The host request with the daemon: its IC and body. */
	struct vmb_ic_guest *ic;
	uint8_t body[sizeof(struct hv_kvp_ip_msg)];
	size_t body_len;
	unsigned inflight; /* answers being sent outside the lock */
};

int kvpd_create(kvpd_reply_fn reply, struct kvpd **out)
{
	struct kvpd *d = calloc(1, sizeof(*d));

	if (!d)
		return -ENOMEM;
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->idle, NULL);
	d->reply = reply ? reply : vmb_ic_guest_reply_body;
	*out = d;
	return 0;
}

void kvpd_destroy(struct kvpd *d)
{
	if (!d)
		return;
	pthread_cond_destroy(&d->idle);
	pthread_mutex_destroy(&d->lock);
	free(d);
}

void kvpd_set_wake(struct kvpd *d, void (*wake)(void *arg), void *arg)
{
	pthread_mutex_lock(&d->lock);
	d->wake = wake;
	d->wake_arg = arg;
	pthread_mutex_unlock(&d->lock);
}

static void wake(struct kvpd *d)
{
	void (*fn)(void *);
	void *arg;

	pthread_mutex_lock(&d->lock);
	fn = d->wake;
	arg = d->wake_arg;
	pthread_mutex_unlock(&d->lock);
	if (fn)
		fn(arg);
}

int kvpd_submit(struct kvpd *d, struct vmb_ic_guest *ic, const void *body, size_t len)
{
	struct hv_kvp_msg m;
	int rc;

	pthread_mutex_lock(&d->lock);
	rc = d->reg_op ? 0 : -ENOTCONN;
	/* The IC layer allows one transaction at a time; a second one is a bug. */
	if (rc == 0 && d->ic)
		rc = -EBUSY;
	if (rc == 0 && len > sizeof(d->body))
		rc = -EBADMSG;
	if (rc == 0)
		rc = vmb_kvp_daemon_request(body, len, &m);
	if (rc == 0) {
		d->ic = ic;
		memcpy(d->body, body, len);
		d->body_len = len;
		d->out = m;
		d->out_ready = true;
	}
	pthread_mutex_unlock(&d->lock);
	if (rc == 0)
		wake(d);
	return rc;
}

void kvpd_detach(struct kvpd *d, struct vmb_ic_guest *ic)
{
	pthread_mutex_lock(&d->lock);
	if (d->ic == ic) {
		d->ic = NULL;
		d->out_ready = false;
	}
	while (d->inflight)
		pthread_cond_wait(&d->idle, &d->lock);
	pthread_mutex_unlock(&d->lock);
}

bool kvpd_attached(struct kvpd *d)
{
	bool r;

	pthread_mutex_lock(&d->lock);
	r = d->reg_op != 0;
	pthread_mutex_unlock(&d->lock);
	return r;
}

int kvpd_open(struct kvpd *d)
{
	int rc = 0;

	pthread_mutex_lock(&d->lock);
	if (d->open) {
		rc = -EBUSY;
	} else {
		d->open = true;
		d->reg_op = 0;
		d->out_ready = false;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static int do_register(struct kvpd *d, const struct hv_kvp_msg *m)
{
	uint8_t op = m->kvp_hdr.operation;

	if (op != KVP_OP_REGISTER && op != KVP_OP_REGISTER1)
		return -EINVAL;
	d->reg_op = op;
	memset(&d->out, 0, sizeof(d->out));
	d->out.kvp_hdr.operation = op;
	memcpy(d->out.body.version, VMB_KVP_DRV_VERSION, sizeof(VMB_KVP_DRV_VERSION));
	d->out_ready = true;
	return 0;
}

/* Send the answer outside the lock (the IC layer takes its own). */
static void answer(struct kvpd *d, struct vmb_ic_guest *ic, uint32_t status)
{
	uint8_t body[sizeof(d->body)];
	uint32_t len = (uint32_t)d->body_len;

	memcpy(body, d->body, len);
	d->ic = NULL;
	d->inflight++;
	pthread_mutex_unlock(&d->lock);
	d->reply(ic, status, body, len);
	pthread_mutex_lock(&d->lock);
	if (--d->inflight == 0)
		pthread_cond_broadcast(&d->idle);
}

int kvpd_write(struct kvpd *d, const void *buf, size_t len)
{
	struct hv_kvp_msg m;
	bool registering;
	int rc = 0;

	/* Exactly one message per write, as the kernel's transport wants. */
	if (len != sizeof(m))
		return -EINVAL;
	memcpy(&m, buf, sizeof(m));
	pthread_mutex_lock(&d->lock);
	registering = !d->reg_op;
	if (registering) {
		rc = do_register(d, &m);
	} else if (!d->ic || d->out_ready) {
		rc = -EINVAL; /* nothing asked: a spurious answer */
	} else {
		uint32_t status = vmb_kvp_daemon_answer(&m, d->reg_op, d->body, d->body_len);

		answer(d, d->ic, status);
	}
	pthread_mutex_unlock(&d->lock);
	if (rc == 0 && registering) {
		wake(d);
		return 1;
	}
	return rc;
}

int kvpd_take(struct kvpd *d, struct hv_kvp_msg *out)
{
	int rc = -EAGAIN;

	pthread_mutex_lock(&d->lock);
	if (d->out_ready) {
		*out = d->out;
		d->out_ready = false;
		rc = 0;
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

bool kvpd_readable(struct kvpd *d)
{
	bool r;

	pthread_mutex_lock(&d->lock);
	r = d->out_ready;
	pthread_mutex_unlock(&d->lock);
	return r;
}

void kvpd_release(struct kvpd *d)
{
	pthread_mutex_lock(&d->lock);
	d->open = false;
	d->reg_op = 0;
	d->out_ready = false;
	/* The host gets a clean failure; the built-in handler serves the next one. */
	if (d->ic)
		answer(d, d->ic, HV_E_FAIL);
	pthread_mutex_unlock(&d->lock);
}
