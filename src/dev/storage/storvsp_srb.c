/* storvsp: EXECUTE_SRB - map the guest buffer, run the CDB, complete asynchronously. */
#include <stdlib.h>
#include <string.h>

#include "dev/storage/storvsp_priv.h"
#include "vmbus/proto/hv.h"

/* Copy between the request's bounce buffer and the guest pages. */
static uint32_t copy_guest(struct stor_req *r, uint32_t len, bool to_guest)
{
	uint32_t done = 0;

	for (unsigned i = 0; i < r->niov && done < len; i++) {
		uint32_t n = (uint32_t)r->iov[i].iov_len;

		if (n > len - done)
			n = len - done;
		if (to_guest)
			memcpy(r->iov[i].iov_base, r->buf + done, n);
		else
			memcpy(r->buf + done, r->iov[i].iov_base, n);
		done += n;
	}
	return done;
}

static int add_page(struct stor_req *r, void *p, uint32_t n)
{
	struct iovec *last = r->niov ? &r->iov[r->niov - 1] : NULL;

	if (last && (uint8_t *)last->iov_base + last->iov_len == p) {
		last->iov_len += n;
		return 0;
	}
	if (r->niov == STOR_MAX_IOV)
		return -1;
	r->iov[r->niov].iov_base = p;
	r->iov[r->niov++].iov_len = n;
	return 0;
}

/* Every range of the GPA-direct packet, page by page, must lie in guest RAM. */
static int map_ranges(struct stor_req *r, const struct vmb_packet *pkt, uint32_t dtl)
{
	struct vmb_range_iter it;
	struct vmb_gpa_range g;
	uint64_t total = 0;
	int rc;

	if (pkt->type != VM_PKT_DATA_USING_GPA_DIRECT)
		return dtl ? -1 : 0;
	if (vmb_range_iter_init(&it, pkt) < 0)
		return -1;
	while ((rc = vmb_range_next(&it, &g)) == 1) {
		uint32_t done = 0;

		/* Bounds the walk below by the transfer length, not the guest's byte_count. */
		if (g.len > dtl - total)
			return -1;
		for (uint32_t i = 0; i < g.pfn_count && done < g.len; i++) {
			uint32_t off = i ? 0 : g.offset, n = HV_PAGE_SIZE - off;
			void *p;

			if (n > g.len - done)
				n = g.len - done;
			if (g.pfns[i] >> (64 - HV_PAGE_SHIFT))
				return -1;
			p = vmb_chan_gpa(r->sc->ch, g.pfns[i] * HV_PAGE_SIZE + off, n);
			if (!p || add_page(r, p, n) < 0)
				return -1;
			done += n;
		}
		if (done != g.len)
			return -1;
		total += g.len;
	}
	return rc < 0 || total != dtl ? -1 : 0;
}

static void release(struct stor_req *r)
{
	struct vmb_stor_ctrl *c = r->sc->c;

	pthread_mutex_lock(&c->lock);
	if (r->lun)
		r->lun->inflight--;
	r->sc->inflight--;
	pthread_cond_broadcast(&c->idle);
	pthread_mutex_unlock(&c->lock);
	free(r);
}

void vmb_stor_finish(struct stor_req *r)
{
	struct vmscsi_request *srb = &r->pkt.vm_srb;
	const struct vmb_scsi_cmd *cmd = &r->cmd;

	r->pkt.operation = VSTOR_OPERATION_COMPLETE_IO;
	r->pkt.flags = 0;
	/* The request's status field is the guest's: never echo it back. */
	r->pkt.status = VSTOR_STATUS_SUCCESS;
	srb->scsi_status = cmd->status;
	memset(srb->sense_data, 0, sizeof(srb->sense_data));
	if (cmd->status == SAM_STAT_GOOD) {
		srb->srb_status = SRB_STATUS_SUCCESS;
		srb->sense_info_length = 0;
	} else {
		uint8_t n = cmd->sense_len < r->sense_cap ? cmd->sense_len : r->sense_cap;

		srb->srb_status = SRB_STATUS_ERROR | (n ? SRB_STATUS_AUTOSENSE_VALID : 0);
		srb->sense_info_length = n;
		memcpy(srb->sense_data, cmd->sense, n);
		srb->data_transfer_length = 0;
	}
	r->sc->reply(r->sc->reply_arg, r->trans_id, &r->pkt, r->reply_len);
	release(r);
}

/* A malformed SRB: the guest gets INVALID_REQUEST, the LUN is untouched. */
static void bad_srb(struct stor_req *r, uint32_t status, uint8_t srb_status, const char *why)
{
	/* Scans probe absent LUNs all the time: that is not worth a log line. */
	if (srb_status != SRB_STATUS_INVALID_LUN)
		vmb_stor_log(r->sc, "EXECUTE_SRB rejected: %s", why);
	r->pkt.operation = VSTOR_OPERATION_COMPLETE_IO;
	r->pkt.flags = 0;
	r->pkt.status = status;
	r->pkt.vm_srb.srb_status = srb_status;
	r->pkt.vm_srb.scsi_status = 0;
	r->pkt.vm_srb.sense_info_length = 0;
	r->pkt.vm_srb.data_transfer_length = 0;
	r->sc->reply(r->sc->reply_arg, r->trans_id, &r->pkt, r->reply_len);
	release(r);
}

/*
 * Too many requests at the disk: the guest's midlayer backs off and
 * retries on TASK SET FULL. Replying from here also stops this channel's
 * ring from being drained while the completion ring is full, which bounds
 * what a guest that never reads its completions can make us allocate.
 */
static void queue_full(struct stor_req *r)
{
	r->cmd = (struct vmb_scsi_cmd){.status = SAM_STAT_TASK_SET_FULL};
	vmb_stor_finish(r);
}

static void io_done(struct vmb_disk_io *io, int res);

/* Remember a disk the channel's drain-end must kick. */
static void note_kick(struct stor_chan *sc, struct vmb_disk *d)
{
	for (unsigned i = 0; i < sc->nkick; i++)
		if (sc->kick[i] == d)
			return;
	sc->kick[sc->nkick++] = d;
}

void vmb_stor_drain_end(struct stor_chan *sc)
{
	for (unsigned i = 0; i < sc->nkick; i++)
		vmb_disk_kick(sc->kick[i]);
	sc->nkick = 0;
}

/* queue: from the channel's drain (kicked at its end); else submit now. */
static void submit(struct stor_req *r, enum vmb_disk_op op, uint64_t off, uint64_t len,
		   bool queue)
{
	struct vmb_disk *d = r->lun->disk;
	int rc;

	r->io = (struct vmb_disk_io){.op = op, .offset = off, .length = len, .done = io_done};
	if (op == VMB_DISK_READ || op == VMB_DISK_WRITE) {
		memcpy(r->io_iov, r->iov, r->niov * sizeof(r->iov[0]));
		r->io.iov = r->io_iov;
		r->io.iovcnt = r->niov;
		r->io.fua = r->cmd.fua;
	}
	rc = queue ? vmb_disk_queue(d, &r->io) : vmb_disk_submit(d, &r->io);
	if (rc < 0)
		io_done(&r->io, -1);
	else if (queue)
		note_kick(r->sc, d);
}

static enum vmb_scsi_op disk_to_scsi(enum vmb_disk_op op)
{
	return op == VMB_DISK_READ    ? VMB_SCSI_READ
	       : op == VMB_DISK_WRITE ? VMB_SCSI_WRITE
				      : VMB_SCSI_FLUSH;
}

/* Disk completion thread. */
static void io_done(struct vmb_disk_io *io, int res)
{
	struct stor_req *r = (struct stor_req *)((uint8_t *)io - offsetof(struct stor_req, io));

	if (res < 0) {
		vmb_scsi_io_failed(&r->cmd, disk_to_scsi(io->op));
		return vmb_stor_finish(r);
	}
	/* UNMAP: punch the extents one after the other. */
	if (r->next_ext < r->n_ext) {
		const struct vmb_scsi_extent *e = &r->ext[r->next_ext++];

		return submit(r, VMB_DISK_DISCARD, e->offset, e->length, false);
	}
	vmb_stor_finish(r);
}

static void run_cmd(struct stor_req *r, uint32_t dtl)
{
	struct vmb_scsi_cmd *cmd = &r->cmd;

	switch (cmd->op) {
	case VMB_SCSI_DONE:
		r->pkt.vm_srb.data_transfer_length = copy_guest(r, cmd->data_len, true);
		return vmb_stor_finish(r);
	case VMB_SCSI_READ:
		return submit(r, VMB_DISK_READ, cmd->offset, cmd->length, true);
	case VMB_SCSI_WRITE:
		return submit(r, VMB_DISK_WRITE, cmd->offset, cmd->length, true);
	case VMB_SCSI_FLUSH:
		return submit(r, VMB_DISK_FLUSH, 0, 0, true);
	case VMB_SCSI_UNMAP:
		copy_guest(r, dtl < sizeof(r->buf) ? dtl : sizeof(r->buf), false);
		r->n_ext =
		    vmb_scsi_unmap_list(&r->lun->info, r->buf,
					dtl < sizeof(r->buf) ? dtl : sizeof(r->buf), r->ext, cmd);
		if (r->n_ext == 0)
			return vmb_stor_finish(r);
		r->next_ext = 1;
		return submit(r, VMB_DISK_DISCARD, r->ext[0].offset, r->ext[0].length, true);
	case VMB_SCSI_WRITE_SAME:
		copy_guest(r, VMB_SCSI_BLOCK_SIZE, false);
		vmb_scsi_write_same(r->buf, cmd);
		if (cmd->op != VMB_SCSI_DISCARD)
			return vmb_stor_finish(r);
		return submit(r, VMB_DISK_DISCARD, cmd->offset, cmd->length, true);
	case VMB_SCSI_DISCARD:
		return submit(r, VMB_DISK_DISCARD, cmd->offset, cmd->length, true);
	}
}

static bool wants_data_out(enum vmb_scsi_op op)
{
	return op == VMB_SCSI_WRITE || op == VMB_SCSI_UNMAP || op == VMB_SCSI_WRITE_SAME;
}

/* Look up the LUN and pin it; the LUN table and REPORT LUNS list under the lock. */
static bool pin_lun(struct stor_req *r, struct vmb_scsi_lun *info, uint8_t lun)
{
	struct vmb_stor_ctrl *c = r->sc->c;
	unsigned n = 0;

	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&c->lock);
	for (unsigned i = 0; i < VMB_SCSI_MAX_LUNS; i++)
		if (c->luns[i])
			r->luns[n++] = (uint8_t)i;
	r->lun = c->luns[lun];
	if (r->lun) {
		r->lun->inflight++;
		*info = r->lun->info;
	}
	pthread_mutex_unlock(&c->lock);
	info->luns = r->luns;
	info->nluns = n;
	return r->lun != NULL;
}

static void execute(struct stor_req *r, const struct vmb_packet *pkt)
{
	struct vmscsi_request *srb = &r->pkt.vm_srb;
	uint32_t dtl = srb->data_transfer_length;
	struct vmb_scsi_lun info;
	const uint8_t *cdb = srb->cdb;
	bool data_in;

	if (srb->cdb_length == 0 || srb->cdb_length > STORVSC_MAX_CDB_SIZE)
		return bad_srb(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST,
			       "bad CDB length");
	if (dtl > VSTOR_MAX_TRANSFER_BYTES)
		return bad_srb(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST,
			       "transfer too large");
	if (map_ranges(r, pkt, dtl) < 0)
		return bad_srb(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST,
			       "data buffer outside guest RAM or not matching the transfer length");
	if (srb->path_id || srb->target_id)
		return bad_srb(r, VSTOR_STATUS_SUCCESS, SRB_STATUS_INVALID_LUN, "no such target");
	/* Scans still get INQUIRY and REPORT LUNS answers where no disk is. */
	if (!pin_lun(r, &info, srb->lun) && cdb[0] != 0x12 && cdb[0] != 0xa0)
		return bad_srb(r, VSTOR_STATUS_SUCCESS, SRB_STATUS_INVALID_LUN, "no such LUN");
	info.present = r->lun != NULL;
	vmb_scsi_exec(&info, cdb, srb->cdb_length, dtl, r->buf, sizeof(r->buf), &r->cmd);
	data_in = r->cmd.op == VMB_SCSI_READ || (r->cmd.op == VMB_SCSI_DONE && r->cmd.data_len);
	if ((data_in && srb->data_in != READ_TYPE) ||
	    (wants_data_out(r->cmd.op) && srb->data_in != WRITE_TYPE))
		return bad_srb(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST,
			       "data direction does not match the CDB");
	run_cmd(r, dtl);
}

void vmb_stor_execute_srb(struct stor_chan *sc, const struct vmb_packet *pkt,
			  const struct vstor_packet *vp, uint32_t reply_len)
{
	struct vmb_stor_ctrl *c = sc->c;
	struct stor_req *r = calloc(1, sizeof(*r));
	uint16_t version;
	bool ready, full;

	if (!r)
		return;
	r->sc = sc;
	r->trans_id = pkt->trans_id;
	r->reply_len = reply_len;
	r->pkt = *vp;
	pthread_mutex_lock(&c->lock);
	ready = c->state == STOR_READY;
	version = c->version;
	full = sc->inflight >= STOR_MAX_INFLIGHT;
	sc->inflight++;
	pthread_mutex_unlock(&c->lock);
	/* Pre-Win8 SRBs end before the extension; what follows is not ours. */
	if (version < VMSTOR_PROTO_VERSION_WIN8)
		memset((uint8_t *)&r->pkt.vm_srb + VMSCSI_REQUEST_SIZE_PRE_WIN8, 0,
		       VMSCSI_REQUEST_SIZE_WIN8 - VMSCSI_REQUEST_SIZE_PRE_WIN8);
	r->sense_cap = r->pkt.vm_srb.sense_info_length < STORVSC_SENSE_BUFFER_SIZE
			   ? r->pkt.vm_srb.sense_info_length
			   : STORVSC_SENSE_BUFFER_SIZE;
	if (!ready)
		return bad_srb(r, VSTOR_STATUS_INVALID_DEVICE_STATE, SRB_STATUS_ERROR,
			       "before END_INITIALIZATION");
	if (pkt->len < VSTOR_PACKET_HDR_SIZE + VMSCSI_REQUEST_SIZE_PRE_WIN8)
		return bad_srb(r, VSTOR_STATUS_INVALID_PARAMETER, SRB_STATUS_INVALID_REQUEST,
			       "truncated SRB");
	if (full)
		return queue_full(r);
	execute(r, pkt);
}
