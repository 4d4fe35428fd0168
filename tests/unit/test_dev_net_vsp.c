/*
 * netvsp: RNDIS data from the guest reaches the TAP (here a pipe) or is
 * refused; the batched TAP writer both netvsp and netvsc use.
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

#include "dev/net/netvsp_priv.h"

struct fixture {
	struct vmb_netvsp *n;
	int pipe[2];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	f->n = calloc(1, sizeof(*f->n));
	assert_int_equal(pipe2(f->pipe, O_NONBLOCK), 0);
	f->n->tap_fd = f->pipe[1];
	vmb_tap_writer_init(&f->n->tapw, f->pipe[1]);
	pthread_mutex_init(&f->n->lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	vmb_tap_writer_destroy(&f->n->tapw);
	close(f->pipe[0]);
	close(f->pipe[1]);
	pthread_mutex_destroy(&f->n->lock);
	free(f->n);
	free(f);
	return 0;
}

static size_t packet(uint8_t *p, uint8_t fill, uint32_t len)
{
	size_t h = vmb_rndis_packet_hdr(p, len);

	memset(p + h, fill, len);
	return h + len;
}

static void batched_frames_reach_the_tap(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[512] = {0}, out[256];
	size_t a = packet(buf, 0x11, 60);
	size_t b = packet(buf + a, 0x22, 70);

	/* 4 bytes of alignment padding after the last message */
	assert_int_equal(netvsp_rndis(f->n, buf, (uint32_t)(a + b + 4)), 0);
	assert_int_equal(read(f->pipe[0], out, sizeof(out)), 60 + 70);
	assert_int_equal(out[0], 0x11);
	assert_int_equal(out[60], 0x22);
	assert_int_equal(f->n->st.tx_frames, 2);
	assert_int_equal(f->n->st.tx_bytes, 130);
}

static void malformed_packets_are_refused(void **state)
{
	struct fixture *f = *state;
	uint8_t buf[256] = {0}, out[256];
	struct rndis_packet pk;
	size_t a = packet(buf, 0x33, 60);

	/* msg_len beyond what the guest sent */
	assert_int_equal(netvsp_rndis(f->n, buf, (uint32_t)a - 1), -EBADMSG);
	/* data past the message */
	memcpy(&pk, buf + 8, sizeof(pk));
	pk.data_len = 61;
	memcpy(buf + 8, &pk, sizeof(pk));
	assert_int_equal(netvsp_rndis(f->n, buf, (uint32_t)a), -EBADMSG);
	assert_int_equal(read(f->pipe[0], out, sizeof(out)), -1);
	assert_int_equal(f->n->st.tx_frames, 0);
}

/* More frames than one batch, in order, each counted; with io_uring and without. */
static void tap_writer_batches(void **state)
{
	struct vmb_tap_writer w;
	struct vmb_tap_counts c = {0};
	uint8_t frames[40][64], out[128];
	int sp[2];

	(void)state;
	assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, sp), 0);
	for (int mode = 0; mode < 2; mode++) {
		vmb_tap_writer_init(&w, sp[0]);
		if (mode == 1)
			w.uring = false; /* as where io_uring is refused */
		memset(&c, 0, sizeof(c));
		for (unsigned i = 0; i < 40; i++) {
			memset(frames[i], (int)i, sizeof(frames[i]));
			vmb_tap_queue(&w, frames[i], 20 + i, &c);
		}
		vmb_tap_flush(&w, &c);
		assert_int_equal(c.frames, 40);
		assert_int_equal(c.dropped, 0);
		for (unsigned i = 0; i < 40; i++) {
			assert_int_equal(read(sp[1], out, sizeof(out)), 20 + i);
			assert_int_equal(out[0], i);
		}
		if (mode == 1)
			io_uring_queue_exit(&w.ring);
		else
			vmb_tap_writer_destroy(&w);
	}
	/* A closed TAP: every frame is dropped, none is lost track of. */
	vmb_tap_writer_init(&w, sp[0]);
	close(sp[1]);
	memset(&c, 0, sizeof(c));
	for (unsigned i = 0; i < 3; i++)
		vmb_tap_queue(&w, frames[i], 64, &c);
	vmb_tap_flush(&w, &c);
	assert_int_equal(c.frames, 0);
	assert_int_equal(c.dropped, 3);
	vmb_tap_writer_destroy(&w);
	close(sp[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(batched_frames_reach_the_tap, setup, teardown),
	    cmocka_unit_test_setup_teardown(malformed_packets_are_refused, setup, teardown),
	    cmocka_unit_test(tap_writer_batches),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
