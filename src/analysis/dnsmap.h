/* dnsmap.h: the DNS tracker: query/response matching, per-name aggregates,
 * CNAME chains and the time-aware address -> name map.
 * RFC 1035 (messages), RFC 2308 (negative answers: SOA minimum), RFC 6891.
 *
 * Matching is Wireshark's (epan/dissectors/packet-dns.c, 4.0), so that each
 * query's answered / response frame equals tshark's dns.response_in:
 *  - transactions are kept per conversation (transport, both addresses and
 *    ports, either direction) and transaction id;
 *  - a query opens a new transaction unless the latest transaction with that
 *    id in that conversation is unanswered and began less than 5 s before
 *    (dns.retransmission_timer): then it is a retransmission, which never
 *    shows a response itself (the first query of the transaction does);
 *  - a response answers the latest transaction with its id if that one is
 *    still unanswered; otherwise it is a retransmitted (or unsolicited)
 *    response and answers nothing;
 *  - tshark adds response_in to a query only after dissecting the whole
 *    query: a query cut by the snap length or malformed is matched (it
 *    consumes its response) but shows no response (answered = n).
 * mDNS and LLMNR are counted apart and not matched (not in dns[]).
 *
 * Memory is bounded: names and (name, type) records by PI_DNS_MAX_NAMES
 * (drops counted in caps->dns_names_dropped), open transactions by
 * DNS_MAX_PENDING (oldest evicted first, counted), the address map by
 * DNS_MAX_ADDRMAP keys (expired keys are freed first, see dns_set_horizon;
 * then the oldest evicted, counted), the optional per-query log by
 * DNS_QLOG_MAX rows (counted), and two fixed memos of name look-ups
 * (wire form and SNI, about 160 KB). Every per-packet lookup is a hash
 * lookup.
 */
#ifndef PI_DNSMAP_H
#define PI_DNSMAP_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "common/limits.h"

struct jw;
struct dns_tracker;

#define DNS_REC_MAX_ADDRS   16        /* addresses kept per (name, type) */
#define DNS_MAX_PENDING     131072u   /* open transactions kept per input */
#define DNS_MAX_ADDRMAP     262144u   /* (client, server) keys kept per input */
#define DNS_ADDR_HIST       4         /* answers remembered per key */
#define DNS_QLOG_MAX        (1u << 20) /* rows of the per-query log */
#define DNS_RETRANS_NS      (5ull * 1000000000ull) /* Wireshark's retransmission_timer */
#define DNS_ATTR_GRACE_NS   (600ull * 1000000000ull) /* use an answer up to TTL + 10 min */
#define DNS_ATTR_SKEW_NS    (1ull * 1000000000ull)   /* answer may postdate ts by 1 s */
#define DNS_EXPIRE_SLACK_NS (600ull * 1000000000ull) /* address-map expiry: timestamps out of order */
#define DNS_AMAP_SWEEP_MIN  16384u    /* live address-map keys before the first expiry sweep */

/* An address learned for a record, with the TTL of its latest answer. */
struct dns_addr_ttl {
	uint8_t ver;      /* 4 or 6 */
	uint8_t a[16];    /* IPv4 in the first 4 bytes */
	uint32_t ttl;
};

/* Aggregate per (queried name, query type). Strings are interned: owned by
 * the tracker, valid until dns_tracker_free(). */
struct dns_rec {
	const char *name;          /* lower-case, escaped as in dns.h; "." = root */
	uint16_t qtype;
	uint32_t queries;          /* query messages, retransmissions included */
	uint32_t retransmissions;  /* queries that were retransmissions */
	uint32_t transactions;     /* queries that opened a transaction */
	uint32_t answered;         /* transactions that got a response */
	uint32_t unanswered;       /* transactions known never answered (at input end) */
	uint32_t unsolicited;      /* responses for this name that matched no query */
	int last_rcode;            /* extended rcode of the latest response, -1 if none */
	uint8_t nchain;            /* CNAME targets after name, in chain order */
	uint8_t sinkhole;          /* see dns_write_json / DNS_SINKHOLE rule in dnsmap.c */
	uint8_t has_ttl;
	uint8_t has_neg_ttl;
	const char *chain[PI_DNS_MAX_CHAIN];
	uint8_t naddr;
	uint32_t addr_dropped;     /* distinct addresses beyond DNS_REC_MAX_ADDRS */
	struct dns_addr_ttl addr[DNS_REC_MAX_ADDRS];
	uint32_t ttl_min;          /* smallest TTL of the chain and addresses seen */
	uint32_t neg_ttl;          /* SOA minimum of the latest negative answer */
	uint64_t first_frame, last_frame; /* query frames (response frames if no query) */
	int first_input, last_input;
};

/* Result of dns_attribute(). All pointers are interned strings owned by the
 * tracker, valid until dns_tracker_free() (they survive dns_next_input()). */
struct dns_attr {
	const char *name;          /* the name the client asked for (chain head) */
	int nchain;                /* names in chain, chain[0] == name */
	const char *const *chain;  /* name > cname > ... > last cname */
	uint32_t ttl;              /* TTL of the address record used (0 via SNI) */
	uint64_t answer_ts_ns;     /* when the answer was seen */
	uint64_t frame;            /* response frame it came from */
	int input;
	uint8_t same_client;       /* learned from an answer to this very client */
	uint8_t via_sni;           /* found through the SNI, not the address */
};

/* Counters for the report and JSON "limits". */
struct dns_stats {
	uint64_t messages;         /* DNS messages given (mDNS/LLMNR excluded) */
	uint64_t queries, responses;
	uint64_t short_msgs;       /* under 4 bytes: no id/flags */
	uint64_t incomplete;       /* cut or malformed (parse status != OK) */
	uint64_t unsolicited;      /* responses matching no transaction */
	uint64_t resp_retrans;     /* responses to an already answered transaction */
	uint64_t pending_evicted;  /* open transactions dropped: DNS_MAX_PENDING */
	uint64_t addrmap_evicted;  /* address-map keys dropped before expiry: DNS_MAX_ADDRMAP */
	uint64_t addrmap_expired;  /* address-map keys freed once expired (not a limit) */
	uint64_t qlog_dropped;     /* query rows not logged: DNS_QLOG_MAX */
	uint64_t mdns_queries, mdns_responses;
	uint64_t llmnr_queries, llmnr_responses;
};

/* New tracker. caps may be NULL; if not, record drops are counted in it and
 * it must outlive the tracker. Returns NULL when out of memory. */
struct dns_tracker *dns_tracker_new(struct pi_caps *caps);

/* Free the tracker and everything it owns (interned names included). NULL ok. */
void dns_tracker_free(struct dns_tracker *t);

/* Start input number input_index (a new capture file). Open transactions of
 * the previous input are finalised (unanswered), and the transaction table
 * and address map are emptied; per-name aggregates persist. */
void dns_next_input(struct dns_tracker *t, int input_index);

/* The address map frees a (client, server) key once all its answers are
 * past TTL + 10 minutes (DNS_ATTR_GRACE_NS) as of the horizon: fn(ctx)
 * returns the start time of the oldest connection that may still call
 * dns_attribute() (UINT64_MAX if none); the time of the latest answer is
 * used when it is earlier, and DNS_EXPIRE_SLACK_NS is taken off either.
 * Attribution is unchanged as long as no call passes a ts_ns before that
 * horizon. Without fn (the default) keys never expire. */
void dns_set_horizon(struct dns_tracker *t, uint64_t (*fn)(void *ctx), void *ctx);

/* Enable (1) or disable (0) the per-query row log used by
 * dns_write_queries_tsv(). Off by default; bounded by DNS_QLOG_MAX rows. */
void dns_set_query_log(struct dns_tracker *t, int on);

/* One DNS message. kind: DNS_KIND_DNS / MDNS / LLMNR (dissectors/dns.h);
 * transport 17 (UDP) or 6 (TCP; one call per framed message, with the frame
 * of the segment that completed it); ipver 4 or 6; addresses 16 bytes (IPv4
 * in the first 4). msg/len: the message as captured (may be cut); not kept
 * after the call. Do not pass DNS quoted inside ICMP errors. */
void dns_track_msg(struct dns_tracker *t, int kind, int transport, int ipver,
                   const uint8_t src[16], uint16_t sport,
                   const uint8_t dst[16], uint16_t dport,
                   const uint8_t *msg, size_t len, uint64_t frame, uint64_t ts_ns);

/* The name a client asked for before connecting to server at ts_ns.
 * Without sni: the most recent answer seen at or before ts_ns (+1 s skew)
 * that gave server's address, to this client first, then to any client; an
 * answer is not used once ts_ns is past its TTL + 10 minutes.
 * With sni (any case, trailing dot ignored): only answers consistent with
 * the SNI count: first the most recent valid answer for this address whose
 * chain holds the SNI (this client first, then any); else, if the SNI is a
 * queried name or a CNAME target (CDN name) of this input's answers, that
 * chain (via_sni = 1); else 0, so an unrelated name that last resolved to a
 * shared address never replaces an SNI (call with sni NULL for the purely
 * address-based answer). Returns 1 and fills *out, or 0 (out zeroed). */
int dns_attribute(struct dns_tracker *t, int ipver, const uint8_t client[16],
                  const uint8_t server[16], uint64_t ts_ns, const char *sni,
                  struct dns_attr *out);

/* A number that changes whenever dns_attribute's answers may (a message
 * tracked, an input begun, the end): an answer kept with the number it was
 * given under still holds while the number is the same. */
uint64_t dns_generation(const struct dns_tracker *t);

/* End of all input: open transactions are finalised as unanswered. */
void dns_finish(struct dns_tracker *t);

/* Records in the order their name and type were first seen (first query, or
 * first unsolicited response, across inputs). dns_get returns NULL past the
 * end; the pointer stays valid until dns_tracker_free(), its contents change
 * as messages arrive. */
size_t dns_count(const struct dns_tracker *t);
const struct dns_rec *dns_get(const struct dns_tracker *t, size_t i);

/* Counters. Never NULL for a live tracker. */
const struct dns_stats *dns_get_stats(const struct dns_tracker *t);

/* Write the value of the "dns" key: an array of
 * {"name","qtype","qtype_code","queries","retransmissions","answered",
 *  "unanswered","rcode" (text or null),"chain":[...],"addresses":[...],
 *  "ttl_min" (or null),"first_frame","last_frame","input" (of first_frame),
 *  "last_input" (of last_frame),"sinkhole"}. Frame numbers count within
 *  their input. */
void dns_write_json(struct dns_tracker *t, struct jw *w);

/* Human DNS section: counts, unanswered names (tries, frames), names with
 * NXDOMAIN / SERVFAIL / REFUSED / other errors, sinkholed names. color != 0
 * uses ANSI colours. Safe with no DNS at all. */
void dns_write_report(struct dns_tracker *t, FILE *f, int color);

/* One row per query message, in the exact format of the corpus truth files
 * (truth/NAME.dns.tsv: header line included). Needs dns_set_query_log(t, 1)
 * before the messages; writes only the header otherwise. */
void dns_write_queries_tsv(struct dns_tracker *t, FILE *f);

#endif
