/* test_bundle.c: unit tests of bundle walking (ZIP, tar.gz, folders), cap_open_stream, and the evidence found in bundles.
 *
 * Every archive is built here with libarchive's writer, under a mkdtemp
 * folder removed at the end: captures are pcap/pcapng byte vectors made
 * here (plus samples/mixed.pcapng when the tree has it), tunnel logs carry
 * the three lines Zscaler's guide quotes verbatim among ordinary lines (one
 * in UTF-8, one in UTF-16LE with a BOM as Windows writes, one rotated into
 * a nested zip), and a Web Insights export has its columns out of order with
 * quoted commas and newlines. Then: an encrypted zip (traditional PKWARE),
 * truncated and bit-flipped archives, empty ones, decompression bombs (50 MB
 * of zeros behind a pcap header), size caps, "../" and absolute paths and
 * links, and a folder bundle with a symbolic link and a depth cap.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkdtemp, symlink, nftw-free cleanup */
#endif
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "analysis/webinsights.h"
#include "analysis/zsatunnel.h"
#include "capture/bundle.h"
#include "capture/capture.h"
#include "common/util.h"
#include "outputs/jw.h"
#include "tests/unit/unit.h"

#define G1 "2024-07-17 18:16:29.783551(-0400)[80582:16211546] INF ID=492535293, Tunnel to SME for host=downloaddispatch.itunes.apple.com:443, SME IP=104.129.206.47:443"
#define G2 "2024-07-17 18:16:30.054381(-0400)[80582:16211546] WAR ID=492535293, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)"
#define G3 "2024-07-17 18:16:30.054553(-0400)[80582:16211546] INF ==> ID=492535293, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=891, srv_bytes=4230!"
#define FAILED "Dropped due to failed client SSL handshake"

static char tmpdir[256];

/* ---- byte vectors ---------------------------------------------------------- */

struct vec {
	uint8_t *p;
	size_t n, cap;
};

static void put(struct vec *v, const void *d, size_t n)
{
	if (v->n + n > v->cap) {
		size_t nc = v->cap ? v->cap : 256;
		while (nc < v->n + n)
			nc *= 2;
		v->p = realloc(v->p, nc);
		if (!v->p)
			abort();
		v->cap = nc;
	}
	memcpy(v->p + v->n, d, n);
	v->n += n;
}

static void put32le(struct vec *v, uint32_t x)
{
	uint8_t b[4] = { (uint8_t)x, (uint8_t)(x >> 8), (uint8_t)(x >> 16), (uint8_t)(x >> 24) };
	put(v, b, 4);
}

static void put16le(struct vec *v, uint16_t x)
{
	uint8_t b[2] = { (uint8_t)x, (uint8_t)(x >> 8) };
	put(v, b, 2);
}

static void puts_(struct vec *v, const char *s)
{
	put(v, s, strlen(s));
}

/* A pcap of npk Ethernet frames of 60 bytes. */
static struct vec make_pcap(unsigned npk)
{
	struct vec v = { 0 };
	uint8_t frame[60];
	put32le(&v, 0xa1b2c3d4u);
	put16le(&v, 2);
	put16le(&v, 4);
	put32le(&v, 0);
	put32le(&v, 0);
	put32le(&v, 65535);
	put32le(&v, 1);
	for (unsigned i = 0; i < npk; i++) {
		memset(frame, (int)i, sizeof frame);
		put32le(&v, 1721254589u + i);
		put32le(&v, 1000u * i);
		put32le(&v, sizeof frame);
		put32le(&v, sizeof frame);
		put(&v, frame, sizeof frame);
	}
	return v;
}

/* A pcapng (SHB, IDB, npk EPBs of 60 bytes). */
static struct vec make_pcapng(unsigned npk)
{
	struct vec v = { 0 };
	uint8_t frame[60];
	put32le(&v, 0x0A0D0D0Au);
	put32le(&v, 28);
	put32le(&v, 0x1A2B3C4Du);
	put16le(&v, 1);
	put16le(&v, 0);
	put32le(&v, 0xFFFFFFFFu);
	put32le(&v, 0xFFFFFFFFu);
	put32le(&v, 28);
	put32le(&v, 1);
	put32le(&v, 20);
	put16le(&v, 1);
	put16le(&v, 0);
	put32le(&v, 0);
	put32le(&v, 20);
	for (unsigned i = 0; i < npk; i++) {
		uint64_t ts = (1721254589ull + i) * 1000000ull;
		memset(frame, (int)(i + 7), sizeof frame);
		put32le(&v, 6);
		put32le(&v, 32 + 60);
		put32le(&v, 0);
		put32le(&v, (uint32_t)(ts >> 32));
		put32le(&v, (uint32_t)ts);
		put32le(&v, 60);
		put32le(&v, 60);
		put(&v, frame, sizeof frame);
		put32le(&v, 32 + 60);
	}
	return v;
}

static struct vec gzip_bytes(const uint8_t *p, size_t n)
{
	struct vec v = { 0 };
	z_stream zs;
	uint8_t out[16384];
	int rc;
	memset(&zs, 0, sizeof zs);
	if (deflateInit2(&zs, 9, Z_DEFLATED, 31, 8, Z_DEFAULT_STRATEGY) != Z_OK)
		abort();
	zs.next_in = (uint8_t *)p;
	zs.avail_in = (uInt)n;
	do {
		zs.next_out = out;
		zs.avail_out = sizeof out;
		rc = deflate(&zs, Z_FINISH);
		put(&v, out, sizeof out - zs.avail_out);
	} while (rc == Z_OK);
	deflateEnd(&zs);
	return v;
}

/* The tunnel log: the guide's three lines among ordinary ones. */
static struct vec tunnel_log(const char *eol)
{
	struct vec v = { 0 };
	static const char *const lines[] = {
		"2024-07-17 18:16:28.100000(-0400)[80582:16211546] INF Starting ZSATunnel 4.3.0.151",
		"2024-07-17 18:16:28.300000(-0400)[80582:16211546] DBG ID=492535000, Tunnel to SME for host=www.example.com:443, SME IP=104.129.206.47:443",
		"2024-07-17 18:16:28.400000(-0400)[80582:16211546] INF ==> ID=492535000, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=15230, srv_bytes=981244!",
		G1, G2, G3,
		"2024-07-17 18:16:31.000000(-0400)[80582:16211546] INF Network change detected",
	};
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++) {
		puts_(&v, lines[i]);
		puts_(&v, eol);
	}
	return v;
}

static struct vec utf16le_bom(const struct vec *in)
{
	struct vec v = { 0 };
	uint8_t b[2] = { 0xFF, 0xFE };
	put(&v, b, 2);
	for (size_t i = 0; i < in->n; i++) {
		b[0] = in->p[i];
		b[1] = 0;
		put(&v, b, 2);
	}
	return v;
}

static const char webins_csv[] =
	"\xEF\xBB\xBF\"Location\",\"URL\",\"User\",\"Event Time\",\"Policy Action\"\r\n"
	"\"Road Warrior\",\"play.itunes.apple.com\",\"dev1@okta.example\",\"Wednesday, July 17, 2024 6:16:30 PM\",\"" FAILED "\"\r\n"
	"\"Road Warrior\",\"downloaddispatch.itunes.apple.com\",\"dev1@okta.example\",\"Wednesday, July 17, 2024 6:16:31 PM\",\"" FAILED "\"\r\n"
	"\"Office, 2nd floor\nEast wing\",\"https://downloaddispatch.itunes.apple.com/x\",\"dev2@okta.example\",\"2024-07-17 22:17:00\",\"" FAILED "\"\r\n"
	"\"Road Warrior\",\"www.example.com\",\"dev1@okta.example\",\"2024-07-17 22:18:00\",\"Allowed\"\r\n";

/* ---- archive writing ------------------------------------------------------------ */

struct ent {
	const char *name;
	const void *data;
	size_t len;
	int type;          /* 0 file, 1 symlink, 2 hardlink, 3 folder */
	const char *link;
	uint64_t zeros;    /* then this many zero bytes */
};

enum { FMT_ZIP, FMT_ZIP_STORE, FMT_ZIP_CRYPT, FMT_TARGZ, FMT_TAR };

/* Write an archive to path; returns 0, or -1 when libarchive can't (skip). */
static int write_archive(const char *path, int fmt, const struct ent *e, size_t n)
{
	struct archive *a = archive_write_new();
	static uint8_t zero[1 << 20];
	int rc = 0;

	if (fmt == FMT_TARGZ || fmt == FMT_TAR) {
		archive_write_set_format_pax_restricted(a);
		if (fmt == FMT_TARGZ)
			archive_write_add_filter_gzip(a);
	} else {
		archive_write_set_format_zip(a);
		if (fmt == FMT_ZIP_STORE && archive_write_set_options(a, "zip:compression=store") != ARCHIVE_OK)
			rc = -1;
		if (fmt == FMT_ZIP_CRYPT &&
		    (archive_write_set_options(a, "zip:encryption=zipcrypt") != ARCHIVE_OK ||
		     archive_write_set_passphrase(a, "secret") != ARCHIVE_OK))
			rc = -1;
	}
	if (rc || archive_write_open_filename(a, path) != ARCHIVE_OK) {
		fprintf(stderr, "cannot write %s: %s\n", path, archive_error_string(a));
		archive_write_free(a);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		struct archive_entry *en = archive_entry_new();
		archive_entry_set_pathname(en, e[i].name);
		archive_entry_set_mtime(en, 1721254589, 0);
		if (e[i].type == 1) {
			archive_entry_set_filetype(en, AE_IFLNK);
			archive_entry_set_symlink(en, e[i].link);
			archive_entry_set_perm(en, 0777);
		} else if (e[i].type == 2) {
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_hardlink(en, e[i].link);
			archive_entry_set_perm(en, 0644);
		} else if (e[i].type == 3) {
			archive_entry_set_filetype(en, AE_IFDIR);
			archive_entry_set_perm(en, 0755);
		} else {
			archive_entry_set_filetype(en, AE_IFREG);
			archive_entry_set_perm(en, 0644);
			archive_entry_set_size(en, (la_int64_t)(e[i].len + e[i].zeros));
		}
		if (archive_write_header(a, en) != ARCHIVE_OK) {
			fprintf(stderr, "write header %s: %s\n", e[i].name, archive_error_string(a));
			rc = -1;
		}
		if (e[i].type == 0) {
			uint64_t z = e[i].zeros;
			if (e[i].len)
				archive_write_data(a, e[i].data, e[i].len);
			while (z) {
				size_t c = z < sizeof zero ? (size_t)z : sizeof zero;
				archive_write_data(a, zero, c);
				z -= c;
			}
		}
		archive_entry_free(en);
	}
	archive_write_close(a);
	archive_write_free(a);
	return rc;
}

/* Write an archive into memory (for nesting). */
static struct vec archive_bytes(int fmt, const struct ent *e, size_t n)
{
	char path[512];
	struct vec v = { 0 };
	FILE *f;
	uint8_t b[8192];
	size_t k;
	snprintf(path, sizeof path, "%s/nested.tmp", tmpdir);
	if (write_archive(path, fmt, e, n) == 0 && (f = fopen(path, "rb")) != NULL) {
		while ((k = fread(b, 1, sizeof b, f)) > 0)
			put(&v, b, k);
		fclose(f);
	}
	unlink(path);
	return v;
}

static void write_file(const char *path, const void *p, size_t n)
{
	FILE *f = fopen(path, "wb");
	if (!f || fwrite(p, 1, n, f) != n)
		abort();
	fclose(f);
}

static struct vec read_file(const char *path)
{
	struct vec v = { 0 };
	FILE *f = fopen(path, "rb");
	uint8_t b[8192];
	size_t k;
	if (!f)
		return v;
	while ((k = fread(b, 1, sizeof b, f)) > 0)
		put(&v, b, k);
	fclose(f);
	return v;
}

/* ---- walking ---------------------------------------------------------------------- */

struct seen {
	unsigned captures, errors;
	uint64_t packets;
	char labels[16][BUNDLE_LABEL_MAX];
	uint64_t pk[16];
	unsigned stop_after; /* ask to stop after this many captures (0: never) */
};

static int on_capture(void *ctx, const char *label, struct cap_reader *r)
{
	struct seen *s = ctx;
	struct packet p;
	int rc;
	uint64_t n = 0;
	while ((rc = cap_next(r, &p)) == CAP_PACKET)
		n++;
	if (rc == CAP_ERROR)
		s->errors++;
	if (s->captures < 16) {
		pi_strlcpy(s->labels[s->captures], label, BUNDLE_LABEL_MAX);
		s->pk[s->captures] = n;
	}
	s->captures++;
	s->packets += n;
	return s->stop_after && s->captures >= s->stop_after;
}

/* Packets of the capture whose label ends with suffix, or -1. */
static long long packets_of(const struct seen *s, const char *suffix)
{
	size_t sl = strlen(suffix);
	for (unsigned i = 0; i < s->captures && i < 16; i++) {
		size_t l = strlen(s->labels[i]);
		if (l >= sl && !strcmp(s->labels[i] + l - sl, suffix))
			return (long long)s->pk[i];
	}
	return -1;
}

static int has_note(const struct bundle_report *r, enum bundle_kind k, const char *label_part,
                    const char *why_part)
{
	for (uint32_t i = 0; i < r->nnotes; i++)
		if (r->notes[i].kind == k && (!label_part || strstr(r->notes[i].label, label_part)) &&
		    (!why_part || strstr(r->notes[i].why, why_part)))
			return 1;
	return 0;
}

static void dump_report(const struct bundle_report *r)
{
	fprintf(stderr, "  entries %llu captures %llu logs %llu csv %llu ignored %llu refused %llu "
		"encrypted %llu corrupt %llu nested %llu stopped %d\n",
		(unsigned long long)r->entries, (unsigned long long)r->captures,
		(unsigned long long)r->tunnel_logs, (unsigned long long)r->csv_files,
		(unsigned long long)r->ignored, (unsigned long long)r->refused,
		(unsigned long long)r->encrypted, (unsigned long long)r->corrupt,
		(unsigned long long)r->nested, r->stopped);
	for (uint32_t i = 0; i < r->nnotes; i++)
		fprintf(stderr, "  note %s: %s: %s\n", bundle_kind_name(r->notes[i].kind),
			r->notes[i].label, r->notes[i].why);
}

static struct bundle_report *rep_new(void)
{
	struct bundle_report *r = calloc(1, sizeof *r);
	if (!r)
		abort();
	return r;
}

/* ---- the main bundle ------------------------------------------------------------------ */

static struct vec pcap5, pcapng7, tlog, tlog16, pcapng_gz, rotated_zip, sample;

static void make_inputs(void)
{
	struct vec rot_log;
	const char *top = getenv("top_srcdir");
	char sp[1024];
	struct ent rot[1];

	pcap5 = make_pcap(5);
	pcapng7 = make_pcapng(7);
	tlog = tunnel_log("\n");
	{
		struct vec crlf = tunnel_log("\r\n");
		tlog16 = utf16le_bom(&crlf);
		free(crlf.p);
	}
	{
		struct vec ng3 = make_pcapng(3);
		pcapng_gz = gzip_bytes(ng3.p, ng3.n);
		free(ng3.p);
	}
	/* a rotated tunnel log, zipped, with another failing tunnel */
	memset(&rot_log, 0, sizeof rot_log);
	puts_(&rot_log,
	      "2024-07-16 09:00:00.000000(-0400)[80582:1] INF ID=77, Tunnel to SME for host=bag.itunes.apple.com:443, SME IP=104.129.206.47:443\n"
	      "2024-07-16 09:00:00.200000(-0400)[80582:1] WAR ID=77, Exception in TcpConnection run() (Error=Application exception: Both client and server sockets are closed!)\n"
	      "2024-07-16 09:00:00.200100(-0400)[80582:1] INF ==> ID=77, ~ZTCPServerConnection state=closed ServerConnections=1 clt_bytes=517, srv_bytes=5120!\n");
	memset(rot, 0, sizeof rot);
	rot[0].name = "ZSATunnel_2024-07-16-09-00-00.000000.log";
	rot[0].data = rot_log.p;
	rot[0].len = rot_log.n;
	rotated_zip = archive_bytes(FMT_ZIP, rot, 1);
	free(rot_log.p);
	/* the project's real-stack sample, when the tree has it */
	snprintf(sp, sizeof sp, "%s/samples/mixed.pcapng", top ? top : ".");
	sample = read_file(sp);
}

/* The entries of a bundle as Client Connector exports it, with extras. */
static size_t main_entries(struct ent *e)
{
	size_t n = 0;
	memset(e, 0, 20 * sizeof *e);
	e[n++] = (struct ent){ .name = "Captures", .type = 3 };
	e[n++] = (struct ent){ .name = "Captures/CaptureLWF0.pcapng", .data = pcapng7.p, .len = pcapng7.n };
	e[n++] = (struct ent){ .name = "Captures/capture_2024-07-17.pcap", .data = pcap5.p, .len = pcap5.n };
	e[n++] = (struct ent){ .name = "Captures/CaptureLWF1.pcapng.gz", .data = pcapng_gz.p, .len = pcapng_gz.n };
	e[n++] = (struct ent){ .name = "ZSATunnel_2024-07-17-18-16-00.123456.log", .data = tlog.p, .len = tlog.n };
	e[n++] = (struct ent){ .name = "log-S-1-5-21/ZSATunnel_2024-07-17-18-16-05.000000.log", .data = tlog16.p, .len = tlog16.n };
	e[n++] = (struct ent){ .name = "rotated/ZSATunnel_2024-07-16-09-00-00.000000.log.zip", .data = rotated_zip.p, .len = rotated_zip.n };
	e[n++] = (struct ent){ .name = "exports/web_insights_logs.csv", .data = webins_csv, .len = sizeof webins_csv - 1 };
	e[n++] = (struct ent){ .name = "ZSAService_2024-07-17.log", .data = "2024-07-17 18:00:00.000000(-0400)[1:1] INF service up\n", .len = 54 };
	e[n++] = (struct ent){ .name = "config/zsa.xml", .data = "<xml/>", .len = 6 };
	e[n++] = (struct ent){ .name = "renamed.bin", .data = pcap5.p, .len = pcap5.n }; /* content, not name */
	e[n++] = (struct ent){ .name = "../evil.pcap", .data = pcap5.p, .len = pcap5.n };
	e[n++] = (struct ent){ .name = "/abs/ZSATunnel_x.log", .data = tlog.p, .len = tlog.n };
	e[n++] = (struct ent){ .name = "Captures/..\\..\\win.pcap", .data = pcap5.p, .len = pcap5.n };
	e[n++] = (struct ent){ .name = "link.pcap", .type = 1, .link = "/etc/passwd" };
	if (sample.n)
		e[n++] = (struct ent){ .name = "Captures/mixed.pcapng", .data = sample.p, .len = sample.n };
	return n;
}

static void check_main(const char *path, int fmt)
{
	struct ent e[20];
	size_t n = main_entries(e);
	struct bundle_report *r = rep_new();
	struct zsat_log *z = zsat_new();
	struct webins *wi = webins_new();
	struct seen s;
	struct bundle_cb cb;
	char err[512];
	const struct zsat_host *h;
	const struct webins_host *wh;
	int rc, before = unit_fail;
	unsigned caps = 4 + (sample.n ? 1 : 0);

	memset(&s, 0, sizeof s);
	memset(&cb, 0, sizeof cb);
	cb.on_capture = on_capture;
	cb.zsat = z;
	cb.webins = wi;
	if (write_archive(path, fmt, e, n)) {
		CHECK(!"archive written");
		goto out;
	}
	CHECK_EQ_INT(bundle_probe(path), fmt == FMT_TARGZ ? BUNDLE_TAR : BUNDLE_ZIP);
	rc = bundle_walk(path, &cb, &s, r, err, sizeof err);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(r->captures, caps);
	CHECK_EQ_INT(s.captures, caps);
	CHECK_EQ_INT(s.errors, 0);
	CHECK_EQ_INT(packets_of(&s, ":Captures/CaptureLWF0.pcapng"), 7);
	CHECK_EQ_INT(packets_of(&s, ":Captures/capture_2024-07-17.pcap"), 5);
	CHECK_EQ_INT(packets_of(&s, ":Captures/CaptureLWF1.pcapng.gz"), 3); /* gzip inside the bundle */
	CHECK_EQ_INT(packets_of(&s, ":renamed.bin"), 5);
	if (sample.n) {
		char e2[256];
		struct cap_reader *cr;
		struct packet p;
		long long direct = 0;
		char sp[1024];
		const char *top = getenv("top_srcdir");
		snprintf(sp, sizeof sp, "%s/samples/mixed.pcapng", top ? top : ".");
		cr = cap_open(sp, e2, sizeof e2);
		while (cr && cap_next(cr, &p) == CAP_PACKET)
			direct++;
		cap_close(cr);
		CHECK_EQ_INT(packets_of(&s, ":Captures/mixed.pcapng"), direct);
	}
	CHECK_EQ_INT(r->tunnel_logs, 3);
	CHECK_EQ_INT(r->csv_files, 1);
	CHECK_EQ_INT(r->nested, 2);     /* the .pcapng.gz and the rotated .log.zip */
	CHECK_EQ_INT(r->refused, 4);    /* ../evil, /abs, ..\..\win, the symlink */
	CHECK(has_note(r, BK_REFUSED, "../evil.pcap", "\"..\""));
	CHECK(has_note(r, BK_REFUSED, "/abs/ZSATunnel_x.log", "absolute"));
	CHECK(has_note(r, BK_REFUSED, "link.pcap", "symbolic link"));
	CHECK_EQ_INT(r->ignored, 2);    /* ZSAService log, xml */
	CHECK_EQ_INT(r->encrypted, 0);
	CHECK_EQ_INT(r->corrupt, 0);
	CHECK(r->stopped == 0);
	CHECK(r->dirs >= 1 || fmt == FMT_ZIP);

	/* the evidence */
	h = zsat_find(z, "downloaddispatch.itunes.apple.com");
	CHECK(h && h->tunnels == 2 && h->closed_both == 2 && h->signatures == 2);
	h = zsat_find(z, "bag.itunes.apple.com");
	CHECK(h && h->signatures == 1);
	h = zsat_find(z, "www.example.com");
	CHECK(h && h->signatures == 0 && h->tunnels == 2);
	CHECK_EQ_INT(zsat_stats(z)->inputs, 3);
	CHECK_EQ_INT(zsat_stats(z)->utf16_inputs, 1);
	CHECK_EQ_INT(zsat_stats(z)->used, 2 * 5 + 3);
	CHECK_EQ_INT(zsat_stats(z)->skipped, 2 * 2);
	wh = webins_find(wi, "downloaddispatch.itunes.apple.com");
	CHECK(wh && wh->failed == 2 && wh->nusers == 2 && wh->nlocations == 2);
	wh = webins_find(wi, "play.itunes.apple.com");
	CHECK(wh && wh->failed == 1);
	CHECK_EQ_INT(webins_stats(wi)->other_rows, 1);
	{
		char line[512];
		char *out = NULL;
		size_t outlen = 0;
		FILE *f = open_memstream(&out, &outlen);
		struct jw jw;
		bundle_summary(r, line, sizeof line);
		CHECK(strstr(line, sample.n ? "5 captures, 3 ZSATunnel logs, 1 Web Insights export" :
			      "4 captures, 3 ZSATunnel logs, 1 Web Insights export") != NULL);
		CHECK(strstr(line, "4 refused") != NULL);
		jw_init(&jw, f, 0);
		bundle_report_json(r, &jw);
		fclose(f);
		CHECK(out && strstr(out, "{\"kind\":\"tunnel log\",\"label\":"));
		CHECK(out && strstr(out, "\"why\":\"absolute path\""));
		free(out);
	}
	if (unit_fail != before)
		dump_report(r);
out:
	zsat_free(z);
	webins_free(wi);
	free(r);
}

static void test_main_bundles(void)
{
	char path[512];
	snprintf(path, sizeof path, "%s/bundle.zip", tmpdir);
	check_main(path, FMT_ZIP);
	snprintf(path, sizeof path, "%s/bundle.tar.gz", tmpdir);
	check_main(path, FMT_TARGZ);
}

/* ---- damaged, encrypted, empty, bombs, caps --------------------------------------------- */

static int walk(const char *path, const struct bundle_limits *lim, struct seen *s,
                struct bundle_report *r, struct zsat_log *z)
{
	struct bundle_cb cb;
	char err[512];
	memset(&cb, 0, sizeof cb);
	cb.on_capture = on_capture;
	cb.zsat = z;
	cb.limits = lim;
	memset(s, 0, sizeof *s);
	return bundle_walk(path, &cb, s, r, err, sizeof err);
}

static void test_encrypted(void)
{
	char path[512];
	struct ent e[2];
	struct bundle_report *r = rep_new();
	struct seen s;
	struct zsat_log *z = zsat_new();

	memset(e, 0, sizeof e);
	e[0].name = "CaptureLWF0.pcapng";
	e[0].data = pcapng7.p;
	e[0].len = pcapng7.n;
	e[1].name = "ZSATunnel_2024.log";
	e[1].data = tlog.p;
	e[1].len = tlog.n;
	snprintf(path, sizeof path, "%s/encrypted.zip", tmpdir);
	if (write_archive(path, FMT_ZIP_CRYPT, e, 2)) {
		fprintf(stderr, "test_encrypted: this libarchive cannot write zipcrypt: skipped\n");
	} else {
		CHECK_EQ_INT(walk(path, NULL, &s, r, z), 0);
		CHECK_EQ_INT(r->encrypted, 2);
		CHECK_EQ_INT(r->captures, 0);
		CHECK_EQ_INT(s.captures, 0);
		CHECK(has_note(r, BK_ENCRYPTED, "CaptureLWF0.pcapng", "encrypted"));
		CHECK_EQ_INT(zsat_host_count(z), 0);
	}
	zsat_free(z);
	free(r);
}

static void test_damaged(void)
{
	char path[512], dam[512];
	struct ent e[21];
	size_t n = main_entries(e);
	struct bundle_report *r = rep_new();
	struct seen s;
	struct vec v;
	int rc;

	/* a zip cut in half: the entries before the cut, then the damage */
	snprintf(path, sizeof path, "%s/whole.zip", tmpdir);
	CHECK(write_archive(path, FMT_ZIP, e, n) == 0);
	v = read_file(path);
	snprintf(dam, sizeof dam, "%s/cut.zip", tmpdir);
	write_file(dam, v.p, v.n / 2);
	rc = walk(dam, NULL, &s, r, NULL);
	CHECK(rc == 1 || rc == -1);
	if (rc == 1) {
		CHECK(r->stopped);
		CHECK(r->corrupt >= 1);
		CHECK(s.captures >= 1);
	}

	/* bit flips inside the first capture's compressed data: that entry is
	 * reported, the others are read */
	{
		size_t at = 0;
		for (size_t i = 0; i + 4 < v.n; i++)
			if (!memcmp(v.p + i, "Captures/CaptureLWF0.pcapng", 27)) {
				at = i + 27 + 40;
				break;
			}
		CHECK(at != 0);
		for (size_t i = 0; i < 8 && at + i < v.n; i++)
			v.p[at + i] ^= 0x5A;
		snprintf(dam, sizeof dam, "%s/flipped.zip", tmpdir);
		write_file(dam, v.p, v.n);
		rc = walk(dam, NULL, &s, r, NULL);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(r->corrupt, 1);
		CHECK(has_note(r, BK_CORRUPT, "CaptureLWF0.pcapng", "damaged"));
		CHECK(s.captures >= 3);
		CHECK_EQ_INT(packets_of(&s, ":Captures/capture_2024-07-17.pcap"), 5);
		if (r->corrupt != 1)
			dump_report(r);
	}
	free(v.p);

	/* a tar.gz cut short: the compressed stream ends the walk (padded with
	 * incompressible bytes at the end so that the cut falls after the
	 * first entries) */
	{
		static uint8_t pad[1 << 20];
		uint32_t x = 99;
		for (size_t i = 0; i < sizeof pad; i++) {
			x = x * 1103515245u + 12345u;
			pad[i] = (uint8_t)(x >> 16);
		}
		e[n].name = "padding.bin";
		e[n].data = pad;
		e[n].len = sizeof pad;
		e[n].type = 0;
		e[n].zeros = 0;
		e[n].link = NULL;
		n++;
	}
	snprintf(path, sizeof path, "%s/whole.tar.gz", tmpdir);
	CHECK(write_archive(path, FMT_TARGZ, e, n) == 0);
	v = read_file(path);
	snprintf(dam, sizeof dam, "%s/cut.tar.gz", tmpdir);
	write_file(dam, v.p, v.n * 2 / 3);
	rc = walk(dam, NULL, &s, r, NULL);
	CHECK_EQ_INT(rc, 1);
	CHECK(r->stopped && r->corrupt >= 1);
	CHECK(s.captures >= 1);
	free(v.p);

	/* a plain tar with a hard link and a capture */
	{
		struct ent t[2];
		memset(t, 0, sizeof t);
		t[0].name = "Captures/CaptureLWF0.pcapng";
		t[0].data = pcapng7.p;
		t[0].len = pcapng7.n;
		t[1].name = "Captures/again.pcapng";
		t[1].type = 2;
		t[1].link = "Captures/CaptureLWF0.pcapng";
		snprintf(path, sizeof path, "%s/links.tar", tmpdir);
		CHECK(write_archive(path, FMT_TAR, t, 2) == 0);
		CHECK_EQ_INT(bundle_probe(path), BUNDLE_TAR);
		CHECK_EQ_INT(walk(path, NULL, &s, r, NULL), 0);
		CHECK_EQ_INT(s.captures, 1);
		CHECK_EQ_INT(r->refused, 1);
		CHECK(has_note(r, BK_REFUSED, "again.pcapng", "hard link"));
	}

	/* not an archive at all, and a missing file */
	snprintf(dam, sizeof dam, "%s/garbage.zip", tmpdir);
	write_file(dam, "this is not a zip file at all\n", 30);
	CHECK_EQ_INT(bundle_probe(dam), BUNDLE_NONE);
	CHECK_EQ_INT(walk(dam, NULL, &s, r, NULL), -1);
	snprintf(dam, sizeof dam, "%s/missing.zip", tmpdir);
	CHECK_EQ_INT(walk(dam, NULL, &s, r, NULL), -1);
	/* "PK\3\4" and then nothing */
	snprintf(dam, sizeof dam, "%s/stub.zip", tmpdir);
	write_file(dam, "PK\3\4", 4);
	rc = walk(dam, NULL, &s, r, NULL);
	CHECK(rc == -1 || (rc == 1 && r->corrupt >= 1));
	free(r);
}

static void test_empty(void)
{
	char path[512];
	struct bundle_report *r = rep_new();
	struct seen s;

	snprintf(path, sizeof path, "%s/empty.zip", tmpdir);
	CHECK(write_archive(path, FMT_ZIP, NULL, 0) == 0);
	CHECK_EQ_INT(bundle_probe(path), BUNDLE_ZIP);
	CHECK_EQ_INT(walk(path, NULL, &s, r, NULL), 0);
	CHECK_EQ_INT(r->entries, 0);
	CHECK_EQ_INT(r->captures, 0);
	snprintf(path, sizeof path, "%s/empty.tar.gz", tmpdir);
	CHECK(write_archive(path, FMT_TARGZ, NULL, 0) == 0);
	CHECK_EQ_INT(bundle_probe(path), BUNDLE_TAR);
	CHECK_EQ_INT(walk(path, NULL, &s, r, NULL), 0);
	CHECK_EQ_INT(r->entries, 0);
	/* an empty file is no bundle; neither is a bare .pcapng.gz */
	snprintf(path, sizeof path, "%s/zero.zip", tmpdir);
	write_file(path, "", 0);
	CHECK_EQ_INT(bundle_probe(path), BUNDLE_NONE);
	snprintf(path, sizeof path, "%s/x.pcapng.gz", tmpdir);
	write_file(path, pcapng_gz.p, pcapng_gz.n);
	CHECK_EQ_INT(bundle_probe(path), BUNDLE_NONE);
	free(r);
}

static void test_bombs_and_caps(void)
{
	char path[512];
	struct ent e[3];
	struct bundle_report *r = rep_new();
	struct bundle_limits lim;
	struct seen s;
	int rc;

	/* 50 MB of zeros behind a pcap header: valid empty records, 1000:1 */
	memset(e, 0, sizeof e);
	e[0].name = "CaptureLWF9.pcap";
	e[0].data = pcap5.p;
	e[0].len = 24;
	e[0].zeros = 50ull << 20;
	e[1].name = "Captures/after.pcapng";
	e[1].data = pcapng7.p;
	e[1].len = pcapng7.n;
	snprintf(path, sizeof path, "%s/bomb.zip", tmpdir);
	CHECK(write_archive(path, FMT_ZIP, e, 2) == 0);
	rc = walk(path, NULL, &s, r, NULL);
	CHECK_EQ_INT(rc, 0);           /* zip: the bomb is skipped by seeking, the walk goes on */
	CHECK_EQ_INT(r->refused, 1);
	CHECK(has_note(r, BK_REFUSED, "CaptureLWF9.pcap", "compression ratio"));
	CHECK(r->bytes < (40ull << 20)); /* stopped well before the end */
	CHECK_EQ_INT(s.errors, 1);     /* the reader saw its stream end in an error */
	CHECK_EQ_INT(packets_of(&s, ":Captures/after.pcapng"), 7);
	if (r->refused != 1)
		dump_report(r);

	/* the same in a tar.gz: the rest of the stream is not read */
	snprintf(path, sizeof path, "%s/bomb.tar.gz", tmpdir);
	CHECK(write_archive(path, FMT_TARGZ, e, 2) == 0);
	rc = walk(path, NULL, &s, r, NULL);
	CHECK_EQ_INT(rc, 1);
	CHECK_EQ_INT(r->refused, 1);
	CHECK(r->stopped);
	CHECK(has_note(r, BK_STOPPED, NULL, "compressed stream"));
	CHECK(r->bytes < (40ull << 20));

	/* a log bomb inside a nested zip: the inner walk stops, the outer goes on */
	{
		struct ent inner[1], outer[2];
		struct vec iz;
		memset(inner, 0, sizeof inner);
		memset(outer, 0, sizeof outer);
		inner[0].name = "ZSATunnel_bomb.log";
		inner[0].data = "2024";
		inner[0].len = 4;
		inner[0].zeros = 30ull << 20;
		iz = archive_bytes(FMT_ZIP, inner, 1);
		outer[0].name = "logs.zip";
		outer[0].data = iz.p;
		outer[0].len = iz.n;
		outer[1].name = "CaptureLWF0.pcapng";
		outer[1].data = pcapng7.p;
		outer[1].len = pcapng7.n;
		snprintf(path, sizeof path, "%s/nestedbomb.zip", tmpdir);
		CHECK(write_archive(path, FMT_ZIP, outer, 2) == 0);
		{
			struct zsat_log *z = zsat_new();
			rc = walk(path, NULL, &s, r, z);
			CHECK_EQ_INT(rc, 0);
			CHECK_EQ_INT(r->refused, 1);
			CHECK(has_note(r, BK_REFUSED, "logs.zip:ZSATunnel_bomb.log", "compression ratio"));
			CHECK_EQ_INT(s.captures, 1);
			zsat_free(z);
		}
		free(iz.p);
	}

	/* an entry declaring more than the per-entry cap is refused unread */
	bundle_limits_default(&lim);
	lim.max_entry_bytes = 1u << 20;
	memset(e, 0, sizeof e);
	e[0].name = "big.pcap";
	e[0].data = pcap5.p;
	e[0].len = pcap5.n;
	e[0].zeros = 2u << 20;
	e[1].name = "small.pcap";
	e[1].data = pcap5.p;
	e[1].len = pcap5.n;
	snprintf(path, sizeof path, "%s/big.zip", tmpdir);
	CHECK(write_archive(path, FMT_ZIP_STORE, e, 2) == 0);
	rc = walk(path, &lim, &s, r, NULL);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(r->refused, 1);
	CHECK(has_note(r, BK_REFUSED, "big.pcap", "declares"));
	CHECK_EQ_INT(s.captures, 1);
	CHECK_EQ_INT(packets_of(&s, ":small.pcap"), 5);

	/* a gzip'd capture whose size is known only by reading: refused on the way */
	{
		struct vec big = make_pcap(0), gz;
		uint8_t rnd[4096];
		uint32_t x = 12345;
		for (int k = 0; k < 600; k++) { /* ~2.4 MB of records compressing ~4:1 */
			for (size_t i = 0; i < sizeof rnd; i++) {
				x = x * 1103515245u + 12345u;
				rnd[i] = (uint8_t)((x >> 16) & 3);
			}
			put32le(&big, 1);
			put32le(&big, 0);
			put32le(&big, sizeof rnd);
			put32le(&big, sizeof rnd);
			put(&big, rnd, sizeof rnd);
		}
		gz = gzip_bytes(big.p, big.n);
		memset(e, 0, sizeof e);
		e[0].name = "CaptureLWF2.pcap.gz";
		e[0].data = gz.p;
		e[0].len = gz.n;
		snprintf(path, sizeof path, "%s/gzbig.zip", tmpdir);
		CHECK(write_archive(path, FMT_ZIP_STORE, e, 1) == 0);
		rc = walk(path, &lim, &s, r, NULL);
		CHECK_EQ_INT(rc, 0);
		CHECK_EQ_INT(r->refused, 1);
		CHECK(has_note(r, BK_REFUSED, "CaptureLWF2.pcap.gz", "per entry"));
		CHECK_EQ_INT(s.captures, 1);
		CHECK(s.packets > 0 && s.packets < 600);
		free(big.p);
		free(gz.p);
	}

	/* the entry and total caps, and the caller stopping the walk */
	bundle_limits_default(&lim);
	lim.max_entries = 3;
	snprintf(path, sizeof path, "%s/bundle.zip", tmpdir);
	rc = walk(path, &lim, &s, r, NULL);
	CHECK_EQ_INT(rc, 1);
	CHECK(r->stopped && has_note(r, BK_STOPPED, NULL, "more than 3 entries"));
	bundle_limits_default(&lim);
	lim.max_total_bytes = 300;
	rc = walk(path, &lim, &s, r, NULL);
	CHECK_EQ_INT(rc, 1);
	CHECK(r->stopped && has_note(r, BK_STOPPED, NULL, "in all"));
	{
		struct bundle_cb cb;
		char err[256];
		memset(&cb, 0, sizeof cb);
		cb.on_capture = on_capture;
		memset(&s, 0, sizeof s);
		s.stop_after = 1;
		rc = bundle_walk(path, &cb, &s, r, err, sizeof err);
		CHECK_EQ_INT(rc, 1);
		CHECK_EQ_INT(s.captures, 1);
		CHECK(has_note(r, BK_STOPPED, NULL, "caller"));
	}
	free(r);
}

/* ---- folder bundles --------------------------------------------------------------------- */

static void test_folder(void)
{
	char d[512], p[700];
	struct bundle_report *r = rep_new();
	struct bundle_limits lim;
	struct zsat_log *z = zsat_new();
	struct webins *wi = webins_new();
	struct bundle_cb cb;
	struct seen s;
	char err[512];
	int rc;

	snprintf(d, sizeof d, "%s/unpacked", tmpdir);
	mkdir(d, 0755);
	snprintf(p, sizeof p, "%s/Captures", d);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/Captures/CaptureLWF0.pcapng", d);
	write_file(p, pcapng7.p, pcapng7.n);
	snprintf(p, sizeof p, "%s/Captures/CaptureLWF1.pcapng.gz", d);
	write_file(p, pcapng_gz.p, pcapng_gz.n);
	snprintf(p, sizeof p, "%s/ZSATunnel_2024-07-17.log", d);
	write_file(p, tlog16.p, tlog16.n);
	snprintf(p, sizeof p, "%s/web.csv", d);
	write_file(p, webins_csv, sizeof webins_csv - 1);
	snprintf(p, sizeof p, "%s/notes.txt", d);
	write_file(p, "nothing here\n", 13);
	snprintf(p, sizeof p, "%s/link.pcapng", d);
	CHECK(symlink("Captures/CaptureLWF0.pcapng", p) == 0);
	snprintf(p, sizeof p, "%s/a", d);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/a/b", d);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/a/b/c", d);
	mkdir(p, 0755);
	snprintf(p, sizeof p, "%s/a/b/c/deep.pcap", d);
	write_file(p, pcap5.p, pcap5.n);
	snprintf(p, sizeof p, "%s/a/bundle-in-folder.zip", d);
	write_file(p, rotated_zip.p, rotated_zip.n);

	CHECK_EQ_INT(bundle_probe(d), BUNDLE_DIR);
	memset(&cb, 0, sizeof cb);
	memset(&s, 0, sizeof s);
	cb.on_capture = on_capture;
	cb.zsat = z;
	cb.webins = wi;
	rc = bundle_walk(d, &cb, &s, r, err, sizeof err);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(r->captures, 3);
	CHECK_EQ_INT(s.captures, 3);
	CHECK_EQ_INT(packets_of(&s, "/unpacked/Captures/CaptureLWF0.pcapng"), 7);
	CHECK_EQ_INT(packets_of(&s, "/unpacked/Captures/CaptureLWF1.pcapng.gz"), 3);
	CHECK_EQ_INT(packets_of(&s, "/a/b/c/deep.pcap"), 5);
	CHECK_EQ_INT(r->tunnel_logs, 2);
	CHECK_EQ_INT(r->csv_files, 1);
	CHECK_EQ_INT(r->refused, 1);
	CHECK(has_note(r, BK_REFUSED, "link.pcapng", "symbolic link"));
	CHECK_EQ_INT(r->ignored, 1);
	CHECK(zsat_find(z, "downloaddispatch.itunes.apple.com") &&
	      zsat_find(z, "downloaddispatch.itunes.apple.com")->signatures == 1);
	CHECK(zsat_find(z, "bag.itunes.apple.com") != NULL);
	CHECK(webins_find(wi, "downloaddispatch.itunes.apple.com") != NULL);
	if (unit_fail)
		dump_report(r);

	/* the depth cap */
	bundle_limits_default(&lim);
	lim.max_depth = 2;
	cb.limits = &lim;
	cb.zsat = NULL;
	cb.webins = NULL;
	memset(&s, 0, sizeof s);
	rc = bundle_walk(d, &cb, &s, r, err, sizeof err);
	CHECK_EQ_INT(rc, 0);
	CHECK_EQ_INT(s.captures, 2);
	CHECK(has_note(r, BK_REFUSED, "/a/b/c", "deeper than 2"));
	zsat_free(z);
	webins_free(wi);
	free(r);
}

/* ---- cap_open_stream ------------------------------------------------------------------ */

struct memsrc {
	const uint8_t *p;
	size_t n, pos, step;
	size_t fail_at;   /* return an error at this offset (0: never) */
};

static long mem_read(void *ctx, void *buf, size_t len)
{
	struct memsrc *m = ctx;
	size_t c = m->n - m->pos;
	if (m->fail_at && m->pos >= m->fail_at)
		return -1;
	if (c > len)
		c = len;
	if (m->step && c > m->step)
		c = m->step;
	if (c)
		memcpy(buf, m->p + m->pos, c);
	m->pos += c;
	return (long)c;
}

static void test_stream(void)
{
	char err[512];
	struct cap_reader *r;
	struct packet p;
	struct memsrc m;
	unsigned n;
	int rc;

	/* one byte per call */
	memset(&m, 0, sizeof m);
	m.p = pcapng7.p;
	m.n = pcapng7.n;
	m.step = 1;
	r = cap_open_stream("mem:ng", mem_read, &m, err, sizeof err);
	CHECK(r != NULL);
	for (n = 0; r && (rc = cap_next(r, &p)) == CAP_PACKET; n++)
		CHECK(p.caplen == 60 && p.ts_ns == (1721254589ull + n) * 1000000000ull);
	CHECK_EQ_INT(n, 7);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
		CHECK_EQ_INT(cap_format(r), CAP_PCAPNG);
		CHECK_EQ_INT(cap_gzipped(r), 0);
		CHECK_EQ_INT(cap_file_size(r), 0);
		CHECK_EQ_INT(cap_offset(r), pcapng7.n);
		CHECK_EQ_INT(cap_raw_offset(r), pcapng7.n);
	}
	cap_close(r);

	/* an error from the source mid-way: the packets before stand */
	memset(&m, 0, sizeof m);
	m.p = pcap5.p;
	m.n = pcap5.n;
	m.step = 100;
	m.fail_at = 24 + 2 * 76 + 10;
	r = cap_open_stream("mem:pcap", mem_read, &m, err, sizeof err);
	CHECK(r != NULL);
	for (n = 0; r && (rc = cap_next(r, &p)) == CAP_PACKET; n++)
		;
	CHECK(n >= 1 && n <= 2);
	CHECK(r && strstr(cap_error(r), "mem:pcap: offset") && strstr(cap_error(r), "stream reported an error"));
	cap_close(r);

	/* gzip, empty, short and foreign streams are refused with a message */
	memset(&m, 0, sizeof m);
	m.p = pcapng_gz.p;
	m.n = pcapng_gz.n;
	CHECK(cap_open_stream("mem:gz", mem_read, &m, err, sizeof err) == NULL);
	CHECK(strstr(err, "mem:gz: gzip data") != NULL);
	memset(&m, 0, sizeof m);
	CHECK(cap_open_stream("mem:empty", mem_read, &m, err, sizeof err) == NULL);
	CHECK(strstr(err, "empty") != NULL);
	memset(&m, 0, sizeof m);
	m.p = (const uint8_t *)"hello world";
	m.n = 11;
	CHECK(cap_open_stream("mem:text", mem_read, &m, err, sizeof err) == NULL);
	CHECK(strstr(err, "not a pcap or pcapng") != NULL);
	memset(&m, 0, sizeof m);
	m.fail_at = 1;
	m.p = pcap5.p;
	m.n = pcap5.n;
	m.pos = 1;
	CHECK(cap_open_stream("mem:err", mem_read, &m, err, sizeof err) == NULL);
	CHECK(strstr(err, "cannot read") != NULL);
	CHECK(cap_open_stream(NULL, NULL, NULL, err, sizeof err) == NULL);
}

/* ---- setup --------------------------------------------------------------------------- */

static void rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	if (d) {
		while ((de = readdir(d)) != NULL) {
			char p[1024];
			struct stat st;
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			snprintf(p, sizeof p, "%s/%s", path, de->d_name);
			if (lstat(p, &st) == 0 && S_ISDIR(st.st_mode))
				rm_tree(p);
			else
				unlink(p);
		}
		closedir(d);
	}
	rmdir(path);
}

int main(void)
{
	pi_set_quiet(1);
	snprintf(tmpdir, sizeof tmpdir, "/tmp/pinspect-bundle-XXXXXX");
	if (!mkdtemp(tmpdir)) {
		perror("mkdtemp");
		return 2;
	}
	make_inputs();
	test_stream();
	test_main_bundles();
	test_encrypted();
	test_damaged();
	test_empty();
	test_bombs_and_caps();
	test_folder();
	if (!getenv("KEEP")) rm_tree(tmpdir);
	free(pcap5.p);
	free(pcapng7.p);
	free(tlog.p);
	free(tlog16.p);
	free(pcapng_gz.p);
	free(rotated_zip.p);
	free(sample.p);
	UNIT_DONE();
}
