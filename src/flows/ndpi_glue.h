/* ndpi_glue.h: application classification with nDPI 4.2, fed sparingly.
 *
 * A flow is given to nDPI packet by packet only until nDPI has classified it
 * (or PI_NDPI_MAX_PKTS packets), then the nDPI flow state is freed. What
 * nDPI decides for a TLS flow rests on the ClientHello (SNI), so results are
 * cached per SNI: a second connection to the same name costs nothing. The
 * key is the caller's: pipeline.c gives the SNI, or for a hello without
 * one the server's address and port (nDPI then goes by its address lists).
 * A key whose flows keep ending without an answer is retried with back-off:
 * after m misses in a row, the next 2^m - 1 flows go without nDPI.
 */
#ifndef PI_NDPI_GLUE_H
#define PI_NDPI_GLUE_H

#include <stdint.h>

struct ndpi_ctx;
struct ndpi_flow_struct;

struct ndpi_result {
	char app[48];       /* "TLS.AppleiTunes", "" if unknown */
	char category[32];  /* "Media", "" if unknown */
};

/* NULL if nDPI cannot be initialised. */
struct ndpi_ctx *ndpi_ctx_new(void);
void ndpi_ctx_free(struct ndpi_ctx *n);

/* Per-flow classifier state: allocated lazily by ndpi_feed. */
struct ndpi_flow_state {
	struct ndpi_flow_struct *flow;
	uint16_t packets;
	uint8_t done;
	uint8_t claimed;    /* this flow classifies its SNI for the others */
	uint8_t deferred;   /* another flow classifies the SNI: take its answer */
	struct ndpi_result res;
};

/* Feed one packet (l3 = its innermost IP header). Returns 1 once classified
 * (res is final; the nDPI flow is freed), 0 while more packets help. */
int ndpi_feed(struct ndpi_ctx *n, struct ndpi_flow_state *s, const uint8_t *l3, uint32_t l3len,
              uint64_t ts_ns);
/* Classify by SNI alone when no packets were given (cache hit path):
 * returns 1 and fills res if the SNI was classified before. */
int ndpi_cached(struct ndpi_ctx *n, const char *sni, struct ndpi_result *res);
/* A flow with this SNI is about to be fed: returns 1 (feed it; the SNI is
 * now being classified), or 0 when another open flow is classifying the
 * same SNI: s is then done, deferred, and ndpi_flow_done takes that flow's
 * answer (once per distinct SNI, not once per connection). */
int ndpi_claim(struct ndpi_ctx *n, struct ndpi_flow_state *s, const char *sni);
/* nDPI has settled on a flow (s->done) with this SNI: remember its answer
 * for the SNI now, so that the flows that follow skip nDPI even while this
 * one is open. */
void ndpi_remember(struct ndpi_ctx *n, const struct ndpi_flow_state *s, const char *sni);
/* Flows nDPI could not classify for want of memory. */
uint64_t ndpi_alloc_failures(const struct ndpi_ctx *n);
/* Give up on the flow: settle the result with what nDPI has, free state. */
void ndpi_flow_done(struct ndpi_ctx *n, struct ndpi_flow_state *s, const char *sni);

#endif
