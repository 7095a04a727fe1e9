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
    # DNS: the names, chains, answers and unanswered tries of mixed.pcapng
    dns_path = os.path.join(samples, "expected-dns.tsv")
    if os.path.exists(dns_path):
        with open(dns_path, newline="") as f:
            drows = list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))
        docs = {}
        for r in drows:
            if r["file"] not in docs:
                p = subprocess.run([pinspect, "analyze", "--json", "-q", os.path.join(samples, r["file"])],
                                   capture_output=True, text=True, timeout=120)
                docs[r["file"]] = json.loads(p.stdout)
            got = [d for d in docs[r["file"]]["dns"] if d["name"] == r["name"] and d["qtype"] == r["qtype"]]
            label = f"{r['file']} dns {r['name']} {r['qtype']}"
            if len(got) != 1:
                print(f"FAIL {label}: {len(got)} records")
                failed += 1
                continue
            g = got[0]
            problems = []
            if g["queries"] != int(r["queries"]):
                problems.append(f"queries {g['queries']} != {r['queries']}")
            if g["answered"] != int(r["responses"]):
                problems.append(f"answered {g['answered']} != {r['responses']}")
            if (g["rcode"] or "-") != r["rcode"]:
                problems.append(f"rcode {g['rcode']} != {r['rcode']}")
            want_chain = [] if r["chain"] == "-" else r["chain"].split(">")[1:]
            if g["chain"] != want_chain:
                problems.append(f"chain {g['chain']} != {want_chain}")
            if r["addresses"] != "-":
                if "-" in r["addresses"] and r["addresses"].count(".") == 6:
                    lo, hi = r["addresses"].split("-")
                    base = lo.rsplit(".", 1)[0]
                    want = {f"{base}.{i}" for i in range(int(lo.rsplit('.', 1)[1]), int(hi.rsplit('.', 1)[1]) + 1)}
                    if not set(g["addresses"]) <= want or not g["addresses"]:
                        problems.append(f"addresses {g['addresses']} not within {r['addresses']}")
                elif set(g["addresses"]) != set(r["addresses"].split(",")):
                    problems.append(f"addresses {g['addresses']} != {r['addresses']}")
            elif g["addresses"]:
                problems.append(f"addresses {g['addresses']} != none")
            if r["rcode"] == "-" and g.get("unanswered") != int(r["queries"]):
                problems.append(f"unanswered {g.get('unanswered')} != {r['queries']}")
            if problems:
                print(f"FAIL {label}: {'; '.join(problems)}")
                failed += 1
            else:
                passed += 1
        # every TLS connection carries the name the client asked for
        for name, d in docs.items():
            for c in d["connections"]:
                if not c["name"]:
                    print(f"FAIL {name} stream {c['tcp_stream']}: no name")
                    failed += 1
                elif not c["sni"] and c["name_source"] != "dns":
                    print(f"FAIL {name} stream {c['tcp_stream']}: no SNI and the name is not from DNS")
                    failed += 1
                else:
                    passed += 1

    # the differential diagnosis: the category of every name in samples/diag
    diag = os.path.join(samples, "diag", "expected.tsv")
    if os.path.exists(diag):
        with open(diag, newline="") as f:
            lines = [l for l in f if not l.startswith("#")]
        rows = list(csv.DictReader(["file\tname\tcategory\n"] + lines, delimiter="\t", quoting=csv.QUOTE_NONE))
        for with_ca in (True, False):
            docs = {}
            for r in rows:
                if r["file"] not in docs:
                    args = [pinspect, "analyze", "--json", "-q", "--include-healthy"]
                    if with_ca:
                        args += ["--inspection-ca", os.path.join(samples, "diag", "inspection-ca.pem")]
                    p = subprocess.run(args + [os.path.join(samples, "diag", r["file"])],
                                       capture_output=True, text=True, timeout=120)
                    docs[r["file"]] = {c["rule"]: c for c in json.loads(p.stdout)["candidates"]}
                c = docs[r["file"]].get(r["name"])
                label = f"diag {r['file']} {r['name']}{' (--inspection-ca)' if with_ca else ''}"
                if not c:
                    print(f"FAIL {label}: no candidate (want {r['category']})")
                    failed += 1
                elif c["category"] != r["category"]:
                    print(f"FAIL {label}: {c['category']} != {r['category']}: {c['why']}")
                    failed += 1
                else:
                    passed += 1

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
