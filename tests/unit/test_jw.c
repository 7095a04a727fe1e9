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
	UNIT_DONE();
}
