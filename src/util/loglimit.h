/*
 * Log rate limit shared by the host and guest runtimes: a hostile peer can
 * make every message it sends fail with a log line, so past a budget of
 * lines per second the rest of that second is only counted, and the count
 * is reported in one line when the next second's first line comes.
 */
#ifndef VMB_UTIL_LOGLIMIT_H
#define VMB_UTIL_LOGLIMIT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>

#define VMB_LOG_LINES_PER_SEC 200

struct vmb_loglimit {
	pthread_mutex_t lock;
	uint64_t sec, lines, dropped;
};

static inline void vmb_loglimit_init(struct vmb_loglimit *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->sec = l->lines = l->dropped = 0;
}

static inline void vmb_loglimit_fini(struct vmb_loglimit *l)
{
	pthread_mutex_destroy(&l->lock);
}

/* True when the line may be printed; reports (to stderr, prefixed) what the last window dropped. */
static inline bool vmb_loglimit_admit(struct vmb_loglimit *l, const char *prefix)
{
	struct timespec ts;
	uint64_t sec, dropped = 0;
	bool ok;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	sec = (uint64_t)ts.tv_sec;
	pthread_mutex_lock(&l->lock);
	if (sec != l->sec) {
		dropped = l->dropped;
		l->sec = sec;
		l->lines = 0;
		l->dropped = 0;
	}
	ok = ++l->lines <= VMB_LOG_LINES_PER_SEC;
	if (!ok)
		l->dropped++;
	pthread_mutex_unlock(&l->lock);
	if (dropped)
		fprintf(stderr, "%s: (%llu log lines suppressed)\n", prefix,
			(unsigned long long)dropped);
	return ok;
}

#endif
