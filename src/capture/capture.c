/* capture.c: pcap and pcapng reader, plain or gzip-compressed.
 * Specs: draft-ietf-opsawg-pcap (pcap), draft-ietf-opsawg-pcapng (pcapng),
 * RFC 1952 (gzip, through zlib).
 *
 * Files are read through zlib's gzread (which passes uncompressed input
 * through unchanged, so one path serves both); a stream opened with
 * cap_open_stream() is read through its caller's read function instead (one
 * indirect call per buffer refill, none per packet). Either way the bytes go
 * into one buffer of 256 KiB of
 * look-ahead plus room for the largest record; records are parsed in place
 * with struct cur, and a packet's data is handed out as a pointer into that
 * buffer. The common records (a pcap record, a pcapng EPB) whole in the
 * buffer and sound are read by a fast path: one bounds check of the whole
 * record, then direct loads; anything else (a refill, the end, damage) goes
 * to the general path, which reads the record from its start. Nothing is allocated per packet. Only a packet block larger than
 * the buffer (huge options) has its data copied out, into a buffer of
 * PI_MAX_PACKET allocated the first time.
 *
 * Damage: a record over PI_MAX_PACKET, an absurd or inconsistent block
 * length, or input ending inside a record stops reading with CAP_ERROR
 * "FILE: offset N: what" (N = where the record starts); what came before
 * stands. Oddities that can be read past are counted as warnings (printed
 * once per kind): caplen > wirelen (wirelen is raised to caplen), caplen >
 * snaplen (the bytes are kept: they were captured), unknown block types.
 * Simple Packet Blocks carry no timestamp: ts_ns is 0 for them.
 *
 * pcap file header (24 bytes, byte order given by the magic):
 *   magic(4) version_major(2) version_minor(2) thiszone(4) sigfigs(4)
 *   snaplen(4) linktype(4: low 26 bits; the top bits carry FCS information)
 * pcap record header (16 bytes), then incl_len bytes of packet data:
 *   ts_sec(4) ts_usec_or_nsec(4) incl_len(4) orig_len(4)
 *
 * pcapng block (every block, all lengths in the section's byte order):
 *   block_type(4) block_total_length(4) body... block_total_length(4)
 * Section Header Block, type 0x0A0D0D0A (palindromic):
 *   byte_order_magic(4)=0x1A2B3C4D major(2) minor(2) section_length(8) options
 * Interface Description Block, type 1:
 *   linktype(2) reserved(2) snaplen(4) options (if_tsresol 9, if_tsoffset 14)
 * Enhanced Packet Block, type 6:
 *   interface_id(4) ts_high(4) ts_low(4) caplen(4) origlen(4) data pad options
 * Simple Packet Block, type 3 (interface 0):
 *   origlen(4) data pad
 * Packet Block (obsolete), type 2:
 *   interface_id(2) drops_count(2) ts_high(4) ts_low(4) caplen(4) origlen(4)
 *   data pad options
 * Options: code(2) length(2) value, padded to 4; code 0 ends the list.
 *
 * Frame numbers follow Wireshark's: every packet block counts, and so do
 * systemd journal export blocks and custom blocks, which Wireshark shows as
 * frames (they are skipped here, but use up their number).
 */
#ifndef _GNU_SOURCE
#define _DEFAULT_SOURCE /* open O_CLOEXEC, dup, fstat; madvise, MAP_ANONYMOUS */
#endif
#include "capture/capture.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <zlib.h>

#include "common/cur.h"
#include "common/limits.h"
#include "common/util.h"

/* The read buffer holds RB_CHUNK bytes of look-ahead plus room for the
 * largest packet record, so a packet never needs copying unless its block
 * carries huge options. */
#define RB_CHUNK      (256u * 1024u)
#define RB_CAP        (RB_CHUNK + PI_MAX_PACKET + 4096u)
#define BLOCK_MAX     (16u * 1024u * 1024u) /* larger pcapng blocks are absurd */
#define MAX_IFACES    65536u                /* per section */

#define PCAP_HDR_LEN  24u
#define PCAP_REC_LEN  16u
#define PCAP_AHEAD    2048u /* pcap_next reads this far ahead (a few packets) */

#define BT_SHB        0x0A0D0D0Au
#define BT_IDB        1u
#define BT_PB         2u
#define BT_SPB        3u
#define BT_NRB        4u
#define BT_ISB        5u
#define BT_EPB        6u
#define BT_IRIG       7u
#define BT_AFDX       8u
#define BT_JOURNAL    9u
#define BT_DSB        0x0Au
#define BT_CUSTOM     0x00000BADu
#define BT_CUSTOM_NC  0x40000BADu
#define BOM           0x1A2B3C4Du

enum rd_state { ST_OK = 0, ST_EOF = 1, ST_ERROR = 2 };

/* Timestamp units of an interface, turned into a conversion to ns. */
struct iface {
	int linktype;
	uint32_t snaplen;    /* 0: no limit */
	uint8_t pow2;        /* resolution is 2^-exp (else 10^-exp) */
	uint8_t exp;
	uint64_t mul, div;   /* power of ten: ns = units * mul / div (div 0: 0) */
	int64_t offset_s;    /* if_tsoffset, seconds */
};

/* Read-ahead: once the header is read, a file is read (and decompressed)
 * by a thread of its own into chunks; the parser takes them in turn. Each
 * chunk has RB_CAP bytes of head room before its data, where the unread
 * tail of the previous chunk (less than a record) is put, so a packet is
 * never copied otherwise. */
#define PF_DATA   (1024u * 1024u)
#define PF_CHUNKS 3u

struct pf_chunk {
	uint8_t *mem;        /* RB_CAP head room + PF_DATA */
	long got;            /* bytes of data; 0 at the end, <0 on error */
	uint64_t raw_off;    /* compressed bytes read so far (gzip) */
};

struct prefetch {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t filled, freed;
	struct pf_chunk c[PF_CHUNKS];
	unsigned head;        /* the first of the parser's chunks, else the first ready */
	unsigned count;       /* ready chunks, after the parser's */
	unsigned in_use;      /* chunks held by the parser (0 to 2: 2 while it moves on) */
	int stop, done;       /* asked to stop; the thread has sent the end */
	char errmsg[128];     /* zlib's message at an error */
	gzFile gz;
	int gzipped;
};

struct cap_reader {
	char *name;          /* for messages */
	gzFile gz;           /* file input; NULL for a stream */
	long (*read_fn)(void *ctx, void *buf, size_t len); /* stream input */
	void *read_ctx;
	int gzipped;
	uint64_t file_size;

	/* buffered reader: buf[pos..len) unread, buf[0] is stream offset base */
	uint8_t *buf;
	size_t pos, len;
	uint64_t base;
	int src_eof;
	int src_err;         /* gzread failed: read error or damaged gzip */

	uint8_t *copy;       /* packet copy, only for blocks bigger than buf */
	struct prefetch *pf; /* read-ahead thread (files), NULL otherwise */
	struct mapped *mp;   /* or the file mapped, paged in by a thread (plain files) */
	const _Atomic int *gone; /* mp: set when mapped pages vanished (SIGBUS); else a 0 */
	uint8_t *own_buf;    /* the buffer reader_new made (buf moves to chunks) */
	uint64_t raw_off;    /* with pf: compressed bytes read (progress) */

	enum cap_format fmt;
	enum rd_state state;
	uint64_t frame;
	uint64_t warnings;
	unsigned warned;     /* bitmask of warnings already printed */
	char err[512];

	/* pcap */
	int be;              /* big-endian file / section */
	int nano;
	uint32_t frac_mul;   /* ns per unit of ts_usec_or_nsec: 1 or 1000 */
	uint32_t snap_max;   /* pcap_if.snaplen, or UINT32_MAX for 0 (no limit) */
	int pcap_go;         /* fmt is CAP_PCAP and state ST_OK: cap_next's one test */
	struct iface pcap_if;

	/* pcapng, current section */
	struct iface *ifs;
	uint32_t nifs, ifcap;
};

enum { W_SNAPLEN = 1, W_WIRELEN = 2, W_BLOCK = 4, W_OPTION = 8 };

/* ---- buffered reader ------------------------------------------------ */

static uint64_t rb_off(const struct cap_reader *r);
static int pf_need(struct cap_reader *r, size_t n);
static int mp_need(struct cap_reader *r, size_t n);

static inline uint64_t rb_off(const struct cap_reader *r)
{
	return r->base + r->pos;
}

static inline size_t rb_avail(const struct cap_reader *r)
{
	return r->len - r->pos;
}

/* Make n (<= RB_CAP) bytes available at buf+pos. Returns 1 when they are,
 * 0 when the input ends (or fails: src_err) first. */
static int rb_need(struct cap_reader *r, size_t n)
{
	if (r->len - r->pos >= n)
		return 1;
	if (n > RB_CAP)
		return 0;
	if (r->mp)
		return mp_need(r, n);
	if (r->pf)
		return pf_need(r, n);
	if (r->pos) { /* keep the unread tail (less than a record) at the front */
		size_t left = r->len - r->pos;
		memmove(r->buf, r->buf + r->pos, left);
		r->base += r->pos;
		r->pos = 0;
		r->len = left;
	}
	while (r->len - r->pos < n && !r->src_eof) {
		long got;
		if (!r->gz) { /* a caller's stream: <0 error, 0 end */
			got = r->read_fn(r->read_ctx, r->buf + r->len, RB_CAP - r->len);
			if (got > (long)(RB_CAP - r->len))
				got = -1; /* a read function that overran its buffer */
			if (got <= 0) {
				r->src_err = got < 0;
				r->src_eof = 1;
			} else {
				r->len += (size_t)got;
			}
			continue;
		}
		got = gzread(r->gz, r->buf + r->len, (unsigned)(RB_CAP - r->len));
		if (got < 0) {
			r->src_err = 1;
			r->src_eof = 1;
		} else if (got == 0) {
			int zerr = Z_OK;
			(void)gzerror(r->gz, &zerr);
			if (zerr != Z_OK)
				r->src_err = 1; /* Z_BUF_ERROR: compressed stream cut */
			r->src_eof = 1;
		} else {
			r->len += (size_t)got;
		}
	}
	return r->len - r->pos >= n;
}

/* ---- read-ahead thread ------------------------------------------------ */

static void *pf_main(void *arg)
{
	struct prefetch *pf = arg;
	pthread_mutex_lock(&pf->mu);
	for (;;) {
		struct pf_chunk *c;
		long got;
		while (!pf->stop && pf->count + pf->in_use >= PF_CHUNKS)
			pthread_cond_wait(&pf->freed, &pf->mu);
		if (pf->stop)
			break;
		/* ring order: the parser's chunk, the ready ones, the free ones */
		c = &pf->c[(pf->head + pf->in_use + pf->count) % PF_CHUNKS];
		pthread_mutex_unlock(&pf->mu);
		got = gzread(pf->gz, c->mem + RB_CAP, PF_DATA);
		if (got == 0) {
			int zerr = Z_OK;
			const char *m = gzerror(pf->gz, &zerr);
			if (zerr != Z_OK) { /* Z_BUF_ERROR: compressed stream cut */
				got = -1;
				pi_strlcpy(pf->errmsg, m && *m ? m : "read error", sizeof(pf->errmsg));
			}
		} else if (got < 0) {
			const char *m = gzerror(pf->gz, NULL);
			pi_strlcpy(pf->errmsg, m && *m ? m : "read error", sizeof(pf->errmsg));
		}
		if (pf->gzipped) {
			z_off_t o = gzoffset(pf->gz);
			c->raw_off = o < 0 ? 0 : (uint64_t)o;
		}
		c->got = got;
		pthread_mutex_lock(&pf->mu);
		pf->count++;
		pthread_cond_signal(&pf->filled);
		if (got <= 0) {
			pf->done = 1;
			break;
		}
	}
	pthread_mutex_unlock(&pf->mu);
	return NULL;
}

static void pf_free(struct prefetch *pf)
{
	if (!pf)
		return;
	for (unsigned i = 0; i < PF_CHUNKS; i++)
		free(pf->c[i].mem);
	pthread_mutex_destroy(&pf->mu);
	pthread_cond_destroy(&pf->filled);
	pthread_cond_destroy(&pf->freed);
	free(pf);
}

/* Start reading r->gz ahead; r->gz belongs to the thread from now on.
 * Without memory or a thread, r reads on its own as before. */
static void pf_start(struct cap_reader *r)
{
	struct prefetch *pf = calloc(1, sizeof(*pf));
	if (!pf)
		return;
	pthread_mutex_init(&pf->mu, NULL);
	pthread_cond_init(&pf->filled, NULL);
	pthread_cond_init(&pf->freed, NULL);
	for (unsigned i = 0; i < PF_CHUNKS; i++) {
		if (!(pf->c[i].mem = malloc(RB_CAP + PF_DATA))) {
			pf_free(pf);
			return;
		}
	}
	pf->gz = r->gz;
	pf->gzipped = r->gzipped;
	if (pthread_create(&pf->th, NULL, pf_main, pf) != 0) {
		pf_free(pf);
		return;
	}
	r->pf = pf;
}

static void pf_stop(struct cap_reader *r)
{
	struct prefetch *pf = r->pf;
	if (!pf)
		return;
	pthread_mutex_lock(&pf->mu);
	pf->stop = 1;
	pthread_cond_signal(&pf->freed);
	pthread_mutex_unlock(&pf->mu);
	pthread_join(pf->th, NULL);
	if (r->buf != r->own_buf)
		r->buf = r->own_buf; /* chunks go with pf */
	r->pf = NULL;
	pf_free(pf);
}

/* rb_need with read-ahead: move to the next chunk, the unread tail of this
 * one before its data. */
static int pf_need(struct cap_reader *r, size_t n)
{
	struct prefetch *pf = r->pf;
	while (r->len - r->pos < n && !r->src_eof) {
		struct pf_chunk *c;
		size_t left = r->len - r->pos;
		uint64_t off = rb_off(r);
		pthread_mutex_lock(&pf->mu);
		while (pf->count == 0)
			pthread_cond_wait(&pf->filled, &pf->mu);
		c = &pf->c[(pf->head + pf->in_use) % PF_CHUNKS];
		pf->count--;
		pf->in_use++;
		pthread_mutex_unlock(&pf->mu);
		memcpy(c->mem + RB_CAP - left, r->buf + r->pos, left);
		if (r->buf != r->own_buf) {
			/* the chunk left behind goes back, now that its tail is copied */
			pthread_mutex_lock(&pf->mu);
			pf->head = (pf->head + 1) % PF_CHUNKS;
			pf->in_use--;
			pthread_cond_signal(&pf->freed);
			pthread_mutex_unlock(&pf->mu);
		}
		r->buf = c->mem;
		r->pos = RB_CAP - left;
		r->len = RB_CAP + (c->got > 0 ? (size_t)c->got : 0);
		r->base = off - r->pos; /* wraps below 0 at the start: only base + pos counts */
		r->raw_off = c->raw_off;
		if (c->got <= 0) {
			r->src_eof = 1;
			r->src_err = c->got < 0;
		}
	}
	return r->len - r->pos >= n;
}

/* ---- mapped file ------------------------------------------------------- */

/* A plain (not gzip) regular file is mapped instead of read: read() copies
 * every byte out of the page cache (a tenth of all CPU time on a 1 GB
 * capture), a mapping shows the page cache itself. A thread of its own maps
 * the pages in ahead of the parser (MADV_POPULATE_READ, so the parser takes
 * no page faults) and gives them back behind it (MADV_DONTNEED: the memory
 * in use stays a few MB whatever the file size). The parser never waits for
 * it: where it gets first it takes the page faults itself (waiting had cost
 * it up to 75 ms of a 0.5 s run, each wait a sleep and a wake-up on a busy
 * two-core machine). The file is read up to its size when opened. A file
 * cut short while mapped: paging in fails (the parser sees a read error),
 * or a page vanishes and the parser's read of it raises SIGBUS; the handler
 * maps a page of zeros there and flags it, and cap_next ends the input with
 * an error. */
#define MP_WINDOW (1024u * 1024u)   /* paged in per step */
#define MP_AHEAD  (3u * MP_WINDOW)  /* paged in ahead of the parser, at most */
#define MP_WAKE   (1u * MP_WINDOW)  /* the parser wakes the thread when less is */
#define MP_BEHIND (1u * MP_WINDOW)  /* kept behind it (the current packet) */
#define MP_LAG    (8u * MP_WINDOW)  /* mapped behind it, at most: the parser gives back */
#define MP_GUARDS 8                 /* mappings open at once with a guard */

#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22       /* Linux 5.14; older kernels say EINVAL */
#endif

struct mapped {
	pthread_t th;
	pthread_mutex_t mu;
	pthread_cond_t filled, freed;
	const uint8_t *base;
	size_t map_size;     /* the file's size when opened */
	size_t size;         /* what can be read: less if the file was cut (mu) */
	int fd;              /* the reader's (gz owns it) */
	int cut;             /* the file was found shorter: its end is an error */
	size_t ready;        /* [0, ready) is paged in (mu) */
	size_t want;         /* the parser's offset at its last call (mu) */
	_Atomic size_t released; /* [0, released) given back (mp_release) */
	int stop, failed;    /* (mu) */
	int guard;           /* slot in mp_guards */
};

/* SIGBUS guard: the address ranges of the mappings, for the handler. */
static struct {
	_Atomic uintptr_t lo, hi;
	_Atomic int gone;    /* a page vanished: zeros were put there */
	_Atomic int used;
} mp_guards[MP_GUARDS];
static const _Atomic int mp_not_gone;
static struct sigaction mp_old_bus;
static _Atomic int mp_handler_state; /* 0 none, 1 installing, 2 installed */
static uintptr_t mp_page;

static void mp_on_sigbus(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (si && si->si_code > 0) { /* a fault, not a signal sent */
		uintptr_t a = (uintptr_t)si->si_addr;
		for (int i = 0; i < MP_GUARDS; i++) {
			if (a < atomic_load(&mp_guards[i].lo) || a >= atomic_load(&mp_guards[i].hi))
				continue;
			/* the page is gone from the file: zeros in its place, so the
			 * read that faulted completes; the reader ends at its next look */
			if (mmap((void *)(a & ~(mp_page - 1)), mp_page, PROT_READ,
			         MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != MAP_FAILED) {
				atomic_store(&mp_guards[i].gone, 1);
				return;
			}
		}
	}
	/* not ours: as if this handler had never been there */
	sigaction(sig, &mp_old_bus, NULL);
	if (!si || si->si_code <= 0)
		raise(sig);
	/* a fault: returning re-runs the access, which faults again */
}

/* Install the handler once; 0, or -1 (then files are read, not mapped). */
static int mp_guard_install(void)
{
	int st = 0;
	if (atomic_compare_exchange_strong(&mp_handler_state, &st, 1)) {
		struct sigaction sa;
		long pg = sysconf(_SC_PAGESIZE);
		memset(&sa, 0, sizeof sa);
		sa.sa_sigaction = mp_on_sigbus;
		sa.sa_flags = SA_SIGINFO | SA_NODEFER;
		sigemptyset(&sa.sa_mask);
		mp_page = pg > 0 ? (uintptr_t)pg : 4096u;
		if (sigaction(SIGBUS, &sa, &mp_old_bus) != 0) {
			atomic_store(&mp_handler_state, 0);
			return -1;
		}
		atomic_store(&mp_handler_state, 2);
	}
	return atomic_load(&mp_handler_state) == 2 ? 0 : -1;
}

/* Give back [released, keep) (page aligned: keep is a multiple of the
 * window). The thread does it as it goes; the parser too, should it find
 * the thread far behind (not run for a while on a busy machine): the
 * memory in use stays bounded whoever gets there. Giving a range back
 * twice is harmless. */
static void mp_release(struct mapped *mp, size_t keep)
{
	size_t from = atomic_load(&mp->released);
	while (keep > from) {
		if (atomic_compare_exchange_weak(&mp->released, &from, keep)) {
			(void)madvise((void *)(uintptr_t)(mp->base + from), keep - from, MADV_DONTNEED);
			return;
		}
	}
}

static void *mp_main(void *arg)
{
	struct mapped *mp = arg;
	int tries = 0;
	pthread_mutex_lock(&mp->mu);
	while (!mp->stop && mp->ready < mp->size) {
		size_t from = mp->ready, n, keep;
		int bad;
		if (from < mp->want) /* the parser went on without it */
			from = mp->want;
		if (from >= mp->want + MP_AHEAD) {
			pthread_cond_wait(&mp->freed, &mp->mu);
			continue;
		}
		n = mp->size - from < MP_WINDOW ? mp->size - from : MP_WINDOW;
		keep = mp->want > MP_BEHIND ? (mp->want - MP_BEHIND) & ~(size_t)(MP_WINDOW - 1) : 0;
		pthread_mutex_unlock(&mp->mu);
		/* from is a multiple of the window (after the first): page aligned */
		bad = madvise((void *)(uintptr_t)(mp->base + (from & ~(mp_page - 1))),
		              n + (from & (mp_page - 1)), MADV_POPULATE_READ) != 0;
		mp_release(mp, keep);
		pthread_mutex_lock(&mp->mu);
		if (bad) {
			/* the file is shorter than when opened: read what is left of
			 * it (a few tries, it may be cut again meanwhile), then end
			 * with an error */
			struct stat st;
			if (tries++ < 3 && fstat(mp->fd, &st) == 0 && st.st_size >= 0 &&
			    (uint64_t)st.st_size < mp->size && (uint64_t)st.st_size >= from) {
				mp->size = (size_t)st.st_size;
				mp->cut = 1;
				continue;
			}
			mp->failed = 1;
			break;
		}
		mp->ready = from + n;
		pthread_cond_signal(&mp->filled);
	}
	if (mp->cut)
		mp->failed = 1;
	mp->stop = 1;
	pthread_cond_signal(&mp->filled);
	pthread_mutex_unlock(&mp->mu);
	return NULL;
}

static void mp_free(struct mapped *mp)
{
	if (!mp)
		return;
	if (mp->guard >= 0) {
		atomic_store(&mp_guards[mp->guard].lo, 0);
		atomic_store(&mp_guards[mp->guard].hi, 0);
	}
	if (mp->base)
		munmap((void *)(uintptr_t)mp->base, mp->map_size);
	if (mp->guard >= 0) {
		atomic_store(&mp_guards[mp->guard].gone, 0);
		atomic_store(&mp_guards[mp->guard].used, 0);
	}
	pthread_mutex_destroy(&mp->mu);
	pthread_cond_destroy(&mp->filled);
	pthread_cond_destroy(&mp->freed);
	free(mp);
}

/* Map r's file (fd) and go on from where the header left off. fd_start:
 * where the descriptor was when the reader got it (standard input may come
 * part read; the mapping's offsets are the file's). Returns 1, or 0 when it
 * cannot be mapped (the caller reads it instead). */
static int mp_start(struct cap_reader *r, int fd, off_t fd_start)
{
	struct mapped *mp;
	uint64_t at = rb_off(r);
	void *m;
	int slot = -1;

	if (fd_start != 0 || r->gzipped || r->file_size <= at || r->file_size > SIZE_MAX ||
	    mp_guard_install() != 0)
		return 0;
	for (int i = 0; i < MP_GUARDS && slot < 0; i++) {
		int z = 0;
		if (atomic_compare_exchange_strong(&mp_guards[i].used, &z, 1))
			slot = i;
	}
	if (slot < 0)
		return 0;
	mp = calloc(1, sizeof *mp);
	if (!mp) {
		atomic_store(&mp_guards[slot].used, 0);
		return 0;
	}
	pthread_mutex_init(&mp->mu, NULL);
	pthread_cond_init(&mp->filled, NULL);
	pthread_cond_init(&mp->freed, NULL);
	mp->guard = slot;
	mp->fd = fd;
	mp->size = mp->map_size = (size_t)r->file_size;
	m = mmap(NULL, mp->size, PROT_READ, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED) {
		mp_free(mp);
		return 0;
	}
	mp->base = m;
	atomic_store(&mp_guards[slot].lo, (uintptr_t)m);
	atomic_store(&mp_guards[slot].hi, (uintptr_t)m + mp->size);
	/* a kernel without MADV_POPULATE_READ: read the file as before */
	if (madvise(m, (size_t)mp_page < mp->size ? (size_t)mp_page : mp->size, MADV_POPULATE_READ) != 0) {
		mp_free(mp);
		return 0;
	}
	mp->ready = mp->want = (size_t)at;
	if (pthread_create(&mp->th, NULL, mp_main, mp) != 0) {
		mp_free(mp);
		return 0;
	}
	r->mp = mp;
	r->gone = &mp_guards[slot].gone;
	r->buf = (uint8_t *)(uintptr_t)mp->base; /* read only: nothing writes to buf with mp */
	r->base = 0;
	r->pos = r->len = (size_t)at;
	return 1;
}

static void mp_stop(struct cap_reader *r)
{
	struct mapped *mp = r->mp;
	if (!mp)
		return;
	pthread_mutex_lock(&mp->mu);
	mp->stop = 1;
	pthread_cond_signal(&mp->freed);
	pthread_mutex_unlock(&mp->mu);
	pthread_join(mp->th, NULL);
	r->buf = r->own_buf;
	r->pos = r->len = 0;
	r->mp = NULL;
	r->gone = &mp_not_gone;
	mp_free(mp);
}

/* rb_need over the mapping. The parser does not wait for the thread: the
 * pages it gets to first are faulted in as it reads them (the thread is
 * there to spare it that, not to gate it). It stops where the thread found
 * the file to end, if it was cut. */
static int mp_need(struct cap_reader *r, size_t n)
{
	struct mapped *mp = r->mp;
	size_t end = r->pos + n, lim;
	pthread_mutex_lock(&mp->mu);
	mp->want = r->pos;
	/* woken when the lead is down to MP_WAKE, the thread pages in two
	 * windows before it sleeps again: a wake-up is a system call and an
	 * interrupt of the other core (both exits to the host in a VM) */
	if (mp->ready < mp->size && mp->ready <= mp->want + MP_WAKE)
		pthread_cond_signal(&mp->freed);
	if (mp->want > MP_LAG + atomic_load(&mp->released))
		mp_release(mp, (mp->want - MP_BEHIND) & ~(size_t)(MP_WINDOW - 1));
	lim = mp->stop && mp->ready < mp->size ? mp->ready : mp->size;
	/* ask again a window on (want moves, the thread keeps ahead) */
	r->len = lim - r->pos > n + MP_WINDOW ? r->pos + n + MP_WINDOW : lim;
	if (lim < end) {
		r->src_eof = 1;
		r->src_err = mp->failed || mp->cut;
	}
	pthread_mutex_unlock(&mp->mu);
	return r->len - r->pos >= n;
}

/* Skip n bytes of any size. Returns 1, or 0 when the input ends first. */
static int rb_skip(struct cap_reader *r, uint64_t n)
{
	for (;;) {
		size_t a = rb_avail(r);
		if ((uint64_t)a >= n) {
			r->pos += (size_t)n;
			return 1;
		}
		n -= a;
		r->pos = r->len;
		if (!rb_need(r, 1))
			return 0;
	}
}

/* ---- messages ---------------------------------------------------------- */

static int fail(struct cap_reader *r, uint64_t off, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Record a CAP_ERROR "FILE: offset N: what" and return CAP_ERROR. */
static int fail(struct cap_reader *r, uint64_t off, const char *fmt, ...)
{
	char what[384];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(what, sizeof what, fmt, ap);
	va_end(ap);
	snprintf(r->err, sizeof r->err, "%s: offset %" PRIu64 ": %s", r->name, off, what);
	r->state = ST_ERROR;
	r->pcap_go = 0;
	return CAP_ERROR;
}

/* What the source said when it failed (gzip damage or a read error). */
static const char *src_msg(struct cap_reader *r)
{
	const char *m;
	if (!r->gz)
		return "the stream reported an error";
	if (r->mp)
		return "the file was cut short while it was being read";
	if (r->pf)
		return r->pf->errmsg[0] ? r->pf->errmsg : "read error";
	m = gzerror(r->gz, NULL);
	return m && *m ? m : "read error";
}

/* The input ended inside a record that started at off. */
static int fail_cut(struct cap_reader *r, uint64_t off, const char *what)
{
	if (r->src_err)
		return fail(r, off, "file ends in the middle of %s (cut capture? %s: %s)",
			    what, r->gzipped ? "gzip" : "read", src_msg(r));
	return fail(r, off, "file ends in the middle of %s (cut capture?)", what);
}

/* Clean end of input at a record boundary: EOF, unless the source failed. */
static int at_end(struct cap_reader *r)
{
	if (r->src_err)
		return fail(r, rb_off(r), "%s: %s", r->gzipped ?
			    "compressed data ends early or is damaged (cut file?)" :
			    "read error", src_msg(r));
	r->state = ST_EOF;
	r->pcap_go = 0;
	return CAP_EOF;
}

static void warn_once(struct cap_reader *r, unsigned kind, uint64_t off, const char *what)
{
	r->warnings++;
	if (r->warned & kind)
		return;
	r->warned |= kind;
	pi_warn("%s: offset %" PRIu64 ": %s (further ones counted, not shown)", r->name, off, what);
}

/* ---- byte-order aware getters over a checked cursor ------------------- */

static inline uint16_t g16(struct cur *c, int be)
{
	uint16_t v = 0;
	if (be)
		(void)cur_u16(c, &v);
	else
		(void)cur_u16le(c, &v);
	return v;
}

static inline uint32_t g32(struct cur *c, int be)
{
	uint32_t v = 0;
	if (be)
		(void)cur_u32(c, &v);
	else
		(void)cur_u32le(c, &v);
	return v;
}

static uint64_t g64(struct cur *c, int be)
{
	uint64_t a = g32(c, be), b = g32(c, be);
	return be ? (a << 32) | b : (b << 32) | a;
}

/* Unchecked loads for the fast paths, which check the whole record first. */
static inline uint32_t ld32le(const uint8_t *p)
{
	return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

static inline uint32_t ld32be(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static inline uint32_t ld32(const uint8_t *p, int be)
{
	return be ? ld32be(p) : ld32le(p);
}

/* ---- timestamps --------------------------------------------------------- */

static void iface_set_resol(struct iface *f, int pow2, unsigned exp)
{
	f->pow2 = (uint8_t)pow2;
	f->exp = (uint8_t)exp;
	f->mul = 1;
	f->div = 1;
	if (pow2)
		return;
	if (exp <= 9) {
		for (unsigned i = exp; i < 9; i++)
			f->mul *= 10;
	} else if (exp - 9 > 19) {
		f->div = 0; /* units far below a nanosecond */
	} else {
		for (unsigned i = 9; i < exp; i++)
			f->div *= 10;
	}
}

static uint64_t iface_ns(const struct iface *f, uint64_t units)
{
	uint64_t ns;
	if (f->pow2) {
		unsigned k = f->exp;
		uint64_t frac;
		if (k == 0)
			ns = units * 1000000000ull;
		else if (k >= 64)
			ns = 0;
		else {
			frac = units & ((1ull << k) - 1);
			if (k > 32) {
				frac >>= k - 32;
				k = 32;
			}
			ns = (units >> f->exp) * 1000000000ull + ((frac * 1000000000ull) >> k);
		}
	} else if (f->div == 0) {
		ns = 0;
	} else {
		ns = units * f->mul / f->div;
	}
	return ns + (uint64_t)f->offset_s * 1000000000ull; /* wraps like the signed sum */
}

/* ---- pcap ---------------------------------------------------------------- */

#if defined(__GNUC__)
#define CAP_NOINLINE __attribute__((noinline))
#else
#define CAP_NOINLINE
#endif

/* The general path of pcap_next(): refills, the end, damage. */
static CAP_NOINLINE int pcap_next_slow(struct cap_reader *r, struct packet *pkt)
{
	uint64_t start = rb_off(r);
	struct cur c;
	uint32_t sec, frac, incl, orig;

	if (!rb_need(r, PCAP_REC_LEN)) {
		if (rb_avail(r) == 0)
			return at_end(r);
		return fail_cut(r, start, "a packet record");
	}
	c = cur_make(r->buf + r->pos, PCAP_REC_LEN);
	sec = g32(&c, r->be);
	frac = g32(&c, r->be);
	incl = g32(&c, r->be);
	orig = g32(&c, r->be);
	if (incl > PI_MAX_PACKET)
		return fail(r, start, "packet record length %" PRIu32
			    " exceeds the limit of %u bytes (damaged file?)", incl, PI_MAX_PACKET);
	if (!rb_need(r, PCAP_REC_LEN + (size_t)incl))
		return fail_cut(r, start, "a packet record");

	pkt->data = r->buf + r->pos + PCAP_REC_LEN;
	r->pos += PCAP_REC_LEN + incl;
	pkt->frame = ++r->frame;
	pkt->ts_ns = (uint64_t)sec * 1000000000ull + (r->nano ? frac : (uint64_t)frac * 1000ull);
	pkt->linktype = r->pcap_if.linktype;
	pkt->caplen = incl;
	pkt->wirelen = orig;
	if (r->pcap_if.snaplen && incl > r->pcap_if.snaplen)
		warn_once(r, W_SNAPLEN, start, "captured length larger than the file's snaplen");
	if (orig < incl) {
		warn_once(r, W_WIRELEN, start, "captured length larger than the original length");
		pkt->wirelen = incl;
	}
	return CAP_PACKET;
}

/* The end of pcap_next() for a record with oddities: the warnings (the same
 * ones, in the same order, as pcap_next_slow()'s), then the position moves
 * past the record. */
static CAP_NOINLINE int pcap_oddities(struct cap_reader *r, struct packet *pkt)
{
	uint64_t start = rb_off(r);
	if (r->pcap_if.snaplen && pkt->caplen > r->pcap_if.snaplen)
		warn_once(r, W_SNAPLEN, start, "captured length larger than the file's snaplen");
	if (pkt->wirelen < pkt->caplen) {
		warn_once(r, W_WIRELEN, start, "captured length larger than the original length");
		pkt->wirelen = pkt->caplen;
	}
	r->pos += PCAP_REC_LEN + pkt->caplen;
	return CAP_PACKET;
}

/* A record whose header and data are all in the buffer and whose length is
 * within the limit is read here: one bounds check, then direct loads. Every
 * other case (refill, end of input, damage) goes to pcap_next_slow(), which
 * starts over on the same record; nothing is changed before that. */
static inline int pcap_next(struct cap_reader *r, struct packet *pkt)
{
	size_t avail = r->len - r->pos;
	const uint8_t *h = r->buf + r->pos;
	uint32_t sec, frac, incl, orig;
	size_t need;

	if (avail < PCAP_REC_LEN)
		return pcap_next_slow(r, pkt);
	if (r->be) {
		sec = ld32be(h);
		frac = ld32be(h + 4);
		incl = ld32be(h + 8);
		orig = ld32be(h + 12);
	} else {
		sec = ld32le(h);
		frac = ld32le(h + 4);
		incl = ld32le(h + 8);
		orig = ld32le(h + 12);
	}
	need = PCAP_REC_LEN + (size_t)incl;
	if (incl > PI_MAX_PACKET || avail < need)
		return pcap_next_slow(r, pkt);

	pkt->data = h + PCAP_REC_LEN;
	pkt->frame = ++r->frame;
	pkt->ts_ns = (uint64_t)sec * 1000000000ull + (uint64_t)frac * r->frac_mul;
	pkt->linktype = r->pcap_if.linktype;
	pkt->caplen = incl;
	pkt->wirelen = orig;
	if (incl > r->snap_max || orig < incl)
		return pcap_oddities(r, pkt);
	/* The chunk was written by the read-ahead thread on the other core: ask
	 * for the bytes PCAP_AHEAD further on now, a few packets before they are
	 * parsed (the stretches of successive records tile the stream, so each
	 * line is asked for about once). Prefetches never fault; they stay
	 * inside the buffer all the same. */
	if (avail >= PCAP_AHEAD + need)
		for (size_t o = 0; o < need; o += 64)
			__builtin_prefetch(h + PCAP_AHEAD + o);
	r->pos += need;
	return CAP_PACKET;
}

static int pcap_open_hdr(struct cap_reader *r, uint32_t magic_le, char *err, size_t errlen)
{
	struct cur c;
	uint32_t snaplen, lt;

	r->fmt = CAP_PCAP;
	r->be = (magic_le == 0xd4c3b2a1u || magic_le == 0x4d3cb2a1u);
	r->nano = (magic_le == 0xa1b23c4du || magic_le == 0x4d3cb2a1u);
	r->frac_mul = r->nano ? 1u : 1000u;
	if (!rb_need(r, PCAP_HDR_LEN)) {
		snprintf(err, errlen, "%s: pcap file header is cut short (%zu of %u bytes)",
			 r->name, rb_avail(r), PCAP_HDR_LEN);
		return -1;
	}
	c = cur_make(r->buf + r->pos, PCAP_HDR_LEN);
	(void)cur_skip(&c, 16); /* magic, version, thiszone, sigfigs */
	snaplen = g32(&c, r->be);
	lt = g32(&c, r->be);
	r->pos += PCAP_HDR_LEN;
	memset(&r->pcap_if, 0, sizeof r->pcap_if);
	r->pcap_if.linktype = (int)(lt & 0x03FFFFFFu);
	r->pcap_if.snaplen = snaplen;
	r->snap_max = snaplen ? snaplen : UINT32_MAX;
	r->pcap_go = r->state == ST_OK;
	return 0;
}

/* ---- pcapng -------------------------------------------------------------- */

static const char *block_name(uint32_t type)
{
	switch (type) {
	case BT_SHB: return "a section header block";
	case BT_IDB: return "an interface description block";
	case BT_EPB: case BT_SPB: case BT_PB: return "a packet record";
	default: return "a block";
	}
}

/* Parse a whole SHB at buf+pos (len bytes, already checked). */
static int ng_shb(struct cap_reader *r, uint64_t start, struct cur c)
{
	uint16_t major, minor;
	(void)cur_skip(&c, 12); /* type, length, byte-order magic */
	major = g16(&c, r->be);
	minor = g16(&c, r->be);
	if (major != 1)
		return fail(r, start, "unsupported pcapng version %u.%u", major, minor);
	r->nifs = 0; /* a new section starts a new interface list */
	return 0;
}

static int ng_idb(struct cap_reader *r, uint64_t start, struct cur c)
{
	struct iface f;
	uint16_t lt;

	memset(&f, 0, sizeof f);
	(void)cur_skip(&c, 8);
	lt = g16(&c, r->be);
	(void)cur_skip(&c, 2);
	f.snaplen = g32(&c, r->be);
	f.linktype = lt;
	iface_set_resol(&f, 0, 6);
	c.end -= 4; /* trailing block length */
	while (cur_left(&c) >= 4) {
		uint16_t code = g16(&c, r->be), olen = g16(&c, r->be);
		struct cur v;
		if (code == 0)
			break;
		if (cur_sub(&c, olen, &v) != PI_OK) {
			warn_once(r, W_OPTION, start, "interface option runs past its block");
			break;
		}
		(void)cur_skip(&c, (4u - (olen & 3u)) & 3u);
		if (code == 9 && olen >= 1) {           /* if_tsresol */
			uint8_t b = 0;
			(void)cur_u8(&v, &b);
			iface_set_resol(&f, (b & 0x80) != 0, b & 0x7fu);
		} else if (code == 14 && olen >= 8) {   /* if_tsoffset */
			f.offset_s = (int64_t)g64(&v, r->be);
		}
	}
	if (r->nifs >= MAX_IFACES)
		return fail(r, start, "more than %u interfaces in one section", MAX_IFACES);
	if (r->nifs == r->ifcap) {
		uint32_t ncap = r->ifcap ? r->ifcap * 2 : 8;
		struct iface *n = realloc(r->ifs, (size_t)ncap * sizeof *n);
		if (!n)
			return fail(r, start, "out of memory for interfaces");
		r->ifs = n;
		r->ifcap = ncap;
	}
	r->ifs[r->nifs++] = f;
	return 0;
}

/* Read one pcapng block; returns CAP_PACKET, CAP_EOF, CAP_ERROR, or 2 when a
 * non-packet block was consumed. */
static int ng_block(struct cap_reader *r, struct packet *pkt)
{
	uint64_t start = rb_off(r);
	struct cur c;
	uint32_t type = 0, blen, minlen;
	uint32_t ifid = 0, tshi = 0, tslo = 0, caplen = 0, orig = 0, fixed;
	const struct iface *f;
	const uint8_t *data;

	if (!rb_need(r, 8)) {
		if (rb_avail(r) == 0)
			return at_end(r);
		return fail_cut(r, start, "a block header");
	}
	c = cur_make(r->buf + r->pos, rb_avail(r));
	(void)cur_u32le(&c, &type); /* SHB type is palindromic */
	if (type == BT_SHB) {
		uint32_t bom;
		if (!rb_need(r, 12))
			return fail_cut(r, start, block_name(type));
		c = cur_make(r->buf + r->pos + 8, 4);
		(void)cur_u32le(&c, &bom);
		if (bom == BOM)
			r->be = 0;
		else if (bom == 0x4D3C2B1Au)
			r->be = 1;
		else
			return fail(r, start, "section header with a bad byte-order magic 0x%08" PRIx32, bom);
	}
	c = cur_make(r->buf + r->pos, 8);
	type = g32(&c, r->be);
	blen = g32(&c, r->be);

	switch (type) {
	case BT_SHB: minlen = 28; break;
	case BT_IDB: minlen = 20; break;
	case BT_EPB: case BT_PB: minlen = 32; break;
	case BT_SPB: minlen = 16; break;
	default: minlen = 12; break;
	}
	if (blen < minlen)
		return fail(r, start, "block type 0x%08" PRIx32 " length %" PRIu32
			    " is below the minimum of %" PRIu32, type, blen, minlen);
	if (blen > BLOCK_MAX)
		return fail(r, start, "block type 0x%08" PRIx32 " length %" PRIu32
			    " is absurd (over %u bytes)", type, blen, BLOCK_MAX);
	if (blen % 4)
		return fail(r, start, "block length %" PRIu32 " is not a multiple of 4", blen);

	if (type == BT_SHB || type == BT_IDB) {
		int rc;
		uint32_t tail;
		if (blen > RB_CAP)
			return fail(r, start, "%s of %" PRIu32 " bytes is too large",
				    block_name(type), blen);
		if (!rb_need(r, blen))
			return fail_cut(r, start, block_name(type));
		c = cur_make(r->buf + r->pos + blen - 4, 4);
		tail = g32(&c, r->be);
		if (tail != blen)
			return fail(r, start, "block length fields disagree (%" PRIu32 " and %" PRIu32 ")",
				    blen, tail);
		c = cur_make(r->buf + r->pos, blen);
		rc = type == BT_SHB ? ng_shb(r, start, c) : ng_idb(r, start, c);
		if (rc)
			return rc;
		r->pos += blen;
		return 2;
	}

	if (type != BT_EPB && type != BT_PB && type != BT_SPB) {
		uint32_t tail;
		switch (type) {
		case BT_NRB: case BT_ISB: case BT_IRIG: case BT_AFDX: case BT_JOURNAL:
		case BT_DSB: case BT_CUSTOM: case BT_CUSTOM_NC:
			break;
		default:
			warn_once(r, W_BLOCK, start, "unknown pcapng block type skipped");
			break;
		}
		if (type == BT_JOURNAL || type == BT_CUSTOM || type == BT_CUSTOM_NC)
			r->frame++; /* Wireshark shows these as frames: keep its numbers */
		if (!rb_skip(r, blen - 4) || !rb_need(r, 4))
			return fail_cut(r, start, block_name(type));
		c = cur_make(r->buf + r->pos, 4);
		tail = g32(&c, r->be);
		if (tail != blen)
			return fail(r, start, "block length fields disagree (%" PRIu32 " and %" PRIu32 ")",
				    blen, tail);
		r->pos += 4;
		return 2;
	}

	/* A packet block: fixed fields, then data. */
	fixed = type == BT_SPB ? 12 : 28;
	if (!rb_need(r, fixed))
		return fail_cut(r, start, block_name(type));
	c = cur_make(r->buf + r->pos + 8, fixed - 8);
	if (type == BT_EPB) {
		ifid = g32(&c, r->be);
	} else if (type == BT_PB) {
		ifid = g16(&c, r->be);
		(void)cur_skip(&c, 2); /* drops count */
	}
	if (type == BT_SPB) {
		orig = g32(&c, r->be);
	} else {
		tshi = g32(&c, r->be);
		tslo = g32(&c, r->be);
		caplen = g32(&c, r->be);
		orig = g32(&c, r->be);
	}
	if (ifid >= r->nifs)
		return fail(r, start, "packet refers to interface %" PRIu32
			    " but its section has %" PRIu32, ifid, r->nifs);
	f = &r->ifs[ifid];
	if (type == BT_SPB) {
		caplen = blen - 16;
		if (orig < caplen)
			caplen = orig;
		if (f->snaplen && f->snaplen < caplen)
			caplen = f->snaplen;
	}
	if (caplen > PI_MAX_PACKET)
		return fail(r, start, "packet length %" PRIu32 " exceeds the limit of %u bytes",
			    caplen, PI_MAX_PACKET);
	if ((uint64_t)fixed + caplen + 4 > blen)
		return fail(r, start, "packet data (%" PRIu32 " bytes) runs past the end of its block",
			    caplen);

	if (blen <= RB_CAP) {
		uint32_t tail;
		if (!rb_need(r, blen))
			return fail_cut(r, start, block_name(type));
		c = cur_make(r->buf + r->pos + blen - 4, 4);
		tail = g32(&c, r->be);
		if (tail != blen)
			return fail(r, start, "block length fields disagree (%" PRIu32 " and %" PRIu32 ")",
				    blen, tail);
		data = r->buf + r->pos + fixed;
		r->pos += blen;
	} else {
		/* Huge options: copy the data out before streaming past them. */
		uint32_t tail;
		if (!r->copy && !(r->copy = malloc(PI_MAX_PACKET)))
			return fail(r, start, "out of memory");
		if (!rb_need(r, (size_t)fixed + caplen))
			return fail_cut(r, start, block_name(type));
		memcpy(r->copy, r->buf + r->pos + fixed, caplen);
		r->pos += fixed + caplen;
		if (!rb_skip(r, (uint64_t)blen - fixed - caplen - 4) || !rb_need(r, 4))
			return fail_cut(r, start, block_name(type));
		c = cur_make(r->buf + r->pos, 4);
		tail = g32(&c, r->be);
		if (tail != blen)
			return fail(r, start, "block length fields disagree (%" PRIu32 " and %" PRIu32 ")",
				    blen, tail);
		r->pos += 4;
		data = r->copy;
	}

	pkt->frame = ++r->frame;
	pkt->ts_ns = type == BT_SPB ? 0 : iface_ns(f, ((uint64_t)tshi << 32) | tslo);
	pkt->linktype = f->linktype;
	pkt->caplen = caplen;
	pkt->wirelen = orig;
	pkt->data = data;
	if (f->snaplen && caplen > f->snaplen)
		warn_once(r, W_SNAPLEN, start, "captured length larger than the interface's snaplen");
	if (orig < caplen) {
		warn_once(r, W_WIRELEN, start, "captured length larger than the original length");
		pkt->wirelen = caplen;
	}
	return CAP_PACKET;
}

/* An Enhanced Packet Block that is whole in the buffer and sound (the
 * checks of ng_block(), all passing) is read here with direct loads; returns
 * 1 with *pkt filled. Else returns 0 having changed nothing, and ng_block()
 * reads the block (and says what is wrong with it). */
static inline int ng_epb_fast(struct cap_reader *r, struct packet *pkt)
{
	size_t avail = r->len - r->pos;
	const uint8_t *b = r->buf + r->pos;
	const struct iface *f;
	uint32_t blen, ifid, caplen, orig;
	int be = r->be;

	if (avail < 28 || ld32(b, be) != BT_EPB)
		return 0;
	blen = ld32(b + 4, be);
	ifid = ld32(b + 8, be);
	caplen = ld32(b + 20, be);
	if (blen < 32 || blen > RB_CAP || blen > avail || (blen & 3u) || ifid >= r->nifs ||
	    caplen > PI_MAX_PACKET || 28u + caplen + 4u > blen || ld32(b + blen - 4, be) != blen)
		return 0;
	f = &r->ifs[ifid];
	orig = ld32(b + 24, be);
	pkt->frame = ++r->frame;
	pkt->ts_ns = iface_ns(f, ((uint64_t)ld32(b + 12, be) << 32) | ld32(b + 16, be));
	pkt->linktype = f->linktype;
	pkt->caplen = caplen;
	pkt->wirelen = orig;
	pkt->data = b + 28;
	if ((f->snaplen && caplen > f->snaplen) || orig < caplen) {
		uint64_t start = rb_off(r);
		if (f->snaplen && caplen > f->snaplen)
			warn_once(r, W_SNAPLEN, start, "captured length larger than the interface's snaplen");
		if (orig < caplen) {
			warn_once(r, W_WIRELEN, start, "captured length larger than the original length");
			pkt->wirelen = caplen;
		}
	}
	r->pos += blen;
	return 1;
}

/* ---- public interface -------------------------------------------------- */

/* cap_next() for pcapng: the next packet, past blocks that are not. */
static CAP_NOINLINE int ng_next(struct cap_reader *r, struct packet *pkt)
{
	if (ng_epb_fast(r, pkt))
		return CAP_PACKET;
	for (;;) {
		int rc = ng_block(r, pkt);
		if (rc != 2)
			return rc;
	}
}

/* A mapped page vanished (mp_on_sigbus): the file was cut while read. */
static CAP_NOINLINE int mp_gone(struct cap_reader *r)
{
	if (r->state == ST_ERROR)
		return CAP_ERROR;
	return fail(r, rb_off(r), "the file was cut short while it was being read");
}

/* Returns CAP_PACKET (*pkt filled, data valid until the next call), CAP_EOF
 * at a clean end, CAP_ERROR on damage (cap_error() says what); after EOF or
 * ERROR the same again. */

int cap_next(struct cap_reader *r, struct packet *pkt)
{
	int rc;
	if (r->pcap_go)
		rc = pcap_next(r, pkt);
	else if (r->state == ST_OK)
		rc = ng_next(r, pkt);
	else
		rc = r->state == ST_EOF ? CAP_EOF : CAP_ERROR;
	if (atomic_load_explicit(r->gone, memory_order_relaxed))
		return mp_gone(r);
	return rc;
}

/* A reader with its name and buffer, no input yet; NULL (err set) when out
 * of memory. */
static struct cap_reader *reader_new(const char *shown, char *err, size_t errlen)
{
	struct cap_reader *r = calloc(1, sizeof *r);
	size_t n = strlen(shown);

	if (!r) {
		snprintf(err, errlen, "%s: out of memory", shown);
		return NULL;
	}
	r->name = malloc(n + 1);
	r->buf = malloc(RB_CAP);
	if (!r->name || !r->buf) {
		snprintf(err, errlen, "%s: out of memory", shown);
		cap_close(r);
		return NULL;
	}
	memcpy(r->name, shown, n + 1);
	r->own_buf = r->buf;
	r->gone = &mp_not_gone;
	return r;
}

/* Read the magic and the file header (pcap) or first section header
 * (pcapng). Returns 0, or -1 with a one-line message in err. */
static int open_header(struct cap_reader *r, const char *shown, char *err, size_t errlen)
{
	uint32_t magic = 0;
	struct cur c;

	if (!rb_need(r, 4)) {
		if (r->src_err)
			snprintf(err, errlen, "%s: cannot read: %s", shown,
				 r->gz ? gzerror(r->gz, NULL) : src_msg(r));
		else if (rb_avail(r) == 0)
			snprintf(err, errlen, "%s: empty file, not a capture", shown);
		else
			snprintf(err, errlen, "%s: too short to be a capture file (%zu bytes)",
				 shown, rb_avail(r));
		return -1;
	}
	r->gzipped = r->gz ? !gzdirect(r->gz) : 0;
	c = cur_make(r->buf, 4);
	(void)cur_u32le(&c, &magic);

	switch (magic) {
	case 0xa1b2c3d4u: case 0xd4c3b2a1u: case 0xa1b23c4du: case 0x4d3cb2a1u:
		if (pcap_open_hdr(r, magic, err, errlen))
			return -1;
		break;
	case BT_SHB: {
		struct packet dummy;
		r->fmt = CAP_PCAPNG;
		if (ng_block(r, &dummy) != 2) {
			snprintf(err, errlen, "%s", r->err[0] ? r->err : "pcapng: cannot read section header");
			return -1;
		}
		break;
	}
	case 0xa1b2cd34u: case 0x34cdb2a1u:
		snprintf(err, errlen, "%s: modified (Kuznetzov) pcap format is not supported; "
			 "convert it with editcap", shown);
		return -1;
	default:
		if (!r->gz && r->buf[0] == 0x1f && r->buf[1] == 0x8b)
			snprintf(err, errlen, "%s: gzip data: a stream must be decompressed by "
				 "its caller (cap_open_stream reads plain pcap and pcapng only)", shown);
		else
			snprintf(err, errlen, "%s: not a pcap or pcapng capture%s (magic 0x%02x%02x%02x%02x)",
				 shown, r->gzipped ? " inside the gzip data" : "",
				 r->buf[0], r->buf[1], r->buf[2], r->buf[3]);
		return -1;
	}
	return 0;
}

/* Returns a reader positioned at the first packet, or NULL with a one-line
 * message naming the file in err (cannot open, empty, not a capture, header
 * damaged). For pcapng the first section header is read here. */
struct cap_reader *cap_open(const char *path, char *err, size_t errlen)
{
	struct cap_reader *r;
	const char *shown = strcmp(path, "-") == 0 ? "<stdin>" : path;
	struct stat st;
	off_t start;
	int fd;

	r = reader_new(shown, err, errlen);
	if (!r)
		return NULL;
	fd = strcmp(path, "-") == 0 ? dup(STDIN_FILENO) : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: cannot open: %s", shown, strerror(errno));
		goto fail;
	}
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
		r->file_size = (uint64_t)st.st_size;
	start = lseek(fd, 0, SEEK_CUR);
	r->gz = gzdopen(fd, "rb");
	if (!r->gz) {
		snprintf(err, errlen, "%s: cannot open: %s", shown, strerror(errno));
		close(fd);
		goto fail;
	}
	(void)gzbuffer(r->gz, 128u * 1024u);
	if (open_header(r, shown, err, errlen))
		goto fail;
	if (!r->src_eof && !mp_start(r, fd, start))
		pf_start(r); /* the rest is read ahead, on another core */
	return r;
fail:
	cap_close(r);
	return NULL;
}

/* Returns a reader over read_fn's bytes positioned at the first packet, or
 * NULL with a one-line message naming label in err (see capture.h). */
struct cap_reader *cap_open_stream(const char *label, long (*read_fn)(void *ctx, void *buf, size_t len),
                                   void *ctx, char *err, size_t errlen)
{
	struct cap_reader *r;

	if (!label)
		label = "<stream>";
	if (!read_fn) {
		snprintf(err, errlen, "%s: no read function", label);
		return NULL;
	}
	r = reader_new(label, err, errlen);
	if (!r)
		return NULL;
	r->read_fn = read_fn;
	r->read_ctx = ctx;
	if (open_header(r, label, err, errlen)) {
		cap_close(r);
		return NULL;
	}
	return r;
}

/* Returns the last CAP_ERROR message, "" if none; owned by r. */
const char *cap_error(const struct cap_reader *r)
{
	return r->err;
}

/* Returns the offset of the next unread byte of the (decompressed) stream. */
uint64_t cap_offset(const struct cap_reader *r)
{
	return rb_off(r);
}

/* Returns the size on disk, 0 if not a regular file. */
uint64_t cap_file_size(const struct cap_reader *r)
{
	return r->file_size;
}

/* Returns how far the file on disk has been read (compressed bytes for
 * gzip; 0 if unknown, e.g. compressed standard input). */
uint64_t cap_raw_offset(const struct cap_reader *r)
{
	z_off_t o;
	if (!r->gzipped)
		return rb_off(r);
	if (r->pf)
		return r->raw_off;
	o = gzoffset(r->gz);
	return o < 0 ? 0 : (uint64_t)o;
}

/* Returns CAP_PCAP or CAP_PCAPNG. */
enum cap_format cap_format(const struct cap_reader *r)
{
	return r->fmt;
}

/* Returns 1 if the input is gzip-compressed, else 0. */
int cap_gzipped(const struct cap_reader *r)
{
	return r->gzipped;
}

/* Returns the number of non-fatal oddities met so far. */
uint64_t cap_warnings(const struct cap_reader *r)
{
	return r->warnings;
}

/* Frees everything; r may be NULL. */
void cap_close(struct cap_reader *r)
{
	if (!r)
		return;
	mp_stop(r);
	pf_stop(r);
	if (r->gz)
		gzclose(r->gz);
	free(r->ifs);
	free(r->copy);
	free(r->buf);
	free(r->name);
	free(r);
}
