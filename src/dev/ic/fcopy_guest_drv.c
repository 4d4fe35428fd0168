/* fcopy, guest side: the driver writing below its root directory. */
#include <errno.h>
#include <stdlib.h>

#include "dev/ic/daemon_link.h"
#include "svc.h"

struct vmb_fcopy_guest {
	struct icb_driver d;
	struct vmb_fcopy_sink *sink;
	struct dlink *daemon; /* with fuse_dir only */
};

static const struct ic_version fcopy_versions[] = {{1, 1}};

/*
 * A registered hv_fcopy_daemon gets every request, unless a copy the
 * built-in sink started is still going (it finishes there).
 */
static int to_daemon(struct vmb_fcopy_guest *fg, struct vmb_ic_guest *ic, struct vmb_ic_msg *m,
		     uint32_t *status)
{
	int rc;

	if (!fg->daemon || vmb_fcopy_sink_busy(fg->sink))
		return -ENOTCONN;
	rc = dlink_submit(fg->daemon, ic, m->body, m->body_len);
	if (rc == -ENAMETOOLONG)
		*status = HV_INVALIDARG;
	else if (rc < 0)
		*status = HV_E_FAIL;
	return rc;
}

/* Fragments are 6 KiB of local file I/O: answered in place. */
static int fcopy_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_fcopy_guest *fg = ctx;
	struct vmb_fcopy_req r;
	int rc = to_daemon(fg, ic, m, status);

	if (rc == 0)
		return VMB_IC_DEFER;
	if (rc != -ENOTCONN)
		return VMB_IC_REPLY;
	rc = vmb_fcopy_decode(m->body, m->body_len, &r);
	if (rc < 0) {
		vmb_guest_log(vmb_device_guest(vmb_ic_guest_device(ic)),
			      "fcopy: malformed request rejected");
		*status = HV_E_FAIL;
	} else {
		*status = vmb_fcopy_sink_handle(fg->sink, &r);
	}
	return VMB_IC_REPLY;
}

static void fcopy_remove(struct icb_driver *d, struct vmb_ic_guest *ic)
{
	struct vmb_fcopy_guest *fg = (struct vmb_fcopy_guest *)d;

	if (fg->daemon)
		dlink_detach(fg->daemon, ic);
}

static int fcopy_daemon_start(struct vmb_fcopy_guest *fg, struct vmb_guest *g, const char *dir)
{
	int rc = dlink_create(&dlink_fcopy, NULL, &fg->daemon);

	/* hv_fcopy_daemon uses pread/pwrite at offset 0. */
	if (rc == 0)
		rc = dlink_fuse_start(fg->daemon, g, dir, "fcopy.root answers again", true);
	return rc;
}

int vmb_fcopy_guest_register(struct vmb_guest *g, const struct vmb_fcopy_guest_config *cfg,
			     struct vmb_fcopy_guest **out)
{
	struct vmb_fcopy_guest *fg = calloc(1, sizeof(*fg));
	int rc;

	if (!fg)
		return -ENOMEM;
	rc = vmb_fcopy_sink_create(cfg->root, &fg->sink);
	if (rc == 0 && cfg->fuse_dir)
		rc = fcopy_daemon_start(fg, g, cfg->fuse_dir);
	if (rc < 0) {
		vmb_fcopy_guest_free(fg);
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
	fg->d.remove = fcopy_remove;
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
	if (fg->daemon) {
		dlink_fuse_stop(fg->daemon);
		dlink_destroy(fg->daemon);
	}
	vmb_fcopy_sink_destroy(fg->sink);
	free(fg);
}
