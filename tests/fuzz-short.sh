#!/bin/sh
# fuzz-short.sh: a short libFuzzer run of every target (10 s each), as CI
# runs it; tests/fuzz/run-fuzz.sh SECONDS is the long run (make fuzz).
# Skipped (77) without clang's libFuzzer, or inside the sanitizer build.
[ -n "${PI_SANITIZER_BUILD:-}" ] && { echo "fuzz-short: inside the sanitizer build: skipped"; exit 77; }
command -v clang >/dev/null 2>&1 || { echo "fuzz-short: no clang: skipped"; exit 77; }
top_srcdir=${top_srcdir:-.}
exec sh "$top_srcdir/tests/fuzz/run-fuzz.sh" --ci
