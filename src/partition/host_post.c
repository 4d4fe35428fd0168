/*
 * HvPostMessage: validated requests go into a bounded FIFO (Hyper-V queues
 * 16 per port), which vmb_host_part_poll() drains into ops->post.
 */
#include <string.h>

#include "partition/host_priv.h"

/* VMBus message ports the hypervisor always has (PROTOCOL.md 1.1). */
static bool message_port(uint32_t conn_id)
{
	return conn_id == 1 || conn_id == 4;
}

int vmb_host_post_queue(struct vmb_host_part *h, const struct vmb_wire_post *p)
{
	if (p->size > HV_MESSAGE_PAYLOAD_SIZE || p->vp >= h->vp_count)
		return HV_STATUS_INVALID_PARAMETER;
	if (p->msg_type == HVMSG_NONE || (p->msg_type & 0x80000000u))
		return HV_STATUS_INVALID_PARAMETER;
	if (!message_port(p->conn_id))
		return HV_STATUS_INVALID_CONNECTION_ID;
	if (h->post_count == h->post_depth) {
		h->stats.posts_refused++;
		return HV_STATUS_INSUFFICIENT_BUFFERS;
	}
	struct vmb_host_post *q = &h->posts[(h->post_head + h->post_count) % h->post_depth];
	q->conn_id = p->conn_id;
	q->vp = p->vp;
	q->msg_type = p->msg_type;
	q->size = p->size;
	memcpy(q->payload, p->payload, p->size);
	h->post_count++;
	h->stats.posts++;
	return HV_STATUS_SUCCESS;
}

/* Stops while a VP is backlogged: that guest is not taking our answers. */
void vmb_host_post_drain(struct vmb_host_part *h)
{
	struct vmb_host_post m;

	for (;;) {
		vmb_hlock(h);
		if (!h->post_count || vmb_host_synic_backlogged(h)) {
			vmb_hunlock(h);
			return;
		}
		m = h->posts[h->post_head];
		h->post_head = (h->post_head + 1) % h->post_depth;
		h->post_count--;
		vmb_hunlock(h);
		if (h->ops.post)
			h->ops.post(h->ctx, m.conn_id, m.vp, m.msg_type, m.payload, m.size);
	}
}
