#!/usr/bin/env bash
# The test command: build with -Werror and run every unit, integration and
# fuzz-corpus test; then the same tests under ASan+UBSan, the threaded
# tests under TSan, and a short libFuzzer pass over every fuzz target
# (skip all three with --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset ci >/dev/null
cmake --build --preset ci
ctest --preset ci -j2
[ "${1:-}" = "--quick" ] && exit 0

cmake --preset asan >/dev/null
cmake --build --preset asan
ctest --preset asan -j2

# TSan: the ring, channel and partition stress tests and the integration
# tests with the most threads. Left out: test_partition_clock (it judges
# timer lateness, which TSan's slowdown makes meaningless; it times out)
# and the rest of the integration suite (covered by ASan; kept out to hold
# CI time down).
tsan_tests='^unit/test_(ring|chan|partition)$|^integration/it_(versions|hotplug)$'
cmake --preset tsan >/dev/null
cmake --build --preset tsan --target test_ring test_chan test_partition it_versions it_hotplug \
	vmbus_tool
TSAN_OPTIONS=halt_on_error=1 \
	ctest --preset tsan -j2 -R "$tsan_tests"

# Fuzz smoke: every fuzz_* target for a few seconds over its corpus; any
# crash fails (scripts/fuzz.sh exits non-zero).
VMB_FUZZ_BUILD=$PWD/build/fuzz scripts/fuzz.sh "${VMB_FUZZ_SMOKE_SECONDS:-5}"
