/* hello.c: the proxy's ClientHello peek (see hello.h). */
#include "proxy/hello.h"

#include <string.h>

#include "common/cur.h"

static void on_event(void *ctx, const struct tls_event *ev)
{
	struct px_hello *h = ctx;
	if (h->ok || h->not_tls)
		return;
	if (ev->type == TLS_EV_CLIENT_HELLO && ev->dir == TLS_DIR_C2S) {
		/* decided here: bytes after this hello (a second hello in the same
		 * segment) must not change the name the decision rests on */
		h->ok = 1;
		memcpy(h->sni, h->tls.ch.sni, sizeof(h->sni));
		h->sni[sizeof(h->sni) - 1] = '\0';
	}
	else if (ev->type != TLS_EV_ANOMALY || ev->anomaly != TLS_AN_HS_MSG_TOO_BIG)
		h->not_tls = 1; /* the first record is not a (well-formed) ClientHello */
}

void px_hello_init(struct px_hello *h)
{
	memset(h, 0, sizeof(*h));
	tls_init(&h->tls, on_event, h, NULL);
}

int px_hello_feed(struct px_hello *h, const uint8_t *buf, size_t len)
{
	if (h->ok || h->not_tls)
		return 1;
	if (len <= h->fed)
		return 0;
	if (h->fed == 0) {
		int pr = tls_probe(buf, len);
		if (pr == PI_INVALID)
			h->not_tls = 1;
		if (pr != PI_OK)
			return h->not_tls;
	}
	tls_feed(&h->tls, TLS_DIR_C2S, buf + h->fed, len - h->fed, 0, 0);
	h->fed = len;
	return h->ok || h->not_tls;
}

const char *px_hello_sni(const struct px_hello *h)
{
	return h->ok ? h->sni : "";
}

void px_hello_free(struct px_hello *h)
{
	tls_free(&h->tls);
}
