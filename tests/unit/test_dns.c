/* test_dns.c: DNS parser, TCP framing and tracker (dissectors/dns.c,
 * src/analysis/dnsmap.c). Real messages come from the public corpus
 * (tshark -e udp.payload / tcp.payload) and from dnsmasq answers captured on
 * the loopback (HTTPS record, CNAME, 0.0.0.0 block answer).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/dnsmap.h"
#include "analysis/edns.h"
#include "common/util.h"
#include "dissectors/dns.h"
#include "outputs/jw.h"
#include "unit.h"

/* ndpi-KakaoTalk_chat.pcap frame 109: query A graph.facebook.com */
static const char *KAKAO_Q =
	"aa87010000010000000000000567726170680866616365626f6f6b03636f6d0000010001";
/* frame 117: graph.facebook.com CNAME api.facebook.com CNAME
 * star.c10r.facebook.com A 31.13.68.70 (TTL 17), compressed names */
static const char *KAKAO_R =
	"aa87818000010003000000000567726170680866616365626f6f6b03636f6d0000010001c00c00050001"
	"00000571000603617069c012c0300005000100000576000c04737461720463313072c012c04200010001"
	"0000001100041f0d4446";
/* frames 90/98: api.facebook.com -> star.c10r.facebook.com A 31.13.68.84 */
static const char *API_Q = "27c001000001000000000000036170690866616365626f6f6b03636f6d0000010001";
static const char *API_R =
	"27c081800001000200000000036170690866616365626f6f6b03636f6d0000010001c00c00050001000003"
	"eb000c04737461720463313072c010c02e000100010000000900041f0d4454";
/* zeek-pcapng-multi-interface.pcapng frame 2: chain of 3 CNAMEs, A, OPT */
static const char *APPLE_R =
	"4fe88180000100040000000103777777056170706c6503636f6d0000010001c00c000500010000010f001a"
	"0d7777772d6170706c652d636f6d0176076161706c696d67c016c02b000500010000010f001b0377777705"
	"6170706c6503636f6d07656467656b6579036e657400c051000500010000010f0019056536383538056473"
	"6365390a616b616d616965646765c067c0780001000100000009000417c2651800002904d0000000000000";
/* ndpi-dns_ambiguous_names.pcap frame 12: NXDOMAIN, SOA in authority, OPT */
static const char *NX_R =
	"b56281830001000000010001012a057465616d73096d6963726f736f667403636f6d0000010001c0140006"
	"00010000012b003e076e73312d32303509617a7572652d646e73c01e13617a757265646e732d686f73746d"
	"6173746572c0140000000100000e100000012c0024ea000000012c0000290200000000000000";
/* zeek-pcapng-multi-interface.pcapng frame 6: 4 AAAA */
static const char *AAAA_R =
	"00058180000100040000000006676f6f676c6503636f6d00001c0001c00c001c00010000007000102607f8"
	"b0402320070000000000000066c00c001c00010000007000102607f8b040232007000000000000008bc00c"
	"001c00010000007000102607f8b0402320070000000000000071c00c001c00010000007000102607f8b040"
	"232007000000000000008a";
/* tcpdump-dns_udp_2.pcap frame 2: response cut by snaplen 98 inside answer 2 */
static const char *CUT_R =
	"593485000001000200020005037777770774637064756d70036f72670000010001c00c000100010000003c"
	"0004c08b2e42c00c0001000100";
/* dnsmasq: svc.example.com HTTPS 1 . alpn="h2,h3" ipv4hint=192.0.2.1,192.0.2.2 ech */
static const char *HTTPS_R =
	"7bab8580000100010000000003737663076578616d706c6503636f6d0000410001c00c0041000100000000"
	"00210001000001000602683202683300040008c0000201c0000202000500040a0b0c0d";
/* dnsmasq: blocked.example.com A 0.0.0.0 (address=/blocked.example.com/0.0.0.0) */
static const char *BLOCK_Q =
	"d20e0120000100000000000007626c6f636b6564076578616d706c6503636f6d0000010001";
static const char *BLOCK_R =
	"d20e8580000100010000000007626c6f636b6564076578616d706c6503636f6d0000010001c00c00010001"
	"00000000000400000000";
/* tcpdump-dns_tcp.pcap frames 4 and 6: TCP payloads with the length prefix */
static const char *TCP_Q =
	"0038431901200001000000000001037777770774637064756d70036f72670000010001000029100000000000"
	"000c000a00088f06be7d691442f0";
static const char *TCP_R =
	"00e0431985000001000200020005037777770774637064756d70036f72670000010001c00c000100010000"
	"003c0004c08b2e42c00c000100010000003c0004c6c75868c01000020001000151800012036e6963097361"
	"6e64656c6d616e02636100c0100002000100015180001203736e7308636f6f7065726978036e657400c04d"
	"000100010000012c0004d157f912c04d001c00010000012c00102607f0b0000f000000000000babef00dc0"
	"6b0001000100001c200004616b850fc06b001c000100001c20001026003c0300000000f03c91fffe96e8ef"
	"0000291000000000000000";

static size_t unhex(const char *h, uint8_t *out, size_t cap)
{
	size_t n = 0;
	while (h[0] && h[1] && n < cap) {
		unsigned v;
		sscanf(h, "%2x", &v);
		out[n++] = (uint8_t)v;
		h += 2;
	}
	return n;
}

static struct dns_msg M; /* big: keep it off the stack */

static const char *name_of(const struct dns_msg *m, uint16_t off)
{
	static char buf[DNS_NAME_TEXT_MAX];
	dns_name_text(m->buf, m->len, off, buf, sizeof buf, 1);
	return buf;
}

static void test_parse_real(void)
{
	uint8_t b[1024];
	size_t n;

	n = unhex(KAKAO_Q, b, sizeof b);
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_OK);
	CHECK_EQ_INT(M.id, 0xaa87);
	CHECK_EQ_INT(M.qr, 0);
	CHECK_EQ_INT(M.rd, 1);
	CHECK_EQ_INT(M.qdcount, 1);
	CHECK_EQ_STR(name_of(&M, M.qname), "graph.facebook.com");
	CHECK_EQ_INT(M.qtype, 1);
	CHECK_EQ_INT(M.end, n);

	n = unhex(KAKAO_R, b, sizeof b);
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_OK);
	CHECK_EQ_INT(M.qr, 1);
	CHECK_EQ_INT(M.ra, 1);
	CHECK_EQ_INT(M.rcode, 0);
	CHECK_EQ_INT(M.nan, 3);
	CHECK_EQ_INT(M.an[0].type, DNS_T_CNAME);
	CHECK_EQ_STR(name_of(&M, M.an[0].name), "graph.facebook.com");
	CHECK_EQ_STR(name_of(&M, M.an[0].u.target), "api.facebook.com");
	CHECK_EQ_STR(name_of(&M, M.an[1].name), "api.facebook.com");
	CHECK_EQ_STR(name_of(&M, M.an[1].u.target), "star.c10r.facebook.com");
	CHECK_EQ_INT(M.an[2].type, DNS_T_A);
	CHECK(M.an[2].rdata_ok && !memcmp(M.an[2].u.a, "\x1f\x0d\x44\x46", 4));
	CHECK_EQ_INT(M.an[2].ttl, 17);
	CHECK_EQ_INT(M.end, n);

	n = unhex(APPLE_R, b, sizeof b);
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_OK);
	CHECK_EQ_INT(M.nan, 4);
	CHECK_EQ_STR(name_of(&M, M.an[2].u.target), "e6858.dsce9.akamaiedge.net");
	CHECK_EQ_INT(M.have_opt, 1);
	CHECK_EQ_INT(M.edns_udp, 1232);
	CHECK_EQ_INT(M.nar, 1);
	CHECK_EQ_INT(M.ar[0].type, DNS_T_OPT);

	n = unhex(NX_R, b, sizeof b);
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_OK);
	CHECK_EQ_INT(M.rcode, 3);
	CHECK_EQ_INT(M.ext_rcode, 3);
	CHECK_EQ_STR(name_of(&M, M.qname), "*.teams.microsoft.com");
	CHECK_EQ_INT(M.nan, 0);
	CHECK_EQ_INT(M.nns, 1);
	CHECK_EQ_INT(M.ns[0].type, DNS_T_SOA);
	CHECK(M.ns[0].rdata_ok);
	CHECK_EQ_STR(name_of(&M, M.ns[0].u.soa.mname), "ns1-205.azure-dns.com");
	CHECK_EQ_STR(name_of(&M, M.ns[0].u.soa.rname), "azuredns-hostmaster.microsoft.com");
	CHECK_EQ_INT(M.ns[0].u.soa.minimum, 300);
	CHECK_EQ_INT(M.ns[0].u.soa.serial, 1);

	n = unhex(AAAA_R, b, sizeof b);
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_OK);
	CHECK_EQ_INT(M.nan, 4);
	CHECK_EQ_INT(M.an[3].type, DNS_T_AAAA);
	CHECK(M.an[3].rdata_ok && M.an[3].u.aaaa[0] == 0x26 && M.an[3].u.aaaa[15] == 0x8a);

	n = unhex(HTTPS_R, b, sizeof b);
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_OK);
	CHECK_EQ_INT(M.nan, 1);
	CHECK_EQ_INT(M.an[0].type, DNS_T_HTTPS);
	CHECK(M.an[0].rdata_ok);
	const struct dns_svcb *s = &M.an[0].u.svcb;
	CHECK_EQ_INT(s->priority, 1);
	CHECK_EQ_STR(name_of(&M, s->target), "");
	CHECK_EQ_INT(s->nalpn, 2);
	CHECK(s->alpn[0].len == 2 && !memcmp(b + s->alpn[0].off, "h2", 2));
	CHECK(s->alpn[1].len == 2 && !memcmp(b + s->alpn[1].off, "h3", 2));
	CHECK_EQ_INT(s->nv4, 2);
	CHECK(!memcmp(s->v4[0], "\xc0\x00\x02\x01", 4) && !memcmp(s->v4[1], "\xc0\x00\x02\x02", 4));
	CHECK_EQ_INT(s->ech, 1);
	CHECK_EQ_INT(s->nv6, 0);

	/* an HTTPS alpn whose id length overruns its value: decoded, flagged */
	size_t alpn_len_at = n - 33 + 7; /* RDATA is 33 bytes: prio, root, key, len, then it */
	CHECK_EQ_INT(b[alpn_len_at], 2);
	b[alpn_len_at] = 3;
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_OK);
	CHECK_EQ_INT(M.an[0].rdata_ok, 0);

	/* cut by the snap length inside the second answer: first one kept */
	n = unhex(CUT_R, b, sizeof b);
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_ETRUNC);
	CHECK_EQ_INT(M.ancount, 2);
	CHECK_EQ_INT(M.nan, 1);
	CHECK(!memcmp(M.an[0].u.a, "\xc0\x8b\x2e\x42", 4));
}

static void test_names(void)
{
	uint8_t b[600];
	size_t next;
	/* header + name at 12 */
	memset(b, 0, sizeof b);
	b[5] = 1; /* qdcount 1 */

	/* pointer to itself */
	b[12] = 0xc0, b[13] = 12;
	CHECK_EQ_INT(dns_name_skip(b, 14, 12, &next), DNS_EBAD);
	CHECK_EQ_INT(dns_parse(b, 18, &M), DNS_EBAD);
	/* two pointers to each other: 14 -> 12 -> 14 */
	b[12] = 0xc0, b[13] = 14, b[14] = 0xc0, b[15] = 12;
	CHECK_EQ_INT(dns_name_skip(b, 16, 14, &next), DNS_EBAD);
	CHECK_EQ_INT(dns_name_skip(b, 16, 12, &next), DNS_EBAD);
	/* forward pointer (target exists, but after the name) */
	b[12] = 0xc0, b[13] = 16, b[14] = 0, b[15] = 0, b[16] = 1, b[17] = 'a', b[18] = 0;
	CHECK_EQ_INT(dns_name_skip(b, 19, 12, &next), DNS_EBAD);
	/* pointer past the end */
	b[12] = 0xff, b[13] = 0xff;
	CHECK_EQ_INT(dns_name_skip(b, 19, 12, &next), DNS_EBAD);
	/* a valid backwards pointer: name at 20 points at "a" at 16 */
	b[16] = 1, b[17] = 'A', b[18] = 0, b[20] = 1, b[21] = 'x', b[22] = 0xc0, b[23] = 16;
	CHECK_EQ_INT(dns_name_skip(b, 24, 20, &next), DNS_OK);
	CHECK_EQ_INT(next, 24);
	char txt[DNS_NAME_TEXT_MAX];
	CHECK_EQ_INT(dns_name_text(b, 24, 20, txt, sizeof txt, 0), 3);
	CHECK_EQ_STR(txt, "x.A");
	dns_name_text(b, 24, 20, txt, sizeof txt, 1);
	CHECK_EQ_STR(txt, "x.a");
	/* label of 64 bytes (0x40: a reserved label type) */
	b[12] = 64;
	memset(b + 13, 'a', 64);
	b[77] = 0;
	CHECK_EQ_INT(dns_name_skip(b, 78, 12, &next), DNS_EBAD);
	/* 63 is fine */
	b[12] = 63;
	b[76] = 0;
	CHECK_EQ_INT(dns_name_skip(b, 78, 12, &next), DNS_OK);
	CHECK_EQ_INT(next, 77);
	/* name over 255 bytes: 5 labels of 63 */
	for (int i = 0; i < 5; i++) {
		b[12 + i * 64] = 63;
		memset(b + 13 + i * 64, 'b', 63);
	}
	b[12 + 5 * 64] = 0;
	CHECK_EQ_INT(dns_name_skip(b, 12 + 5 * 64 + 1, 12, &next), DNS_EBAD);
	/* 4 labels of 63 = 256 with the root byte: still too long; 3x63+61 ok */
	b[12 + 4 * 64] = 0;
	CHECK_EQ_INT(dns_name_skip(b, 12 + 4 * 64 + 1, 12, &next), DNS_EBAD);
	b[12 + 3 * 64] = 61;
	b[12 + 3 * 64 + 62] = 0;
	CHECK_EQ_INT(dns_name_skip(b, 12 + 3 * 64 + 63, 12, &next), DNS_OK);
	/* a long chain of backward pointers: stopped by the hop cap */
	memset(b, 0, sizeof b);
	b[12] = 0;
	for (int i = 0; i < 100; i++) {
		b[14 + 2 * i] = 0xc0;
		b[15 + 2 * i] = (uint8_t)(12 + 2 * i);
	}
	CHECK_EQ_INT(dns_name_skip(b, 214, 212, &next), DNS_EBAD);
	CHECK_EQ_INT(dns_name_skip(b, 214, 14 + 2 * 30, &next), DNS_OK);
	/* escaping: space, '.', '\\', 0xff, upper case */
	uint8_t e[] = { 6, 'A', ' ', '.', '\\', 0xff, 'z', 0 };
	CHECK_EQ_INT(dns_name_text(e, sizeof e, 0, txt, sizeof txt, 1), 18);
	CHECK_EQ_STR(txt, "a\\032\\046\\092\\255z");
	/* case kept without lower; a text that just fits, and one byte short */
	uint8_t m[] = { 5, 'M', 'i', 'X', 'e', 'D', 3, 'C', 'o', 'M', 0 };
	CHECK_EQ_INT(dns_name_text(m, sizeof m, 0, txt, sizeof txt, 0), 9);
	CHECK_EQ_STR(txt, "MiXeD.CoM");
	CHECK_EQ_INT(dns_name_text(m, sizeof m, 0, txt, 10, 1), 9);
	CHECK_EQ_STR(txt, "mixed.com");
	CHECK_EQ_INT(dns_name_text(m, sizeof m, 0, txt, 9, 1), 8);
	CHECK_EQ_STR(txt, "mixed.co");
	CHECK_EQ_INT(dns_name_text(m, sizeof m, 0, txt, 6, 1), 5);
	CHECK_EQ_STR(txt, "mixed");
	/* root */
	uint8_t r0[] = { 0 };
	CHECK_EQ_INT(dns_name_text(r0, 1, 0, txt, sizeof txt, 1), 0);
	CHECK_EQ_STR(txt, "");
	/* a tiny output buffer stays terminated */
	CHECK_EQ_INT(dns_name_text(e, sizeof e, 0, txt, 3, 1), 1); /* "a", then \032 no longer fits */
	CHECK_EQ_STR(txt, "a");
}

/* dns_name_text has a fast path (valid names of plain bytes, buffers over
 * DNS_NAME_WIRE_MAX) beside the general walk (any buffer): both must give
 * the same text and result. The general one alone runs for outlen 255. */
static void name_text_same(const uint8_t *b, size_t len, uint16_t off)
{
	char fast[DNS_NAME_TEXT_MAX], gen[255];
	size_t next;
	for (int lower = 0; lower < 2; lower++) {
		int rf = dns_name_text(b, len, off, fast, sizeof fast, lower);
		int rg = dns_name_text(b, len, off, gen, sizeof gen, lower);
		if (strlen(gen) < sizeof gen - 1) { /* the general text was not cut */
			CHECK_EQ_INT(rf, rg);
			CHECK_EQ_STR(fast, gen);
		}
		CHECK_EQ_INT(rf >= 0, dns_name_skip(b, len, off, &next) == DNS_OK);
	}
}

static void test_name_text_paths(void)
{
	static const uint8_t odd[] = { 'A', 'Z', 'a', 'z', '0', '-', '_', '.', '\\', ' ', 0x7f, 0x80, 0xff,
	                               0x21, 0x7e, '@', '[', '`', '{' };
	static const unsigned lens[] = { 1, 7, 8, 9, 15, 16, 17, 24, 63 };
	uint8_t b[600];
	/* one label of each length, one odd byte at each place, then root */
	for (size_t li = 0; li < sizeof lens / sizeof lens[0]; li++) {
		unsigned L = lens[li];
		for (size_t oi = 0; oi < sizeof odd; oi++) {
			for (unsigned at = 0; at < L; at++) {
				size_t n = 12;
				memset(b, 0, 12);
				b[n++] = (uint8_t)L;
				for (unsigned i = 0; i < L; i++)
					b[n++] = (uint8_t)('a' + (i * 7 + li) % 26 - (i % 3 == 0 ? 32 : 0));
				b[13 + at] = odd[oi];
				b[n++] = 3, b[n++] = 'C', b[n++] = 'o', b[n++] = 'm', b[n++] = 0;
				name_text_same(b, n, 12);
				/* cut anywhere: the bytes run out */
				for (size_t cut = 12; cut < n; cut += 5)
					name_text_same(b, cut, 12);
			}
		}
	}
	/* pseudo-random names with pointers (backwards, forwards, loops) */
	uint32_t x = 12345;
	for (int round = 0; round < 20000; round++) {
		size_t n = 12 + (round % 90);
		for (size_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			uint8_t v = (uint8_t)(x >> 16);
			switch ((x >> 8) % 8) {
			case 0: v = (uint8_t)(v % 12); break;          /* a label length */
			case 1: v = (uint8_t)(0xc0 | (v & 1)); break;   /* a pointer's first byte */
			case 2: v = (uint8_t)(v % 40); break;           /* a pointer's target */
			default: v = (uint8_t)('a' + v % 26 - (v & 32)); break;
			}
			b[i] = v;
		}
		for (uint16_t off = 12; off < n; off += 3)
			name_text_same(b, n, off);
	}
	/* the longest plain name: 3 x 63 + 61 bytes of labels (253 chars of text) */
	size_t n = 12;
	memset(b, 0, 12);
	for (int l = 0; l < 4; l++) {
		unsigned L = l < 3 ? 63 : 61;
		b[n++] = (uint8_t)L;
		for (unsigned i = 0; i < L; i++)
			b[n++] = (uint8_t)('A' + i % 26);
	}
	b[n++] = 0;
	char txt[DNS_NAME_TEXT_MAX];
	CHECK_EQ_INT(dns_name_text(b, n, 12, txt, sizeof txt, 1), 253);
	CHECK(txt[0] == 'a' && txt[63] == '.' && txt[253] == '\0');
	CHECK_EQ_INT(dns_name_text(b, n, 12, txt, 256, 0), 253);
	CHECK(txt[0] == 'A' && txt[252] == 'I');
	name_text_same(b, n, 12);
	/* one byte more is too long, for both */
	b[12 + 3 * 64] = 62;
	b[n - 1] = 'x';
	b[n] = 0;
	CHECK_EQ_INT(dns_name_text(b, n + 1, 12, txt, sizeof txt, 1), -1);
	name_text_same(b, n + 1, 12);
}

/* dns_parse does not walk again a name that is one pointer to a name it
 * validated (with a hop to spare): the hop cap must hold through it. The
 * RDATA of an unknown type holds a root and a chain of 64 pointers; the
 * owner of answer 2 points at its 63rd (64 hops) or 62nd (63 hops), that
 * of answer 3 at answer 2's owner (one hop more: too many, or just fits). */
static void test_parse_pointer_memo(void)
{
	uint8_t b[400];
	for (int last = 62; last <= 63; last++) {
		size_t n = 0;
		memset(b, 0, sizeof b);
		b[2] = 0x81, b[3] = 0x80, b[7] = 3; /* a response, 3 answers */
		n = 12;
		/* answer 1: owner root, type 99, RDATA: 0, then pointers */
		b[n++] = 0;
		b[n++] = 0, b[n++] = 99, b[n++] = 0, b[n++] = 1;
		n += 4;
		b[n++] = 0, b[n++] = 1 + 2 * 64;
		size_t root = n;
		b[n++] = 0;
		size_t prev = root, at[65];
		for (int i = 1; i <= 64; i++) {
			at[i] = n;
			b[n++] = 0xc0, b[n++] = (uint8_t)prev;
			prev = at[i];
		}
		/* answer 2: owner -> at[last] (last hops), type 99, no RDATA */
		size_t a2 = n;
		b[n++] = 0xc0, b[n++] = (uint8_t)at[last];
		b[n++] = 0, b[n++] = 99, b[n++] = 0, b[n++] = 1;
		n += 4;
		b[n++] = 0, b[n++] = 0;
		/* answer 3: owner -> answer 2's owner (one hop more) */
		b[n++] = (uint8_t)(0xc0 | a2 >> 8), b[n++] = (uint8_t)a2;
		b[n++] = 0, b[n++] = 99, b[n++] = 0, b[n++] = 1;
		n += 4;
		b[n++] = 0, b[n++] = 0;
		int rc = dns_parse(b, n, &M);
		size_t next;
		CHECK_EQ_INT(dns_name_skip(b, n, a2, &next), DNS_OK);
		CHECK_EQ_INT(dns_name_skip(b, n, a2 + 12, &next), last == 62 ? DNS_OK : DNS_EBAD);
		if (last == 63) {
			CHECK_EQ_INT(rc, DNS_EBAD);
			CHECK_EQ_INT(M.nan, 2);
		} else {
			CHECK_EQ_INT(rc, DNS_OK);
			CHECK_EQ_INT(M.nan, 3);
			CHECK_EQ_INT(M.end, n);
		}
	}
	/* a pointer to a validated name, cut before its second byte */
	uint8_t c[] = { 0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1, 0xc0 };
	CHECK_EQ_INT(dns_parse(c, sizeof c, &M), DNS_ETRUNC);
	CHECK_EQ_INT(M.nan, 0);
	CHECK_EQ_INT(M.end, 19);
	/* the fixed fields of an answer cut at each length: the end as before */
	uint8_t d[40] = { 0, 1, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, 1, 'a', 0, 0, 1, 0, 1,
	                  0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 10, 0, 0, 1 };
	static const size_t want_end[] = { 21, 21, 23, 23, 25, 25, 25, 25, 29, 29, 31, 31, 31, 31 };
	for (size_t len = 21; len < 35; len++) {
		CHECK_EQ_INT(dns_parse(d, len, &M), DNS_ETRUNC);
		CHECK_EQ_INT(M.end, want_end[len - 21]);
	}
	CHECK_EQ_INT(dns_parse(d, 35, &M), DNS_OK);
	CHECK_EQ_INT(M.an[0].ttl, 60);
	CHECK_EQ_INT(M.an[0].rdlen, 4);
}

static void test_counts(void)
{
	uint8_t b[64];
	/* header claims 65535 answers, message has one question */
	size_t n = unhex(KAKAO_Q, b, sizeof b);
	b[6] = 0xff, b[7] = 0xff;
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_ETRUNC);
	CHECK_EQ_INT(M.nq_parsed, 1);
	/* 65535 questions */
	b[4] = 0xff, b[5] = 0xff, b[6] = 0, b[7] = 0;
	CHECK_EQ_INT(dns_parse(b, n, &M), DNS_ETRUNC);
	CHECK(dns_probe_udp(b, n, 40000, 40001) == DNS_KIND_NONE);
	/* header only */
	CHECK_EQ_INT(dns_parse(b, 12, &M), DNS_ETRUNC);
	CHECK_EQ_INT(dns_parse(b, 3, &M), DNS_ETRUNC);
	CHECK_EQ_INT(M.have_hdr, 0);
	CHECK_EQ_INT(dns_parse(b, 0, &M), DNS_ETRUNC);
}

/* Every prefix of real messages, and random byte flips: never a crash
 * (run under ASan/UBSan), only the full message parses OK. */
static void test_truncation_and_fuzz(void)
{
	const char *msgs[] = { KAKAO_R, APPLE_R, NX_R, AAAA_R, HTTPS_R, CUT_R };
	uint8_t b[1024], c[1024];
	int bad = 0;
	for (size_t k = 0; k < sizeof msgs / sizeof msgs[0]; k++) {
		size_t n = unhex(msgs[k], b, sizeof b);
		for (size_t cut = 0; cut < n; cut++) {
			memcpy(c, b, cut); /* exact-size copy: ASan sees any overread */
			uint8_t *heap = malloc(cut ? cut : 1);
			memcpy(heap, c, cut);
			int rc = dns_parse(heap, cut, &M);
			if (rc == DNS_OK && k != 5 && M.end != cut)
				bad++;
			(void)dns_probe_udp(heap, cut, 1000, 2000);
			free(heap);
		}
		srand(7 + (unsigned)k);
		for (int it = 0; it < 3000; it++) {
			memcpy(c, b, n);
			for (int f = 0; f < 1 + it % 4; f++)
				c[(size_t)rand() % n] = (uint8_t)rand();
			uint8_t *heap = malloc(n);
			memcpy(heap, c, n);
			if (dns_parse(heap, n, &M) == DNS_OK || M.status == DNS_ETRUNC) {
				for (int i = 0; i < M.nan; i++) { /* every kept name decodes */
					char txt[DNS_NAME_TEXT_MAX];
					if (dns_name_text(heap, n, M.an[i].name, txt, sizeof txt, 1) < 0)
						bad++;
				}
			}
			free(heap);
		}
	}
	CHECK_EQ_INT(bad, 0);
}

static void test_probe(void)
{
	uint8_t b[1024];
	size_t n = unhex(KAKAO_Q, b, sizeof b);
	CHECK_EQ_INT(dns_probe_udp(b, n, 19582, 53), DNS_KIND_DNS);
	CHECK_EQ_INT(dns_probe_udp(b, n, 53, 19582), DNS_KIND_DNS);
	CHECK_EQ_INT(dns_probe_udp(b, n, 5353, 5353), DNS_KIND_MDNS);
	CHECK_EQ_INT(dns_probe_udp(b, n, 5355, 40000), DNS_KIND_LLMNR);
	CHECK_EQ_INT(dns_probe_udp(b, n, 5353, 53), DNS_KIND_DNS); /* low port first */
	CHECK_EQ_INT(dns_probe_udp(b, n, 40000, 40001), DNS_KIND_DNS); /* heuristic */
	CHECK_EQ_INT(dns_probe_udp(b, n, 137, 137), DNS_KIND_NONE);
	CHECK_EQ_INT(dns_probe_udp(b, n - 1, 40000, 40001), DNS_KIND_NONE);
	b[n] = 0;
	CHECK_EQ_INT(dns_probe_udp(b, n + 1, 40000, 40001), DNS_KIND_NONE); /* trailing byte */
	n = unhex(KAKAO_R, b, sizeof b);
	CHECK_EQ_INT(dns_probe_udp(b, n, 40000, 40001), DNS_KIND_DNS);
	uint8_t tls[] = { 0x16, 0x03, 0x01, 0x00, 0x10, 0x01, 0, 0, 0x0c, 3, 3, 0, 0, 0, 0, 0 };
	CHECK_EQ_INT(dns_probe_udp(tls, sizeof tls, 40000, 443), DNS_KIND_NONE);
	CHECK_EQ_INT(dns_probe_udp(b, 0, 53, 53), DNS_KIND_NONE);
	CHECK_EQ_INT(dns_probe_tcp_ports(40000, 53), DNS_KIND_DNS);
	CHECK_EQ_INT(dns_probe_tcp_ports(5353, 59194), DNS_KIND_DNS);
	CHECK_EQ_INT(dns_probe_tcp_ports(443, 59194), DNS_KIND_NONE);
}

struct tcpcol {
	int n;
	size_t len[8];
	uint16_t id[8];
};

static void tcp_cb(void *ctx, const uint8_t *msg, size_t len)
{
	struct tcpcol *c = ctx;
	if (c->n < 8) {
		c->len[c->n] = len;
		c->id[c->n] = len >= 2 ? (uint16_t)(msg[0] << 8 | msg[1]) : 0;
	}
	c->n++;
}

static void test_tcp_framing(void)
{
	uint8_t q[512], r[512], both[1024];
	size_t nq = unhex(TCP_Q, q, sizeof q), nr = unhex(TCP_R, r, sizeof r);
	struct dns_tcp_dir d;
	struct tcpcol c;

	/* two messages in one chunk */
	memset(&d, 0, sizeof d);
	memset(&c, 0, sizeof c);
	memcpy(both, q, nq);
	memcpy(both + nq, r, nr);
	CHECK_EQ_INT(dns_tcp_feed(&d, both, nq + nr, tcp_cb, &c), 2);
	CHECK_EQ_INT(c.n, 2);
	CHECK_EQ_INT(c.len[0], nq - 2);
	CHECK_EQ_INT(c.len[1], nr - 2);
	CHECK_EQ_INT(c.id[0], 0x4319);
	CHECK(d.buf == NULL); /* nothing was split: no buffer */
	dns_tcp_dir_free(&d);

	/* one message split across three chunks (inside the length, then data) */
	memset(&c, 0, sizeof c);
	CHECK_EQ_INT(dns_tcp_feed(&d, r, 1, tcp_cb, &c), 0);
	CHECK_EQ_INT(dns_tcp_feed(&d, r + 1, 40, tcp_cb, &c), 0);
	CHECK_EQ_INT(dns_tcp_feed(&d, r + 41, nr - 41, tcp_cb, &c), 1);
	CHECK_EQ_INT(c.n, 1);
	CHECK_EQ_INT(c.len[0], nr - 2);
	CHECK_EQ_INT(c.id[0], 0x4319);
	/* the delivered message parses */
	dns_tcp_dir_free(&d);

	/* byte by byte, two messages */
	memset(&c, 0, sizeof c);
	int got = 0;
	for (size_t i = 0; i < nq + nr; i++)
		got += dns_tcp_feed(&d, both + i, 1, tcp_cb, &c);
	CHECK_EQ_INT(got, 2);
	CHECK_EQ_INT(c.len[1], nr - 2);
	/* a gap drops the partial message and resynchronises */
	memset(&c, 0, sizeof c);
	dns_tcp_feed(&d, r, 10, tcp_cb, &c);
	dns_tcp_gap(&d);
	CHECK_EQ_INT(dns_tcp_feed(&d, q, nq, tcp_cb, &c), 1);
	CHECK_EQ_INT(c.id[0], 0x4319);
	/* an empty message (length 0) */
	uint8_t z[2] = { 0, 0 };
	CHECK_EQ_INT(dns_tcp_feed(&d, z, 2, tcp_cb, &c), 1);
	dns_tcp_dir_free(&d);
	CHECK(d.buf == NULL);
}

/* ---------------------------------------------------------------- tracker */

#define SEC 1000000000ull

static uint8_t CLI[16] = { 10, 24, 82, 188 }, CLI2[16] = { 10, 24, 82, 189 },
               SRV[16] = { 10, 188, 1, 1 };

static void feed(struct dns_tracker *t, const char *hex, int from_client, const uint8_t *cli,
                 uint16_t cport, uint64_t frame, uint64_t ts)
{
	uint8_t b[1024];
	size_t n = unhex(hex, b, sizeof b);
	if (from_client)
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, cli, cport, SRV, 53, b, n, frame, ts);
	else
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, SRV, 53, cli, cport, b, n, frame, ts);
}

static char *tsv(struct dns_tracker *t)
{
	static char out[8192];
	FILE *f = fmemopen(out, sizeof out, "w");
	dns_write_queries_tsv(t, f);
	fclose(f);
	return strchr(out, '\n') + 1; /* skip the header */
}

static const struct dns_rec *find_rec(struct dns_tracker *t, const char *name, int qtype)
{
	for (size_t i = 0; i < dns_count(t); i++) {
		const struct dns_rec *r = dns_get(t, i);
		if (!strcmp(r->name, name) && r->qtype == qtype)
			return r;
	}
	return NULL;
}

static void test_matching(void)
{
	struct pi_caps caps = { 0 };
	struct dns_tracker *t = dns_tracker_new(&caps);
	const uint64_t T0 = 1430069031ull * SEC;
	dns_set_query_log(t, 1);
	dns_next_input(t, 0);

	/* query, retransmission 1 s later, response: the first query is answered */
	feed(t, KAKAO_Q, 1, CLI, 19582, 1, T0);
	feed(t, KAKAO_Q, 1, CLI, 19582, 2, T0 + 1 * SEC);
	feed(t, KAKAO_R, 0, CLI, 19582, 3, T0 + 2 * SEC);
	CHECK_EQ_STR(tsv(t),
		"1\tudp\t10.24.82.188\t19582\t10.188.1.1\t53\t0xaa87\t0\tgraph.facebook.com\t1\ty\t3\t0\t"
		"api.facebook.com>star.c10r.facebook.com\t31.13.68.70\t\n"
		"2\tudp\t10.24.82.188\t19582\t10.188.1.1\t53\t0xaa87\t0\tgraph.facebook.com\t1\tn\t\t\t\t\t\n");
	const struct dns_rec *r = find_rec(t, "graph.facebook.com", 1);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(r->queries, 2);
		CHECK_EQ_INT(r->retransmissions, 1);
		CHECK_EQ_INT(r->answered, 1);
		CHECK_EQ_INT(r->nchain, 2);
		CHECK_EQ_STR(r->chain[0], "api.facebook.com");
		CHECK_EQ_STR(r->chain[1], "star.c10r.facebook.com");
		CHECK_EQ_INT(r->naddr, 1);
		CHECK_EQ_INT(r->last_rcode, 0);
		CHECK_EQ_INT(r->ttl_min, 17);
		CHECK_EQ_INT(r->first_frame, 1);
		CHECK_EQ_INT(r->last_frame, 2);
	}
	/* a second response is a retransmission: answers nothing */
	feed(t, KAKAO_R, 0, CLI, 19582, 4, T0 + 3 * SEC);
	CHECK_EQ_INT(dns_get_stats(t)->resp_retrans, 1);

	/* same id again after more than 5 s: a new transaction; the response
	 * answers the newest query, the older one stays unanswered */
	feed(t, API_Q, 1, CLI, 24596, 10, T0 + 10 * SEC);
	feed(t, API_Q, 1, CLI, 24596, 11, T0 + 15 * SEC + 1);
	feed(t, API_R, 0, CLI, 24596, 12, T0 + 15 * SEC + 2);
	/* a query never answered */
	feed(t, BLOCK_Q, 1, CLI, 5000, 20, T0 + 20 * SEC);
	/* the same id on another conversation (other client port) is apart */
	feed(t, API_Q, 1, CLI, 24597, 21, T0 + 21 * SEC);
	dns_finish(t);
	const char *rows = tsv(t);
	CHECK(strstr(rows, "10\tudp\t10.24.82.188\t24596\t10.188.1.1\t53\t0x27c0\t0\tapi.facebook.com\t1\tn\t") != NULL);
	CHECK(strstr(rows, "11\tudp\t10.24.82.188\t24596\t10.188.1.1\t53\t0x27c0\t0\tapi.facebook.com\t1\ty\t12\t0\tstar.c10r.facebook.com\t31.13.68.84\t\n") != NULL);
	CHECK(strstr(rows, "20\tudp\t10.24.82.188\t5000\t10.188.1.1\t53\t0xd20e\t0\tblocked.example.com\t1\tn\t") != NULL);
	r = find_rec(t, "api.facebook.com", 1);
	CHECK(r && r->queries == 3 && r->retransmissions == 0 && r->answered == 1 && r->unanswered == 2);
	r = find_rec(t, "blocked.example.com", 1);
	CHECK(r && r->queries == 1 && r->answered == 0 && r->unanswered == 1 && r->last_rcode == -1);

	/* report lists the never-answered name */
	char rep[4096];
	FILE *f = fmemopen(rep, sizeof rep, "w");
	dns_write_report(t, f, 0);
	fclose(f);
	CHECK(strstr(rep, "blocked.example.com A: 1 tries, frames 20..20") != NULL);

	/* mDNS / LLMNR are counted apart */
	uint8_t b[256];
	size_t n = unhex(KAKAO_Q, b, sizeof b);
	size_t before = dns_count(t);
	dns_track_msg(t, DNS_KIND_MDNS, 17, 4, CLI, 5353, SRV, 5353, b, n, 30, T0 + 30 * SEC);
	dns_track_msg(t, DNS_KIND_LLMNR, 17, 4, CLI, 5355, SRV, 5355, b, n, 31, T0 + 30 * SEC);
	CHECK_EQ_INT(dns_count(t), before);
	CHECK_EQ_INT(dns_get_stats(t)->mdns_queries, 1);
	CHECK_EQ_INT(dns_get_stats(t)->llmnr_queries, 1);
	dns_tracker_free(t);
}

static void test_truncated_query(void)
{
	/* a query cut by the snap length consumes its response but shows none
	 * (tshark adds response_in only after dissecting the whole query) */
	struct dns_tracker *t = dns_tracker_new(NULL);
	uint8_t b[256];
	dns_set_query_log(t, 1);
	size_t n = unhex(KAKAO_Q, b, sizeof b);
	dns_track_msg(t, DNS_KIND_DNS, 17, 4, CLI, 1, SRV, 53, b, n - 3, 1, SEC);
	feed(t, KAKAO_R, 0, CLI, 1, 2, 2 * SEC);
	CHECK(strstr(tsv(t), "\t0xaa87\t0\t\t\tn\t") != NULL);
	CHECK_EQ_INT(dns_get_stats(t)->incomplete, 1);
	dns_tracker_free(t);
}

static void test_tcp_tracking(void)
{
	/* suri-dns-incomplete.pcap: TCP 5353, an unsolicited response first */
	struct dns_tracker *t = dns_tracker_new(NULL);
	uint8_t a[16] = { 127, 0, 0, 1 };
	uint8_t q[] = { 0x10, 0x32, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
	                6, 'g', 'o', 'o', 'g', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 16, 0, 1 };
	uint8_t r[256];
	size_t nr = unhex("10328180000100010000000006676f6f676c6503636f6d0000010001c00c00010001000140ef000401020304", r, sizeof r);
	dns_set_query_log(t, 1);
	dns_track_msg(t, DNS_KIND_DNS, 6, 4, a, 5353, a, 59194, r, nr, 7, SEC);
	dns_track_msg(t, DNS_KIND_DNS, 6, 4, a, 59194, a, 5353, q, sizeof q, 11, SEC);
	dns_track_msg(t, DNS_KIND_DNS, 6, 4, a, 5353, a, 59194, r, nr, 13, SEC);
	CHECK_EQ_STR(tsv(t), "11\ttcp\t127.0.0.1\t59194\t127.0.0.1\t5353\t0x1032\t0\tgoogle.com\t16\ty\t13\t0\t\t1.2.3.4\t\n");
	CHECK_EQ_INT(dns_get_stats(t)->unsolicited, 1);
	dns_tracker_free(t);
}

static void test_attribution(void)
{
	struct dns_tracker *t = dns_tracker_new(NULL);
	const uint64_t T0 = 1000 * SEC;
	uint8_t fb[16] = { 31, 13, 68, 70 }, other[16] = { 192, 0, 2, 99 };
	struct dns_attr at;
	dns_next_input(t, 0);

	feed(t, KAKAO_Q, 1, CLI, 19582, 1, T0);
	feed(t, KAKAO_R, 0, CLI, 19582, 2, T0 + SEC / 10);

	/* through the CNAME chain: the queried name, with its chain */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + SEC, NULL, &at), 1);
	CHECK_EQ_STR(at.name, "graph.facebook.com");
	CHECK_EQ_INT(at.nchain, 3);
	if (at.nchain == 3) {
		CHECK_EQ_STR(at.chain[0], "graph.facebook.com");
		CHECK_EQ_STR(at.chain[1], "api.facebook.com");
		CHECK_EQ_STR(at.chain[2], "star.c10r.facebook.com");
	}
	CHECK_EQ_INT(at.same_client, 1);
	CHECK_EQ_INT(at.frame, 2);
	CHECK_EQ_INT(at.ttl, 17);
	/* another client: falls back to any client */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI2, fb, T0 + SEC, NULL, &at), 1);
	CHECK_EQ_INT(at.same_client, 0);
	CHECK_EQ_STR(at.name, "graph.facebook.com");
	/* before the answer: nothing */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 - 10 * SEC, NULL, &at), 0);
	/* TTL expiry: TTL 17 s + 600 s grace */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + SEC / 10 + 617 * SEC, NULL, &at), 1);
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + SEC / 10 + 618 * SEC, NULL, &at), 0);
	/* unknown address, SNI = a CNAME target (CDN name): the queried name */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, other, T0 + SEC, "STAR.c10r.facebook.com", &at), 1);
	CHECK_EQ_STR(at.name, "graph.facebook.com");
	CHECK_EQ_INT(at.via_sni, 1);
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, other, T0 + SEC, "unrelated.example", &at), 0);
	CHECK(at.name == NULL);
	/* a known address but an SNI no answer relates to: the SNI stands */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + SEC, "unrelated.example", &at), 0);
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + SEC, "graph.facebook.com.", &at), 1);
	CHECK_EQ_STR(at.name, "graph.facebook.com");

	/* client 2 asks api.facebook.com and gets the same address (the A
	 * rdata of frame 98 set to 31.13.68.70): each client gets its own
	 * name; with the SNI, the answer whose chain holds it wins */
	char api_r[512];
	pi_strlcpy(api_r, API_R, sizeof api_r);
	memcpy(api_r + strlen(api_r) - 8, "1f0d4446", 8);
	feed(t, API_Q, 1, CLI2, 24596, 3, T0 + 2 * SEC);
	feed(t, api_r, 0, CLI2, 24596, 4, T0 + 2 * SEC + 1);
	CHECK_EQ_INT(dns_attribute(t, 4, CLI2, fb, T0 + 3 * SEC, NULL, &at), 1);
	CHECK_EQ_STR(at.name, "api.facebook.com");
	CHECK_EQ_INT(at.nchain, 2);
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + 3 * SEC, NULL, &at), 1);
	CHECK_EQ_STR(at.name, "graph.facebook.com");
	/* SNI on this client's own chain: this client's answer */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + 3 * SEC, "api.facebook.com", &at), 1);
	CHECK_EQ_STR(at.name, "graph.facebook.com");
	CHECK_EQ_INT(at.same_client, 1);
	/* SNI not on client 2's chain: the (older) answer to client 1 that holds it */
	CHECK_EQ_INT(dns_attribute(t, 4, CLI2, fb, T0 + 3 * SEC, "graph.facebook.com", &at), 1);
	CHECK_EQ_STR(at.name, "graph.facebook.com");
	CHECK_EQ_INT(at.same_client, 0);
	CHECK_EQ_INT(at.via_sni, 0);
	/* a third client: the most recent answer to anyone */
	CHECK_EQ_INT(dns_attribute(t, 4, other, fb, T0 + 3 * SEC, NULL, &at), 1);
	CHECK_EQ_STR(at.name, "api.facebook.com");

	/* the address map is per input; the aggregates persist */
	dns_next_input(t, 1);
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, fb, T0 + 3 * SEC, NULL, &at), 0);
	CHECK(find_rec(t, "graph.facebook.com", 1) != NULL);
	dns_tracker_free(t);
}

/* Answers of several owner names in one response, through compression:
 * only those whose owner is on the queried name's chain give addresses
 * (www.a.example CNAME cdn.example; cdn.example A 10.0.0.1 and 10.0.0.3;
 * evil.example A 10.0.0.2, and again through a pointer to its name,
 * 10.0.0.4), whatever the order and however the owner is written. */
static void test_owner_places(void)
{
	static const char q[] = "123401000001000000000000037777770161076578616d706c650000010001";
	static const char r[] = "123481800001000500000000037777770161076578616d706c650000010001"
	                        "c00c000500010000003c00060363646ec012"
	                        "c02b000100010000003c00040a000001"
	                        "046576696cc012000100010000003c00040a000002"
	                        "c02b000100010000003c00040a000003"
	                        "c041000100010000003c00040a000004";
	struct dns_tracker *t = dns_tracker_new(NULL);
	const uint64_t T0 = 2000 * SEC;
	struct dns_attr at;
	static const uint8_t last[4] = { 1, 2, 3, 4 };
	static const int want[4] = { 1, 0, 1, 0 };
	dns_next_input(t, 0);
	feed(t, q, 1, CLI, 30000, 1, T0);
	feed(t, r, 0, CLI, 30000, 2, T0 + SEC / 10);
	for (int i = 0; i < 4; i++) {
		uint8_t a[16] = { 10, 0, 0, last[i] };
		CHECK_EQ_INT(dns_attribute(t, 4, CLI, a, T0 + SEC, NULL, &at), want[i]);
		if (want[i])
			CHECK_EQ_STR(at.name, "www.a.example");
	}
	dns_tracker_free(t);
}

static void test_sinkhole_json(void)
{
	struct dns_tracker *t = dns_tracker_new(NULL);
	char out[8192];
	dns_next_input(t, 0);
	feed(t, BLOCK_Q, 1, CLI, 5000, 1, SEC);
	feed(t, BLOCK_R, 0, CLI, 5000, 2, SEC);
	feed(t, NX_R, 0, CLI, 42790, 3, SEC); /* unsolicited NXDOMAIN */
	dns_finish(t);
	const struct dns_rec *r = find_rec(t, "blocked.example.com", 1);
	CHECK(r && r->sinkhole == 1 && r->naddr == 1);
	r = find_rec(t, "*.teams.microsoft.com", 1);
	CHECK(r && r->last_rcode == 3 && r->has_neg_ttl && r->neg_ttl == 299 && !r->sinkhole);

	FILE *f = fmemopen(out, sizeof out, "w");
	struct jw w;
	jw_init(&w, f, 0);
	dns_write_json(t, &w);
	fclose(f);
	CHECK(strstr(out, "\"name\":\"blocked.example.com\",\"qtype\":\"A\",\"qtype_code\":1,"
	                  "\"queries\":1,\"retransmissions\":0,\"answered\":1") != NULL);
	CHECK(strstr(out, "\"addresses\":[\"0.0.0.0\"]") != NULL);
	CHECK(strstr(out, "\"sinkhole\":true") != NULL);
	CHECK(strstr(out, "\"rcode\":\"NXDOMAIN\"") != NULL);

	f = fmemopen(out, sizeof out, "w");
	dns_write_report(t, f, 1);
	fclose(f);
	CHECK(strstr(out, "NXDOMAIN") != NULL);
	CHECK(strstr(out, "blocked.example.com A -> 0.0.0.0") != NULL);
	dns_tracker_free(t);

	/* empty tracker: every writer is safe */
	t = dns_tracker_new(NULL);
	f = fmemopen(out, sizeof out, "w");
	jw_init(&w, f, 0);
	dns_write_json(t, &w);
	dns_write_report(t, f, 0);
	dns_write_queries_tsv(t, f);
	fclose(f);
	CHECK(strncmp(out, "[]", 2) == 0);
	CHECK(dns_get(t, 0) == NULL);
	dns_finish(t);
	dns_tracker_free(t);
	dns_tracker_free(NULL);
}

static void test_names_cap_and_loop_chain(void)
{
	/* a CNAME loop in an answer: a -> b -> a: the chain stops, no hang */
	struct dns_tracker *t = dns_tracker_new(NULL);
	uint8_t m[] = {
		0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0,
		1, 'a', 0, 0, 1, 0, 1,                               /* q: a A (off 12) */
		0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 3, 1, 'b', 0,  /* a CNAME b (b at 31) */
		0xc0, 31, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xc0, 12,   /* b CNAME a */
	};
	uint8_t q[19];
	memcpy(q, m, 19);
	q[2] = 0x01, q[3] = 0x00, q[7] = 0;
	dns_track_msg(t, DNS_KIND_DNS, 17, 4, CLI, 1, SRV, 53, q, sizeof q, 1, SEC);
	dns_track_msg(t, DNS_KIND_DNS, 17, 4, SRV, 53, CLI, 1, m, sizeof m, 2, SEC);
	const struct dns_rec *r = find_rec(t, "a", 1);
	CHECK(r && r->answered == 1 && r->nchain == 1 && !strcmp(r->chain[0], "b"));
	dns_tracker_free(t);
}

/* Many transactions and addresses: the hash indexes grow and rehash many
 * times (a growth bug once linked an element twice, making a cycle). */
/* q: a query (id, RD) for the A record of NAME.com; its length. */
static size_t a_query(uint8_t *q, uint16_t id, const char *name, size_t nl)
{
	size_t n = 0;
	q[n++] = (uint8_t)(id >> 8), q[n++] = (uint8_t)id, q[n++] = 1, q[n++] = 0;
	q[n++] = 0, q[n++] = 1;
	memset(q + n, 0, 6);
	n += 6;
	q[n++] = (uint8_t)nl;
	memcpy(q + n, name, nl);
	n += nl;
	memcpy(q + n, "\3com\0\0\1\0\1", 9);
	return n + 9;
}

static void test_many(void)
{
	struct pi_caps caps = { 0 };
	struct dns_tracker *t = dns_tracker_new(&caps);
	uint8_t q[64], r[96];
	int answered = 0, found = 0;
	dns_set_query_log(t, 1);
	for (uint32_t i = 0; i < 20000; i++) {
		char name[16];
		int nl = snprintf(name, sizeof name, "h%u", i);
		size_t n = a_query(q, (uint16_t)i, name, (size_t)nl);
		uint16_t port = (uint16_t)(1024 + i);
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, CLI, port, SRV, 53, q, n, i * 2 + 1, i * SEC);
		memcpy(r, q, n);
		r[2] = 0x81, r[3] = 0x80, r[7] = 1;
		memcpy(r + n, "\xc0\x0c\0\1\0\1\0\0\x0e\x10\0\4", 12);
		r[n + 12] = 198, r[n + 13] = 18, r[n + 14] = (uint8_t)(i >> 8), r[n + 15] = (uint8_t)i;
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, SRV, 53, CLI, port, r, n + 16, i * 2 + 2, i * SEC);
	}
	dns_finish(t);
	for (size_t i = 0; i < dns_count(t); i++)
		answered += dns_get(t, i)->answered == 1;
	for (uint32_t i = 0; i < 20000; i += 997) {
		uint8_t srv[16] = { 198, 18, (uint8_t)(i >> 8), (uint8_t)i };
		struct dns_attr at;
		char want[16];
		snprintf(want, sizeof want, "h%u.com", i);
		found += dns_attribute(t, 4, CLI, srv, i * SEC + SEC, NULL, &at) && !strcmp(at.name, want);
	}
	CHECK_EQ_INT(dns_count(t), 20000);
	CHECK_EQ_INT(answered, 20000);
	CHECK_EQ_INT(found, 21);
	CHECK_EQ_INT(caps.dns_names_dropped, 0);
	dns_tracker_free(t);
}

/* A pool of 40 addresses answered 30 at a time, in turning order: the
 * record keeps the first 16 seen, in that order, and refreshes their TTLs
 * (the address index against a plain scan of the list). */
static void test_addr_pool(void)
{
	struct dns_tracker *t = dns_tracker_new(NULL);
	uint8_t q[64], r[64 + 30 * 16];
	size_t qn = a_query(q, 7, "pool", 4);
	uint8_t seen[40] = { 0 };
	int order[40], nseen = 0;
	uint32_t dropped = 0;
	for (int round = 0; round < 6; round++) {
		uint16_t id = (uint16_t)(100 + round);
		q[0] = (uint8_t)(id >> 8), q[1] = (uint8_t)id;
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, CLI, 4000, SRV, 53, q, qn, 1, SEC);
		size_t n = qn;
		memcpy(r, q, qn);
		r[2] = 0x81, r[3] = 0x80, r[7] = 30;
		for (int k = 0; k < 30; k++) {
			int a = (round * 7 + k * 3) % 40;
			memcpy(r + n, "\xc0\x0c\0\1\0\1\0\0\0\0\0\4", 12);
			r[n + 9] = (uint8_t)(10 + round); /* TTL */
			r[n + 12] = 10, r[n + 13] = 99, r[n + 14] = 1, r[n + 15] = (uint8_t)a;
			n += 16;
			if (!seen[a]) {
				seen[a] = 1;
				if (nseen < 16)
					order[nseen] = a;
				if (nseen++ >= 16)
					dropped++;
			} else if (nseen > 16) {
				int kept = 0;
				for (int j = 0; j < 16; j++)
					kept |= order[j] == a;
				dropped += !kept;
			}
		}
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, SRV, 53, CLI, 4000, r, n, 2, SEC);
	}
	const struct dns_rec *rec = find_rec(t, "pool.com", 1);
	CHECK(rec != NULL);
	if (rec) {
		CHECK_EQ_INT(rec->naddr, 16);
		for (int j = 0; j < 16 && j < rec->naddr; j++) {
			CHECK_EQ_INT(rec->addr[j].a[3], order[j]);
			CHECK_EQ_INT(rec->addr[j].ver, 4);
		}
		/* the last answer (round 5) gives TTL 15 to the kept ones it holds */
		for (int j = 0; j < 16 && j < rec->naddr; j++) {
			int in5 = 0;
			for (int k = 0; k < 30; k++)
				in5 |= (5 * 7 + k * 3) % 40 == order[j];
			if (in5)
				CHECK_EQ_INT(rec->addr[j].ttl, 15);
		}
		CHECK_EQ_INT(rec->addr_dropped, dropped);
	}
	dns_tracker_free(t);
}

/* The SNI look-up and the names of messages are memoised: a name seen
 * later, case variants, lengths around the memo's limits. */
static void test_name_memos(void)
{
	struct dns_tracker *t = dns_tracker_new(NULL);
	struct dns_attr at;
	uint8_t q[300], r[400], srv[16] = { 198, 51, 100, 0 };
	static const char *names[] = { "abcdefg", "abcdefgh", "longer-name-for-the-memo",
	                               "n23456789012345678901234567890123456789012345678901234567890",
	                               "m23456789012345678901234567890123456789012345678901234567890123" };
	dns_next_input(t, 0);
	for (int i = 0; i < 5; i++) {
		const char *nm = names[i];
		size_t nl = strlen(nm);
		char sni[128], up[128];
		snprintf(sni, sizeof sni, "%s.com", nm);
		for (size_t j = 0; j <= strlen(sni); j++)
			up[j] = (char)(sni[j] >= 'a' && sni[j] <= 'z' ? sni[j] - 32 : sni[j]);
		srv[3] = (uint8_t)(1 + i);
		/* not a name yet: twice (the second from the memo) */
		CHECK_EQ_INT(dns_attribute(t, 4, CLI, srv, 10 * SEC, sni, &at), 0);
		CHECK_EQ_INT(dns_attribute(t, 4, CLI, srv, 10 * SEC, up, &at), 0);
		/* asked and answered, the query in upper case, the answer's name
		 * as sent: the same record */
		size_t n = a_query(q, (uint16_t)(50 + i), nm, nl);
		for (size_t j = 13; j < n - 4; j++)
			if (q[j] >= 'a' && q[j] <= 'z')
				q[j] = (uint8_t)(q[j] - 32);
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, CLI, 5000, SRV, 53, q, n, 1, 9 * SEC);
		memcpy(r, q, n);
		r[2] = 0x81, r[3] = 0x80, r[7] = 1;
		memcpy(r + n, "\xc0\x0c\0\1\0\1\0\0\x0e\x10\0\4", 12);
		memcpy(r + n + 12, srv, 4);
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, SRV, 53, CLI, 5000, r, n + 16, 2, 9 * SEC);
		/* the same name in lower case from another client: same record */
		n = a_query(q, (uint16_t)(70 + i), nm, nl);
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, CLI2, 5001, SRV, 53, q, n, 3, 9 * SEC);
		const struct dns_rec *rec = find_rec(t, sni, 1);
		CHECK(rec && rec->queries == 2 && rec->answered == 1);
		for (int k = 0; k < 2; k++) {
			CHECK_EQ_INT(dns_attribute(t, 4, CLI, srv, 10 * SEC, k ? up : sni, &at), 1);
			CHECK(at.name && !strcmp(at.name, sni));
		}
		/* with a trailing dot; an unknown address: through the name */
		strcat(up, ".");
		CHECK_EQ_INT(dns_attribute(t, 4, CLI, SRV, 10 * SEC, up, &at), 1);
		CHECK_EQ_INT(at.via_sni, 1);
	}
	CHECK_EQ_INT(dns_count(t), 5);
	/* the next input: no chain of this input holds them */
	dns_next_input(t, 1);
	CHECK_EQ_INT(dns_attribute(t, 4, CLI, srv, 10 * SEC, "abcdefgh.com", &at), 0);
	dns_tracker_free(t);
}

/* With a horizon (no connection older than it), address-map keys whose
 * answers are all past TTL + grace are freed; recent answers still attribute. */
static uint64_t horizon_now(void *ctx)
{
	(void)ctx;
	return UINT64_MAX; /* no open connection: the latest answer's time */
}

static void test_expiry(void)
{
	struct pi_caps caps = { 0 };
	struct dns_tracker *t = dns_tracker_new(&caps);
	uint8_t q[64], r[96];
	int found = 0;
	dns_set_horizon(t, horizon_now, NULL);
	for (uint32_t i = 0; i < 40000; i++) {
		char name[16];
		int nl = snprintf(name, sizeof name, "e%u", i);
		size_t n = a_query(q, (uint16_t)i, name, (size_t)nl);
		uint16_t port = (uint16_t)(1024 + (i & 0x7fff));
		uint8_t cli[16] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, cli, port, SRV, 53, q, n, i * 2 + 1, i * SEC);
		memcpy(r, q, n);
		r[2] = 0x81, r[3] = 0x80, r[7] = 1;
		memcpy(r + n, "\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4", 12); /* TTL 60 s */
		r[n + 12] = 198, r[n + 13] = 19, r[n + 14] = (uint8_t)(i >> 8), r[n + 15] = (uint8_t)i;
		dns_track_msg(t, DNS_KIND_DNS, 17, 4, SRV, 53, cli, port, r, n + 16, i * 2 + 2, i * SEC);
	}
	for (uint32_t i = 39000; i < 40000; i += 97) {
		uint8_t srv[16] = { 198, 19, (uint8_t)(i >> 8), (uint8_t)i };
		uint8_t cli[16] = { 10, 1, (uint8_t)(i >> 8), (uint8_t)i };
		struct dns_attr at;
		char want[16];
		snprintf(want, sizeof want, "e%u.com", i);
		found += dns_attribute(t, 4, cli, srv, i * SEC + SEC, NULL, &at) && !strcmp(at.name, want) &&
		         at.same_client;
	}
	CHECK_EQ_INT(found, 11);
	CHECK(dns_get_stats(t)->addrmap_expired > 40000); /* two keys per answer, most expired */
	CHECK_EQ_INT(dns_get_stats(t)->addrmap_evicted, 0);
	dns_tracker_free(t);
}

/* DoH service names (edns.c): every listed name, in any case; nothing
 * else, whatever its length (the list's lengths are looked at first). */
static void test_doh_names(void)
{
	static const char *const yes[] = { "dns.google", "DNS.Google", "dns.google.com", "doh.dns.sb",
		"1dot1dot1dot1.cloudflare-dns.com", "Mozilla.Cloudflare-DNS.com", "dns.umbrella.com" };
	static const char *const no[] = { "", "dns.googl", "dns.google.", "xdns.google", "dns.google.co",
		"example.com", "cloudflare-dns.co", "1dot1dot1dot1.cloudflare-dns.comx" };
	char longname[200];
	for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++)
		CHECK(edns_is_doh_name(yes[i]));
	for (size_t i = 0; i < sizeof no / sizeof no[0]; i++)
		CHECK(!edns_is_doh_name(no[i]));
	CHECK(!edns_is_doh_name(NULL));
	/* 64 and more: past the lengths' mask, never a DoH name */
	for (size_t n = 60; n < sizeof longname; n++) {
		memset(longname, 'a', n);
		longname[n] = '\0';
		CHECK(!edns_is_doh_name(longname));
	}
}

int main(void)
{
	test_doh_names();
	test_parse_real();
	test_names();
	test_name_text_paths();
	test_parse_pointer_memo();
	test_counts();
	test_truncation_and_fuzz();
	test_probe();
	test_tcp_framing();
	test_matching();
	test_truncated_query();
	test_tcp_tracking();
	test_attribution();
	test_owner_places();
	test_sinkhole_json();
	test_names_cap_and_loop_chain();
	test_many();
	test_addr_pool();
	test_name_memos();
	test_expiry();
	UNIT_DONE();
}
