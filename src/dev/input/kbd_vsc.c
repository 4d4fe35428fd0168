/* Synthetic keyboard, guest side: negotiate 1.0, deliver keystrokes, report LEDs. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "input_guest.h"

struct kbd_dev {
	struct vmb_input_guest *ig;
	struct vmb_channel *ch;
	struct vmb_kbd_guest_state st; /* under ig->lock */
	bool settled;		       /* the host answered the protocol request */
};

static struct vmb_input_guest *ig_of(struct vmb_device *dev)
{
	return vmb_device_driver(dev)->ctx;
}

static void kbd_rx(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct kbd_dev *kd = arg;
	struct vmb_input_event ev;
	int rc;

	pthread_mutex_lock(&kd->ig->lock);
	rc = vmb_kbd_guest_rx(&kd->st, pkt->data, pkt->len, &ev);
	kd->settled = kd->st.connected || kd->st.refused;
	pthread_cond_broadcast(&kd->ig->cond);
	pthread_mutex_unlock(&kd->ig->lock);
	if (rc == 1)
		vmb_input_deliver(kd->ig, &ev);
	else if (rc < 0)
		vmb_chan_fail(ch, rc == -EBADMSG ? "keyboard: malformed message from the host"
						 : "keyboard: unexpected message from the host");
}

/* The host's completion (if any) carries nothing: the answer comes in band. */
static void ignore_completion(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp,
			      int status)
{
	(void)arg;
	(void)ch;
	(void)comp;
	(void)status;
}

static int send_leds(struct kbd_dev *kd, uint16_t leds)
{
	struct synth_kbd_led_indicators m = {.type = SYNTH_KBD_LED_INDICATORS, .led_flags = leds};

	return vmb_chan_send(kd->ch, &m, sizeof(m), 0, VMB_SEND_NOWAIT);
}

static int kbd_connect(struct kbd_dev *kd)
{
	struct synth_kbd_protocol_request req = {
	    .type = SYNTH_KBD_PROTOCOL_REQUEST,
	    .version = SYNTH_KBD_VERSION,
	};
	int rc = vmb_chan_request(kd->ch, &req, sizeof(req), ignore_completion, NULL);

	if (rc == 0)
		rc = vmb_input_wait_flag(kd->ig, &kd->settled, VMB_INPUT_TIMEOUT_MS);
	if (rc == 0 && !kd->st.connected) {
		vmb_guest_log(kd->ig->g, "keyboard: host refused protocol 1.0");
		rc = -EPROTO;
	}
	if (rc == 0 && kd->ig->cfg.leds >= 0)
		rc = send_leds(kd, (uint16_t)kd->ig->cfg.leds);
	return rc;
}

static int kbd_probe(struct vmb_device *dev)
{
	struct vmb_input_guest *ig = ig_of(dev);
	struct kbd_dev *kd = calloc(1, sizeof(*kd));
	struct vmb_open_opts o = {
	    .send_ring = SYNTH_KBD_RING_BYTES,
	    .recv_ring = SYNTH_KBD_RING_BYTES,
	    .handler = kbd_rx,
	    .copy_out = true,
	    .max_packet = SYNTH_KBD_MAX_MSG,
	};
	int rc;

	if (!kd)
		return -ENOMEM;
	kd->ig = ig;
	o.arg = kd;
	rc = vmb_device_open(dev, &o, &kd->ch);
	if (rc == 0)
		rc = kbd_connect(kd);
	if (rc < 0) {
		if (kd->ch)
			vmb_device_close(dev, kd->ch);
		free(kd);
		return rc;
	}
	pthread_mutex_lock(&ig->lock);
	ig->kbd = kd;
	pthread_mutex_unlock(&ig->lock);
	vmb_device_set_priv(dev, kd);
	return 0;
}

static void kbd_remove(struct vmb_device *dev)
{
	struct vmb_input_guest *ig = ig_of(dev);
	struct kbd_dev *kd = vmb_device_priv(dev);

	if (!kd)
		return;
	pthread_mutex_lock(&ig->lock);
	if (ig->kbd == kd)
		ig->kbd = NULL;
	pthread_mutex_unlock(&ig->lock);
	vmb_device_close(dev, kd->ch);
	free(kd);
}

int vmb_input_guest_set_leds(struct vmb_input_guest *ig, uint16_t leds)
{
	int rc = -ENODEV;

	/* Held across the send so that remove cannot close the channel under it. */
	pthread_mutex_lock(&ig->lock);
	if (ig->kbd)
		rc = send_leds(ig->kbd, leds);
	pthread_mutex_unlock(&ig->lock);
	return rc;
}

void vmb_kbd_driver_init(struct vmb_input_guest *ig, struct vmb_driver *d)
{
	*d = (struct vmb_driver){
	    .name = "hyperv_keyboard",
	    .class_id = VMB_GUID_KBD,
	    .probe = kbd_probe,
	    .remove = kbd_remove,
	    .ctx = ig,
	};
}
