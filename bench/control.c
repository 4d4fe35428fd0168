/*
 * Control-path scale over the real partition: a host process offers N test
 * devices (default 1,000), a guest process connects, receives every offer,
 * opens one channel per device (probe, on the runtime's workers, several
 * devices at a time) and closes them all from 8 threads; then it
 * establishes and tears down GPADLs of 1 MiB,
 * 64 MiB and 1 GiB. Times are wall clock in the guest; no baseline applies.
 *
 *   bench_control [--quick] [--channels N] [--reps N]
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "vmbus/dev/test.h"
#include "vmbus/msg.h"

#define MAX_CHANNELS 4096
#define RING_BYTES   4096u
#define RAM_BYTES    (1536ull << 20)

static const size_t gpadl_sizes[] = {1u << 20, 64u << 20, 1u << 30};
#define NGPADL (sizeof(gpadl_sizes) / sizeof(gpadl_sizes[0]))

struct result {
	double offers, open, close, unload;
	double gpadl[NGPADL][2]; /* create, teardown (ms) */
	int gpadl_rc[NGPADL];
	unsigned opened;
};

/* ---- host process ------------------------------------------------------ */

static volatile sig_atomic_t host_stop;

static void on_term(int sig)
{
	(void)sig;
	host_stop = 1;
}

static _Noreturn void host_main(const char *sock, unsigned n, int ready)
{
	struct vmb_host_config cfg = {
	    .socket_path = sock,
	    .ram_size = RAM_BYTES,
	    .gpadl_limit = RAM_BYTES,
	};
	struct vmb_host *h;

	signal(SIGTERM, on_term);
	if (vmb_host_create(&cfg, &h) < 0)
		_exit(1);
	for (unsigned i = 0; i < n; i++) {
		struct vmb_guid inst =
		    VMB_GUID_INIT(0xbe9c0001, 0, 0x4000, 0x80, 0, 0, 0, 0, 0, 0, 0);
		struct vmb_test_vsp *t;

		inst.b[14] = (uint8_t)(i >> 8);
		inst.b[15] = (uint8_t)i;
		if (vmb_test_vsp_add(h, &inst, &t) < 0)
			_exit(1);
	}
	if (write(ready, "r", 1) != 1)
		_exit(1);
	vmb_host_run(h, &host_stop);
	vmb_host_destroy(h);
	_exit(0);
}

/* ---- guest process ------------------------------------------------------ */

static struct {
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct vmb_device *dev[MAX_CHANNELS];
	struct vmb_channel *ch[MAX_CHANNELS];
	unsigned n, failed;
} gs = {.lock = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER};

static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	(void)arg;
	(void)ch;
	(void)pkt;
}

static int probe(struct vmb_device *dev)
{
	struct vmb_open_opts o = {
	    .send_ring = RING_BYTES,
	    .recv_ring = RING_BYTES,
	    .handler = on_packet,
	    .copy_out = true,
	};
	struct vmb_channel *ch = NULL;
	int rc = vmb_device_open(dev, &o, &ch);

	pthread_mutex_lock(&gs.lock);
	if (rc == 0 && gs.n < MAX_CHANNELS) {
		gs.dev[gs.n] = dev;
		gs.ch[gs.n++] = ch;
		vmb_device_set_priv(dev, ch);
	} else {
		gs.failed++;
		if (rc == 0)
			vmb_device_close(dev, ch);
		rc = rc ? rc : -ENOSPC;
	}
	pthread_cond_broadcast(&gs.cv);
	pthread_mutex_unlock(&gs.lock);
	return rc;
}

static void remove_dev(struct vmb_device *dev)
{
	struct vmb_channel *ch = vmb_device_priv(dev);

	if (ch)
		vmb_device_close(dev, ch);
}

static void wait_probed(unsigned n)
{
	pthread_mutex_lock(&gs.lock);
	while (gs.n + gs.failed < n)
		pthread_cond_wait(&gs.cv, &gs.lock);
	pthread_mutex_unlock(&gs.lock);
}

/* As many closers as the guest runtime has probe/remove workers. */
#define CLOSERS 8

static void *closer(void *arg)
{
	unsigned k = (unsigned)(uintptr_t)arg;

	for (unsigned i = k; i < gs.n; i += CLOSERS) {
		vmb_device_close(gs.dev[i], gs.ch[i]);
		vmb_device_set_priv(gs.dev[i], NULL);
	}
	return NULL;
}

/* Closes run side by side, each waiting for its own host answers. */
static void close_all(void)
{
	pthread_t t[CLOSERS];
	unsigned started = 0;

	for (; started < CLOSERS; started++)
		if (pthread_create(&t[started], NULL, closer, (void *)(uintptr_t)started))
			break;
	/* Whatever no thread took is closed here. */
	for (unsigned k = started; k < CLOSERS; k++)
		closer((void *)(uintptr_t)k);
	for (unsigned k = 0; k < started; k++)
		pthread_join(t[k], NULL);
}

/*
 * range_buflen is 16 bits on the wire, so one GPADL holds at most
 * VMB_GPADL_MAX_PFNS pages (~32 MiB); larger buffers are shared as several.
 */
#define GPADL_CHUNK ((size_t)VMB_GPADL_MAX_PFNS * 4096)
#define MAX_PARTS   64

static int gpadl_once(struct vmb_device *dev, size_t bytes, double *make, double *drop)
{
	uint32_t handle[MAX_PARTS];
	unsigned n = 0;
	void *addr;
	double t = bench_now();
	int rc = 0;

	for (size_t left = bytes; left && rc == 0 && n < MAX_PARTS; n++) {
		size_t part = left < GPADL_CHUNK ? left : GPADL_CHUNK;

		rc = vmb_device_gpadl_alloc(dev, part, &addr, &handle[n]);
		left -= part;
	}
	if (rc < 0)
		n--;
	*make = (bench_now() - t) * 1e3;
	t = bench_now();
	for (unsigned i = 0; i < n; i++)
		if (vmb_device_gpadl_free(dev, handle[i]) < 0 && rc == 0)
			rc = -EIO;
	*drop = (bench_now() - t) * 1e3;
	return rc < 0 ? rc : (int)n;
}

/* --quick skips GPADLs above 64 MiB (1 GiB alone takes seconds). */
static size_t gpadl_max = (size_t)1 << 30;

static _Noreturn void guest_main(const char *sock, unsigned n, int out)
{
	struct vmb_guest_config cfg = {.socket_path = sock, .timeout_ms = 60000};
	struct vmb_driver drv = {
	    .name = "bench_control",
	    .class_id = VMB_GUID_TEST,
	    .probe = probe,
	    .remove = remove_dev,
	};
	struct result r = {0};
	struct vmb_guest *g;
	double t0 = bench_now();

	if (vmb_guest_create(&cfg, &g) < 0)
		_exit(1);
	r.offers = bench_now() - t0;
	if (vmb_guest_register_driver(g, &drv) < 0)
		_exit(1);
	wait_probed(n);
	r.open = bench_now() - t0 - r.offers;
	r.opened = gs.n;
	/* Measured on a channel-less device would need one: keep device 0 open. */
	for (size_t i = 0; i < NGPADL && gs.n; i++)
		r.gpadl_rc[i] =
		    gpadl_sizes[i] > gpadl_max
			? -ECANCELED
			: gpadl_once(gs.dev[0], gpadl_sizes[i], &r.gpadl[i][0], &r.gpadl[i][1]);
	t0 = bench_now();
	close_all();
	r.close = bench_now() - t0;
	t0 = bench_now();
	vmb_guest_destroy(g);
	r.unload = bench_now() - t0;
	if (write(out, &r, sizeof(r)) != sizeof(r))
		_exit(1);
	_exit(0);
}

/* ---- parent --------------------------------------------------------------- */

static int measure(unsigned n, struct result *r)
{
	char dir[] = "/tmp/vmbus-bench-XXXXXX", sock[64], c;
	int hp[2], gp[2], st;
	pid_t host, guest;
	ssize_t k;

	if (!mkdtemp(dir) || pipe(hp) || pipe(gp))
		bench_die("setup");
	snprintf(sock, sizeof(sock), "%s/host.sock", dir);
	host = fork();
	if (host == 0)
		host_main(sock, n, hp[1]);
	close(hp[1]);
	if (host < 0 || read(hp[0], &c, 1) != 1)
		return -1;
	guest = fork();
	if (guest == 0)
		guest_main(sock, n, gp[1]);
	close(gp[1]);
	k = guest > 0 ? read(gp[0], r, sizeof(*r)) : -1;
	if (guest > 0)
		waitpid(guest, &st, 0);
	kill(host, SIGTERM);
	waitpid(host, &st, 0);
	close(hp[0]);
	close(gp[0]);
	unlink(sock);
	rmdir(dir);
	return k == (ssize_t)sizeof(*r) ? 0 : -1;
}

static int cmp_result(const void *a, const void *b)
{
	const struct result *x = a, *y = b;
	double sx = x->offers + x->open + x->close, sy = y->offers + y->open + y->close;

	return (sx > sy) - (sx < sy);
}

int main(int argc, char **argv)
{
	struct result r[99];
	struct bench_opts o;
	unsigned n = 1000;
	int i = bench_parse(argc, argv, &o, 1.0, 3);

	for (; i < argc; i++) {
		if (!strcmp(argv[i], "--channels") && i + 1 < argc) {
			n = (unsigned)atoi(argv[++i]);
		} else {
			fprintf(stderr,
				"usage: bench_control [--quick] [--channels N] [--reps N]\n");
			return 2;
		}
	}
	if (o.quick)
		gpadl_max = 64u << 20;
	if (n == 0 || n > MAX_CHANNELS) {
		fprintf(stderr, "bench_control: 1 <= channels <= %d\n", MAX_CHANNELS);
		return 2;
	}
	printf("bench_control: %u test devices, %u-byte rings, host and guest processes; median "
	       "of %u runs (by offer+open+close)\n",
	       n, RING_BYTES, o.reps);
	for (unsigned k = 0; k < o.reps; k++)
		if (measure(n, &r[k]) < 0) {
			fprintf(stderr, "bench_control: run %u failed\n", k);
			return 1;
		}
	qsort(r, o.reps, sizeof(r[0]), cmp_result);
	struct result *m = &r[o.reps / 2];
	double total = m->offers + m->open + m->close;

	printf("\nchannels (%u of %u opened)\n", m->opened, n);
	printf("  connect + all offers     %8.1f ms\n", m->offers * 1e3);
	printf("  open all (probe)         %8.1f ms  (%.1f us per channel)\n", m->open * 1e3,
	       m->open * 1e6 / n);
	printf("  close all                %8.1f ms\n", m->close * 1e3);
	printf("  offered+opened+closed    %8.1f ms  target < 1000 ms %s\n", total * 1e3,
	       total < 1.0 && m->opened == n ? "ok" : "MISSED");
	printf("  unload + disconnect      %8.1f ms\n", m->unload * 1e3);
	printf("\nGPADL (guest allocates, shares, host maps; then torn down)\n");
	for (size_t k = 0; k < NGPADL; k++)
		if (m->gpadl_rc[k] == -ECANCELED)
			printf("  %5zu MiB  skipped (--quick)\n", gpadl_sizes[k] >> 20);
		else if (m->gpadl_rc[k] < 0)
			printf("  %5zu MiB  failed: %s\n", gpadl_sizes[k] >> 20,
			       strerror(-m->gpadl_rc[k]));
		else
			printf("  %5zu MiB  establish %8.2f ms  teardown %8.2f ms  (%d GPADL%s)\n",
			       gpadl_sizes[k] >> 20, m->gpadl[k][0], m->gpadl[k][1], m->gpadl_rc[k],
			       m->gpadl_rc[k] > 1 ? "s" : "");
	return 0;
}
