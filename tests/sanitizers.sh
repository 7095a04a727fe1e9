#!/bin/sh
# sanitizers.sh: the whole suite again, built with ASan and UBSan, in its
# own build directory. (Inside that build, this test is skipped: exit 77.)
[ -n "${PI_SANITIZER_BUILD:-}" ] && { echo "sanitizers: inside the sanitizer build: skipped"; exit 77; }
[ -n "${PI_NO_SANITIZERS:-}" ] && { echo "sanitizers: PI_NO_SANITIZERS set: skipped"; exit 77; }
top_srcdir=$(cd "${top_srcdir:-.}" && pwd)
dir=${top_builddir:-.}/san-build
mkdir -p "$dir" && cd "$dir" || exit 1
set -e
[ -f Makefile ] || "$top_srcdir/configure" --quiet --enable-sanitizers CFLAGS="-O1 -g"
make -j"$(nproc)" >/dev/null
export PI_SANITIZER_BUILD=1 PI_MALFORMED_ROUNDS=10
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
make check
