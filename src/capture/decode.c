/* decode.c: link layer to TCP/UDP through tunnels, with IP fragment reassembly.
 * Specs: RFC 791 IPv4, 8200 IPv6, 9293 TCP, 768 UDP, 2784/2890 GRE, 7348 VXLAN,
 * 8926 Geneve, 2516 PPPoE, 3032 MPLS, 3GPP TS 29.281 GTP-U, IEEE 802.1Q/802.3br.
 *
 * One loop walks the layers as a state machine (no recursion on wire data);
 * every step reads through struct cur and the loop and each nesting are
 * bounded. Whatever is innermost wins: the result describes the innermost IP
 * header and the TCP/UDP header above it.
 *
 * Header layouts read here (big-endian on the wire):
 *   Ethernet      dst(6) src(6) type(2); 802.1Q/QinQ tag: TCI(2) type(2)
 *   PPPoE session ver_type(1)=0x11 code(1)=0 session(2) length(2) ppp_proto(1|2)
 *   MPLS label    label(20) tc(3) s(1) ttl(8)
 *   Linux SLL     pkttype(2) hatype(2) halen(2) addr(8) protocol(2)
 *   Linux SLL2    protocol(2) reserved(2) ifindex(4) hatype(2) pkttype(1) halen(1) addr(8)
 *   NULL / LOOP   address family(4), host order / network order
 *   mPacket (274) preamble(7) SMD(1) Ethernet frame mCRC(4)   (IEEE 802.3br)
 *   IPv4          ver_ihl(1) tos(1) total_len(2) id(2) flags_frag(2) ttl(1)
 *                 proto(1) csum(2) src(4) dst(4) options
 *   IPv6          ver_tc_flow(4) payload_len(2) next(1) hlim(1) src(16) dst(16)
 *   IPv6 ext      next(1) len(1) ... : (len+1)*8 bytes; AH: (len+2)*4 bytes
 *   IPv6 fragment next(1) res(1) offset_res_m(2) id(4)
 *   GRE           flags_ver(2) proto(2) [csum(2) res(2)] [key(4)] [seq(4)]
 *   ERSPAN II     ver_vlan(2) cos_en_t_session(2) res_index(4); III: 12 (+8)
 *   VXLAN         flags(1: I=0x08) res(3) vni(3) res(1)
 *   GTP-U v1      flags(1) type(1)=0xFF len(2) teid(4) [seq(2) npdu(1) next(1)] ext...
 *   Geneve        ver_optlen(1) flags(1) proto(2) vni(3) res(1) options
 *   TCP           sport(2) dport(2) seq(4) ack(4) off_res(1) flags(1) win(2) ...
 *   UDP           sport(2) dport(2) length(2) csum(2)
 *
 * Fragment reassembly (IPv4 and IPv6) keeps at most PI_FRAG_MAX_DGRAMS
 * datagrams of at most PI_FRAG_MAX_BYTES payload each, for PI_FRAG_TIMEOUT_NS
 * of packet time from their first fragment. Overlaps: the first data received
 * for each 8-byte unit wins; later fragments only fill units still missing.
 * Inconsistent last fragments (two different ends, or data past the end)
 * drop the datagram. Every dropped fragment is counted in caps->frag_dropped.
 * Slots and their buffers are kept for reuse: no allocation in steady state.
 */
#include "capture/decode.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "common/cur.h"
#include "common/util.h"

#define MAX_TUNNELS   8u   /* IP-in-IP, GRE, VXLAN, Geneve nesting */
#define MAX_TAGS      8u   /* VLAN tags on one Ethernet frame */
#define MAX_MPLS      8u   /* MPLS labels in one stack */
#define MAX_EXTHDRS   16u  /* IPv6 extension headers */
#define MAX_STEPS     128u /* layers walked per packet, all in all */

#define FRAG_UNITS    ((PI_FRAG_MAX_BYTES + 7u) / 8u)
#define FRAG_BUCKETS  8192u /* power of two, >= 2 * PI_FRAG_MAX_DGRAMS */
#define OUT_CAP       (60u + PI_FRAG_MAX_BYTES)
#define NIL           (-1)

#define ET_IPV4   0x0800u
#define ET_IPV6   0x86DDu
#define ET_VLAN   0x8100u
#define ET_QINQ   0x88A8u
#define ET_QINQ1  0x9100u
#define ET_QINQ2  0x9200u
#define ET_PPPOES 0x8864u
#define ET_MPLS   0x8847u
#define ET_MPLSM  0x8848u
#define ET_TEB    0x6558u /* transparent Ethernet bridging */
#define ET_ERSPAN2 0x88BEu
#define ET_ERSPAN3 0x22EBu

#define LT_ETHERNET_MPACKET 274

struct frag {
	uint8_t src[16], dst[16];
	uint32_t id;
	uint8_t ipver, proto;
	uint8_t have_first, have_last;
	uint8_t hdrlen;
	uint8_t hdr[60];       /* IPv4 header of the first fragment / IPv6 fixed header */
	uint32_t total;        /* payload length, known once the last fragment came */
	uint32_t maxend;       /* largest end offset seen */
	uint32_t units;        /* 8-byte units filled */
	uint32_t nfrags;       /* fragments held */
	uint64_t first_ts;
	uint64_t hash;
	int32_t hnext;         /* hash chain */
	int32_t prev, next;    /* age list (oldest first); next also links the free list */
	uint8_t *data;
	uint32_t cap;
	uint64_t bits[(FRAG_UNITS + 63u) / 64u];
};

struct decoder {
	struct pi_caps *caps;
	struct frag *fr;        /* PI_FRAG_MAX_DGRAMS slots */
	int32_t *bucket;
	int32_t free_head;      /* released slots */
	uint32_t fresh;         /* slots [fresh, MAX) never used yet */
	int32_t oldest, newest; /* age list */
	uint32_t nused;
	uint64_t held;          /* fragments held in all slots */
	uint8_t *out[2];        /* completed datagrams, used alternately */
	unsigned outsel;
};

/* ---- fragment table ----------------------------------------------------- */

static void frag_count_drop(struct decoder *d, uint64_t n)
{
	if (d->caps)
		d->caps->frag_dropped += n;
}

static uint64_t frag_hash(uint8_t ipver, const uint8_t *src, const uint8_t *dst,
			  uint32_t id, uint8_t proto)
{
	uint8_t k[16 + 16 + 4 + 2];
	memcpy(k, src, 16);
	memcpy(k + 16, dst, 16);
	memcpy(k + 32, &id, 4);
	k[36] = ipver;
	k[37] = proto;
	return pi_hash(k, sizeof k, 0x66726167u);
}

/* Allocate the fragment table (at the first fragment). 0, or -1 when out
 * of memory (nothing allocated then). */
static int frag_tables(struct decoder *d)
{
	d->fr = calloc(PI_FRAG_MAX_DGRAMS, sizeof *d->fr);
	d->bucket = malloc(FRAG_BUCKETS * sizeof *d->bucket);
	d->out[0] = malloc(OUT_CAP);
	d->out[1] = malloc(OUT_CAP);
	if (!d->fr || !d->bucket || !d->out[0] || !d->out[1]) {
		free(d->fr);
		free(d->bucket);
		free(d->out[0]);
		free(d->out[1]);
		d->fr = NULL;
		d->bucket = NULL;
		d->out[0] = d->out[1] = NULL;
		return -1;
	}
	for (uint32_t b = 0; b < FRAG_BUCKETS; b++)
		d->bucket[b] = NIL;
	return 0;
}

/* Unlink slot i from its hash chain and the age list, put it on the free list. */
static void frag_release(struct decoder *d, int32_t i)
{
	struct frag *f = &d->fr[i];
	int32_t *pp = &d->bucket[f->hash & (FRAG_BUCKETS - 1u)];
	while (*pp != NIL && *pp != i)
		pp = &d->fr[*pp].hnext;
	if (*pp == i)
		*pp = f->hnext;
	if (f->prev != NIL)
		d->fr[f->prev].next = f->next;
	else
		d->oldest = f->next;
	if (f->next != NIL)
		d->fr[f->next].prev = f->prev;
	else
		d->newest = f->prev;
	d->held -= f->nfrags;
	f->nfrags = 0;
	f->next = d->free_head;
	f->prev = NIL;
	d->free_head = i;
	d->nused--;
}

/* Drop a whole datagram, counting its fragments (plus extra not yet held). */
static void frag_drop(struct decoder *d, int32_t i, uint64_t extra)
{
	frag_count_drop(d, d->fr[i].nfrags + extra);
	frag_release(d, i);
}

/* Find or create the datagram slot; NIL only if nothing can be had. */
static int32_t frag_slot(struct decoder *d, uint64_t ts, uint8_t ipver, const uint8_t *src,
			 const uint8_t *dst, uint32_t id, uint8_t proto)
{
	uint64_t h = frag_hash(ipver, src, dst, id, proto);
	int32_t i;
	struct frag *f;

	/* expire by packet time, oldest first */
	while (d->oldest != NIL && ts > d->fr[d->oldest].first_ts &&
	       ts - d->fr[d->oldest].first_ts > PI_FRAG_TIMEOUT_NS)
		frag_drop(d, d->oldest, 0);

	for (i = d->bucket[h & (FRAG_BUCKETS - 1u)]; i != NIL; i = d->fr[i].hnext) {
		f = &d->fr[i];
		if (f->hash == h && f->id == id && f->ipver == ipver && f->proto == proto &&
		    memcmp(f->src, src, 16) == 0 && memcmp(f->dst, dst, 16) == 0)
			return i;
	}

	if (d->nused >= PI_FRAG_MAX_DGRAMS)
		frag_drop(d, d->oldest, 0); /* table full: the oldest goes */
	if (d->free_head != NIL) {
		i = d->free_head;
		d->free_head = d->fr[i].next;
	} else if (d->fresh < PI_FRAG_MAX_DGRAMS) {
		i = (int32_t)d->fresh++;
	} else {
		return NIL;
	}
	f = &d->fr[i];
	memcpy(f->src, src, 16);
	memcpy(f->dst, dst, 16);
	f->id = id;
	f->ipver = ipver;
	f->proto = proto;
	f->have_first = f->have_last = 0;
	f->hdrlen = 0;
	f->total = f->maxend = f->units = f->nfrags = 0;
	f->first_ts = ts;
	f->hash = h;
	memset(f->bits, 0, sizeof f->bits);
	f->hnext = d->bucket[h & (FRAG_BUCKETS - 1u)];
	d->bucket[h & (FRAG_BUCKETS - 1u)] = i;
	f->prev = d->newest;
	f->next = NIL;
	if (d->newest != NIL)
		d->fr[d->newest].next = i;
	else
		d->oldest = i;
	d->newest = i;
	d->nused++;
	return i;
}

/* A fragment for the datagram key (ipver, src, dst, id, proto): data covers
 * payload bytes [off, off+len). hdr/hdrlen: the IP header to rebuild the
 * datagram with (used from the offset-0 fragment).
 * Returns 1 when the datagram is complete (*dg, *dglen: header + payload, in
 * a decoder buffer), 0 when held, -1 when dropped (counted). */
static int frag_add(struct decoder *d, uint64_t ts, uint8_t ipver, const uint8_t *src,
		    const uint8_t *dst, uint32_t id, uint8_t proto, const uint8_t *hdr,
		    uint32_t hdrlen, uint32_t off, const uint8_t *data, uint32_t len, int more,
		    const uint8_t **dg, uint32_t *dglen)
{
	int32_t i;
	struct frag *f;
	uint32_t end, u, need;
	uint8_t *o;

	if (more)
		len &= ~7u; /* non-last fragments carry whole 8-byte units */
	end = off + len;
	if (end > PI_FRAG_MAX_BYTES || (more && len == 0)) {
		frag_count_drop(d, 1);
		return -1;
	}
	if (!d->fr && frag_tables(d) != 0) {
		frag_count_drop(d, 1);
		if (d->caps)
			d->caps->alloc_failures++;
		return -1;
	}
	i = frag_slot(d, ts, ipver, src, dst, id, proto);
	if (i == NIL) {
		frag_count_drop(d, 1);
		return -1;
	}
	f = &d->fr[i];
	if (!more) {
		if ((f->have_last && f->total != end) || f->maxend > end) {
			frag_drop(d, i, 1);
			return -1;
		}
		f->have_last = 1;
		f->total = end;
	} else if (f->have_last && end > f->total) {
		frag_drop(d, i, 1);
		return -1;
	}
	if (end > f->cap) {
		uint32_t ncap = f->cap ? f->cap : 2048u;
		uint8_t *nb;
		while (ncap < end)
			ncap *= 2;
		if (ncap > PI_FRAG_MAX_BYTES)
			ncap = PI_FRAG_MAX_BYTES;
		nb = realloc(f->data, ncap);
		if (!nb) {
			if (d->caps)
				d->caps->alloc_failures++;
			frag_drop(d, i, 1);
			return -1;
		}
		f->data = nb;
		f->cap = ncap;
	}
	/* first data wins: copy only the 8-byte units not filled yet */
	for (u = off / 8u; u * 8u < end; u++) {
		uint64_t bit = 1ull << (u & 63u);
		if (!(f->bits[u / 64u] & bit)) {
			uint32_t a = u * 8u, b = a + 8u < end ? a + 8u : end;
			memcpy(f->data + a, data + (a - off), b - a);
			f->bits[u / 64u] |= bit;
			f->units++;
		}
	}
	if (off == 0 && !f->have_first && hdrlen <= sizeof f->hdr) {
		memcpy(f->hdr, hdr, hdrlen);
		f->hdrlen = (uint8_t)hdrlen;
		f->have_first = 1;
	}
	if (end > f->maxend)
		f->maxend = end;
	f->nfrags++;
	d->held++;

	if (!f->have_first || !f->have_last || f->units != (f->total + 7u) / 8u)
		return 0;

	/* complete: header (lengths fixed up, fragment fields cleared) + payload */
	need = f->hdrlen + f->total;
	if (need > OUT_CAP || (ipver == 4 && need > 65535u)) {
		frag_drop(d, i, 0);
		return -1;
	}
	o = d->out[d->outsel];
	d->outsel ^= 1u;
	memcpy(o, f->hdr, f->hdrlen);
	memcpy(o + f->hdrlen, f->data, f->total);
	if (ipver == 4) {
		o[2] = (uint8_t)(need >> 8);
		o[3] = (uint8_t)need;
		o[6] &= 0x40; /* keep DF, clear MF and the offset */
		o[7] = 0;
	} else {
		o[4] = (uint8_t)(f->total >> 8);
		o[5] = (uint8_t)f->total;
		o[6] = f->proto;
	}
	*dg = o;
	*dglen = need;
	frag_release(d, i);
	return 1;
}

/* ---- public: lifetime ----------------------------------------------------- */

/* Returns a decoder with an empty fragment table, or NULL if out of memory.
 * The fragment table (about 5 MB) is allocated at the first fragment;
 * reassembly buffers grow on use and are kept for reuse. */
struct decoder *decoder_new(struct pi_caps *caps)
{
	struct decoder *d = calloc(1, sizeof *d);

	if (!d)
		return NULL;
	d->caps = caps;
	d->free_head = d->oldest = d->newest = NIL;
	return d;
}

/* Forgets held fragments without counting them as dropped. */
void decoder_reset(struct decoder *d)
{
	while (d->oldest != NIL)
		frag_release(d, d->oldest);
}

/* Frees everything; d may be NULL. */
void decoder_free(struct decoder *d)
{
	if (!d)
		return;
	if (d->fr)
		for (uint32_t i = 0; i < d->fresh; i++)
			free(d->fr[i].data);
	free(d->fr);
	free(d->bucket);
	free(d->out[0]);
	free(d->out[1]);
	free(d);
}

/* Returns the number of fragments held in incomplete datagrams. */
uint64_t decoder_frags_held(const struct decoder *d)
{
	return d->held;
}

/* ---- the layer walk -------------------------------------------------------- */

enum step { S_ETH, S_ETYPE, S_IPVER, S_IP4, S_IP6, S_IP6EXT, S_L4, S_GRE };

/* Big-endian loads at p; the caller has checked the bytes are there. */
static inline uint16_t ld16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t ld32(const uint8_t *p)
{
	return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

/* Field at offset at of the cursor, 0 when the bytes are not there. */
static inline uint16_t peek16(const struct cur *c, size_t at)
{
	return cur_left(c) >= at + 2 ? ld16(c->p + at) : 0;
}

static inline uint8_t peek8(const struct cur *c, size_t at)
{
	return cur_left(c) >= at + 1 ? c->p[at] : 0;
}

static inline uint32_t peek32(const struct cur *c, size_t at)
{
	return cur_left(c) >= at + 4 ? ld32(c->p + at) : 0;
}

/* Too few bytes: if the capture cut this layer (extra > 0: bytes were on the
 * wire but not captured) it is TRUNC, else the headers are malformed. */
#define SHORT() return extra ? DEC_TRUNC : DEC_BAD

/* Bytes of a layer on the wire: what its header says, but never more than
 * the frame carried (Wireshark's rule: a length beyond the frame is bogus). */
static uint32_t on_wire(uint32_t said, const struct cur *c, uint32_t extra)
{
	uint64_t avail = (uint64_t)cur_left(c) + extra;
	return said < avail ? said : (uint32_t)avail;
}

/* ---- the fast path ------------------------------------------------------------ */

#if defined(__GNUC__)
#define DEC_NOINLINE __attribute__((noinline))
#else
#define DEC_NOINLINE
#endif

/* The common case, read at fixed offsets after one bounds check per header:
 * IPv4 without options and not a fragment, or IPv6 whose next header is TCP
 * or UDP; then TCP with its data offset inside the segment, or UDP not on a
 * tunnel port. h: the IP header, left: bytes captured from h on, extra:
 * bytes on the wire past the capture, ver: the IP version the link layer
 * named. Returns DEC_OK with *o filled exactly as the layer walk fills it;
 * or -1, having written nothing, whenever the walk could do anything else
 * (another status, a length of 0 to make up, options, extension headers,
 * fragments, tunnels, a header cut short): the walk then decodes the packet
 * from the start. */
static inline int fast_ip(const uint8_t *h, uint32_t left, uint32_t extra, unsigned ver,
			  struct decoded *o)
{
	const uint8_t *l4;
	uint32_t l4left, l4wire, present, l3len;
	uint8_t proto;

	/* left + extra is at most wirelen: no overflow. Below, l4left <= l4wire
	 * (present <= the IP length), so a check of l4left stands for both. */
	if (ver == 4) {
		uint32_t tot;
		if (left < 20 || h[0] != 0x45)
			return -1;
		tot = ld16(h + 2);
		if (tot < 20 || (ld16(h + 6) & 0x3FFFu))
			return -1; /* 0 (offload) or below the header; MF or an offset */
		proto = h[9];
		if (tot > left + extra) /* on_wire() */
			tot = left + extra;
		present = left < tot ? left : tot;
		l3len = present;
		l4 = h + 20;
		l4left = present - 20;
		l4wire = tot - 20;
	} else {
		uint32_t plen;
		if (left < 40 || (h[0] >> 4) != 6)
			return -1;
		plen = ld16(h + 4);
		proto = h[6];
		if (plen == 0)
			return -1; /* jumbogram or offload */
		left -= 40;
		if (plen > left + extra)
			plen = left + extra;
		present = left < plen ? left : plen;
		l3len = 40 + present;
		l4 = h + 40;
		l4left = present;
		l4wire = plen;
	}

	if (proto == 6) {
		uint32_t doff;
		if (l4left < 20)
			return -1;
		doff = (uint32_t)(l4[12] >> 4) * 4u;
		if (doff < 20 || doff > l4left)
			return -1;
		o->proto = 6;
		o->sport = ld16(l4);
		o->dport = ld16(l4 + 2);
		o->tcp_flags = l4[13];
		o->seq = ld32(l4 + 4);
		o->ack = ld32(l4 + 8);
		o->win = ld16(l4 + 14);
		o->payload = l4 + doff;
		o->paylen = l4left - doff;
		o->wire_paylen = l4wire - doff;
	} else if (proto == 17) {
		uint32_t ulen;
		uint16_t sport, dport;
		if (l4left < 8)
			return -1;
		sport = ld16(l4);
		dport = ld16(l4 + 2);
		ulen = ld16(l4 + 4);
		if (ulen < 8 || dport == 4789 || dport == 6081 || dport == 2152 || sport == 2152)
			return -1; /* 0 (jumbogram) or malformed; maybe a tunnel */
		if (ulen > l4wire)
			ulen = l4wire; /* longer than its IP payload: trust IP */
		o->proto = 17;
		o->sport = sport;
		o->dport = dport;
		o->tcp_flags = 0;
		o->seq = 0;
		o->ack = 0;
		o->win = 0;
		o->payload = l4 + 8;
		o->paylen = (l4left < ulen ? l4left : ulen) - 8;
		o->wire_paylen = ulen - 8;
	} else {
		return -1;
	}
	/* every field is written (decode.h: keep this in step with struct decoded) */
	o->ipver = (uint8_t)ver;
	if (ver == 4) {
		memcpy(o->src, h + 12, 4);
		memset(o->src + 4, 0, 12);
		memcpy(o->dst, h + 16, 4);
		memset(o->dst + 4, 0, 12);
	} else {
		memcpy(o->src, h + 8, 16);
		memcpy(o->dst, h + 24, 16);
	}
	o->l3 = h;
	o->l3len = l3len;
	o->reassembled = 0;
	return DEC_OK;
}

static DEC_NOINLINE int decode_walk(struct decoder *d, const struct packet *pkt,
				    struct decoded *o, uint32_t extra);

/* Returns DEC_OK with *o filled (pointers into pkt->data or a decoder buffer,
 * valid until the next call), DEC_SKIP (not TCP/UDP over IP, or a fragment
 * held or dropped), DEC_TRUNC (capture cut before the TCP/UDP header),
 * DEC_BAD (malformed, or nesting over the caps) or DEC_LINKTYPE. *o is
 * zeroed first, then partly filled as far as decoding got. */
int decode_packet(struct decoder *d, const struct packet *pkt, struct decoded *o)
{
	const uint8_t *p = pkt->data;
	uint32_t n = pkt->caplen, off = 0;
	uint32_t extra = pkt->wirelen > n ? pkt->wirelen - n : 0;
	unsigned ver = 0;

	/* the link layers of the fast path, bounds checked before each read */
	if (pkt->linktype == LT_ETHERNET) {
		if (n >= 14 + 4 + 20) {
			uint16_t et = ld16(p + 12);
			off = 14;
			if (et == ET_VLAN) {
				et = ld16(p + 16);
				off = 18;
			}
			ver = et == ET_IPV4 ? 4u : et == ET_IPV6 ? 6u : 0u;
		}
	} else {
		switch (pkt->linktype) {
		case LT_LINUX_SLL:
			if (n >= 16 + 20) {
				uint16_t et = ld16(p + 14);
				off = 16;
				ver = et == ET_IPV4 ? 4u : et == ET_IPV6 ? 6u : 0u;
			}
			break;
		case LT_LINUX_SLL2:
			if (n >= 20 + 20) {
				uint16_t et = ld16(p);
				off = 20;
				ver = et == ET_IPV4 ? 4u : et == ET_IPV6 ? 6u : 0u;
			}
			break;
		case LT_RAW:
		case LT_RAW_ALT:
		case LT_RAW_ALT2:
			if (n >= 20)
				ver = p[0] >> 4;
			break;
		case LT_IPV4:
			if (n >= 20) /* shorter: not for the fast path */
				ver = 4;
			break;
		case LT_IPV6:
			if (n >= 20)
				ver = 6;
			break;
		default:
			break;
		}
	}
	if ((ver == 4 || ver == 6) && fast_ip(p + off, n - off, extra, ver, o) == DEC_OK)
		return DEC_OK; /* every field of *o written */
	memset(o, 0, sizeof *o);
	return decode_walk(d, pkt, o, extra);
}

/* The general layer walk, for whatever the fast path leaves: *o is zeroed
 * and extra computed by the caller. Same returns as decode_packet(). */
static DEC_NOINLINE int decode_walk(struct decoder *d, const struct packet *pkt, struct decoded *o,
				    uint32_t extra)
{
	struct cur c = cur_make(pkt->data, pkt->caplen);
	enum step st;
	uint16_t etype = 0;
	uint8_t proto = 0, nh = 0;
	uint32_t l4wire = 0;   /* what the IP header says follows it */
	unsigned tunnels = 0, tags = 0, exthdrs = 0;
	const uint8_t *ip6hdr = NULL;

	switch (pkt->linktype) {
	case LT_ETHERNET:
		st = S_ETH;
		break;
	case LT_ETHERNET_MPACKET: {
		uint8_t smd = peek8(&c, 7);
		if (cur_left(&c) < 8)
			SHORT();
		if (peek8(&c, 6) != 0x55 || (smd != 0xD5 && smd != 0xE6 && smd != 0x4C &&
					     smd != 0x7F && smd != 0xB3))
			return DEC_SKIP; /* verify/respond or a continuation fragment */
		(void)cur_skip(&c, 8);
		st = S_ETH;
		break;
	}
	case LT_LINUX_SLL:
		if (cur_left(&c) < 16)
			SHORT();
		etype = peek16(&c, 14);
		(void)cur_skip(&c, 16);
		st = S_ETYPE;
		break;
	case LT_LINUX_SLL2:
		if (cur_left(&c) < 20)
			SHORT();
		etype = peek16(&c, 0);
		(void)cur_skip(&c, 20);
		st = S_ETYPE;
		break;
	case LT_RAW:
	case LT_RAW_ALT:
	case LT_RAW_ALT2:
		st = S_IPVER;
		break;
	case LT_IPV4:
		st = S_IP4;
		break;
	case LT_IPV6:
		st = S_IP6;
		break;
	case LT_NULL:
	case LT_LOOP: {
		uint32_t af = 0;
		if (cur_left(&c) < 4)
			SHORT();
		if (pkt->linktype == LT_NULL) {
			(void)cur_u32le(&c, &af); /* host order of the capturing machine */
			if (af & 0xFFFF0000u)
				af = (af >> 24) | ((af >> 8) & 0xFF00u) |
				     ((af << 8) & 0xFF0000u) | (af << 24);
		} else {
			(void)cur_u32(&c, &af);
		}
		if (af == 2)
			st = S_IP4;
		else if (af == 10 || af == 23 || af == 24 || af == 28 || af == 30)
			st = S_IP6;
		else
			return DEC_SKIP;
		break;
	}
	default:
		return DEC_LINKTYPE;
	}

	for (unsigned steps = 0; steps < MAX_STEPS; steps++) {
		switch (st) {
		case S_ETH:
			if (cur_left(&c) < 14)
				SHORT();
			etype = peek16(&c, 12);
			(void)cur_skip(&c, 14);
			tags = 0;
			st = S_ETYPE;
			break;

		case S_ETYPE:
			switch (etype) {
			case ET_VLAN: case ET_QINQ: case ET_QINQ1: case ET_QINQ2:
				if (++tags > MAX_TAGS)
					return DEC_BAD;
				if (cur_left(&c) < 4)
					SHORT();
				etype = peek16(&c, 2);
				(void)cur_skip(&c, 4);
				break;
			case ET_PPPOES: {
				uint16_t plen;
				uint8_t pp;
				if (cur_left(&c) < 7)
					SHORT();
				if (peek8(&c, 0) != 0x11 || peek8(&c, 1) != 0)
					return DEC_SKIP;
				plen = peek16(&c, 4);
				(void)cur_skip(&c, 6);
				plen = (uint16_t)on_wire(plen, &c, extra);
				if (plen < cur_left(&c))
					c.end = c.p + plen; /* drop Ethernet padding */
				extra = plen - (uint32_t)cur_left(&c);
				pp = peek8(&c, 0);
				if (pp & 1) {           /* protocol field compressed to 1 byte */
					(void)cur_skip(&c, 1);
					etype = pp;
				} else {
					if (cur_left(&c) < 2)
						SHORT();
					etype = peek16(&c, 0);
					(void)cur_skip(&c, 2);
				}
				if (etype == 0x0021)
					st = S_IP4;
				else if (etype == 0x0057)
					st = S_IP6;
				else
					return DEC_SKIP;
				break;
			}
			case ET_MPLS: case ET_MPLSM: {
				unsigned n = 0;
				uint32_t lse;
				do {
					if (++n > MAX_MPLS)
						return DEC_BAD;
					if (cur_left(&c) < 4)
						SHORT();
					lse = peek32(&c, 0);
					(void)cur_skip(&c, 4);
				} while (!(lse & 0x100u));
				st = S_IPVER;
				break;
			}
			case ET_TEB:
				st = S_ETH;
				break;
			case ET_IPV4:
				st = S_IP4;
				break;
			case ET_IPV6:
				st = S_IP6;
				break;
			default:
				return DEC_SKIP; /* ARP, LLDP, 802.3 length, ... */
			}
			break;

		case S_IPVER:
			if (cur_left(&c) < 1)
				SHORT();
			switch (peek8(&c, 0) >> 4) {
			case 4: st = S_IP4; break;
			case 6: st = S_IP6; break;
			default: return DEC_SKIP;
			}
			break;

		case S_IP4: {
			uint8_t vihl;
			uint16_t tot, id, fo;
			uint32_t ihl, present;
			const uint8_t *h = c.p;
			if (cur_left(&c) < 20)
				SHORT();
			vihl = peek8(&c, 0);
			if ((vihl >> 4) != 4)
				return DEC_BAD;
			ihl = (vihl & 0x0Fu) * 4u;
			if (ihl < 20)
				return DEC_BAD;
			tot = peek16(&c, 2);
			if (tot == 0) /* segmentation offload: length left as 0 */
				tot = (uint16_t)(cur_left(&c) > 65535 ? 65535 : cur_left(&c));
			if (tot < ihl)
				return DEC_BAD;
			tot = (uint16_t)on_wire(tot, &c, extra);
			if (tot < ihl || cur_left(&c) < ihl)
				SHORT();
			id = peek16(&c, 4);
			fo = peek16(&c, 6);
			proto = peek8(&c, 9);
			present = cur_left(&c) < tot ? (uint32_t)cur_left(&c) : tot;
			extra = tot - present;
			o->ipver = 4;
			memset(o->src, 0, sizeof o->src);
			memset(o->dst, 0, sizeof o->dst);
			memcpy(o->src, h + 12, 4);
			memcpy(o->dst, h + 16, 4);
			o->l3 = h;
			o->l3len = present;
			c = cur_make(h + ihl, present - ihl);
			l4wire = tot - ihl;
			if (fo & 0x3FFFu) { /* MF set or offset non-zero */
				const uint8_t *dg;
				uint32_t dglen;
				int r;
				if (extra) { /* cut by snaplen: cannot be rebuilt */
					frag_count_drop(d, 1);
					return DEC_TRUNC;
				}
				r = frag_add(d, pkt->ts_ns, 4, o->src, o->dst, id, proto, h, ihl,
					     (uint32_t)(fo & 0x1FFFu) * 8u, c.p, (uint32_t)cur_left(&c),
					     (fo & 0x2000u) != 0, &dg, &dglen);
				if (r <= 0)
					return DEC_SKIP;
				ihl = (uint32_t)(dg[0] & 0x0Fu) * 4u; /* the first fragment's */
				o->reassembled = 1;
				o->l3 = dg;
				o->l3len = dglen;
				c = cur_make(dg + ihl, dglen - ihl);
				l4wire = dglen - ihl;
				extra = 0;
			}
			st = S_L4;
			break;
		}

		case S_IP6: {
			uint16_t plen;
			uint32_t present;
			const uint8_t *h = c.p;
			if (cur_left(&c) < 40)
				SHORT();
			if ((peek8(&c, 0) >> 4) != 6)
				return DEC_BAD;
			plen = peek16(&c, 4);
			nh = peek8(&c, 6);
			(void)cur_skip(&c, 40);
			if (plen == 0) /* jumbogram or offload: take what is there */
				plen = (uint16_t)(cur_left(&c) > 65535 ? 65535 : cur_left(&c));
			plen = (uint16_t)on_wire(plen, &c, extra);
			present = cur_left(&c) < plen ? (uint32_t)cur_left(&c) : plen;
			extra = plen - present;
			o->ipver = 6;
			memcpy(o->src, h + 8, 16);
			memcpy(o->dst, h + 24, 16);
			o->l3 = h;
			o->l3len = 40 + present;
			ip6hdr = h;
			c = cur_make(h + 40, present);
			l4wire = plen;
			exthdrs = 0;
			st = S_IP6EXT;
			break;
		}

		case S_IP6EXT: {
			uint32_t hl;
			if (++exthdrs > MAX_EXTHDRS)
				return DEC_BAD;
			switch (nh) {
			case 0: case 43: case 60: case 51:
				if (l4wire < 8)
					return DEC_BAD;
				if (cur_left(&c) < 2)
					SHORT();
				hl = nh == 51 ? ((uint32_t)peek8(&c, 1) + 2u) * 4u
					      : ((uint32_t)peek8(&c, 1) + 1u) * 8u;
				if (hl > l4wire)
					return DEC_BAD;
				if (cur_left(&c) < hl)
					SHORT();
				nh = peek8(&c, 0);
				(void)cur_skip(&c, hl);
				l4wire -= hl;
				break;
			case 44: {
				uint16_t fo;
				uint32_t id;
				const uint8_t *dg;
				uint32_t dglen;
				int r;
				if (l4wire < 8)
					return DEC_BAD;
				if (cur_left(&c) < 8)
					SHORT();
				nh = peek8(&c, 0);
				fo = peek16(&c, 2);
				id = peek32(&c, 4);
				(void)cur_skip(&c, 8);
				l4wire -= 8;
				if ((fo & 0xFFF9u) == 0)
					break; /* atomic fragment: the whole datagram is here */
				if (extra) {
					frag_count_drop(d, 1);
					return DEC_TRUNC;
				}
				r = frag_add(d, pkt->ts_ns, 6, o->src, o->dst, id, nh, ip6hdr, 40,
					     fo & 0xFFF8u, c.p, (uint32_t)cur_left(&c),
					     (fo & 1u) != 0, &dg, &dglen);
				if (r <= 0)
					return DEC_SKIP;
				o->reassembled = 1;
				o->l3 = dg;
				o->l3len = dglen;
				ip6hdr = dg;
				c = cur_make(dg + 40, dglen - 40);
				l4wire = dglen - 40;
				extra = 0;
				break;
			}
			case 59:
				return DEC_SKIP; /* no next header */
			default:
				proto = nh;
				st = S_L4;
				break;
			}
			break;
		}

		case S_L4:
			switch (proto) {
			case 6: {
				uint32_t doff;
				const uint8_t *t = c.p;
				if (l4wire < 20)
					return DEC_BAD;
				if (cur_left(&c) < 20)
					SHORT();
				doff = (uint32_t)(peek8(&c, 12) >> 4) * 4u;
				if (doff < 20 || doff > l4wire)
					return DEC_BAD;
				if (doff > cur_left(&c))
					SHORT();
				o->proto = 6;
				o->sport = peek16(&c, 0);
				o->dport = peek16(&c, 2);
				o->seq = peek32(&c, 4);
				o->ack = peek32(&c, 8);
				o->tcp_flags = peek8(&c, 13);
				o->win = peek16(&c, 14);
				o->payload = t + doff;
				o->paylen = (uint32_t)cur_left(&c) - doff;
				o->wire_paylen = l4wire - doff;
				return DEC_OK;
			}
			case 17: {
				uint32_t ulen, present;
				uint16_t sport, dport;
				const uint8_t *u = c.p;
				if (l4wire < 8)
					return DEC_BAD;
				if (cur_left(&c) < 8)
					SHORT();
				sport = peek16(&c, 0);
				dport = peek16(&c, 2);
				ulen = peek16(&c, 4);
				if (ulen == 0 && o->ipver == 6)
					ulen = l4wire; /* jumbogram */
				if (ulen < 8)
					return DEC_BAD;
				if (ulen > l4wire)
					ulen = l4wire; /* longer than its IP payload: trust IP */
				present = cur_left(&c) < ulen ? (uint32_t)cur_left(&c) : ulen;
				extra = ulen - present;
				(void)cur_skip(&c, 8);
				c.end = c.p + (present - 8);
				if (dport == 4789 && cur_left(&c) >= 8 && (peek8(&c, 0) & 0x08)) {
					if (++tunnels > MAX_TUNNELS)
						return DEC_BAD;
					(void)cur_skip(&c, 8);
					st = S_ETH;
					break;
				}
				if (dport == 6081 && cur_left(&c) >= 8 && (peek8(&c, 0) >> 6) == 0) {
					uint32_t gl = 8u + (uint32_t)(peek8(&c, 0) & 0x3Fu) * 4u;
					if (++tunnels > MAX_TUNNELS)
						return DEC_BAD;
					etype = peek16(&c, 2);
					if (cur_left(&c) < gl)
						SHORT();
					(void)cur_skip(&c, gl);
					st = S_ETYPE;
					break;
				}
				if ((dport == 2152 || sport == 2152) && cur_left(&c) >= 8 &&
				    (peek8(&c, 0) & 0xF0u) == 0x30u && peek8(&c, 1) == 0xFFu) {
					/* GTP-U v1 G-PDU: 8 bytes, 4 more if E/S/PN, then
					 * extension headers of len*4 bytes, last byte = next */
					uint8_t gf = peek8(&c, 0), next;
					unsigned nx = 0;
					if (++tunnels > MAX_TUNNELS)
						return DEC_BAD;
					if (gf & 0x07u) {
						if (cur_left(&c) < 12)
							SHORT();
						next = (gf & 0x04u) ? peek8(&c, 11) : 0;
						(void)cur_skip(&c, 12);
						while (next) {
							uint32_t xl;
							if (cur_left(&c) < 4)
								SHORT();
							xl = (uint32_t)peek8(&c, 0) * 4u;
							if (++nx > MAX_EXTHDRS || xl == 0)
								return DEC_BAD;
							if (cur_left(&c) < xl)
								SHORT();
							next = peek8(&c, xl - 1);
							(void)cur_skip(&c, xl);
						}
					} else {
						(void)cur_skip(&c, 8);
					}
					st = S_IPVER;
					break;
				}
				o->proto = 17;
				o->sport = sport;
				o->dport = dport;
				o->payload = u + 8;
				o->paylen = present - 8;
				o->wire_paylen = ulen - 8;
				return DEC_OK;
			}
			case 4:
			case 41:
				if (++tunnels > MAX_TUNNELS)
					return DEC_BAD;
				st = proto == 4 ? S_IP4 : S_IP6;
				break;
			case 47:
				if (++tunnels > MAX_TUNNELS)
					return DEC_BAD;
				st = S_GRE;
				break;
			default:
				return DEC_SKIP; /* ICMP, ESP, SCTP, ... */
			}
			break;

		case S_GRE: {
			uint16_t fl, gp;
			uint32_t gl = 4;
			if (cur_left(&c) < 4)
				SHORT();
			fl = peek16(&c, 0);
			gp = peek16(&c, 2);
			if ((fl & 0x0007u) != 0 || (fl & 0x4000u))
				return DEC_SKIP; /* enhanced GRE (PPTP), source routing */
			if (fl & 0x8000u)
				gl += 4;
			if (fl & 0x2000u)
				gl += 4;
			if (fl & 0x1000u)
				gl += 4;
			if (cur_left(&c) < gl)
				SHORT();
			(void)cur_skip(&c, gl);
			if (gp == ET_ERSPAN2) {
				if (fl & 0x1000u) { /* type II has a sequence number, type I none */
					if (cur_left(&c) < 8)
						SHORT();
					(void)cur_skip(&c, 8);
				}
				st = S_ETH;
			} else if (gp == ET_ERSPAN3) {
				uint32_t el = 12;
				if (cur_left(&c) < 12)
					SHORT();
				if (peek8(&c, 11) & 1u)
					el += 8; /* platform-specific subheader */
				if (cur_left(&c) < el)
					SHORT();
				(void)cur_skip(&c, el);
				st = S_ETH;
			} else {
				etype = gp;
				st = S_ETYPE;
			}
			break;
		}
		}
	}
	return DEC_BAD;
}

/* Decimal text of every byte value, one word each: the digits from the low
 * byte up (the first digit lowest), their count in the top byte; 152 is
 * 0x03323531 ("1" 0x31, "5" 0x35, "2" 0x32, 3 digits). Read with shifts,
 * so the same on any host. */
static const uint32_t dec_byte[256] = {
	0x01000030u, 0x01000031u, 0x01000032u, 0x01000033u,
	0x01000034u, 0x01000035u, 0x01000036u, 0x01000037u,
	0x01000038u, 0x01000039u, 0x02003031u, 0x02003131u,
	0x02003231u, 0x02003331u, 0x02003431u, 0x02003531u,
	0x02003631u, 0x02003731u, 0x02003831u, 0x02003931u,
	0x02003032u, 0x02003132u, 0x02003232u, 0x02003332u,
	0x02003432u, 0x02003532u, 0x02003632u, 0x02003732u,
	0x02003832u, 0x02003932u, 0x02003033u, 0x02003133u,
	0x02003233u, 0x02003333u, 0x02003433u, 0x02003533u,
	0x02003633u, 0x02003733u, 0x02003833u, 0x02003933u,
	0x02003034u, 0x02003134u, 0x02003234u, 0x02003334u,
	0x02003434u, 0x02003534u, 0x02003634u, 0x02003734u,
	0x02003834u, 0x02003934u, 0x02003035u, 0x02003135u,
	0x02003235u, 0x02003335u, 0x02003435u, 0x02003535u,
	0x02003635u, 0x02003735u, 0x02003835u, 0x02003935u,
	0x02003036u, 0x02003136u, 0x02003236u, 0x02003336u,
	0x02003436u, 0x02003536u, 0x02003636u, 0x02003736u,
	0x02003836u, 0x02003936u, 0x02003037u, 0x02003137u,
	0x02003237u, 0x02003337u, 0x02003437u, 0x02003537u,
	0x02003637u, 0x02003737u, 0x02003837u, 0x02003937u,
	0x02003038u, 0x02003138u, 0x02003238u, 0x02003338u,
	0x02003438u, 0x02003538u, 0x02003638u, 0x02003738u,
	0x02003838u, 0x02003938u, 0x02003039u, 0x02003139u,
	0x02003239u, 0x02003339u, 0x02003439u, 0x02003539u,
	0x02003639u, 0x02003739u, 0x02003839u, 0x02003939u,
	0x03303031u, 0x03313031u, 0x03323031u, 0x03333031u,
	0x03343031u, 0x03353031u, 0x03363031u, 0x03373031u,
	0x03383031u, 0x03393031u, 0x03303131u, 0x03313131u,
	0x03323131u, 0x03333131u, 0x03343131u, 0x03353131u,
	0x03363131u, 0x03373131u, 0x03383131u, 0x03393131u,
	0x03303231u, 0x03313231u, 0x03323231u, 0x03333231u,
	0x03343231u, 0x03353231u, 0x03363231u, 0x03373231u,
	0x03383231u, 0x03393231u, 0x03303331u, 0x03313331u,
	0x03323331u, 0x03333331u, 0x03343331u, 0x03353331u,
	0x03363331u, 0x03373331u, 0x03383331u, 0x03393331u,
	0x03303431u, 0x03313431u, 0x03323431u, 0x03333431u,
	0x03343431u, 0x03353431u, 0x03363431u, 0x03373431u,
	0x03383431u, 0x03393431u, 0x03303531u, 0x03313531u,
	0x03323531u, 0x03333531u, 0x03343531u, 0x03353531u,
	0x03363531u, 0x03373531u, 0x03383531u, 0x03393531u,
	0x03303631u, 0x03313631u, 0x03323631u, 0x03333631u,
	0x03343631u, 0x03353631u, 0x03363631u, 0x03373631u,
	0x03383631u, 0x03393631u, 0x03303731u, 0x03313731u,
	0x03323731u, 0x03333731u, 0x03343731u, 0x03353731u,
	0x03363731u, 0x03373731u, 0x03383731u, 0x03393731u,
	0x03303831u, 0x03313831u, 0x03323831u, 0x03333831u,
	0x03343831u, 0x03353831u, 0x03363831u, 0x03373831u,
	0x03383831u, 0x03393831u, 0x03303931u, 0x03313931u,
	0x03323931u, 0x03333931u, 0x03343931u, 0x03353931u,
	0x03363931u, 0x03373931u, 0x03383931u, 0x03393931u,
	0x03303032u, 0x03313032u, 0x03323032u, 0x03333032u,
	0x03343032u, 0x03353032u, 0x03363032u, 0x03373032u,
	0x03383032u, 0x03393032u, 0x03303132u, 0x03313132u,
	0x03323132u, 0x03333132u, 0x03343132u, 0x03353132u,
	0x03363132u, 0x03373132u, 0x03383132u, 0x03393132u,
	0x03303232u, 0x03313232u, 0x03323232u, 0x03333232u,
	0x03343232u, 0x03353232u, 0x03363232u, 0x03373232u,
	0x03383232u, 0x03393232u, 0x03303332u, 0x03313332u,
	0x03323332u, 0x03333332u, 0x03343332u, 0x03353332u,
	0x03363332u, 0x03373332u, 0x03383332u, 0x03393332u,
	0x03303432u, 0x03313432u, 0x03323432u, 0x03333432u,
	0x03343432u, 0x03353432u, 0x03363432u, 0x03373432u,
	0x03383432u, 0x03393432u, 0x03303532u, 0x03313532u,
	0x03323532u, 0x03333532u, 0x03343532u, 0x03353532u,
};

/* One byte in decimal at o, then a '.'; returns the position after the dot.
 * Writes the 4 bytes of the entry at o whatever the digit count (one store);
 * the dot and what comes next are written over those past the digits. */
static inline char *put_byte(char *o, uint8_t v)
{
	uint32_t e = dec_byte[v];
	o[0] = (char)(e & 0xFFu);
	o[1] = (char)((e >> 8) & 0xFFu);
	o[2] = (char)((e >> 16) & 0xFFu);
	o[3] = (char)(e >> 24);
	o += e >> 24;
	*o = '.';
	return o + 1;
}

/* Dotted quad at o; returns the end (not terminated; a '.' was written
 * there). o has room for 16 bytes. */
static inline char *put_v4(char *o, const uint8_t *a)
{
	o = put_byte(o, a[0]);
	o = put_byte(o, a[1]);
	o = put_byte(o, a[2]);
	o = put_byte(o, a[3]);
	return o - 1;
}

/* IPv6 text as glibc's inet_ntop writes it (RFC 5952: lowercase, no leading
 * zeros, the first longest run of two or more zero groups as "::", and the
 * IPv4 forms ::a.b.c.d and ::ffff:a.b.c.d). out has room for 46 bytes.
 * Returns the end (the terminator). */
static DEC_NOINLINE char *put_v6(char *out, const uint8_t *a)
{
	static const char hx[] = "0123456789abcdef";
	unsigned w[8];
	int best = -1, blen = 0, cur = -1, clen = 0;
	char *o = out;
	for (int i = 0; i < 8; i++) {
		w[i] = (unsigned)a[2 * i] << 8 | a[2 * i + 1];
		if (w[i] == 0) {
			if (cur < 0) {
				cur = i;
				clen = 0;
			}
			if (++clen > blen) {
				best = cur;
				blen = clen;
			}
		} else {
			cur = -1;
		}
	}
	if (blen < 2)
		best = -1;
	for (int i = 0; i < 8; i++) {
		if (best >= 0 && i >= best && i < best + blen) {
			if (i == best)
				*o++ = ':';
			continue;
		}
		if (i)
			*o++ = ':';
		if (i == 6 && best == 0 && (blen == 6 || (blen == 5 && w[5] == 0xffff))) {
			o = put_v4(o, a + 12);
			break;
		}
		{ /* no leading zeros */
			unsigned v = w[i];
			if (v >= 0x1000u)
				*o++ = hx[v >> 12];
			if (v >= 0x100u)
				*o++ = hx[(v >> 8) & 15u];
			if (v >= 0x10u)
				*o++ = hx[(v >> 4) & 15u];
			*o++ = hx[v & 15u];
		}
	}
	if (best >= 0 && best + blen == 8)
		*o++ = ':';
	*o = '\0';
	return o;
}

/* Writes the address as text into buf, cut to buflen - 1 bytes and always
 * terminated (nothing past the terminator is touched). */
char *decode_addr_put(int ipver, const uint8_t *a, char *out)
{
	char *e = ipver != 6 ? put_v4(out, a) : put_v6(out, a);
	*e = '\0';
	return e;
}

void decode_addr_str(int ipver, const uint8_t *a, char *buf, size_t buflen)
{
	char t[64];
	size_t n;
	if (!buflen)
		return;
	if (ipver != 6) {
		/* by hand: one per connection end, often */
		n = (size_t)(put_v4(t, a) - t);
	} else {
		n = (size_t)(put_v6(t, a) - t);
	}
	if (n > buflen - 1)
		n = buflen - 1;
	/* the first n bytes of t to buf, and no more: two overlapping copies */
	if (n >= 8 && n <= 16) {
		memcpy(buf, t, 8);
		memcpy(buf + n - 8, t + n - 8, 8);
	} else if (n >= 4 && n < 8) {
		memcpy(buf, t, 4);
		memcpy(buf + n - 4, t + n - 4, 4);
	} else {
		memcpy(buf, t, n);
	}
	buf[n] = '\0';
}
