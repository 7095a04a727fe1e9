/* tls_cert.c: X.509 certificate fields through OpenSSL 3 (RFC 5280).
 * RFC 5280 4.1 (names, validity, SPKI), 4.2.1.1 (AKI), 4.2.1.2 (SKI),
 * 4.2.1.6 (subjectAltName), 4.2.1.9 (basicConstraints), 4.2.1.12 (EKU);
 * RFC 4514/2253 (DN strings); RFC 7469 2.4 (base64 SHA-256 SPKI pins).
 *
 * All decoding is OpenSSL's (d2i_X509 and X509_get_ext_d2i); this file only
 * copies results into fixed buffers. Every string written is ASCII 0x20..0x7e
 * with anything else as \xHH, truncated without splitting an escape.
 */
#include "dissectors/tls_cert.h"

#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/asn1.h>
#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/objects.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "common/cur.h"

static const char hexd[] = "0123456789abcdef";

/* Copy n bytes as a safe string. keep_bs: copy '\' as is (RFC 2253 output
 * already escapes with it); else a literal '\' becomes \x5c. */
static void safe_copy(char *dst, size_t cap, const unsigned char *src, size_t n, int keep_bs)
{
	size_t o = 0;
	if (!cap)
		return;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = src[i];
		if (c >= 0x20 && c < 0x7f && (c != '\\' || keep_bs)) {
			if (o + 1 >= cap)
				break;
			dst[o++] = (char)c;
		} else {
			if (o + 4 >= cap)
				break;
			dst[o++] = '\\';
			dst[o++] = 'x';
			dst[o++] = hexd[c >> 4];
			dst[o++] = hexd[c & 15];
		}
	}
	dst[o] = '\0';
}

/* Append ',' (if dst is not empty) and a safe copy of src. */
static void safe_append(char *dst, size_t cap, const unsigned char *src, size_t n)
{
	size_t o = strlen(dst);
	if (o && o + 1 < cap) {
		dst[o++] = ',';
		dst[o] = '\0';
	}
	if (o + 1 < cap)
		safe_copy(dst + o, cap - o, src, n, 0);
}

static void hex_of(char *dst, size_t cap, const unsigned char *src, size_t n)
{
	size_t o = 0;
	if (!cap)
		return;
	for (size_t i = 0; i < n && o + 2 < cap; i++) {
		dst[o++] = hexd[src[i] >> 4];
		dst[o++] = hexd[src[i] & 15];
	}
	dst[o] = '\0';
}

/* RFC 2253 one-line form of a name. Returns 0, -1 on an OpenSSL failure. */
static int name_str(const X509_NAME *name, char *dst, size_t cap)
{
	BIO *b = BIO_new(BIO_s_mem());
	char *p = NULL;
	long n;
	int rc = -1;
	dst[0] = '\0';
	if (!b)
		return -1;
	if (X509_NAME_print_ex(b, name, 0, XN_FLAG_RFC2253) < 0)
		goto out;
	n = BIO_get_mem_data(b, &p);
	if (n < 0 || (n > 0 && !p))
		goto out;
	safe_copy(dst, cap, (const unsigned char *)p, (size_t)n, 1);
	rc = 0;
out:
	BIO_free(b);
	return rc;
}

/* The last (most specific, RFC 6125 6.4.4) commonName of the subject,
 * UTF-8, escaped. */
static void common_name(const X509_NAME *name, char *dst, size_t cap)
{
	int i = -1, next;
	X509_NAME_ENTRY *e;
	ASN1_STRING *s;
	unsigned char *u = NULL;
	int n;
	dst[0] = '\0';
	while ((next = X509_NAME_get_index_by_NID(name, NID_commonName, i)) >= 0)
		i = next;
	if (i < 0)
		return;
	e = X509_NAME_get_entry(name, i);
	s = e ? X509_NAME_ENTRY_get_data(e) : NULL;
	if (!s)
		return;
	n = ASN1_STRING_to_UTF8(&u, s);
	if (n >= 0 && u)
		safe_copy(dst, cap, u, (size_t)n, 0);
	OPENSSL_free(u);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
	int64_t era, yoe, doy, doe;
	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* ASN1_TIME to seconds since the epoch. Returns 0, -1 if unreadable. */
static int time_of(const ASN1_TIME *t, int64_t *out)
{
	struct tm tm;
	memset(&tm, 0, sizeof tm);
	if (!t || ASN1_TIME_to_tm(t, &tm) != 1)
		return -1;
	*out = days_from_civil((int64_t)tm.tm_year + 1900, (int64_t)tm.tm_mon + 1, tm.tm_mday) * 86400 +
	       (int64_t)tm.tm_hour * 3600 + (int64_t)tm.tm_min * 60 + tm.tm_sec;
	return 0;
}

static const char *key_name(int id)
{
	switch (id) {
	case EVP_PKEY_RSA: return "RSA";
	case EVP_PKEY_RSA_PSS: return "RSA-PSS";
	case EVP_PKEY_DSA: return "DSA";
	case EVP_PKEY_DH: return "DH";
	case EVP_PKEY_EC: return "EC";
	case EVP_PKEY_ED25519: return "Ed25519";
	case EVP_PKEY_ED448: return "Ed448";
	case EVP_PKEY_X25519: return "X25519";
	case EVP_PKEY_X448: return "X448";
	default: return NULL;
	}
}

/* subjectAltName: DNS names and IP addresses. */
static void san_of(X509 *x, struct cert_info *out)
{
	int crit = -1;
	GENERAL_NAMES *gens = X509_get_ext_d2i(x, NID_subject_alt_name, &crit, NULL);
	int n;
	out->has_san = crit >= 0;
	out->san_critical = crit == 1;
	if (!gens)
		return;
	n = sk_GENERAL_NAME_num(gens);
	out->san_entries = n < 0 ? 0 : n > UINT16_MAX ? UINT16_MAX : (uint16_t)n;
	for (int i = 0; i < n; i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *p;
		int len;
		if (!g)
			continue;
		if (g->type == GEN_DNS && g->d.dNSName) {
			p = ASN1_STRING_get0_data(g->d.dNSName);
			len = ASN1_STRING_length(g->d.dNSName);
			if (!p || len < 0)
				continue;
			safe_append(out->san, sizeof out->san, p, (size_t)len);
			safe_append(out->san_dns, sizeof out->san_dns, p, (size_t)len);
			out->san_count++;
			if (out->san_dns_count < UINT16_MAX)
				out->san_dns_count++;
		} else if (g->type == GEN_IPADD && g->d.iPAddress) {
			char ip[48];
			p = ASN1_STRING_get0_data(g->d.iPAddress);
			len = ASN1_STRING_length(g->d.iPAddress);
			if (!p)
				continue;
			if (len == 4) {
				struct cur c = cur_make(p, 4);
				uint8_t a[4] = { 0 };
				for (int k = 0; k < 4; k++)
					(void)cur_u8(&c, &a[k]);
				snprintf(ip, sizeof ip, "%u.%u.%u.%u", a[0], a[1], a[2], a[3]);
			} else if (len == 16) {
				/* eight groups, no "::" compression */
				struct cur c = cur_make(p, 16);
				size_t o = 0;
				for (int k = 0; k < 8; k++) {
					uint16_t grp = 0;
					(void)cur_u16(&c, &grp);
					o += (size_t)snprintf(ip + o, sizeof ip - o, k ? ":%x" : "%x", grp);
				}
			} else {
				continue;
			}
			safe_append(out->san, sizeof out->san, (const unsigned char *)ip, strlen(ip));
			out->san_count++;
		}
	}
	GENERAL_NAMES_free(gens);
}

/* Facts for the certificate lint: version, keyUsage, name entry counts,
 * signature consistency and digest, self-signature. */
static void lint_facts(X509 *x, struct cert_info *out)
{
	const X509_ALGOR *outer = NULL, *inner = X509_get0_tbs_sigalg(x);
	const STACK_OF(X509_EXTENSION) *exts = X509_get0_extensions(x);
	ASN1_BIT_STRING *ku;
	int crit = -1, n, mdnid = NID_undef, pknid = NID_undef;
	long v = X509_get_version(x);

	out->version = v >= 0 && v <= 2 ? (uint8_t)(v + 1) : 0;
	n = X509_NAME_entry_count(X509_get_subject_name(x));
	out->subject_entries = n < 0 ? 0 : n > 255 ? 255 : (uint8_t)n;
	n = X509_NAME_entry_count(X509_get_issuer_name(x));
	out->issuer_entries = n < 0 ? 0 : n > 255 ? 255 : (uint8_t)n;
	n = exts ? sk_X509_EXTENSION_num(exts) : 0;
	out->ext_count = n < 0 ? 0 : n > UINT16_MAX ? UINT16_MAX : (uint16_t)n;

	ku = X509_get_ext_d2i(x, NID_key_usage, &crit, NULL);
	out->has_ku = crit >= 0;
	out->ku_critical = crit == 1;
	if (ku) {
		uint32_t bits = X509_get_key_usage(x);
		out->ku_bits = bits == UINT32_MAX ? 0 : (uint16_t)bits;
	}
	ASN1_BIT_STRING_free(ku);

	X509_get0_signature(NULL, &outer, x);
	out->sig_inconsistent = !outer || !inner || X509_ALGOR_cmp(outer, inner) != 0;
	/* X509_get_signature_info also reads the digest of RSASSA-PSS parameters */
	if ((X509_get_signature_info(x, &mdnid, &pknid, NULL, NULL) == 1 ||
	     OBJ_find_sigid_algs(X509_get_signature_nid(x), &mdnid, &pknid)) &&
	    mdnid != NID_undef) {
		const char *sn = OBJ_nid2sn(mdnid);
		char low[16];
		size_t i;
		for (i = 0; sn && sn[i] && i + 1 < sizeof low; i++)
			low[i] = (char)((sn[i] >= 'A' && sn[i] <= 'Z') ? sn[i] - 'A' + 'a' : sn[i]);
		low[i] = '\0';
		safe_copy(out->sig_hash, sizeof out->sig_hash, (const unsigned char *)low, i, 0);
	}
	ERR_clear_error();

	if (X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)) == 0) {
		EVP_PKEY *pk = X509_get0_pubkey(x);
		out->self_signed = pk && X509_verify(x, pk) == 1;
		ERR_clear_error();
	}
}

int cert_parse(const uint8_t *der, size_t len, struct cert_info *out)
{
	X509 *x = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	EXTENDED_KEY_USAGE *eku = NULL;
	AUTHORITY_KEYID *aki = NULL;
	ASN1_OCTET_STRING *ski = NULL;
	unsigned char *spki = NULL;
	const unsigned char *p = der;
	const X509_NAME *subj, *iss;
	EVP_PKEY *pk;
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;
	size_t der_len;
	int crit, nid, n, rc = -1;

	if (!out)
		return -1;
	memset(out, 0, sizeof *out);
	if (!der || !len || len > (size_t)LONG_MAX)
		return -1;
	x = d2i_X509(NULL, &p, (long)len);
	if (!x)
		goto out;
	der_len = (size_t)(p - der);  /* bytes of the certificate itself */

	subj = X509_get_subject_name(x);
	iss = X509_get_issuer_name(x);
	if (!subj || !iss || name_str(subj, out->subject, sizeof out->subject) ||
	    name_str(iss, out->issuer, sizeof out->issuer))
		goto out;
	common_name(subj, out->cn, sizeof out->cn);
	out->self_issued = X509_NAME_cmp(subj, iss) == 0;
	san_of(x, out);

	/* unreadable times stay 0 */
	(void)time_of(X509_get0_notBefore(x), &out->not_before);
	(void)time_of(X509_get0_notAfter(x), &out->not_after);

	pk = X509_get0_pubkey(x);  /* NULL for an algorithm OpenSSL cannot load */
	if (pk) {
		int id = EVP_PKEY_get_base_id(pk);
		const char *kn = key_name(id);
		if (!kn)
			kn = OBJ_nid2sn(id);
		snprintf(out->key_type, sizeof out->key_type, "%s", kn ? kn : "unknown");
		out->key_bits = EVP_PKEY_get_bits(pk);
	} else {
		ASN1_OBJECT *alg = NULL;
		const char *kn = NULL;
		if (X509_PUBKEY_get0_param(&alg, NULL, NULL, NULL, X509_get_X509_PUBKEY(x)) == 1 && alg)
			kn = OBJ_nid2sn(OBJ_obj2nid(alg));
		snprintf(out->key_type, sizeof out->key_type, "%s", kn ? kn : "unknown");
	}

	nid = X509_get_signature_nid(x);
	if (nid != NID_undef && OBJ_nid2ln(nid)) {
		snprintf(out->sig_alg, sizeof out->sig_alg, "%s", OBJ_nid2ln(nid));
	} else {
		const X509_ALGOR *alg = NULL;
		const ASN1_OBJECT *obj = NULL;
		char oid[80];
		X509_get0_signature(NULL, &alg, x);
		if (alg)
			X509_ALGOR_get0(&obj, NULL, NULL, alg);
		if (obj && OBJ_obj2txt(oid, sizeof oid, obj, 1) > 0)
			safe_copy(out->sig_alg, sizeof out->sig_alg, (const unsigned char *)oid,
			          strlen(oid), 0);
		else
			snprintf(out->sig_alg, sizeof out->sig_alg, "unknown");
	}

	crit = -1;
	bc = X509_get_ext_d2i(x, NID_basic_constraints, &crit, NULL);
	out->has_bc = crit >= 0;
	out->bc_pathlen = -1;
	if (bc) {
		out->is_ca = bc->ca != 0;
		if (bc->pathlen) {
			long pl = ASN1_INTEGER_get(bc->pathlen);
			out->bc_pathlen = pl < 0 ? -1 : pl > INT32_MAX ? INT32_MAX : (int32_t)pl;
		}
	}
	out->bc_critical = crit == 1;

	crit = -1;
	eku = X509_get_ext_d2i(x, NID_ext_key_usage, &crit, NULL);
	out->has_eku = crit >= 0;
	out->eku_critical = crit == 1;
	if (eku) {
		n = sk_ASN1_OBJECT_num(eku);
		for (int i = 0; i < n; i++)
			if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_server_auth)
				out->eku_server_auth = 1;
			else if (OBJ_obj2nid(sk_ASN1_OBJECT_value(eku, i)) == NID_anyExtendedKeyUsage)
				out->eku_any = 1;
	}

	crit = -1;
	aki = X509_get_ext_d2i(x, NID_authority_key_identifier, &crit, NULL);
	out->has_aki = crit >= 0;
	out->aki_critical = crit == 1;
	if (aki && aki->keyid)
		hex_of(out->aki_hex, sizeof out->aki_hex, ASN1_STRING_get0_data(aki->keyid),
		       (size_t)ASN1_STRING_length(aki->keyid));

	crit = -1;
	ski = X509_get_ext_d2i(x, NID_subject_key_identifier, &crit, NULL);
	out->has_ski = crit >= 0;
	out->ski_critical = crit == 1;
	if (ski)
		hex_of(out->ski_hex, sizeof out->ski_hex, ASN1_STRING_get0_data(ski),
		       (size_t)ASN1_STRING_length(ski));

	lint_facts(x, out);

	if (EVP_Digest(der, der_len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		goto out;
	hex_of(out->sha256, sizeof out->sha256, md, mdlen);

	n = i2d_X509_PUBKEY(X509_get_X509_PUBKEY(x), &spki);
	if (n <= 0 || !spki)
		goto out;
	if (EVP_Digest(spki, (size_t)n, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != 32)
		goto out;
	/* 32 bytes -> 44 base64 characters + NUL = sizeof spki_sha256 */
	if (EVP_EncodeBlock((unsigned char *)out->spki_sha256, md, 32) != 44)
		goto out;
	rc = 0;
out:
	OPENSSL_free(spki);
	ASN1_OCTET_STRING_free(ski);
	AUTHORITY_KEYID_free(aki);
	EXTENDED_KEY_USAGE_free(eku);
	BASIC_CONSTRAINTS_free(bc);
	X509_free(x);
	if (rc)
		memset(out, 0, sizeof *out);
	return rc;
}
