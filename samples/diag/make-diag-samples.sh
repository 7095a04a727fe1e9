#!/usr/bin/env bash
# make-diag-samples.sh: regenerate the differential-diagnosis captures of issue 5
# (pinned.pcapng, trust-store.pcapng, certificate.pcapng) from real TLS stacks.
# README.md says what each holds and which stack rejected what; expected.tsv gives
# the category of every name; inspection-ca.pem is the "proxy" CA to pass as
# pinspect analyze --inspection-ca.
#
# The "proxy" is diag_server.py (Python ssl, TLS 1.2 so that chains are visible)
# presenting, per SNI, a leaf forged by the sample inspection CA. The clients are
# real: curl, Node.js, pip, npm, git, Python 3.11 and 3.13 ssl, Go crypto/tls.
#
# Network: one private network namespace with only loopback, and a private mount
# namespace whose /etc/hosts sends every sample name to 127.0.0.1: no packet leaves
# the machine, the real pypi.org / registry.npmjs.org / github.com are never asked.
# Every wait and client is bounded (timeout); the servers stop by themselves.
#
# Needs root, openssl, python3, tcpdump, curl, node, npm, git, go (golang-go),
# Python 3.13 (PY313=/path/to/python3.13; default: the pyenv one if present).
# usage: samples/diag/make-diag-samples.sh [OUTDIR]   (default: this directory)
#        KEEP_WORK=1 keeps the work directory.
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(mkdir -p "${1:-$HERE}" && cd "${1:-$HERE}" && pwd)

die() { echo "make-diag-samples: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

if [[ ${_DIAG_INNER:-} != 1 ]]; then
    [[ $(id -u) == 0 ]] || die "run as root (namespaces, tcpdump)"
    for t in openssl python3 tcpdump curl node npm git go timeout unshare; do
        command -v "$t" >/dev/null || die "missing tool: $t"
    done
    export _DIAG_INNER=1
    exec unshare -n -m --propagation private bash "$0" "$@"
fi

PY311=${PY311:-$(command -v python3)}
PY313=${PY313:-$(ls -d /root/.pyenv/versions/3.13*/bin/python3 2>/dev/null | head -1 || true)}
[[ -x $PY313 ]] || die "Python 3.13 not found (set PY313=/path/to/python3.13)"
WORK=$(mktemp -d /tmp/pinspect-diag.XXXXXX)
SRV=
CAP=
cleanup() {
    local rc=$?
    set +e
    [[ -n $CAP ]] && kill "$CAP" 2>/dev/null && wait "$CAP" 2>/dev/null
    [[ -n $SRV ]] && kill "$SRV" 2>/dev/null && wait "$SRV" 2>/dev/null
    if [[ ${KEEP_WORK:-0} == 1 || $rc != 0 ]]; then echo "work directory kept: $WORK" >&2; else rm -rf "$WORK"; fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ip link set lo up
NAMES="www.example.com news.example.org cdn.example.net api.pinnedapp.example chat.signal.org
pypi.org files.pythonhosted.org registry.npmjs.org github.com
good.example.net sha1.example.net rsa1024.example.net noeku.example.net nosan.example.net
noaki.example.net long900.example.net"
{ echo "127.0.0.1 localhost"; for n in $NAMES; do echo "127.0.0.1 $n"; done; } >"$WORK/hosts"
mount --bind "$WORK/hosts" /etc/hosts

# ------------------------------------------------------------------ PKI
PKI=$WORK/pki
mkdir -p "$PKI/certs"
cd "$PKI"
say "PKI"
openssl req -x509 -newkey rsa:2048 -sha256 -nodes -keyout ca.key -out ca.pem -days 3650 \
    -subj "/O=Example Corp/CN=Example Corp TLS Inspection CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign \
    -addext subjectKeyIdentifier=hash 2>/dev/null
# leaf NAME [openssl x509 options...]; EXT (extensions), KEY (key spec), DAYS
leaf() {
    local n=$1; shift
    openssl req -newkey "${KEY:-rsa:2048}" -nodes -keyout "certs/$n.key" -out "$n.csr" -subj "/CN=$n" 2>/dev/null
    printf '%b' "${EXT:-subjectAltName=DNS:$n\nextendedKeyUsage=serverAuth\nkeyUsage=critical,digitalSignature,keyEncipherment\nauthorityKeyIdentifier=keyid\nbasicConstraints=CA:FALSE\n}" >"$n.ext"
    openssl x509 -req -in "$n.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -days "${DAYS:-199}" \
        -extfile "$n.ext" -out "certs/$n.pem" "$@" 2>/dev/null
    openssl x509 -in "certs/$n.pem" -noout >/dev/null || die "leaf $n not made"
}
cp ca.key certs/default.key 2>/dev/null; openssl req -x509 -key ca.key -out certs/default.pem -days 30 -subj "/CN=default" 2>/dev/null
for n in www.example.com news.example.org cdn.example.net api.pinnedapp.example chat.signal.org \
         pypi.org files.pythonhosted.org registry.npmjs.org github.com good.example.net; do
    leaf "$n" -sha256
done
# one Apple / platform rule broken per name (support.apple.com/103769; Python 3.13; Go)
leaf sha1.example.net -sha1
KEY=rsa:1024 leaf rsa1024.example.net -sha256
EXT='subjectAltName=DNS:noeku.example.net\nextendedKeyUsage=clientAuth\nauthorityKeyIdentifier=keyid\n' leaf noeku.example.net -sha256
EXT='extendedKeyUsage=serverAuth\nauthorityKeyIdentifier=keyid\n' leaf nosan.example.net -sha256
EXT='subjectAltName=DNS:noaki.example.net\nextendedKeyUsage=serverAuth\nsubjectKeyIdentifier=none\nauthorityKeyIdentifier=none\n' leaf noaki.example.net -sha256
DAYS=900 leaf long900.example.net -sha256
# the key the "pinning" clients expect: not the forged leaves' (curl --pinnedpubkey)
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out upstream.key 2>/dev/null
PIN=sha256//$(openssl pkey -in upstream.key -pubout -outform DER | openssl dgst -sha256 -binary | base64)

# ------------------------------------------------------------------ helpers
cd "$WORK"
( cd "$HERE" && GO111MODULE=off GOCACHE=$WORK/gocache HOME=$WORK go build -o "$WORK/goclient" goclient.go ) \
    || die "go build goclient failed"
python3 "$HERE/diag_server.py" 127.0.0.1 443 "$PKI/certs" --lifetime 600 2>"$WORK/server.log" &
SRV=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/443) 2>/dev/null && break; sleep 0.1; done

start() { say "capture $1"; tcpdump -i lo -s 0 -U -w "$WORK/$1" 'tcp port 443' 2>/dev/null & CAP=$!; sleep 1; }
stop() { sleep 1; kill "$CAP"; wait "$CAP" 2>/dev/null || true; CAP=; cp "$WORK/$1" "$OUT/$1"; }
T() { timeout 30 "$@" >>"$WORK/clients.log" 2>&1 || true; sleep 0.2; }
CA=$PKI/ca.pem

# ------------------------------------------------------------------ 1. pinning
# curl and Node trust the inspection CA (it is in their CA file) and work for the
# ordinary names; for api.pinnedapp.example and chat.signal.org they pin a key the
# proxy cannot present (curl --pinnedpubkey, Node checkServerIdentity) and abort
# right after the handshake.
start pinned.pcapng
for n in www.example.com news.example.org cdn.example.net; do T curl -sS --http1.1 --cacert "$CA" "https://$n/"; done
for i in 1 2 3; do
    T curl -sS --http1.1 --cacert "$CA" --pinnedpubkey "$PIN" https://api.pinnedapp.example/
    T curl -sS --http1.1 --cacert "$CA" --pinnedpubkey "$PIN" https://chat.signal.org/
done
NODEPIN='const tls=require("tls"),fs=require("fs");const [n,ca,pin]=process.argv.slice(1);
const s=tls.connect({host:n,port:443,servername:n,ca:fs.readFileSync(ca),
 checkServerIdentity:(h,c)=>pin&&c.fingerprint256!==pin?new Error("pin mismatch"):undefined},
 ()=>{s.end("GET / HTTP/1.1\r\nHost: "+n+"\r\nConnection: close\r\n\r\n")});
s.on("data",()=>{});s.on("error",e=>{console.error("node:",n,e.message)});s.setTimeout(5000,()=>s.destroy());'
T node -e "$NODEPIN" www.example.com "$CA" ""
T node -e "$NODEPIN" news.example.org "$CA" ""
for i in 1 2; do T node -e "$NODEPIN" api.pinnedapp.example "$CA" "00:11:22"; done
stop pinned.pcapng

# ------------------------------------------------------------------ 2. trust store
# pip, npm and git with their default trust stores, which do not hold the
# inspection root; curl with the root works for an ordinary name.
start trust-store.pcapng
T env -i PATH="$PATH" HOME="$WORK" python3 -m pip --isolated download --no-deps --retries 1 --timeout 5 \
    -d "$WORK/dl" --index-url https://pypi.org/simple/ six
T env -i PATH="$PATH" HOME="$WORK" npm view left-pad --registry=https://registry.npmjs.org/ --fetch-retries=1 \
    --fetch-retry-mintimeout=200 --fetch-retry-maxtimeout=500
T env -i PATH="$PATH" HOME="$WORK" git ls-remote https://github.com/example/example.git
T env -i PATH="$PATH" HOME="$WORK" git ls-remote https://github.com/example/example.git
T curl -sS --http1.1 --cacert "$CA" https://www.example.com/
stop trust-store.pcapng

# ------------------------------------------------------------------ 3. certificate
# Each client trusts the inspection CA and accepts good.example.net; each rejects
# the leaf that breaks a rule its stack enforces (README.md: which and why).
start certificate.pcapng
for i in 1 2; do
    T "$PY311" "$HERE/diag_client.py" get good.example.net "$CA"
    T "$PY311" "$HERE/diag_client.py" get sha1.example.net "$CA"      # OpenSSL 3: SHA-1 below level 1
    T "$PY311" "$HERE/diag_client.py" get rsa1024.example.net "$CA"   # @SECLEVEL=2: RSA < 2048
    T "$PY311" "$HERE/diag_client.py" get noeku.example.net "$CA"     # EKU without serverAuth
    T "$PY313" "$HERE/diag_client.py" get noaki.example.net "$CA"     # 3.13 strict: no AKI
    T "$WORK/goclient" good.example.net "$CA"
    T "$WORK/goclient" nosan.example.net "$CA"                        # Go: CommonName ignored
    T "$PY311" "$HERE/diag_client.py" apple825 good.example.net "$CA"
    T "$PY311" "$HERE/diag_client.py" apple825 long900.example.net "$CA" # emulated 825-day rule
done
T "$PY313" "$HERE/diag_client.py" get good.example.net "$CA"
stop certificate.pcapng

cp "$PKI/ca.pem" "$OUT/inspection-ca.pem"
say "clients:"; grep -v '^$' "$WORK/clients.log" | cut -c1-160 >&2 || true
ls -l "$OUT"/*.pcapng >&2
