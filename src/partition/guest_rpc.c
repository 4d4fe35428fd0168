/*
 * Guest -> host requests over the socket: one in flight at a time, each
 * answered with the same sequence number. A reply that arrives after its
 * caller gave up (time-out) is recognised by its stale number and dropped.
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "partition/guest_priv.h"

/* A host that does not answer within this is treated as hung. */
#define RPC_TIMEOUT_MS 10000

bool vmb_gpart_host_gone(struct vmb_guest_part *g)
{
	return __atomic_exchange_n(&g->host_gone, 1, __ATOMIC_ACQ_REL) == 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait for the reply to request (type, seq). Returns its length or -errno. */
static long wait_reply(struct vmb_guest_part *g, struct vmb_wire_msg *m, uint32_t type,
		       uint32_t seq, int *fds, unsigned max_fds, unsigned *nfds)
{
	long deadline = now_ms() + RPC_TIMEOUT_MS;

	for (;;) {
		struct pollfd pfd = {.fd = g->sock, .events = POLLIN};
		long left = deadline - now_ms();
		if (left <= 0)
			return -ETIMEDOUT;
		int r = poll(&pfd, 1, (int)left);
		if (r < 0 && errno != EINTR)
			return -errno;
		if (r <= 0)
			continue;
		long n = vmb_wire_recv(g->sock, m, sizeof(*m), fds, max_fds, nfds, MSG_DONTWAIT);
		if (n == -EAGAIN)
			continue;
		if (n == 0)
			return -ENOTCONN;
		if (n < 0)
			return n == -EBADMSG ? -EPROTO : n;
		if (m->hdr.seq == seq && m->hdr.type == (type | VMB_WIRE_REPLY))
			return n;
		vmb_wire_close_fds(fds, *nfds);
	}
}

int vmb_guest_rpc(struct vmb_guest_part *g, struct vmb_wire_msg *m, size_t len, int *fds,
		  unsigned max_fds, unsigned *nfds)
{
	uint32_t type = m->hdr.type;
	unsigned got = 0;

	if (__atomic_load_n(&g->host_gone, __ATOMIC_ACQUIRE))
		return -ENOTCONN;
	pthread_mutex_lock(&g->rpc_lock);
	uint32_t seq = ++g->seq;
	m->hdr.seq = seq;
	m->hdr.status = 0;
	m->hdr.reserved = 0;
	long n = vmb_wire_send(g->sock, m, len, NULL, 0);
	if (n == 0)
		n = wait_reply(g, m, type, seq, fds, max_fds, &got);
	pthread_mutex_unlock(&g->rpc_lock);
	if (n == -ENOTCONN || n == -EPIPE || n == -ECONNRESET) {
		vmb_gpart_host_gone(g);
		return -ENOTCONN;
	}
	if (n < 0)
		return (int)n;
	int st = (int)m->hdr.status;
	if (m->hdr.status > 0xffff || (st == HV_STATUS_SUCCESS && vmb_wire_check(m, (size_t)n))) {
		vmb_glog(g, "malformed reply to request type %u", type);
		st = -EPROTO;
	}
	if (st != HV_STATUS_SUCCESS || !nfds) {
		vmb_wire_close_fds(fds, got);
		got = 0;
	}
	if (nfds)
		*nfds = got;
	return st;
}
