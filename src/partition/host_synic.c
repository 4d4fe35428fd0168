/*
 * Host side of the SynIC: message slots and event flags in guest memory.
 *
 * The SIMP and SIEFP pages are guest RAM: the guest may scribble on them at
 * any time. The host only ever reads a slot's message_type and only writes
 * inside the two pages, so a hostile guest can confuse nothing but itself.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partition/host_priv.h"

#define FLAG_WORDS_PER_SINT (HV_EVENT_FLAGS_BYTES / 8)

void vmb_host_synic_init(struct vmb_host_vp *vp)
{
	vp->scontrol = 0;
	vp->simp = NULL;
	vp->siefp = NULL;
	vp->backlog = 0;
	memset(vp->stimer, 0, sizeof(vp->stimer));
	for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++) {
		vp->sint[s] = VMB_SINT_MASKED;
		vp->q[s].head = NULL;
		vp->q[s].tail = &vp->q[s].head;
	}
}

void vmb_host_synic_reset(struct vmb_host_vp *vp)
{
	for (unsigned s = 0; s < HV_SYNIC_SINT_COUNT; s++) {
		struct vmb_hmsg *m = vp->q[s].head;
		while (m) {
			struct vmb_hmsg *next = m->next;
			free(m);
			m = next;
		}
	}
	vmb_host_synic_init(vp);
}

static void kick(struct vmb_host_part *h, struct vmb_host_vp *vp, uint32_t sint)
{
	uint64_t one = 1;

	if (!(vp->scontrol & 1) || (vp->sint[sint] & VMB_SINT_MASKED))
		return;
	if (write(vp->kick_fd, &one, sizeof(one)) != sizeof(one))
		vmb_hlog(h, "VP interrupt eventfd write failed");
}

/* Write m into the slot if the guest has freed it. */
static bool slot_put(struct hv_message *slot, const struct vmb_hmsg *m, bool more)
{
	if (__atomic_load_n(&slot->header.message_type, __ATOMIC_ACQUIRE) != HVMSG_NONE)
		return false;
	memcpy(slot->payload, m->payload, m->size);
	slot->header.payload_size = (uint8_t)m->size;
	slot->header.reserved = 0;
	slot->header.sender = 0;
	__atomic_store_n(&slot->header.message_flags, more ? HV_MESSAGE_FLAG_PENDING : 0,
			 __ATOMIC_RELAXED);
	/* The guest reads the body only after it sees a type (acquire). */
	__atomic_store_n(&slot->header.message_type, m->msg_type, __ATOMIC_RELEASE);
	return true;
}

/*
 * Move the head of a SINT's queue into its slot. When the slot is busy,
 * set MESSAGE_PENDING and look again: the guest frees a slot by clearing
 * the type, a full fence, then reading the flags, so either it sees our
 * PENDING (and writes EOM) or we see the free slot here. Returns true if a
 * message was delivered.
 */
static bool flush_sint(struct vmb_host_vp *vp, uint32_t sint)
{
	struct vmb_hmsg *m = vp->q[sint].head;

	if (!m || !vp->simp)
		return false;
	struct hv_message *slot = &vp->simp->sint_message[sint];
	if (!slot_put(slot, m, m->next != NULL)) {
		__atomic_fetch_or(&slot->header.message_flags, HV_MESSAGE_FLAG_PENDING,
				  __ATOMIC_SEQ_CST);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
		if (!slot_put(slot, m, m->next != NULL))
			return false;
	}
	vp->q[sint].head = m->next;
	if (!m->next)
		vp->q[sint].tail = &vp->q[sint].head;
	vp->backlog--;
	free(m);
	return true;
}

static void flush_vp(struct vmb_host_part *h, struct vmb_host_vp *vp)
{
	for (uint32_t s = 0; s < HV_SYNIC_SINT_COUNT; s++) {
		if (flush_sint(vp, s))
			kick(h, vp, s);
	}
}

int vmb_host_synic_post(struct vmb_host_part *h, uint32_t vp, uint32_t sint, uint32_t msg_type,
			const void *payload, size_t len)
{
	if (vp >= h->vp_count || sint >= HV_SYNIC_SINT_COUNT || msg_type == HVMSG_NONE ||
	    len > HV_MESSAGE_PAYLOAD_SIZE)
		return -EINVAL;
	struct vmb_host_vp *v = &h->vps[vp];
	if (!h->hello_done)
		return -ENOTCONN;
	if (v->backlog >= VMB_HOST_PART_BACKLOG_MAX)
		return -EAGAIN;
	struct vmb_hmsg *m = malloc(sizeof(*m));
	if (!m)
		return -ENOMEM;
	m->next = NULL;
	m->msg_type = msg_type;
	m->size = (uint32_t)len;
	memcpy(m->payload, payload, len);
	*v->q[sint].tail = m;
	v->q[sint].tail = &m->next;
	v->backlog++;
	h->stats.messages_sent++;
	if (flush_sint(v, sint))
		kick(h, v, sint);
	return 0;
}

int vmb_host_part_send(struct vmb_host_part *h, uint32_t vp, uint32_t sint, uint32_t msg_type,
		       const void *payload, size_t len)
{
	vmb_hlock(h);
	int err = vmb_host_synic_post(h, vp, sint, msg_type, payload, len);
	vmb_hunlock(h);
	return err;
}

unsigned vmb_host_part_backlog(const struct vmb_host_part *h, uint32_t vp)
{
	if (vp >= h->vp_count)
		return 0;
	vmb_hlock(h);
	unsigned n = h->vps[vp].backlog;
	vmb_hunlock(h);
	return n;
}

bool vmb_host_synic_backlogged(const struct vmb_host_part *h)
{
	for (unsigned i = 0; i < h->vp_count; i++) {
		if (h->vps[i].backlog > VMB_HOST_PART_BACKLOG_SOFT)
			return true;
	}
	return false;
}

int vmb_host_part_signal(struct vmb_host_part *h, uint32_t vp, uint32_t sint, uint32_t flag)
{
	if (vp >= h->vp_count || sint >= HV_SYNIC_SINT_COUNT || flag >= HV_EVENT_FLAGS_COUNT)
		return -EINVAL;
	int err = 0;
	vmb_hlock(h);
	struct vmb_host_vp *v = &h->vps[vp];
	if (!h->hello_done) {
		err = -ENOTCONN;
	} else if (!v->siefp) {
		err = -ENXIO;
	} else {
		uint64_t *word = &v->siefp[sint * FLAG_WORDS_PER_SINT + flag / 64];
		uint64_t bit = UINT64_C(1) << (flag % 64);
		if (!(__atomic_fetch_or(word, bit, __ATOMIC_SEQ_CST) & bit))
			kick(h, v, sint);
		h->stats.event_signals++;
	}
	vmb_hunlock(h);
	return err;
}

/* A SIMP/SIEFP value: the enabled page inside guest RAM, or NULL if disabled. */
static int synic_page(struct vmb_host_part *h, uint64_t value, void **page)
{
	*page = NULL;
	if (!(value & 1))
		return HV_STATUS_SUCCESS;
	*page = vmb_host_part_gpa(h, value & ~(uint64_t)(HV_PAGE_SIZE - 1), HV_PAGE_SIZE);
	return *page ? HV_STATUS_SUCCESS : HV_STATUS_INVALID_PARAMETER;
}

static int set_msr(struct vmb_host_part *h, struct vmb_host_vp *v, uint32_t msr, uint64_t value)
{
	void *page;
	int st;

	switch (msr) {
	case HV_X64_MSR_SCONTROL:
		v->scontrol = value & 1;
		return HV_STATUS_SUCCESS;
	case HV_X64_MSR_SIMP:
		st = synic_page(h, value, &page);
		if (st == HV_STATUS_SUCCESS)
			v->simp = page;
		return st;
	case HV_X64_MSR_SIEFP:
		st = synic_page(h, value, &page);
		if (st == HV_STATUS_SUCCESS)
			v->siefp = page;
		return st;
	case HV_X64_MSR_EOM:
		return HV_STATUS_SUCCESS;
	default:
		break;
	}
	if (msr < HV_X64_MSR_SINT0 || msr >= HV_X64_MSR_SINT0 + HV_SYNIC_SINT_COUNT)
		return HV_STATUS_INVALID_PARAMETER;
	/* Vectors below 16 are reserved by the architecture. */
	if (!(value & VMB_SINT_MASKED) && (value & 0xff) < 16)
		return HV_STATUS_INVALID_PARAMETER;
	v->sint[msr - HV_X64_MSR_SINT0] = value;
	return HV_STATUS_SUCCESS;
}

/*
 * Any SynIC write may make a queued message deliverable (EOM freed a slot,
 * SIMP enabled, SINT unmasked), so every one is followed by a flush; a
 * SINT or SCONTROL write also raises the interrupt so that a guest which
 * just unmasked sees what is already waiting.
 */
int vmb_host_synic_wrmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t value)
{
	if (vp >= h->vp_count)
		return HV_STATUS_INVALID_PARAMETER;
	int st = vmb_host_clock_wrmsr(h, vp, msr, value);
	if (st >= 0)
		return st;
	struct vmb_host_vp *v = &h->vps[vp];
	st = set_msr(h, v, msr, value);
	if (st != HV_STATUS_SUCCESS)
		return st;
	flush_vp(h, v);
	if (msr == HV_X64_MSR_SCONTROL)
		kick(h, v, VMB_VMBUS_SINT);
	else if (msr >= HV_X64_MSR_SINT0 && msr < HV_X64_MSR_SINT0 + HV_SYNIC_SINT_COUNT)
		kick(h, v, msr - HV_X64_MSR_SINT0);
	return HV_STATUS_SUCCESS;
}
