/*
 * Integration harness: real host and guest processes over the real
 * transport. Each side runs in a forked child driven by text commands over
 * pipes ("echo 0" -> "ok 0"), so a test can script hot add, rescind,
 * retargeting or kill -9 and check what the other side saw.
 */
#ifndef VMB_IT_HARNESS_H
#define VMB_IT_HARNESS_H

#include <stdint.h>
#include <sys/types.h>

struct it_proc {
	pid_t pid;
	int cmd_fd;   /* we write commands */
	int reply_fd; /* we read replies */
};

struct it_host_opts {
	uint32_t max_version; /* 0 = newest */
	uint64_t gpadl_limit; /* bytes, 0 = default */
	unsigned test_devices; /* 0 = 1 */
	unsigned vps;          /* 0 = 2 */
};

/* A fresh socket path in a private temp dir. */
const char *it_socket_path(void);

int it_host_start(struct it_proc *p, const char *sock, const struct it_host_opts *o);
int it_guest_start(struct it_proc *p, const char *sock, uint32_t max_version);

/*
 * Send one command, read one reply line. Returns the reply's first number
 * ("ok N" -> N >= 0; "err N" -> -N when N > 0, else -1), -ETIMEDOUT after
 * timeout, -EPIPE if the process died. The whole line goes to line if non-NULL.
 */
long it_cmd(struct it_proc *p, char *line, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Wait up to timeout_ms for exit; returns the wait status or -ETIMEDOUT. */
int it_wait(struct it_proc *p, int timeout_ms);
void it_kill(struct it_proc *p, int sig);
/* Open fds of a process (entries in /proc/PID/fd). */
int it_fd_count(pid_t pid);

#endif
