/*
 * The SCSI command set of a storvsp disk, kept pure: a CDB and buffers in,
 * SAM status + fixed-format sense (or an I/O for the back end) out. No I/O,
 * no allocation, so it is unit-tested and fuzzed without a VM.
 */
#ifndef VMB_STOR_SCSI_H
#define VMB_STOR_SCSI_H

#include <stdbool.h>
#include <stdint.h>

#define VMB_SCSI_BLOCK_SIZE	  512u
#define VMB_SCSI_PHYS_EXP	  3u /* 8 logical blocks per 4 KiB physical */
#define VMB_SCSI_MAX_XFER_BLOCKS  (0x40000u / VMB_SCSI_BLOCK_SIZE)
#define VMB_SCSI_MAX_UNMAP_DESCS  64u
#define VMB_SCSI_MAX_UNMAP_BLOCKS 0x400000u /* 2 GiB per command */
#define VMB_SCSI_SENSE_LEN	  18u
#define VMB_SCSI_DATA_IN_MAX	  4096u /* largest data-in a command builds */
#define VMB_SCSI_MAX_LUNS	  256u
#define VMB_SCSI_UNMAP_PARAM_MAX  (8u + 16u * VMB_SCSI_MAX_UNMAP_DESCS)

/* SAM status */
#define SAM_STAT_GOOD		 0x00
#define SAM_STAT_CHECK_CONDITION 0x02
#define SAM_STAT_TASK_SET_FULL	 0x28

/* Sense keys */
#define SENSE_NO_SENSE	      0x0
#define SENSE_MEDIUM_ERROR    0x3
#define SENSE_HARDWARE_ERROR  0x4
#define SENSE_ILLEGAL_REQUEST 0x5
#define SENSE_UNIT_ATTENTION  0x6
#define SENSE_DATA_PROTECT    0x7

/* Additional sense codes (ASCQ 0 unless noted) */
#define ASC_WRITE_ERROR		    0x0C
#define ASC_UNRECOVERED_READ_ERROR  0x11
#define ASC_PARAM_LIST_LENGTH_ERROR 0x1A
#define ASC_INVALID_OPCODE	    0x20
#define ASC_LBA_OUT_OF_RANGE	    0x21
#define ASC_INVALID_FIELD_IN_CDB    0x24
#define ASC_LUN_NOT_SUPPORTED	    0x25
#define ASC_INVALID_FIELD_IN_PARAM  0x26
#define ASC_WRITE_PROTECTED	    0x27
#define ASC_SAVING_PARAMS_UNSUP	    0x39
#define ASC_INTERNAL_TARGET_FAILURE 0x44

/* What the target looks like to one command. */
struct vmb_scsi_lun {
	bool present; /* false: nothing at this LUN (only INQUIRY/REPORT LUNS) */
	bool ro;
	bool unmap;	     /* thin provisioning: UNMAP / WRITE SAME with UNMAP */
	uint64_t blocks;     /* capacity in VMB_SCSI_BLOCK_SIZE blocks */
	uint64_t id;	     /* NAA identifier (low 60 bits used) */
	char serial[21];     /* VPD 0x80, NUL-terminated ASCII */
	const uint8_t *luns; /* every LUN present on the target, for REPORT LUNS */
	unsigned nluns;
};

enum vmb_scsi_op {
	VMB_SCSI_DONE,	     /* status/sense/data-in are final */
	VMB_SCSI_READ,	     /* read `length` bytes at `offset` to the data-in buffer */
	VMB_SCSI_WRITE,	     /* write the data-out buffer at `offset` */
	VMB_SCSI_FLUSH,	     /* make completed writes durable */
	VMB_SCSI_UNMAP,	     /* data-out is an UNMAP parameter list: vmb_scsi_unmap_list() */
	VMB_SCSI_WRITE_SAME, /* data-out is one block: vmb_scsi_write_same() */
	VMB_SCSI_DISCARD,    /* deallocate [offset, offset+length) (reads back zeros) */
};

struct vmb_scsi_cmd {
	enum vmb_scsi_op op;
	uint8_t status; /* SAM status */
	uint8_t sense_len;
	uint8_t sense[VMB_SCSI_SENSE_LEN];
	uint32_t data_len;	 /* DONE: data-in bytes built in the buffer */
	uint64_t offset, length; /* bytes */
	bool fua;		 /* WRITE: durable before completion */
	bool unmap_bit;		 /* WRITE SAME: deallocate whatever the block holds */
};

struct vmb_scsi_extent {
	uint64_t offset, length; /* bytes */
};

/*
 * Execute one CDB for a transfer of xfer_len bytes. Immediate commands
 * build their data-in into buf (cap >= VMB_SCSI_DATA_IN_MAX) and end as
 * DONE; media commands come back as an op for the back end, already checked
 * against the capacity and xfer_len.
 */
void vmb_scsi_exec(const struct vmb_scsi_lun *lun, const uint8_t *cdb, unsigned cdb_len,
		   uint32_t xfer_len, uint8_t *buf, uint32_t cap, struct vmb_scsi_cmd *cmd);

/* UNMAP parameter list -> extents; returns the count (0 = nothing to do
 * or CHECK CONDITION set in cmd). */
unsigned vmb_scsi_unmap_list(const struct vmb_scsi_lun *lun, const uint8_t *p, uint32_t len,
			     struct vmb_scsi_extent *out, struct vmb_scsi_cmd *cmd);

/* WRITE SAME: the data-out block decides; DISCARD or CHECK CONDITION. */
void vmb_scsi_write_same(const uint8_t *block, struct vmb_scsi_cmd *cmd);

/* The back end failed an I/O: MEDIUM ERROR (read/write) or HARDWARE ERROR. */
void vmb_scsi_io_failed(struct vmb_scsi_cmd *cmd, enum vmb_scsi_op op);

void vmb_scsi_check(struct vmb_scsi_cmd *cmd, uint8_t key, uint8_t asc, uint8_t ascq);
void vmb_scsi_good(struct vmb_scsi_cmd *cmd);

/* ---- shared by scsi*.c ---- */
void vmb_scsi_inquiry(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint8_t *buf,
		      struct vmb_scsi_cmd *cmd);
void vmb_scsi_mode_sense(const struct vmb_scsi_lun *lun, const uint8_t *cdb, bool ten, uint8_t *buf,
			 struct vmb_scsi_cmd *cmd);
void vmb_scsi_read_capacity(const struct vmb_scsi_lun *lun, const uint8_t *cdb, bool sixteen,
			    uint8_t *buf, struct vmb_scsi_cmd *cmd);
void vmb_scsi_report_luns(const struct vmb_scsi_lun *lun, const uint8_t *cdb, uint8_t *buf,
			  struct vmb_scsi_cmd *cmd);
/* Data-in of n bytes built in buf, cut to the allocation length. */
void vmb_scsi_data_in(struct vmb_scsi_cmd *cmd, uint32_t n, uint32_t alloc);

static inline uint16_t vmb_be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t vmb_be32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static inline uint64_t vmb_be64(const uint8_t *p)
{
	return (uint64_t)vmb_be32(p) << 32 | vmb_be32(p + 4);
}

static inline void vmb_put_be16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void vmb_put_be32(uint8_t *p, uint32_t v)
{
	vmb_put_be16(p, (uint16_t)(v >> 16));
	vmb_put_be16(p + 2, (uint16_t)v);
}

static inline void vmb_put_be64(uint8_t *p, uint64_t v)
{
	vmb_put_be32(p, (uint32_t)(v >> 32));
	vmb_put_be32(p + 4, (uint32_t)v);
}

#endif
