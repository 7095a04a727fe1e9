/* fuzz_webins.c: fuzz target for the Web Insights CSV reader (src/analysis/webinsights.h).
 *
 * Input:
 *   byte 0   bit 0: the text is fed again as a second input,
 *            bits 1-7: chunk seed (0: one chunk)
 *   the rest the CSV export (any encoding and delimiter: the reader tells)
 * Then every host is looked up by name, the actions listed, the JSON written
 * to /dev/null; webins_url_host() and webins_parse_time() read each line.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/webinsights.h"
#include "fuzz.h"
#include "outputs/jw.h"

static FILE *devnull;

static void feed(struct webins *w, const uint8_t *p, size_t n, unsigned seed)
{
	size_t off = 0;
	for (unsigned i = 0; off < n; i++) {
		size_t chunk = seed ? 1 + (i * 17 + seed * 5) % (seed * 2 + 1) : n - off;
		if (chunk > n - off)
			chunk = n - off;
		webins_feed(w, (const char *)p + off, chunk);
		off += chunk;
	}
	webins_end(w);
}

/* Each line (at most 511 bytes of it) as a URL and as a time. */
static uint64_t lines(const uint8_t *p, size_t n)
{
	char line[512], host[256];
	uint64_t sink = 0, ns;
	int zone;
	size_t i = 0;
	while (i < n) {
		size_t l = 0;
		while (i < n && p[i] != '\n') {
			if (l + 1 < sizeof(line))
				line[l++] = (char)p[i];
			i++;
		}
		i++;
		line[l] = '\0';
		if (webins_url_host(line, host, sizeof(host)) && !memchr(host, '\0', sizeof(host)))
			abort();
		sink += (uint64_t)webins_parse_time(line, &ns, &zone);
	}
	return sink;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct webins *w;
	struct jw jw;
	uint8_t fl;
	uint64_t sink = 0;
	if (!size)
		return 0;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	fl = data[0];
	data++, size--;
	w = webins_new();
	if (!w)
		return 0;
	feed(w, data, size, fl >> 1);
	if (fl & 1)
		feed(w, data, size, (fl >> 1) ^ 3);
	for (size_t i = 0; i < webins_host_count(w); i++) {
		const struct webins_host *h = webins_host(w, i);
		if (!memchr(h->host, '\0', sizeof(h->host)) || webins_find(w, h->host) != h)
			abort(); /* every host is found by its own name */
		if (h->nusers > WI_MAX_USERS || h->nlocations > WI_MAX_LOCATIONS)
			abort();
		sink += h->failed;
	}
	for (size_t i = 0; i < webins_action_count(w); i++)
		sink += webins_action(w, i)->rows;
	sink += webins_stats(w)->rows;
	jw_init(&jw, devnull, 0);
	webins_write_json(w, &jw);
	webins_free(w);
	sink += lines(data, size);
	(void)sink;
	return 0;
}
