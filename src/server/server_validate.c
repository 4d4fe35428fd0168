/*
 * Invariant checker, run after every step by tests and fuzzers. It reports
 * the first broken invariant; it never repairs anything.
 */
#include <errno.h>
#include <string.h>

#include "server/server_priv.h"
#include "vmbus/proto/hv.h"

#define BROKEN(s, ...) (vmb_srv_log((s), "vmbus server: invariant: " __VA_ARGS__), -EFAULT)

/*
 * Fuzzers run this after every message: empty runs of table slots are
 * skipped with one memcmp() per block (a NULL pointer and an empty list
 * head are all-zero bits, as calloc() already assumes).
 */
#define SCAN_BLOCK 32
_Static_assert((VMBUS_MAX_RELID + 1) % SCAN_BLOCK == 0, "chans[] in whole blocks");
_Static_assert(VMB_SRV_GPADL_BUCKETS % SCAN_BLOCK == 0, "gpadl_hash[] in whole blocks");

static bool block_zero(const void *p, size_t len)
{
	static const char zero[SCAN_BLOCK * sizeof(struct vmb_srv_gpadl_list)];

	return memcmp(p, zero, len) == 0;
}

#define CHANS_EMPTY(s, r)  block_zero(&(s)->chans[r], SCAN_BLOCK * sizeof((s)->chans[0]))
#define BUCKETS_EMPTY(s, b) block_zero(&(s)->gpadl_hash[b], SCAN_BLOCK * sizeof((s)->gpadl_hash[0]))

/* The next relid above r with a channel, up to relid_top; 0 when none. */
static uint32_t next_chan(const struct vmb_server *s, uint32_t r)
{
	while (++r <= s->relid_top) {
		if (r % SCAN_BLOCK == 0 && CHANS_EMPTY(s, r))
			r += SCAN_BLOCK - 1;
		else if (s->chans[r])
			return r;
	}
	return 0;
}

static int check_channel(const struct vmb_server *s, const struct vmb_server_channel *ch,
			 uint32_t relid, uint64_t *monitors)
{
	const struct vmb_srv_gpadl *g;

	if (ch->relid != relid)
		return BROKEN(s, "relid %u stored in slot %u", ch->relid, relid);
	if (ch->monitor_id != VMB_SRV_NO_MONITOR) {
		if (ch->monitor_id >= VMB_SRV_MONITOR_IDS ||
		    (monitors[ch->monitor_id / 64] & (1ull << (ch->monitor_id % 64))))
			return BROKEN(s, "monitor id %u reused", ch->monitor_id);
		monitors[ch->monitor_id / 64] |= 1ull << (ch->monitor_id % 64);
	}
	if (s->state == VMB_SRV_DISCONNECTED && (ch->seen || ch->state != VMB_SCH_CLOSED))
		return BROKEN(s, "relid %u live while disconnected", relid);
	if (s->state == VMB_SRV_CONNECTED && ch->seen)
		return BROKEN(s, "relid %u offered before REQUESTOFFERS", relid);
	if (ch->state != VMB_SCH_CLOSED && !ch->seen)
		return BROKEN(s, "relid %u open or revoked but never offered", relid);
	if (ch->state != VMB_SCH_OPEN)
		return 0;
	g = vmb_srv_gpadl_find(s, ch->ring_gpadl);
	if (!g || !vmb_srv_gpadl_complete(g) || g->failed || g->relid != relid)
		return BROKEN(s, "relid %u open without its ring GPADL %#x", relid, ch->ring_gpadl);
	return 0;
}

static int check_channels(const struct vmb_server *s)
{
	uint64_t monitors[VMB_SRV_MONITOR_IDS / 64] = {0};
	uint32_t r;
	unsigned i, n = 0;
	int rc;

	if (s->chans[0])
		return BROKEN(s, "relid 0 in use");
	if (s->relid_top > VMBUS_MAX_RELID)
		return BROKEN(s, "relid_top %u", s->relid_top);
	/*
	 * Fuzzers run this after every message: scan only up to the highest
	 * relid handed out. The count catches a slot filled behind relid_top.
	 */
	for (r = next_chan(s, 0); r; r = next_chan(s, r)) {
		rc = check_channel(s, s->chans[r], r, monitors);
		if (rc)
			return rc;
		n++;
	}
	if (n != s->nchans)
		return BROKEN(s, "%u channels in the table, %u counted", n, s->nchans);
	for (i = 0; i < VMB_SRV_MONITOR_IDS / 64; i++)
		if (monitors[i] != s->monitor_used[i])
			return BROKEN(s, "monitor id bitmap out of step");
	return 0;
}

static int check_gpadl(const struct vmb_server *s, const struct vmb_srv_gpadl *g)
{
	const struct vmb_server_channel *ch;

	if (g->handle == 0 || g->total == 0 || g->received > g->total)
		return BROKEN(s, "GPADL %#x malformed", g->handle);
	/* The lookup returns the first of a handle's GPADLs: a second one fails here. */
	if (vmb_srv_gpadl_find(s, g->handle) != g)
		return BROKEN(s, "GPADL handle %#x twice or not hashed", g->handle);
	if (g->failed == (g->pfns != NULL))
		return BROKEN(s, "GPADL %#x failed state and PFNs disagree", g->handle);
	if (g->failed && vmb_srv_gpadl_complete(g))
		return BROKEN(s, "failed GPADL %#x kept after completion", g->handle);
	ch = g->relid && g->relid <= VMBUS_MAX_RELID ? s->chans[g->relid] : NULL;
	if (!ch || !ch->seen)
		return BROKEN(s, "GPADL %#x on unknown relid %u", g->handle, g->relid);
	if (g->teardown_wait && (ch->state != VMB_SCH_OPEN || ch->ring_gpadl != g->handle))
		return BROKEN(s, "GPADL %#x teardown deferred for no open ring", g->handle);
	return 0;
}

/*
 * The GPADLs of the main list are each found through their bucket; equal
 * counts then mean the buckets and the channel lists hold exactly them.
 */
static int check_indexes(const struct vmb_server *s)
{
	const struct vmb_srv_gpadl *g;
	unsigned nhash = 0, nchan = 0;
	uint32_t b, r;

	for (b = 0; b < VMB_SRV_GPADL_BUCKETS; b++) {
		if (b % SCAN_BLOCK == 0 && BUCKETS_EMPTY(s, b)) {
			b += SCAN_BLOCK - 1;
			continue;
		}
		LIST_FOREACH(g, &s->gpadl_hash[b], hash_link)
		{
			if (vmb_srv_gpadl_bucket(g->handle) != b)
				return BROKEN(s, "GPADL %#x in hash bucket %u", g->handle, b);
			nhash++;
		}
	}
	for (r = next_chan(s, 0); r; r = next_chan(s, r)) {
		LIST_FOREACH(g, &s->chans[r]->gpadls, chan_link)
		{
			if (g->relid != r || vmb_srv_gpadl_find(s, g->handle) != g)
				return BROKEN(s, "GPADL %#x of relid %u listed on relid %u",
					      g->handle, g->relid, r);
			nchan++;
		}
	}
	if (nhash != s->gpadl_count || nchan != s->gpadl_count)
		return BROKEN(s, "GPADLs: %u hashed, %u on channels, %u counted", nhash, nchan,
			      s->gpadl_count);
	return 0;
}

static int check_gpadls(const struct vmb_server *s)
{
	const struct vmb_srv_gpadl *g;
	uint64_t bytes = 0;
	unsigned n = 0;
	int rc;

	LIST_FOREACH(g, &s->gpadls, all_link)
	{
		rc = check_gpadl(s, g);
		if (rc)
			return rc;
		if (!g->failed)
			bytes += (uint64_t)g->total * HV_PAGE_SIZE;
		n++;
	}
	if (n != s->gpadl_count || bytes != s->gpadl_bytes)
		return BROKEN(s, "GPADL accounting: %u/%u, %llu/%llu bytes", n, s->gpadl_count,
			      (unsigned long long)bytes, (unsigned long long)s->gpadl_bytes);
	if (bytes > s->cfg.gpadl_limit)
		return BROKEN(s, "GPADL bytes %llu above the limit", (unsigned long long)bytes);
	if (s->state == VMB_SRV_DISCONNECTED && n)
		return BROKEN(s, "GPADLs while disconnected");
	return check_indexes(s);
}

static int check_connection(const struct vmb_server *s)
{
	if (s->state == VMB_SRV_DISCONNECTED) {
		if (s->version || s->features || s->paused || s->qlen)
			return BROKEN(s, "connection state left over while disconnected");
		return 0;
	}
	if (!vmb_version_known(s->version) || s->version > s->cfg.max_version)
		return BROKEN(s, "version %#x not allowed", s->version);
	if (s->features & ~s->cfg.features)
		return BROKEN(s, "features %#x not offered", s->features);
	if (s->target_vcpu >= s->cfg.vp_count || s->msg_sint >= HV_SYNIC_SINT_COUNT)
		return BROKEN(s, "message target vp %u sint %u", s->target_vcpu, s->msg_sint);
	if (!s->paused && s->qlen)
		return BROKEN(s, "messages queued while not paused");
	return 0;
}

int vmb_server_validate(const struct vmb_server *s)
{
	int rc = check_connection(s);

	if (!rc)
		rc = check_channels(s);
	if (!rc)
		rc = check_gpadls(s);
	return rc;
}
