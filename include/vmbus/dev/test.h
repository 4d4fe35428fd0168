/*
 * The vmbus test device ("echo"): our own class (VMB_GUID_TEST), used by the
 * tests and benchmarks to exercise every channel feature end to end.
 *
 * Every packet payload starts with struct vmb_test_hdr. Requests the guest
 * sends and what the host (VSP) does with them:
 *   ECHO      reply with the same payload: as the completion when one was
 *             requested, else as an inband ECHO packet with the same trans_id
 *   SINK      count and checksum the payload, no reply (streaming G->H)
 *   STREAM    send `count` inband DATA packets of `size` bytes (H->G), each
 *             with seq = 0..count-1, then STREAM_END
 *   GPA_SUM   (GPA-direct packet) add up every byte the ranges describe and
 *             complete with the sum in `seq`
 *   STATS     complete with struct vmb_test_stats
 *   SUBCHAN   offer `count` sub-channels of this device
 *   POLL      set this channel's adaptive-signalling budget to `size` ns
 *             (vmb_chan_set_poll) and complete; benchmarks use it
 */
#ifndef VMBUS_DEV_TEST_H
#define VMBUS_DEV_TEST_H

#include <stdbool.h>
#include <stdint.h>

#include "vmbus/chan.h"
#include "vmbus/guest.h"
#include "vmbus/host.h"

enum vmb_test_op {
	VMB_TEST_ECHO = 1,
	VMB_TEST_SINK = 2,
	VMB_TEST_STREAM = 3,
	VMB_TEST_DATA = 4,
	VMB_TEST_STREAM_END = 5,
	VMB_TEST_GPA_SUM = 6,
	VMB_TEST_STATS = 7,
	VMB_TEST_SUBCHAN = 8,
	VMB_TEST_POLL = 9,
};

struct vmb_test_hdr {
	uint32_t op;
	uint32_t count; /* STREAM: packets; SUBCHAN: sub-channels */
	uint32_t size;  /* STREAM: payload bytes per DATA packet */
	uint32_t reserved;
	uint64_t seq;
};
_Static_assert(sizeof(struct vmb_test_hdr) == 24, "test hdr");

struct vmb_test_stats {
	struct vmb_test_hdr hdr;
	uint64_t packets; /* received by the VSP on this channel */
	uint64_t bytes;
	uint64_t sum;     /* byte sum of every SINK payload */
};

/* ---- host (VSP) ---- */
struct vmb_test_vsp;
int vmb_test_vsp_add(struct vmb_host *h, const struct vmb_guid *instance,
		     struct vmb_test_vsp **out);
/* Rescind it (the guest removes the device). */
int vmb_test_vsp_remove(struct vmb_test_vsp *t);
struct vmb_vsp *vmb_test_vsp_vsp(struct vmb_test_vsp *t);

/* ---- guest (VSC) ---- */
struct vmb_test_guest;

/* Register the test driver on a guest; free after vmb_guest_destroy(). */
int vmb_test_guest_register(struct vmb_guest *g, struct vmb_test_guest **out);
void vmb_test_guest_free(struct vmb_test_guest *tg);
/* Wait up to timeout_ms until at least n test devices are bound. */
int vmb_test_guest_wait(struct vmb_test_guest *tg, unsigned n, int timeout_ms);
unsigned vmb_test_guest_bound(struct vmb_test_guest *tg);
/*
 * Call fn with the primary channel of the i-th bound device (probe order);
 * the device cannot be removed while fn runs. -ENODEV when there is none.
 */
int vmb_test_guest_with(struct vmb_test_guest *tg, unsigned i,
			int (*fn)(struct vmb_channel *ch, void *arg), void *arg);
/*
 * Background traffic: one thread per bound device echoing requests with
 * checked payloads until turned off or the device is removed.
 */
void vmb_test_guest_traffic(struct vmb_test_guest *tg, bool on);
struct vmb_test_counts {
	uint64_t echoes;    /* good round trips */
	uint64_t errors;    /* failed or wrong replies */
	uint64_t probed;
	uint64_t removed;
	uint64_t subchannels;
};
void vmb_test_guest_counts(struct vmb_test_guest *tg, struct vmb_test_counts *c);

/* Share a buffer of `bytes` with the host as a GPADL on device i, then free it. */
int vmb_test_guest_gpadl(struct vmb_test_guest *tg, unsigned i, size_t bytes);
/* Move device i's primary channel interrupts to `vp`. */
int vmb_test_guest_set_vp(struct vmb_test_guest *tg, unsigned i, uint32_t vp);

/* One ECHO round trip of len bytes (request + completion), reply checked. */
int vmb_test_echo(struct vmb_channel *ch, const void *buf, size_t len);

#endif
