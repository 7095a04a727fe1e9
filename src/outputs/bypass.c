/* bypass.c: the bypass list in each product's own syntax (doc/formats.md
 * cites each product's documentation).
 *
 * Only `bypass` candidates go on a bypass list; the ticket (markdown) and
 * the CSV list every candidate with its category.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "outputs/bypass.h"
#include "outputs/jw.h"

#define PANOS_MAX_DEPTH 16

static int chosen(size_t i, const size_t *only, size_t nonly)
{
	if (!only)
		return 1;
	for (size_t k = 0; k < nonly; k++)
		if (only[k] == i)
			return 1;
	return 0;
}

/* Is the rule usable as a host entry (ZIA URL format guidelines: lower
 * case ASCII, <= 255 characters, labels <= 63, not a TLD alone)? */
static int zia_ok(const char *rule)
{
	const char *p = rule[0] == '.' ? rule + 1 : rule;
	size_t label = 0, n = strlen(p);
	if (!n || n > 255 || !strchr(p, '.'))
		return 0;
	for (; *p; p++) {
		unsigned char ch = (unsigned char)*p;
		if (ch == '.') {
			if (!label)
				return 0;
			label = 0;
			continue;
		}
		if (!(isalnum(ch) || ch == '-' || ch == '_' || ch == ':') || isupper(ch) || ++label > 63)
			return 0;
	}
	return label > 0;
}

static int wanted(const struct candidate *c)
{
	return c->cat == CAT_BYPASS && zia_ok(c->rule);
}

static void fmt_zscaler(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	for (size_t i = 0; i < r->n; i++)
		if (chosen(i, only, nonly) && wanted(&r->v[i]))
			fprintf(f, "%s\n", r->v[i].rule);
}

static void fmt_zscaler_api(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	struct jw w;
	fputs("# Add the entries to an existing custom URL category without replacing its list:\n"
	      "# action=ADD_TO_LIST appends (a plain PUT would replace every entry of the category).\n"
	      "# Set ZIA_BASE (e.g. https://zsapi.<cloud>.net/api/v1), CATEGORY_ID, ZIA_CATEGORY_NAME\n"
	      "# (the category's current configuredName, as GET $ZIA_BASE/urlCategories/$CATEGORY_ID shows\n"
	      "# it: the body carries it unchanged) and the session cookie, then activate the change.\n"
	      "curl -sS -X PUT \"$ZIA_BASE/urlCategories/$CATEGORY_ID?action=ADD_TO_LIST\" \\\n"
	      "  -H 'Content-Type: application/json' -b \"JSESSIONID=$ZIA_SESSION\" \\\n"
	      "  --data-binary @- <<JSON\n", f);
	jw_init(&w, f, 1);
	jw_obj_open(&w);
	jw_kstr(&w, "configuredName", "${ZIA_CATEGORY_NAME}");
	jw_key(&w, "urls");
	jw_arr_open(&w);
	for (size_t i = 0; i < r->n; i++)
		if (chosen(i, only, nonly) && wanted(&r->v[i]))
			jw_str(&w, r->v[i].rule);
	jw_arr_close(&w);
	jw_obj_close(&w);
	fputs("JSON\n"
	      "curl -sS -X POST \"$ZIA_BASE/status/activate\" -b \"JSESSIONID=$ZIA_SESSION\"\n", f);
}

/* PAN-OS: in decryption exclusions '*' stands for exactly one label, so a
 * ".parent" rule needs one entry per depth of the names it covers. */
static void fmt_panos(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	for (size_t i = 0; i < r->n; i++) {
		const struct candidate *c = &r->v[i];
		if (!chosen(i, only, nonly) || !wanted(c))
			continue;
		if (c->rule[0] != '.') {
			fprintf(f, "set shared ssl-decrypt ssl-exclude-cert %s description \"pinspect: %s\" exclude yes\n",
			        c->rule, c->known_app ? c->known_app : "client rejects inspection");
			continue;
		}
		const char *parent = c->rule + 1;
		int depths[PANOS_MAX_DEPTH] = { 0 }, bare = 0;
		for (int k = 0; k < c->ncovered; k++) {
			const char *n = c->covered[k];
			size_t nl = strlen(n), pl = strlen(parent);
			int d = 0;
			if (nl <= pl) {
				bare = 1; /* the parent itself failed: '*.' does not match it */
				continue;
			}
			for (size_t j = 0; j < nl - pl - 1; j++)
				if (n[j] == '.')
					d++;
			if (d < PANOS_MAX_DEPTH)
				depths[d] = 1;
			else
				fprintf(f, "# %s is %d labels below %s: too deep for one entry per depth, add it by name\n", n,
				        d + 1, parent);
		}
		if (bare)
			fprintf(f, "set shared ssl-decrypt ssl-exclude-cert %s description \"pinspect: %s\" exclude yes\n", parent,
			        c->known_app ? c->known_app : "client rejects inspection");
		for (int d = 0; d < PANOS_MAX_DEPTH; d++) {
			if (!depths[d])
				continue;
			fputs("set shared ssl-decrypt ssl-exclude-cert ", f);
			for (int k = 0; k <= d; k++)
				fputs("*.", f);
			fprintf(f, "%s description \"pinspect: %s\" exclude yes\n", parent,
			        c->known_app ? c->known_app : "client rejects inspection");
		}
	}
}

static void fmt_squid(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	int any = 0;
	fputs("# pinspect: names whose clients reject TLS inspection: splice (do not bump) them.\n", f);
	for (size_t i = 0; i < r->n; i++)
		if (chosen(i, only, nonly) && wanted(&r->v[i])) {
			fprintf(f, "acl pinspect_nobump ssl::server_name %s\n", r->v[i].rule);
			any = 1;
		}
	if (!any)
		fputs("# (no bypass candidates)\n", f);
	fputs("acl pinspect_step1 at_step SslBump1\n"
	      "ssl_bump peek pinspect_step1\n", f);
	if (any)
		fputs("ssl_bump splice pinspect_nobump\n", f);
	fputs("ssl_bump bump all\n", f);
}

static void regex_escape(FILE *f, const char *s)
{
	for (; *s; s++) {
		if (strchr(".^$*+?()[]{}|\\", *s))
			fputc('\\', f);
		fputc(*s, f);
	}
}

/* mitmproxy matches ignore_hosts regexes against "host:port". */
static void fmt_mitmproxy(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	int n = 0;
	for (size_t i = 0; i < r->n; i++) {
		const struct candidate *c = &r->v[i];
		if (!chosen(i, only, nonly) || !wanted(c))
			continue;
		fputs(n++ ? " " : "", f);
		fputs("--ignore-hosts '^", f);
		if (c->rule[0] == '.') {
			fputs("(.+\\.)?", f);
			regex_escape(f, c->rule + 1);
		} else {
			regex_escape(f, c->rule);
		}
		/* mitmproxy 7.0 to 10.2 match the bare host, later ones host:port
		 * (mitmproxy #6325, #6594): accept both */
		fputs("(:\\d+)?$'", f);
	}
	fputc('\n', f);
}

static void fmt_markdown(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	int nb = 0;
	fputs("# TLS inspection: names to exempt\n\n", f);
	fputs("Found by pinspect in packet captures: clients that reject the interception certificate.\n\n", f);
	fputs("| # | rule | category | score | failures | successes | known app | evidence |\n", f);
	fputs("| --- | --- | --- | --- | --- | --- | --- | --- |\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct candidate *c = &r->v[i];
		if (!chosen(i, only, nonly))
			continue;
		fprintf(f, "| %zu | `%s` | %s | %.2f | %llu | %llu | %s | ", i + 1, c->rule, category_name(c->cat), c->score,
		        (unsigned long long)c->failures, (unsigned long long)c->successes,
		        c->known_app ? c->known_app : "");
		for (const char *p = c->why; *p; p++)
			fputs(*p == '|' ? "\\|" : (char[]){ *p, 0 }, f);
		fputs(" |\n", f);
		if (c->cat == CAT_BYPASS)
			nb++;
	}
	fputs("\n## What to do\n\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct candidate *c = &r->v[i];
		if (!chosen(i, only, nonly))
			continue;
		fprintf(f, "- `%s` (%s): %s\n  - Wireshark: `%s`\n", c->rule, category_name(c->cat), c->fix,
		        c->wireshark_filter);
	}
	if (nb) {
		fputs("\n## Proposed bypass entries (ZIA custom URL category)\n\n```\n", f);
		fmt_zscaler(f, r, only, nonly);
		fputs("```\n\nConfirm each entry with `pinspect verify NAME` (fails intercepted, works bypassed),\n"
		      "then tell the requester: the loop ends when the application works.\n", f);
	}
}

static void csv_field(FILE *f, const char *s, int last)
{
	int q = strpbrk(s, ",\"\n\r") != NULL;
	if (q) {
		fputc('"', f);
		for (; *s; s++) {
			if (*s == '"')
				fputc('"', f);
			fputc(*s, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputc(last ? '\n' : ',', f);
}

static void fmt_csv(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	char buf[64];
	fputs("rank,rule,category,score,failures,successes,known_app,why,fix,wireshark_filter\n", f);
	for (size_t i = 0; i < r->n; i++) {
		const struct candidate *c = &r->v[i];
		if (!chosen(i, only, nonly))
			continue;
		snprintf(buf, sizeof(buf), "%zu", i + 1);
		csv_field(f, buf, 0);
		csv_field(f, c->rule, 0);
		csv_field(f, category_name(c->cat), 0);
		snprintf(buf, sizeof(buf), "%.3f", c->score);
		csv_field(f, buf, 0);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)c->failures);
		csv_field(f, buf, 0);
		snprintf(buf, sizeof(buf), "%llu", (unsigned long long)c->successes);
		csv_field(f, buf, 0);
		csv_field(f, c->known_app ? c->known_app : "", 0);
		csv_field(f, c->why, 0);
		csv_field(f, c->fix, 0);
		csv_field(f, c->wireshark_filter, 1);
	}
}

void out_candidate_json(struct jw *w, const struct candidate *c)
{
	jw_obj_open(w);
	jw_kstr(w, "rule", c->rule);
	jw_kstr(w, "category", category_name(c->cat));
	jw_key(w, "score");
	jw_double(w, c->score, 3);
	jw_kuint(w, "failures", c->failures);
	jw_kuint(w, "successes", c->successes);
	jw_key(w, "signatures");
	jw_obj_open(w);
	for (int k = 1; k < V_COUNT; k++)
		if (c->signatures[k])
			jw_kuint(w, verdict_name((enum verdict)k), c->signatures[k]);
	jw_obj_close(w);
	if (c->dns_unanswered)
		jw_kuint(w, "dns_unanswered", c->dns_unanswered);
	jw_kstr(w, "known_app", c->known_app);
	jw_kstr(w, "fix", c->fix);
	jw_kstr(w, "why", c->why);
	jw_kstr(w, "wireshark_filter", c->wireshark_filter);
	if (c->rule[0] == '.') {
		jw_key(w, "covers");
		jw_arr_open(w);
		for (int k = 0; k < c->ncovered; k++)
			jw_str(w, c->covered[k]);
		jw_arr_close(w);
	}
	jw_kbool(w, "baseline_ok", c->baseline_ok);
	jw_obj_close(w);
}

static void fmt_json(FILE *f, const struct rank_result *r, const size_t *only, size_t nonly)
{
	struct jw w;
	jw_init(&w, f, 1);
	jw_obj_open(&w);
	jw_kstr(&w, "schema", "pinspect/1");
	jw_key(&w, "candidates");
	jw_arr_open(&w);
	for (size_t i = 0; i < r->n; i++)
		if (chosen(i, only, nonly))
			out_candidate_json(&w, &r->v[i]);
	jw_arr_close(&w);
	jw_obj_close(&w);
}

static const struct {
	const char *name;
	void (*fn)(FILE *, const struct rank_result *, const size_t *, size_t);
} formats[] = {
	{ "zscaler", fmt_zscaler },     { "zscaler-api", fmt_zscaler_api }, { "panos", fmt_panos },
	{ "squid", fmt_squid },         { "mitmproxy", fmt_mitmproxy },     { "markdown", fmt_markdown },
	{ "csv", fmt_csv },             { "json", fmt_json },
};

int out_candidates_format_known(const char *format)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++)
		if (strcmp(formats[i].name, format) == 0)
			return 1;
	return 0;
}

int out_candidates(FILE *f, const char *format, const struct rank_result *r, const size_t *only, size_t nonly)
{
	for (size_t i = 0; i < sizeof(formats) / sizeof(formats[0]); i++) {
		if (strcmp(formats[i].name, format) == 0) {
			formats[i].fn(f, r, only, nonly);
			return 0;
		}
	}
	return -1;
}
