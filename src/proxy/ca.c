/* ca.c: create and load the interception root (ca.h; RFC 5280 4.2.1). */
#include "proxy/ca.h"
#include "proxy/forge.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509v3.h>

#include "common/util.h"

static int path_in(char *buf, size_t len, const char *dir, const char *file)
{
	return (size_t)snprintf(buf, len, "%s/%s", dir, file) < len ? 0 : -1;
}

void ca_fingerprint(X509 *x, char *buf, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t o = 0;
	if (!len)
		return;
	buf[0] = '\0';
	if (X509_digest(x, EVP_sha256(), md, &n) != 1)
		return;
	for (unsigned i = 0; i < n && o + 4 <= len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%02X", i ? ":" : "", md[i]);
}

/* The root certificate for key k. Returns a new X509 or NULL. */
static X509 *make_root(EVP_PKEY *k, int days, char *err, size_t errlen)
{
	X509 *x = X509_new();
	X509_NAME *n = NULL;
	X509V3_CTX ctx;
	BIGNUM *bn = NULL;
	ASN1_INTEGER *serial = NULL;
	unsigned char rnd[16];
	char cn[96], host[64];

	if (!x || RAND_bytes(rnd, sizeof(rnd)) != 1)
		goto fail;
	rnd[0] &= 0x7f;
	rnd[0] |= 0x01;
	if (!(bn = BN_bin2bn(rnd, sizeof(rnd), NULL)) || !(serial = BN_to_ASN1_INTEGER(bn, NULL)))
		goto fail;
	if (X509_set_version(x, 2) != 1 || X509_set_serialNumber(x, serial) != 1)
		goto fail;
	if (!X509_gmtime_adj(X509_getm_notBefore(x), -86400L) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, NULL))
		goto fail;
	if (gethostname(host, sizeof(host)) != 0)
		pi_strlcpy(host, "localhost", sizeof(host));
	host[sizeof(host) - 1] = '\0';
	/* a distinct name per root, so two of them never get confused */
	snprintf(cn, sizeof(cn), "pinspect inspection CA %02x%02x%02x%02x", rnd[12], rnd[13], rnd[14], rnd[15]);
	if (!(n = X509_NAME_new()) ||
	    X509_NAME_add_entry_by_txt(n, "O", MBSTRING_ASC, (const unsigned char *)"pinspect", -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "OU", MBSTRING_UTF8, (const unsigned char *)host, -1, -1, 0) != 1 ||
	    X509_NAME_add_entry_by_txt(n, "CN", MBSTRING_ASC, (const unsigned char *)cn, -1, -1, 0) != 1)
		goto fail;
	if (X509_set_subject_name(x, n) != 1 || X509_set_issuer_name(x, n) != 1 || X509_set_pubkey(x, k) != 1)
		goto fail;
	X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
	if (forge_add_ext(x, &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0") < 0 ||
	    forge_add_ext(x, &ctx, NID_key_usage, "critical,keyCertSign,cRLSign,digitalSignature") < 0 ||
	    forge_add_ext(x, &ctx, NID_subject_key_identifier, "hash") < 0 ||
	    forge_add_ext(x, &ctx, NID_authority_key_identifier, "keyid:always") < 0)
		goto fail;
	if (X509_sign(x, k, EVP_sha256()) <= 0)
		goto fail;
	X509_NAME_free(n);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	return x;
fail:
	forge_ssl_error(err, errlen, "making the root certificate");
	X509_NAME_free(n);
	ASN1_INTEGER_free(serial);
	BN_free(bn);
	X509_free(x);
	return NULL;
}

/* Write PEM through a new file created with mode (never an existing one). */
static int write_new(const char *path, mode_t mode, X509 *cert, EVP_PKEY *key, char *err, size_t errlen)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode);
	FILE *f;
	int ok;
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fchmod(fd, mode) != 0) { /* whatever the umask */
		snprintf(err, errlen, "%s: chmod: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	f = fdopen(fd, "w");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		close(fd);
		unlink(path);
		return -1;
	}
	ok = cert ? PEM_write_X509(f, cert) : PEM_write_PrivateKey(f, key, NULL, NULL, 0, NULL, NULL);
	if (fclose(f) != 0 || ok != 1) {
		snprintf(err, errlen, "%s: write failed", path);
		ERR_clear_error();
		unlink(path);
		return -1;
	}
	return 0;
}

int ca_init(const char *dir, enum forge_key kt, int days, int force, char *err, size_t errlen)
{
	char kpath[4096], cpath[4096];
	struct stat st;
	EVP_PKEY *k = NULL;
	X509 *x = NULL;
	int rc = -1;

	if (days < 1 || days > 3650) {
		snprintf(err, errlen, "--days %d: between 1 and 3650", days);
		return -1;
	}
	if (path_in(kpath, sizeof(kpath), dir, "ca.key") < 0 || path_in(cpath, sizeof(cpath), dir, "ca.pem") < 0) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "%s: not a directory", dir);
		return -1;
	}
	if (!force && (lstat(kpath, &st) == 0 || lstat(cpath, &st) == 0)) {
		snprintf(err, errlen, "%s already holds a CA (ca.pem or ca.key): use --force to replace it", dir);
		return -1;
	}
	if (force) {
		if (unlink(kpath) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", kpath, strerror(errno));
			return -1;
		}
		if (unlink(cpath) != 0 && errno != ENOENT) {
			snprintf(err, errlen, "%s: %s", cpath, strerror(errno));
			return -1;
		}
	}
	k = forge_new_key(kt);
	if (!k) {
		forge_ssl_error(err, errlen, "generating the CA key");
		goto out;
	}
	x = make_root(k, days, err, errlen);
	if (!x)
		goto out;
	if (write_new(kpath, 0600, NULL, k, err, errlen) < 0)
		goto out;
	if (write_new(cpath, 0644, x, NULL, err, errlen) < 0) {
		unlink(kpath);
		goto out;
	}
	rc = 0;
out:
	X509_free(x);
	EVP_PKEY_free(k);
	return rc;
}

/* A passphrase callback that refuses: an encrypted key is reported, not
 * prompted for (the proxy may run without a terminal). */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
	(void)buf;
	(void)size;
	(void)rwflag;
	(void)u;
	return -1;
}

int ca_load(const char *dir, X509 **cert, EVP_PKEY **key, char *err, size_t errlen)
{
	char kpath[4096], cpath[4096];
	struct stat st;
	FILE *f = NULL;
	X509 *x = NULL;
	EVP_PKEY *k = NULL;
	int fd;

	*cert = NULL;
	*key = NULL;
	if (path_in(kpath, sizeof(kpath), dir, "ca.key") < 0 || path_in(cpath, sizeof(cpath), dir, "ca.pem") < 0) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	fd = open(kpath, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s (create one with: pinspect ca init %s)", kpath, strerror(errno), dir);
		return -1;
	}
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", kpath);
		close(fd);
		return -1;
	}
	if (st.st_mode & 077) {
		snprintf(err, errlen, "%s: readable by group or others (mode %04o): chmod 600 %s", kpath,
		         (unsigned)(st.st_mode & 07777), kpath);
		close(fd);
		return -1;
	}
	f = fdopen(fd, "r");
	if (!f) {
		snprintf(err, errlen, "%s: %s", kpath, strerror(errno));
		close(fd);
		return -1;
	}
	k = PEM_read_PrivateKey(f, NULL, no_passphrase, NULL);
	fclose(f);
	if (!k) {
		/* the text of OpenSSL's error can quote the file: say only what failed */
		ERR_clear_error();
		snprintf(err, errlen, "%s: not an unencrypted PEM private key", kpath);
		return -1;
	}
	f = fopen(cpath, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", cpath, strerror(errno));
		goto fail;
	}
	x = PEM_read_X509(f, NULL, NULL, NULL);
	fclose(f);
	if (!x) {
		forge_ssl_error(err, errlen, cpath);
		goto fail;
	}
	if (X509_check_private_key(x, k) != 1) {
		ERR_clear_error();
		snprintf(err, errlen, "%s does not match %s", cpath, kpath);
		goto fail;
	}
	if (X509_check_ca(x) < 1) {
		snprintf(err, errlen, "%s is not a CA certificate (basicConstraints CA:TRUE)", cpath);
		goto fail;
	}
	*cert = x;
	*key = k;
	return 0;
fail:
	X509_free(x);
	EVP_PKEY_free(k);
	return -1;
}
