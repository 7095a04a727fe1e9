/* annotate.c: a copy of the capture with comments on the decisive frames. */
#include "outputs/annotate.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capture/capture.h"
#include "capture/pcapng_writer.h"
#include "common/util.h"
#include "dissectors/tls.h"

struct note {
	uint64_t frame;
	char *text;
};

struct annot {
	struct note *v;
	size_t n, cap;
	size_t dropped;
};

struct annot *annot_new(void)
{
	return calloc(1, sizeof(struct annot));
}

void annot_free(struct annot *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		free(a->v[i].text);
	free(a->v);
	free(a);
}

size_t annot_count(const struct annot *a)
{
	return a->n;
}

static void add(struct annot *a, uint64_t frame, const char *text)
{
	if (a->n >= ANNOT_MAX) {
		a->dropped++;
		return;
	}
	if (a->n == a->cap) {
		size_t nc = a->cap ? a->cap * 2 : 256;
		struct note *nv = realloc(a->v, nc * sizeof(*nv));
		if (!nv)
			return;
		a->v = nv;
		a->cap = nc;
	}
	if (!(a->v[a->n].text = strdup(text)))
		return;
	a->v[a->n++].frame = frame;
}

void annot_conn(struct annot *a, const struct conn_out *o)
{
	const struct conn *c = o->c;
	char text[600];
	const char *name = o->name && *o->name ? o->name : o->server;
	if (c->verdict == V_HEALTHY || c->verdict == V_INCOMPLETE || !c->nframes)
		return;
	for (int i = 0; i < c->nframes; i++) {
		int last = i == c->nframes - 1;
		if (last)
			snprintf(text, sizeof(text), "pinspect %s: %s%s%s: %s (tcp.stream %llu)", verdict_name(c->verdict),
			         c->reason ? c->reason : verdict_name(c->verdict), c->has_alert ? ", alert " : "",
			         c->has_alert ? tls_alert_name(c->alert_desc) : "", name, (unsigned long long)c->stream);
		else if (c->frames[i] == c->sh_frame)
			snprintf(text, sizeof(text), "pinspect: ServerHello to %s; the client's reaction: %s (frame %llu)", name,
			         verdict_name(c->verdict), (unsigned long long)c->frames[c->nframes - 1]);
		else
			snprintf(text, sizeof(text), "pinspect: end of the server flight to %s; the client's reaction: %s",
			         name, verdict_name(c->verdict));
		add(a, c->frames[i], text);
	}
}

static int by_frame(const void *x, const void *y)
{
	const struct note *a = x, *b = y;
	return a->frame < b->frame ? -1 : a->frame > b->frame;
}

int annot_write(struct annot *a, const char *input, const char *out, char *err, size_t errlen)
{
	struct cap_reader *r = cap_open(input, err, errlen);
	struct pcapng_writer *w = NULL;
	struct pcapng_wopts wo = { 0 };
	struct packet pkt;
	size_t k = 0;
	int rc = -1, crc;
	char comment[4096];

	if (!r)
		return -1;
	if (a->n)
		qsort(a->v, a->n, sizeof(a->v[0]), by_frame);
	wo.app = "pinspect " PACKAGE_VERSION " --annotate";
	wo.nanoseconds = 1;
	w = pcapng_open(out, &wo, err, errlen);
	if (!w)
		goto done;
	while ((crc = cap_next(r, &pkt)) == CAP_PACKET) {
		const char *cm = NULL;
		while (k < a->n && a->v[k].frame < pkt.frame)
			k++;
		if (k < a->n && a->v[k].frame == pkt.frame) {
			/* several connections may mark the same frame: join them */
			size_t o = 0;
			comment[0] = '\0';
			for (size_t j = k; j < a->n && a->v[j].frame == pkt.frame; j++) {
				int n = snprintf(comment + o, sizeof(comment) - o, "%s%s", o ? "; " : "", a->v[j].text);
				if (n < 0 || (size_t)n >= sizeof(comment) - o)
					break;
				o += (size_t)n;
			}
			cm = comment;
		}
		if (pcapng_write(w, &pkt, cm) < 0) {
			snprintf(err, errlen, "%s", pcapng_error(w));
			goto done;
		}
	}
	if (crc == CAP_ERROR)
		pi_warn("%s (the annotated copy stops there too)", cap_error(r));
	rc = 0;
done:
	if (w && pcapng_close(w, rc == 0 ? err : NULL, errlen) < 0)
		rc = -1;
	cap_close(r);
	return rc;
}
