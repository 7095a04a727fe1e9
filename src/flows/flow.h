/* flow.h: the bidirectional TCP flow table and per-direction reassembly.
 *
 * Flows are keyed by the 5-tuple, direction-independent. Stream numbers
 * follow Wireshark's tcp.stream (packet-tcp.c): a new number for each new
 * address/port pair, and a new one when a SYN (without ACK) arrives whose
 * sequence number differs from the base sequence of that direction (port
 * reuse). So `tcp.stream eq N` in Wireshark opens the same connection.
 *
 * Reassembly (RFC 793 sequence space, modulo 2^32) delivers each direction's
 * bytes in order exactly once: retransmitted and overlapping bytes are
 * trimmed, out-of-order segments are held (bounded: PI_REASM_MAX_OOO bytes,
 * PI_REASM_MAX_SEGS segments per direction) until the hole fills. A hole is
 * skipped (on_gap) when the peer acknowledges past it, when the holding cap
 * is reached, or when the flow ends: the capture missed those bytes.
 *
 * Memory grows with open flows only: idle flows (PI_FLOW_IDLE_NS, shorter
 * once closed) are finalised through on_close and freed.
 */
#ifndef PI_FLOW_H
#define PI_FLOW_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "capture/decode.h"
#include "common/limits.h"

struct ooo_seg;

struct reasm_dir {
	uint32_t base_seq;    /* Wireshark's base: SYN seq, else first seq - 1 */
	uint32_t next_seq;    /* next in-order byte expected */
	uint8_t base_set;
	uint8_t have_next;
	uint8_t fin;          /* FIN seen from this side */
	uint8_t rst;          /* RST seen from this side */
	uint32_t ooo_bytes;
	uint32_t ooo_count;
	struct ooo_seg *ooo;  /* held segments, sorted by seq */
	uint64_t bytes;       /* payload bytes delivered */
	uint64_t packets;
};

struct flow {
	struct flow *hnext;            /* hash chain */
	struct flow *prev, *next;      /* activity list, least recent first */
	uint64_t hash;
	uint8_t ipver;
	uint8_t addr[2][16];           /* [0] = endpoint A (first sender), [1] = B */
	uint16_t port[2];
	int client;                    /* 0 or 1: which endpoint is the client */
	uint8_t client_sure;           /* client known from SYN / SYN-ACK / hello */
	uint8_t closed;                /* RST, or FIN both ways */
	uint8_t revived;               /* late packets of a flow already finalised */
	uint64_t stream;               /* Wireshark tcp.stream */
	uint64_t first_frame, last_frame;
	uint64_t first_ts, last_ts;
	struct reasm_dir d[2];         /* d[i]: bytes sent by endpoint i */
	void *app;                     /* the owner's per-flow state */
};

/* Callbacks from the table to its owner (the pipeline). dir is the sending
 * endpoint (0 = A, 1 = B). */
struct flow_hooks {
	void (*on_new)(void *ctx, struct flow *f, const struct decoded *d);
	/* every packet, after its in-order payload (if any) was delivered */
	void (*on_packet)(void *ctx, struct flow *f, int dir, const struct decoded *d,
	                  const struct packet *pkt);
	/* in-order payload bytes */
	void (*on_data)(void *ctx, struct flow *f, int dir, const uint8_t *data, size_t len,
	                uint64_t frame, uint64_t ts_ns);
	/* n bytes of dir's stream were not captured */
	void (*on_gap)(void *ctx, struct flow *f, int dir, uint32_t n);
	/* the flow is finalised; f is freed after this returns */
	void (*on_close)(void *ctx, struct flow *f);
	/* optional (may be NULL): f is next but one (stage 1) or next (stage 2)
	 * in a run of expiring flows, so its state can be fetched into the
	 * cache ahead of on_close: at stage 1 f is cached, at stage 2 what
	 * f->app points to directly was asked for one step before. A hint:
	 * f may as well not be finalised. */
	void (*on_soon)(void *ctx, struct flow *f, int stage);
};

struct flow_table;

struct flow_table *flow_table_new(const struct flow_hooks *hooks, void *ctx, struct pi_caps *caps);
/* Finalise every open flow (on_close), then free the table. */
void flow_table_free(struct flow_table *t);
/* Feed one decoded TCP packet. */
void flow_input_tcp(struct flow_table *t, const struct decoded *d, const struct packet *pkt);
/* Finalise flows idle at time now_ns (called by flow_input_tcp as time passes). */
void flow_expire(struct flow_table *t, uint64_t now_ns);
/* Finalise all flows and restart stream numbering at 0 (next input file). */
void flow_flush(struct flow_table *t);
/* Open flows now, and the most seen at once. */
size_t flow_count(const struct flow_table *t);
size_t flow_peak(const struct flow_table *t);
uint64_t flow_streams(const struct flow_table *t);
/* The earliest first_ts of the open flows, UINT64_MAX if none (a walk of
 * every open flow: call it now and then, not per packet). */
uint64_t flow_oldest_start(const struct flow_table *t);

#endif
