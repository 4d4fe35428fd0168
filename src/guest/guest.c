/*
 * Guest runtime lifecycle: create (connect, negotiate, collect offers),
 * wait/stop, destroy (remove devices, UNLOAD, stop threads).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "guest/guest_priv.h"
#include "util/deadline.h"
#include "vmbus/clock.h"
#include "vmbus/trace.h"

#define VMB_GUEST_TIMEOUT_MS 10000

_Thread_local int vmb_guest_cur_vp = -1;

void vmb_guest_log(struct vmb_guest *g, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	if (g && !vmb_loglimit_admit(&g->log, "vmbus guest"))
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	fprintf(stderr, "vmbus guest: %s\n", buf);
}

bool vmb_guest_host_gone(const struct vmb_guest *g)
{
	return atomic_load(&g->host_down);
}

/*
 * Each control-path waiter sleeps on its own condition variable and is
 * woken only when its own condition holds: with several workers waiting
 * for different host answers, one shared broadcast woke them all for
 * every message, and a wake-up is expensive on a loaded host.
 */
struct vmb_waiter {
	pthread_cond_t cv;
	bool (*done)(void *);
	void *arg;
	struct vmb_waiter *next;
};

static void unlink_waiter(struct vmb_guest *g, struct vmb_waiter *w)
{
	for (struct vmb_waiter **pp = &g->waiters; *pp; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			return;
		}
	}
}

int vmb_guest_wait_until(struct vmb_guest *g, bool (*done)(void *), void *arg)
{
	struct vmb_waiter w = {.done = done, .arg = arg, .next = g->waiters};
	pthread_condattr_t ca;
	struct timespec dl;
	int rc = 0;

	if (done(arg))
		return 0;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w.cv, &ca);
	pthread_condattr_destroy(&ca);
	g->waiters = &w;
	vmb_deadline_after(&dl, CLOCK_MONOTONIC, g->timeout_ms);
	while (!done(arg)) {
		if (vmb_guest_host_gone(g)) {
			rc = -EPIPE;
			break;
		}
		if (pthread_cond_timedwait(&w.cv, &g->lock, &dl) == ETIMEDOUT) {
			rc = done(arg) ? 0 : -ETIMEDOUT;
			break;
		}
	}
	unlink_waiter(g, &w);
	pthread_cond_destroy(&w.cv);
	return rc;
}

void vmb_guest_wake(struct vmb_guest *g)
{
	bool gone = vmb_guest_host_gone(g);

	pthread_cond_broadcast(&g->cond);
	for (struct vmb_waiter *w = g->waiters; w; w = w->next)
		if (gone || w->done(w->arg))
			pthread_cond_signal(&w->cv);
}

static int init_sync(struct vmb_guest *g)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&g->lock, NULL);
	vmb_loglimit_init(&g->log);
	pthread_mutex_init(&g->pq_lock, NULL);
	pthread_mutex_init(&g->sysfs_lock, NULL);
	pthread_cond_init(&g->cond, &ca);
	pthread_cond_init(&g->wq_cond, &ca);
	pthread_cond_init(&g->pq_cond, &ca);
	pthread_cond_init(&g->sysfs_cond, &ca);
	pthread_condattr_destroy(&ca);
	return 0;
}

static int setup_vps(struct vmb_guest *g)
{
	g->vp_count = vmb_guest_part_vp_count(g->part);
	if (g->vp_count == 0)
		return -EINVAL;
	g->vp_online = calloc(g->vp_count, sizeof(*g->vp_online));
	if (!g->vp_online)
		return -ENOMEM;
	for (uint32_t i = 0; i < g->vp_count; i++)
		g->vp_online[i] = true;
	return 0;
}

/* The legacy interrupt page is only used below 2.4, but Linux always offers it. */
static int setup_interrupt_page(struct vmb_guest *g)
{
	int rc = vmb_guest_part_alloc(g->part, 1, &g->int_pfn);

	if (rc)
		return rc;
	g->int_page = vmb_guest_part_gpa(g->part, g->int_pfn << HV_PAGE_SHIFT, HV_PAGE_SIZE);
	if (!g->int_page)
		return -EFAULT;
	memset(g->int_page, 0, HV_PAGE_SIZE);
	return 0;
}

static int create_client(struct vmb_guest *g)
{
	struct vmb_client_config cc = {
	    .max_version = g->cfg.max_version,
	    .min_version = g->cfg.min_version,
	    .target_vcpu = 0,
	    .vp_count = g->vp_count,
	    .interrupt_page = g->int_pfn << HV_PAGE_SHIFT,
	};

	return vmb_client_create(&cc, &vmb_guest_client_ops, g, &g->cli);
}

static int start_threads(struct vmb_guest *g)
{
	if (pthread_create(&g->poster, NULL, vmb_guest_poster_main, g))
		return -EAGAIN;
	g->poster_started = true;
	for (; g->nworkers < VMB_GUEST_WORKERS; g->nworkers++)
		if (pthread_create(&g->workers[g->nworkers], NULL, vmb_guest_worker_main, g))
			return -EAGAIN;
	if (g->cfg.sysfs_dir) {
		if (pthread_create(&g->sysfs, NULL, vmb_guest_sysfs_main, g))
			return -EAGAIN;
		g->sysfs_started = true;
	}
	/* Like Linux, map the reference TSC page so time reads stay local. */
	if (vmb_guest_clock_enable(g->part) < 0)
		vmb_guest_log(g, "no reference TSC page: time reads go to the host");
	return vmb_guest_part_start(g->part);
}

static bool is_connected(void *arg)
{
	return ((struct vmb_guest *)arg)->connected;
}

static bool has_all_offers(void *arg)
{
	return ((struct vmb_guest *)arg)->all_offers;
}

static int negotiate(struct vmb_guest *g)
{
	int rc;

	pthread_mutex_lock(&g->lock);
	rc = vmb_client_connect(g->cli);
	if (!rc)
		rc = vmb_guest_wait_until(g, is_connected, g);
	if (!rc && atomic_load(&g->version) == 0)
		rc = -EPROTONOSUPPORT;
	if (!rc)
		rc = vmb_guest_wait_until(g, has_all_offers, g);
	pthread_mutex_unlock(&g->lock);
	if (rc)
		vmb_guest_log(g, "connect failed: %s", strerror(-rc));
	return rc;
}

static int copy_config(struct vmb_guest *g, const struct vmb_guest_config *cfg)
{
	g->cfg = *cfg;
	g->cfg.socket_path = NULL;
	g->cfg.sysfs_dir = cfg->sysfs_dir ? strdup(cfg->sysfs_dir) : NULL;
	g->cfg.trace_path = cfg->trace_path ? strdup(cfg->trace_path) : NULL;
	if ((cfg->sysfs_dir && !g->cfg.sysfs_dir) || (cfg->trace_path && !g->cfg.trace_path))
		return -ENOMEM;
	g->timeout_ms = cfg->timeout_ms > 0 ? cfg->timeout_ms : VMB_GUEST_TIMEOUT_MS;
	return 0;
}

int vmb_guest_create(const struct vmb_guest_config *cfg, struct vmb_guest **out)
{
	struct vmb_guest *g;
	int rc;

	if (!cfg || !cfg->socket_path || !out)
		return -EINVAL;
	g = calloc(1, sizeof(*g));
	if (!g)
		return -ENOMEM;
	init_sync(g);
	rc = copy_config(g, cfg);
	if (!rc && g->cfg.trace_path)
		rc = vmb_trace_open(g->cfg.trace_path, &g->trace);
	if (!rc)
		rc = vmb_guest_part_connect(cfg->socket_path, &vmb_guest_part_ops, g, &g->part);
	if (!rc)
		rc = setup_vps(g);
	if (!rc)
		rc = setup_interrupt_page(g);
	if (!rc)
		rc = create_client(g);
	if (!rc)
		rc = start_threads(g);
	if (!rc)
		rc = negotiate(g);
	if (rc) {
		vmb_guest_destroy(g);
		return rc;
	}
	*out = g;
	return 0;
}

static bool is_unloaded(void *arg)
{
	return ((struct vmb_guest *)arg)->unloaded;
}

/* UNLOAD exists from 3.0 on (Linux sends it only then). */
static void unload(struct vmb_guest *g)
{
	int rc;

	pthread_mutex_lock(&g->lock);
	if (g->cli && g->connected && atomic_load(&g->version) >= VERSION_WIN8_1 &&
	    !vmb_guest_host_gone(g)) {
		rc = vmb_client_unload(g->cli);
		if (!rc)
			rc = vmb_guest_wait_until(g, is_unloaded, g);
		if (rc && rc != -EPIPE)
			vmb_guest_log(g, "unload: %s", strerror(-rc));
	}
	pthread_mutex_unlock(&g->lock);
}

static void stop_worker(struct vmb_guest *g)
{
	pthread_mutex_lock(&g->lock);
	g->wq_stop = true;
	g->sysfs_stop = true;
	pthread_cond_broadcast(&g->wq_cond);
	pthread_cond_broadcast(&g->sysfs_cond);
	pthread_mutex_unlock(&g->lock);
	for (unsigned i = 0; i < g->nworkers; i++)
		pthread_join(g->workers[i], NULL);
	if (g->sysfs_started)
		pthread_join(g->sysfs, NULL);
	g->nworkers = 0;
	g->sysfs_started = false;
}

static void free_all(struct vmb_guest *g)
{
	struct vmb_outmsg *m;
	struct vmb_work *w;

	while ((m = g->pq_head)) {
		g->pq_head = m->next;
		free(m);
	}
	while ((w = g->wq_head)) {
		g->wq_head = w->next;
		free(w);
	}
	free(g->vp_online);
	free((void *)g->cfg.sysfs_dir);
	free((void *)g->cfg.trace_path);
	pthread_cond_destroy(&g->cond);
	pthread_cond_destroy(&g->wq_cond);
	pthread_cond_destroy(&g->pq_cond);
	pthread_cond_destroy(&g->sysfs_cond);
	pthread_mutex_destroy(&g->lock);
	vmb_loglimit_fini(&g->log);
	pthread_mutex_destroy(&g->pq_lock);
	pthread_mutex_destroy(&g->sysfs_lock);
	free(g);
}

void vmb_guest_destroy(struct vmb_guest *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&g->lock);
	g->destroying = true;
	pthread_mutex_unlock(&g->lock);
	if (g->nworkers)
		vmb_guest_remove_all(g);
	unload(g);
	stop_worker(g);
	vmb_guest_poster_stop(g);
	/* VP threads call into the client: stop them before it goes. */
	if (g->part)
		vmb_guest_part_destroy(g->part);
	if (g->cli)
		vmb_client_destroy(g->cli);
	if (g->trace)
		vmb_trace_close(g->trace);
	free_all(g);
}

int vmb_guest_wait(struct vmb_guest *g)
{
	int rc;

	pthread_mutex_lock(&g->lock);
	while (!g->stopped && !vmb_guest_host_gone(g))
		pthread_cond_wait(&g->cond, &g->lock);
	rc = vmb_guest_host_gone(g) ? -EPIPE : 0;
	pthread_mutex_unlock(&g->lock);
	return rc;
}

void vmb_guest_stop(struct vmb_guest *g)
{
	pthread_mutex_lock(&g->lock);
	g->stopped = true;
	vmb_guest_wake(g);
	pthread_mutex_unlock(&g->lock);
}

uint32_t vmb_guest_version(const struct vmb_guest *g)
{
	return atomic_load(&g->version);
}

uint32_t vmb_guest_vp_count(const struct vmb_guest *g)
{
	return g->vp_count;
}

uint64_t vmb_guest_ref_time(struct vmb_guest *g)
{
	uint64_t t = 0;

	/* Only fails when the host is gone; 0 then reads as "no time". */
	vmb_clock_ref_time(g->part, &t);
	return t;
}
