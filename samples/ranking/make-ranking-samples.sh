#!/usr/bin/env bash
# make-ranking-samples.sh: real captures for pinspect's ranking (doc/ranking.md).
#
# The same approach as samples/make-samples.sh: two network namespaces joined by one
# veth pair, openssl s_server as the inspecting proxy (or the origin), real clients
# (curl, openssl s_client, Python ssl through samples/helpers/pihelper.py), dnsmasq
# and dig for the DNS, dumpcap on the client's veth.  Nothing here is hand-crafted.
# README.md (next to this script) says what each capture holds and which category
# every name must get; expected.tsv lists them; connections.tsv gives the verdict of
# every TCP connection and is checked with samples/helpers/verify.py (tshark).
#
# Needs (Debian 12), run as root: openssl curl python3 tshark dumpcap dnsmasq dig ip ss
# timeout.  Network: namespaces pir-cli-PID / pir-srv-PID only; removed at exit.
# Runtime about 30 s; every wait and loop is bounded; a watchdog ends it after 115 s.
#
# Usage: samples/ranking/make-ranking-samples.sh [OUTDIR]   (default: this directory)
#        KEEP_WORK=1 keeps the work directory (certificates, logs).
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(mkdir -p "${1:-$HERE}" && cd "${1:-$HERE}" && pwd)
HELPERS=$(cd "$HERE/../helpers" && pwd)
HELPER=$HELPERS/pihelper.py
VERIFY=$HELPERS/verify.py

die() { echo "make-ranking-samples: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

[[ $(id -u) == 0 ]] || die "run as root (network namespaces, dumpcap)"
for t in openssl curl tshark dumpcap dnsmasq dig ip ss timeout; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done
[[ -f $HELPER && -f $VERIFY ]] || die "missing samples/helpers/pihelper.py or verify.py"
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3) || die "missing tool: python3"

# ---------------------------------------------------------------- topology
NS_C=pir-cli-$$
NS_S=pir-srv-$$
CLI4=10.98.0.1
PROXY=10.98.0.2      # the inspecting proxy: every leaf from the inspection CA
ORIGIN=10.98.0.3     # the origin servers reached without inspection (baseline)
ORIGIN2=10.98.0.4
DNS4=10.98.0.53      # dnsmasq (split-a / split-b)
WORK=$(mktemp -d /tmp/pinspect-ranking.XXXXXX)
STAGE=$WORK/out
PKI=$WORK/pki
LOG=$WORK/log
mkdir -p "$STAGE/keylog" "$PKI" "$LOG" "$WORK/www"
BG_PIDS=()
CAP_PID=
WATCHDOG=

cleanup() {
    local rc=$? p
    set +e
    [[ -n $WATCHDOG ]] && kill "$WATCHDOG" 2>/dev/null
    for p in "${BG_PIDS[@]}" $CAP_PID; do kill "$p" 2>/dev/null; done
    for p in "${BG_PIDS[@]}" $CAP_PID; do wait "$p" 2>/dev/null; done
    ip netns del "$NS_C" 2>/dev/null
    ip netns del "$NS_S" 2>/dev/null
    if [[ ${KEEP_WORK:-0} == 1 || $rc != 0 ]]; then
        echo "make-ranking-samples: work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

(
    sleep 115 &
    trap 'kill $! 2>/dev/null; exit 0' TERM
    wait $!
    echo "make-ranking-samples: watchdog: giving up after 115 s" >&2
    kill -TERM $$
) &
WATCHDOG=$!

C() { ip netns exec "$NS_C" "$@"; }
S() { ip netns exec "$NS_S" "$@"; }

say "namespaces $NS_C / $NS_S"
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add "pirc$$" type veth peer name "pirs$$"
ip link set "pirc$$" netns "$NS_C"
ip link set "pirs$$" netns "$NS_S"
ip -n "$NS_C" link set "pirc$$" name eth0
ip -n "$NS_S" link set "pirs$$" name eth0
ip -n "$NS_C" link set eth0 address 02:00:0a:62:00:01
ip -n "$NS_S" link set eth0 address 02:00:0a:62:00:02
for ns in "$NS_C" "$NS_S"; do
    # IPv4 only: no IPv6 neighbour discovery or MLD in these small captures
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.eth0.disable_ipv6=1
    ip -n "$ns" link set lo up
    # no TSO/GSO super-frames: every captured frame fits the 1500-byte MTU
    ip -n "$ns" link set eth0 gso_max_size 1514 gso_max_segs 1
done
ip -n "$NS_C" addr add $CLI4/24 dev eth0
for a in $PROXY $ORIGIN $ORIGIN2 $DNS4; do ip -n "$NS_S" addr add "$a/24" dev eth0; done
ip -n "$NS_C" link set eth0 up
ip -n "$NS_S" link set eth0 up
sleep 0.5

# ---------------------------------------------------------------- certificates
# ECDSA P-256 keys (smaller than the RSA of samples/: every capture stays < 60 KB).
say "certificates"
cat >"$PKI/ca.cnf" <<'EOF'
[ ca ]
default_ca = CA_default
[ CA_default ]
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
policy = pol
unique_subject = no
copy_extensions = none
[ pol ]
commonName = supplied
[ root ]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[ inter ]
basicConstraints = critical,CA:TRUE,pathlen:0
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[ leaf ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = $ENV::SAN
EOF
(
    cd "$PKI"
    : >index.txt
    printf '%s\n' 2000 >serial
    export SAN=DNS:unused
    ec=(-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes)
    root() { # name subject
        openssl req -x509 "${ec[@]}" -keyout "$1.key" -out "$1.pem" -days 3650 \
            -subj "$2" -config ca.cnf -extensions root 2>/dev/null
    }
    sign() { # name issuer extensions [days|expired]
        if [[ ${4:-} == expired ]]; then
            openssl ca -batch -config ca.cnf -cert "$2.pem" -keyfile "$2.key" -in "$1.csr" \
                -out "$1.pem" -extensions "$3" -notext \
                -startdate "$(date -u -d '-420 days' +%Y%m%d%H%M%SZ)" \
                -enddate "$(date -u -d '-23 days' +%Y%m%d%H%M%SZ)" 2>/dev/null
        else
            openssl ca -batch -config ca.cnf -cert "$2.pem" -keyfile "$2.key" -in "$1.csr" \
                -out "$1.pem" -extensions "$3" -days "${4:-397}" -notext 2>/dev/null
        fi
    }
    csr() { # name subject
        openssl req -new "${ec[@]}" -keyout "$1.key" -out "$1.csr" -subj "$2" 2>/dev/null
    }
    # The origin CA: what the pinning clients trust (their own store or pin), and what
    # the real servers' certificates come from (the baseline capture, inspection off).
    root origin-root "/C=US/O=Example Trust Services/CN=Example Origin Root CA"
    # The TLS-inspection CA the proxy mints certificates from.
    root insp-root "/C=US/O=Example Corp/OU=TLS Inspection/CN=Example Corp Inspection Root CA"
    csr insp-int "/C=US/O=Example Corp/OU=TLS Inspection/CN=Example Corp Inspection Intermediate CA"
    sign insp-int insp-root inter 1825
    proxy_leaf() { # name dns-names...: the proxy's leaf for one capture (its names in the SAN)
        local n=$1 san="" d; shift
        for d in "$@"; do san+="${san:+,}DNS:$d"; done
        csr "$n" "/O=Example Corp/OU=TLS Inspection/CN=$1"
        SAN=$san sign "$n" insp-int leaf
    }
    proxy_leaf p-flaky flaky.example pinned.example
    proxy_leaf p-wildcard a.cdn.pinned-app.example b.cdn.pinned-app.example \
        c.mixed-app.example d.mixed-app.example x.shared.akamaihd.net y.shared.akamaihd.net
    proxy_leaf p-baseline works-without.example broken-anyway.example
    proxy_leaf p-split api.split-app.example www.split-app.example static.split-other.example
    # Origin leaves (baseline): works-without.example is valid; broken-anyway.example's
    # own certificate expired 23 days ago, so it fails without inspection too.
    csr o-works "/O=Example Works/CN=works-without.example"
    SAN=DNS:works-without.example sign o-works origin-root leaf
    csr o-broken "/O=Example Broken/CN=broken-anyway.example"
    SAN=DNS:broken-anyway.example sign o-broken origin-root leaf expired
    chmod 600 ./*.key
)
TRUST_INSP=$PKI/insp-root.pem      # a client whose store has the inspection root
TRUST_ORIGIN=$PKI/origin-root.pem  # a client with its own store / pin
printf '<html><body>pinspect sample: ok</body></html>\n' >"$WORK/www/index.html"

# ---------------------------------------------------------------- helpers
wait_listen() { # proto(t|u) port addr: bounded wait until the server listens
    local i
    for i in $(seq 1 100); do
        if S ss -Hln"$1" "sport = :$2" | grep -qF "$3"; then return 0; fi
        sleep 0.05
    done
    die "nothing listening on $3 port $2 ($1)"
}
s_server() { # addr cert-name chain(insp-int|-) [extra s_server options]
    local addr=$1 cert=$2 chain=$3; shift 3
    local extra=()
    [[ $chain != - ]] && extra=(-cert_chain "$PKI/$chain.pem")
    (cd "$WORK/www" && exec ip netns exec "$NS_S" openssl s_server -quiet -WWW \
        -accept "$addr:443" -cert "$PKI/$cert.pem" -key "$PKI/$cert.key" "${extra[@]}" \
        -keylogfile "$KEYLOG" "$@") >>"$LOG/s_server.$FILE.log" 2>&1 &
    BG_PIDS+=($!)
    wait_listen t 443 "$addr"
}
stop_servers() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    BG_PIDS=()
}
cli() { # TIMEOUT cmd...: a client in the client namespace; failure is expected often
    local t=$1; shift
    echo "+ $*" >>"$LOG/clients.$FILE.log"
    C timeout "$t" "$@" >>"$LOG/clients.$FILE.log" 2>&1 || true
    sleep 0.2   # the closing packets, and a gap between streams
}
begin() { # file comment
    FILE=$1
    STREAM=0
    KEYLOG=$STAGE/keylog/${FILE%.*}.keylog
    : >"$KEYLOG"
    CAP_COMMENT=$2
}
capture() { # dumpcap on the client's veth, once the servers listen
    local err=$LOG/capture.$FILE.err i
    ip netns exec "$NS_C" dumpcap -i eth0 -q -w "$STAGE/$FILE" --capture-comment "$CAP_COMMENT" \
        >"$err" 2>&1 &
    CAP_PID=$!
    for i in $(seq 1 100); do
        grep -q 'Capturing on' "$err" 2>/dev/null && break
        sleep 0.05
    done
    grep -q 'Capturing on' "$err" || die "capture did not start: $(cat "$err")"
    sleep 0.3
}
finish() {
    sleep 0.6   # let the last packets reach the capture
    kill -INT "$CAP_PID"
    wait "$CAP_PID" 2>/dev/null || true
    CAP_PID=
    stop_servers
    local size
    size=$(stat -c %s "$STAGE/$FILE")
    say "$FILE: $STREAM TCP streams, $size bytes"
    ((size < 60000)) || die "$FILE is $size bytes (limit 60000)"
}
# expect SNI VERDICT ALERT: the next TCP connection (verify.py's format)
expect() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$FILE" "$STREAM" "$1" "$2" "$3" >>"$STAGE/connections.tsv"
    STREAM=$((STREAM + 1))
}
rank() { # INPUTS RULE CATEGORY NOTE: what `pinspect analyze INPUTS` must rank (expected.tsv)
    printf '%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" >>"$STAGE/expected.tsv"
}

# The clients.  Every one connects to an address literal with the name as SNI.  Every
# failure comes from one "app": Python's ssl driven by pihelper.py, that trusts only the
# origin CA (its pin).  curl and openssl s_client are not used for failures: pinspect's
# diagnosis (doc/diagnosis.md, step 4) rightly calls a general-purpose tool with its own CA
# bundle a trust-store case, and these samples are about the ranking of pinning apps.
ok_curl() { # NAME ADDR: an ordinary client with the inspection root installed: healthy
    expect "$1" healthy -
    cli 10 curl -sS -o /dev/null --connect-timeout 5 --resolve "$1:443:$2" --cacert "$TRUST_INSP" \
        "https://$1/index.html"
}
ok_origin() { # NAME ADDR: Python with its own store, against the origin (no inspection)
    expect "$1" healthy -
    cli 10 "$PY" "$HELPER" client --host "$2" --port 443 --sni "$1" --cafile "$TRUST_ORIGIN"
}
pin_rst() { # NAME ADDR [--min/--max]: a pinning app's silent reject, RST after the server flight
    local n=$1 a=$2; shift 2
    expect "$n" rst-after-hello -
    cli 10 "$PY" "$HELPER" hello-abort --host "$a" --port 443 --sni "$n" --close rst "$@"
}
pin_fin() { # NAME ADDR: the same silent reject, closing with FIN
    expect "$1" fin-after-hello -
    cli 10 "$PY" "$HELPER" hello-abort --host "$2" --port 443 --sni "$1" --close fin
}
pin_py() { # NAME ADDR: the app verifying against its own store (a pin): unknown_ca in the clear
    expect "$1" cert-alert unknown_ca
    cli 10 "$PY" "$HELPER" client --host "$2" --port 443 --sni "$1" --cafile "$TRUST_ORIGIN"
}
expired_origin() { # NAME ADDR: the same app against an origin whose certificate has expired
    expect "$1" cert-alert certificate_expired
    cli 10 "$PY" "$HELPER" client --host "$2" --port 443 --sni "$1" --cafile "$TRUST_ORIGIN"
}

printf 'file\ttcp_stream\tsni\tverdict\talert\n' >"$STAGE/connections.tsv"
printf 'file\tname\tqtype\tqueries\tresponses\trcode\ttransport\ttruncated\tchain\taddresses\n' \
    >"$STAGE/expected-dns.tsv"
printf 'inputs\trule\tcategory\tnote\n' >"$STAGE/expected.tsv"

# ================================================================ flaky.pcapng
# flaky.example works 6 times for an ordinary client (curl with the inspection root) and
# fails once (a reset after the server hello: chance, not pinning); pinned.example fails
# 4 times for the pinning app (Python: silent resets and unknown_ca), never works.
say "flaky.pcapng"
begin flaky.pcapng "pinspect ranking sample: flaky vs pinned (samples/ranking/README.md)"
s_server $PROXY p-flaky insp-int
capture
ok_curl flaky.example $PROXY
pin_rst pinned.example $PROXY
ok_curl flaky.example $PROXY
ok_curl flaky.example $PROXY
pin_py pinned.example $PROXY
pin_rst flaky.example $PROXY --max 1.2
ok_curl flaky.example $PROXY
pin_rst pinned.example $PROXY
ok_curl flaky.example $PROXY
pin_py pinned.example $PROXY
ok_curl flaky.example $PROXY
finish
rank flaky.pcapng pinned.example bypass "first: 4 failures (2 rst-after-hello, 2 unknown_ca), no success"
rank flaky.pcapng flaky.example inconclusive "1 rst-after-hello, 6 successes from the same client"

# ================================================================ wildcard.pcapng
say "wildcard.pcapng"
begin wildcard.pcapng "pinspect ranking sample: wildcards (samples/ranking/README.md)"
s_server $PROXY p-wildcard insp-int
capture
for i in 1 2 3; do
    pin_py a.cdn.pinned-app.example $PROXY
    pin_rst b.cdn.pinned-app.example $PROXY
    pin_fin c.mixed-app.example $PROXY
    pin_rst x.shared.akamaihd.net $PROXY --max 1.2
    pin_py y.shared.akamaihd.net $PROXY
    if ((i < 3)); then ok_curl d.mixed-app.example $PROXY; fi
done
finish
rank wildcard.pcapng .cdn.pinned-app.example bypass "covers a. and b.cdn.pinned-app.example (3 unknown_ca + 3 rst-after-hello)"
rank wildcard.pcapng c.mixed-app.example bypass "exact (3 fin-after-hello): its sibling d.mixed-app.example is healthy"
rank wildcard.pcapng x.shared.akamaihd.net bypass "exact: no wildcard under a shared CDN"
rank wildcard.pcapng y.shared.akamaihd.net bypass "exact: no wildcard under a shared CDN"

# ================================================================ baseline
# The same actions twice: through the inspecting proxy, then straight to the origins.
say "with-inspection.pcapng"
begin with-inspection.pcapng "pinspect ranking sample: inspection on (samples/ranking/README.md)"
s_server $PROXY p-baseline insp-int
capture
for i in 1 2 3; do
    pin_py works-without.example $PROXY
    pin_py broken-anyway.example $PROXY
done
finish
rank with-inspection.pcapng broken-anyway.example bypass "without a baseline both names look alike (3 unknown_ca each)"
rank with-inspection.pcapng works-without.example bypass "without a baseline both names look alike (3 unknown_ca each)"

say "without-inspection.pcapng"
begin without-inspection.pcapng "pinspect ranking sample: inspection off, the baseline (samples/ranking/README.md)"
s_server $ORIGIN o-works -
s_server $ORIGIN2 o-broken -
capture
for i in 1 2 3; do
    ok_origin works-without.example $ORIGIN
    expired_origin broken-anyway.example $ORIGIN2
done
finish
BL="with-inspection.pcapng --baseline without-inspection.pcapng"
rank "$BL" works-without.example bypass "first, baseline_ok: works without inspection"
rank "$BL" broken-anyway.example inconclusive "fails without inspection too (certificate_expired there)"

# ================================================================ split-a / split-b
# Two halves of one scenario for pinspect merge: api.split-app.example fails twice in
# each (rst-after-hello in A, unknown_ca in B), one healthy name in each, and in A a
# DNS query that is never answered.  Names come from dnsmasq.
start_dns() {
    S "$PY" "$HELPER" udp-sink --host 127.0.0.1 --port 5300 >>"$LOG/pyserver.$FILE.log" 2>&1 &
    BG_PIDS+=($!)
    wait_listen u 5300 127.0.0.1
    # shellcheck disable=SC2054  # the commas belong to dnsmasq options
    S dnsmasq --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll \
        --bind-interfaces "--listen-address=$DNS4" --user=root --group=root --pid-file= \
        --log-queries --log-facility="$LOG/dnsmasq.$FILE.log" --local-ttl=300 \
        --host-record=api.split-app.example,$PROXY,300 \
        --host-record=www.split-app.example,$PROXY,300 \
        --host-record=static.split-other.example,$PROXY,300 \
        --server=/split-blocked.example/127.0.0.1#5300 >>"$LOG/dnsmasq.out" 2>&1 &
    BG_PIDS+=($!)
    wait_listen u 53 $DNS4
}
resolve() { # [dig options] NAME: the address dnsmasq answers (empty if none)
    C timeout 10 dig @$DNS4 "$@" A +short 2>>"$LOG/dig.$FILE.log" | tail -n1 || true
}
dns_row() { # name queries responses rcode chain addresses
    printf '%s\t%s\tA\t%s\t%s\t%s\tudp\t0\t%s\t%s\n' "$FILE" "$1" "$2" "$3" "$4" "$5" "$6" \
        >>"$STAGE/expected-dns.tsv"
}

say "split-a.pcapng"
begin split-a.pcapng "pinspect ranking sample: first half, for pinspect merge (samples/ranking/README.md)"
s_server $PROXY p-split insp-int
start_dns
capture
A=$(resolve api.split-app.example)
[[ $A == "$PROXY" ]] || die "dnsmasq: api.split-app.example resolved to '$A'"
pin_rst api.split-app.example "$A"
W=$(resolve www.split-app.example)
ok_curl www.split-app.example "$W"
resolve +tries=2 +time=1 telemetry.split-blocked.example >/dev/null   # 2 queries, no answer
pin_rst api.split-app.example "$A"
finish
dns_row api.split-app.example 1 1 NOERROR api.split-app.example $PROXY
dns_row www.split-app.example 1 1 NOERROR www.split-app.example $PROXY
dns_row telemetry.split-blocked.example 2 0 - - -
rank split-a.pcapng api.split-app.example bypass "2 x rst-after-hello"
rank split-a.pcapng telemetry.split-blocked.example dns-blocked "2 queries, never answered"

say "split-b.pcapng"
begin split-b.pcapng "pinspect ranking sample: second half, for pinspect merge (samples/ranking/README.md)"
s_server $PROXY p-split insp-int
start_dns
capture
A=$(resolve api.split-app.example)
[[ $A == "$PROXY" ]] || die "dnsmasq: api.split-app.example resolved to '$A'"
pin_py api.split-app.example "$A"
W=$(resolve static.split-other.example)
ok_curl static.split-other.example "$W"
pin_py api.split-app.example "$A"
finish
dns_row api.split-app.example 1 1 NOERROR api.split-app.example $PROXY
dns_row static.split-other.example 1 1 NOERROR static.split-other.example $PROXY
rank split-b.pcapng api.split-app.example bypass "2 x cert-alert unknown_ca"
rank "split-a.pcapng split-b.pcapng" api.split-app.example bypass "4 failures; the same as pinspect merge of the halves"
rank "split-a.pcapng split-b.pcapng" telemetry.split-blocked.example dns-blocked "2 queries, never answered"

# ================================================================ verify, then publish
say "verify"
if ! "$PY" "$VERIFY" "$STAGE/connections.tsv" "$STAGE" --dns "$STAGE/expected-dns.tsv" \
        | tee "$LOG/verify.txt"; then
    die "the captures do not show the expected verdicts (see above)"
fi
mkdir -p "$OUT/keylog"
chmod 644 "$STAGE"/*.pcapng "$STAGE"/*.tsv "$STAGE"/keylog/*.keylog
cp "$STAGE"/*.pcapng "$STAGE"/*.tsv "$OUT/"
cp "$STAGE"/keylog/*.keylog "$OUT/keylog/"
say "done: captures in $OUT ($(du -sh "$OUT" | cut -f1))"
