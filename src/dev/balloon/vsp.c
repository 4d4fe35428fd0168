/*
 * Dynamic memory, host side: accepts the guest's version and
 * capabilities, records its status reports, and runs balloon / unballoon
 * transactions one at a time for the caller (ctl thread). Pages the guest
 * gives are punched out of the RAM memfd, so the host really gets them.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/deadline.h"
#include "vmbus/dev/balloon.h"

enum dm_state { DM_WAIT_VERSION, DM_WAIT_CAPS, DM_READY };
enum dm_txn { TXN_NONE, TXN_BALLOON, TXN_UNBALLOON };

struct vmb_balloon_vsp {
	struct vmb_host *h;
	struct vmb_vsp *v;
	struct vmb_balloon_host_config cfg;
	pthread_mutex_t lock; /* everything below: loop thread vs callers */
	pthread_cond_t cond;
	struct vmb_channel *ch; /* NULL while closed */
	unsigned senders;	/* callers sending on ch right now */
	enum dm_state state;
	uint32_t version;
	uint64_t caps;
	struct vmb_dm_status status;
	uint64_t reports;
	struct vmb_dm_pages pages;
	uint64_t failed;
	bool busy;     /* a caller owns the transaction slot */
	bool draining; /* drop the remaining pieces of a failed balloon */
	enum dm_txn txn;
	bool txn_done;
	int txn_err;
	uint64_t txn_limit, txn_got;
};

static int dm_send(struct vmb_channel *ch, void *msg, uint16_t type, size_t size)
{
	struct vmb_dm_hdr *hdr = msg;

	hdr->type = type;
	hdr->size = (uint16_t)size;
	hdr->trans_id = 0;
	return vmb_chan_send(ch, msg, size, 0, 0);
}

static void txn_finish(struct vmb_balloon_vsp *b, int err)
{
	b->txn = TXN_NONE;
	b->txn_done = true;
	b->txn_err = err;
	if (err)
		b->failed++;
	pthread_cond_broadcast(&b->cond);
}

static bool version_ok(const struct vmb_balloon_vsp *b, uint32_t v)
{
	if (v != VMB_DM_VERSION_WIN7 && v != VMB_DM_VERSION_WIN8 && v != VMB_DM_VERSION_WIN10)
		return false;
	return v >= b->cfg.min_version && v <= b->cfg.max_version;
}

/* Returns true when a reply was built into *r. */
static bool on_version(struct vmb_balloon_vsp *b, const struct vmb_packet *pkt,
		       struct vmb_dm_accept *r)
{
	struct vmb_dm_version_request req;

	if (vmb_dm_parse_fixed(pkt->data, pkt->len, VMB_DM_VERSION_REQUEST, sizeof(req), &req) <
		0 ||
	    b->state != DM_WAIT_VERSION) {
		vmb_host_log(b->h, "balloon: bad or unexpected VERSION_REQUEST dropped");
		return false;
	}
	r->flags = version_ok(b, req.version);
	if (r->flags) {
		b->version = req.version;
		b->state = DM_WAIT_CAPS;
	}
	return true;
}

static bool on_caps(struct vmb_balloon_vsp *b, const struct vmb_packet *pkt,
		    struct vmb_dm_accept *r)
{
	struct vmb_dm_caps caps;

	if (vmb_dm_parse_fixed(pkt->data, pkt->len, VMB_DM_CAPS_REPORT, sizeof(caps), &caps) < 0 ||
	    b->state != DM_WAIT_CAPS) {
		vmb_host_log(b->h, "balloon: bad or unexpected CAPABILITIES_REPORT dropped");
		return false;
	}
	/* Hot add is never requested (fixed RAM), so only ballooning matters. */
	r->flags = (caps.caps & VMB_DM_CAP_BALLOON) != 0;
	if (r->flags) {
		b->caps = caps.caps;
		b->state = DM_READY;
	}
	return true;
}

static void on_status(struct vmb_balloon_vsp *b, const struct vmb_packet *pkt)
{
	struct vmb_dm_status st;

	if (vmb_dm_parse_fixed(pkt->data, pkt->len, VMB_DM_STATUS_REPORT, sizeof(st), &st) < 0 ||
	    b->state != DM_READY) {
		vmb_host_log(b->h, "balloon: bad or unexpected STATUS_REPORT dropped");
		return;
	}
	b->status = st;
	b->reports++;
}

static void discard_ranges(struct vmb_balloon_vsp *b, const uint64_t *ranges, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		int rc = vmb_host_discard(b->h, vmb_dm_range_pfn(ranges[i]),
					  vmb_dm_range_count(ranges[i]));
		if (rc < 0)
			vmb_host_log(b->h, "balloon: cannot free pages: %s", strerror(-rc));
	}
}

static void on_balloon_response(struct vmb_balloon_vsp *b, const struct vmb_packet *pkt)
{
	struct vmb_dm_piece *pc = malloc(sizeof(*pc));
	uint64_t before = b->pages.count;

	if (!pc)
		return;
	if (vmb_dm_parse_ranges(pkt->data, pkt->len, VMB_DM_BALLOON_RESPONSE, pc) < 0) {
		vmb_host_log(b->h, "balloon: malformed BALLOON_RESPONSE");
		if (b->txn == TXN_BALLOON) {
			/* Its more_pages bit cannot be trusted: drop pieces until the next request.
			 */
			b->draining = true;
			txn_finish(b, -EPROTO);
		}
	} else if (b->txn != TXN_BALLOON) {
		if (!b->draining)
			vmb_host_log(b->h,
				     "balloon: BALLOON_RESPONSE outside a transaction dropped");
		b->draining = b->draining && pc->more;
	} else if (vmb_dm_pages_claim(&b->pages, pc->ranges, pc->count, b->txn_limit - b->txn_got) <
		   0) {
		vmb_host_log(b->h, "balloon: BALLOON_RESPONSE with pages outside RAM, "
				   "already ballooned or more than asked; transaction failed");
		b->draining = pc->more;
		txn_finish(b, -EPROTO);
	} else {
		discard_ranges(b, pc->ranges, pc->count);
		b->txn_got += b->pages.count - before;
		if (!pc->more)
			txn_finish(b, 0);
	}
	free(pc);
}

static void handle(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_balloon_vsp *b = arg;
	struct vmb_dm_accept reply = {.flags = 0};
	uint16_t reply_type = 0;
	struct vmb_dm_hdr hdr;

	pthread_mutex_lock(&b->lock);
	if (vmb_dm_parse_hdr(pkt->data, pkt->len, &hdr) < 0) {
		vmb_host_log(b->h, "balloon: message with a bad header dropped");
		hdr.type = VMB_DM_ERROR;
	}
	switch (hdr.type) {
	case VMB_DM_ERROR:
		break;
	case VMB_DM_VERSION_REQUEST:
		if (on_version(b, pkt, &reply))
			reply_type = VMB_DM_VERSION_RESPONSE;
		break;
	case VMB_DM_CAPS_REPORT:
		if (on_caps(b, pkt, &reply))
			reply_type = VMB_DM_CAPS_RESPONSE;
		break;
	case VMB_DM_STATUS_REPORT:
		on_status(b, pkt);
		break;
	case VMB_DM_BALLOON_RESPONSE:
		on_balloon_response(b, pkt);
		break;
	case VMB_DM_UNBALLOON_RESPONSE:
		if (b->txn == TXN_UNBALLOON)
			txn_finish(b, 0);
		else
			vmb_host_log(b->h, "balloon: unexpected UNBALLOON_RESPONSE dropped");
		break;
	default:
		vmb_host_log(b->h, "balloon: message type %u dropped", hdr.type);
	}
	pthread_mutex_unlock(&b->lock);
	if (reply_type)
		dm_send(ch, &reply, reply_type, sizeof(reply));
}

/* Take the transaction slot; returns the channel to send on, or NULL with *err. */
static struct vmb_channel *txn_begin(struct vmb_balloon_vsp *b, enum dm_txn t, int *err)
{
	if (!b->ch || b->state != DM_READY) {
		*err = -ENOTCONN;
		return NULL;
	}
	if (b->busy) {
		*err = -EBUSY;
		return NULL;
	}
	b->busy = true;
	b->draining = false;
	b->txn = t;
	b->txn_done = false;
	b->txn_err = 0;
	b->txn_got = 0;
	b->senders++;
	return b->ch;
}

/* After sending (rc): wait for the guest's answer, then free the slot. */
static int txn_wait(struct vmb_balloon_vsp *b, int rc)
{
	struct timespec dl;

	b->senders--;
	pthread_cond_broadcast(&b->cond);
	vmb_deadline_after(&dl, CLOCK_MONOTONIC, b->cfg.timeout_ms);
	if (rc < 0 && !b->txn_done)
		txn_finish(b, rc);
	while (!b->txn_done && b->ch) {
		if (pthread_cond_timedwait(&b->cond, &b->lock, &dl) == ETIMEDOUT) {
			vmb_host_log(b->h,
				     "balloon: guest did not answer in %d ms; "
				     "transaction failed",
				     b->cfg.timeout_ms);
			b->draining = b->txn == TXN_BALLOON;
			txn_finish(b, -ETIMEDOUT);
		}
	}
	if (!b->txn_done)
		txn_finish(b, -ECANCELED);
	b->busy = false;
	return b->txn_err;
}

int vmb_balloon_inflate(struct vmb_balloon_vsp *b, uint32_t pages, uint64_t *got)
{
	struct vmb_dm_balloon req = {.num_pages = pages};
	struct vmb_channel *ch;
	int rc;

	*got = 0;
	if (pages == 0)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	ch = txn_begin(b, TXN_BALLOON, &rc);
	if (ch) {
		b->txn_limit = pages;
		pthread_mutex_unlock(&b->lock);
		rc = dm_send(ch, &req, VMB_DM_BALLOON_REQUEST, sizeof(req));
		pthread_mutex_lock(&b->lock);
		rc = txn_wait(b, rc);
		*got = b->txn_got;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

/* UNBALLOON_REQUEST pieces for up to `pages` pages, taken out of the books. */
static uint8_t *build_unballoon(struct vmb_balloon_vsp *b, uint64_t pages, size_t *npieces,
				uint64_t *total)
{
	uint64_t cursor = 0, before = b->pages.count;
	size_t n = 0, cap;
	uint8_t *buf;

	if (pages > before)
		pages = before;
	cap = (size_t)(pages / VMB_DM_MAX_RANGES) + 1;
	buf = calloc(cap, VMB_DM_MAX_MSG);
	while (buf && n < cap && before - b->pages.count < pages) {
		struct vmb_dm_ranges_hdr *rh = (void *)(buf + n * VMB_DM_MAX_MSG);
		uint64_t *r = (uint64_t *)(rh + 1);

		rh->word1 = vmb_dm_pages_collect(
		    &b->pages, &cursor, pages - (before - b->pages.count), r, VMB_DM_MAX_RANGES);
		if (rh->word1 == 0)
			break;
		vmb_dm_pages_release(&b->pages, r, rh->word1);
		/* Zero them again: the guest may have written to them meanwhile. */
		discard_ranges(b, r, rh->word1);
		rh->hdr.type = VMB_DM_UNBALLOON_REQUEST;
		rh->hdr.size = (uint16_t)(sizeof(*rh) + rh->word1 * 8u);
		n++;
	}
	for (size_t i = 0; i + 1 < n; i++)
		((struct vmb_dm_ranges_hdr *)(buf + i * VMB_DM_MAX_MSG))->word0 = 1;
	*npieces = n;
	*total = before - b->pages.count;
	return buf;
}

int vmb_balloon_deflate(struct vmb_balloon_vsp *b, uint32_t pages, uint64_t *returned)
{
	struct vmb_channel *ch;
	size_t npieces = 0;
	uint8_t *buf = NULL;
	int rc;

	*returned = 0;
	if (pages == 0)
		return -EINVAL;
	pthread_mutex_lock(&b->lock);
	ch = txn_begin(b, TXN_UNBALLOON, &rc);
	if (ch)
		buf = build_unballoon(b, pages, &npieces, returned);
	if (ch && npieces == 0) {
		/* Nothing ballooned (or no memory to build the request): no transaction. */
		b->senders--;
		b->busy = false;
		b->txn = TXN_NONE;
		rc = buf ? 0 : -ENOMEM;
	} else if (ch) {
		pthread_mutex_unlock(&b->lock);
		rc = 0;
		for (size_t i = 0; i < npieces && rc == 0; i++) {
			struct vmb_dm_hdr *hdr = (void *)(buf + i * VMB_DM_MAX_MSG);
			rc = vmb_chan_send(ch, hdr, hdr->size, 0, 0);
		}
		pthread_mutex_lock(&b->lock);
		rc = txn_wait(b, rc);
	}
	pthread_mutex_unlock(&b->lock);
	free(buf);
	return rc;
}

void vmb_balloon_vsp_state(struct vmb_balloon_vsp *b, struct vmb_balloon_state *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&b->lock);
	st->ready = b->ch && b->state == DM_READY;
	st->version = b->version;
	st->caps = b->caps;
	st->status_reports = b->reports;
	st->num_avail = b->status.num_avail;
	st->num_committed = b->status.num_committed;
	st->ballooned = b->pages.count;
	st->ram_pages = b->pages.pages;
	st->failed = b->failed;
	pthread_mutex_unlock(&b->lock);
	vmb_host_ram_resident(b->h, &st->resident_bytes);
}

static int dm_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		   const struct vmb_open_params *p)
{
	struct vmb_balloon_vsp *b = dev;
	int rc = 0;

	(void)v;
	(void)p;
	pthread_mutex_lock(&b->lock);
	if (sub != 0 || b->ch) {
		rc = -EINVAL;
	} else {
		b->ch = ch;
		b->state = DM_WAIT_VERSION;
		b->version = 0;
		b->caps = 0;
		b->reports = 0;
		vmb_chan_set_handler(ch, handle, b);
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

static void dm_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_balloon_vsp *b = dev;

	(void)v;
	(void)sub;
	pthread_mutex_lock(&b->lock);
	if (b->ch != ch) {
		pthread_mutex_unlock(&b->lock);
		return;
	}
	b->ch = NULL;
	b->state = DM_WAIT_VERSION;
	/* A caller may be waiting for ring space the guest will never free. */
	if (b->senders)
		vmb_chan_shutdown(ch);
	while (b->senders)
		pthread_cond_wait(&b->cond, &b->lock);
	pthread_cond_broadcast(&b->cond);
	/*
	 * A guest that closes (or dies) keeps nothing: its RAM is either
	 * replaced or the next driver starts with every page in its
	 * allocator, so the books start over.
	 */
	b->pages.count = 0;
	memset(b->pages.bits, 0, (size_t)((b->pages.pages + 63) / 64) * sizeof(uint64_t));
	pthread_mutex_unlock(&b->lock);
}

static void dm_release(void *dev)
{
	struct vmb_balloon_vsp *b = dev;

	vmb_dm_pages_fini(&b->pages);
	pthread_cond_destroy(&b->cond);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static const struct vmb_vsp_ops dm_ops = {
    .open = dm_open,
    .close = dm_close,
    .release = dm_release,
};

static int vsp_init(struct vmb_balloon_vsp *b, struct vmb_host *h,
		    const struct vmb_balloon_host_config *c)
{
	pthread_condattr_t ca;

	b->h = h;
	if (c)
		b->cfg = *c;
	if (!b->cfg.max_version)
		b->cfg.max_version = VMB_DM_VERSION_WIN10;
	if (!b->cfg.min_version)
		b->cfg.min_version = VMB_DM_VERSION_WIN7;
	if (b->cfg.timeout_ms <= 0)
		b->cfg.timeout_ms = 10000;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&b->lock, NULL);
	return vmb_dm_pages_init(&b->pages, vmb_host_ram_pages(h));
}

int vmb_balloon_vsp_add(struct vmb_host *h, const struct vmb_balloon_host_config *c,
			struct vmb_balloon_vsp **out)
{
	struct vmb_balloon_vsp *b = calloc(1, sizeof(*b));
	struct vmb_vsp_desc d = {
	    .name = "balloon",
	    .class_id = VMB_GUID_BALLOON,
	    /* Hyper-V's dynamic memory instance is fixed per VM; ours too. */
	    .instance_id = VMB_GUID_INIT(0x525074dc, 0x8985, 0x46e2, 0x80, 0x57, 0xa3, 0x07, 0xdc,
					 0x18, 0xa5, 0x03),
	    .max_packet = VMB_DM_MAX_MSG,
	    .copy_out = true,
	    .ops = &dm_ops,
	};
	int rc;

	if (!b)
		return -ENOMEM;
	rc = vsp_init(b, h, c);
	if (rc == 0) {
		d.dev = b;
		rc = vmb_host_add_device(h, &d, &b->v);
	}
	if (rc < 0) {
		dm_release(b);
		return rc;
	}
	*out = b;
	return 0;
}
