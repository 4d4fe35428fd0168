/*
 * Raw guest for the hostile suites: every control message is built here by
 * hand, so tests can break the protocol on purpose, and channels are plain
 * vmb_channels over rings this process owns, so tests can scribble on them.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vmbus/dev/test.h"
#include "hostile.h"
#include "vmbus/msg.h"
#include "vmbus/proto/hv.h"
#include "vmbus/ring.h"

#define PAGE 4096u

/* ---- partition callbacks --------------------------------------------- */

static void hg_on_message(void *ctx, uint32_t vp, uint32_t sint, uint32_t msg_type,
			  const void *payload, size_t len)
{
	struct hg *h = ctx;
	struct hg_msg *m;

	(void)vp;
	(void)sint;
	(void)msg_type;
	if (len < sizeof(uint32_t) || len > VMBUS_MAX_MESSAGE_SIZE)
		return;
	pthread_mutex_lock(&h->lock);
	if (h->n == HG_QUEUE) {
		atomic_fetch_add(&h->dropped, 1);
	} else {
		m = &h->q[(h->head + h->n++) % HG_QUEUE];
		memcpy(&m->type, payload, sizeof(m->type));
		m->len = len;
		memcpy(m->b, payload, len);
		pthread_cond_broadcast(&h->cv);
	}
	pthread_mutex_unlock(&h->lock);
}

static void hg_on_event(void *ctx, uint32_t vp, uint32_t flag)
{
	struct hg *h = ctx;

	(void)vp;
	pthread_mutex_lock(&h->evlock);
	for (unsigned i = 0; i < HG_OFFERS; i++) {
		struct hg_chan *c = h->chans[i];

		if (c && c->relid == flag)
			vmb_chan_interrupt(c->ch);
	}
	pthread_mutex_unlock(&h->evlock);
}

static void hg_on_down(void *ctx)
{
	struct hg *h = ctx;

	atomic_store(&h->host_down, true);
}

static void hg_on_log(void *ctx, const char *msg)
{
	(void)ctx;
	fprintf(stderr, "raw guest: %s\n", msg);
}

static const struct vmb_guest_part_ops hg_ops = {
    .event = hg_on_event,
    .message = hg_on_message,
    .host_down = hg_on_down,
    .log = hg_on_log,
};

int hg_connect(struct hg *h, const char *sock)
{
	int rc;

	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->lock, NULL);
	pthread_cond_init(&h->cv, NULL);
	pthread_mutex_init(&h->evlock, NULL);
	h->conn_id = VMBUS_MESSAGE_CONNECTION_ID_4;
	rc = vmb_guest_part_connect(sock, &hg_ops, h, &h->g);
	if (rc == 0)
		rc = vmb_guest_part_start(h->g);
	return rc;
}

void hg_close(struct hg *h)
{
	if (h->g)
		vmb_guest_part_destroy(h->g);
	h->g = NULL;
	pthread_mutex_destroy(&h->lock);
	pthread_cond_destroy(&h->cv);
	pthread_mutex_destroy(&h->evlock);
}

/* ---- messages --------------------------------------------------------- */

int hg_post(struct hg *h, const void *msg, size_t len)
{
	return vmb_guest_part_post(h->g, h->conn_id, HVMSG_VMBUS, msg, len);
}

int hg_post_type(struct hg *h, uint32_t type)
{
	struct vmbus_channel_message_header m = {.msgtype = type};

	return hg_post(h, &m, sizeof(m));
}

static bool take(struct hg *h, uint32_t type, void *out, size_t cap, long *len)
{
	for (unsigned i = 0; i < h->n; i++) {
		struct hg_msg *m = &h->q[(h->head + i) % HG_QUEUE];

		if (m->type != type)
			continue;
		*len = (long)m->len;
		memcpy(out, m->b, m->len < cap ? m->len : cap);
		/* Close the gap, keeping the order of the others. */
		for (unsigned j = i; j + 1 < h->n; j++)
			h->q[(h->head + j) % HG_QUEUE] = h->q[(h->head + j + 1) % HG_QUEUE];
		h->n--;
		return true;
	}
	return false;
}

long hg_wait(struct hg *h, uint32_t type, void *out, size_t cap, int timeout_ms)
{
	struct timespec dl;
	long len = -ETIMEDOUT;

	clock_gettime(CLOCK_REALTIME, &dl);
	dl.tv_sec += timeout_ms / 1000;
	dl.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
	if (dl.tv_nsec >= 1000000000L) {
		dl.tv_sec++;
		dl.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&h->lock);
	while (!take(h, type, out, cap, &len))
		if (pthread_cond_timedwait(&h->cv, &h->lock, &dl) != 0)
			break;
	pthread_mutex_unlock(&h->lock);
	return len;
}

void hg_flush(struct hg *h)
{
	pthread_mutex_lock(&h->lock);
	h->n = 0;
	pthread_mutex_unlock(&h->lock);
}

int hg_hello(struct hg *h, uint32_t version)
{
	struct vmbus_channel_initiate_contact ic;
	struct vmbus_channel_version_response r;
	size_t len = vmb_msg_min_size(CHANNELMSG_INITIATE_CONTACT, VMB_G2H, version, 0);
	int rc;

	vmb_msg_init(&ic, sizeof(ic), CHANNELMSG_INITIATE_CONTACT);
	ic.vmbus_version_requested = version;
	ic.msg_sint = VMBUS_MESSAGE_SINT;
	h->conn_id = version >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4
						 : VMBUS_MESSAGE_CONNECTION_ID;
	rc = hg_post(h, &ic, len ? len : sizeof(ic));
	if (rc != HV_STATUS_SUCCESS)
		return rc < 0 ? rc : -EIO;
	if (hg_wait(h, CHANNELMSG_VERSION_RESPONSE, &r, sizeof(r), 5000) < 0)
		return -ETIMEDOUT;
	if (!r.version_supported)
		return -EPROTO;
	if (version >= VERSION_WIN10_V5)
		h->conn_id = r.msg_conn_id;
	return 0;
}

int hg_offers(struct hg *h)
{
	struct vmbus_channel_offer_channel o;
	struct vmbus_channel_message_header done;
	int rc = hg_post_type(h, CHANNELMSG_REQUESTOFFERS);

	if (rc != HV_STATUS_SUCCESS)
		return rc < 0 ? rc : -EIO;
	if (hg_wait(h, CHANNELMSG_ALLOFFERS_DELIVERED, &done, sizeof(done), 5000) < 0)
		return -ETIMEDOUT;
	/* Offers precede ALLOFFERS_DELIVERED, so they are all queued by now. */
	while (h->noffers < HG_OFFERS && hg_wait(h, CHANNELMSG_OFFERCHANNEL, &o, sizeof(o), 0) > 0)
		h->offers[h->noffers++] = o;
	return (int)h->noffers;
}

long hg_gpadl(struct hg *h, uint32_t relid, uint32_t handle, const uint64_t *pfns, size_t n)
{
	struct vmbus_channel_gpadl_created c;
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	unsigned count = vmb_gpadl_msg_count(n);

	for (unsigned i = 0; i < count; i++) {
		size_t len = vmb_gpadl_build(buf, i, relid, handle, pfns, n);
		int rc = hg_post(h, buf, len);

		if (rc != HV_STATUS_SUCCESS)
			return rc < 0 ? rc : -EIO;
	}
	for (;;) {
		if (hg_wait(h, CHANNELMSG_GPADL_CREATED, &c, sizeof(c), 3000) < 0)
			return -ETIMEDOUT;
		if (c.gpadl == handle)
			return c.creation_status;
	}
}

/* ---- channels --------------------------------------------------------- */

static void hc_signal(void *ctx)
{
	struct hg_chan *c = ctx;

	vmb_guest_part_signal(c->h->g, c->conn_id, 0);
}

static void *hc_gpa(void *ctx, uint64_t gpa, size_t len)
{
	struct hg_chan *c = ctx;

	return vmb_guest_part_gpa(c->h->g, gpa, len);
}

static void hc_log(void *ctx, const char *msg)
{
	struct hg_chan *c = ctx;

	fprintf(stderr, "raw guest relid %u: %s\n", c->relid, msg);
}

static const struct vmb_chan_ops hc_ops = {.signal = hc_signal, .gpa = hc_gpa, .log = hc_log};

static int open_msg(struct hg_chan *c)
{
	struct vmbus_channel_open_channel m;
	struct vmbus_channel_open_result r;
	int rc;

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_OPENCHANNEL);
	m.child_relid = c->relid;
	m.openid = c->relid;
	m.ringbuffer_gpadlhandle = c->gpadl;
	m.downstream_ringbuffer_pageoffset = c->down;
	rc = hg_post(c->h, &m, offsetof(struct vmbus_channel_open_channel, connection_id));
	if (rc != HV_STATUS_SUCCESS)
		return rc < 0 ? rc : -EIO;
	if (hg_wait(c->h, CHANNELMSG_OPENCHANNEL_RESULT, &r, sizeof(r), 5000) < 0)
		return -ETIMEDOUT;
	return r.status == 0 ? 0 : -EIO;
}

static int attach(struct hg_chan *c)
{
	struct hg *h = c->h;
	struct vmb_chan_config cfg = {
	    .ring_flags = VMB_RING_DOUBLE_MAPPED,
	    .copy_out = true,
	    .relid = c->relid,
	    .ops = &hc_ops,
	    .ops_ctx = c,
	};
	int rc;

	rc = vmb_guest_part_map(h->g, c->pfns, c->down, true, &c->out);
	if (rc == 0)
		rc = vmb_guest_part_map(h->g, c->pfns + c->down, c->npages - c->down, true, &c->in);
	if (rc < 0)
		return rc;
	c->out_hdr = c->out.addr;
	c->out_data = (uint8_t *)c->out.addr + PAGE;
	c->out_size = (c->down - 1) * PAGE;
	cfg.out_hdr = c->out_hdr;
	cfg.out_data = c->out_data;
	cfg.out_size = c->out_size;
	cfg.in_hdr = c->in.addr;
	cfg.in_data = (uint8_t *)c->in.addr + PAGE;
	cfg.in_size = (c->npages - c->down - 1) * PAGE;
	vmb_ring_header_reset(cfg.out_hdr);
	vmb_ring_header_reset(cfg.in_hdr);
	return vmb_chan_create(&cfg, &c->ch);
}

int hg_chan_open(struct hg *h, unsigned idx, unsigned ring_pages, uint32_t gpadl, struct hg_chan *c)
{
	long st;
	int rc;

	memset(c, 0, sizeof(*c));
	if (idx >= h->noffers || 2 * ring_pages > HG_MAXPG || ring_pages < 2)
		return -EINVAL;
	c->h = h;
	c->idx = idx;
	c->relid = h->offers[idx].child_relid;
	c->conn_id = h->offers[idx].connection_id;
	c->gpadl = gpadl;
	c->npages = 2 * ring_pages;
	c->down = ring_pages;
	rc = vmb_guest_part_alloc(h->g, c->npages, c->pfns);
	if (rc < 0)
		return rc;
	rc = attach(c);
	if (rc < 0)
		return rc;
	st = hg_gpadl(h, c->relid, gpadl, c->pfns, c->npages);
	if (st != 0)
		return st < 0 ? (int)st : -EIO;
	pthread_mutex_lock(&h->evlock);
	h->chans[idx] = c;
	pthread_mutex_unlock(&h->evlock);
	return open_msg(c);
}

void hg_chan_close(struct hg_chan *c)
{
	struct vmbus_channel_relid_msg m;

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_CLOSECHANNEL);
	m.child_relid = c->relid;
	hg_post(c->h, &m, sizeof(m));
	pthread_mutex_lock(&c->h->evlock);
	c->h->chans[c->idx] = NULL;
	pthread_mutex_unlock(&c->h->evlock);
	vmb_chan_destroy(c->ch);
	if (c->out.addr)
		vmb_guest_part_unmap(c->h->g, &c->out);
	if (c->in.addr)
		vmb_guest_part_unmap(c->h->g, &c->in);
}

int hg_echo(struct hg_chan *c, int timeout_ms)
{
	struct vmb_test_hdr req = {.op = VMB_TEST_ECHO, .seq = 0x1234abcd};
	struct vmb_test_hdr resp = {0};
	size_t got = 0;
	int rc;

	rc = vmb_chan_request_sync(c->ch, &req, sizeof(req), &resp, sizeof(resp), &got, timeout_ms);
	if (rc < 0)
		return rc;
	return got == sizeof(req) && memcmp(&req, &resp, sizeof(req)) == 0 ? 0 : -EBADMSG;
}

int hg_signal(struct hg_chan *c)
{
	return vmb_guest_part_signal(c->h->g, c->conn_id, 0);
}

/* ---- host with captured stderr ----------------------------------------- */

int hostile_host_start(struct it_proc *p, const char *sock, const struct it_host_opts *o,
		       char *log_path, size_t len)
{
	int fd, saved, rc;

	snprintf(log_path, len, "%s.log", sock);
	fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	if (fd < 0)
		return -errno;
	saved = dup(STDERR_FILENO);
	fflush(stderr);
	dup2(fd, STDERR_FILENO);
	rc = it_host_start(p, sock, o);
	dup2(saved, STDERR_FILENO);
	close(saved);
	close(fd);
	return rc;
}

bool hostile_log_has(const char *path, const char *needle, int timeout_ms)
{
	static char text[1 << 20];

	for (int waited = 0; waited <= timeout_ms; waited += 20) {
		FILE *f = fopen(path, "r");
		size_t n = 0;

		if (f) {
			n = fread(text, 1, sizeof(text) - 1, f);
			fclose(f);
		}
		text[n] = '\0';
		if (strstr(text, needle))
			return true;
		usleep(20000);
	}
	return false;
}
