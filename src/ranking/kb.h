/* kb.h: the knowledge base (data/kb.conf): apps that pin, developer tools
 * with their own trust store, issuers of interception certificates.
 *
 * The file is human-edited text, read at run time (format in its header
 * comment). Nothing here decides a category: matches are evidence that the
 * ranking weighs.
 */
#ifndef PI_KB_H
#define PI_KB_H

#include <stddef.h>

enum kb_kind { KB_APP = 0, KB_TOOL, KB_ISSUER };

struct kb_list {
	char **v;
	size_t n;
};

struct kb_entry {
	enum kb_kind kind;
	char *name;
	char *platform, *error, *note, *source, *fix;
	struct kb_list domains;  /* "host" (exact) or ".parent" (parent and below) */
	struct kb_list ndpi;     /* nDPI application names */
	struct kb_list match;    /* issuer substrings */
};

struct kb {
	struct kb_entry *v;
	size_t n;
	char path[1024];
};

#define KB_MAX_ENTRIES 4096
#define KB_MAX_LIST 1024
#define KB_MAX_LINE 2048

/* Load a knowledge base. NULL with a one-line message ("FILE:LINE: what")
 * in err on failure. */
struct kb *kb_load(const char *path, char *err, size_t errlen);
void kb_free(struct kb *kb);

/* The default file: $PINSPECT_KB, else the installed data, else the source
 * tree's data/kb.conf. */
const char *kb_default_path(void);

/* Does a domain pattern cover name? ("x.example" exact; ".example" the
 * domain and every name under it.) Case-insensitive. */
int kb_domain_covers(const char *pattern, const char *name);

/* The entry of this kind whose domain covers name (the most specific
 * pattern wins), or NULL. *pattern, if not NULL, gets the pattern. */
const struct kb_entry *kb_match_domain(const struct kb *kb, enum kb_kind kind, const char *name,
                                       const char **pattern);
/* The entry of this kind naming nDPI application app ("TLS.Facebook" and
 * "Facebook" both match "Facebook"), or NULL. */
const struct kb_entry *kb_match_ndpi(const struct kb *kb, enum kb_kind kind, const char *app);
/* The issuer entry whose match text occurs in issuer, or NULL. */
const struct kb_entry *kb_match_issuer(const struct kb *kb, const char *issuer);

#endif
