/*
 * What hv_vss_daemon and hv_fcopy_daemon read and write through the
 * kernel's device files (include/uapi/linux/hyperv.h, hv_snapshot.c,
 * hv_fcopy.c; PROTOCOL.md 5.7).
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "dev/ic/daemon_link.h"

/* ---- VSS: every message is a 12-byte struct hv_vss_msg ---- */

#define VSS_OP_REGISTER	 128 /* legacy daemon: no handshake answer */
#define VSS_OP_REGISTER1 129 /* answered with our version, a u32 */

static int vss_reg(const void *buf, size_t len, void *reply, size_t *reply_len)
{
	uint32_t ver = VSS_OP_REGISTER1;
	uint8_t op;

	if (len != sizeof(struct hv_vss_msg))
		return -EINVAL;
	op = *(const uint8_t *)buf;
	if (op != VSS_OP_REGISTER && op != VSS_OP_REGISTER1)
		return -EINVAL;
	*reply_len = 0;
	if (op == VSS_OP_REGISTER1) {
		memcpy(reply, &ver, sizeof(ver));
		*reply_len = sizeof(ver);
	}
	return 0;
}

/* As the kernel: only FREEZE, THAW and HOT_BACKUP are the daemon's. */
static long vss_request(const void *body, size_t len, void *msg, size_t cap)
{
	int op = vmb_vss_decode(body, len);

	if (op < 0)
		return op;
	if (op != VSS_OP_FREEZE && op != VSS_OP_THAW && op != VSS_OP_HOT_BACKUP)
		return -EOPNOTSUPP;
	if (cap < sizeof(struct hv_vss_msg))
		return -ENOBUFS;
	/* The daemon sees the operation only, not the host's LUN list. */
	memset(msg, 0, sizeof(struct hv_vss_msg));
	*(uint8_t *)msg = (uint8_t)op;
	return (long)sizeof(struct hv_vss_msg);
}

/* The daemon overwrites the header with `int error`; 0 is success. */
static int vss_answer(const void *ans, size_t len, void *body, size_t body_len, uint32_t *status)
{
	int32_t error;
	int op = vmb_vss_decode(body, body_len);

	if (len != sizeof(struct hv_vss_msg) || op < 0)
		return -EINVAL;
	memcpy(&error, ans, sizeof(error));
	*status = vmb_vss_reply(body, body_len, op, error);
	if (error && *status == HV_S_OK)
		*status = HV_E_FAIL;
	/* A daemon's own HRESULT (high bit set) travels as it is, as in Linux. */
	if (error && ((uint32_t)error & 0x80000000u))
		*status = (uint32_t)error;
	return 0;
}

const struct dlink_service dlink_vss = {
    .name = "hv_vss",
    .body_max = VMB_VSS_MAX_BODY,
    .msg_max = sizeof(struct hv_vss_msg),
    .reg = vss_reg,
    .request = vss_request,
    .answer = vss_answer,
};

/* ---- fcopy: hv_start_fcopy / hv_do_fcopy / the header; answers are an int ---- */

#define FCOPY_VERSION_0 0 /* legacy daemon: no handshake answer */
#define FCOPY_VERSION_1 1 /* answered with our version, a u32 */

static int fcopy_reg(const void *buf, size_t len, void *reply, size_t *reply_len)
{
	uint32_t ver;

	if (len != sizeof(ver))
		return -EINVAL;
	memcpy(&ver, buf, sizeof(ver));
	if (ver != FCOPY_VERSION_0 && ver != FCOPY_VERSION_1)
		return -EINVAL;
	*reply_len = 0;
	if (ver == FCOPY_VERSION_1) {
		memcpy(reply, &ver, sizeof(ver));
		*reply_len = sizeof(ver);
	}
	return 0;
}

/* The kernel keeps at most W_MAX_PATH - 1 bytes of UTF-8 in the UTF-16 arrays. */
static int put_utf8(uint8_t *dst, const char *s)
{
	size_t n = strlen(s);

	if (n > W_MAX_PATH - 1)
		return -ENAMETOOLONG;
	memcpy(dst, s, n);
	return 0;
}

static long fcopy_start(const struct vmb_fcopy_req *r, void *msg)
{
	struct hv_start_fcopy m;
	uint8_t *raw = (uint8_t *)&m;

	memset(&m, 0, sizeof(m));
	m.hdr.operation = START_FILE_COPY;
	if (put_utf8(raw + offsetof(struct hv_start_fcopy, file_name), r->name) < 0 ||
	    put_utf8(raw + offsetof(struct hv_start_fcopy, path_name), r->path) < 0)
		return -ENAMETOOLONG;
	m.copy_flags = r->flags;
	m.file_size = r->size;
	memcpy(msg, &m, sizeof(m));
	return (long)sizeof(m);
}

static long fcopy_request(const void *body, size_t len, void *msg, size_t cap)
{
	struct vmb_fcopy_req r;
	int rc = vmb_fcopy_decode(body, len, &r);

	if (rc < 0)
		return rc;
	if (cap < sizeof(struct hv_do_fcopy))
		return -ENOBUFS;
	switch (r.op) {
	case START_FILE_COPY:
		return fcopy_start(&r, msg);
	case WRITE_TO_FILE:
		/* Always the whole struct: the fragment may come shorter. */
		memset(msg, 0, sizeof(struct hv_do_fcopy));
		memcpy(msg, body,
		       len < sizeof(struct hv_do_fcopy) ? len : sizeof(struct hv_do_fcopy));
		return (long)sizeof(struct hv_do_fcopy);
	default:
		memcpy(msg, body, sizeof(struct hv_fcopy_hdr));
		return (long)sizeof(struct hv_fcopy_hdr);
	}
}

/* The daemon's int is the host's status, as the kernel passes it on. */
static int fcopy_answer(const void *ans, size_t len, void *body, size_t body_len, uint32_t *status)
{
	(void)body, (void)body_len;
	if (len != sizeof(*status))
		return -EINVAL;
	memcpy(status, ans, sizeof(*status));
	return 0;
}

const struct dlink_service dlink_fcopy = {
    .name = "hv_fcopy",
    .body_max = sizeof(struct hv_do_fcopy),
    .msg_max = sizeof(struct hv_do_fcopy),
    .reg = fcopy_reg,
    .request = fcopy_request,
    .answer = fcopy_answer,
};
