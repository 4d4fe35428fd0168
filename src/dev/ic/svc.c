/* Shared plumbing of the KVP, VSS and fcopy drivers. */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include "svc.h"

const struct ic_version icb_fw_all[2] = {{3, 0}, {1, 0}};
const struct ic_version icb_fw_v3[1] = {{3, 0}};

static struct icb_driver *drv_of(struct vmb_device *dev)
{
	return vmb_device_driver(dev)->ctx;
}

static int icb_probe(struct vmb_device *dev)
{
	struct icb_driver *d = drv_of(dev);
	struct vmb_ic_guest *ic;
	int rc = vmb_ic_guest_open(dev, &d->svc, &ic);

	if (rc == 0)
		vmb_device_set_priv(dev, ic);
	return rc;
}

static void icb_remove(struct vmb_device *dev)
{
	struct icb_driver *d = drv_of(dev);
	struct vmb_ic_guest *ic = vmb_device_priv(dev);

	if (!ic)
		return;
	if (d->remove)
		d->remove(d, ic);
	vmb_ic_guest_close(ic);
	vmb_device_set_priv(dev, NULL);
}

int icb_driver_register(struct icb_driver *d, struct vmb_guest *g, const char *name,
			struct vmb_guid class_id)
{
	d->drv = (struct vmb_driver){
	    .name = name,
	    .class_id = class_id,
	    .probe = icb_probe,
	    .remove = icb_remove,
	    .ctx = d,
	};
	return vmb_guest_register_driver(g, &d->drv);
}

int icb_host_add(struct icb_host *s, struct vmb_host *h, const struct vmb_ic_host_service *svc)
{
	pthread_mutex_init(&s->one, NULL);
	return vmb_ic_host_add(h, svc, &s->ic);
}

int icb_host_request(struct icb_host *s, const void *body, uint32_t len, int timeout_ms,
		     uint32_t *status, void *resp, uint32_t cap, uint32_t *resp_len)
{
	int rc;

	pthread_mutex_lock(&s->one);
	rc = icb_request_sync(s->ic, body, len, timeout_ms, status, resp, cap, resp_len);
	pthread_mutex_unlock(&s->one);
	return rc;
}

int icb_request_sync(struct vmb_ic_host *ic, const void *body, uint32_t len, int timeout_ms,
		     uint32_t *status, void *resp, uint32_t cap, uint32_t *resp_len)
{
	int rc;

	/*
	 * The framework never waits for ring space; the guest frees it as soon
	 * as its reply is out, so a ctl thread may simply try again.
	 */
	for (int waited = 0;; waited += 5) {
		rc = vmb_ic_host_request_sync(ic, body, len, timeout_ms, status, resp, cap,
					      resp_len);
		if (rc != -EAGAIN || waited >= timeout_ms)
			return rc;
		usleep(5000);
	}
}

const char *icb_status_name(uint32_t status)
{
	switch (status) {
	case HV_S_OK:
		return "ok";
	case HV_E_FAIL:
		return "failed (E_FAIL)";
	case HV_S_CONT:
		return "no more items";
	case HV_ERROR_NOT_SUPPORTED:
		return "not supported";
	case HV_INVALIDARG:
		return "invalid argument";
	case HV_ERROR_ALREADY_EXISTS:
		return "already exists";
	case HV_ERROR_DISK_FULL:
		return "disk full";
	case HV_ERROR_DEVICE_NOT_CONNECTED:
		return "device not connected";
	default:
		return "error";
	}
}
