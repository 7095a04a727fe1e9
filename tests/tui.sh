#!/bin/sh
# tui.sh: the interactive view, driven in tmux on a sample capture.
#
# `pinspect analyze --tui SAMPLE` runs in a detached tmux session (120x40);
# keys go in with send-keys and the screen comes back as text with
# capture-pane. Asserts: the status bar, the help line, the candidates pane
# with the pinned name first (the same first candidate as `analyze --json`),
# navigation (Tab, j/k), the detail view (evidence, verdict history, CNAME
# chain, JA3/app, certificate, Wireshark filter, frames), the filter, sort,
# pause, mark, export to a file, saving the packets, the DNS pane, help,
# readability after a resize to 80x24, a hostile SNI kept from the screen,
# and a clean exit on q.
#
# SAMPLE: $TUI_SAMPLE, else samples/ranking/flaky.pcapng (an app that pins
# pinned.example among healthy traffic and a name that fails once among
# successes), else samples/mixed.pcapng.
# Needs tmux (exit 77 without it).
# Run from the build tree: top_srcdir=. PINSPECT=./pinspect sh tests/tui.sh
top_srcdir=${top_srcdir:-.}
PINSPECT=${PINSPECT:-./pinspect}
case $PINSPECT in /*) ;; *) PINSPECT=$(pwd)/$PINSPECT ;; esac

skip() { echo "SKIP: $*"; exit 77; }
command -v tmux >/dev/null 2>&1 || skip "tmux not installed"
[ -x "$PINSPECT" ] || { echo "FAIL: $PINSPECT not found"; exit 1; }

SAMPLE=
for f in "${TUI_SAMPLE:-}" "$top_srcdir/samples/ranking/flaky.pcapng" "$top_srcdir/samples/mixed.pcapng"; do
	[ -n "$f" ] && [ -f "$f" ] && { SAMPLE=$f; break; }
done
[ -n "$SAMPLE" ] || skip "no sample capture (samples/mixed.pcapng)"
case $SAMPLE in /*) ;; *) SAMPLE=$(pwd)/$SAMPLE ;; esac

tmp=$(mktemp -d /tmp/pinspect-tui.XXXXXX) || exit 1
SOCK=pinspect-tui-$$
T="tmux -L $SOCK -f /dev/null"
fails=0
cleanup() {
	$T kill-server 2>/dev/null
	rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$SOCK"
	[ -n "$KEEP" ] || rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP PIPE

ok() { echo "ok   - $*"; }
fail() {
	echo "FAIL - $*"
	fails=$((fails + 1))
	echo "---- screen"
	screen
	echo "----"
}
S=pi
screen() { $T capture-pane -p -t $S 2>/dev/null; }
keys() { $T send-keys -t $S "$@"; }
# wait_screen PATTERN [TENTHS]: until grep -E PATTERN matches the screen
wait_screen() {
	i=0
	while [ $i -lt "${2:-50}" ]; do
		screen | grep -Eq -- "$1" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}
expect() { # expect "what" PATTERN: the screen shows PATTERN (waits a little)
	if wait_screen "$2"; then ok "$1"; else fail "$1 (no /$2/)"; fi
}
expect_not() {
	sleep 0.3
	if screen | grep -Eq -- "$2"; then fail "$1 (/$2/ still there)"; else ok "$1"; fi
}
# the row under a pane's header line
row_after() { screen | sed -n "/$1/{n;p;q;}"; }
ere() { printf '%s' "$1" | sed 's/[].[\\*^$()+?{}|]/\\&/g'; }

# The first candidate, as `analyze` ranks it: the view must agree.
first=
if command -v python3 >/dev/null 2>&1; then
	first=$("$PINSPECT" analyze -q --format json "$SAMPLE" 2>/dev/null | python3 -c '
import json, sys
c = json.load(sys.stdin).get("candidates") or []
print(c[0]["rule"] if c else "")' 2>/dev/null)
fi
case $SAMPLE in */flaky.pcapng) pinned=pinned.example ;; *) pinned=$first ;; esac
[ -n "$first" ] || first=$pinned
[ -n "$first" ] || { echo "FAIL: cannot tell the first candidate of $SAMPLE (needs python3)"; exit 1; }
echo "sample $SAMPLE, first candidate $first"
FIRST=$(ere "$first")

# ---- start --------------------------------------------------------------
$T new-session -d -s pi -x 120 -y 40 \
	"cd '$tmp' && TERM=screen '$PINSPECT' analyze --tui '$SAMPLE' 2>'$tmp/err'; echo \$? >'$tmp/rc'; sleep 2" ||
	skip "tmux cannot start a session"
if wait_screen "CANDIDATES" 100; then
	ok "the view starts"
else
	echo "FAIL - the view did not start (exit status $(cat "$tmp/rc" 2>/dev/null))"
	cat "$tmp/err" 2>/dev/null | head -40
	exit 1
fi
expect "the replay reaches the end of the file" "end of file"
status=$(screen | sed -n 1p)
echo "$status" | grep -Eq 'pinspect replay .*packets [0-9.kM]+ \([0-9.]+ [kMG]?B\) .*pkt/s .*flows .*TLS [0-9]+ .*drops .*[0-9]{2}:[0-9]{2}:[0-9]{2}' &&
	ok "status bar: file, packets, bytes, rate, flows, TLS, drops, elapsed" || fail "status bar: $status"
help=$(screen | tail -1)
for k in "q quit" "? help" "Tab" "j/k" "Enter" "/ filter" "s sort" "spc pause" "m mark" "e export" "w save" "d DNS"; do
	echo "$help" | grep -qF -- "$k" || { fail "help line lacks '$k': $help"; break; }
done
ok "help line lists the keys"
r=$(row_after '^>CANDIDATES')
echo "$r" | grep -Eq "^> $FIRST " && ok "pinned name first in the candidates pane: $first" ||
	fail "first candidate row is not $first: '$r'"
[ "$first" = "$pinned" ] || fail "analyze ranks $first first, not the pinned $pinned"
echo "$r" | grep -Eq ' (bypass|trust-store|certificate|dns-blocked|inconclusive) +[0-9]\.[0-9]{2} +[0-9]+ +[0-9]+' &&
	ok "candidate row: category, score, failures, successes" || fail "candidate row columns: '$r'"
expect "connections pane with verdicts" '^ CONNECTIONS [0-9]+ .* CLIENT'
expect "a rejection verdict listed" '(cert-alert|rst-after-hello|fin-after-hello|encrypted-abort|close-no-data) '

# ---- navigation ------------------------------------------------------------
keys Tab
expect "Tab focuses the connections pane" '^>CONNECTIONS'
c1=$(row_after '^>CONNECTIONS')
keys j
sleep 0.3
c2=$(screen | sed -n '/^>CONNECTIONS/{n;n;p;q;}')
echo "$c1" | grep -q '^> ' && echo "$c2" | grep -q '^> ' && ok "j moves the selection down" ||
	fail "j did not move the selection: '$c1' / '$c2'"
keys k
sleep 0.3
row_after '^>CONNECTIONS' | grep -q '^> ' && ok "k moves it back up" || fail "k did not move the selection up"
keys Tab
expect "Tab back to the candidates" '^>CANDIDATES'

# ---- detail view -----------------------------------------------------------
keys Enter
expect "Enter opens the detail of the name" "^>DETAIL $FIRST"
for f in Category Why Fix Wireshark Signatures "CNAME chain" "App \(nDPI\)" Certificate "Verdict history" \
	"Frames +frame.number in \{[0-9]"; do
	screen | grep -Eq "^ ?$f" || screen | grep -Eq " $f" || fail "detail view lacks $f"
done
ok "detail: category, why, fix, Wireshark filter, signatures, CNAME chain, JA3/app, certificate, history, frames"
expect "detail: JA3 shown" "JA3 [0-9a-f]{32}"
keys Escape
expect "Esc goes back" '^>CANDIDATES'

# ---- filter ----------------------------------------------------------------
keys /
expect "/ opens the filter prompt" '^Filter:'
keys zzz-no-such-name Enter
expect "a filter matching nothing empties the pane" 'no name matches the filter'
keys / C-u Enter
expect "an empty filter clears it" "^> $FIRST "
keys / C-u "$first" Enter
expect "filter on the name keeps it" "^> $FIRST "
expect "the summary line shows the filter" "filter \"$FIRST\""
keys / C-u Enter
expect "filter cleared again" "filter cleared"

# ---- sort, pause -------------------------------------------------------------
keys s
expect "s sorts the candidates by failures" 'sort failures'
keys s s s
expect "s cycles back to the ranking" 'sort rank'
keys Space
expect "space pauses" 'PAUSED'
keys Space
expect_not "space resumes" '^ pinspect.*PAUSED'

# ---- mark and export -----------------------------------------------------------
keys Home m
expect "m marks the name" "^>\\*$FIRST "
expect "the summary counts it" 'marked 1'
keys e
expect "e asks for the format" '^Export format: '
expect "the formats are listed" 'formats: zscaler'
keys C-u nosuchformat Enter
expect "an unknown format is refused" "unknown format 'nosuchformat'"
keys e C-u zscaler Enter
expect "then for the file" '^Export to file: '
keys C-u "$tmp/bypass.txt" Enter
expect "export reports what it wrote" 'exported 1 marked candidate as zscaler'
grep -Fq -- "$first" "$tmp/bypass.txt" 2>/dev/null && ok "the export file lists $first" ||
	fail "export file lacks $first: $(cat "$tmp/bypass.txt" 2>&1)"

# ---- save ------------------------------------------------------------------------
keys w
expect "w asks for a file" '^Save captured packets to: pinspect-'
keys C-u "$tmp/saved.pcapng" Enter
expect "save reports the packets written" 'saved [0-9]+ packets to'
if od -An -tx1 -N4 "$tmp/saved.pcapng" 2>/dev/null | grep -q '0a 0d 0d 0a' &&
	"$PINSPECT" analyze -q "$tmp/saved.pcapng" >"$tmp/saved.txt" 2>&1 && grep -qF -- "$first" "$tmp/saved.txt"; then
	ok "the saved pcapng reads back with the same name"
else
	fail "saved capture unreadable or different"
fi

# ---- DNS pane, help ---------------------------------------------------------------
keys d
expect "d shows the DNS problems" '^ DNS PROBLEMS [0-9]+ .*NO-ANSWER'
case $SAMPLE in */mixed.pcapng) expect "the unanswered name is listed" 'telemetry\.blocked\.example' ;; esac
keys d
expect "d shows the connections again" '^ CONNECTIONS'
keys '?'
expect "? shows the help" '^>HELP'
keys x
expect "any key leaves the help" '^>CANDIDATES'

# ---- mouse (an xterm X10 report, as TERM=screen announces): click the 2nd row ----
y=$(screen | grep -n '^>CANDIDATES' | cut -d: -f1) # 1-based row of the header
if [ -n "$y" ] && [ "$(screen | sed -n '/^>CANDIDATES/,/CONNECTIONS/p' | grep -c '^[ >-][ *][a-z0-9.]')" -ge 2 ]; then
	oct() { printf "\\$(printf %o "$1")"; }
	click=$(printf '\033[M %s%s\033[M#%s%s' "$(oct 43)" "$(oct $((32 + y + 2)))" "$(oct 43)" "$(oct $((32 + y + 2)))")
	keys -l "$click"
	sleep 0.6
	screen | sed -n "/^>CANDIDATES/{n;n;p;q;}" | grep -q '^> ' && ok "a mouse click selects the row" ||
		fail "mouse click did not select the second candidate"
	keys Home
fi

# ---- resize to 80x24 -------------------------------------------------------------------
$T resize-window -t pi -x 80 -y 24
sleep 0.5
lines=$(screen | wc -l)
width=$(screen | awk '{ if (length($0) > m) m = length($0) } END { print m + 0 }')
[ "$lines" -le 24 ] && [ "$width" -le 80 ] && ok "80x24: $lines lines, at most $width columns" ||
	fail "80x24: $lines lines, $width columns"
expect "80x24: status bar keeps packets, rate, flows, TLS, drops, time" \
	'^ [^ ]+ +[0-9.kM]+ pkt [0-9.]+ [kMG]?B +[0-9]+/s +fl [-0-9]+ +TLS [0-9]+ +drop [-0-9/]+ +[0-9]{2}:[0-9]{2}:[0-9]{2}'
expect "80x24: the pinned name still first" "^>\\*$FIRST "
expect "80x24: connections pane visible" '^ CONNECTIONS [0-9]+'
screen | tail -1 | grep -q 'q quit.*e export.*w save' && ok "80x24: help line fits" ||
	fail "80x24 help line: $(screen | tail -1)"
keys Enter
expect "80x24: detail view readable" "^>DETAIL $FIRST"
keys q
expect "q leaves the detail" '^>CANDIDATES'

# ---- quit --------------------------------------------------------------------------
keys q
i=0
while [ ! -s "$tmp/rc" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
rc=$(cat "$tmp/rc" 2>/dev/null)
[ "$rc" = 0 ] && ok "q quits with status 0" || fail "exit status after q: '$rc'"

# ---- a hostile SNI does not reach the terminal --------------------------------------
# A ClientHello whose SNI holds ESC [2J (clear screen), BEL and UTF-8, then
# the client resets: the name must show escaped, and the screen stay whole.
# This run also has NO_COLOR set: the view must stay usable without colour.
if command -v python3 >/dev/null 2>&1; then
	python3 - "$tmp/hostile.pcap" <<'EOF'
import struct, sys
sni = b"\x1b[2J\x07evil\xe2\x80\xae.example"
def ext(t, body): return struct.pack(">HH", t, len(body)) + body
sn = ext(0, struct.pack(">HBH", len(sni) + 3, 0, len(sni)) + sni)
body = b"\x03\x03" + b"\x11" * 32 + b"\x00" + struct.pack(">H", 2) + b"\x13\x01" + b"\x01\x00"
exts = sn + ext(43, b"\x02\x03\x04") + ext(10, b"\x00\x02\x00\x1d")
body += struct.pack(">H", len(exts)) + exts
hs = b"\x01" + struct.pack(">I", len(body))[1:] + body
ch = b"\x16\x03\x01" + struct.pack(">H", len(hs)) + hs
sh_body = b"\x03\x03" + b"\x22" * 32 + b"\x00" + b"\x13\x01" + b"\x00"
sh_exts = ext(43, b"\x03\x04") + ext(51, b"\x00\x1d\x00\x20" + b"\x33" * 32)
sh_body += struct.pack(">H", len(sh_exts)) + sh_exts
shs = b"\x02" + struct.pack(">I", len(sh_body))[1:] + sh_body
sh = b"\x16\x03\x03" + struct.pack(">H", len(shs)) + shs + b"\x17\x03\x03\x00\x20" + b"\x44" * 32
def csum(b):
    if len(b) % 2: b += b"\0"
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return ~s & 0xffff
C, S = bytes([10, 0, 0, 2]), bytes([10, 0, 0, 1])
def pkt(src, dst, sp, dp, seq, ack, flags, data=b""):
    tcp = struct.pack(">HHIIBBHHH", sp, dp, seq, ack, 5 << 4, flags, 65535, 0, 0) + data
    ip = struct.pack(">BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), 1, 0, 64, 6, 0, src, dst)
    ip = ip[:10] + struct.pack(">H", csum(ip)) + ip[12:]
    return ip + tcp
cs, ss = 1000, 5000
p = [pkt(C, S, 40000, 443, cs, 0, 0x02), pkt(S, C, 443, 40000, ss, cs + 1, 0x12),
     pkt(C, S, 40000, 443, cs + 1, ss + 1, 0x10), pkt(C, S, 40000, 443, cs + 1, ss + 1, 0x18, ch),
     pkt(S, C, 443, 40000, ss + 1, cs + 1 + len(ch), 0x18, sh),
     pkt(C, S, 40000, 443, cs + 1 + len(ch), 0, 0x04)]
with open(sys.argv[1], "wb") as f:
    f.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 101))
    for i, d in enumerate(p):
        f.write(struct.pack("<IIII", 1700000000 + i, 0, len(d), len(d)) + d)
EOF
	S=pi2
	$T new-session -d -s $S -x 80 -y 24 \
		"TERM=screen NO_COLOR=1 '$PINSPECT' analyze --tui '$tmp/hostile.pcap' 2>'$tmp/err2'; echo \$? >'$tmp/rc2'; sleep 2"
	expect "hostile SNI: the view starts" ' eof$'
	expect "hostile SNI: shown escaped" '\\x1b\[2[jJ]\\x07evil'
	screen | sed -n 1p | grep -q 'hostile.pcap' && ok "hostile SNI: the status bar is intact" ||
		fail "hostile SNI: status bar broken"
	screen | tail -1 | grep -q 'q quit' && ok "hostile SNI: the help line is intact" ||
		fail "hostile SNI: help line broken"
	row_after '^>CANDIDATES' | grep -q '^> ' && ok "NO_COLOR: the selection is still marked (>)" ||
		fail "NO_COLOR: no selection marker"
	keys q
	i=0
	while [ ! -s "$tmp/rc2" ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
fi

if [ $fails -ne 0 ]; then
	echo "tui.sh: $fails check(s) failed"
	exit 1
fi
echo "tui.sh: all checks passed"
exit 0
