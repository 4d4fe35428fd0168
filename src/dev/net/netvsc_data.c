/*
 * netvsc data path: guest TAP frames to the host through send-buffer
 * sections, transfer-page packets from the host into the guest TAP, and
 * RNDIS control messages in a GPA-direct page (as Linux sends them).
 */
#include <errno.h>
#include <poll.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev/net/netvsc_priv.h"
#include "util/deadline.h"

static void bad(struct nvc_dev *d, const char *why)
{
	pthread_mutex_lock(&d->lock);
	d->st.bad_packets++;
	pthread_mutex_unlock(&d->lock);
	vmb_guest_log(d->nv->g, "netvsc: %s", why);
}

static void rx_frame(struct nvc_dev *d, const struct vmb_rndis_msg *m, struct vmb_tap_counts *c)
{
	struct vmb_rndis_frame f;

	if (vmb_rndis_parse_packet(m, &f) < 0) {
		bad(d, "malformed RNDIS packet");
		return;
	}
	if (d->tap_fd >= 0)
		vmb_tap_queue(&d->tapw, f.data, f.len, c);
	else
		c->dropped++;
}

static void rx_control(struct nvc_dev *d, const struct vmb_rndis_msg *m)
{
	struct vmb_rndis_resp r;

	if (vmb_rndis_parse_response(m, &r) < 0) {
		bad(d, "malformed RNDIS completion");
		return;
	}
	pthread_mutex_lock(&d->lock);
	/* Only the request we wait for; late answers of timed-out ones are dropped. */
	if (d->wait_req && r.req_id == d->wait_req && !d->got && m->len <= sizeof(d->resp)) {
		memcpy(d->resp, m->body - RNDIS_HEADER_SIZE, m->len);
		d->resp_len = m->len;
		d->got = true;
		pthread_cond_broadcast(&d->cond);
	}
	pthread_mutex_unlock(&d->lock);
}

static void rx_message(struct nvc_dev *d, const uint8_t *buf, uint32_t len,
		       struct vmb_tap_counts *c)
{
	struct vmb_rndis_msg m;
	uint32_t status;

	if (vmb_rndis_parse_hdr(buf, len, &m) < 0) {
		bad(d, "RNDIS message longer than its range");
		return;
	}
	if (m.type == RNDIS_MSG_PACKET) {
		rx_frame(d, &m, c);
	} else if (m.type == RNDIS_MSG_INDICATE_STATUS) {
		if (vmb_rndis_parse_indicate(&m, &status) < 0) {
			bad(d, "malformed RNDIS status");
			return;
		}
		pthread_mutex_lock(&d->lock);
		if (status == RNDIS_STATUS_MEDIA_CONNECT)
			d->link_up = true;
		else if (status == RNDIS_STATUS_MEDIA_DISCONNECT)
			d->link_up = false;
		pthread_mutex_unlock(&d->lock);
	} else {
		rx_control(d, &m);
	}
}

/*
 * Validate the transfer-page ranges, consume each message, return them all.
 * The frames of one packet reach the TAP in one flush.
 */
static void rx_xfer(struct nvc_dev *d, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE};
	const uint8_t *ext = pkt->ext;
	uint16_t id;
	uint32_t cnt, staged = 0, status = NVSP_STAT_SUCCESS;
	struct nvsp_message req;
	struct vmb_tap_counts c = {0};

	if (pkt->ext_len < 8 || vmb_nvsp_parse(pkt->data, pkt->len, &req) < 0) {
		bad(d, "short transfer-page packet");
		return;
	}
	memcpy(&id, ext, sizeof(id));
	memcpy(&cnt, ext + 4, sizeof(cnt));
	if (id != NETVSC_RECEIVE_BUFFER_ID || cnt == 0 || cnt > (pkt->ext_len - 8) / 8 ||
	    req.msg_type != NVSP_MSG1_TYPE_SEND_RNDIS_PKT) {
		bad(d, "transfer-page packet with a bad header");
		status = NVSP_STAT_FAIL;
		cnt = 0;
	}
	for (uint32_t i = 0; i < cnt; i++) {
		struct vmbus_xfer_page_range r;

		memcpy(&r, ext + 8 + (size_t)i * sizeof(r), sizeof(r));
		if ((uint64_t)r.byte_offset + r.byte_count > NETVSC_RBUF_BYTES ||
		    r.byte_count > NETVSC_MAX_RNDIS) {
			bad(d, "transfer-page range outside the receive buffer");
			status = NVSP_STAT_FAIL;
			continue;
		}
		/* Queued frames point into rx_copy: flush them before reusing it. */
		if (r.byte_count > sizeof(d->rx_copy) - staged) {
			vmb_tap_flush(&d->tapw, &c);
			staged = 0;
		}
		memcpy(d->rx_copy + staged, d->rbuf + r.byte_offset, r.byte_count);
		rx_message(d, d->rx_copy + staged, r.byte_count, &c);
		staged += r.byte_count;
	}
	vmb_tap_flush(&d->tapw, &c);
	pthread_mutex_lock(&d->lock);
	d->st.rx_frames += c.frames;
	d->st.rx_bytes += c.bytes;
	d->st.rx_dropped += c.dropped;
	pthread_mutex_unlock(&d->lock);
	m.rndis_pkt_complete.status = status;
	vmb_chan_complete(ch, pkt->trans_id, &m, d->msg_size);
}

void netvsc_on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct nvc_dev *d = arg;
	struct nvsp_message m;

	if (pkt->type == VM_PKT_DATA_USING_XFER_PAGES) {
		rx_xfer(d, ch, pkt);
		return;
	}
	if (vmb_nvsp_parse(pkt->data, pkt->len, &m) < 0) {
		bad(d, "short NVSP message");
		return;
	}
	/* Steering tables and VF offers only matter with vRSS / SR-IOV, which we do not use. */
	if (m.msg_type != NVSP_MSG5_TYPE_SEND_INDIRECTION_TABLE &&
	    m.msg_type != NVSP_MSG4_TYPE_SEND_VF_ASSOCIATION)
		bad(d, "unexpected NVSP message");
}

static void ctl_sent(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp, int status)
{
	(void)arg;
	(void)ch;
	(void)comp;
	(void)status;
}

int netvsc_rndis_request(struct nvc_dev *d, const void *msg, uint32_t len, uint32_t req_id)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT};
	struct iovec iov = {&m, d->msg_size};
	struct vmb_gpa_range r = {.len = len, .pfn_count = 1, .pfns = &d->ctl_pfn};
	struct vmb_send s = {
	    .type = VM_PKT_DATA_USING_GPA_DIRECT,
	    .iov = &iov,
	    .iovcnt = 1,
	    .ranges = &r,
	    .nranges = 1,
	    .done = ctl_sent,
	};
	struct timespec dl;
	int rc = 0;

	if (len > HV_PAGE_SIZE)
		return -EMSGSIZE;
	m.rndis_pkt.channel_type = NVSP_RNDIS_CHANNEL_CONTROL;
	m.rndis_pkt.send_buf_section_index = NVSP_INVALID_SECTION_INDEX;
	memcpy(d->ctl_page, msg, len);
	pthread_mutex_lock(&d->lock);
	d->wait_req = req_id;
	d->got = false;
	pthread_mutex_unlock(&d->lock);
	rc = vmb_chan_submit(d->ch, &s, NULL);
	vmb_deadline_after(&dl, CLOCK_REALTIME, NETVSC_TIMEOUT_MS);
	pthread_mutex_lock(&d->lock);
	while (rc == 0 && !d->got)
		if (pthread_cond_timedwait(&d->cond, &d->lock, &dl))
			rc = -ETIMEDOUT;
	d->wait_req = 0;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static void tx_done(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp, int status)
{
	struct tx_slot *s = arg;
	struct nvc_dev *d = s->d;
	struct nvsp_message m;
	bool ok = status == 0 && vmb_nvsp_parse(comp->data, comp->len, &m) == 0 &&
		  m.rndis_pkt_complete.status == NVSP_STAT_SUCCESS;

	(void)ch;
	pthread_mutex_lock(&d->lock);
	if (!ok)
		d->st.tx_dropped++;
	d->free_secs[d->nfree++] = s->idx;
	/* Control requests wait on the same condition, but never for a section. */
	if (d->tx_waiting)
		pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
}

/* A free send-buffer section; wait=false: -EAGAIN when there is none. -ECANCELED once stopping. */
static int get_section(struct nvc_dev *d, uint32_t *idx, bool wait)
{
	int rc = -ECANCELED;

	pthread_mutex_lock(&d->lock);
	while (wait && !d->nfree && !atomic_load(&d->stop)) {
		d->tx_waiting = true;
		pthread_cond_wait(&d->cond, &d->lock);
	}
	d->tx_waiting = false;
	if (!atomic_load(&d->stop)) {
		rc = d->nfree ? 0 : -EAGAIN;
		if (rc == 0)
			*idx = d->free_secs[--d->nfree];
	}
	pthread_mutex_unlock(&d->lock);
	return rc;
}

static void put_section(struct nvc_dev *d, uint32_t idx)
{
	pthread_mutex_lock(&d->lock);
	d->free_secs[d->nfree++] = idx;
	pthread_mutex_unlock(&d->lock);
}

void netvsc_fill_section(struct nvc_dev *d, uint8_t *sec, struct netvsc_fill *f)
{
	const uint8_t *data;
	uint32_t last = 0, len;

	while (f->frames < d->max_pkts && vmb_tap_peek(&d->tapr, &data, &len)) {
		uint32_t at = f->frames ? (f->used + d->pkt_align - 1) & ~(d->pkt_align - 1) : 0;

		if (len > d->tapr.slot) { /* the TAP cut it to fit a slot: the frame is lost */
			f->dropped++;
			vmb_tap_take(&d->tapr);
			continue;
		}
		if (at > d->ssec_size || d->ssec_size - at < RNDIS_PACKET_SIZE + len)
			break; /* it starts the next section */
		if (f->frames)
			vmb_rndis_set_len(sec + last, at - last);
		last = at;
		memcpy(sec + at + RNDIS_PACKET_SIZE, data, len);
		f->used = at + (uint32_t)vmb_rndis_packet_hdr(sec + at, len) + len;
		f->frames++;
		f->bytes += len;
		vmb_tap_take(&d->tapr);
	}
}

/* Fill section idx from the TAP and send it; -EAGAIN when the TAP is empty. */
static int tx_section(struct nvc_dev *d, uint32_t idx)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT};
	struct iovec iov = {&m, d->msg_size};
	struct vmb_send s = {.iov = &iov, .iovcnt = 1, .done = tx_done, .arg = &d->slots[idx]};
	struct netvsc_fill f = {0};
	int rc = -EAGAIN;

	netvsc_fill_section(d, d->sbuf + (size_t)idx * d->ssec_size, &f);
	if (f.frames) {
		m.rndis_pkt.channel_type = NVSP_RNDIS_CHANNEL_DATA;
		m.rndis_pkt.send_buf_section_index = idx;
		m.rndis_pkt.send_buf_section_size = f.used;
		rc = vmb_chan_submit(d->ch, &s, NULL);
	}
	pthread_mutex_lock(&d->lock);
	if (rc == 0) {
		d->st.tx_frames += f.frames;
		d->st.tx_bytes += f.bytes;
	} else {
		d->st.tx_dropped += f.frames;
	}
	d->st.tx_dropped += f.dropped;
	pthread_mutex_unlock(&d->lock);
	return rc;
}

/*
 * Send what the TAP holds, up to NETVSC_TX_BURST sections, in one channel
 * batch: one commit and at most one signal per wake-up. Waiting for a
 * section ends the batch first, so that the host sees (and completes) the
 * sections it holds.
 */
static int tx_drain(struct nvc_dev *d)
{
	uint32_t idx = 0;
	int rc = 0;

	vmb_chan_batch_begin(d->ch);
	for (unsigned n = 0; n < NETVSC_TX_BURST && rc == 0; n++) {
		rc = get_section(d, &idx, false);
		if (rc == -EAGAIN) {
			vmb_chan_batch_end(d->ch);
			rc = get_section(d, &idx, true);
			vmb_chan_batch_begin(d->ch);
		}
		if (rc < 0)
			break;
		rc = tx_section(d, idx);
		if (rc < 0)
			put_section(d, idx);
	}
	vmb_chan_batch_end(d->ch);
	return rc;
}

static void *tx_main(void *arg)
{
	struct nvc_dev *d = arg;

	while (!atomic_load(&d->stop)) {
		struct pollfd p[2] = {{d->tap_fd, POLLIN, 0}, {d->stop_pipe[0], POLLIN, 0}};
		int rc;

		/* Frames read but not sent yet (a burst's end) go first. */
		if (!vmb_tap_pending(&d->tapr)) {
			if (poll(p, 2, -1) < 0 && errno != EINTR)
				break;
			if (atomic_load(&d->stop) || !(p[0].revents & POLLIN))
				continue;
		}
		rc = tx_drain(d);
		if (rc == -ECANCELED || rc == -EPROTO)
			break; /* the channel is gone; remove stops us */
	}
	return NULL;
}

int netvsc_tx_start(struct nvc_dev *d)
{
	/* A slot holds any frame a section can: one behind its RNDIS header. */
	int rc =
	    vmb_tap_reader_init(&d->tapr, d->tap_fd, d->ssec_size - (uint32_t)RNDIS_PACKET_SIZE);

	if (rc < 0)
		return rc;
	rc = -pthread_create(&d->tx, NULL, tx_main, d);
	d->tx_on = rc == 0;
	if (rc < 0)
		vmb_tap_reader_destroy(&d->tapr);
	return rc;
}

void netvsc_tx_stop(struct nvc_dev *d)
{
	char c = 0;

	if (!d->tx_on)
		return;
	pthread_mutex_lock(&d->lock);
	atomic_store(&d->stop, true);
	pthread_cond_broadcast(&d->cond);
	pthread_mutex_unlock(&d->lock);
	if (write(d->stop_pipe[1], &c, 1) < 0)
		vmb_guest_log(d->nv->g, "netvsc: cannot wake the TX thread");
	pthread_join(d->tx, NULL);
	vmb_tap_reader_destroy(&d->tapr);
	d->tx_on = false;
}
