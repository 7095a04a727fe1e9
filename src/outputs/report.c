/* report.c: the human report: a short summary first, then names with
 * failures first, then the evidence per name, DNS, inputs and limits.
 * Colour only when asked (a TTY without NO_COLOR); names from the wire are
 * escaped so a hostile SNI cannot move the cursor.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "analysis/dnsmap.h"
#include "analysis/edns.h"
#include "analysis/webinsights.h"
#include "analysis/zsatunnel.h"
#include "capture/bundle.h"
#include "capture/decode.h"
#include "common/util.h"
#include "dissectors/tls.h"
#include "outputs/output.h"
#include "ranking/rank.h"

#define MAX_NAMES_TABLE 40

static const char *col(const struct out_ctx *o, enum verdict v)
{
	if (!o->color)
		return "";
	if (v == V_HEALTHY)
		return "\033[32m";
	if (verdict_is_rejection(v))
		return "\033[1;31m";
	return "\033[33m";
}

static const char *bold(const struct out_ctx *o)
{
	return o->color ? "\033[1m" : "";
}

static const char *off(const struct out_ctx *o)
{
	return o->color ? "\033[0m" : "";
}

/* Wire text made safe for a terminal. */
static void safe(const char *s, char *buf, size_t len)
{
	pi_term_safe(buf, len, s);
}

static void signatures(const struct evid_name *n, char *buf, size_t len)
{
	size_t o = 0;
	buf[0] = '\0';
	for (int k = 1; k < V_COUNT && o < len; k++) {
		if (!n->verdicts[k] || k == V_HEALTHY)
			continue;
		int w = snprintf(buf + o, len - o, "%s%s x%" PRIu64, o ? ", " : "",
		                 verdict_name((enum verdict)k), n->verdicts[k]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

static void summary(struct out_ctx *o, struct engine *e)
{
	const struct engine_stats *st = engine_stats(e);
	const struct input_info *in;
	size_t nin = engine_inputs(e, &in);
	uint64_t rejected = 0;
	for (int k = 1; k < V_COUNT; k++)
		if (verdict_is_rejection((enum verdict)k))
			rejected += st->verdicts[k];

	fprintf(o->f, "%spinspect%s %s: %zu input%s, %" PRIu64 " packets, %" PRIu64 " TLS connections",
	        bold(o), off(o), o->version, nin, nin == 1 ? "" : "s", st->packets, st->tls_conns);
	if (st->tls_conns)
		fprintf(o->f, ", %s%" PRIu64 " rejected by the client%s", rejected ? col(o, V_RST_AFTER_HELLO) : "",
		        rejected, rejected ? off(o) : "");
	fputc('\n', o->f);
	if (st->tls_conns) {
		fputs("Verdicts:", o->f);
		int first = 1;
		for (int k = 1; k < V_COUNT; k++) {
			if (!st->verdicts[k])
				continue;
			fprintf(o->f, "%s %s%s%s %" PRIu64, first ? "" : ",", col(o, (enum verdict)k),
			        verdict_name((enum verdict)k), off(o), st->verdicts[k]);
			first = 0;
		}
		fputc('\n', o->f);
	}
}

static void names_table(struct out_ctx *o, const struct evid_name **v, size_t n)
{
	char name[80], sig[160];
	if (!n)
		return;
	fprintf(o->f, "\n%sNames, failures first%s\n", bold(o), off(o));
	fprintf(o->f, "  %-44s %5s %5s %5s  %s\n", "NAME", "FAIL", "OK", "ALL", "SIGNATURES");
	for (size_t i = 0; i < n && i < MAX_NAMES_TABLE; i++) {
		const struct evid_name *x = v[i];
		safe(x->name, name, sizeof(name));
		signatures(x, sig, sizeof(sig));
		if (x->zsat_failures || x->wi_failures) {
			size_t l = strlen(sig);
			snprintf(sig + l, sizeof(sig) - l, "%s%s%" PRIu64 " in logs", l ? ", " : "", "", x->zsat_failures + x->wi_failures);
		}
		fprintf(o->f, "  %s%-44s%s %5" PRIu64 " %5" PRIu64 " %5" PRIu64 "  %s\n",
		        evid_all_failures(x) ? col(o, V_RST_AFTER_HELLO) : "", name, evid_all_failures(x) ? off(o) : "",
		        evid_all_failures(x), x->successes, x->total, sig[0] ? sig : "-");
	}
	if (n > MAX_NAMES_TABLE)
		fprintf(o->f, "  ... %zu more names (see --format json)\n", n - MAX_NAMES_TABLE);
}

static void details(struct out_ctx *o, const struct evid_name **v, size_t n)
{
	char name[300], buf[300];
	int shown = 0;
	for (size_t i = 0; i < n; i++) {
		const struct evid_name *x = v[i];
		if (!x->nexamples || x->failures + x->verdicts[V_SERVER_ABORT] + x->verdicts[V_OTHER_ALERT] == 0)
			continue;
		if (!shown++)
			fprintf(o->f, "\n%sEvidence%s\n", bold(o), off(o));
		safe(x->name, name, sizeof(name));
		fprintf(o->f, "  %s%s%s", bold(o), name, off(o));
		if (x->sni[0]) {
			safe(x->sni, buf, sizeof(buf));
			fprintf(o->f, "  (SNI %s)", buf);
		}
		if (x->app[0])
			fprintf(o->f, "  app %s", x->app);
		fprintf(o->f, "  clients %u%s", x->nclients, x->clients_overflow ? "+" : "");
		for (int k = 0; k < x->nversions; k++)
			fprintf(o->f, "%s%s", k ? "/" : "  ", tls_version_name(x->versions[k]));
		fputc('\n', o->f);
		if (x->chain[0]) {
			safe(x->chain, buf, sizeof(buf));
			fprintf(o->f, "    DNS: %s\n", buf);
		}
		for (int k = 0; k < x->nexamples; k++) {
			const struct evid_example *ex = &x->examples[k];
			char frames[80] = "";
			size_t fo = 0;
			for (int j = 0; j < ex->nframes && fo < sizeof(frames); j++) {
				int w = snprintf(frames + fo, sizeof(frames) - fo, "%s%" PRIu64, j ? "," : "", ex->frames[j]);
				if (w < 0)
					break;
				fo += (size_t)w;
			}
			fprintf(o->f, "    %s%-16s%s %s -> %s  stream %" PRIu64, col(o, ex->verdict),
			        verdict_name(ex->verdict), off(o), ex->client, ex->server, ex->stream);
			if (ex->has_alert)
				fprintf(o->f, "  %s alert %s", ex->alert_from_server ? "server" : "client",
				        tls_alert_name(ex->alert_desc));
			if (frames[0])
				fprintf(o->f, "  frames %s", frames);
			if (ex->reaction_ms >= 0)
				fprintf(o->f, "  %.1f ms after the server flight", ex->reaction_ms);
			if (ex->input)
				fprintf(o->f, "  [input #%u, tcp.stream eq %" PRIu64 "]\n", ex->input, ex->stream);
			else
				fprintf(o->f, "  [tcp.stream eq %" PRIu64 "]\n", ex->stream);
		}
	}
}

/* Every cap hit (the counters of JSON "limits" that are not zero), so a
 * result is never silently partial. */
static void limits_line(struct out_ctx *o, struct engine *e)
{
	const struct pi_caps *c = engine_caps(e);
	const struct dns_stats *ds = dns_get_stats(engine_dns(e));
	const struct {
		uint64_t n;
		const char *what;
	} v[] = {
		{ c->flows_evicted, "flows evicted" },
		{ c->reasm_dropped, "reassembly bytes dropped" },
		{ c->reasm_gaps, "gaps in streams" },
		{ c->reasm_gaps_forced, "holes skipped to stay within the reassembly caps" },
		{ c->reasm_budget_hits, "reassembly budget hits" },
		{ c->tls_msg_too_big, "oversized TLS messages" },
		{ c->tls_budget_hits, "TLS messages skipped: handshake budget" },
		{ c->frag_dropped, "fragments dropped" },
		{ c->dns_names_dropped, "DNS names not kept" },
		{ ds->pending_evicted, "open DNS queries evicted" },
		{ ds->addrmap_evicted, "DNS address-map keys evicted" },
		{ ds->qlog_dropped, "DNS query-log rows dropped" },
		{ engine_edns(e)->dropped, "encrypted-DNS servers not kept" },
		{ c->packets_truncated, "packets cut by snaplen" },
		{ evidence_dropped(engine_evidence(e)), "names not kept" },
		{ o->ranked.dns_blocked_dropped, "dns-blocked names not listed" },
		{ out_alloc_failures(o, e), "allocations failed (partial result)" },
	};
	int any = 0;
	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		if (!v[i].n)
			continue;
		fprintf(o->f, "%s%" PRIu64 " %s", any ? ", " : "  limits: ", v[i].n, v[i].what);
		any = 1;
	}
	if (any)
		fputc('\n', o->f);
}

static void inputs_and_limits(struct out_ctx *o, struct engine *e)
{
	const struct input_info *in;
	size_t nin = engine_inputs(e, &in);
	fprintf(o->f, "\n%sInputs%s\n", bold(o), off(o));
	for (size_t i = 0; i < nin; i++) {
		char p[300];
		safe(in[i].path, p, sizeof(p));
		fprintf(o->f, "  #%zu %s: %s%s, %" PRIu64 " packets%s%s\n", i, p,
		        in[i].format && *in[i].format ? in[i].format : "unreadable", in[i].gzipped ? " (gzip)" : "",
		        in[i].packets, in[i].error[0] ? "; stopped: " : "", in[i].error);
	}
	if (o->logs) {
		const struct log_inputs *l = o->logs;
		const struct zsat_stats *zs = zsat_stats(l->zsat);
		const struct webins_stats *ws = webins_stats(l->webins);
		char line[1024], p[600];
		for (size_t i = 0; i < l->nbundles; i++) {
			bundle_summary(l->bundles[i], line, sizeof(line));
			safe(l->bundle_paths[i], p, sizeof(p));
			fprintf(o->f, "  bundle %s: %s\n", p, line);
		}
		if (zs->inputs)
			fprintf(o->f, "  ZSATunnel logs: %llu lines, %llu used, %llu skipped; %zu hosts\n",
			        (unsigned long long)zs->lines, (unsigned long long)zs->used, (unsigned long long)zs->skipped,
			        zsat_host_count(l->zsat));
		if (ws->inputs)
			fprintf(o->f, "  Web Insights: %zu hosts with failed client SSL handshakes\n", webins_host_count(l->webins));
	}
	limits_line(o, e);
}

static const char *cat_col(const struct out_ctx *o, enum category c)
{
	if (!o->color)
		return "";
	switch (c) {
	case CAT_BYPASS: return "\033[1;31m";
	case CAT_TRUST_STORE:
	case CAT_CERTIFICATE:
	case CAT_DNS_BLOCKED: return "\033[1;33m";
	case CAT_HEALTHY: return "\033[32m";
	default: return "\033[2m";
	}
}

#define MAX_CANDIDATES_SHOWN 20

void report_candidates(struct out_ctx *o, const struct rank_result *r)
{
	char rule[80], why[800];
	size_t shown = 0;
	if (!r->n) {
		fprintf(o->f, "\nNo candidates: no name failed consistently.\n");
		return;
	}
	fprintf(o->f, "\n%sCandidates, best first%s\n", bold(o), off(o));
	for (size_t i = 0; i < r->n && shown < MAX_CANDIDATES_SHOWN; i++) {
		const struct candidate *c = &r->v[i];
		if (c->cat == CAT_HEALTHY)
			continue;
		shown++;
		safe(c->rule, rule, sizeof(rule));
		fprintf(o->f, "%3zu. %s%-12s%s %-40s score %.2f  fail %llu ok %llu%s%s\n", i + 1, cat_col(o, c->cat),
		        category_name(c->cat), off(o), rule, c->score, (unsigned long long)c->failures,
		        (unsigned long long)c->successes, c->known_app ? "  app: " : "", c->known_app ? c->known_app : "");
		safe(c->why, why, sizeof(why));
		fprintf(o->f, "     why: %s\n", why);
		safe(c->fix, why, sizeof(why));
		fprintf(o->f, "     fix: %s\n", why);
		fprintf(o->f, "     wireshark: %s\n", c->wireshark_filter);
	}
	if (r->n > shown)
		fprintf(o->f, "     ... %zu more (see --format json)\n", r->n - shown);
}

void report_end(struct out_ctx *o, struct engine *e)
{
	size_t n;
	const struct evid_name **v;
	summary(o, e);
	report_candidates(o, &o->ranked);
	v = evidence_sorted(engine_evidence(e), &n);
	names_table(o, v, n);
	details(o, v, n);
	dns_write_report(engine_dns(e), o->f, o->color);
	{
		const struct edns *ed = engine_edns(e);
		char addr[64], sni[160];
		if (ed->n)
			fprintf(o->f, "  encrypted DNS (the names inside cannot be seen in this capture):\n");
		for (size_t i = 0; i < ed->n; i++) {
			const struct edns_entry *x = &ed->v[i];
			decode_addr_str(x->ipver, x->addr, addr, sizeof(addr));
			safe(x->sni, sni, sizeof(sni));
			fprintf(o->f, "    %s to %s port %u%s%s: %llu %s, first frame %llu\n", edns_kind_name(x->kind), addr,
			        x->port, sni[0] ? " " : "", sni, (unsigned long long)x->count,
			        x->kind == EDNS_DOQ ? "packets" : "connections", (unsigned long long)x->first_frame);
		}
	}
	inputs_and_limits(o, e);
}
