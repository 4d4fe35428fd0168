/*
 * A /sys/bus/vmbus-style tree under cfg.sysfs_dir, with Linux's file
 * names and formats:
 *
 *   devices/<instance>/{id,class_id,device_id,state,monitor_id,modalias,
 *                       channel_vp_mapping,driver}
 *   devices/<instance>/channels/<relid>/{cpu,in_mask,out_mask,...}
 *
 * Linux's driver entry is a symlink; here it is a file holding the name.
 * A thread of its own writes the tree: immediately after a change, and
 * every second for the ring-state files, which are therefore snapshots at
 * most one second old. Every file is replaced atomically (temp + rename).
 */
#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "guest/guest_priv.h"

struct sys_chan {
	uint32_t relid, vp;
	uint16_t index;
	uint8_t monitor_id;
	bool open;
	struct vmb_ring_state out, in;
	struct vmb_chan_stats st;
};

struct sys_dev {
	struct vmb_guid cls, inst;
	uint32_t relid;
	unsigned state;
	uint8_t monitor_id;
	char driver[64]; /* empty when unbound */
	unsigned nch;
	struct sys_chan *ch;
};

struct sys_snap {
	unsigned ndev;
	struct sys_dev *dev;
};

void vmb_sysfs_guid_braced(const struct vmb_guid *id, char *buf, size_t len)
{
	char s[VMB_GUID_STR_LEN];

	snprintf(buf, len, "{%s}", vmb_guid_str(id, s));
}

void vmb_sysfs_modalias(const struct vmb_guid *id, char *buf, size_t len)
{
	size_t n = (size_t)snprintf(buf, len, "vmbus:");

	for (unsigned i = 0; i < sizeof(id->b) && n + 2 < len; i++, n += 2)
		snprintf(buf + n, len - n, "%02x", id->b[i]);
}

/* Linux: CHANNEL_OFFER_STATE 0, CHANNEL_OPENING_STATE 1, CHANNEL_OPENED_STATE 3. */
unsigned vmb_sysfs_state(enum vmb_cli_chan_state st, bool open)
{
	if (open || st == VMB_CCH_OPEN)
		return 3;
	return st == VMB_CCH_OPENING ? 1 : 0;
}

/* ---- snapshot (g->lock held) --------------------------------------- */

static void snap_chan(struct vmb_gchan *gc, struct sys_chan *sc)
{
	sc->relid = gc->relid;
	sc->vp = gc->vp;
	sc->index = gc->index;
	sc->monitor_id = gc->monitor_id;
	sc->open = gc->ch != NULL;
	if (gc->ch) {
		vmb_chan_ring_state(gc->ch, &sc->out, &sc->in);
		vmb_chan_get_stats(gc->ch, &sc->st);
	}
}

static int snap_dev(struct vmb_device *d, struct sys_dev *sd)
{
	struct vmb_gchan *gc;
	unsigned n = 0;

	sd->cls = d->offer.if_type;
	sd->inst = d->offer.if_instance;
	sd->relid = d->offer.relid;
	sd->monitor_id = d->offer.monitor_id;
	sd->state = d->chans->cc
			? vmb_sysfs_state(vmb_cli_chan_state(d->chans->cc), d->chans->ch != NULL)
			: 0;
	if (d->bound)
		snprintf(sd->driver, sizeof(sd->driver), "%s", d->drv->name);
	for (gc = d->chans; gc; gc = gc->next)
		n += gc->cc != NULL;
	sd->ch = calloc(n ? n : 1, sizeof(*sd->ch));
	if (!sd->ch)
		return -ENOMEM;
	for (gc = d->chans; gc; gc = gc->next)
		if (gc->cc)
			snap_chan(gc, &sd->ch[sd->nch++]);
	return 0;
}

static void snap_free(struct sys_snap *s)
{
	for (unsigned i = 0; i < s->ndev; i++)
		free(s->dev[i].ch);
	free(s->dev);
	s->dev = NULL;
	s->ndev = 0;
}

static int snap_take(struct vmb_guest *g, struct sys_snap *s)
{
	unsigned n = 0;

	for (struct vmb_device *d = g->devs; d; d = d->next)
		n += !d->removing;
	s->ndev = 0;
	s->dev = calloc(n ? n : 1, sizeof(*s->dev));
	if (!s->dev)
		return -ENOMEM;
	for (struct vmb_device *d = g->devs; d; d = d->next) {
		if (d->removing)
			continue;
		if (snap_dev(d, &s->dev[s->ndev++])) {
			snap_free(s);
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- writing ------------------------------------------------------- */

static void put_file(const char *dir, const char *name, const char *text)
{
	char path[4096], tmp[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	snprintf(tmp, sizeof(tmp), "%s/.%s.tmp", dir, name);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fputs(text, f);
	if (fclose(f) == 0)
		rename(tmp, path);
	else
		unlink(tmp);
}

static void put_u32(const char *dir, const char *name, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu\n", (unsigned long long)v);
	put_file(dir, name, buf);
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void rm_tree(const char *path)
{
	nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static void write_chan(const char *devdir, const struct sys_chan *c)
{
	char dir[4096 + 32];

	snprintf(dir, sizeof(dir), "%s/channels/%u", devdir, c->relid);
	mkdir(dir, 0755);
	put_u32(dir, "cpu", c->vp);
	put_u32(dir, "in_mask", c->in.interrupt_mask);
	put_u32(dir, "out_mask", c->out.interrupt_mask);
	put_u32(dir, "in_read_index", c->in.read_index);
	put_u32(dir, "in_write_index", c->in.write_index);
	put_u32(dir, "out_read_index", c->out.read_index);
	put_u32(dir, "out_write_index", c->out.write_index);
	put_u32(dir, "read_avail", c->in.avail_read);
	put_u32(dir, "write_avail", c->out.avail_write);
	put_u32(dir, "events", c->st.signals_sent);
	put_u32(dir, "interrupts", c->st.interrupts);
	put_u32(dir, "subchannel_id", c->index);
	put_u32(dir, "monitor_id", c->monitor_id);
}

static bool has_chan(const struct sys_dev *d, const char *name)
{
	char buf[16];

	for (unsigned i = 0; i < d->nch; i++) {
		snprintf(buf, sizeof(buf), "%u", d->ch[i].relid);
		if (!strcmp(buf, name))
			return true;
	}
	return false;
}

/* Released sub-channels lose their directory. */
static void prune_chans(const char *devdir, const struct sys_dev *d)
{
	char dir[4096 + 16], path[4096 + 16 + 256];
	struct dirent *e;
	DIR *dp;

	snprintf(dir, sizeof(dir), "%s/channels", devdir);
	dp = opendir(dir);
	if (!dp)
		return;
	while ((e = readdir(dp))) {
		if (e->d_name[0] == '.' || has_chan(d, e->d_name))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		rm_tree(path);
	}
	closedir(dp);
}

static void write_dev_attrs(const char *dir, const struct sys_dev *d)
{
	char buf[4096];
	size_t n = 0;

	put_u32(dir, "id", d->relid);
	vmb_sysfs_guid_braced(&d->cls, buf, sizeof(buf) - 1);
	strcat(buf, "\n");
	put_file(dir, "class_id", buf);
	vmb_sysfs_guid_braced(&d->inst, buf, sizeof(buf) - 1);
	strcat(buf, "\n");
	put_file(dir, "device_id", buf);
	put_u32(dir, "state", d->state);
	put_u32(dir, "monitor_id", d->monitor_id);
	vmb_sysfs_modalias(&d->cls, buf, sizeof(buf) - 1);
	strcat(buf, "\n");
	put_file(dir, "modalias", buf);
	buf[0] = '\0';
	for (unsigned i = 0; i < d->nch && n < sizeof(buf) - 32; i++)
		if (d->ch[i].open)
			n += (size_t)snprintf(buf + n, sizeof(buf) - n, "%u:%u\n", d->ch[i].relid,
					      d->ch[i].vp);
	put_file(dir, "channel_vp_mapping", buf);
	if (d->driver[0]) {
		snprintf(buf, sizeof(buf), "%s\n", d->driver);
		put_file(dir, "driver", buf);
	} else {
		char path[4096 + 16];

		snprintf(path, sizeof(path), "%s/driver", dir);
		unlink(path);
	}
}

static void write_dev(const char *root, const struct sys_dev *d, bool full)
{
	char dir[4096], sub[4096 + 16], s[VMB_GUID_STR_LEN];

	snprintf(dir, sizeof(dir), "%s/devices/%s", root, vmb_guid_str(&d->inst, s));
	if (full) {
		mkdir(dir, 0755);
		snprintf(sub, sizeof(sub), "%s/channels", dir);
		mkdir(sub, 0755);
		write_dev_attrs(dir, d);
		prune_chans(dir, d);
	}
	for (unsigned i = 0; i < d->nch; i++)
		write_chan(dir, &d->ch[i]);
}

static void write_tree(struct vmb_guest *g, bool full)
{
	struct sys_snap s;
	int rc;

	pthread_mutex_lock(&g->lock);
	rc = snap_take(g, &s);
	pthread_mutex_unlock(&g->lock);
	if (rc)
		return;
	for (unsigned i = 0; i < s.ndev; i++)
		write_dev(g->cfg.sysfs_dir, &s.dev[i], full);
	snap_free(&s);
}

static void make_root(const char *root)
{
	char dir[4096];

	mkdir(root, 0755);
	snprintf(dir, sizeof(dir), "%s/devices", root);
	mkdir(dir, 0755);
}

void *vmb_guest_sysfs_main(void *arg)
{
	struct vmb_guest *g = arg;
	struct timespec dl;
	bool full;

	make_root(g->cfg.sysfs_dir);
	pthread_mutex_lock(&g->lock);
	while (!g->sysfs_stop) {
		clock_gettime(CLOCK_MONOTONIC, &dl);
		dl.tv_sec += 1;
		while (!g->sysfs_dirty && !g->sysfs_stop)
			if (pthread_cond_timedwait(&g->sysfs_cond, &g->lock, &dl) == ETIMEDOUT)
				break;
		if (g->sysfs_stop)
			break;
		full = g->sysfs_dirty;
		g->sysfs_dirty = false;
		pthread_mutex_unlock(&g->lock);
		pthread_mutex_lock(&g->sysfs_lock);
		write_tree(g, full);
		pthread_mutex_unlock(&g->sysfs_lock);
		pthread_mutex_lock(&g->lock);
	}
	pthread_mutex_unlock(&g->lock);
	return NULL;
}

/* g->lock held. */
void vmb_guest_sysfs_kick(struct vmb_guest *g)
{
	g->sysfs_dirty = true;
	pthread_cond_signal(&g->sysfs_cond);
}

/* The device is off g->devs: no snapshot taken from now on includes it. */
void vmb_guest_sysfs_remove_dev(struct vmb_guest *g, const struct vmb_device *dev)
{
	char dir[4096], s[VMB_GUID_STR_LEN];

	if (!g->cfg.sysfs_dir)
		return;
	snprintf(dir, sizeof(dir), "%s/devices/%s", g->cfg.sysfs_dir,
		 vmb_guid_str(&dev->offer.if_instance, s));
	pthread_mutex_lock(&g->sysfs_lock);
	rm_tree(dir);
	pthread_mutex_unlock(&g->sysfs_lock);
}
