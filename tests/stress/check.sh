#!/bin/sh
# check.sh: the stress captures as a make check test (tests/stress/run-stress.sh):
# every cap hit under the memory ceiling and reported. About 1.5 GB of
# captures in $STRESS_DIR (default /tmp/pinspect-stress, kept for the next
# run) and a minute or two. Skipped (77) inside the sanitizer build (ASan's
# shadow memory makes the ceiling meaningless) or with PI_NO_STRESS set.
[ -n "${PI_SANITIZER_BUILD:-}" ] && { echo "stress: inside the sanitizer build: skipped"; exit 77; }
[ -n "${PI_NO_STRESS:-}" ] && { echo "stress: PI_NO_STRESS set: skipped"; exit 77; }
top_srcdir=${top_srcdir:-.}
exec sh "$top_srcdir/tests/stress/run-stress.sh"
