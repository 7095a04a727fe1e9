#!/bin/sh
# live.sh: `pinspect live` end to end on a real interface.
#
# Two network namespaces joined by a veth pair. In one, `openssl s_server`
# serves a certificate from a test CA; in the other, pinspect captures the
# veth while real clients connect:
#   - openssl s_client -tls1_2 trusting another CA only: rejects the
#     certificate with a clear-text unknown_ca alert        -> cert-alert
#   - openssl s_client -tls1_3, same trust: OpenSSL rejects the certificate
#     before it switches to the handshake keys, so this alert is in the
#     clear too                                             -> cert-alert
#     (a client that encrypts it, e.g. Go or rustls, gives encrypted-abort)
#   - curl trusting the test CA: a real HTTPS request       -> healthy
# Asserts: the verdict lines appear in --no-tui output as they happen, the
# ranked summary names the rejected name, pcap_stats counters are shown,
# -w wrote a pcapng that `pinspect analyze` reads to the same verdicts,
# root was dropped (uid in /proc/PID/status, owner of the -w file), and a
# --json run ended by SIGINT still writes its summary line.
#
# Needs root and `ip netns`; exits 77 (skipped) without them.
# Run from the build tree: top_srcdir=. PINSPECT=./pinspect sh tests/live.sh
top_srcdir=${top_srcdir:-.}
PINSPECT=${PINSPECT:-./pinspect}
case $PINSPECT in /*) ;; *) PINSPECT=$(pwd)/$PINSPECT ;; esac

skip() { echo "SKIP: $*"; exit 77; }
[ "$(id -u)" = 0 ] || skip "needs root (network namespaces, capture)"
for t in ip ss openssl curl timeout; do
	command -v $t >/dev/null 2>&1 || skip "$t not installed"
done
[ -x "$PINSPECT" ] || { echo "FAIL: $PINSPECT not found"; exit 1; }

tag=$$
NSS=pil-s$tag NSC=pil-c$tag VS=pvs$tag VC=pvc$tag
SRV=192.0.2.2 CLI=192.0.2.1
tmp=$(mktemp -d /tmp/pinspect-live.XXXXXX) || exit 1
chmod 755 "$tmp"
mkdir "$tmp/out" && chmod 1777 "$tmp/out" # -w is written as the unprivileged user
server_pid='' live_pid=''
fails=0

cleanup() {
	[ -n "$live_pid" ] && kill "$live_pid" 2>/dev/null
	[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
	ip netns del "$NSS" 2>/dev/null
	ip netns del "$NSC" 2>/dev/null
	[ -n "$KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

ok() { echo "ok   - $*"; }
fail() { echo "FAIL - $*"; fails=$((fails + 1)); }
check() { # check "what" command...
	what=$1; shift
	if "$@"; then ok "$what"; else fail "$what"; fi
}
# wait_for FILE PATTERN TENTHS: until PATTERN appears in FILE (bounded)
wait_for() {
	i=0
	while [ $i -lt "$3" ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
# wait_exit PID TENTHS: until the process is gone (bounded)
wait_exit() {
	i=0
	while kill -0 "$1" 2>/dev/null && [ $i -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! kill -0 "$1" 2>/dev/null
}

# ---- network --------------------------------------------------------------
ip netns add "$NSS" 2>/dev/null || skip "cannot create network namespaces (ip netns add)"
ip netns add "$NSC" || skip "cannot create network namespaces"
# a chroot may create namespaces it cannot enter (no shared mount of /)
ip netns exec "$NSS" true 2>/dev/null || skip "cannot enter network namespaces (ip netns exec)"
ip link add "$VC" netns "$NSC" type veth peer name "$VS" netns "$NSS" || skip "cannot create a veth pair"
ip -n "$NSC" addr add $CLI/24 dev "$VC"
ip -n "$NSS" addr add $SRV/24 dev "$VS"
ip -n "$NSC" link set lo up
ip -n "$NSS" link set lo up
ip -n "$NSC" link set "$VC" up
ip -n "$NSS" link set "$VS" up

# ---- PKI: the server's CA, and another CA the rejecting client trusts ------
cd "$tmp" || exit 1
mkca() {
	openssl req -x509 -newkey rsa:2048 -nodes -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
		-addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" \
		>/dev/null 2>&1
}
mkca ca "pinspect test CA" && mkca other "some other CA" || { echo "FAIL: openssl cannot make a CA"; exit 1; }
printf 'subjectAltName=DNS:pinned.test,DNS:healthy.test\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n' >ext.cnf
openssl req -newkey rsa:2048 -nodes -keyout srv.key -out srv.csr -subj "/CN=pinned.test" >/dev/null 2>&1 &&
	openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out srv.pem -days 2 \
		-extfile ext.cnf >/dev/null 2>&1 || { echo "FAIL: openssl cannot sign the server certificate"; exit 1; }

ip netns exec "$NSS" openssl s_server -accept 443 -cert srv.pem -key srv.key -www -quiet \
	</dev/null >server.log 2>&1 &
server_pid=$!
i=0
until ip netns exec "$NSS" ss -ltn 2>/dev/null | grep -q ':443 '; do
	i=$((i + 1))
	[ $i -gt 50 ] && { echo "FAIL: s_server did not start"; cat server.log; exit 1; }
	sleep 0.1
done

reject12() {
	echo | ip netns exec "$NSC" timeout 10 openssl s_client -connect $SRV:443 -servername pinned.test \
		-tls1_2 -verify_return_error -CAfile other.pem >>clients.log 2>&1
}
reject13() {
	echo | ip netns exec "$NSC" timeout 10 openssl s_client -connect $SRV:443 -servername pinned.test \
		-tls1_3 -verify_return_error -CAfile other.pem >>clients.log 2>&1
}
healthy() {
	ip netns exec "$NSC" timeout 10 curl -sS --cacert ca.pem --resolve healthy.test:443:$SRV \
		-o /dev/null https://healthy.test/ >>clients.log 2>&1
}

nobody_uid=$(id -u nobody 2>/dev/null)

# ---- run 1: --no-tui lines, bounded by --duration, with -w -----------------
ip netns exec "$NSC" "$PINSPECT" live -i "$VC" --no-tui --duration 6 -f "tcp port 443" \
	-w "$tmp/out/cap.pcapng" >live.out 2>live.err &
live_pid=$!
wait_for live.err "listening on" 100 || { echo "FAIL: pinspect live did not start"; cat live.err; exit 1; }
ok "live started: $(grep 'listening on' live.err)"

uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' /proc/$live_pid/status 2>/dev/null)
if [ -n "$nobody_uid" ]; then
	check "root dropped to nobody after start (Uid: $uids)" \
		test "$uids" = "$nobody_uid $nobody_uid $nobody_uid $nobody_uid"
else
	echo "note: no user nobody here; the drop is not checked"
fi

reject12 && fail "s_client -tls1_2 accepted an untrusted certificate"
reject13 && fail "s_client -tls1_3 accepted an untrusted certificate"
healthy || fail "curl with the test CA failed: $(tail -1 clients.log)"
healthy
# verdicts are printed as they are decided, before the capture ends
check "verdict line printed while capturing" wait_for live.out "pinned.test" 30
wait_exit $live_pid 150 || { fail "live did not stop after --duration"; kill -TERM $live_pid; }
wait $live_pid
rc=$?
live_pid=
check "exit status 0 (got $rc)" test $rc = 0

echo "---- live.out"
cat live.out
echo "----"
check "cert-alert unknown_ca line for pinned.test" \
	grep -Eq '192\.0\.2\.1:[0-9]+ +pinned\.test +cert-alert +unknown_ca' live.out
n=$(grep -Ec '192\.0\.2\.1:[0-9]+ +pinned\.test +(cert-alert|encrypted-abort)' live.out)
check "a rejection line per rejecting client (TLS 1.2 and 1.3: $n)" test "$n" = 2
check "healthy lines for healthy.test" grep -Eq '192\.0\.2\.1:[0-9]+ +healthy\.test +healthy' live.out
check "summary ranks pinned.test" sh -c "sed -n '/^Candidates/,\$p' live.out | grep -Eq '^ +1\. pinned\.test '"
check "pcap_stats in the summary" grep -Eq '^capture: [0-9]+ packets received by filter, [0-9]+ dropped by kernel, [0-9]+ dropped by interface' live.out
check "-w wrote a pcapng file" sh -c "test -s '$tmp/out/cap.pcapng' && od -An -tx1 -N4 '$tmp/out/cap.pcapng' | grep -q '0a 0d 0d 0a'"
if [ -n "$nobody_uid" ]; then
	check "-w file created as nobody" test "$(stat -c %u "$tmp/out/cap.pcapng")" = "$nobody_uid"
fi
# the saved file through `analyze`: the same engine, the same verdicts
"$PINSPECT" analyze -q --format csv "$tmp/out/cap.pcapng" >replay.csv 2>&1
lv=$(sed -n 's/^[0-9:.]* *[0-9.]*:[0-9]* *\([^ ]*\) *\([a-z-]*\).*/\1 \2/p' live.out | sort | tr '\n' ';')
rv=$(for v in cert-alert encrypted-abort healthy; do
	for n in pinned.test healthy.test; do
		c=$(grep "$n" replay.csv | grep -c ",$v,")
		i=0
		while [ $i -lt "$c" ]; do echo "$n $v"; i=$((i + 1)); done
	done
done | sort | tr '\n' ';')
check "analyze of the -w file gives the verdicts printed live ($lv)" test "$lv" = "$rv"

# ---- run 2: --json lines, ended by SIGINT ----------------------------------
ip netns exec "$NSC" "$PINSPECT" live -i "$VC" --json -Z nobody "tcp port 443" >live2.out 2>live2.err &
live_pid=$!
wait_for live2.err "listening on" 100 || { echo "FAIL: pinspect live --json did not start"; cat live2.err; exit 1; }
reject12
healthy
wait_for live2.out '"verdict":"healthy"' 50
kill -INT $live_pid
wait_exit $live_pid 100 || { fail "live did not stop on SIGINT"; kill -KILL $live_pid; }
wait $live_pid
rc=$?
live_pid=
check "SIGINT: exit status 0 (got $rc)" test $rc = 0
check "JSON verdict line: pinned.test cert-alert unknown_ca" \
	sh -c "grep '\"type\":\"verdict\"' live2.out | grep '\"name\":\"pinned.test\"' | grep '\"verdict\":\"cert-alert\"' | grep -q '\"alert\":\"unknown_ca\"'"
check "JSON candidate line for pinned.test" \
	sh -c "grep '\"type\":\"candidate\"' live2.out | grep -q '\"rule\":\"pinned.test\"'"
check "SIGINT: the summary is the last line" sh -c "tail -1 live2.out | grep -q '\"type\":\"summary\"'"
if command -v python3 >/dev/null 2>&1; then
	check "every line is JSON" python3 -c '
import json, sys
for line in open(sys.argv[1]):
    json.loads(line)' live2.out
fi

# ---- usage and open errors ---------------------------------------------------
"$PINSPECT" live --no-tui -i pinspect-no-such-if0 --duration 1 >/dev/null 2>err.txt
rc=$?
check "unknown interface: exit 3 (got $rc)" test $rc = 3
"$PINSPECT" live --no-tui --duration x >/dev/null 2>&1
rc=$?
check "bad --duration: exit 2 (got $rc)" test $rc = 2

if [ $fails -ne 0 ]; then
	echo "live.sh: $fails check(s) failed"
	echo "---- live.err"; cat live.err
	echo "---- live2.out"; cat live2.out
	echo "---- clients.log"; tail -20 clients.log
	exit 1
fi
echo "live.sh: all checks passed"
exit 0
