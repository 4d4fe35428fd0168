/*
 * The host runtime: one VM = simulated partition + VMBus server + devices
 * (VSPs), driven by one event-loop thread. Devices plug in with a
 * vmb_vsp_desc; each channel the guest opens reaches the device as a
 * vmb_channel (chan.h) whose handler runs on the loop thread. Devices may
 * send from any thread.
 */
#ifndef VMBUS_HOST_H
#define VMBUS_HOST_H

#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "vmbus/chan.h"
#include "vmbus/partition.h"
#include "vmbus/server.h"

struct vmb_host;
struct vmb_vsp;

struct vmb_host_config {
	const char *socket_path;
	size_t ram_size;       /* 0 = 256 MiB */
	unsigned vp_count;     /* 0 = 2 */
	uint32_t max_version;  /* 0 = 6.0 */
	uint64_t gpadl_limit;  /* 0 = 1280 MiB */
	const char *trace_path; /* pcapng of every control message, or NULL */
	bool verbose;
};

int vmb_host_create(const struct vmb_host_config *cfg, struct vmb_host **out);
void vmb_host_destroy(struct vmb_host *h);
/* Run the event loop until *stop becomes non-zero. */
int vmb_host_run(struct vmb_host *h, volatile sig_atomic_t *stop);
/* One loop step (tests). */
int vmb_host_poll(struct vmb_host *h, int timeout_ms);
void vmb_host_log(struct vmb_host *h, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct vmb_vsp_ops {
	/*
	 * The guest opened channel `sub` (0 = primary) of the device. Set the
	 * channel's handler here. Non-zero fails the open.
	 */
	int (*open)(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		    const struct vmb_open_params *p);
	/* The channel is closing; ch is destroyed after this returns. */
	void (*close)(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch);
	/* The device is gone for good (removed and released, or host destroyed). */
	void (*release)(void *dev);
};

struct vmb_vsp_desc {
	const char *name; /* for logs and `vmbus ls` */
	struct vmb_guid class_id;
	struct vmb_guid instance_id;
	uint16_t chn_flags;
	uint16_t mmio_megabytes;
	uint8_t user_def[120];
	uint32_t max_packet; /* largest packet the device accepts; 0 = 64 KiB */
	bool copy_out;       /* copy-out every packet before the device sees it */
	const struct vmb_vsp_ops *ops;
	void *dev;
};

/* Offer a device (hot add when the guest is already running). */
int vmb_host_add_device(struct vmb_host *h, const struct vmb_vsp_desc *d,
			struct vmb_vsp **out);
/* Rescind every channel of the device; it is freed once the guest releases them. */
int vmb_host_remove_device(struct vmb_host *h, struct vmb_vsp *v);
/* Offer sub-channels 1..n of the device. */
int vmb_vsp_offer_subchannels(struct vmb_vsp *v, unsigned n);
/* Map a GPADL the guest created for this device (large shared buffers). */
int vmb_vsp_map_gpadl(struct vmb_vsp *v, uint32_t handle, struct vmb_mapping *m);
void vmb_vsp_unmap_gpadl(struct vmb_vsp *v, struct vmb_mapping *m);
struct vmb_host *vmb_vsp_host(const struct vmb_vsp *v);
/* Guest RAM for GPA-direct data. */
void *vmb_host_gpa(struct vmb_host *h, uint64_t gpa, size_t len);
/* The partition's reference time (TIME_REF_COUNT): 100 ns units. */
uint64_t vmb_host_ref_time(struct vmb_host *h);
/* Guest RAM size in 4 KiB pages. */
uint64_t vmb_host_ram_pages(struct vmb_host *h);
/* Free the host memory behind guest pages (balloon); see vmb_host_part_discard. */
int vmb_host_discard(struct vmb_host *h, uint64_t first_pfn, uint64_t count);
/* Bytes of guest RAM backed by host memory right now. */
int vmb_host_ram_resident(struct vmb_host *h, uint64_t *bytes);

/*
 * Control commands (`vmbus ctl NAME ARGS...`), served on a Unix socket by a
 * thread of their own, one connection at a time. A handler runs WITHOUT the
 * host lock (so it may wait for the guest) and writes its reply text to out;
 * it returns 0 or -errno (reported to the caller as the exit status).
 */
typedef int (*vmb_ctl_fn)(void *ctx, int argc, char **argv, FILE *out);
int vmb_host_ctl_register(struct vmb_host *h, const char *name, const char *help,
			  vmb_ctl_fn fn, void *ctx);
/* Start serving commands on path (created; removed on destroy). */
int vmb_host_ctl_listen(struct vmb_host *h, const char *path);
/* Run one command in-process, as the socket would (tests). */
int vmb_host_ctl_run(struct vmb_host *h, int argc, char **argv, FILE *out);

/* Counters for tests and `vmbus ls`. */
struct vmb_host_stats {
	unsigned channels_open;
	unsigned gpadls;
	uint64_t gpadl_bytes;
	unsigned mappings;
	uint64_t needless_signals;
	uint64_t throttled;
};
void vmb_host_get_stats(struct vmb_host *h, struct vmb_host_stats *st);

#endif
