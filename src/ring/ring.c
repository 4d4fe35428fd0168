/*
 * One VMBus ring buffer (PROTOCOL.md section 3): Hyper-V header page,
 * 8-byte aligned packets followed by an 8-byte trailer, wrap-around
 * without padding, and the signalling contract of section 3.9.
 *
 * The peer owns half of the header and all of the data it writes, so
 * every index read from the header is snapshot once and range checked,
 * and every descriptor is copied out before it is believed.
 */
#include <errno.h>
#include <string.h>

#include "ring/barrier.h"
#include "vmbus/ring.h"

#define DESC_SIZE ((uint32_t)sizeof(struct vmpacket_descriptor))
#define TRAILER	  VMBUS_PKT_TRAILER_SIZE
#define MAX_LEN	  (VMBUS_PKT_MAX_LEN8 * 8u)
#define MIN_SIZE  (2 * (DESC_SIZE + TRAILER))
/* Keeps index + length arithmetic inside uint32_t. */
#define MAX_SIZE 0x80000000u

static int ring_fail(struct vmb_ring *r, const char *why)
{
	if (!r->error) {
		r->error = -EPROTO;
		r->why = why;
	}
	return -EPROTO;
}

static bool index_ok(const struct vmb_ring *r, uint32_t i)
{
	return i < r->size && (i & 7u) == 0;
}

/* Bytes between `from` and `to` going forward around the ring. */
static uint32_t ring_dist(const struct vmb_ring *r, uint32_t from, uint32_t to)
{
	return to >= from ? to - from : r->size - from + to;
}

static uint32_t ring_advance(const struct vmb_ring *r, uint32_t off, uint32_t n)
{
	off += n;
	return off >= r->size ? off - r->size : off;
}

static uint32_t round8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

static bool no_split(const struct vmb_ring *r, uint32_t off, uint32_t len)
{
	return (r->flags & VMB_RING_DOUBLE_MAPPED) || len <= r->size - off;
}

static void copy_in(struct vmb_ring *r, uint32_t off, const void *src, uint32_t len)
{
	uint32_t first = r->size - off;

	if (no_split(r, off, len)) {
		memcpy(r->data + off, src, len);
		return;
	}
	memcpy(r->data + off, src, first);
	memcpy(r->data, (const uint8_t *)src + first, len - first);
}

static void copy_out(const struct vmb_ring *r, uint32_t off, void *dst, uint32_t len)
{
	uint32_t first = r->size - off;

	if (no_split(r, off, len)) {
		memcpy(dst, r->data + off, len);
		return;
	}
	memcpy(dst, r->data + off, first);
	memcpy((uint8_t *)dst + first, r->data, len - first);
}

int vmb_ring_init(struct vmb_ring *r, void *hdr, void *data, uint32_t data_size, uint32_t flags)
{
	uint32_t wi, ri;

	if (!r || !hdr || !data || data_size < MIN_SIZE || data_size > MAX_SIZE ||
	    (data_size & 7u) || (flags & ~VMB_RING_DOUBLE_MAPPED))
		return -EINVAL;
	memset(r, 0, sizeof(*r));
	r->hdr = hdr;
	r->data = data;
	r->size = data_size;
	r->flags = flags;
	wi = vmb_load_acquire(&r->hdr->write_index);
	ri = vmb_load_acquire(&r->hdr->read_index);
	if (!index_ok(r, wi) || !index_ok(r, ri))
		return ring_fail(r, "ring index out of range or unaligned at attach");
	r->wr = r->wr_pub = r->wi_seen = wi;
	r->rd = r->rd_pub = r->ri_seen = ri;
	return 0;
}

void vmb_ring_header_reset(void *hdr)
{
	struct vmbus_ring_header *h = hdr;

	memset(hdr, 0, sizeof(*h));
	h->feature_bits = VMBUS_RING_FEAT_PENDING_SEND_SZ;
}

uint32_t vmb_ring_max_packet(const struct vmb_ring *r)
{
	uint32_t n = r->size - TRAILER - 8u;

	return n < MAX_LEN ? n : MAX_LEN;
}

/* ---- producer -------------------------------------------------------- */

static int load_read_index(struct vmb_ring *r)
{
	uint32_t ri = vmb_load_acquire(&r->hdr->read_index);

	if (!index_ok(r, ri))
		return ring_fail(r, "read_index out of range or unaligned");
	r->ri_seen = ri;
	return 0;
}

static uint32_t producer_free(const struct vmb_ring *r)
{
	return r->size - ring_dist(r, r->ri_seen, r->wr);
}

/* Free space is only ever underestimated by the cached read_index. */
static int producer_room(struct vmb_ring *r, uint32_t need)
{
	int err;

	if (producer_free(r) > need)
		return 0;
	err = load_read_index(r);
	if (err)
		return err;
	return producer_free(r) > need ? 0 : -EAGAIN;
}

/* Checks the caller's packet; returns its length without trailer or -errno. */
static int64_t packet_len(const struct vmb_ring *r, const struct iovec *iov, unsigned iovcnt)
{
	struct vmpacket_descriptor d;
	uint64_t total = 0;
	uint32_t len;

	if (iovcnt == 0 || !iov || iov[0].iov_len < DESC_SIZE)
		return -EINVAL;
	for (unsigned i = 0; i < iovcnt; i++) {
		if (iov[i].iov_len > MAX_LEN)
			return -EMSGSIZE;
		total += iov[i].iov_len;
	}
	if (total > MAX_LEN)
		return -EMSGSIZE;
	memcpy(&d, iov[0].iov_base, sizeof(d));
	len = (uint32_t)d.len8 * 8u;
	if (len != round8((uint32_t)total) || d.offset8 < 2 || d.offset8 > d.len8)
		return -EINVAL;
	if (len > vmb_ring_max_packet(r))
		return -EMSGSIZE;
	return len;
}

int vmb_ring_write(struct vmb_ring *r, const struct iovec *iov, unsigned iovcnt)
{
	static const uint8_t zeros[8];
	uint32_t len, off, used = 0;
	uint64_t trailer;
	int64_t n;
	int err;

	if (r->error)
		return r->error;
	n = packet_len(r, iov, iovcnt);
	if (n < 0)
		return (int)n;
	len = (uint32_t)n;
	/* Never fill the ring: full and empty would both read w == r. */
	err = producer_room(r, len + TRAILER);
	if (err == -EAGAIN)
		r->stats.full++;
	if (err)
		return err;
	off = r->wr;
	for (unsigned i = 0; i < iovcnt; i++) {
		uint32_t k = (uint32_t)iov[i].iov_len;

		copy_in(r, off, iov[i].iov_base, k);
		off = ring_advance(r, off, k);
		used += k;
	}
	copy_in(r, off, zeros, len - used);
	off = ring_advance(r, off, len - used);
	trailer = (uint64_t)r->wr << 32;
	copy_in(r, off, &trailer, TRAILER);
	r->wr = ring_advance(r, off, TRAILER);
	r->stats.packets++;
	r->stats.bytes += len + TRAILER;
	return 0;
}

/*
 * The common small packet: descriptor, payload, padding and trailer are
 * stored straight into the ring when they are contiguous in our view
 * (always, double mapped), with no iovec list to check and walk.
 */
int vmb_ring_write_inband(struct vmb_ring *r, const struct vmpacket_descriptor *d,
			  const void *payload, uint32_t plen)
{
	struct iovec v[2] = {{(void *)d, DESC_SIZE}, {(void *)payload, plen}};
	uint32_t len = (uint32_t)d->len8 * 8u, off = r->wr;
	uint64_t trailer = (uint64_t)off << 32, zero = 0;
	uint8_t *p = r->data + off;
	int err;

	if (r->error)
		return r->error;
	if (d->offset8 != DESC_SIZE / 8 || plen > MAX_LEN || len != round8(DESC_SIZE + plen))
		return -EINVAL;
	if (len > vmb_ring_max_packet(r))
		return -EMSGSIZE;
	if (!no_split(r, off, len + TRAILER))
		return vmb_ring_write(r, v, plen ? 2 : 1);
	err = producer_room(r, len + TRAILER);
	if (err == -EAGAIN)
		r->stats.full++;
	if (err)
		return err;
	/* The last 8 bytes first: the payload then overwrites all but the padding. */
	memcpy(p + len - 8, &zero, 8);
	memcpy(p, d, DESC_SIZE);
	if (plen)
		memcpy(p + DESC_SIZE, payload, plen);
	memcpy(p + len, &trailer, TRAILER);
	r->wr = ring_advance(r, off, len + TRAILER);
	r->stats.packets++;
	r->stats.bytes += len + TRAILER;
	return 0;
}

int vmb_ring_commit(struct vmb_ring *r)
{
	uint32_t old = r->wr_pub;

	if (r->error)
		return r->error;
	if (r->wr == old)
		return 0;
	vmb_store_release(&r->hdr->write_index, r->wr);
	r->wr_pub = r->wr;
	/* The consumer stores read_index then reads write_index; each side
	 * must see the other's store or a wake-up is lost. */
	vmb_mb();
	if (vmb_load_once(&r->hdr->interrupt_mask))
		return 0;
	/* Hyper-V treats interrupts for a ring that was not empty as abuse. */
	if (vmb_load_once(&r->hdr->read_index) != old)
		return 0;
	r->stats.signals++;
	return 1;
}

int vmb_ring_want_space(struct vmb_ring *r, uint32_t bytes)
{
	uint32_t need;
	int err;

	if (r->error)
		return r->error;
	if (bytes > vmb_ring_max_packet(r))
		return -EMSGSIZE;
	need = round8(bytes) + TRAILER;
	vmb_store_once(&r->hdr->pending_send_sz, need);
	/* Re-check after publishing: the consumer may have freed the space
	 * before it could see pending_send_sz, and will not signal. */
	vmb_mb();
	err = load_read_index(r);
	if (err)
		return err;
	if (producer_free(r) <= need)
		return -EAGAIN;
	vmb_ring_clear_pending(r);
	return 0;
}

void vmb_ring_clear_pending(struct vmb_ring *r)
{
	vmb_store_once(&r->hdr->pending_send_sz, 0);
}

uint32_t vmb_ring_avail_write(const struct vmb_ring *r)
{
	uint32_t ri = vmb_load_acquire(&r->hdr->read_index);
	uint32_t free_bytes, n;

	if (r->error || !index_ok(r, ri))
		return 0;
	free_bytes = r->size - ring_dist(r, ri, r->wr);
	if (free_bytes <= TRAILER + 8u)
		return 0;
	n = free_bytes - TRAILER - 8u;
	return n < MAX_LEN ? n : MAX_LEN;
}

/* ---- consumer -------------------------------------------------------- */

/* Snapshot and validate the descriptor of the next packet. */
static int next_desc(struct vmb_ring *r, struct vmpacket_descriptor *d)
{
	uint32_t wi, avail;

	if (r->error)
		return r->error;
	/* write_index only ever covers whole packets, so a cached value that
	 * still shows data is as good as a fresh one for the next packet. */
	avail = ring_dist(r, r->rd, r->wi_seen);
	if (avail == 0) {
		wi = vmb_load_acquire(&r->hdr->write_index);
		if (!index_ok(r, wi))
			return ring_fail(r, "write_index out of range or unaligned");
		r->wi_seen = wi;
		avail = ring_dist(r, r->rd, wi);
	}
	if (avail == 0)
		return -EAGAIN;
	if (avail < DESC_SIZE + TRAILER)
		return ring_fail(r, "write_index inside a packet");
	/* A constant-size copy when it does not wrap: two loads, no call. */
	if (no_split(r, r->rd, DESC_SIZE))
		memcpy(d, r->data + r->rd, DESC_SIZE);
	else
		copy_out(r, r->rd, d, DESC_SIZE);
	if (d->offset8 < 2 || d->len8 < d->offset8)
		return ring_fail(r, "packet offset8/len8 inconsistent");
	if ((uint32_t)d->len8 * 8u + TRAILER > avail)
		return ring_fail(r, "packet len8 runs past write_index");
	return 0;
}

int vmb_ring_peek(struct vmb_ring *r, struct vmb_ring_pkt *pkt)
{
	int err = next_desc(r, &pkt->desc);

	if (err)
		return err;
	pkt->len = (uint32_t)pkt->desc.len8 * 8u;
	if (!no_split(r, r->rd, pkt->len))
		return -ERANGE;
	pkt->data = r->data + r->rd;
	return 0;
}

void vmb_ring_consume(struct vmb_ring *r, const struct vmb_ring_pkt *pkt)
{
	r->rd = ring_advance(r, r->rd, pkt->len + TRAILER);
	r->stats.packets++;
	r->stats.bytes += pkt->len + TRAILER;
}

int vmb_ring_read(struct vmb_ring *r, void *buf, size_t cap, struct vmb_ring_pkt *pkt)
{
	struct vmpacket_descriptor d;
	int err = next_desc(r, &d);

	if (err)
		return err;
	pkt->len = (uint32_t)d.len8 * 8u;
	if (cap < pkt->len)
		return -EMSGSIZE;
	/* buf carries the validated snapshot, not a second read of the ring. */
	memcpy(buf, &d, DESC_SIZE);
	copy_out(r, ring_advance(r, r->rd, DESC_SIZE), (uint8_t *)buf + DESC_SIZE,
		 pkt->len - DESC_SIZE);
	pkt->desc = d;
	pkt->data = buf;
	vmb_ring_consume(r, pkt);
	return 0;
}

int vmb_ring_release(struct vmb_ring *r)
{
	uint32_t done, pending, wi, free_after, free_before;

	if (r->error)
		return r->error;
	if (r->rd == r->rd_pub)
		return 0;
	done = ring_dist(r, r->rd_pub, r->rd);
	vmb_store_release(&r->hdr->read_index, r->rd);
	r->rd_pub = r->rd;
	/* Pairs with the barrier in vmb_ring_want_space(). */
	vmb_mb();
	if (!(vmb_load_once(&r->hdr->feature_bits) & VMBUS_RING_FEAT_PENDING_SEND_SZ))
		return 0;
	pending = vmb_load_acquire(&r->hdr->pending_send_sz);
	if (pending == 0)
		return 0;
	wi = vmb_load_acquire(&r->hdr->write_index);
	if (!index_ok(r, wi))
		return ring_fail(r, "write_index out of range or unaligned");
	free_after = r->size - ring_dist(r, r->rd, wi);
	/* The producer may already have refilled part of what we freed. */
	free_before = free_after > done ? free_after - done : 0;
	if (free_after <= pending || free_before > pending)
		return 0;
	r->stats.signals++;
	return 1;
}

void vmb_ring_mask(struct vmb_ring *r)
{
	vmb_store_once(&r->hdr->interrupt_mask, 1);
	vmb_mb();
}

bool vmb_ring_unmask(struct vmb_ring *r)
{
	vmb_store_once(&r->hdr->interrupt_mask, 0);
	/* A packet committed while masked raised no interrupt: look again. */
	vmb_mb();
	return vmb_load_once(&r->hdr->write_index) != r->rd;
}

bool vmb_ring_empty(const struct vmb_ring *r)
{
	return vmb_load_acquire(&r->hdr->write_index) == r->rd;
}

uint32_t vmb_ring_avail_read(const struct vmb_ring *r)
{
	uint32_t wi = vmb_load_acquire(&r->hdr->write_index);

	return index_ok(r, wi) ? ring_dist(r, r->rd, wi) : 0;
}
