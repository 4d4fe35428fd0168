/*
 * The devices of the default VM (`vmbus run`, `vmbus host`, `vmbus guest`).
 * Each device adds one entry to the table in devices.c: how to offer it on
 * the host and how to bind its driver in the guest. Options reach devices
 * as key=value pairs (`-o key=value`, repeatable, given to both sides).
 */
#ifndef VMBUS_TOOL_DEVICES_H
#define VMBUS_TOOL_DEVICES_H

#include "vmbus/guest.h"
#include "vmbus/host.h"

#define VM_MAX_OPTS 64
#define VM_MAX_DEVICES 32

struct vm_opts {
	const char *kv[VM_MAX_OPTS]; /* "key=value" */
	unsigned n;
};

/* Value of key, or def when absent. */
const char *vm_opt(const struct vm_opts *o, const char *key, const char *def);
int vm_opt_add(struct vm_opts *o, const char *kv);
/* The VM's run directory (-o run_dir=..., set by `vmbus run`), created. */
const char *vm_run_dir(const struct vm_opts *o, char *buf, size_t len);

struct vm_device {
	const char *name;
	/* Offer the device(s) on the host. */
	int (*host_add)(struct vmb_host *h, const struct vm_opts *o);
	/* Register the guest driver; *state is handed back to guest_stop/free. */
	int (*guest_register)(struct vmb_guest *g, const struct vm_opts *o, void **state);
	/* Before the guest goes down (stop background work). May be NULL. */
	void (*guest_stop)(void *state);
	/* After vmb_guest_destroy(). May be NULL. */
	void (*guest_free)(void *state);
};

extern const struct vm_device vm_devices[];
extern const unsigned vm_device_count;

#endif
