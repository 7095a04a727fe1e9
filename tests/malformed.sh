#!/bin/sh
# malformed.sh: broken and mutated captures (tests/malformed.py).
top_srcdir=${top_srcdir:-.}
exec python3 "$top_srcdir/tests/malformed.py" "${PINSPECT:-./pinspect}" "$top_srcdir/samples" "${PI_MALFORMED_ROUNDS:-40}"
