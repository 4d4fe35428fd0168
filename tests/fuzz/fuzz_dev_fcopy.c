/*
 * fcopy body parser, fed through a sink confined to a scratch root. The
 * root is in /dev/shm: on disk, every COMPLETE's fsync() cost more than
 * the rest of the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "vmbus/dev/ic_services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vmb_fcopy_sink *sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmb_fcopy_req r;

	if (!sink) {
		char dir[64];

		snprintf(dir, sizeof(dir), "/dev/shm/fuzz_dev_fcopy.%d", (int)getpid());
		if (vmb_fcopy_sink_create(dir, &sink) < 0)
			abort();
	}
	if (vmb_fcopy_decode(data, size, &r) < 0)
		return 0;
	/* Huge fragments at huge offsets would only fill the scratch disk. */
	if (r.op == WRITE_TO_FILE && r.offset > (1u << 20))
		return 0;
	if (r.op == START_FILE_COPY && r.size > (1u << 20))
		r.size = 0;
	vmb_fcopy_sink_handle(sink, &r);
	return 0;
}
