/* Guest side: connection, guest RAM, SynIC set-up, hypercalls and memory. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "partition/guest_priv.h"

/* HvPostMessage retries on INSUFFICIENT_BUFFERS, as Linux does. */
#define POST_RETRIES	  100
#define POST_DELAY_MIN_US 10
#define POST_DELAY_MAX_US 10000

static int connect_to(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Never trust the host: the RAM it describes must be the memfd it sent. */
static int check_hello(const struct vmb_wire_hello_reply *r, unsigned nfds, int memfd)
{
	struct stat st;

	if (r->version != VMB_WIRE_VERSION || r->vp_count == 0 || r->vp_count > VMB_PART_MAX_VPS)
		return -EPROTO;
	if (nfds != 1 + r->vp_count || r->ram_size % HV_PAGE_SIZE ||
	    r->ram_size / HV_PAGE_SIZE <= 2 * (uint64_t)r->vp_count || r->ram_size > SIZE_MAX)
		return -EPROTO;
	if (fstat(memfd, &st) < 0 || (uint64_t)st.st_size != r->ram_size)
		return -EPROTO;
	return 0;
}

static struct vmb_guest_part *guest_new(const struct vmb_wire_hello_reply *r, int sock)
{
	struct vmb_guest_part *g = calloc(1, sizeof(*g) + r->vp_count * sizeof(g->vps[0]));
	if (!g)
		return NULL;
	g->sock = sock;
	g->memfd = -1;
	g->vp_count = r->vp_count;
	g->ram_size = r->ram_size;
	g->seq = 1; /* the hello */
	pthread_mutex_init(&g->rpc_lock, NULL);
	pthread_mutex_init(&g->port_lock, NULL);
	pthread_mutex_init(&g->mem_lock, NULL);
	for (unsigned i = 0; i < g->vp_count; i++) {
		g->vps[i].kick_fd = g->vps[i].wake_fd = g->vps[i].epfd = -1;
		g->vps[i].g = g;
	}
	return g;
}

/* SIMP of VP i at page 2i, SIEFP at 2i+1: the allocator never hands them out. */
static int synic_enable(struct vmb_guest_part *g, uint32_t i)
{
	uint64_t simp = (uint64_t)(2 * i) << HV_PAGE_SHIFT;
	uint64_t siefp = (uint64_t)(2 * i + 1) << HV_PAGE_SHIFT;
	const struct {
		uint32_t msr;
		uint64_t value;
	} w[] = {
	    {HV_X64_MSR_SIMP, simp | 1},
	    {HV_X64_MSR_SIEFP, siefp | 1},
	    {HV_X64_MSR_SINT0 + VMB_VMBUS_SINT, 0x20},
	    {HV_X64_MSR_SCONTROL, 1},
	};

	g->vps[i].simp = (struct hv_message_page *)(g->ram + simp);
	g->vps[i].siefp = (uint64_t *)(g->ram + siefp);
	for (size_t k = 0; k < sizeof(w) / sizeof(w[0]); k++) {
		int st = vmb_guest_part_wrmsr(g, i, w[k].msr, w[k].value);
		if (st != HV_STATUS_SUCCESS)
			return st < 0 ? st : -EPROTO;
	}
	return 0;
}

static int guest_setup(struct vmb_guest_part *g, const int *fds)
{
	g->memfd = fds[0];
	for (unsigned i = 0; i < g->vp_count; i++)
		g->vps[i].kick_fd = fds[1 + i];
	void *p = mmap(NULL, g->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, g->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	g->ram = p;
	int err = vmb_palloc_init(&g->alloc, g->ram_size / HV_PAGE_SIZE, 2 * g->vp_count);
	for (unsigned i = 0; i < g->vp_count && !err; i++)
		err = vmb_guest_vp_init(g, &g->vps[i], i);
	for (unsigned i = 0; i < g->vp_count && !err; i++)
		err = synic_enable(g, i);
	return err;
}

static int hello(int sock, struct vmb_wire_msg *m, int *fds, unsigned *nfds)
{
	memset(m, 0, sizeof(*m));
	m->hdr.type = VMB_WIRE_HELLO;
	m->hdr.seq = 1;
	m->u.hello.version = VMB_WIRE_VERSION;
	int err = vmb_wire_send(sock, m, sizeof(m->hdr) + sizeof(m->u.hello), NULL, 0);
	if (err)
		return err;
	long n = vmb_wire_recv(sock, m, sizeof(*m), fds, VMB_WIRE_MAX_FDS, nfds, 0);
	if (n <= 0)
		return n == 0 ? -ECONNRESET : (int)n;
	int bad = m->hdr.type != (VMB_WIRE_HELLO | VMB_WIRE_REPLY) || m->hdr.seq != 1 ||
		  m->hdr.status != HV_STATUS_SUCCESS || vmb_wire_check(m, (size_t)n) ||
		  check_hello(&m->u.hello_reply, *nfds, *nfds ? fds[0] : -1);
	if (bad) {
		vmb_wire_close_fds(fds, *nfds);
		return -EPROTO;
	}
	return 0;
}

int vmb_guest_part_connect(const char *socket_path, const struct vmb_guest_part_ops *ops, void *ctx,
			   struct vmb_guest_part **out)
{
	struct vmb_wire_msg m;
	int fds[VMB_WIRE_MAX_FDS];
	unsigned nfds = 0;

	int sock = connect_to(socket_path);
	if (sock < 0)
		return sock;
	int err = hello(sock, &m, fds, &nfds);
	if (err) {
		close(sock);
		return err;
	}
	struct vmb_guest_part *g = guest_new(&m.u.hello_reply, sock);
	if (!g) {
		vmb_wire_close_fds(fds, nfds);
		close(sock);
		return -ENOMEM;
	}
	g->ops = *ops;
	g->ctx = ctx;
	err = guest_setup(g, fds);
	if (err) {
		vmb_guest_part_destroy(g);
		return err;
	}
	*out = g;
	return 0;
}

int vmb_guest_part_start(struct vmb_guest_part *g)
{
	for (unsigned i = 0; i < g->vp_count; i++) {
		int err = vmb_guest_vp_start(&g->vps[i]);
		if (err)
			return err;
	}
	return 0;
}

void vmb_guest_part_destroy(struct vmb_guest_part *g)
{
	if (!g)
		return;
	for (unsigned i = 0; i < g->vp_count; i++)
		vmb_guest_vp_stop(&g->vps[i]);
	for (unsigned i = 0; i < g->vp_count; i++)
		vmb_guest_vp_fini(&g->vps[i]);
	for (size_t i = 0; i < g->nports; i++)
		close(g->ports[i].efd);
	free(g->ports);
	close(g->sock);
	if (g->ram)
		munmap(g->ram, g->ram_size);
	if (g->memfd >= 0)
		close(g->memfd);
	vmb_palloc_fini(&g->alloc);
	pthread_mutex_destroy(&g->rpc_lock);
	pthread_mutex_destroy(&g->port_lock);
	pthread_mutex_destroy(&g->mem_lock);
	free(g);
}

unsigned vmb_guest_part_vp_count(const struct vmb_guest_part *g)
{
	return g->vp_count;
}

void *vmb_guest_part_gpa(const struct vmb_guest_part *g, uint64_t gpa, size_t len)
{
	if (len > g->ram_size || gpa > g->ram_size - len)
		return NULL;
	return g->ram + gpa;
}

uint64_t vmb_guest_part_pages(const struct vmb_guest_part *g)
{
	return g->ram_size / HV_PAGE_SIZE;
}

/* The sending VP is the VP thread making the call, VP 0 for other threads. */
static uint32_t current_vp(const struct vmb_guest_part *g)
{
	pthread_t self = pthread_self();

	for (uint32_t i = 0; i < g->vp_count; i++) {
		if (g->vps[i].thread_started && pthread_equal(g->vps[i].thread, self))
			return i;
	}
	return 0;
}

static int post_once(struct vmb_guest_part *g, uint32_t conn_id, uint32_t msg_type,
		     const void *payload, size_t len)
{
	struct vmb_wire_msg m;

	memset(&m.hdr, 0, sizeof(m.hdr));
	m.hdr.type = VMB_WIRE_POST;
	m.u.post.conn_id = conn_id;
	m.u.post.vp = current_vp(g);
	m.u.post.msg_type = msg_type;
	m.u.post.size = (uint32_t)len;
	memcpy(m.u.post.payload, payload, len);
	return vmb_guest_rpc(g, &m, sizeof(m.hdr) + VMB_WIRE_POST_FIXED + len, NULL, 0, NULL);
}

int vmb_guest_part_post(struct vmb_guest_part *g, uint32_t conn_id, uint32_t msg_type,
			const void *payload, size_t len)
{
	unsigned delay = POST_DELAY_MIN_US;

	if (len > HV_MESSAGE_PAYLOAD_SIZE)
		return HV_STATUS_INVALID_PARAMETER;
	for (int i = 0;; i++) {
		int st = post_once(g, conn_id, msg_type, payload, len);
		if (st != HV_STATUS_INSUFFICIENT_BUFFERS || i == POST_RETRIES)
			return st;
		usleep(delay);
		delay = delay * 2 > POST_DELAY_MAX_US ? POST_DELAY_MAX_US : delay * 2;
	}
}

int vmb_guest_part_wrmsr(struct vmb_guest_part *g, uint32_t vp, uint32_t msr, uint64_t value)
{
	struct vmb_wire_msg m;

	memset(&m, 0, sizeof(m.hdr) + sizeof(m.u.wrmsr));
	m.hdr.type = VMB_WIRE_WRMSR;
	m.u.wrmsr.vp = vp;
	m.u.wrmsr.msr = msr;
	m.u.wrmsr.value = value;
	return vmb_guest_rpc(g, &m, sizeof(m.hdr) + sizeof(m.u.wrmsr), NULL, 0, NULL);
}

/*
 * Zero pages by dropping their backing (they read as zeros until next
 * written): writing a fresh memfd page costs a page fault each, which is
 * where a large GPADL's allocation spent nearly all its time. Short runs
 * are cheaper to memset than a syscall and its TLB shootdown.
 */
#define ZERO_BY_PUNCH 16

/* Pages at or above fresh were never handed out: the memfd still reads
 * zeros there, and writing them would only fault them in early. */
static void zero_pages(struct vmb_guest_part *g, const uint64_t *pfns, size_t n, uint64_t fresh)
{
	size_t j;

	for (size_t i = 0; i < n; i = j) {
		off_t off = (off_t)(pfns[i] << HV_PAGE_SHIFT);

		for (j = i + 1; j < n && pfns[j] == pfns[j - 1] + 1; j++)
			;
		if (pfns[i] >= fresh)
			continue;
		if (j - i >= ZERO_BY_PUNCH &&
		    fallocate(g->memfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off,
			      (off_t)((j - i) << HV_PAGE_SHIFT)) == 0)
			continue;
		memset(g->ram + off, 0, (j - i) << HV_PAGE_SHIFT);
	}
}

int vmb_guest_part_alloc(struct vmb_guest_part *g, size_t npages, uint64_t *pfns)
{
	pthread_mutex_lock(&g->mem_lock);
	uint64_t fresh = g->alloc.top;
	int err = vmb_palloc_get(&g->alloc, npages, pfns);
	pthread_mutex_unlock(&g->mem_lock);
	if (err)
		return err;
	zero_pages(g, pfns, npages, fresh);
	return 0;
}

void vmb_guest_part_free(struct vmb_guest_part *g, const uint64_t *pfns, size_t npages)
{
	pthread_mutex_lock(&g->mem_lock);
	size_t bad = vmb_palloc_put(&g->alloc, pfns, npages);
	pthread_mutex_unlock(&g->mem_lock);
	if (bad)
		vmb_glog(g, "freeing %zu pages that were not allocated", bad);
}

uint64_t vmb_guest_part_free_pages(struct vmb_guest_part *g)
{
	pthread_mutex_lock(&g->mem_lock);
	uint64_t n = g->alloc.free;
	pthread_mutex_unlock(&g->mem_lock);
	return n;
}

int vmb_guest_part_map(struct vmb_guest_part *g, const uint64_t *pfns, size_t n, bool ring,
		       struct vmb_mapping *m)
{
	return vmb_mem_map(g->memfd, g->ram, g->ram_size / HV_PAGE_SIZE, pfns, n, ring, m);
}

void vmb_guest_part_unmap(struct vmb_guest_part *g, struct vmb_mapping *m)
{
	(void)g;
	vmb_mem_unmap(m);
}
