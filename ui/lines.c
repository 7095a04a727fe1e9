/* lines.c: verdict lines and the end-of-capture summary (see lines.h). */
#include "ui/lines.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "analysis/dnsmap.h"
#include "dissectors/dns.h"
#include "outputs/bypass.h"
#include "outputs/jw.h"
#include "outputs/output.h"
#include "ui/model.h"

#define ANSI_RESET "\033[0m"

static const char *verdict_color(enum verdict v)
{
	if (v == V_HEALTHY)
		return "\033[32m";
	if (verdict_is_rejection(v))
		return "\033[1;31m";
	if (v == V_SERVER_ABORT || v == V_OTHER_ALERT)
		return "\033[33m";
	return "\033[2m";
}

static void iso_time(char *b, size_t n, uint64_t ts_ns)
{
	time_t t = (time_t)(ts_ns / 1000000000u);
	struct tm tm;
	char base[32];
	if (!gmtime_r(&t, &tm)) {
		snprintf(b, n, "1970-01-01T00:00:00.000Z");
		return;
	}
	strftime(base, sizeof(base), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(b, n, "%s.%03uZ", base, (unsigned)((ts_ns / 1000000u) % 1000u));
}

static void local_time(char *b, size_t n, uint64_t ts_ns)
{
	time_t t = (time_t)(ts_ns / 1000000000u);
	struct tm tm;
	char base[32];
	if (!localtime_r(&t, &tm)) {
		snprintf(b, n, "--:--:--.---");
		return;
	}
	strftime(base, sizeof(base), "%H:%M:%S", &tm);
	snprintf(b, n, "%s.%03u", base, (unsigned)((ts_ns / 1000000u) % 1000u));
}

/* When the verdict was decided: the decisive frame's time is not kept, so
 * the connection's last packet so far. */
static uint64_t decided_ts(const struct conn *c)
{
	return c->last_ts ? c->last_ts : c->first_ts;
}

static void kstr_or_null(struct jw *w, const char *k, const char *v)
{
	jw_key(w, k);
	if (v && *v)
		jw_str(w, v);
	else
		jw_null(w);
}

void lines_verdict(const struct lines_opts *o, const struct conn_out *x)
{
	const struct conn *c = x->c;
	const char *alert = out_alert_name(c);
	char t[40];

	if (o->json) {
		struct jw w;
		jw_init(&w, o->f, 0);
		jw_obj_open(&w);
		jw_kstr(&w, "type", "verdict");
		iso_time(t, sizeof(t), decided_ts(c));
		jw_kstr(&w, "time", t);
		iso_time(t, sizeof(t), c->first_ts);
		jw_kstr(&w, "first_time", t);
		jw_kstr(&w, "client", x->client);
		jw_kstr(&w, "server", x->server);
		kstr_or_null(&w, "name", x->name);
		jw_kstr(&w, "name_source", x->name_source);
		kstr_or_null(&w, "sni", c->sni);
		jw_kstr(&w, "verdict", verdict_name(c->verdict));
		kstr_or_null(&w, "alert", alert);
		jw_key(&w, "alert_from");
		if (c->has_alert)
			jw_str(&w, c->alert_from_server ? "server" : "client");
		else
			jw_null(&w);
		kstr_or_null(&w, "tls_version", out_version_name(c->version));
		kstr_or_null(&w, "app", x->app);
		kstr_or_null(&w, "ja3", c->ja3);
		jw_kuint(&w, "tcp_stream", c->stream);
		jw_key(&w, "frames");
		jw_arr_open(&w);
		for (int i = 0; i < c->nframes && i < CONN_MAX_FRAMES; i++)
			jw_uint(&w, c->frames[i]);
		jw_arr_close(&w);
		jw_obj_close(&w);
		fputc('\n', o->f);
	} else {
		char name[300], client[80];
		ui_safe(name, sizeof(name), x->name && *x->name ? x->name : x->server);
		ui_safe(client, sizeof(client), x->client);
		local_time(t, sizeof(t), decided_ts(c));
		fprintf(o->f, "%s  %-21s  %-40s  %s%-*s%s%s%s\n", t, client, name, o->color ? verdict_color(c->verdict) : "",
		        alert ? 15 : 0, verdict_name(c->verdict), o->color ? ANSI_RESET : "", alert ? "  " : "",
		        alert ? alert : "");
	}
	fflush(o->f);
}

static uint32_t dns_noanswer(const struct dns_rec *r)
{
	uint32_t open = r->transactions > r->answered ? r->transactions - r->answered : 0;
	return r->unanswered > open ? r->unanswered : open;
}

static void summary_json(const struct lines_opts *o, struct engine *e, const struct rank_result *r,
                         const struct lines_summary *s)
{
	const struct engine_stats *st = engine_stats(e);
	struct dns_tracker *d = engine_dns(e);
	struct jw w;

	for (size_t i = 0; i < r->n; i++) {
		jw_init(&w, o->f, 0);
		/* the candidate object of the pinspect/1 schema, tagged */
		fputs("{\"type\":\"candidate\",\"candidate\":", o->f);
		out_candidate_json(&w, &r->v[i]);
		fputs("}\n", o->f);
	}
	for (size_t i = 0, n = d ? dns_count(d) : 0; i < n; i++) {
		const struct dns_rec *x = dns_get(d, i);
		char buf[16];
		if (!x || (dns_noanswer(x) == 0 && x->last_rcode <= 0))
			continue;
		jw_init(&w, o->f, 0);
		jw_obj_open(&w);
		jw_kstr(&w, "type", "dns");
		jw_kstr(&w, "name", x->name);
		jw_kstr(&w, "qtype", dns_type_name(x->qtype, buf, sizeof(buf)));
		jw_kuint(&w, "queries", x->queries);
		jw_kuint(&w, "answered", x->answered);
		jw_kuint(&w, "unanswered", dns_noanswer(x));
		kstr_or_null(&w, "rcode", x->last_rcode >= 0 ? dns_rcode_name((unsigned)x->last_rcode, buf, sizeof(buf)) : NULL);
		jw_obj_close(&w);
		fputc('\n', o->f);
	}
	jw_init(&w, o->f, 0);
	jw_obj_open(&w);
	jw_kstr(&w, "type", "summary");
	jw_kstr(&w, "source", s->source);
	jw_kbool(&w, "live", s->live);
	jw_key(&w, "duration_s");
	jw_double(&w, s->elapsed_s, 3);
	jw_kuint(&w, "packets", st->packets);
	jw_kuint(&w, "bytes", st->bytes);
	jw_kuint(&w, "tls_connections", st->tls_conns);
	jw_key(&w, "verdicts");
	jw_obj_open(&w);
	for (int i = 1; i < V_COUNT; i++)
		jw_kuint(&w, verdict_name((enum verdict)i), st->verdicts[i]);
	jw_obj_close(&w);
	if (s->ls && s->ls->valid) {
		jw_kuint(&w, "received", s->ls->received);
		jw_kuint(&w, "kernel_drops", s->ls->kernel_drops);
		jw_kuint(&w, "interface_drops", s->ls->if_drops);
	} else {
		jw_key(&w, "kernel_drops");
		jw_null(&w);
		jw_key(&w, "interface_drops");
		jw_null(&w);
	}
	kstr_or_null(&w, "saved", s->saved_path);
	jw_kuint(&w, "saved_files", s->saved_files);
	jw_kuint(&w, "saved_bytes", s->saved_bytes);
	kstr_or_null(&w, "note", s->note);
	jw_obj_close(&w);
	fputc('\n', o->f);
}

static void summary_text(const struct lines_opts *o, struct engine *e, const struct rank_result *r,
                         const struct lines_summary *s)
{
	const struct engine_stats *st = engine_stats(e);
	struct dns_tracker *d = engine_dns(e);
	FILE *f = o->f;
	size_t shown = 0, healthy = 0, ndns = 0;
	char src[300];

	ui_safe(src, sizeof(src), s->source);
	fprintf(f, "\npinspect %s: %s, %.1f s, %llu packets (%llu bytes), %llu TLS connection%s", s->live ? "live" : "replay",
	        src, s->elapsed_s, (unsigned long long)st->packets, (unsigned long long)st->bytes,
	        (unsigned long long)st->tls_conns, st->tls_conns == 1 ? "" : "s");
	for (int i = 1, first = 1; i < V_COUNT; i++) {
		if (!st->verdicts[i])
			continue;
		fprintf(f, "%s%s %llu", first ? ": " : ", ", verdict_name((enum verdict)i),
		        (unsigned long long)st->verdicts[i]);
		first = 0;
	}
	fputc('\n', f);
	if (s->ls && s->ls->valid)
		fprintf(f, "capture: %llu packets received by filter, %llu dropped by kernel, %llu dropped by interface\n",
		        (unsigned long long)s->ls->received, (unsigned long long)s->ls->kernel_drops,
		        (unsigned long long)s->ls->if_drops);
	if (s->saved_path) {
		char p[1100];
		ui_safe(p, sizeof(p), s->saved_path);
		fprintf(f, "saved: %s (%u file%s, %llu bytes)\n", p, s->saved_files, s->saved_files == 1 ? "" : "s",
		        (unsigned long long)s->saved_bytes);
	}
	if (s->note && *s->note)
		fprintf(f, "note: %s\n", s->note);

	for (size_t i = 0; i < r->n; i++)
		if (r->v[i].cat == CAT_HEALTHY)
			healthy++;
	fprintf(f, "\nCandidates, best first");
	if (healthy)
		fprintf(f, " (%zu healthy name%s not listed)", healthy, healthy == 1 ? "" : "s");
	fputs(":\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct candidate *c = &r->v[i];
		char rule[300], text[1100];
		if (c->cat == CAT_HEALTHY)
			continue;
		shown++;
		ui_safe(rule, sizeof(rule), c->rule);
		fprintf(f, "%3zu. %-40s %-12s %.2f  fail %llu  ok %llu%s%s\n", shown, rule, category_name(c->cat), c->score,
		        (unsigned long long)c->failures, (unsigned long long)c->successes, c->known_app ? "  app " : "",
		        c->known_app ? c->known_app : "");
		ui_safe(text, sizeof(text), c->why);
		if (*text)
			fprintf(f, "     why: %s\n", text);
		ui_safe(text, sizeof(text), c->fix);
		if (*text)
			fprintf(f, "     fix: %s\n", text);
		ui_safe(text, sizeof(text), c->wireshark_filter);
		if (*text)
			fprintf(f, "     wireshark: %s\n", text);
	}
	if (!shown)
		fputs("  (none: no name failed)\n", f);

	for (size_t i = 0, n = d ? dns_count(d) : 0; i < n; i++) {
		const struct dns_rec *x = dns_get(d, i);
		char name[300], buf[16], buf2[16];
		uint32_t na;
		if (!x)
			break;
		na = dns_noanswer(x);
		if (na == 0 && x->last_rcode <= 0)
			continue;
		if (!ndns++)
			fputs("\nDNS problems:\n", f);
		ui_safe(name, sizeof(name), x->name);
		fprintf(f, "  %s (%s): %u quer%s, %u unanswered%s%s\n", name, dns_type_name(x->qtype, buf, sizeof(buf)),
		        x->queries, x->queries == 1 ? "y" : "ies", na, x->last_rcode > 0 ? ", rcode " : "",
		        x->last_rcode > 0 ? dns_rcode_name((unsigned)x->last_rcode, buf2, sizeof(buf2)) : "");
	}
}

void lines_summary(const struct lines_opts *o, struct engine *e, const struct rank_opts *ro,
                   const struct lines_summary *s)
{
	struct rank_opts opts = { 0 };
	struct rank_result r = { 0 };
	if (ro)
		opts = *ro;
	opts.include_healthy = 1;
	if (rank_run(engine_evidence(e), engine_dns(e), &opts, &r) != 0)
		r.n = 0;
	if (o->json)
		summary_json(o, e, &r, s);
	else
		summary_text(o, e, &r, s);
	rank_result_free(&r);
	fflush(o->f);
}
