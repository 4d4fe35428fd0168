/* synthvid, guest side: negotiate, share VRAM, set a mode, report dirty rectangles. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "util/deadline.h"
#include "vmbus/dev/video.h"

#define SV_TIMEOUT_MS 5000
/* The largest mode (7680x4320x32) fits in 128 MiB; a bigger offer is not needed. */
#define SV_MAX_VRAM_MB 128u

struct sv_dev {
	struct vmb_synthvid_guest *sg;
	struct vmb_channel *ch;
	struct vmb_synthvid_guest_state st; /* under sg->lock */
	uint8_t *vram;
	size_t vram_size;
	uint64_t vram_gpa;
	struct vmb_fb_info fb;
};

struct vmb_synthvid_guest {
	struct vmb_driver drv;
	struct vmb_guest *g;
	struct vmb_synthvid_guest_config cfg;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct sv_dev *dev; /* the bound device */
};

static void sv_rx(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct sv_dev *d = arg;
	int rc;

	pthread_mutex_lock(&d->sg->lock);
	rc = vmb_synthvid_guest_rx(&d->st, pkt->data, pkt->len);
	pthread_cond_broadcast(&d->sg->cond);
	pthread_mutex_unlock(&d->sg->lock);
	if (rc < 0)
		vmb_chan_fail(ch, rc == -EBADMSG ? "synthvid: malformed message from the host"
						 : "synthvid: unexpected message from the host");
}

static int sv_send(struct sv_dev *d, uint32_t type, const void *body, size_t len)
{
	uint8_t buf[SYNTHVID_HDRS + 64 + SYNTHVID_DIRT_HDR];
	int n = vmb_synthvid_build(buf, sizeof(buf), type, body, len);

	return n < 0 ? n : vmb_chan_send(d->ch, buf, (size_t)n, 0, 0);
}

/* Wait until *flag (under sg->lock) is set. */
static int sv_wait(struct sv_dev *d, const bool *flag)
{
	struct timespec dl;
	int rc = 0;

	vmb_deadline_after(&dl, CLOCK_REALTIME, SV_TIMEOUT_MS);
	pthread_mutex_lock(&d->sg->lock);
	while (!*flag && rc == 0 && !vmb_chan_error(d->ch))
		rc = pthread_cond_timedwait(&d->sg->cond, &d->sg->lock, &dl);
	rc = *flag ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&d->sg->lock);
	return rc;
}

static int sv_negotiate(struct sv_dev *d)
{
	static const uint32_t versions[] = {SYNTHVID_VERSION_WIN10, SYNTHVID_VERSION_WIN8,
					    SYNTHVID_VERSION_WIN7};

	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		int rc;

		pthread_mutex_lock(&d->sg->lock);
		d->st.version = versions[i];
		d->st.answered = d->st.accepted = false;
		pthread_mutex_unlock(&d->sg->lock);
		rc = sv_send(d, SYNTHVID_VERSION_REQUEST, &versions[i], 4);
		if (rc == 0)
			rc = sv_wait(d, &d->st.answered);
		if (rc < 0)
			return rc;
		if (d->st.accepted)
			return 0;
	}
	vmb_guest_log(d->sg->g, "synthvid: the host refused versions 3.5, 3.2 and 3.0");
	return -EPROTO;
}

/* VRAM must be one GPA range: take guest memory whose pages are consecutive. */
static int sv_alloc_vram(struct sv_dev *d, size_t bytes)
{
	struct vmb_guest *g = d->sg->g;
	uint64_t first, pfn;

	d->vram = vmb_guest_alloc_dma(g, bytes, &first);
	if (!d->vram)
		return -ENOMEM;
	for (size_t off = 0; off < bytes; off += 4096) {
		if (vmb_guest_va_to_pfn(g, d->vram + off, &pfn) < 0 || pfn != first + off / 4096) {
			vmb_guest_log(g, "synthvid: no physically contiguous VRAM");
			vmb_guest_free_dma(g, d->vram, bytes);
			d->vram = NULL;
			return -ENOMEM;
		}
	}
	d->vram_size = bytes;
	d->vram_gpa = first * 4096;
	return 0;
}

static int sv_configure(struct sv_dev *d, size_t vram_bytes)
{
	const struct vmb_synthvid_guest_config *c = &d->sg->cfg;
	struct synthvid_vram_location v = {.is_vram_gpa_specified = 1};
	struct synthvid_situation_update u = {.video_output_count = 1};
	uint8_t max = SYNTHVID_MAX_RESOLUTIONS;
	int rc = 0;

	if (d->st.version >= SYNTHVID_VERSION_WIN10) {
		rc = sv_send(d, SYNTHVID_RESOLUTION_REQUEST, &max, 1);
		if (rc == 0)
			rc = sv_wait(d, &d->st.res_answered);
	}
	if (rc == 0)
		rc = sv_alloc_vram(d, vram_bytes);
	if (rc < 0)
		return rc;
	d->fb = (struct vmb_fb_info){d->vram, c->width ? c->width : 1024,
				     c->height ? c->height : 768, 0};
	d->fb.pitch = d->fb.width * 4;
	if ((uint64_t)d->fb.pitch * d->fb.height > vram_bytes)
		return -EINVAL;
	v.vram_gpa = d->vram_gpa;
	v.user_ctx = d->st.vram_ctx = d->vram_gpa;
	rc = sv_send(d, SYNTHVID_VRAM_LOCATION, &v, sizeof(v));
	if (rc == 0)
		rc = sv_wait(d, &d->st.vram_acked);
	if (rc < 0)
		return rc;
	u.user_ctx = d->st.situ_ctx = 1;
	u.video_output[0] = (struct video_output_situation){
	    .active = 1,
	    .depth_bits = 32,
	    .width_pixels = d->fb.width,
	    .height_pixels = d->fb.height,
	    .pitch_bytes = d->fb.pitch,
	};
	rc = sv_send(d, SYNTHVID_SITUATION_UPDATE, &u, sizeof(u));
	return rc == 0 ? sv_wait(d, &d->st.situ_acked) : rc;
}

static void sv_teardown(struct vmb_device *dev, struct sv_dev *d)
{
	if (d->ch)
		vmb_device_close(dev, d->ch);
	if (d->vram)
		vmb_guest_free_dma(d->sg->g, d->vram, d->vram_size);
	free(d);
}

static int sv_probe(struct vmb_device *dev)
{
	struct vmb_synthvid_guest *sg = vmb_device_driver(dev)->ctx;
	struct sv_dev *d = calloc(1, sizeof(*d));
	uint16_t mb = vmb_device_offer(dev)->mmio_megabytes;
	struct vmb_open_opts o = {
	    .send_ring = SYNTHVID_RING_BYTES,
	    .recv_ring = SYNTHVID_RING_BYTES,
	    .handler = sv_rx,
	    .copy_out = true,
	    .max_packet = SYNTHVID_MAX_PACKET + 8,
	};
	int rc;

	if (mb > SV_MAX_VRAM_MB) {
		vmb_guest_log(sg->g, "synthvid: refusing %u MiB of VRAM (at most %u)", mb,
			      SV_MAX_VRAM_MB);
		free(d);
		return -EINVAL;
	}
	if (!d)
		return -ENOMEM;
	d->sg = sg;
	o.arg = d;
	rc = vmb_device_open(dev, &o, &d->ch);
	if (rc == 0)
		rc = sv_negotiate(d);
	if (rc == 0)
		rc = sv_configure(d, (size_t)(mb ? mb : 8) << 20);
	if (rc < 0) {
		sv_teardown(dev, d);
		return rc;
	}
	pthread_mutex_lock(&sg->lock);
	sg->dev = d;
	pthread_mutex_unlock(&sg->lock);
	vmb_device_set_priv(dev, d);
	if (sg->cfg.pattern) {
		vmb_synthvid_draw_pattern(&d->fb);
		vmb_synthvid_guest_dirty(sg, 0, 0, (int32_t)d->fb.width, (int32_t)d->fb.height);
	}
	return 0;
}

static void sv_remove(struct vmb_device *dev)
{
	struct vmb_synthvid_guest *sg = vmb_device_driver(dev)->ctx;
	struct sv_dev *d = vmb_device_priv(dev);

	if (!d)
		return;
	pthread_mutex_lock(&sg->lock);
	sg->dev = NULL;
	pthread_mutex_unlock(&sg->lock);
	sv_teardown(dev, d);
}

int vmb_synthvid_guest_fb(struct vmb_synthvid_guest *sg, struct vmb_fb_info *fb)
{
	int rc = -ENODEV;

	pthread_mutex_lock(&sg->lock);
	if (sg->dev) {
		*fb = sg->dev->fb;
		rc = 0;
	}
	pthread_mutex_unlock(&sg->lock);
	return rc;
}

int vmb_synthvid_guest_dirty(struct vmb_synthvid_guest *sg, int32_t x1, int32_t y1, int32_t x2,
			     int32_t y2)
{
	uint8_t body[SYNTHVID_DIRT_HDR + sizeof(struct synthvid_rect)] = {0, 1};
	struct synthvid_rect r = {x1, y1, x2, y2};
	struct sv_dev *d;
	int rc = -ENODEV;

	pthread_mutex_lock(&sg->lock);
	d = sg->dev;
	if (d && (x1 < 0 || y1 < 0 || x1 >= x2 || y1 >= y2 || (uint32_t)x2 > d->fb.width ||
		  (uint32_t)y2 > d->fb.height))
		rc = -EINVAL;
	else if (d && !d->st.dirt_needed)
		rc = 0;
	else if (d) {
		memcpy(body + SYNTHVID_DIRT_HDR, &r, sizeof(r));
		/* Held across the send so that remove cannot close the channel under it. */
		rc = sv_send(d, SYNTHVID_DIRT, body, sizeof(body));
	}
	pthread_mutex_unlock(&sg->lock);
	return rc;
}

int vmb_synthvid_guest_register(struct vmb_guest *g, const struct vmb_synthvid_guest_config *cfg,
				struct vmb_synthvid_guest **out)
{
	struct vmb_synthvid_guest *sg = calloc(1, sizeof(*sg));

	if (!sg)
		return -ENOMEM;
	sg->g = g;
	sg->cfg = *cfg;
	pthread_mutex_init(&sg->lock, NULL);
	pthread_cond_init(&sg->cond, NULL);
	sg->drv = (struct vmb_driver){
	    .name = "hyperv_fb",
	    .class_id = VMB_GUID_SYNTHVID,
	    .probe = sv_probe,
	    .remove = sv_remove,
	    .ctx = sg,
	};
	*out = sg;
	return vmb_guest_register_driver(g, &sg->drv);
}

void vmb_synthvid_guest_free(struct vmb_synthvid_guest *sg)
{
	if (!sg)
		return;
	pthread_cond_destroy(&sg->cond);
	pthread_mutex_destroy(&sg->lock);
	free(sg);
}
