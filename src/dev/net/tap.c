/* TAP interface helpers (Linux /dev/net/tun). */
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dev/net/tap.h"

static int name_to_ifr(const char *name, struct ifreq *ifr)
{
	memset(ifr, 0, sizeof(*ifr));
	if (!name || !*name || strlen(name) >= IFNAMSIZ)
		return -EINVAL;
	memcpy(ifr->ifr_name, name, strlen(name));
	return 0;
}

int vmb_tap_available(void)
{
	int fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

_Static_assert(VMB_TAP_NAME_MAX == IFNAMSIZ, "TAP names are interface names");

int vmb_tap_open(char name[VMB_TAP_NAME_MAX])
{
	struct ifreq ifr;
	int fd, rc = name_to_ifr(name, &ifr);

	if (rc < 0)
		return rc;
	fd = open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	ifr.ifr_flags = IFF_TAP | IFF_NO_PI;
	if (ioctl(fd, TUNSETIFF, &ifr) < 0) {
		rc = -errno;
		close(fd);
		return rc;
	}
	memcpy(name, ifr.ifr_name, IFNAMSIZ - 1);
	name[IFNAMSIZ - 1] = '\0';
	return fd;
}

/* Interface ioctls go through any socket of the current network namespace. */
static int if_ioctl(unsigned long req, struct ifreq *ifr)
{
	int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = 0;

	if (s < 0)
		return -errno;
	if (ioctl(s, req, ifr) < 0)
		rc = -errno;
	close(s);
	return rc;
}

int vmb_tap_up(const char *name)
{
	struct ifreq ifr;
	int rc = name_to_ifr(name, &ifr);

	if (rc == 0)
		rc = if_ioctl(SIOCGIFFLAGS, &ifr);
	if (rc < 0)
		return rc;
	ifr.ifr_flags = (short)(ifr.ifr_flags | IFF_UP);
	return if_ioctl(SIOCSIFFLAGS, &ifr);
}

int vmb_tap_get_mac(const char *name, uint8_t mac[6])
{
	struct ifreq ifr;
	int rc = name_to_ifr(name, &ifr);

	if (rc == 0)
		rc = if_ioctl(SIOCGIFHWADDR, &ifr);
	if (rc == 0)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	return rc;
}

int vmb_tap_set_mac(const char *name, const uint8_t mac[6])
{
	struct ifreq ifr;
	int rc = name_to_ifr(name, &ifr);

	if (rc < 0)
		return rc;
	ifr.ifr_hwaddr.sa_family = ARPHRD_ETHER;
	memcpy(ifr.ifr_hwaddr.sa_data, mac, 6);
	return if_ioctl(SIOCSIFHWADDR, &ifr);
}

void vmb_tap_writer_init(struct vmb_tap_writer *w, int fd)
{
	memset(w, 0, sizeof(*w));
	w->fd = fd;
	w->uring = vmb_tap_uring_init(&w->ring) == 0;
}

void vmb_tap_writer_destroy(struct vmb_tap_writer *w)
{
	if (w->uring)
		io_uring_queue_exit(&w->ring);
	w->uring = false;
}

static void count(struct vmb_tap_counts *c, ssize_t got, uint32_t len)
{
	if (got == (ssize_t)len) {
		c->frames++;
		c->bytes += len;
	} else {
		c->dropped++;
	}
}

void vmb_tap_queue(struct vmb_tap_writer *w, const void *data, uint32_t len,
		   struct vmb_tap_counts *c)
{
	struct io_uring_sqe *sqe;

	if (!w->uring) {
		count(c, write(w->fd, data, len), len);
		return;
	}
	if (w->queued == VMB_TAP_BATCH)
		vmb_tap_flush(w, c);
	sqe = io_uring_get_sqe(&w->ring);
	/* A TAP has no file position: -1 writes "at the current one". */
	io_uring_prep_write(sqe, w->fd, data, len, (uint64_t)-1);
	io_uring_sqe_set_data64(sqe, len);
	w->queued++;
}

static void reap(struct vmb_tap_writer *w, struct vmb_tap_counts *c, unsigned *inflight)
{
	struct io_uring_cqe *cqe;

	while (*inflight && io_uring_peek_cqe(&w->ring, &cqe) == 0) {
		count(c, cqe->res, (uint32_t)io_uring_cqe_get_data64(cqe));
		io_uring_cqe_seen(&w->ring, cqe);
		(*inflight)--;
	}
}

/*
 * io_uring_enter() itself failed for good: wait for what it took, count the
 * rest as dropped, and write frame by frame from now on (the ring, with the
 * writes it never took, goes away; no buffer is referenced by then).
 */
static void give_up(struct vmb_tap_writer *w, struct vmb_tap_counts *c, unsigned inflight)
{
	struct io_uring_cqe *cqe;

	while (inflight && io_uring_wait_cqe(&w->ring, &cqe) == 0) {
		count(c, cqe->res, (uint32_t)io_uring_cqe_get_data64(cqe));
		io_uring_cqe_seen(&w->ring, cqe);
		inflight--;
	}
	c->dropped += io_uring_sq_ready(&w->ring) + inflight;
	vmb_tap_writer_destroy(w);
}

void vmb_tap_flush(struct vmb_tap_writer *w, struct vmb_tap_counts *c)
{
	unsigned inflight = 0;

	/* Writes to a non-blocking TAP complete inside the submitting call: one syscall. */
	while (w->uring && (io_uring_sq_ready(&w->ring) || inflight)) {
		int rc = io_uring_submit_and_wait(&w->ring, 1);

		if (rc > 0)
			inflight += (unsigned)rc;
		else if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY && rc != -ENOMEM) {
			give_up(w, c, inflight);
			break;
		}
		reap(w, c, &inflight);
	}
	w->queued = 0;
}

int vmb_tap_reader_init(struct vmb_tap_reader *r, int fd, uint32_t slot)
{
	memset(r, 0, sizeof(*r));
	r->fd = fd;
	r->slot = slot;
	r->want = 4;
	r->buf = malloc((size_t)VMB_TAP_BATCH * slot);
	if (!r->buf)
		return -ENOMEM;
	r->uring = vmb_tap_uring_init(&r->ring) == 0;
	return 0;
}

void vmb_tap_reader_destroy(struct vmb_tap_reader *r)
{
	if (r->uring)
		io_uring_queue_exit(&r->ring);
	r->uring = false;
	free(r->buf);
	r->buf = NULL;
}

int vmb_tap_uring_init(struct io_uring *ring)
{
	struct io_uring_params p = {.flags = IORING_SETUP_SUBMIT_ALL};

	/* SUBMIT_ALL: every queued request is submitted and completes, even after a failed one. */
	return io_uring_queue_init_params(VMB_TAP_BATCH, ring, &p);
}

bool vmb_tap_uring_read(struct io_uring *ring, int fd, const struct iovec *iov, unsigned iovcnt,
			unsigned k, int32_t *res)
{
	unsigned done = 0;
	bool refused = false;
	int rc;

	for (unsigned i = 0; i < k; i++) {
		struct io_uring_sqe *sqe = io_uring_get_sqe(ring);

		io_uring_prep_readv(sqe, fd, iov + (size_t)i * iovcnt, iovcnt, (uint64_t)-1);
		/* Else io_uring waits for a frame: O_NONBLOCK is not enough for it. */
		sqe->rw_flags = RWF_NOWAIT;
		io_uring_sqe_set_data64(sqe, i);
		res[i] = -EAGAIN;
	}
	do
		rc = io_uring_submit_and_wait(ring, k);
	while (rc == -EINTR);
	/* Reads are issued in order, so frames land in TAP order. */
	while (rc > 0 && done < (unsigned)rc) {
		struct io_uring_cqe *cqe;

		if (io_uring_wait_cqe(ring, &cqe) < 0)
			continue;
		res[io_uring_cqe_get_data64(cqe) % k] = cqe->res;
		/* A TAP without non-blocking io_uring reads (older kernels). */
		refused |= cqe->res == -EOPNOTSUPP || cqe->res == -EINVAL;
		io_uring_cqe_seen(ring, cqe);
		done++;
	}
	return done == k && !refused;
}

unsigned vmb_tap_next_want(const int32_t *res, unsigned k)
{
	unsigned got = 0;

	for (unsigned i = 0; i < k; i++)
		got += res[i] > 0;
	return got * 2 < 2 ? 2 : got * 2 > VMB_TAP_BATCH ? VMB_TAP_BATCH : got * 2;
}

/* One read per slot, all in one io_uring_enter(); their results in r->len. */
static void read_batch(struct vmb_tap_reader *r)
{
	struct iovec iov[VMB_TAP_BATCH];
	unsigned k = r->want;

	for (unsigned i = 0; i < k; i++)
		iov[i] = (struct iovec){r->buf + (size_t)i * r->slot, r->slot};
	if (!vmb_tap_uring_read(&r->ring, r->fd, iov, 1, k, r->len)) {
		/* Refused: nothing is in flight now; read() from here on. */
		io_uring_queue_exit(&r->ring);
		r->uring = false;
	}
	r->n = k;
	r->want = vmb_tap_next_want(r->len, k);
}

int vmb_tap_peek(struct vmb_tap_reader *r, const uint8_t **data, uint32_t *len)
{
	while (r->at < r->n && r->len[r->at] <= 0)
		r->at++;
	if (r->at == r->n) {
		r->at = 0;
		if (r->uring) {
			read_batch(r);
		} else {
			ssize_t got = read(r->fd, r->buf, r->slot);

			r->len[0] = got > INT32_MAX ? INT32_MAX : (int32_t)got;
			r->n = 1;
		}
		while (r->at < r->n && r->len[r->at] <= 0)
			r->at++;
		if (r->at == r->n)
			return 0;
	}
	*data = r->buf + (size_t)r->at * r->slot;
	*len = (uint32_t)r->len[r->at];
	return 1;
}

void vmb_tap_take(struct vmb_tap_reader *r)
{
	if (r->at < r->n)
		r->at++;
}

bool vmb_tap_pending(const struct vmb_tap_reader *r)
{
	for (unsigned i = r->at; i < r->n; i++)
		if (r->len[i] > 0)
			return true;
	return false;
}
