/* `vmbus ctl key`, `kbd-leds` and `mouse`: the host user's keyboard and pointer. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_priv.h"

static int parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi)
		return -EINVAL;
	*out = v;
	return 0;
}

static int key_scancode(struct vmb_kbd_vsp *k, int argc, char **argv, FILE *out)
{
	uint32_t info = 0;
	long code;

	if (parse_long(argv[2], 0, 0xe07f, &code) < 0) {
		fprintf(out, "bad scancode %s\n", argv[2]);
		return -EINVAL;
	}
	/* 0xe0NN is the extended key NN, as scancode tables write it. */
	if (code > 0x7f) {
		if ((code & 0xff00) != 0xe000) {
			fprintf(out, "bad scancode %s\n", argv[2]);
			return -EINVAL;
		}
		info |= SYNTH_KBD_INFO_E0;
		code &= 0x7f;
	}
	for (int i = 3; i < argc; i++) {
		if (!strcmp(argv[i], "--up")) {
			info |= SYNTH_KBD_INFO_BREAK;
		} else {
			fprintf(out, "unknown option %s\n", argv[i]);
			return -EINVAL;
		}
	}
	return vmb_kbd_vsp_key(k, (uint16_t)code, info);
}

static int ctl_key(void *ctx, int argc, char **argv, FILE *out)
{
	struct vmb_kbd_vsp *k = ctx;
	int rc;

	if (argc >= 3 && !strcmp(argv[1], "--scancode")) {
		rc = key_scancode(k, argc, argv, out);
	} else if (argc == 2) {
		rc = vmb_kbd_vsp_type(k, argv[1]);
		if (rc == -EINVAL)
			fprintf(out, "text has a character with no key on a US keyboard\n");
	} else {
		fprintf(out, "usage: key TEXT | key --scancode CODE [--up]\n");
		return -EINVAL;
	}
	if (rc == -ENOTCONN)
		fprintf(out, "the guest has no keyboard driver connected\n");
	return rc;
}

static int ctl_leds(void *ctx, int argc, char **argv, FILE *out)
{
	uint16_t leds;
	int rc;

	(void)argv;
	if (argc != 1)
		return -EINVAL;
	rc = vmb_kbd_vsp_leds(ctx, &leds);
	if (rc == -ENODATA) {
		fprintf(out, "the guest has not reported its LEDs\n");
		return rc;
	}
	fprintf(out, "leds=0x%x scroll=%s num=%s caps=%s\n", leds,
		leds & SYNTH_KBD_LED_SCROLL ? "on" : "off", leds & SYNTH_KBD_LED_NUM ? "on" : "off",
		leds & SYNTH_KBD_LED_CAPS ? "on" : "off");
	return 0;
}

static int ctl_mouse(void *ctx, int argc, char **argv, FILE *out)
{
	long x, y, buttons = 0, wheel = 0;
	int rc;

	if (argc < 3 || parse_long(argv[1], 0, VMB_MOUSE_ABS_MAX, &x) < 0 ||
	    parse_long(argv[2], 0, VMB_MOUSE_ABS_MAX, &y) < 0) {
		fprintf(out, "usage: mouse X Y [--buttons N] [--wheel N] (X, Y in 0..%d)\n",
			VMB_MOUSE_ABS_MAX);
		return -EINVAL;
	}
	for (int i = 3; i < argc; i++) {
		rc = -EINVAL;
		if (!strcmp(argv[i], "--buttons") && i + 1 < argc)
			rc = parse_long(argv[++i], 0, 0x1f, &buttons);
		else if (!strcmp(argv[i], "--wheel") && i + 1 < argc)
			rc = parse_long(argv[++i], -32767, 32767, &wheel);
		if (rc < 0) {
			fprintf(out, "bad option %s\n", argv[i]);
			return -EINVAL;
		}
	}
	rc = vmb_mouse_vsp_report(ctx, (uint32_t)buttons, (int32_t)x, (int32_t)y, (int32_t)wheel);
	if (rc == -ENOTCONN)
		fprintf(out, "the guest has no mouse driver ready\n");
	return rc;
}

int vmb_input_register_ctl(struct vmb_host *h, struct vmb_kbd_vsp *k, struct vmb_mouse_vsp *m)
{
	int rc = 0;

	if (k)
		rc = vmb_host_ctl_register(h, "key", "key TEXT | key --scancode CODE [--up]",
					   ctl_key, k);
	if (k && rc == 0)
		rc = vmb_host_ctl_register(h, "kbd-leds", "kbd-leds: LED state the guest set",
					   ctl_leds, k);
	if (m && rc == 0)
		rc = vmb_host_ctl_register(h, "mouse", "mouse X Y [--buttons N] [--wheel N]",
					   ctl_mouse, m);
	return rc;
}
