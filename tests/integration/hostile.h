/*
 * Helpers for the hostile suites: a raw guest that speaks the VMBus
 * control protocol message by message over the partition API (so a test
 * can send what no well-behaved guest would), and a host child whose
 * stderr goes to a file the test can search for the logged cause.
 */
#ifndef VMB_IT_HOSTILE_H
#define VMB_IT_HOSTILE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "harness.h"
#include "vmbus/chan.h"
#include "vmbus/partition.h"
#include "vmbus/proto/channel.h"

#define HG_QUEUE  512
#define HG_OFFERS 16
#define HG_MAXPG  64

struct hg_msg {
	uint32_t type;
	size_t len;
	uint8_t b[VMBUS_MAX_MESSAGE_SIZE];
};

struct hg_chan;

/* A raw guest. */
struct hg {
	struct vmb_guest_part *g;
	pthread_mutex_t lock;
	pthread_cond_t cv;
	struct hg_msg q[HG_QUEUE];
	unsigned head, n;
	atomic_uint dropped; /* messages lost to a full queue */
	atomic_bool host_down;
	uint32_t conn_id; /* message connection id from VERSION_RESPONSE */
	struct vmbus_channel_offer_channel offers[HG_OFFERS];
	unsigned noffers;
	/* Open channels by offer index; evlock keeps one from being destroyed
	 * while a VP thread delivers its interrupt. */
	pthread_mutex_t evlock;
	struct hg_chan *chans[HG_OFFERS];
};

/* One channel this raw guest opened: ring GPADL and a vmb_channel over it. */
struct hg_chan {
	struct hg *h;
	unsigned idx; /* offer index */
	uint32_t relid, conn_id, gpadl;
	uint64_t pfns[HG_MAXPG];
	unsigned npages, down; /* down = first page of the H->G ring */
	struct vmb_mapping out, in;
	struct vmbus_ring_header *out_hdr; /* G->H: the host reads it */
	uint8_t *out_data;
	uint32_t out_size;
	struct vmb_channel *ch;
};

int hg_connect(struct hg *h, const char *sock);
void hg_close(struct hg *h);

/* HvPostMessage of a raw control message (HV_STATUS_* or -errno). */
int hg_post(struct hg *h, const void *msg, size_t len);
/* Post a message that is just a header of `type` (REQUESTOFFERS, UNLOAD...). */
int hg_post_type(struct hg *h, uint32_t type);
/*
 * Wait up to timeout_ms for the next message of `type` (other messages
 * stay queued). Returns its length (copied to out) or -ETIMEDOUT.
 */
long hg_wait(struct hg *h, uint32_t type, void *out, size_t cap, int timeout_ms);
/* Drop every queued message. */
void hg_flush(struct hg *h);

/* INITIATE_CONTACT at `version`; 0 when accepted. */
int hg_hello(struct hg *h, uint32_t version);
/* REQUESTOFFERS and collect offers up to ALLOFFERS_DELIVERED; returns their number. */
int hg_offers(struct hg *h);
/* Send a one-range GPADL; returns creation_status, or -ETIMEDOUT without answer. */
long hg_gpadl(struct hg *h, uint32_t relid, uint32_t handle, const uint64_t *pfns, size_t n);
/* Allocate pages, create the ring GPADL, open offer `idx` and attach a channel. */
int hg_chan_open(struct hg *h, unsigned idx, unsigned ring_pages, uint32_t gpadl,
		 struct hg_chan *c);
void hg_chan_close(struct hg_chan *c);
/* ECHO request on the test device; 0 when the same bytes came back. */
int hg_echo(struct hg_chan *c, int timeout_ms);
/* HvSignalEvent on the channel's connection. */
int hg_signal(struct hg_chan *c);

/* Host child (the harness host) with its stderr captured in log_path. */
int hostile_host_start(struct it_proc *p, const char *sock, const struct it_host_opts *o,
		       char *log_path, size_t len);
/* Wait up to timeout_ms for `needle` to appear in the file. */
bool hostile_log_has(const char *path, const char *needle, int timeout_ms);

#endif
