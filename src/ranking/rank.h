/* rank.h: from per-name evidence to a ranked, minimal bypass list.
 *
 * rank_run() weighs the evidence of every name (src/analysis/evidence.h),
 * the DNS facts and the knowledge base, gives each a category and a score
 * (the model is in rank.c, described in doc/ranking.md), and folds names
 * into a wildcard rule only where the evidence justifies it. It can be
 * called at any moment (the live view calls it on every refresh).
 */
#ifndef PI_RANK_H
#define PI_RANK_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/evidence.h"
#include "analysis/verdict.h"

struct dns_tracker;
struct kb;

enum category {
	CAT_BYPASS = 0,
	CAT_TRUST_STORE,
	CAT_CERTIFICATE,
	CAT_DNS_BLOCKED,
	CAT_INCONCLUSIVE,
	CAT_HEALTHY,
	CAT_COUNT
};

const char *category_name(enum category c);

#define RANK_MAX_COVERED 16

struct candidate {
	char rule[260];               /* FQDN, or ".parent.example" for a wildcard */
	enum category cat;
	double score;                 /* 0..1 */
	uint64_t failures, successes;
	uint64_t signatures[V_COUNT]; /* verdict -> count */
	uint64_t dns_unanswered;      /* unanswered DNS queries (dns-blocked) */
	const char *known_app;        /* knowledge base app, or NULL */
	char fix[1024];               /* what to do */
	char why[1024];               /* one sentence of evidence */
	char wireshark_filter[768];
	uint8_t ncovered;             /* for a wildcard: the names it covers */
	char covered[RANK_MAX_COVERED][128];
	uint8_t baseline_ok;          /* succeeded in the baseline capture */
	const struct evid_name *ev;   /* the evidence (first covered name) */
};

struct rank_opts {
	const struct kb *kb;                 /* may be NULL */
	struct evidence *baseline;           /* evidence without inspection, or NULL */
	int include_healthy;                 /* list healthy names too */
	const struct certdiag *certdiag;     /* certificate / trust-store diagnosis, or NULL */
};

struct rank_result {
	struct candidate *v;
	size_t n;
	uint64_t dns_blocked_dropped; /* dns-blocked names past PI_RANK_MAX_DNS_BLOCKED */
};

/* DNS facts per queried name (all query types added up). */
struct rank_dns {
	char name[256];
	uint64_t unanswered;  /* transactions never answered */
	uint64_t answered;
};

/* Rank. Returns 0, or -1 when out of memory (out is then empty). The
 * result owns its array; free it with rank_result_free. dns may be NULL. */
int rank_run(struct evidence *e, struct dns_tracker *dns, const struct rank_opts *o,
             struct rank_result *out);
/* The same with the DNS facts given as a list (pinspect merge). */
int rank_run_list(struct evidence *e, const struct rank_dns *dns, size_t ndns, const struct rank_opts *o,
                  struct rank_result *out);
/* DNS facts of a tracker as a list sorted by name; *out is malloc'd (free it).
 * Returns the count, or 0 (with *out NULL) when there is nothing. */
size_t rank_dns_from_tracker(struct dns_tracker *t, struct rank_dns **out);
void rank_result_free(struct rank_result *r);

#endif
