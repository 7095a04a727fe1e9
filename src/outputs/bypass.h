/* bypass.h: candidates written in each product's bypass-list syntax.
 *
 * Formats: zscaler (ZIA custom URL category entries, one per line),
 * zscaler-api (the ADD_TO_LIST call and its JSON body, then activation),
 * panos (decryption exclusion entries), squid (ssl_bump splice acl),
 * mitmproxy (--ignore-hosts regexes), markdown (a ticket for the admin),
 * csv and json (every candidate). doc/formats.md cites each product's
 * documentation.
 */
#ifndef PI_BYPASS_H
#define PI_BYPASS_H

#include <stdio.h>

#include "outputs/jw.h"
#include "ranking/rank.h"

/* Write the candidates (all of them, or only the indexes in only[0..nonly))
 * in format. Returns 0, or -1 for an unknown format. */
int out_candidates(FILE *f, const char *format, const struct rank_result *r, const size_t *only, size_t nonly);
int out_candidates_format_known(const char *format);
/* One candidate as a JSON object (DESIGN.md candidates[]). */
void out_candidate_json(struct jw *w, const struct candidate *c);

#endif
