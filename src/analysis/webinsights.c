/* webinsights.c: ZIA Web Insights CSV reader (libcsv): header mapping, failed-handshake rows per host.
 *
 * Per input: the first bytes tell the encoding (common/textdec: UTF-16 is
 * turned into UTF-8; a code unit cut by the input's end is dropped);
 * decoded text is held back (at most HOLD_MAX bytes) until the line
 * holding "policy action" is complete, which tells the delimiter; then all
 * of it goes through libcsv, whose field buffer grows through a realloc
 * function that refuses anything over WI_MAX_FIELD. Fields are looked at as
 * they come (cb_field) and only the mapped columns are kept, each in a
 * fixed buffer; a row ends in cb_row.
 */
#include "analysis/webinsights.h"

#include <csv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/zsatunnel.h"
#include "common/textdec.h"
#include "common/util.h"
#include "outputs/jw.h"

#define HOST_BUCKETS 131072u      /* power of two, > WI_MAX_HOSTS */
#define HOLD_MAX     (64u * 1024u) /* text held back to find the header line */

enum { C_ACTION, C_URL, C_USER, C_TIME, C_LOC, C_N };

static const size_t col_cap[C_N] = { 256, 4096, 128, 64, 64 };

struct webins {
	struct webins_stats st;

	/* per input */
	struct textdec td;       /* encoding */
	int csv_on;              /* parser initialised for this input */
	int failed;              /* a field over the cap: rest of the input ignored */
	int delim_known;
	char *hold;
	size_t holdlen;
	size_t hit_off;          /* 1 + offset of "policy action" in hold; 0 not yet */
	struct csv_parser p;

	/* header state */
	int have_header;
	uint32_t rows_seen;      /* rows before the header */
	int col[C_N];            /* mapped column indices, -1 none */
	int rank[C_N];           /* how good the match is (lower better) */
	int tcol[C_N], trank[C_N]; /* tentative mapping of the current row */
	int action_exact;        /* tentative: "policy action" itself */

	/* current row */
	uint32_t fieldno;
	char val[C_N][4096 + 1];
	uint8_t have[C_N];

	/* results */
	struct webins_host *hosts;
	uint32_t *hnext;
	uint32_t *hbuckets;      /* index + 1 */
	size_t nhosts, caphosts;
	struct webins_action actions[WI_MAX_ACTIONS];
	size_t nactions;
};

/* ---- small helpers --------------------------------------------------- */

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

static int is_alpha(int c)
{
	c = lc(c);
	return c >= 'a' && c <= 'z';
}

static const char *ci_find(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	for (; *hay; hay++) {
		size_t i;
		for (i = 0; i < n; i++)
			if (!hay[i] || lc((unsigned char)hay[i]) != lc((unsigned char)needle[i]))
				break;
		if (i == n)
			return hay;
	}
	return NULL;
}

/* Trim blanks (and a stray BOM) off both ends, in place. */
static char *trim(char *s)
{
	size_t n;
	if ((unsigned char)s[0] == 0xEF && (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
		s += 3;
	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	n = strlen(s);
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n'))
		s[--n] = '\0';
	return s;
}

/* A header name reduced to lower-case letters, digits and '/'. */
static void norm_name(const char *s, size_t n, char *out, size_t outlen)
{
	size_t o = 0;
	for (size_t i = 0; i < n && o + 1 < outlen; i++) {
		int c = lc((unsigned char)s[i]);
		if (is_alpha(c) || is_digit(c) || c == '/')
			out[o++] = (char)c;
	}
	out[o] = '\0';
}

static const char *const col_names[C_N][7] = {
	[C_ACTION] = { "policyaction", "action", NULL },
	[C_URL] = { "url", "requesturl", "host", "hostname", "servername", NULL },
	[C_USER] = { "user", "username", "login", NULL },
	[C_TIME] = { "loggedtime", "eventtime", "time", "date/time", "datetime", "timestamp", NULL },
	[C_LOC] = { "location", "locationname", NULL },
};

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* ---- times and hosts --------------------------------------------------- */

/* Returns 1 with *ns and *has_zone for the forms in webinsights.h, else 0. */
int webins_parse_time(const char *s, uint64_t *ns, int *has_zone)
{
	static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
	int32_t off = 0;
	int ho = 0, mon = 0, pm = -1, zone = 0;
	long day = -1, year = -1, h = -1, mi = -1, se = 0, nums[3];
	unsigned nnum = 0, frac_ns = 0;
	const char *p;
	int64_t t;

	while (*s == ' ' || *s == '\t')
		s++;
	if (zsat_parse_time(s, strlen(s), ZSAT_OFFSET_HONOUR, ns, &off, &ho)) {
		*has_zone = ho;
		return 1;
	}
	for (p = s; *p;) {
		unsigned char c = (unsigned char)*p;
		if (is_alpha(c)) {
			char w[16];
			size_t n = 0;
			while (is_alpha((unsigned char)*p)) {
				if (n + 1 < sizeof w)
					w[n++] = (char)lc((unsigned char)*p);
				p++;
			}
			w[n] = '\0';
			if (!strcmp(w, "am") || !strcmp(w, "pm")) {
				pm = w[0] == 'p';
			} else if (!strcmp(w, "utc") || !strcmp(w, "gmt") || !strcmp(w, "z")) {
				zone = 1;
			} else if (n >= 3 && !mon) {
				for (int k = 0; k < 12; k++)
					if (!memcmp(w, months + 3 * k, 3))
						mon = k + 1;
			}
		} else if (is_digit(c)) {
			long v = 0;
			int nd = 0;
			while (is_digit((unsigned char)*p)) {
				if (nd < 9)
					v = v * 10 + (*p - '0');
				nd++;
				p++;
			}
			if (*p == ':' && h < 0) {
				h = v;
				p++;
				mi = 0;
				for (nd = 0; is_digit((unsigned char)*p) && nd < 2; nd++, p++)
					mi = mi * 10 + (*p - '0');
				if (*p == ':' && is_digit((unsigned char)p[1])) {
					p++;
					se = 0;
					for (nd = 0; is_digit((unsigned char)*p) && nd < 2; nd++, p++)
						se = se * 10 + (*p - '0');
				}
				if ((*p == '.' || *p == ',') && is_digit((unsigned char)p[1])) {
					unsigned k = 0;
					p++;
					while (is_digit((unsigned char)*p)) {
						if (k < 9) {
							frac_ns = frac_ns * 10 + (unsigned)(*p - '0');
							k++;
						}
						p++;
					}
					for (; k < 9; k++)
						frac_ns *= 10;
				}
			} else if ((*p == '/' || *p == '-') && nnum == 0 && !mon && is_digit((unsigned char)p[1])) {
				nums[nnum++] = v;
				while ((*p == '/' || *p == '-') && is_digit((unsigned char)p[1]) && nnum < 3) {
					long x = 0;
					p++;
					for (nd = 0; is_digit((unsigned char)*p); nd++, p++)
						if (nd < 9)
							x = x * 10 + (*p - '0');
					nums[nnum++] = x;
				}
			} else if (nd == 4 && year < 0) {
				year = v;
			} else if (nd <= 2 && day < 0) {
				day = v;
			}
		} else if ((c == '+' || c == '-') && h >= 0 && is_digit((unsigned char)p[1]) &&
			   is_digit((unsigned char)p[2])) {
			int neg = c == '-';
			long oh = (p[1] - '0') * 10 + (p[2] - '0'), om = 0;
			p += 3;
			if (*p == ':')
				p++;
			if (is_digit((unsigned char)p[0]) && is_digit((unsigned char)p[1])) {
				om = (p[0] - '0') * 10 + (p[1] - '0');
				p += 2;
			}
			if (oh <= 18 && om <= 59) {
				off = (int32_t)(oh * 60 + om) * (neg ? -1 : 1);
				zone = 1;
			}
		} else {
			p++;
		}
	}
	if (nnum == 3) {
		if (nums[0] >= 1000) {
			year = nums[0];
			mon = (int)nums[1];
			day = nums[2];
		} else {
			mon = (int)nums[0];
			day = nums[1];
			year = nums[2];
		}
	}
	if (year < 1970 || year > 9999 || mon < 1 || mon > 12 || day < 1 || day > 31)
		return 0;
	if (h < 0)
		h = mi = se = 0;
	if (pm == 1 && h < 12)
		h += 12;
	else if (pm == 0 && h == 12)
		h = 0;
	if (h > 23 || mi > 59 || se > 60)
		return 0;
	t = days_from_civil(year, (unsigned)mon, (unsigned)day) * 86400 + h * 3600 + mi * 60 + se;
	t -= (int64_t)off * 60;
	if (t < 0)
		return 0;
	*ns = (uint64_t)t * 1000000000ull + frac_ns;
	*has_zone = zone;
	return 1;
}

/* Returns 1 with the URL's host in out, else 0. */
int webins_url_host(const char *url, char *out, size_t outlen)
{
	const char *p = url, *e, *q;
	size_t n;

	while (*p == ' ' || *p == '\t')
		p++;
	q = strstr(p, "://");
	if (q && q < p + 16) {
		const char *r;
		for (r = p; r < q && (is_alpha((unsigned char)*r) || is_digit((unsigned char)*r) ||
				       *r == '+' || *r == '-' || *r == '.'); r++)
			;
		if (r == q)
			p = q + 3;
	}
	e = p;
	while (*e && *e != '/' && *e != '?' && *e != '#')
		e++;
	while (e > p && (e[-1] == ' ' || e[-1] == '\t' || e[-1] == '\r' || e[-1] == '\n'))
		e--;
	for (q = e; q > p; q--) /* user-info */
		if (q[-1] == '@') {
			p = q;
			break;
		}
	if (*p == '[') {
		q = memchr(p, ']', (size_t)(e - p));
		if (!q)
			return 0;
		p++;
		e = q;
	} else {
		const char *c1 = memchr(p, ':', (size_t)(e - p));
		if (c1 && !memchr(c1 + 1, ':', (size_t)(e - c1 - 1)))
			e = c1; /* host:port; a bare IPv6 address keeps its colons */
	}
	while (e > p && e[-1] == '.')
		e--;
	n = (size_t)(e - p);
	if (!n || n > 255 || n >= outlen)
		return 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];
		if (c < 0x21 || c == 0x7f || c == '"' || c == '\\' || c == ',')
			return 0;
		out[i] = (char)lc(c);
	}
	out[n] = '\0';
	return 1;
}

static struct webins_host *host_get(struct webins *w, const char *name)
{
	size_t len = strlen(name);
	uint32_t b = (uint32_t)(pi_hash(name, len, 0x77656269u) & (HOST_BUCKETS - 1));
	struct webins_host *h;

	/* the index (512 KB) is made at the first host: none without logs */
	if (!w->hbuckets && !(w->hbuckets = calloc(HOST_BUCKETS, sizeof *w->hbuckets)))
		return NULL;
	for (uint32_t k = w->hbuckets[b]; k; k = w->hnext[k - 1])
		if (strcmp(w->hosts[k - 1].host, name) == 0)
			return &w->hosts[k - 1];
	if (w->nhosts >= WI_MAX_HOSTS)
		return NULL;
	if (w->nhosts == w->caphosts) {
		size_t nc = w->caphosts ? w->caphosts * 2 : 32;
		struct webins_host *nh = realloc(w->hosts, nc * sizeof *nh);
		uint32_t *nn;
		if (!nh)
			return NULL;
		w->hosts = nh;
		nn = realloc(w->hnext, nc * sizeof *nn);
		if (!nn)
			return NULL;
		w->hnext = nn;
		w->caphosts = nc;
	}
	h = &w->hosts[w->nhosts];
	memset(h, 0, sizeof *h);
	pi_strlcpy(h->host, name, sizeof h->host);
	w->hnext[w->nhosts] = w->hbuckets[b];
	w->hbuckets[b] = (uint32_t)(w->nhosts + 1);
	w->nhosts++;
	return h;
}

/* ---- rows ------------------------------------------------------------------ */

static void count_action(struct webins *w, const char *a)
{
	char name[96];
	pi_strlcpy(name, a[0] ? a : "(empty)", sizeof name);
	for (size_t i = 0; i < w->nactions; i++)
		if (strcmp(w->actions[i].action, name) == 0) {
			w->actions[i].rows++;
			return;
		}
	if (w->nactions >= WI_MAX_ACTIONS) {
		w->st.actions_other_overflow++;
		return;
	}
	pi_strlcpy(w->actions[w->nactions].action, name, sizeof w->actions[0].action);
	w->actions[w->nactions++].rows = 1;
}

static void add_failed(struct webins *w)
{
	char host[256];
	struct webins_host *h;
	const char *user = w->have[C_USER] ? trim(w->val[C_USER]) : "";
	const char *loc = w->have[C_LOC] ? trim(w->val[C_LOC]) : "";
	const char *tm = w->have[C_TIME] ? trim(w->val[C_TIME]) : "";
	uint64_t ns = 0;
	int zone = 0;

	if (!w->have[C_URL] || !webins_url_host(w->val[C_URL], host, sizeof host)) {
		w->st.bad_rows++;
		return;
	}
	h = host_get(w, host);
	if (!h) {
		w->st.hosts_dropped++;
		return;
	}
	w->st.failed_rows++;
	h->failed++;
	if (user[0]) {
		uint32_t k;
		for (k = 0; k < h->nusers; k++)
			if (strcmp(h->users[k], user) == 0)
				break;
		if (k == h->nusers) {
			if (h->nusers < WI_MAX_USERS)
				pi_strlcpy(h->users[h->nusers++], user, sizeof h->users[0]);
			else
				h->users_overflow = 1;
		}
	}
	if (loc[0]) {
		uint32_t k;
		for (k = 0; k < h->nlocations; k++)
			if (strcmp(h->locations[k], loc) == 0)
				break;
		if (k == h->nlocations) {
			if (h->nlocations < WI_MAX_LOCATIONS)
				pi_strlcpy(h->locations[h->nlocations++], loc, sizeof h->locations[0]);
			else
				h->locations_overflow = 1;
		}
	}
	if (tm[0]) {
		if (!webins_parse_time(tm, &ns, &zone)) {
			w->st.time_unparsed++;
		} else {
			if (!zone)
				w->st.time_no_zone++;
			if (!h->first_ns || ns < h->first_ns) {
				h->first_ns = ns;
				pi_strlcpy(h->first_time, tm, sizeof h->first_time);
			}
			if (ns >= h->last_ns) {
				h->last_ns = ns;
				pi_strlcpy(h->last_time, tm, sizeof h->last_time);
			}
		}
	}
}

static void cb_field(void *data, size_t len, void *ctx)
{
	struct webins *w = ctx;
	uint32_t f = w->fieldno++;

	if (f >= WI_MAX_COLUMNS)
		return;
	if (!w->have_header) {
		char nm[64];
		if (!data)
			return;
		norm_name(data, len, nm, sizeof nm);
		for (int c = 0; c < C_N; c++)
			for (int k = 0; col_names[c][k]; k++)
				if (!strcmp(nm, col_names[c][k]) && (w->tcol[c] < 0 || k < w->trank[c])) {
					w->tcol[c] = (int)f;
					w->trank[c] = k;
				}
		return;
	}
	for (int c = 0; c < C_N; c++) {
		if (w->col[c] == (int)f) {
			size_t n = len < col_cap[c] ? len : col_cap[c];
			if (data)
				memcpy(w->val[c], data, n);
			w->val[c][data ? n : 0] = '\0';
			w->have[c] = 1;
		}
	}
}

static void cb_row(int term, void *ctx)
{
	struct webins *w = ctx;
	(void)term;

	if (!w->have_header) {
		/* a header: an action column and a URL/host column */
		if (w->tcol[C_ACTION] >= 0 && w->tcol[C_URL] >= 0) {
			w->have_header = 1;
			memcpy(w->col, w->tcol, sizeof w->col);
			memcpy(w->rank, w->trank, sizeof w->rank);
		} else {
			w->st.preamble_rows++;
			w->rows_seen++;
		}
		for (int c = 0; c < C_N; c++)
			w->tcol[c] = -1;
		w->fieldno = 0;
		return;
	}
	w->st.rows++;
	if (!w->have[C_ACTION]) {
		w->st.bad_rows++;
	} else {
		char *a = trim(w->val[C_ACTION]);
		if (ci_find(a, "failed client SSL handshake"))
			add_failed(w);
		else {
			w->st.other_rows++;
			count_action(w, a);
		}
	}
	memset(w->have, 0, sizeof w->have);
	w->fieldno = 0;
}

/* libcsv's field buffer grows through this: nothing over WI_MAX_FIELD. */
static void *capped_realloc(void *p, size_t n)
{
	if (n > WI_MAX_FIELD + 64)
		return NULL;
	return realloc(p, n);
}

static int space_only(unsigned char c)
{
	return c == ' ';
}

static void csv_in(struct webins *w, const char *s, size_t n)
{
	if (w->failed || !n)
		return;
	if (w->have_header == 0 && w->rows_seen >= WI_MAX_PREAMBLE)
		return; /* not a Web Insights export: no header near the top */
	if (csv_parse(&w->p, s, n, cb_field, cb_row, w) != n)
		w->failed = 1;
}

/* Pick the delimiter from the header line in the held text, then parse it. */
static void release_hold(struct webins *w)
{
	const char *line = w->hold, *hit = NULL;
	size_t tabs = 0, commas = 0, semis = 0;
	char delim = ',';

	if (w->delim_known)
		return;
	w->delim_known = 1;
	if (w->hold) {
		w->hold[w->holdlen] = '\0';
		hit = ci_find(w->hold, "policy action");
		if (!hit)
			hit = ci_find(w->hold, "action");
	}
	if (hit) {
		while (line < hit) { /* the start of the line holding it */
			const char *nl = strchr(line, '\n');
			if (!nl || nl >= hit)
				break;
			line = nl + 1;
		}
		for (const char *q = line; *q && *q != '\n'; q++) {
			tabs += *q == '\t';
			commas += *q == ',';
			semis += *q == ';';
		}
		if (tabs > commas && tabs >= semis)
			delim = '\t';
		else if (semis > commas)
			delim = ';';
	}
	w->st.delimiter = delim;
	csv_set_delim(&w->p, (unsigned char)delim);
	if (delim == '\t')
		csv_set_space_func(&w->p, space_only);
	csv_in(w, w->hold ? w->hold : "", w->holdlen);
	free(w->hold);
	w->hold = NULL;
	w->holdlen = 0;
}

/* Decoded UTF-8 text of the current input (a textdec_emit_fn; ctx is the
 * set). The first text of an input starts its parser. */
static void text_in(void *ctx, const char *s, size_t n)
{
	struct webins *w = ctx;

	if (!w->csv_on) {
		for (int c = 0; c < C_N; c++)
			w->tcol[c] = w->col[c] = -1;
		if (csv_init(&w->p, CSV_APPEND_NULL) != 0) {
			w->failed = 1;
			return;
		}
		csv_set_realloc_func(&w->p, capped_realloc);
		w->csv_on = 1;
	}
	if (w->delim_known) {
		csv_in(w, s, n);
		return;
	}
	if (!w->hold && !(w->hold = malloc(HOLD_MAX + 1))) {
		w->failed = 1;
		return;
	}
	while (n) {
		size_t c = HOLD_MAX - w->holdlen < n ? HOLD_MAX - w->holdlen : n;
		size_t from = w->holdlen > 16 ? w->holdlen - 16 : 0; /* only the new text, and a seam */
		memcpy(w->hold + w->holdlen, s, c);
		w->holdlen += c;
		s += c;
		n -= c;
		w->hold[w->holdlen] = '\0';
		if (!w->hit_off) {
			const char *hit = ci_find(w->hold + from, "policy action");
			if (hit)
				w->hit_off = (size_t)(hit - w->hold) + 1;
		}
		if ((w->hit_off && memchr(w->hold + w->hit_off, '\n', w->holdlen - w->hit_off)) ||
		    w->holdlen == HOLD_MAX) {
			release_hold(w);
			csv_in(w, s, n);
			return;
		}
	}
}

/* ---- public interface ---------------------------------------------------- */

/* Returns a new set, or NULL when out of memory. */
struct webins *webins_new(void)
{
	return calloc(1, sizeof(struct webins)); /* the host index comes with the first host */
}

/* Frees everything; w may be NULL. */
void webins_free(struct webins *w)
{
	if (!w)
		return;
	if (w->csv_on)
		csv_free(&w->p);
	free(w->hold);
	free(w->hosts);
	free(w->hnext);
	free(w->hbuckets);
	free(w);
}

/* Consumes len bytes of the current input. */
void webins_feed(struct webins *w, const char *data, size_t len)
{
	textdec_feed(&w->td, data, len, text_in, w);
	w->st.bytes = w->td.bytes;
	w->st.utf16_inputs = w->td.utf16_inputs;
}

/* Ends the current input; see webinsights.h. */
void webins_end(struct webins *w)
{
	(void)textdec_end(&w->td, text_in, w); /* a cut code unit or pair is dropped */
	w->st.utf16_inputs = w->td.utf16_inputs;
	if (w->csv_on) {
		release_hold(w);
		if (!w->failed && (w->have_header || w->rows_seen < WI_MAX_PREAMBLE))
			(void)csv_fini(&w->p, cb_field, cb_row, w);
		csv_free(&w->p);
		w->csv_on = 0;
	}
	w->st.inputs++;
	if (w->failed)
		w->st.inputs_failed++;
	if (!w->have_header)
		w->st.inputs_no_header++;
	free(w->hold);
	w->hold = NULL;
	w->holdlen = 0;
	w->hit_off = 0;
	w->failed = w->delim_known = w->have_header = 0;
	w->rows_seen = 0;
	w->fieldno = 0;
	memset(w->have, 0, sizeof w->have);
}

size_t webins_host_count(const struct webins *w)
{
	return w->nhosts;
}

/* Returns host i or NULL; owned by w. */
const struct webins_host *webins_host(const struct webins *w, size_t i)
{
	return i < w->nhosts ? &w->hosts[i] : NULL;
}

/* Returns the host of that name (lower-case) or NULL; owned by w. */
const struct webins_host *webins_find(const struct webins *w, const char *host)
{
	uint32_t b = (uint32_t)(pi_hash(host, strlen(host), 0x77656269u) & (HOST_BUCKETS - 1));
	if (!w->hbuckets)
		return NULL;
	for (uint32_t k = w->hbuckets[b]; k; k = w->hnext[k - 1])
		if (strcmp(w->hosts[k - 1].host, host) == 0)
			return &w->hosts[k - 1];
	return NULL;
}

size_t webins_action_count(const struct webins *w)
{
	return w->nactions;
}

/* Returns action i or NULL; owned by w. */
const struct webins_action *webins_action(const struct webins *w, size_t i)
{
	return i < w->nactions ? &w->actions[i] : NULL;
}

const struct webins_stats *webins_stats(const struct webins *w)
{
	return &w->st;
}

static int host_cmp(const void *a, const void *b)
{
	const struct webins_host *x = *(const struct webins_host *const *)a;
	const struct webins_host *y = *(const struct webins_host *const *)b;
	if (x->failed != y->failed)
		return x->failed > y->failed ? -1 : 1;
	return strcmp(x->host, y->host);
}

static void json_time(struct jw *jw, const char *key, uint64_t ns)
{
	char t[40];
	int64_t secs = (int64_t)(ns / 1000000000ull), days, rem, z, era;
	unsigned doe, yoe, doy, mp, d, m;
	int y;

	if (!ns) {
		jw_key(jw, key);
		jw_null(jw);
		return;
	}
	days = secs / 86400;
	rem = secs % 86400;
	z = days + 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y = (int)((int64_t)yoe + era * 400 + (m <= 2));
	snprintf(t, sizeof t, "%04d-%02u-%02uT%02u:%02u:%02uZ", y, m, d,
		 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60));
	jw_kstr(jw, key, t);
}

/* Writes one JSON object value; see webinsights.h. */
void webins_write_json(const struct webins *w, struct jw *jw)
{
	const struct webins_host **v = NULL;
	const struct webins_stats *st = &w->st;
	char d[2] = { st->delimiter ? st->delimiter : ',', 0 };

	if (w->nhosts)
		v = malloc(w->nhosts * sizeof *v);
	jw_obj_open(jw);
	jw_kstr(jw, "kind", "web_insights");
	jw_kuint(jw, "inputs", st->inputs);
	jw_kuint(jw, "inputs_no_header", st->inputs_no_header);
	jw_kuint(jw, "inputs_failed", st->inputs_failed);
	jw_kuint(jw, "utf16_inputs", st->utf16_inputs);
	jw_kstr(jw, "delimiter", d);
	jw_kuint(jw, "rows", st->rows);
	jw_kuint(jw, "preamble_rows", st->preamble_rows);
	jw_kuint(jw, "failed_handshake_rows", st->failed_rows);
	jw_kuint(jw, "other_rows", st->other_rows);
	jw_kuint(jw, "bad_rows", st->bad_rows);
	jw_kuint(jw, "time_unparsed", st->time_unparsed);
	jw_kuint(jw, "time_no_zone", st->time_no_zone);
	jw_kuint(jw, "hosts_dropped", st->hosts_dropped);
	jw_kstr(jw, "failed_action", WI_FAILED_ACTION);
	jw_key(jw, "other_actions");
	jw_arr_open(jw);
	for (size_t i = 0; i < w->nactions; i++) {
		jw_obj_open(jw);
		jw_kstr(jw, "action", w->actions[i].action);
		jw_kuint(jw, "rows", w->actions[i].rows);
		jw_obj_close(jw);
	}
	jw_arr_close(jw);
	jw_kuint(jw, "other_actions_overflow_rows", st->actions_other_overflow);
	jw_key(jw, "hosts");
	jw_arr_open(jw);
	if (v) {
		for (size_t i = 0; i < w->nhosts; i++)
			v[i] = &w->hosts[i];
		qsort(v, w->nhosts, sizeof *v, host_cmp);
		for (size_t i = 0; i < w->nhosts; i++) {
			const struct webins_host *h = v[i];
			jw_obj_open(jw);
			jw_kstr(jw, "host", h->host);
			jw_kuint(jw, "failed_handshakes", h->failed);
			jw_kuint(jw, "users_count", h->nusers);
			jw_kbool(jw, "users_overflow", h->users_overflow);
			jw_key(jw, "users");
			jw_arr_open(jw);
			for (uint32_t k = 0; k < h->nusers; k++)
				jw_str(jw, h->users[k]);
			jw_arr_close(jw);
			jw_key(jw, "locations");
			jw_arr_open(jw);
			for (uint32_t k = 0; k < h->nlocations; k++)
				jw_str(jw, h->locations[k]);
			jw_arr_close(jw);
			jw_kbool(jw, "locations_overflow", h->locations_overflow);
			json_time(jw, "first_time", h->first_ns);
			json_time(jw, "last_time", h->last_ns);
			jw_kstr(jw, "first_time_text", h->first_time[0] ? h->first_time : NULL);
			jw_kstr(jw, "last_time_text", h->last_time[0] ? h->last_time : NULL);
			jw_obj_close(jw);
		}
	}
	jw_arr_close(jw);
	jw_obj_close(jw);
	free(v);
}
