/* vmbus: Hyper-V VMBus host and guest in user space. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vmbus.h"
#include "vmbus/msg.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
} cmds[] = {
	{"run", cmd_run, "run a whole VM: host + guest with every device (until Ctrl-C)"},
	{"host", cmd_host, "run the host side (VMBus server + devices) on a socket"},
	{"guest", cmd_guest, "run the guest side (VMBus client + drivers) against a host"},
	{"ls", cmd_ls, "list the guest's VMBus devices, like lsvmbus"},
	{"ctl", cmd_ctl, "send a command to the running host (`vmbus ctl help`)"},
};

static void usage(FILE *f)
{
	fprintf(f, "usage: vmbus COMMAND [OPTIONS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		fprintf(f, "  %-6s %s\n", cmds[i].name, cmds[i].help);
	fprintf(f, "\n`vmbus COMMAND --help` for the options of one command.\n");
}

const char *tool_run_dir(const char *override, char *buf, size_t len)
{
	const char *xdg = getenv("XDG_RUNTIME_DIR");

	if (override)
		snprintf(buf, len, "%s", override);
	else if (xdg && *xdg)
		snprintf(buf, len, "%s/vmbus", xdg);
	else
		snprintf(buf, len, "/tmp/vmbus-%u", (unsigned)getuid());
	return buf;
}

uint32_t tool_parse_version(const char *s)
{
	unsigned maj, min;
	char tail;

	if (sscanf(s, "%u.%u%c", &maj, &min, &tail) != 2)
		return 0;
	uint32_t v = VMBUS_VERSION(maj, min);
	return vmb_version_known(v) ? v : 0;
}

int tool_mkdirs(const char *path)
{
	char tmp[4096];

	snprintf(tmp, sizeof(tmp), "%s", path);
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = 0;
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

static volatile sig_atomic_t *stop_flag;

static void on_signal(int sig)
{
	(void)sig;
	if (stop_flag)
		*stop_flag = 1;
}

void tool_catch_signals(volatile sig_atomic_t *flag)
{
	struct sigaction sa = {.sa_handler = on_signal};

	stop_flag = flag;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	signal(SIGPIPE, SIG_IGN);
}

int main(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(argv[1], cmds[i].name))
			return cmds[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "vmbus: unknown command '%s'\n", argv[1]);
	usage(stderr);
	return 2;
}
