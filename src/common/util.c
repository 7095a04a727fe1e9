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

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t mix64(uint64_t k)
{
	k *= 0x87c37b91114253d5ull;
	k = rotl64(k, 31);
	return k * 0x4cf5ad432745937full;
}

/* ASCII A-Z of eight bytes to a-z at once (other bytes unchanged). */
static inline uint64_t lower64(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t b7 = w & (0x7f * ones);
	uint64_t above_z = b7 + (0x7f - 'Z') * ones; /* high bit: byte > 'Z' */
	uint64_t from_a = b7 + (0x80 - 'A') * ones;  /* high bit: byte >= 'A' */
	uint64_t upper = (from_a ^ above_z) & ~w & (0x80 * ones);
	return w | (upper >> 2);
}

void pi_lower(char *s)
{
	size_t n = strlen(s), i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		w = lower64(w);
		memcpy(s + i, &w, 8);
	}
	for (; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

static inline uint64_t hash_impl(const void *data, size_t len, uint64_t seed, int lower)
{
	/* 8 bytes a step (a multiply-rotate mix in the manner of MurmurHash3's
	 * 64-bit block step), four independent lanes over 32-byte blocks for
	 * long inputs (DER chains of kilobytes are hashed per connection), the
	 * tail zero-padded, then a full avalanche. */
	const uint8_t *p = data;
	uint64_t h = 1469598103934665603ull ^ seed ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull);
	uint64_t k;
	if (len >= 64) {
		uint64_t l[4] = { h, h ^ 0x243f6a8885a308d3ull, h ^ 0x13198a2e03707344ull, h ^ 0xa4093822299f31d0ull };
		while (len >= 32) {
			for (int i = 0; i < 4; i++) {
				memcpy(&k, p + 8 * i, 8);
				if (lower)
					k = lower64(k);
				l[i] = rotl64(l[i] ^ mix64(k), 27) * 5 + 0x52dce729;
			}
			p += 32;
			len -= 32;
		}
		h = rotl64(l[0], 1) ^ rotl64(l[1], 7) ^ rotl64(l[2], 12) ^ rotl64(l[3], 18);
		h *= 0x9e3779b97f4a7c15ull;
	}
	while (len >= 8) {
		memcpy(&k, p, 8);
		if (lower)
			k = lower64(k);
		h ^= mix64(k);
		h = rotl64(h, 27) * 5 + 0x52dce729;
		p += 8;
		len -= 8;
	}
	if (len) {
		/* the last 1..7 bytes, zero-padded, little-endian (memcpy with a
		 * variable length was a library call per hash) */
		k = 0;
		switch (len) {
		case 7: k |= (uint64_t)p[6] << 48; /* fall through */
		case 6: k |= (uint64_t)p[5] << 40; /* fall through */
		case 5: k |= (uint64_t)p[4] << 32; /* fall through */
		case 4: k |= (uint64_t)p[3] << 24; /* fall through */
		case 3: k |= (uint64_t)p[2] << 16; /* fall through */
		case 2: k |= (uint64_t)p[1] << 8;  /* fall through */
		default: k |= p[0];
		}
		if (lower)
			k = lower64(k);
		h ^= mix64(k);
	}
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

uint64_t pi_hash(const void *data, size_t len, uint64_t seed)
{
	return hash_impl(data, len, seed, 0);
}

uint64_t pi_hash_lower(const char *s, size_t len, uint64_t seed)
{
	return hash_impl(s, len, seed, 1);
}

/* Length of a valid UTF-8 sequence at s (n bytes), 0 if invalid, and its
 * code point in *cp. */
static size_t utf8_seq(const uint8_t *s, size_t n, uint32_t *cp)
{
	size_t len;
	uint32_t c = s[0];
	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0)
		len = 2, c &= 0x1f;
	else if ((c & 0xf0) == 0xe0)
		len = 3, c &= 0x0f;
	else if ((c & 0xf8) == 0xf0)
		len = 4, c &= 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && c < 0x80) || (len == 3 && c < 0x800) || (len == 4 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return 0;
	*cp = c;
	return len;
}

void pi_term_safe(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *s = (const uint8_t *)src;
	size_t n = strlen(src), o = 0;
	if (!dstlen)
		return;
	for (size_t i = 0; i < n;) {
		uint32_t cp = 0;
		size_t k = utf8_seq(s + i, n - i, &cp);
		int escape = k == 0 || cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == '\\' ||
		             (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069); /* bidi overrides */
		if (!escape) {
			if (o + k >= dstlen)
				break;
			memcpy(dst + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		/* escape each byte of the offending sequence */
		size_t m = k ? k : 1;
		if (o + 4 * m >= dstlen)
			break;
		for (size_t j = 0; j < m; j++) {
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[s[i + j] >> 4];
			dst[o++] = hex[s[i + j] & 15];
		}
		i += m;
	}
	dst[o] = '\0';
}
