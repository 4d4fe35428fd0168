/*
 * fcopy, guest side: one copy at a time below a root directory. The
 * destination directory is reached one component at a time with
 * O_NOFOLLOW, so neither ".." nor a symlink can lead outside the root;
 * data goes to a hidden temporary file renamed into place on COMPLETE.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmbus/dev/ic_services.h"

struct vmb_fcopy_sink {
	int root;
	int dir; /* destination directory of the copy in progress, or -1 */
	int fd;	 /* the temporary file, or -1 */
	uint32_t flags;
	uint64_t size;
	char name[W_MAX_PATH * 3];
	char tmp[W_MAX_PATH * 3 + 32];
};

int vmb_fcopy_sink_create(const char *root, struct vmb_fcopy_sink **out)
{
	struct vmb_fcopy_sink *fg = calloc(1, sizeof(*fg));

	if (!fg)
		return -ENOMEM;
	if (mkdir(root, 0755) < 0 && errno != EEXIST) {
		free(fg);
		return -errno;
	}
	fg->root = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fg->root < 0) {
		int rc = -errno;

		free(fg);
		return rc;
	}
	fg->dir = fg->fd = -1;
	*out = fg;
	return 0;
}

static void reset(struct vmb_fcopy_sink *fg, bool drop_tmp)
{
	if (fg->fd >= 0) {
		close(fg->fd);
		if (drop_tmp)
			unlinkat(fg->dir, fg->tmp, 0);
	}
	if (fg->dir >= 0)
		close(fg->dir);
	fg->fd = fg->dir = -1;
}

void vmb_fcopy_sink_destroy(struct vmb_fcopy_sink *fg)
{
	if (!fg)
		return;
	reset(fg, true);
	close(fg->root);
	free(fg);
}

bool vmb_fcopy_sink_busy(const struct vmb_fcopy_sink *fg)
{
	return fg->fd >= 0;
}

static uint32_t errno_status(int err)
{
	switch (err) {
	case ENOSPC:
	case EDQUOT:
	case EFBIG:
		return HV_ERROR_DISK_FULL;
	case EEXIST:
		return HV_ERROR_ALREADY_EXISTS;
	default:
		return HV_E_FAIL;
	}
}

/* Walk path below the root; -errno (ELOOP/ENOTDIR for a symlink on the way). */
static int open_dir(struct vmb_fcopy_sink *fg, const char *path, bool create)
{
	char comp[W_MAX_PATH * 3];
	int dir = dup(fg->root);

	while (dir >= 0 && *path) {
		size_t n = strcspn(path, "/");
		int next;

		memcpy(comp, path, n);
		comp[n] = '\0';
		path += n;
		path += strspn(path, "/");
		if (n == 0 || !strcmp(comp, "."))
			continue;
		if (create && mkdirat(dir, comp, 0755) < 0 && errno != EEXIST) {
			close(dir);
			return -errno;
		}
		next = openat(dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		close(dir);
		dir = next;
	}
	return dir < 0 ? -errno : dir;
}

static uint32_t start(struct vmb_fcopy_sink *fg, const struct vmb_fcopy_req *r)
{
	struct stat st;
	int rc;

	reset(fg, true);
	if (vmb_fcopy_check_path(r->path, r->name) < 0)
		return HV_INVALIDARG;
	rc = open_dir(fg, r->path, r->flags & FCOPY_CREATE_PATH);
	if (rc < 0)
		return rc == -ENOSPC ? HV_ERROR_DISK_FULL : HV_INVALIDARG;
	fg->dir = rc;
	if (fstatat(fg->dir, r->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	    (!(r->flags & FCOPY_OVER_WRITE) || S_ISDIR(st.st_mode))) {
		reset(fg, false);
		return HV_ERROR_ALREADY_EXISTS;
	}
	snprintf(fg->name, sizeof(fg->name), "%s", r->name);
	snprintf(fg->tmp, sizeof(fg->tmp), ".%s.vmbus-fcopy", r->name);
	unlinkat(fg->dir, fg->tmp, 0); /* a stale one from an earlier crash */
	fg->fd =
	    openat(fg->dir, fg->tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (fg->fd < 0) {
		rc = errno;
		reset(fg, false);
		return errno_status(rc);
	}
	fg->flags = r->flags;
	fg->size = r->size;
	/* Report a full disk now rather than after most of the data crossed. */
	if (r->size && r->size <= INT64_MAX && fallocate(fg->fd, 0, 0, (off_t)r->size) < 0 &&
	    (errno == ENOSPC || errno == EFBIG || errno == EDQUOT)) {
		reset(fg, true);
		return HV_ERROR_DISK_FULL;
	}
	if (r->size > INT64_MAX) {
		reset(fg, true);
		return HV_ERROR_DISK_FULL;
	}
	return HV_S_OK;
}

static uint32_t write_frag(struct vmb_fcopy_sink *fg, const struct vmb_fcopy_req *r)
{
	ssize_t n;

	if (fg->fd < 0)
		return HV_E_FAIL;
	n = pwrite(fg->fd, r->data, r->size, (off_t)r->offset);
	if (n == (ssize_t)r->size)
		return HV_S_OK;
	n = n < 0 ? errno : ENOSPC;
	reset(fg, true);
	return errno_status((int)n);
}

static uint32_t complete(struct vmb_fcopy_sink *fg)
{
	unsigned flags = fg->flags & FCOPY_OVER_WRITE ? 0 : RENAME_NOREPLACE;
	int err = 0;

	if (fg->fd < 0)
		return HV_E_FAIL;
	if (ftruncate(fg->fd, (off_t)fg->size) < 0 || fsync(fg->fd) < 0 ||
	    renameat2(fg->dir, fg->tmp, fg->dir, fg->name, flags) < 0)
		err = errno;
	reset(fg, err != 0);
	return err ? errno_status(err) : HV_S_OK;
}

uint32_t vmb_fcopy_sink_handle(struct vmb_fcopy_sink *fg, const struct vmb_fcopy_req *r)
{
	switch (r->op) {
	case START_FILE_COPY:
		return start(fg, r);
	case WRITE_TO_FILE:
		return write_frag(fg, r);
	case COMPLETE_FCOPY:
		return complete(fg);
	default:
		reset(fg, true);
		return HV_S_OK;
	}
}
