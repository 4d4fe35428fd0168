/*
 * synthvid. The first byte picks the target, the rest is a sequence of
 * messages {u16 len, bytes}:
 *   0: the host state machine over a fake guest RAM; after every message
 *      an accepted mode is "screenshotted" from that RAM, so a mode or
 *      VRAM range the host let through but that leaves guest memory is an
 *      ASan report;
 *   1: the guest state machine.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/video.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * A screenshot reads the whole mode, so VRAM is kept small: 32 KiB still
 * fits a mode at the maximum width (7680 pixels * 4 bytes), and at 256 KiB
 * screenshots were three quarters of the run time. GPA 0 is the first byte.
 */
#define RAM_BYTES  (4u << 20)
#define VRAM_BYTES (32u << 10)

static uint8_t *ram;
static FILE *devnull;
static volatile uint32_t sink;

static bool fake_ram(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	return gpa <= RAM_BYTES && len <= RAM_BYTES - gpa;
}

/* Only a VRAM or mode the host has not been screenshotted with reads anything new. */
static void screenshot(const struct vmb_synthvid_host_state *s, uint64_t *gpa,
		       struct vmb_synthvid_mode *mode)
{
	const struct vmb_synthvid_mode *m = &s->mode;

	if (!s->mode_set ||
	    (s->vram_gpa == *gpa && m->width == mode->width && m->height == mode->height &&
	     m->pitch == mode->pitch && m->offset == mode->offset))
		return;
	*gpa = s->vram_gpa;
	*mode = s->mode;
	rewind(devnull);
	if (vmb_synthvid_write_ppm(devnull, ram + s->vram_gpa, &s->mode) < 0)
		abort();
}

static void host_msg(struct vmb_synthvid_host_state *s, const uint8_t *buf, size_t len)
{
	static uint64_t shot_gpa;
	static struct vmb_synthvid_mode shot_mode;

	uint8_t r1[SYNTHVID_HDRS + sizeof(struct synthvid_resolution_resp)], r2[64];
	size_t l1, l2;

	if (vmb_synthvid_host_rx(s, buf, len, r1, sizeof(r1), &l1, r2, sizeof(r2), &l2) == 0)
		sink += (uint32_t)(l1 + l2);
	screenshot(s, &shot_gpa, &shot_mode);
}

static void one(struct vmb_synthvid_host_state *hs, struct vmb_synthvid_guest_state *gs,
		const uint8_t *p, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);
	struct vmb_synthvid_msg m;

	if (!buf)
		return;
	memcpy(buf, p, len);
	if (vmb_synthvid_parse(buf, len, &m) == 0 && m.body_len)
		sink += m.type + m.body[m.body_len - 1];
	if (hs)
		host_msg(hs, buf, len);
	if (gs && vmb_synthvid_guest_rx(gs, buf, len) == 0)
		sink += gs->res_width;
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmb_synthvid_host_state hs = {
	    .max_version = SYNTHVID_VERSION_WIN10,
	    .vram_size = VRAM_BYTES,
	    .vram_ok = fake_ram,
	};
	/* The guest as it is after asking for 3.5 with known user contexts. */
	struct vmb_synthvid_guest_state gs = {
	    .version = SYNTHVID_VERSION_WIN10,
	    .vram_ctx = 0x1000,
	    .situ_ctx = 1,
	};
	uint8_t mode;

	if (!ram && !(ram = malloc(RAM_BYTES)))
		abort();
	if (!devnull && !(devnull = fopen("/dev/null", "wb")))
		abort();
	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	while (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;

		data += 2, size -= 2;
		if (len > size)
			len = size;
		one(mode == 0 ? &hs : NULL, mode == 1 ? &gs : NULL, data, len);
		data += len, size -= len;
	}
	return 0;
}
