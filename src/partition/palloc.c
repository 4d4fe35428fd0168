/* Guest physical page allocator: one bit per RAM page, next-fit search. */
#include <errno.h>
#include <stdlib.h>

#include "partition/part_priv.h"

static bool test_bit(const uint64_t *b, uint64_t i)
{
	return (b[i / 64] >> (i % 64)) & 1;
}

static void flip_bit(uint64_t *b, uint64_t i)
{
	b[i / 64] ^= UINT64_C(1) << (i % 64);
}

int vmb_palloc_init(struct vmb_palloc *a, uint64_t pages, uint64_t reserved)
{
	if (reserved > pages)
		return -EINVAL;
	a->bits = calloc((size_t)((pages + 63) / 64), sizeof(uint64_t));
	if (!a->bits)
		return -ENOMEM;
	a->pages = pages;
	a->reserved = reserved;
	a->next = reserved;
	a->top = reserved;
	a->free = pages - reserved;
	for (uint64_t i = 0; i < reserved; i++)
		flip_bit(a->bits, i);
	return 0;
}

void vmb_palloc_fini(struct vmb_palloc *a)
{
	free(a->bits);
	a->bits = NULL;
}

int vmb_palloc_get(struct vmb_palloc *a, size_t n, uint64_t *pfns)
{
	if (n > a->free)
		return -ENOMEM;
	uint64_t i = a->next;
	for (size_t got = 0; got < n; i = (i + 1) % a->pages) {
		if (a->bits[i / 64] == UINT64_MAX) {
			i |= 63;
			continue;
		}
		if (!test_bit(a->bits, i)) {
			flip_bit(a->bits, i);
			pfns[got++] = i;
			if (i >= a->top)
				a->top = i + 1;
		}
	}
	a->next = i;
	a->free -= n;
	return 0;
}

size_t vmb_palloc_put(struct vmb_palloc *a, const uint64_t *pfns, size_t n)
{
	size_t bad = 0;

	for (size_t i = 0; i < n; i++) {
		if (pfns[i] < a->reserved || pfns[i] >= a->pages || !test_bit(a->bits, pfns[i])) {
			bad++;
			continue;
		}
		flip_bit(a->bits, pfns[i]);
		a->free++;
	}
	return bad;
}
