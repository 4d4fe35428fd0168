/*
 * Storage benchmark: storvsc -> VMBus -> storvsp -> io_uring, host and guest
 * in one process over the real transport, beside direct io_uring on the
 * same backing file (same flags as the host's back end) in the same run.
 *
 *   bench_storage [seconds per test (default 2)] [image path or ""] [test name filter]
 *
 * Each test alternates the two sides in ROUNDS short samples (uring
 * first in even rounds, storvsc first in odd ones), each side's offset
 * stream carrying on from its previous sample, and prints the medians: the
 * page cache and writeback state drift while a test runs (a burst of
 * writeback halves write IOPS for a second), and alternating puts both
 * sides in the same conditions.
 *
 * Beside each figure: context switches per I/O in the whole process (all
 * threads, voluntary + involuntary), which counts the wake-ups a request
 * costs, and CPU time per I/O (user + system, all threads), which holds up
 * better than IOPS when other work shares the CPUs.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "vmbus/dev/storage.h"
#include "vmbus/dev/storvsc.h"

#define DISK_BYTES (512ull << 20)
#define MAX_QD	   32
#define ROUNDS	   5

struct result {
	double rate; /* I/Os per second */
	double csw;  /* context switches per I/O */
	double cpu;  /* CPU microseconds per I/O */
};

struct test {
	const char *name;
	bool write, random;
	size_t bs;
	unsigned qd;
};

static const struct test tests[] = {
    {"4k randread  QD1 ", false, true, 4096, 1},     {"4k randread  QD32", false, true, 4096, 32},
    {"4k randwrite QD1 ", true, true, 4096, 1},	     {"4k randwrite QD32", true, true, 4096, 32},
    {"1M seqread   QD4 ", false, false, 1 << 20, 4}, {"1M seqwrite  QD4 ", true, false, 1 << 20, 4},
};

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Next offset of a stream: random 4 KiB-aligned, or sequential wrapping. */
static uint64_t next_off(const struct test *t, uint64_t *state)
{
	if (t->random) {
		*state ^= *state << 13;
		*state ^= *state >> 7;
		*state ^= *state << 17;
		return (*state % (DISK_BYTES / t->bs)) * t->bs;
	}
	*state = (*state + t->bs) % DISK_BYTES;
	return *state;
}

struct usage {
	double csw, cpu_us;
};

static struct usage usage(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (struct usage){(double)ru.ru_nvcsw + (double)ru.ru_nivcsw,
			      (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e6 +
				  (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec)};
}

static struct result result(double ops, double t0, struct usage u0)
{
	struct usage u = usage();

	if (ops < 1)
		ops = 1;
	return (struct result){ops / (now() - t0), (u.csw - u0.csw) / ops,
			       (u.cpu_us - u0.cpu_us) / ops};
}

static uint64_t seed(const struct test *t)
{
	return t->random ? 88172645463325252ull : DISK_BYTES - t->bs;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Median of each field over the rounds. */
static struct result median(const struct result *r)
{
	double rate[ROUNDS], csw[ROUNDS], cpu[ROUNDS];

	for (unsigned i = 0; i < ROUNDS; i++) {
		rate[i] = r[i].rate;
		csw[i] = r[i].csw;
		cpu[i] = r[i].cpu;
	}
	qsort(rate, ROUNDS, sizeof(double), cmp_double);
	qsort(csw, ROUNDS, sizeof(double), cmp_double);
	qsort(cpu, ROUNDS, sizeof(double), cmp_double);
	return (struct result){rate[ROUNDS / 2], csw[ROUNDS / 2], cpu[ROUNDS / 2]};
}

/* ---- through storvsc ---- */

struct vio {
	struct vmb_blk_io io;
	struct run *run;
};

struct run {
	const struct test *t;
	struct vmb_blk *b;
	double deadline;
	atomic_ulong ops;
	atomic_uint inflight;
	atomic_int err;
	uint64_t state;
	pthread_mutex_t lock; /* state */
};

static void vio_done(struct vmb_blk_io *io, int status)
{
	struct vio *v = (struct vio *)io;
	struct run *r = v->run;

	if (status < 0)
		atomic_store(&r->err, status);
	atomic_fetch_add(&r->ops, 1);
	if (status == 0 && now() < r->deadline) {
		pthread_mutex_lock(&r->lock);
		io->offset = next_off(r->t, &r->state);
		pthread_mutex_unlock(&r->lock);
		if (vmb_blk_submit(r->b, io) == 0)
			return;
	}
	atomic_fetch_sub(&r->inflight, 1);
}

static struct result bench_vmbus(struct vmb_blk *b, const struct test *t, double secs,
				 uint8_t *bufs, uint64_t *state)
{
	struct run r = {.t = t, .b = b, .state = *state};
	struct vio v[MAX_QD];
	struct usage u0 = usage();
	double t0 = now();

	pthread_mutex_init(&r.lock, NULL);
	r.deadline = t0 + secs;
	atomic_store(&r.inflight, t->qd);
	for (unsigned i = 0; i < t->qd; i++) {
		v[i] = (struct vio){.run = &r};
		v[i].io = (struct vmb_blk_io){.op = t->write ? VMB_BLK_WRITE : VMB_BLK_READ,
					      .len = t->bs,
					      .buf = bufs + i * t->bs,
					      .done = vio_done};
		pthread_mutex_lock(&r.lock);
		v[i].io.offset = next_off(t, &r.state);
		pthread_mutex_unlock(&r.lock);
		if (vmb_blk_submit(b, &v[i].io) < 0)
			atomic_fetch_sub(&r.inflight, 1);
	}
	while (atomic_load(&r.inflight))
		usleep(1000);
	pthread_mutex_destroy(&r.lock);
	*state = r.state;
	if (atomic_load(&r.err))
		fprintf(stderr, "storvsc I/O error %d\n", atomic_load(&r.err));
	return result((double)atomic_load(&r.ops), t0, u0);
}

/* ---- direct io_uring ---- */

static struct result bench_uring(int fd, const struct test *t, double secs, uint8_t *bufs,
				 uint64_t *statep)
{
	struct io_uring ring;
	uint64_t state = *statep, ops = 0;
	struct usage u0 = usage();
	double t0 = now(), deadline = t0 + secs;
	unsigned inflight = 0;

	if (io_uring_queue_init(MAX_QD * 2, &ring, 0) < 0)
		return (struct result){0, 0, 0};
	for (unsigned i = 0; i < t->qd; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
		uint64_t off = next_off(t, &state);

		if (t->write)
			io_uring_prep_write(sqe, fd, bufs + i * t->bs, (unsigned)t->bs, off);
		else
			io_uring_prep_read(sqe, fd, bufs + i * t->bs, (unsigned)t->bs, off);
		io_uring_sqe_set_data64(sqe, i);
		inflight++;
	}
	io_uring_submit(&ring);
	while (inflight) {
		struct io_uring_cqe *cqe;
		unsigned i;

		if (io_uring_wait_cqe(&ring, &cqe) < 0)
			break;
		i = (unsigned)io_uring_cqe_get_data64(cqe);
		io_uring_cqe_seen(&ring, cqe);
		ops++;
		inflight--;
		if (now() < deadline) {
			struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
			uint64_t off = next_off(t, &state);

			if (t->write)
				io_uring_prep_write(sqe, fd, bufs + i * t->bs, (unsigned)t->bs,
						    off);
			else
				io_uring_prep_read(sqe, fd, bufs + i * t->bs, (unsigned)t->bs, off);
			io_uring_sqe_set_data64(sqe, i);
			io_uring_submit(&ring);
			inflight++;
		}
	}
	io_uring_queue_exit(&ring);
	*statep = state;
	return result((double)ops, t0, u0);
}

/* ---- set-up ---- */

struct vm {
	struct vmb_host *h;
	pthread_t loop;
	volatile sig_atomic_t stop;
	struct vmb_guest *g;
	struct vmb_stor_guest *sg;
	struct vmb_blk *b;
};

static void *host_loop(void *arg)
{
	struct vm *vm = arg;

	vmb_host_run(vm->h, &vm->stop);
	return NULL;
}

static int vm_start(struct vm *vm, const char *dir, const char *img)
{
	char sock[256];
	struct vmb_host_config hc = {.socket_path = sock, .ram_size = 512u << 20};
	struct vmb_stor_config sc = {.instance =
					 VMB_GUID_INIT(0xbe5c0000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)};
	struct vmb_stor_disk_config dc = {.path = img};
	struct vmb_guest_config gc = {.socket_path = sock};
	struct vmb_stor_ctrl *ctrl;
	int rc;

	snprintf(sock, sizeof(sock), "%s/sock", dir);
	if ((rc = vmb_host_create(&hc, &vm->h)) < 0 || (rc = vmb_stor_add(vm->h, &sc, &ctrl)) < 0 ||
	    (rc = vmb_stor_lun_add(ctrl, 0, &dc)) < 0)
		return rc;
	if (pthread_create(&vm->loop, NULL, host_loop, vm) != 0)
		return -ENOMEM;
	if ((rc = vmb_guest_create(&gc, &vm->g)) < 0 ||
	    (rc = vmb_stor_guest_register(vm->g, NULL, &vm->sg)) < 0 ||
	    (rc = vmb_stor_guest_wait(vm->sg, 1, 10000)) < 0)
		return rc;
	rc = vmb_blk_open(vm->sg, 0, 0, 0, &vm->b);
	if (rc == 0)
		vmb_blk_set_queue_depth(vm->b, MAX_QD);
	return rc;
}

static void vm_stop(struct vm *vm)
{
	vmb_blk_close(vm->b);
	if (vm->g)
		vmb_guest_destroy(vm->g);
	vmb_stor_guest_free(vm->sg);
	vm->stop = 1;
	pthread_join(vm->loop, NULL);
	vmb_host_destroy(vm->h);
}

/* Write the whole image so reads hit data, not holes. */
static int prefill(const char *img)
{
	int fd = open(img, O_RDWR | O_CREAT | O_TRUNC, 0600);
	uint8_t *buf = malloc(1 << 20);

	if (fd < 0 || !buf)
		return -1;
	memset(buf, 0x5a, 1 << 20);
	for (uint64_t off = 0; off < DISK_BYTES; off += 1 << 20)
		if (pwrite(fd, buf, 1 << 20, (off_t)off) != 1 << 20)
			return -1;
	fsync(fd);
	free(buf);
	return fd;
}

int main(int argc, char **argv)
{
	double secs = argc > 1 ? atof(argv[1]) : 2.0;
	const char *filter = argc > 3 ? argv[3] : NULL;
	char dir[] = "/tmp/bench-storage-XXXXXX", img[256];
	struct vm vm = {0};
	uint8_t *vbufs, *ubufs;
	int fd, rc;

	if (!mkdtemp(dir))
		return 1;
	if (argc > 2 && argv[2][0])
		snprintf(img, sizeof(img), "%s", argv[2]);
	else
		snprintf(img, sizeof(img), "%s/disk.img", dir);
	fd = prefill(img);
	if (fd < 0) {
		perror("prefill");
		return 1;
	}
	rc = vm_start(&vm, dir, img);
	if (rc < 0) {
		fprintf(stderr, "cannot start the VM: %s\n", strerror(-rc));
		return 1;
	}
	vbufs = vmb_blk_alloc_buf(vm.b, (size_t)MAX_QD << 20);
	ubufs = aligned_alloc(4096, (size_t)MAX_QD << 20);
	printf("storage: %s, %.1f s per test, image %s (%llu MiB, page cache)\n",
	       "storvsc->storvsp", secs, img, (unsigned long long)(DISK_BYTES >> 20));
	printf("%-18s %14s %14s %7s %15s %17s\n", "test", "storvsc", "io_uring", "ratio",
	       "csw/IO vsc uring", "CPU us/IO vsc uring");
	for (unsigned i = 0; i < sizeof(tests) / sizeof(tests[0]); i++) {
		const struct test *t = &tests[i];
		uint64_t us = seed(t), vs = seed(t);
		struct result ur[ROUNDS], vr[ROUNDS], u, v;

		if (filter && !strstr(t->name, filter))
			continue;
		for (unsigned k = 0; k < ROUNDS; k++) {
			if (k % 2 == 0)
				ur[k] = bench_uring(fd, t, secs / ROUNDS, ubufs, &us);
			vr[k] = bench_vmbus(vm.b, t, secs / ROUNDS, vbufs, &vs);
			if (k % 2)
				ur[k] = bench_uring(fd, t, secs / ROUNDS, ubufs, &us);
		}
		u = median(ur);
		v = median(vr);
		if (t->bs >= (1 << 20))
			printf("%-18s %9.0f MB/s %9.0f MB/s %6.1f%%", t->name,
			       v.rate * (double)t->bs / 1e6, u.rate * (double)t->bs / 1e6,
			       100 * v.rate / u.rate);
		else
			printf("%-18s %9.0f IOPS %9.0f IOPS %6.1f%%", t->name, v.rate, u.rate,
			       100 * v.rate / u.rate);
		printf("  %6.2f %6.2f   %8.1f %8.1f\n", v.csw, u.csw, v.cpu, u.cpu);
	}
	vmb_blk_free_buf(vm.b, vbufs, (size_t)MAX_QD << 20);
	free(ubufs);
	vm_stop(&vm);
	close(fd);
	unlink(img);
	rmdir(dir);
	return 0;
}
