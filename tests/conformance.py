#!/usr/bin/env python3
"""conformance.py: pinspect against tshark's truth for the public corpus.

For every capture in CORPUS/captures with truth in CORPUS/truth, run
`pinspect analyze --json --dns-queries` and compare, field by field:
  - TLS, one row per tcp.stream (NAME.tls.tsv): the endpoints, SNI, version,
    ServerHello/Certificate presence and chain length, alerts in order, RST
    and FIN per side, application-data record counts;
  - DNS, one row per query message (NAME.dns.tsv): answered or not, the
    response frame, rcode, CNAME chain, A and AAAA addresses.
Disagreements that are tshark's (or a deliberate difference) are listed in
tests/conformance/known.tsv with the reason; any other one fails the test.

usage: conformance.py PINSPECT CORPUS_DIR KNOWN_TSV [-v]
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

TLS_FIELDS = [
    "client_ip", "client_port", "server_ip", "server_port", "sni", "version",
    "server_hello", "certificate", "server_cert_count", "alerts", "client_rst",
    "client_fin", "appdata_c2s", "appdata_s2c", "server_rst", "server_fin",
]
DNS_FIELDS = ["answered", "response_frame", "rcode", "cname_chain", "a", "aaaa"]


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE))


def split_ep(ep):
    if ep.startswith("["):
        host, port = ep[1:].rsplit("]:", 1)
    else:
        host, port = ep.rsplit(":", 1)
    return host, port


def yn(v):
    return "y" if v else "n"


def ours_tls_row(c):
    t = c["tls"]
    cip, cport = split_ep(c["client"])
    sip, sport = split_ep(c["server"])
    return {
        "client_ip": cip, "client_port": cport, "server_ip": sip, "server_port": sport,
        "sni": c["sni"] or "",
        "version": c["tls_version_code"] or "",
        "server_hello": yn(t["server_hello"]),
        "certificate": yn(t["certificate"]),
        "server_cert_count": str(t["cert_count"]) if t["certificate"] else "",
        "alerts": ",".join(t["alerts"]),
        "client_rst": yn(t["client_rst"]), "client_fin": yn(t["client_fin"]),
        "appdata_c2s": str(t["appdata_c2s"]), "appdata_s2c": str(t["appdata_s2c"]),
        "server_rst": yn(t["server_rst"]), "server_fin": yn(t["server_fin"]),
    }


def norm_list(v):
    return ",".join(sorted(x for x in v.split(",") if x))


def main():
    args = [a for a in sys.argv[1:] if a != "-v"]
    verbose = "-v" in sys.argv
    if len(args) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    pinspect, corpus, known_path = args
    known = {}
    if os.path.exists(known_path):
        for row in read_tsv(known_path):
            known[(row["file"], row["kind"], row["key"], row["field"])] = row["reason"]
    used_known = set()
    passed = failed = knowns = 0
    capdir = os.path.join(corpus, "captures")
    truthdir = os.path.join(corpus, "truth")
    for name in sorted(os.listdir(capdir)):
        tls_truth = os.path.join(truthdir, name + ".tls.tsv")
        dns_truth = os.path.join(truthdir, name + ".dns.tsv")
        if not os.path.exists(tls_truth):
            continue
        with tempfile.NamedTemporaryFile("r", suffix=".tsv") as dq:
            p = subprocess.run([pinspect, "analyze", "--json", "-q", "--no-ndpi", "--dns-queries", dq.name,
                                os.path.join(capdir, name)], capture_output=True, text=True, timeout=120)
            if p.returncode not in (0, 4):
                print(f"FAIL {name}: exit status {p.returncode}: {p.stderr.strip()}")
                failed += 1
                continue
            try:
                doc = json.loads(p.stdout)
            except ValueError as e:
                print(f"FAIL {name}: output is not JSON: {e}")
                failed += 1
                continue
            dns_rows = read_tsv(dq.name) if os.path.getsize(dq.name) else []

        def check(kind, key, field, want, got):
            nonlocal passed, failed, knowns
            k = (name, kind, key, field)
            if want == got:
                passed += 1
                return
            if k in known:
                knowns += 1
                used_known.add(k)
                if verbose:
                    print(f"known {name} {kind} {key} {field}: tshark {want!r}, pinspect {got!r}: {known[k]}")
                return
            failed += 1
            print(f"FAIL {name} {kind} {key} {field}: tshark {want!r}, pinspect {got!r}")

        ours = {str(c["tcp_stream"]): c for c in doc["connections"]}
        for row in read_tsv(tls_truth):
            s = row["tcp_stream"]
            c = ours.pop(s, None)
            if c is None:
                check("tls", s, "present", "y", "n")
                continue
            mine = ours_tls_row(c)
            for f in TLS_FIELDS:
                check("tls", s, f, row[f], mine[f])
        for s in ours:
            check("tls", s, "present", "n", "y")

        if os.path.exists(dns_truth):
            mine_by = {}
            for r in dns_rows:
                mine_by.setdefault((r["frame"], r["id"], r["qname"]), []).append(r)
            for row in read_tsv(dns_truth):
                key = (row["frame"], row["id"], row["qname"])
                lst = mine_by.get(key)
                label = f"{row['frame']}/{row['id']}/{row['qname']}"
                if not lst:
                    check("dns", label, "present", "y", "n")
                    continue
                r = lst.pop(0)
                for f in DNS_FIELDS:
                    want, got = row[f], r.get(f, "")
                    if f in ("a", "aaaa"):
                        want, got = norm_list(want), norm_list(got)
                    if f == "cname_chain":
                        want, got = want.lower(), got.lower()
                    check("dns", label, f, want, got)
            for key, lst in mine_by.items():
                for r in lst:
                    check("dns", "/".join(key), "present", "n", "y")

    stale = set(known) - used_known
    for k in sorted(stale):
        print(f"note: known difference no longer seen: {' '.join(k)}")
    print(f"conformance: {knowns} known differences (tests/conformance/known.tsv)")
    print(f"{passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
