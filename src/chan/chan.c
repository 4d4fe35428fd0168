/* Channel lifetime, broken state, logging, statistics. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "chan/chan_impl.h"

void vmb_chan_logf(struct vmb_channel *ch, const char *fmt, ...)
{
	char line[200];
	int n;
	va_list ap;

	if (!ch->ops->log)
		return;
	n = snprintf(line, sizeof(line), "chan %u: ", ch->relid);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n, fmt, ap);
	va_end(ap);
	ch->ops->log(ch->ops_ctx, line);
}

void vmb_chan_signal_peer(struct vmb_channel *ch)
{
	atomic_fetch_add(&ch->st.signals_sent, 1);
	ch->ops->signal(ch->ops_ctx);
}

struct timespec vmb_chan_deadline(long long ns)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	ns += t.tv_nsec;
	t.tv_sec += (time_t)(ns / 1000000000LL);
	t.tv_nsec = (long)(ns % 1000000000LL);
	return t;
}

bool vmb_chan_expired(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec || (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static int init_cond(pthread_cond_t *cv)
{
	pthread_condattr_t a;
	int rc;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	rc = pthread_cond_init(cv, &a);
	pthread_condattr_destroy(&a);
	return -rc;
}

static int check_config(const struct vmb_chan_config *cfg)
{
	if (!cfg || !cfg->ops || !cfg->ops->signal)
		return -EINVAL;
	if (cfg->max_requests > 0x10000)
		return -EINVAL;
	return 0;
}

static int init_rings(struct vmb_channel *ch, const struct vmb_chan_config *cfg)
{
	int rc;

	rc = vmb_ring_init(&ch->out, cfg->out_hdr, cfg->out_data, cfg->out_size, cfg->ring_flags);
	if (rc == 0)
		rc = vmb_ring_init(&ch->in, cfg->in_hdr, cfg->in_data, cfg->in_size,
				   cfg->ring_flags);
	if (rc < 0)
		return rc;
	ch->max_packet = cfg->max_packet ? cfg->max_packet : vmb_ring_max_packet(&ch->in);
	if (ch->max_packet < sizeof(struct vmpacket_descriptor))
		return -EINVAL;
	/* Buffers for copies are allocated when first needed (chan_recv.c). */
	ch->copy_out = cfg->copy_out;
	return 0;
}

int vmb_chan_create(const struct vmb_chan_config *cfg, struct vmb_channel **out)
{
	struct vmb_channel *ch;
	int rc;

	rc = check_config(cfg);
	if (rc < 0)
		return rc;
	ch = calloc(1, sizeof(*ch));
	if (!ch)
		return -ENOMEM;
	ch->ops = cfg->ops;
	ch->ops_ctx = cfg->ops_ctx;
	ch->relid = cfg->relid;
	atomic_init(&ch->poll_ns, VMB_CHAN_POLL_DEFAULT_NS);
	pthread_mutex_init(&ch->tx_lock, NULL);
	pthread_mutex_init(&ch->rx_lock, NULL);
	pthread_mutex_init(&ch->lock, NULL);
	rc = init_cond(&ch->tx_cv);
	if (rc == 0)
		rc = init_cond(&ch->cv);
	if (rc == 0)
		rc = init_rings(ch, cfg);
	if (rc < 0) {
		free(ch);
		return rc;
	}
	vmb_req_init(ch, cfg->max_requests ? cfg->max_requests : 256);
	*out = ch;
	return 0;
}

void vmb_chan_destroy(struct vmb_channel *ch)
{
	if (!ch)
		return;
	atomic_store(&ch->closing, true);
	pthread_cond_broadcast(&ch->tx_cv);
	vmb_req_cancel_all(ch, -ECANCELED);
	/* Threads blocked in a send or request_sync leave within one poll. */
	pthread_mutex_lock(&ch->lock);
	while (ch->blocked)
		pthread_cond_wait(&ch->cv, &ch->lock);
	pthread_mutex_unlock(&ch->lock);
	vmb_chan_rx_fini(ch);
	vmb_req_fini(ch);
	pthread_cond_destroy(&ch->tx_cv);
	pthread_cond_destroy(&ch->cv);
	pthread_mutex_destroy(&ch->tx_lock);
	pthread_mutex_destroy(&ch->rx_lock);
	pthread_mutex_destroy(&ch->lock);
	free(ch->rxbuf);
	free(ch->pollbuf);
	free(ch);
}

uint32_t vmb_chan_relid(const struct vmb_channel *ch)
{
	return ch->relid;
}

int vmb_chan_error(const struct vmb_channel *ch)
{
	/* C11 atomics take non-const pointers; the object itself is not const. */
	return atomic_load(&((struct vmb_channel *)ch)->error);
}

void vmb_chan_fail_err(struct vmb_channel *ch, int err, const char *why)
{
	int expected = 0;

	if (!atomic_compare_exchange_strong(&ch->error, &expected, err))
		return;
	vmb_chan_logf(ch, "broken: %s", why);
	pthread_cond_broadcast(&ch->tx_cv);
	/* No completion can arrive any more. */
	vmb_req_cancel_all(ch, err);
}

void vmb_chan_fail(struct vmb_channel *ch, const char *why)
{
	vmb_chan_fail_err(ch, -EPROTO, why);
}

void *vmb_chan_gpa(struct vmb_channel *ch, uint64_t gpa, size_t len)
{
	return ch->ops->gpa ? ch->ops->gpa(ch->ops_ctx, gpa, len) : NULL;
}

void vmb_chan_get_stats(const struct vmb_channel *ch, struct vmb_chan_stats *st)
{
	struct vmb_channel *c = (struct vmb_channel *)ch;

	memset(st, 0, sizeof(*st));
	st->tx_packets = atomic_load(&c->st.tx_packets);
	st->rx_packets = atomic_load(&c->st.rx_packets);
	st->signals_sent = atomic_load(&c->st.signals_sent);
	st->interrupts = atomic_load(&c->st.interrupts);
	st->needless_interrupts = atomic_load(&c->st.needless_interrupts);
	st->tx_full = atomic_load(&c->st.tx_full);
	pthread_mutex_lock(&c->lock);
	st->requests_in_flight = c->in_flight;
	pthread_mutex_unlock(&c->lock);
}

static void ring_state(const struct vmb_ring *r, struct vmb_ring_state *s)
{
	s->write_index = r->hdr->write_index;
	s->read_index = r->hdr->read_index;
	s->interrupt_mask = r->hdr->interrupt_mask;
	s->pending_send_sz = r->hdr->pending_send_sz;
	s->size = r->size;
	s->avail_read = vmb_ring_avail_read(r);
	s->avail_write = vmb_ring_avail_write(r);
}

void vmb_chan_ring_state(const struct vmb_channel *ch, struct vmb_ring_state *out,
			 struct vmb_ring_state *in)
{
	struct vmb_channel *c = (struct vmb_channel *)ch;

	if (out) {
		pthread_mutex_lock(&c->tx_lock);
		ring_state(&c->out, out);
		pthread_mutex_unlock(&c->tx_lock);
	}
	if (in) {
		pthread_mutex_lock(&c->rx_lock);
		ring_state(&c->in, in);
		vmb_chan_rx_unlock(c);
	}
}
