/* Dynamic memory messages: parsing and ballooned-page bookkeeping. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/balloon.h"

int vmb_dm_parse_hdr(const void *buf, size_t len, struct vmb_dm_hdr *hdr)
{
	if (len < sizeof(*hdr))
		return -EBADMSG;
	memcpy(hdr, buf, sizeof(*hdr));
	/* Inband payloads are padded to 8 bytes; size says where the message ends. */
	if (hdr->size < sizeof(*hdr) || hdr->size > len || len - hdr->size >= 8)
		return -EBADMSG;
	return 0;
}

int vmb_dm_parse_fixed(const void *buf, size_t len, uint16_t type, size_t min, void *out)
{
	struct vmb_dm_hdr hdr;

	if (vmb_dm_parse_hdr(buf, len, &hdr) < 0 || hdr.type != type || hdr.size < min)
		return -EBADMSG;
	memcpy(out, buf, min);
	return 0;
}

int vmb_dm_parse_ranges(const void *buf, size_t len, uint16_t type, struct vmb_dm_piece *out)
{
	struct vmb_dm_ranges_hdr rh;
	uint32_t count;

	if (type != VMB_DM_BALLOON_RESPONSE && type != VMB_DM_UNBALLOON_REQUEST)
		return -EINVAL;
	if (vmb_dm_parse_fixed(buf, len, type, sizeof(rh), &rh) < 0)
		return -EBADMSG;
	if (type == VMB_DM_BALLOON_RESPONSE) {
		out->more = rh.word1 & 1;
		count = rh.word1 >> 1;
	} else {
		out->more = rh.word0 & 1;
		count = rh.word1;
	}
	if (count > VMB_DM_MAX_RANGES || rh.hdr.size != sizeof(rh) + (size_t)count * 8)
		return -EBADMSG;
	memcpy(out->ranges, (const uint8_t *)buf + sizeof(rh), (size_t)count * 8);
	for (uint32_t i = 0; i < count; i++)
		if (vmb_dm_range_count(out->ranges[i]) == 0)
			return -EBADMSG;
	out->count = count;
	return 0;
}

int vmb_dm_pages_init(struct vmb_dm_pages *p, uint64_t ram_pages)
{
	p->bits = calloc((size_t)((ram_pages + 63) / 64) + 1, sizeof(uint64_t));
	if (!p->bits)
		return -ENOMEM;
	p->pages = ram_pages;
	p->count = 0;
	return 0;
}

void vmb_dm_pages_fini(struct vmb_dm_pages *p)
{
	free(p->bits);
	p->bits = NULL;
	p->count = 0;
}

static bool page_set(const struct vmb_dm_pages *p, uint64_t i)
{
	return (p->bits[i / 64] >> (i % 64)) & 1;
}

static void page_flip(struct vmb_dm_pages *p, uint64_t i)
{
	p->bits[i / 64] ^= 1ull << (i % 64);
}

/* Flip every page of ranges[0..n); the caller has checked them. */
static void flip_ranges(struct vmb_dm_pages *p, const uint64_t *ranges, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		uint64_t pfn = vmb_dm_range_pfn(ranges[i]);

		for (uint32_t k = 0; k < vmb_dm_range_count(ranges[i]); k++)
			page_flip(p, pfn + k);
	}
}

/* Are all pages of r inside RAM and in state `want`? */
static bool range_is(const struct vmb_dm_pages *p, uint64_t r, bool want)
{
	uint64_t pfn = vmb_dm_range_pfn(r), n = vmb_dm_range_count(r);

	if (n == 0 || pfn >= p->pages || n > p->pages - pfn)
		return false;
	for (uint64_t k = 0; k < n; k++)
		if (page_set(p, pfn + k) != want)
			return false;
	return true;
}

/*
 * Apply ranges one by one, checking each against the state the earlier
 * ones left, so ranges overlapping each other fail too; undo on failure.
 */
static int apply_ranges(struct vmb_dm_pages *p, const uint64_t *ranges, uint32_t n, bool want)
{
	for (uint32_t i = 0; i < n; i++) {
		if (!range_is(p, ranges[i], want)) {
			flip_ranges(p, ranges, i);
			return -EINVAL;
		}
		flip_ranges(p, ranges + i, 1);
	}
	return 0;
}

static uint64_t range_total(const uint64_t *ranges, uint32_t n)
{
	uint64_t total = 0;

	for (uint32_t i = 0; i < n; i++)
		total += vmb_dm_range_count(ranges[i]);
	return total;
}

int vmb_dm_pages_claim(struct vmb_dm_pages *p, const uint64_t *ranges, uint32_t n, uint64_t limit)
{
	uint64_t total = range_total(ranges, n);

	if (total > limit || apply_ranges(p, ranges, n, false) < 0)
		return -EINVAL;
	p->count += total;
	return 0;
}

int vmb_dm_pages_release(struct vmb_dm_pages *p, const uint64_t *ranges, uint32_t n)
{
	if (apply_ranges(p, ranges, n, true) < 0)
		return -EINVAL;
	p->count -= range_total(ranges, n);
	return 0;
}

uint32_t vmb_dm_pages_collect(const struct vmb_dm_pages *p, uint64_t *cursor, uint64_t max_pages,
			      uint64_t *ranges, uint32_t max_ranges)
{
	uint64_t i = *cursor, taken = 0;
	uint32_t n = 0;

	while (i < p->pages && taken < max_pages && n < max_ranges) {
		if (!page_set(p, i)) {
			i++;
			continue;
		}
		uint64_t start = i;
		while (i < p->pages && page_set(p, i) && taken < max_pages &&
		       i - start < VMB_DM_RANGE_MAX_PAGES) {
			i++;
			taken++;
		}
		ranges[n++] = vmb_dm_range(start, (uint32_t)(i - start));
	}
	*cursor = i;
	return n;
}
