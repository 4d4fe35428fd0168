/* Devices (VSPs) on the host: offers, sub-channels, hot add and removal. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "host/host_priv.h"

static struct vmb_offer vsp_offer(const struct vmb_vsp *v, uint16_t sub)
{
	struct vmb_offer o = {
		.if_type = v->d.class_id,
		.if_instance = v->d.instance_id,
		.chn_flags = v->d.chn_flags,
		.mmio_megabytes = v->d.mmio_megabytes,
		.sub_channel_index = sub,
	};

	memcpy(o.user_def, v->d.user_def, sizeof(o.user_def));
	return o;
}

int vmb_host_add_device(struct vmb_host *h, const struct vmb_vsp_desc *d, struct vmb_vsp **out)
{
	struct vmb_vsp *v;
	int rc;

	if (!d->ops || !d->ops->open || !d->name)
		return -EINVAL;
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->h = h;
	v->d = *d;
	pthread_mutex_lock(&h->lock);
	struct vmb_offer o = vsp_offer(v, 0);
	rc = vmb_server_offer(h->srv, &o, v, &v->chans[0]);
	if (rc == 0) {
		v->next = h->vsps;
		h->vsps = v;
	}
	pthread_mutex_unlock(&h->lock);
	if (rc < 0) {
		free(v);
		return rc;
	}
	if (out)
		*out = v;
	return 0;
}

int vmb_vsp_offer_subchannels(struct vmb_vsp *v, unsigned n)
{
	struct vmb_host *h = v->h;
	int rc = 0;

	pthread_mutex_lock(&h->lock);
	while (v->nsubs < n && !v->removing) {
		if (v->nsubs >= VMB_MAX_SUBCHANNELS) {
			rc = -ENOSPC;
			break;
		}
		uint16_t sub = (uint16_t)(v->nsubs + 1);
		struct vmb_offer o = vsp_offer(v, sub);

		rc = vmb_server_offer(h->srv, &o, v, &v->chans[sub]);
		if (rc < 0)
			break;
		v->nsubs++;
	}
	pthread_mutex_unlock(&h->lock);
	return rc;
}

static bool vsp_has_channels(const struct vmb_vsp *v)
{
	for (unsigned i = 0; i <= VMB_MAX_SUBCHANNELS; i++)
		if (v->chans[i])
			return true;
	return false;
}

void vmb_host_vsp_free(struct vmb_vsp *v)
{
	if (v->d.ops->release)
		v->d.ops->release(v->d.dev);
	free(v);
}

static void vsp_unlink_free(struct vmb_host *h, struct vmb_vsp *v)
{
	for (struct vmb_vsp **pp = &h->vsps; *pp; pp = &(*pp)->next) {
		if (*pp == v) {
			*pp = v->next;
			break;
		}
	}
	vmb_host_vsp_free(v);
}

int vmb_host_remove_device(struct vmb_host *h, struct vmb_vsp *v)
{
	pthread_mutex_lock(&h->lock);
	v->removing = true;
	/* Sub-channels first, like a guest closes them. */
	for (int i = VMB_MAX_SUBCHANNELS; i >= 0; i--)
		if (v->chans[i] && vmb_server_rescind(h->srv, v->chans[i]) < 0)
			vmb_host_log(h, "%s: cannot rescind channel %d", v->d.name, i);
	/* Channels the guest never saw are released at once. */
	if (!vsp_has_channels(v))
		vsp_unlink_free(h, v);
	pthread_mutex_unlock(&h->lock);
	return 0;
}

void vmb_host_vsp_released(struct vmb_host *h, struct vmb_server_channel *sch)
{
	struct vmb_vsp *v = vmb_srv_chan_dev(sch);

	if (!v)
		return;
	for (unsigned i = 0; i <= VMB_MAX_SUBCHANNELS; i++)
		if (v->chans[i] == sch)
			v->chans[i] = NULL;
	if (v->removing && !vsp_has_channels(v))
		vsp_unlink_free(h, v);
}

static bool vsp_owns_relid(const struct vmb_vsp *v, uint32_t relid)
{
	for (unsigned i = 0; i <= VMB_MAX_SUBCHANNELS; i++)
		if (v->chans[i] && vmb_srv_chan_relid(v->chans[i]) == relid)
			return true;
	return false;
}

int vmb_vsp_map_gpadl(struct vmb_vsp *v, uint32_t handle, struct vmb_mapping *m)
{
	struct vmb_host *h = v->h;
	struct vmb_gpadl_view gv;
	int rc;

	pthread_mutex_lock(&h->lock);
	rc = vmb_server_gpadl(h->srv, handle, &gv);
	if (rc == 0 && !vsp_owns_relid(v, gv.relid))
		rc = -EPERM; /* a GPADL created for another device's channel */
	if (rc == 0)
		rc = vmb_host_part_map(h->part, gv.pfns, gv.count, false, m);
	pthread_mutex_unlock(&h->lock);
	return rc;
}

void vmb_vsp_unmap_gpadl(struct vmb_vsp *v, struct vmb_mapping *m)
{
	vmb_host_part_unmap(v->h->part, m);
}

struct vmb_host *vmb_vsp_host(const struct vmb_vsp *v)
{
	return v->h;
}
