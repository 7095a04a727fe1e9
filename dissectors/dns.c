/* dns.c: DNS message parser and DNS-over-TCP framing.
 * RFC 1035 4.1, RFC 3596, RFC 6891, RFC 9460, RFC 7766; layout in dns.h.
 *
 * Every wire read goes through the bounds-checked cursor (common/cur.h).
 * Nothing recurses on wire data: names are walked in a loop whose pointers
 * must move strictly backwards and whose hops are capped.
 */
#include "dissectors/dns.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "common/cur.h"

/* ------------------------------------------------------------------ names */

/* Label bytes written as they are (0: escaped as \DDD instead), as is or
 * lowercased: the rule of name_walk's byte loop, as constant tables. */
#define NM_PLAIN(c) ((c) > 0x20 && (c) < 0x7f && (c) != '.' && (c) != '\\' ? (c) : 0)
#define NM_LOWER(c) (NM_PLAIN(c) | ((c) >= 'A' && (c) <= 'Z' ? 0x20 : 0))
#define NM_R4(f, c) f(c), f((c) + 1), f((c) + 2), f((c) + 3)
#define NM_R16(f, c) NM_R4(f, c), NM_R4(f, (c) + 4), NM_R4(f, (c) + 8), NM_R4(f, (c) + 12)
#define NM_R64(f, c) NM_R16(f, c), NM_R16(f, (c) + 16), NM_R16(f, (c) + 32), NM_R16(f, (c) + 48)
#define NM_R256(f) NM_R64(f, 0), NM_R64(f, 64), NM_R64(f, 128), NM_R64(f, 192)
static const uint8_t name_plain[256] = { NM_R256(NM_PLAIN) };
static const uint8_t name_lower[256] = { NM_R256(NM_LOWER) };

/* Nonzero when one of the 8 bytes of w is not plain (see name_plain):
 * >= 0x80, < 0x21, 0x7f, '.' or '\\'. SWAR on the low 7 bits, where no
 * addition carries into the next byte. */
static inline uint64_t word_unplain(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t low7 = w & (0x7f * ones);
	uint64_t ge21 = low7 + (0x80 - 0x21) * ones;              /* high bit: >= 0x21 */
	uint64_t ge7f = low7 + (0x80 - 0x7f) * ones;              /* high bit: >= 0x7f */
	uint64_t ndot = (low7 ^ ('.' * ones)) + 0x7f * ones;       /* high bit: != '.' */
	uint64_t nbsl = (low7 ^ ('\\' * ones)) + 0x7f * ones;     /* high bit: != '\\' */
	return (w | ~ge21 | ge7f | ~ndot | ~nbsl) & (0x80 * ones);
}

/* 8 bytes with ASCII A-Z as a-z (the high bit marks A..Z, then 0x20). */
static inline uint64_t word_lower(uint64_t w)
{
	const uint64_t ones = 0x0101010101010101ull;
	uint64_t low7 = w & (0x7f * ones);
	uint64_t ge_a = low7 + (0x80 - 'A') * ones;
	uint64_t gt_z = low7 + (0x7f - 'Z') * ones;
	return w | (((ge_a ^ gt_z) & ~w & (0x80 * ones)) >> 2);
}

/* Walk the name at off. If out is non-NULL, write its text (see
 * dns_name_text). *next gets the offset after the name in place. Returns
 * DNS_OK, DNS_ETRUNC or DNS_EBAD. Every read is checked against len by
 * index (pos < len before msg[pos], len - pos >= 2 for a pointer, a label's
 * bytes before they are read). Always inlined: the callers without out
 * (every name dns_parse meets) get a walk without the text code. */
static inline __attribute__((always_inline)) int
name_walk(const uint8_t *msg, size_t len, size_t off, size_t *next,
          char *out, size_t outlen, int lower, size_t *outn, int *nhops)
{
	size_t pos = off;       /* next byte to read */
	size_t seq_start = off; /* start of the current label sequence */
	size_t wire = 0;        /* wire length of the name so far */
	size_t o = 0;           /* text length */
	int jumped = 0, hops = 0, rc = DNS_OK, full = 0;

	for (;;) {
		if (pos >= len) {
			rc = DNS_ETRUNC;
			break;
		}
		unsigned b = msg[pos];
		if ((b & 0xC0) == 0xC0) {
			if (len - pos < 2) {
				rc = DNS_ETRUNC;
				break;
			}
			size_t ptr = ((size_t)(b & 0x3F) << 8) | msg[pos + 1];
			/* tcpdump's rule: strictly before the current sequence */
			if (ptr >= seq_start || ++hops > DNS_MAX_HOPS) {
				rc = DNS_EBAD;
				break;
			}
			if (!jumped) {
				*next = pos + 2;
				jumped = 1;
			}
			pos = seq_start = ptr;
			continue;
		}
		if (b & 0xC0) { /* 01xxxxxx / 10xxxxxx: extended labels, obsolete */
			rc = DNS_EBAD;
			break;
		}
		if (b == 0) {
			if (++wire > DNS_NAME_WIRE_MAX) {
				rc = DNS_EBAD;
				break;
			}
			if (!jumped)
				*next = pos + 1;
			break;
		}
		/* label of b <= 63 bytes */
		wire += 1u + b;
		if (wire + 1 > DNS_NAME_WIRE_MAX) { /* + the root byte still to come */
			rc = DNS_EBAD;
			break;
		}
		if (len - pos - 1 < b) { /* pos < len here */
			rc = DNS_ETRUNC;
			break;
		}
		const uint8_t *lab = msg + pos + 1;
		if (out && !full) {
			/* text stops at the first piece that does not fit */
			if (o) {
				if (o + 1 < outlen)
					out[o++] = '.';
				else
					full = 1;
			}
			unsigned i = 0;
			if (o + b + 1 < outlen) {
				/* room for the label as is: copy its plain bytes at
				 * table speed, fall to the byte rules at the first other */
				const uint8_t *map = lower ? name_lower : name_plain;
				for (; i < b; i++) {
					uint8_t m = map[lab[i]];
					if (!m)
						break;
					out[o + i] = (char)m;
				}
				o += i;
			}
			for (; i < b && !full; i++) {
				uint8_t ch = lab[i];
				if (ch > 0x20 && ch < 0x7f && ch != '.' && ch != '\\') {
					if (lower && ch >= 'A' && ch <= 'Z')
						ch = (uint8_t)(ch - 'A' + 'a');
					if (o + 1 < outlen)
						out[o++] = (char)ch;
					else
						full = 1;
				} else if (o + 4 < outlen) {
					out[o++] = '\\';
					out[o++] = (char)('0' + ch / 100);
					out[o++] = (char)('0' + (ch / 10) % 10);
					out[o++] = (char)('0' + ch % 10);
				} else {
					full = 1;
				}
			}
		}
		pos += 1u + b;
	}
	if (out && outlen)
		out[o < outlen ? o : outlen - 1] = '\0';
	if (outn)
		*outn = o;
	if (nhops)
		*nhops = hops;
	return rc;
}

int dns_name_skip(const uint8_t *msg, size_t len, size_t off, size_t *next)
{
	return name_walk(msg, len, off, next, NULL, 0, 0, NULL, NULL);
}

/* The common case of dns_name_text: a valid name whose label bytes are all
 * plain, into a buffer that holds any such text (outlen > DNS_NAME_WIRE_MAX:
 * the text is shorter than the wire form). Same checks as name_walk, in
 * the same order; returns the length, or -1 for anything else (an error,
 * a byte to escape), which name_walk then does from the start. Labels are
 * copied 8 bytes at a time while whole words of plain bytes remain, and
 * a label's last 8 bytes as one word overlapping those before (reads and
 * writes stay inside the label). */
static int name_text_plain(const uint8_t *msg, size_t len, size_t off, char *out, int lower)
{
	const uint8_t *map = lower ? name_lower : name_plain;
	size_t pos = off, seq_start = off, wire = 0, o = 0;
	int hops = 0;
	for (;;) {
		if (pos >= len)
			return -1;
		unsigned b = msg[pos];
		if ((b & 0xC0) == 0xC0) {
			if (len - pos < 2)
				return -1;
			size_t ptr = ((size_t)(b & 0x3F) << 8) | msg[pos + 1];
			if (ptr >= seq_start || ++hops > DNS_MAX_HOPS)
				return -1;
			pos = seq_start = ptr;
			continue;
		}
		if (b & 0xC0)
			return -1;
		if (b == 0)
			break; /* wire <= DNS_NAME_WIRE_MAX - 1 here: the root byte fits */
		wire += 1u + b;
		if (wire + 1 > DNS_NAME_WIRE_MAX || len - pos - 1 < b)
			return -1;
		const uint8_t *lab = msg + pos + 1;
		unsigned i = 0;
		uint64_t w;
		if (o)
			out[o++] = '.';
		for (; i + 8 <= b; i += 8) {
			memcpy(&w, lab + i, 8);
			if (word_unplain(w))
				return -1;
			if (lower)
				w = word_lower(w);
			memcpy(out + o + i, &w, 8);
		}
		if (i < b && b >= 8) {
			memcpy(&w, lab + b - 8, 8);
			if (word_unplain(w))
				return -1;
			if (lower)
				w = word_lower(w);
			memcpy(out + o + b - 8, &w, 8);
			i = b;
		}
		for (; i < b; i++) {
			uint8_t m = map[lab[i]];
			if (!m)
				return -1;
			out[o + i] = (char)m;
		}
		o += b;
		pos += 1u + b;
	}
	out[o] = '\0';
	return (int)o;
}

int dns_name_text(const uint8_t *msg, size_t len, uint16_t off, char *out, size_t outlen, int lower)
{
	size_t next, n = 0;
	if (!outlen)
		return -1;
	if (outlen > DNS_NAME_WIRE_MAX) {
		int r = name_text_plain(msg, len, off, out, lower);
		if (r >= 0)
			return r;
	}
	int rc = name_walk(msg, len, off, &next, out, outlen, lower, &n, NULL);
	return rc == DNS_OK ? (int)n : -1;
}

/* Names one dns_parse validated: where each starts and the pointers its
 * walk followed. Most names of a response are one pointer to a name before
 * (the answers' owners to the question or a CNAME target): such a name is
 * valid exactly when the name it points at is and has a hop to spare (the
 * walk from the pointer is the walk from there, one hop more, same wire
 * length), so it is not walked again. */
#define DNS_PARSE_MEMO 8
struct nmemo {
	unsigned n;
	uint16_t off[DNS_PARSE_MEMO];
	uint8_t hops[DNS_PARSE_MEMO];
};

/* Validate the name at start (see name_walk): *next and the status. */
static int name_check(const uint8_t *msg, size_t len, size_t start, size_t *next, struct nmemo *nm)
{
	int hops = 0, rc;
	if (start < len && len - start >= 2 && (msg[start] & 0xC0) == 0xC0) {
		size_t ptr = ((size_t)(msg[start] & 0x3F) << 8) | msg[start + 1];
		if (ptr < start) /* name_walk's rule for the first pointer */
			for (unsigned i = 0; i < nm->n; i++)
				if (nm->off[i] == ptr && nm->hops[i] < DNS_MAX_HOPS) {
					*next = start + 2;
					return DNS_OK;
				}
	}
	rc = name_walk(msg, len, start, next, NULL, 0, 0, NULL, &hops);
	if (rc == DNS_OK && nm->n < DNS_PARSE_MEMO) {
		nm->off[nm->n] = (uint16_t)start;
		nm->hops[nm->n++] = (uint8_t)hops;
	}
	return rc;
}

/* Parse a name at the cursor position (offsets are message offsets);
 * advance the cursor past it. */
static int name_at(const uint8_t *msg, size_t len, struct cur *c, uint16_t *off, struct nmemo *nm)
{
	size_t start = (size_t)(c->p - msg), next = start;
	int rc = name_check(msg, len, start, &next, nm);
	if (rc != DNS_OK)
		return rc;
	*off = (uint16_t)start;
	c->p = msg + next;
	return DNS_OK;
}

/* ------------------------------------------------------------------ RDATA */

/* A name inside RDATA: compression allowed (RFC 3597 4 allows it for the
 * RFC 1035 types), but the in-place part must stay inside the RDATA. */
static int rdata_name(const uint8_t *msg, size_t len, struct cur *rd, uint16_t *off, struct nmemo *nm)
{
	size_t start = (size_t)(rd->p - msg), next = start;
	size_t rdend = (size_t)(rd->end - msg);
	int rc = name_check(msg, len, start, &next, nm);
	if (rc != DNS_OK)
		return DNS_EBAD; /* the RDATA is all present: running out is malformed */
	if (next > rdend)
		return DNS_EBAD;
	*off = (uint16_t)start;
	rd->p = msg + next;
	return DNS_OK;
}

static void svcb_params(const uint8_t *msg, struct cur *rd, struct dns_svcb *s, int *ok)
{
	while (cur_left(rd)) {
		uint16_t key, vlen;
		struct cur v;
		if (cur_u16(rd, &key) != PI_OK || cur_u16(rd, &vlen) != PI_OK ||
		    cur_sub(rd, vlen, &v) != PI_OK) {
			*ok = 0;
			return;
		}
		switch (key) {
		case 1: /* alpn: <1-byte length><id>... */
			while (cur_left(&v)) {
				struct cur id;
				if (cur_vec8(&v, &id) != PI_OK) {
					*ok = 0;
					break;
				}
				if (s->nalpn < DNS_MAX_ALPN) {
					s->alpn[s->nalpn].off = (uint16_t)(id.p - msg);
					s->alpn[s->nalpn].len = (uint8_t)cur_left(&id);
					s->nalpn++;
				}
			}
			break;
		case 2:
			s->no_default_alpn = 1;
			break;
		case 3:
			if (cur_u16(&v, &s->port) == PI_OK && !cur_left(&v))
				s->has_port = 1;
			else
				*ok = 0;
			break;
		case 4: /* ipv4hint */
			if (vlen % 4) {
				*ok = 0;
				break;
			}
			while (cur_left(&v) >= 4) {
				const uint8_t *a;
				(void)cur_bytes(&v, 4, &a);
				if (s->nv4 < DNS_MAX_V4HINT)
					memcpy(s->v4[s->nv4++], a, 4);
			}
			break;
		case 5:
			s->ech = 1;
			break;
		case 6: /* ipv6hint */
			if (vlen % 16) {
				*ok = 0;
				break;
			}
			while (cur_left(&v) >= 16) {
				const uint8_t *a;
				(void)cur_bytes(&v, 16, &a);
				if (s->nv6 < DNS_MAX_V6HINT)
					memcpy(s->v6[s->nv6++], a, 16);
			}
			break;
		default:
			break;
		}
	}
}

/* Decode the RDATA of *rr. A malformed name makes the message DNS_EBAD;
 * fixed-size fields of the wrong size only leave rdata_ok at 0. */
static int rdata_decode(const uint8_t *msg, size_t len, struct dns_rr *rr, struct nmemo *nm)
{
	struct cur rd = cur_make(msg + rr->rdoff, rr->rdlen);
	int rc;
	uint16_t skip16;
	switch (rr->type) {
	case DNS_T_A:
		if (rr->rdlen == 4) {
			memcpy(rr->u.a, rd.p, 4);
			rr->rdata_ok = 1;
		}
		return DNS_OK;
	case DNS_T_AAAA:
		if (rr->rdlen == 16) {
			memcpy(rr->u.aaaa, rd.p, 16);
			rr->rdata_ok = 1;
		}
		return DNS_OK;
	case DNS_T_CNAME:
	case DNS_T_NS:
	case DNS_T_PTR:
	case DNS_T_DNAME:
		rc = rdata_name(msg, len, &rd, &rr->u.target, nm);
		rr->rdata_ok = rc == DNS_OK && !cur_left(&rd);
		return rc;
	case DNS_T_MX:
		if (cur_u16(&rd, &skip16) != PI_OK)
			return DNS_OK;
		rc = rdata_name(msg, len, &rd, &rr->u.target, nm);
		rr->rdata_ok = rc == DNS_OK && !cur_left(&rd);
		return rc;
	case DNS_T_SRV:
		if (cur_skip(&rd, 6) != PI_OK)
			return DNS_OK;
		rc = rdata_name(msg, len, &rd, &rr->u.target, nm);
		rr->rdata_ok = rc == DNS_OK && !cur_left(&rd);
		return rc;
	case DNS_T_SOA: {
		uint32_t refresh, retry, expire;
		rc = rdata_name(msg, len, &rd, &rr->u.soa.mname, nm);
		if (rc == DNS_OK)
			rc = rdata_name(msg, len, &rd, &rr->u.soa.rname, nm);
		if (rc != DNS_OK)
			return rc;
		if (cur_u32(&rd, &rr->u.soa.serial) == PI_OK && cur_u32(&rd, &refresh) == PI_OK &&
		    cur_u32(&rd, &retry) == PI_OK && cur_u32(&rd, &expire) == PI_OK &&
		    cur_u32(&rd, &rr->u.soa.minimum) == PI_OK && !cur_left(&rd))
			rr->rdata_ok = 1;
		return DNS_OK;
	}
	case DNS_T_OPT:
		rr->u.opt.udp_size = rr->rclass;
		rr->u.opt.ext_rcode = (uint8_t)(rr->ttl >> 24);
		rr->u.opt.version = (uint8_t)(rr->ttl >> 16);
		rr->u.opt.flags = (uint16_t)rr->ttl;
		rr->rdata_ok = 1;
		return DNS_OK;
	case DNS_T_SVCB:
	case DNS_T_HTTPS: {
		int ok = 1;
		memset(&rr->u.svcb, 0, sizeof rr->u.svcb);
		if (cur_u16(&rd, &rr->u.svcb.priority) != PI_OK)
			return DNS_OK;
		rc = rdata_name(msg, len, &rd, &rr->u.svcb.target, nm);
		if (rc != DNS_OK)
			return rc;
		svcb_params(msg, &rd, &rr->u.svcb, &ok);
		rr->rdata_ok = (uint8_t)ok;
		return DNS_OK;
	}
	default:
		return DNS_OK;
	}
}

/* ---------------------------------------------------------------- message */

static int parse_rr(const uint8_t *msg, size_t len, struct cur *c, struct dns_rr *rr, struct nmemo *nm)
{
	uint16_t rdlen;
	const uint8_t *rdp;
	int rc = name_at(msg, len, c, &rr->name, nm);
	if (rc != DNS_OK)
		return rc;
	if (cur_left(c) >= 10) {
		/* the fixed fields present: read them under one check */
		const uint8_t *p = c->p;
		rr->type = (uint16_t)(p[0] << 8 | p[1]);
		rr->rclass = (uint16_t)(p[2] << 8 | p[3]);
		rr->ttl = (uint32_t)p[4] << 24 | (uint32_t)p[5] << 16 | (uint32_t)p[6] << 8 | p[7];
		rdlen = (uint16_t)(p[8] << 8 | p[9]);
		c->p += 10;
		if (cur_bytes(c, rdlen, &rdp) != PI_OK)
			return DNS_ETRUNC;
	} else if (cur_u16(c, &rr->type) != PI_OK || cur_u16(c, &rr->rclass) != PI_OK ||
	           cur_u32(c, &rr->ttl) != PI_OK || cur_u16(c, &rdlen) != PI_OK ||
	           cur_bytes(c, rdlen, &rdp) != PI_OK) {
		return DNS_ETRUNC; /* the cursor after the fields that were there */
	}
	rr->rdoff = (uint16_t)(rdp - msg);
	rr->rdlen = rdlen;
	rr->rdata_ok = 0;
	return rdata_decode(msg, len, rr, nm);
}

int dns_parse(const uint8_t *buf, size_t len, struct dns_msg *m)
{
	struct cur c;
	int rc = DNS_OK;
	uint16_t counts[3];
	struct nmemo nm;

	nm.n = 0;
	/* reset the scalar part only: the RR arrays are filled by count */
	memset(m, 0, offsetof(struct dns_msg, an));
	m->buf = buf;
	/* offsets are 16-bit: a DNS message is at most 65535 bytes */
	if (len > 65535)
		len = 65535;
	m->len = len;
	c = cur_make(buf, len);

	if (cur_u16(&c, &m->id) != PI_OK || cur_u16(&c, &m->flags) != PI_OK ||
	    cur_u16(&c, &m->qdcount) != PI_OK || cur_u16(&c, &m->ancount) != PI_OK ||
	    cur_u16(&c, &m->nscount) != PI_OK || cur_u16(&c, &m->arcount) != PI_OK) {
		/* id and flags may still be there: fill what was read */
		if (len >= 2)
			m->id = (uint16_t)(buf[0] << 8 | buf[1]);
		if (len >= 4)
			m->flags = (uint16_t)(buf[2] << 8 | buf[3]);
		rc = DNS_ETRUNC;
		goto flags;
	}
	m->have_hdr = 1;
flags:
	m->qr = (uint8_t)(m->flags >> 15);
	m->opcode = (uint8_t)((m->flags >> 11) & 0xF);
	m->aa = (uint8_t)((m->flags >> 10) & 1);
	m->tc = (uint8_t)((m->flags >> 9) & 1);
	m->rd = (uint8_t)((m->flags >> 8) & 1);
	m->ra = (uint8_t)((m->flags >> 7) & 1);
	m->ad = (uint8_t)((m->flags >> 5) & 1);
	m->cd = (uint8_t)((m->flags >> 4) & 1);
	m->rcode = (uint8_t)(m->flags & 0xF);
	m->ext_rcode = m->rcode;
	if (!m->have_hdr) {
		m->end = len < 4 ? len : 4;
		m->status = (uint8_t)rc;
		return rc;
	}

	for (uint32_t i = 0; i < m->qdcount; i++) {
		uint16_t off, qt, qc;
		rc = name_at(buf, len, &c, &off, &nm);
		if (rc != DNS_OK)
			goto out;
		if (cur_u16(&c, &qt) != PI_OK || cur_u16(&c, &qc) != PI_OK) {
			rc = DNS_ETRUNC;
			goto out;
		}
		if (i == 0) {
			m->have_q = 1;
			m->qname = off;
			m->qtype = qt;
			m->qclass = qc;
		}
		m->nq_parsed++;
	}

	counts[0] = m->ancount;
	counts[1] = m->nscount;
	counts[2] = m->arcount;
	for (int s = 0; s < 3; s++) {
		static const uint8_t maxkeep[3] = { DNS_MAX_AN, DNS_MAX_NS, DNS_MAX_AR };
		struct dns_rr *arr = s == 0 ? m->an : s == 1 ? m->ns : m->ar;
		uint8_t *kept = s == 0 ? &m->nan : s == 1 ? &m->nns : &m->nar;
		for (uint32_t i = 0; i < counts[s]; i++) {
			struct dns_rr tmp, *rr = *kept < maxkeep[s] ? &arr[*kept] : &tmp;
			rr->section = (uint8_t)s;
			rc = parse_rr(buf, len, &c, rr, &nm);
			if (rc != DNS_OK)
				goto out;
			m->nrr_parsed[s]++;
			if (rr->type == DNS_T_OPT && s == DNS_SEC_AR && !m->have_opt) {
				m->have_opt = 1;
				m->edns_udp = rr->u.opt.udp_size;
				m->ext_rcode = (uint16_t)(m->rcode | (rr->u.opt.ext_rcode << 4));
			}
			if (rr == &tmp)
				m->rr_dropped++;
			else
				(*kept)++;
		}
	}
out:
	m->end = (size_t)(c.p - buf);
	m->status = (uint8_t)rc;
	return rc;
}

/* ------------------------------------------------------------------ probe */

static int port_kind(uint16_t port)
{
	switch (port) {
	case 53:
		return DNS_KIND_DNS;
	case 5353:
		return DNS_KIND_MDNS;
	case 5355:
		return DNS_KIND_LLMNR;
	default:
		return DNS_KIND_NONE;
	}
}

int dns_probe_udp(const uint8_t *p, size_t len, uint16_t sport, uint16_t dport)
{
	uint16_t lo = sport < dport ? sport : dport, hi = sport < dport ? dport : sport;
	int k;
	if (!p || !len)
		return DNS_KIND_NONE;
	if ((k = port_kind(lo)) != DNS_KIND_NONE || (k = port_kind(hi)) != DNS_KIND_NONE)
		return k;

	/* NetBIOS name service (RFC 1002) uses the DNS format on 137: not DNS */
	if (lo == 137 || hi == 137)
		return DNS_KIND_NONE;
	/* heuristic: one whole, sane message (counts as Wireshark's dns_udp
	 * heuristic: answers <= 100, authority <= 10, additional <= 10) */
	struct dns_msg mm, *m = &mm;
	if (len <= DNS_HDR_LEN || dns_parse(p, len, m) != DNS_OK || m->end != len)
		return DNS_KIND_NONE;
	if (m->qdcount != 1 || m->opcode > 5 || m->ancount > 100 || m->nscount > 10 ||
	    m->arcount > 10)
		return DNS_KIND_NONE;
	if (!m->qr && m->opcode == 0 && (m->ancount || m->nscount))
		return DNS_KIND_NONE;
	switch (m->qclass) {
	case 1: case 3: case 4: case 254: case 255:
		break;
	default:
		return DNS_KIND_NONE;
	}
	return DNS_KIND_DNS;
}

int dns_probe_tcp_ports(uint16_t sport, uint16_t dport)
{
	if (sport == 53 || dport == 53 || sport == 5353 || dport == 5353)
		return DNS_KIND_DNS;
	return DNS_KIND_NONE;
}

/* ------------------------------------------------------------------ names */

const char *dns_type_name(uint16_t type, char *buf, size_t buflen)
{
	switch (type) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 13: return "HINFO";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 35: return "NAPTR";
	case 39: return "DNAME";
	case 41: return "OPT";
	case 43: return "DS";
	case 46: return "RRSIG";
	case 47: return "NSEC";
	case 48: return "DNSKEY";
	case 50: return "NSEC3";
	case 51: return "NSEC3PARAM";
	case 52: return "TLSA";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 99: return "SPF";
	case 251: return "IXFR";
	case 252: return "AXFR";
	case 255: return "ANY";
	case 257: return "CAA";
	default:
		snprintf(buf, buflen, "TYPE%u", (unsigned)type);
		return buf;
	}
}

const char *dns_rcode_name(unsigned rcode, char *buf, size_t buflen)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
		"YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI"
	};
	if (rcode < sizeof names / sizeof names[0])
		return names[rcode];
	if (rcode == 16)
		return "BADVERS";
	snprintf(buf, buflen, "RCODE%u", rcode);
	return buf;
}

/* -------------------------------------------------------------- TCP framing */

int dns_tcp_feed(struct dns_tcp_dir *d, const uint8_t *data, size_t len, dns_tcp_cb cb, void *ctx)
{
	struct cur c = cur_make(data, len);
	int n = 0;
	if (d->dead)
		return -1;
	while (cur_left(&c)) {
		if (d->nlen < 2) {
			(void)cur_u8(&c, &d->lenbuf[d->nlen]);
			if (++d->nlen < 2)
				continue;
			d->need = (uint16_t)(d->lenbuf[0] << 8 | d->lenbuf[1]);
			d->have = 0;
			if (d->need == 0) { /* empty message: nothing to wait for */
				d->nlen = 0;
				cb(ctx, data, 0);
				n++;
				continue;
			}
		}
		if (d->have == 0 && cur_left(&c) >= d->need) {
			/* whole message in this chunk: hand it out in place */
			const uint8_t *p = data;
			(void)cur_bytes(&c, d->need, &p); /* cannot fail: checked above */
			d->nlen = 0;
			cb(ctx, p, d->need);
			n++;
			continue;
		}
		if (d->cap < d->need) {
			uint8_t *nb = realloc(d->buf, d->need);
			if (!nb) {
				free(d->buf);
				d->buf = NULL;
				d->cap = 0;
				d->dead = 1;
				return -1;
			}
			d->buf = nb;
			d->cap = d->need;
		}
		size_t take = d->need - d->have;
		if (take > cur_left(&c))
			take = cur_left(&c);
		const uint8_t *p = data;
		(void)cur_bytes(&c, take, &p); /* cannot fail: take <= left */
		memcpy(d->buf + d->have, p, take);
		d->have = (uint16_t)(d->have + take);
		if (d->have == d->need) {
			d->nlen = 0;
			d->have = 0;
			cb(ctx, d->buf, d->need);
			n++;
		}
	}
	return n;
}

void dns_tcp_gap(struct dns_tcp_dir *d)
{
	d->nlen = 0;
	d->have = 0;
	d->need = 0;
}

void dns_tcp_dir_free(struct dns_tcp_dir *d)
{
	free(d->buf);
	memset(d, 0, sizeof *d);
}
