/* output.h: what pinspect writes: the human report, JSON (schema
 * pinspect/1, doc/json-schema.md) and CSV of connections.
 *
 * Connections are written as they finish (out_conn is the engine's sink);
 * everything that needs the whole run (names, DNS, inputs) is written by
 * out_end.
 */
#ifndef PI_OUTPUT_H
#define PI_OUTPUT_H

#include <stdio.h>

#include "outputs/jw.h"
#include "pipeline.h"
#include "ranking/rank.h"

struct zsat_log;
struct webins;
struct bundle_report;

#define MAX_BUNDLES 64

/* What the logs and bundles of a run gave (pinspect analyze). */
struct log_inputs {
	struct zsat_log *zsat;
	struct webins *webins;
	struct bundle_report *bundles[MAX_BUNDLES];
	char bundle_paths[MAX_BUNDLES][512];
	size_t nbundles;
};

/* OUT_LIST: only the candidates, in a bypass-list format (bypass.h). */
enum out_format { OUT_REPORT = 0, OUT_JSON, OUT_CSV, OUT_LIST };

struct out_ctx {
	FILE *f;
	enum out_format format;
	int color;          /* ANSI colour (a TTY, and NO_COLOR unset) */
	int pretty;         /* indented JSON */
	struct jw jw;
	unsigned long long nconns;
	const char *version;
	const char *list_format;          /* OUT_LIST: zscaler, panos, ... */
	const struct rank_opts *ropts;    /* knowledge base, baseline */
	struct rank_result ranked;        /* filled by out_end */
	const struct log_inputs *logs;    /* may be NULL */
	uint64_t rank_failed;             /* out_end: ranking ran out of memory (no candidates) */
};

void out_begin(struct out_ctx *o);
/* The engine's sink: one finished connection. */
void out_conn(void *ctx, const struct conn_out *c);
void out_end(struct out_ctx *o, struct engine *e);
/* Allocations that failed in the whole run (engine, evidence, ranking):
 * data was lost, the result is partial (JSON limits "alloc_failures",
 * exit status 4). */
uint64_t out_alloc_failures(const struct out_ctx *o, struct engine *e);

/* Per-format parts (report.c, json.c, csv.c). */
void report_end(struct out_ctx *o, struct engine *e);
void report_candidates(struct out_ctx *o, const struct rank_result *r);
void json_begin(struct out_ctx *o);
void json_conn(struct out_ctx *o, const struct conn_out *c);
void json_end(struct out_ctx *o, struct engine *e);
void csv_begin(struct out_ctx *o);
void csv_conn(struct out_ctx *o, const struct conn_out *c);

/* JSON pieces shared with pinspect merge. */
void json_write_name(struct jw *w, const struct evid_name *x);
void json_write_dns_names(struct jw *w, const struct rank_dns *d, size_t n);

/* Shared formatting. */
const char *out_version_name(uint16_t v); /* "TLS 1.2" or NULL when 0 */
/* The decisive alert's IANA name, or NULL. */
const char *out_alert_name(const struct conn *c);
/* Wireshark display filter for one connection: "tcp.stream eq N". */
void out_stream_filter(const struct conn *c, char *buf, size_t len);

#endif
