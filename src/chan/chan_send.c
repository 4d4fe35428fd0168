/*
 * Sending: build the descriptor (and GPA-range or transfer-page header),
 * write it with the caller's payload into the out ring, commit (or defer
 * to the end of a batch) and signal the peer when the ring says so.
 */
#include <errno.h>
#include <string.h>

#include "chan/chan_impl.h"
#include "ring/barrier.h"

#define GPA_PAGE 4096u

/* Descriptor plus the fixed part of its extension. */
union pkt_head {
	struct vmpacket_descriptor d;
	struct vmbus_gpa_direct_header gpa;
	struct vmbus_xfer_page_header xfer;
};

struct pkt_build {
	union pkt_head head;
	/* In-band with at most one buffer (n == 0): descriptor + payload. */
	const void *payload;
	uint32_t plen;
	/* Anything else: the packet as a list of pieces. */
	struct vmbus_gpa_range_hdr rec[VMB_CHAN_MAX_RANGES];
	struct iovec v[1 + 2 * VMB_CHAN_MAX_RANGES + VMB_CHAN_MAX_IOV];
	unsigned n;
	uint64_t hdr_len; /* descriptor + extension */
	uint64_t total;	  /* hdr_len + payload */
};

static void add_iov(struct pkt_build *b, const void *p, size_t len)
{
	b->v[b->n].iov_base = (void *)p;
	b->v[b->n].iov_len = len;
	b->n++;
	b->total += len;
}

static bool range_ok(const struct vmb_gpa_range *r)
{
	uint64_t k = ((uint64_t)r->offset + r->len + GPA_PAGE - 1) / GPA_PAGE;

	return r->len > 0 && r->offset < GPA_PAGE && r->pfns && r->pfn_count == k;
}

static int add_ranges(struct pkt_build *b, const struct vmb_send *s)
{
	if (s->nranges == 0 || s->nranges > VMB_CHAN_MAX_RANGES || !s->ranges)
		return -EINVAL;
	b->head.gpa.range_count = s->nranges;
	for (unsigned i = 0; i < s->nranges; i++) {
		const struct vmb_gpa_range *r = &s->ranges[i];

		if (!range_ok(r))
			return -EINVAL;
		b->rec[i].byte_count = r->len;
		b->rec[i].byte_offset = r->offset;
		add_iov(b, &b->rec[i], sizeof(b->rec[i]));
		add_iov(b, r->pfns, (size_t)r->pfn_count * sizeof(uint64_t));
	}
	return 0;
}

static int add_ext(struct pkt_build *b, const struct vmb_send *s, uint16_t type)
{
	switch (type) {
	case VM_PKT_DATA_INBAND:
	case VM_PKT_COMP:
		add_iov(b, &b->head, sizeof(b->head.d));
		return s->nranges || s->nxfer ? -EINVAL : 0;
	case VM_PKT_DATA_USING_GPA_DIRECT:
		add_iov(b, &b->head, sizeof(b->head.gpa));
		return s->nxfer ? -EINVAL : add_ranges(b, s);
	case VM_PKT_DATA_USING_XFER_PAGES:
		if (s->nranges || s->nxfer == 0 || !s->xfer)
			return -EINVAL;
		b->head.xfer.xfer_pageset_id = s->xfer_pageset_id;
		b->head.xfer.range_cnt = s->nxfer;
		add_iov(b, &b->head, sizeof(b->head.xfer));
		add_iov(b, s->xfer, (size_t)s->nxfer * sizeof(*s->xfer));
		return 0;
	default:
		return -EINVAL;
	}
}

static int build(struct pkt_build *b, const struct vmb_send *s, uint16_t type)
{
	int rc;

	memset(&b->head, 0, sizeof(b->head));
	b->n = 0;
	b->total = 0;
	rc = add_ext(b, s, type);
	if (rc < 0)
		return rc;
	b->hdr_len = b->total;
	if (s->iovcnt > VMB_CHAN_MAX_IOV || (s->iovcnt && !s->iov))
		return -EINVAL;
	for (unsigned i = 0; i < s->iovcnt; i++)
		if (s->iov[i].iov_len)
			add_iov(b, s->iov[i].iov_base, s->iov[i].iov_len);
	if ((b->total + 7) / 8 > VMBUS_PKT_MAX_LEN8)
		return -EMSGSIZE;
	b->head.d.type = type;
	b->head.d.offset8 = (uint16_t)(b->hdr_len / 8);
	b->head.d.len8 = (uint16_t)((b->total + 7) / 8);
	return 0;
}

/*
 * Most packets are in-band with one buffer (every small one of a stream
 * is): describe them without an iovec list, so the ring stores them in
 * one step. Returns 1 when s is not such a packet.
 */
static int build_inband(struct pkt_build *b, const struct vmb_send *s, uint16_t type)
{
	size_t len = s->iovcnt ? s->iov[0].iov_len : 0;

	if ((type != VM_PKT_DATA_INBAND && type != VM_PKT_COMP) || s->iovcnt > 1 ||
	    (s->iovcnt && !s->iov) || s->nranges || s->nxfer)
		return 1;
	if ((sizeof(b->head.d) + len + 7) / 8 > VMBUS_PKT_MAX_LEN8)
		return -EMSGSIZE;
	b->head.d = (struct vmpacket_descriptor){
	    .type = type,
	    .offset8 = sizeof(b->head.d) / 8,
	    .len8 = (uint16_t)((sizeof(b->head.d) + len + 7) / 8),
	};
	b->payload = len ? s->iov[0].iov_base : NULL;
	b->plen = (uint32_t)len;
	b->n = 0;
	return 0;
}

static int write_locked(struct vmb_channel *ch, const struct pkt_build *b)
{
	if (b->n == 0)
		return vmb_ring_write_inband(&ch->out, &b->head.d, b->payload, b->plen);
	return vmb_ring_write(&ch->out, b->v, b->n);
}

static int usable(struct vmb_channel *ch)
{
	int err = atomic_load(&ch->error);

	if (err)
		return err;
	return atomic_load(&ch->closing) ? -ECANCELED : 0;
}

/* Commit written packets; *signal |= whether the peer must be told. */
static int commit_locked(struct vmb_channel *ch, bool *signal)
{
	int rc = vmb_ring_commit(&ch->out);

	ch->batch_dirty = false;
	if (rc < 0)
		return rc;
	*signal |= rc > 0;
	return 0;
}

static void set_blocked(struct vmb_channel *ch, int delta)
{
	pthread_mutex_lock(&ch->lock);
	ch->blocked = (unsigned)((int)ch->blocked + delta);
	pthread_cond_broadcast(&ch->cv);
	pthread_mutex_unlock(&ch->lock);
}

/*
 * How much free space to ask the consumer for: half the ring, or the
 * packet when it is larger. Waking for just one packet would cost a
 * signal (and a sleep) per packet once the ring is full; like Linux
 * hv_sock, we ask for more. PROTOCOL.md 3.9 only needs pending_send_sz
 * to be at most the largest packet, which half the ring always is.
 */
static uint32_t space_wanted(const struct vmb_channel *ch, uint32_t bytes)
{
	uint32_t half = ch->out.size / 2, max = vmb_ring_max_packet(&ch->out);

	if (half > max)
		half = max;
	return bytes > half ? bytes : half;
}

/*
 * One wait for ring space with tx_lock held. Returns 0 to retry the
 * write, or -errno. The wait is bounded so that a signal the peer never
 * sends (pre-Win8 hosts, or a lost one) only costs a millisecond.
 */
static int wait_space(struct vmb_channel *ch, uint32_t bytes, bool *signal,
		      const struct timespec *deadline)
{
	struct timespec t;
	int rc = vmb_ring_want_space(&ch->out, space_wanted(ch, bytes));

	if (rc != -EAGAIN)
		return rc;
	if (*signal) {
		/* Our own batch filled the ring: the peer must hear of it, and
		 * it may answer synchronously, so never signal under tx_lock. */
		*signal = false;
		pthread_mutex_unlock(&ch->tx_lock);
		vmb_chan_signal_peer(ch);
		pthread_mutex_lock(&ch->tx_lock);
		return 0;
	}
	if (vmb_chan_expired(deadline))
		return -ETIMEDOUT;
	t = vmb_chan_deadline(VMB_CHAN_POLL_NS);
	pthread_cond_timedwait(&ch->tx_cv, &ch->tx_lock, &t);
	return 0;
}

/*
 * The ring is full, but a consumer that is draining right now (as its own
 * poll budget keeps it) frees space within microseconds: look for it for
 * up to the poll budget before asking to be woken, so neither end pays a
 * signal. Bounded, and skipped when the peer still has to hear from us.
 */
static bool spin_for_space(struct vmb_channel *ch, uint32_t bytes)
{
	uint32_t ns = atomic_load_explicit(&ch->poll_ns, memory_order_relaxed);
	struct timespec end;

	if (ns == 0)
		return false;
	end = vmb_chan_deadline(ns);
	do {
		for (int i = 0; i < 16; i++) {
			if (vmb_ring_avail_write(&ch->out) >= bytes)
				return true;
			vmb_cpu_relax();
		}
	} while (!vmb_chan_expired(&end) && usable(ch) == 0);
	return false;
}

static int put_locked(struct vmb_channel *ch, const struct pkt_build *b, uint32_t flags,
		      bool *signal)
{
	uint32_t bytes = (uint32_t)(b->head.d.len8 * 8u);
	struct timespec deadline;
	bool waited = false, spun = false;
	int rc;

	for (;;) {
		rc = usable(ch);
		if (rc == 0)
			rc = write_locked(ch, b);
		if (rc != -EAGAIN)
			break;
		if (ch->batch_dirty && (rc = commit_locked(ch, signal)) < 0)
			break;
		if (flags & VMB_SEND_NOWAIT)
			break;
		if (!spun && !*signal) {
			spun = true;
			if (spin_for_space(ch, bytes))
				continue;
		}
		if (!waited) {
			waited = true;
			atomic_fetch_add(&ch->st.tx_full, 1);
			atomic_fetch_add(&ch->tx_waiters, 1);
			set_blocked(ch, 1);
			deadline = vmb_chan_deadline(VMB_CHAN_SEND_TIMEOUT_MS * 1000000LL);
		}
		rc = wait_space(ch, bytes, signal, &deadline);
		if (rc < 0)
			break;
	}
	if (waited) {
		vmb_ring_clear_pending(&ch->out);
		atomic_fetch_sub(&ch->tx_waiters, 1);
		set_blocked(ch, -1);
	}
	return rc;
}

/* The out ring's error text, read under tx_lock. */
static const char *out_why(struct vmb_channel *ch)
{
	return ch->out.error && ch->out.why ? ch->out.why : "out ring corrupt";
}

/* Write one packet (tx_lock held); commit it unless a batch is open. */
static int put_one_locked(struct vmb_channel *ch, const struct pkt_build *b, uint32_t flags,
			  bool *signal)
{
	int rc = put_locked(ch, b, flags, signal);

	if (rc < 0)
		return rc;
	vmb_chan_count(&ch->st.tx_packets);
	if (ch->batch_depth) {
		ch->batch_dirty = true;
		return 0;
	}
	return commit_locked(ch, signal);
}

/* Drop tx_lock, then signal the peer and fail as the out ring says. */
static void tx_unlock(struct vmb_channel *ch, bool signal)
{
	const char *why = ch->out.error ? out_why(ch) : NULL;

	pthread_mutex_unlock(&ch->tx_lock);
	if (signal)
		vmb_chan_signal_peer(ch);
	/* Failing runs completion callbacks, which may send: not under tx_lock. */
	if (why)
		vmb_chan_fail(ch, why);
}

static uint16_t packet_type(const struct vmb_send *s)
{
	return s->type ? s->type : VM_PKT_DATA_INBAND;
}

static uint16_t packet_flags(const struct vmb_send *s, uint16_t type)
{
	if (type == VM_PKT_COMP)
		return 0;
	if (s->done || (s->flags & VMB_SEND_COMPLETION) || type == VM_PKT_DATA_USING_GPA_DIRECT ||
	    type == VM_PKT_DATA_USING_XFER_PAGES)
		return VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	return 0;
}

/* Describe s in b, with its transaction id (a table slot when s->done). */
static int prepare(struct vmb_channel *ch, const struct vmb_send *s, struct pkt_build *b)
{
	uint16_t type = packet_type(s);
	uint64_t id = s->trans_id;
	int rc;

	if (type == VM_PKT_COMP && (s->done || (s->flags & VMB_SEND_COMPLETION)))
		return -EINVAL;
	rc = build_inband(b, s, type);
	if (rc > 0)
		rc = build(b, s, type);
	if (rc == 0)
		rc = usable(ch);
	if (rc == 0 && s->done)
		rc = vmb_req_alloc(ch, s->done, s->arg, &id);
	if (rc < 0)
		return rc;
	b->head.d.flags = packet_flags(s, type);
	b->head.d.trans_id = id;
	return 0;
}

/* A prepared packet that was not sent gives its slot back. */
static void unprepare(struct vmb_channel *ch, const struct vmb_send *s, const struct pkt_build *b)
{
	vmb_completion_fn fn;
	void *arg;

	if (s->done)
		vmb_req_take(ch, b->head.d.trans_id, &fn, &arg);
}

int vmb_chan_submit(struct vmb_channel *ch, const struct vmb_send *s, uint64_t *trans_id)
{
	struct pkt_build b;
	bool signal = false;
	int rc = prepare(ch, s, &b);

	if (rc < 0)
		return rc;
	pthread_mutex_lock(&ch->tx_lock);
	rc = put_one_locked(ch, &b, s->flags, &signal);
	tx_unlock(ch, signal);
	if (rc < 0)
		unprepare(ch, s, &b);
	else if (trans_id)
		*trans_id = b.head.d.trans_id;
	return rc;
}

/*
 * One lock and one commit for n packets. Per-packet locking is what a
 * stream of small packets cannot afford: each locked instruction waits
 * for the previous packet's stores into the ring, whose cache lines the
 * consumer keeps pulling to its CPU.
 */
int vmb_chan_submit_many(struct vmb_channel *ch, const struct vmb_send *s, unsigned n)
{
	struct pkt_build b;
	bool signal = false;
	unsigned sent = 0;
	int rc = 0, crc;

	pthread_mutex_lock(&ch->tx_lock);
	ch->batch_depth++;
	for (; sent < n; sent++) {
		rc = prepare(ch, &s[sent], &b);
		if (rc < 0)
			break;
		rc = put_one_locked(ch, &b, s[sent].flags, &signal);
		if (rc < 0) {
			unprepare(ch, &s[sent], &b);
			break;
		}
	}
	if (--ch->batch_depth == 0 && ch->batch_dirty && (crc = commit_locked(ch, &signal)) < 0)
		rc = crc;
	tx_unlock(ch, signal);
	return sent ? (int)sent : rc;
}

int vmb_chan_send(struct vmb_channel *ch, const void *buf, size_t len, uint64_t trans_id,
		  uint32_t flags)
{
	struct iovec v = {(void *)buf, len};

	return vmb_chan_submit(
	    ch, &(struct vmb_send){.iov = &v, .iovcnt = 1, .trans_id = trans_id, .flags = flags},
	    NULL);
}

int vmb_chan_send_pagebuf(struct vmb_channel *ch, const struct vmbus_page_buffer *pb, unsigned n,
			  const void *buf, size_t len, uint64_t trans_id, uint32_t flags)
{
	struct vmb_gpa_range r[VMBUS_MAX_PAGE_BUFFER_COUNT];

	if (n == 0 || n > VMBUS_MAX_PAGE_BUFFER_COUNT)
		return -EINVAL;
	for (unsigned i = 0; i < n; i++) {
		/* A page-buffer entry is a range that stays inside one page. */
		if ((uint64_t)pb[i].offset + pb[i].len > GPA_PAGE)
			return -EINVAL;
		r[i] = (struct vmb_gpa_range){pb[i].len, pb[i].offset, 1, &pb[i].pfn};
	}
	return vmb_chan_send_mpb(ch, r, n, buf, len, trans_id, flags);
}

int vmb_chan_send_mpb(struct vmb_channel *ch, const struct vmb_gpa_range *r, unsigned nranges,
		      const void *buf, size_t len, uint64_t trans_id, uint32_t flags)
{
	struct iovec v = {(void *)buf, len};

	return vmb_chan_submit(ch,
			       &(struct vmb_send){.type = VM_PKT_DATA_USING_GPA_DIRECT,
						  .iov = &v,
						  .iovcnt = 1,
						  .ranges = r,
						  .nranges = nranges,
						  .trans_id = trans_id,
						  .flags = flags},
			       NULL);
}

int vmb_chan_complete(struct vmb_channel *ch, uint64_t trans_id, const void *buf, size_t len)
{
	struct iovec v = {(void *)buf, len};

	return vmb_chan_submit(
	    ch,
	    &(struct vmb_send){.type = VM_PKT_COMP, .iov = &v, .iovcnt = 1, .trans_id = trans_id},
	    NULL);
}

int vmb_chan_request(struct vmb_channel *ch, const void *buf, size_t len, vmb_completion_fn done,
		     void *arg)
{
	struct iovec v = {(void *)buf, len};

	if (!done)
		return -EINVAL;
	return vmb_chan_submit(
	    ch, &(struct vmb_send){.iov = &v, .iovcnt = 1, .done = done, .arg = arg}, NULL);
}

void vmb_chan_batch_begin(struct vmb_channel *ch)
{
	pthread_mutex_lock(&ch->tx_lock);
	ch->batch_depth++;
	pthread_mutex_unlock(&ch->tx_lock);
}

int vmb_chan_batch_end(struct vmb_channel *ch)
{
	bool signal = false;
	int rc = 0;

	pthread_mutex_lock(&ch->tx_lock);
	if (ch->batch_depth == 0)
		rc = -EINVAL;
	else if (--ch->batch_depth == 0 && ch->batch_dirty)
		rc = commit_locked(ch, &signal);
	tx_unlock(ch, signal);
	return rc;
}
