/* http.c: parse a CONNECT request head (RFC 9110 9.3.6, RFC 9112 3). */
#include "proxy/http.h"

#include <arpa/inet.h>
#include <string.h>

#include "common/util.h"
#include "proxy/rules.h"

/* The end of the head: the first CRLF CRLF (or bare LF LF, RFC 9112 2.2).
 * Returns the length of the head including the blank line, 0 if absent. */
static size_t head_len(const uint8_t *buf, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (buf[i] != '\n')
			continue;
		if (i + 1 < len && buf[i + 1] == '\n')
			return i + 2;
		if (i + 2 < len && buf[i + 1] == '\r' && buf[i + 2] == '\n')
			return i + 3;
	}
	return 0;
}

static int parse_port(const uint8_t *p, size_t n, uint16_t *port)
{
	unsigned v = 0;
	if (n == 0 || n > 5)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (p[i] < '0' || p[i] > '9')
			return -1;
		v = v * 10 + (unsigned)(p[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port = (uint16_t)v;
	return 0;
}

/* authority-form "host:port" (RFC 9112 3.2.3) */
static int parse_authority(const uint8_t *p, size_t n, struct connect_req *req)
{
	const uint8_t *colon;
	size_t hlen;
	unsigned char addr[16];

	if (n == 0)
		return -1;
	if (p[0] == '[') {
		const uint8_t *rb = memchr(p, ']', n);
		if (!rb || rb + 1 >= p + n || rb[1] != ':')
			return -1;
		hlen = (size_t)(rb - p - 1);
		if (hlen == 0 || hlen >= sizeof(req->host))
			return -1;
		memcpy(req->host, p + 1, hlen);
		req->host[hlen] = '\0';
		if (inet_pton(AF_INET6, req->host, addr) != 1)
			return -1;
		req->host_is_ip = 6;
		colon = rb + 1;
	} else {
		colon = NULL;
		for (size_t i = n; i > 0; i--)
			if (p[i - 1] == ':') {
				colon = p + i - 1;
				break;
			}
		if (!colon)
			return -1;
		hlen = (size_t)(colon - p);
		if (hlen == 0 || hlen >= sizeof(req->host) || memchr(p, ':', hlen))
			return -1;
		memcpy(req->host, p, hlen);
		req->host[hlen] = '\0';
		switch (rules_valid_name(req->host)) {
		case 1:
			req->host_is_ip = 0;
			break;
		case 2:
			req->host_is_ip = 4;
			break;
		default:
			return -1;
		}
	}
	pi_lower(req->host);
	return parse_port(colon + 1, (size_t)(p + n - colon - 1), &req->port);
}

enum http_rc http_parse_connect(const uint8_t *buf, size_t len, struct connect_req *req, size_t *used)
{
	size_t head, lend, sp1, sp2;
	static const char method[] = "CONNECT ";

	memset(req, 0, sizeof(*req));
	*used = 0;
	/* a method is a token (RFC 9110 5.6.2): anything else is not HTTP */
	for (size_t i = 0; i < len && buf[i] != ' '; i++)
		if (buf[i] < 0x21 || buf[i] > 0x7e || i >= 32)
			return HTTP_BAD;
	head = head_len(buf, len > HTTP_MAX_HEAD ? HTTP_MAX_HEAD : len);
	if (!head)
		return len >= HTTP_MAX_HEAD ? HTTP_TOO_BIG : HTTP_NEED_MORE;
	for (size_t i = 0; i < head; i++)
		if (buf[i] == 0 || (buf[i] < 0x20 && buf[i] != '\r' && buf[i] != '\n' && buf[i] != '\t'))
			return HTTP_BAD; /* NUL and controls (RFC 9110 5.5) */
	lend = (size_t)((const uint8_t *)memchr(buf, '\n', head) - buf);
	if (lend && buf[lend - 1] == '\r')
		lend--;
	if (lend < sizeof(method) - 1 || memcmp(buf, method, sizeof(method) - 1) != 0) {
		const uint8_t *sp = memchr(buf, ' ', lend);
		return sp && sp != buf ? HTTP_NOT_CONNECT : HTTP_BAD;
	}
	sp1 = sizeof(method) - 1;
	{
		const uint8_t *sp = memchr(buf + sp1, ' ', lend - sp1);
		if (!sp)
			return HTTP_BAD;
		sp2 = (size_t)(sp - buf);
	}
	if (parse_authority(buf + sp1, sp2 - sp1, req) < 0)
		return HTTP_BAD;
	/* "HTTP/1.x" and nothing after it */
	if (lend - sp2 - 1 != 8 || memcmp(buf + sp2 + 1, "HTTP/1.", 7) != 0 || buf[sp2 + 8] < '0' ||
	    buf[sp2 + 8] > '9')
		return HTTP_BAD;
	req->minor = (uint8_t)(buf[sp2 + 8] - '0');
	*used = head;
	return HTTP_OK;
}

const char *http_reply(int status)
{
	switch (status) {
	case 200:
		return "HTTP/1.1 200 Connection established\r\n\r\n";
	case 400:
		return "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	case 403:
		return "HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	case 405:
		return "HTTP/1.1 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Length: 0\r\n"
		       "Connection: close\r\n\r\n";
	case 431:
		return "HTTP/1.1 431 Request Header Fields Too Large\r\nContent-Length: 0\r\n"
		       "Connection: close\r\n\r\n";
	case 502:
		return "HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	case 503:
		return "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	default:
		return "HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	}
}
