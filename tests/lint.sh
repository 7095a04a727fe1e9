#!/bin/sh
# lint.sh: pinspect lint-cert on certificates made here with openssl req/x509, one
# per rule, passing and failing; asserts exit codes and rule ids.
#
#   top_srcdir=. PINSPECT=./pinspect sh tests/lint.sh      (from a build directory)
#
# Exit 77 (skipped) without the openssl command.
set -u
PINSPECT=${PINSPECT:-./pinspect}
command -v openssl >/dev/null 2>&1 || { echo "lint.sh: openssl not found: skipped"; exit 77; }
[ -x "$PINSPECT" ] || { echo "lint.sh: $PINSPECT not found"; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/pinspect-lint.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT INT TERM
cd "$T" || exit 1
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }

# expect RC FILE [args...] -- RULE...: exit status RC, every RULE in the output
# (a RULE written !rule must be absent)
expect() {
    want=$1; shift
    args=""
    while [ $# -gt 0 ] && [ "$1" != "--" ]; do args="$args $1"; shift; done
    [ $# -gt 0 ] && shift
    # shellcheck disable=SC2086
    "$PINSPECT" lint-cert $args >out.txt 2>err.txt
    rc=$?
    if [ "$rc" -ne "$want" ]; then
        bad "lint-cert$args: exit $rc, expected $want"; sed 's/^/    /' out.txt err.txt | head -20
    else
        ok
    fi
    for r in "$@"; do
        case $r in
        !*) if grep -q -- " ${r#!} " out.txt; then bad "lint-cert$args: ${r#!} reported"; else ok; fi ;;
        *)  if grep -q -- " $r " out.txt; then ok; else bad "lint-cert$args: $r not reported"; sed 's/^/    /' out.txt | head -30; fi ;;
        esac
    done
}

q() { "$@" >/dev/null 2>&1 || { echo "lint.sh: setup failed: $*"; exit 1; }; }

# ---- a CA and leaves, one broken rule each ---------------------------------
CAEXT="-addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -addext subjectKeyIdentifier=hash"
# shellcheck disable=SC2086
q openssl req -x509 -newkey rsa:2048 -sha256 -nodes -keyout ca.key -out ca.pem -days 3650 -subj "/CN=Lint Test CA" $CAEXT

# leaf NAME DAYS DIGEST KEY "ext lines" -> NAME.pem, signed by ca.pem
leaf() {
    printf '%b' "$5" >"$1.ext"
    q openssl req -newkey "$4" -nodes -keyout "$1.key" -out "$1.csr" -subj "/CN=$1.example.net"
    q openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "$2" "$3" -extfile "$1.ext" -out "$1.pem"
}
STD='extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\n'
leaf good    199 -sha256 rsa:2048 "subjectAltName=DNS:good.example.net\n$STD"
leaf sha1    199 -sha1   rsa:2048 "subjectAltName=DNS:sha1.example.net\n$STD"
leaf rsa1024 199 -sha256 rsa:1024 "subjectAltName=DNS:rsa1024.example.net\n$STD"
leaf nosan   199 -sha256 rsa:2048 "$STD"
leaf noeku   199 -sha256 rsa:2048 'subjectAltName=DNS:noeku.example.net\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n'
leaf ekuless 199 -sha256 rsa:2048 'subjectAltName=DNS:ekuless.example.net\nauthorityKeyIdentifier=keyid\n'
leaf long900 900 -sha256 rsa:2048 "subjectAltName=DNS:long900.example.net\n$STD"
leaf v825    825 -sha256 rsa:2048 "subjectAltName=DNS:v825.example.net\n$STD"
leaf v500    500 -sha256 rsa:2048 "subjectAltName=DNS:v500.example.net\n$STD"
leaf noaki   199 -sha256 rsa:2048 'subjectAltName=DNS:noaki.example.net\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n'
leaf kcs     199 -sha256 rsa:2048 'subjectAltName=DNS:kcs.example.net\nauthorityKeyIdentifier=keyid\nkeyUsage=digitalSignature,keyCertSign\n'
# an ECDSA P-256 leaf (not RSA: no key-size rule)
printf '%b' "subjectAltName=DNS:ec.example.net\n$STD" >ec.ext
openssl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ec.key -out ec.csr -subj "/CN=ec.example.net" >/dev/null 2>&1 &&
    openssl x509 -req -in ec.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 199 -sha256 -extfile ec.ext -out ec.pem >/dev/null 2>&1

# CAs that break the strict (Python 3.13) rules, and Apple's on issuing CAs
q openssl req -x509 -newkey rsa:2048 -sha256 -nodes -keyout x.key -out ca-bcnc.pem -days 365 -subj "/CN=BC not critical" \
    -addext basicConstraints=CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign -addext subjectKeyIdentifier=hash
q openssl req -x509 -newkey rsa:2048 -sha256 -nodes -keyout x.key -out ca-noku.pem -days 365 -subj "/CN=No KU" \
    -addext basicConstraints=critical,CA:TRUE -addext subjectKeyIdentifier=hash
q openssl req -x509 -newkey rsa:2048 -sha256 -nodes -keyout x.key -out ca-noski.pem -days 365 -subj "/CN=No SKI" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -addext subjectKeyIdentifier=none -addext authorityKeyIdentifier=none
q openssl req -x509 -newkey rsa:1024 -sha256 -nodes -keyout x.key -out ca-1024.pem -days 365 -subj "/CN=RSA 1024 CA" $CAEXT
# an intermediate signed with SHA-1 by ca.pem
printf '%b' 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' >int.ext
q openssl req -newkey rsa:2048 -nodes -keyout int.key -out int.csr -subj "/CN=SHA-1 Intermediate"
q openssl x509 -req -in int.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 365 -sha1 -extfile int.ext -out int-sha1.pem

# ---- passing ---------------------------------------------------------------
expect 0 ca.pem -- '!generic.sha1'
expect 0 good.pem -- '!apple.san_dns' '!python313.aki_missing'
expect 0 --sni good.example.net good.pem -- '!generic.name_mismatch'
expect 0 v825.pem -- '!apple.validity_825'
expect 0 v500.pem -- apple.validity_398
[ -s ec.pem ] && expect 0 ec.pem -- '!generic.rsa_2048' '!apple.rsa_2048'
# the CA and a leaf in one file (a chain), in order
cat good.pem ca.pem >chain.pem
expect 0 chain.pem -- '!generic.chain_order'
# DER
q openssl x509 -in good.pem -outform DER -out good.der
expect 0 good.der

# ---- Apple (support.apple.com/103769) ---------------------------------------
expect 1 sha1.pem -- apple.sha2 generic.sha1 go.sha1
expect 1 rsa1024.pem -- apple.rsa_2048 generic.rsa_2048
expect 1 nosan.pem -- apple.san_dns go.cn_ignored
expect 1 noeku.pem -- apple.eku_server_auth generic.eku_server_auth
expect 1 ekuless.pem -- apple.eku_server_auth '!generic.eku_server_auth'
expect 1 long900.pem -- apple.validity_825
expect 1 ca-1024.pem -- apple.rsa_2048
expect 1 int-sha1.pem -- apple.sha2 generic.sha1
# per platform: the same certificate passes where the rule does not apply
expect 0 --platform generic long900.pem -- '!apple.validity_825'
expect 0 --platform generic,python313 nosan.pem -- generic.cn_only '!apple.san_dns'
expect 0 --platform generic --sni nosan.example.net nosan.pem -- generic.cn_only '!generic.name_mismatch'
expect 1 --platform apple nosan.pem -- apple.san_dns '!go.cn_ignored'
expect 0 --platform generic ekuless.pem
expect 1 --platform go nosan.pem -- go.cn_ignored

# ---- Python 3.13 strict -----------------------------------------------------
expect 1 noaki.pem -- python313.aki_missing
expect 0 --platform generic noaki.pem -- '!python313.aki_missing'
expect 1 --platform python313 ca-bcnc.pem -- python313.ca_bc_not_critical
expect 1 --platform python313 ca-noku.pem -- python313.ca_missing_ku
expect 1 --platform python313 ca-noski.pem -- python313.ski_missing
expect 1 --platform python313 kcs.pem -- python313.ku_cert_sign_non_ca
if openssl verify -x509_strict -CAfile ca.pem noaki.pem >/dev/null 2>&1; then
    bad "openssl verify -x509_strict accepted noaki.pem (the rule's premise)"
else
    ok
fi

# ---- generic ----------------------------------------------------------------
expect 1 --at 2099-01-01 good.pem -- generic.expired
expect 1 --at 2000-01-01T00:00:00Z good.pem -- generic.not_yet_valid
expect 1 --sni other.example.org good.pem -- generic.name_mismatch apple.san_dns
cat good.pem int-sha1.pem ca.pem >order.pem
expect 1 order.pem -- generic.chain_order

# ---- JSON -------------------------------------------------------------------
"$PINSPECT" lint-cert --json sha1.pem good.pem >out.json 2>err.txt
rc=$?
if [ $rc -eq 1 ]; then ok; else bad "--json: exit $rc, expected 1"; fi
if command -v python3 >/dev/null 2>&1; then
    if python3 -c '
import json, sys
d = json.load(open("out.json"))
assert d["schema"] == "pinspect-lint/1"
f = d["files"]
assert len(f) == 2 and f[0]["error"] is None
rules = [x["rule"] for x in f[0]["certificates"][0]["findings"]]
assert "apple.sha2" in rules and "generic.sha1" in rules, rules
x = f[0]["certificates"][0]["findings"][0]
for k in ("rule", "platform", "severity", "field", "value", "message", "source", "remedy"):
    assert x[k], k
assert f[1]["certificates"][0]["findings"] == [] or all(y["severity"] != "error" for y in f[1]["certificates"][0]["findings"])
assert d["summary"]["errors"] >= 2
'; then ok; else bad "--json document"; fi
fi

# ---- usage and unreadable files ----------------------------------------------
printf 'not a certificate\n' >junk.pem
expect 3 junk.pem
expect 3 /nonexistent/file.pem
expect 3 good.pem junk.pem
expect 2
expect 2 --platform windows good.pem
expect 2 --at yesterday good.pem
expect 2 --no-such-option good.pem
expect 0 --help

echo "lint.sh: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
