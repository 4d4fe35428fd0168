/* Dynamic memory parsers and page books over arbitrary messages. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "vmbus/dev/balloon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmb_dm_piece pc;
	struct vmb_dm_status st;
	struct vmb_dm_caps caps;
	struct vmb_dm_pages p;
	struct vmb_dm_hdr h;

	if (vmb_dm_parse_hdr(data, size, &h) < 0)
		return 0;
	vmb_dm_parse_fixed(data, size, VMB_DM_STATUS_REPORT, sizeof(st), &st);
	vmb_dm_parse_fixed(data, size, VMB_DM_CAPS_REPORT, sizeof(caps), &caps);
	if (vmb_dm_pages_init(&p, 4096) < 0)
		return 0;
	if (vmb_dm_parse_ranges(data, size, VMB_DM_BALLOON_RESPONSE, &pc) == 0 &&
	    vmb_dm_pages_claim(&p, pc.ranges, pc.count, 2048) == 0) {
		uint64_t r[16], cursor = 0;
		uint32_t n;

		while ((n = vmb_dm_pages_collect(&p, &cursor, 100, r, 16)) > 0)
			if (vmb_dm_pages_release(&p, r, n) < 0)
				abort();
		if (p.count)
			abort();
	}
	if (vmb_dm_parse_ranges(data, size, VMB_DM_UNBALLOON_REQUEST, &pc) == 0)
		vmb_dm_pages_release(&p, pc.ranges, pc.count);
	vmb_dm_pages_fini(&p);
	return 0;
}
