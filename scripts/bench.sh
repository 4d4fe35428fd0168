#!/bin/sh
# Build the benchmarks (RelWithDebInfo, its own build directory) and run
# them all; every figure is printed beside baselines measured in the same
# run. See docs/PERFORMANCE.md.
#
#   scripts/bench.sh [--quick] [-B builddir]
#
# Default ~4 min on 2 cores; --quick ~1 min (one short sample per figure).
# Benchmarks that need what the machine lacks (root, /dev/net/tun) say so
# and are skipped.
set -eu

here=$(cd "$(dirname "$0")/.." && pwd)
build="$here/build/bench"
quick=
while [ $# -gt 0 ]; do
	case "$1" in
	--quick) quick=--quick ;;
	-B) build="$2"; shift ;;
	*) echo "usage: $0 [--quick] [-B builddir]" >&2; exit 2 ;;
	esac
	shift
done

cmake -S "$here" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
benches=$(ninja -C "$build" -t targets all | sed -n 's/^\(bench_[a-z0-9_]*\): phony$/\1/p')
# shellcheck disable=SC2086
ninja -C "$build" $benches >/dev/null

echo "== $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Host and guest log lines go to stderr; keep the tables readable.
"$build/bench/bench_ring" $quick 2>/dev/null
echo
"$build/bench/bench_vm" $quick 2>/dev/null
echo
"$build/bench/bench_control" $quick 2>/dev/null
echo
if [ -n "$quick" ]; then
	"$build/bench/bench_storage" 1 2>/dev/null
	echo
	"$build/bench/bench_clock" 2 200 2>/dev/null
else
	"$build/bench/bench_storage" 2 2>/dev/null
	echo
	"$build/bench/bench_clock" 10 1000 2>/dev/null
fi
echo
# Needs root and /dev/net/tun: without them it skips (exit 77).
"$build/bench/bench_net" $quick 2>/dev/null || {
	[ $? -eq 77 ] && echo "bench_net: needs root and /dev/net/tun; skipped"
}
