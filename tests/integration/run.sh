#!/usr/bin/env bash
# `vmbus run` brings up a VM whose guest binds the test device; `vmbus ls`
# shows it (text and JSON).
set -euo pipefail
vmbus=$1
dir=$(mktemp -d /tmp/vmbus-run-XXXXXX)
pid=
# A failing check must not leave the background VM running.
trap '[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid"; rm -rf "$dir"' EXIT
out=$("$vmbus" run --run-dir "$dir" --exit-when-ready 2>"$dir/log") || { cat "$dir/log"; exit 1; }
echo "$out"
grep -q "vmbus test device" <<<"$out"
grep -q "Driver = vmbus_test" <<<"$out"
grep -q "Rel_ID=[0-9]*, target_cpu=0" <<<"$out"
# Keep one up in the background and ask ls from outside.
"$vmbus" run --run-dir "$dir" >"$dir/run.out" 2>"$dir/run.log" &
pid=$!
for _ in $(seq 100); do grep -q "VM running" "$dir/run.out" 2>/dev/null && break; sleep 0.1; done
json=$("$vmbus" ls --run-dir "$dir" --json)
echo "$json"
grep -q '"driver": "vmbus_test"' <<<"$json"
"$vmbus" ls --run-dir "$dir" -v | grep -q "read_avail="
"$vmbus" ctl --run-dir "$dir" help | grep -q "^stats"
"$vmbus" ctl --run-dir "$dir" stats | grep -Eq "^channels_open [1-9][0-9]*$"
if "$vmbus" ctl --run-dir "$dir" no-such-command 2>/dev/null; then exit 1; fi
kill -INT $pid
wait $pid
pid=
echo "vmbus run: ok"
