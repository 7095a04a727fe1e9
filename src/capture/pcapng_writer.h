/* pcapng_writer.h: writing pcapng files (draft-ietf-opsawg-pcapng), with
 * optional size-based rotation and per-packet comments.
 *
 * Layout written, in the host's byte order (the SHB's byte-order magic
 * tells readers which):
 *
 *   SHB (type 0x0A0D0D0A) shb_userappl="pinspect ..."
 *   IDB (type 1) per link type used, in order of first use:
 *       linktype, snaplen, if_name (2), if_tsresol (9) when nanoseconds
 *   EPB (type 6) per packet: interface id, 64-bit timestamp in the IDB's
 *       resolution, captured and original length, data padded to 4 bytes,
 *       opt_comment (1) when the caller gives one
 *
 * Rotation (-C): when a file would grow past rotate_bytes, it is closed and
 * the next one begins with its own SHB and IDBs. Files are named
 *   FILE.pcapng, FILE.1.pcapng, FILE.2.pcapng, ...
 * (the number goes before a ".pcapng" / ".pcap" suffix, else at the end:
 * "cap" -> "cap.1"). With max_files = N > 0 the numbers wrap after N files
 * (FILE.pcapng is overwritten next), bounding disk use as tcpdump -W does.
 *
 * Every write is checked; the first error stops the writer (further writes
 * return -1) and pcapng_error() says which file and why.
 */
#ifndef PI_PCAPNG_WRITER_H
#define PI_PCAPNG_WRITER_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "capture/capture.h"

#define PCAPNG_MAX_IFACES 16     /* distinct link types per file */
#define PCAPNG_MAX_COMMENT 4096  /* longer comments are cut */

struct pcapng_wopts {
	const char *app;          /* shb_userappl, e.g. "pinspect 0.1.0" (may be NULL) */
	const char *if_name;      /* if_name of every IDB (may be NULL) */
	uint32_t snaplen;         /* IDB snaplen, 0 = unknown */
	int nanoseconds;          /* 1: if_tsresol 9 (ns); 0: microseconds (the default) */
	uint64_t rotate_bytes;    /* start a new file past this size; 0 = never */
	unsigned max_files;       /* with rotation: wrap after this many files; 0 = no limit */
};

struct pcapng_writer;

/* Create (truncate) path and write the section header. Returns NULL with a
 * one-line message naming the file in err. opts may be NULL (defaults). */
struct pcapng_writer *pcapng_open(const char *path, const struct pcapng_wopts *opts, char *err,
                                  size_t errlen);

/* Write to a stream the caller owns (e.g. stdout); never rotates, never
 * closes f (pcapng_close flushes it). */
struct pcapng_writer *pcapng_open_stream(FILE *f, const char *label, const struct pcapng_wopts *opts,
                                         char *err, size_t errlen);

/* One packet, with an optional comment (UTF-8, NULL for none). Returns 0,
 * or -1 after a write error (see pcapng_error; the writer stays failed). */
int pcapng_write(struct pcapng_writer *w, const struct packet *pkt, const char *comment);

/* Push buffered bytes to the file (the live capture calls this about once
 * a second so the file is readable while it grows). 0 or -1. */
int pcapng_flush(struct pcapng_writer *w);

/* Flush and close; frees w (NULL is fine). Returns 0, or -1 if any write
 * failed, with the first error's message in err (err may be NULL). */
int pcapng_close(struct pcapng_writer *w, char *err, size_t errlen);

const char *pcapng_error(const struct pcapng_writer *w);  /* "" when none */
const char *pcapng_path(const struct pcapng_writer *w);   /* the file being written */
unsigned pcapng_files(const struct pcapng_writer *w);     /* files begun so far */
uint64_t pcapng_packets(const struct pcapng_writer *w);   /* packets written, all files */
uint64_t pcapng_bytes(const struct pcapng_writer *w);     /* bytes written, all files */

/* The name of rotated file number n (0 = path itself), as described above. */
void pcapng_rotated_name(const char *path, unsigned n, char *out, size_t outlen);

#endif
