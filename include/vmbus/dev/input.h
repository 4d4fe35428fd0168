/*
 * Synthetic keyboard and mouse (PROTOCOL.md 8.2, 8.3).
 *
 * Keyboard: plain in-band packets, u32 type first. The guest asks for
 * version 1.0, the host answers PROTOCOL_RESPONSE and then sends keystroke
 * EVENTs (XT set-1 make codes); the guest reports its LED state.
 *
 * Mouse: a HID device behind pipe framing ({u32 1, u32 size} + synthhid
 * {u32 type, u32 size} + body). The guest asks for 2.0, the host answers,
 * sends INITIAL_DEVICE_INFO (device info + HID class descriptor + report
 * descriptor) and starts sending INPUT_REPORTs once the guest ACKs it.
 *
 * The parsers and both protocol state machines are pure (bytes in, reply
 * bytes or events out) so tests and fuzzers drive them directly.
 */
#ifndef VMBUS_DEV_INPUT_H
#define VMBUS_DEV_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/guest.h"
#include "vmbus/host.h"
#include "vmbus/proto/ring.h"

/* Well-known instance GUIDs (4.2). */
#define VMB_GUID_KBD_INSTANCE                                                                      \
	VMB_GUID_INIT(0xd34b2567, 0xb9b6, 0x42b9, 0x87, 0x78, 0x0a, 0x4e, 0xc0, 0xb9, 0x55, 0xbf)
#define VMB_GUID_MOUSE_INSTANCE                                                                    \
	VMB_GUID_INIT(0x58f75a6d, 0xd949, 0x4320, 0x99, 0xe1, 0xa2, 0xa2, 0x57, 0x6d, 0x58, 0x1c)

/* ---- keyboard wire format ------------------------------------------- */

#define SYNTH_KBD_VERSION    0x00010000u /* 1.0 */
#define SYNTH_KBD_MAX_MSG    256u
#define SYNTH_KBD_RING_BYTES (36u * 1024u)

enum synth_kbd_msg_type {
	SYNTH_KBD_PROTOCOL_REQUEST = 1,
	SYNTH_KBD_PROTOCOL_RESPONSE = 2,
	SYNTH_KBD_EVENT = 3,
	SYNTH_KBD_LED_INDICATORS = 4,
};

struct synth_kbd_protocol_request {
	uint32_t type;
	uint32_t version;
};
_Static_assert(sizeof(struct synth_kbd_protocol_request) == 8, "kbd request");

#define SYNTH_KBD_PROTOCOL_ACCEPTED 0x1u
struct synth_kbd_protocol_response {
	uint32_t type;
	uint32_t status;
};
_Static_assert(sizeof(struct synth_kbd_protocol_response) == 8, "kbd response");

#define SYNTH_KBD_INFO_UNICODE 0x1u
#define SYNTH_KBD_INFO_BREAK   0x2u
#define SYNTH_KBD_INFO_E0      0x4u
#define SYNTH_KBD_INFO_E1      0x8u
struct synth_kbd_keystroke {
	uint32_t type;
	uint16_t make_code;
	uint16_t reserved0;
	uint32_t info;
};
_Static_assert(sizeof(struct synth_kbd_keystroke) == 12, "kbd keystroke");

/* LED bits as Windows defines them (KEYBOARD_*_LOCK_ON). */
#define SYNTH_KBD_LED_SCROLL 0x1u
#define SYNTH_KBD_LED_NUM    0x2u
#define SYNTH_KBD_LED_CAPS   0x4u
struct synth_kbd_led_indicators {
	uint32_t type;
	uint16_t led_flags;
	uint16_t reserved;
};
_Static_assert(sizeof(struct synth_kbd_led_indicators) == 8, "kbd leds");

/* ---- mouse (synthhid) wire format ----------------------------------- */

#define SYNTHHID_VERSION    0x00020000u /* 2.0 */
#define SYNTHHID_RING_BYTES (36u * 1024u)
#define SYNTHHID_MAX_MSG    16384u /* the pipe payload limit */

enum synthhid_msg_type {
	SYNTH_HID_PROTOCOL_REQUEST = 0,
	SYNTH_HID_PROTOCOL_RESPONSE = 1,
	SYNTH_HID_INITIAL_DEVICE_INFO = 2,
	SYNTH_HID_INITIAL_DEVICE_INFO_ACK = 3,
	SYNTH_HID_INPUT_REPORT = 4,
};

struct synthhid_msg_hdr {
	uint32_t type;
	uint32_t size; /* body bytes after this header */
};
_Static_assert(sizeof(struct synthhid_msg_hdr) == 8, "synthhid hdr");

struct hv_input_dev_info {
	uint32_t size;
	uint16_t vendor;
	uint16_t product;
	uint16_t version;
	uint16_t reserved[11];
};
_Static_assert(sizeof(struct hv_input_dev_info) == 32, "dev info");

/* USB HID class descriptor with one report descriptor entry. */
struct hid_class_descriptor {
	uint8_t bLength;
	uint8_t bDescriptorType; /* 0x21 */
	uint16_t bcdHID;
	uint8_t bCountryCode;
	uint8_t bNumDescriptors;
	uint8_t bReportType; /* 0x22 */
	uint16_t wReportLength;
} __attribute__((packed));
_Static_assert(sizeof(struct hid_class_descriptor) == 9, "hid descriptor");

/* Bytes of the whole packet payload (pipe + synthhid headers included). */
#define SYNTHHID_HDRS (sizeof(struct vmbus_pipe_hdr) + sizeof(struct synthhid_msg_hdr))

/* Our device: 5 buttons, absolute X/Y 0..32767, a 16-bit wheel. */
#define VMB_MOUSE_VENDOR     0x045Eu
#define VMB_MOUSE_PRODUCT    0x0621u
#define VMB_MOUSE_ABS_MAX    32767
#define VMB_MOUSE_REPORT_LEN 7u
extern const uint8_t vmb_mouse_report_desc[];
extern const size_t vmb_mouse_report_desc_len;

/* ---- events delivered to the guest user ----------------------------- */

enum vmb_input_kind { VMB_INPUT_KEY = 1, VMB_INPUT_MOUSE = 2 };

struct vmb_input_event {
	enum vmb_input_kind kind;
	/* key */
	uint16_t scancode; /* set-1 make code, without prefix */
	uint32_t kflags;   /* SYNTH_KBD_INFO_* */
	/* mouse */
	uint32_t buttons; /* bit n = button n+1 */
	int32_t x, y;	  /* absolute, 0..VMB_MOUSE_ABS_MAX */
	int32_t wheel;
};

/* One line for the event log, without newline. */
int vmb_input_event_format(const struct vmb_input_event *ev, char *buf, size_t len);

/* ---- keyboard: pure protocol ---------------------------------------- */

struct vmb_kbd_msg {
	uint32_t type;
	uint32_t version; /* PROTOCOL_REQUEST */
	uint32_t status;  /* PROTOCOL_RESPONSE */
	uint16_t code;	  /* EVENT */
	uint32_t info;	  /* EVENT */
	uint16_t leds;	  /* LED_INDICATORS */
};
/* Parse one packet (padding after the message allowed). -EBADMSG if malformed. */
int vmb_kbd_parse(const void *buf, size_t len, struct vmb_kbd_msg *m);

struct vmb_kbd_host_state {
	bool connected;
	uint16_t leds;
	bool leds_known;
};
/*
 * Host: one guest packet in. *reply_len > 0 when `reply` (>= 8 bytes) must
 * be sent back. -EBADMSG malformed, -EPROTO wrong state or type.
 */
int vmb_kbd_host_rx(struct vmb_kbd_host_state *s, const void *buf, size_t len, void *reply,
		    size_t *reply_len);
/* Build a keystroke EVENT. */
void vmb_kbd_build_event(struct synth_kbd_keystroke *k, uint16_t code, uint32_t info);

/*
 * ASCII to set-1 scancode: *code and *shift. -EINVAL for characters that
 * have no key on a US keyboard.
 */
int vmb_kbd_ascii(char c, uint16_t *code, bool *shift);

struct vmb_kbd_guest_state {
	bool connected;
	bool refused;
};
/* Guest: 1 = *ev filled (a keystroke), 0 = consumed, <0 malformed/out of state. */
int vmb_kbd_guest_rx(struct vmb_kbd_guest_state *s, const void *buf, size_t len,
		     struct vmb_input_event *ev);

/* ---- mouse: HID descriptor and pure protocol ------------------------ */

/* Where the fields we use sit in an input report (bit offsets), from a report descriptor. */
struct vmb_hid_layout {
	uint32_t report_bits;
	uint32_t button_off, button_count;
	uint32_t x_off, x_size;
	uint32_t y_off, y_size;
	uint32_t wheel_off, wheel_size; /* wheel_size 0 = none */
	int32_t x_max, y_max;
	bool report_ids; /* descriptors with report IDs are refused */
};
int vmb_hid_parse_desc(const uint8_t *d, size_t len, struct vmb_hid_layout *l);
/* Decode a report with the layout. -EBADMSG when it is too short. */
int vmb_hid_decode(const struct vmb_hid_layout *l, const uint8_t *r, size_t len,
		   struct vmb_input_event *ev);

/* Packet builders: return the payload length or -EINVAL when cap is too small. */
int vmb_hid_build(void *buf, size_t cap, uint32_t type, const void *body, size_t body_len);
int vmb_hid_build_device_info(void *buf, size_t cap);
int vmb_hid_build_report(void *buf, size_t cap, uint32_t buttons, int32_t x, int32_t y,
			 int32_t wheel);

struct vmb_hid_msg {
	uint32_t type;
	const uint8_t *body;
	uint32_t body_len;
};
/* Strip and check the pipe and synthhid headers. */
int vmb_hid_parse(const void *buf, size_t len, struct vmb_hid_msg *m);

enum vmb_hid_host_phase { VMB_HID_WAIT_REQUEST, VMB_HID_WAIT_ACK, VMB_HID_READY };
struct vmb_hid_host_state {
	enum vmb_hid_host_phase phase;
};
/*
 * Host: one guest packet in. On the protocol request, reply gets the
 * response and reply2 the device info (both to be sent, in order).
 */
int vmb_hid_host_rx(struct vmb_hid_host_state *s, const void *buf, size_t len, void *reply,
		    size_t cap, size_t *reply_len, void *reply2, size_t cap2, size_t *reply2_len);

struct vmb_hid_guest_state {
	bool connected, refused, have_info;
	struct vmb_hid_layout layout;
	struct hv_input_dev_info info;
};
/*
 * Guest: 1 = *ev filled, 2 = device info taken (send the ACK), 0 =
 * consumed, <0 malformed or out of state.
 */
int vmb_hid_guest_rx(struct vmb_hid_guest_state *s, const void *buf, size_t len,
		     struct vmb_input_event *ev);

/* ---- host (VSPs) ----------------------------------------------------- */

struct vmb_kbd_vsp;
struct vmb_mouse_vsp;
int vmb_kbd_vsp_add(struct vmb_host *h, struct vmb_kbd_vsp **out);
int vmb_mouse_vsp_add(struct vmb_host *h, struct vmb_mouse_vsp **out);
/* Send one keystroke; -ENOTCONN before the guest negotiated. */
int vmb_kbd_vsp_key(struct vmb_kbd_vsp *k, uint16_t code, uint32_t info);
/* Type ASCII text (press and release, shift as needed). */
int vmb_kbd_vsp_type(struct vmb_kbd_vsp *k, const char *text);
/* LED state the guest reported; -ENODATA before it did. */
int vmb_kbd_vsp_leds(struct vmb_kbd_vsp *k, uint16_t *leds);
int vmb_mouse_vsp_report(struct vmb_mouse_vsp *m, uint32_t buttons, int32_t x, int32_t y,
			 int32_t wheel);
/* `vmbus ctl key`, `kbd-leds`, `mouse`. */
int vmb_input_register_ctl(struct vmb_host *h, struct vmb_kbd_vsp *k, struct vmb_mouse_vsp *m);

/* ---- guest (VSCs) ----------------------------------------------------- */

typedef void (*vmb_input_fn)(void *arg, const struct vmb_input_event *ev);

struct vmb_input_guest_config {
	const char *log_path; /* one line per event, or NULL */
	bool uinput;	      /* also feed /dev/uinput when it can be opened */
	vmb_input_fn fn;      /* may be NULL; called on a VP thread: do not block */
	void *arg;
	int leds; /* LED state to report at probe, < 0 = none */
};
struct vmb_input_guest;
/* Registers the keyboard and the mouse driver; free after vmb_guest_destroy(). */
int vmb_input_guest_register(struct vmb_guest *g, const struct vmb_input_guest_config *cfg,
			     struct vmb_input_guest **out);
void vmb_input_guest_free(struct vmb_input_guest *ig);
/* Report LED state to the host (SET_LED_INDICATORS). -ENODEV when no keyboard. */
int vmb_input_guest_set_leds(struct vmb_input_guest *ig, uint16_t leds);
/* Wait until n events were delivered in total (tests). */
int vmb_input_guest_wait(struct vmb_input_guest *ig, uint64_t n, int timeout_ms);

#endif
