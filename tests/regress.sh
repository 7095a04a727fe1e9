#!/bin/sh
# regress.sh: the sample captures' verdicts (tests/regress.py).
top_srcdir=${top_srcdir:-.}
exec python3 "$top_srcdir/tests/regress.py" "${PINSPECT:-./pinspect}" "$top_srcdir/samples"
