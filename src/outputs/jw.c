/* jw.c: a small streaming JSON writer (RFC 8259). */
#include "outputs/jw.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

void jw_init(struct jw *w, FILE *f, int pretty)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
	w->pretty = pretty;
	w->first[0] = 1;
}

/* A writer that gathers its output in a buffer of its own and hands it to
 * the FILE in large blocks: for long streamed documents. Nothing else may
 * write to f until jw_flush(); without memory it writes straight to f.
 * Once a document outgrows one buffer, a thread of its own writes the full
 * buffers while the next one fills (double buffering): the kernel's copy
 * of the output no longer holds up the analysis. */
struct jw_async {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t work, idle;
	char *spare;          /* the buffer not being filled */
	char *pending;        /* handed to the thread, not yet written */
	size_t plen;
	int stop;
};

void jw_init_buffered(struct jw *w, FILE *f, int pretty)
{
	jw_init(w, f, pretty);
	w->buf = malloc(JW_BUF_SIZE);
}

static void *writer(void *arg)
{
	struct jw *w = arg;
	struct jw_async *as = w->as;
	pthread_mutex_lock(&as->mu);
	for (;;) {
		char *p;
		size_t n;
		while (!as->pending && !as->stop)
			pthread_cond_wait(&as->work, &as->mu);
		if (!as->pending)
			break;
		p = as->pending;
		n = as->plen;
		pthread_mutex_unlock(&as->mu);
		fwrite(p, 1, n, w->f);
		pthread_mutex_lock(&as->mu);
		as->pending = NULL;
		pthread_cond_signal(&as->idle);
	}
	pthread_mutex_unlock(&as->mu);
	return NULL;
}

static void async_destroy(struct jw_async *as)
{
	pthread_mutex_destroy(&as->mu);
	pthread_cond_destroy(&as->work);
	pthread_cond_destroy(&as->idle);
	free(as->spare);
	free(as);
}

/* Start the writer thread; 0, or -1 (then writes stay synchronous). */
static int async_start(struct jw *w)
{
	struct jw_async *as = calloc(1, sizeof(*as));
	if (!as || !(as->spare = malloc(JW_BUF_SIZE))) {
		free(as);
		return -1;
	}
	pthread_mutex_init(&as->mu, NULL);
	pthread_cond_init(&as->work, NULL);
	pthread_cond_init(&as->idle, NULL);
	w->as = as;
	if (pthread_create(&as->th, NULL, writer, w) != 0) {
		async_destroy(as);
		w->as = NULL;
		return -1;
	}
	return 0;
}

/* Wait until the thread has written what it was given. */
static void async_wait(struct jw_async *as)
{
	pthread_mutex_lock(&as->mu);
	while (as->pending)
		pthread_cond_wait(&as->idle, &as->mu);
	pthread_mutex_unlock(&as->mu);
}

/* The buffer is full: hand it on and go on in the other one. */
static void flush_full(struct jw *w)
{
	struct jw_async *as;
	char *full;
	if (!w->blen)
		return;
	if (!w->as && (w->async_failed || async_start(w) != 0)) {
		w->async_failed = 1;
		fwrite(w->buf, 1, w->blen, w->f);
		w->blen = 0;
		return;
	}
	as = w->as;
	async_wait(as); /* the spare buffer is free once its write is done */
	pthread_mutex_lock(&as->mu);
	full = w->buf;
	w->buf = as->spare;
	as->spare = full;
	as->pending = full;
	as->plen = w->blen;
	pthread_cond_signal(&as->work);
	pthread_mutex_unlock(&as->mu);
	w->blen = 0;
}

void jw_flush(struct jw *w)
{
	if (w->as)
		async_wait(w->as);
	if (w->buf && w->blen) {
		fwrite(w->buf, 1, w->blen, w->f);
		w->blen = 0;
	}
}

void jw_release(struct jw *w)
{
	jw_flush(w);
	if (w->as) {
		struct jw_async *as = w->as;
		pthread_mutex_lock(&as->mu);
		as->stop = 1;
		pthread_cond_signal(&as->work);
		pthread_mutex_unlock(&as->mu);
		pthread_join(as->th, NULL);
		async_destroy(as);
		w->as = NULL;
	}
	free(w->buf);
	w->buf = NULL;
}

static void out(struct jw *w, const void *p, size_t n)
{
	if (!w->buf) {
		fwrite(p, 1, n, w->f);
		return;
	}
	if (JW_BUF_SIZE - w->blen < n) {
		flush_full(w);
		if (n > JW_BUF_SIZE) {
			jw_flush(w);
			fwrite(p, 1, n, w->f);
			return;
		}
	}
	memcpy(w->buf + w->blen, p, n);
	w->blen += n;
}

static void out_c(struct jw *w, char c)
{
	if (w->buf && w->blen < JW_BUF_SIZE)
		w->buf[w->blen++] = c;
	else
		out(w, &c, 1);
}

static void out_s(struct jw *w, const char *s)
{
	out(w, s, strlen(s));
}

static void indent(struct jw *w)
{
	if (!w->pretty)
		return;
	out_c(w, '\n');
	for (int i = 0; i < w->depth; i++)
		out(w, "  ", 2);
}

/* Before a value or key at the current level: comma and indentation.
 * After a key, the value follows directly. */
static void pre_value(struct jw *w)
{
	if (w->after_key) {
		w->after_key = 0;
		return;
	}
	if (w->depth > 0) {
		if (!w->first[w->depth])
			out_c(w, ',');
		w->first[w->depth] = 0;
		indent(w);
	}
}

static void open_(struct jw *w, char c)
{
	pre_value(w);
	out_c(w, c);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->first[w->depth] = 1;
}

static void close_(struct jw *w, char c)
{
	int empty = w->first[w->depth];
	if (w->depth > 0)
		w->depth--;
	if (!empty)
		indent(w);
	out_c(w, c);
	if (w->depth == 0 && w->pretty)
		out_c(w, '\n');
}

void jw_obj_open(struct jw *w) { open_(w, '{'); }
void jw_obj_close(struct jw *w) { close_(w, '}'); }
void jw_arr_open(struct jw *w) { open_(w, '['); }
void jw_arr_close(struct jw *w) { close_(w, ']'); }

/* Length of a valid UTF-8 sequence at s (n bytes available), 0 if invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned char c = s[0];
	size_t len;
	uint32_t cp;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2;
		cp = c & 0x1f;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3;
		cp = c & 0x0f;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4;
		cp = c & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Escape n bytes into out (JSON string body), or to the writer w. Returns
 * bytes written to out. */
static size_t escape(const char *s, size_t n, char *outb, size_t outlen, struct jw *f)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0;
	char tmp[8];
	for (size_t i = 0; i < n;) {
		if (f) {
			/* the common case: a run of plain printable ASCII, written at once */
			size_t r = i;
			while (r < n && p[r] >= 0x20 && p[r] < 0x7f && p[r] != '"' && p[r] != '\\')
				r++;
			if (r > i) {
				out(f, p + i, r - i);
				i = r;
				continue;
			}
		}
		size_t k = utf8_len(p + i, n - i);
		size_t tl = 0;
		if (k == 1 && p[i] >= 0x20 && p[i] != '"' && p[i] != '\\' && p[i] != 0x7f) {
			tmp[tl++] = (char)p[i];
		} else if (k == 1 && (p[i] == '"' || p[i] == '\\')) {
			tmp[tl++] = '\\';
			tmp[tl++] = (char)p[i];
		} else if (k > 1) {
			if (f)
				out(f, p + i, k);
			else if (o + k < outlen) {
				memcpy(outb + o, p + i, k);
				o += k;
			}
			i += k;
			continue;
		} else {
			tmp[tl++] = '\\';
			tmp[tl++] = 'u';
			tmp[tl++] = '0';
			tmp[tl++] = '0';
			tmp[tl++] = hex[p[i] >> 4];
			tmp[tl++] = hex[p[i] & 15];
		}
		if (f)
			out(f, tmp, tl);
		else if (o + tl < outlen) {
			memcpy(outb + o, tmp, tl);
			o += tl;
		}
		i++;
	}
	if (!f && outlen)
		outb[o < outlen ? o : outlen - 1] = '\0';
	return o;
}

size_t pi_escape_text(const char *s, char *out, size_t outlen)
{
	return escape(s, strlen(s), out, outlen, NULL);
}

/* 1 if s[0..n) needs no escaping. */
static int plain(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < n; i++)
		if (p[i] < 0x20 || p[i] >= 0x7f || p[i] == '"' || p[i] == '\\')
			return 0;
	return 1;
}

void jw_keyn(struct jw *w, const char *key, size_t n)
{
	pre_value(w);
	if (n < 64 && plain(key, n)) {
		/* keys are short literals: "key": in one piece */
		char b[72];
		b[0] = '"';
		memcpy(b + 1, key, n);
		b[n + 1] = '"';
		b[n + 2] = ':';
		b[n + 3] = ' ';
		out(w, b, n + (w->pretty ? 4 : 3));
	} else {
		out_c(w, '"');
		escape(key, n, NULL, 0, w);
		out_s(w, w->pretty ? "\": " : "\":");
	}
	w->after_key = 1;
}

void jw_strn(struct jw *w, const char *s, size_t n)
{
	pre_value(w);
	out_c(w, '"');
	escape(s, n, NULL, 0, w);
	out_c(w, '"');
}

void jw_str(struct jw *w, const char *s)
{
	if (!s) {
		jw_null(w);
		return;
	}
	jw_strn(w, s, strlen(s));
}

/* Decimal digits of v, without printf. */
static void put_u64(struct jw *w, uint64_t v, int neg)
{
	char b[24];
	size_t i = sizeof(b);
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (neg)
		b[--i] = '-';
	out(w, b + i, sizeof(b) - i);
}

void jw_int(struct jw *w, int64_t v)
{
	pre_value(w);
	put_u64(w, v < 0 ? 0 - (uint64_t)v : (uint64_t)v, v < 0);
}

void jw_uint(struct jw *w, uint64_t v)
{
	pre_value(w);
	put_u64(w, v, 0);
}

/* v with `decimals` digits after the point, written at the end of b; its
 * length, or 0 when printf must decide (the rounding is too close to call,
 * or the number is large). printf's own is exact, half to even. */
static size_t fixed(char *b, size_t bl, double v, int decimals)
{
	static const double p10[] = { 1, 10, 100, 1e3, 1e4, 1e5, 1e6 };
	double sc, fl, fr;
	uint64_t u, ip, fp, div;
	size_t i = bl;
	if (decimals < 0 || decimals > 6 || !(fabs(v) < 1e9) || bl < 32)
		return 0;
	sc = fabs(v) * p10[decimals];
	fl = floor(sc);
	fr = sc - fl;
	if (fabs(fr - 0.5) < 1e-6)
		return 0;
	u = (uint64_t)fl + (fr > 0.5);
	div = (uint64_t)p10[decimals];
	ip = u / div;
	fp = u % div;
	for (int d = 0; d < decimals; d++) {
		b[--i] = (char)('0' + fp % 10);
		fp /= 10;
	}
	if (decimals)
		b[--i] = '.';
	do {
		b[--i] = (char)('0' + ip % 10);
		ip /= 10;
	} while (ip);
	if (signbit(v))
		b[--i] = '-';
	return bl - i;
}

void jw_double(struct jw *w, double v, int decimals)
{
	char b[64];
	size_t n;
	pre_value(w);
	if (!isfinite(v)) {
		out_s(w, "null");
	} else if ((n = fixed(b, sizeof(b), v, decimals)) > 0) {
		out(w, b + sizeof(b) - n, n);
	} else {
		int k = snprintf(b, sizeof(b), "%.*f", decimals, v);
		if (k > 0)
			out(w, b, (size_t)k < sizeof(b) ? (size_t)k : sizeof(b) - 1);
	}
}

void jw_bool(struct jw *w, int v)
{
	pre_value(w);
	if (v)
		out(w, "true", 4);
	else
		out(w, "false", 5);
}

void jw_null(struct jw *w)
{
	pre_value(w);
	out(w, "null", 4);
}

void jw_raw(struct jw *w, const char *json)
{
	pre_value(w);
	out_s(w, json);
}

