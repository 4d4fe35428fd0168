/*
 * Hostile guest: a raw guest (hostile.c) talks to a real host process and
 * breaks the protocol on purpose. After every case the host must still be
 * alive, still serve another channel and a fresh guest, and have logged
 * the cause on stderr.
 */
#include <signal.h>
#include <string.h>
#include <sys/wait.h>

#include "hostile.h"
#include "it_common.h"
#include "vmbus/msg.h"
#include "vmbus/proto/hv.h"
#include "vmbus/dev/test.h"
#include "vmbus/ring.h"

#define RING_PAGES 4

struct fixture {
	const char *sock;
	char log[256];
	struct it_proc host;
	struct hg g;
};

static void setup(struct fixture *f, const struct it_host_opts *o)
{
	memset(f, 0, sizeof(*f));
	f->sock = it_socket_path();
	assert_int_equal(hostile_host_start(&f->host, f->sock, o, f->log, sizeof(f->log)), 0);
	assert_int_equal(hg_connect(&f->g, f->sock), 0);
}

/* The host survived: it answers, and a fresh real guest gets a working device. */
static void host_still_serves(struct fixture *f)
{
	struct it_proc guest;
	struct it_hstats hs;

	hg_close(&f->g);
	it_hstats(&f->host, &hs);
	assert_int_equal(kill(f->host.pid, 0), 0);
	assert_int_equal(it_guest_start(&guest, f->sock, 0), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "wait 1"), 0);
	assert_int_equal(it_cmd(&guest, NULL, 0, "echo 0 100"), 0);
	it_quit(&guest);
	it_quit(&f->host);
}

static void connect_and_offer(struct fixture *f, int want)
{
	assert_int_equal(hg_hello(&f->g, VERSION_COPPER), 0);
	assert_int_equal(hg_offers(&f->g), want);
}

/* ---- GPADLs ------------------------------------------------------------ */

static void gpadl_outside_ram(void **state)
{
	struct fixture f;
	uint64_t pfns[4];

	(void)state;
	setup(&f, &(struct it_host_opts){0});
	connect_and_offer(&f, 1);
	assert_int_equal(vmb_guest_part_alloc(f.g.g, 3, pfns), 0);
	pfns[3] = vmb_guest_part_pages(f.g.g) + 5;
	assert_true(hg_gpadl(&f.g, f.g.offers[0].child_relid, 0x100, pfns, 4) != 0);
	assert_true(hostile_log_has(f.log, "PFN beyond guest memory", 2000));
	/* A PFN so large that pfn * 4096 wraps 64 bits. */
	pfns[3] = UINT64_MAX / 4096 + 2;
	assert_true(hg_gpadl(&f.g, f.g.offers[0].child_relid, 0x101, pfns, 4) != 0);
	host_still_serves(&f);
}

static void gpadl_overlap_and_reuse(void **state)
{
	struct fixture f;
	struct hg_chan c;
	uint64_t pfns[4];

	(void)state;
	setup(&f, &(struct it_host_opts){0});
	connect_and_offer(&f, 1);
	/* The same page listed twice, and a GPADL over pages of another one:
	 * legal on Hyper-V (pages may be shared), so it must simply work. */
	assert_int_equal(vmb_guest_part_alloc(f.g.g, 2, pfns), 0);
	pfns[2] = pfns[0];
	pfns[3] = pfns[1];
	assert_int_equal(hg_gpadl(&f.g, f.g.offers[0].child_relid, 0x200, pfns, 4), 0);
	assert_int_equal(hg_gpadl(&f.g, f.g.offers[0].child_relid, 0x201, pfns, 2), 0);
	/* A handle already in use must not replace the first GPADL. */
	assert_true(hg_gpadl(&f.g, f.g.offers[0].child_relid, 0x200, pfns, 2) != 0);
	assert_true(hostile_log_has(f.log, "0x200", 2000));
	/* The channel still opens on a ring GPADL of its own. */
	assert_int_equal(hg_chan_open(&f.g, 0, RING_PAGES, 0x300, &c), 0);
	assert_int_equal(hg_echo(&c, 5000), 0);
	hg_chan_close(&c);
	host_still_serves(&f);
}

static void gpadl_over_limit(void **state)
{
	struct fixture f;
	static uint64_t pfns[512];

	(void)state;
	setup(&f, &(struct it_host_opts){.gpadl_limit = 1u << 20});
	connect_and_offer(&f, 1);
	assert_int_equal(vmb_guest_part_alloc(f.g.g, 512, pfns), 0);
	assert_true(hg_gpadl(&f.g, f.g.offers[0].child_relid, 0x400, pfns, 512) != 0);
	assert_true(hostile_log_has(f.log, "over the limit", 2000));
	/* Under the limit still works. */
	assert_int_equal(hg_gpadl(&f.g, f.g.offers[0].child_relid, 0x401, pfns, 16), 0);
	host_still_serves(&f);
}

/* ---- rings --------------------------------------------------------------- */

/* Open two test channels; the first gets corrupted, the second must keep echoing. */
static void open_two(struct fixture *f, struct hg_chan *bad, struct hg_chan *good)
{
	setup(f, &(struct it_host_opts){.test_devices = 2});
	connect_and_offer(f, 2);
	assert_int_equal(hg_chan_open(&f->g, 0, RING_PAGES, 0x10, bad), 0);
	assert_int_equal(hg_chan_open(&f->g, 1, RING_PAGES, 0x11, good), 0);
	assert_int_equal(hg_echo(bad, 5000), 0);
	assert_int_equal(hg_echo(good, 5000), 0);
}

static void finish_two(struct fixture *f, struct hg_chan *bad, struct hg_chan *good)
{
	for (int i = 0; i < 20; i++)
		assert_int_equal(hg_echo(good, 5000), 0);
	hg_chan_close(bad);
	hg_chan_close(good);
	host_still_serves(f);
}

static void ring_index_out_of_range(void **state)
{
	struct fixture f;
	struct hg_chan bad, good;

	(void)state;
	open_two(&f, &bad, &good);
	bad.out_hdr->write_index = bad.out_size + 64;
	assert_int_equal(hg_signal(&bad), 0);
	assert_true(hostile_log_has(f.log, "write_index out of range", 3000));
	finish_two(&f, &bad, &good);
}

static void ring_index_unaligned(void **state)
{
	struct vmb_test_hdr req = {.op = VMB_TEST_STREAM, .count = 200, .size = 1000};
	struct vmbus_ring_header *in_hdr;
	struct fixture f;
	struct hg_chan bad, good;

	(void)state;
	open_two(&f, &bad, &good);
	/* read_index of the H->G ring is the guest's. Stop draining it, make it
	 * unaligned and ask for a stream: once the ring fills, the host
	 * producer reloads read_index and must refuse it. */
	pthread_mutex_lock(&f.g.evlock);
	f.g.chans[bad.idx] = NULL;
	pthread_mutex_unlock(&f.g.evlock);
	in_hdr = bad.in.addr;
	in_hdr->read_index = 3;
	assert_int_equal(vmb_chan_send(bad.ch, &req, sizeof(req), 0, 0), 0);
	assert_true(hostile_log_has(f.log, "read_index out of range or unaligned", 5000));
	finish_two(&f, &bad, &good);
}

/* A packet whose len8 runs past write_index. */
static void packet_length_lies(void **state)
{
	struct vmpacket_descriptor d = {.type = VM_PKT_DATA_INBAND, .offset8 = 2, .len8 = 200};
	struct fixture f;
	struct hg_chan bad, good;
	uint32_t wi;

	(void)state;
	open_two(&f, &bad, &good);
	wi = bad.out_hdr->write_index;
	memcpy(bad.out_data + wi, &d, sizeof(d));
	memset(bad.out_data + wi + sizeof(d), 0, 16);
	__atomic_store_n(&bad.out_hdr->write_index, wi + 32, __ATOMIC_RELEASE);
	assert_int_equal(hg_signal(&bad), 0);
	assert_true(hostile_log_has(f.log, "len8 runs past write_index", 3000));
	/* The broken channel stays broken, quietly: no echo comes back. */
	assert_true(hg_echo(&bad, 300) < 0);
	finish_two(&f, &bad, &good);
}

/* ---- control path -------------------------------------------------------- */

static void wrong_state_messages(void **state)
{
	struct vmbus_channel_open_channel open;
	struct vmbus_channel_gpadl_teardown td;
	struct fixture f;
	uint64_t pfn;

	(void)state;
	setup(&f, &(struct it_host_opts){0});
	/* Before INITIATE_CONTACT: nothing but INITIATE_CONTACT is accepted. */
	assert_int_equal(hg_post_type(&f.g, CHANNELMSG_REQUESTOFFERS), HV_STATUS_SUCCESS);
	assert_true(hostile_log_has(f.log, "rejected", 2000));
	assert_int_equal(hg_hello(&f.g, VERSION_COPPER), 0);
	/* Open and GPADL for a relid never offered (offers not requested yet). */
	vmb_msg_init(&open, sizeof(open), CHANNELMSG_OPENCHANNEL);
	open.child_relid = 1;
	open.ringbuffer_gpadlhandle = 7;
	open.downstream_ringbuffer_pageoffset = 2;
	assert_int_equal(
	    hg_post(&f.g, &open, offsetof(struct vmbus_channel_open_channel, connection_id)),
	    HV_STATUS_SUCCESS);
	assert_int_equal(vmb_guest_part_alloc(f.g.g, 1, &pfn), 0);
	assert_true(hg_gpadl(&f.g, 1, 0x500, &pfn, 1) != 0);
	/* Teardown of a GPADL that does not exist; UNLOAD_RESPONSE from a guest. */
	vmb_msg_init(&td, sizeof(td), CHANNELMSG_GPADL_TEARDOWN);
	td.gpadl = 0xdead;
	assert_int_equal(hg_post(&f.g, &td, sizeof(td)), HV_STATUS_SUCCESS);
	assert_int_equal(hg_post_type(&f.g, CHANNELMSG_UNLOAD_RESPONSE), HV_STATUS_SUCCESS);
	assert_int_equal(hg_post_type(&f.g, 0x7777), HV_STATUS_SUCCESS);
	assert_true(hostile_log_has(f.log, "UNLOAD_RESPONSE", 2000));
	/* The connection still works: offers arrive and a channel opens. */
	assert_int_equal(hg_offers(&f.g), 1);
	host_still_serves(&f);
}

static void request_offers_twice(void **state)
{
	struct vmbus_channel_message_header m;
	struct fixture f;

	(void)state;
	setup(&f, &(struct it_host_opts){0});
	connect_and_offer(&f, 1);
	assert_int_equal(hg_post_type(&f.g, CHANNELMSG_REQUESTOFFERS), HV_STATUS_SUCCESS);
	assert_true(hostile_log_has(f.log, "offers already requested", 2000));
	/* No second set of offers. */
	assert_true(hg_wait(&f.g, CHANNELMSG_ALLOFFERS_DELIVERED, &m, sizeof(m), 300) < 0);
	host_still_serves(&f);
}

/* ---- floods ---------------------------------------------------------------- */

struct flood {
	struct hg *g;
	int refused, ok, other;
};

static void *post_flood(void *arg)
{
	struct flood *fl = arg;
	struct vmbus_channel_gpadl_teardown td;

	vmb_msg_init(&td, sizeof(td), CHANNELMSG_GPADL_TEARDOWN);
	for (int i = 0; i < 3000; i++) {
		int st;

		td.gpadl = 0x10000u + (uint32_t)i;
		st = hg_post(fl->g, &td, sizeof(td));
		if (st == HV_STATUS_SUCCESS)
			fl->ok++;
		else if (st == HV_STATUS_INSUFFICIENT_BUFFERS)
			fl->refused++;
		else
			fl->other++;
	}
	return NULL;
}

static void post_flood_survived(void **state)
{
	struct flood fl[4];
	pthread_t t[4];
	struct fixture f;
	struct hg_chan c;

	(void)state;
	setup(&f, &(struct it_host_opts){0});
	connect_and_offer(&f, 1);
	for (int i = 0; i < 4; i++) {
		fl[i] = (struct flood){.g = &f.g};
		pthread_create(&t[i], NULL, post_flood, &fl[i]);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		/* Every post either went in or was refused for buffers, never worse. */
		assert_int_equal(fl[i].other, 0);
		assert_int_equal(fl[i].ok + fl[i].refused, 3000);
		print_message("flood thread %d: %d accepted, %d INSUFFICIENT_BUFFERS\n", i,
			      fl[i].ok, fl[i].refused);
	}
	/*
	 * Posts are handled in order, so a rejection logged for one more
	 * teardown sent after the flood proves the host got through all of it.
	 * (The flood's own lines are rate-limited: wait for a new log second.)
	 */
	usleep(1100000);
	{
		struct vmbus_channel_gpadl_teardown td;

		vmb_msg_init(&td, sizeof(td), CHANNELMSG_GPADL_TEARDOWN);
		td.gpadl = 0x10bb8;
		assert_int_equal(hg_post(&f.g, &td, sizeof(td)), HV_STATUS_SUCCESS);
	}
	assert_true(hostile_log_has(f.log, "no GPADL 0x10bb8", 2000));
	assert_true(hostile_log_has(f.log, "log lines suppressed", 2000));
	/* The control path keeps working once the flood stops. */
	hg_flush(&f.g);
	assert_int_equal(hg_chan_open(&f.g, 0, RING_PAGES, 0x20, &c), 0);
	assert_int_equal(hg_echo(&c, 5000), 0);
	hg_chan_close(&c);
	host_still_serves(&f);
}

/*
 * A guest that never takes its messages: with VP 0 offline every answer
 * queues in the host, the host stops taking posts past its backlog limit,
 * and the guest's posts are refused with INSUFFICIENT_BUFFERS.
 */
/* Messages this raw guest has been delivered (kept or dropped). */
static unsigned received(struct hg *h)
{
	unsigned n;

	pthread_mutex_lock(&h->lock);
	n = h->n;
	pthread_mutex_unlock(&h->lock);
	return n + atomic_load(&h->dropped);
}

static void post_queue_full(void **state)
{
	struct vmbus_channel_initiate_contact ic;
	struct fixture f;
	int st = HV_STATUS_SUCCESS, posts = 0;

	(void)state;
	setup(&f, &(struct it_host_opts){0});
	assert_int_equal(vmb_guest_part_vp_set_online(f.g.g, 0, false), 0);
	vmb_msg_init(&ic, sizeof(ic), CHANNELMSG_INITIATE_CONTACT);
	ic.vmbus_version_requested = VMBUS_VERSION(0x77, 0); /* refused, with an answer */
	ic.msg_sint = VMBUS_MESSAGE_SINT;
	f.g.conn_id = VMBUS_MESSAGE_CONNECTION_ID_4;
	while (st == HV_STATUS_SUCCESS && posts < 400) {
		st = hg_post(&f.g, &ic, 40);
		posts++;
	}
	print_message("first refusal after %d posts: status %d\n", posts, st);
	assert_int_equal(st, HV_STATUS_INSUFFICIENT_BUFFERS);
	assert_int_equal(vmb_guest_part_vp_set_online(f.g.g, 0, true), 0);
	/* The backlog drains into the guest (one refusal per accepted post;
	 * a loaded machine takes its time) and the connection starts normally. */
	for (int i = 0; i < 1000 && received(&f.g) < (unsigned)posts - 1; i++)
		usleep(10000);
	assert_int_equal(received(&f.g), posts - 1);
	hg_flush(&f.g);
	connect_and_offer(&f, 1);
	host_still_serves(&f);
}

static void signal_flood_throttled(void **state)
{
	struct fixture f;
	struct hg_chan bad, good;
	struct it_hstats hs;
	struct timespec t0, t;

	(void)state;
	open_two(&f, &bad, &good);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		for (int i = 0; i < 1000; i++)
			hg_signal(&bad);
		it_hstats(&f.host, &hs);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while (hs.throttled == 0 && t.tv_sec - t0.tv_sec < 10);
	assert_true(hs.needless > 1000);
	if (hs.throttled == 0) {
		/* eventfd coalesces signals: a loaded host may wake less often
		 * than the 10,000/s limit, and then must not throttle. */
		double secs =
		    (double)(t.tv_sec - t0.tv_sec) + (double)(t.tv_nsec - t0.tv_nsec) / 1e9;

		print_message("not throttled: %llu needless signals in %.1f s\n", hs.needless,
			      secs);
		assert_true((double)hs.needless / secs < 12000.0);
	} else {
		assert_true(hostile_log_has(f.log, "needless signals, throttling", 2000));
	}
	/* Both channels still work: the throttled one after its pause. */
	assert_int_equal(hg_echo(&bad, 5000), 0);
	finish_two(&f, &bad, &good);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(gpadl_outside_ram),      cmocka_unit_test(gpadl_overlap_and_reuse),
	    cmocka_unit_test(gpadl_over_limit),	      cmocka_unit_test(ring_index_out_of_range),
	    cmocka_unit_test(ring_index_unaligned),   cmocka_unit_test(packet_length_lies),
	    cmocka_unit_test(wrong_state_messages),   cmocka_unit_test(request_offers_twice),
	    cmocka_unit_test(post_flood_survived),    cmocka_unit_test(post_queue_full),
	    cmocka_unit_test(signal_flood_throttled),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
