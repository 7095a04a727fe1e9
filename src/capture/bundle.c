/* bundle.c: walking ZIP / tar(.gz) / folder bundles with libarchive; classifying entries; caps against bombs and path tricks.
 *
 * Each archive entry is read through a struct estream: the first
 * PEEK_MAX bytes are read ahead to classify it (magic numbers, the
 * "Policy Action" header) and served again first; every read after that
 * goes through es_read(), which enforces the per-entry, total and ratio
 * caps (bundle.h). A capture is handed to cap_open_stream() over es_read();
 * an archive inside the bundle is opened as a second libarchive reader
 * whose read callback is es_read() of the outer entry, so nesting costs one
 * buffer per level and no temporary files.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* O_CLOEXEC, O_NOFOLLOW, fdopendir-free walking */
#endif
#include "capture/bundle.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "analysis/webinsights.h"
#include "analysis/zsatunnel.h"
#include "common/util.h"
#include "outputs/jw.h"

#define PEEK_MAX   (64u * 1024u)  /* read ahead to classify an entry */
#define CHUNK      (64u * 1024u)  /* reads while feeding logs */
#define BLOCK      (64u * 1024u)  /* libarchive read block */
#define DIR_MAX_NAMES 16384u      /* names read per folder (held while it is walked) */
#define MAX_REOPEN 16u            /* reopenings of a zip after damaged entries */

enum { ES_OK = 0, ES_CORRUPT = 1, ES_REFUSED = 2 };

struct walk {
	const struct bundle_cb *cb;
	void *ctx;
	struct bundle_report *rep;
	struct bundle_limits lim;
	uint64_t total;       /* bytes produced, all levels */
	int stop;             /* stop the whole walk */
	char *chunk;          /* CHUNK bytes of scratch */
};

/* One archive entry being read. */
struct estream {
	struct walk *w;
	struct archive *a;
	int64_t raw_start;    /* archive_filter_bytes(a, -1) at the entry's start */
	uint64_t produced;
	uint8_t *peek;
	size_t npeek, ppos;
	int eof;
	int err;              /* ES_CORRUPT, ES_REFUSED */
	int fatal;            /* the archive cannot go on */
	char why[256];
};

/* ---- report -------------------------------------------------------------- */

const char *bundle_kind_name(enum bundle_kind k)
{
	switch (k) {
	case BK_CAPTURE: return "capture";
	case BK_TUNNEL_LOG: return "tunnel log";
	case BK_WEBINS: return "web insights";
	case BK_IGNORED: return "ignored";
	case BK_REFUSED: return "refused";
	case BK_ENCRYPTED: return "encrypted";
	case BK_CORRUPT: return "corrupt";
	case BK_STOPPED: return "stopped";
	}
	return "?";
}

static void note(struct walk *w, enum bundle_kind kind, const char *label, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* Record a refusal or an error (listed up to BUNDLE_MAX_NOTES). */
static void note(struct walk *w, enum bundle_kind kind, const char *label, const char *fmt, ...)
{
	struct bundle_report *rep = w->rep;
	struct bundle_note *n;
	va_list ap;

	if (rep->nnotes >= BUNDLE_MAX_NOTES) {
		rep->notes_dropped++;
		return;
	}
	n = &rep->notes[rep->nnotes++];
	n->kind = kind;
	pi_strlcpy(n->label, label, sizeof n->label);
	va_start(ap, fmt);
	vsnprintf(n->why, sizeof n->why, fmt, ap);
	va_end(ap);
}

static void found(struct walk *w, enum bundle_kind kind, const char *label, uint64_t bytes)
{
	struct bundle_report *rep = w->rep;
	struct bundle_item *it;
	if (rep->nfound >= BUNDLE_MAX_FOUND) {
		rep->found_dropped++;
		return;
	}
	it = &rep->found[rep->nfound++];
	it->kind = kind;
	it->bytes = bytes;
	pi_strlcpy(it->label, label, sizeof it->label);
}

static void stop_walk(struct walk *w, const char *label, const char *why)
{
	w->stop = 1;
	if (!w->rep->stopped) {
		w->rep->stopped = 1;
		note(w, BK_STOPPED, label, "%s", why);
	}
}

/* prefix + sep + name, with control bytes of name shown as '?'; bounded. */
static void make_label(char *out, size_t outlen, const char *prefix, char sep, const char *name)
{
	size_t o = pi_strlcpy(out, prefix, outlen);
	if (o >= outlen - 1)
		return;
	if (sep)
		out[o++] = sep;
	for (; *name && o + 1 < outlen; name++) {
		unsigned char c = (unsigned char)*name;
		out[o++] = (char)(c < 0x20 || c == 0x7f ? '?' : c);
	}
	out[o] = '\0';
}

/* ---- classification helpers ------------------------------------------------ */

static int is_capture_magic(const uint8_t *p, size_t n)
{
	uint32_t m;
	if (n < 4)
		return 0;
	m = (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
	return m == 0xa1b2c3d4u || m == 0xd4c3b2a1u || m == 0xa1b23c4du || m == 0x4d3cb2a1u ||
	       m == 0x0A0D0D0Au;
}

/* gzip, zip, xz, bzip2, zstd, or a tar header. */
static int is_archive_magic(const uint8_t *p, size_t n)
{
	if (n >= 2 && p[0] == 0x1f && p[1] == 0x8b)
		return 1;
	if (n >= 4 && p[0] == 'P' && p[1] == 'K' &&
	    ((p[2] == 3 && p[3] == 4) || (p[2] == 5 && p[3] == 6) || (p[2] == 7 && p[3] == 8)))
		return 1;
	if (n >= 6 && !memcmp(p, "\xFD" "7zXZ\0", 6))
		return 1;
	if (n >= 4 && p[0] == 'B' && p[1] == 'Z' && p[2] == 'h' && p[3] >= '1' && p[3] <= '9')
		return 1;
	if (n >= 4 && !memcmp(p, "\x28\xB5\x2F\xFD", 4))
		return 1;
	if (n >= 262 && !memcmp(p + 257, "ustar", 5))
		return 1;
	return 0;
}

/* Text: no NUL in the first 4 KiB, or UTF-16 (BOM, or "x\0" / "\0x"). */
static int looks_text(const uint8_t *p, size_t n)
{
	size_t k = n < 4096 ? n : 4096;
	if (n >= 2 && ((p[0] == 0xFF && p[1] == 0xFE) || (p[0] == 0xFE && p[1] == 0xFF)))
		return 1;
	if (n >= 4 && ((p[0] && !p[1] && p[2] && !p[3]) || (!p[0] && p[1] && !p[2] && p[3])))
		return 1;
	return n > 0 && !memchr(p, 0, k);
}

/* "policy action" in the peek, case-insensitively, NUL bytes (UTF-16)
 * skipped. */
static int has_policy_action(const uint8_t *p, size_t n)
{
	static const char needle[] = "policy action";
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		int c = p[i];
		if (!c)
			continue;
		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c == needle[m]) {
			if (++m == sizeof needle - 1)
				return 1;
		} else {
			m = c == needle[0];
		}
	}
	return 0;
}

static const char *base_name(const char *s)
{
	const char *b = s;
	for (; *s; s++)
		if (*s == '/' || *s == '\\')
			b = s + 1;
	return b;
}

/* ZSATunnel* (Windows) or trptunnel* (macOS), case-insensitively. */
static int is_tunnel_name(const char *name)
{
	char b[16];
	size_t i;
	const char *s = base_name(name);
	for (i = 0; i + 1 < sizeof b && s[i]; i++)
		b[i] = (char)((s[i] >= 'A' && s[i] <= 'Z') ? s[i] - 'A' + 'a' : s[i]);
	b[i] = '\0';
	return !strncmp(b, "zsatunnel", 9) || !strncmp(b, "trptunnel", 9);
}

/* Absolute, drive-relative or with a ".." component. */
static const char *path_trick(const char *name)
{
	const char *p = name;
	if (name[0] == '/' || name[0] == '\\')
		return "absolute path";
	if (((name[0] >= 'A' && name[0] <= 'Z') || (name[0] >= 'a' && name[0] <= 'z')) && name[1] == ':')
		return "drive-letter path";
	while (*p) {
		size_t n = strcspn(p, "/\\");
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return "path with a \"..\" component";
		p += n;
		if (*p)
			p++;
	}
	return NULL;
}

/* ---- entry streams ----------------------------------------------------------- */

/* Read from the archive with every cap checked. Returns bytes (> 0), 0 at
 * the entry's end, -1 on damage or refusal (es->err, es->why). */
static long es_raw(struct estream *es, void *buf, size_t len)
{
	struct walk *w = es->w;
	la_ssize_t n;
	int tries = 0;

	if (es->err)
		return -1;
	if (es->eof || !len)
		return 0;
	do
		n = archive_read_data(es->a, buf, len);
	while (n == ARCHIVE_RETRY && ++tries < 4);
	if (n < 0) {
		const char *m = archive_error_string(es->a);
		es->err = ES_CORRUPT;
		es->fatal = n == ARCHIVE_FATAL;
		snprintf(es->why, sizeof es->why, "damaged: %s", m && *m ? m : "read error");
		return -1;
	}
	if (n == 0) {
		es->eof = 1;
		return 0;
	}
	es->produced += (uint64_t)n;
	w->total += (uint64_t)n;
	w->rep->bytes += (uint64_t)n;
	if (es->produced > w->lim.max_entry_bytes) {
		es->err = ES_REFUSED;
		snprintf(es->why, sizeof es->why, "larger than the cap of %" PRIu64 " bytes per entry",
			 w->lim.max_entry_bytes);
		return -1;
	}
	if (w->total > w->lim.max_total_bytes) {
		es->err = ES_REFUSED;
		snprintf(es->why, sizeof es->why, "the bundle passed the cap of %" PRIu64
			 " bytes in all", w->lim.max_total_bytes);
		return -1;
	}
	if (es->produced > w->lim.ratio_grace) {
		int64_t raw = archive_filter_bytes(es->a, -1) - es->raw_start;
		uint64_t consumed = raw > 0 ? (uint64_t)raw : 1;
		if (es->produced / consumed >= w->lim.max_ratio) {
			es->err = ES_REFUSED;
			snprintf(es->why, sizeof es->why, "compression ratio over %" PRIu32 ":1 "
				 "(%" PRIu64 " bytes from %" PRIu64 "): a decompression bomb?",
				 w->lim.max_ratio, es->produced, consumed);
			return -1;
		}
	}
	return (long)n;
}

/* The peeked bytes first, then the archive. */
static long es_read(struct estream *es, void *buf, size_t len)
{
	if (es->ppos < es->npeek) {
		size_t c = es->npeek - es->ppos;
		if (c > len)
			c = len;
		memcpy(buf, es->peek + es->ppos, c);
		es->ppos += c;
		return (long)c;
	}
	return es_raw(es, buf, len);
}

static long es_read_cb(void *ctx, void *buf, size_t len)
{
	return es_read(ctx, buf, len);
}

static void es_fill_peek(struct estream *es)
{
	while (es->npeek < PEEK_MAX) {
		long n = es_raw(es, es->peek + es->npeek, PEEK_MAX - es->npeek);
		if (n <= 0)
			break;
		es->npeek += (size_t)n;
	}
}

/* Read what is left of the entry, caps on (for streams where skipping
 * means decompressing anyway). */
static void es_drain(struct estream *es)
{
	es->ppos = es->npeek;
	while (es_raw(es, es->w->chunk, CHUNK) > 0)
		;
}

/* ---- log feeding --------------------------------------------------------------- */

/* Feed a whole input to the tunnel log or CSV parser. Returns bytes fed. */
static uint64_t feed_text(struct walk *w, enum bundle_kind kind,
                          long (*rd)(void *ctx, void *buf, size_t len), void *src)
{
	uint64_t total = 0;
	long n;
	while ((n = rd(src, w->chunk, CHUNK)) > 0) {
		total += (uint64_t)n;
		if (kind == BK_TUNNEL_LOG)
			zsat_feed(w->cb->zsat, w->chunk, (size_t)n);
		else
			webins_feed(w->cb->webins, w->chunk, (size_t)n);
	}
	if (kind == BK_TUNNEL_LOG)
		zsat_end(w->cb->zsat);
	else
		webins_end(w->cb->webins);
	return total;
}

/* ---- archives ----------------------------------------------------------------------- */

static int walk_archive(struct walk *w, struct archive **pa, const char *prefix,
                        const char *raw_name, unsigned nest, const char *reopen);

struct nested {
	struct estream *outer;
	char buf[CHUNK];
	int outer_failed;
};

static la_ssize_t nested_read(struct archive *a, void *cd, const void **buff)
{
	struct nested *ns = cd;
	long n = es_read(ns->outer, ns->buf, sizeof ns->buf);
	if (n < 0) {
		ns->outer_failed = 1;
		archive_set_error(a, EIO, "the enclosing entry could not be read");
		return -1;
	}
	*buff = ns->buf;
	return n;
}

/* A new reader with the formats and filters of the given level. */
static struct archive *reader_new(int nested)
{
	struct archive *a = archive_read_new();
	if (!a)
		return NULL;
	archive_read_support_filter_all(a);
	if (nested) {
		archive_read_support_format_zip_streamable(a);
		archive_read_support_format_tar(a);
		archive_read_support_format_raw(a);
	} else {
		archive_read_support_format_zip(a);
		archive_read_support_format_tar(a);
		archive_read_support_format_empty(a);
	}
	return a;
}

/* An archive inside an entry: walk it through the entry's stream. */
static void walk_nested(struct walk *w, struct estream *outer, const char *label,
                        const char *name, unsigned nest)
{
	struct nested *ns = malloc(sizeof *ns);
	struct archive *a = reader_new(1);
	char raw_name[BUNDLE_LABEL_MAX];
	size_t n;

	if (!ns || !a) {
		note(w, BK_CORRUPT, label, "out of memory");
		w->rep->corrupt++;
		free(ns);
		if (a)
			archive_read_free(a);
		return;
	}
	ns->outer = outer;
	ns->outer_failed = 0;
	/* a gzip'd single file is named by its entry without ".gz" */
	pi_strlcpy(raw_name, base_name(name), sizeof raw_name);
	n = strlen(raw_name);
	if (n > 3 && !strcmp(raw_name + n - 3, ".gz"))
		raw_name[n - 3] = '\0';
	if (archive_read_open(a, ns, NULL, nested_read, NULL) != ARCHIVE_OK) {
		if (!ns->outer_failed) {
			const char *m = archive_error_string(a);
			note(w, BK_CORRUPT, label, "not a readable archive: %s", m ? m : "?");
			w->rep->corrupt++;
		}
	} else {
		w->rep->nested++;
		(void)walk_archive(w, &a, label, raw_name, nest, NULL);
	}
	archive_read_free(a);
	free(ns);
}

/* Classify one entry by its peeked bytes and name, and hand it on. */
static void classify(struct walk *w, struct estream *es, const char *name, const char *label,
                     unsigned nest)
{
	const uint8_t *pk = es->peek;
	size_t n = es->npeek;
	char err[512];

	if (is_capture_magic(pk, n)) {
		struct cap_reader *r;
		w->rep->captures++;
		if (!w->cb->on_capture) {
			found(w, BK_CAPTURE, label, es->produced);
			return;
		}
		r = cap_open_stream(label, es_read_cb, es, err, sizeof err);
		if (!r) {
			w->rep->capture_errors++;
			if (!es->err)
				note(w, BK_CAPTURE, label, "%s", err);
		} else {
			if (w->cb->on_capture(w->ctx, label, r))
				stop_walk(w, label, "stopped by the caller");
			cap_close(r);
		}
		found(w, BK_CAPTURE, label, es->produced);
		return;
	}
	if (is_archive_magic(pk, n)) {
		if (nest >= w->lim.max_nest) {
			w->rep->ignored++;
			note(w, BK_IGNORED, label, "archive nested deeper than %" PRIu32 " levels: not opened",
			     w->lim.max_nest);
			return;
		}
		walk_nested(w, es, label, name, nest + 1);
		return;
	}
	if (is_tunnel_name(name) && looks_text(pk, n)) {
		w->rep->tunnel_logs++;
		if (w->cb->zsat)
			(void)feed_text(w, BK_TUNNEL_LOG, es_read_cb, es);
		found(w, BK_TUNNEL_LOG, label, es->produced);
		return;
	}
	if (looks_text(pk, n) && has_policy_action(pk, n)) {
		w->rep->csv_files++;
		if (w->cb->webins)
			(void)feed_text(w, BK_WEBINS, es_read_cb, es);
		found(w, BK_WEBINS, label, es->produced);
		return;
	}
	w->rep->ignored++;
}

/* After damage that leaves the reader unusable (libarchive's fatal state),
 * open the archive file again and skip the entries already seen: zip keeps
 * a directory, so that costs seeks, not decompression. Returns the new
 * reader, or NULL (the old one is freed either way). */
static struct archive *reopen_after(struct archive *old, const char *path, uint64_t seen)
{
	struct archive *a;
	struct archive_entry *ent;

	archive_read_free(old);
	a = reader_new(0);
	if (!a || archive_read_open_filename(a, path, BLOCK) != ARCHIVE_OK)
		goto fail;
	for (uint64_t i = 0; i < seen; i++) {
		int r = archive_read_next_header(a, &ent);
		if (r != ARCHIVE_OK && r != ARCHIVE_WARN && r != ARCHIVE_FAILED)
			goto fail;
	}
	return a;
fail:
	if (a)
		archive_read_free(a);
	return NULL;
}

/* Returns 0 at the archive's end, 1 when its walk stopped early. *pa may be
 * replaced (reopen: the path of a top-level zip, to go on after damage). */
static int walk_archive(struct walk *w, struct archive **pa, const char *prefix,
                        const char *raw_name, unsigned nest, const char *reopen)
{
	struct archive *a = *pa;
	struct archive_entry *ent;
	unsigned reopens = 0;
	uint8_t *peek = malloc(PEEK_MAX);
	char label[BUNDLE_LABEL_MAX];
	uint64_t seen = 0;
	int retries = 0, rc = 0;

	if (!peek) {
		stop_walk(w, prefix, "out of memory");
		return 1;
	}
	while (!w->stop) {
		struct estream es;
		const char *name, *trick;
		int r = archive_read_next_header(a, &ent), streamy, ftype;

		if (r == ARCHIVE_EOF)
			break;
		if (r == ARCHIVE_RETRY && ++retries < 4)
			continue;
		if (r == ARCHIVE_FATAL || r == ARCHIVE_RETRY) {
			const char *m = archive_error_string(a);
			w->rep->corrupt++;
			if (nest == 0)
				w->rep->stopped = 1;
			note(w, nest ? BK_CORRUPT : BK_STOPPED, prefix, "archive damaged after %" PRIu64
			     " entries, rest not read: %s", seen, m && *m ? m : "unreadable header");
			rc = 1;
			break;
		}
		retries = 0;
		seen++;
		if (archive_format(a) == ARCHIVE_FORMAT_RAW && raw_name) {
			name = raw_name;
			pi_strlcpy(label, prefix, sizeof label);
		} else {
			name = archive_entry_pathname_utf8(ent);
			if (!name)
				name = archive_entry_pathname(ent);
			if (!name)
				name = "(unnamed)";
			make_label(label, sizeof label, prefix, ':', name);
		}
		if (r == ARCHIVE_FAILED) {
			const char *m = archive_error_string(a);
			w->rep->entries++;
			w->rep->corrupt++;
			note(w, BK_CORRUPT, label, "damaged entry header: %s", m && *m ? m : "?");
			continue;
		}
		ftype = (int)archive_entry_filetype(ent);
		if (ftype == AE_IFDIR) {
			w->rep->dirs++;
			continue;
		}
		if (++w->rep->entries > w->lim.max_entries) {
			char why[128];
			snprintf(why, sizeof why, "more than %" PRIu64 " entries: rest not read",
				 w->lim.max_entries);
			w->rep->refused++;
			stop_walk(w, label, why);
			rc = 1;
			break;
		}
		if (ftype == AE_IFLNK) {
			w->rep->refused++;
			note(w, BK_REFUSED, label, "symbolic link (to \"%.120s\")",
			     archive_entry_symlink(ent) ? archive_entry_symlink(ent) : "?");
			continue;
		}
		if (archive_entry_hardlink(ent)) {
			w->rep->refused++;
			note(w, BK_REFUSED, label, "hard link");
			continue;
		}
		if ((trick = path_trick(name)) != NULL) {
			w->rep->refused++;
			note(w, BK_REFUSED, label, "%s", trick);
			continue;
		}
		if (ftype != AE_IFREG && ftype != 0) {
			w->rep->ignored++;
			continue;
		}
		if (archive_entry_is_encrypted(ent)) {
			w->rep->encrypted++;
			note(w, BK_ENCRYPTED, label, "encrypted: skipped (no passphrase is asked for)");
			continue;
		}
		if (archive_entry_size_is_set(ent) && archive_entry_size(ent) > 0 &&
		    (uint64_t)archive_entry_size(ent) > w->lim.max_entry_bytes) {
			w->rep->refused++;
			note(w, BK_REFUSED, label, "declares %" PRId64 " bytes, over the cap of %" PRIu64
			     " per entry", (int64_t)archive_entry_size(ent), w->lim.max_entry_bytes);
			if (nest || archive_filter_count(a) > 1) {
				note(w, BK_STOPPED, prefix, "rest of this compressed stream not read: "
				     "skipping a refused entry would mean decompressing it");
				if (!nest)
					w->rep->stopped = 1;
				rc = 1;
				break;
			}
			continue;
		}

		memset(&es, 0, sizeof es);
		es.w = w;
		es.a = a;
		es.peek = peek;
		es.raw_start = archive_filter_bytes(a, -1);
		es_fill_peek(&es);
		if (!es.err)
			classify(w, &es, name, label, nest);
		streamy = nest > 0 || archive_filter_count(a) > 1;
		if (!es.err && streamy && !w->stop)
			es_drain(&es);
		if (es.err == ES_REFUSED) {
			w->rep->refused++;
			note(w, BK_REFUSED, label, "%s", es.why);
			if (w->total > w->lim.max_total_bytes) {
				stop_walk(w, label, es.why);
				rc = 1;
				break;
			}
			if (streamy) {
				note(w, BK_STOPPED, prefix, "rest of this compressed stream not read: "
				     "skipping a refused entry would mean decompressing it");
				if (!nest)
					w->rep->stopped = 1;
				rc = 1;
				break;
			}
		} else if (es.err == ES_CORRUPT) {
			w->rep->corrupt++;
			note(w, BK_CORRUPT, label, "%s", es.why);
			if (es.fatal && reopen && !streamy && reopens < MAX_REOPEN) {
				reopens++;
				a = *pa = reopen_after(a, reopen, seen);
				if (a)
					continue;
				note(w, BK_STOPPED, prefix, "the archive could not be opened again after the damage");
				w->rep->stopped = 1;
				rc = 1;
				break;
			}
			if (es.fatal) {
				if (!nest)
					w->rep->stopped = 1;
				note(w, BK_STOPPED, prefix, "rest of the archive not read after the damage");
				rc = 1;
				break;
			}
		}
	}
	free(peek);
	return rc || w->stop;
}


/* ---- folders ----------------------------------------------------------------------- */

struct fdsrc {
	int fd;
	const uint8_t *peek;
	size_t npeek, ppos;
};

static long fd_read_cb(void *ctx, void *buf, size_t len)
{
	struct fdsrc *s = ctx;
	ssize_t n;
	if (s->ppos < s->npeek) {
		size_t c = s->npeek - s->ppos;
		if (c > len)
			c = len;
		memcpy(buf, s->peek + s->ppos, c);
		s->ppos += c;
		return (long)c;
	}
	do
		n = read(s->fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -1 : (long)n;
}

static void walk_file(struct walk *w, const char *path, unsigned nest)
{
	uint8_t *peek = malloc(PEEK_MAX);
	struct fdsrc src = { -1, NULL, 0, 0 };
	struct stat st;
	size_t n = 0;
	char err[512];

	if (!peek) {
		stop_walk(w, path, "out of memory");
		return;
	}
	src.fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
	if (src.fd < 0 || fstat(src.fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		w->rep->corrupt++;
		note(w, BK_CORRUPT, path, "cannot read: %s", src.fd < 0 ? strerror(errno) : "not a regular file");
		goto out;
	}
	while (n < PEEK_MAX) {
		ssize_t k = read(src.fd, peek + n, PEEK_MAX - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	src.peek = peek;
	src.npeek = n;
	w->rep->bytes += (uint64_t)st.st_size;
	if (is_capture_magic(peek, n)) {
		struct cap_reader *r;
		w->rep->captures++;
		found(w, BK_CAPTURE, path, (uint64_t)st.st_size);
		if (!w->cb->on_capture)
			goto out;
		r = cap_open(path, err, sizeof err);
		if (!r) {
			w->rep->capture_errors++;
			note(w, BK_CAPTURE, path, "%s", err);
			goto out;
		}
		if (w->cb->on_capture(w->ctx, path, r))
			stop_walk(w, path, "stopped by the caller");
		cap_close(r);
	} else if (is_archive_magic(peek, n)) {
		struct archive *a;
		if (nest >= w->lim.max_nest) {
			w->rep->ignored++;
			note(w, BK_IGNORED, path, "archive nested deeper than %" PRIu32 " levels: not opened",
			     w->lim.max_nest);
			goto out;
		}
		a = reader_new(1);
		if (!a || lseek(src.fd, 0, SEEK_SET) != 0 ||
		    archive_read_open_fd(a, src.fd, BLOCK) != ARCHIVE_OK) {
			w->rep->corrupt++;
			note(w, BK_CORRUPT, path, "not a readable archive: %s",
			     a && archive_error_string(a) ? archive_error_string(a) : strerror(errno));
		} else {
			char raw_name[BUNDLE_LABEL_MAX];
			size_t l;
			pi_strlcpy(raw_name, base_name(path), sizeof raw_name);
			l = strlen(raw_name);
			if (l > 3 && !strcmp(raw_name + l - 3, ".gz"))
				raw_name[l - 3] = '\0';
			w->rep->nested++;
			(void)walk_archive(w, &a, path, raw_name, nest + 1, NULL);
		}
		if (a)
			archive_read_free(a);
	} else if (is_tunnel_name(path) && looks_text(peek, n)) {
		w->rep->tunnel_logs++;
		found(w, BK_TUNNEL_LOG, path, (uint64_t)st.st_size);
		if (w->cb->zsat)
			(void)feed_text(w, BK_TUNNEL_LOG, fd_read_cb, &src);
	} else if (looks_text(peek, n) && has_policy_action(peek, n)) {
		w->rep->csv_files++;
		found(w, BK_WEBINS, path, (uint64_t)st.st_size);
		if (w->cb->webins)
			(void)feed_text(w, BK_WEBINS, fd_read_cb, &src);
	} else {
		w->rep->ignored++;
	}
out:
	if (src.fd >= 0)
		close(src.fd);
	free(peek);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void walk_dir(struct walk *w, const char *dir, unsigned depth)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t nn = 0, cap = 0;

	if (!d) {
		w->rep->corrupt++;
		note(w, BK_CORRUPT, dir, "cannot open folder: %s", strerror(errno));
		return;
	}
	while ((de = readdir(d)) != NULL) {
		char *c;
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (nn >= DIR_MAX_NAMES) {
			note(w, BK_REFUSED, dir, "more than %u names in one folder: the rest not read",
			     DIR_MAX_NAMES);
			w->rep->refused++;
			break;
		}
		if (nn == cap) {
			size_t nc = cap ? cap * 2 : 64;
			char **nv = realloc(names, nc * sizeof *nv);
			if (!nv)
				break;
			names = nv;
			cap = nc;
		}
		c = strdup(de->d_name);
		if (!c)
			break;
		names[nn++] = c;
	}
	closedir(d);
	if (nn)
		qsort(names, nn, sizeof *names, name_cmp);
	for (size_t i = 0; i < nn && !w->stop; i++) {
		char path[4096];
		struct stat st;
		if ((size_t)snprintf(path, sizeof path, "%s%s%s", dir,
				     dir[0] && dir[strlen(dir) - 1] == '/' ? "" : "/", names[i]) >= sizeof path) {
			w->rep->refused++;
			note(w, BK_REFUSED, dir, "path too long: a name was not read");
			continue;
		}
		if (lstat(path, &st) != 0) {
			w->rep->corrupt++;
			note(w, BK_CORRUPT, path, "cannot stat: %s", strerror(errno));
			continue;
		}
		if (S_ISDIR(st.st_mode)) {
			w->rep->dirs++;
			if (depth + 1 > w->lim.max_depth) {
				w->rep->refused++;
				note(w, BK_REFUSED, path, "folder deeper than %" PRIu32 " levels: not read",
				     w->lim.max_depth);
				continue;
			}
			walk_dir(w, path, depth + 1);
			continue;
		}
		if (++w->rep->entries > w->lim.max_entries) {
			char why[128];
			snprintf(why, sizeof why, "more than %" PRIu64 " entries: rest not read",
				 w->lim.max_entries);
			w->rep->refused++;
			stop_walk(w, path, why);
			break;
		}
		if (S_ISLNK(st.st_mode)) {
			w->rep->refused++;
			note(w, BK_REFUSED, path, "symbolic link: not followed");
			continue;
		}
		if (!S_ISREG(st.st_mode)) {
			w->rep->ignored++;
			continue;
		}
		walk_file(w, path, 0);
	}
	for (size_t i = 0; i < nn; i++)
		free(names[i]);
	free(names);
}

/* ---- public interface ---------------------------------------------------------- */

void bundle_limits_default(struct bundle_limits *l)
{
	l->max_entries = BUNDLE_MAX_ENTRIES;
	l->max_entry_bytes = BUNDLE_MAX_ENTRY_BYTES;
	l->max_total_bytes = BUNDLE_MAX_TOTAL_BYTES;
	l->ratio_grace = BUNDLE_RATIO_GRACE;
	l->max_ratio = BUNDLE_MAX_RATIO;
	l->max_depth = BUNDLE_MAX_DEPTH;
	l->max_nest = BUNDLE_MAX_NEST;
}

/* Returns the bundle type of path by its magic; BUNDLE_NONE otherwise. */
int bundle_probe(const char *path)
{
	struct stat st;
	uint8_t b[512];
	int fd, n, gzipped;
	gzFile gz;

	if (stat(path, &st) != 0)
		return BUNDLE_NONE;
	if (S_ISDIR(st.st_mode))
		return BUNDLE_DIR;
	if (!S_ISREG(st.st_mode))
		return BUNDLE_NONE;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return BUNDLE_NONE;
	n = (int)read(fd, b, 6);
	if (n >= 4 && b[0] == 'P' && b[1] == 'K' &&
	    ((b[2] == 3 && b[3] == 4) || (b[2] == 5 && b[3] == 6) || (b[2] == 7 && b[3] == 8))) {
		close(fd);
		return BUNDLE_ZIP;
	}
	if ((n >= 6 && !memcmp(b, "\xFD" "7zXZ\0", 6)) ||
	    (n >= 4 && b[0] == 'B' && b[1] == 'Z' && b[2] == 'h') ||
	    (n >= 4 && !memcmp(b, "\x28\xB5\x2F\xFD", 4))) {
		close(fd);
		return BUNDLE_TAR;
	}
	if (lseek(fd, 0, SEEK_SET) != 0) {
		close(fd);
		return BUNDLE_NONE;
	}
	gz = gzdopen(fd, "rb"); /* plain bytes pass through unchanged */
	if (!gz) {
		close(fd);
		return BUNDLE_NONE;
	}
	n = gzread(gz, b, sizeof b);
	gzipped = !gzdirect(gz);
	gzclose(gz);
	if (n >= 262 && !memcmp(b + 257, "ustar", 5))
		return BUNDLE_TAR;
	if (n == (int)sizeof b && b[0] == 0 && !memcmp(b, b + 1, sizeof b - 1) && gzipped)
		return BUNDLE_TAR; /* an empty tar: end-of-archive blocks only */
	return BUNDLE_NONE;
}

/* Walks the bundle; see bundle.h for the return contract. */
int bundle_walk(const char *path, const struct bundle_cb *cb, void *ctx,
                struct bundle_report *rep, char *err, size_t errlen)
{
	struct walk w;
	int type = bundle_probe(path), rc = 0;

	memset(rep, 0, sizeof *rep);
	memset(&w, 0, sizeof w);
	w.cb = cb;
	w.ctx = ctx;
	w.rep = rep;
	if (cb->limits)
		w.lim = *cb->limits;
	else
		bundle_limits_default(&w.lim);
	rep->type = (enum bundle_type)type;
	if (type == BUNDLE_NONE) {
		struct stat st;
		if (stat(path, &st) != 0)
			snprintf(err, errlen, "%s: cannot open: %s", path, strerror(errno));
		else
			snprintf(err, errlen, "%s: not a bundle (neither a folder nor a ZIP or tar archive)", path);
		return -1;
	}
	w.chunk = malloc(CHUNK);
	if (!w.chunk) {
		snprintf(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (type == BUNDLE_DIR) {
		walk_dir(&w, path, 0);
	} else {
		struct archive *a = reader_new(0);
		if (!a || archive_read_open_filename(a, path, BLOCK) != ARCHIVE_OK) {
			snprintf(err, errlen, "%s: cannot open the archive: %s", path,
				 a && archive_error_string(a) ? archive_error_string(a) : "out of memory");
			if (a)
				archive_read_free(a);
			free(w.chunk);
			return -1;
		}
		(void)walk_archive(&w, &a, path, NULL, 0, path);
		if (a)
			archive_read_free(a);
	}
	free(w.chunk);
	if (rep->stopped || w.stop)
		rc = 1;
	return rc;
}

/* Returns the length of the whole summary line (as snprintf). */
size_t bundle_summary(const struct bundle_report *rep, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%" PRIu64 " capture%s, %" PRIu64 " ZSATunnel log%s, %" PRIu64
			 " Web Insights export%s (%" PRIu64 " entries; %" PRIu64 " ignored, %" PRIu64
			 " refused, %" PRIu64 " encrypted, %" PRIu64 " damaged%s)",
			 rep->captures, rep->captures == 1 ? "" : "s",
			 rep->tunnel_logs, rep->tunnel_logs == 1 ? "" : "s",
			 rep->csv_files, rep->csv_files == 1 ? "" : "s",
			 rep->entries, rep->ignored, rep->refused, rep->encrypted, rep->corrupt,
			 rep->stopped ? "; walk stopped early" : "");
	return n < 0 ? 0 : (size_t)n;
}

static const char *type_name(enum bundle_type t)
{
	switch (t) {
	case BUNDLE_DIR: return "folder";
	case BUNDLE_ZIP: return "zip";
	case BUNDLE_TAR: return "tar";
	case BUNDLE_NONE: break;
	}
	return "none";
}

/* Writes the report as one JSON object value. */
void bundle_report_json(const struct bundle_report *rep, struct jw *w)
{
	jw_obj_open(w);
	jw_kstr(w, "type", type_name(rep->type));
	jw_kuint(w, "entries", rep->entries);
	jw_kuint(w, "captures", rep->captures);
	jw_kuint(w, "capture_errors", rep->capture_errors);
	jw_kuint(w, "tunnel_logs", rep->tunnel_logs);
	jw_kuint(w, "web_insights_files", rep->csv_files);
	jw_kuint(w, "nested_archives", rep->nested);
	jw_kuint(w, "ignored", rep->ignored);
	jw_kuint(w, "refused", rep->refused);
	jw_kuint(w, "encrypted", rep->encrypted);
	jw_kuint(w, "corrupt", rep->corrupt);
	jw_kuint(w, "bytes", rep->bytes);
	jw_kbool(w, "stopped", rep->stopped);
	jw_key(w, "found");
	jw_arr_open(w);
	for (uint32_t i = 0; i < rep->nfound && i < BUNDLE_MAX_FOUND; i++) {
		jw_obj_open(w);
		jw_kstr(w, "kind", bundle_kind_name(rep->found[i].kind));
		jw_kstr(w, "label", rep->found[i].label);
		jw_kuint(w, "bytes", rep->found[i].bytes);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_kuint(w, "found_dropped", rep->found_dropped);
	jw_key(w, "notes");
	jw_arr_open(w);
	for (uint32_t i = 0; i < rep->nnotes && i < BUNDLE_MAX_NOTES; i++) {
		jw_obj_open(w);
		jw_kstr(w, "kind", bundle_kind_name(rep->notes[i].kind));
		jw_kstr(w, "label", rep->notes[i].label);
		jw_kstr(w, "why", rep->notes[i].why);
		jw_obj_close(w);
	}
	jw_arr_close(w);
	jw_kuint(w, "notes_dropped", rep->notes_dropped);
	jw_obj_close(w);
}
