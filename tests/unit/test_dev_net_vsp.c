/* netvsp: RNDIS data from the guest reaches the TAP (here a pipe) or is refused. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
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
	pthread_mutex_init(&f->n->lock, NULL);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

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

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(batched_frames_reach_the_tap, setup, teardown),
	    cmocka_unit_test_setup_teardown(malformed_packets_are_refused, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
