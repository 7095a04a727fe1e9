/* fuzz_hello.c: fuzz target for the proxy's ClientHello peek (src/proxy/hello.h).
 *
 * Input: one byte of piece size, then the bytes a client sent first. They
 * are given to the peek as the proxy gets them, a piece at a time (each call
 * with everything so far), and again all at once: both must decide the same
 * (a ClientHello or not TLS) with the same SNI, and once decided a peek must
 * stay decided.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proxy/hello.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz z = { data, size };
	size_t piece = (size_t)fz_u8(&z) % 64u + 1u, n, len = 0;
	const uint8_t *buf = fz_bytes(&z, z.n, &n);
	struct px_hello a, b;
	int done_a = 0, done_b;

	px_hello_init(&a);
	while (len < n) {
		len = n - len > piece ? len + piece : n;
		int d = px_hello_feed(&a, buf, len);
		if (done_a && !d)
			abort(); /* decided, then undecided */
		done_a = d;
	}
	px_hello_init(&b);
	done_b = n ? px_hello_feed(&b, buf, n) : 0;
	if (done_a != done_b || a.ok != b.ok || a.not_tls != b.not_tls || (a.ok && a.not_tls))
		abort();
	if (strcmp(px_hello_sni(&a), px_hello_sni(&b)) != 0)
		abort();
	if (!memchr(px_hello_sni(&a), '\0', sizeof(a.tls.ch.sni)))
		abort();
	px_hello_free(&a);
	px_hello_free(&b);
	return 0;
}
