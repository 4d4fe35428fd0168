/* Synthetic keyboard, host side: negotiation, keystrokes out, LED state in. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "input_priv.h"

struct vmb_kbd_vsp {
	struct vmb_host *h;
	struct vmb_vsp *v;
	pthread_mutex_t lock; /* ch and st: the loop thread and ctl senders share them */
	struct vmb_channel *ch;
	struct vmb_kbd_host_state st;
};

static void kbd_handle(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_kbd_vsp *k = arg;
	struct synth_kbd_protocol_response reply;
	size_t reply_len;
	int rc;

	pthread_mutex_lock(&k->lock);
	rc = vmb_kbd_host_rx(&k->st, pkt->data, pkt->len, &reply, &reply_len);
	pthread_mutex_unlock(&k->lock);
	if (rc < 0) {
		vmb_chan_fail(ch, rc == -EBADMSG ? "keyboard: malformed message"
						 : "keyboard: unexpected message");
		return;
	}
	if (reply_len)
		vmb_chan_send(ch, &reply, reply_len, 0, 0);
	/* Linux ignores the completion; Hyper-V guests asked for it. */
	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		vmb_chan_complete(ch, pkt->trans_id, NULL, 0);
}

static int kbd_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		    const struct vmb_open_params *p)
{
	struct vmb_kbd_vsp *k = dev;
	int rc = 0;

	(void)v;
	(void)p;
	pthread_mutex_lock(&k->lock);
	if (sub || k->ch)
		rc = -EBUSY;
	else
		k->ch = ch;
	memset(&k->st, 0, sizeof(k->st));
	pthread_mutex_unlock(&k->lock);
	if (rc == 0)
		vmb_chan_set_handler(ch, kbd_handle, k);
	return rc;
}

static void kbd_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_kbd_vsp *k = dev;

	(void)v;
	(void)sub;
	pthread_mutex_lock(&k->lock);
	if (k->ch == ch) {
		k->ch = NULL;
		memset(&k->st, 0, sizeof(k->st));
	}
	pthread_mutex_unlock(&k->lock);
}

static void kbd_release(void *dev)
{
	struct vmb_kbd_vsp *k = dev;

	pthread_mutex_destroy(&k->lock);
	free(k);
}

static const struct vmb_vsp_ops kbd_ops = {
    .open = kbd_open,
    .close = kbd_close,
    .release = kbd_release,
};

int vmb_kbd_vsp_add(struct vmb_host *h, struct vmb_kbd_vsp **out)
{
	struct vmb_kbd_vsp *k = calloc(1, sizeof(*k));
	struct vmb_vsp_desc d = {
	    .name = "keyboard",
	    .class_id = VMB_GUID_KBD,
	    .instance_id = VMB_GUID_KBD_INSTANCE,
	    .max_packet = SYNTH_KBD_MAX_MSG,
	    .copy_out = true,
	    .ops = &kbd_ops,
	};
	int rc;

	if (!k)
		return -ENOMEM;
	k->h = h;
	pthread_mutex_init(&k->lock, NULL);
	d.dev = k;
	rc = vmb_host_add_device(h, &d, &k->v);
	if (rc < 0) {
		kbd_release(k);
		return rc;
	}
	*out = k;
	return 0;
}

static int kbd_send_once(void *dev, const void *ev)
{
	struct vmb_kbd_vsp *k = dev;
	int rc;

	pthread_mutex_lock(&k->lock);
	if (!k->ch || !k->st.connected)
		rc = -ENOTCONN;
	else
		rc = vmb_chan_send(k->ch, ev, sizeof(struct synth_kbd_keystroke), 0,
				   VMB_SEND_NOWAIT);
	pthread_mutex_unlock(&k->lock);
	return rc;
}

int vmb_kbd_vsp_key(struct vmb_kbd_vsp *k, uint16_t code, uint32_t info)
{
	struct synth_kbd_keystroke ev;

	if (code > 0x7f && !(info & SYNTH_KBD_INFO_UNICODE))
		return -EINVAL;
	vmb_kbd_build_event(&ev, code, info);
	return vmb_input_retry(kbd_send_once, k, &ev);
}

int vmb_kbd_vsp_type(struct vmb_kbd_vsp *k, const char *text)
{
	for (const char *c = text; *c; c++) {
		uint16_t code;
		bool shift;
		int rc = vmb_kbd_ascii(*c, &code, &shift);

		if (rc == 0 && shift)
			rc = vmb_kbd_vsp_key(k, VMB_KBD_LSHIFT, 0);
		if (rc == 0)
			rc = vmb_kbd_vsp_key(k, code, 0);
		if (rc == 0)
			rc = vmb_kbd_vsp_key(k, code, SYNTH_KBD_INFO_BREAK);
		if (rc == 0 && shift)
			rc = vmb_kbd_vsp_key(k, VMB_KBD_LSHIFT, SYNTH_KBD_INFO_BREAK);
		if (rc < 0)
			return rc;
	}
	return 0;
}

int vmb_kbd_vsp_leds(struct vmb_kbd_vsp *k, uint16_t *leds)
{
	int rc = -ENODATA;

	pthread_mutex_lock(&k->lock);
	if (k->st.leds_known) {
		*leds = k->st.leds;
		rc = 0;
	}
	pthread_mutex_unlock(&k->lock);
	return rc;
}
