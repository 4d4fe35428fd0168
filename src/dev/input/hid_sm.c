/* Synthetic mouse: host and guest protocol state machines (pure). */
#include <errno.h>
#include <string.h>

#include "vmbus/dev/input.h"

int vmb_hid_host_rx(struct vmb_hid_host_state *s, const void *buf, size_t len, void *reply,
		    size_t cap, size_t *reply_len, void *reply2, size_t cap2, size_t *reply2_len)
{
	struct vmb_hid_msg m;
	uint8_t resp[5];
	uint32_t version;
	int rc = vmb_hid_parse(buf, len, &m);

	*reply_len = *reply2_len = 0;
	if (rc < 0)
		return rc;
	switch (m.type) {
	case SYNTH_HID_PROTOCOL_REQUEST:
		if (s->phase != VMB_HID_WAIT_REQUEST || m.body_len < 4)
			return -EPROTO;
		memcpy(&version, m.body, 4);
		memcpy(resp, &version, 4);
		resp[4] = version == SYNTHHID_VERSION;
		rc = vmb_hid_build(reply, cap, SYNTH_HID_PROTOCOL_RESPONSE, resp, sizeof(resp));
		if (rc < 0)
			return rc;
		*reply_len = (size_t)rc;
		if (!resp[4])
			return 0;
		rc = vmb_hid_build_device_info(reply2, cap2);
		if (rc < 0)
			return rc;
		*reply2_len = (size_t)rc;
		s->phase = VMB_HID_WAIT_ACK;
		return 0;
	case SYNTH_HID_INITIAL_DEVICE_INFO_ACK:
		if (s->phase != VMB_HID_WAIT_ACK)
			return -EPROTO;
		s->phase = VMB_HID_READY;
		return 0;
	default:
		return -EPROTO;
	}
}

static int guest_device_info(struct vmb_hid_guest_state *s, const struct vmb_hid_msg *m)
{
	struct hid_class_descriptor hd;
	size_t off = sizeof(s->info);

	if (s->have_info || m->body_len < off + sizeof(hd))
		return -EPROTO;
	memcpy(&s->info, m->body, sizeof(s->info));
	memcpy(&hd, m->body + off, sizeof(hd));
	/* bLength places the report descriptor: it must at least cover the fields read. */
	if (hd.bLength < sizeof(hd) || hd.bDescriptorType != 0x21 || hd.bNumDescriptors < 1 ||
	    hd.bReportType != 0x22 || !hd.wReportLength || hd.wReportLength > m->body_len - off ||
	    hd.bLength > m->body_len - off - hd.wReportLength)
		return -EBADMSG;
	if (vmb_hid_parse_desc(m->body + off + hd.bLength, hd.wReportLength, &s->layout) < 0)
		return -EBADMSG;
	s->have_info = true;
	return 2;
}

int vmb_hid_guest_rx(struct vmb_hid_guest_state *s, const void *buf, size_t len,
		     struct vmb_input_event *ev)
{
	struct vmb_hid_msg m;
	uint32_t version;
	int rc = vmb_hid_parse(buf, len, &m);

	if (rc < 0)
		return rc;
	switch (m.type) {
	case SYNTH_HID_PROTOCOL_RESPONSE:
		if (s->connected || s->refused || m.body_len < 5)
			return -EPROTO;
		memcpy(&version, m.body, 4);
		s->connected = m.body[4] != 0 && version == SYNTHHID_VERSION;
		s->refused = !s->connected;
		return 0;
	case SYNTH_HID_INITIAL_DEVICE_INFO:
		if (!s->connected)
			return -EPROTO;
		return guest_device_info(s, &m);
	case SYNTH_HID_INPUT_REPORT:
		if (!s->have_info)
			return -EPROTO;
		rc = vmb_hid_decode(&s->layout, m.body, m.body_len, ev);
		return rc < 0 ? rc : 1;
	default:
		return -EPROTO;
	}
}
