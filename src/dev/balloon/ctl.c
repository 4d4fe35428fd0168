/* `vmbus ctl balloon`: show the dynamic memory state, inflate, deflate. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/balloon.h"

/* "N" pages, or "N" followed by M / G for MiB / GiB worth of 4 KiB pages. */
static int parse_pages(const char *s, uint32_t *pages)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);

	if (end == s)
		return -EINVAL;
	if (*end == 'M' || *end == 'm')
		v <<= 8, end++;
	else if (*end == 'G' || *end == 'g')
		v <<= 18, end++;
	if (*end || v == 0 || v > UINT32_MAX)
		return -EINVAL;
	*pages = (uint32_t)v;
	return 0;
}

static void show(struct vmb_balloon_vsp *b, FILE *out)
{
	struct vmb_balloon_state st;

	vmb_balloon_vsp_state(b, &st);
	fprintf(out, "state: %s\n", st.ready ? "ready" : "waiting for the guest");
	fprintf(out, "protocol: %u.%u\n", st.version >> 16, st.version & 0xffff);
	fprintf(out, "caps: balloon=%u hot_add=%u\n", (unsigned)(st.caps & VMB_DM_CAP_BALLOON),
		(unsigned)((st.caps & VMB_DM_CAP_HOT_ADD) >> 1));
	fprintf(out, "ram_pages: %llu\n", (unsigned long long)st.ram_pages);
	fprintf(out, "ballooned_pages: %llu\n", (unsigned long long)st.ballooned);
	fprintf(out, "ballooned_mib: %llu\n", (unsigned long long)(st.ballooned >> 8));
	fprintf(out, "guest_avail_pages: %llu\n", (unsigned long long)st.num_avail);
	fprintf(out, "guest_committed_pages: %llu\n", (unsigned long long)st.num_committed);
	fprintf(out, "status_reports: %llu\n", (unsigned long long)st.status_reports);
	fprintf(out, "failed_transactions: %llu\n", (unsigned long long)st.failed);
	fprintf(out, "host_resident_kib: %llu\n", (unsigned long long)(st.resident_bytes >> 10));
}

static int ctl_balloon(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_balloon_vsp *b = ctx;
	uint32_t pages;
	uint64_t done;
	int rc;

	if (argc < 2) {
		show(b, out);
		return 0;
	}
	if (argc != 3 || parse_pages(argv[2], &pages) < 0) {
		fprintf(out, "usage: balloon [inflate|deflate PAGES (or NM, NG)]\n");
		return -EINVAL;
	}
	if (!strcmp(argv[1], "inflate"))
		rc = vmb_balloon_inflate(b, pages, &done);
	else if (!strcmp(argv[1], "deflate"))
		rc = vmb_balloon_deflate(b, pages, &done);
	else {
		fprintf(out, "unknown balloon command '%s'\n", argv[1]);
		return -EINVAL;
	}
	fprintf(out, "%s: %llu of %u pages%s%s\n", argv[1], (unsigned long long)done, pages,
		rc ? ": " : "", rc ? strerror(-rc) : "");
	return rc;
}

int vmb_balloon_register_ctl(struct vmb_host *h, struct vmb_balloon_vsp *b)
{
	return vmb_host_ctl_register(
	    h, "balloon",
	    "balloon [inflate N | deflate N]: dynamic memory state; take N "
	    "pages (or NM / NG) from the guest, or give them back",
	    ctl_balloon, b);
}
