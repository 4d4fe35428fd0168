/* Timing, pinning, medians and the result table. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench.h"

static bool pin_failed;

int bench_parse(int argc, char **argv, struct bench_opts *o, double secs, unsigned reps)
{
	int i;

	*o = (struct bench_opts){.secs = secs, .reps = reps};
	for (i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick")) {
			o->quick = true;
			o->secs = secs / 5;
			o->reps = 1;
		} else if (!strcmp(argv[i], "--secs") && i + 1 < argc) {
			o->secs = atof(argv[++i]);
		} else if (!strcmp(argv[i], "--reps") && i + 1 < argc) {
			o->reps = (unsigned)atoi(argv[++i]);
		} else {
			break;
		}
	}
	if (o->secs <= 0 || o->reps == 0 || o->reps > 99) {
		fprintf(stderr, "bad --secs or --reps\n");
		exit(2);
	}
	return i;
}

double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

void bench_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

bool bench_pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set) == 0)
		return true;
	pin_failed = true;
	return false;
}

void bench_pin_report(void)
{
	if (pin_failed)
		printf("warning: could not pin to cpu%d/cpu%d; figures are unpinned\n", BENCH_CPU_A,
		       BENCH_CPU_B);
}

_Noreturn void bench_die(const char *what)
{
	fprintf(stderr, "%s: %s\n", what, strerror(errno));
	exit(1);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double bench_median(double *v, unsigned n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

double bench_repeat(const struct bench_opts *o, double (*fn)(const struct bench_opts *, void *),
		    void *arg)
{
	double v[99];

	for (unsigned i = 0; i < o->reps; i++)
		v[i] = fn(o, arg);
	return bench_median(v, o->reps);
}

void bench_table_head(const char *title, const char *unit, const char *base_name)
{
	printf("\n%s\n", title);
	printf("  %-28s %12s %14s %8s  %s\n", "", unit, base_name, "ratio", "target");
}

void bench_table_row(const char *name, double ours, double base, const char *target_op,
		     double target)
{
	double ratio = base > 0 ? ours / base : 0;
	bool ok = target_op[0] == '>' ? ratio >= target : ratio <= target;

	if (!target_op[0])
		printf("  %-28s %12.1f %14.1f %8.2f\n", name, ours, base, ratio);
	else
		printf("  %-28s %12.1f %14.1f %8.2f  %s %.2f %s\n", name, ours, base, ratio,
		       target_op, target, ok ? "ok" : "MISSED");
	fflush(stdout);
}
