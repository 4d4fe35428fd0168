/*
 * GPADLs: GPADL_HEADER + GPADL_BODY assembly, the aggregate byte limit,
 * teardown (deferred while the GPADL is an open channel's ring) and the
 * failure path that still gives the guest one GPADL_CREATED per header.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "server/server_priv.h"
#include "vmbus/proto/hv.h"

/* Fibonacci hashing: the guest's sequential handles land in distinct buckets. */
uint32_t vmb_srv_gpadl_bucket(uint32_t handle)
{
	return (handle * 0x9e3779b1u) >> (32 - VMB_SRV_GPADL_HASH_BITS);
}

struct vmb_srv_gpadl *vmb_srv_gpadl_find(const struct vmb_server *s, uint32_t handle)
{
	struct vmb_srv_gpadl *g;

	LIST_FOREACH(g, &s->gpadl_hash[vmb_srv_gpadl_bucket(handle)], hash_link)
	if (g->handle == handle)
		return g;
	return NULL;
}

bool vmb_srv_gpadl_complete(const struct vmb_srv_gpadl *g)
{
	return g->received == g->total;
}

/* Bytes charged against the limit: none once failed. */
static uint64_t gpadl_size(const struct vmb_srv_gpadl *g)
{
	return g->failed ? 0 : (uint64_t)g->total * HV_PAGE_SIZE;
}

static void unlink_gpadl(struct vmb_server *s, struct vmb_srv_gpadl *g)
{
	LIST_REMOVE(g, all_link);
	LIST_REMOVE(g, hash_link);
	LIST_REMOVE(g, chan_link);
	s->gpadl_bytes -= gpadl_size(g);
	s->gpadl_count--;
	free(g->pfns);
	free(g);
}

/* Forget a GPADL; the host glue only ever saw complete ones. */
static void remove_gpadl(struct vmb_server *s, struct vmb_srv_gpadl *g)
{
	uint32_t handle = g->handle;
	bool notify = vmb_srv_gpadl_complete(g) && !g->failed;

	unlink_gpadl(s, g);
	if (notify && s->ops->gpadl_removed)
		s->ops->gpadl_removed(s->ctx, handle);
}

static void fail_gpadl(struct vmb_server *s, struct vmb_srv_gpadl *g)
{
	s->gpadl_bytes -= gpadl_size(g);
	g->failed = true;
	free(g->pfns);
	g->pfns = NULL;
}

static void send_created(struct vmb_server *s, uint32_t relid, uint32_t handle, uint32_t status)
{
	struct vmbus_channel_gpadl_created r;

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_GPADL_CREATED);
	r.child_relid = relid;
	r.gpadl = handle;
	r.creation_status = status;
	vmb_srv_send(s, &r, sizeof(r));
}

static void send_torndown(struct vmb_server *s, uint32_t handle)
{
	struct vmbus_channel_gpadl_torndown r;

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_GPADL_TORNDOWN);
	r.gpadl = handle;
	vmb_srv_send(s, &r, sizeof(r));
}

/* All PFNs are in: answer, and forget a failed GPADL. */
static void gpadl_done(struct vmb_server *s, struct vmb_srv_gpadl *g)
{
	send_created(s, g->relid, g->handle, g->failed ? VMBUS_STATUS_FAILURE : 0);
	if (g->failed)
		unlink_gpadl(s, g);
}

static bool pfns_ok(const struct vmb_server *s, const uint64_t *pfns, uint32_t n)
{
	uint32_t i;

	for (i = 0; i < n; i++)
		if (pfns[i] >= s->cfg.guest_pages)
			return false;
	return true;
}

/* Take PFNs from a header or body; a bad one fails the whole GPADL. */
static void add_pfns(struct vmb_server *s, struct vmb_srv_gpadl *g, const uint64_t *pfns,
		     uint32_t n)
{
	if (!g->failed && !pfns_ok(s, pfns, n)) {
		vmb_srv_log(s, "vmbus server: GPADL %#x: PFN beyond guest memory, failing it",
			    g->handle);
		fail_gpadl(s, g);
	}
	if (!g->failed)
		memcpy(g->pfns + g->received, pfns, n * sizeof(*pfns));
	g->received += n;
	if (vmb_srv_gpadl_complete(g))
		gpadl_done(s, g);
}

/* Charge the new GPADL's bytes, or mark it failed. */
static void gpadl_reserve(struct vmb_server *s, struct vmb_srv_gpadl *g,
			  const struct vmb_server_channel *ch)
{
	uint64_t bytes = (uint64_t)g->total * HV_PAGE_SIZE;

	g->failed = true;
	if (ch->state == VMB_SCH_REVOKED)
		return;
	if (s->gpadl_bytes + bytes > s->cfg.gpadl_limit) {
		vmb_srv_log(s, "vmbus server: GPADL %#x: %llu bytes over the limit, failing it",
			    g->handle, (unsigned long long)bytes);
		return;
	}
	g->pfns = calloc(g->total, sizeof(*g->pfns));
	if (!g->pfns) {
		vmb_srv_log(s, "vmbus server: GPADL %#x: out of memory, failing it", g->handle);
		return;
	}
	g->failed = false;
	s->gpadl_bytes += bytes;
}

int vmb_srv_gpadl_header(struct vmb_server *s, const void *msg, size_t len)
{
	uint64_t pfns[VMBUS_GPADL_HEADER_MAX_PFNS];
	struct vmb_gpadl_hdr_info hi;
	const uint32_t type = CHANNELMSG_GPADL_HEADER;
	struct vmb_server_channel *ch;
	struct vmb_srv_gpadl *g;

	if (vmb_gpadl_parse_header(msg, len, &hi, pfns, VMBUS_GPADL_HEADER_MAX_PFNS) < 0)
		return vmb_srv_reject(s, type, -EBADMSG, "bad GPA ranges");
	if (hi.total_pfns == 0 || hi.carried > hi.total_pfns ||
	    hi.carried > VMBUS_GPADL_HEADER_MAX_PFNS)
		return vmb_srv_reject(s, type, -EBADMSG, "bad PFN counts");
	/*
	 * BODY words of a multi-range GPADL may be range records rather than
	 * PFNs; nobody sends such GPADLs, so only whole ones are taken.
	 */
	if (hi.rangecount > 1 && hi.carried != hi.total_pfns)
		return vmb_srv_reject(s, type, -EPROTO, "multi-range GPADL split over BODYs");
	if (hi.handle == 0 || vmb_srv_gpadl_find(s, hi.handle))
		return vmb_srv_reject(s, type, -EPROTO, "handle %#x zero or in use", hi.handle);
	ch = vmb_srv_chan_lookup(s, hi.relid);
	if (!ch)
		return vmb_srv_reject(s, type, -EPROTO, "relid %u not offered", hi.relid);
	if (s->gpadl_count >= VMB_SRV_MAX_GPADLS)
		return vmb_srv_reject(s, type, -EPROTO, "too many GPADLs");
	g = calloc(1, sizeof(*g));
	if (!g)
		return vmb_srv_reject(s, type, -ENOMEM, "out of memory");
	g->handle = hi.handle;
	g->relid = hi.relid;
	g->total = hi.total_pfns;
	g->byte_count = hi.byte_count;
	g->byte_offset = hi.byte_offset;
	gpadl_reserve(s, g, ch);
	LIST_INSERT_HEAD(&s->gpadls, g, all_link);
	LIST_INSERT_HEAD(&s->gpadl_hash[vmb_srv_gpadl_bucket(g->handle)], g, hash_link);
	LIST_INSERT_HEAD(&ch->gpadls, g, chan_link);
	s->gpadl_count++;
	add_pfns(s, g, pfns, hi.carried);
	return 0;
}

int vmb_srv_gpadl_body(struct vmb_server *s, const void *msg, size_t len)
{
	uint64_t pfns[VMBUS_GPADL_BODY_MAX_PFNS];
	const uint32_t type = CHANNELMSG_GPADL_BODY;
	struct vmb_srv_gpadl *g;
	uint32_t handle, n;

	if (vmb_gpadl_parse_body(msg, len, &handle, pfns, VMBUS_GPADL_BODY_MAX_PFNS, &n) < 0 ||
	    n > VMBUS_GPADL_BODY_MAX_PFNS)
		return vmb_srv_reject(s, type, -EBADMSG, "bad PFN array");
	g = vmb_srv_gpadl_find(s, handle);
	if (!g || vmb_srv_gpadl_complete(g))
		return vmb_srv_reject(s, type, -EPROTO, "GPADL %#x not being created", handle);
	if (n > g->total - g->received)
		return vmb_srv_reject(s, type, -EPROTO, "GPADL %#x: %u PFNs, %u expected", handle,
				      n, g->total - g->received);
	add_pfns(s, g, pfns, n);
	return 0;
}

int vmb_srv_gpadl_teardown(struct vmb_server *s, const void *msg)
{
	const struct vmbus_channel_gpadl_teardown *m = msg;
	const uint32_t type = CHANNELMSG_GPADL_TEARDOWN;
	struct vmb_srv_gpadl *g = vmb_srv_gpadl_find(s, m->gpadl);
	struct vmb_server_channel *ch;

	if (!g || g->relid != m->child_relid)
		return vmb_srv_reject(s, type, -EPROTO, "no GPADL %#x on relid %u", m->gpadl,
				      m->child_relid);
	if (!vmb_srv_gpadl_complete(g))
		return vmb_srv_reject(s, type, -EPROTO, "GPADL %#x still being created", m->gpadl);
	if (g->teardown_wait)
		return vmb_srv_reject(s, type, -EPROTO, "GPADL %#x teardown already pending",
				      m->gpadl);
	ch = s->chans[g->relid];
	if (ch && ch->state == VMB_SCH_OPEN && ch->ring_gpadl == g->handle) {
		/* The device still uses the ring: answer when the channel closes. */
		g->teardown_wait = true;
		return 0;
	}
	remove_gpadl(s, g);
	send_torndown(s, m->gpadl);
	return 0;
}

/* Rescind: creations in progress will be answered with a failure. */
void vmb_srv_gpadl_revoke(struct vmb_server *s, uint32_t relid)
{
	struct vmb_srv_gpadl *g;

	LIST_FOREACH(g, &s->chans[relid]->gpadls, chan_link)
	if (!vmb_srv_gpadl_complete(g) && !g->failed)
		fail_gpadl(s, g);
}

void vmb_srv_gpadl_finish_teardowns(struct vmb_server *s, uint32_t relid)
{
	struct vmb_srv_gpadl *g, *next;
	uint32_t handle;

	for (g = LIST_FIRST(&s->chans[relid]->gpadls); g; g = next) {
		next = LIST_NEXT(g, chan_link);
		if (!g->teardown_wait)
			continue;
		handle = g->handle;
		remove_gpadl(s, g);
		send_torndown(s, handle);
	}
}

void vmb_srv_gpadl_drop_relid(struct vmb_server *s, uint32_t relid)
{
	struct vmb_srv_gpadl_list *l = &s->chans[relid]->gpadls;

	while (!LIST_EMPTY(l))
		remove_gpadl(s, LIST_FIRST(l));
}

void vmb_srv_gpadl_drop_all(struct vmb_server *s)
{
	while (!LIST_EMPTY(&s->gpadls))
		remove_gpadl(s, LIST_FIRST(&s->gpadls));
}

/* Destroy: no callbacks, the owner is going away too. */
void vmb_srv_gpadl_free_all(struct vmb_server *s)
{
	while (!LIST_EMPTY(&s->gpadls))
		unlink_gpadl(s, LIST_FIRST(&s->gpadls));
}

uint64_t vmb_server_gpadl_bytes(const struct vmb_server *s)
{
	return s->gpadl_bytes;
}

unsigned vmb_server_gpadl_count(const struct vmb_server *s)
{
	return s->gpadl_count;
}

int vmb_server_gpadl(const struct vmb_server *s, uint32_t handle, struct vmb_gpadl_view *out)
{
	const struct vmb_srv_gpadl *g = vmb_srv_gpadl_find(s, handle);

	if (!g || !vmb_srv_gpadl_complete(g) || g->failed)
		return -ENOENT;
	out->handle = g->handle;
	out->relid = g->relid;
	out->count = g->total;
	out->pfns = g->pfns;
	out->byte_count = g->byte_count;
	out->byte_offset = g->byte_offset;
	return 0;
}
