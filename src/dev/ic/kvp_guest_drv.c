/* KVP, guest side: the driver answering from the pool files. */
#include <errno.h>
#include <stdlib.h>

#include "dev/ic/kvp_daemon.h"
#include "svc.h"

struct vmb_kvp_guest {
	struct icb_driver d;
	struct vmb_kvp_store *store;
	struct kvpd *daemon; /* with fuse_dir only */
	struct kvpd_fuse *fuse;
};

static const struct ic_version kvp_guest_versions[] = {{4, 0}, {3, 0}, {1, 0}};

/*
 * A registered daemon answers GET/SET/DELETE/ENUMERATE later. Otherwise
 * (and for the IP-info operations) the pool files, local and small, answer
 * in place on the VP thread.
 */
static int kvp_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_kvp_guest *kg = ctx;

	if (kg->daemon && kvpd_submit(kg->daemon, ic, m->body, m->body_len) == 0)
		return VMB_IC_DEFER;
	*status = vmb_kvp_guest_answer(kg->store, m->body, m->body_len);
	return VMB_IC_REPLY;
}

static void kvp_remove(struct icb_driver *d, struct vmb_ic_guest *ic)
{
	struct vmb_kvp_guest *kg = (struct vmb_kvp_guest *)d;

	if (kg->daemon)
		kvpd_detach(kg->daemon, ic);
}

static int kvp_daemon_start(struct vmb_kvp_guest *kg, struct vmb_guest *g, const char *dir)
{
	int rc = kvpd_create(NULL, &kg->daemon);

	if (rc == 0)
		rc = kvpd_fuse_start(kg->daemon, g, dir, &kg->fuse);
	return rc;
}

int vmb_kvp_guest_register(struct vmb_guest *g, const struct vmb_kvp_guest_config *cfg,
			   struct vmb_kvp_guest **out)
{
	struct vmb_kvp_guest *kg = calloc(1, sizeof(*kg));
	int rc;

	if (!kg)
		return -ENOMEM;
	rc = vmb_kvp_store_open(cfg->pool_dir, &kg->store);
	if (rc == 0 && cfg->fuse_dir)
		rc = kvp_daemon_start(kg, g, cfg->fuse_dir);
	if (rc < 0) {
		vmb_kvp_guest_free(kg);
		return rc;
	}
	kg->d.svc = (struct vmb_ic_guest_service){
	    .name = "kvp",
	    .msgtype = ICMSGTYPE_KVPEXCHANGE,
	    .fw_versions = icb_fw_all,
	    .nfw = 2,
	    .msg_versions = kvp_guest_versions,
	    .nmsg = sizeof(kvp_guest_versions) / sizeof(kvp_guest_versions[0]),
	    .request = kvp_request,
	    .ctx = kg,
	};
	kg->d.remove = kvp_remove;
	rc = icb_driver_register(&kg->d, g, "hv_kvp", (struct vmb_guid)VMB_GUID_KVP);
	if (rc < 0) {
		vmb_kvp_guest_free(kg);
		return rc;
	}
	*out = kg;
	return 0;
}

void vmb_kvp_guest_free(struct vmb_kvp_guest *kg)
{
	if (!kg)
		return;
	kvpd_fuse_stop(kg->fuse);
	kvpd_destroy(kg->daemon);
	vmb_kvp_store_close(kg->store);
	free(kg);
}
