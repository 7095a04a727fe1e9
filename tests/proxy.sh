#!/bin/sh
# proxy.sh: `pinspect ca init`, `pinspect proxy` and `pinspect verify` end to
# end on loopback: a local origin (openssl s_server, and a Python one for
# uploads) behind the proxy; clients curl, openssl s_client and Python ssl;
# the verdicts, the verify results, the forged leaf, 100 MB each way
# intercepted and spliced, hostile clients, the safety refusals.
#
#   top_srcdir=. PINSPECT=./pinspect sh tests/proxy.sh
#
# Exit 0 pass, 1 fail, 77 skip (a tool is missing). Bounded: every client
# has a timeout and a watchdog ends the whole run after PROXY_TEST_LIMIT s.
set -u
: "${top_srcdir:=.}"
: "${PINSPECT:=./pinspect}"
: "${PROXY_TEST_LIMIT:=420}"
: "${PROXY_TEST_MB:=100}"

for tool in openssl curl python3 timeout sha256sum; do
	command -v "$tool" >/dev/null 2>&1 || { echo "SKIP: $tool not found"; exit 77; }
done
"$PINSPECT" proxy --help >/dev/null 2>&1 || { echo "SKIP: $PINSPECT has no proxy command"; exit 77; }

# a sanitizer build: memory figures mean little, reports must stay empty
if command -v ldd >/dev/null 2>&1 && ldd "$PINSPECT" 2>/dev/null | grep -q -E "libasan|libtsan"; then
	PROXY_TEST_ASAN=1
	export PROXY_TEST_ASAN
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/pinspect-proxy.XXXXXX") || exit 1
PIDS=""
cleanup() {
	for p in $PIDS; do kill "$p" 2>/dev/null; done
	for p in $PIDS; do wait "$p" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'echo "proxy.sh: interrupted (or over ${PROXY_TEST_LIMIT}s)"; exit 1' INT TERM HUP
# the watchdog: a hung step fails the run instead of hanging CI; it takes
# its sleep with it when the run ends first
(
	sleep "$PROXY_TEST_LIMIT" &
	s=$!
	trap 'kill $s; exit 0' TERM
	wait $s && kill -TERM $$
) >/dev/null 2>&1 &
PIDS="$PIDS $!"

pass=0
fail=0
ok() { pass=$((pass + 1)); echo "ok - $*"; }
nok() { fail=$((fail + 1)); echo "not ok - $*"; }
expect() { # expect DESCRIPTION COMMAND...: the command succeeds
	d=$1
	shift
	if "$@"; then ok "$d"; else nok "$d"; fi
}

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}
wait_port() { # wait_port PORT: up to 10 s for a listener
	python3 - "$1" <<'EOF'
import socket, sys, time
end = time.time() + 10
while time.time() < end:
    try:
        socket.create_connection(("127.0.0.1", int(sys.argv[1])), 0.5).close()
        sys.exit(0)
    except OSError:
        time.sleep(0.05)
sys.exit(1)
EOF
}

NAMES="ok.test pin.test s12.test s13.test py.test pyno.test spliced.test a.wild.test big.test bigs.test up.test ups.test hup.test both.test quiet.test leaf.test tp1.test tp2.test"

# ---- the origin's PKI (its own CA) ------------------------------------
cd "$T" || exit 1
SAN="DNS:*.wild.test"
RES=""
for n in $NAMES; do
	SAN="$SAN,DNS:$n"
	RES="$RES --resolve $n:127.0.0.1"
done
openssl req -x509 -newkey rsa:2048 -nodes -keyout oca.key -out oca.pem -days 30 -subj "/CN=pinspect test origin CA" \
	-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" >/dev/null 2>&1 &&
	openssl req -newkey rsa:2048 -nodes -keyout origin.key -out origin.csr -subj "/CN=ok.test" >/dev/null 2>&1 &&
	printf 'subjectAltName=%s\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nkeyUsage=digitalSignature,keyEncipherment\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n' "$SAN" >ext.cnf &&
	openssl x509 -req -in origin.csr -CA oca.pem -CAkey oca.key -CAcreateserial -out origin.pem -days 30 \
		-extfile ext.cnf >/dev/null 2>&1 || { echo "cannot make the test PKI"; exit 1; }
PIN=$(openssl x509 -in origin.pem -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)

# ---- pinspect ca init -----------------------------------------------------
expect "ca init creates the CA" "$PINSPECT" ca init "$T/ca" >/dev/null
expect "ca.key is mode 0600" test "$(stat -c %a "$T/ca/ca.key")" = 600
expect "ca.pem is mode 0644" test "$(stat -c %a "$T/ca/ca.pem")" = 644
expect "ca.key is a PEM private key" grep -q "BEGIN PRIVATE KEY" "$T/ca/ca.key"
if "$PINSPECT" ca init "$T/ca" >/dev/null 2>&1; then nok "ca init refuses to overwrite"; else ok "ca init refuses to overwrite"; fi
openssl x509 -in ca/ca.pem -noout -text >ca.txt 2>&1
expect "root: basicConstraints critical CA:TRUE" grep -A1 "Basic Constraints: critical" ca.txt | grep -q "CA:TRUE"
expect "root: keyUsage keyCertSign" grep -q "Certificate Sign" ca.txt
expect "root: SKI" grep -q "Subject Key Identifier" ca.txt
cat ca/ca.pem oca.pem >bundle.pem

# a key others can read is refused, and not echoed
cp -r ca badca && chmod 644 badca/ca.key
P=$(free_port)
"$PINSPECT" proxy --ca badca --listen "127.0.0.1:$P" >badca.out 2>&1
rc=$?
expect "proxy refuses a CA key readable by others" test "$rc" -ne 0
expect "the refusal says why" grep -q "readable by group or others" badca.out
if grep -q "PRIVATE KEY" badca.out; then nok "the key is not printed"; else ok "the key is not printed"; fi
# a listen address that is not loopback needs --allow-remote
"$PINSPECT" proxy --ca ca --listen "0.0.0.0:$P" >remote.out 2>&1
expect "proxy refuses a non-loopback listen without --allow-remote" test $? -ne 0
expect "the refusal names --allow-remote" grep -q -- "--allow-remote" remote.out

# a CONNECT back to the proxy itself is refused (no loop), even when its port is allowed
P=$(free_port)
"$PINSPECT" proxy --ca ca --listen "127.0.0.1:$P" --allow-port "$P" >self.out 2>self.err &
SELF=$!
PIDS="$PIDS $SELF"
if wait_port "$P"; then
	timeout 20 curl -s -o /dev/null --max-time 10 --proxy "http://127.0.0.1:$P" --cacert ca/ca.pem "https://localhost:$P/"
	expect "a CONNECT to the proxy itself fails" test $? -ne 0
	kill -TERM "$SELF"
	wait "$SELF"
	expect "... and is refused as a loop" grep -q "is the proxy itself: refused" self.err
else
	nok "a proxy for the loop check did not start"
fi

# ---- origins ----------------------------------------------------------------
mkdir -p www
echo "hello from the origin" >www/index.html
head -c "$((PROXY_TEST_MB * 1024 * 1024))" /dev/urandom >www/big.bin
BIGSUM=$(sha256sum www/big.bin | cut -c1-64)
OPORT=$(free_port)
(cd www && exec openssl s_server -accept "127.0.0.1:$OPORT" -cert ../origin.pem -key ../origin.key -WWW -quiet) \
	>origin.log 2>&1 &
PIDS="$PIDS $!"
UPORT=$(free_port)
cat >upload_origin.py <<'EOF'
# An HTTPS origin that answers a PUT with the SHA-256 of the body it read.
import hashlib, http.server, ssl, sys
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_PUT(self):
        n = int(self.headers.get("Content-Length", "0"))
        h = hashlib.sha256()
        while n > 0:
            b = self.rfile.read(min(n, 1 << 20))
            if not b:
                break
            h.update(b)
            n -= len(b)
        body = (h.hexdigest() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
srv = http.server.ThreadingHTTPServer(("127.0.0.1", int(sys.argv[1])), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(sys.argv[2], sys.argv[3])
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.serve_forever()
EOF
python3 upload_origin.py "$UPORT" origin.pem origin.key >upload.log 2>&1 &
PIDS="$PIDS $!"
wait_port "$OPORT" && wait_port "$UPORT" || { echo "origins did not start"; cat origin.log upload.log; exit 1; }

# ---- the proxy ----------------------------------------------------------------
PPORT=$(free_port)
printf '# spliced by the test\nspliced.test\n.wild.test   # a domain and its subdomains\nbigs.test\nups.test\n' >bypass.txt
"$PINSPECT" proxy --ca ca --listen "127.0.0.1:$PPORT" --upstream-cafile oca.pem --bypass bypass.txt \
	--allow-port "$OPORT" --allow-port "$UPORT" --max-conns 64 --json $RES >proxy.json 2>proxy.err &
PROXY=$!
PIDS="$PIDS $PROXY"
wait_port "$PPORT" || { echo "proxy did not start"; cat proxy.err; exit 1; }
PX="http://127.0.0.1:$PPORT"
curlp() { timeout 60 curl -sS --max-time 50 --proxy "$PX" "$@"; }

out=$(curlp --cacert ca/ca.pem "https://ok.test:$OPORT/index.html" 2>&1)
expect "curl trusting the proxy root works intercepted" test "$out" = "hello from the origin"
# the proxy remembers a server chain it verified, for that name only: the
# same chain under a name it does not carry is still refused
echo | timeout 20 openssl s_client -proxy "127.0.0.1:$PPORT" -connect "127.0.0.1:$OPORT" -servername notinsan.test \
	-CAfile ca/ca.pem -verify_return_error >notinsan.out 2>&1
expect "a server chain verified for one name is refused for a name it lacks" test $? -ne 0
out=$(curlp --cacert ca/ca.pem "https://ok.test:$OPORT/index.html" 2>&1)
expect "... and still taken for the name it has" test "$out" = "hello from the origin"
# ok.test through another target: no session to resume, the chain is known
echo | timeout 20 openssl s_client -proxy "127.0.0.1:$PPORT" -connect "127.0.0.1:$OPORT" -servername ok.test \
	-CAfile ca/ca.pem -verify_return_error >okip.out 2>&1
expect "a server chain known verified for the name is taken again" test $? -eq 0
curlp --cacert bundle.pem --pinnedpubkey "sha256//$PIN" "https://pin.test:$OPORT/index.html" >/dev/null 2>&1
expect "curl pinning the origin key fails intercepted (exit 90)" test $? -eq 90
out=$(curlp --cacert oca.pem --pinnedpubkey "sha256//$PIN" "https://spliced.test:$OPORT/index.html" 2>&1)
expect "curl pinning the origin key works spliced (bypass list)" test "$out" = "hello from the origin"
out=$(curlp --cacert oca.pem "https://a.wild.test:$OPORT/index.html" 2>&1)
expect "a '.parent' bypass entry splices a subdomain" test "$out" = "hello from the origin"
echo | timeout 20 openssl s_client -proxy "127.0.0.1:$PPORT" -connect "s12.test:$OPORT" -servername s12.test \
	-tls1_2 -verify_return_error >s12.out 2>&1
expect "s_client TLS 1.2 without the root fails" test $? -ne 0
echo | timeout 20 openssl s_client -proxy "127.0.0.1:$PPORT" -connect "s13.test:$OPORT" -servername s13.test \
	-tls1_3 -verify_return_error >s13.out 2>&1
expect "s_client TLS 1.3 without the root fails" test $? -ne 0

cat >pyclient.py <<'EOF'
# Python ssl through the CONNECT proxy: prints the status line or the error.
import socket, ssl, sys
port, name, oport, cafile = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
s = socket.create_connection(("127.0.0.1", port), 10)
s.sendall(f"CONNECT {name}:{oport} HTTP/1.1\r\nHost: {name}:{oport}\r\n\r\n".encode())
head = b""
while b"\r\n\r\n" not in head:
    b = s.recv(1)
    if not b:
        sys.exit("proxy closed")
    head += b
ctx = ssl.create_default_context(cafile=cafile if cafile != "-" else None)
ctx.verify_flags |= ssl.VERIFY_X509_STRICT  # Python 3.13's default: needs the AKI
try:
    t = ctx.wrap_socket(s, server_hostname=name)
    t.sendall(f"GET /index.html HTTP/1.0\r\nHost: {name}\r\n\r\n".encode())
    print(t.recv(100).split(b"\r\n")[0].decode())
except ssl.SSLError as e:
    print("ssl error:", e.reason)
    sys.exit(1)
EOF
out=$(timeout 20 python3 pyclient.py "$PPORT" py.test "$OPORT" ca/ca.pem 2>&1)
expect "python ssl (X509_STRICT) trusting the root works intercepted ($out)" test "${out#HTTP/1.0 200}" != "$out"
out=$(timeout 20 python3 pyclient.py "$PPORT" pyno.test "$OPORT" oca.pem 2>&1)
expect "python ssl without the root fails ($out)" test "${out#ssl error}" != "$out"

# the forged leaf
echo | timeout 20 openssl s_client -proxy "127.0.0.1:$PPORT" -connect "leaf.test:$OPORT" -servername leaf.test \
	-CAfile ca/ca.pem -showcerts >leaf.out 2>&1
sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/{p;/END CERTIFICATE/q}' leaf.out >leaf.pem
openssl x509 -in leaf.pem -noout -text >leaf.txt 2>&1
expect "leaf verifies against the root" grep -q "Verify return code: 0 (ok)" leaf.out
expect "leaf SAN is the SNI" grep -q "DNS:leaf.test" leaf.txt
expect "leaf EKU serverAuth" grep -q "TLS Web Server Authentication" leaf.txt
expect "leaf has an AKI" grep -q "Authority Key Identifier" leaf.txt
expect "leaf has an SKI" grep -q "Subject Key Identifier" leaf.txt
expect "leaf is CA:FALSE" grep -q "CA:FALSE" leaf.txt
expect "leaf is signed with SHA-256" grep -q "Signature Algorithm: sha256WithRSAEncryption" leaf.txt
expect "leaf key is RSA 2048" grep -q "Public-Key: (2048 bit)" leaf.txt
days=$(python3 - leaf.pem <<'EOF'
import subprocess, sys, datetime
o = subprocess.run(["openssl", "x509", "-in", sys.argv[1], "-noout", "-startdate", "-enddate"],
                   capture_output=True, text=True).stdout.split("\n")
f = lambda s: datetime.datetime.strptime(s.split("=", 1)[1].replace("  ", " "), "%b %d %H:%M:%S %Y %Z")
print((f(o[1]) - f(o[0])).days)
EOF
)
expect "leaf validity $days days <= 397" test "${days:-999}" -le 397

# 100 MB down, intercepted and spliced
sum=$(curlp --cacert ca/ca.pem "https://big.test:$OPORT/big.bin" | sha256sum | cut -c1-64)
expect "${PROXY_TEST_MB} MB download intercepted: checksums equal" test "$sum" = "$BIGSUM"
sum=$(curlp --cacert oca.pem "https://bigs.test:$OPORT/big.bin" | sha256sum | cut -c1-64)
expect "${PROXY_TEST_MB} MB download spliced: checksums equal" test "$sum" = "$BIGSUM"
# 100 MB up
sum=$(curlp --cacert ca/ca.pem -T www/big.bin "https://up.test:$UPORT/up" 2>&1)
expect "${PROXY_TEST_MB} MB upload intercepted: checksums equal" test "$sum" = "$BIGSUM"
sum=$(curlp --cacert oca.pem -T www/big.bin "https://ups.test:$UPORT/up" 2>&1)
expect "${PROXY_TEST_MB} MB upload spliced: checksums equal" test "$sum" = "$BIGSUM"

# SIGHUP re-reads the bypass list
curlp --cacert bundle.pem --pinnedpubkey "sha256//$PIN" "https://hup.test:$OPORT/index.html" >/dev/null 2>&1
expect "before SIGHUP hup.test is intercepted (pinned curl fails)" test $? -eq 90
echo "hup.test" >>bypass.txt
kill -HUP "$PROXY"
sleep 0.5
out=$(curlp --cacert oca.pem --pinnedpubkey "sha256//$PIN" "https://hup.test:$OPORT/index.html" 2>&1)
expect "after SIGHUP hup.test is spliced (pinned curl works)" test "$out" = "hello from the origin"

# ---- hostile clients ---------------------------------------------------------
cat >hostile.py <<'EOF'
# Hostile clients against the proxy; prints one line per check, "ok ..." or "FAIL ...".
import os, socket, subprocess, sys, time
port, oport, cafile, pid = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
def conn():
    s = socket.create_connection(("127.0.0.1", port), 5)
    s.settimeout(5)
    return s
def head(s):
    b = b""
    try:
        while b"\r\n\r\n" not in b and len(b) < 4096:
            c = s.recv(4096)
            if not c:
                break
            b += c
    except OSError:
        pass
    return b
def closed(s, limit=15):
    s.settimeout(limit)
    try:
        while True:
            c = s.recv(65536)
            if not c:
                return True
    except ConnectionResetError:
        return True
    except OSError:
        return False
def report(ok, what):
    print(("ok " if ok else "FAIL ") + what, flush=True)
def works():
    t = time.time()
    r = subprocess.run(["curl", "-s", "--max-time", "5", "--proxy", f"http://127.0.0.1:{port}", "--cacert", cafile,
                        f"https://ok.test:{oport}/index.html"], capture_output=True, text=True)
    return r.stdout.startswith("hello"), time.time() - t
def rss():
    for l in open(f"/proc/{pid}/status"):
        if l.startswith("VmRSS:"):
            return int(l.split()[1]) // 1024
    return -1

rss0 = rss()
s = conn(); s.sendall(os.urandom(3000) + b"\r\n\r\n")
report(closed(s), "garbage: answered and closed")
s = conn(); s.sendall(b"\x16\x03\x01\x02\x00" + os.urandom(512))
report(closed(s), "TLS without CONNECT: closed")
s = conn(); s.sendall(b"GET http://ok.test/ HTTP/1.1\r\nHost: ok.test\r\n\r\n")
report(head(s).startswith(b"HTTP/1.1 405"), "GET (not CONNECT): 405")
s = conn(); s.sendall(b"CONNECT ok.test:22 HTTP/1.1\r\n\r\n")
report(head(s).startswith(b"HTTP/1.1 403"), "CONNECT to port 22: 403 (no open relay)")
s = conn(); s.sendall(b"CONNECT ok.test:443:1 HTTP/1.1\r\n\r\n")
report(head(s).startswith(b"HTTP/1.1 400"), "CONNECT to a bad authority: 400")
s = conn(); s.sendall(b"CONNECT ok.test:%s HTTP/1.1\r\n" % oport.encode() + b"X-Pad: " + b"a" * 9000 + b"\r\n\r\n")
report(head(s).startswith(b"HTTP/1.1 431"), "a head over 8 KiB: 431")

# slowloris: a dribble of CONNECT heads and of ClientHellos
slow = []
for i in range(20):
    s = conn(); s.sendall(b"CONN"); slow.append(s)
for i in range(10):
    s = conn(); s.sendall(b"CONNECT ok.test:%s HTTP/1.1\r\n\r\n" % oport.encode()); head(s); s.sendall(b"\x16\x03"); slow.append(s)
ok, took = works()
report(ok and took < 3, "slowloris clients do not stall others (curl took %.2fs)" % took)
t = time.time()
n = sum(1 for s in slow if closed(s, 30))
report(n == len(slow), "slowloris clients closed by the hello timeout (%d of %d, %.1fs)" % (n, len(slow), time.time() - t))

# two ClientHellos in one write: the first (no SNI: the CONNECT name ok.test,
# intercepted) is the one the server answers, so it must decide; the second
# (spliced.test, on the bypass list) must not steer the proxy into splicing
# (uninspected traffic to ok.test). TLS 1.2, so that the certificate that
# answers is in the clear: the forged leaf names our CA.
import ssl
def hello(name):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    i, o = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(i, o, server_hostname=name)
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return o.read()
ca_cn = [v for rdn in ssl._ssl._test_decode_cert(cafile)["subject"] for k, v in rdn if k == "commonName"][0]
s = conn(); s.sendall(b"CONNECT ok.test:%s HTTP/1.1\r\n\r\n" % oport.encode()); head(s)
s.sendall(hello(None) + hello("spliced.test"))
got = b""
s.settimeout(3)
try:
    while len(got) < 65536:
        c = s.recv(65536)
        if not c:
            break
        got += c
except OSError:
    pass
report(ca_cn.encode() in got, "two ClientHellos in one write: the first one's name decides (answered by the forged leaf)")

# a huge ClientHello: a handshake header claiming 16 MB, then 300 KB of it
s = conn(); s.sendall(b"CONNECT ok.test:%s HTTP/1.1\r\n\r\n" % oport.encode()); head(s)
rec = b"\x16\x03\x01\x40\x00" + b"\x01\xff\xff\xff" + os.urandom(0x4000 - 4)
sent = 0
try:
    for i in range(20):
        s.sendall(rec if i == 0 else b"\x16\x03\x01\x40\x00" + os.urandom(0x4000))
        sent += 0x4005
except OSError:
    pass
report(closed(s), "a huge ClientHello is refused (%d bytes sent before the close)" % sent)
# 30 slow clients and a huge hello at 350 KB each at most, plus slack
# (a sanitizer build keeps freed memory in quarantine: RSS means little)
grow = rss() - rss0
report(grow < (300 if os.environ.get("PROXY_TEST_ASAN") else 48),
       "proxy memory stays bounded (grew %d MB, now %d MB)" % (grow, rss()))

# more connections than --max-conns: the extra ones are refused, service resumes
many, refused = [], 0
for i in range(80):
    try:
        many.append(conn())
    except OSError:
        refused += 1  # reset before connect() even returned
time.sleep(0.5)
refused += sum(1 for s in many[64:] if closed(s, 2))
report(refused >= 10, "connections over --max-conns are refused (%d of 16)" % refused)
for s in many:
    s.close()
time.sleep(0.5)
ok, took = works()
report(ok, "service resumes once they close")
EOF
timeout 120 python3 hostile.py "$PPORT" "$OPORT" ca/ca.pem "$PROXY" >hostile.out 2>&1
while read -r status what; do
	case $status in
	ok) ok "$what" ;;
	*) nok "$status $what" ;;
	esac
done <hostile.out
expect "the proxy survived the hostile clients" kill -0 "$PROXY"

# ---- the proxy's report --------------------------------------------------------
kill -TERM "$PROXY"
wait "$PROXY"
expect "proxy exits 0 on SIGTERM" test $? -eq 0
cat >check_json.py <<'EOF'
# Check the verdict of each name's connections in the proxy's pinspect/1 JSON
# and the mode in its live lines. Arguments: JSON, live log, then NAME=VERDICT[/ALERT][@MODE]...
import json, re, sys
doc = json.load(open(sys.argv[1]))
live = open(sys.argv[2]).read()
conns = {}
for c in doc["connections"]:
    conns.setdefault(c["sni"], []).append(c)
bad = 0
for spec in sys.argv[3:]:
    name, want = spec.split("=")
    mode = None
    if "@" in want:
        want, mode = want.split("@")
    alert = None
    if "/" in want:
        want, alert = want.split("/")
    got = [(c["verdict"], c["alert"]) for c in conns.get(name, [])]
    okv = bool(got) and got[0][0] == want and (alert is None or got[0][1] == alert)
    okm = mode is None or re.search(r"#\d+ %s\s+%s " % (mode, re.escape(name)), live)
    print("%s %s: %s%s (got %s)" % ("ok" if okv and okm else "FAIL", name, want,
          "/" + alert if alert else "", got[:3]) + (" as %s" % mode if mode else ""))
    bad += not (okv and okm)
print("ok document schema pinspect/1" if doc.get("schema") == "pinspect/1" else "FAIL schema")
EOF
python3 check_json.py proxy.json proxy.err \
	ok.test=healthy@intercept pin.test=close-no-data@intercept spliced.test=healthy@splice \
	a.wild.test=healthy@splice s12.test=cert-alert/unknown_ca@intercept s13.test=cert-alert/unknown_ca@intercept \
	py.test=healthy@intercept pyno.test=cert-alert/unknown_ca@intercept big.test=healthy@intercept \
	bigs.test=healthy@splice up.test=healthy@intercept ups.test=healthy@splice \
	hup.test=close-no-data@intercept >json.out 2>&1
while read -r status what; do
	case $status in
	ok) ok "verdict $what" ;;
	*) nok "verdict $status $what" ;;
	esac
done <json.out
expect "the live log names the client's distrust (mitmproxy's message)" \
	grep -q "does not trust the proxy's certificate for pin.test" proxy.err
expect "the refused name's mismatch is logged" grep -q "notinsan.test: server certificate for notinsan.test not trusted" proxy.err
expect "... and the known chain counted" grep -q -E "[1-9][0-9]* server chains known verified" proxy.err

# ---- pinspect verify ----------------------------------------------------------
VPORT=$(free_port)
"$PINSPECT" verify --ca ca --listen "127.0.0.1:$VPORT" --upstream-cafile oca.pem --allow-port "$OPORT" $RES \
	--timeout 20 --rounds 2 --json pin.test ok.test both.test quiet.test >verify.json 2>verify.err &
VERIFY=$!
PIDS="$PIDS $VERIFY"
wait_port "$VPORT" || { echo "verify did not start"; cat verify.err; exit 1; }
VX="http://127.0.0.1:$VPORT"
# the "application": clients that simply retry until verify is done
for i in $(seq 1 40); do
	kill -0 "$VERIFY" 2>/dev/null || break
	timeout 10 curl -s -o /dev/null --max-time 5 --proxy "$VX" --cacert bundle.pem --pinnedpubkey "sha256//$PIN" \
		"https://pin.test:$OPORT/index.html"
	timeout 10 curl -s -o /dev/null --max-time 5 --proxy "$VX" --cacert bundle.pem "https://ok.test:$OPORT/index.html"
	timeout 10 curl -s -o /dev/null --max-time 5 --proxy "$VX" "https://both.test:$OPORT/index.html"
	sleep 0.2
done
wait "$VERIFY"
vrc=$?
expect "verify exits 1 (some names inconclusive)" test "$vrc" -eq 1
python3 - verify.json <<'EOF' >verify.out 2>&1
import json, sys
d = json.load(open(sys.argv[1]))
res = {x["rule"]: x for x in d["verify"]}
want = {"pin.test": "confirmed", "ok.test": "refuted", "both.test": "inconclusive", "quiet.test": "inconclusive"}
for k, v in want.items():
    got = res.get(k, {}).get("result")
    print("%s verify %s %s (got %s: %s)" % ("ok" if got == v else "FAIL", k, v, got, res.get(k, {}).get("evidence")))
p = res.get("pin.test", {})
print("%s pin.test evidence: rejected intercepted, healthy bypassed" % (
    "ok" if p.get("intercepted", {}).get("failures", 0) >= 2 and p.get("bypassed", {}).get("successes", 0) >= 1 else "FAIL"))
EOF
while read -r status what; do
	case $status in
	ok) ok "$what" ;;
	*) nok "$status $what" ;;
	esac
done <verify.out
# the text form: one line per name
V2=$(free_port)
timeout 30 "$PINSPECT" verify --ca ca --listen "127.0.0.1:$V2" --timeout 2 -q quiet.test >verify.txt 2>&1
expect "verify without traffic: 'quiet.test inconclusive' and exit 1" \
	sh -c "test $? -eq 1 && grep -q '^quiet.test inconclusive ' verify.txt"

# ---- transparent mode, in a network namespace of its own -------------------
# nft redirects the client's connections to 10.77.0.1:443 to the proxy;
# the proxy's own connections carry --mark 0x50 and pass.
cat >transparent.sh <<'EOF'
set -u
PINSPECT=$1
PPORT=18443
ip link set lo up && ip addr add 10.77.0.1/32 dev lo || { echo "skip: no network namespace"; exit 0; }
(cd www && exec openssl s_server -accept 10.77.0.1:443 -cert ../origin.pem -key ../origin.key -WWW -quiet) >tp-origin.log 2>&1 &
OP=$!
nft add table ip nat && nft add chain ip nat out '{ type nat hook output priority -100; }' &&
	nft add rule ip nat out ip daddr 10.77.0.1 tcp dport 443 meta mark != 0x50 redirect to :$PPORT ||
	{ echo "skip: nft cannot redirect here"; kill $OP; exit 0; }
echo "tp2.test" >tp-bypass.txt
"$PINSPECT" proxy --transparent --mark 0x50 --ca ca --listen "127.0.0.1:$PPORT" --upstream-cafile oca.pem \
	--bypass tp-bypass.txt >tp-proxy.out 2>tp-proxy.err &
PP=$!
i=0
until curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$PPORT/" 2>/dev/null || [ $? -ne 7 ] || [ $i -ge 50 ]; do
	sleep 0.1
	i=$((i + 1))
done
out=$(curl -sS --max-time 10 --cacert ca/ca.pem --resolve tp1.test:443:10.77.0.1 https://tp1.test/index.html 2>&1)
[ "$out" = "hello from the origin" ] && echo "ok transparent: redirected and intercepted" || echo "FAIL transparent intercept: $out"
out=$(curl -sS --max-time 10 --cacert oca.pem --resolve tp2.test:443:10.77.0.1 https://tp2.test/index.html 2>&1)
[ "$out" = "hello from the origin" ] && echo "ok transparent: a bypassed name spliced" || echo "FAIL transparent splice: $out"
curl -s -o /dev/null --max-time 5 --cacert ca/ca.pem --resolve "tp1.test:$PPORT:127.0.0.1" "https://tp1.test:$PPORT/" &&
	echo "FAIL transparent: a connection not redirected was served" || echo "ok transparent: a connection not redirected is refused"
kill $PP
wait $PP
grep -q "intercept tp1.test healthy.*-> 10.77.0.1:443" tp-proxy.out && echo "ok transparent: verdict with the original destination" ||
	echo "FAIL transparent: no verdict line for tp1.test"
grep -q "splice    tp2.test healthy" tp-proxy.out && echo "ok transparent: the spliced verdict" || echo "FAIL transparent: no splice line"
kill $OP
EOF
if [ "$(id -u)" = 0 ] && command -v nft >/dev/null 2>&1 && command -v unshare >/dev/null 2>&1 &&
	command -v ip >/dev/null 2>&1 && unshare -n true 2>/dev/null; then
	timeout 90 unshare -n sh transparent.sh "$PINSPECT" >transparent.out 2>&1
	while read -r status what; do
		case $status in
		ok) ok "$what" ;;
		skip*) echo "ok - # SKIP transparent mode: $what" ;;
		FAIL) nok "$what" ;;
		*) ;;
		esac
	done <transparent.out
else
	echo "ok - # SKIP transparent mode (needs root, unshare, ip and nft)"
fi

if grep -l -E "ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:" ./*.err ./*.out >sanitizer.txt 2>/dev/null; then
	nok "sanitizer reports in: $(tr '\n' ' ' <sanitizer.txt)"
	grep -h -A12 -E "ERROR: (Address|Leak)Sanitizer|WARNING: ThreadSanitizer|runtime error:" ./*.err ./*.out | head -40
else
	ok "no sanitizer reports"
fi

echo "proxy.sh: $pass passed, $fail failed"
if [ "$fail" -ne 0 ]; then
	echo "--- proxy log"
	tail -n 40 proxy.err
	echo "--- verify log"
	tail -n 20 verify.err
	exit 1
fi
exit 0
