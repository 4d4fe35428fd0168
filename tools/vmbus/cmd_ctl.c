/* vmbus ctl: send one command to a running host (`vmbus ctl help`). */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "vmbus.h"

static int ctl_connect(const char *path)
{
	struct sockaddr_un a = {.sun_family = AF_UNIX};
	int fd;

	if (strlen(path) >= sizeof(a.sun_path))
		return -ENAMETOOLONG;
	strcpy(a.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

/* Send argv as u32 length + NUL-separated strings; print the reply text. */
static int ctl_call(int fd, int argc, char **argv)
{
	char req[65536], status[32];
	uint32_t len = 0;
	size_t n = 0;
	char c;

	for (int i = 0; i < argc; i++) {
		size_t l = strlen(argv[i]) + 1;

		if (len + l > sizeof(req))
			return -E2BIG;
		memcpy(req + len, argv[i], l);
		len += (uint32_t)l;
	}
	if (write(fd, &len, sizeof(len)) != sizeof(len) || write(fd, req, len) != (ssize_t)len)
		return -EPIPE;
	while (n + 1 < sizeof(status) && read(fd, &c, 1) == 1 && c != '\n')
		status[n++] = c;
	status[n] = 0;
	if (!n)
		return -EPIPE;
	for (ssize_t r; (r = read(fd, req, sizeof(req))) > 0;)
		fwrite(req, 1, (size_t)r, stdout);
	return atoi(status);
}

int cmd_ctl(int argc, char **argv)
{
	char dir[1024], path[1100];
	const char *run_dir = NULL;
	int first = 1, fd, rc;

	if (argc > 2 && !strcmp(argv[1], "--run-dir")) {
		run_dir = argv[2];
		first = 3;
	}
	if (first >= argc || !strcmp(argv[first], "--help")) {
		printf("usage: vmbus ctl [--run-dir DIR] COMMAND [ARGS...]\n"
		       "       vmbus ctl help    lists the commands of the running host\n");
		return first >= argc ? 2 : 0;
	}
	snprintf(path, sizeof(path), "%s/ctl.sock", tool_run_dir(run_dir, dir, sizeof(dir)));
	fd = ctl_connect(path);
	if (fd < 0) {
		fprintf(stderr, "vmbus ctl: no host at %s (is `vmbus run` up?): %s\n", path,
			strerror(-fd));
		return 1;
	}
	rc = ctl_call(fd, argc - first, argv + first);
	close(fd);
	if (rc < 0) {
		fprintf(stderr, "vmbus ctl %s: %s\n", argv[first], strerror(-rc));
		return 1;
	}
	return 0;
}
