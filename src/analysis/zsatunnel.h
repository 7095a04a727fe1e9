/* zsatunnel.h: Zscaler Client Connector ZSATunnel log lines, correlated by tunnel ID into per-host evidence.
 *
 * The lines that matter (Zscaler's guide quotes them; Windows and macOS
 * write the same layout, only the file names differ):
 *
 *   2024-07-17 18:16:29.783551(-0400)[80582:16211546] INF ID=492535293, Tunnel to SME for host=downloaddispatch.itunes.apple.com:443, SME IP=104.129.206.47:443
 *   2024-07-17 18:16:30.054381(-0400)[80582:16211546] WAR ID=492535293, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)
 *   2024-07-17 18:16:30.054553(-0400)[80582:16211546] INF ==> ID=492535293, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=891, srv_bytes=4230!
 *
 * A record starts with a timestamp; a line that does not (a message wrapped
 * by an editor or a mail client, as in the guide's appendix) is joined to
 * the record before it with one space. Everything else is skipped, and
 * counted. Input is taken leniently: LF, CRLF or lone CR line ends; UTF-8
 * with or without a BOM, UTF-16LE/BE with a BOM (as Windows tools write),
 * UTF-16LE without one (told from "2\0" at the start); a last line without
 * its newline. Nothing from the input is trusted: lines are cut at
 * ZSAT_MAX_LINE, joined records at ZSAT_MAX_RECORD, host names at 255 bytes.
 *
 * Timestamps: "YYYY-MM-DD HH:MM:SS[.frac]" ('/' and 'T' accepted), then an
 * optional UTC offset "(+HHMM)", "(-HH:MM)", "+HHMM", "Z". The offset is
 * honoured by default (wall clock minus offset = UTC); a line without one is
 * taken as UTC and counted (stats.no_offset). zsat_set_offset_mode() can
 * instead treat the digits as UTC already and the offset as information
 * only: one published ZCC analyser reports bundles where that holds, so the
 * caller may try both when aligning with capture time.
 *
 * Correlation: the per-ID table holds at most ZSAT_MAX_IDS open tunnels;
 * when full, the least recently seen one is finalised early (counted in
 * stats.ids_evicted) and a later line for it counts as an orphan. A record
 * is finalised by its close line, by a new tunnel line with the same ID, by
 * eviction, or by zsat_finish().
 *
 * Failure signature (per finalised record): the exception "Both client and
 * server sockets are closed" AND a close line with clt_bytes <
 * ZSAT_SIG_MAX_CLT AND srv_bytes < ZSAT_SIG_MAX_SRV. That is a tunnel whose
 * client sent a ClientHello's worth of bytes (a few hundred; well under what
 * a completed handshake plus a request takes), got at most a server
 * handshake flight back (a certificate chain is a few KB), and then both
 * sides went away: the pinning client rejected the proxy's certificate.
 * closed_both counts the exception alone (bytes unknown or large).
 */
#ifndef PI_ZSATUNNEL_H
#define PI_ZSATUNNEL_H

#include <stddef.h>
#include <stdint.h>

#define ZSAT_MAX_LINE      8192u     /* bytes kept of one physical line */
#define ZSAT_MAX_RECORD    16384u    /* bytes kept of a record with its continuation lines */
#define ZSAT_MAX_IDS       16384u    /* tunnels open at once in the ID table */
#define ZSAT_MAX_HOSTS     100000u   /* distinct hosts kept */
#define ZSAT_MAX_EXAMPLES  4u        /* signature examples kept per host */
#define ZSAT_SIG_MAX_CLT   2048u     /* signature: client bytes below this */
#define ZSAT_SIG_MAX_SRV   32768u    /* signature: server bytes below this */

struct zsat_example {
	uint64_t id;          /* tunnel ID */
	uint64_t ts_ns;       /* time of the exception (else of the close line) */
	uint64_t clt_bytes, srv_bytes;
};

struct zsat_host {
	char host[256];       /* lower-cased, without the port */
	uint16_t port;        /* last port seen, 0 if none */
	char sme[64];         /* last "SME IP=" seen */
	uint64_t tunnels;     /* "Tunnel to SME for host=" records */
	uint64_t closed_both; /* "Both client and server sockets are closed" exceptions */
	uint64_t other_exceptions; /* other "Exception in ..." lines for its tunnels */
	uint64_t closes;      /* close lines with byte counts */
	uint64_t signatures;  /* failure signatures (rule above) */
	uint64_t clt_bytes, srv_bytes; /* sums over its close lines */
	uint64_t first_ns, last_ns;    /* first and last line of its tunnels, ns UTC (0 unknown) */
	uint64_t first_sig_ns, last_sig_ns; /* same, over signatures */
	uint8_t nexamples;
	struct zsat_example examples[ZSAT_MAX_EXAMPLES];
};

struct zsat_stats {
	uint64_t inputs;      /* inputs ended with zsat_end() */
	uint64_t bytes;       /* bytes fed */
	uint64_t lines;       /* physical lines (= used + skipped) */
	uint64_t used;        /* lines of recognised records */
	uint64_t skipped;     /* blank, unknown, unparsable or orphan lines */
	uint64_t records;     /* recognised records: tunnel, exception, close */
	uint64_t lines_cut;   /* lines or records longer than the caps */
	uint64_t bad_time;    /* records whose timestamp could not be read */
	uint64_t no_offset;   /* records whose timestamp had no UTC offset */
	uint64_t orphans;     /* exception/close records for an ID with no tunnel line */
	uint64_t ids_evicted; /* open tunnels finalised early: ID table full */
	uint64_t hosts_dropped; /* tunnel records not kept: host table full */
	uint64_t utf16_inputs;  /* inputs decoded from UTF-16 */
	int32_t utc_offset_min; /* last UTC offset seen, minutes */
	uint8_t offset_seen;    /* utc_offset_min is meaningful */
	uint8_t offsets_mixed;  /* more than one offset was seen */
};

enum zsat_offset_mode {
	ZSAT_OFFSET_HONOUR = 0, /* wall clock minus the offset = UTC (default) */
	ZSAT_OFFSET_INFO = 1,   /* the digits are UTC already; the offset is information */
};

struct zsat_log;
struct jw;

/* Returns a new empty log, or NULL when out of memory. Free with zsat_free(). */
struct zsat_log *zsat_new(void);
void zsat_free(struct zsat_log *z);

/* How timestamps are read; call before feeding. */
void zsat_set_offset_mode(struct zsat_log *z, enum zsat_offset_mode mode);

/* Feed len bytes of one input, in chunks of any size (a chunk may end
 * anywhere, even inside a UTF-16 code unit). The first bytes of an input
 * tell its encoding. data is not kept. */
void zsat_feed(struct zsat_log *z, const char *data, size_t len);

/* End the current input: its last line is used even without a newline, and
 * the next zsat_feed() starts a new input (encoding told afresh). Open
 * tunnels stay open: a tunnel may go on in the next rotated file. */
void zsat_end(struct zsat_log *z);

/* Finalise every open tunnel (signatures of tunnels whose close line never
 * came are decided now). Idempotent; the query functions call it. More input
 * may follow: it opens new tunnels. */
void zsat_finish(struct zsat_log *z);

/* Hosts in the order first seen. zsat_host() returns NULL past the end; the
 * pointer is owned by z and valid until the next zsat_feed()/zsat_end(). */
size_t zsat_host_count(struct zsat_log *z);
const struct zsat_host *zsat_host(struct zsat_log *z, size_t i);
/* The host of that name (lower-case, no port), or NULL. */
const struct zsat_host *zsat_find(struct zsat_log *z, const char *host);

/* Counters; owned by z. */
const struct zsat_stats *zsat_stats(const struct zsat_log *z);

/* Write the evidence as one JSON object value (the caller wrote the key):
 * {"kind":"zsatunnel", stats..., "signature_rule":{...}, "hosts":[...]}
 * hosts sorted by signatures, closed_both, tunnels (descending), then name. */
void zsat_write_json(struct zsat_log *z, struct jw *w);

/* Parse a log timestamp at the start of s. Returns the number of bytes read
 * (> 0) with *ns (UTC, per mode), *off_min and *has_off set, or 0 when s does
 * not start with a valid timestamp. Exposed for tests and for other parsers. */
size_t zsat_parse_time(const char *s, size_t n, enum zsat_offset_mode mode,
                       uint64_t *ns, int32_t *off_min, int *has_off);

#endif
