#!/usr/bin/env python3
"""regress.py: every sample capture's verdicts, exactly.

samples/expected.tsv lists, per sample file, every TLS stream with its SNI,
verdict and alert (made with real stacks by samples/make-samples.sh; how
each was made is in samples/README.md). pinspect must give exactly those
verdicts, and no TLS stream that is not listed.

usage: regress.py PINSPECT SAMPLES_DIR
"""
import csv
import json
import os
import subprocess
import sys


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    pinspect, samples = sys.argv[1:]
    with open(os.path.join(samples, "expected.tsv"), newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
    by_file = {}
    for r in rows:
        by_file.setdefault(r["file"], []).append(r)
    passed = failed = 0
    seen_verdicts = set()
    for name, want in sorted(by_file.items()):
        p = subprocess.run([pinspect, "analyze", "--json", "-q", os.path.join(samples, name)],
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            print(f"FAIL {name}: exit status {p.returncode}: {p.stderr.strip()}")
            failed += 1
            continue
        conns = {str(c["tcp_stream"]): c for c in json.loads(p.stdout)["connections"]}
        for r in want:
            c = conns.pop(r["tcp_stream"], None)
            if c is None:
                print(f"FAIL {name} stream {r['tcp_stream']}: not reported (want {r['verdict']})")
                failed += 1
                continue
            got = (c["sni"] or "", c["verdict"], c["alert"] or "")
            exp = tuple("" if v == "-" else v for v in (r["sni"], r["verdict"], r["alert"]))
            if got == exp:
                passed += 1
                seen_verdicts.add(c["verdict"])
            else:
                print(f"FAIL {name} stream {r['tcp_stream']}: want {exp}, got {got} ({c.get('reason')})")
                failed += 1
        for s, c in conns.items():
            print(f"FAIL {name} stream {s}: unexpected TLS connection ({c['verdict']})")
            failed += 1
    everything = {"healthy", "rst-after-hello", "fin-after-hello", "cert-alert", "encrypted-abort",
                  "close-no-data", "other-alert", "server-abort", "incomplete"}
    missing = everything - seen_verdicts
    if missing:
        print(f"FAIL: no sample shows {', '.join(sorted(missing))}")
        failed += 1
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
