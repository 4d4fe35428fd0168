/*
 * netvsp: the host end of the synthetic NIC. NVSP bring-up (version,
 * receive and send buffers) and the guest-to-host data path; frames go out
 * through a TAP interface. PROTOCOL.md 7.1-7.3.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/net/netvsp_priv.h"
#include "dev/net/tap.h"

static const uint32_t versions[] = {
    NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
    NVSP_PROTOCOL_VERSION_4,  NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
};

static void bad(struct vmb_netvsp *n, const char *why)
{
	pthread_mutex_lock(&n->lock);
	n->st.bad_packets++;
	pthread_mutex_unlock(&n->lock);
	vmb_host_log(n->h, "netvsp: %s", why);
}

static void answer(struct vmb_netvsp *n, struct vmb_channel *ch, uint64_t trans_id,
		   const struct nvsp_message *m)
{
	size_t size = n->msg_size ? n->msg_size : NVSP_MESSAGE_SIZE_V61;

	vmb_chan_complete(ch, trans_id, m, size);
}

static void do_init(struct vmb_netvsp *n, struct vmb_channel *ch, uint64_t tid,
		    const struct nvsp_message *req)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG_TYPE_INIT_COMPLETE};

	m.init_complete.status = NVSP_STAT_FAIL;
	m.init_complete.max_mdl_chain_len = 34;
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		uint32_t v = versions[i];

		if (v <= n->max_version && v >= req->init.min_protocol_ver &&
		    v <= req->init.max_protocol_ver) {
			m.init_complete.status = NVSP_STAT_SUCCESS;
			m.init_complete.negotiated_protocol_ver = v;
			pthread_mutex_lock(&n->lock);
			n->version = v;
			n->msg_size = (uint32_t)vmb_nvsp_msg_size(v);
			pthread_mutex_unlock(&n->lock);
			break;
		}
	}
	answer(n, ch, tid, &m);
}

static void unmap_rbuf(struct vmb_netvsp *n)
{
	netvsp_reader_stop(n);
	pthread_mutex_lock(&n->lock);
	if (n->rbuf_mapped) {
		vmb_vsp_unmap_gpadl(n->v, &n->rbuf);
		n->rbuf_mapped = false;
	}
	n->nfree = 0;
	n->nslots = 0;
	pthread_mutex_unlock(&n->lock);
}

static void unmap_sbuf(struct vmb_netvsp *n)
{
	pthread_mutex_lock(&n->lock);
	if (n->sbuf_mapped) {
		vmb_vsp_unmap_gpadl(n->v, &n->sbuf);
		n->sbuf_mapped = false;
	}
	pthread_mutex_unlock(&n->lock);
}

static void do_recv_buf(struct vmb_netvsp *n, struct vmb_channel *ch, uint64_t tid,
			const struct nvsp_message *req)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE};
	struct nvsp_1_receive_buffer_section *sec = &m.recv_buf_complete.sections[0];
	struct vmb_mapping map;
	uint64_t count;

	m.recv_buf_complete.status = NVSP_STAT_FAIL;
	if (!n->version || n->rbuf_mapped) {
		bad(n, "receive buffer before INIT or twice");
	} else if (vmb_vsp_map_gpadl(n->v, req->recv_buf.gpadl_handle, &map) < 0) {
		bad(n, "receive buffer GPADL cannot be mapped");
	} else if ((count = (uint64_t)map.npages * HV_PAGE_SIZE / NETVSP_SUBALLOC_SIZE) == 0) {
		vmb_vsp_unmap_gpadl(n->v, &map);
		bad(n, "receive buffer smaller than one sub-allocation");
	} else {
		if (count > UINT32_MAX / NETVSP_SUBALLOC_SIZE)
			count = UINT32_MAX / NETVSP_SUBALLOC_SIZE;
		pthread_mutex_lock(&n->lock);
		n->rbuf = map;
		n->rbuf_mapped = true;
		n->rbuf_id = req->recv_buf.id;
		n->rsub_count = (uint32_t)count;
		netvsp_rx_reset(n);
		pthread_mutex_unlock(&n->lock);
		m.recv_buf_complete.status = NVSP_STAT_SUCCESS;
		m.recv_buf_complete.num_sections = 1;
		sec->sub_alloc_size = NETVSP_SUBALLOC_SIZE;
		sec->num_sub_allocs = (uint32_t)count;
		sec->end_offset = (uint32_t)count * NETVSP_SUBALLOC_SIZE;
	}
	answer(n, ch, tid, &m);
}

static void do_send_buf(struct vmb_netvsp *n, struct vmb_channel *ch, uint64_t tid,
			const struct nvsp_message *req)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE};
	struct vmb_mapping map;
	uint64_t count;

	m.send_buf_complete.status = NVSP_STAT_FAIL;
	if (!n->version || n->sbuf_mapped) {
		bad(n, "send buffer before INIT or twice");
	} else if (vmb_vsp_map_gpadl(n->v, req->send_buf.gpadl_handle, &map) < 0) {
		bad(n, "send buffer GPADL cannot be mapped");
	} else if ((count = (uint64_t)map.npages * HV_PAGE_SIZE / NETVSP_SEND_SECTION_SIZE) == 0) {
		vmb_vsp_unmap_gpadl(n->v, &map);
		bad(n, "send buffer smaller than one section");
	} else {
		pthread_mutex_lock(&n->lock);
		n->sbuf = map;
		n->sbuf_mapped = true;
		n->ssec_count = count > UINT32_MAX ? UINT32_MAX : (uint32_t)count;
		pthread_mutex_unlock(&n->lock);
		m.send_buf_complete.status = NVSP_STAT_SUCCESS;
		m.send_buf_complete.section_size = NETVSP_SEND_SECTION_SIZE;
	}
	answer(n, ch, tid, &m);
}

/* Copy the RNDIS message out of the send buffer section. */
static int from_section(struct vmb_netvsp *n, const struct nvsp_message *req, uint8_t *buf,
			uint32_t *len)
{
	uint32_t idx = req->rndis_pkt.send_buf_section_index;
	uint32_t size = req->rndis_pkt.send_buf_section_size;

	if (!n->sbuf_mapped || idx >= n->ssec_count || size > NETVSP_SEND_SECTION_SIZE)
		return -EBADMSG;
	memcpy(buf, (const uint8_t *)n->sbuf.addr + (size_t)idx * NETVSP_SEND_SECTION_SIZE, size);
	*len = size;
	return 0;
}

/* Gather the RNDIS message from the guest pages a GPA-direct packet names. */
static int from_pages(struct vmb_netvsp *n, struct vmb_channel *ch, const struct vmb_packet *pkt,
		      uint8_t *buf, uint32_t *len)
{
	struct vmb_range_iter it;
	struct vmb_gpa_range r;
	uint32_t total = 0;
	int rc;

	(void)n;
	rc = vmb_range_iter_init(&it, pkt);
	while (rc == 0 && (rc = vmb_range_next(&it, &r)) == 1) {
		uint32_t done = 0;

		rc = 0;
		if (r.len > NETVSP_MAX_RNDIS - total)
			return -EMSGSIZE;
		for (uint32_t i = 0; i < r.pfn_count && done < r.len; i++) {
			uint32_t off = i ? 0 : r.offset;
			uint32_t k =
			    HV_PAGE_SIZE - off < r.len - done ? HV_PAGE_SIZE - off : r.len - done;
			const void *p = vmb_chan_gpa(ch, r.pfns[i] * HV_PAGE_SIZE + off, k);

			if (!p)
				return -EFAULT;
			memcpy(buf + total + done, p, k);
			done += k;
		}
		if (done < r.len)
			return -EBADMSG;
		total += done;
	}
	*len = total;
	return rc;
}

static void do_rndis_pkt(struct vmb_netvsp *n, struct vmb_channel *ch, const struct vmb_packet *pkt,
			 const struct nvsp_message *req)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_RNDIS_PKT_COMPLETE};
	uint8_t *buf = n->rndis_buf;
	uint32_t len = 0;
	int rc;

	if (pkt->type == VM_PKT_DATA_USING_GPA_DIRECT)
		rc = from_pages(n, ch, pkt, buf, &len);
	else if (req->rndis_pkt.send_buf_section_index != NVSP_INVALID_SECTION_INDEX)
		rc = from_section(n, req, buf, &len);
	else
		rc = -EBADMSG;
	if (rc == 0)
		rc = netvsp_rndis(n, buf, len);
	if (rc < 0)
		bad(n, "malformed RNDIS packet from the guest");
	m.rndis_pkt_complete.status = rc < 0 ? NVSP_STAT_INVALID_RNDIS_PKT : NVSP_STAT_SUCCESS;
	if (pkt->flags & VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED)
		answer(n, ch, pkt->trans_id, &m);
}

static void do_subchannel(struct vmb_netvsp *n, struct vmb_channel *ch, uint64_t tid)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG5_TYPE_SUBCHANNEL};

	/* No vRSS: RSS capabilities are refused, so a well-behaved guest never asks. */
	m.subchan_complete.status = NVSP_STAT_FAIL;
	answer(n, ch, tid, &m);
}

/* Completions of one drain leave in one channel batch: one commit, at most one signal. */
static void drain_end(void *arg, struct vmb_channel *ch)
{
	struct vmb_netvsp *n = arg;

	if (n->batching) {
		n->batching = false;
		vmb_chan_batch_end(ch);
	}
}

static void handle(void *arg, struct vmb_channel *ch, const struct vmb_packet *pkt)
{
	struct vmb_netvsp *n = arg;
	struct nvsp_message req;

	if (!n->batching) {
		vmb_chan_batch_begin(ch);
		n->batching = true;
	}

	if (vmb_nvsp_parse(pkt->data, pkt->len, &req) < 0) {
		bad(n, "short NVSP message");
		return;
	}
	switch (req.msg_type) {
	case NVSP_MSG_TYPE_INIT:
		do_init(n, ch, pkt->trans_id, &req);
		break;
	case NVSP_MSG1_TYPE_SEND_NDIS_VER:
	case NVSP_MSG2_TYPE_SEND_NDIS_CONFIG:
	case NVSP_MSG4_TYPE_SWITCH_DATA_PATH:
		break; /* nothing to configure: no VF, the TAP takes any MTU */
	case NVSP_MSG1_TYPE_SEND_RECV_BUF:
		do_recv_buf(n, ch, pkt->trans_id, &req);
		break;
	case NVSP_MSG1_TYPE_SEND_SEND_BUF:
		do_send_buf(n, ch, pkt->trans_id, &req);
		break;
	case NVSP_MSG1_TYPE_REVOKE_RECV_BUF:
		unmap_rbuf(n);
		if (netvsp_reader_start(n) < 0)
			vmb_host_log(n->h, "netvsp: TAP reader not restarted");
		break;
	case NVSP_MSG1_TYPE_REVOKE_SEND_BUF:
		unmap_sbuf(n);
		break;
	case NVSP_MSG1_TYPE_SEND_RNDIS_PKT:
		do_rndis_pkt(n, ch, pkt, &req);
		break;
	case NVSP_MSG5_TYPE_SUBCHANNEL:
		do_subchannel(n, ch, pkt->trans_id);
		break;
	default:
		bad(n, "unknown NVSP message");
	}
}

static int net_open(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch,
		    const struct vmb_open_params *p)
{
	struct vmb_netvsp *n = dev;

	(void)v;
	(void)p;
	if (sub != 0 || n->ch)
		return -EINVAL;
	pthread_mutex_lock(&n->lock);
	n->ch = ch;
	n->version = 0;
	n->msg_size = 0;
	n->rndis_ready = false;
	n->filter = 0;
	pthread_mutex_unlock(&n->lock);
	n->batching = false;
	vmb_chan_set_drain_end(ch, drain_end, n);
	vmb_chan_set_handler(ch, handle, n);
	return netvsp_reader_start(n);
}

static void net_close(void *dev, struct vmb_vsp *v, uint16_t sub, struct vmb_channel *ch)
{
	struct vmb_netvsp *n = dev;

	(void)v;
	if (sub != 0 || n->ch != ch)
		return;
	vmb_chan_shutdown(ch);
	unmap_rbuf(n);
	unmap_sbuf(n);
	pthread_mutex_lock(&n->lock);
	n->ch = NULL;
	n->rndis_ready = false;
	pthread_mutex_unlock(&n->lock);
}

static void net_release(void *dev)
{
	struct vmb_netvsp *n = dev;

	vmb_tap_writer_destroy(&n->tapw);
	close(n->tap_fd);
	close(n->stop_pipe[0]);
	close(n->stop_pipe[1]);
	pthread_mutex_destroy(&n->lock);
	free(n);
}

static const struct vmb_vsp_ops net_ops = {
    .open = net_open,
    .close = net_close,
    .release = net_release,
};

/* A locally administered unicast address derived from the TAP name. */
static void default_mac(const char *name, uint8_t mac[6])
{
	uint32_t h = 2166136261u;

	for (const char *p = name; *p; p++)
		h = (h ^ (uint8_t)*p) * 16777619u;
	mac[0] = 0x02;
	mac[1] = 0x15;
	mac[2] = 0x5d;
	memcpy(mac + 3, &h, 3);
}

static int netvsp_init(struct vmb_netvsp *n, const struct vmb_net_host_config *cfg)
{
	static const uint8_t zero[6];
	const char *tap = cfg->tap ? cfg->tap : "vmbtap%d";

	if (strlen(tap) >= sizeof(n->tap_name))
		return -EINVAL;
	memcpy(n->tap_name, tap, strlen(tap) + 1);
	n->max_version = cfg->max_version ? cfg->max_version : NVSP_PROTOCOL_VERSION_61;
	if (pipe2(n->stop_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -errno;
	n->tap_fd = vmb_tap_open(n->tap_name);
	if (n->tap_fd < 0) {
		close(n->stop_pipe[0]);
		close(n->stop_pipe[1]);
		return n->tap_fd;
	}
	vmb_tap_writer_init(&n->tapw, n->tap_fd);
	/* From the name the kernel gave: two VMs get two addresses. */
	memcpy(n->mac, cfg->mac, 6);
	if (!memcmp(n->mac, zero, 6))
		default_mac(n->tap_name, n->mac);
	if (vmb_tap_up(n->tap_name) < 0)
		vmb_host_log(n->h, "netvsp: cannot bring %s up", n->tap_name);
	else
		vmb_host_log(n->h, "netvsp: host TAP %s up", n->tap_name);
	pthread_mutex_init(&n->lock, NULL);
	return 0;
}

int vmb_net_host_add(struct vmb_host *h, const struct vmb_net_host_config *cfg,
		     struct vmb_netvsp **out)
{
	struct vmb_netvsp *n = calloc(1, sizeof(*n));
	struct vmb_vsp_desc d = {
	    .name = "netvsp",
	    .class_id = VMB_GUID_NET,
	    .instance_id = cfg->instance,
	    .max_packet = 8192,
	    .copy_out = true,
	    .ops = &net_ops,
	};
	int rc;

	if (!n)
		return -ENOMEM;
	n->h = h;
	rc = netvsp_init(n, cfg);
	if (rc < 0) {
		free(n);
		return rc;
	}
	d.dev = n;
	rc = vmb_host_add_device(h, &d, &n->v);
	if (rc < 0) {
		net_release(n);
		return rc;
	}
	*out = n;
	return 0;
}

int vmb_net_host_remove(struct vmb_netvsp *n)
{
	return vmb_host_remove_device(n->h, n->v);
}

void vmb_net_host_stats(struct vmb_netvsp *n, struct vmb_net_stats *st)
{
	pthread_mutex_lock(&n->lock);
	*st = n->st;
	pthread_mutex_unlock(&n->lock);
}

int vmb_net_available(void)
{
	return vmb_tap_available();
}
