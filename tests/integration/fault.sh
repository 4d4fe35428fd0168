#!/usr/bin/env bash
# Fault injection: kill -9 the guest or the host at a random moment while
# the test device streams echoes and a writer does write+fsync through the
# guest's FUSE export of LUN 0.
#   guest killed: the host goes back to its baseline (no open channel, no
#     GPADL, no mapping in `vmbus ctl stats`; the same fd count and memfd
#     mappings in /proc) and the next guest connects.
#   host killed: the guest exits by itself with status 3, and every block
#     whose fsync returned is in the image file; a new host and guest start.
# VMB_FAULT_ITERS sets the number of kills (default 4, about 15 s);
# VMB_FAULT_SEED replays a run.
set -euo pipefail
vmbus=$1
iters=${VMB_FAULT_ITERS:-4}
seed=${VMB_FAULT_SEED:-$$}
[ -c /dev/fuse ] || { echo "no /dev/fuse: skip"; exit 77; }
command -v fusermount3 >/dev/null || { echo "no fusermount3: skip"; exit 77; }
command -v python3 >/dev/null || { echo "no python3: skip"; exit 77; }
RANDOM=$seed
echo "fault: $iters iterations, VMB_FAULT_SEED=$seed"

dir=$(mktemp -d /tmp/vmbus-fault-XXXXXX)
hpid= gpid= wpid=
cleanup() {
	[ -n "$wpid" ] && kill -9 "$wpid" 2>/dev/null || true
	[ -n "$gpid" ] && kill -9 "$gpid" 2>/dev/null || true
	[ -n "$hpid" ] && kill -9 "$hpid" 2>/dev/null || true
	wait 2>/dev/null || true
	fusermount3 -uz "$dir/fuse" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL (iteration $i, VMB_FAULT_SEED=$seed): $*"
	for f in host guest; do echo "--- $f.log"; tail -8 "$dir/$f.log"; done
	exit 1
}

# The writer: block k of LUN 0 gets a pattern of (tag, k); after each fsync
# returns, the blocks it covered are appended to the log. Blocks are never
# rewritten within one tag, so a write in flight at the kill cannot be
# mistaken for an acknowledged one.
cat >"$dir/writer.py" <<'EOF'
import hashlib, os, sys
def block(tag, k):
    return hashlib.sha256(f"{tag}:{k}".encode()).digest() * 128
path, log, tag = sys.argv[1], sys.argv[2], sys.argv[4]
if sys.argv[3] == "write":
    lf = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        fd = os.open(path, os.O_RDWR)
        k, end = 0, os.fstat(fd).st_size // 4096
        while k + 4 <= end:
            for b in range(k, k + 4):
                os.pwrite(fd, block(tag, b), b * 4096)
            os.fsync(fd)
            os.write(lf, "".join(f"{b}\n" for b in range(k, k + 4)).encode())
            k += 4
    except OSError:
        pass  # the export went away under us: that is the point
else:
    acked = [int(x) for x in open(log)]
    with open(path, "rb") as f:
        for b in acked:
            f.seek(b * 4096)
            got = f.read(4096)
            if got != block(tag, b):
                old = [t for t in range(int(tag)) if got == block(t, b)]
                sys.exit(f"acknowledged block {b} lost: holds "
                         + (f"iteration {old[-1]}'s data" if old else "other data"))
    print(len(acked))
EOF

wait_for() { for _ in $(seq 300); do [ -e "$1" ] && return 0; sleep 0.05; done; return 1; }
ms_sleep() { sleep "$(printf '0.%03d' "$1")"; }
fds() { ls "/proc/$hpid/fd" | wc -l; }
memfds() { grep -c memfd "/proc/$hpid/maps" || true; }
stat_of() { "$vmbus" ctl --run-dir "$dir" stats | sed -n "s/^$1 //p"; }
no_sanitizer() {
	! grep -E 'Sanitizer|runtime error' "$1" || fail "sanitizer report in $1"
}

start_host() {
	rm -f "$dir/host.sock" "$dir/ctl.sock"
	"$vmbus" host --socket "$dir/host.sock" --ctl "$dir/ctl.sock" -o test.count=2 \
		-o "storage.disk=$dir/disk0.img,size=64M" >>"$dir/host.log" 2>&1 &
	hpid=$!
	wait_for "$dir/ctl.sock" || fail "host did not start"
	base_fds=$(fds)
	base_memfds=$(memfds)
}
start_guest() {
	"$vmbus" guest --socket "$dir/host.sock" -o test.traffic=1 \
		-o "storage.fuse_dir=$dir/fuse" >>"$dir/guest.log" 2>&1 &
	gpid=$!
}
# Start the writer once LUN 0 shows up; returns 1 if it never did.
start_writer() {
	wait_for "$dir/fuse/lun0" || return 1
	: >"$dir/acked"
	python3 "$dir/writer.py" "$dir/fuse/lun0" "$dir/acked" write "$i" &
	wpid=$!
}
stop_writer() {
	[ -n "$wpid" ] && { wait "$wpid" 2>/dev/null || true; }
	wpid=
	fusermount3 -uz "$dir/fuse" 2>/dev/null || true
}

# The host is back where it started once the guest is gone.
check_host_clean() {
	local open gpadls maps
	for _ in $(seq 100); do
		open=$(stat_of channels_open) gpadls=$(stat_of gpadls) maps=$(stat_of mappings)
		[ "$open/$gpadls/$maps/$(fds)/$(memfds)" = "0/0/0/$base_fds/$base_memfds" ] && return 0
		sleep 0.05
	done
	fail "host not clean: channels_open=$open gpadls=$gpadls mappings=$maps" \
		"fds=$(fds) (baseline $base_fds) memfd maps=$(memfds) (baseline $base_memfds)"
}

i=0 host_kills=0 guest_kills=0 early=0 unconnected=0 acked_total=0
start_host
for i in $(seq "$iters"); do
	# One draw per iteration: the low bits of consecutive $RANDOMs are
	# correlated.
	r=$((RANDOM * 32768 + RANDOM))
	n= note= phase=
	rm -f "$dir/acked"
	start_guest
	# One kill in three lands anywhere from connection setup on; the
	# others wait for storage I/O to be under way.
	if [ $((r % 3)) -eq 0 ]; then
		ms_sleep $((r / 6 % 1000))
		early=$((early + 1))
		wpid=
		phase=" during setup"
	else
		start_writer || fail "guest exported no LUN"
		for _ in $(seq 200); do [ -s "$dir/acked" ] && break; sleep 0.05; done
		[ -s "$dir/acked" ] || fail "no write acknowledged in 10 s"
		ms_sleep $((r / 6 % 1000))
	fi
	kill -0 "$gpid" 2>/dev/null || fail "guest died before the kill"
	if [ $((r / 3 % 2)) -eq 0 ]; then
		kill -9 "$gpid"
		wait "$gpid" 2>/dev/null || true
		gpid=
		stop_writer
		kill -0 "$hpid" 2>/dev/null || fail "host died with its guest"
		check_host_clean
		guest_kills=$((guest_kills + 1))
		note="guest killed$phase"
	else
		kill -9 "$hpid"
		wait "$hpid" 2>/dev/null || true
		hpid=
		for _ in $(seq 300); do kill -0 "$gpid" 2>/dev/null || break; sleep 0.05; done
		kill -0 "$gpid" 2>/dev/null && fail "guest still running 15 s after its host died"
		status=0
		wait "$gpid" || status=$?
		gpid=
		# A host killed in the middle of the guest's connect is a failed
		# start (status 1), not a lost host.
		if [ "$status" -eq 1 ] && tail -1 "$dir/guest.log" | grep -q 'cannot connect'; then
			unconnected=$((unconnected + 1))
		elif [ "$status" -ne 3 ]; then
			fail "guest exited with $status, not 3"
		fi
		stop_writer
		if [ -s "$dir/acked" ]; then
			n=$(python3 "$dir/writer.py" "$dir/disk0.img" "$dir/acked" verify "$i") ||
				fail "$n"
			acked_total=$((acked_total + n))
		fi
		host_kills=$((host_kills + 1))
		note="host killed$phase, ${n:-0} acknowledged blocks intact"
		start_host
	fi
	no_sanitizer "$dir/guest.log"
	no_sanitizer "$dir/host.log"
	[ -n "${VMB_FAULT_VERBOSE:-}" ] && echo "  $i: $note"
done

# A guest still connects, binds its devices and exports the disk.
start_guest
wait_for "$dir/fuse/lun0" || fail "last guest exported no LUN"
for _ in $(seq 100); do [ "$(stat_of channels_open)" -ge 3 ] && break; sleep 0.05; done
[ "$(stat_of channels_open)" -ge 3 ] || fail "last guest opened $(stat_of channels_open) channels"
kill -INT "$gpid"
wait "$gpid" || fail "last guest exited with $?"
gpid=
fusermount3 -uz "$dir/fuse" 2>/dev/null || true
check_host_clean
kill -INT "$hpid"
wait "$hpid" || fail "host exited with $?"
hpid=
no_sanitizer "$dir/guest.log"
no_sanitizer "$dir/host.log"
echo "fault: ok: $guest_kills guest kills, $host_kills host kills; $early kills during setup" \
	"($unconnected before the guest connected); $acked_total acknowledged blocks checked in the image"
