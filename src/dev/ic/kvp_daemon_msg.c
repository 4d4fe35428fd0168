/*
 * KVP: translation between host requests (UTF-16 on the wire) and the
 * messages of the Linux kernel <-> hv_kvp_daemon interface (UTF-8), the way
 * the kernel's hv_kvp driver does it (PROTOCOL.md 5.9).
 */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/ic_services.h"

/* Copy s into a daemon string field; returns its size with the NUL. */
static uint32_t put_str(uint8_t *field, size_t cap, const char *s)
{
	size_t n = strnlen(s, cap - 1);

	memcpy(field, s, n);
	field[n] = '\0';
	return (uint32_t)n + 1;
}

int vmb_kvp_daemon_request(const void *body, size_t len, struct hv_kvp_msg *out)
{
	struct vmb_kvp_req r;
	int rc = vmb_kvp_decode(body, len, &r);

	if (rc < 0)
		return rc;
	memset(out, 0, sizeof(*out));
	out->kvp_hdr.operation = r.op;
	out->kvp_hdr.pool = r.pool;
	switch (r.op) {
	case KVP_OP_SET:
		/* Numbers arrive decoded as decimal text, as the kernel passes them. */
		out->body.rec.value_type = REG_SZ;
		out->body.rec.value_size =
		    put_str(out->body.rec.value, sizeof(out->body.rec.value), r.value);
		out->body.rec.key_size =
		    put_str(out->body.rec.key, sizeof(out->body.rec.key), r.key);
		return 0;
	case KVP_OP_GET:
		out->body.rec.key_size =
		    put_str(out->body.rec.key, sizeof(out->body.rec.key), r.key);
		/*
		 * The daemon copies value_size bytes of the stored value back;
		 * the kernel leaves it 0, so ask for the whole field.
		 */
		out->body.rec.value_size = HV_KVP_EXCHANGE_MAX_VALUE_SIZE;
		return 0;
	case KVP_OP_DELETE:
		out->body.del.key_size =
		    put_str(out->body.del.key, sizeof(out->body.del.key), r.key);
		return 0;
	case KVP_OP_ENUMERATE:
		out->body.en.index = r.index;
		return 0;
	default:
		return -EOPNOTSUPP;
	}
}

/* A daemon string field: NUL terminated within its size, whatever it sent. */
static void get_str(const uint8_t *field, size_t cap, char *out)
{
	size_t n = strnlen((const char *)field, cap - 1);

	memcpy(out, field, n);
	out[n] = '\0';
}

uint32_t vmb_kvp_daemon_answer(const struct hv_kvp_msg *d, int reg_op, void *body, size_t len)
{
	struct hv_kvp_msg_value *get = body;
	struct hv_kvp_msg_enumerate *en = body;
	char key[VMB_KVP_KEY_MAX], value[VMB_KVP_VALUE_MAX];
	struct vmb_kvp_req r;
	uint32_t status;

	if (vmb_kvp_decode(body, len, &r) < 0)
		return HV_E_FAIL;
	if (reg_op == KVP_OP_REGISTER1)
		status = (uint32_t)d->error;
	else
		status = d->body.en.data.key[0] ? HV_S_OK : HV_S_CONT;
	if (status != HV_S_OK)
		return status;
	switch (r.op) {
	case KVP_OP_GET:
		/*
		 * The daemon answers in the GET record; Linux's kernel reads the
		 * value 4 bytes further (the ENUMERATE record), which truncates it.
		 */
		get_str(d->body.rec.value, sizeof(d->body.rec.value), value);
		return vmb_kvp_put_record(&get->data, r.key, value) < 0 ? HV_E_FAIL : HV_S_OK;
	case KVP_OP_ENUMERATE:
		get_str(d->body.en.data.key, sizeof(d->body.en.data.key), key);
		get_str(d->body.en.data.value, sizeof(d->body.en.data.value), value);
		return vmb_kvp_put_record(&en->data, key, value) < 0 ? HV_E_FAIL : HV_S_OK;
	default:
		return HV_S_OK;
	}
}
