/* dnsmap.c: the DNS tracker (matching, aggregates, chains, address map).
 * RFC 1035, RFC 2308 (negative caching), RFC 6891; Wireshark's
 * packet-dns.c transaction logic (see dnsmap.h).
 *
 * Storage: every table is a chunked array (stable element addresses) with a
 * chained hash index of 32-bit element numbers (struct hnode first in each
 * element). Interned names and chains live in an arena freed only by
 * dns_tracker_free(). The transaction table and the address map are rings:
 * when full, the oldest element is unlinked and reused.
 *
 * Sinkhole rule (DNS_SINKHOLE): a record is flagged when an answer gives its
 * name (or a CNAME of its chain) the IPv4 address 0.0.0.0 or one in
 * 127.0.0.0/8, or the IPv6 address :: or ::1, and the queried name is not a
 * local one: "localhost", or ending in .localhost .local .localdomain
 * .internal .lan .home.arpa, or a reverse name under .arpa. Resolvers and
 * DNS filters answer blocked names that way (Pi-hole, AdGuard, Umbrella's
 * 0.0.0.0 mode, many corporate filters).
 */
#include "analysis/dnsmap.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"
#include "dissectors/dns.h"
#include "outputs/jw.h"

/* ------------------------------------------------------- storage helpers */

#define CHUNK_SHIFT 12
#define CHUNK_N (1u << CHUNK_SHIFT)

struct hnode {
	uint64_t hash;
	uint32_t hnext;  /* element number + 1 of the next in the bucket; 0 ends */
	uint8_t linked;  /* in the index (a rebuild relinks only these) */
};

/* Chunked array of fixed-size elements; element addresses never move. */
struct vec {
	char **chunks;
	size_t esz;
	uint32_t n;       /* elements in use */
	uint32_t nchunks;
};

static void *vat(const struct vec *v, uint32_t i)
{
	return v->chunks[i >> CHUNK_SHIFT] + (size_t)(i & (CHUNK_N - 1)) * v->esz;
}

/* Make room for element i (i <= n); returns it zeroed, or NULL. */
static void *vslot(struct vec *v, uint32_t i)
{
	uint32_t c = i >> CHUNK_SHIFT;
	if (c >= v->nchunks) {
		char **nc = realloc(v->chunks, (size_t)(c + 1) * sizeof *nc);
		if (!nc)
			return NULL;
		v->chunks = nc;
		nc[c] = malloc(CHUNK_N * v->esz);
		if (!nc[c])
			return NULL;
		v->nchunks = c + 1;
	}
	void *e = vat(v, i);
	memset(e, 0, v->esz);
	return e;
}

static void vfree(struct vec *v)
{
	for (uint32_t i = 0; i < v->nchunks; i++)
		free(v->chunks[i]);
	free(v->chunks);
	v->chunks = NULL;
	v->n = v->nchunks = 0;
}

struct hidx {
	uint32_t *b;
	uint32_t nb; /* power of two */
};

static int hidx_grow(struct hidx *h, const struct vec *v, uint32_t want)
{
	uint32_t nb = h->nb ? h->nb : 256;
	while (nb < want)
		nb <<= 1;
	if (nb == h->nb)
		return 0;
	uint32_t *b = calloc(nb, sizeof *b);
	if (!b)
		return -1;
	free(h->b);
	h->b = b;
	h->nb = nb;
	for (uint32_t i = 0; i < v->n; i++) {
		struct hnode *e = vat(v, i);
		if (!e->linked)
			continue;
		uint32_t k = (uint32_t)(e->hash & (nb - 1));
		e->hnext = b[k];
		b[k] = i + 1;
	}
	return 0;
}

/* Link element i (already counted in v->n, not linked yet). */
static void hidx_link(struct hidx *h, const struct vec *v, uint32_t i)
{
	struct hnode *e = vat(v, i);
	if (e->linked)
		return;
	if (v->n > h->nb)
		(void)hidx_grow(h, v, v->n * 2); /* on failure, chains just get longer */
	uint32_t k = (uint32_t)(e->hash & (h->nb - 1));
	e->hnext = h->b[k];
	e->linked = 1;
	h->b[k] = i + 1;
}

static void hidx_unlink(struct hidx *h, const struct vec *v, uint32_t i)
{
	struct hnode *e = vat(v, i);
	uint32_t *pp = &h->b[e->hash & (h->nb - 1)];
	if (!e->linked)
		return;
	e->linked = 0;
	while (*pp) {
		if (*pp == i + 1) {
			*pp = e->hnext;
			return;
		}
		pp = &((struct hnode *)vat(v, *pp - 1))->hnext;
	}
}

static void hidx_clear(struct hidx *h)
{
	if (h->b)
		memset(h->b, 0, (size_t)h->nb * sizeof *h->b);
}

struct arena_blk {
	struct arena_blk *next;
	size_t used, cap;
	max_align_t data[];
};

/* ------------------------------------------------------------- the types */

struct dchain { /* an interned chain: name[0] is the queried name */
	struct hnode h;
	uint8_t n;
	const char *name[PI_DNS_MAX_CHAIN + 1];
};

struct iname { /* an interned name */
	struct hnode h;
	const char *s;
	uint32_t len;
	int head_input, cn_input;     /* input of the chains below (-1 none) */
	const struct dchain *head_chain; /* latest chain it heads */
	const struct dchain *cn_chain;   /* latest chain it is a CNAME target in */
};

#define REC_AIX 32 /* slots of a record's address index: twice DNS_REC_MAX_ADDRS */

struct rnode {
	struct hnode h;
	struct iname *ne;       /* the interned entry of r.name */
	uint8_t aix[REC_AIX];   /* r.addr[] by address: index + 1, 0 empty (rec_add_addr) */
	struct dns_rec r;
};

struct ptx { /* one transaction (Wireshark's dns_transaction_t) */
	struct hnode h;
	uint8_t transport, ipver, answered, complete;
	uint16_t id, pa, pb;
	uint8_t a[16], b[16];   /* endpoints in canonical order */
	uint64_t req_frame, req_ts;
	uint32_t rec;           /* record number + 1, 0 none */
	uint32_t row;           /* query-log row + 1, 0 none */
	uint32_t idx;           /* own element number */
};

struct ahist {
	uint64_t ts, frame;
	uint32_t ttl;
	int input;
	const struct dchain *chain;
};

struct amap { /* answers that gave server's address to client (or to any) */
	struct hnode h;
	uint8_t ver, any, nh, pos;
	uint8_t client[16], server[16];
	struct ahist hist[DNS_ADDR_HIST];
};

struct qrow { /* one line of the per-query log */
	uint64_t frame, rframe;
	uint8_t transport, ipver, opcode, answered, has_q;
	uint8_t src[16], dst[16];
	uint16_t sport, dport, id, qtype;
	int rcode;
	char *qname, *chain, *a, *aaaa;
};

#define DNS_MSG_NAMES 16 /* name places remembered per message (more: looked up again) */
#define DNS_WIRE_SLOTS 512 /* wire-form memo of names (see msg_name) */

#define DNS_SNI_SLOTS 256  /* memo of SNI look-ups (see sni_find) */
#define DNS_SNI_MEMO_MAX 64 /* longest SNI kept there */

struct sslot { /* an SNI as given (case kept) -> its entry, or none as of names.n */
	struct iname *e;
	uint32_t names_n;   /* e == NULL: t->names.n when it was not found */
	uint8_t used, len;
	char s[DNS_SNI_MEMO_MAX];
};

struct wslot { /* a name's labels as on the wire, pointers followed -> its entry */
	struct iname *e;
	uint16_t len;
	uint8_t wire[DNS_NAME_WIRE_MAX];
};

struct dns_tracker {
	struct pi_caps *caps;
	uint64_t gen;       /* bumped by whatever may change dns_attribute's answers */
	struct dns_stats st;
	int input;
	int qlog_on;

	struct arena_blk *arena;
	struct vec names;   struct hidx names_ix;   /* struct iname */
	struct vec chains;  struct hidx chains_ix;  /* struct dchain */
	struct vec recs;    struct hidx recs_ix;    /* struct rnode */
	struct vec tx;      struct hidx tx_ix;      /* struct ptx, ring */
	uint64_t tx_next;
	struct vec amap;    struct hidx amap_ix;    /* struct amap, ring */
	uint64_t amap_next;
	uint32_t amap_free;     /* element number + 1 of the first expired (free) key; 0 none */
	uint32_t amap_live;     /* keys in the index */
	uint32_t amap_sweep_at; /* look for expired keys when this many are live */
	uint64_t (*horizon)(void *ctx);
	void *horizon_ctx;

	struct qrow *rows;
	size_t nrows, caprows;

	struct dns_msg m;   /* scratch for the message being tracked */
	/* names of m already interned or found, by place (see msg_name) */
	struct { uint16_t place; struct iname *e; } mn[DNS_MSG_NAMES];
	int nmn;
	struct wslot *wc;   /* DNS_WIRE_SLOTS, allocated at the first name */
	uint8_t wc_failed;  /* its allocation failed: go without */
	uint8_t sc_failed;
	struct sslot *sc;   /* DNS_SNI_SLOTS, allocated at the first SNI */
};

#define DNS_MAX_INTERN  (4u * PI_DNS_MAX_NAMES)
#define DNS_MAX_CHAINS  PI_DNS_MAX_NAMES

/* An allocation failed: what it was for is lost (exit status 4). */
static void alloc_failed(struct dns_tracker *t)
{
	if (t->caps)
		t->caps->alloc_failures++;
}

/* ---------------------------------------------------------------- arena */

static void *arena_alloc(struct dns_tracker *t, size_t n)
{
	struct arena_blk *b = t->arena;
	n = (n + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!b || b->cap - b->used < n) {
		size_t cap = n > 65536 ? n : 65536;
		b = malloc(sizeof *b + cap);
		if (!b)
			return NULL;
		b->used = 0;
		b->cap = cap;
		b->next = t->arena;
		t->arena = b;
	}
	void *p = (char *)b->data + b->used;
	b->used += n;
	return p;
}

/* ------------------------------------------------------------- interning */

static struct iname *name_find(struct dns_tracker *t, const char *s, size_t len, uint64_t h)
{
	if (!t->names_ix.nb)
		return NULL;
	for (uint32_t j = t->names_ix.b[h & (t->names_ix.nb - 1)]; j;) {
		struct iname *e = vat(&t->names, j - 1);
		if (e->h.hash == h && e->len == len && !memcmp(e->s, s, len))
			return e;
		j = e->h.hnext;
	}
	return NULL;
}

/* 8 bytes with ASCII A-Z as a-z (SWAR: a byte's high bit marks A..Z). */
static inline uint64_t lower_word(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t low7 = w & (0x7f * ones);
	uint64_t ge_a = low7 + (0x80 - 'A') * ones;  /* high bit: byte >= 'A' */
	uint64_t gt_z = low7 + (0x7f - 'Z') * ones;  /* high bit: byte > 'Z' */
	return w | (((ge_a ^ gt_z) & ~w & (0x80 * ones)) >> 2);
}

/* The hash of the name index (buckets only: every match compares the
 * text): a multiply-xorshift step per 8 bytes, the last 8 bytes read as
 * one word overlapping the ones before (no byte loop) when len >= 8, then
 * pi_fmix64. lower: hash s with A-Z as a-z, the value of the lower-case
 * copy (the SNI is looked up without making it). Names are hashed for
 * every message and connection: pi_hash cost ~120 instructions here. */
static inline uint64_t name_hash_impl(const char *s, size_t len, int lower)
{
	uint64_t h = 0x6e616d65ull ^ ((uint64_t)len * 0x9e3779b97f4a7c15ull), w;
	size_t i = 0;
	if (len >= 8) {
		for (; i + 8 < len; i += 8) {
			memcpy(&w, s + i, 8);
			if (lower)
				w = lower_word(w);
			h = (h ^ w) * 0xff51afd7ed558ccdull;
			h ^= h >> 32;
		}
		memcpy(&w, s + len - 8, 8);
		if (lower)
			w = lower_word(w);
	} else {
		w = 0;
		for (; i < len; i++)
			w |= (uint64_t)(uint8_t)s[i] << (8 * i);
		if (lower)
			w = lower_word(w);
	}
	return pi_fmix64((h ^ w) * 0xc4ceb9fe1a85ec53ull);
}

static uint64_t name_hash(const char *s, size_t len)
{
	return name_hash_impl(s, len, 0);
}

static uint64_t name_hash_anycase(const char *s, size_t len)
{
	return name_hash_impl(s, len, 1);
}

/* name_find for s in any case: the entry whose (lower-case) text is s with
 * A-Z as a-z, without making the lower-case copy; h = name_hash_anycase(s). */
static struct iname *name_find_anycase(struct dns_tracker *t, const char *s, size_t len, uint64_t h)
{
	if (!t->names_ix.nb)
		return NULL;
	for (uint32_t j = t->names_ix.b[h & (t->names_ix.nb - 1)]; j;) {
		struct iname *e = vat(&t->names, j - 1);
		if (e->h.hash == h && e->len == len) {
			size_t i = 0;
			uint64_t a, b;
			for (; i + 8 <= len; i += 8) {
				memcpy(&a, s + i, 8);
				memcpy(&b, e->s + i, 8);
				if (lower_word(a) != b)
					break;
			}
			if (i + 8 > len) {
				for (; i < len; i++) {
					char c = s[i];
					if (c >= 'A' && c <= 'Z')
						c = (char)(c - 'A' + 'a');
					if (c != e->s[i])
						break;
				}
				if (i == len)
					return e;
			}
		}
		j = e->h.hnext;
	}
	return NULL;
}

/* Intern s (already lower-case, len bytes, h = name_hash). NULL when the
 * cap is reached or no memory. */
static struct iname *name_intern(struct dns_tracker *t, const char *s, size_t len, uint64_t h)
{
	struct iname *e = name_find(t, s, len, h);
	if (e)
		return e;
	if (t->names.n >= DNS_MAX_INTERN)
		return NULL;
	char *copy = arena_alloc(t, len + 1);
	if (!copy || !(e = vslot(&t->names, t->names.n))) {
		alloc_failed(t);
		return NULL;
	}
	memcpy(copy, s, len + 1);
	e->h.hash = h;
	e->s = copy;
	e->len = (uint32_t)len;
	e->head_input = e->cn_input = -1;
	t->names.n++;
	hidx_link(&t->names_ix, &t->names, t->names.n - 1);
	return e;
}

static const struct dchain *chain_intern(struct dns_tracker *t, const char *const *names, int n)
{
	uint64_t h = 0x636861696eull; /* the bucket only: a match compares the names */
	for (int i = 0; i < n; i++)
		h = pi_fmix64(h ^ (uint64_t)(uintptr_t)names[i]);
	if (t->chains_ix.nb) {
		for (uint32_t j = t->chains_ix.b[h & (t->chains_ix.nb - 1)]; j;) {
			struct dchain *e = vat(&t->chains, j - 1);
			if (e->h.hash == h && e->n == n && !memcmp(e->name, names, (size_t)n * sizeof *names))
				return e;
			j = e->h.hnext;
		}
	}
	if (t->chains.n >= DNS_MAX_CHAINS)
		return NULL;
	struct dchain *e = vslot(&t->chains, t->chains.n);
	if (!e) {
		alloc_failed(t);
		return NULL;
	}
	e->h.hash = h;
	e->n = (uint8_t)n;
	memcpy(e->name, names, (size_t)n * sizeof *names);
	t->chains.n++;
	hidx_link(&t->chains_ix, &t->chains, t->chains.n - 1);
	return e;
}

/* ---------------------------------------------------------------- records */

/* The key is the interned name's address and the type: one multiply-mix
 * (the bucket only; a match compares both fields). */
static uint64_t rec_hash(const char *name, uint16_t qtype)
{
	return pi_fmix64(((uint64_t)(uintptr_t)name * 0x9e3779b97f4a7c15ull) ^ qtype ^ 0x726563);
}

/* Record number + 1 for (interned name, qtype), created if absent and room;
 * 0 if it cannot be kept (counted in caps->dns_names_dropped). */
static uint32_t rec_get(struct dns_tracker *t, struct iname *ne, uint16_t qtype,
                        uint64_t frame)
{
	const char *name = ne->s;
	uint64_t h = rec_hash(name, qtype);
	if (t->recs_ix.nb) {
		for (uint32_t j = t->recs_ix.b[h & (t->recs_ix.nb - 1)]; j;) {
			struct rnode *e = vat(&t->recs, j - 1);
			if (e->h.hash == h && e->r.name == name && e->r.qtype == qtype)
				return j;
			j = e->h.hnext;
		}
	}
	struct rnode *e;
	if (t->recs.n >= PI_DNS_MAX_NAMES) {
		if (t->caps)
			t->caps->dns_names_dropped++;
		return 0;
	}
	if (!(e = vslot(&t->recs, t->recs.n))) {
		alloc_failed(t);
		return 0;
	}
	e->h.hash = h;
	e->ne = ne;
	e->r.name = name;
	e->r.qtype = qtype;
	e->r.last_rcode = -1;
	e->r.first_frame = e->r.last_frame = frame;
	e->r.first_input = e->r.last_input = t->input;
	t->recs.n++;
	hidx_link(&t->recs_ix, &t->recs, t->recs.n - 1);
	return t->recs.n;
}

static struct rnode *rnode_at(struct dns_tracker *t, uint32_t r1)
{
	return r1 ? vat(&t->recs, r1 - 1) : NULL;
}

static struct dns_rec *rec_at(struct dns_tracker *t, uint32_t r1)
{
	return r1 ? &((struct rnode *)vat(&t->recs, r1 - 1))->r : NULL;
}

/* ------------------------------------------------------------ transactions */

struct conv {
	uint8_t transport, ipver;
	uint16_t pa, pb;
	uint8_t a[16], b[16];
};

static void conv_make(struct conv *c, int transport, int ipver, const uint8_t src[16],
                      uint16_t sport, const uint8_t dst[16], uint16_t dport)
{
	int cmp = memcmp(src, dst, 16);
	int swap = cmp > 0 || (cmp == 0 && sport > dport);
	memset(c, 0, sizeof *c);
	c->transport = (uint8_t)transport;
	c->ipver = (uint8_t)ipver;
	memcpy(c->a, swap ? dst : src, 16);
	memcpy(c->b, swap ? src : dst, 16);
	c->pa = swap ? dport : sport;
	c->pb = swap ? sport : dport;
}

static inline uint64_t load64(const uint8_t *p)
{
	uint64_t w;
	memcpy(&w, p, 8);
	return w;
}

/* The key mixed a word at a time (the bucket only: tx_find compares every
 * field). */
static uint64_t tx_hash(const struct conv *c, uint16_t id)
{
	uint64_t h = pi_fmix64(0x7478 ^ load64(c->a) ^ (load64(c->a + 8) * 0x9e3779b97f4a7c15ull));
	h = pi_fmix64(h ^ load64(c->b) ^ (load64(c->b + 8) * 0xc2b2ae3d27d4eb4full));
	return pi_fmix64(h ^ ((uint64_t)c->transport << 56 | (uint64_t)c->ipver << 48 |
	                      (uint64_t)c->pa << 32 | (uint64_t)c->pb << 16 | id));
}

/* The latest transaction with this id in this conversation. */
static struct ptx *tx_find(struct dns_tracker *t, const struct conv *c, uint16_t id, uint64_t h)
{
	if (!t->tx_ix.nb)
		return NULL;
	for (uint32_t j = t->tx_ix.b[h & (t->tx_ix.nb - 1)]; j;) {
		struct ptx *e = vat(&t->tx, j - 1);
		if (e->h.hash == h && e->id == id && e->transport == c->transport &&
		    e->ipver == c->ipver && e->pa == c->pa && e->pb == c->pb &&
		    !memcmp(e->a, c->a, 16) && !memcmp(e->b, c->b, 16))
			return e;
		j = e->h.hnext;
	}
	return NULL;
}

static void tx_finalise(struct dns_tracker *t, struct ptx *e)
{
	if (!e->answered) {
		struct dns_rec *r = rec_at(t, e->rec);
		if (r)
			r->unanswered++;
	}
}

/* Drop e from the index (it was replaced by a newer transaction). */
static void tx_retire(struct dns_tracker *t, struct ptx *e)
{
	tx_finalise(t, e);
	hidx_unlink(&t->tx_ix, &t->tx, e->idx);
	e->h.hash = 0;
	e->transport = 0; /* dead: never matches (transport is 6 or 17) */
}

static struct ptx *tx_new(struct dns_tracker *t, uint64_t h)
{
	uint32_t i;
	struct ptx *e;
	if (t->tx.n < DNS_MAX_PENDING) {
		i = t->tx.n;
		if (!(e = vslot(&t->tx, i))) {
			alloc_failed(t);
			return NULL;
		}
		t->tx.n++;
	} else {
		i = (uint32_t)(t->tx_next % DNS_MAX_PENDING);
		e = vat(&t->tx, i);
		if (e->h.linked) { /* still a live transaction */
			if (!e->answered)
				t->st.pending_evicted++;
			tx_finalise(t, e);
			hidx_unlink(&t->tx_ix, &t->tx, i);
		}
		memset(e, 0, sizeof *e);
	}
	t->tx_next++;
	e->h.hash = h;
	e->idx = i;
	hidx_link(&t->tx_ix, &t->tx, i);
	return e;
}

static void tx_clear(struct dns_tracker *t)
{
	for (uint32_t i = 0; i < t->tx.n; i++) {
		struct ptx *e = vat(&t->tx, i);
		if (e->h.linked)
			tx_finalise(t, e);
	}
	t->tx.n = 0;
	t->tx_next = 0;
	hidx_clear(&t->tx_ix);
}

/* ------------------------------------------------------------ address map */

static inline uint64_t amap_word(const uint8_t *p)
{
	return load64(p);
}

/* The key (version, any, client unless any, server) mixed a word at a time:
 * asked for twice per connection view and per answer, so inline and short
 * (pi_hash was a call of ~125 instructions for these 34 bytes). */
static inline uint64_t amap_hash(int ver, int any, const uint8_t client[16], const uint8_t server[16])
{
	uint64_t h = 0x616d6170u ^ (uint64_t)ver << 8 ^ (uint64_t)any;
	h = pi_fmix64(h ^ amap_word(server));
	if (ver == 6)
		h = pi_fmix64(h ^ amap_word(server + 8));
	if (!any) /* the client as stored: 16 bytes, its family may differ from ver */
		h = pi_fmix64(h ^ amap_word(client) ^ (amap_word(client + 8) * 0x9e3779b97f4a7c15ull));
	return h;
}

static inline struct amap *amap_find(struct dns_tracker *t, int ver, int any, const uint8_t client[16],
                                     const uint8_t server[16], uint64_t h)
{
	if (!t->amap_ix.nb)
		return NULL;
	for (uint32_t j = t->amap_ix.b[h & (t->amap_ix.nb - 1)]; j;) {
		struct amap *e = vat(&t->amap, j - 1);
		if (e->h.hash == h && e->ver == ver && e->any == any &&
		    !memcmp(e->server, server, 16) && (any || !memcmp(e->client, client, 16)))
			return e;
		j = e->h.hnext;
	}
	return NULL;
}

/* Is every answer of key e past use for a connection that starts at or
 * after horizon (see hist_valid)? */
static int amap_expired(const struct amap *e, uint64_t horizon)
{
	for (int k = 0; k < e->nh; k++)
		if (e->hist[k].ts + (uint64_t)e->hist[k].ttl * 1000000000ull + DNS_ATTR_GRACE_NS >= horizon)
			return 0;
	return 1;
}

/* Free the keys whose answers have all expired (TTL + DNS_ATTR_GRACE_NS)
 * before the horizon: the start of the oldest open connection (the horizon
 * callback) or now, whichever is earlier, less DNS_EXPIRE_SLACK_NS for
 * timestamps out of order. No connection that can still be attributed
 * starts before it, so attribution is the same as if they were kept.
 * Without a horizon callback nothing expires (a caller may ask about any
 * time). */
static void amap_sweep(struct dns_tracker *t, uint64_t now_ns)
{
	uint64_t horizon = now_ns;
	if (!t->horizon) {
		t->amap_sweep_at = UINT32_MAX;
		return;
	}
	uint64_t oldest = t->horizon(t->horizon_ctx);
	if (oldest < horizon)
		horizon = oldest;
	horizon = horizon > DNS_EXPIRE_SLACK_NS ? horizon - DNS_EXPIRE_SLACK_NS : 0;
	for (uint32_t i = 0; i < t->amap.n && horizon; i++) {
		struct amap *e = vat(&t->amap, i);
		if (!e->h.linked || !amap_expired(e, horizon))
			continue;
		hidx_unlink(&t->amap_ix, &t->amap, i);
		e->h.hnext = t->amap_free; /* unlinked: hnext links the free list */
		t->amap_free = i + 1;
		t->amap_live--;
		t->st.addrmap_expired++;
	}
	t->amap_sweep_at = t->amap_live * 2 > DNS_AMAP_SWEEP_MIN ? t->amap_live * 2 : DNS_AMAP_SWEEP_MIN;
}

/* A new key (amap_learn found none); NULL when out of memory. Kept out of
 * line: most answers refresh a key that exists. */
static __attribute__((noinline)) struct amap *
amap_add(struct dns_tracker *t, int ver, int any, const uint8_t client[16], const uint8_t server[16],
         uint64_t h, uint64_t now_ns)
{
	struct amap *e;
	uint32_t i;
	if (t->amap_live >= t->amap_sweep_at)
		amap_sweep(t, now_ns);
	if (t->amap_free) {
		i = t->amap_free - 1;
		e = vat(&t->amap, i);
		t->amap_free = e->h.hnext;
		memset(e, 0, sizeof *e);
	} else if (t->amap.n < DNS_MAX_ADDRMAP) {
		i = t->amap.n;
		if (!(e = vslot(&t->amap, i))) {
			alloc_failed(t);
			return NULL;
		}
		t->amap.n++;
		t->amap_next++;
	} else {
		i = (uint32_t)(t->amap_next % DNS_MAX_ADDRMAP);
		e = vat(&t->amap, i);
		hidx_unlink(&t->amap_ix, &t->amap, i);
		memset(e, 0, sizeof *e);
		t->st.addrmap_evicted++;
		t->amap_live--;
		t->amap_next++;
	}
	t->amap_live++;
	e->h.hash = h;
	e->ver = (uint8_t)ver;
	e->any = (uint8_t)any;
	if (!any)
		memcpy(e->client, client, 16);
	memcpy(e->server, server, 16);
	hidx_link(&t->amap_ix, &t->amap, i);
	return e;
}

#define AMAP_AHEAD 32u /* answers of a response whose keys are asked for ahead */

/* An answer's address as the address map keeps a server (16 bytes, an IPv4
 * address in the first 4, zeros after): its IP version, or 0 when the
 * answer is not a readable A or AAAA record. */
static int answer_addr(const struct dns_rr *rr, uint8_t server[16])
{
	if (!rr->rdata_ok || (rr->type != DNS_T_A && rr->type != DNS_T_AAAA))
		return 0;
	memset(server, 0, 16);
	if (rr->type == DNS_T_A) {
		memcpy(server, rr->u.a, 4);
		return 4;
	}
	memcpy(server, rr->u.aaaa, 16);
	return 6;
}

static inline void amap_learn(struct dns_tracker *t, int ver, int any, const uint8_t client[16],
                              const uint8_t server[16], const struct ahist *a, uint64_t h)
{
	struct amap *e = amap_find(t, ver, any, client, server, h);
	if (!e && !(e = amap_add(t, ver, any, client, server, h, a->ts)))
		return;
	/* the same answer again (same chain): refresh it in place */
	for (int k = 0; k < e->nh; k++) {
		if (e->hist[k].chain == a->chain && e->hist[k].ts <= a->ts) {
			e->hist[k] = *a;
			return;
		}
	}
	e->hist[e->pos] = *a;
	e->pos = (uint8_t)((e->pos + 1) % DNS_ADDR_HIST);
	if (e->nh < DNS_ADDR_HIST)
		e->nh++;
}

/* --------------------------------------------------------------- helpers */

static int is_local_name(const char *n)
{
	static const char *const suffix[] = {
		".localhost", ".local", ".localdomain", ".internal", ".lan", ".home.arpa", ".arpa"
	};
	size_t len = strlen(n);
	if (!strcmp(n, "localhost") || !strcmp(n, "."))
		return 1;
	for (size_t i = 0; i < sizeof suffix / sizeof suffix[0]; i++) {
		size_t sl = strlen(suffix[i]);
		if (len > sl && !strcmp(n + len - sl, suffix[i]))
			return 1;
		if (!strcmp(n, suffix[i] + 1))
			return 1;
	}
	return 0;
}

static int is_sinkhole_addr(int ver, const uint8_t *a)
{
	static const uint8_t zero[16];
	if (ver == 4)
		return (a[0] == 0 && a[1] == 0 && a[2] == 0 && a[3] == 0) || a[0] == 127;
	if (!memcmp(a, zero, 15))
		return a[15] == 0 || a[15] == 1;
	return 0;
}

/* Lower-case text of a name; the root is ".". Returns its length. */
static size_t name_lc(const struct dns_msg *m, uint16_t off, char *out)
{
	int n = dns_name_text(m->buf, m->len, off, out, DNS_NAME_TEXT_MAX, 1);
	if (n > 0)
		return (size_t)n;
	if (out[0] == '\0') {
		strcpy(out, ".");
		return 1;
	}
	return strlen(out); /* not decoded (cannot happen for a parsed name) */
}

static void addr_text(int ver, const uint8_t *a, char *buf, size_t len)
{
	if (!inet_ntop(ver == 4 ? AF_INET : AF_INET6, a, buf, (socklen_t)len))
		pi_strlcpy(buf, "?", len);
}

/* ------------------------------------------------------- response content */

struct ans { /* what a response says about one queried name */
	int nchain;                                 /* names incl. head */
	const char *chain[PI_DNS_MAX_CHAIN + 1];    /* interned; [0] = head */
	struct iname *ent[PI_DNS_MAX_CHAIN + 1];    /* their entries */
	uint32_t chain_ttl_min;
	int has_chain_ttl;
};

/* Where the name at off really is: a name that is only a compression
 * pointer is the name it points at (the answers of one name all point at
 * one copy of it). */
static int name_place(const struct dns_msg *m, uint16_t off)
{
	if ((size_t)off + 1 < m->len && (m->buf[off] & 0xC0) == 0xC0)
		return (m->buf[off] & 0x3F) << 8 | m->buf[off + 1];
	return off;
}

/* The name at off as its labels are on the wire, pointers followed: the
 * length bytes and label bytes up to and including the root byte, into
 * flat (DNS_NAME_WIRE_MAX bytes). Its text (dns_name_text) depends on these
 * bytes only. Returns the length, 0 if the walk meets anything but labels
 * and backward pointers within the bounds (the parser's rules are stricter:
 * a name it kept never fails here). */
static size_t name_flat(const struct dns_msg *m, uint16_t off, uint8_t *flat)
{
	size_t pos = off, n = 0;
	int hops = 0;
	for (;;) {
		if (pos >= m->len)
			return 0;
		unsigned b = m->buf[pos];
		if ((b & 0xC0) == 0xC0) {
			size_t ptr;
			if (m->len - pos < 2 || ++hops > DNS_MAX_HOPS)
				return 0;
			ptr = (size_t)(b & 0x3F) << 8 | m->buf[pos + 1];
			if (ptr >= pos)
				return 0;
			pos = ptr;
			continue;
		}
		if ((b & 0xC0) || n + 1 + b > DNS_NAME_WIRE_MAX || m->len - pos < 1 + (size_t)b)
			return 0;
		memcpy(flat + n, m->buf + pos, 1 + (size_t)b);
		n += 1 + (size_t)b;
		if (!b)
			return n;
		pos += 1 + (size_t)b;
	}
}

/* The interned entry of the name at off of the message being tracked:
 * interned if intern, else only found (NULL if never interned). Two memos
 * spare the text, its hash and look-up (~800 instructions a name), both
 * exact and keeping found entries only (a name not found now may be
 * interned later; an intern that failed is tried again, as before):
 *  - t->mn, per message: each place's entry. Every name offset of a parsed
 *    message was validated, so the walk from a pointer and the walk from
 *    the place it points at give the same text;
 *  - t->wc, across messages, direct-mapped: the entry of a name's flat
 *    wire form (name_flat), compared whole; the text is a function of it.
 *    Names recur (every response repeats its query's), in the same case. */
static struct iname *msg_name(struct dns_tracker *t, uint16_t off, int intern)
{
	const struct dns_msg *m = &t->m;
	uint16_t place = (uint16_t)name_place(m, off);
	char buf[DNS_NAME_TEXT_MAX];
	uint8_t flat[DNS_NAME_WIRE_MAX];
	struct wslot *ws = NULL;
	struct iname *e;
	for (int i = 0; i < t->nmn; i++)
		if (t->mn[i].place == place)
			return t->mn[i].e;
	if (!t->wc && !t->wc_failed && !(t->wc = calloc(DNS_WIRE_SLOTS, sizeof *t->wc)))
		t->wc_failed = 1; /* only slower */
	size_t fl = t->wc ? name_flat(m, off, flat) : 0;
	if (fl) {
		ws = &t->wc[name_hash((const char *)flat, fl) & (DNS_WIRE_SLOTS - 1)];
		if (ws->e && ws->len == fl && !memcmp(ws->wire, flat, fl)) {
			e = ws->e;
			goto found;
		}
	}
	size_t n = name_lc(m, off, buf);
	uint64_t h = name_hash(buf, n);
	e = intern ? name_intern(t, buf, n, h) : name_find(t, buf, n, h);
	if (e && ws) {
		ws->e = e;
		ws->len = (uint16_t)fl;
		memcpy(ws->wire, flat, fl);
	}
found:
	if (e && t->nmn < DNS_MSG_NAMES) {
		t->mn[t->nmn].place = place;
		t->mn[t->nmn].e = e;
		t->nmn++;
	}
	return e;
}

/* Follow the answer section's CNAMEs from head (interned). Loop-safe: each
 * RR is used once, a target already in the chain stops it, and the chain is
 * at most PI_DNS_MAX_CHAIN CNAMEs long. */
static void follow_chain(struct dns_tracker *t, const struct dns_msg *m, struct iname *head,
                         struct ans *an)
{
	struct iname *owner[DNS_MAX_AN], *target[DNS_MAX_AN] = { 0 };
	uint32_t ttl[DNS_MAX_AN];
	uint8_t used[DNS_MAX_AN];
	int ncn = 0;

	an->nchain = 1;
	an->chain[0] = head->s;
	an->ent[0] = head;
	an->has_chain_ttl = 0;
	an->chain_ttl_min = 0;
	/* pass 1: intern the targets, so that pass 2 finds every owner that
	 * can be on the chain (the head or a target) whatever the RR order */
	for (int i = 0; i < m->nan; i++) {
		const struct dns_rr *rr = &m->an[i];
		target[i] = NULL;
		if (rr->type != DNS_T_CNAME || !rr->rdata_ok)
			continue;
		target[i] = msg_name(t, rr->u.target, 1);
	}
	for (int i = 0; i < m->nan; i++) {
		const struct dns_rr *rr = &m->an[i];
		struct iname *o;
		if (!target[i])
			continue;
		o = msg_name(t, rr->name, 0);
		if (!o)
			continue; /* an owner never interned cannot be on the chain */
		owner[ncn] = o;
		target[ncn] = target[i];
		ttl[ncn] = rr->ttl;
		used[ncn] = 0;
		ncn++;
	}
	struct iname *cur = head;
	while (an->nchain <= (int)PI_DNS_MAX_CHAIN) {
		int k = -1;
		for (int i = 0; i < ncn; i++)
			if (!used[i] && owner[i] == cur) {
				k = i;
				break;
			}
		if (k < 0)
			break;
		used[k] = 1;
		for (int j = 0; j < an->nchain; j++)
			if (an->ent[j] == target[k])
				return; /* loop */
		an->chain[an->nchain] = target[k]->s;
		an->ent[an->nchain++] = target[k];
		if (!an->has_chain_ttl || ttl[k] < an->chain_ttl_min)
			an->chain_ttl_min = ttl[k];
		an->has_chain_ttl = 1;
		cur = target[k];
	}
}

/* Is the owner of rr one of the chain's names? */
static int owner_on_chain(struct dns_tracker *t, const struct dns_rr *rr, const struct ans *an)
{
	struct iname *o = msg_name(t, rr->name, 0);
	if (!o)
		return 0;
	for (int j = 0; j < an->nchain; j++)
		if (an->ent[j] == o)
			return 1;
	return 0;
}

/* Add an address to the record (or refresh its TTL). A name answered from
 * a pool larger than DNS_REC_MAX_ADDRS brings addresses not kept in every
 * answer: rn->aix finds an address without going through the list (open
 * addressing, linear probing; at most DNS_REC_MAX_ADDRS of REC_AIX slots
 * used, so an empty slot ends every search). */
static void rec_add_addr(struct rnode *rn, int ver, const uint8_t *a, uint32_t ttl)
{
	struct dns_rec *r = &rn->r;
	uint8_t full[16] = { 0 };
	memcpy(full, a, ver == 4 ? 4 : 16);
	uint64_t f0 = load64(full), f1 = load64(full + 8);
	unsigned p = (unsigned)(((f0 ^ (uint64_t)ver) * 0x9e3779b97f4a7c15ull ^ f1 * 0xc2b2ae3d27d4eb4full) >> 59);
	for (unsigned k = 0; k < REC_AIX; k++, p = (p + 1) & (REC_AIX - 1)) {
		unsigned i = rn->aix[p];
		if (!i)
			break;
		struct dns_addr_ttl *x = &r->addr[i - 1];
		if (x->ver == ver && load64(x->a) == f0 && load64(x->a + 8) == f1) {
			x->ttl = ttl;
			return;
		}
	}
	if (r->naddr >= DNS_REC_MAX_ADDRS) {
		r->addr_dropped++;
		return;
	}
	r->addr[r->naddr].ver = (uint8_t)ver;
	memcpy(r->addr[r->naddr].a, full, 16);
	r->addr[r->naddr].ttl = ttl;
	r->naddr++;
	rn->aix[p] = r->naddr; /* p: the empty slot that ended the search */
}

static void rec_ttl(struct dns_rec *r, uint32_t ttl)
{
	if (!r->has_ttl || ttl < r->ttl_min)
		r->ttl_min = ttl;
	r->has_ttl = 1;
}

/* Apply a response to record r (may be NULL) and to the address map. */
static void learn_response(struct dns_tracker *t, struct rnode *rn, struct iname *head, int ipver,
                           const uint8_t client[16], uint64_t frame, uint64_t ts_ns)
{
	const struct dns_msg *m = &t->m;
	struct dns_rec *r = rn ? &rn->r : NULL;
	struct ans an;
	if (!head)
		return;
	follow_chain(t, m, head, &an);
	const struct dchain *ch = chain_intern(t, an.chain, an.nchain);

	if (r) {
		r->last_rcode = m->ext_rcode;
		if (m->nan) {
			r->nchain = (uint8_t)(an.nchain - 1);
			for (int j = 1; j < an.nchain; j++)
				r->chain[j - 1] = an.chain[j];
			if (an.has_chain_ttl)
				rec_ttl(r, an.chain_ttl_min);
		}
		/* RFC 2308: a negative answer's TTL is min(SOA TTL, SOA minimum) */
		if (m->ext_rcode == 3 || (m->ext_rcode == 0 && !m->nan)) {
			for (int i = 0; i < m->nns; i++) {
				const struct dns_rr *rr = &m->ns[i];
				if (rr->type == DNS_T_SOA && rr->rdata_ok) {
					r->neg_ttl = rr->ttl < rr->u.soa.minimum ? rr->ttl : rr->u.soa.minimum;
					r->has_neg_ttl = 1;
					break;
				}
			}
		}
	}

	/* the chain's names point back at its head (for SNI = CDN name) */
	if (ch) {
		for (int j = 0; j < ch->n; j++) {
			struct iname *e = an.ent[j]; /* ch->name[j] == an.chain[j] */
			if (j == 0) {
				e->head_chain = ch;
				e->head_input = t->input;
			} else {
				e->cn_chain = ch;
				e->cn_input = t->input;
			}
		}
	}

	/* The address map's keys of the answers, made first and their buckets
	 * asked for, then the keys those lead to: a response names several
	 * addresses, and each key's bucket and entry were two cache misses
	 * in a row (the map holds some 24,000 keys on the bench capture),
	 * the sink thread's costliest look-up. Hints only (the answers whose
	 * owner is not on the chain are named too, and skipped below). */
	uint64_t kh[AMAP_AHEAD][2];
	int nk = 0;
	if (ch && t->amap_ix.nb) {
		uint8_t server[16];
		for (; nk < m->nan && nk < (int)AMAP_AHEAD; nk++) {
			int ver = answer_addr(&m->an[nk], server);
			for (int any = 0; ver && any < 2; any++) {
				kh[nk][any] = amap_hash(ver, any, client, server);
				__builtin_prefetch(&t->amap_ix.b[kh[nk][any] & (t->amap_ix.nb - 1)]);
			}
		}
		for (int i = 0; i < nk; i++) {
			if (!answer_addr(&m->an[i], server))
				continue;
			for (int any = 0; any < 2; any++) {
				uint32_t j = t->amap_ix.b[kh[i][any] & (t->amap_ix.nb - 1)];
				if (j)
					__builtin_prefetch(vat(&t->amap, j - 1));
			}
		}
	}

	/* the answers of a name usually point at one copy of it: the owner's
	 * place in the message decides once (the text and its look-up cost
	 * ~600 instructions an answer) */
	int last_name = -1, last_on = 0;
	for (int i = 0; i < m->nan; i++) {
		const struct dns_rr *rr = &m->an[i];
		uint8_t server[16];
		int ver = answer_addr(rr, server);
		if (!ver)
			continue;
		int here = name_place(m, rr->name);
		if (here != last_name) {
			last_name = here;
			last_on = owner_on_chain(t, rr, &an);
		}
		if (!last_on)
			continue;
		if (r) {
			rec_add_addr(rn, ver, server, rr->ttl);
			rec_ttl(r, rr->ttl);
			if (is_sinkhole_addr(ver, server) && !is_local_name(r->name))
				r->sinkhole = 1;
		}
		if (ch) {
			struct ahist h = { ts_ns, frame, rr->ttl, t->input, ch };
			/* the key's address family is the answer's; the client's family
			 * (of the DNS packet) may differ, so the client is stored as is */
			(void)ipver;
			amap_learn(t, ver, 0, client, server, &h,
			           i < nk ? kh[i][0] : amap_hash(ver, 0, client, server));
			amap_learn(t, ver, 1, client, server, &h,
			           i < nk ? kh[i][1] : amap_hash(ver, 1, client, server));
		}
	}
}

/* ------------------------------------------------------------ query log */

static char *xstrdup(const char *s)
{
	size_t n = strlen(s) + 1;
	char *p = malloc(n);
	if (p)
		memcpy(p, s, n);
	return p;
}

/* Case-preserving text of a name as tshark shows it ("<Root>" for the root). */
static void name_show(const struct dns_msg *m, uint16_t off, char *out)
{
	dns_name_text(m->buf, m->len, off, out, DNS_NAME_TEXT_MAX, 0);
	if (out[0] == '\0')
		strcpy(out, "<Root>");
}

static int ieq(const char *a, const char *b)
{
	for (; *a && *b; a++, b++) {
		char x = *a, y = *b;
		if (x >= 'A' && x <= 'Z')
			x = (char)(x - 'A' + 'a');
		if (y >= 'A' && y <= 'Z')
			y = (char)(y - 'A' + 'a');
		if (x != y)
			return 0;
	}
	return *a == *b;
}

/* Append s to a growing string; returns the new string or NULL. */
static char *sappend(char *dst, size_t *len, size_t *cap, const char *sep, const char *s)
{
	size_t need = *len + strlen(sep) + strlen(s) + 1;
	if (need > *cap) {
		size_t nc = *cap ? *cap * 2 : 256;
		while (nc < need)
			nc *= 2;
		char *n = realloc(dst, nc);
		if (!n)
			return dst;
		dst = n;
		*cap = nc;
	}
	if (*len) {
		strcpy(dst + *len, sep);
		*len += strlen(sep);
	}
	strcpy(dst + *len, s);
	*len += strlen(s);
	return dst;
}

/* The truth file's response columns, computed as truth.sh does. */
static void row_fill(struct dns_tracker *t, struct qrow *row, uint64_t rframe)
{
	const struct dns_msg *m = &t->m;
	char *tg[DNS_MAX_AN];
	char buf[DNS_NAME_TEXT_MAX], cur[DNS_NAME_TEXT_MAX];
	int idx[DNS_MAX_AN], ncn = 0;
	uint8_t used[DNS_MAX_AN] = { 0 };
	char *chain = NULL, *a = NULL, *aaaa = NULL;
	size_t cl = 0, cc = 0, al = 0, ac = 0, bl = 0, bc = 0;

	row->answered = 1;
	row->rframe = rframe;
	row->rcode = m->rcode;
	for (int i = 0; i < m->nan; i++) {
		const struct dns_rr *rr = &m->an[i];
		if (rr->type == DNS_T_CNAME && rr->rdata_ok)
			idx[ncn++] = i;
	}
	for (int k = 0; k < ncn; k++) {
		name_show(m, m->an[idx[k]].u.target, buf);
		tg[k] = xstrdup(buf);
	}
	pi_strlcpy(cur, row->qname ? row->qname : "", sizeof cur);
	for (;;) {
		int hit = -1;
		for (int k = 0; k < ncn; k++) {
			if (used[k])
				continue;
			name_show(m, m->an[idx[k]].name, buf);
			if (ieq(buf, cur)) {
				hit = k;
				break;
			}
		}
		if (hit < 0)
			break;
		used[hit] = 1;
		if (tg[hit])
			chain = sappend(chain, &cl, &cc, ">", tg[hit]);
		pi_strlcpy(cur, tg[hit] ? tg[hit] : "", sizeof cur);
	}
	for (int k = 0; k < ncn; k++)
		if (!used[k] && tg[k])
			chain = sappend(chain, &cl, &cc, ">", tg[k]);
	for (int k = 0; k < ncn; k++)
		free(tg[k]);
	for (int i = 0; i < m->nan; i++) {
		const struct dns_rr *rr = &m->an[i];
		if (!rr->rdata_ok)
			continue;
		if (rr->type == DNS_T_A) {
			addr_text(4, rr->u.a, buf, sizeof buf);
			a = sappend(a, &al, &ac, ",", buf);
		} else if (rr->type == DNS_T_AAAA) {
			addr_text(6, rr->u.aaaa, buf, sizeof buf);
			aaaa = sappend(aaaa, &bl, &bc, ",", buf);
		}
	}
	row->chain = chain;
	row->a = a;
	row->aaaa = aaaa;
}

static uint32_t row_add(struct dns_tracker *t, int transport, int ipver, const uint8_t src[16],
                        uint16_t sport, const uint8_t dst[16], uint16_t dport, uint64_t frame)
{
	const struct dns_msg *m = &t->m;
	char buf[DNS_NAME_TEXT_MAX];
	if (!t->qlog_on)
		return 0;
	if (t->nrows >= DNS_QLOG_MAX) {
		t->st.qlog_dropped++;
		return 0;
	}
	if (t->nrows == t->caprows) {
		size_t nc = t->caprows ? t->caprows * 2 : 256;
		struct qrow *n = realloc(t->rows, nc * sizeof *n);
		if (!n) {
			t->st.qlog_dropped++;
			return 0;
		}
		t->rows = n;
		t->caprows = nc;
	}
	struct qrow *r = &t->rows[t->nrows];
	memset(r, 0, sizeof *r);
	r->frame = frame;
	r->transport = (uint8_t)transport;
	r->ipver = (uint8_t)ipver;
	memcpy(r->src, src, 16);
	memcpy(r->dst, dst, 16);
	r->sport = sport;
	r->dport = dport;
	r->id = m->id;
	r->opcode = m->opcode;
	r->rcode = -1;
	if (m->have_q) {
		r->has_q = 1;
		name_show(m, m->qname, buf);
		r->qname = xstrdup(buf);
		r->qtype = m->qtype;
	}
	return (uint32_t)++t->nrows;
}

/* ------------------------------------------------------------- public API */

struct dns_tracker *dns_tracker_new(struct pi_caps *caps)
{
	struct dns_tracker *t = calloc(1, sizeof *t);
	if (!t)
		return NULL;
	t->caps = caps;
	t->names.esz = sizeof(struct iname);
	t->chains.esz = sizeof(struct dchain);
	t->recs.esz = sizeof(struct rnode);
	t->tx.esz = sizeof(struct ptx);
	t->amap.esz = sizeof(struct amap);
	t->amap_sweep_at = DNS_AMAP_SWEEP_MIN;
	if (hidx_grow(&t->names_ix, &t->names, 1024) || hidx_grow(&t->chains_ix, &t->chains, 256) ||
	    hidx_grow(&t->recs_ix, &t->recs, 256) || hidx_grow(&t->tx_ix, &t->tx, 256) ||
	    hidx_grow(&t->amap_ix, &t->amap, 256)) {
		dns_tracker_free(t);
		return NULL;
	}
	return t;
}

void dns_tracker_free(struct dns_tracker *t)
{
	if (!t)
		return;
	vfree(&t->names);
	vfree(&t->chains);
	vfree(&t->recs);
	vfree(&t->tx);
	vfree(&t->amap);
	free(t->names_ix.b);
	free(t->chains_ix.b);
	free(t->recs_ix.b);
	free(t->tx_ix.b);
	free(t->amap_ix.b);
	for (size_t i = 0; i < t->nrows; i++) {
		free(t->rows[i].qname);
		free(t->rows[i].chain);
		free(t->rows[i].a);
		free(t->rows[i].aaaa);
	}
	free(t->rows);
	free(t->wc);
	free(t->sc);
	while (t->arena) {
		struct arena_blk *n = t->arena->next;
		free(t->arena);
		t->arena = n;
	}
	free(t);
}

void dns_next_input(struct dns_tracker *t, int input_index)
{
	t->gen++;
	tx_clear(t);
	t->amap.n = 0;
	t->amap_next = 0;
	t->amap_free = 0;
	t->amap_live = 0;
	t->amap_sweep_at = DNS_AMAP_SWEEP_MIN;
	hidx_clear(&t->amap_ix);
	t->input = input_index;
}

void dns_set_horizon(struct dns_tracker *t, uint64_t (*fn)(void *ctx), void *ctx)
{
	t->horizon = fn;
	t->horizon_ctx = ctx;
}

void dns_set_query_log(struct dns_tracker *t, int on)
{
	t->qlog_on = on != 0;
}

uint64_t dns_generation(const struct dns_tracker *t)
{
	return t->gen;
}

void dns_finish(struct dns_tracker *t)
{
	t->gen++;
	tx_clear(t);
}

void dns_track_msg(struct dns_tracker *t, int kind, int transport, int ipver,
                   const uint8_t src[16], uint16_t sport,
                   const uint8_t dst[16], uint16_t dport,
                   const uint8_t *msg, size_t len, uint64_t frame, uint64_t ts_ns)
{
	t->gen++;
	struct dns_msg *m = &t->m;

	if (len < 4) { /* no id and flags: Wireshark stops before matching */
		if (kind == DNS_KIND_DNS)
			t->st.short_msgs++;
		return;
	}
	if (kind == DNS_KIND_MDNS || kind == DNS_KIND_LLMNR) {
		int resp = msg[2] >> 7;
		if (kind == DNS_KIND_MDNS)
			(*(resp ? &t->st.mdns_responses : &t->st.mdns_queries))++;
		else
			(*(resp ? &t->st.llmnr_responses : &t->st.llmnr_queries))++;
		return;
	}
	if (kind != DNS_KIND_DNS)
		return;

	int status = dns_parse(msg, len, m);
	t->nmn = 0; /* a new message: no place known */
	struct conv c;
	conv_make(&c, transport, ipver, src, sport, dst, dport);
	uint64_t h = tx_hash(&c, m->id);
	struct ptx *tx = tx_find(t, &c, m->id, h);
	struct iname *qn = NULL;
	uint32_t r1 = 0;

	t->st.messages++;
	if (status != DNS_OK)
		t->st.incomplete++;
	if (m->have_q) {
		qn = msg_name(t, m->qname, 1);
		if (!qn && t->caps && t->names.n >= DNS_MAX_INTERN)
			t->caps->dns_names_dropped++; /* else counted in caps->alloc_failures */
	}

	if (!m->qr) {
		/* a query: new transaction, or a retransmission (Wireshark) */
		int retrans = tx && !tx->answered &&
		              (int64_t)(ts_ns - tx->req_ts) < (int64_t)DNS_RETRANS_NS;
		t->st.queries++;
		if (qn)
			r1 = rec_get(t, qn, m->qtype, frame);
		struct dns_rec *r = rec_at(t, r1);
		if (r) {
			r->queries++;
			if (r->queries == 1) {
				r->first_frame = frame;
				r->first_input = t->input;
			}
			r->last_frame = frame;
			r->last_input = t->input;
		}
		uint32_t row = row_add(t, transport, ipver, src, sport, dst, dport, frame);
		if (retrans) {
			if (r)
				r->retransmissions++;
			return;
		}
		if (tx)
			tx_retire(t, tx);
		if (r)
			r->transactions++;
		tx = tx_new(t, h);
		if (!tx)
			return;
		tx->transport = (uint8_t)transport;
		tx->ipver = c.ipver;
		tx->id = m->id;
		memcpy(tx->a, c.a, 16);
		memcpy(tx->b, c.b, 16);
		tx->pa = c.pa;
		tx->pb = c.pb;
		tx->req_frame = frame;
		tx->req_ts = ts_ns;
		tx->rec = r1;
		tx->row = row;
		tx->complete = status == DNS_OK;
		return;
	}

	/* a response */
	t->st.responses++;
	if (tx && !tx->answered) {
		struct dns_rec *r;
		tx->answered = 1;
		struct rnode *rn = rnode_at(t, tx->rec);
		r = rn ? &rn->r : NULL;
		if (r)
			r->answered++;
		if (tx->row && tx->complete)
			row_fill(t, &t->rows[tx->row - 1], frame);
		learn_response(t, rn, rn ? rn->ne : qn, ipver, dst, frame, ts_ns);
		return;
	}
	if (tx)
		t->st.resp_retrans++;
	else
		t->st.unsolicited++;
	/* not matched: still learn the name and addresses it gives */
	if (!qn)
		return;
	struct rnode *rn = NULL;
	if (!tx) {
		r1 = rec_get(t, qn, m->qtype, frame);
		rn = rnode_at(t, r1);
		if (rn)
			rn->r.unsolicited++;
	}
	learn_response(t, rn, qn, ipver, dst, frame, ts_ns);
}

static int hist_valid(const struct ahist *h, uint64_t ts_ns)
{
	if (h->ts > ts_ns + DNS_ATTR_SKEW_NS)
		return 0;
	return ts_ns <= h->ts + (uint64_t)h->ttl * 1000000000ull + DNS_ATTR_GRACE_NS;
}

static void attr_fill(struct dns_attr *out, const struct dchain *ch, const struct ahist *h,
                      int same, int via_sni)
{
	out->name = ch->name[0];
	out->nchain = ch->n;
	out->chain = ch->name;
	if (h) {
		out->ttl = h->ttl;
		out->answer_ts_ns = h->ts;
		out->frame = h->frame;
		out->input = h->input;
	}
	out->same_client = (uint8_t)same;
	out->via_sni = (uint8_t)via_sni;
}

/* The entry of the SNI's n bytes in any case (NULL: not a name seen).
 * Every connection is attributed twice (decided, closed) and SNIs recur:
 * a direct-mapped memo keyed by the bytes as given (compared whole; the
 * slot from the length and the first and last words) spares the
 * lower-case hash and look-up. Exact: entries are never removed, and a
 * name not found stays so while no name is added (t->names.n). */
static struct iname *sni_find(struct dns_tracker *t, const char *sni, size_t n)
{
	struct sslot *sl = NULL;
	struct iname *e;
	if (!t->sc && !t->sc_failed && !(t->sc = calloc(DNS_SNI_SLOTS, sizeof *t->sc)))
		t->sc_failed = 1; /* only slower */
	if (t->sc && n >= 8 && n <= DNS_SNI_MEMO_MAX) {
		uint64_t k = ((uint64_t)n * 0x9e3779b97f4a7c15ull) ^ load64((const uint8_t *)sni) ^
		             (load64((const uint8_t *)sni + n - 8) * 0xc2b2ae3d27d4eb4full);
		sl = &t->sc[pi_fmix64(k) & (DNS_SNI_SLOTS - 1)];
		if (sl->used && sl->len == n && !memcmp(sl->s, sni, n) &&
		    (sl->e || sl->names_n == t->names.n))
			return sl->e;
	}
	e = name_find_anycase(t, sni, n, name_hash_anycase(sni, n));
	if (sl) {
		sl->used = 1;
		sl->len = (uint8_t)n;
		memcpy(sl->s, sni, n);
		sl->e = e;
		sl->names_n = t->names.n;
	}
	return e;
}

int dns_attribute(struct dns_tracker *t, int ipver, const uint8_t client[16],
                  const uint8_t server[16], uint64_t ts_ns, const char *sni,
                  struct dns_attr *out)
{
	struct amap *e[2];
	const char *sni_s = NULL;
	struct iname *sni_e = NULL;
	uint8_t srv[16] = { 0 };

	memset(out, 0, sizeof *out);
	if (sni && *sni) {
		/* the SNI as the names are kept: lower-case (looked up in any
		 * case), at most DNS_NAME_TEXT_MAX - 1 bytes, one trailing dot off */
		size_t n = strlen(sni);
		if (n > DNS_NAME_TEXT_MAX - 1)
			n = DNS_NAME_TEXT_MAX - 1;
		if (n > 1 && sni[n - 1] == '.')
			n--;
		sni_e = sni_find(t, sni, n);
		/* only a name on a chain of this input's answers can be found
		 * below (the address map holds this input's answers only, and
		 * each answer marks its chain's names): else the SNI stands
		 * alone, without looking the addresses up */
		if (!sni_e || !((sni_e->head_chain && sni_e->head_input == t->input) ||
		                (sni_e->cn_chain && sni_e->cn_input == t->input)))
			return 0;
		sni_s = sni_e->s;
	}
	memcpy(srv, server, ipver == 4 ? 4 : 16);
	{
		/* both keys' buckets fetched at once: the table is larger than the
		 * caches, and each look-up waits on memory twice */
		uint64_t h0 = amap_hash(ipver, 0, client, srv), h1 = amap_hash(ipver, 1, client, srv);
		if (t->amap_ix.nb) {
			__builtin_prefetch(&t->amap_ix.b[h0 & (t->amap_ix.nb - 1)]);
			__builtin_prefetch(&t->amap_ix.b[h1 & (t->amap_ix.nb - 1)]);
			uint32_t j0 = t->amap_ix.b[h0 & (t->amap_ix.nb - 1)], j1 = t->amap_ix.b[h1 & (t->amap_ix.nb - 1)];
			if (j0)
				__builtin_prefetch(vat(&t->amap, j0 - 1));
			if (j1)
				__builtin_prefetch(vat(&t->amap, j1 - 1));
		}
		e[0] = amap_find(t, ipver, 0, client, srv, h0);
		e[1] = amap_find(t, ipver, 1, client, srv, h1);
	}
	/* 1. an answer for this address whose chain holds the SNI */
	if (sni_s) {
		for (int w = 0; w < 2; w++) {
			const struct ahist *best = NULL;
			if (!e[w])
				continue;
			for (int k = 0; k < e[w]->nh; k++) {
				const struct ahist *h = &e[w]->hist[k];
				if (!hist_valid(h, ts_ns) || (best && best->ts >= h->ts))
					continue;
				for (int j = 0; j < h->chain->n; j++)
					if (h->chain->name[j] == sni_s) {
						best = h;
						break;
					}
			}
			if (best) {
				attr_fill(out, best->chain, best, w == 0, 0);
				return 1;
			}
		}
		/* 2. the SNI is a queried name, or a CNAME target (CDN name) */
		if (sni_e->head_chain && sni_e->head_input == t->input) {
			attr_fill(out, sni_e->head_chain, NULL, 0, 1);
			return 1;
		}
		if (sni_e->cn_chain && sni_e->cn_input == t->input) {
			attr_fill(out, sni_e->cn_chain, NULL, 0, 1);
			return 1;
		}
	}
	/* with an SNI that no answer relates to, the SNI stands alone: an
	 * unrelated name that last resolved to a shared (CDN) address must not
	 * replace it */
	if (sni && *sni)
		return 0;
	/* 3. no SNI: the most recent valid answer, this client first, then any */
	for (int w = 0; w < 2; w++) {
		const struct ahist *best = NULL;
		if (!e[w])
			continue;
		for (int k = 0; k < e[w]->nh; k++) {
			const struct ahist *h = &e[w]->hist[k];
			if (hist_valid(h, ts_ns) && (!best || h->ts > best->ts))
				best = h;
		}
		if (best) {
			attr_fill(out, best->chain, best, w == 0, 0);
			return 1;
		}
	}
	return 0;
}

size_t dns_count(const struct dns_tracker *t)
{
	return t->recs.n;
}

const struct dns_rec *dns_get(const struct dns_tracker *t, size_t i)
{
	if (i >= t->recs.n)
		return NULL;
	return &((struct rnode *)vat(&t->recs, (uint32_t)i))->r;
}

const struct dns_stats *dns_get_stats(const struct dns_tracker *t)
{
	return &t->st;
}

/* ---------------------------------------------------------------- output */

void dns_write_json(struct dns_tracker *t, struct jw *w)
{
	char tb[16], buf[64];
	jw_arr_open(w);
	for (size_t i = 0; i < dns_count(t); i++) {
		const struct dns_rec *r = dns_get(t, i);
		jw_obj_open(w);
		jw_kstr(w, "name", r->name);
		jw_kstr(w, "qtype", dns_type_name(r->qtype, tb, sizeof tb));
		jw_kuint(w, "qtype_code", r->qtype);
		jw_kuint(w, "queries", r->queries);
		jw_kuint(w, "retransmissions", r->retransmissions);
		jw_kuint(w, "answered", r->answered);
		jw_kuint(w, "unanswered", r->unanswered);
		jw_key(w, "rcode");
		if (r->last_rcode >= 0)
			jw_str(w, dns_rcode_name((unsigned)r->last_rcode, tb, sizeof tb));
		else
			jw_null(w);
		jw_key(w, "chain");
		jw_arr_open(w);
		for (int j = 0; j < r->nchain; j++)
			jw_str(w, r->chain[j]);
		jw_arr_close(w);
		jw_key(w, "addresses");
		jw_arr_open(w);
		for (int j = 0; j < r->naddr; j++) {
			addr_text(r->addr[j].ver, r->addr[j].a, buf, sizeof buf);
			jw_str(w, buf);
		}
		jw_arr_close(w);
		jw_key(w, "ttl_min");
		if (r->has_ttl)
			jw_uint(w, r->ttl_min);
		else
			jw_null(w);
		jw_kuint(w, "first_frame", r->first_frame);
		jw_kuint(w, "last_frame", r->last_frame);
		jw_kint(w, "input", r->first_input);
		jw_kint(w, "last_input", r->last_input);
		jw_kbool(w, "sinkhole", r->sinkhole);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

void dns_write_report(struct dns_tracker *t, FILE *f, int color)
{
	const char *bold = color ? "\033[1m" : "", *red = color ? "\033[31m" : "",
	           *yel = color ? "\033[33m" : "", *off = color ? "\033[0m" : "";
	char tb[16], rb[16], ab[64];
	size_t n = dns_count(t), nun = 0, nerr = 0, nsink = 0;
	uint64_t q = 0;

	for (size_t i = 0; i < n; i++) {
		const struct dns_rec *r = dns_get(t, i);
		q += r->queries;
		if (r->queries && !r->answered)
			nun++;
		if (r->last_rcode > 0)
			nerr++;
		if (r->sinkhole)
			nsink++;
	}
	fprintf(f, "%sDNS%s: %zu name/type pairs, %llu queries; %zu never answered, %zu with errors, "
	        "%zu sinkholed\n", bold, off, n, (unsigned long long)q, nun, nerr, nsink);
	if (t->st.mdns_queries + t->st.mdns_responses + t->st.llmnr_queries + t->st.llmnr_responses)
		fprintf(f, "  mDNS: %llu queries, %llu responses; LLMNR: %llu queries, %llu responses\n",
		        (unsigned long long)t->st.mdns_queries, (unsigned long long)t->st.mdns_responses,
		        (unsigned long long)t->st.llmnr_queries, (unsigned long long)t->st.llmnr_responses);
	if (t->st.unsolicited || t->st.incomplete)
		fprintf(f, "  %llu responses matched no query, %llu messages cut or malformed\n",
		        (unsigned long long)t->st.unsolicited, (unsigned long long)t->st.incomplete);
	if (nun) {
		fprintf(f, "  %sUnanswered%s (name type: tries, first..last frame):\n", red, off);
		for (size_t i = 0; i < n; i++) {
			const struct dns_rec *r = dns_get(t, i);
			if (!r->queries || r->answered)
				continue;
			char esc[2048];
			pi_escape_text(r->name, esc, sizeof esc);
			fprintf(f, "    %s %s: %u tries, frames %llu..%llu", esc,
			        dns_type_name(r->qtype, tb, sizeof tb), r->queries,
			        (unsigned long long)r->first_frame, (unsigned long long)r->last_frame);
			if (r->first_input || r->last_input)
				fprintf(f, " (input %d..%d)", r->first_input, r->last_input);
			fputc('\n', f);
		}
	}
	if (nerr) {
		fprintf(f, "  %sErrors%s (name type: rcode, queries, first frame):\n", yel, off);
		for (size_t i = 0; i < n; i++) {
			const struct dns_rec *r = dns_get(t, i);
			if (r->last_rcode <= 0)
				continue;
			char esc[2048];
			pi_escape_text(r->name, esc, sizeof esc);
			fprintf(f, "    %s %s: %s, %u queries, frame %llu\n", esc,
			        dns_type_name(r->qtype, tb, sizeof tb),
			        dns_rcode_name((unsigned)r->last_rcode, rb, sizeof rb), r->queries,
			        (unsigned long long)r->first_frame);
		}
	}
	if (nsink) {
		fprintf(f, "  %sSinkholed%s (answered with a null or loopback address):\n", yel, off);
		for (size_t i = 0; i < n; i++) {
			const struct dns_rec *r = dns_get(t, i);
			if (!r->sinkhole)
				continue;
			char esc[2048];
			pi_escape_text(r->name, esc, sizeof esc);
			ab[0] = '\0';
			for (int j = 0; j < r->naddr; j++)
				if (is_sinkhole_addr(r->addr[j].ver, r->addr[j].a)) {
					addr_text(r->addr[j].ver, r->addr[j].a, ab, sizeof ab);
					break;
				}
			fprintf(f, "    %s %s -> %s, frame %llu\n", esc, dns_type_name(r->qtype, tb, sizeof tb),
			        ab, (unsigned long long)r->first_frame);
		}
	}
	if (t->st.pending_evicted || t->st.qlog_dropped || t->st.addrmap_evicted)
		fprintf(f, "  limits: %llu open queries evicted, %llu address-map keys evicted, "
		        "%llu query-log rows dropped\n",
		        (unsigned long long)t->st.pending_evicted, (unsigned long long)t->st.addrmap_evicted,
		        (unsigned long long)t->st.qlog_dropped);
}

void dns_write_queries_tsv(struct dns_tracker *t, FILE *f)
{
	char sa[64], da[64];
	fputs("frame\ttransport\tsrc\tsport\tdst\tdport\tid\topcode\tqname\tqtype\tanswered\t"
	      "response_frame\trcode\tcname_chain\ta\taaaa\n", f);
	for (size_t i = 0; i < t->nrows; i++) {
		const struct qrow *r = &t->rows[i];
		addr_text(r->ipver, r->src, sa, sizeof sa);
		addr_text(r->ipver, r->dst, da, sizeof da);
		fprintf(f, "%llu\t%s\t%s\t%u\t%s\t%u\t0x%04x\t%u\t%s\t", (unsigned long long)r->frame,
		        r->transport == 6 ? "tcp" : "udp", sa, r->sport, da, r->dport, r->id, r->opcode,
		        r->qname ? r->qname : "");
		if (r->has_q)
			fprintf(f, "%u", r->qtype);
		if (r->answered)
			fprintf(f, "\ty\t%llu\t%d\t%s\t%s\t%s\n", (unsigned long long)r->rframe, r->rcode,
			        r->chain ? r->chain : "", r->a ? r->a : "", r->aaaa ? r->aaaa : "");
		else
			fputs("\tn\t\t\t\t\t\n", f);
	}
}
