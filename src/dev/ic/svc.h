/* Shared plumbing of the KVP, VSS and fcopy drivers (private). */
#ifndef VMBUS_SRC_DEV_IC_SVC_H
#define VMBUS_SRC_DEV_IC_SVC_H

#include <pthread.h>

#include "vmbus/dev/ic_services.h"

/* A guest driver serving one IC service on every device of its class. */
struct icb_driver {
	struct vmb_driver drv;
	struct vmb_ic_guest_service svc;
	/* Optional: before the channel closes (stop work that replies on it). */
	void (*remove)(struct icb_driver *d, struct vmb_ic_guest *ic);
};

int icb_driver_register(struct icb_driver *d, struct vmb_guest *g, const char *name,
			struct vmb_guid class_id);

/* Host: a ctl-facing IC with one transaction at a time. */
struct icb_host {
	struct vmb_ic_host *ic;
	pthread_mutex_t one; /* serialises ctl transactions */
};

int icb_host_add(struct icb_host *s, struct vmb_host *h, const struct vmb_ic_host_service *svc);
/* request_sync under s->one. */
int icb_host_request(struct icb_host *s, const void *body, uint32_t len, int timeout_ms,
		     uint32_t *status, void *resp, uint32_t cap, uint32_t *resp_len);
/* vmb_ic_host_request_sync(), retrying while the ring is full. */
int icb_request_sync(struct vmb_ic_host *ic, const void *body, uint32_t len, int timeout_ms,
		     uint32_t *status, void *resp, uint32_t cap, uint32_t *resp_len);
/* Text of an HRESULT for ctl output. */
const char *icb_status_name(uint32_t status);

/* Version lists (PROTOCOL.md 5.2). */
extern const struct ic_version icb_fw_all[2]; /* 3.0, 1.0 */
extern const struct ic_version icb_fw_v3[1];  /* 3.0 */

#endif
