/*
 * Hyper-V clocks in the simulated partition (PROTOCOL.md 9, docs/clocks.md):
 * the partition reference time (100 ns units, 10 MHz) computed from the
 * TSC through the reference TSC page, the TSC frequency MSR, and the four
 * synthetic timers of each VP.
 *
 * Host and guest are processes on one machine reading one TSC, so the page
 * the host fills is exact for the guest. On architectures other than
 * x86-64 the "TSC" is CLOCK_MONOTONIC_RAW in nanoseconds (a 1 GHz counter).
 */
#ifndef VMBUS_CLOCK_H
#define VMBUS_CLOCK_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "vmbus/partition.h"
#include "vmbus/proto/hv.h"

__extension__ typedef unsigned __int128 vmb_u128;

/*
 * The TSC, ordered against the loads around it: a page reader must not
 * take the TSC before it has seen the sequence, nor re-read the sequence
 * before it has taken the TSC (the host's update relies on both).
 */
static inline uint64_t vmb_tsc_read(void)
{
#if defined(__x86_64__)
	uint32_t lo, hi;

	__asm__ volatile("lfence; rdtsc; lfence" : "=a"(lo), "=d"(hi) : : "memory");
	return (uint64_t)hi << 32 | lo;
#else
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC_RAW, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
#endif
}

/* ((tsc * scale) >> 64) + offset, the TLFS formula (pure). */
static inline uint64_t vmb_ref_time_calc(uint64_t tsc, uint64_t scale, int64_t offset)
{
	return (uint64_t)(((vmb_u128)tsc * scale) >> 64) + (uint64_t)offset;
}

/* The tsc_scale for a TSC of hz Hz: floor((10^7 << 64) / hz); hz > 10 MHz. */
static inline uint64_t vmb_ref_tsc_scale(uint64_t hz)
{
	return (uint64_t)(((vmb_u128)10000000u << 64) / hz);
}

/*
 * Read a reference TSC page: the lock-free sequence loop. Returns false
 * when the page is invalid (sequence 0); then the caller must read the
 * TIME_REF_COUNT MSR.
 */
static inline bool vmb_ref_tsc_page_read(const struct hv_ref_tsc_page *p, uint64_t *time)
{
	for (;;) {
		uint32_t seq = __atomic_load_n(&p->tsc_sequence, __ATOMIC_ACQUIRE);
		if (seq == 0)
			return false;
		uint64_t scale = __atomic_load_n(&p->tsc_scale, __ATOMIC_RELAXED);
		int64_t offset = __atomic_load_n(&p->tsc_offset, __ATOMIC_RELAXED);
		uint64_t tsc = vmb_tsc_read();
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		if (__atomic_load_n(&p->tsc_sequence, __ATOMIC_RELAXED) == seq) {
			*time = vmb_ref_time_calc(tsc, scale, offset);
			return true;
		}
	}
}

/* ======================= host side =================================== */

/* The TSC frequency measured at partition creation (Hz). */
uint64_t vmb_host_part_tsc_hz(const struct vmb_host_part *h);
/* The partition reference time now (TIME_REF_COUNT). */
uint64_t vmb_host_part_ref_time(const struct vmb_host_part *h);

/*
 * Reinterpret the TSC as running at tsc_hz (0 = the measured frequency),
 * as after a live migration to a host with another TSC frequency: a new
 * scale, and an offset chosen so the reference time continues from where
 * it is, published under a new page sequence. TSC_FREQUENCY then reads
 * tsc_hz. -EINVAL if tsc_hz is at most 10 MHz.
 */
int vmb_host_part_clock_update(struct vmb_host_part *h, uint64_t tsc_hz);

/* ======================= guest side ================================== */

/* Read a synthetic MSR of `vp` on the host (HV status or -errno). */
int vmb_guest_part_rdmsr(struct vmb_guest_part *g, uint32_t vp, uint32_t msr, uint64_t *value);

/*
 * Allocate a page of guest RAM for the reference TSC page and enable it
 * (REFERENCE_TSC MSR); read TSC_FREQUENCY. 0 or -errno.
 */
int vmb_guest_clock_enable(struct vmb_guest_part *g);
/* The page in this process, or NULL before vmb_guest_clock_enable(). */
const struct hv_ref_tsc_page *vmb_guest_clock_page(const struct vmb_guest_part *g);
/* TSC_FREQUENCY as read by vmb_guest_clock_enable() (0 before). */
uint64_t vmb_guest_clock_tsc_hz(const struct vmb_guest_part *g);

/*
 * The reference time: the page when it is valid, else TIME_REF_COUNT over
 * the socket. 0 and *time, or -errno if the host cannot be reached.
 */
int vmb_clock_ref_time(struct vmb_guest_part *g, uint64_t *time);

/*
 * Clock events on synthetic timer 0 of a VP, as Linux does: a one-shot
 * timer with auto_enable, messages on the VMBus SINT. fn runs on the VP's
 * thread for each expiry (instead of ops->message); times are reference
 * time.
 */
typedef void (*vmb_clockevent_fn)(void *ctx, uint32_t vp, uint64_t expiration, uint64_t delivery);
int vmb_clockevent_init(struct vmb_guest_part *g, uint32_t vp, vmb_clockevent_fn fn, void *ctx);
/* Fire once, delta_100ns from now (re-programming replaces the last one). */
int vmb_clockevent_program(struct vmb_guest_part *g, uint32_t vp, uint64_t delta_100ns);
/* Cancel a pending event. */
int vmb_clockevent_stop(struct vmb_guest_part *g, uint32_t vp);

/*
 * Direct-mode synthetic timers (config HV_STIMER_DIRECT_MODE with an APIC
 * vector, written with vmb_guest_part_wrmsr): an expiry raises the VP's
 * interrupt without a SynIC message, and fn runs on the VP's thread with
 * the timer's index and how many expiries came since the last call
 * (coalesced, as an interrupt is; at most 255 are counted). NULL fn
 * ignores them. 0 or -EINVAL.
 */
typedef void (*vmb_direct_timer_fn)(void *ctx, uint32_t vp, uint32_t timer, uint32_t expiries);
int vmb_direct_timer_init(struct vmb_guest_part *g, uint32_t vp, vmb_direct_timer_fn fn, void *ctx);

#endif
