/* `vmbus ctl disk ...` and the PATH[,size=N][,ro][,direct][,nounmap] disk syntax. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/storage/storvsp_priv.h"

/* 4096, 64K, 512M, 1G, 2T */
int vmb_stor_parse_size(const char *s, uint64_t *out)
{
	char *end;
	unsigned long long v = strtoull(s, &end, 0);
	unsigned shift = 0;

	switch (*end) {
	case 'K':
	case 'k':
		shift = 10;
		break;
	case 'M':
	case 'm':
		shift = 20;
		break;
	case 'G':
	case 'g':
		shift = 30;
		break;
	case 'T':
	case 't':
		shift = 40;
		break;
	case '\0':
		break;
	default:
		return -EINVAL;
	}
	if (end == s || (shift && end[1]) || v > (UINT64_MAX >> shift))
		return -EINVAL;
	*out = (uint64_t)v << shift;
	return 0;
}

int vmb_stor_parse_disk(char *spec, struct vmb_stor_disk_config *d)
{
	char *save = NULL, *tok = strtok_r(spec, ",", &save);

	*d = (struct vmb_stor_disk_config){.path = tok, .unmap = true};
	if (!tok || !*tok)
		return -EINVAL;
	while ((tok = strtok_r(NULL, ",", &save))) {
		if (!strcmp(tok, "ro"))
			d->ro = true;
		else if (!strcmp(tok, "direct"))
			d->direct = true;
		else if (!strcmp(tok, "nounmap"))
			d->unmap = false;
		else if (!strncmp(tok, "size=", 5) && vmb_stor_parse_size(tok + 5, &d->size) == 0)
			continue;
		else
			return -EINVAL;
	}
	return 0;
}

/* A LUN number: decimal or 0x hex, nothing after it, below 256. */
static int parse_lun(const char *s, unsigned *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (end == s || *end || errno || *s == '-' || v >= VMB_SCSI_MAX_LUNS)
		return -EINVAL;
	*out = (unsigned)v;
	return 0;
}

static int ctl_add(struct vmb_stor_ctrl *c, int argc, char **argv, FILE *out)
{
	struct vmb_stor_disk_config d = {.path = argv[0], .unmap = true};
	unsigned n;
	int lun = -1, rc;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--ro")) {
			d.ro = true;
		} else if (!strcmp(argv[i], "--direct")) {
			d.direct = true;
		} else if (!strcmp(argv[i], "--lun") && i + 1 < argc) {
			if (parse_lun(argv[++i], &n) < 0) {
				fprintf(out, "bad LUN %s\n", argv[i]);
				return -EINVAL;
			}
			lun = (int)n;
		} else if (!strcmp(argv[i], "--size") && i + 1 < argc) {
			if (vmb_stor_parse_size(argv[++i], &d.size) < 0)
				return -EINVAL;
		} else {
			fprintf(out, "unknown option %s\n", argv[i]);
			return -EINVAL;
		}
	}
	rc = vmb_stor_lun_add(c, lun, &d);
	if (rc < 0) {
		/* flock() refused: another LUN or another VM has the image. */
		fprintf(out, "disk add %s: %s\n", d.path,
			rc == -EWOULDBLOCK ? "image in use" : strerror(-rc));
		return rc;
	}
	fprintf(out, "lun %d\n", rc);
	return 0;
}

static int ctl_disk(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_stor_ctrl *c = ctx;
	int rc;

	/* argv[0] is the command name. */
	if (argc >= 3 && !strcmp(argv[1], "add"))
		return ctl_add(c, argc - 2, argv + 2, out);
	if (argc == 3 && !strcmp(argv[1], "remove")) {
		unsigned lun;

		rc = parse_lun(argv[2], &lun);
		if (rc == 0)
			rc = vmb_stor_lun_remove(c, lun);
		if (rc < 0)
			fprintf(out, "disk remove %s: %s\n", argv[2], strerror(-rc));
		return rc;
	}
	if (argc == 2 && !strcmp(argv[1], "list")) {
		vmb_stor_lun_list(c, out);
		return 0;
	}
	fprintf(out, "usage: disk add PATH [--lun N] [--size N] [--ro] [--direct] | "
		     "disk remove LUN | disk list\n");
	return -EINVAL;
}

int vmb_stor_register_ctl(struct vmb_host *h, struct vmb_stor_ctrl *c)
{
	return vmb_host_ctl_register(
	    h, "disk", "disk add PATH [--lun N] [--size N] [--ro] | remove LUN | list", ctl_disk,
	    c);
}
