/* kb.c: the knowledge base reader (lines split by common/conf) and matchers (see kb.h, data/kb.conf). */
#include "ranking/kb.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "common/conf.h"
#include "common/util.h"

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
	struct conf c;
	struct conf_item it;
	struct kb *kb = NULL;
	struct kb_entry *cur = NULL;
	int r;

	if (conf_open(&c, path, KB_MAX_LINE, "the knowledge base", "[section]", err, errlen) < 0)
		return NULL;
	kb = calloc(1, sizeof(*kb));
	if (!kb)
		goto oom;
	pi_strlcpy(kb->path, path, sizeof(kb->path));
	while ((r = conf_next(&c, &it)) > 0) {
		char *key = it.key, *val = it.value;
		int rc = 0;
		if (it.kind == CONF_SECTION) {
			char *name;
			enum kb_kind kind;
			struct kb_entry *nv;
			if ((name = conf_section_name(it.section, "app")))
				kind = KB_APP;
			else if ((name = conf_section_name(it.section, "tool")))
				kind = KB_TOOL;
			else if ((name = conf_section_name(it.section, "inspection-issuer")))
				kind = KB_ISSUER;
			else {
				conf_error(&c, "unknown section '%s' (app, tool, inspection-issuer)", it.section);
				goto fail;
			}
			if (kb->n >= KB_MAX_ENTRIES) {
				conf_error(&c, "more than %u entries", KB_MAX_ENTRIES);
				goto fail;
			}
			nv = realloc(kb->v, (kb->n + 1) * sizeof(*nv));
			if (!nv)
				goto oom;
			kb->v = nv;
			cur = &kb->v[kb->n++];
			memset(cur, 0, sizeof(*cur));
			cur->kind = kind;
			if (!(cur->name = strdup(name)))
				goto oom;
			continue;
		}
		if (strcmp(key, "domain") == 0) {
			pi_lower(val);
			rc = list_add(&cur->domains, val);
		} else if (strcmp(key, "ndpi") == 0) {
			rc = list_add(&cur->ndpi, val);
		} else if (strcmp(key, "match") == 0) {
			rc = list_add(&cur->match, val);
		} else if (strcmp(key, "platform") == 0) {
			rc = conf_join(&cur->platform, val);
		} else if (strcmp(key, "error") == 0) {
			rc = conf_join(&cur->error, val);
		} else if (strcmp(key, "note") == 0) {
			rc = conf_join(&cur->note, val);
		} else if (strcmp(key, "source") == 0) {
			rc = conf_join(&cur->source, val);
		} else if (strcmp(key, "fix") == 0) {
			rc = conf_join(&cur->fix, val);
		} else {
			conf_error(&c, "unknown key '%s'", key);
			goto fail;
		}
		if (rc < 0) {
			conf_error(&c, "too many values (or out of memory)");
			goto fail;
		}
	}
	if (r < 0)
		goto fail;
	conf_close(&c);
	return kb;
oom:
	conf_oom(&c);
fail:
	conf_close(&c);
	kb_free(kb);
	return NULL;
}

const char *kb_default_path(void)
{
	static char path[1100];
	return conf_default_path("PINSPECT_KB", "kb.conf", path, sizeof(path));
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
