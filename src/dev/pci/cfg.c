/*
 * Emulated PCI config space: type 0 header, memory BARs with all-ones
 * sizing, one capability (MSI-X or MSI). Every byte has a write mask;
 * BAR sizing falls out of it (the low bits of a BAR are never writable).
 */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/pci.h"

#define CFG_COMMAND	 0x04
#define CFG_STATUS	 0x06
#define CFG_REVISION	 0x08
#define CFG_CACHE_LINE	 0x0c
#define CFG_HEADER_TYPE	 0x0e
#define CFG_BAR0	 0x10
#define CFG_SUBSYS	 0x2c
#define CFG_CAP_PTR	 0x34
#define CFG_INT_LINE	 0x3c
#define CFG_CAP		 0x40
#define CAP_ID_MSI	 0x05
#define CAP_ID_MSIX	 0x11
#define STATUS_CAP_LIST	 0x0010
#define BAR_MEM_TYPE_64	 0x4
#define COMMAND_WRITABLE 0x0547 /* io, memory, master, parity, serr, intx disable */
#define MSIX_PBA_OFFSET	 0x800

static void put(uint8_t *p, uint32_t off, uint32_t size, uint32_t val)
{
	for (uint32_t i = 0; i < size; i++)
		p[off + i] = (uint8_t)(val >> (8 * i));
}

static uint32_t get(const uint8_t *p, uint32_t off, uint32_t size)
{
	uint32_t v = 0;

	for (uint32_t i = 0; i < size; i++)
		v |= (uint32_t)p[off + i] << (8 * i);
	return v;
}

static bool pow2(uint32_t v)
{
	return v && !(v & (v - 1));
}

static int check_bars(const struct vmb_pci_func_desc *d)
{
	for (unsigned i = 0; i < VPCI_NUM_BARS; i++) {
		if (!d->bar_size[i])
			continue;
		if (!pow2(d->bar_size[i]) || d->bar_size[i] < 16)
			return -EINVAL;
		if (d->bar_64[i]) {
			/* The upper dword lives in the next BAR slot. */
			if (i + 1 == VPCI_NUM_BARS || d->bar_size[i + 1])
				return -EINVAL;
			i++;
		}
	}
	return 0;
}

static void init_bars(struct vmb_pci_cfg *c, const struct vmb_pci_func_desc *d)
{
	for (unsigned i = 0; i < VPCI_NUM_BARS; i++) {
		uint32_t off = CFG_BAR0 + 4 * i;

		if (!d->bar_size[i])
			continue;
		c->bar_size[i] = d->bar_size[i];
		put(c->wmask, off, 4, ~(d->bar_size[i] - 1) & ~0xfu);
		if (d->bar_64[i]) {
			c->bar_64[i] = true;
			put(c->space, off, 4, BAR_MEM_TYPE_64);
			put(c->wmask, off + 4, 4, 0xffffffffu);
			i++;
		}
	}
}

static int init_msix(struct vmb_pci_cfg *c, const struct vmb_pci_func_desc *d)
{
	/* The table (16 bytes a vector) and the PBA share BAR 0. */
	if (d->msix_vectors > MSIX_PBA_OFFSET / 16 || d->bar_size[0] < 2 * MSIX_PBA_OFFSET)
		return -EINVAL;
	put(c->space, CFG_CAP, 1, CAP_ID_MSIX);
	put(c->space, CFG_CAP + 2, 2, d->msix_vectors - 1u);
	put(c->wmask, CFG_CAP + 3, 1, 0xc0); /* enable, function mask */
	put(c->space, CFG_CAP + 4, 4, 0);    /* table: BAR 0 offset 0 */
	put(c->space, CFG_CAP + 8, 4, MSIX_PBA_OFFSET);
	return 0;
}

static int init_msi(struct vmb_pci_cfg *c, const struct vmb_pci_func_desc *d)
{
	uint32_t log2 = 0;

	if (!pow2(d->msi_vectors) || d->msi_vectors > 32)
		return -EINVAL;
	while ((1u << log2) < d->msi_vectors)
		log2++;
	put(c->space, CFG_CAP, 1, CAP_ID_MSI);
	put(c->space, CFG_CAP + 2, 2, 0x80 | (log2 << 1)); /* 64-bit address capable */
	put(c->wmask, CFG_CAP + 2, 1, 0x71);		   /* enable, multiple message enable */
	put(c->wmask, CFG_CAP + 4, 4, 0xfffffffcu);
	put(c->wmask, CFG_CAP + 8, 4, 0xffffffffu);
	put(c->wmask, CFG_CAP + 12, 2, 0xffff);
	return 0;
}

int vmb_pci_cfg_init(struct vmb_pci_cfg *c, const struct vmb_pci_func_desc *d)
{
	int rc;

	memset(c, 0, sizeof(*c));
	if (d->vendor == 0xffff || d->vendor == 0 || check_bars(d) < 0)
		return -EINVAL;
	put(c->space, 0, 2, d->vendor);
	put(c->space, 2, 2, d->device);
	put(c->wmask, CFG_COMMAND, 2, COMMAND_WRITABLE);
	put(c->space, CFG_REVISION, 1, d->rev);
	put(c->space, CFG_REVISION + 1, 3, d->class_code);
	put(c->wmask, CFG_CACHE_LINE, 1, 0xff);
	put(c->space, CFG_HEADER_TYPE, 1, 0);
	put(c->space, CFG_SUBSYS, 2, d->subsys_vendor);
	put(c->space, CFG_SUBSYS + 2, 2, d->subsys_device);
	put(c->wmask, CFG_INT_LINE, 1, 0xff);
	init_bars(c, d);
	if (!d->msix_vectors && !d->msi_vectors)
		return 0;
	rc = d->msix_vectors ? init_msix(c, d) : init_msi(c, d);
	if (rc < 0)
		return rc;
	put(c->space, CFG_STATUS, 2, STATUS_CAP_LIST);
	put(c->space, CFG_CAP_PTR, 1, CFG_CAP);
	return 0;
}

static bool access_ok(uint32_t off, uint32_t size)
{
	return (size == 1 || size == 2 || size == 4) &&
	       off < sizeof(((struct vmb_pci_cfg *)0)->space) && (off & (size - 1)) == 0;
}

int vmb_pci_cfg_read(const struct vmb_pci_cfg *c, uint32_t off, uint32_t size, uint32_t *val)
{
	if (!access_ok(off, size))
		return -EINVAL;
	*val = get(c->space, off, size);
	return 0;
}

int vmb_pci_cfg_write(struct vmb_pci_cfg *c, uint32_t off, uint32_t size, uint32_t val)
{
	if (!access_ok(off, size))
		return -EINVAL;
	for (uint32_t i = 0; i < size; i++) {
		uint8_t m = c->wmask[off + i];
		uint8_t b = (uint8_t)(val >> (8 * i));

		c->space[off + i] = (uint8_t)((c->space[off + i] & ~m) | (b & m));
	}
	return 0;
}

uint32_t vmb_pci_cfg_probed_bar(const struct vmb_pci_cfg *c, unsigned i)
{
	uint32_t off = CFG_BAR0 + 4 * i;
	uint32_t m;

	if (i >= VPCI_NUM_BARS)
		return 0;
	m = get(c->wmask, off, 4);
	return m | (get(c->space, off, 4) & ~m);
}
