/*
 * storvsp packet parser: init sequence, version fallback, malformed packets
 * (truncated, GPA outside guest RAM, transfer larger than the buffer, CDB
 * length > 16, unknown operations) and real I/O to a temporary image.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dev/storage/storvsp_priv.h"

#define PAGE 4096u
static uint8_t ram[32 * PAGE] __attribute__((aligned(4096)));

struct env {
	struct vmb_stor_ctrl *c;
	struct vmb_channel *ch;
	struct stor_chan *sc;
	void *rings;
	char path[64];
	pthread_mutex_t lock;
	pthread_cond_t cond;
	unsigned replies;
	struct vstor_packet last;
	size_t last_len;
};

static void noop_signal(void *ctx)
{
	(void)ctx;
}

static void *ram_gpa(void *ctx, uint64_t gpa, size_t len)
{
	(void)ctx;
	if (gpa > sizeof(ram) || len > sizeof(ram) - gpa)
		return NULL;
	return ram + gpa;
}

static const struct vmb_chan_ops ops = {noop_signal, ram_gpa, NULL};

static void capture(void *arg, uint64_t id, const void *buf, size_t len)
{
	struct env *e = arg;

	(void)id;
	pthread_mutex_lock(&e->lock);
	memset(&e->last, 0, sizeof(e->last));
	memcpy(&e->last, buf, len < sizeof(e->last) ? len : sizeof(e->last));
	e->last_len = len;
	e->replies++;
	pthread_cond_broadcast(&e->cond);
	pthread_mutex_unlock(&e->lock);
}

/* Send one packet and wait for its (possibly asynchronous) completion. */
static struct vstor_packet *send_pkt(struct env *e, uint16_t type, const void *ext,
				     uint32_t ext_len, const void *data, uint32_t len)
{
	struct vmb_packet p = {.type = type,
			       .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
			       .trans_id = 7,
			       .ext = ext,
			       .ext_len = ext_len,
			       .data = data,
			       .len = len};
	unsigned want;

	pthread_mutex_lock(&e->lock);
	want = e->replies + 1;
	pthread_mutex_unlock(&e->lock);
	vmb_stor_packet(e->sc, &p);
	vmb_stor_drain_end(e->sc);
	pthread_mutex_lock(&e->lock);
	while (e->replies < want)
		pthread_cond_wait(&e->cond, &e->lock);
	pthread_mutex_unlock(&e->lock);
	return &e->last;
}

static uint32_t op(struct env *e, uint32_t operation, uint16_t arg)
{
	struct vstor_packet p = {.operation = operation, .flags = REQUEST_COMPLETION_FLAG};

	p.version.major_minor = arg;
	return send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p))->status;
}

static int setup(void **state)
{
	struct env *e = calloc(1, sizeof(*e));
	struct vmb_stor_config cfg = {.max_subchannels = 4};
	struct vmb_stor_disk_config d = {.size = 1 << 20, .unmap = true};
	uint8_t *r = aligned_alloc(PAGE, 4 * PAGE);
	struct vmb_chan_config cc = {
	    .out_hdr = r,
	    .out_data = r + PAGE,
	    .out_size = PAGE,
	    .in_hdr = r + 2 * PAGE,
	    .in_data = r + 3 * PAGE,
	    .in_size = PAGE,
	    .ops = &ops,
	};

	memset(r, 0, 4 * PAGE);
	e->rings = r;
	pthread_mutex_init(&e->lock, NULL);
	pthread_cond_init(&e->cond, NULL);
	assert_int_equal(vmb_chan_create(&cc, &e->ch), 0);
	assert_int_equal(vmb_stor_ctrl_init(&e->c, &cfg), 0);
	e->sc = vmb_stor_chan_open(e->c, 0, e->ch, capture, e);
	assert_non_null(e->sc);
	strcpy(e->path, "/tmp/test_storvsp_XXXXXX");
	close(mkstemp(e->path));
	d.path = e->path;
	assert_int_equal(vmb_stor_lun_add(e->c, 0, &d), 0);
	*state = e;
	return 0;
}

static int teardown(void **state)
{
	struct env *e = *state;

	vmb_stor_chan_close(e->sc);
	vmb_stor_ctrl_free(e->c);
	vmb_chan_destroy(e->ch);
	unlink(e->path);
	free(e->rings);
	free(e);
	return 0;
}

static void init(struct env *e)
{
	assert_int_equal(op(e, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0), 0);
	assert_int_equal(op(e, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, 0x0602), 0);
	assert_int_equal(op(e, VSTOR_OPERATION_QUERY_PROPERTIES, 0), 0);
	assert_int_equal(op(e, VSTOR_OPERATION_END_INITIALIZATION, 0), 0);
}

static void test_init_sequence(void **state)
{
	struct env *e = *state;
	struct vstor_packet *r;

	assert_int_equal(op(e, VSTOR_OPERATION_END_INITIALIZATION, 0),
			 VSTOR_STATUS_INVALID_DEVICE_STATE);
	assert_int_equal(op(e, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0), 0);
	assert_int_equal(op(e, VSTOR_OPERATION_BEGIN_INITIALIZATION, 0),
			 VSTOR_STATUS_INVALID_DEVICE_STATE);
	assert_int_equal(op(e, VSTOR_OPERATION_QUERY_PROPERTIES, 0),
			 VSTOR_STATUS_INVALID_DEVICE_STATE);
	assert_int_equal(op(e, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, 0x0700),
			 VSTOR_STATUS_REVISION_MISMATCH);
	assert_int_equal(op(e, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, 0x0601),
			 VSTOR_STATUS_REVISION_MISMATCH);
	assert_int_equal(op(e, VSTOR_OPERATION_QUERY_PROTOCOL_VERSION, 0x0501), 0);
	assert_int_equal(op(e, VSTOR_OPERATION_QUERY_PROPERTIES, 0), 0);
	r = &e->last;
	assert_int_equal(r->operation, VSTOR_OPERATION_COMPLETE_IO);
	assert_int_equal(r->storage_channel_properties.max_channel_cnt, 4);
	assert_int_equal(r->storage_channel_properties.flags,
			 STORAGE_CHANNEL_SUPPORTS_MULTI_CHANNEL);
	assert_int_equal(r->storage_channel_properties.max_transfer_bytes,
			 VSTOR_MAX_TRANSFER_BYTES);
	assert_int_equal(e->last_len, 0x40);
	assert_int_equal(op(e, VSTOR_OPERATION_END_INITIALIZATION, 0), 0);
	assert_int_equal(op(e, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 5),
			 VSTOR_STATUS_INVALID_PARAMETER);
	assert_int_equal(op(e, VSTOR_OPERATION_CREATE_SUB_CHANNELS, 3), 0);
	assert_int_equal(op(e, VSTOR_OPERATION_RESET_BUS, 0), 0);
	assert_int_equal(op(e, 99, 0), VSTOR_STATUS_INVALID_PARAMETER);
}

static struct vstor_packet srb(uint8_t opcode, uint8_t data_in, uint32_t dtl)
{
	struct vstor_packet p = {.operation = VSTOR_OPERATION_EXECUTE_SRB};

	p.vm_srb.length = VMSCSI_REQUEST_SIZE_WIN8;
	p.vm_srb.cdb_length = opcode >= 0x80 ? 16 : opcode >= 0x20 ? 10 : 6;
	p.vm_srb.sense_info_length = STORVSC_SENSE_BUFFER_SIZE;
	p.vm_srb.data_in = data_in;
	p.vm_srb.data_transfer_length = dtl;
	p.vm_srb.cdb[0] = opcode;
	return p;
}

/* A GPA-direct range of `len` bytes at guest page `pfn` + off. */
struct range {
	struct vmbus_gpa_range_hdr h;
	uint64_t pfn[4];
};

static struct vstor_packet *gpa_srb(struct env *e, struct vstor_packet *p, uint64_t pfn,
				    uint32_t off, uint32_t len)
{
	struct {
		uint32_t reserved, count;
		struct range r;
	} ext = {0, 1, {{len, off}, {pfn, pfn + 1, pfn + 2, pfn + 3}}};
	uint32_t pages = (off + len + PAGE - 1) / PAGE;

	return send_pkt(e, VM_PKT_DATA_USING_GPA_DIRECT, &ext, 8 + 8 + 8 * pages, p, sizeof(*p));
}

static void test_srb_before_init(void **state)
{
	struct env *e = *state;
	struct vstor_packet p = srb(0x00, UNKNOWN_TYPE, 0);

	assert_int_equal(send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p))->status,
			 VSTOR_STATUS_INVALID_DEVICE_STATE);
}

static void test_malformed(void **state)
{
	struct env *e = *state;
	struct vstor_packet p = srb(0x00, UNKNOWN_TYPE, 0), *r;
	uint8_t tiny[8] = {3};

	init(e);
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, tiny, sizeof(tiny));
	assert_int_equal(r->status, VSTOR_STATUS_INVALID_PARAMETER);
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, 40); /* SRB cut short */
	assert_int_equal(r->status, VSTOR_STATUS_INVALID_PARAMETER);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	p.vm_srb.cdb_length = 17;
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	/* READ(10) of 8 blocks with data outside guest RAM. */
	p = srb(0x28, READ_TYPE, 4096);
	p.vm_srb.cdb[8] = 8;
	r = gpa_srb(e, &p, 1000, 0, 4096);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	/* Transfer length larger than the buffer described. */
	p.vm_srb.data_transfer_length = 8192;
	r = gpa_srb(e, &p, 2, 0, 4096);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	/* Data but no buffer at all. */
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	/* Range records cut short. */
	p.vm_srb.data_transfer_length = 4096;
	{
		uint32_t bad[4] = {0, 1, 4096, 0};

		r = send_pkt(e, VM_PKT_DATA_USING_GPA_DIRECT, bad, sizeof(bad), &p, sizeof(p));
		assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	}
	/* Wrong direction. */
	p.vm_srb.data_in = WRITE_TYPE;
	r = gpa_srb(e, &p, 2, 0, 4096);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	/* Absent LUN and target. */
	p = srb(0x00, UNKNOWN_TYPE, 0);
	p.vm_srb.lun = 9;
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_LUN);
	p.vm_srb.lun = 0;
	p.vm_srb.target_id = 1;
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_LUN);
	/* The disk is still usable. */
	p.vm_srb.target_id = 0;
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->status, 0);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
}

/* Disk I/O of one drain is queued, and goes to the kernel at its end. */
static void test_drain_batches(void **state)
{
	struct env *e = *state;
	struct vstor_packet p = srb(0x28, READ_TYPE, 4096);
	struct {
		uint32_t reserved, count;
		struct range r;
	} ext = {0, 1, {{4096, 0}, {2}}};
	struct vmb_packet pkt = {.type = VM_PKT_DATA_USING_GPA_DIRECT,
				 .flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED,
				 .ext = &ext,
				 .ext_len = 8 + 8 + 8,
				 .data = &p,
				 .len = sizeof(p)};
	unsigned before;

	init(e);
	p.vm_srb.cdb[8] = 8;
	pthread_mutex_lock(&e->lock);
	before = e->replies;
	pthread_mutex_unlock(&e->lock);
	for (int i = 0; i < 4; i++) {
		p.vm_srb.cdb[5] = (uint8_t)(8 * i); /* LBA */
		pkt.trans_id = 100u + (unsigned)i;
		vmb_stor_packet(e->sc, &pkt);
	}
	usleep(20000);
	pthread_mutex_lock(&e->lock);
	assert_int_equal(e->replies, before);
	pthread_mutex_unlock(&e->lock);
	vmb_stor_drain_end(e->sc);
	pthread_mutex_lock(&e->lock);
	while (e->replies < before + 4)
		pthread_cond_wait(&e->cond, &e->lock);
	assert_int_equal(e->last.vm_srb.srb_status, SRB_STATUS_SUCCESS);
	pthread_mutex_unlock(&e->lock);
}

/* Fields a guest controls but the host must not take from it. */
static void test_guest_fields(void **state)
{
	struct env *e = *state;
	struct vstor_packet p = srb(0x00, UNKNOWN_TYPE, 0), *r;
	struct {
		uint32_t reserved, count;
		struct vmbus_gpa_range_hdr h1;
		uint64_t pfn1;
		struct vmbus_gpa_range_hdr h2;
		uint64_t pfn2;
	} two = {0, 2, {4096, 0}, 2, {512, 0}, 3};

	init(e);
	/* The request's status is not echoed in the completion. */
	p.status = 0xdeadbeef;
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
	assert_int_equal(r->status, 0);
	/* Ranges adding up to more than the transfer length. */
	p = srb(0x28, READ_TYPE, 4096);
	p.vm_srb.cdb[8] = 8;
	r = send_pkt(e, VM_PKT_DATA_USING_GPA_DIRECT, &two, sizeof(two), &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_INVALID_REQUEST);
	/* A channel with too many requests at the disk answers TASK SET FULL... */
	e->sc->inflight = STOR_MAX_INFLIGHT;
	p = srb(0x00, UNKNOWN_TYPE, 0);
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.scsi_status, SAM_STAT_TASK_SET_FULL);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_ERROR);
	assert_int_equal(e->sc->inflight, STOR_MAX_INFLIGHT);
	/* ...and serves requests again once they complete. */
	e->sc->inflight = 0;
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
	assert_int_equal(r->vm_srb.scsi_status, SAM_STAT_GOOD);
}

static void test_io(void **state)
{
	struct env *e = *state;
	struct vstor_packet p, *r;

	init(e);
	/* WRITE(10) 2 blocks at LBA 4 from an unaligned buffer spanning two pages. */
	for (unsigned i = 0; i < 1024; i++)
		ram[2 * PAGE + 3584 + i] = (uint8_t)(i * 7);
	p = srb(0x2a, WRITE_TYPE, 1024);
	p.vm_srb.cdb[5] = 4;
	p.vm_srb.cdb[8] = 2;
	r = gpa_srb(e, &p, 2, 3584, 1024);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
	assert_int_equal(r->vm_srb.data_transfer_length, 1024);
	p = srb(0x35, UNKNOWN_TYPE, 0);
	r = send_pkt(e, VM_PKT_DATA_INBAND, NULL, 0, &p, sizeof(p));
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
	/* Read it back elsewhere. */
	p = srb(0x28, READ_TYPE, 1024);
	p.vm_srb.cdb[5] = 4;
	p.vm_srb.cdb[8] = 2;
	r = gpa_srb(e, &p, 8, 0, 1024);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
	assert_memory_equal(ram + 8 * PAGE, ram + 2 * PAGE + 3584, 1024);
	/* Out of range: CHECK CONDITION with autosense. */
	p.vm_srb.cdb[2] = 0x10;
	r = gpa_srb(e, &p, 8, 0, 1024);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_ERROR | SRB_STATUS_AUTOSENSE_VALID);
	assert_int_equal(r->vm_srb.scsi_status, SAM_STAT_CHECK_CONDITION);
	assert_int_equal(r->vm_srb.sense_info_length, 18);
	assert_int_equal(r->vm_srb.sense_data[2], SENSE_ILLEGAL_REQUEST);
	assert_int_equal(r->vm_srb.sense_data[12], ASC_LBA_OUT_OF_RANGE);
	/* INQUIRY data lands in guest RAM, short transfer reported. */
	p = srb(0x12, READ_TYPE, 96);
	p.vm_srb.cdb[4] = 96;
	r = gpa_srb(e, &p, 9, 0, 96);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
	assert_int_equal(r->vm_srb.data_transfer_length, 36);
	assert_memory_equal(ram + 9 * PAGE + 8, "Msft", 4);
	/* UNMAP the blocks: they read back as zeros. */
	memset(ram + 10 * PAGE, 0, 24);
	vmb_put_be16(ram + 10 * PAGE, 22);
	vmb_put_be16(ram + 10 * PAGE + 2, 16);
	vmb_put_be64(ram + 10 * PAGE + 8, 0);
	vmb_put_be32(ram + 10 * PAGE + 16, 8);
	p = srb(0x42, WRITE_TYPE, 24);
	p.vm_srb.cdb[8] = 24;
	r = gpa_srb(e, &p, 10, 0, 24);
	assert_int_equal(r->vm_srb.srb_status, SRB_STATUS_SUCCESS);
	p = srb(0x28, READ_TYPE, 1024);
	p.vm_srb.cdb[5] = 4;
	p.vm_srb.cdb[8] = 2;
	memset(ram + 8 * PAGE, 0xaa, 1024);
	r = gpa_srb(e, &p, 8, 0, 1024);
	for (unsigned i = 0; i < 1024; i++)
		assert_int_equal(ram[8 * PAGE + i], 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_init_sequence, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_srb_before_init, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_malformed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_drain_batches, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_guest_fields, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_io, setup, teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
