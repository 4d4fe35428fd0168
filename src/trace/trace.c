/*
 * pcapng writer for control messages (docs/trace.md). Every block goes out
 * in one writev() under the lock, so blocks from several threads never
 * interleave and a killed process leaves a file that ends on a block
 * boundary (unless killed in the middle of that one system call).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "vmbus/trace.h"

#define PCAPNG_SHB		0x0A0D0D0Au
#define PCAPNG_IDB		0x00000001u
#define PCAPNG_EPB		0x00000006u
#define PCAPNG_BYTE_ORDER_MAGIC 0x1A2B3C4Du

/* Our own limit: control messages are at most 240 bytes. */
#define TRACE_MAX_MSG 65535u

/* Block fields are in host byte order; the magic tells readers which. */
struct pcapng_shb {
	uint32_t type, total_len, magic;
	uint16_t major, minor;
	uint32_t section_len[2]; /* s64 -1; split to avoid padding */
	uint32_t total_len2;
};

struct pcapng_idb {
	uint32_t type, total_len;
	uint16_t linktype, reserved;
	uint32_t snaplen;
	uint32_t total_len2;
};

struct pcapng_epb {
	uint32_t type, total_len, if_id, ts_high, ts_low, cap_len, orig_len;
};

_Static_assert(sizeof(struct pcapng_shb) == 28, "SHB size");
_Static_assert(sizeof(struct pcapng_idb) == 20, "IDB size");
_Static_assert(sizeof(struct pcapng_epb) == 28, "EPB fixed part");

/* Pseudo header before each message; little-endian whatever the host. */
#define TRACE_PSEUDO_HDR 16

struct vmb_trace {
	pthread_mutex_t lock;
	int fd;
};

static int write_all(int fd, struct iovec *iov, int cnt)
{
	while (cnt > 0) {
		ssize_t n = writev(fd, iov, cnt);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		while (cnt > 0 && (size_t)n >= iov->iov_len) {
			n -= (ssize_t)iov->iov_len;
			iov++;
			cnt--;
		}
		if (cnt > 0) {
			iov->iov_base = (uint8_t *)iov->iov_base + n;
			iov->iov_len -= (size_t)n;
		}
	}
	return 0;
}

static int write_preamble(int fd)
{
	struct pcapng_shb shb = {
	    .type = PCAPNG_SHB,
	    .total_len = sizeof(shb),
	    .magic = PCAPNG_BYTE_ORDER_MAGIC,
	    .major = 1,
	    .minor = 0,
	    /* -1 = unknown: the file grows while we trace. */
	    .section_len = {0xffffffffu, 0xffffffffu},
	    .total_len2 = sizeof(shb),
	};
	struct pcapng_idb idb = {
	    .type = PCAPNG_IDB,
	    .total_len = sizeof(idb),
	    .linktype = VMB_TRACE_LINKTYPE,
	    .snaplen = 0, /* no limit */
	    .total_len2 = sizeof(idb),
	};
	struct iovec iov[2] = {{&shb, sizeof(shb)}, {&idb, sizeof(idb)}};

	return write_all(fd, iov, 2);
}

int vmb_trace_open(const char *path, struct vmb_trace **out)
{
	struct vmb_trace *t;
	int ret;

	if (path == NULL || out == NULL)
		return -EINVAL;
	t = calloc(1, sizeof(*t));
	if (t == NULL)
		return -ENOMEM;
	t->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (t->fd < 0) {
		ret = -errno;
		free(t);
		return ret;
	}
	ret = write_preamble(t->fd);
	if (ret < 0) {
		close(t->fd);
		free(t);
		return ret;
	}
	pthread_mutex_init(&t->lock, NULL);
	*out = t;
	return 0;
}

void vmb_trace_close(struct vmb_trace *t)
{
	if (t == NULL)
		return;
	close(t->fd);
	pthread_mutex_destroy(&t->lock);
	free(t);
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/* Microseconds since the epoch: pcapng's default if_tsresol. */
static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

int vmb_trace_msg(struct vmb_trace *t, uint32_t dir, uint32_t vp, uint32_t id, const void *msg,
		  size_t len)
{
	static const uint8_t zero_pad[4];
	uint8_t pseudo[TRACE_PSEUDO_HDR];
	uint32_t cap = (uint32_t)(TRACE_PSEUDO_HDR + len);
	uint32_t pad = (4 - cap % 4) % 4;
	struct pcapng_epb epb = {.type = PCAPNG_EPB, .cap_len = cap, .orig_len = cap};
	uint32_t trailer;
	uint64_t us;
	int ret;

	if (t == NULL || dir > 1 || len > TRACE_MAX_MSG || (msg == NULL && len > 0))
		return -EINVAL;
	put_le32(pseudo, dir);
	put_le32(pseudo + 4, vp);
	put_le32(pseudo + 8, id);
	put_le32(pseudo + 12, 0);
	epb.total_len = (uint32_t)sizeof(epb) + cap + pad + 4;
	trailer = epb.total_len;
	struct iovec iov[5] = {
	    {&epb, sizeof(epb)},     {pseudo, sizeof(pseudo)},	  {(void *)msg, len},
	    {(void *)zero_pad, pad}, {&trailer, sizeof(trailer)},
	};

	pthread_mutex_lock(&t->lock);
	/* Stamped under the lock so timestamps never go backwards in the file. */
	us = now_usec();
	epb.ts_high = (uint32_t)(us >> 32);
	epb.ts_low = (uint32_t)us;
	ret = write_all(t->fd, iov, 5);
	pthread_mutex_unlock(&t->lock);
	return ret;
}
