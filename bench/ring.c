/*
 * Ring layer alone, in one process: a producer thread on cpu0 and a consumer
 * thread on cpu1 over one double-mapped 256 KiB ring, beside the ideal SPSC
 * copy ring of the same size, memcpy and an AF_UNIX socketpair (bench/lib),
 * all measured in the same run; the median of --reps samples is printed.
 *
 *   bench_ring [--quick] [--secs S] [--reps N] [--batch N]
 *
 * Streaming: the producer commits once per N packets or quarter ring (and
 * when the ring is full), the consumer copies every packet out
 * (vmb_ring_read) and releases at the same rate (and when the ring is
 * empty). "sig/pkt" is how often a commit would have had to interrupt the
 * consumer under the Hyper-V rule. Round trip: two rings, ping-pong of one
 * 64-byte packet, both ends polling, against a bare cache-line ping-pong.
 * CPU per packet: both ends of a channel (src/chan) in one thread, so no
 * line crosses CPUs: what sending and draining themselves cost.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "bench.h"
#include "vmbus/chan.h"
#include "vmbus/ring.h"

#define RING_SIZE   (256u * 1024u)
#define MAX_PAYLOAD 16384u
#define RTT_PAYLOAD 64u
/* Batches are also cut at a quarter ring so both ends keep overlapping. */
#define BATCH_BYTES (RING_SIZE / 4)

static const uint32_t sizes[] = {64, 256, 1024, 4096, 16384};

struct opts {
	double secs; /* per sample */
	unsigned batch;
};

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
		bench_die("memfd");
	m->base = mmap(NULL, 2 * RING_SIZE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m->base == MAP_FAILED)
		bench_die("mmap");
	for (lo = m->base; lo < m->base + 2 * RING_SIZE; lo += RING_SIZE)
		if (mmap(lo, RING_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, m->fd, 0) !=
		    lo)
			bench_die("mmap fixed");
	m->hdr = aligned_alloc(4096, sizeof(*m->hdr));
	if (!m->hdr)
		bench_die("aligned_alloc");
	vmb_ring_header_reset(m->hdr);
	if (vmb_ring_init(prod, m->hdr, m->base, RING_SIZE, VMB_RING_DOUBLE_MAPPED) ||
	    vmb_ring_init(cons, m->hdr, m->base, RING_SIZE, VMB_RING_DOUBLE_MAPPED))
		bench_die("vmb_ring_init");
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
	const uint8_t *payload;
	uint32_t plen;
};

static void pkt_init(struct pkt_out *p, const uint8_t *payload, uint32_t plen)
{
	p->d = (struct vmpacket_descriptor){
	    .type = VM_PKT_DATA_INBAND,
	    .offset8 = 2,
	    .len8 = (uint16_t)((sizeof(p->d) + plen + 7) / 8),
	    .trans_id = 1,
	};
	p->payload = payload;
	p->plen = plen;
}

/* In-band packets, as vmb_chan_send() writes them (vmb_ring_write_inband). */
static void ring_put(struct vmb_ring *r, struct pkt_out *p)
{
	int rc;

	while ((rc = vmb_ring_write_inband(r, &p->d, p->payload, p->plen)) == -EAGAIN) {
		vmb_ring_commit(r);
		bench_relax();
	}
	if (rc) {
		fprintf(stderr, "vmb_ring_write_inband: %s\n", strerror(-rc));
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
		bench_relax();
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
};

static void start_line(struct run *rn)
{
	atomic_fetch_add(&rn->ready, 1);
	while (atomic_load(&rn->ready) < 2)
		bench_relax();
}

static void run2(struct run *rn, void *(*a)(void *), void *(*b)(void *))
{
	pthread_t ta, tb;

	atomic_store(&rn->ready, 0);
	if (pthread_create(&ta, NULL, a, rn) || pthread_create(&tb, NULL, b, rn))
		bench_die("pthread_create");
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

	bench_pin(BENCH_CPU_A);
	memset(payload, 0x5a, sizeof(payload));
	pkt_init(&p, payload, rn->plen);
	start_line(rn);
	rn->t0 = bench_now();
	end = rn->t0 + rn->o->secs;
	for (uint64_t n = 1;; n++) {
		if ((n & 255) == 0 && bench_now() > end)
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

	bench_pin(BENCH_CPU_B);
	start_line(rn);
	while (ring_get(&rn->cons[0], buf) != 0)
		if (++n % batch == 0)
			vmb_ring_release(&rn->cons[0]);
	vmb_ring_release(&rn->cons[0]);
	rn->t1 = bench_now();
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

	bench_pin(BENCH_CPU_A);
	pkt_init(&p, payload, RTT_PAYLOAD);
	start_line(rn);
	rn->t0 = bench_now();
	end = rn->t0 + rn->o->secs;
	for (n = 0; (n & 63) || bench_now() < end; n++) {
		ring_put(&rn->prod[0], &p);
		vmb_ring_commit(&rn->prod[0]);
		ring_get(&rn->cons[1], buf);
		vmb_ring_release(&rn->cons[1]);
	}
	rn->t1 = bench_now();
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

	bench_pin(BENCH_CPU_B);
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

/* ---- CPU per packet of the channel layer, one thread ------------------------ */

static void cpu_signal(void *ctx)
{
	(void)ctx;
}

static const struct vmb_chan_ops cpu_ops = {.signal = cpu_signal};
static uint64_t cpu_sum;

/* Read each cache line of the payload once: the cost of the handler's
 * own work stays out of the figure, that of reaching the bytes does not. */
static void cpu_handler(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	const uint8_t *p = pkt->data;

	(void)arg;
	(void)ch;
	for (uint32_t i = 0; i < pkt->len; i += 64)
		cpu_sum += p[i];
}

static struct vmb_channel *cpu_chan(struct dm_ring *out, struct dm_ring *in, uint32_t relid)
{
	struct vmb_chan_config cfg = {
	    .out_hdr = out->hdr,
	    .out_data = out->base,
	    .out_size = RING_SIZE,
	    .in_hdr = in->hdr,
	    .in_data = in->base,
	    .in_size = RING_SIZE,
	    .ring_flags = VMB_RING_DOUBLE_MAPPED,
	    .relid = relid,
	    .ops = &cpu_ops,
	};
	struct vmb_channel *ch;

	if (vmb_chan_create(&cfg, &ch))
		bench_die("vmb_chan_create");
	return ch;
}

struct cpu_result {
	double send, many, drain; /* ns per packet */
};

/* One batch: vmb_chan_send() per packet between batch_begin/end, or one
 * vmb_chan_submit_many(). */
static void cpu_batch(struct vmb_channel *ch, const struct vmb_send *s, unsigned n, bool many)
{
	if (many) {
		if (vmb_chan_submit_many(ch, s, n) != (int)n)
			bench_die("vmb_chan_submit_many");
		return;
	}
	vmb_chan_batch_begin(ch);
	for (unsigned i = 0; i < n; i++)
		if (vmb_chan_send(ch, s[i].iov->iov_base, s[i].iov->iov_len, 0, 0))
			bench_die("vmb_chan_send");
	vmb_chan_batch_end(ch);
}

static void keep_min(double *best, double t)
{
	if (t < *best)
		*best = t;
}

/*
 * Fill half the ring in batches of 16 (`rounds` rounds sent one by one,
 * then `rounds` with vmb_chan_submit_many), draining it in place after
 * each round; the fastest round of each, in ns per packet.
 */
static void cpu_cost(uint32_t plen, unsigned rounds, struct cpu_result *res)
{
	static uint8_t payload[MAX_PAYLOAD];
	unsigned per = RING_SIZE / 2 / (plen + 24), batch = per < 16 ? per : 16;
	struct vmb_ring spare[2][2];
	struct dm_ring m[2];
	struct vmb_channel *a, *b;
	struct iovec v = {payload, plen};
	struct vmb_send s[16];

	for (int i = 0; i < 2; i++)
		dm_open(&m[i], &spare[i][0], &spare[i][1]);
	a = cpu_chan(&m[0], &m[1], 1);
	b = cpu_chan(&m[1], &m[0], 2);
	vmb_chan_set_handler(b, cpu_handler, NULL);
	vmb_chan_set_poll(b, 0);
	for (unsigned i = 0; i < batch; i++)
		s[i] = (struct vmb_send){.iov = &v, .iovcnt = 1};
	res->send = res->many = res->drain = 1e30;
	for (unsigned r = 0; r < 2 * rounds; r++) {
		double t0 = bench_now(), t1, t2, n = per / batch * batch;

		for (unsigned k = 0; k < per / batch; k++)
			cpu_batch(a, s, batch, r >= rounds);
		t1 = bench_now();
		vmb_chan_interrupt(b);
		t2 = bench_now();
		keep_min(r >= rounds ? &res->many : &res->send, (t1 - t0) * 1e9 / n);
		keep_min(&res->drain, (t2 - t1) * 1e9 / n);
	}
	vmb_chan_destroy(a);
	vmb_chan_destroy(b);
	for (int i = 0; i < 2; i++)
		dm_close(&m[i]);
}

/* ---- main ------------------------------------------------------------------ */

struct sample {
	struct opts o;
	uint32_t plen;
	double sig_per_pkt;
};

static double stream_sample(const struct bench_opts *bo, void *arg)
{
	struct sample *s = arg;
	struct stream_result r;

	(void)bo;
	r = bench_ring_stream(&s->o, s->plen);
	s->sig_per_pkt = r.sig_per_pkt;
	return r.mbps;
}

static double ideal_sample(const struct bench_opts *bo, void *arg)
{
	return bl_ideal_ring(bo->secs, *(uint32_t *)arg, RING_SIZE);
}

static double rtt_sample(const struct bench_opts *bo, void *arg)
{
	(void)bo;
	return bench_ring_rtt(arg);
}

static double line_sample(const struct bench_opts *bo, void *arg)
{
	(void)arg;
	return bl_pingpong_line(bo->secs);
}

int main(int argc, char **argv)
{
	struct bench_opts bo;
	struct sample s = {.o.batch = 16};
	int i = bench_parse(argc, argv, &bo, 0.5, 3);

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--batch") && i + 1 < argc && atoi(argv[i + 1]) > 0) {
			s.o.batch = (unsigned)atoi(argv[++i]);
		} else {
			fprintf(stderr, "usage: bench_ring [--quick] [--secs S] [--reps N] "
					"[--batch N]\n");
			return 2;
		}
	}
	s.o.secs = bo.secs;
	printf("bench_ring: ring layer in one process, %u KiB double-mapped ring, cpu%d -> cpu%d, "
	       "commit/release every %u packets (or %u KiB), copy-out reads; median of %u x "
	       "%.2f s\n",
	       RING_SIZE / 1024, BENCH_CPU_A, BENCH_CPU_B, s.o.batch, BATCH_BYTES / 1024, bo.reps,
	       bo.secs);
	bench_table_head("streaming vs the ideal SPSC copy ring (same size, same CPUs)",
			 "ring MB/s", "ideal MB/s");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		char name[48];
		double ours, ideal;

		s.plen = sizes[k];
		ours = bench_repeat(&bo, stream_sample, &s);
		ideal = bench_repeat(&bo, ideal_sample, &s.plen);
		snprintf(name, sizeof(name), "%5u B  (sig/pkt %.4f)", sizes[k], s.sig_per_pkt);
		bench_table_row(name, ours, ideal, sizes[k] >= 4096 ? ">=" : "", 0.8);
	}
	bench_table_head("polled round trip, 64 B each way", "ring ns", "line ns");
	bench_table_row("ring vs cache-line ping-pong", bench_repeat(&bo, rtt_sample, &s.o),
			bench_repeat(&bo, line_sample, NULL), "<=", 2.0);
	printf("\nCPU per packet, both channel ends in one thread, batches of 16, drained in "
	       "place; fastest of %u rounds\n  %8s %10s %12s %10s\n",
	       bo.quick ? 50u : 400u, "size", "send ns", "send_many ns", "drain ns");
	for (size_t k = 0; k < sizeof(sizes) / sizeof(sizes[0]); k++) {
		struct cpu_result c;

		cpu_cost(sizes[k], bo.quick ? 50u : 400u, &c);
		printf("  %6u B %10.1f %12.1f %10.1f\n", sizes[k], c.send, c.many, c.drain);
	}
	bench_pin_report();
	return 0;
}
