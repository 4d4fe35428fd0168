/*
 * The daemon device files as FUSE files: regular files opened direct_io so
 * every read() and write() of a daemon reaches us whole; a read with no
 * message waiting is parked and answered when one comes.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ic/daemon_fuse.h"

#ifdef VMB_HAVE_FUSE3

#define FUSE_USE_VERSION 35
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define DF_MAX_FILES 4

struct dfuse_mount;

struct dfuse_file {
	struct dfuse_mount *m;
	struct dfuse_file_desc d;
	fuse_ino_t ino;
	unsigned users;	   /* FUSE handlers inside d.ops (m->lock) */
	fuse_req_t parked; /* a blocking read waiting for a message */
	struct fuse_pollhandle *ph;
};

struct dfuse_mount {
	struct dfuse_mount *next;
	char *dir;
	struct vmb_guest *g; /* for its log */
	struct fuse_session *se;
	pthread_t thread;
	dev_t dev;	      /* of the mount: its fusectl connection */
	pthread_mutex_t lock; /* files and their parked/ph/users */
	pthread_cond_t idle;  /* some file's users dropped */
	struct dfuse_file *files[DF_MAX_FILES];
};

static pthread_mutex_t mounts_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dfuse_mount *mounts;

/* m->lock held. */
static struct dfuse_file *file_by_ino(struct dfuse_mount *m, fuse_ino_t ino)
{
	for (unsigned i = 0; i < DF_MAX_FILES; i++)
		if (m->files[i] && m->files[i]->ino == ino)
			return m->files[i];
	return NULL;
}

/* The file of ino, pinned against dfuse_remove() until put(); NULL if none. */
static struct dfuse_file *get(fuse_req_t req, fuse_ino_t ino)
{
	struct dfuse_mount *m = fuse_req_userdata(req);
	struct dfuse_file *f;

	pthread_mutex_lock(&m->lock);
	f = file_by_ino(m, ino);
	if (f)
		f->users++;
	pthread_mutex_unlock(&m->lock);
	return f;
}

static void put_locked(struct dfuse_file *f)
{
	if (--f->users == 0)
		pthread_cond_broadcast(&f->m->idle);
}

static void put(struct dfuse_file *f)
{
	pthread_mutex_lock(&f->m->lock);
	put_locked(f);
	pthread_mutex_unlock(&f->m->lock);
}

static void file_stat(struct stat *st, fuse_ino_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0600;
	st->st_nlink = ino == FUSE_ROOT_ID ? 2 : 1;
}

static void df_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct dfuse_mount *m = fuse_req_userdata(req);
	struct fuse_entry_param e = {0};

	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; parent == FUSE_ROOT_ID && i < DF_MAX_FILES; i++)
		if (m->files[i] && !strcmp(m->files[i]->d.name, name))
			e.ino = m->files[i]->ino;
	pthread_mutex_unlock(&m->lock);
	if (!e.ino) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_stat(&e.attr, e.ino);
	fuse_reply_entry(req, &e);
}

static void df_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dfuse_mount *m = fuse_req_userdata(req);
	struct stat st;
	bool ok;

	(void)fi;
	pthread_mutex_lock(&m->lock);
	ok = ino == FUSE_ROOT_ID || file_by_ino(m, ino);
	pthread_mutex_unlock(&m->lock);
	if (!ok) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_stat(&st, ino);
	fuse_reply_attr(req, &st, 0);
}

static void df_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct dfuse_mount *m = fuse_req_userdata(req);
	char buf[512];
	size_t n = 0, cap = size < sizeof(buf) ? size : sizeof(buf);
	struct stat st;
	off_t k = 0;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	pthread_mutex_lock(&m->lock);
	for (unsigned i = 0; i < DF_MAX_FILES; i++) {
		struct dfuse_file *f = m->files[i];
		size_t len;

		if (!f || ++k <= off)
			continue;
		file_stat(&st, f->ino);
		len = fuse_add_direntry(req, buf + n, cap - n, f->d.name, &st, k);
		if (len > cap - n)
			break;
		n += len;
	}
	pthread_mutex_unlock(&m->lock);
	fuse_reply_buf(req, buf, n);
}

static void df_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dfuse_file *f = ino == FUSE_ROOT_ID ? NULL : get(req, ino);
	int rc = f ? f->d.ops->open(f->d.ctx) : ino == FUSE_ROOT_ID ? -EISDIR : -ENOENT;

	if (f)
		put(f);
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->direct_io = 1;
	fi->nonseekable = !f->d.positional;
	fuse_reply_open(req, fi);
}

static void df_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct dfuse_file *f = get(req, ino);
	int rc = f ? f->d.ops->write(f->d.ctx, buf, size) : -ENOENT;

	(void)off, (void)fi;
	if (rc == 1)
		vmb_guest_log(f->m->g, "%s: daemon registered", f->d.name);
	if (f)
		put(f);
	if (rc < 0)
		fuse_reply_err(req, -rc);
	else
		fuse_reply_write(req, size);
}

/* m->lock held: hand a waiting message to req; false if none waits. */
static bool deliver(struct dfuse_file *f, fuse_req_t req)
{
	char *buf = malloc(f->d.msg_max);
	long n = buf ? f->d.ops->take(f->d.ctx, buf, f->d.msg_max) : -ENOMEM;

	if (n >= 0)
		fuse_reply_buf(req, buf, (size_t)n);
	else if (n != -EAGAIN)
		fuse_reply_err(req, (int)-n);
	free(buf);
	return n != -EAGAIN;
}

/*
 * A daemon killed in a parked read stays in D state until that read is
 * answered: the kernel tells us through FUSE_INTERRUPT.
 */
static void df_interrupt(fuse_req_t req, void *arg)
{
	struct dfuse_file *f = arg;

	pthread_mutex_lock(&f->m->lock);
	if (f->parked == req) {
		f->parked = NULL;
		fuse_reply_err(req, EINTR);
	}
	pthread_mutex_unlock(&f->m->lock);
}

static void df_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct dfuse_file *f = get(req, ino);

	(void)off;
	if (!f) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	/* As the kernel's transport: a buffer too small for a message is refused. */
	if (size < f->d.msg_max) {
		put(f);
		fuse_reply_err(req, EINVAL);
		return;
	}
	/* Before parking: an interrupt that comes first shows in fuse_req_interrupted(). */
	fuse_req_interrupt_func(req, df_interrupt, f);
	pthread_mutex_lock(&f->m->lock);
	if (!deliver(f, req)) {
		if ((fi->flags & O_NONBLOCK) || f->parked)
			fuse_reply_err(req, EAGAIN);
		else if (fuse_req_interrupted(req))
			fuse_reply_err(req, EINTR);
		else
			f->parked = req;
	}
	put_locked(f);
	pthread_mutex_unlock(&f->m->lock);
}

static void df_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct dfuse_file *f = get(req, ino);
	unsigned revents = POLLOUT | POLLWRNORM;

	(void)fi;
	if (!f) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_err(req, ENOENT);
		return;
	}
	pthread_mutex_lock(&f->m->lock);
	if (ph) {
		if (f->ph)
			fuse_pollhandle_destroy(f->ph);
		f->ph = ph;
	}
	if (f->d.ops->readable(f->d.ctx))
		revents |= POLLIN | POLLRDNORM;
	fuse_reply_poll(req, revents);
	put_locked(f);
	pthread_mutex_unlock(&f->m->lock);
}

static void df_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct dfuse_file *f = ino == FUSE_ROOT_ID ? NULL : get(req, ino);

	(void)fi;
	if (f) {
		pthread_mutex_lock(&f->m->lock);
		if (f->parked)
			fuse_reply_err(f->parked, EINTR);
		f->parked = NULL;
		pthread_mutex_unlock(&f->m->lock);
		if (f->d.ops->attached(f->d.ctx) && f->d.gone_note)
			vmb_guest_log(f->m->g, "%s: daemon gone, %s", f->d.name, f->d.gone_note);
		f->d.ops->release(f->d.ctx);
		put(f);
	}
	fuse_reply_err(req, 0);
}

static const struct fuse_lowlevel_ops df_ops = {
    .lookup = df_lookup,
    .getattr = df_getattr,
    .readdir = df_readdir,
    .open = df_open,
    .read = df_read,
    .write = df_write,
    .poll = df_poll,
    .release = df_release,
};

void dfuse_wake(struct dfuse_file *f)
{
	pthread_mutex_lock(&f->m->lock);
	if (f->parked && deliver(f, f->parked))
		f->parked = NULL;
	if (f->ph) {
		fuse_lowlevel_notify_poll(f->ph);
		fuse_pollhandle_destroy(f->ph);
		f->ph = NULL;
	}
	pthread_mutex_unlock(&f->m->lock);
}

static void *df_loop(void *arg)
{
	struct dfuse_mount *m = arg;
	struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = 4};

	fuse_session_loop_mt(m->se, &cfg);
	return NULL;
}

static void mount_free(struct dfuse_mount *m)
{
	if (m->se)
		fuse_session_destroy(m->se);
	pthread_cond_destroy(&m->idle);
	pthread_mutex_destroy(&m->lock);
	free(m->dir);
	free(m);
}

static int mount_start(struct dfuse_mount *m)
{
	char *argv[] = {"vmbus-daemon-dev", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct stat st;

	if (mkdir(m->dir, 0755) < 0 && errno != EEXIST)
		return -errno;
	m->se = fuse_session_new(&args, &df_ops, sizeof(df_ops), m);
	fuse_opt_free_args(&args);
	if (!m->se || fuse_session_mount(m->se, m->dir) != 0)
		return -ENOTSUP;
	if (pthread_create(&m->thread, NULL, df_loop, m) != 0) {
		fuse_session_unmount(m->se);
		return -ENOMEM;
	}
	/* Only now: stat() of the mount root is answered by the loop. */
	m->dev = stat(m->dir, &st) == 0 ? st.st_dev : 0;
	return 0;
}

/* mounts_lock held: the mount of dir, started if new. */
static int mount_get(struct vmb_guest *g, const char *dir, struct dfuse_mount **out)
{
	struct dfuse_mount *m;
	int rc;

	for (m = mounts; m; m = m->next)
		if (!strcmp(m->dir, dir)) {
			*out = m;
			return 0;
		}
	m = calloc(1, sizeof(*m));
	if (!m)
		return -ENOMEM;
	pthread_mutex_init(&m->lock, NULL);
	pthread_cond_init(&m->idle, NULL);
	m->g = g;
	m->dir = strdup(dir);
	rc = m->dir ? mount_start(m) : -ENOMEM;
	if (rc < 0) {
		mount_free(m);
		return rc;
	}
	m->next = mounts;
	mounts = m;
	*out = m;
	return 0;
}

/*
 * A daemon in another mount namespace keeps its copy of the mount (and the
 * connection) alive after our unmount: abort the connection through
 * fusectl so the loop ends. Best effort: without fusectl the unmount does.
 */
static void mount_abort(struct dfuse_mount *m)
{
	char path[96];
	FILE *fp;

	if (!m->dev)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort",
		 (unsigned)((major(m->dev) << 20) | minor(m->dev)));
	fp = fopen(path, "w");
	if (!fp)
		return;
	fputs("1", fp);
	fclose(fp);
}

/* mounts_lock held: the last file went. */
static void mount_stop(struct dfuse_mount *m)
{
	struct dfuse_mount **pp = &mounts;

	while (*pp != m)
		pp = &(*pp)->next;
	*pp = m->next;
	fuse_session_exit(m->se);
	mount_abort(m);
	fuse_session_unmount(m->se);
	pthread_join(m->thread, NULL);
	mount_free(m);
}

static bool mount_empty(const struct dfuse_mount *m)
{
	for (unsigned i = 0; i < DF_MAX_FILES; i++)
		if (m->files[i])
			return false;
	return true;
}

/* m->lock held: a free slot for name, -EEXIST or -ENOSPC. */
static int slot_for(struct dfuse_mount *m, const char *name)
{
	int slot = -ENOSPC;

	for (unsigned i = 0; i < DF_MAX_FILES; i++) {
		if (m->files[i] && !strcmp(m->files[i]->d.name, name))
			return -EEXIST;
		if (!m->files[i] && slot < 0)
			slot = (int)i;
	}
	return slot;
}

int dfuse_add(struct vmb_guest *g, const char *dir, const struct dfuse_file_desc *desc,
	      struct dfuse_file **out)
{
	struct dfuse_file *f = calloc(1, sizeof(*f));
	struct dfuse_mount *m;
	int rc;

	if (!f)
		return -ENOMEM;
	f->d = *desc;
	pthread_mutex_lock(&mounts_lock);
	rc = mount_get(g, dir, &m);
	if (rc == 0) {
		pthread_mutex_lock(&m->lock);
		rc = slot_for(m, desc->name);
		if (rc >= 0) {
			f->m = m;
			f->ino = (fuse_ino_t)rc + 2;
			m->files[rc] = f;
		}
		pthread_mutex_unlock(&m->lock);
		if (rc < 0 && mount_empty(m))
			mount_stop(m);
	}
	pthread_mutex_unlock(&mounts_lock);
	if (rc < 0) {
		free(f);
		return rc;
	}
	*out = f;
	return 0;
}

void dfuse_remove(struct dfuse_file *f)
{
	struct dfuse_mount *m;

	if (!f)
		return;
	m = f->m;
	pthread_mutex_lock(&mounts_lock);
	pthread_mutex_lock(&m->lock);
	m->files[f->ino - 2] = NULL;
	while (f->users)
		pthread_cond_wait(&m->idle, &m->lock);
	if (f->parked)
		fuse_reply_err(f->parked, EIO);
	if (f->ph)
		fuse_pollhandle_destroy(f->ph);
	pthread_mutex_unlock(&m->lock);
	if (mount_empty(m))
		mount_stop(m);
	pthread_mutex_unlock(&mounts_lock);
	free(f);
}

#else /* !VMB_HAVE_FUSE3 */

int dfuse_add(struct vmb_guest *g, const char *dir, const struct dfuse_file_desc *desc,
	      struct dfuse_file **out)
{
	(void)g, (void)dir, (void)desc, (void)out;
	return -ENOTSUP;
}

void dfuse_wake(struct dfuse_file *f)
{
	(void)f;
}

void dfuse_remove(struct dfuse_file *f)
{
	(void)f;
}

#endif
