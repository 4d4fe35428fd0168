/*
 * VPCI: the host bus state machine over a sequence of guest messages, each
 * {u16 len, bytes}. A length with bit 15 set is a host action instead:
 * eject device (len & 0x1f), or with bit 14 also set, hot add a function.
 * Every message also goes through the guest's host-message check.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/pci.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

static int fz_send(void *ctx, const void *msg, size_t len)
{
	(void)ctx;
	/* What the host sends must pass the guest's own check. */
	if (vmb_vpci_check(msg, len, true) <= 0)
		abort();
	sink += (uint32_t)len;
	return 0;
}

static void fz_log(void *ctx, const char *line)
{
	(void)ctx;
	sink += (uint8_t)line[0];
}

static const struct vmb_vpci_bus_ops fz_ops = {.send = fz_send, .log = fz_log};

static void one(struct vmb_vpci_bus *b, const uint8_t *p, size_t len)
{
	/* An exact-size copy lets ASan see any read past the message. */
	uint8_t *buf = malloc(len ? len : 1);
	uint8_t reply[256];
	size_t rl;

	if (!buf)
		return;
	memcpy(buf, p, len);
	vmb_vpci_bus_rx(b, buf, len, reply, sizeof(reply), &rl);
	if (rl > sizeof(struct pci_read_block_response))
		abort();
	sink += (uint32_t)vmb_vpci_check(buf, len, true);
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmb_pci_func_desc d;
	struct vmb_vpci_bus *b;
	uint32_t max;

	if (size < 1)
		return 0;
	max = PCI_PROTOCOL_VERSION_1_1 + data[0] % 4;
	data++, size--;
	if (vmb_vpci_bus_create(max, &fz_ops, NULL, &b) < 0)
		return 0;
	vmb_pci_func_default(&d, 0x1b36, 0x0005);
	vmb_vpci_bus_add(b, &d, NULL);
	while (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;

		data += 2, size -= 2;
		if (len & 0xc000) {
			if ((len & 0xc000) == 0xc000)
				vmb_vpci_bus_add(b, &d, NULL);
			else
				vmb_vpci_bus_eject(b, (unsigned)(len & 0x1f));
			continue;
		}
		if (len > size)
			len = size;
		one(b, data, len);
		data += len, size -= len;
	}
	vmb_vpci_bus_destroy(b);
	return 0;
}
