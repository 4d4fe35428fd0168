/*
 * Control-message trace as pcapng (docs/trace.md): link type USER0 (147);
 * each packet = 16-byte header {u32 direction (0 guest->host, 1 host->guest),
 * u32 vp, u32 connection id (G->H) or SINT (H->G), u32 reserved} followed by
 * the raw message starting at the 8-byte channel message header.
 * Thread safe: one writer may be shared by several threads.
 */
#ifndef VMBUS_TRACE_H
#define VMBUS_TRACE_H

#include <stddef.h>
#include <stdint.h>

#define VMB_TRACE_LINKTYPE 147

struct vmb_trace;

/* Create/truncate path and write the section header + interface block. */
int vmb_trace_open(const char *path, struct vmb_trace **out);
void vmb_trace_close(struct vmb_trace *t);
/* dir: 0 = guest->host, 1 = host->guest; id = connection id or SINT. */
int vmb_trace_msg(struct vmb_trace *t, uint32_t dir, uint32_t vp, uint32_t id,
		  const void *msg, size_t len);

#endif
