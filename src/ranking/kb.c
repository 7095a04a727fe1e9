/* kb.c: the knowledge base reader and matchers (see kb.h, data/kb.conf). */
#include "ranking/kb.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "common/util.h"

#ifndef PI_DATADIR
#define PI_DATADIR "/usr/local/share/pinspect"
#endif
#ifndef PI_SRCDIR
#define PI_SRCDIR "."
#endif

static char *trim(char *s)
{
	char *e;
	while (*s && isspace((unsigned char)*s))
		s++;
	e = s + strlen(s);
	while (e > s && isspace((unsigned char)e[-1]))
		*--e = '\0';
	return s;
}

static int list_add(struct kb_list *l, const char *v)
{
	char **nv;
	if (l->n >= KB_MAX_LIST)
		return -1;
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!nv)
		return -1;
	l->v = nv;
	if (!(l->v[l->n] = strdup(v)))
		return -1;
	l->n++;
	return 0;
}

static void list_free(struct kb_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
}

static int set_text(char **field, const char *v)
{
	/* repeated keys are joined with a space */
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

void kb_free(struct kb *kb)
{
	if (!kb)
		return;
	for (size_t i = 0; i < kb->n; i++) {
		struct kb_entry *e = &kb->v[i];
		free(e->name);
		free(e->platform);
		free(e->error);
		free(e->note);
		free(e->source);
		free(e->fix);
		list_free(&e->domains);
		list_free(&e->ndpi);
		list_free(&e->match);
	}
	free(kb->v);
	free(kb);
}

struct kb *kb_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct kb *kb = NULL;
	struct kb_entry *cur = NULL;
	char line[KB_MAX_LINE + 2];
	unsigned lineno = 0;

	if (!f) {
		snprintf(err, errlen, "%s: cannot open the knowledge base", path);
		return NULL;
	}
	kb = calloc(1, sizeof(*kb));
	if (!kb)
		goto oom;
	pi_strlcpy(kb->path, path, sizeof(kb->path));
	while (fgets(line, sizeof(line), f)) {
		char *s, *eq, *key, *val;
		lineno++;
		if (!strchr(line, '\n') && !feof(f)) {
			snprintf(err, errlen, "%s:%u: line longer than %u bytes", path, lineno, KB_MAX_LINE);
			goto fail;
		}
		s = trim(line);
		if (!*s || *s == '#' || *s == ';')
			continue;
		if (*s == '[') {
			char *end = strchr(s, ']'), *name;
			enum kb_kind kind;
			struct kb_entry *nv;
			if (!end) {
				snprintf(err, errlen, "%s:%u: section without ']'", path, lineno);
				goto fail;
			}
			*end = '\0';
			s = trim(s + 1);
			if (strncmp(s, "app ", 4) == 0)
				kind = KB_APP, name = s + 4;
			else if (strncmp(s, "tool ", 5) == 0)
				kind = KB_TOOL, name = s + 5;
			else if (strncmp(s, "inspection-issuer ", 18) == 0)
				kind = KB_ISSUER, name = s + 18;
			else {
				snprintf(err, errlen, "%s:%u: unknown section '%s' (app, tool, inspection-issuer)", path,
				         lineno, s);
				goto fail;
			}
			if (kb->n >= KB_MAX_ENTRIES) {
				snprintf(err, errlen, "%s:%u: more than %u entries", path, lineno, KB_MAX_ENTRIES);
				goto fail;
			}
			nv = realloc(kb->v, (kb->n + 1) * sizeof(*nv));
			if (!nv)
				goto oom;
			kb->v = nv;
			cur = &kb->v[kb->n++];
			memset(cur, 0, sizeof(*cur));
			cur->kind = kind;
			if (!(cur->name = strdup(trim(name))))
				goto oom;
			continue;
		}
		eq = strchr(s, '=');
		if (!eq) {
			snprintf(err, errlen, "%s:%u: expected 'key = value'", path, lineno);
			goto fail;
		}
		if (!cur) {
			snprintf(err, errlen, "%s:%u: '%s' before any [section]", path, lineno, s);
			goto fail;
		}
		*eq = '\0';
		key = trim(s);
		val = trim(eq + 1);
		int rc = 0;
		if (strcmp(key, "domain") == 0) {
			pi_lower(val);
			rc = list_add(&cur->domains, val);
		} else if (strcmp(key, "ndpi") == 0) {
			rc = list_add(&cur->ndpi, val);
		} else if (strcmp(key, "match") == 0) {
			rc = list_add(&cur->match, val);
		} else if (strcmp(key, "platform") == 0) {
			rc = set_text(&cur->platform, val);
		} else if (strcmp(key, "error") == 0) {
			rc = set_text(&cur->error, val);
		} else if (strcmp(key, "note") == 0) {
			rc = set_text(&cur->note, val);
		} else if (strcmp(key, "source") == 0) {
			rc = set_text(&cur->source, val);
		} else if (strcmp(key, "fix") == 0) {
			rc = set_text(&cur->fix, val);
		} else {
			snprintf(err, errlen, "%s:%u: unknown key '%s'", path, lineno, key);
			goto fail;
		}
		if (rc < 0) {
			snprintf(err, errlen, "%s:%u: too many values (or out of memory)", path, lineno);
			goto fail;
		}
	}
	fclose(f);
	return kb;
oom:
	snprintf(err, errlen, "%s: out of memory", path);
fail:
	fclose(f);
	kb_free(kb);
	return NULL;
}

const char *kb_default_path(void)
{
	static char path[1100];
	const char *env = getenv("PINSPECT_KB");
	if (env && *env)
		return env;
	snprintf(path, sizeof(path), "%s/kb.conf", PI_DATADIR);
	if (access(path, R_OK) == 0)
		return path;
	snprintf(path, sizeof(path), "%s/data/kb.conf", PI_SRCDIR);
	return path;
}

int kb_domain_covers(const char *pattern, const char *name)
{
	size_t pl = strlen(pattern), nl = strlen(name);
	if (pattern[0] != '.')
		return strcasecmp(pattern, name) == 0;
	/* ".example.com": example.com itself, or anything ending in .example.com */
	if (nl == pl - 1 && strcasecmp(pattern + 1, name) == 0)
		return 1;
	return nl > pl && strcasecmp(name + nl - pl, pattern) == 0;
}

const struct kb_entry *kb_match_domain(const struct kb *kb, enum kb_kind kind, const char *name,
                                       const char **pattern)
{
	const struct kb_entry *best = NULL;
	const char *bestp = NULL;
	size_t bestlen = 0;
	if (!kb || !name || !*name)
		return NULL;
	for (size_t i = 0; i < kb->n; i++) {
		const struct kb_entry *e = &kb->v[i];
		if (e->kind != kind)
			continue;
		for (size_t j = 0; j < e->domains.n; j++) {
			const char *p = e->domains.v[j];
			/* exact patterns beat wildcards of the same length */
			size_t score = strlen(p) * 2 + (p[0] != '.');
			if (score > bestlen && kb_domain_covers(p, name)) {
				best = e;
				bestp = p;
				bestlen = score;
			}
		}
	}
	if (pattern)
		*pattern = bestp;
	return best;
}

const struct kb_entry *kb_match_ndpi(const struct kb *kb, enum kb_kind kind, const char *app)
{
	if (!kb || !app || !*app)
		return NULL;
	for (size_t i = 0; i < kb->n; i++) {
		const struct kb_entry *e = &kb->v[i];
		if (e->kind != kind)
			continue;
		for (size_t j = 0; j < e->ndpi.n; j++) {
			const char *want = e->ndpi.v[j];
			/* "TLS.Facebook": compare each dot-separated component */
			const char *p = app;
			while (p && *p) {
				const char *dot = strchr(p, '.');
				size_t len = dot ? (size_t)(dot - p) : strlen(p);
				if (len == strlen(want) && strncasecmp(p, want, len) == 0)
					return e;
				p = dot ? dot + 1 : NULL;
			}
		}
	}
	return NULL;
}

const struct kb_entry *kb_match_issuer(const struct kb *kb, const char *issuer)
{
	if (!kb || !issuer)
		return NULL;
	for (size_t i = 0; i < kb->n; i++) {
		const struct kb_entry *e = &kb->v[i];
		if (e->kind != KB_ISSUER)
			continue;
		for (size_t j = 0; j < e->match.n; j++)
			if (strcasestr(issuer, e->match.v[j]))
				return e;
	}
	return NULL;
}
