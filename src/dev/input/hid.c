/* Synthetic mouse: our report descriptor, a minimal descriptor walker, framing. */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/input.h"

/* 5 buttons + 3 pad bits, X and Y absolute 0..32767, wheel -32767..32767. */
const uint8_t vmb_mouse_report_desc[] = {
    0x05, 0x01,	      /* Usage Page (Generic Desktop) */
    0x09, 0x02,	      /* Usage (Mouse) */
    0xa1, 0x01,	      /* Collection (Application) */
    0x09, 0x01,	      /*   Usage (Pointer) */
    0xa1, 0x00,	      /*   Collection (Physical) */
    0x05, 0x09,	      /*     Usage Page (Button) */
    0x19, 0x01,	      /*     Usage Minimum (1) */
    0x29, 0x05,	      /*     Usage Maximum (5) */
    0x15, 0x00,	      /*     Logical Minimum (0) */
    0x25, 0x01,	      /*     Logical Maximum (1) */
    0x95, 0x05,	      /*     Report Count (5) */
    0x75, 0x01,	      /*     Report Size (1) */
    0x81, 0x02,	      /*     Input (Data, Var, Abs) */
    0x95, 0x01,	      /*     Report Count (1) */
    0x75, 0x03,	      /*     Report Size (3) */
    0x81, 0x03,	      /*     Input (Const) */
    0x05, 0x01,	      /*     Usage Page (Generic Desktop) */
    0x09, 0x30,	      /*     Usage (X) */
    0x09, 0x31,	      /*     Usage (Y) */
    0x15, 0x00,	      /*     Logical Minimum (0) */
    0x26, 0xff, 0x7f, /*     Logical Maximum (32767) */
    0x75, 0x10,	      /*     Report Size (16) */
    0x95, 0x02,	      /*     Report Count (2) */
    0x81, 0x02,	      /*     Input (Data, Var, Abs) */
    0x09, 0x38,	      /*     Usage (Wheel) */
    0x16, 0x01, 0x80, /*     Logical Minimum (-32767) */
    0x26, 0xff, 0x7f, /*     Logical Maximum (32767) */
    0x75, 0x10,	      /*     Report Size (16) */
    0x95, 0x01,	      /*     Report Count (1) */
    0x81, 0x06,	      /*     Input (Data, Var, Rel) */
    0xc0,	      /*   End Collection */
    0xc0,	      /* End Collection */
};
const size_t vmb_mouse_report_desc_len = sizeof(vmb_mouse_report_desc);

#define HID_MAX_USAGES	    16
#define HID_MAX_REPORT_BITS (8u * 64u)

struct hid_walk {
	uint32_t page, size, count, umin, umax;
	uint32_t usages[HID_MAX_USAGES];
	unsigned nusages;
	int32_t lmax;
	uint32_t bit;
};

static uint32_t item_value(const uint8_t *p, unsigned n)
{
	uint32_t v = 0;

	for (unsigned i = 0; i < n; i++)
		v |= (uint32_t)p[i] << (8 * i);
	return v;
}

static int32_t item_signed(uint32_t v, unsigned n)
{
	if (n == 1)
		return (int8_t)v;
	if (n == 2)
		return (int16_t)v;
	return (int32_t)v;
}

/* Usage (page << 16 | id) of field i of the current Input item. */
static uint32_t field_usage(const struct hid_walk *w, uint32_t i)
{
	uint32_t u;

	if (w->nusages)
		u = w->usages[i < w->nusages ? i : w->nusages - 1];
	else if (w->umax >= w->umin && w->umin)
		u = w->umin + (i <= w->umax - w->umin ? i : w->umax - w->umin);
	else
		return 0;
	return u > 0xffff ? u : (w->page << 16 | u);
}

static void hid_input(struct hid_walk *w, uint32_t flags, struct vmb_hid_layout *l)
{
	bool constant = flags & 0x1;

	for (uint32_t i = 0; i < w->count && !constant; i++) {
		uint32_t u = field_usage(w, i), off = w->bit + i * w->size;

		if ((u >> 16) == 0x09 && w->size == 1) {
			if (!l->button_count)
				l->button_off = off;
			/* Buttons land in a u32: the 33rd and later are ignored. */
			if (off == l->button_off + l->button_count && l->button_count < 32)
				l->button_count++;
		} else if (u == 0x10030 && !l->x_size) {
			l->x_off = off, l->x_size = w->size, l->x_max = w->lmax;
		} else if (u == 0x10031 && !l->y_size) {
			l->y_off = off, l->y_size = w->size, l->y_max = w->lmax;
		} else if (u == 0x10038 && !l->wheel_size) {
			l->wheel_off = off, l->wheel_size = w->size;
		}
	}
	w->bit += w->size * w->count;
}

/* One short item; returns 0 or -EBADMSG. */
static int hid_item(struct hid_walk *w, uint8_t tag, uint32_t v, unsigned n,
		    struct vmb_hid_layout *l)
{
	switch (tag) {
	case 0x80: /* Input */
		/* Count alone is bounded too: zero-size fields would still be walked. */
		if (w->count > HID_MAX_REPORT_BITS ||
		    (uint64_t)w->size * w->count > HID_MAX_REPORT_BITS)
			return -EBADMSG;
		hid_input(w, v, l);
		if (w->bit > HID_MAX_REPORT_BITS)
			return -EBADMSG;
		w->nusages = 0, w->umin = w->umax = 0;
		return 0;
	case 0x90: /* Output */
	case 0xb0: /* Feature */
	case 0xa0: /* Collection */
	case 0xc0: /* End Collection: every main item ends the local state */
		w->nusages = 0, w->umin = w->umax = 0;
		return 0;
	case 0x04:
		w->page = v;
		return 0;
	case 0x24:
		w->lmax = item_signed(v, n);
		return 0;
	case 0x74:
		w->size = v;
		return 0;
	case 0x94:
		w->count = v;
		return 0;
	case 0x84:
		l->report_ids = true;
		return 0;
	case 0x08:
		if (w->nusages < HID_MAX_USAGES)
			w->usages[w->nusages++] = v;
		return 0;
	case 0x18:
		w->umin = v;
		return 0;
	case 0x28:
		w->umax = v;
		return 0;
	default:
		return 0; /* items that do not move fields */
	}
}

int vmb_hid_parse_desc(const uint8_t *d, size_t len, struct vmb_hid_layout *l)
{
	struct hid_walk w = {0};
	size_t i = 0;

	memset(l, 0, sizeof(*l));
	while (i < len) {
		uint8_t b = d[i];
		unsigned n = (b & 3) == 3 ? 4 : b & 3;

		if (b == 0xfe) /* long items carry nothing we use */
			return -EBADMSG;
		if (len - i - 1 < n)
			return -EBADMSG;
		if (hid_item(&w, b & 0xfc, item_value(d + i + 1, n), n, l) < 0)
			return -EBADMSG;
		i += 1 + n;
	}
	l->report_bits = w.bit;
	/* Only a pointer we can place is useful: buttons plus absolute X and Y. */
	if (l->report_ids || !l->x_size || !l->y_size || l->x_size > 32 || l->y_size > 32 ||
	    l->wheel_size > 32 || l->x_max <= 0 || l->y_max <= 0)
		return -EBADMSG;
	return 0;
}

static uint32_t get_bits(const uint8_t *r, uint32_t off, uint32_t n)
{
	uint64_t v = 0;

	for (uint32_t i = 0; i < n; i++)
		v |= (uint64_t)((r[(off + i) / 8] >> ((off + i) % 8)) & 1) << i;
	return (uint32_t)v;
}

static int32_t sign_extend(uint32_t v, uint32_t n)
{
	if (n && n < 32 && (v & (1u << (n - 1))))
		v |= ~0u << n;
	return (int32_t)v;
}

int vmb_hid_decode(const struct vmb_hid_layout *l, const uint8_t *r, size_t len,
		   struct vmb_input_event *ev)
{
	if (len * 8 < l->report_bits)
		return -EBADMSG;
	memset(ev, 0, sizeof(*ev));
	ev->kind = VMB_INPUT_MOUSE;
	ev->buttons = l->button_count ? get_bits(r, l->button_off, l->button_count) : 0;
	ev->x = (int32_t)get_bits(r, l->x_off, l->x_size);
	ev->y = (int32_t)get_bits(r, l->y_off, l->y_size);
	if (l->wheel_size)
		ev->wheel = sign_extend(get_bits(r, l->wheel_off, l->wheel_size), l->wheel_size);
	/* Out-of-range positions are clamped, not trusted (a 32-bit field can read negative). */
	ev->x = ev->x < 0 ? 0 : ev->x > l->x_max ? l->x_max : ev->x;
	ev->y = ev->y < 0 ? 0 : ev->y > l->y_max ? l->y_max : ev->y;
	return 0;
}

int vmb_hid_build(void *buf, size_t cap, uint32_t type, const void *body, size_t body_len)
{
	struct vmbus_pipe_hdr p = {.type = VMBUS_PIPE_TYPE_DATA};
	struct synthhid_msg_hdr h = {.type = type, .size = (uint32_t)body_len};
	uint8_t *b = buf;

	if (body_len > SYNTHHID_MAX_MSG - SYNTHHID_HDRS || cap < SYNTHHID_HDRS + body_len)
		return -EINVAL;
	p.size = (uint32_t)(sizeof(h) + body_len);
	memcpy(b, &p, sizeof(p));
	memcpy(b + sizeof(p), &h, sizeof(h));
	if (body_len)
		memcpy(b + SYNTHHID_HDRS, body, body_len);
	return (int)(SYNTHHID_HDRS + body_len);
}

int vmb_hid_build_device_info(void *buf, size_t cap)
{
	uint8_t body[sizeof(struct hv_input_dev_info) + sizeof(struct hid_class_descriptor) +
		     sizeof(vmb_mouse_report_desc)];
	struct hv_input_dev_info info = {
	    .size = sizeof(info),
	    .vendor = VMB_MOUSE_VENDOR,
	    .product = VMB_MOUSE_PRODUCT,
	    .version = 1,
	};
	struct hid_class_descriptor hd = {
	    .bLength = sizeof(hd),
	    .bDescriptorType = 0x21,
	    .bcdHID = 0x0101,
	    .bNumDescriptors = 1,
	    .bReportType = 0x22,
	    .wReportLength = sizeof(vmb_mouse_report_desc),
	};

	memcpy(body, &info, sizeof(info));
	memcpy(body + sizeof(info), &hd, sizeof(hd));
	memcpy(body + sizeof(info) + sizeof(hd), vmb_mouse_report_desc,
	       sizeof(vmb_mouse_report_desc));
	return vmb_hid_build(buf, cap, SYNTH_HID_INITIAL_DEVICE_INFO, body, sizeof(body));
}

static int32_t clamp(int32_t v, int32_t lo, int32_t hi)
{
	return v < lo ? lo : v > hi ? hi : v;
}

int vmb_hid_build_report(void *buf, size_t cap, uint32_t buttons, int32_t x, int32_t y,
			 int32_t wheel)
{
	uint8_t r[VMB_MOUSE_REPORT_LEN];
	uint16_t ux = (uint16_t)clamp(x, 0, VMB_MOUSE_ABS_MAX);
	uint16_t uy = (uint16_t)clamp(y, 0, VMB_MOUSE_ABS_MAX);
	int16_t w = (int16_t)clamp(wheel, -32767, 32767);

	r[0] = (uint8_t)(buttons & 0x1f);
	memcpy(r + 1, &ux, 2);
	memcpy(r + 3, &uy, 2);
	memcpy(r + 5, &w, 2);
	return vmb_hid_build(buf, cap, SYNTH_HID_INPUT_REPORT, r, sizeof(r));
}

int vmb_hid_parse(const void *buf, size_t len, struct vmb_hid_msg *m)
{
	struct vmbus_pipe_hdr p;
	struct synthhid_msg_hdr h;
	const uint8_t *b = buf;

	if (len < SYNTHHID_HDRS || len > SYNTHHID_MAX_MSG + sizeof(p))
		return -EBADMSG;
	memcpy(&p, b, sizeof(p));
	memcpy(&h, b + sizeof(p), sizeof(h));
	/* The packet may carry ring padding after the pipe payload. */
	if (p.type != VMBUS_PIPE_TYPE_DATA || p.size < sizeof(h) || p.size > len - sizeof(p) ||
	    h.size > p.size - sizeof(h))
		return -EBADMSG;
	m->type = h.type;
	m->body = b + SYNTHHID_HDRS;
	m->body_len = h.size;
	return 0;
}
