/*
 * Host side of the partition clock: TSC calibration, the reference time,
 * the reference TSC page in guest RAM and the clock MSRs.
 *
 * The page is guest RAM: the host only ever writes it. Reference time
 * starts at 0 when the partition is created.
 */
#include <errno.h>
#include <time.h>

#include "vmbus/clock.h"
#include "partition/host_priv.h"

#define CALIBRATE_NS 60000000 /* 60 ms */
#define NSEC	     1000000000u

static uint64_t raw_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * NSEC + (uint64_t)ts.tv_nsec;
}

/* A (time, TSC) pair, TSC taken between two clock reads: keep the tightest. */
static void sample(uint64_t *ns, uint64_t *tsc)
{
	uint64_t best = UINT64_MAX;

	for (int i = 0; i < 8; i++) {
		uint64_t a = raw_ns();
		uint64_t t = vmb_tsc_read();
		uint64_t b = raw_ns();
		if (b - a < best) {
			best = b - a;
			*ns = a + (b - a) / 2;
			*tsc = t;
		}
	}
}

static uint64_t calibrate(void)
{
	uint64_t ns0, tsc0, ns1, tsc1;
	struct timespec d = {.tv_nsec = CALIBRATE_NS};

	sample(&ns0, &tsc0);
	while (nanosleep(&d, &d) < 0 && errno == EINTR)
		;
	sample(&ns1, &tsc1);
	return (uint64_t)(((vmb_u128)(tsc1 - tsc0) * NSEC) / (ns1 - ns0));
}

void vmb_host_clock_init(struct vmb_host_clock *c)
{
	c->tsc_hz = c->cur_hz = calibrate();
	c->scale = vmb_ref_tsc_scale(c->tsc_hz);
	c->offset = -(int64_t)vmb_ref_time_calc(vmb_tsc_read(), c->scale, 0);
	c->ref_tsc_msr = 0;
	c->page = NULL;
	c->sequence = 0;
}

uint64_t vmb_host_clock_now(const struct vmb_host_clock *c)
{
	return vmb_ref_time_calc(vmb_tsc_read(), c->scale, c->offset);
}

void vmb_host_clock_reset(struct vmb_host_clock *c)
{
	c->ref_tsc_msr = 0;
	c->page = NULL;
}

static void publish(struct vmb_host_clock *c)
{
	struct hv_ref_tsc_page *p = c->page;

	if (!p)
		return;
	if (++c->sequence == 0)
		c->sequence = 1;
	__atomic_store_n(&p->tsc_scale, c->scale, __ATOMIC_RELAXED);
	__atomic_store_n(&p->tsc_offset, c->offset, __ATOMIC_RELAXED);
	__atomic_store_n(&p->tsc_sequence, c->sequence, __ATOMIC_RELEASE);
}

/*
 * Readers that finish with the old values took their TSC before our
 * sequence-0 store became visible, hence before `tsc` below; readers with
 * the new values take theirs after. The new offset makes both formulas
 * agree exactly at `tsc`, so no reader ever sees time go back.
 */
static void rescale(struct vmb_host_clock *c, uint64_t hz)
{
	if (c->page) {
		__atomic_store_n(&c->page->tsc_sequence, 0, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_SEQ_CST);
	}
	uint64_t tsc = vmb_tsc_read();
	uint64_t now = vmb_ref_time_calc(tsc, c->scale, c->offset);
	c->cur_hz = hz;
	c->scale = vmb_ref_tsc_scale(hz);
	c->offset = (int64_t)(now - vmb_ref_time_calc(tsc, c->scale, 0));
	publish(c);
}

int vmb_host_part_clock_update(struct vmb_host_part *h, uint64_t tsc_hz)
{
	if (tsc_hz == 0)
		tsc_hz = h->clock.tsc_hz;
	if (tsc_hz <= 10000000u)
		return -EINVAL;
	vmb_hlock(h);
	rescale(&h->clock, tsc_hz);
	vmb_hunlock(h);
	return 0;
}

uint64_t vmb_host_part_tsc_hz(const struct vmb_host_part *h)
{
	return h->clock.tsc_hz;
}

uint64_t vmb_host_part_ref_time(const struct vmb_host_part *h)
{
	vmb_hlock(h);
	uint64_t t = vmb_host_clock_now(&h->clock);
	vmb_hunlock(h);
	return t;
}

static int set_ref_tsc(struct vmb_host_part *h, uint64_t value)
{
	struct vmb_host_clock *c = &h->clock;
	void *page = NULL;

	if (value & HV_REF_TSC_ENABLE) {
		page = vmb_host_part_gpa(h, value & ~(uint64_t)(HV_PAGE_SIZE - 1), HV_PAGE_SIZE);
		if (!page) {
			vmb_hlog(h, "reference TSC page at %#llx: outside guest RAM",
				 (unsigned long long)value);
			return HV_STATUS_INVALID_PARAMETER;
		}
	}
	c->ref_tsc_msr = value;
	c->page = page;
	publish(c);
	return HV_STATUS_SUCCESS;
}

int vmb_host_clock_wrmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t value)
{
	if (msr == HV_X64_MSR_REFERENCE_TSC)
		return set_ref_tsc(h, value);
	if (vmb_host_stimer_msr(msr))
		return vmb_host_stimer_wrmsr(h, vp, msr, value);
	return -1;
}

int vmb_host_rdmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t *value)
{
	if (vp >= h->vp_count)
		return HV_STATUS_INVALID_PARAMETER;
	switch (msr) {
	case HV_X64_MSR_TIME_REF_COUNT:
		*value = vmb_host_clock_now(&h->clock);
		return HV_STATUS_SUCCESS;
	case HV_X64_MSR_TSC_FREQUENCY:
		*value = h->clock.cur_hz;
		return HV_STATUS_SUCCESS;
	case HV_X64_MSR_REFERENCE_TSC:
		*value = h->clock.ref_tsc_msr;
		return HV_STATUS_SUCCESS;
	case HV_X64_MSR_VP_INDEX:
		*value = vp;
		return HV_STATUS_SUCCESS;
	default:
		break;
	}
	if (!vmb_host_stimer_msr(msr))
		return HV_STATUS_INVALID_PARAMETER;
	*value = vmb_host_stimer_rdmsr(h, vp, msr);
	return HV_STATUS_SUCCESS;
}
