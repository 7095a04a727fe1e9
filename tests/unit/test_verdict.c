/* test_verdict.c: each verdict from the event sequences real stacks produce
 * (PEERS.md section 6), and the TLS 1.3 record-size rule. */
#include <string.h>

#include "analysis/verdict.h"
#include "unit.h"

static struct tls_state st;
static uint64_t frame;

static void ev(struct conn *c, int dir, enum tls_ev_type type, uint8_t ct, uint32_t len, uint8_t a1, uint8_t a2)
{
	struct tls_event e;
	memset(&e, 0, sizeof(e));
	e.type = type;
	e.dir = dir;
	e.content_type = ct;
	e.record_len = len;
	e.alert_level = a1;
	e.alert_desc = a2;
	e.hs_type = a1;
	e.frame = ++frame;
	e.ts_ns = frame * 1000000ull;
	verdict_tls(c, dir, &e, &st);
}

static void tcp(struct conn *c, int dir, uint8_t flags)
{
	++frame;
	verdict_tcp(c, dir, flags, 0, frame, frame * 1000000ull);
}

/* ClientHello, ServerHello (+ Certificate, ServerHelloDone for 1.2) */
static void hello(struct conn *c, int tls13)
{
	verdict_init(c);
	memset(&st, 0, sizeof(st));
	strcpy(st.ch.sni, "api.example");
	st.sh.version = tls13 ? 0x0304 : 0x0303;
	st.tls13 = (uint8_t)tls13;
	st.certs.count = 2;
	frame = 0;
	tcp(c, 0, 0x02);
	tcp(c, 1, 0x12);
	ev(c, 0, TLS_EV_CLIENT_HELLO, 22, 512, 0, 0);
	ev(c, 1, TLS_EV_SERVER_HELLO, 22, 90, 0, 0);
	if (tls13) {
		ev(c, 1, TLS_EV_CCS, 20, 1, 0, 0);
		ev(c, 1, TLS_EV_ENCRYPTED, 23, 2100, 0, 0); /* EE, Certificate, CV, Finished */
	} else {
		ev(c, 1, TLS_EV_CERTIFICATE, 22, 2000, 0, 0);
		ev(c, 1, TLS_EV_HANDSHAKE, 22, 4, 14, 0);
	}
}

int main(void)
{
	struct conn c;

	/* TLS 1.2 healthy: CKE, CCS, Finished, both Finished, data both ways */
	hello(&c, 0);
	ev(&c, 0, TLS_EV_HANDSHAKE, 22, 70, 16, 0);
	ev(&c, 0, TLS_EV_CCS, 20, 1, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 22, 40, 0, 0);
	ev(&c, 1, TLS_EV_CCS, 20, 1, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 22, 40, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 120, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 23, 900, 0, 0);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "healthy");
	CHECK_EQ_STR(c.sni, "api.example");
	CHECK_EQ_INT(c.appdata_c2s, 1);

	/* TLS 1.2, OpenSSL rejecting: unknown_ca in the clear, then RST */
	hello(&c, 0);
	ev(&c, 0, TLS_EV_ALERT, 21, 2, 2, 48);
	tcp(&c, 0, 0x14);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "cert-alert");
	CHECK_EQ_INT(c.alert_desc, 48);
	CHECK_EQ_STR(c.alerts, "c2s:2:48");
	CHECK(c.nframes >= 2);
	CHECK(c.reaction_ms >= 0);

	/* Node / Apple: a reset right after the server flight */
	hello(&c, 0);
	tcp(&c, 0, 0x04);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "rst-after-hello");
	CHECK(c.rst_after_sh_ms >= 0);

	/* FIN right after the server flight */
	hello(&c, 1);
	tcp(&c, 0, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "fin-after-hello");

	/* TLS 1.3: CCS, then a 19-byte record (encrypted alert), then FIN */
	hello(&c, 1);
	ev(&c, 0, TLS_EV_CCS, 20, 1, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 19, 0, 0);
	tcp(&c, 0, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "encrypted-abort");

	/* TLS 1.3: the same small record, nothing after it until the capture ends */
	hello(&c, 1);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 19, 0, 0);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "encrypted-abort");

	/* TLS 1.3: Finished (53 bytes), then close_notify (19) and FIN: no data */
	hello(&c, 1);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 53, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 23, 250, 0, 0); /* NewSessionTicket */
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 19, 0, 0);
	tcp(&c, 0, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "close-no-data");
	CHECK_EQ_INT(c.s_app_records, 0); /* the ticket is not application data */

	/* TLS 1.3 healthy: Finished, then a request */
	hello(&c, 1);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 53, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 100, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 23, 300, 0, 0);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "healthy");
	CHECK_EQ_INT(c.s_app_records, 1);

	/* TLS 1.2: handshake done, encrypted alert (close_notify), FIN */
	hello(&c, 0);
	ev(&c, 0, TLS_EV_CCS, 20, 1, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 22, 40, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 21, 26, 0, 0);
	tcp(&c, 0, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "close-no-data");
	CHECK_EQ_STR(c.alerts, "c2s:enc:enc");

	/* protocol_version from the client */
	hello(&c, 0);
	ev(&c, 0, TLS_EV_ALERT, 21, 2, 2, 70);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "other-alert");

	/* the server (the proxy) sends handshake_failure */
	hello(&c, 0);
	ev(&c, 1, TLS_EV_ALERT, 21, 2, 2, 40);
	tcp(&c, 0, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "server-abort");
	CHECK(c.alert_from_server);

	/* a warning alert from the server does not decide */
	hello(&c, 0);
	ev(&c, 1, TLS_EV_ALERT, 21, 2, 1, 112);
	tcp(&c, 0, 0x04);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "rst-after-hello");

	/* the capture ends after the ServerHello */
	hello(&c, 0);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "incomplete");

	/* the server resets before anything else */
	verdict_init(&c);
	frame = 0;
	ev(&c, 0, TLS_EV_CLIENT_HELLO, 22, 512, 0, 0);
	tcp(&c, 1, 0x04);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "server-abort");

	/* mid-stream: only application data both ways */
	verdict_init(&c);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 100, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 23, 100, 0, 0);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "healthy");

	/* TLS 1.3, client certificate required: the client finishes and sends its
	 * request; the server answers with an encrypted alert and closes */
	hello(&c, 1);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 53, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 90, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 23, 19, 0, 0);
	tcp(&c, 1, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "server-abort");

	/* TLS 1.2: the client's close_notify comes first, the server's follows */
	hello(&c, 0);
	ev(&c, 0, TLS_EV_CCS, 20, 1, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 22, 40, 0, 0);
	ev(&c, 1, TLS_EV_CCS, 20, 1, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 22, 40, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 21, 26, 0, 0);
	ev(&c, 1, TLS_EV_ENCRYPTED, 21, 26, 0, 0);
	tcp(&c, 1, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "close-no-data");

	/* Java pads its TLS 1.3 close_notify to 35 bytes: still not data */
	hello(&c, 1);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 53, 0, 0);
	ev(&c, 0, TLS_EV_ENCRYPTED, 23, 35, 0, 0);
	tcp(&c, 0, 0x11);
	verdict_finish(&c);
	CHECK_EQ_STR(verdict_name(c.verdict), "close-no-data");

	CHECK(verdict_is_rejection(V_ENCRYPTED_ABORT));
	CHECK(!verdict_is_rejection(V_SERVER_ABORT));
	UNIT_DONE();
}
