/*
 * Fuzz the channel receive path over a hostile peer's ring. The input is
 *   u8  mode   bit0 double mapped, bit1 copy-out, bit2 poll with
 *              vmb_chan_recv() instead of a handler, bit3 max_packet 256
 *   u8  nreq   requests sent before the drain (low 3 bits), so that
 *              completions with ids 1<<32|1 .. 1<<32|7 find a requester
 *   u32 write_index (read_index starts at 0)
 *   ... the in ring's data area (length rounded down to 8, at most 64 KiB)
 * The data lives in a malloc'd block of exactly the ring size (twice, bytes
 * repeated, when double mapped), so ASan flags any read outside it. Every
 * packet handed out must lie inside its buffer; every request completes
 * exactly once (from the ring or -ECANCELED at destroy); a broken channel
 * has logged why.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/chan.h"
#include "vmbus/ring.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define HDR_BYTES 6u
#define MAX_RING  (64u * 1024)
#define OUT_SIZE  (16u * 1024)
#define NREQ	  8

struct req {
	unsigned done; /* times the callback ran */
	int status;
};

struct fz {
	struct vmbus_ring_header *hdr[2]; /* 0: out, 1: in */
	uint8_t *area[2];
	uint32_t in_size;
	uint8_t mode;
	struct vmb_channel *ch;
	unsigned logs, packets;
	struct req req[NREQ];
};

static void op_signal(void *ctx)
{
	(void)ctx;
}

static void op_log(void *ctx, const char *msg)
{
	struct fz *f = ctx;

	REQUIRE(msg[0] != '\0');
	f->logs++;
}

static const struct vmb_chan_ops fz_ops = {.signal = op_signal, .log = op_log};

static uint8_t touch(const void *p, uint32_t len)
{
	const uint8_t *b = p;
	uint8_t x = 0;

	for (uint32_t i = 0; i < len; i++)
		x = (uint8_t)(x ^ b[i]);
	return x;
}

static void check_packet(struct fz *f, const struct vmb_packet *pkt)
{
	struct vmb_range_iter it;
	struct vmb_gpa_range r;

	REQUIRE((const uint8_t *)pkt->ext + pkt->ext_len == (const uint8_t *)pkt->data);
	(void)touch(pkt->ext, pkt->ext_len);
	(void)touch(pkt->data, pkt->len);
	/* A GPA-direct packet reached us only if its ranges fit. */
	if (pkt->type == VM_PKT_DATA_USING_GPA_DIRECT) {
		REQUIRE(vmb_range_iter_init(&it, pkt) == 0);
		while (vmb_range_next(&it, &r) == 1)
			(void)touch(r.pfns, r.pfn_count * 8u);
		REQUIRE(it.count == 0);
	}
	f->packets++;
}

static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	(void)ch;
	REQUIRE(pkt->type != VM_PKT_COMP);
	check_packet(arg, pkt);
}

static void on_done(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp, int status)
{
	struct req *q = arg;

	(void)ch;
	q->done++;
	q->status = status;
	if (status == 0) {
		REQUIRE(comp != NULL && comp->type == VM_PKT_COMP);
		(void)touch(comp->data, comp->len);
	} else {
		REQUIRE(comp == NULL);
	}
}

static uint8_t *ring_area(uint32_t size, bool dbl, const uint8_t *bytes)
{
	uint8_t *a = malloc((dbl ? 2u : 1u) * (size_t)size);

	REQUIRE(a);
	if (bytes) {
		memcpy(a, bytes, size);
		if (dbl)
			memcpy(a + size, bytes, size);
	} else {
		memset(a, 0, (dbl ? 2u : 1u) * (size_t)size);
	}
	return a;
}

static bool setup(struct fz *f, const uint8_t *data, size_t size)
{
	bool dbl = data[0] & 1u;
	struct vmb_chan_config cfg = {
	    .ring_flags = dbl ? VMB_RING_DOUBLE_MAPPED : 0,
	    .copy_out = data[0] & 2u,
	    .max_packet = (data[0] & 8u) ? 256 : 0,
	    .max_requests = NREQ,
	    .relid = 1,
	    .ops = &fz_ops,
	    .ops_ctx = f,
	};
	size_t body = size - HDR_BYTES;
	uint32_t wi;

	f->mode = data[0];
	f->in_size = (uint32_t)(body > MAX_RING ? MAX_RING : body) & ~7u;
	for (int i = 0; i < 2; i++) {
		f->hdr[i] = aligned_alloc(4096, sizeof(*f->hdr[i]));
		REQUIRE(f->hdr[i]);
		vmb_ring_header_reset(f->hdr[i]);
	}
	f->area[0] = ring_area(OUT_SIZE, dbl, NULL);
	f->area[1] = ring_area(f->in_size, dbl, data + HDR_BYTES);
	memcpy(&wi, data + 2, sizeof(wi));
	f->hdr[1]->write_index = wi;
	cfg.out_hdr = f->hdr[0];
	cfg.out_data = f->area[0];
	cfg.out_size = OUT_SIZE;
	cfg.in_hdr = f->hdr[1];
	cfg.in_data = f->area[1];
	cfg.in_size = f->in_size;
	return vmb_chan_create(&cfg, &f->ch) == 0;
}

static void send_requests(struct fz *f, unsigned n)
{
	uint64_t payload = 0x5555;

	for (unsigned i = 0; i < n; i++)
		REQUIRE(vmb_chan_request(f->ch, &payload, sizeof(payload), on_done, &f->req[i]) ==
			0);
}

static void poll_all(struct fz *f)
{
	struct vmb_packet pkt;
	unsigned n = 0;
	int rc;

	while ((rc = vmb_chan_recv(f->ch, &pkt)) == 0) {
		REQUIRE(pkt.type != VM_PKT_COMP);
		check_packet(f, &pkt);
		REQUIRE(++n <= f->in_size / 24);
	}
	REQUIRE(rc == -EAGAIN || rc == -EPROTO || rc == -ENOMEM);
}

static void run(struct fz *f, unsigned nreq)
{
	send_requests(f, nreq);
	if (f->mode & 4u) {
		poll_all(f);
	} else {
		vmb_chan_set_handler(f->ch, on_packet, f);
		vmb_chan_interrupt(f->ch);
		/* A second interrupt with nothing new must change nothing. */
		vmb_chan_interrupt(f->ch);
	}
	REQUIRE(f->packets <= f->in_size / 24);
	if (vmb_chan_error(f->ch)) {
		REQUIRE(f->logs >= 1);
		REQUIRE(vmb_chan_send(f->ch, "x", 1, 0, VMB_SEND_NOWAIT) < 0);
	}
	vmb_chan_destroy(f->ch);
	for (unsigned i = 0; i < NREQ; i++) {
		REQUIRE(f->req[i].done == (i < nreq ? 1u : 0u));
		REQUIRE(f->req[i].status == 0 || f->req[i].status == -ECANCELED ||
			f->req[i].status == -EPROTO);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz f = {0};

	if (size < HDR_BYTES + 48)
		return 0;
	if (setup(&f, data, size))
		run(&f, data[1] & 7u);
	for (int i = 0; i < 2; i++) {
		free(f.area[i]);
		free(f.hdr[i]);
	}
	return 0;
}
