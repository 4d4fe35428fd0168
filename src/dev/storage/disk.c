/* Raw image back end over io_uring: one ring + one completion thread per disk. */
#include <errno.h>
#include <fcntl.h>
#include <liburing.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dev/storage/disk.h"

#define DISK_RING_ENTRIES 256
#define DISK_ALIGN	  4096u

struct vmb_disk {
	int fd;
	bool ro, direct;
	uint64_t size;
	char *path;
	struct io_uring ring;
	pthread_mutex_t sq_lock; /* one submitter at a time; the thread reaps */
	pthread_t thread;
};

static int queue_sqe(struct vmb_disk *d, struct vmb_disk_io *io);

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
	pthread_mutex_unlock(&d->sq_lock);
	if (res < 0)
		finish(io, res);
}

static void *completion_main(void *arg)
{
	struct vmb_disk *d = arg;

	for (;;) {
		struct io_uring_cqe *cqe;
		struct vmb_disk_io *io;
		int res;

		if (io_uring_wait_cqe(&d->ring, &cqe) < 0)
			continue;
		io = io_uring_cqe_get_data(cqe);
		res = cqe->res;
		io_uring_cqe_seen(&d->ring, cqe);
		if (!io) /* the stop marker from vmb_disk_close() */
			return NULL;
		reap(d, io, res);
	}
}

static struct io_uring_sqe *get_sqe(struct vmb_disk *d)
{
	struct io_uring_sqe *sqe = io_uring_get_sqe(&d->ring);

	if (!sqe && io_uring_submit(&d->ring) >= 0)
		sqe = io_uring_get_sqe(&d->ring);
	return sqe;
}

/* With sq_lock held. */
static int queue_sqe(struct vmb_disk *d, struct vmb_disk_io *io)
{
	struct io_uring_sqe *sqe = get_sqe(d);
	uint64_t off = io->offset + io->moved;
	int rc;

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
		if (io->op == VMB_DISK_READ)
			io_uring_prep_readv(sqe, d->fd, iov, cnt, off);
		else
			io_uring_prep_writev2(sqe, d->fd, iov, cnt, off, io->fua ? RWF_DSYNC : 0);
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
	rc = io_uring_submit(&d->ring);
	return rc < 0 ? rc : 0;
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

int vmb_disk_submit(struct vmb_disk *d, struct vmb_disk_io *io)
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
		rc = -pthread_create(&d->thread, NULL, completion_main, d);
		if (rc < 0) {
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

	pthread_mutex_lock(&d->sq_lock);
	/* A NOP without data tells the completion thread to stop. */
	while (!(sqe = get_sqe(d)))
		;
	io_uring_prep_nop(sqe);
	io_uring_sqe_set_data(sqe, NULL);
	io_uring_submit(&d->ring);
	pthread_mutex_unlock(&d->sq_lock);
	pthread_join(d->thread, NULL);
	io_uring_queue_exit(&d->ring);
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
