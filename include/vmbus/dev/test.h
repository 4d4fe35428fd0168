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
 */
#ifndef VMBUS_DEV_TEST_H
#define VMBUS_DEV_TEST_H

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
extern const struct vmb_driver vmb_test_driver;

struct vmb_test_dev;
/* The bound test device's primary channel (NULL until probed). */
struct vmb_channel *vmb_test_dev_channel(struct vmb_device *dev);
/* Round trip one ECHO of len bytes through the host; checks the reply. */
int vmb_test_echo(struct vmb_channel *ch, const void *buf, size_t len);

#endif
