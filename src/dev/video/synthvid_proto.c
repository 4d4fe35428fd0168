/* synthvid: framing, host and guest state machines, PPM, test pattern (all pure). */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/video.h"

int vmb_synthvid_build(void *buf, size_t cap, uint32_t type, const void *body, size_t body_len)
{
	struct synthvid_msg_hdr h = {.type = type, .size = (uint32_t)(sizeof(h) + body_len)};
	struct vmbus_pipe_hdr p = {.type = VMBUS_PIPE_TYPE_DATA, .size = h.size};
	uint8_t *b = buf;

	if (SYNTHVID_HDRS + body_len > SYNTHVID_MAX_PACKET || cap < SYNTHVID_HDRS + body_len)
		return -EINVAL;
	memcpy(b, &p, sizeof(p));
	memcpy(b + sizeof(p), &h, sizeof(h));
	if (body_len)
		memcpy(b + SYNTHVID_HDRS, body, body_len);
	return (int)(SYNTHVID_HDRS + body_len);
}

int vmb_synthvid_parse(const void *buf, size_t len, struct vmb_synthvid_msg *m)
{
	struct vmbus_pipe_hdr p;
	const uint8_t *b = buf;

	if (len < SYNTHVID_HDRS || len > SYNTHVID_MAX_PACKET + 8)
		return -EBADMSG;
	memcpy(&p, b, sizeof(p));
	if (p.type != VMBUS_PIPE_TYPE_DATA || p.size < sizeof(struct synthvid_msg_hdr) ||
	    p.size > len - sizeof(p))
		return -EBADMSG;
	memcpy(&m->type, b + sizeof(p), sizeof(m->type));
	m->body = b + SYNTHVID_HDRS;
	m->body_len = p.size - (uint32_t)sizeof(struct synthvid_msg_hdr);
	return 0;
}

static bool version_known(uint32_t v)
{
	return (v & 0xffff) == 3 && (v >> 16) <= 5 && (v >> 16) != 1;
}

static int host_version(struct vmb_synthvid_host_state *s, const struct vmb_synthvid_msg *m,
			void *reply, size_t cap, size_t *reply_len)
{
	struct synthvid_version_resp r = {.max_video_outputs = 1};
	int rc;

	if (m->body_len < 4)
		return -EBADMSG;
	memcpy(&r.version, m->body, 4);
	/* Both words are minor << 16 | 3, so they order as numbers. */
	r.is_accepted = version_known(r.version) && r.version <= s->max_version;
	rc = vmb_synthvid_build(reply, cap, SYNTHVID_VERSION_RESPONSE, &r, sizeof(r));
	if (rc < 0)
		return rc;
	*reply_len = (size_t)rc;
	s->version = r.is_accepted ? r.version : 0;
	s->vram_set = s->mode_set = false;
	return 0;
}

static int host_vram(struct vmb_synthvid_host_state *s, const struct vmb_synthvid_msg *m,
		     void *reply, size_t cap, size_t *reply_len)
{
	struct synthvid_vram_location v;
	int rc;

	if (m->body_len < sizeof(v))
		return -EBADMSG;
	memcpy(&v, m->body, sizeof(v));
	if (!v.is_vram_gpa_specified || v.vram_gpa % 4096 ||
	    !s->vram_ok(s->ctx, v.vram_gpa, s->vram_size))
		return -EINVAL;
	rc = vmb_synthvid_build(reply, cap, SYNTHVID_VRAM_LOCATION_ACK, &v.user_ctx, 8);
	if (rc < 0)
		return rc;
	*reply_len = (size_t)rc;
	s->vram_gpa = v.vram_gpa;
	s->vram_set = true;
	s->mode_set = false;
	return 0;
}

static int check_mode(const struct vmb_synthvid_host_state *s,
		      const struct video_output_situation *o)
{
	uint64_t end = (uint64_t)o->vram_offset + (uint64_t)o->pitch_bytes * o->height_pixels;

	/* 32 bpp only: the 16-bit Win7 mode is not offered by this host. */
	if (o->depth_bits != 32 || !o->width_pixels || !o->height_pixels ||
	    o->width_pixels > SYNTHVID_MAX_WIDTH || o->height_pixels > SYNTHVID_MAX_HEIGHT ||
	    o->pitch_bytes < o->width_pixels * 4u || o->pitch_bytes % 4 || end > s->vram_size)
		return -EINVAL;
	return 0;
}

static int host_situation(struct vmb_synthvid_host_state *s, const struct vmb_synthvid_msg *m,
			  void *reply, size_t cap, size_t *reply_len, void *reply2, size_t cap2,
			  size_t *reply2_len)
{
	struct synthvid_situation_update u;
	struct synthvid_feature_change f = {1, 1, 1, 0};
	bool first = !s->mode_set;
	int rc;

	if (m->body_len < sizeof(u))
		return -EBADMSG;
	memcpy(&u, m->body, sizeof(u));
	if (!s->vram_set)
		return -EPROTO;
	if (u.video_output_count != 1 ||
	    (u.video_output[0].active && check_mode(s, &u.video_output[0]) < 0))
		return -EINVAL;
	rc = vmb_synthvid_build(reply, cap, SYNTHVID_SITUATION_UPDATE_ACK, &u.user_ctx, 8);
	if (rc < 0)
		return rc;
	*reply_len = (size_t)rc;
	s->mode_set = u.video_output[0].active;
	s->mode = (struct vmb_synthvid_mode){
	    .width = u.video_output[0].width_pixels,
	    .height = u.video_output[0].height_pixels,
	    .pitch = u.video_output[0].pitch_bytes,
	    .offset = u.video_output[0].vram_offset,
	    .depth = u.video_output[0].depth_bits,
	};
	if (!first || !s->mode_set)
		return 0;
	rc = vmb_synthvid_build(reply2, cap2, SYNTHVID_FEATURE_CHANGE, &f, sizeof(f));
	if (rc < 0)
		return rc;
	*reply2_len = (size_t)rc;
	return 0;
}

static int host_dirt(struct vmb_synthvid_host_state *s, const struct vmb_synthvid_msg *m)
{
	uint8_t count;

	if (m->body_len < SYNTHVID_DIRT_HDR)
		return -EBADMSG;
	count = m->body[1];
	if (m->body_len - SYNTHVID_DIRT_HDR < (uint32_t)count * sizeof(struct synthvid_rect))
		return -EBADMSG;
	if (!s->mode_set || m->body[0] != 0)
		return -EINVAL;
	for (unsigned i = 0; i < count; i++) {
		struct synthvid_rect r;

		memcpy(&r, m->body + SYNTHVID_DIRT_HDR + i * sizeof(r), sizeof(r));
		if (r.x1 < 0 || r.y1 < 0 || r.x1 >= r.x2 || r.y1 >= r.y2 ||
		    (uint32_t)r.x2 > s->mode.width || (uint32_t)r.y2 > s->mode.height)
			return -EINVAL;
		s->last_dirt = r;
		s->dirt_rects++;
	}
	return 0;
}

static int host_pointer(struct vmb_synthvid_host_state *s, const struct vmb_synthvid_msg *m)
{
	if (m->type == SYNTHVID_POINTER_POSITION) {
		struct synthvid_pointer_position p;

		if (m->body_len < sizeof(p))
			return -EBADMSG;
		memcpy(&p, m->body, sizeof(p));
		if (p.video_output != 0)
			return -EINVAL;
		s->ptr_visible = p.is_visible != 0;
		s->ptr_x = p.image_x;
		s->ptr_y = p.image_y;
		return 0;
	}
	struct synthvid_pointer_shape sh;

	if (m->body_len < sizeof(sh))
		return -EBADMSG;
	memcpy(&sh, m->body, sizeof(sh));
	if (sh.width > SYNTHVID_CURSOR_MAX || sh.height > SYNTHVID_CURSOR_MAX ||
	    sh.hot_x > sh.width || sh.hot_y > sh.height)
		return -EINVAL;
	/* A complete ARGB shape carries every pixel (Linux: 1x1, 4 bytes); the
	 * parts of a split shape are not assembled here. */
	if (sh.part_idx == SYNTHVID_CURSOR_COMPLETE && sh.is_argb &&
	    m->body_len - sizeof(sh) < sh.width * sh.height * 4u)
		return -EBADMSG;
	s->shape_w = sh.width;
	s->shape_h = sh.height;
	return 0;
}

static int host_resolutions(const struct vmb_synthvid_msg *m, void *reply, size_t cap,
			    size_t *reply_len)
{
	static const struct synthvid_screen_info modes[] = {
	    {1024, 768}, {800, 600}, {1280, 720}, {1280, 1024}, {1600, 900}, {1920, 1080},
	};
	struct synthvid_resolution_resp r = {.is_standard = 0};
	uint8_t n = sizeof(modes) / sizeof(modes[0]);
	int rc;

	if (m->body_len < 1)
		return -EBADMSG;
	if (m->body[0] < n)
		n = m->body[0];
	r.resolution_count = n;
	memcpy(r.supported_resolution, modes, n * sizeof(modes[0]));
	rc = vmb_synthvid_build(reply, cap, SYNTHVID_RESOLUTION_RESPONSE, &r,
				131 + n * sizeof(modes[0]));
	if (rc < 0)
		return rc;
	*reply_len = (size_t)rc;
	return 0;
}

int vmb_synthvid_host_rx(struct vmb_synthvid_host_state *s, const void *buf, size_t len,
			 void *reply, size_t cap, size_t *reply_len, void *reply2, size_t cap2,
			 size_t *reply2_len)
{
	struct vmb_synthvid_msg m;
	int rc = vmb_synthvid_parse(buf, len, &m);

	*reply_len = *reply2_len = 0;
	if (rc < 0)
		return rc;
	if (m.type != SYNTHVID_VERSION_REQUEST && !s->version)
		return -EPROTO;
	switch (m.type) {
	case SYNTHVID_VERSION_REQUEST:
		return host_version(s, &m, reply, cap, reply_len);
	case SYNTHVID_VRAM_LOCATION:
		return host_vram(s, &m, reply, cap, reply_len);
	case SYNTHVID_SITUATION_UPDATE:
		return host_situation(s, &m, reply, cap, reply_len, reply2, cap2, reply2_len);
	case SYNTHVID_DIRT:
		return host_dirt(s, &m);
	case SYNTHVID_POINTER_POSITION:
	case SYNTHVID_POINTER_SHAPE:
		return host_pointer(s, &m);
	case SYNTHVID_RESOLUTION_REQUEST:
		if (s->version < SYNTHVID_VERSION_WIN10)
			return -EPROTO;
		return host_resolutions(&m, reply, cap, reply_len);
	default:
		return -EPROTO;
	}
}

static int guest_resolutions(struct vmb_synthvid_guest_state *s, const struct vmb_synthvid_msg *m)
{
	struct synthvid_resolution_resp r;

	if (m->body_len < 131)
		return -EBADMSG;
	memset(&r, 0, sizeof(r));
	memcpy(&r, m->body, m->body_len < sizeof(r) ? m->body_len : sizeof(r));
	if (r.resolution_count > SYNTHVID_MAX_RESOLUTIONS ||
	    m->body_len < 131u + 4u * r.resolution_count)
		return -EBADMSG;
	if (r.default_resolution_index < r.resolution_count) {
		s->res_width = r.supported_resolution[r.default_resolution_index].width;
		s->res_height = r.supported_resolution[r.default_resolution_index].height;
	}
	s->res_answered = true;
	return 0;
}

static int guest_ack(const struct vmb_synthvid_msg *m, uint64_t want, bool *acked)
{
	uint64_t ctx;

	if (m->body_len < 8)
		return -EBADMSG;
	memcpy(&ctx, m->body, 8);
	if (ctx != want || *acked)
		return -EPROTO;
	*acked = true;
	return 0;
}

int vmb_synthvid_guest_rx(struct vmb_synthvid_guest_state *s, const void *buf, size_t len)
{
	struct vmb_synthvid_msg m;
	struct synthvid_version_resp v;
	int rc = vmb_synthvid_parse(buf, len, &m);

	if (rc < 0)
		return rc;
	switch (m.type) {
	case SYNTHVID_VERSION_RESPONSE:
		if (m.body_len < sizeof(v) || s->answered)
			return m.body_len < sizeof(v) ? -EBADMSG : -EPROTO;
		memcpy(&v, m.body, sizeof(v));
		if (v.version != s->version)
			return -EPROTO;
		s->accepted = v.is_accepted != 0;
		s->answered = true;
		return 0;
	case SYNTHVID_RESOLUTION_RESPONSE:
		return s->res_answered ? -EPROTO : guest_resolutions(s, &m);
	case SYNTHVID_VRAM_LOCATION_ACK:
		return guest_ack(&m, s->vram_ctx, &s->vram_acked);
	case SYNTHVID_SITUATION_UPDATE_ACK:
		return guest_ack(&m, s->situ_ctx, &s->situ_acked);
	case SYNTHVID_FEATURE_CHANGE:
		if (m.body_len < sizeof(struct synthvid_feature_change))
			return -EBADMSG;
		s->dirt_needed = m.body[0] != 0;
		return 0;
	default:
		return -EPROTO;
	}
}

int vmb_synthvid_write_ppm(FILE *f, const uint8_t *fb, const struct vmb_synthvid_mode *m)
{
	uint8_t row[SYNTHVID_MAX_WIDTH * 3];

	if (fprintf(f, "P6\n%u %u\n255\n", m->width, m->height) < 0)
		return -EIO;
	for (uint32_t y = 0; y < m->height; y++) {
		const uint8_t *p = fb + m->offset + (size_t)y * m->pitch;

		for (uint32_t x = 0; x < m->width; x++) {
			row[3 * x] = p[4 * x + 2];
			row[3 * x + 1] = p[4 * x + 1];
			row[3 * x + 2] = p[4 * x];
		}
		if (fwrite(row, 3, m->width, f) != m->width)
			return -EIO;
	}
	return 0;
}

void vmb_synthvid_draw_pattern(const struct vmb_fb_info *fb)
{
	static const uint32_t bars[8] = {0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
					 0xff00ff, 0xff0000, 0x0000ff, 0x000000};

	for (uint32_t y = 0; y < fb->height; y++) {
		uint32_t *row = (uint32_t *)(fb->pixels + (size_t)y * fb->pitch);

		for (uint32_t x = 0; x < fb->width; x++)
			row[x] = bars[(uint64_t)x * 8 / fb->width];
	}
}
