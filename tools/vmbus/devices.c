/* The default VM: every device we have, host side and guest side. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "devices.h"
#include "vmbus.h"
#include "vmbus/dev/balloon.h"
#include "vmbus/dev/ic.h"
#include "vmbus/dev/ic_services.h"
#include "vmbus/dev/net.h"
#include "vmbus/dev/pci.h"
#include "vmbus/dev/input.h"
#include "vmbus/dev/storage.h"
#include "vmbus/dev/storvsc.h"
#include "vmbus/dev/test.h"
#include "vmbus/dev/video.h"

const char *vm_opt(const struct vm_opts *o, const char *key, const char *def)
{
	size_t klen = strlen(key);

	/* The last occurrence wins, like repeated command-line options. */
	for (unsigned i = o->n; i-- > 0;)
		if (!strncmp(o->kv[i], key, klen) && o->kv[i][klen] == '=')
			return o->kv[i] + klen + 1;
	return def;
}

const char *vm_run_dir(const struct vm_opts *o, char *buf, size_t len)
{
	const char *dir = vm_opt(o, "run_dir", NULL);

	if (dir)
		snprintf(buf, len, "%s", dir);
	else
		tool_run_dir(NULL, buf, len);
	tool_mkdirs(buf);
	return buf;
}

int vm_opt_add(struct vm_opts *o, const char *kv)
{
	if (!strchr(kv, '=') || o->n == VM_MAX_OPTS)
		return -EINVAL;
	o->kv[o->n++] = kv;
	return 0;
}

/* ---- test device: test.count=N (default 1), test.traffic=1 ---- */

/* Instance GUID of the n-th test device: fixed so it is stable across runs. */
static struct vmb_guid test_instance(unsigned n)
{
	struct vmb_guid g = VMB_GUID_INIT(0x7e570000, 0x0001, 0x4000, 0x80, 0x00, 0, 0, 0, 0,
					  0, 0);

	g.b[0] = (uint8_t)n;
	g.b[15] = (uint8_t)n;
	return g;
}

static int test_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	unsigned n = (unsigned)strtoul(vm_opt(o, "test.count", "1"), NULL, 0);
	int rc = 0;

	for (unsigned i = 0; i < n && rc == 0; i++) {
		struct vmb_guid inst = test_instance(i);
		struct vmb_test_vsp *t;

		rc = vmb_test_vsp_add(h, &inst, &t);
	}
	return rc;
}

static int test_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_test_guest *tg;
	int rc = vmb_test_guest_register(g, &tg);

	if (rc < 0)
		return rc;
	if (!strcmp(vm_opt(o, "test.traffic", "0"), "1"))
		vmb_test_guest_traffic(tg, true);
	*state = tg;
	return 0;
}

static void test_guest_stop(void *state)
{
	vmb_test_guest_traffic(state, false);
}

static void test_guest_free(void *state)
{
	vmb_test_guest_free(state);
}

/* ---- integration services: heartbeat, shutdown, time sync ---- */

static unsigned opt_uint(const struct vm_opts *o, const char *key, const char *def)
{
	return (unsigned)strtoul(vm_opt(o, key, def), NULL, 0);
}

static int ic_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	struct vmb_hb_host_config hc = {
		.period_ms = opt_uint(o, "heartbeat.period_ms", "1000"),
		.timeout_ms = opt_uint(o, "heartbeat.timeout_ms", "5000"),
	};
	struct vmb_ts_host_config tc = {.period_ms = opt_uint(o, "timesync.period_ms", "5000")};
	int rc = vmb_hb_host_add(h, &hc, NULL);

	if (rc == 0)
		rc = vmb_sd_host_add(h, NULL);
	if (rc == 0)
		rc = vmb_ts_host_add(h, &tc, NULL);
	return rc;
}

struct ic_guest_state {
	struct vmb_hb_guest *hb;
	struct vmb_sd_guest *sd;
	struct vmb_ts_guest *ts;
};

static int ic_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct ic_guest_state *s = calloc(1, sizeof(*s));
	struct vmb_sd_guest_config sc = {.allow = opt_uint(o, "shutdown.allow", "1") != 0};
	struct vmb_ts_guest_config tc = {.state_path = vm_opt(o, "timesync.state", NULL)};
	int rc;

	if (!s)
		return -ENOMEM;
	rc = vmb_hb_guest_register(g, &s->hb);
	if (rc == 0)
		rc = vmb_sd_guest_register(g, &sc, &s->sd);
	if (rc == 0)
		rc = vmb_ts_guest_register(g, &tc, &s->ts);
	*state = s;
	return rc;
}

static void ic_guest_stop(void *state)
{
	struct ic_guest_state *s = state;

	if (s->sd)
		vmb_sd_guest_stop(s->sd);
}

static void ic_guest_free(void *state)
{
	struct ic_guest_state *s = state;

	vmb_hb_guest_free(s->hb);
	vmb_sd_guest_free(s->sd);
	vmb_ts_guest_free(s->ts);
	free(s);
}

/* ---- KVP, VSS, fcopy: kvp.pool_dir, vss.freeze_cmd/thaw_cmd/timeout_ms, fcopy.root;
 * ic.fuse_dir (hv_kvp, hv_vss, hv_fcopy for the Linux daemons) or one of
 * kvp.fuse_dir, vss.fuse_dir, fcopy.fuse_dir ---- */

static int icb_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	int rc = vmb_kvp_host_add(h, NULL);

	(void)o;
	if (rc == 0)
		rc = vmb_vss_host_add(h, NULL);
	if (rc == 0)
		rc = vmb_fcopy_host_add(h, NULL);
	return rc;
}

struct icb_guest_state {
	struct vmb_kvp_guest *kvp;
	struct vmb_vss_guest *vss;
	struct vmb_fcopy_guest *fcopy;
};

/* Option key, else <run dir>/sub (never a system directory unless asked). */
static const char *icb_dir(const struct vm_opts *o, const char *key, const char *sub, char *buf,
			   size_t len)
{
	char run[1024];
	const char *v = vm_opt(o, key, NULL);

	if (v)
		return v;
	vm_run_dir(o, run, sizeof(run));
	snprintf(buf, len, "%s/%s", run, sub);
	return buf;
}

static int icb_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct icb_guest_state *s = calloc(1, sizeof(*s));
	char pool[1100], root[1100];
	struct vmb_kvp_guest_config kc = {
		.pool_dir = icb_dir(o, "kvp.pool_dir", "kvp", pool, sizeof(pool)),
		.fuse_dir = vm_opt(o, "kvp.fuse_dir", vm_opt(o, "ic.fuse_dir", NULL))};
	struct vmb_vss_guest_config vc = {
		.freeze_cmd = vm_opt(o, "vss.freeze_cmd", NULL),
		.thaw_cmd = vm_opt(o, "vss.thaw_cmd", NULL),
		.timeout_ms = opt_uint(o, "vss.timeout_ms", "60000"),
		.fuse_dir = vm_opt(o, "vss.fuse_dir", vm_opt(o, "ic.fuse_dir", NULL)),
	};
	struct vmb_fcopy_guest_config fc = {
		.root = icb_dir(o, "fcopy.root", "fcopy", root, sizeof(root)),
		.fuse_dir = vm_opt(o, "fcopy.fuse_dir", vm_opt(o, "ic.fuse_dir", NULL))};
	int rc;

	if (!s)
		return -ENOMEM;
	rc = vmb_kvp_guest_register(g, &kc, &s->kvp);
	if (rc == 0)
		rc = vmb_vss_guest_register(g, &vc, &s->vss);
	if (rc == 0)
		rc = vmb_fcopy_guest_register(g, &fc, &s->fcopy);
	*state = s;
	return rc;
}

static void icb_guest_stop(void *state)
{
	struct icb_guest_state *s = state;

	vmb_vss_guest_stop(s->vss);
}

static void icb_guest_free(void *state)
{
	struct icb_guest_state *s = state;

	vmb_kvp_guest_free(s->kvp);
	vmb_vss_guest_free(s->vss);
	vmb_fcopy_guest_free(s->fcopy);
	free(s);
}

/*
 * ---- storage, host half: one SCSI controller. storage.disk=PATH[,size=N][,ro][,direct]
 * (default <run dir>/disk0.img, 1 GiB sparse; "none" = no disk), storage.channels=N
 * (sub-channels offered), storage.version=0x602 (newest protocol). ----
 */

static int storage_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	struct vmb_stor_config cfg = {
		.instance = VMB_GUID_INIT(0x5c5c0000, 0x0001, 0x4000, 0x80, 0, 0, 0, 0, 0, 0, 1),
		.max_subchannels = (unsigned)strtoul(vm_opt(o, "storage.channels", "0"), NULL, 0),
		.max_version = (uint16_t)strtoul(vm_opt(o, "storage.version", "0"), NULL, 0),
	};
	struct vmb_stor_disk_config d;
	struct vmb_stor_ctrl *c;
	char run[1024], spec[1200];
	const char *disk = vm_opt(o, "storage.disk", NULL);
	int rc;

	if (!disk) {
		vm_run_dir(o, run, sizeof(run));
		snprintf(spec, sizeof(spec), "%s/disk0.img,size=1G", run);
	} else {
		snprintf(spec, sizeof(spec), "%s", disk);
	}
	rc = vmb_stor_add(h, &cfg, &c);
	if (rc == 0)
		rc = vmb_stor_register_ctl(h, c);
	if (rc < 0 || !strcmp(spec, "none"))
		return rc;
	if (vmb_stor_parse_disk(spec, &d) < 0)
		return -EINVAL;
	rc = vmb_stor_lun_add(c, 0, &d);
	return rc < 0 ? rc : 0;
}

/* ---- storage, guest half: storage.fuse_dir=DIR exports each LUN as DIR/lun<N> ---- */

static int storage_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_stor_guest_config cfg = {.fuse_dir = vm_opt(o, "storage.fuse_dir", NULL)};

	return vmb_stor_guest_register(g, &cfg, (struct vmb_stor_guest **)state);
}

static void storage_guest_free(void *state)
{
	vmb_stor_guest_free(state);
}

/* ---- keyboard and mouse: input.log=PATH (one line per event), input.uinput=1,
 * input.leds=N (LED state the guest reports at probe) ---- */

static int input_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	struct vmb_kbd_vsp *k;
	struct vmb_mouse_vsp *m;
	int rc = vmb_kbd_vsp_add(h, &k);

	(void)o;
	if (rc == 0)
		rc = vmb_mouse_vsp_add(h, &m);
	if (rc == 0)
		rc = vmb_input_register_ctl(h, k, m);
	return rc;
}

static int input_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_input_guest_config c = {
		.log_path = vm_opt(o, "input.log", NULL),
		.uinput = !strcmp(vm_opt(o, "input.uinput", "0"), "1"),
		.leds = (int)strtol(vm_opt(o, "input.leds", "-1"), NULL, 0),
	};

	return vmb_input_guest_register(g, &c, (struct vmb_input_guest **)state);
}

static void input_guest_free(void *state)
{
	vmb_input_guest_free(state);
}

/*
 * ---- network: net.enable=0 turns the NIC off; net.tap=NAME (host TAP, default vmbtap%d:
 * the kernel picks the number), net.guest_tap=NAME (guest TAP, default vmbguest%d),
 * net.mac=xx:xx:xx:xx:xx:xx ----
 */

static bool net_enabled(const struct vm_opts *o)
{
	return strcmp(vm_opt(o, "net.enable", "1"), "0") != 0 && vmb_net_available() == 0;
}

static int net_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	struct vmb_net_host_config cfg = {
		.instance = VMB_GUID_INIT(0x4e450000, 0x0001, 0x4000, 0x80, 0, 0, 0, 0, 0, 0, 1),
		.tap = vm_opt(o, "net.tap", "vmbtap%d"),
	};
	const char *mac = vm_opt(o, "net.mac", NULL);
	struct vmb_netvsp *n;

	if (!net_enabled(o)) {
		if (strcmp(vm_opt(o, "net.enable", "1"), "0") != 0)
			vmb_host_log(h, "net: no TAP support (/dev/net/tun), NIC not offered");
		return 0;
	}
	if (mac && sscanf(mac, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &cfg.mac[0], &cfg.mac[1],
			  &cfg.mac[2], &cfg.mac[3], &cfg.mac[4], &cfg.mac[5]) != 6)
		return -EINVAL;
	/* A TAP of that name in use (another VM): this VM runs without a NIC. */
	if (vmb_net_host_add(h, &cfg, &n) < 0)
		vmb_host_log(h, "net: cannot open TAP %s, NIC not offered", cfg.tap);
	return 0;
}

static int net_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_net_guest_config cfg = {.tap = vm_opt(o, "net.guest_tap", "vmbguest%d")};

	if (!net_enabled(o))
		return 0;
	return vmb_net_guest_register(g, &cfg, (struct vmb_netvsc **)state);
}

static void net_guest_free(void *state)
{
	vmb_net_guest_free(state);
}

/* ---- framebuffer (synthvid): video.vram_mb=8, video.width/height (guest mode,
 * 1024x768), video.pattern=1 (colour bars at probe) ---- */

static int video_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	struct vmb_synthvid_host_config c = {
		.vram_mb = (uint16_t)strtoul(vm_opt(o, "video.vram_mb", "8"), NULL, 0),
	};
	struct vmb_synthvid_vsp *v;
	int rc = vmb_synthvid_vsp_add(h, &c, &v);

	return rc < 0 ? rc : vmb_synthvid_register_ctl(h, v);
}

static int video_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_synthvid_guest_config c = {
		.width = (uint32_t)strtoul(vm_opt(o, "video.width", "1024"), NULL, 0),
		.height = (uint32_t)strtoul(vm_opt(o, "video.height", "768"), NULL, 0),
		.pattern = !strcmp(vm_opt(o, "video.pattern", "0"), "1"),
	};

	return vmb_synthvid_guest_register(g, &c, (struct vmb_synthvid_guest **)state);
}

static void video_guest_free(void *state)
{
	vmb_synthvid_guest_free(state);
}

/*
 * ---- pci: one VPCI bus with one emulated function (1b36:0005).
 * pci.enable=0 (no bus), pci.version=0x10004 (newest protocol on either end),
 * pci.host_version (the host's alone, to see the guest fall back),
 * pci.list=PATH (guest: lspci-style list of set-up functions). ----
 */

static int pci_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	struct vmb_pci_func_desc f;
	struct vmb_vpci_host_config cfg = {
		.max_version = (uint32_t)strtoul(
			vm_opt(o, "pci.host_version", vm_opt(o, "pci.version", "0")), NULL, 0),
		.funcs = &f,
		.nfuncs = 1,
	};

	if (!strcmp(vm_opt(o, "pci.enable", "1"), "0"))
		return 0;
	vmb_pci_func_default(&f, 0x1b36, 0x0005);
	return vmb_vpci_vsp_add(h, &cfg, NULL);
}

static int pci_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_vpci_guest_config cfg = {
		.max_version = (uint32_t)strtoul(vm_opt(o, "pci.version", "0"), NULL, 0),
		.list_path = vm_opt(o, "pci.list", NULL),
	};

	struct vmb_vpci_guest *vg;
	int rc = vmb_vpci_guest_register(g, &cfg, &vg);

	if (rc == 0)
		*state = vg;
	return rc;
}

static void pci_guest_free(void *state)
{
	vmb_vpci_guest_free(state);
}

/* ---- dynamic memory (balloon): balloon.max_version=2.0|1.0|0.3 (both ends),
 * balloon.timeout_ms, balloon.status_ms, balloon.reserve_pages, balloon.dirty=1 ---- */

static uint32_t balloon_version(const struct vm_opts *o)
{
	const char *v = vm_opt(o, "balloon.max_version", "2.0");
	char *end;
	unsigned long maj = strtoul(v, &end, 10), min = *end == '.' ? strtoul(end + 1, NULL, 10) : 0;

	return (uint32_t)((maj << 16) | min);
}

static int balloon_host_add(struct vmb_host *h, const struct vm_opts *o)
{
	struct vmb_balloon_host_config c = {
		.max_version = balloon_version(o),
		.timeout_ms = (int)strtol(vm_opt(o, "balloon.timeout_ms", "10000"), NULL, 0),
	};
	struct vmb_balloon_vsp *b;
	int rc = vmb_balloon_vsp_add(h, &c, &b);

	return rc < 0 ? rc : vmb_balloon_register_ctl(h, b);
}

static int balloon_guest_register(struct vmb_guest *g, const struct vm_opts *o, void **state)
{
	struct vmb_balloon_guest_config c = {
		.max_version = balloon_version(o),
		.status_ms = (int)strtol(vm_opt(o, "balloon.status_ms", "1000"), NULL, 0),
		.reserve_pages = strtoull(vm_opt(o, "balloon.reserve_pages", "2048"), NULL, 0),
		.dirty = !strcmp(vm_opt(o, "balloon.dirty", "0"), "1"),
	};

	return vmb_balloon_guest_register(g, &c, (struct vmb_balloon_guest **)state);
}

static void balloon_guest_free(void *state)
{
	vmb_balloon_guest_free(state);
}

const struct vm_device vm_devices[] = {
	{"storage", storage_host_add, storage_guest_register, NULL, storage_guest_free},
	{"net", net_host_add, net_guest_register, NULL, net_guest_free},
	{"test", test_host_add, test_guest_register, test_guest_stop, test_guest_free},
	{"ic", ic_host_add, ic_guest_register, ic_guest_stop, ic_guest_free},
	{"ic-kvp-vss-fcopy", icb_host_add, icb_guest_register, icb_guest_stop, icb_guest_free},
	{"input", input_host_add, input_guest_register, NULL, input_guest_free},
	{"video", video_host_add, video_guest_register, NULL, video_guest_free},
	{"balloon", balloon_host_add, balloon_guest_register, NULL, balloon_guest_free},
	{"pci", pci_host_add, pci_guest_register, NULL, pci_guest_free},
};
const unsigned vm_device_count = sizeof(vm_devices) / sizeof(vm_devices[0]);
