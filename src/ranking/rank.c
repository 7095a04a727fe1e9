/* rank.c: the scoring model and the narrowest rules (doc/ranking.md).
 *
 * Every weight of the model is in the table and functions right below; the
 * rest of the file only applies them. The model is deterministic: the same
 * evidence gives the same candidates in the same order.
 */
#include "ranking/rank.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpsl.h>

#include "analysis/certdiag.h"
#include "analysis/dnsmap.h"
#include "common/util.h"
#include "dissectors/tls.h"
#include "ranking/kb.h"

/* ---- the model ---------------------------------------------------------- */

/* How strongly one failure of each kind says "the client rejected the
 * interception certificate" (0..1). A strong certificate alert
 * (unknown_ca, bad_certificate, certificate_unknown, access_denied) is the
 * client naming the reason; a reset or an encrypted abort right after the
 * server's flight is the usual silent rejection; a FIN is weaker (clients
 * also close idle connections); closing after a completed handshake is the
 * weakest (it is also what a client does that simply had nothing to send). */
#define W_CERT_ALERT_STRONG 1.00
#define W_CERT_ALERT_OTHER  0.60 /* expired, revoked, unsupported: a bad certificate more than a pin */
#define W_RST_AFTER_HELLO   0.90
#define W_ENCRYPTED_ABORT   0.90
#define W_FIN_AFTER_HELLO   0.70
#define W_CLOSE_NO_DATA     0.50

#define W_ZSAT_SIGNATURE    0.70 /* ZSATunnel: both sockets closed after a few hundred client bytes */
#define W_WEB_INSIGHTS      0.90 /* Web Insights: "Dropped due to failed client SSL handshake" */

#define KB_BONUS            0.10 /* a known pinning app (domain or nDPI application) */
#define BASELINE_BONUS      0.10 /* works in the baseline capture without inspection */
#define MIXED_CLIENT_FACTOR 0.30 /* the same client also succeeded for this name */
#define BYPASS_THRESHOLD    0.50 /* score from which a failing name is a bypass candidate */
#define BYPASS_MIN_FAILURES 2    /* ... with at least this many failures (1 if the KB knows it) */
#define DNS_BLOCKED_WEIGHT  0.60 /* an unanswered name's score: 0.6 x repetition(tries) */

/* repetition: apps retry a pinned connection again and again.
 * 1 failure 0.5, 2: 0.75, 3: 0.875, 5: 0.97. */
static double repetition(uint64_t n)
{
	return 1.0 - pow(0.5, (double)(n > 64 ? 64 : n));
}

/* Mean signature strength over the name's failures. */
static double signature_strength(const struct evid_name *n)
{
	uint64_t other_cert = n->verdicts[V_CERT_ALERT] - n->cert_alert_strong;
	double sum = W_CERT_ALERT_STRONG * (double)n->cert_alert_strong + W_CERT_ALERT_OTHER * (double)other_cert +
	             W_RST_AFTER_HELLO * (double)n->verdicts[V_RST_AFTER_HELLO] +
	             W_ENCRYPTED_ABORT * (double)n->verdicts[V_ENCRYPTED_ABORT] +
	             W_FIN_AFTER_HELLO * (double)n->verdicts[V_FIN_AFTER_HELLO] +
	             W_CLOSE_NO_DATA * (double)n->verdicts[V_CLOSE_NO_DATA] +
	             W_ZSAT_SIGNATURE * (double)n->zsat_failures + W_WEB_INSIGHTS * (double)n->wi_failures;
	uint64_t all = evid_all_failures(n);
	return all ? sum / (double)all : 0.0;
}

/* consistency: the share of the name's connections that failed; a client
 * that both failed and succeeded for the name trusts the interception CA
 * there, which is not pinning. */
static double consistency(const struct evid_name *n)
{
	uint64_t f = evid_all_failures(n);
	double c = f + n->successes ? (double)f / (double)(f + n->successes) : 0.0;
	if (evid_mixed_client(n))
		c *= MIXED_CLIENT_FACTOR;
	return c;
}

/* ---- helpers ------------------------------------------------------------- */

static const char *const cat_names[CAT_COUNT] = {
	[CAT_BYPASS] = "bypass",
	[CAT_TRUST_STORE] = "trust-store",
	[CAT_CERTIFICATE] = "certificate",
	[CAT_DNS_BLOCKED] = "dns-blocked",
	[CAT_INCONCLUSIVE] = "inconclusive",
	[CAT_HEALTHY] = "healthy",
};

const char *category_name(enum category c)
{
	return (unsigned)c < CAT_COUNT ? cat_names[c] : "inconclusive";
}

struct vec {
	struct candidate *v;
	size_t n, cap;
};

static struct candidate *vec_push(struct vec *v)
{
	if (v->n == v->cap) {
		size_t nc = v->cap ? v->cap * 2 : 32;
		struct candidate *nv = realloc(v->v, nc * sizeof(*nv));
		if (!nv)
			return NULL;
		v->v = nv;
		v->cap = nc;
	}
	memset(&v->v[v->n], 0, sizeof(v->v[0]));
	return &v->v[v->n++];
}

static void sig_text(const uint64_t *sig, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int k = 1; k < V_COUNT; k++) {
		if (!sig[k] || k == V_HEALTHY || !verdict_is_rejection((enum verdict)k))
			continue;
		int w = snprintf(buf + o, len - o, "%s%s x%llu", o ? ", " : "", verdict_name((enum verdict)k),
		                 (unsigned long long)sig[k]);
		if (w < 0 || (size_t)w >= len - o)
			break;
		o += (size_t)w;
	}
}

/* A filter that shows the name's evidence in Wireshark: its SNI, its DNS
 * queries and the streams of the example connections. */
static void name_filter(const struct evid_name *n, char *buf, size_t len)
{
	size_t o = 0;
	uint32_t input = UINT32_MAX;
	uint64_t seen[EVID_MAX_EXAMPLES];
	int nseen = 0;
	int w = snprintf(buf, len, "tls.handshake.extensions_server_name == \"%s\" || dns.qry.name == \"%s\"",
	                 n->name, n->name);
	if (w < 0 || (size_t)w >= len)
		return;
	o = (size_t)w;
	/* stream numbers are per capture file: those of the first file only */
	for (int i = 0; i < n->nexamples; i++)
		if (n->examples[i].input < input)
			input = n->examples[i].input;
	for (int i = 0; i < n->nexamples; i++) {
		int dup = 0;
		if (n->examples[i].input != input)
			continue;
		for (int k = 0; k < nseen; k++)
			dup |= seen[k] == n->examples[i].stream;
		if (!dup)
			seen[nseen++] = n->examples[i].stream;
	}
	if (!nseen)
		return;
	w = snprintf(buf + o, len - o, " || tcp.stream in {");
	if (w < 0 || (size_t)w >= len - o)
		return;
	o += (size_t)w;
	for (int i = 0; i < nseen; i++) {
		w = snprintf(buf + o, len - o, "%s%llu", i ? "," : "", (unsigned long long)seen[i]);
		if (w < 0 || (size_t)w >= len - o)
			return;
		o += (size_t)w;
	}
	snprintf(buf + o, len - o, "}");
}

/* parent with its dots escaped for a Wireshark regex ("a\\.b"). */
static void regex_dots(const char *parent, char *out, size_t len)
{
	size_t o = 0;
	for (; *parent && o + 3 < len; parent++) {
		if (*parent == '.') {
			out[o++] = '\\';
			out[o++] = '\\';
		}
		out[o++] = *parent;
	}
	out[o] = '\0';
}

static const struct kb_entry *known_app(const struct kb *kb, const struct evid_name *n)
{
	const struct kb_entry *e = kb_match_domain(kb, KB_APP, n->name, NULL);
	if (!e && n->sni[0])
		e = kb_match_domain(kb, KB_APP, n->sni, NULL);
	if (!e && n->app[0])
		e = kb_match_ndpi(kb, KB_APP, n->app);
	return e;
}

/* ---- one name ------------------------------------------------------------ */

static void rank_name(const struct evid_name *n, const struct rank_opts *o, struct candidate *c)
{
	const struct kb_entry *app = o && o->kb ? known_app(o->kb, n) : NULL;
	const struct evid_name *base = o && o->baseline ? evidence_find(o->baseline, n->name) : NULL;
	double score;
	char sig[256], clients[32], logs[256] = "";
	uint64_t fails = evid_all_failures(n);

	pi_strlcpy(c->rule, n->name, sizeof(c->rule));
	c->failures = fails;
	c->successes = n->successes;
	if (n->zsat_failures || n->wi_failures) {
		size_t lo = 0;
		if (n->zsat_failures) {
			int w = snprintf(logs, sizeof(logs), "; ZSATunnel: %llu closed tunnel%s for this host",
			                 (unsigned long long)n->zsat_failures, n->zsat_failures == 1 ? "" : "s");
			lo = w > 0 && (size_t)w < sizeof(logs) ? (size_t)w : 0;
		}
		if (n->wi_failures)
			snprintf(logs + lo, sizeof(logs) - lo, "; Web Insights: %llu failed client SSL handshake%s, %llu user%s",
			         (unsigned long long)n->wi_failures, n->wi_failures == 1 ? "" : "s",
			         (unsigned long long)n->wi_users, n->wi_users == 1 ? "" : "s");
	}
	memcpy(c->signatures, n->verdicts, sizeof(c->signatures));
	c->known_app = app ? app->name : NULL;
	c->ev = n;
	name_filter(n, c->wireshark_filter, sizeof(c->wireshark_filter));
	sig_text(n->verdicts, sig, sizeof(sig));
	snprintf(clients, sizeof(clients), "%u%s client%s", n->nclients, n->clients_overflow ? "+" : "",
	         n->nclients == 1 && !n->clients_overflow ? "" : "s");

	if (!fails) {
		c->cat = CAT_HEALTHY;
		c->score = 0;
		snprintf(c->why, sizeof(c->why), "%llu connection%s from %s, all accepted the certificate",
		         (unsigned long long)n->total, n->total == 1 ? "" : "s", clients);
		snprintf(c->fix, sizeof(c->fix), "nothing: it works under inspection");
		return;
	}

	score = signature_strength(n) * consistency(n) * (0.4 + 0.6 * repetition(fails));
	if (app)
		score += KB_BONUS;
	if (base && base->successes && !base->failures) {
		score += BASELINE_BONUS;
		c->baseline_ok = 1;
	}
	if (score > 1)
		score = 1;
	c->score = score;

	if (base && base->failures) {
		c->cat = CAT_INCONCLUSIVE;
		snprintf(c->why, sizeof(c->why),
		         "fails without inspection too (%llu failure%s in the baseline): not an inspection problem",
		         (unsigned long long)base->failures, base->failures == 1 ? "" : "s");
		snprintf(c->fix, sizeof(c->fix), "do not bypass: look at the server or the client itself");
		return;
	}
	/* the differential diagnosis (doc/diagnosis.md): a broken interception
	 * certificate, a tool with its own trust store, a known pinning app,
	 * or the client's own behaviour decide before the score does */
	if (o && o->certdiag) {
		struct diag_input in;
		/* without observed connections (pinspect merge, names seen only in
		 * logs) the input still carries the knowledge base's steps 2 and 3 */
		certdiag_input(o->certdiag, n->name, fails, n->successes, n->app[0] ? n->app : NULL, &in);
		enum category k = certdiag_decide(&in, c->why, sizeof(c->why), c->fix, sizeof(c->fix));
		if (k != CERTDIAG_UNDECIDED) {
			c->cat = k;
			if (logs[0]) {
				size_t l = strlen(c->why);
				snprintf(c->why + l, sizeof(c->why) - l, "%s", logs);
			}
			return;
		}
	}
	if (score >= BYPASS_THRESHOLD && (fails >= BYPASS_MIN_FAILURES || app)) {
		c->cat = CAT_BYPASS;
		if (n->total)
			snprintf(c->why, sizeof(c->why),
			         "%llu of %llu connections from %s rejected the certificate (%s)%s%s%s%s%s",
			         (unsigned long long)n->failures, (unsigned long long)(n->failures + n->successes), clients,
			         sig, n->successes ? "" : ", none succeeded", app ? "; known pinning app: " : "",
			         app ? app->name : "", c->baseline_ok ? "; works without inspection (baseline)" : "", logs);
		else
			snprintf(c->why, sizeof(c->why), "no capture of it, but logs show failures%s%s%s", logs,
			         app ? "; known pinning app: " : "", app ? app->name : "");
		snprintf(c->fix, sizeof(c->fix),
		         "exempt %s from TLS inspection (a Do Not Inspect rule for this name), then confirm with "
		         "pinspect verify",
		         n->name);
		return;
	}
	c->cat = CAT_INCONCLUSIVE;
	if (evid_mixed_client(n))
		snprintf(c->why, sizeof(c->why),
		         "%llu failure%s (%s) but the same client also succeeded %llu time%s: not consistent with pinning%s",
		         (unsigned long long)n->failures, n->failures == 1 ? "" : "s", sig,
		         (unsigned long long)n->successes, n->successes == 1 ? "" : "s", logs);
	else
		snprintf(c->why, sizeof(c->why), "%llu failure%s (%s) and %llu success%s from %s: too little to decide%s",
		         (unsigned long long)n->failures, n->failures == 1 ? "" : "s", sig,
		         (unsigned long long)n->successes, n->successes == 1 ? "" : "es", clients, logs);
	snprintf(c->fix, sizeof(c->fix),
	         "capture the app again (inspection on, then off with --baseline) to tell pinning from chance");
}

/* ---- wildcards ----------------------------------------------------------- */

/* Registrable domains of shared CDNs and clouds: a wildcard there would
 * exempt other customers' traffic. */
static const char *const shared_domains[] = {
	"akamai.net", "akamaiedge.net", "akamaihd.net", "akamaized.net", "akadns.net", "edgesuite.net",
	"edgekey.net", "akamaitechnologies.com", "cloudfront.net", "amazonaws.com", "fastly.net",
	"fastlylb.net", "azureedge.net", "azurefd.net", "trafficmanager.net", "windows.net",
	"cloudapp.net", "cloudflare.net", "cloudflare.com", "googleusercontent.com", "googleapis.com",
	"gstatic.com", "appspot.com", "llnwd.net", "footprint.net", "edgecastcdn.net", "cdn77.org",
	"b-cdn.net", "herokuapp.com", "github.io", "azurewebsites.net", "cdn.cloudflare.net",
};

static int under(const char *name, const char *parent)
{
	size_t nl = strlen(name), pl = strlen(parent);
	return nl > pl && name[nl - pl - 1] == '.' && strcmp(name + nl - pl, parent) == 0;
}

/* May ".parent" stand in the list? Not a public suffix, not at or under a
 * shared CDN's domain (a wildcard there exempts other customers: libpsl
 * lists some of them, e.g. akamaihd.net, as public suffixes, so their
 * customers' names look registrable), deeper than a bare TLD. */
static int wildcard_allowed(const psl_ctx_t *psl, const char *parent)
{
	if (!strchr(parent, '.'))
		return 0;
	if (psl && psl_is_public_suffix(psl, parent))
		return 0;
	for (size_t i = 0; i < sizeof(shared_domains) / sizeof(shared_domains[0]); i++)
		if (strcmp(parent, shared_domains[i]) == 0 || under(parent, shared_domains[i]))
			return 0;
	return 1;
}

/* Fold bypass names into ".parent" rules where at least two distinct
 * failing names share the parent and no healthy name lives under it. The
 * deepest such parent is used (the narrowest rule). */
static void fold_wildcards(struct vec *v, struct evidence *e, int *removed)
{
	const psl_ctx_t *psl = psl_builtin();
	size_t ne;
	const struct evid_name **all = evidence_sorted(e, &ne);
	size_t n0 = v->n;
	for (size_t i = 0; i < n0; i++) {
		struct candidate *c = &v->v[i];
		const char *p;
		if (c->cat != CAT_BYPASS || removed[i] || c->rule[0] == '.')
			continue;
		/* candidate parents, deepest first */
		for (p = strchr(c->rule, '.'); p && p[1]; p = strchr(p + 1, '.')) {
			char parent[256];
			size_t members = 0, healthy = 0;
			pi_strlcpy(parent, p + 1, sizeof(parent));
			if (!strchr(parent, '.') || !wildcard_allowed(psl, parent))
				continue;
			for (size_t j = 0; j < n0; j++)
				if (!removed[j] && v->v[j].cat == CAT_BYPASS && v->v[j].rule[0] != '.' &&
				    (under(v->v[j].rule, parent) || strcmp(v->v[j].rule, parent) == 0))
					members++;
			for (size_t k = 0; k < ne; k++)
				if ((under(all[k]->name, parent) || strcmp(all[k]->name, parent) == 0) && all[k]->successes &&
				    !evid_all_failures(all[k]))
					healthy++;
			if (members < 2 || healthy)
				continue;
			/* make the wildcard from the members */
			struct candidate *w = vec_push(v);
			if (!w)
				return;
			/* vec_push may have moved the array: c is not used below */
			snprintf(w->rule, sizeof(w->rule), ".%s", parent);
			w->cat = CAT_BYPASS;
			w->ev = c->ev;
			char names[400] = "";
			size_t no = 0;
			uint64_t sigs[V_COUNT] = { 0 };
			for (size_t j = 0; j < n0; j++) {
				struct candidate *m = &v->v[j];
				if (removed[j] || m->cat != CAT_BYPASS || m->rule[0] == '.' ||
				    !(under(m->rule, parent) || strcmp(m->rule, parent) == 0))
					continue;
				removed[j] = 1;
				w->failures += m->failures;
				w->successes += m->successes;
				for (int k = 0; k < V_COUNT; k++)
					sigs[k] += m->signatures[k];
				if (m->score > w->score)
					w->score = m->score;
				if (!w->known_app)
					w->known_app = m->known_app;
				if (w->ncovered < RANK_MAX_COVERED)
					pi_strlcpy(w->covered[w->ncovered++], m->rule, sizeof(w->covered[0]));
				int k = snprintf(names + no, sizeof(names) - no, "%s%s", no ? ", " : "", m->rule);
				if (k > 0 && (size_t)k < sizeof(names) - no)
					no += (size_t)k;
			}
			memcpy(w->signatures, sigs, sizeof(sigs));
			char sig[200];
			sig_text(sigs, sig, sizeof(sig));
			snprintf(w->why, sizeof(w->why),
			         "wildcard: %u failing names under %s and no healthy name there (%s); %llu failures (%s)",
			         (unsigned)w->ncovered, parent, names, (unsigned long long)w->failures, sig);
			snprintf(w->fix, sizeof(w->fix),
			         "exempt .%s (the domain and every name under it) from TLS inspection, then confirm with "
			         "pinspect verify",
			         parent);
			char rx[320];
			regex_dots(parent, rx, sizeof(rx));
			snprintf(w->wireshark_filter, sizeof(w->wireshark_filter),
			         "tls.handshake.extensions_server_name matches \"(^|\\\\.)%s$\" || dns.qry.name matches "
			         "\"(^|\\\\.)%s$\"",
			         rx, rx);
			break;
		}
	}
}

/* ---- DNS-blocked names --------------------------------------------------- */

static int cmp_dns(const void *a, const void *b)
{
	return strcmp(((const struct rank_dns *)a)->name, ((const struct rank_dns *)b)->name);
}

size_t rank_dns_from_tracker(struct dns_tracker *t, struct rank_dns **out)
{
	size_t n = t ? dns_count(t) : 0, k = 0;
	struct rank_dns *v;
	*out = NULL;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const struct dns_rec *r = dns_get(t, i);
		if (!r)
			continue;
		pi_strlcpy(v[k].name, r->name, sizeof(v[k].name));
		v[k].unanswered = r->unanswered;
		v[k].answered = r->answered;
		k++;
	}
	/* one entry per name, all query types together */
	qsort(v, k, sizeof(*v), cmp_dns);
	size_t w = 0;
	for (size_t i = 0; i < k; i++) {
		if (w && strcmp(v[w - 1].name, v[i].name) == 0) {
			v[w - 1].unanswered += v[i].unanswered;
			v[w - 1].answered += v[i].answered;
		} else {
			v[w++] = v[i];
		}
	}
	*out = v;
	return w;
}

/* Most unanswered queries first, then by name. */
static int cmp_unanswered(const void *a, const void *b)
{
	const struct rank_dns *x = *(const struct rank_dns *const *)a, *y = *(const struct rank_dns *const *)b;
	if (x->unanswered != y->unanswered)
		return x->unanswered > y->unanswered ? -1 : 1;
	return strcmp(x->name, y->name);
}

static int dns_blocked(struct evidence *e, const struct rank_dns *r)
{
	const struct evid_name *ev;
	if (!r->unanswered || r->answered)
		return 0;
	ev = evidence_find(e, r->name);
	return !(ev && ev->successes); /* reached another way: the name works */
}

/* Names whose queries went unanswered (never answered at all) and that no
 * connection reached: a DNS policy matter. At most PI_RANK_MAX_DNS_BLOCKED
 * of them, those with the most unanswered queries (the highest scores);
 * the others are counted in *dropped. */
static void add_dns_blocked(struct vec *v, struct evidence *e, const struct rank_dns *dns, size_t ndns,
                            uint64_t *dropped)
{
	const struct rank_dns **pick = NULL;
	size_t n = 0;
	for (size_t i = 0; i < ndns; i++)
		n += (size_t)dns_blocked(e, &dns[i]);
	if (n > PI_RANK_MAX_DNS_BLOCKED) {
		*dropped += n - PI_RANK_MAX_DNS_BLOCKED;
		pick = malloc(n * sizeof(*pick));
		if (pick) {
			size_t k = 0;
			for (size_t i = 0; i < ndns && k < n; i++)
				if (dns_blocked(e, &dns[i]))
					pick[k++] = &dns[i];
			qsort(pick, k, sizeof(*pick), cmp_unanswered);
		} /* else (out of memory) the first ones by name */
		n = PI_RANK_MAX_DNS_BLOCKED;
	}
	for (size_t i = 0, k = 0; k < n && i < (pick ? n : ndns); i++) {
		const struct rank_dns *r = pick ? pick[i] : &dns[i];
		const struct evid_name *ev;
		struct candidate *c;
		if (!pick && !dns_blocked(e, r))
			continue;
		k++;
		ev = evidence_find(e, r->name);
		if (!(c = vec_push(v))) {
			*dropped += n - k + 1;
			break;
		}
		pi_strlcpy(c->rule, r->name, sizeof(c->rule));
		c->cat = CAT_DNS_BLOCKED;
		c->dns_unanswered = r->unanswered;
		c->score = DNS_BLOCKED_WEIGHT * repetition(r->unanswered);
		c->ev = ev;
		snprintf(c->why, sizeof(c->why), "%llu DNS quer%s for %s never answered, none answered",
		         (unsigned long long)r->unanswered, r->unanswered == 1 ? "y" : "ies", r->name);
		snprintf(c->fix, sizeof(c->fix),
		         "a DNS policy matter, not TLS: check why the resolver (or the DNS security policy) drops %s",
		         r->name);
		snprintf(c->wireshark_filter, sizeof(c->wireshark_filter),
		         "dns.qry.name == \"%s\" && dns.flags.response == 0 && !dns.response_in", r->name);
	}
	free(pick);
}

/* ---- order --------------------------------------------------------------- */

static int cat_rank(enum category c)
{
	switch (c) {
	case CAT_BYPASS: return 0;
	case CAT_CERTIFICATE: return 1;
	case CAT_TRUST_STORE: return 2;
	case CAT_DNS_BLOCKED: return 3;
	case CAT_INCONCLUSIVE: return 4;
	default: return 5;
	}
}

static int cmp_cand(const void *a, const void *b)
{
	const struct candidate *x = a, *y = b;
	if (cat_rank(x->cat) != cat_rank(y->cat))
		return cat_rank(x->cat) - cat_rank(y->cat);
	if (x->baseline_ok != y->baseline_ok)
		return y->baseline_ok - x->baseline_ok;
	if (fabs(x->score - y->score) > 1e-9)
		return x->score > y->score ? -1 : 1;
	if (x->failures != y->failures)
		return x->failures > y->failures ? -1 : 1;
	return strcmp(x->rule, y->rule);
}

int rank_run(struct evidence *e, struct dns_tracker *dns, const struct rank_opts *o, struct rank_result *out)
{
	struct rank_dns *list = NULL;
	size_t n = rank_dns_from_tracker(dns, &list);
	int rc = rank_run_list(e, list, n, o, out);
	free(list);
	return rc;
}

int rank_run_list(struct evidence *e, const struct rank_dns *dns, size_t ndns, const struct rank_opts *o,
                  struct rank_result *out)
{
	struct vec v = { 0 };
	size_t n, n0;
	const struct evid_name **names = evidence_sorted(e, &n);
	int *removed = NULL;

	out->v = NULL;
	out->n = 0;
	out->dns_blocked_dropped = 0;
	for (size_t i = 0; i < n; i++) {
		struct candidate *c;
		if (!evid_all_failures(names[i]) && (!names[i]->total || !(o && o->include_healthy)))
			continue;
		if (!(c = vec_push(&v)))
			goto oom;
		rank_name(names[i], o, c);
	}
	n0 = v.n;
	removed = calloc(n0 + 1, sizeof(*removed));
	if (!removed)
		goto oom;
	fold_wildcards(&v, e, removed); /* appends wildcards after the first n0 */
	{
		/* drop the names folded into wildcards */
		size_t w = 0;
		for (size_t i = 0; i < v.n; i++) {
			if (i < n0 && removed[i])
				continue;
			if (w != i)
				v.v[w] = v.v[i];
			w++;
		}
		v.n = w;
	}
	free(removed);
	removed = NULL;
	add_dns_blocked(&v, e, dns, ndns, &out->dns_blocked_dropped);
	if (v.n)
		qsort(v.v, v.n, sizeof(v.v[0]), cmp_cand);
	out->v = v.v;
	out->n = v.n;
	return 0;
oom:
	free(removed);
	free(v.v);
	return -1;
}

void rank_result_free(struct rank_result *r)
{
	free(r->v);
	r->v = NULL;
	r->n = 0;
}
