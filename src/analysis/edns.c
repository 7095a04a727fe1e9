/* edns.c: encrypted DNS seen in the capture (see edns.h). */
#include "analysis/edns.h"

#include <string.h>
#include <strings.h>

#include "common/util.h"

/* Public DoH resolvers (their documented service names), with their
 * lengths: asked once per TLS connection, so no strlen per entry. */
#define DOH(s) { s, sizeof(s) - 1 }
static const struct {
	const char *s;
	size_t n;
} doh_names[] = {
	DOH("dns.google"), DOH("dns.google.com"), DOH("dns64.dns.google"), DOH("cloudflare-dns.com"),
	DOH("mozilla.cloudflare-dns.com"), DOH("one.one.one.one"), DOH("1dot1dot1dot1.cloudflare-dns.com"),
	DOH("security.cloudflare-dns.com"), DOH("family.cloudflare-dns.com"), DOH("dns.quad9.net"),
	DOH("dns9.quad9.net"), DOH("dns10.quad9.net"), DOH("dns11.quad9.net"), DOH("doh.opendns.com"),
	DOH("dns.nextdns.io"), DOH("doh.cleanbrowsing.org"), DOH("dns.adguard-dns.com"), DOH("dns.adguard.com"),
	DOH("doh.dns.sb"), DOH("dns.twnic.tw"), DOH("doh.mullvad.net"), DOH("dns.controld.com"),
	DOH("chrome.cloudflare-dns.com"), DOH("doh.xfinity.com"), DOH("dns.umbrella.com"),
};
#undef DOH

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
	n = strlen(sni);
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
