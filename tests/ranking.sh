#!/bin/sh
# ranking.sh: ranking, merge and bypass-list formats on real captures (tests/ranking.py).
# usage: top_srcdir=SRC PINSPECT=BIN sh tests/ranking.sh [--update]
top_srcdir=${top_srcdir:-.}
exec python3 "$top_srcdir/tests/ranking.py" "$@" "${PINSPECT:-./pinspect}" "$top_srcdir"
