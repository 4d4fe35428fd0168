/* VPCI guest (VSC) internals shared by vsc.c and vsc_setup.c. */
#ifndef VMBUS_DEV_PCI_GUEST_H
#define VMBUS_DEV_PCI_GUEST_H

#include <pthread.h>

#include "vmbus/dev/pci.h"

#define VPCI_GUEST_TIMEOUT_MS 10000

struct gfn {
	bool present; /* listed in the last bus relations */
	bool set_up;  /* resources assigned and interrupt created */
	struct pci_function_description desc;
	uint32_t probed[VPCI_NUM_BARS];
	uint64_t bar_addr[VPCI_NUM_BARS];
	uint64_t bar_size[VPCI_NUM_BARS];
	struct tran_int_desc intr;
};

struct gbus {
	struct vmb_vpci_guest *vg;
	struct vmb_device *dev;
	struct vmb_channel *ch;
	uint32_t version;
	bool d0;
	uint64_t next_mmio32, next_mmio64;
	struct gfn fn[VPCI_MAX_FUNCS];
	/* Events from the channel handler, done by the worker. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t worker;
	bool stop;
	bool relations_pending;
	unsigned relations_seen;
	uint32_t rel_count;
	struct pci_function_description rel[VPCI_MAX_FUNCS];
	uint32_t eject_mask;
};

void vmb_vpci_guest_logf(struct gbus *gb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* A request that expects at least min_len bytes back starting with a zero status. */
int vmb_vpci_guest_req(struct gbus *gb, const void *msg, size_t len, void *resp, size_t cap,
		       size_t min_len);
/* QUERY_RESOURCE_REQUIREMENTS, BARs, RESOURCES_ASSIGNED*, CREATE_INTERRUPT_MESSAGE*. */
int vmb_vpci_guest_query(struct gbus *gb, unsigned dev);
int vmb_vpci_guest_setup(struct gbus *gb, unsigned dev);
void vmb_vpci_guest_teardown(struct gbus *gb, unsigned dev);
int vmb_vpci_guest_d0_entry(struct gbus *gb);

#endif
