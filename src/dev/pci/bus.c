/*
 * The host's VPCI bus: what Hyper-V's vPCI VSP answers, as a pure state
 * machine over emulated functions. The VSP feeds it guest messages and
 * sends what it returns; the ctl thread adds and ejects functions, hence
 * the lock.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/pci.h"
#include "pci_priv.h"

#define MAX_MSI_MESSAGES 0x400 /* more than Linux ever asks for */

static const char *const state_name[] = {"announced", "queried", "resourced", "ejecting"};

static void blog(struct vmb_vpci_bus *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void blog(struct vmb_vpci_bus *b, const char *fmt, ...)
{
	char line[192];
	va_list ap;

	if (!b->ops->log)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	b->ops->log(b->ctx, line);
}

int vmb_vpci_bus_create(uint32_t max_version, const struct vmb_vpci_bus_ops *ops, void *ctx,
			struct vmb_vpci_bus **out)
{
	struct vmb_vpci_bus *b;

	if (!max_version)
		max_version = PCI_PROTOCOL_VERSION_1_4;
	if (max_version < PCI_PROTOCOL_VERSION_1_1 || max_version > PCI_PROTOCOL_VERSION_1_4 ||
	    !ops || !ops->send)
		return -EINVAL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return -ENOMEM;
	pthread_mutex_init(&b->lock, NULL);
	b->max_version = max_version;
	b->ops = ops;
	b->ctx = ctx;
	b->next_serial = 1;
	*out = b;
	return 0;
}

void vmb_vpci_bus_destroy(struct vmb_vpci_bus *b)
{
	if (!b)
		return;
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++)
		free(b->fn[i]);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

static void drop_fn(struct vmb_vpci_bus *b, unsigned dev)
{
	free(b->fn[dev]);
	b->fn[dev] = NULL;
}

static void unresource(struct vpci_fn *f)
{
	f->nintr = 0;
	memset(f->res, 0, sizeof(f->res));
	if (f->state == VMB_VPCI_F_RESOURCED)
		f->state = VMB_VPCI_F_QUERIED;
}

void vmb_vpci_bus_reset(struct vmb_vpci_bus *b)
{
	pthread_mutex_lock(&b->lock);
	b->version = 0;
	b->d0 = false;
	b->connected = false;
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++) {
		struct vpci_fn *f = b->fn[i];

		if (!f)
			continue;
		/* Nobody is left to complete the eject. */
		if (f->state == VMB_VPCI_F_EJECTING) {
			drop_fn(b, i);
			if (b->ops->ejected)
				b->ops->ejected(b->ctx, i);
			continue;
		}
		unresource(f);
		f->state = VMB_VPCI_F_ANNOUNCED;
	}
	pthread_mutex_unlock(&b->lock);
}

static void describe(const struct vpci_fn *f, unsigned dev, struct pci_function_description *d)
{
	memset(d, 0, sizeof(*d));
	d->v_id = f->desc.vendor;
	d->d_id = f->desc.device;
	d->rev = f->desc.rev;
	d->prog_intf = (uint8_t)f->desc.class_code;
	d->subclass = (uint8_t)(f->desc.class_code >> 8);
	d->base_class = (uint8_t)(f->desc.class_code >> 16);
	d->subsystem_id = (uint32_t)f->desc.subsys_device << 16 | f->desc.subsys_vendor;
	d->win_slot = VPCI_WSLOT(dev, 0);
	d->ser = f->serial;
}

/* BUS_RELATIONS (BUS_RELATIONS2 from 1.3) with every function not being ejected. */
static int send_relations(struct vmb_vpci_bus *b)
{
	bool two = b->version >= PCI_PROTOCOL_VERSION_1_3;
	size_t each = two ? sizeof(struct pci_function_description2)
			  : sizeof(struct pci_function_description);
	uint8_t buf[sizeof(struct pci_bus_relations_hdr) +
		    VPCI_MAX_FUNCS * sizeof(struct pci_function_description2)];
	struct pci_bus_relations_hdr h = {.type = two ? PCI_BUS_RELATIONS2 : PCI_BUS_RELATIONS};
	size_t len = sizeof(h);

	memset(buf, 0, sizeof(buf));
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++) {
		if (!b->fn[i] || b->fn[i]->state == VMB_VPCI_F_EJECTING)
			continue;
		/* Description 2 starts with description 1; flags/NUMA node stay 0. */
		describe(b->fn[i], i, (struct pci_function_description *)(buf + len));
		len += each;
		h.device_count++;
	}
	memcpy(buf, &h, sizeof(h));
	return b->ops->send(b->ctx, buf, len);
}

int vmb_vpci_bus_add(struct vmb_vpci_bus *b, const struct vmb_pci_func_desc *d, unsigned *dev)
{
	struct vpci_fn *f = calloc(1, sizeof(*f));
	unsigned i;
	int rc;

	if (!f)
		return -ENOMEM;
	rc = vmb_pci_cfg_init(&f->cfg, d);
	if (rc < 0) {
		free(f);
		return rc;
	}
	f->desc = *d;
	pthread_mutex_lock(&b->lock);
	for (i = 0; i < VPCI_MAX_FUNCS && b->fn[i]; i++)
		;
	if (i == VPCI_MAX_FUNCS) {
		pthread_mutex_unlock(&b->lock);
		free(f);
		return -ENOSPC;
	}
	f->serial = b->next_serial++;
	b->fn[i] = f;
	if (b->connected)
		send_relations(b);
	pthread_mutex_unlock(&b->lock);
	if (dev)
		*dev = i;
	return 0;
}

int vmb_vpci_bus_eject(struct vmb_vpci_bus *b, unsigned dev)
{
	struct pci_child_message m = {.type = PCI_EJECT, .wslot = VPCI_WSLOT(dev, 0)};
	int rc = 0;

	if (dev >= VPCI_MAX_FUNCS)
		return -ENODEV;
	pthread_mutex_lock(&b->lock);
	if (!b->fn[dev]) {
		rc = -ENODEV;
	} else if (b->fn[dev]->state == VMB_VPCI_F_EJECTING) {
		rc = -EALREADY;
	} else if (!b->connected) {
		drop_fn(b, dev);
	} else {
		rc = b->ops->send(b->ctx, &m, sizeof(m));
		if (rc == 0)
			b->fn[dev]->state = VMB_VPCI_F_EJECTING;
	}
	pthread_mutex_unlock(&b->lock);
	return rc;
}

bool vmb_vpci_bus_has(const struct vmb_vpci_bus *b, unsigned dev)
{
	struct vmb_vpci_bus *mb = (struct vmb_vpci_bus *)b;
	bool has;

	if (dev >= VPCI_MAX_FUNCS)
		return false;
	pthread_mutex_lock(&mb->lock);
	has = b->fn[dev] != NULL;
	pthread_mutex_unlock(&mb->lock);
	return has;
}

uint32_t vmb_vpci_bus_version(const struct vmb_vpci_bus *b)
{
	return __atomic_load_n(&b->version, __ATOMIC_RELAXED);
}

void vmb_vpci_bus_list(const struct vmb_vpci_bus *b, FILE *out)
{
	struct vmb_vpci_bus *mb = (struct vmb_vpci_bus *)b;

	pthread_mutex_lock(&mb->lock);
	fprintf(out, "version %u.%u, %s\n", b->version >> 16, b->version & 0xffff,
		b->d0 ? "D0" : "not in D0");
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++) {
		const struct vpci_fn *f = b->fn[i];

		if (f)
			fprintf(out, "%u %04x:%04x class %06x %s interrupts %u (emulated)\n", i,
				f->desc.vendor, f->desc.device, f->desc.class_code,
				state_name[f->state], f->nintr);
	}
	pthread_mutex_unlock(&mb->lock);
}

/* ---- guest messages ---- */

struct rx {
	struct vmb_vpci_bus *b;
	const uint8_t *msg;
	size_t len;
	uint8_t *reply;
	size_t *reply_len;
};

static void reply_status(struct rx *r, uint32_t status)
{
	int32_t s = (int32_t)status;

	memcpy(r->reply, &s, sizeof(s));
	*r->reply_len = sizeof(s);
}

/* Log the rejection, answer with status, and tell the caller it was bad. */
static int reject(struct rx *r, uint32_t status, const char *why)
{
	uint32_t type;

	memcpy(&type, r->msg, sizeof(type));
	blog(r->b, "vpci: rejected message 0x%x: %s", type, why);
	reply_status(r, status);
	return -EBADMSG;
}

static struct vpci_fn *slot_fn(struct vmb_vpci_bus *b, uint32_t wslot)
{
	/* Only function 0 of each device number exists on our bus. */
	if (wslot & ~0x1fu)
		return NULL;
	return b->fn[wslot];
}

static int rx_version(struct rx *r)
{
	struct pci_version_request m;

	memcpy(&m, r->msg, sizeof(m));
	if (r->b->version)
		return reject(r, VPCI_STATUS_INVALID_DEVICE_STATE, "version already negotiated");
	if (m.protocol_version < PCI_PROTOCOL_VERSION_1_1 ||
	    m.protocol_version > r->b->max_version) {
		/* Not an error: the guest tries the next older one. */
		reply_status(r, VPCI_STATUS_REVISION_MISMATCH);
		return 0;
	}
	__atomic_store_n(&r->b->version, m.protocol_version, __ATOMIC_RELAXED);
	reply_status(r, VPCI_STATUS_SUCCESS);
	return 0;
}

static int rx_requirements(struct rx *r, struct vpci_fn *f)
{
	struct pci_q_res_req_response resp = {.status = 0};

	for (unsigned i = 0; i < VPCI_NUM_BARS; i++)
		resp.probed_bar[i] = vmb_pci_cfg_probed_bar(&f->cfg, i);
	if (f->state == VMB_VPCI_F_ANNOUNCED)
		f->state = VMB_VPCI_F_QUERIED;
	memcpy(r->reply, &resp, sizeof(resp));
	*r->reply_len = sizeof(resp);
	return 0;
}

static int rx_d0_entry(struct rx *r)
{
	struct pci_bus_d0_entry m;

	memcpy(&m, r->msg, sizeof(m));
	if (r->b->d0)
		return reject(r, VPCI_STATUS_INVALID_DEVICE_STATE, "D0 entry while in D0");
	/*
	 * Hyper-V decodes the config window at this guest MMIO address. We
	 * cannot trap MMIO, so any non-zero page-aligned address is accepted
	 * and config access goes through VPCI_EXT_CFG_* instead.
	 */
	if (!m.mmio_base || (m.mmio_base & 0xfff) ||
	    m.mmio_base > UINT64_MAX - VPCI_CFG_WINDOW_SIZE)
		return reject(r, VPCI_STATUS_INVALID_PARAMETER, "bad config window address");
	r->b->d0 = true;
	r->b->mmio_base = m.mmio_base;
	reply_status(r, VPCI_STATUS_SUCCESS);
	return 0;
}

static int rx_d0_exit(struct rx *r)
{
	r->b->d0 = false;
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++)
		if (r->b->fn[i])
			unresource(r->b->fn[i]);
	reply_status(r, VPCI_STATUS_SUCCESS);
	return 0;
}

static int rx_power(struct rx *r, struct vpci_fn *f)
{
	struct pci_set_power m;
	struct pci_set_power_response resp = {.status = 0};

	(void)f;
	memcpy(&m, r->msg, sizeof(m));
	if (m.power_state < 1 || m.power_state > 4)
		return reject(r, VPCI_STATUS_INVALID_PARAMETER, "bad power state");
	resp.wslot = m.wslot;
	resp.resultant_state = m.power_state;
	memcpy(r->reply, &resp, sizeof(resp));
	*r->reply_len = sizeof(resp);
	return 0;
}

/* A memory descriptor is empty (Linux sends zeros) or names exactly one BAR's window. */
static bool mem_desc_ok(const struct vpci_fn *f, unsigned i, const struct vpci_cm_mem_desc *d)
{
	uint32_t size = f->cfg.bar_size[i];

	if (d->type == 0)
		return true;
	return d->type == VPCI_CM_RESOURCE_MEMORY && size && d->length == size &&
	       (d->start & (size - 1)) == 0 && d->start <= UINT64_MAX - size;
}

static int rx_assigned(struct rx *r, struct vpci_fn *f, uint32_t type)
{
	struct vpci_cm_mem_desc mem[VPCI_NUM_BARS];
	uint32_t msi_count;

	if (type == PCI_RESOURCES_ASSIGNED2 && r->b->version < PCI_PROTOCOL_VERSION_1_2)
		return reject(r, VPCI_STATUS_NOT_SUPPORTED, "RESOURCES_ASSIGNED2 before 1.2");
	if (type == PCI_RESOURCES_ASSIGNED3 && r->b->version < PCI_PROTOCOL_VERSION_1_4)
		return reject(r, VPCI_STATUS_NOT_SUPPORTED, "RESOURCES_ASSIGNED3 before 1.4");
	if (!r->b->d0)
		return reject(r, VPCI_STATUS_INVALID_DEVICE_STATE, "resources before D0 entry");
	if (f->state == VMB_VPCI_F_EJECTING)
		return reject(r, VPCI_STATUS_INVALID_DEVICE_STATE, "resources while ejecting");
	memcpy(mem, r->msg + 8, sizeof(mem));
	memcpy(&msi_count, r->msg + 8 + sizeof(mem), sizeof(msi_count));
	if (msi_count > MAX_MSI_MESSAGES)
		return reject(r, VPCI_STATUS_INVALID_PARAMETER, "too many MSI descriptors");
	for (unsigned i = 0; i < VPCI_NUM_BARS; i++)
		if (!mem_desc_ok(f, i, &mem[i]))
			return reject(r, VPCI_STATUS_INVALID_PARAMETER, "bad memory range");
	memcpy(f->res, mem, sizeof(mem));
	f->state = VMB_VPCI_F_RESOURCED;
	reply_status(r, VPCI_STATUS_SUCCESS);
	return 0;
}

static int rx_released(struct rx *r, struct vpci_fn *f)
{
	unresource(f);
	reply_status(r, VPCI_STATUS_SUCCESS);
	return 0;
}

static int rx_block(struct rx *r, struct vpci_fn *f, uint32_t type)
{
	struct pci_write_block m;

	/* READ_BLOCK's first 16 bytes line up with WRITE_BLOCK's. */
	memset(&m, 0, sizeof(m));
	memcpy(&m, r->msg, type == PCI_WRITE_BLOCK ? sizeof(m) : sizeof(struct pci_read_block));
	if (m.block_id >= VPCI_BLOCKS || !m.byte_count || m.byte_count > VPCI_BLOCK_SIZE_MAX)
		return reject(r, VPCI_STATUS_INVALID_PARAMETER, "bad block id or size");
	if (type == PCI_WRITE_BLOCK) {
		memcpy(f->blocks[m.block_id], m.bytes, m.byte_count);
		reply_status(r, VPCI_STATUS_SUCCESS);
		return 0;
	}
	reply_status(r, VPCI_STATUS_SUCCESS);
	memcpy(r->reply + 4, f->blocks[m.block_id], m.byte_count);
	*r->reply_len = 4 + m.byte_count;
	return 0;
}

static int rx_ejected(struct rx *r, struct vpci_fn *f, uint32_t wslot)
{
	*r->reply_len = 0;
	if (f->state != VMB_VPCI_F_EJECTING) {
		blog(r->b, "vpci: EJECTION_COMPLETE for slot %u that is not being ejected", wslot);
		return -EPROTO;
	}
	drop_fn(r->b, wslot);
	if (r->b->ops->ejected)
		r->b->ops->ejected(r->b->ctx, wslot);
	return 0;
}

static int rx_cfg(struct rx *r, struct vpci_fn *f, uint32_t type)
{
	struct vpci_ext_cfg m;
	struct vpci_ext_cfg_response resp = {.status = 0};
	uint32_t val = 0;
	int rc;

	memcpy(&m, r->msg, sizeof(m));
	if (!r->b->d0)
		return reject(r, VPCI_STATUS_INVALID_DEVICE_STATE, "config access before D0 entry");
	if (type == VPCI_EXT_CFG_WRITE)
		rc = vmb_pci_cfg_write(&f->cfg, m.offset, m.size, m.value);
	else
		rc = vmb_pci_cfg_read(&f->cfg, m.offset, m.size, &val);
	if (rc < 0)
		return reject(r, VPCI_STATUS_INVALID_PARAMETER, "bad config offset or size");
	resp.value = val;
	memcpy(r->reply, &resp, sizeof(resp));
	*r->reply_len = sizeof(resp);
	return 0;
}

/* Messages about one function: find it first. */
static int rx_child(struct rx *r, uint32_t type)
{
	uint32_t wslot;
	struct vpci_fn *f;

	/* Every child message has the slot at offset 4, except the blocks. */
	memcpy(&wslot, r->msg + (type == PCI_READ_BLOCK || type == PCI_WRITE_BLOCK ? 8 : 4),
	       sizeof(wslot));
	f = slot_fn(r->b, wslot);
	if (!f)
		return reject(r, VPCI_STATUS_NO_SUCH_DEVICE, "no function in that slot");
	switch (type) {
	case PCI_QUERY_RESOURCE_REQUIREMENTS:
		return rx_requirements(r, f);
	case PCI_POWER_STATE_CHANGE:
		return rx_power(r, f);
	case PCI_RESOURCES_ASSIGNED:
	case PCI_RESOURCES_ASSIGNED2:
	case PCI_RESOURCES_ASSIGNED3:
		return rx_assigned(r, f, type);
	case PCI_RESOURCES_RELEASED:
		return rx_released(r, f);
	case PCI_READ_BLOCK:
	case PCI_WRITE_BLOCK:
		return rx_block(r, f, type);
	case PCI_EJECTION_COMPLETE:
		return rx_ejected(r, f, wslot);
	case VPCI_EXT_CFG_READ:
	case VPCI_EXT_CFG_WRITE:
		return rx_cfg(r, f, type);
	default:
		return vmb_vpci_rx_interrupt(r->b, f, type, r->msg, r->reply, r->reply_len);
	}
}

static int rx_locked(struct rx *r, int type)
{
	if (type == PCI_QUERY_PROTOCOL_VERSION)
		return rx_version(r);
	if (!r->b->version)
		return reject(r, VPCI_STATUS_INVALID_DEVICE_STATE, "no version negotiated");
	switch (type) {
	case PCI_QUERY_BUS_RELATIONS:
		r->b->connected = true;
		send_relations(r->b);
		return 0;
	case PCI_BUS_D0ENTRY:
		return rx_d0_entry(r);
	case PCI_BUS_D0EXIT:
		return rx_d0_exit(r);
	default:
		return rx_child(r, (uint32_t)type);
	}
}

int vmb_vpci_bus_rx(struct vmb_vpci_bus *b, const void *msg, size_t len, void *reply, size_t cap,
		    size_t *reply_len)
{
	struct rx r = {.b = b, .msg = msg, .len = len, .reply = reply, .reply_len = reply_len};
	int type, rc;

	*reply_len = 0;
	if (cap < VPCI_REPLY_MAX)
		return -EINVAL;
	type = vmb_vpci_check(msg, len, false);
	if (type == -EBADMSG && len >= 4)
		return reject(&r, VPCI_STATUS_INVALID_PARAMETER, "truncated or oversized");
	if (type < 0) {
		blog(b, "vpci: rejected a %zu-byte message of unknown type", len);
		reply_status(&r, VPCI_STATUS_NOT_SUPPORTED);
		return -EBADMSG;
	}
	pthread_mutex_lock(&b->lock);
	rc = rx_locked(&r, type);
	pthread_mutex_unlock(&b->lock);
	return rc;
}
