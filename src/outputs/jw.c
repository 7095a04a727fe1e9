/* jw.c: a small streaming JSON writer (RFC 8259). */
#include "outputs/jw.h"

#include <inttypes.h>
#include <math.h>
#include <string.h>

void jw_init(struct jw *w, FILE *f, int pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
	w->first[0] = 1;
}

static void indent(struct jw *w)
{
	if (!w->pretty)
		return;
	fputc('\n', w->f);
	for (int i = 0; i < w->depth; i++)
		fputs("  ", w->f);
}

/* Before a value or key at the current level: comma and indentation.
 * After a key, the value follows directly. */
static void pre_value(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			fputc(',', w->f);
		w->first[w->depth] = 0;
		indent(w);
	}
}

static void open_(struct jw *w, char c)
{
	pre_value(w);
	fputc(c, w->f);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->first[w->depth] = 1;
}

static void close_(struct jw *w, char c)
{
	int empty = w->first[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (!empty)
		indent(w);
	fputc(c, w->f);
	if (w->depth == 0 && w->pretty)
		fputc('\n', w->f);
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

/* Escape n bytes into out (JSON string body). Returns bytes written. */
static size_t escape(const char *s, size_t n, char *out, size_t outlen, FILE *f)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	char tmp[8];
	for (size_t i = 0; i < n;) {
		if (f) {
			/* the common case: a run of plain printable ASCII, written at once */
			size_t r = i;
			while (r < n && p[r] >= 0x20 && p[r] < 0x7f && p[r] != '"' && p[r] != '\\')
				r++;
			if (r > i) {
				fwrite(p + i, 1, r - i, f);
				i = r;
				continue;
			}
		}
		size_t k = utf8_len(p + i, n - i);
		size_t tl = 0;
		if (k == 1 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\' && p[i] != 0x7f) {
			tmp[tl++] = (char)p[i];
		} else if (k == 1 && (p[i] == '"' || p[i] == '\\')) {
			tmp[tl++] = '\\';
			tmp[tl++] = (char)p[i];
		} else if (k > 1) {
			if (f)
				fwrite(p + i, 1, k, f);
			else if (o + k < outlen) {
				memcpy(out + o, p + i, k);
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
		if (f)
			fwrite(tmp, 1, tl, f);
		else if (o + tl < outlen) {
			memcpy(out + o, tmp, tl);
			o += tl;
		}
		i++;
	}
	if (!f && outlen)
		out[o < outlen ? o : outlen - 1] = '\0';
	return o;
}

size_t pi_escape_text(const char *s, char *out, size_t outlen)
{
	return escape(s, strlen(s), out, outlen, NULL);
}

void jw_key(struct jw *w, const char *key)
{
	pre_value(w);
	fputc('"', w->f);
	escape(key, strlen(key), NULL, 0, w->f);
	fputs(w->pretty ? "\": " : "\":", w->f);
	w->after_key = 1;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	pre_value(w);
	fputc('"', w->f);
	escape(s, n, NULL, 0, w->f);
	fputc('"', w->f);
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

void jw_int(struct jw *w, int64_t v)
{
	pre_value(w);
	fprintf(w->f, "%" PRId64, v);
}

void jw_uint(struct jw *w, uint64_t v)
{
	pre_value(w);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_double(struct jw *w, double v, int decimals)
{
	pre_value(w);
	if (!isfinite(v))
		fputs("null", w->f);
	else
		fprintf(w->f, "%.*f", decimals, v);
}

void jw_bool(struct jw *w, int v)
{
	pre_value(w);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w)
{
	pre_value(w);
	fputs("null", w->f);
}

void jw_raw(struct jw *w, const char *json)
{
	pre_value(w);
	fputs(json, w->f);
}

void jw_kstr(struct jw *w, const char *key, const char *s) { jw_key(w, key); jw_str(w, s); }
void jw_kint(struct jw *w, const char *key, int64_t v) { jw_key(w, key); jw_int(w, v); }
void jw_kuint(struct jw *w, const char *key, uint64_t v) { jw_key(w, key); jw_uint(w, v); }
void jw_kbool(struct jw *w, const char *key, int v) { jw_key(w, key); jw_bool(w, v); }
