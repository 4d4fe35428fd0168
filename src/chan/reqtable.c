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

#include "chan/chan_impl.h"

#define NO_SLOT UINT32_MAX

int vmb_req_init(struct vmb_channel *ch, unsigned n)
{
	ch->slots = calloc(n, sizeof(*ch->slots));
	if (!ch->slots)
		return -ENOMEM;
	ch->nslots = n;
	for (unsigned i = 0; i < n; i++)
		ch->slots[i].next_free = i + 1 < n ? i + 1 : NO_SLOT;
	ch->free_head = 0;
	return 0;
}

void vmb_req_fini(struct vmb_channel *ch)
{
	free(ch->slots);
	ch->slots = NULL;
}

int vmb_req_alloc(struct vmb_channel *ch, vmb_completion_fn fn, void *arg, uint64_t *id)
{
	struct vmb_req_slot *s;
	unsigned i;

	pthread_mutex_lock(&ch->lock);
	i = ch->free_head;
	if (i == NO_SLOT) {
		pthread_mutex_unlock(&ch->lock);
		return -EAGAIN;
	}
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
