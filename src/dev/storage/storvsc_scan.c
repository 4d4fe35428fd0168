/*
 * LUN discovery: REPORT LUNS on each target, READ CAPACITY for every LUN
 * found, and the difference against what we knew becomes add/remove
 * events (hot add and remove arrive as a bus-change packet and a rescan).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dev/storage/storvsc_priv.h"

#define REPORT_LUNS_BYTES 4096u
#define SCSI_REPORT_LUNS  0xA0
#define SCSI_READ_CAP10	  0x25
#define SCSI_SVC_IN_16	  0x9E
#define SAI_READ_CAP16	  0x10
#define RC16_LBPME	  0x80
#define RC16_LBPRZ	  0x40

void stor_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

void stor_put_be32(uint8_t *p, uint32_t v)
{
	stor_put_be16(p, (uint16_t)(v >> 16));
	stor_put_be16(p + 2, (uint16_t)v);
}

void stor_put_be64(uint8_t *p, uint64_t v)
{
	stor_put_be32(p, (uint32_t)(v >> 32));
	stor_put_be32(p + 4, (uint32_t)v);
}

uint32_t stor_get_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

uint64_t stor_get_be64(const uint8_t *p)
{
	return (uint64_t)stor_get_be32(p) << 32 | stor_get_be32(p + 4);
}

/* LUNs of one target into present[]; a target that does not answer has none. */
static void report_luns(struct stor_ctrl *c, uint8_t target, uint8_t *buf, bool *present)
{
	struct stor_cmd cmd = {.target = target,
			       .cdb_len = 12,
			       .data_in = READ_TYPE,
			       .buf = buf,
			       .len = REPORT_LUNS_BYTES};
	uint32_t xfer = 0, n;

	cmd.cdb[0] = SCSI_REPORT_LUNS;
	stor_put_be32(&cmd.cdb[6], REPORT_LUNS_BYTES);
	if (stor_cmd_sync(c, &cmd, &xfer) < 0 || xfer < 8)
		return;
	n = stor_get_be32(buf) / 8;
	if (n > (xfer - 8) / 8)
		n = (xfer - 8) / 8;
	for (uint32_t i = 0; i < n; i++) {
		const uint8_t *e = buf + 8 + 8 * i;
		unsigned method = e[0] >> 6, lun = e[1];

		/* Peripheral (bus 0) or flat addressing of a LUN below 256 only. */
		if ((method == 0 && e[0] == 0) || (method == 1 && (e[0] & 0x3f) == 0))
			present[lun] = true;
		else
			vmb_guest_log(c->sg->g, "storvsc%u: ignoring LUN entry %02x%02x", c->idx,
				      e[0], e[1]);
	}
}

static int check_block(struct vmb_blk_info *info, uint64_t last, uint32_t bs)
{
	if (bs < 512 || bs > 65536 || (bs & (bs - 1)) || last >= UINT64_MAX / bs)
		return -EPROTO;
	info->block_size = bs;
	info->size = (last + 1) * bs;
	return 0;
}

static int read_capacity(struct stor_ctrl *c, struct vmb_blk_info *info, bool *discard)
{
	uint8_t buf[32] = {0};
	struct stor_cmd cmd = {.target = info->target,
			       .lun = info->lun,
			       .cdb_len = 16,
			       .data_in = READ_TYPE,
			       .buf = buf,
			       .len = sizeof(buf)};
	uint32_t xfer = 0;

	cmd.cdb[0] = SCSI_SVC_IN_16;
	cmd.cdb[1] = SAI_READ_CAP16;
	stor_put_be32(&cmd.cdb[10], sizeof(buf));
	if (stor_cmd_sync(c, &cmd, &xfer) == 0 && xfer >= 15) {
		*discard = (buf[14] & RC16_LBPME) && (buf[14] & RC16_LBPRZ);
		return check_block(info, stor_get_be64(buf), stor_get_be32(buf + 8));
	}
	memset(&cmd.cdb, 0, sizeof(cmd.cdb));
	cmd.cdb[0] = SCSI_READ_CAP10;
	cmd.cdb_len = 10;
	cmd.len = 8;
	*discard = false;
	if (stor_cmd_sync(c, &cmd, &xfer) < 0 || xfer < 8)
		return -EIO;
	return check_block(info, stor_get_be32(buf), stor_get_be32(buf + 4));
}

unsigned vmb_stor_guest_luns_locked(struct vmb_stor_guest *sg, struct vmb_blk_info *out,
				    unsigned cap)
{
	unsigned n = 0;

	for (unsigned i = 0; i < STOR_MAX_LUNS; i++) {
		if (!sg->luns[i].present)
			continue;
		if (n < cap)
			out[n] = sg->luns[i].info;
		n++;
	}
	return n;
}

unsigned vmb_stor_guest_luns(struct vmb_stor_guest *sg, struct vmb_blk_info *out, unsigned cap)
{
	unsigned n;

	pthread_mutex_lock(&sg->lock);
	n = vmb_stor_guest_luns_locked(sg, out, cap);
	pthread_mutex_unlock(&sg->lock);
	return n;
}

static void lun_event(struct vmb_stor_guest *sg, struct stor_lun *l, bool added)
{
	if (added)
		stor_fuse_lun(sg, l, true);
	if (sg->cfg.lun_event)
		sg->cfg.lun_event(sg->cfg.arg, &l->info, added);
	if (!added)
		stor_fuse_lun(sg, l, false);
}

static bool known(struct vmb_stor_guest *sg, struct stor_ctrl *c, uint8_t t, uint8_t lun)
{
	bool found = false;

	pthread_mutex_lock(&sg->lock);
	for (unsigned i = 0; i < STOR_MAX_LUNS && !found; i++) {
		struct stor_lun *l = &sg->luns[i];

		found = l->present && l->c == c && l->info.target == t && l->info.lun == lun;
	}
	pthread_mutex_unlock(&sg->lock);
	return found;
}

/* A present LUN of c at or after *i that present[] no longer lists. */
static struct stor_lun *next_gone(struct stor_ctrl *c, bool present[][256], unsigned *i)
{
	struct vmb_stor_guest *sg = c->sg;
	struct stor_lun *found = NULL;

	pthread_mutex_lock(&sg->lock);
	for (; *i < STOR_MAX_LUNS && !found; (*i)++) {
		struct stor_lun *l = &sg->luns[*i];

		if (l->present && l->c == c && !present[l->info.target][l->info.lun])
			found = l;
	}
	pthread_mutex_unlock(&sg->lock);
	return found;
}

static void add_lun(struct stor_ctrl *c, uint8_t t, uint8_t lun)
{
	struct vmb_stor_guest *sg = c->sg;
	struct vmb_blk_info info = {.ctrl = c->idx, .target = t, .lun = lun};
	struct stor_lun *l = NULL;
	bool discard = false;

	if (read_capacity(c, &info, &discard) < 0) {
		vmb_guest_log(sg->g, "storvsc%u: LUN %u:%u has no usable capacity", c->idx, t, lun);
		return;
	}
	pthread_mutex_lock(&sg->lock);
	for (unsigned i = 0; i < STOR_MAX_LUNS && !l; i++)
		if (!sg->luns[i].present && !sg->luns[i].fuse_blk)
			l = &sg->luns[i];
	if (l) {
		*l = (struct stor_lun){.info = info, .present = true, .discard = discard, .c = c};
		pthread_cond_broadcast(&sg->cond);
	}
	pthread_mutex_unlock(&sg->lock);
	if (l)
		lun_event(sg, l, true);
}

static void drop_lun(struct vmb_stor_guest *sg, struct stor_lun *l)
{
	pthread_mutex_lock(&sg->lock);
	l->present = false;
	pthread_cond_broadcast(&sg->cond);
	pthread_mutex_unlock(&sg->lock);
	lun_event(sg, l, false);
}

void stor_rescan(struct stor_ctrl *c)
{
	struct vmb_stor_guest *sg = c->sg;
	bool present[STORVSC_MAX_TARGETS][256] = {{false}};
	uint8_t *buf = malloc(REPORT_LUNS_BYTES);
	struct stor_lun *l;

	if (!buf)
		return;
	/* Hyper-V puts every LUN of a controller on target 0 (Linux shows h:0:0:L). */
	report_luns(c, 0, buf, present[0]);
	free(buf);
	/* Only the rescan thread adds or drops this controller's LUNs. */
	for (unsigned i = 0; (l = next_gone(c, present, &i));)
		drop_lun(sg, l);
	for (unsigned t = 0; t < STORVSC_MAX_TARGETS; t++)
		for (unsigned lun = 0; lun < 256; lun++)
			if (present[t][lun] && !known(sg, c, (uint8_t)t, (uint8_t)lun))
				add_lun(c, (uint8_t)t, (uint8_t)lun);
}

void stor_forget_ctrl(struct stor_ctrl *c)
{
	struct vmb_stor_guest *sg = c->sg;

	bool none[STORVSC_MAX_TARGETS][256] = {{false}};
	struct stor_lun *l;

	for (unsigned i = 0; (l = next_gone(c, none, &i));)
		drop_lun(sg, l);
}
