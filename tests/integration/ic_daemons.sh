#!/usr/bin/env bash
# VSS and file copy through the unmodified Linux hv_vss_daemon and
# hv_fcopy_daemon: the guest presents /dev/vmbus/hv_{kvp,vss,fcopy} in one
# FUSE directory (-o ic.fuse_dir), each daemon runs in a private mount
# namespace where that directory is bound on /dev/vmbus, and the host
# drives them with `vmbus ctl`.
#
# hv_vss_daemon freezes every /dev/* file system it finds in /proc/mounts:
# its namespace gets a tmpfs /proc whose mounts file lists none, so FREEZE
# touches nothing. If that cannot be set up, the daemon is not started.
set -u
vmbus=$1
vssd=/usr/sbin/hv_vss_daemon
fcopyd=/usr/sbin/hv_fcopy_daemon
[ -e /dev/fuse ] && command -v fusermount3 >/dev/null || { echo "skip: no FUSE"; exit 77; }
[ -x $vssd ] && [ -x $fcopyd ] || { echo "skip: no $vssd / $fcopyd (Debian hyperv-daemons)"; exit 77; }
unshare -m --propagation private true 2>/dev/null || { echo "skip: no mount namespaces"; exit 77; }

d=$(mktemp -d /tmp/vmbus-icd.XXXXXX)
fail=0
vm=0
vpid=0
fpid=0
kill_pid() { [ "$1" -gt 0 ] && kill -KILL "$1" 2>/dev/null && wait "$1" 2>/dev/null; }
cleanup() {
	kill_pid $vpid
	kill_pid $fpid
	[ "$vm" -gt 0 ] && kill -INT "$vm" 2>/dev/null && wait "$vm"
	rm -rf "$d"
}
trap cleanup EXIT
check() { # description, command...
	local what=$1; shift
	if "$@"; then echo "ok   $what"; else echo "FAIL $what"; fail=1; fi
}
ctl() { timeout 20 "$vmbus" ctl --run-dir "$d/run" "$@"; }
start_vssd() {
	unshare -m --propagation private sh -c "
		mkdir -p /dev/vmbus && mount --bind '$d/dev' /dev/vmbus &&
		mount -t tmpfs none /proc && echo 'none / tmpfs rw 0 0' >/proc/mounts &&
		exec $vssd -n" >>"$d/vssd.log" 2>&1 &
	vpid=$!
}
start_fcopyd() {
	unshare -m --propagation private sh -c "
		mkdir -p /dev/vmbus && mount --bind '$d/dev' /dev/vmbus &&
		exec $fcopyd -n" >>"$d/fcopyd.log" 2>&1 &
	fpid=$!
}
registered() { grep -c "$1: daemon registered" "$d/vm.log"; }
wait_registered() { # file, count
	for _ in $(seq 50); do [ "$(registered "$1")" -ge "$2" ] && return 0; sleep 0.1; done
	return 1
}

mkdir -p "$d/run" "$d/out/sub"
head -c 20000 /dev/urandom >"$d/src.bin"
"$vmbus" run --run-dir "$d/run" -o ic.fuse_dir="$d/dev" -o fcopy.root="$d/builtin" \
	-o vss.freeze_cmd="touch $d/hook-ran" >"$d/vm.log" 2>&1 &
vm=$!
for _ in $(seq 100); do grep -q "VM running" "$d/vm.log" && break; sleep 0.1; done
grep -q "VM running" "$d/vm.log" || { cat "$d/vm.log"; exit 1; }
check "one directory holds hv_kvp hv_vss hv_fcopy" \
	test "$(ls "$d/dev" | tr '\n' ' ')" = "hv_fcopy hv_kvp hv_vss "

# VSS
start_vssd
check "vss daemon registered" wait_registered hv_vss 1
check "freeze via daemon" test "$(ctl vss freeze)" = "vss freeze: ok"
check "thaw via daemon" test "$(ctl vss thaw)" = "vss thaw: ok"
check "hot backup via daemon" test "$(ctl vss check)" = "vss check: ok, flags 0x5"
check "the built-in hook did not run" test ! -e "$d/hook-ran"
kill_pid $vpid
vpid=0
sleep 0.3
check "vss daemon gone: the hook answers" test "$(ctl vss freeze)" = "vss freeze: ok"
check "vss daemon gone: the hook ran" test -e "$d/hook-ran"
start_vssd
check "vss daemon re-registered" wait_registered hv_vss 2
rm -f "$d/hook-ran"
check "restarted vss daemon answers" test "$(ctl vss freeze)" = "vss freeze: ok"
check "restarted vss daemon: no hook" test ! -e "$d/hook-ran"

# fcopy. The daemon creates the missing directories of the path but its
# last component, so the test copies into an existing directory.
start_fcopyd
check "fcopy daemon registered" wait_registered hv_fcopy 1
check "copy via daemon" ctl copy "$d/src.bin" "$d/out/sub/file.bin"
check "daemon wrote the file" cmp -s "$d/src.bin" "$d/out/sub/file.bin"
check "built-in root untouched" test ! -e "$d/builtin/$d/out/sub/file.bin"
check "existing file refused" bash -c "! timeout 20 $vmbus ctl --run-dir $d/run copy $d/src.bin $d/out/sub/file.bin 2>&1 | grep -q ': ok'"
check "overwrite" ctl copy /etc/hostname "$d/out/sub/file.bin" --overwrite
check "overwritten" cmp -s /etc/hostname "$d/out/sub/file.bin"
kill_pid $fpid
fpid=0
sleep 0.3
check "fcopy daemon gone: root answers" ctl copy /etc/hostname /after --create-path
check "fcopy daemon gone: file in root" cmp -s /etc/hostname "$d/builtin/after"
start_fcopyd
check "fcopy daemon re-registered" wait_registered hv_fcopy 2
check "restarted fcopy daemon copies" ctl copy /etc/hostname "$d/out/again"
check "restarted fcopy daemon wrote" cmp -s /etc/hostname "$d/out/again"

[ $fail -eq 0 ] || { echo "--- vm log"; cat "$d/vm.log"; echo "--- vssd"; cat "$d/vssd.log";
	echo "--- fcopyd"; cat "$d/fcopyd.log"; }
exit $fail
