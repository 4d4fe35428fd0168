/*
 * Byte-granular reads and writes over a disk that only takes whole blocks:
 * the FUSE export's edge handling (read-modify-write of partial blocks).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "dev/storage/fuse_export_priv.h"

#define FX_ZERO_CHUNK (1u << 20)

static uint64_t round_down(uint64_t v, uint32_t bs)
{
	return v & ~(uint64_t)(bs - 1);
}

static uint64_t round_up(uint64_t v, uint32_t bs)
{
	return round_down(v + bs - 1, bs);
}

/* Clamp [off, off+len) to the disk; 0 when nothing of it is inside. */
static size_t clamp(const struct fx_disk *d, uint64_t off, size_t len)
{
	if (off >= d->disk.size)
		return 0;
	return (uint64_t)len > d->disk.size - off ? (size_t)(d->disk.size - off) : len;
}

ssize_t vmb_fx_read(struct fx_disk *d, uint64_t off, void *buf, size_t len)
{
	uint32_t bs = d->disk.block_size;
	uint64_t a, e;
	uint8_t *tmp;
	int rc;

	len = clamp(d, off, len);
	if (!len)
		return 0;
	a = round_down(off, bs);
	e = round_up(off + len, bs);
	pthread_rwlock_rdlock(&d->rmw);
	if (a == off && e == off + len) {
		rc = d->disk.read(d->disk.ctx, off, buf, len);
	} else if (!(tmp = malloc(e - a))) {
		rc = -ENOMEM;
	} else {
		rc = d->disk.read(d->disk.ctx, a, tmp, e - a);
		if (rc == 0)
			memcpy(buf, tmp + (off - a), len);
		free(tmp);
	}
	pthread_rwlock_unlock(&d->rmw);
	return rc < 0 ? rc : (ssize_t)len;
}

/* Read the blocks holding the partial head and tail of [off, off+len) into tmp. */
static int read_edges(struct fx_disk *d, uint64_t a, uint64_t e, uint64_t off, size_t len,
		      uint8_t *tmp)
{
	uint32_t bs = d->disk.block_size;
	int rc = 0;

	if (off != a)
		rc = d->disk.read(d->disk.ctx, a, tmp, bs);
	if (rc == 0 && off + len != e && (e - bs > a || off == a))
		rc = d->disk.read(d->disk.ctx, e - bs, tmp + (e - bs - a), bs);
	return rc;
}

static int write_rmw(struct fx_disk *d, uint64_t off, const void *buf, size_t len)
{
	uint32_t bs = d->disk.block_size;
	uint64_t a = round_down(off, bs), e = round_up(off + len, bs);
	uint8_t *tmp = malloc(e - a);
	int rc;

	if (!tmp)
		return -ENOMEM;
	rc = read_edges(d, a, e, off, len, tmp);
	if (rc == 0) {
		memcpy(tmp + (off - a), buf, len);
		rc = d->disk.write(d->disk.ctx, a, tmp, e - a);
	}
	free(tmp);
	return rc;
}

ssize_t vmb_fx_write(struct fx_disk *d, uint64_t off, const void *buf, size_t len)
{
	uint32_t bs = d->disk.block_size;
	size_t n = clamp(d, off, len);
	int rc;

	if (!n)
		return len ? -ENOSPC : 0;
	if (off % bs == 0 && n % bs == 0) {
		pthread_rwlock_rdlock(&d->rmw);
		rc = d->disk.write(d->disk.ctx, off, buf, n);
	} else {
		/* Exclusive: two RMWs of one block must not interleave. */
		pthread_rwlock_wrlock(&d->rmw);
		rc = write_rmw(d, off, buf, n);
	}
	pthread_rwlock_unlock(&d->rmw);
	return rc < 0 ? rc : (ssize_t)n;
}

static int write_zeros(struct fx_disk *d, uint64_t off, uint64_t len)
{
	size_t chunk = len < FX_ZERO_CHUNK ? (size_t)len : FX_ZERO_CHUNK;
	void *z = calloc(1, chunk ? chunk : 1);
	ssize_t rc = 0;

	if (!z)
		return -ENOMEM;
	while (len && rc >= 0) {
		size_t n = len < chunk ? (size_t)len : chunk;

		rc = vmb_fx_write(d, off, z, n);
		off += n;
		len -= n;
	}
	free(z);
	return rc < 0 ? (int)rc : 0;
}

int vmb_fx_punch(struct fx_disk *d, uint64_t off, uint64_t len)
{
	uint32_t bs = d->disk.block_size;
	uint64_t end, ha, he;
	int rc;

	if (off >= d->disk.size)
		return 0;
	end = len > d->disk.size - off ? d->disk.size : off + len;
	ha = round_up(off, bs);
	he = round_down(end, bs);
	if (!d->disk.discard || ha >= he)
		return write_zeros(d, off, end - off);
	rc = write_zeros(d, off, ha - off);
	if (rc == 0)
		rc = write_zeros(d, he, end - he);
	if (rc == 0) {
		pthread_rwlock_rdlock(&d->rmw);
		rc = d->disk.discard(d->disk.ctx, ha, (size_t)(he - ha));
		pthread_rwlock_unlock(&d->rmw);
	}
	return rc;
}
