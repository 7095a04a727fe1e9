/* jw.c: a small streaming JSON writer (RFC 8259). */
#include "outputs/jw.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

void jw_init(struct jw *w, FILE *f, int pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
	w->first[0] = 1;
}

/* A writer that gathers its output in a buffer of its own and hands it to
 * the FILE in large blocks: for long streamed documents. Nothing else may
 * write to f until jw_flush(); without memory it writes straight to f.
 * The blocks are written by the thread that fills them: a writer thread of
 * their own (double buffering) was tried, and with the sinks on their own
 * thread it made analyze slower (four busy threads on two cores: 0.86 s
 * against 0.75 s on the 1 GB bench capture); the sink thread has the time. */
void jw_init_buffered(struct jw *w, FILE *f, int pretty)
{
	jw_init(w, f, pretty);
	w->buf = malloc(JW_BUF_SIZE);
}

/* The buffer is full: write it out. */
static void flush_full(struct jw *w)
{
	if (!w->blen)
		return;
	fwrite(w->buf, 1, w->blen, w->f);
	w->blen = 0;
}

void jw_flush(struct jw *w)
{
	if (w->buf && w->blen) {
		fwrite(w->buf, 1, w->blen, w->f);
		w->blen = 0;
	}
}

void jw_release(struct jw *w)
{
	jw_flush(w);
	free(w->buf);
	w->buf = NULL;
}

/* Where the output is gathered: the big buffer, or without one the small
 * buffer that done() writes to f at the end of every call. */
static inline char *base(struct jw *w)
{
	return w->buf ? w->buf : w->sbuf;
}

static inline size_t cap(const struct jw *w)
{
	return w->buf ? JW_BUF_SIZE : JW_SBUF_SIZE;
}

/* Hand on what was gathered: the buffer is full, or the call is over. */
static void drain(struct jw *w)
{
	if (w->buf) {
		flush_full(w);
	} else if (w->blen) {
		fwrite(w->sbuf, 1, w->blen, w->f);
		w->blen = 0;
	}
}

static char *room_slow(struct jw *w, size_t n)
{
	if (cap(w) - w->blen < n)
		drain(w);
	return base(w) + w->blen;
}

/* Room for n more bytes (n <= JW_SBUF_SIZE): where to write them. */
static inline char *room(struct jw *w, size_t n)
{
	if (w->buf && JW_BUF_SIZE - w->blen >= n)
		return w->buf + w->blen;
	return room_slow(w, n);
}

/* The bytes from p0 (from room()) to end were written. */
static inline void commit(struct jw *w, const char *p0, const char *end)
{
	w->blen += (size_t)(end - p0);
}

/* The end of a public call: an unbuffered writer's output goes to f now. */
static inline void done(struct jw *w)
{
	if (!w->buf && w->blen)
		drain(w);
}

/* n bytes as they are, in pieces where they do not fit. */
static void put(struct jw *w, const char *p, size_t n)
{
	while (n) {
		size_t a = cap(w) - w->blen;
		if (!a) {
			drain(w);
			a = cap(w) - w->blen;
		}
		if (a > n)
			a = n;
		memcpy(base(w) + w->blen, p, a);
		w->blen += a;
		p += a;
		n -= a;
	}
}

/* The most pre() writes: a comma, a newline and the indentation. */
#define PRE_MAX (2 + 2 * JW_MAX_DEPTH)

static inline char *nl_indent(const struct jw *w, char *p)
{
	size_t n = 2 * (size_t)w->depth;
	*p++ = '\n';
	memset(p, ' ', n);
	return p + n;
}

/* Before a value or key at the current level, at p: comma and indentation.
 * After a key, the value follows directly. Returns the end. */
static inline char *pre(struct jw *w, char *p)
{
	if (w->after_key) {
		w->after_key = 0;
		return p;
	}
	if (w->depth > 0) {
		*p = ',';
		p += !w->first[w->depth];
		w->first[w->depth] = 0;
		if (w->pretty)
			p = nl_indent(w, p);
	}
	return p;
}

static void open_(struct jw *w, char c)
{
	char *p0 = room(w, PRE_MAX + 1), *p = pre(w, p0);
	*p++ = c;
	commit(w, p0, p);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->first[w->depth] = 1;
	done(w);
}

static void close_(struct jw *w, char c)
{
	int empty = w->first[w->depth];
	char *p0 = room(w, PRE_MAX + 2), *p = p0;
	if (w->depth > 0)
		w->depth--;
	if (!empty && w->pretty)
		p = nl_indent(w, p);
	*p++ = c;
	if (w->depth == 0 && w->pretty)
		*p++ = '\n';
	commit(w, p0, p);
	done(w);
}

void jw_obj_open(struct jw *w) { open_(w, '{'); }
void jw_obj_close(struct jw *w) { close_(w, '}'); }
void jw_arr_open(struct jw *w) { open_(w, '['); }
void jw_arr_close(struct jw *w) { close_(w, ']'); }

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* 1 if byte c is written as it is only after a closer look: a control
 * character, '"', '\\', DEL, or any byte of a multibyte sequence. */
static inline int special(unsigned char c)
{
	return c < 0x20 || c >= 0x7f || c == '"' || c == '\\';
}

#ifdef __SSE2__
/* Bit i set if byte i of v is special(). */
static inline unsigned special16(__m128i v)
{
	/* c + 1 (wrapping), signed, is below 0x21 for c < 0x20, and negative
	 * or 0 for c >= 0x7f: both ranges in one compare */
	__m128i lt = _mm_cmplt_epi8(_mm_add_epi8(v, _mm_set1_epi8(1)), _mm_set1_epi8(0x21));
	__m128i q = _mm_cmpeq_epi8(v, _mm_set1_epi8('"'));
	__m128i bs = _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'));
	return (unsigned)_mm_movemask_epi8(_mm_or_si128(lt, _mm_or_si128(q, bs)));
}

/* Copies the plain bytes at the start of s[0..n) to d and returns how many
 * there are (d[0..n) is scratch space: bytes after those may be written too). */
static inline __attribute__((always_inline)) size_t plain_copy(char *d, const unsigned char *s, size_t n)
{
	unsigned m;
	if (n >= 16) {
		size_t i = 0;
		for (;;) {
			/* the last block may overlap the one before, whose bytes were
			 * all plain: its first special byte is the string's */
			size_t at = i + 16 <= n ? i : n - 16;
			__m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + at));
			_mm_storeu_si128((__m128i *)(void *)(d + at), v);
			m = special16(v);
			if (m)
				return at + (size_t)__builtin_ctz(m);
			if (at + 16 >= n)
				return n;
			i = at + 16;
		}
	}
	if (n >= 8) {
		/* the first 8 bytes and the last 8, overlapping */
		__m128i a = _mm_loadl_epi64((const __m128i *)(const void *)s);
		__m128i b = _mm_loadl_epi64((const __m128i *)(const void *)(s + n - 8));
		_mm_storel_epi64((__m128i *)(void *)d, a);
		_mm_storel_epi64((__m128i *)(void *)(d + n - 8), b);
		m = special16(_mm_unpacklo_epi64(a, b));
		if (!m)
			return n;
		if (m & 0xff)
			return (size_t)__builtin_ctz(m);
		return n - 8 + (size_t)__builtin_ctz(m >> 8);
	}
	if (n >= 4) {
		uint32_t a, b;
		memcpy(&a, s, 4);
		memcpy(&b, s + n - 4, 4);
		memcpy(d, &a, 4);
		memcpy(d + n - 4, &b, 4);
		m = special16(_mm_unpacklo_epi32(_mm_cvtsi32_si128((int)a), _mm_cvtsi32_si128((int)b))) & 0xff;
		if (!m)
			return n;
		if (m & 0xf)
			return (size_t)__builtin_ctz(m);
		return n - 4 + (size_t)__builtin_ctz(m >> 4);
	}
	for (size_t i = 0; i < n; i++) {
		if (special(s[i]))
			return i;
		d[i] = (char)s[i];
	}
	return n;
}
#else
#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/* Nonzero if one of the 8 bytes of x is special(). Each test is exact about
 * whether such a byte exists (a borrow or carry only marks bytes after a
 * byte that is itself marked). */
static inline uint64_t special8(uint64_t x)
{
	uint64_t q = x ^ (ONES * '"'), b = x ^ (ONES * '\\');
	uint64_t lt = (x - ONES * 0x20) & ~x;  /* < 0x20 (high bit of x: below) */
	uint64_t hi = (x + ONES) | x;          /* >= 0x7f */
	uint64_t eq = ((q - ONES) & ~q) | ((b - ONES) & ~b);
	return (lt | hi | eq) & HIGHS;
}

/* Copies the plain bytes at the start of s[0..n) to d and returns how many
 * there are (d[0..n) is scratch space: bytes after those may be written too). */
static inline __attribute__((always_inline)) size_t plain_copy(char *d, const unsigned char *s, size_t n)
{
	size_t i = 0;
	uint64_t x;
	for (; i + 8 <= n; i += 8) {
		memcpy(&x, s + i, 8);
		if (special8(x))
			break;
		memcpy(d + i, &x, 8);
	}
	for (; i < n; i++) {
		if (special(s[i]))
			break;
		d[i] = (char)s[i];
	}
	return i;
}
#endif

/* *s[0] is special(): write it at d (a valid UTF-8 sequence as it is, '"'
 * and '\\' after a backslash, any other byte as \u00XX: 6 bytes at most per
 * byte taken), move *s and *n past what was taken, return the new end. */
static inline char *escape_special(char *d, const unsigned char **s, size_t *n)
{
	static const char hex[] = "0123456789abcdef";
	size_t k = utf8_len(*s, *n);
	unsigned char c = (*s)[0];
	if (k > 1) {
		memcpy(d, *s, k);
		*s += k;
		*n -= k;
		return d + k;
	}
	if (k == 1 && (c == '"' || c == '\\')) {
		d[0] = '\\';
		d[1] = (char)c;
		d += 2;
	} else {
		memcpy(d, "\\u00", 4);
		d[4] = hex[c >> 4];
		d[5] = hex[c & 15];
		d += 6;
	}
	(*s)++;
	(*n)--;
	return d;
}

/* n bytes as a JSON string body (no quotes): printable ASCII and valid UTF-8
 * as they are, '"' and '\\' after a backslash, and control characters, DEL
 * and each byte of invalid UTF-8 as \u00XX. */
static void put_escaped(struct jw *w, const unsigned char *s, size_t n)
{
	while (n) {
		size_t a = cap(w) - w->blen, m, r;
		char *d, *d0;
		if (a < 6) {
			drain(w);
			a = cap(w) - w->blen;
		}
		d = d0 = base(w) + w->blen;
		m = n < a ? n : a;
		r = plain_copy(d, s, m);
		d += r;
		s += r;
		n -= r;
		a -= r;
		if (r < m && a >= 6) /* s[0] is special: judged on all that is left */
			d = escape_special(d, &s, &n);
		commit(w, d0, d);
	}
}

/* The same into a caller buffer (pi_escape_text): a piece that does not fit
 * is left out. Returns the bytes written. */
static size_t escape(const char *s, size_t n, char *outb, size_t outlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	char tmp[8];
	for (size_t i = 0; i < n;) {
		size_t k = utf8_len(p + i, n - i);
		size_t tl = 0;
		if (k == 1 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\' && p[i] != 0x7f) {
			tmp[tl++] = (char)p[i];
		} else if (k == 1 && (p[i] == '"' || p[i] == '\\')) {
			tmp[tl++] = '\\';
			tmp[tl++] = (char)p[i];
		} else if (k > 1) {
			if (o + k < outlen) {
				memcpy(outb + o, p + i, k);
				o += k;
			}
			i += k;
			continue;
		} else {
			tmp[tl++] = '\\';
			tmp[tl++] = 'u';
			tmp[tl++] = '0';
			tmp[tl++] = '0';
			tmp[tl++] = hex[p[i] >> 4];
			tmp[tl++] = hex[p[i] & 15];
		}
		if (o + tl < outlen) {
			memcpy(outb + o, tmp, tl);
			o += tl;
		}
		i++;
	}
	if (outlen)
		outb[o < outlen ? o : outlen - 1] = '\0';
	return o;
}

size_t pi_escape_text(const char *s, char *out, size_t outlen)
{
	return escape(s, strlen(s), out, outlen);
}

void jw_qkey_slow(struct jw *w, const char *q, size_t n)
{
	char *p0 = room(w, PRE_MAX);
	commit(w, p0, pre(w, p0));
	put(w, q, n);
	if (w->pretty)
		put(w, " ", 1);
	w->after_key = 1;
	done(w);
}

void jw_keyn(struct jw *w, const char *key, size_t n)
{
	char *p0 = room(w, PRE_MAX + 1), *p = pre(w, p0);
	*p++ = '"';
	commit(w, p0, p);
	put_escaped(w, (const unsigned char *)key, n);
	p = p0 = room(w, 3);
	*p++ = '"';
	*p++ = ':';
	if (w->pretty)
		*p++ = ' ';
	commit(w, p0, p);
	w->after_key = 1;
	done(w);
}

/* The rest of a string from s[0..n) on, and its closing quote. */
static void strn_rest(struct jw *w, const char *s, size_t n)
{
	char *p;
	put_escaped(w, (const unsigned char *)s, n);
	p = room(w, 1);
	*p = '"';
	w->blen++;
	done(w);
}

static inline void strn_(struct jw *w, const char *s, size_t n)
{
	char *p0, *p;
	size_t r;
	if (w->buf && n <= JW_BUF_SIZE && JW_BUF_SIZE - w->blen >= PRE_MAX + 2 + n) {
		/* the common case: it fits; plain text is copied at once */
		p0 = w->buf + w->blen;
		p = pre(w, p0);
		*p++ = '"';
		r = plain_copy(p, (const unsigned char *)s, n);
		if (r == n) {
			p[n] = '"';
			commit(w, p0, p + n + 1);
			return;
		}
		commit(w, p0, p + r);
		strn_rest(w, s + r, n - r);
		return;
	}
	p0 = room(w, PRE_MAX + 1);
	p = pre(w, p0);
	*p++ = '"';
	commit(w, p0, p);
	strn_rest(w, s, n);
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	strn_(w, s, n);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	strn_(w, s, strlen(s));
}

static const char d2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                        "8081828384858687888990919293949596979899";

/* Decimal digits of v at p, without printf; the end. */
char *jw_put_u64(char *p, uint64_t v)
{
	static const uint64_t p10[20] = { 1ull, 10ull, 100ull, 1000ull, 10000ull, 100000ull, 1000000ull,
	                                  10000000ull, 100000000ull, 1000000000ull, 10000000000ull,
	                                  100000000000ull, 1000000000000ull, 10000000000000ull,
	                                  100000000000000ull, 1000000000000000ull, 10000000000000000ull,
	                                  100000000000000000ull, 1000000000000000000ull,
	                                  10000000000000000000ull };
	/* digits: about bits * log10(2) (1233 / 4096, at most 19), one more
	 * when v reaches the next power of ten; v | 1 has as many digits as v
	 * and one at least (test_jw checks every boundary) */
	unsigned bits = 64 - (unsigned)__builtin_clzll(v | 1);
	unsigned t = (bits * 1233) >> 12;
	char *e = p + t + ((v | 1) >= p10[t]), *q = e;
	while (v >= 100) {
		uint64_t h = v / 100;
		q -= 2;
		memcpy(q, d2 + 2 * (v - 100 * h), 2);
		v = h;
	}
	if (v >= 10)
		memcpy(q - 2, d2 + 2 * v, 2);
	else
		q[-1] = (char)('0' + v);
	return e;
}

/* v (neg: after a '-') at p; the end. */
static char *put_i(char *p, uint64_t v, int neg)
{
	*p = '-';
	return jw_put_u64(p + neg, v);
}

void jw_int(struct jw *w, int64_t v)
{
	char *p0 = room(w, PRE_MAX + 24);
	commit(w, p0, put_i(pre(w, p0), v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0));
	done(w);
}

void jw_uint(struct jw *w, uint64_t v)
{
	char *p0 = room(w, PRE_MAX + 24);
	commit(w, p0, jw_put_u64(pre(w, p0), v));
	done(w);
}

/* v with `decimals` digits after the point at p, as printf's "%.*f"; the
 * end, or NULL when printf must decide (the rounding is too close to call,
 * or the number is large). printf's own is exact, half to even. Writes 18
 * bytes at most. */
static char *fixed(char *p, double v, int decimals)
{
	static const uint64_t p10[] = { 1, 10, 100, 1000, 10000, 100000, 1000000 };
	double sc, fr;
	uint64_t u, fp;
	if (decimals < 0 || decimals > 6 || !(fabs(v) < 1e9))
		return NULL;
	sc = fabs(v) * (double)p10[decimals];
	/* 0 <= sc < 1e15 < 2^53: the conversion truncates, which is floor(),
	 * and u is exact as a double */
	u = (uint64_t)sc;
	fr = sc - (double)u;
	if (fabs(fr - 0.5) < 1e-6)
		return NULL;
	u += fr > 0.5;
	if (signbit(v))
		*p++ = '-';
	p = jw_p_uint(p, u / p10[decimals]);
	if (decimals) {
		fp = u % p10[decimals];
		*p = '.';
		for (int d = decimals; d > 0; d--) {
			p[d] = (char)('0' + fp % 10);
			fp /= 10;
		}
		p += decimals + 1;
	}
	return p;
}

char *jw_p_double(char *p, double v, int decimals)
{
	char b[JW_P_DOUBLE_MAX], *e;
	int k;
	size_t n;
	if (!isfinite(v))
		return jw_p_null(p);
	if ((e = fixed(p, v, decimals)) != NULL)
		return e;
	/* what does not fit in b is cut: the number stays a number */
	k = snprintf(b, sizeof(b), "%.*f", decimals, v);
	n = k > 0 ? ((size_t)k < sizeof(b) ? (size_t)k : sizeof(b) - 1) : 0;
	memcpy(p, b, n);
	return p + n;
}

void jw_double(struct jw *w, double v, int decimals)
{
	char *p0 = room(w, PRE_MAX + JW_P_DOUBLE_MAX);
	commit(w, p0, jw_p_double(pre(w, p0), v, decimals));
	done(w);
}

void jw_bool(struct jw *w, int v)
{
	char *p0 = room(w, PRE_MAX + 5), *p = pre(w, p0);
	if (v) {
		memcpy(p, "true", 4);
		p += 4;
	} else {
		memcpy(p, "false", 5);
		p += 5;
	}
	commit(w, p0, p);
	done(w);
}

void jw_null(struct jw *w)
{
	char *p0 = room(w, PRE_MAX + 4), *p = pre(w, p0);
	memcpy(p, "null", 4);
	commit(w, p0, p + 4);
	done(w);
}

void jw_raw(struct jw *w, const char *json)
{
	char *p0 = room(w, PRE_MAX);
	commit(w, p0, pre(w, p0));
	put(w, json, strlen(json));
	done(w);
}

/* --- runs (jw.h) ------------------------------------------------------------ */

_Static_assert(PRE_MAX + JW_RUN_MAX <= JW_SBUF_SIZE, "a run fits the unbuffered writer's buffer");

char *jw_run_begin(struct jw *w, size_t n)
{
	return pre(w, room(w, PRE_MAX + n));
}

void jw_run_end(struct jw *w, char *p)
{
	w->blen = (size_t)(p - base(w));
	done(w);
}

char *jw_p_room_slow(struct jw *w, char *p, size_t n)
{
	w->blen = (size_t)(p - base(w));
	return room(w, n);
}

/* The general writer did the rest: room for the run to go on. */
static char *resume(struct jw *w)
{
	return room(w, JW_RUN_MAX);
}

char *jw_p_key_pretty(struct jw *w, char *p, const char *q, size_t n)
{
	w->blen = (size_t)(p - base(w));
	/* the comma is pre()'s (first[] says the same as the literal) */
	if (*q == ',') {
		q++;
		n--;
	}
	jw_qkey_slow(w, q, n);
	w->after_key = 0; /* the run writes the value itself */
	return resume(w);
}

char *jw_p_elem_pretty(struct jw *w, char *p)
{
	char *p0;
	w->blen = (size_t)(p - base(w));
	p0 = room(w, PRE_MAX);
	commit(w, p0, pre(w, p0));
	return resume(w);
}

char *jw_p_close_pretty(struct jw *w, char *p, char c)
{
	w->blen = (size_t)(p - base(w));
	close_(w, c);
	return resume(w);
}

/* The rest of a string body from s[0] on, s[0] special(), at d with room
 * for 6 bytes for each of the n: its end. */
static char *escape_to(char *d, const unsigned char *s, size_t n)
{
	while (n) {
		size_t r;
		d = escape_special(d, &s, &n);
		r = plain_copy(d, s, n);
		d += r;
		s += r;
		n -= r;
	}
	return d;
}

/* jw_p_strn's case that does not fit: in pieces, through the general
 * writer (kept out of the fast path, which then needs fewer registers). */
__attribute__((noinline)) static char *strn_pieces(struct jw *w, char *p, const char *s, size_t n)
{
	w->blen = (size_t)(p - base(w));
	put(w, "\"", 1);
	put_escaped(w, (const unsigned char *)s, n);
	put(w, "\"", 1);
	return resume(w);
}

char *jw_p_strn(struct jw *w, char *p, const char *s, size_t n)
{
	size_t r;
	/* it fits escaped at worst (6 bytes a byte), and JW_RUN_MAX after */
	if (w->buf && n <= JW_BUF_SIZE && (size_t)(w->buf + JW_BUF_SIZE - p) >= 6 * n + 2 + JW_RUN_MAX) {
		*p++ = '"';
		r = plain_copy(p, (const unsigned char *)s, n);
		p = r == n ? p + n : escape_to(p + r, (const unsigned char *)s + r, n - r);
		*p = '"';
		return p + 1;
	}
	return strn_pieces(w, p, s, n);
}
