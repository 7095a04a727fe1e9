/* capture.h: reading packets from capture files (pcap, pcapng, gzip'd).
 *
 * One reader per file. The format is told by the magic number, never by the
 * file name: pcap (micro- and nanosecond, either byte order), pcapng (many
 * sections, many interfaces with their own link types and timestamp
 * resolutions; EPB, SPB, OPB), and either of them gzip-compressed.
 *
 * The reader never allocates per packet: cap_next() hands out a pointer into
 * a buffer it owns, valid until the next call.
 */
#ifndef PI_CAPTURE_H
#define PI_CAPTURE_H

#include <stddef.h>
#include <stdint.h>

/* LINKTYPE_ values (tcpdump.org/linktypes.html) that the decoder handles. */
#define LT_NULL       0
#define LT_ETHERNET   1
#define LT_RAW        101
#define LT_LOOP       108
#define LT_LINUX_SLL  113
#define LT_IPV4       228
#define LT_IPV6       229
#define LT_LINUX_SLL2 276
#define LT_RAW_ALT    12   /* DLT_RAW on some BSDs, as written by libpcap */
#define LT_RAW_ALT2   14

struct packet {
	uint64_t frame;      /* 1-based frame number within this input */
	uint64_t ts_ns;      /* nanoseconds since the epoch */
	int linktype;        /* LINKTYPE_ value of its interface */
	uint32_t caplen;     /* bytes present in data */
	uint32_t wirelen;    /* bytes on the wire (>= caplen) */
	const uint8_t *data; /* caplen bytes, owned by the reader */
};

enum cap_format { CAP_PCAP, CAP_PCAPNG };

struct cap_reader;

/* Result of cap_next(). */
enum cap_rc {
	CAP_PACKET = 1, /* *pkt holds the next packet */
	CAP_EOF = 0,    /* clean end of file */
	CAP_ERROR = -1, /* damaged or cut input: cap_error() says what and where;
	                   the packets already returned stand */
};

/* Open a capture file (path "-" is standard input). Returns NULL with a
 * one-line message in err (naming the file and what was wrong) when the file
 * cannot be opened or is not a capture this reader knows. */
struct cap_reader *cap_open(const char *path, char *err, size_t errlen);

/* Open a capture read from a caller's stream instead of a file: the bytes of
 * an archive entry (archive_read_data) or any other source without a file
 * descriptor. read_fn(ctx, buf, len) fills at most len bytes of buf and
 * returns how many (> 0), 0 at the end of the stream, or < 0 on an error
 * (reported as damage at the current offset: "FILE: offset N: ... the stream
 * reported an error"; the caller keeps its own reason). It is called once per
 * refill of the reader's 256 KiB buffer, never per packet. label names the
 * input in messages ("bundle.zip:dir/CaptureLWF0.pcapng"); it is copied.
 *
 * Plain pcap and pcapng only: gzip data is refused with a message saying so
 * (zlib's gzread needs a descriptor; a caller with compressed bytes
 * decompresses them first, as bundle.c does with libarchive's raw format).
 * Returns NULL with a one-line message naming label in err when the stream
 * is empty, cut, or not a capture. The reader does not own ctx; cap_close()
 * never calls read_fn. cap_file_size() is 0, cap_gzipped() 0, and
 * cap_raw_offset() equals cap_offset() for such a reader. */
struct cap_reader *cap_open_stream(const char *label, long (*read_fn)(void *ctx, void *buf, size_t len),
                                   void *ctx, char *err, size_t errlen);

/* Read the next packet. Blocks that are not packets (statistics, name
 * resolution, custom) are skipped. After CAP_ERROR or CAP_EOF, further calls
 * return the same. */
int cap_next(struct cap_reader *r, struct packet *pkt);

/* The message of the last CAP_ERROR: "FILE: offset N: what". */
const char *cap_error(const struct cap_reader *r);

/* Byte offset in the (decompressed) file, for progress and messages. */
uint64_t cap_offset(const struct cap_reader *r);

/* Size of the file on disk, 0 if unknown (pipe). Compressed offset for progress. */
uint64_t cap_file_size(const struct cap_reader *r);
uint64_t cap_raw_offset(const struct cap_reader *r);

enum cap_format cap_format(const struct cap_reader *r);
int cap_gzipped(const struct cap_reader *r);

/* Warnings (non-fatal: a packet longer than its snaplen, an unknown block) are
 * counted here. */
uint64_t cap_warnings(const struct cap_reader *r);

void cap_close(struct cap_reader *r);

#endif
