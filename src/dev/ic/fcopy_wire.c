/* fcopy wire format: decode and build bodies, lexical path checks (PROTOCOL.md 5.7). */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/ic_services.h"

static int decode_start(const uint8_t *b, size_t len, struct vmb_fcopy_req *r)
{
	struct hv_start_fcopy m;
	int rc;

	if (len < sizeof(m))
		return -EBADMSG;
	memcpy(&m, b, sizeof(m));
	r->flags = m.copy_flags;
	r->size = m.file_size;
	rc = vmb_utf16_to_utf8(b + offsetof(struct hv_start_fcopy, file_name), W_MAX_PATH, r->name,
			       sizeof(r->name));
	if (rc >= 0)
		rc = vmb_utf16_to_utf8(b + offsetof(struct hv_start_fcopy, path_name), W_MAX_PATH,
				       r->path, sizeof(r->path));
	return rc < 0 ? rc : 0;
}

static int decode_write(const uint8_t *b, size_t len, struct vmb_fcopy_req *r)
{
	size_t data_off = offsetof(struct hv_do_fcopy, data);
	uint64_t off;
	uint32_t size;

	if (len < data_off)
		return -EBADMSG;
	memcpy(&off, b + offsetof(struct hv_do_fcopy, offset), sizeof(off));
	memcpy(&size, b + offsetof(struct hv_do_fcopy, size), sizeof(size));
	if (size > DATA_FRAGMENT || len < data_off + size || off > (uint64_t)INT64_MAX - size)
		return -EBADMSG;
	r->offset = off;
	r->size = size;
	r->data = b + data_off;
	return 0;
}

int vmb_fcopy_decode(const void *body, size_t len, struct vmb_fcopy_req *r)
{
	const uint8_t *b = body;

	memset(r, 0, sizeof(*r));
	if (len < sizeof(struct hv_fcopy_hdr))
		return -EBADMSG;
	memcpy(&r->op, b, sizeof(r->op));
	switch (r->op) {
	case START_FILE_COPY:
		return decode_start(b, len, r);
	case WRITE_TO_FILE:
		return decode_write(b, len, r);
	case COMPLETE_FCOPY:
	case CANCEL_FCOPY:
		return 0;
	default:
		return -EINVAL;
	}
}

int vmb_fcopy_build_op(void *buf, size_t cap, uint32_t op)
{
	struct hv_fcopy_hdr h = {.operation = op};

	if (cap < sizeof(h))
		return -ENOSPC;
	memcpy(buf, &h, sizeof(h));
	return (int)sizeof(h);
}

int vmb_fcopy_build_start(void *buf, size_t cap, const char *path, const char *name, uint32_t flags,
			  uint64_t size)
{
	struct hv_start_fcopy m;
	int rc;

	if (cap < sizeof(m))
		return -ENOSPC;
	memset(&m, 0, sizeof(m));
	m.hdr.operation = START_FILE_COPY;
	m.copy_flags = flags;
	m.file_size = size;
	memcpy(buf, &m, sizeof(m));
	rc = vmb_utf8_to_utf16(name, (uint8_t *)buf + offsetof(struct hv_start_fcopy, file_name),
			       W_MAX_PATH * 2);
	if (rc >= 0)
		rc = vmb_utf8_to_utf16(path,
				       (uint8_t *)buf + offsetof(struct hv_start_fcopy, path_name),
				       W_MAX_PATH * 2);
	return rc < 0 ? rc : (int)sizeof(m);
}

int vmb_fcopy_build_write(void *buf, size_t cap, uint64_t offset, const void *data, uint32_t size)
{
	struct hv_do_fcopy *m = buf;

	if (size > DATA_FRAGMENT)
		return -EINVAL;
	if (cap < sizeof(*m))
		return -ENOSPC;
	memset(m, 0, offsetof(struct hv_do_fcopy, data));
	m->hdr.operation = WRITE_TO_FILE;
	m->offset = offset;
	m->size = size;
	memcpy(m->data, data, size);
	memset(m->data + size, 0, DATA_FRAGMENT - size);
	return (int)sizeof(*m);
}

static bool is_dots(const char *s, size_t n)
{
	return (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.');
}

int vmb_fcopy_check_path(const char *path, const char *name)
{
	const char *p = path;

	if (!name[0] || strchr(name, '/') || is_dots(name, strlen(name)))
		return -EPERM;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EPERM;
		p += n;
		p += strspn(p, "/");
	}
	return 0;
}
