#!/usr/bin/env bash
# The test command: build with -Werror and run every unit, integration and
# fuzz-corpus test; then the same tests under ASan+UBSan (skip with --quick).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset ci >/dev/null
cmake --build --preset ci
ctest --preset ci -j2
if [ "${1:-}" != "--quick" ]; then
	cmake --preset asan >/dev/null
	cmake --build --preset asan
	ctest --preset asan -j2
fi
