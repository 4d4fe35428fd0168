/* synthvid, host side: mode and VRAM tracking, screenshots from guest memory. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/video.h"

struct vmb_synthvid_vsp {
	struct vmb_host *h;
	struct vmb_vsp *v;
	pthread_mutex_t lock; /* st and ch: the loop thread and ctl commands share them */
	struct vmb_channel *ch;
	struct vmb_synthvid_host_state st;
	uint32_t max_version;
	uint64_t vram_size;
};

static bool vram_ok(void *ctx, uint64_t gpa, uint64_t len)
{
	struct vmb_synthvid_vsp *s = ctx;

	return len <= SIZE_MAX && vmb_host_gpa(s->h, gpa, (size_t)len) != NULL;
}

static void reset_state(struct vmb_synthvid_vsp *s)
{
	s->st = (struct vmb_synthvid_host_state){
	    .max_version = s->max_version,
	    .vram_size = s->vram_size,
	    .vram_ok = vram_ok,
	    .ctx = s,
	};
}

static void sv_handle(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_synthvid_vsp *s = arg;
	uint8_t reply[SYNTHVID_HDRS + sizeof(struct synthvid_resolution_resp)], reply2[64];
	size_t len, len2;
	int rc;

	pthread_mutex_lock(&s->lock);
	rc = vmb_synthvid_host_rx(&s->st, pkt->data, pkt->len, reply, sizeof(reply), &len, reply2,
				  sizeof(reply2), &len2);
	pthread_mutex_unlock(&s->lock);
	if (rc == -EINVAL) {
		uint32_t type;

		/* Well-formed but refused (bad mode, VRAM outside RAM, bad rect): no ack. */
		memcpy(&type, (const uint8_t *)pkt->data + sizeof(struct vmbus_pipe_hdr), 4);
		vmb_host_log(s->h, "synthvid: refused a type %u request from the guest", type);
		return;
	}
	if (rc < 0) {
		vmb_chan_fail(ch, rc == -EBADMSG ? "synthvid: malformed message"
						 : "synthvid: unexpected message");
		return;
	}
	if (len)
		vmb_chan_send(ch, reply, len, 0, 0);
	if (len2)
		vmb_chan_send(ch, reply2, len2, 0, 0);
	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		vmb_chan_complete(ch, pkt->trans_id, NULL, 0);
}

static int sv_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		   const struct vmb_open_params *p)
{
	struct vmb_synthvid_vsp *s = dev;
	int rc = 0;

	(void)v;
	(void)p;
	pthread_mutex_lock(&s->lock);
	if (sub || s->ch)
		rc = -EBUSY;
	else
		s->ch = ch;
	reset_state(s);
	pthread_mutex_unlock(&s->lock);
	if (rc == 0)
		vmb_chan_set_handler(ch, sv_handle, s);
	return rc;
}

static void sv_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_synthvid_vsp *s = dev;

	(void)v;
	(void)sub;
	pthread_mutex_lock(&s->lock);
	if (s->ch == ch) {
		s->ch = NULL;
		reset_state(s);
	}
	pthread_mutex_unlock(&s->lock);
}

static void sv_release(void *dev)
{
	struct vmb_synthvid_vsp *s = dev;

	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct vmb_vsp_ops sv_ops = {
    .open = sv_open,
    .close = sv_close,
    .release = sv_release,
};

int vmb_synthvid_vsp_add(struct vmb_host *h, const struct vmb_synthvid_host_config *cfg,
			 struct vmb_synthvid_vsp **out)
{
	struct vmb_synthvid_vsp *s = calloc(1, sizeof(*s));
	uint16_t mb = cfg && cfg->vram_mb ? cfg->vram_mb : 8;
	struct vmb_vsp_desc d = {
	    .name = "synthvid",
	    .class_id = VMB_GUID_SYNTHVID,
	    .instance_id = VMB_GUID_SYNTHVID_INSTANCE,
	    .mmio_megabytes = mb,
	    .max_packet = SYNTHVID_MAX_PACKET + 8,
	    .copy_out = true,
	    .ops = &sv_ops,
	};
	int rc;

	if (!s)
		return -ENOMEM;
	s->h = h;
	s->max_version = cfg && cfg->max_version ? cfg->max_version : SYNTHVID_VERSION_WIN10;
	s->vram_size = (uint64_t)mb << 20;
	pthread_mutex_init(&s->lock, NULL);
	reset_state(s);
	d.dev = s;
	rc = vmb_host_add_device(h, &d, &s->v);
	if (rc < 0) {
		sv_release(s);
		return rc;
	}
	*out = s;
	return 0;
}

int vmb_synthvid_vsp_screenshot(struct vmb_synthvid_vsp *s, const char *path)
{
	struct vmb_synthvid_mode m;
	const uint8_t *fb = NULL;
	FILE *f;
	int rc;

	pthread_mutex_lock(&s->lock);
	m = s->st.mode;
	if (s->st.mode_set)
		fb = vmb_host_gpa(s->h, s->st.vram_gpa, (size_t)s->vram_size);
	pthread_mutex_unlock(&s->lock);
	if (!fb)
		return -ENODATA;
	f = fopen(path, "wb");
	if (!f)
		return -errno;
	/* Guest RAM outlives the channel; the guest may be drawing meanwhile (tearing only). */
	rc = vmb_synthvid_write_ppm(f, fb, &m);
	if (fclose(f) != 0 && rc == 0)
		rc = -EIO;
	return rc;
}

static int ctl_screenshot(void *ctx, int argc, char **argv, FILE *out)
{
	int rc;

	if (argc != 2) {
		fprintf(out, "usage: screenshot FILE.ppm\n");
		return -EINVAL;
	}
	rc = vmb_synthvid_vsp_screenshot(ctx, argv[1]);
	if (rc == -ENODATA)
		fprintf(out, "the guest has not set a video mode\n");
	else if (rc < 0)
		fprintf(out, "screenshot %s: %s\n", argv[1], strerror(-rc));
	return rc;
}

static int ctl_video(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_synthvid_vsp *s = ctx;
	struct vmb_synthvid_host_state st;

	(void)argv;
	if (argc != 1)
		return -EINVAL;
	pthread_mutex_lock(&s->lock);
	st = s->st;
	pthread_mutex_unlock(&s->lock);
	fprintf(out, "version=%u.%u vram=0x%llx+%lluMiB mode=", st.version & 0xffff,
		st.version >> 16, (unsigned long long)st.vram_gpa,
		(unsigned long long)(s->vram_size >> 20));
	if (st.mode_set)
		fprintf(out, "%ux%ux%u pitch=%u", st.mode.width, st.mode.height, st.mode.depth,
			st.mode.pitch);
	else
		fprintf(out, "none");
	fprintf(out, " pointer=%d,%d%s dirt_rects=%llu\n", (int)st.ptr_x, (int)st.ptr_y,
		st.ptr_visible ? "" : "(hidden)", (unsigned long long)st.dirt_rects);
	return 0;
}

int vmb_synthvid_register_ctl(struct vmb_host *h, struct vmb_synthvid_vsp *s)
{
	int rc = vmb_host_ctl_register(h, "screenshot", "screenshot FILE.ppm: the guest's screen",
				       ctl_screenshot, s);

	if (rc == 0)
		rc = vmb_host_ctl_register(h, "video", "video: synthvid mode, pointer, dirt count",
					   ctl_video, s);
	return rc;
}
