/* test_forge.c: the proxy's pure parts: the forged leaf's profile (forge.h,
 * PEERS.md section 7), the CA's files (ca.h), the bypass-list rules
 * (rules.h) and the CONNECT parser (http.h), malformed and huge input
 * included.
 *
 * Until `lint-cert` is in the library, the leaf's properties are asserted
 * here directly: SAN == the name, EKU serverAuth, AKI == the CA's SKI, an
 * SKI, RSA 2048 or EC P-256, SHA-256, validity <= 397 days, CA:FALSE
 * critical, a random positive serial; and it verifies under OpenSSL's
 * X509_STRICT (Python 3.13's default) for the name.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "common/util.h"
#include "dissectors/tls_cert.h"
#include "proxy/ca.h"
#include "proxy/forge.h"
#include "proxy/http.h"
#include "proxy/rules.h"
#include "unit.h"

static char tmpdir[256];

static int leaf_info(X509 *x, struct cert_info *ci)
{
	unsigned char *der = NULL;
	int n = i2d_X509(x, &der), rc;
	if (n <= 0)
		return -1;
	rc = cert_parse(der, (size_t)n, ci);
	OPENSSL_free(der);
	return rc;
}

/* Verify leaf against ca as a TLS server for name, RFC 5280 strictly. */
static int verifies(X509 *ca, X509 *leaf, const char *name)
{
	X509_STORE *st = X509_STORE_new();
	X509_STORE_CTX *ctx = X509_STORE_CTX_new();
	X509_VERIFY_PARAM *vp;
	int ok = 0;
	if (!st || !ctx || X509_STORE_add_cert(st, ca) != 1 || X509_STORE_CTX_init(ctx, st, leaf, NULL) != 1)
		goto out;
	vp = X509_STORE_CTX_get0_param(ctx);
	X509_VERIFY_PARAM_set_flags(vp, X509_V_FLAG_X509_STRICT);
	X509_VERIFY_PARAM_set_purpose(vp, X509_PURPOSE_SSL_SERVER);
	if (rules_valid_name(name) == 2)
		X509_VERIFY_PARAM_set1_ip_asc(vp, name);
	else
		X509_VERIFY_PARAM_set1_host(vp, name, 0);
	ok = X509_verify_cert(ctx) == 1;
	if (!ok)
		fprintf(stderr, "verify %s: %s\n", name, X509_verify_cert_error_string(X509_STORE_CTX_get_error(ctx)));
out:
	X509_STORE_CTX_free(ctx);
	X509_STORE_free(st);
	return ok;
}

static void check_leaf(X509 *ca, X509 *leaf, const char *name, enum forge_key kt)
{
	struct cert_info ci, cai;
	BIGNUM *bn;

	CHECK(leaf != NULL);
	if (!leaf)
		return;
	bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(leaf), NULL);
	CHECK_EQ_INT(leaf_info(leaf, &ci), 0);
	CHECK_EQ_INT(leaf_info(ca, &cai), 0);
	CHECK_EQ_STR(ci.san, name);                      /* SAN == the name, nothing else */
	CHECK_EQ_INT(ci.san_count, 1);
	CHECK(ci.eku_server_auth);                       /* EKU serverAuth */
	CHECK(ci.has_aki);
	CHECK(ci.has_ski);
	CHECK_EQ_STR(ci.aki_hex, cai.ski_hex);           /* AKI = the CA's SKI */
	CHECK(strcmp(ci.ski_hex, cai.ski_hex) != 0);     /* its own key, not the CA's */
	CHECK_EQ_INT(ci.is_ca, 0);                       /* basicConstraints CA:FALSE */
	CHECK(ci.bc_critical);
	if (kt == FORGE_KEY_RSA) {
		CHECK_EQ_STR(ci.key_type, "RSA");
		CHECK_EQ_INT(ci.key_bits, 2048);
	} else {
		CHECK_EQ_STR(ci.key_type, "EC");
		CHECK_EQ_INT(ci.key_bits, 256);
	}
	CHECK(strstr(ci.sig_alg, "sha256") || strstr(ci.sig_alg, "SHA256")); /* signed with SHA-256 */
	CHECK(ci.not_after - ci.not_before <= 397 * 86400); /* Apple's 398-day rule, with margin */
	CHECK(ci.not_after - ci.not_before >= 30 * 86400);
	CHECK(ci.not_before <= time(NULL) && ci.not_after > time(NULL) + 30 * 86400);
	CHECK_EQ_INT(X509_get_version(leaf), 2);         /* v3 */
	CHECK(bn && !BN_is_negative(bn) && !BN_is_zero(bn) && BN_num_bits(bn) >= 120);
	CHECK(verifies(ca, leaf, name));
	BN_free(bn);
}

static void test_forge_profile(X509 *ca, EVP_PKEY *cakey)
{
	char err[256];
	EVP_PKEY *rsa = forge_new_key(FORGE_KEY_RSA), *ec = forge_new_key(FORGE_KEY_EC);
	time_t now = time(NULL);
	X509 *a, *b, *c, *d, *e;
	char longname[200];

	CHECK(rsa && ec);
	a = forge_make_leaf(ca, cakey, rsa, "api.example.com", now, err, sizeof(err));
	check_leaf(ca, a, "api.example.com", FORGE_KEY_RSA);
	b = forge_make_leaf(ca, cakey, rsa, "api.example.com", now, err, sizeof(err));
	/* the serial is random: two leaves for one name differ */
	CHECK(a && b && ASN1_INTEGER_cmp(X509_get0_serialNumber(a), X509_get0_serialNumber(b)) != 0);
	c = forge_make_leaf(ca, cakey, ec, "ec.example.org", now, err, sizeof(err));
	check_leaf(ca, c, "ec.example.org", FORGE_KEY_EC);
	/* an address literal gets an IP SAN */
	d = forge_make_leaf(ca, cakey, rsa, "192.0.2.7", now, err, sizeof(err));
	check_leaf(ca, d, "192.0.2.7", FORGE_KEY_RSA);
	/* a name over 64 bytes: no CN (RFC 5280 ub-common-name), the SAN carries it */
	memset(longname, 'a', 40);
	longname[40] = '.';
	memset(longname + 41, 'b', 40);
	strcpy(longname + 81, ".example.com");
	e = forge_make_leaf(ca, cakey, rsa, longname, now, err, sizeof(err));
	check_leaf(ca, e, longname, FORGE_KEY_RSA);
	if (e) {
		struct cert_info ci;
		CHECK_EQ_INT(leaf_info(e, &ci), 0);
		CHECK_EQ_STR(ci.cn, "");
	}
	/* names that are not names are refused, with a reason */
	err[0] = '\0';
	CHECK(forge_make_leaf(ca, cakey, rsa, "bad name", now, err, sizeof(err)) == NULL);
	CHECK(err[0] != '\0');
	CHECK(forge_make_leaf(ca, cakey, rsa, "a,DNS:evil.com", now, err, sizeof(err)) == NULL);
	CHECK(forge_make_leaf(ca, cakey, rsa, "", now, err, sizeof(err)) == NULL);
	CHECK(forge_make_leaf(ca, cakey, rsa, "x\\x00y.com", now, err, sizeof(err)) == NULL);
	X509_free(a);
	X509_free(b);
	X509_free(c);
	X509_free(d);
	X509_free(e);
	EVP_PKEY_free(rsa);
	EVP_PKEY_free(ec);
}

static void test_ca_files(void)
{
	char dir[300], path[400], err[512];
	struct stat st;
	X509 *ca = NULL;
	EVP_PKEY *key = NULL;
	struct forge *f;
	struct forge_stats fs;
	X509 *l1, *l2, *l3;
	struct cert_info ci;

	snprintf(dir, sizeof(dir), "%s/ca", tmpdir);
	CHECK_EQ_INT(ca_init(dir, FORGE_KEY_RSA, CA_DEFAULT_DAYS, 0, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0600);
	snprintf(path, sizeof(path), "%s/ca.pem", dir);
	CHECK(stat(path, &st) == 0 && (st.st_mode & 0777) == 0644);
	/* no silent overwrite; --force replaces */
	CHECK_EQ_INT(ca_init(dir, FORGE_KEY_RSA, CA_DEFAULT_DAYS, 0, err, sizeof(err)), -1);
	CHECK(strstr(err, "--force") != NULL);
	CHECK_EQ_INT(ca_init(dir, FORGE_KEY_EC, CA_DEFAULT_DAYS, 1, err, sizeof(err)), 0);
	CHECK_EQ_INT(ca_init(dir, FORGE_KEY_RSA, 0, 1, err, sizeof(err)), -1); /* --days 0 */

	CHECK_EQ_INT(ca_load(dir, &ca, &key, err, sizeof(err)), 0);
	CHECK(ca && key);
	if (ca) {
		CHECK_EQ_INT(leaf_info(ca, &ci), 0);
		CHECK(ci.is_ca && ci.bc_critical && ci.has_ski && ci.has_aki);
		CHECK(X509_check_ca(ca) >= 1);
		test_forge_profile(ca, key);
	}
	X509_free(ca);
	EVP_PKEY_free(key);

	/* the cache: one leaf per name, served again */
	f = forge_open(dir, err, sizeof(err));
	CHECK(f != NULL);
	if (f) {
		X509 *l4;
		l1 = forge_leaf(f, "cache.example", FORGE_KEY_EC, err, sizeof(err));
		l2 = forge_leaf(f, "CACHE.example", FORGE_KEY_EC, err, sizeof(err));
		l3 = forge_leaf(f, "other.example", FORGE_KEY_EC, err, sizeof(err));
		l4 = forge_leaf(f, "cache.example", FORGE_KEY_RSA, err, sizeof(err)); /* one per key type */
		CHECK(l1 && l1 == l2 && l3 && l3 != l1 && l4 && l4 != l1);
		check_leaf(forge_ca_cert(f), l3, "other.example", FORGE_KEY_EC);
		check_leaf(forge_ca_cert(f), l4, "cache.example", FORGE_KEY_RSA);
		CHECK(X509_check_private_key(l3, forge_leaf_key(f, FORGE_KEY_EC)) == 1);
		CHECK(X509_check_private_key(l4, forge_leaf_key(f, FORGE_KEY_RSA)) == 1);
		forge_get_stats(f, &fs);
		CHECK_EQ_INT(fs.forged, 3);
		CHECK_EQ_INT(fs.hits, 1);
		CHECK_EQ_INT(fs.cached, 3);
		CHECK(forge_leaf(f, "not a name", FORGE_KEY_RSA, err, sizeof(err)) == NULL);
		X509_free(l1);
		X509_free(l2);
		X509_free(l3);
		X509_free(l4);
		forge_free(f);
	}

	/* a key group or others can read is refused, and not quoted */
	snprintf(path, sizeof(path), "%s/ca.key", dir);
	CHECK(chmod(path, 0640) == 0);
	CHECK_EQ_INT(ca_load(dir, &ca, &key, err, sizeof(err)), -1);
	CHECK(strstr(err, "readable by group or others") != NULL);
	CHECK(strstr(err, "PRIVATE") == NULL);
	CHECK(forge_open(dir, err, sizeof(err)) == NULL);
	/* a missing CA says how to make one */
	snprintf(path, sizeof(path), "%s/none", tmpdir);
	CHECK_EQ_INT(ca_load(path, &ca, &key, err, sizeof(err)), -1);
	CHECK(strstr(err, "pinspect ca init") != NULL);
}

static void test_rules(void)
{
	struct rules *r = rules_new();
	char why[128], path[300];
	FILE *f;
	struct rules *l;

	CHECK(r != NULL);
	CHECK_EQ_INT(rules_add(r, "api.example.com", why, sizeof(why)), 0);
	CHECK_EQ_INT(rules_add(r, ".apple.com", why, sizeof(why)), 0);
	CHECK_EQ_INT(rules_add(r, "  .deep.apple.com   # more specific ", why, sizeof(why)), 0);
	CHECK_EQ_INT(rules_add(r, "Mixed.Example.NET", why, sizeof(why)), 0);
	CHECK_EQ_INT(rules_add(r, "10.1.2.3", why, sizeof(why)), 0);
	CHECK_EQ_INT(rules_add(r, "2001:db8::1", why, sizeof(why)), 0);
	CHECK_EQ_INT(rules_add(r, "api.example.com", why, sizeof(why)), 0); /* duplicate: ignored */
	CHECK_EQ_INT(rules_count(r), 6);
	/* refused, with a reason */
	CHECK_EQ_INT(rules_add(r, "*.example.com", why, sizeof(why)), -1);
	CHECK(strstr(why, ".example.com") != NULL);
	CHECK_EQ_INT(rules_add(r, ".com", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, "https://x.example.com/", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, "two words", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, "bad..dots.com", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, "-lead.com", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, "trail-.com", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, ".10.1.2.3", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, "", why, sizeof(why)), -1);
	CHECK_EQ_INT(rules_add(r, "# only a comment", why, sizeof(why)), -1);
	{
		char big[400];
		memset(big, 'a', sizeof(big) - 1);
		big[sizeof(big) - 1] = '\0';
		CHECK_EQ_INT(rules_add(r, big, why, sizeof(why)), -1);
		memset(big, 'a', 64);
		strcpy(big + 64, ".com"); /* a 64-byte label */
		CHECK_EQ_INT(rules_add(r, big, why, sizeof(why)), -1);
	}
	CHECK_EQ_INT(rules_count(r), 6);

	/* matching: exact, then the most specific wildcard */
	CHECK_EQ_STR(rules_entry(r, rules_match(r, "api.example.com")), "api.example.com");
	CHECK_EQ_STR(rules_entry(r, rules_match(r, "API.Example.COM.")), "api.example.com");
	CHECK_EQ_INT(rules_match(r, "x.api.example.com"), -1); /* exact entries are exact */
	CHECK_EQ_INT(rules_match(r, "example.com"), -1);
	CHECK_EQ_STR(rules_entry(r, rules_match(r, "apple.com")), ".apple.com"); /* the domain itself */
	CHECK_EQ_STR(rules_entry(r, rules_match(r, "www.apple.com")), ".apple.com");
	CHECK_EQ_STR(rules_entry(r, rules_match(r, "a.b.c.apple.com")), ".apple.com");
	CHECK_EQ_STR(rules_entry(r, rules_match(r, "x.deep.apple.com")), ".deep.apple.com");
	CHECK_EQ_INT(rules_match(r, "pineapple.com"), -1); /* a label boundary, not a suffix */
	CHECK_EQ_INT(rules_match(r, "apple.com.evil.net"), -1);
	CHECK_EQ_STR(rules_entry(r, rules_match(r, "mixed.example.net")), "mixed.example.net");
	CHECK(rules_match(r, "10.1.2.3") >= 0);
	CHECK(rules_match(r, "2001:db8::1") >= 0);
	CHECK_EQ_INT(rules_match(r, "10.1.2.4"), -1);
	CHECK_EQ_INT(rules_match(r, ""), -1);
	CHECK_EQ_INT(rules_match(r, "."), -1);
	CHECK_EQ_INT(rules_match(r, NULL), -1);
	CHECK(rules_entry(r, 99) == NULL);

	/* a file: comments, blanks, bad lines skipped, CRLF, an over-long line */
	snprintf(path, sizeof(path), "%s/bypass.txt", tmpdir);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		fputs("# pinspect bypass list\n\n  .zoom.us\r\nslack.com # chat\n*.bad.com\nnot valid\n", f);
		for (int i = 0; i < 2000; i++)
			fputc('x', f);
		fputs("\nlast.example", f); /* no final newline */
		fclose(f);
	}
	pi_set_quiet(1);
	l = rules_load(path, why, sizeof(why));
	pi_set_quiet(0);
	CHECK(l != NULL);
	if (l) {
		CHECK_EQ_INT(rules_count(l), 3);
		CHECK(rules_match(l, "us05web.zoom.us") >= 0);
		CHECK(rules_match(l, "slack.com") >= 0);
		CHECK(rules_match(l, "last.example") >= 0);
		CHECK_EQ_INT(rules_match(l, "x.bad.com"), -1);
		rules_free(l);
	}
	snprintf(path, sizeof(path), "%s/missing.txt", tmpdir);
	CHECK(rules_load(path, why, sizeof(why)) == NULL);
	CHECK(strstr(why, "missing.txt") != NULL);

	/* many entries: the table grows and still answers */
	{
		struct rules *m = rules_new();
		char n[64];
		int bad = 0;
		for (int i = 0; i < 5000; i++) {
			snprintf(n, sizeof(n), "%sh%d.example%d.com", i % 2 ? "." : "", i, i % 7);
			if (rules_add(m, n, why, sizeof(why)) < 0)
				bad++;
		}
		CHECK_EQ_INT(bad, 0);
		CHECK_EQ_INT(rules_count(m), 5000);
		CHECK(rules_match(m, "h4998.example0.com") >= 0);
		CHECK(rules_match(m, "sub.h4999.example1.com") >= 0);
		CHECK_EQ_INT(rules_match(m, "sub.h4998.example0.com"), -1);
		rules_free(m);
	}
	rules_free(r);
}

static enum http_rc parse(const char *s, struct connect_req *req, size_t *used)
{
	return http_parse_connect((const uint8_t *)s, strlen(s), req, used);
}

static void test_connect(void)
{
	struct connect_req req;
	size_t used;
	char buf[20000];
	static const char good[] = "CONNECT Api.Example.com:443 HTTP/1.1\r\nHost: api.example.com:443\r\n"
	                           "User-Agent: curl/8\r\n\r\n";

	CHECK_EQ_INT(parse(good, &req, &used), HTTP_OK);
	CHECK_EQ_STR(req.host, "api.example.com");
	CHECK_EQ_INT(req.port, 443);
	CHECK_EQ_INT(req.host_is_ip, 0);
	CHECK_EQ_INT(req.minor, 1);
	CHECK_EQ_INT(used, strlen(good));
	/* the tunnel's first bytes after the head are left to the caller */
	snprintf(buf, sizeof(buf), "%s\x16\x03\x01", good);
	CHECK_EQ_INT(parse(buf, &req, &used), HTTP_OK);
	CHECK_EQ_INT(used, strlen(good));
	/* every prefix of a good request is incomplete, never an error */
	for (size_t n = 0; n < strlen(good); n++) {
		enum http_rc rc = http_parse_connect((const uint8_t *)good, n, &req, &used);
		if (rc != HTTP_NEED_MORE) {
			fprintf(stderr, "prefix %zu: %d\n", n, rc);
			CHECK(0);
			break;
		}
	}
	CHECK_EQ_INT(parse("CONNECT 192.0.2.1:8443 HTTP/1.0\r\n\r\n", &req, &used), HTTP_OK);
	CHECK_EQ_INT(req.host_is_ip, 4);
	CHECK_EQ_INT(req.port, 8443);
	CHECK_EQ_INT(parse("CONNECT [2001:DB8::1]:443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_OK);
	CHECK_EQ_STR(req.host, "2001:db8::1");
	CHECK_EQ_INT(req.host_is_ip, 6);
	CHECK_EQ_INT(parse("CONNECT a.example:443 HTTP/1.1\n\n", &req, &used), HTTP_OK); /* bare LF */

	/* other methods: 405; malformed: 400 */
	CHECK_EQ_INT(parse("GET http://a.example/ HTTP/1.1\r\n\r\n", &req, &used), HTTP_NOT_CONNECT);
	CHECK_EQ_INT(parse("connect a.example:443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_NOT_CONNECT);
	CHECK_EQ_INT(parse("CONNECT a.example HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);       /* no port */
	CHECK_EQ_INT(parse("CONNECT a.example:0 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a.example:65536 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a.example:+443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a.example:443x HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a.example:443:1 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT :443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT [::1:443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT [zz::1]:443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a_b.exa mple:443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT user@a.example:443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a.example:443 HTTP/2.0\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a.example:443 HTTP/1.1 extra\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT  a.example:443 HTTP/1.1\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("CONNECT a.example:443\r\n\r\n", &req, &used), HTTP_BAD);
	CHECK_EQ_INT(parse("\x16\x03\x01\x02\x00\x01", &req, &used), HTTP_BAD); /* TLS, no CONNECT */
	CHECK_EQ_INT(parse("CONNECT a.example:443 HTTP/1.1\r\nX: \x01\r\n\r\n", &req, &used), HTTP_BAD);
	{
		static const char nul[] = "CONNECT a.example:443 HTTP/1.1\r\nX: a\0b\r\n\r\n";
		CHECK_EQ_INT(http_parse_connect((const uint8_t *)nul, sizeof(nul) - 1, &req, &used), HTTP_BAD);
	}
	/* a host over 255 bytes */
	memcpy(buf, "CONNECT ", 8);
	memset(buf + 8, 'a', 300);
	strcpy(buf + 308, ".com:443 HTTP/1.1\r\n\r\n");
	CHECK_EQ_INT(parse(buf, &req, &used), HTTP_BAD);
	/* a head with no end within the cap: 431, not a wait for ever */
	snprintf(buf, sizeof(buf), "CONNECT a.example:443 HTTP/1.1\r\nX-Pad: ");
	memset(buf + strlen(buf), 'b', 12000);
	buf[strlen("CONNECT a.example:443 HTTP/1.1\r\nX-Pad: ") + 12000] = '\0';
	CHECK_EQ_INT(parse(buf, &req, &used), HTTP_TOO_BIG);
	CHECK_EQ_INT(http_parse_connect((const uint8_t *)buf, HTTP_MAX_HEAD - 1, &req, &used), HTTP_NEED_MORE);
	/* a huge head whose end is beyond the cap is still too big */
	strcat(buf, "\r\n\r\n");
	CHECK_EQ_INT(parse(buf, &req, &used), HTTP_TOO_BIG);
	/* a method token that never ends */
	memset(buf, 'A', 100);
	buf[100] = '\0';
	CHECK_EQ_INT(parse(buf, &req, &used), HTTP_BAD);
	/* random bytes: any answer but a crash; OK only with a sane result */
	srand(7);
	for (int i = 0; i < 20000; i++) {
		size_t n = (size_t)(rand() % 200);
		enum http_rc rc;
		for (size_t k = 0; k < n; k++)
			buf[k] = (char)(i % 3 == 0 ? "CONNECT a.b:443 HTTP/1.1\r\n[]:"[rand() % 30] : rand());
		rc = http_parse_connect((const uint8_t *)buf, n, &req, &used);
		if (rc == HTTP_OK && (used > n || req.port == 0 || !req.host[0])) {
			CHECK(0);
			break;
		}
	}
	CHECK(http_reply(200) && strncmp(http_reply(200), "HTTP/1.1 200 ", 13) == 0);
	CHECK(strncmp(http_reply(405), "HTTP/1.1 405 ", 13) == 0);
}

int main(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "%s/test_forge.XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 1;
	}
	test_rules();
	test_connect();
	test_ca_files();
	{
		char cmd[400];
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
		if (system(cmd) != 0)
			fprintf(stderr, "could not remove %s\n", tmpdir);
	}
	UNIT_DONE();
}
