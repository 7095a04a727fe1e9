/* tls_cert.h: X.509 certificates through OpenSSL (d2i_X509), never by hand.
 *
 * Turns the DER blobs of a Certificate message into the fields diagnosis
 * needs. All strings are NUL-terminated, truncated to fit, with control
 * characters escaped.
 */
#ifndef PI_TLS_CERT_H
#define PI_TLS_CERT_H

#include <stddef.h>
#include <stdint.h>

struct cert_info {
	char subject[256];     /* RFC 2253 one-line form */
	char issuer[256];
	char cn[128];
	char san[512];         /* DNS and IP names joined with ',' */
	uint32_t san_count;
	int64_t not_before;    /* seconds since the epoch */
	int64_t not_after;
	char key_type[16];     /* "RSA", "EC", "Ed25519", ... */
	int key_bits;
	char sig_alg[48];      /* "sha256WithRSAEncryption" */
	uint8_t is_ca;         /* basicConstraints CA:TRUE */
	uint8_t bc_critical;
	uint8_t has_eku, eku_server_auth;
	uint8_t has_aki, has_ski;
	uint8_t self_issued;   /* subject == issuer */
	char sha256[65];       /* fingerprint of the DER, hex */
	char spki_sha256[45];  /* base64 SHA-256 of the SPKI (curl's sha256// pin) */
	char aki_hex[65];      /* authority key identifier, hex */
	char ski_hex[65];

	/* For the certificate lint (src/analysis/certdiag.h): RFC 5280 facts
	 * as OpenSSL decodes them. */
	uint8_t version;        /* X.509 version: 1, 2 or 3 */
	uint8_t has_san;        /* subjectAltName extension present (even if empty) */
	uint8_t san_critical;
	uint16_t san_entries;   /* GeneralNames in it, of any type */
	uint16_t san_dns_count; /* DNS names in it */
	char san_dns[512];      /* the DNS names only, joined with ',' */
	uint8_t has_ku, ku_critical;
	uint16_t ku_bits;       /* keyUsage: OpenSSL KU_* bits (KU_KEY_CERT_SIGN 0x04...) */
	uint8_t has_bc;         /* basicConstraints present */
	int32_t bc_pathlen;     /* pathLenConstraint, -1 if absent */
	uint8_t eku_critical;
	uint8_t eku_any;        /* anyExtendedKeyUsage listed */
	uint8_t aki_critical, ski_critical;
	uint8_t subject_entries; /* RDN entries of the subject / issuer (capped at 255) */
	uint8_t issuer_entries;
	uint8_t sig_inconsistent; /* TBS signature algorithm != outer signatureAlgorithm */
	uint8_t self_signed;    /* self-issued and verifies with its own key */
	uint16_t ext_count;     /* extensions */
	char sig_hash[16];      /* digest of the signature algorithm: "sha1", "sha256",
	                           "md5"...; "" for none (Ed25519) or unknown */
};

/* Parse one DER certificate. Returns 0 on success, -1 if OpenSSL rejects it. */
int cert_parse(const uint8_t *der, size_t len, struct cert_info *out);

#endif
