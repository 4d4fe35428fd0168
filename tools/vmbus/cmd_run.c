/* vmbus run: a whole VM = `vmbus host` + `vmbus guest`, until Ctrl-C. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmbus.h"

static void run_usage(FILE *f)
{
	fprintf(f, "usage: vmbus run [options]\n"
		   "  --run-dir DIR        socket + sysfs tree (default $XDG_RUNTIME_DIR/vmbus\n"
		   "                       or /tmp/vmbus-UID)\n"
		   "  --vps N              virtual processors (default 2)\n"
		   "  --ram MIB            guest RAM in MiB (default 256)\n"
		   "  --max-version X.Y    newest VMBus version the host accepts\n"
		   "  -o KEY=VALUE         device option for host and guest (repeatable)\n"
		   "  --trace FILE         pcapng of the control path (host view)\n"
		   "  --exit-when-ready    stop once every device is bound (scripts, tests)\n");
}

static pid_t spawn(char *const argv[])
{
	pid_t pid = fork();

	if (pid == 0) {
		/*
		 * A process group of its own: Ctrl-C reaches only `vmbus run`,
		 * which stops the guest (UNLOAD) before the host.
		 */
		setpgid(0, 0);
		execv("/proc/self/exe", argv);
		perror("vmbus run: exec");
		_exit(127);
	}
	return pid;
}

static bool wait_path(const char *path, pid_t child, int timeout_ms)
{
	for (int t = 0; t < timeout_ms; t += 20) {
		if (access(path, F_OK) == 0)
			return true;
		if (waitpid(child, NULL, WNOHANG) == child)
			return false;
		usleep(20000);
	}
	return false;
}

/* Devices in the guest's tree that have no driver bound yet (-1: no tree). */
static int unbound_devices(const char *sysfs)
{
	char path[1200], drv[1600];
	struct dirent *e;
	int n = 0;
	DIR *d;

	snprintf(path, sizeof(path), "%s/devices", sysfs);
	d = opendir(path);
	if (!d)
		return -1;
	while ((e = readdir(d))) {
		if (e->d_name[0] == '.')
			continue;
		snprintf(drv, sizeof(drv), "%s/%s/driver", path, e->d_name);
		n += access(drv, F_OK) != 0;
	}
	closedir(d);
	return n;
}

/*
 * Every offered device shows up in the tree at once; wait (bounded) until
 * each has its driver, so the listing shows the VM as it will run.
 */
static void wait_all_bound(const char *sysfs, int timeout_ms)
{
	for (int t = 0; t < timeout_ms && unbound_devices(sysfs) != 0; t += 50)
		usleep(50000);
}

static int stop_child(pid_t pid)
{
	int status = 0;

	if (pid <= 0)
		return 0;
	kill(pid, SIGTERM);
	for (int t = 0; t < 5000; t += 20) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return status;
		usleep(20000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return status;
}

static void rm_tree(const char *path)
{
	char cmd[4200];

	/* Only our own sysfs tree below the run directory. */
	snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", path);
	if (system(cmd) != 0)
		fprintf(stderr, "vmbus run: cannot clean %s\n", path);
}

int cmd_run(int argc, char **argv)
{
	static const struct option opts[] = {
		{"run-dir", required_argument, 0, 'd'},
		{"vps", required_argument, 0, 'p'},
		{"ram", required_argument, 0, 'r'},
		{"max-version", required_argument, 0, 'V'},
		{"trace", required_argument, 0, 'T'},
		{"opt", required_argument, 0, 'o'},
		{"exit-when-ready", no_argument, 0, 'e'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	char dir[1024], sock[1100], sysfs[1100], ready[1200], ctl[1100], run_opt[1100];
	const char *run_dir = NULL;
	/* Devices keep their files (disk images, KVP pools...) in the run dir. */
	char *host_argv[64] = {"vmbus", "host", "--socket", sock, "--ctl", ctl, "-o", run_opt};
	char *guest_argv[64] = {"vmbus", "guest", "--socket", sock, "--sysfs", sysfs, "-o", run_opt};
	int nh = 8, ng = 8, c, rc = 0;
	bool exit_when_ready = false;
	static volatile sig_atomic_t stop;

	while ((c = getopt_long(argc, argv, "ho:", opts, NULL)) != -1) {
		switch (c) {
		case 'd': run_dir = optarg; break;
		case 'p': host_argv[nh++] = "--vps"; host_argv[nh++] = optarg; break;
		case 'r': host_argv[nh++] = "--ram"; host_argv[nh++] = optarg; break;
		case 'V': host_argv[nh++] = "--max-version"; host_argv[nh++] = optarg; break;
		case 'T': host_argv[nh++] = "--trace"; host_argv[nh++] = optarg; break;
		case 'o':
			if (nh + 2 >= 62 || ng + 2 >= 62) {
				fprintf(stderr, "vmbus run: too many options\n");
				return 2;
			}
			host_argv[nh++] = "-o";
			host_argv[nh++] = optarg;
			guest_argv[ng++] = "-o";
			guest_argv[ng++] = optarg;
			break;
		case 'e': exit_when_ready = true; break;
		case 'h': run_usage(stdout); return 0;
		default: run_usage(stderr); return 2;
		}
	}
	tool_run_dir(run_dir, dir, sizeof(dir));
	if (tool_mkdirs(dir) < 0) {
		fprintf(stderr, "vmbus run: cannot create %s: %s\n", dir, strerror(errno));
		return 1;
	}
	snprintf(sock, sizeof(sock), "%s/host.sock", dir);
	snprintf(run_opt, sizeof(run_opt), "run_dir=%s", dir);
	snprintf(sysfs, sizeof(sysfs), "%s/sysfs", dir);
	snprintf(ctl, sizeof(ctl), "%s/ctl.sock", dir);
	/* Ready = the test device's driver is bound (its `driver` file exists). */
	snprintf(ready, sizeof(ready), "%s/devices/7e570000-0001-4000-8000-000000000000/driver",
		 sysfs);
	rm_tree(sysfs);
	unlink(sock);
	tool_catch_signals(&stop);

	pid_t host = spawn(host_argv);
	if (!wait_path(sock, host, 5000)) {
		fprintf(stderr, "vmbus run: the host did not start\n");
		stop_child(host);
		return 1;
	}
	pid_t guest = spawn(guest_argv);
	if (!wait_path(ready, guest, 15000)) {
		fprintf(stderr, "vmbus run: the test device did not bind in the guest\n");
		rc = 1;
	} else {
		char *ls_argv[] = {"ls", "--sysfs", sysfs, NULL};

		wait_all_bound(sysfs, 10000);
		optind = 1;
		cmd_ls(3, ls_argv);
		printf("VM running (run dir %s); Ctrl-C to stop.\n", dir);
		fflush(stdout);
	}
	while (rc == 0 && !stop && !exit_when_ready) {
		int status;

		if (waitpid(guest, &status, WNOHANG) == guest) {
			fprintf(stderr, "vmbus run: the guest exited (status %d)\n", status);
			guest = 0;
			rc = 1;
		} else if (waitpid(host, &status, WNOHANG) == host) {
			fprintf(stderr, "vmbus run: the host exited (status %d)\n", status);
			host = 0;
			rc = 1;
		} else {
			usleep(100000);
		}
	}
	/* The guest first: it closes its devices and UNLOADs cleanly. */
	stop_child(guest);
	stop_child(host);
	return rc;
}
