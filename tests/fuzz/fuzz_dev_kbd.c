/*
 * Synthetic keyboard: a sequence of messages, each {u16 len, bytes}, fed to
 * the parser and to both state machines. A short tail is one last message.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/input.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

static void one(struct vmb_kbd_host_state *hs, struct vmb_kbd_guest_state *gs, const uint8_t *p,
		size_t len)
{
	/* An exact-size copy lets ASan see any read past the message. */
	uint8_t *buf = malloc(len ? len : 1);
	struct vmb_input_event ev;
	struct vmb_kbd_msg m;
	uint8_t reply[8];
	size_t reply_len;
	char line[128];

	if (!buf)
		return;
	memcpy(buf, p, len);
	if (vmb_kbd_parse(buf, len, &m) == 0)
		sink += m.type + m.code + m.leds;
	if (vmb_kbd_host_rx(hs, buf, len, reply, &reply_len) == 0 && reply_len)
		sink += reply[4];
	if (vmb_kbd_guest_rx(gs, buf, len, &ev) == 1 &&
	    vmb_input_event_format(&ev, line, sizeof(line)) > 0)
		sink += (uint8_t)line[4];
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vmb_kbd_host_state hs = {0};
	struct vmb_kbd_guest_state gs = {0};

	while (size >= 2) {
		size_t len = (size_t)data[0] | (size_t)data[1] << 8;

		data += 2, size -= 2;
		if (len > size)
			len = size;
		one(&hs, &gs, data, len);
		data += len, size -= len;
	}
	return 0;
}
