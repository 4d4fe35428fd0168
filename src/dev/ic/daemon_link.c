/* VSS and fcopy, guest side: hand host requests to a registered Linux daemon. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ic/daemon_fuse.h"
#include "dev/ic/daemon_link.h"

struct dlink {
	const struct dlink_service *svc;
	dlink_reply_fn reply;
	pthread_mutex_t lock;
	pthread_cond_t idle; /* inflight dropped to 0 */
	struct dfuse_file *file;
	bool open, registered;
	/* The message the daemon reads next (handshake answer, then requests). */
	bool out_ready;
	uint8_t *out;
	size_t out_len;
	/* The host request with the daemon: its IC and body. */
	struct vmb_ic_guest *ic;
	uint8_t *body;
	size_t body_len;
	unsigned inflight; /* answers and wakeups running outside the lock */
};

int dlink_create(const struct dlink_service *svc, dlink_reply_fn reply, struct dlink **out)
{
	struct dlink *l = calloc(1, sizeof(*l));

	if (!l)
		return -ENOMEM;
	l->out = malloc(svc->msg_max);
	l->body = malloc(svc->body_max);
	if (!l->out || !l->body) {
		free(l->out);
		free(l->body);
		free(l);
		return -ENOMEM;
	}
	pthread_mutex_init(&l->lock, NULL);
	pthread_cond_init(&l->idle, NULL);
	l->svc = svc;
	l->reply = reply ? reply : vmb_ic_guest_reply_body;
	*out = l;
	return 0;
}

void dlink_destroy(struct dlink *l)
{
	if (!l)
		return;
	pthread_cond_destroy(&l->idle);
	pthread_mutex_destroy(&l->lock);
	free(l->out);
	free(l->body);
	free(l);
}

static void unpin(struct dlink *l)
{
	if (--l->inflight == 0)
		pthread_cond_broadcast(&l->idle);
}

/* Lock held on entry and exit; the FUSE side takes its own lock. */
static void wake(struct dlink *l)
{
	struct dfuse_file *f = l->file;

	if (!f)
		return;
	l->inflight++;
	pthread_mutex_unlock(&l->lock);
	dfuse_wake(f);
	pthread_mutex_lock(&l->lock);
	unpin(l);
}

int dlink_submit(struct dlink *l, struct vmb_ic_guest *ic, const void *body, size_t len)
{
	long n;
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	if (!l->registered)
		rc = -ENOTCONN;
	else if (l->ic) /* the IC layer allows one transaction at a time */
		rc = -EBUSY;
	else if (l->out_ready) /* the daemon has not read our handshake answer yet */
		rc = -ENOTCONN;
	else if (len > l->svc->body_max)
		rc = -EBADMSG;
	if (rc == 0) {
		n = l->svc->request(body, len, l->out, l->svc->msg_max);
		rc = n < 0 ? (int)n : 0;
		if (rc == 0) {
			l->ic = ic;
			memcpy(l->body, body, len);
			l->body_len = len;
			l->out_len = (size_t)n;
			l->out_ready = true;
			wake(l);
		}
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

void dlink_detach(struct dlink *l, struct vmb_ic_guest *ic)
{
	pthread_mutex_lock(&l->lock);
	if (l->ic == ic) {
		l->ic = NULL;
		l->out_ready = false;
	}
	while (l->inflight)
		pthread_cond_wait(&l->idle, &l->lock);
	pthread_mutex_unlock(&l->lock);
}

bool dlink_attached(struct dlink *l)
{
	bool r;

	pthread_mutex_lock(&l->lock);
	r = l->registered;
	pthread_mutex_unlock(&l->lock);
	return r;
}

int dlink_open(struct dlink *l)
{
	int rc = 0;

	pthread_mutex_lock(&l->lock);
	if (l->open) {
		rc = -EBUSY;
	} else {
		l->open = true;
		l->registered = false;
		l->out_ready = false;
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

/* Send the answer outside the lock (the IC layer takes its own). */
static void answer(struct dlink *l, uint32_t status)
{
	struct vmb_ic_guest *ic = l->ic;
	uint32_t len = (uint32_t)l->body_len;
	uint8_t *body = malloc(len ? len : 1);

	l->ic = NULL;
	if (!body)
		return; /* the host's request times out */
	memcpy(body, l->body, len);
	l->inflight++;
	pthread_mutex_unlock(&l->lock);
	l->reply(ic, status, body, len);
	free(body);
	pthread_mutex_lock(&l->lock);
	unpin(l);
}

static int do_register(struct dlink *l, const void *buf, size_t len)
{
	size_t reply_len = 0;
	int rc = l->svc->reg(buf, len, l->out, &reply_len);

	if (rc < 0)
		return rc;
	l->registered = true;
	l->out_len = reply_len;
	l->out_ready = reply_len > 0;
	if (l->out_ready)
		wake(l);
	return 1;
}

int dlink_write(struct dlink *l, const void *buf, size_t len)
{
	uint32_t status;
	int rc;

	pthread_mutex_lock(&l->lock);
	if (!l->registered) {
		rc = do_register(l, buf, len);
	} else if (!l->ic || l->out_ready) {
		rc = -EINVAL; /* nothing asked: a spurious answer */
	} else {
		rc = l->svc->answer(buf, len, l->body, l->body_len, &status);
		if (rc == 0)
			answer(l, status);
	}
	pthread_mutex_unlock(&l->lock);
	return rc;
}

long dlink_take(struct dlink *l, void *buf, size_t cap)
{
	long n = -EAGAIN;

	pthread_mutex_lock(&l->lock);
	if (l->out_ready && l->out_len <= cap) {
		memcpy(buf, l->out, l->out_len);
		l->out_ready = false;
		n = (long)l->out_len;
	} else if (l->out_ready) {
		n = -EINVAL;
	}
	pthread_mutex_unlock(&l->lock);
	return n;
}

bool dlink_readable(struct dlink *l)
{
	bool r;

	pthread_mutex_lock(&l->lock);
	r = l->out_ready;
	pthread_mutex_unlock(&l->lock);
	return r;
}

void dlink_release(struct dlink *l)
{
	pthread_mutex_lock(&l->lock);
	l->open = false;
	l->registered = false;
	l->out_ready = false;
	/* The host gets a clean failure; the built-in handler serves the next one. */
	if (l->ic)
		answer(l, HV_E_FAIL);
	pthread_mutex_unlock(&l->lock);
}

static int lf_open(void *ctx)
{
	return dlink_open(ctx);
}

static int lf_write(void *ctx, const void *buf, size_t len)
{
	return dlink_write(ctx, buf, len);
}

static long lf_take(void *ctx, void *buf, size_t cap)
{
	return dlink_take(ctx, buf, cap);
}

static bool lf_readable(void *ctx)
{
	return dlink_readable(ctx);
}

static bool lf_attached(void *ctx)
{
	return dlink_attached(ctx);
}

static void lf_release(void *ctx)
{
	dlink_release(ctx);
}

static const struct dfuse_file_ops lf_ops = {
    .open = lf_open,
    .write = lf_write,
    .take = lf_take,
    .readable = lf_readable,
    .attached = lf_attached,
    .release = lf_release,
};

int dlink_fuse_start(struct dlink *l, struct vmb_guest *g, const char *dir, const char *gone_note,
		     bool positional)
{
	struct dfuse_file_desc desc = {
	    .name = l->svc->name,
	    .msg_max = l->svc->msg_max,
	    .positional = positional,
	    .gone_note = gone_note,
	    .ops = &lf_ops,
	    .ctx = l,
	};
	struct dfuse_file *f;
	int rc = dfuse_add(g, dir, &desc, &f);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&l->lock);
	l->file = f;
	pthread_mutex_unlock(&l->lock);
	return 0;
}

void dlink_fuse_stop(struct dlink *l)
{
	struct dfuse_file *f;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	f = l->file;
	l->file = NULL;
	while (l->inflight)
		pthread_cond_wait(&l->idle, &l->lock);
	pthread_mutex_unlock(&l->lock);
	dfuse_remove(f);
}
