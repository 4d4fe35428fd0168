#!/bin/bash
# Two VMs on one machine, both with the default TAP names ("vmbtap%d",
# "vmbguest%d"): each gets TAPs of its own, and the guest NICs get
# different MACs (derived from the host TAP's name). Skips (77) without
# /dev/net/tun or CAP_NET_ADMIN.
set -u
vmbus=$1
dir=$(mktemp -d /tmp/vmbus-netnames.XXXXXX)
pids=()
cleanup() {
	for p in "${pids[@]}"; do kill -INT "$p" 2>/dev/null && wait "$p" 2>/dev/null; done
	rm -rf "$dir"
}
trap cleanup EXIT
fail() {
	echo "FAIL: $*"
	cat "$dir"/*.log
	exit 1
}

[ -c /dev/net/tun ] && command -v ip >/dev/null || exit 77
ip tuntap add dev vmbnn$$ mode tap 2>/dev/null || exit 77
ip link del vmbnn$$

for vm in a b; do
	"$vmbus" run --run-dir "$dir/$vm" -o storage.disk=none >"$dir/$vm.log" 2>&1 &
	pids+=($!)
done
up() { grep -h "netvsc: .* up" "$dir/a.log" "$dir/b.log" 2>/dev/null | wc -l; }
for _ in $(seq 200); do [ "$(up)" -ge 2 ] && break; sleep 0.05; done
[ "$(up)" -eq 2 ] || fail "both guest NICs should come up"

tap() { sed -n "s/.*netvsp: host TAP \([^ ]*\) up.*/\1/p" "$dir/$1.log"; }
gname() { sed -n "s/.*netvsc: \([^ ]*\) up.*/\1/p" "$dir/$1.log"; }
mac() { sed -n "s/.*netvsc: .* up, .*, \([0-9a-f:]*\)$/\1/p" "$dir/$1.log"; }
[ -n "$(tap a)" ] && [ -n "$(tap b)" ] || fail "host TAP names not logged"
[ "$(tap a)" != "$(tap b)" ] || fail "both VMs got host TAP $(tap a)"
[ "$(gname a)" != "$(gname b)" ] || fail "both VMs got guest TAP $(gname a)"
[ "$(mac a)" != "$(mac b)" ] || fail "both guest NICs have MAC $(mac a)"
for t in "$(tap a)" "$(tap b)" "$(gname a)" "$(gname b)"; do
	ip link show "$t" >/dev/null 2>&1 || fail "no interface $t"
done
echo "ok: $(tap a)/$(gname a) $(mac a), $(tap b)/$(gname b) $(mac b)"
