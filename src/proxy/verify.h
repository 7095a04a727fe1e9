/* verify.h: confirm a bypass candidate live.
 *
 * For each name (an exact name or a ".parent" rule), the client's
 * connections are first intercepted, then spliced, and the engine's
 * verdicts decide:
 *
 *   intercept phase  a healthy intercepted connection      -> refuted
 *                    `rounds` failed intercepted ones      -> splice phase
 *   splice phase     a healthy spliced connection          -> confirmed, if an
 *                    intercepted one was a client rejection (else inconclusive:
 *                    the proxy, not the client, broke it)
 *                    `rounds` failed spliced ones          -> inconclusive
 *                    (fails both ways: not an inspection problem)
 *   no traffic before the timeout                         -> inconclusive
 *
 * `incomplete` verdicts (the client left before any ServerHello) are kept
 * as evidence but move nothing. Once a name is decided its connections are
 * spliced, so the application works again. Names not listed are spliced.
 */
#ifndef PI_PROXY_VERIFY_H
#define PI_PROXY_VERIFY_H

#include <stddef.h>
#include <stdint.h>

#include "analysis/verdict.h"
#include "proxy/proxy.h"

#define VERIFY_MAX_NAMES 256
#define VERIFY_DEFAULT_ROUNDS 2
#define VERIFY_MAX_EXAMPLES 8

enum vresult { VR_PENDING = 0, VR_CONFIRMED, VR_REFUTED, VR_INCONCLUSIVE };
enum vphase { VP_INTERCEPT = 0, VP_SPLICE, VP_DONE };

const char *verify_result_name(enum vresult r);

struct vexample {
	uint64_t id;               /* the proxy's connection number */
	uint64_t stream;           /* the engine's stream index */
	enum px_mode mode;
	enum verdict verdict;
	char alert[32];            /* "" if none */
	char sni[128];
	char client[48], server[48];
	char reason[96];
	char note[160];
};

struct vname {
	char rule[260];
	enum vphase phase;
	enum vresult result;
	unsigned rounds;
	uint64_t routed_i, routed_s;            /* connections sent each way */
	uint64_t i_total, i_fail, i_reject, i_ok;
	uint64_t s_total, s_fail, s_ok;
	uint64_t verdicts_i[V_COUNT], verdicts_s[V_COUNT];
	char evidence[512];                     /* one sentence, set when decided */
	uint8_t nex;
	struct vexample ex[VERIFY_MAX_EXAMPLES]; /* the first connections, in order */
};

struct verify;

/* names: rules in pinspect's syntax. NULL on a bad name (err says which). */
struct verify *verify_new(char *const *names, int n, unsigned rounds, char *err, size_t errlen);
void verify_free(struct verify *v);

/* The mode for a new connection to name. */
enum px_mode verify_decide(struct verify *v, const char *name);
/* A connection's verdict. Returns the entry it counted for (NULL: not a
 * verified name); *changed is set when that entry's phase or result moved. */
const struct vname *verify_record(struct verify *v, const struct px_conn_info *ci, const struct conn_out *o,
                                  int *changed);
/* Every name decided? */
int verify_all_done(const struct verify *v);
/* The time is up: settle every pending name as inconclusive. */
void verify_expire(struct verify *v);

size_t verify_count(const struct verify *v);
const struct vname *verify_get(const struct verify *v, size_t i);

#endif
