/* test_jw.c: the JSON writer escapes hostile strings and nests correctly. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outputs/jw.h"
#include "unit.h"

static char *render(void (*fn)(struct jw *))
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct jw w;
	jw_init(&w, f, 0);
	fn(&w);
	fclose(f);
	return buf;
}

static void doc1(struct jw *w)
{
	jw_obj_open(w);
	jw_kstr(w, "a", "x\"y\\z\n\x01");
	jw_key(w, "b");
	jw_arr_open(w);
	jw_int(w, -3);
	jw_uint(w, 18446744073709551615ull);
	jw_null(w);
	jw_bool(w, 1);
	jw_arr_close(w);
	jw_key(w, "c");
	jw_obj_open(w);
	jw_obj_close(w);
	jw_kstr(w, "d", NULL);
	jw_obj_close(w);
}

static void doc2(struct jw *w)
{
	/* invalid UTF-8 (a lone continuation byte, an overlong form) and valid é */
	jw_str(w, "\x80" "a" "\xc0\xaf" "\xc3\xa9");
}

/* jw_double writes what printf("%.*f") writes: values around rounding
 * ties, negatives, zeros, large and tiny numbers, and pseudo-random ones;
 * through the buffered writer, whose output must equal the direct one. */
static int check_doubles(void)
{
	static const double fixed[] = { 0.0, -0.0, 0.5, 1.5, 2.5, 0.0005, 0.0015, 1.0005, -0.0004, -0.0005,
	                                0.125, 0.375, 999999999.9995, 1e9, 1e15, -1e20, 123.456789,
	                                0.1 + 0.2, 1e-300, 4.35, 2.675, 1.005 };
	uint64_t x = 88172645463325252ull;
	int bad = 0;
	for (int i = 0; i < 200000; i++) {
		double v;
		int d = i % 7;
		char *buf = NULL, want[400];
		size_t len = 0;
		FILE *f;
		struct jw w;
		if (i < (int)(sizeof(fixed) / sizeof(fixed[0])) * 7) {
			v = fixed[i / 7];
		} else {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			/* halves and thousandths often, to hit the ties */
			v = (double)(x % 4000000) / (i % 3 ? 2000.0 : 1000.0) - 1000.0;
			if (i % 5 == 0)
				v = (double)(int64_t)(x >> 11) / 9007199254740992.0 * pow(10, (double)(x % 12));
		}
		f = open_memstream(&buf, &len);
		jw_init_buffered(&w, f, 0);
		jw_double(&w, v, d);
		jw_release(&w);
		fclose(f);
		snprintf(want, sizeof(want), "%.*f", d, v);
		if (strcmp(buf, want) != 0) {
			if (bad++ < 5)
				fprintf(stderr, "jw_double(%.17g, %d): %s, printf: %s\n", v, d, buf, want);
		}
		free(buf);
	}
	return bad;
}

/* --- hostile strings: the writer against a reference escaper ---------------- */

/* Length of a well-formed UTF-8 sequence at s (Unicode, table 3-7), 0 if
 * there is none: written independently of jw.c's decoder. */
static size_t ref_utf8(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t len;
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4;
	else
		return 0;
	if (c == 0xe0)
		lo = 0xa0;
	else if (c == 0xed)
		hi = 0x9f;
	else if (c == 0xf0)
		lo = 0x90;
	else if (c == 0xf4)
		hi = 0x8f;
	if (n < len || s[1] < lo || s[1] > hi)
		return 0;
	for (size_t i = 2; i < len; i++)
		if (s[i] < 0x80 || s[i] > 0xbf)
			return 0;
	return len;
}

/* The JSON string (with quotes) the writer must produce for s[0..n). */
static char *ref_string(const unsigned char *s, size_t n, size_t *outlen)
{
	char *o = malloc(6 * n + 3), *p = o;
	*p++ = '"';
	for (size_t i = 0; i < n;) {
		size_t k = ref_utf8(s + i, n - i);
		if (k > 1) {
			memcpy(p, s + i, k);
			p += k;
			i += k;
			continue;
		}
		if (k == 1 && (s[i] == '"' || s[i] == '\\')) {
			*p++ = '\\';
			*p++ = (char)s[i];
		} else if (k == 1 && s[i] >= 0x20 && s[i] != 0x7f) {
			*p++ = (char)s[i];
		} else {
			p += sprintf(p, "\\u00%02x", s[i]);
		}
		i++;
	}
	*p++ = '"';
	*p = '\0';
	*outlen = (size_t)(p - o);
	return o;
}

struct cap {
	char *buf;
	size_t len;
	FILE *f;
	struct jw w;
	int buffered;
};

static struct jw *cap_open(struct cap *c, int buffered, int pretty)
{
	c->buf = NULL;
	c->len = 0;
	c->f = open_memstream(&c->buf, &c->len);
	c->buffered = buffered;
	if (buffered)
		jw_init_buffered(&c->w, c->f, pretty);
	else
		jw_init(&c->w, c->f, pretty);
	return &c->w;
}

static char *cap_close(struct cap *c, size_t *len)
{
	if (c->buffered)
		jw_release(&c->w);
	fclose(c->f);
	*len = c->len;
	return c->buf;
}

static int bad_strings;

/* s[0..n) through jw_strn (buffered or not), after `pad` bytes of other
 * output (to move it across the buffer's end), and as a key. */
static void check_string(const unsigned char *s, size_t n, int buffered, size_t pad)
{
	struct cap c;
	struct jw *w = cap_open(&c, buffered, 0);
	size_t wl, gl, off = 0;
	char *want = ref_string(s, n, &wl), *got;
	if (pad) {
		char *filler = malloc(pad + 1);
		memset(filler, 'f', pad);
		filler[pad] = '\0';
		jw_raw(w, filler); /* top level: no comma */
		free(filler);
		off = pad;
	}
	jw_strn(w, (const char *)s, n);
	got = cap_close(&c, &gl);
	if (gl != off + wl || memcmp(got + off, want, wl) != 0) {
		if (bad_strings++ < 5)
			fprintf(stderr, "jw_strn(%zu bytes, first %02x, buffered %d, pad %zu): got %zu bytes, want %zu\n",
			        n, n ? s[0] : 0, buffered, pad, gl - off, wl);
	}
	free(got);
	/* as a key: "escaped": */
	w = cap_open(&c, buffered, 0);
	jw_keyn(w, (const char *)s, n);
	got = cap_close(&c, &gl);
	if (gl != wl + 1 || memcmp(got, want, wl) != 0 || got[wl] != ':') {
		if (bad_strings++ < 5)
			fprintf(stderr, "jw_keyn(%zu bytes, first %02x, buffered %d)\n", n, n ? s[0] : 0, buffered);
	}
	free(got);
	free(want);
}

static char *strn_out(const char *s, size_t n)
{
	struct cap c;
	size_t l;
	jw_strn(cap_open(&c, 0, 0), s, n);
	return cap_close(&c, &l);
}

#define CHECK_STRN(lit, want) do { \
	char *g_ = strn_out((lit), sizeof(lit) - 1); \
	CHECK_EQ_STR(g_, (want)); \
	free(g_); \
} while (0)

/* Fixed answers, independent of the reference: */
static void hostile_fixed(void)
{
	CHECK_STRN("", "\"\"");
	CHECK_STRN("plain text, 30 bytes long....", "\"plain text, 30 bytes long....\"");
	CHECK_STRN("\x00\x1f\x20\x7e\x7f", "\"\\u0000\\u001f ~\\u007f\"");
	CHECK_STRN("a\"b\\c/d", "\"a\\\"b\\\\c/d\"");
	CHECK_STRN("\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80", "\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\""); /* é € 😀 */
	CHECK_STRN("\xc0\xaf", "\"\\u00c0\\u00af\"");                   /* overlong '/' */
	CHECK_STRN("\xe0\x80\xaf", "\"\\u00e0\\u0080\\u00af\"");          /* overlong, 3 bytes */
	CHECK_STRN("\xf0\x80\x80\xaf", "\"\\u00f0\\u0080\\u0080\\u00af\""); /* overlong, 4 bytes */
	CHECK_STRN("\xed\xa0\x80", "\"\\u00ed\\u00a0\\u0080\"");          /* surrogate D800 */
	CHECK_STRN("\xed\xbf\xbf", "\"\\u00ed\\u00bf\\u00bf\"");          /* surrogate DFFF */
	CHECK_STRN("\xed\x9f\xbf", "\"\xed\x9f\xbf\"");                   /* U+D7FF */
	CHECK_STRN("\xf4\x8f\xbf\xbf", "\"\xf4\x8f\xbf\xbf\"");           /* U+10FFFF */
	CHECK_STRN("\xf4\x90\x80\x80", "\"\\u00f4\\u0090\\u0080\\u0080\"");  /* above U+10FFFF */
	CHECK_STRN("\xf8\x88\x80\x80\x80", "\"\\u00f8\\u0088\\u0080\\u0080\\u0080\"");
	CHECK_STRN("x\xe2\x82", "\"x\\u00e2\\u0082\"");                   /* truncated at the end */
	CHECK_STRN("\xe2\x82x", "\"\\u00e2\\u0082x\"");                   /* cut short by ASCII */
	CHECK_STRN("0123456789abcdef\xc3", "\"0123456789abcdef\\u00c3\"");
	CHECK_STRN("0123456789abcde\"", "\"0123456789abcde\\\"\"");
	CHECK_STRN("01234567\x7f", "\"01234567\\u007f\"");
	CHECK_STRN("\xff\xfe", "\"\\u00ff\\u00fe\"");
}

static void hostile_strings(void)
{
	static const unsigned char odd[] = { 0x00, 0x01, 0x0a, 0x1f, 0x20, '"', '\\', 0x7e, 0x7f, 0x80, 0xbf, 0xc0, 0xc1,
	                                     0xc2, 0xdf, 0xe0, 0xed, 0xef, 0xf0, 0xf4, 0xf5, 0xff };
	static const char *seqs[] = { "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80", "\xed\xa0\x80", "\xe0\x9f\xbf",
	                              "\xf0\x8f\xbf\xbf", "\xc3", "\xe2\x82", "\xf0\x9f\x98", "\xf4\x90\x80\x80" };
	unsigned char b[300];
	size_t big = 700 * 1024;
	unsigned char *L = malloc(big);
	uint64_t x = 0x9e3779b97f4a7c15ull;

	/* every byte value, in one string and one at a time */
	for (int i = 0; i < 256; i++)
		b[i] = (unsigned char)i;
	check_string(b, 256, 0, 0);
	check_string(b, 256, 1, 0);
	for (int i = 0; i < 256; i++)
		check_string(b + i, 1, i & 1, 0);
	/* each odd byte and each sequence (valid, overlong, surrogate,
	 * truncated) at every place of strings up to 48 bytes: every block
	 * size and boundary of a vectorised scan */
	for (size_t n = 1; n <= 48; n++) {
		for (size_t at = 0; at < n; at++) {
			for (size_t k = 0; k < sizeof(odd); k++) {
				memset(b, 'a', n);
				b[at] = odd[k];
				check_string(b, n, (int)(k & 1), 0);
			}
			for (size_t k = 0; k < sizeof(seqs) / sizeof(seqs[0]); k++) {
				size_t sl = strlen(seqs[k]);
				memset(b, 'a', n + sl);
				memcpy(b + at, seqs[k], sl);
				check_string(b, at + sl, (int)(k & 1), 0);  /* at the end */
				check_string(b, n + sl, (int)(k & 1), 0);   /* inside */
			}
		}
	}
	/* random strings, mostly of the bytes that matter */
	for (int i = 0; i < 20000; i++) {
		size_t n;
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		n = x % 80;
		for (size_t j = 0; j < n; j++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			b[j] = x % 3 == 0 ? (unsigned char)(x >> 8) : x % 3 == 1 ? odd[(x >> 8) % sizeof(odd)] : 'a' + (x >> 8) % 26;
		}
		check_string(b, n, i & 1, 0);
	}
	/* long strings, larger than the buffer (JW_BUF_SIZE) and starting
	 * just before its end: plain, hostile (6 bytes out for each byte in),
	 * and mixed */
	memset(L, 'p', big);
	check_string(L, big, 1, JW_BUF_SIZE - 3);
	check_string(L, big, 0, 0);
	memset(L, 0x01, big);
	check_string(L, big, 1, JW_BUF_SIZE - 100);
	check_string(L, big, 0, 7);
	for (size_t j = 0; j < big; j++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		L[j] = x % 4 == 0 ? (unsigned char)(x >> 8) : x % 4 == 1 ? odd[(x >> 8) % sizeof(odd)] : 'a' + (x >> 8) % 26;
	}
	for (size_t pad = JW_BUF_SIZE - 8; pad < JW_BUF_SIZE + 1; pad++)
		check_string(L, big, 1, pad);
	check_string(L, big, 0, 0);
	free(L);
	CHECK(bad_strings == 0);
}

/* The literal-key shorthands write what the general ones write, compact and
 * pretty, buffered or not, also where the document crosses the buffer's end;
 * and the compact document is exactly the one built here by hand. */
static void doc_keys(struct jw *w, int literal, int n)
{
	char v[64];
	jw_obj_open(w);
	if (literal)
		jw_lkey(w, "items");
	else
		jw_key(w, "items");
	jw_arr_open(w);
	for (int i = 0; i < n; i++) {
		snprintf(v, sizeof(v), "v%0*d\"\x01\xc3\xa9", i % 40, i);
		jw_obj_open(w);
		if (literal) {
			jw_lkstr(w, "name", v);
			jw_lkuint(w, "n", (uint64_t)i * 7919);
			jw_lkint(w, "neg", -(int64_t)i);
			jw_lkbool(w, "odd", i & 1);
			jw_lkey(w, "empty");
		} else {
			jw_kstr(w, "name", v);
			jw_kuint(w, "n", (uint64_t)i * 7919);
			jw_kint(w, "neg", -(int64_t)i);
			jw_kbool(w, "odd", i & 1);
			jw_key(w, "empty");
		}
		jw_arr_open(w);
		jw_arr_close(w);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

static void literal_keys(void)
{
	const int n = 20000;
	size_t cap_len = 64 + (size_t)n * 128, el = 0;
	char *expect = malloc(cap_len);
	char *out[2][2][2];
	size_t len[2][2][2];
	el += (size_t)sprintf(expect + el, "{\"items\":[");
	for (int i = 0; i < n; i++) {
		char v[64];
		snprintf(v, sizeof(v), "v%0*d", i % 40, i);
		el += (size_t)sprintf(expect + el, "%s{\"name\":\"%s\\\"\\u0001\xc3\xa9\",\"n\":%llu,\"neg\":%lld,\"odd\":%s,\"empty\":[]}",
		                      i ? "," : "", v, (unsigned long long)i * 7919, -(long long)i, i & 1 ? "true" : "false");
	}
	el += (size_t)sprintf(expect + el, "]}");
	for (int lit = 0; lit < 2; lit++)
		for (int buffered = 0; buffered < 2; buffered++)
			for (int pretty = 0; pretty < 2; pretty++) {
				struct cap c;
				doc_keys(cap_open(&c, buffered, pretty), lit, n);
				out[lit][buffered][pretty] = cap_close(&c, &len[lit][buffered][pretty]);
			}
	CHECK(el > 2 * JW_BUF_SIZE);
	for (int lit = 0; lit < 2; lit++)
		for (int buffered = 0; buffered < 2; buffered++) {
			CHECK(len[lit][buffered][0] == el && memcmp(out[lit][buffered][0], expect, el) == 0);
			CHECK(len[lit][buffered][1] == len[0][0][1] &&
			      memcmp(out[lit][buffered][1], out[0][0][1], len[0][0][1]) == 0);
			free(out[lit][buffered][0]);
		}
	for (int lit = 0; lit < 2; lit++)
		for (int buffered = 0; buffered < 2; buffered++)
			if (lit || buffered)
				free(out[lit][buffered][1]);
	/* the pretty form itself */
	{
		const char *head = "{\n  \"items\": [\n    {\n      \"name\": \"v0\\\"\\u0001\xc3\xa9\",\n      \"n\": 0,\n"
		                   "      \"neg\": 0,\n      \"odd\": false,\n      \"empty\": []\n    },\n    {\n";
		CHECK(strncmp(out[0][0][1], head, strlen(head)) == 0);
		CHECK(len[0][0][1] > 8 && strcmp(out[0][0][1] + len[0][0][1] - 8, "}\n  ]\n}\n") == 0);
	}
	free(out[0][0][1]);
	free(expect);
}

int main(void)
{
	char *s = render(doc1);
	CHECK_EQ_STR(s, "{\"a\":\"x\\\"y\\\\z\\u000a\\u0001\",\"b\":[-3,18446744073709551615,null,true],\"c\":{},\"d\":null}");
	free(s);
	s = render(doc2);
	CHECK_EQ_STR(s, "\"\\u0080a\\u00c0\\u00af\xc3\xa9\"");
	free(s);
	char out[16];
	pi_escape_text("tab\there", out, sizeof(out));
	CHECK_EQ_STR(out, "tab\\u0009here");
	CHECK(check_doubles() == 0);
	hostile_fixed();
	hostile_strings();
	literal_keys();
	UNIT_DONE();
}
