/*
 * Virtual PCI (VPCI, PROTOCOL.md 8.5): a PCI Express root bus behind a
 * VMBus channel, both ends.
 *
 * Our partition has no physical device to pass through, so the host side
 * presents EMULATED functions: a 4 KiB config space with ids, class, BARs
 * (all-ones sizing), a capability list with MSI-X or MSI. The messages and
 * the answers are Hyper-V's; the function behind them does nothing.
 *
 * Config space: in Hyper-V the guest reaches a function's config space
 * through a 0x2000-byte MMIO window whose address it passes in
 * BUS_D0ENTRY. Our partition cannot trap MMIO, so config accesses travel as
 * two extra messages of our own (VPCI_EXT_CFG_READ / _WRITE, outside
 * Hyper-V's type range), accepted only once the bus is in D0, exactly when
 * Hyper-V's window would decode.
 *
 * The host bus (vmb_vpci_bus) and the guest's message handling are pure
 * state machines (bytes in, reply bytes out) so tests and fuzzers drive
 * them without channels.
 */
#ifndef VMBUS_DEV_PCI_H
#define VMBUS_DEV_PCI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmbus/guest.h"
#include "vmbus/host.h"

/* ---- wire format ----------------------------------------------------- */

#define PCI_PROTOCOL_VERSION_1_1 0x00010001u /* Windows 10 */
#define PCI_PROTOCOL_VERSION_1_2 0x00010002u /* RS1 */
#define PCI_PROTOCOL_VERSION_1_3 0x00010003u /* Vibranium */
#define PCI_PROTOCOL_VERSION_1_4 0x00010004u /* WS2022 */

#define VPCI_STATUS_SUCCESS		 0x00000000u
#define VPCI_STATUS_REVISION_MISMATCH	 0xC0000059u
#define VPCI_STATUS_INVALID_PARAMETER	 0xC000000Du
#define VPCI_STATUS_INVALID_DEVICE_STATE 0xC0000184u
#define VPCI_STATUS_NOT_SUPPORTED	 0xC00000BBu
#define VPCI_STATUS_NO_SUCH_DEVICE	 0xC000000Eu

enum vpci_msg_type {
	PCI_MESSAGE_BASE = 0x42490000,
	PCI_BUS_RELATIONS = PCI_MESSAGE_BASE + 0,
	PCI_QUERY_BUS_RELATIONS = PCI_MESSAGE_BASE + 1,
	PCI_POWER_STATE_CHANGE = PCI_MESSAGE_BASE + 4,
	PCI_QUERY_RESOURCE_REQUIREMENTS = PCI_MESSAGE_BASE + 5,
	PCI_QUERY_RESOURCE_RESOURCES = PCI_MESSAGE_BASE + 6,
	PCI_BUS_D0ENTRY = PCI_MESSAGE_BASE + 7,
	PCI_BUS_D0EXIT = PCI_MESSAGE_BASE + 8,
	PCI_READ_BLOCK = PCI_MESSAGE_BASE + 9,
	PCI_WRITE_BLOCK = PCI_MESSAGE_BASE + 0xA,
	PCI_EJECT = PCI_MESSAGE_BASE + 0xB,
	PCI_QUERY_STOP = PCI_MESSAGE_BASE + 0xC,
	PCI_REENABLE = PCI_MESSAGE_BASE + 0xD,
	PCI_QUERY_STOP_FAILED = PCI_MESSAGE_BASE + 0xE,
	PCI_EJECTION_COMPLETE = PCI_MESSAGE_BASE + 0xF,
	PCI_RESOURCES_ASSIGNED = PCI_MESSAGE_BASE + 0x10,
	PCI_RESOURCES_RELEASED = PCI_MESSAGE_BASE + 0x11,
	PCI_INVALIDATE_BLOCK = PCI_MESSAGE_BASE + 0x12,
	PCI_QUERY_PROTOCOL_VERSION = PCI_MESSAGE_BASE + 0x13,
	PCI_CREATE_INTERRUPT_MESSAGE = PCI_MESSAGE_BASE + 0x14,
	PCI_DELETE_INTERRUPT_MESSAGE = PCI_MESSAGE_BASE + 0x15,
	PCI_RESOURCES_ASSIGNED2 = PCI_MESSAGE_BASE + 0x16,
	PCI_CREATE_INTERRUPT_MESSAGE2 = PCI_MESSAGE_BASE + 0x17,
	PCI_BUS_RELATIONS2 = PCI_MESSAGE_BASE + 0x19,
	PCI_RESOURCES_ASSIGNED3 = PCI_MESSAGE_BASE + 0x1A,
	PCI_CREATE_INTERRUPT_MESSAGE3 = PCI_MESSAGE_BASE + 0x1B,
	/* Our extension (see the top of this file): not Hyper-V messages. */
	VPCI_EXT_CFG_READ = PCI_MESSAGE_BASE + 0x100,
	VPCI_EXT_CFG_WRITE = PCI_MESSAGE_BASE + 0x101,
};

#define VPCI_RING_BYTES	     (16u * 1024u)
#define VPCI_MAX_MSG	     1024u
#define VPCI_MAX_FUNCS	     32u /* win_slot device numbers 0..31, function 0 */
#define VPCI_BLOCK_SIZE_MAX  128u
#define VPCI_BLOCKS	     8u /* config blocks per emulated function */
#define VPCI_CFG_WINDOW_SIZE 0x2000u
#define VPCI_NUM_BARS	     6u

/* win_slot: bits 0-4 device, 5-7 function. */
#define VPCI_WSLOT(dev, fn) (((uint32_t)(dev)&0x1f) | (((uint32_t)(fn)&7) << 5))
#define VPCI_WSLOT_DEV(w)   ((w)&0x1fu)

struct pci_function_description {
	uint16_t v_id;
	uint16_t d_id;
	uint8_t rev;
	uint8_t prog_intf;
	uint8_t subclass;
	uint8_t base_class;
	uint32_t subsystem_id;
	uint32_t win_slot;
	uint32_t ser;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_function_description) == 20, "function description");

struct pci_function_description2 {
	struct pci_function_description d;
	uint32_t flags; /* bit 0: virtual_numa_node is valid */
	uint16_t virtual_numa_node;
	uint16_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_function_description2) == 28, "function description 2");

struct pci_child_message { /* QUERY_RESOURCE_REQUIREMENTS, EJECT, EJECTION_COMPLETE, ... */
	uint32_t type;
	uint32_t wslot;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_child_message) == 8, "child message");

struct pci_version_request {
	uint32_t type;
	uint32_t protocol_version;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_version_request) == 8, "version request");

struct pci_bus_d0_entry {
	uint32_t type;
	uint32_t reserved;
	uint64_t mmio_base;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_bus_d0_entry) == 16, "d0 entry");

struct pci_bus_relations_hdr { /* + device_count descriptions (2 from 1.3) */
	uint32_t type;
	uint32_t device_count;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_bus_relations_hdr) == 8, "bus relations");

struct pci_response {
	int32_t status; /* negative = failure */
} __attribute__((packed));

struct pci_q_res_req_response {
	int32_t status;
	uint32_t probed_bar[VPCI_NUM_BARS];
} __attribute__((packed));
_Static_assert(sizeof(struct pci_q_res_req_response) == 28, "q_res_req response");

struct pci_set_power {
	uint32_t type;
	uint32_t wslot;
	uint32_t power_state; /* D0 = 1 .. D3 = 4 */
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_set_power) == 16, "set power");

struct pci_set_power_response {
	int32_t status;
	uint32_t wslot;
	uint32_t resultant_state;
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_set_power_response) == 16, "set power response");

/* CM_PARTIAL_RESOURCE_DESCRIPTOR for a memory range. */
#define VPCI_CM_RESOURCE_MEMORY 3
struct vpci_cm_mem_desc {
	uint8_t type;
	uint8_t share_disposition;
	uint16_t flags;
	uint64_t start;
	uint32_t length;
	uint32_t pad;
} __attribute__((packed));
_Static_assert(sizeof(struct vpci_cm_mem_desc) == 20, "partial resource descriptor");

struct pci_resources_assigned {
	uint32_t type;
	uint32_t wslot;
	struct vpci_cm_mem_desc memory_range[VPCI_NUM_BARS];
	uint32_t msi_descriptors;
	uint32_t reserved[4];
} __attribute__((packed));
_Static_assert(sizeof(struct pci_resources_assigned) == 148, "resources assigned");

struct pci_resources_assigned2 { /* also RESOURCES_ASSIGNED3 */
	uint32_t type;
	uint32_t wslot;
	struct vpci_cm_mem_desc memory_range[VPCI_NUM_BARS];
	uint32_t msi_descriptor_count;
	uint8_t reserved[70];
} __attribute__((packed));
_Static_assert(sizeof(struct pci_resources_assigned2) == 202, "resources assigned 2");

struct hv_msi_desc {
	uint8_t vector;
	uint8_t delivery_mode;
	uint16_t vector_count;
	uint32_t reserved;
	uint64_t cpu_mask;
} __attribute__((packed));
_Static_assert(sizeof(struct hv_msi_desc) == 16, "msi desc");

struct hv_msi_desc2 {
	uint8_t vector;
	uint8_t delivery_mode;
	uint16_t vector_count;
	uint16_t processor_count;
	uint16_t processor_array[32];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_msi_desc2) == 70, "msi desc 2");

struct hv_msi_desc3 {
	uint32_t vector; /* wide enough for ARM64 LPIs */
	uint8_t delivery_mode;
	uint8_t reserved;
	uint16_t vector_count;
	uint16_t processor_count;
	uint16_t processor_array[32];
} __attribute__((packed));
_Static_assert(sizeof(struct hv_msi_desc3) == 74, "msi desc 3");

struct tran_int_desc {
	uint16_t reserved;
	uint16_t vector_count;
	uint32_t data;
	uint64_t address;
} __attribute__((packed));
_Static_assert(sizeof(struct tran_int_desc) == 16, "translated interrupt");

struct pci_create_interrupt {
	uint32_t type;
	uint32_t wslot;
	struct hv_msi_desc int_desc;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_create_interrupt) == 24, "create interrupt");

struct pci_create_interrupt2 {
	uint32_t type;
	uint32_t wslot;
	struct hv_msi_desc2 int_desc;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_create_interrupt2) == 78, "create interrupt 2");

struct pci_create_interrupt3 {
	uint32_t type;
	uint32_t wslot;
	struct hv_msi_desc3 int_desc;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_create_interrupt3) == 82, "create interrupt 3");

struct pci_create_int_response {
	int32_t status;
	uint32_t reserved;
	struct tran_int_desc int_desc;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_create_int_response) == 24, "create interrupt response");

struct pci_delete_interrupt {
	uint32_t type;
	uint32_t wslot;
	struct tran_int_desc int_desc;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_delete_interrupt) == 24, "delete interrupt");

struct pci_read_block {
	uint32_t type;
	uint32_t block_id;
	uint32_t wslot;
	uint32_t bytes_requested;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_read_block) == 16, "read block");

struct pci_read_block_response {
	uint32_t status;
	uint8_t bytes[VPCI_BLOCK_SIZE_MAX];
} __attribute__((packed));
_Static_assert(sizeof(struct pci_read_block_response) == 132, "read block response");

struct pci_write_block {
	uint32_t type;
	uint32_t block_id;
	uint32_t wslot;
	uint32_t byte_count;
	uint8_t bytes[VPCI_BLOCK_SIZE_MAX];
} __attribute__((packed));
_Static_assert(sizeof(struct pci_write_block) == 144, "write block");

struct pci_dev_inval_block {
	uint32_t type;
	uint32_t wslot;
	uint64_t block_mask;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_dev_inval_block) == 16, "invalidate block");

struct pci_eject_response {
	uint32_t type; /* PCI_EJECTION_COMPLETE */
	uint32_t wslot;
	uint32_t status;
} __attribute__((packed));
_Static_assert(sizeof(struct pci_eject_response) == 12, "ejection complete");

/* Our extension: config space access (1, 2 or 4 bytes, naturally aligned). */
struct vpci_ext_cfg {
	uint32_t type;
	uint32_t wslot;
	uint32_t offset;
	uint32_t size;
	uint32_t value; /* write only */
	uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct vpci_ext_cfg) == 24, "ext cfg");

struct vpci_ext_cfg_response {
	int32_t status;
	uint32_t value;
} __attribute__((packed));
_Static_assert(sizeof(struct vpci_ext_cfg_response) == 8, "ext cfg response");

/*
 * Check one message's length against its type: at least the struct, at
 * most the struct padded to 8 (ring packets are 8-byte multiples).
 * Returns the type, -EBADMSG when truncated or oversized, -ENOTSUP for an
 * unknown type. host_to_guest selects which direction's messages count.
 */
int vmb_vpci_check(const void *msg, size_t len, bool host_to_guest);

/* ---- emulated config space ------------------------------------------ */

struct vmb_pci_func_desc {
	uint16_t vendor, device;
	uint32_t class_code; /* base << 16 | sub << 8 | prog_if */
	uint8_t rev;
	uint16_t subsys_vendor, subsys_device;
	/* BAR sizes (power of two >= 16, 0 = none); a 64-bit BAR uses two slots. */
	uint32_t bar_size[VPCI_NUM_BARS];
	bool bar_64[VPCI_NUM_BARS];
	uint16_t msix_vectors; /* > 0: MSI-X capability, table in BAR 0 */
	uint8_t msi_vectors;   /* else > 0: MSI capability (1..32, power of two) */
};

struct vmb_pci_cfg {
	uint8_t space[4096];
	uint8_t wmask[4096]; /* writable bits */
	uint32_t bar_size[VPCI_NUM_BARS];
	bool bar_64[VPCI_NUM_BARS];
};

int vmb_pci_cfg_init(struct vmb_pci_cfg *c, const struct vmb_pci_func_desc *d);
/* size 1, 2 or 4 and naturally aligned within 4 KiB, else -EINVAL. */
int vmb_pci_cfg_read(const struct vmb_pci_cfg *c, uint32_t off, uint32_t size, uint32_t *val);
int vmb_pci_cfg_write(struct vmb_pci_cfg *c, uint32_t off, uint32_t size, uint32_t val);
/* What reading BAR i back after writing all-ones gives (Hyper-V's probed_bar). */
uint32_t vmb_pci_cfg_probed_bar(const struct vmb_pci_cfg *c, unsigned i);

/* ---- host bus (pure state machine) ----------------------------------- */

enum vmb_vpci_fstate {
	VMB_VPCI_F_ANNOUNCED,
	VMB_VPCI_F_QUERIED,   /* resource requirements asked */
	VMB_VPCI_F_RESOURCED, /* resources assigned */
	VMB_VPCI_F_EJECTING,
};

struct vmb_vpci_bus;

struct vmb_vpci_bus_ops {
	/* Send an unsolicited inband message (relations, eject). */
	int (*send)(void *ctx, const void *msg, size_t len);
	void (*log)(void *ctx, const char *line);
	/* A function was ejected (EJECTION_COMPLETE). May be NULL. */
	void (*ejected)(void *ctx, unsigned dev);
};

int vmb_vpci_bus_create(uint32_t max_version, const struct vmb_vpci_bus_ops *ops, void *ctx,
			struct vmb_vpci_bus **out);
void vmb_vpci_bus_destroy(struct vmb_vpci_bus *b);
/* The guest went away: back to the state before version negotiation. */
void vmb_vpci_bus_reset(struct vmb_vpci_bus *b);
/* Add a function at the first free device number (*dev), announce it when connected. */
int vmb_vpci_bus_add(struct vmb_vpci_bus *b, const struct vmb_pci_func_desc *d, unsigned *dev);
/* Send EJECT for device dev; the function goes once the guest completes it. */
int vmb_vpci_bus_eject(struct vmb_vpci_bus *b, unsigned dev);
/* Whether device dev exists (in any state). */
bool vmb_vpci_bus_has(const struct vmb_vpci_bus *b, unsigned dev);
uint32_t vmb_vpci_bus_version(const struct vmb_vpci_bus *b);
/* `vmbus ctl pci` listing. */
void vmb_vpci_bus_list(const struct vmb_vpci_bus *b, FILE *out);
/*
 * One guest message. *reply_len = 0 when there is nothing to complete
 * with; the caller completes only when the guest asked for it. Returns 0,
 * or -EBADMSG/-EPROTO for a rejected message (already logged; a reply
 * carrying a failure status is still produced where one is due).
 */
int vmb_vpci_bus_rx(struct vmb_vpci_bus *b, const void *msg, size_t len, void *reply, size_t cap,
		    size_t *reply_len);

/* ---- host (VSP) ------------------------------------------------------- */

struct vmb_vpci_host_config {
	uint32_t max_version; /* 0 = 1.4 */
	/* Functions present from the start; n = 0 = none. */
	const struct vmb_pci_func_desc *funcs;
	unsigned nfuncs;
};
struct vmb_vpci_vsp;
/* Offer one VPCI bus and register `vmbus ctl pci`. */
int vmb_vpci_vsp_add(struct vmb_host *h, const struct vmb_vpci_host_config *cfg,
		     struct vmb_vpci_vsp **out);
/* The default emulated function (QEMU's PCI test device ids, 1b36:0005). */
void vmb_pci_func_default(struct vmb_pci_func_desc *d, uint16_t vendor, uint16_t device);

/* ---- guest (VSC) ------------------------------------------------------ */

struct vmb_vpci_guest_config {
	uint32_t max_version;  /* 0 = 1.4 */
	const char *list_path; /* lspci-style list rewritten on every change, or NULL */
};
struct vmb_vpci_guest;
int vmb_vpci_guest_register(struct vmb_guest *g, const struct vmb_vpci_guest_config *cfg,
			    struct vmb_vpci_guest **out);
void vmb_vpci_guest_free(struct vmb_vpci_guest *vg);
/* Functions currently set up (resources assigned, interrupt created). */
unsigned vmb_vpci_guest_count(struct vmb_vpci_guest *vg);
/* Wait up to timeout_ms until exactly n functions are set up. */
int vmb_vpci_guest_wait(struct vmb_vpci_guest *vg, unsigned n, int timeout_ms);
/* Version negotiated on the first bus, 0 before. */
uint32_t vmb_vpci_guest_version(struct vmb_vpci_guest *vg);

#endif
