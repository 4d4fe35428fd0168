#!/bin/sh
# Build the fuzz preset (clang libFuzzer) and run every fuzz_* harness for
# SECONDS each (default 60), starting from its committed seed corpus.
# Only the fuzz targets are built. VMB_FUZZ_BUILD overrides the build
# directory (default build/fuzz). New inputs go to <build>/corpus/<name>/,
# crashes to <build>/crashes/; copy interesting ones into
# tests/fuzz/corpus/<name>/ by hand.
set -eu

seconds=${1:-60}
root=$(cd "$(dirname "$0")/.." && pwd)
build=${VMB_FUZZ_BUILD:-$root/build/fuzz}

cd "$root"
cmake --preset fuzz -B "$build" >/dev/null
targets=$(ninja -C "$build" -t targets all | sed -n 's/^\(fuzz_[a-z0-9_]*\): phony$/\1/p')
[ -n "$targets" ] || { echo "no fuzz targets" >&2; exit 1; }
# shellcheck disable=SC2086
ninja -C "$build" $targets

status=0
mkdir -p "$build/crashes"
for bin in "$build"/tests/fuzz/fuzz_*; do
	[ -x "$bin" ] || continue
	target=$(basename "$bin")
	name=${target#fuzz_}
	work=$build/corpus/$name
	seeds=$root/tests/fuzz/corpus/$name
	mkdir -p "$work"
	[ -d "$seeds" ] || seeds=
	log=$build/$target.log
	echo "== $target: ${seconds}s"
	if ! "$bin" -max_total_time="$seconds" -print_final_stats=1 \
		-artifact_prefix="$build/crashes/$name-" "$work" $seeds >"$log" 2>&1; then
		echo "   FAILED (see $log)"
		status=1
	fi
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log")
	added=$(sed -n 's/^stat::new_units_added: *//p' "$log")
	echo "   ${execs:-?} execs (${rate:-?}/s), ${added:-?} new inputs"
done
exit $status
