/* csv.c: connections as CSV (RFC 4180: quoted where needed, "" for "). */
#include <stdio.h>
#include <string.h>

#include "outputs/output.h"

static void field(FILE *f, const char *s, int last)
{
	int quote = 0;
	for (const char *p = s; *p; p++)
		if (*p == ',' || *p == '"' || *p == '\n' || *p == '\r' || (unsigned char)*p < 0x20)
			quote = 1;
	/* a leading = + - @ would be a formula in a spreadsheet */
	if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
		quote = 1;
	if (quote) {
		fputc('"', f);
		if (*s == '=' || *s == '+' || *s == '-' || *s == '@')
			fputc('\'', f);
		for (const char *p = s; *p; p++) {
			if (*p == '"')
				fputc('"', f);
			fputc((unsigned char)*p < 0x20 && *p != '\n' ? ' ' : *p, f);
		}
		fputc('"', f);
	} else {
		fputs(s, f);
	}
	fputc(last ? '\n' : ',', f);
}

void csv_begin(struct out_ctx *o)
{
	fputs("input,tcp_stream,client,server,sni,name,name_source,tls_version,verdict,alert,frames,"
	      "reaction_ms,app,ja3\n", o->f);
}

void csv_conn(struct out_ctx *o, const struct conn_out *x)
{
	const struct conn *c = x->c;
	char buf[160];
	const char *v;
	snprintf(buf, sizeof(buf), "%u", c->input);
	field(o->f, buf, 0);
	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)c->stream);
	field(o->f, buf, 0);
	field(o->f, x->client, 0);
	field(o->f, x->server, 0);
	field(o->f, c->sni, 0);
	field(o->f, x->name, 0);
	field(o->f, x->name_source, 0);
	v = out_version_name(c->version);
	field(o->f, v ? v : "", 0);
	field(o->f, verdict_name(c->verdict), 0);
	v = out_alert_name(c);
	field(o->f, v ? v : "", 0);
	buf[0] = '\0';
	for (int i = 0; i < c->nframes; i++) {
		size_t l = strlen(buf);
		snprintf(buf + l, sizeof(buf) - l, "%s%llu", i ? " " : "", (unsigned long long)c->frames[i]);
	}
	field(o->f, buf, 0);
	if (c->reaction_ms >= 0)
		snprintf(buf, sizeof(buf), "%.3f", c->reaction_ms);
	else
		buf[0] = '\0';
	field(o->f, buf, 0);
	field(o->f, x->app, 0);
	field(o->f, c->ja3, 1);
}
