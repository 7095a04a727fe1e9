/* verdict.h: one verdict per TLS connection, as seen from the client.
 *
 * The only module that knows verdict names (DESIGN.md "Vocabulary"). It is
 * fed, in capture order, the TCP flags of every packet and the events of the
 * TLS dissector, already oriented (client / server), and decides as soon as
 * the outcome is known; verdict_finish() settles what is still open when the
 * connection ends or the capture does.
 *
 * TLS 1.3 (RFC 8446 5.2): after the ServerHello every record is
 * application_data on the wire. The client's first record after the
 * server's flight is its Finished, at least TLS13_MIN_FINISHED bytes (4-byte
 * header + 32-byte verify_data + 1 inner type + 16-byte tag = 53 for SHA-256
 * suites; 45 with the 8-byte CCM tag); an encrypted alert is 2 + 1 + 16 =
 * 19 bytes (24 on the wire) plus any padding. A first record smaller than
 * any Finished, with nothing after it, is the client's rejection alert.
 */
#ifndef PI_VERDICT_H
#define PI_VERDICT_H

#include <stdint.h>

#include "dissectors/tls.h"

#define TLS13_MIN_FINISHED 45 /* smallest Finished record (CCM_8 suites) */
#define TLS13_MAX_ALERT 40    /* an encrypted alert record with padding (Java pads to 35) */

enum verdict {
	V_NONE = 0, /* not decided yet */
	V_HEALTHY,
	V_RST_AFTER_HELLO,
	V_FIN_AFTER_HELLO,
	V_CERT_ALERT,
	V_ENCRYPTED_ABORT,
	V_CLOSE_NO_DATA,
	V_OTHER_ALERT,
	V_SERVER_ABORT,
	V_INCOMPLETE,
	V_COUNT
};

const char *verdict_name(enum verdict v);
/* Is this verdict one of the client-rejection signatures? */
int verdict_is_rejection(enum verdict v);

#define CONN_MAX_FRAMES 6
#define CONN_ALERTS_LEN 96

enum conn_phase {
	PH_START = 0,      /* nothing from the server yet */
	PH_SERVER_FLIGHT,  /* ServerHello seen; client has not answered */
	PH_CLIENT_DONE,    /* client Finished seen (it accepted the certificate) */
};

/* Per-connection facts and the verdict. Plain data; no pointers it owns. */
struct conn {
	/* identity: filled by the pipeline */
	uint32_t input;
	uint64_t stream;
	uint8_t ipver;
	uint8_t caddr[16], saddr[16];
	uint16_t cport, sport;
	uint64_t first_frame, first_ts, last_ts;

	/* TLS facts */
	uint64_t tls_records;      /* TLS records (or messages) seen either way */
	uint8_t saw_ch, saw_sh, tls13, hrr;
	char sni[256];
	char alpn[64];
	char ja3[33];
	uint16_t version;          /* negotiated (ServerHello), 0 if none */
	uint16_t cipher;
	uint32_t cert_count;       /* certificates in the server's chain */
	uint8_t saw_cert;

	/* what happened, in order */
	enum conn_phase phase;
	uint64_t sh_frame, sh_ts;          /* first (non-HRR) ServerHello */
	uint64_t flight_frame, flight_ts;  /* last server record before the client reacted */
	uint8_t client_ccs;
	uint8_t pending_enc_alert;         /* a small encrypted client record, nothing after yet */
	uint64_t pending_frame, pending_ts;
	uint8_t client_enc_alert_after_fin;
	uint64_t c_app_records, s_app_records; /* application data records (estimated in 1.3) */
	uint64_t c_app_frame, c_app_ts;    /* the client's first application data */
	uint64_t c_alert_frame, c_alert_ts; /* the client's first encrypted alert */
	uint8_t s_enc_alert;               /* the server sent an encrypted alert */
	uint64_t c_app_bytes, s_app_bytes;

	/* comparable with Wireshark (conformance): */
	uint64_t appdata_c2s, appdata_s2c; /* records of type 23 on the wire */
	char alerts[CONN_ALERTS_LEN];      /* "c2s:2:48,s2c:enc:enc" (truncated) */
	uint8_t c_rst, c_fin, s_rst, s_fin;
	uint64_t c_rst_frame, c_rst_ts, c_fin_frame, s_rst_frame, s_fin_frame;
	double rst_after_sh_ms;            /* first client RST after ServerHello, <0 if none */

	/* the verdict */
	enum verdict verdict;
	uint8_t alert_desc, alert_level;   /* the decisive alert, if any */
	uint8_t has_alert;
	uint8_t alert_from_server;
	uint64_t frames[CONN_MAX_FRAMES];  /* decisive frames, ascending */
	uint8_t nframes;
	double reaction_ms;                /* server flight -> client reaction, <0 if n/a */
	const char *reason;                /* one phrase on how it was decided */
};

/* dir below: 0 = client to server, 1 = server to client. */
void verdict_init(struct conn *c);
void verdict_tcp(struct conn *c, int dir, uint8_t flags, uint32_t paylen, uint64_t frame, uint64_t ts_ns);
void verdict_tls(struct conn *c, int dir, const struct tls_event *ev, const struct tls_state *st);
/* The connection ended (finalised) or the capture did: settle the verdict. */
void verdict_finish(struct conn *c);

#endif
