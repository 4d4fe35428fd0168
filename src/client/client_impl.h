/*
 * Guest VMBus client internals shared by the files of src/client/.
 */
#ifndef VMB_CLIENT_IMPL_H
#define VMB_CLIENT_IMPL_H

#include <stdarg.h>

#include "vmbus/client.h"
#include "vmbus/proto/channel.h"

enum vmb_cli_gpadl_state {
	VMB_CGP_CREATING, /* GPADL_HEADER (+ BODYs) posted */
	VMB_CGP_READY,	  /* GPADL_CREATED with status 0 */
	VMB_CGP_TEARING,  /* GPADL_TEARDOWN posted */
};

struct vmb_cli_gpadl {
	uint32_t handle;
	uint32_t relid;
	enum vmb_cli_gpadl_state state;
};

struct vmb_client_channel {
	struct vmb_client_offer offer;
	enum vmb_cli_chan_state state;
	bool opened; /* OPENCHANNEL posted and no CLOSECHANNEL since */
	bool modify_pending;
	uint32_t openid;
	uint32_t target_vp;
	void *priv;
};

struct vmb_client {
	struct vmb_client_config cfg;
	struct vmb_client_ops ops;
	void *ctx;
	enum vmb_client_state state;
	uint32_t version;  /* agreed, or the one being tried while CONTACTING */
	uint32_t features; /* 6.0 features agreed */
	unsigned ver_idx;  /* index in vmb_versions of the version being tried */
	uint32_t msg_conn_id;
	uint32_t next_gpadl;
	unsigned nchan;
	uint32_t relid_top;				      /* chan[] is empty above it */
	struct vmb_client_channel *chan[VMBUS_MAX_RELID + 1]; /* by relid */
	struct vmb_cli_gpadl *gpadl;
	size_t ngpadl, gpadl_cap;
};

/* Union big enough for any control message, so received bytes are snapshot. */
union vmb_cli_msg {
	struct vmbus_channel_message_header hdr;
	struct vmbus_channel_offer_channel offer;
	struct vmbus_channel_relid_msg relid;
	struct vmbus_channel_open_channel open;
	struct vmbus_channel_open_result open_result;
	struct vmbus_channel_gpadl_created gpadl_created;
	struct vmbus_channel_gpadl_teardown gpadl_teardown;
	struct vmbus_channel_gpadl_torndown gpadl_torndown;
	struct vmbus_channel_initiate_contact contact;
	struct vmbus_channel_version_response version;
	struct vmbus_channel_modifychannel modify;
	struct vmbus_channel_modifychannel_response modify_resp;
	struct vmbus_channel_tl_connect_result tl_result;
	uint8_t bytes[VMBUS_MAX_MESSAGE_SIZE];
};

void vmb_cli_log(struct vmb_client *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Log "<MSG> rejected: <why>" and return err. */
int vmb_cli_reject(struct vmb_client *c, uint32_t type, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
/* Post on conn_id; a failed hypercall is logged and becomes -EIO. */
int vmb_cli_post_on(struct vmb_client *c, uint32_t conn_id, const void *msg, size_t len);
/* Post on the message connection agreed at negotiation. */
int vmb_cli_post(struct vmb_client *c, const void *msg, size_t len);
/* Post a message that is only a header and a relid. */
int vmb_cli_post_relid(struct vmb_client *c, uint32_t type, uint32_t relid);

bool vmb_cli_has_chan(const struct vmb_client *c, const struct vmb_client_channel *ch);
void vmb_cli_free_chan(struct vmb_client *c, struct vmb_client_channel *ch);
void vmb_cli_free_all(struct vmb_client *c);

struct vmb_cli_gpadl *vmb_cli_gpadl_find(const struct vmb_client *c, uint32_t handle);
void vmb_cli_gpadl_forget_relid(struct vmb_client *c, uint32_t relid);

/* Message handlers: msg already passed vmb_msg_check(). */
int vmb_cli_on_version(struct vmb_client *c, const union vmb_cli_msg *m, size_t len);
int vmb_cli_on_unload_response(struct vmb_client *c);
int vmb_cli_on_offer(struct vmb_client *c, const union vmb_cli_msg *m, size_t len);
int vmb_cli_on_all_offers(struct vmb_client *c);
int vmb_cli_on_rescind(struct vmb_client *c, const union vmb_cli_msg *m);
int vmb_cli_on_open_result(struct vmb_client *c, const union vmb_cli_msg *m);
int vmb_cli_on_modify_response(struct vmb_client *c, const union vmb_cli_msg *m);
int vmb_cli_on_gpadl_created(struct vmb_client *c, const union vmb_cli_msg *m);
int vmb_cli_on_gpadl_torndown(struct vmb_client *c, const union vmb_cli_msg *m);

#endif
