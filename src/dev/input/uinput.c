/* The guest's real edge: keystrokes and pointer reports into the Linux input stack. */
#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "input_uinput.h"

/* E0-prefixed set-1 codes and their Linux key codes (the others are equal). */
static const struct {
	uint8_t code;
	uint16_t key;
} e0_keys[] = {
    {0x1c, KEY_KPENTER}, {0x1d, KEY_RIGHTCTRL}, {0x35, KEY_KPSLASH},  {0x38, KEY_RIGHTALT},
    {0x47, KEY_HOME},	 {0x48, KEY_UP},	{0x49, KEY_PAGEUP},   {0x4b, KEY_LEFT},
    {0x4d, KEY_RIGHT},	 {0x4f, KEY_END},	{0x50, KEY_DOWN},     {0x51, KEY_PAGEDOWN},
    {0x52, KEY_INSERT},	 {0x53, KEY_DELETE},	{0x5b, KEY_LEFTMETA}, {0x5c, KEY_RIGHTMETA},
    {0x5d, KEY_COMPOSE},
};

static int emit(int fd, uint16_t type, uint16_t code, int32_t value)
{
	struct input_event ie = {.type = type, .code = code, .value = value};

	return write(fd, &ie, sizeof(ie)) == (ssize_t)sizeof(ie) ? 0 : -errno;
}

static int create(int fd, const char *name, uint16_t product)
{
	struct uinput_setup us = {
	    .id = {.bustype = BUS_VIRTUAL, .vendor = 0x045e, .product = product}};

	snprintf(us.name, sizeof(us.name), "%s", name);
	if (ioctl(fd, UI_DEV_SETUP, &us) < 0 || ioctl(fd, UI_DEV_CREATE) < 0)
		return -errno;
	return 0;
}

static int open_uinput(void)
{
	int fd = open("/dev/uinput", O_WRONLY | O_NONBLOCK | O_CLOEXEC);

	return fd < 0 ? -errno : fd;
}

int vmb_uinput_kbd_open(void)
{
	int fd = open_uinput(), rc = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, UI_SET_EVBIT, EV_KEY) < 0)
		rc = -errno;
	for (int k = 1; k < 0x59 && rc == 0; k++)
		if (ioctl(fd, UI_SET_KEYBIT, k) < 0)
			rc = -errno;
	for (size_t i = 0; i < sizeof(e0_keys) / sizeof(e0_keys[0]) && rc == 0; i++)
		if (ioctl(fd, UI_SET_KEYBIT, e0_keys[i].key) < 0)
			rc = -errno;
	if (rc == 0)
		rc = create(fd, "vmbus synthetic keyboard", 0x0001);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

static int set_abs(int fd, uint16_t code)
{
	struct uinput_abs_setup a = {.code = code, .absinfo = {.maximum = VMB_MOUSE_ABS_MAX}};

	return ioctl(fd, UI_SET_ABSBIT, code) < 0 || ioctl(fd, UI_ABS_SETUP, &a) < 0 ? -errno : 0;
}

int vmb_uinput_mouse_open(void)
{
	static const uint16_t buttons[] = {BTN_LEFT, BTN_RIGHT, BTN_MIDDLE, BTN_SIDE, BTN_EXTRA};
	int fd = open_uinput(), rc = 0;

	if (fd < 0)
		return fd;
	if (ioctl(fd, UI_SET_EVBIT, EV_KEY) < 0 || ioctl(fd, UI_SET_EVBIT, EV_ABS) < 0 ||
	    ioctl(fd, UI_SET_EVBIT, EV_REL) < 0 || ioctl(fd, UI_SET_RELBIT, REL_WHEEL) < 0)
		rc = -errno;
	for (size_t i = 0; i < sizeof(buttons) / sizeof(buttons[0]) && rc == 0; i++)
		if (ioctl(fd, UI_SET_KEYBIT, buttons[i]) < 0)
			rc = -errno;
	if (rc == 0)
		rc = set_abs(fd, ABS_X);
	if (rc == 0)
		rc = set_abs(fd, ABS_Y);
	if (rc == 0)
		rc = create(fd, "vmbus synthetic mouse", 0x0621);
	if (rc < 0) {
		close(fd);
		return rc;
	}
	return fd;
}

static int linux_key(const struct vmb_input_event *ev)
{
	if (ev->kflags & (SYNTH_KBD_INFO_UNICODE | SYNTH_KBD_INFO_E1))
		return -1; /* no key code: dropped */
	if (!(ev->kflags & SYNTH_KBD_INFO_E0))
		return ev->scancode && ev->scancode < 0x59 ? ev->scancode : -1;
	for (size_t i = 0; i < sizeof(e0_keys) / sizeof(e0_keys[0]); i++)
		if (e0_keys[i].code == ev->scancode)
			return e0_keys[i].key;
	return -1;
}

int vmb_uinput_send(int fd, const struct vmb_input_event *ev, uint32_t *last_buttons)
{
	static const uint16_t buttons[] = {BTN_LEFT, BTN_RIGHT, BTN_MIDDLE, BTN_SIDE, BTN_EXTRA};
	int rc = 0;

	if (ev->kind == VMB_INPUT_KEY) {
		int key = linux_key(ev);

		if (key < 0)
			return 0;
		rc = emit(fd, EV_KEY, (uint16_t)key, ev->kflags & SYNTH_KBD_INFO_BREAK ? 0 : 1);
	} else {
		rc = emit(fd, EV_ABS, ABS_X, ev->x);
		if (rc == 0)
			rc = emit(fd, EV_ABS, ABS_Y, ev->y);
		for (unsigned i = 0; i < 5 && rc == 0; i++)
			if (((ev->buttons ^ *last_buttons) >> i) & 1)
				rc =
				    emit(fd, EV_KEY, buttons[i], (int32_t)((ev->buttons >> i) & 1));
		if (rc == 0 && ev->wheel)
			rc = emit(fd, EV_REL, REL_WHEEL, ev->wheel);
		*last_buttons = ev->buttons;
	}
	return rc == 0 ? emit(fd, EV_SYN, SYN_REPORT, 0) : rc;
}

void vmb_uinput_close(int fd)
{
	if (fd >= 0) {
		ioctl(fd, UI_DEV_DESTROY);
		close(fd);
	}
}
