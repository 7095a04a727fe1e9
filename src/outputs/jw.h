/* jw.h: a small streaming JSON writer (RFC 8259).
 *
 * Writes straight to a FILE, tracks commas and nesting itself, and escapes
 * every string: control characters as \u00XX, invalid UTF-8 bytes as
 * \u00XX of the byte (so hostile names never break the document).
 */
#ifndef PI_JW_H
#define PI_JW_H

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define JW_MAX_DEPTH 32

#define JW_BUF_SIZE (256u * 1024u)
#define JW_SBUF_SIZE 512u

struct jw {
	FILE *f;
	int depth;
	uint8_t first[JW_MAX_DEPTH]; /* no element written yet at this level */
	int pretty;
	int after_key;  /* a key was written: the value follows without a comma */
	char *buf;      /* jw_init_buffered: output gathered here (JW_BUF_SIZE), then f */
	size_t blen;    /* bytes used in buf, or in sbuf without buf */
	/* Without buf (jw_init): each call gathers its output here and writes
	 * it to f before it returns. */
	char sbuf[JW_SBUF_SIZE];
};

void jw_init(struct jw *w, FILE *f, int pretty);
void jw_init_buffered(struct jw *w, FILE *f, int pretty);
void jw_flush(struct jw *w);    /* hand the buffered output to the FILE */
void jw_release(struct jw *w);  /* flush and free the buffer */
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
/* Object member key; the next value call writes its value. */
void jw_keyn(struct jw *w, const char *key, size_t n);
void jw_str(struct jw *w, const char *s);  /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
void jw_double(struct jw *w, double v, int decimals);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* A value that is already valid JSON text (from a trusted serializer). */
void jw_raw(struct jw *w, const char *json);

/* key + value shorthands, for any key (a literal or not): the key is checked
 * and escaped when written. */
static inline void jw_kstr_(struct jw *w, const char *k, size_t n, const char *s) { jw_keyn(w, k, n); jw_str(w, s); }
static inline void jw_kint_(struct jw *w, const char *k, size_t n, int64_t v) { jw_keyn(w, k, n); jw_int(w, v); }
static inline void jw_kuint_(struct jw *w, const char *k, size_t n, uint64_t v) { jw_keyn(w, k, n); jw_uint(w, v); }
static inline void jw_kbool_(struct jw *w, const char *k, size_t n, int v) { jw_keyn(w, k, n); jw_bool(w, v); }
#define jw_key(w, k) jw_keyn((w), (k), strlen(k))
#define jw_kstr(w, k, s) jw_kstr_((w), (k), strlen(k), (s))
#define jw_kint(w, k, v) jw_kint_((w), (k), strlen(k), (v))
#define jw_kuint(w, k, v) jw_kuint_((w), (k), strlen(k), (v))
#define jw_kbool(w, k, v) jw_kbool_((w), (k), strlen(k), (v))

/* The same for a key that is a string LITERAL of plain printable ASCII (no
 * '"', '\\' or control character: it is written as it is, unescaped): its
 * quoted form "\"k\":" is built when compiling, and in the compact buffered
 * case the key (and the comma before it) are stored with one small copy.
 * A key that is not a literal does not compile here: use jw_key & co. */
#define JW_QKEY(k) ("\"" k "\":")
#define JW_QKEYLEN(k) (sizeof("\"" k "\":") - 1)
#define jw_lkey(w, k) jw_qkey_((w), JW_QKEY(k), JW_QKEYLEN(k))
#define jw_lkstr(w, k, s) (jw_lkey((w), k), jw_str((w), (s)))
#define jw_lkint(w, k, v) (jw_lkey((w), k), jw_int((w), (v)))
#define jw_lkuint(w, k, v) (jw_lkey((w), k), jw_uint((w), (v)))
#define jw_lkbool(w, k, v) (jw_lkey((w), k), jw_bool((w), (v)))

/* q: a key already quoted, "\"key\":" (n bytes), written as it is. */
void jw_qkey_slow(struct jw *w, const char *q, size_t n);
static inline void jw_qkey_(struct jw *w, const char *q, size_t n)
{
	if (w->buf && !w->pretty && !w->after_key && JW_BUF_SIZE - w->blen > n) {
		char *p = w->buf + w->blen;
		size_t comma = 0;
		if (w->depth > 0) {
			comma = !w->first[w->depth];
			w->first[w->depth] = 0;
		}
		p[0] = ',';
		memcpy(p + comma, q, n);
		w->blen += comma + n;
		w->after_key = 1;
	} else {
		jw_qkey_slow(w, q, n);
	}
}

/* --- runs: many values with one bounds check -------------------------------
 *
 * For a hot, fixed-shape document part (json_conn): instead of a call per
 * value, each with its bounds check, separator state and flush, a run
 * writes at a cursor p into the writer's buffer:
 *
 *   char *p = jw_run_begin(w, n);     the separator before the value, room for n
 *   p = jw_p_open(w, p, '{');
 *   p = jw_p_lkuint0(w, p, "a", 1);   the object's first member
 *   p = jw_p_lkbool(w, p, "b", 0);    the next ones
 *   p = jw_p_lkey(w, p, "c");
 *   p = jw_p_strn(w, p, s, n);        strings check their own room
 *   p = jw_p_close(w, p, '}');
 *   jw_run_end(w, p);
 *
 * Room: the caller proves that what it writes between two room points
 * fits (each jw_p_* below says the most it writes; the key shorthands
 * write their key literal's length). Room points: jw_run_begin(w, n) and
 * jw_p_room(w, p, n) (n bytes), and the string writers and every pretty
 * (indented) separator, key or closing, which leave JW_RUN_MAX bytes.
 * Without that proof, use the plain calls above. Values are written the
 * same way pretty or not; the separators, keys and closings of a pretty
 * writer go through the general writer (jw_qkey_slow & co). */
#define JW_RUN_MAX 256u
#define JW_P_UINT_MAX 24u   /* jw_p_uint: 20 digits (and room to spare) */
#define JW_P_DOUBLE_MAX 64u /* jw_p_double */
#define JW_P_HEX16_MAX 8u   /* jw_p_hex16 */

char *jw_run_begin(struct jw *w, size_t n);
void jw_run_end(struct jw *w, char *p);
char *jw_p_room_slow(struct jw *w, char *p, size_t n);
char *jw_p_key_pretty(struct jw *w, char *p, const char *q, size_t n);
char *jw_p_elem_pretty(struct jw *w, char *p);
char *jw_p_close_pretty(struct jw *w, char *p, char c);
/* s[0..n) as a JSON string (escaped as jw_strn does); leaves JW_RUN_MAX. */
char *jw_p_strn(struct jw *w, char *p, const char *s, size_t n);
char *jw_p_double(char *p, double v, int decimals); /* as jw_double */
char *jw_put_u64(char *p, uint64_t v);

/* Room for n <= JW_RUN_MAX bytes at p. */
static inline char *jw_p_room(struct jw *w, char *p, size_t n)
{
	if (w->buf && (size_t)(w->buf + JW_BUF_SIZE - p) >= n)
		return p;
	return jw_p_room_slow(w, p, n);
}

static inline char *jw_p_uint(char *p, uint64_t v)
{
	if (v < 10) {
		*p = (char)('0' + v);
		return p + 1;
	}
	return jw_put_u64(p, v);
}

static inline char *jw_p_bool(char *p, int v)
{
	if (v) {
		memcpy(p, "true", 4);
		return p + 4;
	}
	memcpy(p, "false", 5);
	return p + 5;
}

static inline char *jw_p_null(char *p)
{
	memcpy(p, "null", 4);
	return p + 4;
}

/* "0x%04x" of v, quoted: hex digits need no escaping. */
static inline char *jw_p_hex16(char *p, unsigned v)
{
	static const char hx[] = "0123456789abcdef";
	memcpy(p, "\"0x", 3);
	p[3] = hx[(v >> 12) & 15];
	p[4] = hx[(v >> 8) & 15];
	p[5] = hx[(v >> 4) & 15];
	p[6] = hx[v & 15];
	p[7] = '"';
	return p + 8;
}

/* A string, NULL as null; leaves JW_RUN_MAX. */
static inline char *jw_p_str(struct jw *w, char *p, const char *s)
{
	if (!s)
		return jw_p_room(w, jw_p_null(p), JW_RUN_MAX);
	return jw_p_strn(w, p, s, strlen(s));
}

/* Object member key q (n bytes): "\"k\":" for the first member of the
 * object just opened (first: 1), ",\"k\":" for the next ones (first: 0):
 * the comma is known when compiling. A pretty writer's pre() places the
 * same comma from first[] (test_jw checks both against the plain calls). */
static inline char *jw_p_key_(struct jw *w, char *p, const char *q, size_t n, int first)
{
	if (w->pretty)
		return jw_p_key_pretty(w, p, q, n);
	if (first)
		w->first[w->depth] = 0;
	memcpy(p, q, n);
	return p + n;
}

/* Key and value in one literal q (n bytes): "\"k\":null" (or with the
 * comma, as above). */
static inline char *jw_p_knull_(struct jw *w, char *p, const char *q, size_t n, int first)
{
	if (w->pretty)
		return jw_p_null(jw_p_key_pretty(w, p, q, n - 4));
	return jw_p_key_(w, p, q, n, first);
}

/* q: "\"k\":true" (n bytes); false is written over its "true". */
static inline char *jw_p_kbool_(struct jw *w, char *p, const char *q, size_t n, int v, int first)
{
	if (w->pretty)
		return jw_p_bool(jw_p_key_pretty(w, p, q, n - 4), v);
	if (v)
		return jw_p_key_(w, p, q, n, first);
	p = jw_p_key_(w, p, q, n - 4, first);
	memcpy(p, "false", 5);
	return p + 5;
}

/* k: a string literal of plain printable ASCII, as for jw_lkey. The
 * ...0 forms: the first member of the object just opened. */
#define JW_QKEYC(k) (",\"" k "\":")
#define JW_QKEYCLEN(k) (sizeof(",\"" k "\":") - 1)
#define jw_p_lkey(w, p, k) jw_p_key_((w), (p), JW_QKEYC(k), JW_QKEYCLEN(k), 0)
#define jw_p_lkey0(w, p, k) jw_p_key_((w), (p), JW_QKEY(k), JW_QKEYLEN(k), 1)
#define jw_p_lkuint(w, p, k, v) jw_p_uint(jw_p_lkey((w), (p), k), (v))
#define jw_p_lkuint0(w, p, k, v) jw_p_uint(jw_p_lkey0((w), (p), k), (v))
#define jw_p_lknull(w, p, k) jw_p_knull_((w), (p), ",\"" k "\":null", JW_QKEYCLEN(k) + 4, 0)
#define jw_p_lkbool(w, p, k, v) jw_p_kbool_((w), (p), ",\"" k "\":true", JW_QKEYCLEN(k) + 4, (v), 0)
#define jw_p_lkbool0(w, p, k, v) jw_p_kbool_((w), (p), "\"" k "\":true", JW_QKEYLEN(k) + 4, (v), 1)

/* Before an array element: the comma (writes 1 byte). */
static inline char *jw_p_elem(struct jw *w, char *p)
{
	uint8_t *f = &w->first[w->depth];
	if (w->pretty)
		return jw_p_elem_pretty(w, p);
	*p = ',';
	p += !*f;
	*f = 0;
	return p;
}

/* c: '{' or '[' (writes 1 byte); the separator before it is the caller's. */
static inline char *jw_p_open(struct jw *w, char *p, char c)
{
	*p = c;
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->first[w->depth] = 1;
	return p + 1;
}

/* c: '}' or ']' (writes 1 byte). */
static inline char *jw_p_close(struct jw *w, char *p, char c)
{
	if (w->pretty)
		return jw_p_close_pretty(w, p, c);
	if (w->depth > 0)
		w->depth--;
	*p = c;
	return p + 1;
}

/* Escape s into a JSON string body (no quotes) in a caller buffer, for CSV and
 * reports that want the same safety: returns bytes written (NUL-terminated). */
size_t pi_escape_text(const char *s, char *out, size_t outlen);

#endif
