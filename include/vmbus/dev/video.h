/*
 * Synthetic video (synthvid, PROTOCOL.md 8.4): a framebuffer in guest memory
 * the host reads. Pipe-framed: {u32 1, u32 size} + {u32 type, u32 size} +
 * body; receivers bound the body by the pipe size only (hosts and guests
 * disagree on what the synthvid size counts).
 *
 * Guest: VERSION_REQUEST (3.5, falling back to 3.2 and 3.0), supported
 * resolutions (3.5), VRAM_LOCATION -> ACK, SITUATION_UPDATE -> ACK, then
 * DIRT rectangles while the host says it needs them (FEATURE_CHANGE).
 */
#ifndef VMBUS_DEV_VIDEO_H
#define VMBUS_DEV_VIDEO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "vmbus/guest.h"
#include "vmbus/host.h"
#include "vmbus/proto/ring.h"

#define VMB_GUID_SYNTHVID_INSTANCE                                                                 \
	VMB_GUID_INIT(0x5620e0c7, 0x8062, 0x4dce, 0xae, 0xb7, 0x52, 0x0c, 0x7e, 0xf7, 0x61, 0x71)

/* Version word: minor << 16 | major. */
#define SYNTHVID_VERSION(maj, min) ((uint32_t)(min) << 16 | (maj))
#define SYNTHVID_VERSION_WIN7	   SYNTHVID_VERSION(3, 0)
#define SYNTHVID_VERSION_WIN8	   SYNTHVID_VERSION(3, 2)
#define SYNTHVID_VERSION_WIN10	   SYNTHVID_VERSION(3, 5)

#define SYNTHVID_MAX_PACKET	 16384u
#define SYNTHVID_RING_BYTES	 (256u * 1024u)
#define SYNTHVID_MAX_RECTS	 255u
#define SYNTHVID_MAX_RESOLUTIONS 64u
#define SYNTHVID_CURSOR_MAX	 96u
#define SYNTHVID_CURSOR_COMPLETE 0xffu /* pointer shape part_idx: the whole shape */
#define SYNTHVID_MAX_WIDTH	 7680u
#define SYNTHVID_MAX_HEIGHT	 4320u

enum synthvid_msg_type {
	SYNTHVID_VERSION_REQUEST = 1,
	SYNTHVID_VERSION_RESPONSE = 2,
	SYNTHVID_VRAM_LOCATION = 3,
	SYNTHVID_VRAM_LOCATION_ACK = 4,
	SYNTHVID_SITUATION_UPDATE = 5,
	SYNTHVID_SITUATION_UPDATE_ACK = 6,
	SYNTHVID_POINTER_POSITION = 7,
	SYNTHVID_POINTER_SHAPE = 8,
	SYNTHVID_FEATURE_CHANGE = 9,
	SYNTHVID_DIRT = 10,
	SYNTHVID_RESOLUTION_REQUEST = 13,
	SYNTHVID_RESOLUTION_RESPONSE = 14,
};

struct synthvid_msg_hdr {
	uint32_t type;
	uint32_t size; /* header + body as Linux sends it; not relied upon */
};
_Static_assert(sizeof(struct synthvid_msg_hdr) == 8, "synthvid hdr");
#define SYNTHVID_HDRS (sizeof(struct vmbus_pipe_hdr) + sizeof(struct synthvid_msg_hdr))

struct synthvid_version_resp {
	uint32_t version;
	uint8_t is_accepted;
	uint8_t max_video_outputs;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_version_resp) == 6, "version resp");

struct synthvid_vram_location {
	uint64_t user_ctx;
	uint8_t is_vram_gpa_specified;
	uint64_t vram_gpa;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_vram_location) == 17, "vram location");

struct video_output_situation {
	uint8_t active;
	uint32_t vram_offset;
	uint8_t depth_bits;
	uint32_t width_pixels;
	uint32_t height_pixels;
	uint32_t pitch_bytes;
} __attribute__((packed));
_Static_assert(sizeof(struct video_output_situation) == 18, "output situation");

struct synthvid_situation_update {
	uint64_t user_ctx;
	uint8_t video_output_count;
	struct video_output_situation video_output[1];
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_situation_update) == 27, "situation update");

struct synthvid_pointer_position {
	uint8_t is_visible;
	uint8_t video_output;
	int32_t image_x;
	int32_t image_y;
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_pointer_position) == 10, "pointer position");

struct synthvid_pointer_shape {
	uint8_t part_idx; /* 0xff = complete */
	uint8_t is_argb;
	uint32_t width;
	uint32_t height;
	uint32_t hot_x;
	uint32_t hot_y;
} __attribute__((packed)); /* ARGB data follows */
_Static_assert(sizeof(struct synthvid_pointer_shape) == 18, "pointer shape");

struct synthvid_feature_change {
	uint8_t is_dirt_needed;
	uint8_t is_ptr_pos_needed;
	uint8_t is_ptr_shape_needed;
	uint8_t is_situ_needed;
};
_Static_assert(sizeof(struct synthvid_feature_change) == 4, "feature change");

struct synthvid_rect {
	int32_t x1, y1, x2, y2; /* x2, y2 exclusive */
};
_Static_assert(sizeof(struct synthvid_rect) == 16, "rect");

/* DIRT body: u8 video_output, u8 dirt_count, then the rectangles. */
#define SYNTHVID_DIRT_HDR 2u

struct synthvid_screen_info {
	uint16_t width;
	uint16_t height;
};
struct synthvid_resolution_resp {
	uint8_t edid_block[128];
	uint8_t resolution_count;
	uint8_t default_resolution_index;
	uint8_t is_standard;
	struct synthvid_screen_info supported_resolution[SYNTHVID_MAX_RESOLUTIONS];
} __attribute__((packed));
_Static_assert(sizeof(struct synthvid_resolution_resp) == 131 + 4 * 64, "resolution resp");

/* ---- pure parts ------------------------------------------------------ */

int vmb_synthvid_build(void *buf, size_t cap, uint32_t type, const void *body, size_t body_len);

struct vmb_synthvid_msg {
	uint32_t type;
	const uint8_t *body;
	uint32_t body_len;
};
/* Check the framing; the body is bounded by the pipe size. */
int vmb_synthvid_parse(const void *buf, size_t len, struct vmb_synthvid_msg *m);

struct vmb_synthvid_mode {
	uint32_t width, height, pitch, offset;
	uint8_t depth;
};

struct vmb_synthvid_host_state {
	uint32_t max_version; /* newest version accepted */
	uint64_t vram_size;   /* offer's mmio_megabytes */
	/* Is [gpa, gpa+len) guest memory the host can map? (VSP: vmb_host_gpa) */
	bool (*vram_ok)(void *ctx, uint64_t gpa, uint64_t len);
	void *ctx;
	/* negotiated state */
	uint32_t version;
	bool vram_set, mode_set;
	uint64_t vram_gpa;
	struct vmb_synthvid_mode mode;
	bool ptr_visible;
	int32_t ptr_x, ptr_y;
	uint32_t shape_w, shape_h;
	uint64_t dirt_rects;
	struct synthvid_rect last_dirt;
};
/*
 * Host: one guest packet in; up to two replies out (reply2: the
 * FEATURE_CHANGE after the first mode). -EBADMSG malformed, -EPROTO out of
 * state, -EINVAL a well-formed request the host refuses (log it, go on).
 */
int vmb_synthvid_host_rx(struct vmb_synthvid_host_state *s, const void *buf, size_t len,
			 void *reply, size_t cap, size_t *reply_len, void *reply2, size_t cap2,
			 size_t *reply2_len);

struct vmb_synthvid_guest_state {
	uint32_t version;	 /* asked */
	bool answered, accepted; /* to the last VERSION_REQUEST */
	bool res_answered;
	uint16_t res_width, res_height; /* the host's default, 0 if none */
	uint64_t vram_ctx, situ_ctx;	/* the user_ctx we sent */
	bool vram_acked, situ_acked;
	bool dirt_needed;
};
/* Guest: 0 = taken, <0 malformed or unexpected. */
int vmb_synthvid_guest_rx(struct vmb_synthvid_guest_state *s, const void *buf, size_t len);

/* PPM (P6) of a 32-bpp BGRX framebuffer. */
int vmb_synthvid_write_ppm(FILE *f, const uint8_t *fb, const struct vmb_synthvid_mode *m);

/* ---- host (VSP) ------------------------------------------------------ */

struct vmb_synthvid_vsp;
struct vmb_synthvid_host_config {
	uint16_t vram_mb;     /* offered VRAM; 0 = 8 */
	uint32_t max_version; /* 0 = 3.5 */
};
int vmb_synthvid_vsp_add(struct vmb_host *h, const struct vmb_synthvid_host_config *cfg,
			 struct vmb_synthvid_vsp **out);
/* Write the current screen as a PPM; -ENODATA before the guest set a mode. */
int vmb_synthvid_vsp_screenshot(struct vmb_synthvid_vsp *v, const char *path);
/* `vmbus ctl screenshot FILE.ppm` and `vmbus ctl video` (mode, pointer, dirt counts). */
int vmb_synthvid_register_ctl(struct vmb_host *h, struct vmb_synthvid_vsp *v);

/* ---- guest (VSC) ----------------------------------------------------- */

struct vmb_synthvid_guest;
struct vmb_synthvid_guest_config {
	uint32_t width, height; /* 0 = 1024 x 768 */
	bool pattern;		/* draw colour bars at probe */
};
struct vmb_fb_info {
	uint8_t *pixels; /* BGRX, 4 bytes per pixel */
	uint32_t width, height, pitch;
};
int vmb_synthvid_guest_register(struct vmb_guest *g, const struct vmb_synthvid_guest_config *cfg,
				struct vmb_synthvid_guest **out);
void vmb_synthvid_guest_free(struct vmb_synthvid_guest *sg);
/* The framebuffer of the bound device; -ENODEV when none. */
int vmb_synthvid_guest_fb(struct vmb_synthvid_guest *sg, struct vmb_fb_info *fb);
/* Tell the host [x1,x2) x [y1,y2) changed (a no-op while it needs no dirt). */
int vmb_synthvid_guest_dirty(struct vmb_synthvid_guest *sg, int32_t x1, int32_t y1, int32_t x2,
			     int32_t y2);
/* The colour-bar test pattern: 8 bars, white yellow cyan green magenta red blue black. */
void vmb_synthvid_draw_pattern(const struct vmb_fb_info *fb);

#endif
