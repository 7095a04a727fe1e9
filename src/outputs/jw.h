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

#define JW_MAX_DEPTH 32

struct jw {
	FILE *f;
	int depth;
	uint8_t first[JW_MAX_DEPTH]; /* no element written yet at this level */
	int pretty;
	int after_key;  /* a key was written: the value follows without a comma */
	char *buf;      /* jw_init_buffered: output gathered here, then f */
	size_t blen;
};

#define JW_BUF_SIZE (256u * 1024u)

void jw_init(struct jw *w, FILE *f, int pretty);
void jw_init_buffered(struct jw *w, FILE *f, int pretty);
void jw_flush(struct jw *w);    /* hand the buffered output to the FILE */
void jw_release(struct jw *w);  /* flush and free the buffer */
void jw_obj_open(struct jw *w);
void jw_obj_close(struct jw *w);
void jw_arr_open(struct jw *w);
void jw_arr_close(struct jw *w);
/* Object member key; the next value call writes its value. */
void jw_key(struct jw *w, const char *key);
void jw_str(struct jw *w, const char *s);  /* NULL writes null */
void jw_strn(struct jw *w, const char *s, size_t n);
void jw_int(struct jw *w, int64_t v);
void jw_uint(struct jw *w, uint64_t v);
void jw_double(struct jw *w, double v, int decimals);
void jw_bool(struct jw *w, int v);
void jw_null(struct jw *w);
/* A value that is already valid JSON text (from a trusted serializer). */
void jw_raw(struct jw *w, const char *json);

/* key + value shorthands */
void jw_kstr(struct jw *w, const char *key, const char *s);
void jw_kint(struct jw *w, const char *key, int64_t v);
void jw_kuint(struct jw *w, const char *key, uint64_t v);
void jw_kbool(struct jw *w, const char *key, int v);

/* Escape s into a JSON string body (no quotes) in a caller buffer, for CSV and
 * reports that want the same safety: returns bytes written (NUL-terminated). */
size_t pi_escape_text(const char *s, char *out, size_t outlen);

#endif
