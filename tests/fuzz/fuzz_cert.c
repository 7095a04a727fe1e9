/* fuzz_cert.c: fuzz target for certificate handling (dissectors/tls_cert.h).
 *
 * Input: the DER bytes of one certificate, as a Certificate message would
 * carry it. cert_parse() must never read outside them, leak, or leave a
 * field unterminated or holding anything but printable ASCII.
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>

#include "dissectors/tls_cert.h"
#include "fuzz.h"

static void check_text(const char *s, size_t cap)
{
	const char *end = memchr(s, '\0', cap);
	if (!end)
		abort(); /* not NUL-terminated within its buffer */
	for (size_t i = 0; s + i < end; i++)
		if ((unsigned char)s[i] < 0x20 || (unsigned char)s[i] > 0x7e)
			abort(); /* tls_cert.h: escaped, printable ASCII only */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cert_info ci;
	memset(&ci, 0x5a, sizeof(ci)); /* garbage in: every field must be written */
	int rc = cert_parse(data, size, &ci);
	/* OpenSSL's per-thread error queue holds allocated strings from one call
	 * to the next (a ring of 16, so bounded); empty it so that each input
	 * frees what it allocated and libFuzzer's leak check stays quiet. */
	ERR_clear_error();
	if (rc != 0)
		return 0;
	check_text(ci.subject, sizeof(ci.subject));
	check_text(ci.issuer, sizeof(ci.issuer));
	check_text(ci.cn, sizeof(ci.cn));
	check_text(ci.san, sizeof(ci.san));
	check_text(ci.key_type, sizeof(ci.key_type));
	check_text(ci.sig_alg, sizeof(ci.sig_alg));
	check_text(ci.sha256, sizeof(ci.sha256));
	check_text(ci.spki_sha256, sizeof(ci.spki_sha256));
	check_text(ci.aki_hex, sizeof(ci.aki_hex));
	check_text(ci.ski_hex, sizeof(ci.ski_hex));
	return 0;
}
