/* proxy.h: the inline verification proxy: intercept or splice per name.
 *
 * Worker threads (one per CPU by default), each an event loop (epoll,
 * non-blocking sockets, level-triggered) with its own listening socket
 * (SO_REUSEPORT) and connections; each connection is a state machine:
 *
 *   accept -> [CONNECT head] -> ClientHello (peeked with the project's TLS
 *   dissector) -> decide (hook) -> resolve -> connect upstream
 *     splice:    relay the bytes untouched, both ways
 *     intercept: TLS to the server (verified), then TLS to the client with
 *                a forged leaf (forge.h), then relay the plaintext
 *
 * The engine (pipeline.h) is fed exactly what the client sent and what the
 * proxy sent to the client (for an intercepted connection: the TLS bytes
 * of the client leg, through a BIO pair), and how the client closed: the
 * verdicts, the evidence and the candidates are the engine's, as for a
 * capture.
 *
 * Bounds (px_opts, defaults in PX_DEFAULT_*): connections, time to send
 * the CONNECT head and the ClientHello, time to set up, idle time, the
 * ClientHello size, every buffer. A client that breaks a bound is closed;
 * it cannot stall the others (nothing blocks) or grow memory past
 * max_conns * PX_CONN_MAX_BYTES. The engine is shared: the workers feed it
 * under one lock, so its verdicts are the same as with one worker.
 *
 * Transparent mode (Linux): clients are redirected to the listener by the
 * firewall, and the destination is read with SO_ORIGINAL_DST:
 *   iptables -t nat -A OUTPUT -p tcp --dport 443 -m owner ! --uid-owner pinspect \
 *            -j REDIRECT --to-ports 8080
 *   nft add rule ip nat output tcp dport 443 meta skuid != pinspect redirect to :8080
 * (the owner match keeps the proxy's own upstream connections out of the loop;
 * so does px_opts.mark, `--mark`, with `meta mark != N` in the rule; for other
 * hosts' traffic use the PREROUTING chain instead).
 */
#ifndef PI_PROXY_PROXY_H
#define PI_PROXY_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include "pipeline.h"
#include "proxy/forge.h"

#define PX_DEFAULT_LISTEN "127.0.0.1:8080"
#define PX_DEFAULT_MAX_CONNS 512u
#define PX_DEFAULT_HELLO_TIMEOUT 10u  /* s: accept -> CONNECT head and ClientHello */
#define PX_DEFAULT_SETUP_TIMEOUT 30u  /* s: ClientHello -> relaying */
#define PX_DEFAULT_IDLE_TIMEOUT 300u  /* s: nothing either way while relaying */
#define PX_DRAIN_TIMEOUT_MS 3000u     /* after a failed client handshake: wait for its close */
#define PX_CLOSE_HOLD_MS 500u         /* after a client close_notify: wait for its FIN */
#define PX_MAX_HELLO (64u * 1024u)    /* client bytes held before the decision */
#define PX_RELAY_BUF (64u * 1024u)    /* per direction, spliced */
#define PX_PLAIN_BUF (16u * 1024u)    /* per direction, intercepted plaintext */
#define PX_BIO_BUF (34u * 1024u)      /* per direction, client-leg TLS (two records) */
#define PX_CONN_MAX_BYTES (PX_MAX_HELLO + PX_RELAY_BUF + 2 * PX_PLAIN_BUF + 2 * PX_BIO_BUF + 80u * 1024u)
#define PX_MAX_ALLOW_PORTS 32
#define PX_MAX_WORKERS 64
#define PX_AUTO_WORKERS_MAX 8 /* workers by default: the CPUs, at most this */
#define PX_MAX_RESOLVE 64

enum px_mode { PX_UNDECIDED = 0, PX_SPLICE, PX_INTERCEPT };

const char *px_mode_name(enum px_mode m);

/* What the hooks see of a proxied connection. */
struct px_conn_info {
	uint64_t id;              /* 1, 2, ... per run */
	const char *name;         /* the name decided on: SNI, else the CONNECT host or server address */
	const char *sni;          /* "" if none */
	const char *target;       /* "host:port" the client asked for (CONNECT or original destination) */
	enum px_mode mode;
	const char *note;         /* the proxy's own account ("" if none): upstream failure, client TLS error... */
	uint64_t c2s_bytes;       /* bytes from the client, relayed */
	uint64_t s2c_bytes;       /* bytes to the client */
};

struct px_hooks {
	/* The ClientHello is in: intercept or splice? (NULL: splice everything) */
	enum px_mode (*decide)(void *ctx, const struct px_conn_info *ci);
	/* The engine decided a connection's verdict (once per TLS connection). */
	void (*on_verdict)(void *ctx, const struct conn_out *o, const struct px_conn_info *ci);
	/* The connection is finished: the engine's sink, with the proxy's view. */
	void (*on_conn)(void *ctx, const struct conn_out *o, const struct px_conn_info *ci);
	/* About once a second; return non-zero to stop the proxy. */
	int (*tick)(void *ctx);
	/* SIGHUP was received. */
	void (*reload)(void *ctx);
	void *ctx;
};

struct px_opts {
	const char *cadir;                /* DIR with ca.pem and ca.key */
	const char *listen;               /* "ADDR:PORT", "[ADDR6]:PORT" */
	int allow_remote;                 /* accept a listen address that is not loopback */
	int transparent;                  /* SO_ORIGINAL_DST instead of CONNECT */
	uint32_t mark;                    /* SO_MARK on connections to servers (0: none) */
	const char *upstream_cafile;      /* NULL: the system store */
	int insecure_upstream;            /* do not verify servers (explicit, warned) */
	enum forge_key leaf_key;          /* FORGE_KEY_AUTO: the server's key type */
	uint16_t allow_ports[PX_MAX_ALLOW_PORTS]; /* besides 443 */
	int nallow_ports;
	unsigned max_conns;
	unsigned workers;                 /* threads; 0: one per CPU (at most PX_AUTO_WORKERS_MAX) */
	unsigned hello_timeout, setup_timeout, idle_timeout; /* seconds */
	struct { char host[256]; char addr[64]; } resolve[PX_MAX_RESOLVE]; /* --resolve HOST:ADDR */
	int nresolve;
	int quiet;                        /* no proxy log lines on stderr */
};

/* Defaults into o (listen, limits, ports). */
void px_opts_init(struct px_opts *o);

struct px_stats {
	uint64_t accepted, refused_limit, bad_request, forbidden_port, not_tls, hello_too_big;
	uint64_t hello_timeout, setup_timeout, idle_timeout;
	uint64_t spliced, intercepted, upstream_failed, client_tls_failed;
	uint64_t upstream_resumed;        /* server TLS sessions resumed */
	uint64_t upstream_verify_cached;  /* server chains taken as verified (the same chain, name, within PX_VC_TTL) */
	uint64_t bytes_c2s, bytes_s2c;
	unsigned open, peak;
	unsigned workers;
};

struct proxy;

/* Load the CA, make the TLS contexts and the engine, bind the listener.
 * NULL on failure (err says why). */
struct proxy *proxy_new(const struct px_opts *o, const struct engine_opts *eo, const struct px_hooks *h,
                        char *err, size_t errlen);
/* Serve until SIGINT or SIGTERM, or until a tick hook asks to stop; then
 * finalise every open connection into the engine. Returns 0, or -1 on a
 * fatal error (printed). */
int proxy_run(struct proxy *p);
void proxy_free(struct proxy *p);

struct engine *proxy_engine(struct proxy *p);
const struct px_stats *proxy_stats(const struct proxy *p);
/* The bound listen address as "ADDR:PORT". */
const char *proxy_listen_addr(const struct proxy *p);

#endif
