/* tui.c: the ncurses view (see tui.h): layout, drawing, keys.
 *
 * One loop: take the newest snapshot, draw it when it or the view state
 * changed (erase + redraw into curses' virtual screen; curses sends only
 * the differences, so there is no flicker), then wait for a key at most
 * 100 ms. Every text cell goes through put(), which prints printable
 * ASCII only: the snapshot is escaped already; this is the second fence.
 */
#include "ui/tui.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "common/util.h"
#include "dissectors/tls.h"
#include "outputs/bypass.h"
#include "ui/colors.h"
#include "ui/curses_compat.h"

#define KEY_ESC 27
#define CTRL(x) ((x) & 0x1f)
#define MSG_SECONDS 15
#define EXPORT_FORMATS "zscaler, zscaler-api, panos, squid, mitmproxy, markdown, csv, json"
#define DETAIL_MAX_LINES 400
#define DETAIL_LINE_LEN 512

enum pane_id { P_CANDS = 0, P_CONNS, P_DNS };
enum mode { M_MAIN = 0, M_DETAIL, M_HELP };
enum prompt_kind { PR_NONE = 0, PR_FILTER, PR_EXPORT_FORMAT, PR_EXPORT_PATH, PR_SAVE_PATH };

static const char *const cand_sorts[] = { "rank", "failures", "name", "recent" };
static const char *const conn_sorts[] = { "newest", "verdict", "name" };
static const char *const dns_sorts[] = { "no-answer", "name" };
#define NSORT(a) ((int)(sizeof(a) / sizeof((a)[0])))

struct pane {
	int sel, top;         /* index into the ordered rows, first row shown */
	char key[UI_RULE_LEN];/* identity of the selected row (rule, name) */
	uint64_t keyseq;      /* connections: the selected one's seq */
	int sort;
	int follow;           /* not moved by the user: stay on the first row */
	int rows;             /* rows shown at the last draw */
	size_t n;             /* rows in the order at the last draw */
};

struct dline {
	enum ui_role role;
	char text[DETAIL_LINE_LEN];
};

struct view {
	struct ui_model *m;
	const struct tui_opts *o;
	const struct ui_snap *s;
	int H, W;
	enum mode mode;
	int focus;            /* P_CANDS or the lower pane */
	int lower;            /* P_CONNS or P_DNS */
	int cand_y, lower_y;  /* header rows of the panes at the last draw */
	struct pane p[3];
	int paused;
	char filter[UI_FILTER_LEN];
	char marks[UI_MAX_MARKS][UI_RULE_LEN];
	size_t nmarks;
	char msg[512];
	int msg_err;
	time_t msg_at;
	/* prompt */
	enum prompt_kind prompt;
	char plabel[64];
	char pbuf[256];
	size_t plen;
	char export_fmt[32];
	/* detail */
	char detail[UI_RULE_LEN];
	int dscroll;
	struct dline *dl;
	int ndl;
	/* orders, rebuilt per draw */
	size_t cand_ord[UI_MAX_CANDS];
	size_t conn_ord[UI_RECENT_CONNS];
	size_t dns_ord[UI_MAX_DNS];
};

/* ---- text helpers ------------------------------------------------------ */

/* Print at most w cells of s at (y, x); returns cells printed. */
static int put(int y, int x, int w, enum ui_role role, const char *s)
{
	int n = 0;
	if (w <= 0 || y < 0 || x < 0)
		return 0;
	attr_t a = ui_attr(role);
	attron(a);
	move(y, x);
	for (; s && *s && n < w; s++, n++) {
		unsigned char c = (unsigned char)*s;
		addch((c >= 0x20 && c < 0x7f) ? c : '?');
	}
	attroff(a);
	return n;
}

/* Left-aligned in exactly w cells (padded). */
static void putpad(int y, int x, int w, enum ui_role role, const char *s)
{
	int n = put(y, x, w, role, s);
	if (n < w) {
		attr_t a = ui_attr(role);
		attron(a);
		for (int i = n; i < w; i++)
			mvaddch(y, x + i, ' ');
		attroff(a);
	}
}

/* Right-aligned in exactly w cells. */
static void putr(int y, int x, int w, enum ui_role role, const char *s)
{
	int len = (int)strlen(s);
	if (len >= w) {
		put(y, x, w, role, s);
		return;
	}
	putpad(y, x, w - len, role, "");
	put(y, x + w - len, len, role, s);
}

static void fill(int y, int x, int w, enum ui_role role)
{
	putpad(y, x, w, role, "");
}

static void fmt_count(char *b, size_t n, uint64_t v)
{
	if (v < 100000)
		snprintf(b, n, "%llu", (unsigned long long)v);
	else if (v < 100000000)
		snprintf(b, n, "%.1fk", (double)v / 1e3);
	else
		snprintf(b, n, "%.1fM", (double)v / 1e6);
}

static void fmt_bytes(char *b, size_t n, double v)
{
	if (v < 1e3)
		snprintf(b, n, "%.0f B", v);
	else if (v < 1e6)
		snprintf(b, n, "%.1f kB", v / 1e3);
	else if (v < 1e9)
		snprintf(b, n, "%.1f MB", v / 1e6);
	else
		snprintf(b, n, "%.2f GB", v / 1e9);
}

static void fmt_elapsed(char *b, size_t n, double s)
{
	unsigned long t = s > 0 ? (unsigned long)s : 0;
	snprintf(b, n, "%02lu:%02lu:%02lu", t / 3600, (t / 60) % 60, t % 60);
}

static void fmt_clock(char *b, size_t n, uint64_t ts_ns)
{
	time_t t = (time_t)(ts_ns / 1000000000u);
	struct tm tm;
	if (!ts_ns || !localtime_r(&t, &tm)) {
		snprintf(b, n, "--:--:--");
		return;
	}
	strftime(b, n, "%H:%M:%S", &tm);
}

static void fmt_frames(char *b, size_t n, const uint64_t *f, unsigned nf)
{
	size_t o = 0;
	b[0] = '\0';
	for (unsigned i = 0; i < nf && o + 2 < n; i++) {
		int w = snprintf(b + o, n - o, "%s%llu", i ? "," : "", (unsigned long long)f[i]);
		if (w < 0)
			break;
		o += (size_t)w;
	}
}

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

static void set_msg(struct view *v, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void set_msg(struct view *v, int err, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(v->msg, sizeof(v->msg), fmt, ap);
	va_end(ap);
	v->msg_err = err;
	v->msg_at = time(NULL);
}

/* ---- marks ------------------------------------------------------------- */

static int mark_find(const struct view *v, const char *name)
{
	for (size_t i = 0; i < v->nmarks; i++)
		if (strcmp(v->marks[i], name) == 0)
			return (int)i;
	return -1;
}

static int cand_is_marked(const struct view *v, const struct ui_cand *c)
{
	if (mark_find(v, c->c.rule) >= 0)
		return 1;
	for (unsigned i = 0; i < c->c.ncovered && i < RANK_MAX_COVERED; i++)
		if (mark_find(v, c->c.covered[i]) >= 0)
			return 1;
	return 0;
}

static void mark_toggle(struct view *v, const char *name)
{
	int i = mark_find(v, name);
	if (!*name)
		return;
	if (i >= 0) {
		memmove(v->marks[i], v->marks[i + 1], (v->nmarks - (size_t)i - 1) * sizeof(v->marks[0]));
		v->nmarks--;
		set_msg(v, 0, "unmarked %s (%zu marked)", name, v->nmarks);
	} else if (v->nmarks < UI_MAX_MARKS) {
		pi_strlcpy(v->marks[v->nmarks++], name, sizeof(v->marks[0]));
		set_msg(v, 0, "marked %s for the bypass list (%zu marked; e exports)", name, v->nmarks);
	} else {
		set_msg(v, 1, "at most %d names can be marked", UI_MAX_MARKS);
	}
}

/* ---- orders ------------------------------------------------------------ */

static const struct ui_snap *g_sort_snap; /* qsort has no context argument */

static int cmp_cand_failures(const void *a, const void *b)
{
	const struct ui_cand *x = &g_sort_snap->cands[*(const size_t *)a];
	const struct ui_cand *y = &g_sort_snap->cands[*(const size_t *)b];
	if (x->c.failures != y->c.failures)
		return x->c.failures > y->c.failures ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int cmp_cand_name(const void *a, const void *b)
{
	const struct ui_cand *x = &g_sort_snap->cands[*(const size_t *)a];
	const struct ui_cand *y = &g_sort_snap->cands[*(const size_t *)b];
	return strcmp(x->c.rule, y->c.rule);
}

static int cmp_cand_recent(const void *a, const void *b)
{
	const struct ui_cand *x = &g_sort_snap->cands[*(const size_t *)a];
	const struct ui_cand *y = &g_sort_snap->cands[*(const size_t *)b];
	if (x->ev.last_ts != y->ev.last_ts)
		return x->ev.last_ts > y->ev.last_ts ? -1 : 1;
	return *(const size_t *)a < *(const size_t *)b ? -1 : 1;
}

static int verdict_rank(enum verdict v)
{
	if (verdict_is_rejection(v))
		return 0;
	if (v == V_SERVER_ABORT || v == V_OTHER_ALERT)
		return 1;
	if (v == V_HEALTHY)
		return 3;
	return 2;
}

static int cmp_conn_verdict(const void *a, const void *b)
{
	const struct ui_conn *x = &g_sort_snap->conns[*(const size_t *)a];
	const struct ui_conn *y = &g_sort_snap->conns[*(const size_t *)b];
	int rx = verdict_rank(x->verdict), ry = verdict_rank(y->verdict);
	if (rx != ry)
		return rx < ry ? -1 : 1;
	return x->seq > y->seq ? -1 : 1;
}

static int cmp_conn_name(const void *a, const void *b)
{
	const struct ui_conn *x = &g_sort_snap->conns[*(const size_t *)a];
	const struct ui_conn *y = &g_sort_snap->conns[*(const size_t *)b];
	int c = strcmp(x->key, y->key);
	if (c)
		return c;
	return x->seq > y->seq ? -1 : 1;
}

static int cmp_dns_name(const void *a, const void *b)
{
	const struct ui_dns *x = &g_sort_snap->dns[*(const size_t *)a];
	const struct ui_dns *y = &g_sort_snap->dns[*(const size_t *)b];
	int c = strcmp(x->name, y->name);
	if (c)
		return c;
	return strcmp(x->qtype, y->qtype);
}

static int conn_matches(const struct ui_conn *c, const char *f)
{
	return !*f || contains(c->key, f) || contains(c->sni, f) || contains(c->client, f) ||
	       contains(c->server, f) || contains(verdict_name(c->verdict), f) || contains(c->app, f) ||
	       contains(c->alert, f);
}

static void build_orders(struct view *v)
{
	const struct ui_snap *s = v->s;
	size_t n = 0;
	g_sort_snap = s;

	/* candidates: the snapshot is filtered by the engine thread already */
	for (size_t i = 0; i < s->ncands; i++)
		v->cand_ord[n++] = i;
	if (v->p[P_CANDS].sort == 1)
		qsort(v->cand_ord, n, sizeof(size_t), cmp_cand_failures);
	else if (v->p[P_CANDS].sort == 2)
		qsort(v->cand_ord, n, sizeof(size_t), cmp_cand_name);
	else if (v->p[P_CANDS].sort == 3)
		qsort(v->cand_ord, n, sizeof(size_t), cmp_cand_recent);
	v->p[P_CANDS].n = n;

	n = 0;
	for (size_t i = s->nconns; i-- > 0;) /* newest first */
		if (conn_matches(&s->conns[i], v->filter))
			v->conn_ord[n++] = i;
	if (v->p[P_CONNS].sort == 1)
		qsort(v->conn_ord, n, sizeof(size_t), cmp_conn_verdict);
	else if (v->p[P_CONNS].sort == 2)
		qsort(v->conn_ord, n, sizeof(size_t), cmp_conn_name);
	v->p[P_CONNS].n = n;

	n = 0;
	for (size_t i = 0; i < s->ndns; i++)
		v->dns_ord[n++] = i;
	if (v->p[P_DNS].sort == 1)
		qsort(v->dns_ord, n, sizeof(size_t), cmp_dns_name);
	v->p[P_DNS].n = n;
}

/* The key of row i (in order) of a pane. */
static const char *row_key(const struct view *v, int pane, size_t i, uint64_t *seq)
{
	*seq = 0;
	if (pane == P_CANDS)
		return v->s->cands[v->cand_ord[i]].c.rule;
	if (pane == P_CONNS) {
		*seq = v->s->conns[v->conn_ord[i]].seq;
		return v->s->conns[v->conn_ord[i]].key;
	}
	return v->s->dns[v->dns_ord[i]].name;
}

/* Keep the selection on the same row identity as the snapshot changes. */
static void resync(struct view *v, int pane)
{
	struct pane *p = &v->p[pane];
	uint64_t seq;
	if (!p->n) {
		p->sel = p->top = 0;
		return;
	}
	if (p->follow) {
		p->sel = 0;
		goto found;
	}
	if (p->key[0] || p->keyseq) {
		for (size_t i = 0; i < p->n; i++) {
			const char *k = row_key(v, pane, i, &seq);
			if (pane == P_CONNS ? seq == p->keyseq : strcmp(k, p->key) == 0) {
				p->sel = (int)i;
				goto found;
			}
		}
	}
	if (p->sel >= (int)p->n)
		p->sel = (int)p->n - 1;
	if (p->sel < 0)
		p->sel = 0;
found:
	pi_strlcpy(p->key, row_key(v, pane, (size_t)p->sel, &seq), sizeof(p->key));
	p->keyseq = seq;
}

static void move_sel(struct view *v, int pane, int delta)
{
	struct pane *p = &v->p[pane];
	uint64_t seq;
	if (!p->n)
		return;
	long s = (long)p->sel + delta;
	if (s < 0)
		s = 0;
	if (s >= (long)p->n)
		s = (long)p->n - 1;
	p->sel = (int)s;
	p->follow = p->sel == 0 && delta < 0; /* back at the top (Home): follow it again */
	pi_strlcpy(p->key, row_key(v, pane, (size_t)p->sel, &seq), sizeof(p->key));
	p->keyseq = seq;
}

static void scroll_into_view(struct pane *p, int rows)
{
	if (rows <= 0)
		return;
	if (p->sel < p->top)
		p->top = p->sel;
	if (p->sel >= p->top + rows)
		p->top = p->sel - rows + 1;
	if (p->top > (int)p->n - rows)
		p->top = (int)p->n - rows;
	if (p->top < 0)
		p->top = 0;
}

/* ---- drawing: bars ----------------------------------------------------- */

static const char *state_text(const struct view *v)
{
	const struct ui_status *st = &v->s->st;
	if (v->paused)
		return "PAUSED";
	switch (st->state) {
	case UI_RUNNING:
		return st->live ? "capturing" : "replaying";
	case UI_PAUSED:
		return "PAUSED";
	case UI_DONE:
		return st->live ? "stopped" : "end of file";
	default:
		return "FAILED";
	}
}

static const char *state_short(const struct view *v)
{
	const struct ui_status *st = &v->s->st;
	if (v->paused || st->state == UI_PAUSED)
		return "PAUSED";
	switch (st->state) {
	case UI_RUNNING:
		return st->live ? "live" : "replay";
	case UI_DONE:
		return st->live ? "stopped" : "eof";
	default:
		return "FAILED";
	}
}

static void draw_status(struct view *v)
{
	const struct ui_status *st = &v->s->st;
	char line[1024], pk[32], by[32], rate[64], drops[48], el[32], fl[24];
	const char *src = st->source, *slash = strrchr(src, '/');
	int alert = st->state == UI_FAILED || (st->have_pstats && (st->kernel_drops || st->if_drops));

	if (!st->live && slash && slash[1])
		src = slash + 1;
	fmt_count(pk, sizeof(pk), st->packets);
	fmt_bytes(by, sizeof(by), (double)st->bytes);
	{
		char bps[24];
		fmt_bytes(bps, sizeof(bps), st->bps);
		snprintf(rate, sizeof(rate), "%.0f pkt/s %s/s", st->pps, bps);
	}
	if (st->have_pstats)
		snprintf(drops, sizeof(drops), "%llu/%llu", (unsigned long long)st->kernel_drops,
		         (unsigned long long)st->if_drops);
	else
		snprintf(drops, sizeof(drops), "-");
	if (st->flows >= 0)
		snprintf(fl, sizeof(fl), "%lld", (long long)st->flows);
	else
		snprintf(fl, sizeof(fl), "-");
	fmt_elapsed(el, sizeof(el), st->elapsed_s);
	snprintf(line, sizeof(line),
	         " pinspect %s %s  packets %s (%s)  %s  flows %s  TLS %llu  drops %s  %s  %s",
	         st->live ? "live" : "replay", src, pk, by, rate, fl, (unsigned long long)st->tls_conns, drops, el,
	         state_text(v));
	if ((int)strlen(line) > v->W) /* 80 columns: every field, shorter */
		snprintf(line, sizeof(line), " %s  %s pkt %s  %.0f/s  fl %s  TLS %llu  drop %s  %s %s", src, pk, by, st->pps,
		         fl, (unsigned long long)st->tls_conns, drops, el, state_short(v));
	if ((int)strlen(line) > v->W)
		snprintf(line, sizeof(line), " %s %s pkt TLS %llu drop %s %s %s", src, pk, (unsigned long long)st->tls_conns,
		         drops, el, state_short(v));
	putpad(0, 0, v->W, alert ? R_STATUS_ALERT : R_STATUS, line);
}

static void draw_summary(struct view *v)
{
	const struct ui_status *st = &v->s->st;
	int x = 1, w = v->W;
	char b[128];
	uint64_t rej = 0;
	for (int i = 1; i < V_COUNT; i++)
		if (verdict_is_rejection((enum verdict)i))
			rej += st->verdicts[i];
	fill(1, 0, w, R_NORMAL);
	snprintf(b, sizeof(b), "healthy %llu", (unsigned long long)st->verdicts[V_HEALTHY]);
	x += put(1, x, w - x, R_V_HEALTHY, b) + 2;
	snprintf(b, sizeof(b), "rejected %llu", (unsigned long long)rej);
	x += put(1, x, w - x, rej ? R_V_REJECT : R_NORMAL, b);
	if (rej) {
		int first = 1;
		x += put(1, x, w - x, R_NORMAL, " (");
		for (int i = 1; i < V_COUNT; i++) {
			if (!verdict_is_rejection((enum verdict)i) || !st->verdicts[i])
				continue;
			snprintf(b, sizeof(b), "%s%s %llu", first ? "" : ", ", verdict_name((enum verdict)i),
			         (unsigned long long)st->verdicts[i]);
			x += put(1, x, w - x, R_NORMAL, b);
			first = 0;
		}
		x += put(1, x, w - x, R_NORMAL, ")");
	}
	x += 2;
	uint64_t other = st->verdicts[V_SERVER_ABORT] + st->verdicts[V_OTHER_ALERT];
	if (other) {
		snprintf(b, sizeof(b), "server/other %llu", (unsigned long long)other);
		x += put(1, x, w - x, R_V_SERVER, b) + 2;
	}
	snprintf(b, sizeof(b), "%s %zu", w >= 100 ? "DNS problems" : "DNS", v->s->dns_total);
	x += put(1, x, w - x, v->s->dns_total ? R_C_DNS : R_NORMAL, b) + 2;
	if (v->nmarks) {
		snprintf(b, sizeof(b), "marked %zu", v->nmarks);
		x += put(1, x, w - x, R_MARK, b) + 2;
	}
	if (v->filter[0]) {
		snprintf(b, sizeof(b), "filter \"%.60s\"", v->filter);
		x += put(1, x, w - x, R_PROMPT, b) + 2;
	}
	{
		const char *so = v->focus == P_CANDS ? cand_sorts[v->p[P_CANDS].sort]
		                 : v->focus == P_CONNS ? conn_sorts[v->p[P_CONNS].sort]
		                                       : dns_sorts[v->p[P_DNS].sort];
		snprintf(b, sizeof(b), "sort %s", so);
		put(1, x, w - x, R_DIM, b);
	}
}

struct helpkey {
	const char *key, *what, *brief;
};

static const struct helpkey help_keys[] = {
	{ "q", "quit", "quit" },       { "?", "help", "help" },     { "Tab", "pane", "" },
	{ "j/k", "move", "" },         { "Enter", "detail", "" },   { "/", "filter", "filter" },
	{ "s", "sort", "sort" },       { "spc", "pause", "pause" }, { "m", "mark", "mark" },
	{ "e", "export", "export" },   { "w", "save", "save" },     { "d", "DNS", "dns" },
};

static void draw_help_line(struct view *v)
{
	int y = v->H - 1, x = 0;
	size_t n = sizeof(help_keys) / sizeof(help_keys[0]);
	fill(y, 0, v->W, R_NORMAL);
	if (v->prompt == PR_EXPORT_FORMAT) {
		x += put(y, x, v->W, R_DIM, "formats: " EXPORT_FORMATS);
		return;
	}
	if (v->prompt != PR_NONE) {
		x += put(y, x, v->W, R_DIM, "Enter accepts, Esc cancels, Ctrl-U clears");
		return;
	}
	if (v->mode == M_DETAIL) {
		static const struct helpkey dk[] = { { "Esc/q", "back", "" }, { "j/k", "scroll", "" },
			                             { "m", "mark", "" },      { "e", "export", "" },
			                             { "?", "help", "" } };
		for (size_t i = 0; i < sizeof(dk) / sizeof(dk[0]) && x < v->W; i++) {
			x += put(y, x, v->W - x, R_KEY, dk[i].key);
			x += put(y, x, v->W - x, R_NORMAL, " ");
			x += put(y, x, v->W - x, R_NORMAL, dk[i].what);
			x += put(y, x, v->W - x, R_NORMAL, "  ");
		}
		return;
	}
	/* the widest form that fits: "key what" with two spaces, with one,
	 * else the brief labels (80 columns) */
	for (int form = 0; form < 3; form++) {
		int total = 0, gap = form == 0 ? 2 : 1;
		for (size_t i = 0; i < n; i++) {
			const char *what = form == 2 ? help_keys[i].brief : help_keys[i].what;
			total += (int)strlen(help_keys[i].key) + (*what ? 1 + (int)strlen(what) : 0) + gap;
		}
		if (total - gap > v->W && form < 2)
			continue;
		for (size_t i = 0; i < n && x < v->W; i++) {
			const char *what = form == 2 ? help_keys[i].brief : help_keys[i].what;
			x += put(y, x, v->W - x, R_KEY, help_keys[i].key);
			if (*what) {
				x += put(y, x, v->W - x, R_NORMAL, form == 2 && strchr("/?", help_keys[i].key[0]) ? "" : " ");
				x += put(y, x, v->W - x, R_NORMAL, what);
			}
			x += put(y, x, v->W - x, R_NORMAL, gap == 2 ? "  " : " ");
		}
		break;
	}
}

static void draw_msg_line(struct view *v)
{
	int y = v->H - 2;
	fill(y, 0, v->W, R_NORMAL);
	if (v->prompt != PR_NONE) {
		int x = put(y, 0, v->W, R_PROMPT, v->plabel);
		int avail = v->W - x - 1;
		const char *shown = v->pbuf;
		if ((int)v->plen > avail && avail > 0)
			shown = v->pbuf + (v->plen - (size_t)avail);
		put(y, x, avail, R_NORMAL, shown);
		move(y, x + (int)strlen(shown) < v->W ? x + (int)strlen(shown) : v->W - 1);
		return;
	}
	if (v->msg[0] && time(NULL) - v->msg_at < MSG_SECONDS)
		put(y, 0, v->W, v->msg_err ? R_MSG_ERR : R_MSG_OK, v->msg);
	else if (v->s->st.note[0])
		put(y, 0, v->W, v->s->st.state == UI_FAILED ? R_MSG_ERR : R_DIM, v->s->st.note);
}

/* ---- drawing: panes ---------------------------------------------------- */

static void pane_header(struct view *v, int y, int pane, const char *title, const char *cols, int title_w)
{
	int focused = v->focus == pane && v->mode == M_MAIN;
	enum ui_role r = focused ? R_HEADER_FOCUS : R_HEADER;
	char t[128];
	snprintf(t, sizeof(t), "%c%s", focused ? '>' : ' ', title);
	fill(y, 0, v->W, r);
	put(y, 0, title_w, r, t);
	put(y, title_w, v->W - title_w, r, cols);
}

static void draw_cands(struct view *v, int y0, int h)
{
	struct pane *p = &v->p[P_CANDS];
	const struct ui_snap *s = v->s;
	int W = v->W;
	int catw = 12, scw = 5, nw = 5, whyw = 0;
	int rest = W - 2 - (catw + 1) - (scw + 1) - (nw + 1) * 2 - 1;
	int appw = rest >= 60 ? 16 : (rest >= 40 ? 13 : 0);
	int rulew = rest - appw;
	if (rulew > 48 && W >= 130) {
		whyw = rulew - 44;
		rulew = 44;
	}
	char title[96], cols[256];
	if (s->cands_total > s->ncands)
		snprintf(title, sizeof(title), "CANDIDATES %zu of %zu", s->ncands, s->cands_total);
	else if (s->filter[0])
		snprintf(title, sizeof(title), "CANDIDATES %zu/%zu", s->ncands, s->names_total);
	else
		snprintf(title, sizeof(title), "CANDIDATES %zu", s->ncands);
	snprintf(cols, sizeof(cols), "%-*s %*s %*s %*s %-*s %s", catw, "CATEGORY", scw, "SCORE", nw, "FAIL", nw, "OK",
	         appw ? appw : 0, appw ? "APP" : "", whyw ? "WHY" : "");
	pane_header(v, y0, P_CANDS, title, cols, 2 + rulew + 1);
	p->rows = h - 1;
	scroll_into_view(p, p->rows);
	if (!p->n) {
		put(y0 + 1, 2, W - 2, R_DIM,
		    s->filter[0] ? "(no name matches the filter; / then Enter clears it)" : "(no TLS connection decided yet)");
		return;
	}
	for (int r = 0; r < p->rows && p->top + r < (int)p->n; r++) {
		int i = p->top + r, y = y0 + 1 + r, x = 0;
		const struct ui_cand *c = &s->cands[v->cand_ord[i]];
		int sel = i == p->sel;
		int focused = sel && v->focus == P_CANDS && v->mode == M_MAIN;
		enum ui_role base = sel ? R_SELECTED : R_NORMAL;
		char b[64];
		fill(y, 0, W, base);
		put(y, 0, 1, base, focused ? ">" : sel ? "-" : " ");
		put(y, 1, 1, sel ? base : R_MARK, cand_is_marked(v, c) ? "*" : " ");
		x = 2;
		putpad(y, x, rulew, base, c->c.rule);
		x += rulew + 1;
		putpad(y, x, catw, sel ? base : ui_role_category(c->c.cat), category_name(c->c.cat));
		x += catw + 1;
		snprintf(b, sizeof(b), "%.2f", c->c.score);
		putr(y, x, scw, base, b);
		x += scw + 1;
		snprintf(b, sizeof(b), "%llu", (unsigned long long)c->c.failures);
		putr(y, x, nw, sel ? base : (c->c.failures ? R_V_REJECT : R_NORMAL), b);
		x += nw + 1;
		snprintf(b, sizeof(b), "%llu", (unsigned long long)c->c.successes);
		putr(y, x, nw, base, b);
		x += nw + 1;
		if (appw) {
			putpad(y, x, appw, base, c->known_app[0] ? c->known_app : c->ev.app);
			x += appw + 1;
		}
		if (whyw)
			put(y, x, W - x, sel ? base : R_DIM, c->c.why);
	}
}

static void draw_conns(struct view *v, int y0, int h)
{
	struct pane *p = &v->p[P_CONNS];
	const struct ui_snap *s = v->s;
	int W = v->W;
	int tw = 8, vw = 15, cw = 21;
	int rest = W - 2 - (tw + 1) - (vw + 1) - (cw + 1);
	int extra = rest >= 60 ? rest / 3 : (rest >= 28 ? 11 : 0);
	int namew = rest - extra;
	char title[64], cols[256];
	/* the pane's name stands over the TIME and VERDICT columns */
	snprintf(title, sizeof(title), "CONNECTIONS %zu", p->n);
	snprintf(cols, sizeof(cols), "%-*s %-*s %s", namew, "NAME", cw, "CLIENT", extra ? "ALERT/APP" : "");
	pane_header(v, y0, P_CONNS, title, cols, 2 + tw + 1 + vw + 1);
	p->rows = h - 1;
	scroll_into_view(p, p->rows);
	if (!p->n) {
		put(y0 + 1, 2, W - 2, R_DIM,
		    v->filter[0] ? "(no connection matches the filter)" : "(no TLS connection decided yet)");
		return;
	}
	for (int r = 0; r < p->rows && p->top + r < (int)p->n; r++) {
		int i = p->top + r, y = y0 + 1 + r, x;
		const struct ui_conn *c = &s->conns[v->conn_ord[i]];
		int sel = i == p->sel;
		int focused = sel && v->focus == P_CONNS && v->mode == M_MAIN;
		enum ui_role base = sel ? R_SELECTED : R_NORMAL;
		char b[128];
		fill(y, 0, W, base);
		put(y, 0, 1, base, focused ? ">" : sel ? "-" : " ");
		put(y, 1, 1, sel ? base : R_MARK, mark_find(v, c->key) >= 0 ? "*" : " ");
		x = 2;
		fmt_clock(b, sizeof(b), c->ts_ns);
		putpad(y, x, tw, base, b);
		x += tw + 1;
		putpad(y, x, vw, sel ? base : ui_role_verdict(c->verdict), verdict_name(c->verdict));
		x += vw + 1;
		putpad(y, x, namew, base, c->key);
		x += namew + 1;
		putpad(y, x, cw, base, c->client);
		x += cw + 1;
		if (extra) {
			snprintf(b, sizeof(b), "%s%s%s", c->alert, c->alert[0] && c->app[0] ? " " : "", c->app);
			put(y, x, W - x, sel ? base : R_DIM, b);
		}
	}
}

static void draw_dns(struct view *v, int y0, int h)
{
	struct pane *p = &v->p[P_DNS];
	const struct ui_snap *s = v->s;
	int W = v->W;
	int tyw = 6, qw = 7, aw = 8, nw = 9, rw = 9;
	int rest = W - 2 - (tyw + 1) - (qw + 1) - (aw + 1) - (nw + 1) - (rw + 1);
	int chw = rest >= 50 ? rest / 3 : 0;
	int namew = rest - chw;
	char title[96], cols[256];
	snprintf(title, sizeof(title), "DNS PROBLEMS %zu", s->dns_total);
	snprintf(cols, sizeof(cols), "%-*s %*s %*s %*s %-*s %s", tyw, "TYPE", qw, "QUERIES", aw, "ANSWERED", nw,
	         "NO-ANSWER", rw, "RCODE", chw ? "CNAME END" : "");
	pane_header(v, y0, P_DNS, title, cols, 2 + namew + 1);
	p->rows = h - 1;
	scroll_into_view(p, p->rows);
	if (!p->n) {
		put(y0 + 1, 2, W - 2, R_DIM, "(no unanswered or failed DNS query)");
		return;
	}
	for (int r = 0; r < p->rows && p->top + r < (int)p->n; r++) {
		int i = p->top + r, y = y0 + 1 + r, x = 2;
		const struct ui_dns *d = &s->dns[v->dns_ord[i]];
		int sel = i == p->sel;
		int focused = sel && v->focus == P_DNS && v->mode == M_MAIN;
		enum ui_role base = sel ? R_SELECTED : R_NORMAL;
		char b[32];
		fill(y, 0, W, base);
		put(y, 0, 1, base, focused ? ">" : sel ? "-" : " ");
		put(y, 1, 1, sel ? base : R_MARK, mark_find(v, d->name) >= 0 ? "*" : " ");
		putpad(y, x, namew, base, d->name);
		x += namew + 1;
		putpad(y, x, tyw, base, d->qtype);
		x += tyw + 1;
		snprintf(b, sizeof(b), "%u", d->queries);
		putr(y, x, qw, base, b);
		x += qw + 1;
		snprintf(b, sizeof(b), "%u", d->answered);
		putr(y, x, aw, base, b);
		x += aw + 1;
		snprintf(b, sizeof(b), "%u", d->noanswer);
		putr(y, x, nw, sel ? base : (d->noanswer ? R_C_DNS : R_NORMAL), b);
		x += nw + 1;
		putpad(y, x, rw, sel ? base : (d->rcode > 0 ? R_V_REJECT : R_NORMAL), d->rcode_name);
		x += rw + 1;
		if (chw)
			put(y, x, W - x, sel ? base : R_DIM, d->chain_end);
	}
}

/* ---- detail view ------------------------------------------------------- */

static void dl_add(struct view *v, enum ui_role role, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void dl_add(struct view *v, enum ui_role role, const char *fmt, ...)
{
	va_list ap;
	if (v->ndl >= DETAIL_MAX_LINES)
		return;
	v->dl[v->ndl].role = role;
	va_start(ap, fmt);
	vsnprintf(v->dl[v->ndl].text, DETAIL_LINE_LEN, fmt, ap);
	va_end(ap);
	v->ndl++;
}

/* "Label       text", wrapped to the screen width under the text column. */
static void dl_field(struct view *v, const char *label, const char *text)
{
	const int lw = 14;
	int w = v->W - lw - 1;
	size_t len = strlen(text), at = 0;
	int first = 1;
	if (w < 20)
		w = 20;
	if (!len) {
		dl_add(v, R_NORMAL, "%-*s -", lw, label);
		return;
	}
	while (at < len && v->ndl < DETAIL_MAX_LINES) {
		size_t take = len - at;
		if (take > (size_t)w) {
			take = (size_t)w;
			/* break at a space when there is one in the second half */
			for (size_t k = take; k > (size_t)w / 2; k--)
				if (text[at + k] == ' ') {
					take = k;
					break;
				}
		}
		dl_add(v, R_NORMAL, "%-*s %.*s", lw, first ? label : "", (int)take, text + at);
		at += take;
		while (at < len && text[at] == ' ')
			at++;
		first = 0;
	}
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static const struct ui_cand *find_cand(const struct view *v, const char *name)
{
	const struct ui_snap *s = v->s;
	for (size_t i = 0; i < s->ncands; i++)
		if (strcmp(s->cands[i].c.rule, name) == 0 || strcmp(s->cands[i].ev.name, name) == 0)
			return &s->cands[i];
	for (size_t i = 0; i < s->ncands; i++)
		for (unsigned k = 0; k < s->cands[i].c.ncovered && k < RANK_MAX_COVERED; k++)
			if (strcmp(s->cands[i].c.covered[k], name) == 0)
				return &s->cands[i];
	return NULL;
}

/* Does a connection's name fall under a candidate (its rule or a name it covers)? */
static int conn_under(const struct ui_conn *c, const char *name, const struct ui_cand *cand)
{
	if (strcmp(c->key, name) == 0)
		return 1;
	if (!cand)
		return 0;
	if (strcmp(c->key, cand->c.rule) == 0)
		return 1;
	for (unsigned k = 0; k < cand->c.ncovered && k < RANK_MAX_COVERED; k++)
		if (strcmp(c->key, cand->c.covered[k]) == 0)
			return 1;
	return 0;
}

static void build_detail(struct view *v)
{
	const struct ui_snap *s = v->s;
	const char *name = v->detail;
	const struct ui_cand *c = find_cand(v, name);
	char b[1024], t[64];
	size_t nconn = 0;
	uint64_t allframes[64];
	unsigned nall = 0;
	const struct ui_conn *latest = NULL;

	v->ndl = 0;
	dl_add(v, R_TITLE, "%s%s", name, mark_find(v, name) >= 0 || (c && cand_is_marked(v, c)) ? "   [marked]" : "");
	if (c) {
		snprintf(b, sizeof(b), "%s   score %.2f   failures %llu   successes %llu", category_name(c->c.cat),
		         c->c.score, (unsigned long long)c->c.failures, (unsigned long long)c->c.successes);
		dl_field(v, "Category", b);
		if (strcmp(c->c.rule, name) != 0)
			dl_field(v, "Rule", c->c.rule);
		if (c->known_app[0])
			dl_field(v, "Known app", c->known_app);
		dl_field(v, "Why", c->c.why);
		dl_field(v, "Fix", c->c.fix);
		dl_field(v, "Wireshark", c->c.wireshark_filter);
		{
			size_t o = 0;
			b[0] = '\0';
			for (int i = 1; i < V_COUNT && o + 40 < sizeof(b); i++)
				if (c->c.signatures[i])
					o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%s x%llu", o ? ", " : "",
					                      verdict_name((enum verdict)i), (unsigned long long)c->c.signatures[i]);
			dl_field(v, "Signatures", b);
		}
		if (c->c.dns_unanswered) {
			snprintf(b, sizeof(b), "%llu unanswered queries", (unsigned long long)c->c.dns_unanswered);
			dl_field(v, "DNS", b);
		}
		if (c->c.ncovered) {
			size_t o = 0;
			b[0] = '\0';
			for (unsigned k = 0; k < c->c.ncovered && k < RANK_MAX_COVERED && o + 2 < sizeof(b); k++)
				o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%s", k ? ", " : "", c->c.covered[k]);
			dl_field(v, "Covers", b);
		}
		if (c->has_ev) {
			const struct evid_name *e = &c->ev;
			if (e->sni[0] && strcmp(e->sni, e->name) != 0)
				dl_field(v, "SNI", e->sni);
			dl_field(v, "CNAME chain", e->chain);
			{
				size_t o = 0;
				b[0] = '\0';
				for (unsigned k = 0; k < e->nja3 && k < EVID_MAX_JA3 && o + 40 < sizeof(b); k++)
					o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%s", k ? ", " : "", e->ja3[k]);
				snprintf(b + o, sizeof(b) - o, "%s", "");
			}
			{
				char line[1200];
				snprintf(line, sizeof(line), "%s   JA3 %s", e->app[0] ? e->app : "-", b[0] ? b : "-");
				dl_field(v, "App (nDPI)", line);
			}
			{
				size_t o = 0;
				b[0] = '\0';
				for (unsigned k = 0; k < e->nversions && k < EVID_MAX_VERSIONS; k++) {
					const char *vn = tls_version_name(e->versions[k]);
					o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%s", k ? ", " : "", vn ? vn : "?");
				}
				char f1[16], f2[16], line[1200];
				fmt_clock(f1, sizeof(f1), e->first_ts);
				fmt_clock(f2, sizeof(f2), e->last_ts);
				snprintf(line, sizeof(line), "%s   clients %u%s   connections %llu   first %s   last %s",
				         b[0] ? b : "-", e->nclients, e->clients_overflow ? "+" : "",
				         (unsigned long long)e->total, f1, f2);
				dl_field(v, "TLS", line);
			}
		}
	} else {
		dl_field(v, "Category", "not ranked yet (or beyond the first names shown)");
	}

	/* verdict history: this session's recent connections for the name */
	for (size_t i = s->nconns; i-- > 0;)
		if (conn_under(&s->conns[i], name, c)) {
			nconn++;
			if (!latest)
				latest = &s->conns[i];
		}
	{
		char line[1100];
		if (c && c->c.cat == CAT_CERTIFICATE)
			snprintf(line, sizeof(line), "%s", c->c.why);
		else
			snprintf(line, sizeof(line), "no certificate rule broken that the ranking knows of");
		if (latest && latest->cert_count) {
			size_t o = strlen(line);
			snprintf(line + o, sizeof(line) - o, "; the server sent %u certificate%s (latest connection)",
			         latest->cert_count, latest->cert_count == 1 ? "" : "s");
		} else if (latest && latest->version == 0x0304) {
			size_t o = strlen(line);
			snprintf(line + o, sizeof(line) - o, "; TLS 1.3: the chain is encrypted on the wire");
		}
		dl_field(v, "Certificate", line);
	}
	dl_add(v, R_NORMAL, "%s", "");
	dl_add(v, R_TITLE, "Verdict history (%zu recent connection%s, newest first)", nconn, nconn == 1 ? "" : "s");
	for (size_t i = s->nconns; i-- > 0;) {
		const struct ui_conn *x = &s->conns[i];
		char fr[96];
		if (!conn_under(x, name, c))
			continue;
		fmt_clock(t, sizeof(t), x->ts_ns);
		fmt_frames(fr, sizeof(fr), x->frames, x->nframes);
		for (unsigned k = 0; k < x->nframes && nall < 64; k++)
			allframes[nall++] = x->frames[k];
		snprintf(b, sizeof(b), "  %s %-15s %-18s %s -> %s  tcp.stream eq %llu  frames %s", t,
		         verdict_name(x->verdict), x->alert[0] ? x->alert : "-", x->client, x->server,
		         (unsigned long long)x->stream, fr[0] ? fr : "-");
		if (x->reaction_ms >= 0) {
			size_t o = strlen(b);
			snprintf(b + o, sizeof(b) - o, "  %.1f ms", x->reaction_ms);
		}
		dl_add(v, ui_role_verdict(x->verdict), "%s", b);
		if (x->reason[0])
			dl_add(v, R_DIM, "      %s%s%s", x->reason, x->app[0] ? "  app " : "", x->app);
	}
	if (c && c->has_ev && c->ev.nexamples) {
		dl_add(v, R_NORMAL, "%s", "");
		dl_add(v, R_TITLE, "Examples kept as evidence");
		for (unsigned k = 0; k < c->ev.nexamples && k < EVID_MAX_EXAMPLES; k++) {
			const struct evid_example *x = &c->ev.examples[k];
			char fr[96];
			fmt_frames(fr, sizeof(fr), x->frames, x->nframes);
			if (nconn == 0)
				for (unsigned j = 0; j < x->nframes && nall < 64; j++)
					allframes[nall++] = x->frames[j];
			fmt_clock(t, sizeof(t), x->ts_ns);
			dl_add(v, ui_role_verdict(x->verdict), "  %s %-15s %-18s %s -> %s  tcp.stream eq %llu  frames %s", t,
			       verdict_name(x->verdict), x->has_alert ? tls_alert_name(x->alert_desc) : "-", x->client,
			       x->server, (unsigned long long)x->stream, fr[0] ? fr : "-");
		}
	}
	if (nall) {
		size_t o = 0;
		unsigned u = 0;
		qsort(allframes, nall, sizeof(allframes[0]), cmp_u64);
		for (unsigned k = 0; k < nall; k++) /* ascending, each once */
			if (!u || allframes[u - 1] != allframes[k])
				allframes[u++] = allframes[k];
		nall = u;
		o += (size_t)snprintf(b, sizeof(b), "frame.number in {");
		for (unsigned k = 0; k < nall && o + 24 < sizeof(b); k++)
			o += (size_t)snprintf(b + o, sizeof(b) - o, "%s%llu", k ? " " : "", (unsigned long long)allframes[k]);
		snprintf(b + o, sizeof(b) - o, "}");
		dl_add(v, R_NORMAL, "%s", "");
		dl_field(v, "Frames", b);
	}
}

static void draw_detail(struct view *v, int y0, int h)
{
	char title[UI_RULE_LEN + 32];
	build_detail(v);
	snprintf(title, sizeof(title), ">DETAIL %s", v->detail);
	fill(y0, 0, v->W, R_HEADER_FOCUS);
	put(y0, 0, v->W, R_HEADER_FOCUS, title);
	int rows = h - 1;
	if (v->dscroll > v->ndl - rows)
		v->dscroll = v->ndl - rows;
	if (v->dscroll < 0)
		v->dscroll = 0;
	for (int r = 0; r < rows && v->dscroll + r < v->ndl; r++) {
		const struct dline *l = &v->dl[v->dscroll + r];
		put(y0 + 1 + r, 1, v->W - 1, l->role, l->text);
	}
}

static void draw_help(struct view *v, int y0, int h)
{
	static const char *const lines[] = {
		"Keys",
		"  Up/Down j/k     move (PgUp/PgDn, Home/End, g/G)",
		"  Tab             switch between the candidates and the lower pane",
		"  Enter           the selected name: evidence, verdict history, CNAME chain,",
		"                  JA3/app, certificate, Wireshark filter, frames",
		"  /               filter names, clients, verdicts (empty: no filter)",
		"  s               sort the focused pane (rank, failures, name, recent...)",
		"  space           pause: a replay waits; a live capture goes on",
		"  m               mark / unmark the name for the bypass list",
		"  e               export the marked names (else the bypass ones) to a file",
		"  w               save the captured packets (recent ones) as pcapng",
		"  d               DNS problems (unanswered, refused) / connections",
		"  Ctrl-L redraw   ? this help   q back, or quit    (status: drops kernel/if)",
		"Verdicts: healthy; rejections rst-after-hello, fin-after-hello, cert-alert,",
		"encrypted-abort, close-no-data; other-alert, server-abort, incomplete.",
		"Categories: bypass (exempt it), trust-store (CA into the tool), certificate",
		"(fix the interception cert), dns-blocked, inconclusive, healthy.",
		"Press any key to go back.",
	};
	int n = (int)(sizeof(lines) / sizeof(lines[0]));
	fill(y0, 0, v->W, R_HEADER_FOCUS);
	put(y0, 0, v->W, R_HEADER_FOCUS, ">HELP");
	for (int i = 0; i < n && i < h - 1; i++)
		put(y0 + 1 + i, 1, v->W - 1, i == 0 ? R_TITLE : R_NORMAL, lines[i]);
}

static void draw(struct view *v)
{
	getmaxyx(stdscr, v->H, v->W);
	erase();
	if (v->H < 8 || v->W < 30) {
		put(0, 0, v->W, R_MSG_ERR, "terminal too small");
		refresh();
		return;
	}
	build_orders(v);
	resync(v, P_CANDS);
	resync(v, P_CONNS);
	resync(v, P_DNS);
	draw_status(v);
	draw_summary(v);
	int top = 2, avail = v->H - 4;
	if (v->mode == M_DETAIL) {
		draw_detail(v, top, avail);
	} else if (v->mode == M_HELP) {
		draw_help(v, top, avail);
	} else {
		int h1 = avail / 2;
		v->cand_y = top;
		v->lower_y = top + h1;
		draw_cands(v, top, h1);
		if (v->lower == P_DNS)
			draw_dns(v, top + h1, avail - h1);
		else
			draw_conns(v, top + h1, avail - h1);
	}
	draw_help_line(v);
	draw_msg_line(v);
	curs_set(v->prompt != PR_NONE ? 1 : 0);
	refresh();
}

/* ---- prompts and actions ------------------------------------------------ */

static void prompt_start(struct view *v, enum prompt_kind k, const char *label, const char *init)
{
	v->prompt = k;
	pi_strlcpy(v->plabel, label, sizeof(v->plabel));
	pi_strlcpy(v->pbuf, init ? init : "", sizeof(v->pbuf));
	v->plen = strlen(v->pbuf);
}

/* Where files go by default: here, or /tmp when this directory is not
 * writable (after the drop to nobody it often is not). */
static const char *default_dir(void)
{
	return access(".", W_OK) == 0 ? "" : "/tmp/";
}

static void default_save_name(char *b, size_t n)
{
	time_t t = time(NULL);
	struct tm tm;
	char base[64];
	localtime_r(&t, &tm);
	strftime(base, sizeof(base), "pinspect-%Y%m%d-%H%M%S.pcapng", &tm);
	snprintf(b, n, "%s%s", default_dir(), base);
}

static void send_request(struct view *v, struct ui_request *rq)
{
	if (ui_model_request(v->m, rq) != 0)
		set_msg(v, 1, "busy with the previous request; try again in a moment");
	else
		set_msg(v, 0, "%s...", rq->kind == UI_REQ_SAVE ? "saving" : "exporting");
}

static void prompt_done(struct view *v)
{
	enum prompt_kind k = v->prompt;
	static struct ui_request rq; /* large: not on the stack */
	v->prompt = PR_NONE;
	switch (k) {
	case PR_FILTER:
		pi_strlcpy(v->filter, v->pbuf, sizeof(v->filter));
		ui_model_set_filter(v->m, v->filter);
		for (int i = 0; i < 3; i++) {
			v->p[i].sel = v->p[i].top = 0;
			v->p[i].key[0] = '\0';
			v->p[i].keyseq = 0;
			v->p[i].follow = 1;
		}
		if (v->filter[0])
			set_msg(v, 0, "filter \"%s\" (/ then Enter on an empty line clears it)", v->filter);
		else
			set_msg(v, 0, "filter cleared");
		break;
	case PR_EXPORT_FORMAT: {
		char def[300];
		if (!v->pbuf[0]) {
			set_msg(v, 1, "export cancelled: no format");
			break;
		}
		if (!out_candidates_format_known(v->pbuf)) {
			set_msg(v, 1, "unknown format '%s' (%s)", v->pbuf, EXPORT_FORMATS);
			break;
		}
		pi_strlcpy(v->export_fmt, v->pbuf, sizeof(v->export_fmt));
		snprintf(def, sizeof(def), "%spinspect-bypass.%s.txt", default_dir(), v->export_fmt);
		prompt_start(v, PR_EXPORT_PATH, "Export to file: ", def);
		break;
	}
	case PR_EXPORT_PATH:
		if (!v->pbuf[0]) {
			set_msg(v, 1, "export cancelled: no file");
			break;
		}
		memset(&rq, 0, sizeof(rq));
		rq.kind = UI_REQ_EXPORT;
		pi_strlcpy(rq.path, v->pbuf, sizeof(rq.path));
		pi_strlcpy(rq.format, v->export_fmt, sizeof(rq.format));
		rq.nmarks = v->nmarks;
		memcpy(rq.marks, v->marks, v->nmarks * sizeof(v->marks[0]));
		send_request(v, &rq);
		break;
	case PR_SAVE_PATH:
		if (!v->pbuf[0]) {
			set_msg(v, 1, "save cancelled: no file");
			break;
		}
		memset(&rq, 0, sizeof(rq));
		rq.kind = UI_REQ_SAVE;
		pi_strlcpy(rq.path, v->pbuf, sizeof(rq.path));
		send_request(v, &rq);
		break;
	default:
		break;
	}
}

/* A key while a prompt is open. */
static void prompt_key(struct view *v, int ch)
{
	if (ch == KEY_ESC || ch == CTRL('g') || ch == CTRL('c')) {
		v->prompt = PR_NONE;
		set_msg(v, 0, "cancelled");
	} else if (ch == '\n' || ch == '\r' || ch == KEY_ENTER) {
		prompt_done(v);
	} else if (ch == KEY_BACKSPACE || ch == 127 || ch == CTRL('h')) {
		if (v->plen)
			v->pbuf[--v->plen] = '\0';
	} else if (ch == CTRL('u')) {
		v->plen = 0;
		v->pbuf[0] = '\0';
	} else if (ch >= 0x20 && ch < 0x7f && v->plen + 1 < sizeof(v->pbuf)) {
		v->pbuf[v->plen++] = (char)ch;
		v->pbuf[v->plen] = '\0';
	}
}

/* The name the selection stands for in the focused pane. */
static const char *selected_name(struct view *v)
{
	struct pane *p = &v->p[v->focus];
	if (!p->n)
		return NULL;
	if (v->focus == P_CANDS)
		return v->s->cands[v->cand_ord[p->sel]].c.rule;
	if (v->focus == P_CONNS)
		return v->s->conns[v->conn_ord[p->sel]].key;
	return v->s->dns[v->dns_ord[p->sel]].name;
}

static void key_main(struct view *v, int ch)
{
	struct pane *p = &v->p[v->focus];
	int page = p->rows > 1 ? p->rows - 1 : 1;
	const char *name;
	switch (ch) {
	case KEY_UP:
	case 'k':
		move_sel(v, v->focus, -1);
		break;
	case KEY_DOWN:
	case 'j':
		move_sel(v, v->focus, 1);
		break;
	case KEY_PPAGE:
	case CTRL('b'):
		move_sel(v, v->focus, -page);
		break;
	case KEY_NPAGE:
	case CTRL('f'):
		move_sel(v, v->focus, page);
		break;
	case KEY_HOME:
	case 'g':
		move_sel(v, v->focus, -1000000);
		break;
	case KEY_END:
	case 'G':
		move_sel(v, v->focus, 1000000);
		break;
	case '\t':
	case KEY_BTAB:
		v->focus = v->focus == P_CANDS ? v->lower : P_CANDS;
		break;
	case 'd':
		v->lower = v->lower == P_CONNS ? P_DNS : P_CONNS;
		if (v->focus != P_CANDS)
			v->focus = v->lower;
		break;
	case '\n':
	case '\r':
	case KEY_ENTER:
		name = selected_name(v);
		if (name && *name) {
			pi_strlcpy(v->detail, name, sizeof(v->detail));
			v->dscroll = 0;
			v->mode = M_DETAIL;
		}
		break;
	case 's': {
		int n = v->focus == P_CANDS ? NSORT(cand_sorts) : v->focus == P_CONNS ? NSORT(conn_sorts) : NSORT(dns_sorts);
		p->sort = (p->sort + 1) % n;
		set_msg(v, 0, "%s sorted by %s", v->focus == P_CANDS ? "candidates" : v->focus == P_CONNS ? "connections" : "DNS problems",
		        v->focus == P_CANDS ? cand_sorts[p->sort] : v->focus == P_CONNS ? conn_sorts[p->sort] : dns_sorts[p->sort]);
		break;
	}
	case 'm':
		name = selected_name(v);
		if (name)
			mark_toggle(v, name);
		break;
	default:
		break;
	}
}

/* Mouse (optional, as in htop): a click selects a row and focuses its
 * pane, a double click opens the name, the wheel moves the selection or
 * scrolls the detail view. */
static void mouse_event(struct view *v)
{
	MEVENT ev;
	int pane, row;
	if (getmouse(&ev) != OK)
		return;
	if (ev.bstate & (BUTTON4_PRESSED | BUTTON5_PRESSED)) {
		int d = (ev.bstate & BUTTON4_PRESSED) ? -3 : 3;
		if (v->mode == M_DETAIL)
			v->dscroll += d;
		else if (v->mode == M_MAIN)
			move_sel(v, ev.y >= v->lower_y ? v->lower : P_CANDS, d);
		return;
	}
	if (v->mode != M_MAIN || !(ev.bstate & (BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED)))
		return;
	if (ev.y > v->cand_y && ev.y < v->lower_y) {
		pane = P_CANDS;
		row = ev.y - v->cand_y - 1;
	} else if (ev.y > v->lower_y && ev.y < v->H - 2) {
		pane = v->lower;
		row = ev.y - v->lower_y - 1;
	} else {
		return;
	}
	v->focus = pane;
	if (v->p[pane].top + row >= (int)v->p[pane].n)
		return;
	move_sel(v, pane, v->p[pane].top + row - v->p[pane].sel);
	if (ev.bstate & BUTTON1_DOUBLE_CLICKED)
		key_main(v, '\n');
}

static void key_global(struct view *v, int ch, int *quit)
{
	switch (ch) {
	case 'q':
	case 'Q':
		if (v->mode != M_MAIN)
			v->mode = M_MAIN;
		else
			*quit = 1;
		return;
	case KEY_ESC:
		if (v->mode != M_MAIN)
			v->mode = M_MAIN;
		return;
	case '?':
	case KEY_F(1):
		v->mode = v->mode == M_HELP ? M_MAIN : M_HELP;
		return;
	case CTRL('l'):
		clearok(curscr, TRUE);
		return;
	case ' ':
		v->paused = !v->paused;
		ui_model_set_paused(v->m, v->paused);
		set_msg(v, 0, "%s", v->paused ? (v->o->replay ? "paused: the replay waits (space resumes)"
		                                               : "view paused: the capture goes on (space resumes)")
		                               : "resumed");
		return;
	case '/':
		prompt_start(v, PR_FILTER, "Filter: ", v->filter);
		return;
	case 'e':
		prompt_start(v, PR_EXPORT_FORMAT, "Export format: ", v->export_fmt);
		return;
	case 'w': {
		char def[96];
		default_save_name(def, sizeof(def));
		prompt_start(v, PR_SAVE_PATH, "Save captured packets to: ", def);
		return;
	}
	default:
		break;
	}
	if (v->mode == M_HELP) {
		v->mode = M_MAIN; /* any other key leaves the help */
		return;
	}
	if (v->mode == M_DETAIL) {
		switch (ch) {
		case KEY_UP:
		case 'k':
			v->dscroll--;
			break;
		case KEY_DOWN:
		case 'j':
			v->dscroll++;
			break;
		case KEY_PPAGE:
			v->dscroll -= v->H / 2;
			break;
		case KEY_NPAGE:
			v->dscroll += v->H / 2;
			break;
		case KEY_HOME:
		case 'g':
			v->dscroll = 0;
			break;
		case KEY_LEFT:
		case KEY_BACKSPACE:
		case 127:
		case '\n':
		case '\r':
		case KEY_ENTER:
			v->mode = M_MAIN;
			break;
		case 'm':
			mark_toggle(v, v->detail);
			break;
		default:
			break;
		}
		return;
	}
	key_main(v, ch);
}

/* The caller sets LC_CTYPE (setlocale(LC_CTYPE, "")) before it starts
 * other threads: setlocale is not thread-safe. */
int tui_run(struct ui_model *m, const struct tui_opts *o, volatile sig_atomic_t *stop, char *err, size_t errlen)
{
	struct view *v = calloc(1, sizeof(*v));
	SCREEN *scr;
	int quit = 0, dirty = 1;
	uint64_t last_gen = 0;
	time_t last_sec = 0;

	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	v->dl = calloc(DETAIL_MAX_LINES, sizeof(*v->dl));
	if (!v->dl) {
		free(v);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	scr = newterm(NULL, stdout, stdin);
	if (!scr) {
		snprintf(err, errlen, "cannot use the terminal (TERM=%s)", getenv("TERM") ? getenv("TERM") : "");
		free(v->dl);
		free(v);
		return -1;
	}
	set_term(scr);
	cbreak();
	noecho();
	nonl();
	keypad(stdscr, TRUE);
	set_escdelay(25);
	timeout(100);
	curs_set(0);
	if (!getenv("PINSPECT_NO_MOUSE"))
		mousemask(BUTTON1_CLICKED | BUTTON1_DOUBLE_CLICKED | BUTTON4_PRESSED | BUTTON5_PRESSED, NULL);
	mouseinterval(200);
	ui_colors_init(o->color);

	v->m = m;
	v->o = o;
	v->focus = P_CANDS;
	v->lower = P_CONNS;
	for (int i = 0; i < 3; i++)
		v->p[i].follow = 1;
	pi_strlcpy(v->export_fmt, o->export_format ? o->export_format : "zscaler", sizeof(v->export_fmt));
	v->s = ui_model_latest(m, &dirty);
	dirty = 1;

	while (!quit && !(stop && *stop)) {
		int fresh = 0, ok = 1, ch;
		char reply[512];
		if (!v->paused) {
			v->s = ui_model_latest(m, &fresh);
			if (fresh && v->s->gen != last_gen) {
				last_gen = v->s->gen;
				dirty = 1;
			}
		}
		if (ui_model_take_reply(m, reply, sizeof(reply), &ok)) {
			set_msg(v, !ok, "%s", reply);
			dirty = 1;
		}
		if (v->msg[0] && time(NULL) != last_sec) {
			last_sec = time(NULL); /* let old messages expire */
			if (last_sec - v->msg_at >= MSG_SECONDS)
				dirty = 1;
		}
		if (dirty) {
			draw(v);
			dirty = 0;
		}
		ch = getch();
		if (ch == ERR)
			continue;
		dirty = 1;
		if (ch == KEY_RESIZE)
			continue; /* curses has resized stdscr; redraw */
		if (ch == KEY_MOUSE) {
			if (v->prompt == PR_NONE)
				mouse_event(v);
			continue;
		}
		if (v->prompt != PR_NONE)
			prompt_key(v, ch);
		else
			key_global(v, ch, &quit);
	}
	ui_model_set_quit(m);
	endwin();
	delscreen(scr);
	free(v->dl);
	free(v);
	return 0;
}
