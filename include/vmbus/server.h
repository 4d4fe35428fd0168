/*
 * Host VMBus server: the control path as a sans-I/O state machine.
 *
 * Guest messages go in through vmb_server_recv(); everything the server
 * wants done goes out through the ops table (send a message, open/close a
 * channel toward its device, log). Nothing here blocks or trusts the
 * guest: every unknown,
 * short, wrong-version or wrong-state message is rejected with one log
 * line and the server stays usable. vmb_server_validate() checks the
 * invariants and is meant to run after every step in tests and fuzzers.
 *
 * Not thread safe: the owner serialises all calls, and callbacks must not
 * call back into the server.
 */
#ifndef VMBUS_SERVER_H
#define VMBUS_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/msg.h"

struct vmb_server;
struct vmb_server_channel;

enum vmb_server_state {
	VMB_SRV_DISCONNECTED, /* waiting for INITIATE_CONTACT */
	VMB_SRV_CONNECTED,    /* version agreed, offers not requested yet */
	VMB_SRV_OFFERED,      /* REQUESTOFFERS seen: offers flow */
};

enum vmb_srv_chan_state {
	VMB_SCH_CLOSED,  /* offered, not open */
	VMB_SCH_OPEN,
	VMB_SCH_REVOKED, /* rescinded, waiting for RELID_RELEASED */
};

/* What a device offers. */
struct vmb_offer {
	struct vmb_guid if_type;
	struct vmb_guid if_instance;
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	uint8_t user_def[120];
	uint16_t sub_channel_index; /* 0 = primary */
	bool monitor;              /* allocate a monitor id */
};

/* What the guest asked for in OPENCHANNEL. */
struct vmb_open_params {
	uint32_t openid;
	uint32_t gpadl;          /* ring GPADL handle */
	uint32_t target_vp;
	uint32_t downstream_pages; /* H->G ring starts at this page of the GPADL */
	uint8_t userdata[120];
	uint32_t connection_id;  /* OpenChannel2, else the offer's */
	uint16_t event_flag;     /* H->G event flag (default relid) */
};

/* A completed GPADL: `count` PFNs as sent by the guest, in order. */
struct vmb_gpadl_view {
	uint32_t handle;
	uint32_t relid;
	uint32_t count;
	const uint64_t *pfns;
	uint32_t byte_count;  /* of the single range */
	uint32_t byte_offset;
};

struct vmb_server_ops {
	/* Post one H->G control message to `sint` of `vp`. */
	void (*send)(void *ctx, uint32_t vp, uint32_t sint, const void *msg, size_t len);
	/*
	 * The guest opened a channel: map the ring GPADL and start the device.
	 * Return 0 to report success, a non-zero NTSTATUS-style value to fail
	 * the open (reported to the guest in OPENCHANNEL_RESULT).
	 */
	uint32_t (*open)(void *ctx, struct vmb_server_channel *ch,
			 const struct vmb_open_params *p);
	/* The channel closed (CLOSECHANNEL, rescind, unload or reset). */
	void (*close)(void *ctx, struct vmb_server_channel *ch);
	/* MODIFYCHANNEL: deliver further interrupts to `vp`. */
	void (*retarget)(void *ctx, struct vmb_server_channel *ch, uint32_t vp);
	/* A GPADL is gone: drop any mapping of it. */
	void (*gpadl_removed)(void *ctx, uint32_t handle);
	/* The guest released a rescinded relid; ch is freed after this returns. */
	void (*released)(void *ctx, struct vmb_server_channel *ch);
	/*
	 * A version was negotiated (version != 0), or the connection went away
	 * (UNLOAD, INITIATE_CONTACT again, vmb_server_reset: version == 0).
	 */
	void (*connected)(void *ctx, uint32_t version);
	void (*log)(void *ctx, const char *msg);
};

struct vmb_server_config {
	uint32_t max_version;       /* highest version accepted; 0 = 6.0 */
	uint64_t gpadl_limit;       /* aggregate bytes; 0 = 1280 MiB */
	uint64_t guest_pages;       /* PFNs must be below this */
	uint32_t vp_count;          /* target_vp/target_vcpu must be below this */
	uint32_t features;          /* 6.0 feature flags offered */
};

int vmb_server_create(const struct vmb_server_config *cfg, const struct vmb_server_ops *ops,
		      void *ctx, struct vmb_server **out);
void vmb_server_destroy(struct vmb_server *s);

/*
 * One G->H control message posted to connection `conn_id` (INITIATE_CONTACT
 * must come on 1 below 5.0 and on 4 from 5.0; everything else on the
 * message connection id). 0 = handled, -EBADMSG / -EPROTO = rejected and
 * logged (one line); the server stays consistent.
 */
int vmb_server_recv(struct vmb_server *s, uint32_t conn_id, const void *msg, size_t len);
/* The guest vanished: close every channel, drop every GPADL, forget it. */
void vmb_server_reset(struct vmb_server *s);

/* Offer a device channel (sent now if offers were requested, else queued). */
int vmb_server_offer(struct vmb_server *s, const struct vmb_offer *o, void *dev,
		     struct vmb_server_channel **out);
/* Rescind: the guest must release the relid before it can be reused. */
int vmb_server_rescind(struct vmb_server *s, struct vmb_server_channel *ch);

/* Accessors */
enum vmb_server_state vmb_server_state(const struct vmb_server *s);
uint32_t vmb_server_version(const struct vmb_server *s);
uint32_t vmb_server_target_vcpu(const struct vmb_server *s);
uint32_t vmb_server_msg_conn_id(const struct vmb_server *s);
uint32_t vmb_server_msg_sint(const struct vmb_server *s);
/* Legacy (< 2.4) interrupt page GPA from INITIATE_CONTACT, 0 if none. */
uint64_t vmb_server_interrupt_page(const struct vmb_server *s);
/* Monitor page GPAs (page1 H->G, page2 G->H); both 0 when MNF is off. */
void vmb_server_monitor_pages(const struct vmb_server *s, uint64_t *page1, uint64_t *page2);
/* 6.0 feature flags negotiated (0 below 6.0). */
uint32_t vmb_server_features(const struct vmb_server *s);
/* PAUSE received: H->G messages are held until RESUME. */
bool vmb_server_paused(const struct vmb_server *s);
uint64_t vmb_server_gpadl_bytes(const struct vmb_server *s);
/* GPADLs known, including those still being created. */
unsigned vmb_server_gpadl_count(const struct vmb_server *s);
int vmb_server_gpadl(const struct vmb_server *s, uint32_t handle, struct vmb_gpadl_view *out);
/* Channels in relid order; NULL after the last. */
struct vmb_server_channel *vmb_server_next(const struct vmb_server *s,
					   const struct vmb_server_channel *prev);

uint32_t vmb_srv_chan_relid(const struct vmb_server_channel *ch);
uint32_t vmb_srv_chan_conn_id(const struct vmb_server_channel *ch);
uint32_t vmb_srv_chan_target_vp(const struct vmb_server_channel *ch);
enum vmb_srv_chan_state vmb_srv_chan_state(const struct vmb_server_channel *ch);
const struct vmb_offer *vmb_srv_chan_offer(const struct vmb_server_channel *ch);
void *vmb_srv_chan_dev(const struct vmb_server_channel *ch);
/* Per-channel slot for the host glue (its open-channel state). */
void vmb_srv_chan_set_priv(struct vmb_server_channel *ch, void *priv);
void *vmb_srv_chan_priv(const struct vmb_server_channel *ch);

/* 0 when every invariant holds, else -EFAULT with a log line. */
int vmb_server_validate(const struct vmb_server *s);

#endif
