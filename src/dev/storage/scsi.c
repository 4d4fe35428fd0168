/* SCSI command dispatch, sense data and the media commands (SBC-3). */
#include <string.h>

#include "dev/storage/scsi.h"

void vmb_scsi_good(struct vmb_scsi_cmd *cmd)
{
	cmd->op = VMB_SCSI_DONE;
	cmd->status = SAM_STAT_GOOD;
	cmd->sense_len = 0;
}

/* Fixed-format sense (SPC-4 4.5.3), current error. */
void vmb_scsi_check(struct vmb_scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq)
{
	memset(cmd->sense, 0, sizeof(cmd->sense));
	cmd->sense[0] = 0x70;
	cmd->sense[2] = key;
	cmd->sense[7] = VMB_SCSI_SENSE_LEN - 8;
	cmd->sense[12] = asc;
	cmd->sense[13] = ascq;
	cmd->sense_len = VMB_SCSI_SENSE_LEN;
	cmd->status = SAM_STAT_CHECK_CONDITION;
	cmd->op = VMB_SCSI_DONE;
	cmd->data_len = 0;
}

static void invalid_cdb(struct vmb_scsi_cmd *cmd)
{
	vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
}

void vmb_scsi_data_in(struct vmb_scsi_cmd *cmd, uint32_t n, uint32_t alloc)
{
	vmb_scsi_good(cmd);
	cmd->data_len = n < alloc ? n : alloc;
}

void vmb_scsi_io_failed(struct vmb_scsi_cmd *cmd, enum vmb_scsi_op op)
{
	if (op == VMB_SCSI_READ)
		vmb_scsi_check(cmd, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR, 0);
	else if (op == VMB_SCSI_WRITE)
		vmb_scsi_check(cmd, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
	else
		vmb_scsi_check(cmd, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE, 0);
}

/* The CDB length each opcode group needs (SPC-4 4.2.5.1). */
static unsigned cdb_group_len(uint8_t opcode)
{
	switch (opcode >> 5) {
	case 0:
		return 6;
	case 1:
	case 2:
		return 10;
	case 4:
		return 16;
	case 5:
		return 12;
	default:
		return 0;
	}
}

static bool lba_ok(const struct vmb_scsi_lun *lun, uint64_t lba, uint64_t n)
{
	return lba <= lun->blocks && n <= lun->blocks - lba;
}

/* READ/WRITE(6/10/12/16): decode, then check range, protection and length. */
static void read_write(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint32_t xfer_len,
		       struct vmb_scsi_cmd *cmd)
{
	bool write = (cdb[0] & 0x0f) == 0x0a;
	uint64_t lba;
	uint32_t n;

	switch (cdb[0] >> 5) {
	case 0:
		lba = (uint64_t)(cdb[1] & 0x1f) << 16 | vmb_be16(cdb + 2);
		n = cdb[4] ? cdb[4] : 256;
		break;
	case 1:
		lba = vmb_be32(cdb + 2);
		n = vmb_be16(cdb + 7);
		break;
	case 5:
		lba = vmb_be32(cdb + 2);
		n = vmb_be32(cdb + 6);
		break;
	default:
		lba = vmb_be64(cdb + 2);
		n = vmb_be32(cdb + 10);
		break;
	}
	/* RDPROTECT/WRPROTECT: we have no protection information. */
	if ((cdb[0] >> 5) != 0 && (cdb[1] & 0xe0))
		return invalid_cdb(cmd);
	if (!lba_ok(lun, lba, n))
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	if (write && lun->ro)
		return vmb_scsi_check(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
	if ((uint64_t)n * VMB_SCSI_BLOCK_SIZE != xfer_len)
		return invalid_cdb(cmd);
	vmb_scsi_good(cmd);
	if (n == 0)
		return;
	cmd->op = write ? VMB_SCSI_WRITE : VMB_SCSI_READ;
	cmd->offset = lba * VMB_SCSI_BLOCK_SIZE;
	cmd->length = xfer_len;
	cmd->fua = write && (cdb[0] >> 5) != 0 && (cdb[1] & 0x08);
}

static void sync_cache(const struct vmb_scsi_lun *lun, const uint8_t *cdb, struct vmb_scsi_cmd *cmd)
{
	bool sixteen = cdb[0] == 0x91;
	uint64_t lba = sixteen ? vmb_be64(cdb + 2) : vmb_be32(cdb + 2);
	uint32_t n = sixteen ? vmb_be32(cdb + 10) : vmb_be16(cdb + 7);

	if (!lba_ok(lun, lba, n))
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	vmb_scsi_good(cmd);
	/* A read-only image has nothing to write back. */
	if (!lun->ro)
		cmd->op = VMB_SCSI_FLUSH;
}

static void unmap(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint32_t xfer_len,
		  struct vmb_scsi_cmd *cmd)
{
	uint16_t plen = vmb_be16(cdb + 7);

	if (!lun->unmap)
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
	if (cdb[1] & 0x01) /* ANCHOR */
		return invalid_cdb(cmd);
	if (lun->ro)
		return vmb_scsi_check(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
	if (plen != xfer_len)
		return invalid_cdb(cmd);
	vmb_scsi_good(cmd);
	if (plen == 0)
		return;
	if (plen < 8)
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR, 0);
	cmd->op = VMB_SCSI_UNMAP;
	cmd->length = plen;
}

unsigned vmb_scsi_unmap_list(const struct vmb_scsi_lun *lun, const uint8_t *p, uint32_t len,
			     struct vmb_scsi_extent *out, struct vmb_scsi_cmd *cmd)
{
	uint32_t dlen, n = 0;

	if (len < 8)
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR, 0),
		       0;
	dlen = vmb_be16(p + 2);
	if (dlen % 16 || dlen > len - 8 || dlen / 16 > VMB_SCSI_MAX_UNMAP_DESCS) {
		vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM, 0);
		return 0;
	}
	for (uint32_t i = 0; i < dlen / 16; i++) {
		const uint8_t *d = p + 8 + 16 * i;
		uint64_t lba = vmb_be64(d);
		uint32_t cnt = vmb_be32(d + 8);

		if (!lba_ok(lun, lba, cnt)) {
			vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
			return 0;
		}
		if (cnt > VMB_SCSI_MAX_UNMAP_BLOCKS) {
			vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM, 0);
			return 0;
		}
		if (cnt == 0)
			continue;
		out[n].offset = lba * VMB_SCSI_BLOCK_SIZE;
		out[n].length = (uint64_t)cnt * VMB_SCSI_BLOCK_SIZE;
		n++;
	}
	vmb_scsi_good(cmd);
	return n;
}

/* WRITE SAME(10/16): only deallocation (UNMAP bit or a zero block) is offered. */
static void write_same(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint32_t xfer_len,
		       struct vmb_scsi_cmd *cmd)
{
	bool sixteen = cdb[0] == 0x93;
	uint64_t lba = sixteen ? vmb_be64(cdb + 2) : vmb_be32(cdb + 2);
	uint32_t n = sixteen ? vmb_be32(cdb + 10) : vmb_be16(cdb + 7);

	/* WSNZ is set in VPD 0xB0: zero blocks never means "to the end". */
	if ((cdb[1] & 0xe0) || (cdb[1] & 0x06) || n == 0 || n > VMB_SCSI_MAX_UNMAP_BLOCKS)
		return invalid_cdb(cmd);
	if (!lba_ok(lun, lba, n))
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	if (lun->ro)
		return vmb_scsi_check(cmd, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
	if (!lun->unmap || xfer_len != VMB_SCSI_BLOCK_SIZE)
		return invalid_cdb(cmd);
	vmb_scsi_good(cmd);
	cmd->op = VMB_SCSI_WRITE_SAME;
	cmd->offset = lba * VMB_SCSI_BLOCK_SIZE;
	cmd->length = (uint64_t)n * VMB_SCSI_BLOCK_SIZE;
	cmd->unmap_bit = cdb[1] & 0x08;
}

void vmb_scsi_write_same(const uint8_t *block, struct vmb_scsi_cmd *cmd)
{
	if (!cmd->unmap_bit) {
		for (uint32_t i = 0; i < VMB_SCSI_BLOCK_SIZE; i++)
			if (block[i])
				return invalid_cdb(cmd);
	}
	/* A punched range reads back as zeros (LBPRZ), so both cases are a discard. */
	cmd->op = VMB_SCSI_DISCARD;
}

static void request_sense(const uint8_t *cdb, uint8_t *buf, struct vmb_scsi_cmd *cmd)
{
	/* Sense is always returned with the failing command (autosense), so
	 * there is never a deferred condition to report here. */
	if (cdb[1] & 0x01) {
		memset(buf, 0, 8);
		buf[0] = 0x72;
		return vmb_scsi_data_in(cmd, 8, cdb[4]);
	}
	memset(buf, 0, VMB_SCSI_SENSE_LEN);
	buf[0] = 0x70;
	buf[7] = VMB_SCSI_SENSE_LEN - 8;
	vmb_scsi_data_in(cmd, VMB_SCSI_SENSE_LEN, cdb[4]);
}

static void dispatch(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint32_t xfer_len,
		     uint8_t *buf, struct vmb_scsi_cmd *cmd)
{
	switch (cdb[0]) {
	case 0x00: /* TEST UNIT READY */
	case 0x1b: /* START STOP UNIT */
		return vmb_scsi_good(cmd);
	case 0x03:
		return request_sense(cdb, buf, cmd);
	case 0x12:
		return vmb_scsi_inquiry(lun, cdb, buf, cmd);
	case 0x1a:
	case 0x5a:
		return vmb_scsi_mode_sense(lun, cdb, cdb[0] == 0x5a, buf, cmd);
	case 0x25:
		return vmb_scsi_read_capacity(lun, cdb, false, buf, cmd);
	case 0x9e: /* SERVICE ACTION IN(16) */
		if ((cdb[1] & 0x1f) != 0x10)
			return invalid_cdb(cmd);
		return vmb_scsi_read_capacity(lun, cdb, true, buf, cmd);
	case 0x08:
	case 0x0a:
	case 0x28:
	case 0x2a:
	case 0xa8:
	case 0xaa:
	case 0x88:
	case 0x8a:
		return read_write(lun, cdb, xfer_len, cmd);
	case 0x35:
	case 0x91:
		return sync_cache(lun, cdb, cmd);
	case 0x41:
	case 0x93:
		return write_same(lun, cdb, xfer_len, cmd);
	case 0x42:
		return unmap(lun, cdb, xfer_len, cmd);
	case 0xa0:
		return vmb_scsi_report_luns(lun, cdb, buf, cmd);
	default:
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
	}
}

void vmb_scsi_exec(const struct vmb_scsi_lun *lun, const uint8_t *cdb, unsigned cdb_len,
		   uint32_t xfer_len, uint8_t *buf, uint32_t cap, struct vmb_scsi_cmd *cmd)
{
	memset(cmd, 0, sizeof(*cmd));
	if (cdb_len == 0 || cdb_len > 16)
		return invalid_cdb(cmd);
	if (cdb_group_len(cdb[0]) == 0)
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
	if (cdb_len < cdb_group_len(cdb[0]) || cap < VMB_SCSI_DATA_IN_MAX)
		return invalid_cdb(cmd);
	if (!lun->present && cdb[0] != 0x12 && cdb[0] != 0xa0 && cdb[0] != 0x03)
		return vmb_scsi_check(cmd, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
	dispatch(lun, cdb, xfer_len, buf, cmd);
	/* Never claim more data-in than the initiator's buffer holds. */
	if (cmd->op == VMB_SCSI_DONE && cmd->data_len > xfer_len)
		cmd->data_len = xfer_len;
}
