/* flow.c: TCP flow table, Wireshark-compatible stream numbers, and
 * per-direction reassembly (RFC 793 sequence arithmetic). See flow.h.
 */
#include "flows/flow.h"

#include <stdlib.h>
#include <string.h>

#include "common/pool.h"
#include "common/util.h"

#define SEQ_LT(a, b) ((int32_t)((a) - (b)) < 0)
#define SEQ_LEQ(a, b) ((int32_t)((a) - (b)) <= 0)
#define SEQ_GT(a, b) ((int32_t)((a) - (b)) > 0)

/* Closed flows (RST, or FIN both ways) linger this long in capture time so
 * late retransmissions still land in the same stream. */
#define CLOSED_LINGER_NS (30ull * 1000000000ull)
#define EXPIRE_EVERY 1024u
/* Hash buckets: start small (a small capture stays small), double whenever
 * the flows outnumber the buckets, so chains stay about one flow long up to
 * PI_MAX_FLOWS (2^20 buckets, 8 MB). */
#define BUCKETS_MIN (1u << 12)
#define BUCKETS_MAX (1u << 20)
#define FLOW_POOL_MAX 1024u /* freed flows kept for reuse (224 KB) */

struct ooo_seg {
	struct ooo_seg *next;
	uint32_t seq;
	uint32_t len;
	uint64_t frame, ts_ns;
	uint8_t data[];
};

/* What is left of a finalised flow: enough to give a late packet of the
 * same connection the same stream number, as Wireshark would. Kept in a
 * direct-mapped table (a collision forgets the older one): bounded. The
 * table (8 MB, a tomb per cache line) is allocated when the first flow is
 * finalised; without it (out of memory) a late packet just starts a new
 * stream, counted in caps->alloc_failures. A slot is in use when its tag
 * (tomb_tags) is not 0. */
#define TOMB_SLOTS (1u << 17)

struct tomb {
	uint64_t stream;
	uint32_t base_seq[2];
	uint8_t addr[2][16];
	uint16_t port[2];
	uint8_t base_set[2];
	uint8_t ipver;
	uint8_t client;
} __attribute__((aligned(64)));

struct flow_table {
	struct tomb *tombs;       /* TOMB_SLOTS, allocated on first use (pi_big_alloc) */
	uint8_t *tomb_tags;       /* TOMB_SLOTS: tomb_tag() of the slot's tomb, 0 if unused */
	int tombs_failed;
	int flushing;             /* flow_flush: no tombs (they are wiped after) */
	struct flow **buckets;
	size_t nbuckets;          /* power of two */
	struct flow *last;        /* the last packet's flow (NULL once it goes) */
	size_t count, peak;
	struct flow *lru_head, *lru_tail;
	uint64_t next_stream;
	uint64_t now_ns;
	uint32_t since_expire;
	struct flow_hooks hooks;
	void *ctx;
	struct pi_caps *caps;
	uint64_t seed;
	struct pi_pool pool;      /* freed flows, made again (pool.h) */
};

struct flow_table *flow_table_new(const struct flow_hooks *hooks, void *ctx, struct pi_caps *caps)
{
	struct flow_table *t = calloc(1, sizeof(*t));
	if (!t)
		return NULL;
	t->nbuckets = BUCKETS_MIN;
	t->buckets = calloc(t->nbuckets, sizeof(*t->buckets));
	if (!t->buckets) {
		free(t);
		return NULL;
	}
	t->hooks = *hooks;
	t->ctx = ctx;
	t->caps = caps;
	pi_pool_init(&t->pool, sizeof(struct flow), FLOW_POOL_MAX);
	t->seed = 0x9e3779b97f4a7c15ull;
	return t;
}

static uint64_t load64(const uint8_t *p)
{
	uint64_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static uint64_t load32(const uint8_t *p)
{
	uint32_t v;
	memcpy(&v, p, sizeof(v));
	return v;
}

/* memcmp(a, b, 4 or 16) as words: byte order = numeric order of the
 * big-endian words (this runs a few times per packet; memcmp with a
 * variable length is a call each). */
static int addr_cmp(int ipver, const uint8_t *a, const uint8_t *b)
{
	if (ipver == 6) {
		uint64_t x = __builtin_bswap64(load64(a)), y = __builtin_bswap64(load64(b));
		if (x == y) {
			x = __builtin_bswap64(load64(a + 8));
			y = __builtin_bswap64(load64(b + 8));
		}
		return (x > y) - (x < y);
	}
	uint32_t x = __builtin_bswap32((uint32_t)load32(a)), y = __builtin_bswap32((uint32_t)load32(b));
	return (x > y) - (x < y);
}

/* a == b, 4 or 16 bytes */
static int addr_eq(int ipver, const uint8_t *a, const uint8_t *b)
{
	if (ipver == 6)
		return load64(a) == load64(b) && load64(a + 8) == load64(b + 8);
	return load32(a) == load32(b);
}

/* Direction-independent hash of the 5-tuple: the two endpoints in a fixed
 * order, read a word at a time (one multiply-xorshift per word; this runs
 * once per packet). */
static uint64_t key_hash(const struct flow_table *t, int ipver, const uint8_t *a, uint16_t pa,
                         const uint8_t *b, uint16_t pb)
{
	int c = addr_cmp(ipver, a, b);
	int swap = c > 0 || (c == 0 && pa > pb);
	const uint8_t *x = swap ? b : a, *y = swap ? a : b;
	uint64_t px = swap ? pb : pa, py = swap ? pa : pb;
	uint64_t h = t->seed ^ (px << 48 | py << 32 | (uint64_t)ipver);
	if (ipver == 6) {
		h = pi_fmix64(h ^ load64(x));
		h = pi_fmix64(h ^ load64(x + 8));
		h = pi_fmix64(h ^ load64(y));
		h = pi_fmix64(h ^ load64(y + 8));
	} else {
		h = pi_fmix64(h ^ (load32(x) << 32 | load32(y)));
	}
	return h;
}

/* Which endpoint of f sent a packet from (src, sport)? -1 if not this flow. */
static int flow_dir(const struct flow *f, int ipver, const uint8_t *src, uint16_t sport,
                    const uint8_t *dst, uint16_t dport)
{
	if (f->ipver != ipver)
		return -1;
	if (f->port[0] == sport && f->port[1] == dport && addr_eq(ipver, f->addr[0], src) &&
	    addr_eq(ipver, f->addr[1], dst))
		return 0;
	if (f->port[1] == sport && f->port[0] == dport && addr_eq(ipver, f->addr[1], src) &&
	    addr_eq(ipver, f->addr[0], dst))
		return 1;
	return -1;
}

static void lru_unlink(struct flow_table *t, struct flow *f)
{
	if (f->prev)
		f->prev->next = f->next;
	else
		t->lru_head = f->next;
	if (f->next)
		f->next->prev = f->prev;
	else
		t->lru_tail = f->prev;
	f->prev = f->next = NULL;
}

static void lru_append(struct flow_table *t, struct flow *f)
{
	f->prev = t->lru_tail;
	f->next = NULL;
	if (t->lru_tail)
		t->lru_tail->next = f;
	else
		t->lru_head = f;
	t->lru_tail = f;
}

static void hash_unlink(struct flow_table *t, struct flow *f)
{
	struct flow **pp = &t->buckets[f->hash & (t->nbuckets - 1)];
	if (t->last == f)
		t->last = NULL;
	while (*pp && *pp != f)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = f->hnext;
}

static void ooo_free(struct flow_table *t, struct reasm_dir *r)
{
	struct ooo_seg *s = r->ooo, *n;
	if (t->caps)
		t->caps->reasm_held -= r->ooo_bytes;
	for (; s; s = n) {
		n = s->next;
		free(s);
	}
	r->ooo = NULL;
	r->ooo_bytes = 0;
	r->ooo_count = 0;
}

/* How drain() treats the hole before the first held segment. */
enum { HOLE_WAIT = 0,   /* keep waiting for it */
       HOLE_MISSING,    /* skip it: the capture lacks it (counted in reasm_gaps) */
       HOLE_FORCED };   /* skip it: no room to wait (counted in reasm_gaps_forced) */

/* Deliver held segments that are now in order; unless force is HOLE_WAIT,
 * skip the hole before the first held segment too. */
static void drain(struct flow_table *t, struct flow *f, int dir, int force)
{
	struct reasm_dir *r = &f->d[dir];
	while (r->ooo) {
		struct ooo_seg *s = r->ooo;
		if (SEQ_GT(s->seq, r->next_seq)) {
			if (force == HOLE_WAIT)
				return;
			uint32_t hole = s->seq - r->next_seq;
			if (t->caps) {
				if (force == HOLE_FORCED)
					t->caps->reasm_gaps_forced++;
				else
					t->caps->reasm_gaps++;
			}
			t->hooks.on_gap(t->ctx, f, dir, hole);
			r->next_seq = s->seq;
			force = 0;
		}
		uint32_t skip = r->next_seq - s->seq; /* bytes already delivered */
		if (skip < s->len) {
			t->hooks.on_data(t->ctx, f, dir, s->data + skip, s->len - skip, s->frame, s->ts_ns);
			r->bytes += s->len - skip;
			r->next_seq = s->seq + s->len;
		}
		r->ooo = s->next;
		r->ooo_bytes -= s->len;
		r->ooo_count--;
		if (t->caps)
			t->caps->reasm_held -= s->len;
		free(s);
	}
}

/* Would holding len more bytes pass the budget of all flows? */
static int over_budget(const struct flow_table *t, uint32_t len)
{
	return t->caps && t->caps->reasm_held + len > PI_REASM_BUDGET;
}

/* Deliver a segment at once, not held: the part already delivered is
 * trimmed, a hole before it is skipped (no room to wait for it). */
static void deliver_now(struct flow_table *t, struct flow *f, int dir, uint32_t seq, const uint8_t *data,
                        uint32_t len, const struct packet *pkt)
{
	struct reasm_dir *r = &f->d[dir];
	if (SEQ_LT(seq, r->next_seq)) {
		uint32_t old = r->next_seq - seq;
		if (old >= len)
			return;
		seq += old;
		data += old;
		len -= old;
	}
	if (SEQ_GT(seq, r->next_seq)) {
		if (t->caps)
			t->caps->reasm_gaps_forced++;
		t->hooks.on_gap(t->ctx, f, dir, seq - r->next_seq);
		r->next_seq = seq;
	}
	t->hooks.on_data(t->ctx, f, dir, data, len, pkt->frame, pkt->ts_ns);
	r->bytes += len;
	r->next_seq = seq + len;
	if (r->ooo)
		drain(t, f, dir, HOLE_WAIT);
}

static void hold(struct flow_table *t, struct flow *f, int dir, uint32_t seq, const uint8_t *data,
                 uint32_t len, const struct packet *pkt)
{
	struct reasm_dir *r = &f->d[dir];
	struct ooo_seg **pp = &r->ooo, *s;
	/* the same segment again (retransmitted out-of-order data): keep one */
	for (s = r->ooo; s; s = s->next)
		if (s->seq == seq && s->len >= len)
			return;
	if (over_budget(t, len)) {
		/* all flows together hold PI_REASM_BUDGET: stop waiting for this
		 * flow's holes, and deliver this segment now (after its hole)
		 * rather than hold it */
		t->caps->reasm_budget_hits++;
		while (r->ooo && over_budget(t, len))
			drain(t, f, dir, HOLE_FORCED);
		if (over_budget(t, len)) {
			deliver_now(t, f, dir, seq, data, len, pkt);
			return;
		}
		if (SEQ_LEQ(seq, r->next_seq)) {
			deliver_now(t, f, dir, seq, data, len, pkt); /* draining reached it */
			return;
		}
	}
	if (r->ooo_bytes + len > PI_REASM_MAX_OOO || r->ooo_count >= PI_REASM_MAX_SEGS) {
		/* the hole will not fill within the cap: the capture lost it */
		drain(t, f, dir, HOLE_FORCED);
		if (r->ooo_bytes + len > PI_REASM_MAX_OOO || r->ooo_count >= PI_REASM_MAX_SEGS) {
			if (t->caps)
				t->caps->reasm_dropped += len;
			return;
		}
		if (SEQ_LEQ(seq, r->next_seq)) {
			deliver_now(t, f, dir, seq, data, len, pkt); /* draining reached it */
			return;
		}
	}
	s = malloc(sizeof(*s) + len);
	if (!s) {
		if (t->caps)
			t->caps->alloc_failures++;
		return;
	}
	s->seq = seq;
	s->len = len;
	s->frame = pkt->frame;
	s->ts_ns = pkt->ts_ns;
	memcpy(s->data, data, len);
	while (*pp && SEQ_LEQ((*pp)->seq, seq))
		pp = &(*pp)->next;
	s->next = *pp;
	*pp = s;
	r->ooo_bytes += len;
	r->ooo_count++;
	if (t->caps)
		t->caps->reasm_held += len;
}

static void segment(struct flow_table *t, struct flow *f, int dir, const struct decoded *d,
                    const struct packet *pkt)
{
	struct reasm_dir *r = &f->d[dir];
	uint32_t seq = d->seq;
	uint32_t len = d->paylen;
	const uint8_t *data = d->payload;

	if (d->tcp_flags & TH_SYN) {
		/* a SYN after data would be odd; a (re)transmitted SYN resets nothing */
		if (!r->have_next) {
			r->next_seq = seq + 1;
			r->have_next = 1;
		}
		seq += 1; /* data on a SYN (TFO) follows the SYN's sequence number */
	}
	if (!len)
		return;
	if (!r->have_next) {
		r->next_seq = seq;
		r->have_next = 1;
	}
	if (SEQ_LT(seq, r->next_seq)) {
		uint32_t old = r->next_seq - seq;
		if (old >= len)
			return; /* pure retransmission */
		seq += old;
		data += old;
		len -= old;
	}
	if (seq != r->next_seq) {
		hold(t, f, dir, seq, data, len, pkt);
		return;
	}
	t->hooks.on_data(t->ctx, f, dir, data, len, pkt->frame, pkt->ts_ns);
	r->bytes += len;
	r->next_seq = seq + len;
	if (r->ooo)
		drain(t, f, dir, HOLE_WAIT);
	/* A snaplen-cut segment: the rest of it was on the wire but not captured. */
	if (d->wire_paylen > d->paylen && f->app) {
		uint32_t missing = d->wire_paylen - d->paylen;
		if (t->caps)
			t->caps->reasm_gaps++;
		t->hooks.on_gap(t->ctx, f, dir, missing);
		r->next_seq += missing;
		drain(t, f, dir, HOLE_WAIT);
	}
}

/* A tomb's tag: 8 more bits of its hash, never 0. Every new flow looks for
 * a tomb; the tags (128 KB) mostly stay in the cache where the tombs (9 MB)
 * do not, so a slot whose tag differs is passed over without a miss. */
static uint8_t tomb_tag(uint64_t h)
{
	return (uint8_t)((h >> 17) | 1);
}

static void tombs_free(struct flow_table *t)
{
	pi_big_free(t->tombs, TOMB_SLOTS * sizeof(*t->tombs));
	free(t->tomb_tags);
	t->tombs = NULL;
	t->tomb_tags = NULL;
}

/* The tomb is taken (revived, or a new conversation took its place). */
static void unbury(struct flow_table *t, struct tomb *tb)
{
	t->tomb_tags[tb - t->tombs] = 0;
}

static void bury(struct flow_table *t, const struct flow *f)
{
	struct tomb *tb;
	if (!t->tombs && !t->tombs_failed) {
		/* fresh zero pages, on huge pages where the kernel gives them: the
		 * table is read and written at random (pi_big_alloc) */
		t->tombs = pi_big_alloc(TOMB_SLOTS * sizeof(*t->tombs));
		t->tomb_tags = calloc(TOMB_SLOTS, 1);
		if (!t->tombs || !t->tomb_tags) {
			tombs_free(t);
			t->tombs_failed = 1; /* tried once: no retry per flow */
			if (t->caps)
				t->caps->alloc_failures++;
		}
	}
	if (!t->tombs)
		return;
	tb = &t->tombs[f->hash & (TOMB_SLOTS - 1)];
	t->tomb_tags[f->hash & (TOMB_SLOTS - 1)] = tomb_tag(f->hash);
	tb->stream = f->stream;
	tb->ipver = f->ipver;
	tb->client = (uint8_t)f->client;
	memcpy(tb->addr, f->addr, sizeof(tb->addr));
	memcpy(tb->port, f->port, sizeof(tb->port));
	for (int i = 0; i < 2; i++) {
		tb->base_seq[i] = f->d[i].base_seq;
		tb->base_set[i] = f->d[i].base_set;
	}
}

/* A finalised flow of this packet's connection, or NULL; *dir is the
 * packet's direction in it. */
static struct tomb *exhume(struct flow_table *t, const struct decoded *d, uint64_t h, int *dir)
{
	struct tomb *tb;
	size_t alen = d->ipver == 6 ? 16 : 4;
	if (!t->tombs || t->tomb_tags[h & (TOMB_SLOTS - 1)] != tomb_tag(h))
		return NULL;
	tb = &t->tombs[h & (TOMB_SLOTS - 1)];
	if (tb->ipver != d->ipver) /* the 5-tuple decides (its hash is h) */
		return NULL;
	if (tb->port[0] == d->sport && tb->port[1] == d->dport && memcmp(tb->addr[0], d->src, alen) == 0 &&
	    memcmp(tb->addr[1], d->dst, alen) == 0)
		*dir = 0;
	else if (tb->port[1] == d->sport && tb->port[0] == d->dport && memcmp(tb->addr[1], d->src, alen) == 0 &&
	         memcmp(tb->addr[0], d->dst, alen) == 0)
		*dir = 1;
	else
		return NULL;
	return tb;
}

static void finalise(struct flow_table *t, struct flow *f)
{
	/* the holes left will never fill: deliver everything held */
	for (int i = 0; i < 2; i++)
		while (f->d[i].ooo)
			drain(t, f, i, HOLE_MISSING);
	t->hooks.on_close(t->ctx, f);
	if (!t->flushing)
		bury(t, f);
	for (int i = 0; i < 2; i++)
		ooo_free(t, &f->d[i]);
	hash_unlink(t, f);
	lru_unlink(t, f);
	t->count--;
	pi_pool_put(&t->pool, f);
}

/* Double the buckets and move every flow to its new chain. Out of memory:
 * keep the old table (longer chains, same results). */
static void grow_buckets(struct flow_table *t)
{
	size_t n = t->nbuckets * 2;
	struct flow **b = calloc(n, sizeof(*b));
	if (!b)
		return;
	for (size_t i = 0; i < t->nbuckets; i++) {
		struct flow *f = t->buckets[i], *next;
		for (; f; f = next) {
			next = f->hnext;
			f->hnext = b[f->hash & (n - 1)];
			b[f->hash & (n - 1)] = f;
		}
	}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

static struct flow *flow_create(struct flow_table *t, const struct decoded *d, const struct packet *pkt,
                                uint64_t h, struct tomb *tb, int tdir)
{
	struct flow *f;
	if (t->count >= t->nbuckets && t->nbuckets < BUCKETS_MAX)
		grow_buckets(t);
	if (t->count >= PI_MAX_FLOWS && t->lru_head) {
		if (t->caps)
			t->caps->flows_evicted++;
		finalise(t, t->lru_head);
	}
	f = pi_pool_zget(&t->pool);
	if (!f) {
		if (t->caps)
			t->caps->alloc_failures++; /* this packet is lost */
		return NULL;
	}
	f->hash = h;
	f->ipver = d->ipver;
	if (tb) {
		/* a late packet of a finalised connection: same stream, same ends */
		memcpy(f->addr, tb->addr, sizeof(f->addr));
		memcpy(f->port, tb->port, sizeof(f->port));
		f->stream = tb->stream;
		f->client = tb->client;
		f->client_sure = 1;
		f->revived = 1;
		for (int i = 0; i < 2; i++) {
			f->d[i].base_seq = tb->base_seq[i];
			f->d[i].base_set = tb->base_set[i];
		}
		(void)tdir;
		unbury(t, tb);
	} else {
		memcpy(f->addr[0], d->src, 16);
		memcpy(f->addr[1], d->dst, 16);
		f->port[0] = d->sport;
		f->port[1] = d->dport;
		f->stream = t->next_stream++;
	}
	f->first_frame = pkt->frame;
	f->first_ts = pkt->ts_ns;
	/* until a SYN or a hello says otherwise, the higher port is the client */
	if (!tb)
		f->client = d->sport >= d->dport ? 0 : 1;
	f->hnext = t->buckets[h & (t->nbuckets - 1)];
	t->buckets[h & (t->nbuckets - 1)] = f;
	lru_append(t, f);
	if (++t->count > t->peak)
		t->peak = t->count;
	t->hooks.on_new(t->ctx, f, d);
	return f;
}

void flow_input_tcp(struct flow_table *t, const struct decoded *d, const struct packet *pkt)
{
	uint64_t h = 0;
	struct flow *f;
	int dir = -1, hashed = 0;

	if (pkt->ts_ns > t->now_ns)
		t->now_ns = pkt->ts_ns;
	if (++t->since_expire >= EXPIRE_EVERY) {
		t->since_expire = 0;
		flow_expire(t, t->now_ns);
	}
	f = t->last; /* after the expiry: it may have gone (hash_unlink) */

	/* Most packets belong to the flow of the packet before (80% of the
	 * TCP packets of the bench capture): that flow is asked first, and
	 * the hash and the chain walk are left for the others. A tuple has
	 * one open flow at most, so either way finds the same one. */
	if (!f || (dir = flow_dir(f, d->ipver, d->src, d->sport, d->dst, d->dport)) < 0) {
		h = key_hash(t, d->ipver, d->src, d->sport, d->dst, d->dport);
		hashed = 1;
		for (f = t->buckets[h & (t->nbuckets - 1)]; f; f = f->hnext) {
			if (f->hash != h)
				continue;
			dir = flow_dir(f, d->ipver, d->src, d->sport, d->dst, d->dport);
			if (dir >= 0)
				break;
		}
	}
	/* Port reuse, as Wireshark decides it: a SYN whose sequence number is not
	 * the base sequence of that direction starts a new conversation. */
	if (f && (d->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN && f->d[dir].base_set &&
	    d->seq != f->d[dir].base_seq) {
		finalise(t, f);
		f = NULL;
	}
	if (!f) {
		int tdir = 0;
		struct tomb *tb;
		if (!hashed)
			h = key_hash(t, d->ipver, d->src, d->sport, d->dst, d->dport);
		tb = exhume(t, d, h, &tdir);
		/* Wireshark starts a new conversation on a SYN with another ISN */
		if (tb && (d->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN && tb->base_set[tdir] &&
		    d->seq != tb->base_seq[tdir]) {
			unbury(t, tb);
			tb = NULL;
		}
		f = flow_create(t, d, pkt, h, tb, tdir);
		if (!f)
			return;
		dir = tb ? tdir : 0;
	}
	t->last = f;

	struct reasm_dir *r = &f->d[dir];
	if (!r->base_set) {
		r->base_set = 1;
		r->base_seq = (d->tcp_flags & TH_SYN) ? d->seq : d->seq - 1;
	}
	if ((d->tcp_flags & (TH_SYN | TH_ACK)) == TH_SYN) {
		f->client = dir;
		f->client_sure = 1;
	} else if ((d->tcp_flags & (TH_SYN | TH_ACK)) == (TH_SYN | TH_ACK) && !f->client_sure) {
		f->client = 1 - dir;
		f->client_sure = 1;
	}
	r->packets++;
	f->last_frame = pkt->frame;
	f->last_ts = pkt->ts_ns;
	if (t->lru_tail != f) {
		lru_unlink(t, f);
		lru_append(t, f);
	}

	/* The peer acknowledges bytes this side holds no record of: the capture
	 * missed them, so stop waiting for the hole in the other direction. */
	if ((d->tcp_flags & TH_ACK) && f->d[1 - dir].ooo &&
	    SEQ_GT(d->ack, f->d[1 - dir].next_seq) && f->d[1 - dir].have_next)
		drain(t, f, 1 - dir, HOLE_MISSING);

	segment(t, f, dir, d, pkt);
	/* after the payload: a FIN or RST ends what the payload carried */
	t->hooks.on_packet(t->ctx, f, dir, d, pkt);

	if (d->tcp_flags & TH_FIN)
		r->fin = 1;
	if (d->tcp_flags & TH_RST)
		r->rst = 1;
	if (r->rst || (f->d[0].fin && f->d[1].fin))
		f->closed = 1;
}

/* Finalising a flow idle for a while touches its state all over, out of
 * the cache by then, through pointers (flow, its owner's state, what that
 * points to): one miss after another. While f is finalised the flows after
 * it are asked for ahead, each a step further down the chain: the struct
 * of the third, the owner state of the second (on_soon stage 1), what the
 * next one's owner state points to (stage 2). */
static void expire_ahead(struct flow_table *t, struct flow *f)
{
	struct flow *n1 = f->next, *n2, *n3;
	if (!n1)
		return;
	n2 = n1->next;
	t->hooks.on_soon(t->ctx, n1, 2);
	if (!n2)
		return;
	n3 = n2->next;
	t->hooks.on_soon(t->ctx, n2, 1);
	if (n3)
		__builtin_prefetch(n3);
}

void flow_expire(struct flow_table *t, uint64_t now_ns)
{
	while (t->lru_head) {
		struct flow *f = t->lru_head;
		uint64_t limit = f->closed ? CLOSED_LINGER_NS : PI_FLOW_IDLE_NS;
		if (f->last_ts + limit > now_ns)
			break;
		if (t->hooks.on_soon)
			expire_ahead(t, f);
		finalise(t, f);
	}
	/* closed flows further down the list: one pass over the oldest few */
	struct flow *f = t->lru_head;
	for (int i = 0; f && i < 64; i++) {
		struct flow *n = f->next;
		if (f->closed && f->last_ts + CLOSED_LINGER_NS <= now_ns)
			finalise(t, f);
		f = n;
	}
}

static int by_stream(const void *a, const void *b)
{
	const struct flow *x = *(const struct flow *const *)a, *y = *(const struct flow *const *)b;
	return x->stream < y->stream ? -1 : x->stream > y->stream;
}

void flow_flush(struct flow_table *t)
{
	t->flushing = 1;
	/* finalise in stream order so that outputs come out sorted */
	struct flow **all = t->count ? malloc(t->count * sizeof(*all)) : NULL;
	if (all) {
		size_t n = 0;
		for (struct flow *f = t->lru_head; f; f = f->next)
			all[n++] = f;
		qsort(all, n, sizeof(*all), by_stream);
		for (size_t i = 0; i < n; i++)
			finalise(t, all[i]);
		free(all);
	}
	while (t->lru_head)
		finalise(t, t->lru_head);
	t->flushing = 0;
	t->next_stream = 0;
	t->now_ns = 0;
	/* stream numbers restart per input: forget the tombs (memory returned) */
	tombs_free(t);
	t->tombs_failed = 0;
}

void flow_table_free(struct flow_table *t)
{
	if (!t)
		return;
	flow_flush(t);
	pi_pool_drain(&t->pool);
	free(t->buckets);
	tombs_free(t);
	free(t);
}

size_t flow_count(const struct flow_table *t)
{
	return t->count;
}

size_t flow_peak(const struct flow_table *t)
{
	return t->peak;
}

uint64_t flow_streams(const struct flow_table *t)
{
	return t->next_stream;
}

uint64_t flow_oldest_start(const struct flow_table *t)
{
	uint64_t m = UINT64_MAX;
	for (const struct flow *f = t->lru_head; f; f = f->next)
		if (f->first_ts < m)
			m = f->first_ts;
	return m;
}
