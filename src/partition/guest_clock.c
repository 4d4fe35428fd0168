/*
 * Guest side of the partition clock: RDMSR over the socket, the reference
 * TSC page (read lock-free in this process, the TSC being the host's) and
 * clock events on synthetic timer 0.
 */
#include <errno.h>
#include <string.h>

#include "vmbus/clock.h"
#include "partition/guest_priv.h"

int vmb_guest_part_rdmsr(struct vmb_guest_part *g, uint32_t vp, uint32_t msr, uint64_t *value)
{
	struct vmb_wire_msg m;

	memset(&m, 0, sizeof(m.hdr) + sizeof(m.u.rdmsr));
	m.hdr.type = VMB_WIRE_RDMSR;
	m.u.rdmsr.vp = vp;
	m.u.rdmsr.msr = msr;
	int st = vmb_guest_rpc(g, &m, sizeof(m.hdr) + sizeof(m.u.rdmsr), NULL, 0, NULL);
	if (st == HV_STATUS_SUCCESS)
		*value = m.u.rdmsr.value;
	return st;
}

static int hv_error(int st)
{
	return st < 0 ? st : -EPROTO;
}

int vmb_guest_clock_enable(struct vmb_guest_part *g)
{
	uint64_t pfn, hz;

	if (__atomic_load_n(&g->tsc_page, __ATOMIC_ACQUIRE))
		return -EALREADY;
	int st = vmb_guest_part_rdmsr(g, 0, HV_X64_MSR_TSC_FREQUENCY, &hz);
	if (st != HV_STATUS_SUCCESS)
		return hv_error(st);
	int err = vmb_guest_part_alloc(g, 1, &pfn);
	if (err)
		return err;
	st = vmb_guest_part_wrmsr(g, 0, HV_X64_MSR_REFERENCE_TSC,
				  pfn << HV_PAGE_SHIFT | HV_REF_TSC_ENABLE);
	if (st != HV_STATUS_SUCCESS) {
		vmb_guest_part_free(g, &pfn, 1);
		return hv_error(st);
	}
	g->tsc_hz = hz;
	__atomic_store_n(&g->tsc_page, (struct hv_ref_tsc_page *)(g->ram + (pfn << HV_PAGE_SHIFT)),
			 __ATOMIC_RELEASE);
	return 0;
}

const struct hv_ref_tsc_page *vmb_guest_clock_page(const struct vmb_guest_part *g)
{
	return __atomic_load_n(&g->tsc_page, __ATOMIC_ACQUIRE);
}

uint64_t vmb_guest_clock_tsc_hz(const struct vmb_guest_part *g)
{
	return vmb_guest_clock_page(g) ? g->tsc_hz : 0;
}

int vmb_clock_ref_time(struct vmb_guest_part *g, uint64_t *time)
{
	const struct hv_ref_tsc_page *p = vmb_guest_clock_page(g);

	if (p && vmb_ref_tsc_page_read(p, time))
		return 0;
	int st = vmb_guest_part_rdmsr(g, 0, HV_X64_MSR_TIME_REF_COUNT, time);
	return st == HV_STATUS_SUCCESS ? 0 : hv_error(st);
}

/* Linux's stimer0 clock event: one-shot, auto_enable, VMBus SINT messages. */
#define CLOCKEVENT_CONFIG                                                                          \
	(HV_STIMER_ENABLE | HV_STIMER_AUTO_ENABLE | (uint64_t)VMB_VMBUS_SINT << 16)

int vmb_clockevent_init(struct vmb_guest_part *g, uint32_t vp, vmb_clockevent_fn fn, void *ctx)
{
	if (vp >= g->vp_count || !fn)
		return -EINVAL;
	struct vmb_guest_vp *v = &g->vps[vp];
	pthread_mutex_lock(&v->lock);
	v->ce_fn = fn;
	v->ce_ctx = ctx;
	pthread_mutex_unlock(&v->lock);
	int st = vmb_guest_part_wrmsr(g, vp, HV_X64_MSR_STIMER_CONFIG(0), CLOCKEVENT_CONFIG);
	return st == HV_STATUS_SUCCESS ? 0 : hv_error(st);
}

int vmb_clockevent_program(struct vmb_guest_part *g, uint32_t vp, uint64_t delta_100ns)
{
	uint64_t now;

	if (vp >= g->vp_count)
		return -EINVAL;
	int err = vmb_clock_ref_time(g, &now);
	if (err)
		return err;
	/* COUNT 0 would disable the timer: fire one tick later instead. */
	uint64_t count = now + delta_100ns ? now + delta_100ns : 1;
	int st = vmb_guest_part_wrmsr(g, vp, HV_X64_MSR_STIMER_COUNT(0), count);
	return st == HV_STATUS_SUCCESS ? 0 : hv_error(st);
}

int vmb_clockevent_stop(struct vmb_guest_part *g, uint32_t vp)
{
	if (vp >= g->vp_count)
		return -EINVAL;
	int st = vmb_guest_part_wrmsr(g, vp, HV_X64_MSR_STIMER_COUNT(0), 0);
	return st == HV_STATUS_SUCCESS ? 0 : hv_error(st);
}

bool vmb_guest_clockevent_deliver(struct vmb_guest_vp *vp, const void *payload, size_t len)
{
	struct hv_timer_message_payload msg;

	if (len < sizeof(msg))
		return false;
	memcpy(&msg, payload, sizeof(msg));
	if (msg.timer_index != 0)
		return false;
	pthread_mutex_lock(&vp->lock);
	vmb_clockevent_fn fn = vp->ce_fn;
	void *ctx = vp->ce_ctx;
	pthread_mutex_unlock(&vp->lock);
	if (!fn)
		return false;
	fn(ctx, vp->index, msg.expiration_time, msg.delivery_time);
	return true;
}

int vmb_direct_timer_init(struct vmb_guest_part *g, uint32_t vp, vmb_direct_timer_fn fn, void *ctx)
{
	if (vp >= g->vp_count)
		return -EINVAL;
	struct vmb_guest_vp *v = &g->vps[vp];
	pthread_mutex_lock(&v->lock);
	v->dt_fn = fn;
	v->dt_ctx = ctx;
	pthread_mutex_unlock(&v->lock);
	return 0;
}

void vmb_guest_direct_timer_deliver(struct vmb_guest_vp *vp, uint64_t kick)
{
	pthread_mutex_lock(&vp->lock);
	vmb_direct_timer_fn fn = vp->dt_fn;
	void *ctx = vp->dt_ctx;
	pthread_mutex_unlock(&vp->lock);
	for (uint32_t n = 0; n < HV_STIMER_COUNT; n++) {
		uint32_t count = (uint32_t)(kick >> VMB_KICK_DIRECT_SHIFT(n)) & VMB_KICK_DIRECT_MAX;
		if (count && fn)
			fn(ctx, vp->index, n, count);
	}
}
