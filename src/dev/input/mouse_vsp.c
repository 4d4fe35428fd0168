/* Synthetic mouse, host side: HID negotiation, device info, input reports. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "input_priv.h"

struct vmb_mouse_vsp {
	struct vmb_host *h;
	struct vmb_vsp *v;
	pthread_mutex_t lock; /* ch and st: the loop thread and ctl senders share them */
	struct vmb_channel *ch;
	struct vmb_hid_host_state st;
};

static void mouse_handle(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_mouse_vsp *m = arg;
	uint8_t resp[64], info[256];
	size_t resp_len, info_len;
	int rc;

	pthread_mutex_lock(&m->lock);
	rc = vmb_hid_host_rx(&m->st, pkt->data, pkt->len, resp, sizeof(resp), &resp_len, info,
			     sizeof(info), &info_len);
	pthread_mutex_unlock(&m->lock);
	if (rc < 0) {
		vmb_chan_fail(ch, rc == -EBADMSG ? "mouse: malformed message"
						 : "mouse: unexpected message");
		return;
	}
	if (resp_len)
		vmb_chan_send(ch, resp, resp_len, 0, 0);
	if (info_len)
		vmb_chan_send(ch, info, info_len, 0, 0);
	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		vmb_chan_complete(ch, pkt->trans_id, NULL, 0);
}

static int mouse_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		      const struct vmb_open_params *p)
{
	struct vmb_mouse_vsp *m = dev;
	int rc = 0;

	(void)v;
	(void)p;
	pthread_mutex_lock(&m->lock);
	if (sub || m->ch)
		rc = -EBUSY;
	else
		m->ch = ch;
	memset(&m->st, 0, sizeof(m->st));
	pthread_mutex_unlock(&m->lock);
	if (rc == 0)
		vmb_chan_set_handler(ch, mouse_handle, m);
	return rc;
}

static void mouse_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_mouse_vsp *m = dev;

	(void)v;
	(void)sub;
	pthread_mutex_lock(&m->lock);
	if (m->ch == ch) {
		m->ch = NULL;
		memset(&m->st, 0, sizeof(m->st));
	}
	pthread_mutex_unlock(&m->lock);
}

static void mouse_release(void *dev)
{
	struct vmb_mouse_vsp *m = dev;

	pthread_mutex_destroy(&m->lock);
	free(m);
}

static const struct vmb_vsp_ops mouse_ops = {
    .open = mouse_open,
    .close = mouse_close,
    .release = mouse_release,
};

int vmb_mouse_vsp_add(struct vmb_host *h, struct vmb_mouse_vsp **out)
{
	struct vmb_mouse_vsp *m = calloc(1, sizeof(*m));
	struct vmb_vsp_desc d = {
	    .name = "mouse",
	    .class_id = VMB_GUID_MOUSE,
	    .instance_id = VMB_GUID_MOUSE_INSTANCE,
	    .max_packet = SYNTHHID_MAX_MSG + sizeof(struct vmbus_pipe_hdr),
	    .copy_out = true,
	    .ops = &mouse_ops,
	};
	int rc;

	if (!m)
		return -ENOMEM;
	m->h = h;
	pthread_mutex_init(&m->lock, NULL);
	d.dev = m;
	rc = vmb_host_add_device(h, &d, &m->v);
	if (rc < 0) {
		mouse_release(m);
		return rc;
	}
	*out = m;
	return 0;
}

struct report {
	uint8_t buf[SYNTHHID_HDRS + VMB_MOUSE_REPORT_LEN];
	size_t len;
};

static int mouse_send_once(void *dev, const void *msg)
{
	struct vmb_mouse_vsp *m = dev;
	const struct report *r = msg;
	int rc;

	pthread_mutex_lock(&m->lock);
	if (!m->ch || m->st.phase != VMB_HID_READY)
		rc = -ENOTCONN;
	else
		rc = vmb_chan_send(m->ch, r->buf, r->len, 0, VMB_SEND_NOWAIT);
	pthread_mutex_unlock(&m->lock);
	return rc;
}

int vmb_mouse_vsp_report(struct vmb_mouse_vsp *m, uint32_t buttons, int32_t x, int32_t y,
			 int32_t wheel)
{
	struct report r;
	int len = vmb_hid_build_report(r.buf, sizeof(r.buf), buttons, x, y, wheel);

	if (len < 0)
		return len;
	r.len = (size_t)len;
	return vmb_input_retry(mouse_send_once, m, &r);
}
