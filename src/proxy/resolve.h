/* resolve.h: name resolution off the event loop.
 *
 * getaddrinfo() blocks, so CONNECT host names are resolved by a few
 * threads; the event loop learns of results through an eventfd. Address
 * literals never reach the threads. A request belongs to the resolver from
 * submission until resolver_collect() hands its result back (or drops it,
 * if it was cancelled), so a connection that dies meanwhile only cancels.
 */
#ifndef PI_PROXY_RESOLVE_H
#define PI_PROXY_RESOLVE_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define RESOLVE_MAX_ADDRS 4

struct resolve_result {
	int n;                                  /* addresses, tried in this order */
	struct sockaddr_storage addr[RESOLVE_MAX_ADDRS];
	socklen_t len[RESOLVE_MAX_ADDRS];
	int gai_err;                            /* getaddrinfo error when n == 0 */
};

/* Resolve an address literal at once (no thread). 1 done, 0 not a literal. */
int resolve_literal(const char *host, uint16_t port, struct resolve_result *out);

struct resolver;
struct resolve_req;

/* nthreads workers, at most max_pending requests outstanding. The caller
 * must have blocked the signals it handles before this (the threads
 * inherit the mask). NULL on failure. */
struct resolver *resolver_new(int nthreads, size_t max_pending);
/* Stop the threads (waits up to two seconds for a getaddrinfo in
 * progress; past that the resolver is left to the process exit). */
void resolver_free(struct resolver *r);
/* Readable when results are waiting: call resolver_collect(). */
int resolver_fd(const struct resolver *r);
/* Queue host:port. NULL when the queue is full or out of memory. */
struct resolve_req *resolver_submit(struct resolver *r, const char *host, uint16_t port, void *cookie);
/* The caller no longer wants the answer: its cookie is never passed back. */
void resolver_cancel(struct resolver *r, struct resolve_req *q);
/* Hand each finished request to cb (cookie, result); frees the requests. */
void resolver_collect(struct resolver *r, void (*cb)(void *cookie, const struct resolve_result *res, void *ctx),
                      void *ctx);

#endif
