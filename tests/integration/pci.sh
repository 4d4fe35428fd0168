#!/bin/sh
# VPCI end to end: the default emulated function shows up in the guest's
# list, a hot-added 1af4:1000 appears beside it, and `pci remove 1` makes
# it disappear once the guest completed the eject. The guest falls back
# to the host's newest version (1.3: BUS_RELATIONS2, CREATE_INTERRUPT2).
vmbus=$1
dir=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
list=$dir/pci.list
# The host stops at 1.3: the guest asks 1.4 first, is refused, falls back.
"$vmbus" run --run-dir "$dir" -o net.enable=0 -o pci.host_version=0x10003 -o pci.list="$list" \
	>"$dir/out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "VM running" "$dir/out" && break; sleep 0.2; done
grep -q "VM running" "$dir/out" || { cat "$dir/out"; exit 1; }
ctl() { "$vmbus" ctl --run-dir "$dir" "$@"; }
wait_list() { # PATTERN present(1)/absent(0)
	for i in $(seq 50); do
		if grep -q "$1" "$list" 2>/dev/null; then [ "$2" = 1 ] && return 0
		else [ "$2" = 0 ] && return 0; fi
		sleep 0.1
	done
	echo "list: '$1' should be $([ "$2" = 1 ] && echo present || echo absent)"; cat "$list"
	exit 1
}
wait_list "^00:00.0 1b36:0005 00ff00 01 bar0=0x[0-9a-f]*+0x1000,bar2=0x[0-9a-f]*+0x4000 msi=0xfee" 1
ctl pci | grep -q "^0 1b36:0005 class 00ff00 resourced interrupts 1" || { ctl pci; exit 1; }
ctl pci | grep -q "version 1.3, D0" || { ctl pci; exit 1; }
ctl pci add 1af4:1000 020000 | grep -q "slot 1 1af4:1000 added" || exit 1
wait_list "^01:00.0 1af4:1000 020000" 1
ctl pci add 1af4 >/dev/null 2>&1 && { echo "bad id accepted"; exit 1; }
ctl pci remove 1 | grep -q "slot 1 ejected" || exit 1
wait_list "1af4:1000" 0
wait_list "1b36:0005" 1
ctl pci | grep -q "^1 " && { echo "slot 1 still on the host"; ctl pci; exit 1; }
ctl pci remove 7 >/dev/null 2>&1 && { echo "removed an empty slot"; exit 1; }
exit 0
