/* model.c: snapshots from the engine thread to the view (see model.h). */
#include "ui/model.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "analysis/dnsmap.h"
#include "common/util.h"
#include "dissectors/dns.h"
#include "dissectors/tls.h"
#include "outputs/bypass.h"

struct ui_model {
	pthread_mutex_t mu;
	struct ui_snap bufs[3];
	int prod, shared, cons;  /* which buffer each side holds */
	int fresh;               /* shared holds a snapshot the UI has not taken */
	uint64_t gen;

	/* engine side: the ring of recent connections */
	struct ui_conn *ring;
	size_t ring_head, ring_n;
	uint64_t seq;

	/* requests and replies (under mu) */
	struct ui_request *req;
	int req_pending;
	char reply[512];
	int reply_ok, reply_ready;

	char filter[UI_FILTER_LEN]; /* under mu */
	atomic_int quit, paused, want;
};

void ui_safe(char *dst, size_t dstlen, const char *src)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	if (!dstlen)
		return;
	for (const unsigned char *p = (const unsigned char *)(src ? src : ""); *p; p++) {
		if (*p >= 0x20 && *p < 0x7f) {
			if (o + 1 >= dstlen)
				break;
			dst[o++] = (char)*p;
		} else {
			if (o + 4 >= dstlen)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hex[*p >> 4];
			dst[o++] = hex[*p & 15];
		}
	}
	dst[o] = '\0';
}

static int snap_alloc(struct ui_snap *s)
{
	s->conns = calloc(UI_RECENT_CONNS, sizeof(*s->conns));
	s->cands = calloc(UI_MAX_CANDS, sizeof(*s->cands));
	s->dns = calloc(UI_MAX_DNS, sizeof(*s->dns));
	return (s->conns && s->cands && s->dns) ? 0 : -1;
}

static void snap_free(struct ui_snap *s)
{
	free(s->conns);
	free(s->cands);
	free(s->dns);
}

struct ui_model *ui_model_new(void)
{
	struct ui_model *m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	pthread_mutex_init(&m->mu, NULL);
	m->prod = 0;
	m->shared = 1;
	m->cons = 2;
	m->ring = calloc(UI_RECENT_CONNS, sizeof(*m->ring));
	m->req = calloc(1, sizeof(*m->req));
	if (!m->ring || !m->req || snap_alloc(&m->bufs[0]) || snap_alloc(&m->bufs[1]) || snap_alloc(&m->bufs[2])) {
		ui_model_free(m);
		return NULL;
	}
	return m;
}

void ui_model_free(struct ui_model *m)
{
	if (!m)
		return;
	for (int i = 0; i < 3; i++)
		snap_free(&m->bufs[i]);
	free(m->ring);
	free(m->req);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

/* ---- engine side ------------------------------------------------------- */

void ui_model_add_conn(struct ui_model *m, const struct conn_out *o)
{
	const struct conn *c = o->c;
	size_t at = (m->ring_head + m->ring_n) % UI_RECENT_CONNS;
	struct ui_conn *u;
	if (m->ring_n == UI_RECENT_CONNS) {
		at = m->ring_head;
		m->ring_head = (m->ring_head + 1) % UI_RECENT_CONNS;
	} else {
		m->ring_n++;
	}
	u = &m->ring[at];
	memset(u, 0, sizeof(*u));
	u->seq = ++m->seq;
	u->ts_ns = c->first_ts;
	u->verdict = c->verdict;
	if (c->has_alert)
		ui_safe(u->alert, sizeof(u->alert), tls_alert_name(c->alert_desc));
	u->alert_from_server = c->alert_from_server;
	ui_safe(u->name, sizeof(u->name), o->name);
	ui_safe(u->name_source, sizeof(u->name_source), o->name_source);
	if (u->name[0]) {
		memcpy(u->key, u->name, sizeof(u->key));
	} else {
		/* the server address without its port, as evidence keys it */
		char *colon;
		ui_safe(u->key, sizeof(u->key), o->server);
		colon = strrchr(u->key, ':');
		if (u->key[0] == '[' && colon && colon > u->key && colon[-1] == ']') {
			colon[-1] = '\0';
			memmove(u->key, u->key + 1, strlen(u->key + 1) + 1);
		} else if (colon && !strchr(u->key, ']')) {
			*colon = '\0';
		}
	}
	ui_safe(u->sni, sizeof(u->sni), c->sni);
	ui_safe(u->client, sizeof(u->client), o->client);
	ui_safe(u->server, sizeof(u->server), o->server);
	ui_safe(u->app, sizeof(u->app), o->app);
	ui_safe(u->ja3, sizeof(u->ja3), c->ja3);
	{
		size_t n = 0;
		u->chain[0] = '\0';
		for (int i = 0; i < o->nchain && n + 8 < sizeof(u->chain); i++) {
			char part[256];
			ui_safe(part, sizeof(part), o->chain[i]);
			n += (size_t)snprintf(u->chain + n, sizeof(u->chain) - n, "%s%s", i ? " > " : "", part);
		}
	}
	u->stream = c->stream;
	u->input = c->input;
	u->nframes = c->nframes > CONN_MAX_FRAMES ? CONN_MAX_FRAMES : c->nframes;
	memcpy(u->frames, c->frames, sizeof(u->frames));
	u->version = c->version;
	u->cert_count = c->cert_count;
	u->reaction_ms = c->reaction_ms;
	ui_safe(u->reason, sizeof(u->reason), c->reason);
}

/* Case-insensitive substring; an empty needle matches. */
static int contains(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	if (!n)
		return 1;
	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

static int cand_matches(const struct candidate *c, const char *filter)
{
	if (!*filter)
		return 1;
	if (contains(c->rule, filter) || contains(category_name(c->cat), filter) ||
	    (c->known_app && contains(c->known_app, filter)))
		return 1;
	for (unsigned i = 0; i < c->ncovered && i < RANK_MAX_COVERED; i++)
		if (contains(c->covered[i], filter))
			return 1;
	return c->ev && contains(c->ev->app, filter);
}

static void copy_cand(struct ui_cand *u, const struct candidate *c)
{
	u->c = *c;
	u->c.ev = NULL;
	u->c.known_app = NULL;
	/* escaped copies of the text fields the view prints */
	ui_safe(u->c.rule, sizeof(u->c.rule), c->rule);
	ui_safe(u->c.fix, sizeof(u->c.fix), c->fix);
	ui_safe(u->c.why, sizeof(u->c.why), c->why);
	ui_safe(u->c.wireshark_filter, sizeof(u->c.wireshark_filter), c->wireshark_filter);
	for (unsigned i = 0; i < c->ncovered && i < RANK_MAX_COVERED; i++)
		ui_safe(u->c.covered[i], sizeof(u->c.covered[i]), c->covered[i]);
	ui_safe(u->known_app, sizeof(u->known_app), c->known_app ? c->known_app : "");
	u->has_ev = c->ev != NULL;
	if (c->ev) {
		u->ev = *c->ev;
		u->ev.hnext = NULL;
		ui_safe(u->ev.name, sizeof(u->ev.name), c->ev->name);
		ui_safe(u->ev.sni, sizeof(u->ev.sni), c->ev->sni);
		ui_safe(u->ev.app, sizeof(u->ev.app), c->ev->app);
		ui_safe(u->ev.chain, sizeof(u->ev.chain), c->ev->chain);
		for (unsigned i = 0; i < u->ev.nja3 && i < EVID_MAX_JA3; i++)
			ui_safe(u->ev.ja3[i], sizeof(u->ev.ja3[i]), c->ev->ja3[i]);
		for (unsigned i = 0; i < u->ev.nexamples && i < EVID_MAX_EXAMPLES; i++) {
			ui_safe(u->ev.examples[i].client, sizeof(u->ev.examples[i].client), c->ev->examples[i].client);
			ui_safe(u->ev.examples[i].server, sizeof(u->ev.examples[i].server), c->ev->examples[i].server);
		}
	} else {
		memset(&u->ev, 0, sizeof(u->ev));
	}
}

static uint32_t dns_noanswer(const struct dns_rec *r)
{
	uint32_t open = r->transactions > r->answered ? r->transactions - r->answered : 0;
	return r->unanswered > open ? r->unanswered : open;
}

static int cmp_dns(const void *a, const void *b)
{
	const struct ui_dns *x = a, *y = b;
	if (x->noanswer != y->noanswer)
		return x->noanswer > y->noanswer ? -1 : 1;
	if ((x->rcode > 0) != (y->rcode > 0))
		return x->rcode > 0 ? -1 : 1;
	if (x->queries != y->queries)
		return x->queries > y->queries ? -1 : 1;
	return strcmp(x->name, y->name);
}

static void fill_dns(struct ui_snap *s, struct engine *e)
{
	struct dns_tracker *t = engine_dns(e);
	size_t n = t ? dns_count(t) : 0;
	s->ndns = s->dns_total = 0;
	for (size_t i = 0; i < n; i++) {
		const struct dns_rec *r = dns_get(t, i);
		struct ui_dns d;
		char buf[16];
		if (!r)
			break;
		memset(&d, 0, sizeof(d));
		d.noanswer = dns_noanswer(r);
		d.rcode = r->last_rcode;
		if (d.noanswer == 0 && d.rcode <= 0)
			continue;
		if (*s->filter && !contains(r->name, s->filter))
			continue;
		s->dns_total++;
		ui_safe(d.name, sizeof(d.name), r->name);
		ui_safe(d.qtype, sizeof(d.qtype), dns_type_name(r->qtype, buf, sizeof(buf)));
		if (d.rcode >= 0)
			ui_safe(d.rcode_name, sizeof(d.rcode_name), dns_rcode_name((unsigned)d.rcode, buf, sizeof(buf)));
		d.queries = r->queries;
		d.answered = r->answered;
		if (r->nchain)
			ui_safe(d.chain_end, sizeof(d.chain_end), r->chain[r->nchain - 1]);
		d.first_frame = r->first_frame;
		if (s->ndns < UI_MAX_DNS) {
			s->dns[s->ndns++] = d;
		} else {
			/* keep the worst UI_MAX_DNS: replace the mildest if this one is worse */
			size_t worst = 0;
			for (size_t j = 1; j < s->ndns; j++)
				if (cmp_dns(&s->dns[j], &s->dns[worst]) > 0)
					worst = j;
			if (cmp_dns(&d, &s->dns[worst]) < 0)
				s->dns[worst] = d;
		}
	}
	qsort(s->dns, s->ndns, sizeof(*s->dns), cmp_dns);
}

void ui_model_publish(struct ui_model *m, struct engine *e, const struct rank_opts *ro,
                      const struct ui_status *st)
{
	struct ui_snap *s = &m->bufs[m->prod];
	struct rank_opts opts = { 0 };
	struct rank_result r = { 0 };

	atomic_store(&m->want, 0);
	pthread_mutex_lock(&m->mu);
	memcpy(s->filter, m->filter, sizeof(s->filter));
	pthread_mutex_unlock(&m->mu);

	s->st = *st;
	s->nconns = 0;
	for (size_t i = 0; i < m->ring_n; i++)
		s->conns[s->nconns++] = m->ring[(m->ring_head + i) % UI_RECENT_CONNS];
	s->conns_total = m->seq;

	if (ro)
		opts = *ro;
	opts.include_healthy = 1; /* the view lists every name; healthy ones last */
	s->ncands = s->cands_total = s->names_total = 0;
	if (rank_run(engine_evidence(e), engine_dns(e), &opts, &r) == 0) {
		s->names_total = r.n;
		for (size_t i = 0; i < r.n; i++) {
			if (!cand_matches(&r.v[i], s->filter))
				continue;
			s->cands_total++;
			if (s->ncands < UI_MAX_CANDS)
				copy_cand(&s->cands[s->ncands++], &r.v[i]);
		}
		rank_result_free(&r);
	}
	fill_dns(s, e);

	pthread_mutex_lock(&m->mu);
	s->gen = ++m->gen;
	int t = m->shared;
	m->shared = m->prod;
	m->prod = t;
	m->fresh = 1;
	pthread_mutex_unlock(&m->mu);
}

int ui_model_take_request(struct ui_model *m, struct ui_request *out)
{
	int got = 0;
	pthread_mutex_lock(&m->mu);
	if (m->req_pending && m->req->kind != UI_REQ_NONE) {
		memcpy(out, m->req, sizeof(*out));
		m->req->kind = UI_REQ_NONE;
		got = 1;
	}
	pthread_mutex_unlock(&m->mu);
	return got;
}

void ui_model_reply(struct ui_model *m, int ok, const char *fmt, ...)
{
	va_list ap;
	char buf[512];
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pthread_mutex_lock(&m->mu);
	ui_safe(m->reply, sizeof(m->reply), buf);
	m->reply_ok = ok;
	m->reply_ready = 1;
	m->req_pending = 0;
	pthread_mutex_unlock(&m->mu);
}

/* Is candidate c what a mark names (its rule, or a name a wildcard covers)? */
static int cand_marked(const struct candidate *c, const struct ui_request *rq)
{
	for (size_t i = 0; i < rq->nmarks && i < UI_MAX_MARKS; i++) {
		if (strcmp(c->rule, rq->marks[i]) == 0)
			return 1;
		for (unsigned k = 0; k < c->ncovered && k < RANK_MAX_COVERED; k++)
			if (strcmp(c->covered[k], rq->marks[i]) == 0)
				return 1;
	}
	return 0;
}

int ui_export_candidates(struct engine *e, const struct rank_opts *ro, const struct ui_request *rq,
                         char *msg, size_t msglen)
{
	struct rank_opts opts = { 0 };
	struct rank_result r = { 0 };
	size_t *only = NULL, nonly = 0;
	char *text = NULL;
	size_t textlen = 0;
	FILE *mf = NULL, *f = NULL;
	int rc = -1;

	if (ro)
		opts = *ro;
	opts.include_healthy = rq->nmarks > 0; /* a marked name may be healthy so far */
	if (rank_run(engine_evidence(e), engine_dns(e), &opts, &r) != 0) {
		snprintf(msg, msglen, "export: out of memory");
		return -1;
	}
	only = calloc(r.n ? r.n : 1, sizeof(*only));
	if (!only) {
		snprintf(msg, msglen, "export: out of memory");
		goto out;
	}
	for (size_t i = 0; i < r.n; i++)
		if (rq->nmarks ? cand_marked(&r.v[i], rq) : r.v[i].cat == CAT_BYPASS)
			only[nonly++] = i;
	if (!nonly) {
		snprintf(msg, msglen, "%s", rq->nmarks ? "export: the marked names are not in the ranking"
		                                       : "export: no bypass candidates yet (mark names with m)");
		goto out;
	}
	mf = open_memstream(&text, &textlen);
	if (!mf) {
		snprintf(msg, msglen, "export: out of memory");
		goto out;
	}
	if (out_candidates(mf, rq->format, &r, only, nonly) != 0) {
		snprintf(msg, msglen, "export: unknown format '%s'", rq->format);
		goto out;
	}
	if (fclose(mf) != 0) {
		mf = NULL;
		snprintf(msg, msglen, "export: out of memory");
		goto out;
	}
	mf = NULL;
	f = fopen(rq->path, "w");
	if (!f) {
		snprintf(msg, msglen, "export: %s: cannot create: %s", rq->path, strerror(errno));
		goto out;
	}
	errno = 0;
	if ((textlen && fwrite(text, 1, textlen, f) != textlen) || fflush(f) != 0) {
		snprintf(msg, msglen, "export: %s: write error: %s", rq->path, strerror(errno ? errno : EIO));
		fclose(f);
		goto out;
	}
	if (fclose(f) != 0) {
		snprintf(msg, msglen, "export: %s: write error: %s", rq->path, strerror(errno));
		goto out;
	}
	snprintf(msg, msglen, "exported %zu %s candidate%s as %s to %s", nonly, rq->nmarks ? "marked" : "bypass",
	         nonly == 1 ? "" : "s", rq->format, rq->path);
	rc = 0;
out:
	if (mf)
		fclose(mf);
	free(text);
	free(only);
	rank_result_free(&r);
	return rc;
}

/* ---- UI side ----------------------------------------------------------- */

const struct ui_snap *ui_model_latest(struct ui_model *m, int *fresh)
{
	pthread_mutex_lock(&m->mu);
	*fresh = m->fresh;
	if (m->fresh) {
		int t = m->cons;
		m->cons = m->shared;
		m->shared = t;
		m->fresh = 0;
	}
	pthread_mutex_unlock(&m->mu);
	return &m->bufs[m->cons];
}

int ui_model_request(struct ui_model *m, const struct ui_request *rq)
{
	int rc = -1;
	pthread_mutex_lock(&m->mu);
	if (!m->req_pending) {
		memcpy(m->req, rq, sizeof(*rq));
		m->req_pending = 1;
		m->reply_ready = 0;
		rc = 0;
	}
	pthread_mutex_unlock(&m->mu);
	return rc;
}

int ui_model_take_reply(struct ui_model *m, char *buf, size_t len, int *ok)
{
	int got = 0;
	pthread_mutex_lock(&m->mu);
	if (m->reply_ready) {
		pi_strlcpy(buf, m->reply, len);
		*ok = m->reply_ok;
		m->reply_ready = 0;
		got = 1;
	}
	pthread_mutex_unlock(&m->mu);
	return got;
}

void ui_model_set_filter(struct ui_model *m, const char *filter)
{
	pthread_mutex_lock(&m->mu);
	pi_strlcpy(m->filter, filter, sizeof(m->filter));
	pthread_mutex_unlock(&m->mu);
	atomic_store(&m->want, 1);
}

void ui_model_set_quit(struct ui_model *m)
{
	atomic_store(&m->quit, 1);
}

int ui_model_quit(const struct ui_model *m)
{
	return atomic_load(&((struct ui_model *)m)->quit);
}

void ui_model_set_paused(struct ui_model *m, int paused)
{
	atomic_store(&m->paused, paused ? 1 : 0);
}

int ui_model_paused(const struct ui_model *m)
{
	return atomic_load(&((struct ui_model *)m)->paused);
}

int ui_model_want_publish(struct ui_model *m)
{
	return atomic_load(&m->want);
}
