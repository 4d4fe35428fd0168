/*
 * Test double for the server's ops table, shared by the test_server_*.c
 * binaries: it records every message sent and every device-facing call,
 * and its helpers run vmb_server_validate() after every step.
 */
#ifndef VMB_TEST_SERVER_FAKE_H
#define VMB_TEST_SERVER_FAKE_H

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus/server.h"

#define FAKE_MAX_SENT 4400
#define FAKE_MAX_EV   4400
#define FAKE_VPS      4
#define FAKE_PAGES    (1u << 20) /* 4 GiB of guest memory */

struct sent {
	uint32_t vp, sint;
	size_t len;
	uint8_t b[VMBUS_MAX_MESSAGE_SIZE];
};

struct fake {
	struct vmb_server *s;
	struct sent sent[FAKE_MAX_SENT];
	unsigned nsent;
	char ev[FAKE_MAX_EV][40];
	unsigned nev;
	unsigned nlog;
	char lastlog[256];
	uint32_t open_status;
	struct vmb_open_params last_open;
};

static void fake_send(void *ctx, uint32_t vp, uint32_t sint, const void *msg, size_t len)
{
	struct fake *f = ctx;
	struct sent *m;

	assert_true(f->nsent < FAKE_MAX_SENT);
	assert_true(len >= 8 && len <= VMBUS_MAX_MESSAGE_SIZE);
	m = &f->sent[f->nsent++];
	m->vp = vp;
	m->sint = sint;
	m->len = len;
	memset(m->b, 0, sizeof(m->b));
	memcpy(m->b, msg, len);
}

static void fake_event(struct fake *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void fake_event(struct fake *f, const char *fmt, ...)
{
	va_list ap;

	assert_true(f->nev < FAKE_MAX_EV);
	va_start(ap, fmt);
	vsnprintf(f->ev[f->nev++], sizeof(f->ev[0]), fmt, ap);
	va_end(ap);
}

static uint32_t fake_open(void *ctx, struct vmb_server_channel *ch, const struct vmb_open_params *p)
{
	struct fake *f = ctx;

	f->last_open = *p;
	fake_event(f, "open %u", vmb_srv_chan_relid(ch));
	return f->open_status;
}

static void fake_close(void *ctx, struct vmb_server_channel *ch)
{
	fake_event(ctx, "close %u", vmb_srv_chan_relid(ch));
}

static void fake_retarget(void *ctx, struct vmb_server_channel *ch, uint32_t vp)
{
	fake_event(ctx, "retarget %u %u", vmb_srv_chan_relid(ch), vp);
}

static void fake_gpadl_removed(void *ctx, uint32_t handle)
{
	fake_event(ctx, "removed %#x", handle);
}

static void fake_released(void *ctx, struct vmb_server_channel *ch)
{
	fake_event(ctx, "released %u", vmb_srv_chan_relid(ch));
}

static void fake_connected(void *ctx, uint32_t version)
{
	fake_event(ctx, "connected %#x", version);
}

static void fake_log(void *ctx, const char *msg)
{
	struct fake *f = ctx;

	f->nlog++;
	snprintf(f->lastlog, sizeof(f->lastlog), "%s", msg);
	assert_null(strchr(msg, '\n'));
}

static const struct vmb_server_ops fake_ops = {
    .send = fake_send,
    .open = fake_open,
    .close = fake_close,
    .retarget = fake_retarget,
    .gpadl_removed = fake_gpadl_removed,
    .released = fake_released,
    .connected = fake_connected,
    .log = fake_log,
};

static inline void fake_check(struct fake *f)
{
	unsigned before = f->nlog;

	assert_int_equal(vmb_server_validate(f->s), 0);
	assert_int_equal(f->nlog, before);
}

static inline struct fake *fake_new_cfg(const struct vmb_server_config *cfg)
{
	struct fake *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_int_equal(vmb_server_create(cfg, &fake_ops, f, &f->s), 0);
	fake_check(f);
	return f;
}

static inline struct fake *fake_new(uint32_t max_version, uint32_t features)
{
	struct vmb_server_config cfg = {
	    .max_version = max_version,
	    .guest_pages = FAKE_PAGES,
	    .vp_count = FAKE_VPS,
	    .features = features,
	};

	return fake_new_cfg(&cfg);
}

static inline void fake_free(struct fake *f)
{
	vmb_server_destroy(f->s);
	free(f);
}

static inline void fake_clear(struct fake *f)
{
	f->nsent = 0;
	f->nev = 0;
	f->nlog = 0;
}

static inline uint32_t msg_type(const struct sent *m)
{
	uint32_t t;

	memcpy(&t, m->b, 4);
	return t;
}

static inline uint32_t msg_u32(const struct sent *m, size_t off)
{
	uint32_t v;

	memcpy(&v, m->b + off, 4);
	return v;
}

/* The messages sent since the last fake_clear(), by type, in order. */
static inline void expect_types(const struct fake *f, const uint32_t *types, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && i < f->nsent; i++)
		assert_int_equal(msg_type(&f->sent[i]), types[i]);
	assert_int_equal(f->nsent, n);
}
#define EXPECT_TYPES(f, ...)                                                                       \
	do {                                                                                       \
		const uint32_t want_[] = {__VA_ARGS__};                                            \
		expect_types((f), want_, sizeof(want_) / sizeof(want_[0]));                        \
	} while (0)
#define EXPECT_NONE_SENT(f) assert_int_equal((f)->nsent, 0)

/* The device-facing calls since the last fake_clear(), in order. */
static inline void expect_events(const struct fake *f, const char *const *evs, unsigned n)
{
	unsigned i;

	for (i = 0; i < n && i < f->nev; i++)
		assert_string_equal(f->ev[i], evs[i]);
	assert_int_equal(f->nev, n);
}
#define EXPECT_EVENTS(f, ...)                                                                      \
	do {                                                                                       \
		const char *const want_[] = {__VA_ARGS__};                                         \
		expect_events((f), want_, sizeof(want_) / sizeof(want_[0]));                       \
	} while (0)

/* Feed one message; the invariants must hold afterwards whatever happened. */
static inline int fake_recv(struct fake *f, uint32_t conn, const void *msg, size_t len)
{
	unsigned logs = f->nlog;
	int rc = vmb_server_recv(f->s, conn, msg, len);

	if (rc == 0)
		assert_true(f->nlog - logs <= 1);
	else
		assert_int_equal(f->nlog - logs, 1); /* exactly one line per rejection */
	fake_check(f);
	return rc;
}

/* A rejection leaves the connection state alone. */
static inline void fake_reject(struct fake *f, uint32_t conn, const void *msg, size_t len, int err)
{
	enum vmb_server_state st = vmb_server_state(f->s);
	uint32_t v = vmb_server_version(f->s);

	assert_int_equal(fake_recv(f, conn, msg, len), err);
	assert_int_equal(vmb_server_state(f->s), st);
	assert_int_equal(vmb_server_version(f->s), v);
}

static inline uint32_t conn_for(uint32_t version)
{
	return version >= VERSION_WIN10_V5 ? VMBUS_MESSAGE_CONNECTION_ID_4
					   : VMBUS_MESSAGE_CONNECTION_ID;
}

static inline struct vmbus_channel_initiate_contact contact_msg(uint32_t version)
{
	struct vmbus_channel_initiate_contact c;

	memset(&c, 0, sizeof(c));
	c.header.msgtype = CHANNELMSG_INITIATE_CONTACT;
	c.vmbus_version_requested = version;
	if (version >= VERSION_WIN10_V5)
		c.msg_sint = VMBUS_MESSAGE_SINT;
	else
		c.interrupt_page = 0x1000;
	c.monitor_page1 = 0x2000;
	c.monitor_page2 = 0x3000;
	return c;
}

static inline int send_header(struct fake *f, uint32_t type)
{
	struct vmbus_channel_message_header h = {.msgtype = type};

	return fake_recv(f, VMBUS_MESSAGE_CONNECTION_ID, &h, sizeof(h));
}

static inline int send_relid(struct fake *f, uint32_t type, uint32_t relid)
{
	struct vmbus_channel_relid_msg m = {.header.msgtype = type, .child_relid = relid};

	return fake_recv(f, VMBUS_MESSAGE_CONNECTION_ID, &m, sizeof(m));
}

/* INITIATE_CONTACT accepted at `version`; clears the record. */
static inline void fake_connect(struct fake *f, uint32_t version, uint32_t features)
{
	struct vmbus_channel_initiate_contact c = contact_msg(version);

	c.feature_flags = version >= VERSION_COPPER ? features : c.feature_flags;
	assert_int_equal(fake_recv(f, conn_for(version), &c, 40), 0);
	assert_int_equal(vmb_server_state(f->s), VMB_SRV_CONNECTED);
	assert_int_equal(vmb_server_version(f->s), version);
	fake_clear(f);
}

/* Connected and offers requested. */
static inline void fake_up(struct fake *f, uint32_t version, uint32_t features)
{
	fake_connect(f, version, features);
	assert_int_equal(send_header(f, CHANNELMSG_REQUESTOFFERS), 0);
	assert_int_equal(vmb_server_state(f->s), VMB_SRV_OFFERED);
	fake_clear(f);
}

static inline struct vmb_offer test_offer(uint8_t instance, uint16_t sub, bool monitor)
{
	struct vmb_offer o;

	memset(&o, 0, sizeof(o));
	o.if_type = (struct vmb_guid)VMB_GUID_SCSI;
	o.if_instance.b[0] = instance;
	o.sub_channel_index = sub;
	o.monitor = monitor;
	o.chn_flags = VMBUS_CHANNEL_REQUEST_MONITORED_NOTIFICATION;
	o.user_def[0] = instance;
	return o;
}

static inline struct vmb_server_channel *fake_offer(struct fake *f, uint8_t instance, uint16_t sub,
						    bool monitor)
{
	struct vmb_offer o = test_offer(instance, sub, monitor);
	struct vmb_server_channel *ch = NULL;

	assert_int_equal(vmb_server_offer(f->s, &o, f, &ch), 0);
	assert_non_null(ch);
	assert_ptr_equal(vmb_srv_chan_dev(ch), f);
	fake_check(f);
	return ch;
}

static inline void fake_rescind(struct fake *f, struct vmb_server_channel *ch)
{
	assert_int_equal(vmb_server_rescind(f->s, ch), 0);
	fake_check(f);
}

/* Send a one-range GPADL of n PFNs starting at first_pfn, message by message. */
static inline void fake_gpadl(struct fake *f, uint32_t relid, uint32_t handle, uint64_t first_pfn,
			      size_t n)
{
	uint64_t *pfns = calloc(n, sizeof(*pfns));
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	unsigned i, count = vmb_gpadl_msg_count(n);
	size_t len;

	assert_non_null(pfns);
	for (i = 0; i < n; i++)
		pfns[i] = first_pfn + i;
	for (i = 0; i < count; i++) {
		len = vmb_gpadl_build(buf, i, relid, handle, pfns, n);
		assert_int_equal(fake_recv(f, VMBUS_MESSAGE_CONNECTION_ID, buf, len), 0);
	}
	free(pfns);
}

static inline void expect_created(const struct sent *m, uint32_t relid, uint32_t handle,
				  uint32_t status)
{
	assert_int_equal(msg_type(m), CHANNELMSG_GPADL_CREATED);
	assert_int_equal(m->len, 20);
	assert_int_equal(msg_u32(m, 8), relid);
	assert_int_equal(msg_u32(m, 12), handle);
	assert_int_equal(msg_u32(m, 16), status);
}

static inline struct vmbus_channel_open_channel open_msg(uint32_t relid, uint32_t gpadl,
							 uint32_t vp, uint32_t offset)
{
	struct vmbus_channel_open_channel o;

	memset(&o, 0, sizeof(o));
	o.header.msgtype = CHANNELMSG_OPENCHANNEL;
	o.child_relid = relid;
	o.openid = relid + 100;
	o.ringbuffer_gpadlhandle = gpadl;
	o.target_vp = vp;
	o.downstream_ringbuffer_pageoffset = offset;
	o.userdata[0] = 0x5a;
	return o;
}

static inline void expect_open_result(const struct sent *m, uint32_t relid, uint32_t status)
{
	assert_int_equal(msg_type(m), CHANNELMSG_OPENCHANNEL_RESULT);
	assert_int_equal(m->len, 20);
	assert_int_equal(msg_u32(m, 8), relid);
	assert_int_equal(msg_u32(m, 12), relid + 100);
	assert_int_equal(msg_u32(m, 16), status);
}

/* Ring GPADL of 8 pages on relid, opened with 4 pages each way. */
static inline void fake_open_channel(struct fake *f, uint32_t relid, uint32_t handle)
{
	struct vmbus_channel_open_channel o = open_msg(relid, handle, 0, 4);

	fake_gpadl(f, relid, handle, 0x100, 8);
	fake_clear(f);
	assert_int_equal(fake_recv(f, VMBUS_MESSAGE_CONNECTION_ID, &o, 148), 0);
	assert_int_equal(f->nsent, 1);
	expect_open_result(&f->sent[0], relid, 0);
	fake_clear(f);
}

#endif
