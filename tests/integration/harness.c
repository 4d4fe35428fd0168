/* Integration harness: forked host/guest children driven over pipes. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "vmbus/dev/test.h"

#define REPLY_TIMEOUT_MS 30000

const char *it_socket_path(void)
{
	static char path[256];
	char dir[] = "/tmp/vmbus-it-XXXXXX";

	if (!mkdtemp(dir))
		return NULL;
	snprintf(path, sizeof(path), "%s/host.sock", dir);
	return path;
}

static void reply(int fd, long v)
{
	dprintf(fd, "%s %ld\n", v < 0 ? "err" : "ok", v < 0 ? -v : v);
}

/* Read one command line from fd; false on EOF. */
static bool read_cmd(int fd, char *buf, size_t len)
{
	size_t n = 0;

	while (n + 1 < len) {
		ssize_t r = read(fd, buf + n, 1);

		if (r <= 0)
			return false;
		if (buf[n] == '\n')
			break;
		n++;
	}
	buf[n] = 0;
	return true;
}

/* ---- host child ---- */

/*
 * vmb_host_run() polls a sig_atomic_t, which is only safe to set from a
 * signal handler on the polling thread itself: the command thread stops
 * the loop with SIGUSR1 aimed at it, never by writing the flag.
 */
static volatile sig_atomic_t host_stop;

static void host_stop_handler(int sig)
{
	(void)sig;
	host_stop = 1;
}

static void *host_loop(void *arg)
{
	vmb_host_run(arg, &host_stop);
	return NULL;
}

static struct vmb_guid it_instance(unsigned n)
{
	struct vmb_guid g = VMB_GUID_INIT(0x1e570000, 0x0002, 0x4000, 0x80, 0x00, 0, 0, 0, 0, 0,
					  0);

	g.b[15] = (uint8_t)n;
	return g;
}

static int host_child(const char *sock, const struct it_host_opts *o, int in, int out)
{
	struct vmb_host_config cfg = {
		.socket_path = sock,
		.max_version = o->max_version,
		.gpadl_limit = o->gpadl_limit,
		.vp_count = o->vps,
	};
	struct vmb_test_vsp *devs[64] = {0};
	unsigned ndev = 0;
	struct vmb_host *h;
	pthread_t loop;
	char cmd[128];

	if (vmb_host_create(&cfg, &h) < 0) {
		reply(out, -1);
		return 1;
	}
	for (unsigned i = 0; i < (o->test_devices ? o->test_devices : 1); i++) {
		struct vmb_guid inst = it_instance(ndev);

		if (vmb_test_vsp_add(h, &inst, &devs[ndev]) == 0)
			ndev++;
	}
	sigaction(SIGUSR1, &(struct sigaction){.sa_handler = host_stop_handler}, NULL);
	pthread_create(&loop, NULL, host_loop, h);
	reply(out, 0); /* ready */
	while (read_cmd(in, cmd, sizeof(cmd))) {
		unsigned a = 0;

		if (!strcmp(cmd, "quit")) {
			break;
		} else if (!strcmp(cmd, "add")) {
			struct vmb_guid inst = it_instance(ndev);
			int rc = ndev < 64 ? vmb_test_vsp_add(h, &inst, &devs[ndev]) : -ENOSPC;

			reply(out, rc < 0 ? rc : (long)ndev++);
		} else if (sscanf(cmd, "remove %u", &a) == 1) {
			reply(out, a < ndev && devs[a] ? vmb_test_vsp_remove(devs[a]) : -ENODEV);
			if (a < ndev)
				devs[a] = NULL;
		} else if (!strcmp(cmd, "stats")) {
			struct vmb_host_stats st;

			vmb_host_get_stats(h, &st);
			dprintf(out, "ok %u %u %u %llu %llu\n", st.channels_open, st.gpadls,
				st.mappings, (unsigned long long)st.needless_signals,
				(unsigned long long)st.throttled);
		} else {
			reply(out, -EINVAL);
		}
	}
	pthread_kill(loop, SIGUSR1);
	pthread_join(loop, NULL);
	vmb_host_destroy(h);
	return 0;
}

/* ---- guest child ---- */

struct echo_arg {
	size_t len;
};

static int echo_fn(struct vmb_channel *ch, void *arg)
{
	struct echo_arg *e = arg;
	uint8_t buf[4096];

	for (size_t i = 0; i < e->len; i++)
		buf[i] = (uint8_t)(i * 7);
	return vmb_test_echo(ch, buf, e->len);
}

static int subchan_fn(struct vmb_channel *ch, void *arg)
{
	struct vmb_test_hdr req = {.op = VMB_TEST_SUBCHAN, .count = *(unsigned *)arg};
	struct vmb_test_hdr resp;
	size_t got;

	return vmb_chan_request_sync(ch, &req, sizeof(req), &resp, sizeof(resp), &got, 10000);
}

static long guest_cmd(struct vmb_guest *g, struct vmb_test_guest *tg, const char *cmd, int out)
{
	unsigned a = 0, b = 0;
	unsigned long long bytes = 0;
	struct vmb_test_counts c;

	if (sscanf(cmd, "wait %u", &a) == 1)
		return vmb_test_guest_wait(tg, a, 15000);
	if (!strcmp(cmd, "version"))
		return (long)vmb_guest_version(g);
	if (!strcmp(cmd, "bound"))
		return (long)vmb_test_guest_bound(tg);
	if (sscanf(cmd, "echo %u %u", &a, &b) == 2) {
		struct echo_arg e = {.len = b > 4096 ? 4096 : b};

		return vmb_test_guest_with(tg, a, echo_fn, &e);
	}
	if (sscanf(cmd, "traffic %u", &a) == 1) {
		vmb_test_guest_traffic(tg, a != 0);
		return 0;
	}
	if (!strcmp(cmd, "counts")) {
		vmb_test_guest_counts(tg, &c);
		dprintf(out, "ok %llu %llu %llu %llu %llu\n", (unsigned long long)c.echoes,
			(unsigned long long)c.errors, (unsigned long long)c.probed,
			(unsigned long long)c.removed, (unsigned long long)c.subchannels);
		return 1; /* replied */
	}
	if (sscanf(cmd, "setvp %u %u", &a, &b) == 2)
		return vmb_test_guest_set_vp(tg, a, b);
	if (sscanf(cmd, "offline %u", &a) == 1)
		return vmb_guest_vp_offline(g, a);
	if (sscanf(cmd, "online %u", &a) == 1)
		return vmb_guest_vp_online(g, a);
	if (sscanf(cmd, "gpadl %u %llu", &a, &bytes) == 2)
		return vmb_test_guest_gpadl(tg, a, (size_t)bytes);
	if (sscanf(cmd, "subchan %u %u", &a, &b) == 2)
		return vmb_test_guest_with(tg, a, subchan_fn, &b);
	return -EINVAL;
}

static int guest_child(const char *sock, uint32_t max_version, int in, int out)
{
	struct vmb_guest_config cfg = {.socket_path = sock, .max_version = max_version};
	struct vmb_test_guest *tg;
	struct vmb_guest *g;
	char cmd[128];
	int rc;

	rc = vmb_guest_create(&cfg, &g);
	if (rc < 0) {
		reply(out, rc);
		return 1;
	}
	rc = vmb_test_guest_register(g, &tg);
	reply(out, rc);
	while (rc == 0 && read_cmd(in, cmd, sizeof(cmd))) {
		long v;

		if (!strcmp(cmd, "quit"))
			break;
		v = guest_cmd(g, tg, cmd, out);
		if (strcmp(cmd, "counts") != 0)
			reply(out, v);
	}
	vmb_test_guest_traffic(tg, false);
	vmb_guest_destroy(g);
	vmb_test_guest_free(tg);
	return 0;
}

/* ---- parent side ---- */

/*
 * Children are fork + exec of this same binary: a plain fork() of a test
 * that already runs threads (a fake host loop, a flipper) would copy locks
 * held by those threads (the sanitizer's allocator among them) and hang.
 * The constructor below runs the child's body before the test's main().
 */
#define CHILD_FLAG "--vmb-it-child"

static int spawn(struct it_proc *p, char *const child_args[])
{
	int cmd[2], rep[2];
	char line[128], in_s[16], out_s[16];

	if (pipe(cmd) < 0 || pipe(rep) < 0)
		return -errno;
	p->pid = fork();
	if (p->pid < 0)
		return -errno;
	if (p->pid == 0) {
		char *argv[16] = {"it-child", CHILD_FLAG, in_s, out_s};
		int n = 4;

		close(cmd[1]);
		close(rep[0]);
		snprintf(in_s, sizeof(in_s), "%d", cmd[0]);
		snprintf(out_s, sizeof(out_s), "%d", rep[1]);
		for (int i = 0; child_args[i] && n < 15; i++)
			argv[n++] = child_args[i];
		argv[n] = NULL;
		execv("/proc/self/exe", argv);
		_exit(127);
	}
	close(cmd[0]);
	close(rep[1]);
	p->cmd_fd = cmd[1];
	p->reply_fd = rep[0];
	/* The child says "ok 0" once it is up. */
	return (int)it_cmd(p, line, sizeof(line), "%s", "");
}

/* argv: it-child --vmb-it-child IN OUT host SOCK MAXVER LIMIT NDEV VPS | guest SOCK MAXVER */
__attribute__((constructor)) static void it_child_entry(int argc, char **argv)
{
	int in, out;

	if (argc < 6 || strcmp(argv[1], CHILD_FLAG) != 0)
		return;
	in = atoi(argv[2]);
	out = atoi(argv[3]);
	if (!strcmp(argv[4], "host") && argc == 10) {
		struct it_host_opts o = {
			.max_version = (uint32_t)strtoul(argv[6], NULL, 0),
			.gpadl_limit = strtoull(argv[7], NULL, 0),
			.test_devices = (unsigned)strtoul(argv[8], NULL, 0),
			.vps = (unsigned)strtoul(argv[9], NULL, 0),
		};

		_exit(host_child(argv[5], &o, in, out));
	}
	if (!strcmp(argv[4], "guest") && argc == 7)
		_exit(guest_child(argv[5], (uint32_t)strtoul(argv[6], NULL, 0), in, out));
	_exit(127);
}

int it_host_start(struct it_proc *p, const char *sock, const struct it_host_opts *o)
{
	char ver[16], limit[32], ndev[16], vps[16];
	char *args[] = {"host", (char *)sock, ver, limit, ndev, vps, NULL};

	snprintf(ver, sizeof(ver), "%u", o->max_version);
	snprintf(limit, sizeof(limit), "%llu", (unsigned long long)o->gpadl_limit);
	snprintf(ndev, sizeof(ndev), "%u", o->test_devices);
	snprintf(vps, sizeof(vps), "%u", o->vps);
	return spawn(p, args);
}

int it_guest_start(struct it_proc *p, const char *sock, uint32_t max_version)
{
	char ver[16];
	char *args[] = {"guest", (char *)sock, ver, NULL};

	snprintf(ver, sizeof(ver), "%u", max_version);
	return spawn(p, args);
}

long it_cmd(struct it_proc *p, char *line, size_t len, const char *fmt, ...)
{
	char buf[256], tmp[256];
	size_t n = 0;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	/* An empty command only waits for the start-up line. */
	if (buf[0] && dprintf(p->cmd_fd, "%s\n", buf) < 0)
		return -EPIPE;
	if (!line) {
		line = tmp;
		len = sizeof(tmp);
	}
	while (n + 1 < len) {
		struct pollfd pfd = {.fd = p->reply_fd, .events = POLLIN};

		if (poll(&pfd, 1, REPLY_TIMEOUT_MS) <= 0)
			return -ETIMEDOUT;
		if (read(p->reply_fd, line + n, 1) != 1)
			return -EPIPE;
		if (line[n] == '\n')
			break;
		n++;
	}
	line[n] = 0;
	long v = 0;
	if (sscanf(line, "ok %ld", &v) == 1)
		return v;
	if (sscanf(line, "err %ld", &v) == 1)
		return v > 0 ? -v : -1;
	return -EPROTO;
}

int it_wait(struct it_proc *p, int timeout_ms)
{
	int status;

	for (int t = 0; t < timeout_ms; t += 10) {
		if (waitpid(p->pid, &status, WNOHANG) == p->pid) {
			close(p->cmd_fd);
			close(p->reply_fd);
			p->pid = 0;
			return status;
		}
		usleep(10000);
	}
	return -ETIMEDOUT;
}

void it_kill(struct it_proc *p, int sig)
{
	if (p->pid > 0)
		kill(p->pid, sig);
}

int it_fd_count(pid_t pid)
{
	char path[64];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", (int)pid);
	d = opendir(path);
	if (!d)
		return -errno;
	while ((e = readdir(d)))
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}
