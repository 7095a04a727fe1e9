/* json.c: the pinspect/1 JSON document (DESIGN.md; doc/json-schema.md).
 *
 * Written in one pass: "connections" stream out as the engine finishes
 * them, then "inputs", "dns", "names", "limits" once the run is over.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/dnsmap.h"
#include "analysis/edns.h"
#include "analysis/webinsights.h"
#include "analysis/zsatunnel.h"
#include "capture/bundle.h"
#include "capture/decode.h"
#include "common/util.h"
#include "dissectors/tls.h"
#include "outputs/bypass.h"
#include "outputs/output.h"

void json_begin(struct out_ctx *o)
{
	jw_init_buffered(&o->jw, o->f, o->pretty);
	jw_obj_open(&o->jw);
	jw_lkstr(&o->jw, "schema", "pinspect/1");
	jw_lkstr(&o->jw, "generator", o->version);
	jw_lkey(&o->jw, "connections");
	jw_arr_open(&o->jw);
}

/* v, or null when v is NULL or empty */
static void str_or_null(struct jw *w, const char *v)
{
	if (v && *v)
		jw_str(w, v);
	else
		jw_null(w);
}

/* k: a string literal (jw_lkey) */
#define kstr_or_null(w, k, v) (jw_lkey((w), k), str_or_null((w), (v)))

/* In a run (jw.h): v, or null when v is NULL or empty; leaves JW_RUN_MAX. */
static inline char *p_str_or_null(struct jw *w, char *p, const char *v)
{
	if (v && *v)
		return jw_p_strn(w, p, v, strlen(v));
	return jw_p_room(w, jw_p_null(p), JW_RUN_MAX);
}

/* One connection, the hottest part of the document: written as one run
 * (jw.h) with a room point before each group of fixed-size members. The
 * bytes are those of the general calls (jw_lkstr & co., test_jw compares
 * them); the sums in the comments are each group's most, compact (strings
 * and pretty separators make their own room). */
void json_conn(struct out_ctx *o, const struct conn_out *x)
{
	struct jw *w = &o->jw;
	const struct conn *c = x->c;
	char *p;

	/* 1 + 8 + 24 + 14 + 24 + 10 */
	p = jw_run_begin(w, 81);
	p = jw_p_open(w, p, '{');
	p = jw_p_lkuint0(w, p, "input", c->input);
	p = jw_p_lkuint(w, p, "tcp_stream", c->stream);
	p = jw_p_lkey(w, p, "client");
	p = jw_p_str(w, p, x->client);
	p = jw_p_lkey(w, p, "server");
	p = jw_p_str(w, p, x->server);
	p = jw_p_lkey(w, p, "sni");
	p = p_str_or_null(w, p, c->sni);
	p = jw_p_lkey(w, p, "name");
	p = p_str_or_null(w, p, x->name);
	p = jw_p_lkey(w, p, "name_source");
	p = jw_p_str(w, p, x->name_source);
	/* 13 + 1 + 1 each, + 1 + 15 */
	p = jw_p_lkey(w, p, "dns_chain");
	p = jw_p_open(w, p, '[');
	for (int i = 0; i < x->nchain; i++)
		p = jw_p_str(w, jw_p_elem(w, p), x->chain[i]);
	p = jw_p_close(w, p, ']');
	p = jw_p_lkey(w, p, "tls_version");
	p = p_str_or_null(w, p, out_version_name(c->version));
	/* 20 + 8 + 11 */
	p = jw_p_lkey(w, p, "tls_version_code");
	p = c->version ? jw_p_hex16(p, c->version) : jw_p_null(p);
	p = jw_p_lkey(w, p, "verdict");
	p = jw_p_str(w, p, verdict_name(c->verdict));
	p = jw_p_lkey(w, p, "alert");
	p = p_str_or_null(w, p, out_alert_name(c));
	/* 18 (or 14, a string) + 11 */
	if (!c->has_alert)
		p = jw_p_lknull(w, p, "alert_from");
	else if (c->alert_from_server)
		p = jw_p_str(w, jw_p_lkey(w, p, "alert_from"), "server");
	else
		p = jw_p_str(w, jw_p_lkey(w, p, "alert_from"), "client");
	p = jw_p_lkey(w, p, "frames");
	p = jw_p_open(w, p, '[');
	for (int i = 0; i < c->nframes; i++) {
		p = jw_p_room(w, p, 1 + JW_P_UINT_MAX);
		p = jw_p_uint(jw_p_elem(w, p), c->frames[i]);
	}
	/* 1 + 15 + 64 + 10 */
	p = jw_p_room(w, p, 90);
	p = jw_p_close(w, p, ']');
	p = jw_p_lkey(w, p, "reaction_ms");
	p = c->reaction_ms >= 0 ? jw_p_double(p, c->reaction_ms, 3) : jw_p_null(p);
	p = jw_p_lkey(w, p, "reason");
	p = p_str_or_null(w, p, c->reason);
	p = jw_p_lkey(w, p, "app");
	p = p_str_or_null(w, p, x->app);
	p = jw_p_lkey(w, p, "category");
	p = p_str_or_null(w, p, x->category);
	p = jw_p_lkey(w, p, "ja3");
	p = p_str_or_null(w, p, c->ja3);
	p = jw_p_lkey(w, p, "alpn");
	p = p_str_or_null(w, p, c->alpn);
	/* out_stream_filter()'s "tcp.stream eq N", without its copies: a literal
	 * and digits need no escaping, and 14 + 20 bytes always fit its buffer.
	 * 35 + 24 + 1 + 15 + 24 + 8 */
	p = jw_p_lkey(w, p, "wireshark_filter");
	memcpy(p, "\"tcp.stream eq ", 15);
	p = jw_p_uint(p + 15, c->stream);
	*p++ = '"';
	p = jw_p_lkuint(w, p, "first_frame", c->first_frame);
	/* the raw facts, comparable with tshark's fields */
	p = jw_p_lkey(w, p, "tls");
	p = jw_p_open(w, p, '{');
	/* 20 + 21 + 20 + 20 + 13 + 24 + 10 + 8 + 10 + 1 (+ 1 a first comma) */
	p = jw_p_room(w, p, 148);
	p = jw_p_lkbool0(w, p, "client_hello", c->saw_ch);
	p = jw_p_lkbool(w, p, "server_hello", c->saw_sh);
	p = jw_p_lkbool(w, p, "hello_retry", c->hrr);
	p = jw_p_lkbool(w, p, "certificate", c->saw_cert);
	p = jw_p_lkuint(w, p, "cert_count", c->cert_count);
	p = jw_p_lkey(w, p, "cipher");
	p = c->saw_sh ? jw_p_hex16(p, c->cipher) : jw_p_null(p);
	p = jw_p_lkey(w, p, "alerts");
	p = jw_p_open(w, p, '[');
	{
		const char *a = c->alerts;
		while (*a) {
			const char *q = strchr(a, ',');
			size_t n = q ? (size_t)(q - a) : strlen(a);
			p = jw_p_strn(w, jw_p_elem(w, p), a, n);
			a += n + (q ? 1 : 0);
		}
	}
	/* 1 + 15 + 24 + 15 + 24 + 4 * 19 + 25 + 64 + 2 */
	p = jw_p_room(w, p, 246);
	p = jw_p_close(w, p, ']');
	p = jw_p_lkuint(w, p, "appdata_c2s", c->appdata_c2s);
	p = jw_p_lkuint(w, p, "appdata_s2c", c->appdata_s2c);
	p = jw_p_lkbool(w, p, "client_rst", c->c_rst);
	p = jw_p_lkbool(w, p, "client_fin", c->c_fin);
	p = jw_p_lkbool(w, p, "server_rst", c->s_rst);
	p = jw_p_lkbool(w, p, "server_fin", c->s_fin);
	p = jw_p_lkey(w, p, "client_rst_after_sh_ms");
	p = c->rst_after_sh_ms >= 0 ? jw_p_double(p, c->rst_after_sh_ms, 3) : jw_p_null(p);
	p = jw_p_close(w, p, '}');
	p = jw_p_close(w, p, '}');
	jw_run_end(w, p);
}

static void write_inputs(struct jw *w, struct engine *e)
{
	const struct input_info *in;
	size_t n = engine_inputs(e, &in);
	jw_lkey(w, "inputs");
	jw_arr_open(w);
	for (size_t i = 0; i < n; i++) {
		jw_obj_open(w);
		jw_lkstr(w, "path", in[i].path);
		kstr_or_null(w, "format", in[i].format);
		jw_lkbool(w, "gzip", in[i].gzipped);
		jw_lkuint(w, "packets", in[i].packets);
		jw_lkuint(w, "bytes", in[i].bytes);
		jw_lkuint(w, "undecoded", in[i].undecoded);
		jw_lkstr(w, "status", in[i].status == 0 ? "complete" : in[i].status == 1 ? "partial" : "unreadable");
		kstr_or_null(w, "error", in[i].error);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

/* The per-name evidence, complete enough that `pinspect merge` rebuilds it
 * exactly (doc/json-schema.md, NAME). */
void json_write_name(struct jw *w, const struct evid_name *x)
{
	char buf[64];
	jw_obj_open(w);
	jw_lkstr(w, "name", x->name);
	jw_lkstr(w, "sni", x->sni[0] ? x->sni : NULL);
	jw_lkstr(w, "name_source", x->name_source == 2 ? "sni" : x->name_source == 1 ? "dns" : "none");
	jw_lkuint(w, "connections", x->total);
	jw_lkuint(w, "failures", x->failures);
	jw_lkuint(w, "successes", x->successes);
	jw_lkuint(w, "cert_alert_strong", x->cert_alert_strong);
	jw_lkey(w, "verdicts");
	jw_obj_open(w);
	for (int k = 1; k < V_COUNT; k++)
		if (x->verdicts[k])
			jw_kuint(w, verdict_name((enum verdict)k), x->verdicts[k]);
	jw_obj_close(w);
	jw_lkuint(w, "clients", x->nclients);
	jw_lkbool(w, "clients_overflow", x->clients_overflow);
	jw_lkey(w, "client_outcomes");
	jw_arr_open(w);
	for (int i = 0; i < x->nclients; i++) {
		decode_addr_str(x->client_addr[i][0], x->client_addr[i] + 1, buf, sizeof(buf));
		jw_obj_open(w);
		jw_lkstr(w, "client", buf);
		jw_lkuint(w, "failures", x->client_fail[i]);
		jw_lkuint(w, "successes", x->client_ok[i]);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_lkey(w, "tls_versions");
	jw_arr_open(w);
	for (int i = 0; i < x->nversions; i++) {
		snprintf(buf, sizeof(buf), "0x%04x", x->versions[i]);
		jw_str(w, buf);
	}
	jw_arr_close(w);
	jw_lkey(w, "ja3");
	jw_arr_open(w);
	for (int i = 0; i < x->nja3; i++)
		jw_str(w, x->ja3[i]);
	jw_arr_close(w);
	jw_lkstr(w, "app", x->app[0] ? x->app : NULL);
	jw_lkstr(w, "dns_chain", x->chain[0] ? x->chain : NULL);
	jw_lkey(w, "logs");
	jw_obj_open(w);
	jw_lkuint(w, "zsatunnel_tunnels", x->zsat_tunnels);
	jw_lkuint(w, "zsatunnel_failures", x->zsat_failures);
	jw_lkuint(w, "web_insights_failures", x->wi_failures);
	jw_lkuint(w, "web_insights_users", x->wi_users);
	jw_obj_close(w);
	jw_lkuint(w, "first_ts_ns", x->first_ts);
	jw_lkuint(w, "last_ts_ns", x->last_ts);
	jw_lkey(w, "examples");
	jw_arr_open(w);
	for (int i = 0; i < x->nexamples; i++) {
		const struct evid_example *ex = &x->examples[i];
		jw_obj_open(w);
		jw_lkuint(w, "input", ex->input);
		jw_lkuint(w, "tcp_stream", ex->stream);
		jw_lkstr(w, "verdict", verdict_name(ex->verdict));
		jw_lkstr(w, "alert", ex->has_alert ? tls_alert_name(ex->alert_desc) : NULL);
		jw_lkey(w, "alert_code");
		if (ex->has_alert)
			jw_uint(w, ex->alert_desc);
		else
			jw_null(w);
		jw_lkbool(w, "alert_from_server", ex->alert_from_server);
		jw_lkstr(w, "client", ex->client);
		jw_lkstr(w, "server", ex->server);
		jw_lkey(w, "frames");
		jw_arr_open(w);
		for (int j = 0; j < ex->nframes; j++)
			jw_uint(w, ex->frames[j]);
		jw_arr_close(w);
		jw_lkey(w, "reaction_ms");
		if (ex->reaction_ms >= 0)
			jw_double(w, ex->reaction_ms, 3);
		else
			jw_null(w);
		jw_lkuint(w, "ts_ns", ex->ts_ns);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_obj_close(w);
}

static void write_names(struct jw *w, struct engine *e)
{
	size_t n;
	const struct evid_name **v = evidence_sorted(engine_evidence(e), &n);
	jw_lkey(w, "names");
	jw_arr_open(w);
	for (size_t i = 0; i < n; i++)
		json_write_name(w, v[i]);
	jw_arr_close(w);
}

void json_write_dns_names(struct jw *w, const struct rank_dns *d, size_t n)
{
	jw_lkey(w, "dns_names");
	jw_arr_open(w);
	for (size_t i = 0; i < n; i++) {
		jw_obj_open(w);
		jw_lkstr(w, "name", d[i].name);
		jw_lkuint(w, "unanswered", d[i].unanswered);
		jw_lkuint(w, "answered", d[i].answered);
		jw_obj_close(w);
	}
	jw_arr_close(w);
}

static void write_limits(struct jw *w, const struct out_ctx *o, struct engine *e)
{
	const struct pi_caps *c = engine_caps(e);
	const struct dns_stats *ds = dns_get_stats(engine_dns(e));
	jw_lkey(w, "limits");
	jw_obj_open(w);
	jw_lkuint(w, "flows_evicted", c->flows_evicted);
	jw_lkuint(w, "reassembly_bytes_dropped", c->reasm_dropped);
	jw_lkuint(w, "reassembly_gaps", c->reasm_gaps);
	jw_lkuint(w, "reassembly_gaps_forced", c->reasm_gaps_forced);
	jw_lkuint(w, "reassembly_budget_hits", c->reasm_budget_hits);
	jw_lkuint(w, "tls_messages_too_big", c->tls_msg_too_big);
	jw_lkuint(w, "tls_budget_hits", c->tls_budget_hits);
	jw_lkuint(w, "fragments_dropped", c->frag_dropped);
	jw_lkuint(w, "dns_names_dropped", c->dns_names_dropped);
	jw_lkuint(w, "dns_open_queries_evicted", ds->pending_evicted);
	jw_lkuint(w, "dns_address_map_evicted", ds->addrmap_evicted);
	jw_lkuint(w, "dns_query_log_dropped", ds->qlog_dropped);
	jw_lkuint(w, "encrypted_dns_dropped", engine_edns(e)->dropped);
	jw_lkuint(w, "packets_truncated", c->packets_truncated);
	jw_lkuint(w, "packets_undecoded", c->packets_undecoded);
	jw_lkuint(w, "names_dropped", evidence_dropped(engine_evidence(e)));
	jw_lkuint(w, "dns_blocked_dropped", o->ranked.dns_blocked_dropped);
	jw_lkuint(w, "alloc_failures", out_alloc_failures(o, e));
	jw_obj_close(w);
}

void json_end(struct out_ctx *o, struct engine *e)
{
	struct jw *w = &o->jw;
	const struct engine_stats *st = engine_stats(e);
	jw_arr_close(w); /* connections */
	write_inputs(w, e);
	if (o->logs) {
		jw_lkey(w, "bundles");
		jw_arr_open(w);
		for (size_t i = 0; i < o->logs->nbundles; i++) {
			jw_obj_open(w);
			jw_lkstr(w, "path", o->logs->bundle_paths[i]);
			jw_lkey(w, "contents");
			bundle_report_json(o->logs->bundles[i], w);
			jw_obj_close(w);
		}
		jw_arr_close(w);
		jw_lkey(w, "zsatunnel");
		zsat_write_json(o->logs->zsat, w);
		jw_lkey(w, "web_insights");
		webins_write_json(o->logs->webins, w);
	}
	jw_lkey(w, "dns");
	dns_write_json(engine_dns(e), w);
	{
		const struct edns *ed = engine_edns(e);
		char addr[64];
		jw_lkey(w, "encrypted_dns");
		jw_arr_open(w);
		for (size_t i = 0; i < ed->n; i++) {
			const struct edns_entry *x = &ed->v[i];
			decode_addr_str(x->ipver, x->addr, addr, sizeof(addr));
			jw_obj_open(w);
			jw_lkstr(w, "kind", edns_kind_name(x->kind));
			jw_lkstr(w, "server", addr);
			jw_lkuint(w, "port", x->port);
			jw_lkstr(w, "sni", x->sni[0] ? x->sni : NULL);
			jw_kuint(w, x->kind == EDNS_DOQ ? "packets" : "connections", x->count);
			jw_lkuint(w, "first_frame", x->first_frame);
			jw_lkuint(w, "input", (uint64_t)x->input);
			jw_obj_close(w);
		}
		jw_arr_close(w);
	}
	jw_lkey(w, "candidates");
	jw_arr_open(w);
	for (size_t i = 0; i < o->ranked.n; i++)
		out_candidate_json(w, &o->ranked.v[i]);
	jw_arr_close(w);
	write_names(w, e);
	{
		struct rank_dns *d = NULL;
		size_t nd = rank_dns_from_tracker(engine_dns(e), &d);
		json_write_dns_names(w, d, nd);
		free(d);
	}
	jw_lkey(w, "summary");
	jw_obj_open(w);
	jw_lkuint(w, "packets", st->packets);
	jw_lkuint(w, "tls_connections", st->tls_conns);
	jw_lkey(w, "verdicts");
	jw_obj_open(w);
	for (int k = 1; k < V_COUNT; k++)
		jw_kuint(w, verdict_name((enum verdict)k), st->verdicts[k]);
	jw_obj_close(w);
	jw_obj_close(w);
	write_limits(w, o, e);
	jw_obj_close(w);
	jw_release(w);
	if (!o->pretty)
		fputc('\n', o->f);
}
