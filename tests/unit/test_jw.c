/* test_jw.c: the JSON writer escapes hostile strings and nests correctly. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissectors/tls.h"
#include "outputs/jw.h"
#include "outputs/output.h"
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

struct tcap {
	char *buf;
	size_t len;
	FILE *f;
	struct jw w;
	int buffered;
};

static struct jw *tcap_open(struct tcap *c, int buffered, int pretty)
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

static char *tcap_close(struct tcap *c, size_t *len)
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
	struct tcap c;
	struct jw *w = tcap_open(&c, buffered, 0);
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
	got = tcap_close(&c, &gl);
	if (gl != off + wl || memcmp(got + off, want, wl) != 0) {
		if (bad_strings++ < 5)
			fprintf(stderr, "jw_strn(%zu bytes, first %02x, buffered %d, pad %zu): got %zu bytes, want %zu\n",
			        n, n ? s[0] : 0, buffered, pad, gl - off, wl);
	}
	free(got);
	/* in a run (jw_p_strn), after the same padding */
	w = tcap_open(&c, buffered, 0);
	if (pad) {
		char *filler = malloc(pad + 1);
		memset(filler, 'f', pad);
		filler[pad] = '\0';
		jw_raw(w, filler);
		free(filler);
	}
	{
		char *p = jw_run_begin(w, 0);
		p = jw_p_strn(w, p, (const char *)s, n);
		jw_run_end(w, p);
	}
	got = tcap_close(&c, &gl);
	if (gl != off + wl || memcmp(got + off, want, wl) != 0) {
		if (bad_strings++ < 5)
			fprintf(stderr, "jw_p_strn(%zu bytes, first %02x, buffered %d, pad %zu): got %zu bytes, want %zu\n",
			        n, n ? s[0] : 0, buffered, pad, gl - off, wl);
	}
	free(got);
	/* as a key: "escaped": */
	w = tcap_open(&c, buffered, 0);
	jw_keyn(w, (const char *)s, n);
	got = tcap_close(&c, &gl);
	if (gl != wl + 1 || memcmp(got, want, wl) != 0 || got[wl] != ':') {
		if (bad_strings++ < 5)
			fprintf(stderr, "jw_keyn(%zu bytes, first %02x, buffered %d)\n", n, n ? s[0] : 0, buffered);
	}
	free(got);
	free(want);
}

static char *strn_out(const char *s, size_t n)
{
	struct tcap c;
	size_t l;
	jw_strn(tcap_open(&c, 0, 0), s, n);
	return tcap_close(&c, &l);
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
	/* every length 0..70 at every alignment (the vector loads and their
	 * overlapping tails), random bytes of those that matter, and as much
	 * room as the fast paths need, or just not */
	for (size_t n = 0; n <= 70; n++) {
		for (size_t al = 0; al < 16; al++) {
			for (int rep = 0; rep < 4; rep++) {
				for (size_t j = 0; j < n; j++) {
					x ^= x << 13;
					x ^= x >> 7;
					x ^= x << 17;
					b[al + j] = x % 3 == 0 ? (unsigned char)(x >> 8)
					          : x % 3 == 1 ? odd[(x >> 8) % sizeof(odd)] : 'a' + (x >> 8) % 26;
				}
				if (rep == 0)
					memset(b + al, 'a', n); /* all plain */
				check_string(b + al, n, rep & 1, rep == 3 ? JW_BUF_SIZE - 6 * n - JW_RUN_MAX - 2 + 1 - (x % 3) : 0);
			}
		}
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
				struct tcap c;
				doc_keys(tcap_open(&c, buffered, pretty), lit, n);
				out[lit][buffered][pretty] = tcap_close(&c, &len[lit][buffered][pretty]);
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

/* --- numbers ------------------------------------------------------------------ */

static char *render_num(uint64_t v, int64_t iv, int sig)
{
	struct tcap c;
	size_t l;
	struct jw *w = tcap_open(&c, 1, 0);
	if (sig)
		jw_int(w, iv);
	else
		jw_uint(w, v);
	return tcap_close(&c, &l);
}

/* Integers against printf at every digit-count boundary (10^k - 1, 10^k,
 * 2^k - 1, 2^k) and the extremes; doubles that printf would not write as
 * a number (null), or wider than 63 bytes (cut there). */
static void numbers(void)
{
	uint64_t p = 1;
	int bad = 0;
	for (int k = 0; k < 64; k++) {
		uint64_t vs[6] = { p - 1, p, p + 1, (1ull << k) - 1, 1ull << k, (1ull << k) + 1 };
		for (int i = 0; i < 6; i++) {
			char want[32], *got;
			snprintf(want, sizeof(want), "%llu", (unsigned long long)vs[i]);
			got = render_num(vs[i], 0, 0);
			bad += strcmp(got, want) != 0;
			free(got);
			snprintf(want, sizeof(want), "%lld", (long long)vs[i]);
			got = render_num(0, (int64_t)vs[i], 1);
			bad += strcmp(got, want) != 0;
			free(got);
		}
		if (k < 20)
			p *= 10;
	}
	{
		char *got = render_num(UINT64_MAX, 0, 0);
		CHECK_EQ_STR(got, "18446744073709551615");
		free(got);
		got = render_num(0, INT64_MIN, 1);
		CHECK_EQ_STR(got, "-9223372036854775808");
		free(got);
	}
	CHECK(bad == 0);
	{
		static const double odd[] = { NAN, INFINITY, -INFINITY, 1e300, -1e300, 1e62, 1e9, -1e9, 999999999.99949 };
		for (size_t i = 0; i < sizeof(odd) / sizeof(odd[0]); i++) {
			struct tcap c;
			size_t l;
			char want[400], *got;
			jw_double(tcap_open(&c, 1, 0), odd[i], 3);
			got = tcap_close(&c, &l);
			if (!isfinite(odd[i]))
				strcpy(want, "null");
			else
				snprintf(want, 64, "%.3f", odd[i]);
			CHECK_EQ_STR(got, want);
			free(got);
		}
	}
}

/* --- json_conn: the run against the general calls ----------------------------- */

/* json_conn as it was written with the general calls (one call a value):
 * the run in json.c must write the same bytes. */
static void ref_str_or_null(struct jw *w, const char *v)
{
	if (v && *v)
		jw_str(w, v);
	else
		jw_null(w);
}

#define ref_kstr_or_null(w, k, v) (jw_lkey((w), k), ref_str_or_null((w), (v)))

static void ref_conn(struct jw *w, const struct conn_out *x)
{
	const struct conn *c = x->c;
	char buf[64];

	jw_obj_open(w);
	jw_lkuint(w, "input", c->input);
	jw_lkuint(w, "tcp_stream", c->stream);
	jw_lkstr(w, "client", x->client);
	jw_lkstr(w, "server", x->server);
	ref_kstr_or_null(w, "sni", c->sni);
	ref_kstr_or_null(w, "name", x->name);
	jw_lkstr(w, "name_source", x->name_source);
	jw_lkey(w, "dns_chain");
	jw_arr_open(w);
	for (int i = 0; i < x->nchain; i++)
		jw_str(w, x->chain[i]);
	jw_arr_close(w);
	ref_kstr_or_null(w, "tls_version", out_version_name(c->version));
	jw_lkey(w, "tls_version_code");
	if (c->version) {
		snprintf(buf, sizeof(buf), "0x%04x", c->version);
		jw_str(w, buf);
	} else {
		jw_null(w);
	}
	jw_lkstr(w, "verdict", verdict_name(c->verdict));
	ref_kstr_or_null(w, "alert", out_alert_name(c));
	jw_lkey(w, "alert_from");
	if (c->has_alert)
		jw_str(w, c->alert_from_server ? "server" : "client");
	else
		jw_null(w);
	jw_lkey(w, "frames");
	jw_arr_open(w);
	for (int i = 0; i < c->nframes; i++)
		jw_uint(w, c->frames[i]);
	jw_arr_close(w);
	jw_lkey(w, "reaction_ms");
	if (c->reaction_ms >= 0)
		jw_double(w, c->reaction_ms, 3);
	else
		jw_null(w);
	ref_kstr_or_null(w, "reason", c->reason);
	ref_kstr_or_null(w, "app", x->app);
	ref_kstr_or_null(w, "category", x->category);
	ref_kstr_or_null(w, "ja3", c->ja3);
	ref_kstr_or_null(w, "alpn", c->alpn);
	out_stream_filter(c, buf, sizeof(buf));
	jw_lkstr(w, "wireshark_filter", buf);
	jw_lkuint(w, "first_frame", c->first_frame);
	jw_lkey(w, "tls");
	jw_obj_open(w);
	jw_lkbool(w, "client_hello", c->saw_ch);
	jw_lkbool(w, "server_hello", c->saw_sh);
	jw_lkbool(w, "hello_retry", c->hrr);
	jw_lkbool(w, "certificate", c->saw_cert);
	jw_lkuint(w, "cert_count", c->cert_count);
	jw_lkey(w, "cipher");
	if (c->saw_sh) {
		snprintf(buf, sizeof(buf), "0x%04x", c->cipher);
		jw_str(w, buf);
	} else {
		jw_null(w);
	}
	jw_lkey(w, "alerts");
	jw_arr_open(w);
	{
		const char *p = c->alerts;
		while (*p) {
			const char *q = strchr(p, ',');
			size_t n = q ? (size_t)(q - p) : strlen(p);
			jw_strn(w, p, n);
			p += n + (q ? 1 : 0);
		}
	}
	jw_arr_close(w);
	jw_lkuint(w, "appdata_c2s", c->appdata_c2s);
	jw_lkuint(w, "appdata_s2c", c->appdata_s2c);
	jw_lkbool(w, "client_rst", c->c_rst);
	jw_lkbool(w, "client_fin", c->c_fin);
	jw_lkbool(w, "server_rst", c->s_rst);
	jw_lkbool(w, "server_fin", c->s_fin);
	jw_lkey(w, "client_rst_after_sh_ms");
	if (c->rst_after_sh_ms >= 0)
		jw_double(w, c->rst_after_sh_ms, 3);
	else
		jw_null(w);
	jw_obj_close(w);
	jw_obj_close(w);
}

static uint64_t rnd_x = 0x2545f4914f6cdd1dull;

static uint64_t rnd(void)
{
	rnd_x ^= rnd_x << 13;
	rnd_x ^= rnd_x >> 7;
	rnd_x ^= rnd_x << 17;
	return rnd_x;
}

/* A NUL-terminated string of n bytes (no NUL inside): plain, hostile, or
 * hostile at most (every byte escaped to 6). */
static void rnd_text(char *d, size_t n, int kind)
{
	static const unsigned char odd[] = { 0x01, 0x0a, 0x1f, '"', '\\', 0x7f, 0x80, 0xbf, 0xc0, 0xc3, 0xe2, 0xed,
	                                     0xf0, 0xf4, 0xff };
	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd();
		unsigned char ch = kind == 0   ? (unsigned char)('a' + r % 26)
		                 : kind == 2   ? (unsigned char)(1 + r % 31)
		                 : r % 3 == 0  ? (unsigned char)(1 + (r >> 8) % 255)
		                 : r % 3 == 1  ? odd[(r >> 8) % sizeof(odd)]
		                               : (unsigned char)('a' + (r >> 8) % 26);
		d[i] = (char)ch;
	}
	d[n] = '\0';
}

struct tconn {
	struct conn c;
	struct conn_out o;
	char client[80], server[80], name[600], src[16], app[80], cat[80], reason[200];
	char chain[6][300];
	const char *chainp[6];
	char *big; /* a name longer than the buffer, sometimes */
};

static double rnd_ms(void)
{
	static const double v[] = { -1, -0.0, 0, 0.0005, 0.0015, 1.5, 2.675, 999999999.9995, 1e9, 1e300, NAN, INFINITY };
	uint64_t r = rnd();
	if (r % 3 == 0)
		return v[(r >> 8) % (sizeof(v) / sizeof(v[0]))];
	return (double)((r >> 8) % 10000000) / 1000.0 * (r % 5 == 0 ? 0.001 : 1);
}

/* A random connection; most: every field at its largest and most hostile. */
static void rnd_conn(struct tconn *t, int most)
{
	struct conn *c = &t->c;
	int kind = most ? 2 : (int)(rnd() % 3);
	memset(t, 0, sizeof(*t));
	c->input = most ? UINT32_MAX : (uint32_t)rnd();
	c->stream = most ? UINT64_MAX : rnd() >> (rnd() % 64);
	rnd_text(t->client, most ? 60 : rnd() % 60, kind);
	rnd_text(t->server, most ? 60 : rnd() % 60, kind);
	rnd_text(c->sni, most ? sizeof(c->sni) - 1 : rnd() % sizeof(c->sni), kind);
	rnd_text(t->name, most ? sizeof(t->name) - 1 : rnd() % 100, kind);
	rnd_text(t->src, rnd() % 8, kind);
	t->o.nchain = most ? 6 : (int)(rnd() % 7);
	for (int i = 0; i < t->o.nchain; i++) {
		rnd_text(t->chain[i], most ? sizeof(t->chain[i]) - 1 : rnd() % 60, kind);
		t->chainp[i] = rnd() % 9 == 0 && !most ? NULL : t->chain[i];
	}
	c->version = most ? 0x7f17 : rnd() % 4 == 0 ? 0 : rnd() % 2 ? (uint16_t)(0x0300 + rnd() % 5) : (uint16_t)rnd();
	c->verdict = (enum verdict)(rnd() % (V_COUNT + 2));
	c->has_alert = most || rnd() % 2;
	c->alert_desc = (uint8_t)rnd();
	c->alert_from_server = rnd() % 2;
	c->nframes = most ? CONN_MAX_FRAMES : (uint8_t)(rnd() % (CONN_MAX_FRAMES + 1));
	for (int i = 0; i < c->nframes; i++)
		c->frames[i] = most ? UINT64_MAX : rnd() >> (rnd() % 64);
	c->reaction_ms = most ? 1e300 : rnd_ms();
	rnd_text(t->reason, most ? sizeof(t->reason) - 1 : rnd() % 60, kind);
	c->reason = rnd() % 5 == 0 && !most ? NULL : t->reason;
	rnd_text(t->app, most ? sizeof(t->app) - 1 : rnd() % 20, kind);
	rnd_text(t->cat, most ? sizeof(t->cat) - 1 : rnd() % 20, kind);
	rnd_text(c->ja3, most ? sizeof(c->ja3) - 1 : rnd() % 2 ? 32 : 0, kind);
	rnd_text(c->alpn, most ? sizeof(c->alpn) - 1 : rnd() % 10, kind);
	c->first_frame = most ? UINT64_MAX : rnd() >> (rnd() % 64);
	c->saw_ch = !most && rnd() % 2;
	c->saw_sh = most || rnd() % 2;
	c->hrr = !most && rnd() % 2;
	c->saw_cert = !most && rnd() % 2;
	c->cert_count = most ? UINT32_MAX : (uint32_t)(rnd() % 5);
	c->cipher = (uint16_t)rnd();
	/* alerts: pieces between commas, empty ones too */
	rnd_text(c->alerts, most ? sizeof(c->alerts) - 1 : rnd() % sizeof(c->alerts), kind);
	for (size_t i = 0; c->alerts[i]; i++)
		if (rnd() % 6 == 0)
			c->alerts[i] = ',';
	c->appdata_c2s = most ? UINT64_MAX : rnd() % 3 ? 0 : rnd();
	c->appdata_s2c = most ? UINT64_MAX : rnd() % 3 ? 0 : rnd();
	c->c_rst = !most && rnd() % 2;
	c->c_fin = !most && rnd() % 2;
	c->s_rst = !most && rnd() % 2;
	c->s_fin = !most && rnd() % 2;
	c->rst_after_sh_ms = most ? -1e300 * -1 : rnd_ms();
	t->o.c = c;
	t->o.client = rnd() % 20 == 0 && !most ? NULL : t->client;
	t->o.server = t->server;
	t->o.name = rnd() % 5 == 0 && !most ? "" : t->name;
	t->o.name_source = t->src;
	t->o.chain = t->chainp;
	t->o.app = t->app;
	t->o.category = t->cat;
}

/* conns[0..n) through json_conn and through ref_conn, as elements of an
 * array that starts after a string of `fill` bytes; 0 if the same. */
static int conn_doc(struct tconn *t, int n, int buffered, int pretty, size_t fill, int *where)
{
	char *out[2] = { NULL, NULL };
	size_t len[2] = { 0, 0 };
	for (int run = 0; run < 2; run++) {
		struct tcap c;
		struct out_ctx o;
		struct jw *w;
		memset(&o, 0, sizeof(o));
		if (run) {
			/* json_conn writes o.jw: the same capture, moved there */
			w = &o.jw;
			c.buf = NULL;
			c.len = 0;
			c.f = open_memstream(&c.buf, &c.len);
			c.buffered = buffered;
			if (buffered)
				jw_init_buffered(w, c.f, pretty);
			else
				jw_init(w, c.f, pretty);
		} else {
			w = tcap_open(&c, buffered, pretty);
		}
		jw_arr_open(w);
		if (fill) {
			char *s = malloc(fill + 1);
			memset(s, 'f', fill);
			s[fill] = '\0';
			jw_str(w, s);
			free(s);
		}
		*where = (int)w->blen;
		for (int i = 0; i < n; i++) {
			if (run)
				json_conn(&o, &t[i].o);
			else
				ref_conn(w, &t[i].o);
		}
		jw_arr_close(w);
		if (run) {
			if (buffered)
				jw_release(w);
			fclose(c.f);
			out[1] = c.buf;
			len[1] = c.len;
		} else {
			out[0] = tcap_close(&c, &len[0]);
		}
	}
	{
		int diff = len[0] != len[1] || memcmp(out[0], out[1], len[0]) != 0;
		if (diff) {
			size_t i = 0;
			while (i < len[0] && i < len[1] && out[0][i] == out[1][i])
				i++;
			fprintf(stderr, "json_conn differs at %zu of %zu/%zu: ...%.40s\n", i, len[0], len[1],
			        out[1] + (i > 20 ? i - 20 : 0));
		}
		free(out[0]);
		free(out[1]);
		return diff;
	}
}

static void conns(void)
{
	enum { N = 64 };
	struct tconn *t = calloc(N, sizeof(*t));
	int bad = 0, where;
	/* random connections, compact and pretty, buffered or not */
	for (int round = 0; round < 40; round++) {
		for (int i = 0; i < N; i++)
			rnd_conn(&t[i], i % 16 == 0);
		bad += conn_doc(t, N, round & 1, (round >> 1) & 1, 0, &where);
	}
	/* a name longer than the buffer (the string goes in pieces) */
	rnd_conn(&t[0], 0);
	rnd_conn(&t[1], 1);
	t[0].big = malloc(JW_BUF_SIZE + 1000);
	rnd_text(t[0].big, JW_BUF_SIZE + 999, 1);
	t[0].o.name = t[0].big;
	for (int m = 0; m < 4; m++)
		bad += conn_doc(t, 2, m & 1, m >> 1, 0, &where);
	free(t[0].big);
	/* the largest connection starting at every place near the buffer's end:
	 * a group that writes more than its room point made room for would
	 * write past the buffer (ASan) or differ */
	rnd_conn(&t[0], 1);
	for (int pretty = 0; pretty < 2; pretty++) {
		for (size_t k = 0; k < 3000; k++) {
			/* '[', the quotes, and pretty: a newline and 2 spaces */
			size_t fill = JW_BUF_SIZE - 1 - 2 - (size_t)pretty * 3 - k;
			bad += conn_doc(t, 1, 1, pretty, fill, &where);
			if (where != (int)(JW_BUF_SIZE - k)) {
				fprintf(stderr, "fill: at %d, not %d\n", where, (int)(JW_BUF_SIZE - k));
				bad++;
				break;
			}
		}
	}
	/* and where the plain calls leave everything: the sample of conns with
	 * small, every-kind fields, at 0..600 bytes before the end */
	for (int i = 0; i < 4; i++)
		rnd_conn(&t[i], 0);
	for (size_t k = 0; k < 600; k++)
		bad += conn_doc(t, 4, 1, (int)(k & 1), JW_BUF_SIZE - 1 - 2 - (k & 1) * 3 - k, &where);
	CHECK(bad == 0);
	free(t);
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
	numbers();
	conns();
	UNIT_DONE();
}
