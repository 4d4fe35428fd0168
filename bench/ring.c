/*
 * Ring benchmark: one producer and one consumer thread on different CPUs
 * over a double-mapped 256 KiB ring, beside baselines measured in the same
 * run (memcpy on one core, an AF_UNIX socketpair between the same CPUs).
 *
 *   bench_ring [--quick] [--batch N] [--secs S]
 *
 * Streaming: the producer commits once per N packets or quarter ring (and
 * when the ring is full), the consumer copies every packet out
 * (vmb_ring_read) and releases at the same rate (and when the ring is empty). Both ends poll;
 * "sig/pkt" is how often the producer's commit would have had to interrupt the consumer under the
 * Hyper-V rule. Round trip: two rings, ping-pong of one 64-byte packet, both ends polling.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "vmbus/ring.h"

#define RING_SIZE   (256u * 1024u)
#define MAX_PAYLOAD 16384u
#define RTT_PAYLOAD 64u
/* Batches are also cut at a quarter ring so both ends keep overlapping. */
#define BATCH_BYTES (RING_SIZE / 4)

static const uint32_t sizes[] = {64, 256, 1024, 4096, 16384};

struct opts {
	double secs; /* per figure */
	unsigned batch;
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#elif defined(__aarch64__)
	__asm__ volatile("yield");
#endif
}

static bool pin_failed;

static void pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		pin_failed = true;
}

static _Noreturn void die(const char *what)
{
	perror(what);
	exit(1);
}

/* ---- a double-mapped ring ---------------------------------------------- */

struct dm_ring {
	struct vmbus_ring_header *hdr;
	uint8_t *base;
	int fd;
};

static void dm_open(struct dm_ring *m, struct vmb_ring *prod, struct vmb_ring *cons)
{
	uint8_t *lo;

	m->fd = memfd_create("bench-ring", 0);
	if (m->fd < 0 || ftruncate(m->fd, RING_SIZE))
		die("memfd");
	m->base = mmap(NULL, 2 * RING_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->base == MAP_FAILED)
		die("mmap");
	for (lo = m->base; lo < m->base + 2 * RING_SIZE; lo += RING_SIZE)
		if (mmap(lo, RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m->fd, 0) !=
		    lo)
			die("mmap fixed");
	m->hdr = aligned_alloc(4096, sizeof(*m->hdr));
	if (!m->hdr)
		die("aligned_alloc");
	vmb_ring_header_reset(m->hdr);
	if (vmb_ring_init(prod, m->hdr, m->base, RING_SIZE, VMB_RING_DOUBLE_MAPPED) ||
	    vmb_ring_init(cons, m->hdr, m->base, RING_SIZE, VMB_RING_DOUBLE_MAPPED))
		die("vmb_ring_init");
}

static void dm_close(struct dm_ring *m)
{
	munmap(m->base, 2 * RING_SIZE);
	close(m->fd);
	free(m->hdr);
}

/* Packet = descriptor + payload; trans_id 0 tells the reader to stop. */
struct pkt_out {
	struct vmpacket_descriptor d;
	struct iovec iov[2];
};

static void pkt_init(struct pkt_out *p, const uint8_t *payload, uint32_t plen)
{
	p->d = (struct vmpacket_descriptor){
	    .type = VM_PKT_DATA_INBAND,
	    .offset8 = 2,
	    .len8 = (uint16_t)((sizeof(p->d) + plen + 7) / 8),
	    .trans_id = 1,
	};
	p->iov[0] = (struct iovec){&p->d, sizeof(p->d)};
	p->iov[1] = (struct iovec){(void *)payload, plen};
}

static void ring_put(struct vmb_ring *r, struct pkt_out *p)
{
	int rc;

	while ((rc = vmb_ring_write(r, p->iov, 2)) == -EAGAIN) {
		vmb_ring_commit(r);
		cpu_relax();
	}
	if (rc) {
		fprintf(stderr, "vmb_ring_write: %s\n", strerror(-rc));
		exit(1);
	}
}

/* Spin for the next packet; returns its trans_id. */
static uint64_t ring_get(struct vmb_ring *r, uint8_t *buf)
{
	struct vmb_ring_pkt pkt;
	int rc;

	while ((rc = vmb_ring_read(r, buf, MAX_PAYLOAD + 64, &pkt)) == -EAGAIN) {
		vmb_ring_release(r);
		cpu_relax();
	}
	if (rc) {
		fprintf(stderr, "vmb_ring_read: %s\n", strerror(-rc));
		exit(1);
	}
	return pkt.desc.trans_id;
}

/* ---- two pinned threads --------------------------------------------------- */

struct run {
	const struct opts *o;
	uint32_t plen;
	atomic_int ready;
	double t0, t1;
	uint64_t count;
	/* ring */
	struct dm_ring m[2];
	struct vmb_ring prod[2], cons[2];
	/* socketpair */
	int fd[2];
};

static void start_line(struct run *rn)
{
	atomic_fetch_add(&rn->ready, 1);
	while (atomic_load(&rn->ready) < 2)
		cpu_relax();
}

static void run2(struct run *rn, void *(*a)(void *), void *(*b)(void *))
{
	pthread_t ta, tb;

	atomic_store(&rn->ready, 0);
	if (pthread_create(&ta, NULL, a, rn) || pthread_create(&tb, NULL, b, rn))
		die("pthread_create");
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
}

/* ---- ring streaming ------------------------------------------------------- */

/* One commit (or release) per o->batch packets or BATCH_BYTES. */
static unsigned batch_of(const struct run *rn)
{
	unsigned by_bytes = BATCH_BYTES / (rn->plen + 24);

	if (by_bytes == 0)
		by_bytes = 1;
	return rn->o->batch < by_bytes ? rn->o->batch : by_bytes;
}

static void *stream_producer(void *arg)
{
	struct run *rn = arg;
	static uint8_t payload[MAX_PAYLOAD];
	unsigned batch = batch_of(rn);
	struct pkt_out p;
	double end;

	pin(0);
	memset(payload, 0x5a, sizeof(payload));
	pkt_init(&p, payload, rn->plen);
	start_line(rn);
	rn->t0 = now();
	end = rn->t0 + rn->o->secs;
	for (uint64_t n = 1;; n++) {
		if ((n & 255) == 0 && now() > end)
			break;
		ring_put(&rn->prod[0], &p);
		if (n % batch == 0)
			vmb_ring_commit(&rn->prod[0]);
	}
	p.d.trans_id = 0;
	ring_put(&rn->prod[0], &p);
	vmb_ring_commit(&rn->prod[0]);
	return NULL;
}

static void *stream_consumer(void *arg)
{
	struct run *rn = arg;
	uint8_t *buf = malloc(MAX_PAYLOAD + 64);
	unsigned batch = batch_of(rn);
	uint64_t n = 0;

	pin(1);
	start_line(rn);
	while (ring_get(&rn->cons[0], buf) != 0)
		if (++n % batch == 0)
			vmb_ring_release(&rn->cons[0]);
	vmb_ring_release(&rn->cons[0]);
	rn->t1 = now();
	rn->count = n;
	free(buf);
	return NULL;
}

struct stream_result {
	double mbps, pps, sig_per_pkt;
};

static struct stream_result bench_ring_stream(const struct opts *o, uint32_t plen)
{
	struct run rn = {.o = o, .plen = plen};
	struct stream_result res;
	double dt;

	dm_open(&rn.m[0], &rn.prod[0], &rn.cons[0]);
	run2(&rn, stream_producer, stream_consumer);
	dt = rn.t1 - rn.t0;
	res.pps = (double)rn.count / dt;
	res.mbps = res.pps * plen / 1e6;
	res.sig_per_pkt = (double)rn.prod[0].stats.signals / (double)rn.prod[0].stats.packets;
	dm_close(&rn.m[0]);
	return res;
}

/* ---- ring round trip ------------------------------------------------------ */

static void *rtt_ping(void *arg)
{
	struct run *rn = arg;
	uint8_t payload[RTT_PAYLOAD] = {0}, *buf = malloc(MAX_PAYLOAD + 64);
	struct pkt_out p;
	double end;
	uint64_t n;

	pin(0);
	pkt_init(&p, payload, RTT_PAYLOAD);
	start_line(rn);
	rn->t0 = now();
	end = rn->t0 + rn->o->secs;
	for (n = 0; (n & 63) || now() < end; n++) {
		ring_put(&rn->prod[0], &p);
		vmb_ring_commit(&rn->prod[0]);
		ring_get(&rn->cons[1], buf);
		vmb_ring_release(&rn->cons[1]);
	}
	rn->t1 = now();
	rn->count = n;
	p.d.trans_id = 0;
	ring_put(&rn->prod[0], &p);
	vmb_ring_commit(&rn->prod[0]);
	free(buf);
	return NULL;
}

static void *rtt_pong(void *arg)
{
	struct run *rn = arg;
	uint8_t payload[RTT_PAYLOAD] = {0}, *buf = malloc(MAX_PAYLOAD + 64);
	struct pkt_out p;

	pin(1);
	pkt_init(&p, payload, RTT_PAYLOAD);
	start_line(rn);
	while (ring_get(&rn->cons[0], buf) != 0) {
		vmb_ring_release(&rn->cons[0]);
		ring_put(&rn->prod[1], &p);
		vmb_ring_commit(&rn->prod[1]);
	}
	free(buf);
	return NULL;
}

static double bench_ring_rtt(const struct opts *o)
{
	struct run rn = {.o = o};
	double ns;

	dm_open(&rn.m[0], &rn.prod[0], &rn.cons[0]);
	dm_open(&rn.m[1], &rn.prod[1], &rn.cons[1]);
	run2(&rn, rtt_ping, rtt_pong);
	ns = (rn.t1 - rn.t0) * 1e9 / (double)rn.count;
	dm_close(&rn.m[0]);
	dm_close(&rn.m[1]);
	return ns;
}

/* ---- socketpair baselines ------------------------------------------------- */

static void write_all(int fd, const uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			die("write");
		p += k;
		n -= (size_t)k;
	}
}

/* false on EOF */
static bool read_all(int fd, uint8_t *p, size_t n)
{
	while (n) {
		ssize_t k = read(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			die("read");
		if (k == 0)
			return false;
		p += k;
		n -= (size_t)k;
	}
	return true;
}

static void *sock_writer(void *arg)
{
	struct run *rn = arg;
	static uint8_t payload[MAX_PAYLOAD];
	double end;

	pin(0);
	start_line(rn);
	rn->t0 = now();
	end = rn->t0 + rn->o->secs;
	for (uint64_t n = 1; (n & 63) || now() < end; n++)
		write_all(rn->fd[0], payload, rn->plen);
	shutdown(rn->fd[0], SHUT_WR);
	return NULL;
}

static void *sock_reader(void *arg)
{
	struct run *rn = arg;
	uint8_t *buf = malloc(MAX_PAYLOAD);
	uint64_t n = 0;

	pin(1);
	start_line(rn);
	while (read_all(rn->fd[1], buf, rn->plen))
		n++;
	rn->t1 = now();
	rn->count = n;
	free(buf);
	return NULL;
}

static double bench_sock_stream(const struct opts *o, uint32_t plen)
{
	struct run rn = {.o = o, .plen = plen};

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, rn.fd))
		die("socketpair");
	run2(&rn, sock_writer, sock_reader);
	close(rn.fd[0]);
	close(rn.fd[1]);
	return (double)rn.count * plen / (rn.t1 - rn.t0) / 1e6;
}

static void *sock_ping(void *arg)
{
	struct run *rn = arg;
	uint8_t buf[RTT_PAYLOAD] = {0};
	double end;
	uint64_t n;

	pin(0);
	start_line(rn);
	rn->t0 = now();
	end = rn->t0 + rn->o->secs;
	for (n = 0; (n & 63) || now() < end; n++) {
		write_all(rn->fd[0], buf, sizeof(buf));
		if (!read_all(rn->fd[0], buf, sizeof(buf)))
			die("pong EOF");
	}
	rn->t1 = now();
	rn->count = n;
	shutdown(rn->fd[0], SHUT_WR);
	return NULL;
}

static void *sock_pong(void *arg)
{
	struct run *rn = arg;
	uint8_t buf[RTT_PAYLOAD];

	pin(1);
	start_line(rn);
	while (read_all(rn->fd[1], buf, sizeof(buf)))
		write_all(rn->fd[1], buf, sizeof(buf));
	return NULL;
}

static double bench_sock_rtt(const struct opts *o)
{
	struct run rn = {.o = o};

	if (socketpair(AF_UNIX, SOCK_STREAM, 0, rn.fd))
		die("socketpair");
	run2(&rn, sock_ping, sock_pong);
	close(rn.fd[0]);
	close(rn.fd[1]);
	return (rn.t1 - rn.t0) * 1e9 / (double)rn.count;
}

/* ---- memcpy baseline: the same bytes into a ring-sized buffer, one core --- */

static double bench_memcpy(const struct opts *o, uint32_t plen)
{
	uint8_t *dst = malloc(RING_SIZE), *src = malloc(plen);
	uint32_t off = 0;
	uint64_t n = 0;
	double t0, end, dt;

	if (!dst || !src)
		die("malloc");
	memset(src, 0x5a, plen);
	memset(dst, 0, RING_SIZE);
	pin(0);
	t0 = now();
	end = t0 + o->secs;
	for (; (n & 255) || now() < end; n++) {
		memcpy(dst + off, src, plen);
		/* keep the copy: dst is never read */
		__asm__ volatile("" : : "r"(dst) : "memory");
		off = off + 2 * plen > RING_SIZE ? 0 : off + plen;
	}
	dt = now() - t0;
	free(dst);
	free(src);
	return (double)n * plen / dt / 1e6;
}

/* ---- main ------------------------------------------------------------------ */

static void usage(void)
{
	fprintf(stderr, "usage: bench_ring [--quick] [--batch N] [--secs S]\n");
	exit(2);
}

static void parse(int argc, char **argv, struct opts *o)
{
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--quick"))
			o->secs = 0.15;
		else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
			o->batch = (unsigned)atoi(argv[++i]);
		else if (!strcmp(argv[i], "--secs") && i + 1 < argc)
			o->secs = atof(argv[++i]);
		else
			usage();
	}
	if (o->batch == 0 || o->secs <= 0)
		usage();
}

int main(int argc, char **argv)
{
	struct opts o = {.secs = 1.0, .batch = 16};
	double rtt, srtt;

	parse(argc, argv, &o);
	printf("bench_ring: %u KiB double-mapped ring, producer cpu0 -> consumer cpu1, "
	       "commit/release every %u packets (or 64 KiB), copy-out reads, %.2f s per figure\n",
	       RING_SIZE / 1024, o.batch, o.secs);
	printf("throughput ratios = ring / baseline; round-trip ratio = baseline / ring\n\n");
	printf("%8s %11s %9s %8s | %11s %6s | %11s %6s\n", "payload", "ring MB/s", "Mpkt/s",
	       "sig/pkt", "socket MB/s", "ratio", "memcpy MB/s", "ratio");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		struct stream_result r = bench_ring_stream(&o, sizes[i]);
		double s = bench_sock_stream(&o, sizes[i]);
		double m = bench_memcpy(&o, sizes[i]);

		printf("%8u %11.0f %9.3f %8.4f | %11.0f %6.2f | %11.0f %6.2f\n", sizes[i], r.mbps,
		       r.pps / 1e6, r.sig_per_pkt, s, r.mbps / s, m, r.mbps / m);
		fflush(stdout);
	}
	rtt = bench_ring_rtt(&o);
	srtt = bench_sock_rtt(&o);
	printf("\nround trip, %u B, polled: ring %.0f ns | socketpair %.0f ns | ratio %.1f\n",
	       RTT_PAYLOAD, rtt, srtt, srtt / rtt);
	if (pin_failed)
		printf("warning: could not pin threads to cpu0/cpu1; figures are unpinned\n");
	return 0;
}
