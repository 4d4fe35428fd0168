/* Every RNDIS parser over one message (host requests, guest responses, frames). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/net/rndis.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile uint32_t sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *buf = malloc(size ? size : 1);
	struct vmb_rndis_msg m;
	struct vmb_rndis_frame f;
	struct vmb_rndis_req rq;
	struct vmb_rndis_resp rs;
	uint32_t st;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	if (vmb_rndis_parse_hdr(buf, size, &m) == 0) {
		/* Touch every byte a parser hands back, so ASan sees any overrun. */
		if (vmb_rndis_parse_packet(&m, &f) == 0)
			for (uint32_t i = 0; i < f.len; i++)
				sink += f.data[i];
		if (vmb_rndis_parse_request(&m, &rq) == 0)
			for (uint32_t i = 0; i < rq.info_len; i++)
				sink += rq.info[i];
		if (vmb_rndis_parse_response(&m, &rs) == 0)
			for (uint32_t i = 0; i < rs.info_len; i++)
				sink += rs.info[i];
		if (vmb_rndis_parse_indicate(&m, &st) == 0)
			sink += st;
	}
	free(buf);
	return 0;
}
