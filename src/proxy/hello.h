/* hello.h: the proxy's ClientHello peek.
 *
 * Before deciding to intercept or splice, the proxy reads what the client
 * sends first and waits for a whole, well-formed ClientHello (its SNI
 * decides), or for proof that the bytes are not one. The bytes arrive in
 * pieces; each call gives everything received so far (the same buffer,
 * grown), and only what was not seen yet is dissected.
 */
#ifndef PI_PX_HELLO_H
#define PI_PX_HELLO_H

#include <stddef.h>
#include <stdint.h>

#include "dissectors/tls.h"

struct px_hello {
	struct tls_state tls;
	size_t fed;        /* bytes already given to the dissector */
	uint8_t ok;        /* a well-formed ClientHello was read */
	uint8_t not_tls;   /* the first bytes are not a (well-formed) ClientHello */
	char sni[256];     /* the first ClientHello's SNI: the one the server gets
	                    * (tls.ch may be a later hello of the same bytes) */
};

void px_hello_init(struct px_hello *h);
/* buf[0..len): every byte the client sent so far (len never shrinks).
 * Returns 1 once decided (h->ok or h->not_tls), 0 while more bytes help. */
int px_hello_feed(struct px_hello *h, const uint8_t *buf, size_t len);
/* The SNI of the first ClientHello ("" if none or not decided ok). */
const char *px_hello_sni(const struct px_hello *h);
void px_hello_free(struct px_hello *h);

#endif
