/* annotate.h: `--annotate OUT.pcapng`: a copy of the capture with a packet
 * comment on each decisive frame ("pinspect: client RST after the server
 * hello flight: apps.mzstatic.com (tcp.stream 12)"), which Wireshark shows
 * (pkt_comment) and filters on (`frame.comment contains "pinspect"`).
 */
#ifndef PI_ANNOTATE_H
#define PI_ANNOTATE_H

#include <stddef.h>

#include "pipeline.h"

#define ANNOT_MAX 1000000u /* comments kept at most (counted beyond) */

struct annot;

struct annot *annot_new(void);
void annot_free(struct annot *a);
/* Note a finished connection's decisive frames (healthy ones are skipped). */
void annot_conn(struct annot *a, const struct conn_out *o);
/* Copy input to out (pcapng) with the comments. Returns 0, or -1 with a
 * one-line message in err. */
int annot_write(struct annot *a, const char *input, const char *out, char *err, size_t errlen);
size_t annot_count(const struct annot *a);

#endif
