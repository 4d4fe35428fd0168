/* vmbus guest: the VMBus client and the drivers of every device we have. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmbus.h"
#include "vmbus/dev/test.h"
#include "vmbus/guest.h"

static void guest_usage(FILE *f)
{
	fprintf(f, "usage: vmbus guest --socket PATH [options]\n"
		   "  --socket PATH        the host's socket\n"
		   "  --sysfs DIR          publish a /sys/bus/vmbus-style tree in DIR\n"
		   "  --max-version X.Y    newest VMBus version tried (default 6.0)\n"
		   "  --min-version X.Y    oldest VMBus version tried (default 0.13)\n"
		   "  --traffic            keep echo traffic running on every test device\n"
		   "  --trace FILE         write every control message as pcapng\n");
}

static volatile sig_atomic_t stop;

/* Turns a signal into vmb_guest_stop() from a normal thread. */
static void *stop_watch(void *arg)
{
	while (!stop)
		usleep(50000);
	vmb_guest_stop(arg);
	return NULL;
}

int cmd_guest(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, 0, 's'},
		{"sysfs", required_argument, 0, 'S'},
		{"max-version", required_argument, 0, 'V'},
		{"min-version", required_argument, 0, 'v'},
		{"traffic", no_argument, 0, 'x'},
		{"trace", required_argument, 0, 'T'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct vmb_guest_config cfg = {0};
	struct vmb_test_guest *tg = NULL;
	bool traffic = false;
	struct vmb_guest *g;
	pthread_t watcher;
	int c, rc;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg.socket_path = optarg; break;
		case 'S': cfg.sysfs_dir = optarg; break;
		case 'T': cfg.trace_path = optarg; break;
		case 'x': traffic = true; break;
		case 'V':
		case 'v': {
			uint32_t v = tool_parse_version(optarg);

			if (!v) {
				fprintf(stderr, "vmbus guest: unknown VMBus version '%s'\n", optarg);
				return 2;
			}
			*(c == 'V' ? &cfg.max_version : &cfg.min_version) = v;
			break;
		}
		case 'h': guest_usage(stdout); return 0;
		default: guest_usage(stderr); return 2;
		}
	}
	if (!cfg.socket_path) {
		guest_usage(stderr);
		return 2;
	}
	tool_catch_signals(&stop);
	rc = vmb_guest_create(&cfg, &g);
	if (rc < 0) {
		fprintf(stderr, "vmbus guest: cannot connect to %s: %s\n", cfg.socket_path,
			strerror(-rc));
		return 1;
	}
	rc = vmb_test_guest_register(g, &tg);
	if (rc == 0 && traffic)
		vmb_test_guest_traffic(tg, true);
	if (rc == 0 && pthread_create(&watcher, NULL, stop_watch, g) == 0) {
		pthread_detach(watcher);
		rc = vmb_guest_wait(g);
	}
	if (tg)
		vmb_test_guest_traffic(tg, false);
	vmb_guest_destroy(g);
	vmb_test_guest_free(tg);
	if (rc == -EPIPE) {
		fprintf(stderr, "vmbus guest: the host went away; exiting\n");
		return 3;
	}
	if (rc < 0) {
		fprintf(stderr, "vmbus guest: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
