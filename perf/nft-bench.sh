#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# nftables engine benchmarks (root), figures beside baselines from the same run:
#  1. apply latency at 100 / 10 000 / 100 000 flows: ruleset build, batch,
#     kernel commit; first apply, re-apply, one flow removed; baselines
#     `nft -f` of the same policy written as a flat ruleset and as an
#     nftables expert would write it (named sets, verdict maps per pair);
#  2. forwarding through the lab appliance (jump -> upd, dns, 64-byte UDP,
#     64 source ports) with trafgen (netsniff-ng: a packet-mmap sender, far
#     cheaper per packet than sockets) as the sender: no filter, conntrack
#     only, the flat and the expert ruleset, and the nft engine enforcing
#     the matrix. On veth the appliance forwards in the sender's softirq, so
#     a sender cannot outrun it and packets sent equal packets received:
#     the figure that compares filters is the machine's CPU time per packet
#     forwarded (/proc/stat, sender included, the same in every
#     configuration), and its difference from "no filter" is what
#     the filter costs. Medians of 3 runs of 3 s; trafgen pins its worker
#     to CPU 0 (veth forwards in its softirq there) and only that CPU's
#     time is counted, the sink runs on the last CPU. Other load on that CPU
#     inflates every line alike: the load average is printed.
#     firewalld's zones and policies are not compared: firewalld needs a
#     system D-Bus and, installed on a machine without systemd, takes over
#     the host's firewall.
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
echo "== forwarding through the lab appliance, 64-byte UDP, 64 flows, trafgen, medians of 3 x 3 s =="
command -v trafgen >/dev/null || { echo "SKIP forwarding: trafgen (netsniff-ng) missing: run scripts/deps.sh"; exit 0; }
M=tests/netns/matrices/basic.yaml
./scripts/lab.sh up "$M" --prefix "$TAG" --builddir "$B" >/dev/null
J="$TAG-jump-1"
ip netns exec "$J" ping -c1 -W1 169.254.0.1 >/dev/null || true
GW=$(ip -n "$J" neigh show 169.254.0.1 | awk '{print $5; exit}')
ME=$(ip -n "$J" -o link show eth0 | sed 's/.*link\/ether \([^ ]*\).*/\1/')
CFG=/tmp/$TAG.trafgen
echo "{ eth(da=$GW, sa=$ME), ipv4(saddr=10.2.0.10, daddr=10.4.0.10, ttl=64), udp(sp=dinc(1024, 1087), dp=53), fill(0x41, 18) }" >"$CFG"
HZ=$(getconf CLK_TCK)
# trafgen pins its one worker to CPU 0, where veth also forwards (softirq
# on the sending CPU); the sink on the last CPU. CPU time is CPU 0's.
SCPU=0
KCPU=$(($(nproc) - 1))
busy() { awk -v c="cpu$SCPU" '$1 == c {print $2+$3+$4+$7+$8+$9}' /proc/stat; }
once() { # prints "received_pps cpu_ns_per_packet"
	ip netns exec "$TAG-upd-1" taskset -c "$KCPU" "$B/perf/udp-flood" sink 53 4 >"/tmp/$TAG.sink" &
	local sp=$! b0 b1
	sleep 0.3
	b0=$(busy)
	ip netns exec "$J" timeout 3 trafgen --dev eth0 --conf "$CFG" --cpus 1 -q >/dev/null 2>&1 || true
	b1=$(busy)
	wait $sp
	awk -v b="$((b1 - b0))" -v hz="$HZ" '{n=$2; pps=$4} END {printf "%d %.0f\n", pps, n ? b / hz * 1e9 / n : 0}' "/tmp/$TAG.sink"
	rm -f "/tmp/$TAG.sink"
}
median() { sort -n | awk '{v[NR]=$1} END {print v[int((NR+1)/2)]}'; }
BASE_NS=
run() { # LABEL
	local r pps ns
	r=$(for i in 1 2 3; do once; done)
	pps=$(echo "$r" | awk '{print $1}' | median)
	ns=$(echo "$r" | awk '{print $2}' | median)
	[ -n "$BASE_NS" ] || BASE_NS=$ns
	printf "%-34s %9s pps received  %6s ns CPU/packet  (%+d ns vs no filter)\n" "$1" "$pps" "$ns" "$((ns - BASE_NS))"
}
run "no filter"
ip netns exec "$TAG-app" nft -f - <<'EOF'
table inet ctonly {
	chain forward { type filter hook forward priority 0; policy drop; ct state established,related,new accept; }
}
EOF
run "conntrack only (accept all)"
ip netns exec "$TAG-app" nft delete table inet ctonly
for kind in flat expert; do
	"$B/perf/nft-bench" --write "$kind" "$M" "/tmp/$TAG.$kind.nft" >/dev/null
	ip netns exec "$TAG-app" nft -f "/tmp/$TAG.$kind.nft"
	run "baseline: $kind ruleset (nft -f)"
	ip netns exec "$TAG-app" nft delete table inet "$kind"
	rm -f "/tmp/$TAG.$kind.nft"
done
ip netns exec "$TAG-app" "$B/dataplane/nft/zw-nft-apply" "$M" >/dev/null
run "nft engine (matrix enforced)"
rm -f "$CFG"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "machine: $(nproc) cores, $(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo), kernel $(uname -r)"
