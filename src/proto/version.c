/* VMBus protocol versions (PROTOCOL.md 1.5). */
#include <stdio.h>

#include "vmbus/msg.h"

/* Newest first: the order in which a guest offers them. */
const uint32_t vmb_versions[VMBUS_VERSION_COUNT] = {
    VERSION_COPPER,   VERSION_WIN10_V5_3, VERSION_WIN10_V5_2, VERSION_WIN10_V5_1,
    VERSION_WIN10_V5, VERSION_WIN10_V4_1, VERSION_WIN10,      VERSION_WIN8_1,
    VERSION_WIN8,     VERSION_WIN7,	  VERSION_WS2008,
};

bool vmb_version_known(uint32_t version)
{
	for (size_t i = 0; i < VMBUS_VERSION_COUNT; i++) {
		if (vmb_versions[i] == version)
			return true;
	}
	return false;
}

const char *vmb_version_str(uint32_t version, char *buf, size_t len)
{
	snprintf(buf, len, "%u.%u", version >> 16, version & 0xffffu);
	return buf;
}
