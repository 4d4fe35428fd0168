#!/bin/bash
# Synthetic NIC end to end with real TAP interfaces: `vmbus run` brings the
# NIC up, the guest TAP goes into a network namespace of its own, then
#   ping guest -> host TAP (3 echoes),
#   8 MB guest -> host and 8 MB host -> guest over TCP with matching SHA-256.
# Addresses live only on the interfaces this test creates. Skips (77) without
# /dev/net/tun, CAP_NET_ADMIN, ip or python3.
set -u
vmbus=$1
id=$$
htap=vnh$id
gtap=vng$id
ns=vmbnet$id
dir=$(mktemp -d /tmp/vmbus-net.XXXXXX)
vm_pid=
cleanup() {
	[ -n "$vm_pid" ] && kill -INT "$vm_pid" 2>/dev/null && wait "$vm_pid" 2>/dev/null
	ip netns del "$ns" 2>/dev/null
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	cat "$dir"/*.log
	exit 1
}

[ -c /dev/net/tun ] && command -v ip >/dev/null && command -v python3 >/dev/null || exit 77
ip netns add "$ns" 2>/dev/null || exit 77

cat >"$dir/icmp.py" <<'PY'
import os, socket, struct, sys
def csum(b):
    s = sum(struct.unpack('!%dH' % (len(b) // 2), b))
    s = (s >> 16) + (s & 0xffff); s += s >> 16
    return ~s & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP); s.settimeout(2)
ok = 0
for i in range(int(sys.argv[2])):
    body = b'vmbus-net' * 6
    h = struct.pack('!BBHHH', 8, 0, 0, os.getpid() & 0xffff, i)
    s.sendto(struct.pack('!BBHHH', 8, 0, csum(h + body), os.getpid() & 0xffff, i) + body, (sys.argv[1], 0))
    try:
        while True:
            d, _ = s.recvfrom(2048); o = (d[0] & 15) * 4
            if d[o] == 0 and struct.unpack('!H', d[o + 6:o + 8])[0] == i and d[o + 8:] == body:
                ok += 1; break
    except socket.timeout:
        pass
sys.exit(0 if ok == int(sys.argv[2]) else 1)
PY
cat >"$dir/bulk.py" <<'PY'
import hashlib, socket, sys
if sys.argv[1] == 'serve':
    s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((sys.argv[2], int(sys.argv[3]))); s.listen(1); s.settimeout(30)
    open(sys.argv[4], 'w').close()
    c, _ = s.accept(); c.settimeout(30); h = hashlib.sha256(); n = 0
    while True:
        b = c.recv(65536)
        if not b: break
        h.update(b); n += len(b)
    print(n, h.hexdigest())
else:
    n = int(sys.argv[4]); seed = hashlib.sha256(sys.argv[5].encode()).digest()
    data = (seed * (n // 32 + 1))[:n]
    c = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=30)
    c.sendall(data); c.shutdown(socket.SHUT_WR); c.recv(1); c.close()
    print(n, hashlib.sha256(data).hexdigest())
PY

"$vmbus" run --run-dir "$dir/run" -o storage.disk=none -o "net.tap=$htap" \
	-o "net.guest_tap=$gtap" >"$dir/vm.log" 2>&1 &
vm_pid=$!
for _ in $(seq 200); do grep -q "VM running" "$dir/vm.log" && break; sleep 0.05; done
grep -q "VM running" "$dir/vm.log" || fail "VM did not start"
for _ in $(seq 100); do grep -q "netvsc: $gtap up" "$dir/vm.log" && break; sleep 0.05; done
grep -q "netvsc: $gtap up" "$dir/vm.log" || fail "guest NIC not up"
json=$("$vmbus" ls --run-dir "$dir/run" --json) # not piped: see storage_ctl.sh
grep -q f8615163 <<<"$json" || fail "NIC not listed"

ip link set "$gtap" netns "$ns" || fail "cannot move $gtap"
ip netns exec "$ns" ip addr add 10.201.0.2/24 dev "$gtap"
ip netns exec "$ns" ip link set "$gtap" up
ip addr add 10.201.0.1/24 dev "$htap"

if command -v ping >/dev/null; then
	ip netns exec "$ns" ping -c 3 -W 2 10.201.0.1 >"$dir/ping.log" 2>&1 || fail "ping"
else
	ip netns exec "$ns" python3 "$dir/icmp.py" 10.201.0.1 3 || fail "ping"
fi

bulk() { # server-ns-prefix, server-addr, client-ns-prefix, port, seed
	$1 python3 "$dir/bulk.py" serve "$2" "$4" "$dir/ready$4" >"$dir/srv$4.out" &
	local srv=$!
	# Listening before the client connects (a loaded machine starts python slowly).
	for _ in $(seq 200); do [ -e "$dir/ready$4" ] && break; sleep 0.05; done
	[ -e "$dir/ready$4" ] || fail "server $4 not listening"
	$3 python3 "$dir/bulk.py" send "$2" "$4" 8000000 "$5" >"$dir/cli$4.out" || fail "send $4"
	wait "$srv" || fail "serve $4"
	cmp -s "$dir/srv$4.out" "$dir/cli$4.out" || fail "checksum $4: $(cat "$dir"/*"$4".out)"
}
bulk "" 10.201.0.1 "ip netns exec $ns" 5201 guest-to-host
bulk "ip netns exec $ns" 10.201.0.2 "" 5202 host-to-guest

kill -INT "$vm_pid"
wait "$vm_pid" || fail "vmbus run exit status"
vm_pid=
grep -q "ERROR: AddressSanitizer\|runtime error" "$dir/vm.log" && fail "sanitizer report"
echo "net: ping and 2 x 8 MB transfers OK"
