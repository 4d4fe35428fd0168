/* fcopy, guest side: the driver writing below its root directory. */
#include <errno.h>
#include <stdlib.h>

#include "svc.h"

struct vmb_fcopy_guest {
	struct icb_driver d;
	struct vmb_fcopy_sink *sink;
};

static const struct ic_version fcopy_versions[] = {{1, 1}};

/* Fragments are 6 KiB of local file I/O: answered in place. */
static int fcopy_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_fcopy_guest *fg = ctx;
	struct vmb_fcopy_req r;
	int rc = vmb_fcopy_decode(m->body, m->body_len, &r);

	if (rc < 0) {
		vmb_guest_log(vmb_device_guest(vmb_ic_guest_device(ic)),
			      "fcopy: malformed request rejected");
		*status = HV_E_FAIL;
	} else {
		*status = vmb_fcopy_sink_handle(fg->sink, &r);
	}
	return VMB_IC_REPLY;
}

int vmb_fcopy_guest_register(struct vmb_guest *g, const struct vmb_fcopy_guest_config *cfg,
			     struct vmb_fcopy_guest **out)
{
	struct vmb_fcopy_guest *fg = calloc(1, sizeof(*fg));
	int rc;

	if (!fg)
		return -ENOMEM;
	rc = vmb_fcopy_sink_create(cfg->root, &fg->sink);
	if (rc < 0) {
		free(fg);
		return rc;
	}
	fg->d.svc = (struct vmb_ic_guest_service){
	    .name = "fcopy",
	    .msgtype = ICMSGTYPE_FCOPY,
	    .fw_versions = icb_fw_v3,
	    .nfw = 1,
	    .msg_versions = fcopy_versions,
	    .nmsg = 1,
	    .request = fcopy_request,
	    .ctx = fg,
	};
	rc = icb_driver_register(&fg->d, g, "hv_fcopy", (struct vmb_guid)VMB_GUID_FCOPY);
	if (rc < 0) {
		vmb_fcopy_guest_free(fg);
		return rc;
	}
	*out = fg;
	return 0;
}

void vmb_fcopy_guest_free(struct vmb_fcopy_guest *fg)
{
	if (!fg)
		return;
	vmb_fcopy_sink_destroy(fg->sink);
	free(fg);
}
