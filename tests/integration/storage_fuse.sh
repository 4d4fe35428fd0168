#!/usr/bin/env bash
# storvsc end to end with real processes: the guest exports its LUNs through
# FUSE; mkfs.ext4 + e2fsck on it, random writes verified after a guest
# restart, flushed writes surviving kill -9 of the host (checked in the
# image file), LUN hot add/remove while another LUN is busy.
set -euo pipefail
vmbus=$1
[ -c /dev/fuse ] || { echo "no /dev/fuse: skip"; exit 77; }
command -v fusermount3 >/dev/null || { echo "no fusermount3: skip"; exit 77; }
command -v python3 >/dev/null || { echo "no python3: skip"; exit 77; }
dir=$(mktemp -d /tmp/vmbus-storage-XXXXXX)
hpid= gpid=
cleanup() {
	[ -n "$gpid" ] && kill -INT "$gpid" 2>/dev/null && wait "$gpid" 2>/dev/null || true
	[ -n "$hpid" ] && kill -INT "$hpid" 2>/dev/null && wait "$hpid" 2>/dev/null || true
	fusermount3 -uz "$dir/fuse" 2>/dev/null || true
	rm -rf "$dir"
}
trap cleanup EXIT

start_host() {
	"$vmbus" host --socket "$dir/host.sock" --ctl "$dir/ctl.sock" -o test.count=0 \
		-o "storage.disk=$dir/disk0.img,size=256M" >>"$dir/host.log" 2>&1 &
	hpid=$!
	for _ in $(seq 100); do [ -S "$dir/host.sock" ] && break; sleep 0.1; done
}
start_guest() {
	"$vmbus" guest --socket "$dir/host.sock" -o "storage.fuse_dir=$dir/fuse" \
		>>"$dir/guest.log" 2>&1 &
	gpid=$!
	wait_file "$dir/fuse/lun0" || {
		if grep -q "FUSE export" "$dir/guest.log"; then echo "FUSE mount refused: skip"; exit 77; fi
		cat "$dir/guest.log"; exit 1
	}
}
stop_guest() { kill -INT "$gpid"; wait "$gpid" || true; gpid=; }
wait_file() { for _ in $(seq 200); do [ -e "$1" ] && return 0; sleep 0.1; done; return 1; }
wait_gone() { for _ in $(seq 200); do [ -e "$1" ] || return 0; sleep 0.1; done; return 1; }

start_host
start_guest

# 1. A real file system on the exported disk.
if command -v mkfs.ext4 >/dev/null; then
	mkfs.ext4 -F -q "$dir/fuse/lun0"
	e2fsck -f -n "$dir/fuse/lun0"
	echo "mkfs.ext4 + e2fsck -f: clean"
fi

# 2. Random writes (unaligned too) with checksums, verified after reopening.
cat >"$dir/rw.py" <<'EOF'
import hashlib, os, random, sys
path, mode, log = sys.argv[1], sys.argv[2], sys.argv[3]
if mode == "write":
    rnd = random.Random(int(sys.argv[4]))
    fd = os.open(path, os.O_RDWR)
    size = os.fstat(fd).st_size
    extents = []
    for i in range(300):
        n = rnd.choice([512, 4096, 777, 65536, 300000, 1])
        off = rnd.randrange(0, size - n) // (1 if i % 3 else 512) * (1 if i % 3 else 512)
        off = off // (1 << 20) * (1 << 20) + (i % 200) * 5000  # distinct extents
        data = os.urandom(n)
        assert os.pwrite(fd, data, off) == n
        extents.append((off, n, hashlib.sha256(data).hexdigest()))
    os.fsync(fd)
    os.close(fd)
    # later extents win where they overlap: keep the ones not overlapped afterwards
    keep = []
    for j, (o, n, h) in enumerate(extents):
        if all(o + n <= o2 or o2 + n2 <= o for o2, n2, _ in extents[j + 1:]):
            keep.append((o, n, h))
    with open(log, "w") as f:
        for o, n, h in keep:
            f.write(f"{o} {n} {h}\n")
else:
    with open(path, "rb") as f:
        for line in open(log):
            o, n, h = line.split()
            f.seek(int(o))
            if hashlib.sha256(f.read(int(n))).hexdigest() != h:
                sys.exit(f"mismatch at {o}+{n}")
    print("verified", sum(1 for _ in open(log)), "extents")
EOF
python3 "$dir/rw.py" "$dir/fuse/lun0" write "$dir/extents" 1
python3 "$dir/rw.py" "$dir/fuse/lun0" verify "$dir/extents"
stop_guest
start_guest
python3 "$dir/rw.py" "$dir/fuse/lun0" verify "$dir/extents"

# 3. Flushed writes survive kill -9 of the host: check the image directly.
python3 "$dir/rw.py" "$dir/fuse/lun0" write "$dir/extents2" 2
kill -9 "$hpid"
wait "$hpid" 2>/dev/null || true
hpid=
wait "$gpid" 2>/dev/null || true
gpid=
fusermount3 -uz "$dir/fuse" 2>/dev/null || true
python3 "$dir/rw.py" "$dir/disk0.img" verify "$dir/extents2"
echo "kill -9 after SYNCHRONIZE CACHE: nothing lost"

# 4. Hot add and remove of a LUN while LUN 0 is busy.
rm -f "$dir/host.sock"
start_host
start_guest
python3 - "$dir/fuse/lun0" "$dir/busy.stop" >"$dir/busy.out" 2>&1 <<'EOF' &
import os, sys
fd = os.open(sys.argv[1], os.O_RDWR)
n = 0
while not os.path.exists(sys.argv[2]):
    data = bytes([n & 0xff]) * 65536
    off = (n % 512) * 65536
    os.pwrite(fd, data, off)
    assert os.pread(fd, 65536, off) == data, "busy LUN read back wrong data"
    n += 1
print("busy ok", n)
EOF
busy=$!
for i in 1 2 3; do
	"$vmbus" ctl --run-dir "$dir" disk add "$dir/hot$i.img" --lun "$i" --size 16M
	wait_file "$dir/fuse/lun$i"
	dd if=/dev/urandom of="$dir/hot.data" bs=4096 count=64 status=none
	dd if="$dir/hot.data" of="$dir/fuse/lun$i" bs=4096 conv=notrunc,fsync status=none
	cmp -n 262144 "$dir/hot.data" "$dir/fuse/lun$i"
	"$vmbus" ctl --run-dir "$dir" disk remove "$i"
	wait_gone "$dir/fuse/lun$i"
done
touch "$dir/busy.stop"
wait "$busy"
cat "$dir/busy.out"
grep -q "busy ok" "$dir/busy.out"
echo "storage: ok"
