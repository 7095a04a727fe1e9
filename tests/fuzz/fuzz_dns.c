/* fuzz_dns.c: fuzz target for the DNS dissector (dissectors/dns.h), DNS over
 * TCP framing and the DNS tracker (src/analysis/dnsmap.h).
 *
 * Input:
 *   byte 0     flags: bits 0-1 kind for the tracker (DNS, DNS, mDNS, LLMNR),
 *              bit 2 transport (0 UDP, 1 TCP), bit 3 IPv6, bits 4-7 chunk
 *              seed for the TCP framing
 *   the rest   a DNS-over-TCP stream (RFC 7766: 2-byte length, message,
 *              repeated); tests/fuzz/mkseeds.py writes real messages so.
 *
 * Three things run on it:
 *   1. the whole rest as one message: dns_parse(), every name of the result
 *      through dns_name_text() (full and short buffers) and dns_name_skip(),
 *      and dns_probe_udp() on a few port pairs;
 *   2. the rest through dns_tcp_feed() in chunks whose sizes follow the seed
 *      (with a dns_tcp_gap() when the seed says so);
 *   3. every framed message parsed as in 1 and given to the tracker (a query
 *      from the client, a response from the server, by the QR bit), then
 *      dns_attribute() for the addresses answered, the end of input and the
 *      writers (JSON, report, query TSV) to /dev/null.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/dnsmap.h"
#include "dissectors/dns.h"
#include "fuzz.h"
#include "outputs/jw.h"

static FILE *devnull;

struct ctx {
	struct dns_tracker *t;
	int kind, transport, ipver;
	uint64_t frame;
	uint8_t client[16], server[16];
	uint8_t answered[8][16];
	int nanswered;
	char sni[DNS_NAME_TEXT_MAX];
	uint64_t sink;
};

static void name_checks(struct ctx *x, const struct dns_msg *m, uint16_t off)
{
	char text[DNS_NAME_TEXT_MAX], small[8];
	size_t next;
	int n = dns_name_text(m->buf, m->len, off, text, sizeof(text), 1);
	const char *end = memchr(text, '\0', sizeof(text));
	if (!end || (n >= 0 && (size_t)n != (size_t)(end - text)))
		abort(); /* dns.h: NUL-terminated, the length returned */
	(void)dns_name_text(m->buf, m->len, off, small, sizeof(small), 0);
	if (!memchr(small, '\0', sizeof(small)))
		abort();
	(void)dns_name_skip(m->buf, m->len, off, &next);
	x->sink += (uint64_t)n;
}

static void msg_checks(struct ctx *x, const struct dns_msg *m)
{
	char buf[16];
	if (m->have_q)
		name_checks(x, m, m->qname);
	const struct dns_rr *sec[3] = { m->an, m->ns, m->ar };
	const uint8_t cnt[3] = { m->nan, m->nns, m->nar };
	for (int s = 0; s < 3; s++) {
		for (unsigned i = 0; i < cnt[s]; i++) {
			const struct dns_rr *rr = &sec[s][i];
			if ((size_t)rr->rdoff + rr->rdlen > m->len)
				abort(); /* RDATA must lie inside the message */
			name_checks(x, m, rr->name);
			x->sink += strlen(dns_type_name(rr->type, buf, sizeof(buf)));
			if (!rr->rdata_ok)
				continue;
			switch (rr->type) {
			case DNS_T_CNAME: case DNS_T_NS: case DNS_T_PTR: case DNS_T_DNAME:
			case DNS_T_MX: case DNS_T_SRV:
				name_checks(x, m, rr->u.target);
				break;
			case DNS_T_SOA:
				name_checks(x, m, rr->u.soa.mname);
				name_checks(x, m, rr->u.soa.rname);
				break;
			case DNS_T_SVCB: case DNS_T_HTTPS:
				name_checks(x, m, rr->u.svcb.target);
				for (unsigned j = 0; j < rr->u.svcb.nalpn && j < DNS_MAX_ALPN; j++)
					if ((size_t)rr->u.svcb.alpn[j].off + rr->u.svcb.alpn[j].len > m->len)
						abort();
				break;
			case DNS_T_A:
				if (x->nanswered < 8 && s == 0) {
					memset(x->answered[x->nanswered], 0, 16);
					memcpy(x->answered[x->nanswered++], rr->u.a, 4);
				}
				break;
			case DNS_T_AAAA:
				if (x->nanswered < 8 && s == 0)
					memcpy(x->answered[x->nanswered++], rr->u.aaaa, 16);
				break;
			default:
				break;
			}
		}
	}
	x->sink += strlen(dns_rcode_name(m->ext_rcode, buf, sizeof(buf)));
}

static void on_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct ctx *x = ctx;
	struct dns_msg m;
	int from_client;
	(void)dns_parse(msg, len, &m);
	msg_checks(x, &m);
	if (!x->sni[0] && m.have_q)
		(void)dns_name_text(msg, len, m.qname, x->sni, sizeof(x->sni), 1);
	from_client = !(len >= 3 && (msg[2] & 0x80));
	x->frame++;
	dns_track_msg(x->t, x->kind, x->transport, x->ipver, from_client ? x->client : x->server,
	              from_client ? 40000 : 53, from_client ? x->server : x->client, from_client ? 53 : 40000,
	              msg, len, x->frame, x->frame * 1000000ull);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const int kinds[4] = { DNS_KIND_DNS, DNS_KIND_DNS, DNS_KIND_MDNS, DNS_KIND_LLMNR };
	struct ctx x;
	struct dns_msg m;
	struct dns_tcp_dir td;
	struct jw w;
	uint8_t flags;

	if (!size)
		return 0;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	flags = data[0];
	data++;
	size--;
	memset(&x, 0, sizeof(x));
	x.kind = kinds[flags & 3];
	x.transport = flags & 4 ? 6 : 17;
	x.ipver = flags & 8 ? 6 : 4;
	x.client[0] = 10, x.client[3] = 1;
	x.server[0] = 10, x.server[3] = 53;

	/* 1: the bytes as one message */
	(void)dns_parse(data, size, &m);
	msg_checks(&x, &m);
	x.sink += (uint64_t)dns_probe_udp(data, size, 53, 40000);
	x.sink += (uint64_t)dns_probe_udp(data, size, 5353, 5353);
	x.sink += (uint64_t)dns_probe_udp(data, size, 5355, 40000);
	x.sink += (uint64_t)dns_probe_udp(data, size, 40000, 40001);
	x.sink += (uint64_t)dns_probe_udp(data, size, 137, 137);
	x.sink += (uint64_t)dns_probe_tcp_ports(40000, 53);

	/* 2 and 3: as a DNS-over-TCP stream into the tracker */
	x.t = dns_tracker_new(NULL);
	if (!x.t)
		return 0;
	dns_set_query_log(x.t, 1);
	dns_next_input(x.t, 0);
	memset(&td, 0, sizeof(td));
	{
		unsigned seed = flags >> 4, i = 0;
		size_t off = 0;
		while (off < size) {
			size_t chunk = seed == 0 ? size - off : 1 + (i * 7 + seed * 13) % (seed * 29 + 1);
			if (chunk > size - off)
				chunk = size - off;
			if (dns_tcp_feed(&td, data + off, chunk, on_msg, &x) < 0)
				break;
			off += chunk;
			if (seed == 15 && i % 5 == 4)
				dns_tcp_gap(&td);
			i++;
		}
	}
	dns_tcp_dir_free(&td);
	for (int i = 0; i < x.nanswered; i++) {
		struct dns_attr a;
		if (dns_attribute(x.t, x.ipver, x.client, x.answered[i], x.frame * 1000000ull, NULL, &a))
			x.sink += (uint64_t)a.nchain;
		if (dns_attribute(x.t, x.ipver, x.server, x.answered[i], 0, x.sni, &a))
			x.sink += (uint64_t)a.nchain;
	}
	{
		struct dns_attr a;
		uint8_t none[16] = { 192, 0, 2, 1 };
		if (x.sni[0] && dns_attribute(x.t, 4, x.client, none, 1000000ull, x.sni, &a))
			x.sink += (uint64_t)a.nchain;
	}
	dns_next_input(x.t, 1);
	dns_finish(x.t);
	for (size_t i = 0; i < dns_count(x.t); i++)
		x.sink += strlen(dns_get(x.t, i)->name);
	jw_init(&w, devnull, 0);
	dns_write_json(x.t, &w);
	dns_write_report(x.t, devnull, (flags & 0x10) != 0);
	dns_write_queries_tsv(x.t, devnull);
	dns_tracker_free(x.t);
	return 0;
}
