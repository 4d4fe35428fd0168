/* GUID text form and the names of the device classes we know. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vmbus/msg.h"

/*
 * Text order of the 16 wire bytes: Data1..Data3 are little-endian on the
 * wire, so their bytes are printed back to front.
 */
static const unsigned char guid_text_order[16] = {3, 2, 1,  0,	5,  4,	7,  6,
						  8, 9, 10, 11, 12, 13, 14, 15};

/* A dash precedes these positions of the text order. */
static bool dash_before(unsigned i)
{
	return i == 4 || i == 6 || i == 8 || i == 10;
}

char *vmb_guid_str(const struct vmb_guid *g, char buf[VMB_GUID_STR_LEN])
{
	static const char hex[] = "0123456789abcdef";
	char *p = buf;

	for (unsigned i = 0; i < 16; i++) {
		uint8_t b = g->b[guid_text_order[i]];

		if (dash_before(i))
			*p++ = '-';
		*p++ = hex[b >> 4];
		*p++ = hex[b & 0xf];
	}
	*p = '\0';
	return buf;
}

static int hex_val(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int vmb_guid_parse(const char *s, struct vmb_guid *out)
{
	struct vmb_guid g;

	for (unsigned i = 0; i < 16; i++) {
		int hi, lo;

		if (dash_before(i) && *s++ != '-')
			return -EINVAL;
		hi = hex_val(s[0]);
		if (hi < 0)
			return -EINVAL;
		lo = hex_val(s[1]);
		if (lo < 0)
			return -EINVAL;
		g.b[guid_text_order[i]] = (uint8_t)(hi << 4 | lo);
		s += 2;
	}
	if (*s != '\0')
		return -EINVAL;
	*out = g;
	return 0;
}

bool vmb_guid_eq(const struct vmb_guid *a, const struct vmb_guid *b)
{
	return memcmp(a->b, b->b, sizeof(a->b)) == 0;
}

bool vmb_guid_is_null(const struct vmb_guid *g)
{
	static const struct vmb_guid null_guid;

	return vmb_guid_eq(g, &null_guid);
}

struct vmb_class {
	struct vmb_guid guid;
	const char *name;	/* as lsvmbus prints it */
	const char *short_name; /* driver-style */
};

static const struct vmb_class vmb_classes[] = {
    {VMB_GUID_SCSI, "Synthetic SCSI Controller", "storvsc"},
    {VMB_GUID_IDE, "IDE accelerator", "ide"},
    {VMB_GUID_NET, "Synthetic network adapter", "netvsc"},
    {VMB_GUID_PCI, "PCI Express pass-through", "hv_pci"},
    {VMB_GUID_SYNTHVID, "Synthetic framebuffer adapter", "hyperv_fb"},
    {VMB_GUID_KBD, "Synthetic keyboard", "hyperv_keyboard"},
    {VMB_GUID_MOUSE, "Synthetic mouse", "hid_hyperv"},
    {VMB_GUID_KVP, "Data Exchange", "kvp"},
    {VMB_GUID_TIMESYNC, "Time Synchronization", "timesync"},
    {VMB_GUID_HEARTBEAT, "Heartbeat", "heartbeat"},
    {VMB_GUID_SHUTDOWN, "Shutdown", "shutdown"},
    {VMB_GUID_FCOPY, "Guest services", "fcopy"},
    {VMB_GUID_VSS, "VSS (Backup/Restore)", "vss"},
    {VMB_GUID_BALLOON, "Dynamic Memory", "balloon"},
    {VMB_GUID_TEST, "vmbus test device", "test"},
};

static const struct vmb_class *class_find(const struct vmb_guid *class_id)
{
	for (size_t i = 0; i < sizeof(vmb_classes) / sizeof(vmb_classes[0]); i++) {
		if (vmb_guid_eq(&vmb_classes[i].guid, class_id))
			return &vmb_classes[i];
	}
	return NULL;
}

const char *vmb_class_name(const struct vmb_guid *class_id)
{
	const struct vmb_class *c = class_find(class_id);

	return c ? c->name : NULL;
}

const char *vmb_class_short(const struct vmb_guid *class_id)
{
	const struct vmb_class *c = class_find(class_id);

	return c ? c->short_name : NULL;
}
