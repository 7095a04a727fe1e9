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
#define JW_SBUF_SIZE 256u

struct jw {
	FILE *f;
	int depth;
	uint8_t first[JW_MAX_DEPTH]; /* no element written yet at this level */
	int pretty;
	int after_key;  /* a key was written: the value follows without a comma */
	char *buf;      /* jw_init_buffered: output gathered here (JW_BUF_SIZE), then f */
	size_t blen;    /* bytes used in buf, or in sbuf without buf */
	struct jw_async *as; /* the writer thread of a long buffered document */
	int async_failed;
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

/* Escape s into a JSON string body (no quotes) in a caller buffer, for CSV and
 * reports that want the same safety: returns bytes written (NUL-terminated). */
size_t pi_escape_text(const char *s, char *out, size_t outlen);

#endif
