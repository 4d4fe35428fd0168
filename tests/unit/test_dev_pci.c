/* VPCI: message length checks, config-space emulation, the host bus state machine. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus/dev/pci.h"

/* ---- a bus with a recording send ---- */

struct sink {
	uint8_t last[VPCI_MAX_MSG];
	size_t last_len;
	unsigned sent, logs, ejected;
};

static int sink_send(void *ctx, const void *msg, size_t len)
{
	struct sink *s = ctx;

	memcpy(s->last, msg, len);
	s->last_len = len;
	s->sent++;
	return 0;
}

static void sink_log(void *ctx, const char *line)
{
	(void)line;
	((struct sink *)ctx)->logs++;
}

static void sink_ejected(void *ctx, unsigned dev)
{
	(void)dev;
	((struct sink *)ctx)->ejected++;
}

static const struct vmb_vpci_bus_ops sink_ops = {sink_send, sink_log, sink_ejected};

static int32_t rx(struct vmb_vpci_bus *b, const void *msg, size_t len, void *reply, size_t *rl,
		  int want)
{
	uint8_t buf[256];
	int32_t st = 0x7fffffff;

	assert_int_equal(vmb_vpci_bus_rx(b, msg, len, buf, sizeof(buf), rl), want);
	if (*rl >= 4)
		memcpy(&st, buf, 4);
	if (reply)
		memcpy(reply, buf, *rl);
	return st;
}

static struct vmb_vpci_bus *new_bus(struct sink *s, uint32_t max)
{
	struct vmb_vpci_bus *b;
	struct vmb_pci_func_desc d;

	memset(s, 0, sizeof(*s));
	assert_int_equal(vmb_vpci_bus_create(max, &sink_ops, s, &b), 0);
	vmb_pci_func_default(&d, 0x1b36, 0x0005);
	assert_int_equal(vmb_vpci_bus_add(b, &d, NULL), 0);
	return b;
}

static void negotiate(struct vmb_vpci_bus *b, uint32_t v)
{
	struct pci_version_request m = {PCI_QUERY_PROTOCOL_VERSION, v};
	size_t rl;

	assert_int_equal(rx(b, &m, sizeof(m), NULL, &rl, 0), 0);
}

/* Version negotiated, relations asked, D0 entered, resources assigned for slot 0. */
static void bring_up(struct vmb_vpci_bus *b, uint32_t v)
{
	uint32_t q = PCI_QUERY_BUS_RELATIONS;
	struct pci_bus_d0_entry d0 = {PCI_BUS_D0ENTRY, 0, 0xf8000000};
	struct pci_resources_assigned2 ra;
	size_t rl;

	negotiate(b, v);
	rx(b, &q, sizeof(q), NULL, &rl, 0);
	assert_int_equal(rl, 0);
	assert_int_equal(rx(b, &d0, sizeof(d0), NULL, &rl, 0), 0);
	memset(&ra, 0, sizeof(ra));
	ra.type = v >= PCI_PROTOCOL_VERSION_1_2 ? PCI_RESOURCES_ASSIGNED2 : PCI_RESOURCES_ASSIGNED;
	assert_int_equal(
	    rx(b, &ra,
	       v >= PCI_PROTOCOL_VERSION_1_2 ? sizeof(ra) : sizeof(struct pci_resources_assigned),
	       NULL, &rl, 0),
	    0);
}

/* ---- tests ---- */

static void test_check_lengths(void **state)
{
	static const struct {
		uint32_t type;
		size_t size;
	} g2h[] = {
	    {PCI_QUERY_PROTOCOL_VERSION, 8},
	    {PCI_QUERY_RESOURCE_REQUIREMENTS, 8},
	    {PCI_BUS_D0ENTRY, 16},
	    {PCI_POWER_STATE_CHANGE, 16},
	    {PCI_READ_BLOCK, 16},
	    {PCI_WRITE_BLOCK, 144},
	    {PCI_EJECTION_COMPLETE, 12},
	    {PCI_RESOURCES_ASSIGNED, 148},
	    {PCI_RESOURCES_ASSIGNED2, 202},
	    {PCI_RESOURCES_ASSIGNED3, 202},
	    {PCI_RESOURCES_RELEASED, 8},
	    {PCI_CREATE_INTERRUPT_MESSAGE, 24},
	    {PCI_CREATE_INTERRUPT_MESSAGE2, 78},
	    {PCI_CREATE_INTERRUPT_MESSAGE3, 82},
	    {PCI_DELETE_INTERRUPT_MESSAGE, 24},
	    {VPCI_EXT_CFG_READ, 24},
	    {VPCI_EXT_CFG_WRITE, 24},
	};
	uint8_t buf[512] = {0};

	(void)state;
	for (size_t i = 0; i < sizeof(g2h) / sizeof(g2h[0]); i++) {
		size_t pad = (g2h[i].size + 7) & ~(size_t)7;

		memcpy(buf, &g2h[i].type, 4);
		assert_int_equal(vmb_vpci_check(buf, g2h[i].size, false), (int)g2h[i].type);
		assert_int_equal(vmb_vpci_check(buf, pad, false), (int)g2h[i].type);
		assert_int_equal(vmb_vpci_check(buf, g2h[i].size - 1, false), -EBADMSG);
		assert_int_equal(vmb_vpci_check(buf, pad + 1, false), -EBADMSG);
		/* Guest messages are not host messages. */
		assert_int_equal(vmb_vpci_check(buf, g2h[i].size, true), -ENOTSUP);
	}
	assert_int_equal(vmb_vpci_check(buf, 3, false), -EBADMSG);
	memcpy(buf, &(uint32_t){PCI_QUERY_STOP}, 4);
	assert_int_equal(vmb_vpci_check(buf, 8, false), -ENOTSUP);
}

static void test_check_relations(void **state)
{
	uint8_t buf[8 + 33 * 28] = {0};
	struct pci_bus_relations_hdr h = {PCI_BUS_RELATIONS, 2};

	(void)state;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(vmb_vpci_check(buf, 48, true), PCI_BUS_RELATIONS);
	assert_int_equal(vmb_vpci_check(buf, 47, true), -EBADMSG);
	assert_int_equal(vmb_vpci_check(buf, 56, true), -EBADMSG);
	h.type = PCI_BUS_RELATIONS2;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(vmb_vpci_check(buf, 64, true), PCI_BUS_RELATIONS2);
	assert_int_equal(vmb_vpci_check(buf, 48, true), -EBADMSG);
	/* A count that would not fit the bus, whatever the length. */
	h.device_count = 33;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(vmb_vpci_check(buf, 8 + 33 * 28, true), -EBADMSG);
	h.device_count = 0xffffffffu;
	memcpy(buf, &h, sizeof(h));
	assert_int_equal(vmb_vpci_check(buf, 8, true), -EBADMSG);
	assert_int_equal(vmb_vpci_check(buf, 7, true), -EBADMSG);
}

static void test_cfg_bar_sizing(void **state)
{
	struct vmb_pci_func_desc d;
	struct vmb_pci_cfg *c = malloc(sizeof(*c));
	uint32_t v;

	(void)state;
	vmb_pci_func_default(&d, 0x1af4, 0x1000);
	d.class_code = 0x020000;
	assert_int_equal(vmb_pci_cfg_init(c, &d), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0, 4, &v), 0);
	assert_int_equal(v, 0x10001af4);
	assert_int_equal(vmb_pci_cfg_read(c, 8, 4, &v), 0);
	assert_int_equal(v, 0x02000001);
	/* 32-bit 4 KiB BAR 0: all-ones reads back the size mask. */
	assert_int_equal(vmb_pci_cfg_write(c, 0x10, 4, 0xffffffff), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x10, 4, &v), 0);
	assert_int_equal(v, 0xfffff000);
	assert_int_equal(vmb_pci_cfg_probed_bar(c, 0), 0xfffff000);
	assert_int_equal(vmb_pci_cfg_write(c, 0x10, 4, 0xc0000123), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x10, 4, &v), 0);
	assert_int_equal(v, 0xc0000000);
	/* 64-bit 16 KiB BAR 2/3: type bits stay, the upper half is all writable. */
	assert_int_equal(vmb_pci_cfg_write(c, 0x18, 4, 0xffffffff), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x18, 4, &v), 0);
	assert_int_equal(v, 0xffffc004);
	assert_int_equal(vmb_pci_cfg_probed_bar(c, 3), 0xffffffff);
	/* BAR 1 does not exist. */
	assert_int_equal(vmb_pci_cfg_write(c, 0x14, 4, 0xffffffff), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x14, 4, &v), 0);
	assert_int_equal(v, 0);
	/* ids and header are read-only; status says there is a capability list */
	assert_int_equal(vmb_pci_cfg_write(c, 0, 4, 0), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0, 2, &v), 0);
	assert_int_equal(v, 0x1af4);
	assert_int_equal(vmb_pci_cfg_read(c, 6, 2, &v), 0);
	assert_int_equal(v & 0x10, 0x10);
	/* MSI-X capability at 0x40, 4 vectors, enable bit writable. */
	assert_int_equal(vmb_pci_cfg_read(c, 0x34, 1, &v), 0);
	assert_int_equal(v, 0x40);
	assert_int_equal(vmb_pci_cfg_read(c, 0x40, 4, &v), 0);
	assert_int_equal(v, 0x00030011);
	assert_int_equal(vmb_pci_cfg_write(c, 0x42, 2, 0xffff), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x42, 2, &v), 0);
	assert_int_equal(v, 0xc003);
	/* Misaligned, odd-sized and out-of-range accesses. */
	assert_int_equal(vmb_pci_cfg_read(c, 0x11, 4, &v), -EINVAL);
	assert_int_equal(vmb_pci_cfg_read(c, 0x10, 3, &v), -EINVAL);
	assert_int_equal(vmb_pci_cfg_write(c, 4096, 1, 0), -EINVAL);
	assert_int_equal(vmb_pci_cfg_read(c, 4092, 4, &v), 0);
	/* Bad descriptions. */
	d.bar_size[1] = 100;
	assert_int_equal(vmb_pci_cfg_init(c, &d), -EINVAL);
	d.bar_size[1] = 0;
	d.bar_size[3] = 16; /* the upper half of the 64-bit BAR 2 */
	assert_int_equal(vmb_pci_cfg_init(c, &d), -EINVAL);
	free(c);
}

static void test_cfg_msi(void **state)
{
	struct vmb_pci_func_desc d = {.vendor = 0x8086, .device = 0x1234, .msi_vectors = 4};
	struct vmb_pci_cfg *c = malloc(sizeof(*c));
	uint32_t v;

	(void)state;
	d.bar_size[0] = 256;
	assert_int_equal(vmb_pci_cfg_init(c, &d), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x40, 4, &v), 0);
	assert_int_equal(v, 0x00840005); /* 64-bit, 4 vectors capable */
	assert_int_equal(vmb_pci_cfg_write(c, 0x44, 4, 0xfee00003), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x44, 4, &v), 0);
	assert_int_equal(v, 0xfee00000);
	assert_int_equal(vmb_pci_cfg_write(c, 0x42, 2, 0xffff), 0);
	assert_int_equal(vmb_pci_cfg_read(c, 0x42, 2, &v), 0);
	assert_int_equal(v, 0x00f5);
	d.msi_vectors = 3;
	assert_int_equal(vmb_pci_cfg_init(c, &d), -EINVAL);
	free(c);
}

static void test_version_fallback(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b = new_bus(&s, PCI_PROTOCOL_VERSION_1_2);
	struct pci_version_request m = {PCI_QUERY_PROTOCOL_VERSION, PCI_PROTOCOL_VERSION_1_4};
	uint32_t q = PCI_QUERY_BUS_RELATIONS;
	size_t rl;

	(void)state;
	/* Nothing but the version before one is agreed. */
	assert_int_equal(rx(b, &q, sizeof(q), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_DEVICE_STATE);
	assert_int_equal(rx(b, &m, sizeof(m), NULL, &rl, 0),
			 (int32_t)VPCI_STATUS_REVISION_MISMATCH);
	m.protocol_version = PCI_PROTOCOL_VERSION_1_3;
	assert_int_equal(rx(b, &m, sizeof(m), NULL, &rl, 0),
			 (int32_t)VPCI_STATUS_REVISION_MISMATCH);
	m.protocol_version = 0x00020000;
	assert_int_equal(rx(b, &m, sizeof(m), NULL, &rl, 0),
			 (int32_t)VPCI_STATUS_REVISION_MISMATCH);
	m.protocol_version = PCI_PROTOCOL_VERSION_1_2;
	assert_int_equal(rx(b, &m, sizeof(m), NULL, &rl, 0), 0);
	assert_int_equal(vmb_vpci_bus_version(b), PCI_PROTOCOL_VERSION_1_2);
	assert_int_equal(rx(b, &m, sizeof(m), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_DEVICE_STATE);
	/* Below 1.3 relations come as BUS_RELATIONS with 20-byte descriptions. */
	rx(b, &q, sizeof(q), NULL, &rl, 0);
	assert_int_equal(s.sent, 1);
	assert_int_equal(s.last_len, 28);
	assert_int_equal(vmb_vpci_check(s.last, s.last_len, true), PCI_BUS_RELATIONS);
	vmb_vpci_bus_destroy(b);
}

static void test_requirements_and_relations2(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b = new_bus(&s, 0);
	struct pci_child_message q = {PCI_QUERY_RESOURCE_REQUIREMENTS, 0};
	struct pci_q_res_req_response r;
	struct pci_function_description2 fd;
	uint32_t qr = PCI_QUERY_BUS_RELATIONS;
	size_t rl;

	(void)state;
	negotiate(b, PCI_PROTOCOL_VERSION_1_4);
	rx(b, &qr, sizeof(qr), NULL, &rl, 0);
	assert_int_equal(vmb_vpci_check(s.last, s.last_len, true), PCI_BUS_RELATIONS2);
	assert_int_equal(s.last_len, 8 + 28);
	memcpy(&fd, s.last + 8, sizeof(fd));
	assert_int_equal(fd.d.v_id, 0x1b36);
	assert_int_equal(fd.d.base_class, 0x00);
	assert_int_equal(fd.d.subclass, 0xff);
	assert_int_equal(fd.d.win_slot, 0);
	assert_int_equal(rx(b, &q, sizeof(q), &r, &rl, 0), 0);
	assert_int_equal(rl, sizeof(r));
	assert_int_equal(r.probed_bar[0], 0xfffff000);
	assert_int_equal(r.probed_bar[1], 0);
	assert_int_equal(r.probed_bar[2], 0xffffc004);
	assert_int_equal(r.probed_bar[3], 0xffffffff);
	/* No function at slot 5, nor at function 1 of slot 0. */
	q.wslot = 5;
	assert_int_equal(rx(b, &q, sizeof(q), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_NO_SUCH_DEVICE);
	q.wslot = VPCI_WSLOT(0, 1);
	assert_int_equal(rx(b, &q, sizeof(q), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_NO_SUCH_DEVICE);
	/* Truncated and oversized messages are answered with a failure. */
	assert_int_equal(rx(b, &q, 7, NULL, &rl, -EBADMSG), (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	assert_int_equal(rx(b, &q, 16, NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	assert_true(s.logs >= 4);
	vmb_vpci_bus_destroy(b);
}

static void test_d0_and_resources(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b = new_bus(&s, 0);
	struct pci_bus_d0_entry d0 = {PCI_BUS_D0ENTRY, 0, 0xf8000800};
	struct pci_resources_assigned2 ra;
	struct vpci_ext_cfg cr = {VPCI_EXT_CFG_READ, 0, 0, 4, 0, 0};
	struct vpci_ext_cfg_response cresp;
	size_t rl;

	(void)state;
	negotiate(b, PCI_PROTOCOL_VERSION_1_1);
	memset(&ra, 0, sizeof(ra));
	ra.type = PCI_RESOURCES_ASSIGNED2;
	/* ASSIGNED2 is 1.2+, ASSIGNED3 1.4+. */
	assert_int_equal(rx(b, &ra, sizeof(ra), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_NOT_SUPPORTED);
	ra.type = PCI_RESOURCES_ASSIGNED;
	/* Resources and config access need D0. */
	assert_int_equal(rx(b, &ra, sizeof(struct pci_resources_assigned), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_DEVICE_STATE);
	assert_int_equal(rx(b, &cr, sizeof(cr), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_DEVICE_STATE);
	/* The window must be page aligned and non-zero. */
	assert_int_equal(rx(b, &d0, sizeof(d0), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	d0.mmio_base = 0;
	assert_int_equal(rx(b, &d0, sizeof(d0), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	d0.mmio_base = 0xf8000000;
	assert_int_equal(rx(b, &d0, sizeof(d0), NULL, &rl, 0), 0);
	assert_int_equal(rx(b, &d0, sizeof(d0), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_DEVICE_STATE);
	assert_int_equal(rx(b, &cr, sizeof(cr), &cresp, &rl, 0), 0);
	assert_int_equal(cresp.value, 0x00051b36);
	cr.offset = 2;
	assert_int_equal(rx(b, &cr, sizeof(cr), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	/* A memory range must be exactly a BAR's size, aligned to it. */
	ra.memory_range[0] =
	    (struct vpci_cm_mem_desc){VPCI_CM_RESOURCE_MEMORY, 1, 0, 0xc0000800, 0x1000, 0};
	assert_int_equal(rx(b, &ra, sizeof(struct pci_resources_assigned), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	ra.memory_range[0].start = 0xc0000000;
	ra.memory_range[1] = ra.memory_range[0]; /* BAR 1 does not exist */
	assert_int_equal(rx(b, &ra, sizeof(struct pci_resources_assigned), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	memset(&ra.memory_range[1], 0, sizeof(ra.memory_range[1]));
	ra.msi_descriptor_count = 0x401;
	assert_int_equal(rx(b, &ra, sizeof(struct pci_resources_assigned), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	ra.msi_descriptor_count = 1;
	assert_int_equal(rx(b, &ra, sizeof(struct pci_resources_assigned), NULL, &rl, 0), 0);
	vmb_vpci_bus_destroy(b);
}

static void test_interrupts(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b = new_bus(&s, 0);
	struct pci_create_interrupt c1 = {PCI_CREATE_INTERRUPT_MESSAGE, 0, {0x41, 0, 1, 0, 0x4}};
	struct pci_create_interrupt3 c3;
	struct pci_create_int_response r;
	struct pci_delete_interrupt del = {PCI_DELETE_INTERRUPT_MESSAGE, 0, {0}};
	struct pci_child_message rel = {PCI_RESOURCES_RELEASED, 0};
	size_t rl;

	(void)state;
	bring_up(b, PCI_PROTOCOL_VERSION_1_4);
	assert_int_equal(rx(b, &c1, sizeof(c1), &r, &rl, 0), 0);
	assert_int_equal(rl, sizeof(r));
	assert_int_equal(r.int_desc.address, 0xfee02000); /* VP 2 */
	assert_int_equal(r.int_desc.data, 0x41);
	assert_int_equal(r.int_desc.vector_count, 1);
	memset(&c3, 0, sizeof(c3));
	c3.type = PCI_CREATE_INTERRUPT_MESSAGE3;
	c3.int_desc.vector = 0x52;
	c3.int_desc.delivery_mode = 1;
	c3.int_desc.vector_count = 1;
	c3.int_desc.processor_count = 1;
	c3.int_desc.processor_array[0] = 1;
	assert_int_equal(rx(b, &c3, sizeof(c3), &r, &rl, 0), 0);
	assert_int_equal(r.int_desc.address, 0xfee01000);
	assert_int_equal(r.int_desc.data, 0x152);
	/* Bad vector, count, processors. */
	c3.int_desc.vector = 3;
	assert_int_equal(rx(b, &c3, sizeof(c3), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	c3.int_desc.vector = 0x60;
	c3.int_desc.vector_count = 3;
	assert_int_equal(rx(b, &c3, sizeof(c3), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	c3.int_desc.vector_count = 1;
	c3.int_desc.processor_array[0] = 64;
	assert_int_equal(rx(b, &c3, sizeof(c3), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	c3.int_desc.processor_array[0] = 0;
	c3.int_desc.processor_count = 33;
	assert_int_equal(rx(b, &c3, sizeof(c3), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	/* Delete: only what was handed out. */
	del.int_desc.address = 0xfee02000;
	del.int_desc.data = 0x42;
	assert_int_equal(rx(b, &del, sizeof(del), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	del.int_desc.data = 0x41;
	assert_int_equal(rx(b, &del, sizeof(del), NULL, &rl, 0), 0);
	assert_int_equal(rx(b, &del, sizeof(del), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	/* After RESOURCES_RELEASED no interrupt can be created. */
	assert_int_equal(rx(b, &rel, sizeof(rel), NULL, &rl, 0), 0);
	assert_int_equal(rx(b, &c1, sizeof(c1), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_DEVICE_STATE);
	vmb_vpci_bus_destroy(b);
}

static void test_interrupt_versions(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b = new_bus(&s, 0);
	struct pci_create_interrupt2 c2;
	struct pci_create_interrupt3 c3;
	size_t rl;

	(void)state;
	bring_up(b, PCI_PROTOCOL_VERSION_1_1);
	memset(&c2, 0, sizeof(c2));
	c2.type = PCI_CREATE_INTERRUPT_MESSAGE2;
	c2.int_desc.vector = 0x40;
	c2.int_desc.vector_count = 1;
	c2.int_desc.processor_count = 1;
	assert_int_equal(rx(b, &c2, sizeof(c2), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_NOT_SUPPORTED);
	memset(&c3, 0, sizeof(c3));
	c3.type = PCI_CREATE_INTERRUPT_MESSAGE3;
	assert_int_equal(rx(b, &c3, sizeof(c3), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_NOT_SUPPORTED);
	vmb_vpci_bus_destroy(b);
}

static void test_blocks(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b = new_bus(&s, 0);
	struct pci_write_block w = {PCI_WRITE_BLOCK, 2, 0, 5, "hello"};
	struct pci_read_block r = {PCI_READ_BLOCK, 2, 0, 5};
	uint8_t reply[256];
	size_t rl;

	(void)state;
	bring_up(b, PCI_PROTOCOL_VERSION_1_4);
	assert_int_equal(rx(b, &w, sizeof(w), NULL, &rl, 0), 0);
	assert_int_equal(rx(b, &r, sizeof(r), reply, &rl, 0), 0);
	assert_int_equal(rl, 9);
	assert_memory_equal(reply + 4, "hello", 5);
	r.bytes_requested = 129;
	assert_int_equal(rx(b, &r, sizeof(r), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	r.bytes_requested = 0;
	assert_int_equal(rx(b, &r, sizeof(r), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	w.block_id = VPCI_BLOCKS;
	assert_int_equal(rx(b, &w, sizeof(w), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_INVALID_PARAMETER);
	vmb_vpci_bus_destroy(b);
}

static void test_eject_and_hot_add(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b = new_bus(&s, 0);
	struct pci_eject_response done = {PCI_EJECTION_COMPLETE, 1, 0};
	struct vmb_pci_func_desc d;
	struct pci_child_message ej;
	unsigned dev;
	size_t rl;

	(void)state;
	bring_up(b, PCI_PROTOCOL_VERSION_1_3);
	vmb_pci_func_default(&d, 0x1af4, 0x1000);
	s.sent = 0;
	assert_int_equal(vmb_vpci_bus_add(b, &d, &dev), 0);
	assert_int_equal(dev, 1);
	/* A connected guest hears of the new function at once. */
	assert_int_equal(s.sent, 1);
	assert_int_equal(s.last_len, 8 + 2 * 28);
	/* EJECTION_COMPLETE before an EJECT is refused. */
	assert_int_equal(rx(b, &done, sizeof(done), NULL, &rl, -EPROTO), 0x7fffffff);
	assert_int_equal(vmb_vpci_bus_eject(b, 1), 0);
	memcpy(&ej, s.last, sizeof(ej));
	assert_int_equal(ej.type, PCI_EJECT);
	assert_int_equal(ej.wslot, 1);
	assert_int_equal(vmb_vpci_bus_eject(b, 1), -EALREADY);
	assert_int_equal(vmb_vpci_bus_eject(b, 9), -ENODEV);
	assert_true(vmb_vpci_bus_has(b, 1));
	rx(b, &done, sizeof(done), NULL, &rl, 0);
	assert_int_equal(rl, 0);
	assert_int_equal(s.ejected, 1);
	assert_false(vmb_vpci_bus_has(b, 1));
	/* The guest goes away: back to square one, functions kept. */
	vmb_vpci_bus_reset(b);
	assert_int_equal(vmb_vpci_bus_version(b), 0);
	assert_true(vmb_vpci_bus_has(b, 0));
	vmb_vpci_bus_destroy(b);
}

static void test_unknown_and_bad_create(void **state)
{
	struct sink s;
	struct vmb_vpci_bus *b;
	uint32_t m[2] = {PCI_QUERY_STOP, 0};
	uint8_t small[16];
	size_t rl;

	(void)state;
	memset(&s, 0, sizeof(s));
	assert_int_equal(vmb_vpci_bus_create(0x00010005, &sink_ops, &s, &b), -EINVAL);
	assert_int_equal(vmb_vpci_bus_create(0x00010000, &sink_ops, &s, &b), -EINVAL);
	b = new_bus(&s, 0);
	assert_int_equal(rx(b, m, sizeof(m), NULL, &rl, -EBADMSG),
			 (int32_t)VPCI_STATUS_NOT_SUPPORTED);
	assert_int_equal(rx(b, m, 2, NULL, &rl, -EBADMSG), (int32_t)VPCI_STATUS_NOT_SUPPORTED);
	/* A reply buffer too small for any answer is misuse. */
	assert_int_equal(vmb_vpci_bus_rx(b, m, sizeof(m), small, sizeof(small), &rl), -EINVAL);
	vmb_vpci_bus_destroy(b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_check_lengths),
	    cmocka_unit_test(test_check_relations),
	    cmocka_unit_test(test_cfg_bar_sizing),
	    cmocka_unit_test(test_cfg_msi),
	    cmocka_unit_test(test_version_fallback),
	    cmocka_unit_test(test_requirements_and_relations2),
	    cmocka_unit_test(test_d0_and_resources),
	    cmocka_unit_test(test_interrupts),
	    cmocka_unit_test(test_interrupt_versions),
	    cmocka_unit_test(test_blocks),
	    cmocka_unit_test(test_eject_and_hot_add),
	    cmocka_unit_test(test_unknown_and_bad_create),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
