/* pool.h: a bounded free list of blocks of one size, for the objects made
 * and freed once per connection (the flow, its TLS state, its record).
 *
 * Why: the TLS state is larger than glibc's per-thread cache takes, so each
 * malloc/free of it went through the arena's bins (splitting, coalescing):
 * about a tenth of the packet thread's instructions on the bench capture.
 * A freed block is kept here instead, up to max of them, and handed out
 * again as is (pi_pool_get) or zeroed (pi_pool_zget). One thread only.
 *
 * Under AddressSanitizer nothing is kept: every block goes back to free(),
 * so a use after free is still caught.
 */
#ifndef PI_POOL_H
#define PI_POOL_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#if defined(__SANITIZE_ADDRESS__)
#define PI_POOL_KEEP 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PI_POOL_KEEP 0
#endif
#endif
#ifndef PI_POOL_KEEP
#define PI_POOL_KEEP 1
#endif

struct pi_pool {
	void *head;    /* freed blocks, linked through their first word */
	size_t size;
	uint32_t n, max;
};

static inline void pi_pool_init(struct pi_pool *p, size_t size, uint32_t max)
{
	p->head = NULL;
	p->size = size < sizeof(void *) ? sizeof(void *) : size;
	p->n = 0;
	p->max = PI_POOL_KEEP ? max : 0;
}

/* A block of p->size bytes, contents undefined; NULL without memory. */
static inline void *pi_pool_get(struct pi_pool *p)
{
	void *x = p->head;
	if (!x)
		return malloc(p->size);
	memcpy(&p->head, x, sizeof(void *));
	p->n--;
	return x;
}

static inline void *pi_pool_zget(struct pi_pool *p)
{
	void *x = pi_pool_get(p);
	if (x)
		memset(x, 0, p->size);
	return x;
}

static inline void pi_pool_put(struct pi_pool *p, void *x)
{
	if (!x)
		return;
	if (p->n >= p->max) {
		free(x);
		return;
	}
	memcpy(x, &p->head, sizeof(void *));
	p->head = x;
	p->n++;
}

/* Free every kept block. */
static inline void pi_pool_drain(struct pi_pool *p)
{
	while (p->head) {
		void *x = p->head;
		memcpy(&p->head, x, sizeof(void *));
		free(x);
	}
	p->n = 0;
}

/* Buffers of a connection's life whose sizes vary but repeat (a TLS
 * record or handshake message held across segments, a certificate chain):
 * over glibc's per-thread cache size too, so each malloc/free went through
 * the arena's bins (8% of the packet thread's time on the bench capture).
 * A freed buffer is kept per thread (up to 64 of them, 1 MB together,
 * none over PI_BUF_KEEP_MAX bytes; the oldest go first) and handed out
 * again for a request of exactly its size, so what a caller counts as held
 * is what it holds. A thread's are freed when it ends (pi_buf_drain for
 * the main thread). Nothing is kept under AddressSanitizer. (util.c) */
#define PI_BUF_KEEP_MAX (64u * 1024u)
/* len bytes (len > 0), contents undefined; NULL without memory. */
void *pi_buf_get(size_t len);
/* Give back a buffer of len bytes from pi_buf_get (or malloc); NULL is fine. */
void pi_buf_put(void *p, size_t len);
/* Free what this thread keeps. */
void pi_buf_drain(void);

#endif
