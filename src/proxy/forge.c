/* forge.c: forge leaf certificates for intercepted names, and cache them
 * (profile and ownership in forge.h; RFC 5280 4.1 and 4.2).
 *
 * Every OpenSSL call is checked; each function has one exit that frees
 * what it still owns (sslsplit's ssl_x509_forge habit).
 */
#include "proxy/forge.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "proxy/ca.h"
#include "proxy/rules.h"

void forge_ssl_error(char *buf, size_t len, const char *what)
{
	unsigned long e = ERR_get_error();
	char tmp[256];
	if (!buf || !len)
		return;
	if (e)
		ERR_error_string_n(e, tmp, sizeof(tmp));
	else
		pi_strlcpy(tmp, "no OpenSSL error recorded", sizeof(tmp));
	snprintf(buf, len, "%s: %s", what, tmp);
	ERR_clear_error();
}

EVP_PKEY *forge_new_key(enum forge_key kt)
{
	EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(kt == FORGE_KEY_EC ? EVP_PKEY_EC : EVP_PKEY_RSA, NULL);
	EVP_PKEY *k = NULL;
	if (!ctx)
		return NULL;
	if (EVP_PKEY_keygen_init(ctx) <= 0)
		goto out;
	if (kt == FORGE_KEY_EC) {
		if (EVP_PKEY_CTX_set_ec_paramgen_curve_nid(ctx, NID_X9_62_prime256v1) <= 0 ||
		    EVP_PKEY_CTX_set_ec_param_enc(ctx, OPENSSL_EC_NAMED_CURVE) <= 0)
			goto out;
	} else if (EVP_PKEY_CTX_set_rsa_keygen_bits(ctx, 2048) <= 0) {
		goto out;
	}
	if (EVP_PKEY_keygen(ctx, &k) <= 0)
		k = NULL;
out:
	EVP_PKEY_CTX_free(ctx);
	return k;
}

int forge_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
	X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
	int ok;
	if (!ext)
		return -1;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -1;
}

/* 128 random bits, top bit clear (a positive INTEGER), never zero. */
static int random_serial(X509 *x)
{
	unsigned char b[16];
	BIGNUM *bn = NULL;
	ASN1_INTEGER *ai = NULL;
	int rc = -1;
	if (RAND_bytes(b, sizeof(b)) != 1)
		return -1;
	b[0] &= 0x7f;
	b[0] |= 0x01; /* non-zero and a full 16 bytes: no leading zero byte */
	bn = BN_bin2bn(b, sizeof(b), NULL);
	if (!bn)
		goto out;
	ai = BN_to_ASN1_INTEGER(bn, NULL);
	if (!ai || X509_set_serialNumber(x, ai) != 1)
		goto out;
	rc = 0;
out:
	ASN1_INTEGER_free(ai);
	BN_free(bn);
	return rc;
}

X509 *forge_make_leaf(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *leafkey, const char *name, time_t now,
                      char *err, size_t errlen)
{
	X509 *x = NULL;
	X509_NAME *subj = NULL;
	X509V3_CTX ctx;
	char san[RULES_MAX_NAME + 8], ku[64];
	int kind = rules_valid_name(name);
	time_t t = now;
	const ASN1_OCTET_STRING *ca_ski;

	if (!kind) {
		snprintf(err, errlen, "not a host name or address: cannot forge");
		return NULL;
	}
	x = X509_new();
	if (!x)
		goto fail;
	if (X509_set_version(x, 2) != 1 || random_serial(x) < 0)
		goto fail;
	if (!X509_time_adj_ex(X509_getm_notBefore(x), -FORGE_BACKDATE_DAYS, 0, &t) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), FORGE_LEAF_DAYS - FORGE_BACKDATE_DAYS, 0, &t))
		goto fail;
	if (X509_set_issuer_name(x, X509_get_subject_name(ca)) != 1)
		goto fail;
	subj = X509_NAME_new();
	if (!subj)
		goto fail;
	if (X509_NAME_add_entry_by_txt(subj, "O", MBSTRING_ASC, (const unsigned char *)"pinspect interception",
	                               -1, -1, 0) != 1)
		goto fail;
	/* CN holds at most 64 characters (RFC 5280 ub-common-name); the SAN
	 * carries the name in any case (clients ignore the CN) */
	if (strlen(name) <= 64 &&
	    X509_NAME_add_entry_by_txt(subj, "CN", MBSTRING_ASC, (const unsigned char *)name, -1, -1, 0) != 1)
		goto fail;
	if (X509_set_subject_name(x, subj) != 1 || X509_set_pubkey(x, leafkey) != 1)
		goto fail;

	X509V3_set_ctx(&ctx, ca, x, NULL, NULL, 0);
	snprintf(san, sizeof(san), "%s:%s", kind == 2 ? "IP" : "DNS", name);
	snprintf(ku, sizeof(ku), "critical,digitalSignature%s",
	         EVP_PKEY_base_id(leafkey) == EVP_PKEY_RSA ? ",keyEncipherment" : "");
	ca_ski = X509_get0_subject_key_id(ca);
	if (forge_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    forge_add_ext(x, &ctx, NID_key_usage, ku) < 0 ||
	    forge_add_ext(x, &ctx, NID_ext_key_usage, "serverAuth") < 0 ||
	    forge_add_ext(x, &ctx, NID_subject_alt_name, san) < 0 ||
	    forge_add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    forge_add_ext(x, &ctx, NID_authority_key_identifier, ca_ski ? "keyid:always" : "issuer:always") < 0)
		goto fail;
	if (X509_sign(x, cakey, EVP_sha256()) <= 0)
		goto fail;
	X509_NAME_free(subj);
	return x;
fail:
	forge_ssl_error(err, errlen, "forging a leaf");
	X509_NAME_free(subj);
	X509_free(x);
	return NULL;
}

/* ---- the per-name cache ------------------------------------------------ */

struct leaf_entry {
	struct leaf_entry *hnext;
	char name[RULES_MAX_NAME + 1];
	enum forge_key kt;
	X509 *x;          /* owned: one reference */
	time_t made;
	uint64_t used;    /* LRU clock */
};

#define FORGE_BUCKETS 8192u /* power of two, >= FORGE_CACHE_MAX */

struct forge {
	X509 *ca;
	EVP_PKEY *cakey, *leafkey[2]; /* [FORGE_KEY_RSA], [FORGE_KEY_EC] */
	struct leaf_entry *bucket[FORGE_BUCKETS];
	size_t n;
	uint64_t clock;
	struct forge_stats st;
};

struct forge *forge_open(const char *cadir, char *err, size_t errlen)
{
	struct forge *f = calloc(1, sizeof(*f));
	if (!f) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (ca_load(cadir, &f->ca, &f->cakey, err, errlen) < 0) {
		free(f);
		return NULL;
	}
	f->leafkey[FORGE_KEY_RSA] = forge_new_key(FORGE_KEY_RSA);
	f->leafkey[FORGE_KEY_EC] = forge_new_key(FORGE_KEY_EC);
	if (!f->leafkey[FORGE_KEY_RSA] || !f->leafkey[FORGE_KEY_EC]) {
		forge_ssl_error(err, errlen, "generating the leaf key");
		forge_free(f);
		return NULL;
	}
	return f;
}

void forge_free(struct forge *f)
{
	if (!f)
		return;
	for (size_t i = 0; i < FORGE_BUCKETS; i++) {
		struct leaf_entry *e = f->bucket[i], *nx;
		for (; e; e = nx) {
			nx = e->hnext;
			X509_free(e->x);
			free(e);
		}
	}
	X509_free(f->ca);
	EVP_PKEY_free(f->cakey);
	EVP_PKEY_free(f->leafkey[FORGE_KEY_RSA]);
	EVP_PKEY_free(f->leafkey[FORGE_KEY_EC]);
	free(f);
}

EVP_PKEY *forge_leaf_key(const struct forge *f, enum forge_key kt)
{
	return f->leafkey[kt == FORGE_KEY_EC ? FORGE_KEY_EC : FORGE_KEY_RSA];
}

X509 *forge_ca_cert(const struct forge *f)
{
	return f->ca;
}

void forge_get_stats(const struct forge *f, struct forge_stats *st)
{
	*st = f->st;
	st->cached = f->n;
}

static void unlink_entry(struct forge *f, struct leaf_entry *e, size_t b)
{
	struct leaf_entry **pp = &f->bucket[b];
	while (*pp && *pp != e)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = e->hnext;
	X509_free(e->x);
	free(e);
	f->n--;
}

/* Drop the least recently used leaf (a scan: only when the cache is full). */
static void evict_one(struct forge *f)
{
	struct leaf_entry *old = NULL;
	size_t oldb = 0;
	for (size_t i = 0; i < FORGE_BUCKETS; i++)
		for (struct leaf_entry *e = f->bucket[i]; e; e = e->hnext)
			if (!old || e->used < old->used) {
				old = e;
				oldb = i;
			}
	if (old) {
		unlink_entry(f, old, oldb);
		f->st.evicted++;
	}
}

X509 *forge_leaf(struct forge *f, const char *name, enum forge_key kt, char *err, size_t errlen)
{
	char key[RULES_MAX_NAME + 1];
	size_t len = strlen(name), b;
	struct leaf_entry *e;
	time_t now = time(NULL);
	X509 *x;

	if (len == 0 || len > RULES_MAX_NAME) {
		snprintf(err, errlen, "name length %zu: cannot forge", len);
		return NULL;
	}
	kt = kt == FORGE_KEY_EC ? FORGE_KEY_EC : FORGE_KEY_RSA;
	memcpy(key, name, len + 1);
	pi_lower(key);
	b = (size_t)pi_hash(key, len, 0x6c6561660aull + (uint64_t)kt) & (FORGE_BUCKETS - 1);
	for (e = f->bucket[b]; e; e = e->hnext) {
		if (e->kt != kt || strcmp(e->name, key) != 0)
			continue;
		if (now - e->made > FORGE_CACHE_TTL || now < e->made) {
			unlink_entry(f, e, b);
			break;
		}
		e->used = ++f->clock;
		f->st.hits++;
		if (X509_up_ref(e->x) != 1) {
			forge_ssl_error(err, errlen, "X509_up_ref");
			return NULL;
		}
		return e->x;
	}
	x = forge_make_leaf(f->ca, f->cakey, f->leafkey[kt], key, now, err, errlen);
	if (!x)
		return NULL;
	f->st.forged++;
	if (f->n >= FORGE_CACHE_MAX)
		evict_one(f);
	e = calloc(1, sizeof(*e));
	if (!e || X509_up_ref(x) != 1) {
		free(e);
		return x; /* served, not cached */
	}
	memcpy(e->name, key, len + 1);
	e->kt = kt;
	e->x = x;
	e->made = now;
	e->used = ++f->clock;
	e->hnext = f->bucket[b];
	f->bucket[b] = e;
	f->n++;
	return x;
}
