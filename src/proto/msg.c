/*
 * Control-message validation: which messages exist in which direction and
 * version, and their minimum sizes (PROTOCOL.md 1.3).
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "vmbus/msg.h"

/* min_ver for messages valid even before a version is negotiated. */
#define ANY_VERSION 0

struct msg_rule {
	const char *name;
	uint8_t dir;	  /* enum vmb_dir */
	uint8_t min_size; /* header included */
	uint32_t min_ver;
	uint32_t features; /* 6.0 features that must all be in force */
};

#define G2H VMB_G2H
#define H2G VMB_H2G

static const struct msg_rule msg_rules[CHANNELMSG_COUNT] = {
    [CHANNELMSG_OFFERCHANNEL] = {"OFFERCHANNEL", H2G, 196, VERSION_WS2008, 0},
    [CHANNELMSG_RESCIND_CHANNELOFFER] = {"RESCIND_CHANNELOFFER", H2G, 12, VERSION_WS2008, 0},
    [CHANNELMSG_REQUESTOFFERS] = {"REQUESTOFFERS", G2H, 8, VERSION_WS2008, 0},
    [CHANNELMSG_ALLOFFERS_DELIVERED] = {"ALLOFFERS_DELIVERED", H2G, 8, VERSION_WS2008, 0},
    [CHANNELMSG_OPENCHANNEL] = {"OPENCHANNEL", G2H, 148, VERSION_WS2008, 0},
    [CHANNELMSG_OPENCHANNEL_RESULT] = {"OPENCHANNEL_RESULT", H2G, 20, VERSION_WS2008, 0},
    [CHANNELMSG_CLOSECHANNEL] = {"CLOSECHANNEL", G2H, 12, VERSION_WS2008, 0},
    /* One range header; the PFNs are checked by vmb_gpadl_check_header(). */
    [CHANNELMSG_GPADL_HEADER] = {"GPADL_HEADER", G2H, 28, VERSION_WS2008, 0},
    [CHANNELMSG_GPADL_BODY] = {"GPADL_BODY", G2H, 24, VERSION_WS2008, 0},
    [CHANNELMSG_GPADL_CREATED] = {"GPADL_CREATED", H2G, 20, VERSION_WS2008, 0},
    [CHANNELMSG_GPADL_TEARDOWN] = {"GPADL_TEARDOWN", G2H, 16, VERSION_WS2008, 0},
    [CHANNELMSG_GPADL_TORNDOWN] = {"GPADL_TORNDOWN", H2G, 12, VERSION_WS2008, 0},
    [CHANNELMSG_RELID_RELEASED] = {"RELID_RELEASED", G2H, 12, VERSION_WS2008, 0},
    [CHANNELMSG_INITIATE_CONTACT] = {"INITIATE_CONTACT", G2H, 40, ANY_VERSION, 0},
    [CHANNELMSG_VERSION_RESPONSE] = {"VERSION_RESPONSE", H2G, 16, ANY_VERSION, 0},
    [CHANNELMSG_UNLOAD] = {"UNLOAD", G2H, 8, VERSION_WS2008, 0},
    [CHANNELMSG_UNLOAD_RESPONSE] = {"UNLOAD_RESPONSE", H2G, 8, VERSION_WIN7, 0},
    [CHANNELMSG_OPEN_RESERVED_CHANNEL] = {"OPEN_RESERVED_CHANNEL", G2H, 28, VERSION_WIN10, 0},
    /* "Any" version in OpenVMM's table, but only once one is negotiated. */
    [CHANNELMSG_CLOSE_RESERVED_CHANNEL] = {"CLOSE_RESERVED_CHANNEL", G2H, 20, VERSION_WS2008, 0},
    [CHANNELMSG_CLOSE_RESERVED_RESPONSE] = {"CLOSE_RESERVED_RESPONSE", H2G, 12, VERSION_WIN10, 0},
    /* The 5.2 silo_id is optional: hosts accept the 40-byte form. */
    [CHANNELMSG_TL_CONNECT_REQUEST] = {"TL_CONNECT_REQUEST", G2H, 40, VERSION_WIN10, 0},
    [CHANNELMSG_MODIFYCHANNEL] = {"MODIFYCHANNEL", G2H, 16, VERSION_WIN10_V4_1, 0},
    [CHANNELMSG_TL_CONNECT_RESULT] = {"TL_CONNECT_RESULT", H2G, 44, VERSION_WIN10_V4_1, 0},
    [CHANNELMSG_MODIFYCHANNEL_RESPONSE] = {"MODIFYCHANNEL_RESPONSE", H2G, 16, VERSION_WIN10_V5_3,
					   0},
    [CHANNELMSG_MODIFY_CONNECTION] = {"MODIFY_CONNECTION", G2H, 24, VERSION_COPPER,
				      VMBUS_FEATURE_MODIFY_CONNECTION},
    [CHANNELMSG_MODIFY_CONNECTION_RESPONSE] = {"MODIFY_CONNECTION_RESPONSE", H2G, 9, VERSION_COPPER,
					       VMBUS_FEATURE_MODIFY_CONNECTION},
    [CHANNELMSG_PAUSE] = {"PAUSE", G2H, 8, VERSION_COPPER, VMBUS_FEATURE_PAUSE_RESUME},
    [CHANNELMSG_PAUSE_RESPONSE] = {"PAUSE_RESPONSE", H2G, 8, VERSION_COPPER,
				   VMBUS_FEATURE_PAUSE_RESUME},
    [CHANNELMSG_RESUME] = {"RESUME", G2H, 8, VERSION_COPPER, VMBUS_FEATURE_PAUSE_RESUME},
};

static const struct msg_rule *rule_of(uint32_t type)
{
	if (type == CHANNELMSG_INVALID || type >= CHANNELMSG_COUNT)
		return NULL;
	return &msg_rules[type];
}

const char *vmb_msg_name(uint32_t type)
{
	if (type == CHANNELMSG_INVALID)
		return "INVALID";
	if (type >= CHANNELMSG_COUNT)
		return "UNKNOWN";
	return msg_rules[type].name;
}

static bool version_allows(const struct msg_rule *r, uint32_t version, uint32_t features)
{
	if (version < r->min_ver)
		return false;
	return (features & r->features) == r->features;
}

static size_t rule_min_size(uint32_t type, const struct msg_rule *r, uint32_t version,
			    uint32_t features)
{
	/* WS2008 offers stop before is_dedicated_interrupt/connection_id. */
	if (type == CHANNELMSG_OFFERCHANNEL && version == VERSION_WS2008)
		return VMBUS_OFFER_SIZE_PRE_WIN7;
	if (type == CHANNELMSG_INITIATE_CONTACT && (features & VMBUS_FEATURE_CLIENT_ID))
		return sizeof(struct vmbus_channel_initiate_contact);
	return r->min_size;
}

size_t vmb_msg_min_size(uint32_t type, enum vmb_dir dir, uint32_t version, uint32_t features)
{
	const struct msg_rule *r = rule_of(type);

	if (r == NULL || r->dir != dir || !version_allows(r, version, features))
		return 0;
	return rule_min_size(type, r, version, features);
}

__attribute__((format(printf, 3, 4))) static int reject(char *why, size_t whylen, const char *fmt,
							...)
{
	va_list ap;

	if (why != NULL && whylen > 0) {
		va_start(ap, fmt);
		vsnprintf(why, whylen, fmt, ap);
		va_end(ap);
	}
	return -EBADMSG;
}

static int check_body(size_t len, char *why, size_t whylen)
{
	if ((len - sizeof(struct vmbus_channel_gpadl_body)) % sizeof(uint64_t) != 0)
		return reject(why, whylen, "GPADL_BODY length %zu is not 16 + 8 * k", len);
	return 0;
}

static int check_rule(uint32_t type, const struct msg_rule *r, size_t len, enum vmb_dir dir,
		      uint32_t version, uint32_t features, char *why, size_t whylen)
{
	char vbuf[16];
	size_t min;

	if (r->dir != dir)
		return reject(why, whylen, "%s is %s only", r->name,
			      r->dir == VMB_G2H ? "guest->host" : "host->guest");
	if (version == 0 && r->min_ver != ANY_VERSION)
		return reject(why, whylen, "%s before version negotiation", r->name);
	if (version < r->min_ver)
		return reject(why, whylen, "%s not valid in version %s", r->name,
			      vmb_version_str(version, vbuf, sizeof(vbuf)));
	if ((features & r->features) != r->features)
		return reject(why, whylen, "%s needs feature 0x%x", r->name, r->features);
	min = rule_min_size(type, r, version, features);
	if (len < min)
		return reject(why, whylen, "short %s: %zu < %zu bytes", r->name, len, min);
	return 0;
}

int vmb_msg_check(const void *msg, size_t len, enum vmb_dir dir, uint32_t version,
		  uint32_t features, char *why, size_t whylen)
{
	struct vmbus_channel_message_header hdr;
	const struct msg_rule *r;
	int ret;

	if (len < sizeof(hdr))
		return reject(why, whylen, "message of %zu bytes has no header", len);
	if (len > VMBUS_MAX_MESSAGE_SIZE)
		return reject(why, whylen, "message of %zu bytes exceeds %d", len,
			      VMBUS_MAX_MESSAGE_SIZE);
	memcpy(&hdr, msg, sizeof(hdr));
	r = rule_of(hdr.msgtype);
	if (r == NULL)
		return reject(why, whylen, "unknown message type %u", hdr.msgtype);
	ret = check_rule(hdr.msgtype, r, len, dir, version, features, why, whylen);
	if (ret < 0)
		return ret;
	if (hdr.msgtype == CHANNELMSG_GPADL_HEADER)
		ret = vmb_gpadl_check_header(msg, len, NULL, why, whylen);
	else if (hdr.msgtype == CHANNELMSG_GPADL_BODY)
		ret = check_body(len, why, whylen);
	return ret < 0 ? ret : (int)hdr.msgtype;
}

void vmb_msg_init(void *buf, size_t len, uint32_t type)
{
	struct vmbus_channel_message_header hdr = {.msgtype = type};

	memset(buf, 0, len);
	if (len >= sizeof(hdr))
		memcpy(buf, &hdr, sizeof(hdr));
}
