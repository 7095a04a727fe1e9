/* conf.c: the INI-like data file reader (see conf.h). */
#include "common/conf.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifndef PI_DATADIR
#define PI_DATADIR "/usr/local/share/pinspect"
#endif
#ifndef PI_SRCDIR
#define PI_SRCDIR "."
#endif

/* Trims white space off both ends of s, in place; returns the start. */
char *conf_trim(char *s)
{
	char *e;
	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

/* Appends v to *field after a space; 0, or -1 when out of memory. */
int conf_join(char **field, const char *v)
{
	size_t old = *field ? strlen(*field) : 0;
	char *n = realloc(*field, old + strlen(v) + 2);
	if (!n)
		return -1;
	if (old)
		n[old++] = ' ';
	strcpy(n + old, v);
	*field = n;
	return 0;
}

/* Returns NAME of "KIND NAME", or NULL when section is not of kind. */
char *conf_section_name(char *section, const char *kind)
{
	size_t n = strlen(kind);
	if (strncmp(section, kind, n) != 0 || section[n] != ' ')
		return NULL;
	return conf_trim(section + n + 1);
}

/* Returns $envvar, the installed data file or the source tree's; see conf.h. */
const char *conf_default_path(const char *envvar, const char *name, char *buf, size_t len)
{
	const char *env = getenv(envvar);
	if (env && *env)
		return env;
	snprintf(buf, len, "%s/%s", PI_DATADIR, name);
	if (access(buf, R_OK) == 0)
		return buf;
	snprintf(buf, len, "%s/data/%s", PI_SRCDIR, name);
	return buf;
}

/* Opens path; 0, or -1 with "FILE: cannot open WHAT" in err. */
int conf_open(struct conf *c, const char *path, unsigned max_line, const char *what, const char *before_any,
              char *err, size_t errlen)
{
	memset(c, 0, sizeof *c);
	c->path = path;
	c->before_any = before_any;
	c->max_line = max_line < CONF_MAX_LINE ? max_line : CONF_MAX_LINE;
	c->err = err;
	c->errlen = errlen;
	c->f = fopen(path, "r");
	if (!c->f) {
		snprintf(err, errlen, "%s: cannot open %s", path, what);
		return -1;
	}
	return 0;
}

/* Writes "FILE:LINE: message" to err; returns -1. */
int conf_error(struct conf *c, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!c->errlen)
		return -1;
	n = snprintf(c->err, c->errlen, "%s:%u: ", c->path, c->lineno);
	if (n >= 0 && (size_t)n < c->errlen) {
		va_start(ap, fmt);
		vsnprintf(c->err + n, c->errlen - (size_t)n, fmt, ap);
		va_end(ap);
	}
	return -1;
}

/* Writes "FILE: out of memory" to err; returns -1. */
int conf_oom(struct conf *c)
{
	snprintf(c->err, c->errlen, "%s: out of memory", c->path);
	return -1;
}

/* Returns 1 with the next section or key line, 0 at the end, -1 on error. */
int conf_next(struct conf *c, struct conf_item *it)
{
	while (fgets(c->line, (int)c->max_line + 2, c->f)) {
		char *s, *eq;
		c->lineno++;
		if (!strchr(c->line, '\n') && !feof(c->f))
			return conf_error(c, "line longer than %u bytes", c->max_line);
		s = conf_trim(c->line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']');
			if (!end)
				return conf_error(c, "section without ']'");
			*end = '\0';
			it->kind = CONF_SECTION;
			it->section = conf_trim(s + 1);
			it->key = it->value = NULL;
			c->have_section = 1;
			return 1;
		}
		eq = strchr(s, '=');
		if (!eq)
			return conf_error(c, "expected 'key = value'");
		if (!c->have_section)
			return conf_error(c, "'%s' before any %s", s, c->before_any);
		*eq = '\0';
		it->kind = CONF_KEY;
		it->section = NULL;
		it->key = conf_trim(s);
		it->value = conf_trim(eq + 1);
		return 1;
	}
	return 0;
}

/* Closes the file. */
void conf_close(struct conf *c)
{
	if (c->f)
		fclose(c->f);
	c->f = NULL;
}
