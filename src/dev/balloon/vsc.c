/*
 * Dynamic memory, guest side: negotiates newest version first, reports
 * that it can balloon (not hot add), sends a status report about once a
 * second and answers the host's transactions. Balloon requests are served
 * on the driver's own thread (allocation takes a while); unballoon pieces
 * only free pages, so the VP thread handles them directly.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/deadline.h"
#include "vmbus/dev/balloon.h"

#define DM_REPLY_TIMEOUT_MS 5000
#define DM_FREE_BATCH	    512

struct vmb_balloon_guest {
	struct vmb_guest *g;
	struct vmb_balloon_guest_config cfg;
	struct vmb_driver drv;
	pthread_mutex_t lock; /* everything below */
	pthread_cond_t cond;
	struct vmb_channel *ch; /* the bound device's channel, NULL when none */
	pthread_t worker;
	bool worker_running, stop;
	uint16_t reply_type; /* last VERSION/CAPS response, 0 = none yet */
	uint64_t reply_flags;
	uint32_t balloon_want; /* queued BALLOON_REQUEST, 0 = none */
	uint32_t trans_id;
	struct vmb_dm_pages pages;
	struct vmb_balloon_guest_state st;
};

static struct vmb_balloon_guest *bg_of(struct vmb_device *dev)
{
	return vmb_device_driver(dev)->ctx;
}

static int dm_send(struct vmb_balloon_guest *bg, struct vmb_channel *ch, void *msg, uint16_t type,
		   size_t size)
{
	struct vmb_dm_hdr *hdr = msg;

	hdr->type = type;
	hdr->size = (uint16_t)size;
	hdr->trans_id = __atomic_add_fetch(&bg->trans_id, 1, __ATOMIC_RELAXED);
	return vmb_chan_send(ch, msg, size, 0, 0);
}

/* Give the pages of ranges back to the guest allocator. */
static void free_ranges(struct vmb_balloon_guest *bg, const uint64_t *ranges, uint32_t n)
{
	uint64_t pfns[DM_FREE_BATCH];
	size_t k = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint64_t pfn = vmb_dm_range_pfn(ranges[i]);

		for (uint32_t j = 0; j < vmb_dm_range_count(ranges[i]); j++) {
			pfns[k++] = pfn + j;
			if (k == DM_FREE_BATCH) {
				vmb_guest_free_pages(bg->g, pfns, k);
				k = 0;
			}
		}
	}
	if (k)
		vmb_guest_free_pages(bg->g, pfns, k);
}

static void on_unballoon(struct vmb_balloon_guest *bg, struct vmb_channel *ch,
			 const struct vmb_packet *pkt)
{
	struct vmb_dm_piece *pc = malloc(sizeof(*pc));
	struct vmb_dm_hdr resp;
	int rc;

	if (!pc)
		return;
	if (vmb_dm_parse_ranges(pkt->data, pkt->len, VMB_DM_UNBALLOON_REQUEST, pc) < 0) {
		vmb_guest_log(bg->g, "balloon: malformed UNBALLOON_REQUEST refused");
		pthread_mutex_lock(&bg->lock);
		bg->st.refused++;
		pthread_mutex_unlock(&bg->lock);
		free(pc);
		return;
	}
	pthread_mutex_lock(&bg->lock);
	rc = vmb_dm_pages_release(&bg->pages, pc->ranges, pc->count);
	if (rc < 0)
		bg->st.refused++;
	bg->st.ballooned = bg->pages.count;
	pthread_mutex_unlock(&bg->lock);
	if (rc < 0)
		vmb_guest_log(bg->g, "balloon: UNBALLOON_REQUEST for pages not ballooned refused");
	else
		free_ranges(bg, pc->ranges, pc->count);
	/* The host waits for one answer after its last piece, valid or not. */
	if (!pc->more)
		dm_send(bg, ch, &resp, VMB_DM_UNBALLOON_RESPONSE, sizeof(resp));
	free(pc);
}

static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_balloon_guest *bg = arg;
	struct vmb_dm_accept acc;
	struct vmb_dm_balloon breq;
	struct vmb_dm_hdr hdr;

	if (vmb_dm_parse_hdr(pkt->data, pkt->len, &hdr) < 0)
		hdr.type = VMB_DM_ERROR;
	switch (hdr.type) {
	case VMB_DM_VERSION_RESPONSE:
	case VMB_DM_CAPS_RESPONSE:
		if (vmb_dm_parse_fixed(pkt->data, pkt->len, hdr.type, sizeof(acc), &acc) < 0)
			break;
		pthread_mutex_lock(&bg->lock);
		bg->reply_type = hdr.type;
		bg->reply_flags = acc.flags;
		pthread_cond_broadcast(&bg->cond);
		pthread_mutex_unlock(&bg->lock);
		return;
	case VMB_DM_BALLOON_REQUEST:
		if (vmb_dm_parse_fixed(pkt->data, pkt->len, hdr.type, sizeof(breq), &breq) < 0 ||
		    breq.num_pages == 0)
			break;
		pthread_mutex_lock(&bg->lock);
		/* One transaction at a time: a second request while one runs is refused. */
		if (!bg->st.ready || bg->balloon_want) {
			bg->st.refused++;
			pthread_mutex_unlock(&bg->lock);
			vmb_guest_log(bg->g, "balloon: BALLOON_REQUEST out of turn refused");
			return;
		}
		bg->balloon_want = breq.num_pages;
		pthread_cond_broadcast(&bg->cond);
		pthread_mutex_unlock(&bg->lock);
		return;
	case VMB_DM_UNBALLOON_REQUEST:
		on_unballoon(bg, ch, pkt);
		return;
	case VMB_DM_INFO_MESSAGE:
	case VMB_DM_HOT_ADD_REQUEST:
		/* Informational, or a capability we never reported: nothing to do. */
		return;
	default:
		break;
	}
	pthread_mutex_lock(&bg->lock);
	bg->st.refused++;
	pthread_mutex_unlock(&bg->lock);
	vmb_guest_log(bg->g, "balloon: malformed or unknown message (type %u) dropped", hdr.type);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return (x > y) - (x < y);
}

/* Sorted pfns -> ranges in place (ranges never outnumber pfns); returns the count. */
static uint32_t to_ranges(uint64_t *pfns, size_t n)
{
	uint32_t nr = 0;
	size_t i = 0;

	while (i < n) {
		size_t j = i + 1;

		while (j < n && pfns[j] == pfns[j - 1] + 1 && j - i < VMB_DM_RANGE_MAX_PAGES)
			j++;
		pfns[nr++] = vmb_dm_range(pfns[i], (uint32_t)(j - i));
		i = j;
	}
	return nr;
}

/* Take up to want pages from the allocator, keeping the reserve free. */
static size_t take_pages(struct vmb_balloon_guest *bg, uint32_t want, uint64_t **out)
{
	uint64_t *pfns = NULL;

	for (int tries = 0; tries < 4; tries++) {
		uint64_t avail = vmb_guest_free_page_count(bg->g);
		size_t n;

		avail = avail > bg->cfg.reserve_pages ? avail - bg->cfg.reserve_pages : 0;
		n = (size_t)(avail < want ? avail : want);
		if (n == 0)
			break;
		free(pfns);
		pfns = malloc(n * sizeof(*pfns));
		if (!pfns)
			break;
		if (vmb_guest_alloc_pages(bg->g, n, pfns) == 0) {
			*out = pfns;
			return n;
		}
	}
	free(pfns);
	*out = NULL;
	return 0;
}

static void dirty_pages(struct vmb_balloon_guest *bg, const uint64_t *pfns, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		void *p = vmb_guest_gpa(bg->g, pfns[i] * HV_PAGE_SIZE, HV_PAGE_SIZE);

		if (p)
			memset(p, 0xa5, HV_PAGE_SIZE);
	}
}

/* Answer a BALLOON_REQUEST with as many pages as we can spare. */
static void do_balloon(struct vmb_balloon_guest *bg, struct vmb_channel *ch, uint32_t want)
{
	uint64_t msg[VMB_DM_MAX_MSG / 8];
	struct vmb_dm_ranges_hdr *rh = (void *)msg;
	uint64_t *pfns;
	size_t n = take_pages(bg, want, &pfns);
	uint32_t nr = 0, sent = 0;

	if (n) {
		if (bg->cfg.dirty)
			dirty_pages(bg, pfns, n);
		qsort(pfns, n, sizeof(*pfns), cmp_u64);
		nr = to_ranges(pfns, n);
		pthread_mutex_lock(&bg->lock);
		vmb_dm_pages_claim(&bg->pages, pfns, nr, UINT64_MAX);
		bg->st.ballooned = bg->pages.count;
		pthread_mutex_unlock(&bg->lock);
	}
	do {
		uint32_t k =
		    nr - sent < VMB_DM_MAX_RANGES ? nr - sent : (uint32_t)VMB_DM_MAX_RANGES;

		memset(rh, 0, sizeof(*rh));
		rh->word1 = (k << 1) | (sent + k < nr);
		if (k)
			memcpy(rh + 1, pfns + sent, (size_t)k * 8);
		if (dm_send(bg, ch, msg, VMB_DM_BALLOON_RESPONSE, sizeof(*rh) + (size_t)k * 8) < 0)
			break;
		sent += k;
	} while (sent < nr);
	free(pfns);
}

static void send_status(struct vmb_balloon_guest *bg, struct vmb_channel *ch)
{
	struct vmb_dm_status s = {.hdr.type = 0};
	uint64_t total = vmb_guest_ram_pages(bg->g);
	uint64_t avail = vmb_guest_free_page_count(bg->g);

	s.num_avail = avail;
	/* Like Linux: what is in use, ballooned pages included. */
	s.num_committed = total > avail ? total - avail : 0;
	s.zero_free = avail;
	if (dm_send(bg, ch, &s, VMB_DM_STATUS_REPORT, sizeof(s)) == 0) {
		pthread_mutex_lock(&bg->lock);
		bg->st.status_sent++;
		pthread_mutex_unlock(&bg->lock);
	}
}

static void *worker_main(void *arg)
{
	struct vmb_balloon_guest *bg = arg;
	struct timespec next;

	pthread_mutex_lock(&bg->lock);
	vmb_deadline_after(&next, CLOCK_MONOTONIC, 0);
	while (!bg->stop) {
		struct vmb_channel *ch = bg->ch;
		uint32_t want = bg->balloon_want;

		if (want) {
			pthread_mutex_unlock(&bg->lock);
			do_balloon(bg, ch, want);
			pthread_mutex_lock(&bg->lock);
			bg->balloon_want = 0;
			continue;
		}
		if (pthread_cond_timedwait(&bg->cond, &bg->lock, &next) == ETIMEDOUT) {
			pthread_mutex_unlock(&bg->lock);
			send_status(bg, ch);
			pthread_mutex_lock(&bg->lock);
			vmb_deadline_after(&next, CLOCK_MONOTONIC, bg->cfg.status_ms);
		}
	}
	pthread_mutex_unlock(&bg->lock);
	return NULL;
}

/* Send a request and wait for the VERSION/CAPS response; 1 accepted, 0 not. */
static int exchange(struct vmb_balloon_guest *bg, struct vmb_channel *ch, void *msg, uint16_t type,
		    size_t size, uint16_t reply)
{
	struct timespec dl;
	int rc;

	pthread_mutex_lock(&bg->lock);
	bg->reply_type = 0;
	pthread_mutex_unlock(&bg->lock);
	rc = dm_send(bg, ch, msg, type, size);
	if (rc < 0)
		return rc;
	vmb_deadline_after(&dl, CLOCK_MONOTONIC, DM_REPLY_TIMEOUT_MS);
	pthread_mutex_lock(&bg->lock);
	while (bg->reply_type != reply && rc == 0)
		rc = -pthread_cond_timedwait(&bg->cond, &bg->lock, &dl);
	if (rc == 0)
		rc = (bg->reply_flags & 1) != 0;
	pthread_mutex_unlock(&bg->lock);
	return rc;
}

static int negotiate(struct vmb_balloon_guest *bg, struct vmb_channel *ch)
{
	static const uint32_t versions[] = {VMB_DM_VERSION_WIN10, VMB_DM_VERSION_WIN8,
					    VMB_DM_VERSION_WIN7};
	struct vmb_dm_caps caps = {.caps = VMB_DM_CAP_BALLOON, .max_page_number = UINT64_MAX};
	int rc = 0;

	for (unsigned i = 0; i < 3 && rc == 0; i++) {
		struct vmb_dm_version_request vr = {.version = versions[i], .flags = i == 2};

		if (versions[i] > bg->cfg.max_version)
			continue;
		rc = exchange(bg, ch, &vr, VMB_DM_VERSION_REQUEST, sizeof(vr),
			      VMB_DM_VERSION_RESPONSE);
		if (rc == 1)
			bg->st.version = versions[i];
	}
	if (rc != 1)
		return rc < 0 ? rc : -EPROTONOSUPPORT;
	rc = exchange(bg, ch, &caps, VMB_DM_CAPS_REPORT, sizeof(caps), VMB_DM_CAPS_RESPONSE);
	return rc == 1 ? 0 : rc < 0 ? rc : -EPROTO;
}

static int dm_probe(struct vmb_device *dev)
{
	struct vmb_balloon_guest *bg = bg_of(dev);
	struct vmb_open_opts o = {
	    .send_ring = VMB_DM_RING_SIZE,
	    .recv_ring = VMB_DM_RING_SIZE,
	    .handler = on_packet,
	    .arg = bg,
	    .copy_out = true,
	    .max_packet = VMB_DM_MAX_MSG,
	};
	struct vmb_channel *ch;
	int rc;

	pthread_mutex_lock(&bg->lock);
	rc = bg->ch || bg->worker_running ? -EBUSY : 0;
	pthread_mutex_unlock(&bg->lock);
	if (rc == 0)
		rc = vmb_device_open(dev, &o, &ch);
	if (rc < 0)
		return rc;
	rc = negotiate(bg, ch);
	pthread_mutex_lock(&bg->lock);
	if (rc == 0) {
		bg->ch = ch;
		bg->stop = false;
		bg->st.ready = true;
		rc = -pthread_create(&bg->worker, NULL, worker_main, bg);
		bg->worker_running = rc == 0;
		bg->ch = rc == 0 ? ch : NULL;
		bg->st.ready = rc == 0;
	}
	pthread_mutex_unlock(&bg->lock);
	if (rc < 0) {
		vmb_guest_log(bg->g, "balloon: protocol start failed: %s", strerror(-rc));
		vmb_device_close(dev, ch);
	}
	return rc;
}

static void dm_remove(struct vmb_device *dev)
{
	struct vmb_balloon_guest *bg = bg_of(dev);
	uint64_t cursor = 0, ranges[64];
	struct vmb_channel *ch;
	uint32_t n;

	pthread_mutex_lock(&bg->lock);
	ch = bg->ch;
	bg->stop = true;
	pthread_cond_broadcast(&bg->cond);
	pthread_mutex_unlock(&bg->lock);
	if (!ch)
		return;
	if (bg->worker_running)
		pthread_join(bg->worker, NULL);
	vmb_device_close(dev, ch);
	pthread_mutex_lock(&bg->lock);
	bg->worker_running = false;
	bg->ch = NULL;
	bg->st.ready = false;
	/* The host forgets its balloon with the channel: the pages come home. */
	while ((n = vmb_dm_pages_collect(&bg->pages, &cursor, UINT64_MAX, ranges, 64)) > 0) {
		vmb_dm_pages_release(&bg->pages, ranges, n);
		free_ranges(bg, ranges, n);
	}
	bg->st.ballooned = 0;
	pthread_mutex_unlock(&bg->lock);
}

int vmb_balloon_guest_register(struct vmb_guest *g, const struct vmb_balloon_guest_config *c,
			       struct vmb_balloon_guest **out)
{
	struct vmb_balloon_guest *bg = calloc(1, sizeof(*bg));
	pthread_condattr_t ca;
	int rc;

	if (!bg)
		return -ENOMEM;
	bg->g = g;
	if (c)
		bg->cfg = *c;
	if (!bg->cfg.max_version)
		bg->cfg.max_version = VMB_DM_VERSION_WIN10;
	if (bg->cfg.status_ms <= 0)
		bg->cfg.status_ms = 1000;
	if (!bg->cfg.reserve_pages)
		bg->cfg.reserve_pages = 2048;
	rc = vmb_dm_pages_init(&bg->pages, vmb_guest_ram_pages(g));
	if (rc < 0) {
		free(bg);
		return rc;
	}
	pthread_mutex_init(&bg->lock, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&bg->cond, &ca);
	pthread_condattr_destroy(&ca);
	bg->drv = (struct vmb_driver){
	    .name = "hv_balloon",
	    .class_id = VMB_GUID_BALLOON,
	    .probe = dm_probe,
	    .remove = dm_remove,
	    .ctx = bg,
	};
	rc = vmb_guest_register_driver(g, &bg->drv);
	if (rc < 0) {
		vmb_balloon_guest_free(bg);
		return rc;
	}
	*out = bg;
	return 0;
}

void vmb_balloon_guest_free(struct vmb_balloon_guest *bg)
{
	if (!bg)
		return;
	vmb_dm_pages_fini(&bg->pages);
	pthread_cond_destroy(&bg->cond);
	pthread_mutex_destroy(&bg->lock);
	free(bg);
}

void vmb_balloon_guest_state(struct vmb_balloon_guest *bg, struct vmb_balloon_guest_state *st)
{
	pthread_mutex_lock(&bg->lock);
	*st = bg->st;
	pthread_mutex_unlock(&bg->lock);
}
