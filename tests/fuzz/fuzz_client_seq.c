/*
 * Fuzz the guest VMBus client with whole host conversations.
 *
 * Input: one config byte, then records. A record byte L <= 240 is followed
 * by an L-byte H->G message (shorter if the input ends); a byte above 240
 * is a client call (see act()), some of which take one argument byte.
 * Config byte: bits 0-3 pick the newest version tried (index into
 * vmb_versions, mod 11), bit 4 asks for every 6.0 feature, bit 5 makes
 * connection 4 refuse posts (a pre-5.0 host).
 *
 * After every step vmb_client_validate() must pass, and every message the
 * client posted must pass vmb_msg_check() as guest->host traffic.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "client/client_impl.h"
#include "vmbus/client.h"
#include "vmbus/proto/hv.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

enum {
	ACT_OPEN = 241,
	ACT_GPADL,
	ACT_CLOSE,
	ACT_RELEASE,
	ACT_TEARDOWN,
	ACT_MODIFY,
	ACT_UNLOAD,
	ACT_CONNECT,
	ACT_REQUEST,
};

struct harness {
	struct vmb_client *c;
	uint32_t features;
	bool old_host;
};

static int h_post(void *ctx, uint32_t conn_id, const void *msg, size_t len)
{
	struct harness *h = ctx;
	const struct vmbus_channel_initiate_contact *ic = msg;
	uint32_t type = ic->header.msgtype, version = vmb_client_version(h->c), features = 0;
	char why[128] = "";

	/* Contact is checked as a pre-negotiation message, with its own flags. */
	if (type == CHANNELMSG_INITIATE_CONTACT) {
		version = 0;
		if (ic->vmbus_version_requested >= VERSION_COPPER)
			features = h->features;
	}
	if (vmb_msg_check(msg, len, VMB_G2H, version, features, why, sizeof(why)) != (int)type) {
		fprintf(stderr, "client posted a bad %s: %s\n", vmb_msg_name(type), why);
		abort();
	}
	REQUIRE(conn_id != 0 && conn_id <= HV_CONNECTION_ID_MASK);
	if (h->old_host && conn_id == VMBUS_MESSAGE_CONNECTION_ID_4)
		return HV_STATUS_INVALID_CONNECTION_ID;
	return HV_STATUS_SUCCESS;
}

static void h_log(void *ctx, const char *msg)
{
	(void)ctx;
	(void)msg;
}

static const struct vmb_client_ops h_ops = {
    .post = h_post,
    .log = h_log,
};

static struct vmb_client_channel *first_in(struct vmb_client *c, enum vmb_cli_chan_state s)
{
	struct vmb_client_channel *ch;

	for (ch = vmb_client_next(c, NULL); ch != NULL; ch = vmb_client_next(c, ch)) {
		if (vmb_cli_chan_state(ch) == s)
			return ch;
	}
	return NULL;
}

/* First GPADL of ch in state s (white box: the client's own table). */
static const struct vmb_cli_gpadl *gpadl_of(struct vmb_client *c, uint32_t relid,
					    enum vmb_cli_gpadl_state s)
{
	size_t i;

	for (i = 0; i < c->ngpadl; i++) {
		if (c->gpadl[i].relid == relid && c->gpadl[i].state == s)
			return &c->gpadl[i];
	}
	return NULL;
}

static void act_open(struct vmb_client *c)
{
	struct vmb_client_channel *ch = first_in(c, VMB_CCH_OFFERED);
	const struct vmb_cli_gpadl *g;
	int ret;

	if (ch == NULL)
		return;
	g = gpadl_of(c, vmb_cli_chan_offer(ch)->relid, VMB_CGP_READY);
	if (g == NULL)
		return;
	ret = vmb_client_open(c, ch, g->handle, 2, 1, "x", 1);
	REQUIRE(ret == 0 || vmb_client_state(c) == VMB_CLI_UNLOADING);
}

static void act_gpadl(struct vmb_client *c, uint8_t arg)
{
	static uint64_t pfns[256];
	struct vmb_client_channel *ch;
	uint32_t handle;
	size_t i;

	for (i = 0; i < 256; i++)
		pfns[i] = 0x1000 + i;
	for (ch = vmb_client_next(c, NULL); ch != NULL; ch = vmb_client_next(c, ch)) {
		if (vmb_cli_chan_state(ch) != VMB_CCH_RESCINDED)
			break;
	}
	if (ch != NULL)
		vmb_client_gpadl_create(c, ch, pfns, (size_t)arg + 1, &handle);
}

static void act_close(struct vmb_client *c)
{
	struct vmb_client_channel *ch;

	for (ch = vmb_client_next(c, NULL); ch != NULL; ch = vmb_client_next(c, ch)) {
		if (vmb_client_close(c, ch) == 0)
			return;
	}
}

static void act_release(struct vmb_client *c)
{
	struct vmb_client_channel *ch = first_in(c, VMB_CCH_RESCINDED);

	if (ch == NULL)
		return;
	vmb_client_close(c, ch);
	REQUIRE(vmb_client_release(c, ch) == 0);
}

static void act_teardown(struct vmb_client *c)
{
	struct vmb_client_channel *ch;
	const struct vmb_cli_gpadl *g;

	for (ch = vmb_client_next(c, NULL); ch != NULL; ch = vmb_client_next(c, ch)) {
		g = gpadl_of(c, vmb_cli_chan_offer(ch)->relid, VMB_CGP_READY);
		if (g != NULL) {
			REQUIRE(vmb_client_gpadl_teardown(c, ch, g->handle) == 0);
			return;
		}
	}
}

/* One client call; returns how many argument bytes it consumed. */
static size_t act(struct vmb_client *c, uint8_t op, const uint8_t *arg, size_t left)
{
	uint8_t a = left > 0 ? arg[0] : 0;

	switch (op) {
	case ACT_OPEN:
		act_open(c);
		return 0;
	case ACT_GPADL:
		act_gpadl(c, a);
		return left > 0;
	case ACT_CLOSE:
		act_close(c);
		return 0;
	case ACT_RELEASE:
		act_release(c);
		return 0;
	case ACT_TEARDOWN:
		act_teardown(c);
		return 0;
	case ACT_MODIFY: {
		struct vmb_client_channel *ch = first_in(c, VMB_CCH_OPEN);

		if (ch != NULL)
			vmb_client_modify(c, ch, a % 3u);
		return left > 0;
	}
	case ACT_UNLOAD:
		vmb_client_unload(c);
		return 0;
	case ACT_CONNECT:
		vmb_client_connect(c);
		return 0;
	case ACT_REQUEST:
		vmb_client_request_offers(c);
		return 0;
	default:
		return 0;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmb_client_config cfg = {.vp_count = 2, .interrupt_page = 0x3000};
	struct harness h = {0};
	size_t off = 1;

	if (size < 1)
		return 0;
	cfg.max_version = vmb_versions[(data[0] & 0x0f) % VMBUS_VERSION_COUNT];
	cfg.features = (data[0] & 0x10) ? 0xff : 0;
	h.features = cfg.features;
	h.old_host = (data[0] & 0x20) != 0;
	REQUIRE(vmb_client_create(&cfg, &h_ops, &h, &h.c) == 0);
	vmb_client_connect(h.c);
	REQUIRE(vmb_client_validate(h.c) == 0);
	while (off < size) {
		uint8_t b = data[off++];

		if (b <= VMBUS_MAX_MESSAGE_SIZE) {
			size_t len = b < size - off ? b : size - off;
			int ret = vmb_client_recv(h.c, data + off, len);

			REQUIRE(ret == 0 || ret == -EBADMSG || ret == -EPROTO);
			off += len;
		} else {
			off += act(h.c, b, data + off, size - off);
		}
		REQUIRE(vmb_client_validate(h.c) == 0);
	}
	vmb_client_destroy(h.c);
	return 0;
}
