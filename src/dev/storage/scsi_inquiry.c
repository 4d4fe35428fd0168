/* SCSI commands that describe the disk: INQUIRY + VPD, capacity, mode pages, LUNs. */
#include <string.h>

#include "dev/storage/scsi.h"

#define MSFT_OUI 0x0003ffu /* NAA designators carry the vendor's IEEE OUI */

static void invalid_cdb(struct vmb_scsi_cmd *cmd)
{
	vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
}

static void pad_copy(uint8_t *dst, const char *src, size_t n)
{
	size_t len = strlen(src);

	memset(dst, ' ', n);
	memcpy(dst, src, len < n ? len : n);
}

static uint32_t standard_inquiry(const struct vmb_scsi_lun *lun, uint8_t *b)
{
	memset(b, 0, 36);
	/* Nothing here: qualifier 1 + type 0x1f keeps Linux scanning the target. */
	b[0] = lun->present ? 0x00 : 0x3f;
	b[2] = 0x06; /* SPC-4 */
	b[3] = 0x12; /* HiSup, response data format 2 */
	b[4] = 36 - 5;
	b[7] = 0x02; /* CmdQue */
	pad_copy(b + 8, "Msft", 8);
	pad_copy(b + 16, "Virtual Disk", 16);
	pad_copy(b + 32, "1.0", 4);
	return 36;
}

static uint32_t vpd_device_id(const struct vmb_scsi_lun *lun, uint8_t *b)
{
	uint64_t naa = (uint64_t)5 << 60 | (uint64_t)MSFT_OUI << 36 | (lun->id & 0xfffffffffull);
	size_t slen = strnlen(lun->serial, sizeof(lun->serial) - 1);
	uint32_t n = 4;

	b[n++] = 0x01; /* binary */
	b[n++] = 0x03; /* logical unit, NAA */
	b[n++] = 0;
	b[n++] = 8;
	vmb_put_be64(b + n, naa);
	n += 8;
	b[n++] = 0x02; /* ASCII */
	b[n++] = 0x01; /* logical unit, T10 vendor id */
	b[n++] = 0;
	b[n++] = (uint8_t)(8 + slen);
	pad_copy(b + n, "Msft", 8);
	memcpy(b + n + 8, lun->serial, slen);
	return n + 8 + (uint32_t)slen;
}

static uint32_t vpd_block_limits(const struct vmb_scsi_lun *lun, uint8_t *b)
{
	b[4] = 0x01; /* WSNZ */
	vmb_put_be16(b + 6, 1u << VMB_SCSI_PHYS_EXP);
	vmb_put_be32(b + 8, VMB_SCSI_MAX_XFER_BLOCKS);
	vmb_put_be32(b + 12, VMB_SCSI_MAX_XFER_BLOCKS);
	if (lun->unmap) {
		vmb_put_be32(b + 20, VMB_SCSI_MAX_UNMAP_BLOCKS);
		vmb_put_be32(b + 24, VMB_SCSI_MAX_UNMAP_DESCS);
		vmb_put_be32(b + 28, 1u << VMB_SCSI_PHYS_EXP);
		vmb_put_be64(b + 36, VMB_SCSI_MAX_UNMAP_BLOCKS);
	}
	return 64;
}

static uint32_t vpd_page(const struct vmb_scsi_lun *lun, uint8_t page, uint8_t *b)
{
	static const uint8_t pages[] = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};
	uint32_t n;

	memset(b, 0, 64);
	b[1] = page;
	switch (page) {
	case 0x00:
		memcpy(b + 4, pages, sizeof(pages));
		n = 4 + sizeof(pages);
		break;
	case 0x80:
		n = (uint32_t)strnlen(lun->serial, sizeof(lun->serial) - 1);
		memcpy(b + 4, lun->serial, n);
		n += 4;
		break;
	case 0x83:
		n = vpd_device_id(lun, b);
		break;
	case 0xb0:
		n = vpd_block_limits(lun, b);
		break;
	case 0xb1:
		vmb_put_be16(b + 4, 1); /* non-rotating medium */
		n = 64;
		break;
	case 0xb2:
		if (lun->unmap) {
			b[5] = 0x80 | 0x40 | 0x20 | 0x04; /* LBPU, LBPWS, LBPWS10, LBPRZ */
			b[6] = 0x02;			  /* thin provisioned */
		}
		n = 8;
		break;
	default:
		return 0;
	}
	vmb_put_be16(b + 2, (uint16_t)(n - 4));
	return n;
}

void vmb_scsi_inquiry(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint8_t *buf,
		      struct vmb_scsi_cmd *cmd)
{
	uint16_t alloc = vmb_be16(cdb + 3);
	uint32_t n;

	if (!(cdb[1] & 0x01)) {
		if (cdb[2])
			return invalid_cdb(cmd);
		return vmb_scsi_data_in(cmd, standard_inquiry(lun, buf), alloc);
	}
	if (!lun->present)
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
	n = vpd_page(lun, cdb[2], buf);
	if (n == 0)
		return invalid_cdb(cmd);
	vmb_scsi_data_in(cmd, n, alloc);
}

void vmb_scsi_read_capacity(const struct vmb_scsi_lun *lun, const uint8_t *cdb, bool sixteen,
			    uint8_t *buf, struct vmb_scsi_cmd *cmd)
{
	uint64_t last = lun->blocks - 1;

	if (!sixteen) {
		/* Without PMI the LBA field must be zero (SBC-3 5.16). */
		if (!(cdb[8] & 0x01) && vmb_be32(cdb + 2))
			return invalid_cdb(cmd);
		vmb_put_be32(buf, last > 0xffffffffu ? 0xffffffffu : (uint32_t)last);
		vmb_put_be32(buf + 4, VMB_SCSI_BLOCK_SIZE);
		return vmb_scsi_data_in(cmd, 8, 8);
	}
	memset(buf, 0, 32);
	vmb_put_be64(buf, last);
	vmb_put_be32(buf + 8, VMB_SCSI_BLOCK_SIZE);
	buf[13] = VMB_SCSI_PHYS_EXP;
	if (lun->unmap)
		buf[14] = 0x80 | 0x40; /* LBPME, LBPRZ */
	vmb_scsi_data_in(cmd, 32, vmb_be32(cdb + 10));
}

/* Caching (0x08) and control (0x0A) pages; changeable values are all zero. */
static uint32_t mode_page(uint8_t page, bool changeable, uint8_t *b)
{
	if (page == 0x08) {
		memset(b, 0, 20);
		b[0] = 0x08;
		b[1] = 0x12;
		/* Write-back: the guest must SYNCHRONIZE CACHE for durability. */
		if (!changeable)
			b[2] = 0x04; /* WCE */
		return 20;
	}
	memset(b, 0, 12);
	b[0] = 0x0a;
	b[1] = 0x0a;
	return 12;
}

void vmb_scsi_mode_sense(const struct vmb_scsi_lun *lun, const uint8_t *cdb, bool ten, uint8_t *buf,
			 struct vmb_scsi_cmd *cmd)
{
	uint8_t pc = cdb[2] >> 6, page = cdb[2] & 0x3f, subpage = cdb[3];
	uint32_t hdr = ten ? 8 : 4, n, alloc = ten ? vmb_be16(cdb + 7) : cdb[4];
	bool dbd = cdb[1] & 0x08, changeable = pc == 1;

	if (pc == 3)
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUP, 0);
	if (page != 0x08 && page != 0x0a && page != 0x3f)
		return invalid_cdb(cmd);
	if (subpage && !(page == 0x3f && subpage == 0xff))
		return invalid_cdb(cmd);
	memset(buf, 0, hdr + 8);
	n = hdr;
	if (!dbd) {
		uint64_t blocks = lun->blocks > 0xffffffffu ? 0xffffffffu : lun->blocks;

		vmb_put_be32(buf + n, changeable ? 0 : (uint32_t)blocks);
		vmb_put_be32(buf + n + 4, changeable ? 0 : VMB_SCSI_BLOCK_SIZE);
		n += 8;
	}
	if (page == 0x08 || page == 0x3f)
		n += mode_page(0x08, changeable, buf + n);
	if (page == 0x0a || page == 0x3f)
		n += mode_page(0x0a, changeable, buf + n);
	if (ten) {
		vmb_put_be16(buf, (uint16_t)(n - 2));
		buf[3] = (uint8_t)((lun->ro ? 0x80 : 0) | 0x10); /* WP, DPOFUA */
		buf[7] = dbd ? 0 : 8;
	} else {
		buf[0] = (uint8_t)(n - 1);
		buf[2] = (uint8_t)((lun->ro ? 0x80 : 0) | 0x10);
		buf[3] = dbd ? 0 : 8;
	}
	vmb_scsi_data_in(cmd, n, alloc);
}

void vmb_scsi_report_luns(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint8_t *buf,
			  struct vmb_scsi_cmd *cmd)
{
	uint32_t alloc = vmb_be32(cdb + 6), n = 0;
	uint8_t select = cdb[2];

	if (alloc < 16 || (select != 0x00 && select != 0x01 && select != 0x02))
		return invalid_cdb(cmd);
	memset(buf, 0, 8);
	/* Select 1 = well-known LUNs only: we have none. */
	for (unsigned i = 0; select != 0x01 && i < lun->nluns && i < VMB_SCSI_MAX_LUNS; i++) {
		uint8_t *e = buf + 8 + 8 * n++;

		memset(e, 0, 8);
		e[1] = lun->luns[i]; /* peripheral device addressing, bus 0 */
	}
	vmb_put_be32(buf, 8 * n);
	vmb_scsi_data_in(cmd, 8 + 8 * n, alloc);
}
