/* http.h: the one HTTP request the proxy reads: CONNECT (RFC 9110 9.3.6).
 *
 *   CONNECT host:port HTTP/1.1 CRLF
 *   Host: host:port CRLF          (any header lines: skipped, not trusted)
 *   CRLF
 *
 * host is a registered name, an IPv4 literal or an IPv6 literal in
 * brackets (RFC 3986 3.2.2); port is 1..65535 in decimal. Nothing else is
 * accepted: a proxy that relays only what it can name is not an open relay.
 */
#ifndef PI_PROXY_HTTP_H
#define PI_PROXY_HTTP_H

#include <stddef.h>
#include <stdint.h>

#define HTTP_MAX_HEAD 8192u /* request line + headers, bytes */

enum http_rc {
	HTTP_OK = 0,        /* a complete CONNECT: req filled, *used = bytes of the head */
	HTTP_NEED_MORE,     /* no blank line yet and fewer than HTTP_MAX_HEAD bytes */
	HTTP_BAD,           /* malformed: answer 400 */
	HTTP_NOT_CONNECT,   /* another method: answer 405 */
	HTTP_TOO_BIG,       /* no end of the head within HTTP_MAX_HEAD: answer 431 */
};

struct connect_req {
	char host[256];     /* without brackets; lower case */
	uint16_t port;
	uint8_t host_is_ip; /* 4 or 6 for a literal, 0 for a name */
	uint8_t minor;      /* HTTP/1.minor */
};

/* Parse the head of a request from the bytes received so far. Any bytes
 * after the head (a client that does not wait for the 200) are the
 * tunnel's first bytes: they start at buf + *used. */
enum http_rc http_parse_connect(const uint8_t *buf, size_t len, struct connect_req *req, size_t *used);

/* The status line + headers to answer rc with (a static string). */
const char *http_reply(int status);

#endif
