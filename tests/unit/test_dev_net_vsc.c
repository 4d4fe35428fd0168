/*
 * netvsc TX packing: frames from the guest TAP (here a SOCK_SEQPACKET
 * socketpair, one frame per read) read in batches and packed into one send
 * section as the host's INIT_C allows, and netvsp taking the section apart
 * again into the same frames.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/net/netvsc_priv.h"
#include "dev/net/netvsp_priv.h"

#define SECTION 6144u

struct fixture {
	struct nvc_dev *d;
	struct vmb_netvsp *n;
	int guest_tap[2]; /* [0] the TAP fd netvsc reads, [1] the kernel side */
	int host_tap[2];  /* [0] the TAP fd netvsp writes, [1] the kernel side */
	uint8_t sec[SECTION];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->d = calloc(1, sizeof(*f->d));
	f->n = calloc(1, sizeof(*f->n));
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, f->guest_tap), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, f->host_tap), 0);
	f->d->tap_fd = f->guest_tap[0];
	f->d->ssec_size = SECTION;
	f->d->max_pkts = 8; /* what netvsp's INIT_C offers */
	f->d->pkt_align = 8;
	assert_int_equal(vmb_tap_reader_init(&f->d->tapr, f->guest_tap[0], SECTION - 44), 0);
	f->n->tap_fd = f->host_tap[0];
	vmb_tap_writer_init(&f->n->tapw, f->host_tap[0]);
	pthread_mutex_init(&f->n->lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vmb_tap_writer_destroy(&f->n->tapw);
	vmb_tap_reader_destroy(&f->d->tapr);
	for (int i = 0; i < 2; i++) {
		close(f->guest_tap[i]);
		close(f->host_tap[i]);
	}
	pthread_mutex_destroy(&f->n->lock);
	free(f->n);
	free(f->d);
	free(f);
	return 0;
}

/* Frame i of a test: len bytes of (i + 1). */
static void queue_frames(struct fixture *f, unsigned count, uint32_t len)
{
	uint8_t frame[2048];

	for (unsigned i = 0; i < count; i++) {
		memset(frame, (int)(i + 1), len);
		assert_int_equal(write(f->guest_tap[1], frame, len), (ssize_t)len);
	}
}

/* What the host side makes of the section: the frames on the host TAP. */
static void expect_frames(struct fixture *f, const struct netvsc_fill *fill, unsigned first,
			  unsigned count, uint32_t len)
{
	uint8_t frame[2048];

	assert_int_equal(netvsp_rndis(f->n, f->sec, fill->used), 0);
	for (unsigned i = first; i < first + count; i++) {
		assert_int_equal(read(f->host_tap[1], frame, sizeof(frame)), (ssize_t)len);
		assert_int_equal(frame[0], i + 1);
		assert_int_equal(frame[len - 1], i + 1);
	}
	assert_int_equal(read(f->host_tap[1], frame, sizeof(frame)), -1);
}

/* Message k starts where message k - 1's (stretched) msg_len ends, 8-aligned. */
static void expect_layout(struct fixture *f, const struct netvsc_fill *fill, unsigned count)
{
	uint32_t off = 0;

	for (unsigned k = 0; k < count; k++) {
		struct vmb_rndis_msg m;

		assert_int_equal(off % 8, 0);
		assert_int_equal(vmb_rndis_parse_hdr(f->sec + off, fill->used - off, &m), 0);
		assert_int_equal(m.type, RNDIS_MSG_PACKET);
		off += m.len;
	}
	assert_int_equal(off, fill->used);
}

static void small_frames_fill_up_to_max_pkts(void **state)
{
	struct fixture *f = *state;
	struct netvsc_fill fill = {0};

	queue_frames(f, 10, 61); /* odd: every message but the last is padded */
	netvsc_fill_section(f->d, f->sec, &fill);
	assert_int_equal(fill.frames, 8);
	assert_int_equal(fill.bytes, 8 * 61);
	assert_int_equal(fill.used, 7 * 112 + 44 + 61);
	expect_layout(f, &fill, 8);
	expect_frames(f, &fill, 0, 8, 61);
	assert_int_equal(f->n->st.tx_frames, 8);

	/* The two left over go into the next section. */
	fill = (struct netvsc_fill){0};
	netvsc_fill_section(f->d, f->sec, &fill);
	assert_int_equal(fill.frames, 2);
	expect_frames(f, &fill, 8, 2, 61);
}

static void without_io_uring_too(void **state)
{
	struct fixture *f = *state;

	/* As where io_uring is refused: the reader falls back to read(). */
	io_uring_queue_exit(&f->d->tapr.ring);
	f->d->tapr.uring = false;
	small_frames_fill_up_to_max_pkts(state);
}

static void mtu_frames_fill_the_room_there_is(void **state)
{
	struct fixture *f = *state;
	struct netvsc_fill fill = {0};

	/* 3 x (44 + 1514, aligned 1560) = 4680; a fourth needs 1558 more of 1464 left. */
	queue_frames(f, 4, 1514);
	netvsc_fill_section(f->d, f->sec, &fill);
	assert_int_equal(fill.frames, 3);
	assert_int_equal(fill.used, 2 * 1560 + 1558);
	expect_layout(f, &fill, 3);
	expect_frames(f, &fill, 0, 3, 1514);
}

static void one_frame_per_section_without_packing(void **state)
{
	struct fixture *f = *state;
	struct netvsc_fill fill = {0};

	f->d->max_pkts = 1; /* a host whose INIT_C says 1 */
	queue_frames(f, 2, 100);
	netvsc_fill_section(f->d, f->sec, &fill);
	assert_int_equal(fill.frames, 1);
	assert_int_equal(fill.used, 144);
	expect_frames(f, &fill, 0, 1, 100);
}

static void an_empty_tap_fills_nothing(void **state)
{
	struct fixture *f = *state;
	struct netvsc_fill fill = {0};

	netvsc_fill_section(f->d, f->sec, &fill);
	assert_int_equal(fill.frames, 0);
	assert_int_equal(fill.used, 0);
}

static void a_bad_message_stops_the_batch(void **state)
{
	struct fixture *f = *state;
	struct netvsc_fill fill = {0};
	struct rndis_packet pk;

	queue_frames(f, 3, 60);
	netvsc_fill_section(f->d, f->sec, &fill);
	assert_int_equal(fill.frames, 3);
	/* The second frame claims more data than its message holds. */
	memcpy(&pk, f->sec + 104 + 8, sizeof(pk));
	pk.data_len = 61;
	memcpy(f->sec + 104 + 8, &pk, sizeof(pk));
	assert_int_equal(netvsp_rndis(f->n, f->sec, fill.used), -EBADMSG);
	assert_int_equal(f->n->st.tx_frames, 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(small_frames_fill_up_to_max_pkts, setup, teardown),
	    cmocka_unit_test_setup_teardown(without_io_uring_too, setup, teardown),
	    cmocka_unit_test_setup_teardown(mtu_frames_fill_the_room_there_is, setup, teardown),
	    cmocka_unit_test_setup_teardown(one_frame_per_section_without_packing, setup, teardown),
	    cmocka_unit_test_setup_teardown(an_empty_tap_fills_nothing, setup, teardown),
	    cmocka_unit_test_setup_teardown(a_bad_message_stops_the_batch, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
