/* vmbus ls: list the guest's devices from its sysfs-style tree, like lsvmbus. */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus.h"
#include "vmbus/msg.h"

#define LS_MAX_DEVS 512
#define LS_MAX_CHANS 65

struct ls_chan {
	unsigned relid, cpu;
	long read_avail, write_avail, in_mask, out_mask;
};

struct ls_dev {
	unsigned id;
	char class_id[64], device_id[64], driver[64];
	struct ls_chan chans[LS_MAX_CHANS];
	unsigned nchans;
};

/* First line of a file, trailing newline removed; "" when missing. */
static void read_line(const char *dir, const char *name, char *buf, size_t len)
{
	char path[4800];
	FILE *f;

	buf[0] = 0;
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return;
	if (fgets(buf, (int)len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static long read_num(const char *dir, const char *name)
{
	char buf[64];

	read_line(dir, name, buf, sizeof(buf));
	return buf[0] ? strtol(buf, NULL, 0) : -1;
}

static int cmp_chan(const void *a, const void *b)
{
	const struct ls_chan *x = a, *y = b;

	return (x->relid > y->relid) - (x->relid < y->relid);
}

static void load_channels(const char *devdir, struct ls_dev *d)
{
	char path[4400];
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/channels", devdir);
	dir = opendir(path);
	if (!dir)
		return;
	while ((e = readdir(dir)) && d->nchans < LS_MAX_CHANS) {
		char cdir[4700];
		struct ls_chan *c = &d->chans[d->nchans];

		if (e->d_name[0] == '.')
			continue;
		snprintf(cdir, sizeof(cdir), "%s/%s", path, e->d_name);
		c->relid = (unsigned)strtoul(e->d_name, NULL, 10);
		c->cpu = (unsigned)read_num(cdir, "cpu");
		c->read_avail = read_num(cdir, "read_avail");
		c->write_avail = read_num(cdir, "write_avail");
		c->in_mask = read_num(cdir, "in_mask");
		c->out_mask = read_num(cdir, "out_mask");
		d->nchans++;
	}
	closedir(dir);
	qsort(d->chans, d->nchans, sizeof(d->chans[0]), cmp_chan);
}

static int cmp_dev(const void *a, const void *b)
{
	const struct ls_dev *x = a, *y = b;

	return (x->id > y->id) - (x->id < y->id);
}

static int load(const char *sysfs, struct ls_dev *devs, unsigned *n)
{
	char path[4096];
	struct dirent *e;
	DIR *dir;

	snprintf(path, sizeof(path), "%s/devices", sysfs);
	dir = opendir(path);
	if (!dir)
		return -errno;
	*n = 0;
	while ((e = readdir(dir)) && *n < LS_MAX_DEVS) {
		char ddir[4352];
		struct ls_dev *d = &devs[*n];

		if (e->d_name[0] == '.')
			continue;
		memset(d, 0, sizeof(*d));
		snprintf(ddir, sizeof(ddir), "%s/%s", path, e->d_name);
		d->id = (unsigned)read_num(ddir, "id");
		read_line(ddir, "class_id", d->class_id, sizeof(d->class_id));
		read_line(ddir, "device_id", d->device_id, sizeof(d->device_id));
		read_line(ddir, "driver", d->driver, sizeof(d->driver));
		load_channels(ddir, d);
		(*n)++;
	}
	closedir(dir);
	qsort(devs, *n, sizeof(devs[0]), cmp_dev);
	return 0;
}

static const char *class_name(const char *braced)
{
	struct vmb_guid g;
	char bare[64];
	const char *name;

	snprintf(bare, sizeof(bare), "%s", braced[0] == '{' ? braced + 1 : braced);
	bare[strcspn(bare, "}")] = 0;
	if (vmb_guid_parse(bare, &g) < 0)
		return "Unknown";
	name = vmb_class_name(&g);
	return name ? name : "Unknown";
}

static void print_text(const struct ls_dev *devs, unsigned n, bool verbose)
{
	for (unsigned i = 0; i < n; i++) {
		const struct ls_dev *d = &devs[i];

		printf("VMBUS ID %2u: Class_ID = %s - %s\n", d->id, d->class_id,
		       class_name(d->class_id));
		printf("\tDevice_ID = %s\n", d->device_id);
		printf("\tDriver = %s\n", d->driver[0] ? d->driver : "(none)");
		for (unsigned k = 0; k < d->nchans; k++) {
			const struct ls_chan *c = &d->chans[k];

			printf("\tRel_ID=%u, target_cpu=%u\n", c->relid, c->cpu);
			if (verbose)
				printf("\t\tin: read_avail=%ld mask=%ld  out: write_avail=%ld "
				       "mask=%ld\n",
				       c->read_avail, c->in_mask, c->write_avail, c->out_mask);
		}
	}
}

static void print_json(const struct ls_dev *devs, unsigned n)
{
	printf("[");
	for (unsigned i = 0; i < n; i++) {
		const struct ls_dev *d = &devs[i];

		printf("%s\n  {\"id\": %u, \"class_id\": \"%s\", \"class_name\": \"%s\", "
		       "\"device_id\": \"%s\", \"driver\": \"%s\", \"channels\": [",
		       i ? "," : "", d->id, d->class_id, class_name(d->class_id), d->device_id,
		       d->driver);
		for (unsigned k = 0; k < d->nchans; k++) {
			const struct ls_chan *c = &d->chans[k];

			printf("%s{\"relid\": %u, \"cpu\": %u, \"read_avail\": %ld, "
			       "\"write_avail\": %ld, \"in_mask\": %ld, \"out_mask\": %ld}",
			       k ? ", " : "", c->relid, c->cpu, c->read_avail, c->write_avail,
			       c->in_mask, c->out_mask);
		}
		printf("]}");
	}
	printf("\n]\n");
}

int cmd_ls(int argc, char **argv)
{
	static const struct option opts[] = {
		{"run-dir", required_argument, 0, 'd'},
		{"sysfs", required_argument, 0, 's'},
		{"verbose", no_argument, 0, 'v'},
		{"json", no_argument, 0, 'j'},
		{"help", no_argument, 0, 'h'},
		{0, 0, 0, 0},
	};
	char dir[1024], sysfs[1100];
	const char *run_dir = NULL, *tree = NULL;
	bool verbose = false, json = false;
	static struct ls_dev devs[LS_MAX_DEVS];
	unsigned n = 0;
	int c, rc;

	while ((c = getopt_long(argc, argv, "vh", opts, NULL)) != -1) {
		switch (c) {
		case 'd': run_dir = optarg; break;
		case 's': tree = optarg; break;
		case 'v': verbose = true; break;
		case 'j': json = true; break;
		case 'h':
			printf("usage: vmbus ls [-v] [--json] [--run-dir DIR | --sysfs DIR]\n");
			return 0;
		default: return 2;
		}
	}
	if (!tree) {
		snprintf(sysfs, sizeof(sysfs), "%s/sysfs", tool_run_dir(run_dir, dir, sizeof(dir)));
		tree = sysfs;
	}
	rc = load(tree, devs, &n);
	if (rc < 0) {
		fprintf(stderr, "vmbus ls: no guest tree at %s (is `vmbus run` up?): %s\n", tree,
			strerror(-rc));
		return 1;
	}
	if (json)
		print_json(devs, n);
	else
		print_text(devs, n, verbose);
	return 0;
}
