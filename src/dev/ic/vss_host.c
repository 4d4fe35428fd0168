/* VSS, host side: the VSP and `vmbus ctl vss freeze|thaw|check`. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "svc.h"

/* Hooks may take long; the guest's own hook timeout bounds the wait. */
#define VSS_CTL_TIMEOUT_MS 120000

struct vmb_vss_host {
	struct icb_host s;
};

/* Win8 4.0, Blue 5.0, 6.0, 7.0; Linux guests pick 5.0. */
static const struct ic_version vss_host_versions[] = {{7, 0}, {6, 0}, {5, 0}, {4, 0}};

int vmb_vss_host_request(struct vmb_vss_host *vh, uint8_t op, int timeout_ms, uint32_t *status,
			 uint32_t *flags)
{
	/* FREEZE carries backup_type, flags and a LUN count after the 8-byte header. */
	uint8_t body[20] = {op};
	struct hv_vss_msg m;
	uint32_t got = 0;
	int rc;

	rc = icb_host_request(&vh->s, body, sizeof(body), timeout_ms, status, body, sizeof(body),
			      &got);
	if (rc == 0 && flags) {
		if (got < sizeof(m))
			return -EBADMSG;
		memcpy(&m, body, sizeof(m));
		*flags = m.flags;
	}
	return rc;
}

static int vss_ctl(void *ctx, int argc, char **argv, FILE *out)
{
	static const struct {
		const char *name;
		uint8_t op;
	} ops[] = {{"freeze", VSS_OP_FREEZE}, {"thaw", VSS_OP_THAW}, {"check", VSS_OP_HOT_BACKUP}};
	uint32_t status = HV_E_FAIL, flags = 0;
	int rc = -EINVAL;

	for (size_t i = 0; argc == 2 && i < sizeof(ops) / sizeof(ops[0]); i++) {
		if (strcmp(argv[1], ops[i].name))
			continue;
		rc = vmb_vss_host_request(ctx, ops[i].op, VSS_CTL_TIMEOUT_MS, &status, &flags);
		if (rc < 0) {
			fprintf(out, "vss: %s\n", strerror(-rc));
			return rc;
		}
		if (status != HV_S_OK) {
			fprintf(out, "vss %s: guest answered 0x%08x (%s)\n", argv[1], status,
				icb_status_name(status));
			return -EIO;
		}
		if (ops[i].op == VSS_OP_HOT_BACKUP)
			fprintf(out, "vss check: ok, flags 0x%x\n", flags);
		else
			fprintf(out, "vss %s: ok\n", argv[1]);
		return 0;
	}
	fprintf(out, "usage: vss freeze | thaw | check\n");
	return rc;
}

static void vss_release(void *ctx)
{
	struct vmb_vss_host *vh = ctx;

	pthread_mutex_destroy(&vh->s.one);
	free(vh);
}

int vmb_vss_host_add(struct vmb_host *h, struct vmb_vss_host **out)
{
	struct vmb_vss_host *vh = calloc(1, sizeof(*vh));
	struct vmb_ic_host_service svc = {
	    .name = "vss",
	    .msgtype = ICMSGTYPE_VSS,
	    .class_id = VMB_GUID_VSS,
	    .instance_id = VMB_GUID_VSS_INSTANCE,
	    .fw_versions = icb_fw_v3,
	    .nfw = 1,
	    .msg_versions = vss_host_versions,
	    .nmsg = sizeof(vss_host_versions) / sizeof(vss_host_versions[0]),
	    .release = vss_release,
	};
	int rc;

	if (!vh)
		return -ENOMEM;
	svc.ctx = vh;
	rc = icb_host_add(&vh->s, h, &svc);
	if (rc < 0) {
		pthread_mutex_destroy(&vh->s.one);
		free(vh);
		return rc;
	}
	rc = vmb_host_ctl_register(h, "vss", "backup: vss freeze | thaw | check", vss_ctl, vh);
	if (rc == 0 && out)
		*out = vh;
	return rc;
}
