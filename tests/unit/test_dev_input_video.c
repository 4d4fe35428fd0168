/* Keyboard, mouse and synthvid protocol state machines and parsers. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "vmbus/dev/input.h"
#include "vmbus/dev/video.h"

static void test_kbd(void **state)
{
	struct vmb_kbd_host_state hs = {0};
	struct vmb_kbd_guest_state gs = {0};
	struct synth_kbd_protocol_request req = {SYNTH_KBD_PROTOCOL_REQUEST, SYNTH_KBD_VERSION};
	struct synth_kbd_led_indicators led = {SYNTH_KBD_LED_INDICATORS, 4, 0};
	struct synth_kbd_keystroke ks;
	struct vmb_input_event ev;
	uint8_t reply[8];
	size_t rl;

	(void)state;
	/* LEDs before negotiation, truncated and unknown messages are refused. */
	assert_int_equal(vmb_kbd_host_rx(&hs, &led, sizeof(led), reply, &rl), -EPROTO);
	assert_int_equal(vmb_kbd_host_rx(&hs, &req, 7, reply, &rl), -EBADMSG);
	req.version = 0x00020000;
	assert_int_equal(vmb_kbd_host_rx(&hs, &req, sizeof(req), reply, &rl), 0);
	assert_int_equal(rl, 8);
	assert_int_equal(reply[4] & 1, 0);
	req.version = SYNTH_KBD_VERSION;
	assert_int_equal(vmb_kbd_host_rx(&hs, &req, sizeof(req), reply, &rl), 0);
	assert_int_equal(reply[4] & 1, 1);
	assert_int_equal(vmb_kbd_host_rx(&hs, &led, sizeof(led), reply, &rl), 0);
	assert_true(hs.leds_known && hs.leds == 4);
	/* Guest: events only after the response. */
	vmb_kbd_build_event(&ks, 0x1e, SYNTH_KBD_INFO_BREAK);
	assert_int_equal(vmb_kbd_guest_rx(&gs, &ks, sizeof(ks), &ev), -EPROTO);
	assert_int_equal(vmb_kbd_guest_rx(&gs, reply, 8, &ev), 0);
	assert_int_equal(vmb_kbd_guest_rx(&gs, reply, 8, &ev), -EPROTO);
	assert_int_equal(vmb_kbd_guest_rx(&gs, &ks, sizeof(ks), &ev), 1);
	assert_int_equal(ev.scancode, 0x1e);
	assert_int_equal(ev.kflags, SYNTH_KBD_INFO_BREAK);
	vmb_kbd_build_event(&ks, 0x9e, 0);
	assert_int_equal(vmb_kbd_guest_rx(&gs, &ks, sizeof(ks), &ev), -EPROTO);
}

static void test_ascii(void **state)
{
	uint16_t code;
	bool shift;

	(void)state;
	assert_int_equal(vmb_kbd_ascii('h', &code, &shift), 0);
	assert_int_equal(code, 0x23);
	assert_false(shift);
	assert_int_equal(vmb_kbd_ascii('H', &code, &shift), 0);
	assert_int_equal(code, 0x23);
	assert_true(shift);
	assert_int_equal(vmb_kbd_ascii('!', &code, &shift), 0);
	assert_int_equal(code, 0x02);
	assert_int_equal(vmb_kbd_ascii('\x01', &code, &shift), -EINVAL);
}

static void test_mouse(void **state)
{
	struct vmb_hid_host_state hs = {0};
	struct vmb_hid_guest_state gs = {0};
	uint8_t req[32], r1[64], r2[256], ack[32], rep[32];
	size_t l1, l2;
	uint32_t v = SYNTHHID_VERSION;
	struct vmb_input_event ev;
	int n = vmb_hid_build(req, sizeof(req), SYNTH_HID_PROTOCOL_REQUEST, &v, 4);
	int na = vmb_hid_build(ack, sizeof(ack), SYNTH_HID_INITIAL_DEVICE_INFO_ACK, "", 1);
	int nr = vmb_hid_build_report(rep, sizeof(rep), 0x3, 100, 40000, -2);

	(void)state;
	assert_int_equal(vmb_hid_host_rx(&hs, ack, (size_t)na, r1, 64, &l1, r2, 256, &l2), -EPROTO);
	assert_int_equal(vmb_hid_host_rx(&hs, req, (size_t)n - 1, r1, 64, &l1, r2, 256, &l2),
			 -EBADMSG);
	assert_int_equal(vmb_hid_host_rx(&hs, req, (size_t)n, r1, 64, &l1, r2, 256, &l2), 0);
	assert_int_equal(l1, SYNTHHID_HDRS + 5);
	assert_true(l2 > SYNTHHID_HDRS + 41);
	assert_int_equal(vmb_hid_guest_rx(&gs, rep, (size_t)nr, &ev), -EPROTO);
	assert_int_equal(vmb_hid_guest_rx(&gs, r1, l1, &ev), 0);
	assert_int_equal(vmb_hid_guest_rx(&gs, r2, l2 - 1, &ev), -EBADMSG);
	assert_int_equal(vmb_hid_guest_rx(&gs, r2, l2, &ev), 2);
	assert_int_equal(gs.layout.report_bits, 56);
	assert_int_equal(vmb_hid_host_rx(&hs, ack, (size_t)na, r1, 64, &l1, r2, 256, &l2), 0);
	assert_int_equal(hs.phase, VMB_HID_READY);
	assert_int_equal(vmb_hid_guest_rx(&gs, rep, (size_t)nr, &ev), 1);
	assert_int_equal(ev.buttons, 3);
	assert_int_equal(ev.x, 100);
	assert_int_equal(ev.y, VMB_MOUSE_ABS_MAX); /* clamped by the builder */
	assert_int_equal(ev.wheel, -2);
	/* A report shorter than the layout is refused. */
	nr = vmb_hid_build(rep, sizeof(rep), SYNTH_HID_INPUT_REPORT, "\x01\x02", 2);
	assert_int_equal(vmb_hid_guest_rx(&gs, rep, (size_t)nr, &ev), -EBADMSG);
}

static bool fake_ram(void *ctx, uint64_t gpa, uint64_t len)
{
	(void)ctx;
	return gpa + len <= (64u << 20);
}

static int sv_host(struct vmb_synthvid_host_state *s, uint32_t type, const void *body, size_t len,
		   uint8_t *reply, size_t *rl, size_t *rl2)
{
	uint8_t buf[1024], r2[64];
	int n = vmb_synthvid_build(buf, sizeof(buf), type, body, len);

	return vmb_synthvid_host_rx(s, buf, (size_t)n, reply, 1024, rl, r2, sizeof(r2), rl2);
}

static void test_synthvid(void **state)
{
	struct vmb_synthvid_host_state s = {
	    .max_version = SYNTHVID_VERSION_WIN8, .vram_size = 8u << 20, .vram_ok = fake_ram};
	struct synthvid_vram_location vl = {
	    .user_ctx = 7, .is_vram_gpa_specified = 1, .vram_gpa = 60u << 20};
	struct synthvid_situation_update su = {
	    .user_ctx = 9, .video_output_count = 1, .video_output = {{1, 0, 32, 1024, 768, 4096}}};
	uint8_t dirt[2 + 16] = {0, 1}, reply[1024];
	struct synthvid_rect r = {0, 0, 1025, 10};
	uint32_t v = SYNTHVID_VERSION_WIN10;
	size_t rl, rl2;

	(void)state;
	assert_int_equal(sv_host(&s, SYNTHVID_VRAM_LOCATION, &vl, sizeof(vl), reply, &rl, &rl2),
			 -EPROTO);
	assert_int_equal(sv_host(&s, SYNTHVID_VERSION_REQUEST, &v, 4, reply, &rl, &rl2), 0);
	assert_int_equal(reply[SYNTHVID_HDRS + 4], 0); /* 3.5 above this host's 3.2 */
	v = SYNTHVID_VERSION_WIN8;
	assert_int_equal(sv_host(&s, SYNTHVID_VERSION_REQUEST, &v, 4, reply, &rl, &rl2), 0);
	assert_int_equal(reply[SYNTHVID_HDRS + 4], 1);
	assert_int_equal(sv_host(&s, SYNTHVID_SITUATION_UPDATE, &su, sizeof(su), reply, &rl, &rl2),
			 -EPROTO);
	/* VRAM running past guest RAM, then a good one. */
	assert_int_equal(sv_host(&s, SYNTHVID_VRAM_LOCATION, &vl, sizeof(vl), reply, &rl, &rl2),
			 -EINVAL);
	vl.vram_gpa = 16u << 20;
	assert_int_equal(sv_host(&s, SYNTHVID_VRAM_LOCATION, &vl, 16, reply, &rl, &rl2), -EBADMSG);
	assert_int_equal(sv_host(&s, SYNTHVID_VRAM_LOCATION, &vl, sizeof(vl), reply, &rl, &rl2), 0);
	/* A mode bigger than VRAM, a pitch too small, then a good one. */
	su.video_output[0].height_pixels = 4000;
	assert_int_equal(sv_host(&s, SYNTHVID_SITUATION_UPDATE, &su, sizeof(su), reply, &rl, &rl2),
			 -EINVAL);
	su.video_output[0].height_pixels = 768;
	su.video_output[0].pitch_bytes = 4092;
	assert_int_equal(sv_host(&s, SYNTHVID_SITUATION_UPDATE, &su, sizeof(su), reply, &rl, &rl2),
			 -EINVAL);
	su.video_output[0].pitch_bytes = 4096;
	assert_int_equal(sv_host(&s, SYNTHVID_SITUATION_UPDATE, &su, sizeof(su), reply, &rl, &rl2),
			 0);
	assert_true(s.mode_set && rl2 > 0);
	/* Dirt: outside the screen, a count longer than the packet, then good. */
	memcpy(dirt + 2, &r, sizeof(r));
	assert_int_equal(sv_host(&s, SYNTHVID_DIRT, dirt, sizeof(dirt), reply, &rl, &rl2), -EINVAL);
	dirt[1] = 2;
	assert_int_equal(sv_host(&s, SYNTHVID_DIRT, dirt, sizeof(dirt), reply, &rl, &rl2),
			 -EBADMSG);
	dirt[1] = 1;
	r.x2 = 1024;
	memcpy(dirt + 2, &r, sizeof(r));
	assert_int_equal(sv_host(&s, SYNTHVID_DIRT, dirt, sizeof(dirt), reply, &rl, &rl2), 0);
	assert_int_equal(s.dirt_rects, 1);
	/* Resolutions are a 3.5 feature. */
	assert_int_equal(sv_host(&s, SYNTHVID_RESOLUTION_REQUEST, "\x40", 1, reply, &rl, &rl2),
			 -EPROTO);
}

/* Descriptors that once walked for ever or shifted past 64 bits, and a negative X. */
static void test_hid_hostile_desc(void **state)
{
	/* Report Size 0, Report Count 0xffffffff, Input: billions of empty fields. */
	static const uint8_t huge_count[] = {0x75, 0x00, 0x97, 0xff, 0xff, 0xff, 0xff, 0x81, 0x02};
	/* 40 one-bit buttons, then X and Y as signed 32-bit fields. */
	static const uint8_t wide[] = {
	    0x05, 0x09, 0x19, 0x01, 0x29, 0x28, 0x75, 0x01, 0x95, 0x28,
	    0x81, 0x02, 0x05, 0x01, 0x09, 0x30, 0x09, 0x31, 0x27, 0xff,
	    0xff, 0x00, 0x00, 0x75, 0x20, 0x95, 0x02, 0x81, 0x02,
	};
	uint8_t rep[13];
	struct vmb_hid_layout l;
	struct vmb_input_event ev;

	(void)state;
	assert_int_equal(vmb_hid_parse_desc(huge_count, sizeof(huge_count), &l), -EBADMSG);
	assert_int_equal(vmb_hid_parse_desc(wide, sizeof(wide), &l), 0);
	assert_int_equal(l.button_count, 32);
	assert_int_equal(l.x_off, 40);
	memset(rep, 0xff, sizeof(rep));
	rep[12] = 0x7f; /* Y = 0x7fffffff, X = -1 */
	assert_int_equal(vmb_hid_decode(&l, rep, sizeof(rep) - 1, &ev), -EBADMSG);
	assert_int_equal(vmb_hid_decode(&l, rep, sizeof(rep), &ev), 0);
	assert_int_equal(ev.buttons, 0xffffffffu);
	assert_int_equal(ev.x, 0);
	assert_int_equal(ev.y, 0xffff);
}

static void test_synthvid_pointer(void **state)
{
	struct vmb_synthvid_host_state s = {
	    .max_version = SYNTHVID_VERSION_WIN10, .vram_size = 8u << 20, .vram_ok = fake_ram};
	struct synthvid_pointer_position pos = {1, 0, 5, 6};
	struct synthvid_pointer_shape sh = {SYNTHVID_CURSOR_COMPLETE, 1, 2, 2, 0, 0};
	uint8_t body[sizeof(sh) + 16] = {0}, reply[1024];
	uint32_t v = SYNTHVID_VERSION_WIN10;
	size_t rl, rl2;

	(void)state;
	assert_int_equal(sv_host(&s, SYNTHVID_VERSION_REQUEST, &v, 4, reply, &rl, &rl2), 0);
	assert_int_equal(
	    sv_host(&s, SYNTHVID_POINTER_POSITION, &pos, sizeof(pos), reply, &rl, &rl2), 0);
	assert_true(s.ptr_visible && s.ptr_x == 5 && s.ptr_y == 6);
	pos.video_output = 1;
	assert_int_equal(
	    sv_host(&s, SYNTHVID_POINTER_POSITION, &pos, sizeof(pos), reply, &rl, &rl2), -EINVAL);
	/* A complete 2x2 ARGB shape needs 16 bytes of pixels. */
	memcpy(body, &sh, sizeof(sh));
	assert_int_equal(
	    sv_host(&s, SYNTHVID_POINTER_SHAPE, body, sizeof(body) - 1, reply, &rl, &rl2),
	    -EBADMSG);
	assert_int_equal(sv_host(&s, SYNTHVID_POINTER_SHAPE, body, sizeof(body), reply, &rl, &rl2),
			 0);
	assert_int_equal(s.shape_w, 2);
	/* One part of a split shape carries only what fits. */
	sh.part_idx = 0;
	sh.width = sh.height = SYNTHVID_CURSOR_MAX;
	memcpy(body, &sh, sizeof(sh));
	assert_int_equal(sv_host(&s, SYNTHVID_POINTER_SHAPE, body, sizeof(body), reply, &rl, &rl2),
			 0);
	sh.width = SYNTHVID_CURSOR_MAX + 1;
	memcpy(body, &sh, sizeof(sh));
	assert_int_equal(sv_host(&s, SYNTHVID_POINTER_SHAPE, body, sizeof(body), reply, &rl, &rl2),
			 -EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kbd),
	    cmocka_unit_test(test_ascii),
	    cmocka_unit_test(test_mouse),
	    cmocka_unit_test(test_synthvid),
	    cmocka_unit_test(test_hid_hostile_desc),
	    cmocka_unit_test(test_synthvid_pointer),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
