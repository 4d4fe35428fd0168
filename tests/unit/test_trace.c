/* trace layer: the pcapng file is checked byte for byte after reading it back. */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/msg.h"
#include "vmbus/trace.h"

struct file_buf {
	uint8_t *data;
	size_t len, off;
};

static void temp_path(char *path, size_t len)
{
	int fd;

	snprintf(path, len, "%s/vmb_trace_XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	fd = mkstemp(path);
	assert_true(fd >= 0);
	close(fd);
}

static void read_file(const char *path, struct file_buf *f)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;

	assert_non_null(fp);
	assert_int_equal(stat(path, &st), 0);
	f->len = (size_t)st.st_size;
	f->off = 0;
	f->data = malloc(f->len + 1);
	assert_non_null(f->data);
	assert_int_equal(fread(f->data, 1, f->len, fp), f->len);
	fclose(fp);
}

static uint32_t get32(struct file_buf *f)
{
	uint32_t v;

	assert_true(f->off + 4 <= f->len);
	memcpy(&v, f->data + f->off, 4);
	f->off += 4;
	return v;
}

static uint16_t get16(struct file_buf *f)
{
	uint16_t v;

	assert_true(f->off + 2 <= f->len);
	memcpy(&v, f->data + f->off, 2);
	f->off += 2;
	return v;
}

static uint64_t now_usec(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void expect_preamble(struct file_buf *f)
{
	assert_int_equal(get32(f), 0x0A0D0D0A);
	assert_int_equal(get32(f), 28);
	assert_int_equal(get32(f), 0x1A2B3C4D);
	assert_int_equal(get16(f), 1);
	assert_int_equal(get16(f), 0);
	assert_int_equal(get32(f), 0xffffffffu); /* section length -1 */
	assert_int_equal(get32(f), 0xffffffffu);
	assert_int_equal(get32(f), 28);

	assert_int_equal(get32(f), 1);
	assert_int_equal(get32(f), 20);
	assert_int_equal(get16(f), 147);
	assert_int_equal(get16(f), 0);
	assert_int_equal(get32(f), 0); /* snaplen */
	assert_int_equal(get32(f), 20);
}

struct expect_msg {
	uint32_t dir, vp, id;
	const uint8_t *msg;
	size_t len;
};

/* One EPB; returns its timestamp. */
static uint64_t expect_epb(struct file_buf *f, const struct expect_msg *m)
{
	size_t cap = 16 + m->len, pad = (4 - cap % 4) % 4;
	uint32_t total = (uint32_t)(28 + cap + pad + 4);
	static const uint8_t zero[4];
	uint64_t ts;
	uint8_t le[4];

	assert_int_equal(get32(f), 6);
	assert_int_equal(get32(f), total);
	assert_int_equal(get32(f), 0); /* interface */
	ts = (uint64_t)get32(f) << 32;
	ts |= get32(f);
	assert_int_equal(get32(f), cap);
	assert_int_equal(get32(f), cap);
	/* The pseudo header is little-endian by definition. */
	for (int i = 0; i < 4; i++) {
		uint32_t v = i == 0 ? m->dir : i == 1 ? m->vp : i == 2 ? m->id : 0;

		le[0] = (uint8_t)v;
		le[1] = (uint8_t)(v >> 8);
		le[2] = (uint8_t)(v >> 16);
		le[3] = (uint8_t)(v >> 24);
		assert_memory_equal(f->data + f->off, le, 4);
		f->off += 4;
	}
	assert_true(f->off + m->len + pad <= f->len);
	if (m->len > 0)
		assert_memory_equal(f->data + f->off, m->msg, m->len);
	f->off += m->len;
	if (pad > 0)
		assert_memory_equal(f->data + f->off, zero, pad);
	f->off += pad;
	assert_int_equal(get32(f), total);
	return ts;
}

static void test_trace_blocks(void **state)
{
	uint8_t rescind[12], modresp[9], offer[196], body[24];
	static const uint64_t pfns[27] = {[26] = 0x123456789ull};
	const struct expect_msg msgs[] = {
	    {0, 0, VMBUS_MESSAGE_CONNECTION_ID, body, sizeof(body)},
	    {1, 3, VMBUS_MESSAGE_SINT, rescind, sizeof(rescind)},
	    {1, 0, VMBUS_MESSAGE_SINT, modresp, sizeof(modresp)},
	    {1, 0x01020304, 0x0a0b0c0d, offer, sizeof(offer)},
	    {0, 1, 4, offer, 5},
	    {0, 1, 4, offer, 0},
	};
	const size_t n = sizeof(msgs) / sizeof(msgs[0]);
	struct vmb_trace *t;
	struct file_buf f;
	char path[256];
	uint64_t before, after, prev;

	(void)state;
	vmb_msg_init(rescind, sizeof(rescind), CHANNELMSG_RESCIND_CHANNELOFFER);
	rescind[8] = 42;
	vmb_msg_init(modresp, sizeof(modresp), CHANNELMSG_MODIFY_CONNECTION_RESPONSE);
	for (size_t i = 0; i < sizeof(offer); i++)
		offer[i] = (uint8_t)(i * 7 + 1);
	assert_int_equal(vmb_gpadl_build(body, 1, 1, 2, pfns, 27), sizeof(body));

	temp_path(path, sizeof(path));
	before = now_usec();
	assert_int_equal(vmb_trace_open(path, &t), 0);
	for (size_t i = 0; i < n; i++)
		assert_int_equal(
		    vmb_trace_msg(t, msgs[i].dir, msgs[i].vp, msgs[i].id, msgs[i].msg, msgs[i].len),
		    0);
	/* Readable before close: nothing is buffered in the process. */
	read_file(path, &f);
	vmb_trace_close(t);
	after = now_usec();

	expect_preamble(&f);
	prev = before;
	for (size_t i = 0; i < n; i++) {
		uint64_t ts = expect_epb(&f, &msgs[i]);

		assert_true(ts >= prev);
		assert_true(ts <= after);
		prev = ts;
	}
	assert_int_equal(f.off, f.len);
	free(f.data);

	/* tshark is optional; when present it must accept the file. */
	if (system("command -v tshark >/dev/null 2>&1") == 0) {
		char cmd[512];

		snprintf(cmd, sizeof(cmd), "tshark -r '%s' -x >/dev/null 2>&1", path);
		assert_int_equal(system(cmd), 0);
	}
	unlink(path);
}

#define THREADS	   4
#define PER_THREAD 200

struct writer {
	struct vmb_trace *t;
	uint32_t vp;
};

static void *writer_main(void *arg)
{
	struct writer *w = arg;
	uint8_t msg[VMBUS_MAX_MESSAGE_SIZE];

	for (uint32_t i = 0; i < PER_THREAD; i++) {
		size_t len = 8 + (w->vp * 31 + i) % (sizeof(msg) - 7);

		memset(msg, (int)w->vp, len);
		if (vmb_trace_msg(w->t, w->vp & 1, w->vp, i, msg, len) != 0)
			return (void *)1;
	}
	return NULL;
}

/* Blocks written by concurrent threads never interleave. */
static void test_trace_threads(void **state)
{
	struct writer w[THREADS];
	pthread_t th[THREADS];
	uint32_t next[THREADS] = {0};
	struct vmb_trace *t;
	struct file_buf f;
	char path[256];

	(void)state;
	temp_path(path, sizeof(path));
	assert_int_equal(vmb_trace_open(path, &t), 0);
	for (uint32_t i = 0; i < THREADS; i++) {
		w[i] = (struct writer){t, i};
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	for (uint32_t i = 0; i < THREADS; i++) {
		void *ret;

		assert_int_equal(pthread_join(th[i], &ret), 0);
		assert_null(ret);
	}
	vmb_trace_close(t);

	read_file(path, &f);
	expect_preamble(&f);
	for (int i = 0; i < THREADS * PER_THREAD; i++) {
		uint8_t msg[VMBUS_MAX_MESSAGE_SIZE];
		struct expect_msg m;
		uint32_t vp;

		assert_true(f.off + 48 <= f.len);
		memcpy(&vp, f.data + f.off + 32, 4);
		assert_true(vp < THREADS);
		m = (struct expect_msg){vp & 1, vp, next[vp], msg,
					8 + (vp * 31 + next[vp]) % (sizeof(msg) - 7)};
		memset(msg, (int)vp, m.len);
		expect_epb(&f, &m);
		next[vp]++;
	}
	assert_int_equal(f.off, f.len);
	free(f.data);
	unlink(path);
}

static void test_trace_errors(void **state)
{
	struct vmb_trace *t = NULL;
	uint8_t msg[8] = {0};
	char path[256];

	(void)state;
	assert_int_equal(vmb_trace_open("/nonexistent-dir/x.pcapng", &t), -ENOENT);
	assert_null(t);
	temp_path(path, sizeof(path));
	assert_int_equal(vmb_trace_open(path, &t), 0);
	assert_int_equal(vmb_trace_msg(t, 2, 0, 0, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(vmb_trace_msg(NULL, 0, 0, 0, msg, sizeof(msg)), -EINVAL);
	assert_int_equal(vmb_trace_msg(t, 0, 0, 0, NULL, 8), -EINVAL);
	assert_int_equal(vmb_trace_msg(t, 0, 0, 0, msg, 70000), -EINVAL);
	vmb_trace_close(t);
	vmb_trace_close(NULL);
	unlink(path);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_trace_blocks),
	    cmocka_unit_test(test_trace_threads),
	    cmocka_unit_test(test_trace_errors),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
