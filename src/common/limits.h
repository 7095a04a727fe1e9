/* limits.h: every cap on what grows, in one place (doc/json-schema.md lists the counters).
 *
 * Each cap, when hit, is counted in struct pi_caps and reported in the
 * output, so a result is never silently partial.
 */
#ifndef PI_LIMITS_H
#define PI_LIMITS_H

#include <stdint.h>

#define PI_MAX_PACKET        262144u   /* largest captured packet accepted (bytes) */
#define PI_MAX_FLOWS         1000000u  /* concurrently open flows */
#define PI_FLOW_IDLE_NS      (300ull * 1000000000ull) /* idle flow finalised after 300 s */
#define PI_REASM_MAX_OOO     (256u * 1024u) /* out-of-order bytes held per direction */
#define PI_REASM_MAX_SEGS    256u      /* out-of-order segments held per direction */
#define PI_TLS_MAX_HS_MSG    (128u * 1024u) /* largest handshake message buffered */
#define PI_TLS_MAX_CERTS     10u       /* certificates kept per chain */
#define PI_FRAG_MAX_DGRAMS   4096u     /* IP datagrams under reassembly at once */
#define PI_FRAG_MAX_BYTES    65535u    /* largest reassembled datagram */
#define PI_FRAG_TIMEOUT_NS   (30ull * 1000000000ull)
#define PI_DNS_MAX_NAMES     200000u   /* distinct (name, type) DNS records kept */
#define PI_DNS_MAX_CHAIN     16u       /* CNAME chain depth followed */
#define PI_NDPI_MAX_PKTS     24u       /* packets per flow given to nDPI at most */

/* Budgets across all flows, on top of the per-flow caps above (which alone
 * would allow PI_MAX_FLOWS times as much). */
#define PI_REASM_BUDGET      (64u << 20) /* out-of-order bytes held, all flows together */
#define PI_TLS_HS_BUDGET     (64u << 20) /* TLS handshake buffer bytes, all flows together */

/* Ranking: "dns-blocked" candidates kept (one per never-answered name,
 * 5 KB each: 20 MB at most); those with the most unanswered queries are
 * kept, the others counted (JSON limits "dns_blocked_dropped"). */
#define PI_RANK_MAX_DNS_BLOCKED 4096u

/* Counters of caps hit and anomalies, reported in JSON "limits" and the report. */
struct pi_caps {
	uint64_t flows_evicted;     /* open flows finalised early: flow cap */
	uint64_t reasm_dropped;     /* out-of-order bytes dropped: per-flow cap */
	uint64_t reasm_gaps;        /* sequence gaps skipped: segments missing from the capture */
	uint64_t reasm_gaps_forced; /* holes skipped before they could fill: out-of-order cap or budget full */
	uint64_t reasm_budget_hits; /* ... of which forced by PI_REASM_BUDGET (all flows) */
	uint64_t tls_msg_too_big;   /* handshake messages over the buffer cap */
	uint64_t frag_dropped;      /* fragments dropped: table or size cap, timeout */
	uint64_t dns_names_dropped; /* DNS records not kept: table cap */
	uint64_t packets_truncated; /* packets cut by snaplen */
	uint64_t packets_undecoded; /* packets whose link/IP layer could not be read */
	uint64_t tls_budget_hits;   /* handshake messages skipped: PI_TLS_HS_BUDGET full */
	uint64_t alloc_failures;    /* allocations that failed in the analysis: data lost (exit 4) */
	/* gauges against the budgets (bytes held now; not reported) */
	uint64_t reasm_held;        /* out-of-order bytes held, all flows */
	uint64_t tls_hs_held;       /* TLS handshake buffer bytes, all flows */
};

#endif
