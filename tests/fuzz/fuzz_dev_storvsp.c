/*
 * storvsp packet parser: sequences of guest packets (init, control, SRBs
 * with arbitrary CDBs and GPA ranges) against a controller with a 1 MiB
 * read-write LUN 0 (UNMAP on) and a 64 KiB read-only LUN 1, over 64 pages
 * of fake guest RAM. Each input starts from a freshly opened primary
 * channel (handshake state reset), sub-channel 1 and zeroed RAM.
 *
 * Input: records, each starting with a control byte c:
 *   c >> 3 & 3 == 1: poke RAM: u8 pfn, u16 offset, u8 n, n bytes
 *   otherwise a packet: u8 len, len payload bytes, then when c & 2 the GPA
 *     ranges: u8 count, count x { u32 byte_count, u16 byte_offset, u8 npfn,
 *     npfn pfn bytes (>= 0xf0: a PFN far outside RAM) }.
 *     c & 1: sub-channel 1 instead of the primary; c & 4: completion
 *     requested; c >> 3 & 3 == 2: packet type XFER_PAGES (must be refused).
 * Multi-byte fields are little-endian.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dev/storage/storvsp_priv.h"

#define PAGE	 4096u
#define RAM_SIZE (64 * PAGE)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint8_t ram[RAM_SIZE] __attribute__((aligned(4096)));
static uint8_t rings[4 * PAGE] __attribute__((aligned(4096)));
static struct vmb_stor_ctrl *ctrl;
static struct vmb_channel *chan;
static uint64_t sent; /* trans_ids of this input are 1..sent */

struct input {
	const uint8_t *p;
	size_t left;
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

/* Runs on the loop (here: fuzzer) thread or a disk completion thread. */
static void check_reply(void *arg, uint64_t trans_id, const void *buf, size_t len)
{
	struct vstor_packet r = {0};

	(void)arg;
	if (len < VSTOR_PACKET_SIZE_PRE_WIN8 || len > sizeof(r) || trans_id == 0 ||
	    trans_id > __atomic_load_n(&sent, __ATOMIC_RELAXED))
		__builtin_trap();
	memcpy(&r, buf, len);
	if (r.operation != VSTOR_OPERATION_COMPLETE_IO || r.flags != 0)
		__builtin_trap();
	if (r.vm_srb.sense_info_length > STORVSC_SENSE_BUFFER_SIZE)
		__builtin_trap();
}

static int add_lun(int lun, uint64_t size, bool ro)
{
	struct vmb_stor_disk_config d = {.size = ro ? 0 : size, .ro = ro, .unmap = true};
	char path[] = "/dev/shm/fuzz_storvsp_XXXXXX";
	int fd = mkstemp(path), rc;

	if (fd < 0)
		return -1;
	rc = ftruncate(fd, (off_t)size);
	close(fd);
	d.path = path;
	if (rc == 0)
		rc = vmb_stor_lun_add(ctrl, lun, &d);
	/* The disk keeps its descriptor: nothing is left behind in /tmp. */
	unlink(path);
	return rc < 0 ? -1 : 0;
}

static int setup(void)
{
	struct vmb_stor_config cfg = {.max_subchannels = 2};
	struct vmb_chan_config cc = {
	    .out_hdr = rings,
	    .out_data = rings + PAGE,
	    .out_size = PAGE,
	    .in_hdr = rings + 2 * PAGE,
	    .in_data = rings + 3 * PAGE,
	    .in_size = PAGE,
	    .ops = &ops,
	};

	if (vmb_chan_create(&cc, &chan) < 0 || vmb_stor_ctrl_init(&ctrl, &cfg) < 0)
		abort();
	/* Without io_uring the parser is still exercised up to the disk. */
	add_lun(0, 1 << 20, false);
	add_lun(1, 64 << 10, true);
	return 0;
}

static bool take(struct input *in, void *out, size_t n)
{
	if (in->left < n)
		return false;
	memcpy(out, in->p, n);
	in->p += n;
	in->left -= n;
	return true;
}

static uint64_t pfn_of(uint8_t b)
{
	if (b < 0xf0)
		return b;
	/* Past RAM, near the 52-bit PFN limit, and overflowing pfn * 4096. */
	return b == 0xff ? UINT64_MAX : (1ull << (40 + (b & 0xf))) - 1;
}

/* Build the descriptor extension: reserved, count, then the range records. */
static uint32_t ranges(struct input *in, uint64_t *ext, size_t cap)
{
	uint8_t count = 0;
	uint32_t n = 1; /* in u64 units */

	take(in, &count, 1);
	ext[0] = (uint64_t)count << 32;
	for (unsigned i = 0; i < count; i++) {
		uint32_t byte_count = 0;
		uint16_t byte_offset = 0;
		uint8_t npfn = 0, b;

		if (!take(in, &byte_count, 4) || !take(in, &byte_offset, 2) || !take(in, &npfn, 1))
			break;
		if (n + 1 + npfn > cap)
			break;
		ext[n++] = (uint64_t)byte_offset << 32 | byte_count;
		for (unsigned j = 0; j < npfn && take(in, &b, 1); j++)
			ext[n++] = pfn_of(b);
	}
	return n * 8;
}

static void poke(struct input *in)
{
	uint8_t pfn = 0, n = 0;
	uint16_t off = 0;

	if (!take(in, &pfn, 1) || !take(in, &off, 2) || !take(in, &n, 1))
		return;
	if (n > in->left)
		n = (uint8_t)in->left;
	if ((size_t)pfn * PAGE + off + n <= sizeof(ram))
		memcpy(ram + (size_t)pfn * PAGE + off, in->p, n);
	in->p += n;
	in->left -= n;
}

static void packet(struct input *in, uint8_t c, struct stor_chan **sc)
{
	static uint64_t ext[1 + 8 * 257];
	uint8_t len = 0, payload[256] = {0};
	struct vmb_packet p = {.type = VM_PKT_DATA_INBAND, .data = payload};

	take(in, &len, 1);
	if (len > in->left)
		len = (uint8_t)in->left;
	take(in, payload, len);
	p.len = len;
	if (c & 2) {
		p.type = VM_PKT_DATA_USING_GPA_DIRECT;
		p.ext = ext;
		p.ext_len = ranges(in, ext, sizeof(ext) / sizeof(ext[0]));
	}
	if ((c >> 3 & 3) == 2)
		p.type = VM_PKT_DATA_USING_XFER_PAGES;
	if (c & 4)
		p.flags = VMBUS_DATA_PACKET_FLAG_COMPLETION_REQUESTED;
	p.trans_id = __atomic_add_fetch(&sent, 1, __ATOMIC_RELAXED);
	vmb_stor_packet(sc[c & 1], &p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int once = -1;
	struct input in = {data, size};
	struct stor_chan *sc[2];
	uint8_t c;

	if (once < 0)
		once = setup();
	memset(ram, 0, sizeof(ram));
	__atomic_store_n(&sent, 0, __ATOMIC_RELAXED);
	sc[0] = vmb_stor_chan_open(ctrl, 0, chan, check_reply, NULL);
	sc[1] = vmb_stor_chan_open(ctrl, 1, chan, check_reply, NULL);
	if (!sc[0] || !sc[1])
		abort();
	while (take(&in, &c, 1)) {
		if ((c >> 3 & 3) == 1)
			poke(&in);
		else
			packet(&in, c, sc);
	}
	/* The input was one drain per channel: submit what it queued. Closing
	 * then waits for every request still at the disk. */
	vmb_stor_drain_end(sc[0]);
	vmb_stor_drain_end(sc[1]);
	vmb_stor_chan_close(sc[1]);
	vmb_stor_chan_close(sc[0]);
	return 0;
}
