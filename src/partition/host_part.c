/* Host side: lifetime, guest RAM, mappings and accessors. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <sys/un.h>
#include <unistd.h>

#include "partition/host_priv.h"

static int epoll_add(int epfd, int fd, uint64_t tag)
{
	struct epoll_event ev = {.events = EPOLLIN, .data.u64 = tag};

	return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

static int listen_on(const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};

	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	strcpy(sa.sun_path, path);
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 4) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

static int check_config(const struct vmb_host_part_config *cfg)
{
	if (!cfg->socket_path || cfg->vp_count == 0 || cfg->vp_count > VMB_PART_MAX_VPS)
		return -EINVAL;
	if (cfg->ram_size == 0 || cfg->ram_size % HV_PAGE_SIZE)
		return -EINVAL;
	/* The guest keeps a SIMP and a SIEFP page per VP and needs some more. */
	if (cfg->ram_size / HV_PAGE_SIZE <= 2 * cfg->vp_count)
		return -EINVAL;
	return 0;
}

static int create_fds(struct vmb_host_part *h)
{
	h->memfd = vmb_mem_create(h->ram_size);
	if (h->memfd < 0)
		return h->memfd;
	void *p = mmap(NULL, h->ram_size, PROT_READ | PROT_WRITE, MAP_SHARED, h->memfd, 0);
	if (p == MAP_FAILED)
		return -errno;
	h->ram = p;
	for (unsigned i = 0; i < h->vp_count; i++) {
		h->vps[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (h->vps[i].kick_fd < 0)
			return -errno;
	}
	h->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (h->epfd < 0)
		return -errno;
	h->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
	if (h->timer_fd < 0)
		return -errno;
	int err = epoll_add(h->epfd, h->timer_fd, VMB_HTAG_TIMER);
	if (err)
		return err;
	h->listen_fd = listen_on(h->socket_path);
	if (h->listen_fd < 0)
		return h->listen_fd;
	return epoll_add(h->epfd, h->listen_fd, VMB_HTAG_LISTEN);
}

int vmb_host_part_create(const struct vmb_host_part_config *cfg,
			 const struct vmb_host_part_ops *ops, void *ctx, struct vmb_host_part **out)
{
	int err = check_config(cfg);
	if (err)
		return err;
	struct vmb_host_part *h = calloc(1, sizeof(*h) + cfg->vp_count * sizeof(h->vps[0]));
	if (!h)
		return -ENOMEM;
	h->ops = *ops;
	h->ctx = ctx;
	h->vp_count = cfg->vp_count;
	h->ram_size = cfg->ram_size;
	h->post_depth = cfg->post_queue_depth ? cfg->post_queue_depth : 16;
	h->listen_fd = h->conn_fd = h->epfd = h->memfd = h->timer_fd = -1;
	pthread_mutex_init(&h->lock, NULL);
	for (unsigned i = 0; i < h->vp_count; i++) {
		h->vps[i].kick_fd = -1;
		vmb_host_synic_init(&h->vps[i]);
	}
	vmb_host_clock_init(&h->clock);
	h->socket_path = strdup(cfg->socket_path);
	h->posts = calloc(h->post_depth, sizeof(*h->posts));
	if (!h->socket_path || !h->posts)
		err = -ENOMEM;
	else
		err = create_fds(h);
	if (err) {
		vmb_host_part_destroy(h);
		return err;
	}
	*out = h;
	return 0;
}

static void close_fd(int fd)
{
	if (fd >= 0)
		close(fd);
}

void vmb_host_part_destroy(struct vmb_host_part *h)
{
	if (!h)
		return;
	vmb_host_ports_reset(h);
	for (unsigned i = 0; i < h->vp_count; i++) {
		vmb_host_synic_reset(&h->vps[i]);
		close_fd(h->vps[i].kick_fd);
	}
	if (h->listen_fd >= 0)
		unlink(h->socket_path);
	close_fd(h->listen_fd);
	close_fd(h->conn_fd);
	close_fd(h->epfd);
	close_fd(h->timer_fd);
	if (h->ram)
		munmap(h->ram, h->ram_size);
	close_fd(h->memfd);
	pthread_mutex_destroy(&h->lock);
	free(h->posts);
	free(h->socket_path);
	free(h);
}

int vmb_host_part_fd(const struct vmb_host_part *h)
{
	return h->epfd;
}

void *vmb_host_part_gpa(const struct vmb_host_part *h, uint64_t gpa, size_t len)
{
	if (len > h->ram_size || gpa > h->ram_size - len)
		return NULL;
	return h->ram + gpa;
}

uint64_t vmb_host_part_pages(const struct vmb_host_part *h)
{
	return h->ram_size / HV_PAGE_SIZE;
}

unsigned vmb_host_part_vp_count(const struct vmb_host_part *h)
{
	return h->vp_count;
}

int vmb_host_part_map(struct vmb_host_part *h, const uint64_t *pfns, size_t n, bool ring,
		      struct vmb_mapping *m)
{
	vmb_hlock(h);
	int err = vmb_mem_map(h->memfd, h->ram, h->ram_size / HV_PAGE_SIZE, pfns, n, ring, m);
	if (!err)
		h->mappings++;
	vmb_hunlock(h);
	return err;
}

void vmb_host_part_unmap(struct vmb_host_part *h, struct vmb_mapping *m)
{
	if (!m->addr)
		return;
	vmb_mem_unmap(m);
	vmb_hlock(h);
	h->mappings--;
	vmb_hunlock(h);
}

int vmb_host_part_discard(struct vmb_host_part *h, uint64_t first_pfn, uint64_t count)
{
	vmb_hlock(h);
	int err = vmb_mem_discard(h->memfd, h->ram_size / HV_PAGE_SIZE, first_pfn, count);
	vmb_hunlock(h);
	return err;
}

int vmb_host_part_resident(struct vmb_host_part *h, uint64_t *bytes)
{
	vmb_hlock(h);
	int err = vmb_mem_resident(h->memfd, bytes);
	vmb_hunlock(h);
	return err;
}

unsigned vmb_host_part_mapping_count(const struct vmb_host_part *h)
{
	vmb_hlock(h);
	unsigned n = h->mappings;
	vmb_hunlock(h);
	return n;
}

bool vmb_host_part_guest_connected(const struct vmb_host_part *h)
{
	vmb_hlock(h);
	bool up = h->hello_done;
	vmb_hunlock(h);
	return up;
}

void vmb_host_part_get_stats(const struct vmb_host_part *h, struct vmb_host_part_stats *st)
{
	vmb_hlock(h);
	*st = h->stats;
	vmb_hunlock(h);
}
