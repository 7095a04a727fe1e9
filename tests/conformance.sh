#!/bin/sh
# conformance.sh: pinspect against tshark's truth on ../shared/corpus/public
# (skipped, exit 77, when that folder is not beside the project).
top_srcdir=${top_srcdir:-.}
PINSPECT=${PINSPECT:-./pinspect}
corpus=${PI_CORPUS:-$top_srcdir/../shared/corpus/public}
if [ ! -d "$corpus/captures" ] || [ ! -d "$corpus/truth" ]; then
	echo "conformance: no corpus at $corpus: skipped"
	exit 77
fi
command -v python3 >/dev/null || { echo "conformance: python3 missing: skipped"; exit 77; }
exec python3 "$top_srcdir/tests/conformance.py" "$PINSPECT" "$corpus" "$top_srcdir/tests/conformance/known.tsv"
