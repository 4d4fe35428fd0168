/*
 * Transaction ids for requests awaiting a completion.
 *
 * id = generation << 32 | (slot + 1): never 0 (Hyper-V does not complete
 * trans_id 0), and a completion carrying a stale or forged id finds either
 * a free slot or a different generation and is dropped.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "chan/chan_impl.h"

#define NO_SLOT UINT32_MAX
/* A first table small enough to be cheap, big enough for most drivers. */
#define REQ_FIRST_SLOTS 16u

/*
 * The table starts empty and grows on demand up to n slots: most channels
 * (every host end of a device that never sends a request) need none, and
 * a channel table built eagerly cost a calloc and a walk per open.
 */
void vmb_req_init(struct vmb_channel *ch, unsigned n)
{
	ch->slots = NULL;
	ch->nslots = 0;
	ch->max_slots = n;
	ch->free_head = NO_SLOT;
}

void vmb_req_fini(struct vmb_channel *ch)
{
	free(ch->slots);
	ch->slots = NULL;
	ch->nslots = 0;
}

/* Double the table (ch->lock held); slot numbers, hence ids, stay put. */
static int grow(struct vmb_channel *ch)
{
	unsigned old = ch->nslots, n = old ? 2 * old : REQ_FIRST_SLOTS;
	struct vmb_req_slot *s;

	if (old == ch->max_slots)
		return -EAGAIN;
	if (n > ch->max_slots)
		n = ch->max_slots;
	s = realloc(ch->slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	memset(s + old, 0, (n - old) * sizeof(*s));
	for (unsigned i = old; i < n; i++)
		s[i].next_free = i + 1 < n ? i + 1 : ch->free_head;
	ch->slots = s;
	ch->nslots = n;
	ch->free_head = old;
	return 0;
}

int vmb_req_alloc(struct vmb_channel *ch, vmb_completion_fn fn, void *arg, uint64_t *id)
{
	struct vmb_req_slot *s;
	unsigned i;
	int rc;

	pthread_mutex_lock(&ch->lock);
	if (ch->free_head == NO_SLOT && (rc = grow(ch)) < 0) {
		pthread_mutex_unlock(&ch->lock);
		return rc;
	}
	i = ch->free_head;
	s = &ch->slots[i];
	ch->free_head = s->next_free;
	s->gen++;
	s->busy = true;
	s->fn = fn;
	s->arg = arg;
	ch->in_flight++;
	*id = (uint64_t)s->gen << 32 | (i + 1);
	pthread_mutex_unlock(&ch->lock);
	return 0;
}

static void release_slot(struct vmb_channel *ch, unsigned i)
{
	ch->slots[i].busy = false;
	ch->slots[i].next_free = ch->free_head;
	ch->free_head = i;
	ch->in_flight--;
}

bool vmb_req_take(struct vmb_channel *ch, uint64_t id, vmb_completion_fn *fn, void **arg)
{
	uint64_t i = (id & 0xffffffffu) - 1;
	bool found = false;

	pthread_mutex_lock(&ch->lock);
	if (i < ch->nslots && ch->slots[i].busy && ch->slots[i].gen == (uint32_t)(id >> 32)) {
		*fn = ch->slots[i].fn;
		*arg = ch->slots[i].arg;
		release_slot(ch, (unsigned)i);
		found = true;
	}
	pthread_mutex_unlock(&ch->lock);
	return found;
}

void vmb_req_cancel_all(struct vmb_channel *ch, int status)
{
	vmb_completion_fn fn;
	void *arg;

	pthread_mutex_lock(&ch->lock);
	for (unsigned i = 0; i < ch->nslots; i++) {
		if (!ch->slots[i].busy)
			continue;
		fn = ch->slots[i].fn;
		arg = ch->slots[i].arg;
		release_slot(ch, i);
		/* The callback may send or wait on this channel. */
		pthread_mutex_unlock(&ch->lock);
		fn(arg, ch, NULL, status);
		pthread_mutex_lock(&ch->lock);
	}
	pthread_mutex_unlock(&ch->lock);
}

void vmb_req_complete(struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	vmb_completion_fn fn;
	void *arg;

	if (!vmb_req_take(ch, pkt->trans_id, &fn, &arg)) {
		vmb_chan_logf(ch, "dropped completion with unknown id %#" PRIx64, pkt->trans_id);
		return;
	}
	fn(arg, ch, pkt, 0);
}
