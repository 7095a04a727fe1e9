/* zsatunnel.c: ZSATunnel log parser: decoding, line splitting, records, per-ID correlation, per-host aggregates.
 *
 * Layers, each bounded:
 *   decode   common/textdec: BOM / UTF-16 detection at the start of every
 *            input; UTF-16 is turned into UTF-8 (lone surrogates become
 *            U+FFFD, and so does a code unit or pair cut by the input's end).
 *   lines    LF, CRLF and lone CR end a line; a line is kept up to
 *            ZSAT_MAX_LINE bytes (the rest is dropped, counted).
 *   records  a line starting "DDDD-" or "DDDD/" starts a record; other lines
 *            are joined to the open record (up to ZSAT_MAX_RECORD).
 *   tunnels  a fixed table of ZSAT_MAX_IDS slots, hashed by ID, in an LRU
 *            list; hosts in a growing array (ZSAT_MAX_HOSTS at most) with a
 *            fixed hash index.
 * See zsatunnel.h for the lines read and the failure signature.
 */
#include "analysis/zsatunnel.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/textdec.h"
#include "common/util.h"
#include "outputs/jw.h"

#define ID_BUCKETS   32768u   /* power of two, >= 2 * ZSAT_MAX_IDS */
#define HOST_BUCKETS 131072u  /* power of two, > ZSAT_MAX_HOSTS */

struct idslot {
	uint64_t id;
	uint64_t t_exc, t_close;
	uint64_t clt, srv;
	uint32_t host;        /* index + 1; 0: none */
	int32_t hnext;        /* bucket chain */
	int32_t prev, next;   /* LRU list (oldest at head), or free list (next) */
	uint8_t exc_both, have_close;
};

struct zsat_log {
	enum zsat_offset_mode mode;
	struct zsat_stats st;

	struct textdec td;    /* encoding, per input */
	int skip_lf;          /* the last line ended with CR: a following LF is part of it */

	/* current physical line */
	char line[ZSAT_MAX_LINE + 1];
	size_t linelen;
	int line_cut;

	/* open record */
	char rec[ZSAT_MAX_RECORD + 1];
	size_t reclen;
	uint64_t rec_lines;   /* 0: no open record */
	int rec_cut;

	/* tunnels */
	struct idslot *slots;
	int32_t *buckets;
	int32_t lru_head, lru_tail, free_head;
	size_t nlive;

	/* hosts */
	struct zsat_host *hosts;
	uint32_t *hnext;
	uint32_t *hbuckets;   /* index + 1 */
	size_t nhosts, caphosts;
};

/* ---- small text helpers ------------------------------------------------ */

static int lc(int c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

static int is_digit(int c)
{
	return c >= '0' && c <= '9';
}

/* Case-insensitive search of an ASCII needle in a NUL-terminated string. */
static const char *ci_find(const char *hay, const char *needle)
{
	size_t n = strlen(needle);
	int first = lc((unsigned char)needle[0]);
	for (; *hay; hay++) {
		size_t i;
		if (lc((unsigned char)*hay) != first)
			continue;
		for (i = 1; i < n; i++)
			if (!hay[i] || lc((unsigned char)hay[i]) != lc((unsigned char)needle[i]))
				break;
		if (i == n)
			return hay;
	}
	return NULL;
}

/* Digits at s into *v (saturating at UINT64_MAX); returns digits read. */
static size_t read_u64(const char *s, uint64_t *v)
{
	size_t i = 0;
	uint64_t x = 0;
	while (is_digit((unsigned char)s[i])) {
		unsigned d = (unsigned)(s[i] - '0');
		x = x > (UINT64_MAX - d) / 10 ? UINT64_MAX : x * 10 + d;
		i++;
	}
	*v = x;
	return i;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
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

static void civil_from_days(int64_t z, int *y, unsigned *m, unsigned *d)
{
	int64_t era;
	unsigned doe, yoe, doy, mp;
	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = (unsigned)(z - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int)((int64_t)yoe + era * 400 + (*m <= 2));
}

/* "YYYY-MM-DDTHH:MM:SS.ffffffZ" of ns since the epoch (UTC). */
static void fmt_time(uint64_t ns, char *out, size_t outlen)
{
	int64_t secs = (int64_t)(ns / 1000000000ull);
	int64_t days = secs / 86400, rem = secs % 86400;
	int y;
	unsigned m, d;
	civil_from_days(days, &y, &m, &d);
	snprintf(out, outlen, "%04d-%02u-%02uT%02u:%02u:%02u.%06uZ", y, m, d,
		 (unsigned)(rem / 3600), (unsigned)(rem / 60 % 60), (unsigned)(rem % 60),
		 (unsigned)(ns % 1000000000ull / 1000));
}

/* n digits at s[*i] into *v; returns 1 when all were digits. */
static int fixed_digits(const char *s, size_t len, size_t *i, unsigned n, unsigned *v)
{
	unsigned x = 0;
	if (*i + n > len)
		return 0;
	for (unsigned k = 0; k < n; k++) {
		if (!is_digit((unsigned char)s[*i + k]))
			return 0;
		x = x * 10 + (unsigned)(s[*i + k] - '0');
	}
	*i += n;
	*v = x;
	return 1;
}

/* Returns bytes read (> 0) of a timestamp at the start of s, else 0. */
size_t zsat_parse_time(const char *s, size_t n, enum zsat_offset_mode mode,
                       uint64_t *ns, int32_t *off_min, int *has_off)
{
	size_t i = 0;
	unsigned y, mo, d, h, mi, se, frac = 0, fd = 0;
	int64_t t;
	int32_t off = 0;
	int hoff = 0;
	char sep;

	if (!fixed_digits(s, n, &i, 4, &y) || i >= n || (s[i] != '-' && s[i] != '/'))
		return 0;
	sep = s[i++];
	if (!fixed_digits(s, n, &i, 2, &mo) || i >= n || s[i++] != sep ||
	    !fixed_digits(s, n, &i, 2, &d))
		return 0;
	if (i >= n || (s[i] != ' ' && s[i] != 'T' && s[i] != '_'))
		return 0;
	while (i < n && (s[i] == ' ' || s[i] == 'T' || s[i] == '_'))
		i++;
	if (!fixed_digits(s, n, &i, 2, &h) || i >= n || s[i++] != ':' ||
	    !fixed_digits(s, n, &i, 2, &mi) || i >= n || s[i++] != ':' ||
	    !fixed_digits(s, n, &i, 2, &se))
		return 0;
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || se > 60)
		return 0;
	if (i < n && (s[i] == '.' || s[i] == ',') && i + 1 < n && is_digit((unsigned char)s[i + 1])) {
		i++;
		while (i < n && is_digit((unsigned char)s[i])) {
			if (fd < 9) {
				frac = frac * 10 + (unsigned)(s[i] - '0');
				fd++;
			}
			i++;
		}
		while (fd < 9) {
			frac *= 10;
			fd++;
		}
	}
	/* optional offset: [space]["("]("+"|"-")HH[":"]MM[")"] or "Z" */
	{
		size_t j = i, save = i;
		int paren = 0;
		while (j < n && s[j] == ' ' && j - i < 2)
			j++;
		if (j < n && s[j] == '(') {
			paren = 1;
			j++;
		}
		if (j < n && (s[j] == 'Z' || s[j] == 'z') && !paren) {
			hoff = 1;
			i = j + 1;
		} else if (j < n && (s[j] == '+' || s[j] == '-')) {
			int neg = s[j] == '-';
			unsigned oh, om = 0;
			size_t k = j + 1;
			if (fixed_digits(s, n, &k, 2, &oh)) {
				if (k < n && s[k] == ':')
					k++;
				if (fixed_digits(s, n, &k, 2, &om) || (k < n && !is_digit((unsigned char)s[k]))) {
					if (oh <= 18 && om <= 59 && (!paren || (k < n && s[k] == ')'))) {
						off = (int32_t)(oh * 60 + om) * (neg ? -1 : 1);
						hoff = 1;
						i = k + (paren ? 1 : 0);
					}
				}
			}
		}
		if (!hoff)
			i = save;
	}
	t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 + se;
	if (hoff && mode == ZSAT_OFFSET_HONOUR)
		t -= (int64_t)off * 60;
	if (t < 0)
		t = 0;
	*ns = (uint64_t)t * 1000000000ull + frac;
	*off_min = off;
	*has_off = hoff;
	return i;
}

/* ---- hosts ----------------------------------------------------------- */

/* Returns the host's index + 1, created if new; 0 when the table is full or
 * out of memory (counted). */
static uint32_t host_get(struct zsat_log *z, const char *name)
{
	size_t len = strlen(name);
	uint32_t b = (uint32_t)(pi_hash(name, len, 0x7a736174u) & (HOST_BUCKETS - 1));
	struct zsat_host *h;

	for (uint32_t k = z->hbuckets[b]; k; k = z->hnext[k - 1])
		if (strcmp(z->hosts[k - 1].host, name) == 0)
			return k;
	if (z->nhosts >= ZSAT_MAX_HOSTS) {
		z->st.hosts_dropped++;
		return 0;
	}
	if (z->nhosts == z->caphosts) {
		size_t nc = z->caphosts ? z->caphosts * 2 : 64;
		struct zsat_host *nh = realloc(z->hosts, nc * sizeof *nh);
		uint32_t *nn;
		if (!nh) {
			z->st.hosts_dropped++;
			return 0;
		}
		z->hosts = nh;
		nn = realloc(z->hnext, nc * sizeof *nn);
		if (!nn) {
			z->st.hosts_dropped++;
			return 0;
		}
		z->hnext = nn;
		z->caphosts = nc;
	}
	h = &z->hosts[z->nhosts];
	memset(h, 0, sizeof *h);
	pi_strlcpy(h->host, name, sizeof h->host);
	z->hnext[z->nhosts] = z->hbuckets[b];
	z->hbuckets[b] = (uint32_t)(z->nhosts + 1);
	z->nhosts++;
	return (uint32_t)z->nhosts;
}

static void host_touch(struct zsat_host *h, uint64_t ns)
{
	if (!ns)
		return;
	if (!h->first_ns || ns < h->first_ns)
		h->first_ns = ns;
	if (ns > h->last_ns)
		h->last_ns = ns;
}

/* ---- the ID table ------------------------------------------------------- */

static uint32_t id_bucket(uint64_t id)
{
	return (uint32_t)((id * 0x9E3779B97F4A7C15ull) >> 49) & (ID_BUCKETS - 1);
}

static void lru_unlink(struct zsat_log *z, int32_t i)
{
	struct idslot *s = &z->slots[i];
	if (s->prev >= 0)
		z->slots[s->prev].next = s->next;
	else
		z->lru_head = s->next;
	if (s->next >= 0)
		z->slots[s->next].prev = s->prev;
	else
		z->lru_tail = s->prev;
	s->prev = s->next = -1;
}

static void lru_append(struct zsat_log *z, int32_t i)
{
	struct idslot *s = &z->slots[i];
	s->next = -1;
	s->prev = z->lru_tail;
	if (z->lru_tail >= 0)
		z->slots[z->lru_tail].next = i;
	else
		z->lru_head = i;
	z->lru_tail = i;
}

/* Returns the slot of id (moved to the LRU tail), or -1. */
static int32_t id_find(struct zsat_log *z, uint64_t id)
{
	for (int32_t i = z->buckets[id_bucket(id)]; i >= 0; i = z->slots[i].hnext) {
		if (z->slots[i].id == id) {
			lru_unlink(z, i);
			lru_append(z, i);
			return i;
		}
	}
	return -1;
}

/* Decide a finished tunnel: a failure signature or not. */
static void finalise(struct zsat_log *z, struct idslot *s)
{
	struct zsat_host *h;
	uint64_t t;

	if (!s->host)
		return;
	h = &z->hosts[s->host - 1];
	if (!(s->exc_both && s->have_close && s->clt < ZSAT_SIG_MAX_CLT && s->srv < ZSAT_SIG_MAX_SRV))
		return;
	h->signatures++;
	t = s->t_exc ? s->t_exc : s->t_close;
	if (t) {
		if (!h->first_sig_ns || t < h->first_sig_ns)
			h->first_sig_ns = t;
		if (t > h->last_sig_ns)
			h->last_sig_ns = t;
	}
	if (h->nexamples < ZSAT_MAX_EXAMPLES) {
		struct zsat_example *e = &h->examples[h->nexamples++];
		e->id = s->id;
		e->ts_ns = t;
		e->clt_bytes = s->clt;
		e->srv_bytes = s->srv;
	}
}

static void id_remove(struct zsat_log *z, int32_t i)
{
	int32_t *pp = &z->buckets[id_bucket(z->slots[i].id)];
	while (*pp >= 0 && *pp != i)
		pp = &z->slots[*pp].hnext;
	if (*pp == i)
		*pp = z->slots[i].hnext;
	lru_unlink(z, i);
	z->slots[i].next = z->free_head;
	z->free_head = i;
	z->nlive--;
}

/* Returns a fresh slot for id; the oldest open tunnel is finalised and
 * evicted when the table is full. */
static int32_t id_insert(struct zsat_log *z, uint64_t id)
{
	int32_t i;
	struct idslot *s;
	uint32_t b = id_bucket(id);

	if (z->free_head < 0) {
		int32_t old = z->lru_head;
		finalise(z, &z->slots[old]);
		id_remove(z, old);
		z->st.ids_evicted++;
	}
	i = z->free_head;
	s = &z->slots[i];
	z->free_head = s->next;
	memset(s, 0, sizeof *s);
	s->id = id;
	s->hnext = z->buckets[b];
	z->buckets[b] = i;
	s->prev = s->next = -1;
	lru_append(z, i);
	z->nlive++;
	return i;
}

/* ---- records ------------------------------------------------------------- */

/* The tunnel ID of a record: "ID=" not preceded by a word character. */
static int find_id(const char *s, uint64_t *id)
{
	const char *p = s;
	while ((p = strstr(p, "ID=")) != NULL) {
		int wordc = p > s && (is_digit((unsigned char)p[-1]) ||
				      (lc((unsigned char)p[-1]) >= 'a' && lc((unsigned char)p[-1]) <= 'z') ||
				      p[-1] == '_');
		if (!wordc && is_digit((unsigned char)p[3]) && read_u64(p + 3, id) <= 20)
			return 1;
		p += 3;
	}
	return 0;
}

/* Copy a token (up to ',', blank or end) of at most outlen-1 bytes; returns
 * its full length. */
static size_t token(const char *s, char *out, size_t outlen)
{
	size_t n = 0;
	while (s[n] && s[n] != ',' && s[n] != ' ' && s[n] != '\t' && s[n] != ';')
		n++;
	if (outlen) {
		size_t c = n < outlen - 1 ? n : outlen - 1;
		memcpy(out, s, c);
		out[c] = '\0';
	}
	return n;
}

/* Split "host:port", "[v6]:port" or "host" into a lower-case host and a
 * port. Returns 0 when nothing usable is left. */
static int split_host(char *t, uint16_t *port)
{
	char *colon;
	uint64_t v;
	*port = 0;
	if (t[0] == '[') {
		char *e = strchr(t, ']');
		if (!e)
			return 0;
		*e = '\0';
		if (e[1] == ':' && read_u64(e + 2, &v) && v <= 65535)
			*port = (uint16_t)v;
		memmove(t, t + 1, strlen(t + 1) + 1);
	} else if ((colon = strrchr(t, ':')) != NULL && strchr(t, ':') == colon) {
		size_t nd = read_u64(colon + 1, &v);
		if (nd && !colon[1 + nd] && v <= 65535)
			*port = (uint16_t)v;
		*colon = '\0';
	}
	for (char *p = t; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (c < 0x21 || c == 0x7f || c == '"' || c == '\\')
			return 0;
		*p = (char)lc(c);
	}
	while (*t && t[strlen(t) - 1] == '.')
		t[strlen(t) - 1] = '\0';
	return t[0] != '\0';
}

static int zsat_tables(struct zsat_log *z);

/* Returns 1 when the record was one of the three kinds and was used. */
static int parse_record(struct zsat_log *z, char *s, size_t n)
{
	uint64_t ns = 0, id;
	int32_t off = 0;
	int has_off = 0;
	const char *p;
	int32_t si;

	if (!zsat_parse_time(s, n, z->mode, &ns, &off, &has_off)) {
		z->st.bad_time++;
		ns = 0;
	} else if (!has_off) {
		z->st.no_offset++;
	} else {
		if (z->st.offset_seen && z->st.utc_offset_min != off)
			z->st.offsets_mixed = 1;
		z->st.utc_offset_min = off;
		z->st.offset_seen = 1;
	}
	if (!find_id(s, &id))
		return 0;
	if (!z->slots && zsat_tables(z) != 0) {
		z->st.hosts_dropped++; /* out of memory: the record is not kept */
		return 0;
	}

	if ((p = ci_find(s, "Tunnel to SME for host=")) != NULL) {
		char name[512], sme[64] = "";
		uint16_t port;
		uint32_t hk;
		const char *q;
		struct zsat_host *h;
		if (token(p + strlen("Tunnel to SME for host="), name, sizeof name) >= sizeof name)
			return 0;
		if (!split_host(name, &port) || strlen(name) > 255)
			return 0;
		if ((q = ci_find(p, "SME IP=")) != NULL)
			token(q + strlen("SME IP="), sme, sizeof sme);
		si = id_find(z, id);
		if (si >= 0) { /* the ID again: the earlier tunnel is over */
			finalise(z, &z->slots[si]);
			id_remove(z, si);
		}
		hk = host_get(z, name);
		si = id_insert(z, id);
		z->slots[si].host = hk;
		if (hk) {
			h = &z->hosts[hk - 1];
			h->tunnels++;
			if (port)
				h->port = port;
			if (sme[0])
				pi_strlcpy(h->sme, sme, sizeof h->sme);
			host_touch(h, ns);
		}
		return 1;
	}

	if ((p = ci_find(s, "Both client and server sockets are closed")) != NULL ||
	    ci_find(s, "Exception in") != NULL) {
		si = id_find(z, id);
		if (si < 0) {
			z->st.orphans++;
			return 0;
		}
		if (z->slots[si].host) {
			struct zsat_host *h = &z->hosts[z->slots[si].host - 1];
			if (p)
				h->closed_both++;
			else
				h->other_exceptions++;
			host_touch(h, ns);
		}
		if (p) {
			z->slots[si].exc_both = 1;
			z->slots[si].t_exc = ns;
		}
		return 1;
	}

	if (ci_find(s, "ZTCPServerConnection") && (p = ci_find(s, "clt_bytes=")) != NULL) {
		uint64_t clt = 0, srv = 0;
		const char *q = ci_find(s, "srv_bytes=");
		if (!read_u64(p + strlen("clt_bytes="), &clt))
			return 0;
		if (q)
			(void)read_u64(q + strlen("srv_bytes="), &srv);
		si = id_find(z, id);
		if (si < 0) {
			z->st.orphans++;
			return 0;
		}
		z->slots[si].have_close = 1;
		z->slots[si].clt = clt;
		z->slots[si].srv = q ? srv : UINT64_MAX;
		z->slots[si].t_close = ns;
		if (z->slots[si].host) {
			struct zsat_host *h = &z->hosts[z->slots[si].host - 1];
			h->closes++;
			h->clt_bytes += clt;
			h->srv_bytes += q ? srv : 0;
			host_touch(h, ns);
		}
		finalise(z, &z->slots[si]);
		id_remove(z, si);
		return 1;
	}
	return 0;
}

static void flush_record(struct zsat_log *z)
{
	if (!z->rec_lines)
		return;
	z->rec[z->reclen] = '\0';
	if (parse_record(z, z->rec, z->reclen)) {
		z->st.used += z->rec_lines;
		z->st.records++;
	} else {
		z->st.skipped += z->rec_lines;
	}
	if (z->rec_cut)
		z->st.lines_cut++;
	z->rec_lines = 0;
	z->reclen = 0;
	z->rec_cut = 0;
}

static int starts_record(const char *s, size_t n)
{
	return n >= 6 && is_digit((unsigned char)s[0]) && is_digit((unsigned char)s[1]) &&
	       is_digit((unsigned char)s[2]) && is_digit((unsigned char)s[3]) &&
	       (s[4] == '-' || s[4] == '/') && is_digit((unsigned char)s[5]);
}

static void rec_append(struct zsat_log *z, const char *s, size_t n)
{
	size_t room = ZSAT_MAX_RECORD - z->reclen;
	if (n > room) {
		n = room;
		z->rec_cut = 1;
	}
	memcpy(z->rec + z->reclen, s, n);
	z->reclen += n;
}

static void end_line(struct zsat_log *z)
{
	char *s = z->line;
	size_t n = z->linelen;

	z->st.lines++;
	if (z->line_cut)
		z->st.lines_cut++;
	z->linelen = 0;
	z->line_cut = 0;
	while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
		n--;
	if (starts_record(s, n)) {
		flush_record(z);
		rec_append(z, s, n);
		z->rec_lines = 1;
		return;
	}
	while (n && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	if (!n || !z->rec_lines) {
		z->st.skipped++;
		return;
	}
	rec_append(z, " ", 1);
	rec_append(z, s, n);
	z->rec_lines++;
}

/* Decoded UTF-8 text into lines (a textdec_emit_fn; ctx is the log). */
static void text_in(void *ctx, const char *p, size_t n)
{
	struct zsat_log *z = ctx;

	while (n) {
		size_t k = 0, room, c;
		if (z->skip_lf) {
			z->skip_lf = 0;
			if (*p == '\n') {
				p++;
				n--;
				continue;
			}
		}
		while (k < n && p[k] != '\n' && p[k] != '\r')
			k++;
		room = ZSAT_MAX_LINE - z->linelen;
		c = k < room ? k : room;
		if (c < k)
			z->line_cut = 1;
		memcpy(z->line + z->linelen, p, c);
		z->linelen += c;
		if (k == n)
			return;
		z->line[z->linelen] = '\0';
		end_line(z);
		z->skip_lf = p[k] == '\r';
		p += k + 1;
		n -= k + 1;
	}
}

/* ---- public interface -------------------------------------------------- */

/* Returns a new log, or NULL when out of memory. */
struct zsat_log *zsat_new(void)
{
	struct zsat_log *z = calloc(1, sizeof *z);
	if (!z)
		return NULL;
	z->free_head = -1;
	z->lru_head = z->lru_tail = -1; /* the tables come with the first record */
	return z;
}

/* The tunnel and host tables (1.7 MB), made at the first record: none
 * without logs. 0, or -1 when out of memory (nothing kept then). */
static int zsat_tables(struct zsat_log *z)
{
	z->slots = calloc(ZSAT_MAX_IDS, sizeof *z->slots);
	z->buckets = malloc(ID_BUCKETS * sizeof *z->buckets);
	z->hbuckets = calloc(HOST_BUCKETS, sizeof *z->hbuckets);
	if (!z->slots || !z->buckets || !z->hbuckets) {
		free(z->slots);
		free(z->buckets);
		free(z->hbuckets);
		z->slots = NULL;
		z->buckets = NULL;
		z->hbuckets = NULL;
		return -1;
	}
	for (uint32_t i = 0; i < ID_BUCKETS; i++)
		z->buckets[i] = -1;
	for (uint32_t i = 0; i < ZSAT_MAX_IDS; i++)
		z->slots[i].next = i + 1 < ZSAT_MAX_IDS ? (int32_t)(i + 1) : -1;
	z->free_head = 0;
	return 0;
}

/* Frees everything; z may be NULL. */
void zsat_free(struct zsat_log *z)
{
	if (!z)
		return;
	free(z->slots);
	free(z->buckets);
	free(z->hbuckets);
	free(z->hosts);
	free(z->hnext);
	free(z);
}

void zsat_set_offset_mode(struct zsat_log *z, enum zsat_offset_mode mode)
{
	z->mode = mode;
}

/* Consumes len bytes of the current input. */
void zsat_feed(struct zsat_log *z, const char *data, size_t len)
{
	textdec_feed(&z->td, data, len, text_in, z);
	z->st.bytes = z->td.bytes;
	z->st.utf16_inputs = z->td.utf16_inputs;
}

/* Ends the current input; see zsatunnel.h. */
void zsat_end(struct zsat_log *z)
{
	if (textdec_end(&z->td, text_in, z)) /* a cut code unit or pair */
		text_in(z, "\xEF\xBF\xBD", 3);
	z->st.utf16_inputs = z->td.utf16_inputs;
	if (z->linelen || z->line_cut) {
		z->line[z->linelen] = '\0';
		end_line(z);
	}
	flush_record(z);
	z->st.inputs++;
	z->skip_lf = 0;
}

/* Finalises every open tunnel; idempotent. */
void zsat_finish(struct zsat_log *z)
{
	while (z->lru_head >= 0) {
		int32_t i = z->lru_head;
		finalise(z, &z->slots[i]);
		id_remove(z, i);
	}
}

/* Returns the number of hosts (after zsat_finish()). */
size_t zsat_host_count(struct zsat_log *z)
{
	zsat_finish(z);
	return z->nhosts;
}

/* Returns host i, or NULL past the end; owned by z. */
const struct zsat_host *zsat_host(struct zsat_log *z, size_t i)
{
	zsat_finish(z);
	return i < z->nhosts ? &z->hosts[i] : NULL;
}

/* Returns the host named name (lower-case, no port), or NULL. */
const struct zsat_host *zsat_find(struct zsat_log *z, const char *host)
{
	uint32_t b;
	zsat_finish(z);
	if (!z->hbuckets)
		return NULL;
	b = (uint32_t)(pi_hash(host, strlen(host), 0x7a736174u) & (HOST_BUCKETS - 1));
	for (uint32_t k = z->hbuckets[b]; k; k = z->hnext[k - 1])
		if (strcmp(z->hosts[k - 1].host, host) == 0)
			return &z->hosts[k - 1];
	return NULL;
}

/* Returns the counters; owned by z. */
const struct zsat_stats *zsat_stats(const struct zsat_log *z)
{
	return &z->st;
}

static int host_cmp(const void *a, const void *b)
{
	const struct zsat_host *x = *(const struct zsat_host *const *)a;
	const struct zsat_host *y = *(const struct zsat_host *const *)b;
	if (x->signatures != y->signatures)
		return x->signatures > y->signatures ? -1 : 1;
	if (x->closed_both != y->closed_both)
		return x->closed_both > y->closed_both ? -1 : 1;
	if (x->tunnels != y->tunnels)
		return x->tunnels > y->tunnels ? -1 : 1;
	return strcmp(x->host, y->host);
}

static void json_time(struct jw *w, const char *key, uint64_t ns)
{
	char t[40];
	if (!ns) {
		jw_key(w, key);
		jw_null(w);
		return;
	}
	fmt_time(ns, t, sizeof t);
	jw_kstr(w, key, t);
}

/* Writes one JSON object value; see zsatunnel.h. */
void zsat_write_json(struct zsat_log *z, struct jw *w)
{
	const struct zsat_host **v = NULL;
	const struct zsat_stats *st = &z->st;

	zsat_finish(z);
	if (z->nhosts)
		v = malloc(z->nhosts * sizeof *v);
	jw_obj_open(w);
	jw_kstr(w, "kind", "zsatunnel");
	jw_kuint(w, "inputs", st->inputs);
	jw_kuint(w, "lines", st->lines);
	jw_kuint(w, "lines_used", st->used);
	jw_kuint(w, "lines_skipped", st->skipped);
	jw_kuint(w, "records", st->records);
	jw_kuint(w, "lines_cut", st->lines_cut);
	jw_kuint(w, "bad_time", st->bad_time);
	jw_kuint(w, "no_utc_offset", st->no_offset);
	jw_kuint(w, "orphans", st->orphans);
	jw_kuint(w, "ids_evicted", st->ids_evicted);
	jw_kuint(w, "hosts_dropped", st->hosts_dropped);
	jw_kuint(w, "utf16_inputs", st->utf16_inputs);
	jw_key(w, "utc_offset_min");
	if (st->offset_seen)
		jw_int(w, st->utc_offset_min);
	else
		jw_null(w);
	jw_kbool(w, "utc_offsets_mixed", st->offsets_mixed);
	jw_kstr(w, "offset_mode", z->mode == ZSAT_OFFSET_HONOUR ? "honoured" : "information");
	jw_key(w, "signature_rule");
	jw_obj_open(w);
	jw_kstr(w, "exception", "Both client and server sockets are closed");
	jw_kuint(w, "clt_bytes_below", ZSAT_SIG_MAX_CLT);
	jw_kuint(w, "srv_bytes_below", ZSAT_SIG_MAX_SRV);
	jw_obj_close(w);
	jw_key(w, "hosts");
	jw_arr_open(w);
	if (v) {
		for (size_t i = 0; i < z->nhosts; i++)
			v[i] = &z->hosts[i];
		qsort(v, z->nhosts, sizeof *v, host_cmp);
		for (size_t i = 0; i < z->nhosts; i++) {
			const struct zsat_host *h = v[i];
			jw_obj_open(w);
			jw_kstr(w, "host", h->host);
			if (h->port)
				jw_kuint(w, "port", h->port);
			if (h->sme[0])
				jw_kstr(w, "sme", h->sme);
			jw_kuint(w, "tunnels", h->tunnels);
			jw_kuint(w, "closed_both", h->closed_both);
			jw_kuint(w, "signatures", h->signatures);
			jw_kuint(w, "other_exceptions", h->other_exceptions);
			jw_kuint(w, "closes", h->closes);
			jw_kuint(w, "clt_bytes", h->clt_bytes);
			jw_kuint(w, "srv_bytes", h->srv_bytes);
			json_time(w, "first_time", h->first_ns);
			json_time(w, "last_time", h->last_ns);
			json_time(w, "first_signature_time", h->first_sig_ns);
			json_time(w, "last_signature_time", h->last_sig_ns);
			jw_key(w, "examples");
			jw_arr_open(w);
			for (unsigned k = 0; k < h->nexamples; k++) {
				const struct zsat_example *e = &h->examples[k];
				jw_obj_open(w);
				jw_kuint(w, "id", e->id);
				json_time(w, "time", e->ts_ns);
				jw_kuint(w, "clt_bytes", e->clt_bytes);
				jw_kuint(w, "srv_bytes", e->srv_bytes);
				jw_obj_close(w);
			}
			jw_arr_close(w);
			jw_obj_close(w);
		}
	}
	jw_arr_close(w);
	jw_obj_close(w);
	free(v);
}
