/* VSS body parser and the guest's reply (no hooks run). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/ic_services.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *body = malloc(size ? size : 1);
	int op;

	if (!body)
		return 0;
	memcpy(body, data, size);
	op = vmb_vss_decode(body, size);
	if (op >= 0 && vmb_vss_action(op) == VMB_VSS_REPLY)
		vmb_vss_reply(body, size, op, 0);
	free(body);
	return 0;
}
