#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# What the XDP engine's L7 table costs (docs/l7.md, "The XDP engine"),
# figures beside baselines from the same run (root): 64-byte UDP packets
# per second forwarded through the lab appliance (jump -> upd, dns: a flow
# that is not inspected) with
#   - no filter (baseline);
#   - the XDP engine under zonewalld, inspect: waived (l7=off): the XDP
#     program alone (baseline);
#   - the XDP engine inspecting (its default): the same program plus its L7 table on
#     the forward hook (conntrack loaded, the zone lookups of a source
#     zone that has an inspected flow), zonewalld's zw-inspect running.
# The matrix (tests/netns/matrices/basic.yaml) has inspected flows (ssh,
# https); the packets measured are not theirs: this is what every other
# flow pays once one flow is inspected.
# Usage: perf/xdp-l7-bench.sh [BUILDDIR]          (default build)
set -uo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}
[ "$(id -u)" = 0 ] || { echo "xdp-l7-bench: run as root"; exit 77; }
for x in perf/udp-flood tests/control/zonewalld-test control/zonectl \
	 dataplane/bpf/zw-xdp dataplane/nft/zw-inspect; do
	[ -x "$B/$x" ] || { echo "xdp-l7-bench: build first (ninja -C $B): $x"; exit 3; }
done
TAG=zwxl$$
T=$(mktemp -d)
BPFFS=$T/bpffs
QUEUE=$((5000 + $$ % 1000))
M=tests/netns/matrices/basic.yaml
ZDPID=
stop() {
	[ -n "$ZDPID" ] && { kill "$ZDPID" 2>/dev/null; wait "$ZDPID" 2>/dev/null; ZDPID=; }
}
cleanup() {
	stop
	ip netns exec "$TAG-app" nft delete table inet "zwxl_$$" 2>/dev/null
	"$B/dataplane/bpf/zw-xdp" --dir "$BPFFS/zw" unload >/dev/null 2>&1
	umount "$BPFFS" 2>/dev/null
	./scripts/lab.sh down --prefix "$TAG" >/dev/null 2>&1
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

./scripts/lab.sh up "$M" --prefix "$TAG" --builddir "$B" >/dev/null || exit 1
mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS" || exit 1
IFACES=$(./scripts/lab.sh status --prefix "$TAG" --json |
	/usr/bin/python3 -c 'import json,sys; print(",".join(h["iface"] for h in json.load(sys.stdin)["hosts"]))')

run() { # LABEL
	ip netns exec "$TAG-upd-1" "$B/perf/udp-flood" sink 53 4 >"$T/sink" &
	local sp=$!
	sleep 0.3
	local s
	s=$(ip netns exec "$TAG-jump-1" "$B/perf/udp-flood" send 10.4.0.10 53 3 64)
	wait $sp
	printf "%-46s %s, %s\n" "$1" "$s" "$(cat "$T/sink")"
}
daemon() { # SPEC-SUFFIX
	rm -rf "$T/state"; mkdir -p "$T/state"
	ip netns exec "$TAG-app" "$B/tests/control/zonewalld-test" --state "$T/state" \
		--socket "$T/zw.sock" --backend "xdp:$IFACES,dir=$BPFFS/zw,$1" \
		--foreground --log "$T/zd.log" &
	ZDPID=$!
	for _ in $(seq 100); do
		ip netns exec "$TAG-app" "$B/control/zonectl" --socket "$T/zw.sock" status >/dev/null 2>&1 && break
		sleep 0.05
	done
	ip netns exec "$TAG-app" "$B/control/zonectl" --socket "$T/zw.sock" commit "$M" -m bench >/dev/null ||
		{ echo "xdp-l7-bench: commit failed: $(tail -3 "$T/zd.log")"; exit 1; }
}

echo "== forwarding through the lab appliance, 64-byte UDP, 64 flows, 3 s ($(nproc) cores, kernel $(uname -r)) =="
run "no filter"
daemon "l7=off"
run "XDP program alone (l7=off)"
stop
# the engine inspects by default: zonewalld runs zw-inspect on its queue
daemon "queue=$QUEUE,inspect_image=$T/inspect.img,l7_table=zwxl_$$"
sleep 0.3
run "XDP program + L7 table (flow not inspected)"
