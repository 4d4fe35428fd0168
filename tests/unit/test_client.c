/*
 * Guest VMBus client: table-driven tests against a scripted fake host.
 * Every posted message is recorded and decoded; every callback is logged;
 * vmb_client_validate() runs after every step.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client/client_impl.h"
#include "vmbus/client.h"
#include "vmbus/proto/hv.h"

#define MAX_POSTS     64
#define MSG_CONN_ID_5 0x123456u /* what our fake >= 5.0 host hands out */
#define FIRST_HANDLE  0xE1E10u

struct posted {
	uint32_t conn;
	size_t len;
	union vmb_cli_msg m;
};

struct fake {
	struct posted post[MAX_POSTS];
	unsigned npost;
	int post_status[MAX_POSTS]; /* status returned for post number i */
	uint32_t connected[4];
	unsigned nconnected;
	struct vmb_client_channel *offer[8];
	unsigned noffer, nall_offers, nunloaded, nlog;
	struct vmb_client_channel *rescinded;
	uint32_t created_handle, created_status, torndown;
	unsigned ncreated, ntorndown;
	struct vmb_client_channel *opened;
	uint32_t open_status;
	unsigned nopen_result, nmodify;
	int32_t modify_status;
	char last_log[256];
};

static struct fake F;

static int fk_post(void *ctx, uint32_t conn_id, const void *msg, size_t len)
{
	struct fake *f = ctx;
	struct posted *p;

	assert_true(f->npost < MAX_POSTS);
	assert_in_range(len, 8, VMBUS_MAX_MESSAGE_SIZE);
	p = &f->post[f->npost];
	memset(p, 0, sizeof(*p));
	p->conn = conn_id;
	p->len = len;
	memcpy(&p->m, msg, len);
	return f->post_status[f->npost++];
}

static void fk_connected(void *ctx, uint32_t version)
{
	struct fake *f = ctx;

	assert_true(f->nconnected < 4);
	f->connected[f->nconnected++] = version;
}

static void fk_offer(void *ctx, struct vmb_client_channel *ch)
{
	struct fake *f = ctx;

	assert_true(f->noffer < 8);
	f->offer[f->noffer++] = ch;
}

static void fk_all_offers(void *ctx)
{
	((struct fake *)ctx)->nall_offers++;
}

static void fk_rescind(void *ctx, struct vmb_client_channel *ch)
{
	((struct fake *)ctx)->rescinded = ch;
}

static void fk_gpadl_created(void *ctx, uint32_t handle, uint32_t status)
{
	struct fake *f = ctx;

	f->ncreated++;
	f->created_handle = handle;
	f->created_status = status;
}

static void fk_gpadl_torndown(void *ctx, uint32_t handle)
{
	struct fake *f = ctx;

	f->ntorndown++;
	f->torndown = handle;
}

static void fk_open_result(void *ctx, struct vmb_client_channel *ch, uint32_t status)
{
	struct fake *f = ctx;

	f->nopen_result++;
	f->opened = ch;
	f->open_status = status;
}

static void fk_modify_result(void *ctx, struct vmb_client_channel *ch, int32_t status)
{
	struct fake *f = ctx;

	(void)ch;
	f->nmodify++;
	f->modify_status = status;
}

static void fk_unloaded(void *ctx)
{
	((struct fake *)ctx)->nunloaded++;
}

static void fk_log(void *ctx, const char *msg)
{
	struct fake *f = ctx;

	f->nlog++;
	snprintf(f->last_log, sizeof(f->last_log), "%s", msg);
}

static const struct vmb_client_ops fk_ops = {
    .post = fk_post,
    .connected = fk_connected,
    .offer = fk_offer,
    .all_offers = fk_all_offers,
    .rescind = fk_rescind,
    .gpadl_created = fk_gpadl_created,
    .gpadl_torndown = fk_gpadl_torndown,
    .open_result = fk_open_result,
    .modify_result = fk_modify_result,
    .unloaded = fk_unloaded,
    .log = fk_log,
};

static const struct vmb_client_config base_cfg = {
    .target_vcpu = 1,
    .vp_count = 4,
    .interrupt_page = 0x7000,
    .monitor_page1 = 0x8000,
    .monitor_page2 = 0x9000,
};

static void valid(const struct vmb_client *c)
{
	assert_int_equal(vmb_client_validate(c), 0);
}

static const struct posted *last_post(void)
{
	assert_true(F.npost > 0);
	return &F.post[F.npost - 1];
}

static struct vmb_client *new_client(const struct vmb_client_config *cfg)
{
	struct vmb_client *c;

	memset(&F, 0, sizeof(F));
	assert_int_equal(vmb_client_create(cfg, &fk_ops, &F, &c), 0);
	valid(c);
	return c;
}

static int recv_msg(struct vmb_client *c, const void *m, size_t len)
{
	int ret = vmb_client_recv(c, m, len);

	valid(c);
	return ret;
}

/* ---- host message builders ---------------------------------------------- */

static int host_version(struct vmb_client *c, uint8_t ok, uint32_t conn, uint32_t feat, size_t len)
{
	struct vmbus_channel_version_response r;

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_VERSION_RESPONSE);
	r.version_supported = ok;
	r.msg_conn_id = conn;
	r.supported_features = feat;
	return recv_msg(c, &r, len);
}

static int host_offer_len(struct vmb_client *c, uint32_t relid, uint16_t sub, uint32_t conn,
			  size_t len)
{
	struct vmbus_channel_offer_channel o;

	vmb_msg_init(&o, sizeof(o), CHANNELMSG_OFFERCHANNEL);
	o.if_type.b[0] = 0xAA;
	o.if_instance.b[0] = (uint8_t)relid;
	o.if_instance.b[1] = (uint8_t)sub;
	o.chn_flags = VMBUS_CHANNEL_NAMED_PIPE_MODE;
	o.user_def[0] = 4;
	o.sub_channel_index = sub;
	o.child_relid = relid;
	o.monitorid = 5;
	o.monitor_allocated = 1;
	o.is_dedicated_interrupt = conn != 0;
	o.connection_id = conn;
	return recv_msg(c, &o, len);
}

static int host_offer(struct vmb_client *c, uint32_t relid, uint16_t sub)
{
	return host_offer_len(c, relid, sub, 0x1000 + relid,
			      sizeof(struct vmbus_channel_offer_channel));
}

static int host_header(struct vmb_client *c, uint32_t type)
{
	struct vmbus_channel_message_header h;

	vmb_msg_init(&h, sizeof(h), type);
	return recv_msg(c, &h, sizeof(h));
}

static int host_relid_msg(struct vmb_client *c, uint32_t type, uint32_t relid)
{
	struct vmbus_channel_relid_msg m;

	vmb_msg_init(&m, sizeof(m), type);
	m.child_relid = relid;
	return recv_msg(c, &m, sizeof(m));
}

static int host_gpadl_created(struct vmb_client *c, uint32_t relid, uint32_t handle,
			      uint32_t status)
{
	struct vmbus_channel_gpadl_created m;

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_GPADL_CREATED);
	m.child_relid = relid;
	m.gpadl = handle;
	m.creation_status = status;
	return recv_msg(c, &m, sizeof(m));
}

static int host_gpadl_torndown(struct vmb_client *c, uint32_t handle)
{
	struct vmbus_channel_gpadl_torndown m;

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_GPADL_TORNDOWN);
	m.gpadl = handle;
	return recv_msg(c, &m, sizeof(m));
}

static int host_open_result(struct vmb_client *c, uint32_t relid, uint32_t openid, uint32_t status)
{
	struct vmbus_channel_open_result m;

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_OPENCHANNEL_RESULT);
	m.child_relid = relid;
	m.openid = openid;
	m.status = status;
	return recv_msg(c, &m, sizeof(m));
}

static int host_modify_resp(struct vmb_client *c, uint32_t relid, int32_t status)
{
	struct vmbus_channel_modifychannel_response m;

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_MODIFYCHANNEL_RESPONSE);
	m.child_relid = relid;
	m.status = status;
	return recv_msg(c, &m, sizeof(m));
}

/* ---- composite steps ------------------------------------------------------ */

static uint32_t expected_conn(uint32_t version)
{
	return version >= VERSION_WIN10_V5 ? MSG_CONN_ID_5 : VMBUS_MESSAGE_CONNECTION_ID;
}

/* A client negotiated at exactly `version` with offers requested. */
static struct vmb_client *connected_at(uint32_t version, uint32_t features)
{
	struct vmb_client_config cfg = base_cfg;
	struct vmb_client *c;

	cfg.max_version = version;
	cfg.features = features;
	c = new_client(&cfg);
	assert_int_equal(vmb_client_connect(c), 0);
	valid(c);
	assert_int_equal(host_version(c, 1, MSG_CONN_ID_5, features, 40), 0);
	assert_int_equal(vmb_client_state(c), VMB_CLI_REQUESTED);
	assert_int_equal(vmb_client_version(c), version);
	return c;
}

static struct vmb_client_channel *offered(struct vmb_client *c, uint32_t relid)
{
	assert_int_equal(host_offer(c, relid, 0), 0);
	assert_non_null(vmb_client_find(c, relid));
	return vmb_client_find(c, relid);
}

static uint32_t ready_gpadl(struct vmb_client *c, struct vmb_client_channel *ch)
{
	uint64_t pfns[4] = {0x100, 0x101, 0x102, 0x103};
	uint32_t h;

	assert_int_equal(vmb_client_gpadl_create(c, ch, pfns, 4, &h), 0);
	valid(c);
	assert_int_equal(host_gpadl_created(c, ch->offer.relid, h, 0), 0);
	return h;
}

static void open_to(struct vmb_client *c, struct vmb_client_channel *ch, enum vmb_cli_chan_state to)
{
	uint32_t h;

	if (to == VMB_CCH_OFFERED)
		return;
	h = ready_gpadl(c, ch);
	assert_int_equal(vmb_client_open(c, ch, h, 2, 1, NULL, 0), 0);
	valid(c);
	if (to == VMB_CCH_OPEN)
		assert_int_equal(host_open_result(c, ch->offer.relid, ch->offer.relid, 0), 0);
	assert_int_equal(vmb_cli_chan_state(ch), to);
}

/* ---- negotiation ------------------------------------------------------ */

static void check_contact(const struct posted *p, uint32_t v, const struct vmb_client_config *cfg)
{
	const struct vmbus_channel_initiate_contact *ic = &p->m.contact;

	assert_int_equal(ic->header.msgtype, CHANNELMSG_INITIATE_CONTACT);
	assert_int_equal(ic->vmbus_version_requested, v);
	assert_int_equal(ic->target_vcpu, v >= VERSION_WIN8_1 ? cfg->target_vcpu : 0);
	assert_int_equal(ic->monitor_page1, cfg->monitor_page1);
	assert_int_equal(ic->monitor_page2, cfg->monitor_page2);
	if (v < VERSION_WIN10_V5) {
		assert_int_equal(p->conn, VMBUS_MESSAGE_CONNECTION_ID);
		assert_int_equal(ic->interrupt_page, cfg->interrupt_page);
	} else {
		assert_int_equal(p->conn, VMBUS_MESSAGE_CONNECTION_ID_4);
		assert_int_equal(ic->msg_sint, VMBUS_MESSAGE_SINT);
		assert_int_equal(ic->msg_vtl, 0);
		assert_int_equal(ic->feature_flags, v >= VERSION_COPPER ? cfg->features : 0);
	}
	assert_int_equal(p->len, 40);
}

/* The host accepts exactly one version: the client walks the whole list. */
static void test_negotiate_each_version(void **state)
{
	unsigned k, i;

	(void)state;
	for (k = 0; k < VMBUS_VERSION_COUNT; k++) {
		uint32_t want = vmb_versions[k];
		struct vmb_client_config cfg = base_cfg;
		struct vmb_client *c;

		cfg.features = VMBUS_FEATURE_PAUSE_RESUME;
		c = new_client(&cfg);
		assert_int_equal(vmb_client_connect(c), 0);
		valid(c);
		for (i = 0; i < k; i++) {
			check_contact(last_post(), vmb_versions[i], &cfg);
			assert_int_equal(host_version(c, 0, 0, 0, 16), 0);
			assert_int_equal(vmb_client_state(c), VMB_CLI_CONTACTING);
		}
		assert_int_equal(F.npost, k + 1);
		check_contact(last_post(), want, &cfg);
		assert_int_equal(F.nconnected, 0);
		assert_int_equal(
		    host_version(c, 1, MSG_CONN_ID_5, 0, want >= VERSION_COPPER ? 20 : 16), 0);
		assert_int_equal(F.nconnected, 1);
		assert_int_equal(F.connected[0], want);
		assert_int_equal(vmb_client_version(c), want);
		assert_int_equal(vmb_client_msg_conn_id(c), expected_conn(want));
		/* REQUESTOFFERS and everything later use the agreed connection. */
		assert_int_equal(F.npost, k + 2);
		assert_int_equal(last_post()->m.hdr.msgtype, CHANNELMSG_REQUESTOFFERS);
		assert_int_equal(last_post()->len, 8);
		assert_int_equal(last_post()->conn, expected_conn(want));
		assert_int_equal(vmb_client_state(c), VMB_CLI_REQUESTED);
		assert_int_equal(vmb_client_unload(c), 0);
		valid(c);
		assert_int_equal(last_post()->m.hdr.msgtype, CHANNELMSG_UNLOAD);
		assert_int_equal(last_post()->conn, expected_conn(want));
		vmb_client_destroy(c);
	}
}

static void test_negotiate_none(void **state)
{
	struct vmb_client *c = new_client(&base_cfg);
	unsigned i;

	(void)state;
	assert_int_equal(vmb_client_connect(c), 0);
	for (i = 0; i < VMBUS_VERSION_COUNT; i++) {
		assert_int_equal(last_post()->m.contact.vmbus_version_requested, vmb_versions[i]);
		assert_int_equal(host_version(c, 0, 0, 0, 16), 0);
	}
	assert_int_equal(F.npost, VMBUS_VERSION_COUNT);
	assert_int_equal(vmb_client_state(c), VMB_CLI_FAILED);
	assert_int_equal(F.nconnected, 1);
	assert_int_equal(F.connected[0], 0);
	assert_int_equal(vmb_client_version(c), 0);
	/* A late answer is not believed. */
	assert_int_equal(host_version(c, 1, 1, 0, 16), -EPROTO);
	assert_int_equal(vmb_client_state(c), VMB_CLI_FAILED);
	/* FAILED may retry. */
	assert_int_equal(vmb_client_connect(c), 0);
	assert_int_equal(vmb_client_state(c), VMB_CLI_CONTACTING);
	vmb_client_destroy(c);
}

static void test_negotiate_window(void **state)
{
	struct vmb_client_config cfg = base_cfg;
	struct vmb_client *c;

	(void)state;
	cfg.max_version = VERSION_WIN10_V5_3;
	cfg.min_version = VERSION_WIN8;
	c = new_client(&cfg);
	assert_int_equal(vmb_client_connect(c), 0);
	assert_int_equal(last_post()->m.contact.vmbus_version_requested, VERSION_WIN10_V5_3);
	while (vmb_client_state(c) == VMB_CLI_CONTACTING)
		assert_int_equal(host_version(c, 0, 0, 0, 16), 0);
	/* 5.3, 5.2, 5.1, 5.0, 4.1, 4.0, 3.0, 2.4: the Linux list. */
	assert_int_equal(F.npost, 8);
	assert_int_equal(F.post[7].m.contact.vmbus_version_requested, VERSION_WIN8);
	assert_int_equal(vmb_client_state(c), VMB_CLI_FAILED);
	vmb_client_destroy(c);
}

/* A host without the 5.0 port refuses connection 4 at the hypercall. */
static void test_negotiate_invalid_conn_id(void **state)
{
	struct vmb_client *c;
	unsigned i;

	(void)state;
	c = new_client(&base_cfg);
	for (i = 0; i < 5; i++)
		F.post_status[i] = HV_STATUS_INVALID_CONNECTION_ID;
	assert_int_equal(vmb_client_connect(c), 0);
	valid(c);
	assert_int_equal(F.npost, 6);
	assert_int_equal(F.post[4].conn, VMBUS_MESSAGE_CONNECTION_ID_4);
	check_contact(&F.post[5], VERSION_WIN10_V4_1, &base_cfg);
	assert_int_equal(host_version(c, 1, 0, 0, 16), 0);
	assert_int_equal(vmb_client_msg_conn_id(c), VMBUS_MESSAGE_CONNECTION_ID);
	vmb_client_destroy(c);

	/* Every post refused: no version left. */
	c = new_client(&base_cfg);
	for (i = 0; i < VMBUS_VERSION_COUNT; i++)
		F.post_status[i] = HV_STATUS_INVALID_CONNECTION_ID;
	assert_int_equal(vmb_client_connect(c), -ECONNREFUSED);
	assert_int_equal(vmb_client_state(c), VMB_CLI_FAILED);
	assert_int_equal(F.connected[0], 0);
	valid(c);
	vmb_client_destroy(c);

	/* Any other hypercall failure stops at once. */
	c = new_client(&base_cfg);
	F.post_status[0] = HV_STATUS_INSUFFICIENT_MEMORY;
	assert_int_equal(vmb_client_connect(c), -EIO);
	assert_int_equal(F.npost, 1);
	assert_int_equal(vmb_client_state(c), VMB_CLI_FAILED);
	vmb_client_destroy(c);
}

struct bad_version_case {
	const char *name;
	uint32_t version;
	uint8_t supported;
	uint32_t conn, features;
	size_t len;
	int ret;
	enum vmb_client_state after;
};

static void test_version_response_checks(void **state)
{
	static const struct bad_version_case cases[] = {
	    {"conn id 0", VERSION_WIN10_V5, 1, 0, 0, 16, -EPROTO, VMB_CLI_FAILED},
	    {"conn id > 24 bits", VERSION_WIN10_V5_3, 1, 0x1000000, 0, 16, -EPROTO, VMB_CLI_FAILED},
	    {"conn id ignored < 5.0", VERSION_WIN10_V4_1, 1, 0, 0, 16, 0, VMB_CLI_REQUESTED},
	    {"features not asked", VERSION_COPPER, 1, 1, 0x3, 20, -EPROTO, VMB_CLI_FAILED},
	    {"features subset", VERSION_COPPER, 1, 1, 0x1, 20, 0, VMB_CLI_REQUESTED},
	    {"6.0 short", VERSION_COPPER, 1, 1, 0, 16, -EBADMSG, VMB_CLI_FAILED},
	    {"supported 2", VERSION_WIN10, 2, 1, 0, 16, -EBADMSG, VMB_CLI_CONTACTING},
	    {"too short", VERSION_WIN10, 1, 1, 0, 15, -EBADMSG, VMB_CLI_CONTACTING},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct bad_version_case *t = &cases[i];
		struct vmb_client_config cfg = base_cfg;
		struct vmb_client *c;

		cfg.max_version = t->version;
		cfg.features = 0x5;
		c = new_client(&cfg);
		assert_int_equal(vmb_client_connect(c), 0);
		F.nlog = 0;
		print_message("case %s\n", t->name);
		assert_int_equal(host_version(c, t->supported, t->conn, t->features, t->len),
				 t->ret);
		assert_int_equal(vmb_client_state(c), t->after);
		if (t->ret != 0)
			assert_int_equal(F.nlog, 1);
		if (t->after == VMB_CLI_FAILED)
			assert_int_equal(F.connected[0], 0);
		vmb_client_destroy(c);
	}
}

/* From 2.4 connection_state is meaningful even when the version is accepted. */
static void test_version_connection_failed(void **state)
{
	struct vmbus_channel_version_response r;
	struct vmb_client_config cfg = base_cfg;
	struct vmb_client *c;

	(void)state;
	cfg.max_version = VERSION_WIN8;
	c = new_client(&cfg);
	assert_int_equal(vmb_client_connect(c), 0);
	vmb_msg_init(&r, sizeof(r), CHANNELMSG_VERSION_RESPONSE);
	r.version_supported = 1;
	r.connection_state = VMBUS_CONNECTION_FAILED_LOW_RESOURCES;
	assert_int_equal(recv_msg(c, &r, 16), 0);
	assert_int_equal(vmb_client_state(c), VMB_CLI_FAILED);
	assert_int_equal(F.nconnected, 1);
	assert_int_equal(F.connected[0], 0);
	assert_int_equal(F.npost, 1);
	vmb_client_destroy(c);

	/* Below 2.4 the field is garbage and ignored. */
	cfg.max_version = VERSION_WIN7;
	c = new_client(&cfg);
	assert_int_equal(vmb_client_connect(c), 0);
	assert_int_equal(recv_msg(c, &r, 16), 0);
	assert_int_equal(vmb_client_state(c), VMB_CLI_REQUESTED);
	vmb_client_destroy(c);
}

static void test_contact_client_id(void **state)
{
	struct vmb_client_config cfg = base_cfg;
	struct vmb_client *c;

	(void)state;
	cfg.features = VMBUS_FEATURE_CLIENT_ID;
	cfg.client_id.b[0] = 0x42;
	cfg.client_id.b[15] = 0x24;
	c = new_client(&cfg);
	assert_int_equal(vmb_client_connect(c), 0);
	assert_int_equal(last_post()->len, 56);
	assert_int_equal(last_post()->m.contact.feature_flags, VMBUS_FEATURE_CLIENT_ID);
	assert_memory_equal(&last_post()->m.contact.client_id, &cfg.client_id, 16);
	vmb_client_destroy(c);
}

static void test_create_rejects_bad_config(void **state)
{
	struct vmb_client_config cfg = base_cfg;
	struct vmb_client *c;

	(void)state;
	cfg.target_vcpu = 4;
	assert_int_equal(vmb_client_create(&cfg, &fk_ops, &F, &c), -EINVAL);
	cfg = base_cfg;
	cfg.monitor_page2 = 0;
	assert_int_equal(vmb_client_create(&cfg, &fk_ops, &F, &c), -EINVAL);
	assert_int_equal(vmb_client_create(&base_cfg, NULL, &F, &c), -EINVAL);
}

/* ---- offers ------------------------------------------------------------- */

static void test_offers(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	const struct vmb_client_offer *o;
	struct vmb_client_channel *ch;

	(void)state;
	assert_int_equal(host_offer(c, 7, 0), 0);
	assert_int_equal(F.noffer, 1);
	ch = F.offer[0];
	assert_ptr_equal(vmb_client_find(c, 7), ch);
	o = vmb_cli_chan_offer(ch);
	assert_int_equal(o->relid, 7);
	assert_int_equal(o->if_type.b[0], 0xAA);
	assert_int_equal(o->chn_flags, VMBUS_CHANNEL_NAMED_PIPE_MODE);
	assert_int_equal(o->user_def[0], 4);
	assert_int_equal(o->monitor_id, 5);
	assert_true(o->monitor_allocated);
	assert_true(o->dedicated_interrupt);
	assert_int_equal(vmb_cli_chan_signal_conn(ch), 0x1007);
	assert_int_equal(vmb_cli_chan_state(ch), VMB_CCH_OFFERED);

	/* Sub-channel of the same device. */
	assert_int_equal(host_offer(c, 8, 1), 0);
	assert_int_equal(vmb_client_find(c, 8)->offer.sub_channel_index, 1);

	/* Duplicate relid: the first offer stays. */
	F.nlog = 0;
	assert_int_equal(host_offer_len(c, 7, 3, 0x55, 196), -EPROTO);
	assert_int_equal(F.nlog, 1);
	assert_int_equal(vmb_client_find(c, 7)->offer.sub_channel_index, 0);
	assert_int_equal(F.noffer, 2);

	/* Short, out-of-range relids, bad connection / monitor id. */
	assert_int_equal(host_offer_len(c, 9, 0, 0x9, 195), -EBADMSG);
	assert_int_equal(host_offer(c, 0, 0), -EBADMSG);
	assert_int_equal(host_offer(c, VMBUS_MAX_RELID + 1, 0), -EBADMSG);
	assert_int_equal(host_offer_len(c, 9, 0, 0x1000000, 196), -EBADMSG);
	assert_null(vmb_client_find(c, 9));
	assert_int_equal(F.noffer, 2);

	assert_int_equal(host_header(c, CHANNELMSG_ALLOFFERS_DELIVERED), 0);
	assert_int_equal(F.nall_offers, 1);
	assert_int_equal(vmb_client_state(c), VMB_CLI_READY);
	assert_int_equal(host_header(c, CHANNELMSG_ALLOFFERS_DELIVERED), -EPROTO);
	assert_int_equal(F.nall_offers, 1);

	/* Hot-add after the initial batch; non-dedicated falls back to conn 2. */
	assert_int_equal(host_offer_len(c, VMBUS_MAX_RELID, 0, 0, 196), 0);
	ch = vmb_client_find(c, VMBUS_MAX_RELID);
	assert_false(ch->offer.dedicated_interrupt);
	assert_int_equal(vmb_cli_chan_signal_conn(ch), VMBUS_EVENT_CONNECTION_ID);

	assert_ptr_equal(vmb_client_next(c, NULL), vmb_client_find(c, 7));
	assert_ptr_equal(vmb_client_next(c, vmb_client_find(c, 7)), vmb_client_find(c, 8));
	assert_ptr_equal(vmb_client_next(c, vmb_client_find(c, 8)), ch);
	assert_null(vmb_client_next(c, ch));
	vmb_client_destroy(c);
}

static void test_offer_bad_monitor(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmbus_channel_offer_channel o;

	(void)state;
	vmb_msg_init(&o, sizeof(o), CHANNELMSG_OFFERCHANNEL);
	o.child_relid = 3;
	o.monitor_allocated = 1;
	o.monitorid = 128;
	assert_int_equal(recv_msg(c, &o, sizeof(o)), -EBADMSG);
	/* Without monitor_allocated the id is meaningless and reported as none. */
	o.monitor_allocated = 0;
	assert_int_equal(recv_msg(c, &o, sizeof(o)), 0);
	assert_int_equal(vmb_client_find(c, 3)->offer.monitor_id, 0xff);
	vmb_client_destroy(c);
}

static void test_offer_versions(void **state)
{
	struct vmb_client *c;
	struct vmb_client_channel *ch;

	(void)state;
	/* 0.13: 190 bytes, no Win7 fields, legacy signalling. */
	c = connected_at(VERSION_WS2008, 0);
	assert_int_equal(host_offer_len(c, 4, 0, 0x99, 190), 0);
	ch = vmb_client_find(c, 4);
	assert_false(ch->offer.dedicated_interrupt);
	assert_int_equal(ch->offer.connection_id, VMBUS_EVENT_CONNECTION_ID);
	assert_int_equal(vmb_cli_chan_signal_conn(ch), VMBUS_EVENT_CONNECTION_ID);
	/* Even a 196-byte offer at 0.13 carries no Win7 fields. */
	assert_int_equal(host_offer_len(c, 5, 0, 0x99, 196), 0);
	assert_int_equal(vmb_cli_chan_signal_conn(vmb_client_find(c, 5)),
			 VMBUS_EVENT_CONNECTION_ID);
	assert_int_equal(host_offer(c, 6, 1), -EBADMSG);
	vmb_client_destroy(c);

	/* 1.1: 196 bytes required, sub-channels still invalid. */
	c = connected_at(VERSION_WIN7, 0);
	assert_int_equal(host_offer_len(c, 4, 0, 0x99, 190), -EBADMSG);
	assert_int_equal(host_offer(c, 5, 1), -EBADMSG);
	assert_int_equal(host_offer_len(c, 4, 0, 0x99, 196), 0);
	assert_int_equal(vmb_cli_chan_signal_conn(vmb_client_find(c, 4)), 0x99);
	vmb_client_destroy(c);

	/* 2.4: sub-channels. */
	c = connected_at(VERSION_WIN8, 0);
	assert_int_equal(host_offer(c, 5, 1), 0);
	vmb_client_destroy(c);
}

static void test_offer_before_request(void **state)
{
	struct vmb_client *c = new_client(&base_cfg);

	(void)state;
	assert_int_equal(vmb_client_connect(c), 0);
	/* Before a version is agreed an offer is not even a valid message. */
	assert_int_equal(host_offer(c, 1, 0), -EBADMSG);
	assert_int_equal(host_header(c, CHANNELMSG_ALLOFFERS_DELIVERED), -EBADMSG);
	/* Agreed but REQUESTOFFERS could not be posted: still CONNECTED. */
	F.post_status[1] = HV_STATUS_INSUFFICIENT_MEMORY;
	assert_int_equal(host_version(c, 1, 7, 0, 40), 0);
	assert_int_equal(vmb_client_state(c), VMB_CLI_CONNECTED);
	assert_int_equal(host_offer(c, 1, 0), -EPROTO);
	assert_int_equal(host_header(c, CHANNELMSG_ALLOFFERS_DELIVERED), -EPROTO);
	assert_int_equal(vmb_client_request_offers(c), 0);
	assert_int_equal(vmb_client_state(c), VMB_CLI_REQUESTED);
	assert_int_equal(last_post()->conn, 7);
	assert_int_equal(vmb_client_request_offers(c), -EINVAL);
	vmb_client_destroy(c);
}

/* ---- GPADLs ------------------------------------------------------------- */

struct gpadl_case {
	size_t npfns;
	unsigned nmsg;
	size_t len[4];
};

static void check_gpadl_msgs(const struct gpadl_case *t, unsigned first, uint32_t relid,
			     uint32_t handle, const uint64_t *pfns)
{
	const struct vmbus_channel_gpadl_header *h = (const void *)&F.post[first].m;
	struct vmbus_gpa_range r;
	size_t done, n, i;
	unsigned k;

	assert_int_equal(F.npost, first + t->nmsg);
	assert_int_equal(h->header.msgtype, CHANNELMSG_GPADL_HEADER);
	assert_int_equal(h->child_relid, relid);
	assert_int_equal(h->gpadl, handle);
	assert_int_equal(h->rangecount, 1);
	assert_int_equal(h->range_buflen, 8 + 8 * t->npfns);
	memcpy(&r, h->range, sizeof(r));
	assert_int_equal(r.byte_count, t->npfns * HV_PAGE_SIZE);
	assert_int_equal(r.byte_offset, 0);
	n = t->npfns < 26 ? t->npfns : 26;
	assert_memory_equal(h->range + 8, pfns, n * 8);
	done = n;
	for (k = 0; k < t->nmsg; k++) {
		const struct posted *p = &F.post[first + k];

		assert_int_equal(p->len, t->len[k]);
		assert_int_equal(p->conn, MSG_CONN_ID_5);
		if (k == 0)
			continue;
		assert_int_equal(p->m.hdr.msgtype, CHANNELMSG_GPADL_BODY);
		{
			const struct vmbus_channel_gpadl_body *b = (const void *)&p->m;

			assert_int_equal(b->gpadl, handle);
			n = (p->len - 16) / 8;
			for (i = 0; i < n; i++)
				assert_int_equal(b->pfn[i], pfns[done + i]);
			done += n;
		}
	}
	assert_int_equal(done, t->npfns);
}

static void test_gpadl_split(void **state)
{
	static const struct gpadl_case cases[] = {
	    {1, 1, {36}},
	    {26, 1, {236}},
	    {27, 2, {236, 24}},
	    {100, 4, {236, 240, 240, 160}},
	};
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *ch = offered(c, 3);
	uint64_t pfns[100];
	uint32_t h, want = FIRST_HANDLE;
	size_t i;

	(void)state;
	for (i = 0; i < 100; i++)
		pfns[i] = 0x5000 + i * 3;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned first = F.npost;

		assert_int_equal(vmb_client_gpadl_create(c, ch, pfns, cases[i].npfns, &h), 0);
		valid(c);
		assert_int_equal(h, want++);
		check_gpadl_msgs(&cases[i], first, 3, h, pfns);
	}
	assert_int_equal(vmb_client_gpadl_create(c, ch, pfns, 0, &h), -EINVAL);
	assert_int_equal(vmb_client_gpadl_create(c, ch, NULL, 1, &h), -EINVAL);
	vmb_client_destroy(c);
}

static void test_gpadl_handles(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *ch = offered(c, 3);
	uint64_t pfn = 0x10;
	uint32_t h1, h2, h3;

	(void)state;
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h1), 0);
	assert_int_equal(h1, FIRST_HANDLE);
	/* Wrap-around skips 0 and handles still in use. */
	c->next_gpadl = 0xffffffffu;
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h2), 0);
	assert_int_equal(h2, 0xffffffffu);
	c->next_gpadl = 0;
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h3), 0);
	assert_int_equal(h3, 1);
	c->next_gpadl = FIRST_HANDLE;
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h3), 0);
	assert_int_equal(h3, FIRST_HANDLE + 1);
	valid(c);
	vmb_client_destroy(c);
}

static void test_gpadl_created(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *a = offered(c, 3), *b = offered(c, 4);
	uint64_t pfn = 0x10;
	uint32_t h, h2;

	(void)state;
	assert_int_equal(vmb_client_gpadl_create(c, a, &pfn, 1, &h), 0);
	/* Unknown handle, right handle on the wrong relid. */
	assert_int_equal(host_gpadl_created(c, 3, h + 7, 0), -EPROTO);
	assert_int_equal(host_gpadl_created(c, 4, h, 0), -EPROTO);
	assert_int_equal(F.ncreated, 0);
	/* Teardown of a GPADL still being created is invalid. */
	assert_int_equal(vmb_client_gpadl_teardown(c, a, h), -EINVAL);
	assert_int_equal(host_gpadl_created(c, 3, h, 0), 0);
	assert_int_equal(F.ncreated, 1);
	assert_int_equal(F.created_handle, h);
	assert_int_equal(F.created_status, 0);
	/* A second answer is unsolicited. */
	assert_int_equal(host_gpadl_created(c, 3, h, 0), -EPROTO);
	/* Not torn down yet: TORNDOWN unsolicited. */
	assert_int_equal(host_gpadl_torndown(c, h), -EPROTO);
	assert_int_equal(vmb_client_gpadl_teardown(c, b, h), -EINVAL);

	unsigned first = F.npost;
	assert_int_equal(vmb_client_gpadl_teardown(c, a, h), 0);
	valid(c);
	assert_int_equal(F.npost, first + 1);
	assert_int_equal(last_post()->len, 16);
	assert_int_equal(last_post()->m.gpadl_teardown.header.msgtype, CHANNELMSG_GPADL_TEARDOWN);
	assert_int_equal(last_post()->m.gpadl_teardown.child_relid, 3);
	assert_int_equal(last_post()->m.gpadl_teardown.gpadl, h);
	assert_int_equal(vmb_client_gpadl_teardown(c, a, h), -EINVAL);
	assert_int_equal(host_gpadl_torndown(c, h), 0);
	assert_int_equal(F.ntorndown, 1);
	assert_int_equal(F.torndown, h);
	assert_int_equal(host_gpadl_torndown(c, h), -EPROTO);

	/* A failed creation is forgotten. */
	assert_int_equal(vmb_client_gpadl_create(c, b, &pfn, 1, &h2), 0);
	assert_int_equal(host_gpadl_created(c, 4, h2, VMBUS_STATUS_FAILURE), 0);
	assert_int_equal(F.created_status, VMBUS_STATUS_FAILURE);
	assert_int_equal(vmb_client_gpadl_teardown(c, b, h2), -EINVAL);
	assert_int_equal(host_gpadl_created(c, 4, h2, 0), -EPROTO);
	assert_int_equal(c->ngpadl, 0);
	vmb_client_destroy(c);
}

/* ---- open / close --------------------------------------------------------- */

static void test_open(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *ch = offered(c, 9);
	uint8_t ud[120];
	uint32_t h = ready_gpadl(c, ch);
	const struct vmbus_channel_open_channel *m;

	(void)state;
	memset(ud, 0x5a, sizeof(ud));
	assert_int_equal(vmb_client_open(c, ch, h, 2, 1, ud, 121), -EINVAL);
	assert_int_equal(vmb_client_open(c, ch, h + 1, 2, 1, ud, 24), -EINVAL);
	assert_int_equal(vmb_client_open(c, ch, h, 2, 4, ud, 24), -EINVAL);
	assert_int_equal(vmb_client_open(c, ch, h, 2, 3, ud, 24), 0);
	valid(c);
	m = &last_post()->m.open;
	assert_int_equal(last_post()->len, 148);
	assert_int_equal(last_post()->conn, MSG_CONN_ID_5);
	assert_int_equal(m->header.msgtype, CHANNELMSG_OPENCHANNEL);
	assert_int_equal(m->child_relid, 9);
	assert_int_equal(m->openid, 9);
	assert_int_equal(m->ringbuffer_gpadlhandle, h);
	assert_int_equal(m->target_vp, 3);
	assert_int_equal(m->downstream_ringbuffer_pageoffset, 2);
	assert_memory_equal(m->userdata, ud, 24);
	assert_int_equal(m->userdata[24], 0);
	assert_int_equal(vmb_cli_chan_state(ch), VMB_CCH_OPENING);
	assert_int_equal(vmb_cli_chan_target_vp(ch), 3);
	assert_int_equal(vmb_client_open(c, ch, h, 2, 1, NULL, 0), -EINVAL);

	/* Wrong openid or relid: not ours. */
	assert_int_equal(host_open_result(c, 9, 10, 0), -EPROTO);
	assert_int_equal(host_open_result(c, 10, 9, 0), -EPROTO);
	assert_int_equal(F.nopen_result, 0);
	assert_int_equal(host_open_result(c, 9, 9, 0), 0);
	assert_int_equal(F.nopen_result, 1);
	assert_ptr_equal(F.opened, ch);
	assert_int_equal(vmb_cli_chan_state(ch), VMB_CCH_OPEN);
	assert_int_equal(host_open_result(c, 9, 9, 0), -EPROTO);

	assert_int_equal(vmb_client_close(c, ch), 0);
	valid(c);
	assert_int_equal(last_post()->len, 12);
	assert_int_equal(last_post()->m.relid.header.msgtype, CHANNELMSG_CLOSECHANNEL);
	assert_int_equal(last_post()->m.relid.child_relid, 9);
	assert_int_equal(vmb_cli_chan_state(ch), VMB_CCH_OFFERED);
	assert_int_equal(vmb_client_close(c, ch), -EINVAL);

	/* A failed open goes back to OFFERED. */
	assert_int_equal(vmb_client_open(c, ch, h, 2, 0, NULL, 0), 0);
	assert_int_equal(host_open_result(c, 9, 9, VMBUS_STATUS_FAILURE), 0);
	assert_int_equal(F.open_status, VMBUS_STATUS_FAILURE);
	assert_int_equal(vmb_cli_chan_state(ch), VMB_CCH_OFFERED);
	vmb_client_destroy(c);
}

static void test_open_legacy_vp(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN7, 0);
	struct vmb_client_channel *ch = offered(c, 2);
	uint32_t h = ready_gpadl(c, ch);

	(void)state;
	assert_int_equal(vmb_client_open(c, ch, h, 2, 3, NULL, 0), 0);
	assert_int_equal(last_post()->m.open.target_vp, 0);
	assert_int_equal(last_post()->conn, VMBUS_MESSAGE_CONNECTION_ID);
	assert_int_equal(vmb_cli_chan_target_vp(ch), 0);
	vmb_client_destroy(c);
}

/* ---- rescind ------------------------------------------------------------ */

static void test_rescind_each_state(void **state)
{
	static const enum vmb_cli_chan_state states[] = {VMB_CCH_OFFERED, VMB_CCH_OPENING,
							 VMB_CCH_OPEN};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
		struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
		struct vmb_client_channel *ch = offered(c, 5);
		bool was_open = states[i] != VMB_CCH_OFFERED;
		unsigned before;

		open_to(c, ch, states[i]);
		assert_int_equal(host_relid_msg(c, CHANNELMSG_RESCIND_CHANNELOFFER, 5), 0);
		assert_ptr_equal(F.rescinded, ch);
		assert_int_equal(vmb_cli_chan_state(ch), VMB_CCH_RESCINDED);
		assert_int_equal(host_relid_msg(c, CHANNELMSG_RESCIND_CHANNELOFFER, 5), -EPROTO);
		/* An open answer after the rescind is not believed. */
		assert_int_equal(host_open_result(c, 5, 5, 0), -EPROTO);
		assert_int_equal(vmb_client_open(c, ch, FIRST_HANDLE, 2, 0, NULL, 0), -EINVAL);
		assert_int_equal(vmb_client_modify(c, ch, 0), -EINVAL);

		before = F.npost;
		assert_int_equal(vmb_client_close(c, ch), was_open ? 0 : -EINVAL);
		valid(c);
		assert_int_equal(F.npost, before + (was_open ? 1 : 0));
		if (was_open)
			assert_int_equal(last_post()->m.hdr.msgtype, CHANNELMSG_CLOSECHANNEL);
		assert_int_equal(vmb_cli_chan_state(ch), VMB_CCH_RESCINDED);

		assert_int_equal(vmb_client_release(c, ch), 0);
		valid(c);
		assert_int_equal(last_post()->len, 12);
		assert_int_equal(last_post()->m.relid.header.msgtype, CHANNELMSG_RELID_RELEASED);
		assert_int_equal(last_post()->m.relid.child_relid, 5);
		assert_null(vmb_client_find(c, 5));
		assert_int_equal(host_relid_msg(c, CHANNELMSG_RESCIND_CHANNELOFFER, 5), -EPROTO);
		/* Its GPADL went with it; the relid may be offered again. */
		assert_int_equal(c->ngpadl, 0);
		assert_int_equal(host_offer(c, 5, 0), 0);
		vmb_client_destroy(c);
	}
}

static void test_rescind_misc(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *ch = offered(c, 5);
	uint64_t pfn = 1;
	uint32_t h;

	(void)state;
	assert_int_equal(host_relid_msg(c, CHANNELMSG_RESCIND_CHANNELOFFER, 6), -EPROTO);
	assert_int_equal(vmb_client_release(c, ch), -EINVAL);
	/* A GPADL in flight when the rescind comes is failed by the host. */
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h), 0);
	assert_int_equal(host_relid_msg(c, CHANNELMSG_RESCIND_CHANNELOFFER, 5), 0);
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h), -EINVAL);
	assert_int_equal(host_gpadl_created(c, 5, h, VMBUS_STATUS_FAILURE), 0);
	assert_int_equal(F.created_status, VMBUS_STATUS_FAILURE);
	/* A release the host refused keeps the channel for a retry. */
	F.post_status[F.npost] = HV_STATUS_INSUFFICIENT_MEMORY;
	assert_int_equal(vmb_client_release(c, ch), -EIO);
	assert_ptr_equal(vmb_client_find(c, 5), ch);
	assert_int_equal(vmb_client_release(c, ch), 0);
	valid(c);
	vmb_client_destroy(c);
}

/* ---- modify ------------------------------------------------------------- */

static void test_modify(void **state)
{
	static const struct {
		uint32_t version;
		int ret;
		bool answered;
	} cases[] = {
	    {VERSION_WIN10, -EOPNOTSUPP, false},
	    {VERSION_WIN10_V4_1, 0, false},
	    {VERSION_WIN10_V5_3, 0, true},
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct vmb_client *c = connected_at(cases[i].version, 0);
		struct vmb_client_channel *ch = offered(c, 5);

		assert_int_equal(vmb_client_modify(c, ch, 2),
				 cases[i].version >= VERSION_WIN10_V4_1 ? -EINVAL : -EOPNOTSUPP);
		open_to(c, ch, VMB_CCH_OPEN);
		assert_int_equal(vmb_client_modify(c, ch, 4),
				 cases[i].ret ? cases[i].ret : -EINVAL);
		assert_int_equal(vmb_client_modify(c, ch, 2), cases[i].ret);
		valid(c);
		if (cases[i].ret != 0) {
			vmb_client_destroy(c);
			continue;
		}
		assert_int_equal(last_post()->len, 16);
		assert_int_equal(last_post()->m.modify.header.msgtype, CHANNELMSG_MODIFYCHANNEL);
		assert_int_equal(last_post()->m.modify.child_relid, 5);
		assert_int_equal(last_post()->m.modify.target_vp, 2);
		assert_int_equal(vmb_cli_chan_target_vp(ch), 2);
		if (!cases[i].answered) {
			/* Not even a valid message before 5.3. */
			assert_int_equal(host_modify_resp(c, 5, 0), -EBADMSG);
			assert_int_equal(vmb_client_modify(c, ch, 3), 0);
		} else {
			assert_int_equal(vmb_client_modify(c, ch, 3), -EBUSY);
			assert_int_equal(host_modify_resp(c, 6, 0), -EPROTO);
			assert_int_equal(host_modify_resp(c, 5, -5), 0);
			assert_int_equal(F.nmodify, 1);
			assert_int_equal(F.modify_status, -5);
			assert_int_equal(host_modify_resp(c, 5, 0), -EPROTO);
		}
		vmb_client_destroy(c);
	}
}

/* ---- unload ------------------------------------------------------------- */

static void test_unload(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *ch = offered(c, 5);

	(void)state;
	open_to(c, ch, VMB_CCH_OPEN);
	assert_int_equal(host_header(c, CHANNELMSG_UNLOAD_RESPONSE), -EPROTO);
	assert_int_equal(vmb_client_unload(c), 0);
	valid(c);
	assert_int_equal(last_post()->len, 8);
	assert_int_equal(last_post()->conn, MSG_CONN_ID_5);
	assert_int_equal(vmb_client_state(c), VMB_CLI_UNLOADING);
	assert_int_equal(vmb_client_unload(c), -EINVAL);
	assert_int_equal(host_offer(c, 6, 0), -EPROTO);
	assert_int_equal(F.nunloaded, 0);
	assert_int_equal(host_header(c, CHANNELMSG_UNLOAD_RESPONSE), 0);
	assert_int_equal(F.nunloaded, 1);
	assert_int_equal(vmb_client_state(c), VMB_CLI_IDLE);
	assert_null(vmb_client_next(c, NULL));
	assert_int_equal(c->ngpadl, 0);
	/* Everything from the old connection is gone; reconnect works. */
	assert_int_equal(host_header(c, CHANNELMSG_UNLOAD_RESPONSE), -EBADMSG);
	assert_int_equal(vmb_client_connect(c), 0);
	assert_int_equal(host_version(c, 1, 9, 0, 40), 0);
	assert_int_equal(vmb_client_state(c), VMB_CLI_REQUESTED);
	assert_int_equal(vmb_client_msg_conn_id(c), 9);
	vmb_client_destroy(c);

	/* 0.13 has no UNLOAD_RESPONSE: done once posted. */
	c = connected_at(VERSION_WS2008, 0);
	offered(c, 2);
	assert_int_equal(vmb_client_unload(c), 0);
	valid(c);
	assert_int_equal(F.nunloaded, 1);
	assert_int_equal(vmb_client_state(c), VMB_CLI_IDLE);
	assert_null(vmb_client_find(c, 2));
	vmb_client_destroy(c);

	/* Not connected: nothing to unload. */
	c = new_client(&base_cfg);
	assert_int_equal(vmb_client_unload(c), -EINVAL);
	assert_int_equal(F.npost, 0);
	vmb_client_destroy(c);
}

/* ---- unsolicited and malformed ---------------------------------------------- */

struct unsolicited_case {
	const char *name;
	uint32_t type;
	size_t len;
	int ret;
};

static void test_unsolicited(void **state)
{
	static const struct unsolicited_case cases[] = {
	    {"unknown type", 99, 8, -EBADMSG},
	    {"type 0", CHANNELMSG_INVALID, 8, -EBADMSG},
	    {"guest->host type", CHANNELMSG_OPENCHANNEL, 148, -EBADMSG},
	    {"guest->host REQUESTOFFERS", CHANNELMSG_REQUESTOFFERS, 8, -EBADMSG},
	    {"no header", CHANNELMSG_ALLOFFERS_DELIVERED, 4, -EBADMSG},
	    {"too long", CHANNELMSG_ALLOFFERS_DELIVERED, 241, -EBADMSG},
	    {"short rescind", CHANNELMSG_RESCIND_CHANNELOFFER, 11, -EBADMSG},
	    {"short open result", CHANNELMSG_OPENCHANNEL_RESULT, 19, -EBADMSG},
	    {"short gpadl created", CHANNELMSG_GPADL_CREATED, 19, -EBADMSG},
	    {"version response", CHANNELMSG_VERSION_RESPONSE, 40, -EPROTO},
	    {"gpadl created", CHANNELMSG_GPADL_CREATED, 20, -EPROTO},
	    {"gpadl torndown", CHANNELMSG_GPADL_TORNDOWN, 12, -EPROTO},
	    {"open result", CHANNELMSG_OPENCHANNEL_RESULT, 20, -EPROTO},
	    {"modify response", CHANNELMSG_MODIFYCHANNEL_RESPONSE, 16, -EPROTO},
	    {"unload response", CHANNELMSG_UNLOAD_RESPONSE, 8, -EPROTO},
	    {"rescind", CHANNELMSG_RESCIND_CHANNELOFFER, 12, -EPROTO},
	    {"close reserved response", CHANNELMSG_CLOSE_RESERVED_RESPONSE, 12, -EPROTO},
	    {"modify connection response", CHANNELMSG_MODIFY_CONNECTION_RESPONSE, 9, -EBADMSG},
	    {"pause response", CHANNELMSG_PAUSE_RESPONSE, 8, -EPROTO},
	    {"tl connect result", CHANNELMSG_TL_CONNECT_RESULT, 44, 0},
	};
	struct vmb_client *c = connected_at(VERSION_COPPER, VMBUS_FEATURE_PAUSE_RESUME);
	uint8_t buf[256];
	size_t i;

	(void)state;
	assert_int_equal(host_header(c, CHANNELMSG_ALLOFFERS_DELIVERED), 0);
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct unsolicited_case *t = &cases[i];
		unsigned npost = F.npost;

		print_message("case %s\n", t->name);
		memset(buf, 0, sizeof(buf));
		memcpy(buf, &t->type, sizeof(t->type));
		F.nlog = 0;
		assert_int_equal(recv_msg(c, buf, t->len), t->ret);
		assert_int_equal(F.nlog, 1);
		assert_int_equal(F.npost, npost);
		assert_int_equal(vmb_client_state(c), VMB_CLI_READY);
	}
	assert_int_equal(vmb_client_recv(c, NULL, 0), -EBADMSG);
	vmb_client_destroy(c);
}

static void test_misuse(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *ch = offered(c, 5);
	struct vmb_client_channel fake;
	uint64_t pfn = 1;
	uint32_t h;

	(void)state;
	assert_int_equal(vmb_client_connect(c), -EINVAL);
	memset(&fake, 0, sizeof(fake));
	fake.offer.relid = 5;
	fake.state = VMB_CCH_RESCINDED;
	fake.opened = true;
	assert_int_equal(vmb_client_gpadl_create(c, &fake, &pfn, 1, &h), -EINVAL);
	assert_int_equal(vmb_client_close(c, &fake), -EINVAL);
	assert_int_equal(vmb_client_release(c, &fake), -EINVAL);
	assert_int_equal(vmb_client_gpadl_create(c, NULL, &pfn, 1, &h), -EINVAL);
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, VMB_GPADL_MAX_PFNS + 1, &h), -EINVAL);
	vmb_cli_chan_set_priv(ch, &fake);
	assert_ptr_equal(vmb_cli_chan_priv(ch), &fake);
	vmb_client_destroy(c);
	vmb_client_destroy(NULL);
}

/* ---- the checker itself ------------------------------------------------- */

static void test_validate_catches(void **state)
{
	struct vmb_client *c = connected_at(VERSION_WIN10_V5_3, 0);
	struct vmb_client_channel *ch = offered(c, 5);
	uint64_t pfn = 1;
	uint32_t h;

	(void)state;
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h), 0);
	assert_int_equal(vmb_client_gpadl_create(c, ch, &pfn, 1, &h), 0);
	valid(c);

	F.nlog = 0;
	c->gpadl[1].handle = c->gpadl[0].handle;
	assert_int_equal(vmb_client_validate(c), -EFAULT);
	assert_int_equal(F.nlog, 1);
	c->gpadl[1].handle = c->gpadl[0].handle + 1;

	ch->opened = true;
	assert_int_equal(vmb_client_validate(c), -EFAULT);
	ch->opened = false;

	ch->offer.relid = 6;
	assert_int_equal(vmb_client_validate(c), -EFAULT);
	ch->offer.relid = 5;

	c->state = VMB_CLI_IDLE;
	assert_int_equal(vmb_client_validate(c), -EFAULT);
	c->state = VMB_CLI_READY;

	c->msg_conn_id = 0;
	assert_int_equal(vmb_client_validate(c), -EFAULT);
	c->msg_conn_id = MSG_CONN_ID_5;
	valid(c);
	vmb_client_destroy(c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_negotiate_each_version),
	    cmocka_unit_test(test_negotiate_none),
	    cmocka_unit_test(test_negotiate_window),
	    cmocka_unit_test(test_negotiate_invalid_conn_id),
	    cmocka_unit_test(test_version_response_checks),
	    cmocka_unit_test(test_contact_client_id),
	    cmocka_unit_test(test_create_rejects_bad_config),
	    cmocka_unit_test(test_offers),
	    cmocka_unit_test(test_offer_bad_monitor),
	    cmocka_unit_test(test_offer_versions),
	    cmocka_unit_test(test_offer_before_request),
	    cmocka_unit_test(test_gpadl_split),
	    cmocka_unit_test(test_gpadl_handles),
	    cmocka_unit_test(test_gpadl_created),
	    cmocka_unit_test(test_open),
	    cmocka_unit_test(test_open_legacy_vp),
	    cmocka_unit_test(test_rescind_each_state),
	    cmocka_unit_test(test_rescind_misc),
	    cmocka_unit_test(test_modify),
	    cmocka_unit_test(test_unload),
	    cmocka_unit_test(test_unsolicited),
	    cmocka_unit_test(test_misuse),
	    cmocka_unit_test(test_validate_catches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
