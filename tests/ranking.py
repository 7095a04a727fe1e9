#!/usr/bin/env python3
"""ranking.py: pinspect's ranking, merge and bypass-list formats on real captures.

The captures are samples/ranking/*.pcapng (made with real stacks by
samples/ranking/make-ranking-samples.sh; samples/ranking/README.md says how) and
samples/mixed.pcapng.  Checked here:

  verdicts   every TCP connection of samples/ranking/connections.tsv has its verdict
  ranking    samples/ranking/expected.tsv: the category of each rule, per input set,
             and no bypass rule that is not listed; the specific rules of
             doc/ranking.md (the first candidate, wildcards, shared CDNs, baseline)
  merge      pinspect merge of the halves == one run over both (the candidates'
             JSON text), merge(A,B) == merge(B,A) == merge(merge(A),B)
  golden     every format on wildcard.pcapng and mixed.pcapng == tests/golden/
             (csv: the candidates' CSV, written by `pinspect merge -f csv` because
             `analyze -f csv` writes the connections; json: the candidates array)
  formats    each format against doc/formats.md, from the JSON candidates; the
             Wireshark filters with tshark; squid -k parse (squid-openssl); the
             mitmproxy regexes through mitmproxy's own ignore_hosts code when
             python3 can import mitmproxy, else with Python's re

usage: ranking.py [--update] [PINSPECT [TOP_SRCDIR]]
       (defaults: $PINSPECT or ./pinspect, $top_srcdir or the parent of tests/)
--update rewrites tests/golden/ from the current binary, then runs every check.
Prints "N passed, N failed" (and the skipped checks); exit 0 only if none failed.
"""
import csv
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile

FORMATS = ["zscaler", "zscaler-api", "panos", "squid", "mitmproxy", "markdown", "csv", "json"]
LIST_FORMATS = ["zscaler", "zscaler-api", "panos", "squid", "mitmproxy", "markdown"]
TIMEOUT = 120


class Results:
    def __init__(self):
        self.passed = self.failed = self.skipped = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
            print("ok   " + name)
        else:
            self.failed += 1
            print("FAIL " + name + (": " + detail if detail else ""))
        return ok

    def skip(self, name, why):
        self.skipped += 1
        print("skip " + name + ": " + why)


R = Results()


def run(cmd, timeout=TIMEOUT, cwd=None, **kw):
    try:
        return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd, **kw)
    except subprocess.TimeoutExpired:
        return subprocess.CompletedProcess(cmd, 124, "", "timed out after %d s" % timeout)


class Pinspect:
    def __init__(self, path, top):
        self.path = path
        self.top = top
        self.rk = os.path.join(top, "samples", "ranking")
        self._cache = {}

    def out(self, args, cwd=None):
        p = run([self.path] + args, cwd=cwd or self.rk)
        if p.returncode != 0:
            raise RuntimeError("pinspect %s: exit %d: %s" % (" ".join(args), p.returncode, p.stderr.strip()))
        return p.stdout

    def analyze(self, args):
        key = tuple(args)
        if key not in self._cache:
            self._cache[key] = json.loads(self.out(["analyze", "--json", "-q"] + list(args)))
        return self._cache[key]


def cand_text(doc):
    return json.dumps(doc["candidates"], sort_keys=False, separators=(",", ":"))


def by_rule(doc):
    return {c["rule"]: c for c in doc["candidates"]}


def bypass(doc):
    return [c for c in doc["candidates"] if c["category"] == "bypass"]


# ---------------------------------------------------------------- captures and verdicts

def test_captures(P):
    rows = read_tsv(os.path.join(P.rk, "connections.tsv"))
    files = sorted({r["file"] for r in rows})
    for f in files:
        path = os.path.join(P.rk, f)
        size = os.path.getsize(path) if os.path.exists(path) else -1
        R.check("capture %s exists, < 60 KB" % f, 0 < size < 60000, "size %d" % size)
    for f in files:
        want = [r for r in rows if r["file"] == f]
        conns = {str(c["tcp_stream"]): c for c in P.analyze([f])["connections"]}
        bad = []
        for r in want:
            c = conns.pop(r["tcp_stream"], None)
            exp = tuple("" if v == "-" else v for v in (r["sni"], r["verdict"], r["alert"]))
            got = (c["sni"] or "", c["verdict"], c["alert"] or "") if c else None
            if got != exp:
                bad.append("stream %s: want %s, got %s" % (r["tcp_stream"], exp, got))
        bad += ["stream %s: unexpected (%s)" % (s, c["verdict"]) for s, c in conns.items()]
        R.check("verdicts of %s (%d connections)" % (f, len(want)), not bad, "; ".join(bad))


def read_tsv(path):
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))


# ---------------------------------------------------------------- ranking

def test_expected(P):
    rows = read_tsv(os.path.join(P.rk, "expected.tsv"))
    groups = {}
    for r in rows:
        groups.setdefault(r["inputs"], []).append(r)
    for inputs, want in groups.items():
        doc = P.analyze(shlex.split(inputs))
        have = by_rule(doc)
        for r in want:
            c = have.get(r["rule"])
            if c:
                detail = "got %s: %s" % (c["category"], c["why"])
            else:
                detail = "no such candidate; candidates: %s" % [(x["rule"], x["category"]) for x in doc["candidates"]]
            R.check("analyze %s: %s is %s" % (inputs, r["rule"], r["category"]),
                    c is not None and c["category"] == r["category"], detail)
        listed = {r["rule"] for r in want if r["category"] == "bypass"}
        extra = [c["rule"] for c in bypass(doc) if c["rule"] not in listed]
        R.check("analyze %s: no bypass rule beyond expected.tsv" % inputs, not extra,
                "unexpected bypass rules %s" % extra)


def first(doc):
    return doc["candidates"][0] if doc["candidates"] else {"rule": None, "category": None}


def test_rules(P):
    d = P.analyze(["flaky.pcapng"])
    c = first(d)
    R.check("flaky: pinned.example ranks first, bypass", (c["rule"], c["category"]) == ("pinned.example", "bypass"),
            "first is %s (%s)" % (c["rule"], c["category"]))
    f = by_rule(d).get("flaky.example")
    R.check("flaky: flaky.example is listed and not bypass (inconclusive)",
            f is not None and f["category"] == "inconclusive", str(f and (f["category"], f["why"])))

    d = P.analyze(["wildcard.pcapng"])
    have = by_rule(d)
    w = have.get(".cdn.pinned-app.example")
    R.check("wildcard: one .cdn.pinned-app.example covering a. and b.cdn.pinned-app.example",
            w is not None and w["category"] == "bypass" and
            sorted(w.get("covers", [])) == ["a.cdn.pinned-app.example", "b.cdn.pinned-app.example"],
            str(w and (w["category"], w.get("covers"))))
    R.check("wildcard: a./b.cdn.pinned-app.example not listed on their own",
            not ({"a.cdn.pinned-app.example", "b.cdn.pinned-app.example"} & set(have)))
    R.check("wildcard: c.mixed-app.example exact, no wildcard on mixed-app.example (d. is healthy)",
            have.get("c.mixed-app.example", {}).get("category") == "bypass" and
            not [r for r in have if r.startswith(".") and r.endswith("mixed-app.example")],
            str(sorted(have)))
    shared = [r for r in have if r.startswith(".") and (r == ".akamaihd.net" or r.endswith(".akamaihd.net"))]
    R.check("wildcard: no wildcard under the shared CDN akamaihd.net", not shared,
            "got %s covering %s" % (shared, [have[r].get("covers") for r in shared]))
    R.check("wildcard: x. and y.shared.akamaihd.net are two exact bypass names",
            all(have.get(n, {}).get("category") == "bypass"
                for n in ("x.shared.akamaihd.net", "y.shared.akamaihd.net")),
            "candidates %s" % sorted(have))

    plain = P.analyze(["with-inspection.pcapng"])
    base = P.analyze(["with-inspection.pcapng", "--baseline", "without-inspection.pcapng"])
    pb, bb = by_rule(plain), by_rule(base)
    c = first(base)
    R.check("baseline: works-without.example ranks first, bypass, baseline_ok",
            (c["rule"], c["category"], c.get("baseline_ok")) == ("works-without.example", "bypass", True),
            "first is %s" % ((c["rule"], c["category"], c.get("baseline_ok")),))
    b = bb.get("broken-anyway.example")
    R.check("baseline: broken-anyway.example inconclusive, 'fails without inspection too'",
            b is not None and b["category"] == "inconclusive" and "fails without inspection too" in b["why"],
            str(b and (b["category"], b["why"])))
    R.check("baseline: without --baseline both are bypass, works-without.example not baseline_ok",
            pb.get("broken-anyway.example", {}).get("category") == "bypass" and
            pb.get("works-without.example", {}).get("category") == "bypass" and
            pb.get("works-without.example", {}).get("baseline_ok") is False,
            str([(x["rule"], x["category"]) for x in plain["candidates"]]))
    order = [x["rule"] for x in plain["candidates"]]
    R.check("baseline: --baseline moves works-without.example to the top (from %s)" % order,
            [x["rule"] for x in base["candidates"]][:1] == ["works-without.example"] and
            order[:1] != ["works-without.example"])

    mixed = os.path.join(P.top, "samples", "mixed.pcapng")
    d = P.analyze([mixed])
    # Two names fail there from the same (unknown) TLS stack: the stronger
    # signature (unknown_ca alerts) ranks above the resets; both are bypass,
    # above every healthy name. (flaky.pcapng checks "pinned app first".)
    top2 = [(x["rule"], x["category"]) for x in d["candidates"][:2]]
    R.check("mixed.pcapng: api.pinned.example is a bypass candidate in the top two",
            ("api.pinned.example", "bypass") in top2, "top two: %s" % top2)


# ---------------------------------------------------------------- merge

def test_merge(P, tmp):
    a, b = os.path.join(tmp, "A.json"), os.path.join(tmp, "B.json")
    with open(a, "w") as fh:
        fh.write(P.out(["analyze", "--json", "-q", "split-a.pcapng"]))
    with open(b, "w") as fh:
        fh.write(P.out(["analyze", "--json", "-q", "split-b.pcapng"]))
    one = cand_text(P.analyze(["split-a.pcapng", "split-b.pcapng"]))
    ab = P.out(["merge", a, b])
    ba = P.out(["merge", b, a])
    ma = os.path.join(tmp, "mA.json")
    with open(ma, "w") as fh:
        fh.write(P.out(["merge", a]))
    mab = P.out(["merge", ma, b])
    tab, tba, tmab = (cand_text(json.loads(x)) for x in (ab, ba, mab))
    R.check("merge(A,B) candidates == analyze A B", tab == one, "\n  merge:   %s\n  analyze: %s" % (tab, one))
    R.check("merge(A,B) == merge(B,A)", tab == tba, "\n  %s\n  %s" % (tab, tba))
    R.check("merge(A,B) == merge(merge(A),B)", tab == tmab, "\n  %s\n  %s" % (tab, tmab))
    R.check("merge(A,B) has api.split-app.example bypass (4 failures) and the dns-blocked name",
            [(c["rule"], c["category"], c["failures"]) for c in json.loads(ab)["candidates"]] ==
            [("api.split-app.example", "bypass", 4), ("telemetry.split-blocked.example", "dns-blocked", 0)],
            tab)
    one_json = os.path.join(tmp, "AB1.json")
    write(one_json, P.out(["analyze", "--json", "-q", "split-a.pcapng", "split-b.pcapng"]))
    for fmt in LIST_FORMATS + ["csv"]:
        m = P.out(["merge", "-f", fmt, a, b])
        if fmt == "csv":  # the candidates' CSV: analyze -f csv writes the connections
            o = P.out(["merge", "-f", "csv", one_json])
        else:
            o = P.out(["analyze", "-q", "-f", fmt, "split-a.pcapng", "split-b.pcapng"])
        R.check("merge -f %s A B == analyze -f %s a b" % (fmt, fmt), m == o, "\n%s\n---\n%s" % (m, o))


def write(path, text):
    with open(path, "w") as fh:
        fh.write(text)
    return True


# ---------------------------------------------------------------- golden files

def golden_outputs(P, sample, tmp):
    """{format: text} for one capture."""
    text = P.out(["analyze", "--json", "-q", sample])
    doc = json.loads(text)
    j = os.path.join(tmp, "golden-src.json")
    write(j, text)
    out = {}
    for fmt in FORMATS:
        if fmt == "json":
            out[fmt] = json.dumps(doc["candidates"], indent=2, ensure_ascii=False) + "\n"
        elif fmt == "csv":
            out[fmt] = P.out(["merge", "-f", "csv", j])
        else:
            out[fmt] = P.out(["analyze", "-q", "-f", fmt, sample])
    return doc, out


def golden_samples(P):
    return {"wildcard": os.path.join(P.rk, "wildcard.pcapng"),
            "mixed": os.path.join(P.top, "samples", "mixed.pcapng")}


def test_golden(P, tmp, update):
    gdir = os.path.join(P.top, "tests", "golden")
    docs = {}
    for name, path in golden_samples(P).items():
        doc, outs = golden_outputs(P, path, tmp)
        docs[name] = (path, doc, outs)
        for fmt, text in outs.items():
            g = os.path.join(gdir, "%s.%s" % (name, fmt))
            if update:
                os.makedirs(gdir, exist_ok=True)
                write(g, text)
            if not os.path.exists(g):
                R.check("golden %s.%s" % (name, fmt), False, "missing %s (run ranking.py --update)" % g)
                continue
            with open(g) as fh:
                want = fh.read()
            R.check("golden %s.%s" % (name, fmt), text == want, diff(want, text))
    return docs


def diff(a, b):
    import difflib
    return "\n" + "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True), "golden", "now", n=1))


# ---------------------------------------------------------------- formats, by doc/formats.md

def panos_line(name, app):
    return 'set shared ssl-decrypt ssl-exclude-cert %s description "pinspect: %s" exclude yes' % (
        name, app or "client rejects inspection")


def panos_expected(cands):
    """One entry per exact name; a .parent rule: one '*.'*depth entry per depth of
    the names it covers, and the parent itself when it is covered ('*' is one label)."""
    lines = []
    for c in cands:
        if not c["rule"].startswith("."):
            lines.append(panos_line(c["rule"], c["known_app"]))
            continue
        parent = c["rule"][1:]
        depths = set()
        for n in c.get("covers", []):
            if n == parent:
                depths.add(0)
            else:
                depths.add(n[:-len(parent) - 1].count(".") + 1)
        for d in sorted(depths):
            lines.append(panos_line("*." * d + parent, c["known_app"]))
    return lines


def regex_escape(s):
    return re.sub(r"([.^$*+?()\[\]{}|\\])", r"\\\1", s)


def test_formats(P, name, path, doc, outs):
    cands = doc["candidates"]
    bp = bypass(doc)
    rules = [c["rule"] for c in bp]
    tag = "%s: " % name

    z = outs["zscaler"].splitlines()
    R.check(tag + "zscaler: one lower-case entry per bypass rule, leading dot for a wildcard",
            z == rules and all(x == x.lower() and " " not in x for x in z), "%s vs %s" % (z, rules))

    api = outs["zscaler-api"]
    m = re.search(r"<<JSON\n(.*?)\nJSON\n", api, re.S)
    body = json.loads(m.group(1)) if m else {}
    R.check(tag + "zscaler-api: PUT ...?action=ADD_TO_LIST with urls == the bypass rules, then activate",
            re.search(r'-X PUT "\$ZIA_BASE/urlCategories/\$CATEGORY_ID\?action=ADD_TO_LIST"', api) is not None and
            body.get("urls") == rules and body.get("configuredName") == "${ZIA_CATEGORY_NAME}" and
            re.search(r'-X POST "\$ZIA_BASE/status/activate"', api) is not None and
            not re.search(r"-X PUT [^\n]*urlCategories/\$CATEGORY_ID\"", api), api)

    R.check(tag + "panos: ssl-exclude-cert per entry, one *. entry per depth for a wildcard",
            outs["panos"].splitlines() == panos_expected(bp),
            "\n got %s\nwant %s" % (outs["panos"].splitlines(), panos_expected(bp)))

    sq = outs["squid"].splitlines()
    want = ["# pinspect: names whose clients reject TLS inspection: splice (do not bump) them."]
    want += ["acl pinspect_nobump ssl::server_name %s" % r for r in rules] or ["# (no bypass candidates)"]
    want += ["acl pinspect_step1 at_step SslBump1", "ssl_bump peek pinspect_step1"]
    want += ["ssl_bump splice pinspect_nobump"] if rules else []
    want += ["ssl_bump bump all"]
    R.check(tag + "squid: acl ssl::server_name per rule, peek at step 1, splice, bump all", sq == want,
            "\n got %s\nwant %s" % (sq, want))

    words = shlex.split(outs["mitmproxy"])
    pairs = list(zip(words[::2], words[1::2]))
    want = [("--ignore-hosts", ("^(.+\\.)?" + regex_escape(r[1:]) if r.startswith(".") else "^" + regex_escape(r))
             + r"(:\d+)?$") for r in rules]
    R.check(tag + "mitmproxy: --ignore-hosts per rule, anchored ^...(:\\d+)?$, wildcard (.+\\.)?",
            pairs == want and len(words) == 2 * len(rules), "\n got %s\nwant %s" % (pairs, want))

    md = outs["markdown"]
    ok = all("| %d | `%s` | %s | %.2f | %d | %d |" % (i + 1, c["rule"], c["category"], c["score"], c["failures"],
                                                       c["successes"]) in md for i, c in enumerate(cands))
    block = re.search(r"## Proposed bypass entries \(ZIA custom URL category\)\n\n```\n(.*?)```\n", md, re.S)
    ok = ok and ((block is not None and block.group(1) == outs["zscaler"]) if rules else block is None)
    R.check(tag + "markdown: a row per candidate, the ZIA entries block == the zscaler output", ok, md)

    rows = list(csv.reader(io.StringIO(outs["csv"])))
    want = [["rank", "rule", "category", "score", "failures", "successes", "known_app", "why", "fix",
             "wireshark_filter"]]
    want += [[str(i + 1), c["rule"], c["category"], "%.3f" % c["score"], str(c["failures"]), str(c["successes"]),
              c["known_app"] or "", c["why"], c["fix"], c["wireshark_filter"]] for i, c in enumerate(cands)]
    R.check(tag + "csv: every candidate with category, score, why, fix, wireshark_filter", rows == want,
            "\n got %s\nwant %s" % (rows, want))

    if not shutil.which("tshark"):
        R.skip(tag + "Wireshark filters", "no tshark")
        return
    for c in cands:
        p = run(["tshark", "-n", "-r", path, "-Y", c["wireshark_filter"], "-T", "fields", "-e", "frame.number"],
                timeout=60)
        err = "\n".join(l for l in p.stderr.splitlines() if "dangerous" not in l)
        R.check(tag + "tshark accepts the Wireshark filter of %s and it shows frames" % c["rule"],
                p.returncode == 0 and p.stdout.strip() != "",
                "exit %d: %s (filter: %s)" % (p.returncode, err.strip(), c["wireshark_filter"]))


def test_panos_derived(P, tmp):
    """PAN-OS entries for wildcards whose names sit at several depths, or include the
    parent itself: the evidence of wildcard.pcapng with one name renamed, ranked by
    pinspect merge (the captures cannot have these names without changing the scenario)."""
    src = P.analyze(["wildcard.pcapng"])
    for new, label in (("deep.b.cdn.pinned-app.example", "names at two depths"),
                       ("cdn.pinned-app.example", "the parent itself failing")):
        doc = json.loads(json.dumps(src))
        for n in doc["names"]:
            if n["name"] == "b.cdn.pinned-app.example":
                n["name"] = new
        j = os.path.join(tmp, "derived.json")
        write(j, json.dumps(doc))
        ranked = json.loads(P.out(["merge", j]))
        got = P.out(["merge", "-f", "panos", j]).splitlines()
        want = panos_expected(bypass(ranked))
        w = by_rule(ranked).get(".cdn.pinned-app.example", {})
        R.check("panos (derived evidence, %s): .cdn.pinned-app.example covers %s: entries %s" % (
            label, w.get("covers"), [l.split()[4] for l in want]),
            got == want, "got %s" % [l.split()[4] for l in got])


# ---------------------------------------------------------------- squid

def test_squid(P, docs, tmp):
    squid = shutil.which("squid") or next((p for p in ("/usr/sbin/squid",) if os.path.exists(p)), None)
    if not squid:
        R.skip("squid -k parse", "squid is not installed (Debian: squid-openssl)")
        return
    key, crt = os.path.join(tmp, "squid.key"), os.path.join(tmp, "squid.pem")
    p = run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=pinspect ranking test"], timeout=30)
    if p.returncode != 0:
        R.check("squid: make a certificate for ssl-bump", False, p.stderr)
        return
    for name, (_, _, outs) in docs.items():
        conf = os.path.join(tmp, "squid-%s.conf" % name)
        write(conf, "visible_hostname pinspect-test\n"
                    "http_port 127.0.0.1:39%03d ssl-bump tls-cert=%s tls-key=%s generate-host-certificates=off\n"
                    "http_access allow localhost\nhttp_access deny all\n" % (os.getpid() % 1000, crt, key)
              + outs["squid"])
        p = run([squid, "-k", "parse", "-f", conf], timeout=60)
        # squid's own environment checks (the host's reverse DNS) are not about the config
        bad = [l for l in (p.stdout + p.stderr).splitlines()
               if re.search(r"FATAL|ERROR|WARNING|Bungled", l) and "rDNS test failed" not in l]
        R.check("squid -k parse accepts the squid output of %s" % name, p.returncode == 0 and not bad,
                "exit %d: %s" % (p.returncode, "\n".join(bad) or p.stderr[-2000:]))


# ---------------------------------------------------------------- mitmproxy

MITM_CHECK = r'''
import inspect, json, re, ssl, sys
try:
    import mitmproxy.version
    from mitmproxy.addons import next_layer
    from mitmproxy.test import taddons
except ImportError as e:
    print(json.dumps({"import": str(e)}))
    sys.exit(0)
cases = json.loads(sys.stdin.read())

def client_hello(sni):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(i, o, server_hostname=sni)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return o.read()

out = {"version": mitmproxy.version.VERSION, "results": []}
nl = next_layer.NextLayer()
with taddons.context(nl) as tctx:
    # the option machinery: mitmproxy compiles every regex here (an invalid one raises)
    tctx.configure(nl, ignore_hosts=[c["regex"] for c in cases])
    fn = getattr(nl, "ignore_connection", None)
    params = list(inspect.signature(fn).parameters) if fn else []
    out["machinery"] = params[:2] == ["server_address", "data_client"]
    for c in cases:
        tctx.configure(nl, ignore_hosts=[c["regex"]])
        for host in c["hosts"]:
            if out["machinery"]:
                # what mitmproxy decides for a TLS connection to host:443 with SNI host
                got = bool(fn((host, 443), client_hello(host)))
            else:
                got = re.search(c["regex"], "%s:443" % host, re.IGNORECASE) is not None
            out["results"].append([c["regex"], host, got])
print(json.dumps(out))
'''


def mitm_cases(doc):
    cases = []
    for c in bypass(doc):
        r = c["rule"]
        base = r[1:] if r.startswith(".") else r
        pos = (c.get("covers", []) + [base]) if r.startswith(".") else [r]
        neg = ["evil" + base, "evil-" + base, base + ".evil.example"]
        if base.endswith("pinned-app.example"):
            neg.append("evil-pinned-app.example")
        cases.append({"rule": r, "pos": pos, "neg": neg})
    return cases


def test_mitmproxy(P, docs):
    allcases = []
    for name, (_, doc, outs) in docs.items():
        words = shlex.split(outs["mitmproxy"])
        regs = dict(zip([c["rule"] for c in bypass(doc)], words[1::2]))
        for k in mitm_cases(doc):
            k["regex"] = regs.get(k["rule"], "")
            k["sample"] = name
            k["hosts"] = k["pos"] + k["neg"]
            allcases.append(k)
    # this python3 first, then Debian's (python3-mitmproxy lives in /usr/lib/python3/dist-packages)
    pythons = [sys.executable] + [p for p in ("/usr/bin/python3",)
                                  if os.path.exists(p) and os.path.realpath(p) != os.path.realpath(sys.executable)]
    errors = []
    for py in pythons:
        p = run([py, "-c", MITM_CHECK], timeout=90, input=json.dumps(allcases))
        try:
            res = json.loads(p.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            R.check("mitmproxy: run the ignore_hosts check with %s" % py, False,
                    "exit %d: %s" % (p.returncode, p.stderr[-2000:]))
            return
        if "import" not in res:
            break
        errors.append("%s: %s" % (py, res["import"]))
    if "import" in res:
        print("note: no python3 can import mitmproxy (%s): the regexes are checked with Python's re "
              "against \"host:443\", as doc/formats.md describes mitmproxy's matching" % "; ".join(errors))
        how = "re"
        got = {}
        for k in allcases:
            for h in k["hosts"]:
                got[(k["regex"], h)] = re.search(k["regex"], "%s:443" % h, re.IGNORECASE) is not None
    else:
        how = "mitmproxy %s %s" % (res["version"], "ignore_connection()" if res["machinery"] else
                                   "(option machinery; matched with re: this version's decision API differs)")
        print("note: the regexes go through %s (%s)" % (how, py))
        R.check("mitmproxy %s accepts every --ignore-hosts regex (ignore_hosts option)" % res["version"], True)
        got = {(r, h): g for r, h, g in res["results"]}
    for k in allcases:
        miss = [h for h in k["pos"] if not got.get((k["regex"], h))]
        wrong = [h for h in k["neg"] if got.get((k["regex"], h))]
        R.check("mitmproxy (%s) %s: %s ignores %s:443" % (how, k["sample"], k["regex"], ", ".join(k["pos"])),
                not miss, "not ignored: %s" % miss)
        R.check("mitmproxy (%s) %s: %s does not ignore %s:443" % (how, k["sample"], k["regex"], ", ".join(k["neg"])),
                not wrong, "ignored: %s" % wrong)


# ---------------------------------------------------------------- main

def main():
    args = sys.argv[1:]
    update = "--update" in args
    args = [a for a in args if a != "--update"]
    if any(a.startswith("-") for a in args) or len(args) > 2:
        print(__doc__, file=sys.stderr)
        return 2
    here = os.path.dirname(os.path.abspath(__file__))
    pinspect = args[0] if args else os.environ.get("PINSPECT", "./pinspect")
    top = args[1] if len(args) > 1 else os.environ.get("top_srcdir", os.path.dirname(here))
    pinspect, top = os.path.abspath(pinspect), os.path.abspath(top)
    if not os.access(pinspect, os.X_OK):
        print("ranking.py: no pinspect binary at %s (set PINSPECT)" % pinspect, file=sys.stderr)
        return 2
    P = Pinspect(pinspect, top)
    with tempfile.TemporaryDirectory(prefix="pinspect-ranking-") as tmp:
        for name, fn in (("captures", lambda: test_captures(P)), ("expected", lambda: test_expected(P)),
                         ("rules", lambda: test_rules(P)), ("merge", lambda: test_merge(P, tmp))):
            try:
                fn()
            except (RuntimeError, OSError, ValueError, KeyError) as e:
                R.check("%s: ran" % name, False, str(e))
        try:
            docs = test_golden(P, tmp, update)
        except (RuntimeError, OSError, ValueError) as e:
            R.check("golden: ran", False, str(e))
            docs = {}
        for name, (path, doc, outs) in docs.items():
            test_formats(P, name, path, doc, outs)
        try:
            test_panos_derived(P, tmp)
        except (RuntimeError, OSError, ValueError) as e:
            R.check("panos derived: ran", False, str(e))
        if docs:
            test_squid(P, docs, tmp)
            test_mitmproxy(P, docs)
    print("%d passed, %d failed%s" % (R.passed, R.failed, ", %d skipped" % R.skipped if R.skipped else ""))
    return 1 if R.failed else 0


if __name__ == "__main__":
    sys.exit(main())
