/*
 * Host runtime: glue between the simulated partition, the VMBus server and
 * the devices. One loop thread waits on the partition and dispatches with
 * the host lock held; other threads (control commands) take the same lock.
 */
#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "host/host_priv.h"
#include "vmbus/clock.h"

uint64_t vmb_host_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

void vmb_host_log(struct vmb_host *h, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	if (h && !vmb_loglimit_admit(&h->log, "vmbus host"))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmbus host: %s\n", line);
}

static void host_log_str(void *ctx, const char *msg)
{
	vmb_host_log(ctx, "%s", msg);
}

/* ---- partition -> server --------------------------------------------- */

static void part_post(void *ctx, uint32_t conn_id, uint32_t vp, uint32_t msg_type,
		      const void *payload, size_t len)
{
	struct vmb_host *h = ctx;

	if (msg_type != HVMSG_VMBUS) {
		vmb_host_log(h, "post of message type %#x on connection %u ignored", msg_type,
			     conn_id);
		return;
	}
	if (h->trace)
		vmb_trace_msg(h->trace, VMB_G2H, vp, conn_id, payload, len);
	vmb_server_recv(h->srv, conn_id, payload, len);
}

static void part_guest_up(void *ctx)
{
	vmb_host_log(ctx, "guest connected");
}

static void part_guest_down(void *ctx)
{
	struct vmb_host *h = ctx;

	vmb_host_log(h, "guest disconnected: releasing its channels and GPADLs");
	vmb_server_reset(h->srv);
}

static const struct vmb_host_part_ops part_ops = {
	.post = part_post,
	.guest_up = part_guest_up,
	.guest_down = part_guest_down,
	.log = host_log_str,
};

/* ---- server -> partition/devices --------------------------------------- */

static void srv_send(void *ctx, uint32_t vp, uint32_t sint, const void *msg, size_t len)
{
	struct vmb_host *h = ctx;

	if (h->trace)
		vmb_trace_msg(h->trace, VMB_H2G, vp, sint, msg, len);
	if (vmb_host_part_send(h->part, vp, sint, HVMSG_VMBUS, msg, len) < 0)
		vmb_host_log(h, "cannot deliver %s to VP %u", vmb_msg_name(*(const uint32_t *)msg),
			     vp);
}

static uint32_t srv_open(void *ctx, struct vmb_server_channel *ch,
			 const struct vmb_open_params *p)
{
	return vmb_host_chan_open(ctx, ch, p);
}

static void srv_close(void *ctx, struct vmb_server_channel *ch)
{
	vmb_host_chan_close(ctx, ch);
}

static void srv_retarget(void *ctx, struct vmb_server_channel *ch, uint32_t vp)
{
	struct host_chan *hc = vmb_srv_chan_priv(ch);

	(void)ctx;
	if (hc)
		__atomic_store_n(&hc->vp, vp, __ATOMIC_RELEASE);
}

static void srv_gpadl_removed(void *ctx, uint32_t handle)
{
	/*
	 * Nothing to unmap here: ring mappings belong to open channels (closed
	 * before their GPADL can go) and device mappings stay valid memfd pages
	 * even after the guest reuses them, so the host can never fault.
	 */
	(void)ctx;
	(void)handle;
}

static void srv_released(void *ctx, struct vmb_server_channel *ch)
{
	vmb_host_vsp_released(ctx, ch);
}

static void srv_connected(void *ctx, uint32_t version)
{
	char v[16];

	if (version)
		vmb_host_log(ctx, "guest negotiated VMBus %s", vmb_version_str(version, v, sizeof(v)));
	else
		vmb_host_log(ctx, "guest connection closed");
	vmb_host_chan_connected(ctx, version);
}

const struct vmb_server_ops vmb_host_server_ops = {
	.send = srv_send,
	.open = srv_open,
	.close = srv_close,
	.retarget = srv_retarget,
	.gpadl_removed = srv_gpadl_removed,
	.released = srv_released,
	.connected = srv_connected,
	.log = host_log_str,
};

/* ---- lifecycle ---------------------------------------------------------- */

int vmb_host_create(const struct vmb_host_config *cfg, struct vmb_host **out)
{
	struct vmb_host *h = calloc(1, sizeof(*h));
	pthread_mutexattr_t ma;
	int rc;

	if (!h)
		return -ENOMEM;
	h->cfg = *cfg;
	if (!h->cfg.ram_size)
		h->cfg.ram_size = 256u << 20;
	if (!h->cfg.vp_count)
		h->cfg.vp_count = 2;
	pthread_mutexattr_init(&ma);
	/* Device open callbacks may offer sub-channels from inside the server. */
	pthread_mutexattr_settype(&ma, PTHREAD_MUTEX_RECURSIVE);
	pthread_mutex_init(&h->lock, &ma);
	pthread_mutexattr_destroy(&ma);
	vmb_loglimit_init(&h->log);
	vmb_host_ctl_init(h);

	if (cfg->trace_path && (rc = vmb_trace_open(cfg->trace_path, &h->trace)) < 0)
		goto fail;
	struct vmb_host_part_config pc = {
		.ram_size = h->cfg.ram_size,
		.vp_count = h->cfg.vp_count,
		.socket_path = cfg->socket_path,
	};
	rc = vmb_host_part_create(&pc, &part_ops, h, &h->part);
	if (rc < 0)
		goto fail;
	struct vmb_server_config sc = {
		.max_version = cfg->max_version,
		.gpadl_limit = cfg->gpadl_limit,
		.guest_pages = vmb_host_part_pages(h->part),
		.vp_count = h->cfg.vp_count,
	};
	rc = vmb_server_create(&sc, &vmb_host_server_ops, h, &h->srv);
	if (rc < 0)
		goto fail;
	*out = h;
	return 0;
fail:
	vmb_host_destroy(h);
	return rc;
}

void vmb_host_destroy(struct vmb_host *h)
{
	if (!h)
		return;
	vmb_host_ctl_fini(h);
	if (h->srv) {
		pthread_mutex_lock(&h->lock);
		vmb_server_reset(h->srv);
		pthread_mutex_unlock(&h->lock);
		vmb_server_destroy(h->srv);
	}
	while (h->vsps) {
		struct vmb_vsp *v = h->vsps;

		h->vsps = v->next;
		vmb_host_vsp_free(v);
	}
	vmb_host_part_destroy(h->part);
	vmb_trace_close(h->trace);
	pthread_mutex_destroy(&h->lock);
	vmb_loglimit_fini(&h->log);
	free(h);
}

int vmb_host_poll(struct vmb_host *h, int timeout_ms)
{
	struct pollfd pfd = {.fd = vmb_host_part_fd(h->part), .events = POLLIN};
	int rc;

	/* Wait without the lock so control commands can run meanwhile. */
	if (poll(&pfd, 1, timeout_ms) < 0 && errno != EINTR)
		return -errno;
	pthread_mutex_lock(&h->lock);
	rc = vmb_host_part_poll(h->part, 0);
	vmb_host_chan_catch_up(h);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int vmb_host_run(struct vmb_host *h, volatile sig_atomic_t *stop)
{
	while (!*stop) {
		int rc = vmb_host_poll(h, 200);

		if (rc < 0 && rc != -EINTR)
			return rc;
	}
	return 0;
}

void *vmb_host_gpa(struct vmb_host *h, uint64_t gpa, size_t len)
{
	return vmb_host_part_gpa(h->part, gpa, len);
}

uint64_t vmb_host_ref_time(struct vmb_host *h)
{
	return vmb_host_part_ref_time(h->part);
}

uint64_t vmb_host_ram_pages(struct vmb_host *h)
{
	return vmb_host_part_pages(h->part);
}

int vmb_host_discard(struct vmb_host *h, uint64_t first_pfn, uint64_t count)
{
	return vmb_host_part_discard(h->part, first_pfn, count);
}

int vmb_host_ram_resident(struct vmb_host *h, uint64_t *bytes)
{
	return vmb_host_part_resident(h->part, bytes);
}

void vmb_host_get_stats(struct vmb_host *h, struct vmb_host_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&h->lock);
	for (struct vmb_server_channel *c = vmb_server_next(h->srv, NULL); c;
	     c = vmb_server_next(h->srv, c))
		st->channels_open += vmb_srv_chan_state(c) == VMB_SCH_OPEN;
	st->gpadls = vmb_server_gpadl_count(h->srv);
	st->gpadl_bytes = vmb_server_gpadl_bytes(h->srv);
	st->mappings = vmb_host_part_mapping_count(h->part);
	st->needless_signals = h->needless_signals;
	st->throttled = h->throttled;
	pthread_mutex_unlock(&h->lock);
}
