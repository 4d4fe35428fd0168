/*
 * GPA-range records of GPA-direct packets (PROTOCOL.md 3.7): after the
 * descriptor come {u32 reserved, u32 range_count}, then range_count records
 * {u32 byte_count, u32 byte_offset, u64 pfn[k]}, k = ceil((offset+count)/4096).
 * Records are read with memcpy and checked one by one against the bytes
 * left in the extension, so an iterator over shared memory stays in bounds.
 */
#include <errno.h>
#include <string.h>

#include "chan/chan_impl.h"

#define GPA_PAGE   4096u
#define RANGES_OFF 8u /* reserved + range_count, relative to the extension */

int vmb_range_iter_init(struct vmb_range_iter *it, const struct vmb_packet *pkt)
{
	uint32_t count;

	if (pkt->type != VM_PKT_DATA_USING_GPA_DIRECT || pkt->ext_len < RANGES_OFF)
		return -EBADMSG;
	memcpy(&count, (const uint8_t *)pkt->ext + 4, sizeof(count));
	if (count == 0)
		return -EBADMSG;
	it->p = (const uint8_t *)pkt->ext + RANGES_OFF;
	it->left = pkt->ext_len - RANGES_OFF;
	it->count = count;
	return 0;
}

int vmb_range_next(struct vmb_range_iter *it, struct vmb_gpa_range *out)
{
	struct vmbus_gpa_range_hdr h;
	uint64_t pfns, bytes;

	if (it->count == 0)
		return 0;
	if (it->left < sizeof(h))
		return -EBADMSG;
	memcpy(&h, it->p, sizeof(h));
	if (h.byte_count == 0 || h.byte_offset >= GPA_PAGE)
		return -EBADMSG;
	pfns = ((uint64_t)h.byte_offset + h.byte_count + GPA_PAGE - 1) / GPA_PAGE;
	bytes = sizeof(h) + pfns * sizeof(uint64_t);
	if (bytes > it->left)
		return -EBADMSG;
	out->len = h.byte_count;
	out->offset = h.byte_offset;
	out->pfn_count = (uint32_t)pfns;
	/* Packets start 8-aligned and records are multiples of 8 bytes. */
	out->pfns = (const uint64_t *)(const void *)(it->p + sizeof(h));
	it->p += bytes;
	it->left -= (uint32_t)bytes;
	it->count--;
	return 1;
}
