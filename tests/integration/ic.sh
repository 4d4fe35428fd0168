#!/bin/bash
# Integration services with real host and guest processes:
#   heartbeat alive, then "missing" within the timeout once the guest is killed;
#   time-sync offset exposed by the guest and close to 0 on one machine;
#   a refused shutdown reported by `vmbus ctl shutdown`;
#   an accepted shutdown makes `vmbus guest` exit 0 after UNLOAD.
set -u
vmbus=$1
dir=$(mktemp -d /tmp/vmbus-ic.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	for f in "$dir"/*.log; do echo "== $f"; cat "$f"; done
	exit 1
}

start_host() { # name, extra options...
	local n=$1
	shift
	# No disk: the default image lives in the shared default run directory.
	"$vmbus" host --socket "$dir/$n.sock" --ctl "$dir/$n.ctl" -o storage.disk=none "$@" \
		>"$dir/$n-host.log" 2>&1 &
	host_pid=$!
	pids+=("$host_pid")
	for _ in $(seq 100); do [ -S "$dir/$n.ctl" ] && [ -S "$dir/$n.sock" ] && return; sleep 0.05; done
	fail "host $n did not start"
}

start_guest() { # name, extra options...
	local n=$1
	shift
	"$vmbus" guest --socket "$dir/$n.sock" "$@" >"$dir/$n-guest.log" 2>&1 &
	guest_pid=$!
	pids+=("$guest_pid")
}

# `vmbus ctl` finds the socket through --run-dir: give each VM its own.
ctl_vm() {
	local n=$1
	shift
	mkdir -p "$dir/$n.run"
	ln -sf "$dir/$n.ctl" "$dir/$n.run/ctl.sock"
	"$vmbus" ctl --run-dir "$dir/$n.run" "$@" 2>&1
}

wait_hb() { # name, state, seconds
	for _ in $(seq $(($3 * 10))); do
		ctl_vm "$1" heartbeat | grep -q "^state $2" && return 0
		sleep 0.1
	done
	return 1
}

# ---- VM a: shutdown refused, time sync, heartbeat liveness ----
start_host a -o heartbeat.period_ms=200 -o heartbeat.timeout_ms=1500 -o timesync.period_ms=300
start_guest a -o shutdown.allow=0 -o timesync.state="$dir/ts"
guest_a=$guest_pid

wait_hb a alive 10 || fail "heartbeat never alive: $(ctl_vm a heartbeat)"

for _ in $(seq 50); do [ -f "$dir/ts" ] && break; sleep 0.1; done
sleep 1 # a few periodic samples
read -r offset samples flags <"$dir/ts" || fail "no time-sync state file"
[ "$samples" -ge 2 ] || fail "only $samples time-sync samples"
[ "${offset#-}" -lt 5000000 ] || fail "time-sync offset $offset ns is not within 5 ms"
grep -q "timesync: host clock sync" "$dir/a-guest.log" || fail "no SYNC sample seen"

out=$(ctl_vm a shutdown)
rc=$?
[ $rc -ne 0 ] || fail "refused shutdown reported success: $out"
echo "$out" | grep -q "refused by the guest (status 0x80004005)" || fail "ctl said: $out"
kill -0 "$guest_a" 2>/dev/null || fail "guest exited after refusing"

kill -9 "$guest_a"
start=$(date +%s%N)
wait_hb a missing 5 || fail "heartbeat never reported missing: $(ctl_vm a heartbeat)"
ms=$((($(date +%s%N) - start) / 1000000))
# Reported by the host within the timeout; polling through `vmbus ctl` adds its own delay.
[ "$ms" -le 4000 ] || fail "missing reported after $ms ms (timeout 1500)"
# The event is logged by the host's next heartbeat tick, which may come a
# period after `vmbus ctl heartbeat` already computes "missing".
for _ in $(seq 50); do grep -q "heartbeat: guest missing" "$dir/a-host.log" && break; sleep 0.1; done
grep -q "heartbeat: guest missing" "$dir/a-host.log" || fail "no missing event in the host log"
# Once per change: one "missing" after the last "alive" (a slow start may add an earlier pair).
n=$(awk '/heartbeat: guest alive/ {n = 0} /heartbeat: guest missing/ {n++} END {print n}' "$dir/a-host.log")
[ "$n" -eq 1 ] || fail "missing logged $n times"

# One VM at a time: other devices may hold host-wide resources.
host_a=$host_pid
kill -TERM "$host_a"
wait "$host_a" 2>/dev/null

# ---- VM b: shutdown accepted, guest exits cleanly ----
start_host b
start_guest b
guest_b=$guest_pid
wait_hb b alive 10 || fail "VM b heartbeat never alive"
out=$(ctl_vm b shutdown --force)
[ $? -eq 0 ] || fail "shutdown failed: $out"
echo "$out" | grep -q "shutdown accepted" || fail "ctl said: $out"
for _ in $(seq 100); do kill -0 "$guest_b" 2>/dev/null || break; sleep 0.1; done
wait "$guest_b"
rc=$?
[ $rc -eq 0 ] || fail "guest exit status $rc"
# UNLOAD: the host closes the connection before the transport goes away
# (a vanished guest gives the opposite order).
closed=$(grep -n "guest connection closed" "$dir/b-host.log" | head -1 | cut -d: -f1)
gone=$(grep -n "guest disconnected" "$dir/b-host.log" | head -1 | cut -d: -f1)
[ -n "$closed" ] && { [ -z "$gone" ] || [ "$closed" -lt "$gone" ]; } ||
	fail "no UNLOAD seen by the host"
grep -q "shutdown: shutdown requested by the host (flags 0x1)" "$dir/b-guest.log" ||
	fail "guest did not log the request"
echo "ok"
