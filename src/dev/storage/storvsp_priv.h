/* storvsp internals, shared by storvsp*.c, the unit tests and the fuzzer. */
#ifndef VMB_STORVSP_PRIV_H
#define VMB_STORVSP_PRIV_H

#include <pthread.h>

#include "dev/storage/disk.h"
#include "dev/storage/scsi.h"
#include "vmbus/dev/storage.h"
#include "vmbus/dev/storage_proto.h"

#define STOR_MAX_CHANNELS 65 /* primary + 64 sub-channels */
#define STOR_MAX_IOV	  160
/* Requests one channel may have at the disk; more get TASK SET FULL. */
#define STOR_MAX_INFLIGHT 1024

enum stor_state {
	STOR_START,
	STOR_BEGUN,	/* BEGIN_INITIALIZATION seen */
	STOR_VERSIONED, /* a protocol version was accepted */
	STOR_READY,	/* END_INITIALIZATION: SRBs are served */
};

struct stor_lun {
	struct vmb_disk *disk;
	struct vmb_scsi_lun info;
	unsigned inflight; /* requests using it, under ctrl lock */
};

/* How a channel sends completions; tests and the fuzzer capture them. */
typedef void (*stor_reply_fn)(void *arg, uint64_t trans_id, const void *buf, size_t len);

struct stor_chan {
	struct vmb_stor_ctrl *c;
	struct vmb_channel *ch;
	uint16_t sub;
	unsigned inflight; /* under ctrl lock */
	stor_reply_fn reply;
	void *reply_arg;
	/* Disks with I/O queued since the last vmb_stor_drain_end() (only
	 * the thread draining this channel touches these). */
	struct vmb_disk *kick[VMB_SCSI_MAX_LUNS];
	unsigned nkick;
	bool batching; /* host glue: replies of this drain go in one batch */
};

struct vmb_stor_ctrl {
	pthread_mutex_t lock;
	pthread_cond_t idle; /* a request finished */
	struct vmb_host *h;  /* NULL in tests */
	struct vmb_vsp *v;
	struct vmb_stor_config cfg;
	enum stor_state state;
	uint16_t version;
	unsigned subs_offered;
	struct stor_lun *luns[VMB_SCSI_MAX_LUNS];
	struct stor_chan *chans[STOR_MAX_CHANNELS];
};

struct stor_req {
	struct stor_chan *sc;
	struct stor_lun *lun; /* NULL: no LU at that address */
	uint64_t trans_id;
	uint32_t reply_len;
	uint8_t sense_cap;
	struct vstor_packet pkt;
	struct vmb_scsi_cmd cmd;
	struct vmb_disk_io io;
	unsigned next_ext, n_ext;
	struct vmb_scsi_extent ext[VMB_SCSI_MAX_UNMAP_DESCS];
	unsigned niov;
	struct iovec iov[STOR_MAX_IOV];
	struct iovec io_iov[STOR_MAX_IOV]; /* the copy the disk may advance */
	uint8_t luns[VMB_SCSI_MAX_LUNS];
	uint8_t buf[VMB_SCSI_DATA_IN_MAX];
};

/* Controller state without a host (tests, fuzzer) or under vmb_stor_add(). */
int vmb_stor_ctrl_init(struct vmb_stor_ctrl **out, const struct vmb_stor_config *cfg);
void vmb_stor_ctrl_free(struct vmb_stor_ctrl *c);
/* A channel opened / is closing (waits for its in-flight requests). */
struct stor_chan *vmb_stor_chan_open(struct vmb_stor_ctrl *c, uint16_t sub, struct vmb_channel *ch,
				     stor_reply_fn reply, void *arg);
void vmb_stor_chan_close(struct stor_chan *sc);
/*
 * One packet from the guest (the thread draining the channel). Disk I/O
 * it starts is only queued: vmb_stor_drain_end() submits what the drain
 * queued with one system call per disk.
 */
void vmb_stor_packet(struct stor_chan *sc, const struct vmb_packet *pkt);
void vmb_stor_drain_end(struct stor_chan *sc);
/* Complete a request: build the COMPLETE_IO reply and release it. */
void vmb_stor_finish(struct stor_req *r);
/* EXECUTE_SRB (storvsp_srb.c). */
void vmb_stor_execute_srb(struct stor_chan *sc, const struct vmb_packet *pkt,
			  const struct vstor_packet *vp, uint32_t reply_len);
void vmb_stor_log(struct stor_chan *sc, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
