/* fuzz_zsat.c: fuzz target for the ZSATunnel log reader (src/analysis/zsatunnel.h).
 *
 * Input:
 *   byte 0   bit 0: offset mode (ZSAT_OFFSET_INFO), bit 1: the text is fed
 *            again as a second input, bits 2-7: chunk seed (0: one chunk)
 *   the rest the log text (any encoding: the reader tells it)
 * The text is fed in chunks, ended, finalised; every host is looked up by
 * name, the JSON is written to /dev/null, and zsat_parse_time() reads the
 * start of the text.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "analysis/zsatunnel.h"
#include "fuzz.h"
#include "outputs/jw.h"

static FILE *devnull;

static void feed(struct zsat_log *z, const uint8_t *p, size_t n, unsigned seed)
{
	size_t off = 0;
	for (unsigned i = 0; off < n; i++) {
		size_t chunk = seed ? 1 + (i * 31 + seed * 7) % (seed * 3 + 1) : n - off;
		if (chunk > n - off)
			chunk = n - off;
		zsat_feed(z, (const char *)p + off, chunk);
		off += chunk;
	}
	zsat_end(z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct zsat_log *z;
	struct jw w;
	uint8_t fl;
	uint64_t sink = 0;
	if (!size)
		return 0;
	if (!devnull && !(devnull = fopen("/dev/null", "w")))
		abort();
	fl = data[0];
	data++, size--;
	z = zsat_new();
	if (!z)
		return 0;
	zsat_set_offset_mode(z, fl & 1 ? ZSAT_OFFSET_INFO : ZSAT_OFFSET_HONOUR);
	feed(z, data, size, fl >> 2);
	if (fl & 2)
		feed(z, data, size, (fl >> 2) ^ 5);
	zsat_finish(z);
	for (size_t i = 0; i < zsat_host_count(z); i++) {
		const struct zsat_host *h = zsat_host(z, i);
		if (!memchr(h->host, '\0', sizeof(h->host)) || !memchr(h->sme, '\0', sizeof(h->sme)))
			abort();
		if (h->nexamples > ZSAT_MAX_EXAMPLES || zsat_find(z, h->host) != h)
			abort(); /* every host is found by its own name */
		sink += h->tunnels;
	}
	sink += zsat_stats(z)->lines;
	jw_init(&w, devnull, fl & 1);
	zsat_write_json(z, &w);
	zsat_free(z);
	{
		uint64_t ns;
		int32_t off;
		int has;
		sink += zsat_parse_time((const char *)data, size, ZSAT_OFFSET_HONOUR, &ns, &off, &has);
		sink += zsat_parse_time((const char *)data, size, ZSAT_OFFSET_INFO, &ns, &off, &has);
	}
	(void)sink;
	return 0;
}
