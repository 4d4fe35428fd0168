/*
 * Guest memory for GPA-direct I/O: a device hands the host the page
 * numbers of its buffers, so every buffer address must map back to PFNs.
 */
#include <errno.h>
#include <stdlib.h>

#include "guest/guest_priv.h"

void *vmb_guest_alloc_dma(struct vmb_guest *g, size_t bytes, uint64_t *first_pfn)
{
	size_t npages = (bytes + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE;
	struct vmb_dma *d;

	if (!bytes || bytes > ((size_t)1 << 30))
		return NULL;
	d = calloc(1, sizeof(*d));
	if (!d || !(d->pfns = calloc(npages, sizeof(*d->pfns))))
		goto out_free;
	if (vmb_guest_part_alloc(g->part, npages, d->pfns))
		goto out_free;
	if (vmb_guest_part_map(g->part, d->pfns, npages, false, &d->map)) {
		vmb_guest_part_free(g->part, d->pfns, npages);
		goto out_free;
	}
	if (first_pfn)
		*first_pfn = d->pfns[0];
	pthread_mutex_lock(&g->lock);
	d->next = g->dmas;
	g->dmas = d;
	pthread_mutex_unlock(&g->lock);
	return d->map.addr;
out_free:
	if (d)
		free(d->pfns);
	free(d);
	return NULL;
}

void vmb_guest_free_dma(struct vmb_guest *g, void *va, size_t bytes)
{
	struct vmb_dma *d = NULL;

	(void)bytes;
	pthread_mutex_lock(&g->lock);
	for (struct vmb_dma **pp = &g->dmas; *pp; pp = &(*pp)->next) {
		if ((*pp)->map.addr == va) {
			d = *pp;
			*pp = d->next;
			break;
		}
	}
	pthread_mutex_unlock(&g->lock);
	if (!d) {
		if (va)
			vmb_guest_log(g, "free_dma: %p was not allocated here", va);
		return;
	}
	vmb_guest_part_unmap(g->part, &d->map);
	vmb_guest_part_free(g->part, d->pfns, d->map.npages);
	free(d->pfns);
	free(d);
}

int vmb_guest_alloc_pages(struct vmb_guest *g, size_t n, uint64_t *pfns)
{
	return vmb_guest_part_alloc(g->part, n, pfns);
}

void vmb_guest_free_pages(struct vmb_guest *g, const uint64_t *pfns, size_t n)
{
	vmb_guest_part_free(g->part, pfns, n);
}

uint64_t vmb_guest_ram_pages(const struct vmb_guest *g)
{
	return vmb_guest_part_pages(g->part);
}

uint64_t vmb_guest_free_page_count(struct vmb_guest *g)
{
	return vmb_guest_part_free_pages(g->part);
}

void *vmb_guest_gpa(struct vmb_guest *g, uint64_t gpa, size_t len)
{
	return vmb_guest_part_gpa(g->part, gpa, len);
}

/*
 * PFN behind va if it lies in m (backed by pfns). A ring mapping's second
 * view of the data aliases pages 1..n-1.
 */
static bool map_lookup(const struct vmb_mapping *m, const uint64_t *pfns, bool ring, const void *va,
		       uint64_t *pfn)
{
	const uint8_t *base = m->addr, *p = va;
	size_t page;

	if (!base || p < base || p >= base + m->len)
		return false;
	page = (size_t)(p - base) / HV_PAGE_SIZE;
	if (ring && page >= m->npages)
		page = 1 + (page - m->npages);
	if (page >= m->npages)
		return false;
	*pfn = pfns[page];
	return true;
}

static bool ring_lookup(struct vmb_guest *g, const void *va, uint64_t *pfn)
{
	for (struct vmb_device *d = g->devs; d; d = d->next) {
		for (struct vmb_gchan *gc = d->chans; gc; gc = gc->next) {
			if (!gc->ring || !gc->ring->pfns)
				continue;
			if (map_lookup(&gc->out_map, gc->ring->pfns, true, va, pfn) ||
			    map_lookup(&gc->in_map, gc->ring->pfns + gc->out_map.npages, true, va,
				       pfn))
				return true;
		}
	}
	return false;
}

static bool find_pfn(struct vmb_guest *g, const void *va, uint64_t *pfn)
{
	for (struct vmb_dma *d = g->dmas; d; d = d->next)
		if (map_lookup(&d->map, d->pfns, false, va, pfn))
			return true;
	for (struct vmb_gpadl *gp = g->gpadls; gp; gp = gp->next)
		if (gp->dev && map_lookup(&gp->map, gp->pfns, false, va, pfn))
			return true;
	return ring_lookup(g, va, pfn);
}

int vmb_guest_va_to_pfn(struct vmb_guest *g, const void *va, uint64_t *pfn)
{
	bool found;

	if (!g || !pfn)
		return -EINVAL;
	pthread_mutex_lock(&g->lock);
	found = find_pfn(g, va, pfn);
	pthread_mutex_unlock(&g->lock);
	return found ? 0 : -EFAULT;
}
