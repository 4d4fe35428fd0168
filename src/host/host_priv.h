/* Host runtime internals shared by host.c, host_chan.c and host_dev.c. */
#ifndef VMB_HOST_PRIV_H
#define VMB_HOST_PRIV_H

#include <pthread.h>
#include <stdint.h>

#include "vmbus/host.h"
#include "util/loglimit.h"
#include "vmbus/trace.h"

#define VMB_MAX_SUBCHANNELS 64

struct vmb_vsp {
	struct vmb_host *h;
	struct vmb_vsp_desc d;
	/* Offered channels by sub-channel index; NULL once released. */
	struct vmb_server_channel *chans[VMB_MAX_SUBCHANNELS + 1];
	unsigned nsubs; /* sub-channels offered so far */
	bool removing;
	struct vmb_vsp *next;
};

/* One open channel: the rings mapped into the host and the chan end. */
struct host_chan {
	struct vmb_host *h;
	struct vmb_vsp *v;
	uint16_t sub;
	uint32_t relid;
	uint32_t conn_id;
	uint32_t event_flag;
	bool own_port; /* a port of its own (not the 0.13 shared one) */
	uint32_t vp; /* _Atomic by use: written on retarget, read by senders */
	struct vmb_mapping in_map;  /* G->H ring: we read it */
	struct vmb_mapping out_map; /* H->G ring: we write it */
	struct vmb_channel *ch;
	uint64_t last_needless;
	uint64_t window_start_ns;
	uint64_t window_needless;
	uint64_t throttled_until_ns;
};

#define VMB_HOST_MAX_CTL 64

struct vmb_ctl_cmd {
	const char *name, *help;
	vmb_ctl_fn fn;
	void *ctx;
};

struct vmb_host {
	struct vmb_host_config cfg;
	struct vmb_host_part *part;
	struct vmb_server *srv;
	struct vmb_trace *trace;
	/* Serialises the server, the device list and channel dispatch. */
	pthread_mutex_t lock;
	struct vmb_vsp *vsps;
	uint64_t needless_signals;
	uint64_t throttled;
	unsigned nthrottled; /* channels paused right now */
	struct vmb_loglimit log; /* vmb_host_log rate limit */
	/* `vmbus ctl` commands and their socket */
	struct vmb_ctl_cmd ctl[VMB_HOST_MAX_CTL];
	unsigned nctl;
	int ctl_fd;
	char *ctl_path;
	pthread_t ctl_thread;
};

extern const struct vmb_server_ops vmb_host_server_ops;

uint32_t vmb_host_chan_open(struct vmb_host *h, struct vmb_server_channel *sch,
			    const struct vmb_open_params *p);
void vmb_host_chan_close(struct vmb_host *h, struct vmb_server_channel *sch);
void vmb_host_chan_catch_up(struct vmb_host *h);
void vmb_host_chan_connected(struct vmb_host *h, uint32_t version);
void vmb_host_vsp_free(struct vmb_vsp *v);
void vmb_host_vsp_released(struct vmb_host *h, struct vmb_server_channel *sch);
uint64_t vmb_host_now_ns(void);
void vmb_host_ctl_init(struct vmb_host *h);
void vmb_host_ctl_fini(struct vmb_host *h);
void vmb_host_clock_ctl_init(struct vmb_host *h); /* host_clock.c */

#endif
