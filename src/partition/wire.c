#include <errno.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "vmbus/partition.h"
#include "partition/wire.h"

static size_t body_len(uint32_t type, const struct vmb_wire_msg *m)
{
	switch (type) {
	case VMB_WIRE_HELLO:
		return sizeof(m->u.hello);
	case VMB_WIRE_HELLO | VMB_WIRE_REPLY:
		return sizeof(m->u.hello_reply);
	case VMB_WIRE_POST:
		if (m->u.post.size > HV_MESSAGE_PAYLOAD_SIZE)
			return SIZE_MAX;
		return VMB_WIRE_POST_FIXED + m->u.post.size;
	case VMB_WIRE_WRMSR:
		return sizeof(m->u.wrmsr);
	case VMB_WIRE_GET_PORT:
		return sizeof(m->u.get_port);
	case VMB_WIRE_RDMSR:
	case VMB_WIRE_RDMSR | VMB_WIRE_REPLY:
		return sizeof(m->u.rdmsr);
	default:
		return 0;
	}
}

static bool known_type(uint32_t type)
{
	switch (type & ~VMB_WIRE_REPLY) {
	case VMB_WIRE_HELLO:
	case VMB_WIRE_POST:
	case VMB_WIRE_WRMSR:
	case VMB_WIRE_GET_PORT:
	case VMB_WIRE_RDMSR:
		return true;
	default:
		return false;
	}
}

int vmb_wire_check(const struct vmb_wire_msg *m, size_t len)
{
	if (len < sizeof(m->hdr))
		return -EBADMSG;
	if (!known_type(m->hdr.type))
		return -ENOSYS;
	/* POST's payload size sits in its fixed part: that must be there first. */
	if (m->hdr.type == VMB_WIRE_POST && len < sizeof(m->hdr) + VMB_WIRE_POST_FIXED)
		return -EBADMSG;
	return len == sizeof(m->hdr) + body_len(m->hdr.type, m) ? 0 : -EBADMSG;
}

int vmb_wire_send(int fd, const void *buf, size_t len, const int *fds, unsigned nfds)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * VMB_WIRE_MAX_FDS)];
	} c;
	struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};

	if (nfds > VMB_WIRE_MAX_FDS)
		return -EINVAL;
	if (nfds) {
		memset(&c, 0, sizeof(c));
		mh.msg_control = c.buf;
		mh.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
		struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
		memcpy(CMSG_DATA(cm), fds, sizeof(int) * nfds);
	}
	for (;;) {
		ssize_t n = sendmsg(fd, &mh, MSG_NOSIGNAL);
		if (n >= 0)
			return (size_t)n == len ? 0 : -EMSGSIZE;
		if (errno != EINTR)
			return -errno;
	}
}

void vmb_wire_close_fds(const int *fds, unsigned n)
{
	for (unsigned i = 0; i < n; i++)
		close(fds[i]);
}

/* Collect every descriptor the kernel installed, whatever the caller wanted. */
static unsigned take_fds(struct msghdr *mh, int *out, unsigned cap)
{
	unsigned n = 0;

	for (struct cmsghdr *cm = CMSG_FIRSTHDR(mh); cm; cm = CMSG_NXTHDR(mh, cm)) {
		if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
			continue;
		size_t cnt = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);
		for (size_t i = 0; i < cnt && n < cap; i++)
			memcpy(&out[n++], CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
	}
	return n;
}

long vmb_wire_recv(int fd, void *buf, size_t cap, int *fds, unsigned max_fds, unsigned *nfds,
		   int flags)
{
	union {
		struct cmsghdr h;
		char buf[CMSG_SPACE(sizeof(int) * VMB_WIRE_MAX_FDS)];
	} c;
	int got[VMB_WIRE_MAX_FDS];
	struct iovec iov = {.iov_base = buf, .iov_len = cap};
	struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1};
	ssize_t n;

	mh.msg_control = c.buf;
	mh.msg_controllen = sizeof(c.buf);
	do {
		n = recvmsg(fd, &mh, flags | MSG_CMSG_CLOEXEC);
	} while (n < 0 && errno == EINTR);
	if (n < 0)
		return -errno;
	unsigned k = take_fds(&mh, got, VMB_WIRE_MAX_FDS);
	if ((mh.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) || k > max_fds) {
		vmb_wire_close_fds(got, k);
		return -EBADMSG;
	}
	if (k)
		memcpy(fds, got, sizeof(int) * k);
	if (nfds)
		*nfds = k;
	return (long)n;
}
