/* Absolute deadlines for pthread_cond_timedwait(). */
#ifndef VMB_UTIL_DEADLINE_H
#define VMB_UTIL_DEADLINE_H

#include <time.h>

/* *ts = now on clock clk + ms milliseconds (clk must match the condvar's). */
static inline void vmb_deadline_after(struct timespec *ts, clockid_t clk, int ms)
{
	clock_gettime(clk, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

#endif
