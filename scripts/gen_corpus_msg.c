/*
 * Writes the seed corpus of tests/fuzz/fuzz_proto_msg.c: one valid message
 * of every control-message type plus the size variants (pre-Win7 offer,
 * OpenChannel2, client ID, 6.0 version responses, multi-message GPADLs).
 * Run once and commit the output:
 *   cc -Iinclude scripts/gen_corpus_msg.c build-x/libvmb_proto_a.a -o /tmp/gen
 *   /tmp/gen tests/fuzz/corpus/proto_msg
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/msg.h"

static const char *out_dir;

static void emit(const char *name, const void *msg, size_t len)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", out_dir, name);
	f = fopen(path, "wb");
	if (f == NULL || fwrite(msg, 1, len, f) != len || fclose(f) != 0) {
		perror(path);
		exit(1);
	}
}

/* A header-only or zero-filled message of the given type and length. */
static void emit_plain(const char *name, uint32_t type, size_t len)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];

	vmb_msg_init(buf, len, type);
	if (len >= 12)
		buf[8] = 1; /* relid / channel id 1 where there is one */
	emit(name, buf, len);
}

static void emit_offer(void)
{
	struct vmbus_channel_offer_channel o;
	const struct vmb_guid scsi = VMB_GUID_SCSI;

	vmb_msg_init(&o, sizeof(o), CHANNELMSG_OFFERCHANNEL);
	o.if_type = scsi;
	o.if_instance.b[0] = 0x42;
	o.child_relid = 1;
	o.monitorid = 0xff;
	o.is_dedicated_interrupt = 1;
	o.connection_id = 17;
	emit("01_offerchannel", &o, sizeof(o));
	emit("01_offerchannel_ws2008", &o, VMBUS_OFFER_SIZE_PRE_WIN7);
}

static void emit_open(void)
{
	struct vmbus_channel_open_channel m;

	vmb_msg_init(&m, sizeof(m), CHANNELMSG_OPENCHANNEL);
	m.child_relid = 1;
	m.openid = 1;
	m.ringbuffer_gpadlhandle = 0xe1e10;
	m.downstream_ringbuffer_pageoffset = 16;
	emit("05_openchannel", &m, 148);
	m.connection_id = 0x2001;
	m.event_flag = 1;
	m.flags = 1;
	emit("05_openchannel2", &m, sizeof(m));
}

static void emit_gpadl(void)
{
	uint8_t buf[VMBUS_MAX_MESSAGE_SIZE];
	uint64_t pfns[60];
	size_t len;

	for (size_t i = 0; i < 60; i++)
		pfns[i] = 0x1000 + i;
	emit("08_gpadl_header_1", buf, vmb_gpadl_build(buf, 0, 1, 0xe1e10, pfns, 1));
	emit("08_gpadl_header_26", buf, vmb_gpadl_build(buf, 0, 1, 0xe1e10, pfns, 26));
	emit("08_gpadl_header_of_60", buf, vmb_gpadl_build(buf, 0, 1, 0xe1e10, pfns, 60));
	emit("09_gpadl_body_28", buf, vmb_gpadl_build(buf, 1, 1, 0xe1e10, pfns, 60));
	emit("09_gpadl_body_6", buf, vmb_gpadl_build(buf, 2, 1, 0xe1e10, pfns, 60));

	/* Two ranges: 100 bytes at offset 10 (1 PFN), then two whole pages. */
	len = vmb_gpadl_build(buf, 0, 1, 0xe1e11, pfns, 3);
	memcpy(buf + 16, &(uint16_t){8 + 8 + 8 + 16}, 2);
	memcpy(buf + 18, &(uint16_t){2}, 2);
	memcpy(buf + 20, &(uint32_t){100}, 4);
	memcpy(buf + 24, &(uint32_t){10}, 4);
	memcpy(buf + 36, &(uint32_t){8192}, 4);
	memcpy(buf + 40, &(uint32_t){0}, 4);
	memcpy(buf + 44, &pfns[1], 8);
	memcpy(buf + 52, &pfns[2], 8);
	emit("08_gpadl_header_2ranges", buf, len + 8);
}

static void emit_contact(void)
{
	struct vmbus_channel_initiate_contact c;
	struct vmbus_channel_version_response r;

	vmb_msg_init(&c, sizeof(c), CHANNELMSG_INITIATE_CONTACT);
	c.vmbus_version_requested = VERSION_WIN10_V5_3;
	c.msg_sint = VMBUS_MESSAGE_SINT;
	c.monitor_page1 = 0x10000;
	c.monitor_page2 = 0x11000;
	emit("14_initiate_contact", &c, 40);
	c.vmbus_version_requested = VERSION_COPPER;
	c.feature_flags = 0xff;
	c.client_id.b[0] = 0x5a;
	emit("14_initiate_contact_client_id", &c, sizeof(c));

	vmb_msg_init(&r, sizeof(r), CHANNELMSG_VERSION_RESPONSE);
	r.version_supported = 1;
	r.msg_conn_id = 1;
	emit("15_version_response", &r, 16);
	r.supported_features = 0x3f;
	emit("15_version_response_6_0", &r, 20);
	r.supported_features = 0x7f;
	r.parent_to_child_monitor_page_gpa = 0x20000;
	r.child_to_parent_monitor_page_gpa = 0x21000;
	emit("15_version_response_monitor", &r, sizeof(r));
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s OUT_DIR\n", argv[0]);
		return 2;
	}
	out_dir = argv[1];
	emit_offer();
	emit_plain("02_rescind", CHANNELMSG_RESCIND_CHANNELOFFER, 12);
	emit_plain("03_requestoffers", CHANNELMSG_REQUESTOFFERS, 8);
	emit_plain("04_alloffers_delivered", CHANNELMSG_ALLOFFERS_DELIVERED, 8);
	emit_open();
	emit_plain("06_openchannel_result", CHANNELMSG_OPENCHANNEL_RESULT, 20);
	emit_plain("07_closechannel", CHANNELMSG_CLOSECHANNEL, 12);
	emit_gpadl();
	emit_plain("10_gpadl_created", CHANNELMSG_GPADL_CREATED, 20);
	emit_plain("11_gpadl_teardown", CHANNELMSG_GPADL_TEARDOWN, 16);
	emit_plain("12_gpadl_torndown", CHANNELMSG_GPADL_TORNDOWN, 12);
	emit_plain("13_relid_released", CHANNELMSG_RELID_RELEASED, 12);
	emit_contact();
	emit_plain("16_unload", CHANNELMSG_UNLOAD, 8);
	emit_plain("17_unload_response", CHANNELMSG_UNLOAD_RESPONSE, 8);
	emit_plain("18_open_reserved", CHANNELMSG_OPEN_RESERVED_CHANNEL, 28);
	emit_plain("19_close_reserved", CHANNELMSG_CLOSE_RESERVED_CHANNEL, 20);
	emit_plain("20_close_reserved_response", CHANNELMSG_CLOSE_RESERVED_RESPONSE, 12);
	emit_plain("21_tl_connect_request", CHANNELMSG_TL_CONNECT_REQUEST, 40);
	emit_plain("21_tl_connect_request_silo", CHANNELMSG_TL_CONNECT_REQUEST, 56);
	emit_plain("22_modifychannel", CHANNELMSG_MODIFYCHANNEL, 16);
	emit_plain("23_tl_connect_result", CHANNELMSG_TL_CONNECT_RESULT, 44);
	emit_plain("24_modifychannel_response", CHANNELMSG_MODIFYCHANNEL_RESPONSE, 16);
	emit_plain("25_modify_connection", CHANNELMSG_MODIFY_CONNECTION, 24);
	emit_plain("26_modify_connection_response", CHANNELMSG_MODIFY_CONNECTION_RESPONSE, 9);
	emit_plain("27_pause", CHANNELMSG_PAUSE, 8);
	emit_plain("28_pause_response", CHANNELMSG_PAUSE_RESPONSE, 8);
	emit_plain("29_resume", CHANNELMSG_RESUME, 8);
	return 0;
}
