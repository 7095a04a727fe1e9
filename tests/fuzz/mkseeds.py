#!/usr/bin/env python3
"""mkseeds.py -- (re)make the fuzz seed corpora in tests/fuzz/corpus/<target>/ from captures.

Usage:  tests/fuzz/mkseeds.py [--out tests/fuzz/corpus] [--max-dir-kb 190] CAPTURE...
        (default captures: samples/*.pcap* and ../shared/corpus/public/captures/*)

Nothing of a capture is copied whole: each seed is a small piece, in the
input format of its target (see the comment at the top of each fuzz_*.c):
  fuzz_capture  tiny synthetic captures (pcap us/ns, both byte orders, pcapng
                with several interfaces, EPB/SPB/OPB, gzip) holding the first
                packets of a capture
  fuzz_decode   the first packets of a capture (a few KB) as decode records
  fuzz_tls      the TCP payload of a TLS connection (retransmissions
                dropped) as feed operations, capped at 4 KB; two per capture
  fuzz_dns      one DNS-over-TCP stream per capture: its DNS messages, each
                with a 2-byte length
  fuzz_cert     distinct DER certificates of plaintext Certificate messages
                (three per capture at most)
  fuzz_bundle   a zip and a tar.gz log bundle (tunnel log, captures, CSV,
                a path trick, a link) around the first small capture
  fuzz_hello    a piece size, then the client's first bytes of a TLS
                connection
  fuzz_zsat, fuzz_webins, fuzz_connect
                hand-written log lines, CSV exports and CONNECT heads
Reading captures and finding IP/TCP headers uses ../shared/bench/replicate-capture.py.
Stdlib only. Seeds are named after their capture, so rerunning is stable.
"""
import argparse
import glob
import gzip
import hashlib
import importlib.util
import os
import io
import struct
import sys
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.normpath(os.path.join(HERE, "..", ".."))


def load_replicate():
    path = os.path.join(TOP, "..", "shared", "bench", "replicate-capture.py")
    spec = importlib.util.spec_from_file_location("replicate", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


R = load_replicate()
LINKTYPES = [1, 101, 0, 108, 113, 276, 228, 229, 12, 14]  # fuzz_decode.c linktypes[]


def stem(path):
    b = os.path.basename(path)
    for ext in (".gz", ".pcapng", ".pcap", ".cap"):
        if b.endswith(ext):
            b = b[: -len(ext)]
    return b


class Seeds:
    def __init__(self, out, max_kb):
        self.out = out
        self.max = max_kb * 1024
        self.used = {}

    def put(self, target, name, data):
        d = os.path.join(self.out, target)
        os.makedirs(d, exist_ok=True)
        if self.used.get(target, 0) + len(data) > self.max:
            return False
        path = os.path.join(d, name)
        with open(path, "wb") as f:
            f.write(data)
        self.used[target] = self.used.get(target, 0) + len(data)
        return True


def read_packets(path, limit=None):
    out = []
    try:
        for ts, lt, data, orig in R.read_capture(path):
            out.append((ts, lt, bytes(data), orig))
            if limit and len(out) >= limit:
                break
    except (ValueError, struct.error, KeyError, IndexError):
        pass
    return out


# ---------------------------------------------------------------- fuzz_decode
def decode_seed(pkts, budget, opts=0):
    if not pkts:
        return None
    lt0 = pkts[0][1]
    if lt0 not in LINKTYPES:
        return None
    out = bytearray([LINKTYPES.index(lt0), opts])
    last = pkts[0][0]
    for ts, lt, data, orig in pkts:
        rec = bytearray()
        step = max(0, min(254, (ts - last) // 1000000))
        last = ts
        fl = 0 if lt == lt0 else (LINKTYPES.index(lt) + 1 if lt in LINKTYPES else 0)
        if orig > len(data):
            fl |= 0x10
        data = data[:65535]
        rec += struct.pack("!HBB", len(data), step, fl) + data
        if len(out) + len(rec) > budget:
            break
        out += rec
    return bytes(out)


# ---------------------------------------------------------------- TCP streams
def tcp_streams(pkts):
    """{(canonical key): [(dir, payload)...]} in order, retransmissions dropped;
    dir 0 = the SYN's sender (else the higher port)."""
    conns = {}
    for ts, lt, data, orig in pkts:
        p = R.parse(lt, data)
        if not p:
            continue
        ver, ipo, l4, proto, src, dst, sport, dport, l4_len, flags = p
        if proto != 6:
            continue
        doff = (data[l4 + 12] >> 4) * 4
        seq = struct.unpack("!I", data[l4 + 4:l4 + 8])[0]
        payload = data[l4 + doff:l4 + l4_len] if l4_len >= doff else b""
        a, b = (src, sport), (dst, dport)
        key = (min(a, b), max(a, b))
        c = conns.get(key)
        if c is None:
            if flags & 0x12 == 0x02:
                client = a
            elif flags & 0x12 == 0x12:
                client = b
            else:
                client = a if sport > dport else b
            c = conns[key] = {"client": client, "next": {}, "ops": []}
        d = 0 if a == c["client"] else 1
        if flags & 0x02:
            c["next"][d] = (seq + 1) & 0xFFFFFFFF
            continue
        if not payload:
            continue
        nxt = c["next"].get(d, seq)
        off = (nxt - seq) & 0xFFFFFFFF
        if off >= len(payload) and off < 0x80000000:
            continue  # retransmitted
        if off >= 0x80000000:
            off = 0  # a hole: feed on
        payload = payload[off:]
        c["next"][d] = (seq + off + len(payload)) & 0xFFFFFFFF
        c["ops"].append((d, payload))
    return conns


def is_tls_start(b):
    return len(b) >= 6 and b[0] == 22 and b[1] == 3 and b[5] in (1, 2)


def tls_seed(ops, cap=4096):
    out = bytearray()
    for d, pl in ops:
        while pl:
            piece = pl[:65535]
            pl = pl[65535:]
            rec = bytes([d | (126 << 1)]) + struct.pack("!H", len(piece)) + piece
            if len(out) + len(rec) > cap:
                rec = rec[: cap - len(out)]
                out += rec
                return bytes(out)
            out += rec
    return bytes(out)


def certs_from_stream(s2c):
    """DER certificates of plaintext TLS 1.0-1.2 Certificate messages."""
    hs = bytearray()
    pos = 0
    while pos + 5 <= len(s2c):
        ct, ln = s2c[pos], struct.unpack("!H", s2c[pos + 3:pos + 5])[0]
        body = s2c[pos + 5:pos + 5 + ln]
        pos += 5 + ln
        if ct == 20:
            break
        if ct == 22:
            hs += body
    certs = []
    p = 0
    while p + 4 <= len(hs):
        t, ln = hs[p], int.from_bytes(hs[p + 1:p + 4], "big")
        msg = hs[p + 4:p + 4 + ln]
        p += 4 + ln
        if t == 11 and len(msg) >= 3:
            q = 3
            while q + 3 <= len(msg):
                cl = int.from_bytes(msg[q:q + 3], "big")
                if q + 3 + cl > len(msg):
                    break
                certs.append(bytes(msg[q + 3:q + 3 + cl]))
                q += 3 + cl
    return certs


# ---------------------------------------------------------------- fuzz_dns
def dns_stream(pkts):
    out = bytearray()
    conns = tcp_streams(pkts)
    for ts, lt, data, orig in pkts:
        p = R.parse(lt, data)
        if not p:
            continue
        ver, ipo, l4, proto, src, dst, sport, dport, l4_len, flags = p
        if proto == 17 and 53 in (sport, dport):
            msg = data[l4 + 8:l4 + l4_len]
            out += struct.pack("!H", len(msg)) + msg
    for key, c in conns.items():
        if 53 in (key[0][1], key[1][1]):
            for d, pl in c["ops"]:
                out += pl  # already length-prefixed
    return bytes(out)


# ---------------------------------------------------------------- fuzz_capture
def pcap_bytes(pkts, nano=False, big=False, snap=65535):
    e = ">" if big else "<"
    magic = 0xA1B23C4D if nano else 0xA1B2C3D4
    lt = pkts[0][1]
    out = bytearray(struct.pack(e + "IHHiIII", magic, 2, 4, 0, 0, snap, lt))
    for ts, plt, data, orig in pkts:
        if plt != lt:
            continue
        sec, frac = divmod(ts, 1000000000)
        if not nano:
            frac //= 1000
        out += struct.pack(e + "IIII", sec, frac, len(data), orig) + data
    return bytes(out)


def pcapng_bytes(pkts, big=False):
    e = ">" if big else "<"

    def block(t, body):
        body += b"\0" * ((4 - len(body) % 4) % 4)
        n = len(body) + 12
        return struct.pack(e + "II", t, n) + body + struct.pack(e + "I", n)

    def opt(code, val):
        return struct.pack(e + "HH", code, len(val)) + val + b"\0" * ((4 - len(val) % 4) % 4)

    out = bytearray(block(0x0A0D0D0A, struct.pack(e + "IHHq", 0x1A2B3C4D, 1, 0, -1)
                          + opt(4, b"mkseeds") + opt(0, b"")))
    lts = []
    for _, lt, _, _ in pkts:
        if lt not in lts:
            lts.append(lt)
    for i, lt in enumerate(lts):  # interface 0 in microseconds, the others in nanoseconds
        opts = opt(2, b"if%d" % i) + (opt(9, b"\x09") if i else b"") + opt(0, b"")
        out += block(1, struct.pack(e + "HHI", lt, 0, 262144) + opts)
    for n, (ts, lt, data, orig) in enumerate(pkts):
        iid = lts.index(lt)
        t = ts if iid else ts // 1000
        if n == 1 and iid == 0:  # one Simple Packet Block
            out += block(3, struct.pack(e + "I", orig) + data)
        elif n == 2:  # one obsolete Packet Block
            out += block(2, struct.pack(e + "HHIIII", iid, 0, t >> 32, t & 0xFFFFFFFF, len(data), orig) + data)
        else:
            out += block(6, struct.pack(e + "IIIII", iid, t >> 32, t & 0xFFFFFFFF, len(data), orig) + data
                         + opt(1, b"c%d" % n) + opt(0, b""))
    return bytes(out)


# ---------------------------------------------------------------- text inputs
ZSAT = (b"2024-07-17 18:16:29.783551(-0400)[80582:16211546] INF ID=492535293, Tunnel to SME for "
        b"host=downloaddispatch.itunes.apple.com:443, SME IP=104.129.206.47:443\n"
        b"2024-07-17 18:16:30.054381(-0400)[80582:16211546] WAR ID=492535293, Exception in TcpConnection "
        b"run() (Error=Application exception: Both client and server sockets are closed!)\n"
        b"2024-07-17 18:16:30.054553(-0400)[80582:16211546] INF ==> ID=492535293, ~ZTCPServerConnection "
        b"state=closed ServerConnections=1 clt_bytes=891, srv_bytes=4230!\n")
ZSAT2 = (b"2024/07/17T18:16:29.7Z[1:2] INF ID=7, Tunnel to SME for host=Gateway.Icloud.COM.:443, SME IP=1.2.3.4:443\r\n"
         b"2024-07-17 18:16:29 INF ID=8, Tunnel to SME for host=[2001:db8::1]:8443, SME IP=1.2.3.4:443\r\n"
         b"2024-07-17 18:16:30.0+02:00[1:2] WAR ID=7, Exception in TcpConnection run() (Error=Application\r\n"
         b"exception: Both client and server sockets are closed!)\r\n"
         b"garbage line\r\n"
         b"2024-07-17 18:16:31.0(+0530)[1:2] INF ==> ID=7, ~ZTCPServerConnection state=closed clt_bytes=12, srv_bytes=99999!\r\n"
         b"2024-07-17 18:16:32.0(+0530)[1:2] INF ==> ID=99, ~ZTCPServerConnection state=closed clt_bytes=1, srv_bytes=1!")
WEBINS = (b"Web Insights Logs\nTime Frame,Last 24 Hours\n\n"
          b"No.,Logged Time,User,URL,Policy Action,Location\n"
          b"1,\"Wednesday, July 17, 2024 6:16:30 PM\",alice@example.com,https://user@Gateway.iCloud.com:443/x?y,"
          b"Dropped due to failed client SSL handshake,HQ\n"
          b"2,2024-07-17 18:16:31+02:00,bob,\"api.example.com/a,b\",Allowed,\"Branch\nOffice\"\n"
          b"3,7/17/2024 18:16,carol,ocsp.apple.com.,Dropped due to failed client SSL handshake,HQ\n"
          b"4,Wed Jul 17 18:16:30 2024,,,Dropped due to failed client SSL handshake\n")
WEBINS2 = ("Logged Time\tUser Name\tRequest URL\tAction\r\n"
           "2024-07-17T18:16:30Z\tdave\tapp.example.org\tDropped due to failed client SSL handshake\r\n"
           "2024-07-17T18:16:31Z\teve\tb\u00fccher.example\tBlocked\r\n")
CONNECT = [
    b"CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n",
    b"CONNECT [2001:db8::1]:8443 HTTP/1.0\r\n\r\n\x16\x03\x01\x00\x05\x01\x00\x00\x01\x00",
    b"CONNECT 192.0.2.7:443 HTTP/1.1\nUser-Agent: x\n\n",
    b"GET http://example.com/ HTTP/1.1\r\nHost: example.com\r\n\r\n",
    b"CONNECT Example.COM:65535 HTTP/1.1\r\nProxy-Authorization: Basic eDp5\r\n\r\n",
]


def bundle_seeds(S, small_pcapng):
    def zinfo(name):
        zi = zipfile.ZipInfo(name, date_time=(2024, 7, 17, 18, 16, 30))
        zi.compress_type = zipfile.ZIP_DEFLATED
        return zi
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w") as z:
        z.writestr(zipfile.ZipInfo("logs/", date_time=(2024, 7, 17, 0, 0, 0)), b"")
        z.writestr(zinfo("logs/ZSATunnel_2024-07-17.log"), ZSAT)
        z.writestr(zinfo("logs/CaptureLWF0.pcapng"), small_pcapng)
        z.writestr(zinfo("logs/CaptureLWF1.pcapng.gz"), gzip.compress(small_pcapng, mtime=0))
        z.writestr(zinfo("web_insights.csv"), WEBINS)
        z.writestr(zinfo("readme.txt"), b"not a capture\n")
    S.put("fuzz_bundle", "zcc-bundle.zip", b.getvalue())
    b = io.BytesIO()
    with tarfile.open(fileobj=b, mode="w:gz", format=tarfile.USTAR_FORMAT) as t:
        for name, data in (("trptunnel.log", ZSAT2), ("CaptureLWF0.pcapng", small_pcapng),
                           ("export.csv", WEBINS2.encode("utf-16"))):
            ti = tarfile.TarInfo(name)
            ti.size, ti.mtime = len(data), 1721240190
            t.addfile(ti, io.BytesIO(data))
        ti = tarfile.TarInfo("../escape.log")
        ti.size, ti.mtime = 3, 1721240190
        t.addfile(ti, io.BytesIO(b"x\n\n"))
        ti = tarfile.TarInfo("link")
        ti.type, ti.linkname, ti.mtime = tarfile.SYMTYPE, "/etc/passwd", 1721240190
        t.addfile(ti)
    S.put("fuzz_bundle", "mac-bundle.tar.gz", b.getvalue())
    S.put("fuzz_bundle", "capture.pcapng", small_pcapng)


def text_seeds(S):
    S.put("fuzz_zsat", "guide.log", b"\x00" + ZSAT)
    S.put("fuzz_zsat", "mixed-crlf.log", b"\x05" + ZSAT2)
    S.put("fuzz_zsat", "utf16le.log", b"\x02" + ZSAT.decode().encode("utf-16"))
    S.put("fuzz_zsat", "utf16be-chunks.log", b"\x2c" + b"\xfe\xff" + ZSAT2.decode().encode("utf-16-be"))
    S.put("fuzz_webins", "portal.csv", b"\x00" + WEBINS)
    S.put("fuzz_webins", "tab-utf16.csv", b"\x07" + WEBINS2.encode("utf-16"))
    S.put("fuzz_webins", "semicolon.csv", b"\x10" + WEBINS.replace(b",", b";"))
    for i, c in enumerate(CONNECT):
        S.put("fuzz_connect", "connect-%d.txt" % i, c)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=os.path.join(HERE, "corpus"))
    ap.add_argument("--max-dir-kb", type=int, default=190)
    ap.add_argument("captures", nargs="*")
    a = ap.parse_args()
    caps = a.captures or sorted(glob.glob(os.path.join(TOP, "samples", "*.pcap*"))) + sorted(
        glob.glob(os.path.join(TOP, "..", "shared", "corpus", "public", "captures", "*")))
    S = Seeds(a.out, a.max_dir_kb)
    text_seeds(S)
    seen_certs = set()
    bundled = False
    for path in caps:
        st = stem(path)
        pkts = read_packets(path, 4000)
        if not pkts:
            continue
        first = pkts[:40]
        # fuzz_capture: a handful of formats, 6 packets, small packets only
        small = [p for p in pkts if len(p[2]) <= 600][:6]
        if small:
            h = int(hashlib.sha1(st.encode()).hexdigest(), 16)
            form = h % 5
            if form == 0:
                b, ext = pcap_bytes(small), "pcap"
            elif form == 1:
                b, ext = pcap_bytes(small, nano=True, big=True), "pcap"
            elif form == 2:
                b, ext = pcapng_bytes(small), "pcapng"
            elif form == 3:
                b, ext = pcapng_bytes(small, big=True), "pcapng"
            else:
                b, ext = gzip.compress(pcapng_bytes(small), mtime=0), "pcapng.gz"
            S.put("fuzz_capture", "%s.%s" % (st, ext), b)
        if small and not bundled and len(small) >= 4:
            bundle_seeds(S, pcapng_bytes(small))
            bundled = True
        # fuzz_decode: the first packets, about 3.5 KB
        # options: nDPI on for a quarter of the captures, the output formats in turn
        h = int(hashlib.sha1(st.encode()).hexdigest(), 16)
        d = decode_seed(first, 3500, (0x81 if h % 4 == 0 else 0) | ((h >> 4) % 3) << 1)
        if d:
            S.put("fuzz_decode", st + ".dec", d)
        conns = tcp_streams(pkts)
        n = ncert = 0
        for key, c in conns.items():
            ops = [o for o in c["ops"] if o[1]]
            if not ops or not is_tls_start(ops[0][1]):
                continue
            if n < 2:
                S.put("fuzz_tls", "%s-%d.tls" % (st, n), tls_seed(ops))
                # fuzz_hello: the client's first bytes, in pieces of a size from the name
                c2s = b"".join(pl for dd, pl in ops if dd == 0)[:4000]
                if c2s and n == 0:
                    h = int(hashlib.sha1(st.encode()).hexdigest(), 16)
                    S.put("fuzz_hello", st + ".hello", bytes([h & 0xFF]) + c2s)
                n += 1
            s2c = b"".join(pl for dd, pl in ops if dd == 1)
            for der in certs_from_stream(s2c):
                hsh = hashlib.sha1(der).hexdigest()[:12]
                if hsh in seen_certs or len(der) > 6000 or ncert >= 3:
                    continue
                ncert += 1
                seen_certs.add(hsh)
                S.put("fuzz_cert", "%s-%s.der" % (st, hsh), der)
        ds = dns_stream(pkts)
        if ds:
            # flags: TCP transport, IPv4 or 6, a chunk seed (0: whole chunks) from the name
            h = int(hashlib.sha1(st.encode()).hexdigest(), 16)
            S.put("fuzz_dns", st + ".dns", bytes([0x04 | (h & 0x08) | ((h >> 8) & 0xF0)]) + ds[:6000])
    for t, n in sorted(S.used.items()):
        print("%-14s %4d KB" % (t, n // 1024))


if __name__ == "__main__":
    main()
