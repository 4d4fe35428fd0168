/* Synthetic mouse, guest side: negotiate 2.0, take the HID descriptor, ACK, deliver reports. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "input_guest.h"

struct mouse_dev {
	struct vmb_input_guest *ig;
	struct vmb_channel *ch;
	struct vmb_hid_guest_state st; /* under ig->lock */
	bool settled;		       /* refused, or the device info is in */
};

static struct vmb_input_guest *ig_of(struct vmb_device *dev)
{
	return vmb_device_driver(dev)->ctx;
}

static void send_ack(struct vmb_channel *ch)
{
	uint8_t buf[SYNTHHID_HDRS + 1], reserved = 0;
	int len = vmb_hid_build(buf, sizeof(buf), SYNTH_HID_INITIAL_DEVICE_INFO_ACK, &reserved, 1);

	vmb_chan_send(ch, buf, (size_t)len, 0, 0);
}

static void mouse_rx(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct mouse_dev *md = arg;
	struct vmb_input_event ev;
	int rc;

	pthread_mutex_lock(&md->ig->lock);
	rc = vmb_hid_guest_rx(&md->st, pkt->data, pkt->len, &ev);
	md->settled = md->st.refused || md->st.have_info;
	pthread_cond_broadcast(&md->ig->cond);
	pthread_mutex_unlock(&md->ig->lock);
	if (rc == 1)
		vmb_input_deliver(md->ig, &ev);
	else if (rc == 2)
		send_ack(ch);
	else if (rc < 0)
		vmb_chan_fail(ch, rc == -EBADMSG ? "mouse: malformed message from the host"
						 : "mouse: unexpected message from the host");
}

static void ignore_completion(void *arg, struct vmb_channel *ch, const struct vmb_packet *comp,
			      int status)
{
	(void)arg;
	(void)ch;
	(void)comp;
	(void)status;
}

static int mouse_connect(struct mouse_dev *md)
{
	uint8_t buf[SYNTHHID_HDRS + 4];
	uint32_t version = SYNTHHID_VERSION;
	int len = vmb_hid_build(buf, sizeof(buf), SYNTH_HID_PROTOCOL_REQUEST, &version, 4);
	int rc = vmb_chan_request(md->ch, buf, (size_t)len, ignore_completion, NULL);

	if (rc == 0)
		rc = vmb_input_wait_flag(md->ig, &md->settled, VMB_INPUT_TIMEOUT_MS);
	if (rc == 0 && !md->st.have_info) {
		vmb_guest_log(md->ig->g, "mouse: host refused protocol 2.0");
		rc = -EPROTO;
	}
	return rc;
}

static int mouse_probe(struct vmb_device *dev)
{
	struct mouse_dev *md = calloc(1, sizeof(*md));
	struct vmb_open_opts o = {
	    .send_ring = SYNTHHID_RING_BYTES,
	    .recv_ring = SYNTHHID_RING_BYTES,
	    .handler = mouse_rx,
	    .copy_out = true,
	    .max_packet = SYNTHHID_MAX_MSG + sizeof(struct vmbus_pipe_hdr),
	};
	int rc;

	if (!md)
		return -ENOMEM;
	md->ig = ig_of(dev);
	o.arg = md;
	rc = vmb_device_open(dev, &o, &md->ch);
	if (rc == 0)
		rc = mouse_connect(md);
	if (rc < 0) {
		if (md->ch)
			vmb_device_close(dev, md->ch);
		free(md);
		return rc;
	}
	vmb_device_set_priv(dev, md);
	return 0;
}

static void mouse_remove(struct vmb_device *dev)
{
	struct mouse_dev *md = vmb_device_priv(dev);

	if (!md)
		return;
	vmb_device_close(dev, md->ch);
	free(md);
}

void vmb_mouse_driver_init(struct vmb_input_guest *ig, struct vmb_driver *d)
{
	*d = (struct vmb_driver){
	    .name = "hid_hyperv",
	    .class_id = VMB_GUID_MOUSE,
	    .probe = mouse_probe,
	    .remove = mouse_remove,
	    .ctx = ig,
	};
}
