/* fuzz_bundle.c: fuzz target for the log bundle reader (src/capture/bundle.h)
 * and, through it, libarchive's readers as pinspect drives them, the capture
 * reader over archive entries, and the ZSATunnel and Web Insights readers.
 *
 * Input: a bundle as it would be on disk (zip, tar, tar.gz, or a capture or
 * gzip file, which bundle_probe() must tell apart). It is put in a memfd
 * and walked with the default caps, except that the whole walk may produce
 * at most 64 MiB (to keep each run short; the cap logic is the same).
 * Every capture found is read to its end. The report must keep its own
 * bounds (nfound, nnotes) and terminate its strings.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "analysis/webinsights.h"
#include "analysis/zsatunnel.h"
#include "capture/bundle.h"
#include "common/util.h"
#include "fuzz.h"

static struct bundle_report rep;

static int on_capture(void *ctx, const char *label, struct cap_reader *r)
{
	struct packet pkt;
	uint64_t *sink = ctx;
	*sink += strlen(label);
	while (cap_next(r, &pkt) == CAP_PACKET)
		for (uint32_t i = 0; i < pkt.caplen; i++)
			*sink += pkt.data[i];
	return 0;
}

/* Warnings about damaged input are what the target provokes: not shown. */
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	pi_set_quiet(1);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char path[64], err[512];
	struct bundle_limits lim;
	struct bundle_cb cb;
	uint64_t sink = 0;
	int fd = memfd_create("fuzz_bundle", MFD_CLOEXEC);
	if (fd < 0)
		abort();
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	bundle_limits_default(&lim);
	lim.max_total_bytes = 64u << 20;
	memset(&cb, 0, sizeof(cb));
	cb.on_capture = on_capture;
	cb.zsat = zsat_new();
	cb.webins = webins_new();
	cb.limits = &lim;
	sink += (uint64_t)bundle_probe(path);
	if (cb.zsat && cb.webins && bundle_walk(path, &cb, &sink, &rep, err, sizeof(err)) >= 0) {
		if (rep.nfound > BUNDLE_MAX_FOUND || rep.nnotes > BUNDLE_MAX_NOTES)
			abort();
		for (uint32_t i = 0; i < rep.nfound; i++)
			if (!memchr(rep.found[i].label, '\0', sizeof(rep.found[i].label)))
				abort();
		for (uint32_t i = 0; i < rep.nnotes; i++)
			if (!memchr(rep.notes[i].label, '\0', sizeof(rep.notes[i].label)) ||
			    !memchr(rep.notes[i].why, '\0', sizeof(rep.notes[i].why)))
				abort();
		sink += strlen(bundle_kind_name(BK_CAPTURE));
		sink += zsat_host_count(cb.zsat) + webins_host_count(cb.webins);
	}
	zsat_free(cb.zsat);
	webins_free(cb.webins);
	close(fd);
	(void)sink;
	return 0;
}
