/* proxy.c: the proxy's event loop and per-connection state machine
 * (design, bounds and transparent mode in proxy.h).
 *
 * States of a connection:
 *
 *   S_HTTP    reading the CONNECT head (explicit mode)      hello timeout
 *   S_HELLO   reading the ClientHello                        hello timeout
 *   S_RESOLVE waiting for the resolver                       setup timeout
 *   S_CONNECT TCP connect to the server                      setup timeout
 *   S_UP_TLS  intercept: TLS to the server, client paused    setup timeout
 *             in OpenSSL's ClientHello callback
 *   S_CL_TLS  intercept: TLS to the client, forged leaf      setup timeout
 *   S_RELAY   relaying, spliced or intercepted               idle timeout
 *   S_DRAIN   the client leg failed: wait for the client     drain timeout
 *             to close, so the engine sees how it ended
 *
 * Ownership: a connection owns its sockets, SSL objects, BIO pair, buffers
 * and engine connection; finish() releases them all and moves the
 * connection to a list freed after the current batch of epoll events (a
 * later event in the batch may still point at it).
 *
 * The engine sees the client leg only, in the order the proxy saw it:
 * bytes from the client when they are read, bytes to the client when they
 * are sent, the client's FIN or RST when recv() says so, and the proxy's
 * own FIN or RST to the client when it sends them. Two rules keep that
 * order the client's: a reset is taken from recv() (which returns the
 * bytes before it, e.g. the client's alert), never from SO_ERROR; and
 * after a client's close_notify or failed handshake the proxy sends
 * nothing until the client's FIN (or PX_CLOSE_HOLD_MS / the drain timeout).
 *
 * Threads: px_opts.workers event loops (struct worker), each owning its
 * connections; the engine, the forge and the upstream session cache are
 * shared under their locks (struct proxy).
 */
#include "proxy/proxy.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "dissectors/tls.h"
#include "proxy/hello.h"
#include "proxy/http.h"
#include "proxy/resolve.h"
#include "proxy/rules.h"

#ifndef SO_ORIGINAL_DST
#define SO_ORIGINAL_DST 80 /* linux/netfilter_ipv4.h */
#endif
#ifndef IP6T_SO_ORIGINAL_DST
#define IP6T_SO_ORIGINAL_DST 80 /* linux/netfilter_ipv6/ip6_tables.h */
#endif

#define PX_PUMP_ROUNDS 16   /* pump passes per event before yielding to others */
#define PX_MAX_EVENTS 256
#define PX_TICK_MS 100
#define PX_RESOLVER_THREADS 2 /* per worker */
#define PX_SESS_MAX 1024u     /* upstream TLS sessions kept for resumption */
#define PX_SESS_BUCKETS 2048u /* power of two */
#define PX_VC_MAX 256u        /* verified upstream chains remembered */
#define PX_VC_BUCKETS 512u    /* power of two */
#define PX_VC_TTL 300         /* s: a chain is verified again after this */
#define PX_VC_KEY_MAX (16u * 1024u) /* longer chains are verified every time */
#define NS_PER_MS 1000000ull
#define NS_PER_S 1000000000ull

const char *px_mode_name(enum px_mode m)
{
	switch (m) {
	case PX_SPLICE:
		return "splice";
	case PX_INTERCEPT:
		return "intercept";
	default:
		return "undecided";
	}
}

void px_opts_init(struct px_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->listen = PX_DEFAULT_LISTEN;
	o->max_conns = PX_DEFAULT_MAX_CONNS;
	o->hello_timeout = PX_DEFAULT_HELLO_TIMEOUT;
	o->setup_timeout = PX_DEFAULT_SETUP_TIMEOUT;
	o->idle_timeout = PX_DEFAULT_IDLE_TIMEOUT;
	o->leaf_key = FORGE_KEY_AUTO;
}

/* ---- bounded byte buffers ---------------------------------------------- */

struct xbuf {
	uint8_t *b;
	uint32_t off, len, cap;
};

/* Room to append, growing up to max; the pointer to write at. */
static uint8_t *xb_room(struct xbuf *x, uint32_t max, size_t *room)
{
	if (x->off && x->off + x->len == x->cap) {
		memmove(x->b, x->b + x->off, x->len);
		x->off = 0;
	}
	if (x->off + x->len == x->cap && x->cap < max) {
		uint32_t nc = x->cap ? x->cap * 2 : 4096;
		uint8_t *nb;
		if (nc > max)
			nc = max;
		nb = realloc(x->b, nc);
		if (nb) {
			x->b = nb;
			x->cap = nc;
		}
	}
	*room = x->cap - x->off - x->len;
	return x->b ? x->b + x->off + x->len : NULL;
}

static void xb_consume(struct xbuf *x, size_t n)
{
	x->off += (uint32_t)n;
	x->len -= (uint32_t)n;
	if (!x->len)
		x->off = 0;
}

static void xb_free(struct xbuf *x)
{
	free(x->b);
	memset(x, 0, sizeof(*x));
}

/* ---- connections --------------------------------------------------------- */

enum pstate { S_HTTP, S_HELLO, S_RESOLVE, S_CONNECT, S_UP_TLS, S_CL_TLS, S_RELAY, S_DRAIN };

enum ep_kind { EP_LISTEN = 1, EP_SIGNAL, EP_RESOLVER, EP_CLIENT, EP_UPSTREAM };

struct ep_ref {
	enum ep_kind kind;
	struct pconn *c;
};

enum hello_cb_state { HCB_NONE = 0, HCB_PAUSED, HCB_GO, HCB_FAIL };

struct pconn {
	struct proxy *p;
	struct worker *w;          /* the worker (thread) that owns it */
	struct pconn *prev, *next; /* all open connections */
	struct pconn *qnext;       /* run queue */
	uint64_t id;
	enum pstate st;
	enum px_mode mode;
	int cfd, ufd;
	struct ep_ref cref, uref;
	uint32_t cev, uev;
	uint8_t creg, ureg, cpark, upark, queued, dead;
	uint8_t c_rd, u_rd;        /* epoll said readable, and recv() has not said EAGAIN since */
	uint64_t deadline;         /* monotonic ns */
	uint64_t hold_until;       /* monotonic ns: no sending to the client before */
	struct sockaddr_storage caddr, saddr;
	char host[256];            /* CONNECT host or original destination address */
	uint16_t port;
	uint8_t host_is_ip;
	char sni[256], name[256], target[280];
	struct xbuf in;            /* from the client, not yet passed on (spliced: to the server) */
	struct xbuf out;           /* spliced: from the server to the client */
	struct xbuf p2u, p2c;      /* intercepted plaintext */
	struct px_hello *hello;    /* the ClientHello peek, until decided */
	uint8_t hello_ok, not_tls;
	struct resolve_req *rq;
	struct resolve_result addrs;
	int addr_i;
	struct engine_conn *ec;
	SSL *cs, *us;              /* client leg (server role), server leg (client role) */
	BIO *cnet;                 /* our end of the client leg's BIO pair */
	enum hello_cb_state hcb;
	uint8_t alpn[256];         /* the client's ALPN list, wire format (without the length) */
	uint16_t alpn_len;
	uint8_t alpn_sel[256];     /* what the server chose */
	uint8_t alpn_sel_len;
	/* closing */
	uint8_t c_eof, c_rst, c_shut;        /* client: FIN in, RST, our FIN out */
	uint8_t u_eof, u_rst, u_shut;        /* server: the same */
	uint8_t cnet_eof;                    /* EOF passed into the BIO pair */
	uint8_t cs_eof, cs_failed, cs_shut;  /* client TLS: close_notify/EOF in, error, close_notify out */
	uint8_t us_eof, us_failed, us_shut;
	uint8_t u_want;                      /* EPOLLIN / EPOLLOUT the server-leg SSL waits for */
	uint8_t c_close_reported, s_close_reported;
	uint8_t drain_shut;                  /* in S_DRAIN: send our FIN once flushed */
	char note[256];
	uint64_t c2s, s2c;
};

/* An upstream TLS session, for resumption: keyed by the name the proxy
 * verified the server as and the target, so a session is only ever
 * resumed with the server and name it was verified for. */
struct sess_entry {
	struct sess_entry *next;
	uint64_t used;
	SSL_SESSION *s; /* owned: one reference */
	char key[540];
};

/* A server certificate chain that verified for a name: the same chain
 * (byte for byte) for the same name verifies again, until the first
 * notAfter in the verified chain or PX_VC_TTL. The key is the name and the
 * DER of every certificate the server sent, compared in full (no digest
 * stands in for the bytes). */
struct vc_entry {
	struct vc_entry *next;
	uint64_t used;
	time_t checked;   /* when it verified */
	time_t not_after; /* the earliest notAfter of the verified chain, trust anchor included */
	size_t klen;
	unsigned char key[]; /* klen bytes */
};

/* A worker: one thread, one epoll loop, its own listening socket
 * (SO_REUSEPORT: the kernel spreads connections), its own connections and
 * resolver. Connections never move between workers. */
struct worker {
	struct proxy *p;
	int idx;
	int epfd, lfd;
	struct ep_ref lref, rref;
	uint32_t lev;
	uint8_t lreg;
	struct pconn *conns, *dead, *runq;
	struct resolver *res;
	uint64_t listen_paused_until;
	struct px_stats st;        /* this worker's counters (proxy_stats sums them) */
	pthread_t th;
	uint8_t started;
};

/* Shared between workers, each under its lock:
 *   emu  the engine, its sink (so the hooks), p->cur
 *   fmu  the forge and its cache
 *   smu  the upstream session cache
 *   vmu  the verified upstream chains
 * No lock is held while taking another, so no order can deadlock.
 * Counters shared by all (next_id, open_total, peak, stop) are atomics. */
struct proxy {
	struct px_opts o;
	struct px_hooks h;
	struct engine *e;
	struct forge *forge;
	SSL_CTX *sctx, *uctx;
	struct rules *resolve_map; /* --resolve names, index -> o.resolve[] */
	int sfd;
	struct ep_ref sref;
	char listen_str[80];
	struct sockaddr_storage laddr; /* the bound listen address */
	pthread_mutex_t emu, fmu, smu, vmu;
	uint8_t mu_init;
	struct pconn *cur;         /* under emu: the connection the engine is fed for */
	uint64_t next_id;
	unsigned open_total, peak;
	struct sess_entry *sess[PX_SESS_BUCKETS];
	size_t nsess;
	uint64_t sess_clock;
	struct vc_entry *vc[PX_VC_BUCKETS]; /* under vmu */
	size_t nvc;
	uint64_t vc_clock;
	int stop;
	int nworkers;
	struct worker *w;
	struct px_stats sum;
	sigset_t oldmask;
	int mask_set;
};

static int stopping(struct proxy *p)
{
	return __atomic_load_n(&p->stop, __ATOMIC_RELAXED);
}

static void set_stop(struct proxy *p)
{
	__atomic_store_n(&p->stop, 1, __ATOMIC_RELAXED);
}

/* The engine is one, the workers many: every engine call (and so every
 * sink callback, and the hooks) runs under emu, with p->cur naming the
 * connection concerned. */
static void elock(struct proxy *p, struct pconn *c)
{
	pthread_mutex_lock(&p->emu);
	p->cur = c;
}

static void eunlock(struct proxy *p)
{
	p->cur = NULL;
	pthread_mutex_unlock(&p->emu);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static uint64_t real_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * NS_PER_S + (uint64_t)ts.tv_nsec;
}

static int addr_parts(const struct sockaddr_storage *ss, uint8_t a[16], uint16_t *port);

static void px_log(const struct proxy *p, const struct pconn *c, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void px_log(const struct proxy *p, const struct pconn *c, const char *fmt, ...)
{
	va_list ap;
	char buf[512], name[128];
	if (p->o.quiet)
		return;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (c) {
		/* names come from the wire: escaped; before any, the client's address */
		const char *n = c->name[0] ? c->name : c->target;
		if (n[0]) {
			pi_printable(name, sizeof(name), (const uint8_t *)n, strlen(n));
		} else {
			uint8_t a[16];
			uint16_t port;
			char ip[48];
			int v = addr_parts(&c->caddr, a, &port);
			inet_ntop(v == 6 ? AF_INET6 : AF_INET, a, ip, sizeof(ip));
			snprintf(name, sizeof(name), v == 6 ? "client [%s]:%u" : "client %s:%u", ip, port);
		}
		fprintf(stderr, "pinspect proxy: #%llu %s: %s\n", (unsigned long long)c->id, name, buf);
	} else {
		fprintf(stderr, "pinspect proxy: %s\n", buf);
	}
}

static void set_note(struct pconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void set_note(struct pconn *c, const char *fmt, ...)
{
	va_list ap;
	if (c->note[0])
		return; /* the first cause is the one that matters */
	va_start(ap, fmt);
	vsnprintf(c->note, sizeof(c->note), fmt, ap);
	va_end(ap);
}

/* The OpenSSL error queue as one line (and cleared). */
static void ssl_err_text(char *buf, size_t len)
{
	unsigned long e = ERR_get_error();
	if (e) {
		const char *r = ERR_reason_error_string(e);
		if (r)
			pi_strlcpy(buf, r, len);
		else
			ERR_error_string_n(e, buf, len);
	} else {
		pi_strlcpy(buf, "connection closed", len);
	}
	ERR_clear_error();
}

/* ---- engine and hooks -------------------------------------------------- */

static void fill_info(const struct pconn *c, struct px_conn_info *ci)
{
	memset(ci, 0, sizeof(*ci));
	ci->id = c->id;
	ci->name = c->name;
	ci->sni = c->sni;
	ci->target = c->target;
	ci->mode = c->mode;
	ci->note = c->note;
	ci->c2s_bytes = c->c2s;
	ci->s2c_bytes = c->s2c;
}

static void sink_verdict(void *ctx, const struct conn_out *o)
{
	struct proxy *p = ctx;
	struct px_conn_info ci;
	if (!p->cur || !p->h.on_verdict)
		return;
	fill_info(p->cur, &ci);
	p->h.on_verdict(p->h.ctx, o, &ci);
}

static void sink_conn(void *ctx, const struct conn_out *o)
{
	struct proxy *p = ctx;
	struct px_conn_info ci;
	if (!p->cur || !p->h.on_conn)
		return;
	fill_info(p->cur, &ci);
	p->h.on_conn(p->h.ctx, o, &ci);
}

static void feed(struct pconn *c, int from_client, const uint8_t *d, size_t n)
{
	if (!c->ec || !n)
		return;
	elock(c->p, c);
	engine_conn_data(c->p->e, c->ec, from_client, d, n, real_ns());
	eunlock(c->p);
}

/* A side closed (as the client sees it). Reported once per side. */
static void report_close(struct pconn *c, int from_client, int rst)
{
	uint8_t *done = from_client ? &c->c_close_reported : &c->s_close_reported;
	if (!c->ec || *done)
		return;
	*done = 1;
	elock(c->p, c);
	engine_conn_close_side(c->p->e, c->ec, from_client, rst, real_ns());
	eunlock(c->p);
}

/* sockaddr -> (ipver, 16-byte address, port) as the engine takes it. */
static int addr_parts(const struct sockaddr_storage *ss, uint8_t a[16], uint16_t *port)
{
	memset(a, 0, 16);
	if (ss->ss_family == AF_INET) {
		const struct sockaddr_in *s = (const struct sockaddr_in *)ss;
		memcpy(a, &s->sin_addr, 4);
		*port = ntohs(s->sin_port);
		return 4;
	}
	if (ss->ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)ss;
		if (IN6_IS_ADDR_V4MAPPED(&s->sin6_addr)) {
			memcpy(a, (const uint8_t *)&s->sin6_addr + 12, 4);
			*port = ntohs(s->sin6_port);
			return 4;
		}
		memcpy(a, &s->sin6_addr, 16);
		*port = ntohs(s->sin6_port);
		return 6;
	}
	*port = 0;
	return 4;
}

static int is_loopback(const struct sockaddr_storage *ss);

static void to_mapped(uint8_t a[16])
{
	uint8_t v4[4];
	memcpy(v4, a, 4);
	memset(a, 0, 16);
	a[10] = a[11] = 0xff;
	memcpy(a + 12, v4, 4);
}

/* Open the engine's connection and hand it what the client sent so far.
 * server may be NULL (unknown: the server could not be resolved). */
static void engine_open(struct pconn *c, const struct sockaddr_storage *server)
{
	uint8_t ca[16], sa[16];
	uint16_t cp, sp;
	int cv, sv;
	if (c->ec)
		return;
	cv = addr_parts(&c->caddr, ca, &cp);
	if (server) {
		sv = addr_parts(server, sa, &sp);
	} else {
		memset(sa, 0, sizeof(sa));
		sp = c->port;
		sv = cv;
	}
	if (cv != sv) { /* one family for both: IPv4 as mapped IPv6 */
		if (cv == 4)
			to_mapped(ca);
		else
			to_mapped(sa);
		cv = 6;
	}
	elock(c->p, c);
	c->ec = engine_conn_open(c->p->e, cv, ca, cp, sa, sp, real_ns());
	eunlock(c->p);
	if (!c->ec)
		return;
	feed(c, 1, c->in.b + c->in.off, c->in.len);
	if (c->c_eof || c->c_rst)
		report_close(c, 1, c->c_rst);
}

/* ---- epoll ----------------------------------------------------------------- */

static void ep_apply(struct worker *w, int fd, struct ep_ref *ref, uint32_t *cur, uint8_t *reg, uint32_t want,
                     int park)
{
	struct epoll_event ev;
	if (fd < 0)
		return;
	if (park) {
		if (*reg) {
			epoll_ctl(w->epfd, EPOLL_CTL_DEL, fd, NULL);
			*reg = 0;
		}
		return;
	}
	if (*reg && *cur == want)
		return;
	memset(&ev, 0, sizeof(ev));
	ev.events = want;
	ev.data.ptr = ref;
	if (epoll_ctl(w->epfd, *reg ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) == 0) {
		*reg = 1;
		*cur = want;
	}
}

static int can_send_client(const struct pconn *c)
{
	return !(c->cs_eof && !c->c_eof && !c->c_rst && mono_ns() < c->hold_until);
}

static size_t bio_pending(const struct pconn *c)
{
	return c->cnet ? BIO_ctrl_pending(c->cnet) : 0;
}

/* How many client bytes may wait in in, by state. */
static uint32_t in_max(const struct pconn *c)
{
	switch (c->st) {
	case S_HTTP:
		return HTTP_MAX_HEAD + 1;
	case S_HELLO:
	case S_RESOLVE:
	case S_CONNECT:
	case S_UP_TLS:
		return PX_MAX_HELLO;
	case S_RELAY:
		return c->mode == PX_SPLICE ? PX_RELAY_BUF : PX_PLAIN_BUF;
	default:
		return PX_PLAIN_BUF;
	}
}

/* Interest in each socket follows from the state and the buffers. A
 * socket that reported an error or hang-up while nothing reads it is
 * parked (level-triggered epoll would report it again and again) until
 * there is room to read it. */
static void update_interest(struct pconn *c)
{
	struct worker *w = c->w;
	uint32_t cw = 0, uw = 0;

	if (c->dead)
		return;
	if (!c->c_eof && !c->c_rst && c->in.len < in_max(c))
		cw |= EPOLLIN;
	if (c->st == S_RELAY && c->mode == PX_SPLICE) {
		if (c->out.len && !c->c_rst && !c->c_shut)
			cw |= EPOLLOUT;
		if (!c->u_eof && !c->u_rst && c->out.len < PX_RELAY_BUF)
			uw |= EPOLLIN;
		if (c->in.len && !c->u_rst && !c->u_shut)
			uw |= EPOLLOUT;
	} else if (c->cnet) {
		if (bio_pending(c) && !c->c_rst && !c->c_shut && can_send_client(c))
			cw |= EPOLLOUT;
		if (c->st == S_UP_TLS || c->st == S_RELAY) {
			if (c->u_want & 1)
				uw |= EPOLLIN;
			if (c->u_want & 2)
				uw |= EPOLLOUT;
		}
	}
	if (c->st == S_CONNECT)
		uw = EPOLLOUT;
	if (c->cpark && (cw & EPOLLIN))
		c->cpark = 0;
	if (c->upark && (uw & EPOLLIN))
		c->upark = 0;
	ep_apply(w, c->cfd, &c->cref, &c->cev, &c->creg, cw, c->cpark);
	ep_apply(w, c->ufd, &c->uref, &c->uev, &c->ureg, uw, c->upark);
}

static void queue_again(struct pconn *c)
{
	if (c->queued || c->dead)
		return;
	c->queued = 1;
	c->qnext = c->w->runq;
	c->w->runq = c;
}

/* ---- finishing ----------------------------------------------------------- */

static void hard_close(int fd, int rst)
{
	if (fd < 0)
		return;
	if (rst) {
		struct linger l = { 1, 0 };
		setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
	}
	close(fd);
}

/* Free the server leg. One that ended without a TLS error keeps its
 * session resumable (SSL_free would otherwise mark it bad). */
static void free_us(struct pconn *c)
{
	if (!c->us)
		return;
	if (SSL_is_init_finished(c->us) && !c->us_failed && !c->u_rst)
		SSL_set_shutdown(c->us, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
	SSL_free(c->us);
	c->us = NULL;
}

enum { CLOSE_QUIET = 0, CLOSE_FIN, CLOSE_RST };

/* The end of a connection. how: what the proxy does to the client socket
 * and tells the engine (CLOSE_QUIET: nothing the client has not already
 * seen, or a timeout the engine should settle itself). */
static void finish(struct pconn *c, int how)
{
	struct proxy *p = c->p;
	struct worker *w = c->w;
	if (c->dead)
		return;
	if (c->ec) {
		if (how != CLOSE_QUIET && !c->c_shut)
			report_close(c, 0, how == CLOSE_RST);
		elock(p, c);
		engine_conn_end(p->e, c->ec);
		eunlock(p);
		c->ec = NULL;
	}
	c->dead = 1;
	if (c->rq)
		resolver_cancel(w->res, c->rq);
	c->rq = NULL;
	if (c->hello) {
		px_hello_free(c->hello);
		free(c->hello);
		c->hello = NULL;
	}
	SSL_free(c->cs); /* frees its end of the BIO pair */
	free_us(c);
	BIO_free(c->cnet);
	c->cs = NULL;
	c->cnet = NULL;
	/* closing with unread data makes the kernel reset: say so only when meant */
	hard_close(c->cfd, how == CLOSE_RST);
	hard_close(c->ufd, c->u_rst || c->c_rst || how == CLOSE_RST);
	c->cfd = c->ufd = -1;
	xb_free(&c->in);
	xb_free(&c->out);
	xb_free(&c->p2u);
	xb_free(&c->p2c);
	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->next = w->dead;
	c->prev = NULL;
	w->dead = c;
	w->st.open--;
	__atomic_sub_fetch(&p->open_total, 1, __ATOMIC_RELAXED);
}

/* ---- reading and writing the client socket ------------------------------- */

/* Read from the client into in (up to max held). 1 if something changed. */
static int client_read(struct pconn *c, uint32_t max)
{
	size_t room;
	uint8_t *w;
	ssize_t n;
	if (c->c_eof || c->c_rst || c->cfd < 0 || !c->c_rd)
		return 0; /* (a recv() that would say EAGAIN is a wasted system call) */
	if (c->in.len >= max)
		return 0;
	w = xb_room(&c->in, max, &room);
	if (!w || !room)
		return 0;
	if (room > max - c->in.len)
		room = max - c->in.len;
	n = recv(c->cfd, w, room, 0);
	if (n > 0) {
		/* a short read drained the socket: wait for epoll rather than
		 * spend a recv() on EAGAIN (level-triggered: nothing is missed) */
		if ((size_t)n < room)
			c->c_rd = 0;
		c->in.len += (uint32_t)n;
		c->c2s += (uint64_t)n;
		c->w->st.bytes_c2s += (uint64_t)n;
		feed(c, 1, w, (size_t)n);
		return 1;
	}
	if (n == 0) {
		c->c_eof = 1;
		report_close(c, 1, 0);
		return 1;
	}
	if (errno == EAGAIN || errno == EWOULDBLOCK) {
		c->c_rd = 0;
		return 0;
	}
	if (errno == EINTR)
		return 0;
	c->c_rst = 1;
	report_close(c, 1, 1);
	return 1;
}

/* Send from buf to the client; the engine sees what went out. Returns
 * bytes sent, 0 would block, -1 the client is gone. */
static ssize_t client_send(struct pconn *c, const uint8_t *buf, size_t n)
{
	ssize_t s = send(c->cfd, buf, n, MSG_NOSIGNAL);
	if (s > 0) {
		c->s2c += (uint64_t)s;
		c->w->st.bytes_s2c += (uint64_t)s;
		feed(c, 0, buf, (size_t)s);
		return s;
	}
	if (s < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR))
		return 0;
	if (!c->c_rst) {
		c->c_rst = 1;
		report_close(c, 1, 1);
	}
	return -1;
}

/* Our FIN to the client. */
static void client_shut(struct pconn *c)
{
	if (c->c_shut || c->c_rst)
		return;
	shutdown(c->cfd, SHUT_WR);
	c->c_shut = 1;
	report_close(c, 0, 0);
}

/* ---- the client leg's TLS (intercept) ------------------------------------ */

/* in -> the BIO pair (SSL's input). */
static int in_to_bio(struct pconn *c)
{
	int prog = 0;
	while (c->in.len) {
		char *w;
		int room = BIO_nwrite0(c->cnet, &w);
		size_t n;
		if (room <= 0)
			break;
		n = (size_t)room < c->in.len ? (size_t)room : c->in.len;
		memcpy(w, c->in.b + c->in.off, n);
		if (BIO_nwrite(c->cnet, &w, (int)n) != (int)n)
			break;
		xb_consume(&c->in, n);
		prog = 1;
	}
	if ((c->c_eof || c->c_rst) && !c->in.len && !c->cnet_eof) {
		BIO_shutdown_wr(c->cnet);
		c->cnet_eof = 1;
		prog = 1;
	}
	return prog;
}

/* The BIO pair (SSL's output) -> the client socket. */
static int bio_to_client(struct pconn *c)
{
	int prog = 0;
	while (!c->c_rst && !c->c_shut && can_send_client(c)) {
		char *r;
		int avail = BIO_nread0(c->cnet, &r);
		ssize_t s;
		if (avail <= 0)
			break;
		s = client_send(c, (const uint8_t *)r, (size_t)avail);
		if (s <= 0)
			break;
		BIO_nread(c->cnet, &r, (int)s);
		prog = 1;
	}
	return prog;
}

static int hello_cb(SSL *s, int *al, void *arg)
{
	struct pconn *c = SSL_get_app_data(s);
	const unsigned char *ext;
	size_t len;
	(void)arg;
	if (!c)
		return SSL_CLIENT_HELLO_ERROR;
	switch (c->hcb) {
	case HCB_NONE:
		/* ALPN (RFC 7301 3.1): a 2-byte length, then the protocol list;
		 * kept whole up to 255 bytes, else cut at a protocol boundary */
		if (SSL_client_hello_get0_ext(s, TLSEXT_TYPE_application_layer_protocol_negotiation, &ext, &len) == 1 &&
		    len >= 2) {
			size_t list = ((size_t)ext[0] << 8) | ext[1], o = 0;
			if (list > len - 2)
				list = len - 2;
			while (o < list && o + 1 + ext[2 + o] <= list && o + 1 + ext[2 + o] <= sizeof(c->alpn))
				o += 1 + ext[2 + o];
			memcpy(c->alpn, ext + 2, o);
			c->alpn_len = (uint16_t)o;
		}
		c->hcb = HCB_PAUSED;
		return SSL_CLIENT_HELLO_RETRY;
	case HCB_PAUSED:
		return SSL_CLIENT_HELLO_RETRY;
	case HCB_GO:
		return SSL_CLIENT_HELLO_SUCCESS;
	default:
		*al = SSL_AD_INTERNAL_ERROR;
		return SSL_CLIENT_HELLO_ERROR;
	}
}

static int alpn_cb(SSL *s, const unsigned char **out, unsigned char *outlen, const unsigned char *in,
                   unsigned int inlen, void *arg)
{
	struct pconn *c = SSL_get_app_data(s);
	(void)arg;
	if (!c || !c->alpn_sel_len)
		return SSL_TLSEXT_ERR_NOACK;
	for (unsigned o = 0; o < inlen;) {
		unsigned l = in[o];
		if (o + 1 + l > inlen)
			break;
		if (l == c->alpn_sel_len && memcmp(in + o + 1, c->alpn_sel, l) == 0) {
			*out = in + o + 1;
			*outlen = (unsigned char)l;
			return SSL_TLSEXT_ERR_OK;
		}
		o += 1 + l;
	}
	return SSL_TLSEXT_ERR_NOACK;
}

static void enter_drain(struct pconn *c, int shut_after_flush);
static void pump(struct pconn *c);

/* Make the client leg and run it to the ClientHello callback (which
 * pauses it until the server leg is up). 0, or -1 (handled: draining). */
static int cs_setup(struct pconn *c)
{
	BIO *ib = NULL;
	char e[160];
	c->cs = SSL_new(c->p->sctx);
	if (!c->cs || BIO_new_bio_pair(&ib, PX_BIO_BUF, &c->cnet, PX_BIO_BUF) != 1) {
		ssl_err_text(e, sizeof(e));
		set_note(c, "proxy: cannot make the client TLS state: %s", e);
		return -2;
	}
	SSL_set_bio(c->cs, ib, ib);
	SSL_set_app_data(c->cs, c);
	SSL_set_accept_state(c->cs);
	for (int i = 0; i < 8; i++) {
		int r, err;
		in_to_bio(c);
		r = SSL_do_handshake(c->cs);
		err = SSL_get_error(c->cs, r);
		if (err == SSL_ERROR_WANT_CLIENT_HELLO_CB)
			return 0;
		if (err == SSL_ERROR_WANT_READ && c->in.len)
			continue;
		if (err == SSL_ERROR_WANT_READ)
			return 0; /* more of the hello to come */
		ssl_err_text(e, sizeof(e));
		set_note(c, "client hello refused by OpenSSL: %s", e);
		c->w->st.client_tls_failed++;
		enter_drain(c, 1);
		return -1;
	}
	return 0;
}

/* ---- the server leg ------------------------------------------------------- */

static void upstream_failed(struct pconn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* The server cannot be reached or verified: tell the client as a server
 * that gives up would (intercept: a fatal internal_error alert; splice:
 * a reset), and keep the reason. */
static void upstream_failed(struct pconn *c, const char *fmt, ...)
{
	va_list ap;
	char buf[200];
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	set_note(c, "%s", buf);
	c->w->st.upstream_failed++;
	px_log(c->p, c, "%s", buf);
	if (!c->ec)
		engine_open(c, NULL);
	if (c->mode == PX_INTERCEPT && c->cs && c->hcb == HCB_PAUSED) {
		c->hcb = HCB_FAIL;
		(void)SSL_do_handshake(c->cs); /* writes the alert into the BIO pair */
		ERR_clear_error();
		enter_drain(c, 1);
		return;
	}
	finish(c, CLOSE_RST);
}

static void start_connect(struct pconn *c);

static void try_next_address(struct pconn *c, int err)
{
	if (c->ufd >= 0) {
		if (c->ureg)
			epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->ufd, NULL);
		close(c->ufd);
		c->ufd = -1;
		c->ureg = 0;
		c->uev = 0;
	}
	if (++c->addr_i < c->addrs.n) {
		start_connect(c);
		return;
	}
	upstream_failed(c, "upstream connect to %s: %s", c->target, strerror(err));
}

static void start_connect(struct pconn *c)
{
	const struct sockaddr_storage *a = &c->addrs.addr[c->addr_i];
	int fd = socket(a->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0), one = 1;
	if (fd < 0) {
		upstream_failed(c, "upstream socket: %s", strerror(errno));
		return;
	}
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	c->ufd = fd;
	if (c->p->o.mark && setsockopt(fd, SOL_SOCKET, SO_MARK, &c->p->o.mark, sizeof(c->p->o.mark)) != 0) {
		upstream_failed(c, "SO_MARK %u: %s (needs CAP_NET_ADMIN)", c->p->o.mark, strerror(errno));
		return;
	}
	memcpy(&c->saddr, a, sizeof(*a));
	if (connect(fd, (const struct sockaddr *)a, c->addrs.len[c->addr_i]) != 0 && errno != EINPROGRESS) {
		try_next_address(c, errno);
		return;
	}
	c->st = S_CONNECT;
	update_interest(c);
}

/* ---- upstream session cache -------------------------------------------- */

static size_t sess_key(const struct pconn *c, char *key, size_t len)
{
	int n = snprintf(key, len, "%s|%s", c->name, c->target);
	return n < 0 ? 0 : (size_t)n < len ? (size_t)n : len - 1;
}

static struct sess_entry **sess_find(struct proxy *p, const char *key, size_t klen)
{
	struct sess_entry **pp = &p->sess[pi_hash(key, klen, 0x5e55ull) & (PX_SESS_BUCKETS - 1)];
	while (*pp && strcmp((*pp)->key, key) != 0)
		pp = &(*pp)->next;
	return pp;
}

static void sess_drop(struct proxy *p, struct sess_entry **pp)
{
	struct sess_entry *e = *pp;
	*pp = e->next;
	SSL_SESSION_free(e->s);
	free(e);
	p->nsess--;
}

/* OpenSSL has a new session (TLS 1.3: a ticket) for an upstream
 * connection: keep it. Returns 1: the cache owns the reference. */
static int sess_store(struct proxy *p, const char *key, size_t klen, SSL_SESSION *sess)
{
	struct sess_entry **pp, *e;
	pp = sess_find(p, key, klen);
	if (*pp) {
		SSL_SESSION_free((*pp)->s);
		(*pp)->s = sess;
		(*pp)->used = ++p->sess_clock;
		return 1;
	}
	if (p->nsess >= PX_SESS_MAX) { /* drop the least recently used */
		struct sess_entry **old = NULL;
		for (size_t i = 0; i < PX_SESS_BUCKETS; i++)
			for (struct sess_entry **q = &p->sess[i]; *q; q = &(*q)->next)
				if (!old || (*q)->used < (*old)->used)
					old = q;
		if (old)
			sess_drop(p, old);
		pp = sess_find(p, key, klen);
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return 0;
	memcpy(e->key, key, klen + 1);
	e->s = sess;
	e->used = ++p->sess_clock;
	*pp = e;
	p->nsess++;
	return 1;
}

static int sess_new_cb(SSL *s, SSL_SESSION *sess)
{
	struct pconn *c = SSL_get_app_data(s);
	char key[sizeof(((struct sess_entry *)0)->key)];
	size_t klen;
	int kept;
	if (!c || c->dead)
		return 0;
	klen = sess_key(c, key, sizeof(key));
	pthread_mutex_lock(&c->p->smu);
	kept = sess_store(c->p, key, klen, sess);
	pthread_mutex_unlock(&c->p->smu);
	return kept;
}

/* Offer a kept session to the server, if one is still good. */
static void sess_offer(struct pconn *c)
{
	struct proxy *p = c->p;
	char key[sizeof(((struct sess_entry *)0)->key)];
	size_t klen = sess_key(c, key, sizeof(key));
	struct sess_entry **pp;
	pthread_mutex_lock(&p->smu);
	pp = sess_find(p, key, klen);
	if (*pp) {
		if (!SSL_SESSION_is_resumable((*pp)->s) ||
		    (uint64_t)time(NULL) >=
		            (uint64_t)SSL_SESSION_get_time((*pp)->s) + (uint64_t)SSL_SESSION_get_timeout((*pp)->s)) {
			sess_drop(p, pp);
		} else {
			(*pp)->used = ++p->sess_clock;
			SSL_set_session(c->us, (*pp)->s);
		}
	}
	pthread_mutex_unlock(&p->smu);
}

/* ---- verified upstream chains ------------------------------------------ */

/* The chain libssl hands over is verified once per name: a server that
 * sends the same certificates again is not verified again (the chain
 * building, the extension, purpose and name checks and the signatures in
 * the chain: a fifth to a third of the CPU of the server leg's handshake
 * with OpenSSL 3.0). Its handshake signature (CertificateVerify: it holds
 * the key now) is still checked by libssl every time, and a session is
 * still resumed only with the name and server it was verified for. Only
 * successes are kept, and the inputs of the verification besides the chain
 * and the name are the proxy's own and fixed (the trust store, the purpose,
 * the security level, no CRLs). */

static struct vc_entry **vc_find(struct proxy *p, const unsigned char *key, size_t klen)
{
	struct vc_entry **pp = &p->vc[pi_hash(key, klen, 0x7665726966ull) & (PX_VC_BUCKETS - 1)];
	while (*pp && ((*pp)->klen != klen || memcmp((*pp)->key, key, klen) != 0))
		pp = &(*pp)->next;
	return pp;
}

static void vc_drop(struct proxy *p, struct vc_entry **pp)
{
	struct vc_entry *e = *pp;
	*pp = e->next;
	free(e);
	p->nvc--;
}

/* The key: the name the server must have ('h' and a host name, or 'i' and
 * an address; one name, as up_tls_start sets), a NUL, then each certificate
 * the server sent as 4 bytes of length and its DER. 0: no key (an unusual
 * name setting, a chain over cap): verify without the cache. */
static size_t vc_key(X509_STORE_CTX *x, unsigned char *key, size_t cap)
{
	X509_VERIFY_PARAM *vp = X509_STORE_CTX_get0_param(x);
	STACK_OF(X509) *sk = X509_STORE_CTX_get0_untrusted(x);
	X509 *leaf = X509_STORE_CTX_get0_cert(x);
	char *host = vp ? X509_VERIFY_PARAM_get0_host(vp, 0) : NULL, *ip = NULL;
	const char *name;
	size_t o, nl;
	int n = sk ? sk_X509_num(sk) : 0;

	if (!vp || !leaf || n > 16 || (host && X509_VERIFY_PARAM_get0_host(vp, 1)))
		return 0;
	if (!host && !(ip = X509_VERIFY_PARAM_get1_ip_asc(vp)))
		return 0;
	name = host ? host : ip;
	nl = strlen(name);
	if (nl + 2 > cap) {
		OPENSSL_free(ip);
		return 0;
	}
	key[0] = host ? 'h' : 'i';
	memcpy(key + 1, name, nl + 1);
	o = nl + 2;
	OPENSSL_free(ip);
	for (int i = -1; i < n; i++) { /* the leaf, then the rest of what the server sent */
		X509 *c = i < 0 ? leaf : sk_X509_value(sk, i);
		unsigned char *der = NULL;
		int len;
		if (i >= 0 && c == leaf)
			continue; /* libssl's list starts with the leaf */
		len = c ? i2d_X509(c, &der) : -1;
		if (len <= 0 || (size_t)len > cap - o || cap - o - (size_t)len < 4) {
			OPENSSL_free(der);
			return 0;
		}
		key[o] = (unsigned char)((unsigned)len >> 24);
		key[o + 1] = (unsigned char)((unsigned)len >> 16);
		key[o + 2] = (unsigned char)((unsigned)len >> 8);
		key[o + 3] = (unsigned char)len;
		memcpy(key + o + 4, der, (size_t)len);
		o += 4 + (size_t)len;
		OPENSSL_free(der);
	}
	return o;
}

/* The earliest notAfter in the verified chain (the trust anchor included),
 * as a time_t; 0 if one cannot be read. */
static time_t vc_not_after(X509_STORE_CTX *x, time_t now)
{
	STACK_OF(X509) *chain = X509_STORE_CTX_get0_chain(x);
	time_t first = 0;
	int n = chain ? sk_X509_num(chain) : 0;
	for (int i = 0; i < n; i++) {
		int days, secs;
		time_t t;
		if (!ASN1_TIME_diff(&days, &secs, NULL, X509_get0_notAfter(sk_X509_value(chain, i))))
			return 0;
		t = now + (time_t)days * 86400 + secs;
		if (!first || t < first)
			first = t;
	}
	return first > now ? first : 0;
}

static void vc_store(struct proxy *p, const unsigned char *key, size_t klen, time_t now, time_t not_after)
{
	struct vc_entry **pp, *e;
	pthread_mutex_lock(&p->vmu);
	pp = vc_find(p, key, klen);
	if (*pp)
		vc_drop(p, pp);
	if (p->nvc >= PX_VC_MAX) { /* drop the least recently used */
		struct vc_entry **old = NULL;
		for (size_t i = 0; i < PX_VC_BUCKETS; i++)
			for (struct vc_entry **q = &p->vc[i]; *q; q = &(*q)->next)
				if (!old || (*q)->used < (*old)->used)
					old = q;
		if (old)
			vc_drop(p, old);
	}
	pp = vc_find(p, key, klen);
	e = malloc(sizeof(*e) + klen);
	if (e) {
		memset(e, 0, sizeof(*e));
		e->klen = klen;
		memcpy(e->key, key, klen);
		e->checked = now;
		e->not_after = not_after;
		e->used = ++p->vc_clock;
		e->next = NULL;
		*pp = e;
		p->nvc++;
	}
	pthread_mutex_unlock(&p->vmu);
}

/* 1: this chain verified for this name, and is still within its dates and
 * PX_VC_TTL of that verification. */
static int vc_lookup(struct proxy *p, const unsigned char *key, size_t klen, time_t now)
{
	struct vc_entry **pp;
	int hit = 0;
	pthread_mutex_lock(&p->vmu);
	pp = vc_find(p, key, klen);
	if (*pp) {
		struct vc_entry *e = *pp;
		if (now >= e->checked && now - e->checked < PX_VC_TTL && now < e->not_after) {
			e->used = ++p->vc_clock;
			hit = 1;
		} else {
			vc_drop(p, pp);
		}
	}
	pthread_mutex_unlock(&p->vmu);
	return hit;
}

/* libssl's certificate verification for the server leg (in place of its
 * X509_verify_cert call): the cache, else the full verification. */
static int upstream_verify_cb(X509_STORE_CTX *x, void *arg)
{
	struct proxy *p = arg;
	SSL *s = X509_STORE_CTX_get_ex_data(x, SSL_get_ex_data_X509_STORE_CTX_idx());
	struct pconn *c = s ? SSL_get_app_data(s) : NULL;
	unsigned char *key = malloc(PX_VC_KEY_MAX);
	time_t now = time(NULL), na;
	size_t klen = key ? vc_key(x, key, PX_VC_KEY_MAX) : 0;
	int ok;
	if (klen && vc_lookup(p, key, klen, now)) {
		free(key);
		X509_STORE_CTX_set_error(x, X509_V_OK);
		if (c)
			c->w->st.upstream_verify_cached++;
		return 1;
	}
	ok = X509_verify_cert(x);
	if (ok == 1 && klen && (na = vc_not_after(x, now)) != 0)
		vc_store(p, key, klen, now, na);
	free(key);
	return ok;
}

static void up_tls_start(struct pconn *c)
{
	struct proxy *p = c->p;
	char e[160];
	int kind = rules_valid_name(c->sni[0] ? c->sni : c->host);
	const char *vname = c->sni[0] && rules_valid_name(c->sni) == 1 ? c->sni : c->host;

	c->us = SSL_new(p->uctx);
	if (!c->us || SSL_set_fd(c->us, c->ufd) != 1) {
		ssl_err_text(e, sizeof(e));
		upstream_failed(c, "proxy: cannot make the server TLS state: %s", e);
		return;
	}
	SSL_set_connect_state(c->us);
	SSL_set_app_data(c->us, c);
	if (c->sni[0] && rules_valid_name(c->sni) == 1)
		SSL_set_tlsext_host_name(c->us, c->sni);
	else if (!c->host_is_ip && kind == 1)
		SSL_set_tlsext_host_name(c->us, c->host);
	if (!p->o.insecure_upstream) {
		int ok = rules_valid_name(vname) == 2 ? X509_VERIFY_PARAM_set1_ip_asc(SSL_get0_param(c->us), vname)
		                                      : SSL_set1_host(c->us, vname);
		if (ok != 1) {
			upstream_failed(c, "cannot verify the server as %s", vname);
			return;
		}
	}
	if (c->alpn_len && SSL_set_alpn_protos(c->us, c->alpn, c->alpn_len) != 0) {
		ssl_err_text(e, sizeof(e));
		upstream_failed(c, "proxy: ALPN: %s", e);
		return;
	}
	sess_offer(c);
	c->st = S_UP_TLS;
	pump(c);
}

static void cl_tls_start(struct pconn *c)
{
	struct proxy *p = c->p;
	char e[200];
	const unsigned char *sel = NULL;
	unsigned sel_len = 0;
	X509 *leaf;
	enum forge_key kt;

	SSL_get0_alpn_selected(c->us, &sel, &sel_len);
	if (sel && sel_len && sel_len < sizeof(c->alpn_sel)) {
		memcpy(c->alpn_sel, sel, sel_len);
		c->alpn_sel_len = (uint8_t)sel_len;
	}
	kt = p->o.leaf_key;
	if (kt == FORGE_KEY_AUTO) { /* the kind of key the real server has */
		X509 *peer = SSL_get0_peer_certificate(c->us);
		EVP_PKEY *pk = peer ? X509_get0_pubkey(peer) : NULL;
		kt = pk && EVP_PKEY_base_id(pk) == EVP_PKEY_EC ? FORGE_KEY_EC : FORGE_KEY_RSA;
	}
	pthread_mutex_lock(&p->fmu);
	leaf = forge_leaf(p->forge, c->name, kt, e, sizeof(e));
	pthread_mutex_unlock(&p->fmu);
	if (!leaf) {
		upstream_failed(c, "proxy: %s", e);
		return;
	}
	/* the leaf alone: clients hold the root as their trust anchor, and
	 * sending it costs every client a certificate to decode */
	if (SSL_use_certificate(c->cs, leaf) != 1 || SSL_use_PrivateKey(c->cs, forge_leaf_key(p->forge, kt)) != 1) {
		X509_free(leaf);
		ssl_err_text(e, sizeof(e));
		upstream_failed(c, "proxy: cannot use the forged leaf: %s", e);
		return;
	}
	X509_free(leaf); /* the SSL holds its own reference */
	c->hcb = HCB_GO;
	c->st = S_CL_TLS;
	c->u_want = 0;
	pump(c);
}

/* ---- pumps ------------------------------------------------------------------ */

static void enter_drain(struct pconn *c, int shut_after_flush)
{
	/* the server leg is of no further use */
	free_us(c);
	if (c->ufd >= 0) {
		if (c->ureg)
			epoll_ctl(c->w->epfd, EPOLL_CTL_DEL, c->ufd, NULL);
		close(c->ufd);
		c->ufd = -1;
		c->ureg = 0;
	}
	c->st = S_DRAIN;
	c->drain_shut = (uint8_t)shut_after_flush;
	c->deadline = mono_ns() + PX_DRAIN_TIMEOUT_MS * NS_PER_MS;
	pump(c);
}

static void pump_drain(struct pconn *c)
{
	for (int i = 0; i < PX_PUMP_ROUNDS; i++) {
		int prog = client_read(c, PX_PLAIN_BUF);
		xb_consume(&c->in, c->in.len); /* seen by the engine; nobody to pass it to */
		if (c->cnet)
			prog |= bio_to_client(c);
		if (!prog)
			break;
	}
	if (c->drain_shut && !bio_pending(c) && !c->c_rst)
		client_shut(c);
	if (c->c_rst || (c->c_eof && (c->c_shut || !bio_pending(c))))
		finish(c, CLOSE_QUIET);
}

static int us_io_err(struct pconn *c, int r, const char *what)
{
	int err = SSL_get_error(c->us, r);
	char e[160];
	switch (err) {
	case SSL_ERROR_WANT_READ:
		c->u_want |= 1;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		c->u_want |= 2;
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		c->us_eof = 1;
		return 1;
	default:
		if (err == SSL_ERROR_SYSCALL && errno == ECONNRESET)
			c->u_rst = 1;
		ssl_err_text(e, sizeof(e));
		if (err == SSL_ERROR_SYSCALL && !c->u_rst)
			c->us_eof = 1; /* a plain close without close_notify */
		else {
			c->us_failed = 1;
			c->us_eof = 1;
			set_note(c, "server %s: %s", what, e);
		}
		return 1;
	}
}

static int cs_io_err(struct pconn *c, int r, const char *what)
{
	int err = SSL_get_error(c->cs, r);
	char e[160];
	switch (err) {
	case SSL_ERROR_WANT_READ:
	case SSL_ERROR_WANT_WRITE:
		return 0;
	case SSL_ERROR_ZERO_RETURN:
		c->cs_eof = 1;
		break;
	default:
		ssl_err_text(e, sizeof(e));
		c->cs_eof = 1;
		if (!(err == SSL_ERROR_SYSCALL || (c->cnet_eof && strstr(e, "unexpected eof")))) {
			c->cs_failed = 1;
			set_note(c, "client %s: %s", what, e);
		}
		break;
	}
	/* the client closed its TLS: give its FIN a moment to arrive before
	 * the proxy answers (the engine must see the client's close first) */
	if (!c->c_eof && !c->c_rst)
		c->hold_until = mono_ns() + PX_CLOSE_HOLD_MS * NS_PER_MS;
	return 1;
}

static void pump_intercept_relay(struct pconn *c)
{
	int prog = 1;
	for (int i = 0; i < PX_PUMP_ROUNDS && prog && !c->dead; i++) {
		size_t room;
		uint8_t *w;
		int r;
		prog = client_read(c, PX_PLAIN_BUF);
		prog |= in_to_bio(c);
		c->u_want = 0;
		/* client -> server */
		while (!c->cs_eof && (w = xb_room(&c->p2u, PX_PLAIN_BUF, &room)) && room) {
			r = SSL_read(c->cs, w, (int)room);
			if (r <= 0) {
				prog |= cs_io_err(c, r, "TLS");
				break;
			}
			c->p2u.len += (uint32_t)r;
			prog = 1;
		}
		while (c->p2u.len && !c->us_eof && !c->u_rst) {
			r = SSL_write(c->us, c->p2u.b + c->p2u.off, (int)c->p2u.len);
			if (r <= 0) {
				prog |= us_io_err(c, r, "TLS write");
				break;
			}
			xb_consume(&c->p2u, (size_t)r);
			prog = 1;
		}
		if (c->cs_eof && !c->p2u.len && !c->us_shut && !c->us_eof && !c->u_rst) {
			r = SSL_shutdown(c->us);
			if (r >= 0 || SSL_get_error(c->us, r) != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				shutdown(c->ufd, SHUT_WR);
				c->us_shut = 1;
				prog = 1;
			} else {
				c->u_want |= 2;
			}
		}
		/* server -> client */
		while (!c->us_eof && !c->u_rst && (w = xb_room(&c->p2c, PX_PLAIN_BUF, &room)) && room) {
			r = SSL_read(c->us, w, (int)room);
			if (r <= 0) {
				prog |= us_io_err(c, r, "TLS read");
				break;
			}
			c->p2c.len += (uint32_t)r;
			prog = 1;
		}
		while (c->p2c.len && !c->cs_failed && !c->cs_shut) {
			r = SSL_write(c->cs, c->p2c.b + c->p2c.off, (int)c->p2c.len);
			if (r <= 0) {
				if (cs_io_err(c, r, "TLS write")) {
					c->cs_failed = 1;
					prog = 1;
				}
				break;
			}
			xb_consume(&c->p2c, (size_t)r);
			prog = 1;
		}
		if (c->us_eof && !c->p2c.len && !c->cs_shut && !c->cs_failed && !c->u_rst && !c->us_failed) {
			r = SSL_shutdown(c->cs); /* close_notify into the BIO pair */
			if (r >= 0 || SSL_get_error(c->cs, r) != SSL_ERROR_WANT_WRITE) {
				ERR_clear_error();
				c->cs_shut = 1;
				prog = 1;
			}
		}
		prog |= bio_to_client(c);
		if (c->cs_shut && !bio_pending(c) && !c->c_shut && !c->c_rst && can_send_client(c)) {
			client_shut(c);
			prog = 1;
		}
	}
	if (c->dead)
		return;
	if (c->c_rst) {
		finish(c, CLOSE_QUIET);
		return;
	}
	if ((c->u_rst || c->us_failed) && c->cs_eof && !c->c_eof) {
		/* the client closed its TLS first (the server's reset answers
		 * ours): wait for the client's FIN, not a reset of our own */
		enter_drain(c, 0);
		return;
	}
	if (c->u_rst || c->us_failed) {
		/* the server reset or broke its TLS: the client must not take a
		 * truncated stream for a complete one */
		if (!c->cs_eof && !c->c_eof)
			px_log(c->p, c, "%s", c->note[0] ? c->note : "server reset the connection");
		finish(c, CLOSE_RST);
		return;
	}
	if (c->cs_failed && !c->c_eof) {
		enter_drain(c, 0); /* the client's TLS is broken: wait for its close */
		return;
	}
	if (c->c_shut && (c->c_eof || c->cs_failed)) {
		finish(c, CLOSE_QUIET);
		return;
	}
	if (c->c_shut) {
		enter_drain(c, 0); /* our FIN is out: give the client a moment to close */
		return;
	}
	if (prog)
		queue_again(c);
}

static void pump_splice(struct pconn *c)
{
	int prog = 1;
	for (int i = 0; i < PX_PUMP_ROUNDS && prog; i++) {
		size_t room;
		uint8_t *w;
		ssize_t n;
		prog = client_read(c, PX_RELAY_BUF);
		if (c->in.len && !c->u_rst) {
			n = send(c->ufd, c->in.b + c->in.off, c->in.len, MSG_NOSIGNAL);
			if (n > 0) {
				xb_consume(&c->in, (size_t)n);
				prog = 1;
			} else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
				c->u_rst = 1;
				prog = 1;
			}
		}
		if ((c->c_eof || c->c_rst) && !c->in.len && !c->u_shut && !c->u_rst) {
			shutdown(c->ufd, SHUT_WR);
			c->u_shut = 1;
		}
		if (c->u_rd && !c->u_eof && !c->u_rst && (w = xb_room(&c->out, PX_RELAY_BUF, &room)) && room) {
			n = recv(c->ufd, w, room, 0);
			if (n > 0) {
				if ((size_t)n < room)
					c->u_rd = 0; /* drained (see client_read) */
				c->out.len += (uint32_t)n;
				prog = 1;
			} else if (n == 0) {
				c->u_eof = 1;
				prog = 1;
			} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
				c->u_rd = 0;
			} else if (errno != EINTR) {
				c->u_rst = 1;
				prog = 1;
			}
		}
		if (c->out.len && !c->c_rst) {
			n = client_send(c, c->out.b + c->out.off, c->out.len);
			if (n > 0) {
				xb_consume(&c->out, (size_t)n);
				prog = 1;
			}
		}
		if (c->u_eof && !c->out.len && !c->c_shut)
			client_shut(c);
	}
	if (c->c_rst) {
		c->u_rst = 1; /* pass the reset on */
		finish(c, CLOSE_QUIET);
		return;
	}
	if (c->u_rst) {
		finish(c, CLOSE_RST);
		return;
	}
	if (c->c_eof && c->c_shut && c->u_shut && !c->in.len && !c->out.len) {
		finish(c, CLOSE_QUIET);
		return;
	}
	if (prog)
		queue_again(c);
}

static void decide(struct pconn *c);

/* Give the ClientHello peek what has arrived. */
static void hello_feed(struct pconn *c)
{
	if (!c->hello || !c->in.len)
		return;
	(void)px_hello_feed(c->hello, c->in.b + c->in.off, c->in.len);
	c->hello_ok = c->hello->ok;
	c->not_tls = c->hello->not_tls;
}

static void pump_hello(struct pconn *c)
{
	struct proxy *p = c->p;
	while (client_read(c, PX_MAX_HELLO) && !c->c_eof && !c->c_rst && c->in.len < PX_MAX_HELLO)
		;
	hello_feed(c);
	if (c->hello_ok || c->not_tls) {
		decide(c);
		return;
	}
	if (c->c_eof || c->c_rst) {
		finish(c, CLOSE_QUIET); /* gone before saying anything we can use */
		return;
	}
	if (c->in.len >= PX_MAX_HELLO) {
		c->w->st.hello_too_big++;
		px_log(p, c, "no ClientHello within %u bytes: closed", PX_MAX_HELLO);
		finish(c, CLOSE_RST);
	}
}

static int port_allowed(const struct proxy *p, uint16_t port)
{
	if (port == 443)
		return 1;
	for (int i = 0; i < p->o.nallow_ports; i++)
		if (p->o.allow_ports[i] == port)
			return 1;
	return 0;
}

static void reply_and_close(struct pconn *c, int status)
{
	const char *r = http_reply(status);
	ssize_t w = send(c->cfd, r, strlen(r), MSG_NOSIGNAL);
	(void)w;
	shutdown(c->cfd, SHUT_WR);
	finish(c, CLOSE_QUIET);
}

static void pump_http(struct pconn *c)
{
	struct proxy *p = c->p;
	struct connect_req req;
	size_t used = 0;
	enum http_rc rc;
	const char *ok;

	while (client_read(c, HTTP_MAX_HEAD + 1) && !c->c_eof && !c->c_rst)
		;
	rc = http_parse_connect(c->in.b ? c->in.b + c->in.off : (const uint8_t *)"", c->in.len, &req, &used);
	if (rc == HTTP_NEED_MORE) {
		if (c->c_eof || c->c_rst)
			finish(c, CLOSE_QUIET);
		return;
	}
	if (rc != HTTP_OK) {
		c->w->st.bad_request++;
		reply_and_close(c, rc == HTTP_NOT_CONNECT ? 405 : rc == HTTP_TOO_BIG ? 431 : 400);
		return;
	}
	pi_strlcpy(c->host, req.host, sizeof(c->host));
	c->port = req.port;
	c->host_is_ip = req.host_is_ip;
	snprintf(c->target, sizeof(c->target), req.host_is_ip == 6 ? "[%s]:%u" : "%s:%u", req.host, req.port);
	if (!port_allowed(p, req.port)) {
		c->w->st.forbidden_port++;
		px_log(p, c, "CONNECT to port %u refused (allowed: 443 and --allow-port)", req.port);
		reply_and_close(c, 403);
		return;
	}
	ok = http_reply(200);
	if (send(c->cfd, ok, strlen(ok), MSG_NOSIGNAL) != (ssize_t)strlen(ok)) {
		finish(c, CLOSE_QUIET);
		return;
	}
	xb_consume(&c->in, used); /* what follows the head is the tunnel's */
	c->st = S_HELLO;
	c->deadline = mono_ns() + (uint64_t)p->o.hello_timeout * NS_PER_S;
	/* bytes after the head (a client that did not wait for the 200) are
	 * the tunnel's: pump_hello looks at them first */
	pump_hello(c);
}

/* The address to connect to: --resolve, a literal, or the resolver. */
static void on_resolved(void *cookie, const struct resolve_result *res, void *ctx);

static void start_upstream(struct pconn *c)
{
	struct proxy *p = c->p;
	long idx;
	c->st = S_RESOLVE;
	c->deadline = mono_ns() + (uint64_t)p->o.setup_timeout * NS_PER_S;
	if (p->o.transparent) {
		memset(&c->addrs, 0, sizeof(c->addrs));
		memcpy(&c->addrs.addr[0], &c->saddr, sizeof(c->saddr));
		c->addrs.len[0] = c->saddr.ss_family == AF_INET6 ? sizeof(struct sockaddr_in6) : sizeof(struct sockaddr_in);
		c->addrs.n = 1;
		on_resolved(c, &c->addrs, p);
		return;
	}
	idx = p->resolve_map ? rules_match(p->resolve_map, c->host) : -1;
	if (idx >= 0 && resolve_literal(p->o.resolve[idx].addr, c->port, &c->addrs)) {
		on_resolved(c, &c->addrs, p);
		return;
	}
	if (resolve_literal(c->host, c->port, &c->addrs)) {
		on_resolved(c, &c->addrs, p);
		return;
	}
	c->rq = resolver_submit(c->w->res, c->host, c->port, c);
	if (!c->rq)
		upstream_failed(c, "proxy: resolver queue full");
	else
		update_interest(c);
}

/* Would a connection to a reach the proxy's own listener (a loop)? The
 * listener's port on its address, on loopback, or on any address when it
 * listens on all of them. */
static int is_self(const struct proxy *p, const struct sockaddr_storage *a)
{
	uint8_t x[16], l[16], any[16] = { 0 };
	uint16_t xp, lp;
	int xv = addr_parts(a, x, &xp), lv = addr_parts(&p->laddr, l, &lp);
	if (xp != lp)
		return 0;
	if (xv == lv && memcmp(x, l, 16) == 0)
		return 1;
	if (memcmp(l, any, 16) == 0)
		return 1;
	return is_loopback(a);
}

static void on_resolved(void *cookie, const struct resolve_result *res, void *ctx)
{
	struct pconn *c = cookie;
	(void)ctx;
	c->rq = NULL;
	if (c->dead)
		return;
	if (res != &c->addrs)
		c->addrs = *res;
	if (!c->addrs.n) {
		upstream_failed(c, "cannot resolve %s: %s", c->host, gai_strerror(c->addrs.gai_err));
		return;
	}
	for (int i = 0; i < c->addrs.n; i++)
		if (is_self(c->p, &c->addrs.addr[i])) {
			upstream_failed(c, "%s is the proxy itself: refused", c->target);
			return;
		}
	c->addr_i = 0;
	engine_open(c, &c->addrs.addr[0]);
	if (c->c_eof || c->c_rst) {
		finish(c, CLOSE_QUIET); /* the client left before the server was reached */
		return;
	}
	if (c->mode == PX_INTERCEPT) {
		int r = cs_setup(c);
		if (r == -2) {
			upstream_failed(c, "%s", c->note);
			return;
		}
		if (r < 0)
			return;
	}
	start_connect(c);
}

static void decide(struct pconn *c)
{
	struct proxy *p = c->p;
	struct px_conn_info ci;
	enum px_mode m;

	if (c->hello_ok && px_hello_sni(c->hello)[0])
		pi_strlcpy(c->sni, px_hello_sni(c->hello), sizeof(c->sni));
	if (c->sni[0] && rules_valid_name(c->sni) == 1)
		pi_strlcpy(c->name, c->sni, sizeof(c->name));
	else
		pi_strlcpy(c->name, c->host, sizeof(c->name));
	if (c->hello) {
		px_hello_free(c->hello);
		free(c->hello);
		c->hello = NULL;
	}
	c->mode = PX_UNDECIDED;
	fill_info(c, &ci);
	elock(p, c);
	m = p->h.decide ? p->h.decide(p->h.ctx, &ci) : PX_SPLICE;
	eunlock(p);
	if (m == PX_INTERCEPT && c->not_tls) {
		set_note(c, "not TLS: spliced");
		m = PX_SPLICE;
	} else if (m == PX_INTERCEPT && !rules_valid_name(c->name)) {
		set_note(c, "no usable name to forge a certificate for: spliced");
		m = PX_SPLICE;
	}
	if (c->not_tls)
		c->w->st.not_tls++;
	c->mode = m;
	if (m == PX_INTERCEPT)
		c->w->st.intercepted++;
	else
		c->w->st.spliced++;
	start_upstream(c);
}

static void on_connected(struct pconn *c)
{
	int err = 0;
	socklen_t len = sizeof(err);
	if (getsockopt(c->ufd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		err = errno;
	if (err == EINPROGRESS || err == EALREADY)
		return;
	if (err) {
		try_next_address(c, err);
		return;
	}
	if (c->mode == PX_SPLICE) {
		c->st = S_RELAY;
		c->deadline = mono_ns() + (uint64_t)c->p->o.idle_timeout * NS_PER_S;
		pump(c);
	} else {
		up_tls_start(c);
	}
}

static void pump_up_tls(struct pconn *c)
{
	int r;
	char e[200];
	long vr;
	/* the client may leave meanwhile */
	client_read(c, PX_MAX_HELLO);
	if (c->c_eof || c->c_rst) {
		finish(c, CLOSE_QUIET);
		return;
	}
	c->u_want = 0;
	r = SSL_do_handshake(c->us);
	if (r == 1) {
		if (SSL_session_reused(c->us))
			c->w->st.upstream_resumed++;
		cl_tls_start(c);
		return;
	}
	switch (SSL_get_error(c->us, r)) {
	case SSL_ERROR_WANT_READ:
		c->u_want = 1;
		update_interest(c);
		return;
	case SSL_ERROR_WANT_WRITE:
		c->u_want = 2;
		update_interest(c);
		return;
	default:
		break;
	}
	vr = SSL_get_verify_result(c->us);
	ssl_err_text(e, sizeof(e));
	if (vr != X509_V_OK)
		upstream_failed(c, "server certificate for %s not trusted: %s (--upstream-cafile, or a bypass)",
		                c->name, X509_verify_cert_error_string(vr));
	else
		upstream_failed(c, "server TLS handshake with %s failed: %s", c->target, e);
}

static void pump_cl_tls(struct pconn *c)
{
	for (int i = 0; i < PX_PUMP_ROUNDS; i++) {
		int prog = client_read(c, PX_PLAIN_BUF);
		int r, err;
		prog |= in_to_bio(c);
		r = SSL_do_handshake(c->cs);
		if (r == 1) {
			bio_to_client(c);
			c->st = S_RELAY;
			c->deadline = mono_ns() + (uint64_t)c->p->o.idle_timeout * NS_PER_S;
			c->u_want = 1;
			c->upark = 0;
			pump(c);
			return;
		}
		err = SSL_get_error(c->cs, r);
		if (err != SSL_ERROR_WANT_READ && err != SSL_ERROR_WANT_WRITE) {
			char e[160];
			ssl_err_text(e, sizeof(e));
			set_note(c, "client rejected the handshake: %s", e);
			c->w->st.client_tls_failed++;
			enter_drain(c, 0);
			return;
		}
		prog |= bio_to_client(c);
		if (!prog)
			break;
	}
	update_interest(c);
}

static void pump(struct pconn *c)
{
	if (c->dead)
		return;
	switch (c->st) {
	case S_HTTP:
		pump_http(c);
		break;
	case S_HELLO:
		pump_hello(c);
		break;
	case S_RESOLVE:
	case S_CONNECT:
		client_read(c, PX_MAX_HELLO);
		if (c->c_eof || c->c_rst) {
			if (!c->ec)
				engine_open(c, NULL);
			finish(c, CLOSE_QUIET);
		}
		break;
	case S_UP_TLS:
		pump_up_tls(c);
		break;
	case S_CL_TLS:
		pump_cl_tls(c);
		break;
	case S_RELAY:
		if (c->mode == PX_SPLICE)
			pump_splice(c);
		else
			pump_intercept_relay(c);
		if (!c->dead)
			c->deadline = mono_ns() + (uint64_t)c->p->o.idle_timeout * NS_PER_S;
		break;
	case S_DRAIN:
		pump_drain(c);
		break;
	}
	if (!c->dead)
		update_interest(c);
}

/* ---- accepting ---------------------------------------------------------- */

static int same_addr(const struct sockaddr_storage *a, const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return 0;
	if (a->ss_family == AF_INET) {
		const struct sockaddr_in *x = (const void *)a, *y = (const void *)b;
		return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
	}
	if (a->ss_family == AF_INET6) {
		const struct sockaddr_in6 *x = (const void *)a, *y = (const void *)b;
		return x->sin6_port == y->sin6_port && memcmp(&x->sin6_addr, &y->sin6_addr, 16) == 0;
	}
	return 0;
}

static void addr_text(const struct sockaddr_storage *ss, char *host, size_t hlen, uint16_t *port)
{
	uint8_t a[16];
	int v = addr_parts(ss, a, port);
	inet_ntop(v == 6 ? AF_INET6 : AF_INET, a, host, (socklen_t)hlen);
}

static void on_accept(struct worker *w)
{
	struct proxy *p = w->p;
	for (int i = 0; i < 64; i++) {
		struct sockaddr_storage ss;
		socklen_t sl = sizeof(ss);
		struct pconn *c;
		int one = 1, fd;
		memset(&ss, 0, sizeof(ss));
		fd = accept4(w->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
				/* out of descriptors: stop accepting for a moment rather than spin */
				px_log(p, NULL, "accept: %s: pausing the listener", strerror(errno));
				w->listen_paused_until = mono_ns() + 200 * NS_PER_MS;
				ep_apply(w, w->lfd, &w->lref, &w->lev, &w->lreg, 0, 0);
			}
			return;
		}
		w->st.accepted++;
		if (__atomic_add_fetch(&p->open_total, 1, __ATOMIC_RELAXED) > p->o.max_conns) {
			__atomic_sub_fetch(&p->open_total, 1, __ATOMIC_RELAXED);
			w->st.refused_limit++;
			hard_close(fd, 1);
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c) {
			__atomic_sub_fetch(&p->open_total, 1, __ATOMIC_RELAXED);
			hard_close(fd, 1);
			continue;
		}
		c->p = p;
		c->w = w;
		c->id = __atomic_add_fetch(&p->next_id, 1, __ATOMIC_RELAXED);
		c->cfd = fd;
		c->ufd = -1;
		c->cref.kind = EP_CLIENT;
		c->cref.c = c;
		c->uref.kind = EP_UPSTREAM;
		c->uref.c = c;
		memcpy(&c->caddr, &ss, sizeof(ss));
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c->next = w->conns;
		if (w->conns)
			w->conns->prev = c;
		w->conns = c;
		w->st.open++;
		{
			unsigned open = __atomic_load_n(&p->open_total, __ATOMIC_RELAXED);
			unsigned peak = __atomic_load_n(&p->peak, __ATOMIC_RELAXED);
			while (open > peak &&
			       !__atomic_compare_exchange_n(&p->peak, &peak, open, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
				;
		}
		c->deadline = mono_ns() + (uint64_t)p->o.hello_timeout * NS_PER_S;
		c->hello = calloc(1, sizeof(*c->hello));
		if (!c->hello) {
			finish(c, CLOSE_RST);
			continue;
		}
		px_hello_init(c->hello);
		if (p->o.transparent) {
			struct sockaddr_storage dst, local;
			socklen_t dl = sizeof(dst), ll = sizeof(local);
			int ok;
			memset(&dst, 0, sizeof(dst));
			memset(&local, 0, sizeof(local));
			ok = ss.ss_family == AF_INET6
			                 ? getsockopt(fd, SOL_IPV6, IP6T_SO_ORIGINAL_DST, &dst, &dl)
			                 : getsockopt(fd, SOL_IP, SO_ORIGINAL_DST, &dst, &dl);
			if (ok != 0 || getsockname(fd, (struct sockaddr *)&local, &ll) != 0 || same_addr(&dst, &local)) {
				px_log(p, c, "no original destination (not redirected to the proxy): closed");
				finish(c, CLOSE_RST);
				continue;
			}
			memcpy(&c->saddr, &dst, sizeof(dst));
			addr_text(&dst, c->host, sizeof(c->host), &c->port);
			c->host_is_ip = dst.ss_family == AF_INET6 ? 6 : 4;
			snprintf(c->target, sizeof(c->target), c->host_is_ip == 6 ? "[%s]:%u" : "%s:%u", c->host, c->port);
			if (!port_allowed(p, c->port)) {
				w->st.forbidden_port++;
				px_log(p, c, "redirected connection to port %u refused (allowed: 443 and --allow-port)",
				       c->port);
				finish(c, CLOSE_RST);
				continue;
			}
			c->st = S_HELLO;
		} else {
			c->st = S_HTTP;
		}
		update_interest(c);
	}
}

/* ---- timers, signals, the loop ---------------------------------------- */

static void sweep(struct worker *w)
{
	struct proxy *p = w->p;
	uint64_t now = mono_ns();
	struct pconn *c, *nx;
	if (w->listen_paused_until && now >= w->listen_paused_until) {
		w->listen_paused_until = 0;
		ep_apply(w, w->lfd, &w->lref, &w->lev, &w->lreg, EPOLLIN, 0);
	}
	for (c = w->conns; c; c = nx) {
		nx = c->next;
		if (c->hold_until && now >= c->hold_until) {
			c->hold_until = 0;
			pump(c);
			continue;
		}
		if (now < c->deadline)
			continue;
		switch (c->st) {
		case S_HTTP:
		case S_HELLO:
			w->st.hello_timeout++;
			px_log(p, c, "no %s within %u s: closed", c->st == S_HTTP ? "CONNECT request" : "ClientHello",
			       p->o.hello_timeout);
			finish(c, CLOSE_RST);
			break;
		case S_DRAIN:
			finish(c, CLOSE_QUIET); /* the engine settles what the client left open */
			break;
		case S_RELAY:
			w->st.idle_timeout++;
			set_note(c, "idle for %u s: closed by the proxy", p->o.idle_timeout);
			finish(c, CLOSE_QUIET);
			break;
		default:
			w->st.setup_timeout++;
			if (c->st == S_CL_TLS)
				set_note(c, "client silent for %u s after the server hello", p->o.setup_timeout);
			else
				set_note(c, "server not ready within %u s", p->o.setup_timeout);
			px_log(p, c, "%s", c->note);
			if (!c->ec)
				engine_open(c, NULL);
			finish(c, CLOSE_QUIET);
			break;
		}
	}
}

static void on_signal(struct proxy *p)
{
	struct signalfd_siginfo si;
	while (read(p->sfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		if (si.ssi_signo == SIGHUP) {
			if (p->h.reload) {
				elock(p, NULL);
				p->h.reload(p->h.ctx);
				eunlock(p);
			}
		} else {
			set_stop(p);
		}
	}
}

static void collect_cb(void *cookie, const struct resolve_result *res, void *ctx)
{
	on_resolved(cookie, res, ctx);
}

static void on_event(struct worker *w, struct ep_ref *ref, uint32_t ev)
{
	struct pconn *c = ref->c;
	switch (ref->kind) {
	case EP_LISTEN:
		on_accept(w);
		return;
	case EP_SIGNAL:
		on_signal(w->p);
		return;
	case EP_RESOLVER:
		resolver_collect(w->res, collect_cb, w);
		return;
	case EP_CLIENT:
		if (c->dead)
			return;
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
			c->c_rd = 1;
		/* an error (a reset) is left for recv() to report: it returns the
		 * bytes that came before the reset first, and the engine must see
		 * them (a client alert, then RST) */
		pump(c);
		if (!c->dead && (ev & (EPOLLERR | EPOLLHUP)) && !(c->cev & EPOLLIN)) {
			c->cpark = 1;
			update_interest(c);
		}
		return;
	case EP_UPSTREAM:
		if (c->dead)
			return;
		if (ev & (EPOLLIN | EPOLLERR | EPOLLHUP))
			c->u_rd = 1;
		if (c->st == S_CONNECT) {
			on_connected(c);
			return;
		}
		pump(c);
		if (!c->dead && (ev & (EPOLLERR | EPOLLHUP)) && !(c->uev & EPOLLIN)) {
			c->upark = 1;
			update_interest(c);
		}
		return;
	}
}

static void free_dead(struct worker *w)
{
	while (w->dead) {
		struct pconn *c = w->dead;
		w->dead = c->next;
		free(c);
	}
}

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[128];
	const char *colon;
	unsigned long port;
	char *end;
	struct resolve_result r;

	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || rb[1] != ':' || (size_t)(rb - s - 1) >= sizeof(host))
			return -1;
		memcpy(host, s + 1, (size_t)(rb - s - 1));
		host[rb - s - 1] = '\0';
		colon = rb + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon) {
			pi_strlcpy(host, "127.0.0.1", sizeof(host));
			colon = s - 1;
		} else {
			if ((size_t)(colon - s) >= sizeof(host))
				return -1;
			memcpy(host, s, (size_t)(colon - s));
			host[colon - s] = '\0';
			if (!host[0])
				pi_strlcpy(host, "127.0.0.1", sizeof(host));
			else if (strcmp(host, "localhost") == 0)
				pi_strlcpy(host, "127.0.0.1", sizeof(host));
		}
	}
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return -1;
	if (!resolve_literal(host, (uint16_t)port, &r))
		return -1;
	memcpy(ss, &r.addr[0], sizeof(*ss));
	*sl = r.len[0];
	return 0;
}

static int is_loopback(const struct sockaddr_storage *ss)
{
	if (ss->ss_family == AF_INET)
		return (ntohl(((const struct sockaddr_in *)ss)->sin_addr.s_addr) >> 24) == 127;
	if (ss->ss_family == AF_INET6) {
		const struct in6_addr *a = &((const struct sockaddr_in6 *)ss)->sin6_addr;
		if (IN6_IS_ADDR_LOOPBACK(a))
			return 1;
		return IN6_IS_ADDR_V4MAPPED(a) && a->s6_addr[12] == 127;
	}
	return 0;
}

static SSL_CTX *make_server_ctx(char *err, size_t errlen)
{
	SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
	if (!ctx) {
		forge_ssl_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	/* full handshakes only: each connection shows the forged certificate */
	SSL_CTX_set_options(ctx, SSL_OP_NO_TICKET | SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_num_tickets(ctx, 0);
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
	/* the forged leaf alone (cl_tls_start): no chain built from a store
	 * for every handshake */
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_NO_AUTO_CHAIN);
	SSL_CTX_set_client_hello_cb(ctx, hello_cb, NULL);
	SSL_CTX_set_alpn_select_cb(ctx, alpn_cb, NULL);
	return ctx;
}

static SSL_CTX *make_upstream_ctx(struct proxy *p, char *err, size_t errlen)
{
	const struct px_opts *o = &p->o;
	SSL_CTX *ctx;
	ctx = SSL_CTX_new(TLS_client_method());
	if (!ctx) {
		forge_ssl_error(err, errlen, "SSL_CTX_new");
		return NULL;
	}
	SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
	/* a read takes what the socket has (a whole server flight), not a
	 * record header then its body: a few system calls per handshake
	 * instead of a dozen or more; the relay reads until OpenSSL wants
	 * the socket, so nothing waits in its buffer unseen */
	SSL_CTX_set_read_ahead(ctx, 1);
#ifdef SSL_OP_IGNORE_UNEXPECTED_EOF
	SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
#endif
	/* resume sessions with servers (the proxy's own cache: sess_new_cb) */
	SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
	SSL_CTX_sess_set_new_cb(ctx, sess_new_cb);
	if (o->insecure_upstream) {
		SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, NULL);
		return ctx;
	}
	SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
	SSL_CTX_set_cert_verify_callback(ctx, upstream_verify_cb, p);
	if (o->upstream_cafile) {
		if (SSL_CTX_load_verify_locations(ctx, o->upstream_cafile, NULL) != 1) {
			forge_ssl_error(err, errlen, o->upstream_cafile);
			SSL_CTX_free(ctx);
			return NULL;
		}
	} else if (SSL_CTX_set_default_verify_paths(ctx) != 1) {
		forge_ssl_error(err, errlen, "the system CA store");
		SSL_CTX_free(ctx);
		return NULL;
	}
	return ctx;
}

/* A worker's epoll, listening socket (bound to ss, SO_REUSEPORT) and
 * resolver. 0, or -1 with err set. */
static int worker_init(struct worker *w, struct proxy *p, int idx, const struct sockaddr_storage *ss, socklen_t sl,
                       char *err, size_t errlen)
{
	struct epoll_event ev;
	int one = 1;
	w->p = p;
	w->idx = idx;
	w->lfd = -1;
	w->epfd = epoll_create1(EPOLL_CLOEXEC);
	w->res = resolver_new(PX_RESOLVER_THREADS, p->o.max_conns);
	if (w->epfd < 0 || !w->res) {
		snprintf(err, errlen, "cannot set up the event loop: %s", strerror(errno));
		return -1;
	}
	w->lfd = socket(ss->ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (w->lfd < 0 || setsockopt(w->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    (p->nworkers > 1 && setsockopt(w->lfd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) ||
	    bind(w->lfd, (const struct sockaddr *)ss, sl) != 0 || listen(w->lfd, 1024) != 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", p->o.listen, strerror(errno));
		return -1;
	}
	w->lref.kind = EP_LISTEN;
	w->rref.kind = EP_RESOLVER;
	memset(&ev, 0, sizeof(ev));
	ev.events = EPOLLIN;
	ev.data.ptr = &w->lref;
	w->lev = EPOLLIN;
	w->lreg = 1;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, w->lfd, &ev) != 0)
		goto epfail;
	ev.data.ptr = &w->rref;
	if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, resolver_fd(w->res), &ev) != 0)
		goto epfail;
	if (idx == 0) { /* signals go to the first worker */
		ev.data.ptr = &p->sref;
		if (epoll_ctl(w->epfd, EPOLL_CTL_ADD, p->sfd, &ev) != 0)
			goto epfail;
	}
	return 0;
epfail:
	snprintf(err, errlen, "epoll_ctl: %s", strerror(errno));
	return -1;
}

static void worker_close(struct worker *w)
{
	while (w->conns)
		finish(w->conns, CLOSE_QUIET);
	free_dead(w);
	if (w->res)
		resolver_free(w->res);
	w->res = NULL;
	if (w->lfd >= 0)
		close(w->lfd);
	if (w->epfd >= 0)
		close(w->epfd);
	w->lfd = w->epfd = -1;
}

struct proxy *proxy_new(const struct px_opts *o, const struct engine_opts *eo, const struct px_hooks *h,
                        char *err, size_t errlen)
{
	struct proxy *p = calloc(1, sizeof(*p));
	struct sockaddr_storage ss;
	socklen_t sl;
	struct conn_sink sink;
	sigset_t mask;
	struct rlimit rl;
	char host[64];
	uint16_t port;
	long ncpu;

	if (!p) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->o = *o;
	if (h)
		p->h = *h;
	p->sfd = -1;
	if (pthread_mutex_init(&p->emu, NULL) != 0 || pthread_mutex_init(&p->fmu, NULL) != 0 ||
	    pthread_mutex_init(&p->smu, NULL) != 0 || pthread_mutex_init(&p->vmu, NULL) != 0) {
		snprintf(err, errlen, "pthread_mutex_init failed");
		free(p);
		return NULL;
	}
	p->mu_init = 1;
	ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	p->nworkers = o->workers > 0 ? (int)o->workers : ncpu > 0 ? (int)ncpu : 1;
	if (p->nworkers > PX_MAX_WORKERS)
		p->nworkers = o->workers > 0 ? PX_MAX_WORKERS : PX_AUTO_WORKERS_MAX;
	if (!o->workers && p->nworkers > PX_AUTO_WORKERS_MAX)
		p->nworkers = PX_AUTO_WORKERS_MAX;
	p->w = calloc((size_t)p->nworkers, sizeof(*p->w));
	if (!p->w) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	for (int i = 0; i < p->nworkers; i++)
		p->w[i].lfd = p->w[i].epfd = -1;
	if (parse_listen(o->listen, &ss, &sl) < 0) {
		snprintf(err, errlen, "--listen %s: not ADDR:PORT with a numeric address", o->listen);
		goto fail;
	}
	if (!is_loopback(&ss) && !o->allow_remote) {
		snprintf(err, errlen,
		         "--listen %s is not a loopback address: other hosts could use the proxy; "
		         "add --allow-remote if that is what you want",
		         o->listen);
		goto fail;
	}
	if (o->nresolve) {
		p->resolve_map = rules_new();
		if (!p->resolve_map) {
			snprintf(err, errlen, "out of memory");
			goto fail;
		}
		for (int i = 0; i < o->nresolve; i++) {
			char why[128];
			struct resolve_result r;
			if (!resolve_literal(o->resolve[i].addr, 443, &r) ||
			    rules_add(p->resolve_map, o->resolve[i].host, why, sizeof(why)) < 0 ||
			    rules_count(p->resolve_map) != (size_t)i + 1) {
				snprintf(err, errlen, "--resolve %s:%s: want a distinct NAME and a numeric ADDR",
				         o->resolve[i].host, o->resolve[i].addr);
				goto fail;
			}
		}
	}
	p->forge = forge_open(o->cadir, err, errlen);
	if (!p->forge)
		goto fail;
	p->sctx = make_server_ctx(err, errlen);
	if (!p->sctx)
		goto fail;
	p->uctx = make_upstream_ctx(p, err, errlen);
	if (!p->uctx)
		goto fail;
	sink.on_verdict = sink_verdict;
	sink.on_conn = sink_conn;
	sink.ctx = p;
	p->e = engine_new(eo, &sink);
	if (!p->e) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	/* two descriptors per connection, and some for the rest */
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < (rlim_t)o->max_conns * 2 + 64) {
		rl.rlim_cur = rl.rlim_max < (rlim_t)o->max_conns * 2 + 64 ? rl.rlim_max : (rlim_t)o->max_conns * 2 + 64;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* signals: through a signalfd; blocked before any thread starts (the
	 * resolvers and the workers inherit the mask) */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	if (pthread_sigmask(SIG_BLOCK, &mask, &p->oldmask) != 0) {
		snprintf(err, errlen, "pthread_sigmask failed");
		goto fail;
	}
	p->mask_set = 1;
	signal(SIGPIPE, SIG_IGN);
	p->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (p->sfd < 0) {
		snprintf(err, errlen, "signalfd: %s", strerror(errno));
		goto fail;
	}
	p->sref.kind = EP_SIGNAL;
	for (int i = 0; i < p->nworkers; i++) {
		if (worker_init(&p->w[i], p, i, &ss, sl, err, errlen) < 0)
			goto fail;
		if (i == 0) { /* the others bind where the first did (port 0 picks one) */
			sl = sizeof(ss);
			if (getsockname(p->w[0].lfd, (struct sockaddr *)&ss, &sl) != 0) {
				snprintf(err, errlen, "getsockname: %s", strerror(errno));
				goto fail;
			}
			addr_text(&ss, host, sizeof(host), &port);
			snprintf(p->listen_str, sizeof(p->listen_str), ss.ss_family == AF_INET6 ? "[%s]:%u" : "%s:%u",
			         host, port);
			memcpy(&p->laddr, &ss, sizeof(ss));
		}
	}
	return p;
fail:
	proxy_free(p);
	return NULL;
}

/* One worker's loop, until the proxy stops; then its connections are
 * settled into the engine. The first worker also takes the signals and
 * calls the tick hook. */
static void worker_run(struct worker *w)
{
	struct proxy *p = w->p;
	struct epoll_event evs[PX_MAX_EVENTS];
	uint64_t last_sweep = mono_ns(), last_tick = last_sweep;
	while (!stopping(p)) {
		int n = epoll_wait(w->epfd, evs, PX_MAX_EVENTS, w->runq ? 0 : PX_TICK_MS);
		uint64_t now;
		if (n < 0 && errno != EINTR) {
			fprintf(stderr, "pinspect proxy: epoll_wait: %s\n", strerror(errno));
			set_stop(p);
			break;
		}
		for (int i = 0; i < n; i++)
			on_event(w, evs[i].data.ptr, evs[i].events);
		/* connections that stopped pumping for fairness, not for want of
		 * I/O: one more turn each, then epoll again */
		if (w->runq) {
			struct pconn *q = w->runq;
			w->runq = NULL;
			while (q) {
				struct pconn *nx = q->qnext;
				q->queued = 0;
				if (!q->dead)
					pump(q);
				q = nx;
			}
		}
		now = mono_ns();
		if (now - last_sweep >= PX_TICK_MS * NS_PER_MS) {
			last_sweep = now;
			sweep(w);
		}
		free_dead(w);
		if (w->idx == 0 && now - last_tick >= NS_PER_S) {
			last_tick = now;
			if (p->h.tick) {
				int stop;
				elock(p, NULL);
				stop = p->h.tick(p->h.ctx);
				eunlock(p);
				if (stop)
					set_stop(p);
			}
		}
	}
	/* settle what is still open: the engine decides what it can */
	while (w->conns)
		finish(w->conns, CLOSE_QUIET);
	free_dead(w);
}

static void *worker_main(void *arg)
{
	worker_run(arg);
	return NULL;
}

int proxy_run(struct proxy *p)
{
	for (int i = 1; i < p->nworkers; i++) {
		if (pthread_create(&p->w[i].th, NULL, worker_main, &p->w[i]) != 0) {
			fprintf(stderr, "pinspect proxy: cannot start worker %d: running with %d\n", i, i);
			break;
		}
		p->w[i].started = 1;
	}
	worker_run(&p->w[0]);
	set_stop(p);
	for (int i = 1; i < p->nworkers; i++)
		if (p->w[i].started) {
			pthread_join(p->w[i].th, NULL);
			p->w[i].started = 0;
		}
	return 0;
}

void proxy_free(struct proxy *p)
{
	if (!p)
		return;
	if (p->w) {
		for (int i = 0; i < p->nworkers; i++)
			worker_close(&p->w[i]);
		free(p->w);
	}
	if (p->sfd >= 0)
		close(p->sfd);
	if (p->mask_set)
		pthread_sigmask(SIG_SETMASK, &p->oldmask, NULL);
	engine_free(p->e);
	for (size_t i = 0; i < PX_SESS_BUCKETS; i++)
		while (p->sess[i])
			sess_drop(p, &p->sess[i]);
	for (size_t i = 0; i < PX_VC_BUCKETS; i++)
		while (p->vc[i])
			vc_drop(p, &p->vc[i]);
	SSL_CTX_free(p->sctx);
	SSL_CTX_free(p->uctx);
	forge_free(p->forge);
	rules_free(p->resolve_map);
	if (p->mu_init) {
		pthread_mutex_destroy(&p->emu);
		pthread_mutex_destroy(&p->fmu);
		pthread_mutex_destroy(&p->smu);
		pthread_mutex_destroy(&p->vmu);
	}
	free(p);
}

struct engine *proxy_engine(struct proxy *p)
{
	return p->e;
}

const struct px_stats *proxy_stats(const struct proxy *p)
{
	struct proxy *q = (struct proxy *)p; /* the sum is a cache */
	struct px_stats *t = &q->sum;
	memset(t, 0, sizeof(*t));
	for (int i = 0; i < p->nworkers; i++) {
		const struct px_stats *s = &p->w[i].st;
		t->accepted += s->accepted;
		t->refused_limit += s->refused_limit;
		t->bad_request += s->bad_request;
		t->forbidden_port += s->forbidden_port;
		t->not_tls += s->not_tls;
		t->hello_too_big += s->hello_too_big;
		t->hello_timeout += s->hello_timeout;
		t->setup_timeout += s->setup_timeout;
		t->idle_timeout += s->idle_timeout;
		t->spliced += s->spliced;
		t->intercepted += s->intercepted;
		t->upstream_failed += s->upstream_failed;
		t->client_tls_failed += s->client_tls_failed;
		t->upstream_resumed += s->upstream_resumed;
		t->upstream_verify_cached += s->upstream_verify_cached;
		t->bytes_c2s += s->bytes_c2s;
		t->bytes_s2c += s->bytes_s2c;
		t->open += s->open;
	}
	t->peak = __atomic_load_n(&q->peak, __ATOMIC_RELAXED);
	t->workers = (unsigned)p->nworkers;
	return t;
}

const char *proxy_listen_addr(const struct proxy *p)
{
	return p->listen_str;
}
