/*
 * VPCI guest side (VSC): open, version negotiation (newest first, older on
 * STATUS_REVISION_MISMATCH), QUERY_BUS_RELATIONS, then a worker thread per
 * bus that acts on bus relations and EJECTs whenever the host sends them
 * (the channel handler runs on a VP thread and must not wait for the host).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pci_guest.h"
#include "util/deadline.h"

#define MAX_BUSES 8

struct vmb_vpci_guest {
	struct vmb_driver drv;
	struct vmb_guest *g;
	uint32_t max_version;
	char *list_path;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct gbus *buses[MAX_BUSES];
	unsigned nset; /* functions set up, over all buses */
	uint32_t version;
};

static const uint32_t versions[] = {PCI_PROTOCOL_VERSION_1_4, PCI_PROTOCOL_VERSION_1_3,
				    PCI_PROTOCOL_VERSION_1_2, PCI_PROTOCOL_VERSION_1_1};

void vmb_vpci_guest_logf(struct gbus *gb, const char *fmt, ...)
{
	char line[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	vmb_guest_log(gb->vg->g, "%s", line);
}

int vmb_vpci_guest_req(struct gbus *gb, const void *msg, size_t len, void *resp, size_t cap,
		       size_t min_len)
{
	uint8_t buf[VPCI_MAX_MSG];
	size_t got = 0;
	int32_t st;
	uint32_t type;
	int rc;

	rc = vmb_chan_request_sync(gb->ch, msg, len, buf, sizeof(buf), &got, VPCI_GUEST_TIMEOUT_MS);
	if (rc < 0)
		return rc;
	memcpy(&type, msg, sizeof(type));
	if (got < sizeof(st) || got < min_len) {
		vmb_vpci_guest_logf(gb, "vpci: %zu-byte answer to message 0x%x", got, type);
		return -EBADMSG;
	}
	memcpy(&st, buf, sizeof(st));
	if (st != 0) {
		vmb_vpci_guest_logf(gb, "vpci: host failed message 0x%x with status 0x%x", type,
				    (uint32_t)st);
		return -EPROTO;
	}
	memcpy(resp, buf, got < cap ? got : cap);
	return 0;
}

static int negotiate(struct gbus *gb)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct pci_version_request m = {PCI_QUERY_PROTOCOL_VERSION, versions[i]};
		uint8_t buf[64];
		size_t got = 0;
		int32_t st;
		int rc;

		if (versions[i] > gb->vg->max_version)
			continue;
		rc = vmb_chan_request_sync(gb->ch, &m, sizeof(m), buf, sizeof(buf), &got,
					   VPCI_GUEST_TIMEOUT_MS);
		if (rc < 0)
			return rc;
		if (got < sizeof(st))
			return -EBADMSG;
		memcpy(&st, buf, sizeof(st));
		if (st == 0) {
			gb->version = versions[i];
			return 0;
		}
		if ((uint32_t)st != VPCI_STATUS_REVISION_MISMATCH)
			return -EPROTO;
	}
	return -EPROTONOSUPPORT;
}

/* ---- the list (lspci-style) ---- */

static void print_fn(FILE *f, unsigned dev, const struct gfn *fn)
{
	const char *sep = " ";

	fprintf(f, "%02x:00.0 %04x:%04x %02x%02x%02x %02x", dev, fn->desc.v_id, fn->desc.d_id,
		fn->desc.base_class, fn->desc.subclass, fn->desc.prog_intf, fn->desc.rev);
	for (unsigned i = 0; i < VPCI_NUM_BARS; i++) {
		if (!fn->bar_size[i])
			continue;
		fprintf(f, "%sbar%u=0x%llx+0x%llx", sep, i, (unsigned long long)fn->bar_addr[i],
			(unsigned long long)fn->bar_size[i]);
		sep = ",";
	}
	fprintf(f, " msi=0x%llx/0x%x\n", (unsigned long long)fn->intr.address, fn->intr.data);
}

/* With vg->lock held. */
static void write_list(struct vmb_vpci_guest *vg)
{
	char tmp[4096 + 8];
	FILE *f;

	vg->nset = 0;
	for (unsigned b = 0; b < MAX_BUSES; b++)
		for (unsigned i = 0; vg->buses[b] && i < VPCI_MAX_FUNCS; i++)
			vg->nset += vg->buses[b]->fn[i].set_up;
	pthread_cond_broadcast(&vg->cond);
	if (!vg->list_path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", vg->list_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	for (unsigned b = 0; b < MAX_BUSES; b++)
		for (unsigned i = 0; vg->buses[b] && i < VPCI_MAX_FUNCS; i++)
			if (vg->buses[b]->fn[i].set_up)
				print_fn(f, i, &vg->buses[b]->fn[i]);
	if (fclose(f) == 0)
		rename(tmp, vg->list_path);
}

/* ---- events, on the worker ---- */

static void fn_gone(struct gbus *gb, unsigned dev, const char *why)
{
	vmb_vpci_guest_teardown(gb, dev);
	gb->fn[dev].present = false;
	vmb_vpci_guest_logf(gb, "vpci: slot %u %04x:%04x %s", dev, gb->fn[dev].desc.v_id,
			    gb->fn[dev].desc.d_id, why);
}

static void do_relations(struct gbus *gb, uint32_t n, const struct pci_function_description *rel)
{
	bool listed[VPCI_MAX_FUNCS] = {false}, fresh[VPCI_MAX_FUNCS] = {false};

	for (uint32_t k = 0; k < n; k++) {
		uint32_t w = rel[k].win_slot;

		if ((w & ~0x1fu) || listed[w]) {
			vmb_vpci_guest_logf(gb, "vpci: ignored function at slot 0x%x", w);
			continue;
		}
		listed[w] = true;
		if (gb->fn[w].present && !memcmp(&gb->fn[w].desc, &rel[k], sizeof(rel[k])))
			continue;
		if (gb->fn[w].present)
			fn_gone(gb, w, "replaced");
		memset(&gb->fn[w], 0, sizeof(gb->fn[w]));
		gb->fn[w].desc = rel[k];
		gb->fn[w].present = true;
		fresh[w] = vmb_vpci_guest_query(gb, w) == 0;
	}
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++)
		if (gb->fn[i].present && !listed[i])
			fn_gone(gb, i, "no longer reported");
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++) {
		if (!fresh[i])
			continue;
		if (vmb_vpci_guest_d0_entry(gb) < 0 || vmb_vpci_guest_setup(gb, i) < 0) {
			vmb_vpci_guest_logf(gb, "vpci: slot %u could not be set up", i);
			continue;
		}
		vmb_vpci_guest_logf(gb, "vpci: slot %u %04x:%04x class %02x%02x set up", i,
				    gb->fn[i].desc.v_id, gb->fn[i].desc.d_id,
				    gb->fn[i].desc.base_class, gb->fn[i].desc.subclass);
	}
}

static void do_ejects(struct gbus *gb, uint32_t mask)
{
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++) {
		struct pci_eject_response m = {PCI_EJECTION_COMPLETE, VPCI_WSLOT(i, 0), 0};

		if (!(mask & (1u << i)))
			continue;
		if (!gb->fn[i].present) {
			vmb_vpci_guest_logf(gb, "vpci: EJECT for empty slot %u ignored", i);
			continue;
		}
		fn_gone(gb, i, "ejected");
		vmb_chan_send(gb->ch, &m, sizeof(m), 0, 0);
	}
}

static void *worker_main(void *arg)
{
	struct gbus *gb = arg;
	struct pci_function_description rel[VPCI_MAX_FUNCS];

	pthread_mutex_lock(&gb->lock);
	while (!gb->stop) {
		bool have_rel = gb->relations_pending;
		uint32_t n = gb->rel_count, ejects = gb->eject_mask;

		if (!have_rel && !ejects) {
			pthread_cond_wait(&gb->cond, &gb->lock);
			continue;
		}
		memcpy(rel, gb->rel, sizeof(rel));
		gb->relations_pending = false;
		gb->eject_mask = 0;
		pthread_mutex_unlock(&gb->lock);
		do_ejects(gb, ejects);
		if (have_rel)
			do_relations(gb, n, rel);
		pthread_mutex_lock(&gb->vg->lock);
		write_list(gb->vg);
		pthread_mutex_unlock(&gb->vg->lock);
		pthread_mutex_lock(&gb->lock);
		gb->relations_seen += have_rel;
		pthread_cond_broadcast(&gb->cond);
	}
	pthread_mutex_unlock(&gb->lock);
	return NULL;
}

/* ---- channel handler (VP thread): queue the work ---- */

static void take_relations(struct gbus *gb, const uint8_t *p, uint32_t type)
{
	size_t each = type == PCI_BUS_RELATIONS ? sizeof(struct pci_function_description)
						: sizeof(struct pci_function_description2);
	struct pci_bus_relations_hdr h;

	memcpy(&h, p, sizeof(h));
	/* Only the newest relations matter: they replace any not yet handled. */
	gb->rel_count = h.device_count;
	for (uint32_t i = 0; i < h.device_count; i++)
		memcpy(&gb->rel[i], p + sizeof(h) + i * each, sizeof(gb->rel[i]));
	gb->relations_pending = true;
}

static void on_packet(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct gbus *gb = arg;
	struct pci_child_message c;
	int type;

	(void)ch;
	type =
	    pkt->type == VM_PKT_DATA_INBAND ? vmb_vpci_check(pkt->data, pkt->len, true) : -ENOTSUP;
	if (type < 0) {
		vmb_vpci_guest_logf(gb, "vpci: dropped a malformed %u-byte host message", pkt->len);
		return;
	}
	pthread_mutex_lock(&gb->lock);
	if (type == PCI_BUS_RELATIONS || type == PCI_BUS_RELATIONS2) {
		take_relations(gb, pkt->data, (uint32_t)type);
	} else if (type == PCI_EJECT) {
		memcpy(&c, pkt->data, sizeof(c));
		if (c.wslot & ~0x1fu)
			vmb_vpci_guest_logf(gb, "vpci: EJECT for bad slot 0x%x", c.wslot);
		else
			gb->eject_mask |= 1u << c.wslot;
	} else {
		vmb_vpci_guest_logf(gb, "vpci: config blocks invalidated");
	}
	pthread_cond_broadcast(&gb->cond);
	pthread_mutex_unlock(&gb->lock);
}

/* ---- driver ---- */

static int wait_first_relations(struct gbus *gb)
{
	struct timespec ts;
	int rc = 0;

	vmb_deadline_after(&ts, CLOCK_REALTIME, VPCI_GUEST_TIMEOUT_MS);
	pthread_mutex_lock(&gb->lock);
	while (!gb->relations_seen && rc == 0)
		rc = pthread_cond_timedwait(&gb->cond, &gb->lock, &ts);
	pthread_mutex_unlock(&gb->lock);
	return rc ? -ETIMEDOUT : 0;
}

static int attach(struct vmb_vpci_guest *vg, struct gbus *gb)
{
	int rc = -ENOSPC;

	pthread_mutex_lock(&vg->lock);
	for (unsigned i = 0; i < MAX_BUSES; i++) {
		if (!vg->buses[i]) {
			vg->buses[i] = gb;
			vg->version = gb->version;
			rc = 0;
			break;
		}
	}
	pthread_mutex_unlock(&vg->lock);
	return rc;
}

static void stop_worker(struct gbus *gb)
{
	pthread_mutex_lock(&gb->lock);
	gb->stop = true;
	pthread_cond_broadcast(&gb->cond);
	pthread_mutex_unlock(&gb->lock);
	pthread_join(gb->worker, NULL);
}

static void free_bus(struct gbus *gb)
{
	pthread_cond_destroy(&gb->cond);
	pthread_mutex_destroy(&gb->lock);
	free(gb);
}

static int start(struct gbus *gb)
{
	uint32_t q = PCI_QUERY_BUS_RELATIONS;
	int rc = negotiate(gb);

	if (rc < 0) {
		vmb_vpci_guest_logf(gb, "vpci: no protocol version agreed (%d)", rc);
		return rc;
	}
	if (pthread_create(&gb->worker, NULL, worker_main, gb) != 0)
		return -EAGAIN;
	rc = attach(gb->vg, gb);
	if (rc == 0)
		rc = vmb_chan_send(gb->ch, &q, sizeof(q), 0, 0);
	if (rc == 0)
		rc = wait_first_relations(gb);
	if (rc < 0)
		stop_worker(gb);
	return rc;
}

static void detach(struct vmb_vpci_guest *vg, struct gbus *gb)
{
	pthread_mutex_lock(&vg->lock);
	for (unsigned i = 0; i < MAX_BUSES; i++)
		if (vg->buses[i] == gb)
			vg->buses[i] = NULL;
	write_list(vg);
	pthread_mutex_unlock(&vg->lock);
}

static int vpci_probe(struct vmb_device *dev)
{
	struct vmb_vpci_guest *vg = vmb_device_driver(dev)->ctx;
	struct gbus *gb = calloc(1, sizeof(*gb));
	struct vmb_open_opts o = {
	    .send_ring = VPCI_RING_BYTES,
	    .recv_ring = VPCI_RING_BYTES,
	    .handler = on_packet,
	    .copy_out = true,
	    .max_packet = VPCI_MAX_MSG,
	};
	int rc;

	if (!gb)
		return -ENOMEM;
	gb->vg = vg;
	gb->dev = dev;
	pthread_mutex_init(&gb->lock, NULL);
	pthread_cond_init(&gb->cond, NULL);
	o.arg = gb;
	rc = vmb_device_open(dev, &o, &gb->ch);
	if (rc == 0)
		rc = start(gb);
	if (rc < 0) {
		detach(vg, gb);
		if (gb->ch)
			vmb_device_close(dev, gb->ch);
		free_bus(gb);
		return rc;
	}
	vmb_device_set_priv(dev, gb);
	vmb_vpci_guest_logf(gb, "vpci: bus up, protocol %u.%u", gb->version >> 16,
			    gb->version & 0xffff);
	return 0;
}

static void vpci_remove(struct vmb_device *dev)
{
	struct gbus *gb = vmb_device_priv(dev);

	if (!gb)
		return;
	stop_worker(gb);
	for (unsigned i = 0; i < VPCI_MAX_FUNCS; i++)
		gb->fn[i].set_up = false;
	detach(gb->vg, gb);
	vmb_device_close(dev, gb->ch);
	free_bus(gb);
}

int vmb_vpci_guest_register(struct vmb_guest *g, const struct vmb_vpci_guest_config *cfg,
			    struct vmb_vpci_guest **out)
{
	struct vmb_vpci_guest *vg = calloc(1, sizeof(*vg));
	int rc;

	if (!vg)
		return -ENOMEM;
	vg->g = g;
	vg->max_version = cfg && cfg->max_version ? cfg->max_version : PCI_PROTOCOL_VERSION_1_4;
	if (cfg && cfg->list_path && !(vg->list_path = strdup(cfg->list_path))) {
		free(vg);
		return -ENOMEM;
	}
	pthread_mutex_init(&vg->lock, NULL);
	pthread_cond_init(&vg->cond, NULL);
	vg->drv = (struct vmb_driver){.name = "vpci",
				      .class_id = VMB_GUID_PCI,
				      .probe = vpci_probe,
				      .remove = vpci_remove,
				      .ctx = vg};
	pthread_mutex_lock(&vg->lock);
	write_list(vg);
	pthread_mutex_unlock(&vg->lock);
	rc = vmb_guest_register_driver(g, &vg->drv);
	if (rc < 0) {
		vmb_vpci_guest_free(vg);
		return rc;
	}
	*out = vg;
	return 0;
}

void vmb_vpci_guest_free(struct vmb_vpci_guest *vg)
{
	if (!vg)
		return;
	pthread_cond_destroy(&vg->cond);
	pthread_mutex_destroy(&vg->lock);
	free(vg->list_path);
	free(vg);
}

unsigned vmb_vpci_guest_count(struct vmb_vpci_guest *vg)
{
	unsigned n;

	pthread_mutex_lock(&vg->lock);
	n = vg->nset;
	pthread_mutex_unlock(&vg->lock);
	return n;
}

int vmb_vpci_guest_wait(struct vmb_vpci_guest *vg, unsigned n, int timeout_ms)
{
	struct timespec ts;
	int rc = 0;

	vmb_deadline_after(&ts, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&vg->lock);
	while (vg->nset != n && rc == 0)
		rc = pthread_cond_timedwait(&vg->cond, &vg->lock, &ts);
	rc = vg->nset == n ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&vg->lock);
	return rc;
}

uint32_t vmb_vpci_guest_version(struct vmb_vpci_guest *vg)
{
	uint32_t v;

	pthread_mutex_lock(&vg->lock);
	v = vg->version;
	pthread_mutex_unlock(&vg->lock);
	return v;
}
