/*
 * Guest input: the keyboard and mouse drivers share one sink that hands
 * every event to the user callback, the event log and uinput.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "input_guest.h"
#include "input_uinput.h"
#include "util/deadline.h"

void vmb_input_deliver(struct vmb_input_guest *ig, const struct vmb_input_event *ev)
{
	char line[128];

	if (ig->cfg.fn)
		ig->cfg.fn(ig->cfg.arg, ev);
	pthread_mutex_lock(&ig->lock);
	if (ig->log && vmb_input_event_format(ev, line, sizeof(line)) > 0) {
		fprintf(ig->log, "%s\n", line);
		fflush(ig->log);
	}
	if (ev->kind == VMB_INPUT_KEY && ig->kbd_fd >= 0)
		vmb_uinput_send(ig->kbd_fd, ev, &ig->last_buttons);
	else if (ev->kind == VMB_INPUT_MOUSE && ig->mouse_fd >= 0)
		vmb_uinput_send(ig->mouse_fd, ev, &ig->last_buttons);
	ig->events++;
	pthread_cond_broadcast(&ig->cond);
	pthread_mutex_unlock(&ig->lock);
}

/* Wait for `done` (under ig->lock) to become true, up to ms. */
int vmb_input_wait_flag(struct vmb_input_guest *ig, const bool *done, int ms)
{
	struct timespec dl;
	int rc = 0;

	vmb_deadline_after(&dl, CLOCK_REALTIME, ms);
	pthread_mutex_lock(&ig->lock);
	while (!*done && rc == 0)
		rc = pthread_cond_timedwait(&ig->cond, &ig->lock, &dl);
	pthread_mutex_unlock(&ig->lock);
	return *done ? 0 : -ETIMEDOUT;
}

int vmb_input_guest_wait(struct vmb_input_guest *ig, uint64_t n, int timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	vmb_deadline_after(&dl, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&ig->lock);
	while (ig->events < n && rc == 0)
		rc = pthread_cond_timedwait(&ig->cond, &ig->lock, &dl);
	rc = ig->events >= n ? 0 : -ETIMEDOUT;
	pthread_mutex_unlock(&ig->lock);
	return rc;
}

static void open_uinput(struct vmb_input_guest *ig)
{
	ig->kbd_fd = vmb_uinput_kbd_open();
	if (ig->kbd_fd >= 0)
		ig->mouse_fd = vmb_uinput_mouse_open();
	if (ig->kbd_fd < 0 || ig->mouse_fd < 0)
		vmb_guest_log(ig->g, "input: uinput unavailable (%s); events go to the log only",
			      strerror(-(ig->kbd_fd < 0 ? ig->kbd_fd : ig->mouse_fd)));
}

int vmb_input_guest_register(struct vmb_guest *g, const struct vmb_input_guest_config *cfg,
			     struct vmb_input_guest **out)
{
	struct vmb_input_guest *ig = calloc(1, sizeof(*ig));
	int rc = -ENOMEM;

	if (!ig)
		return -ENOMEM;
	ig->g = g;
	ig->cfg = *cfg;
	ig->kbd_fd = ig->mouse_fd = -1;
	pthread_mutex_init(&ig->lock, NULL);
	pthread_cond_init(&ig->cond, NULL);
	if (cfg->log_path && !(ig->log = fopen(cfg->log_path, "a"))) {
		rc = -errno;
		goto fail;
	}
	if (cfg->uinput)
		open_uinput(ig);
	vmb_kbd_driver_init(ig, &ig->kbd_drv);
	vmb_mouse_driver_init(ig, &ig->mouse_drv);
	rc = vmb_guest_register_driver(g, &ig->kbd_drv);
	if (rc == 0)
		rc = vmb_guest_register_driver(g, &ig->mouse_drv);
	if (rc < 0)
		goto fail;
	*out = ig;
	return 0;
fail:
	/* A driver already registered stays until the guest goes: keep ig alive for it. */
	*out = ig;
	return rc;
}

void vmb_input_guest_free(struct vmb_input_guest *ig)
{
	if (!ig)
		return;
	if (ig->log)
		fclose(ig->log);
	vmb_uinput_close(ig->kbd_fd);
	vmb_uinput_close(ig->mouse_fd);
	pthread_cond_destroy(&ig->cond);
	pthread_mutex_destroy(&ig->lock);
	free(ig);
}
