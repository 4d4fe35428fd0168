/*
 * Event ports: one eventfd per connection id (as KVM's Hyper-V eventfds).
 * A port's eventfd lives as long as the guest connection, even across
 * remove/add, because the guest caches the descriptor after GET_PORT.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "partition/host_priv.h"

/* Fibonacci hashing spreads the usual 0x10 + relid connection ids. */
static uint32_t port_bucket(uint32_t conn_id)
{
	return (conn_id * 0x9e3779b1u) >> (32 - VMB_HOST_PORT_HASH_BITS);
}

/*
 * Ports are never removed before a reset, so indexes are stable. A guest
 * that chooses connection ids sharing a bucket gets a chain no longer than
 * the scan of all ports this replaced.
 */
struct vmb_host_port *vmb_host_port_find(struct vmb_host_part *h, uint32_t conn_id)
{
	uint32_t i = h->port_hash[port_bucket(conn_id)];

	while (i) {
		struct vmb_host_port *p = &h->ports[i - 1];

		if (p->conn_id == conn_id)
			return p;
		i = p->hash_next;
	}
	return NULL;
}

static struct vmb_host_port *port_new(struct vmb_host_part *h, uint32_t conn_id)
{
	if (h->nports == h->ports_cap) {
		size_t cap = h->ports_cap ? 2 * h->ports_cap : 16;
		struct vmb_host_port *p = realloc(h->ports, cap * sizeof(*p));
		if (!p)
			return NULL;
		h->ports = p;
		h->ports_cap = cap;
	}
	int efd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (efd < 0)
		return NULL;
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = VMB_HTAG_PORT | h->nports};
	if (epoll_ctl(h->epfd, EPOLL_CTL_ADD, efd, &ev) < 0) {
		close(efd);
		return NULL;
	}
	struct vmb_host_port *p = &h->ports[h->nports++];
	uint32_t *head = &h->port_hash[port_bucket(conn_id)];
	p->conn_id = conn_id;
	p->efd = efd;
	p->active = false;
	p->hash_next = *head;
	*head = (uint32_t)h->nports;
	return p;
}

int vmb_host_part_port_add(struct vmb_host_part *h, uint32_t conn_id, void (*fn)(void *arg),
			   void *arg)
{
	if (!fn || (conn_id & ~HV_CONNECTION_ID_MASK))
		return -EINVAL;
	int err = 0;
	vmb_hlock(h);
	struct vmb_host_port *p = vmb_host_port_find(h, conn_id);
	if (p && p->active)
		err = -EEXIST;
	else if (!p && !(p = port_new(h, conn_id)))
		err = -ENOMEM;
	if (!err) {
		p->fn = fn;
		p->arg = arg;
		p->active = true;
	}
	vmb_hunlock(h);
	return err;
}

void vmb_host_part_port_remove(struct vmb_host_part *h, uint32_t conn_id)
{
	vmb_hlock(h);
	struct vmb_host_port *p = vmb_host_port_find(h, conn_id);
	if (p)
		p->active = false;
	vmb_hunlock(h);
}

void vmb_host_ports_reset(struct vmb_host_part *h)
{
	for (size_t i = 0; i < h->nports; i++)
		close(h->ports[i].efd); /* closing also leaves the epoll set */
	free(h->ports);
	h->ports = NULL;
	h->nports = h->ports_cap = 0;
	memset(h->port_hash, 0, sizeof(h->port_hash));
}

void vmb_host_port_event(struct vmb_host_part *h, uint32_t i)
{
	void (*fn)(void *) = NULL;
	void *arg = NULL;
	uint64_t cnt;

	vmb_hlock(h);
	/* A stale event from a port table that was reset since epoll_wait. */
	if (i < h->nports && read(h->ports[i].efd, &cnt, sizeof(cnt)) == sizeof(cnt)) {
		h->stats.guest_signals++;
		if (h->ports[i].active) {
			fn = h->ports[i].fn;
			arg = h->ports[i].arg;
		}
	}
	vmb_hunlock(h);
	if (fn)
		fn(arg);
}
