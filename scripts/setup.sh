#!/usr/bin/env bash
# Set up: install dependencies and build the dev preset (build/dev/vmbus).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake --preset dev >/dev/null
cmake --build --preset dev
