#!/usr/bin/env python3
"""make-stress.py -- write captures that push every cap of pinspect (src/common/limits.h).

Usage:  tests/stress/make-stress.py [--out DIR] [--scale F] [NAME...]
        NAME: syn-flood frag-flood dns-names reasm-holes hs-bigmsg (default: all)

Each capture is classic pcap, Ethernet, written in time order, with valid
lengths (checksums are left zero: pinspect does not check them). --scale
multiplies the counts (0.01 for a quick try). What each one holds, and the
cap it must hit (tests/stress/run-stress.sh checks the JSON "limits"):

  syn-flood    1,100,000 SYN-only TCP flows from distinct clients within
               110 s (no flow idles out): PI_MAX_FLOWS (1,000,000) is passed,
               so the oldest flows are finalised early -> flows_evicted
  frag-flood   300,000 IPv4 first fragments of datagrams that never complete
               (distinct IDs), then datagrams with overlapping fragments and
               ones whose fragments reach past 65,535 bytes:
               PI_FRAG_MAX_DGRAMS / PI_FRAG_MAX_BYTES -> fragments_dropped
  dns-names    1,000,000 DNS queries for distinct names over UDP, every other
               one answered (A record): PI_DNS_MAX_NAMES (200,000) ->
               dns_names_dropped; the unanswered ones pass DNS_MAX_PENDING
  reasm-holes  2,000 TCP connections open at once (handshake, a ClientHello),
               each then missing one segment and sending 300 segments of
               1,000 bytes past the hole, interleaved across connections:
               PI_REASM_MAX_SEGS / PI_REASM_MAX_OOO per direction ->
               reassembly_gaps_forced (holes skipped to stay within the caps;
               PI_REASM_BUDGET, all flows: reassembly_budget_hits)
  hs-bigmsg    1,000 TLS connections whose ClientHello declares 200,000 bytes
               (over PI_TLS_MAX_HS_MSG: skipped -> tls_messages_too_big), and
               1,000 more declaring 120,000 bytes and sending 96,000 of them
               (buffered until the flow ends)
Stdlib only; about 1.5 GB in all at --scale 1 (a minute or two to write).
"""
import argparse
import os
import struct
import sys

ETH_IP4 = b"\x02\x00\x00\x00\x00\x02" + b"\x02\x00\x00\x00\x00\x01" + b"\x08\x00"
T0 = 1700000000


class Pcap:
    def __init__(self, path):
        self.f = open(path, "wb", buffering=4 << 20)
        self.f.write(struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1))
        self.n = 0

    def pkt(self, ts_us, data):
        sec, us = divmod(ts_us, 1000000)
        self.f.write(struct.pack("<IIII", T0 + sec, us, len(data), len(data)))
        self.f.write(data)
        self.n += 1

    def close(self):
        self.f.close()


def ip4(src, dst, proto, payload, ident=0, frag=0, tot=None):
    tot = 20 + len(payload) if tot is None else tot
    return ETH_IP4 + struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, ident, frag, 64, proto, 0, src, dst) + payload


def tcp(sport, dport, seq, ack, flags, payload=b""):
    return struct.pack("!HHIIBBHHH", sport, dport, seq, ack, 5 << 4, flags, 65535, 0, 0) + payload


def udp(sport, dport, payload):
    return struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload


def addr(n, net=10):
    return bytes([net, (n >> 16) & 255, (n >> 8) & 255, n & 255])


SRV = bytes([192, 0, 2, 1])
SYN, ACK, PSH, FIN, RST = 0x02, 0x10, 0x08, 0x01, 0x04


def syn_flood(path, scale):
    n = int(1100000 * scale)
    w = Pcap(path)
    span = 110 * 1000000
    for i in range(n):
        c = addr(i + 1)
        w.pkt(i * span // max(n, 1), ip4(c, SRV, 6, tcp(1024 + i % 60000, 443, (i * 7919) & 0xFFFFFFFF, 0, SYN)))
    w.close()
    return w.n


def frag_flood(path, scale):
    n = int(300000 * scale)
    w = Pcap(path)
    body = bytes(1000)
    src, dst = addr(1, 172), addr(2, 172)
    t = 0
    for i in range(n):  # first fragments (MF set, offset 0), never completed
        t = i * 20 * 1000000 // max(n, 1)
        w.pkt(t, ip4(src, dst, 17, udp(40000, 53, body[:992]), ident=i & 0xFFFF,
                     frag=0x2000, tot=20 + 1000))
    for i in range(max(1, n // 100)):  # overlapping fragments
        t += 10
        ident = 0x8000 | (i & 0x7FFF)
        w.pkt(t, ip4(src, addr(3, 172), 17, udp(40001, 53, body[:392]), ident=ident, frag=0x2000, tot=420))
        w.pkt(t + 1, ip4(src, addr(3, 172), 17, body[:400], ident=ident, frag=0x2000 | 25, tot=420))
        w.pkt(t + 2, ip4(src, addr(3, 172), 17, body[:400], ident=ident, frag=40, tot=420))
    for i in range(max(1, n // 100)):  # fragments reaching past 65,535 bytes
        t += 10
        ident = i & 0xFFFF
        w.pkt(t, ip4(src, addr(4, 172), 17, udp(40002, 53, body[:992]), ident=ident, frag=0x2000, tot=1020))
        w.pkt(t + 1, ip4(src, addr(4, 172), 17, body, ident=ident, frag=8190, tot=1020))
    w.close()
    return w.n


def dns_name(i):
    return b"".join(bytes([len(l)]) + l for l in (b"n%07d" % i, b"stress", b"example")) + b"\0"


def dns_names(path, scale):
    n = int(1000000 * scale)
    w = Pcap(path)
    cli, res = addr(1, 10), addr(53, 10)
    span = 200 * 1000000
    for i in range(n):
        t = i * span // max(n, 1)
        qid = i & 0xFFFF
        q = struct.pack("!HHHHHH", qid, 0x0100, 1, 0, 0, 0) + dns_name(i) + b"\x00\x01\x00\x01"
        sport = 10000 + i % 50000
        w.pkt(t, ip4(cli, res, 17, udp(sport, 53, q)))
        if i % 2 == 0:
            a = (struct.pack("!HHHHHH", qid, 0x8180, 1, 1, 0, 0) + dns_name(i) + b"\x00\x01\x00\x01" +
                 b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04" + addr(i, 100))
            w.pkt(t + 1, ip4(res, cli, 17, udp(53, sport, a)))
    w.close()
    return w.n


def client_hello(sni, declared=None, total=None):
    """A ClientHello handshake message; declared/total: claim a length and pad the body."""
    ext_sni = struct.pack("!HHHBH", 0, len(sni) + 5, len(sni) + 3, 0, len(sni)) + sni
    body = b"\x03\x03" + bytes(32) + b"\x00" + b"\x00\x02\x13\x01" + b"\x01\x00" + struct.pack("!H", len(ext_sni)) + ext_sni
    if declared is None:
        return b"\x01" + len(body).to_bytes(3, "big") + body
    body = body + bytes((total or declared) - len(body))
    return b"\x01" + declared.to_bytes(3, "big") + body


def records(hs, size=16384):
    out = b""
    for i in range(0, len(hs), size):
        frag = hs[i:i + size]
        out += b"\x16\x03\x01" + struct.pack("!H", len(frag)) + frag
    return out


def handshake(w, t, c, cport, srv=SRV):
    w.pkt(t, ip4(c, srv, 6, tcp(cport, 443, 1000, 0, SYN)))
    w.pkt(t + 1, ip4(srv, c, 6, tcp(443, cport, 5000, 1001, SYN | ACK)))
    w.pkt(t + 2, ip4(c, srv, 6, tcp(cport, 443, 1001, 5001, ACK)))


def reasm_holes(path, scale):
    nflows = max(1, int(2000 * scale))
    nseg = 300
    w = Pcap(path)
    t = 0
    seqs = []
    for f in range(nflows):
        c = addr(f + 1, 10)
        handshake(w, t, c, 30000 + f)
        ch = records(client_hello(b"hole%d.stress.example" % f))
        w.pkt(t + 3, ip4(c, SRV, 6, tcp(30000 + f, 443, 1001, 5001, ACK | PSH, ch)))
        seqs.append(1001 + len(ch))
        t += 20
    seg = bytes([0x17, 0x03, 0x03]) + bytes(997)
    for k in range(nseg):  # segment 0 after the ClientHello is missing: hole of 1,000 bytes
        for f in range(nflows):
            t += 1
            c = addr(f + 1, 10)
            seq = seqs[f] + (k + 1) * 1000
            w.pkt(t, ip4(c, SRV, 6, tcp(30000 + f, 443, seq & 0xFFFFFFFF, 5001, ACK, seg)))
    for f in range(nflows):
        t += 1
        w.pkt(t, ip4(addr(f + 1, 10), SRV, 6, tcp(30000 + f, 443, (seqs[f] + (nseg + 1) * 1000) & 0xFFFFFFFF,
                                                    5001, RST | ACK)))
    w.close()
    return w.n


def hs_bigmsg(path, scale):
    nbig = max(1, int(1000 * scale))
    nheld = max(1, int(1000 * scale))
    w = Pcap(path)
    t = 0
    srv2 = bytes([192, 0, 2, 2])
    for f in range(nbig):  # declared 200,000 bytes: over the cap, skipped
        c = addr(f + 1, 11)
        handshake(w, t, c, 20000 + f % 40000, srv2)
        data = records(client_hello(b"big%d.stress.example" % f, 200000, 200000))
        seq = 1001
        for i in range(0, len(data), 1448):
            w.pkt(t + 3 + i // 1448, ip4(c, srv2, 6, tcp(20000 + f % 40000, 443, seq, 5001, ACK, data[i:i + 1448])))
            seq += len(data[i:i + 1448])
        t += 200
    conns = []
    for f in range(nheld):  # declared 120,000, 96,000 sent: held until the flow ends
        c = addr(f + 1, 12)
        handshake(w, t, c, 20000 + f % 40000)
        conns.append((c, 20000 + f % 40000, records(client_hello(b"held%d.stress.example" % f, 120000, 120000))[:96000 + 30]))
        t += 5
    # interleave, so every buffer is held at the same time
    off = 0
    while True:
        sent = False
        for c, cport, data in conns:
            if off < len(data):
                t += 1
                w.pkt(t, ip4(c, SRV, 6, tcp(cport, 443, 1001 + off, 5001, ACK, data[off:off + 1448])))
                sent = True
        if not sent:
            break
        off += 1448
    w.close()
    return w.n


MAKERS = {
    "syn-flood": syn_flood,
    "frag-flood": frag_flood,
    "dns-names": dns_names,
    "reasm-holes": reasm_holes,
    "hs-bigmsg": hs_bigmsg,
}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.environ.get("STRESS_DIR", "/tmp/pinspect-stress"))
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("names", nargs="*")
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)
    for name in a.names or list(MAKERS):
        if name not in MAKERS:
            sys.exit("make-stress.py: unknown capture '%s' (%s)" % (name, " ".join(MAKERS)))
        path = os.path.join(a.out, name + ".pcap")
        n = MAKERS[name](path, a.scale)
        print("%s: %d packets, %.1f MB" % (path, n, os.path.getsize(path) / 1e6))


if __name__ == "__main__":
    main()
