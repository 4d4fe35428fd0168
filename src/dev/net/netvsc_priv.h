/* netvsc (guest NIC) internals shared by its files. */
#ifndef VMB_DEV_NET_NETVSC_PRIV_H
#define VMB_DEV_NET_NETVSC_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/net/rndis.h"
#include "dev/net/tap.h"
#include "vmbus/dev/net.h"

#define NETVSC_RING_BYTES (256u * 1024)
/* Linux's default; 4096 pages stays under the 8190-page GPADL limit. */
#define NETVSC_RBUF_BYTES (16u << 20)
#define NETVSC_SBUF_BYTES (1u << 20)
/* Below the channel's 256 request slots (one more is the control message). */
#define NETVSC_MAX_SECTIONS 224u
#define NETVSC_MAX_RNDIS    65536u
#define NETVSC_TIMEOUT_MS   10000
/* Sections one TX wake-up fills before it publishes them (one channel batch). */
#define NETVSC_TX_BURST 16u

struct nvc_dev;

struct tx_slot {
	struct nvc_dev *d;
	uint32_t idx;
};

struct nvc_dev {
	struct vmb_netvsc *nv;
	struct vmb_device *dev;
	struct vmb_channel *ch;
	uint32_t version, msg_size;

	uint8_t *rbuf;
	uint32_t rbuf_handle;
	bool rbuf_ok;
	uint8_t *sbuf;
	uint32_t sbuf_handle;
	bool sbuf_ok;
	uint32_t ssec_size, nsecs;
	struct tx_slot slots[NETVSC_MAX_SECTIONS];
	/* RNDIS messages per section and their alignment (the host's INIT_C); 1 = no packing. */
	uint32_t max_pkts, pkt_align;
	struct vmb_tap_reader tapr; /* the TX thread's, from netvsc_tx_start() on */

	pthread_mutex_t lock; /* free sections, control waiter, stats */
	pthread_cond_t cond;
	uint32_t free_secs[NETVSC_MAX_SECTIONS];
	uint32_t nfree;
	bool tx_waiting; /* the TX thread waits for a free section */
	uint32_t next_req_id, wait_req;
	bool got;
	uint8_t resp[512];
	uint32_t resp_len;
	bool link_up;
	struct vmb_net_stats st;

	uint8_t *ctl_page; /* one DMA page for RNDIS control messages */
	uint64_t ctl_pfn;

	int tap_fd;
	char tap_name[VMB_TAP_NAME_MAX]; /* what the kernel named it */
	uint8_t mac[6];
	pthread_t tx;
	bool tx_on;
	int stop_pipe[2];
	atomic_bool stop; /* read by its thread without the lock */

	/* Snapshots of received messages, kept until their frames are flushed to the TAP. */
	uint8_t rx_copy[NETVSC_MAX_RNDIS];
	struct vmb_tap_writer tapw;
};

struct vmb_netvsc {
	struct vmb_driver drv;
	struct vmb_guest *g;
	char tap[VMB_TAP_NAME_MAX]; /* name or template ("%d") */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct nvc_dev *d; /* the bound NIC, fully up */
	bool busy;	   /* a NIC is bound (one TAP name, one NIC) */
};

/* netvsc_data.c */
void netvsc_on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt);
int netvsc_tx_start(struct nvc_dev *d);
void netvsc_tx_stop(struct nvc_dev *d);
/* What one send section got: bytes used, frames packed, frames the TAP cut short. */
struct netvsc_fill {
	uint32_t used, frames, dropped;
	uint64_t bytes;
};
/*
 * Copy frames from the TAP reader into section sec (d->ssec_size bytes),
 * each behind its RNDIS header, while the host's per-message limit allows
 * and the next frame fits; an RNDIS message is stretched to the alignment
 * when another follows.
 */
void netvsc_fill_section(struct nvc_dev *d, uint8_t *sec, struct netvsc_fill *f);
/* A control request; the completion is copied to d->resp. */
int netvsc_rndis_request(struct nvc_dev *d, const void *msg, uint32_t len, uint32_t req_id);

#endif
