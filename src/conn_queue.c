/* conn_queue.c: a bounded single-producer, single-consumer ring of
 * connection records, with a consumer thread (see conn_queue.h). */
#include "conn_queue.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* A sleeping thread is woken once a batch is waiting (or there is room for
 * one, or at a drain): a wake-up per record would cost more than the record. */
#define CQ_BATCH 128u
#define CQ_KEEP_BYTES (16u * 1024u) /* per slot buffer kept between records */

struct conn_queue {
	struct conn_rec *slot;         /* CQ_SLOTS */
	uint64_t pushed, done;         /* records handed on, records handled */
	int stop;
	int c_waits, p_waits;          /* consumer / producer asleep on the mutex */
	pthread_mutex_t mu;
	pthread_cond_t more, room;     /* a record was pushed; one was handled */
	pthread_t th;
	void (*fn)(void *ctx, struct conn_rec *r);
	void *ctx;
};

static void *consumer(void *arg)
{
	struct conn_queue *q = arg;
	pthread_mutex_lock(&q->mu);
	for (;;) {
		uint64_t at;
		while (q->done == q->pushed && !q->stop) {
			q->c_waits = 1;
			pthread_cond_wait(&q->more, &q->mu);
			q->c_waits = 0;
		}
		if (q->done == q->pushed)
			break; /* stopped, nothing left */
		at = q->done;
		pthread_mutex_unlock(&q->mu);
		q->fn(q->ctx, &q->slot[at % CQ_SLOTS]);
		pthread_mutex_lock(&q->mu);
		q->done++;
		/* the producer waits for room for a batch, or (drain) for the end */
		if (q->p_waits && (q->pushed - q->done <= CQ_SLOTS - CQ_BATCH || q->done == q->pushed))
			pthread_cond_signal(&q->room);
	}
	pthread_mutex_unlock(&q->mu);
	return NULL;
}

struct conn_queue *cq_new(void (*fn)(void *ctx, struct conn_rec *r), void *ctx)
{
	struct conn_queue *q = calloc(1, sizeof(*q));
	if (!q)
		return NULL;
	q->slot = calloc(CQ_SLOTS, sizeof(*q->slot));
	if (!q->slot) {
		free(q);
		return NULL;
	}
	q->fn = fn;
	q->ctx = ctx;
	pthread_mutex_init(&q->mu, NULL);
	pthread_cond_init(&q->more, NULL);
	pthread_cond_init(&q->room, NULL);
	if (pthread_create(&q->th, NULL, consumer, q) != 0) {
		pthread_mutex_destroy(&q->mu);
		pthread_cond_destroy(&q->more);
		pthread_cond_destroy(&q->room);
		free(q->slot);
		free(q);
		return NULL;
	}
	return q;
}

struct conn_rec *cq_slot(struct conn_queue *q)
{
	struct conn_rec *r;
	pthread_mutex_lock(&q->mu);
	while (q->pushed - q->done >= CQ_SLOTS) {
		q->p_waits = 1;
		pthread_cond_wait(&q->room, &q->mu);
		q->p_waits = 0;
	}
	pthread_mutex_unlock(&q->mu);
	r = &q->slot[q->pushed % CQ_SLOTS];
	r->what = 0;
	r->has_certs = 0;
	r->msg_len = 0;
	/* buffers are kept for reuse only while small: a ring full of large
	 * DNS-over-TCP messages or certificate chains would hold megabytes */
	if (r->msg_cap > CQ_KEEP_BYTES) {
		free(r->msg);
		r->msg = NULL;
		r->msg_cap = 0;
	}
	if (r->der_cap > CQ_KEEP_BYTES) {
		free(r->der);
		r->der = NULL;
		r->der_cap = 0;
	}
	return r;
}

void cq_push(struct conn_queue *q)
{
	pthread_mutex_lock(&q->mu);
	q->pushed++;
	if (q->c_waits && q->pushed - q->done >= CQ_BATCH)
		pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->mu);
}

void cq_drain(struct conn_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	pthread_cond_signal(&q->more);
	while (q->done != q->pushed) {
		q->p_waits = 1;
		pthread_cond_wait(&q->room, &q->mu);
		q->p_waits = 0;
	}
	pthread_mutex_unlock(&q->mu);
}

void cq_free(struct conn_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	q->stop = 1;
	pthread_cond_signal(&q->more);
	pthread_mutex_unlock(&q->mu);
	pthread_join(q->th, NULL); /* it handles what is left first */
	pthread_mutex_destroy(&q->mu);
	pthread_cond_destroy(&q->more);
	pthread_cond_destroy(&q->room);
	for (size_t i = 0; i < CQ_SLOTS; i++) {
		free(q->slot[i].der);
		free(q->slot[i].msg);
	}
	free(q->slot);
	free(q);
}

int cq_copy_msg(struct conn_rec *r, const uint8_t *msg, size_t len)
{
	if (len > r->msg_cap) {
		uint8_t *m = realloc(r->msg, len);
		if (!m)
			return -1;
		r->msg = m;
		r->msg_cap = len;
	}
	if (len)
		memcpy(r->msg, msg, len);
	r->msg_len = len;
	return 0;
}

int cq_copy_certs(struct conn_rec *r, const struct tls_certs *certs)
{
	size_t total = 0;
	r->has_certs = 0;
	if (!certs || !certs->der)
		return 0;
	for (uint32_t i = 0; i < certs->kept && i < PI_TLS_MAX_CERTS; i++)
		if ((size_t)certs->off[i] + certs->len[i] > total)
			total = (size_t)certs->off[i] + certs->len[i];
	if (total > r->der_cap) {
		uint8_t *d = realloc(r->der, total);
		if (!d)
			return -1;
		r->der = d;
		r->der_cap = total;
	}
	if (total)
		memcpy(r->der, certs->der, total);
	r->certs = *certs;
	r->certs.der = r->der;
	r->has_certs = 1;
	return 0;
}
