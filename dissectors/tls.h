/* tls.h: TLS record layer and handshake dissector (SSL 3.0 .. TLS 1.3).
 * RFC 5246 (TLS 1.2) sections 6.2 and 7.4, RFC 8446 (TLS 1.3) 4 and 5,
 * RFC 6066 (SNI), RFC 7301 (ALPN), RFC 6101 (SSL 3.0); SSLv2-compatible
 * ClientHello (RFC 5246 appendix E.2) recognised.
 *
 * The flow layer feeds each direction's bytes in order (after TCP
 * reassembly). The dissector emits events (struct tls_event) through a
 * callback: it names what it saw, it never decides a verdict.
 *
 * Wire layout of a record (RFC 5246 6.2.1):
 *   +------+---------+---------+----------------+
 *   | type | version | length  | fragment ...   |
 *   |  1   |    2    |    2    | length bytes   |
 *   +------+---------+---------+----------------+
 * Handshake messages (type 22) may span records and records may span TCP
 * segments; both are put back together here, within PI_TLS_MAX_HS_MSG.
 * After a direction has sent ChangeCipherSpec (or, in TLS 1.3, after the
 * ServerHello), records are encrypted: only their type and length are used,
 * and nothing is buffered (the body is skipped as it arrives).
 */
#ifndef PI_TLS_H
#define PI_TLS_H

#include <stddef.h>
#include <stdint.h>

#include "common/cur.h"    /* PI_OK, PI_NEED_MORE, PI_INVALID (tls_probe) */
#include "common/limits.h"

#define TLS_DIR_C2S 0 /* client to server */
#define TLS_DIR_S2C 1 /* server to client */

/* content types */
#define TLS_CT_CCS 20
#define TLS_CT_ALERT 21
#define TLS_CT_HANDSHAKE 22
#define TLS_CT_APPDATA 23
#define TLS_CT_HEARTBEAT 24
#define TLS_CT_SSLV2 128 /* pseudo type: an SSLv2-format hello record (content_type
                            of the events it gives) */

/* handshake types */
#define TLS_HS_CLIENT_HELLO 1
#define TLS_HS_SERVER_HELLO 2
#define TLS_HS_NEW_SESSION_TICKET 4
#define TLS_HS_ENCRYPTED_EXTENSIONS 8
#define TLS_HS_CERTIFICATE 11
#define TLS_HS_SERVER_KEY_EXCHANGE 12
#define TLS_HS_CERTIFICATE_REQUEST 13
#define TLS_HS_SERVER_HELLO_DONE 14
#define TLS_HS_CERTIFICATE_VERIFY 15
#define TLS_HS_CLIENT_KEY_EXCHANGE 16
#define TLS_HS_FINISHED 20

enum tls_ev_type {
	TLS_EV_CLIENT_HELLO = 1, /* hello info in st->ch (C2S only; a malformed hello
	                            comes after TLS_AN_BAD_HANDSHAKE with the fields
	                            read so far, ja3 "" if the lists are broken) */
	TLS_EV_SERVER_HELLO,     /* st->sh filled (S2C only); is_hrr set for a
	                            HelloRetryRequest */
	TLS_EV_CERTIFICATE,      /* a Certificate message, either direction;
	                            cert_count = certificates in it. st->certs
	                            holds the server's first one only */
	TLS_EV_HANDSHAKE,        /* any other plaintext handshake message: hs_type */
	TLS_EV_CCS,              /* plaintext ChangeCipherSpec (TLS <= 1.2 before
	                            encryption, and TLS 1.3 compatibility CCS) */
	TLS_EV_ALERT,            /* plaintext alert: level (1 or 2), desc; in TLS 1.3
	                            alert records are plaintext by definition */
	TLS_EV_ENCRYPTED,        /* an opaque record: content_type (20..24 as on the
	                            wire) and record_len. Also application data
	                            before encryption (0-RTT, mid-stream pickup) and
	                            alert records of >= 18 bytes whose first byte
	                            is no alert level (encrypted, CCS missed) */
	TLS_EV_HEARTBEAT,        /* heartbeat record before encryption */
	TLS_EV_NOT_TLS,          /* this direction does not carry TLS: stop feeding */
	TLS_EV_ANOMALY,          /* malformed input; anomaly names it */
};

enum tls_anomaly {
	TLS_AN_NONE = 0,
	TLS_AN_BAD_RECORD_VERSION,
	TLS_AN_RECORD_TOO_LONG,
	TLS_AN_BAD_HANDSHAKE,     /* a handshake message that does not parse */
	TLS_AN_HS_MSG_TOO_BIG,    /* over PI_TLS_MAX_HS_MSG: skipped */
	TLS_AN_BAD_ALERT,
	TLS_AN_GAP,               /* bytes missing in the stream: resynchronised */
	TLS_AN_BAD_RECORD_TYPE,   /* content type outside 20..24: resynchronised */
	TLS_AN_COUNT
};
/* Short snake_case name ("record_too_long"); "unknown" if out of range. */
const char *tls_anomaly_name(enum tls_anomaly a);

struct tls_event {
	enum tls_ev_type type;
	int dir;                 /* TLS_DIR_C2S or TLS_DIR_S2C */
	uint8_t content_type;    /* record type the event came from */
	uint16_t record_version; /* record layer version */
	uint32_t record_len;     /* record length (TLS_EV_ENCRYPTED, TLS_EV_ALERT...) */
	uint8_t hs_type;         /* TLS_EV_HANDSHAKE */
	uint8_t alert_level;     /* TLS_EV_ALERT */
	uint8_t alert_desc;
	uint8_t is_hrr;          /* TLS_EV_SERVER_HELLO */
	enum tls_anomaly anomaly;
	uint32_t cert_count;     /* TLS_EV_CERTIFICATE: certificates in this message */
	uint64_t frame;          /* frame of the segment that completed the record */
	uint64_t ts_ns;
};
/* Event timing, the same rule for every event: an event is emitted when the
 * record it comes from is complete, with the frame/ts_ns of the tls_feed()
 * chunk that completed it (so a record cut off by the end of the capture
 * gives no event). TLS_EV_NOT_TLS and record-header anomalies come from the
 * chunk in which the offending header byte arrived. Events raised inside
 * tls_gap() carry the frame/ts_ns of the last chunk fed to the state. */

/* The strings hold a NUL-terminated string; bytes past the NUL are not
 * part of it (tls_init() does not clear them). */
struct tls_client_hello {
	uint16_t legacy_version;       /* client_version field */
	uint16_t max_version;          /* highest of supported_versions, else legacy */
	char sni[256];                 /* server_name host_name, NUL-terminated, "" if none */
	char alpn[64];                 /* protocols joined with ',' (truncated) */
	char ja3[33];                  /* MD5 hex of the JA3 string */
	char ja3_str[512];             /* JA3 string (truncated if longer: ja3 is of the full one) */
	uint8_t has_ech;               /* encrypted_client_hello extension present */
	uint8_t sslv2;                 /* SSLv2-format ClientHello */
	uint64_t frame;
};

struct tls_server_hello {
	uint16_t legacy_version;
	uint16_t version;              /* supported_versions if present, else legacy */
	uint16_t cipher;
	uint64_t frame;
};

/* Certificates of the first Certificate message of the server (DER). */
struct tls_certs {
	uint32_t count;                      /* number in the message (may exceed kept) */
	uint32_t kept;                       /* number stored below, <= PI_TLS_MAX_CERTS */
	uint8_t *der;                        /* one allocation holding all kept certs, */
	uint32_t der_size;                   /* its size (pi_buf_get): certificate i is */
	                                     /* der + off[i], len[i] bytes; what lies */
	                                     /* between them is not theirs */
	uint32_t off[PI_TLS_MAX_CERTS];
	uint32_t len[PI_TLS_MAX_CERTS];
	uint64_t frame;
};

/* Per-direction record parsing state. Internal, but embedded by value. */
struct tls_dir {
	uint8_t hdr[5];
	uint8_t hdr_have;       /* bytes of a record header held in hdr (5: in a body) */
	uint8_t rec_type;       /* TLS_CT_*, or TLS_CT_SSLV2 */
	uint8_t rec_ev;         /* skipped body: event emitted when it ends (0: none) */
	uint16_t rec_version;
	uint8_t seen;           /* a record header was accepted (or a gap came first) */
	uint8_t hs_lost;        /* handshake message boundary lost after a gap */
	uint32_t rec_len;
	uint32_t rec_left;      /* body bytes of the current record still to come */
	uint32_t hs_skip;       /* bytes of a dropped handshake message still to skip */
	uint8_t *body;          /* buffered body of a record we parse (plaintext) */
	uint32_t body_have;
	uint32_t body_cap;      /* allocated size of body */
	uint8_t *hs;            /* handshake message reassembly across records */
	uint32_t hs_have, hs_cap;
	uint8_t encrypted;      /* records from this direction are now encrypted */
	uint8_t desync;         /* lost the record boundary after a gap */
	uint8_t not_tls;        /* not parsed any more: not TLS (TLS_EV_NOT_TLS was
	                           emitted), or SSLv2 after an SSLv2 ServerHello */
	uint8_t skip_body;      /* current record body is skipped, not buffered */
	uint8_t alert_frag;     /* first byte of an alert split across records */
	uint8_t alert_frag_have;
};

typedef void (*tls_event_cb)(void *ctx, const struct tls_event *ev);

struct tls_state {
	struct tls_dir d[2];
	struct tls_client_hello ch;
	struct tls_server_hello sh;
	struct tls_certs certs;
	uint8_t saw_ch, saw_sh, tls13; /* saw_sh: a ServerHello that is not an HRR;
	                                  tls13: TLS 1.3 negotiated (or HRR seen) */
	uint8_t saw_hrr;        /* a HelloRetryRequest was seen */
	uint8_t saw_cert;       /* certs holds the server's first Certificate */
	uint64_t last_frame;    /* frame/ts_ns of the last chunk fed (either direction) */
	uint64_t last_ts;
	uint32_t anomalies[TLS_AN_COUNT];
	tls_event_cb cb;
	void *cb_ctx;
	struct pi_caps *caps;   /* may be NULL */
};

/* Does this look like the start of a TLS (or SSLv2-compatible) stream?
 * TLS: type 20..24, version 3.0..3.4, length <= TLS_MAX_RECORD; SSLv2:
 * 2-byte header with the high bit set, CLIENT-HELLO, version 0x0002 or 3.x.
 * Returns PI_OK (yes), PI_NEED_MORE (too few bytes to tell), PI_INVALID (no). */
int tls_probe(const uint8_t *data, size_t len);

#define TLS_MAX_RECORD (16384u + 2048u) /* longest record accepted (RFC 5246 6.2.3) */

/* Reset the state and set the callback (cb may be NULL): every field zero,
 * the strings of ch "" (the bytes after their NUL are left as they were).
 * Allocates nothing. */
void tls_init(struct tls_state *st, tls_event_cb cb, void *ctx, struct pi_caps *caps);
/* Feed in-order bytes of one direction (dir TLS_DIR_C2S or TLS_DIR_S2C; any
 * other value is ignored). Emits events synchronously; the callback must not
 * call tls_feed/tls_gap/tls_free on the same state. Returns nothing: all
 * outcomes are events, st->anomalies[] and st->caps counters. */
void tls_feed(struct tls_state *st, int dir, const uint8_t *data, size_t len,
              uint64_t frame, uint64_t ts_ns);
/* n bytes are missing from this direction's stream (a capture gap).
 * Inside an encrypted (skipped) record body the record simply gets shorter
 * (no anomaly); inside a plaintext body the record is kept and its lost
 * content dropped; otherwise the direction resynchronises on the next
 * plausible record header. All but the first case raise TLS_AN_GAP. */
void tls_gap(struct tls_state *st, int dir, size_t n);
/* Free buffers; the state may be reused after tls_init(). */
void tls_free(struct tls_state *st);

/* Names for humans and JSON. */
const char *tls_alert_name(uint8_t desc);       /* IANA name: "unknown_ca"; "alert_N" if unknown */
/* "TLS 1.2", "SSL 3.0", "TLS 1.3 draft 18", "TLS 1.3 (Facebook)", "DTLS 1.2",
 * "GREASE"; "unknown" for anything else. Always a static constant string
 * (thread-safe, never overwritten). For "0xNNNN" use tls_version_str(). */
const char *tls_version_name(uint16_t version);
/* Like tls_version_name() but unknown versions are written as "0xNNNN" into
 * buf (len >= 7). Returns the static name or buf; buf is "" if len < 7. */
const char *tls_version_str(uint16_t version, char *buf, size_t len);

#endif
