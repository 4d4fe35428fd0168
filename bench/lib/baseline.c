/*
 * Baselines measured in the same run as every figure: what the hardware and
 * the kernel can do without any protocol, on the same two CPUs.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "bench.h"

#define LINE 64

/* Two threads, one per CPU, released together. */
struct pair {
	double secs;
	uint32_t size;
	atomic_int ready;
	atomic_bool stop;
	double t0, t1;
	uint64_t count;
	void *ctx;
};

static void start_line(struct pair *p)
{
	atomic_fetch_add(&p->ready, 1);
	while (atomic_load(&p->ready) < 2)
		bench_relax();
}

struct pair_thread {
	struct pair *p;
	int cpu;
	void (*fn)(struct pair *);
};

static void *pair_main(void *arg)
{
	struct pair_thread *t = arg;

	bench_pin(t->cpu);
	start_line(t->p);
	t->fn(t->p);
	return NULL;
}

static void run_pair(struct pair *p, void (*a)(struct pair *), void (*b)(struct pair *))
{
	struct pair_thread ta = {p, BENCH_CPU_A, a}, tb = {p, BENCH_CPU_B, b};
	pthread_t ha, hb;

	if (pthread_create(&ha, NULL, pair_main, &ta) || pthread_create(&hb, NULL, pair_main, &tb))
		bench_die("pthread_create");
	pthread_join(ha, NULL);
	pthread_join(hb, NULL);
}

/* ---- memcpy ---------------------------------------------------------- */

double bl_memcpy(double secs, uint32_t size, uint32_t ring_size)
{
	uint8_t *dst = malloc(ring_size), *src = malloc(size);
	uint32_t off = 0;
	uint64_t n = 0;
	double t0, end;

	if (!dst || !src)
		bench_die("malloc");
	memset(src, 0x5a, size);
	memset(dst, 0, ring_size);
	bench_pin(BENCH_CPU_A);
	t0 = bench_now();
	end = t0 + secs;
	for (; (n & 255) || bench_now() < end; n++) {
		memcpy(dst + off, src, size);
		/* dst is never read: keep the copy */
		__asm__ volatile("" : : "r"(dst) : "memory");
		off = off + 2 * size > ring_size ? 0 : off + size;
	}
	t0 = bench_now() - t0;
	free(dst);
	free(src);
	return (double)n * size / t0 / 1e6;
}

/* ---- ideal SPSC copy ring -------------------------------------------- */

struct ideal {
	_Alignas(LINE) atomic_uint_fast64_t head; /* consumed bytes */
	_Alignas(LINE) atomic_uint_fast64_t tail; /* produced bytes */
	_Alignas(LINE) uint8_t *buf;
	uint32_t size;
};

static void ideal_copy(uint8_t *ring, uint32_t rsize, uint64_t pos, void *p, uint32_t n, bool in)
{
	uint32_t off = (uint32_t)(pos % rsize), first = rsize - off < n ? rsize - off : n;

	if (in) {
		memcpy(ring + off, p, first);
		memcpy(ring, (uint8_t *)p + first, n - first);
	} else {
		memcpy(p, ring + off, first);
		memcpy((uint8_t *)p + first, ring, n - first);
	}
}

static void ideal_producer(struct pair *p)
{
	struct ideal *r = p->ctx;
	uint8_t *msg = malloc(p->size);
	uint64_t tail = 0, head = 0, n = 0;
	double end;

	memset(msg, 0x5a, p->size);
	p->t0 = bench_now();
	end = p->t0 + p->secs;
	for (; (n & 255) || bench_now() < end; n++) {
		while (tail + p->size - head > r->size) {
			head = atomic_load_explicit(&r->head, memory_order_acquire);
			bench_relax();
		}
		ideal_copy(r->buf, r->size, tail, msg, p->size, true);
		tail += p->size;
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	}
	atomic_store(&p->stop, true);
	free(msg);
}

static void ideal_consumer(struct pair *p)
{
	struct ideal *r = p->ctx;
	uint8_t *msg = malloc(p->size);
	uint64_t tail = 0, head = 0;

	for (;;) {
		if (head == tail) {
			tail = atomic_load_explicit(&r->tail, memory_order_acquire);
			if (head == tail) {
				if (atomic_load(&p->stop) && atomic_load(&r->tail) == head)
					break;
				bench_relax();
				continue;
			}
		}
		ideal_copy(r->buf, r->size, head, msg, p->size, false);
		__asm__ volatile("" : : "r"(msg) : "memory");
		head += p->size;
		atomic_store_explicit(&r->head, head, memory_order_release);
		p->count++;
	}
	p->t1 = bench_now();
	free(msg);
}

double bl_ideal_ring(double secs, uint32_t size, uint32_t ring_size)
{
	struct pair p = {.secs = secs, .size = size};
	struct ideal *r = aligned_alloc(LINE, sizeof(*r));

	if (!r || !(r->buf = aligned_alloc(4096, ring_size)))
		bench_die("aligned_alloc");
	atomic_init(&r->head, 0);
	atomic_init(&r->tail, 0);
	r->size = ring_size;
	memset(r->buf, 0, ring_size);
	p.ctx = r;
	run_pair(&p, ideal_producer, ideal_consumer);
	free(r->buf);
	free(r);
	return (double)p.count * size / (p.t1 - p.t0) / 1e6;
}

/* ---- AF_UNIX socketpair streaming ------------------------------------ */

static void sock_writer(struct pair *p)
{
	int *fd = p->ctx;
	uint8_t *msg = calloc(1, p->size);
	double end;

	p->t0 = bench_now();
	end = p->t0 + p->secs;
	for (uint64_t n = 0; (n & 63) || bench_now() < end; n++)
		for (uint32_t off = 0; off < p->size;) {
			ssize_t k = write(fd[0], msg + off, p->size - off);

			if (k <= 0 && errno != EINTR)
				bench_die("write");
			off += k > 0 ? (uint32_t)k : 0;
		}
	shutdown(fd[0], SHUT_WR);
	free(msg);
}

static void sock_reader(struct pair *p)
{
	int *fd = p->ctx;
	uint8_t *msg = malloc(p->size);
	uint64_t bytes = 0;
	ssize_t k;

	while ((k = read(fd[1], msg, p->size)) != 0) {
		if (k < 0 && errno != EINTR)
			bench_die("read");
		bytes += k > 0 ? (uint64_t)k : 0;
	}
	p->t1 = bench_now();
	p->count = bytes / p->size;
	free(msg);
}

double bl_socketpair(double secs, uint32_t size)
{
	struct pair p = {.secs = secs, .size = size};
	int fd[2];

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, fd))
		bench_die("socketpair");
	p.ctx = fd;
	run_pair(&p, sock_writer, sock_reader);
	close(fd[0]);
	close(fd[1]);
	return (double)p.count * size / (p.t1 - p.t0) / 1e6;
}

/* ---- cache-line ping-pong -------------------------------------------- */

/* Ping stores odd values, pong answers with the next even one. */
static void line_ping(struct pair *p)
{
	atomic_uint_fast64_t *l = p->ctx;
	uint64_t n = 0;
	double end;

	p->t0 = bench_now();
	end = p->t0 + p->secs;
	for (; (n & 1023) || bench_now() < end; n++) {
		atomic_store_explicit(l, 2 * n + 1, memory_order_release);
		while (atomic_load_explicit(l, memory_order_acquire) != 2 * n + 2)
			bench_relax();
	}
	p->t1 = bench_now();
	p->count = n;
	atomic_store(l, UINT64_MAX);
}

static void line_pong(struct pair *p)
{
	atomic_uint_fast64_t *l = p->ctx;

	for (;;) {
		uint64_t v = atomic_load_explicit(l, memory_order_acquire);

		if (v == UINT64_MAX)
			break;
		if (v & 1)
			atomic_store_explicit(l, v + 1, memory_order_release);
		else
			bench_relax();
	}
}

double bl_pingpong_line(double secs)
{
	struct pair p = {.secs = secs};
	atomic_uint_fast64_t *l = aligned_alloc(LINE, LINE);

	if (!l)
		bench_die("aligned_alloc");
	atomic_init(l, 0);
	p.ctx = l;
	run_pair(&p, line_ping, line_pong);
	free(l);
	return (p.t1 - p.t0) * 1e9 / (double)p.count;
}

/* ---- eventfd ping-pong ------------------------------------------------ */

static void efd_kick(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) != sizeof(one))
		bench_die("eventfd write");
}

static uint64_t efd_wait(int fd)
{
	uint64_t v;

	if (read(fd, &v, sizeof(v)) != sizeof(v))
		bench_die("eventfd read");
	return v;
}

static void efd_ping(struct pair *p)
{
	int *fd = p->ctx;
	uint64_t n = 0;
	double end;

	p->t0 = bench_now();
	end = p->t0 + p->secs;
	for (; (n & 15) || bench_now() < end; n++) {
		efd_kick(fd[0]);
		efd_wait(fd[1]);
	}
	p->t1 = bench_now();
	p->count = n;
	atomic_store(&p->stop, true);
	efd_kick(fd[0]);
}

static void efd_pong(struct pair *p)
{
	int *fd = p->ctx;

	for (;;) {
		efd_wait(fd[0]);
		if (atomic_load(&p->stop))
			break;
		efd_kick(fd[1]);
	}
}

double bl_pingpong_eventfd(double secs)
{
	struct pair p = {.secs = secs};
	int fd[2] = {eventfd(0, 0), eventfd(0, 0)};

	if (fd[0] < 0 || fd[1] < 0)
		bench_die("eventfd");
	p.ctx = fd;
	run_pair(&p, efd_ping, efd_pong);
	close(fd[0]);
	close(fd[1]);
	return (p.t1 - p.t0) * 1e9 / (double)p.count;
}
