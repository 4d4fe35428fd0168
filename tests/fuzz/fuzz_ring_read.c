/*
 * Fuzz the ring consumer over a hostile producer. The input is
 *   u8  mode      bit0 double mapped, bit1 copy-out, bit2 mask while draining
 *   u8  cap8      copy-out buffer = cap8 * 8 bytes (0 = the whole ring)
 *   u32 read_index, write_index, write_index2, pending_send_sz
 *   ... the data area (its length rounded down to 8 is the ring size)
 * The ring is drained, write_index is moved to write_index2 (the producer
 * went on) and drained again. The data area is a malloc'd block of exactly
 * the ring size (twice that, with the bytes repeated, for double mapping:
 * the consumer never writes data, so a copy aliases like a mapping), so
 * ASan flags any read outside it.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/ring.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_BYTES 18u
#define MAX_RING  (64u * 1024)

struct fz {
	struct vmb_ring r;
	struct vmbus_ring_header *hdr;
	uint8_t *area;
	uint32_t size;
	bool dbl, copy, mask;
	uint8_t *buf;
	size_t cap;
};

static uint32_t get32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static void check_desc(const struct fz *f, const struct vmb_ring_pkt *pkt)
{
	REQUIRE(pkt->desc.offset8 >= 2 && pkt->desc.len8 >= pkt->desc.offset8);
	REQUIRE(pkt->len == (uint32_t)pkt->desc.len8 * 8u);
	REQUIRE(pkt->len + VMBUS_PKT_TRAILER_SIZE <= f->size);
}

/* One packet in place; the whole packet must lie inside the mapping. */
static int peek_one(struct fz *f)
{
	struct vmb_ring_pkt pkt;
	uint8_t sum = 0;
	int ret = vmb_ring_peek(&f->r, &pkt);

	if (ret == -ERANGE) {
		REQUIRE(!f->dbl);
		return f->cap ? vmb_ring_read(&f->r, f->buf, f->cap, &pkt) : ret;
	}
	if (ret)
		return ret;
	check_desc(f, &pkt);
	REQUIRE(pkt.data >= f->area);
	REQUIRE(pkt.data + pkt.len <= f->area + (f->dbl ? 2u : 1u) * f->size);
	for (uint32_t i = 0; i < pkt.len; i++)
		sum = (uint8_t)(sum ^ pkt.data[i]);
	(void)sum;
	vmb_ring_consume(&f->r, &pkt);
	return 0;
}

static int read_one(struct fz *f)
{
	struct vmb_ring_pkt pkt;
	int ret = vmb_ring_read(&f->r, f->buf, f->cap, &pkt);

	if (ret == -EMSGSIZE) {
		REQUIRE(pkt.len > f->cap);
		return ret;
	}
	if (ret)
		return ret;
	check_desc(f, &pkt);
	REQUIRE(pkt.data == f->buf && pkt.len <= f->cap);
	REQUIRE(memcmp(&pkt.desc, f->buf, sizeof(pkt.desc)) == 0);
	return 0;
}

/* Drain until the ring is empty or broken; the error must then stick. */
static void drain(struct fz *f)
{
	unsigned n = 0;
	int ret;

	if (f->mask)
		vmb_ring_mask(&f->r);
	do {
		ret = f->copy ? read_one(f) : peek_one(f);
		REQUIRE(ret == 0 || ret == -EAGAIN || ret == -EPROTO || ret == -EMSGSIZE ||
			ret == -ERANGE);
		/* Every packet takes at least 24 bytes of the ring. */
		REQUIRE(++n <= f->size / 24 + 1);
	} while (ret == 0);
	ret = vmb_ring_release(&f->r);
	REQUIRE(ret == 0 || ret == 1 || ret == -EPROTO);
	if (f->r.error) {
		REQUIRE(f->r.why != NULL);
		REQUIRE(vmb_ring_release(&f->r) == -EPROTO);
		REQUIRE(vmb_ring_read(&f->r, f->buf, f->cap, &(struct vmb_ring_pkt){0}) == -EPROTO);
		return;
	}
	REQUIRE(f->hdr->read_index < f->size && (f->hdr->read_index & 7u) == 0);
	if (f->mask)
		(void)vmb_ring_unmask(&f->r);
}

static bool setup(struct fz *f, const uint8_t *data, size_t size)
{
	size_t body = size - HDR_BYTES;

	f->dbl = data[0] & 1u;
	f->copy = data[0] & 2u;
	f->mask = data[0] & 4u;
	f->size = (uint32_t)(body > MAX_RING ? MAX_RING : body) & ~7u;
	f->hdr = aligned_alloc(4096, sizeof(*f->hdr));
	f->area = malloc((f->dbl ? 2u : 1u) * (size_t)f->size);
	REQUIRE(f->hdr && f->area);
	vmb_ring_header_reset(f->hdr);
	f->hdr->read_index = get32(data + 2);
	f->hdr->write_index = get32(data + 6);
	f->hdr->pending_send_sz = get32(data + 14);
	memcpy(f->area, data + HDR_BYTES, f->size);
	if (f->dbl)
		memcpy(f->area + f->size, data + HDR_BYTES, f->size);
	f->cap = data[1] ? (size_t)data[1] * 8u : f->size;
	f->buf = malloc(f->cap);
	REQUIRE(f->buf);
	return vmb_ring_init(&f->r, f->hdr, f->area, f->size,
			     f->dbl ? VMB_RING_DOUBLE_MAPPED : 0) == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {0};

	if (size < HDR_BYTES + 48)
		return 0;
	if (setup(&f, data, size)) {
		drain(&f);
		f.hdr->write_index = get32(data + 10);
		drain(&f);
	} else {
		REQUIRE(f.r.error == -EPROTO);
	}
	free(f.buf);
	free(f.area);
	free(f.hdr);
	return 0;
}
