/*
 * VPCI host side (VSP): one bus channel in front of the emulated-function
 * state machine (bus.c), and `vmbus ctl pci [add VENDOR:DEVICE [CLASS] |
 * remove SLOT]`.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pci_priv.h"

#define EJECT_TIMEOUT_S 10

/* Fixed so the bus keeps its identity (and the guest its PCI domain) across runs. */
#define VPCI_INSTANCE                                                                              \
	VMB_GUID_INIT(0x5c1a0000, 0x0001, 0x4000, 0x80, 0x00, 0x50, 0x43, 0x49, 0x00, 0x00, 0x01)

struct vmb_vpci_vsp {
	struct vmb_host *h;
	struct vmb_vsp *v;
	struct vmb_vpci_bus *bus;
	pthread_mutex_t lock; /* ch, ejected; taken inside the bus lock */
	pthread_cond_t cond;
	struct vmb_channel *ch;
	bool ejected[VPCI_MAX_FUNCS];
};

static int vsp_send(void *ctx, const void *msg, size_t len)
{
	struct vmb_vpci_vsp *p = ctx;
	int rc = -ENOTCONN;

	pthread_mutex_lock(&p->lock);
	if (p->ch)
		rc = vmb_chan_send(p->ch, msg, len, 0, VMB_SEND_NOWAIT);
	pthread_mutex_unlock(&p->lock);
	return rc;
}

static void vsp_log(void *ctx, const char *line)
{
	struct vmb_vpci_vsp *p = ctx;

	vmb_host_log(p->h, "%s", line);
}

static void vsp_ejected(void *ctx, unsigned dev)
{
	struct vmb_vpci_vsp *p = ctx;

	pthread_mutex_lock(&p->lock);
	p->ejected[dev] = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
}

static const struct vmb_vpci_bus_ops bus_ops = {
    .send = vsp_send,
    .log = vsp_log,
    .ejected = vsp_ejected,
};

static void handle(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_vpci_vsp *p = arg;
	uint8_t reply[VPCI_REPLY_MAX];
	size_t reply_len;

	if (pkt->type != VM_PKT_DATA_INBAND) {
		vmb_host_log(p->h, "vpci: ignored a packet of type %u", pkt->type);
		return;
	}
	/* Rejected messages are logged by the bus and still answered. */
	vmb_vpci_bus_rx(p->bus, pkt->data, pkt->len, reply, sizeof(reply), &reply_len);
	if (reply_len && (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED))
		vmb_chan_complete(ch, pkt->trans_id, reply, reply_len);
}

static int vsp_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		    const struct vmb_open_params *op)
{
	struct vmb_vpci_vsp *p = dev;
	int rc = 0;

	(void)v;
	(void)op;
	pthread_mutex_lock(&p->lock);
	if (sub != 0 || p->ch)
		rc = -EINVAL;
	else
		p->ch = ch;
	pthread_mutex_unlock(&p->lock);
	if (rc == 0)
		vmb_chan_set_handler(ch, handle, p);
	return rc;
}

static void vsp_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_vpci_vsp *p = dev;

	(void)v;
	(void)sub;
	pthread_mutex_lock(&p->lock);
	if (p->ch != ch) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	p->ch = NULL;
	pthread_mutex_unlock(&p->lock);
	vmb_vpci_bus_reset(p->bus);
}

static void vsp_release(void *dev)
{
	struct vmb_vpci_vsp *p = dev;

	vmb_vpci_bus_destroy(p->bus);
	pthread_cond_destroy(&p->cond);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static const struct vmb_vsp_ops vsp_ops = {
    .open = vsp_open,
    .close = vsp_close,
    .release = vsp_release,
};

void vmb_pci_func_default(struct vmb_pci_func_desc *d, uint16_t vendor, uint16_t device)
{
	memset(d, 0, sizeof(*d));
	d->vendor = vendor;
	d->device = device;
	d->class_code = 0x00ff00; /* unclassified, "other" */
	d->rev = 1;
	d->subsys_vendor = vendor;
	d->subsys_device = 0x1100;
	d->bar_size[0] = 0x1000; /* MSI-X table and PBA */
	d->bar_size[2] = 0x4000;
	d->bar_64[2] = true;
	d->msix_vectors = 4;
}

/* ---- vmbus ctl pci ---- */

static int wait_ejected(struct vmb_vpci_vsp *p, unsigned dev)
{
	struct timespec ts;
	int rc = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += EJECT_TIMEOUT_S;
	pthread_mutex_lock(&p->lock);
	while (!p->ejected[dev] && rc == 0)
		rc = pthread_cond_timedwait(&p->cond, &p->lock, &ts);
	pthread_mutex_unlock(&p->lock);
	return rc ? -ETIMEDOUT : 0;
}

static int ctl_remove(struct vmb_vpci_vsp *p, const char *arg, FILE *out)
{
	char *end;
	unsigned long dev = strtoul(arg, &end, 0);
	int rc;

	if (*end || dev >= VPCI_MAX_FUNCS)
		return -EINVAL;
	pthread_mutex_lock(&p->lock);
	p->ejected[dev] = false;
	pthread_mutex_unlock(&p->lock);
	rc = vmb_vpci_bus_eject(p->bus, (unsigned)dev);
	if (rc == 0 && vmb_vpci_bus_has(p->bus, (unsigned)dev))
		rc = wait_ejected(p, (unsigned)dev);
	if (rc == 0)
		fprintf(out, "slot %lu ejected\n", dev);
	return rc;
}

static int ctl_add(struct vmb_vpci_vsp *p, int argc, char **argv, FILE *out)
{
	struct vmb_pci_func_desc d;
	unsigned vendor, device, cls = 0x00ff00, dev;
	char tail;
	int rc;

	if (argc < 3 || sscanf(argv[2], "%x:%x%c", &vendor, &device, &tail) != 2 ||
	    vendor > 0xffff || device > 0xffff)
		return -EINVAL;
	if (argc > 3 && (sscanf(argv[3], "%x%c", &cls, &tail) != 1 || cls > 0xffffff))
		return -EINVAL;
	vmb_pci_func_default(&d, (uint16_t)vendor, (uint16_t)device);
	d.class_code = cls;
	rc = vmb_vpci_bus_add(p->bus, &d, &dev);
	if (rc == 0)
		fprintf(out, "slot %u %04x:%04x added\n", dev, vendor, device);
	return rc;
}

static int ctl_pci(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_vpci_vsp *p = ctx;

	if (argc < 2) {
		vmb_vpci_bus_list(p->bus, out);
		return 0;
	}
	if (!strcmp(argv[1], "add"))
		return ctl_add(p, argc, argv, out);
	if (!strcmp(argv[1], "remove") && argc == 3)
		return ctl_remove(p, argv[2], out);
	return -EINVAL;
}

static int add_funcs(struct vmb_vpci_vsp *p, const struct vmb_vpci_host_config *cfg)
{
	for (unsigned i = 0; i < cfg->nfuncs; i++) {
		int rc = vmb_vpci_bus_add(p->bus, &cfg->funcs[i], NULL);

		if (rc < 0)
			return rc;
	}
	return 0;
}

int vmb_vpci_vsp_add(struct vmb_host *h, const struct vmb_vpci_host_config *cfg,
		     struct vmb_vpci_vsp **out)
{
	struct vmb_vpci_vsp *p = calloc(1, sizeof(*p));
	struct vmb_vsp_desc d = {
	    .name = "pci",
	    .class_id = VMB_GUID_PCI,
	    .instance_id = VPCI_INSTANCE,
	    .max_packet = VPCI_MAX_MSG,
	    .copy_out = true,
	    .ops = &vsp_ops,
	};
	int rc;

	if (!p)
		return -ENOMEM;
	p->h = h;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	rc = vmb_vpci_bus_create(cfg->max_version, &bus_ops, p, &p->bus);
	if (rc == 0)
		rc = add_funcs(p, cfg);
	if (rc < 0) {
		vsp_release(p);
		return rc;
	}
	d.dev = p;
	rc = vmb_host_add_device(h, &d, &p->v);
	if (rc < 0) {
		vsp_release(p);
		return rc;
	}
	rc = vmb_host_ctl_register(h, "pci",
				   "pci [add VENDOR:DEVICE [CLASS] | remove SLOT]: emulated VPCI "
				   "functions",
				   ctl_pci, p);
	if (rc == 0 && out)
		*out = p;
	return rc;
}
