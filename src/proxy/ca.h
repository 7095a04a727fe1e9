/* ca.h: `pinspect ca init DIR`: a private root for the inspection proxy.
 *
 * DIR/ca.pem  the root certificate (mode 0644): give it to the clients that
 *             should trust the proxy (curl --cacert, SSL_CERT_FILE,
 *             update-ca-certificates, the OS keychain).
 * DIR/ca.key  its private key, PKCS#8 PEM, unencrypted, mode 0600, never
 *             logged. ca_load() refuses a key group or others can read.
 *
 * The root: X.509 v3, 128-bit random serial, SHA-256, basicConstraints
 * critical CA:TRUE pathlen:0, keyUsage critical keyCertSign cRLSign
 * digitalSignature, subjectKeyIdentifier, authorityKeyIdentifier (itself).
 */
#ifndef PI_PROXY_CA_H
#define PI_PROXY_CA_H

#include <stddef.h>

#include <openssl/evp.h>
#include <openssl/x509.h>

#include "proxy/forge.h"

#define CA_DEFAULT_DAYS 730

/* Create DIR (mode 0700) if it does not exist, then DIR/ca.pem and
 * DIR/ca.key. Refuses to overwrite either unless force. Returns 0, or -1
 * with err set. */
int ca_init(const char *dir, enum forge_key kt, int days, int force, char *err, size_t errlen);

/* Load DIR/ca.pem and DIR/ca.key; check the key's mode (no group or other
 * access), that the key matches, and that the certificate is a CA. On
 * success returns 0 and two new references the caller frees. */
int ca_load(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errlen);

/* SHA-256 fingerprint of a certificate, "AB:CD:..." (len >= 96). */
void ca_fingerprint(X509 *x, char *buf, size_t len);

#endif
