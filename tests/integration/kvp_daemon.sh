#!/usr/bin/env bash
# KVP through the unmodified Linux hv_kvp_daemon: the guest presents
# /dev/vmbus/hv_kvp through FUSE (-o kvp.fuse_dir), the daemon runs in a
# private mount namespace where that directory and a temporary
# /var/lib/hyperv are bound in place, and the host drives it with `vmbus ctl`.
set -u
vmbus=$1
daemon=/usr/sbin/hv_kvp_daemon
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || { echo "skip: no FUSE"; exit 77; }
[ -x $daemon ] || { echo "skip: no $daemon (Debian hyperv-daemons)"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "skip: no mount namespaces"; exit 77; }

d=$(mktemp -d /tmp/vmbus-kvpd.XXXXXX)
fail=0
vm=0
dpid=0
stop_daemon() {
	[ "$dpid" -gt 0 ] && kill -KILL "$dpid" 2>/dev/null && wait "$dpid" 2>/dev/null
	dpid=0
}
cleanup() {
	stop_daemon
	[ "$vm" -gt 0 ] && kill -INT "$vm" 2>/dev/null && wait "$vm"
	rm -rf "$d"
}
trap cleanup EXIT
check() { # description, command...
	local what=$1; shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
ctl() { timeout 20 "$vmbus" ctl --run-dir "$d/run" "$@"; }
start_daemon() { # the daemon sees only our FUSE directory and temporary pool files
	unshare -m --propagation private sh -c "
		mkdir -p /dev/vmbus /var/lib/hyperv &&
		mount --bind '$d/dev' /dev/vmbus &&
		mount --bind '$d/lib' /var/lib/hyperv &&
		exec $daemon -n" >>"$d/daemon.log" 2>&1 &
	dpid=$!
}
registered_count() { grep -c "hv_kvp: daemon registered" "$d/vm.log"; }

mkdir -p "$d/run" "$d/lib"
"$vmbus" run --run-dir "$d/run" -o kvp.pool_dir="$d/builtin" -o kvp.fuse_dir="$d/dev" \
	>"$d/vm.log" 2>&1 &
vm=$!
for _ in $(seq 100); do grep -q "VM running" "$d/vm.log" && break; sleep 0.1; done
grep -q "VM running" "$d/vm.log" || { cat "$d/vm.log"; exit 1; }
check "hv_kvp file present" test -f "$d/dev/hv_kvp"

start_daemon
for _ in $(seq 50); do [ "$(registered_count)" -ge 1 ] && break; sleep 0.1; done
check "daemon registered" test "$(registered_count)" -ge 1

check "set via daemon" ctl kvp set external color blue
check "daemon pool file written" grep -q blue "$d/lib/.kvp_pool_0"
check "built-in pool untouched" bash -c "! grep -q blue '$d/builtin/.kvp_pool_0'"
check "get via daemon" test "$(ctl kvp get external color)" = blue
check "set utf-8" ctl kvp set guest "ключ" "välüe ✓"
check "get utf-8" test "$(ctl kvp get guest "ключ")" = "välüe ✓"
check "set second" ctl kvp set external size 42
check "enumerate" test "$(ctl kvp enum external | tr '\n' ' ')" = "color=blue size=42 "
check "delete" ctl kvp delete external color
check "enumerate after delete" test "$(ctl kvp enum external)" = "size=42"
check "get missing fails" bash -c "! timeout 20 $vmbus ctl --run-dir $d/run kvp get external color"
# The daemon reports the driver version our registration answer carried.
check "auto pool from the daemon" bash -c "timeout 20 $vmbus ctl --run-dir $d/run kvp enum auto | grep -q '^IntegrationServicesVersion=3.1$'"

# The daemon goes away: the built-in handler answers again.
stop_daemon
sleep 0.3
check "after daemon exit: set falls back" ctl kvp set external after gone
check "after daemon exit: built-in pool used" grep -q gone "$d/builtin/.kvp_pool_0"
check "after daemon exit: daemon pool unchanged" bash -c "! grep -q gone '$d/lib/.kvp_pool_0'"

# A restarted daemon registers again and sees its pool files.
start_daemon
for _ in $(seq 50); do [ "$(registered_count)" -ge 2 ] && break; sleep 0.1; done
check "daemon re-registered" test "$(registered_count)" -ge 2
check "restarted daemon answers" test "$(ctl kvp get external size)" = 42

stop_daemon
[ $fail -eq 0 ] || { echo "--- vm log"; cat "$d/vm.log"; echo "--- daemon log"; cat "$d/daemon.log"; }
exit $fail
