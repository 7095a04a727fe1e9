/* bundle.h: reading a Zscaler Client Connector log bundle (ZIP, tar(.gz), or an unpacked folder) in place.
 *
 * A bundle is walked entry by entry, streaming through libarchive: nothing
 * is extracted, nothing is copied whole. Every regular entry is classified
 * by its content first and its name second:
 *   capture      pcap or pcapng magic (any name: CaptureLWF*.pcapng, *.pcap)
 *                -> cb->on_capture(ctx, "bundle.zip:dir/CaptureLWF0.pcapng", reader)
 *   tunnel log   name ZSATunnel* (Windows) or trptunnel* (macOS), text
 *                -> fed to cb->zsat (zsatunnel.h), then zsat_end()
 *   Web Insights text whose first 64 KiB hold "Policy Action"
 *                -> fed to cb->webins (webinsights.h), then webins_end()
 *   archive      gzip, zip, tar, xz, bzip2 or zstd magic inside the bundle
 *                (a CaptureLWF0.pcapng.gz, a rotated ZSATunnel*.log.zip):
 *                walked the same way, BUNDLE_MAX_NEST levels deep at most;
 *                a gzip'd single file keeps its name without ".gz"
 *   anything else: ignored (counted).
 *
 * Caps (struct bundle_limits; defaults below; each refusal is reported):
 *   entries         BUNDLE_MAX_ENTRIES regular entries per walk, all levels;
 *                   past it the walk stops.
 *   entry size      BUNDLE_MAX_ENTRY_BYTES of data produced by one entry
 *                   (and an entry declaring more is refused unread).
 *   total size      BUNDLE_MAX_TOTAL_BYTES produced by the whole walk,
 *                   counting every level; past it the walk stops.
 *   ratio           an entry whose bytes produced pass BUNDLE_MAX_RATIO
 *                   times the compressed bytes consumed for it is refused
 *                   as a decompression bomb; checked once BUNDLE_RATIO_GRACE
 *                   bytes were produced (reads are block-sized, so small
 *                   entries cannot be measured fairly). Real captures
 *                   compress 2-10:1 and logs 5-30:1; deflate tops out near
 *                   1030:1, which only runs of one byte reach.
 *   depth           BUNDLE_MAX_DEPTH folder levels in a folder bundle.
 *   nesting         BUNDLE_MAX_NEST archives inside archives.
 *   Plain files of a folder bundle are read as they are (no size caps: a
 *   file's size is what it is on disk); archives inside it get all caps.
 *
 * Refused and reported, never read: entries whose path is absolute ("/x",
 * "\x", "C:x") or has a ".." component, symbolic and hard links (in a folder
 * bundle: symbolic links, which are not followed). Encrypted entries are
 * reported and skipped (no passphrase is asked for); a damaged entry is
 * reported and the walk goes on where libarchive can (zip: yes, by seeking;
 * tar.gz: a damaged compressed stream ends the walk). Skipping the rest of a
 * refused entry in a compressed stream (tar.gz, or any nested archive) would
 * mean decompressing it, so the walk of that stream stops there (reported).
 *
 * Data already handed on stands: a capture whose entry turns out damaged or
 * refused half-way has its first packets analysed (the reader reports
 * CAP_ERROR "... the stream reported an error" at that point, and the
 * report says why).
 */
#ifndef PI_BUNDLE_H
#define PI_BUNDLE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"

#define BUNDLE_MAX_ENTRIES      100000u
#define BUNDLE_MAX_ENTRY_BYTES  (4ull << 30)   /* 4 GiB */
#define BUNDLE_MAX_TOTAL_BYTES  (16ull << 30)  /* 16 GiB */
#define BUNDLE_MAX_RATIO        200u
#define BUNDLE_RATIO_GRACE      (1ull << 20)   /* 1 MiB */
#define BUNDLE_MAX_DEPTH        16u
#define BUNDLE_MAX_NEST         2u
#define BUNDLE_MAX_NOTES        32u   /* refusals and errors listed (all counted) */
#define BUNDLE_MAX_FOUND        64u   /* captures and logs listed (all counted) */
#define BUNDLE_LABEL_MAX        512u

enum bundle_type {
	BUNDLE_NONE = 0, /* not a bundle (a capture, or unreadable: cap_open says) */
	BUNDLE_DIR = 1,  /* a folder */
	BUNDLE_ZIP = 2,
	BUNDLE_TAR = 3,  /* tar, plain or compressed (gzip, xz, bzip2, zstd) */
};

struct bundle_limits {
	uint64_t max_entries;
	uint64_t max_entry_bytes;
	uint64_t max_total_bytes;
	uint64_t ratio_grace;
	uint32_t max_ratio;
	uint32_t max_depth;
	uint32_t max_nest;
};

enum bundle_kind {
	BK_CAPTURE, BK_TUNNEL_LOG, BK_WEBINS, BK_IGNORED,
	BK_REFUSED, BK_ENCRYPTED, BK_CORRUPT, BK_STOPPED,
};

struct bundle_item {
	enum bundle_kind kind;  /* BK_CAPTURE, BK_TUNNEL_LOG or BK_WEBINS */
	uint64_t bytes;         /* bytes read from it */
	char label[BUNDLE_LABEL_MAX];
};

struct bundle_note {
	enum bundle_kind kind;  /* BK_REFUSED, BK_ENCRYPTED, BK_CORRUPT, BK_STOPPED, BK_CAPTURE (capture error) */
	char label[BUNDLE_LABEL_MAX];
	char why[256];
};

struct bundle_report {
	enum bundle_type type;
	uint64_t entries;        /* regular entries seen (all kinds, all levels) */
	uint64_t dirs;           /* folder entries (not in entries) */
	uint64_t captures;
	uint64_t capture_errors; /* captures whose header could not be read */
	uint64_t tunnel_logs;
	uint64_t csv_files;      /* Web Insights exports */
	uint64_t nested;         /* archives inside the bundle that were walked */
	uint64_t ignored;
	uint64_t refused;        /* caps, path tricks, links */
	uint64_t encrypted;
	uint64_t corrupt;
	uint64_t bytes;          /* bytes produced, all levels */
	int stopped;             /* the walk ended early; a BK_STOPPED note says why */
	uint32_t nfound;
	uint64_t found_dropped;
	struct bundle_item found[BUNDLE_MAX_FOUND];
	uint32_t nnotes;
	uint64_t notes_dropped;
	struct bundle_note notes[BUNDLE_MAX_NOTES];
};

struct zsat_log;
struct webins;

struct bundle_cb {
	/* A capture: read it with cap_next() (to CAP_EOF or CAP_ERROR, or stop
	 * early); the walk closes the reader after the call. label is valid
	 * during the call only. Return 0 to go on, nonzero to stop the walk.
	 * NULL: captures are counted, not read. */
	int (*on_capture)(void *ctx, const char *label, struct cap_reader *r);
	struct zsat_log *zsat;        /* tunnel logs go here; NULL: counted only */
	struct webins *webins;        /* Web Insights CSVs go here; NULL: counted only */
	const struct bundle_limits *limits; /* NULL: the defaults */
};

/* The default caps (the BUNDLE_MAX_* values). */
void bundle_limits_default(struct bundle_limits *l);

/* What path is, by its magic (never its name): BUNDLE_DIR, BUNDLE_ZIP,
 * BUNDLE_TAR (a gzip file counts only when a tar header is inside it), or
 * BUNDLE_NONE (including files that cannot be read). */
int bundle_probe(const char *path);

/* Walk the bundle at path (a folder or an archive). rep is filled from
 * scratch (the caller owns it; it is large: allocate it, don't put it on a
 * small stack). Returns 0 when every entry was looked at (some may have
 * been refused, encrypted or damaged: rep says), 1 when the walk stopped
 * early (a cap, a damaged stream, or on_capture asked: a BK_STOPPED note
 * says why), -1 when path cannot be opened as a bundle at all (err: one
 * line naming path). */
int bundle_walk(const char *path, const struct bundle_cb *cb, void *ctx,
                struct bundle_report *rep, char *err, size_t errlen);

/* "capture", "tunnel log", "web insights", "ignored", "refused",
 * "encrypted", "corrupt", "stopped". */
const char *bundle_kind_name(enum bundle_kind k);

/* One line for the text report, NUL-terminated in buf (cut to fit):
 * "4 captures, 3 ZSATunnel logs, 1 Web Insights export (12 entries; 2
 * ignored, 4 refused, 1 encrypted, 1 damaged; walk stopped early)".
 * Returns strlen of the whole line (as snprintf). */
size_t bundle_summary(const struct bundle_report *rep, char *buf, size_t len);

struct jw;
/* The report as one JSON object value (the caller wrote the key):
 * {"type":"zip","entries":..,"captures":..,...,"found":[{"kind":..,
 * "label":..,"bytes":..}],"notes":[{"kind":..,"label":..,"why":..}],
 * "found_dropped":..,"notes_dropped":..} */
void bundle_report_json(const struct bundle_report *rep, struct jw *w);

#endif
