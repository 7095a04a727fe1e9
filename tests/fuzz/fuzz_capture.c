/* fuzz_capture.c: fuzz target for the capture reader (src/capture/capture.h).
 *
 * Input: a capture file as it would be on disk (pcap, pcapng, either byte
 * order and resolution, or gzip of either). The seeds are small captures.
 *
 *   - Plain input is read twice: through cap_open_stream() with a read
 *     function that hands out pieces of varying size (so block and record
 *     headers straddle refills), and through cap_open() on a memfd (zlib's
 *     gzread path). Both must give the same packets and the same ending
 *     (EOF or error after the same packet count): any difference aborts.
 *   - gzip input is read through cap_open() only (the stream reader
 *     refuses gzip by design).
 * Every packet's bytes are read, so a pointer past the reader's buffer
 * shows under ASan; caplen must not exceed PI_MAX_PACKET or wirelen.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "capture/capture.h"
#include "common/limits.h"
#include "common/util.h"
#include "fuzz.h"

struct src {
	const uint8_t *p;
	size_t n, off;
	unsigned calls;
};

static long read_piece(void *ctx, void *buf, size_t len)
{
	struct src *s = ctx;
	size_t piece = 1 + (s->calls++ * 7919u) % 4099u;
	if (piece > len)
		piece = len;
	if (piece > s->n - s->off)
		piece = s->n - s->off;
	memcpy(buf, s->p + s->off, piece);
	s->off += piece;
	return (long)piece;
}

struct tally {
	int opened;
	int end;            /* CAP_EOF or CAP_ERROR */
	uint64_t packets;
	uint64_t last_frame;
	uint64_t hash;
};

static void read_all(struct cap_reader *r, struct tally *t)
{
	struct packet pkt;
	int rc;
	t->opened = 1;
	t->hash = 1469598103934665603ull;
	while ((rc = cap_next(r, &pkt)) == CAP_PACKET) {
		if (pkt.caplen > PI_MAX_PACKET || pkt.caplen > pkt.wirelen)
			abort(); /* capture.h: caplen <= wirelen, within the cap */
		t->packets++;
		if (pkt.frame < t->packets || pkt.frame <= t->last_frame)
			abort(); /* 1-based, increasing; pcapng blocks Wireshark shows as
			            frames (custom, journal) take a number but are not packets */
		t->last_frame = pkt.frame;
		t->hash = (t->hash ^ pkt.ts_ns ^ (uint64_t)pkt.linktype << 32 ^ pkt.wirelen) * 1099511628211ull;
		for (uint32_t i = 0; i < pkt.caplen; i++)
			t->hash = (t->hash ^ pkt.data[i]) * 1099511628211ull;
	}
	t->end = rc;
	if (rc == CAP_ERROR && !*cap_error(r))
		abort(); /* an error always says what */
	if (cap_next(r, &pkt) != rc)
		abort(); /* capture.h: after EOF or ERROR, the same again */
	(void)cap_offset(r);
	(void)cap_warnings(r);
	(void)cap_format(r);
}

static void read_file(const uint8_t *data, size_t size, struct tally *t)
{
	char path[64], err[512];
	int fd = memfd_create("fuzz_capture", MFD_CLOEXEC);
	struct cap_reader *r;
	if (fd < 0)
		abort();
	for (size_t off = 0; off < size;) {
		ssize_t w = write(fd, data + off, size - off);
		if (w <= 0)
			abort();
		off += (size_t)w;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	r = cap_open(path, err, sizeof(err));
	if (r) {
		read_all(r, t);
		(void)cap_gzipped(r);
		(void)cap_file_size(r);
		(void)cap_raw_offset(r);
		cap_close(r);
	}
	close(fd);
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
	struct tally a, b;
	char err[512];
	memset(&a, 0, sizeof(a));
	memset(&b, 0, sizeof(b));
	read_file(data, size, &b);
	if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b)
		return 0; /* gzip: the file path only */
	struct src s = { data, size, 0, 0 };
	struct cap_reader *r = cap_open_stream("fuzz", read_piece, &s, err, sizeof(err));
	if (r) {
		read_all(r, &a);
		cap_close(r);
	}
	if (a.opened != b.opened || a.packets != b.packets || a.end != b.end || a.hash != b.hash) {
		fprintf(stderr, "fuzz_capture: stream read %d/%llu packets/end %d, file read %d/%llu/%d\n",
		        a.opened, (unsigned long long)a.packets, a.end, b.opened,
		        (unsigned long long)b.packets, b.end);
		abort();
	}
	return 0;
}
