/*
 * Ring layer: packet framing, wrap-around, space rules, corruption
 * handling and the Hyper-V signalling contract, over plain memory with
 * guard pages and over a real double mapping.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/ring.h"

#define PAGE   4096u
#define CANARY 0xa5

struct tring {
	struct vmb_ring r;
	struct vmbus_ring_header *hdr;
	uint8_t *data;
	uint32_t size;
	uint8_t *base;
	size_t maplen;
	size_t slack; /* canary bytes in front of a plain data area */
	int fd;
};

static size_t page_round(size_t n)
{
	return (n + PAGE - 1) & ~(size_t)(PAGE - 1);
}

/* Data area ends right at a PROT_NONE page, so any overrun faults. */
static void map_plain(struct tring *t)
{
	size_t body = page_round(t->size);

	t->maplen = body + 2 * PAGE;
	t->base = mmap(NULL, t->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t->base != MAP_FAILED);
	assert_int_equal(mprotect(t->base + PAGE, body, PROT_READ | PROT_WRITE), 0);
	t->slack = body - t->size;
	t->data = t->base + PAGE + t->slack;
	memset(t->base + PAGE, CANARY, t->slack);
}

/* Reserve 2*size (+ guards), then map the same memfd twice back to back. */
static void map_double(struct tring *t)
{
	uint8_t *lo;

	t->fd = memfd_create("ring", 0);
	if (t->fd < 0)
		skip();
	assert_int_equal(ftruncate(t->fd, t->size), 0);
	t->maplen = 2 * (size_t)t->size + 2 * PAGE;
	t->base = mmap(NULL, t->maplen, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(t->base != MAP_FAILED);
	lo = t->base + PAGE;
	assert_true(mmap(lo, t->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, t->fd, 0) ==
		    lo);
	assert_true(mmap(lo + t->size, t->size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
			 t->fd, 0) == lo + t->size);
	t->data = lo;
}

/* Open a ring whose indices both start at `start` (to place wrap points). */
static void tring_open(struct tring *t, uint32_t size, bool dm, uint32_t start)
{
	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->size = size;
	t->hdr = aligned_alloc(PAGE, sizeof(*t->hdr));
	assert_non_null(t->hdr);
	vmb_ring_header_reset(t->hdr);
	t->hdr->write_index = start;
	t->hdr->read_index = start;
	if (dm)
		map_double(t);
	else
		map_plain(t);
	memset(t->data, 0xee, size);
	assert_int_equal(
	    vmb_ring_init(&t->r, t->hdr, t->data, size, dm ? VMB_RING_DOUBLE_MAPPED : 0), 0);
}

static void tring_close(struct tring *t)
{
	for (size_t i = 0; i < t->slack; i++)
		assert_int_equal(t->base[PAGE + i], CANARY);
	munmap(t->base, t->maplen);
	if (t->fd >= 0)
		close(t->fd);
	free(t->hdr);
}

/* A second view of the same ring, as the other end would have it. */
static void peer_view(const struct tring *t, struct vmb_ring *peer)
{
	assert_int_equal(vmb_ring_init(peer, t->hdr, t->data, t->size, t->r.flags), 0);
}

static void fill(uint8_t *p, uint32_t n, uint8_t seed)
{
	for (uint32_t i = 0; i < n; i++)
		p[i] = (uint8_t)(seed + i * 7u);
}

/* In-band packet with a payload of plen bytes derived from seed. */
static int send_pkt(struct vmb_ring *r, uint32_t plen, uint8_t seed)
{
	struct vmpacket_descriptor d = {
	    .type = VM_PKT_DATA_INBAND,
	    .offset8 = 2,
	    .len8 = (uint16_t)((sizeof(d) + plen + 7) / 8),
	    .trans_id = seed,
	};
	uint8_t payload[2048];
	struct iovec iov[2] = {{&d, sizeof(d)}, {payload, plen}};

	assert_true(plen <= sizeof(payload));
	fill(payload, plen, seed);
	return vmb_ring_write(r, iov, 2);
}

/* Read with copy-out and check the payload written by send_pkt. */
static void expect_pkt(struct vmb_ring *r, uint32_t plen, uint8_t seed)
{
	uint8_t buf[4096], want[2048];
	struct vmb_ring_pkt pkt;

	assert_int_equal(vmb_ring_read(r, buf, sizeof(buf), &pkt), 0);
	assert_int_equal(pkt.desc.type, VM_PKT_DATA_INBAND);
	assert_int_equal(pkt.desc.trans_id, seed);
	assert_int_equal(pkt.len, (16 + plen + 7) & ~7u);
	assert_ptr_equal(pkt.data, buf);
	fill(want, plen, seed);
	assert_memory_equal(buf + 16, want, plen);
	for (uint32_t i = 16 + plen; i < pkt.len; i++)
		assert_int_equal(buf[i], 0);
}

/* Trailer of the packet that started at `start` and is len bytes long. */
static uint64_t trailer_at(const struct tring *t, uint32_t start, uint32_t len)
{
	uint32_t off = (start + len) % t->size;
	uint64_t v;

	memcpy(&v, t->data + off, sizeof(v));
	return v;
}

static void test_init_rejects(void **state)
{
	struct vmbus_ring_header *hdr = aligned_alloc(PAGE, sizeof(*hdr));
	uint8_t data[256];
	struct vmb_ring r;

	(void)state;
	vmb_ring_header_reset(hdr);
	assert_int_equal(hdr->feature_bits, VMBUS_RING_FEAT_PENDING_SEND_SZ);
	assert_int_equal(vmb_ring_init(&r, hdr, data, 0, 0), -EINVAL);
	assert_int_equal(vmb_ring_init(&r, hdr, data, 252, 0), -EINVAL);
	assert_int_equal(vmb_ring_init(&r, hdr, data, 256, 0x80), -EINVAL);
	hdr->write_index = 256;
	assert_int_equal(vmb_ring_init(&r, hdr, data, 256, 0), -EPROTO);
	assert_int_equal(r.error, -EPROTO);
	assert_non_null(r.why);
	hdr->write_index = 0;
	hdr->read_index = 12;
	assert_int_equal(vmb_ring_init(&r, hdr, data, 256, 0), -EPROTO);
	hdr->read_index = 248;
	hdr->write_index = 16;
	assert_int_equal(vmb_ring_init(&r, hdr, data, 256, 0), 0);
	assert_int_equal(vmb_ring_avail_read(&r), 24);
	free(hdr);
}

static void roundtrip(bool dm)
{
	struct tring t;

	tring_open(&t, dm ? PAGE : 512, dm, 0);
	assert_true(vmb_ring_empty(&t.r));
	assert_int_equal(send_pkt(&t.r, 13, 1), 0);
	/* Written but not committed: invisible to the consumer. */
	assert_int_equal(t.hdr->write_index, 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(t.hdr->write_index, 40);
	assert_int_equal(trailer_at(&t, 0, 32), 0);
	assert_int_equal(send_pkt(&t.r, 0, 2), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 0);
	/* high u32 = where the packet started, low u32 = 0 */
	assert_int_equal(trailer_at(&t, 40, 16), (uint64_t)40 << 32);
	assert_int_equal(vmb_ring_avail_read(&t.r), 64);
	expect_pkt(&t.r, 13, 1);
	expect_pkt(&t.r, 0, 2);
	assert_int_equal(vmb_ring_read(&t.r, NULL, 0, &(struct vmb_ring_pkt){0}), -EAGAIN);
	assert_int_equal(t.hdr->read_index, 0);
	assert_int_equal(vmb_ring_release(&t.r), 0);
	assert_int_equal(t.hdr->read_index, 64);
	assert_int_equal(t.r.stats.packets, 4);
	assert_int_equal(t.r.stats.bytes, 128);
	tring_close(&t);
}

static void test_roundtrip_plain(void **state)
{
	(void)state;
	roundtrip(false);
}

static void test_roundtrip_double(void **state)
{
	(void)state;
	roundtrip(true);
}

/*
 * Start the packet at `start` so that the end of the data area falls at a
 * chosen place; check the bytes, the trailer and both read modes.
 */
static void wrap_case(bool dm, uint32_t size, uint32_t start, uint32_t plen)
{
	uint32_t len = (16 + plen + 7) & ~7u;
	struct vmb_ring_pkt pkt;
	uint8_t want[2048];
	struct tring t;
	int rc;

	tring_open(&t, size, dm, start);
	assert_int_equal(send_pkt(&t.r, plen, 9), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(t.hdr->write_index, (start + len + 8) % size);
	assert_int_equal(trailer_at(&t, start, len), (uint64_t)start << 32);
	rc = vmb_ring_peek(&t.r, &pkt);
	if (!dm && start + len > size) {
		assert_int_equal(rc, -ERANGE);
		expect_pkt(&t.r, plen, 9);
	} else {
		assert_int_equal(rc, 0);
		assert_int_equal(pkt.len, len);
		assert_ptr_equal(pkt.data, t.data + start);
		fill(want, plen, 9);
		assert_memory_equal(pkt.data + 16, want, plen);
		vmb_ring_consume(&t.r, &pkt);
	}
	assert_true(vmb_ring_empty(&t.r));
	assert_int_equal(vmb_ring_release(&t.r), 0);
	assert_int_equal(t.hdr->read_index, t.hdr->write_index);
	tring_close(&t);
}

static void wrap_all(bool dm)
{
	uint32_t s = dm ? PAGE : 1024;

	wrap_case(dm, s, s - 8, 40);   /* split inside the descriptor */
	wrap_case(dm, s, s - 32, 100); /* split inside the payload */
	wrap_case(dm, s, s - 16, 5);   /* split after the descriptor */
	/* trailers and padding are 8-aligned, so they never split; these
	 * are the two places a trailer can meet the end of the area */
	wrap_case(dm, s, s - 48, 32); /* packet ends at the end: trailer at 0 */
	wrap_case(dm, s, s - 56, 32); /* trailer is the last word; next index 0 */
	wrap_case(dm, s, 0, 64);      /* no wrap */
}

static void test_wrap_plain(void **state)
{
	(void)state;
	wrap_all(false);
}

static void test_wrap_double(void **state)
{
	(void)state;
	wrap_all(true);
}

/* Gathered iovecs across the wrap, each boundary in a different place. */
static void test_wrap_iovecs(void **state)
{
	struct vmpacket_descriptor d = {.type = VM_PKT_COMP, .offset8 = 2, .len8 = 8};
	uint8_t a[5], b[27], c[16], buf[64], want[48];
	struct iovec iov[4] = {{&d, 16}, {a, 5}, {b, 27}, {c, 16}};
	struct vmb_ring_pkt pkt;
	struct tring t;

	(void)state;
	fill(a, 5, 1);
	fill(b, 27, 2);
	fill(c, 16, 3);
	memcpy(want, a, 5);
	memcpy(want + 5, b, 27);
	memcpy(want + 32, c, 16);
	tring_open(&t, 256, false, 256 - 24);
	assert_int_equal(vmb_ring_write(&t.r, iov, 4), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(vmb_ring_read(&t.r, buf, sizeof(buf), &pkt), 0);
	assert_int_equal(pkt.len, 64);
	assert_memory_equal(buf + 16, want, 48);
	tring_close(&t);
}

/*
 * vmb_ring_write_inband() stores exactly the bytes vmb_ring_write() does
 * (descriptor, payload, zero padding, trailer) wherever the packet falls,
 * in both kinds of ring.
 */
static void inband_case(bool dm, uint32_t size, uint32_t start, uint32_t plen)
{
	struct vmpacket_descriptor d = {
	    .type = VM_PKT_DATA_INBAND,
	    .offset8 = 2,
	    .len8 = (uint16_t)((sizeof(d) + plen + 7) / 8),
	    .trans_id = 77,
	};
	struct tring a, b;
	uint8_t payload[2048];

	fill(payload, plen, 77);
	tring_open(&a, size, dm, start);
	tring_open(&b, size, dm, start);
	assert_int_equal(send_pkt(&a.r, plen, 77), 0);
	assert_int_equal(vmb_ring_write_inband(&b.r, &d, payload, plen), 0);
	assert_int_equal(vmb_ring_commit(&a.r), 1);
	assert_int_equal(vmb_ring_commit(&b.r), 1);
	assert_int_equal(b.hdr->write_index, a.hdr->write_index);
	assert_memory_equal(b.data, a.data, size);
	assert_int_equal(b.r.stats.packets, 1);
	assert_int_equal(b.r.stats.bytes, a.r.stats.bytes);
	expect_pkt(&b.r, plen, 77);
	tring_close(&a);
	tring_close(&b);
}

static void test_write_inband(void **state)
{
	struct vmpacket_descriptor d = {.type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 3};
	uint8_t p[64] = {0};
	struct tring t;

	(void)state;
	for (int dm = 0; dm < 2; dm++) {
		uint32_t s = dm ? PAGE : 1024;

		inband_case(dm, s, s - 8, 40);	/* split inside the descriptor */
		inband_case(dm, s, s - 32, 100); /* split inside the payload */
		inband_case(dm, s, s - 16, 5);	/* split after the descriptor */
		inband_case(dm, s, s - 48, 32);	/* trailer at 0 */
		inband_case(dm, s, s - 56, 32);	/* trailer is the last word */
		inband_case(dm, s, 0, 61);	/* no wrap, 3 bytes of padding */
		inband_case(dm, s, 64, 0);	/* descriptor only */
	}
	tring_open(&t, 256, false, 0);
	/* No payload at all (as vmb_chan_send(ch, NULL, 0, ...) sends). */
	d.len8 = 2;
	assert_int_equal(vmb_ring_write_inband(&t.r, &d, NULL, 0), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	d.len8 = 3;
	assert_int_equal(vmb_ring_write_inband(&t.r, &d, p, 9), -EINVAL); /* len8 says 8 */
	d.offset8 = 3;
	assert_int_equal(vmb_ring_write_inband(&t.r, &d, p, 8), -EINVAL);
	d.offset8 = 2;
	d.len8 = 10;
	/* 88 bytes each with the trailer: after the 24 above, two fit, a third not. */
	assert_int_equal(vmb_ring_write_inband(&t.r, &d, p, 64), 0);
	assert_int_equal(vmb_ring_write_inband(&t.r, &d, p, 64), 0);
	assert_int_equal(vmb_ring_write_inband(&t.r, &d, p, 64), -EAGAIN);
	assert_int_equal(t.r.stats.full, 1);
	assert_int_equal(t.r.stats.packets, 3);
	assert_int_equal(t.r.error, 0);
	tring_close(&t);
}

static void test_write_rejects(void **state)
{
	struct vmpacket_descriptor d = {.type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 3};
	uint8_t p[8] = {0};
	struct iovec iov[2] = {{&d, 16}, {p, 8}};
	struct tring t;

	(void)state;
	tring_open(&t, 256, false, 0);
	assert_int_equal(vmb_ring_write(&t.r, iov, 0), -EINVAL);
	d.len8 = 4; /* does not match 24 bytes */
	assert_int_equal(vmb_ring_write(&t.r, iov, 2), -EINVAL);
	d.len8 = 3;
	d.offset8 = 1;
	assert_int_equal(vmb_ring_write(&t.r, iov, 2), -EINVAL);
	d.offset8 = 4;
	assert_int_equal(vmb_ring_write(&t.r, iov, 2), -EINVAL);
	iov[0].iov_len = 8;
	assert_int_equal(vmb_ring_write(&t.r, iov, 1), -EINVAL);
	assert_int_equal(t.hdr->write_index, 0);
	assert_int_equal(t.r.error, 0);
	assert_int_equal(t.r.stats.packets, 0);
	tring_close(&t);
}

/* A write of T bytes (trailer included) needs free > T. */
static void test_exactly_full(void **state)
{
	struct tring t;

	(void)state;
	tring_open(&t, 256, false, 0);
	assert_int_equal(vmb_ring_max_packet(&t.r), 240);
	assert_int_equal(vmb_ring_avail_write(&t.r), 240);
	/* 248 + 8 = 256 = free: would fill the ring completely */
	assert_int_equal(send_pkt(&t.r, 232, 1), -EMSGSIZE);
	assert_int_equal(send_pkt(&t.r, 96, 1), 0); /* 112 + 8 */
	assert_int_equal(vmb_ring_avail_write(&t.r), 120);
	/* free 136: a 128-byte packet + trailer would leave nothing free */
	assert_int_equal(send_pkt(&t.r, 112, 2), -EAGAIN);
	assert_int_equal(t.r.stats.full, 1);
	assert_int_equal(send_pkt(&t.r, 104, 2), 0);
	assert_int_equal(vmb_ring_avail_write(&t.r), 0);
	assert_int_equal(send_pkt(&t.r, 0, 3), -EAGAIN);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(vmb_ring_avail_read(&t.r), 248);
	expect_pkt(&t.r, 96, 1);
	expect_pkt(&t.r, 104, 2);
	assert_int_equal(vmb_ring_release(&t.r), 0);
	assert_int_equal(vmb_ring_avail_write(&t.r), 240);
	tring_close(&t);
}

static void test_corrupt_indices(void **state)
{
	struct vmb_ring_pkt pkt;
	uint8_t buf[256];
	struct tring t;

	(void)state;
	tring_open(&t, 256, false, 0);
	assert_int_equal(send_pkt(&t.r, 8, 1), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	t.hdr->write_index = 36; /* unaligned */
	assert_int_equal(vmb_ring_read(&t.r, buf, sizeof(buf), &pkt), -EPROTO);
	assert_non_null(t.r.why);
	t.hdr->write_index = 32; /* repaired, but the break is sticky */
	assert_int_equal(vmb_ring_read(&t.r, buf, sizeof(buf), &pkt), -EPROTO);
	assert_int_equal(vmb_ring_peek(&t.r, &pkt), -EPROTO);
	assert_int_equal(vmb_ring_release(&t.r), -EPROTO);
	tring_close(&t);

	tring_open(&t, 256, false, 0);
	t.hdr->write_index = 256; /* out of range */
	assert_int_equal(vmb_ring_peek(&t.r, &pkt), -EPROTO);
	assert_int_equal(vmb_ring_avail_read(&t.r), 0);
	tring_close(&t);

	/* producer side: read_index is reloaded (and checked) once the cached
	 * copy no longer shows room */
	tring_open(&t, 256, false, 0);
	while (send_pkt(&t.r, 8, 1) == 0)
		;
	t.hdr->read_index = 1000;
	assert_int_equal(send_pkt(&t.r, 8, 1), -EPROTO);
	t.hdr->read_index = 0;
	assert_int_equal(send_pkt(&t.r, 8, 1), -EPROTO);
	assert_int_equal(vmb_ring_commit(&t.r), -EPROTO);
	assert_int_equal(vmb_ring_want_space(&t.r, 8), -EPROTO);
	assert_int_equal(vmb_ring_avail_write(&t.r), 0);
	assert_int_equal(t.hdr->write_index, 0);
	tring_close(&t);

	/* want_space always reloads */
	tring_open(&t, 256, false, 0);
	t.hdr->read_index = 4;
	assert_int_equal(vmb_ring_want_space(&t.r, 8), -EPROTO);
	assert_int_equal(send_pkt(&t.r, 8, 1), -EPROTO);
	tring_close(&t);
}

/* Plant a descriptor in the ring as a hostile producer would. */
static int read_forged(uint32_t start, uint16_t offset8, uint16_t len8, uint32_t wi)
{
	struct vmpacket_descriptor d = {.type = 6, .offset8 = offset8, .len8 = len8};
	struct vmb_ring_pkt pkt;
	struct vmb_ring other;
	uint8_t buf[1024];
	struct tring t;
	int rc, rc2;

	tring_open(&t, 256, false, start);
	for (uint32_t i = 0; i < 16; i++)
		t.data[(start + i) % 256] = ((uint8_t *)&d)[i];
	t.hdr->write_index = wi;
	peer_view(&t, &other);
	rc = vmb_ring_read(&t.r, buf, sizeof(buf), &pkt);
	rc2 = vmb_ring_peek(&other, &pkt);
	if (rc == 0 && start + len8 * 8u > 256)
		assert_int_equal(rc2, -ERANGE);
	else
		assert_int_equal(rc2, rc);
	if (rc == -EPROTO)
		assert_non_null(t.r.why);
	tring_close(&t);
	return rc;
}

static void test_lying_lengths(void **state)
{
	(void)state;
	assert_int_equal(read_forged(0, 2, 4, 40), 0);
	assert_int_equal(read_forged(0, 2, 5, 40), -EPROTO);	   /* len8 past write_index */
	assert_int_equal(read_forged(0, 2, 0xffff, 248), -EPROTO); /* larger than the ring */
	assert_int_equal(read_forged(0, 1, 4, 40), -EPROTO);	   /* offset8 < 2 */
	assert_int_equal(read_forged(0, 0, 0, 40), -EPROTO);
	assert_int_equal(read_forged(0, 5, 4, 40), -EPROTO); /* offset8 > len8 */
	assert_int_equal(read_forged(0, 2, 2, 16), -EPROTO); /* no room for a trailer */
	assert_int_equal(read_forged(0, 2, 2, 8), -EPROTO);
	/* wrapped: 240 -> 24, 40 bytes available */
	assert_int_equal(read_forged(240, 2, 4, 24), 0);
	assert_int_equal(read_forged(240, 2, 5, 24), -EPROTO);
}

static void test_small_buffer(void **state)
{
	struct vmb_ring_pkt pkt;
	uint8_t buf[64];
	struct tring t;

	(void)state;
	tring_open(&t, 512, false, 0);
	assert_int_equal(send_pkt(&t.r, 100, 4), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(vmb_ring_read(&t.r, buf, sizeof(buf), &pkt), -EMSGSIZE);
	assert_int_equal(pkt.len, 120);
	assert_int_equal(t.r.error, 0);
	assert_int_equal(vmb_ring_avail_read(&t.r), 128);
	expect_pkt(&t.r, 100, 4);
	tring_close(&t);
}

static void test_signal_empty_to_nonempty(void **state)
{
	struct vmb_ring cons;
	struct tring t;

	(void)state;
	tring_open(&t, 1024, false, 0);
	peer_view(&t, &cons);
	assert_int_equal(vmb_ring_commit(&t.r), 0); /* nothing written */
	assert_int_equal(send_pkt(&t.r, 8, 1), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(send_pkt(&t.r, 8, 2), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 0); /* was not empty */
	expect_pkt(&cons, 8, 1);
	expect_pkt(&cons, 8, 2);
	/* drained but read_index not yet published: still not empty */
	assert_int_equal(send_pkt(&t.r, 8, 3), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 0);
	assert_int_equal(vmb_ring_release(&cons), 0);
	expect_pkt(&cons, 8, 3);
	assert_int_equal(vmb_ring_release(&cons), 0);
	assert_int_equal(send_pkt(&t.r, 8, 4), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(t.r.stats.signals, 2);
	tring_close(&t);
}

static void test_signal_masked(void **state)
{
	struct vmb_ring cons;
	struct tring t;

	(void)state;
	tring_open(&t, 1024, false, 0);
	peer_view(&t, &cons);
	vmb_ring_mask(&cons);
	assert_int_equal(t.hdr->interrupt_mask, 1);
	assert_false(vmb_ring_unmask(&cons)); /* nothing arrived */
	vmb_ring_mask(&cons);
	assert_int_equal(send_pkt(&t.r, 8, 1), 0);
	assert_int_equal(vmb_ring_commit(&t.r), 0);
	assert_true(vmb_ring_unmask(&cons)); /* arrived while masked */
	assert_int_equal(t.hdr->interrupt_mask, 0);
	expect_pkt(&cons, 8, 1);
	assert_int_equal(vmb_ring_release(&cons), 0);
	assert_false(vmb_ring_unmask(&cons));
	assert_int_equal(t.r.stats.signals, 0);
	tring_close(&t);
}

static void test_signal_batch(void **state)
{
	struct tring t;

	(void)state;
	tring_open(&t, PAGE, true, 0);
	for (int i = 0; i < 20; i++)
		assert_int_equal(send_pkt(&t.r, 24, (uint8_t)i), 0);
	assert_int_equal(t.hdr->write_index, 0);
	assert_int_equal(vmb_ring_commit(&t.r), 1);
	assert_int_equal(vmb_ring_commit(&t.r), 0);
	assert_int_equal(t.r.stats.signals, 1);
	for (int i = 0; i < 20; i++)
		expect_pkt(&t.r, 24, (uint8_t)i);
	tring_close(&t);
}

/* Fill a 512-byte ring with 48-byte packets (56 with trailer): 9 fit. */
static void fill_ring(struct tring *t, struct vmb_ring *cons)
{
	int n = 0;

	peer_view(t, cons);
	while (send_pkt(&t->r, 32, (uint8_t)n) == 0)
		n++;
	assert_int_equal(n, 9);
	assert_int_equal(vmb_ring_commit(&t->r), 1);
	assert_int_equal(vmb_ring_avail_write(&t->r), 0);
}

static void test_signal_pending_crossing(void **state)
{
	struct vmb_ring cons;
	struct tring t;

	(void)state;
	tring_open(&t, 512, false, 0);
	fill_ring(&t, &cons);
	/* free 8; want a 120-byte packet: pending = 128 */
	assert_int_equal(vmb_ring_want_space(&t.r, 117), -EAGAIN);
	assert_int_equal(t.hdr->pending_send_sz, 128);
	expect_pkt(&cons, 32, 0);
	assert_int_equal(vmb_ring_release(&cons), 0); /* free 64 */
	expect_pkt(&cons, 32, 1);
	assert_int_equal(vmb_ring_release(&cons), 0); /* free 120 */
	expect_pkt(&cons, 32, 2);
	assert_int_equal(vmb_ring_release(&cons), 1); /* free 176 > 128 */
	expect_pkt(&cons, 32, 3);
	assert_int_equal(vmb_ring_release(&cons), 0); /* already enough */
	assert_int_equal(cons.stats.signals, 1);
	assert_int_equal(vmb_ring_want_space(&t.r, 117), 0);
	assert_int_equal(t.hdr->pending_send_sz, 0);
	assert_int_equal(send_pkt(&t.r, 104, 7), 0);
	tring_close(&t);
}

/* free == pending is not enough (a write needs free > T). */
static void test_signal_pending_boundary(void **state)
{
	struct vmb_ring cons;
	struct tring t;

	(void)state;
	tring_open(&t, 512, false, 0);
	fill_ring(&t, &cons);
	assert_int_equal(vmb_ring_want_space(&t.r, 112), -EAGAIN); /* pending 120 */
	expect_pkt(&cons, 32, 0);
	expect_pkt(&cons, 32, 1);
	assert_int_equal(vmb_ring_release(&cons), 0); /* free 120 == pending */
	expect_pkt(&cons, 32, 2);
	assert_int_equal(vmb_ring_release(&cons), 1);
	tring_close(&t);
}

static void test_signal_pending_off(void **state)
{
	struct vmb_ring cons;
	struct tring t;

	(void)state;
	/* pending_send_sz == 0: the producer is not waiting */
	tring_open(&t, 512, false, 0);
	fill_ring(&t, &cons);
	for (int i = 0; i < 9; i++) {
		expect_pkt(&cons, 32, (uint8_t)i);
		assert_int_equal(vmb_ring_release(&cons), 0);
	}
	tring_close(&t);

	/* feature bit clear: never signal, even on a crossing */
	tring_open(&t, 512, false, 0);
	t.hdr->feature_bits = 0;
	fill_ring(&t, &cons);
	assert_int_equal(vmb_ring_want_space(&t.r, 8), -EAGAIN);
	for (int i = 0; i < 9; i++) {
		expect_pkt(&cons, 32, (uint8_t)i);
		assert_int_equal(vmb_ring_release(&cons), 0);
	}
	assert_int_equal(cons.stats.signals, 0);
	tring_close(&t);
}

static void test_want_space(void **state)
{
	struct tring t;

	(void)state;
	tring_open(&t, 512, false, 0);
	assert_int_equal(vmb_ring_want_space(&t.r, 100), 0);
	assert_int_equal(t.hdr->pending_send_sz, 0);
	assert_int_equal(vmb_ring_want_space(&t.r, 497), -EMSGSIZE);
	assert_int_equal(vmb_ring_want_space(&t.r, 496), 0);
	assert_int_equal(send_pkt(&t.r, 400, 1), 0);
	assert_int_equal(vmb_ring_want_space(&t.r, 100), -EAGAIN);
	assert_int_equal(t.hdr->pending_send_sz, 112);
	vmb_ring_clear_pending(&t.r);
	assert_int_equal(t.hdr->pending_send_sz, 0);
	tring_close(&t);
}

/* ---- two-thread stress -------------------------------------------------- */

#define STRESS_PACKETS 1000000u
#define STRESS_MAX     600u

struct stress_hdr {
	struct vmpacket_descriptor d;
	uint64_t seq;
	uint32_t plen;
	uint32_t sum;
};

struct stress {
	struct tring t;
	struct vmb_ring prod, cons;
	atomic_bool stop;
	unsigned prod_errors, cons_errors;
	uint64_t received;
};

static uint64_t xorshift(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static uint32_t checksum(const uint8_t *p, uint32_t n)
{
	uint32_t h = 2166136261u;

	for (uint32_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 16777619u;
	return h;
}

static void stress_build(struct stress_hdr *h, uint8_t *payload, uint64_t seq, uint64_t *rng)
{
	uint32_t plen = (uint32_t)(xorshift(rng) % STRESS_MAX);

	for (uint32_t i = 0; i < plen; i += 8) {
		uint64_t v = xorshift(rng);

		memcpy(payload + i, &v, 8);
	}
	h->d = (struct vmpacket_descriptor){
	    .type = VM_PKT_DATA_INBAND,
	    .offset8 = 2,
	    .len8 = (uint16_t)((sizeof(*h) + plen + 7) / 8),
	    .trans_id = seq,
	};
	h->seq = seq;
	h->plen = plen;
	h->sum = checksum(payload, plen);
}

static void *stress_producer(void *arg)
{
	struct stress *s = arg;
	uint8_t payload[STRESS_MAX + 8];
	uint64_t rng = 88172645463325252ull;
	struct stress_hdr h;

	for (uint64_t seq = 0; seq < STRESS_PACKETS; seq++) {
		struct iovec iov[2] = {{&h, sizeof(h)}, {payload, 0}};
		int rc;

		stress_build(&h, payload, seq, &rng);
		iov[1].iov_len = h.plen;
		while ((rc = vmb_ring_write(&s->prod, iov, 2)) == -EAGAIN) {
			vmb_ring_commit(&s->prod);
			sched_yield();
		}
		if (rc) {
			s->prod_errors++;
			atomic_store(&s->stop, true);
			break;
		}
		if ((seq & 7) == 0)
			vmb_ring_commit(&s->prod);
	}
	vmb_ring_commit(&s->prod);
	return NULL;
}

static bool stress_check(const uint8_t *p, uint32_t len, uint64_t want_seq)
{
	struct stress_hdr h;

	if (len < sizeof(h))
		return false;
	memcpy(&h, p, sizeof(h));
	if (h.seq != want_seq || h.d.trans_id != want_seq || h.plen > len - sizeof(h))
		return false;
	return checksum(p + sizeof(h), h.plen) == h.sum;
}

static void *stress_consumer(void *arg)
{
	struct stress *s = arg;
	uint8_t buf[STRESS_MAX + 64];
	struct vmb_ring_pkt pkt;

	while (s->received < STRESS_PACKETS && s->cons_errors == 0 && !atomic_load(&s->stop)) {
		int rc;

		/* alternate the in-place and copy-out paths */
		if (s->received & 1) {
			rc = vmb_ring_peek(&s->cons, &pkt);
			if (rc == 0 && !stress_check(pkt.data, pkt.len, s->received))
				s->cons_errors++;
			if (rc == 0)
				vmb_ring_consume(&s->cons, &pkt);
		} else {
			rc = vmb_ring_read(&s->cons, buf, sizeof(buf), &pkt);
			if (rc == 0 && !stress_check(buf, pkt.len, s->received))
				s->cons_errors++;
		}
		if (rc == -EAGAIN) {
			vmb_ring_release(&s->cons);
			sched_yield();
			continue;
		}
		if (rc)
			s->cons_errors++;
		s->received++;
		if ((s->received & 3) == 0)
			vmb_ring_release(&s->cons);
	}
	vmb_ring_release(&s->cons);
	return NULL;
}

static void test_stress_two_threads(void **state)
{
	struct stress *s = calloc(1, sizeof(*s));
	pthread_t pt, ct;

	(void)state;
	assert_non_null(s);
	tring_open(&s->t, 16 * PAGE, true, 0);
	peer_view(&s->t, &s->prod);
	peer_view(&s->t, &s->cons);
	assert_int_equal(pthread_create(&ct, NULL, stress_consumer, s), 0);
	assert_int_equal(pthread_create(&pt, NULL, stress_producer, s), 0);
	pthread_join(pt, NULL);
	pthread_join(ct, NULL);
	assert_int_equal(s->prod_errors, 0);
	assert_int_equal(s->cons_errors, 0);
	assert_int_equal(s->received, STRESS_PACKETS);
	assert_int_equal(s->prod.stats.packets, STRESS_PACKETS);
	assert_int_equal(s->cons.stats.packets, STRESS_PACKETS);
	assert_int_equal(s->prod.stats.bytes, s->cons.stats.bytes);
	assert_true(vmb_ring_empty(&s->cons));
	tring_close(&s->t);
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_init_rejects),
	    cmocka_unit_test(test_roundtrip_plain),
	    cmocka_unit_test(test_roundtrip_double),
	    cmocka_unit_test(test_wrap_plain),
	    cmocka_unit_test(test_wrap_double),
	    cmocka_unit_test(test_wrap_iovecs),
	    cmocka_unit_test(test_write_inband),
	    cmocka_unit_test(test_write_rejects),
	    cmocka_unit_test(test_exactly_full),
	    cmocka_unit_test(test_corrupt_indices),
	    cmocka_unit_test(test_lying_lengths),
	    cmocka_unit_test(test_small_buffer),
	    cmocka_unit_test(test_signal_empty_to_nonempty),
	    cmocka_unit_test(test_signal_masked),
	    cmocka_unit_test(test_signal_batch),
	    cmocka_unit_test(test_signal_pending_crossing),
	    cmocka_unit_test(test_signal_pending_boundary),
	    cmocka_unit_test(test_signal_pending_off),
	    cmocka_unit_test(test_want_space),
	    cmocka_unit_test(test_stress_two_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
