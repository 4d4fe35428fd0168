/* netvsp (host NIC) internals shared by its files. */
#ifndef VMB_DEV_NET_NETVSP_PRIV_H
#define VMB_DEV_NET_NETVSP_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "dev/net/rndis.h"
#include "dev/net/tap.h"
#include "vmbus/dev/net.h"

/* Receive buffer: sub-allocations, grouped into batches of one transfer-page packet each. */
#define NETVSP_SUBALLOC_SIZE 1728u
#define NETVSP_RX_BATCH	     32u
/* Below the channel's 256 request slots, leaving room for control replies. */
#define NETVSP_RX_SLOTS	 192u
#define NETVSP_MAX_RNDIS 65536u

struct vmb_netvsp;

/* One batch of sub-allocations, in flight as one transfer-page packet. */
struct rx_slot {
	struct vmb_netvsp *n;
	struct vmb_channel *ch; /* the channel it was sent on */
	uint32_t first;		/* first sub-allocation */
	bool busy;
};

struct vmb_netvsp {
	struct vmb_host *h;
	struct vmb_vsp *v;
	char tap_name[VMB_TAP_NAME_MAX];
	int tap_fd;
	uint8_t mac[6];
	uint32_t max_version;

	pthread_mutex_t lock; /* everything below */
	struct vmb_channel *ch;
	uint32_t version; /* negotiated NVSP version, 0 = none */
	uint32_t msg_size;
	struct vmb_mapping rbuf, sbuf;
	bool rbuf_mapped, sbuf_mapped;
	uint16_t rbuf_id;
	uint32_t rsub_count;
	uint32_t ssec_count;
	struct rx_slot slots[NETVSP_RX_SLOTS];
	uint32_t nslots, batch;
	uint32_t free_slots[NETVSP_RX_SLOTS];
	uint32_t nfree;
	bool rndis_ready;
	uint32_t filter;
	bool link_down;
	struct vmb_net_stats st;

	/* Guest sends, on the loop thread: one private snapshot of the RNDIS
	 * bytes, and the replies of one drain go out in one channel batch. */
	uint8_t rndis_buf[NETVSP_MAX_RNDIS];
	bool batching;
	struct vmb_tap_writer tapw; /* the frames of one send: one flush */

	/* TAP reader thread (frames to the guest) */
	pthread_t reader;
	bool reader_on;
	int stop_pipe[2];
	atomic_bool stop;	/* read by its thread without the lock */
	uint8_t scratch[65536]; /* frames too big for a sub-allocation land here */
};

/* netvsp_rx.c */
int netvsp_reader_start(struct vmb_netvsp *n);
void netvsp_reader_stop(struct vmb_netvsp *n);
/* Send one RNDIS message (a control reply or status) to the guest. */
int netvsp_send_rndis(struct vmb_netvsp *n, const void *msg, uint32_t len);
void netvsp_rx_reset(struct vmb_netvsp *n);

/* netvsp_rndis.c: one RNDIS message from the guest (a private copy). */
int netvsp_rndis(struct vmb_netvsp *n, const uint8_t *buf, uint32_t len);

#endif
