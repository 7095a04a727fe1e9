/* test_zsat.c: unit tests of the ZSATunnel log parser: the guide's lines, encodings, line ends, correlation, caps.
 *
 * The three lines Zscaler's guide quotes are used verbatim, among ordinary
 * lines of the same layout; the wrapped form of the guide's appendix, UTF-16
 * as Windows writes it, and input fed one byte at a time must give the same
 * evidence.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* open_memstream */
#endif
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/zsatunnel.h"
#include "outputs/jw.h"
#include "tests/unit/unit.h"

#define G1 "2024-07-17 18:16:29.783551(-0400)[80582:16211546] INF ID=492535293, Tunnel to SME for host=downloaddispatch.itunes.apple.com:443, SME IP=104.129.206.47:443"
#define G2 "2024-07-17 18:16:30.054381(-0400)[80582:16211546] WAR ID=492535293, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)"
#define G3 "2024-07-17 18:16:30.054553(-0400)[80582:16211546] INF ==> ID=492535293, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=891, srv_bytes=4230!"

/* Ordinary lines of the same layout around the guide's. */
static const char *const ordinary[] = {
	"2024-07-17 18:16:28.100000(-0400)[80582:16211546] INF Power Change Event: Detected Modern Standby exit",
	"2024-07-17 18:16:28.200000(-0400)[80582:16211546] INF ZTunnelManager: tunnel state TUNNEL_FORWARDING",
	"2024-07-17 18:16:28.300000(-0400)[80582:16211546] DBG ID=492535000, Tunnel to SME for host=www.example.com:443, SME IP=104.129.206.47:443",
	"2024-07-17 18:16:28.400000(-0400)[80582:16211546] INF ==> ID=492535000, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=15230, srv_bytes=981244!",
	"2024-07-17 18:16:29.000000(-0400)[80582:16211546] INF Network change detected: interface en0 up",
	"   continuation of a dumped configuration block",
	"",
	"2024-07-17 18:16:29.500000(-0400)[80582:16211546] ERR ZPAC: Failed to download PAC file (status=404)",
};

static size_t build_log(char *buf, size_t cap, const char *eol)
{
	size_t n = 0;
	for (size_t i = 0; i < sizeof ordinary / sizeof ordinary[0]; i++)
		n += (size_t)snprintf(buf + n, cap - n, "%s%s", ordinary[i], eol);
	n += (size_t)snprintf(buf + n, cap - n, "%s%s%s%s%s%s", G1, eol, G2, eol, G3, eol);
	n += (size_t)snprintf(buf + n, cap - n, "%s%s", ordinary[4], eol);
	return n;
}

/* The evidence of the guide's tunnel, whatever the packaging. */
static void check_guide(struct zsat_log *z, const char *what)
{
	const struct zsat_host *h = zsat_find(z, "downloaddispatch.itunes.apple.com");
	const struct zsat_host *ok = zsat_find(z, "www.example.com");
	CHECK(h != NULL);
	CHECK(ok != NULL);
	if (!h || !ok) {
		fprintf(stderr, "  (in %s)\n", what);
		return;
	}
	CHECK_EQ_INT(h->tunnels, 1);
	CHECK_EQ_INT(h->closed_both, 1);
	CHECK_EQ_INT(h->closes, 1);
	CHECK_EQ_INT(h->signatures, 1);
	CHECK_EQ_INT(h->clt_bytes, 891);
	CHECK_EQ_INT(h->srv_bytes, 4230);
	CHECK_EQ_INT(h->port, 443);
	CHECK_EQ_STR(h->sme, "104.129.206.47:443");
	/* 18:16:29.783551 at -04:00 is 22:16:29.783551 UTC */
	CHECK_EQ_INT(h->first_ns, 1721254589783551000ull);
	CHECK_EQ_INT(h->first_sig_ns, 1721254590054381000ull);
	CHECK_EQ_INT(h->nexamples, 1);
	CHECK_EQ_INT(h->examples[0].id, 492535293);
	CHECK_EQ_INT(ok->signatures, 0);
	CHECK_EQ_INT(ok->closes, 1);
	CHECK_EQ_INT(zsat_host_count(z), 2);
	if (unit_fail)
		fprintf(stderr, "  (in %s)\n", what);
}

static void test_plain(void)
{
	static char buf[8192];
	size_t n = build_log(buf, sizeof buf, "\n");
	struct zsat_log *z = zsat_new();
	const struct zsat_stats *st;

	zsat_feed(z, buf, n);
	zsat_end(z);
	check_guide(z, "plain LF");
	st = zsat_stats(z);
	CHECK_EQ_INT(st->lines, 12);
	CHECK_EQ_INT(st->used, 5);   /* the guide's three and the example.com pair */
	CHECK_EQ_INT(st->skipped, 7);
	CHECK_EQ_INT(st->lines, st->used + st->skipped);
	CHECK_EQ_INT(st->records, 5);
	CHECK_EQ_INT(st->utc_offset_min, -240);
	CHECK(st->offset_seen && !st->offsets_mixed);
	CHECK_EQ_INT(st->inputs, 1);
	zsat_free(z);
}

static void test_chunks_and_line_ends(void)
{
	static const char *const eols[] = { "\n", "\r\n", "\r" };
	static char buf[8192];
	for (size_t e = 0; e < 3; e++) {
		size_t n = build_log(buf, sizeof buf, eols[e]);
		struct zsat_log *z = zsat_new();
		for (size_t i = 0; i < n; i++) /* one byte at a time */
			zsat_feed(z, buf + i, 1);
		zsat_end(z);
		check_guide(z, eols[e][0] == '\r' ? (eols[e][1] ? "CRLF bytewise" : "CR bytewise") : "LF bytewise");
		CHECK_EQ_INT(zsat_stats(z)->lines, 12);
		zsat_free(z);
	}
}

/* Encode UTF-8 (ASCII here, plus one 'é') as UTF-16 with a BOM. */
static size_t to_utf16(const char *s, size_t n, uint8_t *out, int be, int bom)
{
	size_t o = 0;
	if (bom) {
		out[o++] = be ? 0xFE : 0xFF;
		out[o++] = be ? 0xFF : 0xFE;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned u = (unsigned char)s[i];
		if (u == 0xC3 && i + 1 < n) { /* two-byte UTF-8 of Latin-1 */
			u = 0xC0 | ((unsigned char)s[++i] & 0x3F);
		}
		out[o++] = (uint8_t)(be ? u >> 8 : u & 0xFF);
		out[o++] = (uint8_t)(be ? u & 0xFF : u >> 8);
	}
	return o;
}

static void test_encodings(void)
{
	static char buf[8192];
	static uint8_t u16[20000];
	size_t n = build_log(buf, sizeof buf, "\r\n");
	struct zsat_log *z;
	size_t m;

	/* UTF-16LE with BOM, as Windows writes */
	m = to_utf16(buf, n, u16, 0, 1);
	z = zsat_new();
	for (size_t i = 0; i < m; i += 7) /* odd chunks split code units */
		zsat_feed(z, (const char *)u16 + i, m - i < 7 ? m - i : 7);
	zsat_end(z);
	check_guide(z, "UTF-16LE BOM");
	CHECK_EQ_INT(zsat_stats(z)->utf16_inputs, 1);
	zsat_free(z);

	/* UTF-16BE with BOM, and UTF-16LE without one */
	m = to_utf16(buf, n, u16, 1, 1);
	z = zsat_new();
	zsat_feed(z, (const char *)u16, m);
	zsat_end(z);
	check_guide(z, "UTF-16BE BOM");
	zsat_free(z);
	m = to_utf16(buf, n, u16, 0, 0);
	z = zsat_new();
	zsat_feed(z, (const char *)u16, m);
	zsat_end(z);
	check_guide(z, "UTF-16LE no BOM");
	zsat_free(z);

	/* UTF-8 BOM */
	z = zsat_new();
	zsat_feed(z, "\xEF\xBB\xBF", 3);
	zsat_feed(z, buf, n);
	zsat_end(z);
	check_guide(z, "UTF-8 BOM");
	CHECK_EQ_INT(zsat_stats(z)->utf16_inputs, 0);
	zsat_free(z);
}

static void test_truncated_and_wrapped(void)
{
	/* the last line without its newline */
	static const char cut[] = G1 "\n" G2 "\n" G3;
	/* the guide's appendix: each message wrapped over lines */
	static const char wrapped[] =
		"2024-07-17 18:16:29.783551(-0400)[80582:16211546] INF ID=492535293, Tunnel to SME for\n"
		"host=downloaddispatch.itunes.apple.com:443, SME IP=104.129.206.47:443\n"
		"2024-07-17 18:16:30.054381(-0400)[80582:16211546] WAR ID=492535293, Exception in\n"
		"TcpConnection run() (Error=Application exception: Both client and server sockets\n"
		"are closed!)\n"
		"2024-07-17 18:16:30.054553(-0400)[80582:16211546] INF ==> ID=492535293,\n"
		"~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=891, srv_bytes=4230!\n";
	struct zsat_log *z = zsat_new();
	const struct zsat_host *h;

	zsat_feed(z, cut, sizeof cut - 1);
	zsat_end(z);
	h = zsat_find(z, "downloaddispatch.itunes.apple.com");
	CHECK(h && h->signatures == 1 && h->clt_bytes == 891);
	CHECK_EQ_INT(zsat_stats(z)->used, 3);
	zsat_free(z);

	z = zsat_new();
	zsat_feed(z, wrapped, sizeof wrapped - 1);
	zsat_end(z);
	h = zsat_find(z, "downloaddispatch.itunes.apple.com");
	CHECK(h && h->tunnels == 1 && h->closed_both == 1 && h->signatures == 1);
	CHECK(h && h->srv_bytes == 4230);
	CHECK_EQ_INT(zsat_stats(z)->lines, 7);
	CHECK_EQ_INT(zsat_stats(z)->used, 7);
	zsat_free(z);
}

static void test_rules(void)
{
	static const char log[] =
		/* both closed, but a whole download's worth of client bytes: no signature */
		"2024-07-17 10:00:00.000000(+0000)[1:1] INF ID=1, Tunnel to SME for host=big.example:443, SME IP=1.2.3.4:443\n"
		"2024-07-17 10:00:01.000000(+0000)[1:1] WAR ID=1, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)\n"
		"2024-07-17 10:00:01.000100(+0000)[1:1] INF ==> ID=1, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=50000, srv_bytes=4230!\n"
		/* small, closed, without the exception: no signature */
		"2024-07-17 10:00:02.000000(+0000)[1:1] INF ID=2, Tunnel to SME for host=quiet.example:443, SME IP=1.2.3.4:443\n"
		"2024-07-17 10:00:03.000000(+0000)[1:1] INF ==> ID=2, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=300, srv_bytes=100!\n"
		/* exception without a close line: closed_both, no signature */
		"2024-07-17 10:00:04.000000(+0000)[1:1] INF ID=3, Tunnel to SME for host=Pinned.Example.:8443, SME IP=1.2.3.4:443\n"
		"2024-07-17 10:00:05.000000(+0000)[1:1] WAR ID=3, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)\n"
		/* another exception kind */
		"2024-07-17 10:00:06.000000(+0000)[1:1] INF ID=4, Tunnel to SME for host=[2001:db8::1]:443, SME IP=1.2.3.4:443\n"
		"2024-07-17 10:00:07.000000(+0000)[1:1] WAR ID=4, Exception in TcpConnection run() (Error=Connection reset by peer)\n"
		/* orphans: IDs never opened */
		"2024-07-17 10:00:08.000000(+0000)[1:1] WAR ID=99, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)\n"
		"2024-07-17 10:00:08.500000(+0000)[1:1] INF ==> ID=98, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=1, srv_bytes=1!\n"
		/* a word ending in ID= is not an ID; no offset; damaged time */
		"2024-07-17 10:00:09 INF SID=5, Tunnel to SME for host=notid.example:443\n"
		"2024-13-45 99:00:00.0 INF ID=6, Tunnel to SME for host=badtime.example:443\n"
		/* the same ID opened twice: the first tunnel ends there */
		"2024-07-17 10:00:10.000000(+0000)[1:1] INF ID=7, Tunnel to SME for host=reuse.example:443, SME IP=1.2.3.4:443\n"
		"2024-07-17 10:00:10.100000(+0000)[1:1] WAR ID=7, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)\n"
		"2024-07-17 10:00:10.200000(+0000)[1:1] INF ==> ID=7, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=517, srv_bytes=3100!\n"
		"2024-07-17 10:00:11.000000(+0000)[1:1] INF ID=7, Tunnel to SME for host=reuse.example:443, SME IP=1.2.3.4:443\n"
		"2024-07-17 10:00:11.100000(+0000)[1:1] WAR ID=7, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)\n"
		"2024-07-17 10:00:11.200000(+0000)[1:1] INF ==> ID=7, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=517, srv_bytes=3100!\n";
	struct zsat_log *z = zsat_new();
	const struct zsat_host *h;
	const struct zsat_stats *st;

	zsat_feed(z, log, sizeof log - 1);
	zsat_end(z);
	h = zsat_find(z, "big.example");
	CHECK(h && h->closed_both == 1 && h->signatures == 0 && h->clt_bytes == 50000);
	h = zsat_find(z, "quiet.example");
	CHECK(h && h->closed_both == 0 && h->signatures == 0 && h->closes == 1);
	h = zsat_find(z, "pinned.example");
	CHECK(h && h->closed_both == 1 && h->signatures == 0 && h->port == 8443);
	h = zsat_find(z, "2001:db8::1");
	CHECK(h && h->other_exceptions == 1 && h->closed_both == 0 && h->port == 443);
	CHECK(zsat_find(z, "notid.example") == NULL);
	h = zsat_find(z, "badtime.example");
	CHECK(h && h->tunnels == 1 && h->first_ns == 0);
	h = zsat_find(z, "reuse.example");
	CHECK(h && h->tunnels == 2 && h->signatures == 2 && h->nexamples == 2);
	st = zsat_stats(z);
	CHECK_EQ_INT(st->orphans, 2);
	CHECK_EQ_INT(st->bad_time, 1);
	CHECK_EQ_INT(st->no_offset, 1);
	CHECK_EQ_INT(st->lines, st->used + st->skipped);
	zsat_free(z);
}

static void test_times(void)
{
	uint64_t ns;
	int32_t off;
	int has;
	const char *s;

	s = "2024-07-17 18:16:29.783551(-0400)[1:2] INF";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has) == 33);
	CHECK(ns == 1721254589783551000ull && off == -240 && has);
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_INFO, &ns, &off, &has));
	CHECK(ns == 1721240189783551000ull && off == -240);
	s = "2025-03-25 16:51:20.127977(+0530)[3524:3512] INF x";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has));
	CHECK(ns == 1742901680127977000ull && off == 330);
	s = "2024-04-22 14:13:02.064(+05:30)[2472:356] [debug] [MOD]";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has));
	CHECK(ns == 1713775382064000000ull && off == 330);
	s = "2024-07-17T22:16:29Z rest";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has) == 20);
	CHECK(ns == 1721254589000000000ull && has);
	s = "2024/07/17 22:16:29,5 -0000";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has));
	CHECK(ns == 1721254589500000000ull && has);
	s = "2024-07-17 22:16:29 INF";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has) == 19);
	CHECK(!has && ns == 1721254589000000000ull);
	s = "2024-07-17 22:16";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has) == 0);
	s = "2024-02-30x";
	CHECK(zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, &ns, &off, &has) == 0);
}

static void test_caps_and_garbage(void)
{
	struct zsat_log *z = zsat_new();
	char line[256];
	char *big = malloc(ZSAT_MAX_LINE * 3);
	const struct zsat_stats *st;

	/* more open tunnels than the table holds: the oldest are finalised */
	for (unsigned i = 0; i < ZSAT_MAX_IDS + 10; i++) {
		int n = snprintf(line, sizeof line, "2024-07-17 10:00:00.000000(+0000)[1:1] INF ID=%u, "
				 "Tunnel to SME for host=h%u.example:443, SME IP=1.2.3.4:443\n", 1000 + i, i % 50);
		zsat_feed(z, line, (size_t)n);
	}
	/* the first ID was evicted: its close is an orphan */
	{
		static const char c[] = "2024-07-17 10:00:01.000000(+0000)[1:1] INF ==> ID=1000, "
			"~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=1, srv_bytes=1!\n";
		zsat_feed(z, c, sizeof c - 1);
	}
	/* a line far over the cap, then binary garbage */
	memset(big, 'x', ZSAT_MAX_LINE * 3);
	memcpy(big, "2024-07-17 10:00:00 ", 20);
	zsat_feed(z, big, ZSAT_MAX_LINE * 3);
	zsat_feed(z, "\n", 1);
	for (unsigned i = 0; i < 5000; i++) {
		char b = (char)(i * 131 + 7);
		zsat_feed(z, &b, 1);
	}
	zsat_end(z);
	st = zsat_stats(z);
	CHECK_EQ_INT(st->ids_evicted, 10);
	CHECK_EQ_INT(st->orphans, 1);
	CHECK(st->lines_cut >= 1);
	CHECK_EQ_INT(zsat_host_count(z), 50);
	CHECK_EQ_INT(st->lines, st->used + st->skipped);
	free(big);
	zsat_free(z);

	/* an empty input and an input that is only a BOM */
	z = zsat_new();
	zsat_end(z);
	zsat_feed(z, "\xFF\xFE", 2);
	zsat_end(z);
	CHECK_EQ_INT(zsat_stats(z)->inputs, 2);
	CHECK_EQ_INT(zsat_stats(z)->lines, 0);
	CHECK_EQ_INT(zsat_host_count(z), 0);
	zsat_free(z);
}

static void test_json(void)
{
	static char buf[8192];
	size_t n = build_log(buf, sizeof buf, "\n");
	struct zsat_log *z = zsat_new();
	char *out = NULL;
	size_t outlen = 0;
	FILE *f = open_memstream(&out, &outlen);
	struct jw w;

	zsat_feed(z, buf, n);
	zsat_end(z);
	jw_init(&w, f, 0);
	zsat_write_json(z, &w);
	fclose(f);
	CHECK(out && strstr(out, "\"kind\":\"zsatunnel\""));
	CHECK(out && strstr(out, "\"lines_used\":5"));
	/* the failing host first, with its signature */
	CHECK(out && strstr(out, "\"hosts\":[{\"host\":\"downloaddispatch.itunes.apple.com\",\"port\":443"));
	CHECK(out && strstr(out, "\"signatures\":1"));
	CHECK(out && strstr(out, "\"first_time\":\"2024-07-17T22:16:29.783551Z\""));
	free(out);
	zsat_free(z);
}

int main(void)
{
	test_plain();
	test_chunks_and_line_ends();
	test_encodings();
	test_truncated_and_wrapped();
	test_rules();
	test_times();
	test_caps_and_garbage();
	test_json();
	UNIT_DONE();
}
