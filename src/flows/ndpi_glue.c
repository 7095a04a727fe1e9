/* ndpi_glue.c: nDPI 4.2 classification (ndpi_api.h), bounded per flow. */
#include "flows/ndpi_glue.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <ndpi/ndpi_api.h>

#include "common/limits.h"
#include "common/pool.h"
#include "common/util.h"

#define SNI_CACHE_SIZE 4096u /* direct-mapped: a collision only costs a re-run */

struct sni_slot {
	uint64_t hash;
	char sni[64];
	uint8_t pending;    /* a flow is being classified for this SNI */
	uint32_t misses;    /* flows of it that ended without an answer, in a row */
	uint32_t skipped;   /* flows not classified since the last miss */
	struct ndpi_result res;
};

/* ---- the module's arena ------------------------------------------------
 *
 * nDPI builds its module out of some 100,000 small blocks (5 MB: protocol
 * tables, host automata, address trees) and frees them one by one at the
 * end. Through malloc that was 4 ms of a run of pinspect on an empty
 * capture (24 ms in all): the blocks' headers on the way in, and on the
 * way out the frees and malloc's consolidation of them. While a module is
 * built, nDPI's allocations (set_ndpi_malloc, process-wide) are cut from
 * an arena of the module's instead: a reserved range, pages taken as
 * written, the whole given back with the module; a free inside an arena
 * does nothing. What nDPI allocates later, on other threads or after the
 * build, goes to malloc as before. Under AddressSanitizer there is no
 * arena (PI_POOL_KEEP), so its checks see every block. */
#define ARENA_SIZE (64u << 20)   /* reserved; about 5 MB used */
#define ARENAS 8                 /* modules alive at once with an arena */

struct arena {
	char *base, *next, *end;
};

static struct {
	_Atomic uintptr_t lo, hi;    /* a live arena's range, 0 when the slot is free */
} arenas[ARENAS];
static _Thread_local struct arena *building; /* this thread's module being built */
static pthread_once_t hooks_once = PTHREAD_ONCE_INIT;

static void *arena_malloc(size_t size)
{
	struct arena *a = building;
	size_t need = size ? (size + 15) & ~(size_t)15 : 16; /* malloc's alignment, a block each */
	if (a && need >= size && need <= (size_t)(a->end - a->next)) {
		void *p = a->next;
		a->next += need;
		return p;
	}
	return malloc(size);
}

static void arena_free(void *p)
{
	uintptr_t u = (uintptr_t)p;
	for (int i = 0; i < ARENAS; i++)
		if (u >= atomic_load_explicit(&arenas[i].lo, memory_order_relaxed) &&
		    u < atomic_load_explicit(&arenas[i].hi, memory_order_relaxed))
			return; /* given back with the arena */
	free(p);
}

static void hooks_install(void)
{
	set_ndpi_malloc(arena_malloc);
	set_ndpi_free(arena_free);
}

/* A new arena in *a, registered: 1, or 0 when there is none to be had
 * (nDPI then uses malloc throughout). */
static int arena_new(struct arena *a)
{
	void *m;
	int slot = -1;
	if (!PI_POOL_KEEP)
		return 0;
	for (int i = 0; i < ARENAS && slot < 0; i++) {
		uintptr_t z = 0;
		if (atomic_compare_exchange_strong(&arenas[i].lo, &z, (uintptr_t)1))
			slot = i; /* claimed: lo 1, hi 0 holds no address */
	}
	if (slot < 0)
		return 0;
	m = mmap(NULL, ARENA_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		atomic_store(&arenas[slot].lo, 0);
		return 0;
	}
	a->base = a->next = m;
	a->end = a->base + ARENA_SIZE;
	/* lo before hi: a free on another thread sees the range empty (hi 0)
	 * or whole, never from the claim's 1 up */
	atomic_store(&arenas[slot].lo, (uintptr_t)a->base);
	atomic_store(&arenas[slot].hi, (uintptr_t)a->end);
	return 1;
}

/* After the module is gone: nothing of nDPI points into the arena. */
static void arena_free_all(struct arena *a)
{
	if (!a->base)
		return;
	for (int i = 0; i < ARENAS; i++) {
		if (atomic_load(&arenas[i].lo) == (uintptr_t)a->base) {
			atomic_store(&arenas[i].hi, 0); /* empty first, then free */
			atomic_store(&arenas[i].lo, 0);
		}
	}
	munmap(a->base, ARENA_SIZE);
	a->base = a->next = a->end = NULL;
}

/* ---- contexts ----------------------------------------------------------- */

struct ndpi_ctx {
	struct ndpi_detection_module_struct *mod;
	struct sni_slot *cache;
	uint64_t alloc_failures; /* flows left unclassified: out of memory */
	struct arena arena;      /* the module's blocks (base NULL: malloc's) */
};

struct ndpi_ctx *ndpi_ctx_new(void)
{
	struct ndpi_ctx *n = calloc(1, sizeof(*n));
	NDPI_PROTOCOL_BITMASK all;
	if (!n)
		return NULL;
	pthread_once(&hooks_once, hooks_install);
	building = arena_new(&n->arena) ? &n->arena : NULL;
	n->mod = ndpi_init_detection_module(ndpi_no_prefs);
	n->cache = calloc(SNI_CACHE_SIZE, sizeof(*n->cache));
	if (!n->mod || !n->cache) {
		building = NULL;
		ndpi_ctx_free(n);
		return NULL;
	}
	NDPI_BITMASK_SET_ALL(all);
	ndpi_set_protocol_detection_bitmask2(n->mod, &all);
	ndpi_finalize_initialization(n->mod);
	building = NULL;
	return n;
}

void ndpi_ctx_free(struct ndpi_ctx *n)
{
	if (!n)
		return;
	if (n->mod)
		ndpi_exit_detection_module(n->mod);
	arena_free_all(&n->arena);
	free(n->cache);
	free(n);
}

static void settle(struct ndpi_ctx *n, struct ndpi_flow_state *s, ndpi_protocol p)
{
	char buf[64];
	if (p.app_protocol == NDPI_PROTOCOL_UNKNOWN && p.master_protocol == NDPI_PROTOCOL_UNKNOWN) {
		s->res.app[0] = '\0';
		s->res.category[0] = '\0';
	} else {
		ndpi_protocol2name(n->mod, p, buf, sizeof(buf));
		pi_strlcpy(s->res.app, buf, sizeof(s->res.app));
		pi_strlcpy(s->res.category, ndpi_category_get_name(n->mod, p.category) ?
		           ndpi_category_get_name(n->mod, p.category) : "", sizeof(s->res.category));
	}
	s->done = 1;
	if (s->flow) {
		ndpi_flow_free(s->flow);
		s->flow = NULL;
	}
}

int ndpi_feed(struct ndpi_ctx *n, struct ndpi_flow_state *s, const uint8_t *l3, uint32_t l3len,
              uint64_t ts_ns)
{
	if (s->done)
		return 1;
	if (!s->flow) {
		s->flow = ndpi_flow_malloc(SIZEOF_FLOW_STRUCT);
		if (!s->flow) {
			n->alloc_failures++;
			s->done = 1;
			return 1;
		}
		memset(s->flow, 0, SIZEOF_FLOW_STRUCT);
	}
	if (l3len > 0xffff)
		l3len = 0xffff;
	ndpi_protocol p = ndpi_detection_process_packet(n->mod, s->flow, l3, (unsigned short)l3len,
	                                                ts_ns / 1000000u);
	s->packets++;
	if ((p.app_protocol != NDPI_PROTOCOL_UNKNOWN &&
	     !ndpi_extra_dissection_possible(n->mod, s->flow)) ||
	    s->packets >= PI_NDPI_MAX_PKTS) {
		if (s->packets >= PI_NDPI_MAX_PKTS && p.app_protocol == NDPI_PROTOCOL_UNKNOWN) {
			uint8_t guessed = 0;
			p = ndpi_detection_giveup(n->mod, s->flow, 1, &guessed);
		}
		settle(n, s, p);
		return 1;
	}
	return 0;
}

static struct sni_slot *slot_for(struct ndpi_ctx *n, const char *sni, uint64_t *h)
{
	*h = pi_hash(sni, strlen(sni), 7);
	return &n->cache[*h & (SNI_CACHE_SIZE - 1)];
}

static int slot_is(const struct sni_slot *sl, uint64_t h, const char *sni)
{
	return sl->hash == h && strncmp(sl->sni, sni, sizeof(sl->sni) - 1) == 0;
}

uint64_t ndpi_alloc_failures(const struct ndpi_ctx *n)
{
	return n ? n->alloc_failures : 0;
}

int ndpi_cached(struct ndpi_ctx *n, const char *sni, struct ndpi_result *res)
{
	uint64_t h;
	struct sni_slot *sl;
	if (!sni || !*sni)
		return 0;
	sl = slot_for(n, sni, &h);
	if (!slot_is(sl, h, sni) || !sl->res.app[0])
		return 0;
	*res = sl->res;
	return 1;
}

int ndpi_claim(struct ndpi_ctx *n, struct ndpi_flow_state *s, const char *sni)
{
	uint64_t h;
	struct sni_slot *sl;
	if (!n || !sni || !*sni)
		return 1;
	sl = slot_for(n, sni, &h);
	if (slot_is(sl, h, sni)) {
		if (sl->pending) {
			s->deferred = 1;
			s->done = 1; /* the answer comes from the flow classifying the name */
			return 0;
		}
		if (sl->misses) {
			/* Flows of this name ended unclassified m times in a row (cut
			 * short: no server flight): let the next 2^m - 1 flows go
			 * without nDPI, then try again. They take an answer found by
			 * then at their close (deferred), else none, as the flows
			 * before them. Without this, a name whose connections never
			 * complete ran nDPI's ClientHello work (a JA3 string printed
			 * number by number) for every one of them. */
			uint32_t m = sl->misses < 16 ? sl->misses : 16;
			if (sl->skipped < (1u << m) - 1) {
				sl->skipped++;
				s->deferred = 1;
				s->done = 1;
				return 0;
			}
			sl->skipped = 0;
		}
	} else {
		sl->misses = 0;
		sl->skipped = 0;
	}
	sl->hash = h;
	pi_strlcpy(sl->sni, sni, sizeof(sl->sni));
	memset(&sl->res, 0, sizeof(sl->res));
	sl->pending = 1;
	s->claimed = 1;
	return 1;
}

void ndpi_remember(struct ndpi_ctx *n, const struct ndpi_flow_state *s, const char *sni)
{
	uint64_t h;
	struct sni_slot *sl;
	if (!n || !s->done || !sni || !*sni || !s->res.app[0])
		return;
	sl = slot_for(n, sni, &h);
	if (slot_is(sl, h, sni) && !sl->pending && sl->res.app[0])
		return;
	sl->hash = h;
	pi_strlcpy(sl->sni, sni, sizeof(sl->sni));
	sl->res = s->res;
	sl->pending = 0;
	sl->misses = 0;
	sl->skipped = 0;
}

void ndpi_flow_done(struct ndpi_ctx *n, struct ndpi_flow_state *s, const char *sni)
{
	if (s->deferred) {
		/* what the flow that classified the name found, if it has */
		(void)ndpi_cached(n, sni, &s->res);
		return;
	}
	if (!s->done) {
		if (s->flow) {
			uint8_t guessed = 0;
			settle(n, s, ndpi_detection_giveup(n->mod, s->flow, 1, &guessed));
		} else {
			s->done = 1;
		}
	}
	/* done without settle(): the result came from the SNI cache while the
	 * nDPI flow was still open */
	if (s->flow) {
		ndpi_flow_free(s->flow);
		s->flow = NULL;
	}
	ndpi_remember(n, s, sni);
	if (s->claimed && sni && *sni) {
		/* no answer after all: the next flow of the name tries */
		uint64_t h;
		struct sni_slot *sl = slot_for(n, sni, &h);
		if (slot_is(sl, h, sni) && sl->pending) {
			sl->pending = 0;
			if (!sl->res.app[0] && sl->misses < UINT32_MAX)
				sl->misses++;
		}
	}
}
