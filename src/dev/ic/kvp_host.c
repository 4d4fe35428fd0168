/* KVP, host side: the VSP and `vmbus ctl kvp ...` (waits for the guest). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc.h"

#define KVP_CTL_TIMEOUT_MS 10000

struct vmb_kvp_host {
	struct icb_host s;
	uint8_t req[sizeof(struct hv_kvp_ip_msg)];
	uint8_t resp[sizeof(struct hv_kvp_ip_msg)];
};

/* Guest preference is 4.0 (Win8); OpenVMM also offers 5.0. */
static const struct ic_version kvp_host_versions[] = {{5, 0}, {4, 0}, {3, 0}, {1, 0}};

static const char *const pool_names[HV_KVP_POOL_COUNT] = {
    "external", "guest", "auto", "auto_external", "auto_internal",
};

static int decode_answer(const struct vmb_kvp_req *r, const uint8_t *b, uint32_t len,
			 struct vmb_kvp_req *out)
{
	struct hv_kvp_exchg_msg_value rec;
	size_t off;

	*out = *r;
	if (len < vmb_kvp_body_size(r->op))
		return -EBADMSG;
	if (r->op == KVP_OP_GET_IP_INFO) {
		off = offsetof(struct hv_kvp_ip_msg, ip_addr);
		return vmb_utf16_to_utf8(b + off, MAX_IP_ADDR_SIZE, out->value,
					 sizeof(out->value)) < 0
			   ? -EBADMSG
			   : 0;
	}
	if (r->op != KVP_OP_GET && r->op != KVP_OP_ENUMERATE)
		return 0;
	off = r->op == KVP_OP_GET ? offsetof(struct hv_kvp_msg_value, data)
				  : offsetof(struct hv_kvp_msg_enumerate, data);
	memcpy(&rec, b + off, sizeof(rec));
	return vmb_kvp_get_record(&rec, out->key, out->value) < 0 ? -EBADMSG : 0;
}

int vmb_kvp_host_request(struct vmb_kvp_host *kh, const struct vmb_kvp_req *r, int timeout_ms,
			 uint32_t *status, struct vmb_kvp_req *resp)
{
	uint32_t got = 0;
	int len, rc;

	pthread_mutex_lock(&kh->s.one);
	len = vmb_kvp_build(r, kh->req, sizeof(kh->req));
	rc = len;
	if (len >= 0)
		rc = icb_request_sync(kh->s.ic, kh->req, (uint32_t)len, timeout_ms, status,
				      kh->resp, sizeof(kh->resp), &got);
	if (rc == 0 && *status == HV_S_OK && resp)
		rc = decode_answer(r, kh->resp, got, resp);
	pthread_mutex_unlock(&kh->s.one);
	return rc;
}

static int parse_pool(const char *s)
{
	char *end;
	unsigned long n = strtoul(s, &end, 0);

	if (*s && !*end)
		return n < HV_KVP_POOL_COUNT ? (int)n : -EINVAL;
	for (int i = 0; i < HV_KVP_POOL_COUNT; i++)
		if (!strcmp(s, pool_names[i]))
			return i;
	return -EINVAL;
}

static int usage(FILE *out)
{
	fprintf(out, "usage: kvp get POOL KEY | set POOL KEY VALUE | delete POOL KEY | enum POOL"
		     " | ip ADAPTER\n  POOL: 0-4 or external, guest, auto, auto_external,"
		     " auto_internal\n");
	return -EINVAL;
}

static int report(FILE *out, int rc, uint32_t status)
{
	if (rc < 0) {
		fprintf(out, "kvp: %s\n", strerror(-rc));
		return rc;
	}
	if (status != HV_S_OK) {
		fprintf(out, "kvp: guest answered 0x%08x (%s)\n", status, icb_status_name(status));
		return -EIO;
	}
	return 0;
}

static int ctl_enum(struct vmb_kvp_host *kh, struct vmb_kvp_req *r, FILE *out)
{
	struct vmb_kvp_req *a = malloc(sizeof(*a));
	uint32_t status = HV_S_OK;
	int rc = a ? 0 : -ENOMEM;

	for (r->index = 0; rc == 0; r->index++) {
		rc = vmb_kvp_host_request(kh, r, KVP_CTL_TIMEOUT_MS, &status, a);
		if (rc == 0 && status == HV_S_CONT)
			break;
		rc = report(out, rc, status);
		if (rc == 0)
			fprintf(out, "%s=%s\n", a->key, a->value);
	}
	free(a);
	return rc;
}

static int parse_args(int argc, char **argv, struct vmb_kvp_req *r)
{
	static const struct {
		const char *name;
		uint8_t op;
		int argc;
	} cmds[] = {
	    {"get", KVP_OP_GET, 4},	   {"set", KVP_OP_SET, 5},
	    {"delete", KVP_OP_DELETE, 4},  {"enum", KVP_OP_ENUMERATE, 3},
	    {"ip", KVP_OP_GET_IP_INFO, 3},
	};
	int pool;

	for (size_t i = 0; argc >= 2 && i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		if (strcmp(argv[1], cmds[i].name))
			continue;
		if (argc != cmds[i].argc)
			return -EINVAL;
		r->op = cmds[i].op;
		if (r->op == KVP_OP_GET_IP_INFO) {
			snprintf(r->adapter, sizeof(r->adapter), "%s", argv[2]);
			return 0;
		}
		pool = parse_pool(argv[2]);
		if (pool < 0 || (argc > 3 && strlen(argv[3]) >= sizeof(r->key)) ||
		    (argc > 4 && strlen(argv[4]) >= sizeof(r->value)))
			return -EINVAL;
		r->pool = (uint8_t)pool;
		if (argc > 3)
			strcpy(r->key, argv[3]);
		if (argc > 4)
			strcpy(r->value, argv[4]);
		return 0;
	}
	return -EINVAL;
}

static int kvp_ctl(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_kvp_host *kh = ctx;
	struct vmb_kvp_req *r = calloc(2, sizeof(*r));
	uint32_t status = HV_S_OK;
	int rc;

	if (!r)
		return -ENOMEM;
	rc = parse_args(argc, argv, r);
	if (rc < 0) {
		free(r);
		return usage(out);
	}
	if (r->op == KVP_OP_ENUMERATE) {
		rc = ctl_enum(kh, r, out);
	} else {
		rc = vmb_kvp_host_request(kh, r, KVP_CTL_TIMEOUT_MS, &status, &r[1]);
		rc = report(out, rc, status);
		if (rc == 0 && (r->op == KVP_OP_GET || r->op == KVP_OP_GET_IP_INFO))
			fprintf(out, "%s\n", r[1].value);
	}
	free(r);
	return rc;
}

static void kvp_release(void *ctx)
{
	struct vmb_kvp_host *kh = ctx;

	pthread_mutex_destroy(&kh->s.one);
	free(kh);
}

int vmb_kvp_host_add(struct vmb_host *h, struct vmb_kvp_host **out)
{
	struct vmb_kvp_host *kh = calloc(1, sizeof(*kh));
	struct vmb_ic_host_service svc = {
	    .name = "kvp",
	    .msgtype = ICMSGTYPE_KVPEXCHANGE,
	    .class_id = VMB_GUID_KVP,
	    .instance_id = VMB_GUID_KVP_INSTANCE,
	    .fw_versions = icb_fw_all,
	    .nfw = 2,
	    .msg_versions = kvp_host_versions,
	    .nmsg = sizeof(kvp_host_versions) / sizeof(kvp_host_versions[0]),
	    .release = kvp_release,
	};
	int rc;

	if (!kh)
		return -ENOMEM;
	svc.ctx = kh;
	rc = icb_host_add(&kh->s, h, &svc);
	if (rc < 0) {
		pthread_mutex_destroy(&kh->s.one);
		free(kh);
		return rc;
	}
	rc = vmb_host_ctl_register(h, "kvp", "key-value pairs: kvp get|set|delete|enum POOL ...",
				   kvp_ctl, kh);
	if (rc == 0 && out)
		*out = kh;
	return rc;
}
