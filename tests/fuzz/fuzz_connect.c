/* fuzz_connect.c: fuzz target for the proxy's CONNECT head parser (src/proxy/http.h).
 *
 * Input: the bytes a client sent first. Every prefix length that ends a
 * line is parsed too, as the proxy parses what has arrived so far: an
 * answer of HTTP_OK must report a head inside the bytes, and a prefix of a
 * complete head must never be judged complete before its blank line.
 */
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "proxy/http.h"

static int parse(const uint8_t *data, size_t size, struct connect_req *req, size_t *used)
{
	int rc;
	memset(req, 0x5a, sizeof(*req));
	*used = (size_t)-1;
	rc = http_parse_connect(data, size, req, used);
	if (rc == HTTP_OK) {
		if (*used == 0 || *used > size)
			abort(); /* the head lies inside the bytes */
		if (!memchr(req->host, '\0', sizeof(req->host)) || !req->host[0] || req->port == 0)
			abort();
	}
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct connect_req req;
	size_t used, used_all;
	int rc_all = parse(data, size, &req, &used_all);
	for (size_t n = 1; n < size && n <= HTTP_MAX_HEAD + 1; n++) {
		if (data[n - 1] != '\n')
			continue;
		int rc = parse(data, n, &req, &used);
		if (rc == HTTP_OK && rc_all == HTTP_OK && used != used_all)
			abort(); /* the same head, wherever the bytes end */
	}
	(void)http_reply(200);
	(void)http_reply(400);
	return 0;
}
