/*
 * KVP, VSS and file copy (fcopy): wire formats (PROTOCOL.md 5.6-5.9) and
 * the sans-I/O pieces of both ends. Every body here is what follows the
 * 28-byte icmsg header; the IC framework (ic.h) owns that header and the
 * HV_* status codes.
 *
 * Strings are UTF-16LE on the wire and UTF-8 everywhere else (pool files,
 * the Linux daemon interface, `vmbus ctl`).
 */
#ifndef VMBUS_DEV_IC_SERVICES_H
#define VMBUS_DEV_IC_SERVICES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/dev/ic.h"

/* ---- UTF-16LE <-> UTF-8 ---- */

/*
 * Convert `units` UTF-16LE code units (stops at a NUL unit) to a NUL
 * terminated UTF-8 string. Returns its length, -EILSEQ for an unpaired
 * surrogate, -ENAMETOOLONG when it does not fit in cap bytes.
 */
int vmb_utf16_to_utf8(const uint8_t *in, size_t units, char *out, size_t cap);
/*
 * Convert a NUL terminated UTF-8 string to UTF-16LE with a NUL unit.
 * Returns the bytes written including the NUL, -EILSEQ for bad UTF-8,
 * -ENAMETOOLONG when it does not fit in cap bytes.
 */
int vmb_utf8_to_utf16(const char *in, uint8_t *out, size_t cap);

/* ==== KVP (icmsgtype 2) ==== */

#define HV_KVP_EXCHANGE_MAX_KEY_SIZE   512
#define HV_KVP_EXCHANGE_MAX_VALUE_SIZE 2048
#define HV_KVP_POOL_COUNT	       5

enum hv_kvp_op {
	KVP_OP_GET = 0,
	KVP_OP_SET = 1,
	KVP_OP_DELETE = 2,
	KVP_OP_ENUMERATE = 3,
	KVP_OP_GET_IP_INFO = 4,
	KVP_OP_SET_IP_INFO = 5,
};

enum hv_kvp_pool {
	KVP_POOL_EXTERNAL = 0,
	KVP_POOL_GUEST = 1,
	KVP_POOL_AUTO = 2,
	KVP_POOL_AUTO_EXTERNAL = 3,
	KVP_POOL_AUTO_INTERNAL = 4,
};

#define REG_SZ	      1
#define REG_EXPAND_SZ 2
#define REG_U32	      4
#define REG_U64_LINUX 8
#define REG_QWORD     11

struct hv_kvp_hdr {
	uint8_t operation;
	uint8_t pool;
	uint16_t pad;
} __attribute__((packed));

struct hv_kvp_exchg_msg_value {
	uint32_t value_type;
	uint32_t key_size;   /* bytes incl. the NUL unit */
	uint32_t value_size; /* bytes incl. the NUL unit (strings) */
	uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
	uint8_t value[HV_KVP_EXCHANGE_MAX_VALUE_SIZE]; /* or u32 / u64 */
} __attribute__((packed));

struct hv_kvp_msg_value { /* GET, SET */
	struct hv_kvp_hdr hdr;
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));

struct hv_kvp_msg_delete {
	struct hv_kvp_hdr hdr;
	uint32_t key_size;
	uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
} __attribute__((packed));

struct hv_kvp_msg_enumerate {
	struct hv_kvp_hdr hdr;
	uint32_t index;
	struct hv_kvp_exchg_msg_value data;
} __attribute__((packed));

#define MAX_ADAPTER_ID_SIZE 128
#define MAX_IP_ADDR_SIZE    1024
#define MAX_GATEWAY_SIZE    512

/* GET/SET_IP_INFO: no pad after operation/pool. Arrays are UTF-16 units. */
struct hv_kvp_ip_msg {
	uint8_t operation;
	uint8_t pool;
	uint16_t adapter_id[MAX_ADAPTER_ID_SIZE];
	uint8_t addr_family; /* 1 IPv4, 2 IPv6, 3 both */
	uint8_t dhcp_enabled;
	uint16_t ip_addr[MAX_IP_ADDR_SIZE];
	uint16_t sub_net[MAX_IP_ADDR_SIZE];
	uint16_t gate_way[MAX_GATEWAY_SIZE];
	uint16_t dns_addr[MAX_IP_ADDR_SIZE];
} __attribute__((packed));

_Static_assert(sizeof(struct hv_kvp_exchg_msg_value) == 2572, "kvp value record");
_Static_assert(sizeof(struct hv_kvp_msg_value) == 2576, "kvp get/set");
_Static_assert(sizeof(struct hv_kvp_msg_delete) == 520, "kvp delete");
_Static_assert(sizeof(struct hv_kvp_msg_enumerate) == 2580, "kvp enumerate");
_Static_assert(sizeof(struct hv_kvp_ip_msg) == 7428, "kvp ip info");
_Static_assert(offsetof(struct hv_kvp_ip_msg, addr_family) == 258, "ip addr_family");
_Static_assert(offsetof(struct hv_kvp_ip_msg, dns_addr) == 5380, "ip dns_addr");

/* Pool strings in UTF-8, as the Linux daemon stores them (NUL included). */
#define VMB_KVP_KEY_MAX	  HV_KVP_EXCHANGE_MAX_KEY_SIZE
#define VMB_KVP_VALUE_MAX HV_KVP_EXCHANGE_MAX_VALUE_SIZE

/* A KVP request body, decoded and validated. */
struct vmb_kvp_req {
	uint8_t op;
	uint8_t pool;
	uint32_t index;	     /* ENUMERATE */
	uint32_t value_type; /* SET */
	char key[VMB_KVP_KEY_MAX];
	char value[VMB_KVP_VALUE_MAX];	       /* SET; numbers as decimal text */
	char adapter[MAX_ADAPTER_ID_SIZE * 3]; /* GET_IP_INFO */
};

/*
 * Decode a KVP body of len bytes. -EBADMSG: truncated or inconsistent
 * sizes; -EINVAL: unknown operation or pool; -ENAMETOOLONG / -EILSEQ: a
 * string that cannot be stored.
 */
int vmb_kvp_decode(const void *body, size_t len, struct vmb_kvp_req *r);
/* Bytes of the body an operation needs (0 for an unknown operation). */
size_t vmb_kvp_body_size(uint8_t op);
/*
 * Build a host request body in buf (cap >= sizeof(struct hv_kvp_ip_msg)).
 * Returns its length or -errno.
 */
int vmb_kvp_build(const struct vmb_kvp_req *r, void *buf, size_t cap);
/* Write key/value (UTF-8) as REG_SZ into a value record. */
int vmb_kvp_put_record(struct hv_kvp_exchg_msg_value *rec, const char *key, const char *value);
/* Read key/value back from a record (any value type; numbers as text). */
int vmb_kvp_get_record(const struct hv_kvp_exchg_msg_value *rec, char *key, char *value);

/* ---- pool files: the Linux daemon's format (/var/lib/hyperv/.kvp_pool_N) ---- */

struct vmb_kvp_record { /* UTF-8, NUL padded */
	char key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
	char value[HV_KVP_EXCHANGE_MAX_VALUE_SIZE];
};
_Static_assert(sizeof(struct vmb_kvp_record) == 2560, "daemon pool record");

struct vmb_kvp_store;
/* Open (creating dir and the five pool files when missing). */
int vmb_kvp_store_open(const char *dir, struct vmb_kvp_store **out);
void vmb_kvp_store_close(struct vmb_kvp_store *s);
/* -ENOENT when the key is absent. */
int vmb_kvp_store_get(struct vmb_kvp_store *s, unsigned pool, const char *key, char *value);
int vmb_kvp_store_set(struct vmb_kvp_store *s, unsigned pool, const char *key, const char *value);
int vmb_kvp_store_delete(struct vmb_kvp_store *s, unsigned pool, const char *key);
/* The index-th record of a pool; -ENOENT past the end. */
int vmb_kvp_store_enum(struct vmb_kvp_store *s, unsigned pool, uint32_t index, char *key,
		       char *value);

/*
 * The guest's answer to one KVP request: body (len bytes) is rewritten in
 * place as the response and the HRESULT status is returned. Pool 2 (AUTO)
 * enumerates the guest's intrinsic values (host name, OS, addresses).
 */
uint32_t vmb_kvp_guest_answer(struct vmb_kvp_store *s, void *body, size_t len);

/* ---- the Linux kernel <-> hv_kvp_daemon interface (uapi/linux/hyperv.h) ---- */

#define KVP_OP_REGISTER	 4   /* legacy daemons: "no more items" is an empty key */
#define KVP_OP_REGISTER1 100 /* the daemon puts its HRESULT in msg.error */
/* The version string the kernel hands a registering daemon. */
#define VMB_KVP_DRV_VERSION "3.1"

/* What read() and write() on /dev/vmbus/hv_kvp carry, strings in UTF-8. */
struct hv_kvp_msg {
	union {
		struct hv_kvp_hdr kvp_hdr;
		int32_t error;
	} __attribute__((packed));
	union {
		struct hv_kvp_exchg_msg_value rec; /* kvp_get, kvp_set */
		struct {
			uint32_t key_size;
			uint8_t key[HV_KVP_EXCHANGE_MAX_KEY_SIZE];
		} __attribute__((packed)) del;
		struct {
			uint32_t index;
			struct hv_kvp_exchg_msg_value data;
		} __attribute__((packed)) en;
		/*
		 * kvp_ip_val is 7426 bytes, but Linux's body union is not packed:
		 * its u32 members round it up to 7428, so read() and write()
		 * carry 7432 bytes.
		 */
		uint8_t ip_val[sizeof(struct hv_kvp_ip_msg)];
		uint8_t version[HV_KVP_EXCHANGE_MAX_KEY_SIZE]; /* kvp_register */
	} __attribute__((packed)) body;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_kvp_msg) == 7432, "hv_kvp_msg (as the daemon writes it)");

/*
 * Translate a host request body (wire, UTF-16) into the message the daemon
 * reads. GET/SET/DELETE/ENUMERATE only: -EOPNOTSUPP for the IP-info
 * operations (answered by the guest itself), vmb_kvp_decode() errors for a
 * malformed body.
 */
int vmb_kvp_daemon_request(const void *body, size_t len, struct hv_kvp_msg *out);
/*
 * Fold the daemon's answer d into the host request body (rewritten in place
 * as the response) and return the HRESULT for the host. reg_op is what the
 * daemon registered with (KVP_OP_REGISTER1 or the legacy KVP_OP_REGISTER).
 */
uint32_t vmb_kvp_daemon_answer(const struct hv_kvp_msg *d, int reg_op, void *body, size_t len);

/* ==== VSS (icmsgtype 5) ==== */

enum hv_vss_op {
	VSS_OP_CREATE = 0,
	VSS_OP_DELETE = 1,
	VSS_OP_HOT_BACKUP = 2,
	VSS_OP_GET_DM_INFO = 3,
	VSS_OP_BU_COMPLETE = 4,
	VSS_OP_FREEZE = 5,
	VSS_OP_THAW = 6,
	VSS_OP_AUTO_RECOVER = 7,
	VSS_OP_COUNT = 8,
};

#define VSS_HBU_NO_AUTO_RECOVERY 0x5u

struct hv_vss_hdr {
	uint8_t operation;
	uint8_t reserved[7];
} __attribute__((packed));

/* The part of every VSS body both ends use (Linux parses these 12 bytes). */
struct hv_vss_msg {
	struct hv_vss_hdr hdr;
	uint32_t flags; /* HOT_BACKUP / GET_DM_INFO replies */
} __attribute__((packed));
_Static_assert(sizeof(struct hv_vss_msg) == 12, "vss msg");

/* Largest VSS body we accept (AUTO_RECOVER, PROTOCOL.md 5.7). */
#define VMB_VSS_MAX_BODY 12500

/* Validate a VSS body: its operation, or -EBADMSG / -EINVAL. */
int vmb_vss_decode(const void *body, size_t len);

/* What the guest does for an operation: run a hook, or just reply. */
enum vmb_vss_action { VMB_VSS_REPLY, VMB_VSS_FREEZE, VMB_VSS_THAW };
/*
 * Guest side: decide the action for a decoded operation and fill the reply
 * fields (flags) in body. hook_status is used for FREEZE/THAW only.
 */
enum vmb_vss_action vmb_vss_action(int op);
uint32_t vmb_vss_reply(void *body, size_t len, int op, int hook_rc);

/*
 * Run `sh -c cmd` with a timeout; 0 when it exited 0, -ETIMEDOUT (killed),
 * -ECHILD (non-zero exit) or -errno. NULL or "" succeeds at once.
 */
int vmb_vss_run_hook(const char *cmd, int timeout_ms);

/* ==== FCOPY (icmsgtype 7) ==== */

#define W_MAX_PATH	  260
#define DATA_FRAGMENT	  6144
#define FCOPY_OVER_WRITE  0x1u
#define FCOPY_CREATE_PATH 0x2u

enum hv_fcopy_op {
	START_FILE_COPY = 0,
	WRITE_TO_FILE = 1,
	COMPLETE_FCOPY = 2,
	CANCEL_FCOPY = 3,
};

struct hv_fcopy_hdr {
	uint32_t operation;
	uint8_t service_id0[16];
	uint8_t service_id1[16];
} __attribute__((packed));

struct hv_start_fcopy {
	struct hv_fcopy_hdr hdr;
	uint16_t file_name[W_MAX_PATH];
	uint16_t path_name[W_MAX_PATH];
	uint32_t copy_flags;
	uint64_t file_size;
} __attribute__((packed));

struct hv_do_fcopy {
	struct hv_fcopy_hdr hdr;
	uint32_t pad;
	uint64_t offset;
	uint32_t size;
	uint8_t data[DATA_FRAGMENT];
} __attribute__((packed));

_Static_assert(sizeof(struct hv_fcopy_hdr) == 36, "fcopy hdr");
_Static_assert(sizeof(struct hv_start_fcopy) == 1088, "fcopy start");
_Static_assert(sizeof(struct hv_do_fcopy) == 6196, "fcopy write");

struct vmb_fcopy_req {
	uint32_t op;
	uint32_t flags;	     /* START */
	uint64_t size;	     /* START: file size; WRITE: fragment bytes */
	uint64_t offset;     /* WRITE */
	const uint8_t *data; /* WRITE: points into the decoded body */
	char name[W_MAX_PATH * 3];
	char path[W_MAX_PATH * 3];
};

/* Decode an fcopy body: -EBADMSG truncated/oversized fragment, -EINVAL bad op. */
int vmb_fcopy_decode(const void *body, size_t len, struct vmb_fcopy_req *r);
int vmb_fcopy_build_start(void *buf, size_t cap, const char *path, const char *name, uint32_t flags,
			  uint64_t size);
int vmb_fcopy_build_write(void *buf, size_t cap, uint64_t offset, const void *data, uint32_t size);
int vmb_fcopy_build_op(void *buf, size_t cap, uint32_t op);

/*
 * Lexical check of a destination: path (relative to the root; a leading
 * '/' means the root) and file name. -EPERM for "..", a '/' in the name,
 * empty or "." names.
 */
int vmb_fcopy_check_path(const char *path, const char *name);

/*
 * Guest side of one copy at a time, below a root directory. Paths are
 * resolved with RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS; data goes to a
 * temporary name that is renamed on COMPLETE and unlinked on CANCEL or
 * error, so a partial file never appears under the final name.
 */
struct vmb_fcopy_sink;
int vmb_fcopy_sink_create(const char *root, struct vmb_fcopy_sink **out);
void vmb_fcopy_sink_destroy(struct vmb_fcopy_sink *fg);
/* Handle a decoded request; returns the HRESULT for the reply. */
uint32_t vmb_fcopy_sink_handle(struct vmb_fcopy_sink *fg, const struct vmb_fcopy_req *r);
bool vmb_fcopy_sink_busy(const struct vmb_fcopy_sink *fg);

/* ==== the services on both ends ==== */

/* Host: offer KVP and register `vmbus ctl kvp get|set|delete|enum|ip`. */
struct vmb_kvp_host;
int vmb_kvp_host_add(struct vmb_host *h, struct vmb_kvp_host **out);
/*
 * One KVP transaction (ctl threads; waits for the guest up to timeout_ms).
 * r is the request; on return *status holds the guest's HRESULT and resp,
 * when not NULL, the decoded answer (GET, ENUMERATE, GET_IP_INFO).
 */
int vmb_kvp_host_request(struct vmb_kvp_host *kh, const struct vmb_kvp_req *r, int timeout_ms,
			 uint32_t *status, struct vmb_kvp_req *resp);

/* Guest: the KVP driver, pools in pool_dir (daemon file format). */
struct vmb_kvp_guest_config {
	const char *pool_dir;
	/*
	 * When set, DIR/hv_kvp is the Linux kernel's daemon device (FUSE): a
	 * registered hv_kvp_daemon answers GET/SET/DELETE/ENUMERATE instead of
	 * the pool files above. -ENOTSUP without libfuse3.
	 */
	const char *fuse_dir;
};
struct vmb_kvp_guest;
int vmb_kvp_guest_register(struct vmb_guest *g, const struct vmb_kvp_guest_config *cfg,
			   struct vmb_kvp_guest **out);
void vmb_kvp_guest_free(struct vmb_kvp_guest *kg);

/* Host: offer VSS and register `vmbus ctl vss freeze|thaw|check`. */
struct vmb_vss_host;
int vmb_vss_host_add(struct vmb_host *h, struct vmb_vss_host **out);
/* One VSS operation; *status = the guest's HRESULT, *flags its reply flags. */
int vmb_vss_host_request(struct vmb_vss_host *vh, uint8_t op, int timeout_ms, uint32_t *status,
			 uint32_t *flags);

/* Guest: the VSS driver; hooks run with `sh -c` (NULL = succeed). */
struct vmb_vss_guest_config {
	const char *freeze_cmd;
	const char *thaw_cmd;
	int timeout_ms; /* per hook; 0 = 60 s */
	/* Present DIR/hv_vss for hv_vss_daemon (NULL = none): it then serves
	 * FREEZE, THAW and HOT_BACKUP instead of the hooks. */
	const char *fuse_dir;
};
struct vmb_vss_guest;
int vmb_vss_guest_register(struct vmb_guest *g, const struct vmb_vss_guest_config *cfg,
			   struct vmb_vss_guest **out);
/* Stops the hook thread; call before vmb_guest_destroy(). */
void vmb_vss_guest_stop(struct vmb_vss_guest *vg);
void vmb_vss_guest_free(struct vmb_vss_guest *vg);

/* Host: offer fcopy and register `vmbus ctl copy SRC DST [--overwrite]`. */
struct vmb_fcopy_host;
int vmb_fcopy_host_add(struct vmb_host *h, struct vmb_fcopy_host **out);
/*
 * Copy the local file src to dst (a path below the guest's root). Stops
 * after cancel_after fragments with CANCEL when cancel_after >= 0.
 * -EEXIST, -ENOSPC, -EPERM (refused path), -EIO (other guest failure).
 */
int vmb_fcopy_host_copy(struct vmb_fcopy_host *fh, const char *src, const char *dst, uint32_t flags,
			long cancel_after, int timeout_ms, uint32_t *status);

/* Guest: the fcopy driver writing below root. */
struct vmb_fcopy_guest_config {
	const char *root;
	/* Present DIR/hv_fcopy for hv_fcopy_daemon (NULL = none): it then
	 * serves the copies instead of root. */
	const char *fuse_dir;
};
struct vmb_fcopy_guest;
int vmb_fcopy_guest_register(struct vmb_guest *g, const struct vmb_fcopy_guest_config *cfg,
			     struct vmb_fcopy_guest **out);
void vmb_fcopy_guest_free(struct vmb_fcopy_guest *fg);

#endif
