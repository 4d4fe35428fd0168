/*
 * netvsp receive path: frames from the TAP into the guest's receive buffer,
 * delivered as transfer-page packets (PROTOCOL.md 3.8, 7.3). Each packet
 * carries a batch of up to NETVSP_RX_BATCH frames in consecutive
 * sub-allocations; the guest's completion returns the whole batch.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "dev/net/netvsp_priv.h"

#define RX_ROOM (NETVSP_SUBALLOC_SIZE - (uint32_t)RNDIS_PACKET_SIZE)

void netvsp_rx_reset(struct vmb_netvsp *n)
{
	n->batch = n->rsub_count < NETVSP_RX_BATCH ? n->rsub_count : NETVSP_RX_BATCH;
	n->nslots = n->batch ? n->rsub_count / n->batch : 0;
	if (n->nslots > NETVSP_RX_SLOTS)
		n->nslots = NETVSP_RX_SLOTS;
	n->nfree = 0;
	for (uint32_t i = n->nslots; i-- > 0;) {
		n->slots[i] = (struct rx_slot){.n = n, .first = i * n->batch};
		n->free_slots[n->nfree++] = i;
	}
}

/* A free batch when the guest can take frames; NULL otherwise. */
static struct rx_slot *slot_get(struct vmb_netvsp *n, bool control)
{
	struct rx_slot *s = NULL;

	pthread_mutex_lock(&n->lock);
	if (n->ch && n->rbuf_mapped && n->nfree &&
	    (control || (n->rndis_ready && n->filter && !n->link_down))) {
		s = &n->slots[n->free_slots[--n->nfree]];
		s->busy = true;
		s->ch = n->ch;
	}
	pthread_mutex_unlock(&n->lock);
	return s;
}

static void slot_put(struct rx_slot *s)
{
	struct vmb_netvsp *n = s->n;

	pthread_mutex_lock(&n->lock);
	if (s->busy) {
		s->busy = false;
		n->free_slots[n->nfree++] = (uint32_t)(s - n->slots);
	}
	pthread_mutex_unlock(&n->lock);
}

static void rx_done(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp, int status)
{
	struct rx_slot *s = arg;
	struct nvsp_message m;

	/* A completion of a channel closed since is stale: the slots were reset. */
	if (s->ch != ch)
		return;
	if (status == 0 && (vmb_nvsp_parse(comp->data, comp->len, &m) < 0 ||
			    m.msg_type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE)) {
		pthread_mutex_lock(&s->n->lock);
		s->n->st.bad_packets++;
		pthread_mutex_unlock(&s->n->lock);
	}
	slot_put(s);
}

static uint8_t *suballoc(struct vmb_netvsp *n, uint32_t i)
{
	return (uint8_t *)n->rbuf.addr + (size_t)i * NETVSP_SUBALLOC_SIZE;
}

/*
 * Send k messages of slot s, message i in sub-allocation at[i] of the slot;
 * retry=false: one attempt only (loop thread).
 */
static int send_batch(struct vmb_netvsp *n, struct rx_slot *s, const uint32_t *lens,
		      const uint32_t *at, uint32_t k, uint32_t channel_type, bool retry)
{
	struct vmbus_xfer_page_range r[NETVSP_RX_BATCH];
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT};
	struct iovec iov = {&m, n->msg_size};
	struct vmb_send snd = {
	    .type = VM_PKT_DATA_USING_XFER_PAGES,
	    .iov = &iov,
	    .iovcnt = 1,
	    .flags = VMB_SEND_NOWAIT,
	    .done = rx_done,
	    .arg = s,
	    .xfer_pageset_id = n->rbuf_id,
	    .xfer = r,
	    .nxfer = k,
	};
	int rc;

	m.rndis_pkt.channel_type = channel_type;
	m.rndis_pkt.send_buf_section_index = NVSP_INVALID_SECTION_INDEX;
	for (uint32_t i = 0; i < k; i++) {
		r[i].byte_count = lens[i];
		r[i].byte_offset = (s->first + at[i]) * NETVSP_SUBALLOC_SIZE;
	}
	/* Never wait inside the channel: a revoke or close must be able to stop us. */
	while ((rc = vmb_chan_submit(s->ch, &snd, NULL)) == -EAGAIN && retry &&
	       !atomic_load(&n->stop)) {
		struct timespec ts = {0, 50000};

		nanosleep(&ts, NULL);
	}
	if (rc < 0)
		slot_put(s);
	return rc;
}

int netvsp_send_rndis(struct vmb_netvsp *n, const void *msg, uint32_t len)
{
	static const uint32_t first = 0;
	struct rx_slot *s;

	if (len > NETVSP_SUBALLOC_SIZE)
		return -EMSGSIZE;
	s = slot_get(n, true);
	if (!s)
		return -ENOBUFS;
	memcpy(suballoc(n, s->first), msg, len);
	return send_batch(n, s, &len, &first, 1, NVSP_RNDIS_CHANNEL_CONTROL, false);
}

static void count_rx(struct vmb_netvsp *n, uint32_t frames, uint64_t bytes, uint32_t dropped)
{
	pthread_mutex_lock(&n->lock);
	n->st.rx_frames += frames;
	n->st.rx_bytes += bytes;
	n->st.rx_dropped += dropped;
	pthread_mutex_unlock(&n->lock);
}

/* How the reader thread reads its TAP: batches through io_uring, or readv() per frame. */
struct rx_reader {
	struct io_uring ring;
	bool uring;
	unsigned want;
};

/* A frame of got bytes in sub-allocation i of slot s: its RNDIS header, and 1; or 0 if too big. */
static uint32_t take_frame(struct vmb_netvsp *n, struct rx_slot *s, uint32_t i, ssize_t got,
			   uint32_t *len)
{
	if ((size_t)got > RX_ROOM)
		return 0;
	*len = (uint32_t)vmb_rndis_packet_hdr(suballoc(n, s->first + i), (uint32_t)got) +
	       (uint32_t)got;
	return 1;
}

/*
 * Up to want non-blocking reads straight into the slot's sub-allocations in
 * one io_uring_enter() (frames too big for one end in the scratch buffer and
 * are dropped); empty or dropped ones leave gaps, which the transfer-page
 * ranges skip.
 */
static void fill_uring(struct vmb_netvsp *n, struct rx_slot *s, struct rx_reader *rd,
		       uint32_t *lens, uint32_t *at, uint32_t *k, struct vmb_tap_counts *c)
{
	struct iovec iov[NETVSP_RX_BATCH][2];
	int32_t res[NETVSP_RX_BATCH];
	unsigned want = rd->want < n->batch ? rd->want : n->batch;

	for (unsigned i = 0; i < want; i++) {
		iov[i][0] = (struct iovec){suballoc(n, s->first + i) + RNDIS_PACKET_SIZE, RX_ROOM};
		iov[i][1] = (struct iovec){n->scratch, sizeof(n->scratch)};
	}
	if (!vmb_tap_uring_read(&rd->ring, n->tap_fd, &iov[0][0], 2, want, res)) {
		io_uring_queue_exit(&rd->ring);
		rd->uring = false;
	}
	rd->want = vmb_tap_next_want(res, want);
	for (uint32_t i = 0; i < want; i++) {
		if (res[i] <= 0)
			continue;
		if (!take_frame(n, s, i, res[i], &lens[*k])) {
			c->dropped++;
			continue;
		}
		at[(*k)++] = i;
		c->frames++;
		c->bytes += (uint64_t)res[i];
	}
}

/* One readv() per frame until the batch is full or the TAP is empty. */
static void fill_readv(struct vmb_netvsp *n, struct rx_slot *s, uint32_t *lens, uint32_t *at,
		       uint32_t *k, struct vmb_tap_counts *c)
{
	while (*k < n->batch) {
		struct iovec iov[2] = {{suballoc(n, s->first + *k) + RNDIS_PACKET_SIZE, RX_ROOM},
				       {n->scratch, sizeof(n->scratch)}};
		ssize_t got = readv(n->tap_fd, iov, 2);

		if (got <= 0)
			break;
		if (!take_frame(n, s, *k, got, &lens[*k])) {
			c->dropped++;
			continue;
		}
		at[*k] = *k;
		(*k)++;
		c->frames++;
		c->bytes += (uint64_t)got;
	}
}

/* Drain the TAP into one batch; returns frames read, 0 when the TAP is empty. */
static uint32_t fill_batch(struct vmb_netvsp *n, struct rx_slot *s, struct rx_reader *rd,
			   uint32_t *lens, uint32_t *at)
{
	struct vmb_tap_counts c = {0};
	uint32_t k = 0;

	if (rd->uring)
		fill_uring(n, s, rd, lens, at, &k, &c);
	else
		fill_readv(n, s, lens, at, &k, &c);
	count_rx(n, (uint32_t)c.frames, c.bytes, (uint32_t)c.dropped);
	return k;
}

static void drop_one(struct vmb_netvsp *n)
{
	if (read(n->tap_fd, n->scratch, sizeof(n->scratch)) > 0)
		count_rx(n, 0, 0, 1);
}

static void *reader_main(void *arg)
{
	struct vmb_netvsp *n = arg;
	uint32_t lens[NETVSP_RX_BATCH], at[NETVSP_RX_BATCH];
	struct rx_reader rd = {.want = 4};

	rd.uring = vmb_tap_uring_init(&rd.ring) == 0;

	while (!atomic_load(&n->stop)) {
		struct pollfd p[2] = {{n->tap_fd, POLLIN, 0}, {n->stop_pipe[0], POLLIN, 0}};
		struct rx_slot *s;
		uint32_t k;

		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (atomic_load(&n->stop) || !(p[0].revents & POLLIN))
			continue;
		s = slot_get(n, false);
		if (!s) {
			bool ready;

			pthread_mutex_lock(&n->lock);
			ready = n->rndis_ready && n->filter && !n->link_down;
			pthread_mutex_unlock(&n->lock);
			/* Guest busy: let the TAP queue absorb it. Guest not listening: drop. */
			if (ready) {
				struct timespec ts = {0, 50000};

				nanosleep(&ts, NULL);
			} else {
				drop_one(n);
			}
			continue;
		}
		k = fill_batch(n, s, &rd, lens, at);
		if (k == 0)
			slot_put(s);
		else
			send_batch(n, s, lens, at, k, NVSP_RNDIS_CHANNEL_DATA, true);
	}
	if (rd.uring)
		io_uring_queue_exit(&rd.ring);
	return NULL;
}

int netvsp_reader_start(struct vmb_netvsp *n)
{
	int rc;

	atomic_store(&n->stop, false);
	rc = pthread_create(&n->reader, NULL, reader_main, n);
	n->reader_on = rc == 0;
	return -rc;
}

void netvsp_reader_stop(struct vmb_netvsp *n)
{
	char c = 0;

	if (!n->reader_on)
		return;
	atomic_store(&n->stop, true);
	if (write(n->stop_pipe[1], &c, 1) < 0)
		vmb_host_log(n->h, "netvsp: cannot wake the TAP reader");
	pthread_join(n->reader, NULL);
	n->reader_on = false;
	while (read(n->stop_pipe[0], &c, 1) == 1)
		;
}
