/*
 * Control socket for `vmbus ctl`: request = u32 length + NUL-separated
 * arguments; reply = "<status>\n" + text, then the connection closes.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "host/host_priv.h"

#define CTL_MAX_REQUEST 65536
#define CTL_MAX_ARGS 64

static int ctl_help(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_host *h = ctx;

	(void)argc;
	(void)argv;
	for (unsigned i = 0; i < h->nctl; i++)
		fprintf(out, "%-12s %s\n", h->ctl[i].name, h->ctl[i].help);
	return 0;
}

static int ctl_stats(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_host_stats st;

	(void)argc;
	(void)argv;
	vmb_host_get_stats(ctx, &st);
	fprintf(out,
		"channels_open %u\ngpadls %u\ngpadl_bytes %llu\nmappings %u\n"
		"needless_signals %llu\nthrottled %llu\n",
		st.channels_open, st.gpadls, (unsigned long long)st.gpadl_bytes, st.mappings,
		(unsigned long long)st.needless_signals, (unsigned long long)st.throttled);
	return 0;
}

int vmb_host_ctl_register(struct vmb_host *h, const char *name, const char *help,
			  vmb_ctl_fn fn, void *ctx)
{
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	if (h->nctl == VMB_HOST_MAX_CTL)
		rc = -ENOSPC;
	for (unsigned i = 0; i < h->nctl && rc == 0; i++)
		if (!strcmp(h->ctl[i].name, name))
			rc = -EEXIST;
	if (rc == 0)
		h->ctl[h->nctl++] = (struct vmb_ctl_cmd){name, help, fn, ctx};
	pthread_mutex_unlock(&h->lock);
	return rc;
}

int vmb_host_ctl_run(struct vmb_host *h, int argc, char **argv, FILE *out)
{
	struct vmb_ctl_cmd cmd = {0};

	if (argc < 1)
		return -EINVAL;
	pthread_mutex_lock(&h->lock);
	for (unsigned i = 0; i < h->nctl; i++)
		if (!strcmp(h->ctl[i].name, argv[0]))
			cmd = h->ctl[i];
	pthread_mutex_unlock(&h->lock);
	if (!cmd.fn) {
		fprintf(out, "unknown command '%s' (try 'help')\n", argv[0]);
		return -ENOENT;
	}
	return cmd.fn(cmd.ctx, argc, argv, out);
}

static bool read_full(int fd, void *buf, size_t len)
{
	for (size_t got = 0; got < len;) {
		ssize_t n = read(fd, (char *)buf + got, len - got);

		if (n <= 0)
			return false;
		got += (size_t)n;
	}
	return true;
}

/* Split a NUL-separated request into argv; the last byte must be NUL. */
static int split_args(char *req, uint32_t len, char **argv)
{
	int argc = 0;

	if (len == 0 || req[len - 1] != 0)
		return -EINVAL;
	for (uint32_t i = 0; i < len && argc < CTL_MAX_ARGS; i += (uint32_t)strlen(req + i) + 1)
		argv[argc++] = req + i;
	return argc;
}

static void serve_one(struct vmb_host *h, int fd)
{
	char *argv[CTL_MAX_ARGS], *text = NULL, *req = NULL;
	size_t text_len = 0;
	uint32_t len;
	FILE *out;
	int rc = -EINVAL, argc;

	out = open_memstream(&text, &text_len);
	if (!out)
		return;
	if (!read_full(fd, &len, sizeof(len)) || len > CTL_MAX_REQUEST || !(req = malloc(len)) ||
	    !read_full(fd, req, len))
		fprintf(out, "malformed request\n");
	else if ((argc = split_args(req, len, argv)) < 0)
		fprintf(out, "malformed request\n");
	else
		rc = vmb_host_ctl_run(h, argc, argv, out);
	fclose(out);
	dprintf(fd, "%d\n", rc);
	if (text_len && write(fd, text, text_len) < 0)
		vmb_host_log(h, "ctl: reply lost: %s", strerror(errno));
	free(text);
	free(req);
}

static void *ctl_main(void *arg)
{
	struct vmb_host *h = arg;

	for (;;) {
		int fd = accept(h->ctl_fd, NULL, NULL);

		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			return NULL; /* socket shut down by destroy */
		}
		serve_one(h, fd);
		close(fd);
	}
}

int vmb_host_ctl_listen(struct vmb_host *h, const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path) || h->ctl_fd >= 0)
		return -EINVAL;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path);
	if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	h->ctl_fd = fd;
	h->ctl_path = strdup(path);
	if (pthread_create(&h->ctl_thread, NULL, ctl_main, h) != 0) {
		close(fd);
		h->ctl_fd = -1;
		return -EAGAIN;
	}
	return 0;
}

void vmb_host_ctl_init(struct vmb_host *h)
{
	h->ctl_fd = -1;
	vmb_host_ctl_register(h, "help", "list the commands", ctl_help, h);
	vmb_host_ctl_register(h, "stats", "host counters (channels, GPADLs, mappings, signals)",
			      ctl_stats, h);
	vmb_host_clock_ctl_init(h);
}

void vmb_host_ctl_fini(struct vmb_host *h)
{
	if (h->ctl_fd < 0)
		return;
	/* shutdown() wakes the accept() of the control thread. */
	shutdown(h->ctl_fd, SHUT_RDWR);
	pthread_join(h->ctl_thread, NULL);
	close(h->ctl_fd);
	unlink(h->ctl_path);
	free(h->ctl_path);
	h->ctl_fd = -1;
}
