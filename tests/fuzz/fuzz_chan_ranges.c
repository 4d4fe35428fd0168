/*
 * Fuzz the GPA-range iterator: the input is the descriptor extension of a
 * GPA-direct packet ({u32 reserved, u32 range_count, records...}), held in
 * a malloc'd block of exactly its size. Every range the iterator yields is
 * compared with an independent decoding of the same bytes, must lie wholly
 * inside the extension, and is read in full; a malformed list must fail
 * with -EBADMSG at the same record as the reference.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/chan.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reference: record at byte `off`; 1 = valid (fills *next), -1 = malformed. */
static int ref_record(const uint8_t *ext, size_t len, size_t off, struct vmb_gpa_range *out,
		      size_t *next)
{
	uint32_t count, offset;
	uint64_t pages;

	if (len - off < 8)
		return -1;
	memcpy(&count, ext + off, 4);
	memcpy(&offset, ext + off + 4, 4);
	if (count == 0 || offset >= 4096)
		return -1;
	pages = ((uint64_t)offset + count + 4095) / 4096;
	if (pages > (len - off - 8) / 8)
		return -1;
	out->len = count;
	out->offset = offset;
	out->pfn_count = (uint32_t)pages;
	*next = off + 8 + (size_t)pages * 8;
	return 1;
}

static void check_range(const uint8_t *ext, size_t len, const struct vmb_gpa_range *got,
			const struct vmb_gpa_range *want, size_t off)
{
	const uint8_t *p = (const uint8_t *)got->pfns;
	uint64_t sum = 0, pfn;

	REQUIRE(got->len == want->len && got->offset == want->offset);
	REQUIRE(got->pfn_count == want->pfn_count);
	REQUIRE(p == ext + off + 8);
	REQUIRE(p + (size_t)got->pfn_count * 8 <= ext + len);
	for (uint32_t i = 0; i < got->pfn_count; i++) {
		memcpy(&pfn, p + (size_t)i * 8, sizeof(pfn));
		sum += pfn;
	}
	(void)sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmb_packet pkt = {.type = VM_PKT_DATA_USING_GPA_DIRECT};
	struct vmb_gpa_range got, want;
	struct vmb_range_iter it;
	uint32_t count = 0, seen = 0;
	size_t off = 8, next = 0;
	uint8_t *ext;
	int rc, ref;

	if (size > 0xffff * 8)
		return 0;
	ext = malloc(size ? size : 1);
	REQUIRE(ext);
	memcpy(ext, data, size);
	pkt.ext = ext;
	pkt.ext_len = (uint32_t)size;
	if (size >= 8)
		memcpy(&count, ext + 4, 4);
	rc = vmb_range_iter_init(&it, &pkt);
	if (size < 8 || count == 0) {
		REQUIRE(rc == -EBADMSG);
		free(ext);
		return 0;
	}
	REQUIRE(rc == 0);
	while ((rc = vmb_range_next(&it, &got)) == 1) {
		REQUIRE(seen < count);
		ref = ref_record(ext, size, off, &want, &next);
		REQUIRE(ref == 1);
		check_range(ext, size, &got, &want, off);
		off = next;
		seen++;
	}
	if (rc == 0) {
		REQUIRE(seen == count);
	} else {
		REQUIRE(rc == -EBADMSG && seen < count);
		REQUIRE(ref_record(ext, size, off, &want, &next) == -1);
		/* A failed iterator stays failed or finished, never yields more. */
		REQUIRE(vmb_range_next(&it, &got) <= 0);
	}
	/* The packet type gates the iterator. */
	pkt.type = VM_PKT_DATA_INBAND;
	REQUIRE(vmb_range_iter_init(&it, &pkt) == -EBADMSG);
	free(ext);
	return 0;
}
