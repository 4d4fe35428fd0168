/*
 * CREATE_INTERRUPT_MESSAGE (1, 2, 3) and DELETE_INTERRUPT_MESSAGE: the
 * host answers with the MSI address/data pair the guest programs into the
 * function. Ours are the x86 layout Hyper-V hands out: address 0xFEE00000
 * with the destination APIC id in bits 12-19, data = vector | delivery
 * mode << 8. A 1.4 vector above 0xFF (an ARM64 LPI) is passed as the data.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "pci_priv.h"

#define MSI_ADDRESS_BASE 0xfee00000u
#define MAX_VP		 64   /* the width of hv_msi_desc's cpu_mask */
#define FIRST_VECTOR	 0x10 /* x86 vectors below are exceptions */
#define MAX_VECTOR_COUNT 32

struct msi_req {
	uint32_t vector;
	uint8_t mode;
	uint16_t count;
	uint64_t cpus;
};

static int status(uint8_t *reply, size_t *reply_len, uint32_t st)
{
	int32_t s = (int32_t)st;

	memcpy(reply, &s, sizeof(s));
	*reply_len = sizeof(s);
	return st ? -EBADMSG : 0;
}

static int bad(struct vmb_vpci_bus *b, uint8_t *reply, size_t *reply_len, uint32_t st,
	       const char *why)
{
	if (b->ops->log) {
		char line[128];

		snprintf(line, sizeof(line), "vpci: rejected interrupt message: %s", why);
		b->ops->log(b->ctx, line);
	}
	return status(reply, reply_len, st);
}

/* Processor arrays of the 1.2 and 1.4 descriptors into a mask; 0 = invalid. */
static uint64_t cpu_array(uint16_t n, const uint8_t *procs)
{
	uint64_t mask = 0;

	if (n == 0 || n > 32)
		return 0;
	for (uint16_t i = 0; i < n; i++) {
		uint16_t p;

		memcpy(&p, procs + 2 * i, sizeof(p));
		if (p >= MAX_VP)
			return 0;
		mask |= 1ull << p;
	}
	return mask;
}

static void parse(uint32_t type, const uint8_t *msg, struct msi_req *q)
{
	if (type == PCI_CREATE_INTERRUPT_MESSAGE) {
		struct pci_create_interrupt m;

		memcpy(&m, msg, sizeof(m));
		*q = (struct msi_req){m.int_desc.vector, m.int_desc.delivery_mode,
				      m.int_desc.vector_count, m.int_desc.cpu_mask};
	} else if (type == PCI_CREATE_INTERRUPT_MESSAGE2) {
		struct pci_create_interrupt2 m;

		memcpy(&m, msg, sizeof(m));
		*q = (struct msi_req){
		    m.int_desc.vector, m.int_desc.delivery_mode, m.int_desc.vector_count,
		    cpu_array(m.int_desc.processor_count,
			      msg + 8 + offsetof(struct hv_msi_desc2, processor_array))};
	} else {
		struct pci_create_interrupt3 m;

		memcpy(&m, msg, sizeof(m));
		*q = (struct msi_req){
		    m.int_desc.vector, m.int_desc.delivery_mode, m.int_desc.vector_count,
		    cpu_array(m.int_desc.processor_count,
			      msg + 8 + offsetof(struct hv_msi_desc3, processor_array))};
	}
}

static uint32_t min_version(uint32_t type)
{
	if (type == PCI_CREATE_INTERRUPT_MESSAGE2)
		return PCI_PROTOCOL_VERSION_1_2;
	if (type == PCI_CREATE_INTERRUPT_MESSAGE3)
		return PCI_PROTOCOL_VERSION_1_4;
	return PCI_PROTOCOL_VERSION_1_1;
}

static int create(struct vmb_vpci_bus *b, struct vpci_fn *f, uint32_t type, const uint8_t *msg,
		  uint8_t *reply, size_t *reply_len)
{
	struct pci_create_int_response resp = {.status = 0};
	struct msi_req q;
	unsigned cpu = 0;

	if (b->version < min_version(type))
		return bad(b, reply, reply_len, VPCI_STATUS_NOT_SUPPORTED, "not at this version");
	if (f->state != VMB_VPCI_F_RESOURCED)
		return bad(b, reply, reply_len, VPCI_STATUS_INVALID_DEVICE_STATE,
			   "function has no resources");
	parse(type, msg, &q);
	if (q.vector < FIRST_VECTOR || q.mode > 1 || !q.count || q.count > MAX_VECTOR_COUNT ||
	    (q.count & (q.count - 1)) || !q.cpus)
		return bad(b, reply, reply_len, VPCI_STATUS_INVALID_PARAMETER,
			   "bad vector, delivery mode, count or processors");
	if (f->nintr == VPCI_MAX_INTR)
		return bad(b, reply, reply_len, VPCI_STATUS_INVALID_PARAMETER,
			   "too many interrupt messages");
	while (!(q.cpus & (1ull << cpu)))
		cpu++;
	resp.int_desc.vector_count = q.count;
	resp.int_desc.address = MSI_ADDRESS_BASE | (uint64_t)cpu << 12;
	resp.int_desc.data = q.vector > 0xff ? q.vector : q.vector | (uint32_t)q.mode << 8;
	f->intr[f->nintr++] = resp.int_desc;
	memcpy(reply, &resp, sizeof(resp));
	*reply_len = sizeof(resp);
	return 0;
}

static int delete (struct vmb_vpci_bus *b, struct vpci_fn *f, const uint8_t *msg, uint8_t *reply,
		   size_t *reply_len)
{
	struct pci_delete_interrupt m;

	memcpy(&m, msg, sizeof(m));
	for (unsigned i = 0; i < f->nintr; i++) {
		if (f->intr[i].address != m.int_desc.address || f->intr[i].data != m.int_desc.data)
			continue;
		f->intr[i] = f->intr[--f->nintr];
		return status(reply, reply_len, VPCI_STATUS_SUCCESS);
	}
	return bad(b, reply, reply_len, VPCI_STATUS_INVALID_PARAMETER, "no such interrupt");
}

int vmb_vpci_rx_interrupt(struct vmb_vpci_bus *b, struct vpci_fn *f, uint32_t type,
			  const uint8_t *msg, uint8_t *reply, size_t *reply_len)
{
	if (type == PCI_DELETE_INTERRUPT_MESSAGE)
		return delete (b, f, msg, reply, reply_len);
	return create(b, f, type, msg, reply, reply_len);
}
