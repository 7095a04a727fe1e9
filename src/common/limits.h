/* limits.h: every cap on what grows, in one place (see doc/limits.md).
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

/* Counters of caps hit and anomalies, reported in JSON "limits" and the report. */
struct pi_caps {
	uint64_t flows_evicted;     /* open flows finalised early: flow cap */
	uint64_t reasm_dropped;     /* out-of-order bytes dropped: per-flow cap */
	uint64_t reasm_gaps;        /* sequence gaps skipped (missing segments) */
	uint64_t tls_msg_too_big;   /* handshake messages over the buffer cap */
	uint64_t frag_dropped;      /* fragments dropped: table or size cap, timeout */
	uint64_t dns_names_dropped; /* DNS records not kept: table cap */
	uint64_t packets_truncated; /* packets cut by snaplen */
	uint64_t packets_undecoded; /* packets whose link/IP layer could not be read */
};

#endif
