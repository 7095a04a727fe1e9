/* util.c: small shared helpers. */
#include "common/util.h"
#include "common/pool.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

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

/* pi_printable: a byte 0x21..0x7e other than '\\' is kept, any other is
 * written \xHH, and the copy stops at the first byte that does not fit (a
 * kept byte needs two bytes of room with the NUL, an escape five). Kept
 * bytes map through keep_plain[], or keep_lower[] (A-Z lower-cased; the
 * escapes are lower-case already); 0 there: escaped. Eight bytes are taken
 * at once while all of them are kept and fit (an SNI per TLS connection). */
#define KEEP(c) ((c) > 0x20 && (c) < 0x7f && (c) != '\\' ? (c) : 0)
#define KEEPL(c) ((c) >= 'A' && (c) <= 'Z' ? ((c) | 0x20) : KEEP(c))
#define T4(f, b) f(b), f((b) + 1), f((b) + 2), f((b) + 3)
#define T16(f, b) T4(f, b), T4(f, (b) + 4), T4(f, (b) + 8), T4(f, (b) + 12)
#define T64(f, b) T16(f, b), T16(f, (b) + 16), T16(f, (b) + 32), T16(f, (b) + 48)
static const uint8_t keep_plain[256] = { T64(KEEP, 0), T64(KEEP, 64), T64(KEEP, 128), T64(KEEP, 192) };
static const uint8_t keep_lower[256] = { T64(KEEPL, 0), T64(KEEPL, 64), T64(KEEPL, 128), T64(KEEPL, 192) };
#undef T64
#undef T16
#undef T4
#undef KEEPL
#undef KEEP

#define ONES8 0x0101010101010101ull
#define HIGH8 0x8080808080808080ull

/* Are all eight bytes of w kept (0x21..0x7e, not '\\')? Byte-wise tests,
 * exact as to whether any byte fails: a byte >= 0x80 (w itself); given
 * none, 0x7f (w + 1 sets the high bit, no carries); < 0x21 and == '\\'
 * (the "has a byte less than n" and "has a zero byte" idioms). */
static inline int word_kept(uint64_t w)
{
	uint64_t bs = w ^ (ONES8 * '\\');
	return ((w | (w + ONES8) | ((w - ONES8 * 0x21) & ~w) | ((bs - ONES8) & ~bs)) & HIGH8) == 0;
}

size_t pi_printable_copy(char *dst, size_t dstlen, const uint8_t *src, size_t n, int lower)
{
	static const char hex[] = "0123456789abcdef";
	const uint8_t *map = lower ? keep_lower : keep_plain;
	size_t o = 0, i = 0;
	if (!dstlen)
		return 0;
	while (i < n) {
		uint8_t c;
		if (dstlen - o > 8 && n >= 8) {
			uint64_t w;
			size_t back = 0; /* bytes of the word already copied */
			if (n - i < 8) {
				/* the tail: the last eight source bytes. If all are
				 * kept, the back ones were copied one for one just
				 * before dst + o (as kept bytes), and are written
				 * again with the same values. */
				back = 8 - (n - i);
			}
			memcpy(&w, src + i - back, 8);
			if (word_kept(w)) {
				if (lower)
					w = lower64(w);
				memcpy(dst + o - back, &w, 8);
				i += 8 - back;
				o += 8 - back;
				continue;
			}
		}
		c = map[src[i]];
		if (c) {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[src[i] >> 4];
			dst[o++] = hex[src[i] & 15];
		}
		i++;
	}
	dst[o] = '\0';
	return o;
}

#define BIG_ALIGN ((size_t)2 << 20) /* a huge page on x86-64 and arm64 (4 KB pages) */

/* sizes in whole pages (munmap's unit) */
static size_t big_round(size_t size)
{
	long pg = sysconf(_SC_PAGESIZE);
	size_t a = pg > 0 ? (size_t)pg : 4096u;
	return (size + a - 1) / a * a;
}

void *pi_big_alloc(size_t want)
{
	size_t size = big_round(want), len = size + BIG_ALIGN;
	uint8_t *m, *p;
	size_t head;
	if (size < want || len < size)
		return NULL;
	m = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return NULL;
	/* the table on a huge-page boundary, what lies around it given back */
	p = (uint8_t *)(((uintptr_t)m + BIG_ALIGN - 1) & ~(uintptr_t)(BIG_ALIGN - 1));
	head = (size_t)(p - m);
	if (head)
		munmap(m, head);
	if (len - head > size)
		munmap(p + size, len - head - size);
#ifdef MADV_HUGEPAGE
	(void)madvise(p, size, MADV_HUGEPAGE); /* a hint: 4 KB pages otherwise */
#endif
	return p;
}

void pi_big_free(void *p, size_t size)
{
	if (p)
		munmap(p, big_round(size));
}

void pi_printable(char *dst, size_t dstlen, const uint8_t *src, size_t n)
{
	(void)pi_printable_copy(dst, dstlen, src, n, 0);
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
	return pi_fmix64(h);
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

/* ---- buffers kept per thread (pool.h) ---- */

#define BUF_KEEP 64                   /* buffers kept per thread, at most */
#define BUF_KEEP_BYTES (1024u * 1024u) /* and bytes */

static _Thread_local struct {
	void *p[BUF_KEEP];
	size_t len[BUF_KEEP];
	unsigned n;           /* kept: [0, n), the most recent last */
	size_t bytes;         /* their sizes together */
	int registered;       /* buf_key set: drained when the thread ends */
} bufs;

static pthread_key_t buf_key;
static pthread_once_t buf_once = PTHREAD_ONCE_INIT;
static int buf_key_ok;

static void buf_thread_end(void *unused)
{
	(void)unused;
	pi_buf_drain();
}

static void buf_key_make(void)
{
	buf_key_ok = pthread_key_create(&buf_key, buf_thread_end) == 0;
}

void *pi_buf_get(size_t len)
{
	for (unsigned i = bufs.n; i-- > 0;) {
		if (bufs.len[i] == len) {
			void *p = bufs.p[i];
			bufs.bytes -= len;
			bufs.n--;
			/* the rest keep their order (oldest first) */
			memmove(bufs.p + i, bufs.p + i + 1, (bufs.n - i) * sizeof bufs.p[0]);
			memmove(bufs.len + i, bufs.len + i + 1, (bufs.n - i) * sizeof bufs.len[0]);
			return p;
		}
	}
	return malloc(len);
}

void pi_buf_put(void *p, size_t len)
{
	if (!p)
		return;
	if (!PI_POOL_KEEP || len == 0 || len > PI_BUF_KEEP_MAX) {
		free(p);
		return;
	}
	if (!bufs.registered) { /* a thread's first: drain it at its end */
		pthread_once(&buf_once, buf_key_make);
		if (!buf_key_ok || pthread_setspecific(buf_key, &bufs) != 0) {
			free(p);
			return;
		}
		bufs.registered = 1;
	}
	while (bufs.n == BUF_KEEP || (bufs.n && bufs.bytes + len > BUF_KEEP_BYTES)) {
		/* full: the oldest go */
		free(bufs.p[0]);
		bufs.bytes -= bufs.len[0];
		bufs.n--;
		memmove(bufs.p, bufs.p + 1, bufs.n * sizeof bufs.p[0]);
		memmove(bufs.len, bufs.len + 1, bufs.n * sizeof bufs.len[0]);
	}
	bufs.p[bufs.n] = p;
	bufs.len[bufs.n] = len;
	bufs.bytes += len;
	bufs.n++;
}

void pi_buf_drain(void)
{
	while (bufs.n)
		free(bufs.p[--bufs.n]);
	bufs.bytes = 0;
}
