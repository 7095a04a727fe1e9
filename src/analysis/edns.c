/* edns.c: encrypted DNS seen in the capture (see edns.h). */
#include "analysis/edns.h"

#include <stdint.h>
#include <string.h>
#include <strings.h>

#include "common/util.h"

/* Public DoH resolvers (their documented service names), with their
 * lengths: asked once per TLS connection, so no strlen per entry. */
#define DOH_NAMES(X)                                                                                     \
	X("dns.google") X("dns.google.com") X("dns64.dns.google") X("cloudflare-dns.com")                \
	X("mozilla.cloudflare-dns.com") X("one.one.one.one") X("1dot1dot1dot1.cloudflare-dns.com")       \
	X("security.cloudflare-dns.com") X("family.cloudflare-dns.com") X("dns.quad9.net")               \
	X("dns9.quad9.net") X("dns10.quad9.net") X("dns11.quad9.net") X("doh.opendns.com")               \
	X("dns.nextdns.io") X("doh.cleanbrowsing.org") X("dns.adguard-dns.com") X("dns.adguard.com")     \
	X("doh.dns.sb") X("dns.twnic.tw") X("doh.mullvad.net") X("dns.controld.com")                     \
	X("chrome.cloudflare-dns.com") X("doh.xfinity.com") X("dns.umbrella.com")
#define DOH(s) { s, sizeof(s) - 1 },
static const struct {
	const char *s;
	size_t n;
} doh_names[] = { DOH_NAMES(DOH) };
#undef DOH
/* The lengths the names have (all under 64): most SNIs have none of them,
 * and are told apart with one look instead of a pass over the list. */
#define DOH_LEN(s) | (1ull << (sizeof(s) - 1))
static const uint64_t doh_lengths = 0 DOH_NAMES(DOH_LEN);
#undef DOH_LEN

const char *edns_kind_name(enum edns_kind k)
{
	switch (k) {
	case EDNS_DOT: return "DoT";
	case EDNS_DOH: return "DoH";
	case EDNS_DOQ: return "DoQ";
	}
	return "?";
}

int edns_is_doh_name(const char *sni)
{
	size_t n;
	if (!sni || !*sni)
		return 0;
	n = strnlen(sni, 64);
	if (n >= 64 || !(doh_lengths >> n & 1))
		return 0;
	for (size_t i = 0; i < sizeof(doh_names) / sizeof(doh_names[0]); i++)
		if (doh_names[i].n == n && strcasecmp(sni, doh_names[i].s) == 0)
			return 1;
	return 0;
}

void edns_add(struct edns *t, enum edns_kind kind, int ipver, const uint8_t addr[16], uint16_t port,
              const char *sni, uint64_t frame, int input)
{
	for (size_t i = 0; i < t->n; i++) {
		struct edns_entry *e = &t->v[i];
		if (e->kind == kind && e->ipver == ipver && e->port == port && memcmp(e->addr, addr, 16) == 0 &&
		    e->input == input) {
			e->count++;
			if (sni && *sni && !e->sni[0])
				pi_strlcpy(e->sni, sni, sizeof(e->sni));
			return;
		}
	}
	if (t->n >= EDNS_MAX) {
		t->dropped++;
		return;
	}
	struct edns_entry *e = &t->v[t->n++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->ipver = (uint8_t)ipver;
	memcpy(e->addr, addr, 16);
	e->port = port;
	if (sni)
		pi_strlcpy(e->sni, sni, sizeof(e->sni));
	e->count = 1;
	e->first_frame = frame;
	e->input = input;
}
