#!/bin/sh
# Keyboard, mouse and framebuffer end to end: typed keys and a pointer report
# reach the guest's event log; a screenshot shows the guest's colour bars.
vmbus=$1
dir=$(mktemp -d)
trap 'kill -INT $pid 2>/dev/null; wait $pid 2>/dev/null; rm -rf "$dir"' EXIT
"$vmbus" run --run-dir "$dir" -o net.enable=0 -o input.log="$dir/ev.log" -o input.leds=2 \
	-o video.pattern=1 >"$dir/out" 2>&1 &
pid=$!
for i in $(seq 100); do grep -q "VM running" "$dir/out" && break; sleep 0.2; done
grep -q "VM running" "$dir/out" || { cat "$dir/out"; exit 1; }
ctl() { "$vmbus" ctl --run-dir "$dir" "$@"; }
ctl key hello || exit 1
ctl mouse 100 200 --buttons 1 || exit 1
ctl kbd-leds | grep -q "num=on" || { echo "LEDs not reported"; exit 1; }
ctl mouse 40000 1 >/dev/null 2>&1 && { echo "out-of-range X accepted"; exit 1; }
sleep 0.5
want="0x23 0x12 0x26 0x26 0x18"
got=$(grep "down$" "$dir/ev.log" | head -5 | awk '{print $2}' | tr '\n' ' ' | sed 's/ $//')
[ "$got" = "$want" ] || { echo "keys: got '$got' want '$want'"; cat "$dir/ev.log"; exit 1; }
grep -q "mouse x=100 y=200 buttons=0x1 wheel=0" "$dir/ev.log" || { cat "$dir/ev.log"; exit 1; }
ctl screenshot "$dir/x.ppm" || exit 1
[ "$(head -c 15 "$dir/x.ppm")" = "$(printf 'P6\n1024 768\n255')" ] || { echo "bad PPM header"; exit 1; }
[ "$(wc -c <"$dir/x.ppm")" -eq $((16 + 1024 * 768 * 3)) ] || { echo "bad PPM size"; exit 1; }
# pixel (x, y) at offset 16 + 3 * (y * 1024 + x): bar 0 white, bar 1 yellow, bar 6 blue
px() { od -An -tu1 -j $((16 + 3 * ($2 * 1024 + $1))) -N3 "$dir/x.ppm" | tr -s ' ' | sed 's/^ //'; }
[ "$(px 64 10)" = "255 255 255" ] || { echo "white bar: $(px 64 10)"; exit 1; }
[ "$(px 192 300)" = "255 255 0" ] || { echo "yellow bar: $(px 192 300)"; exit 1; }
[ "$(px 832 700)" = "0 0 255" ] || { echo "blue bar: $(px 832 700)"; exit 1; }
exit 0
