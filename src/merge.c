/* merge.c: `pinspect merge A.json B.json ...`: the evidence of separate runs
 * (a fleet of endpoints analysed one by one) combined and ranked exactly as
 * one run over all the inputs would rank it.
 *
 * Reads the pinspect/1 documents with jansson; every value is checked for
 * its type and range before use (the files may come from anywhere).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <jansson.h>

#include "analysis/certdiag.h"
#include "analysis/evidence.h"
#include "commands.h"
#include "common/util.h"
#include "outputs/bypass.h"
#include "outputs/jw.h"
#include "outputs/output.h"
#include "ranking/kb.h"
#include "ranking/rank.h"

#define MERGE_MAX_FILE (1024ll * 1024 * 1024) /* refuse documents over 1 GiB */
#define MERGE_MAX_DNS 1000000u

struct dns_acc {
	struct rank_dns *v;
	size_t n, cap;
};

static uint64_t juint(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	if (json_is_integer(v) && json_integer_value(v) >= 0)
		return (uint64_t)json_integer_value(v);
	return 0;
}

static const char *jstr(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static int verdict_by_name(const char *s)
{
	for (int k = 1; k < V_COUNT; k++)
		if (strcmp(s, verdict_name((enum verdict)k)) == 0)
			return k;
	return -1;
}

/* One NAME object back into an aggregate. Returns 0, -1 if malformed. */
static int name_from_json(json_t *o, struct evid_name *n)
{
	const char *s;
	json_t *v, *it;
	size_t i;
	const char *key;

	memset(n, 0, sizeof(*n));
	if (!json_is_object(o) || !(s = jstr(o, "name")) || !*s)
		return -1;
	pi_strlcpy(n->name, s, sizeof(n->name));
	if ((s = jstr(o, "sni")))
		pi_strlcpy(n->sni, s, sizeof(n->sni));
	s = jstr(o, "name_source");
	n->name_source = s && strcmp(s, "sni") == 0 ? 2 : s && strcmp(s, "dns") == 0 ? 1 : 0;
	n->total = juint(o, "connections");
	n->failures = juint(o, "failures");
	n->successes = juint(o, "successes");
	n->cert_alert_strong = juint(o, "cert_alert_strong");
	v = json_object_get(o, "verdicts");
	if (json_is_object(v))
		json_object_foreach(v, key, it) {
			int k = verdict_by_name(key);
			if (k > 0 && json_is_integer(it) && json_integer_value(it) >= 0)
				n->verdicts[k] = (uint64_t)json_integer_value(it);
		}
	n->clients_overflow = json_is_true(json_object_get(o, "clients_overflow"));
	v = json_object_get(o, "client_outcomes");
	if (json_is_array(v))
		json_array_foreach(v, i, it) {
			uint8_t a[16] = { 0 };
			const char *ip = jstr(it, "client");
			if (n->nclients >= EVID_MAX_CLIENTS || !ip)
				break;
			if (inet_pton(AF_INET, ip, a) == 1)
				n->client_addr[n->nclients][0] = 4;
			else if (inet_pton(AF_INET6, ip, a) == 1)
				n->client_addr[n->nclients][0] = 6;
			else
				continue;
			memcpy(n->client_addr[n->nclients] + 1, a, 16);
			n->client_fail[n->nclients] = (uint32_t)juint(it, "failures");
			n->client_ok[n->nclients] = (uint32_t)juint(it, "successes");
			n->nclients++;
		}
	v = json_object_get(o, "tls_versions");
	if (json_is_array(v))
		json_array_foreach(v, i, it) {
			if (n->nversions < EVID_MAX_VERSIONS && json_is_string(it))
				n->versions[n->nversions++] = (uint16_t)strtoul(json_string_value(it), NULL, 16);
		}
	v = json_object_get(o, "ja3");
	if (json_is_array(v))
		json_array_foreach(v, i, it) {
			if (n->nja3 < EVID_MAX_JA3 && json_is_string(it))
				pi_strlcpy(n->ja3[n->nja3++], json_string_value(it), sizeof(n->ja3[0]));
		}
	if ((s = jstr(o, "app")))
		pi_strlcpy(n->app, s, sizeof(n->app));
	if ((s = jstr(o, "dns_chain")))
		pi_strlcpy(n->chain, s, sizeof(n->chain));
	v = json_object_get(o, "logs");
	if (json_is_object(v)) {
		n->zsat_tunnels = juint(v, "zsatunnel_tunnels");
		n->zsat_failures = juint(v, "zsatunnel_failures");
		n->wi_failures = juint(v, "web_insights_failures");
		n->wi_users = juint(v, "web_insights_users");
	}
	n->first_ts = juint(o, "first_ts_ns");
	n->last_ts = juint(o, "last_ts_ns");
	v = json_object_get(o, "examples");
	if (json_is_array(v))
		json_array_foreach(v, i, it) {
			struct evid_example *x;
			json_t *fr, *f;
			size_t j;
			int k;
			if (n->nexamples >= EVID_MAX_EXAMPLES || !json_is_object(it))
				break;
			x = &n->examples[n->nexamples];
			memset(x, 0, sizeof(*x));
			x->input = (uint32_t)juint(it, "input");
			x->stream = juint(it, "tcp_stream");
			k = jstr(it, "verdict") ? verdict_by_name(jstr(it, "verdict")) : -1;
			if (k <= 0)
				continue;
			x->verdict = (enum verdict)k;
			if (json_is_integer(json_object_get(it, "alert_code"))) {
				x->has_alert = 1;
				x->alert_desc = (uint8_t)juint(it, "alert_code");
			}
			x->alert_from_server = json_is_true(json_object_get(it, "alert_from_server"));
			pi_strlcpy(x->client, jstr(it, "client") ? jstr(it, "client") : "", sizeof(x->client));
			pi_strlcpy(x->server, jstr(it, "server") ? jstr(it, "server") : "", sizeof(x->server));
			fr = json_object_get(it, "frames");
			if (json_is_array(fr))
				json_array_foreach(fr, j, f) {
					if (x->nframes < CONN_MAX_FRAMES && json_is_integer(f) && json_integer_value(f) > 0)
						x->frames[x->nframes++] = (uint64_t)json_integer_value(f);
				}
			f = json_object_get(it, "reaction_ms");
			x->reaction_ms = json_is_number(f) ? json_number_value(f) : -1;
			x->ts_ns = juint(it, "ts_ns");
			n->nexamples++;
		}
	return 0;
}

static int dns_add(struct dns_acc *d, const char *name, uint64_t unanswered, uint64_t answered)
{
	for (size_t i = 0; i < d->n; i++)
		if (strcmp(d->v[i].name, name) == 0) {
			d->v[i].unanswered += unanswered;
			d->v[i].answered += answered;
			return 0;
		}
	if (d->n >= MERGE_MAX_DNS)
		return -1;
	if (d->n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 64;
		struct rank_dns *nv = realloc(d->v, nc * sizeof(*nv));
		if (!nv)
			return -1;
		d->v = nv;
		d->cap = nc;
	}
	memset(&d->v[d->n], 0, sizeof(d->v[0]));
	pi_strlcpy(d->v[d->n].name, name, sizeof(d->v[0].name));
	d->v[d->n].unanswered = unanswered;
	d->v[d->n].answered = answered;
	d->n++;
	return 0;
}

static int cmp_dns_name(const void *a, const void *b)
{
	return strcmp(((const struct rank_dns *)a)->name, ((const struct rank_dns *)b)->name);
}

static const char merge_usage[] =
	"usage: pinspect merge [-f FORMAT] [--kb FILE] [-o FILE] RESULT.json...\n"
	"Combines the JSON results of separate runs (pinspect analyze --json) and ranks\n"
	"the whole as one run over all their inputs would. FORMAT: json (default), report,\n"
	"zscaler, zscaler-api, panos, squid, mitmproxy, markdown, csv.\n";

int cmd_merge(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' }, { "kb", required_argument, NULL, 'K' },
		{ "output", required_argument, NULL, 'o' }, { "help", no_argument, NULL, 'h' },
		{ "pretty", no_argument, NULL, 'p' },       { 0, 0, 0, 0 },
	};
	const char *format = "json", *kbpath = NULL, *outpath = NULL;
	struct evidence *ev = evidence_new();
	struct dns_acc dns = { 0 };
	json_t *inputs = json_array(), *conns = json_array();
	uint64_t verdicts[V_COUNT] = { 0 }, packets = 0, tls_conns = 0;
	struct rank_opts ro = { 0 };
	struct rank_result rr = { 0 };
	struct kb *kb = NULL;
	struct ja3_db *ja3db = NULL;
	struct certdiag *cd = NULL;
	FILE *out = stdout;
	int ch, rc = 0, pretty = 0;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (ch) {
		case 'f': format = optarg; break;
		case 'K': kbpath = optarg; break;
		case 'o': outpath = optarg; break;
		case 'p': pretty = 1; break;
		case 'h': fputs(merge_usage, stdout); rc = 0; goto out;
		default: fputs(merge_usage, stderr); rc = 2; goto out;
		}
	}
	if (optind >= argc || (strcmp(format, "json") && strcmp(format, "report") &&
	                       !out_candidates_format_known(format))) {
		fputs(merge_usage, stderr);
		rc = 2;
		goto out;
	}
	if (!ev || !inputs || !conns) {
		fprintf(stderr, "pinspect: out of memory\n");
		rc = 5;
		goto out;
	}
	for (int a = optind; a < argc; a++) {
		json_error_t jerr;
		struct stat st;
		json_t *doc, *arr, *it;
		size_t i, offset = json_array_size(inputs);
		const char *schema;
		if (stat(argv[a], &st) != 0 || st.st_size > MERGE_MAX_FILE) {
			fprintf(stderr, "pinspect: %s: %s\n", argv[a], errno ? strerror(errno) : "larger than 1 GiB");
			rc = 3;
			continue;
		}
		doc = json_load_file(argv[a], JSON_REJECT_DUPLICATES, &jerr);
		if (!doc) {
			fprintf(stderr, "pinspect: %s: line %d: %s\n", argv[a], jerr.line, jerr.text);
			rc = 3;
			continue;
		}
		schema = jstr(doc, "schema");
		if (!schema || strcmp(schema, "pinspect/1") != 0) {
			fprintf(stderr, "pinspect: %s: not a pinspect/1 result\n", argv[a]);
			json_decref(doc);
			rc = 3;
			continue;
		}
		arr = json_object_get(doc, "inputs");
		json_array_foreach(arr, i, it)
			json_array_append(inputs, it);
		arr = json_object_get(doc, "connections");
		json_array_foreach(arr, i, it) {
			json_t *c = json_deep_copy(it);
			if (c && json_is_object(c)) {
				json_object_set_new(c, "input", json_integer((json_int_t)(juint(c, "input") + offset)));
				json_array_append_new(conns, c);
			} else {
				json_decref(c);
			}
		}
		arr = json_object_get(doc, "names");
		json_array_foreach(arr, i, it) {
			struct evid_name n;
			if (name_from_json(it, &n) == 0)
				evidence_merge_name(ev, &n, (uint32_t)offset);
		}
		arr = json_object_get(doc, "dns_names");
		json_array_foreach(arr, i, it) {
			const char *nm = jstr(it, "name");
			if (nm && dns_add(&dns, nm, juint(it, "unanswered"), juint(it, "answered")) < 0)
				break;
		}
		it = json_object_get(doc, "summary");
		packets += juint(it, "packets");
		tls_conns += juint(it, "tls_connections");
		{
			json_t *vv = json_object_get(it, "verdicts"), *x;
			const char *key;
			if (json_is_object(vv))
				json_object_foreach(vv, key, x) {
					int k = verdict_by_name(key);
					if (k > 0 && json_is_integer(x) && json_integer_value(x) >= 0)
						verdicts[k] += (uint64_t)json_integer_value(x);
				}
		}
		json_decref(doc);
	}
	if (dns.n)
		qsort(dns.v, dns.n, sizeof(dns.v[0]), cmp_dns_name);
	{
		char err[512];
		kb = kb_load(kbpath ? kbpath : kb_default_path(), err, sizeof(err));
		if (!kb)
			fprintf(stderr, "pinspect: %s\n", err);
		ro.kb = kb;
		/* the knowledge-base steps of the diagnosis (trust-store tools, known
		 * pinning apps); the certificate and client-stack steps need captures */
		ja3db = ja3_db_load(ja3_db_default_path(), err, sizeof(err));
		cd = certdiag_new(NULL, kb, ja3db);
		ro.certdiag = cd;
	}
	if (rank_run_list(ev, dns.v, dns.n, &ro, &rr) < 0) {
		fprintf(stderr, "pinspect: out of memory while ranking\n");
		rc = 5;
		goto out;
	}
	if (outpath && !(out = fopen(outpath, "w"))) {
		fprintf(stderr, "pinspect: %s: cannot write: %s\n", outpath, strerror(errno));
		out = stdout;
		rc = 5;
		goto out;
	}
	if (strcmp(format, "json") == 0) {
		struct jw w;
		size_t n;
		const struct evid_name **names = evidence_sorted(ev, &n);
		json_t *it;
		size_t i;
		jw_init(&w, out, pretty);
		jw_obj_open(&w);
		jw_kstr(&w, "schema", "pinspect/1");
		jw_kstr(&w, "generator", PACKAGE_VERSION " merge");
		jw_key(&w, "connections");
		jw_arr_open(&w);
		json_array_foreach(conns, i, it) {
			char *txt = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (txt)
				jw_raw(&w, txt);
			free(txt);
		}
		jw_arr_close(&w);
		jw_key(&w, "inputs");
		jw_arr_open(&w);
		json_array_foreach(inputs, i, it) {
			char *txt = json_dumps(it, JSON_COMPACT | JSON_PRESERVE_ORDER);
			if (txt)
				jw_raw(&w, txt);
			free(txt);
		}
		jw_arr_close(&w);
		jw_key(&w, "candidates");
		jw_arr_open(&w);
		for (size_t k = 0; k < rr.n; k++)
			out_candidate_json(&w, &rr.v[k]);
		jw_arr_close(&w);
		jw_key(&w, "names");
		jw_arr_open(&w);
		for (size_t k = 0; k < n; k++)
			json_write_name(&w, names[k]);
		jw_arr_close(&w);
		json_write_dns_names(&w, dns.v, dns.n);
		jw_key(&w, "summary");
		jw_obj_open(&w);
		jw_kuint(&w, "packets", packets);
		jw_kuint(&w, "tls_connections", tls_conns);
		jw_key(&w, "verdicts");
		jw_obj_open(&w);
		for (int k = 1; k < V_COUNT; k++)
			jw_kuint(&w, verdict_name((enum verdict)k), verdicts[k]);
		jw_obj_close(&w);
		jw_obj_close(&w);
		jw_obj_close(&w);
		if (!pretty)
			fputc('\n', out);
	} else if (strcmp(format, "report") == 0) {
		struct out_ctx o = { 0 };
		o.f = out;
		o.version = PACKAGE_VERSION;
		fprintf(out, "pinspect merge: %zu inputs, %llu packets, %llu TLS connections\n", json_array_size(inputs),
		        (unsigned long long)packets, (unsigned long long)tls_conns);
		report_candidates(&o, &rr);
	} else {
		out_candidates(out, format, &rr, NULL, 0);
	}
	if (ferror(out))
		rc = 5;
out:
	if (out != stdout)
		fclose(out);
	rank_result_free(&rr);
	certdiag_free(cd);
	ja3_db_free(ja3db);
	kb_free(kb);
	free(dns.v);
	json_decref(inputs);
	json_decref(conns);
	evidence_free(ev);
	return rc;
}
