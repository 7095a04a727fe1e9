/* pipeline.c: the engine; every stage in order (see pipeline.h). */
#include "pipeline.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "analysis/certdiag.h"
#include "conn_queue.h"
#include "analysis/dnsmap.h"
#include "analysis/edns.h"
#include "capture/decode.h"
#include "common/cur.h"
#include "common/pool.h"
#include "common/util.h"
#include "dissectors/dns.h"
#include "dissectors/tls.h"
#include "flows/flow.h"
#include "flows/ndpi_glue.h"

/* What a TCP flow carries, as far as we can tell. */
enum app_kind { APP_UNKNOWN = 0, APP_TLS, APP_DNS, APP_OTHER };

/* A plaintext stream is re-probed for a TLS upgrade (STARTTLS, STLS...) at
 * the start of each of its first chunks. */
#define STARTTLS_PROBE_CHUNKS 32

/* dns_attribute's answer for a decided connection, kept for its close: the
 * same while the tracker's generation is (an open TLS flow, a few bytes). */
struct attr_memo {
	uint64_t gen;
	int ok;
	uint8_t had_sni;
	struct dns_attr attr;
};

struct flow_app {
	enum app_kind kind;
	uint8_t probes[2];
	uint8_t reported;               /* the decided verdict was counted */
	struct conn *conn;              /* allocated once the flow is known to carry TLS */
	struct tls_state *tls;
	struct dns_tcp_dir *dns;        /* [2], for DNS over TCP */
	struct ndpi_flow_state ndpi;
	struct attr_memo *memo;         /* the DNS attribution at the decision */
	struct flow *flow;              /* back pointer while feeding */
	struct engine *e;
};

/* The queue's DNS records carry the oldest open flow's start as of every
 * HORIZON_EVERY packets (flow_oldest_start walks the open flows). */
#define HORIZON_EVERY 65536u

/* Freed connection objects kept for the next connections (pool.h): about
 * 2.2 KB each, 1024 of each kind at most. */
#define CONN_POOL_MAX 1024u

/* IPv6 addresses as text, remembered (view_build): an address is written
 * twice per connection, and a server's is the same time after time, while
 * writing one takes some 200 instructions (the longest run of zeros to
 * fold, each word without its leading zeros). Direct-mapped: a collision
 * only costs writing it again. */
#define V6_MEMO 64u
struct v6_text {
	uint8_t addr[16];
	uint8_t len;       /* 0: empty */
	char text[47];     /* INET6_ADDRSTRLEN: the longest, 45, and a terminator */
};

struct engine {
	struct engine_opts opts;
	struct conn_sink sink;
	struct decoder *dec;
	struct flow_table *flows;
	struct ndpi_ctx *ndpi;
	struct dns_tracker *dns;
	struct evidence *evid;
	struct edns edns;
	struct pi_caps caps;
	struct conn_queue *cq;          /* opts.async_sink: the sinks' thread */
	uint64_t horizon_snap;          /* packet thread: oldest open flow, refreshed */
	uint64_t ndpi_failures_seen;    /* nDPI's allocation failures already in caps */
	struct pi_pool app_pool, tls_pool, conn_pool; /* per-connection objects (pool.h) */
	int tearing_down;               /* engine_free: closing flows reports nothing */
	uint64_t dns_horizon;           /* the queue's thread: the snapshot of its record */
	struct engine_stats st;
	struct input_info *inputs;     /* grown on demand, up to PI_MAX_INPUTS */
	size_t ninputs, cap_inputs;
	int cur_input;
	uint64_t proxy_streams;
	/* progress */
	int show_progress;
	uint64_t progress_total;
	uint64_t last_progress_pkt;
	struct v6_text v6_memo[V6_MEMO];  /* the views' thread (view_build) */
};

/* ---- helpers ---------------------------------------------------------- */

/* "a.b.c.d:port" or "[v6]:port" at buf, which has room for ENDPOINT_MAX
 * bytes. Four per connection: the address written in place (put_v4 writes
 * up to 3 bytes past a text, put_v6 at most 46 in all), the port by two
 * digits at a time. */
#define ENDPOINT_MAX (1 + DECODE_ADDR_MAX + 1 + 1 + 5 + 1)

/* decode_addr_put for IPv6 through the engine's memo. */
static char *v6_put(struct engine *e, const uint8_t *addr, char *out)
{
	uint64_t w[2];
	struct v6_text *m;
	char *end;
	memcpy(w, addr, 16);
	m = &e->v6_memo[pi_fmix64(w[0] ^ w[1] * 0x9e3779b97f4a7c15ull) & (V6_MEMO - 1)];
	if (m->len && memcmp(m->addr, addr, 16) == 0) {
		memcpy(out, m->text, m->len + 1u);
		return out + m->len;
	}
	end = decode_addr_put(6, addr, out);
	if ((size_t)(end - out) < sizeof m->text) {
		memcpy(m->addr, addr, 16);
		m->len = (uint8_t)(end - out);
		memcpy(m->text, out, m->len + 1u);
	}
	return end;
}

static void endpoint_str(struct engine *e, int ipver, const uint8_t *addr, uint16_t port, char *buf)
{
	static const char d2[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
	                         "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
	                         "8081828384858687888990919293949596979899";
	char p[6], *o = buf, *q = p + sizeof p;
	unsigned v = port;
	if (ipver == 6) {
		*o++ = '[';
		o = v6_put(e, addr, o);
		*o++ = ']';
	} else {
		o = decode_addr_put(ipver, addr, o);
	}
	*o++ = ':';
	while (v >= 100) {
		q -= 2;
		memcpy(q, d2 + 2 * (v % 100), 2);
		v /= 100;
	}
	if (v >= 10) {
		q -= 2;
		memcpy(q, d2 + 2 * v, 2);
	} else {
		*--q = (char)('0' + v);
	}
	memcpy(o, q, (size_t)(p + sizeof p - q));
	o[p + sizeof p - q] = '\0';
}

/* The address of an endpoint_str text ("a.b.c.d:port", "[v6]:port") into
 * out (n >= 48): the same text decode_addr_str would write, taken from the
 * one written already (decode_addr_str when ep is not such a text). */
static void endpoint_addr(const char *ep, int ipver, const uint8_t *addr, char *out, size_t n)
{
	const char *from = ep && ipver == 6 ? ep + 1 : ep, *to = ep ? strrchr(ep, ':') : NULL;
	if (to && ipver == 6)
		to--; /* the ']' */
	if (!to || to <= from || (size_t)(to - from) >= n || (ipver == 6 && (ep[0] != '[' || *to != ']'))) {
		decode_addr_str(ipver, addr, out, n);
		return;
	}
	memcpy(out, from, (size_t)(to - from));
	out[to - from] = '\0';
}

/* Orient the connection record along the flow's current client. */
static void conn_orient(struct flow *f, struct conn *c)
{
	c->ipver = f->ipver;
	memcpy(c->caddr, f->addr[f->client], 16);
	memcpy(c->saddr, f->addr[1 - f->client], 16);
	c->cport = f->port[f->client];
	c->sport = f->port[1 - f->client];
}

/* ---- TLS events -------------------------------------------------------- */

struct conn_view;
static int report_decision_v(struct engine *e, struct flow *f, struct flow_app *a, struct conn_view *v,
                             unsigned also);
static void report_decision(struct engine *e, struct flow *f, struct flow_app *a);

/* What nDPI's answer for a TLS flow is shared by (ndpi_glue.c): its SNI;
 * without one, the server's address and port, which is what nDPI goes by
 * then (its address lists), as "\1" and hex (SNI text is printable, so the
 * two never meet). Without it every SNI-less connection ran nDPI. */
static const char *ndpi_key(const struct flow_app *a, char *buf, size_t len)
{
	static const char hx[] = "0123456789abcdef";
	const char *sni = a->tls ? a->tls->ch.sni : a->conn ? a->conn->sni : "";
	const struct conn *c = a->conn;
	size_t o = 0, alen;
	if (sni[0] || !c || len < 1 + 32 + 4 + 1)
		return sni;
	alen = c->ipver == 6 ? 16 : 4;
	buf[o++] = '\1';
	for (size_t i = 0; i < alen; i++) {
		buf[o++] = hx[c->saddr[i] >> 4];
		buf[o++] = hx[c->saddr[i] & 15];
	}
	for (int sh = 12; sh >= 0; sh -= 4)
		buf[o++] = hx[(c->sport >> sh) & 15];
	buf[o] = '\0';
	return buf;
}

static void on_tls_event(void *ctx, const struct tls_event *ev)
{
	struct flow_app *a = ctx;
	/* the dissector is fed oriented: TLS_DIR_C2S is the client's side */
	verdict_tls(a->conn, ev->dir == TLS_DIR_C2S ? 0 : 1, ev, a->tls);
	if (a->conn->verdict != V_NONE && !a->reported)
		report_decision(a->e, a->flow, a);
	if (ev->type == TLS_EV_CLIENT_HELLO && a->e->ndpi && !a->ndpi.done) {
		char kb[64];
		const char *key = ndpi_key(a, kb, sizeof kb);
		if (ndpi_cached(a->e->ndpi, key, &a->ndpi.res))
			a->ndpi.done = 1; /* seen this SNI before: nDPI would say the same */
		else if (!a->ndpi.flow)
			(void)ndpi_claim(a->e->ndpi, &a->ndpi, key);
	}
}

/* Without a SYN or SYN-ACK the client is not known for sure: the first TLS
 * record settles it (the ClientHello's sender is the client, the
 * ServerHello's receiver too), as Wireshark-derived truth does. */
static void settle_client(struct flow *f, struct flow_app *a, int ep, const uint8_t *p, size_t n)
{
	int client;
	if (f->client_sure || n < 6 || p[0] != TLS_CT_HANDSHAKE)
		return;
	if (p[5] == TLS_HS_CLIENT_HELLO)
		client = ep;
	else if (p[5] == TLS_HS_SERVER_HELLO)
		client = 1 - ep;
	else
		return;
	f->client_sure = 1;
	if (client != f->client) {
		f->client = client;
		if (a->conn)
			conn_orient(f, a->conn);
	}
}

/* ---- DNS over TCP ------------------------------------------------------ */

struct dns_tcp_ctx {
	struct engine *e;
	struct flow *f;
	int dir;
	uint64_t frame, ts_ns;
};

static void dns_msg(struct engine *e, int kind, int transport, int ipver, const uint8_t src[16], uint16_t sport,
                    const uint8_t dst[16], uint16_t dport, const uint8_t *msg, size_t len, uint64_t frame,
                    uint64_t ts_ns);

static void on_dns_tcp_msg(void *ctx, const uint8_t *msg, size_t len)
{
	struct dns_tcp_ctx *x = ctx;
	struct flow *f = x->f;
	dns_msg(x->e, DNS_KIND_DNS, 6, f->ipver, f->addr[x->dir], f->port[x->dir],
	        f->addr[1 - x->dir], f->port[1 - x->dir], msg, len, x->frame, x->ts_ns);
}

/* ---- flow hooks -------------------------------------------------------- */

static void hook_new(void *ctx, struct flow *f, const struct decoded *d)
{
	struct engine *e = ctx;
	struct flow_app *a = pi_pool_zget(&e->app_pool);
	(void)d;
	if (!a) {
		e->caps.alloc_failures++; /* the flow's data will not be analysed */
		return;
	}
	a->e = e;
	a->flow = f;
	f->app = a;
}

static void start_tls(struct engine *e, struct flow_app *a)
{
	struct flow *f = a->flow;
	a->tls = pi_pool_get(&e->tls_pool);    /* tls_init zeroes it */
	a->conn = pi_pool_get(&e->conn_pool);  /* verdict_init zeroes it */
	if (!a->tls || !a->conn) {
		pi_pool_put(&e->tls_pool, a->tls);
		pi_pool_put(&e->conn_pool, a->conn);
		a->tls = NULL;
		a->conn = NULL;
		a->kind = APP_OTHER;
		e->caps.alloc_failures++; /* a TLS connection not analysed */
		return;
	}
	verdict_init(a->conn);
	a->conn->input = (uint32_t)e->cur_input;
	a->conn->stream = f->stream;
	a->conn->first_frame = f->first_frame;
	a->conn->first_ts = f->first_ts;
	conn_orient(f, a->conn);
	tls_init(a->tls, on_tls_event, a, &e->caps);
	a->kind = APP_TLS;
}

/* Does a chunk of a plaintext stream start a TLS handshake (an upgrade)? */
static int starts_tls_handshake(const uint8_t *p, size_t n)
{
	return n >= 6 && p[0] == TLS_CT_HANDSHAKE && p[1] == 3 && p[2] <= 4 &&
	       (p[5] == TLS_HS_CLIENT_HELLO || p[5] == TLS_HS_SERVER_HELLO);
}

static void hook_data(void *ctx, struct flow *f, int dir, const uint8_t *data, size_t len,
                      uint64_t frame, uint64_t ts_ns)
{
	struct engine *e = ctx;
	struct flow_app *a = f->app;
	if (!a)
		return;
	a->flow = f;
	if (a->kind == APP_UNKNOWN) {
		int pr = tls_probe(data, len);
		if (pr == PI_OK) {
			settle_client(f, a, dir, data, len);
			start_tls(e, a);
		} else if (dns_probe_tcp_ports(f->port[0], f->port[1])) {
			a->dns = calloc(2, sizeof(*a->dns));
			a->kind = a->dns ? APP_DNS : APP_OTHER;
			if (!a->dns)
				e->caps.alloc_failures++;
		} else if (pr == PI_INVALID) {
			a->kind = APP_OTHER;
		} else {
			return; /* too few bytes to tell; the next chunk decides */
		}
	} else if (a->kind == APP_OTHER && a->probes[dir] < STARTTLS_PROBE_CHUNKS) {
		a->probes[dir]++;
		if (starts_tls_handshake(data, len)) {
			settle_client(f, a, dir, data, len);
			start_tls(e, a);
		}
	}
	if (a->kind == APP_TLS) {
		tls_feed(a->tls, dir == f->client ? TLS_DIR_C2S : TLS_DIR_S2C, data, len, frame, ts_ns);
	} else if (a->kind == APP_DNS) {
		struct dns_tcp_ctx x = { e, f, dir, frame, ts_ns };
		dns_tcp_feed(&a->dns[dir], data, len, on_dns_tcp_msg, &x);
	}
}

static void hook_gap(void *ctx, struct flow *f, int dir, uint32_t n)
{
	struct flow_app *a = f->app;
	(void)ctx;
	if (!a)
		return;
	if (a->kind == APP_TLS)
		tls_gap(a->tls, dir == f->client ? TLS_DIR_C2S : TLS_DIR_S2C, n);
	else if (a->kind == APP_DNS)
		dns_tcp_gap(&a->dns[dir]);
}

static void hook_packet(void *ctx, struct flow *f, int dir, const struct decoded *d,
                        const struct packet *pkt)
{
	struct engine *e = ctx;
	struct flow_app *a = f->app;
	if (!a)
		return;
	if (!a->conn)
		return; /* not (yet) TLS: nothing to decide */
	a->conn->last_ts = pkt->ts_ns;
	if (a->kind == APP_TLS && e->ndpi && !a->ndpi.done && d->l3 && d->l3len &&
	    ndpi_feed(e->ndpi, &a->ndpi, d->l3, d->l3len, pkt->ts_ns) && a->tls) {
		char kb[64];
		ndpi_remember(e->ndpi, &a->ndpi, ndpi_key(a, kb, sizeof kb));
	}
	verdict_tcp(a->conn, dir == f->client ? 0 : 1, d->tcp_flags, d->paylen, pkt->frame, pkt->ts_ns);
	if (a->conn->verdict != V_NONE && !a->reported)
		report_decision(e, f, a);
}

/* "a > b > c" into buf (len > 0), cut at len - 1 bytes as snprintf would
 * cut it; once per connection, so without printf. */
static void join_chain(const char *const *chain, int n, char *buf, size_t len)
{
	size_t o = 0;
	for (int i = 0; i < n && o + 4 < len; i++) {
		const char *parts[2] = { i ? " > " : "", chain[i] };
		for (int k = 0; k < 2 && o < len - 1; k++) {
			size_t w = strlen(parts[k]);
			if (w > len - 1 - o)
				w = len - 1 - o;
			memcpy(buf + o, parts[k], w);
			o += w;
		}
	}
	buf[o] = '\0';
}

/* How the outputs see a connection: endpoints as text, the name the client
 * asked for (SNI, or DNS through the CNAME chain), the nDPI application. */
struct conn_view {
	char client[ENDPOINT_MAX], server[ENDPOINT_MAX], chain_text[512], addr[48];
	struct dns_attr attr;
	struct conn_out o;
	const char *key;  /* evidence key: the name, else the server address */
	int source_rank;  /* 2 sni, 1 dns, 0 none */
};

/* keep: the flow goes on (remember the DNS attribution for its close). */
/* The view of connection c (oriented, its stream set): the DNS attribution
 * through *memo when given (kept when keep), the texts. app/category: nDPI's. */
static void view_build(struct engine *e, struct conn *c, const char *app, const char *category,
                       const char *input_path, struct attr_memo **memo, int keep, struct conn_view *v)
{
	int ok;
	const char *name = c->sni;
	const char *src = c->sni[0] ? "sni" : "none";

	memset(v, 0, sizeof(*v));
	endpoint_str(e, c->ipver, c->caddr, c->cport, v->client);
	endpoint_str(e, c->ipver, c->saddr, c->sport, v->server);
	if (memo && *memo && (*memo)->gen == dns_generation(e->dns) && (*memo)->had_sni == (c->sni[0] != 0)) {
		ok = (*memo)->ok;
		v->attr = (*memo)->attr;
	} else {
		ok = dns_attribute(e->dns, c->ipver, c->caddr, c->saddr, c->first_ts, c->sni[0] ? c->sni : NULL,
		                   &v->attr);
		if (memo && keep && (*memo || (*memo = malloc(sizeof(**memo))) != NULL)) {
			(*memo)->gen = dns_generation(e->dns);
			(*memo)->ok = ok;
			(*memo)->had_sni = c->sni[0] != 0;
			(*memo)->attr = v->attr;
		}
	}
	if (ok) {
		v->o.chain = v->attr.chain;
		v->o.nchain = v->attr.nchain;
		/* no SNI: the address came from a DNS answer; an SNI that is a CDN
		 * name inside a chain: the app asked for the chain's head */
		if (!c->sni[0] || strcmp(v->attr.name, c->sni) != 0) {
			name = v->attr.name;
			src = "dns";
		}
	}
	v->o.c = c;
	v->o.client = v->client;
	v->o.server = v->server;
	v->o.name = name;
	v->o.name_source = src;
	v->o.app = app;
	v->o.category = category;
	v->o.input_path = input_path;
	/* a chain of one name (the answer came straight) adds nothing to show */
	join_chain(v->o.chain, v->o.nchain > 1 ? v->o.nchain : 0, v->chain_text, sizeof(v->chain_text));
	v->key = name;
	v->source_rank = *name ? (strcmp(src, "sni") == 0 ? 2 : 1) : 0;
	if (!*v->key) {
		decode_addr_str(c->ipver, c->saddr, v->addr, sizeof(v->addr));
		v->key = v->addr;
	}
}

/* keep: the flow goes on (remember the DNS attribution for its close). */
static void conn_view_fill(struct engine *e, struct flow *f, struct flow_app *a, struct conn_view *v, int keep)
{
	conn_orient(f, a->conn);
	a->conn->stream = f->stream;
	view_build(e, a->conn, a->ndpi.res.app, a->ndpi.res.category, e->ninputs ? e->inputs[e->ninputs - 1].path : "",
	           &a->memo, keep, v);
}

/* The verdict is known (it never changes once decided): count it, add it
 * to the evidence, tell the sink, at once rather than when the flow ends. */
static void report_decision(struct engine *e, struct flow *f, struct flow_app *a)
{
	struct conn_view v;
	(void)report_decision_v(e, f, a, &v, 0);
}

/* What the sinks get for an event: the evidence and the certificate
 * diagnosis once decided, the output once closed. Runs inline, or on the
 * queue's thread (analyze): it reads only the record it is given. */
static void deliver(struct engine *e, const struct conn_out *o, const char *key, int source_rank,
                    const char *chain_text, const struct tls_certs *certs, unsigned what)
{
	const struct conn *c = o->c;
	if (what & CR_DECIDED) {
		evidence_add(e->evid, c, key, source_rank, o->client, o->server, o->app, chain_text);
		if (e->opts.certdiag) {
			/* the chain (TLS <= 1.2) and who accepted or rejected it */
			char ca[48];
			struct certdiag_conn cc;
			endpoint_addr(o->client, c->ipver, c->caddr, ca, sizeof ca);
			memset(&cc, 0, sizeof(cc));
			cc.name = key;
			cc.sni = c->sni;
			cc.client = ca;
			cc.ja3 = c->ja3;
			cc.rejected = verdict_is_rejection(c->verdict);
			cc.healthy = c->verdict == V_HEALTHY;
			cc.ts = (int64_t)(c->first_ts / 1000000000ull);
			certdiag_observe_tls(e->opts.certdiag, &cc, certs);
		}
		if (e->sink.on_verdict)
			e->sink.on_verdict(e->sink.ctx, o);
	}
	if ((what & CR_CLOSED) && e->sink.on_conn)
		e->sink.on_conn(e->sink.ctx, o);
}

static void rec_deliver(void *ctx, struct conn_rec *r)
{
	struct engine *e = ctx;
	struct conn_view v;
	if (r->what & CR_DNS) {
		e->dns_horizon = r->horizon; /* what the packet thread knew then */
		dns_track_msg(e->dns, r->dns_kind, r->transport, r->c.ipver, r->src, r->sport, r->dst, r->dport,
		              r->msg, r->msg_len, r->frame, r->ts_ns);
		return;
	}
	/* the DNS state is the packet thread's at the push: the records before
	 * this one made it */
	view_build(e, &r->c, r->app, r->category, r->input_path, NULL, 0, &v);
	deliver(e, &v.o, v.key, v.source_rank, v.chain_text, r->has_certs ? &r->certs : NULL,
	        r->what & (CR_DECIDED | CR_CLOSED));
}

/* The queue's DNS: the packet thread's oldest open flow, as of the last
 * refresh (older than the truth: answers expire later, never sooner). */
static uint64_t rec_horizon(void *ctx)
{
	struct engine *e = ctx;
	return e->dns_horizon;
}

/* A DNS message: to the tracker, or as a record to the queue's thread. */
static void dns_msg(struct engine *e, int kind, int transport, int ipver, const uint8_t src[16], uint16_t sport,
                    const uint8_t dst[16], uint16_t dport, const uint8_t *msg, size_t len, uint64_t frame,
                    uint64_t ts_ns)
{
	struct conn_rec *r;
	if (!e->cq) {
		dns_track_msg(e->dns, kind, transport, ipver, src, sport, dst, dport, msg, len, frame, ts_ns);
		return;
	}
	r = cq_slot(e->cq);
	if (cq_copy_msg(r, msg, len) != 0) {
		e->caps.alloc_failures++; /* a DNS message lost */
		return;
	}
	r->what = CR_DNS;
	r->dns_kind = kind;
	r->transport = transport;
	r->c.ipver = (uint8_t)ipver;
	memcpy(r->src, src, 16);
	memcpy(r->dst, dst, 16);
	r->sport = sport;
	r->dport = dport;
	r->frame = frame;
	r->ts_ns = ts_ns;
	r->horizon = e->horizon_snap;
	cq_push(e->cq);
}

/* Hand the event on: inline with the view made, or as a self-contained
 * record (the connection, nDPI's answer, the chain) whose view the queue's
 * thread makes. */
static void hand_on(struct engine *e, struct flow_app *a, const struct conn_view *v, unsigned what)
{
	const struct tls_certs *certs = a->tls && a->tls->saw_cert ? &a->tls->certs : NULL;
	struct conn_rec *r;
	if (!e->cq) {
		deliver(e, &v->o, v->key, v->source_rank, v->chain_text, certs, what);
		return;
	}
	r = cq_slot(e->cq);
	r->what = what;
	r->c = *a->conn;
	/* whole arrays, each terminated: shorter than a copy that looks for the end */
	_Static_assert(sizeof(r->app) == sizeof(a->ndpi.res.app) &&
	               sizeof(r->category) == sizeof(a->ndpi.res.category), "record and result differ");
	memcpy(r->app, a->ndpi.res.app, sizeof(r->app));
	r->app[sizeof(r->app) - 1] = '\0';
	memcpy(r->category, a->ndpi.res.category, sizeof(r->category));
	r->category[sizeof(r->category) - 1] = '\0';
	r->input_path = e->ninputs ? e->inputs[e->ninputs - 1].path : "";
	/* the chain goes with the decision: nothing needs it here after that */
	if ((what & CR_DECIDED) && e->opts.certdiag && certs)
		cq_take_certs(r, &a->tls->certs);
	cq_push(e->cq);
}

/* report_decision with the caller's view: 1 when it was filled (the
 * decision was reported now, with `also` events: CR_CLOSED), 0 when there
 * was nothing to report. */
static int report_decision_v(struct engine *e, struct flow *f, struct flow_app *a, struct conn_view *v,
                             unsigned also)
{
	if (a->reported || a->kind != APP_TLS || !a->conn || !a->conn->tls_records || a->conn->verdict == V_NONE)
		return 0;
	a->reported = 1;
	if (e->cq) { /* the queue's thread makes the view */
		conn_orient(f, a->conn);
		a->conn->stream = f->stream;
	} else {
		conn_view_fill(e, f, a, v, !(also & CR_CLOSED));
	}
	if (a->conn->sport == 853)
		edns_add(&e->edns, EDNS_DOT, a->conn->ipver, a->conn->saddr, a->conn->sport, a->conn->sni,
		         a->conn->first_frame, e->cur_input);
	else if (edns_is_doh_name(a->conn->sni))
		edns_add(&e->edns, EDNS_DOH, a->conn->ipver, a->conn->saddr, a->conn->sport, a->conn->sni,
		         a->conn->first_frame, e->cur_input);
	e->st.tls_conns++;
	e->st.verdicts[a->conn->verdict]++;
	hand_on(e, a, v, CR_DECIDED | also);
	return 1;
}

static void hook_close(void *ctx, struct flow *f)
{
	struct engine *e = ctx;
	struct flow_app *a = f->app;
	if (!a)
		return;
	a->flow = f;
	if (a->kind == APP_TLS && a->conn && a->conn->tls_records && !e->tearing_down) {
		struct conn_view v;
		if (e->ndpi) {
			char kb[64];
			ndpi_flow_done(e->ndpi, &a->ndpi, ndpi_key(a, kb, sizeof kb));
		}
		verdict_finish(a->conn);
		/* decided only now: one event, with the view just made */
		if (!report_decision_v(e, f, a, &v, CR_CLOSED)) {
			if (e->cq) {
				conn_orient(f, a->conn);
				a->conn->stream = f->stream;
			} else {
				conn_view_fill(e, f, a, &v, 0);
			}
			hand_on(e, a, &v, CR_CLOSED);
		}
	} else if (a->ndpi.flow && e->ndpi) {
		ndpi_flow_done(e->ndpi, &a->ndpi, NULL);
	}
	if (a->tls) {
		tls_free(a->tls);
		pi_pool_put(&e->tls_pool, a->tls);
	}
	if (a->dns) {
		dns_tcp_dir_free(&a->dns[0]);
		dns_tcp_dir_free(&a->dns[1]);
		free(a->dns);
	}
	pi_pool_put(&e->conn_pool, a->conn);
	free(a->memo);
	pi_pool_put(&e->app_pool, a);
	f->app = NULL;
}

static void prefetch_lines(const void *p, size_t n)
{
	for (size_t o = 0; o < n; o += 64)
		__builtin_prefetch((const char *)p + o);
}

/* A flow about to expire (flow.h on_soon): its app state first, then the
 * lines hook_close reads: all of the connection (copied into the record),
 * the TLS state's buffer pointers (tls_free) and its certificates. */
static void hook_soon(void *ctx, struct flow *f, int stage)
{
	struct flow_app *a = f->app;
	(void)ctx;
	if (!a)
		return;
	if (stage == 1) {
		prefetch_lines(a, sizeof(*a));
		return;
	}
	if (a->conn)
		prefetch_lines(a->conn, sizeof(*a->conn));
	if (a->tls) {
		__builtin_prefetch(&a->tls->d[0]);
		__builtin_prefetch(&a->tls->d[1]);
		__builtin_prefetch(&a->tls->certs);
		__builtin_prefetch(&a->tls->saw_cert);
	}
}

/* ---- engine ------------------------------------------------------------ */

/* No open connection started before this: the DNS address map may forget
 * answers expired by then (dns_set_horizon). */
static uint64_t engine_horizon(void *ctx)
{
	struct engine *e = ctx;
	return flow_oldest_start(e->flows);
}

struct engine *engine_new(const struct engine_opts *o, const struct conn_sink *sink)
{
	struct engine *e = calloc(1, sizeof(*e));
	struct flow_hooks hooks = { hook_new, hook_packet, hook_data, hook_gap, hook_close, hook_soon };
	if (!e)
		return NULL;
	pi_pool_init(&e->app_pool, sizeof(struct flow_app), CONN_POOL_MAX);
	pi_pool_init(&e->tls_pool, sizeof(struct tls_state), CONN_POOL_MAX);
	pi_pool_init(&e->conn_pool, sizeof(struct conn), CONN_POOL_MAX);
	if (o)
		e->opts = *o;
	if (sink)
		e->sink = *sink;
	e->dec = decoder_new(&e->caps);
	e->flows = flow_table_new(&hooks, e, &e->caps);
	e->dns = dns_tracker_new(&e->caps);
	e->evid = evidence_new();
	e->cap_inputs = 4;
	e->inputs = calloc(e->cap_inputs, sizeof(*e->inputs));
	if (!e->opts.no_ndpi)
		e->ndpi = ndpi_ctx_new();
	if (!e->dec || !e->flows || !e->dns || !e->evid || !e->inputs) {
		engine_free(e);
		return NULL;
	}
	if (e->opts.dns_query_log)
		dns_set_query_log(e->dns, 1);
	dns_set_horizon(e->dns, engine_horizon, e);
	if (e->opts.async_sink && (e->cq = cq_new(rec_deliver, e)) != NULL)
		dns_set_horizon(e->dns, rec_horizon, e); /* the tracker is the queue's now */
	e->cur_input = -1;
	return e;
}

void engine_free(struct engine *e)
{
	if (!e)
		return;
	cq_free(e->cq);
	e->cq = NULL;
	/* flows still open (an input cut short, an error path) are closed
	 * without a word: the queue and the outputs are gone by now */
	e->tearing_down = 1;
	if (e->flows)
		flow_table_free(e->flows); /* closes the open flows: into the pools */
	pi_pool_drain(&e->app_pool);
	pi_pool_drain(&e->tls_pool);
	pi_pool_drain(&e->conn_pool);
	pi_buf_drain(); /* this thread's: the TLS buffers and chains kept */
	decoder_free(e->dec);
	dns_tracker_free(e->dns);
	evidence_free(e->evid);
	ndpi_ctx_free(e->ndpi);
	free(e->inputs);
	free(e);
}

void engine_begin_input(struct engine *e, const char *label, const char *format)
{
	struct input_info *in;
	cq_drain(e->cq); /* records point at input paths: the array may move */
	if (e->ninputs == e->cap_inputs && e->cap_inputs < PI_MAX_INPUTS) {
		size_t nc = e->cap_inputs * 2 < PI_MAX_INPUTS ? e->cap_inputs * 2 : PI_MAX_INPUTS;
		struct input_info *n = realloc(e->inputs, nc * sizeof(*n));
		if (n) {
			e->inputs = n;
			e->cap_inputs = nc;
		} else {
			e->caps.alloc_failures++; /* merged into the last slot below */
		}
	}
	if (e->ninputs >= e->cap_inputs) {
		/* reuse the last slot: the summary of later inputs is merged */
		in = &e->inputs[e->ninputs - 1];
	} else {
		in = &e->inputs[e->ninputs++];
		memset(in, 0, sizeof(*in));
	}
	pi_strlcpy(in->path, label, sizeof(in->path));
	in->format = format;
	e->cur_input = (int)(e->ninputs - 1);
	decoder_reset(e->dec);
	dns_next_input(e->dns, e->cur_input);
}

void engine_packet(struct engine *e, const struct packet *pkt)
{
	struct input_info *in = &e->inputs[e->cur_input < 0 ? 0 : e->cur_input];
	struct decoded d;
	int rc;

	e->st.packets++;
	e->st.bytes += pkt->wirelen;
	if (e->cq && (e->st.packets & (HORIZON_EVERY - 1)) == 0)
		e->horizon_snap = flow_oldest_start(e->flows); /* for the queue's DNS records */
	in->packets++;
	in->bytes += pkt->wirelen;
	if (!in->first_ts || pkt->ts_ns < in->first_ts)
		in->first_ts = pkt->ts_ns;
	if (pkt->ts_ns > in->last_ts)
		in->last_ts = pkt->ts_ns;
	if (pkt->caplen < pkt->wirelen)
		e->caps.packets_truncated++;

	rc = decode_packet(e->dec, pkt, &d);
	if (rc != DEC_OK) {
		if (rc != DEC_SKIP) {
			e->caps.packets_undecoded++;
			in->undecoded++;
		}
		e->st.other_packets++;
		return;
	}
	if (d.proto == 6) {
		e->st.tcp_packets++;
		flow_input_tcp(e->flows, &d, pkt);
	} else {
		e->st.udp_packets++;
		int kind = dns_probe_udp(d.payload, d.paylen, d.sport, d.dport);
		if (d.dport == 853)
			edns_add(&e->edns, EDNS_DOQ, d.ipver, d.dst, d.dport, NULL, pkt->frame, e->cur_input);
		if (kind != DNS_KIND_NONE)
			dns_msg(e, kind, 17, d.ipver, d.src, d.sport, d.dst, d.dport, d.payload,
			        d.paylen, pkt->frame, pkt->ts_ns);
	}
}

void engine_end_input(struct engine *e)
{
	flow_flush(e->flows);
	cq_drain(e->cq); /* the input's connections are all out */
	size_t peak = flow_peak(e->flows);
	if (peak > e->st.flows_peak)
		e->st.flows_peak = peak;
}

void engine_finish(struct engine *e)
{
	cq_drain(e->cq); /* the tracker is idle: its last messages are in */
	dns_finish(e->dns);
	{
		/* nDPI's failures into limits (the new ones: finish may come twice) */
		uint64_t nf = ndpi_alloc_failures(e->ndpi);
		e->caps.alloc_failures += nf - e->ndpi_failures_seen;
		e->ndpi_failures_seen = nf;
	}
}

static void progress(struct engine *e, struct cap_reader *r, int done)
{
	uint64_t size = cap_file_size(r), at = cap_raw_offset(r);
	if (!e->show_progress || !size)
		return;
	if (done) {
		fputs("\r\033[K", stderr);
		return;
	}
	fprintf(stderr, "\r%s: %3u%%  %llu packets", e->inputs[e->cur_input].path,
	        (unsigned)(at * 100 / size), (unsigned long long)e->inputs[e->cur_input].packets);
}

int engine_run_reader(struct engine *e, const char *label, struct cap_reader *r)
{
	struct packet pkt;
	int rc, status = 0;
	engine_begin_input(e, label, cap_format(r) == CAP_PCAPNG ? "pcapng" : "pcap");
	e->inputs[e->cur_input].gzipped = cap_gzipped(r);
	e->show_progress = e->opts.progress && isatty(2) && cap_file_size(r) > (64u << 20);
	while ((rc = cap_next(r, &pkt)) == CAP_PACKET) {
		engine_packet(e, &pkt);
		if (e->show_progress && (pkt.frame & 0xffff) == 0)
			progress(e, r, 0);
	}
	progress(e, r, 1);
	if (rc == CAP_ERROR) {
		pi_strlcpy(e->inputs[e->cur_input].error, cap_error(r), sizeof(e->inputs[0].error));
		e->inputs[e->cur_input].status = 1;
		pi_warn("%s (analysed the %llu packet%s before it)", cap_error(r),
		        (unsigned long long)e->inputs[e->cur_input].packets,
		        e->inputs[e->cur_input].packets == 1 ? "" : "s");
		status = 1;
	}
	engine_end_input(e);
	return status;
}

int engine_run_file(struct engine *e, const char *path)
{
	char err[512];
	struct cap_reader *r = cap_open(path, err, sizeof(err));
	int status;
	if (!r) {
		engine_begin_input(e, path, "");
		pi_strlcpy(e->inputs[e->cur_input].error, err, sizeof(e->inputs[0].error));
		e->inputs[e->cur_input].status = 2;
		return 2;
	}
	status = engine_run_reader(e, path, r);
	cap_close(r);
	return status;
}

/* ---- connections fed by the proxy ------------------------------------- */

struct engine_conn {
	struct flow f;
	uint64_t frame;
};

struct engine_conn *engine_conn_open(struct engine *e, int ipver, const uint8_t caddr[16], uint16_t cport,
                                     const uint8_t saddr[16], uint16_t sport, uint64_t ts_ns)
{
	struct engine_conn *c = calloc(1, sizeof(*c));
	struct decoded d;
	if (!c)
		return NULL;
	memset(&d, 0, sizeof(d));
	c->f.ipver = (uint8_t)ipver;
	memcpy(c->f.addr[0], caddr, 16);
	memcpy(c->f.addr[1], saddr, 16);
	c->f.port[0] = cport;
	c->f.port[1] = sport;
	c->f.client = 0;
	c->f.client_sure = 1;
	c->f.stream = e->proxy_streams++;
	c->f.first_frame = c->frame = 1;
	c->f.first_ts = c->f.last_ts = ts_ns;
	if (e->cur_input < 0)
		engine_begin_input(e, "proxy", "proxy");
	hook_new(e, &c->f, &d);
	if (!c->f.app) {
		free(c);
		return NULL;
	}
	return c;
}

void engine_conn_data(struct engine *e, struct engine_conn *c, int from_client, const uint8_t *data,
                      size_t len, uint64_t ts_ns)
{
	struct decoded d;
	struct packet pkt;
	int ep = from_client ? 0 : 1;
	if (!c || !len)
		return;
	memset(&d, 0, sizeof(d));
	memset(&pkt, 0, sizeof(pkt));
	c->frame++;
	c->f.last_frame = c->frame;
	c->f.last_ts = ts_ns;
	pkt.frame = c->frame;
	pkt.ts_ns = ts_ns;
	d.paylen = (uint32_t)(len > UINT32_MAX ? UINT32_MAX : len);
	d.tcp_flags = TH_ACK | TH_PSH;
	hook_data(e, &c->f, ep, data, len, c->frame, ts_ns);
	hook_packet(e, &c->f, ep, &d, &pkt);
}

void engine_conn_close_side(struct engine *e, struct engine_conn *c, int from_client, int rst, uint64_t ts_ns)
{
	struct decoded d;
	struct packet pkt;
	if (!c)
		return;
	memset(&d, 0, sizeof(d));
	memset(&pkt, 0, sizeof(pkt));
	c->frame++;
	pkt.frame = c->frame;
	pkt.ts_ns = ts_ns;
	d.tcp_flags = rst ? (TH_RST | TH_ACK) : (TH_FIN | TH_ACK);
	hook_packet(e, &c->f, from_client ? 0 : 1, &d, &pkt);
}

void engine_conn_end(struct engine *e, struct engine_conn *c)
{
	if (!c)
		return;
	hook_close(e, &c->f);
	free(c);
}

const struct conn *engine_conn_state(const struct engine_conn *c)
{
	const struct flow_app *a = c ? c->f.app : NULL;
	return a ? a->conn : NULL;
}

size_t engine_open_flows(const struct engine *e)
{
	return flow_count(e->flows);
}

void engine_tick(struct engine *e, uint64_t now_ns)
{
	flow_expire(e->flows, now_ns);
}

size_t engine_inputs(const struct engine *e, const struct input_info **out)
{
	*out = e->inputs;
	return e->ninputs;
}

const struct engine_stats *engine_stats(const struct engine *e)
{
	return &e->st;
}

const struct pi_caps *engine_caps(const struct engine *e)
{
	return &e->caps;
}

struct evidence *engine_evidence(struct engine *e)
{
	return e->evid;
}

struct dns_tracker *engine_dns(struct engine *e)
{
	return e->dns;
}

const struct edns *engine_edns(const struct engine *e)
{
	return &e->edns;
}
