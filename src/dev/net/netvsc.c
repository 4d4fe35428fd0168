/*
 * netvsc: the guest end of the synthetic NIC. Bring-up as Linux does it
 * (PROTOCOL.md 7.2, 7.4): NVSP INIT newest version first, NDIS config and
 * version, receive and send buffer GPADLs, RNDIS INITIALIZE, MAC and link
 * queries, then a guest TAP carrying the NIC's frames, then the packet filter.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "dev/net/netvsc_priv.h"
#include "dev/net/tap.h"
#include "util/deadline.h"

static const uint32_t versions[] = {
    NVSP_PROTOCOL_VERSION_61, NVSP_PROTOCOL_VERSION_6, NVSP_PROTOCOL_VERSION_5,
    NVSP_PROTOCOL_VERSION_4,  NVSP_PROTOCOL_VERSION_2, NVSP_PROTOCOL_VERSION_1,
};

/* A request expecting an NVSP completion of type `want`. */
static int nvsp_request(struct nvc_dev *d, const struct nvsp_message *req, uint32_t want,
			struct nvsp_message *resp)
{
	uint8_t buf[64];
	size_t got = 0;
	int rc = vmb_chan_request_sync(d->ch, req, d->msg_size, buf, sizeof(buf), &got,
				       NETVSC_TIMEOUT_MS);

	if (rc == 0 && (vmb_nvsp_parse(buf, got, resp) < 0 || resp->msg_type != want))
		rc = -EPROTO;
	return rc;
}

static int negotiate(struct nvc_dev *d)
{
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct nvsp_message m = {.msg_type = NVSP_MSG_TYPE_INIT}, r;
		int rc;

		m.init.min_protocol_ver = versions[i];
		m.init.max_protocol_ver = versions[i];
		/* Linux always sends the 6.1 size; older hosts truncate. */
		d->msg_size = NVSP_MESSAGE_SIZE_V61;
		rc = nvsp_request(d, &m, NVSP_MSG_TYPE_INIT_COMPLETE, &r);
		if (rc < 0)
			return rc;
		if (r.init_complete.status == NVSP_STAT_SUCCESS) {
			d->version = versions[i];
			d->msg_size = (uint32_t)vmb_nvsp_msg_size(versions[i]);
			return 0;
		}
	}
	return -EPROTONOSUPPORT;
}

static int send_ndis(struct nvc_dev *d)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG2_TYPE_SEND_NDIS_CONFIG};
	int rc = 0;

	if (d->version >= NVSP_PROTOCOL_VERSION_2) {
		m.ndis_config.mtu = 1500 + 14;
		m.ndis_config.capabilities = NDIS_CONFIG_CAP_IEEE8021Q;
		rc = vmb_chan_send(d->ch, &m, d->msg_size, 0, 0);
	}
	memset(&m, 0, sizeof(m));
	m.msg_type = NVSP_MSG1_TYPE_SEND_NDIS_VER;
	m.ndis_ver.ndis_major_ver = 6;
	m.ndis_ver.ndis_minor_ver = d->version <= NVSP_PROTOCOL_VERSION_4 ? 1 : 30;
	return rc < 0 ? rc : vmb_chan_send(d->ch, &m, d->msg_size, 0, 0);
}

static int setup_rbuf(struct nvc_dev *d)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_RECV_BUF}, r;
	const struct nvsp_1_receive_buffer_section *s = &r.recv_buf_complete.sections[0];
	void *addr;
	int rc = vmb_device_gpadl_alloc(d->dev, NETVSC_RBUF_BYTES, &addr, &d->rbuf_handle);

	if (rc < 0)
		return rc;
	d->rbuf = addr;
	d->rbuf_ok = true;
	m.recv_buf.gpadl_handle = d->rbuf_handle;
	m.recv_buf.id = NETVSC_RECEIVE_BUFFER_ID;
	rc = nvsp_request(d, &m, NVSP_MSG1_TYPE_SEND_RECV_BUF_COMPLETE, &r);
	if (rc < 0)
		return rc;
	/* Linux insists on exactly one section at offset 0 inside the buffer. */
	if (r.recv_buf_complete.status != NVSP_STAT_SUCCESS ||
	    r.recv_buf_complete.num_sections != 1 || s->offset != 0 || s->sub_alloc_size == 0 ||
	    (uint64_t)s->sub_alloc_size * s->num_sub_allocs > NETVSC_RBUF_BYTES)
		return -EPROTO;
	return 0;
}

static int setup_sbuf(struct nvc_dev *d)
{
	struct nvsp_message m = {.msg_type = NVSP_MSG1_TYPE_SEND_SEND_BUF}, r;
	void *addr;
	int rc = vmb_device_gpadl_alloc(d->dev, NETVSC_SBUF_BYTES, &addr, &d->sbuf_handle);
	uint32_t size;

	if (rc < 0)
		return rc;
	d->sbuf = addr;
	d->sbuf_ok = true;
	m.send_buf.gpadl_handle = d->sbuf_handle;
	m.send_buf.id = NETVSC_SEND_BUFFER_ID;
	rc = nvsp_request(d, &m, NVSP_MSG1_TYPE_SEND_SEND_BUF_COMPLETE, &r);
	if (rc < 0)
		return rc;
	size = r.send_buf_complete.section_size;
	/* A section must hold a full frame with its RNDIS header. */
	if (r.send_buf_complete.status != NVSP_STAT_SUCCESS || size < 2048 ||
	    size > NETVSC_SBUF_BYTES)
		return -EPROTO;
	d->ssec_size = size;
	d->nsecs = NETVSC_SBUF_BYTES / size;
	if (d->nsecs > NETVSC_MAX_SECTIONS)
		d->nsecs = NETVSC_MAX_SECTIONS;
	for (uint32_t i = 0; i < d->nsecs; i++) {
		d->slots[i] = (struct tx_slot){d, i};
		d->free_secs[d->nfree++] = d->nsecs - 1 - i;
	}
	return 0;
}

static uint32_t next_id(struct nvc_dev *d)
{
	return ++d->next_req_id;
}

/*
 * Frames share a send section when the host allows several RNDIS messages
 * per message (as Linux batches them), each starting 2^factor-aligned.
 */
static void set_packing(struct nvc_dev *d, const struct rndis_initialize_complete *c)
{
	d->max_pkts = 1;
	d->pkt_align = 8;
	if (c->max_pkt_per_msg > 1 && c->pkt_alignment_factor <= 12) {
		d->max_pkts = c->max_pkt_per_msg;
		d->pkt_align = 1u << c->pkt_alignment_factor;
	}
}

static int rndis_init(struct nvc_dev *d)
{
	struct rndis_initialize_request in = {
	    .req_id = next_id(d),
	    .major_ver = RNDIS_MAJOR_VERSION,
	    .minor_ver = RNDIS_MINOR_VERSION,
	    .max_xfer_size = 0x4000,
	};
	uint8_t buf[64];
	struct vmb_rndis_msg m;
	struct vmb_rndis_resp r;
	int len = vmb_rndis_build(buf, sizeof(buf), RNDIS_MSG_INIT, &in, sizeof(in), NULL, 0);
	int rc = netvsc_rndis_request(d, buf, (uint32_t)len, in.req_id);

	if (rc == 0 && (vmb_rndis_parse_hdr(d->resp, d->resp_len, &m) < 0 ||
			vmb_rndis_parse_response(&m, &r) < 0 || r.type != RNDIS_MSG_INIT_C ||
			r.status != RNDIS_STATUS_SUCCESS))
		rc = -EPROTO;
	if (rc == 0)
		set_packing(d, &r.init);
	return rc;
}

/* QUERY or SET oid; a QUERY copies up to *len bytes of the answer to info. */
static int rndis_oid(struct nvc_dev *d, uint32_t type, uint32_t oid, void *info, uint32_t *len)
{
	uint8_t buf[128];
	uint32_t id = next_id(d);
	struct vmb_rndis_msg m;
	struct vmb_rndis_resp r;
	int n = vmb_rndis_build_query(buf, sizeof(buf), type, id, oid, info,
				      type == RNDIS_MSG_SET ? *len : 0);
	int rc = n < 0 ? n : netvsc_rndis_request(d, buf, (uint32_t)n, id);

	if (rc < 0)
		return rc;
	if (vmb_rndis_parse_hdr(d->resp, d->resp_len, &m) < 0 ||
	    vmb_rndis_parse_response(&m, &r) < 0 || r.type != (type | RNDIS_MSG_COMPLETION))
		return -EPROTO;
	if (r.status != RNDIS_STATUS_SUCCESS)
		return -EOPNOTSUPP;
	if (type == RNDIS_MSG_QUERY) {
		if (r.info_len < *len)
			return -EPROTO;
		memcpy(info, r.info, *len);
	}
	return 0;
}

static int query_device(struct nvc_dev *d)
{
	uint32_t len = sizeof(d->mac), v = 0;
	int rc = rndis_oid(d, RNDIS_MSG_QUERY, RNDIS_OID_802_3_PERMANENT_ADDRESS, d->mac, &len);

	if (rc < 0)
		return rc;
	len = sizeof(v);
	if (rndis_oid(d, RNDIS_MSG_QUERY, RNDIS_OID_GEN_MEDIA_CONNECT_STATUS, &v, &len) == 0)
		d->link_up = v == RNDIS_MEDIA_STATE_CONNECTED;
	return 0;
}

static int set_filter(struct nvc_dev *d)
{
	uint32_t f =
	    NDIS_PACKET_TYPE_DIRECTED | NDIS_PACKET_TYPE_ALL_MULTICAST | NDIS_PACKET_TYPE_BROADCAST;
	uint32_t len = sizeof(f);

	return rndis_oid(d, RNDIS_MSG_SET, RNDIS_OID_GEN_CURRENT_PACKET_FILTER, &f, &len);
}

/* Before the channel opens: its handler thread uses the descriptor. */
static int open_tap(struct nvc_dev *d)
{
	memcpy(d->tap_name, d->nv->tap, sizeof(d->tap_name));
	d->tapw.fd = vmb_tap_open(d->tap_name);
	d->tap_fd = d->tapw.fd;
	return d->tap_fd < 0 ? d->tap_fd : 0;
}

/* The guest NIC's address is the one the host gave it. */
static void configure_tap(struct nvc_dev *d)
{
	const char *name = d->tap_name;

	if (vmb_tap_set_mac(name, d->mac) < 0 || vmb_tap_up(name) < 0)
		vmb_guest_log(d->nv->g, "netvsc: cannot configure %s", name);
}

static int bring_up(struct nvc_dev *d)
{
	int rc = negotiate(d);

	if (rc == 0)
		rc = send_ndis(d);
	if (rc == 0)
		rc = setup_rbuf(d);
	if (rc == 0)
		rc = setup_sbuf(d);
	if (rc == 0)
		rc = rndis_init(d);
	if (rc == 0)
		rc = query_device(d);
	if (rc == 0) {
		configure_tap(d);
		rc = netvsc_tx_start(d);
	}
	if (rc == 0)
		rc = set_filter(d);
	return rc;
}

static void revoke_buf(struct nvc_dev *d, uint32_t type, uint16_t id)
{
	struct nvsp_message m = {.msg_type = type};

	m.revoke.id = id;
	vmb_chan_send(d->ch, &m, d->msg_size, 0, VMB_SEND_NOWAIT);
}

static void nvc_free(struct nvc_dev *d)
{
	netvsc_tx_stop(d);
	if (d->ch && d->version) {
		if (d->rbuf_ok)
			revoke_buf(d, NVSP_MSG1_TYPE_REVOKE_RECV_BUF, NETVSC_RECEIVE_BUFFER_ID);
		if (d->sbuf_ok)
			revoke_buf(d, NVSP_MSG1_TYPE_REVOKE_SEND_BUF, NETVSC_SEND_BUFFER_ID);
	}
	if (d->rbuf_ok)
		vmb_device_gpadl_free(d->dev, d->rbuf_handle);
	if (d->sbuf_ok)
		vmb_device_gpadl_free(d->dev, d->sbuf_handle);
	if (d->ch)
		vmb_device_close(d->dev, d->ch);
	vmb_tap_writer_destroy(&d->tapw);
	if (d->tap_fd >= 0)
		close(d->tap_fd);
	if (d->ctl_page)
		vmb_guest_free_dma(d->nv->g, d->ctl_page, HV_PAGE_SIZE);
	close(d->stop_pipe[0]);
	close(d->stop_pipe[1]);
	pthread_mutex_destroy(&d->lock);
	pthread_cond_destroy(&d->cond);
	free(d);
}

static struct nvc_dev *nvc_alloc(struct vmb_netvsc *nv, struct vmb_device *dev)
{
	struct nvc_dev *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->nv = nv;
	d->dev = dev;
	d->tap_fd = -1;
	if (pipe2(d->stop_pipe, O_NONBLOCK | O_CLOEXEC) < 0) {
		free(d);
		return NULL;
	}
	vmb_tap_writer_init(&d->tapw, -1); /* opened by net_probe */
	pthread_mutex_init(&d->lock, NULL);
	pthread_cond_init(&d->cond, NULL);
	d->ctl_page = vmb_guest_alloc_dma(nv->g, HV_PAGE_SIZE, &d->ctl_pfn);
	if (!d->ctl_page) {
		nvc_free(d);
		return NULL;
	}
	return d;
}

static int net_probe(struct vmb_device *dev)
{
	struct vmb_netvsc *nv = vmb_device_driver(dev)->ctx;
	struct vmb_open_opts o = {
	    .send_ring = NETVSC_RING_BYTES,
	    .recv_ring = NETVSC_RING_BYTES,
	    .handler = netvsc_on_packet,
	    .copy_out = true,
	};
	struct nvc_dev *d;
	int rc;

	pthread_mutex_lock(&nv->lock);
	rc = nv->busy ? -EBUSY : 0;
	nv->busy = true;
	pthread_mutex_unlock(&nv->lock);
	if (rc < 0)
		return rc;
	d = nvc_alloc(nv, dev);
	rc = d ? open_tap(d) : -ENOMEM;
	if (rc == 0) {
		o.arg = d;
		rc = vmb_device_open(dev, &o, &d->ch);
	}
	if (rc == 0)
		rc = bring_up(d);
	pthread_mutex_lock(&nv->lock);
	if (rc == 0)
		nv->d = d;
	else
		nv->busy = false;
	pthread_cond_broadcast(&nv->cond);
	pthread_mutex_unlock(&nv->lock);
	if (rc < 0) {
		vmb_guest_log(nv->g, "netvsc: bring-up failed (%s)", strerror(-rc));
		if (d)
			nvc_free(d);
		return rc;
	}
	vmb_device_set_priv(dev, d);
	vmb_guest_log(nv->g, "netvsc: %s up, NVSP %#x, %02x:%02x:%02x:%02x:%02x:%02x", d->tap_name,
		      d->version, d->mac[0], d->mac[1], d->mac[2], d->mac[3], d->mac[4], d->mac[5]);
	return 0;
}

static void net_remove(struct vmb_device *dev)
{
	struct vmb_netvsc *nv = vmb_device_driver(dev)->ctx;
	struct nvc_dev *d = vmb_device_priv(dev);

	if (!d)
		return;
	pthread_mutex_lock(&nv->lock);
	nv->d = NULL;
	nv->busy = false;
	pthread_mutex_unlock(&nv->lock);
	vmb_device_set_priv(dev, NULL);
	nvc_free(d);
}

int vmb_net_guest_register(struct vmb_guest *g, const struct vmb_net_guest_config *cfg,
			   struct vmb_netvsc **out)
{
	struct vmb_netvsc *nv = calloc(1, sizeof(*nv));
	const char *tap = cfg && cfg->tap ? cfg->tap : "vmbguest%d";
	int rc;

	if (!nv)
		return -ENOMEM;
	if (strlen(tap) >= sizeof(nv->tap)) {
		free(nv);
		return -EINVAL;
	}
	memcpy(nv->tap, tap, strlen(tap) + 1);
	nv->g = g;
	nv->drv = (struct vmb_driver){
	    .name = "netvsc",
	    .class_id = VMB_GUID_NET,
	    .probe = net_probe,
	    .remove = net_remove,
	    .ctx = nv,
	};
	pthread_mutex_init(&nv->lock, NULL);
	pthread_cond_init(&nv->cond, NULL);
	rc = vmb_guest_register_driver(g, &nv->drv);
	if (rc < 0) {
		vmb_net_guest_free(nv);
		return rc;
	}
	*out = nv;
	return 0;
}

void vmb_net_guest_free(struct vmb_netvsc *nv)
{
	if (!nv)
		return;
	pthread_mutex_destroy(&nv->lock);
	pthread_cond_destroy(&nv->cond);
	free(nv);
}

int vmb_net_guest_wait(struct vmb_netvsc *nv, int timeout_ms)
{
	struct timespec dl;
	int rc = 0;

	vmb_deadline_after(&dl, CLOCK_REALTIME, timeout_ms);
	pthread_mutex_lock(&nv->lock);
	while (!nv->d && rc == 0)
		rc = pthread_cond_timedwait(&nv->cond, &nv->lock, &dl);
	pthread_mutex_unlock(&nv->lock);
	return rc ? -ETIMEDOUT : 0;
}

void vmb_net_guest_stats(struct vmb_netvsc *nv, struct vmb_net_stats *st)
{
	memset(st, 0, sizeof(*st));
	pthread_mutex_lock(&nv->lock);
	if (nv->d) {
		pthread_mutex_lock(&nv->d->lock);
		*st = nv->d->st;
		pthread_mutex_unlock(&nv->d->lock);
	}
	pthread_mutex_unlock(&nv->lock);
}
