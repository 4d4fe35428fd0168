/*
 * Control-message helpers shared by host and guest: validation with the
 * minimum size per message and version, GPADL splitting/parsing, GUIDs and
 * version names. Pure functions: no I/O, no allocation.
 */
#ifndef VMBUS_MSG_H
#define VMBUS_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/proto/channel.h"
#include "vmbus/proto/guid.h"

enum vmb_dir {
	VMB_G2H = 0, /* guest -> host */
	VMB_H2G = 1, /* host -> guest */
};

/* All protocol versions, newest first. */
extern const uint32_t vmb_versions[VMBUS_VERSION_COUNT];
bool vmb_version_known(uint32_t version);
/* "5.3" into buf (at least 12 bytes); returns buf. */
const char *vmb_version_str(uint32_t version, char *buf, size_t len);

/* "OFFERCHANNEL" etc.; "UNKNOWN" outside 0..29. */
const char *vmb_msg_name(uint32_t type);

/*
 * Smallest acceptable size of a message of `type` travelling in `dir` once
 * `version` is negotiated (version 0 = nothing negotiated yet), or 0 when
 * such a message is not valid in that direction at that version.
 * (features = 6.0 feature flags in force.)
 */
size_t vmb_msg_min_size(uint32_t type, enum vmb_dir dir, uint32_t version, uint32_t features);

/*
 * Check a received message: length within 8..240, type known, valid in
 * this direction and version, at least the minimum size, and internal
 * consistency (GPADL range sizes, etc.). Returns the type or -EBADMSG with
 * a reason in why (may be NULL).
 */
int vmb_msg_check(const void *msg, size_t len, enum vmb_dir dir, uint32_t version,
		  uint32_t features, char *why, size_t whylen);

/* Zero buf (sizeof the message struct) and set the header type. */
void vmb_msg_init(void *buf, size_t len, uint32_t type);

/* ---- GPADL ------------------------------------------------------------- */

/*
 * range_buflen is a u16 holding 8 + 8 * n for a one-range GPADL, so one
 * GPADL covers at most 8190 pages (32 MiB - 8 KiB); larger buffers need
 * several GPADLs.
 */
#define VMB_GPADL_MAX_PFNS 8190

/*
 * Messages needed to send a one-range GPADL of n PFNs (header + bodies);
 * 0 when n is 0 or above VMB_GPADL_MAX_PFNS.
 */
unsigned vmb_gpadl_msg_count(size_t npfns);

/*
 * Build message i (0 = GPADL_HEADER, >0 = GPADL_BODY with msgnumber i) of a
 * one-range GPADL covering n whole pages (byte_offset 0). buf must hold
 * VMBUS_MAX_MESSAGE_SIZE bytes; returns the message length (exact bytes
 * used, as Linux posts them), 0 if i or n is out of range.
 */
size_t vmb_gpadl_build(void *buf, unsigned i, uint32_t relid, uint32_t handle, const uint64_t *pfns,
		       size_t npfns);

struct vmb_gpadl_hdr_info {
	uint32_t relid, handle;
	uint32_t total_pfns; /* across all ranges: range_buflen / 8 - rangecount */
	uint32_t carried;    /* PFNs present in this header */
	uint16_t rangecount;
	uint32_t byte_count; /* first range */
	uint32_t byte_offset;
};

/*
 * Consistency of a GPADL_HEADER (vmb_msg_check() calls it): rangecount >= 1,
 * every range record present has byte_count > 0, byte_offset < 4096 and
 * ceil((byte_offset + byte_count) / 4096) PFNs, the records fit range_buflen
 * exactly (or leave room for the records still to come in BODY messages),
 * and the header carries no more than range_buflen announces. Fills out
 * (may be NULL); -EBADMSG with a reason in why otherwise.
 */
int vmb_gpadl_check_header(const void *msg, size_t len, struct vmb_gpadl_hdr_info *out, char *why,
			   size_t whylen);

/*
 * Check a GPADL_HEADER as above and copy out the PFNs it carries, in order
 * and without the range records: up to cap into pfns (pfns may be NULL when
 * cap is 0); out->carried says how many there are. BODY messages continue
 * the range buffer as u64 words; for a one-range GPADL they are all PFNs.
 */
int vmb_gpadl_parse_header(const void *msg, size_t len, struct vmb_gpadl_hdr_info *out,
			   uint64_t *pfns, size_t cap);
/*
 * Copy out the PFNs of a GPADL_BODY that passed vmb_msg_check() (count comes
 * from its length): up to cap into pfns, *count = how many it carries.
 * -EBADMSG if the length is not 16 + 8 * k with k >= 1.
 */
int vmb_gpadl_parse_body(const void *msg, size_t len, uint32_t *handle, uint64_t *pfns, size_t cap,
			 uint32_t *count);

/* ---- GUIDs ------------------------------------------------------------- */

#define VMB_GUID_STR_LEN 37 /* 36 chars + NUL */
char *vmb_guid_str(const struct vmb_guid *g, char buf[VMB_GUID_STR_LEN]);
int vmb_guid_parse(const char *s, struct vmb_guid *out);
bool vmb_guid_eq(const struct vmb_guid *a, const struct vmb_guid *b);
bool vmb_guid_is_null(const struct vmb_guid *g);
/* Known device class name ("Synthetic SCSI Controller"), NULL if unknown. */
const char *vmb_class_name(const struct vmb_guid *class_id);
/* Short driver-style name ("storvsc"), NULL if unknown. */
const char *vmb_class_short(const struct vmb_guid *class_id);

#endif
