/* test_capture.c: unit tests of the capture reader (pcap, pcapng, gzip) and the decoder.
 * Specs: draft-ietf-opsawg-pcap, draft-ietf-opsawg-pcapng; the RFCs in decode.c.
 *
 * Capture files are built as byte vectors here, written under /tmp with
 * mkstemp and read back with cap_open; decoder inputs are frames built layer
 * by layer from the inside out.
 */
#ifndef _GNU_SOURCE
#define _POSIX_C_SOURCE 200809L /* mkstemp, truncate, dup2 */
#endif
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "capture/capture.h"
#include "capture/decode.h"
#include "common/limits.h"
#include "common/util.h"
#include "tests/unit/unit.h"

/* ---- byte vectors --------------------------------------------------------- */

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
	if (n)
		memcpy(v->p + v->n, d, n);
	v->n += n;
}

static void put8(struct vec *v, uint8_t x)
{
	put(v, &x, 1);
}

static void put16(struct vec *v, int be, uint16_t x)
{
	uint8_t b[2];
	b[be ? 0 : 1] = (uint8_t)(x >> 8);
	b[be ? 1 : 0] = (uint8_t)x;
	put(v, b, 2);
}

static void put32(struct vec *v, int be, uint32_t x)
{
	if (be) {
		put16(v, 1, (uint16_t)(x >> 16));
		put16(v, 1, (uint16_t)x);
	} else {
		put16(v, 0, (uint16_t)x);
		put16(v, 0, (uint16_t)(x >> 16));
	}
}

static void pad4(struct vec *v)
{
	while (v->n % 4)
		put8(v, 0);
}

static void vfree(struct vec *v)
{
	free(v->p);
	memset(v, 0, sizeof *v);
}

/* Write bytes to a fresh temp file; path into buf (>= 32 bytes). */
static void write_tmp(const struct vec *v, char *path)
{
	int fd;
	strcpy(path, "/tmp/test_capture_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	if (v->n && write(fd, v->p, v->n) != (ssize_t)v->n)
		abort();
	close(fd);
}

static void write_tmp_gz(const struct vec *v, char *path)
{
	int fd;
	gzFile gz;
	strcpy(path, "/tmp/test_capture_XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		abort();
	close(fd);
	gz = gzopen(path, "wb");
	if (!gz || gzwrite(gz, v->p, (unsigned)v->n) != (int)v->n)
		abort();
	gzclose(gz);
}

/* ---- pcap builders -------------------------------------------------------- */

static void pcap_hdr(struct vec *v, int be, int nano, uint32_t snaplen, uint32_t lt)
{
	put32(v, be, nano ? 0xa1b23c4du : 0xa1b2c3d4u);
	put16(v, be, 2);
	put16(v, be, 4);
	put32(v, be, 0);
	put32(v, be, 0);
	put32(v, be, snaplen);
	put32(v, be, lt);
}

static void pcap_rec(struct vec *v, int be, uint32_t sec, uint32_t frac, const uint8_t *d,
		     uint32_t caplen, uint32_t wirelen)
{
	put32(v, be, sec);
	put32(v, be, frac);
	put32(v, be, caplen);
	put32(v, be, wirelen);
	put(v, d, caplen);
}

/* ---- pcapng builders ------------------------------------------------------ */

static void ng_block(struct vec *v, int be, uint32_t type, const struct vec *body)
{
	uint32_t len = (uint32_t)(12 + ((body->n + 3) & ~(size_t)3));
	put32(v, be, type);
	put32(v, be, len);
	put(v, body->p, body->n);
	pad4(v);
	put32(v, be, len);
}

static void ng_opt(struct vec *b, int be, uint16_t code, const void *val, uint16_t len)
{
	put16(b, be, code);
	put16(b, be, len);
	put(b, val, len);
	pad4(b);
}

static void ng_shb(struct vec *v, int be)
{
	struct vec b = { 0 };
	put32(&b, be, 0x1A2B3C4Du);
	put16(&b, be, 1);
	put16(&b, be, 0);
	put32(&b, be, 0xFFFFFFFFu);
	put32(&b, be, 0xFFFFFFFFu);
	ng_opt(&b, be, 4, "unit", 4); /* shb_userappl */
	put32(&b, be, 0);             /* opt_endofopt */
	ng_block(v, be, 0x0A0D0D0Au, &b);
	vfree(&b);
}

/* tsresol < 0: no option; tsoffset 0: no option */
static void ng_idb(struct vec *v, int be, uint16_t lt, uint32_t snaplen, int tsresol,
		   int64_t tsoffset)
{
	struct vec b = { 0 };
	put16(&b, be, lt);
	put16(&b, be, 0);
	put32(&b, be, snaplen);
	ng_opt(&b, be, 2, "eth0", 4); /* if_name */
	if (tsresol >= 0) {
		uint8_t r = (uint8_t)tsresol;
		ng_opt(&b, be, 9, &r, 1);
	}
	if (tsoffset) {
		struct vec o = { 0 };
		uint64_t u = (uint64_t)tsoffset;
		if (be) {
			put32(&o, 1, (uint32_t)(u >> 32));
			put32(&o, 1, (uint32_t)u);
		} else {
			put32(&o, 0, (uint32_t)u);
			put32(&o, 0, (uint32_t)(u >> 32));
		}
		ng_opt(&b, be, 14, o.p, 8);
		vfree(&o);
	}
	put32(&b, be, 0);
	ng_block(v, be, 1, &b);
	vfree(&b);
}

static void ng_epb(struct vec *v, int be, uint32_t ifid, uint64_t ts, const uint8_t *d,
		   uint32_t caplen, uint32_t orig)
{
	struct vec b = { 0 };
	put32(&b, be, ifid);
	put32(&b, be, (uint32_t)(ts >> 32));
	put32(&b, be, (uint32_t)ts);
	put32(&b, be, caplen);
	put32(&b, be, orig);
	put(&b, d, caplen);
	pad4(&b);
	ng_opt(&b, be, 1, "hello", 5); /* opt_comment */
	put32(&b, be, 0);
	ng_block(v, be, 6, &b);
	vfree(&b);
}

static void ng_opb(struct vec *v, int be, uint16_t ifid, uint64_t ts, const uint8_t *d,
		   uint32_t caplen, uint32_t orig)
{
	struct vec b = { 0 };
	put16(&b, be, ifid);
	put16(&b, be, 0);
	put32(&b, be, (uint32_t)(ts >> 32));
	put32(&b, be, (uint32_t)ts);
	put32(&b, be, caplen);
	put32(&b, be, orig);
	put(&b, d, caplen);
	ng_block(v, be, 2, &b);
	vfree(&b);
}

static void ng_spb(struct vec *v, int be, const uint8_t *d, uint32_t len, uint32_t orig)
{
	struct vec b = { 0 };
	put32(&b, be, orig);
	put(&b, d, len);
	ng_block(v, be, 3, &b);
	vfree(&b);
}

static void ng_other(struct vec *v, int be, uint32_t type, size_t bodylen)
{
	struct vec b = { 0 };
	for (size_t i = 0; i < bodylen; i++)
		put8(&b, (uint8_t)i);
	ng_block(v, be, type, &b);
	vfree(&b);
}

/* ---- capture tests --------------------------------------------------------- */

static const uint8_t P1[] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17 };
static const uint8_t P2[] = { 0xaa, 0xbb, 0xcc };

static void test_pcap_variants(void)
{
	for (int be = 0; be < 2; be++) {
		for (int nano = 0; nano < 2; nano++) {
			struct vec v = { 0 };
			char path[64], err[256];
			struct cap_reader *r;
			struct packet p;

			pcap_hdr(&v, be, nano, 65535, LT_ETHERNET);
			pcap_rec(&v, be, 1700000000u, 123456u, P1, sizeof P1, 60);
			pcap_rec(&v, be, 1700000001u, 999999u, P2, sizeof P2, sizeof P2);
			write_tmp(&v, path);
			r = cap_open(path, err, sizeof err);
			CHECK(r != NULL);
			if (!r) {
				fprintf(stderr, "%s\n", err);
				continue;
			}
			CHECK_EQ_INT(cap_format(r), CAP_PCAP);
			CHECK_EQ_INT(cap_gzipped(r), 0);
			CHECK_EQ_INT(cap_file_size(r), v.n);
			CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
			CHECK_EQ_INT(p.frame, 1);
			CHECK_EQ_INT(p.linktype, LT_ETHERNET);
			CHECK_EQ_INT(p.caplen, sizeof P1);
			CHECK_EQ_INT(p.wirelen, 60);
			CHECK(memcmp(p.data, P1, sizeof P1) == 0);
			CHECK_EQ_INT(p.ts_ns, 1700000000ull * 1000000000ull +
				     (nano ? 123456ull : 123456000ull));
			CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
			CHECK_EQ_INT(p.frame, 2);
			CHECK_EQ_INT(p.caplen, 3);
			CHECK(memcmp(p.data, P2, 3) == 0);
			CHECK_EQ_INT(p.ts_ns, 1700000001ull * 1000000000ull +
				     (nano ? 999999ull : 999999000ull));
			CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
			CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
			CHECK_EQ_INT(cap_offset(r), v.n);
			CHECK_EQ_INT(cap_raw_offset(r), v.n);
			CHECK_EQ_INT(cap_warnings(r), 0);
			cap_close(r);
			unlink(path);
			vfree(&v);
		}
	}
}

static void test_pcap_clamps(void)
{
	struct vec v = { 0 };
	char path[64], err[256];
	struct cap_reader *r;
	struct packet p;

	pi_set_quiet(1);
	pcap_hdr(&v, 0, 0, 8, LT_RAW | 0x10000000u); /* FCS bits above the link type */
	pcap_rec(&v, 0, 1, 0, P1, sizeof P1, 4);       /* caplen > wirelen and > snaplen */
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(p.linktype, LT_RAW);
		CHECK_EQ_INT(p.caplen, sizeof P1);
		CHECK_EQ_INT(p.wirelen, sizeof P1);
		CHECK_EQ_INT(cap_warnings(r), 2);
		CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
		cap_close(r);
	}
	pi_set_quiet(0);
	unlink(path);
	vfree(&v);
}

static void test_pcap_cut_and_limits(void)
{
	struct vec v = { 0 };
	char path[64], err[256], want[160];
	struct cap_reader *r;
	struct packet p;
	size_t third;

	/* cut mid-record: the two whole packets stand, then a located error */
	pcap_hdr(&v, 1, 0, 65535, LT_ETHERNET);
	pcap_rec(&v, 1, 5, 0, P1, sizeof P1, sizeof P1);
	pcap_rec(&v, 1, 6, 0, P2, sizeof P2, sizeof P2);
	third = v.n;
	pcap_rec(&v, 1, 7, 0, P1, sizeof P1, sizeof P1);
	v.n -= 5;
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(p.frame, 2);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		snprintf(want, sizeof want, "%s: offset %zu: file ends in the middle of a packet "
			 "record (cut capture?)", path, third);
		CHECK_EQ_STR(cap_error(r), want);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		cap_close(r);
	}
	unlink(path);

	/* cut inside the record header */
	v.n = third + 7;
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		CHECK(strstr(cap_error(r), "file ends in the middle of a packet record") != NULL);
		cap_close(r);
	}
	unlink(path);
	vfree(&v);

	/* caplen over the maximum */
	pcap_hdr(&v, 0, 0, 0, LT_ETHERNET);
	pcap_rec(&v, 0, 5, 0, P1, sizeof P1, sizeof P1);
	put32(&v, 0, 1);
	put32(&v, 0, 0);
	put32(&v, 0, PI_MAX_PACKET + 1);
	put32(&v, 0, PI_MAX_PACKET + 1);
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		snprintf(want, sizeof want, "%s: offset %zu: ", path, (size_t)24 + 16 + sizeof P1);
		CHECK(strncmp(cap_error(r), want, strlen(want)) == 0);
		CHECK(strstr(cap_error(r), "exceeds") != NULL);
		cap_close(r);
	}
	unlink(path);
	vfree(&v);

	/* exactly the maximum is accepted */
	{
		uint8_t *big = calloc(1, PI_MAX_PACKET);
		pcap_hdr(&v, 0, 0, 0, LT_ETHERNET);
		pcap_rec(&v, 0, 5, 0, big, PI_MAX_PACKET, PI_MAX_PACKET);
		pcap_rec(&v, 0, 5, 0, P2, sizeof P2, sizeof P2);
		write_tmp(&v, path);
		r = cap_open(path, err, sizeof err);
		CHECK(r != NULL);
		if (r) {
			CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
			CHECK_EQ_INT(p.caplen, PI_MAX_PACKET);
			CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
			CHECK(memcmp(p.data, P2, 3) == 0);
			CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
			cap_close(r);
		}
		unlink(path);
		vfree(&v);
		free(big);
	}
}

static void test_not_captures(void)
{
	struct vec v = { 0 };
	char path[64], err[256];
	struct cap_reader *r;

	write_tmp(&v, path); /* empty */
	r = cap_open(path, err, sizeof err);
	CHECK(r == NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "empty") != NULL);
	CHECK(strchr(err, '\n') == NULL);
	unlink(path);

	put(&v, "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 27); /* garbage */
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r == NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK(strstr(err, "not a pcap or pcapng") != NULL);
	unlink(path);

	write_tmp_gz(&v, path); /* gzip'd garbage */
	r = cap_open(path, err, sizeof err);
	CHECK(r == NULL);
	CHECK(strstr(err, "gzip") != NULL);
	unlink(path);
	vfree(&v);

	put(&v, "\xd4\xc3", 2); /* too short */
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r == NULL);
	CHECK(strstr(err, path) != NULL);
	unlink(path);
	vfree(&v);

	pcap_hdr(&v, 0, 0, 0, 1); /* pcap header cut short */
	v.n = 20;
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r == NULL);
	CHECK(strstr(err, "header") != NULL);
	unlink(path);
	vfree(&v);

	r = cap_open("/nonexistent/dir/file.pcap", err, sizeof err);
	CHECK(r == NULL);
	CHECK(strstr(err, "/nonexistent/dir/file.pcap") != NULL);
}

/* Two sections of opposite byte order; interfaces with different link types
 * and timestamp resolutions; EPB, SPB, OPB and blocks to skip. */
static void build_ng(struct vec *v)
{
	/* section 1: little-endian */
	ng_shb(v, 0);
	ng_idb(v, 0, LT_ETHERNET, 65535, 9, 0);   /* 10^-9 */
	ng_idb(v, 0, LT_RAW, 0, 0x8A, 0);         /* 2^-10 */
	ng_epb(v, 0, 0, 1700000000123456789ull, P1, sizeof P1, 100);
	ng_other(v, 0, 4, 16);                    /* name resolution block */
	ng_epb(v, 0, 1, 3ull * 1024 + 512, P2, sizeof P2, sizeof P2);
	ng_other(v, 0, 5, 20);                    /* interface statistics */
	ng_other(v, 0, 0x12345, 8);               /* unknown: skipped, warned */
	ng_spb(v, 0, P1, 10, 10);
	/* section 2: big-endian, a fresh interface list */
	ng_shb(v, 1);
	ng_idb(v, 1, LT_LINUX_SLL, 0, -1, 100);   /* 10^-6, +100 s */
	ng_idb(v, 1, LT_IPV4, 0, 3, 0);           /* 10^-3 */
	ng_opb(v, 1, 0, 2500000ull, P2, sizeof P2, 50);
	ng_epb(v, 1, 1, 1234ull, P1, sizeof P1, sizeof P1);
}

static void check_ng(struct cap_reader *r)
{
	struct packet p;
	CHECK_EQ_INT(cap_format(r), CAP_PCAPNG);
	CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
	CHECK_EQ_INT(p.frame, 1);
	CHECK_EQ_INT(p.linktype, LT_ETHERNET);
	CHECK_EQ_INT(p.caplen, sizeof P1);
	CHECK_EQ_INT(p.wirelen, 100);
	CHECK_EQ_INT(p.ts_ns, 1700000000123456789ull);
	CHECK(memcmp(p.data, P1, sizeof P1) == 0);
	CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
	CHECK_EQ_INT(p.frame, 2);
	CHECK_EQ_INT(p.linktype, LT_RAW);
	CHECK_EQ_INT(p.ts_ns, 3500000000ull);
	CHECK(memcmp(p.data, P2, sizeof P2) == 0);
	CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET); /* SPB: interface 0 */
	CHECK_EQ_INT(p.frame, 3);
	CHECK_EQ_INT(p.linktype, LT_ETHERNET);
	CHECK_EQ_INT(p.caplen, 10);
	CHECK_EQ_INT(p.wirelen, 10);
	CHECK(memcmp(p.data, P1, 10) == 0);
	CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET); /* OPB, section 2 */
	CHECK_EQ_INT(p.frame, 4);
	CHECK_EQ_INT(p.linktype, LT_LINUX_SLL);
	CHECK_EQ_INT(p.caplen, sizeof P2);
	CHECK_EQ_INT(p.wirelen, 50);
	CHECK_EQ_INT(p.ts_ns, 102500000000ull);
	CHECK(memcmp(p.data, P2, sizeof P2) == 0);
	CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
	CHECK_EQ_INT(p.frame, 5);
	CHECK_EQ_INT(p.linktype, LT_IPV4);
	CHECK_EQ_INT(p.ts_ns, 1234000000ull);
	CHECK(memcmp(p.data, P1, sizeof P1) == 0);
	CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
	CHECK_EQ_INT(cap_warnings(r), 1); /* the unknown block */
}

static void test_pcapng(void)
{
	struct vec v = { 0 };
	char path[64], err[256];
	struct cap_reader *r;

	pi_set_quiet(1);
	build_ng(&v);
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		check_ng(r);
		cap_close(r);
	}
	unlink(path);

	/* the same, gzip-compressed */
	write_tmp_gz(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_gzipped(r), 1);
		check_ng(r);
		CHECK(cap_raw_offset(r) > 0);
		CHECK(cap_raw_offset(r) <= cap_file_size(r));
		cap_close(r);
	}
	unlink(path);

	/* from standard input */
	write_tmp(&v, path);
	{
		int saved = dup(0);
		FILE *f = freopen(path, "rb", stdin);
		CHECK(f != NULL);
		r = cap_open("-", err, sizeof err);
		CHECK(r != NULL);
		if (r) {
			check_ng(r);
			CHECK_EQ_INT(cap_file_size(r), v.n);
			cap_close(r);
		}
		dup2(saved, 0);
		close(saved);
	}
	unlink(path);

	/* from standard input that comes part read: the capture starts where
	 * the descriptor is, not at the file's start (a mapping of the file
	 * must not be used as if it began there) */
	{
		struct vec w = { 0 };
		int saved = dup(0);
		FILE *f;
		put(&w, "garbage", 7);
		put(&w, v.p, v.n);
		write_tmp(&w, path);
		f = freopen(path, "rb", stdin);
		CHECK(f != NULL);
		CHECK(lseek(0, 7, SEEK_SET) == 7);
		r = cap_open("-", err, sizeof err);
		CHECK(r != NULL);
		if (r) {
			check_ng(r);
			cap_close(r);
		}
		dup2(saved, 0);
		close(saved);
		vfree(&w);
	}
	unlink(path);
	pi_set_quiet(0);
	vfree(&v);
}

static void test_pcapng_snaplen_spb(void)
{
	struct vec v = { 0 };
	char path[64], err[256];
	struct cap_reader *r;
	struct packet p;

	ng_shb(&v, 1);
	ng_idb(&v, 1, LT_ETHERNET, 6, -1, 0);
	ng_spb(&v, 1, P1, 6, 10); /* 6 bytes kept of 10, padded to 8 */
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(p.caplen, 6);
		CHECK_EQ_INT(p.wirelen, 10);
		CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
		cap_close(r);
	}
	unlink(path);
	vfree(&v);
}

static void test_pcapng_errors(void)
{
	struct vec v = { 0 };
	char path[64], err[256], want[160];
	struct cap_reader *r;
	struct packet p;
	size_t at;

	/* cut in the middle of an EPB */
	ng_shb(&v, 0);
	ng_idb(&v, 0, LT_ETHERNET, 0, -1, 0);
	ng_epb(&v, 0, 0, 1, P1, sizeof P1, sizeof P1);
	at = v.n;
	ng_epb(&v, 0, 0, 2, P1, sizeof P1, sizeof P1);
	v.n -= 9;
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		snprintf(want, sizeof want, "%s: offset %zu: file ends in the middle of a packet "
			 "record (cut capture?)", path, at);
		CHECK_EQ_STR(cap_error(r), want);
		cap_close(r);
	}
	unlink(path);

	/* absurd block length */
	v.n = at;
	put32(&v, 0, 6);
	put32(&v, 0, 0x7FFFFFF0u);
	put32(&v, 0, 0);
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		snprintf(want, sizeof want, "%s: offset %zu: ", path, at);
		CHECK(strncmp(cap_error(r), want, strlen(want)) == 0);
		CHECK(strstr(cap_error(r), "absurd") != NULL);
		cap_close(r);
	}
	unlink(path);

	/* block length below the minimum for an EPB */
	v.n = at;
	put32(&v, 0, 6);
	put32(&v, 0, 16);
	put32(&v, 0, 0);
	put32(&v, 0, 16);
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		CHECK(strstr(cap_error(r), "minimum") != NULL);
		cap_close(r);
	}
	unlink(path);

	/* packet on an interface that does not exist */
	v.n = at;
	ng_epb(&v, 0, 3, 2, P1, sizeof P1, sizeof P1);
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		CHECK(strstr(cap_error(r), "interface 3") != NULL);
		cap_close(r);
	}
	unlink(path);

	/* EPB caplen over the maximum */
	v.n = at;
	put32(&v, 0, 6);
	put32(&v, 0, 64);
	put32(&v, 0, 0);
	put32(&v, 0, 0);
	put32(&v, 0, 0);
	put32(&v, 0, PI_MAX_PACKET + 4);
	put32(&v, 0, PI_MAX_PACKET + 4);
	for (int i = 0; i < 9; i++)
		put32(&v, 0, 0);
	put32(&v, 0, 64);
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		CHECK(strstr(cap_error(r), "exceeds") != NULL);
		cap_close(r);
	}
	unlink(path);

	/* trailing length disagrees */
	v.n = at;
	ng_epb(&v, 0, 0, 2, P1, sizeof P1, sizeof P1);
	v.p[v.n - 1] ^= 0x40;
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(cap_next(r, &p), CAP_ERROR);
		CHECK(strstr(cap_error(r), "disagree") != NULL);
		cap_close(r);
	}
	unlink(path);
	vfree(&v);

	/* an SHB that is cut */
	ng_shb(&v, 1);
	v.n -= 6;
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r == NULL);
	CHECK(strstr(err, path) != NULL);
	unlink(path);
	vfree(&v);
}

/* An EPB whose options make it larger than the read buffer: the packet is
 * copied out and the options streamed past. */
static void test_pcapng_huge_block(void)
{
	struct vec v = { 0 }, b = { 0 };
	char path[64], err[256];
	struct cap_reader *r;
	struct packet p;
	static uint8_t opt[60000];

	memset(opt, 'x', sizeof opt);
	ng_shb(&v, 0);
	ng_idb(&v, 0, LT_ETHERNET, 0, -1, 0);
	put32(&b, 0, 0);
	put32(&b, 0, 0);
	put32(&b, 0, 7);
	put32(&b, 0, sizeof P1);
	put32(&b, 0, sizeof P1);
	put(&b, P1, sizeof P1);
	pad4(&b);
	for (int i = 0; i < 12; i++)
		ng_opt(&b, 0, 1, opt, sizeof opt);
	put32(&b, 0, 0);
	ng_block(&v, 0, 6, &b);
	ng_epb(&v, 0, 0, 8, P2, sizeof P2, sizeof P2);
	write_tmp(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(p.caplen, sizeof P1);
		CHECK(memcmp(p.data, P1, sizeof P1) == 0);
		CHECK_EQ_INT(p.ts_ns, 7000);
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		CHECK_EQ_INT(p.frame, 2);
		CHECK(memcmp(p.data, P2, sizeof P2) == 0);
		CHECK_EQ_INT(cap_next(r, &p), CAP_EOF);
		cap_close(r);
	}
	unlink(path);
	vfree(&v);
	vfree(&b);
}

/* Many packets through a gzip stream: buffer refills at every alignment. */
static void test_gzip_many(void)
{
	struct vec v = { 0 };
	char path[64], err[256];
	struct cap_reader *r;
	struct packet p;
	uint8_t d[1500];
	uint32_t n = 0, bad = 0;

	pcap_hdr(&v, 0, 1, 65535, LT_ETHERNET);
	for (uint32_t i = 0; i < 3000; i++) {
		uint32_t len = 40 + (i * 37) % 1400;
		memset(d, (int)(i & 0xff), len);
		pcap_rec(&v, 0, i, i, d, len, len);
	}
	write_tmp_gz(&v, path);
	r = cap_open(path, err, sizeof err);
	CHECK(r != NULL);
	if (r) {
		int rc;
		while ((rc = cap_next(r, &p)) == CAP_PACKET) {
			uint32_t len = 40 + (n * 37) % 1400;
			if (p.frame != n + 1 || p.caplen != len || p.data[len - 1] != (uint8_t)n ||
			    p.ts_ns != (uint64_t)n * 1000000000ull + n)
				bad++;
			n++;
		}
		CHECK_EQ_INT(rc, CAP_EOF);
		CHECK_EQ_INT(n, 3000);
		CHECK_EQ_INT(bad, 0);
		CHECK_EQ_INT(cap_offset(r), v.n);
		cap_close(r);
	}
	unlink(path);

	/* a gzip stream cut short */
	{
		FILE *f;
		long sz;
		write_tmp_gz(&v, path);
		f = fopen(path, "r+b");
		fseek(f, 0, SEEK_END);
		sz = ftell(f);
		fclose(f);
		if (truncate(path, sz / 2) != 0)
			abort();
		r = cap_open(path, err, sizeof err);
		CHECK(r != NULL);
		if (r) {
			int rc;
			n = 0;
			while ((rc = cap_next(r, &p)) == CAP_PACKET)
				n++;
			CHECK_EQ_INT(rc, CAP_ERROR);
			CHECK(n > 100);
			CHECK(strstr(cap_error(r), path) != NULL);
			cap_close(r);
		}
		unlink(path);
	}
	vfree(&v);
}

/* ---- the reader's fast paths against its general ones ----------------------- */

/* A stream handing out at most step bytes per call: nearly every record then
 * needs a refill, so it is read by the general path (pcap_next_slow,
 * ng_block); a file is read through 1 MiB chunks, nearly all by the fast
 * paths (pcap_next, ng_epb_fast). Both must give the same packets, the same
 * warnings, and the same error at the same offset. */
struct memsrc {
	const uint8_t *p;
	size_t n, pos, step;
};

static long mem_read(void *ctx, void *buf, size_t len)
{
	struct memsrc *m = ctx;
	size_t c = m->n - m->pos;
	if (c > len)
		c = len;
	if (c > m->step)
		c = m->step;
	memcpy(buf, m->p + m->pos, c);
	m->pos += c;
	return (long)c;
}

/* The message after "NAME: " (the names differ between a file and a stream). */
static const char *after_name(const char *e, const char *name)
{
	size_t n = strlen(name);
	return strncmp(e, name, n) == 0 ? e + n : e;
}

static void same_reading(const struct vec *v, uint64_t want_packets, int want_rc)
{
	char path[64], err[256], err2[256];
	struct cap_reader *a, *b;
	struct memsrc m = { v->p, v->n, 0, 7 };
	uint64_t n = 0, bad = 0;
	int ra, rb;

	write_tmp(v, path);
	a = cap_open(path, err, sizeof err);
	b = cap_open_stream("mem", mem_read, &m, err2, sizeof err2);
	CHECK(a != NULL && b != NULL);
	if (!a || !b) {
		cap_close(a);
		cap_close(b);
		unlink(path);
		return;
	}
	for (;;) {
		struct packet pa, pb;
		ra = cap_next(a, &pa);
		rb = cap_next(b, &pb);
		if (ra != rb) {
			bad++;
			break;
		}
		if (ra != CAP_PACKET)
			break;
		n++;
		if (pa.frame != pb.frame || pa.ts_ns != pb.ts_ns || pa.linktype != pb.linktype ||
		    pa.caplen != pb.caplen || pa.wirelen != pb.wirelen ||
		    memcmp(pa.data, pb.data, pa.caplen) != 0 || cap_offset(a) != cap_offset(b) ||
		    cap_warnings(a) != cap_warnings(b))
			bad++;
	}
	CHECK_EQ_INT(bad, 0);
	CHECK_EQ_INT(n, want_packets);
	CHECK_EQ_INT(ra, want_rc);
	CHECK_EQ_INT(rb, want_rc);
	CHECK_EQ_INT(cap_warnings(a), cap_warnings(b));
	CHECK_EQ_INT(cap_offset(a), cap_offset(b));
	CHECK_EQ_STR(after_name(cap_error(a), path), after_name(cap_error(b), "mem"));
	cap_close(a);
	cap_close(b);
	unlink(path);
}

static void test_reader_paths(void)
{
	uint8_t d[1700];

	for (size_t i = 0; i < sizeof d; i++)
		d[i] = (uint8_t)(i * 13 + 5);
	pi_set_quiet(1);
	/* pcap, each byte order and resolution: records of 0 to 1599 bytes,
	 * some over the snaplen and some longer than their original length,
	 * then one over the limit (an error at its offset) */
	for (int be = 0; be < 2; be++) {
		for (int nano = 0; nano < 2; nano++) {
			struct vec v = { 0 };
			pcap_hdr(&v, be, nano, 1500, LT_ETHERNET);
			for (uint32_t i = 0; i < 4000; i++) {
				uint32_t len = i % 23 == 0 ? 1501 : i % 29 == 0 ? 1500 : (i * 389u) % 1600u;
				uint32_t orig = i % 17 == 0 ? len / 2 : i % 19 == 0 && len ? len - 1 :
						len + (i % 3) * 100;
				pcap_rec(&v, be, 1700000000u + i, (i * 7919u) % 1000000u, d, len, orig);
			}
			put32(&v, be, 1);
			put32(&v, be, 2);
			put32(&v, be, PI_MAX_PACKET + 1);
			put32(&v, be, 60);
			same_reading(&v, 4000, CAP_ERROR);
			v.n -= 16; /* a clean end */
			same_reading(&v, 4000, CAP_EOF);
			pcap_rec(&v, be, 9, 9, d, 100, 100);
			v.n -= 30; /* cut inside the last record */
			same_reading(&v, 4000, CAP_ERROR);
			vfree(&v);
		}
	}
	/* pcapng: two interfaces (one with a snaplen, one in ns), EPBs with
	 * oddities, SPBs, OPBs and skipped blocks between; then an EPB naming
	 * an interface that does not exist, and one whose trailing length
	 * disagrees */
	for (int be = 0; be < 2; be++) {
		struct vec v = { 0 }, w = { 0 };
		uint64_t npk = 0;
		ng_shb(&v, be);
		ng_idb(&v, be, LT_ETHERNET, 1000, -1, 0);
		ng_idb(&v, be, LT_RAW, 0, 9, 5);
		for (uint32_t i = 0; i < 3000; i++) {
			uint32_t len = i % 23 == 0 ? 1001 : i % 29 == 0 ? 1000 : (i * 211u) % 1600u;
			uint32_t orig = i % 13 == 0 ? len / 3 : i % 19 == 0 && len ? len - 1 : len;
			if (i % 50 == 7) {
				ng_spb(&v, be, d, len > 900 ? 900 : len, len);
			} else if (i % 70 == 9) {
				ng_opb(&v, be, (uint16_t)(i & 1), (uint64_t)i << 20, d, len, orig);
			} else if (i % 90 == 11) {
				ng_other(&v, be, 5, 24); /* statistics: not a packet */
				continue;
			} else {
				ng_epb(&v, be, i & 1, ((uint64_t)i << 32) | (i * 7919u), d, len, orig);
			}
			npk++;
		}
		put(&w, v.p, v.n);
		ng_epb(&v, be, 2, 0, d, 10, 10); /* no interface 2 */
		same_reading(&v, npk, CAP_ERROR);
		ng_epb(&w, be, 1, 0, d, 10, 10);
		w.p[w.n - 1] ^= 4; /* trailing length */
		same_reading(&w, npk, CAP_ERROR);
		w.n -= 40; /* cut */
		same_reading(&w, npk, CAP_ERROR);
		vfree(&v);
		vfree(&w);
	}
	pi_set_quiet(0);
}

/* A plain file is mapped, not read (capture.c, "mapped file"). Cut short
 * while it is read, it must end in an error (the pages gone raise SIGBUS,
 * the handler puts zeros there and the reader stops), never a crash, and no
 * packet from beyond the cut may be taken for whole. Cuts inside what the
 * reader's thread has paged in already (the pages vanish: SIGBUS), soon
 * and a while after the start, and one beyond it (paging in fails). */
static void test_cut_while_mapped(void)
{
	static uint8_t d[1000];
	pi_set_quiet(1);
	for (int when = 0; when < 4; when++) {
		const off_t cut = (when < 3 ? 100 : 1100) * 4096; /* page aligned */
		struct vec v = { 0 };
		char path[64], err[256];
		struct cap_reader *r;
		struct packet p;
		uint64_t n = 0, sum = 0;
		int rc;

		memset(d, 0x5a, sizeof d);
		pcap_hdr(&v, 0, 0, 65535, LT_ETHERNET);
		for (uint32_t i = 0; i < 6000; i++) /* 6 MB: past the paged-in window */
			pcap_rec(&v, 0, 1700000000u + i, i, d, sizeof d, sizeof d);
		write_tmp(&v, path);
		r = cap_open(path, err, sizeof err);
		CHECK(r != NULL);
		if (!r) {
			unlink(path);
			vfree(&v);
			continue;
		}
		CHECK_EQ_INT(cap_next(r, &p), CAP_PACKET);
		if (when == 1 || when == 2) { /* let the thread page in ahead first */
			struct timespec ts = { 0, when * 20000000L };
			nanosleep(&ts, NULL);
		}
		CHECK(truncate(path, cut) == 0);
		while ((rc = cap_next(r, &p)) == CAP_PACKET && n < 7000) {
			for (uint32_t i = 0; i < p.caplen; i++)
				sum += p.data[i]; /* reads every byte, as the decoder would */
			n++;
		}
		CHECK_EQ_INT(rc, CAP_ERROR);
		/* records that start before the cut; the last one is cut itself:
		 * paged in, it comes with zeros for its end, then the error; not
		 * paged in yet, the reader reads up to it (as read() would). The
		 * parser does not wait for the paging thread: beyond the window it
		 * may get to the cut first (SIGBUS, zeros) or the thread may (the
		 * read stops before the cut record), never further either way */
		if (when < 3) {
			CHECK(n + 1 <= (uint64_t)(cut - 24) / (16 + sizeof d) + 1);
		} else {
			CHECK(n + 1 >= (uint64_t)(cut - 24) / (16 + sizeof d));
			CHECK(n + 1 <= (uint64_t)(cut - 24) / (16 + sizeof d) + 1);
		}
		CHECK(strstr(cap_error(r), "cut short") != NULL);
		(void)sum;
		cap_close(r);
		unlink(path);
		vfree(&v);
	}
	pi_set_quiet(0);
}

/* ---- frame builders for the decoder ---------------------------------------- */

static const uint8_t A4[4] = { 10, 0, 0, 1 }, B4[4] = { 192, 168, 1, 2 };
static const uint8_t A6[16] = { 0x20, 0x01, 0x0d, 0xb8, [15] = 1 };
static const uint8_t B6[16] = { 0x20, 0x01, 0x0d, 0xb8, [14] = 0xab, [15] = 0xcd };

static void tcp_hdr(struct vec *v, uint16_t sp, uint16_t dp, uint32_t seq, uint32_t ack,
		    uint8_t flags, const void *pl, size_t n)
{
	put16(v, 1, sp);
	put16(v, 1, dp);
	put32(v, 1, seq);
	put32(v, 1, ack);
	put8(v, 0x50);
	put8(v, flags);
	put16(v, 1, 4096);
	put32(v, 1, 0);
	put(v, pl, n);
}

static void udp_hdr(struct vec *v, uint16_t sp, uint16_t dp, const void *pl, size_t n)
{
	put16(v, 1, sp);
	put16(v, 1, dp);
	put16(v, 1, (uint16_t)(8 + n));
	put16(v, 1, 0);
	put(v, pl, n);
}

static void ip4_hdr(struct vec *v, uint8_t proto, const uint8_t *s, const uint8_t *d,
		    uint16_t id, uint16_t frag, const struct vec *pl)
{
	put8(v, 0x45);
	put8(v, 0);
	put16(v, 1, (uint16_t)(20 + pl->n));
	put16(v, 1, id);
	put16(v, 1, frag);
	put8(v, 64);
	put8(v, proto);
	put16(v, 1, 0);
	put(v, s, 4);
	put(v, d, 4);
	put(v, pl->p, pl->n);
}

static void ip6_hdr(struct vec *v, uint8_t nh, const uint8_t *s, const uint8_t *d,
		    const struct vec *pl)
{
	put32(v, 1, 0x60000000u);
	put16(v, 1, (uint16_t)pl->n);
	put8(v, nh);
	put8(v, 64);
	put(v, s, 16);
	put(v, d, 16);
	put(v, pl->p, pl->n);
}

static void eth_hdr(struct vec *v, uint16_t etype)
{
	static const uint8_t mac[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	put(v, mac, 12);
	put16(v, 1, etype);
}

static int dec(struct decoder *d, int lt, const struct vec *v, uint32_t caplen, uint32_t wirelen,
	       uint64_t ts, struct decoded *o)
{
	struct packet p;
	p.frame = 1;
	p.ts_ns = ts;
	p.linktype = lt;
	p.caplen = caplen;
	p.wirelen = wirelen;
	p.data = v->p;
	return decode_packet(d, &p, o);
}

static int dec_all(struct decoder *d, int lt, const struct vec *v, struct decoded *o)
{
	return dec(d, lt, v, (uint32_t)v->n, (uint32_t)v->n, 0, o);
}

/* ---- decoder tests ------------------------------------------------------------ */

static void test_eth_vlan_qinq_tcp(struct decoder *d)
{
	struct vec t = { 0 }, ip = { 0 }, f = { 0 };
	struct decoded o;
	char s[64];

	tcp_hdr(&t, 51000, 443, 0x01020304u, 0x0a0b0c0du, TH_PSH | TH_ACK, "hello", 5);
	ip4_hdr(&ip, 6, A4, B4, 1, 0x4000, &t);
	eth_hdr(&f, 0x88a8);
	put16(&f, 1, 100);
	put16(&f, 1, 0x8100);
	put16(&f, 1, 200);
	put16(&f, 1, 0x0800);
	put(&f, ip.p, ip.n);
	for (int i = 0; i < 6; i++)
		put8(&f, 0xee); /* Ethernet padding: must be trimmed */
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.ipver, 4);
	CHECK_EQ_INT(o.proto, 6);
	CHECK(memcmp(o.src, A4, 4) == 0 && o.src[4] == 0);
	CHECK(memcmp(o.dst, B4, 4) == 0);
	CHECK_EQ_INT(o.sport, 51000);
	CHECK_EQ_INT(o.dport, 443);
	CHECK_EQ_INT(o.seq, 0x01020304u);
	CHECK_EQ_INT(o.ack, 0x0a0b0c0du);
	CHECK_EQ_INT(o.tcp_flags, TH_PSH | TH_ACK);
	CHECK_EQ_INT(o.win, 4096);
	CHECK_EQ_INT(o.paylen, 5);
	CHECK_EQ_INT(o.wire_paylen, 5);
	CHECK(o.payload && memcmp(o.payload, "hello", 5) == 0);
	CHECK(o.l3 == f.p + 22);
	CHECK_EQ_INT(o.l3len, ip.n);
	CHECK_EQ_INT(o.reassembled, 0);
	decode_addr_str(o.ipver, o.src, s, sizeof s);
	CHECK_EQ_STR(s, "10.0.0.1");

	/* 0x9100 outer tag too */
	f.p[12] = 0x91;
	f.p[13] = 0x00;
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.dport, 443);

	/* snaplen cut inside the payload: OK with fewer bytes present */
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, 22 + 20 + 20 + 2, (uint32_t)f.n, 0, &o), DEC_OK);
	CHECK_EQ_INT(o.paylen, 2);
	CHECK_EQ_INT(o.wire_paylen, 5);
	/* cut inside the TCP header: TRUNC */
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, 22 + 20 + 10, (uint32_t)f.n, 0, &o), DEC_TRUNC);
	/* cut inside the IP header: TRUNC */
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, 22 + 10, (uint32_t)f.n, 0, &o), DEC_TRUNC);
	/* the same bytes with no sign of a cut: malformed */
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, 22 + 10, 22 + 10, 0, &o), DEC_BAD);

	/* IP total length beyond the captured bytes: paylen < wire_paylen */
	{
		struct vec g = { 0 };
		put(&g, f.p, 22 + ip.n - 3); /* 3 payload bytes missing */
		CHECK_EQ_INT(dec(d, LT_ETHERNET, &g, (uint32_t)g.n, (uint32_t)g.n + 3, 0, &o), DEC_OK);
		CHECK_EQ_INT(o.paylen, 2);
		CHECK_EQ_INT(o.wire_paylen, 5);
		vfree(&g);
	}

	/* bad IHL */
	f.p[22] = 0x44;
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_BAD);
	f.p[22] = 0x45;
	/* bad TCP data offset */
	f.p[22 + 20 + 12] = 0x40;
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_BAD);
	f.p[22 + 20 + 12] = 0xF0; /* 60 bytes: beyond the segment */
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_BAD);
	f.p[22 + 20 + 12] = 0x50;
	/* ICMP: skipped */
	f.p[22 + 9] = 1;
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	f.p[22 + 9] = 6;
	/* ARP: skipped */
	f.p[20] = 0x08;
	f.p[21] = 0x06;
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	/* unknown link type */
	CHECK_EQ_INT(dec_all(d, 147, &f, &o), DEC_LINKTYPE);
	vfree(&t);
	vfree(&ip);
	vfree(&f);
}

static void test_ipv6_ext(struct decoder *d)
{
	struct vec t = { 0 }, x = { 0 }, ip = { 0 }, f = { 0 };
	struct decoded o;
	char s[64];

	tcp_hdr(&t, 443, 40000, 7, 8, TH_SYN | TH_ACK, NULL, 0);
	/* hop-by-hop (8 bytes) -> destination options (16 bytes) -> TCP */
	put8(&x, 60);
	put8(&x, 0);
	put8(&x, 1); /* PadN */
	put8(&x, 4);
	put32(&x, 1, 0);
	put8(&x, 6);
	put8(&x, 1);
	put8(&x, 1);
	put8(&x, 12);
	for (int i = 0; i < 12; i++)
		put8(&x, 0);
	put(&x, t.p, t.n);
	ip6_hdr(&ip, 0, A6, B6, &x);
	eth_hdr(&f, 0x86dd);
	put(&f, ip.p, ip.n);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.ipver, 6);
	CHECK_EQ_INT(o.proto, 6);
	CHECK(memcmp(o.src, A6, 16) == 0);
	CHECK(memcmp(o.dst, B6, 16) == 0);
	CHECK_EQ_INT(o.sport, 443);
	CHECK_EQ_INT(o.tcp_flags, TH_SYN | TH_ACK);
	CHECK_EQ_INT(o.paylen, 0);
	CHECK(o.l3 == f.p + 14);
	CHECK_EQ_INT(o.l3len, ip.n);
	decode_addr_str(6, o.dst, s, sizeof s);
	CHECK_EQ_STR(s, "2001:db8::abcd");

	/* raw IPv6 link types */
	CHECK_EQ_INT(dec_all(d, LT_IPV6, &ip, &o), DEC_OK);
	CHECK_EQ_INT(dec_all(d, LT_RAW, &ip, &o), DEC_OK);
	CHECK_EQ_INT(dec_all(d, LT_RAW_ALT, &ip, &o), DEC_OK);

	/* an extension header running past the payload: malformed */
	ip.p[40 + 8 + 1] = 200;
	CHECK_EQ_INT(dec_all(d, LT_IPV6, &ip, &o), DEC_BAD);
	ip.p[40 + 8 + 1] = 1;
	/* no next header */
	ip.p[40 + 8] = 59;
	CHECK_EQ_INT(dec_all(d, LT_IPV6, &ip, &o), DEC_SKIP);
	vfree(&t);
	vfree(&x);
	vfree(&ip);
	vfree(&f);
}

static void test_cooked_and_null(struct decoder *d)
{
	struct vec u = { 0 }, ip4 = { 0 }, ip6 = { 0 }, f = { 0 };
	struct decoded o;

	udp_hdr(&u, 5353, 53, "query", 5);
	ip4_hdr(&ip4, 17, A4, B4, 9, 0, &u);
	ip6_hdr(&ip6, 17, A6, B6, &u);

	/* Linux SLL */
	put16(&f, 1, 0);
	put16(&f, 1, 1);
	put16(&f, 1, 6);
	put32(&f, 1, 0x01020304u);
	put32(&f, 1, 0x05060000u);
	put16(&f, 1, 0x0800);
	put(&f, ip4.p, ip4.n);
	CHECK_EQ_INT(dec_all(d, LT_LINUX_SLL, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.proto, 17);
	CHECK_EQ_INT(o.sport, 5353);
	CHECK_EQ_INT(o.dport, 53);
	CHECK_EQ_INT(o.paylen, 5);
	CHECK(memcmp(o.payload, "query", 5) == 0);
	vfree(&f);

	/* Linux SLL2 */
	put16(&f, 1, 0x86dd);
	put16(&f, 1, 0);
	put32(&f, 1, 3);
	put16(&f, 1, 1);
	put8(&f, 4);
	put8(&f, 6);
	put32(&f, 1, 0);
	put32(&f, 1, 0);
	put(&f, ip6.p, ip6.n);
	CHECK_EQ_INT(dec_all(d, LT_LINUX_SLL2, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.ipver, 6);
	CHECK_EQ_INT(o.dport, 53);
	vfree(&f);

	/* NULL, little-endian AF_INET */
	put32(&f, 0, 2);
	put(&f, ip4.p, ip4.n);
	CHECK_EQ_INT(dec_all(d, LT_NULL, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.ipver, 4);
	vfree(&f);
	/* NULL, big-endian AF_INET */
	put32(&f, 1, 2);
	put(&f, ip4.p, ip4.n);
	CHECK_EQ_INT(dec_all(d, LT_NULL, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.ipver, 4);
	vfree(&f);
	/* NULL, AF_INET6 in each BSD flavour, both byte orders */
	{
		static const uint32_t afs[] = { 24, 28, 30, 10 };
		for (size_t i = 0; i < sizeof afs / sizeof afs[0]; i++) {
			for (int be = 0; be < 2; be++) {
				put32(&f, be, afs[i]);
				put(&f, ip6.p, ip6.n);
				CHECK_EQ_INT(dec_all(d, LT_NULL, &f, &o), DEC_OK);
				CHECK_EQ_INT(o.ipver, 6);
				vfree(&f);
			}
		}
	}
	/* LOOP: network order */
	put32(&f, 1, 2);
	put(&f, ip4.p, ip4.n);
	CHECK_EQ_INT(dec_all(d, LT_LOOP, &f, &o), DEC_OK);
	vfree(&f);
	/* unknown address family */
	put32(&f, 0, 7);
	put(&f, ip4.p, ip4.n);
	CHECK_EQ_INT(dec_all(d, LT_NULL, &f, &o), DEC_SKIP);
	vfree(&f);
	/* raw IPv4 link types */
	CHECK_EQ_INT(dec_all(d, LT_IPV4, &ip4, &o), DEC_OK);
	CHECK_EQ_INT(dec_all(d, LT_RAW_ALT2, &ip4, &o), DEC_OK);

	/* UDP length field checks */
	ip4.p[20 + 5] = 4; /* below 8 */
	CHECK_EQ_INT(dec_all(d, LT_IPV4, &ip4, &o), DEC_BAD);
	ip4.p[20 + 5] = 200; /* beyond the IP payload: the IP length wins */
	CHECK_EQ_INT(dec_all(d, LT_IPV4, &ip4, &o), DEC_OK);
	CHECK_EQ_INT(o.wire_paylen, 5);
	vfree(&u);
	vfree(&ip4);
	vfree(&ip6);
}

static void test_pppoe_and_mpacket(struct decoder *d)
{
	struct vec u = { 0 }, ip = { 0 }, f = { 0 };
	struct decoded o;

	udp_hdr(&u, 1024, 53, "abc", 3);
	ip4_hdr(&ip, 17, A4, B4, 5, 0, &u);
	eth_hdr(&f, 0x8100);
	put16(&f, 1, 7);
	put16(&f, 1, 0x8864);
	put8(&f, 0x11);
	put8(&f, 0);
	put16(&f, 1, 0x1234);
	put16(&f, 1, (uint16_t)(2 + ip.n));
	put16(&f, 1, 0x0021);
	put(&f, ip.p, ip.n);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.dport, 53);
	CHECK_EQ_INT(o.paylen, 3);
	vfree(&f);

	/* PPPoE with IPv6 (PPP 0x0057) */
	{
		struct vec ip6 = { 0 };
		ip6_hdr(&ip6, 17, A6, B6, &u);
		eth_hdr(&f, 0x8864);
		put8(&f, 0x11);
		put8(&f, 0);
		put16(&f, 1, 1);
		put16(&f, 1, (uint16_t)(2 + ip6.n));
		put16(&f, 1, 0x0057);
		put(&f, ip6.p, ip6.n);
		CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
		CHECK_EQ_INT(o.ipver, 6);
		vfree(&f);
		vfree(&ip6);
	}
	/* PPPoE discovery (0x8863) and LCP: skipped */
	eth_hdr(&f, 0x8864);
	put8(&f, 0x11);
	put8(&f, 0);
	put16(&f, 1, 1);
	put16(&f, 1, 6);
	put16(&f, 1, 0xc021);
	put32(&f, 1, 0);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	vfree(&f);

	/* mPacket: 7-byte preamble, SMD-E, Ethernet frame, mCRC */
	for (int i = 0; i < 7; i++)
		put8(&f, 0x55);
	put8(&f, 0xd5);
	eth_hdr(&f, 0x0800);
	put(&f, ip.p, ip.n);
	put32(&f, 1, 0xdeadbeefu);
	CHECK_EQ_INT(dec_all(d, 274, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.dport, 53);
	CHECK_EQ_INT(o.paylen, 3);
	f.p[6] = 0x61; /* continuation fragment */
	CHECK_EQ_INT(dec_all(d, 274, &f, &o), DEC_SKIP);
	vfree(&f);
	vfree(&u);
	vfree(&ip);
}

static void test_tunnels(struct decoder *d)
{
	struct vec t = { 0 }, in = { 0 }, ie = { 0 }, u = { 0 }, out = { 0 }, f = { 0 };
	struct vec g = { 0 };
	struct decoded o;
	static const uint8_t C4[4] = { 172, 16, 0, 1 }, D4[4] = { 172, 16, 0, 2 };

	tcp_hdr(&t, 33000, 8443, 1, 2, TH_ACK, "tls", 3);
	ip4_hdr(&in, 6, C4, D4, 3, 0, &t);

	/* VXLAN: Ethernet / IPv4 / UDP 4789 / VXLAN / Ethernet / IPv4 / TCP */
	put8(&ie, 0x08);
	put8(&ie, 0);
	put16(&ie, 1, 0);
	put32(&ie, 1, 0x00123400u);
	eth_hdr(&ie, 0x0800);
	put(&ie, in.p, in.n);
	udp_hdr(&u, 49152, 4789, ie.p, ie.n);
	ip4_hdr(&out, 17, A4, B4, 4, 0, &u);
	eth_hdr(&f, 0x0800);
	put(&f, out.p, out.n);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.proto, 6);
	CHECK(memcmp(o.src, C4, 4) == 0);
	CHECK(memcmp(o.dst, D4, 4) == 0);
	CHECK_EQ_INT(o.sport, 33000);
	CHECK_EQ_INT(o.dport, 8443);
	CHECK_EQ_INT(o.paylen, 3);
	CHECK(o.l3 == f.p + 14 + 20 + 8 + 8 + 14);
	vfree(&f);
	vfree(&u);
	vfree(&out);
	vfree(&ie);

	/* Geneve with 4 bytes of options carrying Ethernet */
	put8(&ie, 0x01);
	put8(&ie, 0);
	put16(&ie, 1, 0x6558);
	put32(&ie, 1, 0x00000100u);
	put32(&ie, 1, 0x01020304u);
	eth_hdr(&ie, 0x0800);
	put(&ie, in.p, in.n);
	udp_hdr(&u, 49152, 6081, ie.p, ie.n);
	ip4_hdr(&out, 17, A4, B4, 4, 0, &u);
	CHECK_EQ_INT(dec_all(d, LT_IPV4, &out, &o), DEC_OK);
	CHECK_EQ_INT(o.dport, 8443);
	CHECK(memcmp(o.src, C4, 4) == 0);
	vfree(&u);
	vfree(&out);
	vfree(&ie);

	/* GRE with checksum and key, carrying IPv4 */
	put16(&g, 1, 0xA000);
	put16(&g, 1, 0x0800);
	put32(&g, 1, 0);
	put32(&g, 1, 42);
	put(&g, in.p, in.n);
	ip4_hdr(&out, 47, A4, B4, 4, 0, &g);
	CHECK_EQ_INT(dec_all(d, LT_IPV4, &out, &o), DEC_OK);
	CHECK_EQ_INT(o.dport, 8443);
	CHECK(memcmp(o.dst, D4, 4) == 0);
	vfree(&g);
	vfree(&out);

	/* GRE transparent Ethernet bridging with a sequence number */
	put16(&g, 1, 0x1000);
	put16(&g, 1, 0x6558);
	put32(&g, 1, 1);
	eth_hdr(&g, 0x0800);
	put(&g, in.p, in.n);
	ip6_hdr(&out, 47, A6, B6, &g);
	CHECK_EQ_INT(dec_all(d, LT_IPV6, &out, &o), DEC_OK);
	CHECK_EQ_INT(o.ipver, 4);
	CHECK_EQ_INT(o.dport, 8443);
	vfree(&g);
	vfree(&out);

	/* IP-in-IP: IPv4 in IPv6 (41 carries IPv6; 4 carries IPv4) */
	ip6_hdr(&out, 4, A6, B6, &in);
	CHECK_EQ_INT(dec_all(d, LT_IPV6, &out, &o), DEC_OK);
	CHECK_EQ_INT(o.ipver, 4);
	CHECK(memcmp(o.src, C4, 4) == 0);
	vfree(&out);

	/* nesting deeper than the cap: refused */
	{
		struct vec a = { 0 }, b = { 0 };
		put(&a, in.p, in.n);
		for (int i = 0; i < 9; i++) {
			vfree(&b);
			ip4_hdr(&b, 4, A4, B4, 1, 0, &a);
			vfree(&a);
			put(&a, b.p, b.n);
		}
		CHECK_EQ_INT(dec_all(d, LT_IPV4, &a, &o), DEC_BAD);
		vfree(&a);
		vfree(&b);
	}
	vfree(&t);
	vfree(&in);
}

/* IPv4 fragment: payload bytes [off, off+n) of pl */
static void frag4(struct vec *f, uint16_t id, const uint8_t *pl, size_t off, size_t n, int more)
{
	struct vec part = { 0 };
	put(&part, pl + off, n);
	f->n = 0;
	eth_hdr(f, 0x0800);
	ip4_hdr(f, 17, A4, B4, id, (uint16_t)((more ? 0x2000 : 0) | (off / 8)), &part);
	vfree(&part);
}

static void test_frag4(struct decoder *d, struct pi_caps *caps)
{
	struct vec u = { 0 }, f = { 0 };
	struct decoded o;
	uint8_t data[3000];

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i * 7);
	udp_hdr(&u, 5000, 53, data, sizeof data); /* 3008 bytes of UDP */

	/* out of order: last, first, middle */
	frag4(&f, 77, u.p, 2400, u.n - 2400, 0);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	frag4(&f, 77, u.p, 0, 1200, 1);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	CHECK_EQ_INT(decoder_frags_held(d), 2);
	/* overlapping duplicate with other bytes: the first data wins */
	{
		struct vec junk = { 0 };
		for (int i = 0; i < 1200; i++)
			put8(&junk, 0xff);
		frag4(&f, 77, junk.p, 0, 800, 1);
		f.p[14 + 6] = 0x20;
		f.p[14 + 7] = (uint8_t)(400 / 8); /* covers [400, 1200): already held */
		CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
		vfree(&junk);
	}
	frag4(&f, 77, u.p, 1200, 1200, 1);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.reassembled, 1);
	CHECK_EQ_INT(o.proto, 17);
	CHECK_EQ_INT(o.sport, 5000);
	CHECK_EQ_INT(o.dport, 53);
	CHECK_EQ_INT(o.paylen, sizeof data);
	CHECK_EQ_INT(o.wire_paylen, sizeof data);
	CHECK(memcmp(o.payload, data, sizeof data) == 0);
	CHECK_EQ_INT(o.l3len, 20 + u.n);
	CHECK(o.l3 && o.l3[0] == 0x45 && o.l3[2] == (uint8_t)((20 + u.n) >> 8) &&
	      o.l3[3] == (uint8_t)(20 + u.n) && o.l3[6] == 0 && o.l3[7] == 0);
	CHECK(memcmp(o.src, A4, 4) == 0);
	CHECK_EQ_INT(decoder_frags_held(d), 0);
	CHECK_EQ_INT(caps->frag_dropped, 0);

	/* overlap onto bytes not held yet: the earlier fragment's bytes stay */
	{
		struct vec a = { 0 }, b = { 0 }, x = { 0 };
		put16(&a, 1, 7);     /* UDP header: 7 -> 9, length 8 + 16 */
		put16(&a, 1, 9);
		put16(&a, 1, 24);
		put16(&a, 1, 0);
		for (int i = 0; i < 8; i++)
			put8(&a, 'a');           /* [0, 16): header + 8 'a' */
		for (int i = 0; i < 24; i++)
			put8(&b, 'b');           /* [0, 24) 'b'; only [16, 24) is new */
		frag4(&f, 90, a.p, 0, 16, 1);
		CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
		frag4(&f, 90, b.p, 8, 16, 0); /* covers [8, 24) */
		CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
		put(&x, "aaaaaaaabbbbbbbb", 16);
		CHECK_EQ_INT(o.paylen, 16);
		CHECK(o.payload && memcmp(o.payload, x.p, 16) == 0);
		vfree(&a);
		vfree(&b);
		vfree(&x);
	}

	/* a fragment cut by snaplen cannot be rebuilt: TRUNC, counted */
	frag4(&f, 78, u.p, 0, 1200, 1);
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, 100, (uint32_t)f.n, 0, &o), DEC_TRUNC);
	CHECK_EQ_INT(caps->frag_dropped, 1);

	/* timeout by packet time */
	frag4(&f, 79, u.p, 0, 1200, 1);
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, (uint32_t)f.n, (uint32_t)f.n, 1000, &o), DEC_SKIP);
	frag4(&f, 80, u.p, 0, 1200, 1);
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, (uint32_t)f.n, (uint32_t)f.n,
			 1000 + PI_FRAG_TIMEOUT_NS + 1, &o), DEC_SKIP);
	CHECK_EQ_INT(caps->frag_dropped, 2);
	/* id 79's tail comes too late: held again, never completes */
	frag4(&f, 79, u.p, 1200, u.n - 1200, 0);
	CHECK_EQ_INT(dec(d, LT_ETHERNET, &f, (uint32_t)f.n, (uint32_t)f.n,
			 1000 + PI_FRAG_TIMEOUT_NS + 2, &o), DEC_SKIP);
	decoder_reset(d);
	CHECK_EQ_INT(decoder_frags_held(d), 0);

	/* inconsistent ends: dropped with all its fragments */
	frag4(&f, 81, u.p, 1200, 800, 0);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	frag4(&f, 81, u.p, 1200, 1200, 0);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	CHECK_EQ_INT(caps->frag_dropped, 4);
	CHECK_EQ_INT(decoder_frags_held(d), 0);

	/* beyond the size cap */
	frag4(&f, 82, u.p, 0, 1200, 1);
	f.p[14 + 6] = 0x3f; /* offset 8191 * 8 */
	f.p[14 + 7] = 0xff;
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	CHECK_EQ_INT(caps->frag_dropped, 5);

	/* table cap: one datagram more than the table holds evicts the oldest */
	{
		uint64_t before = caps->frag_dropped;
		for (uint32_t i = 0; i <= PI_FRAG_MAX_DGRAMS; i++) {
			frag4(&f, (uint16_t)(1000 + i), u.p, 0, 1200, 1);
			(void)dec_all(d, LT_ETHERNET, &f, &o);
		}
		CHECK_EQ_INT(caps->frag_dropped - before, 1);
		CHECK_EQ_INT(decoder_frags_held(d), PI_FRAG_MAX_DGRAMS);
		decoder_reset(d);
	}
	vfree(&u);
	vfree(&f);
}

static void frag6(struct vec *f, uint32_t id, const uint8_t *pl, size_t off, size_t n, int more)
{
	struct vec part = { 0 };
	put8(&part, 17);
	put8(&part, 0);
	put16(&part, 1, (uint16_t)(off | (more ? 1u : 0u)));
	put32(&part, 1, id);
	put(&part, pl + off, n);
	f->n = 0;
	eth_hdr(f, 0x86dd);
	ip6_hdr(f, 44, A6, B6, &part);
	vfree(&part);
}

static void test_frag6(struct decoder *d)
{
	struct vec u = { 0 }, f = { 0 };
	struct decoded o;
	uint8_t data[2000];

	for (size_t i = 0; i < sizeof data; i++)
		data[i] = (uint8_t)(i ^ 0x5a);
	udp_hdr(&u, 53, 40000, data, sizeof data);
	frag6(&f, 0xabcdef, u.p, 1232, u.n - 1232, 0);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_SKIP);
	frag6(&f, 0xabcdef, u.p, 0, 1232, 1);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.reassembled, 1);
	CHECK_EQ_INT(o.ipver, 6);
	CHECK_EQ_INT(o.sport, 53);
	CHECK_EQ_INT(o.dport, 40000);
	CHECK_EQ_INT(o.paylen, sizeof data);
	CHECK(memcmp(o.payload, data, sizeof data) == 0);
	CHECK(memcmp(o.src, A6, 16) == 0);
	CHECK_EQ_INT(o.l3len, 40 + u.n);
	CHECK(o.l3 && o.l3[6] == 17 && o.l3[4] == (uint8_t)(u.n >> 8) && o.l3[5] == (uint8_t)u.n);

	/* atomic fragment (offset 0, no more): decoded at once */
	frag6(&f, 5, u.p, 0, u.n, 0);
	CHECK_EQ_INT(dec_all(d, LT_ETHERNET, &f, &o), DEC_OK);
	CHECK_EQ_INT(o.reassembled, 0);
	CHECK_EQ_INT(o.paylen, sizeof data);
	vfree(&u);
	vfree(&f);
}

/* ---- the decoder's fast path against its layer walk ------------------------- */

/* An IP packet framed two ways whose bytes from the IP header on are the
 * same: one the fast path takes (Ethernet, or a single 802.1Q tag, or the
 * raw IPv4/IPv6 link types), one only the layer walk reads (BSD null with
 * the address family, or an 802.1ad tag, which the fast path leaves). Each
 * has its own decoder (fragments are held per decoder). The results must be
 * the same field by field, pointers counted from the IP header. *o is
 * filled with junk first: a field the fast path forgot shows. */
enum frame_kind { FK_ETH, FK_VLAN, FK_RAWLT, FK_N };

static size_t frame_ip(struct vec *f, int fast, enum frame_kind k, int v6, const uint8_t *ip,
		       size_t n, int *lt)
{
	static const uint8_t mac[12] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11 };
	f->n = 0;
	if (k == FK_VLAN) {
		put(f, mac, 12);
		put16(f, 1, fast ? 0x8100 : 0x88a8);
		put16(f, 1, 42);
		put16(f, 1, v6 ? 0x86dd : 0x0800);
		*lt = LT_ETHERNET;
	} else if (fast && k == FK_ETH) {
		eth_hdr(f, v6 ? 0x86dd : 0x0800);
		*lt = LT_ETHERNET;
	} else if (fast) {
		*lt = v6 ? LT_IPV6 : LT_IPV4;
	} else {
		put32(f, 0, v6 ? 24 : 2);
		*lt = LT_NULL;
	}
	{
		size_t hl = f->n;
		put(f, ip, n);
		return hl;
	}
}

static int same_decoded(const struct decoded *a, const uint8_t *ba, const struct decoded *b,
			const uint8_t *bb)
{
	int same = a->ipver == b->ipver && a->proto == b->proto &&
		   memcmp(a->src, b->src, 16) == 0 && memcmp(a->dst, b->dst, 16) == 0 &&
		   a->sport == b->sport && a->dport == b->dport && a->tcp_flags == b->tcp_flags &&
		   a->seq == b->seq && a->ack == b->ack && a->win == b->win &&
		   a->paylen == b->paylen && a->wire_paylen == b->wire_paylen &&
		   a->l3len == b->l3len && a->reassembled == b->reassembled &&
		   !a->payload == !b->payload && !a->l3 == !b->l3;
	if (!same)
		return 0;
	if (a->reassembled) /* both in their decoder's buffers */
		return (!a->l3 || memcmp(a->l3, b->l3, a->l3len) == 0) &&
		       (!a->payload || memcmp(a->payload, b->payload, a->paylen) == 0);
	return (!a->payload || a->payload - ba == b->payload - bb) &&
	       (!a->l3 || a->l3 - ba == b->l3 - bb);
}

/* Decode ip (cut to n bytes, extra more on the wire) both ways; returns the
 * fast framing's status, or -100 when the two differ. */
static int both_ways(struct decoder *df, struct decoder *dg, enum frame_kind k, int v6,
		     const uint8_t *ip, size_t n, uint32_t extra, uint64_t ts, struct decoded *out)
{
	struct vec ff = { 0 }, fg = { 0 };
	struct packet pf, pg;
	struct decoded of, og;
	size_t hf, hg;
	int lf, lg, rf, rg, ok;

	hf = frame_ip(&ff, 1, k, v6, ip, n, &lf);
	hg = frame_ip(&fg, 0, k, v6, ip, n, &lg);
	pf.frame = pg.frame = 1;
	pf.ts_ns = pg.ts_ns = ts;
	pf.linktype = lf;
	pg.linktype = lg;
	pf.caplen = (uint32_t)ff.n;
	pg.caplen = (uint32_t)fg.n;
	pf.wirelen = pf.caplen + extra;
	pg.wirelen = pg.caplen + extra;
	pf.data = ff.p ? ff.p : (const uint8_t *)""; /* an empty frame: as a reader gives it */
	pg.data = fg.p ? fg.p : (const uint8_t *)"";
	memset(&of, 0xa5, sizeof of);
	memset(&og, 0x5a, sizeof og);
	rf = decode_packet(df, &pf, &of);
	rg = decode_packet(dg, &pg, &og);
	ok = rf == rg && same_decoded(&of, pf.data + hf, &og, pg.data + hg);
	if (!ok && unit_fail < 20)
		fprintf(stderr, "fast/walk differ: kind %d v%d n %zu extra %u: rc %d/%d proto %u/%u "
			"paylen %u/%u wire %u/%u l3len %u/%u\n", (int)k, v6 ? 6 : 4, n, extra, rf,
			rg, of.proto, og.proto, of.paylen, og.paylen, of.wire_paylen, og.wire_paylen,
			of.l3len, og.l3len);
	if (out)
		*out = of;
	vfree(&ff);
	vfree(&fg);
	return ok ? rf : -100;
}

/* Every framing, whole and cut at each length, with and without bytes
 * missing on the wire. Returns the fast status of the whole packet. */
static int check_all_ways(struct decoder *df, struct decoder *dg, int v6, const struct vec *ip,
			  struct decoded *out)
{
	int rc = 0;
	for (int k = 0; k < FK_N; k++) {
		int r = both_ways(df, dg, (enum frame_kind)k, v6, ip->p, ip->n, 0, 0, k ? NULL : out);
		CHECK(r != -100);
		if (k == 0)
			rc = r;
		for (size_t cut = 0; cut < ip->n; cut++) {
			CHECK(both_ways(df, dg, (enum frame_kind)k, v6, ip->p, cut, 0, 0, NULL) != -100);
			CHECK(both_ways(df, dg, (enum frame_kind)k, v6, ip->p, cut,
					(uint32_t)(ip->n - cut), 0, NULL) != -100);
		}
	}
	return rc;
}

static void test_fast_path(void)
{
	struct pi_caps cf, cg;
	struct decoder *df, *dg;
	struct vec t = { 0 }, u = { 0 }, ip = { 0 }, x = { 0 };
	struct decoded o;

	memset(&cf, 0, sizeof cf);
	memset(&cg, 0, sizeof cg);
	df = decoder_new(&cf);
	dg = decoder_new(&cg);
	CHECK(df && dg);
	if (!df || !dg) {
		decoder_free(df);
		decoder_free(dg);
		return;
	}
	tcp_hdr(&t, 51000, 443, 0x01020304u, 0x0a0b0c0du, TH_PSH | TH_ACK, "hello, world", 12);
	udp_hdr(&u, 5353, 53, "query", 5);

	/* IPv4 / TCP: the plain case, taken by the fast path */
	ip4_hdr(&ip, 6, A4, B4, 1, 0x4000, &t);
	CHECK_EQ_INT(check_all_ways(df, dg, 0, &ip, &o), DEC_OK);
	CHECK_EQ_INT(o.sport, 51000);
	CHECK_EQ_INT(o.paylen, 12);
	/* IPv4 total length shorter than the frame (padding), longer (bogus),
	 * below the header, 0 (offload) */
	{
		static const uint16_t tots[] = { 20 + 20 + 3, 20 + 20, 20 + 19, 20 + 20 + 12 + 40,
						 19, 10, 0, 65535 };
		for (size_t i = 0; i < sizeof tots / sizeof tots[0]; i++) {
			ip.p[2] = (uint8_t)(tots[i] >> 8);
			ip.p[3] = (uint8_t)tots[i];
			CHECK(check_all_ways(df, dg, 0, &ip, NULL) != -100);
		}
		ip.p[2] = 0;
		ip.p[3] = (uint8_t)ip.n;
	}
	/* TCP data offset below 5, 5 to 15 (beyond the segment at the end) */
	for (unsigned doff = 0; doff < 16; doff++) {
		ip.p[20 + 12] = (uint8_t)(doff << 4);
		CHECK(check_all_ways(df, dg, 0, &ip, NULL) != -100);
	}
	ip.p[20 + 12] = 0x50;
	/* not version 4, IHL below 5, fragments (MF; an offset; DF alone is not
	 * one), ICMP, IP-in-IP, GRE */
	{
		static const struct { unsigned at; uint8_t val; } muts[] = {
			{ 0, 0x55 }, { 0, 0x65 }, { 0, 0x44 }, { 0, 0x40 }, { 6, 0x20 }, { 6, 0x00 },
			{ 6, 0x60 }, { 7, 0x01 }, { 6, 0x1f }, { 9, 1 }, { 9, 4 }, { 9, 41 }, { 9, 47 },
			{ 9, 17 }, { 9, 58 },
		};
		for (size_t i = 0; i < sizeof muts / sizeof muts[0]; i++) {
			uint8_t keep = ip.p[muts[i].at];
			ip.p[muts[i].at] = muts[i].val;
			CHECK(check_all_ways(df, dg, 0, &ip, NULL) != -100);
			ip.p[muts[i].at] = keep;
		}
	}
	vfree(&ip);
	/* IPv4 with options (IHL 6 and 15) */
	{
		struct vec opt = { 0 };
		ip4_hdr(&ip, 6, A4, B4, 1, 0, &t);
		put(&opt, ip.p, 20);
		put32(&opt, 1, 0x01010100u); /* NOP NOP NOP EOL */
		put(&opt, t.p, t.n);
		opt.p[0] = 0x46;
		opt.p[3] = (uint8_t)opt.n;
		CHECK_EQ_INT(check_all_ways(df, dg, 0, &opt, &o), DEC_OK);
		CHECK_EQ_INT(o.paylen, 12);
		opt.p[0] = 0x4f;
		CHECK(check_all_ways(df, dg, 0, &opt, NULL) != -100);
		vfree(&opt);
		vfree(&ip);
	}
	/* IPv4 / UDP: plain, length below 8, 0, beyond the IP payload, short;
	 * tunnel ports (VXLAN, Geneve, GTP-U either way) */
	ip4_hdr(&ip, 17, A4, B4, 9, 0, &u);
	CHECK_EQ_INT(check_all_ways(df, dg, 0, &ip, &o), DEC_OK);
	CHECK_EQ_INT(o.dport, 53);
	{
		static const uint16_t ulens[] = { 0, 4, 7, 8, 9, 13, 14, 200 };
		for (size_t i = 0; i < sizeof ulens / sizeof ulens[0]; i++) {
			ip.p[20 + 4] = (uint8_t)(ulens[i] >> 8);
			ip.p[20 + 5] = (uint8_t)ulens[i];
			CHECK(check_all_ways(df, dg, 0, &ip, NULL) != -100);
		}
		ip.p[20 + 4] = 0;
		ip.p[20 + 5] = 13;
	}
	{
		static const uint16_t ports[] = { 4789, 6081, 2152 };
		for (size_t i = 0; i < 3; i++) {
			for (int side = 0; side < 2; side++) {
				uint8_t keep[4];
				memcpy(keep, ip.p + 20, 4);
				ip.p[20 + 2 * side] = (uint8_t)(ports[i] >> 8);
				ip.p[20 + 2 * side + 1] = (uint8_t)ports[i];
				ip.p[28] = (uint8_t)(i == 0 ? 0x08 : i == 1 ? 0x00 : 0x30);
				CHECK(check_all_ways(df, dg, 0, &ip, NULL) != -100);
				memcpy(ip.p + 20, keep, 4);
				ip.p[28] = 'q';
			}
		}
	}
	vfree(&ip);

	/* IPv6 / TCP and UDP; payload length 0, short, long; not version 6 */
	ip6_hdr(&ip, 6, A6, B6, &t);
	CHECK_EQ_INT(check_all_ways(df, dg, 1, &ip, &o), DEC_OK);
	CHECK(memcmp(o.dst, B6, 16) == 0);
	CHECK_EQ_INT(o.paylen, 12);
	{
		static const uint16_t plens[] = { 0, 1, 19, 20, 31, 32, 33, 500 };
		for (size_t i = 0; i < sizeof plens / sizeof plens[0]; i++) {
			ip.p[4] = (uint8_t)(plens[i] >> 8);
			ip.p[5] = (uint8_t)plens[i];
			CHECK(check_all_ways(df, dg, 1, &ip, NULL) != -100);
		}
		ip.p[4] = 0;
		ip.p[5] = 32;
		ip.p[0] = 0x40;
		CHECK(check_all_ways(df, dg, 1, &ip, NULL) != -100);
		ip.p[0] = 0x60;
		ip.p[6] = 58; /* ICMPv6 */
		CHECK(check_all_ways(df, dg, 1, &ip, NULL) != -100);
		ip.p[6] = 59; /* no next header */
		CHECK(check_all_ways(df, dg, 1, &ip, NULL) != -100);
	}
	vfree(&ip);
	ip6_hdr(&ip, 17, A6, B6, &u);
	CHECK_EQ_INT(check_all_ways(df, dg, 1, &ip, &o), DEC_OK);
	ip.p[40 + 4] = 0; /* UDP length 0: a jumbogram's, taken from IPv6 */
	ip.p[40 + 5] = 0;
	CHECK_EQ_INT(check_all_ways(df, dg, 1, &ip, &o), DEC_OK);
	CHECK_EQ_INT(o.wire_paylen, 5);
	vfree(&ip);
	/* IPv6 with a hop-by-hop header, and with an atomic fragment header */
	for (int nh = 0; nh < 2; nh++) {
		put8(&x, 6);
		put8(&x, 0);
		if (nh == 0) {
			put16(&x, 1, 0x0104); /* PadN */
			put32(&x, 1, 0);
		} else {
			put16(&x, 1, 0);
			put32(&x, 1, 0x12345678u);
		}
		put(&x, t.p, t.n);
		ip6_hdr(&ip, nh ? 44 : 0, A6, B6, &x);
		CHECK_EQ_INT(check_all_ways(df, dg, 1, &ip, &o), DEC_OK);
		CHECK_EQ_INT(o.paylen, 12);
		vfree(&ip);
		vfree(&x);
	}

	/* fragments in both decoders: held, then rebuilt, the same way */
	{
		struct vec big = { 0 }, fr = { 0 }, part = { 0 };
		uint8_t data[600];
		for (size_t i = 0; i < sizeof data; i++)
			data[i] = (uint8_t)(i * 3);
		udp_hdr(&big, 1000, 2000, data, sizeof data);
		put(&part, big.p + 304, big.n - 304);
		ip4_hdr(&fr, 17, A4, B4, 77, 304 / 8, &part);
		CHECK_EQ_INT(both_ways(df, dg, FK_ETH, 0, fr.p, fr.n, 0, 5, NULL), DEC_SKIP);
		vfree(&part);
		vfree(&fr);
		put(&part, big.p, 304);
		ip4_hdr(&fr, 17, A4, B4, 77, 0x2000, &part);
		CHECK_EQ_INT(both_ways(df, dg, FK_ETH, 0, fr.p, fr.n, 0, 6, &o), DEC_OK);
		CHECK_EQ_INT(o.reassembled, 1);
		CHECK_EQ_INT(o.paylen, sizeof data);
		vfree(&part);
		vfree(&fr);
		vfree(&big);
	}

	/* random headers: mutations of the plain packets, cut and not */
	{
		struct vec base[4] = { { 0 }, { 0 }, { 0 }, { 0 } };
		uint32_t xs = 0x12345u;
		int differ = 0;
		ip4_hdr(&base[0], 6, A4, B4, 1, 0, &t);
		ip4_hdr(&base[1], 17, A4, B4, 2, 0, &u);
		ip6_hdr(&base[2], 6, A6, B6, &t);
		ip6_hdr(&base[3], 17, A6, B6, &u);
		for (int it = 0; it < 60000; it++) {
			uint8_t pk[128];
			size_t n;
			int b = it & 3, v6 = b >= 2;
			uint32_t extra;
			n = base[b].n;
			memcpy(pk, base[b].p, n);
			for (int m = 0; m < 1 + it % 3; m++) {
				size_t hl = v6 ? 40u + 20u : 20u + 20u;
				xs = xs * 1103515245u + 12345u;
				/* the header bytes that matter most, then anywhere */
				if (xs & 0x10000u) {
					static const uint8_t at4[] = { 0, 2, 3, 6, 7, 9, 20, 22, 24, 25, 32 };
					static const uint8_t at6[] = { 0, 4, 5, 6, 40, 42, 44, 45, 52 };
					size_t at = v6 ? at6[(xs >> 20) % sizeof at6] : at4[(xs >> 20) % sizeof at4];
					pk[at] = (uint8_t)(xs >> 8);
				} else {
					pk[(xs >> 20) % hl] = (uint8_t)(xs >> 8);
				}
			}
			xs = xs * 1103515245u + 12345u;
			if (xs & 0x30000u)
				n -= (xs >> 20) % (n + 1);
			extra = (xs & 0x40000u) ? (xs >> 24) : 0;
			if (both_ways(df, dg, (enum frame_kind)(it % FK_N), v6, pk, n, extra,
				      (uint64_t)it, NULL) == -100)
				differ++;
		}
		CHECK_EQ_INT(differ, 0);
		for (int i = 0; i < 4; i++)
			vfree(&base[i]);
	}
	CHECK_EQ_INT(cf.frag_dropped, cg.frag_dropped);
	CHECK_EQ_INT(decoder_frags_held(df), decoder_frags_held(dg));
	vfree(&t);
	vfree(&u);
	decoder_free(df);
	decoder_free(dg);
}

/* Random bytes through every link type: must never crash (ASan/UBSan). */
static void test_fuzz(struct decoder *d)
{
	static const int lts[] = { LT_ETHERNET, LT_RAW, LT_IPV4, LT_IPV6, LT_NULL, LT_LOOP,
				   LT_LINUX_SLL, LT_LINUX_SLL2, 274 };
	uint8_t buf[256];
	uint32_t x = 12345;
	struct packet p;
	struct decoded o;
	int ok = 1;

	for (int it = 0; it < 200000; it++) {
		uint32_t n = 0;
		x = x * 1103515245u + 12345u;
		n = (x >> 16) % sizeof buf;
		for (uint32_t i = 0; i < n; i++) {
			x = x * 1103515245u + 12345u;
			buf[i] = (uint8_t)(x >> 16);
		}
		/* bias towards plausible headers */
		if (n > 20 && (it & 1)) {
			buf[12] = 0x08;
			buf[13] = 0x00;
			buf[14] = 0x45;
		}
		p.frame = (uint64_t)it;
		p.ts_ns = (uint64_t)it;
		p.linktype = lts[(size_t)it % (sizeof lts / sizeof lts[0])];
		p.caplen = n;
		p.wirelen = n + (it & 2 ? 10 : 0);
		p.data = buf;
		if (decode_packet(d, &p, &o) == DEC_OK) {
			if (o.paylen > o.wire_paylen && !o.reassembled)
				ok = 0;
			if (!o.reassembled && o.paylen &&
			    (o.payload < buf || o.payload + o.paylen > buf + n))
				ok = 0;
		}
	}
	CHECK(ok);
	decoder_reset(d);
}

/* decode_addr_str writes what inet_ntop writes: zero runs of every length
 * and place, ties between runs, the IPv4-compatible and mapped forms, and
 * pseudo-random addresses made mostly of zero groups. */
static void test_addr_text(void)
{
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int bad = 0;
	for (int i = 0; i < 300000; i++) {
		uint8_t a[16];
		char mine[64], want[64];
		if (i < 256) {
			/* every pattern of zero and non-zero groups */
			for (int g = 0; g < 8; g++) {
				a[2 * g] = 0;
				a[2 * g + 1] = (uint8_t)((i >> g) & 1 ? g + 1 : 0);
			}
		} else {
			for (int g = 0; g < 8; g++) {
				x ^= x << 13;
				x ^= x >> 7;
				x ^= x << 17;
				unsigned v = (x & 3) ? 0 : (unsigned)(x >> 20) & (x & 4 ? 0xffff : 0xff);
				a[2 * g] = (uint8_t)(v >> 8);
				a[2 * g + 1] = (uint8_t)v;
			}
			if (i % 7 == 0) { /* ::ffff:a.b.c.d and ::a.b.c.d */
				memset(a, 0, 10);
				a[10] = a[11] = (i % 14) ? 0xff : 0;
			}
		}
		char put[DECODE_ADDR_MAX];
		decode_addr_str(6, a, mine, sizeof(mine));
		inet_ntop(AF_INET6, a, want, sizeof(want));
		if (strcmp(mine, want) != 0 && bad++ < 5)
			fprintf(stderr, "v6 text: %s, inet_ntop: %s\n", mine, want);
		/* decode_addr_put: the same text, its end returned */
		if (decode_addr_put(6, a, put) != put + strlen(want) || strcmp(put, want) != 0)
			bad++;
		decode_addr_str(4, a + 12, mine, sizeof(mine));
		inet_ntop(AF_INET, a + 12, want, sizeof(want));
		if (strcmp(mine, want) != 0 && bad++ < 5)
			fprintf(stderr, "v4 text: %s, inet_ntop: %s\n", mine, want);
		if (decode_addr_put(4, a + 12, put) != put + strlen(want) || strcmp(put, want) != 0)
			bad++;
	}
	CHECK(bad == 0);

	/* a buffer too small: cut as pi_strlcpy cuts, nothing written past the
	 * terminator */
	bad = 0;
	for (int i = 0; i < 2000; i++) {
		uint8_t a[16];
		char want[64], full[64], mine[64];
		int v6 = i & 1;
		for (int k = 0; k < 16; k++) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			a[k] = (uint8_t)((x & 1) ? 0 : x >> 24);
		}
		inet_ntop(v6 ? AF_INET6 : AF_INET, a, full, sizeof(full));
		for (size_t len = 1; len < 48; len++) {
			memset(mine, 0x7f, sizeof(mine));
			decode_addr_str(v6 ? 6 : 4, a, mine, len);
			pi_strlcpy(want, full, len);
			if (strcmp(mine, want) != 0)
				bad++;
			for (size_t k = strlen(mine) + 1; k < sizeof(mine); k++)
				if (mine[k] != 0x7f)
					bad++;
		}
	}
	CHECK_EQ_INT(bad, 0);
}

int main(void)
{
	struct pi_caps caps;
	struct decoder *d;

	test_pcap_variants();
	test_pcap_clamps();
	test_pcap_cut_and_limits();
	test_not_captures();
	test_pcapng();
	test_pcapng_snaplen_spb();
	test_pcapng_errors();
	test_pcapng_huge_block();
	test_gzip_many();
	test_reader_paths();
	test_cut_while_mapped();
	test_addr_text();

	memset(&caps, 0, sizeof caps);
	d = decoder_new(&caps);
	CHECK(d != NULL);
	if (d) {
		test_eth_vlan_qinq_tcp(d);
		test_ipv6_ext(d);
		test_cooked_and_null(d);
		test_pppoe_and_mpacket(d);
		test_tunnels(d);
		test_frag4(d, &caps);
		test_frag6(d);
		test_fuzz(d);
		test_fast_path();
		decoder_free(d);
	}
	UNIT_DONE();
}
