/*
 * Channel layer: two vmb_channel ends in one process wired back to back
 * (A's out ring is B's in ring and vice versa) over malloc'd or
 * double-mapped rings. Signals are counted and, per end, either dropped,
 * delivered synchronously or delivered by an interrupt thread.
 */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/chan.h"
#include "vmbus/ring.h"

#define PAGE	 4096u
#define MAX_RECS 256

enum deliver { DELIVER_NONE, DELIVER_DIRECT, DELIVER_THREAD };

struct rec {
	uint16_t type, flags;
	uint64_t id;
	uint32_t ext_len, len;
	uint8_t ext[1024];
	uint8_t data[1024];
	const void *data_ptr;
};

struct end {
	struct vmb_channel *ch;
	struct end *peer;
	enum deliver deliver;
	atomic_int signals;
	atomic_int logs;
	pthread_mutex_t log_lock;
	char last_log[256];
	sem_t sem;
	pthread_t thr;
	bool has_thr;
	atomic_bool stop;
	struct rec recs[MAX_RECS];
	atomic_int nrecs;
	bool echo; /* handler completes requests with their own payload */
};

struct opts {
	uint32_t size;
	bool dbl;
	bool copy_out;
	uint32_t max_packet;
	unsigned max_requests;
};

struct pair {
	void *hdr[2]; /* 0: A->B, 1: B->A */
	uint8_t *data[2];
	struct opts o;
	struct end a, b;
};

static uint8_t ram[16 * PAGE];

/* ---- harness --------------------------------------------------------- */

static void op_signal(void *ctx)
{
	struct end *e = ctx;

	atomic_fetch_add(&e->signals, 1);
	if (e->deliver == DELIVER_DIRECT && e->peer->ch)
		vmb_chan_interrupt(e->peer->ch);
	else if (e->deliver == DELIVER_THREAD)
		sem_post(&e->peer->sem);
}

static void *op_gpa(void *ctx, uint64_t gpa, size_t len)
{
	(void)ctx;
	if (gpa > sizeof(ram) || len > sizeof(ram) - gpa)
		return NULL;
	return ram + gpa;
}

static void op_log(void *ctx, const char *msg)
{
	struct end *e = ctx;

	pthread_mutex_lock(&e->log_lock);
	snprintf(e->last_log, sizeof(e->last_log), "%s", msg);
	pthread_mutex_unlock(&e->log_lock);
	atomic_fetch_add(&e->logs, 1);
}

static const struct vmb_chan_ops test_ops = {op_signal, op_gpa, op_log};

static void record(struct end *e, const struct vmb_packet *pkt)
{
	int i = atomic_load(&e->nrecs);
	struct rec *r;

	if (i >= MAX_RECS)
		return;
	r = &e->recs[i];
	r->type = pkt->type;
	r->flags = pkt->flags;
	r->id = pkt->trans_id;
	r->ext_len = pkt->ext_len;
	r->len = pkt->len;
	r->data_ptr = pkt->data;
	memcpy(r->ext, pkt->ext, pkt->ext_len < sizeof(r->ext) ? pkt->ext_len : sizeof(r->ext));
	memcpy(r->data, pkt->data, pkt->len < sizeof(r->data) ? pkt->len : sizeof(r->data));
	atomic_store(&e->nrecs, i + 1);
}

static void handler(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct end *e = arg;

	record(e, pkt);
	if (e->echo && (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED))
		vmb_chan_complete(ch, pkt->trans_id, pkt->data, pkt->len);
}

static void *irq_thread(void *arg)
{
	struct end *e = arg;

	for (;;) {
		sem_wait(&e->sem);
		if (atomic_load(&e->stop))
			return NULL;
		vmb_chan_interrupt(e->ch);
	}
}

static void start_irq_thread(struct end *e)
{
	assert_int_equal(pthread_create(&e->thr, NULL, irq_thread, e), 0);
	e->has_thr = true;
}

static void *map_double(uint32_t size)
{
	int fd = memfd_create("ring", 0);
	uint8_t *base;

	assert_true(fd >= 0);
	assert_int_equal(ftruncate(fd, size), 0);
	base = mmap(NULL, 2 * (size_t)size, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	assert_true(base != MAP_FAILED);
	assert_true(mmap(base, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd, 0) !=
		    MAP_FAILED);
	assert_true(mmap(base + size, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
			 0) != MAP_FAILED);
	close(fd);
	return base;
}

static void end_init(struct end *e, struct end *peer)
{
	memset(e, 0, sizeof(*e));
	e->peer = peer;
	pthread_mutex_init(&e->log_lock, NULL);
	sem_init(&e->sem, 0, 0);
}

static void chan_open(struct pair *p, struct end *e, int out, int in)
{
	struct vmb_chan_config cfg = {
	    .out_hdr = p->hdr[out],
	    .out_data = p->data[out],
	    .out_size = p->o.size,
	    .in_hdr = p->hdr[in],
	    .in_data = p->data[in],
	    .in_size = p->o.size,
	    .ring_flags = p->o.dbl ? VMB_RING_DOUBLE_MAPPED : 0,
	    .copy_out = p->o.copy_out,
	    .max_packet = p->o.max_packet,
	    .max_requests = p->o.max_requests,
	    .relid = e == &p->a ? 1 : 2,
	    .ops = &test_ops,
	    .ops_ctx = e,
	};

	assert_int_equal(vmb_chan_create(&cfg, &e->ch), 0);
}

static struct pair *pair_new(struct opts o)
{
	struct pair *p = calloc(1, sizeof(*p));

	p->o = o;
	for (int i = 0; i < 2; i++) {
		p->hdr[i] = aligned_alloc(PAGE, PAGE);
		vmb_ring_header_reset(p->hdr[i]);
		p->data[i] = o.dbl ? map_double(o.size) : aligned_alloc(PAGE, o.size);
		memset(p->data[i], 0, o.size);
	}
	end_init(&p->a, &p->b);
	end_init(&p->b, &p->a);
	chan_open(p, &p->a, 0, 1);
	chan_open(p, &p->b, 1, 0);
	return p;
}

static void end_stop(struct end *e)
{
	if (e->has_thr) {
		atomic_store(&e->stop, true);
		sem_post(&e->sem);
		pthread_join(e->thr, NULL);
		e->has_thr = false;
	}
}

static void pair_free(struct pair *p)
{
	end_stop(&p->a);
	end_stop(&p->b);
	p->a.deliver = p->b.deliver = DELIVER_NONE;
	vmb_chan_destroy(p->a.ch);
	vmb_chan_destroy(p->b.ch);
	for (int i = 0; i < 2; i++) {
		free(p->hdr[i]);
		if (p->o.dbl)
			munmap(p->data[i], 2 * (size_t)p->o.size);
		else
			free(p->data[i]);
	}
	free(p);
}

static struct pair *pair_default(void)
{
	return pair_new((struct opts){.size = 16 * PAGE});
}

/* Write a raw packet into ring `ri` behind the channels' backs. */
static void raw_send(struct pair *p, int ri, const void *pkt, size_t len)
{
	struct vmb_ring r;
	struct iovec v = {(void *)pkt, len};

	assert_int_equal(vmb_ring_init(&r, p->hdr[ri], p->data[ri], p->o.size,
				       p->o.dbl ? VMB_RING_DOUBLE_MAPPED : 0),
			 0);
	assert_int_equal(vmb_ring_write(&r, &v, 1), 0);
	assert_true(vmb_ring_commit(&r) >= 0);
}

static const struct vmpacket_descriptor *ring_desc(struct pair *p, int ri, uint32_t off)
{
	return (const struct vmpacket_descriptor *)(const void *)(p->data[ri] + off);
}

/* ---- sends parsed on the other side ---------------------------------- */

static void test_inband(void **state)
{
	struct pair *p = pair_default();
	const char msg[] = "hello, vmbus"; /* 13 bytes -> padded to 16 */
	struct rec *r;

	(void)state;
	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	assert_int_equal(vmb_chan_send(p->a.ch, msg, sizeof(msg), 77, VMB_SEND_COMPLETION), 0);
	assert_int_equal(atomic_load(&p->a.signals), 1);
	assert_int_equal(ring_desc(p, 0, 0)->offset8, 2);
	assert_int_equal(ring_desc(p, 0, 0)->len8, 4);
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(atomic_load(&p->b.nrecs), 1);
	r = &p->b.recs[0];
	assert_int_equal(r->type, VM_PKT_DATA_INBAND);
	assert_int_equal(r->flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	assert_int_equal(r->id, 77);
	assert_int_equal(r->ext_len, 0);
	assert_int_equal(r->len, 16);
	assert_memory_equal(r->data, msg, sizeof(msg));
	assert_int_equal(r->data[13] | r->data[14] | r->data[15], 0);
	pair_free(p);
}

static void test_pagebuf(void **state)
{
	struct pair *p = pair_default();
	struct vmbus_page_buffer pb[3] = {{100, 0, 0x1234}, {4096, 0, 0x99}, {16, 4080, 0x7}};
	const uint8_t payload[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	struct vmb_packet pkt;
	struct vmb_range_iter it;
	struct vmb_gpa_range gr;

	(void)state;
	assert_int_equal(vmb_chan_send_pagebuf(p->a.ch, pb, 3, payload, 8, 5, 0), 0);
	assert_int_equal(ring_desc(p, 0, 0)->offset8, (24 + 3 * 16) / 8);
	assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
	assert_int_equal(pkt.type, VM_PKT_DATA_USING_GPA_DIRECT);
	/* GPA-direct packets always ask for a completion. */
	assert_int_equal(pkt.flags, VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
	assert_int_equal(pkt.len, 8);
	assert_memory_equal(pkt.data, payload, 8);
	assert_int_equal(vmb_range_iter_init(&it, &pkt), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vmb_range_next(&it, &gr), 1);
		assert_int_equal(gr.len, pb[i].len);
		assert_int_equal(gr.offset, pb[i].offset);
		assert_int_equal(gr.pfn_count, 1);
		assert_int_equal(gr.pfns[0], pb[i].pfn);
	}
	assert_int_equal(vmb_range_next(&it, &gr), 0);
	/* Entries must stay inside their page; at most 32 of them. */
	pb[0].offset = 4000;
	assert_int_equal(vmb_chan_send_pagebuf(p->a.ch, pb, 1, NULL, 0, 0, 0), -EINVAL);
	assert_int_equal(vmb_chan_send_pagebuf(p->a.ch, pb, 33, NULL, 0, 0, 0), -EINVAL);
	pair_free(p);
}

static void test_mpb(void **state)
{
	struct pair *p = pair_default();
	uint64_t pfn1[3] = {10, 20, 30}, pfn2[1] = {0xabcdef};
	struct vmb_gpa_range r[2] = {{10000, 100, 3, pfn1}, {4096, 0, 1, pfn2}};
	struct vmb_packet pkt;
	struct vmb_range_iter it;
	struct vmb_gpa_range gr;

	(void)state;
	assert_int_equal(vmb_chan_send_mpb(p->a.ch, r, 2, "xyz", 3, 9, 0), 0);
	assert_int_equal(ring_desc(p, 0, 0)->offset8, (24 + 8 + 24 + 8 + 8) / 8);
	assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
	assert_int_equal(pkt.trans_id, 9);
	assert_int_equal(pkt.len, 8);
	assert_memory_equal(pkt.data, "xyz", 3);
	assert_int_equal(vmb_range_iter_init(&it, &pkt), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(vmb_range_next(&it, &gr), 1);
		assert_int_equal(gr.len, r[i].len);
		assert_int_equal(gr.offset, r[i].offset);
		assert_int_equal(gr.pfn_count, r[i].pfn_count);
		assert_memory_equal(gr.pfns, r[i].pfns, r[i].pfn_count * 8);
	}
	assert_int_equal(vmb_range_next(&it, &gr), 0);
	/* pfn_count must match offset + length. */
	r[0].pfn_count = 2;
	assert_int_equal(vmb_chan_send_mpb(p->a.ch, r, 1, NULL, 0, 0, 0), -EINVAL);
	r[0].pfn_count = 3;
	r[0].offset = 4096;
	assert_int_equal(vmb_chan_send_mpb(p->a.ch, r, 1, NULL, 0, 0, 0), -EINVAL);
	assert_int_equal(vmb_chan_send_mpb(p->a.ch, r, 0, NULL, 0, 0, 0), -EINVAL);
	pair_free(p);
}

static void test_completion_and_xfer(void **state)
{
	struct pair *p = pair_default();
	struct vmbus_xfer_page_range xr[2] = {{1500, 0}, {60, 4096}};
	struct vmb_send s = {.type = VM_PKT_DATA_USING_XFER_PAGES,
			     .trans_id = 3,
			     .xfer_pageset_id = 0xcafe,
			     .xfer = xr,
			     .nxfer = 2};
	struct vmb_packet pkt;
	uint32_t cnt;

	(void)state;
	assert_int_equal(vmb_chan_complete(p->b.ch, 1234, "ok", 2), 0);
	assert_int_equal(vmb_chan_submit(p->b.ch, &s, NULL), 0);
	/* A completion for an id A never issued is dropped, the next packet is returned. */
	assert_int_equal(vmb_chan_recv(p->a.ch, &pkt), 0);
	assert_int_equal(atomic_load(&p->a.logs), 1);
	assert_int_equal(ring_desc(p, 1, 0)->type, VM_PKT_COMP);
	assert_int_equal(ring_desc(p, 1, 0)->flags, 0);
	assert_int_equal(ring_desc(p, 1, 0)->trans_id, 1234);
	assert_int_equal(pkt.type, VM_PKT_DATA_USING_XFER_PAGES);
	assert_int_equal(pkt.ext_len, 8 + 16);
	assert_int_equal(((const uint16_t *)pkt.ext)[0], 0xcafe);
	memcpy(&cnt, (const uint8_t *)pkt.ext + 4, 4);
	assert_int_equal(cnt, 2);
	assert_memory_equal((const uint8_t *)pkt.ext + 8, xr, sizeof(xr));
	assert_int_equal(pkt.len, 0);
	assert_int_equal(vmb_chan_recv(p->a.ch, &pkt), -EAGAIN);
	assert_int_equal(vmb_chan_error(p->a.ch), 0);
	pair_free(p);
}

/* ---- transaction ids ------------------------------------------------- */

struct req_state {
	atomic_int calls;
	int status;
	uint32_t got;
	bool had_comp;
};

static void req_done(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp, int status)
{
	struct req_state *r = arg;

	(void)ch;
	r->status = status;
	r->had_comp = comp != NULL;
	if (comp && comp->len >= 4)
		memcpy(&r->got, comp->data, 4);
	atomic_fetch_add(&r->calls, 1);
}

static void test_many_requests_random_order(void **state)
{
	enum { N = 200 };
	struct pair *p = pair_new((struct opts){.size = 32 * PAGE, .max_requests = 256});
	static struct req_state rs[N];
	uint64_t ids[N];
	unsigned order[N];
	struct vmb_packet pkt;
	struct vmb_chan_stats st;

	(void)state;
	memset(rs, 0, sizeof(rs));
	for (uint32_t i = 0; i < N; i++)
		assert_int_equal(vmb_chan_request(p->a.ch, &i, 4, req_done, &rs[i]), 0);
	vmb_chan_get_stats(p->a.ch, &st);
	assert_int_equal(st.requests_in_flight, N);
	for (unsigned i = 0; i < N; i++) {
		uint32_t v;

		assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
		memcpy(&v, pkt.data, 4);
		assert_int_equal(v, i);
		assert_int_not_equal(pkt.trans_id, 0);
		assert_true(pkt.flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED);
		ids[i] = pkt.trans_id;
		for (unsigned j = 0; j < i; j++)
			assert_int_not_equal(ids[j], ids[i]);
		order[i] = i;
	}
	srand(42);
	for (unsigned i = N - 1; i > 0; i--) {
		unsigned j = (unsigned)rand() % (i + 1), t = order[i];

		order[i] = order[j];
		order[j] = t;
	}
	for (unsigned i = 0; i < N; i++) {
		uint32_t v = order[i] * 3;

		assert_int_equal(vmb_chan_complete(p->b.ch, ids[order[i]], &v, 4), 0);
	}
	vmb_chan_interrupt(p->a.ch);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(atomic_load(&rs[i].calls), 1);
		assert_int_equal(rs[i].status, 0);
		assert_int_equal(rs[i].got, i * 3);
	}
	vmb_chan_get_stats(p->a.ch, &st);
	assert_int_equal(st.requests_in_flight, 0);
	assert_int_equal(atomic_load(&p->a.logs), 0);
	pair_free(p);
}

static void test_forged_and_stale_ids(void **state)
{
	struct pair *p = pair_default();
	struct req_state rs = {0}, rs2 = {0};
	struct vmb_packet pkt;
	uint64_t id, id2;
	uint32_t v = 5;

	(void)state;
	assert_int_equal(vmb_chan_request(p->a.ch, "q", 1, req_done, &rs), 0);
	assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
	id = pkt.trans_id;
	/* Wrong generation, slot out of range, zero: all dropped with a log line. */
	vmb_chan_complete(p->b.ch, id ^ (1ull << 32), &v, 4);
	vmb_chan_complete(p->b.ch, (id & ~0xffffffffull) | 0xfffffff0u, &v, 4);
	vmb_chan_complete(p->b.ch, 0, &v, 4);
	vmb_chan_interrupt(p->a.ch);
	assert_int_equal(atomic_load(&rs.calls), 0);
	assert_int_equal(atomic_load(&p->a.logs), 3);
	assert_int_equal(vmb_chan_error(p->a.ch), 0);
	/* The real one still works, once. */
	vmb_chan_complete(p->b.ch, id, &v, 4);
	vmb_chan_complete(p->b.ch, id, &v, 4);
	vmb_chan_interrupt(p->a.ch);
	assert_int_equal(atomic_load(&rs.calls), 1);
	assert_int_equal(rs.got, 5);
	assert_int_equal(atomic_load(&p->a.logs), 4);
	/* The slot is reused with a new generation: the old id stays dead. */
	assert_int_equal(
	    vmb_chan_submit(p->a.ch, &(struct vmb_send){.done = req_done, .arg = &rs2}, &id2), 0);
	assert_int_not_equal(id2, id);
	assert_int_equal(id2 & 0xffffffffu, id & 0xffffffffu);
	vmb_chan_complete(p->b.ch, id, &v, 4);
	vmb_chan_interrupt(p->a.ch);
	assert_int_equal(atomic_load(&rs2.calls), 0);
	vmb_chan_complete(p->b.ch, id2, &v, 4);
	vmb_chan_interrupt(p->a.ch);
	assert_int_equal(atomic_load(&rs2.calls), 1);
	assert_int_equal(vmb_chan_error(p->a.ch), 0);
	pair_free(p);
}

static void test_request_table_full(void **state)
{
	struct pair *p = pair_new((struct opts){.size = 16 * PAGE, .max_requests = 2});
	struct req_state rs = {0};

	(void)state;
	assert_int_equal(vmb_chan_request(p->a.ch, "a", 1, req_done, &rs), 0);
	assert_int_equal(vmb_chan_request(p->a.ch, "b", 1, req_done, &rs), 0);
	assert_int_equal(vmb_chan_request(p->a.ch, "c", 1, req_done, &rs), -EAGAIN);
	assert_int_equal(vmb_chan_request(p->a.ch, "c", 1, NULL, NULL), -EINVAL);
	pair_free(p);
}

static void test_destroy_cancels(void **state)
{
	struct pair *p = pair_default();
	struct req_state rs[3] = {0};

	(void)state;
	for (int i = 0; i < 3; i++)
		assert_int_equal(vmb_chan_request(p->a.ch, "x", 1, req_done, &rs[i]), 0);
	vmb_chan_destroy(p->a.ch);
	p->a.ch = NULL;
	for (int i = 0; i < 3; i++) {
		assert_int_equal(atomic_load(&rs[i].calls), 1);
		assert_int_equal(rs[i].status, -ECANCELED);
		assert_false(rs[i].had_comp);
	}
	pair_free(p);
}

static void test_fail_is_sticky(void **state)
{
	struct pair *p = pair_default();
	struct req_state rs = {0};
	struct vmb_packet pkt;

	(void)state;
	assert_int_equal(vmb_chan_request(p->a.ch, "x", 1, req_done, &rs), 0);
	vmb_chan_fail(p->a.ch, "device says no");
	vmb_chan_fail(p->a.ch, "again");
	assert_int_equal(atomic_load(&p->a.logs), 1);
	assert_non_null(strstr(p->a.last_log, "device says no"));
	assert_int_equal(vmb_chan_error(p->a.ch), -EPROTO);
	assert_int_equal(rs.status, -EPROTO);
	assert_int_equal(atomic_load(&rs.calls), 1);
	assert_int_equal(vmb_chan_send(p->a.ch, "x", 1, 0, 0), -EPROTO);
	assert_int_equal(vmb_chan_recv(p->a.ch, &pkt), -EPROTO);
	vmb_chan_interrupt(p->a.ch);
	/* The peer is unaffected. */
	assert_int_equal(vmb_chan_send(p->b.ch, "x", 1, 0, 0), 0);
	assert_int_equal(vmb_chan_error(p->b.ch), 0);
	pair_free(p);
}

/* ---- flow control, batching, interrupts ------------------------------ */

struct sender {
	struct vmb_channel *ch;
	int n, rc;
	uint32_t flags;
};

static void *sender_thread(void *arg)
{
	struct sender *s = arg;
	uint8_t buf[200];

	for (int i = 0; i < s->n; i++) {
		memset(buf, i & 0xff, sizeof(buf));
		memcpy(buf, &i, sizeof(i));
		s->rc = vmb_chan_send(s->ch, buf, sizeof(buf), (uint64_t)i + 1, s->flags);
		if (s->rc < 0)
			break;
	}
	return NULL;
}

static void drain_in_order(struct pair *p, struct sender *s)
{
	struct vmb_packet pkt;
	int got = 0, v;

	while (got < s->n) {
		int rc = vmb_chan_recv(p->b.ch, &pkt);

		if (rc == -EAGAIN) {
			usleep(200);
			continue;
		}
		assert_int_equal(rc, 0);
		assert_int_equal(pkt.len, 200);
		memcpy(&v, pkt.data, sizeof(v));
		assert_int_equal(v, got);
		assert_int_equal(pkt.trans_id, (uint64_t)got + 1);
		got++;
	}
}

static void ring_full_case(enum deliver d)
{
	struct pair *p = pair_new((struct opts){.size = PAGE});
	struct sender s = {.ch = p->a.ch, .n = 500};
	struct vmb_chan_stats st;
	pthread_t t;

	/* B's release signal reaches A's interrupt, which wakes the sender;
	 * with DELIVER_NONE only the bounded wait gets it going again. */
	p->b.deliver = d;
	assert_int_equal(pthread_create(&t, NULL, sender_thread, &s), 0);
	usleep(20000);
	drain_in_order(p, &s);
	pthread_join(t, NULL);
	assert_int_equal(s.rc, 0);
	vmb_chan_get_stats(p->a.ch, &st);
	assert_true(st.tx_full > 0);
	assert_int_equal(st.tx_packets, 500);
	assert_int_equal(((struct vmbus_ring_header *)p->hdr[0])->pending_send_sz, 0);
	if (d == DELIVER_DIRECT)
		assert_true(atomic_load(&p->b.signals) > 0);
	pair_free(p);
}

static void test_ring_full_blocks_then_unblocks(void **state)
{
	(void)state;
	ring_full_case(DELIVER_DIRECT);
}

static void test_ring_full_without_signal(void **state)
{
	(void)state;
	ring_full_case(DELIVER_NONE);
}

static void test_ring_full_nowait(void **state)
{
	struct pair *p = pair_new((struct opts){.size = PAGE});
	uint8_t buf[200] = {0};
	int n = 0, rc;
	struct vmb_packet pkt;

	(void)state;
	while ((rc = vmb_chan_send(p->a.ch, buf, sizeof(buf), 0, VMB_SEND_NOWAIT)) == 0)
		n++;
	assert_int_equal(rc, -EAGAIN);
	assert_true(n > 10 && n < 20);
	/* Bigger than the ring can ever hold. */
	assert_int_equal(vmb_chan_send(p->a.ch, ram, 2 * PAGE, 0, 0), -EMSGSIZE);
	assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
	assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
	assert_int_equal(vmb_chan_send(p->a.ch, buf, sizeof(buf), 0, VMB_SEND_NOWAIT), 0);
	pair_free(p);
}

static uint32_t pending_of(struct pair *p, int ri)
{
	return __atomic_load_n(&((struct vmbus_ring_header *)p->hdr[ri])->pending_send_sz,
			       __ATOMIC_ACQUIRE);
}

/* A blocked sender asks for half the ring, so one signal frees many packets. */
static void test_blocked_sender_asks_half_ring(void **state)
{
	struct pair *p = pair_new((struct opts){.size = 4 * PAGE});
	struct sender s = {.ch = p->a.ch, .n = 200};
	struct vmb_packet pkt;
	int got = 0, signals_at_half = -1;
	pthread_t t;

	(void)state;
	p->b.deliver = DELIVER_DIRECT;
	assert_int_equal(pthread_create(&t, NULL, sender_thread, &s), 0);
	while (pending_of(p, 0) == 0)
		usleep(1000);
	assert_int_equal(pending_of(p, 0), 2 * PAGE + VMBUS_PKT_TRAILER_SIZE);
	/* A few packets free room for a few more, but not what was asked for. */
	for (; got < 5; got++)
		assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
	assert_int_equal(atomic_load(&p->b.signals), 0);
	while (got < s.n) {
		int rc = vmb_chan_recv(p->b.ch, &pkt);

		if (rc == -EAGAIN) {
			usleep(200);
			continue;
		}
		assert_int_equal(rc, 0);
		got++;
		/* Half the ring (8 KiB) is 36 packets of 224 ring bytes. */
		if (got == 40)
			signals_at_half = atomic_load(&p->b.signals);
	}
	pthread_join(t, NULL);
	assert_int_equal(s.rc, 0);
	assert_true(signals_at_half >= 1);
	/* Far fewer signals than packets that freed room. */
	assert_true(atomic_load(&p->b.signals) < 20);
	pair_free(p);
}

static struct pair *release_pair;
static uint32_t seen_read_index[MAX_RECS];

static void note_read_index(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct end *e = arg;
	int i = atomic_load(&e->nrecs);

	(void)ch;
	seen_read_index[i] = __atomic_load_n(
	    &((struct vmbus_ring_header *)release_pair->hdr[0])->read_index, __ATOMIC_ACQUIRE);
	record(e, pkt);
}

/* A long drain hands space back as it goes, not only at the end. */
static void test_drain_releases_every_quarter(void **state)
{
	struct pair *p = pair_new((struct opts){.size = 4 * PAGE});
	uint8_t buf[200] = {0};
	int n = 0;

	(void)state;
	release_pair = p;
	vmb_chan_set_handler(p->b.ch, note_read_index, &p->b);
	while (vmb_chan_send(p->a.ch, buf, sizeof(buf), 0, VMB_SEND_NOWAIT) == 0)
		n++;
	assert_true(n > 60);
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(atomic_load(&p->b.nrecs), n);
	assert_int_equal(seen_read_index[0], 0);
	/* Released after each quarter ring (4 KiB = 18.3 packets of 224 bytes). */
	assert_int_equal(seen_read_index[18], 0);
	assert_int_equal(seen_read_index[19], 19 * 224);
	assert_int_equal(seen_read_index[n - 1], (uint32_t)((n - 1) / 19 * 19 * 224));
	assert_int_equal(((struct vmbus_ring_header *)p->hdr[0])->read_index,
			 ((struct vmbus_ring_header *)p->hdr[0])->write_index);
	pair_free(p);
}

static void test_batching_one_signal(void **state)
{
	struct pair *p = pair_default();
	struct vmb_chan_stats st;

	(void)state;
	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	vmb_chan_batch_begin(p->a.ch);
	for (int i = 0; i < 5; i++)
		assert_int_equal(vmb_chan_send(p->a.ch, &i, sizeof(i), (uint64_t)i, 0), 0);
	assert_int_equal(atomic_load(&p->a.signals), 0);
	/* Nothing is visible before the batch ends. */
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(atomic_load(&p->b.nrecs), 0);
	assert_int_equal(vmb_chan_batch_end(p->a.ch), 0);
	assert_int_equal(atomic_load(&p->a.signals), 1);
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(atomic_load(&p->b.nrecs), 5);
	for (int i = 0; i < 5; i++)
		assert_int_equal(p->b.recs[i].id, (uint64_t)i);
	assert_int_equal(vmb_chan_batch_end(p->a.ch), -EINVAL);
	vmb_chan_get_stats(p->a.ch, &st);
	assert_int_equal(st.signals_sent, 1);
	assert_int_equal(st.tx_packets, 5);
	pair_free(p);
}

/* vmb_chan_submit_many: one commit and one signal, in order, partial on failure. */
static void test_submit_many(void **state)
{
	struct pair *p = pair_default();
	struct vmb_send s[6];
	struct iovec v[6];
	struct req_state rs;
	struct vmb_chan_stats st;
	uint32_t val[6];

	(void)state;
	memset(&rs, 0, sizeof(rs));
	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	p->b.echo = true;
	for (int i = 0; i < 6; i++) {
		val[i] = (uint32_t)i;
		v[i] = (struct iovec){&val[i], sizeof(val[i])};
		s[i] = (struct vmb_send){.iov = &v[i], .iovcnt = 1, .trans_id = (uint64_t)i + 1};
	}
	s[2].done = req_done; /* one request among them */
	s[2].arg = &rs;
	assert_int_equal(vmb_chan_submit_many(p->a.ch, s, 5), 5);
	assert_int_equal(atomic_load(&p->a.signals), 1);
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(atomic_load(&p->b.nrecs), 5);
	for (int i = 0; i < 5; i++) {
		assert_int_equal(p->b.recs[i].data[0], i);
		if (i != 2)
			assert_int_equal(p->b.recs[i].id, (uint64_t)i + 1);
	}
	/* The echo completed the request. */
	vmb_chan_interrupt(p->a.ch);
	assert_int_equal(atomic_load(&rs.calls), 1);
	assert_int_equal(rs.got, 2);
	vmb_chan_get_stats(p->a.ch, &st);
	assert_int_equal(st.tx_packets, 5);
	assert_int_equal(st.requests_in_flight, 0);
	/* A bad packet stops the batch; the ones before it are sent. */
	s[4].type = 0x55;
	assert_int_equal(vmb_chan_submit_many(p->a.ch, s + 3, 3), 1);
	assert_int_equal(vmb_chan_submit_many(p->a.ch, s + 4, 2), -EINVAL);
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(atomic_load(&p->b.nrecs), 6);
	assert_int_equal(p->b.recs[5].data[0], 3);
	assert_int_equal(vmb_chan_submit_many(p->a.ch, s, 0), 0);
	assert_int_equal(vmb_chan_error(p->a.ch), 0);
	pair_free(p);
}

/* A handler that answers inside a batch it closes at the end of the drain. */
struct drain_rec {
	struct end *e;
	int ends;
	int recs_at_end;
	bool open;
};

static void batch_handler(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct drain_rec *d = arg;

	record(d->e, pkt);
	if (!d->open) {
		vmb_chan_batch_begin(ch);
		d->open = true;
	}
	assert_int_equal(vmb_chan_complete(ch, pkt->trans_id, pkt->data, pkt->len), 0);
}

static void batch_drain_end(void *arg, struct vmb_channel *ch)
{
	struct drain_rec *d = arg;

	d->ends++;
	d->recs_at_end = atomic_load(&d->e->nrecs);
	if (d->open)
		assert_int_equal(vmb_chan_batch_end(ch), 0);
	d->open = false;
}

static void test_drain_end(void **state)
{
	struct pair *p = pair_default();
	struct drain_rec d = {.e = &p->b};
	struct vmb_chan_stats st;

	(void)state;
	vmb_chan_set_handler(p->b.ch, batch_handler, &d);
	vmb_chan_set_drain_end(p->b.ch, batch_drain_end, &d);
	vmb_chan_set_poll(p->b.ch, 0);
	/* An interrupt that finds nothing is not a drain. */
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(d.ends, 0);
	vmb_chan_batch_begin(p->a.ch);
	for (int i = 0; i < 6; i++)
		assert_int_equal(vmb_chan_send(p->a.ch, &i, sizeof(i), (uint64_t)i,
					       VMB_SEND_COMPLETION),
				 0);
	assert_int_equal(vmb_chan_batch_end(p->a.ch), 0);
	vmb_chan_interrupt(p->b.ch);
	/* Called once, after the handler saw all six; their six answers
	 * went out as one batch: one signal. */
	assert_int_equal(d.ends, 1);
	assert_int_equal(d.recs_at_end, 6);
	vmb_chan_get_stats(p->b.ch, &st);
	assert_int_equal(st.tx_packets, 6);
	assert_int_equal(st.signals_sent, 1);
	/* Turned off: no more calls. */
	vmb_chan_set_drain_end(p->b.ch, NULL, NULL);
	d.open = true; /* the handler must not open a batch nobody closes */
	assert_int_equal(vmb_chan_send(p->a.ch, "x", 1, 9, 0), 0);
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(d.ends, 1);
	assert_int_equal(atomic_load(&p->b.nrecs), 7);
	pair_free(p);
}

static void test_needless_interrupts_and_mask(void **state)
{
	struct pair *p = pair_default();
	struct vmb_chan_stats st;
	struct vmb_ring_state out, in;

	(void)state;
	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	vmb_chan_interrupt(p->b.ch);
	vmb_chan_get_stats(p->b.ch, &st);
	assert_int_equal(st.interrupts, 1);
	assert_int_equal(st.needless_interrupts, 1);
	assert_int_equal(vmb_chan_send(p->a.ch, "abc", 3, 0, 0), 0);
	assert_int_equal(vmb_chan_send(p->a.ch, "abc", 3, 0, 0), 0);
	/* Second send: ring was not empty, no second signal. */
	assert_int_equal(atomic_load(&p->a.signals), 1);
	vmb_chan_ring_state(p->a.ch, &out, NULL);
	assert_int_equal(out.write_index, 2 * (24 + 8));
	assert_int_equal(out.read_index, 0);
	assert_int_equal(out.size, 16 * PAGE);
	vmb_chan_interrupt(p->b.ch);
	vmb_chan_get_stats(p->b.ch, &st);
	assert_int_equal(st.needless_interrupts, 1);
	assert_int_equal(st.rx_packets, 2);
	vmb_chan_ring_state(p->b.ch, NULL, &in);
	assert_int_equal(in.read_index, 2 * (24 + 8));
	assert_int_equal(in.interrupt_mask, 0);
	assert_int_equal(in.avail_read, 0);
	pair_free(p);
}

/* ---- copy-out vs in place -------------------------------------------- */

static bool inside(const struct pair *p, int ri, const void *ptr)
{
	const uint8_t *q = ptr;

	return q >= p->data[ri] && q < p->data[ri] + 2 * (size_t)p->o.size;
}

static void read_mode_case(bool copy_out)
{
	struct pair *p = pair_new((struct opts){.size = PAGE, .dbl = true, .copy_out = copy_out});
	uint8_t buf[1000];

	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	/* Enough packets that some wrap around the end of the data area. */
	for (int i = 0; i < 12; i++) {
		memset(buf, i + 1, sizeof(buf));
		assert_int_equal(vmb_chan_send(p->a.ch, buf, sizeof(buf), (uint64_t)i, 0), 0);
		vmb_chan_interrupt(p->b.ch);
		assert_int_equal(atomic_load(&p->b.nrecs), i + 1);
		assert_int_equal(p->b.recs[i].len, 1000);
		assert_memory_equal(p->b.recs[i].data, buf, sizeof(buf));
		assert_int_equal(inside(p, 0, p->b.recs[i].data_ptr), !copy_out);
	}
	pair_free(p);
}

static void test_in_place(void **state)
{
	(void)state;
	read_mode_case(false);
}

static void test_copy_out(void **state)
{
	(void)state;
	read_mode_case(true);
}

/*
 * A ring that is not double mapped (a view into guest RAM): packets are
 * still read in place, except one that wraps around the end of the data
 * area, which is handed to the handler as a private copy.
 */
static void test_in_place_single_mapped(void **state)
{
	struct pair *p = pair_new((struct opts){.size = PAGE});
	const uint32_t stride = 16 + 1000 + 8; /* descriptor, payload, trailer */
	uint32_t off = 64;		       /* after the first, short packet */
	uint8_t buf[1000];
	int wrapped = 0;

	(void)state;
	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	assert_int_equal(vmb_chan_send(p->a.ch, buf, 40, 0, 0), 0);
	vmb_chan_interrupt(p->b.ch);
	for (int i = 1; i < 12; i++) {
		bool wraps = off + stride - 8 > PAGE;
		const uint8_t *at;

		memset(buf, i, sizeof(buf));
		assert_int_equal(vmb_chan_send(p->a.ch, buf, sizeof(buf), (uint64_t)i, 0), 0);
		vmb_chan_interrupt(p->b.ch);
		assert_int_equal(atomic_load(&p->b.nrecs), i + 1);
		assert_memory_equal(p->b.recs[i].data, buf, sizeof(buf));
		at = p->b.recs[i].data_ptr;
		assert_int_equal(at >= p->data[0] && at < p->data[0] + PAGE, !wraps);
		wrapped += wraps;
		off = (off + stride) % PAGE;
	}
	assert_true(wrapped >= 2);
	assert_int_equal(vmb_chan_error(p->b.ch), 0);
	pair_free(p);
}

/* ---- malformed packets ----------------------------------------------- */

struct raw_pkt {
	struct vmpacket_descriptor d;
	uint8_t body[120];
};

static void malformed_case(const struct raw_pkt *rp, size_t len, bool copy_out, const char *needle)
{
	struct pair *p = pair_new((struct opts){
	    .size = 4 * PAGE, .copy_out = copy_out, .dbl = !copy_out, .max_packet = 512});
	struct vmb_packet pkt;

	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	raw_send(p, 0, rp, len);
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(atomic_load(&p->b.nrecs), 0);
	assert_int_equal(vmb_chan_error(p->b.ch), -EPROTO);
	assert_int_equal(atomic_load(&p->b.logs), 1);
	assert_non_null(strstr(p->b.last_log, needle));
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), -EPROTO);
	assert_int_equal(vmb_chan_send(p->b.ch, "x", 1, 0, 0), -EPROTO);
	assert_int_equal(atomic_load(&p->b.logs), 1);
	/*
	 * Only that channel end broke. (No send on a: raw_send wrote behind
	 * its back, so a's private write index no longer matches the ring.)
	 */
	assert_int_equal(vmb_chan_error(p->a.ch), 0);
	pair_free(p);
}

static void malformed_all(bool copy_out)
{
	struct raw_pkt rp;
	uint32_t hdr[2] = {0, 1}, rng[2] = {8192, 0}; /* one range, 2 pfns, 1 present */
	static uint8_t big[1024];

	memset(&rp, 0, sizeof(rp));
	rp.d = (struct vmpacket_descriptor){.type = 8, .offset8 = 2, .len8 = 3};
	malformed_case(&rp, 24, copy_out, "type 0x8");
	rp.d = (struct vmpacket_descriptor){.type = 6, .offset8 = 2, .len8 = 3, .flags = 2};
	malformed_case(&rp, 24, copy_out, "flags 0x2");
	rp.d = (struct vmpacket_descriptor){.type = 9, .offset8 = 5, .len8 = 5, .flags = 1};
	memcpy(rp.body, hdr, 8);
	memcpy(rp.body + 8, rng, 8);
	malformed_case(&rp, 40, copy_out, "ranges");
	rp.d = (struct vmpacket_descriptor){.type = 7, .offset8 = 3, .len8 = 3, .flags = 1};
	memset(rp.body, 0, 8);
	rp.body[4] = 1; /* one xfer range, none present */
	malformed_case(&rp, 24, copy_out, "transfer-page");
	memset(big, 0, sizeof(big));
	((struct vmpacket_descriptor *)(void *)big)->type = 6;
	((struct vmpacket_descriptor *)(void *)big)->offset8 = 2;
	((struct vmpacket_descriptor *)(void *)big)->len8 = sizeof(big) / 8;
	malformed_case((const struct raw_pkt *)(const void *)big, sizeof(big), copy_out,
		       "max_packet");
}

static void test_malformed_copy_out(void **state)
{
	(void)state;
	malformed_all(true);
}

static void test_malformed_in_place(void **state)
{
	(void)state;
	malformed_all(false);
}

static void test_corrupt_ring_index(void **state)
{
	struct pair *p = pair_default();

	(void)state;
	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	((struct vmbus_ring_header *)p->hdr[0])->write_index = 13;
	vmb_chan_interrupt(p->b.ch);
	assert_int_equal(vmb_chan_error(p->b.ch), -EPROTO);
	assert_int_equal(atomic_load(&p->b.logs), 1);
	/*
	 * A's view of its own out ring: peer corrupted read_index. The ring
	 * re-reads the peer's index only when its cached view shows no room,
	 * so the corruption surfaces by the time the ring looks full.
	 */
	((struct vmbus_ring_header *)p->hdr[0])->read_index = 5;
	char blk[256] = {0};
	int rc = 0;

	for (int i = 0; i < 1000 && rc == 0; i++)
		rc = vmb_chan_send(p->a.ch, blk, sizeof(blk), 0, VMB_SEND_NOWAIT);
	assert_int_equal(rc, -EPROTO);
	assert_int_equal(vmb_chan_error(p->a.ch), -EPROTO);
	pair_free(p);
}

/* ---- synchronous requests -------------------------------------------- */

static void test_request_sync_interrupt_threads(void **state)
{
	struct pair *p = pair_default();
	char resp[32];
	size_t n = 0;

	(void)state;
	p->b.echo = true;
	vmb_chan_set_handler(p->b.ch, handler, &p->b);
	vmb_chan_set_handler(p->a.ch, handler, &p->a);
	p->a.deliver = p->b.deliver = DELIVER_THREAD;
	start_irq_thread(&p->a);
	start_irq_thread(&p->b);
	for (int i = 0; i < 50; i++) {
		char q[16];

		snprintf(q, sizeof(q), "ping %d", i);
		memset(resp, 0, sizeof(resp));
		assert_int_equal(
		    vmb_chan_request_sync(p->a.ch, q, strlen(q) + 1, resp, sizeof(resp), &n, 5000),
		    0);
		assert_int_equal(n, 8 * ((strlen(q) + 1 + 7) / 8));
		assert_string_equal(resp, q);
	}
	/* resp_cap smaller than the padded payload: truncated copy. */
	assert_int_equal(vmb_chan_request_sync(p->a.ch, "0123456789", 11, resp, 4, &n, 5000), 0);
	assert_int_equal(n, 4);
	pair_free(p);
}

struct poll_peer {
	struct vmb_channel *ch;
	atomic_bool stop;
	int served;
};

/* B in poll mode: send one unsolicited packet first, then echo requests. */
static void *poll_peer_thread(void *arg)
{
	struct poll_peer *pp = arg;
	struct vmb_packet pkt;

	while (!atomic_load(&pp->stop)) {
		if (vmb_chan_recv(pp->ch, &pkt) != 0) {
			usleep(100);
			continue;
		}
		vmb_chan_send(pp->ch, "unsolicited", 12, 0, 0);
		vmb_chan_complete(pp->ch, pkt.trans_id, pkt.data, pkt.len);
		pp->served++;
	}
	return NULL;
}

static void test_request_sync_poll_mode(void **state)
{
	struct pair *p = pair_default();
	struct poll_peer pp = {.ch = p->b.ch};
	struct vmb_packet pkt;
	pthread_t t;
	char resp[16];
	size_t n;

	(void)state;
	/* Nobody calls A's interrupt: request_sync must drain by itself. */
	assert_int_equal(pthread_create(&t, NULL, poll_peer_thread, &pp), 0);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(
		    vmb_chan_request_sync(p->a.ch, "hi", 3, resp, sizeof(resp), &n, 5000), 0);
		assert_string_equal(resp, "hi");
	}
	atomic_store(&pp.stop, true);
	pthread_join(t, NULL);
	assert_int_equal(pp.served, 3);
	/* The unsolicited packets that came first were kept, in order. */
	for (int i = 0; i < 3; i++) {
		assert_int_equal(vmb_chan_recv(p->a.ch, &pkt), 0);
		assert_string_equal((const char *)pkt.data, "unsolicited");
	}
	assert_int_equal(vmb_chan_recv(p->a.ch, &pkt), -EAGAIN);
	pair_free(p);
}

static void test_request_sync_timeout(void **state)
{
	struct pair *p = pair_default();
	struct vmb_chan_stats st;
	struct vmb_packet pkt;
	char resp[8];
	size_t n;

	(void)state;
	assert_int_equal(vmb_chan_request_sync(p->a.ch, "hi", 3, resp, sizeof(resp), &n, 30),
			 -ETIMEDOUT);
	vmb_chan_get_stats(p->a.ch, &st);
	assert_int_equal(st.requests_in_flight, 0);
	/* The late answer finds no requester. */
	assert_int_equal(vmb_chan_recv(p->b.ch, &pkt), 0);
	vmb_chan_complete(p->b.ch, pkt.trans_id, "late", 4);
	assert_int_equal(vmb_chan_recv(p->a.ch, &pkt), -EAGAIN);
	assert_int_equal(atomic_load(&p->a.logs), 1);
	assert_int_equal(vmb_chan_error(p->a.ch), 0);
	pair_free(p);
}

/* ---- GPA-range iterator on hand-built extensions --------------------- */

static int iter_all(const void *ext, uint32_t ext_len)
{
	struct vmb_packet pkt = {
	    .type = VM_PKT_DATA_USING_GPA_DIRECT, .ext = ext, .ext_len = ext_len};
	struct vmb_range_iter it;
	struct vmb_gpa_range r;
	int rc = vmb_range_iter_init(&it, &pkt), n = 0;

	while (rc == 0 && (rc = vmb_range_next(&it, &r)) == 1) {
		n++;
		rc = 0;
	}
	return rc < 0 ? rc : n;
}

static void test_range_iter(void **state)
{
	uint64_t ext[8] = {0};
	uint32_t *w = (uint32_t *)(void *)ext;
	struct vmb_packet inband = {.type = VM_PKT_DATA_INBAND};
	struct vmb_range_iter it;

	(void)state;
	assert_int_equal(vmb_range_iter_init(&it, &inband), -EBADMSG);
	assert_int_equal(iter_all(ext, 8), -EBADMSG); /* range_count 0 */
	w[1] = 2;
	w[2] = 4096; /* 1 pfn */
	w[3] = 0;
	w[6] = 2; /* 4095 + 2 crosses a page: 2 pfns, 1 present */
	w[7] = 4095;
	assert_int_equal(iter_all(ext, 40), -EBADMSG);
	w[6] = 1; /* 4095 + 1 ends on the boundary: 1 pfn */
	assert_int_equal(iter_all(ext, 40), 2);
	w[7] = 4096; /* offset must be inside the first page */
	assert_int_equal(iter_all(ext, 40), -EBADMSG);
	w[7] = 0;
	w[6] = 0; /* empty range */
	assert_int_equal(iter_all(ext, 40), -EBADMSG);
	w[6] = 8192; /* 2 pfns, only 1 present */
	assert_int_equal(iter_all(ext, 40), -EBADMSG);
	assert_int_equal(iter_all(ext, 48), 2);
	w[1] = 3; /* count says more than there is */
	assert_int_equal(iter_all(ext, 48), -EBADMSG);
}

static void test_gpa_and_config(void **state)
{
	struct pair *p = pair_default();
	struct vmb_chan_config bad = {0};
	struct vmb_channel *ch;

	(void)state;
	assert_ptr_equal(vmb_chan_gpa(p->a.ch, PAGE, 16), ram + PAGE);
	assert_null(vmb_chan_gpa(p->a.ch, sizeof(ram), 1));
	assert_int_equal(vmb_chan_relid(p->b.ch), 2);
	assert_int_equal(vmb_chan_create(&bad, &ch), -EINVAL);
	pair_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_inband),
	    cmocka_unit_test(test_pagebuf),
	    cmocka_unit_test(test_mpb),
	    cmocka_unit_test(test_completion_and_xfer),
	    cmocka_unit_test(test_many_requests_random_order),
	    cmocka_unit_test(test_forged_and_stale_ids),
	    cmocka_unit_test(test_request_table_full),
	    cmocka_unit_test(test_destroy_cancels),
	    cmocka_unit_test(test_fail_is_sticky),
	    cmocka_unit_test(test_ring_full_blocks_then_unblocks),
	    cmocka_unit_test(test_ring_full_without_signal),
	    cmocka_unit_test(test_ring_full_nowait),
	    cmocka_unit_test(test_blocked_sender_asks_half_ring),
	    cmocka_unit_test(test_drain_releases_every_quarter),
	    cmocka_unit_test(test_batching_one_signal),
	    cmocka_unit_test(test_submit_many),
	    cmocka_unit_test(test_drain_end),
	    cmocka_unit_test(test_needless_interrupts_and_mask),
	    cmocka_unit_test(test_in_place),
	    cmocka_unit_test(test_copy_out),
	    cmocka_unit_test(test_in_place_single_mapped),
	    cmocka_unit_test(test_malformed_copy_out),
	    cmocka_unit_test(test_malformed_in_place),
	    cmocka_unit_test(test_corrupt_ring_index),
	    cmocka_unit_test(test_request_sync_interrupt_threads),
	    cmocka_unit_test(test_request_sync_poll_mode),
	    cmocka_unit_test(test_request_sync_timeout),
	    cmocka_unit_test(test_range_iter),
	    cmocka_unit_test(test_gpa_and_config),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
