#!/usr/bin/env bash
# KVP, VSS and fcopy end to end: a real `vmbus run`, driven with `vmbus ctl`.
set -u
vmbus=$1
d=$(mktemp -d /tmp/vmbus-icb.XXXXXX)
fail=0
vm=0
cleanup() {
	[ "$vm" -gt 0 ] && kill -INT "$vm" 2>/dev/null && wait "$vm"
	rm -rf "$d"
}
trap cleanup EXIT
check() { # description, command...
	local what=$1; shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
ctl() { "$vmbus" ctl --run-dir "$d/run" "$@"; }

mkdir -p "$d/run" "$d/outside"
"$vmbus" run --run-dir "$d/run" -o kvp.pool_dir="$d/kvp" -o fcopy.root="$d/root" \
	-o vss.freeze_cmd="touch $d/frozen" -o vss.thaw_cmd="rm $d/frozen" \
	-o vss.timeout_ms=2000 >"$d/vm.log" 2>&1 &
vm=$!
for _ in $(seq 100); do grep -q "VM running" "$d/vm.log" && break; sleep 0.1; done
grep -q "VM running" "$d/vm.log" || { cat "$d/vm.log"; exit 1; }

# KVP round trips, in every writable pool, with non-ASCII text.
check "kvp set"    ctl kvp set external color blue
check "kvp get"    test "$(ctl kvp get external color)" = blue
check "kvp update" ctl kvp set external color green
check "kvp get updated" test "$(ctl kvp get external color)" = green
check "kvp set guest utf-8" ctl kvp set guest "ключ" "välüe ✓"
check "kvp get guest utf-8" test "$(ctl kvp get guest "ключ")" = "välüe ✓"
check "kvp set pool 4" ctl kvp set 4 a 1
check "kvp set pool 4 b" ctl kvp set auto_internal b 2
check "kvp enum" test "$(ctl kvp enum 4 | tr '\n' ' ')" = "a=1 b=2 "
check "kvp pool file is the daemon format" test "$(stat -c %s "$d/kvp/.kvp_pool_4")" = 5120
check "kvp delete" ctl kvp delete 4 a
check "kvp enum after delete" test "$(ctl kvp enum 4)" = "b=2"
check "kvp get missing fails" bash -c "! $vmbus ctl --run-dir $d/run kvp get external nope"
check "kvp delete missing fails" bash -c "! $vmbus ctl --run-dir $d/run kvp delete 4 a"
check "kvp auto pool" bash -c "$vmbus ctl --run-dir $d/run kvp enum auto | grep -q '^OSName=Linux$'"
check "kvp auto get" test "$(ctl kvp get auto ProcessorArchitecture)" = "$(uname -m)"
check "kvp set into auto refused" bash -c "! $vmbus ctl --run-dir $d/run kvp set auto x y"

# VSS: hooks run, a failing hook is a failure status.
check "vss check" bash -c "$vmbus ctl --run-dir $d/run vss check | grep -q 'flags 0x5'"
check "vss freeze" ctl vss freeze
check "freeze hook ran" test -e "$d/frozen"
check "vss thaw" ctl vss thaw
check "thaw hook ran" test ! -e "$d/frozen"
check "vss thaw with failing hook" bash -c "! $vmbus ctl --run-dir $d/run vss thaw"

# fcopy: content, exists, overwrite, escapes, cancel.
head -c 100000 /dev/urandom >"$d/src.bin"
check "copy" ctl copy "$d/src.bin" /in/file.bin --create-path
check "copy content" cmp "$d/src.bin" "$d/root/in/file.bin"
check "copy exists refused" bash -c "$vmbus ctl --run-dir $d/run copy $d/src.bin /in/file.bin | grep -q 'already exists'"
echo small >"$d/small"
check "copy overwrite" ctl copy "$d/small" /in/file.bin --overwrite
check "overwritten" cmp "$d/small" "$d/root/in/file.bin"
check "dotdot refused" bash -c "! $vmbus ctl --run-dir $d/run copy $d/small ../outside/x"
check "dotdot inside refused" bash -c "! $vmbus ctl --run-dir $d/run copy $d/small /in/../../outside/x --create-path"
ln -s "$d/outside" "$d/root/link"
check "symlink refused" bash -c "! $vmbus ctl --run-dir $d/run copy $d/small /link/x"
check "nothing escaped" test -z "$(ls -A "$d/outside")"
check "cancel" bash -c "$vmbus ctl --run-dir $d/run copy $d/src.bin /in/cancelled --cancel-after 3 | grep -q cancelled"
check "no partial file after cancel" test -z "$(ls -A "$d/root/in" | grep -v '^file.bin$')"
check "copy after cancel" ctl copy "$d/src.bin" /second.bin
check "second content" cmp "$d/src.bin" "$d/root/second.bin"

kill -INT "$vm"
wait "$vm"
check "vm exits cleanly" test $? -eq 0
vm=0
exit $fail
