/* certdiag.c: interception recognition, the certificate lint, the client
 * guess and the decision of issue #5 (see certdiag.h).
 *
 * Sources of the rules, each named again in its finding:
 *  - Apple: support.apple.com/103769 (HT210176) "Requirements for trusted
 *    certificates in iOS 13 and macOS 10.15"; support.apple.com/102028
 *    (HT211025) for the 398-day rule (Apple-preinstalled roots only).
 *  - Python 3.13: ssl.create_default_context() sets VERIFY_X509_STRICT
 *    (cpython #107361, PR #112389), i.e. OpenSSL's RFC 5280 checks in
 *    crypto/x509/x509_vfy.c check_chain() under X509_V_FLAG_X509_STRICT.
 *  - Go: go.dev/doc/go1.15#commonname (CommonName ignored),
 *    go.dev/doc/go1.18#sha1 (SHA-1 signatures rejected).
 *  - Generic: RFC 5280 (validity, basicConstraints, keyUsage, EKU), RFC 6125
 *    (names), OpenSSL's default verification and security levels.
 */
#include "analysis/certdiag.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <libpsl.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/conf.h"
#include "common/util.h"
#include "dissectors/tls.h"
#include "ranking/kb.h"

/* ======================================================================== */
/* certificates from files                                                   */
/* ======================================================================== */

static unsigned char *slurp(const char *path, size_t *len, char *err, size_t errlen)
{
	FILE *f = fopen(path, "rb");
	unsigned char *buf = NULL;
	size_t n = 0, cap = 0;
	if (!f) {
		snprintf(err, errlen, "%s: cannot open", path);
		return NULL;
	}
	for (;;) {
		size_t got;
		if (n == cap) {
			size_t nc = cap ? cap * 2 : 16384;
			unsigned char *nb;
			if (nc > CERTDIAG_MAX_FILE_BYTES + 1)
				nc = CERTDIAG_MAX_FILE_BYTES + 1;
			if (nc <= cap) {
				snprintf(err, errlen, "%s: larger than %u bytes", path, CERTDIAG_MAX_FILE_BYTES);
				goto fail;
			}
			nb = realloc(buf, nc + 1);
			if (!nb) {
				snprintf(err, errlen, "%s: out of memory", path);
				goto fail;
			}
			buf = nb;
			cap = nc;
		}
		got = fread(buf + n, 1, cap - n, f);
		n += got;
		if (got == 0) {
			if (ferror(f)) {
				snprintf(err, errlen, "%s: read error", path);
				goto fail;
			}
			break;
		}
	}
	if (n > CERTDIAG_MAX_FILE_BYTES) {
		snprintf(err, errlen, "%s: larger than %u bytes", path, CERTDIAG_MAX_FILE_BYTES);
		goto fail;
	}
	fclose(f);
	if (!buf && !(buf = malloc(1))) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
fail:
	fclose(f);
	free(buf);
	return NULL;
}

int certdiag_read_certs(const char *path, X509 **out, size_t max, char *err, size_t errlen)
{
	size_t len = 0, n = 0;
	unsigned char *buf = slurp(path, &len, err, errlen);
	if (!buf)
		return -1;
	if (len && memmem(buf, len, "-----BEGIN", 10)) {
		BIO *b = BIO_new_mem_buf(buf, (int)len);
		if (!b) {
			snprintf(err, errlen, "%s: out of memory", path);
			goto fail;
		}
		ERR_clear_error();
		while (n < max) {
			/* _AUX also takes "TRUSTED CERTIFICATE"; other blocks are skipped */
			X509 *x = PEM_read_bio_X509_AUX(b, NULL, NULL, NULL);
			if (!x) {
				unsigned long e = ERR_peek_last_error();
				if (ERR_GET_LIB(e) == ERR_LIB_PEM && ERR_GET_REASON(e) == PEM_R_NO_START_LINE) {
					ERR_clear_error();
					break; /* no more certificates */
				}
				ERR_clear_error();
				snprintf(err, errlen, "%s: certificate %zu: not a readable PEM certificate", path, n + 1);
				BIO_free(b);
				goto fail;
			}
			out[n++] = x;
		}
		BIO_free(b);
	} else {
		const unsigned char *p = buf, *end = buf + len;
		while (p < end && n < max) {
			const unsigned char *start = p;
			X509 *x = d2i_X509(NULL, &p, (long)(end - p));
			ERR_clear_error();
			if (!x) {
				if (n == 0) {
					snprintf(err, errlen, "%s: not a certificate (neither PEM nor DER X.509)", path);
					goto fail;
				}
				snprintf(err, errlen, "%s: bytes after certificate %zu are not a DER certificate", path, n);
				goto fail;
			}
			if (p <= start) {
				X509_free(x);
				break;
			}
			out[n++] = x;
		}
	}
	if (!n) {
		snprintf(err, errlen, "%s: no certificate in the file", path);
		goto fail;
	}
	free(buf);
	return (int)n;
fail:
	for (size_t i = 0; i < n; i++)
		X509_free(out[i]);
	free(buf);
	return -1;
}

int certdiag_cert_info(X509 *x, struct cert_info *out)
{
	unsigned char *der = NULL;
	int len, rc;
	if (!x || !out)
		return -1;
	len = i2d_X509(x, &der);
	if (len <= 0 || !der) {
		ERR_clear_error();
		memset(out, 0, sizeof(*out));
		return -1;
	}
	rc = cert_parse(der, (size_t)len, out);
	OPENSSL_free(der);
	return rc;
}

/* ======================================================================== */
/* 1. interception recognition                                               */
/* ======================================================================== */

int inspect_cas_load(struct inspect_cas *cas, const char *path, char *err, size_t errlen)
{
	X509 *xs[CERTDIAG_MAX_FILE_CERTS];
	struct cert_info *ci;
	int n = certdiag_read_certs(path, xs, CERTDIAG_MAX_FILE_CERTS, err, errlen);
	if (n < 0)
		return -1;
	if (cas->n + (size_t)n > CERTDIAG_MAX_CAS) {
		snprintf(err, errlen, "%s: more than %u inspection CA certificates in all", path, CERTDIAG_MAX_CAS);
		for (int i = 0; i < n; i++)
			X509_free(xs[i]);
		return -1;
	}
	ci = malloc(sizeof(*ci));
	if (!ci) {
		snprintf(err, errlen, "%s: out of memory", path);
		for (int i = 0; i < n; i++)
			X509_free(xs[i]);
		return -1;
	}
	for (int i = 0; i < n; i++) {
		struct inspect_ca *c = &cas->v[cas->n++];
		memset(c, 0, sizeof(*c));
		c->x = xs[i];
		if (certdiag_cert_info(xs[i], ci) == 0) {
			pi_strlcpy(c->subject, ci->subject, sizeof(c->subject));
			pi_strlcpy(c->ski_hex, ci->ski_hex, sizeof(c->ski_hex));
			pi_strlcpy(c->spki_sha256, ci->spki_sha256, sizeof(c->spki_sha256));
			c->self_signed = ci->self_signed;
		}
	}
	free(ci);
	return n;
}

void inspect_cas_free(struct inspect_cas *cas)
{
	if (!cas)
		return;
	for (size_t i = 0; i < cas->n; i++)
		X509_free(cas->v[i].x);
	cas->n = 0;
}

const char *icpt_how_name(enum icpt_how h)
{
	switch (h) {
	case ICPT_CA_KEYID: return "ca-keyid";
	case ICPT_CA_SIGNATURE: return "ca-signature";
	case ICPT_CA_ITSELF: return "ca-itself";
	case ICPT_KB_ISSUER: return "kb-issuer";
	case ICPT_HEURISTIC: return "heuristic";
	default: return "none";
	}
}

/* ---- issuer statistics --------------------------------------------------- */

static int is_ip_text(const char *s);

#define ISTAT_SPKI 4

struct istat {
	uint64_t key;
	uint16_t ndom;
	uint8_t nspki, spki_overflow;
	uint64_t dom[CERTDIAG_ISSUER_DOMAINS];
	uint64_t spki[ISTAT_SPKI];
	char label[96];
};

#define DOMSET_SLOTS (CERTDIAG_MAX_DOMAINS * 2)

/* The registrable domain's hash of recent names (libpsl is the cost of a
 * connection otherwise, ~14,000 instructions): two-way set-associative
 * (least recently used way replaced, so that two busy names of one set do
 * not evict each other at every connection), exact by name. */
#define REGDOM_CACHE 1024u
#define REGDOM_NAME 96u

struct regdom_memo {
	uint64_t dh;
	uint64_t used;          /* issuer_stats.memo_tick when last found or filled */
	char name[REGDOM_NAME]; /* "" = empty slot */
};

struct issuer_stats {
	struct istat *v;
	size_t n;
	uint64_t *domset;       /* open addressing, 0 = empty */
	size_t ndomains;
	struct regdom_memo *memo; /* REGDOM_CACHE, allocated on first use */
	uint64_t memo_tick;
};

struct issuer_stats *issuer_stats_new(void)
{
	struct issuer_stats *st = calloc(1, sizeof(*st));
	if (!st)
		return NULL;
	st->v = calloc(CERTDIAG_MAX_ISSUERS, sizeof(*st->v));
	st->domset = calloc(DOMSET_SLOTS, sizeof(*st->domset));
	if (!st->v || !st->domset) {
		issuer_stats_free(st);
		return NULL;
	}
	return st;
}

void issuer_stats_free(struct issuer_stats *st)
{
	if (!st)
		return;
	free(st->v);
	free(st->domset);
	free(st->memo);
	free(st);
}

uint64_t issuer_key(const struct cert_info *leaf)
{
	uint64_t h = pi_hash(leaf->issuer, strlen(leaf->issuer), 0x6973737565720001ull);
	h = pi_hash(leaf->aki_hex, strlen(leaf->aki_hex), h);
	return h ? h : 1;
}

/* Hash of the registrable domain of name (libpsl); the name itself when it
 * has none (an IP address, a public suffix, a single label). 0 if empty. */
static uint64_t regdom_hash(const char *name)
{
	char low[256];
	size_t n;
	const char *r = NULL;
	const psl_ctx_t *psl = psl_builtin();
	uint64_t h;
	if (!name || !*name)
		return 0;
	pi_strlcpy(low, name, sizeof(low));
	pi_lower(low);
	n = strlen(low);
	while (n && low[n - 1] == '.')
		low[--n] = '\0';
	if (!n)
		return 0;
	if (psl)
		r = psl_registrable_domain(psl, low);
	if (!r)
		r = low;
	h = pi_hash(r, strlen(r), 0x646f6d61696e0001ull);
	return h ? h : 1;
}

static struct istat *istat_find(const struct issuer_stats *st, uint64_t key)
{
	for (size_t i = 0; i < st->n; i++)
		if (st->v[i].key == key)
			return &st->v[i];
	return NULL;
}

static void domset_add(struct issuer_stats *st, uint64_t h)
{
	size_t i = (size_t)(h % DOMSET_SLOTS);
	for (size_t k = 0; k < DOMSET_SLOTS; k++, i = (i + 1) % DOMSET_SLOTS) {
		if (st->domset[i] == h)
			return;
		if (!st->domset[i]) {
			if (st->ndomains >= CERTDIAG_MAX_DOMAINS)
				return; /* saturated */
			st->domset[i] = h;
			st->ndomains++;
			return;
		}
	}
}

static uint64_t str_hash(const char *s, uint64_t seed)
{
	/* the hash of the lowercase name, cut at 255 bytes */
	uint64_t h = s ? pi_hash_lower(s, strnlen(s, 255), seed) : pi_hash("", 0, seed);
	return h ? h : 1;
}

/* What the issuer statistics count for name: the hash of its registrable
 * domain, 0 for none (empty, or an address: it is no domain and would
 * inflate the count). */
static uint64_t name_domain(const char *name)
{
	return is_ip_text(name) ? 0 : regdom_hash(name);
}

/* name_domain through the memo; ih: any hash of name (it only picks the
 * set: str_hash, the name's without case, so case variants of a name fall
 * in one set, two ways). The name is compared in full. */
static uint64_t name_domain_memo(struct issuer_stats *st, const char *name, uint64_t ih)
{
	size_t n = strlen(name);
	struct regdom_memo *m;
	if (n == 0 || n >= REGDOM_NAME)
		return name_domain(name);
	if (!st->memo)
		st->memo = calloc(REGDOM_CACHE, sizeof(*st->memo));
	if (!st->memo)
		return name_domain(name);
	m = &st->memo[(pi_fmix64(ih) & (REGDOM_CACHE / 2 - 1)) * 2];
	if (strcmp(m[0].name, name) != 0) {
		if (strcmp(m[1].name, name) == 0)
			m++;
		else {
			m = !m[0].name[0] ? &m[0] : !m[1].name[0] ? &m[1] : m[0].used <= m[1].used ? &m[0] : &m[1];
			m->dh = name_domain(name);
			memcpy(m->name, name, n + 1);
		}
	}
	m->used = ++st->memo_tick;
	return m->dh;
}

static uint64_t spki_hash(const struct cert_info *leaf)
{
	return pi_hash(leaf->spki_sha256, strlen(leaf->spki_sha256), 7);
}

/* The add of issuer_stats_add with its inputs computed: ikey =
 * issuer_key(leaf), issuer = leaf->issuer, sh = spki_hash(leaf), dh =
 * name_domain(name) (not 0). *hint (may be NULL): where the issuer's entry
 * was last found (index + 1, 0: not known), checked against ikey. Adding
 * what is already counted changes nothing (sets that only grow). */
static void istat_add(struct issuer_stats *st, uint64_t ikey, const char *issuer, uint64_t sh, uint64_t dh,
                      uint32_t *hint)
{
	struct istat *s;
	domset_add(st, dh);
	if (hint && *hint && *hint <= st->n && st->v[*hint - 1].key == ikey) {
		s = &st->v[*hint - 1];
	} else {
		s = istat_find(st, ikey);
		if (!s) {
			if (st->n >= CERTDIAG_MAX_ISSUERS)
				return;
			s = &st->v[st->n++];
			memset(s, 0, sizeof(*s));
			s->key = ikey;
			pi_strlcpy(s->label, issuer, sizeof(s->label));
		}
		if (hint)
			*hint = (uint32_t)(s - st->v) + 1;
	}
	for (size_t i = 0; i < s->ndom; i++)
		if (s->dom[i] == dh)
			goto spki;
	if (s->ndom < CERTDIAG_ISSUER_DOMAINS)
		s->dom[s->ndom++] = dh;
spki:
	for (size_t i = 0; i < s->nspki; i++)
		if (s->spki[i] == sh)
			return;
	if (s->nspki < ISTAT_SPKI)
		s->spki[s->nspki++] = sh;
	else
		s->spki_overflow = 1;
}

void issuer_stats_add(struct issuer_stats *st, const struct cert_info *leaf, const char *name)
{
	uint64_t dh;
	if (!st || !leaf || !name)
		return;
	dh = name_domain_memo(st, name, str_hash(name, 11));
	if (!dh)
		return;
	istat_add(st, issuer_key(leaf), leaf->issuer, spki_hash(leaf), dh, NULL);
}

size_t issuer_stats_domains(const struct issuer_stats *st, uint64_t ikey)
{
	const struct istat *s = st ? istat_find(st, ikey) : NULL;
	return s ? s->ndom : 0;
}

size_t issuer_stats_total_domains(const struct issuer_stats *st)
{
	return st ? st->ndomains : 0;
}

int issuer_stats_forging(const struct issuer_stats *st, uint64_t ikey, char *why, size_t wl)
{
	const struct istat *s = st ? istat_find(st, ikey) : NULL;
	size_t total;
	if (!s)
		return 0;
	total = st->ndomains;
	if (s->ndom >= CERTDIAG_FORGE_MIN_DOMAINS && total &&
	    (double)s->ndom >= CERTDIAG_FORGE_MIN_SHARE * (double)total) {
		if (why)
			snprintf(why, wl, "issuer %s signed the leaves of %u%s unrelated registrable domains, %u%% of the %zu seen with a certificate",
			         s->label, (unsigned)s->ndom, s->ndom >= CERTDIAG_ISSUER_DOMAINS ? "+" : "",
			         (unsigned)(100.0 * (double)s->ndom / (double)total + 0.5), total);
		return 1;
	}
	if (s->nspki == 1 && !s->spki_overflow && s->ndom >= CERTDIAG_FORGE_KEY_REUSE_DOMAINS) {
		if (why)
			snprintf(why, wl, "issuer %s used one leaf key for %u unrelated registrable domains", s->label,
			         (unsigned)s->ndom);
		return 1;
	}
	return 0;
}

enum icpt_how certdiag_is_interception(const struct inspect_cas *cas, const struct kb *kb,
                                       const struct issuer_stats *st, X509 *cert,
                                       const struct cert_info *ci, char *label, size_t ll)
{
	const struct kb_entry *e;
	if (label && ll)
		label[0] = '\0';
	if (!ci)
		return ICPT_NONE;
	if (cas && cert) {
		for (size_t i = 0; i < cas->n; i++) {
			const struct inspect_ca *c = &cas->v[i];
			EVP_PKEY *k = X509_get0_pubkey(c->x);
			int keyid = ci->aki_hex[0] && c->ski_hex[0] && strcasecmp(ci->aki_hex, c->ski_hex) == 0;
			int sig = k && X509_verify(cert, k) == 1;
			ERR_clear_error();
			if (sig) {
				if (label)
					pi_strlcpy(label, c->subject, ll);
				return keyid ? ICPT_CA_KEYID : ICPT_CA_SIGNATURE;
			}
			if (c->spki_sha256[0] && strcmp(c->spki_sha256, ci->spki_sha256) == 0) {
				if (label)
					pi_strlcpy(label, c->subject, ll);
				return ICPT_CA_ITSELF;
			}
		}
	}
	if (kb && (e = kb_match_issuer(kb, ci->issuer))) {
		if (label)
			snprintf(label, ll, "%s (issuer %s)", e->name, ci->issuer);
		return ICPT_KB_ISSUER;
	}
	if (st && issuer_stats_forging(st, issuer_key(ci), label, ll))
		return ICPT_HEURISTIC;
	return ICPT_NONE;
}

/* certdiag_chain_from_der; with_x509 0: the X509 objects are not kept
 * (x[] stays NULL). They serve only the --inspection-ca checks, and each
 * d2i_X509 costs about a million instructions (OpenSSL 3 decodes the public
 * key through its provider decoders); cert_parse decodes the same bytes
 * with the same length, so the chain ends at the same certificate. */
static size_t chain_parse(struct certdiag_chain *ch, const uint8_t *const *der, const size_t *len, size_t n,
                          int with_x509)
{
	memset(ch, 0, sizeof(*ch));
	for (size_t i = 0; i < n && ch->n < PI_TLS_MAX_CERTS; i++) {
		const unsigned char *p = der[i];
		X509 *x = NULL;
		if (!der[i] || !len[i] || len[i] > (size_t)0x7fffffff)
			break;
		if (with_x509) {
			x = d2i_X509(NULL, &p, (long)len[i]);
			ERR_clear_error();
			if (!x)
				break;
		}
		if (cert_parse(der[i], len[i], &ch->ci[ch->n]) != 0) {
			ERR_clear_error(); /* its d2i_X509 may leave the reason queued */
			X509_free(x);
			break;
		}
		ch->x[ch->n++] = x;
	}
	return ch->n;
}

size_t certdiag_chain_from_der(struct certdiag_chain *ch, const uint8_t *const *der, const size_t *len, size_t n)
{
	return chain_parse(ch, der, len, n, 1);
}

size_t certdiag_chain_from_tls(struct certdiag_chain *ch, const struct tls_certs *certs)
{
	const uint8_t *der[PI_TLS_MAX_CERTS];
	size_t len[PI_TLS_MAX_CERTS], n = 0;
	if (!certs || !certs->der) {
		memset(ch, 0, sizeof(*ch));
		return 0;
	}
	for (uint32_t i = 0; i < certs->kept && i < PI_TLS_MAX_CERTS; i++) {
		der[n] = certs->der + certs->off[i];
		len[n++] = certs->len[i];
	}
	return certdiag_chain_from_der(ch, der, len, n);
}

void certdiag_chain_free(struct certdiag_chain *ch)
{
	for (size_t i = 0; i < ch->n; i++)
		X509_free(ch->x[i]);
	ch->n = 0;
}

static int how_strength(enum icpt_how h)
{
	switch (h) {
	case ICPT_CA_KEYID: return 6;
	case ICPT_CA_SIGNATURE: return 5;
	case ICPT_CA_ITSELF: return 4;
	case ICPT_KB_ISSUER: return 3;
	case ICPT_HEURISTIC: return 2;
	default: return 0;
	}
}

enum icpt_how certdiag_chain_interception(const struct inspect_cas *cas, const struct kb *kb,
                                          const struct issuer_stats *st, const struct certdiag_chain *ch,
                                          size_t *which, char *label, size_t ll)
{
	enum icpt_how best = ICPT_NONE;
	char tmp[256];
	if (label && ll)
		label[0] = '\0';
	for (size_t i = 0; i < ch->n; i++) {
		/* the heuristic is about leaves: only the leaf's issuer */
		enum icpt_how h = certdiag_is_interception(cas, kb, i == 0 ? st : NULL, ch->x[i], &ch->ci[i], tmp,
		                                           sizeof(tmp));
		if (how_strength(h) > how_strength(best)) {
			best = h;
			if (which)
				*which = i;
			if (label)
				pi_strlcpy(label, tmp, ll);
		}
	}
	return best;
}

/* ======================================================================== */
/* 2. the lint                                                              */
/* ======================================================================== */

struct rule {
	const char *id;
	enum lint_platform platform;
	enum lint_severity sev;
	const char *field;
	const char *message;
	const char *source;
	const char *remedy;
};

#define SRC_APPLE "support.apple.com/103769 (HT210176): requirements for trusted certificates in iOS 13 and macOS 10.15"
#define SRC_APPLE_398 "support.apple.com/102028 (HT211025): certificates issued from 2020-09-01 valid at most 398 days, for Apple-preinstalled roots only"
#define SRC_PY313 "Python 3.13 ssl.create_default_context() sets VERIFY_X509_STRICT (cpython #107361, PR #112389): OpenSSL x509_vfy.c check_chain() RFC 5280 checks"
#define SRC_GO115 "go.dev/doc/go1.15#commonname: Go 1.15+ ignores the CommonName (\"x509: certificate relies on legacy Common Name field\")"
#define SRC_GO118 "go.dev/doc/go1.18#sha1: Go 1.18+ rejects SHA-1 signed certificates (self-signed roots excepted)"
#define SRC_OPENSSL_SECLEVEL "OpenSSL security level 2 (SSL_CTX_set_security_level(3)): RSA below 2048 bits rejected; CPython 3.10+ default cipher string starts with @SECLEVEL=2; CA/B Forum Baseline Requirements 6.1.5"
#define SRC_OPENSSL_SHA1 "OpenSSL 3.0+ at its default security level 1 rejects SHA-1 certificate signatures (X509_V_ERR_CA_MD_TOO_WEAK, observed with Python 3.11 / OpenSSL 3.0 in samples/diag); Go 1.18+; browsers since 2017"
#define SRC_RFC5280 "RFC 5280 4.1.2.5 (validity); every TLS client checks it"
#define SRC_RFC6125 "RFC 6125 6.4 / RFC 2818 3.1: the certificate must name the host the client asked for"
#define SRC_EKU "RFC 5280 4.2.1.12; OpenSSL X509_PURPOSE_SSL_SERVER (X509_V_ERR_INVALID_PURPOSE), NSS, Java and Go check the EKU of the chain"
#define SRC_CA "RFC 5280 4.2.1.9 / 4.2.1.3: an issuing certificate must be a CA (basicConstraints cA) with keyCertSign (OpenSSL X509_V_ERR_INVALID_CA)"
#define SRC_CHAIN "RFC 5246 7.4.2 / RFC 8446 4.4.2: the server sends its chain up to (not necessarily including) the trust anchor, each certificate certifying the one before"

static const struct rule R_EXPIRED = { "generic.expired", LINT_GENERIC, LINT_ERROR, "validity.notAfter",
	"the certificate must not be expired", SRC_RFC5280,
	"renew it (for a proxy: the interception CA or its leaf cache)" };
static const struct rule R_NOT_YET = { "generic.not_yet_valid", LINT_GENERIC, LINT_ERROR, "validity.notBefore",
	"the certificate must already be valid (check the proxy's and the client's clocks)", SRC_RFC5280,
	"backdate notBefore slightly (mitmproxy uses now - 2 days) and fix the clock" };
static const struct rule R_RSA = { "generic.rsa_2048", LINT_GENERIC, LINT_ERROR, "subjectPublicKeyInfo",
	"RSA keys must have at least 2048 bits", SRC_OPENSSL_SECLEVEL,
	"use RSA 2048+ (or ECDSA P-256) for the CA and for the forged leaves" };
static const struct rule R_SHA1 = { "generic.sha1", LINT_GENERIC, LINT_ERROR, "signatureAlgorithm",
	"the signature must not use SHA-1 or MD5", SRC_OPENSSL_SHA1,
	"sign with SHA-256 or stronger (the proxy's signing digest setting)" };
static const struct rule R_EKU = { "generic.eku_server_auth", LINT_GENERIC, LINT_ERROR, "extendedKeyUsage",
	"an extendedKeyUsage extension, when present, must include id-kp-serverAuth", SRC_EKU,
	"add serverAuth to the EKU of the leaf (and of the issuing CA if it has an EKU), or drop the EKU of the CA" };
static const struct rule R_CA_BC = { "generic.ca_not_ca", LINT_GENERIC, LINT_ERROR, "basicConstraints",
	"a certificate that issues others must have basicConstraints cA:TRUE", SRC_CA,
	"make the issuing certificate a CA (basicConstraints=critical,CA:TRUE)" };
static const struct rule R_CA_KU = { "generic.ca_key_cert_sign", LINT_GENERIC, LINT_ERROR, "keyUsage",
	"an issuing CA with keyUsage must allow keyCertSign", SRC_CA,
	"set keyUsage=critical,keyCertSign,cRLSign on the CA" };
static const struct rule R_NAME = { "generic.name_mismatch", LINT_GENERIC, LINT_ERROR, "subjectAltName",
	"the leaf must name the host the client asked for (SNI)", SRC_RFC6125,
	"the proxy must put the SNI (and the upstream certificate's names) in the subjectAltName of the forged leaf" };
static const struct rule R_CN_ONLY = { "generic.cn_only", LINT_GENERIC, LINT_WARNING, "subjectAltName",
	"the host is named only in the CommonName: OpenSSL, Java and Node still accept it, Apple, Go 1.15+ and browsers do not",
	SRC_RFC6125, "put the host name in the subjectAltName" };
static const struct rule R_SELF_LEAF = { "generic.self_signed_leaf", LINT_GENERIC, LINT_WARNING, "issuer",
	"a self-signed leaf is trusted only where it was added by hand", SRC_CHAIN,
	"issue the leaf from the inspection CA" };
static const struct rule R_CHAIN_ORDER = { "generic.chain_order", LINT_GENERIC, LINT_WARNING, "chain",
	"each certificate of the chain should certify the one before it", SRC_CHAIN,
	"send the chain in order: leaf, then its issuer, then the issuer's issuer" };
static const struct rule R_MISSING_INT = { "generic.missing_intermediate", LINT_GENERIC, LINT_ERROR, "chain",
	"the chain must reach a root the client trusts: the intermediate is not sent", SRC_CHAIN,
	"configure the proxy to send its intermediate CA with every forged leaf" };

static const struct rule R_A_RSA = { "apple.rsa_2048", LINT_APPLE, LINT_ERROR, "subjectPublicKeyInfo",
	"TLS server certificates and issuing CAs using RSA keys must use key sizes >= 2048 bits", SRC_APPLE,
	"use RSA 2048+ (or ECDSA P-256) for the CA and for the forged leaves" };
static const struct rule R_A_SHA2 = { "apple.sha2", LINT_APPLE, LINT_ERROR, "signatureAlgorithm",
	"TLS server certificates and issuing CAs must use a SHA-2 hash in the signature algorithm", SRC_APPLE,
	"sign with SHA-256 or stronger" };
static const struct rule R_A_SAN = { "apple.san_dns", LINT_APPLE, LINT_ERROR, "subjectAltName",
	"TLS server certificates must present the DNS name of the server in the subjectAltName (the CommonName is ignored)",
	SRC_APPLE, "the proxy must put the SNI in the subjectAltName of the forged leaf" };
static const struct rule R_A_EKU = { "apple.eku_server_auth", LINT_APPLE, LINT_ERROR, "extendedKeyUsage",
	"TLS server certificates issued after 2019-07-01 must contain an EKU extension with id-kp-serverAuth",
	SRC_APPLE, "add extendedKeyUsage=serverAuth to the forged leaves" };
static const struct rule R_A_825 = { "apple.validity_825", LINT_APPLE, LINT_ERROR, "validity",
	"TLS server certificates issued after 2019-07-01 must be valid for 825 days or fewer", SRC_APPLE,
	"issue forged leaves for 825 days or fewer (397 days or fewer is the safe choice)" };
static const struct rule R_A_398 = { "apple.validity_398", LINT_APPLE, LINT_INFO, "validity",
	"over 398 days: enforced only for roots preinstalled by Apple, not for an admin-installed inspection root",
	SRC_APPLE_398, "none needed for an admin-installed root; 397 days or fewer is the safe choice" };

static const struct rule R_P_AKI = { "python313.aki_missing", LINT_PYTHON313, LINT_ERROR, "authorityKeyIdentifier",
	"a certificate that is not self-issued must carry an Authority Key Identifier with a keyIdentifier (\"Missing Authority Key Identifier\")",
	SRC_PY313, "add authorityKeyIdentifier=keyid to the forged leaves (and intermediates)" };
static const struct rule R_P_SKI = { "python313.ski_missing", LINT_PYTHON313, LINT_ERROR, "subjectKeyIdentifier",
	"a CA certificate must carry a Subject Key Identifier (\"Missing Subject Key Identifier\")", SRC_PY313,
	"reissue the CA with subjectKeyIdentifier=hash" };
static const struct rule R_P_BC = { "python313.ca_bc_not_critical", LINT_PYTHON313, LINT_ERROR, "basicConstraints",
	"the basicConstraints of a CA must be critical (\"Basic Constraints of CA cert not marked critical\")",
	SRC_PY313, "reissue the CA with basicConstraints=critical,CA:TRUE" };
static const struct rule R_P_KU = { "python313.ca_missing_ku", LINT_PYTHON313, LINT_ERROR, "keyUsage",
	"a CA certificate must include the keyUsage extension (\"CA cert does not include key usage extension\")",
	SRC_PY313, "reissue the CA with keyUsage=critical,keyCertSign,cRLSign" };
static const struct rule R_P_KU_LEAF = { "python313.ku_cert_sign_non_ca", LINT_PYTHON313, LINT_ERROR, "keyUsage",
	"keyCertSign is not allowed in a non-CA certificate", SRC_PY313, "drop keyCertSign from the leaf's keyUsage" };
static const struct rule R_P_PATHLEN = { "python313.pathlen_invalid", LINT_PYTHON313, LINT_ERROR, "basicConstraints",
	"pathLenConstraint only in a CA certificate that has keyCertSign", SRC_PY313,
	"drop pathLenConstraint, or make the certificate a CA with keyCertSign" };
static const struct rule R_P_AKI_CRIT = { "python313.aki_critical", LINT_PYTHON313, LINT_ERROR, "authorityKeyIdentifier",
	"the Authority Key Identifier must not be critical", SRC_PY313, "mark the AKI non-critical" };
static const struct rule R_P_SKI_CRIT = { "python313.ski_critical", LINT_PYTHON313, LINT_ERROR, "subjectKeyIdentifier",
	"the Subject Key Identifier must not be critical", SRC_PY313, "mark the SKI non-critical" };
static const struct rule R_P_ISSUER = { "python313.issuer_empty", LINT_PYTHON313, LINT_ERROR, "issuer",
	"the issuer name must not be empty", SRC_PY313, "give the issuing CA a subject name" };
static const struct rule R_P_SUBJECT = { "python313.subject_empty", LINT_PYTHON313, LINT_ERROR, "subject",
	"the subject must not be empty (CA, CRL signer, or no subjectAltName)", SRC_PY313, "give the certificate a subject" };
static const struct rule R_P_SAN_CRIT = { "python313.empty_subject_san_not_critical", LINT_PYTHON313, LINT_ERROR,
	"subjectAltName", "with an empty subject the subjectAltName must be critical", SRC_PY313,
	"mark the subjectAltName critical or give a subject" };
static const struct rule R_P_SAN_EMPTY = { "python313.san_empty", LINT_PYTHON313, LINT_ERROR, "subjectAltName",
	"a subjectAltName extension must not be empty", SRC_PY313, "put the host names in it, or drop it" };
static const struct rule R_P_SIGALG = { "python313.sig_alg_inconsistent", LINT_PYTHON313, LINT_ERROR,
	"signatureAlgorithm", "the signature algorithm inside and outside the TBSCertificate must match", SRC_PY313,
	"reissue the certificate with a conforming signer" };
static const struct rule R_P_V3 = { "python313.extensions_require_v3", LINT_PYTHON313, LINT_ERROR, "version",
	"extensions require an X.509 v3 certificate", SRC_PY313, "issue v3 certificates" };

static const struct rule R_G_CN = { "go.cn_ignored", LINT_GO, LINT_ERROR, "subjectAltName",
	"the host must be in the subjectAltName: Go ignores the CommonName", SRC_GO115,
	"the proxy must put the SNI in the subjectAltName of the forged leaf" };
static const struct rule R_G_SHA1 = { "go.sha1", LINT_GO, LINT_ERROR, "signatureAlgorithm",
	"SHA-1 signatures are rejected", SRC_GO118, "sign with SHA-256 or stronger" };

/* Every rule, for the compact per-name storage (index = bit of a mask). */
static const struct rule *const RULES[] = {
	&R_EXPIRED, &R_NOT_YET, &R_RSA, &R_SHA1, &R_EKU, &R_CA_BC, &R_CA_KU, &R_NAME, &R_CN_ONLY, &R_SELF_LEAF,
	&R_CHAIN_ORDER, &R_MISSING_INT, &R_A_RSA, &R_A_SHA2, &R_A_SAN, &R_A_EKU, &R_A_825, &R_A_398, &R_P_AKI,
	&R_P_SKI, &R_P_BC, &R_P_KU, &R_P_KU_LEAF, &R_P_PATHLEN, &R_P_AKI_CRIT, &R_P_SKI_CRIT, &R_P_ISSUER,
	&R_P_SUBJECT, &R_P_SAN_CRIT, &R_P_SAN_EMPTY, &R_P_SIGALG, &R_P_V3, &R_G_CN, &R_G_SHA1,
};
#define NRULES (sizeof(RULES) / sizeof(RULES[0]))
_Static_assert(NRULES <= 64, "rule masks are 64 bits");

static int rule_index(const char *id)
{
	/* findings point at the rules' own ids: compare pointers first (the
	 * ids are distinct strings, so the first match is the same) */
	for (size_t i = 0; i < NRULES; i++)
		if (RULES[i]->id == id)
			return (int)i;
	for (size_t i = 0; i < NRULES; i++)
		if (strcmp(RULES[i]->id, id) == 0)
			return (int)i;
	return -1;
}

const char *lint_platform_name(enum lint_platform p)
{
	switch (p) {
	case LINT_GENERIC: return "generic";
	case LINT_APPLE: return "apple";
	case LINT_PYTHON313: return "python313";
	case LINT_GO: return "go";
	default: return "unknown";
	}
}

int lint_platform_parse(const char *s, unsigned *mask)
{
	unsigned m = 0;
	char buf[128], *save = NULL, *tok;
	if (!s || !*s)
		return -1;
	pi_strlcpy(buf, s, sizeof(buf));
	for (tok = strtok_r(buf, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
		int found = 0;
		if (strcasecmp(tok, "all") == 0) {
			m |= LINT_ALL;
			continue;
		}
		for (int p = 0; p < LINT_PLATFORMS; p++)
			if (strcasecmp(tok, lint_platform_name((enum lint_platform)p)) == 0) {
				m |= LINT_MASK(p);
				found = 1;
			}
		if (!found && (strcasecmp(tok, "python") == 0 || strcasecmp(tok, "python3.13") == 0)) {
			m |= LINT_MASK(LINT_PYTHON313);
			found = 1;
		}
		if (!found)
			return -1;
	}
	if (!m)
		return -1;
	*mask = m;
	return 0;
}

const char *lint_severity_name(enum lint_severity s)
{
	switch (s) {
	case LINT_ERROR: return "error";
	case LINT_WARNING: return "warning";
	default: return "info";
	}
}

struct lctx {
	struct lint_finding *out;
	size_t max;
	int n;
};

__attribute__((format(printf, 3, 4)))
static void add(struct lctx *l, const struct rule *r, const char *fmt, ...)
{
	if ((size_t)l->n < l->max) {
		struct lint_finding *f = &l->out[l->n];
		va_list ap;
		memset(f, 0, sizeof(*f));
		f->rule = r->id;
		f->platform = r->platform;
		f->severity = r->sev;
		f->field = r->field;
		f->message = r->message;
		f->source = r->source;
		f->remedy = r->remedy;
		f->cert = 0;
		va_start(ap, fmt);
		vsnprintf(f->value, sizeof(f->value), fmt, ap);
		va_end(ap);
	}
	l->n++;
}

static void fmt_date(int64_t t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || !strftime(buf, n, "%Y-%m-%d", &tm))
		snprintf(buf, n, "%lld", (long long)t);
}

/* RFC 6125 6.4.3: a wildcard only as the whole left-most label, over a
 * name of at least two labels, matching exactly one label. */
static int dns_match(const char *pat, const char *host)
{
	size_t pl = strlen(pat), hl = strlen(host);
	while (pl && pat[pl - 1] == '.')
		pl--;
	while (hl && host[hl - 1] == '.')
		hl--;
	if (!pl || !hl)
		return 0;
	if (pl == hl && strncasecmp(pat, host, pl) == 0)
		return 1;
	if (pl > 2 && pat[0] == '*' && pat[1] == '.') {
		const char *dot = memchr(host, '.', hl);
		size_t rest;
		if (!dot || dot == host || !memchr(pat + 2, '.', pl - 2))
			return 0;
		rest = hl - (size_t)(dot + 1 - host);
		return rest == pl - 2 && strncasecmp(dot + 1, pat + 2, rest) == 0;
	}
	return 0;
}

static int san_covers(const char *list, const char *host)
{
	const char *p = list;
	while (p && *p) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		char one[256];
		if (n && n < sizeof(one)) {
			memcpy(one, p, n);
			one[n] = '\0';
			if (dns_match(one, host))
				return 1;
		}
		p = c ? c + 1 : NULL;
	}
	return 0;
}

static int is_ip_text(const char *s)
{
	unsigned char b[16];
	return inet_pton(AF_INET, s, b) == 1 || inet_pton(AF_INET6, s, b) == 1;
}

static int is_rsa(const struct cert_info *ci)
{
	return strcmp(ci->key_type, "RSA") == 0 || strcmp(ci->key_type, "RSA-PSS") == 0;
}

static int weak_hash(const char *h)
{
	return strcmp(h, "sha1") == 0 || strcmp(h, "md5") == 0 || strcmp(h, "md4") == 0 ||
	       strcmp(h, "md2") == 0 || strcmp(h, "md5-sha1") == 0;
}

static int sha2_hash(const char *h)
{
	return strcmp(h, "sha224") == 0 || strcmp(h, "sha256") == 0 || strcmp(h, "sha384") == 0 ||
	       strcmp(h, "sha512") == 0 || strcmp(h, "sha512-224") == 0 || strcmp(h, "sha512-256") == 0;
}

#define APPLE_2019_07_01 1561939200LL
#define APPLE_2020_09_01 1598918400LL
#define DAY 86400LL

static void validity_text(const struct cert_info *ci, char *buf, size_t n)
{
	char a[32], b[32];
	fmt_date(ci->not_before, a, sizeof(a));
	fmt_date(ci->not_after, b, sizeof(b));
	snprintf(buf, n, "%lld days (%s to %s)", (long long)((ci->not_after - ci->not_before) / DAY), a, b);
}

int cert_lint(const struct cert_info *ci, int is_ca, int64_t at_time, const char *sni,
              enum lint_platform platform, struct lint_finding *out, size_t max)
{
	struct lctx l = { out, max, 0 };
	int leaf = !is_ca;
	int name_check = leaf && sni && *sni && !is_ip_text(sni);
	char v[96];
	if (!ci)
		return 0;
	switch (platform) {
	case LINT_GENERIC:
		if (at_time && ci->not_after && at_time > ci->not_after) {
			char a[32], b[32];
			fmt_date(ci->not_after, a, sizeof(a));
			fmt_date(at_time, b, sizeof(b));
			add(&l, &R_EXPIRED, "notAfter %s, checked at %s", a, b);
		}
		if (at_time && ci->not_before && at_time < ci->not_before) {
			char a[32], b[32];
			fmt_date(ci->not_before, a, sizeof(a));
			fmt_date(at_time, b, sizeof(b));
			add(&l, &R_NOT_YET, "notBefore %s, checked at %s", a, b);
		}
		if (is_rsa(ci) && ci->key_bits > 0 && ci->key_bits < 2048)
			add(&l, &R_RSA, "%s %d bits", ci->key_type, ci->key_bits);
		if (!ci->self_signed && weak_hash(ci->sig_hash))
			add(&l, &R_SHA1, "%s", ci->sig_alg);
		if (ci->has_eku && !ci->eku_server_auth)
			add(&l, &R_EKU, "extendedKeyUsage without serverAuth%s", ci->eku_any ? " (anyExtendedKeyUsage only)" : "");
		if (is_ca) {
			if (!ci->is_ca)
				add(&l, &R_CA_BC, "%s", ci->has_bc ? "cA:FALSE" : "no basicConstraints");
			else if (ci->has_ku && !(ci->ku_bits & KU_KEY_CERT_SIGN))
				add(&l, &R_CA_KU, "keyUsage 0x%04x without keyCertSign", ci->ku_bits);
		}
		if (leaf && ci->self_signed && !ci->is_ca)
			add(&l, &R_SELF_LEAF, "self-signed: %s", ci->subject);
		if (name_check) {
			if (ci->san_dns_count) {
				if (!san_covers(ci->san_dns, sni))
					add(&l, &R_NAME, "SNI %s not in subjectAltName %.80s", sni, ci->san_dns);
			} else if (ci->cn[0] && dns_match(ci->cn, sni)) {
				add(&l, &R_CN_ONLY, "no DNS name in subjectAltName; CN=%s", ci->cn);
			} else {
				add(&l, &R_NAME, "SNI %s; no DNS name in subjectAltName, CN=%s", sni, ci->cn);
			}
		} else if (leaf && !ci->san_dns_count && !ci->is_ca) {
			add(&l, &R_CN_ONLY, "no DNS name in subjectAltName%s%s", ci->cn[0] ? "; CN=" : "", ci->cn);
		}
		break;
	case LINT_APPLE:
		if (is_rsa(ci) && ci->key_bits > 0 && ci->key_bits < 2048)
			add(&l, &R_A_RSA, "%s %d bits", ci->key_type, ci->key_bits);
		if (!ci->self_signed && ci->sig_hash[0] && !sha2_hash(ci->sig_hash))
			add(&l, &R_A_SHA2, "%s", ci->sig_alg);
		if (leaf) {
			if (!ci->san_dns_count)
				add(&l, &R_A_SAN, "no DNS name in subjectAltName%s%s", ci->cn[0] ? "; CN=" : "", ci->cn);
			else if (name_check && !san_covers(ci->san_dns, sni))
				add(&l, &R_A_SAN, "SNI %s not in subjectAltName %.80s", sni, ci->san_dns);
			if (ci->not_before >= APPLE_2019_07_01) {
				if (!ci->has_eku)
					add(&l, &R_A_EKU, "no extendedKeyUsage extension");
				else if (!ci->eku_server_auth)
					add(&l, &R_A_EKU, "extendedKeyUsage without serverAuth");
				if (ci->not_after - ci->not_before > 825 * DAY) {
					validity_text(ci, v, sizeof(v));
					add(&l, &R_A_825, "%s", v);
				}
			}
			if (ci->not_before >= APPLE_2020_09_01 && ci->not_after - ci->not_before > 398 * DAY &&
			    ci->not_after - ci->not_before <= 825 * DAY) {
				validity_text(ci, v, sizeof(v));
				add(&l, &R_A_398, "%s", v);
			}
		}
		break;
	case LINT_PYTHON313:
		if (ci->version && ci->version < 3) {
			if (ci->ext_count)
				add(&l, &R_P_V3, "v%u with %u extensions", ci->version, ci->ext_count);
		} else {
			/* x509_vfy.c: every certificate but the last of the verified
			 * chain (the anchor: a self-issued root) needs an AKI keyid */
			if (!ci->self_issued && !ci->aki_hex[0])
				add(&l, &R_P_AKI, "%s", ci->has_aki ? "AKI without keyIdentifier" : "no authorityKeyIdentifier");
			if (ci->is_ca && !ci->has_ski)
				add(&l, &R_P_SKI, "no subjectKeyIdentifier");
		}
		if (ci->bc_pathlen >= 0 && (!ci->is_ca || !(ci->ku_bits & KU_KEY_CERT_SIGN)))
			add(&l, &R_P_PATHLEN, "pathLenConstraint %d, %s", (int)ci->bc_pathlen,
			    !ci->is_ca ? "not a CA" : "no keyCertSign");
		if (ci->is_ca && ci->has_bc && !ci->bc_critical)
			add(&l, &R_P_BC, "basicConstraints CA:TRUE, not critical");
		if (ci->is_ca && !ci->has_ku)
			add(&l, &R_P_KU, "no keyUsage");
		else if (!ci->is_ca && ci->has_ku && (ci->ku_bits & KU_KEY_CERT_SIGN))
			add(&l, &R_P_KU_LEAF, "keyUsage 0x%04x with keyCertSign", ci->ku_bits);
		if (!ci->issuer_entries)
			add(&l, &R_P_ISSUER, "empty issuer");
		if (!ci->subject_entries && (ci->is_ca || (ci->ku_bits & KU_CRL_SIGN) || !ci->has_san))
			add(&l, &R_P_SUBJECT, "empty subject");
		if (!ci->subject_entries && ci->has_san && !ci->san_critical)
			add(&l, &R_P_SAN_CRIT, "empty subject, subjectAltName not critical");
		if (ci->has_san && !ci->san_entries)
			add(&l, &R_P_SAN_EMPTY, "subjectAltName with no name");
		if (ci->sig_inconsistent)
			add(&l, &R_P_SIGALG, "%s", ci->sig_alg);
		if (ci->has_aki && ci->aki_critical)
			add(&l, &R_P_AKI_CRIT, "authorityKeyIdentifier critical");
		if (ci->has_ski && ci->ski_critical)
			add(&l, &R_P_SKI_CRIT, "subjectKeyIdentifier critical");
		break;
	case LINT_GO:
		if (leaf && !ci->san_dns_count && !(sni && *sni && is_ip_text(sni)))
			add(&l, &R_G_CN, "no DNS name in subjectAltName%s%s", ci->cn[0] ? "; CN=" : "", ci->cn);
		else if (name_check && !san_covers(ci->san_dns, sni))
			add(&l, &R_G_CN, "SNI %s not in subjectAltName %.80s", sni, ci->san_dns);
		if (!ci->self_signed && weak_hash(ci->sig_hash))
			add(&l, &R_G_SHA1, "%s", ci->sig_alg);
		break;
	default:
		break;
	}
	return l.n;
}

static int anchored_by(const struct cert_info *last, const struct inspect_cas *cas, int *via_self_signed,
                       const char **ca_subject)
{
	for (size_t i = 0; i < cas->n; i++) {
		const struct inspect_ca *c = &cas->v[i];
		int byname = strcmp(c->subject, last->issuer) == 0;
		int bykey = last->aki_hex[0] && c->ski_hex[0] && strcasecmp(last->aki_hex, c->ski_hex) == 0;
		int itself = c->spki_sha256[0] && strcmp(c->spki_sha256, last->spki_sha256) == 0;
		if (itself) {
			*via_self_signed = 1;
			*ca_subject = c->subject;
			return 1;
		}
		if (byname || bykey) {
			*via_self_signed = c->self_signed;
			*ca_subject = c->subject;
			return 1;
		}
	}
	return 0;
}

int cert_lint_chain(const struct cert_info *ci, size_t n, int64_t at_time, const char *sni, unsigned mask,
                    const struct inspect_cas *cas, struct lint_finding *out, size_t max)
{
	struct lctx l = { out, max, 0 };
	for (size_t i = 0; i < n; i++) {
		for (int p = 0; p < LINT_PLATFORMS; p++) {
			size_t room = (size_t)l.n < max ? max - (size_t)l.n : 0;
			int k;
			if (!(mask & LINT_MASK(p)))
				continue;
			k = cert_lint(&ci[i], i > 0, at_time, i == 0 ? sni : NULL, (enum lint_platform)p,
			              room ? out + l.n : NULL, room);
			for (int j = 0; j < k && (size_t)j < room; j++)
				out[l.n + j].cert = (int)i;
			l.n += k;
		}
	}
	if (n && (mask & LINT_MASK(LINT_GENERIC))) {
		const struct cert_info *last = &ci[n - 1];
		for (size_t i = 0; i + 1 < n; i++) {
			if (strcmp(ci[i].issuer, ci[i + 1].subject) != 0) {
				int at = l.n;
				add(&l, &R_CHAIN_ORDER, "certificate %zu (%.50s) is not the issuer of certificate %zu (issuer %.50s)",
				    i + 1, ci[i + 1].subject, i, ci[i].issuer);
				if ((size_t)at < max)
					out[at].cert = (int)(i + 1);
				break;
			}
		}
		if (cas && cas->n && !last->self_issued) {
			int via_ss = 0;
			const char *cs = NULL;
			int at = l.n;
			if (!anchored_by(last, cas, &via_ss, &cs))
				add(&l, &R_MISSING_INT, "chain ends at %.60s, issued by %.60s: not one of the --inspection-ca certificates",
				    last->subject, last->issuer);
			else if (!via_ss)
				add(&l, &R_MISSING_INT, "chain ends at %.60s; its issuer %.60s is an intermediate that is not sent",
				    last->subject, cs);
			if (l.n > at && (size_t)at < max)
				out[at].cert = -1;
		}
	}
	return l.n;
}

const struct lint_finding *lint_worst(const struct lint_finding *f, size_t n, unsigned mask,
                                      enum lint_severity min_sev)
{
	const struct lint_finding *best = NULL;
	int best_score = -1;
	for (size_t i = 0; i < n; i++) {
		int s;
		if (!(mask & LINT_MASK(f[i].platform)) || f[i].severity < min_sev)
			continue;
		s = (int)f[i].severity * 100;
		if (mask == LINT_ALL ? f[i].platform == LINT_GENERIC : f[i].platform != LINT_GENERIC)
			s += 10;
		if (f[i].cert == 0)
			s += 5;
		if (s > best_score) {
			best_score = s;
			best = &f[i];
		}
	}
	return best;
}

/* ======================================================================== */
/* 3. the client guess (data/ja3.conf)                                      */
/* ======================================================================== */

void ja3_db_free(struct ja3_db *db)
{
	if (!db)
		return;
	for (size_t i = 0; i < db->n; i++) {
		struct ja3_lib *l = &db->v[i];
		free(l->name);
		for (size_t j = 0; j < l->nja3; j++)
			free(l->ja3[j]);
		free(l->ja3);
		free(l->tool);
		free(l->source);
		free(l->note);
	}
	free(db->v);
	free(db);
}

static int is_md5_hex(const char *s)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]))
			return 0;
	return n == 32;
}

struct ja3_db *ja3_db_load(const char *path, char *err, size_t errlen)
{
	struct conf c;
	struct conf_item it;
	struct ja3_db *db;
	struct ja3_lib *cur = NULL;
	int r;

	if (conf_open(&c, path, 2048, "the JA3 data", "[library ...]", err, errlen) < 0)
		return NULL;
	db = calloc(1, sizeof(*db));
	if (!db)
		goto oom;
	while ((r = conf_next(&c, &it)) > 0) {
		char *key = it.key, *val = it.value;
		int rc = 0;
		if (it.kind == CONF_SECTION) {
			char *name = conf_section_name(it.section, "library");
			struct ja3_lib *nv;
			if (!name) {
				conf_error(&c, "unknown section '%s' (library)", it.section);
				goto fail;
			}
			if (db->n >= JA3DB_MAX_ENTRIES) {
				conf_error(&c, "more than %u entries", JA3DB_MAX_ENTRIES);
				goto fail;
			}
			nv = realloc(db->v, (db->n + 1) * sizeof(*nv));
			if (!nv)
				goto oom;
			db->v = nv;
			cur = &db->v[db->n++];
			memset(cur, 0, sizeof(*cur));
			if (!(cur->name = strdup(name)))
				goto oom;
			continue;
		}
		if (strcmp(key, "ja3") == 0) {
			char **nv;
			if (!is_md5_hex(val)) {
				conf_error(&c, "ja3 must be 32 hex digits");
				goto fail;
			}
			if (cur->nja3 >= 256) {
				conf_error(&c, "too many ja3 lines");
				goto fail;
			}
			nv = realloc(cur->ja3, (cur->nja3 + 1) * sizeof(*nv));
			if (!nv)
				goto oom;
			cur->ja3 = nv;
			pi_lower(val);
			if (!(cur->ja3[cur->nja3] = strdup(val)))
				goto oom;
			cur->nja3++;
		} else if (strcmp(key, "platform") == 0) {
			unsigned m = 0;
			if (lint_platform_parse(val, &m) < 0) {
				conf_error(&c, "unknown platform '%s' (generic, apple, python313, go, all)", val);
				goto fail;
			}
			cur->platforms |= m;
		} else if (strcmp(key, "general") == 0) {
			if (strcasecmp(val, "yes") == 0 || strcmp(val, "1") == 0 || strcasecmp(val, "true") == 0)
				cur->general = 1;
			else if (strcasecmp(val, "no") == 0 || strcmp(val, "0") == 0 || strcasecmp(val, "false") == 0)
				cur->general = 0;
			else {
				conf_error(&c, "general = yes or no");
				goto fail;
			}
		} else if (strcmp(key, "tool") == 0) {
			free(cur->tool);
			if (!(cur->tool = strdup(val)))
				goto oom;
		} else if (strcmp(key, "source") == 0) {
			rc = conf_join(&cur->source, val);
		} else if (strcmp(key, "note") == 0) {
			rc = conf_join(&cur->note, val);
		} else {
			conf_error(&c, "unknown key '%s'", key);
			goto fail;
		}
		if (rc < 0)
			goto oom;
	}
	if (r < 0)
		goto fail;
	conf_close(&c);
	for (size_t i = 0; i < db->n; i++)
		if (!db->v[i].platforms)
			db->v[i].platforms = LINT_MASK(LINT_GENERIC);
	return db;
oom:
	conf_oom(&c);
fail:
	conf_close(&c);
	ja3_db_free(db);
	return NULL;
}

const char *ja3_db_default_path(void)
{
	static char path[1100];
	return conf_default_path("PINSPECT_JA3", "ja3.conf", path, sizeof(path));
}

const struct ja3_lib *ja3_db_lookup(const struct ja3_db *db, const char *ja3)
{
	if (!db || !ja3 || !*ja3)
		return NULL;
	for (size_t i = 0; i < db->n; i++)
		for (size_t j = 0; j < db->v[i].nja3; j++)
			if (strcasecmp(db->v[i].ja3[j], ja3) == 0)
				return &db->v[i];
	return NULL;
}

const char *certdiag_library_guess(const struct ja3_db *db, const char *ja3, unsigned *platforms, int *general)
{
	const struct ja3_lib *l = ja3_db_lookup(db, ja3);
	if (platforms)
		*platforms = l ? (l->platforms | LINT_MASK(LINT_GENERIC)) : LINT_ALL;
	if (general)
		*general = l ? l->general : 0;
	return l ? l->name : NULL;
}

/* ======================================================================== */
/* 4. the decision                                                          */
/* ======================================================================== */

/* snprintf that appends; never overflows, keeps the string terminated */
__attribute__((format(printf, 3, 4)))
static void cat(char *buf, size_t len, const char *fmt, ...)
{
	size_t o;
	va_list ap;
	if (!buf || !len)
		return;
	o = strnlen(buf, len);
	if (o + 1 >= len)
		return;
	va_start(ap, fmt);
	vsnprintf(buf + o, len - o, fmt, ap);
	va_end(ap);
}

static void platforms_text(unsigned mask, char *buf, size_t len)
{
	buf[0] = '\0';
	if (mask == LINT_ALL) {
		pi_strlcpy(buf, "every platform's rules (client stack unknown)", len);
		return;
	}
	for (int p = 0; p < LINT_PLATFORMS; p++)
		if (mask & LINT_MASK(p))
			cat(buf, len, "%s%s", buf[0] ? "+" : "", lint_platform_name((enum lint_platform)p));
}

static void exempt_fix(const char *name, char *fix, size_t fl)
{
	snprintf(fix, fl, "exempt %s from TLS inspection (a Do Not Inspect rule for this name), then confirm with "
	                  "pinspect verify", name);
}

enum category certdiag_decide(const struct diag_input *in, char *why, size_t wl, char *fix, size_t fl)
{
	char plat[96];
	const char *name = in && in->name ? in->name : "";
	if (why && wl)
		why[0] = '\0';
	if (fix && fl)
		fix[0] = '\0';
	if (!in)
		return CERTDIAG_UNDECIDED;

	/* 1. the interception certificate breaks a rule of the client's platform */
	if (in->lint && in->lint->severity == LINT_ERROR) {
		const struct lint_finding *f = in->lint;
		platforms_text(in->platforms ? in->platforms : LINT_ALL, plat, sizeof(plat));
		snprintf(why, wl, "step 1 (certificate): the %s certificate%s breaks rule %s (%s): %s = %s [%s; %s]; "
		                  "checked against %s%s%s",
		         in->interception != ICPT_NONE ? "interception" : "presented",
		         f->cert > 0 ? " chain" : "", f->rule, f->message, f->field, f->value,
		         f->cert < 0 ? "chain" : f->cert == 0 ? "leaf" : "issuing CA", f->source, plat,
		         in->library ? ", the client stack looks like " : "", in->library ? in->library : "");
		if (in->interception == ICPT_NONE)
			cat(why, wl, "; the certificate was not recognised as an interception certificate (give --inspection-ca)");
		snprintf(fix, fl, "fix the interception certificate, not the bypass list: %s; check the CA and a forged "
		                  "leaf with pinspect lint-cert",
		         f->remedy);
		return CAT_CERTIFICATE;
	}

	/* 2. a developer tool or runtime with its own trust store */
	if (in->tool) {
		snprintf(why, wl, "step 2 (trust-store): %s is an endpoint of %s (knowledge base: %s), a tool that "
		                  "carries its own trust store; %llu failure%s%s%s%s",
		         name, in->tool->name, in->tool_pattern ? in->tool_pattern : "tool domain",
		         (unsigned long long)in->failures, in->failures == 1 ? "" : "s",
		         in->library ? ", ClientHello of " : "", in->library ? in->library : "",
		         in->accepts_other == ACCEPT_PROVEN ? " (the same stack accepts the inspection CA elsewhere: check pinning too)" : "");
		snprintf(fix, fl, "install the inspection root in %s's CA bundle: %s", in->tool->name,
		         in->tool->fix ? in->tool->fix : "see its documentation");
		if (in->bundle && in->bundle->fix)
			cat(fix, fl, " (%s)", in->bundle->fix);
		return CAT_TRUST_STORE;
	}

	/* 3. a known pinning app */
	if (in->app) {
		snprintf(why, wl, "step 3 (bypass): %s belongs to %s, an app known to pin (knowledge base: %s); %llu failure%s",
		         name, in->app->name, in->app_match ? in->app_match : "match", (unsigned long long)in->failures,
		         in->failures == 1 ? "" : "s");
		exempt_fix(name, fix, fl);
		return CAT_BYPASS;
	}

	/* 4. the client evidence */
	if (in->accepts_other == ACCEPT_PROVEN) {
		snprintf(why, wl, "step 4 (bypass): the same client with the same TLS stack (JA3 %s%s%s%s) accepted the "
		                  "interception CA for %u other name%s (e.g. %s) and rejected it for %s: it pins",
		         in->ja3 ? in->ja3 : "?", in->library ? ", " : "", in->library ? in->library : "",
		         in->library ? "" : ", library unknown", in->accepted_names, in->accepted_names == 1 ? "" : "s",
		         in->accepted_example ? in->accepted_example : "?", name);
		if (in->tolerated_rule)
			cat(why, wl, " (its certificate breaks %s, which the same client accepts elsewhere: not the cause)",
			    in->tolerated_rule);
		exempt_fix(name, fix, fl);
		return CAT_BYPASS;
	}
	if (in->library && in->library_general) {
		snprintf(why, wl, "step 4 (trust-store): the ClientHello is that of %s (JA3 %s; a hint only: every program "
		                  "on that library shares it), a general-purpose stack that usually carries its own CA "
		                  "bundle, and nothing shows it accepting the interception CA elsewhere",
		         in->library, in->ja3 ? in->ja3 : "?");
		if (in->library_tool && in->library_tool->fix)
			snprintf(fix, fl, "likely %s: install the inspection root in its CA bundle: %s", in->library_tool->name,
			         in->library_tool->fix);
		else
			snprintf(fix, fl, "install the inspection root in the program's CA bundle (see the knowledge base's "
			                  "[tool] fixes)");
		if (in->bundle && in->bundle->fix)
			cat(fix, fl, " (%s)", in->bundle->fix);
		cat(fix, fl, "; if the program pins instead, exempt %s from TLS inspection", name);
		return CAT_TRUST_STORE;
	}
	snprintf(why, wl, "step 4: no certificate rule broken, not a developer-tool endpoint, not a known pinning app; "
	                  "%s%s%s: decided by the failure pattern",
	         in->accepts_other == ACCEPT_HINT ? "the same client and JA3 completed handshakes for other names "
	                                             "(certificates not visible: a hint)"
	                                           : "no evidence that this client accepts the interception CA",
	         in->library ? ", client stack " : "", in->library ? in->library : "");
	return CERTDIAG_UNDECIDED;
}

/* ======================================================================== */
/* the engine's state                                                       */
/* ======================================================================== */

struct cd_pair {
	uint64_t client, ja3h;
	char ja3[33];
	uint8_t ja3_whole;  /* ja3 is the whole JA3 (not cut): it decides ja3h */
};

/* A finding of a failing connection's chain, compact: the rule, where, what. */
struct cd_find {
	uint8_t rule;    /* index in RULES */
	int8_t cert;
	char value[96];
};

struct cd_name {
	uint64_t hash;
	char name[256];
	uint32_t failing, failing_chains;
	enum icpt_how how;
	char label[160];
	uint64_t ikey;
	uint8_t has_ikey;
	uint8_t nfind;
	struct cd_find find[CERTDIAG_NAME_FINDINGS];
	struct lint_finding scratch;   /* the finding certdiag_input hands out */
	uint8_t npairs;
	struct cd_pair pairs[CERTDIAG_NAME_CLIENTS];
};

struct cd_accept {
	uint64_t ikey, name;
	uint64_t broken;  /* error rules (RULES bits) its chain breaks: this client tolerates them */
	uint8_t icpt;    /* recognised as interception when seen */
	uint8_t chain;   /* a visible chain (0: TLS 1.3, no certificate) */
};

struct cd_client {
	uint64_t key;    /* client address and JA3 */
	uint8_t nacc, overflow;
	struct cd_accept acc[CERTDIAG_CLIENT_ACCEPTS];
	char example[2][128];
	uint64_t example_name[2];
};

#define NAME_SLOTS (CERTDIAG_MAX_NAMES * 2)
#define CLIENT_SLOTS (CERTDIAG_MAX_CLIENTS * 2)

/* Parsed chains, by a hash of their DER: a proxy presents the same forged
 * chain for every connection to a name, and parsing (d2i_X509 + the field
 * extraction, ~1.3 M instructions a certificate) is by far the costliest
 * step per connection. Two-way set-associative (the least recently used
 * way is replaced: two busy chains of one set do not evict each other at
 * every connection), bounded; a miss just parses again. */
#define CHAIN_CACHE_SLOTS 512u
/* Lint findings by (cached chain, SNI, lint_time_key): one server
 * certificate often serves many names. Two-way set-associative like the
 * chains (the slot is picked by a hash of the SNI without case, so its case
 * variants share a set), allocated on first use (2048 x ~330 bytes); a
 * miss just lints again. */
#define LINT_MEMO_SLOTS 2048u
#define CHAIN_CACHE_MAX_BYTES (16u * 1024u) /* a cached chain keeps its copy: at most 8 MB */

#define CD_MAX_FINDINGS 64

struct lint_memo {
	const struct chain_slot *slot;
	uint32_t gen;
	int64_t tkey;         /* lint_time_key the findings were made at */
	char sni[256];
	struct lint_finding *f;
	int8_t *ridx;         /* each finding's rule_index (in f's allocation) */
	uint64_t broken;      /* the error rules found (RULES bits) */
	int n;
	uint64_t used;        /* certdiag.lint_tick when last found or filled */
};

/* A cached chain with what depends on it alone: how it intercepts (the
 * CAs and the kb do not change during a run); for the issuer statistics,
 * its leaf's issuer key, the hash of the leaf's key and where the issuer's
 * entry is. */
struct chain_slot {
	uint64_t hash;
	size_t bytes;
	uint8_t *der;         /* the chain's certificates, one after the other */
	uint32_t len[PI_TLS_MAX_CERTS];
	size_t n;
	struct certdiag_chain *ch;
	int have_how;
	enum icpt_how how;
	char label[160];
	uint64_t ikey;        /* issuer_key of the leaf */
	uint64_t spki_h;      /* spki_hash of the leaf */
	uint32_t istat;       /* istat_add's hint for the leaf's issuer */
	uint32_t gen;         /* which chain of this slot: lint memos name it */
	uint64_t used;        /* certdiag.chain_tick when last found or filled */
};

struct certdiag {
	struct chain_slot *chains;
	uint32_t chain_gen;
	uint64_t chain_tick, lint_tick;
	struct lint_memo *lint;   /* LINT_MEMO_SLOTS, on first use */
	const struct inspect_cas *cas;
	const struct kb *kb;
	const struct ja3_db *db;
	struct issuer_stats *ist;
	struct cd_name **names;     /* open addressing */
	struct cd_client **clients;
	size_t nnames, nclients;
	struct certdiag_stats st;
	char heur_label[160];
};

struct certdiag *certdiag_new(const struct inspect_cas *cas, const struct kb *kb, const struct ja3_db *db)
{
	struct certdiag *cd = calloc(1, sizeof(*cd));
	if (!cd)
		return NULL;
	cd->cas = cas;
	cd->kb = kb;
	cd->db = db;
	cd->ist = issuer_stats_new();
	cd->names = calloc(NAME_SLOTS, sizeof(*cd->names));
	cd->clients = calloc(CLIENT_SLOTS, sizeof(*cd->clients));
	if (!cd->ist || !cd->names || !cd->clients) {
		certdiag_free(cd);
		return NULL;
	}
	return cd;
}

void certdiag_free(struct certdiag *cd)
{
	if (!cd)
		return;
	if (cd->names)
		for (size_t i = 0; i < NAME_SLOTS; i++)
			free(cd->names[i]);
	if (cd->clients)
		for (size_t i = 0; i < CLIENT_SLOTS; i++)
			free(cd->clients[i]);
	free(cd->names);
	free(cd->clients);
	if (cd->chains) {
		for (size_t i = 0; i < CHAIN_CACHE_SLOTS; i++) {
			if (cd->chains[i].ch) {
				certdiag_chain_free(cd->chains[i].ch);
				free(cd->chains[i].ch);
			}
			free(cd->chains[i].der);
		}
		free(cd->chains);
	}
	if (cd->lint) {
		for (size_t i = 0; i < LINT_MEMO_SLOTS; i++)
			free(cd->lint[i].f);
		free(cd->lint);
	}
	issuer_stats_free(cd->ist);
	free(cd);
}

/* Which slot a chain goes in: the number of certificates and, of each,
 * its length and last 16 bytes (the end of the signature: random for any
 * two signed certificates). Hashing every byte cost ~1,800 instructions a
 * connection, two 64-byte pi_hash a certificate ~420; this is ~40. The
 * slot's kept copy is compared in full (chain_is), so two chains alike in
 * those bytes only share a slot, never an answer. */
static uint64_t chain_key(const uint8_t *const *der, const size_t *len, size_t n)
{
	uint64_t h = 0x51ed2701u ^ n;
	for (size_t i = 0; i < n; i++) {
		uint64_t a = 0, b = 0;
		if (der[i] && len[i] >= 16) {
			memcpy(&a, der[i] + len[i] - 16, 8);
			memcpy(&b, der[i] + len[i] - 8, 8);
		} else if (der[i] && len[i]) {
			uint8_t tail[16] = { 0 };
			memcpy(tail + 16 - len[i], der[i], len[i]);
			memcpy(&a, tail, 8);
			memcpy(&b, tail + 8, 8);
		}
		h = pi_fmix64(h ^ (uint64_t)len[i] * 0x9e3779b97f4a7c15ull ^ a);
		h = pi_fmix64(h ^ b);
	}
	return h;
}

static int chain_is(const struct chain_slot *sl, const uint8_t *const *der, const size_t *len, size_t n)
{
	size_t off = 0;
	if (!sl->der || sl->n != n)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (sl->len[i] != len[i])
			return 0;
	for (size_t i = 0; i < n; i++) {
		if (memcmp(sl->der + off, der[i], len[i]) != 0)
			return 0;
		off += len[i];
	}
	return 1;
}

/* The parsed chain of these DER certificates, from the cache or parsed now
 * (and cached). NULL if the leaf does not parse. Owned by cd. Chains over
 * CHAIN_CACHE_MAX_BYTES are parsed every time (their copy is not kept). */
static struct certdiag_chain *chain_cached(struct certdiag *cd, const uint8_t *const *der, const size_t *len,
                                           size_t n, struct chain_slot **slot)
{
	uint64_t h;
	size_t bytes = 0;
	struct chain_slot *sl;
	struct certdiag_chain *ch;
	uint8_t *copy = NULL;
	if (n > PI_TLS_MAX_CERTS)
		n = PI_TLS_MAX_CERTS;
	h = chain_key(der, len, n);
	for (size_t i = 0; i < n; i++)
		bytes += len[i];
	if (!cd->chains)
		cd->chains = calloc(CHAIN_CACHE_SLOTS, sizeof(*cd->chains));
	sl = NULL;
	*slot = NULL;
	if (cd->chains && bytes <= CHAIN_CACHE_MAX_BYTES) {
		struct chain_slot *set = &cd->chains[(h % (CHAIN_CACHE_SLOTS / 2)) * 2];
		for (int w = 0; w < 2; w++)
			if (set[w].ch && set[w].hash == h && set[w].bytes == bytes && chain_is(&set[w], der, len, n)) {
				set[w].used = ++cd->chain_tick;
				*slot = &set[w];
				return set[w].ch;
			}
		/* the victim: an empty way, else the least recently used */
		sl = !set[0].ch ? &set[0] : !set[1].ch ? &set[1] : set[0].used <= set[1].used ? &set[0] : &set[1];
	}
	ch = malloc(sizeof(*ch));
	if (!ch) {
		cd->st.alloc_failures++;
		return NULL;
	}
	if (sl && bytes && !(copy = malloc(bytes)))
		sl = NULL; /* parsed, not cached */
	/* the X509 objects only for the --inspection-ca checks */
	if (chain_parse(ch, der, len, n, cd->cas && cd->cas->n) == 0) {
		free(ch);
		free(copy);
		return NULL;
	}
	if (!sl)
		return ch; /* not cached: the caller cannot tell; see certdiag_observe */
	if (sl->ch) {
		certdiag_chain_free(sl->ch);
		free(sl->ch);
	}
	free(sl->der);
	memset(sl, 0, sizeof(*sl));
	sl->gen = ++cd->chain_gen; /* the memos of the chain it held are stale */
	sl->used = ++cd->chain_tick;
	sl->hash = h;
	sl->bytes = bytes;
	sl->der = copy;
	sl->n = n;
	for (size_t i = 0, off = 0; i < n; off += len[i], i++) {
		memcpy(copy + off, der[i], len[i]);
		sl->len[i] = (uint32_t)len[i];
	}
	sl->ch = ch;
	*slot = sl;
	return ch;
}

const struct certdiag_stats *certdiag_stats(const struct certdiag *cd)
{
	return &cd->st;
}

/* Find (or, create != 0, add) the slot of key in an open-addressing table
 * of pointers whose first member is the uint64_t key. NULL when full. */
static void **slot_of(void **tab, size_t slots, uint64_t key, int create, size_t *count, size_t cap, int *fresh)
{
	size_t i = (size_t)(key % slots);
	*fresh = 0;
	for (size_t k = 0; k < slots; k++, i = (i + 1) % slots) {
		if (!tab[i]) {
			if (!create || *count >= cap)
				return NULL;
			*fresh = 1;
			return &tab[i];
		}
		if (*(const uint64_t *)tab[i] == key)
			return &tab[i];
	}
	return NULL;
}

static struct cd_name *name_get(const struct certdiag *cd, const char *name)
{
	size_t dummy = 0;
	int fresh;
	void **s = slot_of((void **)cd->names, NAME_SLOTS, str_hash(name, 11), 0, &dummy, 0, &fresh);
	return s ? *s : NULL;
}

/* h: str_hash(name, 11), the caller has it. */
static struct cd_name *name_add(struct certdiag *cd, const char *name, uint64_t h)
{
	int fresh;
	void **s = slot_of((void **)cd->names, NAME_SLOTS, h, 1, &cd->nnames, CERTDIAG_MAX_NAMES, &fresh);
	struct cd_name *n;
	if (!s) {
		cd->st.names_dropped++;
		return NULL;
	}
	if (!fresh)
		return *s;
	n = calloc(1, sizeof(*n));
	if (!n) {
		cd->st.names_dropped++;
		return NULL;
	}
	n->hash = h;
	pi_strlcpy(n->name, name, sizeof(n->name));
	*s = n;
	cd->nnames++;
	cd->st.names++;
	return n;
}

/* The key of a (client address, JA3) pair; ck: str_hash(client, 21). */
static uint64_t client_key(uint64_t ck, const char *ja3)
{
	uint64_t h = pi_hash(ja3 ? ja3 : "", ja3 ? strlen(ja3) : 0, ck);
	return h ? h : 1;
}

static struct cd_client *client_get(const struct certdiag *cd, uint64_t key)
{
	size_t dummy = 0;
	int fresh;
	void **s = slot_of((void **)cd->clients, CLIENT_SLOTS, key, 0, &dummy, 0, &fresh);
	return s ? *s : NULL;
}

static struct cd_client *client_add(struct certdiag *cd, uint64_t key)
{
	int fresh;
	void **s = slot_of((void **)cd->clients, CLIENT_SLOTS, key, 1, &cd->nclients, CERTDIAG_MAX_CLIENTS, &fresh);
	struct cd_client *c;
	if (!s) {
		cd->st.clients_dropped++;
		return NULL;
	}
	if (!fresh)
		return *s;
	c = calloc(1, sizeof(*c));
	if (!c) {
		cd->st.clients_dropped++;
		return NULL;
	}
	c->key = key;
	*s = c;
	cd->nclients++;
	return c;
}

/* 1 if every certificate of ch is valid at ts (or ts is 0): the lint
 * findings do not depend on the time then. */
/* What the lint of ch at time ts depends on the time by: each
 * certificate's validity then (2 bits: valid, expired, not yet valid) and,
 * when any is not valid, the UTC day of ts (the findings print it as
 * YYYY-MM-DD). -1 for "valid throughout" (or no time). Two times with the
 * same key give the same findings (cert_lint uses the time for nothing
 * else), so the key is what a cached lint is kept by; -2: not to be kept. */
_Static_assert(PI_TLS_MAX_CERTS <= 12, "lint_time_key packs 2 bits a certificate into 24");

static int64_t lint_time_key(const struct certdiag_chain *ch, int64_t ts)
{
	uint64_t bits = 0;
	int64_t day;
	if (!ts)
		return -1;
	for (size_t i = 0; i < ch->n && i < 12; i++) {
		uint64_t v = 0;
		if (ch->ci[i].not_after && ts > ch->ci[i].not_after)
			v |= 1;
		if (ch->ci[i].not_before && ts < ch->ci[i].not_before)
			v |= 2;
		bits |= v << (2 * i);
	}
	if (!bits)
		return -1;
	day = ts / 86400 - (ts % 86400 < 0); /* floor: days before 1970 too */
	if (day < 0 || day >= (1ll << 38))
		return -2; /* not kept (no packet time is that far out) */
	return day << 24 | (int64_t)bits;
}

/* The memo slot for the lint of cached chain sl for sni at tkey (see
 * lint_time_key): the one holding them (*hit = 1), else the one to fill.
 * NULL when they are not to be kept. snih: any hash of sni's lowercase
 * form (it picks the set; the memo compares sni in full). */
static struct lint_memo *lint_memo_at(struct certdiag *cd, const struct chain_slot *sl, const char *sni,
                                      uint64_t snih, int64_t tkey, int *hit)
{
	struct lint_memo *set;
	*hit = 0;
	if (!sl || tkey == -2 || strnlen(sni, sizeof(cd->lint->sni)) >= sizeof(cd->lint->sni))
		return NULL;
	if (!cd->lint && !(cd->lint = calloc(LINT_MEMO_SLOTS, sizeof(*cd->lint))))
		return NULL;
	set = &cd->lint[(pi_fmix64(snih ^ (uint64_t)tkey * 0x9e3779b97f4a7c15ull ^ (uint64_t)sl->gen << 32) %
	                 (LINT_MEMO_SLOTS / 2)) * 2];
	for (int w = 0; w < 2; w++)
		if (set[w].slot == sl && set[w].gen == sl->gen && set[w].tkey == tkey && strcmp(set[w].sni, sni) == 0) {
			set[w].used = ++cd->lint_tick;
			*hit = 1;
			return &set[w];
		}
	return !set[0].slot ? &set[0] : !set[1].slot ? &set[1] : set[0].used <= set[1].used ? &set[0] : &set[1];
}

/* A connection with a visible chain. nameh: str_hash(c->name, 11); cl:
 * its client's entry when healthy (NULL: none, or not kept); n: the
 * name's entry when rejected (NULL: not kept). */
static void observe_chain(struct certdiag *cd, const struct certdiag_conn *c, struct certdiag_chain *ch,
                          struct chain_slot *sl, uint64_t nameh, struct cd_client *cl, struct cd_name *n)
{
	const char *sni = c->sni && *c->sni ? c->sni : NULL;
	const char *asked = sni ? sni : c->name;
	char label[160];
	enum icpt_how how;
	uint64_t ikey, spki_h, askedh, dh, broken = 0;
	struct lint_finding fbuf[CD_MAX_FINDINGS];
	int8_t rbuf[CD_MAX_FINDINGS];
	const struct lint_finding *f = fbuf;
	const int8_t *ridx = rbuf;
	int k;
	int64_t tkey = lint_time_key(ch, c->ts);

	cd->st.chains++;
	/* what depends on the chain alone: once per cached chain. The CA and
	 * the kb now; the heuristic when asked (it grows). */
	if (sl && sl->have_how) {
		how = sl->how;
		memcpy(label, sl->label, sizeof(label));
		ikey = sl->ikey;
		spki_h = sl->spki_h;
	} else {
		how = certdiag_chain_interception(cd->cas, cd->kb, NULL, ch, NULL, label, sizeof(label));
		ikey = issuer_key(&ch->ci[0]);
		spki_h = spki_hash(&ch->ci[0]);
		if (sl) {
			sl->have_how = 1;
			sl->how = how;
			memcpy(sl->label, label, sizeof(label));
			sl->ikey = ikey;
			sl->spki_h = spki_h;
		}
	}
	if (how != ICPT_NONE)
		cd->st.interception_chains++;

	/* str_hash(asked, 11): usually asked is the name, hashed already */
	askedh = asked == c->name || strcmp(asked, c->name) == 0 ? nameh : str_hash(asked, 11);
	/* issuer_stats_add(cd->ist, &ch->ci[0], asked) with what is known */
	dh = name_domain_memo(cd->ist, asked, askedh);
	if (dh)
		istat_add(cd->ist, ikey, ch->ci[0].issuer, spki_h, dh, sl ? &sl->istat : NULL);

	int hit;
	struct lint_memo *m = lint_memo_at(cd, sl, sni ? sni : "", sni ? askedh : 0, tkey, &hit);
	if (hit) {
		f = m->f;
		ridx = m->ridx;
		k = m->n;
		broken = m->broken;
	} else {
		k = cert_lint_chain(ch->ci, ch->n, c->ts, sni, LINT_ALL, cd->cas, fbuf, CD_MAX_FINDINGS);
		if (k > CD_MAX_FINDINGS)
			k = CD_MAX_FINDINGS;
		for (int i = 0; i < k; i++) {
			int r = rule_index(fbuf[i].rule);
			rbuf[i] = (int8_t)r;
			if (r >= 0 && r < 64 && fbuf[i].severity == LINT_ERROR)
				broken |= 1ull << r;
		}
		if (m) {
			/* the findings and their rule indexes in one allocation */
			struct lint_finding *copy = k ? malloc((size_t)k * (sizeof(*copy) + 1)) : NULL;
			free(m->f);
			memset(m, 0, sizeof(*m));
			if (copy || !k) { /* without memory: not kept */
				if (k) {
					memcpy(copy, fbuf, (size_t)k * sizeof(*copy));
					m->ridx = (int8_t *)(copy + k);
					memcpy(m->ridx, rbuf, (size_t)k);
				}
				m->f = copy;
				m->n = k;
				m->broken = broken;
				m->slot = sl;
				m->gen = sl->gen;
				m->tkey = tkey;
				m->used = ++cd->lint_tick;
				pi_strlcpy(m->sni, sni ? sni : "", sizeof(m->sni));
			}
		}
	}
	if (c->healthy && cl) {
		struct cd_accept *same = NULL;
		for (size_t i = 0; i < cl->nacc; i++)
			if (cl->acc[i].name == nameh && cl->acc[i].ikey == ikey)
				same = &cl->acc[i];
		if (same)
			same->broken |= broken;
		else if (cl->nacc < CERTDIAG_CLIENT_ACCEPTS)
			cl->acc[cl->nacc++] = (struct cd_accept){ ikey, nameh, broken, how != ICPT_NONE, 1 };
		else
			cl->overflow = 1;
	}
	if (c->rejected) {
		if (!n)
			return;
		n->failing_chains++;
		if (!n->has_ikey || how_strength(how) > how_strength(n->how)) {
			n->how = how;
			pi_strlcpy(n->label, label, sizeof(n->label));
			n->ikey = ikey;
			n->has_ikey = 1;
		}
		/* keep each rule's first finding (errors and warnings) */
		for (int i = 0; i < k; i++) {
			int r = ridx[i], dup = 0;
			if (r < 0 || f[i].severity < LINT_WARNING)
				continue;
			for (size_t j = 0; j < n->nfind; j++)
				if (n->find[j].rule == r)
					dup = 1;
			size_t at = n->nfind;
			if (dup)
				continue;
			if (at >= CERTDIAG_NAME_FINDINGS) {
				/* full: an error may take a warning's place */
				if (f[i].severity != LINT_ERROR)
					continue;
				for (at = 0; at < n->nfind; at++)
					if (RULES[n->find[at].rule]->sev != LINT_ERROR)
						break;
				if (at == n->nfind)
					continue;
			} else {
				n->nfind++;
			}
			n->find[at].rule = (uint8_t)r;
			n->find[at].cert = (int8_t)(f[i].cert < -1 ? -1 : f[i].cert > 100 ? 100 : f[i].cert);
			pi_strlcpy(n->find[at].value, f[i].value, sizeof(n->find[0].value));
		}
	}
}

void certdiag_observe(struct certdiag *cd, const struct certdiag_conn *c)
{
	struct certdiag_chain *ch = NULL;
	struct chain_slot *sl = NULL;
	struct cd_client *cl = NULL;
	struct cd_name *n = NULL;
	uint64_t nameh = 0, ck = 0;
	if (!cd || !c || !c->name)
		return;
	cd->st.conns++;
	if (c->nder && c->der && c->der_len)
		ch = chain_cached(cd, c->der, c->der_len, c->nder, &sl);
	/* each hash once a connection: the name's (the name and accept tables,
	 * the lint and domain memos), the client address's */
	if (ch || c->healthy || c->rejected)
		nameh = str_hash(c->name, 11);
	if (c->healthy || c->rejected)
		ck = str_hash(c->client, 21);
	/* the one client_add of a healthy connection (with or without a chain);
	 * its entry serves the example below too */
	if (c->healthy)
		cl = client_add(cd, client_key(ck, c->ja3));
	if (ch) {
		if (c->rejected)
			n = name_add(cd, c->name, nameh);
		observe_chain(cd, c, ch, sl, nameh, cl, n);
	} else if (c->healthy && cl) {
		/* no visible chain (TLS 1.3): only "completed a handshake" */
		int dup = 0;
		for (size_t i = 0; i < cl->nacc; i++)
			if (cl->acc[i].name == nameh && !cl->acc[i].chain)
				dup = 1;
		if (!dup) {
			if (cl->nacc < CERTDIAG_CLIENT_ACCEPTS)
				cl->acc[cl->nacc++] = (struct cd_accept){ 0, nameh, 0, 0, 0 };
			else
				cl->overflow = 1;
		}
	}
	if (c->healthy && cl) {
		for (int i = 0; i < 2; i++) {
			if (cl->example_name[i] == nameh)
				break;
			if (!cl->example_name[i]) {
				cl->example_name[i] = nameh;
				pi_strlcpy(cl->example[i], c->name, sizeof(cl->example[i]));
				break;
			}
		}
	}
	if (c->rejected) {
		/* an entry not kept above is tried (and counted as dropped) again,
		 * as a second name_add would */
		if (!n)
			n = name_add(cd, c->name, nameh);
		if (n) {
			/* jh = str_hash(c->ja3, 31) when needed: a pair holding the
			 * same whole JA3 text has the same hash, no need to make it */
			uint64_t jh = 0;
			int dup = 0, have_jh = 0;
			n->failing++;
			for (size_t i = 0; i < n->npairs && !dup; i++) {
				if (n->pairs[i].client != ck)
					continue;
				if (c->ja3 && n->pairs[i].ja3_whole && strcmp(n->pairs[i].ja3, c->ja3) == 0) {
					dup = 1;
					break;
				}
				if (!have_jh) {
					jh = str_hash(c->ja3, 31);
					have_jh = 1;
				}
				if (n->pairs[i].ja3h == jh)
					dup = 1;
			}
			if (!dup && n->npairs < CERTDIAG_NAME_CLIENTS) {
				struct cd_pair *p = &n->pairs[n->npairs++];
				p->client = ck;
				p->ja3h = have_jh ? jh : str_hash(c->ja3, 31);
				pi_strlcpy(p->ja3, c->ja3 ? c->ja3 : "", sizeof(p->ja3));
				p->ja3_whole = strlen(c->ja3 ? c->ja3 : "") < sizeof(p->ja3);
			}
		}
	}
	if (ch && !sl) {
		/* not cached (no cache, too long, or no memory for its copy):
		 * this chain is ours to free */
		certdiag_chain_free(ch);
		free(ch);
	}
}

void certdiag_observe_tls(struct certdiag *cd, const struct certdiag_conn *c, const struct tls_certs *certs)
{
	struct certdiag_conn cc;
	const uint8_t *der[PI_TLS_MAX_CERTS];
	size_t len[PI_TLS_MAX_CERTS], n = 0;
	if (!c)
		return;
	cc = *c;
	if (certs && certs->der)
		for (uint32_t i = 0; i < certs->kept && i < PI_TLS_MAX_CERTS; i++) {
			der[n] = certs->der + certs->off[i];
			len[n++] = certs->len[i];
		}
	cc.der = n ? der : NULL;
	cc.der_len = n ? len : NULL;
	cc.nder = n;
	certdiag_observe(cd, &cc);
}

static const struct kb_entry *kb_tool_named(const struct kb *kb, const char *name)
{
	if (!kb || !name)
		return NULL;
	for (size_t i = 0; i < kb->n; i++)
		if (kb->v[i].kind == KB_TOOL && strcasecmp(kb->v[i].name, name) == 0)
			return &kb->v[i];
	return NULL;
}

static int apple_hint(const struct kb_entry *app, const char *ndpi_app)
{
	if (app && app->platform && (strcasestr(app->platform, "apple") || strcasestr(app->platform, "ios") ||
	                             strcasestr(app->platform, "mac")))
		return 1;
	return ndpi_app && strcasestr(ndpi_app, "apple") != NULL;
}

int certdiag_input(const struct certdiag *cd, const char *name, uint64_t failures, uint64_t successes,
                   const char *app, struct diag_input *in)
{
	const struct cd_name *n;
	const struct kb *kb = cd ? cd->kb : NULL;
	unsigned mask = 0;
	int unknown = 0;
	memset(in, 0, sizeof(*in));
	in->name = name;
	in->failures = failures;
	in->successes = successes;
	if (kb && name) {
		in->tool = kb_match_domain(kb, KB_TOOL, name, &in->tool_pattern);
		in->app = kb_match_domain(kb, KB_APP, name, &in->app_match);
		if (!in->app && app && *app && (in->app = kb_match_ndpi(kb, KB_APP, app)))
			in->app_match = app;
		in->bundle = kb_tool_named(kb, "ca-bundle");
	}
	if (!cd || !name || !(n = name_get(cd, name)))
		return 0;

	/* the client stack of the failing connections */
	for (size_t i = 0; i < n->npairs; i++) {
		unsigned pm = 0;
		int general = 0;
		const char *lib = certdiag_library_guess(cd->db, n->pairs[i].ja3, &pm, &general);
		if (!lib)
			unknown = 1;
		mask |= pm;
		if (!in->ja3 || (!in->library && lib)) {
			in->ja3 = n->pairs[i].ja3[0] ? n->pairs[i].ja3 : NULL;
			in->library = lib;
			in->library_general = general;
			if (lib) {
				const struct ja3_lib *l = ja3_db_lookup(cd->db, n->pairs[i].ja3);
				in->library_tool = l ? kb_tool_named(kb, l->tool) : NULL;
			}
		}
	}
	if (!mask || unknown)
		mask = LINT_ALL;
	if (mask == LINT_ALL && apple_hint(in->app, app))
		mask = LINT_MASK(LINT_APPLE) | LINT_MASK(LINT_GENERIC);
	in->platforms = mask;
	{
		/* rules this client (address and JA3) accepts elsewhere do not explain
		 * its rejection here: e.g. a Python 3.11 that takes AKI-less leaves */
		uint64_t tolerated = 0;
		struct lint_finding cand[CERTDIAG_NAME_FINDINGS];
		size_t nc = 0;
		const struct lint_finding *w;
		for (size_t i = 0; i < n->npairs; i++) {
			uint64_t key = pi_hash(n->pairs[i].ja3, strlen(n->pairs[i].ja3), n->pairs[i].client);
			const struct cd_client *cl = client_get(cd, key ? key : 1);
			for (size_t j = 0; cl && j < cl->nacc; j++)
				if (cl->acc[j].chain && cl->acc[j].name != n->hash)
					tolerated |= cl->acc[j].broken;
		}
		for (size_t i = 0; i < n->nfind; i++) {
			const struct rule *r = RULES[n->find[i].rule];
			if (n->find[i].rule < 64 && (tolerated & (1ull << n->find[i].rule))) {
				if (r->sev == LINT_ERROR && !in->tolerated_rule)
					in->tolerated_rule = r->id;
				continue;
			}
			memset(&cand[nc], 0, sizeof(cand[nc]));
			cand[nc].rule = r->id;
			cand[nc].platform = r->platform;
			cand[nc].severity = r->sev;
			cand[nc].field = r->field;
			cand[nc].message = r->message;
			cand[nc].source = r->source;
			cand[nc].remedy = r->remedy;
			cand[nc].cert = n->find[i].cert;
			pi_strlcpy(cand[nc].value, n->find[i].value, sizeof(cand[nc].value));
			nc++;
		}
		w = lint_worst(cand, nc, mask, LINT_ERROR);
		if (w) {
			struct cd_name *mn = (struct cd_name *)n; /* the scratch slot only */
			mn->scratch = *w;
			in->lint = &mn->scratch;
		}
	}

	/* interception */
	in->interception = n->how;
	in->interception_label = n->label[0] ? n->label : NULL;
	if (n->how == ICPT_NONE && n->has_ikey) {
		struct certdiag *mcd = (struct certdiag *)cd; /* scratch label only */
		if (issuer_stats_forging(cd->ist, n->ikey, mcd->heur_label, sizeof(mcd->heur_label))) {
			in->interception = ICPT_HEURISTIC;
			in->interception_label = cd->heur_label;
		}
	}

	/* does the same client (address and JA3) accept the interception CA elsewhere? */
	uint64_t counted[2 * CERTDIAG_CLIENT_ACCEPTS];
	size_t ncounted = 0;
	for (size_t i = 0; i < n->npairs; i++) {
		const struct cd_client *cl;
		uint64_t key;
		/* the pair keeps hashes; rebuild the client key from them */
		key = pi_hash(n->pairs[i].ja3, strlen(n->pairs[i].ja3), n->pairs[i].client);
		key = key ? key : 1;
		cl = client_get(cd, key);
		if (!cl)
			continue;
		for (size_t j = 0; j < cl->nacc; j++) {
			const struct cd_accept *a = &cl->acc[j];
			if (a->name == n->hash)
				continue;
			int seen = 0;
			if (a->chain) {
				int icpt = a->icpt || (n->has_ikey && a->ikey == n->ikey) ||
				           issuer_stats_forging(cd->ist, a->ikey, NULL, 0);
				if (!icpt)
					continue;
				if (in->accepts_other != ACCEPT_PROVEN) {
					in->accepts_other = ACCEPT_PROVEN;
					in->accepted_names = 0;
					in->accepted_example = NULL;
					ncounted = 0;
				}
			} else if (in->accepts_other != ACCEPT_PROVEN) {
				in->accepts_other = ACCEPT_HINT;
			} else {
				continue;
			}
			/* count each other name once, whichever client pair saw it */
			for (size_t q = 0; q < ncounted; q++)
				if (counted[q] == a->name)
					seen = 1;
			if (!seen) {
				if (ncounted < sizeof(counted) / sizeof(counted[0]))
					counted[ncounted++] = a->name;
				in->accepted_names++;
			}
			if (!in->accepted_example)
				for (int e = 0; e < 2; e++)
					if (cl->example_name[e] == a->name)
						in->accepted_example = cl->example[e];
		}
		if (in->accepts_other == ACCEPT_PROVEN && !in->ja3)
			in->ja3 = n->pairs[i].ja3;
	}
	return 1;
}
