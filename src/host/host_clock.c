/*
 * `vmbus ctl clock-update [--scale PPM] [--count N]`: rewrite the reference
 * TSC page as a live migration to a host whose TSC runs PPM parts per
 * million faster would (0 = back to the measured frequency); --count
 * repeats the rewrite N times so tests can force rewrites under load.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/clock.h"
#include "host/host_priv.h"

#define MAX_PPM	  100000 /* +-10% */
#define MAX_COUNT 1000000

static int parse_long(const char *s, long lo, long hi, long *v)
{
	char *end;

	errno = 0;
	*v = strtol(s, &end, 10);
	return errno || end == s || *end || *v < lo || *v > hi ? -EINVAL : 0;
}

static int parse(int argc, char **argv, long *ppm, long *count)
{
	*ppm = 0;
	*count = 1;
	for (int i = 1; i < argc; i++) {
		int rc = -EINVAL;
		if (!strcmp(argv[i], "--scale") && i + 1 < argc)
			rc = parse_long(argv[++i], -MAX_PPM, MAX_PPM, ppm);
		else if (!strcmp(argv[i], "--count") && i + 1 < argc)
			rc = parse_long(argv[++i], 1, MAX_COUNT, count);
		if (rc)
			return rc;
	}
	return 0;
}

static int ctl_clock_update(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_host *h = ctx;
	long ppm, count;

	if (parse(argc, argv, &ppm, &count)) {
		fprintf(out, "usage: clock-update [--scale PPM] [--count N]\n");
		return -EINVAL;
	}
	uint64_t hz = vmb_host_part_tsc_hz(h->part);
	uint64_t new_hz = (uint64_t)((int64_t)hz + (int64_t)hz / 1000000 * ppm);
	for (long i = 0; i < count; i++) {
		int rc = vmb_host_part_clock_update(h->part, new_hz);
		if (rc) {
			fprintf(out, "clock update refused (%s)\n", strerror(-rc));
			return rc;
		}
	}
	fprintf(out, "tsc_hz %llu measured %llu ref_time %llu\n", (unsigned long long)new_hz,
		(unsigned long long)hz, (unsigned long long)vmb_host_part_ref_time(h->part));
	return 0;
}

void vmb_host_clock_ctl_init(struct vmb_host *h)
{
	vmb_host_ctl_register(h, "clock-update",
			      "[--scale PPM] [--count N]: rewrite the reference TSC page",
			      ctl_clock_update, h);
}
