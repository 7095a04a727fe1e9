#!/bin/sh
# run-stress.sh: run pinspect on the stress captures under a fixed memory
# ceiling; check that it completes, that JSON "limits" reports the cap each
# capture is built to hit, and record the peak RSS.
#
#   tests/stress/run-stress.sh [--record] [--scale F] [NAME...]
#     NAME       syn-flood frag-flood dns-names reasm-holes hs-bigmsg (default: all)
#     --scale F  make the captures F times as large (default 1; they are made
#                by make-stress.py in $STRESS_DIR, default /tmp/pinspect-stress,
#                and reused while that script is older than them)
#     --record   write the table to doc/stress.md with the machine
# Environment: PINSPECT (default ./pinspect, else the one in PATH),
# STRESS_CEILING_MB (address-space ceiling, ulimit -v; default 2048: the
# flow table alone may hold PI_MAX_FLOWS flows of about 1.2 KB each).
#
# The ceiling is on virtual memory (ulimit -v: no cgroup needed), which is
# larger than the resident set by the mapped libraries (nDPI, OpenSSL: about
# 60 MB) and the allocator's arenas. An allocation that fails under the
# ceiling must not pass silently: the run fails unless its cap is reported.
# Exit status: 0 all passed, 1 a run failed, ran out of memory, or did not
# report its cap.
set -u
record=0
scale=1
names=""
while [ $# -gt 0 ]; do
	case "$1" in
	--record) record=1 ;;
	--scale) shift; scale=$1 ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//;/^set -u/d'; exit 0 ;;
	-*) echo "run-stress.sh: unknown option '$1'" >&2; exit 2 ;;
	*) names="$names $1" ;;
	esac
	shift
done
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
dir=${STRESS_DIR:-/tmp/pinspect-stress}
ceiling_mb=${STRESS_CEILING_MB:-2048}
PINSPECT=${PINSPECT:-$( [ -x ./pinspect ] && echo ./pinspect || command -v pinspect )}
[ -n "$PINSPECT" ] && [ -x "$PINSPECT" ] || { echo "run-stress.sh: no pinspect binary (set PINSPECT)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "run-stress.sh: needs GNU time (apt-get install time)" >&2; exit 2; }
[ -n "$names" ] || names="syn-flood frag-flood dns-names reasm-holes hs-bigmsg"

# The counter each capture must raise (JSON "limits" key), and its minimum
# at --scale 1 (scaled down with the capture).
expect()
{
	case "$1" in
	syn-flood) echo "flows_evicted 100000" ;;
	frag-flood) echo "fragments_dropped 290000" ;;
	dns-names) echo "dns_names_dropped 800000" ;;
	reasm-holes) echo "reassembly_gaps_forced 2000" ;;
	hs-bigmsg) echo "tls_messages_too_big 1000" ;;
	esac
}

mkdir -p "$dir"
fail=0
rows=""
others=""
printf '%-12s %8s %9s %10s %8s %9s  %s\n' capture MB packets seconds "RSS MB" status "cap counter"
for n in $names; do
	cap="$dir/$n.pcap"
	if [ ! -f "$cap" ] || [ "$here/make-stress.py" -nt "$cap" ] || [ -n "${STRESS_REMAKE:-}" ]; then
		python3 "$here/make-stress.py" --out "$dir" --scale "$scale" "$n" >&2 || { fail=1; continue; }
	fi
	out="$dir/$n.json"
	tv="$dir/$n.time"
	(
		ulimit -v $((ceiling_mb * 1024))
		exec /usr/bin/time -v "$PINSPECT" analyze --json -q -o "$out" "$cap"
	) 2>"$tv"
	rc=$?
	rss_kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$tv")
	wall=$(sed -n 's/^[[:space:]]*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$tv")
	secs=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1 * 3600 + $2 * 60 + $3; else print $1 * 60 + $2 }')
	set -- $(expect "$n")
	key=$1
	min=$(awk -v m="$2" -v s="$scale" 'BEGIN { v = int(m * s); print v < 1 ? 1 : v }')
	got=$(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(d["limits"][sys.argv[2]], d["inputs"][0]["packets"], d["limits"].get("alloc_failures", 0))
except Exception as e:
    print("none 0 0")
' "$out" "$key")
	also=$(python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(", ".join("%s = %s" % (k, v) for k, v in d["limits"].items() if v and k != sys.argv[2]))
except Exception:
    pass
' "$out" "$key")
	nfail=${got##* }
	got=${got% *}
	val=${got% *}
	pkts=${got#* }
	status=ok
	if [ "$rc" -ne 0 ]; then
		status="exit $rc"
		grep -v "^[[:space:]]" "$tv" | head -3 >&2
	elif [ "$val" = none ] || [ "$val" -lt "$min" ]; then
		status="cap not reported"
	elif [ "$nfail" != 0 ]; then
		status="alloc failures"
	fi
	[ "$status" = ok ] || fail=1
	mb=$(awk -v b="$(stat -c %s "$cap")" 'BEGIN { printf "%.0f", b / 1e6 }')
	rssmb=$(awk -v k="${rss_kb:-0}" 'BEGIN { printf "%.0f", k / 1024 }')
	printf '%-12s %8s %9s %10s %8s %9s  %s=%s (>= %s)\n' "$n" "$mb" "$pkts" "$secs" "$rssmb" "$status" "$key" "$val" "$min"
	rows="$rows| $n | $mb | $pkts | $secs | $rssmb | $status | $key = $val |
"
	[ -n "$also" ] && others="$others
- $n also: $also"
done

if [ "$record" -eq 1 ]; then
	machine="$(nproc) x $(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo)"
	commit=$(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
	[ -n "$(cd "$top" && git status --porcelain 2>/dev/null | head -1)" ] && commit="$commit+"
	{
		echo "# Stress runs"
		echo
		echo "Made by \`tests/stress/run-stress.sh --record\` (captures from \`tests/stress/make-stress.py\`,"
		echo "scale $scale): \`pinspect analyze --json\` on each capture under \`ulimit -v\` ${ceiling_mb} MB."
		echo "Every run must finish and report the cap its capture is built to hit in JSON \"limits\"."
		echo
		echo "Machine: $machine. Date: $(date -u +%Y-%m-%d). Commit: $commit. Binary: $PINSPECT."
		echo
		echo "Peak RSS grows with what each cap allows, not with the file: the flow table"
		echo "(PI_MAX_FLOWS flows, each with its connection state), the DNS tracker"
		echo "(PI_DNS_MAX_NAMES records; the address map, whose keys are freed once their"
		echo "answers are past TTL + 10 min before the oldest open connection, at most"
		echo "DNS_MAX_ADDRMAP keys), the ranking of what it kept (at most"
		echo "PI_RANK_MAX_DNS_BLOCKED dns-blocked candidates), out-of-order segments"
		echo "(PI_REASM_MAX_OOO per direction of a flow, PI_REASM_BUDGET for all flows"
		echo "together), handshake buffers (PI_TLS_MAX_HS_MSG per direction of a flow;"
		echo "PI_TLS_HS_BUDGET for all flows together once dissectors/tls.c applies it)."
		echo
		echo "Every other counter of JSON \"limits\" that a run raised is listed after the"
		echo "table; \"alloc_failures\" (an allocation failed: data lost, exit status 4)"
		echo "must stay 0 under the ceiling."
		echo
		echo "| capture | MB | packets | seconds | peak RSS MB | status | cap counter |"
		echo "|---|---:|---:|---:|---:|---|---|"
		printf '%s' "$rows"
		[ -z "$others" ] || printf '%s\n' "$others"
	} >"$top/doc/stress.md"
fi
exit $fail
