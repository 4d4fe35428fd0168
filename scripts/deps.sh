#!/usr/bin/env bash
# Install the Debian packages vmbus builds and tests with (idempotent).
set -euo pipefail
pkgs=(build-essential cmake ninja-build pkg-config clang libcmocka-dev liburing-dev
      libfuse3-dev fuse3 e2fsprogs iproute2 hyperv-daemons)
missing=()
for p in "${pkgs[@]}"; do
	dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
