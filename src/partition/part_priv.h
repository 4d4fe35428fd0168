/* Pieces shared by the host and guest sides of the partition (private). */
#ifndef VMB_PARTITION_PRIV_H
#define VMB_PARTITION_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/partition.h"

/* The SINT VMBus uses for its messages and channel events (PROTOCOL.md 1.1). */
#define VMB_VMBUS_SINT 2

/*
 * A VP's interrupt eventfd counts SynIC kicks (1 each) in its low 32 bits;
 * a direct-mode synthetic timer n adds its expiries in an 8-bit field
 * above them, so one read tells the VP thread both.
 */
#define VMB_KICK_DIRECT_SHIFT(n) (32u + 8u * (n))
#define VMB_KICK_DIRECT_MAX	 0xffu

/* Event-flag bitmaps are touched as 64-bit words by both sides. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "flag bitmap byte order");

typedef void (*vmb_log_fn)(void *ctx, const char *msg);

/* One log line through fn, or stderr when fn is NULL. */
void vmb_part_log(vmb_log_fn fn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* A fresh zero-filled memfd of size bytes. Returns the fd or -errno. */
int vmb_mem_create(size_t size);

/* Map pfns (see vmb_host_part_map) of the memfd fd holding ram_pages pages,
 * mapped whole at ram in this process. */
int vmb_mem_map(int fd, uint8_t *ram, uint64_t ram_pages, const uint64_t *pfns, size_t n,
		bool ring, struct vmb_mapping *m);
void vmb_mem_unmap(struct vmb_mapping *m);
/* Release pages [first, first+count) of the memfd: they read as zeros again. */
int vmb_mem_discard(int fd, uint64_t ram_pages, uint64_t first, uint64_t count);
/* Bytes of the memfd backed by memory (allocated blocks). */
int vmb_mem_resident(int fd, uint64_t *bytes);

/* Guest page allocator: a bitmap over RAM, pages [0, reserved) never given. */
struct vmb_palloc {
	uint64_t *bits;
	uint64_t pages;
	uint64_t reserved;
	uint64_t next; /* where the next search starts */
	uint64_t free;
	uint64_t top; /* pages at or above were never handed out */
};

int vmb_palloc_init(struct vmb_palloc *a, uint64_t pages, uint64_t reserved);
void vmb_palloc_fini(struct vmb_palloc *a);
int vmb_palloc_get(struct vmb_palloc *a, size_t n, uint64_t *pfns);
/* Returns the number of pfns that were not allocated (and were skipped). */
size_t vmb_palloc_put(struct vmb_palloc *a, const uint64_t *pfns, size_t n);

#endif
