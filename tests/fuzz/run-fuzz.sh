#!/bin/sh
# run-fuzz.sh: build every fuzz target with clang's libFuzzer, ASan and UBSan,
# run each for a while, keep what it finds, and record the run.
#
#   tests/fuzz/run-fuzz.sh [options] [SECONDS] [TARGET...]
#     SECONDS      per target (default 60)
#     TARGET       fuzz_tls fuzz_dns ... (default: every tests/fuzz/fuzz_*.c)
#     --ci         10 s per target, nothing recorded in doc/fuzzing.md;
#                  exit 1 on a finding (for .ci/run)
#     --no-record  do not append to doc/fuzzing.md
#     --jobs N     run N targets at once (default: 1; each uses one core)
#     --update-corpus  afterwards, add to tests/fuzz/corpus/<target>/ the inputs
#                  of the working corpus that reach new coverage (libFuzzer
#                  -merge=1), smallest first, while the folder stays under
#                  190 KB (review and commit them)
#
# The library sources are compiled here with clang (they are listed in
# Makefile.am's libpinspect_a_SOURCES; the readers of bundles, logs and the
# proxy's parsers are added when present), not taken from the gcc build.
# Work files go to $PI_FUZZ_WORK (default /tmp/pinspect-fuzz, locked while a
# run uses it; --ci: a fresh temporary folder): the objects, the targets and
# a growing working corpus per target (seeded from the committed
# tests/fuzz/corpus/<target>/, which the run does not modify).
#
# A finding (crash, leak, timeout, out-of-memory) is saved as
# tests/fuzz/regress/<target>/<kind>-<sha1>; the committed regress files
# are replayed by `make check` (onefile.c) forever after. The stack trace
# is in $PI_FUZZ_WORK/logs/<target>.log. Fix the bug, keep the input.
#
# Each run appends a row per target to doc/fuzzing.md: date, target,
# seconds, executions, findings, machine, commit; the table at the top of
# that file (clean time per target: the seconds of runs without findings
# since the last finding) is recomputed from the rows.
#
# Exit status: 0 no finding, 1 a finding, 2 the build failed, 77 no clang
# with libFuzzer.
set -u
secs=60
record=1
ci=0
jobs=1
update=0
targets=""
while [ $# -gt 0 ]; do
	case "$1" in
	--ci) ci=1; secs=10; record=0 ;;
	--no-record) record=0 ;;
	--jobs) shift; jobs=$1 ;;
	--update-corpus) update=1 ;;
	[0-9]*) secs=$1 ;;
	fuzz_*) targets="$targets $1" ;;
	-h|--help) sed -n '2,/^set -u/p' "$0" | sed 's/^# \{0,1\}//;/^set -u/d'; exit 0 ;;
	*) echo "run-fuzz.sh: unknown argument '$1'" >&2; exit 2 ;;
	esac
	shift
done

here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)
# A --ci run works in a folder of its own (removed afterwards unless it
# found something), so that it never shares binaries or results with a long
# run going on at the same time; a long run locks its folder.
if [ -n "${PI_FUZZ_WORK:-}" ]; then
	work=$PI_FUZZ_WORK
elif [ "$ci" -eq 1 ]; then
	work=$(mktemp -d "${TMPDIR:-/tmp}/pinspect-fuzz-ci.XXXXXX") || exit 2
	trap '[ "${status:-1}" -eq 0 ] && rm -rf "$work"' EXIT
else
	work=/tmp/pinspect-fuzz
fi
mkdir -p "$work"
if command -v flock >/dev/null 2>&1; then
	exec 9>"$work/.lock"
	if ! flock -n 9; then
		echo "run-fuzz.sh: another run is using $work (set PI_FUZZ_WORK to another folder)" >&2
		exit 2
	fi
fi
CC=${FUZZ_CC:-clang}
if ! command -v "$CC" >/dev/null 2>&1; then
	echo "run-fuzz.sh: $CC not found (apt-get install clang libclang-rt-14-dev): skipped" >&2
	exit 77
fi
# libFuzzer is in clang's runtime (Debian: libclang-rt-NN-dev)
probe=$(mktemp -d)
printf 'int LLVMFuzzerTestOneInput(const unsigned char *d, unsigned long n){(void)d;(void)n;return 0;}\n' >"$probe/p.c"
if ! "$CC" -fsanitize=fuzzer "$probe/p.c" -o "$probe/p" 2>/dev/null; then
	rm -rf "$probe"
	echo "run-fuzz.sh: $CC cannot link libFuzzer (apt-get install libclang-rt-14-dev): skipped" >&2
	exit 77
fi
rm -rf "$probe"

[ -n "$targets" ] || targets=$(cd "$here" && ls fuzz_*.c | sed 's/\.c$//')
mkdir -p "$work/obj" "$work/bin" "$work/logs" "$work/corpus"

# ---- build -----------------------------------------------------------------
PKGS="libpcap libndpi openssl ncursesw libpsl libarchive zlib jansson"
SAN="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
version=$(sed -n 's/^AC_INIT(\[pinspect\], \[\([^]]*\)\].*/\1/p' "$top/configure.ac")
CFLAGS="-std=c11 -g -O1 -D_GNU_SOURCE=1 -DPACKAGE_VERSION=\"${version:-0}\" -DPACKAGE_NAME=\"pinspect\" -DVERSION=\"${version:-0}\" $SAN -I$top/src -I$top -DPI_DATADIR=\"$top/data\" -DPI_SRCDIR=\"$top\" $(pkg-config --cflags $PKGS)"
LIBS="$(pkg-config --libs $PKGS) -lm"

srcs=$(sed -n '/^libpinspect_a_SOURCES/,/^$/p' "$top/Makefile.am" | tr ' \\\t' '\n\n\n' | grep '\.c$')
for extra in src/capture/bundle.c src/analysis/zsatunnel.c src/analysis/webinsights.c \
	src/proxy/http.c src/proxy/rules.c; do
	[ -f "$top/$extra" ] || continue
	case " $(echo $srcs) " in *" $extra "*) ;; *) srcs="$srcs $extra" ;; esac
done
if [ -f "$top/src/analysis/webinsights.c" ]; then
	LIBS="$LIBS -lcsv"
fi

echo "run-fuzz.sh: building the library with $CC (libFuzzer, ASan, UBSan) in $work" >&2
objs=""
for s in $srcs; do
	o="$work/obj/$(echo "$s" | tr '/' '_' | sed 's/\.c$/.o/')"
	if [ ! -f "$o" ] || [ "$top/$s" -nt "$o" ] || [ -n "$(find "$top/src" "$top/dissectors" -name '*.h' -newer "$o" 2>/dev/null | head -1)" ]; then
		$CC $CFLAGS -fsanitize=fuzzer-no-link -c "$top/$s" -o "$o" || { echo "run-fuzz.sh: $s does not build" >&2; exit 2; }
	fi
	objs="$objs $o"
done
rm -f "$work/libfz.a"
ar rcs "$work/libfz.a" $objs

built=""
for t in $targets; do
	if $CC $CFLAGS -fsanitize=fuzzer "$here/$t.c" "$work/libfz.a" $LIBS -o "$work/bin/$t" 2>"$work/logs/$t.build"; then
		built="$built $t"
	else
		echo "run-fuzz.sh: $t does not build (skipped): $(head -3 "$work/logs/$t.build")" >&2
	fi
done

# ---- run -------------------------------------------------------------------
# per-target input size ceilings (bytes)
max_len()
{
	case "$1" in
	fuzz_cert) echo 16384 ;;
	fuzz_connect) echo 9000 ;;
	fuzz_dns) echo 65537 ;;
	fuzz_bundle) echo 131072 ;;
	*) echo 65536 ;;
	esac
}

run_one()
{
	t=$1
	mkdir -p "$work/corpus/$t" "$here/regress/$t"
	before=$(ls "$here/regress/$t" | wc -l)
	seeds="$here/corpus/$t"
	[ -d "$seeds" ] || seeds=""
	ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	"$work/bin/$t" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
		-print_final_stats=1 -artifact_prefix="$here/regress/$t/" \
		"$work/corpus/$t" $seeds >"$work/logs/$t.log" 2>&1
	rc=$?
	after=$(ls "$here/regress/$t" | wc -l)
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/logs/$t.log" | tail -1)
	ran=$(sed -n 's/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$work/logs/$t.log" | tail -1)
	[ -n "$ran" ] || ran=$secs
	found=$((after - before))
	if [ "$rc" -ne 0 ] && [ "$found" -eq 0 ]; then
		found=1 # a crash libFuzzer could not save: the log says
	fi
	echo "$t ${ran} ${execs:-0} $found" >"$work/logs/$t.result"
}

echo "run-fuzz.sh: $secs s per target:$built" >&2
running=0
for t in $built; do
	run_one "$t" &
	running=$((running + 1))
	if [ "$running" -ge "$jobs" ]; then
		wait
		running=0
	fi
done
wait

# ---- corpus update -----------------------------------------------------------
update_corpus()
{
	t=$1
	dest=$here/corpus/$t
	tmp=$(mktemp -d)
	mkdir -p "$dest"
	"$work/bin/$t" -merge=1 -max_len=4096 "$tmp" "$dest" "$work/corpus/$t" >"$work/logs/$t.merge" 2>&1
	used=$(cat "$dest"/* 2>/dev/null | wc -c)
	known=$(for f in "$dest"/*; do [ -f "$f" ] && sha1sum <"$f" | cut -c1-40; done)
	added=0
	for f in $(ls -Sr "$tmp"); do
		sz=$(stat -c %s "$tmp/$f")
		echo "$known" | grep -q "^$f\$" && continue
		[ $((used + sz)) -le 194560 ] || break
		cp "$tmp/$f" "$dest/fuzz-$f"
		used=$((used + sz))
		added=$((added + 1))
	done
	rm -rf "$tmp"
	echo "run-fuzz.sh: $t: $added inputs added to tests/fuzz/corpus/$t ($((used / 1024)) KB)" >&2
}
if [ "$update" -eq 1 ]; then
	for t in $built; do
		update_corpus "$t"
	done
fi

# ---- report ----------------------------------------------------------------
status=0
date=$(date -u +%Y-%m-%d)
machine="$(nproc) x $(sed -n 's/^model name[^:]*: *//p' /proc/cpuinfo | head -1), $(awk '/MemTotal/ {printf "%.0f GB", $2/1048576}' /proc/meminfo)"
commit=$(cd "$top" && git rev-parse --short HEAD 2>/dev/null || echo unknown)
[ -n "$(cd "$top" && git status --porcelain 2>/dev/null | head -1)" ] && commit="$commit+"
rows=""
printf '%-14s %8s %12s %9s\n' target seconds executions findings
for t in $built; do
	read -r name ran execs found <"$work/logs/$t.result"
	printf '%-14s %8s %12s %9s\n' "$name" "$ran" "$execs" "$found"
	if [ "$found" -ne 0 ]; then
		status=1
		echo "run-fuzz.sh: $name: finding kept in tests/fuzz/regress/$name/; stack in $work/logs/$name.log" >&2
		grep -m1 -E "ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error|SUMMARY" "$work/logs/$name.log" >&2
	fi
	rows="$rows| $date | $name | $ran | $execs | $found | $machine | $commit |
"
done

if [ "$record" -eq 1 ] && [ -n "$rows" ]; then
	printf '%s' "$rows" | python3 "$here/fuzzlog.py" "$top/doc/fuzzing.md"
fi
exit $status
