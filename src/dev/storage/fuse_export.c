/*
 * Block devices as files through FUSE (libfuse3 low-level API): one flat
 * directory, one regular file per disk. Files are opened direct_io so every
 * read and write reaches the disk (no page cache in between), which keeps
 * fsync -> flush semantics exact for tools such as e2fsck and fio.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/storvsc.h"

#ifdef VMB_HAVE_FUSE3

#define FUSE_USE_VERSION 35
#include <fuse_lowlevel.h>
#include <linux/falloc.h>
#include <pthread.h>
#include <sys/stat.h>

#include "dev/storage/fuse_export_priv.h"

/* Inode numbers: slot + 2 in the low 16 bits, the slot's generation above. */
#define FX_SLOT_BITS 16

static struct fx_disk *disk_get(struct vmb_fuse_export *fx, fuse_ino_t ino)
{
	struct fx_disk *d = NULL;
	uint64_t slot = (ino & ((1u << FX_SLOT_BITS) - 1)) - 2;

	pthread_mutex_lock(&fx->lock);
	if (ino >= 2 && slot < FX_MAX_DISKS && fx->disks[slot].present &&
	    fx->disks[slot].gen == (ino >> FX_SLOT_BITS)) {
		d = &fx->disks[slot];
		d->refs++;
	}
	pthread_mutex_unlock(&fx->lock);
	return d;
}

static void disk_put(struct vmb_fuse_export *fx, struct fx_disk *d)
{
	pthread_mutex_lock(&fx->lock);
	if (--d->refs == 0)
		pthread_cond_broadcast(&fx->cond);
	pthread_mutex_unlock(&fx->lock);
}

static fuse_ino_t disk_ino(struct vmb_fuse_export *fx, const struct fx_disk *d)
{
	return ((fuse_ino_t)d->gen << FX_SLOT_BITS) | (fuse_ino_t)(d - fx->disks + 2);
}

static void disk_stat(struct vmb_fuse_export *fx, const struct fx_disk *d, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = disk_ino(fx, d);
	st->st_mode = S_IFREG | 0600;
	st->st_nlink = 1;
	st->st_size = (off_t)d->disk.size;
	st->st_blksize = (blksize_t)d->disk.block_size;
	st->st_blocks = (blkcnt_t)(d->disk.size / 512);
}

static void root_stat(struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FUSE_ROOT_ID;
	st->st_mode = S_IFDIR | 0755;
	st->st_nlink = 2;
}

static void fx_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fuse_entry_param e = {0};
	int found = 0;

	pthread_mutex_lock(&fx->lock);
	for (unsigned i = 0; parent == FUSE_ROOT_ID && i < FX_MAX_DISKS && !found; i++) {
		if (fx->disks[i].present && !strcmp(fx->disks[i].name, name)) {
			disk_stat(fx, &fx->disks[i], &e.attr);
			e.ino = e.attr.st_ino;
			found = 1;
		}
	}
	pthread_mutex_unlock(&fx->lock);
	if (!found) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	fuse_reply_entry(req, &e);
}

static void fx_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fx_disk *d;
	struct stat st;

	(void)fi;
	if (ino == FUSE_ROOT_ID) {
		root_stat(&st);
		fuse_reply_attr(req, &st, 0);
		return;
	}
	d = disk_get(fx, ino);
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	disk_stat(fx, d, &st);
	disk_put(fx, d);
	fuse_reply_attr(req, &st, 0);
}

/* Only no-op size changes: a disk cannot grow or shrink through its file. */
static void fx_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
		       struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fx_disk *d = disk_get(fx, ino);
	struct stat st;

	(void)fi;
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	disk_stat(fx, d, &st);
	disk_put(fx, d);
	if ((to_set & FUSE_SET_ATTR_SIZE) && attr->st_size != st.st_size) {
		fuse_reply_err(req, EPERM);
		return;
	}
	fuse_reply_attr(req, &st, 0);
}

static void fx_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	char *buf = calloc(1, size);
	size_t used = 0;
	struct stat st = {0};

	(void)fi;
	if (ino != FUSE_ROOT_ID || !buf) {
		free(buf);
		fuse_reply_err(req, ino != FUSE_ROOT_ID ? ENOTDIR : ENOMEM);
		return;
	}
	/* Offsets: 1 ".", 2 "..", 3 + slot for disks. */
	pthread_mutex_lock(&fx->lock);
	for (off_t i = off; i < 2 + FX_MAX_DISKS; i++) {
		const char *name = i == 0 ? "." : i == 1 ? ".." : NULL;
		size_t n;

		if (!name) {
			struct fx_disk *d = &fx->disks[i - 2];

			if (!d->present)
				continue;
			name = d->name;
			st.st_ino = disk_ino(fx, d);
			st.st_mode = S_IFREG;
		} else {
			st.st_ino = FUSE_ROOT_ID;
			st.st_mode = S_IFDIR;
		}
		n = fuse_add_direntry(req, buf + used, size - used, name, &st, i + 1);
		if (n > size - used)
			break;
		used += n;
	}
	pthread_mutex_unlock(&fx->lock);
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fx_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fx_disk *d = disk_get(fx, ino);

	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	disk_put(fx, d);
	fi->direct_io = 1;
	fi->keep_cache = 0;
	fuse_reply_open(req, fi);
}

static void fx_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fx_disk *d = disk_get(fx, ino);
	char *buf;
	ssize_t rc;

	(void)fi;
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	buf = malloc(size ? size : 1);
	rc = buf ? vmb_fx_read(d, (uint64_t)off, buf, size) : -ENOMEM;
	disk_put(fx, d);
	if (rc < 0)
		fuse_reply_err(req, (int)-rc);
	else
		fuse_reply_buf(req, buf, (size_t)rc);
	free(buf);
}

static void fx_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fx_disk *d = disk_get(fx, ino);
	ssize_t rc;

	(void)fi;
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = vmb_fx_write(d, (uint64_t)off, buf, size);
	disk_put(fx, d);
	if (rc < 0)
		fuse_reply_err(req, (int)-rc);
	else
		fuse_reply_write(req, (size_t)rc);
}

static void fx_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fx_disk *d = disk_get(fx, ino);
	int rc;

	(void)datasync;
	(void)fi;
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	rc = d->disk.flush(d->disk.ctx);
	disk_put(fx, d);
	fuse_reply_err(req, -rc);
}

static void fx_fallocate(fuse_req_t req, fuse_ino_t ino, int mode, off_t off, off_t len,
			 struct fuse_file_info *fi)
{
	struct vmb_fuse_export *fx = fuse_req_userdata(req);
	struct fx_disk *d;
	int rc;

	(void)fi;
	if (off < 0 || len <= 0) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	d = disk_get(fx, ino);
	if (!d) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (mode == 0)
		/* Every block of a disk is allocated: nothing to do inside it. */
		rc = (uint64_t)off + (uint64_t)len <= d->disk.size ? 0 : -EFBIG;
	else if (mode == (FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE))
		rc = vmb_fx_punch(d, (uint64_t)off, (uint64_t)len);
	else
		rc = -EOPNOTSUPP;
	disk_put(fx, d);
	fuse_reply_err(req, -rc);
}

static void fx_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv = {.f_bsize = 4096, .f_frsize = 4096, .f_namemax = FX_NAME_MAX};

	(void)ino;
	fuse_reply_statfs(req, &sv);
}

static const struct fuse_lowlevel_ops fx_ops = {
    .lookup = fx_lookup,
    .getattr = fx_getattr,
    .setattr = fx_setattr,
    .readdir = fx_readdir,
    .open = fx_open,
    .read = fx_read,
    .write = fx_write,
    .fsync = fx_fsync,
    .fallocate = fx_fallocate,
    .statfs = fx_statfs,
};

static void *fx_loop(void *arg)
{
	struct vmb_fuse_export *fx = arg;
	struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = 16};

	fuse_session_loop_mt(fx->se, &cfg);
	return NULL;
}

static void fx_free(struct vmb_fuse_export *fx)
{
	pthread_mutex_destroy(&fx->lock);
	pthread_cond_destroy(&fx->cond);
	free(fx);
}

int vmb_fuse_export_start(const char *dir, struct vmb_fuse_export **out)
{
	char *argv[] = {"vmbus-storvsc", "-o", "default_permissions", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(3, argv);
	struct vmb_fuse_export *fx = calloc(1, sizeof(*fx));

	if (!fx)
		return -ENOMEM;
	pthread_mutex_init(&fx->lock, NULL);
	pthread_cond_init(&fx->cond, NULL);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;

		fx_free(fx);
		return rc;
	}
	fx->se = fuse_session_new(&args, &fx_ops, sizeof(fx_ops), fx);
	fuse_opt_free_args(&args);
	if (!fx->se) {
		fx_free(fx);
		return -ENOTSUP;
	}
	if (fuse_session_mount(fx->se, dir) != 0) {
		fuse_session_destroy(fx->se);
		fx_free(fx);
		return -ENOTSUP;
	}
	if (pthread_create(&fx->thread, NULL, fx_loop, fx) != 0) {
		fuse_session_unmount(fx->se);
		fuse_session_destroy(fx->se);
		fx_free(fx);
		return -ENOMEM;
	}
	*out = fx;
	return 0;
}

int vmb_fuse_export_add(struct vmb_fuse_export *fx, const char *name,
			const struct vmb_fuse_disk *disk)
{
	int rc = -ENOSPC;

	if (!name[0] || strlen(name) > FX_NAME_MAX || strchr(name, '/') || !disk->block_size ||
	    (disk->block_size & (disk->block_size - 1)) || !disk->read || !disk->write ||
	    !disk->flush)
		return -EINVAL;
	pthread_mutex_lock(&fx->lock);
	for (unsigned i = 0; i < FX_MAX_DISKS; i++)
		if (fx->disks[i].present && !strcmp(fx->disks[i].name, name))
			rc = -EEXIST;
	for (unsigned i = 0; i < FX_MAX_DISKS && rc == -ENOSPC; i++) {
		struct fx_disk *d = &fx->disks[i];

		if (d->present || d->refs)
			continue;
		strcpy(d->name, name);
		d->disk = *disk;
		d->gen++;
		d->present = true;
		if (!d->rmw_init)
			pthread_rwlock_init(&d->rmw, NULL);
		d->rmw_init = true;
		rc = 0;
	}
	pthread_mutex_unlock(&fx->lock);
	return rc;
}

int vmb_fuse_export_remove(struct vmb_fuse_export *fx, const char *name)
{
	struct fx_disk *d = NULL;

	pthread_mutex_lock(&fx->lock);
	for (unsigned i = 0; i < FX_MAX_DISKS && !d; i++)
		if (fx->disks[i].present && !strcmp(fx->disks[i].name, name))
			d = &fx->disks[i];
	if (d) {
		d->present = false;
		while (d->refs)
			pthread_cond_wait(&fx->cond, &fx->lock);
	}
	pthread_mutex_unlock(&fx->lock);
	if (!d)
		return -ENOENT;
	/* Entry and attributes are never cached (timeouts 0): nothing to invalidate. */
	return 0;
}

void vmb_fuse_export_stop(struct vmb_fuse_export *fx)
{
	if (!fx)
		return;
	fuse_session_exit(fx->se);
	/* Unmounting ends the loop's blocking read of /dev/fuse. */
	fuse_session_unmount(fx->se);
	pthread_join(fx->thread, NULL);
	fuse_session_destroy(fx->se);
	for (unsigned i = 0; i < FX_MAX_DISKS; i++)
		if (fx->disks[i].rmw_init)
			pthread_rwlock_destroy(&fx->disks[i].rmw);
	fx_free(fx);
}

#else /* !VMB_HAVE_FUSE3 */

int vmb_fuse_export_start(const char *dir, struct vmb_fuse_export **out)
{
	(void)dir;
	(void)out;
	return -ENOTSUP;
}

int vmb_fuse_export_add(struct vmb_fuse_export *fx, const char *name,
			const struct vmb_fuse_disk *disk)
{
	(void)fx;
	(void)name;
	(void)disk;
	return -ENOTSUP;
}

int vmb_fuse_export_remove(struct vmb_fuse_export *fx, const char *name)
{
	(void)fx;
	(void)name;
	return -ENOTSUP;
}

void vmb_fuse_export_stop(struct vmb_fuse_export *fx)
{
	(void)fx;
}

#endif
