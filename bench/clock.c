/*
 * Partition clocks, host and guest in one process over the real socket:
 *
 *  - ns per reference-time read (reference TSC page, lock-free) beside
 *    clock_gettime(CLOCK_MONOTONIC) and the TIME_REF_COUNT slow path;
 *  - synthetic-timer lateness (stimer0 clock event, 1 ms one-shots,
 *    lateness = reference time in the handler - expiration) beside a
 *    timerfd one-shot of the same length read by a blocked thread.
 *
 *   bench_clock [READS_MILLIONS] [TIMER_SAMPLES]     (defaults 20, 1000)
 */
#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "vmbus/clock.h"
#include "vmbus/partition.h"

#define TIMER_DELTA_NS 1000000 /* 1 ms */

struct bench {
	struct vmb_host_part *h;
	struct vmb_guest_part *g;
	pthread_t pump;
	int stop;
	sem_t fired;
	double late_ns;
};

static void die(const char *what)
{
	fprintf(stderr, "bench_clock: %s\n", what);
	exit(1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void *pump(void *arg)
{
	struct bench *b = arg;

	while (!__atomic_load_n(&b->stop, __ATOMIC_ACQUIRE))
		vmb_host_part_poll(b->h, 10);
	return NULL;
}

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

/* Keeps the compiler from dropping the reads. */
static volatile uint64_t sink;

static double ns_per_page_read(const struct hv_ref_tsc_page *p, unsigned long n)
{
	uint64_t t = 0, acc = 0;
	double t0 = now_s();

	for (unsigned long i = 0; i < n; i++) {
		if (!vmb_ref_tsc_page_read(p, &t))
			die("page invalid");
		acc += t;
	}
	sink = acc;
	return (now_s() - t0) * 1e9 / (double)n;
}

static double ns_per_gettime(unsigned long n)
{
	struct timespec ts;
	uint64_t acc = 0;
	double t0 = now_s();

	for (unsigned long i = 0; i < n; i++) {
		clock_gettime(CLOCK_MONOTONIC, &ts);
		acc += (uint64_t)ts.tv_nsec;
	}
	sink = acc;
	return (now_s() - t0) * 1e9 / (double)n;
}

static double ns_per_slow_read(struct vmb_guest_part *g, unsigned long n)
{
	uint64_t t;
	double t0 = now_s();

	for (unsigned long i = 0; i < n; i++) {
		if (vmb_guest_part_rdmsr(g, 0, HV_X64_MSR_TIME_REF_COUNT, &t))
			die("rdmsr");
	}
	return (now_s() - t0) * 1e9 / (double)n;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static void report(const char *name, double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp);
	printf("%-28s median %8.1f us   p99 %8.1f us\n", name, v[n / 2] / 1e3,
	       v[(size_t)((double)n * 0.99)] / 1e3);
}

static void on_event(void *ctx, uint32_t vp, uint64_t expiration, uint64_t delivery)
{
	struct bench *b = ctx;
	uint64_t t;

	(void)vp;
	(void)delivery;
	if (!vmb_ref_tsc_page_read(vmb_guest_clock_page(b->g), &t))
		die("page invalid");
	b->late_ns = ((double)t - (double)expiration) * 100.0;
	sem_post(&b->fired);
}

static void stimer_lateness(struct bench *b, double *v, unsigned n)
{
	if (vmb_clockevent_init(b->g, 0, on_event, b))
		die("clockevent init");
	for (unsigned i = 0; i < n; i++) {
		if (vmb_clockevent_program(b->g, 0, TIMER_DELTA_NS / 100))
			die("clockevent program");
		while (sem_wait(&b->fired))
			;
		v[i] = b->late_ns;
	}
}

static void timerfd_lateness(double *v, unsigned n)
{
	int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	struct itimerspec its = {.it_value.tv_nsec = TIMER_DELTA_NS};
	uint64_t ticks;

	if (fd < 0)
		die("timerfd");
	for (unsigned i = 0; i < n; i++) {
		double due = now_s() + TIMER_DELTA_NS * 1e-9;
		if (timerfd_settime(fd, 0, &its, NULL) || read(fd, &ticks, sizeof(ticks)) < 0)
			die("timerfd");
		v[i] = (now_s() - due) * 1e9;
	}
	close(fd);
}

static void setup(struct bench *b, const char *sock)
{
	struct vmb_host_part_config cfg = {
	    .ram_size = 1024 * HV_PAGE_SIZE, .vp_count = 1, .socket_path = sock};
	struct vmb_host_part_ops hops = {.log = quiet};
	struct vmb_guest_part_ops gops = {.log = quiet};
	if (vmb_host_part_create(&cfg, &hops, b, &b->h) || pthread_create(&b->pump, NULL, pump, b))
		die("host");
	if (vmb_guest_part_connect(sock, &gops, b, &b->g) || vmb_guest_part_start(b->g) ||
	    vmb_guest_clock_enable(b->g))
		die("guest");
}

int main(int argc, char **argv)
{
	unsigned long reads = (argc > 1 ? strtoul(argv[1], NULL, 10) : 20) * 1000000ul;
	unsigned samples = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 1000;
	char sock[64];
	struct bench b;

	if (reads == 0 || samples == 0)
		die("usage: bench_clock [READS_MILLIONS] [TIMER_SAMPLES]");
	memset(&b, 0, sizeof(b));
	sem_init(&b.fired, 0, 0);
	snprintf(sock, sizeof(sock), "/tmp/bench_clock.%d.sock", (int)getpid());
	setup(&b, sock);
	printf("TSC %.6f GHz (measured by the host)\n", (double)vmb_guest_clock_tsc_hz(b.g) * 1e-9);

	double page = ns_per_page_read(vmb_guest_clock_page(b.g), reads);
	double mono = ns_per_gettime(reads);
	double slow = ns_per_slow_read(b.g, 20000);
	printf("%-28s %8.2f ns\n", "reference TSC page read", page);
	printf("%-28s %8.2f ns\n", "clock_gettime(MONOTONIC)", mono);
	printf("%-28s %8.2f ns\n", "TIME_REF_COUNT (socket)", slow);
	printf("%-28s %8.2fx\n", "page / clock_gettime", page / mono);

	double *v = calloc(samples, sizeof(*v));
	if (!v)
		die("memory");
	stimer_lateness(&b, v, samples);
	report("stimer0 1 ms lateness", v, samples);
	timerfd_lateness(v, samples);
	report("timerfd 1 ms lateness", v, samples);
	free(v);

	vmb_guest_part_destroy(b.g);
	__atomic_store_n(&b.stop, 1, __ATOMIC_RELEASE);
	pthread_join(b.pump, NULL);
	vmb_host_part_destroy(b.h);
	return 0;
}
