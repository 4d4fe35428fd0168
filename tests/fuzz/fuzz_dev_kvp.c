/* KVP body parser, and the guest's answer over a pool directory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vmbus/dev/ic_services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct vmb_kvp_store *store;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct vmb_kvp_req r;
	uint8_t *body;

	if (!store) {
		char dir[64];

		snprintf(dir, sizeof(dir), "/tmp/fuzz_dev_kvp.%d", (int)getpid());
		if (vmb_kvp_store_open(dir, &store) < 0)
			abort();
	}
	vmb_kvp_decode(data, size, &r);
	/* The guest rewrites the body in place: give it a private copy. */
	body = malloc(size ? size : 1);
	if (!body)
		return 0;
	memcpy(body, data, size);
	vmb_kvp_guest_answer(store, body, size);
	free(body);
	return 0;
}
