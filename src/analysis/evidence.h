/* evidence.h: per-name aggregates of connection verdicts.
 *
 * Every finished TLS connection is added under the name the client asked
 * for (DESIGN.md: `name`, else the server address). Memory grows with
 * distinct names, not connections: each name keeps counts, bounded sets
 * (clients, versions, JA3s) and a few example connections for the report.
 * Aggregates of separate runs merge by addition (see ranking).
 */
#ifndef PI_EVIDENCE_H
#define PI_EVIDENCE_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/verdict.h"

#define EVID_MAX_CLIENTS 32
#define EVID_MAX_JA3 4
#define EVID_MAX_VERSIONS 4
#define EVID_MAX_EXAMPLES 5
#define EVID_MAX_NAMES 100000u

struct evid_example {
	uint32_t input;
	uint64_t stream;
	enum verdict verdict;
	uint8_t has_alert, alert_desc, alert_from_server;
	char client[48], server[48];
	uint64_t frames[CONN_MAX_FRAMES];
	uint8_t nframes;
	double reaction_ms;
	uint64_t ts_ns;
};

struct evid_name {
	struct evid_name *hnext;
	uint64_t hash;
	char name[256];
	char sni[256];                 /* an SNI seen for it, if different */
	uint8_t name_source;           /* best source seen: 2 sni, 1 dns, 0 none */
	uint64_t verdicts[V_COUNT];
	uint64_t failures;             /* client-rejection verdicts */
	uint64_t successes;            /* healthy */
	uint64_t total;
	uint8_t nclients;
	uint8_t clients_overflow;
	uint8_t client_addr[EVID_MAX_CLIENTS][17]; /* ipver + address */
	uint32_t client_fail[EVID_MAX_CLIENTS];    /* per client: rejections */
	uint32_t client_ok[EVID_MAX_CLIENTS];      /* per client: healthy */
	uint64_t cert_alert_strong;    /* cert-alert unknown_ca/bad_certificate/certificate_unknown/access_denied */
	uint8_t nversions;
	uint16_t versions[EVID_MAX_VERSIONS];
	uint8_t nja3;
	char ja3[EVID_MAX_JA3][33];
	char app[48];
	uint64_t first_ts, last_ts;
	uint8_t nexamples;
	struct evid_example examples[EVID_MAX_EXAMPLES];
	char chain[512];               /* DNS chain as "a > b > c" */
	/* evidence from logs (pinspect analyze on a ZCC bundle, --web-insights) */
	uint64_t zsat_tunnels;         /* ZSATunnel: tunnels to this host */
	uint64_t zsat_failures;        /* ZSATunnel: failure signatures (both sockets closed early) */
	uint64_t wi_failures;          /* Web Insights: "Dropped due to failed client SSL handshake" rows */
	uint64_t wi_users;             /* Web Insights: distinct users (summed across merged runs) */
};

struct evidence;

struct evidence *evidence_new(void);
void evidence_free(struct evidence *e);
/* Add a finished connection. name is what the client asked for. */
void evidence_add(struct evidence *e, const struct conn *c, const char *name, int name_source,
                  const char *client, const char *server, const char *app, const char *chain);
/* Evidence from logs for a name (added, so merging stays a sum). */
void evidence_add_logs(struct evidence *e, const char *name, uint64_t zsat_tunnels, uint64_t zsat_failures,
                       uint64_t wi_failures, uint64_t wi_users);
/* Failures from every source: capture rejections plus log signatures. */
uint64_t evid_all_failures(const struct evid_name *n);
size_t evidence_count(const struct evidence *e);
/* Names sorted: most failures first, then most connections, then by name. */
const struct evid_name **evidence_sorted(struct evidence *e, size_t *n);
uint64_t evidence_dropped(const struct evidence *e);
/* Names whose evidence was lost because an allocation failed. */
uint64_t evidence_alloc_failures(const struct evidence *e);
/* Merge an aggregate (from another run) into e; its examples' input
 * indexes are shifted by input_offset. Associative and commutative. */
void evidence_merge_name(struct evidence *e, const struct evid_name *src, uint32_t input_offset);
/* The aggregate of one name, or NULL. */
const struct evid_name *evidence_find(const struct evidence *e, const char *name);
/* Any client that both failed and succeeded for this name? */
int evid_mixed_client(const struct evid_name *n);

#endif
