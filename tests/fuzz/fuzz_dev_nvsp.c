/* NVSP message validation: any length, any type. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/net/rndis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct nvsp_message m;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (vmb_nvsp_parse(buf, size, &m) == 0) {
		sink += m.msg_type;
		if (m.msg_type == NVSP_MSG_TYPE_INIT)
			sink += vmb_nvsp_version_known(m.init.max_protocol_ver);
	}
	free(buf);
	return 0;
}
