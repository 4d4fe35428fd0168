/* vmbus guest: the VMBus client and the drivers of every device we have. */
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmbus.h"
#include "devices.h"
#include "vmbus/guest.h"

static void guest_usage(FILE *f)
{
	fprintf(f, "usage: vmbus guest --socket PATH [options]\n"
		   "  --socket PATH        the host's socket\n"
		   "  --sysfs DIR          publish a /sys/bus/vmbus-style tree in DIR\n"
		   "  --max-version X.Y    newest VMBus version tried (default 6.0)\n"
		   "  --min-version X.Y    oldest VMBus version tried (default 0.13)\n"
		   "  -o KEY=VALUE         device option (repeatable), e.g. test.traffic=1\n"
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
		{"opt", required_argument, 0, 'o'},
		{"trace", required_argument, 0, 'T'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct vmb_guest_config cfg = {0};
	void *state[VM_MAX_DEVICES] = {0};
	struct vm_opts vo = {0};
	struct vmb_guest *g;
	pthread_t watcher;
	int c, rc;

	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg.socket_path = optarg; break;
		case 'S': cfg.sysfs_dir = optarg; break;
		case 'T': cfg.trace_path = optarg; break;
		case 'o':
			if (vm_opt_add(&vo, optarg) < 0) {
				fprintf(stderr, "vmbus guest: bad option '%s'\n", optarg);
				return 2;
			}
			break;
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
	for (unsigned i = 0; i < vm_device_count && i < VM_MAX_DEVICES && rc == 0; i++) {
		rc = vm_devices[i].guest_register(g, &vo, &state[i]);
		if (rc < 0)
			fprintf(stderr, "vmbus guest: cannot register %s: %s\n", vm_devices[i].name,
				strerror(-rc));
	}
	if (rc == 0 && pthread_create(&watcher, NULL, stop_watch, g) == 0) {
		pthread_detach(watcher);
		rc = vmb_guest_wait(g);
	}
	for (unsigned i = 0; i < vm_device_count && i < VM_MAX_DEVICES; i++)
		if (state[i] && vm_devices[i].guest_stop)
			vm_devices[i].guest_stop(state[i]);
	vmb_guest_destroy(g);
	for (unsigned i = 0; i < vm_device_count && i < VM_MAX_DEVICES; i++)
		if (state[i] && vm_devices[i].guest_free)
			vm_devices[i].guest_free(state[i]);
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
