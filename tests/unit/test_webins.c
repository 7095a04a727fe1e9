/* test_webins.c: unit tests of the Web Insights CSV reader: header mapping, quoting, encodings, delimiters, caps.
 *
 * The exports here follow what the portal writes: columns in whatever order
 * the administrator left them, a title block before the header, quoted
 * fields holding commas, quotes and newlines, a UTF-8 BOM; the same rows as
 * tab-separated UTF-16LE (Excel's "Unicode text") must give the same
 * evidence.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/webinsights.h"
#include "outputs/jw.h"
#include "tests/unit/unit.h"

#define FAILED "Dropped due to failed client SSL handshake"

static const char csv_odd[] =
	"\xEF\xBB\xBF\"Report Name\",\"Web Insights Logs\"\r\n"
	"\"Time Frame\",\"07/17/2024 00:00 - 07/18/2024 00:00\"\r\n"
	"\r\n"
	"\"URL\",\"Location\",\"Policy Action\",\"User\",\"Logged Time\",\"URL Category\"\r\n"
	"\"https://play.itunes.apple.com/WebObjects/MZStore.woa?a=1,2\",\"Road Warrior\",\"" FAILED "\",\"dev1@okta.example\",\"Wednesday, July 17, 2024 6:16:30 PM\",\"Apple\"\r\n"
	"\"downloaddispatch.itunes.apple.com:443\",\"Road Warrior\",\"" FAILED "\",\"dev1@okta.example\",\"Wednesday, July 17, 2024 6:16:31 PM\",\"Apple\"\r\n"
	"downloaddispatch.itunes.apple.com,\"HQ, Building 2\",\"" FAILED "\",dev2@okta.example,2024-07-17 18:20:00,Apple\r\n"
	"www.example.com,Road Warrior,Allowed,dev1@okta.example,\"Wednesday, July 17, 2024 6:17:00 PM\",News\r\n"
	"www.blocked.example,Road Warrior,Blocked,dev1@okta.example,\"Wednesday, July 17, 2024 6:17:01 PM\",Gambling\r\n"
	"\"HTTPS://User@Multi.Example.:8443/x\",\"Line one\r\nline two, still the location\",\"" FAILED "\",\"dev3 \"\"quoted\"\"\",7/17/2024 18:25,x\r\n"
	"www.example.com,Road Warrior,Allowed,dev1@okta.example,2024-07-17 18:30:00,News"; /* no newline */

static void check_odd(const struct webins *w, const char *what)
{
	const struct webins_host *h;
	const struct webins_stats *st = webins_stats(w);
	int before = unit_fail;

	CHECK_EQ_INT(webins_host_count(w), 3);
	h = webins_find(w, "downloaddispatch.itunes.apple.com");
	CHECK(h != NULL);
	if (h) {
		CHECK_EQ_INT(h->failed, 2);
		CHECK_EQ_INT(h->nusers, 2);
		CHECK_EQ_INT(h->nlocations, 2);
		CHECK_EQ_STR(h->locations[1], "HQ, Building 2");
		CHECK_EQ_STR(h->first_time, "Wednesday, July 17, 2024 6:16:31 PM");
		CHECK_EQ_STR(h->last_time, "2024-07-17 18:20:00");
		CHECK_EQ_INT(h->first_ns, 1721240191000000000ull); /* 18:16:31, no zone: as UTC */
	}
	h = webins_find(w, "play.itunes.apple.com");
	CHECK(h && h->failed == 1 && h->nusers == 1);
	h = webins_find(w, "multi.example");
	CHECK(h && h->failed == 1);
	if (h) {
		CHECK_EQ_STR(h->users[0], "dev3 \"quoted\"");
		CHECK(strstr(h->locations[0], "Line one") && strstr(h->locations[0], "still the location"));
	}
	CHECK(webins_find(w, "www.example.com") == NULL);
	CHECK_EQ_INT(st->rows, 7);
	CHECK_EQ_INT(st->failed_rows, 4);
	CHECK_EQ_INT(st->other_rows, 3);
	CHECK_EQ_INT(st->preamble_rows, 2);
	CHECK_EQ_INT(webins_action_count(w), 2);
	CHECK(webins_action(w, 0) && !strcmp(webins_action(w, 0)->action, "Allowed") &&
	      webins_action(w, 0)->rows == 2);
	CHECK(webins_action(w, 1) && !strcmp(webins_action(w, 1)->action, "Blocked"));
	CHECK_EQ_INT(st->time_no_zone, 4);
	CHECK_EQ_INT(st->time_unparsed, 0);
	if (unit_fail != before)
		fprintf(stderr, "  (in %s)\n", what);
}

static void test_odd_order(void)
{
	struct webins *w = webins_new();
	webins_feed(w, csv_odd, sizeof csv_odd - 1);
	webins_end(w);
	check_odd(w, "whole");
	CHECK_EQ_INT(webins_stats(w)->delimiter, ',');
	webins_free(w);

	w = webins_new();
	for (size_t i = 0; i < sizeof csv_odd - 1; i++)
		webins_feed(w, csv_odd + i, 1);
	webins_end(w);
	check_odd(w, "bytewise");
	webins_free(w);
}

/* The same rows as tab-separated UTF-16LE with a BOM. */
static void test_utf16_tabs(void)
{
	static char tsv[sizeof csv_odd];
	static uint8_t u16[sizeof csv_odd * 2 + 2];
	size_t n = 0, m = 0;
	int inq = 0;
	struct webins *w = webins_new();

	/* commas outside quotes become tabs; drop the UTF-8 BOM */
	for (size_t i = 3; i < sizeof csv_odd - 1; i++) {
		char c = csv_odd[i];
		if (c == '"')
			inq = !inq;
		tsv[n++] = (c == ',' && !inq) ? '\t' : c;
	}
	u16[m++] = 0xFF;
	u16[m++] = 0xFE;
	for (size_t i = 0; i < n; i++) {
		u16[m++] = (uint8_t)tsv[i];
		u16[m++] = 0;
	}
	for (size_t i = 0; i < m; i += 5)
		webins_feed(w, (const char *)u16 + i, m - i < 5 ? m - i : 5);
	webins_end(w);
	check_odd(w, "UTF-16LE tabs");
	CHECK_EQ_INT(webins_stats(w)->delimiter, '\t');
	CHECK_EQ_INT(webins_stats(w)->utf16_inputs, 1);
	webins_free(w);
}

static void test_several_inputs(void)
{
	static const char a[] =
		"Policy Action,URL,User\n"
		FAILED ",a.example,u1\n"
		FAILED ",a.example,u2\n";
	static const char b[] = /* other order, semicolons, other names */
		"Event Time;User Name;Hostname;Action;Location Name\n"
		"Wed Jul 17 18:16:30 2024;u3;A.Example;" FAILED ";Site B\n"
		"Wed Jul 17 18:16:31 2024;u4;b.example;Caution;Site B\n";
	static const char none[] = "name,value\nx,1\ny,2\n";
	struct webins *w = webins_new();
	const struct webins_host *h;

	webins_feed(w, a, sizeof a - 1);
	webins_end(w);
	webins_feed(w, b, sizeof b - 1);
	webins_end(w);
	webins_feed(w, none, sizeof none - 1);
	webins_end(w);
	h = webins_find(w, "a.example");
	CHECK(h && h->failed == 3 && h->nusers == 3 && h->nlocations == 1);
	CHECK(h && h->first_ns == 1721240190000000000ull);
	CHECK(webins_find(w, "b.example") == NULL);
	CHECK_EQ_INT(webins_stats(w)->inputs, 3);
	CHECK_EQ_INT(webins_stats(w)->inputs_no_header, 1);
	CHECK_EQ_INT(webins_stats(w)->other_rows, 1);
	webins_free(w);
}

static void test_caps(void)
{
	struct webins *w = webins_new();
	static const char head[] = "URL,Policy Action,User\n";
	char *big = malloc(WI_MAX_FIELD * 2 + 16);
	char line[128];

	/* a quoted field over the cap ends that input, the next one is fine */
	webins_feed(w, head, sizeof head - 1);
	webins_feed(w, "a.example," FAILED ",u\n\"", sizeof("a.example," FAILED ",u\n\"") - 1);
	memset(big, 'x', WI_MAX_FIELD * 2);
	webins_feed(w, big, WI_MAX_FIELD * 2);
	webins_end(w);
	CHECK_EQ_INT(webins_stats(w)->inputs_failed, 1);
	CHECK(webins_find(w, "a.example") && webins_find(w, "a.example")->failed == 1);

	/* more users than kept */
	webins_feed(w, head, sizeof head - 1);
	for (unsigned i = 0; i < WI_MAX_USERS + 5; i++) {
		int n = snprintf(line, sizeof line, "https://c.example/," FAILED ",user%u\n", i);
		webins_feed(w, line, (size_t)n);
	}
	/* rows without a usable host, short rows */
	webins_feed(w, "\"has space.example\"," FAILED ",u\n", sizeof("\"has space.example\"," FAILED ",u\n") - 1);
	webins_feed(w, "only-one-field\n", 15);
	webins_end(w);
	CHECK(webins_find(w, "c.example") && webins_find(w, "c.example")->nusers == WI_MAX_USERS &&
	      webins_find(w, "c.example")->users_overflow);
	CHECK_EQ_INT(webins_stats(w)->bad_rows, 2);

	/* binary garbage, then an empty input */
	for (unsigned i = 0; i < 100000; i++) {
		char c = (char)(i * 7919 + 13);
		webins_feed(w, &c, 1);
	}
	webins_end(w);
	webins_end(w);
	CHECK_EQ_INT(webins_stats(w)->inputs, 4);
	free(big);
	webins_free(w);
}

static void test_helpers(void)
{
	char h[256];
	uint64_t ns;
	int zone;

	CHECK(webins_url_host("https://Play.iTunes.Apple.com/a/b?c", h, sizeof h) && !strcmp(h, "play.itunes.apple.com"));
	CHECK(webins_url_host("downloaddispatch.itunes.apple.com:443", h, sizeof h) &&
	      !strcmp(h, "downloaddispatch.itunes.apple.com"));
	CHECK(webins_url_host("http://u:p@x.example:80/", h, sizeof h) && !strcmp(h, "x.example"));
	CHECK(webins_url_host("[2001:DB8::1]:443", h, sizeof h) && !strcmp(h, "2001:db8::1"));
	CHECK(webins_url_host("2001:db8::2", h, sizeof h) && !strcmp(h, "2001:db8::2"));
	CHECK(webins_url_host("  host.example./", h, sizeof h) && !strcmp(h, "host.example"));
	CHECK(!webins_url_host("", h, sizeof h));
	CHECK(!webins_url_host("https:///path", h, sizeof h));

	CHECK(webins_parse_time("Wednesday, July 17, 2024 6:16:30 PM", &ns, &zone) && ns == 1721240190000000000ull && !zone);
	CHECK(webins_parse_time("July 17, 2024 12:05:00 AM", &ns, &zone) && ns == 1721174700000000000ull);
	CHECK(webins_parse_time("Wed Jul 17 18:16:30 2024", &ns, &zone) && ns == 1721240190000000000ull);
	CHECK(webins_parse_time("7/17/2024 18:16:30 GMT", &ns, &zone) && ns == 1721240190000000000ull && zone);
	CHECK(webins_parse_time("2024-07-17 14:16:30.5 -04:00", &ns, &zone) && ns == 1721240190500000000ull && zone);
	CHECK(webins_parse_time("Wednesday, July 17, 2024 2:16:30 PM -0400", &ns, &zone) && ns == 1721240190000000000ull && zone);
	CHECK(!webins_parse_time("yesterday", &ns, &zone));
	CHECK(!webins_parse_time("Smarch 45, 2024", &ns, &zone));
}

static void test_json(void)
{
	struct webins *w = webins_new();
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	struct jw jw;

	webins_feed(w, csv_odd, sizeof csv_odd - 1);
	webins_end(w);
	jw_init(&jw, f, 0);
	webins_write_json(w, &jw);
	fclose(f);
	CHECK(out && strstr(out, "\"kind\":\"web_insights\""));
	CHECK(out && strstr(out, "\"hosts\":[{\"host\":\"downloaddispatch.itunes.apple.com\",\"failed_handshakes\":2,\"users_count\":2"));
	CHECK(out && strstr(out, "{\"action\":\"Allowed\",\"rows\":2}"));
	free(out);
	webins_free(w);
}

int main(void)
{
	test_odd_order();
	test_utf16_tabs();
	test_several_inputs();
	test_caps();
	test_helpers();
	test_json();
	UNIT_DONE();
}
