/*
 * Shared pieces of the benchmarks: timing, CPU pinning, medians, the
 * result table, and the baselines every figure is compared with in the
 * same run (baseline.c).
 */
#ifndef VMB_BENCH_H
#define VMB_BENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The two CPUs every cross-core figure uses: producer/ping, consumer/pong. */
#define BENCH_CPU_A 0
#define BENCH_CPU_B 1

struct bench_opts {
	double secs;   /* per sample */
	unsigned reps; /* samples per figure; the median is reported */
	bool quick;
};

/* --quick, --secs S, --reps N; unknown arguments are left for the caller
 * (returns the index of the first one, or argc). */
int bench_parse(int argc, char **argv, struct bench_opts *o, double secs, unsigned reps);

double bench_now(void);
void bench_relax(void);
/* Pin the calling thread; false (and a warning at exit) when refused. */
bool bench_pin(int cpu);
void bench_pin_report(void);
_Noreturn void bench_die(const char *what);

/* Median of n samples (sorts v). */
double bench_median(double *v, unsigned n);
/* Run fn(o, arg) o->reps times, return the median. */
double bench_repeat(const struct bench_opts *o, double (*fn)(const struct bench_opts *, void *),
		    void *arg);

/* Table: a heading, then rows of name, our figure, baseline, ratio, target. */
void bench_table_head(const char *title, const char *unit, const char *base_name);
/* higher_better: ratio = ours / base, else base / ours is printed as
 * ours / base too (lower is better, target is a maximum). */
void bench_table_row(const char *name, double ours, double base, const char *target_op,
		     double target);

/* ---- baselines (baseline.c) ------------------------------------------ */

/* One core copying size-byte blocks through a ring_size buffer (MB/s). */
double bl_memcpy(double secs, uint32_t size, uint32_t ring_size);
/*
 * The practical ceiling for streaming: the simplest correct lock-free SPSC
 * byte ring of ring_size bytes, no protocol, producer on BENCH_CPU_A
 * copying size-byte messages in, consumer on BENCH_CPU_B copying them out,
 * one index publish per message (MB/s of payload).
 */
double bl_ideal_ring(double secs, uint32_t size, uint32_t ring_size);
/* AF_UNIX SOCK_STREAM between the two CPUs, one write/read per message (MB/s). */
double bl_socketpair(double secs, uint32_t size);
/* Round trip of one cache line bounced between the two CPUs (ns): the floor
 * for a polled request/response. */
double bl_pingpong_line(double secs);
/* Round trip through two eventfds with blocking reads (ns): the floor for
 * an interrupt-driven one. */
double bl_pingpong_eventfd(double secs);

#endif
