/* UTF-16LE <-> UTF-8 for the IC services (wire strings vs. files and ctl). */
#include <errno.h>
#include <stdint.h>

#include "vmbus/dev/ic_services.h"

static int put_utf8(uint32_t cp, char *out, size_t cap, size_t *n)
{
	uint8_t b[4];
	size_t k;

	if (cp < 0x80) {
		b[0] = (uint8_t)cp;
		k = 1;
	} else if (cp < 0x800) {
		b[0] = (uint8_t)(0xc0 | (cp >> 6));
		b[1] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 2;
	} else if (cp < 0x10000) {
		b[0] = (uint8_t)(0xe0 | (cp >> 12));
		b[1] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[2] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | (cp >> 18));
		b[1] = (uint8_t)(0x80 | ((cp >> 12) & 0x3f));
		b[2] = (uint8_t)(0x80 | ((cp >> 6) & 0x3f));
		b[3] = (uint8_t)(0x80 | (cp & 0x3f));
		k = 4;
	}
	/* Keep one byte for the terminator. */
	if (*n + k >= cap)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < k; i++)
		out[(*n)++] = (char)b[i];
	return 0;
}

int vmb_utf16_to_utf8(const uint8_t *in, size_t units, char *out, size_t cap)
{
	size_t n = 0;
	int rc;

	if (cap == 0)
		return -ENAMETOOLONG;
	for (size_t i = 0; i < units; i++) {
		uint32_t u = (uint32_t)in[2 * i] | (uint32_t)in[2 * i + 1] << 8;

		if (u == 0)
			break;
		if (u >= 0xdc00 && u < 0xe000)
			return -EILSEQ;
		if (u >= 0xd800 && u < 0xdc00) {
			uint32_t lo;

			if (++i == units)
				return -EILSEQ;
			lo = (uint32_t)in[2 * i] | (uint32_t)in[2 * i + 1] << 8;
			if (lo < 0xdc00 || lo >= 0xe000)
				return -EILSEQ;
			u = 0x10000 + ((u - 0xd800) << 10) + (lo - 0xdc00);
		}
		rc = put_utf8(u, out, cap, &n);
		if (rc < 0)
			return rc;
	}
	out[n] = '\0';
	return (int)n;
}

/* One code point from UTF-8; rejects overlong forms and surrogates. */
static int get_utf8(const uint8_t **pp, uint32_t *cp)
{
	const uint8_t *p = *pp;
	uint32_t c = p[0], min;
	int extra;

	if (c < 0x80) {
		*cp = c;
		*pp = p + 1;
		return 0;
	}
	if ((c & 0xe0) == 0xc0) {
		extra = 1, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		extra = 2, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		extra = 3, c &= 0x07, min = 0x10000;
	} else {
		return -EILSEQ;
	}
	for (int i = 1; i <= extra; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -EILSEQ;
		c = c << 6 | (p[i] & 0x3fu);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c < 0xe000))
		return -EILSEQ;
	*cp = c;
	*pp = p + 1 + extra;
	return 0;
}

static int put_unit(uint32_t u, uint8_t *out, size_t cap, size_t *n)
{
	if (*n + 2 > cap)
		return -ENAMETOOLONG;
	out[(*n)++] = (uint8_t)(u & 0xff);
	out[(*n)++] = (uint8_t)(u >> 8);
	return 0;
}

int vmb_utf8_to_utf16(const char *in, uint8_t *out, size_t cap)
{
	const uint8_t *p = (const uint8_t *)in;
	size_t n = 0;
	uint32_t cp;
	int rc = 0;

	while (*p && rc == 0) {
		rc = get_utf8(&p, &cp);
		if (rc < 0)
			return rc;
		if (cp >= 0x10000) {
			cp -= 0x10000;
			rc = put_unit(0xd800 + (cp >> 10), out, cap, &n);
			if (rc == 0)
				rc = put_unit(0xdc00 + (cp & 0x3ff), out, cap, &n);
		} else {
			rc = put_unit(cp, out, cap, &n);
		}
	}
	if (rc == 0)
		rc = put_unit(0, out, cap, &n);
	return rc < 0 ? rc : (int)n;
}
