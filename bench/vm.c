/*
 * The data path end to end over the real partition: a host process (cpu1)
 * runs vmb_host with the test device, a guest process (cpu0) runs vmb_guest
 * with a driver of our own for it, and the two exchange packets through
 * 256 KiB rings in shared guest RAM with real signals (eventfds). The
 * guest copies packets out; the test device reads them in place and sums
 * SINK payloads (src/dev/test/vsp.c). The
 * baselines run afterwards in this process, on the same two CPUs.
 *
 *   bench_vm [--quick] [--secs S] [--reps N] [--g2h SIZE]   (--g2h: that figure only)
 *
 * Streaming G->H: SINK packets, committed once per 16 packets or quarter
 * ring, one vmb_chan_submit_many() per batch; the figure ends when a STATS request,
 * queued behind the data, completes. Round trip: one 64-byte ECHO at a
 * time, the guest sending the next one from its packet handler, with the
 * adaptive-signalling budget on both ends (polled) or off (interrupt-driven).
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "vmbus/dev/test.h"

#define RING	 (256u * 1024u)
#define RTT_LEN	 64u
#define NSIZES	 5
#define NBATCHES 4

static const uint32_t sizes[NSIZES] = {64, 256, 1024, 4096, 16384};
static const unsigned batches[NBATCHES] = {1, 4, 16, 64};
#define MAX_BATCH 64 /* the largest of batches[] */

/* What the guest measured (medians), sent to the parent through a pipe. */
struct vm_result {
	int rc;
	double mbps[NSIZES], sig_pkt[NSIZES], irq_pkt[NSIZES];
	double batch_mbps[NBATCHES][2]; /* 64 B, 4 KiB */
	double batch_sig[NBATCHES][2];
	double h2g_mbps;
	double rtt_poll, rtt_irq, rtt_poll_sig, rtt_irq_sig;
};

static void pin_process(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		fprintf(stderr, "warning: could not pin pid %d to cpu%d\n", (int)getpid(), cpu);
}

/* ---- host process ------------------------------------------------------ */

static volatile sig_atomic_t host_stop;

static void on_term(int sig)
{
	(void)sig;
	host_stop = 1;
}

static _Noreturn void host_main(const char *sock, int ready)
{
	struct vmb_host_config cfg = {.socket_path = sock};
	struct vmb_guid inst = VMB_GUID_INIT(0xbe9c0000, 0, 0x4000, 0x80, 0, 0, 0, 0, 0, 0, 1);
	struct vmb_test_vsp *t;
	struct vmb_host *h;

	pin_process(BENCH_CPU_B);
	signal(SIGTERM, on_term);
	if (vmb_host_create(&cfg, &h) < 0 || vmb_test_vsp_add(h, &inst, &t) < 0)
		_exit(1);
	if (write(ready, "r", 1) != 1)
		_exit(1);
	vmb_host_run(h, &host_stop);
	vmb_host_destroy(h);
	_exit(0);
}

/* ---- guest process: driver -------------------------------------------- */

struct bdev {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct vmb_channel *ch;
	/* round trip */
	atomic_bool stop;
	bool done;
	uint64_t count;
	double t1;
	uint8_t ping[RTT_LEN];
	/* H->G stream */
	uint64_t rx;
};

static struct bdev bd = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cv = PTHREAD_COND_INITIALIZER,
};

static void finish(void)
{
	pthread_mutex_lock(&bd.lock);
	bd.done = true;
	bd.t1 = bench_now();
	pthread_cond_broadcast(&bd.cv);
	pthread_mutex_unlock(&bd.lock);
}

static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_test_hdr h;

	(void)arg;
	if (pkt->len < sizeof(h))
		return;
	memcpy(&h, pkt->data, sizeof(h));
	if (h.op == VMB_TEST_ECHO) {
		bd.count++;
		if (atomic_load(&bd.stop) || vmb_chan_send(ch, bd.ping, RTT_LEN, 0, 0) < 0)
			finish();
	} else if (h.op == VMB_TEST_DATA) {
		bd.rx++;
	} else if (h.op == VMB_TEST_STREAM_END) {
		finish();
	}
}

static int bench_probe(struct vmb_device *dev)
{
	struct vmb_open_opts o = {
	    .send_ring = RING,
	    .recv_ring = RING,
	    .handler = on_packet,
	    .copy_out = true,
	};
	struct vmb_channel *ch;
	int rc = vmb_device_open(dev, &o, &ch);

	pthread_mutex_lock(&bd.lock);
	if (rc == 0)
		bd.ch = ch;
	pthread_cond_broadcast(&bd.cv);
	pthread_mutex_unlock(&bd.lock);
	return rc;
}

static void bench_remove(struct vmb_device *dev)
{
	pthread_mutex_lock(&bd.lock);
	vmb_device_close(dev, bd.ch);
	bd.ch = NULL;
	pthread_mutex_unlock(&bd.lock);
}

static int wait_done(int ms)
{
	struct timespec dl;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += ms / 1000 + 1;
	pthread_mutex_lock(&bd.lock);
	while (!bd.done && rc == 0)
		rc = pthread_cond_timedwait(&bd.cv, &bd.lock, &dl);
	pthread_mutex_unlock(&bd.lock);
	return rc ? -ETIMEDOUT : 0;
}

static int request(uint32_t op, uint32_t count, uint32_t size)
{
	struct vmb_test_hdr req = {.op = op, .count = count, .size = size};
	struct vmb_test_stats resp;
	size_t got;

	return vmb_chan_request_sync(bd.ch, &req, sizeof(req), &resp, sizeof(resp), &got, 30000);
}

/* ---- guest process: figures ------------------------------------------- */

struct stream_arg {
	uint32_t size;
	unsigned batch;
	double sig, irq; /* per packet, last sample */
};

static double g2h_sample(const struct bench_opts *o, void *arg)
{
	struct stream_arg *a = arg;
	struct vmb_chan_stats s0, s1;
	uint8_t *buf = calloc(1, a->size);
	struct vmb_test_hdr h = {.op = VMB_TEST_SINK};
	unsigned batch = a->batch, by_bytes = RING / 4 / (a->size + 24);
	struct iovec v = {buf, a->size};
	struct vmb_send s[MAX_BATCH];
	uint64_t n = 0;
	double t0, end;

	if (!buf)
		bench_die("calloc");
	memcpy(buf, &h, sizeof(h));
	if (by_bytes && by_bytes < batch)
		batch = by_bytes;
	if (batch == 0)
		batch = 1;
	for (unsigned i = 0; i < batch; i++)
		s[i] = (struct vmb_send){.iov = &v, .iovcnt = 1};
	vmb_chan_get_stats(bd.ch, &s0);
	t0 = bench_now();
	end = t0 + o->secs;
	while (bench_now() < end) {
		if (vmb_chan_submit_many(bd.ch, s, batch) != (int)batch)
			bench_die("send");
		n += batch;
	}
	if (request(VMB_TEST_STATS, 0, 0) < 0)
		bench_die("STATS");
	t0 = bench_now() - t0;
	vmb_chan_get_stats(bd.ch, &s1);
	a->sig = (double)(s1.signals_sent - s0.signals_sent) / (double)n;
	a->irq = (double)(s1.interrupts - s0.interrupts) / (double)n;
	free(buf);
	return (double)n * a->size / t0 / 1e6;
}

static double h2g_sample(const struct bench_opts *o, void *arg)
{
	uint32_t size = *(uint32_t *)arg;
	struct vmb_test_hdr req = {
	    .op = VMB_TEST_STREAM,
	    .count = (uint32_t)(o->secs * 2e4),
	    .size = size - (uint32_t)sizeof(req),
	};
	double t0;

	bd.done = false;
	bd.rx = 0;
	t0 = bench_now();
	/* STREAM is not completed: the data and STREAM_END are the answer. */
	if (vmb_chan_send(bd.ch, &req, sizeof(req), 0, 0) < 0)
		bench_die("STREAM");
	if (wait_done((int)(o->secs * 20000)) < 0)
		bench_die("STREAM_END");
	return (double)bd.rx * size / (bd.t1 - t0) / 1e6;
}

struct rtt_arg {
	uint32_t poll_ns;
	double sig; /* signals per round trip, both ways seen from the guest */
};

static double rtt_sample(const struct bench_opts *o, void *arg)
{
	struct rtt_arg *a = arg;
	struct vmb_chan_stats s0, s1;
	double t0;

	if (request(VMB_TEST_POLL, 0, a->poll_ns) < 0)
		bench_die("POLL");
	vmb_chan_set_poll(bd.ch, a->poll_ns);
	atomic_store(&bd.stop, false);
	bd.done = false;
	bd.count = 0;
	vmb_chan_get_stats(bd.ch, &s0);
	t0 = bench_now();
	if (vmb_chan_send(bd.ch, bd.ping, RTT_LEN, 0, 0) < 0)
		bench_die("ECHO");
	usleep((useconds_t)(o->secs * 1e6));
	atomic_store(&bd.stop, true);
	if (wait_done(1000) < 0)
		bench_die("ECHO chain");
	vmb_chan_get_stats(bd.ch, &s1);
	a->sig = (double)(s1.signals_sent - s0.signals_sent + s1.interrupts - s0.interrupts) /
		 (double)bd.count;
	return (bd.t1 - t0) * 1e9 / (double)bd.count;
}

/* --g2h SIZE: only G->H streaming of SIZE-byte packets (to profile one figure). */
static uint32_t only_g2h;

static void run_figures(const struct bench_opts *o, struct vm_result *r)
{
	struct stream_arg sa = {.batch = 16};
	struct rtt_arg ra = {.poll_ns = VMB_CHAN_POLL_DEFAULT_NS};
	uint32_t h2g = 4096;

	if (only_g2h) {
		sa.size = only_g2h;
		r->mbps[0] = bench_repeat(o, g2h_sample, &sa);
		return;
	}
	for (int i = 0; i < NSIZES; i++) {
		sa.size = sizes[i];
		r->mbps[i] = bench_repeat(o, g2h_sample, &sa);
		r->sig_pkt[i] = sa.sig;
		r->irq_pkt[i] = sa.irq;
	}
	for (int b = 0; b < NBATCHES; b++)
		for (int k = 0; k < 2; k++) {
			sa.batch = batches[b];
			sa.size = k ? 4096 : 64;
			r->batch_mbps[b][k] = bench_repeat(o, g2h_sample, &sa);
			r->batch_sig[b][k] = sa.sig;
		}
	r->h2g_mbps = bench_repeat(o, h2g_sample, &h2g);
	r->rtt_poll = bench_repeat(o, rtt_sample, &ra);
	r->rtt_poll_sig = ra.sig;
	ra.poll_ns = 0;
	r->rtt_irq = bench_repeat(o, rtt_sample, &ra);
	r->rtt_irq_sig = ra.sig;
}

static _Noreturn void guest_main(const char *sock, const struct bench_opts *o, int out)
{
	struct vmb_guest_config cfg = {.socket_path = sock};
	struct vmb_driver drv = {
	    .name = "bench",
	    .class_id = VMB_GUID_TEST,
	    .probe = bench_probe,
	    .remove = bench_remove,
	};
	struct vmb_test_hdr ping = {.op = VMB_TEST_ECHO};
	struct vm_result r = {0};
	struct vmb_guest *g;

	pin_process(BENCH_CPU_A);
	memcpy(bd.ping, &ping, sizeof(ping));
	if (vmb_guest_create(&cfg, &g) < 0 || vmb_guest_register_driver(g, &drv) < 0)
		_exit(1);
	pthread_mutex_lock(&bd.lock);
	while (!bd.ch)
		pthread_cond_wait(&bd.cv, &bd.lock);
	pthread_mutex_unlock(&bd.lock);
	run_figures(o, &r);
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	vmb_guest_destroy(g);
	_exit(0);
}

/* ---- parent: processes, baselines, tables ----------------------------- */

static pid_t spawn(int *rfd, void (*child)(int wfd, void *), void *arg)
{
	int p[2];
	pid_t pid;

	if (pipe(p))
		bench_die("pipe");
	pid = fork();
	if (pid < 0)
		bench_die("fork");
	if (pid == 0) {
		close(p[0]);
		child(p[1], arg);
		_exit(1);
	}
	close(p[1]);
	*rfd = p[0];
	return pid;
}

struct run_ctx {
	const char *sock;
	const struct bench_opts *o;
};

static void host_child(int wfd, void *arg)
{
	host_main(((struct run_ctx *)arg)->sock, wfd);
}

static void guest_child(int wfd, void *arg)
{
	struct run_ctx *c = arg;

	guest_main(c->sock, c->o, wfd);
}

static int measure_vm(const struct bench_opts *o, struct vm_result *r)
{
	char dir[] = "/tmp/vmbus-bench-XXXXXX", sock[64], c;
	struct run_ctx ctx = {sock, o};
	int hfd, gfd, st;
	pid_t host, guest;
	ssize_t k;

	if (!mkdtemp(dir))
		bench_die("mkdtemp");
	snprintf(sock, sizeof(sock), "%s/host.sock", dir);
	host = spawn(&hfd, host_child, &ctx);
	if (read(hfd, &c, 1) != 1) {
		fprintf(stderr, "bench_vm: host did not start\n");
		return -1;
	}
	guest = spawn(&gfd, guest_child, &ctx);
	k = read(gfd, r, sizeof(*r));
	waitpid(guest, &st, 0);
	kill(host, SIGTERM);
	waitpid(host, &st, 0);
	close(hfd);
	close(gfd);
	unlink(sock);
	rmdir(dir);
	return k == (ssize_t)sizeof(*r) ? 0 : -1;
}

struct bl_arg {
	uint32_t size;
};

static double ideal_sample(const struct bench_opts *o, void *arg)
{
	return bl_ideal_ring(o->secs, ((struct bl_arg *)arg)->size, RING);
}

static double sock_sample(const struct bench_opts *o, void *arg)
{
	return bl_socketpair(o->secs, ((struct bl_arg *)arg)->size);
}

static double memcpy_sample(const struct bench_opts *o, void *arg)
{
	return bl_memcpy(o->secs, ((struct bl_arg *)arg)->size, RING);
}

static double line_sample(const struct bench_opts *o, void *arg)
{
	(void)arg;
	return bl_pingpong_line(o->secs);
}

static double efd_sample(const struct bench_opts *o, void *arg)
{
	(void)arg;
	return bl_pingpong_eventfd(o->secs);
}

static void print_streaming(const struct bench_opts *o, const struct vm_result *r)
{
	double ideal[NSIZES], sock[NSIZES], mem[NSIZES];
	char name[64];

	for (int i = 0; i < NSIZES; i++) {
		struct bl_arg a = {sizes[i]};

		ideal[i] = bench_repeat(o, ideal_sample, &a);
		sock[i] = bench_repeat(o, sock_sample, &a);
		mem[i] = bench_repeat(o, memcpy_sample, &a);
	}
	bench_table_head("G->H streaming (SINK) vs the ideal SPSC copy ring, same size and CPUs",
			 "vmbus MB/s", "ideal MB/s");
	for (int i = 0; i < NSIZES; i++) {
		snprintf(name, sizeof(name), "%5u B", sizes[i]);
		bench_table_row(name, r->mbps[i], ideal[i],
				sizes[i] >= 4096 || sizes[i] == 64 ? ">=" : "",
				sizes[i] >= 4096 ? 0.8 : 1.0);
	}
	bench_table_head("G->H streaming vs AF_UNIX socketpair", "vmbus MB/s", "socket MB/s");
	for (int i = 0; i < NSIZES; i++) {
		snprintf(name, sizeof(name), "%5u B", sizes[i]);
		bench_table_row(name, r->mbps[i], sock[i], sizes[i] == 4096 ? ">=" : "", 5.0);
	}
	bench_table_head("G->H streaming vs memcpy on one core", "vmbus MB/s", "memcpy MB/s");
	for (int i = 0; i < NSIZES; i++) {
		snprintf(name, sizeof(name), "%5u B", sizes[i]);
		bench_table_row(name, r->mbps[i], mem[i], "", 0);
	}
	printf("\nsignals at saturation (guest's signals sent / interrupts taken, per packet)\n");
	for (int i = 0; i < NSIZES; i++)
		printf("  %5u B   %.5f / %.5f  %s\n", sizes[i], r->sig_pkt[i], r->irq_pkt[i],
		       r->sig_pkt[i] + r->irq_pkt[i] < 0.01 ? "< 0.01 ok" : "< 0.01 MISSED");
	printf("\nbatching (packets per commit): MB/s and signals per packet\n");
	printf("  %8s %12s %10s %12s %10s\n", "batch", "64 B MB/s", "sig/pkt", "4 KiB MB/s",
	       "sig/pkt");
	for (int b = 0; b < NBATCHES; b++)
		printf("  %8u %12.1f %10.5f %12.1f %10.5f\n", batches[b], r->batch_mbps[b][0],
		       r->batch_sig[b][0], r->batch_mbps[b][1], r->batch_sig[b][1]);
	printf("\nH->G streaming (STREAM, 4 KiB, host sends one commit per packet): %.1f MB/s\n",
	       r->h2g_mbps);
}

static void print_rtt(const struct bench_opts *o, const struct vm_result *r)
{
	double line = bench_repeat(o, line_sample, NULL);
	double efd = bench_repeat(o, efd_sample, NULL);

	bench_table_head("round trip, 64 B ECHO, guest cpu0 <-> host cpu1", "vmbus ns", "floor ns");
	bench_table_row("polled vs cache-line", r->rtt_poll, line, "<=", 2.0);
	bench_table_row("interrupt-driven vs eventfd", r->rtt_irq, efd, "<=", 1.2);
	printf("  signals per round trip: polled %.4f, interrupt-driven %.4f\n", r->rtt_poll_sig,
	       r->rtt_irq_sig);
}

int main(int argc, char **argv)
{
	struct bench_opts o;
	struct vm_result r;

	int i = bench_parse(argc, argv, &o, 0.5, 3);

	if (i + 2 == argc && !strcmp(argv[i], "--g2h") && atoi(argv[i + 1]) >= 24 &&
	    atoi(argv[i + 1]) <= 16384)
		only_g2h = (uint32_t)atoi(argv[i + 1]);
	else if (i != argc) {
		fprintf(stderr, "usage: bench_vm [--quick] [--secs S] [--reps N] [--g2h SIZE]\n");
		return 2;
	}
	printf("bench_vm: guest process on cpu%d, host process on cpu%d, %u KiB rings, guest "
	       "copies out, test device reads in place, median of %u x %.2f s\n",
	       BENCH_CPU_A, BENCH_CPU_B, RING / 1024, o.reps, o.secs);
	if (measure_vm(&o, &r) < 0) {
		fprintf(stderr, "bench_vm: the guest did not report\n");
		return 1;
	}
	if (only_g2h) {
		printf("G->H streaming (SINK), %u B: %.1f MB/s\n", only_g2h, r.mbps[0]);
		return 0;
	}
	print_streaming(&o, &r);
	print_rtt(&o, &r);
	bench_pin_report();
	return 0;
}
