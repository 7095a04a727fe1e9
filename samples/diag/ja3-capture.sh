#!/usr/bin/env bash
# ja3-capture.sh: capture the ClientHello of each TLS client stack installed here
# and print its JA3 (tshark's tls.handshake.ja3, the standard MD5 of the JA3 string
# with GREASE values removed). data/ja3.conf was filled from this script's output.
#
# Runs in a private network namespace (loopback only): every client connects to
# diag_server.py on 127.0.0.1:443, names resolved through a private /etc/hosts
# (mount namespace). Nothing leaves the machine. Clients that are not installed are
# skipped. Needs root, openssl, tcpdump, tshark, python3.
#
# usage: samples/diag/ja3-capture.sh [OUTDIR]   (OUTDIR: keep one pcap per client there)
set -euo pipefail
export LC_ALL=C
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

if [[ ${_JA3_INNER:-} != 1 ]]; then
    [[ $(id -u) == 0 ]] || { echo "ja3-capture: run as root" >&2; exit 1; }
    export _JA3_INNER=1
    exec unshare -n -m --propagation private bash "$0" "$@"
fi

WORK=$(mktemp -d /tmp/pinspect-ja3.XXXXXX)
trap 'set +e; kill $SRV 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"' EXIT
OUTDIR=${1:-}
ip link set lo up
printf '127.0.0.1 localhost ja3.test pypi.org files.pythonhosted.org registry.npmjs.org\n' >"$WORK/hosts"
mount --bind "$WORK/hosts" /etc/hosts

cd "$WORK"
openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 30 -subj "/CN=JA3 capture CA" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
mkdir certs
openssl req -newkey rsa:2048 -nodes -keyout certs/default.key -out leaf.csr -subj "/CN=ja3.test" 2>/dev/null
openssl x509 -req -in leaf.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 30 -out certs/default.pem \
    -extfile <(printf 'subjectAltName=DNS:ja3.test,DNS:pypi.org,DNS:registry.npmjs.org\nextendedKeyUsage=serverAuth\n') 2>/dev/null

python3 "$HERE/diag_server.py" 127.0.0.1 443 certs --lifetime 300 2>server.log &
SRV=$!
sleep 1

# each client: a label, then the command (failures are expected: only the hello matters)
# each client is captured alone (its own tcpdump), then its ClientHellos are
# printed: LABEL <tab> JA3 <tab> JA3 string (one line per distinct JA3)
run() {
    local label=$1 f=$WORK/one.pcap; shift
    rm -f "$f"
    tcpdump -i lo -w "$f" -U 'tcp port 443' 2>/dev/null &
    local cap=$!
    sleep 1
    timeout 60 "$@" >/dev/null 2>&1 || true
    sleep 1
    kill $cap; wait $cap 2>/dev/null || true
    tshark -r "$f" -Y 'tls.handshake.type == 1' -T fields -e tls.handshake.ja3 -e tls.handshake.ja3_full \
        2>/dev/null | sort -u | sed "s|^|$label\t|"
    [[ -n ${OUTDIR:-} ]] && cp "$f" "$OUTDIR/$(echo "$label" | tr '/' '_').pcap"
    return 0
}
PY313=$(ls -d /root/.pyenv/versions/3.13*/bin/python3 2>/dev/null | head -1 || true)
run curl curl -s --max-time 5 https://ja3.test/
run python3-urllib python3 -c 'import urllib.request; urllib.request.urlopen("https://ja3.test/", timeout=5)'
run python3-ssl python3 -c 'import socket,ssl; c=ssl.create_default_context(); c.wrap_socket(socket.create_connection(("ja3.test",443),5), server_hostname="ja3.test")'
[[ -n $PY313 ]] && run python3.13-urllib "$PY313" -c 'import urllib.request; urllib.request.urlopen("https://ja3.test/", timeout=5)'
python3 -c 'import requests' 2>/dev/null && run python3-requests python3 -c 'import requests; requests.get("https://ja3.test/", timeout=5)'
python3 -m pip --version >/dev/null 2>&1 && run pip env -i PATH="$PATH" HOME="$WORK" python3 -m pip --isolated download --no-deps --retries 0 --timeout 5 -d "$WORK/dl" --index-url https://pypi.org/simple/ six
run openssl-s_client sh -c 'echo | openssl s_client -connect ja3.test:443 -servername ja3.test'
command -v node >/dev/null && run node-https node -e 'require("https").get("https://ja3.test/").on("error",()=>{})'
command -v npm >/dev/null && run npm env -i PATH="$PATH" HOME="$WORK" npm view left-pad --registry=https://registry.npmjs.org/ --fetch-retries=0
command -v go >/dev/null && { cat >get.go <<'EOF'
package main

import "net/http"

func main() { http.Get("https://ja3.test/") }
EOF
env HOME="$WORK" GOCACHE="$WORK/gocache" GO111MODULE=off go build -o get-go get.go && run go-net/http ./get-go; }
command -v java >/dev/null && { cat >Get.java <<'EOF'
public class Get {
    public static void main(String[] a) throws Exception {
        try { new java.net.URL("https://ja3.test/").openStream().close(); } catch (Exception e) { }
    }
}
EOF
javac Get.java && run java-HttpsURLConnection java -cp . Get; }
command -v git >/dev/null && run git env -i PATH="$PATH" HOME="$WORK" git ls-remote https://ja3.test/x.git
command -v gnutls-cli >/dev/null && run gnutls-cli sh -c 'echo | gnutls-cli --port 443 ja3.test'
