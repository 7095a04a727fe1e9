/* util.c: small shared helpers. */
#include "common/util.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static uint64_t warn_count;
static int warn_quiet;

size_t pi_strlcpy(char *dst, const char *src, size_t dstlen)
{
	size_t n = strlen(src);
	if (dstlen) {
		size_t c = n < dstlen - 1 ? n : dstlen - 1;
		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

void pi_printable(char *dst, size_t dstlen, const uint8_t *src, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (!dstlen)
		return;
	for (size_t i = 0; i < n; i++) {
		uint8_t c = src[i];
		if (c > 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[c >> 4];
			dst[o++] = hex[c & 15];
		}
	}
	dst[o] = '\0';
}

void pi_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

void pi_warn(const char *fmt, ...)
{
	va_list ap;
	warn_count++;
	if (warn_quiet)
		return;
	fputs("pinspect: warning: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

uint64_t pi_warn_count(void)
{
	return warn_count;
}

void pi_set_quiet(int quiet)
{
	warn_quiet = quiet;
}

uint64_t pi_hash(const void *data, size_t len, uint64_t seed)
{
	const uint8_t *p = data;
	uint64_t h = 1469598103934665603ull ^ seed;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 1099511628211ull;
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}
