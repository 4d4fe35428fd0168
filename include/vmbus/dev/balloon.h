/*
 * Dynamic memory (balloon), both ends (PROTOCOL.md 8.1).
 *
 * Every message is an inband packet without COMPLETION_REQUESTED that
 * starts with struct vmb_dm_hdr. The guest negotiates a version (2.0, 1.0,
 * 0.3), reports its capabilities and then sends a STATUS_REPORT about once
 * a second. The host drives transactions, one at a time: BALLOON (the guest
 * hands pages back, in pieces of at most 4 KiB) and UNBALLOON (the host
 * returns ballooned pages). Pages handed back are freed on the host (holes
 * punched in the guest RAM memfd). Hot add is not offered: the partition's
 * RAM has a fixed size, so our guest never reports the capability and our
 * host never sends the request.
 */
#ifndef VMBUS_DEV_BALLOON_H
#define VMBUS_DEV_BALLOON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vmbus/guest.h"
#include "vmbus/host.h"

/* 525074dc-8985-46e2-8057-a307dc18a502 */
#define VMB_GUID_BALLOON                                                                           \
	VMB_GUID_INIT(0x525074dc, 0x8985, 0x46e2, 0x80, 0x57, 0xa3, 0x07, 0xdc, 0x18, 0xa5, 0x02)

#define VMB_DM_VERSION(maj, min) (((uint32_t)(maj) << 16) | (uint32_t)(min))
#define VMB_DM_VERSION_WIN7	 VMB_DM_VERSION(0, 3)
#define VMB_DM_VERSION_WIN8	 VMB_DM_VERSION(1, 0)
#define VMB_DM_VERSION_WIN10	 VMB_DM_VERSION(2, 0)

enum vmb_dm_type {
	VMB_DM_ERROR = 0,
	VMB_DM_VERSION_REQUEST = 1,
	VMB_DM_VERSION_RESPONSE = 2,
	VMB_DM_CAPS_REPORT = 3,
	VMB_DM_CAPS_RESPONSE = 4,
	VMB_DM_STATUS_REPORT = 5,
	VMB_DM_BALLOON_REQUEST = 6,
	VMB_DM_BALLOON_RESPONSE = 7,
	VMB_DM_UNBALLOON_REQUEST = 8,
	VMB_DM_UNBALLOON_RESPONSE = 9,
	VMB_DM_HOT_ADD_REQUEST = 10,
	VMB_DM_HOT_ADD_RESPONSE = 11,
	VMB_DM_INFO_MESSAGE = 12,
};

/* Largest message either side sends, and the ring size Linux uses. */
#define VMB_DM_MAX_MSG	 4096u
#define VMB_DM_RING_SIZE 16384u

struct vmb_dm_hdr {
	uint16_t type;
	uint16_t size; /* bytes including this header */
	uint32_t trans_id;
};
_Static_assert(sizeof(struct vmb_dm_hdr) == 8, "dm header");

struct vmb_dm_version_request {
	struct vmb_dm_hdr hdr;
	uint32_t version;
	uint32_t flags; /* bit 0: is_last_attempt */
};
_Static_assert(sizeof(struct vmb_dm_version_request) == 16, "dm version request");

/* VERSION_RESPONSE and CAPABILITIES_RESPONSE. */
struct vmb_dm_accept {
	struct vmb_dm_hdr hdr;
	uint64_t flags; /* bit 0: is_accepted */
};
_Static_assert(sizeof(struct vmb_dm_accept) == 16, "dm response");

#define VMB_DM_CAP_BALLOON	    (1ull << 0)
#define VMB_DM_CAP_HOT_ADD	    (1ull << 1)
#define VMB_DM_CAP_HOT_ADD_ALIGN(x) (((uint64_t)(x)&0xf) << 2)

struct vmb_dm_caps {
	struct vmb_dm_hdr hdr;
	uint64_t caps;
	uint64_t min_page_cnt;
	uint64_t max_page_number;
};
_Static_assert(sizeof(struct vmb_dm_caps) == 32, "dm capabilities");

struct vmb_dm_status {
	struct vmb_dm_hdr hdr;
	uint64_t num_avail;
	uint64_t num_committed;
	uint64_t page_file_size;
	uint64_t zero_free;
	uint32_t page_file_writes;
	uint32_t io_diff;
};
_Static_assert(sizeof(struct vmb_dm_status) == 48, "dm status");

struct vmb_dm_balloon {
	struct vmb_dm_hdr hdr;
	uint32_t num_pages;
	uint32_t reserved;
};
_Static_assert(sizeof(struct vmb_dm_balloon) == 16, "dm balloon request");

/*
 * BALLOON_RESPONSE: word = bit 0 more_pages, bits 1-31 range_count.
 * UNBALLOON_REQUEST: the same 16 bytes, but word0 holds more_pages (bit 0)
 * and word1 the range count. Ranges follow either way.
 */
struct vmb_dm_ranges_hdr {
	struct vmb_dm_hdr hdr;
	uint32_t word0;
	uint32_t word1;
};
_Static_assert(sizeof(struct vmb_dm_ranges_hdr) == 16, "dm ranges header");

/* Ranges of one message piece: (4096 - 16) / 8. */
#define VMB_DM_MAX_RANGES ((VMB_DM_MAX_MSG - sizeof(struct vmb_dm_ranges_hdr)) / 8)

/* A page range: bits 0-39 first 4 KiB frame, bits 40-63 page count. */
#define VMB_DM_RANGE_MAX_PAGES ((1u << 24) - 1)
static inline uint64_t vmb_dm_range(uint64_t pfn, uint32_t count)
{
	return (pfn & ((1ull << 40) - 1)) | ((uint64_t)count << 40);
}
static inline uint64_t vmb_dm_range_pfn(uint64_t r)
{
	return r & ((1ull << 40) - 1);
}
static inline uint32_t vmb_dm_range_count(uint64_t r)
{
	return (uint32_t)(r >> 40);
}

struct vmb_dm_hot_add_response {
	struct vmb_dm_hdr hdr;
	uint32_t page_count;
	uint32_t result; /* 1 success, 0 failure */
};
_Static_assert(sizeof(struct vmb_dm_hot_add_response) == 16, "dm hot add response");

struct vmb_dm_info {
	struct vmb_dm_hdr hdr;
	uint32_t reserved;
	uint32_t info_size;
};
_Static_assert(sizeof(struct vmb_dm_info) == 16, "dm info header");

/* ---- parsing (both ends; never trusts the peer) ---------------------- */

/*
 * Check a received payload of len bytes: a header whose size covers at
 * least the header, does not exceed len and leaves only the packet's
 * 8-byte padding unused. *hdr is a copy. -EBADMSG otherwise.
 */
int vmb_dm_parse_hdr(const void *buf, size_t len, struct vmb_dm_hdr *hdr);
/*
 * The fixed part of a message of type `type`: hdr->size at least `min`
 * bytes; copies min bytes to out. -EBADMSG when shorter.
 */
int vmb_dm_parse_fixed(const void *buf, size_t len, uint16_t type, size_t min, void *out);

/* A parsed piece of ranges: BALLOON_RESPONSE or UNBALLOON_REQUEST. */
struct vmb_dm_piece {
	bool more;
	uint32_t count;
	uint64_t ranges[VMB_DM_MAX_RANGES];
};
/*
 * Parse a BALLOON_RESPONSE (type 7) or UNBALLOON_REQUEST (type 8): the
 * range count must match the size exactly, fit one 4 KiB piece, and
 * every range must hold at least one page.
 */
int vmb_dm_parse_ranges(const void *buf, size_t len, uint16_t type, struct vmb_dm_piece *out);

/*
 * Ballooned-page bookkeeping (a bitmap over guest RAM), shared by the
 * host's checks and the guest's. claim marks every range of a piece as
 * ballooned, all or nothing: -EINVAL when a range leaves RAM, touches a
 * page already ballooned, overlaps another range of the piece, or the
 * piece would take the total over `limit` pages.
 */
struct vmb_dm_pages {
	uint64_t *bits;
	uint64_t pages; /* guest RAM pages */
	uint64_t count; /* ballooned now */
};
int vmb_dm_pages_init(struct vmb_dm_pages *p, uint64_t ram_pages);
void vmb_dm_pages_fini(struct vmb_dm_pages *p);
int vmb_dm_pages_claim(struct vmb_dm_pages *p, const uint64_t *ranges, uint32_t n, uint64_t limit);
/* Release: every page of every range must be ballooned (all or nothing). */
int vmb_dm_pages_release(struct vmb_dm_pages *p, const uint64_t *ranges, uint32_t n);
/*
 * Collect up to `max_pages` ballooned pages as at most `max_ranges` ranges
 * starting the search at *cursor (advanced); returns the range count.
 * The pages stay ballooned until released.
 */
uint32_t vmb_dm_pages_collect(const struct vmb_dm_pages *p, uint64_t *cursor, uint64_t max_pages,
			      uint64_t *ranges, uint32_t max_ranges);

/* ---- host (VSP) ------------------------------------------------------- */

struct vmb_balloon_host_config {
	uint32_t max_version; /* newest version accepted; 0 = 2.0 */
	uint32_t min_version; /* oldest accepted; 0 = 0.3 */
	int timeout_ms;	      /* per transaction; 0 = 10 s */
};

struct vmb_balloon_vsp;
int vmb_balloon_vsp_add(struct vmb_host *h, const struct vmb_balloon_host_config *c,
			struct vmb_balloon_vsp **out);
/* `vmbus ctl balloon [inflate N | deflate N]`. */
int vmb_balloon_register_ctl(struct vmb_host *h, struct vmb_balloon_vsp *b);

/*
 * Ask the guest for `pages` pages and free them on the host; *got = pages
 * the guest gave (it may give fewer). Waits for the guest: never call it
 * on the host loop thread. -ENOTCONN before the protocol is up, -EBUSY
 * while another transaction runs, -ETIMEDOUT, -EPROTO when the guest
 * answered garbage (pages validly given before that stay counted).
 */
int vmb_balloon_inflate(struct vmb_balloon_vsp *b, uint32_t pages, uint64_t *got);
/* Give up to `pages` ballooned pages back to the guest (zeroed). */
int vmb_balloon_deflate(struct vmb_balloon_vsp *b, uint32_t pages, uint64_t *returned);

struct vmb_balloon_state {
	bool ready;	  /* version and capabilities accepted */
	uint32_t version; /* negotiated */
	uint64_t caps;
	uint64_t status_reports;
	uint64_t num_avail, num_committed; /* from the last status report */
	uint64_t ballooned;		   /* pages held by the host now */
	uint64_t ram_pages;
	uint64_t failed;	 /* transactions failed (garbage, timeout) */
	uint64_t resident_bytes; /* guest RAM backed by host memory */
};
void vmb_balloon_vsp_state(struct vmb_balloon_vsp *b, struct vmb_balloon_state *st);

/* ---- guest (VSC) ------------------------------------------------------ */

struct vmb_balloon_guest_config {
	uint32_t max_version;	/* newest version tried; 0 = 2.0 */
	int status_ms;		/* status report period; 0 = 1000 */
	uint64_t reserve_pages; /* never balloon the last free pages; 0 = 2048 */
	/*
	 * Write every page before handing it over, as a guest whose
	 * reclaimed pages were in use would have them: tests then see the
	 * host free memory that really was populated.
	 */
	bool dirty;
};

struct vmb_balloon_guest;
int vmb_balloon_guest_register(struct vmb_guest *g, const struct vmb_balloon_guest_config *c,
			       struct vmb_balloon_guest **out);
/* Free after vmb_guest_destroy(). */
void vmb_balloon_guest_free(struct vmb_balloon_guest *bg);

struct vmb_balloon_guest_state {
	bool ready;
	uint32_t version;
	uint64_t ballooned; /* pages held by the balloon */
	uint64_t status_sent;
	uint64_t refused; /* malformed or invalid host requests */
};
void vmb_balloon_guest_state(struct vmb_balloon_guest *bg, struct vmb_balloon_guest_state *st);

#endif
