/*
 * The simulated partition: host and guest ends in one process (host event
 * loop on a pump thread) over a socket in a temp dir, plus forked processes
 * for the kill tests.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/partition.h"
#include "partition/wire.h"

#define RAM_PAGES 256
#define VPS	  2
#define MAX_REC	  512

struct rec {
	uint32_t a, b, type;
	size_t len;
	uint8_t payload[HV_MESSAGE_PAYLOAD_SIZE];
};

struct hctx {
	pthread_mutex_t lock;
	struct vmb_host_part *h;
	pthread_t pump;
	int stop;
	int ups, downs, port_calls;
	bool echo; /* post handler sends each payload back to VP 0, SINT 2 */
	struct vmb_mapping *unmap_on_down;
	struct rec posts[MAX_REC];
	unsigned nposts;
};

struct gctx {
	pthread_mutex_t lock;
	struct vmb_guest_part *g;
	int host_downs;
	unsigned slow_us; /* message handler delay */
	struct rec msgs[MAX_REC];
	unsigned nmsgs;
	unsigned events[VPS][HV_EVENT_FLAGS_COUNT];
	unsigned ran_on[VPS];
};

static char dir[64], sock_path[96];
static pid_t child = -1; /* killed by kill_child() if a test fails */

static void quiet(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

static void rec_put(pthread_mutex_t *lock, struct rec *r, unsigned *n, uint32_t a, uint32_t b,
		    uint32_t type, const void *p, size_t len)
{
	pthread_mutex_lock(lock);
	if (*n < MAX_REC) {
		r[*n].a = a;
		r[*n].b = b;
		r[*n].type = type;
		r[*n].len = len;
		memcpy(r[*n].payload, p, len);
		++*n;
	}
	pthread_mutex_unlock(lock);
}

static unsigned load(pthread_mutex_t *lock, const unsigned *v)
{
	pthread_mutex_lock(lock);
	unsigned x = *v;
	pthread_mutex_unlock(lock);
	return x;
}

static unsigned loadi(pthread_mutex_t *lock, const int *v)
{
	return load(lock, (const unsigned *)v);
}

/* Poll for up to 5 s; evaluates to whether cond became true. */
#define WAIT_FOR(cond)                                                                             \
	({                                                                                         \
		int _i = 0;                                                                        \
		bool _ok;                                                                          \
		while (!(_ok = (cond)) && _i++ < 5000)                                             \
			usleep(1000);                                                              \
		_ok;                                                                               \
	})

/* ---------------------------------------------------------------- host ops */

static void h_post(void *ctx, uint32_t conn_id, uint32_t vp, uint32_t msg_type, const void *payload,
		   size_t len)
{
	struct hctx *c = ctx;

	rec_put(&c->lock, c->posts, &c->nposts, conn_id, vp, msg_type, payload, len);
	if (c->echo)
		assert_int_equal(vmb_host_part_send(c->h, 0, 2, msg_type, payload, len), 0);
}

static void h_up(void *ctx)
{
	struct hctx *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->ups++;
	pthread_mutex_unlock(&c->lock);
}

static void h_down(void *ctx)
{
	struct hctx *c = ctx;

	if (c->unmap_on_down)
		vmb_host_part_unmap(c->h, c->unmap_on_down);
	pthread_mutex_lock(&c->lock);
	c->downs++;
	pthread_mutex_unlock(&c->lock);
}

static const struct vmb_host_part_ops host_ops = {
    .post = h_post,
    .guest_up = h_up,
    .guest_down = h_down,
    .log = quiet,
};

static void port_fn(void *arg)
{
	struct hctx *c = arg;

	pthread_mutex_lock(&c->lock);
	c->port_calls++;
	pthread_mutex_unlock(&c->lock);
}

static void *pump(void *arg)
{
	struct hctx *c = arg;

	while (!__atomic_load_n(&c->stop, __ATOMIC_ACQUIRE))
		assert_int_equal(vmb_host_part_poll(c->h, 10), 0);
	return NULL;
}

static void host_create(struct hctx *c)
{
	struct vmb_host_part_config cfg = {
	    .ram_size = RAM_PAGES * HV_PAGE_SIZE,
	    .vp_count = VPS,
	    .socket_path = sock_path,
	};

	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	assert_int_equal(vmb_host_part_create(&cfg, &host_ops, c, &c->h), 0);
}

static void host_start(struct hctx *c)
{
	host_create(c);
	assert_int_equal(pthread_create(&c->pump, NULL, pump, c), 0);
}

static void host_stop(struct hctx *c)
{
	__atomic_store_n(&c->stop, 1, __ATOMIC_RELEASE);
	pthread_join(c->pump, NULL);
	vmb_host_part_destroy(c->h);
	pthread_mutex_destroy(&c->lock);
}

/* --------------------------------------------------------------- guest ops */

static void g_event(void *ctx, uint32_t vp, uint32_t flag)
{
	struct gctx *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->events[vp][flag]++;
	pthread_mutex_unlock(&c->lock);
}

static void g_message(void *ctx, uint32_t vp, uint32_t sint, uint32_t msg_type, const void *payload,
		      size_t len)
{
	struct gctx *c = ctx;

	if (c->slow_us)
		usleep(c->slow_us);
	rec_put(&c->lock, c->msgs, &c->nmsgs, vp, sint, msg_type, payload, len);
}

static void g_host_down(void *ctx)
{
	struct gctx *c = ctx;

	pthread_mutex_lock(&c->lock);
	c->host_downs++;
	pthread_mutex_unlock(&c->lock);
}

static const struct vmb_guest_part_ops guest_ops = {
    .event = g_event,
    .message = g_message,
    .host_down = g_host_down,
    .log = quiet,
};

static void guest_connect(struct gctx *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	assert_int_equal(vmb_guest_part_connect(sock_path, &guest_ops, c, &c->g), 0);
}

static void guest_destroy(struct gctx *c)
{
	vmb_guest_part_destroy(c->g);
	pthread_mutex_destroy(&c->lock);
}

/* ------------------------------------------------------------------- tests */

static int setup(void **state)
{
	(void)state;
	strcpy(dir, "/tmp/vmbpartXXXXXX");
	if (!mkdtemp(dir))
		return -1;
	snprintf(sock_path, sizeof(sock_path), "%s/sock", dir);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	unlink(sock_path);
	rmdir(dir);
	return 0;
}

static void test_hello_ram(void **state)
{
	struct hctx h;
	struct gctx g;
	(void)state;

	host_start(&h);
	guest_connect(&g);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.ups) == 1));
	assert_true(vmb_host_part_guest_connected(h.h));
	assert_int_equal(vmb_guest_part_vp_count(g.g), VPS);
	assert_int_equal(vmb_guest_part_pages(g.g), RAM_PAGES);
	assert_int_equal(vmb_host_part_pages(h.h), RAM_PAGES);

	uint64_t pfn;
	assert_int_equal(vmb_guest_part_alloc(g.g, 1, &pfn), 0);
	assert_true(pfn >= 2 * VPS); /* the SynIC pages are never handed out */
	char *gp = vmb_guest_part_gpa(g.g, pfn * HV_PAGE_SIZE, HV_PAGE_SIZE);
	char *hp = vmb_host_part_gpa(h.h, pfn * HV_PAGE_SIZE, HV_PAGE_SIZE);
	assert_non_null(gp);
	assert_non_null(hp);
	strcpy(gp, "from the guest");
	assert_string_equal(hp, "from the guest");
	strcpy(hp + 100, "from the host");
	assert_string_equal(gp + 100, "from the host");

	uint64_t ram = RAM_PAGES * HV_PAGE_SIZE;
	assert_null(vmb_host_part_gpa(h.h, ram - 1, 2));
	assert_null(vmb_host_part_gpa(h.h, UINT64_MAX, 2));
	assert_null(vmb_guest_part_gpa(g.g, UINT64_MAX - 1, 4));
	assert_non_null(vmb_host_part_gpa(h.h, ram - 1, 1));

	guest_destroy(&g);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.downs) == 1));
	assert_false(vmb_host_part_guest_connected(h.h));
	host_stop(&h);
}

static void test_post_in_order(void **state)
{
	struct hctx h;
	struct gctx g;
	uint8_t buf[HV_MESSAGE_PAYLOAD_SIZE + 1] = {0};
	(void)state;

	host_start(&h);
	guest_connect(&g);
	for (unsigned i = 0; i < 100; i++) {
		memset(buf, (int)i, sizeof(buf));
		size_t len = 1 + i % HV_MESSAGE_PAYLOAD_SIZE;
		assert_int_equal(vmb_guest_part_post(g.g, i % 2 ? 1 : 4, 1, buf, len),
				 HV_STATUS_SUCCESS);
	}
	assert_true(WAIT_FOR(load(&h.lock, &h.nposts) == 100));
	for (unsigned i = 0; i < 100; i++) {
		assert_int_equal(h.posts[i].a, i % 2 ? 1 : 4);
		assert_int_equal(h.posts[i].b, 0); /* posted from a non-VP thread */
		assert_int_equal(h.posts[i].type, 1);
		assert_int_equal(h.posts[i].len, 1 + i % HV_MESSAGE_PAYLOAD_SIZE);
		assert_int_equal(h.posts[i].payload[0], (uint8_t)i);
	}
	assert_int_equal(vmb_guest_part_post(g.g, 7, 1, buf, 8), HV_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(vmb_guest_part_post(g.g, 0x800074, 1, buf, 8),
			 HV_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(vmb_guest_part_post(g.g, 1, 0, buf, 8), HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(vmb_guest_part_post(g.g, 1, 0x80000001u, buf, 8),
			 HV_STATUS_INVALID_PARAMETER);
	assert_int_equal(vmb_guest_part_post(g.g, 1, 1, buf, HV_MESSAGE_PAYLOAD_SIZE + 1),
			 HV_STATUS_INVALID_PARAMETER);

	struct vmb_host_part_stats st;
	vmb_host_part_get_stats(h.h, &st);
	assert_int_equal(st.posts, 100);
	guest_destroy(&g);
	host_stop(&h);
}

/*
 * A guest whose VPs never free their message slot: the host's answers
 * pile up, the host stops taking posts, the post queue fills and posts are
 * refused. Once the VPs run, everything drains and posting works again.
 */
static void test_post_queue_full(void **state)
{
	struct hctx h;
	struct gctx g;
	uint32_t i;
	int st = HV_STATUS_SUCCESS;
	(void)state;

	host_start(&h);
	h.echo = true;
	guest_connect(&g);
	for (i = 0; i < 400 && st == HV_STATUS_SUCCESS; i++)
		st = vmb_guest_part_post(g.g, 1, 1, &i, sizeof(i));
	assert_int_equal(st, HV_STATUS_INSUFFICIENT_BUFFERS);
	unsigned accepted = i - 1;
	/* One in the slot, a soft backlog's worth queued, then a full post queue. */
	assert_int_equal(accepted, 1 + VMB_HOST_PART_BACKLOG_SOFT + 1 + 16);
	assert_int_equal(vmb_host_part_backlog(h.h, 0), VMB_HOST_PART_BACKLOG_SOFT + 1);
	struct vmb_host_part_stats hs;
	vmb_host_part_get_stats(h.h, &hs);
	assert_true(hs.posts_refused > 0);

	assert_int_equal(vmb_guest_part_start(g.g), 0);
	assert_true(WAIT_FOR(load(&g.lock, &g.nmsgs) == accepted));
	i = 1000;
	assert_int_equal(vmb_guest_part_post(g.g, 1, 1, &i, sizeof(i)), HV_STATUS_SUCCESS);
	assert_true(WAIT_FOR(load(&g.lock, &g.nmsgs) == accepted + 1));
	for (i = 0; i < accepted; i++) {
		uint32_t v;
		memcpy(&v, g.msgs[i].payload, sizeof(v));
		assert_int_equal(v, i);
	}
	assert_int_equal(vmb_host_part_backlog(h.h, 0), 0);
	guest_destroy(&g);
	host_stop(&h);
}

static void test_h2g_order(void **state)
{
	struct hctx h;
	struct gctx g;
	(void)state;

	host_start(&h);
	guest_connect(&g);
	g.slow_us = 300;
	assert_int_equal(vmb_guest_part_start(g.g), 0);
	/* SINT3 is masked: seen only because later SINT2 kicks make VP 0 scan. */
	assert_int_equal(vmb_host_part_send(h.h, 0, 3, 0x80000010u, "t", 1), 0);
	for (uint32_t i = 0; i < 100; i++) {
		uint32_t vp = i % VPS;
		assert_int_equal(vmb_host_part_send(h.h, vp, 2, 1, &i, sizeof(i)), 0);
	}
	assert_true(WAIT_FOR(load(&g.lock, &g.nmsgs) == 101));
	uint32_t next[VPS] = {0, 1};
	for (unsigned k = 0; k < 101; k++) {
		struct rec *r = &g.msgs[k];
		if (r->b == 3) {
			assert_int_equal(r->type, 0x80000010u);
			continue;
		}
		uint32_t v;
		assert_int_equal(r->len, sizeof(v));
		memcpy(&v, r->payload, sizeof(v));
		assert_int_equal(r->b, 2);
		assert_int_equal(r->type, 1);
		assert_int_equal(v, next[r->a]);
		next[r->a] += VPS;
	}
	assert_int_equal(next[0], 100);
	assert_int_equal(next[1], 101);
	assert_int_equal(vmb_host_part_send(h.h, VPS, 2, 1, "x", 1), -EINVAL);
	assert_int_equal(vmb_host_part_send(h.h, 0, 16, 1, "x", 1), -EINVAL);
	assert_int_equal(vmb_host_part_send(h.h, 0, 2, HVMSG_NONE, "x", 1), -EINVAL);
	guest_destroy(&g);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.downs) == 1));
	assert_int_equal(vmb_host_part_send(h.h, 0, 2, 1, "x", 1), -ENOTCONN);
	host_stop(&h);
}

static void test_events(void **state)
{
	struct hctx h;
	struct gctx g;
	(void)state;

	host_start(&h);
	guest_connect(&g);
	assert_int_equal(vmb_guest_part_start(g.g), 0);
	for (uint32_t vp = 0; vp < VPS; vp++) {
		assert_int_equal(vmb_host_part_signal(h.h, vp, 2, 5 + vp), 0);
		assert_int_equal(vmb_host_part_signal(h.h, vp, 2, HV_EVENT_FLAGS_COUNT - 1), 0);
	}
	assert_true(WAIT_FOR(load(&g.lock, &g.events[1][HV_EVENT_FLAGS_COUNT - 1]) == 1));
	assert_true(WAIT_FOR(load(&g.lock, &g.events[0][HV_EVENT_FLAGS_COUNT - 1]) == 1));
	assert_int_equal(load(&g.lock, &g.events[0][5]), 1);
	assert_int_equal(load(&g.lock, &g.events[1][6]), 1);
	assert_int_equal(load(&g.lock, &g.events[0][6]), 0);
	assert_int_equal(load(&g.lock, &g.events[1][5]), 0);
	assert_int_equal(vmb_host_part_signal(h.h, 0, 2, HV_EVENT_FLAGS_COUNT), -EINVAL);
	assert_int_equal(vmb_host_part_signal(h.h, VPS, 2, 1), -EINVAL);
	assert_int_equal(vmb_host_part_signal(h.h, 0, 16, 1), -EINVAL);

	/* A guest that turns its event page off gets no more flags. */
	assert_int_equal(vmb_guest_part_wrmsr(g.g, 1, HV_X64_MSR_SIEFP, 0), HV_STATUS_SUCCESS);
	assert_int_equal(vmb_host_part_signal(h.h, 1, 2, 9), -ENXIO);
	guest_destroy(&g);
	host_stop(&h);
}

static void test_offline_and_run_on(void **state)
{
	struct hctx h;
	struct gctx g;
	(void)state;

	host_start(&h);
	guest_connect(&g);
	assert_int_equal(vmb_guest_part_start(g.g), 0);
	assert_int_equal(vmb_guest_part_vp_set_online(g.g, 1, false), 0);
	assert_int_equal(vmb_host_part_send(h.h, 1, 2, 1, "off", 3), 0);
	assert_int_equal(vmb_host_part_signal(h.h, 1, 2, 3), 0);
	usleep(50000);
	assert_int_equal(load(&g.lock, &g.nmsgs), 0);
	assert_int_equal(load(&g.lock, &g.events[1][3]), 0);
	assert_int_equal(vmb_guest_part_vp_set_online(g.g, 1, true), 0);
	assert_true(WAIT_FOR(load(&g.lock, &g.nmsgs) == 1));
	assert_true(WAIT_FOR(load(&g.lock, &g.events[1][3]) == 1));
	assert_int_equal(g.msgs[0].a, 1);
	assert_int_equal(vmb_guest_part_vp_set_online(g.g, VPS, true), -EINVAL);
	guest_destroy(&g);
	host_stop(&h);
}

static struct gctx *run_on_ctx;

static void on_vp1(void *arg)
{
	pthread_mutex_lock(&run_on_ctx->lock);
	run_on_ctx->ran_on[1] += (unsigned)(uintptr_t)arg;
	pthread_mutex_unlock(&run_on_ctx->lock);
}

static void test_run_on(void **state)
{
	struct hctx h;
	struct gctx g;
	(void)state;

	host_start(&h);
	guest_connect(&g);
	run_on_ctx = &g;
	/* Queued before the thread runs, executed once it does. */
	assert_int_equal(vmb_guest_part_run_on(g.g, 1, on_vp1, (void *)(uintptr_t)1), 0);
	assert_int_equal(vmb_guest_part_start(g.g), 0);
	assert_int_equal(vmb_guest_part_run_on(g.g, 1, on_vp1, (void *)(uintptr_t)10), 0);
	assert_true(WAIT_FOR(load(&g.lock, &g.ran_on[1]) == 11));
	assert_int_equal(vmb_guest_part_run_on(g.g, VPS, on_vp1, NULL), -EINVAL);
	guest_destroy(&g);
	host_stop(&h);
}

static void test_ports(void **state)
{
	struct hctx h;
	struct gctx g;
	(void)state;

	host_start(&h);
	guest_connect(&g);
	assert_int_equal(vmb_host_part_port_add(h.h, 42, port_fn, &h), 0);
	assert_int_equal(vmb_host_part_port_add(h.h, 42, port_fn, &h), -EEXIST);
	assert_int_equal(vmb_guest_part_signal(g.g, 42, 0), HV_STATUS_SUCCESS);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.port_calls) == 1));
	assert_int_equal(vmb_guest_part_signal(g.g, 42, 0), HV_STATUS_SUCCESS);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.port_calls) == 2));
	assert_int_equal(vmb_guest_part_signal(g.g, 43, 0), HV_STATUS_INVALID_CONNECTION_ID);
	assert_int_equal(vmb_guest_part_signal(g.g, 42, 1), HV_STATUS_INVALID_PARAMETER);

	/* Removed: the cached eventfd still works but nobody is called. */
	vmb_host_part_port_remove(h.h, 42);
	assert_int_equal(vmb_guest_part_signal(g.g, 42, 0), HV_STATUS_SUCCESS);
	struct vmb_host_part_stats st;
	assert_true(WAIT_FOR((vmb_host_part_get_stats(h.h, &st), st.guest_signals >= 3)));
	assert_int_equal(loadi(&h.lock, &h.port_calls), 2);
	/* Added again: the same eventfd comes back to life. */
	assert_int_equal(vmb_host_part_port_add(h.h, 42, port_fn, &h), 0);
	assert_int_equal(vmb_guest_part_signal(g.g, 42, 0), HV_STATUS_SUCCESS);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.port_calls) == 3));
	guest_destroy(&g);
	host_stop(&h);
}

static void test_ring_map(void **state)
{
	struct hctx h;
	struct gctx g;
	uint64_t all[8], pfns[5];
	struct vmb_mapping hm, gm;
	(void)state;

	host_start(&h);
	guest_connect(&g);
	assert_int_equal(vmb_guest_part_alloc(g.g, 8, all), 0);
	/* Two runs of contiguous pages and a lone one. */
	pfns[0] = all[0];
	pfns[1] = all[2];
	pfns[2] = all[3];
	pfns[3] = all[5];
	pfns[4] = all[6];
	unsigned before = vmb_host_part_mapping_count(h.h);
	assert_int_equal(vmb_host_part_map(h.h, pfns, 5, true, &hm), 0);
	assert_int_equal(vmb_host_part_mapping_count(h.h), before + 1);
	assert_int_equal(hm.len, 9 * HV_PAGE_SIZE);
	assert_false(hm.view);
	assert_int_equal(vmb_guest_part_map(g.g, pfns, 5, true, &gm), 0);
	assert_false(gm.view);

	uint8_t *hb = hm.addr, *gb = gm.addr;
	size_t data = 4 * HV_PAGE_SIZE;
	/* Writing through the second view lands in the first one. */
	memcpy(hb + HV_PAGE_SIZE + data + 10, "wrap", 5);
	assert_string_equal((char *)hb + HV_PAGE_SIZE + 10, "wrap");
	/* A write straddling the end of the data area continues at its start. */
	memcpy(gb + HV_PAGE_SIZE + data - 2, "abcd", 4);
	assert_memory_equal(hb + HV_PAGE_SIZE, "cd", 2);
	assert_memory_equal(hb + HV_PAGE_SIZE + data - 2, "ab", 2);
	/* The page list order is honoured: page 2 of the list is pfns[2]. */
	uint8_t *p2 = vmb_host_part_gpa(h.h, pfns[2] * HV_PAGE_SIZE, HV_PAGE_SIZE);
	gb[2 * HV_PAGE_SIZE + 7] = 0x5a;
	assert_int_equal(p2[7], 0x5a);
	vmb_guest_part_unmap(g.g, &gm);
	vmb_host_part_unmap(h.h, &hm);
	assert_null(hm.addr);
	assert_int_equal(vmb_host_part_mapping_count(h.h), before);

	/* Contiguous pages: a view into guest RAM on both ends, counted alike. */
	assert_int_equal(vmb_host_part_map(h.h, pfns + 1, 2, true, &hm), 0);
	assert_true(hm.view);
	assert_int_equal(hm.len, 2 * HV_PAGE_SIZE);
	assert_ptr_equal(hm.addr, vmb_host_part_gpa(h.h, pfns[1] * HV_PAGE_SIZE, HV_PAGE_SIZE));
	assert_int_equal(vmb_host_part_mapping_count(h.h), before + 1);
	assert_int_equal(vmb_guest_part_map(g.g, pfns + 1, 2, true, &gm), 0);
	assert_true(gm.view);
	assert_ptr_equal(gm.addr, vmb_guest_part_gpa(g.g, pfns[1] * HV_PAGE_SIZE, HV_PAGE_SIZE));
	gb = gm.addr;
	gb[HV_PAGE_SIZE + 3] = 0xa5;
	assert_int_equal(((uint8_t *)hm.addr)[HV_PAGE_SIZE + 3], 0xa5);
	vmb_guest_part_unmap(g.g, &gm);
	vmb_host_part_unmap(h.h, &hm);
	assert_null(hm.addr);
	assert_int_equal(vmb_host_part_mapping_count(h.h), before);
	/* The RAM behind a view stays mapped once the view is gone. */
	assert_int_equal(((uint8_t *)vmb_host_part_gpa(h.h, pfns[1] * HV_PAGE_SIZE,
						       2 * HV_PAGE_SIZE))[HV_PAGE_SIZE + 3],
			 0xa5);

	/* Plain (non-ring) map and the refusals. */
	assert_int_equal(vmb_host_part_map(h.h, pfns, 3, false, &hm), 0);
	assert_int_equal(hm.len, 3 * HV_PAGE_SIZE);
	vmb_host_part_unmap(h.h, &hm);
	pfns[3] = RAM_PAGES;
	assert_int_equal(vmb_host_part_map(h.h, pfns, 5, true, &hm), -EINVAL);
	assert_int_equal(vmb_guest_part_map(g.g, pfns, 5, false, &gm), -EINVAL);
	assert_int_equal(vmb_host_part_map(h.h, pfns, 1, true, &hm), -EINVAL);
	assert_int_equal(vmb_host_part_map(h.h, pfns, 0, false, &hm), -EINVAL);
	assert_int_equal(vmb_host_part_mapping_count(h.h), before);
	guest_destroy(&g);
	host_stop(&h);
}

static void test_alloc(void **state)
{
	struct hctx h;
	struct gctx g;
	static uint64_t pfns[RAM_PAGES];
	(void)state;

	host_start(&h);
	guest_connect(&g);
	size_t avail = RAM_PAGES - 2 * VPS;
	/* Never-used pages already read as zeros: not written (faulted in). */
	uint64_t four[4], before, after;
	assert_int_equal(vmb_host_part_resident(h.h, &before), 0);
	assert_int_equal(vmb_guest_part_alloc(g.g, 4, four), 0);
	assert_int_equal(vmb_host_part_resident(h.h, &after), 0);
	assert_int_equal(after, before);
	for (size_t k = 0; k < 4; k++) {
		uint8_t *q = vmb_guest_part_gpa(g.g, four[k] * HV_PAGE_SIZE, HV_PAGE_SIZE);

		for (size_t i = 0; i < HV_PAGE_SIZE; i++)
			assert_int_equal(q[i], 0);
	}
	vmb_guest_part_free(g.g, four, 4);
	assert_int_equal(vmb_guest_part_alloc(g.g, avail + 1, pfns), -ENOMEM);
	assert_int_equal(vmb_guest_part_alloc(g.g, avail, pfns), 0);
	for (size_t i = 0; i < avail; i++) {
		assert_true(pfns[i] >= 2 * VPS && pfns[i] < RAM_PAGES);
		for (size_t j = 0; j < i; j++)
			assert_true(pfns[i] != pfns[j]);
	}
	assert_int_equal(vmb_guest_part_alloc(g.g, 1, pfns + avail), -ENOMEM);
	uint8_t *p = vmb_guest_part_gpa(g.g, pfns[7] * HV_PAGE_SIZE, HV_PAGE_SIZE);
	memset(p, 0xff, HV_PAGE_SIZE);
	vmb_guest_part_free(g.g, &pfns[7], 1);
	uint64_t again;
	assert_int_equal(vmb_guest_part_alloc(g.g, 1, &again), 0);
	assert_int_equal(again, pfns[7]);
	for (size_t i = 0; i < HV_PAGE_SIZE; i++)
		assert_int_equal(p[i], 0);
	/* Freeing a SynIC page or a free page is refused. */
	uint64_t simp = 0;
	vmb_guest_part_free(g.g, &simp, 1);
	assert_int_equal(vmb_guest_part_alloc(g.g, 1, &again), -ENOMEM);
	guest_destroy(&g);
	host_stop(&h);
}

/* ------------------------------------------------- raw socket (bad guest) */

static int raw_connect(void)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	strcpy(sa.sun_path, sock_path);
	assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	return fd;
}

/* Send len bytes of m, return the reply status (-1 on hang-up). */
static int raw_call(int fd, struct vmb_wire_msg *m, size_t len)
{
	struct vmb_wire_msg r;
	int fds[VMB_WIRE_MAX_FDS];
	unsigned nfds = 0;

	assert_int_equal(send(fd, m, len, 0), (ssize_t)len);
	long n = vmb_wire_recv(fd, &r, sizeof(r), fds, VMB_WIRE_MAX_FDS, &nfds, 0);
	vmb_wire_close_fds(fds, nfds);
	if (n <= 0)
		return -1;
	assert_int_equal(r.hdr.seq, m->hdr.seq);
	assert_int_equal(r.hdr.type, m->hdr.type | VMB_WIRE_REPLY);
	return (int)r.hdr.status;
}

static void test_malformed(void **state)
{
	struct hctx h;
	struct vmb_wire_msg m;
	size_t hdr = sizeof(m.hdr);
	(void)state;

	host_start(&h);
	int fd = raw_connect();
	memset(&m, 0, sizeof(m));
	m.hdr.type = VMB_WIRE_POST;
	m.hdr.seq = 9;
	m.u.post.conn_id = 1;
	m.u.post.msg_type = 1;
	assert_int_equal(raw_call(fd, &m, hdr + VMB_WIRE_POST_FIXED),
			 HV_STATUS_OPERATION_DENIED); /* before hello */
	m.hdr.type = VMB_WIRE_HELLO;
	m.u.hello.version = 99;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.hello)), HV_STATUS_OPERATION_DENIED);
	m.u.hello.version = VMB_WIRE_VERSION;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.hello)), HV_STATUS_SUCCESS);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.ups) == 1));
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.hello)), HV_STATUS_OPERATION_DENIED);

	m.hdr.type = 77;
	assert_int_equal(raw_call(fd, &m, hdr + 8), HV_STATUS_INVALID_HYPERCALL_CODE);
	m.hdr.type = VMB_WIRE_POST;
	m.u.post.size = 20;
	assert_int_equal(raw_call(fd, &m, hdr + VMB_WIRE_POST_FIXED + 19),
			 HV_STATUS_INVALID_HYPERCALL_INPUT);
	m.u.post.size = 241;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.post)),
			 HV_STATUS_INVALID_HYPERCALL_INPUT);
	m.u.post.size = 4;
	m.u.post.vp = VPS;
	assert_int_equal(raw_call(fd, &m, hdr + VMB_WIRE_POST_FIXED + 4),
			 HV_STATUS_INVALID_PARAMETER);
	m.hdr.type = VMB_WIRE_WRMSR;
	m.u.wrmsr.vp = 0;
	m.u.wrmsr.msr = HV_X64_MSR_SIMP;
	m.u.wrmsr.value = (uint64_t)RAM_PAGES * HV_PAGE_SIZE | 1;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.wrmsr)), HV_STATUS_INVALID_PARAMETER);
	m.u.wrmsr.value = UINT64_MAX;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.wrmsr)), HV_STATUS_INVALID_PARAMETER);
	m.u.wrmsr.msr = HV_X64_MSR_SINT0 + 2;
	m.u.wrmsr.value = 3; /* reserved vector, unmasked */
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.wrmsr)), HV_STATUS_INVALID_PARAMETER);
	m.u.wrmsr.msr = 0x12345;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.wrmsr)), HV_STATUS_INVALID_PARAMETER);
	m.u.wrmsr.msr = HV_X64_MSR_EOM;
	m.u.wrmsr.vp = VPS;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.wrmsr)), HV_STATUS_INVALID_PARAMETER);
	m.hdr.type = VMB_WIRE_GET_PORT;
	m.u.get_port.conn_id = 5;
	assert_int_equal(raw_call(fd, &m, hdr + sizeof(m.u.get_port)),
			 HV_STATUS_INVALID_CONNECTION_ID);

	/* Broken framing (shorter than a header): the guest is dropped. */
	assert_int_equal(raw_call(fd, &m, 3), -1);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.downs) == 1));
	close(fd);

	/* An oversized datagram: dropped too, and the host keeps serving. */
	fd = raw_connect();
	uint8_t big[1024] = {0};
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	char c;
	assert_int_equal(recv(fd, &c, 1, 0), 0);
	close(fd);
	host_stop(&h);
}

/* ---------------------------------------------------------- process deaths */

static unsigned count_fds(void)
{
	unsigned n = 0;
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;

	assert_non_null(d);
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void pump_until(struct hctx *c, const int *v, int want)
{
	for (int i = 0; i < 5000 && loadi(&c->lock, v) != want; i++)
		assert_int_equal(vmb_host_part_poll(c->h, 1), 0);
	assert_int_equal(loadi(&c->lock, v), want);
}

/* Child: a guest that leaves marks in RAM, a port fd and a post, then waits. */
static void guest_child(int ready_fd)
{
	struct gctx g;

	memset(&g, 0, sizeof(g));
	pthread_mutex_init(&g.lock, NULL);
	if (vmb_guest_part_connect(sock_path, &guest_ops, &g, &g.g))
		_exit(2);
	if (vmb_guest_part_start(g.g))
		_exit(3);
	uint64_t pfn;
	if (vmb_guest_part_alloc(g.g, 1, &pfn) || pfn != 2 * VPS)
		_exit(4);
	memset(vmb_guest_part_gpa(g.g, pfn * HV_PAGE_SIZE, HV_PAGE_SIZE), 0xee, HV_PAGE_SIZE);
	/* The parent adds the port once it has seen us come up. */
	int st, tries = 0;
	while ((st = vmb_guest_part_signal(g.g, 42, 0)) == HV_STATUS_INVALID_CONNECTION_ID &&
	       tries++ < 5000)
		usleep(1000);
	if (st != HV_STATUS_SUCCESS)
		_exit(5);
	if (vmb_guest_part_post(g.g, 1, 1, "hi", 2) != HV_STATUS_SUCCESS)
		_exit(6);
	if (write(ready_fd, "r", 1) != 1)
		_exit(7);
	for (;;)
		pause();
}

static void test_guest_killed(void **state)
{
	struct hctx h;
	struct vmb_mapping m;
	int pipefd[2];
	char c;
	(void)state;

	host_create(&h);
	unsigned fds0 = count_fds();
	unsigned maps0 = vmb_host_part_mapping_count(h.h);
	assert_int_equal(pipe2(pipefd, O_NONBLOCK), 0);
	pid_t pid = child = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		guest_child(pipefd[1]);
	}
	close(pipefd[1]);
	pump_until(&h, &h.ups, 1);
	assert_int_equal(vmb_host_part_port_add(h.h, 42, port_fn, &h), 0);
	pump_until(&h, &h.port_calls, 1);
	assert_true(WAIT_FOR((vmb_host_part_poll(h.h, 1), read(pipefd[0], &c, 1) == 1)));
	close(pipefd[0]);
	uint64_t pfn = 2 * VPS;
	uint8_t *page = vmb_host_part_gpa(h.h, pfn * HV_PAGE_SIZE, HV_PAGE_SIZE);
	assert_int_equal(page[0], 0xee);
	assert_int_equal(vmb_host_part_map(h.h, &pfn, 1, false, &m), 0);
	h.unmap_on_down = &m;
	assert_int_equal(vmb_host_part_send(h.h, 0, 2, 1, "x", 1), 0);

	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	child = -1;
	assert_true(WIFSIGNALED(status));
	pump_until(&h, &h.downs, 1);
	assert_false(vmb_host_part_guest_connected(h.h));
	assert_int_equal(count_fds(), fds0);
	assert_int_equal(vmb_host_part_mapping_count(h.h), maps0);
	assert_int_equal(h.nposts, 1);
	/* The next guest starts from clean memory. */
	assert_int_equal(page[0], 0);
	h.unmap_on_down = NULL;

	assert_int_equal(pthread_create(&h.pump, NULL, pump, &h), 0);
	struct gctx g;
	guest_connect(&g);
	assert_true(WAIT_FOR(loadi(&h.lock, &h.ups) == 2));
	uint8_t *gp = vmb_guest_part_gpa(g.g, pfn * HV_PAGE_SIZE, HV_PAGE_SIZE);
	assert_int_equal(gp[0], 0);
	/* Ports were per guest: 42 is unknown to the new one. */
	assert_int_equal(vmb_guest_part_signal(g.g, 42, 0), HV_STATUS_INVALID_CONNECTION_ID);
	guest_destroy(&g);
	host_stop(&h);
}

static void host_child(int ready_fd)
{
	struct hctx h;

	host_create(&h);
	if (write(ready_fd, "r", 1) != 1)
		_exit(7);
	for (;;)
		vmb_host_part_poll(h.h, 100);
}

static long elapsed_ms(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 + (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static void test_host_killed(void **state)
{
	struct gctx g;
	int pipefd[2];
	char c;
	(void)state;

	assert_int_equal(pipe(pipefd), 0);
	pid_t pid = child = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(pipefd[0]);
		host_child(pipefd[1]);
	}
	close(pipefd[1]);
	assert_int_equal(read(pipefd[0], &c, 1), 1);
	close(pipefd[0]);
	guest_connect(&g);
	assert_int_equal(vmb_guest_part_start(g.g), 0);
	assert_int_equal(vmb_guest_part_post(g.g, 1, 1, "a", 1), HV_STATUS_SUCCESS);

	kill(pid, SIGKILL);
	int status;
	assert_int_equal(waitpid(pid, &status, 0), pid);
	child = -1;
	assert_true(WAIT_FOR(loadi(&g.lock, &g.host_downs) == 1));
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_true(vmb_guest_part_post(g.g, 1, 1, "a", 1) < 0);
	assert_true(vmb_guest_part_signal(g.g, 42, 0) < 0);
	assert_true(vmb_guest_part_wrmsr(g.g, 0, HV_X64_MSR_EOM, 0) < 0);
	assert_true(elapsed_ms(&t0) < 500);
	usleep(20000);
	assert_int_equal(loadi(&g.lock, &g.host_downs), 1);
	guest_destroy(&g);
}

static int kill_child(void **state)
{
	(void)state;
	if (child > 0) {
		int status = 0;
		kill(child, SIGKILL);
		waitpid(child, &status, 0);
		if (WIFEXITED(status))
			fprintf(stderr, "child exited with %d\n", WEXITSTATUS(status));
		child = -1;
	}
	return 0;
}

static void test_host_create_refuses(void **state)
{
	const struct vmb_host_part_config bad[] = {
	    {.ram_size = 1000, .vp_count = 1, .socket_path = sock_path},
	    {.ram_size = 4 * HV_PAGE_SIZE, .vp_count = 2, .socket_path = sock_path},
	    {.ram_size = 64 * HV_PAGE_SIZE, .vp_count = 0, .socket_path = sock_path},
	    {.ram_size = 64 * HV_PAGE_SIZE,
	     .vp_count = VMB_PART_MAX_VPS + 1,
	     .socket_path = sock_path},
	    {.ram_size = 64 * HV_PAGE_SIZE, .vp_count = 1, .socket_path = NULL},
	};
	struct vmb_host_part *h;
	struct vmb_guest_part *g;
	(void)state;

	unlink(sock_path);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(vmb_host_part_create(&bad[i], &host_ops, NULL, &h), -EINVAL);
	assert_int_equal(vmb_guest_part_connect(sock_path, &guest_ops, NULL, &g), -ENOENT);
}

int main(void)
{
	/* clang-format off */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hello_ram),
		cmocka_unit_test(test_post_in_order),
		cmocka_unit_test(test_post_queue_full),
		cmocka_unit_test(test_h2g_order),
		cmocka_unit_test(test_events),
		cmocka_unit_test(test_offline_and_run_on),
		cmocka_unit_test(test_run_on),
		cmocka_unit_test(test_ports),
		cmocka_unit_test(test_ring_map),
		cmocka_unit_test(test_alloc),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test_teardown(test_guest_killed, kill_child),
		cmocka_unit_test_teardown(test_host_killed, kill_child),
		cmocka_unit_test(test_host_create_refuses),
	};
	/* clang-format on */

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, setup, teardown);
}
