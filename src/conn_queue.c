/* conn_queue.c: a bounded single-producer, single-consumer ring of
 * connection records, with a consumer thread (see conn_queue.h). */
#include "conn_queue.h"

#include <pthread.h>
#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "common/pool.h"

/* A sleeping consumer is woken once a batch is waiting (or at a drain): a
 * wake-up per record would cost more than the record. A producer waiting
 * for room is woken as soon as CQ_ROOM slots are free: it is the thread
 * that sets the pace, and each record it is kept from making is time lost
 * (with the two at 256, the packet thread waited 66-115 ms a run on the
 * 1 GB capture; with room at 64 and 1,024 slots, 25-36 ms). */
#define CQ_BATCH 256u
#define CQ_ROOM 64u
#define CQ_KEEP_BYTES (16u * 1024u) /* per slot buffer kept between records */

/* The counters are atomics: the producer publishes a record by storing
 * pushed, the consumer frees its slot by storing done, and neither takes
 * the mutex while there are records and room (a lock per record made the
 * mutex's cache line travel between the cores on every record). The mutex
 * and the conditions are for sleeping only: a thread about to sleep sets
 * its waits flag, then looks at the other side's counter again; the other
 * side stores its counter, then looks at the flag (both sequentially
 * consistent, so at least one of them sees the other), and signals under
 * the mutex, which the sleeper holds from its last look until it waits. */
struct conn_queue {
	struct conn_rec *slot;         /* CQ_SLOTS */
	alignas(64) _Atomic uint64_t pushed; /* records handed on (producer) */
	uint64_t done_seen;                  /* the producer's last look at done */
	alignas(64) _Atomic uint64_t done;   /* records handled (consumer) */
	alignas(64) _Atomic int c_waits, p_waits; /* consumer / producer asleep */
	_Atomic int stop;
	pthread_mutex_t mu;
	pthread_cond_t more, room;     /* records were pushed; some were handled */
	pthread_t th;
	void (*fn)(void *ctx, struct conn_rec *r);
	void *ctx;
};

/* Consumer: sleep until a record is there (returns the new end) or the
 * queue stops with none (returns at). */
static uint64_t wait_more(struct conn_queue *q, uint64_t at)
{
	uint64_t end;
	pthread_mutex_lock(&q->mu);
	atomic_store(&q->c_waits, 1);
	while ((end = atomic_load(&q->pushed)) == at && !atomic_load(&q->stop))
		pthread_cond_wait(&q->more, &q->mu);
	atomic_store(&q->c_waits, 0);
	pthread_mutex_unlock(&q->mu);
	return end;
}

static void *consumer(void *arg)
{
	struct conn_queue *q = arg;
	uint64_t at = 0;
	for (;;) {
		uint64_t end = atomic_load_explicit(&q->pushed, memory_order_acquire);
		if (end == at && (end = wait_more(q, at)) == at)
			break; /* stopped, nothing left */
		while (at != end) {
			q->fn(q->ctx, &q->slot[at % CQ_SLOTS]);
			at++;
			atomic_store(&q->done, at);
			/* the producer waits for CQ_ROOM free slots, or (drain) for the end */
			if (atomic_load(&q->p_waits)) {
				uint64_t p = atomic_load(&q->pushed);
				if (p - at <= CQ_SLOTS - CQ_ROOM || p == at) {
					pthread_mutex_lock(&q->mu);
					pthread_cond_signal(&q->room);
					pthread_mutex_unlock(&q->mu);
				}
			}
		}
	}
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
	atomic_init(&q->pushed, 0);
	atomic_init(&q->done, 0);
	atomic_init(&q->c_waits, 0);
	atomic_init(&q->p_waits, 0);
	atomic_init(&q->stop, 0);
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

/* Producer: sleep until the consumer has handled up to want. */
static void wait_done(struct conn_queue *q, int (*ok)(uint64_t pushed, uint64_t done), uint64_t p)
{
	pthread_mutex_lock(&q->mu);
	atomic_store(&q->p_waits, 1);
	pthread_cond_signal(&q->more); /* a consumer asleep on less than a batch */
	while (!ok(p, q->done_seen = atomic_load(&q->done)))
		pthread_cond_wait(&q->room, &q->mu);
	atomic_store(&q->p_waits, 0);
	pthread_mutex_unlock(&q->mu);
}

static int has_room(uint64_t p, uint64_t d)
{
	return p - d < CQ_SLOTS;
}

static int all_done(uint64_t p, uint64_t d)
{
	return p == d;
}

struct conn_rec *cq_slot(struct conn_queue *q)
{
	struct conn_rec *r;
	uint64_t p = atomic_load_explicit(&q->pushed, memory_order_relaxed); /* ours */
	if (!has_room(p, q->done_seen) &&
	    !has_room(p, q->done_seen = atomic_load_explicit(&q->done, memory_order_acquire)))
		wait_done(q, has_room, p);
	r = &q->slot[p % CQ_SLOTS];
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
	uint64_t p = atomic_load_explicit(&q->pushed, memory_order_relaxed) + 1;
	atomic_store(&q->pushed, p); /* the record is the consumer's now */
	if (atomic_load(&q->c_waits) && p - atomic_load(&q->done) >= CQ_BATCH) {
		pthread_mutex_lock(&q->mu);
		pthread_cond_signal(&q->more);
		pthread_mutex_unlock(&q->mu);
	}
}

void cq_drain(struct conn_queue *q)
{
	uint64_t p;
	if (!q)
		return;
	p = atomic_load_explicit(&q->pushed, memory_order_relaxed);
	if (atomic_load(&q->done) != p)
		wait_done(q, all_done, p);
}

void cq_free(struct conn_queue *q)
{
	if (!q)
		return;
	pthread_mutex_lock(&q->mu);
	atomic_store(&q->stop, 1);
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

void cq_take_certs(struct conn_rec *r, struct tls_certs *certs)
{
	r->has_certs = 0;
	if (!certs || !certs->der)
		return;
	pi_buf_put(r->der, r->der_cap); /* for the dissector's next chain */
	r->der = certs->der;
	r->der_cap = certs->der_size;
	r->certs = *certs;
	r->has_certs = 1;
	certs->der = NULL;
	certs->der_size = 0;
	certs->kept = 0;
}
