/*
 * Time sync IC. The host sends its wall clock (100 ns since 1601) with a
 * SYNC flag once the channel is up, then a SAMPLE every period. From 4.0
 * on a sample also carries the guest reference counter read when the host
 * sampled its clock, so the guest can account for delivery latency.
 *
 * The reference counter is the partition's (TIME_REF_COUNT, the reference
 * TSC page): the host reads it when it samples its clock, the guest when
 * the sample arrives. The guest never touches the machine's clock; it
 * keeps an offset.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/ic.h"

static const struct ic_version ts_msg_versions[] = {{4, 0}, {3, 0}, {1, 0}};

#define TS_OLD_BODY	    28u		 /* OpenVMM pads the 25-byte form */
#define TS_MAX_TIME	    (1ull << 62) /* sanity bound for peer times */
#define TS_REPLY_TIMEOUT_MS 5000

static uint64_t ts_100ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 10000000u + (uint64_t)ts.tv_nsec / 100u;
}

uint64_t vmb_ts_wall_now(void)
{
	return ts_100ns(CLOCK_REALTIME) + VMB_WLTIMEDELTA;
}

/* ---- host ---- */

struct vmb_ts_host {
	struct vmb_ic_host *ic;
	uint64_t samples;
	bool synced; /* the SYNC sample of this channel was acknowledged */
};

static void ts_done(void *arg, struct vmb_ic_host *ic, int err, const struct vmb_ic_msg *m)
{
	struct vmb_ts_host *th = arg;

	if (err == 0 && m->hdr.status == HV_S_OK) {
		__atomic_add_fetch(&th->samples, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&th->synced, true, __ATOMIC_RELEASE);
	} else if (err != -ECANCELED) {
		vmb_host_log(vmb_ic_host_host(ic), "timesync: sample not acknowledged (%s)",
			     err ? strerror(-err) : "guest failure status");
	}
}

static void ts_send(struct vmb_ts_host *th, struct vmb_ic_host *ic, uint8_t flags)
{
	struct ic_version fw, mv;

	if (!vmb_ic_host_versions(ic, &fw, &mv))
		return;
	if (mv.major >= 4) {
		struct ictimesync_ref_data d = {.flags = flags};

		d.vmreferencetime = vmb_host_ref_time(vmb_ic_host_host(ic));
		d.parenttime = vmb_ts_wall_now();
		vmb_ic_host_request(ic, &d, VMB_TS_REF_BODY, TS_REPLY_TIMEOUT_MS, ts_done, th);
	} else {
		struct ictimesync_data d = {.flags = flags};

		d.parenttime = vmb_ts_wall_now();
		vmb_ic_host_request(ic, &d, TS_OLD_BODY, TS_REPLY_TIMEOUT_MS, ts_done, th);
	}
}

static void ts_ready(void *ctx, struct vmb_ic_host *ic, int err)
{
	struct vmb_ts_host *th = ctx;

	__atomic_store_n(&th->synced, false, __ATOMIC_RELEASE);
	if (err == 0)
		ts_send(th, ic, ICTIMESYNCFLAG_SYNC);
}

static void ts_tick(void *ctx, struct vmb_ic_host *ic, uint64_t now)
{
	struct vmb_ts_host *th = ctx;
	bool synced = __atomic_load_n(&th->synced, __ATOMIC_ACQUIRE);

	(void)now;
	/* Until a SYNC got through (e.g. the first one timed out), keep sending SYNC. */
	ts_send(th, ic, synced ? ICTIMESYNCFLAG_SAMPLE : ICTIMESYNCFLAG_SYNC);
}

static void ts_host_release(void *ctx)
{
	free(ctx);
}

int vmb_ts_host_add(struct vmb_host *h, const struct vmb_ts_host_config *cfg,
		    struct vmb_ts_host **out)
{
	struct vmb_ts_host *th = calloc(1, sizeof(*th));
	struct vmb_ic_host_service s = {
	    .name = "timesync",
	    .msgtype = ICMSGTYPE_TIMESYNC,
	    .class_id = VMB_GUID_TIMESYNC,
	    .instance_id = VMB_GUID_TIMESYNC_INSTANCE,
	    .fw_versions = vmb_ic_fw_versions,
	    .nfw = 2,
	    .msg_versions = ts_msg_versions,
	    .nmsg = 3,
	    .tick = ts_tick,
	    .ready = ts_ready,
	    .release = ts_host_release,
	};
	int rc;

	if (!th)
		return -ENOMEM;
	s.tick_ms = cfg && cfg->period_ms ? cfg->period_ms : 5000;
	s.ctx = th;
	rc = vmb_ic_host_add(h, &s, &th->ic);
	if (rc < 0) {
		free(th);
		return rc;
	}
	if (out)
		*out = th;
	return 0;
}

uint64_t vmb_ts_host_samples(struct vmb_ts_host *th)
{
	return __atomic_load_n(&th->samples, __ATOMIC_RELAXED);
}

/* ---- guest ---- */

int vmb_ts_parse_sample(const uint8_t *body, uint32_t body_len, struct ic_version msgver,
			uint64_t ref_now, uint64_t guest_wall_now, struct vmb_ts_sample *out)
{
	uint64_t parent, host_now;

	if (msgver.major >= 4) {
		struct ictimesync_ref_data d;

		if (body_len < VMB_TS_REF_MIN_BODY)
			return -EBADMSG;
		memset(&d, 0, sizeof(d));
		memcpy(&d, body, body_len < sizeof(d) ? body_len : sizeof(d));
		if (d.parenttime >= TS_MAX_TIME || d.vmreferencetime >= TS_MAX_TIME ||
		    ref_now >= TS_MAX_TIME)
			return -EBADMSG;
		parent = d.parenttime;
		/* Signed: a reference time "in the future" must not wrap. */
		host_now =
		    (uint64_t)((int64_t)parent + ((int64_t)ref_now - (int64_t)d.vmreferencetime));
		out->flags = d.flags;
		out->v4 = true;
	} else {
		struct ictimesync_data d;

		if (body_len < VMB_TS_OLD_MIN_BODY)
			return -EBADMSG;
		memset(&d, 0, sizeof(d));
		memcpy(&d, body, body_len < sizeof(d) ? body_len : sizeof(d));
		if (d.parenttime >= TS_MAX_TIME)
			return -EBADMSG;
		host_now = d.parenttime;
		out->flags = d.flags;
		out->v4 = false;
	}
	if (guest_wall_now >= TS_MAX_TIME || host_now >= TS_MAX_TIME)
		return -EBADMSG;
	out->offset = (int64_t)host_now - (int64_t)guest_wall_now;
	return 0;
}

struct vmb_ts_guest {
	struct vmb_driver drv;
	struct vmb_ic_guest_service svc;
	struct vmb_guest *g;
	char *state_path;
	pthread_mutex_t lock;
	struct vmb_ts_status st;
};

/* Write atomically so a reader never sees half a line. */
static void ts_write_state(struct vmb_ts_guest *tg, const struct vmb_ts_status *st)
{
	char tmp[4200];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", tg->state_path);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f, "%" PRId64 " %" PRIu64 " %u\n", st->offset_ns, st->samples, st->last_flags);
	if (fclose(f) == 0)
		rename(tmp, tg->state_path);
}

static int ts_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_ts_guest *tg = ctx;
	struct vmb_ts_sample s;
	struct vmb_ts_status st;
	int rc;

	(void)ic;
	rc = vmb_ts_parse_sample(m->body, m->body_len, m->hdr.icvermsg, vmb_guest_ref_time(tg->g),
				 vmb_ts_wall_now(), &s);
	if (rc < 0) {
		vmb_guest_log(tg->g, "timesync: malformed sample (%u bytes) rejected", m->body_len);
		*status = HV_E_FAIL;
		return VMB_IC_REPLY;
	}
	pthread_mutex_lock(&tg->lock);
	tg->st.offset_ns = s.offset * 100;
	tg->st.samples++;
	tg->st.last_flags = s.flags;
	st = tg->st;
	pthread_mutex_unlock(&tg->lock);
	if (s.flags & ICTIMESYNCFLAG_SYNC)
		vmb_guest_log(tg->g, "timesync: host clock sync, offset %" PRId64 " ns",
			      st.offset_ns);
	if (tg->state_path)
		ts_write_state(tg, &st);
	*status = HV_S_OK;
	return VMB_IC_REPLY;
}

static int ts_probe(struct vmb_device *dev)
{
	struct vmb_ts_guest *tg = vmb_device_driver(dev)->ctx;
	struct vmb_ic_guest *ic;
	int rc = vmb_ic_guest_open(dev, &tg->svc, &ic);

	if (rc == 0)
		vmb_device_set_priv(dev, ic);
	return rc;
}

static void ts_remove(struct vmb_device *dev)
{
	vmb_ic_guest_close(vmb_device_priv(dev));
}

int vmb_ts_guest_register(struct vmb_guest *g, const struct vmb_ts_guest_config *cfg,
			  struct vmb_ts_guest **out)
{
	struct vmb_ts_guest *tg = calloc(1, sizeof(*tg));
	int rc;

	if (!tg)
		return -ENOMEM;
	tg->g = g;
	if (cfg && cfg->state_path && !(tg->state_path = strdup(cfg->state_path))) {
		free(tg);
		return -ENOMEM;
	}
	pthread_mutex_init(&tg->lock, NULL);
	tg->svc = (struct vmb_ic_guest_service){
	    .name = "timesync",
	    .msgtype = ICMSGTYPE_TIMESYNC,
	    .fw_versions = vmb_ic_fw_versions,
	    .nfw = 2,
	    .msg_versions = ts_msg_versions,
	    .nmsg = 3,
	    .request = ts_request,
	    .ctx = tg,
	};
	tg->drv = (struct vmb_driver){
	    .name = "hv_timesync",
	    .class_id = VMB_GUID_TIMESYNC,
	    .probe = ts_probe,
	    .remove = ts_remove,
	    .ctx = tg,
	};
	rc = vmb_guest_register_driver(g, &tg->drv);
	if (rc < 0) {
		vmb_ts_guest_free(tg);
		return rc;
	}
	*out = tg;
	return 0;
}

void vmb_ts_guest_free(struct vmb_ts_guest *tg)
{
	if (!tg)
		return;
	pthread_mutex_destroy(&tg->lock);
	free(tg->state_path);
	free(tg);
}

void vmb_ts_guest_status(struct vmb_ts_guest *tg, struct vmb_ts_status *st)
{
	pthread_mutex_lock(&tg->lock);
	*st = tg->st;
	pthread_mutex_unlock(&tg->lock);
}

int vmb_ts_guest_realtime(struct vmb_ts_guest *tg, struct timespec *ts)
{
	int64_t off, ns;

	pthread_mutex_lock(&tg->lock);
	off = tg->st.samples ? tg->st.offset_ns : 0;
	pthread_mutex_unlock(&tg->lock);
	if (clock_gettime(CLOCK_REALTIME, ts) < 0)
		return -errno;
	ns = (int64_t)ts->tv_nsec + off % 1000000000;
	ts->tv_sec += (time_t)(off / 1000000000 + ns / 1000000000);
	ns %= 1000000000;
	if (ns < 0) {
		ns += 1000000000;
		ts->tv_sec--;
	}
	ts->tv_nsec = (long)ns;
	return 0;
}
