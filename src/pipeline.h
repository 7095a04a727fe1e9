/* pipeline.h: the engine, top to bottom, one packet at a time.
 *
 *   capture (cap_next) -> decode (decode_packet) -> flows (flow_input_tcp)
 *   -> dissectors (tls_feed, dns) -> analysis (verdict_*, dnsmap)
 *   -> evidence (evidence_add) -> outputs (the connection sink)
 *
 * The offline analyser, the live view and the proxy drive this same engine.
 * Connections are handed to the sink as soon as they are finalised, so
 * memory grows with open flows, not with the file.
 */
#ifndef PI_PIPELINE_H
#define PI_PIPELINE_H

#include <stdint.h>

#include "analysis/evidence.h"
#include "analysis/verdict.h"
#include "capture/capture.h"
#include "common/limits.h"

struct dns_tracker;

/* A finished TLS connection, as the outputs see it. */
struct conn_out {
	const struct conn *c;
	const char *client;      /* "ip:port" / "[ip]:port" */
	const char *server;
	const char *name;        /* the name the client asked for ("" if unknown) */
	const char *name_source; /* "sni", "dns", "none" */
	const char *const *chain; /* DNS chain from the query to the address */
	int nchain;
	const char *app;         /* nDPI application ("" if unknown) */
	const char *category;    /* nDPI category */
	const char *input_path;
};

struct conn_sink {
	/* a connection's verdict is decided (once per connection, may be NULL) */
	void (*on_verdict)(void *ctx, const struct conn_out *o);
	/* a connection is finished: every fact is final */
	void (*on_conn)(void *ctx, const struct conn_out *o);
	void *ctx;
};

/* One input file's summary. */
struct input_info {
	char path[1024];
	const char *format;      /* "pcap", "pcapng", "" when unreadable */
	int gzipped;
	uint64_t packets, bytes;
	uint64_t first_ts, last_ts;
	uint64_t undecoded;
	char error[512];         /* why reading stopped early ("" if it did not) */
	int status;              /* 0 read whole, 1 partial, 2 unreadable */
};

#define PI_MAX_INPUTS 4096

struct engine_stats {
	uint64_t packets, bytes;
	uint64_t tcp_packets, udp_packets, other_packets;
	uint64_t tls_conns;
	uint64_t verdicts[V_COUNT];
	uint64_t flows_peak;
};

struct engine;

struct engine_opts {
	int no_ndpi;           /* skip nDPI classification */
	int dns_query_log;     /* keep per-query rows for dns_write_queries_tsv */
	int progress;          /* draw a progress line on stderr */
	struct certdiag *certdiag; /* certificate diagnosis state (may be NULL) */
	int async_sink;        /* evidence, diagnosis and sinks on a thread of their own:
	                        * they touch nothing else and the sink's data and the
	                        * evidence are only read after engine_end_input */
};

struct engine *engine_new(const struct engine_opts *o, const struct conn_sink *sink);
void engine_free(struct engine *e);

/* Read a whole capture file through the engine. Returns 0 (read whole),
 * 1 (read in part: a warning was printed), 2 (unreadable: nothing read). */
int engine_run_file(struct engine *e, const char *path);
/* The same for a reader opened elsewhere (a capture inside a bundle); the
 * caller closes r. label names the input in the outputs. */
int engine_run_reader(struct engine *e, const char *label, struct cap_reader *r);

/* For live capture and tests: feed packets of one input yourself. */
void engine_begin_input(struct engine *e, const char *label, const char *format);
void engine_packet(struct engine *e, const struct packet *pkt);
void engine_end_input(struct engine *e);
/* After the last input: settle DNS. */
void engine_finish(struct engine *e);

/* Connections that are not read from packets (the proxy's): the same
 * dissectors, verdicts, evidence and sink, fed with the bytes each side
 * sent and how each side closed. Frames are numbered per connection. */
struct engine_conn;
struct engine_conn *engine_conn_open(struct engine *e, int ipver, const uint8_t caddr[16], uint16_t cport,
                                     const uint8_t saddr[16], uint16_t sport, uint64_t ts_ns);
void engine_conn_data(struct engine *e, struct engine_conn *c, int from_client, const uint8_t *data,
                      size_t len, uint64_t ts_ns);
/* A side closed: rst = 1 for a reset, 0 for an orderly close (FIN). */
void engine_conn_close_side(struct engine *e, struct engine_conn *c, int from_client, int rst, uint64_t ts_ns);
/* Finalise: the verdict is settled and handed to the sink; c is freed. */
void engine_conn_end(struct engine *e, struct engine_conn *c);
/* The verdict so far of a connection still open (V_NONE while undecided). */
const struct conn *engine_conn_state(const struct engine_conn *c);

/* Open TCP flows now (the live view's status bar). */
size_t engine_open_flows(const struct engine *e);
/* Time passes without packets (live capture): finalise flows idle at now. */
void engine_tick(struct engine *e, uint64_t now_ns);

size_t engine_inputs(const struct engine *e, const struct input_info **out);
const struct engine_stats *engine_stats(const struct engine *e);
const struct pi_caps *engine_caps(const struct engine *e);
struct evidence *engine_evidence(struct engine *e);
struct dns_tracker *engine_dns(struct engine *e);
struct edns;
/* Encrypted DNS (DoT, DoH, DoQ) seen: names hidden from the capture. */
const struct edns *engine_edns(const struct engine *e);

#endif
