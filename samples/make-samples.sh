#!/usr/bin/env bash
# make-samples.sh: regenerate pinspect's sample captures from real TLS stacks.
#
# Every byte in the captures comes from a real stack: openssl s_server/s_client,
# curl, Python's ssl module (helpers/pihelper.py), GnuTLS gnutls-cli, dnsmasq and
# dig; optionally Node.js and Java (JSSE).  See README.md for what each file holds
# and expected.tsv for the verdict of every TLS connection.
#
# Needs (Debian 12 packages), run as root:
#   openssl curl python3 tcpdump tshark (with dumpcap: wireshark-common)
#   dnsmasq (or dnsmasq-base) dnsutils (dig) iproute2 (ip, ss) gnutls-bin (gnutls-cli)
#   coreutils (timeout)
# Optional: nodejs (node.pcap) and default-jre-headless (jsse.pcap).  Without them
#   those two captures and their rows of expected.tsv are left as they are.
#
# Network: two namespaces created here (pis-cli-PID, pis-srv-PID) joined by one veth
# pair; no packet leaves them.  Everything (namespaces, processes, temp dir) is removed
# at exit.  Runtime about a minute; every wait and loop is bounded.
#
# Usage: samples/make-samples.sh [OUTDIR]     (default: the directory of this script)
#        KEEP_WORK=1 keeps the work directory (certificates, logs) for debugging.
set -euo pipefail
export LC_ALL=C

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
OUT=$(mkdir -p "${1:-$HERE}" && cd "${1:-$HERE}" && pwd)
HELPER=$HERE/helpers/pihelper.py
VERIFY=$HERE/helpers/verify.py
JSSE_SRC=$HERE/helpers/JsseClient.java
NODE_SRC=$HERE/helpers/node-client.js

die() { echo "make-samples: $*" >&2; exit 1; }
say() { echo "== $*" >&2; }

[[ $(id -u) == 0 ]] || die "run as root (network namespaces, tcpdump)"
for t in openssl curl tcpdump tshark dumpcap dnsmasq dig ip ss gnutls-cli timeout; do
    command -v "$t" >/dev/null || die "missing tool: $t"
done
PY=/usr/bin/python3
[[ -x $PY ]] || PY=$(command -v python3) || die "missing tool: python3"
HAVE_NODE=0; command -v node >/dev/null && HAVE_NODE=1
HAVE_JAVA=0; command -v java >/dev/null && HAVE_JAVA=1

# ---------------------------------------------------------------- topology
NS_C=pis-cli-$$
NS_S=pis-srv-$$
CLI4=10.99.0.1  SRV4=10.99.0.2  CLI6=fd99::1  SRV6=fd99::2
DNS4=10.99.0.53 DNS6=fd99::53                    # dnsmasq (mixed.pcapng)
WORK=$(mktemp -d /tmp/pinspect-samples.XXXXXX)
STAGE=$WORK/out
PKI=$WORK/pki
LOG=$WORK/log
mkdir -p "$STAGE/keylog" "$PKI" "$LOG" "$WORK/www"
BG_PIDS=()   # servers of the current capture
CAP_PID=

cleanup() {
    local rc=$?
    set +e
    [[ -n ${WATCHDOG:-} ]] && kill "$WATCHDOG" 2>/dev/null
    for p in "${BG_PIDS[@]}" $CAP_PID; do kill "$p" 2>/dev/null; done
    for p in "${BG_PIDS[@]}" $CAP_PID; do wait "$p" 2>/dev/null; done
    ip netns del "$NS_C" 2>/dev/null
    ip netns del "$NS_S" 2>/dev/null
    if [[ ${KEEP_WORK:-0} == 1 || $rc != 0 ]]; then
        echo "make-samples: work directory kept: $WORK" >&2
    else
        rm -rf "$WORK"
    fi
    exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# A watchdog: whatever happens, the run ends within 5 minutes.
(
    sleep 300 &
    trap 'kill $! 2>/dev/null; exit 0' TERM
    wait $!
    echo "make-samples: watchdog: giving up after 300 s" >&2
    kill -TERM $$
) &
WATCHDOG=$!

C() { ip netns exec "$NS_C" "$@"; }           # run in the client namespace
S() { ip netns exec "$NS_S" "$@"; }           # run in the server namespace

say "namespaces $NS_C / $NS_S"
ip netns add "$NS_C"
ip netns add "$NS_S"
ip link add "pisc$$" type veth peer name "piss$$"
ip link set "pisc$$" netns "$NS_C"
ip link set "piss$$" netns "$NS_S"
ip -n "$NS_C" link set "pisc$$" name eth0
ip -n "$NS_S" link set "piss$$" name eth0
ip -n "$NS_C" link set eth0 address 02:00:0a:63:00:01
ip -n "$NS_S" link set eth0 address 02:00:0a:63:00:02
for ns in "$NS_C" "$NS_S"; do
    # no router solicitations or autoconf noise in the captures
    ip netns exec "$ns" sysctl -q -w net.ipv6.conf.eth0.router_solicitations=0 \
        net.ipv6.conf.eth0.accept_ra=0 net.ipv6.conf.eth0.autoconf=0
    ip -n "$ns" link set lo up
    # no TSO/GSO super-frames: every captured frame fits the 1500-byte MTU
    ip -n "$ns" link set eth0 gso_max_size 1514 gso_max_segs 1
done
ip -n "$NS_C" addr add $CLI4/24 dev eth0
ip -n "$NS_C" addr add $CLI6/64 dev eth0 nodad
ip -n "$NS_S" addr add $SRV4/24 dev eth0
ip -n "$NS_S" addr add $SRV6/64 dev eth0 nodad
for a in $DNS4 10.99.0.11 10.99.0.12 10.99.0.13 10.99.0.14 10.99.0.15; do
    ip -n "$NS_S" addr add "$a/24" dev eth0
done
for a in $DNS6 fd99::11; do ip -n "$NS_S" addr add "$a/64" dev eth0 nodad; done
ip -n "$NS_C" link set eth0 up
ip -n "$NS_S" link set eth0 up
sleep 1   # let the link-up MLD/NDP chatter pass before any capture starts

# ---------------------------------------------------------------- certificates
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
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
subjectAltName = $ENV::SAN
EOF
(
    cd "$PKI"
    : >index.txt
    printf '%s\n' 1000 >serial
    export SAN=DNS:unused
    root() { # name subject
        openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 3650 \
            -subj "$2" -config ca.cnf -extensions root 2>/dev/null
    }
    # The origin CA: what the rejecting clients trust (their own store / pin).
    root origin-root "/C=US/O=Example Trust Services/CN=Example Origin Root CA"
    # The TLS-inspection CA the proxy mints certificates from.
    root insp-root "/C=US/O=Example Corp/OU=TLS Inspection/CN=Example Corp Inspection Root CA"
    openssl req -new -newkey rsa:2048 -nodes -keyout insp-int.key -out insp-int.csr \
        -subj "/C=US/O=Example Corp/OU=TLS Inspection/CN=Example Corp Inspection Intermediate CA" 2>/dev/null
    openssl ca -batch -config ca.cnf -cert insp-root.pem -keyfile insp-root.key -in insp-int.csr \
        -out insp-int.pem -days 1825 -extensions inter -notext 2>/dev/null
    leaf() { # name cn san [days|expired]
        openssl req -new -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.csr" \
            -subj "/O=Example Corp/OU=TLS Inspection/CN=$2" 2>/dev/null
        if [[ ${4:-} == expired ]]; then
            SAN=$3 openssl ca -batch -config ca.cnf -cert insp-int.pem -keyfile insp-int.key \
                -in "$1.csr" -out "$1.pem" -extensions leaf -notext \
                -startdate "$(date -u -d '-420 days' +%Y%m%d%H%M%SZ)" \
                -enddate "$(date -u -d '-23 days' +%Y%m%d%H%M%SZ)" 2>/dev/null
        else
            SAN=$3 openssl ca -batch -config ca.cnf -cert insp-int.pem -keyfile insp-int.key \
                -in "$1.csr" -out "$1.pem" -extensions leaf -notext -days 397 2>/dev/null
        fi
    }
    san="DNS:*.pinspect.test"
    for g in healthy rst-after-hello fin-after-hello cert-alert encrypted-abort close-no-data \
             other-alert server-abort incomplete; do san+=",DNS:*.$g.pinspect.test"; done
    leaf proxy "*.pinspect.test" "$san,IP:$SRV4,IP:$SRV6"
    leaf wrong-name "www.unrelated.example" "DNS:www.unrelated.example"
    leaf expired "expired.cert-alert.pinspect.test" "DNS:*.cert-alert.pinspect.test" expired
    leaf m-dd downloaddispatch.itunes.apple.com "DNS:downloaddispatch.itunes.apple.com"
    leaf m-login login.contoso.com "DNS:login.contoso.com"
    leaf m-api api.pinned.example "DNS:api.pinned.example"
    leaf m-www www.pinned.example "DNS:www.pinned.example,DNS:pinned.example"
    leaf m-reg registry.devtools.example "DNS:registry.devtools.example"
    for k in *.key; do chmod 600 "$k"; done
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
bracket() { [[ $1 == *:* ]] && echo "[$1]" || echo "$1"; }

s_server() { # addr port cert-name [extra s_server options]: one openssl s_server
    local addr=$1 port=$2 cert=$3; shift 3
    (cd "$WORK/www" && exec ip netns exec "$NS_S" openssl s_server -quiet -WWW \
        -accept "$(bracket "$addr"):$port" -cert "$PKI/$cert.pem" -key "$PKI/$cert.key" \
        -cert_chain "$PKI/insp-int.pem" -keylogfile "$KEYLOG" "$@") \
        >>"$LOG/s_server.$FILE.log" 2>&1 &
    BG_PIDS+=($!)
    wait_listen t "$port" "$addr"
}
py_server() { # mode addr port
    ip netns exec "$NS_S" "$PY" "$HELPER" "$1" --host "$2" --port "$3" >>"$LOG/pyserver.$FILE.log" 2>&1 &
    BG_PIDS+=($!)
    wait_listen t "$3" "$2"
}
stop_servers() {
    local p
    for p in "${BG_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    for p in "${BG_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
    BG_PIDS=()
}

# cli TIMEOUT cmd...: a client in the client namespace; failure is expected often
cli() {
    local t=$1; shift
    echo "+ $*" >>"$LOG/clients.$FILE.log"
    C timeout "$t" "$@" >>"$LOG/clients.$FILE.log" 2>&1 || true
    sleep 0.25   # the closing packets, and a gap between streams
}

begin() { # file format(pcap|pcap-nano|pcapng) comment
    FILE=$1
    STREAM=0
    KEYLOG=$STAGE/keylog/${FILE%.*}.keylog
    : >"$KEYLOG"
    CAP_FMT=$2
    CAP_COMMENT=$3
}
capture() { # start the capture on the client's veth once the servers listen
    local err=$LOG/capture.$FILE.err i
    case $CAP_FMT in
        pcap)      ip netns exec "$NS_C" tcpdump -i eth0 -n -U --immediate-mode -Z root -w "$STAGE/$FILE" >"$err" 2>&1 & ;;
        pcap-nano) ip netns exec "$NS_C" tcpdump -i eth0 -n -U --immediate-mode -Z root --time-stamp-precision=nano \
                       -w "$STAGE/$FILE" >"$err" 2>&1 & ;;
        pcapng)    ip netns exec "$NS_C" dumpcap -i eth0 -q -w "$STAGE/$FILE" --capture-comment "$CAP_COMMENT" >"$err" 2>&1 & ;;
    esac
    CAP_PID=$!
    for i in $(seq 1 100); do
        grep -qE 'listening on|Capturing on' "$err" 2>/dev/null && break
        sleep 0.05
    done
    grep -qE 'listening on|Capturing on' "$err" || die "capture did not start: $(cat "$err")"
    sleep 0.3
}
finish() {
    sleep 0.8   # let the last packets reach the capture
    kill -INT "$CAP_PID"
    wait "$CAP_PID" 2>/dev/null || true
    CAP_PID=
    stop_servers
    say "$FILE: $STREAM TCP streams"
}
# expect SNI VERDICT ALERT: the next TCP connection is a TLS connection with this verdict
expect() {
    printf '%s\t%s\t%s\t%s\t%s\n' "$FILE" "$STREAM" "$1" "$2" "$3" >>"$STAGE/expected.tsv"
    STREAM=$((STREAM + 1))
}
not_tls() { STREAM=$((STREAM + 1)); }   # the next TCP connection is not TLS (DNS over TCP)

curl_get() { # timeout name port addr [curl options]
    local t=$1 name=$2 port=$3 addr=$4; shift 4
    cli "$t" curl -sS -o /dev/null --connect-timeout 5 --resolve "$name:$port:$(bracket "$addr")" \
        "$@" "https://$name:$port/index.html"
}
s_client() { # timeout addr port [s_client options] (stdin: /dev/null unless redirected)
    local t=$1 addr=$2 port=$3; shift 3
    cli "$t" openssl s_client -connect "$(bracket "$addr"):$port" "$@"
}
pyc() { # python helper client: timeout sub-command args
    local t=$1; shift
    cli "$t" "$PY" "$HELPER" "$@"
}

printf 'file\ttcp_stream\tsni\tverdict\talert\n' >"$STAGE/expected.tsv"
printf 'file\tname\tqtype\tqueries\tresponses\trcode\ttransport\ttruncated\tchain\taddresses\n' \
    >"$STAGE/expected-dns.tsv"
D=pinspect.test

# ================================================================ healthy.pcap
say "healthy.pcap"
begin healthy.pcap pcap-nano ""
s_server $SRV4 4401 proxy
s_server $SRV4 4402 proxy
s_server $SRV6 4403 proxy
s_server $SRV6 4404 proxy
capture
expect curl-tls12.healthy.$D healthy -
curl_get 10 curl-tls12.healthy.$D 4401 $SRV4 --cacert "$TRUST_INSP" --tlsv1.2 --tls-max 1.2
expect curl-tls13.healthy.$D healthy -
curl_get 10 curl-tls13.healthy.$D 4402 $SRV4 --cacert "$TRUST_INSP" --tlsv1.3
expect curl-tls13-v6.healthy.$D healthy -
curl_get 10 curl-tls13-v6.healthy.$D 4403 $SRV6 --cacert "$TRUST_INSP" --tlsv1.3
expect python-tls12-v6.healthy.$D healthy -
pyc 10 client --host $SRV6 --port 4404 --sni python-tls12-v6.healthy.$D --cafile "$TRUST_INSP" \
    --max 1.2 --mode get
finish

# ================================================================ rst-after-hello.pcap
say "rst-after-hello.pcap"
begin rst-after-hello.pcap pcap ""
s_server $SRV4 4411 proxy
s_server $SRV4 4412 proxy
s_server $SRV6 4413 proxy
capture
expect python-tls12.rst-after-hello.$D rst-after-hello -
pyc 10 hello-abort --host $SRV4 --port 4411 --sni python-tls12.rst-after-hello.$D --min 1.2 --max 1.2 --close rst
expect python-tls13.rst-after-hello.$D rst-after-hello -
pyc 10 hello-abort --host $SRV4 --port 4412 --sni python-tls13.rst-after-hello.$D --min 1.3 --close rst
expect python-tls13-v6.rst-after-hello.$D rst-after-hello -
pyc 10 hello-abort --host $SRV6 --port 4413 --sni python-tls13-v6.rst-after-hello.$D --min 1.3 --close rst
finish

# ================================================================ fin-after-hello.pcap
say "fin-after-hello.pcap"
begin fin-after-hello.pcap pcap ""
s_server $SRV4 4421 proxy
s_server $SRV4 4422 proxy
s_server $SRV6 4423 proxy
capture
expect python-tls12.fin-after-hello.$D fin-after-hello -
pyc 10 hello-abort --host $SRV4 --port 4421 --sni python-tls12.fin-after-hello.$D --min 1.2 --max 1.2 --close fin
expect python-tls13.fin-after-hello.$D fin-after-hello -
pyc 10 hello-abort --host $SRV4 --port 4422 --sni python-tls13.fin-after-hello.$D --min 1.3 --close fin
expect python-tls12-v6.fin-after-hello.$D fin-after-hello -
pyc 10 hello-abort --host $SRV6 --port 4423 --sni python-tls12-v6.fin-after-hello.$D --min 1.2 --max 1.2 --close fin
finish

# ================================================================ cert-alert.pcap
say "cert-alert.pcap"
begin cert-alert.pcap pcap ""
for p in 4431 4432 4436 4437; do s_server $SRV4 $p proxy; done
s_server $SRV6 4433 proxy
s_server $SRV6 4438 proxy
s_server $SRV4 4434 wrong-name
s_server $SRV4 4435 expired
capture
expect openssl-tls12.cert-alert.$D cert-alert unknown_ca
s_client 10 $SRV4 4431 -servername openssl-tls12.cert-alert.$D -tls1_2 -verify_return_error \
    -CAfile "$TRUST_ORIGIN" </dev/null
expect python-tls12.cert-alert.$D cert-alert unknown_ca
pyc 10 client --host $SRV4 --port 4432 --sni python-tls12.cert-alert.$D --cafile "$TRUST_ORIGIN" --max 1.2
expect curl-tls12-v6.cert-alert.$D cert-alert unknown_ca
curl_get 10 curl-tls12-v6.cert-alert.$D 4433 $SRV6 --cacert "$TRUST_ORIGIN" --tlsv1.2 --tls-max 1.2
expect hostname-mismatch.cert-alert.$D cert-alert bad_certificate
pyc 10 client --host $SRV4 --port 4434 --sni hostname-mismatch.cert-alert.$D --cafile "$TRUST_INSP" --max 1.2
expect expired.cert-alert.$D cert-alert certificate_expired
s_client 10 $SRV4 4435 -servername expired.cert-alert.$D -tls1_2 -verify_return_error \
    -CAfile "$TRUST_INSP" </dev/null
expect gnutls-tls12.cert-alert.$D cert-alert bad_certificate
cli 10 gnutls-cli --x509cafile "$TRUST_ORIGIN" --sni-hostname gnutls-tls12.cert-alert.$D \
    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.2' -p 4436 $SRV4 </dev/null
# OpenSSL clients reject in TLS 1.3 too with a plaintext alert (see README)
expect openssl-tls13.cert-alert.$D cert-alert unknown_ca
s_client 10 $SRV4 4437 -servername openssl-tls13.cert-alert.$D -tls1_3 -verify_return_error \
    -CAfile "$TRUST_ORIGIN" </dev/null
expect curl-tls13-v6.cert-alert.$D cert-alert unknown_ca
curl_get 10 curl-tls13-v6.cert-alert.$D 4438 $SRV6 --cacert "$TRUST_ORIGIN" --tlsv1.3
finish

# ================================================================ encrypted-abort.pcap
say "encrypted-abort.pcap"
begin encrypted-abort.pcap pcap ""
s_server $SRV4 4441 proxy
s_server $SRV6 4442 proxy
capture
expect gnutls-tls13.encrypted-abort.$D encrypted-abort -
cli 10 gnutls-cli --x509cafile "$TRUST_ORIGIN" --sni-hostname gnutls-tls13.encrypted-abort.$D \
    --priority 'NORMAL:-VERS-ALL:+VERS-TLS1.3' -p 4441 $SRV4 </dev/null
expect gnutls-tls13-v6.encrypted-abort.$D encrypted-abort -
cli 10 gnutls-cli --x509cafile "$TRUST_ORIGIN" --sni-hostname gnutls-tls13-v6.encrypted-abort.$D \
    -p 4442 $SRV6 </dev/null
finish

# ================================================================ close-no-data.pcap
say "close-no-data.pcap"
begin close-no-data.pcap pcap ""
s_server $SRV4 4451 proxy
s_server $SRV4 4452 proxy
s_server $SRV6 4453 proxy
s_server $SRV4 4454 proxy -num_tickets 0
capture
expect openssl-tls12.close-no-data.$D close-no-data -
s_client 10 $SRV4 4451 -servername openssl-tls12.close-no-data.$D -tls1_2 -CAfile "$TRUST_INSP" </dev/null
expect openssl-tls13.close-no-data.$D close-no-data -
s_client 10 $SRV4 4452 -servername openssl-tls13.close-no-data.$D -tls1_3 -CAfile "$TRUST_INSP" </dev/null
expect python-tls12-v6.close-no-data.$D close-no-data -
pyc 10 client --host $SRV6 --port 4453 --sni python-tls12-v6.close-no-data.$D --cafile "$TRUST_INSP" \
    --max 1.2 --mode close
expect python-tls13-notickets.close-no-data.$D close-no-data -
pyc 10 client --host $SRV4 --port 4454 --sni python-tls13-notickets.close-no-data.$D \
    --cafile "$TRUST_INSP" --min 1.3 --mode close
finish

# ================================================================ other-alert.pcap
say "other-alert.pcap"
begin other-alert.pcap pcap ""
s_server $SRV4 4461 proxy -tls1 -cipher 'DEFAULT@SECLEVEL=0'
s_server $SRV6 4462 proxy -tls1 -cipher 'DEFAULT@SECLEVEL=0'
capture
expect openssl-tls12.other-alert.$D other-alert protocol_version
s_client 10 $SRV4 4461 -servername openssl-tls12.other-alert.$D -tls1_2 -CAfile "$TRUST_INSP" </dev/null
expect python-tls12-v6.other-alert.$D other-alert protocol_version
pyc 10 client --host $SRV6 --port 4462 --sni python-tls12-v6.other-alert.$D --cafile "$TRUST_INSP" \
    --min 1.2 --max 1.2
finish

# ================================================================ server-abort.pcap
say "server-abort.pcap"
begin server-abort.pcap pcap ""
s_server $SRV4 4471 proxy -tls1_2 -Verify 1
s_server $SRV4 4472 proxy -tls1_2 -cipher AES128-SHA
py_server rst-server $SRV6 4473
s_server $SRV4 4474 proxy -tls1_3 -Verify 1
capture
expect client-cert-tls12.server-abort.$D server-abort handshake_failure
curl_get 10 client-cert-tls12.server-abort.$D 4471 $SRV4 --cacert "$TRUST_INSP" --tlsv1.2 --tls-max 1.2
expect no-shared-cipher.server-abort.$D server-abort handshake_failure
s_client 10 $SRV4 4472 -servername no-shared-cipher.server-abort.$D -tls1_2 \
    -cipher ECDHE-RSA-AES256-GCM-SHA384 -CAfile "$TRUST_INSP" </dev/null
expect server-rst-v6.server-abort.$D server-abort -
curl_get 10 server-rst-v6.server-abort.$D 4473 $SRV6 --cacert "$TRUST_INSP"
expect client-cert-tls13.server-abort.$D server-abort -
curl_get 10 client-cert-tls13.server-abort.$D 4474 $SRV4 --cacert "$TRUST_INSP" --tlsv1.3
finish

# ================================================================ incomplete.pcap
say "incomplete.pcap"
begin incomplete.pcap pcap ""
py_server tarpit $SRV4 4481
py_server tarpit $SRV6 4482
capture
# Both clients wait (up to 20 s) for a server flight that never comes; the capture
# stops while they wait, then they are killed.
expect openssl-tls13.incomplete.$D incomplete -
ip netns exec "$NS_C" timeout 20 openssl s_client -connect $SRV4:4481 -servername openssl-tls13.incomplete.$D \
    </dev/null >>"$LOG/clients.$FILE.log" 2>&1 &
W1=$!
sleep 0.5
expect curl-tls12-v6.incomplete.$D incomplete -
ip netns exec "$NS_C" timeout 20 curl -sS -o /dev/null --resolve "curl-tls12-v6.incomplete.$D:4482:[$SRV6]" \
    --cacert "$TRUST_INSP" --tls-max 1.2 "https://curl-tls12-v6.incomplete.$D:4482/index.html" \
    >>"$LOG/clients.$FILE.log" 2>&1 &
W2=$!
sleep 1.5
finish
kill "$W1" "$W2" 2>/dev/null || true
wait "$W1" "$W2" 2>/dev/null || true

# ================================================================ node.pcap (optional)
if [[ $HAVE_NODE == 1 ]]; then
    say "node.pcap ($(node --version))"
    begin node.pcap pcap ""
    s_server $SRV4 4491 proxy
    s_server $SRV4 4492 proxy
    s_server $SRV6 4493 proxy
    capture
    # Node verifies after OpenSSL's handshake (rejectUnauthorized): it destroys the socket.
    expect node-tls12.close-no-data.$D close-no-data -
    cli 10 node "$NODE_SRC" $SRV4 4491 node-tls12.close-no-data.$D TLSv1.2 "$TRUST_ORIGIN"
    expect node-tls13.fin-after-hello.$D fin-after-hello -
    cli 10 node "$NODE_SRC" $SRV4 4492 node-tls13.fin-after-hello.$D TLSv1.3 "$TRUST_ORIGIN"
    expect node-tls13-v6.healthy.$D healthy -
    cli 10 node "$NODE_SRC" $SRV6 4493 node-tls13-v6.healthy.$D TLSv1.3 "$TRUST_INSP"
    finish
else
    say "node.pcap: no node, kept as it is"
fi

# ================================================================ jsse.pcap (optional)
if [[ $HAVE_JAVA == 1 ]]; then
    say "jsse.pcap ($(java -version 2>&1 | head -n1))"
    begin jsse.pcap pcap ""
    s_server $SRV4 4495 proxy
    s_server $SRV4 4496 proxy
    s_server $SRV6 4497 proxy
    capture
    # JSSE's default trust store (cacerts) does not hold the inspection root.
    expect jsse-tls12.cert-alert.$D cert-alert certificate_unknown
    cli 20 java "$JSSE_SRC" $SRV4 4495 jsse-tls12.cert-alert.$D TLSv1.2
    expect jsse-tls13.encrypted-abort.$D encrypted-abort -
    cli 20 java "$JSSE_SRC" $SRV4 4496 jsse-tls13.encrypted-abort.$D TLSv1.3
    expect jsse-tls13-v6.encrypted-abort.$D encrypted-abort -
    cli 20 java "$JSSE_SRC" $SRV6 4497 jsse-tls13-v6.encrypted-abort.$D TLSv1.3
    finish
else
    say "jsse.pcap: no java, kept as it is"
fi

# ================================================================ mixed.pcapng
# What a real trace of the problem looks like: names resolved through dnsmasq (CNAME
# chains), healthy connections to several names, one pinned name that fails again and
# again, a CLI tool with its own trust store, a name whose queries are dropped, an
# NXDOMAIN, DNS over TCP, a truncated answer retried over TCP, an SNI-less connection.
say "mixed.pcapng"
begin mixed.pcapng pcapng "pinspect sample capture (samples/make-samples.sh); see samples/README.md"
ip netns exec "$NS_S" "$PY" "$HELPER" udp-sink --host 127.0.0.1 --port 5300 >>"$LOG/pyserver.$FILE.log" 2>&1 &
BG_PIDS+=($!)
wait_listen u 5300 127.0.0.1
# shellcheck disable=SC2054  # the commas belong to dnsmasq options
dns_args=(
    --keep-in-foreground --conf-file=/dev/null --no-resolv --no-hosts --no-poll
    --bind-interfaces "--listen-address=$DNS4" "--listen-address=$DNS6" --user=root --group=root
    --pid-file= --log-queries --log-facility="$LOG/dnsmasq.log" --local-ttl=300
    # downloaddispatch.itunes.apple.com -> ...akadns.net -> ...akamai.net (A and AAAA)
    --cname=downloaddispatch.itunes.apple.com,downloaddispatch-cdn.itunes-apple.com.akadns.net,3600
    --cname=downloaddispatch-cdn.itunes-apple.com.akadns.net,a1988.dscapi6.akamai.net,120
    --host-record=a1988.dscapi6.akamai.net,10.99.0.11,fd99::11,20
    # login.contoso.com -> traffic manager -> A
    --cname=login.contoso.com,login-contoso-com.trafficmanager.net,300
    --host-record=login-contoso-com.trafficmanager.net,10.99.0.12,60
    # the pinned API behind an edge CDN
    --cname=api.pinned.example,api.pinned.example.edgekey.net,300
    --cname=api.pinned.example.edgekey.net,e6858.dscx.akamaiedge.net,300
    --host-record=e6858.dscx.akamaiedge.net,10.99.0.13,20
    --host-record=www.pinned.example,10.99.0.14,300
    --host-record=registry.devtools.example,10.99.0.15,300
    # NXDOMAIN for corp.example and below
    --address=/corp.example/
    # telemetry.blocked.example: forwarded to a black hole, never answered
    --server=/blocked.example/127.0.0.1#5300
)
for i in $(seq 1 40); do dns_args+=("--host-record=pool.cdn.example,10.99.1.$i,300"); done
ip netns exec "$NS_S" dnsmasq "${dns_args[@]}" >>"$LOG/dnsmasq.out" 2>&1 &
BG_PIDS+=($!)
wait_listen u 53 $DNS4
wait_listen t 53 $DNS4
s_server 10.99.0.11 443 m-dd
s_server fd99::11 443 m-dd
s_server 10.99.0.12 443 m-login
s_server 10.99.0.13 443 m-api
s_server 10.99.0.14 443 m-www
s_server 10.99.0.15 443 m-reg
capture

resolve() { # [dig options] name type: query dnsmasq, echo the last address of the answer
    C timeout 10 dig "$@" +short 2>>"$LOG/dig.$FILE.log" | tail -n1 || true
}
pinned() { # attempt N: the pinned app's silent reject (TLS 1.3, RST after the server flight)
    expect api.pinned.example rst-after-hello -
    pyc 10 hello-abort --host "$API" --port 443 --sni api.pinned.example --close rst
}
devtool() { # a CLI tool with its own CA bundle (no inspection root): unknown_ca in the clear
    expect registry.devtools.example cert-alert unknown_ca
    pyc 10 client --host "$REG" --port 443 --sni registry.devtools.example --cafile "$TRUST_ORIGIN" \
        --path /v2/
}

# What the DNS part must show (checked by helpers/verify.py like expected.tsv).
cat >>"$STAGE/expected-dns.tsv" <<'EOF'
mixed.pcapng	downloaddispatch.itunes.apple.com	A	1	1	NOERROR	udp	0	downloaddispatch.itunes.apple.com>downloaddispatch-cdn.itunes-apple.com.akadns.net>a1988.dscapi6.akamai.net	10.99.0.11
mixed.pcapng	api.pinned.example	A	2	2	NOERROR	udp	0	api.pinned.example>api.pinned.example.edgekey.net>e6858.dscx.akamaiedge.net	10.99.0.13
mixed.pcapng	login.contoso.com	A	1	1	NOERROR	udp	0	login.contoso.com>login-contoso-com.trafficmanager.net	10.99.0.12
mixed.pcapng	wpad.corp.example	A	1	1	NXDOMAIN	udp	0	-	-
mixed.pcapng	telemetry.blocked.example	A	3	0	-	udp	0	-	-
mixed.pcapng	www.pinned.example	A	1	1	NOERROR	tcp	0	www.pinned.example	10.99.0.14
mixed.pcapng	registry.devtools.example	A	1	1	NOERROR	udp	0	registry.devtools.example	10.99.0.15
mixed.pcapng	pool.cdn.example	A	2	2	NOERROR	udp,tcp	1	pool.cdn.example	10.99.1.1-10.99.1.40
mixed.pcapng	downloaddispatch.itunes.apple.com	AAAA	1	1	NOERROR	udp	0	downloaddispatch.itunes.apple.com>downloaddispatch-cdn.itunes-apple.com.akadns.net>a1988.dscapi6.akamai.net	fd99::11
EOF

DD=$(resolve @$DNS4 downloaddispatch.itunes.apple.com A)
[[ $DD == 10.99.0.11 ]] || die "dnsmasq: downloaddispatch resolved to '$DD'"
expect downloaddispatch.itunes.apple.com healthy -
curl_get 10 downloaddispatch.itunes.apple.com 443 "$DD" --cacert "$TRUST_INSP"
API=$(resolve @$DNS4 api.pinned.example A)
[[ $API == 10.99.0.13 ]] || die "dnsmasq: api.pinned.example resolved to '$API'"
pinned 1
LOGIN=$(resolve @$DNS4 login.contoso.com A)
expect login.contoso.com healthy -
curl_get 10 login.contoso.com 443 "$LOGIN" --cacert "$TRUST_INSP" --tls-max 1.2
sleep 0.5
pinned 2
resolve @$DNS4 +tries=1 +time=2 wpad.corp.example A >/dev/null                 # NXDOMAIN
resolve @$DNS4 +tries=3 +time=1 telemetry.blocked.example A >/dev/null         # 3 queries, no answer
not_tls
WWW=$(resolve @$DNS4 +tcp www.pinned.example A)                                 # DNS over TCP
expect www.pinned.example healthy -
curl_get 10 www.pinned.example 443 "$WWW" --cacert "$TRUST_INSP"
API=$(resolve @$DNS4 api.pinned.example A)
pinned 3
REG=$(resolve @$DNS4 registry.devtools.example A)
devtool
devtool
sleep 0.5
pinned 4
expect - healthy -                     # SNI-less, to the address learned for login.contoso.com
printf 'GET /index.html HTTP/1.0\r\n\r\n' | C timeout 10 openssl s_client -connect "$LOGIN:443" \
    -noservername -ign_eof -quiet >>"$LOG/clients.$FILE.log" 2>&1 || true
sleep 0.25
not_tls
resolve @$DNS4 +noedns pool.cdn.example A >/dev/null                            # TC, then TCP
devtool
pinned 5
DD6=$(resolve -6 @$DNS6 downloaddispatch.itunes.apple.com AAAA)
[[ $DD6 == fd99::11 ]] || die "dnsmasq: AAAA downloaddispatch resolved to '$DD6'"
expect downloaddispatch.itunes.apple.com healthy -
curl_get 10 downloaddispatch.itunes.apple.com 443 "$DD6" --cacert "$TRUST_INSP" --tls-max 1.2
finish

# ================================================================ verify, then publish
say "verify"
if ! "$PY" "$VERIFY" "$STAGE/expected.tsv" "$STAGE" --dns "$STAGE/expected-dns.tsv" \
        | tee "$LOG/verify.txt"; then
    die "the captures do not show the expected verdicts (see above)"
fi

# Rows of optional captures that were not regenerated stay as they were.
keep=()
[[ $HAVE_NODE == 1 ]] || keep+=(node.pcap)
[[ $HAVE_JAVA == 1 ]] || keep+=(jsse.pcap)
if ((${#keep[@]})) && [[ -f $OUT/expected.tsv ]]; then
    for f in "${keep[@]}"; do
        awk -F'\t' -v f="$f" '$1 == f' "$OUT/expected.tsv" >>"$STAGE/expected.tsv"
    done
fi
mkdir -p "$OUT/keylog"
chmod 644 "$STAGE"/*.pcap "$STAGE"/*.pcapng "$STAGE"/*.tsv "$STAGE"/keylog/*.keylog
cp "$STAGE"/*.pcap "$STAGE"/*.pcapng "$STAGE"/*.tsv "$OUT/"
cp "$STAGE"/keylog/*.keylog "$OUT/keylog/"
caps=("$STAGE"/*.pcap "$STAGE"/*.pcapng)
say "done: ${#caps[@]} captures in $OUT ($(du -sh "$OUT" | cut -f1))"
