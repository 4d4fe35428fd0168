/*
 * Blocking requests. The completion may arrive through another thread's
 * vmb_chan_interrupt() or, in poll mode, through nobody at all: so the
 * waiter wakes every millisecond and drains the ring itself when no one
 * else is draining it.
 */
#include <errno.h>
#include <string.h>

#include "chan/chan_impl.h"

struct sync_wait {
	void *resp;
	size_t cap, len;
	int status;
	bool done;
};

static void sync_done(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp, int status)
{
	struct sync_wait *w = arg;

	pthread_mutex_lock(&ch->lock);
	if (comp) {
		/* Payloads are padded to 8 bytes: a short copy is normal. */
		w->len = comp->len < w->cap ? comp->len : w->cap;
		if (w->len)
			memcpy(w->resp, comp->data, w->len);
	}
	w->status = status;
	w->done = true;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->lock);
}

/* Wait with ch->lock held until done or the deadline; false on timeout. */
static bool wait_done(struct vmb_channel *ch, struct sync_wait *w, int timeout_ms)
{
	struct timespec deadline = vmb_chan_deadline((long long)timeout_ms * 1000000LL);
	struct timespec t;

	while (!w->done) {
		t = vmb_chan_deadline(VMB_CHAN_POLL_NS);
		pthread_cond_timedwait(&ch->cv, &ch->lock, &t);
		if (w->done)
			break;
		if (timeout_ms >= 0 && vmb_chan_expired(&deadline))
			return false;
		pthread_mutex_unlock(&ch->lock);
		vmb_chan_run_rx(ch);
		pthread_mutex_lock(&ch->lock);
	}
	return true;
}

int vmb_chan_request_sync(struct vmb_channel *ch, const void *buf, size_t len, void *resp,
			  size_t resp_cap, size_t *resp_len, int timeout_ms)
{
	struct sync_wait w = {.resp = resp, .cap = resp ? resp_cap : 0};
	struct iovec v = {(void *)buf, len};
	vmb_completion_fn fn;
	uint64_t id;
	void *arg;
	int rc;

	rc = vmb_chan_submit(
	    ch, &(struct vmb_send){.iov = &v, .iovcnt = 1, .done = sync_done, .arg = &w}, &id);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ch->lock);
	ch->blocked++;
	if (!wait_done(ch, &w, timeout_ms)) {
		pthread_mutex_unlock(&ch->lock);
		if (vmb_req_take(ch, id, &fn, &arg))
			w.status = -ETIMEDOUT;
		pthread_mutex_lock(&ch->lock);
		/* Lost the race to a completion already running: let it finish
		 * with w before w goes out of scope. */
		while (w.status != -ETIMEDOUT && !w.done)
			pthread_cond_wait(&ch->cv, &ch->lock);
	}
	ch->blocked--;
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->lock);
	if (resp_len)
		*resp_len = w.len;
	return w.status;
}
