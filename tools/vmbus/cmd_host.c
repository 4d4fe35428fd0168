/* vmbus host: the VMBus server and the devices of the default VM. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus.h"
#include "devices.h"
#include "vmbus/host.h"

static void host_usage(FILE *f)
{
	fprintf(f, "usage: vmbus host --socket PATH [options]\n"
		   "  --socket PATH        Unix socket the guest connects to\n"
		   "  --vps N              virtual processors (default 2)\n"
		   "  --ram MIB            guest RAM in MiB (default 256)\n"
		   "  --max-version X.Y    newest VMBus version accepted (default 6.0)\n"
		   "  --gpadl-limit MIB    aggregate GPADL limit (default 1280)\n"
		   "  -o KEY=VALUE         device option (repeatable), e.g. test.count=2\n"
		   "  --trace FILE         write every control message as pcapng\n"
		   "  --ctl PATH           serve `vmbus ctl` commands on this socket\n");
}

int cmd_host(int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, 0, 's'},
		{"vps", required_argument, 0, 'p'},
		{"ram", required_argument, 0, 'r'},
		{"max-version", required_argument, 0, 'V'},
		{"gpadl-limit", required_argument, 0, 'g'},
		{"opt", required_argument, 0, 'o'},
		{"trace", required_argument, 0, 'T'},
		{"ctl", required_argument, 0, 'c'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	struct vmb_host_config cfg = {0};
	static volatile sig_atomic_t stop;
	const char *ctl_path = NULL;
	struct vm_opts vo = {0};
	struct vmb_host *h;
	int c, rc;

	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 's': cfg.socket_path = optarg; break;
		case 'p': cfg.vp_count = (unsigned)strtoul(optarg, NULL, 0); break;
		case 'r': cfg.ram_size = strtoull(optarg, NULL, 0) << 20; break;
		case 'g': cfg.gpadl_limit = strtoull(optarg, NULL, 0) << 20; break;
		case 'o':
			if (vm_opt_add(&vo, optarg) < 0) {
				fprintf(stderr, "vmbus host: bad option '%s'\n", optarg);
				return 2;
			}
			break;
		case 'T': cfg.trace_path = optarg; break;
		case 'c': ctl_path = optarg; break;
		case 'V':
			cfg.max_version = tool_parse_version(optarg);
			if (!cfg.max_version) {
				fprintf(stderr, "vmbus host: unknown VMBus version '%s'\n", optarg);
				return 2;
			}
			break;
		case 'h': host_usage(stdout); return 0;
		default: host_usage(stderr); return 2;
		}
	}
	if (!cfg.socket_path) {
		host_usage(stderr);
		return 2;
	}
	tool_catch_signals(&stop);
	rc = vmb_host_create(&cfg, &h);
	if (rc < 0) {
		fprintf(stderr, "vmbus host: cannot start: %s\n", strerror(-rc));
		return 1;
	}
	for (unsigned i = 0; i < vm_device_count && rc == 0; i++) {
		if (!vm_devices[i].host_add)
			continue;
		rc = vm_devices[i].host_add(h, &vo);
		if (rc < 0)
			fprintf(stderr, "vmbus host: cannot add %s: %s\n", vm_devices[i].name,
				strerror(-rc));
	}
	if (rc == 0 && ctl_path)
		rc = vmb_host_ctl_listen(h, ctl_path);
	if (rc == 0) {
		fprintf(stderr, "vmbus host: listening on %s\n", cfg.socket_path);
		rc = vmb_host_run(h, &stop);
	}
	vmb_host_destroy(h);
	if (rc < 0) {
		fprintf(stderr, "vmbus host: %s\n", strerror(-rc));
		return 1;
	}
	return 0;
}
