#!/bin/sh
# sanitizers.sh: the whole suite again, built with ASan and UBSan, in its
# own build directory. (Inside that build, this test is skipped: exit 77.)
[ -n "${PI_SANITIZER_BUILD:-}" ] && { echo "sanitizers: inside the sanitizer build: skipped"; exit 77; }
[ -n "${PI_NO_SANITIZERS:-}" ] && { echo "sanitizers: PI_NO_SANITIZERS set: skipped"; exit 77; }
top_srcdir=$(cd "${top_srcdir:-.}" && pwd)
top_builddir=$(cd "${top_builddir:-.}" && pwd)
dir=$top_builddir/san-build
src=$top_srcdir
set -e
mkdir -p "$dir"
if [ -f "$top_srcdir/config.status" ]; then
	# The source tree is configured in place, which a second (VPATH) build
	# refuses: build from a clean copy of it instead.
	if [ ! -f "$dir/src/configure" ]; then
		rm -rf "$dir/src"
		mkdir -p "$dir/src"
		(cd "$top_srcdir" && tar cf - --exclude=./san-build --exclude=.git .) | (cd "$dir/src" && tar xf -)
		(cd "$dir/src" && make distclean >/dev/null 2>&1 || true)
	fi
	src=$dir/src
fi
mkdir -p "$dir/build"
cd "$dir/build"
[ -f Makefile ] || "$src/configure" --quiet --enable-sanitizers CFLAGS="-O1 -g"
make -j"$(nproc)" >/dev/null
export PI_SANITIZER_BUILD=1 PI_MALFORMED_ROUNDS=10
export PI_CORPUS="${PI_CORPUS:-$top_srcdir/../shared/corpus/public}"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
make check
