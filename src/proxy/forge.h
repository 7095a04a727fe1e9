/* forge.h: the interception CA and the leaf certificates it forges.
 *
 * A forged leaf (RFC 5280 profile; PEERS.md section 7 for the client rules
 * it must pass):
 *   version 3, serial 128 random bits (positive, non-zero)
 *   issuer  = the CA's subject; subject CN = the name (when <= 64 bytes)
 *   validity: notBefore now - FORGE_BACKDATE_DAYS, notAfter now +
 *             FORGE_LEAF_DAYS - FORGE_BACKDATE_DAYS (under Chromium's 200
 *             days, Apple's 398 and 825, and CA/B's 2026 cap of 200)
 *   basicConstraints critical CA:FALSE
 *   keyUsage critical digitalSignature (+ keyEncipherment for RSA)
 *   extendedKeyUsage serverAuth
 *   subjectAltName DNS:name (IP:addr for an address literal)
 *   subjectKeyIdentifier (SHA-1 of the key, RFC 5280 4.2.1.2 method 1)
 *   authorityKeyIdentifier keyid = the CA's SKI (Python 3.13 strict mode)
 *   signature: SHA-256 with the CA key
 *   key: RSA 2048 or ECDSA P-256; one key of each type per proxy run,
 *        shared by every leaf of that type (as sslsplit does): forging a
 *        leaf for a new name costs one signature, no key generation. The
 *        proxy picks the type of the real server's key by default (as
 *        PAN-OS does), so the client sees the kind of key it already
 *        accepts from that server.
 *
 * Ownership: forge_open() owns the CA certificate, the CA key and the leaf
 * key until forge_free(). forge_leaf() returns a new reference the caller
 * frees with X509_free(); the cache keeps its own.
 */
#ifndef PI_PROXY_FORGE_H
#define PI_PROXY_FORGE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include <openssl/evp.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#define FORGE_LEAF_DAYS 198     /* total validity of a leaf */
#define FORGE_BACKDATE_DAYS 1   /* notBefore this far in the past (clock skew) */
#define FORGE_CACHE_MAX 4096u   /* leaves kept (least recently used dropped) */
#define FORGE_CACHE_TTL (7 * 86400) /* a cached leaf is re-forged after a week */

enum forge_key {
	FORGE_KEY_AUTO = -1, /* the proxy's choice: the server's key type */
	FORGE_KEY_RSA = 0,   /* RSA 2048 */
	FORGE_KEY_EC = 1,    /* ECDSA P-256 */
};

/* A new key: RSA 2048 or ECDSA P-256 (AUTO: RSA). NULL on failure.
 * Caller frees. */
EVP_PKEY *forge_new_key(enum forge_key kt);

/* Forge one leaf for name (a host name or an address literal, validated
 * by the caller with rules_valid_name) issued by ca/cakey with key leafkey,
 * valid from now. Returns a new certificate (caller X509_free) or NULL
 * (err says why). Borrows every argument. */
X509 *forge_make_leaf(X509 *ca, EVP_PKEY *cakey, EVP_PKEY *leafkey, const char *name, time_t now,
                      char *err, size_t errlen);

struct forge;

/* Load DIR/ca.pem and DIR/ca.key (see ca.h: the key must not be readable
 * by group or others) and make the two leaf keys. NULL on failure, err
 * says why. */
struct forge *forge_open(const char *cadir, char *err, size_t errlen);
void forge_free(struct forge *f);

/* The leaf for name with a key of type kt (RSA or EC) from the cache,
 * forged on a miss. Returns a new reference (caller X509_free) or NULL
 * (err says why). */
X509 *forge_leaf(struct forge *f, const char *name, enum forge_key kt, char *err, size_t errlen);

/* Borrowed pointers, valid until forge_free(). */
EVP_PKEY *forge_leaf_key(const struct forge *f, enum forge_key kt);
X509 *forge_ca_cert(const struct forge *f);

struct forge_stats {
	uint64_t forged, hits, evicted;
	size_t cached;
};
void forge_get_stats(const struct forge *f, struct forge_stats *st);

/* The last OpenSSL error as text into buf (and the queue cleared). */
void forge_ssl_error(char *buf, size_t len, const char *what);
/* Add one extension to x in OpenSSL's configuration syntax ("critical,CA:TRUE"). 0 or -1. */
int forge_add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value);

#endif
