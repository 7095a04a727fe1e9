#!/usr/bin/env python3
"""malformed.py: hostile and broken input never crashes pinspect.

Hand-made broken files (each with the exit status and message it must give),
then every sample capture cut at many offsets and with bits flipped at
random (fixed seed, so a failure reproduces): pinspect must exit with one of
its own statuses (0, 3, 4), never by a signal or a sanitizer report, and its
JSON must still parse.

usage: malformed.py PINSPECT SAMPLES_DIR [ROUNDS]
"""
import gzip
import json
import os
import random
import struct
import subprocess
import sys
import tempfile

OK_STATUSES = (0, 3, 4)


def run(pinspect, path, fmt="json"):
    p = subprocess.run([pinspect, "analyze", "--format", fmt, "--no-ndpi", path],
                       capture_output=True, timeout=60)
    return p.returncode, p.stdout, p.stderr.decode("utf-8", "replace")


def pcap_header(linktype=1, snaplen=65535, magic=0xa1b2c3d4, endian="<"):
    return struct.pack(endian + "IHHiIII", magic, 2, 4, 0, 0, snaplen, linktype)


def main():
    args = sys.argv[1:]
    if len(args) < 2:
        print(__doc__, file=sys.stderr)
        return 2
    pinspect, samples = args[0], args[1]
    rounds = int(args[2]) if len(args) > 2 else 40
    passed = failed = 0
    tmp = tempfile.mkdtemp(prefix="pinspect-malformed-")

    def expect(label, data, statuses, msg=None):
        nonlocal passed, failed
        path = os.path.join(tmp, label)
        with open(path, "wb") as f:
            f.write(data)
        rc, out, err = run(pinspect, path)
        problems = []
        if rc not in statuses:
            problems.append(f"exit {rc}, want one of {statuses}")
        if "Sanitizer" in err or "runtime error" in err:
            problems.append("sanitizer report")
        if msg and msg not in err:
            problems.append(f"stderr lacks {msg!r}")
        if rc in (0, 3, 4):
            try:
                json.loads(out)
            except ValueError as e:
                problems.append(f"output not JSON: {e}")
        if problems:
            failed += 1
            print(f"FAIL {label}: {'; '.join(problems)}\n{err[-2000:]}")
        else:
            passed += 1

    eth_ip_tcp = bytes(12) + b"\x08\x00" + bytes.fromhex(
        "450000280001000040060000c0a80001c0a8000201bb303900000001000000005012ffff00000000")
    rec = struct.pack("<IIII", 0, 0, len(eth_ip_tcp), len(eth_ip_tcp)) + eth_ip_tcp

    expect("empty", b"", (3,), "empty")
    expect("garbage", bytes(random.Random(1).randrange(256) for _ in range(4096)), (3,))
    expect("header-only", pcap_header(), (0,))
    expect("cut-mid-record", pcap_header() + rec + rec[:30], (4,), "offset 94")
    expect("caplen-huge", pcap_header() + struct.pack("<IIII", 0, 0, 0x7fffffff, 0x7fffffff) + eth_ip_tcp, (4,))
    expect("unknown-linktype", pcap_header(linktype=4242) + rec, (0,))
    expect("big-endian-nano", pcap_header(magic=0xa1b23c4d, endian=">") +
           struct.pack(">IIII", 0, 0, len(eth_ip_tcp), len(eth_ip_tcp)) + eth_ip_tcp, (0,))
    expect("gzip-cut", gzip.compress(pcap_header() + rec * 10)[:-20], (0, 4))
    expect("pcapng-bad-block-length", bytes.fromhex("0a0d0d0a") + struct.pack("<I", 0xffffffff) +
           bytes.fromhex("4d3c2b1a01000000ffffffffffffffff"), (3, 4))
    expect("snaplen-1", pcap_header(snaplen=1) + struct.pack("<IIII", 0, 0, 1, 60) + b"\x00", (0,))

    rng = random.Random(20261124)
    sample_files = sorted(f for f in os.listdir(samples) if f.endswith((".pcap", ".pcapng")))
    for name in sample_files:
        data = open(os.path.join(samples, name), "rb").read()
        for i in range(rounds):
            if i % 2 == 0:
                cut = rng.randrange(len(data))
                expect(f"{name}.cut{cut}", data[:cut], OK_STATUSES)
            else:
                b = bytearray(data)
                for _ in range(rng.randrange(1, 20)):
                    pos = rng.randrange(24, len(b))
                    b[pos] ^= 1 << rng.randrange(8)
                expect(f"{name}.flip{i}", bytes(b), OK_STATUSES)
    for f in os.listdir(tmp):
        os.unlink(os.path.join(tmp, f))
    os.rmdir(tmp)
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
