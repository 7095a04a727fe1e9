/* test_evidence.c: the per-name aggregates (src/analysis/evidence.h) against
 * models written plainly here: the kept clients are the EVID_MAX_CLIENTS
 * smallest keys in memcmp order with their counts; the kept examples are
 * the EVID_MAX_EXAMPLES first in example order, of the failures and the
 * earliest success. The fast paths of evidence.c (the key comparison
 * without memcmp, the last-client look first, an example not built when it
 * would not be kept) must agree with them on every sequence. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/evidence.h"
#include "unit.h"

static unsigned rnd_state = 12345;
static unsigned rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

/* ---- clients -------------------------------------------------------------- */

struct mclient {
	uint8_t key[17];
	uint32_t fail, ok;
};

static int mclient_cmp(const void *a, const void *b)
{
	return memcmp(((const struct mclient *)a)->key, ((const struct mclient *)b)->key, 17);
}

/* A key from a small pool, so that keys repeat; bytes from the whole
 * range (memcmp compares them unsigned) and differing at every position. */
static void pool_key(unsigned i, uint8_t key[17])
{
	unsigned s = i * 2654435761u;
	key[0] = (i & 1) ? 4 : 6;
	for (int b = 0; b < 16; b++)
		key[1 + b] = (uint8_t)(i % 3 == 0 ? 0 : (s >> (b % 24)) ^ (uint8_t)(b * 37));
	/* keys equal but for one byte, near the word boundaries (8, 9, 16) */
	if (i % 5 == 1)
		key[1 + (i / 5) % 16] ^= 0x80;
	if (i % 7 == 2)
		key[16] = (uint8_t)i;
}

static void test_clients(void)
{
	for (int round = 0; round < 40; round++) {
		struct evidence *e = evidence_new();
		struct mclient all[200];
		size_t nall = 0;
		unsigned pool = 1 + (unsigned)round * 5; /* 1 .. 196 distinct keys */
		int conns = 20 + round * 15;
		const struct evid_name *n;
		CHECK(e != NULL);
		if (!e)
			return;
		for (int k = 0; k < conns; k++) {
			struct conn c;
			uint8_t key[17];
			size_t j;
			memset(&c, 0, sizeof(c));
			pool_key(rnd() % pool, key);
			c.ipver = key[0];
			memcpy(c.caddr, key + 1, 16);
			c.verdict = (rnd() & 1) ? V_HEALTHY : V_RST_AFTER_HELLO;
			c.first_ts = c.last_ts = 1000 + (uint64_t)k;
			evidence_add(e, &c, "clients.example", 2, "10.0.0.1:1", "10.0.0.2:443", "", "");
			for (j = 0; j < nall; j++)
				if (memcmp(all[j].key, key, 17) == 0)
					break;
			if (j == nall) {
				memcpy(all[nall].key, key, 17);
				all[nall].fail = all[nall].ok = 0;
				nall++;
			}
			if (c.verdict == V_HEALTHY)
				all[j].ok++;
			else
				all[j].fail++;
		}
		qsort(all, nall, sizeof(all[0]), mclient_cmp);
		n = evidence_find(e, "clients.example");
		CHECK(n != NULL);
		if (n) {
			size_t want = nall < EVID_MAX_CLIENTS ? nall : EVID_MAX_CLIENTS;
			int same = n->nclients == want && n->clients_overflow == (nall > EVID_MAX_CLIENTS);
			for (size_t i = 0; same && i < want; i++)
				same = memcmp(n->client_addr[i], all[i].key, 17) == 0 && n->client_fail[i] == all[i].fail &&
				       n->client_ok[i] == all[i].ok;
			CHECK(same);
			if (!same)
				fprintf(stderr, "  clients: round %d, %zu distinct, %d kept\n", round, nall, n->nclients);
		}
		evidence_free(e);
	}
}

/* ---- examples -------------------------------------------------------------- */

struct mex {
	int healthy;
	uint64_t ts;
	char client[48], server[48];
	uint64_t stream;
	uint32_t input;
};

static int mex_cmp(const void *pa, const void *pb)
{
	const struct mex *a = pa, *b = pb;
	int r;
	if (a->healthy != b->healthy)
		return a->healthy - b->healthy;
	if (a->ts != b->ts)
		return a->ts < b->ts ? -1 : 1;
	if ((r = strcmp(a->client, b->client)) != 0)
		return r;
	if ((r = strcmp(a->server, b->server)) != 0)
		return r;
	if (a->stream != b->stream)
		return a->stream < b->stream ? -1 : 1;
	return a->input < b->input ? -1 : a->input > b->input;
}

static void test_examples(void)
{
	static const enum verdict vs[] = { V_HEALTHY, V_RST_AFTER_HELLO, V_CERT_ALERT, V_SERVER_ABORT, V_OTHER_ALERT,
		                           V_INCOMPLETE, V_CLOSE_NO_DATA };
	for (int round = 0; round < 60; round++) {
		struct evidence *e = evidence_new();
		struct mex all[400], want[EVID_MAX_EXAMPLES];
		size_t nall = 0, nwant = 0;
		int conns = 1 + round * 6;
		unsigned tspan = 1 + (unsigned)round % 5; /* few times: many ties */
		const struct evid_name *n;
		CHECK(e != NULL);
		if (!e)
			return;
		for (int k = 0; k < conns; k++) {
			struct conn c;
			char client[64], server[64];
			memset(&c, 0, sizeof(c));
			/* a third of the rounds with few failures: the success is kept
			 * and replaced (successes sort after every failure) */
			if (round % 3 == 0)
				c.verdict = rnd() % 16 ? V_HEALTHY : rnd() % 2 ? V_CERT_ALERT : V_INCOMPLETE;
			else
				c.verdict = vs[rnd() % (sizeof(vs) / sizeof(vs[0]))];
			c.first_ts = c.last_ts = 5000 - (uint64_t)(rnd() % tspan);
			c.stream = rnd() % 3;
			c.input = (uint32_t)(rnd() % 2);
			/* long addresses are cut to the example's 47 characters */
			snprintf(client, sizeof(client), "%s10.0.0.%u:%u", (rnd() & 3) == 0 ? "[2001:db8:1111:2222:3333:4444:5555:" : "",
			         rnd() % 3, 40000 + rnd() % 2);
			snprintf(server, sizeof(server), "10.9.9.%u:443", rnd() % 2);
			evidence_add(e, &c, "ex.example", 2, client, server, "", "");
			if (c.verdict == V_HEALTHY || verdict_is_rejection(c.verdict) || c.verdict == V_SERVER_ABORT ||
			    c.verdict == V_OTHER_ALERT) {
				struct mex *m = &all[nall++];
				m->healthy = c.verdict == V_HEALTHY;
				m->ts = c.first_ts;
				snprintf(m->client, sizeof(m->client), "%s", client);
				snprintf(m->server, sizeof(m->server), "%s", server);
				m->stream = c.stream;
				m->input = c.input;
			}
		}
		/* the model: every candidate in order; at most one success (the first) */
		qsort(all, nall, sizeof(all[0]), mex_cmp);
		for (size_t i = 0, had_ok = 0; i < nall && nwant < EVID_MAX_EXAMPLES; i++) {
			if (all[i].healthy && had_ok++)
				continue;
			want[nwant++] = all[i];
		}
		n = evidence_find(e, "ex.example");
		CHECK(n != NULL);
		if (n) {
			int same = n->nexamples == nwant;
			for (size_t i = 0; same && i < nwant; i++) {
				const struct evid_example *x = &n->examples[i];
				same = (x->verdict == V_HEALTHY) == want[i].healthy && x->ts_ns == want[i].ts &&
				       strcmp(x->client, want[i].client) == 0 && strcmp(x->server, want[i].server) == 0 &&
				       x->stream == want[i].stream && x->input == want[i].input;
			}
			CHECK(same);
			if (!same)
				fprintf(stderr, "  examples: round %d, %zu candidates, %d kept, %zu expected\n", round, nall,
				        n->nexamples, nwant);
		}
		evidence_free(e);
	}
}

int main(void)
{
	test_clients();
	test_examples();
	UNIT_DONE();
}
