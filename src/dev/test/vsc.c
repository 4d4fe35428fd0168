/* Test device, guest side (VSC): probe checks an echo, optional traffic. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "vmbus/dev/test.h"
#include "util/deadline.h"

#define TEST_RING_BYTES (64u * 1024)
#define TEST_MAX_DEVS 64
#define TEST_ECHO_TIMEOUT_MS 10000

struct test_dev {
	struct vmb_test_guest *tg;
	struct vmb_device *dev;
	struct vmb_channel *ch;
	struct vmb_channel *subs[64];
	/* Held for reading while someone uses ch; removal takes it for writing. */
	pthread_rwlock_t use;
	pthread_mutex_t tlock; /* serialises traffic start/stop */
	pthread_t traffic;
	bool traffic_on;
	atomic_bool stop; /* set by the controlling thread, read by traffic_main */
};

struct with_call {
	int (*fn)(struct vmb_channel *ch, void *arg);
	void *arg;
};

static int with_dev(struct vmb_test_guest *tg, unsigned i, int (*fn)(struct test_dev *, void *),
		    void *arg);
static int do_channel(struct test_dev *td, void *arg);

struct vmb_test_guest {
	struct vmb_driver drv;
	struct vmb_guest *g;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct test_dev *devs[TEST_MAX_DEVS]; /* bound devices, probe order */
	unsigned ndevs;
	bool traffic;
	struct vmb_test_counts counts;
};

static struct vmb_test_guest *tg_of(struct vmb_device *dev)
{
	return vmb_device_driver(dev)->ctx;
}

int vmb_test_echo(struct vmb_channel *ch, const void *buf, size_t len)
{
	uint8_t *req = malloc(sizeof(struct vmb_test_hdr) + len);
	uint8_t *resp = malloc(sizeof(struct vmb_test_hdr) + len);
	struct vmb_test_hdr h = {.op = VMB_TEST_ECHO, .size = (uint32_t)len};
	size_t got = 0;
	int rc = -ENOMEM;

	if (!req || !resp)
		goto out;
	memcpy(req, &h, sizeof(h));
	memcpy(req + sizeof(h), buf, len);
	rc = vmb_chan_request_sync(ch, req, sizeof(h) + len, resp, sizeof(h) + len, &got,
				   TEST_ECHO_TIMEOUT_MS);
	/* The completion is padded to 8 bytes, so it may be longer than asked. */
	if (rc == 0 && (got < sizeof(h) + len || memcmp(req, resp, sizeof(h) + len) != 0))
		rc = -EBADMSG;
out:
	free(req);
	free(resp);
	return rc;
}

static void count(struct vmb_test_guest *tg, uint64_t *field)
{
	pthread_mutex_lock(&tg->lock);
	(*field)++;
	pthread_cond_broadcast(&tg->cond);
	pthread_mutex_unlock(&tg->lock);
}

static void *traffic_main(void *arg)
{
	struct test_dev *td = arg;
	uint8_t buf[512];
	unsigned n = 0;

	while (!td->stop) {
		size_t len = 1 + (n * 37) % sizeof(buf);

		memset(buf, (int)(n & 0xff), len);
		int rc = vmb_test_echo(td->ch, buf, len);

		if (rc == 0)
			count(td->tg, &td->tg->counts.echoes);
		else if (rc == -ECANCELED)
			break; /* rescinded: the device is going away */
		else if (!td->stop)
			count(td->tg, &td->tg->counts.errors);
		n++;
	}
	return NULL;
}

static void traffic_start(struct test_dev *td)
{
	pthread_mutex_lock(&td->tlock);
	if (!td->traffic_on) {
		td->stop = false;
		td->traffic_on = pthread_create(&td->traffic, NULL, traffic_main, td) == 0;
	}
	pthread_mutex_unlock(&td->tlock);
}

static void traffic_stop(struct test_dev *td)
{
	pthread_mutex_lock(&td->tlock);
	if (td->traffic_on) {
		td->stop = true;
		pthread_join(td->traffic, NULL);
		td->traffic_on = false;
	}
	pthread_mutex_unlock(&td->tlock);
}

/* Unsolicited packets (inband echoes, stream data) are only counted. */
static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	(void)arg;
	(void)ch;
	(void)pkt;
}

static int test_probe(struct vmb_device *dev)
{
	struct vmb_test_guest *tg = tg_of(dev);
	struct test_dev *td = calloc(1, sizeof(*td));
	struct vmb_open_opts o = {
		.send_ring = TEST_RING_BYTES,
		.recv_ring = TEST_RING_BYTES,
		.handler = on_packet,
		.copy_out = true,
	};
	static const char hello[] = "vmbus test device";
	int rc;

	if (!td)
		return -ENOMEM;
	td->tg = tg;
	td->dev = dev;
	pthread_rwlock_init(&td->use, NULL);
	pthread_mutex_init(&td->tlock, NULL);
	o.arg = td;
	rc = vmb_device_open(dev, &o, &td->ch);
	if (rc == 0)
		rc = vmb_test_echo(td->ch, hello, sizeof(hello));
	pthread_mutex_lock(&tg->lock);
	if (rc == 0 && tg->ndevs == TEST_MAX_DEVS)
		rc = -ENOSPC;
	if (rc == 0) {
		tg->devs[tg->ndevs++] = td;
		tg->counts.probed++;
		if (tg->traffic)
			traffic_start(td);
		pthread_cond_broadcast(&tg->cond);
	}
	pthread_mutex_unlock(&tg->lock);
	if (rc < 0) {
		if (td->ch)
			vmb_device_close(dev, td->ch);
		pthread_rwlock_destroy(&td->use);
		pthread_mutex_destroy(&td->tlock);
		free(td);
		return rc;
	}
	vmb_device_set_priv(dev, td);
	return 0;
}

static void test_remove(struct vmb_device *dev)
{
	struct vmb_test_guest *tg = tg_of(dev);
	struct test_dev *td = vmb_device_priv(dev);

	if (!td)
		return;
	pthread_mutex_lock(&tg->lock);
	for (unsigned i = 0; i < tg->ndevs; i++) {
		if (tg->devs[i] == td) {
			memmove(&tg->devs[i], &tg->devs[i + 1],
				(tg->ndevs - i - 1) * sizeof(tg->devs[0]));
			tg->ndevs--;
			break;
		}
	}
	pthread_mutex_unlock(&tg->lock);
	traffic_stop(td);
	pthread_rwlock_wrlock(&td->use);
	for (int i = 63; i >= 0; i--)
		if (td->subs[i])
			vmb_device_close(dev, td->subs[i]);
	vmb_device_close(dev, td->ch);
	pthread_rwlock_unlock(&td->use);
	pthread_rwlock_destroy(&td->use);
	pthread_mutex_destroy(&td->tlock);
	vmb_device_set_priv(dev, NULL);
	free(td);
	count(tg, &tg->counts.removed);
}

static void test_subchannel(struct vmb_device *dev, uint16_t index)
{
	struct vmb_test_guest *tg = tg_of(dev);
	struct test_dev *td = vmb_device_priv(dev);
	struct vmb_open_opts o = {
		.send_ring = TEST_RING_BYTES,
		.recv_ring = TEST_RING_BYTES,
		.handler = on_packet,
		.copy_out = true,
	};

	if (!td || index == 0 || index > 64 || td->subs[index - 1])
		return;
	o.arg = td;
	if (vmb_device_open_sub(dev, index, &o, &td->subs[index - 1]) == 0)
		count(tg, &tg->counts.subchannels);
}

int vmb_test_guest_register(struct vmb_guest *g, struct vmb_test_guest **out)
{
	struct vmb_test_guest *tg = calloc(1, sizeof(*tg));
	int rc;

	if (!tg)
		return -ENOMEM;
	tg->g = g;
	tg->drv = (struct vmb_driver){
		.name = "vmbus_test",
		.class_id = VMB_GUID_TEST,
		.probe = test_probe,
		.remove = test_remove,
		.subchannel = test_subchannel,
		.ctx = tg,
	};
	pthread_mutex_init(&tg->lock, NULL);
	pthread_cond_init(&tg->cond, NULL);
	rc = vmb_guest_register_driver(g, &tg->drv);
	if (rc < 0) {
		vmb_test_guest_free(tg);
		return rc;
	}
	*out = tg;
	return 0;
}

void vmb_test_guest_free(struct vmb_test_guest *tg)
{
	if (!tg)
		return;
	pthread_mutex_destroy(&tg->lock);
	pthread_cond_destroy(&tg->cond);
	free(tg);
}

int vmb_test_guest_wait(struct vmb_test_guest *tg, unsigned n, int timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	vmb_deadline_after(&dl, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&tg->lock);
	while (tg->ndevs < n && rc == 0)
		rc = pthread_cond_timedwait(&tg->cond, &tg->lock, &dl);
	pthread_mutex_unlock(&tg->lock);
	return rc ? -ETIMEDOUT : 0;
}

unsigned vmb_test_guest_bound(struct vmb_test_guest *tg)
{
	unsigned n;

	pthread_mutex_lock(&tg->lock);
	n = tg->ndevs;
	pthread_mutex_unlock(&tg->lock);
	return n;
}

int vmb_test_guest_with(struct vmb_test_guest *tg, unsigned i,
			int (*fn)(struct vmb_channel *ch, void *arg), void *arg)
{
	struct with_call w = {fn, arg};

	return with_dev(tg, i, do_channel, &w);
}

void vmb_test_guest_traffic(struct vmb_test_guest *tg, bool on)
{
	pthread_mutex_lock(&tg->lock);
	tg->traffic = on;
	for (unsigned i = 0; i < tg->ndevs; i++) {
		if (on)
			traffic_start(tg->devs[i]);
		else
			tg->devs[i]->stop = true;
	}
	pthread_mutex_unlock(&tg->lock);
	if (on)
		return;
	/* Join outside the lock: the traffic threads take it to count. */
	for (unsigned i = 0;; i++) {
		struct test_dev *td = NULL;

		pthread_mutex_lock(&tg->lock);
		if (i < tg->ndevs)
			td = tg->devs[i];
		pthread_mutex_unlock(&tg->lock);
		if (!td)
			break;
		traffic_stop(td);
	}
}

void vmb_test_guest_counts(struct vmb_test_guest *tg, struct vmb_test_counts *c)
{
	pthread_mutex_lock(&tg->lock);
	*c = tg->counts;
	pthread_mutex_unlock(&tg->lock);
}

/* Runs fn(td) with device i held (not removable meanwhile). */
static int with_dev(struct vmb_test_guest *tg, unsigned i, int (*fn)(struct test_dev *, void *),
		    void *arg)
{
	struct test_dev *td = NULL;
	int rc;

	pthread_mutex_lock(&tg->lock);
	if (i < tg->ndevs) {
		td = tg->devs[i];
		pthread_rwlock_rdlock(&td->use);
	}
	pthread_mutex_unlock(&tg->lock);
	if (!td)
		return -ENODEV;
	rc = fn(td, arg);
	pthread_rwlock_unlock(&td->use);
	return rc;
}

static int do_gpadl(struct test_dev *td, void *arg)
{
	size_t bytes = *(size_t *)arg;
	uint32_t handle;
	void *addr;
	int rc;

	rc = vmb_device_gpadl_alloc(td->dev, bytes, &addr, &handle);
	if (rc == 0)
		rc = vmb_device_gpadl_free(td->dev, handle);
	return rc;
}

int vmb_test_guest_gpadl(struct vmb_test_guest *tg, unsigned i, size_t bytes)
{
	return with_dev(tg, i, do_gpadl, &bytes);
}

static int do_set_vp(struct test_dev *td, void *arg)
{
	return vmb_channel_set_vp(td->dev, td->ch, *(uint32_t *)arg);
}

int vmb_test_guest_set_vp(struct vmb_test_guest *tg, unsigned i, uint32_t vp)
{
	return with_dev(tg, i, do_set_vp, &vp);
}

static int do_channel(struct test_dev *td, void *arg)
{
	struct with_call *w = arg;

	return w->fn(td->ch, w->arg);
}
