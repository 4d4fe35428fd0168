/*
 * storvsc + block API against the real storvsp, host and guest in one
 * process over the real transport; and the FUSE export over a RAM disk.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>
#include <linux/falloc.h>

#include "dev/storage/fuse_export_priv.h"
#include "vmbus/dev/storage.h"
#include "vmbus/dev/storvsc.h"

#define DISK_BYTES (64ull << 20)

struct vm {
	char dir[64], sock[96], img[96], img2[96];
	struct vmb_host *h;
	struct vmb_stor_ctrl *ctrl;
	pthread_t loop;
	volatile sig_atomic_t stop;
	struct vmb_guest *g;
	struct vmb_stor_guest *sg;
	struct vmb_blk *b;
};

static void *host_loop(void *arg)
{
	struct vm *vm = arg;

	vmb_host_run(vm->h, &vm->stop);
	return NULL;
}

static int vm_setup(void **state)
{
	struct vm *vm = calloc(1, sizeof(*vm));
	struct vmb_host_config hc = {0};
	struct vmb_stor_config sc = {.instance =
					 VMB_GUID_INIT(0x5c510000, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10)};
	struct vmb_stor_disk_config dc = {.size = DISK_BYTES, .unmap = true};
	struct vmb_guest_config gc = {0};

	strcpy(vm->dir, "/tmp/storvsc-test-XXXXXX");
	assert_non_null(mkdtemp(vm->dir));
	snprintf(vm->sock, sizeof(vm->sock), "%s/sock", vm->dir);
	snprintf(vm->img, sizeof(vm->img), "%s/disk0.img", vm->dir);
	snprintf(vm->img2, sizeof(vm->img2), "%s/disk1.img", vm->dir);
	hc.socket_path = vm->sock;
	assert_int_equal(vmb_host_create(&hc, &vm->h), 0);
	assert_int_equal(vmb_stor_add(vm->h, &sc, &vm->ctrl), 0);
	dc.path = vm->img;
	assert_int_equal(vmb_stor_lun_add(vm->ctrl, 0, &dc), 0);
	assert_int_equal(pthread_create(&vm->loop, NULL, host_loop, vm), 0);
	gc.socket_path = vm->sock;
	assert_int_equal(vmb_guest_create(&gc, &vm->g), 0);
	assert_int_equal(vmb_stor_guest_register(vm->g, NULL, &vm->sg), 0);
	assert_int_equal(vmb_stor_guest_wait(vm->sg, 1, 10000), 0);
	assert_int_equal(vmb_blk_open(vm->sg, 0, 0, 0, &vm->b), 0);
	*state = vm;
	return 0;
}

static int vm_teardown(void **state)
{
	struct vm *vm = *state;
	char cmd[128];

	vmb_blk_close(vm->b);
	vmb_guest_destroy(vm->g);
	vmb_stor_guest_free(vm->sg);
	vm->stop = 1;
	pthread_join(vm->loop, NULL);
	vmb_host_destroy(vm->h);
	snprintf(cmd, sizeof(cmd), "rm -rf %s", vm->dir);
	assert_int_equal(system(cmd), 0);
	free(vm);
	return 0;
}

static void fill(uint8_t *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)((i * 131 + seed * 7 + (i >> 9)) & 0xff);
}

static void test_info_and_channels(void **state)
{
	struct vm *vm = *state;
	struct vmb_blk_info info;

	vmb_blk_get_info(vm->b, &info);
	assert_int_equal(info.size, DISK_BYTES);
	assert_int_equal(info.block_size, 512);
	/* Two VPs: the primary plus one sub-channel, opened asynchronously. */
	for (int i = 0; i < 200 && vmb_stor_guest_channels(vm->sg, 0) < 2; i++)
		usleep(10000);
	assert_int_equal(vmb_stor_guest_channels(vm->sg, 0), 2);
}

/* Lengths across the 256 KiB SRB limit (split) and odd block counts. */
static void test_write_read_back(void **state)
{
	struct vm *vm = *state;
	static const size_t lens[] = {
	    512, 4096, 7 * 512, 256 * 1024, 256 * 1024 + 512, 1024 * 1024 + 3 * 512};
	uint8_t *w = malloc(2 << 20), *r = malloc(2 << 20);
	uint64_t off = 512 * 3;

	for (unsigned i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		fill(w, lens[i], i);
		memset(r, 0xEE, lens[i]);
		assert_int_equal(vmb_blk_write(vm->b, off, w, lens[i]), 0);
		assert_int_equal(vmb_blk_read(vm->b, off, r, lens[i]), 0);
		assert_memory_equal(w, r, lens[i]);
		off += lens[i] + 4096;
	}
	free(w);
	free(r);
}

/* After a flush the image file itself holds the data. */
static void test_flush_reaches_image(void **state)
{
	struct vm *vm = *state;
	uint8_t w[8192], r[8192];
	int fd;

	fill(w, sizeof(w), 99);
	assert_int_equal(vmb_blk_write(vm->b, 1 << 20, w, sizeof(w)), 0);
	assert_int_equal(vmb_blk_flush(vm->b), 0);
	fd = open(vm->img, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(pread(fd, r, sizeof(r), 1 << 20), (ssize_t)sizeof(r));
	close(fd);
	assert_memory_equal(w, r, sizeof(r));
}

struct qd_state {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned done, errors;
};

static void qd_done(struct vmb_blk_io *io, int status)
{
	struct qd_state *s = io->arg;

	pthread_mutex_lock(&s->lock);
	s->done++;
	s->errors += status != 0;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

/* 64 writes in flight at once from DMA buffers, then verified. */
static void test_async_queue(void **state)
{
	struct vm *vm = *state;
	enum { N = 64, SZ = 16384 };
	struct qd_state s = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, 0};
	struct vmb_blk_io io[N];
	uint8_t *buf = vmb_blk_alloc_buf(vm->b, (size_t)N * SZ), *r = malloc(SZ);

	assert_non_null(buf);
	vmb_blk_set_queue_depth(vm->b, 32);
	for (unsigned i = 0; i < N; i++) {
		fill(buf + (size_t)i * SZ, SZ, 1000 + i);
		io[i] = (struct vmb_blk_io){.op = VMB_BLK_WRITE,
					    .offset = (8ull << 20) + i * SZ,
					    .len = SZ,
					    .buf = buf + (size_t)i * SZ,
					    .done = qd_done,
					    .arg = &s};
		assert_int_equal(vmb_blk_submit(vm->b, &io[i]), 0);
	}
	pthread_mutex_lock(&s.lock);
	while (s.done < N)
		pthread_cond_wait(&s.cond, &s.lock);
	pthread_mutex_unlock(&s.lock);
	assert_int_equal(s.errors, 0);
	for (unsigned i = 0; i < N; i++) {
		assert_int_equal(vmb_blk_read(vm->b, (8ull << 20) + i * SZ, r, SZ), 0);
		assert_memory_equal(r, buf + (size_t)i * SZ, SZ);
	}
	vmb_blk_free_buf(vm->b, buf, (size_t)N * SZ);
	free(r);
}

static void test_discard_zeroes(void **state)
{
	struct vm *vm = *state;
	uint8_t w[65536], r[65536], z[65536] = {0};

	fill(w, sizeof(w), 5);
	assert_int_equal(vmb_blk_write(vm->b, 16 << 20, w, sizeof(w)), 0);
	assert_int_equal(vmb_blk_discard(vm->b, 16 << 20, sizeof(w)), 0);
	assert_int_equal(vmb_blk_read(vm->b, 16 << 20, r, sizeof(r)), 0);
	assert_memory_equal(r, z, sizeof(r));
}

static void test_misuse(void **state)
{
	struct vm *vm = *state;
	uint8_t buf[1024];
	struct vmb_blk *b;

	assert_int_equal(vmb_blk_read(vm->b, 100, buf, 512), -EINVAL);
	assert_int_equal(vmb_blk_read(vm->b, 0, buf, 100), -EINVAL);
	assert_int_equal(vmb_blk_read(vm->b, DISK_BYTES - 512, buf, 1024), -EINVAL);
	assert_int_equal(vmb_blk_open(vm->sg, 0, 0, 9, &b), -ENODEV);
	assert_int_equal(vmb_blk_open(vm->sg, 3, 0, 0, &b), -ENODEV);
}

static void test_hot_add_remove(void **state)
{
	struct vm *vm = *state;
	struct vmb_stor_disk_config dc = {.path = vm->img2, .size = 1 << 20};
	struct vmb_blk_info luns[4];
	uint8_t buf[512] = {1};
	struct vmb_blk *b;

	assert_int_equal(vmb_stor_lun_add(vm->ctrl, 5, &dc), 5);
	assert_int_equal(vmb_stor_guest_wait(vm->sg, 2, 10000), 0);
	assert_int_equal(vmb_stor_guest_luns(vm->sg, luns, 4), 2);
	assert_int_equal(vmb_blk_open(vm->sg, 0, 0, 5, &b), 0);
	assert_int_equal(vmb_blk_write(b, 0, buf, sizeof(buf)), 0);
	assert_int_equal(vmb_stor_lun_remove(vm->ctrl, 5), 0);
	for (int i = 0; i < 500 && vmb_stor_guest_luns(vm->sg, NULL, 0) != 1; i++)
		usleep(10000);
	assert_int_equal(vmb_stor_guest_luns(vm->sg, luns, 4), 1);
	assert_int_equal(luns[0].lun, 0);
	/* The open handle now fails cleanly; LUN 0 keeps working. */
	assert_int_equal(vmb_blk_read(b, 0, buf, sizeof(buf)), -ENODEV);
	vmb_blk_close(b);
	assert_int_equal(vmb_blk_read(vm->b, 0, buf, sizeof(buf)), 0);
}

/* ---- FUSE export over a RAM disk ---- */

struct ramdisk {
	uint8_t *mem;
	unsigned writes, flushes, discards;
};

static int ram_read(void *ctx, uint64_t off, void *buf, size_t len)
{
	struct ramdisk *d = ctx;

	assert_int_equal(off % 512, 0);
	assert_int_equal(len % 512, 0);
	memcpy(buf, d->mem + off, len);
	return 0;
}

static int ram_write(void *ctx, uint64_t off, const void *buf, size_t len)
{
	struct ramdisk *d = ctx;

	assert_int_equal(off % 512, 0);
	assert_int_equal(len % 512, 0);
	memcpy(d->mem + off, buf, len);
	__atomic_add_fetch(&d->writes, 1, __ATOMIC_RELAXED);
	return 0;
}

static int ram_flush(void *ctx)
{
	struct ramdisk *d = ctx;

	__atomic_add_fetch(&d->flushes, 1, __ATOMIC_RELAXED);
	return 0;
}

static int ram_discard(void *ctx, uint64_t off, size_t len)
{
	struct ramdisk *d = ctx;

	memset(d->mem + off, 0, len);
	__atomic_add_fetch(&d->discards, 1, __ATOMIC_RELAXED);
	return 0;
}

/* Byte-granular edges without FUSE: RMW keeps the neighbours intact. */
static void test_fx_edges(void **state)
{
	struct ramdisk rd = {.mem = calloc(1, 8192)};
	struct fx_disk d = {.disk = {.size = 8192,
				     .block_size = 512,
				     .read = ram_read,
				     .write = ram_write,
				     .flush = ram_flush,
				     .ctx = &rd}};
	uint8_t w[1500], r[8192];

	(void)state;
	pthread_rwlock_init(&d.rmw, NULL);
	memset(rd.mem, 0x11, 8192);
	memset(w, 0x22, sizeof(w));
	assert_int_equal(vmb_fx_write(&d, 300, w, sizeof(w)), (ssize_t)sizeof(w));
	assert_int_equal(vmb_fx_read(&d, 0, r, sizeof(r)), 8192);
	for (unsigned i = 0; i < 8192; i++)
		assert_int_equal(r[i], i >= 300 && i < 1800 ? 0x22 : 0x11);
	/* Inside one block, and past the end (short, then ENOSPC). */
	assert_int_equal(vmb_fx_write(&d, 10, w, 5), 5);
	assert_int_equal(vmb_fx_read(&d, 8, r, 9), 9);
	assert_memory_equal(r, "\x11\x11\x22\x22\x22\x22\x22\x11\x11", 9);
	assert_int_equal(vmb_fx_write(&d, 8000, w, 500), 192);
	assert_int_equal(vmb_fx_write(&d, 8192, w, 1), -ENOSPC);
	assert_int_equal(vmb_fx_read(&d, 9000, r, 10), 0);
	/* Punch without discard writes zeros. */
	assert_int_equal(vmb_fx_punch(&d, 100, 2000), 0);
	assert_int_equal(vmb_fx_read(&d, 0, r, 4096), 4096);
	for (unsigned i = 0; i < 4096; i++) {
		unsigned want = i >= 10 && i < 15 ? 0x22 : 0x11;

		assert_int_equal(r[i], i >= 100 && i < 2100 ? 0 : want);
	}
	pthread_rwlock_destroy(&d.rmw);
	free(rd.mem);
}

static void test_fuse_export(void **state)
{
	char dir[] = "/tmp/storvsc-fuse-XXXXXX", path[64];
	struct ramdisk rd = {.mem = calloc(1, 1 << 20)};
	struct vmb_fuse_disk disk = {.size = 1 << 20,
				     .block_size = 512,
				     .read = ram_read,
				     .write = ram_write,
				     .flush = ram_flush,
				     .discard = ram_discard,
				     .ctx = &rd};
	struct vmb_fuse_export *fx;
	uint8_t w[3000], r[3000];
	struct stat st;
	int fd, rc;

	(void)state;
	assert_non_null(mkdtemp(dir));
	rc = vmb_fuse_export_start(dir, &fx);
	if (rc == -ENOTSUP) {
		rmdir(dir);
		free(rd.mem);
		skip();
	}
	assert_int_equal(rc, 0);
	assert_int_equal(vmb_fuse_export_add(fx, "lun0", &disk), 0);
	assert_int_equal(vmb_fuse_export_add(fx, "lun0", &disk), -EEXIST);
	assert_int_equal(vmb_fuse_export_add(fx, "a/b", &disk), -EINVAL);
	snprintf(path, sizeof(path), "%s/lun0", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_size, 1 << 20);
	fd = open(path, O_RDWR);
	assert_true(fd >= 0);
	fill(w, sizeof(w), 3);
	assert_int_equal(pwrite(fd, w, sizeof(w), 777), (ssize_t)sizeof(w));
	assert_memory_equal(rd.mem + 777, w, sizeof(w));
	assert_int_equal(pread(fd, r, sizeof(r), 777), (ssize_t)sizeof(r));
	assert_memory_equal(r, w, sizeof(r));
	assert_int_equal(fsync(fd), 0);
	assert_true(rd.flushes >= 1);
	assert_int_equal(fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 8192), 0);
	assert_int_equal(rd.discards, 1);
	assert_int_equal(pread(fd, r, 100, 1000), 100);
	for (unsigned i = 0; i < 100; i++)
		assert_int_equal(r[i], 0);
	assert_int_equal(ftruncate(fd, 12345), -1);
	close(fd);
	assert_int_equal(vmb_fuse_export_remove(fx, "lun0"), 0);
	assert_int_equal(stat(path, &st), -1);
	assert_int_equal(errno, ENOENT);
	vmb_fuse_export_stop(fx);
	rmdir(dir);
	free(rd.mem);
}

int main(void)
{
	const struct CMUnitTest vm_tests[] = {
	    cmocka_unit_test(test_info_and_channels),	cmocka_unit_test(test_write_read_back),
	    cmocka_unit_test(test_flush_reaches_image), cmocka_unit_test(test_async_queue),
	    cmocka_unit_test(test_discard_zeroes),	cmocka_unit_test(test_misuse),
	    cmocka_unit_test(test_hot_add_remove),
	};
	const struct CMUnitTest fx_tests[] = {
	    cmocka_unit_test(test_fx_edges),
	    cmocka_unit_test(test_fuse_export),
	};
	int rc = cmocka_run_group_tests(fx_tests, NULL, NULL);

	return rc | cmocka_run_group_tests(vm_tests, vm_setup, vm_teardown);
}
