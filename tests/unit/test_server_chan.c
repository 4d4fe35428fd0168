/*
 * Server channels: offers before and after REQUESTOFFERS, their bytes and
 * order, relid and monitor id allocation, open/close/modify at versions
 * around 2.4, 4.1, 5.3 and 6.0, and rescind in every channel state.
 */
#include "server_fake.h"

static void expect_offer(const struct sent *m, uint32_t relid, uint8_t instance, uint16_t sub,
			 uint8_t monitor_id, uint32_t version)
{
	assert_int_equal(msg_type(m), CHANNELMSG_OFFERCHANNEL);
	assert_int_equal(m->len, version == VERSION_WS2008 ? 190 : 196);
	assert_int_equal(m->b[24], instance);
	assert_int_equal(m->b[60], instance); /* user_def */
	assert_int_equal(m->b[56] | m->b[57] << 8, VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION);
	assert_int_equal(m->b[180] | m->b[181] << 8, sub);
	assert_int_equal(msg_u32(m, 184), relid);
	assert_int_equal(m->b[188], monitor_id);
	assert_int_equal(m->b[189], monitor_id != 0xff);
	if (version >= VERSION_WIN7) {
		assert_int_equal(m->b[190], 1);
		assert_int_equal(msg_u32(m, 192), 0x10 + relid);
	} else {
		assert_int_equal(m->b[190], 0);
		assert_int_equal(msg_u32(m, 192), 0);
	}
}

static void test_offers_then_request(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *a;

	(void)state;
	a = fake_offer(f, 1, 0, true);
	fake_offer(f, 2, 0, false);
	assert_int_equal(vmb_srv_chan_relid(a), 1);
	EXPECT_NONE_SENT(f);
	fake_connect(f, VERSION_WIN10_V5_3, 0);
	/* Not before REQUESTOFFERS. */
	fake_offer(f, 3, 0, true);
	EXPECT_NONE_SENT(f);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), 0);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL,
		     CHANNELMSG_ALLOFFERS_DELIVERED);
	expect_offer(&f->sent[0], 1, 1, 0, 0, VERSION_WIN10_V5_3);
	expect_offer(&f->sent[1], 2, 2, 0, 0xff, VERSION_WIN10_V5_3);
	expect_offer(&f->sent[2], 3, 3, 0, 1, VERSION_WIN10_V5_3);
	assert_int_equal(f->sent[3].len, 8);
	assert_int_equal(vmb_srv_chan_conn_id(a), 0x11);

	/* Hot add: sent at once, no terminator. */
	fake_clear(f);
	fake_offer(f, 4, 0, false);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL);
	expect_offer(&f->sent[0], 4, 4, 0, 0xff, VERSION_WIN10_V5_3);

	/* Once per connection. */
	fake_clear(f);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), -EPROTO);
	EXPECT_NONE_SENT(f);
	fake_free(f);
}

static void test_offer_old_versions(void **state)
{
	struct fake *f = fake_new(0, 0);

	(void)state;
	fake_offer(f, 1, 0, false);
	fake_offer(f, 1, 1, false); /* sub-channel: not before 2.4 */
	fake_connect(f, VERSION_WS2008, 0);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), 0);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_ALLOFFERS_DELIVERED);
	expect_offer(&f->sent[0], 1, 1, 0, 0xff, VERSION_WS2008);

	fake_connect(f, VERSION_WIN7, 0);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), 0);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_ALLOFFERS_DELIVERED);
	expect_offer(&f->sent[0], 1, 1, 0, 0xff, VERSION_WIN7);

	/* A hot-added sub-channel stays hidden too. */
	fake_clear(f);
	fake_offer(f, 1, 2, false);
	EXPECT_NONE_SENT(f);

	fake_connect(f, VERSION_WIN8, 0);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), 0);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL,
		     CHANNELMSG_ALLOFFERS_DELIVERED);
	expect_offer(&f->sent[1], 2, 1, 1, 0xff, VERSION_WIN8);
	expect_offer(&f->sent[2], 3, 1, 2, 0xff, VERSION_WIN8);
	fake_free(f);
}

static void test_offer_primary_first(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *x;

	(void)state;
	x = fake_offer(f, 9, 0, false); /* relid 1 */
	fake_offer(f, 1, 0, false);	/* relid 2: primary */
	fake_offer(f, 2, 0, false);	/* relid 3 */
	fake_rescind(f, x);		/* never seen: relid 1 free again */
	EXPECT_EVENTS(f, "released 1");
	fake_offer(f, 1, 1, false); /* relid 1: sub-channel of relid 2 */
	fake_connect(f, VERSION_WIN10_V5_3, 0);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), 0);
	EXPECT_TYPES(f, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL, CHANNELMSG_OFFERCHANNEL,
		     CHANNELMSG_ALLOFFERS_DELIVERED);
	expect_offer(&f->sent[0], 2, 1, 0, 0xff, VERSION_WIN10_V5_3);
	expect_offer(&f->sent[1], 1, 1, 1, 0xff, VERSION_WIN10_V5_3);
	expect_offer(&f->sent[2], 3, 2, 0, 0xff, VERSION_WIN10_V5_3);
	fake_free(f);
}

static void test_monitor_ids(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *ch[128];
	struct vmb_offer o = test_offer(1, 0, true);
	struct vmb_server_channel *extra;
	unsigned i;

	(void)state;
	fake_up(f, VERSION_WIN10_V5_3, 0);
	for (i = 0; i < 128; i++)
		ch[i] = fake_offer(f, (uint8_t)i, 0, true);
	assert_int_equal(f->sent[127].b[188], 127);
	assert_int_equal(vmb_server_offer(f->s, &o, NULL, &extra), -ENOSPC);
	/* A monitor id comes back only with RELID_RELEASED. */
	fake_rescind(f, ch[5]);
	assert_int_equal(vmb_server_offer(f->s, &o, NULL, &extra), -ENOSPC);
	assert_int_equal(send_relid(f, CHANNELMSG_RELID_RELEASED, 6), 0);
	fake_clear(f);
	extra = fake_offer(f, 200, 0, true);
	assert_int_equal(vmb_srv_chan_relid(extra), 6);
	assert_int_equal(f->sent[0].b[188], 5);
	fake_free(f);
}

static void test_relid_exhaustion(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_offer o = test_offer(1, 0, false);
	struct vmb_server_channel *ch;
	unsigned i;

	(void)state;
	for (i = 1; i <= VMBUS_MAX_RELID; i++)
		assert_int_equal(vmb_server_offer(f->s, &o, NULL, &ch), 0);
	assert_int_equal(vmb_srv_chan_relid(ch), VMBUS_MAX_RELID);
	assert_int_equal(vmb_server_offer(f->s, &o, NULL, &ch), -ENOSPC);
	fake_check(f);
	fake_up(f, VERSION_WIN10_V5_3, 0);
	fake_free(f);
}

static void test_open_close(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);
	struct vmbus_channel_open_channel o = open_msg(1, 0x500, 2, 3);

	(void)state;
	fake_up(f, VERSION_WIN10_V5_3, 0);
	fake_gpadl(f, 1, 0x500, 0x100, 5);
	fake_clear(f);
	assert_int_equal(fake_recv(f, 1, &o, 148), 0);
	EXPECT_EVENTS(f, "open 1");
	EXPECT_TYPES(f, CHANNELMSG_OPENCHANNEL_RESULT);
	expect_open_result(&f->sent[0], 1, 0);
	assert_int_equal(f->last_open.openid, 101);
	assert_int_equal(f->last_open.gpadl, 0x500);
	assert_int_equal(f->last_open.target_vp, 2);
	assert_int_equal(f->last_open.downstream_pages, 3);
	assert_int_equal(f->last_open.userdata[0], 0x5a);
	assert_int_equal(f->last_open.connection_id, 0x11);
	assert_int_equal(f->last_open.event_flag, 1);
	assert_int_equal(vmb_srv_chan_state(ch), VMB_SCH_OPEN);
	assert_int_equal(vmb_srv_chan_target_vp(ch), 2);

	/* Already open: the guest still gets an answer. */
	fake_clear(f);
	assert_int_equal(fake_recv(f, 1, &o, 148), -EPROTO);
	expect_open_result(&f->sent[0], 1, VMBUS_STATUS_FAILURE);
	assert_int_equal(f->nev, 0);

	fake_clear(f);
	assert_int_equal(send_relid(f, CHANNELMSG_CLOSECHANNEL, 1), 0);
	EXPECT_NONE_SENT(f);
	EXPECT_EVENTS(f, "close 1");
	assert_int_equal(vmb_srv_chan_state(ch), VMB_SCH_CLOSED);
	assert_int_equal(send_relid(f, CHANNELMSG_CLOSECHANNEL, 1), -EPROTO);
	assert_int_equal(send_relid(f, CHANNELMSG_CLOSECHANNEL, 2048), -EPROTO);

	/* The device refuses: its status goes back and the channel stays closed. */
	fake_clear(f);
	f->open_status = 0xc0000001u;
	assert_int_equal(fake_recv(f, 1, &o, 148), 0);
	expect_open_result(&f->sent[0], 1, 0xc0000001u);
	assert_int_equal(vmb_srv_chan_state(ch), VMB_SCH_CLOSED);
	fake_free(f);
}

struct bad_open {
	uint32_t relid, gpadl, vp, offset;
};

static void test_open_invalid(void **state)
{
	static const struct bad_open bad[] = {
	    {1, 0x500, 0, 1}, /* upstream ring without a data page */
	    {1, 0x500, 0, 8}, /* downstream ring without a data page */
	    {1, 0x500, 0, 0},	     {1, 0x500, 0, 0xffffffff},
	    {1, 0x500, FAKE_VPS, 4}, /* VP does not exist */
	    {1, 0x501, 0, 2},	     /* GPADL of another channel */
	    {1, 0x502, 0, 2},	     /* GPADL still being created */
	    {1, 0x503, 0, 2},	     /* too small for two rings */
	    {1, 0x999, 0, 2},	     /* no such GPADL */
	    {3, 0x500, 0, 2},	     /* relid never offered */
	    {0, 0x500, 0, 2},
	};
	struct fake *f = fake_new(0, 0);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	unsigned i;

	(void)state;
	fake_offer(f, 1, 0, false);
	fake_offer(f, 2, 0, false);
	fake_up(f, VERSION_WIN8_1, 0);
	fake_gpadl(f, 1, 0x500, 0x100, 9);
	fake_gpadl(f, 2, 0x501, 0x100, 9);
	fake_gpadl(f, 1, 0x503, 0x100, 3);
	{
		uint64_t pfns[40] = {0};
		size_t len = vmb_gpadl_build(buf, 0, 1, 0x502, pfns, 40);

		assert_int_equal(fake_recv(f, 1, buf, len), 0);
	}
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct vmbus_channel_open_channel o =
		    open_msg(bad[i].relid, bad[i].gpadl, bad[i].vp, bad[i].offset);

		fake_clear(f);
		assert_int_equal(fake_recv(f, 1, &o, 148), -EPROTO);
		EXPECT_TYPES(f, CHANNELMSG_OPENCHANNEL_RESULT);
		expect_open_result(&f->sent[0], bad[i].relid, VMBUS_STATUS_FAILURE);
		assert_int_equal(f->nev, 0);
	}
	/* Both limits are inclusive. */
	{
		struct vmbus_channel_open_channel o = open_msg(1, 0x500, 3, 7);

		fake_clear(f);
		assert_int_equal(fake_recv(f, 1, &o, 148), 0);
		expect_open_result(&f->sent[0], 1, 0);
		assert_int_equal(send_relid(f, CHANNELMSG_CLOSECHANNEL, 1), 0);
		o.downstream_ringbuffer_pageoffset = 2;
		fake_clear(f);
		assert_int_equal(fake_recv(f, 1, &o, 148), 0);
		expect_open_result(&f->sent[0], 1, 0);
	}
	fake_free(f);
}

static void test_open_target_vp_before_win8(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmbus_channel_open_channel o = open_msg(1, 0x500, 77, 2);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);

	(void)state;
	fake_up(f, VERSION_WIN7, 0);
	fake_gpadl(f, 1, 0x500, 0x100, 4);
	fake_clear(f);
	assert_int_equal(fake_recv(f, 1, &o, 148), 0);
	expect_open_result(&f->sent[0], 1, 0);
	assert_int_equal(f->last_open.target_vp, 0);
	assert_int_equal(vmb_srv_chan_target_vp(ch), 0);
	fake_free(f);

	/* WS2008: the shared event connection. */
	f = fake_new(0, 0);
	ch = fake_offer(f, 1, 0, false);
	fake_up(f, VERSION_WS2008, 0);
	fake_open_channel(f, 1, 0x500);
	assert_int_equal(f->last_open.connection_id, VMBUS_EVENT_CONNECTION_ID);
	assert_int_equal(vmb_srv_chan_conn_id(ch), VMBUS_EVENT_CONNECTION_ID);
	fake_free(f);
}

static void test_open_channel2(void **state)
{
	struct fake *f = fake_new(0, VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS);
	struct vmbus_channel_open_channel o = open_msg(1, 0x500, 0, 4);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);

	(void)state;
	fake_up(f, VERSION_COPPER, VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS);
	fake_gpadl(f, 1, 0x500, 0x100, 8);
	o.connection_id = 0x1234;
	o.event_flag = 77;
	assert_int_equal(fake_recv(f, 1, &o, sizeof(o)), 0);
	assert_int_equal(f->last_open.connection_id, 0x1234);
	assert_int_equal(f->last_open.event_flag, 77);
	assert_int_equal(vmb_srv_chan_conn_id(ch), 0x1234);
	assert_int_equal(send_relid(f, CHANNELMSG_CLOSECHANNEL, 1), 0);
	assert_int_equal(vmb_srv_chan_conn_id(ch), 0x11);

	o.connection_id = 0x1000000;
	fake_clear(f);
	assert_int_equal(fake_recv(f, 1, &o, sizeof(o)), -EPROTO);
	expect_open_result(&f->sent[0], 1, VMBUS_STATUS_FAILURE);
	o.connection_id = 5;
	o.event_flag = 2048;
	assert_int_equal(fake_recv(f, 1, &o, sizeof(o)), -EPROTO);
	fake_free(f);

	/* Without the feature the extra fields mean nothing. */
	f = fake_new(0, VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS);
	fake_offer(f, 1, 0, false);
	fake_up(f, VERSION_COPPER, 0);
	fake_gpadl(f, 1, 0x500, 0x100, 8);
	o.connection_id = 0x1234;
	o.event_flag = 77;
	assert_int_equal(fake_recv(f, 1, &o, sizeof(o)), 0);
	assert_int_equal(f->last_open.connection_id, 0x11);
	assert_int_equal(f->last_open.event_flag, 1);
	fake_free(f);
}

static int send_modify(struct fake *f, uint32_t relid, uint32_t vp)
{
	struct vmbus_channel_modifychannel m = {
	    .header.msgtype = CHANNELMSG_MODIFYCHANNEL, .child_relid = relid, .target_vp = vp};

	return fake_recv(f, 1, &m, sizeof(m));
}

static void test_modify(void **state)
{
	static const uint32_t versions[] = {VERSION_WIN10, VERSION_WIN10_V4_1, VERSION_WIN10_V5_2,
					    VERSION_WIN10_V5_3, VERSION_COPPER};
	unsigned i;

	(void)state;
	for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		uint32_t v = versions[i];
		bool acks = v >= VERSION_WIN10_V5_3;
		struct fake *f = fake_new(0, 0);

		fake_offer(f, 1, 0, false);
		fake_offer(f, 2, 0, false);
		fake_up(f, v, 0);
		fake_open_channel(f, 1, 0x500);
		if (v < VERSION_WIN10_V4_1) {
			assert_int_equal(send_modify(f, 1, 1), -EBADMSG);
			EXPECT_NONE_SENT(f);
			fake_free(f);
			continue;
		}
		assert_int_equal(send_modify(f, 1, 3), 0);
		EXPECT_EVENTS(f, "retarget 1 3");
		if (acks) {
			EXPECT_TYPES(f, CHANNELMSG_MODIFYCHANNEL_RESPONSE);
			assert_int_equal(msg_u32(&f->sent[0], 8), 1);
			assert_int_equal(msg_u32(&f->sent[0], 12), 0);
		} else {
			EXPECT_NONE_SENT(f);
		}
		/* Bad VP, closed channel, unknown relid. */
		fake_clear(f);
		assert_int_equal(send_modify(f, 1, FAKE_VPS), -EPROTO);
		assert_int_equal(send_modify(f, 2, 0), -EPROTO);
		assert_int_equal(send_modify(f, 9, 0), -EPROTO);
		assert_int_equal(f->nev, 0);
		if (acks) {
			EXPECT_TYPES(f, CHANNELMSG_MODIFYCHANNEL_RESPONSE,
				     CHANNELMSG_MODIFYCHANNEL_RESPONSE,
				     CHANNELMSG_MODIFYCHANNEL_RESPONSE);
			assert_int_equal(msg_u32(&f->sent[0], 12), 0x8000ffff);
			assert_int_equal(msg_u32(&f->sent[2], 8), 9);
		} else {
			EXPECT_NONE_SENT(f);
		}
		fake_free(f);
	}
}

static void test_rescind_unseen(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);

	(void)state;
	fake_connect(f, VERSION_WIN10_V5_3, 0);
	fake_rescind(f, ch);
	EXPECT_EVENTS(f, "released 1");
	EXPECT_NONE_SENT(f);
	assert_null(vmb_server_next(f->s, NULL));
	ch = fake_offer(f, 2, 0, false);
	assert_int_equal(vmb_srv_chan_relid(ch), 1);
	fake_free(f);
}

static void test_rescind_closed(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);
	struct vmbus_channel_open_channel o = open_msg(1, 0x500, 0, 2);

	(void)state;
	fake_up(f, VERSION_WIN10_V5_3, 0);
	fake_gpadl(f, 1, 0x500, 0x100, 4);
	fake_clear(f);
	fake_rescind(f, ch);
	EXPECT_TYPES(f, CHANNELMSG_RESCIND_CHANNELOFFER);
	assert_int_equal(f->sent[0].len, 12);
	assert_int_equal(msg_u32(&f->sent[0], 8), 1);
	assert_int_equal(f->nev, 0);
	assert_int_equal(vmb_srv_chan_state(ch), VMB_SCH_REVOKED);
	assert_int_equal(vmb_server_rescind(f->s, ch), -EINVAL);

	/* OPEN and CLOSE are ignored without a word; teardown answers at once. */
	fake_clear(f);
	assert_int_equal(fake_recv(f, 1, &o, 148), 0);
	assert_int_equal(send_relid(f, CHANNELMSG_CLOSECHANNEL, 1), 0);
	EXPECT_NONE_SENT(f);
	assert_int_equal(f->nlog, 0);
	{
		struct vmbus_channel_gpadl_teardown t = {
		    .header.msgtype = CHANNELMSG_GPADL_TEARDOWN, .child_relid = 1, .gpadl = 0x500};

		assert_int_equal(fake_recv(f, 1, &t, sizeof(t)), 0);
		EXPECT_TYPES(f, CHANNELMSG_GPADL_TORNDOWN);
		EXPECT_EVENTS(f, "removed 0x500");
	}

	/* The relid is not reused until the guest releases it. */
	fake_clear(f);
	assert_int_equal(vmb_srv_chan_relid(fake_offer(f, 2, 0, false)), 2);
	assert_int_equal(send_relid(f, CHANNELMSG_RELID_RELEASED, 1), 0);
	assert_int_equal(send_relid(f, CHANNELMSG_RELID_RELEASED, 1), -EPROTO);
	assert_int_equal(send_relid(f, CHANNELMSG_RELID_RELEASED, 2), -EPROTO);
	EXPECT_EVENTS(f, "released 1");
	assert_int_equal(vmb_srv_chan_relid(fake_offer(f, 3, 0, false)), 1);
	fake_free(f);
}

static void test_rescind_open(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);
	struct vmbus_channel_gpadl_teardown t = {
	    .header.msgtype = CHANNELMSG_GPADL_TEARDOWN, .child_relid = 1, .gpadl = 0x500};

	(void)state;
	fake_up(f, VERSION_WIN10_V5_3, 0);
	fake_open_channel(f, 1, 0x500);
	fake_gpadl(f, 1, 0x600, 0x200, 1);
	/* Teardown of the ring waits for the close that the rescind does. */
	assert_int_equal(fake_recv(f, 1, &t, sizeof(t)), 0);
	fake_clear(f);
	fake_rescind(f, ch);
	EXPECT_EVENTS(f, "close 1", "removed 0x500");
	EXPECT_TYPES(f, CHANNELMSG_GPADL_TORNDOWN, CHANNELMSG_RESCIND_CHANNELOFFER);
	assert_int_equal(msg_u32(&f->sent[0], 8), 0x500);

	/* RELID_RELEASED drops what the guest left behind. */
	fake_clear(f);
	assert_int_equal(send_relid(f, CHANNELMSG_RELID_RELEASED, 1), 0);
	EXPECT_EVENTS(f, "removed 0x600", "released 1");
	assert_int_equal(vmb_server_gpadl_count(f->s), 0);
	fake_free(f);
}

static void test_rescind_gpadl_in_progress(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	uint64_t pfns[30];
	unsigned i;
	size_t len;

	(void)state;
	for (i = 0; i < 30; i++)
		pfns[i] = 0x100 + i;
	fake_up(f, VERSION_WIN10_V5_3, 0);
	len = vmb_gpadl_build(buf, 0, 1, 0x700, pfns, 30);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	EXPECT_NONE_SENT(f);
	assert_int_equal(vmb_server_gpadl_bytes(f->s), 30 * 4096);
	fake_rescind(f, ch);
	EXPECT_TYPES(f, CHANNELMSG_RESCIND_CHANNELOFFER);
	assert_int_equal(vmb_server_gpadl_bytes(f->s), 0);
	/* The rest arrives: a clean failure, then nothing left. */
	fake_clear(f);
	len = vmb_gpadl_build(buf, 1, 1, 0x700, pfns, 30);
	assert_int_equal(fake_recv(f, 1, buf, len), 0);
	EXPECT_TYPES(f, CHANNELMSG_GPADL_CREATED);
	expect_created(&f->sent[0], 1, 0x700, VMBUS_STATUS_FAILURE);
	assert_int_equal(vmb_server_gpadl_count(f->s), 0);
	assert_int_equal(f->nev, 0);
	fake_free(f);
}

static void test_rescind_misuse(void **state)
{
	struct fake *f = fake_new(0, 0);
	struct fake *g = fake_new(0, 0);
	struct vmb_server_channel *ch = fake_offer(f, 1, 0, false);

	(void)state;
	fake_offer(g, 1, 0, false);
	/* A channel of another server. */
	assert_int_equal(vmb_server_rescind(g->s, ch), -EINVAL);
	assert_int_equal(vmb_server_rescind(f->s, NULL), -EINVAL);
	assert_int_equal(vmb_server_offer(f->s, NULL, NULL, &ch), -EINVAL);
	fake_check(f);
	fake_free(g);
	fake_free(f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_offers_then_request),
	    cmocka_unit_test(test_offer_old_versions),
	    cmocka_unit_test(test_offer_primary_first),
	    cmocka_unit_test(test_monitor_ids),
	    cmocka_unit_test(test_relid_exhaustion),
	    cmocka_unit_test(test_open_close),
	    cmocka_unit_test(test_open_invalid),
	    cmocka_unit_test(test_open_target_vp_before_win8),
	    cmocka_unit_test(test_open_channel2),
	    cmocka_unit_test(test_modify),
	    cmocka_unit_test(test_rescind_unseen),
	    cmocka_unit_test(test_rescind_closed),
	    cmocka_unit_test(test_rescind_open),
	    cmocka_unit_test(test_rescind_gpadl_in_progress),
	    cmocka_unit_test(test_rescind_misuse),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
