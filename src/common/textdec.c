/* textdec.c: BOM / UTF-16 detection and UTF-16 to UTF-8 conversion, chunk by chunk (see textdec.h). */
#include "common/textdec.h"

#include <string.h>

/* Writes cp as UTF-8 at o; returns the bytes written (1 to 4). */
static size_t utf8_of(uint32_t cp, char *o)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xC0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3F));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xE0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		o[2] = (char)(0x80 | (cp & 0x3F));
		return 3;
	}
	o[0] = (char)(0xF0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
	o[3] = (char)(0x80 | (cp & 0x3F));
	return 4;
}

/* One UTF-16 code unit as UTF-8 at o (a high surrogate is kept for the
 * next unit; a lone surrogate becomes U+FFFD). Returns the bytes written,
 * 0 to 6. */
static size_t utf16_unit(struct textdec *td, uint16_t u, char *o)
{
	size_t k = 0;
	if (td->hi_sur) {
		uint16_t hi = td->hi_sur;
		td->hi_sur = 0;
		if (u >= 0xDC00 && u <= 0xDFFF)
			return utf8_of(0x10000u + (((uint32_t)hi - 0xD800u) << 10) + (u - 0xDC00u), o);
		k = utf8_of(0xFFFD, o);
	}
	if (u >= 0xD800 && u <= 0xDBFF) {
		td->hi_sur = u;
		return k;
	}
	return k + utf8_of((u >= 0xDC00 && u <= 0xDFFF) ? 0xFFFDu : u, o + k);
}

/* Bytes of the current input (the encoding decided) to emit. */
static void decoded_in(struct textdec *td, const uint8_t *p, size_t n, textdec_emit_fn emit, void *ctx)
{
	char out[TEXTDEC_CHUNK + 8];
	size_t o = 0;

	if (td->enc == TEXTDEC_UTF8) {
		emit(ctx, (const char *)p, n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		uint16_t u;
		if (!td->have_odd) {
			td->odd = p[i];
			td->have_odd = 1;
			continue;
		}
		td->have_odd = 0;
		u = td->enc == TEXTDEC_UTF16LE ? (uint16_t)(td->odd | (p[i] << 8)) : (uint16_t)((td->odd << 8) | p[i]);
		o += utf16_unit(td, u, out + o);
		if (o >= TEXTDEC_CHUNK) {
			emit(ctx, out, o);
			o = 0;
		}
	}
	if (o)
		emit(ctx, out, o);
}

/* Decide the encoding from the first (up to 4) bytes of an input and pass
 * them on, without their BOM. */
static void start_input(struct textdec *td, textdec_emit_fn emit, void *ctx)
{
	const uint8_t *h = td->head;
	size_t n = td->nhead, skip = 0;

	td->started = 1;
	td->enc = TEXTDEC_UTF8;
	if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF) {
		skip = 3;
	} else if (n >= 2 && h[0] == 0xFF && h[1] == 0xFE) {
		td->enc = TEXTDEC_UTF16LE;
		skip = 2;
	} else if (n >= 2 && h[0] == 0xFE && h[1] == 0xFF) {
		td->enc = TEXTDEC_UTF16BE;
		skip = 2;
	} else if (n >= 2 && h[0] && !h[1] && (n < 4 || !h[3])) {
		td->enc = TEXTDEC_UTF16LE;
	} else if (n >= 2 && !h[0] && h[1] && (n < 4 || !h[2])) {
		td->enc = TEXTDEC_UTF16BE;
	}
	if (td->enc != TEXTDEC_UTF8)
		td->utf16_inputs++;
	decoded_in(td, h + skip, n - skip, emit, ctx);
}

/* Clears td; see textdec.h. */
void textdec_init(struct textdec *td)
{
	memset(td, 0, sizeof *td);
}

/* Consumes len bytes of the current input; see textdec.h. */
void textdec_feed(struct textdec *td, const char *data, size_t len, textdec_emit_fn emit, void *ctx)
{
	const uint8_t *p = (const uint8_t *)data;
	td->bytes += len;
	while (!td->started && len) {
		td->head[td->nhead++] = *p++;
		len--;
		if (td->nhead == sizeof td->head)
			start_input(td, emit, ctx);
	}
	if (len)
		decoded_in(td, p, len, emit, ctx);
}

/* Ends the current input. Returns 1 if it ended inside a UTF-16 code unit
 * or pair (nothing emitted for that), else 0. */
int textdec_end(struct textdec *td, textdec_emit_fn emit, void *ctx)
{
	int cut;
	if (!td->started && td->nhead)
		start_input(td, emit, ctx);
	cut = td->have_odd || td->hi_sur;
	td->started = 0;
	td->enc = TEXTDEC_UTF8;
	td->nhead = 0;
	td->have_odd = 0;
	td->hi_sur = 0;
	return cut;
}
