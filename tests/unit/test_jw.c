/* test_jw.c: the JSON writer escapes hostile strings and nests correctly. */
#include <stdlib.h>

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
	UNIT_DONE();
}
