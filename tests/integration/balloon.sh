#!/bin/sh
# Dynamic memory end to end: inflate 16 MiB, check the host freed the guest
# RAM behind it, deflate, over-ask (the guest gives what it can), and the
# 1.0 fallback.
#
# Signal: the allocated blocks of the guest-RAM memfd in the host process
# (stat -L of /proc/HOST/fd/N -> memfd:vmbus-guest-ram). The guest runs with
# balloon.dirty=1, so it writes each page (16 MiB) before handing it over;
# without the host's hole punching the memfd would grow by 16 MiB.
vmbus=$1
dir=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
start() {
	"$vmbus" run --run-dir "$dir" -o net.enable=0 -o balloon.dirty=1 -o balloon.status_ms=100 \
		"$@" >"$dir/out" 2>&1 &
	pid=$!
	for i in $(seq 150); do grep -q "VM running" "$dir/out" && break; sleep 0.2; done
	grep -q "VM running" "$dir/out" || { cat "$dir/out"; exit 1; }
}
stop() { kill -INT $pid; wait $pid; }
ctl() { "$vmbus" ctl --run-dir "$dir" "$@"; }
field() { ctl balloon | sed -n "s/^$1: //p"; }
ram_kib() {
	for h in $(pgrep -P $pid); do
		grep -q host "/proc/$h/cmdline" 2>/dev/null || continue
		for f in /proc/$h/fd/*; do
			case "$(readlink "$f")" in
			*vmbus-guest-ram*) echo $(($(stat -L -c %b "$f") / 2)); return;;
			esac
		done
	done
}

start
for i in $(seq 50); do [ "$(field status_reports)" -gt 1 ] 2>/dev/null && break; sleep 0.1; done
[ "$(field state)" = ready ] || { ctl balloon; exit 1; }
[ "$(field protocol)" = 2.0 ] || { ctl balloon; exit 1; }
[ "$(field status_reports)" -gt 1 ] || { echo "no status reports"; exit 1; }
before=$(ram_kib)
[ -n "$before" ] || { echo "guest RAM memfd not found"; exit 1; }
ctl balloon inflate 4096 | grep -q "inflate: 4096 of 4096" || { ctl balloon; exit 1; }
after=$(ram_kib)
[ "$(field ballooned_pages)" = 4096 ] || { ctl balloon; exit 1; }
echo "guest RAM memfd: ${before} KiB before, ${after} KiB after 16 MiB of dirtied pages ballooned"
[ "$after" -lt $((before + 4096)) ] || { echo "host did not free the pages"; exit 1; }
[ "$(field host_resident_kib)" -lt $((before + 4096)) ] || { ctl balloon; exit 1; }
ctl balloon deflate 16M | grep -q "deflate: 4096 of 4096" || { ctl balloon; exit 1; }
[ "$(field ballooned_pages)" = 0 ] || { ctl balloon; exit 1; }
# More than the guest has: it keeps its reserve and gives the rest.
ctl balloon inflate 1G >"$dir/big" 2>&1
grep -q "inflate: [0-9]* of 262144 pages$" "$dir/big" || { cat "$dir/big"; exit 1; }
got=$(field ballooned_pages)
[ "$got" -gt 10000 ] && [ "$got" -lt 262144 ] || { ctl balloon; exit 1; }
ctl balloon deflate 1G | grep -q "deflate: $got of" || { ctl balloon; exit 1; }
[ "$(field failed_transactions)" = 0 ] || { ctl balloon; exit 1; }
ctl balloon deflate 1 | grep -q "deflate: 0 of 1" || exit 1
ctl balloon frobnicate 1 >/dev/null 2>&1 && exit 1
stop

start -o balloon.max_version=1.0
for i in $(seq 50); do [ "$(field state)" = ready ] && break; sleep 0.1; done
[ "$(field protocol)" = 1.0 ] || { ctl balloon; exit 1; }
ctl balloon inflate 100 | grep -q "inflate: 100 of 100" || exit 1
stop
exit 0
