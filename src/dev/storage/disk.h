/*
 * Disk back end: a raw image file (created sparse on demand) served by
 * io_uring, one ring and one completion thread per disk. Submit from any
 * thread; a request done by the time it is submitted (a page-cache hit)
 * completes on the submitting thread before vmb_disk_submit() returns,
 * the others on the disk's thread.
 */
#ifndef VMB_STOR_DISK_H
#define VMB_STOR_DISK_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

struct vmb_disk;

struct vmb_disk_config {
	const char *path;
	uint64_t size; /* create or grow the image to this size; 0 = use the file as is */
	bool ro;
	bool direct; /* O_DIRECT (misaligned buffers go through a bounce buffer) */
};

enum vmb_disk_op {
	VMB_DISK_READ,
	VMB_DISK_WRITE,
	VMB_DISK_FLUSH,	  /* fdatasync */
	VMB_DISK_DISCARD, /* punch a hole: reads back zeros */
};

struct vmb_disk_io {
	enum vmb_disk_op op;
	struct iovec *iov; /* READ/WRITE; the disk may advance it (short transfers) */
	unsigned iovcnt;
	uint64_t offset, length;
	bool fua; /* WRITE: durable before done runs */
	/* res = 0 or -errno; on the disk's thread or inside vmb_disk_submit(). */
	void (*done)(struct vmb_disk_io *io, int res);
	/* private to the disk */
	uint64_t moved;
	void *bounce;
};

int vmb_disk_open(const struct vmb_disk_config *cfg, struct vmb_disk **out);
/* Every submitted I/O must have completed. */
void vmb_disk_close(struct vmb_disk *d);
uint64_t vmb_disk_size(const struct vmb_disk *d);
bool vmb_disk_ro(const struct vmb_disk *d);
const char *vmb_disk_path(const struct vmb_disk *d);
/* 0 = queued (done will run), -errno = rejected (done will not run). */
int vmb_disk_submit(struct vmb_disk *d, struct vmb_disk_io *io);
/*
 * Batching: vmb_disk_queue() prepares io like vmb_disk_submit() but does
 * not tell the kernel; vmb_disk_kick() submits everything queued with one
 * system call and completes the page-cache hits on the calling thread.
 * It returns the kernel's refusal (-errno) if it persists; the requests
 * then stay queued for the next kick or submit, and still complete.
 */
int vmb_disk_queue(struct vmb_disk *d, struct vmb_disk_io *io);
int vmb_disk_kick(struct vmb_disk *d);

#endif
