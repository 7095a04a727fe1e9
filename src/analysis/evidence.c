/* evidence.c: per-name aggregates of connection verdicts (see evidence.h). */
#include "analysis/evidence.h"

#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define NBUCKETS 4096u

struct evidence {
	struct evid_name *buckets[NBUCKETS];
	struct evid_name **all;
	size_t count, cap;
	uint64_t dropped;
	uint64_t alloc_failures;  /* names not kept: out of memory */
	const struct evid_name **sorted;
};

struct evidence *evidence_new(void)
{
	return calloc(1, sizeof(struct evidence));
}

void evidence_free(struct evidence *e)
{
	if (!e)
		return;
	for (size_t i = 0; i < e->count; i++)
		free(e->all[i]);
	free(e->all);
	free(e->sorted);
	free(e);
}

static struct evid_name *lookup(struct evidence *e, const char *name)
{
	uint64_t h = pi_hash(name, strlen(name), 1);
	struct evid_name *n;
	for (n = e->buckets[h % NBUCKETS]; n; n = n->hnext)
		if (n->hash == h && strcmp(n->name, name) == 0)
			return n;
	if (e->count >= EVID_MAX_NAMES) {
		e->dropped++;
		return NULL;
	}
	if (e->count == e->cap) {
		size_t nc = e->cap ? e->cap * 2 : 64;
		struct evid_name **na = realloc(e->all, nc * sizeof(*na));
		if (!na) {
			e->alloc_failures++;
			return NULL;
		}
		e->all = na;
		e->cap = nc;
	}
	n = calloc(1, sizeof(*n));
	if (!n) {
		e->alloc_failures++;
		return NULL;
	}
	n->hash = h;
	pi_strlcpy(n->name, name, sizeof(n->name));
	n->hnext = e->buckets[h % NBUCKETS];
	e->buckets[h % NBUCKETS] = n;
	e->all[e->count++] = n;
	return n;
}

/* Every bounded set below keeps the smallest members in a fixed order, so
 * that adding connections one by one and merging aggregates (pinspect
 * merge) give the same result whatever the order: merging is associative
 * and commutative. */

static inline uint64_t load_be64(const uint8_t *p)
{
	/* compilers make this one load and a byte swap */
	return (uint64_t)p[0] << 56 | (uint64_t)p[1] << 48 | (uint64_t)p[2] << 40 | (uint64_t)p[3] << 32 |
	       (uint64_t)p[4] << 24 | (uint64_t)p[5] << 16 | (uint64_t)p[6] << 8 | (uint64_t)p[7];
}

/* memcmp(a, b, 17) as to its sign: unsigned bytes in order, i.e. the first
 * byte, then the next 16 as two big-endian words (memcmp was a library
 * call per step of the search). */
static inline int key17_cmp(const uint8_t *a, const uint8_t *b)
{
	uint64_t x, y;
	if (a[0] != b[0])
		return a[0] < b[0] ? -1 : 1;
	if ((x = load_be64(a + 1)) != (y = load_be64(b + 1)))
		return x < y ? -1 : 1;
	if ((x = load_be64(a + 9)) != (y = load_be64(b + 9)))
		return x < y ? -1 : 1;
	return 0;
}

/* Add (or find) a client; counts go to it. Beyond EVID_MAX_CLIENTS the
 * largest address is dropped (overflow noted). */
static void client_add(struct evid_name *n, const uint8_t key[17], uint32_t fail, uint32_t ok)
{
	int lo = 0, hi = n->nclients, pos;
	/* the clients are kept sorted (memcmp order). A key past the largest
	 * is the common case once a name has many clients (all kept, or the
	 * set is full and it is not kept): look there first. */
	if (hi > 0) {
		int c = key17_cmp(n->client_addr[hi - 1], key);
		if (c == 0) {
			n->client_fail[hi - 1] += fail;
			n->client_ok[hi - 1] += ok;
			return;
		}
		if (c < 0)
			lo = hi;
		else
			hi--;
	}
	/* binary search of the rest */
	while (lo < hi) {
		int mid = (lo + hi) / 2, c = key17_cmp(n->client_addr[mid], key);
		if (c == 0) {
			n->client_fail[mid] += fail;
			n->client_ok[mid] += ok;
			return;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (n->nclients >= EVID_MAX_CLIENTS) {
		n->clients_overflow = 1;
		if (lo == n->nclients)
			return; /* larger than all kept */
		n->nclients--; /* drop the largest */
	}
	for (pos = n->nclients; pos > lo; pos--) {
		memcpy(n->client_addr[pos], n->client_addr[pos - 1], 17);
		n->client_fail[pos] = n->client_fail[pos - 1];
		n->client_ok[pos] = n->client_ok[pos - 1];
	}
	memcpy(n->client_addr[pos], key, 17);
	n->client_fail[pos] = fail;
	n->client_ok[pos] = ok;
	n->nclients++;
}

static void version_add(struct evid_name *n, uint16_t v)
{
	int i, pos;
	for (i = 0; i < n->nversions; i++)
		if (n->versions[i] == v)
			return;
	if (n->nversions >= EVID_MAX_VERSIONS) {
		if (v > n->versions[n->nversions - 1])
			return;
		n->nversions--;
	}
	for (pos = n->nversions; pos > 0 && n->versions[pos - 1] > v; pos--)
		n->versions[pos] = n->versions[pos - 1];
	n->versions[pos] = v;
	n->nversions++;
}

static void ja3_add(struct evid_name *n, const char *j)
{
	int i, pos;
	for (i = 0; i < n->nja3; i++)
		if (strcmp(n->ja3[i], j) == 0)
			return;
	if (n->nja3 >= EVID_MAX_JA3) {
		if (strcmp(j, n->ja3[n->nja3 - 1]) > 0)
			return;
		n->nja3--;
	}
	for (pos = n->nja3; pos > 0 && strcmp(n->ja3[pos - 1], j) > 0; pos--)
		memcpy(n->ja3[pos], n->ja3[pos - 1], sizeof(n->ja3[0]));
	pi_strlcpy(n->ja3[pos], j, sizeof(n->ja3[0]));
	n->nja3++;
}

/* The smallest non-empty value wins. */
static void text_min(char *dst, size_t len, const char *v)
{
	if (v && *v && (!*dst || strcmp(v, dst) < 0))
		pi_strlcpy(dst, v, len);
}

/* Examples: failures (and alerts) before a success; then by time,
 * endpoints, stream. At most one success is kept. */
static int example_cmp(const struct evid_example *a, const struct evid_example *b)
{
	int ca = a->verdict == V_HEALTHY, cb = b->verdict == V_HEALTHY, r;
	if (ca != cb)
		return ca - cb;
	if (a->ts_ns != b->ts_ns)
		return a->ts_ns < b->ts_ns ? -1 : 1;
	if ((r = strcmp(a->client, b->client)) != 0)
		return r;
	if ((r = strcmp(a->server, b->server)) != 0)
		return r;
	if (a->stream != b->stream)
		return a->stream < b->stream ? -1 : 1;
	return a->input < b->input ? -1 : a->input > b->input;
}

/* example_cmp(x, b) as far as verdict class and time decide it: <0 or
 * >0, or 0 when the endpoints and the rest must decide. */
static int example_cmp_early(int x_healthy, uint64_t x_ts, const struct evid_example *b)
{
	int cb = b->verdict == V_HEALTHY;
	if (x_healthy != cb)
		return x_healthy - cb;
	if (x_ts != b->ts_ns)
		return x_ts < b->ts_ns ? -1 : 1;
	return 0;
}

/* Would example_add keep an example of this class and time? 0 only when
 * it surely would not (the early part of example_cmp decides); 1 when it
 * would or when the rest of the comparison is needed. Building the
 * example (two address strings, ~300 bytes) is then spared: after the
 * first few connections of a name, most are not kept. */
static int example_maybe_kept(const struct evid_name *n, int healthy, uint64_t ts)
{
	if (healthy)
		for (int i = 0; i < n->nexamples; i++)
			if (n->examples[i].verdict == V_HEALTHY) {
				int r = example_cmp_early(healthy, ts, &n->examples[i]);
				if (r > 0)
					return 0; /* a success at least as early is kept */
				return 1; /* earlier: it replaces that success (or a tie) */
			}
	return n->nexamples < EVID_MAX_EXAMPLES ||
	       example_cmp_early(healthy, ts, &n->examples[n->nexamples - 1]) <= 0;
}

static void example_add(struct evid_name *n, const struct evid_example *x)
{
	int pos;
	if (x->verdict == V_HEALTHY)
		for (int i = 0; i < n->nexamples; i++)
			if (n->examples[i].verdict == V_HEALTHY) {
				if (example_cmp(x, &n->examples[i]) >= 0)
					return;
				/* replace the later success */
				memmove(&n->examples[i], &n->examples[i + 1],
				        (size_t)(n->nexamples - i - 1) * sizeof(n->examples[0]));
				n->nexamples--;
				break;
			}
	if (n->nexamples >= EVID_MAX_EXAMPLES) {
		if (example_cmp(x, &n->examples[n->nexamples - 1]) >= 0)
			return;
		n->nexamples--;
	}
	for (pos = n->nexamples; pos > 0 && example_cmp(&n->examples[pos - 1], x) > 0; pos--)
		n->examples[pos] = n->examples[pos - 1];
	n->examples[pos] = *x;
	n->nexamples++;
}

int evid_mixed_client(const struct evid_name *n)
{
	for (int i = 0; i < n->nclients; i++)
		if (n->client_fail[i] && n->client_ok[i])
			return 1;
	return 0;
}

const struct evid_name *evidence_find(const struct evidence *e, const char *name)
{
	uint64_t h = pi_hash(name, strlen(name), 1);
	for (const struct evid_name *n = e->buckets[h % NBUCKETS]; n; n = n->hnext)
		if (n->hash == h && strcmp(n->name, name) == 0)
			return n;
	return NULL;
}

static int strong_cert_alert(uint8_t desc)
{
	return desc == 48 || desc == 42 || desc == 46 || desc == 49;
}

void evidence_add(struct evidence *e, const struct conn *c, const char *name, int name_source,
                  const char *client, const char *server, const char *app, const char *chain)
{
	struct evid_name *n = lookup(e, name);
	uint8_t key[17];
	int rejected = verdict_is_rejection(c->verdict), ok = c->verdict == V_HEALTHY;
	if (!n)
		return;
	n->total++;
	if ((unsigned)c->verdict < V_COUNT)
		n->verdicts[c->verdict]++;
	if (rejected)
		n->failures++;
	if (ok)
		n->successes++;
	if (c->verdict == V_CERT_ALERT && strong_cert_alert(c->alert_desc))
		n->cert_alert_strong++;
	if (name_source > n->name_source)
		n->name_source = (uint8_t)name_source;
	if (c->sni[0] && strcmp(c->sni, name) != 0)
		text_min(n->sni, sizeof(n->sni), c->sni);
	key[0] = c->ipver;
	memcpy(key + 1, c->caddr, 16);
	client_add(n, key, (uint32_t)rejected, (uint32_t)ok);
	if (c->version)
		version_add(n, c->version);
	if (c->ja3[0])
		ja3_add(n, c->ja3);
	text_min(n->app, sizeof(n->app), app);
	text_min(n->chain, sizeof(n->chain), chain);
	if (!n->first_ts || (c->first_ts && c->first_ts < n->first_ts))
		n->first_ts = c->first_ts;
	if (c->last_ts > n->last_ts)
		n->last_ts = c->last_ts;
	if ((rejected || ok || c->verdict == V_SERVER_ABORT || c->verdict == V_OTHER_ALERT) &&
	    example_maybe_kept(n, c->verdict == V_HEALTHY, c->first_ts)) {
		struct evid_example x;
		memset(&x, 0, sizeof(x));
		x.input = c->input;
		x.stream = c->stream;
		x.verdict = c->verdict;
		x.has_alert = c->has_alert;
		x.alert_desc = c->alert_desc;
		x.alert_from_server = c->alert_from_server;
		pi_strlcpy(x.client, client, sizeof(x.client));
		pi_strlcpy(x.server, server, sizeof(x.server));
		memcpy(x.frames, c->frames, sizeof(x.frames));
		x.nframes = c->nframes;
		x.reaction_ms = c->reaction_ms;
		x.ts_ns = c->first_ts;
		example_add(n, &x);
	}
}

void evidence_merge_name(struct evidence *e, const struct evid_name *src, uint32_t input_offset)
{
	struct evid_name *n = lookup(e, src->name);
	if (!n)
		return;
	n->total += src->total;
	for (int k = 0; k < V_COUNT; k++)
		n->verdicts[k] += src->verdicts[k];
	n->failures += src->failures;
	n->successes += src->successes;
	n->cert_alert_strong += src->cert_alert_strong;
	if (src->name_source > n->name_source)
		n->name_source = src->name_source;
	text_min(n->sni, sizeof(n->sni), src->sni);
	for (int i = 0; i < src->nclients; i++)
		client_add(n, src->client_addr[i], src->client_fail[i], src->client_ok[i]);
	if (src->clients_overflow)
		n->clients_overflow = 1;
	for (int i = 0; i < src->nversions; i++)
		version_add(n, src->versions[i]);
	for (int i = 0; i < src->nja3; i++)
		ja3_add(n, src->ja3[i]);
	text_min(n->app, sizeof(n->app), src->app);
	text_min(n->chain, sizeof(n->chain), src->chain);
	if (src->first_ts && (!n->first_ts || src->first_ts < n->first_ts))
		n->first_ts = src->first_ts;
	if (src->last_ts > n->last_ts)
		n->last_ts = src->last_ts;
	n->zsat_tunnels += src->zsat_tunnels;
	n->zsat_failures += src->zsat_failures;
	n->wi_failures += src->wi_failures;
	n->wi_users += src->wi_users;
	for (int i = 0; i < src->nexamples; i++) {
		struct evid_example x = src->examples[i];
		x.input += input_offset;
		example_add(n, &x);
	}
}

void evidence_add_logs(struct evidence *e, const char *name, uint64_t zsat_tunnels, uint64_t zsat_failures,
                       uint64_t wi_failures, uint64_t wi_users)
{
	struct evid_name *n = lookup(e, name);
	if (!n)
		return;
	n->zsat_tunnels += zsat_tunnels;
	n->zsat_failures += zsat_failures;
	n->wi_failures += wi_failures;
	n->wi_users += wi_users;
}

uint64_t evid_all_failures(const struct evid_name *n)
{
	return n->failures + n->zsat_failures + n->wi_failures;
}

size_t evidence_count(const struct evidence *e)
{
	return e->count;
}

uint64_t evidence_dropped(const struct evidence *e)
{
	return e->dropped;
}

uint64_t evidence_alloc_failures(const struct evidence *e)
{
	return e->alloc_failures;
}

static int cmp_names(const void *a, const void *b)
{
	const struct evid_name *x = *(const struct evid_name *const *)a;
	const struct evid_name *y = *(const struct evid_name *const *)b;
	if (evid_all_failures(x) != evid_all_failures(y))
		return evid_all_failures(x) > evid_all_failures(y) ? -1 : 1;
	if (x->total != y->total)
		return x->total > y->total ? -1 : 1;
	return strcmp(x->name, y->name);
}

const struct evid_name **evidence_sorted(struct evidence *e, size_t *n)
{
	free(e->sorted);
	e->sorted = malloc((e->count ? e->count : 1) * sizeof(*e->sorted));
	if (!e->sorted) {
		*n = 0;
		return NULL;
	}
	for (size_t i = 0; i < e->count; i++)
		e->sorted[i] = e->all[i];
	qsort(e->sorted, e->count, sizeof(*e->sorted), cmp_names);
	*n = e->count;
	return e->sorted;
}
