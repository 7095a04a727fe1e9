#!/bin/sh
# bootstrap.sh: set up a fresh Debian 12 machine, build pinspect, then either
# analyse the bundled sample capture (default) or run the whole test suite.
#
#   sh bootstrap.sh          install, build, run `pinspect analyze` on the sample
#   sh bootstrap.sh check    install, build, run `make check` (unit, regression,
#                            malformed input, conformance, ASan+UBSan build)
#
# Needs root (or sudo) for apt-get; skips installing what is already there.
set -eu
cd "$(dirname "$0")"
what=${1:-demo}

BUILD_DEPS="build-essential autoconf automake pkg-config libpcap-dev libndpi-dev libssl-dev
libncurses-dev libpsl-dev libarchive-dev zlib1g-dev libjansson-dev libcsv-dev"
TEST_DEPS="python3 openssl curl iproute2 tmux nftables clang libclang-rt-14-dev valgrind squid-openssl mitmproxy"

missing=""
for p in $BUILD_DEPS $([ "$what" = check ] && echo "$TEST_DEPS"); do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
	SUDO=""
	[ "$(id -u)" = 0 ] || SUDO=sudo
	echo "bootstrap: installing:$missing" >&2
	$SUDO apt-get update -qq
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $missing >/dev/null
fi

[ -x configure ] || autoreconf -fi >/dev/null
[ -f Makefile ] || ./configure --quiet
make -j"$(nproc)" >/dev/null

case "$what" in
demo)
	./pinspect analyze
	;;
check)
	make -j"$(nproc)" check
	;;
*)
	echo "usage: sh bootstrap.sh [check]" >&2
	exit 2
	;;
esac
