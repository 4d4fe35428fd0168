/*
 * Server connection handling: version negotiation at every version and
 * every max_version, refusals, connection ids, SINT/VP routing, the
 * (state, message) table, UNLOAD, reconnect, reset, PAUSE/RESUME,
 * MODIFY_CONNECTION and TL_CONNECT_REQUEST.
 */
#include "server_fake.h"

static void expect_version_response(const struct sent *m, uint8_t supported, uint8_t state,
				    uint32_t conn_id, size_t len)
{
	assert_int_equal(msg_type(m), CHANNELMSG_VERSION_RESPONSE);
	assert_int_equal(m->len, len);
	assert_int_equal(m->b[8], supported);
	assert_int_equal(m->b[9], state);
	assert_int_equal(msg_u32(m, 12), conn_id);
}

static void test_negotiate_every_version(void **state)
{
	unsigned i, j;
	char ev[40];

	(void)state;
	for (i = 0; i < VMBUS_VERSION_COUNT; i++) {
		uint32_t max = vmb_versions[i];

		for (j = 0; j < VMBUS_VERSION_COUNT; j++) {
			uint32_t v = vmb_versions[j];
			struct vmbus_channel_initiate_contact c = contact_msg(v);
			struct fake *f = fake_new(max, 0);

			assert_int_equal(fake_recv(f, conn_for(v), &c, 40), 0);
			assert_int_equal(f->nsent, 1);
			assert_int_equal(f->sent[0].vp, 0);
			assert_int_equal(f->sent[0].sint, VMBUS_MESSAGE_SINT);
			if (v > max) {
				expect_version_response(&f->sent[0], 0, 0, 0, 16);
				assert_int_equal(vmb_server_state(f->s), VMB_SRV_DISCONNECTED);
				assert_int_equal(vmb_server_version(f->s), 0);
				assert_int_equal(f->nev, 0);
			} else {
				expect_version_response(&f->sent[0], 1, 0,
							v >= VERSION_WIN10_V5 ? 1 : 0,
							v == VERSION_COPPER ? 20 : 16);
				assert_int_equal(vmb_server_state(f->s), VMB_SRV_CONNECTED);
				assert_int_equal(vmb_server_version(f->s), v);
				assert_int_equal(vmb_server_msg_conn_id(f->s), 1);
				snprintf(ev, sizeof(ev), "connected %#x", v);
				EXPECT_EVENTS(f, ev);
			}
			fake_free(f);
		}
	}
}

static void test_refuse_unknown_versions(void **state)
{
	static const uint32_t bad[] = {0x00070000, 0x00020003, 0x00050004, 0x0000000c, 1};
	struct fake *f = fake_new(0, 0);
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmbus_channel_initiate_contact c = contact_msg(bad[i]);

		fake_clear(f);
		assert_int_equal(fake_recv(f, conn_for(bad[i]), &c, 40), 0);
		EXPECT_TYPES(f, CHANNELMSG_VERSION_RESPONSE);
		expect_version_response(&f->sent[0], 0, 0, 0, 16);
		assert_int_equal(vmb_server_state(f->s), VMB_SRV_DISCONNECTED);
	}
	fake_free(f);
}

static void test_contact_wrong_conn_id(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmbus_channel_initiate_contact c5 = contact_msg(VERSION_WIN10_V5);
	struct vmbus_channel_initiate_contact c3 = contact_msg(VERSION_WIN8_1);

	(void)state;
	fake_reject(f, VMBUS_MESSAGE_CONNECTION_ID, &c5, 40, -EPROTO);
	fake_reject(f, VMBUS_MESSAGE_CONNECTION_ID_4, &c3, 40, -EPROTO);
	fake_reject(f, 7, &c3, 40, -EPROTO);
	EXPECT_NONE_SENT(f);
	assert_non_null(strstr(f->lastlog, "INITIATE_CONTACT"));

	/* After a 5.x handshake everything else comes on the message connection id. */
	fake_connect(f, VERSION_WIN10_V5_3, 0);
	{
		struct vmbus_channel_message_header h = {.msgtype = CHANNELMSG_REQUESTOFFERS};

		fake_reject(f, VMBUS_MESSAGE_CONNECTION_ID_4, &h, sizeof(h), -EPROTO);
		assert_non_null(strstr(f->lastlog, "REQUESTOFFERS"));
	}
	EXPECT_NONE_SENT(f);
	fake_free(f);
}

static void test_contact_routing(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmbus_channel_initiate_contact c;

	(void)state;
	/* 3.0 honours target_vcpu; the response goes there. */
	c = contact_msg(VERSION_WIN8_1);
	c.target_vcpu = 3;
	assert_int_equal(fake_recv(f, 1, &c, 40), 0);
	assert_int_equal(f->sent[0].vp, 3);
	assert_int_equal(vmb_server_target_vcpu(f->s), 3);
	assert_int_equal(vmb_server_interrupt_page(f->s), 0x1000);

	/* Before 3.0 the VP is ignored: messages go to VP 0. */
	fake_clear(f);
	c = contact_msg(VERSION_WIN8);
	c.target_vcpu = 9;
	assert_int_equal(fake_recv(f, 1, &c, 40), 0);
	assert_int_equal(f->sent[0].vp, 0);
	assert_int_equal(vmb_server_target_vcpu(f->s), 0);

	/* A VP that does not exist is refused without touching the connection. */
	fake_clear(f);
	c = contact_msg(VERSION_WIN8_1);
	c.target_vcpu = FAKE_VPS;
	fake_reject(f, 1, &c, 40, -EPROTO);
	EXPECT_NONE_SENT(f);
	assert_int_equal(f->nev, 0);

	/* 5.0 picks the SINT; the interrupt page field is no longer one. */
	c = contact_msg(VERSION_WIN10_V5);
	c.msg_sint = 5;
	c.target_vcpu = 1;
	assert_int_equal(fake_recv(f, 4, &c, 40), 0);
	assert_int_equal(f->sent[0].sint, 5);
	assert_int_equal(f->sent[0].vp, 1);
	assert_int_equal(vmb_server_msg_sint(f->s), 5);
	assert_int_equal(vmb_server_interrupt_page(f->s), 0);

	fake_clear(f);
	c.msg_sint = 16;
	fake_reject(f, 4, &c, 40, -EPROTO);

	/* 4.1 always uses SINT 2 whatever bytes 16.. say. */
	c = contact_msg(VERSION_WIN10_V4_1);
	c.interrupt_page = 0x0f000;
	assert_int_equal(fake_recv(f, 1, &c, 40), 0);
	assert_int_equal(f->sent[f->nsent - 1].sint, VMBUS_MESSAGE_SINT);
	assert_int_equal(vmb_server_interrupt_page(f->s), 0x0f000);
	fake_free(f);
}

static void test_contact_monitor_pages(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmbus_channel_initiate_contact c = contact_msg(VERSION_WIN10_V5_3);
	uint64_t p1, p2;

	(void)state;
	c.monitor_page2 = 0;
	assert_int_equal(fake_recv(f, 4, &c, 40), -EPROTO);
	EXPECT_TYPES(f, CHANNELMSG_VERSION_RESPONSE);
	expect_version_response(&f->sent[0], 0, VMBUS_CONNECTION_FAILED_UNKNOWN, 0, 16);
	assert_int_equal(vmb_server_state(f->s), VMB_SRV_DISCONNECTED);

	/* Outside guest memory. */
	fake_clear(f);
	c.monitor_page2 = (uint64_t)FAKE_PAGES << 12;
	assert_int_equal(fake_recv(f, 4, &c, 40), -EPROTO);
	expect_version_response(&f->sent[0], 0, VMBUS_CONNECTION_FAILED_UNKNOWN, 0, 16);

	/* Neither is fine. */
	fake_clear(f);
	c.monitor_page1 = c.monitor_page2 = 0;
	assert_int_equal(fake_recv(f, 4, &c, 40), 0);
	expect_version_response(&f->sent[0], 1, 0, 1, 16);
	vmb_server_monitor_pages(f->s, &p1, &p2);
	assert_true(p1 == 0 && p2 == 0);
	fake_free(f);
}

static void test_contact_features(void **state)
{
	struct fake *f = fake_new(0, 0x25 | VMBUS_FEATURE_GPA_PINNING);
	struct vmbus_channel_initiate_contact c = contact_msg(VERSION_COPPER);

	(void)state;
	c.feature_flags = 0xff;
	assert_int_equal(fake_recv(f, 4, &c, 40), 0);
	expect_version_response(&f->sent[0], 1, 0, 1, 20);
	/* GPA pinning is not implemented, so never granted. */
	assert_int_equal(msg_u32(&f->sent[0], 16), 0x25);
	assert_int_equal(vmb_server_features(f->s), 0x25);

	/* Only what the guest asked for. */
	fake_clear(f);
	c.feature_flags = VMBUS_FEATURE_PAUSE_RESUME | VMBUS_FEATURE_CLIENT_ID;
	assert_int_equal(fake_recv(f, 4, &c, 56), 0);
	assert_int_equal(msg_u32(&f->sent[0], 16), VMBUS_FEATURE_PAUSE_RESUME);
	fake_free(f);
}

/* Build a minimal message of `type` (fields zero, relid 1). */
static size_t table_msg(uint32_t type, uint8_t *buf)
{
	static const uint8_t sizes[CHANNELMSG_COUNT] = {
	    [CHANNELMSG_REQUESTOFFERS] = 8,
	    [CHANNELMSG_OPENCHANNEL] = 148,
	    [CHANNELMSG_CLOSECHANNEL] = 12,
	    [CHANNELMSG_GPADL_HEADER] = 36,
	    [CHANNELMSG_GPADL_BODY] = 24,
	    [CHANNELMSG_GPADL_TEARDOWN] = 16,
	    [CHANNELMSG_RELID_RELEASED] = 12,
	    [CHANNELMSG_UNLOAD] = 8,
	    [CHANNELMSG_OPEN_RESERVED_CHANNEL] = 28,
	    [CHANNELMSG_CLOSE_RESERVED_CHANNEL] = 20,
	    [CHANNELMSG_TL_CONNECT_REQUEST] = 40,
	    [CHANNELMSG_MODIFYCHANNEL] = 16,
	    [CHANNELMSG_MODIFY_CONNECTION] = 24,
	    [CHANNELMSG_PAUSE] = 8,
	    [CHANNELMSG_RESUME] = 8,
	};
	size_t len = type < CHANNELMSG_COUNT && sizes[type] ? sizes[type] : 12;

	memset(buf, 0, VMBUS_MAX_MESSAGE_SIZE);
	memcpy(buf, &type, 4);
	buf[8] = 1;	/* relid 1 / msgnumber */
	if (type != CHANNELMSG_MODIFYCHANNEL)
		buf[12] = 0x77; /* GPADL handle or openid */
	if (type == CHANNELMSG_GPADL_HEADER) {
		buf[16] = 16; /* range_buflen: one range, one PFN */
		buf[18] = 1;
		buf[20] = 0x10; /* byte_count 4096 */
		buf[28] = 5;	/* PFN 5 */
	}
	if (type == CHANNELMSG_GPADL_BODY)
		buf[16] = 5;
	return len;
}

enum tstate { T_DISC, T_CONN, T_OFFERED, T_OPEN, T_REVOKED };

struct table_row {
	enum tstate st;
	uint32_t type;
	int rc;
	uint32_t reply; /* first message type sent back, 0 = none */
	enum vmb_server_state after;
};

#define D VMB_SRV_DISCONNECTED
#define C VMB_SRV_CONNECTED
#define O VMB_SRV_OFFERED

/* Negotiated 5.3 without 6.0 features; relid 1 offered once in T_OFFERED+. */
static const struct table_row table[] = {
    {T_DISC, CHANNELMSG_REQUESTOFFERS, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_OPENCHANNEL, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_CLOSECHANNEL, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_GPADL_HEADER, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_GPADL_BODY, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_GPADL_TEARDOWN, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_RELID_RELEASED, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_UNLOAD, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_CLOSE_RESERVED_CHANNEL, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_TL_CONNECT_REQUEST, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_MODIFYCHANNEL, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_OFFERCHANNEL, -EBADMSG, 0, D},
    {T_DISC, CHANNELMSG_VERSION_RESPONSE, -EBADMSG, 0, D},
    {T_DISC, 0, -EBADMSG, 0, D},
    {T_DISC, 30, -EBADMSG, 0, D},

    {T_CONN, CHANNELMSG_REQUESTOFFERS, 0, CHANNELMSG_ALLOFFERS_DELIVERED, O},
    {T_CONN, CHANNELMSG_OPENCHANNEL, -EPROTO, CHANNELMSG_OPENCHANNEL_RESULT, C},
    {T_CONN, CHANNELMSG_CLOSECHANNEL, -EPROTO, 0, C},
    {T_CONN, CHANNELMSG_GPADL_HEADER, -EPROTO, 0, C},
    {T_CONN, CHANNELMSG_GPADL_BODY, -EPROTO, 0, C},
    {T_CONN, CHANNELMSG_GPADL_TEARDOWN, -EPROTO, 0, C},
    {T_CONN, CHANNELMSG_RELID_RELEASED, -EPROTO, 0, C},
    {T_CONN, CHANNELMSG_UNLOAD, 0, CHANNELMSG_UNLOAD_RESPONSE, D},
    {T_CONN, CHANNELMSG_OPEN_RESERVED_CHANNEL, -EPROTO, 0, C},
    {T_CONN, CHANNELMSG_CLOSE_RESERVED_CHANNEL, -EPROTO, 0, C},
    {T_CONN, CHANNELMSG_TL_CONNECT_REQUEST, 0, CHANNELMSG_TL_CONNECT_RESULT, C},
    {T_CONN, CHANNELMSG_MODIFYCHANNEL, -EPROTO, CHANNELMSG_MODIFYCHANNEL_RESPONSE, C},
    {T_CONN, CHANNELMSG_MODIFY_CONNECTION, -EBADMSG, 0, C},
    {T_CONN, CHANNELMSG_PAUSE, -EBADMSG, 0, C},
    {T_CONN, CHANNELMSG_RESUME, -EBADMSG, 0, C},
    {T_CONN, CHANNELMSG_GPADL_CREATED, -EBADMSG, 0, C},
    {T_CONN, 0, -EBADMSG, 0, C},
    {T_CONN, 31, -EBADMSG, 0, C},

    {T_OFFERED, CHANNELMSG_REQUESTOFFERS, -EPROTO, 0, O},
    {T_OFFERED, CHANNELMSG_OPENCHANNEL, -EPROTO, CHANNELMSG_OPENCHANNEL_RESULT, O},
    {T_OFFERED, CHANNELMSG_CLOSECHANNEL, -EPROTO, 0, O},
    {T_OFFERED, CHANNELMSG_GPADL_HEADER, 0, CHANNELMSG_GPADL_CREATED, O},
    {T_OFFERED, CHANNELMSG_GPADL_BODY, -EPROTO, 0, O},
    {T_OFFERED, CHANNELMSG_GPADL_TEARDOWN, -EPROTO, 0, O},
    {T_OFFERED, CHANNELMSG_RELID_RELEASED, -EPROTO, 0, O},
    {T_OFFERED, CHANNELMSG_UNLOAD, 0, CHANNELMSG_UNLOAD_RESPONSE, D},
    {T_OFFERED, CHANNELMSG_MODIFYCHANNEL, -EPROTO, CHANNELMSG_MODIFYCHANNEL_RESPONSE, O},
    {T_OFFERED, CHANNELMSG_RESCIND_CHANNELOFFER, -EBADMSG, 0, O},

    {T_OPEN, CHANNELMSG_OPENCHANNEL, -EPROTO, CHANNELMSG_OPENCHANNEL_RESULT, O},
    {T_OPEN, CHANNELMSG_CLOSECHANNEL, 0, 0, O},
    {T_OPEN, CHANNELMSG_MODIFYCHANNEL, 0, CHANNELMSG_MODIFYCHANNEL_RESPONSE, O},
    {T_OPEN, CHANNELMSG_RELID_RELEASED, -EPROTO, 0, O},
    {T_OPEN, CHANNELMSG_UNLOAD, 0, CHANNELMSG_UNLOAD_RESPONSE, D},

    {T_REVOKED, CHANNELMSG_OPENCHANNEL, 0, 0, O},
    {T_REVOKED, CHANNELMSG_CLOSECHANNEL, 0, 0, O},
    {T_REVOKED, CHANNELMSG_GPADL_HEADER, 0, CHANNELMSG_GPADL_CREATED, O},
    {T_REVOKED, CHANNELMSG_MODIFYCHANNEL, -EPROTO, CHANNELMSG_MODIFYCHANNEL_RESPONSE, O},
    {T_REVOKED, CHANNELMSG_RELID_RELEASED, 0, 0, O},
    {T_REVOKED, CHANNELMSG_UNLOAD, 0, CHANNELMSG_UNLOAD_RESPONSE, D},
};

static struct fake *table_setup(enum tstate st)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *ch;

	if (st == T_DISC)
		return f;
	if (st == T_CONN) {
		fake_connect(f, VERSION_WIN10_V5_3, 0);
		return f;
	}
	ch = fake_offer(f, 1, 0, false);
	fake_up(f, VERSION_WIN10_V5_3, 0);
	if (st == T_OPEN)
		fake_open_channel(f, 1, 0x500);
	if (st == T_REVOKED)
		fake_rescind(f, ch);
	fake_clear(f);
	return f;
}

static void test_state_message_table(void **state)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		const struct table_row *t = &table[i];
		struct fake *f = table_setup(t->st);
		size_t len = table_msg(t->type, buf);
		int rc = fake_recv(f, VMBUS_MESSAGE_CONNECTION_ID, buf, len);

		if (rc != t->rc || vmb_server_state(f->s) != t->after)
			fail_msg("row %u (state %d, %s): rc %d state %d", i, t->st,
				 vmb_msg_name(t->type), rc, vmb_server_state(f->s));
		if (t->reply)
			assert_true(f->nsent >= 1 && msg_type(&f->sent[0]) == t->reply);
		else
			EXPECT_NONE_SENT(f);
		if (rc)
			assert_non_null(strstr(f->lastlog, vmb_msg_name(t->type)));
		fake_free(f);
	}
}

static void test_malformed(void **state)
{
	struct fake *f = fake_new(0, 0);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE + 8] = {0};
	struct vmbus_channel_initiate_contact c = contact_msg(VERSION_WIN10_V5_3);

	(void)state;
	fake_reject(f, 4, &c, 39, -EBADMSG);
	fake_reject(f, 4, buf, 4, -EBADMSG);
	fake_reject(f, 4, buf, 0, -EBADMSG);
	memcpy(buf, &c, sizeof(c));
	fake_reject(f, 4, buf, sizeof(buf), -EBADMSG);
	fake_up(f, VERSION_WIN10_V5_3, 0);
	/* Short CLOSECHANNEL and a host-only message. */
	buf[0] = CHANNELMSG_CLOSECHANNEL;
	fake_reject(f, 1, buf, 8, -EBADMSG);
	buf[0] = CHANNELMSG_OPENCHANNEL_RESULT;
	fake_reject(f, 1, buf, 20, -EBADMSG);
	EXPECT_NONE_SENT(f);
	fake_free(f);
}

static void test_unload(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *a, *b;

	(void)state;
	a = fake_offer(f, 1, 0, false);
	b = fake_offer(f, 2, 0, true);
	fake_offer(f, 3, 0, false);
	fake_up(f, VERSION_WIN10_V5_3, 0);
	fake_open_channel(f, 1, 0x500);
	fake_gpadl(f, 3, 0x600, 0x200, 2);
	fake_rescind(f, b);
	fake_clear(f);
	assert_int_equal(send_header(f, CHANNELMSG_UNLOAD), 0);
	EXPECT_TYPES(f, CHANNELMSG_UNLOAD_RESPONSE);
	assert_int_equal(f->sent[0].len, 8);
	EXPECT_EVENTS(f, "close 1", "removed 0x600", "removed 0x500", "released 2", "connected 0");
	assert_int_equal(vmb_server_state(f->s), VMB_SRV_DISCONNECTED);
	assert_int_equal(vmb_server_gpadl_count(f->s), 0);
	assert_int_equal(vmb_srv_chan_state(a), VMB_SCH_CLOSED);

	/* The guest comes back: same channels, offered again. */
	fake_connect(f, VERSION_WIN10_V5_3, 0);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), 0);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL,
		     CHANNELMSG_ALLOFFERS_DELIVERED);
	assert_int_equal(msg_u32(&f->sent[0], 184), 1);
	assert_int_equal(msg_u32(&f->sent[1], 184), 3);
	fake_free(f);
}

static void test_unload_old_versions(void **state)
{
	struct fake *f = fake_new(0, 0);

	(void)state;
	/* WS2008 has no UNLOAD_RESPONSE. */
	fake_up(f, VERSION_WS2008, 0);
	assert_int_equal(send_header(f, CHANNELMSG_UNLOAD), 0);
	EXPECT_NONE_SENT(f);
	assert_int_equal(vmb_server_state(f->s), VMB_SRV_DISCONNECTED);

	fake_up(f, VERSION_WIN7, 0);
	assert_int_equal(send_header(f, CHANNELMSG_UNLOAD), 0);
	EXPECT_TYPES(f, CHANNELMSG_UNLOAD_RESPONSE);
	fake_free(f);
}

static void test_reconnect_resets(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmbus_channel_initiate_contact c = contact_msg(VERSION_WIN10_V5_2);

	(void)state;
	fake_offer(f, 1, 0, false);
	fake_up(f, VERSION_WIN10_V5_3, 0);
	fake_open_channel(f, 1, 0x500);
	assert_int_equal(fake_recv(f, 4, &c, 40), 0);
	EXPECT_EVENTS(f, "close 1", "removed 0x500", "connected 0", "connected 0x50002");
	EXPECT_TYPES(f, CHANNELMSG_VERSION_RESPONSE);
	assert_int_equal(vmb_server_version(f->s), VERSION_WIN10_V5_2);
	assert_int_equal(vmb_server_gpadl_bytes(f->s), 0);

	/* A refused retry still resets. */
	fake_clear(f);
	c = contact_msg(0x00070000);
	assert_int_equal(fake_recv(f, 4, &c, 40), 0);
	EXPECT_EVENTS(f, "connected 0");
	assert_int_equal(vmb_server_state(f->s), VMB_SRV_DISCONNECTED);
	fake_free(f);
}

static void test_reset(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *b;

	(void)state;
	fake_offer(f, 1, 0, false);
	b = fake_offer(f, 2, 0, false);
	fake_up(f, VERSION_WIN10_V5_3, 0);
	fake_open_channel(f, 1, 0x500);
	fake_rescind(f, b);
	fake_clear(f);
	vmb_server_reset(f->s);
	fake_check(f);
	EXPECT_NONE_SENT(f);
	EXPECT_EVENTS(f, "close 1", "removed 0x500", "released 2", "connected 0");
	assert_int_equal(vmb_server_state(f->s), VMB_SRV_DISCONNECTED);
	assert_non_null(vmb_server_next(f->s, NULL));
	fake_free(f);
}

static void test_tl_connect(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmbus_channel_tl_connect_request r;

	(void)state;
	memset(&r, 0, sizeof(r));
	r.header.msgtype = CHANNELMSG_TL_CONNECT_REQUEST;
	r.guest_endpoint_id.b[0] = 0xe1;
	r.host_service_id.b[0] = 0x5e;
	fake_up(f, VERSION_WIN10_V4_1, 0);
	assert_int_equal(fake_recv(f, 1, &r, 40), 0);
	EXPECT_TYPES(f, CHANNELMSG_TL_CONNECT_RESULT);
	assert_int_equal(f->sent[0].len, 44);
	assert_int_equal(f->sent[0].b[8], 0xe1);
	assert_int_equal(f->sent[0].b[24], 0x5e);
	assert_int_equal(msg_u32(&f->sent[0], 40), 0xc0000236);

	/* 4.0 has no result message: log only. */
	fake_up(f, VERSION_WIN10, 0);
	assert_int_equal(fake_recv(f, 1, &r, 40), 0);
	EXPECT_NONE_SENT(f);
	assert_int_equal(f->nlog, 1);

	/* Before 4.0 it does not exist. */
	fake_up(f, VERSION_WIN8_1, 0);
	fake_reject(f, 1, &r, 40, -EBADMSG);
	fake_free(f);
}

static void test_pause_resume(void **state)
{
	struct fake *f = fake_new(0, VMBUS_FEATURE_PAUSE_RESUME);

	(void)state;
	fake_up(f, VERSION_COPPER, VMBUS_FEATURE_PAUSE_RESUME);
	assert_int_equal(send_header(f, CHANNELMSG_PAUSE), 0);
	EXPECT_TYPES(f, CHANNELMSG_PAUSE_RESPONSE);
	assert_true(vmb_server_paused(f->s));
	assert_int_equal(send_header(f, CHANNELMSG_PAUSE), -EPROTO);

	/* A hot-added offer is held back until RESUME. */
	fake_clear(f);
	fake_offer(f, 1, 0, false);
	EXPECT_NONE_SENT(f);
	assert_int_equal(send_header(f, CHANNELMSG_RESUME), 0);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL);
	assert_false(vmb_server_paused(f->s));
	assert_int_equal(send_header(f, CHANNELMSG_RESUME), -EPROTO);

	/* UNLOAD drops what was held for the old connection. */
	assert_int_equal(send_header(f, CHANNELMSG_PAUSE), 0);
	fake_clear(f);
	fake_offer(f, 2, 0, false);
	assert_int_equal(send_header(f, CHANNELMSG_UNLOAD), 0);
	EXPECT_TYPES(f, CHANNELMSG_UNLOAD_RESPONSE);
	assert_false(vmb_server_paused(f->s));

	/* Not negotiated: not a valid message. */
	fake_up(f, VERSION_COPPER, 0);
	assert_int_equal(send_header(f, CHANNELMSG_PAUSE), -EBADMSG);
	fake_free(f);
}

static void test_pause_queue_bound(void **state)
{
	struct fake *f = fake_new(0, VMBUS_FEATURE_PAUSE_RESUME);
	unsigned i;
	int rc = 0;

	(void)state;
	fake_offer(f, 1, 0, false);
	fake_up(f, VERSION_COPPER, VMBUS_FEATURE_PAUSE_RESUME);
	assert_int_equal(send_header(f, CHANNELMSG_PAUSE), 0);
	/* Each failed open would queue a result; the guest cannot grow it forever. */
	for (i = 0; i < 300 && rc == 0; i++) {
		struct vmbus_channel_open_channel o = open_msg(1, 0x999, 0, 2);

		rc = fake_recv(f, 1, &o, 148);
		assert_true(rc == -EPROTO);
		rc = 0;
		if (strstr(f->lastlog, "queued"))
			break;
	}
	assert_true(i < 300);
	fake_clear(f);
	assert_int_equal(send_header(f, CHANNELMSG_RESUME), 0);
	assert_int_equal(f->nsent, 256);
	fake_free(f);
}

static void test_modify_connection(void **state)
{
	struct fake *f = fake_new(0, VMBUS_FEATURE_MODIFY_CONNECTION);
	struct vmbus_channel_modify_connection m = {.header.msgtype = CHANNELMSG_MODIFY_CONNECTION};
	uint64_t p1, p2;

	(void)state;
	fake_up(f, VERSION_COPPER, VMBUS_FEATURE_MODIFY_CONNECTION);
	m.parent_to_child_monitor_page_gpa = 0x7000;
	m.child_to_parent_monitor_page_gpa = 0x8000;
	assert_int_equal(fake_recv(f, 1, &m, sizeof(m)), 0);
	EXPECT_TYPES(f, CHANNELMSG_MODIFY_CONNECTION_RESPONSE);
	assert_int_equal(f->sent[0].len, 9);
	assert_int_equal(f->sent[0].b[8], 0);
	vmb_server_monitor_pages(f->s, &p1, &p2);
	assert_true(p1 == 0x7000 && p2 == 0x8000);

	fake_clear(f);
	m.child_to_parent_monitor_page_gpa = 0;
	assert_int_equal(fake_recv(f, 1, &m, sizeof(m)), -EPROTO);
	assert_int_equal(f->sent[0].b[8], VMBUS_CONNECTION_FAILED_UNKNOWN);
	vmb_server_monitor_pages(f->s, &p1, &p2);
	assert_true(p1 == 0x7000 && p2 == 0x8000);
	fake_free(f);
}

static void test_reserved_channels(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmbus_channel_open_reserved o = {.header.msgtype = CHANNELMSG_OPEN_RESERVED_CHANNEL};

	(void)state;
	fake_up(f, VERSION_WIN10, 0);
	fake_reject(f, 1, &o, sizeof(o), -EPROTO);
	fake_up(f, VERSION_WIN8_1, 0);
	fake_reject(f, 1, &o, sizeof(o), -EBADMSG);
	EXPECT_NONE_SENT(f);
	fake_free(f);
}

static void test_create_misuse(void **state)
{
	struct vmb_server_config cfg = {.guest_pages = 16, .vp_count = 1};
	struct vmb_server_ops ops = fake_ops;
	struct vmb_server *s;

	(void)state;
	cfg.vp_count = 0;
	assert_int_equal(vmb_server_create(&cfg, &ops, NULL, &s), -EINVAL);
	cfg.vp_count = 1;
	cfg.max_version = 0x00020003;
	assert_int_equal(vmb_server_create(&cfg, &ops, NULL, &s), -EINVAL);
	cfg.max_version = 0;
	ops.send = NULL;
	assert_int_equal(vmb_server_create(&cfg, &ops, NULL, &s), -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_negotiate_every_version),
	    cmocka_unit_test(test_refuse_unknown_versions),
	    cmocka_unit_test(test_contact_wrong_conn_id),
	    cmocka_unit_test(test_contact_routing),
	    cmocka_unit_test(test_contact_monitor_pages),
	    cmocka_unit_test(test_contact_features),
	    cmocka_unit_test(test_state_message_table),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_unload),
	    cmocka_unit_test(test_unload_old_versions),
	    cmocka_unit_test(test_reconnect_resets),
	    cmocka_unit_test(test_reset),
	    cmocka_unit_test(test_tl_connect),
	    cmocka_unit_test(test_pause_resume),
	    cmocka_unit_test(test_pause_queue_bound),
	    cmocka_unit_test(test_modify_connection),
	    cmocka_unit_test(test_reserved_channels),
	    cmocka_unit_test(test_create_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
