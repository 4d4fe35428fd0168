/* KVP wire format: decode, validate and build bodies (PROTOCOL.md 5.6). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "vmbus/dev/ic_services.h"

size_t vmb_kvp_body_size(uint8_t op)
{
	switch (op) {
	case KVP_OP_GET:
	case KVP_OP_SET:
		return sizeof(struct hv_kvp_msg_value);
	case KVP_OP_DELETE:
		return sizeof(struct hv_kvp_msg_delete);
	case KVP_OP_ENUMERATE:
		return sizeof(struct hv_kvp_msg_enumerate);
	case KVP_OP_GET_IP_INFO:
	case KVP_OP_SET_IP_INFO:
		return sizeof(struct hv_kvp_ip_msg);
	default:
		return 0;
	}
}

/* A sized UTF-16 string field -> UTF-8. size counts bytes incl. the NUL. */
static int get_str(const uint8_t *field, uint32_t size, uint32_t max, char *out, size_t cap)
{
	int rc;

	if (size < 2 || size > max || size % 2)
		return -EBADMSG;
	rc = vmb_utf16_to_utf8(field, size / 2, out, cap);
	return rc < 0 ? rc : 0;
}

static int get_value(const struct hv_kvp_exchg_msg_value *rec, char *value)
{
	uint64_t v64;
	uint32_t v32;

	switch (rec->value_type) {
	case REG_SZ:
	case REG_EXPAND_SZ:
		return get_str(rec->value, rec->value_size, HV_KVP_EXCHANGE_MAX_VALUE_SIZE, value,
			       VMB_KVP_VALUE_MAX);
	case REG_U32:
		memcpy(&v32, rec->value, sizeof(v32));
		snprintf(value, VMB_KVP_VALUE_MAX, "%" PRIu32, v32);
		return 0;
	case REG_U64_LINUX:
	case REG_QWORD:
		memcpy(&v64, rec->value, sizeof(v64));
		snprintf(value, VMB_KVP_VALUE_MAX, "%" PRIu64, v64);
		return 0;
	default:
		return -EINVAL;
	}
}

int vmb_kvp_get_record(const struct hv_kvp_exchg_msg_value *rec, char *key, char *value)
{
	int rc =
	    get_str(rec->key, rec->key_size, HV_KVP_EXCHANGE_MAX_KEY_SIZE, key, VMB_KVP_KEY_MAX);

	if (rc == 0 && !key[0])
		rc = -EINVAL;
	return rc < 0 ? rc : get_value(rec, value);
}

int vmb_kvp_put_record(struct hv_kvp_exchg_msg_value *rec, const char *key, const char *value)
{
	int k, v;

	k = vmb_utf8_to_utf16(key, rec->key, sizeof(rec->key));
	if (k < 0)
		return k;
	v = vmb_utf8_to_utf16(value, rec->value, sizeof(rec->value));
	if (v < 0)
		return v;
	rec->value_type = REG_SZ;
	rec->key_size = (uint32_t)k;
	rec->value_size = (uint32_t)v;
	return 0;
}

static int decode_ip(const uint8_t *b, struct vmb_kvp_req *r)
{
	int rc = vmb_utf16_to_utf8(b + offsetof(struct hv_kvp_ip_msg, adapter_id),
				   MAX_ADAPTER_ID_SIZE, r->adapter, sizeof(r->adapter));

	return rc < 0 ? rc : 0;
}

int vmb_kvp_decode(const void *body, size_t len, struct vmb_kvp_req *r)
{
	const uint8_t *b = body;
	struct hv_kvp_msg_delete del;
	struct hv_kvp_msg_value val;
	struct hv_kvp_msg_enumerate en;
	size_t need;

	if (len < sizeof(struct hv_kvp_hdr))
		return -EBADMSG;
	memset(r, 0, sizeof(*r));
	r->op = b[0];
	r->pool = b[1];
	need = vmb_kvp_body_size(r->op);
	if (!need)
		return -EINVAL;
	if (len < need)
		return -EBADMSG;
	if (r->op == KVP_OP_GET_IP_INFO || r->op == KVP_OP_SET_IP_INFO)
		return decode_ip(b, r);
	if (r->pool >= HV_KVP_POOL_COUNT)
		return -EINVAL;
	switch (r->op) {
	case KVP_OP_GET:
		memcpy(&val, b, sizeof(val));
		return get_str(val.data.key, val.data.key_size, HV_KVP_EXCHANGE_MAX_KEY_SIZE,
			       r->key, sizeof(r->key));
	case KVP_OP_SET:
		memcpy(&val, b, sizeof(val));
		r->value_type = val.data.value_type;
		return vmb_kvp_get_record(&val.data, r->key, r->value);
	case KVP_OP_DELETE:
		memcpy(&del, b, sizeof(del));
		return get_str(del.key, del.key_size, HV_KVP_EXCHANGE_MAX_KEY_SIZE, r->key,
			       sizeof(r->key));
	default: /* ENUMERATE */
		memcpy(&en, b, sizeof(en));
		r->index = en.index;
		return 0;
	}
}

static int build_ip(const struct vmb_kvp_req *r, uint8_t *b)
{
	struct hv_kvp_ip_msg *m = (struct hv_kvp_ip_msg *)b;
	int rc;

	memset(m, 0, sizeof(*m));
	m->operation = r->op;
	m->pool = r->pool;
	rc = vmb_utf8_to_utf16(r->adapter, b + offsetof(struct hv_kvp_ip_msg, adapter_id),
			       MAX_ADAPTER_ID_SIZE * 2);
	return rc < 0 ? rc : (int)sizeof(*m);
}

int vmb_kvp_build(const struct vmb_kvp_req *r, void *buf, size_t cap)
{
	size_t need = vmb_kvp_body_size(r->op);
	uint8_t *b = buf;
	int rc = 0;

	if (!need || r->pool >= HV_KVP_POOL_COUNT)
		return -EINVAL;
	if (cap < need)
		return -ENOSPC;
	if (r->op == KVP_OP_GET_IP_INFO || r->op == KVP_OP_SET_IP_INFO)
		return build_ip(r, b);
	memset(b, 0, need);
	b[0] = r->op;
	b[1] = r->pool;
	if (r->op == KVP_OP_GET || r->op == KVP_OP_SET) {
		struct hv_kvp_msg_value *m = buf;

		rc = vmb_kvp_put_record(&m->data, r->key, r->op == KVP_OP_SET ? r->value : "");
		if (r->op == KVP_OP_GET)
			m->data.value_size = 0;
	} else if (r->op == KVP_OP_DELETE) {
		struct hv_kvp_msg_delete *m = buf;

		rc = vmb_utf8_to_utf16(r->key, m->key, sizeof(m->key));
		if (rc > 0)
			m->key_size = (uint32_t)rc;
	} else {
		struct hv_kvp_msg_enumerate *m = buf;

		m->index = r->index;
	}
	return rc < 0 ? rc : (int)need;
}
