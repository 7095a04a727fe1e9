/* model.h: what the live view shows, handed from the engine thread to the
 * UI thread as snapshots.
 *
 * The engine is not thread-safe and never needs to be: it runs on one
 * thread (capture or replay), which also computes the ranking (rank_run)
 * and copies everything the view needs into a snapshot: counters, the
 * recent connections (from the sink's on_verdict), the ranked candidates
 * with a copy of their evidence, the DNS names without answers or with
 * errors. Three snapshot buffers rotate (producer, shared, consumer), so
 * publishing and reading each hold the mutex only to swap two pointers:
 * a slow terminal never holds up the packet path, and the UI never sees a
 * half-written snapshot. Every string in a snapshot is printable ASCII
 * (control and non-ASCII bytes escaped as \xHH), so a hostile SNI cannot
 * move the cursor or break the screen.
 *
 * Requests that need the engine (export the candidates, save the packets)
 * go the other way, one at a time, and are answered with a message.
 */
#ifndef PI_UI_MODEL_H
#define PI_UI_MODEL_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/evidence.h"
#include "analysis/verdict.h"
#include "pipeline.h"
#include "ranking/rank.h"

#define UI_RECENT_CONNS 1000   /* connections kept for the view */
#define UI_MAX_CANDS 300       /* candidates per snapshot (after the filter) */
#define UI_MAX_DNS 300         /* DNS problem rows per snapshot */
#define UI_MAX_MARKS 256       /* names marked for the bypass list */
#define UI_RULE_LEN 260
#define UI_FILTER_LEN 128

enum ui_state {
	UI_RUNNING = 0,  /* capturing / replaying */
	UI_PAUSED,       /* replay paused */
	UI_DONE,         /* end of file, or the capture stopped (--duration, -c) */
	UI_FAILED,       /* the capture failed: note says why */
};

struct ui_status {
	char source[300];      /* interface, or the file replayed */
	int live;
	enum ui_state state;
	char note[256];
	uint64_t packets, bytes;
	double pps, bps;       /* over the last second or so */
	double elapsed_s;      /* wall clock since the start */
	uint64_t tls_conns;
	uint64_t verdicts[V_COUNT];
	int64_t flows;         /* open flows, -1 if the engine cannot tell */
	uint64_t undecoded;
	int have_pstats;       /* live: pcap_stats below are valid */
	uint64_t received, kernel_drops, if_drops;
	char saving[300];      /* -w: the file being written, "" if none */
	uint64_t saved_bytes;
	unsigned saved_files;
};

struct ui_conn {
	uint64_t seq;          /* order of decision, from 1 */
	uint64_t ts_ns;        /* first packet of the connection */
	enum verdict verdict;
	char alert[40];        /* decisive alert name, "" if none */
	int alert_from_server;
	char name[256];        /* name the client asked for, "" if unknown */
	char key[256];         /* its evidence key: the name, else the server address */
	char name_source[8];
	char sni[256];
	char client[72], server[72];
	char app[48];
	char ja3[33];
	char chain[320];
	uint64_t stream;
	uint32_t input;
	uint64_t frames[CONN_MAX_FRAMES];
	uint8_t nframes;
	uint16_t version;
	uint32_t cert_count;
	double reaction_ms;
	char reason[96];
};

struct ui_cand {
	struct candidate c;    /* c.ev is NULL here: the evidence is copied below */
	struct evid_name ev;   /* ev.hnext is NULL */
	int has_ev;
	char known_app[64];
};

struct ui_dns {
	char name[256];
	char qtype[16];
	uint32_t queries, answered, noanswer;
	int rcode;             /* last response's rcode, -1 if none */
	char rcode_name[16];
	char chain_end[256];   /* the last CNAME target, "" if none */
	uint64_t first_frame;
};

struct ui_snap {
	uint64_t gen;          /* increases with every publication */
	struct ui_status st;
	struct ui_conn *conns; /* oldest first */
	size_t nconns;
	uint64_t conns_total;  /* decided so far (the view holds the last UI_RECENT_CONNS) */
	struct ui_cand *cands; /* best first, those matching filter */
	size_t ncands;
	size_t cands_total;    /* matching the filter, before the UI_MAX_CANDS cap */
	size_t names_total;    /* all ranked */
	struct ui_dns *dns;
	size_t ndns, dns_total;
	char filter[UI_FILTER_LEN];
};

enum ui_req_kind { UI_REQ_NONE = 0, UI_REQ_EXPORT, UI_REQ_SAVE };

struct ui_request {
	enum ui_req_kind kind;
	char path[1024];
	char format[32];
	size_t nmarks;
	char marks[UI_MAX_MARKS][UI_RULE_LEN];
};

struct ui_model;

struct ui_model *ui_model_new(void);
void ui_model_free(struct ui_model *m);

/* ---- engine thread ---- */
/* The sink's on_verdict: remember the connection for the view. */
void ui_model_add_conn(struct ui_model *m, const struct conn_out *o);
/* Rank and copy everything into a snapshot, then publish it. */
void ui_model_publish(struct ui_model *m, struct engine *e, const struct rank_opts *ro,
                      const struct ui_status *st);
/* A pending request, taken (1), or none (0). */
int ui_model_take_request(struct ui_model *m, struct ui_request *out);
/* The answer shown on the message line; ok = 0 for an error. */
void ui_model_reply(struct ui_model *m, int ok, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Write the marked candidates (or, with none marked, every `bypass` one) to
 * path in format, through out_candidates (src/outputs/bypass.c). Fills msg
 * with the outcome. Returns 0, or -1 (unknown format, nothing to write, or
 * an I/O error: msg says which). Engine thread only. */
int ui_export_candidates(struct engine *e, const struct rank_opts *ro, const struct ui_request *rq,
                         char *msg, size_t msglen);

/* ---- UI thread ---- */
/* The newest snapshot; *fresh = 1 if it changed since the last call. The
 * pointer stays valid until the next call. */
const struct ui_snap *ui_model_latest(struct ui_model *m, int *fresh);
/* Queue a request; -1 while another is still being served. */
int ui_model_request(struct ui_model *m, const struct ui_request *rq);
/* The answer to the last request, once (1), or 0. */
int ui_model_take_reply(struct ui_model *m, char *buf, size_t len, int *ok);
/* The candidates filter (case-insensitive substring); applied from the next
 * snapshot on, which is asked for at once. */
void ui_model_set_filter(struct ui_model *m, const char *filter);

/* ---- either thread ---- */
void ui_model_set_quit(struct ui_model *m);
int ui_model_quit(const struct ui_model *m);
void ui_model_set_paused(struct ui_model *m, int paused);
int ui_model_paused(const struct ui_model *m);
/* Has the UI asked for a snapshot since the last one (filter changed)? */
int ui_model_want_publish(struct ui_model *m);
/* Copy src into dst as printable ASCII: bytes outside 0x20..0x7e become \xHH. */
void ui_safe(char *dst, size_t dstlen, const char *src);

#endif
