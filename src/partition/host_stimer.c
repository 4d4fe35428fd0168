/*
 * Synthetic timers (PROTOCOL.md 9.2): four per VP, counted in reference
 * time, expiring as HVMSG_TIMER_EXPIRED messages in the SINT the config
 * names. One timerfd in the host's epoll set is armed for the earliest
 * deadline of all of them; when it fires, every due timer is delivered and
 * the timerfd re-armed.
 *
 * Direct mode raises the timer's interrupt on the VP instead of posting a
 * message: here, a count in the VP's interrupt eventfd (part_priv.h) that
 * the guest's VP thread hands to its direct-timer callback. Like an APIC
 * interrupt it needs no SINT and cannot be lost to a full message slot.
 */
#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include "vmbus/clock.h"
#include "partition/host_priv.h"

bool vmb_host_stimer_msr(uint32_t msr)
{
	return msr >= HV_X64_MSR_STIMER_CONFIG(0) &&
	       msr <= HV_X64_MSR_STIMER_COUNT(HV_STIMER_COUNT - 1);
}

static struct vmb_host_stimer *stimer_of(struct vmb_host_part *h, uint32_t vp, uint32_t msr)
{
	return &h->vps[vp].stimer[(msr - HV_X64_MSR_STIMER0_CONFIG) / 2];
}

static bool is_config(uint32_t msr)
{
	return (msr - HV_X64_MSR_STIMER0_CONFIG) % 2 == 0;
}

/* Direct mode needs no SINT; message mode needs one. */
static bool deliverable(uint64_t config)
{
	return (config & HV_STIMER_DIRECT_MODE) || HV_STIMER_SINTX(config) != 0;
}

/* Periodic: first expiry one period from now. One-shot: COUNT is absolute. */
static void start(struct vmb_host_stimer *t, uint64_t now)
{
	t->armed = false;
	if (!(t->config & HV_STIMER_ENABLE) || t->count == 0)
		return;
	t->deadline = (t->config & HV_STIMER_PERIODIC) ? now + t->count : t->count;
	t->armed = true;
}

int vmb_host_stimer_wrmsr(struct vmb_host_part *h, uint32_t vp, uint32_t msr, uint64_t value)
{
	if (vp >= h->vp_count)
		return HV_STATUS_INVALID_PARAMETER;
	struct vmb_host_stimer *t = stimer_of(h, vp, msr);
	if (is_config(msr)) {
		value &= HV_STIMER_CONFIG_MASK;
		/* A message-mode timer without a SINT cannot be enabled. */
		if (!deliverable(value))
			value &= ~HV_STIMER_ENABLE;
		t->config = value;
	} else {
		t->count = value;
		if (value == 0)
			t->config &= ~HV_STIMER_ENABLE;
		else if (t->config & HV_STIMER_AUTO_ENABLE && deliverable(t->config))
			t->config |= HV_STIMER_ENABLE;
	}
	start(t, vmb_host_clock_now(&h->clock));
	vmb_host_stimer_rearm(h);
	return HV_STATUS_SUCCESS;
}

uint64_t vmb_host_stimer_rdmsr(const struct vmb_host_part *h, uint32_t vp, uint32_t msr)
{
	const struct vmb_host_stimer *t = &h->vps[vp].stimer[(msr - HV_X64_MSR_STIMER0_CONFIG) / 2];

	return is_config(msr) ? t->config : t->count;
}

/* The earliest deadline of all armed timers, false if none is armed. */
static bool earliest(const struct vmb_host_part *h, uint64_t *deadline)
{
	bool any = false;

	for (unsigned v = 0; v < h->vp_count; v++) {
		for (unsigned n = 0; n < HV_STIMER_COUNT; n++) {
			const struct vmb_host_stimer *t = &h->vps[v].stimer[n];
			if (t->armed && (!any || t->deadline < *deadline)) {
				*deadline = t->deadline;
				any = true;
			}
		}
	}
	return any;
}

/*
 * A relative timerfd from the reference-time distance: if the clock was
 * rescaled meanwhile the expiry comes a little early or late, and an early
 * one just re-arms for the rest.
 */
void vmb_host_stimer_rearm(struct vmb_host_part *h)
{
	struct itimerspec its;
	uint64_t deadline = 0;

	memset(&its, 0, sizeof(its));
	if (earliest(h, &deadline)) {
		uint64_t now = vmb_host_clock_now(&h->clock);
		uint64_t ns = deadline > now ? (deadline - now) * 100 : 1;
		its.it_value.tv_sec = (time_t)(ns / 1000000000u);
		its.it_value.tv_nsec = (long)(ns % 1000000000u);
	}
	if (timerfd_settime(h->timer_fd, 0, &its, NULL) < 0)
		vmb_hlog(h, "synthetic timers: timerfd_settime: %s", strerror(errno));
}

/*
 * Deliver one expiry and move the timer on. A periodic timer's next
 * deadline is the previous one plus the period, so it does not drift; a
 * lazy one skips the periods already missed instead of delivering each.
 */
static int raise_direct(struct vmb_host_part *h, uint32_t vp, uint32_t n)
{
	uint64_t v = UINT64_C(1) << VMB_KICK_DIRECT_SHIFT(n);

	if (!(h->vps[vp].scontrol & 1))
		return -EAGAIN; /* SynIC off: the interrupt goes nowhere */
	return write(h->vps[vp].kick_fd, &v, sizeof(v)) == sizeof(v) ? 0 : -errno;
}

static void fire(struct vmb_host_part *h, uint32_t vp, uint32_t n, uint64_t now)
{
	struct vmb_host_stimer *t = &h->vps[vp].stimer[n];
	struct hv_timer_message_payload msg = {
	    .timer_index = n,
	    .expiration_time = t->deadline,
	    .delivery_time = now,
	};
	int err;

	if (t->config & HV_STIMER_DIRECT_MODE)
		err = raise_direct(h, vp, n);
	else
		err = vmb_host_synic_post(h, vp, HV_STIMER_SINTX(t->config), HVMSG_TIMER_EXPIRED,
					  &msg, sizeof(msg));
	if (err)
		vmb_hlog(h, "VP %u timer %u: expiry lost (%s)", vp, n, strerror(-err));
	if (!(t->config & HV_STIMER_PERIODIC)) {
		t->config &= ~HV_STIMER_ENABLE;
		t->armed = false;
		return;
	}
	t->deadline += t->count;
	if ((t->config & HV_STIMER_LAZY) && t->deadline <= now)
		t->deadline += ((now - t->deadline) / t->count + 1) * t->count;
}

/* The armed timer with the earliest deadline not after now, false if none. */
static bool next_due(const struct vmb_host_part *h, uint64_t now, uint32_t *vp, uint32_t *n)
{
	bool any = false;
	uint64_t best = now;

	for (uint32_t v = 0; v < h->vp_count; v++) {
		for (uint32_t i = 0; i < HV_STIMER_COUNT; i++) {
			const struct vmb_host_stimer *t = &h->vps[v].stimer[i];
			if (t->armed && t->deadline <= best && (!any || t->deadline < best)) {
				best = t->deadline;
				*vp = v;
				*n = i;
				any = true;
			}
		}
	}
	return any;
}

/*
 * Due timers go out earliest deadline first. A periodic timer far behind
 * comes back after EXPIRIES_PER_WAKEUP deliveries (the timerfd is re-armed
 * to fire at once) so the loop keeps serving the guest meanwhile.
 */
#define EXPIRIES_PER_WAKEUP 64

void vmb_host_stimer_expire(struct vmb_host_part *h)
{
	uint64_t ticks;
	uint32_t vp, n;

	if (read(h->timer_fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
		vmb_hlog(h, "synthetic timers: read: %s", strerror(errno));
	vmb_hlock(h);
	uint64_t now = vmb_host_clock_now(&h->clock);
	for (int i = 0; i < EXPIRIES_PER_WAKEUP && next_due(h, now, &vp, &n); i++)
		fire(h, vp, n, now);
	vmb_host_stimer_rearm(h);
	vmb_hunlock(h);
}
