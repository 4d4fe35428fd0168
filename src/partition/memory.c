/*
 * Guest RAM is a memfd, mapped whole in each process. A page list of
 * contiguous PFNs is simply a view into that mapping: no system call to
 * set up, none (and no TLB shootdown) to tear down, and the pages are
 * usually present already. Any other list is mapped by reserving an
 * inaccessible range and mapping each run of contiguous PFNs over it
 * with MAP_FIXED; a ring's data pages are mapped a second time right
 * after the first view.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "partition/part_priv.h"

int vmb_mem_create(size_t size)
{
	int fd = memfd_create("vmbus-guest-ram", MFD_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (ftruncate(fd, (off_t)size) < 0) {
		int err = -errno;
		close(fd);
		return err;
	}
	return fd;
}

/* Map pfns[0..n) at base, one mmap per run of consecutive PFNs. */
static int map_runs(int fd, uint8_t *base, const uint64_t *pfns, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t run = 1;
		while (i + run < n && pfns[i + run] == pfns[i] + run)
			run++;
		void *p = mmap(base + i * HV_PAGE_SIZE, run * HV_PAGE_SIZE, PROT_READ | PROT_WRITE,
			       MAP_SHARED | MAP_FIXED, fd, (off_t)(pfns[i] << HV_PAGE_SHIFT));
		if (p == MAP_FAILED)
			return -errno;
		i += run;
	}
	return 0;
}

static bool contiguous(const uint64_t *pfns, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (pfns[i] != pfns[0] + i)
			return false;
	return true;
}

int vmb_mem_map(int fd, uint8_t *ram, uint64_t ram_pages, const uint64_t *pfns, size_t n,
		bool ring, struct vmb_mapping *m)
{
	if (n == 0 || (ring && n < 2) || n > ram_pages * 2)
		return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		if (pfns[i] >= ram_pages)
			return -EINVAL;
	}
	if (contiguous(pfns, n)) {
		*m = (struct vmb_mapping){ram + (pfns[0] << HV_PAGE_SHIFT), n * HV_PAGE_SIZE, n,
					  true};
		return 0;
	}
	size_t total = ring ? 2 * n - 1 : n;
	uint8_t *base = mmap(NULL, total * HV_PAGE_SIZE, PROT_NONE,
			     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (base == MAP_FAILED)
		return -errno;
	int err = map_runs(fd, base, pfns, n);
	if (!err && ring)
		err = map_runs(fd, base + n * HV_PAGE_SIZE, pfns + 1, n - 1);
	if (err) {
		munmap(base, total * HV_PAGE_SIZE);
		return err;
	}
	*m = (struct vmb_mapping){base, total * HV_PAGE_SIZE, n, false};
	return 0;
}

void vmb_mem_unmap(struct vmb_mapping *m)
{
	if (m->addr && !m->view)
		munmap(m->addr, m->len);
	*m = (struct vmb_mapping){0};
}

int vmb_mem_discard(int fd, uint64_t ram_pages, uint64_t first, uint64_t count)
{
	if (count == 0 || first >= ram_pages || count > ram_pages - first)
		return -EINVAL;
	/* Every mapping of the memfd (both processes) sees zeros from now on. */
	if (fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
		      (off_t)(first << HV_PAGE_SHIFT), (off_t)(count << HV_PAGE_SHIFT)) < 0)
		return -errno;
	return 0;
}

int vmb_mem_resident(int fd, uint64_t *bytes)
{
	struct stat st;

	if (fstat(fd, &st) < 0)
		return -errno;
	*bytes = (uint64_t)st.st_blocks * 512;
	return 0;
}
