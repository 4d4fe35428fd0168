#!/bin/sh
# Build the benchmarks (RelWithDebInfo, its own build directory) and run
# them all; every figure is printed beside baselines measured in the same
# run. See docs/PERFORMANCE.md.
#
#   scripts/bench.sh [--quick] [-B builddir]
#
# Default ~3 min on 2 cores; --quick ~30 s (one short sample per figure).
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
ninja -C "$build" bench_ring bench_vm bench_control >/dev/null

echo "== $(uname -srm), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
# Host and guest log lines go to stderr; keep the tables readable.
"$build/bench/bench_ring" $quick 2>/dev/null
echo
"$build/bench/bench_vm" $quick 2>/dev/null
echo
"$build/bench/bench_control" $quick 2>/dev/null
