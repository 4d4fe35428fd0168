/*
 * KVP daemon handoff: a host body through the translation to the daemon,
 * then a hostile daemon answer (the input's first 7432 bytes, or zeros)
 * folded back into it, through the link as the FUSE file drives it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "dev/ic/kvp_daemon.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(struct vmb_ic_guest *ic, uint32_t status, const void *body, uint32_t len)
{
	(void)ic, (void)status, (void)body, (void)len;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hv_kvp_msg ans, got;
	struct hv_kvp_msg reg = {0};
	size_t n = size < sizeof(ans) ? size : sizeof(ans);
	struct kvpd *d;

	memset(&ans, 0, sizeof(ans));
	memcpy(&ans, data, n);
	if (kvpd_create(sink, &d) < 0)
		return 0;
	kvpd_open(d);
	reg.kvp_hdr.operation = KVP_OP_REGISTER1;
	kvpd_write(d, &reg, sizeof(reg));
	kvpd_take(d, &got);
	if (kvpd_submit(d, (struct vmb_ic_guest *)(uintptr_t)1, data + n, size - n) == 0 &&
	    kvpd_take(d, &got) == 0)
		kvpd_write(d, &ans, sizeof(ans));
	kvpd_release(d);
	kvpd_destroy(d);
	return 0;
}
