/*
 * Host VMBus server internals shared by the src/server sources.
 *
 * Channels live in a table indexed by relid (relid 0 unused). Each GPADL is
 * on three lists: all GPADLs, newest first (the order of gpadl_removed on
 * unload), its hash bucket (lookup by handle) and its channel's list
 * (close, rescind and release touch only that channel's GPADLs), so no
 * message costs time in proportion to all GPADLs. A failed GPADL is kept
 * (without PFNs or bytes) only until its PFN count is complete, so that the
 * guest gets one GPADL_CREATED per header.
 */
#ifndef VMB_SERVER_PRIV_H
#define VMB_SERVER_PRIV_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/queue.h>

#include "vmbus/server.h"

#define VMB_SRV_MONITOR_IDS 128
#define VMB_SRV_NO_MONITOR  0xffu
/* Connection id of a channel's G->H signal: 0x10 + relid (QEMU convention). */
#define VMB_SRV_CONN_ID_BASE	    0x10u
#define VMB_SRV_DEFAULT_GPADL_LIMIT (1280ull << 20)
/* Features this server implements; cfg.features is masked with it. */
#define VMB_SRV_FEATURES                                                                           \
	(VMBUS_FEATURE_GUEST_SPECIFIED_SIGNAL_PARAMETERS | VMBUS_FEATURE_MODIFY_CONNECTION |       \
	 VMBUS_FEATURE_CLIENT_ID | VMBUS_FEATURE_PAUSE_RESUME)
/* Bounds on what a hostile guest can make us hold. */
#define VMB_SRV_MAX_GPADLS 8192u
#define VMB_SRV_MAX_QUEUED 256u
/*
 * Handles are the guest's choice: a hostile guest can put all of its
 * GPADLs in one bucket, which costs no more than the list this replaced.
 */
#define VMB_SRV_GPADL_HASH_BITS 10
#define VMB_SRV_GPADL_BUCKETS	(1u << VMB_SRV_GPADL_HASH_BITS)
/* TL_CONNECT_RESULT status: STATUS_CONNECTION_REFUSED. */
#define VMB_SRV_CONNECTION_REFUSED ((int32_t)0xc0000236u)

LIST_HEAD(vmb_srv_gpadl_list, vmb_srv_gpadl);

struct vmb_server_channel {
	uint32_t relid;
	enum vmb_srv_chan_state state;
	bool seen;	    /* the guest was sent (or queued) the offer */
	uint8_t monitor_id; /* VMB_SRV_NO_MONITOR when none */
	struct vmb_offer offer;
	void *dev;
	void *priv;
	uint32_t ring_gpadl; /* while OPEN */
	uint32_t target_vp;
	uint32_t conn_id;
	uint16_t event_flag;
	struct vmb_srv_gpadl_list gpadls;
};

struct vmb_srv_gpadl {
	LIST_ENTRY(vmb_srv_gpadl) all_link;  /* s->gpadls */
	LIST_ENTRY(vmb_srv_gpadl) hash_link; /* s->gpadl_hash[] */
	LIST_ENTRY(vmb_srv_gpadl) chan_link; /* its channel's gpadls */
	uint32_t handle;
	uint32_t relid;
	uint32_t total;	   /* PFNs announced by the header */
	uint32_t received; /* PFNs seen so far */
	uint64_t *pfns;	   /* NULL once failed */
	uint32_t byte_count;
	uint32_t byte_offset;
	bool failed;	    /* answer GPADL_CREATED with failure when complete */
	bool teardown_wait; /* TEARDOWN deferred until the owning channel closes */
};

struct vmb_srv_qmsg {
	struct vmb_srv_qmsg *next;
	size_t len;
	uint8_t data[VMBUS_MAX_MESSAGE_SIZE];
};

struct vmb_server {
	struct vmb_server_config cfg;
	const struct vmb_server_ops *ops;
	void *ctx;

	enum vmb_server_state state;
	uint32_t version;
	uint32_t features;
	uint32_t target_vcpu;
	uint32_t msg_sint;
	uint64_t interrupt_page;
	uint64_t monitor_page1, monitor_page2;

	bool paused;
	struct vmb_srv_qmsg *qhead, *qtail;
	unsigned qlen;

	struct vmb_server_channel *chans[VMBUS_MAX_RELID + 1];
	/* Slots above relid_top are all empty; nchans counts the used ones. */
	uint32_t relid_top;
	unsigned nchans;
	uint64_t monitor_used[VMB_SRV_MONITOR_IDS / 64];

	struct vmb_srv_gpadl_list gpadls;
	struct vmb_srv_gpadl_list gpadl_hash[VMB_SRV_GPADL_BUCKETS];
	unsigned gpadl_count;
	uint64_t gpadl_bytes;
};

/* server.c */
void vmb_srv_log(const struct vmb_server *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int vmb_srv_reject(const struct vmb_server *s, uint32_t type, int err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void vmb_srv_send(struct vmb_server *s, const void *msg, size_t len);
void vmb_srv_flush(struct vmb_server *s);
void vmb_srv_drop_connection(struct vmb_server *s);

/* server_conn.c */
int vmb_srv_initiate_contact(struct vmb_server *s, uint32_t conn_id, const void *msg, size_t len);
int vmb_srv_unload(struct vmb_server *s);
int vmb_srv_tl_connect(struct vmb_server *s, const void *msg, size_t len);
int vmb_srv_modify_connection(struct vmb_server *s, const void *msg);
int vmb_srv_pause(struct vmb_server *s);
int vmb_srv_resume(struct vmb_server *s);

/* server_chan.c */
int vmb_srv_request_offers(struct vmb_server *s);
int vmb_srv_open(struct vmb_server *s, const void *msg, size_t len);
int vmb_srv_close(struct vmb_server *s, const void *msg);
int vmb_srv_modify(struct vmb_server *s, const void *msg);
int vmb_srv_relid_released(struct vmb_server *s, const void *msg);
void vmb_srv_chan_do_close(struct vmb_server *s, struct vmb_server_channel *ch);
void vmb_srv_chan_free(struct vmb_server *s, struct vmb_server_channel *ch);
struct vmb_server_channel *vmb_srv_chan_lookup(const struct vmb_server *s, uint32_t relid);

/* server_gpadl.c */
int vmb_srv_gpadl_header(struct vmb_server *s, const void *msg, size_t len);
int vmb_srv_gpadl_body(struct vmb_server *s, const void *msg, size_t len);
int vmb_srv_gpadl_teardown(struct vmb_server *s, const void *msg);
uint32_t vmb_srv_gpadl_bucket(uint32_t handle);
struct vmb_srv_gpadl *vmb_srv_gpadl_find(const struct vmb_server *s, uint32_t handle);
bool vmb_srv_gpadl_complete(const struct vmb_srv_gpadl *g);
void vmb_srv_gpadl_revoke(struct vmb_server *s, uint32_t relid);
void vmb_srv_gpadl_finish_teardowns(struct vmb_server *s, uint32_t relid);
void vmb_srv_gpadl_drop_relid(struct vmb_server *s, uint32_t relid);
void vmb_srv_gpadl_drop_all(struct vmb_server *s);
void vmb_srv_gpadl_free_all(struct vmb_server *s);

#endif
