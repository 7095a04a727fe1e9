/* edns.h: encrypted DNS seen in the capture, where the names cannot be.
 *
 * DNS over TLS (RFC 7858: TCP 853), DNS over QUIC (RFC 9250: UDP 853) and
 * DNS over HTTPS (RFC 8484: TLS to a well-known resolver name). A client
 * that resolves this way hides its queries from the capture, so pinspect
 * says so next to the DNS facts.
 */
#ifndef PI_EDNS_H
#define PI_EDNS_H

#include <stddef.h>
#include <stdint.h>

#define EDNS_MAX 256 /* distinct (kind, server) pairs kept */

enum edns_kind { EDNS_DOT = 0, EDNS_DOH, EDNS_DOQ };

struct edns_entry {
	enum edns_kind kind;
	uint8_t ipver;
	uint8_t addr[16];
	uint16_t port;
	char sni[128];
	uint64_t count;      /* connections (DoT, DoH) or packets (DoQ) */
	uint64_t first_frame;
	int input;
};

struct edns {
	struct edns_entry v[EDNS_MAX];
	size_t n;
	uint64_t dropped;
};

const char *edns_kind_name(enum edns_kind k);
/* Is sni the name of a public DoH resolver? */
int edns_is_doh_name(const char *sni);
void edns_add(struct edns *t, enum edns_kind kind, int ipver, const uint8_t addr[16], uint16_t port,
              const char *sni, uint64_t frame, int input);

#endif
