#!/usr/bin/env bash
# `vmbus ctl disk` against `vmbus run` with real processes: add (--lun,
# --size, --ro, lowest free LUN), list, remove; the guest sees each LUN
# appear and disappear in its FUSE export, a read-only LUN refuses writes
# and the image stays untouched; misuse is refused without side effects.
set -uo pipefail
vmbus=$1
[ -c /dev/fuse ] || { echo "no /dev/fuse: skip"; exit 77; }
command -v fusermount3 >/dev/null || { echo "no fusermount3: skip"; exit 77; }
dir=$(mktemp -d /tmp/vmbus-storctl.XXXXXX)
pid=
cleanup() {
	[ -n "$pid" ] && kill -INT "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	fusermount3 -uz "$dir/fuse" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	cat "$dir/run.log"
	exit 1
}
ctl() { "$vmbus" ctl --run-dir "$dir" "$@" 2>&1; }
# The command must fail; its output must match a pattern.
refused() {
	local want=$1 out
	shift
	out=$(ctl "$@") && fail "'$*' accepted: $out"
	echo "$out" | grep -q "$want" || fail "'$*': '$out' lacks '$want'"
}
wait_file() { for _ in $(seq 100); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_gone() { for _ in $(seq 100); do [ -e "$1" ] || return 0; sleep 0.1; done; return 1; }

"$vmbus" run --run-dir "$dir" -o "storage.disk=$dir/d0.img,size=8M" \
	-o "storage.fuse_dir=$dir/fuse" >"$dir/run.log" 2>&1 &
pid=$!
for _ in $(seq 150); do grep -q "VM running" "$dir/run.log" && break; sleep 0.1; done
grep -q "VM running" "$dir/run.log" || fail "VM did not start"
if ! wait_file "$dir/fuse/lun0"; then
	grep -q "FUSE export" "$dir/run.log" && { echo "FUSE mount refused: skip"; exit 77; }
	fail "LUN 0 not exported"
fi
# The sysfs tree is refreshed asynchronously (and probe is slow under ASan).
# (Capture first: under pipefail, grep -q quitting early can SIGPIPE a
# multi-write `ls --json` and fail the pipeline.)
bound() { local j; j=$("$vmbus" ls --run-dir "$dir" --json) && grep -q '"driver": "storvsc"' <<<"$j"; }
for _ in $(seq 100); do bound && break; sleep 0.1; done
bound || fail "storvsc not bound"
[ "$(ctl disk list)" = "lun 0 size 8388608 rw $dir/d0.img" ] || fail "list: $(ctl disk list)"

# Add at a chosen LUN with a size: the guest sees exactly that capacity.
[ "$(ctl disk add "$dir/a.img" --lun 5 --size 4M)" = "lun 5" ] || fail "add --lun 5"
wait_file "$dir/fuse/lun5" || fail "guest did not see LUN 5"
[ "$(stat -c %s "$dir/fuse/lun5")" = 4194304 ] || fail "LUN 5 size $(stat -c %s "$dir/fuse/lun5")"
ctl disk list | grep -qx "lun 5 size 4194304 rw $dir/a.img" || fail "list after add"
printf 'guest data' | dd of="$dir/fuse/lun5" bs=512 seek=3 conv=notrunc,fsync status=none ||
	fail "write to LUN 5"
[ "$(dd if="$dir/a.img" bs=512 skip=3 count=1 status=none | head -c 10)" = "guest data" ] ||
	fail "LUN 5 write not in the image"

# Without --lun: the lowest free LUN.
[ "$(ctl disk add "$dir/b.img" --size 1M)" = "lun 1" ] || fail "add without --lun"
wait_file "$dir/fuse/lun1" || fail "guest did not see LUN 1"

# Read-only: readable, writes refused by the device, image unchanged.
head -c 65536 /dev/urandom >"$dir/ro.img"
cp "$dir/ro.img" "$dir/ro.orig"
[ "$(ctl disk add "$dir/ro.img" --lun 7 --ro)" = "lun 7" ] || fail "add --ro"
wait_file "$dir/fuse/lun7" || fail "guest did not see LUN 7"
ctl disk list | grep -qx "lun 7 size 65536 ro $dir/ro.img" || fail "list ro"
cmp "$dir/fuse/lun7" "$dir/ro.orig" || fail "read of the ro LUN"
dd if=/dev/zero of="$dir/fuse/lun7" bs=4096 count=1 conv=notrunc,fsync status=none 2>/dev/null &&
	fail "write to a read-only LUN succeeded"
cmp "$dir/ro.img" "$dir/ro.orig" || fail "read-only image modified"

# Misuse: nothing changes.
refused "File exists" disk add "$dir/c.img" --lun 5 --size 1M
refused "image in use" disk add "$dir/d0.img" # locked by LUN 0
refused "Invalid argument" disk add "$dir/c.img" --lun 256 --size 1M
refused "Invalid argument" disk add "$dir/c.img" --lun 2x --size 1M
refused "Invalid argument" disk add "$dir/c.img" --size 12Q
refused "unknown option" disk add "$dir/c.img" --bogus
refused "No such file" disk add "$dir/missing.img"
refused "No such file" disk remove 9
refused "Invalid argument" disk remove 5x
refused "Invalid argument" disk remove ""
refused "usage" disk frobnicate
[ "$(ctl disk list | wc -l)" = 4 ] || fail "misuse changed the LUN set: $(ctl disk list)"

# Remove: the guest loses the LUN, the others stay.
for lun in 5 1 7; do
	ctl disk remove "$lun" >/dev/null || fail "remove $lun"
	wait_gone "$dir/fuse/lun$lun" || fail "guest still sees LUN $lun"
done
[ "$(ctl disk list)" = "lun 0 size 8388608 rw $dir/d0.img" ] || fail "list after remove"
[ -e "$dir/fuse/lun0" ] || fail "LUN 0 gone"

# A removed image is released: it can be attached again.
[ "$(ctl disk add "$dir/a.img" --lun 2)" = "lun 2" ] || fail "re-add"
wait_file "$dir/fuse/lun2" || fail "guest did not see LUN 2"
[ "$(dd if="$dir/fuse/lun2" bs=512 skip=3 count=1 status=none | head -c 10)" = "guest data" ] ||
	fail "re-added LUN lost its data"

kill -INT "$pid"
wait "$pid" || fail "vmbus run exit status $?"
pid=
echo "storage_ctl: ok"
