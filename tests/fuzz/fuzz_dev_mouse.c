/*
 * Synthetic mouse (synthhid). The first byte picks the target:
 *   0: the rest is a HID report descriptor; when it parses, the same bytes
 *      are decoded as a report with the layout found;
 *   1: a sequence of guest-bound messages {u16 len, bytes} to the guest
 *      state machine (device info, reports);
 *   2: the same framing to the host state machine.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

static uint8_t *dup_exact(const uint8_t *p, size_t len)
{
	uint8_t *buf = malloc(len ? len : 1);

	if (buf)
		memcpy(buf, p, len);
	return buf;
}

static void descriptor(const uint8_t *p, size_t len)
{
	uint8_t *buf = dup_exact(p, len);
	struct vmb_hid_layout l;
	struct vmb_input_event ev;

	if (!buf)
		return;
	if (vmb_hid_parse_desc(buf, len, &l) == 0 && vmb_hid_decode(&l, buf, len, &ev) == 0)
		sink += ev.buttons + (uint32_t)ev.x + (uint32_t)ev.y + (uint32_t)ev.wheel;
	free(buf);
}

static void message(struct vmb_hid_host_state *hs, struct vmb_hid_guest_state *gs, const uint8_t *p,
		    size_t len)
{
	uint8_t *buf = dup_exact(p, len), r1[64], r2[256];
	struct vmb_input_event ev;
	struct vmb_hid_msg m;
	size_t l1, l2;

	if (!buf)
		return;
	if (vmb_hid_parse(buf, len, &m) == 0 && m.body_len)
		sink += m.type + m.body[m.body_len - 1];
	if (hs && vmb_hid_host_rx(hs, buf, len, r1, sizeof(r1), &l1, r2, sizeof(r2), &l2) == 0)
		sink += (uint32_t)(l1 + l2);
	if (gs && vmb_hid_guest_rx(gs, buf, len, &ev) == 1)
		sink += ev.buttons + (uint32_t)ev.x + (uint32_t)ev.y;
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmb_hid_host_state hs = {0};
	struct vmb_hid_guest_state gs = {0};
	uint8_t mode;

	if (size < 1)
		return 0;
	mode = data[0];
	data++, size--;
	if (mode == 0) {
		descriptor(data, size);
		return 0;
	}
	while (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;

		data += 2, size -= 2;
		if (len > size)
			len = size;
		message(mode == 2 ? &hs : NULL, mode == 1 ? &gs : NULL, data, len);
		data += len, size -= len;
	}
	return 0;
}
