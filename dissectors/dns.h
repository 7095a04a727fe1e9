/* dns.h: DNS message parser and DNS-over-TCP framing.
 * RFC 1035 4.1 (message format, 4.1.4 compression), RFC 3596 (AAAA),
 * RFC 6891 (EDNS(0) OPT), RFC 9460 (SVCB/HTTPS), RFC 7766 (DNS over TCP),
 * RFC 6762 (mDNS), RFC 4795 (LLMNR).
 *
 * Message layout (RFC 1035 4.1.1), all integers big-endian:
 *
 *     0  1  2  3  4  5  6  7  8  9 10 11 12 13 14 15
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   |                      ID                       |
 *   |QR|  Opcode   |AA|TC|RD|RA| Z|AD|CD|   RCODE   |
 *   |                    QDCOUNT                    |
 *   |                    ANCOUNT                    |
 *   |                    NSCOUNT                    |
 *   |                    ARCOUNT                    |
 *   +--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+--+
 *   question:  QNAME (labels or pointer)  QTYPE  QCLASS
 *   each RR:   NAME  TYPE  CLASS  TTL(32)  RDLENGTH  RDATA[RDLENGTH]
 *   name:      len(0..63) label ... 0,  or 11xxxxxx xxxxxxxx pointer
 *   TCP:       LENGTH(16) MESSAGE[LENGTH], repeated
 *
 * The parser reads into a caller-provided struct dns_msg (fixed arrays, no
 * allocation). Names are kept as offsets into the message and turned into
 * text on demand with dns_name_text(); every name was fully validated while
 * parsing. Compression pointers must point strictly backwards, before the
 * start of the label sequence that contains them (tcpdump's rule), which
 * makes loops impossible; hops are also capped (DNS_MAX_HOPS). Labels are
 * <= 63 bytes, names <= 255 bytes on the wire.
 */
#ifndef PI_DNS_H
#define PI_DNS_H

#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN       12
#define DNS_MAX_AN        32   /* answer RRs kept (the rest are counted) */
#define DNS_MAX_NS        8    /* authority RRs kept */
#define DNS_MAX_AR        8    /* additional RRs kept */
#define DNS_MAX_HOPS      64   /* compression pointers followed per name */
#define DNS_MAX_ALPN      8    /* SVCB alpn ids kept */
#define DNS_MAX_V4HINT    8
#define DNS_MAX_V6HINT    4
#define DNS_NAME_WIRE_MAX 255  /* RFC 1035 3.1 */
/* Text of a name: 255 wire bytes, each at worst "\DDD" (4 chars), plus NUL. */
#define DNS_NAME_TEXT_MAX 1024
#define DNS_TCP_MAX_MSG   65535u

/* RR types with decoded rdata */
#define DNS_T_A      1
#define DNS_T_NS     2
#define DNS_T_CNAME  5
#define DNS_T_SOA    6
#define DNS_T_PTR    12
#define DNS_T_MX     15
#define DNS_T_TXT    16
#define DNS_T_AAAA   28
#define DNS_T_SRV    33
#define DNS_T_DNAME  39
#define DNS_T_OPT    41
#define DNS_T_SVCB   64
#define DNS_T_HTTPS  65

/* Parse status (struct dns_msg.status and dns_parse()'s return value). */
enum dns_status {
	DNS_OK = 0,     /* every section parsed (trailing bytes allowed: see end) */
	DNS_ETRUNC = 1, /* the bytes ran out: cut by snaplen, or counts larger
	                   than the message; what was parsed before is kept */
	DNS_EBAD = -1   /* malformed: bad label type, label/name too long,
	                   pointer not strictly backwards, too many hops, a name
	                   or field running out of its RDATA */
};

enum dns_section { DNS_SEC_AN = 0, DNS_SEC_NS = 1, DNS_SEC_AR = 2 };

struct dns_svcb {
	uint16_t priority;       /* 0 = alias form */
	uint16_t target;         /* offset of TargetName in the message */
	uint16_t port;
	uint8_t has_port;
	uint8_t ech;             /* ech (key 5) present */
	uint8_t no_default_alpn;
	uint8_t nalpn;           /* alpn ids kept (<= DNS_MAX_ALPN) */
	uint8_t nv4, nv6;        /* hints kept */
	struct { uint16_t off; uint8_t len; } alpn[DNS_MAX_ALPN]; /* bytes in the message */
	uint8_t v4[DNS_MAX_V4HINT][4];
	uint8_t v6[DNS_MAX_V6HINT][16];
};

struct dns_rr {
	uint8_t section;         /* enum dns_section */
	uint8_t rdata_ok;        /* 1 if the type-specific RDATA below was decoded */
	uint16_t name;           /* offset of the owner name in the message */
	uint16_t type, rclass;
	uint32_t ttl;
	uint16_t rdoff, rdlen;   /* RDATA range in the message */
	union {
		uint8_t a[4];                    /* A */
		uint8_t aaaa[16];                /* AAAA */
		uint16_t target;                 /* CNAME NS PTR DNAME MX SRV: name offset */
		struct {
			uint16_t mname, rname;   /* name offsets */
			uint32_t serial, minimum;
		} soa;
		struct {
			uint16_t udp_size;       /* CLASS of OPT */
			uint8_t ext_rcode;       /* upper 8 bits of the 12-bit rcode */
			uint8_t version;
			uint16_t flags;          /* DO bit 0x8000 */
		} opt;
		struct dns_svcb svcb;            /* SVCB, HTTPS */
	} u;
};

struct dns_msg {
	const uint8_t *buf;      /* the message (not owned; must outlive name lookups) */
	size_t len;
	uint8_t status;          /* enum dns_status (as stored: 0, 1, 255) */
	uint8_t have_hdr;        /* the 12-byte header was present */
	uint16_t id, flags;
	uint8_t qr, opcode, aa, tc, rd, ra, ad, cd, rcode;
	uint16_t qdcount, ancount, nscount, arcount;
	uint8_t have_q;          /* the first question parsed */
	uint16_t qname;          /* offset of the first question's name */
	uint16_t qtype, qclass;
	uint16_t nq_parsed;      /* questions parsed */
	uint16_t nrr_parsed[3];  /* RRs parsed per section (kept or not) */
	uint8_t nan, nns, nar;   /* RRs kept */
	uint32_t rr_dropped;     /* parsed but not kept (arrays full) */
	uint8_t have_opt;
	uint16_t edns_udp;
	uint16_t ext_rcode;      /* rcode | OPT ext_rcode << 4 */
	size_t end;              /* offset after the last byte parsed */
	struct dns_rr an[DNS_MAX_AN];
	struct dns_rr ns[DNS_MAX_NS];
	struct dns_rr ar[DNS_MAX_AR];
};

/* Parse one DNS message (without the TCP length prefix) into *m. Never reads
 * outside buf[0..len); never allocates. Returns DNS_OK, DNS_ETRUNC or
 * DNS_EBAD (also stored in m->status); on an error, the header, question and
 * RRs parsed before the failure stay in *m. m->buf/len keep buf/len: names in
 * *m are offsets into buf. */
int dns_parse(const uint8_t *buf, size_t len, struct dns_msg *m);

/* Text of the name at offset off of a parsed message: labels joined with
 * '.', no trailing dot, "" for the root. Bytes outside 0x21..0x7e, '.' inside
 * a label and '\' are written as \DDD (decimal, RFC 1035 5.1). lower != 0
 * lower-cases A-Z. out is always NUL-terminated (outlen >= 1;
 * DNS_NAME_TEXT_MAX always fits; a smaller buffer gets the text up to the
 * first character or escape that does not fit). Returns the length written,
 * or -1 if the name does not decode (out then holds what decoded). */
int dns_name_text(const uint8_t *msg, size_t len, uint16_t off, char *out, size_t outlen, int lower);

/* Validate the name at off and find where it ends in place. Returns PI-style:
 * DNS_OK with *next = offset after the name (after the first pointer, if
 * any), DNS_ETRUNC or DNS_EBAD. */
int dns_name_skip(const uint8_t *msg, size_t len, size_t off, size_t *next);

/* Kinds of name-service message told apart by dns_probe_udp(). */
enum dns_kind { DNS_KIND_NONE = 0, DNS_KIND_DNS = 1, DNS_KIND_MDNS = 2, DNS_KIND_LLMNR = 3 };

/* Is this UDP payload DNS, mDNS or LLMNR? Like Wireshark: the lower of the
 * two ports is tried first: 53 -> DNS, 5353 -> MDNS, 5355 -> LLMNR (any
 * non-empty payload). On other ports, DNS only if the payload parses fully
 * as one message (DNS_OK and every byte consumed) with sane counts: QDCOUNT
 * == 1, opcode 0..5, ANCOUNT <= 100, NSCOUNT <= 10, ARCOUNT <= 10 (the
 * limits of Wireshark's dns_udp heuristic), a standard query carries no
 * answers, and the class is IN/CH/HS/NONE/ANY. Port 137 (NetBIOS name
 * service, same format) is never DNS. Pure function, no allocation. */
int dns_probe_udp(const uint8_t *p, size_t len, uint16_t sport, uint16_t dport);

/* Is a TCP connection between these ports DNS? Wireshark's default TCP
 * range for DNS: 53 and 5353. Returns DNS_KIND_DNS or DNS_KIND_NONE. */
int dns_probe_tcp_ports(uint16_t sport, uint16_t dport);

/* Text for a type / rcode: "A", "AAAA", "HTTPS" ... or "TYPE123";
 * "NOERROR", "NXDOMAIN" ... or "RCODE23". Static strings, except the
 * fallbacks, which are written to buf (>= 16 bytes) and returned. */
const char *dns_type_name(uint16_t type, char *buf, size_t buflen);
const char *dns_rcode_name(unsigned rcode, char *buf, size_t buflen);

/* ---- DNS over TCP framing (RFC 7766 8: two-byte length, then message) ----
 *
 * One struct dns_tcp_dir per TCP flow direction, zero-initialised by the
 * owner. It holds the length prefix and, only while a message is split
 * across chunks, a buffer of exactly that message's size (<= 65535 bytes,
 * allocated lazily, freed with dns_tcp_dir_free()). Whole messages inside a
 * chunk are handed out in place, without a copy. */
struct dns_tcp_dir {
	uint8_t lenbuf[2];
	uint8_t nlen;       /* bytes of the length prefix seen (0..2) */
	uint8_t dead;       /* allocation failed: stop framing this direction */
	uint16_t need;      /* message length, valid once nlen == 2 */
	uint16_t have;      /* message bytes buffered */
	uint32_t cap;       /* size of buf */
	uint8_t *buf;
};

/* Called for each complete message (len may be 0). msg is valid only during
 * the call. */
typedef void (*dns_tcp_cb)(void *ctx, const uint8_t *msg, size_t len);

/* Feed in-order stream bytes in any chunking. Calls cb once per complete
 * message, in order. Returns the number of messages delivered, or -1 if the
 * direction is dead (buffer allocation failed; later calls deliver nothing). */
int dns_tcp_feed(struct dns_tcp_dir *d, const uint8_t *data, size_t len, dns_tcp_cb cb, void *ctx);

/* Bytes were lost (a TCP gap): drop the partial message, resynchronise at the
 * next byte as a length prefix. */
void dns_tcp_gap(struct dns_tcp_dir *d);

/* Free the buffer; *d is zeroed and may be fed again. */
void dns_tcp_dir_free(struct dns_tcp_dir *d);

#endif
