/* conn_queue.h: decided and finished connections handed, in order, to a
 * thread of their own.
 *
 * The packet path (decode, flows, TLS, verdicts, DNS attribution) fills a
 * self-contained record per event; the other thread runs what only reads
 * it (evidence, certificate diagnosis, the output sinks). A bounded ring:
 * the producer waits while it is full. One producer, one consumer, records
 * handled in the order they were pushed, so results do not depend on
 * timing.
 */
#ifndef PI_CONN_QUEUE_H
#define PI_CONN_QUEUE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/verdict.h"
#include "common/limits.h"
#include "dissectors/tls.h"

#define CQ_SLOTS 1024u

enum { CR_DECIDED = 1, CR_CLOSED = 2, CR_DNS = 4 };

struct conn_rec {
	unsigned what;                 /* CR_DECIDED and/or CR_CLOSED, or CR_DNS */
	/* a connection: its view is made on the queue's thread */
	struct conn c;                 /* CR_DNS: c.ipver only */
	char app[48], category[32];
	const char *input_path;        /* valid until the next cq_drain */
	/* a DNS message (CR_DNS), for the tracker */
	int dns_kind, transport;
	uint8_t src[16], dst[16];
	uint16_t sport, dport;
	uint64_t frame, ts_ns;
	uint64_t horizon;              /* the packet thread's oldest open flow (dns_set_horizon) */
	uint8_t *msg;                  /* grown on use, kept for reuse */
	size_t msg_len, msg_cap;
	int has_certs;
	struct tls_certs certs;        /* certs.der points to der below */
	uint8_t *der;                  /* grown on use, kept for reuse */
	size_t der_cap;
};

struct conn_queue;

/* fn(ctx, rec) runs on the queue's thread for every record pushed. NULL
 * when the thread or memory cannot be had (the caller then works inline). */
struct conn_queue *cq_new(void (*fn)(void *ctx, struct conn_rec *r), void *ctx);
/* The next record to fill (waits while the ring is full). */
struct conn_rec *cq_slot(struct conn_queue *q);
/* Hand the record from cq_slot to the thread. */
void cq_push(struct conn_queue *q);
/* Wait until every record pushed so far has been handled. */
void cq_drain(struct conn_queue *q);
/* Drain, stop the thread, free. */
void cq_free(struct conn_queue *q);

/* Copy a DNS message into r (r->msg); 0, or -1 without memory. */
int cq_copy_msg(struct conn_rec *r, const uint8_t *msg, size_t len);

/* Hand the DER certificates of certs over to r (r->certs, r->der), without
 * a copy: certs keeps its count and frame but no longer holds them (der
 * NULL, kept 0). */
void cq_take_certs(struct conn_rec *r, struct tls_certs *certs);

#endif
