/* rules.c: the bypass list: exact names and ".parent" wildcards (rules.h).
 *
 * Entries live in one array; an open-addressing hash table (linear
 * probing, power-of-two size, at most half full) maps (name, wildcard)
 * to an entry. A lookup costs one probe for the exact name and one per
 * label for the wildcards, whatever the size of the list.
 */
#include "proxy/rules.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

struct rule {
	char *text;   /* canonical: lower case, ".name" for a wildcard */
	uint8_t wild; /* ".name": the name and its subdomains */
};

/* The name an entry matches on: its text without the wildcard dot. */
static const char *rule_name(const struct rule *e)
{
	return e->text + e->wild;
}

struct rules {
	struct rule *v;
	size_t n, cap;
	long *slot;   /* entry index + 1; 0 = empty */
	size_t nslot; /* power of two */
};

struct rules *rules_new(void)
{
	return calloc(1, sizeof(struct rules));
}

void rules_free(struct rules *r)
{
	if (!r)
		return;
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i].text);
	free(r->v);
	free(r->slot);
	free(r);
}

size_t rules_count(const struct rules *r)
{
	return r ? r->n : 0;
}

static uint64_t key_hash(const char *name, size_t len, int wild)
{
	return pi_hash(name, len, wild ? 0x9e3779b97f4a7c15ull : 0x51ed27ull);
}

/* The slot holding (name, wild), or the empty slot where it would go. */
static size_t find_slot(const struct rules *r, const char *name, size_t len, int wild)
{
	size_t mask = r->nslot - 1;
	size_t i = (size_t)key_hash(name, len, wild) & mask;
	for (;;) {
		long s = r->slot[i];
		if (!s)
			return i;
		const struct rule *e = &r->v[s - 1];
		if (e->wild == wild && strlen(rule_name(e)) == len && memcmp(rule_name(e), name, len) == 0)
			return i;
		i = (i + 1) & mask;
	}
}

static int grow_slots(struct rules *r)
{
	size_t ns = r->nslot ? r->nslot * 2 : 64;
	long *old = r->slot;
	size_t oldn = r->nslot;
	r->slot = calloc(ns, sizeof(*r->slot));
	if (!r->slot) {
		r->slot = old;
		return -1;
	}
	r->nslot = ns;
	for (size_t i = 0; i < oldn; i++) {
		if (!old[i])
			continue;
		const struct rule *e = &r->v[old[i] - 1];
		r->slot[find_slot(r, rule_name(e), strlen(rule_name(e)), e->wild)] = old[i];
	}
	free(old);
	return 0;
}

static int is_ip_literal(const char *s)
{
	unsigned char buf[16];
	return inet_pton(AF_INET, s, buf) == 1 || inet_pton(AF_INET6, s, buf) == 1;
}

int rules_valid_name(const char *s)
{
	size_t len = strlen(s), label = 0;
	if (len == 0 || len > RULES_MAX_NAME)
		return 0;
	if (strchr(s, ':') || (s[0] >= '0' && s[0] <= '9' && is_ip_literal(s)))
		return is_ip_literal(s) ? 2 : 0;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (c == '.') {
			if (label == 0 || s[i - 1] == '-')
				return 0; /* empty label, or one ending in '-' */
			label = 0;
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
		      c == '_'))
			return 0;
		if (c == '-' && label == 0)
			return 0; /* a label starting with '-' */
		if (++label > 63)
			return 0;
	}
	return label > 0 && s[len - 1] != '-' ? 1 : 0;
}

static void set_why(char *why, size_t whylen, const char *msg)
{
	if (why && whylen)
		pi_strlcpy(why, msg, whylen);
}

int rules_add(struct rules *r, const char *entry, char *why, size_t whylen)
{
	char buf[RULES_MAX_NAME + 3];
	const char *p = entry, *end;
	int wild = 0, kind;
	size_t len, at;

	while (*p == ' ' || *p == '\t')
		p++;
	end = p;
	while (*end && *end != '#' && *end != ' ' && *end != '\t' && *end != '\r' && *end != '\n')
		end++;
	for (const char *q = end; *q && *q != '#'; q++) {
		if (*q != ' ' && *q != '\t' && *q != '\r' && *q != '\n') {
			set_why(why, whylen, "more than one word on the line");
			return -1;
		}
	}
	len = (size_t)(end - p);
	if (len == 0) {
		set_why(why, whylen, "empty");
		return -1;
	}
	if (*p == '*') {
		set_why(why, whylen, "'*' is not used: write .example.com for a domain and its subdomains");
		return -1;
	}
	if (len > RULES_MAX_NAME + 2 || memchr(p, '/', len)) {
		set_why(why, whylen, len > RULES_MAX_NAME + 2 ? "longer than a host name" : "a URL path or scheme");
		return -1;
	}
	if (*p == '.') {
		wild = 1;
		p++;
		len--;
	}
	memcpy(buf, p, len);
	buf[len] = '\0';
	if (len && buf[len - 1] == '.' && !wild)
		buf[--len] = '\0'; /* a fully qualified "name." */
	kind = rules_valid_name(buf);
	if (!kind) {
		set_why(why, whylen, "not a host name (letters, digits, '-', '_' in dot-separated labels)");
		return -1;
	}
	if (kind == 2 && wild) {
		set_why(why, whylen, "an address cannot be a wildcard");
		return -1;
	}
	if (wild && !strchr(buf, '.')) {
		set_why(why, whylen, "a wildcard on a top-level domain");
		return -1;
	}
	pi_lower(buf);
	if (r->n >= RULES_MAX_ENTRIES) {
		set_why(why, whylen, "too many entries");
		return -1;
	}
	if ((r->n + 1) * 2 > r->nslot && grow_slots(r) < 0) {
		set_why(why, whylen, "out of memory");
		return -1;
	}
	at = find_slot(r, buf, len, wild);
	if (r->slot[at])
		return 0; /* a duplicate */
	if (r->n == r->cap) {
		size_t nc = r->cap ? r->cap * 2 : 32;
		struct rule *nv = realloc(r->v, nc * sizeof(*nv));
		if (!nv) {
			set_why(why, whylen, "out of memory");
			return -1;
		}
		r->v = nv;
		r->cap = nc;
	}
	r->v[r->n].text = malloc(len + 2);
	if (!r->v[r->n].text) {
		set_why(why, whylen, "out of memory");
		return -1;
	}
	snprintf(r->v[r->n].text, len + 2, "%s%s", wild ? "." : "", buf);
	r->v[r->n].wild = (uint8_t)wild;
	r->slot[at] = (long)++r->n;
	return 0;
}

struct rules *rules_load(const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	struct rules *r;
	char line[RULES_MAX_LINE + 2];
	unsigned long lineno = 0;
	int warned_case = 0;

	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	r = rules_new();
	if (!r) {
		fclose(f);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	while (fgets(line, sizeof(line), f)) {
		char why[128];
		const char *p = line;
		size_t len = strlen(line);
		lineno++;
		if (len && line[len - 1] != '\n' && !feof(f)) {
			int c;
			pi_warn("%s:%lu: line longer than %u bytes: skipped", path, lineno, RULES_MAX_LINE);
			while ((c = fgetc(f)) != EOF && c != '\n')
				;
			continue;
		}
		while (*p == ' ' || *p == '\t')
			p++;
		if (*p == '#' || *p == '\n' || *p == '\r' || *p == '\0')
			continue;
		if (!warned_case) {
			for (const char *q = p; *q && *q != '#'; q++)
				if (*q >= 'A' && *q <= 'Z') {
					pi_warn("%s:%lu: upper case folded to lower case", path, lineno);
					warned_case = 1;
					break;
				}
		}
		if (rules_add(r, p, why, sizeof(why)) < 0) {
			char shown[80];
			len = strcspn(p, "\r\n");
			pi_printable(shown, sizeof(shown), (const uint8_t *)p, len > 60 ? 60 : len);
			pi_warn("%s:%lu: '%s' skipped: %s", path, lineno, shown, why);
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		rules_free(r);
		return NULL;
	}
	fclose(f);
	return r;
}

long rules_match(const struct rules *r, const char *name)
{
	char buf[RULES_MAX_NAME + 2];
	size_t len, at;

	if (!r || !r->n || !name)
		return -1;
	len = strlen(name);
	if (len && name[len - 1] == '.')
		len--;
	if (len == 0 || len > RULES_MAX_NAME)
		return -1;
	memcpy(buf, name, len);
	buf[len] = '\0';
	pi_lower(buf);
	at = find_slot(r, buf, len, 0);
	if (r->slot[at])
		return r->slot[at] - 1;
	/* wildcards: the whole name, then each parent, longest first */
	for (size_t off = 0; off < len;) {
		at = find_slot(r, buf + off, len - off, 1);
		if (r->slot[at])
			return r->slot[at] - 1;
		const char *dot = memchr(buf + off, '.', len - off);
		if (!dot)
			break;
		off = (size_t)(dot - buf) + 1;
	}
	return -1;
}

const char *rules_entry(const struct rules *r, long idx)
{
	if (!r || idx < 0 || (size_t)idx >= r->n)
		return NULL;
	return r->v[idx].text;
}
