/*
 * Host side: the guest connection (accept, hello, requests, hang-up) and
 * the event loop. One guest at a time; a second one is turned away.
 */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "partition/host_priv.h"

/* Requests handled per wakeup, so one guest cannot starve the loop. */
#define REQUESTS_PER_POLL 64

void vmb_host_conn_accept(struct vmb_host_part *h)
{
	int fd = accept4(h->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (fd < 0)
		return;
	vmb_hlock(h);
	if (h->conn_fd >= 0) {
		vmb_hunlock(h);
		vmb_hlog(h, "second guest refused: one is already connected");
		close(fd);
		return;
	}
	struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u64 = VMB_HTAG_CONN};
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		vmb_hunlock(h);
		vmb_hlog(h, "guest refused: epoll: %s", strerror(errno));
		close(fd);
		return;
	}
	h->conn_fd = fd;
	vmb_hunlock(h);
}

/*
 * A new guest must not see the previous one's memory, and a previous guest
 * process that is still alive must not reach the new one's: replace the
 * memfd under the same host address and replace the VP eventfds.
 */
static void fresh_guest_resources(struct vmb_host_part *h)
{
	int fd = vmb_mem_create(h->ram_size);
	if (fd >= 0 && mmap(h->ram, h->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
			    0) != MAP_FAILED) {
		close(h->memfd);
		h->memfd = fd;
	} else {
		if (fd >= 0)
			close(fd);
		vmb_hlog(h, "cannot replace guest RAM; zeroing it in place");
		fallocate(h->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0,
			  (off_t)h->ram_size);
	}
	for (unsigned i = 0; i < h->vp_count; i++) {
		int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (efd < 0) {
			vmb_hlog(h, "cannot replace VP %u eventfd", i);
			continue;
		}
		close(h->vps[i].kick_fd);
		h->vps[i].kick_fd = efd;
	}
}

static void guest_gone(struct vmb_host_part *h)
{
	vmb_hlock(h);
	bool was_up = h->hello_done;
	epoll_ctl(h->epfd, EPOLL_CTL_DEL, h->conn_fd, NULL);
	close(h->conn_fd);
	h->conn_fd = -1;
	vmb_hunlock(h);

	if (was_up && h->ops.guest_down)
		h->ops.guest_down(h->ctx);

	vmb_hlock(h);
	h->hello_done = false;
	h->post_head = h->post_count = 0;
	vmb_host_ports_reset(h);
	for (unsigned i = 0; i < h->vp_count; i++)
		vmb_host_synic_reset(&h->vps[i]);
	vmb_host_clock_reset(&h->clock);
	vmb_host_stimer_rearm(h);
	fresh_guest_resources(h);
	vmb_hunlock(h);
}

static int reply(struct vmb_host_part *h, struct vmb_wire_msg *m, uint32_t status, size_t len,
		 const int *fds, unsigned nfds)
{
	m->hdr.type |= VMB_WIRE_REPLY;
	m->hdr.status = status;
	m->hdr.reserved = 0;
	return vmb_wire_send(h->conn_fd, m, len, fds, nfds);
}

/* Returns true if the guest came up with this request. */
static bool do_hello(struct vmb_host_part *h, struct vmb_wire_msg *m, int *err)
{
	int fds[VMB_WIRE_MAX_FDS];

	if (h->hello_done || m->u.hello.version != VMB_WIRE_VERSION) {
		vmb_hlog(h, "guest hello refused (version %u)", m->u.hello.version);
		*err = reply(h, m, HV_STATUS_OPERATION_DENIED, sizeof(m->hdr), NULL, 0);
		return false;
	}
	fds[0] = h->memfd;
	for (unsigned i = 0; i < h->vp_count; i++)
		fds[1 + i] = h->vps[i].kick_fd;
	memset(&m->u.hello_reply, 0, sizeof(m->u.hello_reply));
	m->u.hello_reply.version = VMB_WIRE_VERSION;
	m->u.hello_reply.vp_count = h->vp_count;
	m->u.hello_reply.ram_size = h->ram_size;
	*err = reply(h, m, HV_STATUS_SUCCESS, sizeof(m->hdr) + sizeof(m->u.hello_reply), fds,
		     1 + h->vp_count);
	if (*err)
		return false;
	h->hello_done = true;
	return true;
}

static int do_get_port(struct vmb_host_part *h, struct vmb_wire_msg *m)
{
	struct vmb_host_port *p = vmb_host_port_find(h, m->u.get_port.conn_id);

	if (!p || !p->active)
		return reply(h, m, HV_STATUS_INVALID_CONNECTION_ID, sizeof(m->hdr), NULL, 0);
	return reply(h, m, HV_STATUS_SUCCESS, sizeof(m->hdr), &p->efd, 1);
}

static int do_rdmsr(struct vmb_host_part *h, struct vmb_wire_msg *m)
{
	uint64_t value = 0;
	int st = vmb_host_rdmsr(h, m->u.rdmsr.vp, m->u.rdmsr.msr, &value);

	if (st != HV_STATUS_SUCCESS)
		return reply(h, m, (uint32_t)st, sizeof(m->hdr), NULL, 0);
	m->u.rdmsr.value = value;
	return reply(h, m, HV_STATUS_SUCCESS, sizeof(m->hdr) + sizeof(m->u.rdmsr), NULL, 0);
}

/* Lock held. Returns -errno if the connection must be dropped. */
static int dispatch(struct vmb_host_part *h, struct vmb_wire_msg *m, bool *came_up)
{
	size_t hdr = sizeof(m->hdr);
	int err = 0;

	if (m->hdr.type == VMB_WIRE_HELLO) {
		*came_up = do_hello(h, m, &err);
		return err;
	}
	if (!h->hello_done)
		return reply(h, m, HV_STATUS_OPERATION_DENIED, hdr, NULL, 0);
	switch (m->hdr.type) {
	case VMB_WIRE_POST:
		return reply(h, m, (uint32_t)vmb_host_post_queue(h, &m->u.post), hdr, NULL, 0);
	case VMB_WIRE_WRMSR:
		return reply(h, m,
			     (uint32_t)vmb_host_synic_wrmsr(h, m->u.wrmsr.vp, m->u.wrmsr.msr,
							    m->u.wrmsr.value),
			     hdr, NULL, 0);
	case VMB_WIRE_GET_PORT:
		return do_get_port(h, m);
	case VMB_WIRE_RDMSR:
		return do_rdmsr(h, m);
	default:
		return reply(h, m, HV_STATUS_INVALID_HYPERCALL_CODE, hdr, NULL, 0);
	}
}

/* One request. Returns 1 if handled, 0 if none is waiting, -errno to hang up. */
static int one_request(struct vmb_host_part *h, bool *came_up)
{
	struct vmb_wire_msg m;

	long n = vmb_wire_recv(h->conn_fd, &m, sizeof(m), NULL, 0, NULL, MSG_DONTWAIT);
	if (n == -EAGAIN)
		return 0;
	if (n == 0)
		return -ECONNRESET;
	if (n < 0) {
		vmb_hlog(h, "guest request unreadable (%s): disconnecting", strerror((int)-n));
		return (int)n;
	}
	int chk = vmb_wire_check(&m, (size_t)n);
	if (chk == -EBADMSG && (size_t)n < sizeof(m.hdr)) {
		vmb_hlog(h, "guest request of %ld bytes: disconnecting", n);
		return -EBADMSG;
	}
	vmb_hlock(h);
	int err;
	if (chk) {
		vmb_hlog(h, "malformed guest request type %#x, %ld bytes", m.hdr.type, n);
		err = reply(h, &m,
			    chk == -ENOSYS ? HV_STATUS_INVALID_HYPERCALL_CODE
					   : HV_STATUS_INVALID_HYPERCALL_INPUT,
			    sizeof(m.hdr), NULL, 0);
	} else {
		err = dispatch(h, &m, came_up);
	}
	vmb_hunlock(h);
	if (err)
		vmb_hlog(h, "reply to guest failed (%s): disconnecting", strerror(-err));
	return err ? err : 1;
}

void vmb_host_conn_input(struct vmb_host_part *h)
{
	bool came_up = false;
	int r = 1;

	if (h->conn_fd < 0)
		return; /* stale event: the guest went away earlier in this batch */
	for (int i = 0; i < REQUESTS_PER_POLL && r > 0; i++)
		r = one_request(h, &came_up);
	if (came_up && h->ops.guest_up)
		h->ops.guest_up(h->ctx);
	if (r < 0)
		guest_gone(h);
}

int vmb_host_part_poll(struct vmb_host_part *h, int timeout_ms)
{
	struct epoll_event ev[16];

	vmb_host_post_drain(h);
	int n = epoll_wait(h->epfd, ev, 16, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	for (int i = 0; i < n; i++) {
		uint64_t tag = ev[i].data.u64 & VMB_HTAG_MASK;
		if (tag == VMB_HTAG_LISTEN)
			vmb_host_conn_accept(h);
		else if (tag == VMB_HTAG_CONN)
			vmb_host_conn_input(h);
		else if (tag == VMB_HTAG_PORT)
			vmb_host_port_event(h, (uint32_t)ev[i].data.u64);
		else if (tag == VMB_HTAG_TIMER)
			vmb_host_stimer_expire(h);
	}
	vmb_host_post_drain(h);
	return 0;
}
