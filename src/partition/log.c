#include <stdarg.h>
#include <stdio.h>

#include "partition/part_priv.h"

void vmb_part_log(vmb_log_fn fn, void *ctx, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (fn)
		fn(ctx, buf);
	else
		fprintf(stderr, "vmbus partition: %s\n", buf);
}
