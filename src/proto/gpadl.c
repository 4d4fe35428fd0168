/*
 * GPADL messages (PROTOCOL.md 1.8): a GPADL_HEADER carries the start of the
 * range buffer, GPADL_BODY messages carry the rest as u64 words.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmbus/msg.h"

#define HV_PAGE_SIZE 4096u
#define HDR_SIZE     sizeof(struct vmbus_channel_gpadl_header)
#define BODY_SIZE    sizeof(struct vmbus_channel_gpadl_body)
#define RANGE_SIZE   sizeof(struct vmbus_gpa_range)
#define WORD	     sizeof(uint64_t)

static int reject(char *why, size_t whylen, const char *reason)
{
	if (why != NULL && whylen > 0)
		snprintf(why, whylen, "GPADL_HEADER: %s", reason);
	return -EBADMSG;
}

unsigned vmb_gpadl_msg_count(size_t npfns)
{
	size_t rest;

	if (npfns == 0 || npfns > VMB_GPADL_MAX_PFNS)
		return 0;
	if (npfns <= VMBUS_GPADL_HEADER_MAX_PFNS)
		return 1;
	rest = npfns - VMBUS_GPADL_HEADER_MAX_PFNS;
	return 1 + (unsigned)((rest + VMBUS_GPADL_BODY_MAX_PFNS - 1) / VMBUS_GPADL_BODY_MAX_PFNS);
}

static size_t build_header(uint8_t *buf, uint32_t relid, uint32_t handle, const uint64_t *pfns,
			   size_t npfns)
{
	struct vmbus_channel_gpadl_header h = {.header.msgtype = CHANNELMSG_GPADL_HEADER};
	struct vmbus_gpa_range range = {.byte_offset = 0};
	size_t n = npfns < VMBUS_GPADL_HEADER_MAX_PFNS ? npfns : VMBUS_GPADL_HEADER_MAX_PFNS;

	h.child_relid = relid;
	h.gpadl = handle;
	h.range_buflen = (uint16_t)(RANGE_SIZE + WORD * npfns);
	h.rangecount = 1;
	range.byte_count = (uint32_t)(npfns * HV_PAGE_SIZE);
	memcpy(buf, &h, HDR_SIZE);
	memcpy(buf + HDR_SIZE, &range, RANGE_SIZE);
	memcpy(buf + HDR_SIZE + RANGE_SIZE, pfns, n * WORD);
	return HDR_SIZE + RANGE_SIZE + n * WORD;
}

size_t vmb_gpadl_build(void *buf, unsigned i, uint32_t relid, uint32_t handle, const uint64_t *pfns,
		       size_t npfns)
{
	struct vmbus_channel_gpadl_body b = {.header.msgtype = CHANNELMSG_GPADL_BODY};
	size_t first, n;

	if (i >= vmb_gpadl_msg_count(npfns))
		return 0;
	if (i == 0)
		return build_header(buf, relid, handle, pfns, npfns);
	first = VMBUS_GPADL_HEADER_MAX_PFNS + (i - 1) * VMBUS_GPADL_BODY_MAX_PFNS;
	n = npfns - first;
	if (n > VMBUS_GPADL_BODY_MAX_PFNS)
		n = VMBUS_GPADL_BODY_MAX_PFNS;
	b.msgnumber = i;
	b.gpadl = handle;
	memcpy(buf, &b, BODY_SIZE);
	memcpy((uint8_t *)buf + BODY_SIZE, pfns + first, n * WORD);
	return BODY_SIZE + n * WORD;
}

/* Walk state over the range records present in one GPADL_HEADER. */
struct range_walk {
	const uint8_t *m;
	size_t len;
	uint64_t *pfns; /* copy destination, may be NULL */
	size_t cap;
	size_t off;	     /* next byte to read */
	uint32_t need_words; /* range records + PFNs seen so far */
	uint32_t carried;
};

static int walk_one_range(struct range_walk *w, uint32_t total_words, char *why, size_t whylen)
{
	struct vmbus_gpa_range r;
	uint64_t npfn;
	size_t present;

	memcpy(&r, w->m + w->off, RANGE_SIZE);
	w->off += RANGE_SIZE;
	if (r.byte_count == 0)
		return reject(why, whylen, "range with byte_count 0");
	if (r.byte_offset >= HV_PAGE_SIZE)
		return reject(why, whylen, "range byte_offset >= 4096");
	npfn = ((uint64_t)r.byte_offset + r.byte_count + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;
	if (npfn + 1 > total_words - w->need_words)
		return reject(why, whylen, "ranges exceed range_buflen");
	w->need_words += (uint32_t)npfn + 1;
	present = (w->len - w->off) / WORD;
	if (present > npfn)
		present = (size_t)npfn;
	for (size_t i = 0; i < present; i++, w->carried++) {
		if (w->carried < w->cap)
			memcpy(&w->pfns[w->carried], w->m + w->off + i * WORD, WORD);
	}
	w->off += present * WORD;
	return 0;
}

static int walk_ranges(struct range_walk *w, struct vmb_gpadl_hdr_info *info, char *why,
		       size_t whylen)
{
	uint32_t total_words = info->total_pfns + info->rangecount;
	unsigned seen = 0;
	int ret;

	for (; seen < info->rangecount && w->off + RANGE_SIZE <= w->len; seen++) {
		if (seen == 0) {
			memcpy(&info->byte_count, w->m + w->off, 4);
			memcpy(&info->byte_offset, w->m + w->off + 4, 4);
		}
		ret = walk_one_range(w, total_words, why, whylen);
		if (ret < 0)
			return ret;
	}
	if (seen == info->rangecount && w->need_words != total_words)
		return reject(why, whylen, "range_buflen does not match the ranges");
	/* Records still to come in BODY messages need 2 words each at least. */
	if ((uint64_t)w->need_words + 2u * (info->rangecount - seen) > total_words)
		return reject(why, whylen, "range_buflen too small for rangecount");
	info->carried = w->carried;
	return 0;
}

static int check_header(const void *msg, size_t len, struct vmb_gpadl_hdr_info *out, uint64_t *pfns,
			size_t cap, char *why, size_t whylen)
{
	struct vmbus_channel_gpadl_header h;
	struct vmb_gpadl_hdr_info info = {0};
	struct range_walk w = {.m = msg, .len = len, .pfns = pfns, .cap = cap, .off = HDR_SIZE};
	int ret;

	if (len < HDR_SIZE + RANGE_SIZE || len > VMBUS_MAX_MESSAGE_SIZE)
		return reject(why, whylen, "bad length");
	memcpy(&h, msg, HDR_SIZE);
	if (h.rangecount == 0)
		return reject(why, whylen, "rangecount 0");
	if (h.range_buflen % WORD != 0)
		return reject(why, whylen, "range_buflen not a multiple of 8");
	if (h.range_buflen / WORD < 2u * h.rangecount)
		return reject(why, whylen, "range_buflen too small for rangecount");
	if ((len - HDR_SIZE) % WORD != 0)
		return reject(why, whylen, "partial PFN");
	if (len - HDR_SIZE > h.range_buflen)
		return reject(why, whylen, "carries more than range_buflen");
	info.relid = h.child_relid;
	info.handle = h.gpadl;
	info.rangecount = h.rangecount;
	info.total_pfns = h.range_buflen / WORD - h.rangecount;
	ret = walk_ranges(&w, &info, why, whylen);
	if (ret == 0 && out != NULL)
		*out = info;
	return ret;
}

int vmb_gpadl_check_header(const void *msg, size_t len, struct vmb_gpadl_hdr_info *out, char *why,
			   size_t whylen)
{
	return check_header(msg, len, out, NULL, 0, why, whylen);
}

int vmb_gpadl_parse_header(const void *msg, size_t len, struct vmb_gpadl_hdr_info *out,
			   uint64_t *pfns, size_t cap)
{
	struct vmb_gpadl_hdr_info info;
	int ret;

	ret = check_header(msg, len, &info, pfns, pfns != NULL ? cap : 0, NULL, 0);
	if (ret == 0 && out != NULL)
		*out = info;
	return ret;
}

int vmb_gpadl_parse_body(const void *msg, size_t len, uint32_t *handle, uint64_t *pfns, size_t cap,
			 uint32_t *count)
{
	struct vmbus_channel_gpadl_body b;
	size_t n;

	if (len < BODY_SIZE + WORD || len > VMBUS_MAX_MESSAGE_SIZE || (len - BODY_SIZE) % WORD != 0)
		return -EBADMSG;
	memcpy(&b, msg, BODY_SIZE);
	n = (len - BODY_SIZE) / WORD;
	if (handle != NULL)
		*handle = b.gpadl;
	if (count != NULL)
		*count = (uint32_t)n;
	if (pfns != NULL)
		memcpy(pfns, (const uint8_t *)msg + BODY_SIZE, (n < cap ? n : cap) * WORD);
	return 0;
}
