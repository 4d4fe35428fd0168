/* Small helpers shared by the integration tests. */
#ifndef VMB_IT_COMMON_H
#define VMB_IT_COMMON_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <unistd.h>
#include <cmocka.h>

#include "harness.h"

struct it_counts {
	unsigned long long echoes, errors, probed, removed, subchannels;
};

static inline void it_counts(struct it_proc *guest, struct it_counts *c)
{
	char line[256];

	assert_true(it_cmd(guest, line, sizeof(line), "counts") >= 0);
	assert_int_equal(sscanf(line, "ok %llu %llu %llu %llu %llu", &c->echoes, &c->errors,
				&c->probed, &c->removed, &c->subchannels),
			 5);
}

struct it_hstats {
	unsigned open, gpadls, mappings;
	unsigned long long needless, throttled;
};

static inline void it_hstats(struct it_proc *host, struct it_hstats *s)
{
	char line[256];

	assert_true(it_cmd(host, line, sizeof(line), "stats") >= 0);
	assert_int_equal(sscanf(line, "ok %u %u %u %llu %llu", &s->open, &s->gpadls, &s->mappings,
				&s->needless, &s->throttled),
			 5);
}

/* Poll until the guest's echo count passes `min` (traffic is flowing). */
static inline void it_wait_echoes(struct it_proc *guest, unsigned long long min)
{
	struct it_counts c = {0};

	for (int i = 0; i < 500 && c.echoes < min; i++) {
		it_counts(guest, &c);
		usleep(10000);
	}
	assert_true(c.echoes >= min);
}

static inline void it_quit(struct it_proc *p)
{
	assert_int_equal(it_cmd(p, NULL, 0, "quit"), -EPIPE);
	assert_int_equal(it_wait(p, 15000), 0);
}

#endif
