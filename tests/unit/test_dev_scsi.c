/* The pure SCSI layer of storvsp: every command and its error paths (key/ASC/ASCQ). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dev/storage/scsi.h"

static const uint8_t all_luns[] = {0, 3};
static uint8_t buf[VMB_SCSI_DATA_IN_MAX];

static struct vmb_scsi_lun disk(void)
{
	struct vmb_scsi_lun l = {.present = true, .unmap = true, .blocks = 2048, .id = 0x1234};

	strcpy(l.serial, "SERIAL42");
	l.luns = all_luns;
	l.nluns = 2;
	return l;
}

static struct vmb_scsi_cmd run(const struct vmb_scsi_lun *l, const uint8_t *cdb, unsigned len,
			       uint32_t xfer)
{
	struct vmb_scsi_cmd c;

	memset(buf, 0xcc, sizeof(buf));
	vmb_scsi_exec(l, cdb, len, xfer, buf, sizeof(buf), &c);
	return c;
}

static void assert_sense(const struct vmb_scsi_cmd *c, uint8_t key, uint8_t asc, uint8_t ascq)
{
	assert_int_equal(c->op, VMB_SCSI_DONE);
	assert_int_equal(c->status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(c->sense_len, 18);
	assert_int_equal(c->sense[0], 0x70);
	assert_int_equal(c->sense[2], key);
	assert_int_equal(c->sense[12], asc);
	assert_int_equal(c->sense[13], ascq);
	assert_int_equal(c->data_len, 0);
}

static void assert_good(const struct vmb_scsi_cmd *c)
{
	assert_int_equal(c->status, SAM_STAT_GOOD);
	assert_int_equal(c->sense_len, 0);
}

static void test_tur_and_bad_opcodes(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t tur[6] = {0}, bad[6] = {0x02}, grp[10] = {0xc0}, ss[6] = {0x1b};
	struct vmb_scsi_cmd c = run(&l, tur, 6, 0);

	(void)state;
	assert_good(&c);
	assert_int_equal(c.op, VMB_SCSI_DONE);
	c = run(&l, ss, 6, 0);
	assert_good(&c);
	c = run(&l, bad, 6, 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
	c = run(&l, grp, 10, 0); /* vendor-specific group 6 */
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
	c = run(&l, tur, 0, 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	c = run(&l, tur, 17, 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	/* READ(10) needs 10 CDB bytes. */
	uint8_t rd[10] = {0x28};
	c = run(&l, rd, 6, 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	/* Absent LU: only INQUIRY / REPORT LUNS / REQUEST SENSE answer. */
	l.present = false;
	c = run(&l, tur, 6, 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
}

static void test_inquiry(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t cdb[6] = {0x12, 0, 0, 0, 96, 0};
	struct vmb_scsi_cmd c = run(&l, cdb, 6, 96);

	(void)state;
	assert_good(&c);
	assert_int_equal(c.data_len, 36);
	assert_int_equal(buf[0], 0x00);
	assert_int_equal(buf[2], 0x06);
	assert_memory_equal(buf + 8, "Msft    Virtual Disk    ", 24);
	/* Allocation length and the transfer length both cut the data. */
	cdb[4] = 5;
	c = run(&l, cdb, 6, 96);
	assert_int_equal(c.data_len, 5);
	cdb[4] = 96;
	c = run(&l, cdb, 6, 10);
	assert_int_equal(c.data_len, 10);
	/* Page code without EVPD. */
	cdb[2] = 0x80;
	c = run(&l, cdb, 6, 96);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	/* No LU: qualifier 1, type 0x1f. */
	l.present = false;
	cdb[2] = 0;
	c = run(&l, cdb, 6, 96);
	assert_good(&c);
	assert_int_equal(buf[0], 0x3f);
	cdb[1] = 1;
	c = run(&l, cdb, 6, 96);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_LUN_NOT_SUPPORTED, 0);
}

static void test_vpd(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t cdb[6] = {0x12, 1, 0x00, 0, 255, 0};
	struct vmb_scsi_cmd c = run(&l, cdb, 6, 255);
	static const uint8_t pages[] = {0x00, 0x80, 0x83, 0xb0, 0xb1, 0xb2};

	(void)state;
	assert_good(&c);
	assert_int_equal(buf[1], 0x00);
	assert_int_equal(buf[3], 6);
	assert_memory_equal(buf + 4, pages, 6);
	cdb[2] = 0x80;
	c = run(&l, cdb, 6, 255);
	assert_int_equal(c.data_len, 4 + 8);
	assert_memory_equal(buf + 4, "SERIAL42", 8);
	cdb[2] = 0x83;
	c = run(&l, cdb, 6, 255);
	assert_good(&c);
	assert_int_equal(buf[5], 0x03); /* NAA designator first */
	assert_int_equal(buf[8] >> 4, 5);
	cdb[2] = 0xb0;
	c = run(&l, cdb, 6, 255);
	assert_int_equal(c.data_len, 64);
	assert_int_equal(buf[4] & 1, 1); /* WSNZ */
	assert_int_equal(vmb_be32(buf + 8), VMB_SCSI_MAX_XFER_BLOCKS);
	assert_int_equal(vmb_be32(buf + 24), VMB_SCSI_MAX_UNMAP_DESCS);
	cdb[2] = 0xb1;
	c = run(&l, cdb, 6, 255);
	assert_int_equal(vmb_be16(buf + 4), 1);
	cdb[2] = 0xb2;
	c = run(&l, cdb, 6, 255);
	assert_int_equal(buf[5], 0xe4);
	l.unmap = false;
	c = run(&l, cdb, 6, 255);
	assert_int_equal(buf[5], 0);
	cdb[2] = 0x89;
	c = run(&l, cdb, 6, 255);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
}

static void test_capacity(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t rc10[10] = {0x25}, rc16[16] = {0x9e, 0x10};
	struct vmb_scsi_cmd c = run(&l, rc10, 10, 8);

	(void)state;
	assert_good(&c);
	assert_int_equal(c.data_len, 8);
	assert_int_equal(vmb_be32(buf), 2047);
	assert_int_equal(vmb_be32(buf + 4), 512);
	rc10[5] = 1; /* LBA without PMI */
	c = run(&l, rc10, 10, 8);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	l.blocks = 0x200000000ull;
	rc10[5] = 0;
	c = run(&l, rc10, 10, 8);
	assert_int_equal(vmb_be32(buf), 0xffffffffu);
	vmb_put_be32(rc16 + 10, 32);
	c = run(&l, rc16, 16, 32);
	assert_good(&c);
	assert_int_equal(c.data_len, 32);
	assert_true(vmb_be64(buf) == 0x1ffffffffull);
	assert_int_equal(buf[13], VMB_SCSI_PHYS_EXP);
	assert_int_equal(buf[14], 0xc0);
	rc16[1] = 0x11; /* another service action */
	c = run(&l, rc16, 16, 32);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
}

static void test_read_write(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t r6[6] = {0x08, 0, 0, 10, 2, 0}, w10[10] = {0x2a, 0x08, 0, 0, 0, 20, 0, 0, 4, 0};
	uint8_t r12[12] = {0xa8}, w16[16] = {0x8a};
	struct vmb_scsi_cmd c = run(&l, r6, 6, 1024);

	(void)state;
	assert_good(&c);
	assert_int_equal(c.op, VMB_SCSI_READ);
	assert_int_equal(c.offset, 10 * 512);
	assert_int_equal(c.length, 1024);
	c = run(&l, w10, 10, 2048);
	assert_int_equal(c.op, VMB_SCSI_WRITE);
	assert_true(c.fua);
	assert_int_equal(c.offset, 20 * 512);
	/* READ(6) length 0 means 256 blocks. */
	r6[4] = 0;
	c = run(&l, r6, 6, 256 * 512);
	assert_int_equal(c.length, 256 * 512);
	/* Transfer length different from the CDB. */
	c = run(&l, w10, 10, 1024);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	/* Last block is fine, one past is not. */
	vmb_put_be32(r12 + 2, 2047);
	vmb_put_be32(r12 + 6, 1);
	c = run(&l, r12, 12, 512);
	assert_int_equal(c.op, VMB_SCSI_READ);
	vmb_put_be32(r12 + 6, 2);
	c = run(&l, r12, 12, 1024);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	/* LBA + count overflowing 64 bits. */
	vmb_put_be64(w16 + 2, UINT64_MAX);
	vmb_put_be32(w16 + 10, 2);
	c = run(&l, w16, 16, 1024);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	/* Zero blocks: nothing to do. */
	vmb_put_be64(w16 + 2, 5);
	vmb_put_be32(w16 + 10, 0);
	c = run(&l, w16, 16, 0);
	assert_good(&c);
	assert_int_equal(c.op, VMB_SCSI_DONE);
	/* WRPROTECT set: no protection information here. */
	w10[1] = 0x20;
	c = run(&l, w10, 10, 2048);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	/* Read-only disk. */
	l.ro = true;
	w10[1] = 0;
	c = run(&l, w10, 10, 2048);
	assert_sense(&c, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
	c = run(&l, r6, 6, 256 * 512);
	assert_int_equal(c.op, VMB_SCSI_READ);
}

static void test_sync_cache(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t s10[10] = {0x35}, s16[16] = {0x91};
	struct vmb_scsi_cmd c = run(&l, s10, 10, 0);

	(void)state;
	assert_good(&c);
	assert_int_equal(c.op, VMB_SCSI_FLUSH);
	c = run(&l, s16, 16, 0);
	assert_int_equal(c.op, VMB_SCSI_FLUSH);
	vmb_put_be64(s16 + 2, 4000);
	c = run(&l, s16, 16, 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	l.ro = true;
	c = run(&l, s10, 10, 0);
	assert_good(&c);
	assert_int_equal(c.op, VMB_SCSI_DONE);
}

static void test_unmap(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t cdb[10] = {0x42, 0, 0, 0, 0, 0, 0, 0, 40, 0}, p[40] = {0};
	struct vmb_scsi_extent ext[VMB_SCSI_MAX_UNMAP_DESCS];
	struct vmb_scsi_cmd c = run(&l, cdb, 10, 40);

	(void)state;
	assert_int_equal(c.op, VMB_SCSI_UNMAP);
	assert_int_equal(c.length, 40);
	vmb_put_be16(p, 38);
	vmb_put_be16(p + 2, 32);
	vmb_put_be64(p + 8, 8);
	vmb_put_be32(p + 16, 16);
	vmb_put_be64(p + 24, 100);
	vmb_put_be32(p + 32, 0); /* zero blocks: skipped */
	assert_int_equal(vmb_scsi_unmap_list(&l, p, 40, ext, &c), 1);
	assert_good(&c);
	assert_int_equal(ext[0].offset, 8 * 512);
	assert_int_equal(ext[0].length, 16 * 512);
	vmb_put_be64(p + 24, 2040);
	vmb_put_be32(p + 32, 9);
	assert_int_equal(vmb_scsi_unmap_list(&l, p, 40, ext, &c), 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	vmb_put_be16(p + 2, 33);
	assert_int_equal(vmb_scsi_unmap_list(&l, p, 40, ext, &c), 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM, 0);
	vmb_put_be16(p + 2, 48); /* longer than the list */
	assert_int_equal(vmb_scsi_unmap_list(&l, p, 40, ext, &c), 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_PARAM, 0);
	assert_int_equal(vmb_scsi_unmap_list(&l, p, 4, ext, &c), 0);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR, 0);
	/* CDB checks */
	cdb[8] = 4;
	c = run(&l, cdb, 10, 4);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_PARAM_LIST_LENGTH_ERROR, 0);
	cdb[8] = 40;
	c = run(&l, cdb, 10, 20);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	cdb[1] = 1; /* ANCHOR */
	c = run(&l, cdb, 10, 40);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	cdb[1] = 0;
	l.ro = true;
	c = run(&l, cdb, 10, 40);
	assert_sense(&c, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
	l.ro = false;
	l.unmap = false;
	c = run(&l, cdb, 10, 40);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_OPCODE, 0);
}

static void test_write_same(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t ws16[16] = {0x93, 0x08}, ws10[10] = {0x41}, block[512] = {0};
	struct vmb_scsi_cmd c;

	(void)state;
	vmb_put_be64(ws16 + 2, 100);
	vmb_put_be32(ws16 + 10, 50);
	c = run(&l, ws16, 16, 512);
	assert_int_equal(c.op, VMB_SCSI_WRITE_SAME);
	block[7] = 1;
	vmb_scsi_write_same(block, &c);
	assert_int_equal(c.op, VMB_SCSI_DISCARD); /* UNMAP bit: data does not matter */
	assert_int_equal(c.offset, 100 * 512);
	assert_int_equal(c.length, 50 * 512);
	/* Without UNMAP only a zero block can be deallocated. */
	vmb_put_be32(ws10 + 2, 1);
	vmb_put_be16(ws10 + 7, 3);
	c = run(&l, ws10, 10, 512);
	vmb_scsi_write_same(block, &c);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	block[7] = 0;
	c = run(&l, ws10, 10, 512);
	vmb_scsi_write_same(block, &c);
	assert_int_equal(c.op, VMB_SCSI_DISCARD);
	/* Zero blocks (WSNZ), wrong data length, out of range, read-only. */
	vmb_put_be16(ws10 + 7, 0);
	c = run(&l, ws10, 10, 512);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	vmb_put_be16(ws10 + 7, 3);
	c = run(&l, ws10, 10, 1024);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	vmb_put_be32(ws10 + 2, 2046);
	c = run(&l, ws10, 10, 512);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_LBA_OUT_OF_RANGE, 0);
	l.ro = true;
	vmb_put_be32(ws10 + 2, 0);
	c = run(&l, ws10, 10, 512);
	assert_sense(&c, SENSE_DATA_PROTECT, ASC_WRITE_PROTECTED, 0);
}

static void test_mode_sense(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t m6[6] = {0x1a, 0, 0x08, 0, 255, 0},
		m10[10] = {0x5a, 0x08, 0x3f, 0, 0, 0, 0, 1, 0, 0};
	struct vmb_scsi_cmd c = run(&l, m6, 6, 255);

	(void)state;
	assert_good(&c);
	assert_int_equal(c.data_len, 4 + 8 + 20);
	assert_int_equal(buf[0], c.data_len - 1);
	assert_int_equal(buf[2], 0x10); /* not write protected, DPOFUA */
	assert_int_equal(buf[3], 8);
	assert_int_equal(vmb_be32(buf + 4), 2048);
	assert_int_equal(buf[12], 0x08);
	assert_int_equal(buf[14] & 0x04, 0x04); /* WCE */
	c = run(&l, m10, 10, 256);
	assert_int_equal(c.data_len, 8 + 20 + 12); /* DBD: no block descriptor */
	assert_int_equal(vmb_be16(buf), c.data_len - 2);
	l.ro = true;
	c = run(&l, m10, 10, 256);
	assert_int_equal(buf[3] & 0x80, 0x80);
	m6[2] = 0x48; /* changeable values: WCE not changeable */
	c = run(&l, m6, 6, 255);
	assert_int_equal(buf[14], 0);
	m6[2] = 0xc8;
	c = run(&l, m6, 6, 255);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_SAVING_PARAMS_UNSUP, 0);
	m6[2] = 0x19;
	c = run(&l, m6, 6, 255);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	m6[2] = 0x08;
	m6[3] = 1;
	c = run(&l, m6, 6, 255);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
}

static void test_report_luns_request_sense(void **state)
{
	struct vmb_scsi_lun l = disk();
	uint8_t rl[12] = {0xa0, 0, 0, 0, 0, 0, 0, 0, 1, 0}, rs[6] = {0x03, 0, 0, 0, 252, 0};
	struct vmb_scsi_cmd c = run(&l, rl, 12, 256);

	(void)state;
	assert_good(&c);
	assert_int_equal(c.data_len, 24);
	assert_int_equal(vmb_be32(buf), 16);
	assert_int_equal(buf[9], 0);
	assert_int_equal(buf[17], 3);
	l.present = false; /* answered even without a LU */
	c = run(&l, rl, 12, 256);
	assert_int_equal(c.data_len, 24);
	rl[2] = 1;
	c = run(&l, rl, 12, 256);
	assert_int_equal(vmb_be32(buf), 0);
	rl[2] = 7;
	c = run(&l, rl, 12, 256);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	rl[2] = 0;
	rl[8] = 0;
	rl[9] = 15;
	c = run(&l, rl, 12, 256);
	assert_sense(&c, SENSE_ILLEGAL_REQUEST, ASC_INVALID_FIELD_IN_CDB, 0);
	c = run(&l, rs, 6, 252);
	assert_good(&c);
	assert_int_equal(c.data_len, 18);
	assert_int_equal(buf[0], 0x70);
	assert_int_equal(buf[2], SENSE_NO_SENSE);
	rs[1] = 1;
	c = run(&l, rs, 6, 252);
	assert_int_equal(c.data_len, 8);
	assert_int_equal(buf[0], 0x72);
}

static void test_io_failed(void **state)
{
	struct vmb_scsi_cmd c;

	(void)state;
	vmb_scsi_io_failed(&c, VMB_SCSI_READ);
	assert_sense(&c, SENSE_MEDIUM_ERROR, ASC_UNRECOVERED_READ_ERROR, 0);
	vmb_scsi_io_failed(&c, VMB_SCSI_WRITE);
	assert_sense(&c, SENSE_MEDIUM_ERROR, ASC_WRITE_ERROR, 0);
	vmb_scsi_io_failed(&c, VMB_SCSI_FLUSH);
	assert_sense(&c, SENSE_HARDWARE_ERROR, ASC_INTERNAL_TARGET_FAILURE, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_tur_and_bad_opcodes),
	    cmocka_unit_test(test_inquiry),
	    cmocka_unit_test(test_vpd),
	    cmocka_unit_test(test_capacity),
	    cmocka_unit_test(test_read_write),
	    cmocka_unit_test(test_sync_cache),
	    cmocka_unit_test(test_unmap),
	    cmocka_unit_test(test_write_same),
	    cmocka_unit_test(test_mode_sense),
	    cmocka_unit_test(test_report_luns_request_sense),
	    cmocka_unit_test(test_io_failed),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
