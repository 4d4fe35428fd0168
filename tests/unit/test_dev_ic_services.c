/* KVP, VSS and fcopy: wire parsing, pool files, guest answers, fcopy sink. */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "vmbus/dev/ic_services.h"

static char tmpdir[64];

static int setup(void **state)
{
	(void)state;
	strcpy(tmpdir, "/tmp/test_ic_services.XXXXXX");
	return mkdtemp(tmpdir) ? 0 : -1;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	return system(cmd) == 0 ? 0 : -1;
}

static void test_utf16_round_trip(void **state)
{
	uint8_t w[64];
	char u[64];
	int n;

	(void)state;
	n = vmb_utf8_to_utf16("a\xc3\xa9\xf0\x9f\x98\x80", w, sizeof(w));
	assert_int_equal(n, 2 * 5); /* a, é, surrogate pair, NUL */
	assert_int_equal(w[4], 0x3d);
	assert_int_equal(w[5], 0xd8);
	assert_int_equal(vmb_utf16_to_utf8(w, 5, u, sizeof(u)), 7);
	assert_string_equal(u, "a\xc3\xa9\xf0\x9f\x98\x80");
	/* Unpaired surrogates, bad UTF-8, no room. */
	assert_int_equal(vmb_utf16_to_utf8((const uint8_t *)"\x00\xdc", 1, u, sizeof(u)), -EILSEQ);
	assert_int_equal(vmb_utf16_to_utf8((const uint8_t *)"\x00\xd8", 1, u, sizeof(u)), -EILSEQ);
	assert_int_equal(vmb_utf8_to_utf16("\xc0\x80", w, sizeof(w)), -EILSEQ);
	assert_int_equal(vmb_utf8_to_utf16("abc", w, 6), -ENAMETOOLONG);
	assert_int_equal(vmb_utf16_to_utf8((const uint8_t *)"a\0b\0", 2, u, 2), -ENAMETOOLONG);
}

static void build(struct vmb_kvp_req *r, uint8_t op, uint8_t pool, const char *k, const char *v)
{
	memset(r, 0, sizeof(*r));
	r->op = op;
	r->pool = pool;
	snprintf(r->key, sizeof(r->key), "%s", k);
	snprintf(r->value, sizeof(r->value), "%s", v);
}

static void test_kvp_decode(void **state)
{
	static uint8_t b[sizeof(struct hv_kvp_ip_msg)];
	static struct vmb_kvp_req r, d;
	struct hv_kvp_msg_value *m = (void *)b;
	uint32_t v32 = 42;
	int n;

	(void)state;
	build(&r, KVP_OP_SET, KVP_POOL_GUEST, "key", "value");
	n = vmb_kvp_build(&r, b, sizeof(b));
	assert_int_equal(n, 2576);
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), 0);
	assert_string_equal(d.key, "key");
	assert_string_equal(d.value, "value");
	/* Truncated by one byte, too-short header. */
	assert_int_equal(vmb_kvp_decode(b, (size_t)n - 1, &d), -EBADMSG);
	assert_int_equal(vmb_kvp_decode(b, 3, &d), -EBADMSG);
	/* Oversized or odd key/value sizes. */
	m->data.key_size = 514;
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), -EBADMSG);
	m->data.key_size = 7;
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), -EBADMSG);
	m->data.key_size = 8;
	m->data.value_size = 2050;
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), -EBADMSG);
	/* Numbers become text; unknown types, pools and operations are refused. */
	m->data.value_type = REG_U32;
	memcpy(m->data.value, &v32, 4);
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), 0);
	assert_string_equal(d.value, "42");
	m->data.value_type = 99;
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), -EINVAL);
	b[1] = 5;
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), -EINVAL);
	b[0] = 9;
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), -EINVAL);
	/* DELETE and ENUMERATE sizes. */
	build(&r, KVP_OP_DELETE, 0, "k", "");
	assert_int_equal(vmb_kvp_build(&r, b, sizeof(b)), 520);
	assert_int_equal(vmb_kvp_decode(b, 519, &d), -EBADMSG);
	assert_int_equal(vmb_kvp_decode(b, 520, &d), 0);
	assert_string_equal(d.key, "k");
	build(&r, KVP_OP_ENUMERATE, 0, "", "");
	r.index = 7;
	assert_int_equal(vmb_kvp_build(&r, b, sizeof(b)), 2580);
	assert_int_equal(vmb_kvp_decode(b, 2580, &d), 0);
	assert_int_equal(d.index, 7);
	assert_int_equal(vmb_kvp_decode(b, 2579, &d), -EBADMSG);
	build(&r, KVP_OP_GET_IP_INFO, 0, "", "");
	strcpy(r.adapter, "00:15:5d:00:00:01");
	assert_int_equal(vmb_kvp_build(&r, b, sizeof(b)), 7428);
	assert_int_equal(vmb_kvp_decode(b, 7427, &d), -EBADMSG);
	assert_int_equal(vmb_kvp_decode(b, 7428, &d), 0);
	assert_string_equal(d.adapter, "00:15:5d:00:00:01");
}

static void test_kvp_store(void **state)
{
	struct vmb_kvp_store *s;
	char key[VMB_KVP_KEY_MAX], value[VMB_KVP_VALUE_MAX], path[128];
	struct stat st;

	(void)state;
	snprintf(path, sizeof(path), "%s/kvp", tmpdir);
	assert_int_equal(vmb_kvp_store_open(path, &s), 0);
	assert_int_equal(vmb_kvp_store_get(s, 0, "a", value), -ENOENT);
	assert_int_equal(vmb_kvp_store_set(s, 0, "a", "1"), 0);
	assert_int_equal(vmb_kvp_store_set(s, 0, "b", "2"), 0);
	assert_int_equal(vmb_kvp_store_set(s, 0, "a", "3"), 0);
	assert_int_equal(vmb_kvp_store_get(s, 0, "a", value), 0);
	assert_string_equal(value, "3");
	assert_int_equal(vmb_kvp_store_enum(s, 0, 1, key, value), 0);
	assert_string_equal(key, "b");
	assert_int_equal(vmb_kvp_store_enum(s, 0, 2, key, value), -ENOENT);
	snprintf(path, sizeof(path), "%s/kvp/.kvp_pool_0", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 2 * 2560);
	assert_int_equal(vmb_kvp_store_delete(s, 0, "a"), 0);
	assert_int_equal(vmb_kvp_store_delete(s, 0, "a"), -ENOENT);
	assert_int_equal(vmb_kvp_store_enum(s, 0, 0, key, value), 0);
	assert_string_equal(key, "b");
	assert_int_equal(vmb_kvp_store_set(s, 5, "a", "1"), -EINVAL);
	assert_int_equal(vmb_kvp_store_set(s, 1, "", "1"), -EINVAL);
	vmb_kvp_store_close(s);
}

/* A pool holds at most 4,096 records: the next new key is refused, the
 * pool stays as it was, and existing keys still update. */
static void test_kvp_store_full(void **state)
{
	enum { N = 4096, KEY = 512, VAL = 2048 };
	struct vmb_kvp_store *s;
	char value[VMB_KVP_VALUE_MAX], path[128];
	static char rec[N][KEY + VAL];
	struct stat st;
	FILE *f;

	(void)state;
	snprintf(path, sizeof(path), "%s/kvpfull", tmpdir);
	assert_int_equal(mkdir(path, 0700), 0);
	/* The pool file as hv_kvp_daemon writes it: key[512] value[2048]. */
	memset(rec, 0, sizeof(rec));
	for (int i = 0; i < N; i++) {
		snprintf(rec[i], KEY, "k%d", i);
		snprintf(rec[i] + KEY, VAL, "v%d", i);
	}
	snprintf(path, sizeof(path), "%s/kvpfull/.kvp_pool_2", tmpdir);
	f = fopen(path, "w");
	assert_non_null(f);
	assert_int_equal(fwrite(rec, sizeof(rec), 1, f), 1);
	assert_int_equal(fclose(f), 0);

	snprintf(path, sizeof(path), "%s/kvpfull", tmpdir);
	assert_int_equal(vmb_kvp_store_open(path, &s), 0);
	assert_int_equal(vmb_kvp_store_get(s, 2, "k4095", value), 0);
	assert_string_equal(value, "v4095");
	assert_int_equal(vmb_kvp_store_set(s, 2, "one-more", "x"), -ENOSPC);
	assert_int_equal(vmb_kvp_store_get(s, 2, "one-more", value), -ENOENT);
	assert_int_equal(vmb_kvp_store_set(s, 2, "k7", "updated"), 0);
	assert_int_equal(vmb_kvp_store_get(s, 2, "k7", value), 0);
	assert_string_equal(value, "updated");
	snprintf(path, sizeof(path), "%s/kvpfull/.kvp_pool_2", tmpdir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, (off_t)sizeof(rec));
	/* Room again after a delete. */
	assert_int_equal(vmb_kvp_store_delete(s, 2, "k0"), 0);
	assert_int_equal(vmb_kvp_store_set(s, 2, "one-more", "x"), 0);
	vmb_kvp_store_close(s);
}

static void test_kvp_guest_answer(void **state)
{
	static uint8_t b[sizeof(struct hv_kvp_ip_msg)];
	static struct vmb_kvp_req r, d;
	struct hv_kvp_msg_enumerate *en = (void *)b;
	struct vmb_kvp_store *s;
	char path[128];
	int n;

	(void)state;
	snprintf(path, sizeof(path), "%s/kvp2", tmpdir);
	assert_int_equal(vmb_kvp_store_open(path, &s), 0);
	build(&r, KVP_OP_SET, KVP_POOL_EXTERNAL, "k", "v");
	n = vmb_kvp_build(&r, b, sizeof(b));
	assert_int_equal(vmb_kvp_guest_answer(s, b, (size_t)n), HV_S_OK);
	build(&r, KVP_OP_GET, KVP_POOL_EXTERNAL, "k", "");
	n = vmb_kvp_build(&r, b, sizeof(b));
	assert_int_equal(vmb_kvp_guest_answer(s, b, (size_t)n), HV_S_OK);
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), 0);
	b[0] = KVP_OP_SET; /* the answer is a value record */
	assert_int_equal(vmb_kvp_decode(b, (size_t)n, &d), 0);
	assert_string_equal(d.value, "v");
	build(&r, KVP_OP_ENUMERATE, KVP_POOL_EXTERNAL, "", "");
	r.index = 1;
	n = vmb_kvp_build(&r, b, sizeof(b));
	assert_int_equal(vmb_kvp_guest_answer(s, b, (size_t)n), HV_S_CONT);
	build(&r, KVP_OP_ENUMERATE, KVP_POOL_AUTO, "", "");
	r.index = 5;
	n = vmb_kvp_build(&r, b, sizeof(b));
	assert_int_equal(vmb_kvp_guest_answer(s, b, (size_t)n), HV_S_OK);
	assert_int_equal(vmb_kvp_get_record(&en->data, d.key, d.value), 0);
	assert_string_equal(d.key, "OSName");
	build(&r, KVP_OP_SET, KVP_POOL_AUTO, "x", "y");
	n = vmb_kvp_build(&r, b, sizeof(b));
	assert_int_equal(vmb_kvp_guest_answer(s, b, (size_t)n), HV_E_FAIL);
	assert_int_equal(vmb_kvp_guest_answer(s, b, 100), HV_E_FAIL);
	b[0] = KVP_OP_SET_IP_INFO;
	assert_int_equal(vmb_kvp_guest_answer(s, b, sizeof(b)), HV_ERROR_NOT_SUPPORTED);
	vmb_kvp_store_close(s);
}

static void test_vss(void **state)
{
	uint8_t b[64] = {0};
	struct hv_vss_msg m;

	(void)state;
	assert_int_equal(vmb_vss_decode(b, 11), -EBADMSG);
	assert_int_equal(vmb_vss_decode(b, VMB_VSS_MAX_BODY + 1), -EBADMSG);
	b[0] = 9;
	assert_int_equal(vmb_vss_decode(b, 12), -EINVAL);
	b[0] = VSS_OP_HOT_BACKUP;
	assert_int_equal(vmb_vss_decode(b, 12), VSS_OP_HOT_BACKUP);
	assert_int_equal(vmb_vss_action(VSS_OP_HOT_BACKUP), VMB_VSS_REPLY);
	assert_int_equal(vmb_vss_reply(b, 12, VSS_OP_HOT_BACKUP, 0), HV_S_OK);
	memcpy(&m, b, sizeof(m));
	assert_int_equal(m.flags, VSS_HBU_NO_AUTO_RECOVERY);
	assert_int_equal(vmb_vss_action(VSS_OP_FREEZE), VMB_VSS_FREEZE);
	assert_int_equal(vmb_vss_action(VSS_OP_THAW), VMB_VSS_THAW);
	assert_int_equal(vmb_vss_reply(b, 12, VSS_OP_FREEZE, -ECHILD), HV_E_FAIL);
	assert_int_equal(vmb_vss_reply(b, 12, VSS_OP_THAW, 0), HV_S_OK);
	assert_int_equal(vmb_vss_reply(b, 12, VSS_OP_CREATE, 0), HV_ERROR_NOT_SUPPORTED);
	assert_int_equal(vmb_vss_run_hook(NULL, 100), 0);
	assert_int_equal(vmb_vss_run_hook("true", 2000), 0);
	assert_int_equal(vmb_vss_run_hook("exit 3", 2000), -ECHILD);
	assert_int_equal(vmb_vss_run_hook("sleep 5", 100), -ETIMEDOUT);
}

static void test_fcopy_decode(void **state)
{
	static uint8_t b[sizeof(struct hv_do_fcopy)];
	static struct vmb_fcopy_req r;
	struct hv_do_fcopy *w = (void *)b;

	(void)state;
	assert_int_equal(vmb_fcopy_build_start(b, sizeof(b), "/dir", "f.txt", 1, 10), 1088);
	assert_int_equal(vmb_fcopy_decode(b, 1088, &r), 0);
	assert_string_equal(r.path, "/dir");
	assert_string_equal(r.name, "f.txt");
	assert_int_equal(r.flags, 1);
	assert_int_equal(r.size, 10);
	assert_int_equal(vmb_fcopy_decode(b, 1087, &r), -EBADMSG);
	assert_int_equal(vmb_fcopy_decode(b, 35, &r), -EBADMSG);
	assert_int_equal(vmb_fcopy_build_write(b, sizeof(b), 4096, "abc", 3), 6196);
	assert_int_equal(vmb_fcopy_decode(b, 6196, &r), 0);
	assert_int_equal(r.offset, 4096);
	assert_int_equal(r.size, 3);
	assert_memory_equal(r.data, "abc", 3);
	/* Header + the fragment's bytes is enough; one byte less is truncated. */
	assert_int_equal(vmb_fcopy_decode(b, 55, &r), 0);
	assert_int_equal(vmb_fcopy_decode(b, 54, &r), -EBADMSG);
	w->size = DATA_FRAGMENT + 1;
	assert_int_equal(vmb_fcopy_decode(b, sizeof(b), &r), -EBADMSG);
	w->size = 1;
	w->offset = UINT64_MAX;
	assert_int_equal(vmb_fcopy_decode(b, sizeof(b), &r), -EBADMSG);
	w->hdr.operation = 4;
	assert_int_equal(vmb_fcopy_decode(b, sizeof(b), &r), -EINVAL);
	assert_int_equal(vmb_fcopy_check_path("/a/b", "c"), 0);
	assert_int_equal(vmb_fcopy_check_path("/a/../b", "c"), -EPERM);
	assert_int_equal(vmb_fcopy_check_path("..", "c"), -EPERM);
	assert_int_equal(vmb_fcopy_check_path("/", ".."), -EPERM);
	assert_int_equal(vmb_fcopy_check_path("/", "a/b"), -EPERM);
	assert_int_equal(vmb_fcopy_check_path("/", ""), -EPERM);
	assert_int_equal(vmb_fcopy_check_path("/a..b/", "..c"), 0);
}

static uint32_t sink_op(struct vmb_fcopy_sink *s, uint32_t op, const char *path, const char *name,
			uint32_t flags, uint64_t size)
{
	struct vmb_fcopy_req r = {.op = op, .flags = flags, .size = size};

	snprintf(r.path, sizeof(r.path), "%s", path);
	snprintf(r.name, sizeof(r.name), "%s", name);
	return vmb_fcopy_sink_handle(s, &r);
}

static uint32_t sink_write(struct vmb_fcopy_sink *s, uint64_t off, const char *data)
{
	struct vmb_fcopy_req r = {.op = WRITE_TO_FILE, .offset = off, .size = strlen(data)};

	r.data = (const uint8_t *)data;
	return vmb_fcopy_sink_handle(s, &r);
}

static int entries(const char *dir)
{
	char cmd[256];
	FILE *f;
	int n = -1;

	snprintf(cmd, sizeof(cmd), "ls -A '%s' | wc -l", dir);
	f = popen(cmd, "r");
	if (f && fscanf(f, "%d", &n) != 1)
		n = -1;
	if (f)
		pclose(f);
	return n;
}

static void test_fcopy_sink(void **state)
{
	struct vmb_fcopy_sink *s;
	char root[128], p[192], buf[16] = {0};
	int fd;

	(void)state;
	snprintf(root, sizeof(root), "%s/root", tmpdir);
	assert_int_equal(vmb_fcopy_sink_create(root, &s), 0);
	/* A full copy: nothing under the final name until COMPLETE. */
	assert_int_equal(sink_op(s, START_FILE_COPY, "/d", "f", FCOPY_CREATE_PATH, 5), HV_S_OK);
	assert_true(vmb_fcopy_sink_busy(s));
	assert_int_equal(sink_write(s, 0, "hello"), HV_S_OK);
	snprintf(p, sizeof(p), "%s/d/f", root);
	assert_int_equal(access(p, F_OK), -1);
	assert_int_equal(sink_op(s, COMPLETE_FCOPY, "", "", 0, 0), HV_S_OK);
	fd = open(p, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(read(fd, buf, sizeof(buf)), 5);
	close(fd);
	assert_string_equal(buf, "hello");
	/* Exists without OVER_WRITE; WRITE and COMPLETE without START. */
	assert_int_equal(sink_op(s, START_FILE_COPY, "d", "f", 0, 1), HV_ERROR_ALREADY_EXISTS);
	assert_int_equal(sink_write(s, 0, "x"), HV_E_FAIL);
	assert_int_equal(sink_op(s, COMPLETE_FCOPY, "", "", 0, 0), HV_E_FAIL);
	/* Cancel leaves nothing behind. */
	assert_int_equal(sink_op(s, START_FILE_COPY, "d", "g", 0, 3), HV_S_OK);
	assert_int_equal(sink_write(s, 0, "abc"), HV_S_OK);
	assert_int_equal(sink_op(s, CANCEL_FCOPY, "", "", 0, 0), HV_S_OK);
	snprintf(p, sizeof(p), "%s/d", root);
	assert_int_equal(entries(p), 1);
	/* Escapes: "..", a symlinked directory, a missing path without CREATE_PATH. */
	assert_int_equal(sink_op(s, START_FILE_COPY, "../", "x", FCOPY_CREATE_PATH, 1),
			 HV_INVALIDARG);
	snprintf(p, sizeof(p), "%s/ln", root);
	assert_int_equal(symlink(tmpdir, p), 0);
	assert_int_equal(sink_op(s, START_FILE_COPY, "/ln", "x", 0, 1), HV_INVALIDARG);
	assert_int_equal(sink_op(s, START_FILE_COPY, "/ln/sub", "x", FCOPY_CREATE_PATH, 1),
			 HV_INVALIDARG);
	assert_int_equal(sink_op(s, START_FILE_COPY, "/missing", "x", 0, 1), HV_INVALIDARG);
	/* Impossible size: disk full at START, no temporary left. */
	assert_int_equal(sink_op(s, START_FILE_COPY, "/d", "huge", 0, UINT64_MAX),
			 HV_ERROR_DISK_FULL);
	snprintf(p, sizeof(p), "%s/d", root);
	assert_int_equal(entries(p), 1);
	assert_false(vmb_fcopy_sink_busy(s));
	vmb_fcopy_sink_destroy(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_utf16_round_trip),
	    cmocka_unit_test(test_kvp_decode),
	    cmocka_unit_test(test_kvp_store),
	    cmocka_unit_test(test_kvp_store_full),
	    cmocka_unit_test(test_kvp_guest_answer),
	    cmocka_unit_test(test_vss),
	    cmocka_unit_test(test_fcopy_decode),
	    cmocka_unit_test(test_fcopy_sink),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
