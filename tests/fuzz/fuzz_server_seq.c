/*
 * Fuzz the host VMBus server with whole guest conversations.
 *
 * Input: one config byte, then records. A record byte L <= 240 is followed
 * by an L-byte G->H message (shorter if the input ends), posted on the
 * current connection id; a byte above 240 is a host-side action (see
 * act()), most of which take one argument byte.
 * Config byte: bits 0-3 pick max_version (index into vmb_versions, mod 11),
 * bit 4 offers every 6.0 feature, bits 5-7 pick a GPADL limit (0 = the
 * default, else n * 16 pages).
 *
 * After every step vmb_server_validate() must pass, every message the
 * server sent must pass vmb_msg_check() as host->guest traffic, and the
 * device callbacks must pair up (open/close per channel, no release of an
 * open channel).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/proto/hv.h"
#include "vmbus/server.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	ACT_OFFER = 241, /* arg: bits 0-3 instance, 4-5 sub-channel index, 6 monitor */
	ACT_RESCIND,	 /* arg: n-th channel */
	ACT_RESET,
	ACT_CONN,	/* arg: connection id for the following messages */
	ACT_OPEN_FAILS, /* arg: odd = the device refuses opens */
	ACT_GPADL,	/* args: relid, PFN count; a well-formed GPADL */
};

#define MAX_STEP_MSGS 4200

struct harness {
	struct vmb_server *s;
	bool open[VMBUS_MAX_RELID + 1];
	bool open_fails;
	uint32_t conn_id;
	uint32_t next_handle;
	unsigned nsent;
	size_t sent_len[MAX_STEP_MSGS];
	uint8_t sent[MAX_STEP_MSGS][VMBUS_MAX_MESSAGE_SIZE];
};

static void h_send(void *ctx, uint32_t vp, uint32_t sint, const void *msg, size_t len)
{
	struct harness *h = ctx;

	REQUIRE(vp < 4 && sint < HV_SYNIC_SINT_COUNT);
	REQUIRE(len >= 8 && len <= VMBUS_MAX_MESSAGE_SIZE);
	REQUIRE(h->nsent < MAX_STEP_MSGS);
	memcpy(h->sent[h->nsent], msg, len);
	h->sent_len[h->nsent++] = len;
}

static uint32_t h_open(void *ctx, struct vmb_server_channel *ch, const struct vmb_open_params *p)
{
	struct harness *h = ctx;
	uint32_t relid = vmb_srv_chan_relid(ch);
	struct vmb_gpadl_view v;

	REQUIRE(!h->open[relid]);
	REQUIRE(vmb_server_gpadl(h->s, p->gpadl, &v) == 0 && v.relid == relid);
	REQUIRE(p->downstream_pages >= 2 && p->downstream_pages + 2 <= v.count);
	REQUIRE(p->target_vp < 4);
	if (h->open_fails)
		return 0xc0000001u;
	h->open[relid] = true;
	return 0;
}

static void h_close(void *ctx, struct vmb_server_channel *ch)
{
	struct harness *h = ctx;
	uint32_t relid = vmb_srv_chan_relid(ch);

	REQUIRE(h->open[relid]);
	h->open[relid] = false;
}

static void h_retarget(void *ctx, struct vmb_server_channel *ch, uint32_t vp)
{
	struct harness *h = ctx;

	REQUIRE(h->open[vmb_srv_chan_relid(ch)] && vp < 4);
}

static void h_released(void *ctx, struct vmb_server_channel *ch)
{
	struct harness *h = ctx;

	REQUIRE(!h->open[vmb_srv_chan_relid(ch)]);
}

static void h_gpadl_removed(void *ctx, uint32_t handle)
{
	REQUIRE(handle != 0);
	(void)ctx;
}

static void h_log(void *ctx, const char *msg)
{
	(void)ctx;
	REQUIRE(strchr(msg, '\n') == NULL);
}

static const struct vmb_server_ops h_ops = {
    .send = h_send,
    .open = h_open,
    .close = h_close,
    .retarget = h_retarget,
    .gpadl_removed = h_gpadl_removed,
    .released = h_released,
    .log = h_log,
};

/* What the server sent must be valid host->guest traffic before or after the step. */
static void check_sent(struct harness *h, uint32_t v0, uint32_t f0)
{
	uint32_t v1 = vmb_server_version(h->s), f1 = vmb_server_features(h->s);
	unsigned i;

	for (i = 0; i < h->nsent; i++) {
		const uint8_t *m = h->sent[i];
		size_t len = h->sent_len[i];

		REQUIRE(vmb_msg_check(m, len, VMB_H2G, v0, f0, NULL, 0) >= 0 ||
			vmb_msg_check(m, len, VMB_H2G, v1, f1, NULL, 0) >= 0);
	}
	h->nsent = 0;
}

static void step_done(struct harness *h, uint32_t v0, uint32_t f0)
{
	REQUIRE(vmb_server_validate(h->s) == 0);
	check_sent(h, v0, f0);
}

static struct vmb_server_channel *nth_channel(struct harness *h, unsigned n)
{
	struct vmb_server_channel *ch = vmb_server_next(h->s, NULL), *first = ch;

	if (!ch)
		return NULL;
	while (n--) {
		ch = vmb_server_next(h->s, ch);
		if (!ch)
			ch = first;
	}
	return ch;
}

static void act_offer(struct harness *h, uint8_t arg)
{
	struct vmb_offer o;
	struct vmb_server_channel *ch;

	memset(&o, 0, sizeof(o));
	o.if_type.b[0] = 0x42;
	o.if_instance.b[0] = arg & 0x0f;
	o.sub_channel_index = (arg >> 4) & 3;
	o.monitor = arg & 0x40;
	(void)vmb_server_offer(h->s, &o, h, &ch);
}

static void act_gpadl(struct harness *h, uint8_t relid, uint8_t npfns)
{
	uint64_t pfns[256];
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	unsigned i, n = npfns ? npfns : 1;
	uint32_t v0, f0;

	for (i = 0; i < n; i++)
		pfns[i] = (uint64_t)relid * 0x100 + i;
	h->next_handle++;
	for (i = 0; i < vmb_gpadl_msg_count(n); i++) {
		size_t len = vmb_gpadl_build(buf, i, relid, h->next_handle, pfns, n);

		v0 = vmb_server_version(h->s);
		f0 = vmb_server_features(h->s);
		(void)vmb_server_recv(h->s, VMBUS_MESSAGE_CONNECTION_ID, buf, len);
		step_done(h, v0, f0);
	}
}

static const uint32_t conn_ids[] = {VMBUS_MESSAGE_CONNECTION_ID, VMBUS_MESSAGE_CONNECTION_ID_4,
				    0x800074, VMBUS_EVENT_CONNECTION_ID};

/* Host-side action at data[0]; returns the bytes it consumed. */
static size_t act(struct harness *h, const uint8_t *data, size_t size)
{
	uint8_t arg = size > 1 ? data[1] : 0;

	switch (data[0]) {
	case ACT_OFFER:
		act_offer(h, arg);
		return 2;
	case ACT_RESCIND:
		(void)vmb_server_rescind(h->s, nth_channel(h, arg));
		return 2;
	case ACT_RESET:
		vmb_server_reset(h->s);
		return 1;
	case ACT_CONN:
		h->conn_id = conn_ids[arg % 4];
		return 2;
	case ACT_OPEN_FAILS:
		h->open_fails = arg & 1;
		return 2;
	case ACT_GPADL:
		act_gpadl(h, arg, size > 2 ? data[2] : 1);
		return 3;
	default:
		return 1;
	}
}

/* Static: the sent-message log is 1 MiB, too big to allocate per input. */
static struct harness harness;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct harness *h = &harness;
	struct vmb_server_config cfg = {.guest_pages = 1u << 16, .vp_count = 4};
	size_t pos = 1, len;
	uint32_t v0, f0;

	memset(h->open, 0, sizeof(h->open));
	h->open_fails = false;
	h->nsent = 0;
	if (size > 0) {
		cfg.max_version = vmb_versions[(data[0] & 0x0f) % VMBUS_VERSION_COUNT];
		cfg.features = data[0] & 0x10 ? 0xff : 0;
		cfg.gpadl_limit = (uint64_t)(data[0] >> 5) * 16 * HV_PAGE_SIZE;
	}
	REQUIRE(vmb_server_create(&cfg, &h_ops, h, &h->s) == 0);
	h->conn_id = VMBUS_MESSAGE_CONNECTION_ID;
	h->next_handle = 0x10000;
	while (pos < size) {
		v0 = vmb_server_version(h->s);
		f0 = vmb_server_features(h->s);
		if (data[pos] > VMBUS_MAX_MESSAGE_SIZE) {
			pos += act(h, data + pos, size - pos);
		} else {
			len = data[pos++];
			if (len > size - pos)
				len = size - pos;
			(void)vmb_server_recv(h->s, h->conn_id, data + pos, len);
			pos += len;
		}
		step_done(h, v0, f0);
	}
	vmb_server_reset(h->s);
	step_done(h, 0, 0);
	for (len = 0; len <= VMBUS_MAX_RELID; len++)
		REQUIRE(!h->open[len]);
	vmb_server_destroy(h->s);
	return 0;
}
