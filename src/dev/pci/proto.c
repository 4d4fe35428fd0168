/* VPCI message lengths: which types go which way, and how long each is. */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/pci.h"

struct msg_size {
	uint32_t type;
	uint32_t size;
};

static const struct msg_size g2h[] = {
    {PCI_QUERY_BUS_RELATIONS, 4},
    {PCI_POWER_STATE_CHANGE, sizeof(struct pci_set_power)},
    {PCI_QUERY_RESOURCE_REQUIREMENTS, sizeof(struct pci_child_message)},
    {PCI_BUS_D0ENTRY, sizeof(struct pci_bus_d0_entry)},
    {PCI_BUS_D0EXIT, 4},
    {PCI_READ_BLOCK, sizeof(struct pci_read_block)},
    {PCI_WRITE_BLOCK, sizeof(struct pci_write_block)},
    /* Linux sends the 12-byte pci_eject_response (slot + status). */
    {PCI_EJECTION_COMPLETE, sizeof(struct pci_eject_response)},
    {PCI_RESOURCES_ASSIGNED, sizeof(struct pci_resources_assigned)},
    {PCI_RESOURCES_RELEASED, sizeof(struct pci_child_message)},
    {PCI_QUERY_PROTOCOL_VERSION, sizeof(struct pci_version_request)},
    {PCI_CREATE_INTERRUPT_MESSAGE, sizeof(struct pci_create_interrupt)},
    {PCI_DELETE_INTERRUPT_MESSAGE, sizeof(struct pci_delete_interrupt)},
    {PCI_RESOURCES_ASSIGNED2, sizeof(struct pci_resources_assigned2)},
    {PCI_CREATE_INTERRUPT_MESSAGE2, sizeof(struct pci_create_interrupt2)},
    {PCI_RESOURCES_ASSIGNED3, sizeof(struct pci_resources_assigned2)},
    {PCI_CREATE_INTERRUPT_MESSAGE3, sizeof(struct pci_create_interrupt3)},
    {VPCI_EXT_CFG_READ, sizeof(struct vpci_ext_cfg)},
    {VPCI_EXT_CFG_WRITE, sizeof(struct vpci_ext_cfg)},
};

static const struct msg_size h2g[] = {
    {PCI_EJECT, sizeof(struct pci_child_message)},
    {PCI_INVALIDATE_BLOCK, sizeof(struct pci_dev_inval_block)},
};

static bool fits(size_t len, size_t size)
{
	return len >= size && len <= ((size + 7) & ~(size_t)7);
}

static int check_relations(const void *msg, size_t len, size_t each)
{
	struct pci_bus_relations_hdr h;

	if (len < sizeof(h))
		return -EBADMSG;
	memcpy(&h, msg, sizeof(h));
	if (h.device_count > VPCI_MAX_FUNCS || !fits(len, sizeof(h) + h.device_count * each))
		return -EBADMSG;
	return 0;
}

int vmb_vpci_check(const void *msg, size_t len, bool host_to_guest)
{
	const struct msg_size *t = host_to_guest ? h2g : g2h;
	size_t n = host_to_guest ? sizeof(h2g) / sizeof(h2g[0]) : sizeof(g2h) / sizeof(g2h[0]);
	uint32_t type;

	if (len < sizeof(type))
		return -EBADMSG;
	memcpy(&type, msg, sizeof(type));
	if (host_to_guest && (type == PCI_BUS_RELATIONS || type == PCI_BUS_RELATIONS2)) {
		size_t each = type == PCI_BUS_RELATIONS ? sizeof(struct pci_function_description)
							: sizeof(struct pci_function_description2);

		return check_relations(msg, len, each) < 0 ? -EBADMSG : (int)type;
	}
	for (size_t i = 0; i < n; i++)
		if (t[i].type == type)
			return fits(len, t[i].size) ? (int)type : -EBADMSG;
	return -ENOTSUP;
}
