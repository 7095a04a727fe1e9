/* conf.h: reader of the INI-like data files (data/kb.conf, data/ja3.conf): lines, sections, keys, errors.
 *
 * The format both files share:
 *   # comment            (also "; comment"); blank lines are skipped
 *   [KIND NAME]          a section; the text between '[' and the first ']'
 *                        is trimmed, anything after that ']' is ignored
 *   key = value          a key of the last section; key and value trimmed,
 *                        the value may hold further '=' signs
 * Leading and trailing white space (isspace) of every line is ignored. A
 * line is at most max_line bytes (without its newline); a longer one is an
 * error. Which section kinds and keys exist is the caller's business: the
 * reader only splits lines, and words its errors "FILE:LINE: what".
 *
 * Bounded: one line buffer of CONF_MAX_LINE + 2 bytes inside the reader,
 * no allocation.
 */
#ifndef PI_CONF_H
#define PI_CONF_H

#include <stddef.h>
#include <stdio.h>

#define CONF_MAX_LINE 2048u /* the longest line a reader can be asked to take */

struct conf {
	FILE *f;
	const char *path;        /* as given to conf_open(); not copied */
	const char *before_any;  /* how a key before any section is told: "[section]" */
	unsigned lineno;         /* of the line returned last (1-based) */
	unsigned max_line;
	int have_section;        /* a section line was returned */
	char *err;
	size_t errlen;
	char line[CONF_MAX_LINE + 2];
};

enum conf_kind { CONF_SECTION = 1, CONF_KEY = 2 };

/* One item of the file. The strings point into the reader's line buffer:
 * valid (and writable, e.g. to lower-case a value) until the next
 * conf_next() or conf_close(). */
struct conf_item {
	enum conf_kind kind;
	char *section;           /* CONF_SECTION: "KIND NAME", trimmed */
	char *key, *value;       /* CONF_KEY: trimmed; value may be "" */
};

/* Open path for reading. Errors of the file go to err (errlen bytes, always
 * NUL-terminated, cut to fit). max_line: the longest line allowed (capped
 * at CONF_MAX_LINE). before_any names the section in the error for a key
 * before any section ("'KEY = VALUE' before any [section]"). what names the
 * file in the error when it cannot be opened ("FILE: cannot open WHAT").
 * Returns 0, or -1 with that error written. */
int conf_open(struct conf *c, const char *path, unsigned max_line, const char *what, const char *before_any,
              char *err, size_t errlen);

/* The next section or key line. Returns 1 with *it set, 0 at the end of the
 * file, or -1 with "FILE:LINE: what" in err: a line longer than max_line
 * ("line longer than N bytes"), a section without ']', a line that is
 * neither a section nor "key = value" ("expected 'key = value'"), a key
 * before the first section. After -1, only conf_close() is meaningful. */
int conf_next(struct conf *c, struct conf_item *it);

/* Write "FILE:LINE: " and the printf-style message to err (the caller's own
 * errors about the line returned last). Returns -1. */
int conf_error(struct conf *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Write "FILE: out of memory" to err. Returns -1. */
int conf_oom(struct conf *c);

/* Close the file; c may be closed more than once. */
void conf_close(struct conf *c);

/* The data file called name: $envvar when set and not empty, else the
 * installed data (PI_DATADIR/name) when readable, else the source tree's
 * PI_SRCDIR/data/name. The last two are written to buf (len bytes, cut to
 * fit); the result is buf or the environment's string. */
const char *conf_default_path(const char *envvar, const char *name, char *buf, size_t len);

/* The NAME of a section "KIND NAME" (kind followed by one space; NAME
 * trimmed, may be ""), or NULL when section is not of that kind. Points
 * into section. */
char *conf_section_name(char *section, const char *kind);

/* White space (isspace) off both ends of s, in place; returns the start. */
char *conf_trim(char *s);

/* Append v to the text *field (NULL: none yet), after one space if it had
 * text: for keys that may repeat. Returns 0, or -1 when out of memory
 * (*field unchanged). */
int conf_join(char **field, const char *v);

#endif
