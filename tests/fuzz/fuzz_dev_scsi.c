/* SCSI CDB layer: input = u32 xfer_len, u8 flags, CDB bytes, then data-out. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "dev/storage/scsi.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint8_t luns[] = {0, 1, 7};
	static uint8_t buf[VMB_SCSI_DATA_IN_MAX];
	struct vmb_scsi_lun lun = {.present = true, .blocks = 4096, .luns = luns, .nluns = 3};
	struct vmb_scsi_extent ext[VMB_SCSI_MAX_UNMAP_DESCS];
	struct vmb_scsi_cmd cmd;
	uint8_t cdb[16] = {0}, block[VMB_SCSI_BLOCK_SIZE] = {0};
	unsigned cdb_len;
	uint32_t xfer;

	if (size < 6)
		return 0;
	memcpy(&xfer, data, 4);
	lun.ro = data[4] & 1;
	lun.unmap = data[4] & 2;
	lun.present = !(data[4] & 4);
	cdb_len = (data[4] >> 3) & 0x1f;
	data += 5;
	size -= 5;
	memcpy(cdb, data, size < 16 ? size : 16);
	vmb_scsi_exec(&lun, cdb, cdb_len, xfer % 0x50000, buf, sizeof(buf), &cmd);
	if (cmd.op == VMB_SCSI_UNMAP)
		vmb_scsi_unmap_list(&lun, data, (uint32_t)size, ext, &cmd);
	if (cmd.op == VMB_SCSI_WRITE_SAME) {
		memcpy(block, data, size < sizeof(block) ? size : sizeof(block));
		vmb_scsi_write_same(block, &cmd);
	}
	if (cmd.op == VMB_SCSI_DONE && cmd.data_len > sizeof(buf))
		__builtin_trap();
	return 0;
}
