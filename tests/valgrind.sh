#!/bin/sh
# valgrind.sh: pinspect analyze on every sample and a few public captures,
# and each fuzz target over its committed corpus, under valgrind memcheck:
# any invalid read or write, use of uninitialised memory, or leak (definite
# or indirect) fails the test. Skipped (77) without valgrind, and inside the
# ASan build (the two do not mix).
#
# Environment: PINSPECT, top_srcdir, top_builddir (set by make check);
# PI_VALGRIND_QUICK=1 runs three samples and no fuzz corpus.
[ -n "${PI_SANITIZER_BUILD:-}" ] && { echo "valgrind: inside the sanitizer build: skipped"; exit 77; }
command -v valgrind >/dev/null 2>&1 || { echo "valgrind: not installed (apt-get install valgrind): skipped"; exit 77; }
top_srcdir=${top_srcdir:-.}
top_builddir=${top_builddir:-.}
PINSPECT=${PINSPECT:-$top_builddir/pinspect}
corpus=$top_srcdir/../shared/corpus/public/captures
log=${TMPDIR:-/tmp}/pinspect-valgrind.$$
trap 'rm -f "$log"' EXIT
VG="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --track-origins=yes --log-file=$log"

fail=0
n=0
check()
{
	what=$1
	shift
	n=$((n + 1))
	$VG "$@" >/dev/null 2>&1
	rc=$?
	if [ $rc -eq 99 ] || [ -s "$log" ]; then
		echo "valgrind: FAIL: $what"
		sed 's/^/  /' "$log" | head -40
		fail=1
	elif [ $rc -gt 5 ]; then
		echo "valgrind: FAIL: $what: exit $rc"
		fail=1
	fi
}

files=$(ls "$top_srcdir"/samples/*.pcap* 2>/dev/null)
if [ -n "${PI_VALGRIND_QUICK:-}" ]; then
	files=$(echo "$files" | head -3)
fi
# captures that reach the odd corners: IP fragments, tunnels, SSLv2, HRR,
# long certificate chains, gaps, DNS over TCP, truncated headers
for c in ndpi-dns_fragmented.pcap zeek-geneve-vxlan-dns-truncated.pcap zeek-ssl-v2.pcap \
	zeek-tls13-hrr.pcap ndpi-tls_verylong_certificate.pcap zeek-ldap-gap-data-missing.pcapng \
	suri-dns-tcp-multirequest-buffer.pcap zeek-trunc-hdr.pcap ndpi-dns-qinq-pppoe.pcap; do
	[ -z "${PI_VALGRIND_QUICK:-}" ] && [ -f "$corpus/$c" ] && files="$files $corpus/$c"
done
[ -n "$files" ] || { echo "valgrind: no captures to run: skipped"; exit 77; }

for f in $files; do
	check "pinspect analyze --json $(basename "$f")" "$PINSPECT" analyze --json -q "$f"
done
# the report and CSV writers, and --dns-queries, once
first=$(echo $files | cut -d' ' -f1)
check "pinspect analyze (report) $(basename "$first")" "$PINSPECT" analyze --color always -q "$first"
check "pinspect analyze --format csv" "$PINSPECT" analyze -f csv -q --dns-queries /dev/null "$first"
check "pinspect analyze --format zscaler (all samples)" "$PINSPECT" analyze -f zscaler -q $files

# the fuzz targets over their corpus (onefile runners built by make check)
if [ -z "${PI_VALGRIND_QUICK:-}" ]; then
	for t in "$top_builddir"/tests/fuzz/fuzz_*; do
		[ -x "$t" ] || continue
		case "$t" in *.o|*.c) continue ;; esac
		check "$(basename "$t") over tests/fuzz/corpus" "$t"
	done
fi

[ $fail -eq 0 ] && echo "valgrind: $n runs clean"
exit $fail
