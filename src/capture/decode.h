/* decode.h: link layer, IPv4/IPv6 (with fragment reassembly), TCP and UDP.
 *
 * decode_packet() peels a packet down to its innermost IP header and the
 * TCP/UDP header above it, through Ethernet (802.1Q, QinQ), PPPoE session,
 * Linux cooked SLL/SLL2, raw IP, BSD null/loopback, IPv6 extension headers,
 * and UDP tunnels (VXLAN 4789, Geneve 6081) and IP-in-IP. Addresses are those
 * of the innermost IP header, as Wireshark shows them.
 *
 * Fragments are held (bounded, PI_FRAG_*) until the datagram is whole; the
 * reassembled datagram is then returned with the frame of its last fragment.
 */
#ifndef PI_DECODE_H
#define PI_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "capture/capture.h"
#include "common/limits.h"

#define TH_FIN 0x01
#define TH_SYN 0x02
#define TH_RST 0x04
#define TH_PSH 0x08
#define TH_ACK 0x10
#define TH_URG 0x20

/* decode.c's fast path (fast_ip) writes each field by name instead of
 * zeroing the whole: a field added here must be written there too. */
struct decoded {
	uint8_t ipver;        /* 4 or 6 */
	uint8_t proto;        /* 6 TCP, 17 UDP */
	uint8_t src[16];      /* IPv4 in the first 4 bytes, rest zero */
	uint8_t dst[16];
	uint16_t sport, dport;
	/* TCP only */
	uint8_t tcp_flags;
	uint32_t seq, ack;
	uint16_t win;
	/* payload above TCP/UDP: paylen bytes are present; wire_paylen is what the
	 * IP/UDP lengths say (larger when the capture cut the packet) */
	const uint8_t *payload;
	uint32_t paylen;
	uint32_t wire_paylen;
	/* the innermost IP header and what follows, for nDPI */
	const uint8_t *l3;
	uint32_t l3len;
	uint8_t reassembled; /* 1 when built from IP fragments */
};

enum dec_rc {
	DEC_OK = 0,      /* *out is a TCP or UDP packet */
	DEC_SKIP = 1,    /* readable but not TCP/UDP over IP (ARP, ICMP...), or a
	                    fragment held for reassembly */
	DEC_TRUNC = 2,   /* cut before the TCP/UDP header (snaplen) */
	DEC_BAD = 3,     /* malformed headers */
	DEC_LINKTYPE = 4 /* link type not handled */
};

struct decoder;

/* caps may be NULL; otherwise fragment drops are counted there. */
struct decoder *decoder_new(struct pi_caps *caps);
void decoder_free(struct decoder *d);
/* Forget held fragments (between input files). */
void decoder_reset(struct decoder *d);

/* Fragments currently held for reassembly (still incomplete). At the end of
 * the input they will never complete: the caller may count them as dropped. */
uint64_t decoder_frags_held(const struct decoder *d);

/* Decode one packet. Pointers in *out point into pkt->data or into a
 * reassembly buffer owned by d, valid until the next call. */
int decode_packet(struct decoder *d, const struct packet *pkt, struct decoded *out);

/* Format an address as text: "1.2.3.4" or "2001:db8::1". buf >= 46 bytes. */
void decode_addr_str(int ipver, const uint8_t *a, char *buf, size_t buflen);
/* The same text at out, which has room for DECODE_ADDR_MAX bytes (the
 * terminator included; a few bytes past the text may be written too).
 * Returns the end (the terminator). */
#define DECODE_ADDR_MAX 64
char *decode_addr_put(int ipver, const uint8_t *a, char *out);

#endif
