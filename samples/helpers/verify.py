#!/usr/bin/env python3
"""Check pinspect's sample captures against samples/expected.tsv with tshark.

For every row (file, tcp_stream, sni, verdict, alert) it reads the capture twice
with tshark: once as pinspect sees it (no keys) and once with the TLS key log the
servers wrote (keylog/<file>.keylog), then checks that the wire shows what the
verdict says.  It prints one "ladder" per stream, the record-level exchange:

    c:CH s:SH,CERT,SKE,SHD c:RST          (c = client, s = server)

Tokens: CH SH EE CERT SKE CR SHD CV CKE FIN NST KU (handshake messages in the
clear), hs* (an encrypted TLS 1.2 handshake record), CCS, A:<name> (a clear alert),
A* (an encrypted TLS 1.2 alert), app[n] (a type-23 record of n bytes; what the key
log reveals inside follows in braces), FIN and RST (TCP flags).

With --dns EXPECTED-DNS.tsv it also checks the DNS of those captures, per queried
name and type: queries, responses, rcode, transport, TC bit, CNAME chain, addresses.

Usage: verify.py EXPECTED.tsv CAPTURE_DIR [--dns EXPECTED-DNS.tsv]
Exit status 1 on any mismatch.
"""
import ipaddress
import collections
import os
import subprocess
import sys

ALERTS = {0: "close_notify", 10: "unexpected_message", 20: "bad_record_mac",
          40: "handshake_failure", 42: "bad_certificate", 43: "unsupported_certificate",
          44: "certificate_revoked", 45: "certificate_expired", 46: "certificate_unknown",
          47: "illegal_parameter", 48: "unknown_ca", 49: "access_denied",
          50: "decode_error", 51: "decrypt_error", 70: "protocol_version",
          71: "insufficient_security", 80: "internal_error", 86: "inappropriate_fallback",
          90: "user_canceled", 109: "missing_extension", 110: "unsupported_extension",
          112: "unrecognized_name", 116: "certificate_required",
          120: "no_application_protocol"}
CERT_ALERTS = {"unknown_ca", "bad_certificate", "certificate_unknown",
               "unsupported_certificate", "certificate_expired", "certificate_revoked",
               "access_denied"}
HS = {1: "CH", 2: "SH", 4: "NST", 8: "EE", 11: "CERT", 12: "SKE", 13: "CR", 14: "SHD",
      15: "CV", 16: "CKE", 20: "FIN", 24: "KU"}

FIELDS = ["frame.number", "tcp.stream", "tcp.flags.syn", "tcp.flags.ack", "tcp.flags.fin",
          "tcp.flags.reset", "tcp.srcport", "ip.src", "ipv6.src", "tls.record.content_type",
          "tls.record.length", "tls.handshake.type", "tls.alert_message.desc",
          "tls.handshake.extensions_server_name", "tls.record.opaque_type"]


def ints(v):
    out = []
    for x in v.split(","):
        x = x.strip()
        if x:
            try:
                out.append(int(x, 0))
            except ValueError:
                pass
    return out


def tshark(path, keylog=None):
    cmd = ["tshark", "-n", "-r", path, "-Y", "tcp", "-T", "fields",
           "-E", "separator=/t", "-E", "occurrence=a", "-E", "aggregator=,"]
    if keylog:
        cmd += ["-o", "tls.keylog_file:" + keylog]
    for f in FIELDS:
        cmd += ["-e", f]
    r = subprocess.run(cmd, capture_output=True, text=True, check=True)
    rows = []
    for line in r.stdout.splitlines():
        v = line.split("\t")
        v += [""] * (len(FIELDS) - len(v))
        rows.append(dict(zip(FIELDS, v)))
    return rows


class Stream:
    def __init__(self):
        self.client = None
        self.sni = ""
        self.frames = []  # (frame, dir, rec types, rec lengths, hs types, alert descs, fin, rst)


def streams_of(rows):
    st = collections.OrderedDict()
    for r in rows:
        if r["tcp.stream"] == "":
            continue
        s = st.setdefault(int(r["tcp.stream"]), Stream())
        src = (r["ip.src"] or r["ipv6.src"], r["tcp.srcport"])
        if r["tcp.flags.syn"] in ("1", "True") and r["tcp.flags.ack"] in ("0", "False"):
            s.client = src
        if s.client is None:
            s.client = src  # capture started mid-connection; never the case here
        d = "c" if src == s.client else "s"
        if r["tls.handshake.extensions_server_name"] and not s.sni:
            s.sni = r["tls.handshake.extensions_server_name"].split(",")[0]
        ct, op, ln = (ints(r["tls.record.content_type"]), ints(r["tls.record.opaque_type"]),
                      ints(r["tls.record.length"]))
        if len(ct) + len(op) == len(ln) and op:
            # no key: TLS 1.3 protected records carry only an opaque type (23); in these
            # captures they always follow the frame's plaintext records
            ct = ct + op
        s.frames.append(dict(
            n=int(r["frame.number"]), d=d, ct=ct,
            ln=ln, hs=ints(r["tls.handshake.type"]),
            al=ints(r["tls.alert_message.desc"]), op=ints(r["tls.record.opaque_type"]),
            fin=r["tcp.flags.fin"] in ("1", "True"), rst=r["tcp.flags.reset"] in ("1", "True")))
    return st


def ladder(wire, dec):
    """Tokens per frame from the no-key view, annotated with the decrypted view."""
    decf = {f["n"]: f for f in dec.frames} if dec else {}
    out = []
    for f in wire.frames:
        toks = []
        hs = [HS.get(h, "hs%d" % h) for h in f["hs"]]
        al = iter(f["al"])
        n22 = sum(1 for ct in f["ct"] if ct == 22)
        seen22 = 0
        for ct, ln in zip(f["ct"], f["ln"]):
            if ct == 22:
                # one clear message per record, the rest on the last one; a record
                # with nothing left is an encrypted TLS 1.2 Finished ("hs*")
                seen22 += 1
                if hs:
                    take = hs if seen22 == n22 else hs[:1]
                    hs = hs[len(take):]
                    toks.append(",".join(take))
                else:
                    toks.append("hs*")
            elif ct == 20:
                toks.append("CCS")
            elif ct == 21:
                a = next(al, None)
                toks.append("A:" + ALERTS.get(a, str(a)) if a is not None else "A*")
            elif ct == 23:
                toks.append("app[%d]" % ln)
            else:
                toks.append("rec%d" % ct)
        nenc = sum(1 for t in toks if t.startswith("app[") or t in ("hs*", "A*"))
        if nenc and f["n"] in decf:
            g = decf[f["n"]]
            nplain = len(f["ct"]) - nenc
            inner = []
            da = iter(g["al"][len(f["al"]):])
            dh = [HS.get(h, "hs%d" % h) for h in g["hs"][len(f["hs"]):]]
            enc = g["ct"][nplain:]
            n22 = enc.count(22)
            seen22 = 0
            for ct in enc:
                if ct == 21:
                    a = next(da, None)
                    inner.append("alert:" + ALERTS.get(a, str(a)))
                elif ct == 22:
                    seen22 += 1
                    take = dh if seen22 == n22 else dh[:1]
                    dh = dh[len(take):]
                    inner.append("+".join(take) or "hs")
                elif ct == 23:
                    inner.append("data")
            if inner:
                toks.append("{" + ",".join(inner) + "}")
        if f["fin"]:
            toks.append("FIN")
        if f["rst"]:
            toks.append("RST")
        if toks:
            if out and out[-1][0] == f["d"]:
                out[-1][1].extend(toks)
            else:
                out.append((f["d"], toks))
    return " ".join("%s:%s" % (d, ",".join(t)) for d, t in out)


def facts(wire, dec):
    F = collections.defaultdict(list)
    for f in wire.frames:
        d = f["d"]
        al = iter(f["al"])
        for ct, ln in zip(f["ct"], f["ln"]):
            F[d + "rec"].append((ct, ln))
            if ct == 21:
                a = next(al, None)
                if a is not None:
                    F[d + "clear_alert"].append(ALERTS.get(a, str(a)))
        F[d + "hs"].extend(f["hs"])
        if f["fin"]:
            F["term"].append((f["n"], d, "FIN"))
        if f["rst"]:
            F["term"].append((f["n"], d, "RST"))
    for f in (dec.frames if dec else []):
        d = f["d"]
        F[d + "dec_ct"].extend(f["ct"])
        F[d + "dec_hs"].extend(f["hs"])
        F[d + "dec_alert"].extend(ALERTS.get(a, str(a)) for a in f["al"])
    return F


def check(verdict, alert, F):
    """Return a list of problems (empty when the wire matches the verdict)."""
    p = []
    c_types = {ct for ct, _ in F["crec"]}
    c_appdata = 23 in F["cdec_ct"]
    s_appdata = 23 in F["sdec_ct"]
    first_c_term = next((k for _, d, k in F["term"] if d == "c"), None)
    first_term = F["term"][0] if F["term"] else None
    only_hello = c_types <= {22} and [h for h in F["chs"]] == [1]
    server_flight = 2 in F["shs"]
    if 1 not in F["chs"]:
        p.append("no ClientHello from the client")
    if verdict == "healthy":
        if not (c_appdata and s_appdata):
            p.append("application data not seen both ways (decrypted)")
    elif verdict in ("rst-after-hello", "fin-after-hello"):
        want = "RST" if verdict == "rst-after-hello" else "FIN"
        if not server_flight:
            p.append("no ServerHello")
        if not only_hello:
            p.append("client sent more than its ClientHello: %s" % F["crec"])
        if first_c_term != want:
            p.append("client's first close is %s, not %s" % (first_c_term, want))
        if F["cclear_alert"] or F["cdec_alert"]:
            p.append("client sent an alert")
    elif verdict == "cert-alert":
        if not F["cclear_alert"] or F["cclear_alert"][0] != alert or alert not in CERT_ALERTS:
            p.append("client clear alert %s, expected certificate alert %s"
                     % (F["cclear_alert"], alert))
    elif verdict == "encrypted-abort":
        after = [(ct, ln) for ct, ln in F["crec"][1:] if ct != 20]
        if F["cclear_alert"]:
            p.append("client alert in the clear")
        if len(after) != 1 or after[0][0] != 23 or after[0][1] > 64:
            p.append("client records after ClientHello (CCS aside) are %s, not one short "
                     "type-23 record" % after)
        if not F["cdec_alert"]:
            p.append("decrypted client record is not an alert")
        if c_appdata or 20 in F["cdec_hs"]:
            p.append("client sent Finished or application data")
    elif verdict == "close-no-data":
        if 20 not in F["cdec_hs"] or 20 not in F["sdec_hs"]:
            p.append("handshake not completed (Finished both ways, decrypted)")
        if c_appdata or s_appdata:
            p.append("application data seen")
        if first_c_term is None and "close_notify" not in F["cdec_alert"]:
            p.append("client did not close")
    elif verdict == "other-alert":
        if not F["cclear_alert"] or F["cclear_alert"][0] != alert or alert in CERT_ALERTS:
            p.append("client clear alert %s, expected %s" % (F["cclear_alert"], alert))
    elif verdict == "server-abort":
        s_alert = F["sclear_alert"] + [a for a in F["sdec_alert"] if a != "close_notify"]
        if alert != "-" and (not F["sclear_alert"] or F["sclear_alert"][0] != alert):
            p.append("server clear alert %s, expected %s" % (F["sclear_alert"], alert))
        if not s_alert and not (first_term and first_term[1] == "s" and first_term[2] == "RST"):
            p.append("neither a server alert nor a server RST")
        if F["cclear_alert"] or [a for a in F["cdec_alert"] if a != "close_notify"]:
            p.append("the client sent an alert")
    elif verdict == "incomplete":
        if F["term"]:
            p.append("connection closed in the capture: %s" % F["term"])
        if F["srec"]:
            p.append("server sent TLS records")
    else:
        p.append("unknown verdict " + verdict)
    return p


RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN", 4: "NOTIMP", 5: "REFUSED"}
QTYPES = {1: "A", 5: "CNAME", 28: "AAAA", 16: "TXT", 65: "HTTPS"}
DNS_FIELDS = ["frame.number", "tcp.stream", "udp.stream", "dns.id", "dns.flags.response",
              "dns.flags.rcode", "dns.flags.truncated", "dns.qry.name", "dns.qry.type",
              "dns.resp.name", "dns.resp.type", "dns.cname", "dns.a", "dns.aaaa"]


def addr_range(addrs):
    """'-', one address, a list, or 'first-last' for a contiguous run."""
    if not addrs:
        return "-"
    ips = sorted(ipaddress.ip_address(a) for a in addrs)
    if len(ips) > 2 and int(ips[-1]) - int(ips[0]) == len(ips) - 1:
        return "%s-%s" % (ips[0], ips[-1])
    return ",".join(str(i) for i in ips)


def dns_facts(path):
    cmd = ["tshark", "-n", "-r", path, "-Y", "dns", "-T", "fields", "-E", "separator=/t",
           "-E", "occurrence=a", "-E", "aggregator=,"]
    for f in DNS_FIELDS:
        cmd += ["-e", f]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
    agg = collections.OrderedDict()
    for line in out.splitlines():
        v = dict(zip(DNS_FIELDS, line.split("\t") + [""] * len(DNS_FIELDS)))
        qtype = QTYPES.get(int(v["dns.qry.type"] or 0), v["dns.qry.type"])
        a = agg.setdefault((v["dns.qry.name"], qtype), dict(
            queries=0, responses=0, rcode="-", transport=[], tc=0, chain=None, addrs=set()))
        tr = "tcp" if v["tcp.stream"] else "udp"
        if tr not in a["transport"]:
            a["transport"].append(tr)
        if v["dns.flags.response"] not in ("1", "True"):
            a["queries"] += 1
            continue
        a["responses"] += 1
        a["rcode"] = RCODES.get(int(v["dns.flags.rcode"] or 0), v["dns.flags.rcode"])
        if v["dns.flags.truncated"] in ("1", "True"):
            a["tc"] = 1
            continue  # the chain and addresses come from the complete (TCP) answer
        names = v["dns.resp.name"].split(",") if v["dns.resp.name"] else []
        types = ints(v["dns.resp.type"])
        cnames = iter(v["dns.cname"].split(",")) if v["dns.cname"] else iter(())
        chain = [v["dns.qry.name"]]
        for n, t in zip(names, types):
            if t == 5:
                tgt = next(cnames, None)
                if n == chain[-1] and tgt:
                    chain.append(tgt)
        if a["rcode"] == "NOERROR":
            a["chain"] = ">".join(chain)
        for x in (v["dns.a"].split(",") if v["dns.a"] else []) + \
                 (v["dns.aaaa"].split(",") if v["dns.aaaa"] else []):
            a["addrs"].add(x)
    return agg


def check_dns(exp_path, cap_dir):
    bad = 0
    rows = collections.OrderedDict()
    with open(exp_path) as fh:
        for line in fh:
            if line.startswith("file\t") or not line.strip():
                continue
            v = line.rstrip("\n").split("\t")
            rows.setdefault(v[0], []).append(v[1:])
    for f, exp in rows.items():
        got = dns_facts(os.path.join(cap_dir, f))
        print("== %s (DNS)" % f)
        for name, qtype, queries, responses, rcode, transport, tc, chain, addrs in exp:
            g = got.pop((name, qtype), None)
            if g is None:
                print("  MISSING %s %s" % (name, qtype))
                bad += 1
                continue
            have = [str(g["queries"]), str(g["responses"]), g["rcode"], ",".join(g["transport"]),
                    str(g["tc"]), g["chain"] or "-", addr_range(g["addrs"])]
            want = [queries, responses, rcode, transport, tc, chain, addrs]
            ok = have == want
            print("  %-36s %-4s q=%s r=%s %-8s %-7s tc=%s %s" % (
                name, qtype, have[0], have[1], have[2], have[3], have[4],
                "ok" if ok else "FAIL"))
            print("       %s -> %s" % (have[5], have[6]))
            if not ok:
                print("       !! expected %s" % want)
                bad += 1
        for (name, qtype) in got:
            print("  %s %s is in the capture but has no expected row" % (name, qtype))
            bad += 1
    return bad


def main():
    args = sys.argv[1:]
    dns_path = None
    if "--dns" in args:
        i = args.index("--dns")
        dns_path = args[i + 1]
        del args[i:i + 2]
    exp_path, cap_dir = args[0], args[1]
    only = set(args[2:])
    rows = collections.OrderedDict()
    with open(exp_path) as fh:
        for line in fh:
            if line.startswith("file\t") or not line.strip():
                continue
            f, stream, sni, verdict, alert = line.rstrip("\n").split("\t")
            if only and f not in only:
                continue
            rows.setdefault(f, []).append((int(stream), sni, verdict, alert))
    bad = 0
    for f, exp in rows.items():
        path = os.path.join(cap_dir, f)
        keylog = os.path.join(cap_dir, "keylog", os.path.splitext(f)[0] + ".keylog")
        wire = streams_of(tshark(path))
        dec = streams_of(tshark(path, keylog if os.path.exists(keylog) else None))
        tls_streams = {i for i, s in wire.items() if any(fr["ct"] for fr in s.frames)}
        print("== %s" % f)
        listed = {e[0] for e in exp}
        for i in sorted(tls_streams - listed):
            print("  stream %d has TLS but no expected row" % i)
            bad += 1
        for stream, sni, verdict, alert in exp:
            w = wire.get(stream)
            if w is None:
                print("  %2d MISSING stream (%s %s)" % (stream, sni, verdict))
                bad += 1
                continue
            d = dec.get(stream)
            probs = check(verdict, alert, facts(w, d))
            if (w.sni or "-") != sni:
                probs.append("SNI on the wire is %r, expected %r" % (w.sni or "-", sni))
            print("  %2d %-44s %-16s %-20s %s" % (stream, sni, verdict, alert,
                                                  "ok" if not probs else "FAIL"))
            print("       " + ladder(w, d))
            for x in probs:
                print("       !! " + x)
            bad += bool(probs)
    if dns_path:
        bad += check_dns(dns_path, cap_dir)
    print("verify: %s" % ("all streams match" if not bad else "%d problem(s)" % bad))
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
