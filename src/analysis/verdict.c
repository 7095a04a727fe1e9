/* verdict.c: per-connection verdicts from TCP flags and TLS events.
 * Vocabulary: DESIGN.md; TLS 1.3 record sizes: RFC 8446 5.2 (see verdict.h).
 */
#include "analysis/verdict.h"

#include <stdio.h>
#include <string.h>

static const char *const names[V_COUNT] = {
	[V_NONE] = "undecided",
	[V_HEALTHY] = "healthy",
	[V_RST_AFTER_HELLO] = "rst-after-hello",
	[V_FIN_AFTER_HELLO] = "fin-after-hello",
	[V_CERT_ALERT] = "cert-alert",
	[V_ENCRYPTED_ABORT] = "encrypted-abort",
	[V_CLOSE_NO_DATA] = "close-no-data",
	[V_OTHER_ALERT] = "other-alert",
	[V_SERVER_ABORT] = "server-abort",
	[V_INCOMPLETE] = "incomplete",
};

const char *verdict_name(enum verdict v)
{
	return (unsigned)v < V_COUNT ? names[v] : "undecided";
}

int verdict_is_rejection(enum verdict v)
{
	return v == V_RST_AFTER_HELLO || v == V_FIN_AFTER_HELLO || v == V_CERT_ALERT ||
	       v == V_ENCRYPTED_ABORT || v == V_CLOSE_NO_DATA;
}

/* Alerts a client sends when it rejects the server's certificate
 * (RFC 8446 6.2; PEERS.md section 6 for which stack sends which). */
static int is_cert_alert(uint8_t desc)
{
	switch (desc) {
	case 42: /* bad_certificate */
	case 43: /* unsupported_certificate */
	case 44: /* certificate_revoked */
	case 45: /* certificate_expired */
	case 46: /* certificate_unknown */
	case 48: /* unknown_ca */
	case 49: /* access_denied */
		return 1;
	default:
		return 0;
	}
}

void verdict_init(struct conn *c)
{
	memset(c, 0, sizeof(*c));
	c->rst_after_sh_ms = -1;
	c->reaction_ms = -1;
}

static void add_frame(struct conn *c, uint64_t frame)
{
	if (!frame)
		return;
	for (int i = 0; i < c->nframes; i++)
		if (c->frames[i] == frame)
			return;
	if (c->nframes >= CONN_MAX_FRAMES)
		return;
	int i = c->nframes++;
	while (i > 0 && c->frames[i - 1] > frame) {
		c->frames[i] = c->frames[i - 1];
		i--;
	}
	c->frames[i] = frame;
}

static double ms_between(uint64_t from, uint64_t to)
{
	if (!from || to < from)
		return to == from ? 0.0 : -1.0;
	return (double)(to - from) / 1e6;
}

/* Settle the verdict with the server flight and the reaction as evidence. */
static void decide(struct conn *c, enum verdict v, uint64_t frame, uint64_t ts, const char *reason)
{
	if (c->verdict != V_NONE)
		return;
	c->verdict = v;
	c->reason = reason;
	if (c->saw_sh && v != V_HEALTHY) {
		add_frame(c, c->sh_frame);
		add_frame(c, c->flight_frame);
		if (c->flight_ts && ts)
			c->reaction_ms = ms_between(c->flight_ts, ts);
	}
	add_frame(c, frame);
}

static void alerts_append(struct conn *c, const char *item)
{
	size_t have = strlen(c->alerts);
	size_t need = strlen(item) + (have ? 1 : 0);
	if (have + need + 1 > sizeof(c->alerts))
		return;
	if (have)
		c->alerts[have++] = ',';
	memcpy(c->alerts + have, item, strlen(item) + 1);
}

static void flight(struct conn *c, uint64_t frame, uint64_t ts)
{
	if (c->phase == PH_SERVER_FLIGHT && !c->pending_enc_alert) {
		c->flight_frame = frame;
		c->flight_ts = ts;
	}
}

void verdict_tcp(struct conn *c, int dir, uint8_t flags, uint32_t paylen, uint64_t frame, uint64_t ts_ns)
{
	int rst = (flags & 0x04) != 0, fin = (flags & 0x01) != 0;
	(void)paylen;
	if (!rst && !fin)
		return;
	if (dir == 0) {
		if (rst && !c->c_rst) {
			c->c_rst = 1;
			c->c_rst_frame = frame;
			c->c_rst_ts = ts_ns;
		}
		if (rst && c->saw_sh && c->rst_after_sh_ms < 0 && ts_ns >= c->sh_ts)
			c->rst_after_sh_ms = ms_between(c->sh_ts, ts_ns);
		if (fin && !c->c_fin) {
			c->c_fin = 1;
			c->c_fin_frame = frame;
		}
		if (c->verdict != V_NONE)
			return;
		if (c->phase == PH_SERVER_FLIGHT) {
			if (c->pending_enc_alert) {
				add_frame(c, c->pending_frame);
				decide(c, V_ENCRYPTED_ABORT, frame, c->pending_ts,
				       "short encrypted record (alert-sized, no Finished) then close");
			} else if (rst) {
				decide(c, V_RST_AFTER_HELLO, frame, ts_ns, "client RST after the server hello flight");
			} else {
				decide(c, V_FIN_AFTER_HELLO, frame, ts_ns, "client FIN after the server hello flight");
			}
		} else if (c->phase == PH_CLIENT_DONE && c->c_app_records == 0) {
			decide(c, V_CLOSE_NO_DATA, frame, ts_ns,
			       c->client_enc_alert_after_fin ? "handshake done, encrypted alert and close, no data"
			                                     : "handshake done, client closed, no data");
		} else if (c->c_app_records) {
			/* it sent data (so it accepted the certificate); no answer came */
			decide(c, V_HEALTHY, c->c_app_frame, c->c_app_ts,
			       "client sent application data, then closed before any answer");
		}
	} else {
		if (rst && !c->s_rst) {
			c->s_rst = 1;
			c->s_rst_frame = frame;
		}
		if (fin && !c->s_fin) {
			c->s_fin = 1;
			c->s_fin_frame = frame;
		}
		if (c->verdict != V_NONE || (!c->saw_ch && !c->saw_sh))
			return;
		if (c->client_enc_alert_after_fin && c->c_app_records == 0) {
			/* the client closed first (close_notify); the server follows */
			decide(c, V_CLOSE_NO_DATA, c->c_alert_frame, c->c_alert_ts,
			       "handshake done, client encrypted alert (close_notify), no data");
		} else if (c->c_app_records == 0) {
			int silent = c->phase == PH_SERVER_FLIGHT && c->flight_ts &&
			             ts_ns > c->flight_ts + 5000000000ull;
			decide(c, V_SERVER_ABORT, frame, ts_ns,
			       silent ? "client silent 5 s or more after the server flight, then the server closed"
			       : rst  ? "server RST before the client sent data"
			              : "server FIN before the client sent data");
		} else {
			decide(c, V_SERVER_ABORT, frame, ts_ns,
			       c->s_enc_alert ? "server encrypted alert and close after the client's request, no answer"
			                      : "server closed after the client's request without answering");
		}
	}
}

/* Application data from the client: it accepted the certificate. Healthy
 * once the server answers with data too (DESIGN: data both ways). */
static void client_app(struct conn *c, uint32_t len, uint64_t frame, uint64_t ts)
{
	if (!c->c_app_records) {
		c->c_app_frame = frame;
		c->c_app_ts = ts;
	}
	c->c_app_records++;
	c->c_app_bytes += len;
	if (c->s_app_records)
		decide(c, V_HEALTHY, frame, ts, "application data both ways");
}

static void server_app(struct conn *c, uint32_t len, uint64_t frame, uint64_t ts)
{
	c->s_app_records++;
	c->s_app_bytes += len;
	if (c->c_app_records)
		decide(c, V_HEALTHY, frame, ts, "application data both ways");
}

static void encrypted(struct conn *c, int dir, const struct tls_event *ev)
{
	uint32_t len = ev->record_len;
	uint8_t ct = ev->content_type;

	if (ct == TLS_CT_APPDATA) {
		if (dir == 0)
			c->appdata_c2s++;
		else
			c->appdata_s2c++;
	} else if (ct == TLS_CT_ALERT) {
		alerts_append(c, dir == 0 ? "c2s:enc:enc" : "s2c:enc:enc");
	}

	if (dir == 1) {
		if (c->phase == PH_SERVER_FLIGHT) {
			if (ct == TLS_CT_ALERT)
				decide(c, V_SERVER_ABORT, ev->frame, ev->ts_ns, "server encrypted alert");
			else
				flight(c, ev->frame, ev->ts_ns);
		} else if (c->phase == PH_CLIENT_DONE) {
			int alert = ct == TLS_CT_ALERT || (c->tls13 && c->c_app_records && len <= TLS13_MAX_ALERT);
			if (alert) {
				c->s_enc_alert = 1;
				if (c->c_app_records == 0 && !c->client_enc_alert_after_fin)
					decide(c, V_SERVER_ABORT, ev->frame, ev->ts_ns,
					       "server encrypted alert before the client sent data");
			} else if (!c->tls13 || c->c_app_records) {
				/* in 1.3 records before the client's data are tickets */
				server_app(c, len, ev->frame, ev->ts_ns);
			}
		} else if (ct == TLS_CT_APPDATA) {
			server_app(c, len, ev->frame, ev->ts_ns); /* mid-stream: no handshake captured */
		}
		return;
	}

	/* client */
	if (c->phase == PH_START) {
		if (ct == TLS_CT_APPDATA && !c->saw_ch)
			client_app(c, len, ev->frame, ev->ts_ns); /* mid-stream capture */
		return;
	}
	if (c->tls13) {
		if (c->phase == PH_SERVER_FLIGHT) {
			if (c->pending_enc_alert) {
				/* something followed the small record: it was not an alert */
				c->pending_enc_alert = 0;
				c->phase = PH_CLIENT_DONE;
			} else if (len < TLS13_MIN_FINISHED) {
				c->pending_enc_alert = 1;
				c->pending_frame = ev->frame;
				c->pending_ts = ev->ts_ns;
				return;
			} else {
				c->phase = PH_CLIENT_DONE; /* its Finished */
				return;
			}
		}
		if (len <= TLS13_MAX_ALERT) {
			if (!c->client_enc_alert_after_fin) {
				c->c_alert_frame = ev->frame;
				c->c_alert_ts = ev->ts_ns;
			}
			c->client_enc_alert_after_fin = 1;
		} else {
			client_app(c, len, ev->frame, ev->ts_ns);
		}
		return;
	}
	/* TLS 1.2 and older: the content type is in the clear */
	if (ct == TLS_CT_HANDSHAKE) {
		if (c->phase == PH_SERVER_FLIGHT)
			c->phase = PH_CLIENT_DONE; /* Finished */
	} else if (ct == TLS_CT_APPDATA) {
		if (c->phase == PH_SERVER_FLIGHT)
			c->phase = PH_CLIENT_DONE;
		client_app(c, len, ev->frame, ev->ts_ns);
	} else if (ct == TLS_CT_ALERT) {
		if (!c->client_enc_alert_after_fin) {
			c->c_alert_frame = ev->frame;
			c->c_alert_ts = ev->ts_ns;
		}
		c->client_enc_alert_after_fin = 1;
		if (c->phase == PH_SERVER_FLIGHT)
			c->phase = PH_CLIENT_DONE;
	}
}

/* "c2s:2:40": direction, level, description (one per alert, so without
 * printf: an alert storm must not cost a format call each). buf: >= 12. */
static void alert_text(char *buf, int dir, unsigned level, unsigned desc)
{
	size_t o = 0;
	unsigned v[2] = { level & 0xff, desc & 0xff };
	memcpy(buf, dir == 0 ? "c2s" : "s2c", 3);
	o = 3;
	for (int i = 0; i < 2; i++) {
		buf[o++] = ':';
		if (v[i] >= 100)
			buf[o++] = (char)('0' + v[i] / 100);
		if (v[i] >= 10)
			buf[o++] = (char)('0' + v[i] / 10 % 10);
		buf[o++] = (char)('0' + v[i] % 10);
	}
	buf[o] = '\0';
}

void verdict_tls(struct conn *c, int dir, const struct tls_event *ev, const struct tls_state *st)
{
	char buf[24];
	if (ev->type != TLS_EV_NOT_TLS && ev->type != TLS_EV_ANOMALY)
		c->tls_records++;
	switch (ev->type) {
	case TLS_EV_CLIENT_HELLO:
		if (dir != 0)
			break;
		c->saw_ch = 1;
		memcpy(c->sni, st->ch.sni, sizeof(c->sni));
		memcpy(c->alpn, st->ch.alpn, sizeof(c->alpn));
		memcpy(c->ja3, st->ch.ja3, sizeof(c->ja3));
		break;
	case TLS_EV_SERVER_HELLO:
		if (dir != 1)
			break;
		if (ev->is_hrr) {
			c->hrr = 1;
			break;
		}
		if (!c->saw_sh) {
			c->saw_sh = 1;
			c->sh_frame = ev->frame;
			c->sh_ts = ev->ts_ns;
			c->version = st->sh.version;
			c->cipher = st->sh.cipher;
			c->tls13 = st->tls13;
			if (c->phase == PH_START)
				c->phase = PH_SERVER_FLIGHT;
			c->flight_frame = ev->frame;
			c->flight_ts = ev->ts_ns;
		}
		break;
	case TLS_EV_CERTIFICATE:
		if (dir == 1) {
			c->saw_cert = 1;
			c->cert_count = st->certs.count;
			flight(c, ev->frame, ev->ts_ns);
		}
		break;
	case TLS_EV_HANDSHAKE:
		if (dir == 1)
			flight(c, ev->frame, ev->ts_ns);
		break;
	case TLS_EV_CCS:
		if (dir == 0)
			c->client_ccs = 1;
		else
			flight(c, ev->frame, ev->ts_ns);
		break;
	case TLS_EV_ALERT:
		alert_text(buf, dir, ev->alert_level, ev->alert_desc);
		alerts_append(c, buf);
		if (c->verdict != V_NONE)
			break;
		if (dir == 0) {
			if (is_cert_alert(ev->alert_desc) || ev->alert_level == 2) {
				c->has_alert = 1;
				c->alert_level = ev->alert_level;
				c->alert_desc = ev->alert_desc;
				if (is_cert_alert(ev->alert_desc) && c->saw_sh)
					decide(c, V_CERT_ALERT, ev->frame, ev->ts_ns,
					       "client fatal certificate alert in the clear");
				else
					decide(c, V_OTHER_ALERT, ev->frame, ev->ts_ns, "client fatal alert in the clear");
			}
		} else if (ev->alert_level == 2) {
			c->has_alert = 1;
			c->alert_from_server = 1;
			c->alert_level = ev->alert_level;
			c->alert_desc = ev->alert_desc;
			decide(c, V_SERVER_ABORT, ev->frame, ev->ts_ns, "server fatal alert");
		}
		break;
	case TLS_EV_ENCRYPTED:
		encrypted(c, dir, ev);
		break;
	default:
		break;
	}
}

void verdict_finish(struct conn *c)
{
	if (c->verdict != V_NONE)
		return;
	if (c->phase == PH_SERVER_FLIGHT && c->pending_enc_alert) {
		add_frame(c, c->pending_frame);
		decide(c, V_ENCRYPTED_ABORT, c->pending_frame, c->pending_ts,
		       "short encrypted record (alert-sized, no Finished), nothing after it");
	} else if (c->c_app_records) {
		decide(c, V_HEALTHY, c->c_app_frame, c->c_app_ts,
		       "client sent application data; no answer before the capture ends");
	} else if (c->phase == PH_CLIENT_DONE && c->client_enc_alert_after_fin) {
		decide(c, V_CLOSE_NO_DATA, c->c_alert_frame, c->c_alert_ts, "handshake done, client encrypted alert, no data");
	} else if (!c->saw_sh && c->saw_ch && (c->c_rst || c->c_fin)) {
		decide(c, V_INCOMPLETE, c->c_rst ? c->c_rst_frame : c->c_fin_frame, 0,
		       "client closed before any ServerHello: no certificate was presented");
	} else {
		decide(c, V_INCOMPLETE, 0, 0, "the capture ends before the outcome is known");
	}
}
