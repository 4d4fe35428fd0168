/* Shutdown IC: `vmbus ctl shutdown` on the host; the guest replies, then acts. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/ic.h"

static const struct ic_version sd_msg_versions[] = {{3, 2}, {3, 1}, {3, 0}, {1, 0}};

#define SD_CTL_TIMEOUT_MS 10000

/* ---- host ---- */

struct vmb_sd_host {
	struct vmb_ic_host *ic;
};

int vmb_sd_host_request(struct vmb_sd_host *sd, uint32_t flags, int timeout_ms, uint32_t *status)
{
	static const char why[] = "Shutdown requested by vmbus ctl";
	struct shutdown_msg_data d = {
	    .reason_code = VMB_SHTDN_REASON_PLANNED,
	    .timeout_seconds = 30,
	    .flags = flags,
	};
	uint32_t st = HV_E_FAIL;
	int rc;

	memcpy(d.display_message, why, sizeof(why));
	rc = vmb_ic_host_request_sync(sd->ic, &d, sizeof(d), timeout_ms, &st, NULL, 0, NULL);
	if (status)
		*status = st;
	if (rc == 0 && st != HV_S_OK)
		rc = -EPERM;
	return rc;
}

static int ctl_shutdown(void *ctx, int argc, char **argv, FILE *out)
{
	uint32_t flags = 0, status = 0;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--reboot")) {
			flags |= VMB_SHUTDOWN_FLAG_REBOOT;
		} else if (!strcmp(argv[i], "--force")) {
			flags |= VMB_SHUTDOWN_FLAG_FORCE;
		} else {
			fprintf(out, "usage: shutdown [--reboot] [--force]\n");
			return -EINVAL;
		}
	}
	rc = vmb_sd_host_request(ctx, flags, SD_CTL_TIMEOUT_MS, &status);
	if (rc == 0)
		fprintf(out, "%s accepted by the guest\n",
			flags & VMB_SHUTDOWN_FLAG_REBOOT ? "reboot" : "shutdown");
	else if (rc == -EPERM)
		fprintf(out, "refused by the guest (status 0x%08x)\n", status);
	else
		fprintf(out, "no answer from the guest: %s\n", strerror(-rc));
	return rc;
}

static void sd_host_release(void *ctx)
{
	free(ctx);
}

int vmb_sd_host_add(struct vmb_host *h, struct vmb_sd_host **out)
{
	struct vmb_sd_host *sd = calloc(1, sizeof(*sd));
	struct vmb_ic_host_service s = {
	    .name = "shutdown",
	    .msgtype = ICMSGTYPE_SHUTDOWN,
	    .class_id = VMB_GUID_SHUTDOWN,
	    .instance_id = VMB_GUID_SHUTDOWN_INSTANCE,
	    .fw_versions = vmb_ic_fw_versions,
	    .nfw = 2,
	    .msg_versions = sd_msg_versions,
	    .nmsg = 4,
	    .release = sd_host_release,
	};
	int rc;

	if (!sd)
		return -ENOMEM;
	s.ctx = sd;
	rc = vmb_ic_host_add(h, &s, &sd->ic);
	if (rc < 0) {
		free(sd);
		return rc;
	}
	vmb_host_ctl_register(h, "shutdown", "[--reboot] [--force]: ask the guest to shut down",
			      ctl_shutdown, sd);
	if (out)
		*out = sd;
	return 0;
}

/* ---- guest ---- */

uint32_t vmb_sd_guest_decide(bool allow, const uint8_t *body, uint32_t body_len, uint32_t *flags)
{
	uint32_t f;

	if (body_len < VMB_SHUTDOWN_MIN_BODY)
		return HV_E_FAIL;
	memcpy(&f, body + 8, sizeof(f));
	*flags = f;
	/* Hibernation is not something our guest can do. */
	if (!allow || (f & VMB_SHUTDOWN_FLAG_HIBERNATE))
		return HV_E_FAIL;
	return HV_S_OK;
}

/*
 * An accepted request is deferred to the action thread, which sends the
 * reply first and acts afterwards: the host must see the answer before
 * the guest starts going away.
 */
struct vmb_sd_guest {
	struct vmb_driver drv;
	struct vmb_ic_guest_service svc;
	struct vmb_sd_guest_config cfg;
	struct vmb_guest *g;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
	bool started, stop, busy;
	struct vmb_ic_guest *pending; /* deferred request's IC, or NULL */
	uint32_t flags;
};

static int sd_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_sd_guest *sg = ctx;
	uint32_t flags = 0;

	*status = vmb_sd_guest_decide(sg->cfg.allow, m->body, m->body_len, &flags);
	if (*status != HV_S_OK) {
		vmb_guest_log(sg->g, "shutdown: request (flags %#x) refused", flags);
		return VMB_IC_REPLY;
	}
	pthread_mutex_lock(&sg->lock);
	sg->pending = ic;
	sg->flags = flags;
	pthread_cond_broadcast(&sg->cond);
	pthread_mutex_unlock(&sg->lock);
	return VMB_IC_DEFER;
}

static void *sd_main(void *arg)
{
	struct vmb_sd_guest *sg = arg;

	pthread_mutex_lock(&sg->lock);
	while (!sg->stop) {
		struct vmb_ic_guest *ic = sg->pending;
		uint32_t flags = sg->flags;
		int rc;

		if (!ic) {
			pthread_cond_wait(&sg->cond, &sg->lock);
			continue;
		}
		sg->pending = NULL;
		sg->busy = true;
		pthread_mutex_unlock(&sg->lock);
		rc = vmb_ic_guest_reply(ic, HV_S_OK);
		vmb_guest_log(sg->g, "shutdown: %s requested by the host (flags %#x)%s",
			      flags & VMB_SHUTDOWN_FLAG_REBOOT ? "reboot" : "shutdown", flags,
			      rc < 0 ? "; reply failed" : "");
		if (sg->cfg.action)
			sg->cfg.action(sg->cfg.arg, flags);
		else
			vmb_guest_stop(sg->g);
		pthread_mutex_lock(&sg->lock);
		sg->busy = false;
		pthread_cond_broadcast(&sg->cond);
	}
	pthread_mutex_unlock(&sg->lock);
	return NULL;
}

static int sd_probe(struct vmb_device *dev)
{
	struct vmb_sd_guest *sg = vmb_device_driver(dev)->ctx;
	struct vmb_ic_guest *ic;
	int rc = vmb_ic_guest_open(dev, &sg->svc, &ic);

	if (rc == 0)
		vmb_device_set_priv(dev, ic);
	return rc;
}

static void sd_remove(struct vmb_device *dev)
{
	struct vmb_sd_guest *sg = vmb_device_driver(dev)->ctx;
	struct vmb_ic_guest *ic = vmb_device_priv(dev);

	pthread_mutex_lock(&sg->lock);
	while (sg->busy)
		pthread_cond_wait(&sg->cond, &sg->lock);
	if (sg->pending == ic)
		sg->pending = NULL;
	pthread_mutex_unlock(&sg->lock);
	vmb_ic_guest_close(ic);
}

int vmb_sd_guest_register(struct vmb_guest *g, const struct vmb_sd_guest_config *cfg,
			  struct vmb_sd_guest **out)
{
	struct vmb_sd_guest *sg = calloc(1, sizeof(*sg));
	int rc;

	if (!sg)
		return -ENOMEM;
	sg->g = g;
	sg->cfg = *cfg;
	pthread_mutex_init(&sg->lock, NULL);
	pthread_cond_init(&sg->cond, NULL);
	sg->svc = (struct vmb_ic_guest_service){
	    .name = "shutdown",
	    .msgtype = ICMSGTYPE_SHUTDOWN,
	    .fw_versions = vmb_ic_fw_versions,
	    .nfw = 2,
	    .msg_versions = sd_msg_versions,
	    .nmsg = 4,
	    .request = sd_request,
	    .ctx = sg,
	};
	sg->drv = (struct vmb_driver){
	    .name = "hv_shutdown",
	    .class_id = VMB_GUID_SHUTDOWN,
	    .probe = sd_probe,
	    .remove = sd_remove,
	    .ctx = sg,
	};
	rc = pthread_create(&sg->thread, NULL, sd_main, sg);
	sg->started = rc == 0;
	rc = rc ? -rc : vmb_guest_register_driver(g, &sg->drv);
	if (rc < 0) {
		vmb_sd_guest_stop(sg);
		vmb_sd_guest_free(sg);
		return rc;
	}
	*out = sg;
	return 0;
}

void vmb_sd_guest_stop(struct vmb_sd_guest *sg)
{
	pthread_mutex_lock(&sg->lock);
	sg->stop = true;
	pthread_cond_broadcast(&sg->cond);
	pthread_mutex_unlock(&sg->lock);
	if (sg->started)
		pthread_join(sg->thread, NULL);
	sg->started = false;
}

void vmb_sd_guest_free(struct vmb_sd_guest *sg)
{
	if (!sg)
		return;
	pthread_cond_destroy(&sg->cond);
	pthread_mutex_destroy(&sg->lock);
	free(sg);
}
