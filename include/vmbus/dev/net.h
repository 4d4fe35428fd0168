/*
 * Synthetic NIC (netvsp host / netvsc guest) over NVSP + RNDIS, with a TAP
 * interface as the real edge on each end: frames the guest sends come out
 * of the host's TAP, frames written to the host's TAP reach the guest, and
 * the guest presents its NIC as a TAP of its own. docs/net.md.
 */
#ifndef VMBUS_DEV_NET_H
#define VMBUS_DEV_NET_H

#include <stdbool.h>
#include <stdint.h>

#include "vmbus/guest.h"
#include "vmbus/host.h"
#include "vmbus/proto/guid.h"

struct vmb_net_stats {
	uint64_t rx_frames; /* to the guest */
	uint64_t rx_bytes;
	uint64_t rx_dropped; /* no room, too big, or the guest not ready */
	uint64_t tx_frames;  /* from the guest */
	uint64_t tx_bytes;
	uint64_t tx_dropped;
	uint64_t bad_packets; /* malformed NVSP/RNDIS from the peer */
};

/* 0 when TAP interfaces can be created here (/dev/net/tun, CAP_NET_ADMIN), else -errno. */
int vmb_net_available(void);

/* ---- host (netvsp) ---- */
struct vmb_netvsp;

struct vmb_net_host_config {
	struct vmb_guid instance;
	const char *tap;      /* host TAP name, "%d" = first free; NULL = "vmbtap%d" */
	uint8_t mac[6];	      /* the guest NIC's address; all zero = derived */
	uint32_t max_version; /* newest NVSP version offered; 0 = 6.1 */
};

int vmb_net_host_add(struct vmb_host *h, const struct vmb_net_host_config *cfg,
		     struct vmb_netvsp **out);
/* Rescind the NIC; it is freed once the guest releases the channel. */
int vmb_net_host_remove(struct vmb_netvsp *n);
void vmb_net_host_stats(struct vmb_netvsp *n, struct vmb_net_stats *st);

/* ---- guest (netvsc) ---- */
struct vmb_netvsc;

struct vmb_net_guest_config {
	const char *tap; /* guest TAP name, "%d" = first free; NULL = "vmbguest%d" */
};

int vmb_net_guest_register(struct vmb_guest *g, const struct vmb_net_guest_config *cfg,
			   struct vmb_netvsc **out);
/* Free after vmb_guest_destroy(). */
void vmb_net_guest_free(struct vmb_netvsc *n);
/* Wait until a NIC finished bring-up (RNDIS initialised, TAP up). */
int vmb_net_guest_wait(struct vmb_netvsc *n, int timeout_ms);
void vmb_net_guest_stats(struct vmb_netvsc *n, struct vmb_net_stats *st);

#endif
