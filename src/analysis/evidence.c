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
		if (!na)
			return NULL;
		e->all = na;
		e->cap = nc;
	}
	n = calloc(1, sizeof(*n));
	if (!n)
		return NULL;
	n->hash = h;
	pi_strlcpy(n->name, name, sizeof(n->name));
	n->hnext = e->buckets[h % NBUCKETS];
	e->buckets[h % NBUCKETS] = n;
	e->all[e->count++] = n;
	return n;
}

static void add_client(struct evid_name *n, const struct conn *c)
{
	uint8_t key[17];
	int i;
	key[0] = c->ipver;
	memcpy(key + 1, c->caddr, 16);
	for (i = 0; i < n->nclients; i++)
		if (memcmp(n->client_addr[i], key, sizeof(key)) == 0)
			break;
	if (i == n->nclients) {
		if (n->nclients >= EVID_MAX_CLIENTS) {
			n->clients_overflow = 1;
			return;
		}
		memcpy(n->client_addr[n->nclients++], key, sizeof(key));
	}
	if (verdict_is_rejection(c->verdict))
		n->client_fail[i]++;
	else if (c->verdict == V_HEALTHY)
		n->client_ok[i]++;
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

void evidence_add(struct evidence *e, const struct conn *c, const char *name, int name_source,
                  const char *client, const char *server, const char *app, const char *chain)
{
	struct evid_name *n = lookup(e, name);
	if (!n)
		return;
	n->total++;
	if ((unsigned)c->verdict < V_COUNT)
		n->verdicts[c->verdict]++;
	if (verdict_is_rejection(c->verdict))
		n->failures++;
	if (c->verdict == V_CERT_ALERT && (c->alert_desc == 48 || c->alert_desc == 42 || c->alert_desc == 46 ||
	                                   c->alert_desc == 49))
		n->cert_alert_strong++;
	else if (c->verdict == V_HEALTHY)
		n->successes++;
	if (name_source > n->name_source)
		n->name_source = (uint8_t)name_source;
	if (c->sni[0] && strcmp(c->sni, name) != 0 && !n->sni[0])
		pi_strlcpy(n->sni, c->sni, sizeof(n->sni));
	add_client(n, c);
	if (c->version) {
		int i;
		for (i = 0; i < n->nversions && n->versions[i] != c->version; i++)
			;
		if (i == n->nversions && n->nversions < EVID_MAX_VERSIONS)
			n->versions[n->nversions++] = c->version;
	}
	if (c->ja3[0]) {
		int i;
		for (i = 0; i < n->nja3 && strcmp(n->ja3[i], c->ja3) != 0; i++)
			;
		if (i == n->nja3 && n->nja3 < EVID_MAX_JA3)
			memcpy(n->ja3[n->nja3++], c->ja3, 33);
	}
	if (app && *app && !n->app[0])
		pi_strlcpy(n->app, app, sizeof(n->app));
	if (chain && *chain && !n->chain[0])
		pi_strlcpy(n->chain, chain, sizeof(n->chain));
	if (!n->first_ts || c->first_ts < n->first_ts)
		n->first_ts = c->first_ts;
	if (c->last_ts > n->last_ts)
		n->last_ts = c->last_ts;
	/* examples: failures first, then one success */
	int want = verdict_is_rejection(c->verdict) || c->verdict == V_SERVER_ABORT ||
	           c->verdict == V_OTHER_ALERT || (c->verdict == V_HEALTHY && n->successes == 1);
	if (want && n->nexamples < EVID_MAX_EXAMPLES) {
		struct evid_example *x = &n->examples[n->nexamples++];
		x->input = c->input;
		x->stream = c->stream;
		x->verdict = c->verdict;
		x->has_alert = c->has_alert;
		x->alert_desc = c->alert_desc;
		x->alert_from_server = c->alert_from_server;
		pi_strlcpy(x->client, client, sizeof(x->client));
		pi_strlcpy(x->server, server, sizeof(x->server));
		memcpy(x->frames, c->frames, sizeof(x->frames));
		x->nframes = c->nframes;
		x->reaction_ms = c->reaction_ms;
		x->ts_ns = c->first_ts;
	}
}

size_t evidence_count(const struct evidence *e)
{
	return e->count;
}

uint64_t evidence_dropped(const struct evidence *e)
{
	return e->dropped;
}

static int cmp_names(const void *a, const void *b)
{
	const struct evid_name *x = *(const struct evid_name *const *)a;
	const struct evid_name *y = *(const struct evid_name *const *)b;
	if (x->failures != y->failures)
		return x->failures > y->failures ? -1 : 1;
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
