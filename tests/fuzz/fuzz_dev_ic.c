/*
 * Fuzz the IC message parser and the guest state machine: every input is
 * one IC packet payload. It is fed to a fresh and to a negotiated guest of
 * each service form (heartbeat, shutdown, time sync bodies), and checked as
 * a host-side negotiate response. Whatever is answered must be a
 * well-formed response of the same length.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmbus/dev/ic.h"
#include "fuzz_util.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const struct ic_version msg_versions[] = {{4, 0}, {3, 2}, {3, 0}, {1, 0}};

static int body_request(void *ctx, struct vmb_ic_guest *ic, struct vmb_ic_msg *m, uint32_t *status)
{
	struct vmb_ts_sample s;
	uint32_t flags;
	uint64_t seq;

	(void)ctx;
	(void)ic;
	REQUIRE(m->body_len + ICMSG_HDR == m->len);
	REQUIRE(m->hdr.icmsgsize <= m->body_len);
	*status = HV_E_FAIL;
	switch (m->hdr.icmsgtype) {
	case ICMSGTYPE_HEARTBEAT:
		if (m->body_len >= VMB_HB_MIN_BODY) {
			memcpy(&seq, m->body, sizeof(seq));
			seq++;
			memcpy(m->body, &seq, sizeof(seq));
			*status = HV_S_OK;
		}
		break;
	case ICMSGTYPE_SHUTDOWN:
		*status = vmb_sd_guest_decide(true, m->body, m->body_len, &flags);
		break;
	case ICMSGTYPE_TIMESYNC:
		if (vmb_ts_parse_sample(m->body, m->body_len, m->hdr.icvermsg, 12345,
					VMB_WLTIMEDELTA, &s) == 0)
			*status = HV_S_OK;
		break;
	}
	return VMB_IC_REPLY;
}

static void check_reply(const uint8_t *buf, size_t len, size_t out)
{
	struct vmb_ic_msg m;
	uint8_t *copy = malloc(len);

	REQUIRE(copy);
	memcpy(copy, buf, len);
	REQUIRE(out <= len);
	REQUIRE(vmb_ic_parse(copy, out, &m) == 0);
	REQUIRE(m.hdr.icflags == (ICMSGHDRFLAG_TRANSACTION | ICMSGHDRFLAG_RESPONSE));
	free(copy);
}

static void run_guest(const uint8_t *data, size_t size, uint16_t msgtype, bool negotiated)
{
	struct vmb_ic_guest_service svc = {
	    .name = "fuzz",
	    .msgtype = msgtype,
	    .fw_versions = vmb_ic_fw_versions,
	    .nfw = 2,
	    .msg_versions = msg_versions,
	    .nmsg = 4,
	    .request = body_request,
	};
	struct vmb_ic_guest_sm sm = {.svc = &svc, .negotiated = negotiated};
	uint8_t *buf = malloc(size ? size : 1);
	size_t out = 0;
	int rc;

	REQUIRE(buf);
	memcpy(buf, data, size);
	sm.fw = vmb_ic_fw_versions[0];
	sm.msgver = msg_versions[0];
	rc = vmb_ic_guest_process(&sm, NULL, buf, size, &out);
	REQUIRE(rc == VMB_IC_REPLY || rc == -EBADMSG);
	if (rc == VMB_IC_REPLY)
		check_reply(buf, size, out);
	free(buf);
}

static void run_host(const uint8_t *data, size_t size)
{
	struct ic_version fw, mv;
	struct vmb_ic_msg m;
	uint8_t *buf = malloc(size ? size : 1);

	REQUIRE(buf);
	memcpy(buf, data, size);
	if (vmb_ic_parse(buf, size, &m) == 0) {
		REQUIRE(m.len <= size && m.len <= VMB_IC_MAX_MSG);
		if (vmb_ic_negotiate_result(&m, vmb_ic_fw_versions, 2, msg_versions, 4, &fw, &mv) ==
		    0)
			REQUIRE(fw.major == 3 || fw.major == 1);
	}
	free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t types[] = {ICMSGTYPE_HEARTBEAT, ICMSGTYPE_SHUTDOWN,
					 ICMSGTYPE_TIMESYNC};

	for (unsigned i = 0; i < 3; i++) {
		run_guest(data, size, types[i], false);
		run_guest(data, size, types[i], true);
	}
	run_host(data, size);
	return 0;
}
