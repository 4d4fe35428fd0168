/* KVP, guest side: the driver answering from the pool files. */
#include <errno.h>
#include <stdlib.h>

#include "svc.h"

struct vmb_kvp_guest {
	struct icb_driver d;
	struct vmb_kvp_store *store;
};

static const struct ic_version kvp_guest_versions[] = {{4, 0}, {3, 0}, {1, 0}};

/* Pool files are local and small: answered in place on the VP thread. */
static int kvp_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_kvp_guest *kg = ctx;

	(void)ic;
	*status = vmb_kvp_guest_answer(kg->store, m->body, m->body_len);
	return VMB_IC_REPLY;
}

int vmb_kvp_guest_register(struct vmb_guest *g, const struct vmb_kvp_guest_config *cfg,
			   struct vmb_kvp_guest **out)
{
	struct vmb_kvp_guest *kg = calloc(1, sizeof(*kg));
	int rc;

	if (!kg)
		return -ENOMEM;
	rc = vmb_kvp_store_open(cfg->pool_dir, &kg->store);
	if (rc < 0) {
		free(kg);
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
	vmb_kvp_store_close(kg->store);
	free(kg);
}
