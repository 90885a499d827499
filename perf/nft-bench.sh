#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# nftables engine benchmarks (root), figures beside baselines from the same run:
#  1. apply latency at 100 / 10 000 / 100 000 flows: ruleset build, batch,
#     kernel commit; first apply, re-apply, one flow removed; baseline
#     `nft -f` of the same policy written as a flat ruleset;
#  2. UDP packets per second forwarded through the lab appliance
#     (jump -> upd, dns): no filter, then the nft engine enforcing the
#     matrix (every packet judged: conntrack + zone maps + pair chain).
# Usage: perf/nft-bench.sh [BUILDDIR] [FLOWS...]     (default build, 100 10000 100000)
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}; shift || true
[ "$(id -u)" = 0 ] || { echo "nft-bench: run as root"; exit 77; }
[ -x "$B/perf/nft-bench" ] || { echo "nft-bench: build first (ninja -C $B)"; exit 3; }
TAG=zwpb$$
NS=${TAG}apply
cleanup() { ip netns delete "$NS" 2>/dev/null || true; ./scripts/lab.sh down --prefix "$TAG" >/dev/null 2>&1 || true; }
trap cleanup EXIT
trap 'exit 143' TERM INT

echo "== apply latency (one netlink transaction per apply; $(nproc) cores, kernel $(uname -r)) =="
ip netns add "$NS"
ip netns exec "$NS" "$B/perf/nft-bench" "$@"

echo
echo "== forwarding through the lab appliance, 64-byte UDP, 64 flows, 3 s =="
M=tests/netns/matrices/basic.yaml
./scripts/lab.sh up "$M" --prefix "$TAG" --builddir "$B" >/dev/null
run() { # LABEL
	ip netns exec "$TAG-upd-1" "$B/perf/udp-flood" sink 53 4 >"/tmp/$TAG.sink" &
	local sp=$!
	sleep 0.3
	local s
	s=$(ip netns exec "$TAG-jump-1" "$B/perf/udp-flood" send 10.4.0.10 53 3 64)
	wait $sp
	printf "%-34s %s, %s\n" "$1" "$s" "$(cat "/tmp/$TAG.sink")"
	rm -f "/tmp/$TAG.sink"
}
run "no filter"
ip netns exec "$TAG-app" nft -f - <<'EOF'
table inet ctonly {
	chain forward { type filter hook forward priority 0; policy drop; ct state established,related,new accept; }
}
EOF
run "conntrack only (accept all)"
ip netns exec "$TAG-app" nft delete table inet ctonly
ip netns exec "$TAG-app" "$B/dataplane/nft/zw-nft-apply" "$M" >/dev/null
run "nft engine (matrix enforced)"
