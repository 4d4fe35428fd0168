/*
 * Guest VMBus client: the guest's control path as a sans-I/O state machine.
 *
 * Host messages go in through vmb_client_recv(); requests (connect, GPADL,
 * open, close, modify, unload) are calls that post messages through the
 * ops table and return at once; their results come back as ops callbacks
 * when the host answers. The client never trusts the host: bogus sizes,
 * duplicate relids, rescinds of unknown channels, answers to requests never
 * made are rejected with one log line. vmb_client_validate() checks the
 * invariants after every step in tests and fuzzers.
 *
 * Not thread safe: the owner serialises all calls (callbacks run inside
 * them, so they must not call back into the client).
 */
#ifndef VMBUS_CLIENT_H
#define VMBUS_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/msg.h"

struct vmb_client;
struct vmb_client_channel;

enum vmb_client_state {
	VMB_CLI_IDLE,	    /* not connected */
	VMB_CLI_CONTACTING, /* INITIATE_CONTACT posted, waiting */
	VMB_CLI_CONNECTED,  /* version agreed */
	VMB_CLI_REQUESTED,  /* REQUESTOFFERS posted, offers arriving */
	VMB_CLI_READY,	    /* ALLOFFERS_DELIVERED seen */
	VMB_CLI_UNLOADING,  /* UNLOAD posted */
	VMB_CLI_FAILED,	    /* no common version */
};

enum vmb_cli_chan_state {
	VMB_CCH_OFFERED,
	VMB_CCH_OPENING, /* OPENCHANNEL posted */
	VMB_CCH_OPEN,
	VMB_CCH_RESCINDED, /* host rescinded; owner must close + release */
};

/* Offer as received (validated copy). */
struct vmb_client_offer {
	struct vmb_guid if_type, if_instance;
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	uint8_t user_def[120];
	uint16_t sub_channel_index;
	uint32_t relid;
	uint8_t monitor_id; /* 0xff = none */
	bool monitor_allocated;
	bool dedicated_interrupt;
	uint32_t connection_id;
};

struct vmb_client_ops {
	/*
	 * HvPostMessage(conn_id, VMBus message). Returns the HV status; the
	 * owner retries HV_STATUS_INSUFFICIENT_BUFFERS itself before returning.
	 */
	int (*post)(void *ctx, uint32_t conn_id, const void *msg, size_t len);
	/* Negotiation finished: version, or 0 when no version was accepted. */
	void (*connected)(void *ctx, uint32_t version);
	void (*offer)(void *ctx, struct vmb_client_channel *ch);
	void (*all_offers)(void *ctx);
	/* Rescind: the owner closes, tears down and calls vmb_client_release(). */
	void (*rescind)(void *ctx, struct vmb_client_channel *ch);
	void (*gpadl_created)(void *ctx, uint32_t handle, uint32_t status);
	void (*gpadl_torndown)(void *ctx, uint32_t handle);
	void (*open_result)(void *ctx, struct vmb_client_channel *ch, uint32_t status);
	void (*modify_result)(void *ctx, struct vmb_client_channel *ch, int32_t status);
	/* Unload finished: every channel has been freed. */
	void (*unloaded)(void *ctx);
	void (*log)(void *ctx, const char *msg);
};

struct vmb_client_config {
	uint32_t max_version;	   /* newest version tried; 0 = 6.0 */
	uint32_t min_version;	   /* oldest; 0 = 0.13 */
	uint32_t target_vcpu;	   /* VP receiving control messages (>= 3.0) */
	uint32_t vp_count;	   /* 0 = 1 */
	uint32_t features;	   /* 6.0 feature flags requested */
	struct vmb_guid client_id; /* sent with VMBUS_FEATURE_CLIENT_ID */
	uint64_t interrupt_page;   /* GPA of the legacy (< 2.4) interrupt page */
	uint64_t monitor_page1;	   /* GPAs of the monitor pages, or both 0 */
	uint64_t monitor_page2;
};

int vmb_client_create(const struct vmb_client_config *cfg, const struct vmb_client_ops *ops,
		      void *ctx, struct vmb_client **out);
void vmb_client_destroy(struct vmb_client *c);

/*
 * Start (or restart, from IDLE, FAILED or CONTACTING) negotiation, newest
 * version first. -ECONNREFUSED when every post was refused.
 */
int vmb_client_connect(struct vmb_client *c);
/* One H->G control message. 0 = handled, -EBADMSG/-EPROTO = rejected. */
int vmb_client_recv(struct vmb_client *c, const void *msg, size_t len);

/* Post REQUESTOFFERS (done automatically after connect). */
int vmb_client_request_offers(struct vmb_client *c);

/* GPADL over n pages for channel ch; *handle = the guest-chosen handle. */
int vmb_client_gpadl_create(struct vmb_client *c, struct vmb_client_channel *ch,
			    const uint64_t *pfns, size_t n, uint32_t *handle);
int vmb_client_gpadl_teardown(struct vmb_client *c, struct vmb_client_channel *ch, uint32_t handle);
int vmb_client_open(struct vmb_client *c, struct vmb_client_channel *ch, uint32_t gpadl,
		    uint32_t downstream_pages, uint32_t target_vp, const void *userdata,
		    size_t userdata_len);
int vmb_client_close(struct vmb_client *c, struct vmb_client_channel *ch);
/* RELID_RELEASED after a rescind (ch is freed). */
int vmb_client_release(struct vmb_client *c, struct vmb_client_channel *ch);
/* MODIFYCHANNEL (>= 4.1); result callback only from 5.3. */
int vmb_client_modify(struct vmb_client *c, struct vmb_client_channel *ch, uint32_t vp);
int vmb_client_unload(struct vmb_client *c);

enum vmb_client_state vmb_client_state(const struct vmb_client *c);
uint32_t vmb_client_version(const struct vmb_client *c);
uint32_t vmb_client_msg_conn_id(const struct vmb_client *c);
struct vmb_client_channel *vmb_client_find(const struct vmb_client *c, uint32_t relid);
struct vmb_client_channel *vmb_client_next(const struct vmb_client *c,
					   const struct vmb_client_channel *prev);

const struct vmb_client_offer *vmb_cli_chan_offer(const struct vmb_client_channel *ch);
enum vmb_cli_chan_state vmb_cli_chan_state(const struct vmb_client_channel *ch);
uint32_t vmb_cli_chan_target_vp(const struct vmb_client_channel *ch);
/* G->H signal connection id (offer's, or legacy 2 before Win7). */
uint32_t vmb_cli_chan_signal_conn(const struct vmb_client_channel *ch);
void vmb_cli_chan_set_priv(struct vmb_client_channel *ch, void *priv);
void *vmb_cli_chan_priv(const struct vmb_client_channel *ch);

int vmb_client_validate(const struct vmb_client *c);

#endif
