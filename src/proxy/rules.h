/* rules.h: pinspect's bypass-list syntax: parse, match, reload.
 *
 * The same syntax the `zscaler` output writes (PEERS.md section 5):
 *
 *   # a comment (a whole line, or after an entry)
 *   api.example.com        the exact name
 *   .example.net           the domain and every subdomain (example.net,
 *                          a.example.net, a.b.example.net, ...)
 *
 * One entry per line, lower case (upper case is folded, with a warning),
 * ASCII host names only (A-labels for IDNs), an IPv4 or IPv6 literal as an
 * exact entry, no scheme, no port, no '*'. A bad line is skipped with a
 * warning that names the file and line; it never stops the rest loading.
 */
#ifndef PI_PROXY_RULES_H
#define PI_PROXY_RULES_H

#include <stddef.h>

#define RULES_MAX_ENTRIES 200000u /* entries kept from one file */
#define RULES_MAX_LINE 1024u      /* longest line read (ZIA's URL limit) */
#define RULES_MAX_NAME 253u       /* longest host name (RFC 1035 2.3.4) */

struct rules;

/* An empty rule set (matches nothing). NULL when out of memory. */
struct rules *rules_new(void);
void rules_free(struct rules *r);

/* Add one entry in the syntax above (surrounding blanks and a trailing
 * comment allowed). Returns 0 added (or already present), -1 invalid or
 * out of room; why (may be NULL) receives a short reason. */
int rules_add(struct rules *r, const char *entry, char *why, size_t whylen);

/* Read a file in the syntax above into a new rule set. Bad lines are
 * warned about (pi_warn) and skipped. Returns NULL when the file cannot be
 * read (err receives why); an empty file gives an empty set. */
struct rules *rules_load(const char *path, char *err, size_t errlen);

/* Does a name match? name is a host name (any case, an optional trailing
 * dot) or an address literal. Returns the index of the matching entry
 * (the most specific: an exact entry, else the longest wildcard) or -1.
 * rules_entry() gives the entry back in its canonical form (".example.net"
 * for a wildcard). */
long rules_match(const struct rules *r, const char *name);
const char *rules_entry(const struct rules *r, long idx);
size_t rules_count(const struct rules *r);

/* Is s a host name pinspect can put on a list and in a certificate: 1..253
 * bytes of letters, digits, '-', '_' in dot-separated labels of 1..63, or
 * an IP literal? Returns 1 (a name), 2 (an IPv4 or IPv6 literal), 0 (no). */
int rules_valid_name(const char *s);

#endif
