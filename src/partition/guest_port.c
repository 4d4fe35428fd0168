/*
 * HvSignalEvent: the host hands out one eventfd per connection id on first
 * use (GET_PORT); the guest caches it, so a signal is one eventfd write.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "partition/guest_priv.h"

static int cached(struct vmb_guest_part *g, uint32_t conn_id)
{
	int fd = -1;

	pthread_mutex_lock(&g->port_lock);
	for (size_t i = 0; i < g->nports; i++) {
		if (g->ports[i].conn_id == conn_id) {
			fd = g->ports[i].efd;
			break;
		}
	}
	pthread_mutex_unlock(&g->port_lock);
	return fd;
}

/* Keep efd for conn_id unless another thread got there first; returns the fd to use. */
static int cache(struct vmb_guest_part *g, uint32_t conn_id, int efd)
{
	int have = cached(g, conn_id);
	if (have >= 0) {
		close(efd);
		return have;
	}
	pthread_mutex_lock(&g->port_lock);
	if (g->nports == g->ports_cap) {
		size_t cap = g->ports_cap ? 2 * g->ports_cap : 16;
		struct vmb_guest_port *p = realloc(g->ports, cap * sizeof(*p));
		if (!p) {
			pthread_mutex_unlock(&g->port_lock);
			close(efd);
			return -ENOMEM;
		}
		g->ports = p;
		g->ports_cap = cap;
	}
	g->ports[g->nports].conn_id = conn_id;
	g->ports[g->nports].efd = efd;
	g->nports++;
	pthread_mutex_unlock(&g->port_lock);
	return efd;
}

static int get_port(struct vmb_guest_part *g, uint32_t conn_id, int *efd)
{
	struct vmb_wire_msg m;
	unsigned nfds = 0;

	memset(&m, 0, sizeof(m.hdr) + sizeof(m.u.get_port));
	m.hdr.type = VMB_WIRE_GET_PORT;
	m.u.get_port.conn_id = conn_id;
	int st = vmb_guest_rpc(g, &m, sizeof(m.hdr) + sizeof(m.u.get_port), efd, 1, &nfds);
	if (st == HV_STATUS_SUCCESS && nfds != 1) {
		vmb_glog(g, "GET_PORT reply without a descriptor");
		return -EPROTO;
	}
	return st;
}

int vmb_guest_part_signal(struct vmb_guest_part *g, uint32_t conn_id, uint16_t flag)
{
	uint64_t one = 1;

	/* Every port has a single flag: numbers are relative to it. */
	if (flag != 0)
		return HV_STATUS_INVALID_PARAMETER;
	if (__atomic_load_n(&g->host_gone, __ATOMIC_ACQUIRE))
		return -ENOTCONN;
	int fd = cached(g, conn_id);
	if (fd < 0) {
		int st = get_port(g, conn_id, &fd);
		if (st != HV_STATUS_SUCCESS)
			return st;
		fd = cache(g, conn_id, fd);
		if (fd < 0)
			return fd;
	}
	if (write(fd, &one, sizeof(one)) != sizeof(one))
		return -errno;
	return HV_STATUS_SUCCESS;
}
