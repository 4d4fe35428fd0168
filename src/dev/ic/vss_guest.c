/*
 * VSS, guest side. FREEZE and THAW run the configured hooks on a thread of
 * ours (a hook may take seconds; VP threads must not block) and reply
 * later; everything else is answered at once.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ic/daemon_link.h"
#include "svc.h"

#define VSS_HOOK_TIMEOUT_MS 60000

struct vmb_vss_guest {
	struct icb_driver d;
	struct vmb_vss_guest_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool running, stop;
	struct vmb_ic_guest *job; /* the IC waiting for a hook, or NULL */
	int job_op;
	struct dlink *daemon; /* with fuse_dir only */
};

static const struct ic_version vss_guest_versions[] = {{5, 0}};

static void *hook_main(void *arg)
{
	struct vmb_vss_guest *vg = arg;

	pthread_mutex_lock(&vg->lock);
	for (;;) {
		struct vmb_ic_guest *ic;
		const char *cmd;
		int rc;

		while (!vg->job && !vg->stop)
			pthread_cond_wait(&vg->cond, &vg->lock);
		if (!vg->job)
			break;
		ic = vg->job;
		cmd = vg->job_op == VSS_OP_FREEZE ? vg->cfg.freeze_cmd : vg->cfg.thaw_cmd;
		pthread_mutex_unlock(&vg->lock);
		rc = vmb_vss_run_hook(cmd, vg->cfg.timeout_ms);
		if (rc < 0)
			vmb_guest_log(
			    vmb_device_guest(vmb_ic_guest_device(ic)), "vss: %s hook failed (%s)",
			    vg->job_op == VSS_OP_FREEZE ? "freeze" : "thaw", strerror(-rc));
		vmb_ic_guest_reply(ic, rc == 0 ? HV_S_OK : HV_E_FAIL);
		pthread_mutex_lock(&vg->lock);
		vg->job = NULL;
		pthread_cond_broadcast(&vg->cond);
	}
	pthread_mutex_unlock(&vg->lock);
	return NULL;
}

static int vss_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_vss_guest *vg = ctx;
	int op = vmb_vss_decode(m->body, m->body_len);
	int rc = VMB_IC_DEFER;

	if (op < 0) {
		*status = HV_E_FAIL;
		return VMB_IC_REPLY;
	}
	/* A registered hv_vss_daemon takes what the kernel would give it. */
	if (vg->daemon && dlink_submit(vg->daemon, ic, m->body, m->body_len) == 0)
		return VMB_IC_DEFER;
	if (vmb_vss_action(op) == VMB_VSS_REPLY) {
		*status = vmb_vss_reply(m->body, m->body_len, op, 0);
		return VMB_IC_REPLY;
	}
	pthread_mutex_lock(&vg->lock);
	if (vg->job || vg->stop) {
		*status = HV_E_FAIL;
		rc = VMB_IC_REPLY;
	} else {
		vg->job = ic;
		vg->job_op = op;
		pthread_cond_broadcast(&vg->cond);
	}
	pthread_mutex_unlock(&vg->lock);
	return rc;
}

/* The channel closes after this: no hook reply may follow. */
static void vss_remove(struct icb_driver *d, struct vmb_ic_guest *ic)
{
	struct vmb_vss_guest *vg = (struct vmb_vss_guest *)d;

	if (vg->daemon)
		dlink_detach(vg->daemon, ic);
	pthread_mutex_lock(&vg->lock);
	while (vg->job)
		pthread_cond_wait(&vg->cond, &vg->lock);
	pthread_mutex_unlock(&vg->lock);
}

int vmb_vss_guest_register(struct vmb_guest *g, const struct vmb_vss_guest_config *cfg,
			   struct vmb_vss_guest **out)
{
	struct vmb_vss_guest *vg = calloc(1, sizeof(*vg));
	int rc;

	if (!vg)
		return -ENOMEM;
	vg->cfg = *cfg;
	if (!vg->cfg.timeout_ms)
		vg->cfg.timeout_ms = VSS_HOOK_TIMEOUT_MS;
	pthread_mutex_init(&vg->lock, NULL);
	pthread_cond_init(&vg->cond, NULL);
	vg->d.svc = (struct vmb_ic_guest_service){
	    .name = "vss",
	    .msgtype = ICMSGTYPE_VSS,
	    .fw_versions = icb_fw_v3,
	    .nfw = 1,
	    .msg_versions = vss_guest_versions,
	    .nmsg = 1,
	    .request = vss_request,
	    .ctx = vg,
	};
	vg->d.remove = vss_remove;
	rc = pthread_create(&vg->thread, NULL, hook_main, vg);
	if (rc) {
		vmb_vss_guest_free(vg);
		return -rc;
	}
	vg->running = true;
	if (cfg->fuse_dir) {
		rc = dlink_create(&dlink_vss, NULL, &vg->daemon);
		if (rc == 0)
			rc = dlink_fuse_start(vg->daemon, g, cfg->fuse_dir,
					      "the hooks answer again", false);
		if (rc < 0) {
			vmb_vss_guest_free(vg);
			return rc;
		}
	}
	rc = icb_driver_register(&vg->d, g, "hv_vss", (struct vmb_guid)VMB_GUID_VSS);
	if (rc < 0) {
		vmb_vss_guest_stop(vg);
		vmb_vss_guest_free(vg);
		return rc;
	}
	*out = vg;
	return 0;
}

void vmb_vss_guest_stop(struct vmb_vss_guest *vg)
{
	if (!vg || !vg->running)
		return;
	pthread_mutex_lock(&vg->lock);
	vg->stop = true;
	pthread_cond_broadcast(&vg->cond);
	pthread_mutex_unlock(&vg->lock);
	pthread_join(vg->thread, NULL);
	vg->running = false;
}

void vmb_vss_guest_free(struct vmb_vss_guest *vg)
{
	if (!vg)
		return;
	vmb_vss_guest_stop(vg);
	if (vg->daemon) {
		dlink_fuse_stop(vg->daemon);
		dlink_destroy(vg->daemon);
	}
	pthread_mutex_destroy(&vg->lock);
	pthread_cond_destroy(&vg->cond);
	free(vg);
}
