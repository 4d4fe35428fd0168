/*
 * Raw image back end over io_uring: one ring + one completion thread per disk.
 *
 * Completions are reaped by whoever finds them first. Buffered reads that
 * hit the page cache complete inside io_uring_enter(), so the submitting
 * thread (the host loop) reaps them right after submitting and answers the
 * guest without waking anybody; the completion thread only sleeps in the
 * kernel while some request is still outstanding there (writes punted to
 * io-wq, O_DIRECT, cache misses).
 *
 * Once an SQE is prepared the request belongs to the ring: a submission
 * the kernel refuses leaves it queued for the next one, and its done()
 * still runs exactly once.
 */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "dev/storage/disk.h"

#define DISK_RING_ENTRIES 256
#define DISK_ALIGN	  4096u
#define DISK_REAP_MAX	  64 /* completions taken per pass over the CQ */
#define DISK_RETRY_NS	  100000 /* between submissions the kernel refused */
#define DISK_RETRIES	  1000
#define DISK_COALESCE_NS  100000 /* longest wait for a burst of completions */

struct vmb_disk {
	int fd;
	bool ro, direct;
	uint64_t size;
	char *path;
	struct io_uring ring;
	pthread_mutex_t sq_lock; /* one submitter at a time */
	/* The CQ has one consumer at a time; pending and stopping go with it. */
	pthread_mutex_t cq_lock;
	pthread_cond_t cq_cond; /* pending became positive, or stopping */
	/* SQEs the kernel took whose CQE nobody has taken. Counted after
	 * io_uring_submit() returns, so a fast reaper may briefly take it
	 * below zero. */
	int pending;
	bool stopping;
	pthread_t thread;
};

struct reaped {
	struct vmb_disk_io *io;
	int res;
};

static int queue_sqe(struct vmb_disk *d, struct vmb_disk_io *io);
static int submit_sqes(struct vmb_disk *d);

/* Requests are left in the kernel: the completion thread must wait for them. */
static void wake_reaper(struct vmb_disk *d)
{
	pthread_mutex_lock(&d->cq_lock);
	if (d->pending > 0)
		pthread_cond_signal(&d->cq_cond);
	pthread_mutex_unlock(&d->cq_lock);
}

static bool aligned(const struct vmb_disk_io *io)
{
	for (unsigned i = 0; i < io->iovcnt; i++)
		if (((uintptr_t)io->iov[i].iov_base | io->iov[i].iov_len) % 512)
			return false;
	return true;
}

static void bounce_copy(struct vmb_disk_io *io, bool to_bounce)
{
	uint8_t *b = io->bounce;

	for (unsigned i = 0; i < io->iovcnt; i++) {
		if (to_bounce)
			memcpy(b, io->iov[i].iov_base, io->iov[i].iov_len);
		else
			memcpy(io->iov[i].iov_base, b, io->iov[i].iov_len);
		b += io->iov[i].iov_len;
	}
}

static void finish(struct vmb_disk_io *io, int res)
{
	if (io->bounce) {
		if (res == 0 && io->op == VMB_DISK_READ)
			bounce_copy(io, false);
		free(io->bounce);
		io->bounce = NULL;
	}
	io->done(io, res);
}

/* Drop `n` transferred bytes from the front of the iovec list. */
static void advance(struct vmb_disk_io *io, size_t n)
{
	while (n && io->iovcnt) {
		size_t k = n < io->iov->iov_len ? n : io->iov->iov_len;

		io->iov->iov_base = (uint8_t *)io->iov->iov_base + k;
		io->iov->iov_len -= k;
		n -= k;
		if (io->iov->iov_len == 0) {
			io->iov++;
			io->iovcnt--;
		}
	}
}

static void reap(struct vmb_disk *d, struct vmb_disk_io *io, int res)
{
	bool rw = io->op == VMB_DISK_READ || io->op == VMB_DISK_WRITE;

	if (res < 0)
		return finish(io, res);
	if (!rw || (uint64_t)res + io->moved >= io->length)
		return finish(io, 0);
	/* Short transfer: a read past EOF cannot happen (the size is fixed),
	 * so carry on with the rest. */
	if (res == 0)
		return finish(io, -EIO);
	io->moved += (uint64_t)res;
	if (!io->bounce)
		advance(io, (size_t)res);
	pthread_mutex_lock(&d->sq_lock);
	res = queue_sqe(d, io);
	if (res == 0)
		submit_sqes(d);
	pthread_mutex_unlock(&d->sq_lock);
	if (res < 0)
		finish(io, res);
	else
		wake_reaper(d);
}

/* Take up to DISK_REAP_MAX completions off the CQ (cq_lock held). */
static unsigned take_cqes(struct vmb_disk *d, struct reaped *out)
{
	struct io_uring_cqe *cqe;
	unsigned n = 0;

	while (n < DISK_REAP_MAX && io_uring_peek_cqe(&d->ring, &cqe) == 0) {
		out[n].io = io_uring_cqe_get_data(cqe);
		out[n].res = cqe->res;
		io_uring_cqe_seen(&d->ring, cqe);
		d->pending--;
		/* The NOP of vmb_disk_close() carries no request. */
		if (out[n].io)
			n++;
	}
	return n;
}

/* Complete what is on the CQ now; false when it was empty. */
static bool reap_ready(struct vmb_disk *d)
{
	struct reaped done[DISK_REAP_MAX];
	unsigned n;

	pthread_mutex_lock(&d->cq_lock);
	n = take_cqes(d, done);
	pthread_mutex_unlock(&d->cq_lock);
	/* Outside the lock: a short transfer resubmits, and done() answers the guest. */
	for (unsigned i = 0; i < n; i++)
		reap(d, done[i].io, done[i].res);
	return n > 0;
}

/*
 * Sleep in the kernel until CQEs are posted, without taking them (a
 * submitter may get there first; both reap under cq_lock). With many
 * requests outstanding, wait for a quarter of them or DISK_COALESCE_NS,
 * whichever comes first, as a NIC moderates interrupts: one wake-up and
 * one burst of answers (most of them without a signal to the guest)
 * instead of one per request. The kernel checks the count before waking
 * us. A single outstanding request is still answered at once.
 */
static void wait_cqes(struct vmb_disk *d, int pending)
{
	struct __kernel_timespec ts = {0, DISK_COALESCE_NS};
	struct io_uring_getevents_arg arg = {.ts = (uint64_t)(uintptr_t)&ts};
	unsigned want = pending >= 8 ? (unsigned)pending / 4 : 1;

	if (want == 1) {
		io_uring_enter((unsigned)d->ring.ring_fd, 0, 1, IORING_ENTER_GETEVENTS, NULL);
		return;
	}
	io_uring_enter2((unsigned)d->ring.ring_fd, 0, want,
			IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG, (sigset_t *)&arg,
			sizeof(arg));
}

static void *completion_main(void *arg)
{
	struct vmb_disk *d = arg;
	unsigned ready;
	int pending;

	for (;;) {
		pthread_mutex_lock(&d->cq_lock);
		while (d->pending <= 0 && !d->stopping)
			pthread_cond_wait(&d->cq_cond, &d->cq_lock);
		if (d->pending <= 0) {
			pthread_mutex_unlock(&d->cq_lock);
			return NULL;
		}
		ready = io_uring_cq_ready(&d->ring);
		pending = d->pending;
		pthread_mutex_unlock(&d->cq_lock);
		if (!ready)
			wait_cqes(d, pending);
		while (reap_ready(d))
			;
	}
}

static struct io_uring_sqe *get_sqe(struct vmb_disk *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe && submit_sqes(d) == 0)
		sqe = io_uring_get_sqe(&d->ring);
	return sqe;
}

/* With sq_lock held: hand the queued SQEs to the kernel. */
static int submit_sqes(struct vmb_disk *d)
{
	int rc = io_uring_submit(&d->ring);

	if (rc > 0) {
		pthread_mutex_lock(&d->cq_lock);
		d->pending += rc;
		pthread_mutex_unlock(&d->cq_lock);
	}
	return rc < 0 ? rc : 0;
}

/* Submit what is queued; a transient refusal (no memory, CQ overflow) is
 * retried after reaping. sq_lock is taken here. */
static int submit_all(struct vmb_disk *d)
{
	struct timespec pause = {0, DISK_RETRY_NS};
	int rc = 0;

	for (int i = 0; i < DISK_RETRIES; i++) {
		pthread_mutex_lock(&d->sq_lock);
		rc = io_uring_sq_ready(&d->ring) ? submit_sqes(d) : 0;
		pthread_mutex_unlock(&d->sq_lock);
		if (rc != -EAGAIN && rc != -EBUSY && rc != -EINTR)
			break;
		reap_ready(d);
		nanosleep(&pause, NULL);
	}
	return rc;
}

/* One buffer (the usual case: guest pages the host maps contiguously)
 * goes as a plain READ/WRITE, which the kernel serves with a cheaper
 * iterator than a vector. */
static void prep_rw(struct io_uring_sqe *sqe, int fd, bool write, const struct iovec *iov,
		    unsigned cnt, uint64_t off)
{
	if (cnt == 1 && write)
		io_uring_prep_write(sqe, fd, iov->iov_base, (unsigned)iov->iov_len, off);
	else if (cnt == 1)
		io_uring_prep_read(sqe, fd, iov->iov_base, (unsigned)iov->iov_len, off);
	else if (write)
		io_uring_prep_writev(sqe, fd, iov, cnt, off);
	else
		io_uring_prep_readv(sqe, fd, iov, cnt, off);
}

/* With sq_lock held; the SQE is submitted later (submit_sqes). */
static int queue_sqe(struct vmb_disk *d, struct vmb_disk_io *io)
{
	struct io_uring_sqe *sqe = get_sqe(d);
	uint64_t off = io->offset + io->moved;

	if (!sqe)
		return -EBUSY;
	switch (io->op) {
	case VMB_DISK_READ:
	case VMB_DISK_WRITE: {
		struct iovec *iov = io->iov;
		unsigned cnt = io->iovcnt;
		struct iovec one;

		if (io->bounce) {
			one.iov_base = (uint8_t *)io->bounce + io->moved;
			one.iov_len = io->length - io->moved;
			iov = &one;
			cnt = 1;
		}
		prep_rw(sqe, d->fd, io->op == VMB_DISK_WRITE, iov, cnt, off);
		if (io->fua)
			sqe->rw_flags = RWF_DSYNC;
		break;
	}
	case VMB_DISK_FLUSH:
		io_uring_prep_fsync(sqe, d->fd, IORING_FSYNC_DATASYNC);
		break;
	case VMB_DISK_DISCARD:
		io_uring_prep_fallocate(sqe, d->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
					io->offset, io->length);
		break;
	}
	io_uring_sqe_set_data(sqe, io);
	return 0;
}

static int check_io(const struct vmb_disk *d, const struct vmb_disk_io *io)
{
	uint64_t sum = 0;

	if (io->op == VMB_DISK_FLUSH)
		return 0;
	if (d->ro && io->op != VMB_DISK_READ)
		return -EROFS;
	if (io->offset > d->size || io->length > d->size - io->offset || !io->length)
		return -EINVAL;
	if (io->op == VMB_DISK_DISCARD)
		return 0;
	for (unsigned i = 0; i < io->iovcnt; i++)
		sum += io->iov[i].iov_len;
	return sum == io->length ? 0 : -EINVAL;
}

int vmb_disk_queue(struct vmb_disk *d, struct vmb_disk_io *io)
{
	int rc = check_io(d, io);

	if (rc < 0)
		return rc;
	io->moved = 0;
	io->bounce = NULL;
	if (d->direct && (io->op == VMB_DISK_READ || io->op == VMB_DISK_WRITE) && !aligned(io)) {
		size_t len = (io->length + DISK_ALIGN - 1) & ~(size_t)(DISK_ALIGN - 1);

		io->bounce = aligned_alloc(DISK_ALIGN, len);
		if (!io->bounce)
			return -ENOMEM;
		if (io->op == VMB_DISK_WRITE)
			bounce_copy(io, true);
	}
	pthread_mutex_lock(&d->sq_lock);
	rc = queue_sqe(d, io);
	pthread_mutex_unlock(&d->sq_lock);
	if (rc < 0) {
		free(io->bounce);
		io->bounce = NULL;
	}
	return rc;
}

int vmb_disk_kick(struct vmb_disk *d)
{
	int rc = submit_all(d);

	wake_reaper(d);
	/* Page-cache hits are done already: answer them from this thread.
	 * Last: once the last request is answered the disk may be closed. */
	reap_ready(d);
	return rc;
}

int vmb_disk_submit(struct vmb_disk *d, struct vmb_disk_io *io)
{
	int rc = vmb_disk_queue(d, io);

	if (rc == 0)
		vmb_disk_kick(d);
	return rc;
}

static int open_image(struct vmb_disk *d, const struct vmb_disk_config *cfg)
{
	int flags = O_CLOEXEC | (cfg->ro ? O_RDONLY : O_RDWR);
	struct stat st;

	if (!cfg->ro && cfg->size)
		flags |= O_CREAT;
	if (cfg->direct)
		flags |= O_DIRECT;
	d->fd = open(cfg->path, flags, 0644);
	if (d->fd < 0)
		return -errno;
	/* Two VMs writing one image would corrupt it. */
	if (flock(d->fd, (cfg->ro ? LOCK_SH : LOCK_EX) | LOCK_NB) < 0)
		return -errno;
	if (fstat(d->fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (!cfg->ro && cfg->size > (uint64_t)st.st_size) {
		if (ftruncate(d->fd, (off_t)cfg->size) < 0)
			return -errno;
		st.st_size = (off_t)cfg->size;
	}
	d->size = (uint64_t)st.st_size & ~(uint64_t)511;
	return d->size ? 0 : -EINVAL;
}

int vmb_disk_open(const struct vmb_disk_config *cfg, struct vmb_disk **out)
{
	struct vmb_disk *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		return -ENOMEM;
	d->fd = -1;
	d->ro = cfg->ro;
	d->direct = cfg->direct;
	d->path = strdup(cfg->path);
	rc = d->path ? open_image(d, cfg) : -ENOMEM;
	if (rc == 0)
		rc = io_uring_queue_init(DISK_RING_ENTRIES, &d->ring, 0);
	if (rc == 0) {
		pthread_mutex_init(&d->sq_lock, NULL);
		pthread_mutex_init(&d->cq_lock, NULL);
		pthread_cond_init(&d->cq_cond, NULL);
		rc = -pthread_create(&d->thread, NULL, completion_main, d);
		if (rc < 0) {
			pthread_cond_destroy(&d->cq_cond);
			pthread_mutex_destroy(&d->cq_lock);
			pthread_mutex_destroy(&d->sq_lock);
			io_uring_queue_exit(&d->ring);
		}
	}
	if (rc < 0) {
		if (d->fd >= 0)
			close(d->fd);
		free(d->path);
		free(d);
		return rc;
	}
	*out = d;
	return 0;
}

void vmb_disk_close(struct vmb_disk *d)
{
	struct io_uring_sqe *sqe;

	pthread_mutex_lock(&d->cq_lock);
	d->stopping = true;
	pthread_cond_signal(&d->cq_cond);
	pthread_mutex_unlock(&d->cq_lock);
	/* A NOP without data ends a wait for CQEs that a submitter took. */
	pthread_mutex_lock(&d->sq_lock);
	while (!(sqe = get_sqe(d)))
		;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	submit_sqes(d);
	pthread_mutex_unlock(&d->sq_lock);
	pthread_join(d->thread, NULL);
	io_uring_queue_exit(&d->ring);
	pthread_cond_destroy(&d->cq_cond);
	pthread_mutex_destroy(&d->cq_lock);
	pthread_mutex_destroy(&d->sq_lock);
	close(d->fd);
	free(d->path);
	free(d);
}

uint64_t vmb_disk_size(const struct vmb_disk *d)
{
	return d->size;
}

bool vmb_disk_ro(const struct vmb_disk *d)
{
	return d->ro;
}

const char *vmb_disk_path(const struct vmb_disk *d)
{
	return d->path;
}
