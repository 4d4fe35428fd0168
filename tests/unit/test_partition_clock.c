/*
 * Partition clocks: the TLFS formula, the reference TSC page against
 * CLOCK_MONOTONIC, the slow path, rewrites under load (forked guest) and
 * synthetic timers. Host loop on a pump thread, guest in-process unless
 * noted.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/clock.h"
#include "vmbus/partition.h"

#define RAM_PAGES 256
#define VPS	  2
#define MAX_MSGS  1100
#define MS	  10000u /* reference-time units per millisecond */

struct tmsg {
	uint32_t vp, sint;
	struct hv_timer_message_payload p;
};

struct env {
	struct vmb_host_part *h;
	struct vmb_guest_part *g;
	pthread_t pump;
	int stop;
	pthread_mutex_t lock;
	struct tmsg msgs[MAX_MSGS];
	unsigned nmsgs, other_msgs;
	unsigned ce_calls;
	uint64_t ce_exp, ce_del;
};

static char dir[64], sock_path[96];
static struct env E;

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

static void *pump(void *arg)
{
	struct env *e = arg;

	while (!__atomic_load_n(&e->stop, __ATOMIC_ACQUIRE))
		vmb_host_part_poll(e->h, 10);
	return NULL;
}

static void g_message(void *ctx, uint32_t vp, uint32_t sint, uint32_t type, const void *p,
		      size_t len)
{
	struct env *e = ctx;

	pthread_mutex_lock(&e->lock);
	if (type == HVMSG_TIMER_EXPIRED && len >= sizeof(struct hv_timer_message_payload) &&
	    e->nmsgs < MAX_MSGS) {
		e->msgs[e->nmsgs].vp = vp;
		e->msgs[e->nmsgs].sint = sint;
		memcpy(&e->msgs[e->nmsgs].p, p, sizeof(e->msgs[0].p));
		e->nmsgs++;
	} else {
		e->other_msgs++;
	}
	pthread_mutex_unlock(&e->lock);
}

static unsigned nmsgs(void)
{
	pthread_mutex_lock(&E.lock);
	unsigned n = E.nmsgs;
	pthread_mutex_unlock(&E.lock);
	return n;
}

/* Poll for up to 5 s; evaluates to whether cond became true. */
#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		int _i = 0;                                                                        \
		bool _ok;                                                                          \
		while (!(_ok = (cond)) && _i++ < 5000)                                             \
			usleep(1000);                                                              \
		_ok;                                                                               \
	})

static const struct vmb_host_part_ops host_ops = {.log = quiet};
static const struct vmb_guest_part_ops guest_ops = {.message = g_message, .log = quiet};

static void host_up(void)
{
	struct vmb_host_part_config cfg = {
	    .ram_size = RAM_PAGES * HV_PAGE_SIZE, .vp_count = VPS, .socket_path = sock_path};

	assert_int_equal(vmb_host_part_create(&cfg, &host_ops, &E, &E.h), 0);
	E.stop = 0;
	assert_int_equal(pthread_create(&E.pump, NULL, pump, &E), 0);
}

static void host_down(void)
{
	__atomic_store_n(&E.stop, 1, __ATOMIC_RELEASE);
	pthread_join(E.pump, NULL);
	vmb_host_part_destroy(E.h);
}

static int setup(void **state)
{
	(void)state;
	memset(&E, 0, sizeof(E));
	pthread_mutex_init(&E.lock, NULL);
	host_up();
	assert_int_equal(vmb_guest_part_connect(sock_path, &guest_ops, &E, &E.g), 0);
	assert_int_equal(vmb_guest_part_start(E.g), 0);
	assert_int_equal(vmb_guest_clock_enable(E.g), 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	vmb_guest_part_destroy(E.g);
	host_down();
	pthread_mutex_destroy(&E.lock);
	return 0;
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static uint64_t ref_now(void)
{
	uint64_t t = 0;

	assert_int_equal(vmb_clock_ref_time(E.g, &t), 0);
	return t;
}

/* ------------------------------------------------------------ pure */

static void test_formula(void **state)
{
	(void)state;
	uint64_t scale = vmb_ref_tsc_scale(2500000000u);

	/* 2.5 GHz: one second of TSC is 10^7 units, less one for the floor. */
	uint64_t t = vmb_ref_time_calc(2500000000u, scale, 5);
	assert_true(t == 10000005 || t == 10000004);
	/* A negative offset wraps the way the guest's two's complement does. */
	assert_int_equal(vmb_ref_time_calc(2500000000u, scale, -10000000), t - 10000005);
	/* A 10 MHz TSC would need a scale of exactly 2^64: the limit. */
	assert_int_equal(vmb_ref_tsc_scale(10000001u), UINT64_C(18446742229035328712));

	struct hv_ref_tsc_page *p = calloc(1, sizeof(*p));
	assert_non_null(p);
	uint64_t v = 7;
	assert_false(vmb_ref_tsc_page_read(p, &v));
	assert_int_equal(v, 7);
	p->tsc_sequence = 3;
	p->tsc_scale = 0;
	p->tsc_offset = 1234;
	assert_true(vmb_ref_tsc_page_read(p, &v));
	assert_int_equal(v, 1234);
	free(p);
}

/* ------------------------------------------------------------ reference time */

static void test_msrs(void **state)
{
	(void)state;
	uint64_t hz = 0, v = 0;

	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_TSC_FREQUENCY, &hz), 0);
	assert_int_equal(hz, vmb_host_part_tsc_hz(E.h));
	assert_int_equal(vmb_guest_clock_tsc_hz(E.g), hz);
	assert_true(hz > 10000000u);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 1, HV_X64_MSR_VP_INDEX, &v), 0);
	assert_int_equal(v, 1);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_REFERENCE_TSC, &v), 0);
	const uint8_t *page = (const uint8_t *)vmb_guest_clock_page(E.g);
	assert_int_equal(v & ~UINT64_C(0xfff),
			 (uint64_t)(page - (const uint8_t *)vmb_guest_part_gpa(E.g, 0, 1)));
	assert_int_equal(v & 1, 1);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, 0x40001234u, &v),
			 HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, VPS, HV_X64_MSR_VP_INDEX, &v),
			 HV_STATUS_INVALID_PARAMETER);
	/* A page outside guest RAM is refused; the enabled one stays. */
	assert_int_equal(vmb_guest_part_wrmsr(E.g, 0, HV_X64_MSR_REFERENCE_TSC,
					      (uint64_t)RAM_PAGES << HV_PAGE_SHIFT | 1),
			 HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(vmb_guest_part_wrmsr(E.g, 0, HV_X64_MSR_REFERENCE_TSC, UINT64_MAX),
			 HV_STATUS_INVALID_PARAMETER);
	assert_int_not_equal(vmb_guest_clock_page(E.g)->tsc_sequence, 0);
	assert_int_equal(vmb_guest_clock_enable(E.g), -EALREADY);
	assert_int_equal(vmb_host_part_clock_update(E.h, 10000000u), -EINVAL);
}

/* Fast path, slow path and the host's own reading agree and are ordered. */
static void test_paths_agree(void **state)
{
	(void)state;
	const struct hv_ref_tsc_page *p = vmb_guest_clock_page(E.g);
	uint64_t a, b, slow, hostt;

	for (int i = 0; i < 100; i++) {
		assert_true(vmb_ref_tsc_page_read(p, &a));
		assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_TIME_REF_COUNT, &slow), 0);
		hostt = vmb_host_part_ref_time(E.h);
		assert_true(vmb_ref_tsc_page_read(p, &b));
		assert_true(a <= slow && slow <= hostt && hostt <= b);
	}
}

/* Over 10 s the reference time runs at CLOCK_MONOTONIC's rate within 50 ppm. */
static void test_rate_vs_monotonic(void **state)
{
	(void)state;
	uint64_t m0 = mono_ns(), r0 = ref_now();
	sleep(10);
	uint64_t m1 = mono_ns(), r1 = ref_now();

	double ref_ns = (double)(r1 - r0) * 100.0;
	double ppm = (ref_ns / (double)(m1 - m0) - 1.0) * 1e6;
	print_message("reference time vs CLOCK_MONOTONIC over 10 s: %+.2f ppm\n", ppm);
	assert_true(ppm < 50.0 && ppm > -50.0);
}

/* Sequence 0 sends readers to TIME_REF_COUNT; the next host update heals the page. */
static void test_sequence0_fallback(void **state)
{
	(void)state;
	struct hv_ref_tsc_page *p = (struct hv_ref_tsc_page *)vmb_guest_clock_page(E.g);
	uint64_t v = 0;

	__atomic_store_n(&p->tsc_sequence, 0, __ATOMIC_RELEASE);
	assert_false(vmb_ref_tsc_page_read(p, &v));
	uint64_t h0 = vmb_host_part_ref_time(E.h);
	uint64_t t = ref_now();
	uint64_t h1 = vmb_host_part_ref_time(E.h);
	assert_true(h0 <= t && t <= h1);
	assert_int_equal(vmb_host_part_clock_update(E.h, 0), 0);
	assert_true(vmb_ref_tsc_page_read(p, &v));
	assert_true(v >= h1);
}

/* A rescale keeps the time continuous and changes TSC_FREQUENCY. */
static void test_update_continuity(void **state)
{
	(void)state;
	const struct hv_ref_tsc_page *p = vmb_guest_clock_page(E.g);
	uint64_t hz0 = vmb_host_part_tsc_hz(E.h), hz;
	uint32_t seq = p->tsc_sequence;

	uint64_t before = ref_now();
	assert_int_equal(vmb_host_part_clock_update(E.h, hz0 + hz0 / 1000), 0);
	uint64_t after = ref_now();
	assert_true(after >= before && after - before < 100 * MS);
	assert_int_not_equal(p->tsc_sequence, seq);
	assert_int_not_equal(p->tsc_sequence, 0);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_TSC_FREQUENCY, &hz), 0);
	assert_int_equal(hz, hz0 + hz0 / 1000);
	/* The TSC now counts as 0.1% faster: reference time runs 0.1% slower. */
	uint64_t m0 = mono_ns(), r0 = ref_now();
	usleep(200000);
	uint64_t m1 = mono_ns(), r1 = ref_now();
	double ppm = ((double)(r1 - r0) * 100.0 / (double)(m1 - m0) - 1.0) * 1e6;
	assert_true(ppm < -900 && ppm > -1100);
}

/* ------------------------------------------------------------ rewrites under load (fork) */

#define REWRITES 1000
#define READERS	 2

struct reader {
	const struct hv_ref_tsc_page *p;
	const int *stop;
	uint64_t reads, backwards, seqs;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	uint64_t last = 0, t;
	uint32_t last_seq = 0;

	while (!__atomic_load_n(r->stop, __ATOMIC_ACQUIRE)) {
		uint32_t seq = __atomic_load_n(&r->p->tsc_sequence, __ATOMIC_RELAXED);
		if (!vmb_ref_tsc_page_read(r->p, &t))
			continue;
		if (t < last)
			r->backwards++;
		if (seq != last_seq)
			r->seqs++;
		last_seq = seq;
		last = t;
		r->reads++;
	}
	return NULL;
}

/* The guest process: readers until the parent says stop; results down the pipe. */
static void guest_child(int ready_fd, int stop_fd, int result_fd)
{
	struct vmb_guest_part *g;
	struct reader r[READERS];
	pthread_t th[READERS];
	int stop = 0;
	char c = 'r';
	uint64_t out[3] = {0, 0, 0};

	if (vmb_guest_part_connect(sock_path, &guest_ops, &E, &g) || vmb_guest_clock_enable(g))
		_exit(2);
	for (int i = 0; i < READERS; i++) {
		r[i] = (struct reader){.p = vmb_guest_clock_page(g), .stop = &stop};
		pthread_create(&th[i], NULL, reader_main, &r[i]);
	}
	if (write(ready_fd, &c, 1) != 1 || read(stop_fd, &c, 1) != 1)
		_exit(3);
	__atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
	for (int i = 0; i < READERS; i++) {
		pthread_join(th[i], NULL);
		out[0] += r[i].reads;
		out[1] += r[i].backwards;
		out[2] += r[i].seqs;
	}
	if (write(result_fd, out, sizeof(out)) != sizeof(out))
		_exit(4);
	vmb_guest_part_destroy(g);
	_exit(0);
}

static void test_monotonic_under_rewrites(void **state)
{
	(void)state;
	int ready[2], stopp[2], res[2];
	char c;
	uint64_t out[3];

	assert_int_equal(pipe(ready), 0);
	assert_int_equal(pipe(stopp), 0);
	assert_int_equal(pipe(res), 0);
	pid_t pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		guest_child(ready[1], stopp[0], res[1]);
	assert_int_equal(read(ready[0], &c, 1), 1);
	uint64_t hz = vmb_host_part_tsc_hz(E.h);
	/* Alternate +-200 ppm (and back to exact) so the scale really changes. */
	for (int i = 0; i < REWRITES; i++) {
		uint64_t f = i % 3 == 0 ? hz : i % 3 == 1 ? hz + hz / 5000 : hz - hz / 5000;
		assert_int_equal(vmb_host_part_clock_update(E.h, f), 0);
		usleep(200);
	}
	assert_int_equal(write(stopp[1], "s", 1), 1);
	assert_int_equal(read(res[0], out, sizeof(out)), sizeof(out));
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	print_message("%llu reads, %llu sequence changes seen, %llu backwards\n",
		      (unsigned long long)out[0], (unsigned long long)out[2],
		      (unsigned long long)out[1]);
	assert_int_equal(out[1], 0);
	assert_true(out[0] > 10000);
	/* The readers really ran across the rewrites (each sees many of them). */
	assert_true(out[2] > REWRITES / 10);
	for (int i = 0; i < 2; i++) {
		close(ready[i]);
		close(stopp[i]);
		close(res[i]);
	}
}

/* ------------------------------------------------------------ synthetic timers */

static uint64_t msg_config(uint32_t sint, uint64_t flags)
{
	return flags | (uint64_t)sint << 16;
}

static int wrmsr(uint32_t vp, uint32_t msr, uint64_t v)
{
	return vmb_guest_part_wrmsr(E.g, vp, msr, v);
}

/* Timers armed in reverse order fire earliest deadline first. */
static void test_oneshot_order(void **state)
{
	(void)state;
	uint64_t now = ref_now();

	for (uint32_t n = 0; n < HV_STIMER_COUNT; n++)
		assert_int_equal(
		    wrmsr(0, HV_X64_MSR_STIMER_CONFIG(n), msg_config(2, HV_STIMER_AUTO_ENABLE)), 0);
	for (uint32_t n = 0; n < HV_STIMER_COUNT; n++)
		assert_int_equal(wrmsr(0, HV_X64_MSR_STIMER_COUNT(n), now + (20 - 5 * n) * MS), 0);
	assert_true(WAIT_FOR(nmsgs() == HV_STIMER_COUNT));
	usleep(20000);
	assert_int_equal(nmsgs(), HV_STIMER_COUNT);
	for (uint32_t i = 0; i < HV_STIMER_COUNT; i++) {
		const struct tmsg *m = &E.msgs[i];
		assert_int_equal(m->p.timer_index, HV_STIMER_COUNT - 1 - i);
		assert_int_equal(m->p.expiration_time, now + (20 - 5 * m->p.timer_index) * MS);
		assert_true(m->p.delivery_time >= m->p.expiration_time);
		assert_int_equal(m->vp, 0);
		assert_int_equal(m->sint, 2);
	}
	/* One-shot timers disable themselves. */
	uint64_t cfg;
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_STIMER_CONFIG(0), &cfg), 0);
	assert_int_equal(cfg & HV_STIMER_ENABLE, 0);
	/* A deadline already past fires at once, on the SINT the config names. */
	assert_int_equal(wrmsr(1, HV_X64_MSR_SINT0 + 3, 0x21), 0);
	assert_int_equal(
	    wrmsr(1, HV_X64_MSR_STIMER_CONFIG(2), msg_config(3, HV_STIMER_AUTO_ENABLE)), 0);
	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_COUNT(2), 1), 0);
	assert_true(WAIT_FOR(nmsgs() == HV_STIMER_COUNT + 1));
	assert_int_equal(E.msgs[HV_STIMER_COUNT].vp, 1);
	assert_int_equal(E.msgs[HV_STIMER_COUNT].sint, 3);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* 1,000 periods of 1 ms: exact expirations, delivered within a period. */
static void test_periodic_no_drift(void **state)
{
	(void)state;
	const unsigned periods = 1000;

	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_COUNT(1), MS), 0);
	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_CONFIG(1),
			       msg_config(2, HV_STIMER_ENABLE | HV_STIMER_PERIODIC)),
			 0);
	int i = 0;
	while (nmsgs() < periods && i++ < 5000)
		usleep(1000);
	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_CONFIG(1), 0), 0);
	assert_true(nmsgs() >= periods);
	/*
	 * No drift: every expiration is exactly first + k periods, and a late
	 * delivery (a loaded machine) is caught up rather than shifting the
	 * timer, so the typical delivery stays within one period.
	 */
	static uint64_t late[1000];
	uint64_t first = E.msgs[0].p.expiration_time;
	for (unsigned k = 0; k < periods; k++) {
		const struct tmsg *m = &E.msgs[k];
		assert_int_equal(m->p.timer_index, 1);
		assert_int_equal(m->p.expiration_time, first + k * MS);
		assert_true(m->p.delivery_time >= m->p.expiration_time);
		late[k] = m->p.delivery_time - m->p.expiration_time;
	}
	qsort(late, periods, sizeof(late[0]), cmp_u64);
	print_message("periodic 1 ms: lateness median %llu us, p99 %llu us\n",
		      (unsigned long long)late[periods / 2] / 10,
		      (unsigned long long)late[periods * 99 / 100] / 10);
	assert_true(late[periods / 2] < MS);
	/* Disabled: nothing more comes. */
	usleep(50000); /* what was queued before the disable drains first */
	unsigned n = nmsgs();
	usleep(50000);
	assert_int_equal(nmsgs(), n);
}

/* Disabling a pending timer (CONFIG or COUNT = 0) stops it. */
static void test_disable_pending(void **state)
{
	(void)state;
	uint64_t now = ref_now(), v;

	assert_int_equal(
	    wrmsr(0, HV_X64_MSR_STIMER_CONFIG(0), msg_config(2, HV_STIMER_AUTO_ENABLE)), 0);
	assert_int_equal(wrmsr(0, HV_X64_MSR_STIMER_COUNT(0), now + 30 * MS), 0);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_STIMER_CONFIG(0), &v), 0);
	assert_int_equal(v & HV_STIMER_ENABLE, HV_STIMER_ENABLE);
	assert_int_equal(wrmsr(0, HV_X64_MSR_STIMER_CONFIG(0), 0), 0);

	assert_int_equal(
	    wrmsr(0, HV_X64_MSR_STIMER_CONFIG(3), msg_config(2, HV_STIMER_AUTO_ENABLE)), 0);
	assert_int_equal(wrmsr(0, HV_X64_MSR_STIMER_COUNT(3), now + 30 * MS), 0);
	assert_int_equal(wrmsr(0, HV_X64_MSR_STIMER_COUNT(3), 0), 0);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_STIMER_CONFIG(3), &v), 0);
	assert_int_equal(v & HV_STIMER_ENABLE, 0);

	/* A message-mode config without a SINT cannot enable. */
	assert_int_equal(wrmsr(0, HV_X64_MSR_STIMER_CONFIG(1), HV_STIMER_ENABLE), 0);
	assert_int_equal(wrmsr(0, HV_X64_MSR_STIMER_COUNT(1), now + 10 * MS), 0);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 0, HV_X64_MSR_STIMER_CONFIG(1), &v), 0);
	assert_int_equal(v & HV_STIMER_ENABLE, 0);
	usleep(80000);
	assert_int_equal(nmsgs(), 0);
}

static void ce_fn(void *ctx, uint32_t vp, uint64_t expiration, uint64_t delivery)
{
	struct env *e = ctx;

	assert_int_equal(vp, 1);
	pthread_mutex_lock(&e->lock);
	e->ce_calls++;
	e->ce_exp = expiration;
	e->ce_del = delivery;
	pthread_mutex_unlock(&e->lock);
}

static unsigned ce_calls(void)
{
	pthread_mutex_lock(&E.lock);
	unsigned n = E.ce_calls;
	pthread_mutex_unlock(&E.lock);
	return n;
}

static void test_clockevent(void **state)
{
	(void)state;

	assert_int_equal(vmb_clockevent_init(E.g, 1, ce_fn, &E), 0);
	uint64_t t0 = ref_now();
	assert_int_equal(vmb_clockevent_program(E.g, 1, 2 * MS), 0);
	assert_true(WAIT_FOR(ce_calls() == 1));
	assert_true(E.ce_exp >= t0 + 2 * MS && E.ce_exp < t0 + 50 * MS);
	assert_true(E.ce_del >= E.ce_exp);
	/* Re-programming replaces; stop cancels. */
	assert_int_equal(vmb_clockevent_program(E.g, 1, 30 * MS), 0);
	assert_int_equal(vmb_clockevent_program(E.g, 1, 1 * MS), 0);
	assert_true(WAIT_FOR(ce_calls() == 2));
	assert_int_equal(vmb_clockevent_program(E.g, 1, 20 * MS), 0);
	assert_int_equal(vmb_clockevent_stop(E.g, 1), 0);
	usleep(60000);
	assert_int_equal(ce_calls(), 2);
	/* Timer 0 expiries went to the handler, not to ops->message. */
	assert_int_equal(nmsgs(), 0);
	assert_int_equal(vmb_clockevent_init(E.g, VPS, ce_fn, &E), -EINVAL);
}

static unsigned dt_calls[VPS][HV_STIMER_COUNT], dt_expiries;

static void dt_fn(void *ctx, uint32_t vp, uint32_t timer, uint32_t expiries)
{
	struct env *e = ctx;

	pthread_mutex_lock(&e->lock);
	if (vp < VPS && timer < HV_STIMER_COUNT)
		dt_calls[vp][timer]++;
	dt_expiries += expiries;
	pthread_mutex_unlock(&e->lock);
}

static unsigned dt_count(uint32_t vp, uint32_t timer)
{
	pthread_mutex_lock(&E.lock);
	unsigned n = dt_calls[vp][timer];
	pthread_mutex_unlock(&E.lock);
	return n;
}

#define DIRECT_CONFIG(flags) (HV_STIMER_DIRECT_MODE | (UINT64_C(0x40) << 4) | (flags))

/* Direct mode: no SINT, no message; the VP thread's callback gets the index. */
static void test_direct_mode(void **state)
{
	uint64_t v;

	(void)state;
	memset(dt_calls, 0, sizeof(dt_calls));
	dt_expiries = 0;
	assert_int_equal(vmb_direct_timer_init(E.g, 1, dt_fn, &E), 0);
	assert_int_equal(vmb_direct_timer_init(E.g, VPS, dt_fn, &E), -EINVAL);

	/* One-shot on timer 2, auto-enabled by COUNT. */
	assert_int_equal(
	    wrmsr(1, HV_X64_MSR_STIMER_CONFIG(2), DIRECT_CONFIG(HV_STIMER_AUTO_ENABLE)), 0);
	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_COUNT(2), ref_now() + 2 * MS), 0);
	assert_int_equal(vmb_guest_part_rdmsr(E.g, 1, HV_X64_MSR_STIMER_CONFIG(2), &v), 0);
	assert_int_equal(v & HV_STIMER_DIRECT_MODE, HV_STIMER_DIRECT_MODE);
	assert_true(WAIT_FOR(dt_count(1, 2) == 1));
	usleep(30000);
	assert_int_equal(dt_count(1, 2), 1);

	/* Periodic on timer 3 (period 5 ms): keeps coming until disabled. */
	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_COUNT(3), 5 * MS), 0);
	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_CONFIG(3),
			       DIRECT_CONFIG(HV_STIMER_ENABLE | HV_STIMER_PERIODIC)),
			 0);
	assert_true(WAIT_FOR(dt_count(1, 3) >= 5));
	assert_int_equal(wrmsr(1, HV_X64_MSR_STIMER_CONFIG(3), 0), 0);
	usleep(20000);
	unsigned stopped = dt_count(1, 3);
	usleep(40000);
	assert_int_equal(dt_count(1, 3), stopped);

	/* Nothing went through the SynIC, and no other timer or VP was raised. */
	assert_int_equal(nmsgs(), 0);
	assert_int_equal(dt_count(0, 2) + dt_count(0, 3) + dt_count(1, 0) + dt_count(1, 1), 0);
	assert_true(dt_expiries >= 6);
}

static int group_setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof(dir), "/tmp/vmb_clock_XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/part.sock", dir);
	return 0;
}

static int group_teardown(void **state)
{
	(void)state;
	unlink(sock_path);
	rmdir(dir);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_formula),
	    cmocka_unit_test_setup_teardown(test_msrs, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_paths_agree, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sequence0_fallback, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_continuity, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oneshot_order, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_periodic_no_drift, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_disable_pending, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_clockevent, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_direct_mode, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_rate_vs_monotonic, setup, teardown),
	};

	signal(SIGPIPE, SIG_IGN);
	int rc = cmocka_run_group_tests(tests, group_setup, group_teardown);
	if (rc)
		return rc;
	/* The rewrite test forks a guest: no in-process guest there. */
	memset(&E, 0, sizeof(E));
	pthread_mutex_init(&E.lock, NULL);
	const struct CMUnitTest fork_tests[] = {
	    cmocka_unit_test(test_monotonic_under_rewrites),
	};
	snprintf(dir, sizeof(dir), "/tmp/vmb_clock_XXXXXX");
	if (!mkdtemp(dir))
		return 1;
	snprintf(sock_path, sizeof(sock_path), "%s/part.sock", dir);
	host_up();
	rc = cmocka_run_group_tests_name("rewrites", fork_tests, NULL, NULL);
	host_down();
	group_teardown(NULL);
	return rc;
}
