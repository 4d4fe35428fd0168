/* fcopy, host side: the VSP and `vmbus ctl copy SRC DST [options]`. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "svc.h"

#define FCOPY_CTL_TIMEOUT_MS 30000

struct vmb_fcopy_host {
	struct icb_host s;
	uint8_t buf[sizeof(struct hv_do_fcopy)];
};

static const struct ic_version fcopy_versions[] = {{1, 1}};

static int status_errno(uint32_t status)
{
	switch (status) {
	case HV_S_OK:
		return 0;
	case HV_ERROR_ALREADY_EXISTS:
		return -EEXIST;
	case HV_ERROR_DISK_FULL:
		return -ENOSPC;
	case HV_INVALIDARG:
		return -EPERM;
	default:
		return -EIO;
	}
}

/* One request; 0, -errno of the transport, or the guest's status as -errno. */
static int send_one(struct vmb_fcopy_host *fh, int len, int timeout_ms, uint32_t *status)
{
	int rc;

	if (len < 0)
		return len;
	rc = icb_request_sync(fh->s.ic, fh->buf, (uint32_t)len, timeout_ms, status, NULL, 0, NULL);
	return rc < 0 ? rc : status_errno(*status);
}

static int send_data(struct vmb_fcopy_host *fh, int fd, long cancel_after, int timeout_ms,
		     uint32_t *status)
{
	uint8_t data[DATA_FRAGMENT];
	uint64_t off = 0;
	long frags = 0;
	ssize_t n;
	int rc = 0;

	while (rc == 0 && (n = read(fd, data, sizeof(data))) > 0) {
		if (cancel_after >= 0 && frags++ == cancel_after)
			return -ECANCELED;
		rc = send_one(
		    fh, vmb_fcopy_build_write(fh->buf, sizeof(fh->buf), off, data, (uint32_t)n),
		    timeout_ms, status);
		off += (uint64_t)n;
	}
	if (rc == 0 && n < 0)
		rc = -errno;
	if (rc == 0 && cancel_after >= 0 && frags == cancel_after)
		rc = -ECANCELED;
	return rc;
}

static int copy_locked(struct vmb_fcopy_host *fh, int fd, const char *dst, uint32_t flags,
		       long cancel_after, int timeout_ms, uint32_t *status)
{
	char dir[W_MAX_PATH * 3] = "/";
	const char *name = strrchr(dst, '/');
	uint32_t ignored;
	struct stat st;
	int rc;

	if (fstat(fd, &st) < 0)
		return -errno;
	if (name) {
		if ((size_t)(name - dst) >= sizeof(dir))
			return -ENAMETOOLONG;
		memcpy(dir, dst, (size_t)(name - dst));
		dir[name - dst] = '\0';
		name++;
	} else {
		name = dst;
	}
	rc = send_one(fh,
		      vmb_fcopy_build_start(fh->buf, sizeof(fh->buf), dir[0] ? dir : "/", name,
					    flags, (uint64_t)st.st_size),
		      timeout_ms, status);
	if (rc < 0)
		return rc;
	rc = send_data(fh, fd, cancel_after, timeout_ms, status);
	if (rc == 0)
		return send_one(fh, vmb_fcopy_build_op(fh->buf, sizeof(fh->buf), COMPLETE_FCOPY),
				timeout_ms, status);
	/* The guest already dropped the copy when it reported the error; cancel anyway. */
	send_one(fh, vmb_fcopy_build_op(fh->buf, sizeof(fh->buf), CANCEL_FCOPY), timeout_ms,
		 &ignored);
	return rc;
}

int vmb_fcopy_host_copy(struct vmb_fcopy_host *fh, const char *src, const char *dst, uint32_t flags,
			long cancel_after, int timeout_ms, uint32_t *status)
{
	int fd = open(src, O_RDONLY | O_CLOEXEC);
	int rc;

	*status = HV_S_OK;
	if (fd < 0)
		return -errno;
	pthread_mutex_lock(&fh->s.one);
	rc = copy_locked(fh, fd, dst, flags, cancel_after, timeout_ms, status);
	pthread_mutex_unlock(&fh->s.one);
	close(fd);
	return rc;
}

static int copy_ctl(void *ctx, int argc, char **argv, FILE *out)
{
	const char *src = NULL, *dst = NULL;
	uint32_t flags = 0, status = HV_S_OK;
	long cancel_after = -1;
	int rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--overwrite"))
			flags |= FCOPY_OVER_WRITE;
		else if (!strcmp(argv[i], "--create-path"))
			flags |= FCOPY_CREATE_PATH;
		else if (!strcmp(argv[i], "--cancel-after") && i + 1 < argc)
			cancel_after = strtol(argv[++i], NULL, 0);
		else if (!src)
			src = argv[i];
		else if (!dst)
			dst = argv[i];
		else
			src = NULL, i = argc;
	}
	if (!src || !dst) {
		fprintf(out, "usage: copy SRC DST [--overwrite] [--create-path]"
			     " [--cancel-after N]\n");
		return -EINVAL;
	}
	rc = vmb_fcopy_host_copy(ctx, src, dst, flags, cancel_after, FCOPY_CTL_TIMEOUT_MS, &status);
	if (rc == -ECANCELED)
		fprintf(out, "copy: cancelled\n");
	else if (rc < 0 && status != HV_S_OK)
		fprintf(out, "copy: guest answered 0x%08x (%s)\n", status, icb_status_name(status));
	else if (rc < 0)
		fprintf(out, "copy: %s\n", strerror(-rc));
	else
		fprintf(out, "copy: ok\n");
	return rc;
}

static void fcopy_release(void *ctx)
{
	struct vmb_fcopy_host *fh = ctx;

	pthread_mutex_destroy(&fh->s.one);
	free(fh);
}

int vmb_fcopy_host_add(struct vmb_host *h, struct vmb_fcopy_host **out)
{
	struct vmb_fcopy_host *fh = calloc(1, sizeof(*fh));
	struct vmb_ic_host_service svc = {
	    .name = "fcopy",
	    .msgtype = ICMSGTYPE_FCOPY,
	    .class_id = VMB_GUID_FCOPY,
	    .instance_id = VMB_GUID_FCOPY_INSTANCE,
	    .fw_versions = icb_fw_v3,
	    .nfw = 1,
	    .msg_versions = fcopy_versions,
	    .nmsg = 1,
	    .release = fcopy_release,
	};
	int rc;

	if (!fh)
		return -ENOMEM;
	svc.ctx = fh;
	rc = icb_host_add(&fh->s, h, &svc);
	if (rc < 0) {
		pthread_mutex_destroy(&fh->s.one);
		free(fh);
		return rc;
	}
	rc = vmb_host_ctl_register(h, "copy",
				   "copy a file into the guest: copy SRC DST"
				   " [--overwrite] [--create-path]",
				   copy_ctl, fh);
	if (rc == 0 && out)
		*out = fh;
	return rc;
}
