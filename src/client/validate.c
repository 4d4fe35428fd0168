/*
 * Guest VMBus client: invariant checker run after every step by tests and
 * fuzzers.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "client/client_impl.h"

static int broken(const struct vmb_client *c, const char *what, uint32_t val)
{
	char buf[160];

	if (c->ops.log != NULL) {
		snprintf(buf, sizeof(buf), "vmbus client: invariant broken: %s (%u)", what, val);
		c->ops.log(c->ctx, buf);
	}
	return -EFAULT;
}

static bool has_channels_state(enum vmb_client_state s)
{
	return s == VMB_CLI_REQUESTED || s == VMB_CLI_READY || s == VMB_CLI_UNLOADING;
}

static int check_conn(const struct vmb_client *c)
{
	switch (c->state) {
	case VMB_CLI_CONTACTING:
		if (c->ver_idx >= VMBUS_VERSION_COUNT || vmb_versions[c->ver_idx] != c->version)
			return broken(c, "version being tried", c->version);
		return 0;
	case VMB_CLI_CONNECTED:
	case VMB_CLI_REQUESTED:
	case VMB_CLI_READY:
	case VMB_CLI_UNLOADING:
		if (!vmb_version_known(c->version))
			return broken(c, "unknown version", c->version);
		if (c->msg_conn_id == 0 || c->msg_conn_id > 0xffffffu ||
		    (c->version < VERSION_WIN10_V5 && c->msg_conn_id != 1))
			return broken(c, "message connection id", c->msg_conn_id);
		if (c->features & ~c->cfg.features)
			return broken(c, "features not asked for", c->features);
		return 0;
	case VMB_CLI_IDLE:
	case VMB_CLI_FAILED:
		return 0;
	}
	return broken(c, "client state", (uint32_t)c->state);
}

static int check_chan(const struct vmb_client *c, const struct vmb_client_channel *ch,
		      uint32_t relid)
{
	if (ch->offer.relid != relid)
		return broken(c, "channel filed under another relid", relid);
	switch (ch->state) {
	case VMB_CCH_OFFERED:
		if (ch->opened)
			return broken(c, "offered channel marked open", relid);
		break;
	case VMB_CCH_OPENING:
	case VMB_CCH_OPEN:
		if (!ch->opened)
			return broken(c, "open channel not marked open", relid);
		break;
	case VMB_CCH_RESCINDED:
		break;
	default:
		return broken(c, "channel state", (uint32_t)ch->state);
	}
	if (ch->modify_pending && c->version < VERSION_WIN10_V5_3)
		return broken(c, "modify pending before 5.3", relid);
	if (ch->target_vp >= c->cfg.vp_count)
		return broken(c, "target VP", ch->target_vp);
	return 0;
}

/* Slots are scanned a block at a time; the table is a whole number of blocks. */
#define SLOT_BLOCK 32
_Static_assert((VMBUS_MAX_RELID + 1) % SLOT_BLOCK == 0, "chan[] in whole blocks");

/* One memcmp() per block, not a test per slot (NULL is all-zero bits, as calloc() assumes). */
static bool block_empty(struct vmb_client_channel *const *slot)
{
	static struct vmb_client_channel *const none[SLOT_BLOCK];

	return memcmp(slot, none, sizeof(none)) == 0;
}

static int check_chans(const struct vmb_client *c)
{
	unsigned n = 0;
	uint32_t base, relid;
	int ret;

	if (c->chan[0] != NULL)
		return broken(c, "channel with relid 0", 0);
	if (c->relid_top > VMBUS_MAX_RELID)
		return broken(c, "relid_top", c->relid_top);
	/*
	 * Fuzzers run this after every message: scan only up to the highest
	 * relid filed, and skip empty blocks whole (relid_top is often near
	 * the top, and a test per slot was most of fuzz_client_seq's time).
	 * The count catches a slot filled behind relid_top.
	 */
	for (base = 0; base <= c->relid_top; base += SLOT_BLOCK) {
		if (block_empty(&c->chan[base]))
			continue;
		for (relid = base; relid < base + SLOT_BLOCK && relid <= c->relid_top; relid++) {
			if (c->chan[relid] == NULL)
				continue;
			ret = check_chan(c, c->chan[relid], relid);
			if (ret != 0)
				return ret;
			n++;
		}
	}
	if (n != c->nchan)
		return broken(c, "channel count", n);
	if (n != 0 && !has_channels_state(c->state))
		return broken(c, "channels while not connected", (uint32_t)c->state);
	return 0;
}

#define HANDLE_BITS 4096u

static int check_gpadls(const struct vmb_client *c)
{
	/*
	 * Handles must be unique. Comparing every pair was O(n^2) per message
	 * (fuzzers build hundreds of GPADLs): a bitmap of handle hashes finds
	 * the candidates in one pass, and only a hash seen before costs a
	 * lookup, which returns the first GPADL with that handle.
	 */
	uint64_t seen[HANDLE_BITS / 64] = {0};
	size_t i;

	for (i = 0; i < c->ngpadl; i++) {
		const struct vmb_cli_gpadl *g = &c->gpadl[i];
		uint32_t bit = g->handle % HANDLE_BITS;

		if (g->handle == 0)
			return broken(c, "GPADL handle 0", 0);
		if (vmb_client_find(c, g->relid) == NULL)
			return broken(c, "GPADL of unknown relid", g->relid);
		if (g->state != VMB_CGP_CREATING && g->state != VMB_CGP_READY &&
		    g->state != VMB_CGP_TEARING)
			return broken(c, "GPADL state", g->handle);
		if ((seen[bit / 64] >> (bit % 64) & 1) && vmb_cli_gpadl_find(c, g->handle) != g)
			return broken(c, "duplicate GPADL handle", g->handle);
		seen[bit / 64] |= 1ull << (bit % 64);
	}
	return 0;
}

int vmb_client_validate(const struct vmb_client *c)
{
	int ret = check_conn(c);

	if (ret == 0)
		ret = check_chans(c);
	if (ret == 0)
		ret = check_gpadls(c);
	return ret;
}
