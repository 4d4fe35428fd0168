/* Test device, host side (VSP): echo, sink, stream, GPA sums, sub-channels. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/test.h"
#include "vmbus/msg.h"

struct test_chan {
	struct vmb_test_vsp *t;
	struct vmb_channel *ch;
	struct vmb_test_stats st;
	pthread_t streamer;
	bool streaming;	  /* a streamer thread exists (join it) */
	bool stream_done; /* it finished (atomic: set by the streamer) */
	struct vmb_test_hdr stream_req;
};

#define TEST_MAX_CHANNELS 65 /* primary + 64 sub-channels */

struct vmb_test_vsp {
	struct vmb_host *h;
	struct vmb_vsp *v;
	struct test_chan *chans[TEST_MAX_CHANNELS];
};

static void *stream_main(void *arg)
{
	struct test_chan *tc = arg;
	uint32_t size = tc->stream_req.size;
	uint8_t *buf = calloc(1, sizeof(struct vmb_test_hdr) + size);
	struct vmb_test_hdr *h = (struct vmb_test_hdr *)buf;

	if (!buf)
		return NULL;
	h->op = VMB_TEST_DATA;
	h->size = size;
	for (uint32_t i = 0; i < tc->stream_req.count; i++) {
		h->seq = i;
		memset(buf + sizeof(*h), (int)(i & 0xff), size);
		if (vmb_chan_send(tc->ch, buf, sizeof(*h) + size, 0, 0) < 0)
			goto out;
	}
	h->op = VMB_TEST_STREAM_END;
	h->seq = tc->stream_req.count;
	vmb_chan_send(tc->ch, h, sizeof(*h), 0, 0);
out:
	free(buf);
	__atomic_store_n(&tc->stream_done, true, __ATOMIC_RELEASE);
	return NULL;
}

static void start_stream(struct test_chan *tc, const struct vmb_test_hdr *req)
{
	if (tc->streaming) {
		pthread_join(tc->streamer, NULL);
		tc->streaming = false;
	}
	if (req->size > 65536 - sizeof(*req)) {
		vmb_chan_fail(tc->ch, "STREAM packet size too large");
		return;
	}
	tc->stream_req = *req;
	tc->stream_done = false;
	tc->streaming = pthread_create(&tc->streamer, NULL, stream_main, tc) == 0;
}

static void gpa_sum(struct test_chan *tc, const struct vmb_packet *pkt)
{
	struct vmb_test_hdr reply = {.op = VMB_TEST_GPA_SUM};
	struct vmb_range_iter it;
	struct vmb_gpa_range r;
	int rc;

	rc = vmb_range_iter_init(&it, pkt);
	while (rc == 0 && (rc = vmb_range_next(&it, &r)) == 1) {
		uint32_t done = 0;

		rc = 0;
		for (uint32_t i = 0; i < r.pfn_count && done < r.len; i++) {
			uint32_t off = i ? 0 : r.offset;
			uint32_t n = HV_PAGE_SIZE - off;
			const uint8_t *p;

			if (n > r.len - done)
				n = r.len - done;
			p = vmb_chan_gpa(tc->ch, r.pfns[i] * HV_PAGE_SIZE + off, n);
			if (!p) {
				rc = -EFAULT;
				break;
			}
			for (uint32_t k = 0; k < n; k++)
				reply.seq += p[k];
			done += n;
		}
	}
	/* A bad GPA is the guest's problem: answer with an error marker, keep serving. */
	if (rc < 0)
		reply.reserved = (uint32_t)-rc;
	vmb_chan_complete(tc->ch, pkt->trans_id, &reply, sizeof(reply));
}

#if defined(__SSE2__)
#include <emmintrin.h>

/* psadbw adds up 16 bytes at a time: the sum keeps pace with a memcpy, so
 * streaming benchmarks measure the channel rather than this loop. */
static uint64_t byte_sum(const uint8_t *p, uint32_t n)
{
	__m128i acc = _mm_setzero_si128();
	uint64_t total, half[2];
	uint32_t i = 0;

	for (; n - i >= 16; i += 16)
		acc = _mm_add_epi64(
		    acc, _mm_sad_epu8(_mm_loadu_si128((const void *)(p + i)), _mm_setzero_si128()));
	_mm_storeu_si128((void *)half, acc);
	total = half[0] + half[1];
	for (; i < n; i++)
		total += p[i];
	return total;
}
#else
/* Eight bytes at a time into four 16-bit lanes, which hold 128 words
 * before they could overflow. */
static uint64_t byte_sum(const uint8_t *p, uint32_t n)
{
	const uint64_t lo = 0x00ff00ff00ff00ffull;
	uint64_t total = 0;
	uint32_t i = 0;

	while (n - i >= 8) {
		uint64_t lanes = 0;

		for (uint32_t k = 0; k < 128 && n - i >= 8; k++, i += 8) {
			uint64_t w;

			memcpy(&w, p + i, sizeof(w));
			lanes += (w & lo) + ((w >> 8) & lo);
		}
		total += (lanes & 0xffff) + ((lanes >> 16) & 0xffff) + ((lanes >> 32) & 0xffff) +
			 (lanes >> 48);
	}
	for (; i < n; i++)
		total += p[i];
	return total;
}
#endif

static void handle(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct test_chan *tc = arg;
	struct vmb_test_hdr req;

	if (pkt->len < sizeof(req)) {
		vmb_chan_fail(ch, "test packet shorter than its header");
		return;
	}
	memcpy(&req, pkt->data, sizeof(req));
	tc->st.packets++;
	tc->st.bytes += pkt->len;
	switch (req.op) {
	case VMB_TEST_ECHO:
		if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
			vmb_chan_complete(ch, pkt->trans_id, pkt->data, pkt->len);
		else
			vmb_chan_send(ch, pkt->data, pkt->len, pkt->trans_id, 0);
		break;
	case VMB_TEST_SINK:
		tc->st.sum += byte_sum((const uint8_t *)pkt->data + sizeof(req),
				       pkt->len - (uint32_t)sizeof(req));
		break;
	case VMB_TEST_STREAM:
		start_stream(tc, &req);
		break;
	case VMB_TEST_GPA_SUM:
		gpa_sum(tc, pkt);
		break;
	case VMB_TEST_STATS:
		tc->st.hdr = req;
		vmb_chan_complete(ch, pkt->trans_id, &tc->st, sizeof(tc->st));
		break;
	case VMB_TEST_SUBCHAN:
		vmb_vsp_offer_subchannels(tc->t->v, req.count);
		vmb_chan_complete(ch, pkt->trans_id, &req, sizeof(req));
		break;
	case VMB_TEST_POLL:
		vmb_chan_set_poll(ch, req.size);
		vmb_chan_complete(ch, pkt->trans_id, &req, sizeof(req));
		break;
	default:
		vmb_chan_fail(ch, "unknown test operation");
	}
}

static int test_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		     const struct vmb_open_params *p)
{
	struct vmb_test_vsp *t = dev;
	struct test_chan *tc;

	(void)v;
	(void)p;
	if (sub >= TEST_MAX_CHANNELS || t->chans[sub])
		return -EINVAL;
	tc = calloc(1, sizeof(*tc));
	if (!tc)
		return -ENOMEM;
	tc->t = t;
	tc->ch = ch;
	t->chans[sub] = tc;
	vmb_chan_set_handler(ch, handle, tc);
	return 0;
}

static void test_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_test_vsp *t = dev;
	struct test_chan *tc = sub < TEST_MAX_CHANNELS ? t->chans[sub] : NULL;

	(void)v;
	if (!tc)
		return;
	t->chans[sub] = NULL;
	if (tc->streaming) {
		/* A streamer may wait for ring space the guest will never free. */
		if (!__atomic_load_n(&tc->stream_done, __ATOMIC_ACQUIRE))
			vmb_chan_shutdown(ch);
		pthread_join(tc->streamer, NULL);
	}
	free(tc);
}

static void test_release(void *dev)
{
	free(dev);
}

static const struct vmb_vsp_ops test_ops = {
    .open = test_open,
    .close = test_close,
    .release = test_release,
};

int vmb_test_vsp_add(struct vmb_host *h, const struct vmb_guid *instance, struct vmb_test_vsp **out)
{
	struct vmb_test_vsp *t = calloc(1, sizeof(*t));
	struct vmb_vsp_desc d = {
	    .name = "test",
	    .class_id = VMB_GUID_TEST,
	    .instance_id = *instance,
	    .max_packet = 65536,
	    /*
	     * In place: the guest may rewrite a packet while we read it,
	     * and that is harmless here. Every decision is taken on a
	     * private copy of the header, payloads are only summed or
	     * echoed, and GPA ranges are re-checked record by record and
	     * mapped through vmb_chan_gpa(), so a changing byte changes
	     * an answer, never what memory we touch.
	     */
	    .copy_out = false,
	    .ops = &test_ops,
	};
	int rc;

	if (!t)
		return -ENOMEM;
	t->h = h;
	d.dev = t;
	rc = vmb_host_add_device(h, &d, &t->v);
	if (rc < 0) {
		free(t);
		return rc;
	}
	*out = t;
	return 0;
}

/* t is freed by test_release once the guest has released every channel. */
int vmb_test_vsp_remove(struct vmb_test_vsp *t)
{
	return vmb_host_remove_device(t->h, t->v);
}

struct vmb_vsp *vmb_test_vsp_vsp(struct vmb_test_vsp *t)
{
	return t->v;
}
