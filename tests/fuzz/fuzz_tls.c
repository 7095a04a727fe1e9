/* fuzz_tls.c: fuzz target for the TLS dissector (dissectors/tls.h).
 *
 * Input: a script of operations on one connection, both directions:
 *
 *   op (1 byte): bit 0 = direction (0 client to server, 1 server to client),
 *                k = op >> 1:
 *     k 0..125   feed the next k + 1 bytes
 *     k 126      feed the next LEN bytes, LEN a 2-byte big-endian length
 *     k 127      tls_gap() of LEN bytes (2-byte length)
 *
 * (tests/fuzz/mkseeds.py writes the TCP payloads of real TLS connections in
 * this form.) The stream is run twice: as scripted, then again with every
 * chunk fed one byte at a time. tls.h promises the same events either way
 * (an event is emitted when its record completes), so the two event
 * sequences and final states must agree; any difference aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dissectors/tls.h"
#include "fuzz.h"

#define MAX_EVENTS 4096

struct ev_rec {
	uint8_t type, dir, content_type, hs_type, alert_level, alert_desc, is_hrr, anomaly;
	uint16_t record_version;
	uint32_t record_len, cert_count;
};

struct run {
	struct tls_state st;
	struct ev_rec ev[MAX_EVENTS];
	size_t nev;
	uint64_t sink; /* reads of strings and certificates, so ASan sees them */
};

static void touch_str(struct run *r, const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);
	if (!end)
		abort(); /* a string of the state without its NUL */
	r->sink += (size_t)(end - s);
}

static void on_event(void *ctx, const struct tls_event *ev)
{
	struct run *r = ctx;
	const struct tls_state *st = &r->st;
	char buf[16];
	if (r->nev < MAX_EVENTS) {
		struct ev_rec *e = &r->ev[r->nev++];
		memset(e, 0, sizeof(*e));
		e->type = (uint8_t)ev->type;
		e->dir = (uint8_t)ev->dir;
		e->content_type = ev->content_type;
		e->hs_type = ev->hs_type;
		e->alert_level = ev->alert_level;
		e->alert_desc = ev->alert_desc;
		e->is_hrr = ev->is_hrr;
		e->anomaly = (uint8_t)ev->anomaly;
		e->record_version = ev->record_version;
		e->record_len = ev->record_len;
		e->cert_count = ev->cert_count;
	}
	r->sink += strlen(tls_anomaly_name(ev->anomaly));
	r->sink += strlen(tls_alert_name(ev->alert_desc));
	r->sink += strlen(tls_version_str(ev->record_version, buf, sizeof(buf)));
	switch (ev->type) {
	case TLS_EV_CLIENT_HELLO:
		touch_str(r, st->ch.sni, sizeof(st->ch.sni));
		touch_str(r, st->ch.alpn, sizeof(st->ch.alpn));
		touch_str(r, st->ch.ja3, sizeof(st->ch.ja3));
		touch_str(r, st->ch.ja3_str, sizeof(st->ch.ja3_str));
		r->sink += strlen(tls_version_name(st->ch.max_version));
		break;
	case TLS_EV_SERVER_HELLO:
		r->sink += strlen(tls_version_str(st->sh.version, buf, sizeof(buf)));
		break;
	case TLS_EV_CERTIFICATE:
		if (st->certs.kept > PI_TLS_MAX_CERTS || st->certs.kept > st->certs.count)
			abort();
		for (uint32_t i = 0; i < st->certs.kept; i++) {
			const uint8_t *p = st->certs.der + st->certs.off[i];
			for (uint32_t j = 0; j < st->certs.len[i]; j++)
				r->sink += p[j];
		}
		break;
	default:
		break;
	}
}

/* Run the script; bytewise: feed every chunk one byte at a time. */
static void run_script(struct run *r, const uint8_t *data, size_t size, int bytewise)
{
	struct fz z = { data, size };
	uint64_t frame = 0;
	tls_init(&r->st, on_event, r, NULL);
	r->nev = 0;
	while (z.n) {
		uint8_t op = fz_u8(&z);
		int dir = op & 1 ? TLS_DIR_S2C : TLS_DIR_C2S;
		unsigned k = op >> 1;
		size_t want, len;
		const uint8_t *p;
		if (k == 127) {
			tls_gap(&r->st, dir, fz_u16(&z));
			continue;
		}
		want = k == 126 ? fz_u16(&z) : k + 1;
		p = fz_bytes(&z, want, &len);
		frame++;
		if (!bytewise) {
			tls_feed(&r->st, dir, p, len, frame, frame * 1000);
		} else {
			for (size_t i = 0; i < len; i++)
				tls_feed(&r->st, dir, p + i, 1, frame, frame * 1000);
		}
	}
}

static void compare(const struct run *a, const struct run *b)
{
	const struct tls_state *x = &a->st, *y = &b->st;
	int bad = 0;
	if (a->nev != b->nev) {
		fprintf(stderr, "fuzz_tls: %zu events as scripted, %zu bytewise\n", a->nev, b->nev);
		bad = 1;
	}
	for (size_t i = 0; !bad && i < a->nev; i++) {
		if (memcmp(&a->ev[i], &b->ev[i], sizeof(a->ev[i])) != 0) {
			fprintf(stderr, "fuzz_tls: event %zu differs: type %u/%u anomaly %u/%u len %u/%u\n", i,
			        a->ev[i].type, b->ev[i].type, a->ev[i].anomaly, b->ev[i].anomaly,
			        (unsigned)a->ev[i].record_len, (unsigned)b->ev[i].record_len);
			bad = 1;
		}
	}
	if (!bad && (x->saw_ch != y->saw_ch || x->saw_sh != y->saw_sh || x->tls13 != y->tls13 ||
	             x->saw_hrr != y->saw_hrr || x->saw_cert != y->saw_cert ||
	             strcmp(x->ch.sni, y->ch.sni) != 0 || strcmp(x->ch.ja3, y->ch.ja3) != 0 ||
	             strcmp(x->ch.alpn, y->ch.alpn) != 0 || x->sh.cipher != y->sh.cipher ||
	             x->sh.version != y->sh.version || x->certs.count != y->certs.count ||
	             x->certs.kept != y->certs.kept ||
	             memcmp(x->anomalies, y->anomalies, sizeof(x->anomalies)) != 0)) {
		fprintf(stderr, "fuzz_tls: final state differs (scripted vs bytewise)\n");
		bad = 1;
	}
	for (uint32_t i = 0; !bad && i < x->certs.kept; i++)
		if (x->certs.len[i] != y->certs.len[i] ||
		    memcmp(x->certs.der + x->certs.off[i], y->certs.der + y->certs.off[i], x->certs.len[i]) != 0)
			bad = 1;
	if (bad)
		abort();
}

static struct run runs[2];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* probe first, as the flow layer does with a stream's first bytes */
	(void)tls_probe(data, size);
	run_script(&runs[0], data, size, 0);
	run_script(&runs[1], data, size, 1);
	compare(&runs[0], &runs[1]);
	tls_free(&runs[0].st);
	tls_free(&runs[1].st);
	return 0;
}
