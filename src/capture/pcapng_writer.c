/* pcapng_writer.c: pcapng files out (draft-ietf-opsawg-pcapng sections
 * 4.1 SHB, 4.2 IDB, 4.3 EPB; options 3.5), rotation by size. */
#include "capture/pcapng_writer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "common/util.h"

#define BT_SHB 0x0A0D0D0Au
#define BT_IDB 0x00000001u
#define BT_EPB 0x00000006u
#define BOM 0x1A2B3C4Du

#define OPT_ENDOFOPT 0
#define OPT_COMMENT 1
#define OPT_SHB_USERAPPL 4
#define OPT_IF_NAME 2
#define OPT_IF_TSRESOL 9

#define MAX_BLOCK (64u << 20) /* refuse packets that would make larger blocks */

struct pcapng_writer {
	FILE *f;
	int own;                  /* we opened f (and may rotate) */
	char path[4096];          /* the base name given */
	char cur[4200];           /* the file being written */
	struct pcapng_wopts o;
	char app[128], if_name[128];
	int linktypes[PCAPNG_MAX_IFACES];
	int nlinktypes;
	uint64_t file_bytes, file_packets;
	uint64_t packets, bytes;
	unsigned files;           /* files begun */
	int failed;
	char err[512];
	uint8_t *buf;
	size_t bufcap, len;       /* the block under construction */
};

static size_t pad4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

static int buf_reserve(struct pcapng_writer *w, size_t need)
{
	if (need > MAX_BLOCK)
		return -1;
	if (w->len + need <= w->bufcap)
		return 0;
	size_t nc = w->bufcap ? w->bufcap : 4096;
	while (nc < w->len + need)
		nc *= 2;
	uint8_t *nb = realloc(w->buf, nc);
	if (!nb)
		return -1;
	w->buf = nb;
	w->bufcap = nc;
	return 0;
}

/* Appenders: the caller reserved room first. */
static void put_u16(struct pcapng_writer *w, uint16_t v)
{
	memcpy(w->buf + w->len, &v, 2);
	w->len += 2;
}

static void put_u32(struct pcapng_writer *w, uint32_t v)
{
	memcpy(w->buf + w->len, &v, 4);
	w->len += 4;
}

static void put_bytes(struct pcapng_writer *w, const void *p, size_t n)
{
	if (n)
		memcpy(w->buf + w->len, p, n);
	w->len += n;
	while (w->len & 3u)
		w->buf[w->len++] = 0;
}

/* An option: code, length, value padded to 32 bits. */
static void put_opt(struct pcapng_writer *w, uint16_t code, const void *v, size_t n)
{
	put_u16(w, code);
	put_u16(w, (uint16_t)n);
	put_bytes(w, v, n);
}

static size_t opt_size(size_t n)
{
	return 4 + pad4(n);
}

static void fail(struct pcapng_writer *w, const char *what, int err)
{
	if (w->failed)
		return;
	w->failed = 1;
	snprintf(w->err, sizeof(w->err), "%.300s: %s%s%s", w->cur, what, err ? ": " : "", err ? strerror(err) : "");
}

/* Write the block in buf (its total length is patched in here). */
static int emit(struct pcapng_writer *w)
{
	uint32_t total = (uint32_t)(w->len + 4);
	memcpy(w->buf + 4, &total, 4);
	put_u32(w, total);
	errno = 0;
	if (fwrite(w->buf, 1, w->len, w->f) != w->len) {
		fail(w, "write error", errno ? errno : EIO);
		w->len = 0;
		return -1;
	}
	w->file_bytes += w->len;
	w->bytes += w->len;
	w->len = 0;
	return 0;
}

static int begin_block(struct pcapng_writer *w, uint32_t type, size_t body)
{
	w->len = 0;
	if (buf_reserve(w, 12 + body) < 0) {
		fail(w, "block too large or out of memory", 0);
		return -1;
	}
	put_u32(w, type);
	put_u32(w, 0); /* total length, patched by emit() */
	return 0;
}

static int write_shb(struct pcapng_writer *w)
{
	size_t alen = strlen(w->app);
	size_t body = 16 + (alen ? opt_size(alen) : 0) + 4;
	if (begin_block(w, BT_SHB, body) < 0)
		return -1;
	put_u32(w, BOM);
	put_u16(w, 1); /* major */
	put_u16(w, 0); /* minor */
	put_u32(w, 0xffffffffu); /* section length: not given */
	put_u32(w, 0xffffffffu);
	if (alen)
		put_opt(w, OPT_SHB_USERAPPL, w->app, alen);
	put_u32(w, OPT_ENDOFOPT); /* code 0, length 0 */
	return emit(w);
}

static int write_idb(struct pcapng_writer *w, int linktype)
{
	size_t nlen = strlen(w->if_name);
	uint8_t res = 9; /* 10^-9 */
	size_t body = 8 + (nlen ? opt_size(nlen) : 0) + (w->o.nanoseconds ? opt_size(1) : 0) + 4;
	if (begin_block(w, BT_IDB, body) < 0)
		return -1;
	put_u16(w, (uint16_t)linktype);
	put_u16(w, 0);
	put_u32(w, w->o.snaplen);
	if (nlen)
		put_opt(w, OPT_IF_NAME, w->if_name, nlen);
	if (w->o.nanoseconds)
		put_opt(w, OPT_IF_TSRESOL, &res, 1);
	put_u32(w, OPT_ENDOFOPT);
	return emit(w);
}

void pcapng_rotated_name(const char *path, unsigned n, char *out, size_t outlen)
{
	static const char *const sfx[] = { ".pcapng", ".pcap" };
	size_t plen = strlen(path);
	if (n == 0) {
		snprintf(out, outlen, "%s", path);
		return;
	}
	for (size_t i = 0; i < sizeof(sfx) / sizeof(sfx[0]); i++) {
		size_t sl = strlen(sfx[i]);
		if (plen > sl && strcmp(path + plen - sl, sfx[i]) == 0) {
			snprintf(out, outlen, "%.*s.%u%s", (int)(plen - sl), path, n, sfx[i]);
			return;
		}
	}
	snprintf(out, outlen, "%s.%u", path, n);
}

/* Open file number n of the rotation and write its section header. */
static int open_file(struct pcapng_writer *w, unsigned n)
{
	pcapng_rotated_name(w->path, n, w->cur, sizeof(w->cur));
	w->f = fopen(w->cur, "wb");
	if (!w->f) {
		fail(w, "cannot create", errno);
		return -1;
	}
	setvbuf(w->f, NULL, _IOFBF, 256u * 1024u);
	w->files++;
	w->file_bytes = w->file_packets = 0;
	w->nlinktypes = 0;
	return write_shb(w);
}

static struct pcapng_writer *writer_new(const struct pcapng_wopts *opts)
{
	struct pcapng_writer *w = calloc(1, sizeof(*w));
	if (!w)
		return NULL;
	if (opts)
		w->o = *opts;
	pi_strlcpy(w->app, w->o.app ? w->o.app : "pinspect", sizeof(w->app));
	pi_strlcpy(w->if_name, w->o.if_name ? w->o.if_name : "", sizeof(w->if_name));
	w->o.app = w->o.if_name = NULL;
	return w;
}

struct pcapng_writer *pcapng_open(const char *path, const struct pcapng_wopts *opts, char *err, size_t errlen)
{
	struct pcapng_writer *w = writer_new(opts);
	if (!w) {
		snprintf(err, errlen, "%s: out of memory", path);
		return NULL;
	}
	w->own = 1;
	pi_strlcpy(w->path, path, sizeof(w->path));
	if (open_file(w, 0) < 0) {
		pcapng_close(w, err, errlen);
		return NULL;
	}
	return w;
}

struct pcapng_writer *pcapng_open_stream(FILE *f, const char *label, const struct pcapng_wopts *opts,
                                         char *err, size_t errlen)
{
	struct pcapng_writer *w = writer_new(opts);
	if (!w) {
		snprintf(err, errlen, "%s: out of memory", label);
		return NULL;
	}
	w->o.rotate_bytes = 0;
	w->f = f;
	w->files = 1;
	pi_strlcpy(w->path, label, sizeof(w->path));
	pi_strlcpy(w->cur, label, sizeof(w->cur));
	if (write_shb(w) < 0) {
		pcapng_close(w, err, errlen);
		return NULL;
	}
	return w;
}

static int rotate(struct pcapng_writer *w)
{
	unsigned next = w->files;
	if (w->o.max_files)
		next %= w->o.max_files;
	if (fclose(w->f) != 0) {
		w->f = NULL;
		fail(w, "write error on close", errno);
		return -1;
	}
	w->f = NULL;
	return open_file(w, next);
}

static int iface_id(struct pcapng_writer *w, int linktype)
{
	for (int i = 0; i < w->nlinktypes; i++)
		if (w->linktypes[i] == linktype)
			return i;
	if (w->nlinktypes >= PCAPNG_MAX_IFACES) {
		fail(w, "too many link types in one file", 0);
		return -1;
	}
	if (write_idb(w, linktype) < 0)
		return -1;
	w->linktypes[w->nlinktypes] = linktype;
	return w->nlinktypes++;
}

int pcapng_write(struct pcapng_writer *w, const struct packet *pkt, const char *comment)
{
	size_t clen = comment ? strlen(comment) : 0;
	if (clen > PCAPNG_MAX_COMMENT)
		clen = PCAPNG_MAX_COMMENT;
	if (!w || w->failed || !w->f)
		return -1;
	size_t body = 20 + pad4(pkt->caplen) + (clen ? opt_size(clen) + 4 : 0);
	if (w->own && w->o.rotate_bytes && w->file_packets &&
	    w->file_bytes + 12 + body > w->o.rotate_bytes && rotate(w) < 0)
		return -1;
	int id = iface_id(w, pkt->linktype);
	if (id < 0)
		return -1;
	uint64_t ts = w->o.nanoseconds ? pkt->ts_ns : pkt->ts_ns / 1000u;
	if (begin_block(w, BT_EPB, body) < 0)
		return -1;
	put_u32(w, (uint32_t)id);
	put_u32(w, (uint32_t)(ts >> 32));
	put_u32(w, (uint32_t)ts);
	put_u32(w, pkt->caplen);
	put_u32(w, pkt->wirelen < pkt->caplen ? pkt->caplen : pkt->wirelen);
	put_bytes(w, pkt->data, pkt->caplen);
	if (clen) {
		put_opt(w, OPT_COMMENT, comment, clen);
		put_u32(w, OPT_ENDOFOPT);
	}
	if (emit(w) < 0)
		return -1;
	w->file_packets++;
	w->packets++;
	return 0;
}

int pcapng_flush(struct pcapng_writer *w)
{
	if (!w || w->failed || !w->f)
		return -1;
	errno = 0;
	if (fflush(w->f) != 0) {
		fail(w, "write error", errno ? errno : EIO);
		return -1;
	}
	return 0;
}

int pcapng_close(struct pcapng_writer *w, char *err, size_t errlen)
{
	int rc;
	if (err && errlen)
		err[0] = '\0';
	if (!w)
		return 0;
	if (w->f) {
		errno = 0;
		if (fflush(w->f) != 0 || ferror(w->f))
			fail(w, "write error", errno ? errno : EIO);
		if (w->own && fclose(w->f) != 0)
			fail(w, "write error on close", errno);
	}
	rc = w->failed ? -1 : 0;
	if (rc && err && errlen)
		snprintf(err, errlen, "%s", w->err);
	free(w->buf);
	free(w);
	return rc;
}

const char *pcapng_error(const struct pcapng_writer *w)
{
	return w ? w->err : "";
}

const char *pcapng_path(const struct pcapng_writer *w)
{
	return w->cur;
}

unsigned pcapng_files(const struct pcapng_writer *w)
{
	return w->files;
}

uint64_t pcapng_packets(const struct pcapng_writer *w)
{
	return w->packets;
}

uint64_t pcapng_bytes(const struct pcapng_writer *w)
{
	return w->bytes;
}
