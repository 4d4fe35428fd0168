/*
 * KVP pools in files, in the Linux daemon's format: one file per pool
 * (.kvp_pool_N), an array of fixed records {char key[512]; char
 * value[2048];} in UTF-8, guarded by a whole-file fcntl write lock (the
 * daemon takes the same lock, so both may share a directory).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmbus/dev/ic_services.h"

/* The daemon keeps at most this many records per pool in practice; we cap to bound memory. */
#define KVP_MAX_RECORDS 4096

struct vmb_kvp_store {
	int fd[HV_KVP_POOL_COUNT];
};

struct pool_buf {
	struct vmb_kvp_record *rec;
	size_t n;
};

static int lock(int fd, short type)
{
	struct flock fl = {.l_type = type, .l_whence = SEEK_SET};

	while (fcntl(fd, F_SETLKW, &fl) < 0)
		if (errno != EINTR)
			return -errno;
	return 0;
}

static int load(int fd, struct pool_buf *pb)
{
	struct stat st;
	ssize_t got;

	if (fstat(fd, &st) < 0)
		return -errno;
	pb->n = (size_t)st.st_size / sizeof(struct vmb_kvp_record);
	if (pb->n > KVP_MAX_RECORDS)
		pb->n = KVP_MAX_RECORDS;
	/* One spare slot for an append. */
	pb->rec = calloc(pb->n + 1, sizeof(*pb->rec));
	if (!pb->rec)
		return -ENOMEM;
	got = pread(fd, pb->rec, pb->n * sizeof(*pb->rec), 0);
	if (got < 0) {
		free(pb->rec);
		return -errno;
	}
	pb->n = (size_t)got / sizeof(*pb->rec);
	/* Records written by someone else may lack terminators. */
	for (size_t i = 0; i < pb->n; i++) {
		pb->rec[i].key[sizeof(pb->rec[i].key) - 1] = '\0';
		pb->rec[i].value[sizeof(pb->rec[i].value) - 1] = '\0';
	}
	return 0;
}

static int save(int fd, const struct pool_buf *pb)
{
	size_t bytes = pb->n * sizeof(*pb->rec);

	if (pwrite(fd, pb->rec, bytes, 0) != (ssize_t)bytes)
		return errno ? -errno : -EIO;
	return ftruncate(fd, (off_t)bytes) < 0 ? -errno : 0;
}

static long find(const struct pool_buf *pb, const char *key)
{
	for (size_t i = 0; i < pb->n; i++)
		if (!strcmp(pb->rec[i].key, key))
			return (long)i;
	return -1;
}

static int check(struct vmb_kvp_store *s, unsigned pool, const char *key, const char *value)
{
	if (pool >= HV_KVP_POOL_COUNT || s->fd[pool] < 0)
		return -EINVAL;
	if (key && (!key[0] || strlen(key) >= VMB_KVP_KEY_MAX))
		return -EINVAL;
	if (value && strlen(value) >= VMB_KVP_VALUE_MAX)
		return -EINVAL;
	return 0;
}

int vmb_kvp_store_open(const char *dir, struct vmb_kvp_store **out)
{
	struct vmb_kvp_store *s = malloc(sizeof(*s));
	char path[4096];
	int rc = 0;

	if (!s)
		return -ENOMEM;
	for (unsigned i = 0; i < HV_KVP_POOL_COUNT; i++)
		s->fd[i] = -1;
	if (mkdir(dir, 0755) < 0 && errno != EEXIST)
		rc = -errno;
	for (unsigned i = 0; i < HV_KVP_POOL_COUNT && rc == 0; i++) {
		snprintf(path, sizeof(path), "%s/.kvp_pool_%u", dir, i);
		s->fd[i] = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
		if (s->fd[i] < 0)
			rc = -errno;
	}
	if (rc < 0) {
		vmb_kvp_store_close(s);
		return rc;
	}
	*out = s;
	return 0;
}

void vmb_kvp_store_close(struct vmb_kvp_store *s)
{
	if (!s)
		return;
	for (unsigned i = 0; i < HV_KVP_POOL_COUNT; i++)
		if (s->fd[i] >= 0)
			close(s->fd[i]);
	free(s);
}

/* Lock, load, run fn, save if it changed something, unlock. */
static int with_pool(struct vmb_kvp_store *s, unsigned pool, bool write,
		     int (*fn)(struct pool_buf *pb, void *arg), void *arg)
{
	struct pool_buf pb = {0};
	int fd = s->fd[pool];
	int rc = lock(fd, write ? F_WRLCK : F_RDLCK);

	if (rc < 0)
		return rc;
	rc = load(fd, &pb);
	if (rc == 0) {
		rc = fn(&pb, arg);
		if (rc == 1)
			rc = save(fd, &pb);
		free(pb.rec);
	}
	lock(fd, F_UNLCK);
	return rc;
}

struct kv {
	const char *key;
	const char *in_value;
	char *out_key;
	char *value;
	uint32_t index;
};

static int do_get(struct pool_buf *pb, void *arg)
{
	struct kv *kv = arg;
	long i = find(pb, kv->key);

	if (i < 0)
		return -ENOENT;
	memcpy(kv->value, pb->rec[i].value, VMB_KVP_VALUE_MAX);
	return 0;
}

static int do_set(struct pool_buf *pb, void *arg)
{
	struct kv *kv = arg;
	long i = find(pb, kv->key);

	if (i < 0) {
		if (pb->n == KVP_MAX_RECORDS)
			return -ENOSPC;
		i = (long)pb->n++;
		memset(&pb->rec[i], 0, sizeof(pb->rec[i]));
		strcpy(pb->rec[i].key, kv->key);
	}
	memset(pb->rec[i].value, 0, sizeof(pb->rec[i].value));
	strcpy(pb->rec[i].value, kv->in_value);
	return 1;
}

static int do_delete(struct pool_buf *pb, void *arg)
{
	struct kv *kv = arg;
	long i = find(pb, kv->key);

	if (i < 0)
		return -ENOENT;
	memmove(&pb->rec[i], &pb->rec[i + 1], (pb->n - (size_t)i - 1) * sizeof(pb->rec[0]));
	pb->n--;
	return 1;
}

static int do_enum(struct pool_buf *pb, void *arg)
{
	struct kv *kv = arg;

	if (kv->index >= pb->n)
		return -ENOENT;
	memcpy(kv->out_key, pb->rec[kv->index].key, VMB_KVP_KEY_MAX);
	memcpy(kv->value, pb->rec[kv->index].value, VMB_KVP_VALUE_MAX);
	return 0;
}

int vmb_kvp_store_get(struct vmb_kvp_store *s, unsigned pool, const char *key, char *value)
{
	struct kv kv = {.key = key, .value = value};
	int rc = check(s, pool, key, NULL);

	return rc < 0 ? rc : with_pool(s, pool, false, do_get, &kv);
}

int vmb_kvp_store_set(struct vmb_kvp_store *s, unsigned pool, const char *key, const char *value)
{
	struct kv kv = {.key = key, .in_value = value};
	int rc = check(s, pool, key, value);

	return rc < 0 ? rc : with_pool(s, pool, true, do_set, &kv);
}

int vmb_kvp_store_delete(struct vmb_kvp_store *s, unsigned pool, const char *key)
{
	struct kv kv = {.key = key};
	int rc = check(s, pool, key, NULL);

	return rc < 0 ? rc : with_pool(s, pool, true, do_delete, &kv);
}

int vmb_kvp_store_enum(struct vmb_kvp_store *s, unsigned pool, uint32_t index, char *key,
		       char *value)
{
	struct kv kv = {.out_key = key, .value = value, .index = index};
	int rc = check(s, pool, NULL, NULL);

	return rc < 0 ? rc : with_pool(s, pool, false, do_enum, &kv);
}
