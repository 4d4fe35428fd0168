/* Synthetic keyboard: message parser, both state machines, ASCII keymap. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmbus/dev/input.h"

static uint32_t get_u32(const uint8_t *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static uint16_t get_u16(const uint8_t *p)
{
	uint16_t v;

	memcpy(&v, p, sizeof(v));
	return v;
}

static size_t kbd_min_len(uint32_t type)
{
	switch (type) {
	case SYNTH_KBD_PROTOCOL_REQUEST:
		return sizeof(struct synth_kbd_protocol_request);
	case SYNTH_KBD_PROTOCOL_RESPONSE:
		return sizeof(struct synth_kbd_protocol_response);
	case SYNTH_KBD_EVENT:
		return sizeof(struct synth_kbd_keystroke);
	case SYNTH_KBD_LED_INDICATORS:
		return sizeof(struct synth_kbd_led_indicators);
	default:
		return 0;
	}
}

int vmb_kbd_parse(const void *buf, size_t len, struct vmb_kbd_msg *m)
{
	const uint8_t *p = buf;
	size_t need;

	memset(m, 0, sizeof(*m));
	if (len < 4 || len > SYNTH_KBD_MAX_MSG)
		return -EBADMSG;
	m->type = get_u32(p);
	need = kbd_min_len(m->type);
	if (!need || len < need)
		return -EBADMSG;
	switch (m->type) {
	case SYNTH_KBD_PROTOCOL_REQUEST:
		m->version = get_u32(p + 4);
		break;
	case SYNTH_KBD_PROTOCOL_RESPONSE:
		m->status = get_u32(p + 4);
		break;
	case SYNTH_KBD_EVENT:
		m->code = get_u16(p + 4);
		m->info = get_u32(p + 8);
		break;
	default:
		m->leds = get_u16(p + 4);
		break;
	}
	return 0;
}

int vmb_kbd_host_rx(struct vmb_kbd_host_state *s, const void *buf, size_t len, void *reply,
		    size_t *reply_len)
{
	struct synth_kbd_protocol_response r = {.type = SYNTH_KBD_PROTOCOL_RESPONSE};
	struct vmb_kbd_msg m;
	int rc = vmb_kbd_parse(buf, len, &m);

	*reply_len = 0;
	if (rc < 0)
		return rc;
	switch (m.type) {
	case SYNTH_KBD_PROTOCOL_REQUEST:
		/* A refused version is answered too: the guest must learn why. */
		s->connected = m.version == SYNTH_KBD_VERSION;
		r.status = s->connected ? SYNTH_KBD_PROTOCOL_ACCEPTED : 0;
		memcpy(reply, &r, sizeof(r));
		*reply_len = sizeof(r);
		return 0;
	case SYNTH_KBD_LED_INDICATORS:
		if (!s->connected)
			return -EPROTO;
		s->leds = m.leds;
		s->leds_known = true;
		return 0;
	default:
		return -EPROTO;
	}
}

void vmb_kbd_build_event(struct synth_kbd_keystroke *k, uint16_t code, uint32_t info)
{
	memset(k, 0, sizeof(*k));
	k->type = SYNTH_KBD_EVENT;
	k->make_code = code;
	k->info = info;
}

int vmb_kbd_guest_rx(struct vmb_kbd_guest_state *s, const void *buf, size_t len,
		     struct vmb_input_event *ev)
{
	struct vmb_kbd_msg m;
	int rc = vmb_kbd_parse(buf, len, &m);

	if (rc < 0)
		return rc;
	switch (m.type) {
	case SYNTH_KBD_PROTOCOL_RESPONSE:
		if (s->connected || s->refused)
			return -EPROTO;
		s->connected = (m.status & SYNTH_KBD_PROTOCOL_ACCEPTED) != 0;
		s->refused = !s->connected;
		return 0;
	case SYNTH_KBD_EVENT:
		/* Set-1 make codes are 7 bits (the break bit travels in info);
		 * a UNICODE event carries a UTF-16 unit instead. */
		if (!s->connected || (m.code > 0x7f && !(m.info & SYNTH_KBD_INFO_UNICODE)))
			return -EPROTO;
		memset(ev, 0, sizeof(*ev));
		ev->kind = VMB_INPUT_KEY;
		ev->scancode = m.code;
		ev->kflags = m.info & (SYNTH_KBD_INFO_UNICODE | SYNTH_KBD_INFO_BREAK |
				       SYNTH_KBD_INFO_E0 | SYNTH_KBD_INFO_E1);
		return 1;
	default:
		return -EPROTO;
	}
}

/* US layout, set 1: unshifted and shifted character of each key. */
static const struct {
	char plain, shifted;
	uint8_t code;
} keymap[] = {
    {'1', '!', 0x02}, {'2', '@', 0x03}, {'3', '#', 0x04},  {'4', '$', 0x05}, {'5', '%', 0x06},
    {'6', '^', 0x07}, {'7', '&', 0x08}, {'8', '*', 0x09},  {'9', '(', 0x0a}, {'0', ')', 0x0b},
    {'-', '_', 0x0c}, {'=', '+', 0x0d}, {'\b', 0, 0x0e},   {'\t', 0, 0x0f},  {'q', 'Q', 0x10},
    {'w', 'W', 0x11}, {'e', 'E', 0x12}, {'r', 'R', 0x13},  {'t', 'T', 0x14}, {'y', 'Y', 0x15},
    {'u', 'U', 0x16}, {'i', 'I', 0x17}, {'o', 'O', 0x18},  {'p', 'P', 0x19}, {'[', '{', 0x1a},
    {']', '}', 0x1b}, {'\n', 0, 0x1c},	{'a', 'A', 0x1e},  {'s', 'S', 0x1f}, {'d', 'D', 0x20},
    {'f', 'F', 0x21}, {'g', 'G', 0x22}, {'h', 'H', 0x23},  {'j', 'J', 0x24}, {'k', 'K', 0x25},
    {'l', 'L', 0x26}, {';', ':', 0x27}, {'\'', '"', 0x28}, {'`', '~', 0x29}, {'\\', '|', 0x2b},
    {'z', 'Z', 0x2c}, {'x', 'X', 0x2d}, {'c', 'C', 0x2e},  {'v', 'V', 0x2f}, {'b', 'B', 0x30},
    {'n', 'N', 0x31}, {'m', 'M', 0x32}, {',', '<', 0x33},  {'.', '>', 0x34}, {'/', '?', 0x35},
    {' ', 0, 0x39},
};

int vmb_kbd_ascii(char c, uint16_t *code, bool *shift)
{
	for (size_t i = 0; i < sizeof(keymap) / sizeof(keymap[0]); i++) {
		if (keymap[i].plain == c || (keymap[i].shifted && keymap[i].shifted == c)) {
			*code = keymap[i].code;
			*shift = keymap[i].plain != c;
			return 0;
		}
	}
	return -EINVAL;
}

int vmb_input_event_format(const struct vmb_input_event *ev, char *buf, size_t len)
{
	int n;

	if (ev->kind == VMB_INPUT_KEY)
		n = snprintf(buf, len, "key 0x%02x %s%s%s%s", ev->scancode,
			     ev->kflags & SYNTH_KBD_INFO_BREAK ? "up" : "down",
			     ev->kflags & SYNTH_KBD_INFO_E0 ? " e0" : "",
			     ev->kflags & SYNTH_KBD_INFO_E1 ? " e1" : "",
			     ev->kflags & SYNTH_KBD_INFO_UNICODE ? " unicode" : "");
	else
		n = snprintf(buf, len, "mouse x=%d y=%d buttons=0x%x wheel=%d", (int)ev->x,
			     (int)ev->y, (unsigned)ev->buttons, (int)ev->wheel);
	return n < 0 || (size_t)n >= len ? -ENOSPC : n;
}
