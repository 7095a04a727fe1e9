/* tls.c: TLS record layer, handshake reassembly, hello and certificate parsing.
 * RFC 5246 6.2 and 7.4 (TLS 1.2), RFC 8446 4, 5 and 4.1.3 (TLS 1.3, HRR),
 * RFC 6101 (SSL 3.0), RFC 5246 appendix E.2 (SSLv2-compatible ClientHello),
 * RFC 6066 3 (SNI), RFC 7301 (ALPN), RFC 8701 (GREASE), JA3 (salesforce/ja3).
 *
 * Per direction, three layers:
 *   record   5-byte header kept in d->hdr until complete. Plaintext bodies
 *            (handshake, alert, SSLv2 hello) are parsed in place when the
 *            whole body is inside one chunk, else copied to d->body (at most
 *            TLS_MAX_RECORD bytes). Encrypted, application data, heartbeat and
 *            ChangeCipherSpec bodies are never copied: only rec_left counts.
 *   handshake messages are parsed in place when inside one record, else put
 *            together in d->hs (grown to the message size, at most
 *            PI_TLS_MAX_HS_MSG); an oversized message is skipped (hs_skip).
 *   messages ClientHello, ServerHello, Certificate decoded; the rest named.
 * Every event is emitted when its record completes (see tls.h), so feeding
 * a stream 1 byte at a time gives the same events as feeding it whole.
 *
 * Encryption: TLS <= 1.2: a direction is encrypted after its own CCS. TLS 1.3
 * (ServerHello supported_versions): both directions after the ServerHello
 * (not after an HRR). There, records of type 23 and 22 are opaque, while CCS
 * and alert records stay plaintext: RFC 8446 5.2 always sends protected
 * records as type 23, and a client that rejects the server certificate
 * before it has handshake write keys sends a plaintext alert (OpenSSL 3 does).
 *
 * Once a direction is encrypted its buffers are freed at the end of the
 * record; from then on a record costs a handful of comparisons.
 */
#include "dissectors/tls.h"

#include <stddef.h>
#include <stdlib.h>
#include <pthread.h>
#include <string.h>

#include <openssl/evp.h>

#include "common/cur.h"
#include "common/pool.h"
#include "common/util.h"

#define SSLV2_MIN_LEN 9u       /* CLIENT-HELLO: msg_type, version, three lengths */
#define SSLV2_SH_MIN_LEN 11u   /* SERVER-HELLO: type, hit, cert type, version, 3 lengths */
#define SSLV2_SERVER_HELLO 4
#define MIN_ENCRYPTED_ALERT 18u /* 2 bytes + the shortest MAC (MD5) */
#define TLS_EXT_SERVER_NAME 0
#define TLS_EXT_SUPPORTED_GROUPS 10
#define TLS_EXT_EC_POINT_FORMATS 11
#define TLS_EXT_ALPN 16
#define TLS_EXT_SUPPORTED_VERSIONS 43
#define TLS_EXT_ECH 0xfe0d

/* SHA-256("HelloRetryRequest"), RFC 8446 4.1.3 */
static const uint8_t hrr_random[32] = {
	0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02,
	0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e,
	0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
};

/* Empty cursors point here: pointer arithmetic on NULL is undefined. */
static const uint8_t empty_bytes[1];

static struct cur cur_empty(void)
{
	return cur_make(empty_bytes, 0);
}

/* What one tls_feed()/tls_gap() call works on. */
struct fx {
	struct tls_state *st;
	struct tls_dir *d;
	int dir;
	uint64_t frame, ts;
};

/* ---- events ---- */

static void ev_init(const struct fx *x, struct tls_event *ev, enum tls_ev_type t)
{
	memset(ev, 0, sizeof *ev);
	ev->type = t;
	ev->dir = x->dir;
	ev->content_type = x->d->rec_type;
	ev->record_version = x->d->rec_version;
	ev->record_len = x->d->rec_len;
	ev->frame = x->frame;
	ev->ts_ns = x->ts;
}

static void emit(const struct fx *x, const struct tls_event *ev)
{
	if (x->st->cb)
		x->st->cb(x->st->cb_ctx, ev);
}

static void emit_simple(const struct fx *x, enum tls_ev_type t)
{
	struct tls_event ev;
	ev_init(x, &ev, t);
	emit(x, &ev);
}

static void raise_anomaly(const struct fx *x, enum tls_anomaly a)
{
	struct tls_event ev;
	if (x->st->anomalies[a] < UINT32_MAX)
		x->st->anomalies[a]++;
	ev_init(x, &ev, TLS_EV_ANOMALY);
	ev.anomaly = a;
	emit(x, &ev);
}

/* ---- buffers ---- */

/* Buffers of all flows together stay within PI_TLS_HS_BUDGET: caps->tls_hs_held
 * counts their bytes (caps may be NULL: no budget). */
static void dir_free_bufs(struct tls_state *st, struct tls_dir *d)
{
	if (st->caps)
		st->caps->tls_hs_held -= (uint64_t)d->body_cap + d->hs_cap;
	pi_buf_put(d->body, d->body_cap);
	d->body = NULL;
	d->body_cap = 0;
	d->body_have = 0;
	pi_buf_put(d->hs, d->hs_cap);
	d->hs = NULL;
	d->hs_cap = 0;
	d->hs_have = 0;
	d->hs_skip = 0;
}

/* Grow *buf to hold need bytes (rounded up to 1 KiB, never past limit).
 * Returns 0, or -1 if out of memory (the buffer is unchanged). */
static int reserve(struct pi_caps *caps, uint8_t **buf, uint32_t *cap, uint32_t need, uint32_t limit)
{
	uint32_t want;
	uint8_t *n;
	if (*cap >= need)
		return 0;
	want = (need + 1023u) & ~1023u;
	if (want > limit)
		want = need;
	if (caps && caps->tls_hs_held + (want - *cap) > PI_TLS_HS_BUDGET) {
		caps->tls_budget_hits++; /* all flows together hold the budget */
		return -1;
	}
	n = *buf ? realloc(*buf, want) : pi_buf_get(want); /* the usual first growth: kept ones */
	if (!n) {
		if (caps)
			caps->alloc_failures++;
		return -1;
	}
	if (caps)
		caps->tls_hs_held += want - *cap;
	*buf = n;
	*cap = want;
	return 0;
}

static int is_grease(uint16_t v)
{
	return (v & 0x0f0f) == 0x0a0a && (v >> 8) == (v & 0xff);
}

static int is_tls13(uint16_t v)
{
	return v == 0x0304 || (v >= 0x7f0e && v <= 0x7f1c) || v == 0xfb1a;
}

/* ---- record headers ---- */

/* Classify the first n (<= 5) bytes of a TLS record header. resync: the
 * stricter rule used to find a header in the middle of a stream (types
 * 20..23 only, no empty record). Returns PI_OK (all 5 bytes, plausible),
 * PI_NEED_MORE (consistent so far) or PI_INVALID. */
static int hdr_check(const uint8_t *p, size_t n, int resync)
{
	struct cur c = cur_make(p, n);
	uint8_t type, major, minor;
	uint16_t len;
	if (cur_u8(&c, &type) != PI_OK)
		return PI_NEED_MORE;
	if (type < TLS_CT_CCS || type > (resync ? TLS_CT_APPDATA : TLS_CT_HEARTBEAT))
		return PI_INVALID;
	if (cur_u8(&c, &major) != PI_OK)
		return PI_NEED_MORE;
	if (major != 3)
		return PI_INVALID;
	if (cur_u8(&c, &minor) != PI_OK)
		return PI_NEED_MORE;
	if (minor > 4)
		return PI_INVALID;
	if (cur_u16(&c, &len) != PI_OK)
		return PI_NEED_MORE;
	if (len > TLS_MAX_RECORD || (resync && len == 0))
		return PI_INVALID;
	return PI_OK;
}

/* Same for an SSLv2-format record header (2-byte length with the high bit
 * set): a CLIENT-HELLO (msg_type 1, version 0x0002 or 3.0..3.4) or, for
 * want == SSLV2_SERVER_HELLO, a SERVER-HELLO (msg_type 4, session-id-hit 0/1,
 * certificate type 0/1). */
static int sslv2_check(const uint8_t *p, size_t n, uint8_t want)
{
	struct cur c = cur_make(p, n);
	uint8_t b0, b1, type, major, minor;
	uint32_t len;
	uint32_t min = want == SSLV2_SERVER_HELLO ? SSLV2_SH_MIN_LEN : SSLV2_MIN_LEN;
	if (cur_u8(&c, &b0) != PI_OK)
		return PI_NEED_MORE;
	if (!(b0 & 0x80))
		return PI_INVALID;
	if (cur_u8(&c, &b1) != PI_OK)
		return PI_NEED_MORE;
	len = ((uint32_t)(b0 & 0x7f) << 8) | b1;
	if (len < min || len > TLS_MAX_RECORD)
		return PI_INVALID;
	if (cur_u8(&c, &type) != PI_OK)
		return PI_NEED_MORE;
	if (type != want)
		return PI_INVALID;
	if (cur_u8(&c, &major) != PI_OK)
		return PI_NEED_MORE;
	if (want == SSLV2_SERVER_HELLO) {
		/* major is session-id-hit, minor the certificate type */
		if (major > 1)
			return PI_INVALID;
		if (cur_u8(&c, &minor) != PI_OK)
			return PI_NEED_MORE;
		return minor > 1 ? PI_INVALID : PI_OK;
	}
	if (major != 0 && major != 3)
		return PI_INVALID;
	if (cur_u8(&c, &minor) != PI_OK)
		return PI_NEED_MORE;
	if ((major == 0 && minor != 2) || (major == 3 && minor > 4))
		return PI_INVALID;
	return PI_OK;
}

int tls_probe(const uint8_t *data, size_t len)
{
	size_t n = len < 5 ? len : 5;
	int rc;
	if (len == 0)
		return PI_NEED_MORE;
	if (!data)
		return PI_INVALID;
	rc = hdr_check(data, n, 0);
	if (rc != PI_INVALID)
		return rc;
	return sslv2_check(data, n, TLS_HS_CLIENT_HELLO);
}

/* The record boundary is lost: drop partial state, rescan from hdr[1..]. */
static void lose_sync(const struct fx *x, enum tls_anomaly a)
{
	struct tls_dir *d = x->d;
	d->rec_left = 0;
	d->body_have = 0;
	d->skip_body = 0;
	d->rec_ev = 0;
	d->hs_have = 0;
	d->hs_skip = 0;
	d->hs_lost = !d->encrypted;
	d->alert_frag_have = 0;
	d->desync = 1;
	raise_anomaly(x, a);
	memmove(d->hdr, d->hdr + 1, 4);
	d->hdr_have = 4;
}

static void set_not_tls(const struct fx *x)
{
	x->d->not_tls = 1;
	dir_free_bufs(x->st, x->d);
	emit_simple(x, TLS_EV_NOT_TLS);
}

/* Slide a 5-byte window over the stream until it holds a plausible header
 * (then desync is cleared), or the input is used up. */
static void resync(struct tls_dir *d, struct cur *c)
{
	uint8_t b;
	for (;;) {
		while (d->hdr_have && hdr_check(d->hdr, d->hdr_have, 1) == PI_INVALID) {
			d->hdr_have--;
			memmove(d->hdr, d->hdr + 1, d->hdr_have);
		}
		if (d->hdr_have == 5) {
			d->desync = 0;
			return;
		}
		if (cur_u8(c, &b) != PI_OK)
			return;
		d->hdr[d->hdr_have++] = b;
	}
}

/* Copy header bytes; the first header of a direction must look like TLS. */
static void take_header(const struct fx *x, struct cur *c)
{
	struct tls_dir *d = x->d;
	int rc;
	if (d->hdr_have == 0 && cur_left(c) >= 5) {
		/* the usual case: a whole header in this chunk */
		memcpy(d->hdr, c->p, 5);
		c->p += 5;
		d->hdr_have = 5;
	} else {
		size_t want = 5u - d->hdr_have, n = cur_left(c) < want ? cur_left(c) : want;
		const uint8_t *p;
		if (cur_bytes(c, n, &p) != PI_OK)
			return;
		memcpy(d->hdr + d->hdr_have, p, n);
		d->hdr_have = (uint8_t)(d->hdr_have + n);
	}
	if (d->seen)
		return;
	rc = hdr_check(d->hdr, d->hdr_have, 0);
	if (rc == PI_INVALID && x->dir == TLS_DIR_C2S)
		rc = sslv2_check(d->hdr, d->hdr_have, TLS_HS_CLIENT_HELLO);
	else if (rc == PI_INVALID && x->st->ch.sslv2)
		rc = sslv2_check(d->hdr, d->hdr_have, SSLV2_SERVER_HELLO);
	if (rc == PI_INVALID)
		set_not_tls(x);
}

/* A complete header is in d->hdr: decide how its body is handled. */
static void begin_record(const struct fx *x)
{
	struct tls_dir *d = x->d;
	struct tls_state *st = x->st;
	struct cur c = cur_make(d->hdr, 5);
	uint8_t type = 0, b1 = 0;
	uint16_t ver = 0, len = 0;
	int first = !d->seen;

	d->seen = 1;
	d->body_have = 0;
	d->skip_body = 0;
	d->rec_ev = 0;
	(void)cur_u8(&c, &type);
	if (first && (type & 0x80)) {
		/* SSLv2 CLIENT-HELLO (or SERVER-HELLO in reply to one), already
		 * checked by take_header(); a server's version is in the body */
		(void)cur_u8(&c, &b1);
		(void)cur_skip(&c, 1);
		(void)cur_u16(&c, &ver);
		d->rec_type = TLS_CT_SSLV2;
		d->rec_version = x->dir == TLS_DIR_C2S ? ver : 0;
		d->rec_len = ((((uint32_t)type & 0x7f) << 8) | b1) - 3u;
		d->rec_left = d->rec_len;
		return;
	}
	(void)cur_u16(&c, &ver);
	(void)cur_u16(&c, &len);
	d->rec_type = type;
	d->rec_version = ver;
	d->rec_len = len;
	d->rec_left = len;
	if (type < TLS_CT_CCS || type > TLS_CT_HEARTBEAT) {
		lose_sync(x, TLS_AN_BAD_RECORD_TYPE);
		return;
	}
	if ((ver >> 8) != 3 || (ver & 0xff) > 4) {
		lose_sync(x, TLS_AN_BAD_RECORD_VERSION);
		return;
	}
	if (len > TLS_MAX_RECORD) {
		lose_sync(x, TLS_AN_RECORD_TOO_LONG);
		return;
	}
	if (d->alert_frag_have && type != TLS_CT_ALERT) {
		d->alert_frag_have = 0;
		raise_anomaly(x, TLS_AN_BAD_ALERT);
	}
	if (d->encrypted && !(st->tls13 && (type == TLS_CT_CCS || type == TLS_CT_ALERT))) {
		d->skip_body = 1;
		d->rec_ev = TLS_EV_ENCRYPTED;
	} else if (type == TLS_CT_APPDATA) {
		d->skip_body = 1;
		d->rec_ev = TLS_EV_ENCRYPTED;
	} else if (type == TLS_CT_HEARTBEAT) {
		d->skip_body = 1;
		d->rec_ev = TLS_EV_HEARTBEAT;
	} else if (type == TLS_CT_CCS) {
		d->skip_body = 1;
		d->rec_ev = TLS_EV_CCS;
	}
}

/* Consume body bytes. Returns the whole (remaining) body once the record
 * is complete and buffered or in place, with its length in *blen; NULL
 * otherwise (or for skipped bodies). */
static const uint8_t *take_body(const struct fx *x, struct cur *c, uint32_t *blen)
{
	struct tls_dir *d = x->d;
	size_t left = cur_left(c);
	uint32_t n = left < d->rec_left ? (uint32_t)left : d->rec_left;
	const uint8_t *p;

	*blen = 0;
	if (d->skip_body) {
		(void)cur_skip(c, n);
		d->rec_left -= n;
		return NULL;
	}
	if (d->body_have == 0 && n == d->rec_left) {
		/* the whole (rest of the) body is in this chunk: parse in place */
		if (cur_bytes(c, n, &p) != PI_OK)
			return NULL;
		d->rec_left = 0;
		*blen = n;
		return p;
	}
	if (reserve(x->st->caps, &d->body, &d->body_cap, d->body_have + d->rec_left, TLS_MAX_RECORD) != 0) {
		/* out of memory: the content of this record is lost */
		d->skip_body = 1;
		d->rec_ev = 0;
		d->body_have = 0;
		d->hs_have = 0;
		d->hs_skip = 0;
		d->hs_lost = 1;
		(void)cur_skip(c, n);
		d->rec_left -= n;
		return NULL;
	}
	if (cur_bytes(c, n, &p) != PI_OK)
		return NULL;
	memcpy(d->body + d->body_have, p, n);
	d->body_have += n;
	d->rec_left -= n;
	if (d->rec_left)
		return NULL;
	*blen = d->body_have;
	return d->body;
}

/* ---- JA3 string ---- */

/* JA3 string built piecewise in a local buffer, hashed once at the end (a
 * string longer than the buffer is hashed in pieces); copied into ja3_str
 * while it fits. */
#define JA3_BUF 2048

struct ja3b {
	EVP_MD_CTX *md;        /* only for a string longer than buf */
	int md_bad;            /* MD5 failed: no hash */
	char *out;             /* ja3_str */
	size_t cap;
	int copied;            /* out holds the string's start */
	int first;             /* no value yet in the current field */
	size_t blen;
	char buf[JA3_BUF];
};

static EVP_MD *md5_alg;
static pthread_once_t md5_once = PTHREAD_ONCE_INIT;

static void md5_fetch(void)
{
	md5_alg = EVP_MD_fetch(NULL, "MD5", NULL); /* once: a fetch per hello costs */
}

static const EVP_MD *md5(void)
{
	(void)pthread_once(&md5_once, md5_fetch);
	return md5_alg ? md5_alg : EVP_md5();
}

/* ja3_str keeps the start of the string, up to its size: copied from the
 * buffer's first fill. */
static void ja3_copy_out(struct ja3b *j)
{
	size_t k;
	if (j->copied || !j->cap)
		return;
	k = j->blen < j->cap - 1 ? j->blen : j->cap - 1;
	memcpy(j->out, j->buf, k);
	j->out[k] = '\0';
	j->copied = 1;
}

static void ja3_spill(struct ja3b *j)
{
	ja3_copy_out(j);
	if (j->md_bad || !j->blen)
		return;
	if (!j->md) {
		j->md = EVP_MD_CTX_new();
		if (!j->md || EVP_DigestInit_ex(j->md, md5(), NULL) != 1)
			j->md_bad = 1;
	}
	if (!j->md_bad && EVP_DigestUpdate(j->md, j->buf, j->blen) != 1)
		j->md_bad = 1;
	j->blen = 0;
}

static void ja3_put(struct ja3b *j, const char *s, size_t n)
{
	if (n > JA3_BUF - j->blen) {
		ja3_spill(j);
		if (n > JA3_BUF) { /* not reached: pieces are a number or a comma */
			j->md_bad = 1;
			return;
		}
	}
	memcpy(j->buf + j->blen, s, n);
	j->blen += n;
}

/* The MD5 of the whole string into md[16]; 0, or -1 when MD5 failed.
 * ja3_str gets the string's start. */
static int ja3_final(struct ja3b *j, unsigned char md[EVP_MAX_MD_SIZE])
{
	unsigned int mdlen = 0;
	int ok;
	if (!j->md && !j->md_bad) {
		ok = EVP_Digest(j->buf, j->blen, md, &mdlen, md5(), NULL) == 1;
		ja3_copy_out(j);
	} else {
		ja3_spill(j);
		ok = !j->md_bad && EVP_DigestFinal_ex(j->md, md, &mdlen) == 1;
	}
	EVP_MD_CTX_free(j->md);
	j->md = NULL;
	return ok && mdlen == 16 ? 0 : -1;
}

static void ja3_num(struct ja3b *j, unsigned v)
{
	char t[12];
	size_t i = sizeof t;
	do {
		t[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v && i);
	if (!j->first)
		t[--i] = '-';
	j->first = 0;
	ja3_put(j, t + i, sizeof t - i);
}

static void ja3_field(struct ja3b *j)
{
	ja3_put(j, ",", 1);
	j->first = 1;
}

/* ---- names copied from the wire ---- */

#define ONES8 0x0101010101010101ull
#define HIGH8 0x8080808080808080ull

/* server_name (RFC 6066 3): first host_name. Returns 0, -1 if malformed. */
static int ext_sni(struct tls_client_hello *ch, struct cur eb)
{
	struct cur list, name;
	const uint8_t *p;
	uint8_t type;
	int got = 0;
	if (cur_vec16(&eb, &list) != PI_OK || cur_left(&eb))
		return -1;
	while (cur_left(&list)) {
		if (cur_u8(&list, &type) != PI_OK || cur_vec16(&list, &name) != PI_OK)
			return -1;
		if (type == 0 && !got) {
			size_t n = cur_left(&name);
			if (cur_bytes(&name, n, &p) != PI_OK)
				return -1;
			(void)pi_printable_copy(ch->sni, sizeof ch->sni, p, n, 1);
			got = 1;
		}
	}
	return 0;
}

/* ALPN (RFC 7301 3.1): protocol names joined with ',' (each escaped, as
 * far as it fits; a ',' only after a name). */
static int ext_alpn(struct tls_client_hello *ch, struct cur eb)
{
	struct cur list, name;
	const uint8_t *p;
	size_t o;
	if (cur_vec16(&eb, &list) != PI_OK || cur_left(&eb))
		return -1;
	o = strlen(ch->alpn); /* an earlier ALPN extension's names */
	while (cur_left(&list)) {
		size_t n;
		if (cur_vec8(&list, &name) != PI_OK)
			return -1;
		n = cur_left(&name);
		if (cur_bytes(&name, n, &p) != PI_OK)
			return -1;
		if (o && o + 1 < sizeof ch->alpn) {
			ch->alpn[o++] = ',';
			ch->alpn[o] = '\0';
		}
		if (o + 1 < sizeof ch->alpn)
			o += pi_printable_copy(ch->alpn + o, sizeof ch->alpn - o, p, n, 0);
	}
	return 0;
}

/* supported_versions in a ClientHello (RFC 8446 4.2.1): highest non-GREASE. */
static int ext_versions(struct tls_client_hello *ch, struct cur eb)
{
	struct cur list;
	uint16_t v, max = 0;
	if (cur_vec8(&eb, &list) != PI_OK || cur_left(&eb) || (cur_left(&list) & 1))
		return -1;
	while (cur_u16(&list, &v) == PI_OK)
		if (!is_grease(v) && v > max)
			max = v;
	if (max)
		ch->max_version = max;
	return 0;
}

/* ---- JA3 memo ----
 * The decimal text and MD5 cost more than the rest of the parse, so a hello
 * whose JA3 inputs equal those of a recent one reuses its string and hash.
 * The key holds every input of the JA3 string, in a prefix-free layout:
 *   version(2) ciphers_len(2) ciphers ext_count(2) ext_types(2 each)
 *   groups_len(2) groups formats_len(1) formats
 * (ciphers, groups: the wire bytes; GREASE values, which JA3 drops, all
 * written 0x0a0a so that hellos differing only in the GREASE values they
 * drew share an entry). Equal keys give equal JA3 strings; keys are compared
 * whole, the hash only picks the set. A key over JA3_KEY_MAX bytes is not
 * memoised. */
#define JA3_KEY_MAX 512u
#define JA3_SETS 16u          /* power of two */
#define JA3_WAYS 4u

struct ja3_key {
	size_t n;
	int over;                 /* did not fit: no memo */
	uint8_t b[JA3_KEY_MAX + 8]; /* + zero padding for key_hash() */
};

struct ja3_memo {
	uint64_t h;
	uint32_t klen;            /* 0: empty (a key has at least 9 bytes) */
	uint32_t slen;            /* strlen(str) */
	char ja3[33];
	char str[sizeof(((struct tls_client_hello *)0)->ja3_str)];
	uint8_t key[JA3_KEY_MAX];
};

/* per thread: set-associative, round-robin replacement within a set */
static _Thread_local struct ja3_memo ja3_memo[JA3_SETS][JA3_WAYS];
static _Thread_local uint8_t ja3_memo_next[JA3_SETS];

static uint8_t *key_room(struct ja3_key *k, size_t n)
{
	uint8_t *p;
	if (k->over || n > JA3_KEY_MAX - k->n) {
		k->over = 1;
		return NULL;
	}
	p = k->b + k->n;
	k->n += n;
	return p;
}

static void key_u16(struct ja3_key *k, uint16_t v)
{
	uint8_t *p = key_room(k, 2);
	if (p) {
		p[0] = (uint8_t)(v >> 8);
		p[1] = (uint8_t)v;
	}
}

/* GREASE values (is_grease()) of the four 16-bit values in w written
 * 0x0a0a. Per 16-bit lane, the low nibbles xor 0xa and the two bytes xor
 * each other are or-ed into z; the lane is zero iff the value is GREASE
 * (both bytes equal, low nibble 0xa). Lanes of z stay below 0x1000, so
 * adding 0x7fff sets a lane's top bit iff it is nonzero, with no carry into
 * the next lane: an exact per-lane test. A GREASE lane (bytes 0xNa 0xNa)
 * gets its high nibbles cleared. Byte order does not matter (the test is
 * symmetric in the two bytes of a lane, the mask covers both). */
static uint64_t grease_word(uint64_t w)
{
	const uint64_t lo = 0x00ff00ff00ff00ffull, one16 = 0x0001000100010001ull;
	const uint64_t hi16 = 0x8000800080008000ull;
	uint64_t z = ((w ^ (ONES8 * 0x0a)) & (ONES8 * 0x0f)) | ((w ^ (w >> 8)) & lo);
	uint64_t g = ~(z + 0x7fff * one16) & hi16; /* top bit of each GREASE lane */
	return w & ~((g >> 15) * 0xf0f0);
}

/* A list of 16-bit values (even length): its length, then its bytes with
 * GREASE values written 0x0a0a, eight bytes at a time (grease_word()). The
 * last word is the list's last eight bytes, overlapping the one before: the
 * overlap is written again with the same values (each lane's result
 * depends on that lane only). A list shorter than eight bytes goes value by
 * value. */
static void key_list16(struct ja3_key *k, struct cur l)
{
	const uint8_t *s = l.p;
	size_t n = cur_left(&l), i = 0;
	uint64_t w;
	uint8_t *p;
	key_u16(k, (uint16_t)n);
	p = key_room(k, n);
	if (!p)
		return;
	if (n < 8) {
		for (; n - i >= 2; i += 2) {
			if (is_grease((uint16_t)((s[i] << 8) | s[i + 1]))) {
				p[i] = p[i + 1] = 0x0a;
			} else {
				p[i] = s[i];
				p[i + 1] = s[i + 1];
			}
		}
		return;
	}
	for (; n - i > 8; i += 8) {
		memcpy(&w, s + i, 8);
		w = grease_word(w);
		memcpy(p + i, &w, 8);
	}
	memcpy(&w, s + n - 8, 8); /* n is even: lanes stay aligned */
	w = grease_word(w);
	memcpy(p + n - 8, &w, 8);
}

/* Picks the memo set (and is compared first): any function of the key
 * would do, the key itself is compared whole. One multiply per eight bytes;
 * the key is read in whole words, so the bytes after it are zeroed first
 * (b has 8 bytes of room past JA3_KEY_MAX). */
static uint64_t key_hash(struct ja3_key *k)
{
	const uint64_t m = 0x9e3779b97f4a7c15ull;
	uint64_t h = (uint64_t)k->n * m, w;
	memset(k->b + k->n, 0, 8);
	for (size_t i = 0; i < k->n; i += 8) {
		memcpy(&w, k->b + i, 8);
		h = (h ^ w) * m;
		h = (h << 31) | (h >> 33);
	}
	return pi_fmix64(h);
}

/* The JA3 string of a well-formed hello (salesforce/ja3: version, ciphers,
 * extension types, groups, point formats; GREASE dropped) into
 * ch->ja3_str (its start) and its MD5 into ch->ja3. The lists are the
 * hello's, already checked by parse_client_hello(). */
static void ja3_build(struct tls_client_hello *ch, struct cur ciphers, struct cur exts,
                      struct cur groups, struct cur formats)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	struct ja3b j;
	struct cur eb;
	uint16_t v;
	uint8_t u;
	j.md = NULL;
	j.md_bad = 0;
	j.blen = 0;
	j.out = ch->ja3_str;
	j.cap = sizeof ch->ja3_str;
	j.copied = 0;
	j.first = 1;
	ja3_num(&j, ch->legacy_version);
	ja3_field(&j);
	while (cur_u16(&ciphers, &v) == PI_OK)
		if (!is_grease(v))
			ja3_num(&j, v);
	ja3_field(&j);
	while (cur_u16(&exts, &v) == PI_OK && cur_vec16(&exts, &eb) == PI_OK)
		if (!is_grease(v))
			ja3_num(&j, v);
	ja3_field(&j);
	while (cur_u16(&groups, &v) == PI_OK)
		if (!is_grease(v))
			ja3_num(&j, v);
	ja3_field(&j);
	while (cur_u8(&formats, &u) == PI_OK)
		ja3_num(&j, u);
	if (ja3_final(&j, md) == 0) {
		for (unsigned i = 0; i < 16; i++) {
			ch->ja3[2 * i] = hex[md[i] >> 4];
			ch->ja3[2 * i + 1] = hex[md[i] & 15];
		}
		ch->ja3[32] = '\0';
	}
	EVP_MD_CTX_free(j.md);
}

/* ch->ja3 and ch->ja3_str ("" before) from the memo or ja3_build(). */
static void ja3_make(struct tls_client_hello *ch, struct ja3_key *k, struct cur ciphers,
                     struct cur exts, struct cur groups, struct cur formats)
{
	struct ja3_memo *set = NULL, *e;
	uint64_t h = 0;
	unsigned s = 0;
	if (!k->over) {
		h = key_hash(k);
		s = (unsigned)(h & (JA3_SETS - 1));
		set = ja3_memo[s];
		for (unsigned w = 0; w < JA3_WAYS; w++) {
			e = &set[w];
			if (e->h == h && e->klen == k->n && memcmp(e->key, k->b, k->n) == 0) {
				memcpy(ch->ja3, e->ja3, sizeof ch->ja3);
				memcpy(ch->ja3_str, e->str, (size_t)e->slen + 1);
				return;
			}
		}
	}
	ja3_build(ch, ciphers, exts, groups, formats);
	if (set && ch->ja3[0]) { /* not when MD5 failed */
		e = &set[ja3_memo_next[s]];
		ja3_memo_next[s] = (uint8_t)((ja3_memo_next[s] + 1) % JA3_WAYS);
		e->h = h;
		e->klen = (uint32_t)k->n;
		memcpy(e->key, k->b, k->n);
		memcpy(e->ja3, ch->ja3, sizeof e->ja3);
		e->slen = (uint32_t)strlen(ch->ja3_str);
		memcpy(e->str, ch->ja3_str, (size_t)e->slen + 1);
	}
}

/* ---- ClientHello ---- */

/* The fixed part: legacy_version, random, session_id, cipher_suites,
 * compression_methods. */
struct ch_fixed {
	uint16_t legacy_version;
	struct cur ciphers;
	struct cur rest;          /* after compression_methods */
};

static int hello_fixed(struct cur m, struct ch_fixed *f)
{
	struct cur sid, comp;
	if (cur_u16(&m, &f->legacy_version) != PI_OK || cur_skip(&m, 32) != PI_OK ||
	    cur_vec8(&m, &sid) != PI_OK || cur_vec16(&m, &f->ciphers) != PI_OK ||
	    cur_vec8(&m, &comp) != PI_OK)
		return -1;
	f->rest = m;
	return 0;
}

/* Decode a ClientHello whose fixed part is *f into *ch, which must be all
 * zero (or as tls_init() leaves it: the strings "", their tails as they
 * were). Returns 0 if well formed, 1 if an extension is malformed (fields
 * parsed so far kept; JA3 kept unless the extension list itself, the
 * cipher list, or the groups or point formats vector is broken). */
static int parse_client_hello(struct tls_client_hello *ch, const struct ch_fixed *f)
{
	struct cur m = f->rest, exts = cur_empty(), all_exts;
	struct cur groups = cur_empty(), formats = cur_empty();
	struct ja3_key key;
	uint8_t *p, *tp = NULL;
	size_t n_ext_at;
	uint16_t n_ext = 0;
	int bad = 0, ja3_bad = 0;

	ch->legacy_version = f->legacy_version;
	ch->max_version = f->legacy_version;
	if (cur_left(&f->ciphers) & 1)
		bad = ja3_bad = 1;
	if (cur_left(&m) && (cur_vec16(&m, &exts) != PI_OK || cur_left(&m)))
		bad = ja3_bad = 1;
	all_exts = exts;

	key.n = 0;
	key.over = ja3_bad;
	key_u16(&key, f->legacy_version);
	key_list16(&key, f->ciphers);
	n_ext_at = key.n;
	key_u16(&key, 0); /* ext_count, set below */
	/* room for the types of as many extensions as the list can hold (4
	 * bytes each at least), else no memo */
	if (!key.over && cur_left(&exts) / 4 * 2 <= JA3_KEY_MAX - key.n)
		tp = key.b + key.n;
	else
		key.over = 1;
	while (exts.p != exts.end) {
		/* type(2) length(2) body: as cur_u16() and cur_vec16(), read
		 * directly (one bounds check each) */
		size_t left = cur_left(&exts), elen;
		uint16_t et;
		struct cur eb;
		if (left < 4 || (elen = ((size_t)exts.p[2] << 8) | exts.p[3]) > left - 4) {
			bad = ja3_bad = 1;
			break;
		}
		et = (uint16_t)((exts.p[0] << 8) | exts.p[1]);
		eb = cur_make(exts.p + 4, elen);
		exts.p += 4 + elen;
		if (tp) {
			uint16_t kt = is_grease(et) ? 0x0a0a : et;
			tp[0] = (uint8_t)(kt >> 8);
			tp[1] = (uint8_t)kt;
			tp += 2;
		}
		n_ext++;
		switch (et) {
		case TLS_EXT_SERVER_NAME:
			if (ext_sni(ch, eb))
				bad = 1;
			break;
		case TLS_EXT_ALPN:
			if (ext_alpn(ch, eb))
				bad = 1;
			break;
		case TLS_EXT_SUPPORTED_VERSIONS:
			if (ext_versions(ch, eb))
				bad = 1;
			break;
		case TLS_EXT_SUPPORTED_GROUPS:
			if (cur_vec16(&eb, &groups) != PI_OK || (cur_left(&groups) & 1))
				bad = ja3_bad = 1;
			break;
		case TLS_EXT_EC_POINT_FORMATS:
			if (cur_vec8(&eb, &formats) != PI_OK)
				bad = ja3_bad = 1;
			break;
		case TLS_EXT_ECH:
			ch->has_ech = 1;
			break;
		default:
			break;
		}
	}
	if (ja3_bad)
		return bad;
	if (!key.over) {
		key.n = (size_t)(tp - key.b);
		key.b[n_ext_at] = (uint8_t)(n_ext >> 8);
		key.b[n_ext_at + 1] = (uint8_t)n_ext;
	}
	key_list16(&key, groups);
	p = key_room(&key, 1 + cur_left(&formats));
	if (p) {
		p[0] = (uint8_t)cur_left(&formats); /* a vec8: < 256 */
		if (cur_left(&formats))
			memcpy(p + 1, formats.p, cur_left(&formats));
	}
	ja3_make(ch, &key, f->ciphers, all_exts, groups, formats);
	return bad;
}

static void client_hello(const struct fx *x, struct cur m)
{
	struct tls_state *st = x->st;
	struct ch_fixed f;
	struct tls_event ev;
	if (hello_fixed(m, &f) != 0) {
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
		return;
	}
	if (!st->saw_ch) {
		/* The first hello is parsed in place: st->ch is still as
		 * tls_init() left it (zero, strings ""); only a hello, which
		 * sets saw_ch, writes it. */
		if (parse_client_hello(&st->ch, &f)) {
			/* the anomaly event comes first and sees st->ch as it was */
			struct tls_client_hello ch = st->ch;
			memset(&st->ch, 0, sizeof st->ch);
			raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
			st->ch = ch;
		}
	} else {
		struct tls_client_hello ch;
		memset(&ch, 0, sizeof ch);
		if (parse_client_hello(&ch, &f))
			raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
		/* second ClientHello (after an HRR): keep the first one's SNI */
		if (st->ch.sni[0])
			memcpy(ch.sni, st->ch.sni, sizeof ch.sni);
		st->ch = ch;
	}
	st->ch.frame = x->frame;
	st->saw_ch = 1;
	ev_init(x, &ev, TLS_EV_CLIENT_HELLO);
	ev.hs_type = TLS_HS_CLIENT_HELLO;
	emit(x, &ev);
}

/* SSLv2 CLIENT-HELLO body after msg_type and version (RFC 5246 E.2). */
static void sslv2_hello(const struct fx *x, const uint8_t *body, uint32_t blen)
{
	struct tls_state *st = x->st;
	struct cur c = cur_make(body, blen);
	struct tls_client_hello ch;
	struct tls_event ev;
	uint16_t cl, sl, hl;
	if (cur_u16(&c, &cl) != PI_OK || cur_u16(&c, &sl) != PI_OK ||
	    cur_u16(&c, &hl) != PI_OK || cl % 3 != 0 ||
	    cur_skip(&c, (size_t)cl + sl + hl) != PI_OK) {
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
		return;
	}
	memset(&ch, 0, sizeof ch);
	ch.sslv2 = 1;
	ch.legacy_version = x->d->rec_version;
	ch.max_version = x->d->rec_version;
	ch.frame = x->frame;
	st->ch = ch;
	st->saw_ch = 1;
	ev_init(x, &ev, TLS_EV_CLIENT_HELLO);
	ev.hs_type = TLS_HS_CLIENT_HELLO;
	emit(x, &ev);
}

/* SSLv2 SERVER-HELLO body after msg_type, session-id-hit and certificate
 * type: version, certificate, cipher specs, connection id. The exchange
 * goes on in SSLv2 records, which are not parsed: both directions stop. */
static void sslv2_server_hello(const struct fx *x, const uint8_t *body, uint32_t blen)
{
	struct tls_state *st = x->st;
	struct cur c = cur_make(body, blen);
	struct tls_event ev;
	const uint8_t *p;
	uint16_t ver, certlen, cl, il;
	if (cur_u16(&c, &ver) != PI_OK || cur_u16(&c, &certlen) != PI_OK ||
	    cur_u16(&c, &cl) != PI_OK || cur_u16(&c, &il) != PI_OK ||
	    cur_bytes(&c, certlen, &p) != PI_OK || cur_skip(&c, (size_t)cl + il) != PI_OK) {
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
		return;
	}
	memset(&st->sh, 0, sizeof st->sh);
	st->sh.legacy_version = ver;
	st->sh.version = ver;
	st->sh.frame = x->frame;
	st->saw_sh = 1;
	if (!st->saw_cert && certlen) {
		pi_buf_put(st->certs.der, st->certs.der_size);
		memset(&st->certs, 0, sizeof st->certs);
		st->saw_cert = 1;
		st->certs.count = 1;
		st->certs.frame = x->frame;
		st->certs.der = pi_buf_get(certlen);
		if (st->certs.der) {
			st->certs.der_size = certlen;
			memcpy(st->certs.der, p, certlen);
			st->certs.len[0] = certlen;
			st->certs.kept = 1;
		}
	}
	ev_init(x, &ev, TLS_EV_SERVER_HELLO);
	ev.hs_type = TLS_HS_SERVER_HELLO;
	emit(x, &ev);
	if (certlen) {
		ev_init(x, &ev, TLS_EV_CERTIFICATE);
		ev.hs_type = TLS_HS_CERTIFICATE;
		ev.cert_count = 1;
		emit(x, &ev);
	}
	st->d[TLS_DIR_C2S].not_tls = 1;
	st->d[TLS_DIR_S2C].not_tls = 1;
	dir_free_bufs(st, &st->d[TLS_DIR_C2S]);
}

/* ---- ServerHello ---- */

static void server_hello(const struct fx *x, struct cur m)
{
	struct tls_state *st = x->st;
	struct tls_server_hello sh;
	struct tls_event ev;
	struct cur sid, exts = cur_empty();
	const uint8_t *random;
	uint8_t comp;
	int bad = 0, hrr;

	memset(&sh, 0, sizeof sh);
	if (cur_u16(&m, &sh.legacy_version) != PI_OK || cur_bytes(&m, 32, &random) != PI_OK) {
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
		return;
	}
	if ((sh.legacy_version >> 8) == 0x7f) {
		/* TLS 1.3 drafts before 22: no session id, no compression */
		if (cur_u16(&m, &sh.cipher) != PI_OK) {
			raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
			return;
		}
	} else if (cur_vec8(&m, &sid) != PI_OK || cur_u16(&m, &sh.cipher) != PI_OK ||
	           cur_u8(&m, &comp) != PI_OK) {
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
		return;
	}
	sh.version = sh.legacy_version;
	if (cur_left(&m) && (cur_vec16(&m, &exts) != PI_OK || cur_left(&m)))
		bad = 1;
	while (cur_left(&exts)) {
		uint16_t et, v;
		struct cur eb;
		if (cur_u16(&exts, &et) != PI_OK || cur_vec16(&exts, &eb) != PI_OK) {
			bad = 1;
			break;
		}
		if (et == TLS_EXT_SUPPORTED_VERSIONS) {
			if (cur_u16(&eb, &v) == PI_OK && !cur_left(&eb))
				sh.version = v;
			else
				bad = 1;
		}
	}
	if (bad)
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
	hrr = memcmp(random, hrr_random, sizeof hrr_random) == 0;
	sh.frame = x->frame;
	st->sh = sh;
	if (hrr) {
		st->saw_hrr = 1;
		st->tls13 = 1;  /* records stay plaintext until the real ServerHello */
	} else {
		st->saw_sh = 1;
		st->tls13 = (uint8_t)is_tls13(sh.version);
		if (st->tls13) {
			struct tls_dir *c = &st->d[TLS_DIR_C2S];
			st->d[TLS_DIR_S2C].encrypted = 1;
			c->encrypted = 1;
			/* the client's partial state is useless now (its buffers
			 * go at the end of a plaintext record in progress) */
			if (c->hdr_have < 5)
				dir_free_bufs(st, c);
		}
	}
	ev_init(x, &ev, TLS_EV_SERVER_HELLO);
	ev.hs_type = TLS_HS_SERVER_HELLO;
	ev.is_hrr = (uint8_t)hrr;
	emit(x, &ev);
}

/* ---- Certificate ---- */

/* Next certificate of a Certificate message list; TLS 1.3 entries carry
 * extensions after the DER (RFC 8446 4.4.2). Returns PI_OK or PI_INVALID. */
static int next_cert(struct cur *list, int tls13, struct cur *der)
{
	struct cur exts;
	if (cur_vec24(list, der) != PI_OK)
		return PI_INVALID;
	if (tls13 && cur_vec16(list, &exts) != PI_OK)
		return PI_INVALID;
	return PI_OK;
}

/* c lies inside the n bytes of buf (buf may be NULL) */
static int in_buf(struct cur c, const uint8_t *buf, uint32_t n)
{
	uintptr_t b = (uintptr_t)buf;
	return buf && (uintptr_t)c.p >= b && (uintptr_t)c.end <= b + n;
}

static void certificate(const struct fx *x, struct cur m)
{
	struct tls_state *st = x->st;
	struct tls_event ev;
	struct cur ctx, list, it, der;
	uint32_t count = 0, kept = 0, total = 0;
	int bad = 0, tls13 = st->tls13 && st->saw_sh;
	int keep = x->dir == TLS_DIR_S2C && !st->saw_cert;

	if ((tls13 && cur_vec8(&m, &ctx) != PI_OK) || cur_vec24(&m, &list) != PI_OK) {
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
		return;
	}
	if (cur_left(&m))
		bad = 1;
	it = list;
	while (cur_left(&it)) {
		if (next_cert(&it, tls13, &der) != PI_OK) {
			bad = 1;
			break;
		}
		count++;
		if (kept < PI_TLS_MAX_CERTS) {
			kept++;
			total += (uint32_t)cur_left(&der);
		}
	}
	if (bad)
		raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
	if (keep) {
		struct tls_certs *tc = &st->certs;
		struct tls_dir *d = x->d;
		uint8_t *own = NULL;
		uint32_t own_size = 0;
		/* The message gathered across segments sits in a buffer of this
		 * direction (the record's body, or the handshake message's): the
		 * chain takes that buffer over instead of a copy (2-3 KB per
		 * connection); the rest of the record is still read from it, now
		 * the chain's. Out of the budget of held buffers, as when freed. */
		if (total && in_buf(list, d->body, d->body_cap)) {
			own = d->body;
			own_size = d->body_cap;
			d->body = NULL;
			d->body_cap = 0;
		} else if (total && in_buf(list, d->hs, d->hs_cap)) {
			own = d->hs;
			own_size = d->hs_cap;
			d->hs = NULL;
			d->hs_cap = 0;
		}
		if (own && st->caps)
			st->caps->tls_hs_held -= own_size;
		st->saw_cert = 1;
		pi_buf_put(tc->der, tc->der_size);
		memset(tc, 0, sizeof *tc);
		tc->count = count;
		tc->frame = x->frame;
		tc->der = own ? own : total ? pi_buf_get(total) : NULL;
		if (tc->der) {
			uint32_t off = 0;
			const uint8_t *p;
			tc->der_size = own ? own_size : total;
			it = list;
			for (uint32_t i = 0; i < kept; i++) {
				size_t n;
				if (next_cert(&it, tls13, &der) != PI_OK)
					break;
				n = cur_left(&der);
				if (cur_bytes(&der, n, &p) != PI_OK)
					break;
				if (own) { /* in place: where it is in the buffer */
					off = (uint32_t)(p - own);
				} else {
					if (off + n > total)
						break;
					memcpy(tc->der + off, p, n);
				}
				tc->off[i] = off;
				tc->len[i] = (uint32_t)n;
				off += (uint32_t)n;
				tc->kept = i + 1;
			}
		}
	}
	ev_init(x, &ev, TLS_EV_CERTIFICATE);
	ev.hs_type = TLS_HS_CERTIFICATE;
	ev.cert_count = count;
	emit(x, &ev);
}

/* ---- handshake layer ---- */

static void hs_message(const struct fx *x, uint8_t type, struct cur m)
{
	struct tls_event ev;
	switch (type) {
	case TLS_HS_CLIENT_HELLO:
		if (x->dir == TLS_DIR_C2S) {
			client_hello(x, m);
			return;
		}
		break;
	case TLS_HS_SERVER_HELLO:
		if (x->dir == TLS_DIR_S2C) {
			server_hello(x, m);
			return;
		}
		break;
	case TLS_HS_CERTIFICATE:
		certificate(x, m);
		return;
	default:
		break;
	}
	ev_init(x, &ev, TLS_EV_HANDSHAKE);
	ev.hs_type = type;
	emit(x, &ev);
}

static void too_big(const struct fx *x)
{
	raise_anomaly(x, TLS_AN_HS_MSG_TOO_BIG);
	if (x->st->caps)
		x->st->caps->tls_msg_too_big++;
}

/* Could this be the start of a handshake message? (used after a gap) */
static int hs_start_plausible(struct cur c)
{
	uint8_t t;
	uint32_t len;
	if (cur_u8(&c, &t) != PI_OK || cur_u24(&c, &len) != PI_OK)
		return 0;
	if (len > PI_TLS_MAX_HS_MSG - 4)
		return 0;
	switch (t) {
	case 0: case 1: case 2: case 3: case 4: case 8: case 11: case 12:
	case 13: case 14: case 15: case 16: case 20: case 22:
		return 1;
	default:
		return 0;
	}
}

/* Append handshake bytes to d->hs; parse the message once complete. */
static void hs_append(const struct fx *x, struct cur *c)
{
	struct tls_dir *d = x->d;
	const uint8_t *p;
	struct cur h;
	uint8_t type;
	uint32_t len, total, n;

	if (d->hs_have < 4) {
		n = 4u - d->hs_have;
		if (n > cur_left(c))
			n = (uint32_t)cur_left(c);
		if (reserve(x->st->caps, &d->hs, &d->hs_cap, 4, PI_TLS_MAX_HS_MSG) != 0 ||
		    cur_bytes(c, n, &p) != PI_OK) {
			d->hs_have = 0;
			d->hs_lost = 1;
			return;
		}
		memcpy(d->hs + d->hs_have, p, n);
		d->hs_have += n;
		if (d->hs_have < 4)
			return;
	}
	h = cur_make(d->hs, 4);
	(void)cur_u8(&h, &type);
	(void)cur_u24(&h, &len);
	total = len + 4u;
	if (len > PI_TLS_MAX_HS_MSG - 4 ||
	    reserve(x->st->caps, &d->hs, &d->hs_cap, total, PI_TLS_MAX_HS_MSG) != 0) {
		too_big(x);
		d->hs_skip = total - d->hs_have;
		d->hs_have = 0;
		return;
	}
	n = total - d->hs_have;
	if (n > cur_left(c))
		n = (uint32_t)cur_left(c);
	if (cur_bytes(c, n, &p) != PI_OK)
		return;
	memcpy(d->hs + d->hs_have, p, n);
	d->hs_have += n;
	if (d->hs_have == total) {
		d->hs_have = 0;
		hs_message(x, type, cur_make(d->hs + 4, len));
	}
}

/* Handshake record content. at_start: body begins at the record start
 * (not the remainder after a gap). */
static void hs_bytes(const struct fx *x, const uint8_t *body, uint32_t blen, int at_start)
{
	struct tls_dir *d = x->d;
	struct cur c = cur_make(body, blen);

	if (d->hs_lost) {
		/* after a gap: pick up again only at a plausible message start */
		if (!at_start || !hs_start_plausible(c))
			return;
		d->hs_lost = 0;
		d->hs_have = 0;
		d->hs_skip = 0;
	}
	while (cur_left(&c)) {
		if (d->hs_skip) {
			uint32_t n = d->hs_skip;
			if (n > cur_left(&c))
				n = (uint32_t)cur_left(&c);
			(void)cur_skip(&c, n);
			d->hs_skip -= n;
			continue;
		}
		if (d->hs_have == 0) {
			struct cur p = c, m;
			uint8_t type;
			uint32_t len;
			if (cur_u8(&p, &type) == PI_OK && cur_u24(&p, &len) == PI_OK) {
				if (len > PI_TLS_MAX_HS_MSG - 4) {
					too_big(x);
					d->hs_skip = len + 4u;
					continue;
				}
				if (cur_sub(&p, len, &m) == PI_OK) {
					/* whole message in this record: parse in place */
					c = p;
					hs_message(x, type, m);
					if (d->not_tls)
						return;
					continue;
				}
			}
		}
		hs_append(x, &c);
		if (d->hs_lost)
			return;
	}
}

/* A gap of n bytes inside handshake content: keep message sync if the gap
 * ends inside the message it starts in, else wait for a plausible start. */
static void hs_gap(struct tls_dir *d, size_t n)
{
	if (d->hs_lost)
		return;
	if (d->hs_skip) {
		if (n <= d->hs_skip) {
			d->hs_skip -= (uint32_t)n;
			return;
		}
	} else if (d->hs_have >= 4) {
		struct cur h = cur_make(d->hs, 4);
		uint32_t len, rest;
		(void)cur_skip(&h, 1);
		(void)cur_u24(&h, &len);
		rest = len + 4u - d->hs_have;
		d->hs_have = 0;
		if (n <= rest) {
			d->hs_skip = rest - (uint32_t)n;
			return;
		}
	}
	d->hs_have = 0;
	d->hs_skip = 0;
	d->hs_lost = 1;
}

/* ---- alerts ---- */

static int alert_one(const struct fx *x, uint8_t level, uint8_t desc)
{
	struct tls_event ev;
	if (level != 1 && level != 2) {
		raise_anomaly(x, TLS_AN_BAD_ALERT);
		return -1;
	}
	ev_init(x, &ev, TLS_EV_ALERT);
	ev.alert_level = level;
	ev.alert_desc = desc;
	emit(x, &ev);
	return 0;
}

static void alert_record(const struct fx *x, const uint8_t *body, uint32_t blen)
{
	struct tls_dir *d = x->d;
	struct cur c = cur_make(body, blen);
	uint8_t level = 0, desc = 0;

	if (blen == 0) {
		raise_anomaly(x, TLS_AN_BAD_ALERT);
		return;
	}
	if (!d->alert_frag_have && blen >= MIN_ENCRYPTED_ALERT) {
		/* not a plaintext alert level: an encrypted alert whose CCS we
		 * did not see (capture started late, or lost in a gap) */
		struct cur p = c;
		(void)cur_u8(&p, &level);
		if (level != 1 && level != 2) {
			emit_simple(x, TLS_EV_ENCRYPTED);
			return;
		}
	}
	if (d->alert_frag_have) {
		/* second half of an alert split across two records */
		d->alert_frag_have = 0;
		if (cur_u8(&c, &desc) != PI_OK || alert_one(x, d->alert_frag, desc))
			return;
	}
	while (cur_left(&c) >= 2) {
		(void)cur_u8(&c, &level);
		(void)cur_u8(&c, &desc);
		if (alert_one(x, level, desc))
			return;
	}
	if (cur_u8(&c, &d->alert_frag) == PI_OK)
		d->alert_frag_have = 1;
}

/* ---- record completion ---- */

static void finish_record(const struct fx *x, const uint8_t *body, uint32_t blen)
{
	struct tls_dir *d = x->d;
	struct tls_state *st = x->st;
	uint8_t skip = d->skip_body, ev = d->rec_ev;

	if (!body) {
		body = empty_bytes;
		blen = 0;
	}
	d->hdr_have = 0;
	d->skip_body = 0;
	d->rec_ev = 0;
	d->body_have = 0;
	if (skip) {
		if (ev == TLS_EV_CCS) {
			emit_simple(x, TLS_EV_CCS);
			if (!st->tls13)
				d->encrypted = 1;
		} else if (ev) {
			emit_simple(x, (enum tls_ev_type)ev);
		}
	} else {
		switch (d->rec_type) {
		case TLS_CT_HANDSHAKE:
			if (d->rec_len == 0)
				raise_anomaly(x, TLS_AN_BAD_HANDSHAKE);
			else
				hs_bytes(x, body, blen, blen == d->rec_len);
			break;
		case TLS_CT_ALERT:
			alert_record(x, body, blen);
			break;
		case TLS_CT_SSLV2:
			if (x->dir == TLS_DIR_C2S)
				sslv2_hello(x, body, blen);
			else
				sslv2_server_hello(x, body, blen);
			break;
		default:
			break;
		}
	}
	if ((d->encrypted || d->not_tls) && (d->body || d->hs))
		dir_free_bufs(st, d);
}

/* ---- entry points ---- */

/* tls_init() clears all but three ranges and relies on this order: a field
 * added between the strings would be left as it was. */
#define CH_OFF(f) offsetof(struct tls_client_hello, f)
#define CH_END(f) (CH_OFF(f) + sizeof(((struct tls_client_hello *)0)->f))
_Static_assert(CH_OFF(alpn) == CH_END(sni) && CH_OFF(ja3) == CH_END(alpn) &&
               CH_OFF(ja3_str) == CH_END(ja3) && CH_OFF(has_ech) == CH_END(ja3_str),
               "tls_init: sni, alpn, ja3, ja3_str, has_ech must follow each other");

void tls_init(struct tls_state *st, tls_event_cb cb, void *ctx, struct pi_caps *caps)
{
	const size_t ch = offsetof(struct tls_state, ch);
	uint8_t *b = (uint8_t *)st;
	if (!st)
		return;
	/* All zero but the string buffers sni, alpn and ja3_str of st->ch
	 * past their first byte (829 of the state's 1208 bytes): each holds ""
	 * and is only ever written NUL-terminated, and read as a string. */
	memset(b, 0, ch + offsetof(struct tls_client_hello, sni) + 1);
	st->ch.alpn[0] = '\0';
	memset(b + ch + offsetof(struct tls_client_hello, ja3), 0,
	       offsetof(struct tls_client_hello, ja3_str) + 1 - offsetof(struct tls_client_hello, ja3));
	memset(b + ch + offsetof(struct tls_client_hello, has_ech), 0,
	       sizeof *st - ch - offsetof(struct tls_client_hello, has_ech));
	st->cb = cb;
	st->cb_ctx = ctx;
	st->caps = caps;
}

void tls_feed(struct tls_state *st, int dir, const uint8_t *data, size_t len,
              uint64_t frame, uint64_t ts_ns)
{
	struct fx x;
	struct tls_dir *d;
	struct cur c;

	if (!st || (dir != TLS_DIR_C2S && dir != TLS_DIR_S2C))
		return;
	st->last_frame = frame;
	st->last_ts = ts_ns;
	d = &st->d[dir];
	if (d->not_tls || !data || !len)
		return;
	x.st = st;
	x.d = d;
	x.dir = dir;
	x.frame = frame;
	x.ts = ts_ns;
	c = cur_make(data, len);
	while (!d->not_tls) {
		const uint8_t *body = NULL;
		uint32_t blen = 0;
		if (d->hdr_have < 5) {
			if (!cur_left(&c))
				break;
			if (d->desync)
				resync(d, &c);
			else
				take_header(&x, &c);
			if (d->hdr_have < 5 || d->not_tls)
				continue;
			begin_record(&x);
			if (d->hdr_have < 5 || cur_left(&c) < d->rec_left)
				continue; /* sync lost, or the body goes on past this chunk */
			/* The whole body is in this chunk: what take_body() returns
			 * for it (body_have is 0 after begin_record()), without a
			 * turn of the loop per step. */
			if (!d->skip_body && d->rec_left) {
				body = c.p;
				blen = d->rec_left;
			}
			c.p += d->rec_left;
			d->rec_left = 0;
		} else if (d->rec_left) {
			if (!cur_left(&c))
				break;
			body = take_body(&x, &c, &blen);
			if (d->rec_left)
				break;
		}
		finish_record(&x, body, blen);
	}
}

void tls_gap(struct tls_state *st, int dir, size_t n)
{
	struct fx x;
	struct tls_dir *d;

	if (!st || (dir != TLS_DIR_C2S && dir != TLS_DIR_S2C) || n == 0)
		return;
	d = &st->d[dir];
	if (d->not_tls)
		return;
	x.st = st;
	x.d = d;
	x.dir = dir;
	x.frame = st->last_frame;
	x.ts = st->last_ts;
	if (!d->desync && d->hdr_have == 5 && d->rec_left >= n) {
		/* the gap ends inside the current record body */
		if (!d->skip_body) {
			raise_anomaly(&x, TLS_AN_GAP);
			if (d->rec_type == TLS_CT_HANDSHAKE) {
				/* parse what came before the hole, then skip it */
				uint32_t have = d->body_have;
				int at_start = have + d->rec_left == d->rec_len;
				d->body_have = 0;
				if (have)
					hs_bytes(&x, d->body, have, at_start);
				hs_gap(d, n);
			} else {
				d->skip_body = 1;   /* alert or SSLv2 hello: dropped */
				d->rec_ev = 0;
				d->alert_frag_have = 0;
			}
			d->body_have = 0;
		}
		d->rec_left -= (uint32_t)n;
		if (!d->rec_left)
			finish_record(&x, NULL, 0);
		return;
	}
	raise_anomaly(&x, TLS_AN_GAP);
	d->hdr_have = 0;
	d->rec_left = 0;
	d->body_have = 0;
	d->skip_body = 0;
	d->rec_ev = 0;
	d->hs_have = 0;
	d->hs_skip = 0;
	d->hs_lost = !d->encrypted;
	d->alert_frag_have = 0;
	d->desync = 1;
	d->seen = 1;
}

void tls_free(struct tls_state *st)
{
	if (!st)
		return;
	dir_free_bufs(st, &st->d[0]);
	dir_free_bufs(st, &st->d[1]);
	pi_buf_put(st->certs.der, st->certs.der_size);
	st->certs.der = NULL;
	st->certs.der_size = 0;
	st->certs.kept = 0;
}

/* ---- names ---- */

const char *tls_anomaly_name(enum tls_anomaly a)
{
	static const char *const names[TLS_AN_COUNT] = {
		[TLS_AN_NONE] = "none",
		[TLS_AN_BAD_RECORD_VERSION] = "bad_record_version",
		[TLS_AN_RECORD_TOO_LONG] = "record_too_long",
		[TLS_AN_BAD_HANDSHAKE] = "bad_handshake",
		[TLS_AN_HS_MSG_TOO_BIG] = "hs_msg_too_big",
		[TLS_AN_BAD_ALERT] = "bad_alert",
		[TLS_AN_GAP] = "gap",
		[TLS_AN_BAD_RECORD_TYPE] = "bad_record_type",
	};
	if ((unsigned)a >= TLS_AN_COUNT || !names[a])
		return "unknown";
	return names[a];
}

/* IANA TLS Alerts registry (RFC 8446 6, RFC 5246 7.2, RFC 9146, ECH);
 * unassigned values are "alert_N", so every entry is a static string. */
static const char *const alert_names[256] = {
	"close_notify", "alert_1", "alert_2", "alert_3", "alert_4", "alert_5",
	"alert_6", "alert_7", "alert_8", "alert_9", "unexpected_message", "alert_11",
	"alert_12", "alert_13", "alert_14", "alert_15", "alert_16", "alert_17",
	"alert_18", "alert_19", "bad_record_mac", "decryption_failed",
	"record_overflow", "alert_23", "alert_24", "alert_25", "alert_26", "alert_27",
	"alert_28", "alert_29", "decompression_failure", "alert_31", "alert_32",
	"alert_33", "alert_34", "alert_35", "alert_36", "alert_37", "alert_38",
	"alert_39", "handshake_failure", "no_certificate", "bad_certificate",
	"unsupported_certificate", "certificate_revoked", "certificate_expired",
	"certificate_unknown", "illegal_parameter", "unknown_ca", "access_denied",
	"decode_error", "decrypt_error", "too_many_cids_requested", "alert_53",
	"alert_54", "alert_55", "alert_56", "alert_57", "alert_58", "alert_59",
	"export_restriction", "alert_61", "alert_62", "alert_63", "alert_64",
	"alert_65", "alert_66", "alert_67", "alert_68", "alert_69",
	"protocol_version", "insufficient_security", "alert_72", "alert_73",
	"alert_74", "alert_75", "alert_76", "alert_77", "alert_78", "alert_79",
	"internal_error", "alert_81", "alert_82", "alert_83", "alert_84", "alert_85",
	"inappropriate_fallback", "alert_87", "alert_88", "alert_89", "user_canceled",
	"alert_91", "alert_92", "alert_93", "alert_94", "alert_95", "alert_96",
	"alert_97", "alert_98", "alert_99", "no_renegotiation", "alert_101",
	"alert_102", "alert_103", "alert_104", "alert_105", "alert_106", "alert_107",
	"alert_108", "missing_extension", "unsupported_extension",
	"certificate_unobtainable", "unrecognized_name",
	"bad_certificate_status_response", "bad_certificate_hash_value",
	"unknown_psk_identity", "certificate_required", "alert_117", "alert_118",
	"alert_119", "no_application_protocol", "ech_required", "alert_122",
	"alert_123", "alert_124", "alert_125", "alert_126", "alert_127", "alert_128",
	"alert_129", "alert_130", "alert_131", "alert_132", "alert_133", "alert_134",
	"alert_135", "alert_136", "alert_137", "alert_138", "alert_139", "alert_140",
	"alert_141", "alert_142", "alert_143", "alert_144", "alert_145", "alert_146",
	"alert_147", "alert_148", "alert_149", "alert_150", "alert_151", "alert_152",
	"alert_153", "alert_154", "alert_155", "alert_156", "alert_157", "alert_158",
	"alert_159", "alert_160", "alert_161", "alert_162", "alert_163", "alert_164",
	"alert_165", "alert_166", "alert_167", "alert_168", "alert_169", "alert_170",
	"alert_171", "alert_172", "alert_173", "alert_174", "alert_175", "alert_176",
	"alert_177", "alert_178", "alert_179", "alert_180", "alert_181", "alert_182",
	"alert_183", "alert_184", "alert_185", "alert_186", "alert_187", "alert_188",
	"alert_189", "alert_190", "alert_191", "alert_192", "alert_193", "alert_194",
	"alert_195", "alert_196", "alert_197", "alert_198", "alert_199", "alert_200",
	"alert_201", "alert_202", "alert_203", "alert_204", "alert_205", "alert_206",
	"alert_207", "alert_208", "alert_209", "alert_210", "alert_211", "alert_212",
	"alert_213", "alert_214", "alert_215", "alert_216", "alert_217", "alert_218",
	"alert_219", "alert_220", "alert_221", "alert_222", "alert_223", "alert_224",
	"alert_225", "alert_226", "alert_227", "alert_228", "alert_229", "alert_230",
	"alert_231", "alert_232", "alert_233", "alert_234", "alert_235", "alert_236",
	"alert_237", "alert_238", "alert_239", "alert_240", "alert_241", "alert_242",
	"alert_243", "alert_244", "alert_245", "alert_246", "alert_247", "alert_248",
	"alert_249", "alert_250", "alert_251", "alert_252", "alert_253", "alert_254",
	"alert_255",
};

const char *tls_alert_name(uint8_t desc)
{
	return alert_names[desc];
}

#define DRAFT(n) "TLS 1.3 draft " #n
#define DRAFT10(t) DRAFT(t##0), DRAFT(t##1), DRAFT(t##2), DRAFT(t##3), DRAFT(t##4), \
	DRAFT(t##5), DRAFT(t##6), DRAFT(t##7), DRAFT(t##8), DRAFT(t##9)
/* 0x7fNN: TLS 1.3 draft NN (decimal). */
static const char *const draft_names[256] = {
	DRAFT(0), DRAFT(1), DRAFT(2), DRAFT(3), DRAFT(4),
	DRAFT(5), DRAFT(6), DRAFT(7), DRAFT(8), DRAFT(9),
	DRAFT10(1), DRAFT10(2), DRAFT10(3), DRAFT10(4), DRAFT10(5),
	DRAFT10(6), DRAFT10(7), DRAFT10(8), DRAFT10(9), DRAFT10(10),
	DRAFT10(11), DRAFT10(12), DRAFT10(13), DRAFT10(14), DRAFT10(15),
	DRAFT10(16), DRAFT10(17), DRAFT10(18), DRAFT10(19), DRAFT10(20),
	DRAFT10(21), DRAFT10(22), DRAFT10(23), DRAFT10(24),
	DRAFT(250), DRAFT(251), DRAFT(252), DRAFT(253), DRAFT(254), DRAFT(255),
};

/* Static name of a known version, NULL if unknown. */
static const char *version_name(uint16_t v)
{
	switch (v) {
	case 0x0002: case 0x0200: return "SSL 2.0";
	case 0x0300: return "SSL 3.0";
	case 0x0301: return "TLS 1.0";
	case 0x0302: return "TLS 1.1";
	case 0x0303: return "TLS 1.2";
	case 0x0304: return "TLS 1.3";
	case 0xfb1a: return "TLS 1.3 (Facebook)";
	case 0xfeff: return "DTLS 1.0";
	case 0xfefd: return "DTLS 1.2";
	case 0xfefc: return "DTLS 1.3";
	default: break;
	}
	if ((v >> 8) == 0x7f)
		return draft_names[v & 0xff];
	if (is_grease(v))
		return "GREASE";
	return NULL;
}

const char *tls_version_name(uint16_t version)
{
	const char *n = version_name(version);
	return n ? n : "unknown";
}

const char *tls_version_str(uint16_t version, char *buf, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const char *n = version_name(version);
	if (n)
		return n;
	if (!buf)
		return "unknown";
	if (len < 7) {
		if (len)
			buf[0] = '\0';
		return buf;
	}
	buf[0] = '0';
	buf[1] = 'x';
	buf[2] = hex[(version >> 12) & 15];
	buf[3] = hex[(version >> 8) & 15];
	buf[4] = hex[(version >> 4) & 15];
	buf[5] = hex[version & 15];
	buf[6] = '\0';
	return buf;
}
