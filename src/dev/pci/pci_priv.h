/* VPCI internals shared by the host bus files. */
#ifndef VMBUS_DEV_PCI_PRIV_H
#define VMBUS_DEV_PCI_PRIV_H

#include <pthread.h>

#include "vmbus/dev/pci.h"

#define VPCI_REPLY_MAX sizeof(struct pci_read_block_response)
#define VPCI_MAX_INTR  32 /* interrupt messages per function */

struct vpci_fn {
	enum vmb_vpci_fstate state;
	struct vmb_pci_func_desc desc;
	struct vmb_pci_cfg cfg;
	uint32_t serial;
	struct vpci_cm_mem_desc res[VPCI_NUM_BARS];
	uint8_t blocks[VPCI_BLOCKS][VPCI_BLOCK_SIZE_MAX];
	struct tran_int_desc intr[VPCI_MAX_INTR];
	unsigned nintr;
};

struct vmb_vpci_bus {
	pthread_mutex_t lock;
	uint32_t max_version;
	uint32_t version; /* 0 until negotiated */
	bool connected;	  /* the guest asked for bus relations */
	bool d0;
	uint64_t mmio_base;
	struct vpci_fn *fn[VPCI_MAX_FUNCS]; /* by device number, function 0 */
	uint32_t next_serial;
	const struct vmb_vpci_bus_ops *ops;
	void *ctx;
};

/* CREATE/DELETE_INTERRUPT_MESSAGE*, with the bus lock held. */
int vmb_vpci_rx_interrupt(struct vmb_vpci_bus *b, struct vpci_fn *f, uint32_t type,
			  const uint8_t *msg, uint8_t *reply, size_t *reply_len);

#endif
