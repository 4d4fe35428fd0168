/*
 * KVP, guest side: the kernel's /dev/vmbus/hv_kvp as a FUSE file. One
 * regular file, opened direct_io and non-seekable so every read() and
 * write() of a daemon reaches us whole; reads block until a message waits
 * (the request is parked and answered later) and poll() reports POLLIN then.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ic/kvp_daemon.h"

#ifdef VMB_HAVE_FUSE3

#define FUSE_USE_VERSION 35
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <poll.h>
#include <pthread.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#define KF_INO	2
#define KF_NAME "hv_kvp"

struct kvpd_fuse {
	struct kvpd *d;
	struct vmb_guest *g; /* for its log */
	struct fuse_session *se;
	pthread_t thread;
	dev_t dev;	      /* of the mount: its fusectl connection */
	pthread_mutex_t lock; /* parked, ph */
	fuse_req_t parked;    /* a blocking read waiting for a message */
	struct fuse_pollhandle *ph;
};

static void file_stat(struct stat *st, fuse_ino_t ino)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = ino == FUSE_ROOT_ID ? S_IFDIR | 0755 : S_IFREG | 0600;
	st->st_nlink = ino == FUSE_ROOT_ID ? 2 : 1;
}

static void kf_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param e = {.ino = KF_INO};

	if (parent != FUSE_ROOT_ID || strcmp(name, KF_NAME)) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_stat(&e.attr, KF_INO);
	fuse_reply_entry(req, &e);
}

static void kf_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID && ino != KF_INO) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	file_stat(&st, ino);
	fuse_reply_attr(req, &st, 0);
}

static void kf_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	char buf[256];
	size_t n = 0;
	struct stat st;

	(void)fi;
	if (ino != FUSE_ROOT_ID) {
		fuse_reply_err(req, ENOTDIR);
		return;
	}
	file_stat(&st, KF_INO);
	if (off == 0 && size <= sizeof(buf))
		n = fuse_add_direntry(req, buf, size, KF_NAME, &st, 1);
	if (n > size)
		n = 0;
	fuse_reply_buf(req, buf, n);
}

static void kf_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct kvpd_fuse *f = fuse_req_userdata(req);
	int rc = ino == KF_INO ? kvpd_open(f->d) : -EISDIR;

	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	fi->direct_io = 1;
	fi->nonseekable = 1;
	fuse_reply_open(req, fi);
}

static void kf_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct kvpd_fuse *f = fuse_req_userdata(req);
	int rc = kvpd_write(f->d, buf, size);

	(void)ino, (void)off, (void)fi;
	if (rc < 0) {
		fuse_reply_err(req, -rc);
		return;
	}
	if (rc == 1)
		vmb_guest_log(f->g, "hv_kvp: daemon registered (op %u)",
			      ((const struct hv_kvp_msg *)(const void *)buf)->kvp_hdr.operation);
	fuse_reply_write(req, size);
}

static void kf_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	struct kvpd_fuse *f = fuse_req_userdata(req);
	struct hv_kvp_msg m;

	(void)ino, (void)off;
	if (size < sizeof(m)) {
		fuse_reply_err(req, EINVAL);
		return;
	}
	pthread_mutex_lock(&f->lock);
	if (kvpd_take(f->d, &m) == 0)
		fuse_reply_buf(req, (const char *)&m, sizeof(m));
	else if ((fi->flags & O_NONBLOCK) || f->parked)
		fuse_reply_err(req, EAGAIN);
	else
		f->parked = req;
	pthread_mutex_unlock(&f->lock);
}

static void kf_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		    struct fuse_pollhandle *ph)
{
	struct kvpd_fuse *f = fuse_req_userdata(req);
	unsigned revents = POLLOUT | POLLWRNORM;

	(void)ino, (void)fi;
	pthread_mutex_lock(&f->lock);
	if (ph) {
		if (f->ph)
			fuse_pollhandle_destroy(f->ph);
		f->ph = ph;
	}
	if (kvpd_readable(f->d))
		revents |= POLLIN | POLLRDNORM;
	fuse_reply_poll(req, revents);
	pthread_mutex_unlock(&f->lock);
}

static void kf_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct kvpd_fuse *f = fuse_req_userdata(req);

	(void)ino, (void)fi;
	pthread_mutex_lock(&f->lock);
	if (f->parked)
		fuse_reply_err(f->parked, EINTR);
	f->parked = NULL;
	pthread_mutex_unlock(&f->lock);
	if (kvpd_attached(f->d))
		vmb_guest_log(f->g, "hv_kvp: daemon gone, the pool files answer again");
	kvpd_release(f->d);
	fuse_reply_err(req, 0);
}

/* A message waits: complete a parked read, or tell a poller. */
static void kf_wake(void *arg)
{
	struct kvpd_fuse *f = arg;
	struct hv_kvp_msg m;

	pthread_mutex_lock(&f->lock);
	if (f->parked && kvpd_take(f->d, &m) == 0) {
		fuse_reply_buf(f->parked, (const char *)&m, sizeof(m));
		f->parked = NULL;
	}
	if (f->ph) {
		fuse_lowlevel_notify_poll(f->ph);
		fuse_pollhandle_destroy(f->ph);
		f->ph = NULL;
	}
	pthread_mutex_unlock(&f->lock);
}

static const struct fuse_lowlevel_ops kf_ops = {
    .lookup = kf_lookup,
    .getattr = kf_getattr,
    .readdir = kf_readdir,
    .open = kf_open,
    .read = kf_read,
    .write = kf_write,
    .poll = kf_poll,
    .release = kf_release,
};

static void *kf_loop(void *arg)
{
	struct kvpd_fuse *f = arg;
	struct fuse_loop_config cfg = {.clone_fd = 0, .max_idle_threads = 4};

	fuse_session_loop_mt(f->se, &cfg);
	return NULL;
}

static void kf_free(struct kvpd_fuse *f)
{
	if (f->se)
		fuse_session_destroy(f->se);
	pthread_mutex_destroy(&f->lock);
	free(f);
}

int kvpd_fuse_start(struct kvpd *d, struct vmb_guest *g, const char *dir, struct kvpd_fuse **out)
{
	char *argv[] = {"vmbus-hv_kvp", NULL};
	struct fuse_args args = FUSE_ARGS_INIT(1, argv);
	struct kvpd_fuse *f = calloc(1, sizeof(*f));
	struct stat st;

	if (!f)
		return -ENOMEM;
	f->d = d;
	f->g = g;
	pthread_mutex_init(&f->lock, NULL);
	if (mkdir(dir, 0755) < 0 && errno != EEXIST) {
		int rc = -errno;

		kf_free(f);
		return rc;
	}
	f->se = fuse_session_new(&args, &kf_ops, sizeof(kf_ops), f);
	fuse_opt_free_args(&args);
	if (!f->se || fuse_session_mount(f->se, dir) != 0) {
		kf_free(f);
		return -ENOTSUP;
	}
	kvpd_set_wake(d, kf_wake, f);
	if (pthread_create(&f->thread, NULL, kf_loop, f) != 0) {
		kvpd_set_wake(d, NULL, NULL);
		fuse_session_unmount(f->se);
		kf_free(f);
		return -ENOMEM;
	}
	/* Only now: stat() of the mount root is answered by the loop. */
	f->dev = stat(dir, &st) == 0 ? st.st_dev : 0;
	*out = f;
	return 0;
}

/*
 * A daemon in another mount namespace keeps its copy of the mount (and the
 * connection) alive after our unmount: abort the connection through
 * fusectl so the loop ends. Best effort: without fusectl the unmount does.
 */
static void kf_abort(struct kvpd_fuse *f)
{
	char path[96];
	FILE *fp;

	if (!f->dev)
		return;
	snprintf(path, sizeof(path), "/sys/fs/fuse/connections/%u/abort",
		 (unsigned)((major(f->dev) << 20) | minor(f->dev)));
	fp = fopen(path, "w");
	if (!fp)
		return;
	fputs("1", fp);
	fclose(fp);
}

void kvpd_fuse_stop(struct kvpd_fuse *f)
{
	if (!f)
		return;
	kvpd_set_wake(f->d, NULL, NULL);
	fuse_session_exit(f->se);
	kf_abort(f);
	fuse_session_unmount(f->se);
	pthread_join(f->thread, NULL);
	if (f->ph)
		fuse_pollhandle_destroy(f->ph);
	kf_free(f);
}

#else /* !VMB_HAVE_FUSE3 */

int kvpd_fuse_start(struct kvpd *d, struct vmb_guest *g, const char *dir, struct kvpd_fuse **out)
{
	(void)d, (void)g, (void)dir, (void)out;
	return -ENOTSUP;
}

void kvpd_fuse_stop(struct kvpd_fuse *f)
{
	(void)f;
}

#endif
