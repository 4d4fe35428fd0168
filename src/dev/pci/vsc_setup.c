/*
 * VPCI guest: bringing one function up and down, in Linux's order
 * (QUERY_RESOURCE_REQUIREMENTS, BUS_D0ENTRY once per bus, BARs,
 * RESOURCES_ASSIGNED*, CREATE_INTERRUPT_MESSAGE*). Runs on the bus worker
 * thread, so it may wait for the host.
 */
#include <errno.h>
#include <string.h>

#include "pci_guest.h"

/*
 * Guest "MMIO" addresses. Nothing decodes them in our partition: they are
 * what the guest tells the host it put where, as Linux would after
 * allocating from the VMBus MMIO gap.
 */
#define CFG_WINDOW_GPA	0xf8000000ull
#define MMIO32_BASE	0xc0000000ull
#define MMIO32_END	0xf8000000ull
#define MMIO64_BASE	0x1000000000ull
#define MSI_VECTOR_BASE 0x30
#define CFG_COMMAND	0x04
#define CFG_BAR0	0x10
#define CFG_CAP_PTR	0x34
#define CMD_MEM_MASTER	0x0006
#define CAP_ID_MSI	0x05
#define CAP_ID_MSIX	0x11

static bool pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static int child(struct gbus *gb, uint32_t type, unsigned dev, void *resp, size_t cap,
		 size_t min_len)
{
	struct pci_child_message m = {.type = type, .wslot = VPCI_WSLOT(dev, 0)};

	return vmb_vpci_guest_req(gb, &m, sizeof(m), resp, cap, min_len);
}

/* Sizes from the probed BAR values; I/O BARs and odd masks are refused. */
static int decode_bars(struct gbus *gb, struct gfn *f)
{
	for (unsigned i = 0; i < VPCI_NUM_BARS; i++) {
		uint32_t p = f->probed[i];
		uint64_t mask = p & ~0xfu;

		f->bar_size[i] = 0;
		if (!p)
			continue;
		if (p & 1)
			goto bad;
		if ((p & 6) == 4) {
			if (i + 1 == VPCI_NUM_BARS)
				goto bad;
			mask |= (uint64_t)f->probed[i + 1] << 32;
		} else {
			mask |= 0xffffffff00000000ull;
		}
		if (!pow2(~mask + 1) || (mask & 0xf))
			goto bad;
		f->bar_size[i] = ~mask + 1;
		if ((p & 6) == 4)
			f->bar_size[++i] = 0;
	}
	return 0;
bad:
	vmb_vpci_guest_logf(gb, "vpci: host gave an unusable BAR size for %04x:%04x", f->desc.v_id,
			    f->desc.d_id);
	return -EPROTO;
}

int vmb_vpci_guest_query(struct gbus *gb, unsigned dev)
{
	struct pci_q_res_req_response r;
	struct gfn *f = &gb->fn[dev];
	int rc;

	rc = child(gb, PCI_QUERY_RESOURCE_REQUIREMENTS, dev, &r, sizeof(r), sizeof(r));
	if (rc < 0)
		return rc;
	memcpy(f->probed, r.probed_bar, sizeof(f->probed));
	return decode_bars(gb, f);
}

int vmb_vpci_guest_d0_entry(struct gbus *gb)
{
	struct pci_bus_d0_entry m = {.type = PCI_BUS_D0ENTRY, .mmio_base = CFG_WINDOW_GPA};
	int32_t st;
	int rc;

	if (gb->d0)
		return 0;
	rc = vmb_vpci_guest_req(gb, &m, sizeof(m), &st, sizeof(st), sizeof(st));
	if (rc == 0)
		gb->d0 = true;
	return rc;
}

static int cfg_read(struct gbus *gb, unsigned dev, uint32_t off, uint32_t size, uint32_t *val)
{
	struct vpci_ext_cfg m = {VPCI_EXT_CFG_READ, VPCI_WSLOT(dev, 0), off, size, 0, 0};
	struct vpci_ext_cfg_response r;
	int rc = vmb_vpci_guest_req(gb, &m, sizeof(m), &r, sizeof(r), sizeof(r));

	if (rc == 0)
		*val = r.value;
	return rc;
}

static int cfg_write(struct gbus *gb, unsigned dev, uint32_t off, uint32_t size, uint32_t val)
{
	struct vpci_ext_cfg m = {VPCI_EXT_CFG_WRITE, VPCI_WSLOT(dev, 0), off, size, val, 0};
	struct vpci_ext_cfg_response r;

	return vmb_vpci_guest_req(gb, &m, sizeof(m), &r, sizeof(r), sizeof(r));
}

static int alloc_mmio(struct gbus *gb, uint64_t size, bool wide, uint64_t *addr)
{
	uint64_t *next = wide ? &gb->next_mmio64 : &gb->next_mmio32;
	uint64_t a;

	if (!*next)
		*next = wide ? MMIO64_BASE : MMIO32_BASE;
	a = (*next + size - 1) & ~(size - 1);

	if (!wide && (size > MMIO32_END || a > MMIO32_END - size))
		return -ENOSPC;
	*addr = a;
	*next = a + size;
	return 0;
}

/* Size the BAR the PCI way (all-ones, read back) and place it. */
static int program_bar(struct gbus *gb, unsigned dev, unsigned i)
{
	struct gfn *f = &gb->fn[dev];
	bool wide = (f->probed[i] & 6) == 4;
	uint32_t off = CFG_BAR0 + 4 * i, got;
	int rc;

	rc = cfg_write(gb, dev, off, 4, 0xffffffffu);
	if (rc == 0)
		rc = cfg_read(gb, dev, off, 4, &got);
	if (rc == 0 && got != f->probed[i]) {
		vmb_vpci_guest_logf(gb, "vpci: BAR %u of slot %u sizes to 0x%x, host said 0x%x", i,
				    dev, got, f->probed[i]);
		rc = -EPROTO;
	}
	if (rc == 0)
		rc = alloc_mmio(gb, f->bar_size[i], wide, &f->bar_addr[i]);
	if (rc == 0)
		rc = cfg_write(gb, dev, off, 4, (uint32_t)f->bar_addr[i]);
	if (rc == 0 && wide)
		rc = cfg_write(gb, dev, off + 4, 4, (uint32_t)(f->bar_addr[i] >> 32));
	return rc;
}

static int resources_assigned(struct gbus *gb, unsigned dev)
{
	struct pci_resources_assigned2 m;
	struct gfn *f = &gb->fn[dev];
	int32_t st;
	size_t len = sizeof(m);

	memset(&m, 0, sizeof(m));
	m.type = gb->version >= PCI_PROTOCOL_VERSION_1_2 ? PCI_RESOURCES_ASSIGNED2
							 : PCI_RESOURCES_ASSIGNED;
	if (m.type == PCI_RESOURCES_ASSIGNED)
		len = sizeof(struct pci_resources_assigned);
	m.wslot = VPCI_WSLOT(dev, 0);
	for (unsigned i = 0; i < VPCI_NUM_BARS; i++) {
		if (!f->bar_size[i] || f->bar_size[i] > UINT32_MAX)
			continue;
		m.memory_range[i].type = VPCI_CM_RESOURCE_MEMORY;
		m.memory_range[i].share_disposition = 1; /* device exclusive */
		m.memory_range[i].start = f->bar_addr[i];
		m.memory_range[i].length = (uint32_t)f->bar_size[i];
	}
	/* msi_descriptors sits at the same offset in both layouts. */
	m.msi_descriptor_count = 1;
	return vmb_vpci_guest_req(gb, &m, len, &st, sizeof(st), sizeof(st));
}

static int create_interrupt(struct gbus *gb, unsigned dev)
{
	uint8_t buf[sizeof(struct pci_create_interrupt3)];
	struct pci_create_int_response r;
	uint8_t vector = (uint8_t)(MSI_VECTOR_BASE + dev);
	size_t len;
	int rc;

	memset(buf, 0, sizeof(buf));
	if (gb->version >= PCI_PROTOCOL_VERSION_1_4) {
		struct pci_create_interrupt3 m = {
		    PCI_CREATE_INTERRUPT_MESSAGE3,
		    VPCI_WSLOT(dev, 0),
		    {.vector = vector, .vector_count = 1, .processor_count = 1}};
		memcpy(buf, &m, len = sizeof(m));
	} else if (gb->version >= PCI_PROTOCOL_VERSION_1_2) {
		struct pci_create_interrupt2 m = {
		    PCI_CREATE_INTERRUPT_MESSAGE2,
		    VPCI_WSLOT(dev, 0),
		    {.vector = vector, .vector_count = 1, .processor_count = 1}};
		memcpy(buf, &m, len = sizeof(m));
	} else {
		struct pci_create_interrupt m = {
		    PCI_CREATE_INTERRUPT_MESSAGE,
		    VPCI_WSLOT(dev, 0),
		    {.vector = vector, .vector_count = 1, .cpu_mask = 1}};
		memcpy(buf, &m, len = sizeof(m));
	}
	rc = vmb_vpci_guest_req(gb, buf, len, &r, sizeof(r), sizeof(r));
	if (rc == 0 && (r.int_desc.vector_count != 1 || !r.int_desc.address)) {
		vmb_vpci_guest_logf(gb, "vpci: host returned an unusable MSI for slot %u", dev);
		rc = -EPROTO;
	}
	if (rc == 0)
		gb->fn[dev].intr = r.int_desc;
	return rc;
}

/* Enable MSI-X, or program and enable MSI with the host's address/data. */
static int enable_msi(struct gbus *gb, unsigned dev)
{
	const struct tran_int_desc *t = &gb->fn[dev].intr;
	uint32_t ptr = 0, hdr = 0;
	int rc = cfg_read(gb, dev, CFG_CAP_PTR, 1, &ptr);

	/* 48 capabilities fit in 192 bytes: more means the list loops. */
	for (unsigned n = 0; rc == 0 && ptr >= 0x40 && ptr < 0x100 && n < 48; n++) {
		rc = cfg_read(gb, dev, ptr & ~3u, 4, &hdr);
		if (rc < 0)
			break;
		if ((hdr & 0xff) == CAP_ID_MSIX)
			return cfg_write(gb, dev, (ptr & ~3u) + 2, 2, (hdr >> 16) | 0x8000);
		if ((hdr & 0xff) == CAP_ID_MSI) {
			uint32_t base = ptr & ~3u;

			rc = cfg_write(gb, dev, base + 4, 4, (uint32_t)t->address);
			if (rc == 0)
				rc = cfg_write(gb, dev, base + 8, 4, (uint32_t)(t->address >> 32));
			if (rc == 0)
				rc = cfg_write(gb, dev, base + 12, 2, t->data & 0xffff);
			if (rc == 0)
				rc = cfg_write(gb, dev, base + 2, 2, (hdr >> 16) | 1);
			return rc;
		}
		ptr = (hdr >> 8) & 0xff;
	}
	return rc;
}

int vmb_vpci_guest_setup(struct gbus *gb, unsigned dev)
{
	struct gfn *f = &gb->fn[dev];
	uint32_t cmd = 0;
	int rc = 0;

	for (unsigned i = 0; i < VPCI_NUM_BARS && rc == 0; i++)
		if (f->bar_size[i])
			rc = program_bar(gb, dev, i);
	if (rc == 0)
		rc = cfg_read(gb, dev, CFG_COMMAND, 2, &cmd);
	if (rc == 0)
		rc = cfg_write(gb, dev, CFG_COMMAND, 2, cmd | CMD_MEM_MASTER);
	if (rc == 0)
		rc = resources_assigned(gb, dev);
	if (rc == 0)
		rc = create_interrupt(gb, dev);
	if (rc == 0)
		rc = enable_msi(gb, dev);
	if (rc == 0)
		f->set_up = true;
	return rc;
}

/* As Linux: neither message asks for a completion. */
void vmb_vpci_guest_teardown(struct gbus *gb, unsigned dev)
{
	struct gfn *f = &gb->fn[dev];
	struct pci_delete_interrupt d = {PCI_DELETE_INTERRUPT_MESSAGE, VPCI_WSLOT(dev, 0), f->intr};
	struct pci_child_message r = {PCI_RESOURCES_RELEASED, VPCI_WSLOT(dev, 0)};

	if (!f->set_up)
		return;
	if (f->intr.address)
		vmb_chan_send(gb->ch, &d, sizeof(d), 0, 0);
	vmb_chan_send(gb->ch, &r, sizeof(r), 0, 0);
	f->set_up = false;
	memset(&f->intr, 0, sizeof(f->intr));
}
