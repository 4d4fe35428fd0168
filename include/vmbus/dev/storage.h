/*
 * Host storage: storvsp, the synthetic SCSI controller (VSP side).
 *
 * Each controller is one VMBus device (SCSI class) with up to 256 LUNs on
 * target 0, each LUN a raw image file served through io_uring. Requests
 * are parsed on the host loop thread and completed from the disk's
 * completion thread; the loop never waits for I/O. LUNs may be added and
 * removed while the guest runs: the guest is told with ENUMERATE_BUS.
 */
#ifndef VMBUS_DEV_STORAGE_H
#define VMBUS_DEV_STORAGE_H

#include <stdbool.h>
#include <stdint.h>

#include "vmbus/host.h"
#include "vmbus/proto/guid.h"

struct vmb_stor_ctrl;

struct vmb_stor_disk_config {
	const char *path;
	uint64_t size; /* create (sparse) or grow to this many bytes; 0 = use as is */
	bool ro;
	bool direct; /* O_DIRECT */
	bool unmap;  /* honour UNMAP / WRITE SAME(UNMAP) by punching holes */
};

struct vmb_stor_config {
	struct vmb_guid instance;
	unsigned max_subchannels; /* advertised to the guest; 0 = 16 */
	uint16_t max_version;	  /* newest protocol offered; 0 = 6.2 (Win10) */
};

int vmb_stor_add(struct vmb_host *h, const struct vmb_stor_config *cfg, struct vmb_stor_ctrl **out);
/* Rescind the controller; disks are closed once the guest lets go. */
int vmb_stor_remove(struct vmb_stor_ctrl *c);

/* Attach an image at lun (-1 = lowest free) and tell the guest; returns the LUN. */
int vmb_stor_lun_add(struct vmb_stor_ctrl *c, int lun, const struct vmb_stor_disk_config *d);
/* Detach a LUN after its in-flight I/O completes, then tell the guest. */
int vmb_stor_lun_remove(struct vmb_stor_ctrl *c, unsigned lun);
/* Write one line per LUN: "lun N size BYTES ro|rw PATH". */
void vmb_stor_lun_list(struct vmb_stor_ctrl *c, FILE *out);

/* "PATH[,size=N][,ro][,direct][,nounmap]" (spec is cut up in place; path points into it). */
int vmb_stor_parse_disk(char *spec, struct vmb_stor_disk_config *d);
/* "4096", "64K", "512M", "1G", "2T" */
int vmb_stor_parse_size(const char *s, uint64_t *out);

/* `vmbus ctl disk add PATH [--lun N] [--size N] [--ro] | remove LUN | list`. */
int vmb_stor_register_ctl(struct vmb_host *h, struct vmb_stor_ctrl *c);

#endif
