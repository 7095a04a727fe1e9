/* output_common.c: dispatch to the chosen format, shared formatting. */
#include "outputs/output.h"

#include <stdio.h>
#include <string.h>

#include "analysis/certdiag.h"
#include "common/util.h"
#include "dissectors/tls.h"
#include "outputs/bypass.h"

void out_begin(struct out_ctx *o)
{
	o->nconns = 0;
	if (o->format == OUT_JSON)
		json_begin(o);
	else if (o->format == OUT_CSV)
		csv_begin(o);
}

void out_conn(void *ctx, const struct conn_out *c)
{
	struct out_ctx *o = ctx;
	o->nconns++;
	if (o->format == OUT_JSON)
		json_conn(o, c);
	else if (o->format == OUT_CSV)
		csv_conn(o, c);
}

void out_end(struct out_ctx *o, struct engine *e)
{
	if (rank_run(engine_evidence(e), engine_dns(e), o->ropts, &o->ranked) < 0) {
		fprintf(stderr, "pinspect: out of memory while ranking\n");
		o->rank_failed++;
	}
	if (o->format == OUT_JSON)
		json_end(o, e);
	else if (o->format == OUT_REPORT)
		report_end(o, e);
	else if (o->format == OUT_LIST)
		out_candidates(o->f, o->list_format, &o->ranked, NULL, 0);
	fflush(o->f);
	rank_result_free(&o->ranked);
}

uint64_t out_alloc_failures(const struct out_ctx *o, struct engine *e)
{
	const struct certdiag *cd = o->ropts ? o->ropts->certdiag : NULL;
	return engine_caps(e)->alloc_failures + evidence_alloc_failures(engine_evidence(e)) + o->rank_failed +
	       (cd ? certdiag_stats(cd)->alloc_failures : 0);
}

const char *out_version_name(uint16_t v)
{
	return v ? tls_version_name(v) : NULL;
}

const char *out_alert_name(const struct conn *c)
{
	return c->has_alert ? tls_alert_name(c->alert_desc) : NULL;
}

void out_stream_filter(const struct conn *c, char *buf, size_t len)
{
	char b[48];
	size_t i = sizeof(b);
	unsigned long long v = c->stream;
	b[--i] = '\0';
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	memcpy(b + i - 14, "tcp.stream eq ", 14);
	pi_strlcpy(buf, b + i - 14, len);
}
