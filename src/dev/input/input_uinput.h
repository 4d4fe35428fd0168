/* /dev/uinput devices for the guest input drivers (Linux only). */
#ifndef VMB_DEV_INPUT_UINPUT_H
#define VMB_DEV_INPUT_UINPUT_H

#include "vmbus/dev/input.h"

/* An fd, or -errno when uinput is unavailable. */
int vmb_uinput_kbd_open(void);
int vmb_uinput_mouse_open(void);
/* last_buttons: the previous report's buttons, so only changes are sent. */
int vmb_uinput_send(int fd, const struct vmb_input_event *ev, uint32_t *last_buttons);
void vmb_uinput_close(int fd);

#endif
