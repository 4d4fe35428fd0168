/* Guest input drivers: state shared by the keyboard and mouse VSCs. */
#ifndef VMB_DEV_INPUT_GUEST_H
#define VMB_DEV_INPUT_GUEST_H

#include <pthread.h>
#include <stdio.h>

#include "vmbus/dev/input.h"

#define VMB_INPUT_TIMEOUT_MS 5000

struct kbd_dev;
struct mouse_dev;

struct vmb_input_guest {
	struct vmb_driver kbd_drv, mouse_drv;
	struct vmb_guest *g;
	struct vmb_input_guest_config cfg;
	/* Protects everything below; cond signals events and handshake steps. */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	FILE *log;
	int kbd_fd, mouse_fd; /* uinput, -1 when not used */
	uint32_t last_buttons;
	uint64_t events;
	struct kbd_dev *kbd; /* the bound keyboard, for LED reports */
};

void vmb_input_deliver(struct vmb_input_guest *ig, const struct vmb_input_event *ev);
int vmb_input_wait_flag(struct vmb_input_guest *ig, const bool *done, int ms);
void vmb_kbd_driver_init(struct vmb_input_guest *ig, struct vmb_driver *d);
void vmb_mouse_driver_init(struct vmb_input_guest *ig, struct vmb_driver *d);

#endif
