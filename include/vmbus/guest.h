/*
 * The guest runtime: simulated partition (VP threads) + VMBus client +
 * a driver model. Register drivers by class GUID; a matching offer is
 * probed on a worker thread (so probe may block on the host), a rescind
 * removes the device at any time, in any order.
 */
#ifndef VMBUS_GUEST_H
#define VMBUS_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "vmbus/chan.h"
#include "vmbus/client.h"
#include "vmbus/partition.h"

struct vmb_guest;
struct vmb_device;

struct vmb_guest_config {
	const char *socket_path;
	uint32_t max_version;   /* 0 = 6.0 */
	uint32_t min_version;   /* 0 = 0.13 */
	const char *sysfs_dir;  /* publish a /sys/bus/vmbus-style tree here, or NULL */
	const char *trace_path; /* pcapng of every control message, or NULL */
	int timeout_ms;         /* for each control-path wait; 0 = 10 s */
	bool verbose;
};

struct vmb_driver {
	const char *name;
	struct vmb_guid class_id;
	bool high_speed; /* spread channel interrupts over VPs */
	int (*probe)(struct vmb_device *dev);
	void (*remove)(struct vmb_device *dev);
	/* A sub-channel offer of this device arrived (open it with vmb_device_open_sub). */
	void (*subchannel)(struct vmb_device *dev, uint16_t index);
	void *ctx; /* the driver's own state, see vmb_device_driver() */
};

/* Connect, negotiate, request offers and wait for ALLOFFERS_DELIVERED. */
int vmb_guest_create(const struct vmb_guest_config *cfg, struct vmb_guest **out);
/* Remove every device, UNLOAD, disconnect. */
void vmb_guest_destroy(struct vmb_guest *g);
int vmb_guest_register_driver(struct vmb_guest *g, const struct vmb_driver *drv);
/* Block until the host goes away or vmb_guest_stop() is called. Returns -EPIPE when the host died. */
int vmb_guest_wait(struct vmb_guest *g);
void vmb_guest_stop(struct vmb_guest *g);
uint32_t vmb_guest_version(const struct vmb_guest *g);
/*
 * The partition's reference time (TIME_REF_COUNT, 100 ns units) read from
 * the reference TSC page, or from the host when the page is invalid.
 */
uint64_t vmb_guest_ref_time(struct vmb_guest *g);
/* Number of VPs (storvsc/netvsc open one channel per VP). */
uint32_t vmb_guest_vp_count(const struct vmb_guest *g);
void vmb_guest_log(struct vmb_guest *g, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Opening channels */
struct vmb_open_opts {
	uint32_t send_ring; /* data bytes of the G->H ring (page multiple); 0 = 64 KiB */
	uint32_t recv_ring; /* data bytes of the H->G ring; 0 = 64 KiB */
	vmb_packet_fn handler;
	void *arg;
	const void *userdata;
	size_t userdata_len;
	bool copy_out;       /* default true: never trust the host */
	uint32_t max_packet; /* 0 = 64 KiB */
};

int vmb_device_open(struct vmb_device *dev, const struct vmb_open_opts *o,
		    struct vmb_channel **ch);
int vmb_device_open_sub(struct vmb_device *dev, uint16_t index, const struct vmb_open_opts *o,
			struct vmb_channel **ch);
/* Close a channel of the device (sub-channels before the primary). */
int vmb_device_close(struct vmb_device *dev, struct vmb_channel *ch);

/* Allocate `bytes` of guest memory shared with the host as a GPADL. */
int vmb_device_gpadl_alloc(struct vmb_device *dev, size_t bytes, void **addr,
			   uint32_t *handle);
int vmb_device_gpadl_free(struct vmb_device *dev, uint32_t handle);
/* Guest physical page numbers backing a guest virtual range from gpadl_alloc or ring memory. */
int vmb_guest_va_to_pfn(struct vmb_guest *g, const void *va, uint64_t *pfn);
void *vmb_guest_alloc_dma(struct vmb_guest *g, size_t bytes, uint64_t *first_pfn);
void vmb_guest_free_dma(struct vmb_guest *g, void *va, size_t bytes);

/*
 * The guest's page allocator itself, for a balloon driver: n pages (not
 * contiguous), zeroed; -ENOMEM if fewer than n are free.
 */
int vmb_guest_alloc_pages(struct vmb_guest *g, size_t n, uint64_t *pfns);
void vmb_guest_free_pages(struct vmb_guest *g, const uint64_t *pfns, size_t n);
/* Guest RAM pages in all, and free in the allocator now. */
uint64_t vmb_guest_ram_pages(const struct vmb_guest *g);
uint64_t vmb_guest_free_page_count(struct vmb_guest *g);
/* Guest RAM [gpa, gpa+len) in this process, NULL outside. */
void *vmb_guest_gpa(struct vmb_guest *g, uint64_t gpa, size_t len);

/* Move a channel's interrupts to another VP (MODIFYCHANNEL). */
int vmb_channel_set_vp(struct vmb_device *dev, struct vmb_channel *ch, uint32_t vp);
uint32_t vmb_channel_vp(struct vmb_device *dev, const struct vmb_channel *ch);
/* Take a VP offline: -EBUSY while any channel targets it. */
int vmb_guest_vp_offline(struct vmb_guest *g, uint32_t vp);
int vmb_guest_vp_online(struct vmb_guest *g, uint32_t vp);

const struct vmb_client_offer *vmb_device_offer(const struct vmb_device *dev);
struct vmb_guest *vmb_device_guest(const struct vmb_device *dev);
/* The driver bound to the device (the pointer given to register_driver), or NULL. */
const struct vmb_driver *vmb_device_driver(const struct vmb_device *dev);
void vmb_device_set_priv(struct vmb_device *dev, void *priv);
void *vmb_device_priv(const struct vmb_device *dev);

#endif
