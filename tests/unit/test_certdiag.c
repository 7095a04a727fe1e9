/* test_certdiag.c: interception recognition, the certificate lint, the JA3
 * data, the knowledge-base tools and the decision order of issue #5.
 *
 * Certificates are made here with OpenSSL's APIs, one per rule, passing and
 * failing. Where a rule mirrors what OpenSSL itself enforces, the lint is
 * checked against OpenSSL's verdict (X509_verify_cert with the same flags or
 * security level): the Python 3.13 strict rules against X509_V_FLAG_X509_STRICT,
 * RSA 2048 against auth level 2, SHA-1 against auth level 1, the EKU against
 * the sslserver purpose.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "analysis/certdiag.h"
#include "ranking/kb.h"
#include "common/util.h"
#include "unit.h"

#ifndef PI_SRCDIR
#define PI_SRCDIR "."
#endif

static EVP_PKEY *k_ca, *k_int, *k_leaf, *k_1024, *k_other, *k_ec;
static int64_t now_s;

/* ---- making certificates ---------------------------------------------- */

struct spec {
	const char *cn;         /* subject CN ("" for an empty subject) */
	EVP_PKEY *key;          /* subject key */
	X509 *issuer;           /* NULL: self-signed */
	EVP_PKEY *ikey;         /* issuer key (self: key) */
	const EVP_MD *md;       /* NULL: SHA-256 */
	int64_t nb, na;         /* notBefore / notAfter (seconds) */
	const char *ext[12];    /* "name=value" for X509V3_EXT_conf */
	int v1;                 /* make a version-1 certificate */
};

static X509 *make(const struct spec *s)
{
	X509 *x = X509_new();
	X509_NAME *n = X509_NAME_new();
	X509V3_CTX ctx;
	EVP_PKEY *ik = s->ikey ? s->ikey : s->key;
	static long serial = 1;
	if (!x || !n)
		return NULL;
	X509_set_version(x, s->v1 ? X509_VERSION_1 : X509_VERSION_3);
	ASN1_INTEGER_set(X509_get_serialNumber(x), serial++);
	if (s->cn && *s->cn)
		X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)s->cn, -1, -1, 0);
	X509_set_subject_name(x, n);
	X509_set_issuer_name(x, s->issuer ? X509_get_subject_name(s->issuer) : n);
	X509_NAME_free(n);
	ASN1_TIME_set(X509_getm_notBefore(x), (time_t)(s->nb ? s->nb : now_s - 86400));
	ASN1_TIME_set(X509_getm_notAfter(x), (time_t)(s->na ? s->na : now_s + 199 * 86400));
	X509_set_pubkey(x, s->key);
	X509V3_set_ctx(&ctx, s->issuer ? s->issuer : x, x, NULL, NULL, 0);
	for (int i = 0; i < 12 && s->ext[i]; i++) {
		char name[64];
		const char *eq = strchr(s->ext[i], '=');
		X509_EXTENSION *e;
		if (!eq || (size_t)(eq - s->ext[i]) >= sizeof(name))
			continue;
		memcpy(name, s->ext[i], (size_t)(eq - s->ext[i]));
		name[eq - s->ext[i]] = '\0';
		e = X509V3_EXT_conf(NULL, &ctx, name, eq + 1);
		if (!e) {
			fprintf(stderr, "bad extension %s\n", s->ext[i]);
			ERR_print_errors_fp(stderr);
			continue;
		}
		X509_add_ext(x, e, -1);
		X509_EXTENSION_free(e);
	}
	if (!X509_sign(x, ik, s->md ? s->md : EVP_sha256())) {
		ERR_print_errors_fp(stderr);
		X509_free(x);
		return NULL;
	}
	return x;
}

static EVP_PKEY *rsa(int bits)
{
	return EVP_PKEY_Q_keygen(NULL, NULL, "RSA", (size_t)bits);
}

static X509 *root_ca(const char *cn, EVP_PKEY *k)
{
	struct spec s = { .cn = cn, .key = k, .na = now_s + 3650 * 86400LL,
	                  .ext = { "basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign",
	                           "subjectKeyIdentifier=hash" } };
	return make(&s);
}

/* a compliant leaf of ca for name; extra / replace through ext[] */
static X509 *leaf_of(X509 *ca, EVP_PKEY *cak, const char *name)
{
	char san[300];
	struct spec s = { .cn = name, .key = k_leaf, .issuer = ca, .ikey = cak };
	snprintf(san, sizeof(san), "subjectAltName=DNS:%s", name);
	s.ext[0] = san;
	s.ext[1] = "extendedKeyUsage=serverAuth";
	s.ext[2] = "authorityKeyIdentifier=keyid,issuer"; /* keyid when the issuer has an SKI */
	s.ext[3] = "basicConstraints=CA:FALSE";
	s.ext[4] = "keyUsage=critical,digitalSignature,keyEncipherment";
	return make(&s);
}

static int info(X509 *x, struct cert_info *ci)
{
	return certdiag_cert_info(x, ci);
}

/* findings of one certificate for one platform: does rule id appear? */
static int has_rule(X509 *x, int is_ca, int64_t at, const char *sni, enum lint_platform p, const char *rule,
                    enum lint_severity *sev)
{
	struct cert_info ci;
	struct lint_finding f[32];
	int n;
	if (info(x, &ci) != 0)
		return -1;
	n = cert_lint(&ci, is_ca, at, sni, p, f, 32);
	for (int i = 0; i < n && i < 32; i++)
		if (strcmp(f[i].rule, rule) == 0) {
			if (sev)
				*sev = f[i].severity;
			CHECK(f[i].source && *f[i].source);
			CHECK(f[i].remedy && *f[i].remedy);
			CHECK(f[i].field && *f[i].field);
			return 1;
		}
	return 0;
}

static int errors_of(X509 *x, int is_ca, const char *sni, unsigned mask)
{
	struct cert_info ci;
	struct lint_finding f[64];
	int n, e = 0;
	info(x, &ci);
	for (int p = 0; p < LINT_PLATFORMS; p++) {
		if (!(mask & LINT_MASK(p)))
			continue;
		n = cert_lint(&ci, is_ca, now_s, sni, (enum lint_platform)p, f, 64);
		for (int i = 0; i < n && i < 64; i++)
			if (f[i].severity == LINT_ERROR) {
				fprintf(stderr, "  (unexpected error %s: %s)\n", f[i].rule, f[i].value);
				e++;
			}
	}
	return e;
}

/* OpenSSL's own verdict on leaf (+ optional intermediate) under root. */
static int openssl_accepts(X509 *root, X509 *inter, X509 *leaf, unsigned long flags, int auth_level, int purpose)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	STACK_OF(X509) *chain = sk_X509_new_null();
	int ok;
	X509_STORE_add_cert(st, root);
	if (inter)
		sk_X509_push(chain, inter);
	X509_STORE_CTX_init(ctx, st, leaf, chain);
	X509_VERIFY_PARAM_set_flags(X509_STORE_CTX_get0_param(ctx), flags);
	X509_VERIFY_PARAM_set_auth_level(X509_STORE_CTX_get0_param(ctx), auth_level);
	if (purpose)
		X509_STORE_CTX_set_purpose(ctx, purpose);
	ok = X509_verify_cert(ctx) == 1;
	if (getenv("CERTDIAG_TEST_VERBOSE"))
		fprintf(stderr, "  openssl: %s\n", X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
	ERR_clear_error();
	X509_STORE_CTX_free(ctx);
	sk_X509_free(chain);
	X509_STORE_free(st);
	return ok;
}

/* ---- the lint ----------------------------------------------------------- */

static void test_lint_rules(void)
{
	X509 *ca = root_ca("Test Inspection CA", k_ca);
	X509 *good = leaf_of(ca, k_ca, "good.example.net");
	struct cert_info ci;
	enum lint_severity sev;

	/* the compliant pair: no error on any platform */
	CHECK_EQ_INT(errors_of(ca, 1, NULL, LINT_ALL), 0);
	CHECK_EQ_INT(errors_of(good, 0, "good.example.net", LINT_ALL), 0);
	CHECK(openssl_accepts(ca, NULL, good, X509_V_FLAG_X509_STRICT, 2, X509_PURPOSE_SSL_SERVER));
	CHECK_EQ_INT(info(good, &ci), 0);
	CHECK_EQ_INT(ci.version, 3);
	CHECK_EQ_INT(ci.san_dns_count, 1);
	CHECK_EQ_STR(ci.san_dns, "good.example.net");
	CHECK_EQ_STR(ci.sig_hash, "sha256");
	CHECK(ci.has_ku && (ci.ku_bits & KU_DIGITAL_SIGNATURE) && !(ci.ku_bits & KU_KEY_CERT_SIGN));
	CHECK(ci.has_aki && ci.aki_hex[0] && !ci.aki_critical);
	CHECK_EQ_INT(info(ca, &ci), 0);
	CHECK(ci.self_signed && ci.is_ca && ci.bc_critical && ci.has_ski);

	/* SHA-1 */
	{
		struct spec s = { .cn = "sha1.example.net", .key = k_leaf, .issuer = ca, .ikey = k_ca, .md = EVP_sha1(),
		                  .ext = { "subjectAltName=DNS:sha1.example.net", "extendedKeyUsage=serverAuth",
		                           "authorityKeyIdentifier=keyid" } };
		X509 *x = make(&s);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_GENERIC, "generic.sha1", &sev) == 1 && sev == LINT_ERROR);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_APPLE, "apple.sha2", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_GO, "go.sha1", NULL) == 1);
		CHECK(has_rule(good, 0, now_s, NULL, LINT_APPLE, "apple.sha2", NULL) == 0);
		/* OpenSSL agrees: rejected at level 1, accepted at level 0 */
		CHECK(!openssl_accepts(ca, NULL, x, 0, 1, 0));
		CHECK(openssl_accepts(ca, NULL, x, 0, 0, 0));
		X509_free(x);
	}
	/* RSA 1024 */
	{
		struct spec s = { .cn = "rsa1024.example.net", .key = k_1024, .issuer = ca, .ikey = k_ca,
		                  .ext = { "subjectAltName=DNS:rsa1024.example.net", "extendedKeyUsage=serverAuth",
		                           "authorityKeyIdentifier=keyid" } };
		X509 *x = make(&s);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_GENERIC, "generic.rsa_2048", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_APPLE, "apple.rsa_2048", NULL) == 1);
		CHECK(has_rule(good, 0, now_s, NULL, LINT_APPLE, "apple.rsa_2048", NULL) == 0);
		CHECK(!openssl_accepts(ca, NULL, x, 0, 2, 0));
		CHECK(openssl_accepts(ca, NULL, x, 0, 1, 0));
		X509_free(x);
	}
	/* an RSA 1024 issuing CA: Apple's rule covers issuing CAs too */
	{
		X509 *weakca = root_ca("Weak CA", k_1024);
		CHECK(has_rule(weakca, 1, now_s, NULL, LINT_APPLE, "apple.rsa_2048", NULL) == 1);
		X509_free(weakca);
	}
	/* EC keys are not RSA: no key-size finding */
	{
		struct spec s = { .cn = "ec.example.net", .key = k_ec, .issuer = ca, .ikey = k_ca,
		                  .ext = { "subjectAltName=DNS:ec.example.net", "extendedKeyUsage=serverAuth",
		                           "authorityKeyIdentifier=keyid" } };
		X509 *x = make(&s);
		CHECK_EQ_INT(errors_of(x, 0, "ec.example.net", LINT_ALL), 0);
		X509_free(x);
	}
	/* no subjectAltName: Apple and Go reject, OpenSSL falls back to the CN (warning) */
	{
		struct spec s = { .cn = "nosan.example.net", .key = k_leaf, .issuer = ca, .ikey = k_ca,
		                  .ext = { "extendedKeyUsage=serverAuth", "authorityKeyIdentifier=keyid" } };
		X509 *x = make(&s);
		CHECK(has_rule(x, 0, now_s, "nosan.example.net", LINT_APPLE, "apple.san_dns", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_APPLE, "apple.san_dns", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, "nosan.example.net", LINT_GO, "go.cn_ignored", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, "nosan.example.net", LINT_GENERIC, "generic.cn_only", &sev) == 1 &&
		      sev == LINT_WARNING);
		CHECK(has_rule(x, 0, now_s, "other.example.net", LINT_GENERIC, "generic.name_mismatch", NULL) == 1);
		X509_free(x);
	}
	/* names: wildcard only over one label */
	{
		struct spec s = { .cn = "wild", .key = k_leaf, .issuer = ca, .ikey = k_ca,
		                  .ext = { "subjectAltName=DNS:*.example.net,DNS:example.org", "extendedKeyUsage=serverAuth",
		                           "authorityKeyIdentifier=keyid" } };
		X509 *x = make(&s);
		CHECK(has_rule(x, 0, now_s, "a.example.net", LINT_GENERIC, "generic.name_mismatch", NULL) == 0);
		CHECK(has_rule(x, 0, now_s, "A.Example.NET.", LINT_GENERIC, "generic.name_mismatch", NULL) == 0);
		CHECK(has_rule(x, 0, now_s, "example.org", LINT_GENERIC, "generic.name_mismatch", NULL) == 0);
		CHECK(has_rule(x, 0, now_s, "a.b.example.net", LINT_GENERIC, "generic.name_mismatch", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, "example.net", LINT_GENERIC, "generic.name_mismatch", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, "a.example.net", LINT_APPLE, "apple.san_dns", NULL) == 0);
		CHECK(has_rule(x, 0, now_s, "x.example.com", LINT_APPLE, "apple.san_dns", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, "10.0.0.1", LINT_GENERIC, "generic.name_mismatch", NULL) == 0);
		X509_free(x);
	}
	/* EKU: clientAuth only fails everywhere; no EKU fails only Apple (issued after 2019-07-01) */
	{
		struct spec s = { .cn = "noeku.example.net", .key = k_leaf, .issuer = ca, .ikey = k_ca,
		                  .ext = { "subjectAltName=DNS:noeku.example.net", "extendedKeyUsage=clientAuth",
		                           "authorityKeyIdentifier=keyid" } };
		struct spec s2 = { .cn = "none.example.net", .key = k_leaf, .issuer = ca, .ikey = k_ca,
		                   .ext = { "subjectAltName=DNS:none.example.net", "authorityKeyIdentifier=keyid" } };
		struct spec s3 = s2;
		X509 *x = make(&s), *y = make(&s2), *z;
		s3.nb = 1546300800; /* 2019-01-01: before Apple's cut-off */
		s3.na = s3.nb + 900 * 86400LL;
		z = make(&s3);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_GENERIC, "generic.eku_server_auth", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_APPLE, "apple.eku_server_auth", NULL) == 1);
		CHECK(!openssl_accepts(ca, NULL, x, 0, 1, X509_PURPOSE_SSL_SERVER));
		CHECK(has_rule(y, 0, now_s, NULL, LINT_GENERIC, "generic.eku_server_auth", NULL) == 0);
		CHECK(has_rule(y, 0, now_s, NULL, LINT_APPLE, "apple.eku_server_auth", NULL) == 1);
		CHECK(openssl_accepts(ca, NULL, y, 0, 1, X509_PURPOSE_SSL_SERVER));
		/* issued before 2019-07-01: neither the EKU nor the 825-day rule applies */
		CHECK(has_rule(z, 0, s3.nb + 86400, NULL, LINT_APPLE, "apple.eku_server_auth", NULL) == 0);
		CHECK(has_rule(z, 0, s3.nb + 86400, NULL, LINT_APPLE, "apple.validity_825", NULL) == 0);
		X509_free(x);
		X509_free(y);
		X509_free(z);
	}
	/* validity: 900 days fails, 825 passes, 500 days is only the 398-day info */
	{
		struct spec s = { .cn = "v.example.net", .key = k_leaf, .issuer = ca, .ikey = k_ca,
		                  .ext = { "subjectAltName=DNS:v.example.net", "extendedKeyUsage=serverAuth",
		                           "authorityKeyIdentifier=keyid" } };
		X509 *x;
		s.nb = now_s - 86400;
		s.na = s.nb + 900 * 86400LL;
		x = make(&s);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_APPLE, "apple.validity_825", &sev) == 1 && sev == LINT_ERROR);
		X509_free(x);
		s.na = s.nb + 825 * 86400LL;
		x = make(&s);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_APPLE, "apple.validity_825", NULL) == 0);
		X509_free(x);
		s.na = s.nb + 500 * 86400LL;
		x = make(&s);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_APPLE, "apple.validity_398", &sev) == 1 && sev == LINT_INFO);
		CHECK_EQ_INT(errors_of(x, 0, "v.example.net", LINT_ALL), 0);
		/* expired / not yet valid at the given time */
		CHECK(has_rule(x, 0, s.na + 10, NULL, LINT_GENERIC, "generic.expired", NULL) == 1);
		CHECK(has_rule(x, 0, s.nb - 10, NULL, LINT_GENERIC, "generic.not_yet_valid", NULL) == 1);
		CHECK(has_rule(x, 0, now_s, NULL, LINT_GENERIC, "generic.expired", NULL) == 0);
		CHECK(has_rule(x, 0, 0, NULL, LINT_GENERIC, "generic.expired", NULL) == 0);
		X509_free(x);
	}
	/* an issuer that is not a CA */
	CHECK(has_rule(good, 1, now_s, NULL, LINT_GENERIC, "generic.ca_not_ca", NULL) == 1);
	CHECK(has_rule(ca, 1, now_s, NULL, LINT_GENERIC, "generic.ca_not_ca", NULL) == 0);
	X509_free(good);
	X509_free(ca);
}

/* Python 3.13's rules, each checked against OpenSSL's X509_V_FLAG_X509_STRICT. */
static void test_lint_python313(void)
{
	X509 *ca = root_ca("Strict CA", k_ca);
	struct {
		const char *what, *rule;
		struct spec s;
		int as_ca;
	} cases[] = {
		{ "no AKI", "python313.aki_missing",
		  { .cn = "noaki.example.net", .key = k_leaf,
		    .ext = { "subjectAltName=DNS:noaki.example.net", "extendedKeyUsage=serverAuth" } }, 0 },
		{ "AKI critical", "python313.aki_critical",
		  { .cn = "akic.example.net", .key = k_leaf,
		    .ext = { "subjectAltName=DNS:akic.example.net", "extendedKeyUsage=serverAuth",
		             "authorityKeyIdentifier=critical,keyid" } }, 0 },
		{ "keyCertSign on a leaf", "python313.ku_cert_sign_non_ca",
		  { .cn = "kcs.example.net", .key = k_leaf,
		    .ext = { "subjectAltName=DNS:kcs.example.net", "authorityKeyIdentifier=keyid",
		             "keyUsage=digitalSignature,keyCertSign" } }, 0 },
		{ "empty SAN extension", "python313.san_empty",
		  { .cn = "", .key = k_leaf, .ext = { "authorityKeyIdentifier=keyid" } }, 0 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		X509 *x;
		int lint, ok;
		cases[i].s.issuer = ca;
		cases[i].s.ikey = k_ca;
		if (strcmp(cases[i].rule, "python313.san_empty") == 0)
			continue; /* OpenSSL's config parser refuses an empty SAN: not makeable here */
		x = make(&cases[i].s);
		lint = has_rule(x, cases[i].as_ca, now_s, NULL, LINT_PYTHON313, cases[i].rule, NULL);
		ok = openssl_accepts(ca, NULL, x, X509_V_FLAG_X509_STRICT, 1, 0);
		if (lint != 1 || ok)
			fprintf(stderr, "python313 case '%s': lint %d, OpenSSL strict accepts %d\n", cases[i].what, lint, ok);
		CHECK_EQ_INT(lint, 1);
		CHECK(!ok);
		/* and without the strict flag OpenSSL (Python <= 3.12) accepts it
		 * (a critical AKI is refused even then: "unhandled critical extension") */
		if (strcmp(cases[i].rule, "python313.aki_critical") != 0)
			CHECK(openssl_accepts(ca, NULL, x, 0, 1, 0));
		X509_free(x);
	}
	/* intermediates: BC not critical, no KU, no SKI, each rejected by strict */
	{
		const char *exts[][4] = {
			{ "basicConstraints=CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign", "subjectKeyIdentifier=hash",
			  "authorityKeyIdentifier=keyid" },
			{ "basicConstraints=critical,CA:TRUE", "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid", NULL },
			{ "basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign",
			  "authorityKeyIdentifier=keyid", NULL },
		};
		const char *rules[] = { "python313.ca_bc_not_critical", "python313.ca_missing_ku", "python313.ski_missing" };
		for (int i = 0; i < 3; i++) {
			struct spec si = { .cn = "Intermediate", .key = k_int, .issuer = ca, .ikey = k_ca,
			                   .na = now_s + 1000 * 86400LL };
			X509 *in, *lf;
			for (int j = 0; j < 4 && exts[i][j]; j++)
				si.ext[j] = exts[i][j];
			in = make(&si);
			lf = leaf_of(in, k_int, "leaf.example.net");
			CHECK_EQ_INT(has_rule(in, 1, now_s, NULL, LINT_PYTHON313, rules[i], NULL), 1);
			CHECK(!openssl_accepts(ca, in, lf, X509_V_FLAG_X509_STRICT, 1, 0));
			CHECK(openssl_accepts(ca, in, lf, 0, 1, 0));
			X509_free(lf);
			X509_free(in);
		}
	}
	/* a compliant intermediate and leaf pass strict, and the lint agrees */
	{
		struct spec si = { .cn = "Good Intermediate", .key = k_int, .issuer = ca, .ikey = k_ca,
		                   .ext = { "basicConstraints=critical,CA:TRUE,pathlen:0",
		                            "keyUsage=critical,keyCertSign,cRLSign", "subjectKeyIdentifier=hash",
		                            "authorityKeyIdentifier=keyid" } };
		X509 *in = make(&si), *lf = leaf_of(in, k_int, "leaf.example.net");
		CHECK(openssl_accepts(ca, in, lf, X509_V_FLAG_X509_STRICT, 2, X509_PURPOSE_SSL_SERVER));
		CHECK_EQ_INT(errors_of(in, 1, NULL, LINT_ALL), 0);
		CHECK_EQ_INT(errors_of(lf, 0, "leaf.example.net", LINT_ALL), 0);
		X509_free(lf);
		X509_free(in);
	}
	/* the self-signed root needs no AKI */
	CHECK_EQ_INT(has_rule(ca, 1, now_s, NULL, LINT_PYTHON313, "python313.aki_missing", NULL), 0);
	X509_free(ca);
}

static void test_lint_chain(void)
{
	X509 *root = root_ca("Chain Root", k_ca);
	struct spec si = { .cn = "Chain Intermediate", .key = k_int, .issuer = root, .ikey = k_ca,
	                   .ext = { "basicConstraints=critical,CA:TRUE", "keyUsage=critical,keyCertSign,cRLSign",
	                            "subjectKeyIdentifier=hash", "authorityKeyIdentifier=keyid" } };
	X509 *in = make(&si), *lf = leaf_of(in, k_int, "c.example.net");
	struct cert_info ci[3];
	struct lint_finding f[64];
	struct inspect_cas cas = { 0 };
	char path[] = "/tmp/pinspect-test-ca-XXXXXX", err[256];
	int fd = mkstemp(path), n, found;
	FILE *fp = fd >= 0 ? fdopen(fd, "w") : NULL;
	CHECK(fp != NULL);
	if (!fp)
		return;
	PEM_write_X509(fp, root);
	fclose(fp);
	CHECK_EQ_INT(inspect_cas_load(&cas, path, err, sizeof(err)), 1);
	unlink(path);

	info(lf, &ci[0]);
	info(in, &ci[1]);
	info(root, &ci[2]);
	/* leaf + intermediate: complete */
	n = cert_lint_chain(ci, 2, now_s, "c.example.net", LINT_ALL, &cas, f, 64);
	found = 0;
	for (int i = 0; i < n && i < 64; i++)
		found |= f[i].severity == LINT_ERROR;
	CHECK_EQ_INT(found, 0);
	/* leaf alone: the intermediate is missing */
	n = cert_lint_chain(ci, 1, now_s, "c.example.net", LINT_ALL, &cas, f, 64);
	found = 0;
	for (int i = 0; i < n && i < 64; i++)
		if (strcmp(f[i].rule, "generic.missing_intermediate") == 0)
			found = 1;
	CHECK_EQ_INT(found, 1);
	/* out of order: root before the intermediate */
	{
		struct cert_info bad[3] = { ci[0], ci[2], ci[1] };
		n = cert_lint_chain(bad, 3, now_s, "c.example.net", LINT_MASK(LINT_GENERIC), &cas, f, 64);
		found = 0;
		for (int i = 0; i < n && i < 64; i++)
			if (strcmp(f[i].rule, "generic.chain_order") == 0)
				found = 1;
		CHECK_EQ_INT(found, 1);
	}
	/* the count is returned even when out has no room */
	CHECK(cert_lint_chain(ci, 1, now_s, "x.example.org", LINT_ALL, &cas, NULL, 0) > 0);
	/* worst: errors first, the specific platform's rule unless all apply */
	{
		struct lint_finding w[3] = { 0 };
		w[0].rule = "generic.sha1"; w[0].platform = LINT_GENERIC; w[0].severity = LINT_ERROR;
		w[1].rule = "apple.sha2"; w[1].platform = LINT_APPLE; w[1].severity = LINT_ERROR;
		w[2].rule = "generic.cn_only"; w[2].platform = LINT_GENERIC; w[2].severity = LINT_WARNING;
		CHECK_EQ_STR(lint_worst(w, 3, LINT_MASK(LINT_APPLE) | LINT_MASK(LINT_GENERIC), LINT_ERROR)->rule,
		             "apple.sha2");
		CHECK_EQ_STR(lint_worst(w, 3, LINT_ALL, LINT_ERROR)->rule, "generic.sha1");
		CHECK(lint_worst(w + 2, 1, LINT_ALL, LINT_ERROR) == NULL);
		CHECK(lint_worst(w, 3, LINT_MASK(LINT_GO), LINT_INFO) == NULL);
	}
	inspect_cas_free(&cas);
	X509_free(lf);
	X509_free(in);
	X509_free(root);
}

static void test_platform_parse(void)
{
	unsigned m = 0;
	CHECK_EQ_INT(lint_platform_parse("all", &m), 0);
	CHECK_EQ_INT(m, LINT_ALL);
	CHECK_EQ_INT(lint_platform_parse("apple,python313", &m), 0);
	CHECK_EQ_INT(m, LINT_MASK(LINT_APPLE) | LINT_MASK(LINT_PYTHON313));
	CHECK_EQ_INT(lint_platform_parse("generic", &m), 0);
	CHECK_EQ_INT(m, LINT_MASK(LINT_GENERIC));
	CHECK_EQ_INT(lint_platform_parse("windows", &m), -1);
	CHECK_EQ_INT(lint_platform_parse("", &m), -1);
	CHECK_EQ_STR(lint_platform_name(LINT_PYTHON313), "python313");
	CHECK_EQ_STR(lint_severity_name(LINT_ERROR), "error");
}

/* ---- reading files ------------------------------------------------------ */

static void write_file(const char *path, const void *data, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (f) {
		fwrite(data, 1, n, f);
		fclose(f);
	}
}

static void test_read_certs(void)
{
	X509 *a = root_ca("File A", k_ca), *b = leaf_of(a, k_ca, "b.example.net"), *got[8];
	char dir[] = "/tmp/pinspect-test-XXXXXX", p[512], err[512];
	unsigned char *der = NULL;
	int dl, n;
	FILE *f;
	if (!mkdtemp(dir)) {
		CHECK(0);
		return;
	}
	/* PEM: a key block between two certificates is skipped */
	snprintf(p, sizeof(p), "%s/chain.pem", dir);
	f = fopen(p, "w");
	PEM_write_X509(f, b);
	PEM_write_PrivateKey(f, k_other, NULL, NULL, 0, NULL, NULL);
	PEM_write_X509(f, a);
	fclose(f);
	n = certdiag_read_certs(p, got, 8, err, sizeof(err));
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++) {
		CHECK(X509_cmp(got[i], i ? a : b) == 0);
		X509_free(got[i]);
	}
	unlink(p);
	/* DER, two concatenated */
	snprintf(p, sizeof(p), "%s/two.der", dir);
	f = fopen(p, "wb");
	dl = i2d_X509(a, &der);
	fwrite(der, 1, (size_t)dl, f);
	fwrite(der, 1, (size_t)dl, f);
	fclose(f);
	OPENSSL_free(der);
	n = certdiag_read_certs(p, got, 8, err, sizeof(err));
	CHECK_EQ_INT(n, 2);
	for (int i = 0; i < n; i++)
		X509_free(got[i]);
	unlink(p);
	/* not certificates */
	snprintf(p, sizeof(p), "%s/junk", dir);
	write_file(p, "hello, not a certificate\n", 25);
	CHECK_EQ_INT(certdiag_read_certs(p, got, 8, err, sizeof(err)), -1);
	CHECK(strstr(err, "not a certificate") != NULL);
	write_file(p, "", 0);
	CHECK_EQ_INT(certdiag_read_certs(p, got, 8, err, sizeof(err)), -1);
	write_file(p, "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", 58);
	CHECK_EQ_INT(certdiag_read_certs(p, got, 8, err, sizeof(err)), -1);
	unlink(p);
	CHECK_EQ_INT(certdiag_read_certs("/nonexistent/x.pem", got, 8, err, sizeof(err)), -1);
	rmdir(dir);
	X509_free(a);
	X509_free(b);
}

/* ---- interception recognition ---------------------------------------- */

static void test_interception(void)
{
	X509 *ca = root_ca("Example Corp Inspection CA", k_ca);
	X509 *other = root_ca("Some Public CA", k_other);
	X509 *by_ca = leaf_of(ca, k_ca, "a.example.com");
	X509 *by_other = leaf_of(other, k_other, "a.example.com");
	struct spec s = { .cn = "noaki.example.com", .key = k_leaf, .issuer = ca, .ikey = k_ca,
	                  .ext = { "subjectAltName=DNS:noaki.example.com" } };
	X509 *noaki = make(&s);
	struct inspect_cas cas = { 0 };
	struct cert_info ci;
	char path[] = "/tmp/pinspect-test-ica-XXXXXX", kbp[] = "/tmp/pinspect-test-kb-XXXXXX", err[256], label[256];
	int fd = mkstemp(path);
	FILE *f = fdopen(fd, "w");
	struct kb *kb;
	struct issuer_stats *st;
	PEM_write_X509(f, ca);
	fclose(f);
	CHECK_EQ_INT(inspect_cas_load(&cas, path, err, sizeof(err)), 1);
	unlink(path);

	info(by_ca, &ci);
	CHECK_EQ_INT(certdiag_is_interception(&cas, NULL, NULL, by_ca, &ci, label, sizeof(label)), ICPT_CA_KEYID);
	CHECK(strstr(label, "Example Corp Inspection CA") != NULL);
	info(noaki, &ci);
	CHECK_EQ_INT(certdiag_is_interception(&cas, NULL, NULL, noaki, &ci, label, sizeof(label)), ICPT_CA_SIGNATURE);
	info(by_other, &ci);
	CHECK_EQ_INT(certdiag_is_interception(&cas, NULL, NULL, by_other, &ci, label, sizeof(label)), ICPT_NONE);
	/* the CA itself, sent in the chain: its self-signature verifies with its key */
	info(ca, &ci);
	CHECK(certdiag_is_interception(&cas, NULL, NULL, ca, &ci, label, sizeof(label)) == ICPT_CA_SIGNATURE);
	CHECK_EQ_STR(icpt_how_name(ICPT_HEURISTIC), "heuristic");

	/* a leaf whose AKI names the CA but whose signature does not verify */
	{
		struct spec fake = { .cn = "fake.example.com", .key = k_leaf, .issuer = ca, .ikey = k_other,
		                     .ext = { "subjectAltName=DNS:fake.example.com" } };
		X509 *x = make(&fake);
		info(x, &ci);
		CHECK_EQ_INT(certdiag_is_interception(&cas, NULL, NULL, x, &ci, NULL, 0), ICPT_NONE);
		X509_free(x);
	}

	/* the knowledge base's inspection issuers */
	fd = mkstemp(kbp);
	f = fdopen(fd, "w");
	fputs("[inspection-issuer Example Corp]\nmatch = Example Corp\n", f);
	fclose(f);
	kb = kb_load(kbp, err, sizeof(err));
	unlink(kbp);
	CHECK(kb != NULL);
	info(by_ca, &ci);
	CHECK_EQ_INT(certdiag_is_interception(NULL, kb, NULL, by_ca, &ci, label, sizeof(label)), ICPT_KB_ISSUER);
	info(by_other, &ci);
	CHECK_EQ_INT(certdiag_is_interception(NULL, kb, NULL, by_other, &ci, label, sizeof(label)), ICPT_NONE);

	/* the heuristic: one issuer for many unrelated registrable domains */
	st = issuer_stats_new();
	{
		const char *names[] = { "a.example.com", "www.example.com", "b.example.org", "cdn.example.net",
		                        "x.foo.co.uk", "y.bar.co.uk" };
		struct cert_info lc;
		info(by_ca, &lc);
		for (size_t i = 0; i < 3; i++)
			issuer_stats_add(st, &lc, names[i]);
		/* example.com twice: 2 registrable domains so far */
		CHECK_EQ_INT(issuer_stats_domains(st, issuer_key(&lc)), 2);
		CHECK_EQ_INT(issuer_stats_forging(st, issuer_key(&lc), NULL, 0), 0);
		for (size_t i = 3; i < 6; i++)
			issuer_stats_add(st, &lc, names[i]);
		/* foo.co.uk and bar.co.uk are distinct (co.uk is a public suffix) */
		CHECK_EQ_INT(issuer_stats_domains(st, issuer_key(&lc)), 5);
		CHECK_EQ_INT(issuer_stats_forging(st, issuer_key(&lc), label, sizeof(label)), 1);
		CHECK(strstr(label, "5 unrelated") != NULL);
		CHECK_EQ_INT(certdiag_is_interception(NULL, NULL, st, by_ca, &lc, label, sizeof(label)), ICPT_HEURISTIC);
	}
	issuer_stats_free(st);
	/* a public CA among many issuers is not forging: 4 of 20 domains, distinct keys */
	st = issuer_stats_new();
	{
		struct cert_info pub, oth;
		char name[64];
		info(by_other, &pub);
		info(by_ca, &oth);
		for (int i = 0; i < 4; i++) {
			snprintf(name, sizeof(name), "www.site%d.com", i);
			snprintf(pub.spki_sha256, sizeof(pub.spki_sha256), "key%d", i);
			issuer_stats_add(st, &pub, name);
		}
		for (int i = 0; i < 16; i++) {
			snprintf(name, sizeof(name), "www.other%d.org", i);
			snprintf(oth.issuer, sizeof(oth.issuer), "CN=Other CA %d", i);
			issuer_stats_add(st, &oth, name);
		}
		CHECK_EQ_INT(issuer_stats_total_domains(st), 20);
		CHECK_EQ_INT(issuer_stats_forging(st, issuer_key(&pub), NULL, 0), 0);
		/* ... unless it reuses one leaf key for them (a forging proxy) */
		snprintf(pub.issuer, sizeof(pub.issuer), "CN=Reusing Proxy");
		for (int i = 0; i < 3; i++) {
			snprintf(name, sizeof(name), "www.reuse%d.net", i);
			issuer_stats_add(st, &pub, name);
		}
		CHECK_EQ_INT(issuer_stats_forging(st, issuer_key(&pub), label, sizeof(label)), 1);
		CHECK(strstr(label, "one leaf key") != NULL);
	}
	issuer_stats_free(st);
	kb_free(kb);
	inspect_cas_free(&cas);
	X509_free(noaki);
	X509_free(by_ca);
	X509_free(by_other);
	X509_free(other);
	X509_free(ca);
}

/* ---- data files ---------------------------------------------------------- */

static void test_kb_tools(void)
{
	char err[512], path[1024];
	struct kb *kb;
	const char *pat = NULL;
	const struct kb_entry *e;
	struct {
		const char *name, *tool, *needle;
	} cases[] = {
		{ "pypi.org", "pip", "--use-feature=truststore" },
		{ "files.pythonhosted.org", "pip", "--cert" },
		{ "registry.npmjs.org", "npm", "NODE_EXTRA_CA_CERTS" },
		{ "github.com", "git", "http.sslCAInfo" },
		{ "codeload.github.com", "git", "sslCAInfo" },
		{ "sts.amazonaws.com", "AWS CLI", "AWS_CA_BUNDLE" },
		{ "ec2.us-west-2.amazonaws.com", "AWS CLI", "--ca-bundle" },
		{ "deb.debian.org", "apt", "update-ca-certificates" },
		{ "us-west-1.ec2.archive.ubuntu.com", "apt", "update-ca-certificates" },
		{ "mirrors.fedoraproject.org", "yum", "update-ca-trust extract" },
		{ "registry-1.docker.io", "Docker", "update-ca-certificates" },
		{ "repo.maven.apache.org", "Java", "keytool -importcert" },
		{ "proxy.golang.org", "Go", "SSL_CERT_FILE" },
	};
	snprintf(path, sizeof(path), "%s/data/kb.conf", PI_SRCDIR);
	kb = kb_load(path, err, sizeof(err));
	CHECK(kb != NULL);
	if (!kb) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		e = kb_match_domain(kb, KB_TOOL, cases[i].name, &pat);
		CHECK(e != NULL);
		if (!e)
			continue;
		CHECK_EQ_STR(e->name, cases[i].tool);
		CHECK(e->fix && strstr(e->fix, cases[i].needle));
		CHECK(e->source && *e->source);
	}
	CHECK(kb_match_domain(kb, KB_TOOL, "www.example.com", NULL) == NULL);
	CHECK(kb_match_domain(kb, KB_TOOL, "notgithub.com", NULL) == NULL);
	/* every tool has a fix; the fix-only tools step 4 names exist */
	for (size_t i = 0; i < kb->n; i++)
		if (kb->v[i].kind == KB_TOOL)
			CHECK(kb->v[i].fix && *kb->v[i].fix);
	{
		const char *need[] = { "ca-bundle", "curl", "Python (ssl, urllib)", "Python requests", "Node.js",
		                       "Xcode simulator" };
		for (size_t j = 0; j < sizeof(need) / sizeof(need[0]); j++) {
			int found = 0;
			for (size_t i = 0; i < kb->n; i++)
				if (kb->v[i].kind == KB_TOOL && strcmp(kb->v[i].name, need[j]) == 0)
					found = 1;
			CHECK(found);
		}
	}
	/* an existing app section is untouched and matched as before */
	CHECK(kb_match_domain(kb, KB_APP, "chat.signal.org", NULL) != NULL);
	kb_free(kb);
}

static void test_ja3_db(void)
{
	char err[512], path[1024], tmp[] = "/tmp/pinspect-test-ja3-XXXXXX";
	struct ja3_db *db;
	unsigned m = 0;
	int general = -1;
	const char *lib;
	int fd;
	FILE *f;
	snprintf(path, sizeof(path), "%s/data/ja3.conf", PI_SRCDIR);
	db = ja3_db_load(path, err, sizeof(err));
	CHECK(db != NULL);
	if (!db) {
		fprintf(stderr, "%s\n", err);
		return;
	}
	lib = certdiag_library_guess(db, "0149f47eabf9a20d0893e2a44e5a6323", &m, &general);
	CHECK(lib && strstr(lib, "curl"));
	CHECK_EQ_INT(general, 1);
	CHECK_EQ_INT(m, LINT_MASK(LINT_GENERIC));
	lib = certdiag_library_guess(db, "331A436AFB23D4E31134C11B301BDCB5", &m, &general);
	CHECK(lib && strstr(lib, "Python"));
	CHECK(m & LINT_MASK(LINT_PYTHON313));
	lib = certdiag_library_guess(db, "3fed133de60c35724739b913924b6c24", &m, NULL);
	CHECK(lib && strstr(lib, "Go"));
	CHECK(m & LINT_MASK(LINT_GO));
	CHECK(certdiag_library_guess(db, "00000000000000000000000000000000", &m, &general) == NULL);
	CHECK_EQ_INT(m, LINT_ALL);
	CHECK_EQ_INT(general, 0);
	CHECK(certdiag_library_guess(db, "", NULL, NULL) == NULL);
	CHECK(certdiag_library_guess(NULL, "0149f47eabf9a20d0893e2a44e5a6323", NULL, NULL) == NULL);
	ja3_db_free(db);

	/* malformed files: a clear line number */
	fd = mkstemp(tmp);
	f = fdopen(fd, "w");
	fputs("[library X]\nja3 = nothex\n", f);
	fclose(f);
	CHECK(ja3_db_load(tmp, err, sizeof(err)) == NULL);
	CHECK(strstr(err, ":2:") != NULL);
	f = fopen(tmp, "w");
	fputs("ja3 = 0149f47eabf9a20d0893e2a44e5a6323\n", f);
	fclose(f);
	CHECK(ja3_db_load(tmp, err, sizeof(err)) == NULL);
	f = fopen(tmp, "w");
	fputs("[library X]\nplatform = windows\n", f);
	fclose(f);
	CHECK(ja3_db_load(tmp, err, sizeof(err)) == NULL);
	unlink(tmp);
}

/* ---- the decision ---------------------------------------------------------- */

static void test_decide_order(void)
{
	struct kb_entry tool = { .kind = KB_TOOL, .name = "pip", .fix = "python -m pip --use-feature=truststore" };
	struct kb_entry app = { .kind = KB_APP, .name = "Signal" };
	struct kb_entry bundle = { .kind = KB_TOOL, .name = "ca-bundle", .fix = "cat cacert.pem root.crt > ca-bundle.pem" };
	struct lint_finding err = { .rule = "apple.sha2", .platform = LINT_APPLE, .severity = LINT_ERROR,
	                            .field = "signatureAlgorithm", .value = "sha1WithRSAEncryption",
	                            .message = "SHA-2", .source = "support.apple.com/103769", .remedy = "sign with SHA-256" };
	struct lint_finding warn = err;
	struct diag_input in = { .name = "x.example.com", .failures = 3 };
	char why[1024], fix[1024];
	warn.severity = LINT_WARNING;
	warn.rule = "generic.cn_only";

	/* all evidence at once: step 1 wins */
	in.lint = &err;
	in.platforms = LINT_MASK(LINT_APPLE) | LINT_MASK(LINT_GENERIC);
	in.interception = ICPT_CA_KEYID;
	in.tool = &tool;
	in.app = &app;
	in.accepts_other = ACCEPT_PROVEN;
	in.bundle = &bundle;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_CERTIFICATE);
	CHECK(strstr(why, "step 1") && strstr(why, "apple.sha2") && strstr(why, "signatureAlgorithm") &&
	      strstr(why, "sha1WithRSAEncryption") && strstr(why, "support.apple.com/103769"));
	CHECK(strstr(fix, "sign with SHA-256") && strstr(fix, "lint-cert"));
	/* a warning is not step 1 */
	in.lint = &warn;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_TRUST_STORE);
	CHECK(strstr(why, "step 2") && strstr(why, "pip"));
	CHECK(strstr(fix, "--use-feature=truststore") && strstr(fix, "ca-bundle.pem"));
	/* no lint: the tool still wins over the app */
	in.lint = NULL;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_TRUST_STORE);
	/* no tool: the known app */
	in.tool = NULL;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_BYPASS);
	CHECK(strstr(why, "step 3") && strstr(why, "Signal"));
	CHECK(strstr(fix, "exempt x.example.com"));
	/* no app: the client accepts the CA elsewhere */
	in.app = NULL;
	in.accepted_names = 2;
	in.accepted_example = "www.example.org";
	in.ja3 = "0149f47eabf9a20d0893e2a44e5a6323";
	in.library = "curl";
	in.library_general = 1;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_BYPASS);
	CHECK(strstr(why, "step 4") && strstr(why, "www.example.org") && strstr(why, "pins"));
	/* ... not proven: a general-purpose library carries its own bundle */
	in.accepts_other = ACCEPT_HINT;
	in.library_tool = &tool;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_TRUST_STORE);
	CHECK(strstr(why, "step 4") && strstr(why, "hint"));
	CHECK(strstr(fix, "likely pip") && strstr(fix, "exempt x.example.com"));
	/* an unknown stack with only a hint: the score decides */
	in.library = NULL;
	in.library_general = 0;
	in.library_tool = NULL;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CERTDIAG_UNDECIDED);
	CHECK(strstr(why, "step 4") && strstr(why, "hint"));
	CHECK_EQ_STR(fix, "");
	in.accepts_other = ACCEPT_NONE;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CERTDIAG_UNDECIDED);
	/* a lint error on a certificate not recognised as interception still says certificate */
	in.lint = &err;
	in.interception = ICPT_NONE;
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_CERTIFICATE);
	CHECK(strstr(why, "--inspection-ca") != NULL);
	/* small buffers never overflow */
	{
		char w[8], x[4];
		in.lint = &err;
		CHECK_EQ_INT(certdiag_decide(&in, w, sizeof(w), x, sizeof(x)), CAT_CERTIFICATE);
		CHECK(strlen(w) < sizeof(w) && strlen(x) < sizeof(x));
	}
}

/* ---- the engine state, end to end --------------------------------------- */

static void observe(struct certdiag *cd, const char *name, const char *client, const char *ja3, int rejected,
                    X509 *leaf)
{
	unsigned char *der = NULL;
	int dl = leaf ? i2d_X509(leaf, &der) : 0;
	const uint8_t *ders[1] = { der };
	size_t lens[1] = { dl > 0 ? (size_t)dl : 0 };
	struct certdiag_conn c = { .name = name, .sni = name, .client = client, .ja3 = ja3, .rejected = rejected,
	                           .healthy = !rejected, .ts = now_s, .der = leaf ? ders : NULL,
	                           .der_len = leaf ? lens : NULL, .nder = leaf ? 1 : 0 };
	certdiag_observe(cd, &c);
	OPENSSL_free(der);
}

static void test_engine(void)
{
	char err[512], path[1024], why[1024], fix[1024];
	struct kb *kb;
	struct ja3_db *db;
	struct certdiag *cd;
	struct diag_input in;
	X509 *ca = root_ca("Example Corp Inspection CA", k_ca);
	X509 *ok1 = leaf_of(ca, k_ca, "www.example.com"), *ok2 = leaf_of(ca, k_ca, "news.example.org");
	X509 *pin = leaf_of(ca, k_ca, "api.pinned.example"), *pypi = leaf_of(ca, k_ca, "pypi.org");
	struct spec s = { .cn = "weak.example.net", .key = k_leaf, .issuer = ca, .ikey = k_ca, .md = EVP_sha1(),
	                  .ext = { "subjectAltName=DNS:weak.example.net", "extendedKeyUsage=serverAuth",
	                           "authorityKeyIdentifier=keyid" } };
	X509 *weak = make(&s);
	const char *curl = "0149f47eabf9a20d0893e2a44e5a6323", *unknown = "11111111111111111111111111111111";
	const char *python = "331a436afb23d4e31134c11b301bdcb5";

	snprintf(path, sizeof(path), "%s/data/kb.conf", PI_SRCDIR);
	kb = kb_load(path, err, sizeof(err));
	snprintf(path, sizeof(path), "%s/data/ja3.conf", PI_SRCDIR);
	db = ja3_db_load(path, err, sizeof(err));
	CHECK(kb && db);
	cd = certdiag_new(NULL, kb, db);
	CHECK(cd != NULL);
	if (!cd || !kb || !db)
		return;

	/* curl accepts the CA for two names and rejects it for a third: pinning */
	observe(cd, "www.example.com", "10.0.0.5", curl, 0, ok1);
	observe(cd, "news.example.org", "10.0.0.5", curl, 0, ok2);
	observe(cd, "api.pinned.example", "10.0.0.5", curl, 1, pin);
	observe(cd, "api.pinned.example", "10.0.0.5", curl, 1, pin);
	/* pip rejects pypi.org */
	observe(cd, "pypi.org", "10.0.0.5", python, 1, pypi);
	/* an unknown stack rejects a SHA-1 leaf, and accepts a good one */
	observe(cd, "www.example.com", "10.0.0.6", unknown, 0, ok1);
	observe(cd, "weak.example.net", "10.0.0.6", unknown, 1, weak);
	/* TLS 1.3 (no certificate): another client completes one name, fails another */
	observe(cd, "www.example.com", "10.0.0.7", unknown, 0, NULL);
	observe(cd, "tls13.example.com", "10.0.0.7", unknown, 1, NULL);
	/* a different stack on the same address is not "the same client" */
	{
		X509 *o = leaf_of(ca, k_ca, "other.example.com");
		observe(cd, "other.example.com", "10.0.0.5", python, 1, o);
		X509_free(o);
	}

	/* a Python client takes an AKI-less leaf for one name and rejects another
	 * AKI-less leaf: the missing AKI is not its reason (it is no 3.13) */
	{
		struct spec na = { .cn = "a.tol.example", .key = k_leaf, .issuer = ca, .ikey = k_ca,
		                   .ext = { "subjectAltName=DNS:a.tol.example", "extendedKeyUsage=serverAuth" } };
		struct spec nb = na;
		X509 *xa, *xb;
		nb.cn = "b.tol.example";
		nb.ext[0] = "subjectAltName=DNS:b.tol.example";
		xa = make(&na);
		xb = make(&nb);
		observe(cd, "a.tol.example", "10.0.0.9", python, 0, xa);
		observe(cd, "b.tol.example", "10.0.0.9", python, 1, xb);
		CHECK_EQ_INT(certdiag_input(cd, "b.tol.example", 1, 0, NULL, &in), 1);
		CHECK(in.lint == NULL);
		CHECK(in.tolerated_rule && strcmp(in.tolerated_rule, "python313.aki_missing") == 0);
		CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_BYPASS);
		CHECK(strstr(why, "python313.aki_missing") && strstr(why, "not the cause"));
		/* another Python client that never took such a leaf: certificate */
		observe(cd, "b.tol.example", "10.0.0.10", python, 1, xb);
		observe(cd, "c.tol.example", "10.0.0.10", python, 1, xb);
		CHECK_EQ_INT(certdiag_input(cd, "c.tol.example", 1, 0, NULL, &in), 1);
		CHECK(in.lint && strcmp(in.lint->rule, "python313.aki_missing") == 0);
		CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_CERTIFICATE);
		X509_free(xa);
		X509_free(xb);
	}

	CHECK_EQ_INT(certdiag_input(cd, "api.pinned.example", 2, 0, NULL, &in), 1);
	CHECK_EQ_INT(in.accepts_other, ACCEPT_PROVEN);
	CHECK_EQ_INT(in.accepted_names, 2);
	CHECK(in.library && strstr(in.library, "curl"));
	CHECK(in.lint == NULL);
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_BYPASS);
	CHECK(strstr(why, "step 4"));

	CHECK_EQ_INT(certdiag_input(cd, "pypi.org", 1, 0, NULL, &in), 1);
	CHECK(in.tool && strcmp(in.tool->name, "pip") == 0);
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_TRUST_STORE);
	CHECK(strstr(fix, "--use-feature=truststore"));

	CHECK_EQ_INT(certdiag_input(cd, "weak.example.net", 1, 0, NULL, &in), 1);
	CHECK_EQ_INT(in.platforms, LINT_ALL);
	CHECK(in.lint && in.lint->severity == LINT_ERROR);
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_CERTIFICATE);
	CHECK(strstr(why, "generic.sha1") != NULL);

	CHECK_EQ_INT(certdiag_input(cd, "tls13.example.com", 1, 0, NULL, &in), 1);
	CHECK_EQ_INT(in.accepts_other, ACCEPT_HINT);
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CERTDIAG_UNDECIDED);

	/* python on 10.0.0.5 never succeeded: no acceptance, a general library: trust-store */
	CHECK_EQ_INT(certdiag_input(cd, "other.example.com", 1, 0, NULL, &in), 1);
	CHECK_EQ_INT(in.accepts_other, ACCEPT_NONE);
	CHECK_EQ_INT(certdiag_decide(&in, why, sizeof(why), fix, sizeof(fix)), CAT_TRUST_STORE);
	CHECK(in.library_tool && strstr(fix, "SSL_CERT_FILE"));

	/* a name never seen failing: only the knowledge base */
	CHECK_EQ_INT(certdiag_input(cd, "registry.npmjs.org", 0, 0, NULL, &in), 0);
	CHECK(in.tool && strcmp(in.tool->name, "npm") == 0);
	/* nDPI application matched against the apps */
	CHECK_EQ_INT(certdiag_input(cd, "x.unknown.example", 0, 0, "TLS.Signal", &in), 0);
	CHECK(in.app != NULL);

	CHECK(certdiag_stats(cd)->conns == 14);
	CHECK(certdiag_stats(cd)->chains == 12);
	certdiag_free(cd);
	kb_free(kb);
	ja3_db_free(db);
	X509_free(weak);
	X509_free(pypi);
	X509_free(pin);
	X509_free(ok2);
	X509_free(ok1);
	X509_free(ca);
}

/* The lint of a cached chain is remembered per (chain, SNI, time key): the
 * same chain and SNI seen valid, then expired on one day, then on another,
 * must give each name the findings of its own time. */
static void lint_at(struct certdiag *cd, const char *name, int64_t ts, const uint8_t *der, size_t dl,
                    char *value, size_t vl)
{
	const uint8_t *ders[1] = { der };
	size_t lens[1] = { dl };
	struct certdiag_conn c = { .name = name, .sni = "memo.example.com", .client = "10.2.2.2", .ja3 = "",
	                           .rejected = 1, .ts = ts, .der = ders, .der_len = lens, .nder = 1 };
	struct diag_input in;
	certdiag_observe(cd, &c);
	value[0] = '\0';
	if (certdiag_input(cd, name, 1, 0, NULL, &in) && in.lint)
		pi_strlcpy(value, in.lint->value, vl);
}

static void test_lint_memo(void)
{
	X509 *ca = root_ca("Memo CA", k_ca);
	struct spec s = { .cn = "memo.example.com", .key = k_leaf, .issuer = ca, .ikey = k_ca,
	                  .nb = now_s - 10 * 86400, .na = now_s,
	                  .ext = { "subjectAltName=DNS:memo.example.com", "extendedKeyUsage=serverAuth",
	                           "basicConstraints=CA:FALSE" } };
	X509 *lf = make(&s);
	unsigned char *der = NULL;
	int dl = lf ? i2d_X509(lf, &der) : 0;
	struct certdiag *cd = certdiag_new(NULL, NULL, NULL);
	char v0[160], v1[160], v2[160], v3[160];
	CHECK(dl > 0 && cd != NULL);
	if (dl <= 0 || !cd)
		goto out;
	lint_at(cd, "n0.example", now_s - 3600, der, (size_t)dl, v0, sizeof v0);          /* valid */
	lint_at(cd, "n1.example", now_s + 2 * 86400, der, (size_t)dl, v1, sizeof v1);     /* expired */
	lint_at(cd, "n2.example", now_s + 2 * 86400 + 60, der, (size_t)dl, v2, sizeof v2); /* same day */
	lint_at(cd, "n3.example", now_s + 40 * 86400, der, (size_t)dl, v3, sizeof v3);    /* a later day */
	CHECK(strstr(v0, "checked at") == NULL);
	CHECK(strstr(v1, "checked at") != NULL);
	CHECK_EQ_STR(v2, v1);
	CHECK(strstr(v3, "checked at") != NULL && strcmp(v3, v1) != 0);
	if (strcmp(v3, v1) == 0 || !strstr(v1, "checked at"))
		fprintf(stderr, "  lint memo: v0 \"%s\" v1 \"%s\" v3 \"%s\"\n", v0, v1, v3);
out:
	certdiag_free(cd);
	OPENSSL_free(der);
	X509_free(lf);
	X509_free(ca);
}

/* ---- the memos of certdiag_observe against the general paths ------------ */

static void observe_der(struct certdiag *cd, const char *name, const char *sni, int rejected, const uint8_t *der,
                        size_t dl)
{
	const uint8_t *ders[1] = { der };
	size_t lens[1] = { dl };
	struct certdiag_conn c = { .name = name, .sni = sni, .client = "10.3.3.3", .ja3 = "", .rejected = rejected,
	                           .healthy = !rejected, .ts = now_s, .der = der ? ders : NULL,
	                           .der_len = der ? lens : NULL, .nder = der ? 1 : 0 };
	certdiag_observe(cd, &c);
}

/* The issuer statistics fed by certdiag_observe (per-chain issuer key and
 * leaf key hash, the domain memo without case, the issuer's index) give the
 * heuristic's answer issuer_stats_add gives, step by step, on names that
 * take every path: SNI or not, case variants, addresses, long names. */
static void test_observe_issuer_stats(void)
{
	X509 *ca = root_ca("Memo Forging CA", k_ca);
	struct certdiag *cd = certdiag_new(NULL, NULL, NULL);
	struct issuer_stats *ref = issuer_stats_new();
	char longname[200];
	struct {
		const char *name, *sni;
	} seq[] = {
		{ "first.example.com", "first.example.com" }, { "www.example.com", "" },
		{ "WWW.Example.COM", "WWW.Example.COM" },     { "www.example.com", "WWW.EXAMPLE.com" },
		{ "10.1.2.3", "" },                           { "x.example.org", "10.1.2.4" },
		{ "a.foo.co.uk", "a.foo.co.uk" },             { longname, longname },
		{ "dns-name.example.net", "B.Bar.CO.UK" },    { "b.bar.co.uk", "b.bar.co.uk" },
		{ "first.example.com", "first.example.com" }, { "c.example.info", "C.EXAMPLE.INFO" },
		{ "x.example.org", "" },                      { "d.example.biz", "d.example.biz" },
	};
	uint64_t ikey = 0;
	memset(longname, 'a', 120);
	memcpy(longname + 120, ".long.example.edu", 18);
	CHECK(ca && cd && ref);
	if (!ca || !cd || !ref)
		goto out;
	for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
		/* one leaf per name, like a forging proxy (one key for all) */
		X509 *lf = leaf_of(ca, k_ca, *seq[i].sni ? seq[i].sni : seq[i].name);
		unsigned char *der = NULL;
		int dl = lf ? i2d_X509(lf, &der) : 0;
		struct cert_info lc;
		struct diag_input in;
		char want[256] = "";
		int forging;
		CHECK(dl > 0 && info(lf, &lc) == 0);
		if (dl <= 0)
			break;
		ikey = issuer_key(&lc);
		/* observed twice: the second time through every memo */
		for (int twice = 0; twice < 2; twice++) {
			observe_der(cd, seq[i].name, seq[i].sni, i == 0, der, (size_t)dl);
			issuer_stats_add(ref, &lc, *seq[i].sni ? seq[i].sni : seq[i].name);
		}
		forging = issuer_stats_forging(ref, ikey, want, sizeof(want));
		CHECK_EQ_INT(certdiag_input(cd, "first.example.com", 1, 0, NULL, &in), 1);
		CHECK_EQ_INT(in.interception == ICPT_HEURISTIC, forging);
		if (forging && in.interception_label)
			CHECK_EQ_STR(in.interception_label, want);
		OPENSSL_free(der);
		X509_free(lf);
	}
	/* the sequence reaches the heuristic */
	CHECK_EQ_INT(issuer_stats_forging(ref, ikey, NULL, 0), 1);
out:
	issuer_stats_free(ref);
	certdiag_free(cd);
	X509_free(ca);
}

/* Chains told apart only by bytes the cache's slot hash does not read (the
 * same length and the same last 16 bytes: the SAN rewritten, the signature
 * kept) are still two chains; case variants of one SNI get the lint of
 * their own text; certificates of 0 to 17 bytes are no chains. */
static void test_observe_memos(void)
{
	X509 *ca = root_ca("Memo Chain CA", k_ca), *lf = leaf_of(ca, k_ca, "h1.example.com");
	X509 *cv = leaf_of(ca, k_ca, "other.example.com");
	unsigned char *da = NULL, *dc = NULL, *db;
	int la = i2d_X509(lf, &da), lc = i2d_X509(cv, &dc);
	struct certdiag *cd = certdiag_new(NULL, NULL, NULL);
	struct diag_input in;
	int rewritten = 0;
	CHECK(la > 0 && lc > 0 && cd != NULL);
	if (la <= 0 || lc <= 0 || !cd || !(db = malloc((size_t)la)))
		goto out;
	memcpy(db, da, (size_t)la);
	for (int i = 0; i + 14 <= la; i++)
		if (memcmp(db + i, "h1.example.com", 14) == 0) {
			db[i + 1] = '2';
			rewritten++;
		}
	CHECK(rewritten >= 2 && memcmp(da + la - 16, db + la - 16, 16) == 0);
	for (int k = 0; k < 3; k++) {
		observe_der(cd, "na.example", "h1.example.com", 1, da, (size_t)la);
		observe_der(cd, "nb.example", "h1.example.com", 1, db, (size_t)la);
	}
	CHECK_EQ_INT(certdiag_input(cd, "na.example", 3, 0, NULL, &in), 1);
	CHECK(in.lint == NULL);
	CHECK_EQ_INT(certdiag_input(cd, "nb.example", 3, 0, NULL, &in), 1);
	CHECK(in.lint && strstr(in.lint->value, "h1.example.com") && strstr(in.lint->value, "h2.example.com"));
	CHECK(certdiag_stats(cd)->chains == 6);

	for (int k = 0; k < 3; k++) {
		observe_der(cd, "n1.example", "Case.Example.COM", 1, dc, (size_t)lc);
		observe_der(cd, "n2.example", "case.example.com", 1, dc, (size_t)lc);
	}
	CHECK_EQ_INT(certdiag_input(cd, "n1.example", 3, 0, NULL, &in), 1);
	CHECK(in.lint && strstr(in.lint->value, "Case.Example.COM") != NULL);
	CHECK_EQ_INT(certdiag_input(cd, "n2.example", 3, 0, NULL, &in), 1);
	CHECK(in.lint && strstr(in.lint->value, "case.example.com") != NULL);

	{
		static const size_t lens[] = { 0, 1, 7, 8, 15, 16, 17 };
		uint64_t before = certdiag_stats(cd)->chains;
		for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
			/* exactly lens[i] bytes on the heap: ASan sees any read past them */
			uint8_t *g = malloc(lens[i] ? lens[i] : 1);
			if (!g)
				continue;
			memset(g, 0x30, lens[i] ? lens[i] : 1);
			observe_der(cd, "tiny.example", "tiny.example", 1, g, lens[i]);
			observe_der(cd, "tiny.example", "tiny.example", 0, g, lens[i]);
			free(g);
		}
		CHECK(certdiag_stats(cd)->chains == before);
	}
	free(db);
out:
	certdiag_free(cd);
	OPENSSL_free(da);
	OPENSSL_free(dc);
	X509_free(cv);
	X509_free(lf);
	X509_free(ca);
}

/* With --inspection-ca the chains keep their X509 objects (the signature
 * check needs them); without, they are not decoded twice. Both find the
 * same chain. */
static void test_observe_with_cas(void)
{
	X509 *ca = root_ca("Memo Inspection CA", k_ca), *lf = leaf_of(ca, k_ca, "cas.example.com");
	unsigned char *der = NULL;
	int dl = i2d_X509(lf, &der);
	struct inspect_cas cas = { 0 };
	char path[] = "/tmp/pinspect-test-ica2-XXXXXX", err[256];
	int fd = mkstemp(path);
	FILE *f = fd >= 0 ? fdopen(fd, "w") : NULL;
	struct certdiag *with, *without;
	struct diag_input in;
	CHECK(f != NULL && dl > 0);
	if (!f || dl <= 0)
		goto out;
	PEM_write_X509(f, ca);
	fclose(f);
	CHECK_EQ_INT(inspect_cas_load(&cas, path, err, sizeof(err)), 1);
	unlink(path);
	with = certdiag_new(&cas, NULL, NULL);
	without = certdiag_new(NULL, NULL, NULL);
	for (int k = 0; k < 2; k++) {
		observe_der(with, "cas.example.com", "cas.example.com", 1, der, (size_t)dl);
		observe_der(without, "cas.example.com", "cas.example.com", 1, der, (size_t)dl);
	}
	CHECK_EQ_INT(certdiag_input(with, "cas.example.com", 2, 0, NULL, &in), 1);
	CHECK_EQ_INT(in.interception, ICPT_CA_KEYID);
	CHECK_EQ_INT(certdiag_input(without, "cas.example.com", 2, 0, NULL, &in), 1);
	CHECK_EQ_INT(in.interception, ICPT_NONE);
	CHECK(certdiag_stats(with)->chains == 2 && certdiag_stats(without)->chains == 2);
	certdiag_free(with);
	certdiag_free(without);
	inspect_cas_free(&cas);
out:
	OPENSSL_free(der);
	X509_free(lf);
	X509_free(ca);
}

/* hostile chains: mutated and truncated DER never crash, and whatever
 * parses is linted */
static void test_hostile(void)
{
	X509 *ca = root_ca("Hostile CA", k_ca), *lf = leaf_of(ca, k_ca, "h.example.com");
	unsigned char *der = NULL;
	int dl = i2d_X509(lf, &der);
	struct certdiag *cd = certdiag_new(NULL, NULL, NULL);
	struct diag_input in;
	unsigned seed = 12345;
	int parsed = 0;
	CHECK(dl > 0 && cd != NULL);
	for (int it = 0; it < 400 && cd && dl > 0; it++) {
		unsigned char *m = malloc((size_t)dl);
		size_t len = (size_t)dl;
		const uint8_t *ders[2];
		size_t lens[2];
		struct cert_info ci;
		memcpy(m, der, (size_t)dl);
		for (int k = 0; k < 1 + it % 4; k++) {
			seed = seed * 1103515245u + 12345u;
			m[(seed >> 8) % (unsigned)dl] ^= (unsigned char)(1u << ((seed >> 4) % 8));
		}
		if (it % 5 == 0)
			len = (seed >> 3) % (unsigned)dl;
		ders[0] = m;
		ders[1] = der;
		lens[0] = len;
		lens[1] = (size_t)dl;
		{
			struct certdiag_conn c = { .name = "h.example.com", .sni = "h.example.com", .client = "10.1.1.1",
			                           .ja3 = "", .rejected = it & 1, .healthy = !(it & 1), .ts = now_s,
			                           .der = ders, .der_len = lens, .nder = 2 };
			certdiag_observe(cd, &c);
		}
		if (cert_parse(m, len, &ci) == 0) {
			struct lint_finding f[64];
			parsed++;
			for (int p = 0; p < LINT_PLATFORMS; p++)
				(void)cert_lint(&ci, it & 1, now_s, "h.example.com", (enum lint_platform)p, f, 64);
		}
		free(m);
	}
	if (cd) {
		certdiag_input(cd, "h.example.com", 200, 200, NULL, &in);
		CHECK(in.name != NULL);
	}
	fprintf(stderr, "  hostile: %d of 400 mutants parsed\n", parsed);
	certdiag_free(cd);
	OPENSSL_free(der);
	X509_free(lf);
	X509_free(ca);
}

int main(void)
{
	now_s = (int64_t)time(NULL);
	k_ca = rsa(2048);
	k_int = rsa(2048);
	k_leaf = rsa(2048);
	k_other = rsa(2048);
	k_1024 = rsa(1024);
	k_ec = EVP_PKEY_Q_keygen(NULL, NULL, "EC", "P-256");
	if (!k_ca || !k_int || !k_leaf || !k_other || !k_1024 || !k_ec) {
		fprintf(stderr, "cannot make test keys\n");
		return 1;
	}
	test_platform_parse();
	test_lint_rules();
	test_lint_python313();
	test_lint_chain();
	test_read_certs();
	test_interception();
	test_kb_tools();
	test_ja3_db();
	test_lint_memo();
	test_decide_order();
	test_engine();
	test_observe_issuer_stats();
	test_observe_memos();
	test_observe_with_cas();
	test_hostile();
	EVP_PKEY_free(k_ca);
	EVP_PKEY_free(k_int);
	EVP_PKEY_free(k_leaf);
	EVP_PKEY_free(k_other);
	EVP_PKEY_free(k_1024);
	EVP_PKEY_free(k_ec);
	UNIT_DONE();
}
