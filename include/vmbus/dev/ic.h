/*
 * Integration components (ICs, Linux "hv_utils"): the framework shared by
 * heartbeat, shutdown, time sync, KVP, VSS and file copy, plus the three
 * services built here (heartbeat, shutdown, time sync).
 *
 * Every IC packet is an in-band packet in message-pipe mode:
 *   vmbuspipe_hdr (8) | icmsg_hdr (28) | body
 * The host sends a request (icflags TRANSACTION|REQUEST); the guest echoes
 * the same buffer back with icflags TRANSACTION|RESPONSE and a status.
 * The first exchange is always the version negotiation (icmsgtype 0).
 * One transaction is outstanding per channel at a time.
 *
 * Wire facts: PROTOCOL.md 3.10 and 5.1-5.5, 5.8.
 */
#ifndef VMBUS_DEV_IC_H
#define VMBUS_DEV_IC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "vmbus/chan.h"
#include "vmbus/guest.h"
#include "vmbus/host.h"

/* ---- wire formats ----------------------------------------------------- */

#define VMBUS_PIPE_MAX_PAYLOAD 16384u

struct vmbuspipe_hdr {
	uint32_t flags;	  /* pipe packet type: 1 = DATA */
	uint32_t msgsize; /* bytes after this header */
};
_Static_assert(sizeof(struct vmbuspipe_hdr) == 8, "vmbuspipe_hdr");

struct ic_version {
	uint16_t major;
	uint16_t minor;
};
_Static_assert(sizeof(struct ic_version) == 4, "ic_version");

struct icmsg_hdr {
	struct ic_version icverframe;
	uint16_t icmsgtype;
	struct ic_version icvermsg;
	uint16_t icmsgsize; /* body bytes after this header */
	uint32_t status;    /* HRESULT */
	uint8_t ictransaction_id;
	uint8_t icflags;
	uint8_t reserved[2];
};
_Static_assert(sizeof(struct icmsg_hdr) == 20, "icmsg_hdr");

/* pipe header + icmsg header: where every body starts. */
#define ICMSG_HDR 28u
/* Largest IC message (pipe header included) either end accepts (OpenVMM). */
#define VMB_IC_MAX_MSG 13312u

enum {
	ICMSGTYPE_NEGOTIATE = 0,
	ICMSGTYPE_HEARTBEAT = 1,
	ICMSGTYPE_KVPEXCHANGE = 2,
	ICMSGTYPE_SHUTDOWN = 3,
	ICMSGTYPE_TIMESYNC = 4,
	ICMSGTYPE_VSS = 5,
	ICMSGTYPE_RDV = 6,
	ICMSGTYPE_FCOPY = 7,
	ICMSGTYPE_VM_SESSION = 8,
};

#define ICMSGHDRFLAG_TRANSACTION 1u
#define ICMSGHDRFLAG_REQUEST	 2u
#define ICMSGHDRFLAG_RESPONSE	 4u

/* Status codes (HRESULTs), PROTOCOL.md 5.8. */
#define HV_S_OK			      0x00000000u
#define HV_E_FAIL		      0x80004005u
#define HV_S_CONT		      0x80070103u
#define HV_ERROR_NOT_SUPPORTED	      0x80070032u
#define HV_ERROR_MACHINE_LOCKED	      0x800704F7u
#define HV_ERROR_DEVICE_NOT_CONNECTED 0x8007048Fu
#define HV_INVALIDARG		      0x80070057u
#define HV_GUID_NOTFOUND	      0x80041002u
#define HV_ERROR_ALREADY_EXISTS	      0x80070050u
#define HV_ERROR_DISK_FULL	      0x80070070u

/* Negotiate body: counts, then framework versions, then message versions. */
struct icmsg_negotiate {
	uint16_t icframe_vercnt;
	uint16_t icmsg_vercnt;
	uint32_t reserved;
	/* struct ic_version icversion_data[icframe_vercnt + icmsg_vercnt]; */
};
_Static_assert(sizeof(struct icmsg_negotiate) == 8, "icmsg_negotiate");
#define VMB_IC_MAX_VERSIONS 100u

/*
 * Heartbeat body. The host sends 40 bytes because Linux drops anything
 * shorter than its view (u64 + 8 x u32); receivers only need 8.
 */
struct heartbeat_msg_data {
	uint64_t seq_num;
	uint32_t application_state; /* 0 unknown, 1 healthy, 2 critical, 3 stopped */
	uint32_t reserved[7];
};
_Static_assert(sizeof(struct heartbeat_msg_data) == 40, "heartbeat body");
#define VMB_HB_MIN_BODY 8u

/* Shutdown body. */
struct shutdown_msg_data {
	uint32_t reason_code;
	uint32_t timeout_seconds;
	uint32_t flags;
	uint8_t display_message[2048];
};
_Static_assert(sizeof(struct shutdown_msg_data) == 2060, "shutdown body");
#define VMB_SHUTDOWN_MIN_BODY	    12u
#define VMB_SHUTDOWN_FLAG_FORCE	    0x1u
#define VMB_SHUTDOWN_FLAG_REBOOT    0x2u
#define VMB_SHUTDOWN_FLAG_HIBERNATE 0x4u
#define VMB_SHTDN_REASON_PLANNED    0x80000000u

/* Time sync body, message versions < 4.0 (25 bytes used, padded to 28). */
struct ictimesync_data {
	uint64_t parenttime;
	uint64_t childtime;
	uint64_t roundtriptime;
	uint8_t flags;
	uint8_t reserved[3];
};
_Static_assert(sizeof(struct ictimesync_data) == 32, "ictimesync_data (aligned)");
#define VMB_TS_OLD_MIN_BODY 25u

/* Time sync body, message version 4.0 (22 bytes read by Linux, 24 sent). */
struct ictimesync_ref_data {
	uint64_t parenttime;
	uint64_t vmreferencetime;
	uint8_t flags;
	int8_t leapflags;
	int8_t stratum;
	uint8_t reserved[5];
};
_Static_assert(sizeof(struct ictimesync_ref_data) == 24, "ictimesync_ref_data");
#define VMB_TS_REF_MIN_BODY 17u
#define VMB_TS_REF_BODY	    24u

#define ICTIMESYNCFLAG_PROBE  0u
#define ICTIMESYNCFLAG_SYNC   1u
#define ICTIMESYNCFLAG_SAMPLE 2u
/* 100 ns units between 1601-01-01 and 1970-01-01. */
#define VMB_WLTIMEDELTA 116444736000000000ull

/* Well-known instance GUIDs (Hyper-V/OpenVMM). */
#define VMB_GUID_SHUTDOWN_INSTANCE                                                                 \
	VMB_GUID_INIT(0xb6650ff7, 0x33bc, 0x4840, 0x80, 0x48, 0xe0, 0x67, 0x67, 0x86, 0xf3, 0x93)
#define VMB_GUID_TIMESYNC_INSTANCE                                                                 \
	VMB_GUID_INIT(0x2dd1ce17, 0x079e, 0x403c, 0xb3, 0x52, 0xa1, 0x92, 0x1e, 0xe2, 0x07, 0xee)
#define VMB_GUID_KVP_INSTANCE                                                                      \
	VMB_GUID_INIT(0x242ff919, 0x07db, 0x4180, 0x9c, 0x2e, 0xb8, 0x6c, 0xb6, 0x8c, 0x8c, 0x55)
#define VMB_GUID_FCOPY_INSTANCE                                                                    \
	VMB_GUID_INIT(0xeb765408, 0x105f, 0x49b6, 0xb4, 0xaa, 0xc1, 0x23, 0xb6, 0x4d, 0x17, 0xd4)
/* No well-known instance is documented for these two: fixed ones of ours. */
#define VMB_GUID_HEARTBEAT_INSTANCE                                                                \
	VMB_GUID_INIT(0xfedf8b18, 0x4f66, 0x4d4a, 0x8a, 0x83, 0x1a, 0x6f, 0x12, 0x3b, 0x5d, 0x01)
#define VMB_GUID_VSS_INSTANCE                                                                      \
	VMB_GUID_INIT(0xfedf8b18, 0x4f66, 0x4d4a, 0x8a, 0x83, 0x1a, 0x6f, 0x12, 0x3b, 0x5d, 0x02)

/* Offer: message-pipe mode. */
#define VMB_IC_CHN_FLAGS	 0x0011u /* ENUMERATE_DEVICE_INTERFACE | NAMED_PIPE_MODE */
#define VMB_IC_PIPE_MODE_MESSAGE 4u
#define VMB_IC_RING_BYTES	 (4u * 4096u) /* each direction, as Linux opens ICs */

/* ---- message helpers (pure) ------------------------------------------ */

#define VMB_IC_VER(maj, min) ((struct ic_version){(maj), (min)})

/* Framework versions: 3.0 (UTIL_FW_VERSION) and 1.0 (WS2008). */
extern const struct ic_version vmb_ic_fw_versions[2];

/* A received IC message, validated; body points into the caller's buffer. */
struct vmb_ic_msg {
	struct icmsg_hdr hdr;
	uint8_t *body;
	uint32_t body_len; /* bytes present after ICMSG_HDR (>= hdr.icmsgsize) */
	uint32_t len;	   /* ICMSG_HDR + body_len: bytes to echo back */
};

/*
 * Validate pipe + IC headers of buf[0..len) (a private copy of the packet
 * payload): DATA pipe type, msgsize within len, at least the IC header,
 * icmsgsize within what is present, total <= VMB_IC_MAX_MSG.
 * -EBADMSG when malformed.
 */
int vmb_ic_parse(void *buf, size_t len, struct vmb_ic_msg *m);

/*
 * Build a request into buf (cap bytes): pipe header, icmsg_hdr with the
 * given versions, msgtype, TRANSACTION|REQUEST, and body. Returns the
 * total length or -EINVAL when it does not fit.
 */
int vmb_ic_build(void *buf, size_t cap, uint16_t msgtype, struct ic_version fw,
		 struct ic_version msgver, uint8_t xid, const void *body, uint32_t body_len);

/* Host: build the negotiate request offering both lists (<= 100 each). */
int vmb_ic_build_negotiate(void *buf, size_t cap, uint8_t xid, const struct ic_version *fw,
			   unsigned nfw, const struct ic_version *msg, unsigned nmsg);

/*
 * Guest: answer a negotiate request in place (m from vmb_ic_parse). Picks the
 * first of fw_pref present in the host's framework list and the first of
 * msg_pref in its message list (both in preference order, highest first) and
 * rewrites the body to counts 1/1 + the pair, icmsgsize 16. Nothing common:
 * counts 0/0 and -ENOTSUP (the reply is still sent, as Linux does).
 * -EBADMSG for a malformed request.
 */
int vmb_ic_negotiate_pick(struct vmb_ic_msg *m, const struct ic_version *fw_pref, unsigned nfw,
			  const struct ic_version *msg_pref, unsigned nmsg, struct ic_version *fw,
			  struct ic_version *msgver);

/*
 * Host: check the guest's negotiate response against what was offered:
 * counts 1/1 and both versions in the offered lists. -ENOTSUP when the
 * guest found nothing in common, -EBADMSG otherwise.
 */
int vmb_ic_negotiate_result(const struct vmb_ic_msg *m, const struct ic_version *fw, unsigned nfw,
			    const struct ic_version *msg, unsigned nmsg, struct ic_version *fw_out,
			    struct ic_version *msg_out);

/* ---- guest side ------------------------------------------------------ */

/*
 * A guest IC service. request() gets every non-negotiate request with the
 * body in place in the response buffer (modify it to answer). It returns
 * VMB_IC_REPLY (reply now with *status), VMB_IC_DEFER (the service calls
 * vmb_ic_guest_reply() later; body stays valid until then) or -errno (drop,
 * no reply). It runs on a VP thread with the IC's lock held: it must not
 * block nor call vmb_ic_guest_*() on the same IC.
 */
#define VMB_IC_REPLY 0
#define VMB_IC_DEFER 1

struct vmb_ic_guest;

struct vmb_ic_guest_service {
	const char *name;
	uint16_t msgtype;
	const struct ic_version *fw_versions; /* preference order */
	unsigned nfw;
	const struct ic_version *msg_versions;
	unsigned nmsg;
	int (*request)(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status);
	void *ctx;
};

/* The pure per-channel state machine (no channel): tests and fuzzers. */
struct vmb_ic_guest_sm {
	const struct vmb_ic_guest_service *svc;
	bool negotiated;
	struct ic_version fw, msgver;
	bool deferred; /* a request waits for vmb_ic_guest_reply() */
	uint64_t requests, rejected;
};

/*
 * Process one request in buf[0..len) in place. Returns VMB_IC_REPLY with
 * *out_len = bytes to send back, VMB_IC_DEFER, or -errno (dropped; logged by
 * the caller). Responses and non-request messages are -EBADMSG.
 */
int vmb_ic_guest_process(struct vmb_ic_guest_sm *sm, struct vmb_ic_guest *ic, void *buf, size_t len,
			 size_t *out_len);

/* Open the device's channel in pipe mode and serve svc on it. */
int vmb_ic_guest_open(struct vmb_device *dev, const struct vmb_ic_guest_service *svc,
		      struct vmb_ic_guest **out);
/* Close the channel (remove path). */
void vmb_ic_guest_close(struct vmb_ic_guest *ic);
/* Send the reply of a deferred request with this status. -EALREADY if none. */
int vmb_ic_guest_reply(struct vmb_ic_guest *ic, uint32_t status);
/*
 * Same, replacing the first body_len bytes of the deferred request's body
 * with body first (an answer computed after the handler returned, e.g. by a
 * user-space daemon). The message keeps its length: -EMSGSIZE when body_len
 * exceeds the request's body, -EALREADY if nothing is deferred.
 */
int vmb_ic_guest_reply_body(struct vmb_ic_guest *ic, uint32_t status, const void *body,
			    uint32_t body_len);
/* Negotiated versions; false before negotiation. */
bool vmb_ic_guest_versions(struct vmb_ic_guest *ic, struct ic_version *fw,
			   struct ic_version *msgver);
struct vmb_device *vmb_ic_guest_device(struct vmb_ic_guest *ic);

/* ---- host side ------------------------------------------------------- */

struct vmb_ic_host;

/*
 * Result of a host request: err 0 with the guest's response (m valid, its
 * status in m->hdr.status), -ETIMEDOUT, -ECANCELED (channel closed) or
 * -EBADMSG (malformed response). Runs on the host loop thread (response) or
 * the IC's timer thread (timeout, cancel) without any IC lock held.
 */
typedef void (*vmb_ic_done_fn)(void *arg, struct vmb_ic_host *ic, int err,
			       const struct vmb_ic_msg *m);

struct vmb_ic_host_service {
	const char *name; /* device name for logs / `vmbus ls` */
	uint16_t msgtype;
	struct vmb_guid class_id, instance_id;
	const struct ic_version *fw_versions;
	unsigned nfw;
	const struct ic_version *msg_versions;
	unsigned nmsg;
	/* Called on the timer thread every tick_ms (0 = never), with now in ms. */
	unsigned tick_ms;
	void (*tick)(void *ctx, struct vmb_ic_host *ic, uint64_t now_ms);
	/* Negotiation finished: 0 (versions available) or -errno. May be NULL. */
	void (*ready)(void *ctx, struct vmb_ic_host *ic, int err);
	/* The IC is gone for good: free ctx. May be NULL. */
	void (*release)(void *ctx);
	void *ctx;
};

/* Offer the IC; a timer thread per IC negotiates, times out and ticks. */
int vmb_ic_host_add(struct vmb_host *h, const struct vmb_ic_host_service *svc,
		    struct vmb_ic_host **out);
/*
 * Send one request (body of body_len bytes, versions as negotiated).
 * -ENOTCONN before negotiation, -EBUSY while another is outstanding.
 * done runs exactly once when 0 is returned.
 */
int vmb_ic_host_request(struct vmb_ic_host *ic, const void *body, uint32_t body_len, int timeout_ms,
			vmb_ic_done_fn done, void *arg);
/*
 * Blocking form for ctl threads (never the loop thread): waits for the
 * negotiation too (up to timeout_ms). *status = guest status; resp/resp_len
 * (may be NULL) receive a copy of the response body.
 */
int vmb_ic_host_request_sync(struct vmb_ic_host *ic, const void *body, uint32_t body_len,
			     int timeout_ms, uint32_t *status, void *resp, uint32_t resp_cap,
			     uint32_t *resp_len);
bool vmb_ic_host_versions(struct vmb_ic_host *ic, struct ic_version *fw, struct ic_version *msgver);
struct vmb_host *vmb_ic_host_host(struct vmb_ic_host *ic);
/* Monotonic milliseconds, the clock the timer thread passes to tick(). */
uint64_t vmb_ic_now_ms(void);

/* ---- heartbeat ------------------------------------------------------- */

enum vmb_hb_state { VMB_HB_WAITING, VMB_HB_ALIVE, VMB_HB_MISSING };

/* Pure liveness tracker (host). */
struct vmb_hb_tracker {
	unsigned timeout_ms;
	uint64_t start_ms, last_ok_ms;
	uint64_t next_seq; /* seq_num of the next request */
	uint64_t sent, answered, bad;
	bool ever_answered;
	enum vmb_hb_state reported;
};
void vmb_hb_init(struct vmb_hb_tracker *t, unsigned timeout_ms, uint64_t now_ms);
/* The guest answered seq (request seq_num was req_seq): 0 or -EPROTO. */
int vmb_hb_answer(struct vmb_hb_tracker *t, uint64_t req_seq, uint64_t seq, uint64_t now_ms);
enum vmb_hb_state vmb_hb_state(const struct vmb_hb_tracker *t, uint64_t now_ms);
const char *vmb_hb_state_name(enum vmb_hb_state s);

struct vmb_hb_host;
struct vmb_hb_host_config {
	unsigned period_ms;  /* 0 = 1000 */
	unsigned timeout_ms; /* 0 = 5000 */
};
/* Offer heartbeat; registers `vmbus ctl heartbeat`. */
int vmb_hb_host_add(struct vmb_host *h, const struct vmb_hb_host_config *cfg,
		    struct vmb_hb_host **out);
struct vmb_hb_status {
	enum vmb_hb_state state;
	uint64_t sent, answered, bad;
	uint64_t last_answer_ago_ms; /* UINT64_MAX when never */
};
void vmb_hb_host_status(struct vmb_hb_host *hb, struct vmb_hb_status *st);

struct vmb_hb_guest;
int vmb_hb_guest_register(struct vmb_guest *g, struct vmb_hb_guest **out);
void vmb_hb_guest_free(struct vmb_hb_guest *hg);
/* Requests answered so far. */
uint64_t vmb_hb_guest_answered(struct vmb_hb_guest *hg);

/* ---- shutdown -------------------------------------------------------- */

struct vmb_sd_host;
/* Offer shutdown; registers `vmbus ctl shutdown [--reboot] [--force]`. */
int vmb_sd_host_add(struct vmb_host *h, struct vmb_sd_host **out);
/*
 * Ask the guest to shut down (flags VMB_SHUTDOWN_FLAG_*); waits up to
 * timeout_ms. 0 = the guest accepted; -EPERM = the guest refused
 * (*status has its HRESULT); -ENOTCONN/-ETIMEDOUT otherwise.
 */
int vmb_sd_host_request(struct vmb_sd_host *sd, uint32_t flags, int timeout_ms, uint32_t *status);

/*
 * Guest side. action() runs after the success reply was sent, on a thread
 * of the shutdown driver; NULL = vmb_guest_stop(). allow=false refuses
 * every request with HV_E_FAIL.
 */
struct vmb_sd_guest_config {
	bool allow;
	void (*action)(void *arg, uint32_t flags);
	void *arg;
};
struct vmb_sd_guest;
int vmb_sd_guest_register(struct vmb_guest *g, const struct vmb_sd_guest_config *cfg,
			  struct vmb_sd_guest **out);
/* Stops the action thread; call before vmb_guest_destroy(). */
void vmb_sd_guest_stop(struct vmb_sd_guest *sg);
void vmb_sd_guest_free(struct vmb_sd_guest *sg);
/* Decide the reply status for a request body (pure; tests). */
uint32_t vmb_sd_guest_decide(bool allow, const uint8_t *body, uint32_t body_len, uint32_t *flags);

/* ---- time sync ------------------------------------------------------- */

/* Host clock as the wire carries it: 100 ns units since 1601. */
uint64_t vmb_ts_wall_now(void);

struct vmb_ts_host;
struct vmb_ts_host_config {
	unsigned period_ms; /* 0 = 5000 */
};
int vmb_ts_host_add(struct vmb_host *h, const struct vmb_ts_host_config *cfg,
		    struct vmb_ts_host **out);
/* Samples the guest acknowledged. */
uint64_t vmb_ts_host_samples(struct vmb_ts_host *th);

/*
 * Guest estimate of the host's time for one sample, pure: v4 = parenttime +
 * (ref_now - vmreferencetime); older = parenttime. Returns the offset
 * host - guest in 100 ns units, or -EBADMSG in *err for a short body.
 */
struct vmb_ts_sample {
	int64_t offset; /* host wall clock - guest wall clock, 100 ns units */
	uint8_t flags;	/* ICTIMESYNCFLAG_* */
	bool v4;
};
int vmb_ts_parse_sample(const uint8_t *body, uint32_t body_len, struct ic_version msgver,
			uint64_t ref_now, uint64_t guest_wall_now, struct vmb_ts_sample *out);

struct vmb_ts_guest;
struct vmb_ts_guest_config {
	const char *state_path; /* write "offset_ns samples flags\n" here, or NULL */
};
int vmb_ts_guest_register(struct vmb_guest *g, const struct vmb_ts_guest_config *cfg,
			  struct vmb_ts_guest **out);
void vmb_ts_guest_free(struct vmb_ts_guest *tg);
struct vmb_ts_status {
	int64_t offset_ns; /* last host - guest offset */
	uint64_t samples;
	uint8_t last_flags;
};
void vmb_ts_guest_status(struct vmb_ts_guest *tg, struct vmb_ts_status *st);
/* The guest's own adjusted clock: CLOCK_REALTIME + the last offset. */
int vmb_ts_guest_realtime(struct vmb_ts_guest *tg, struct timespec *ts);

#endif
