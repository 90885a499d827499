#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# L7 inspection through the nftables engine (root; a benchmark, not a
# test), figures beside baselines from the same run:
#  1. connections per second judged through NFQUEUE and zw-inspect: short
#     TCP connections (handshake, an SSH banner each way, close) between
#     two namespaces routed by a third that enforces an `inspect: ssh`
#     flow with zw-nft-apply and runs zw-inspect; baseline: the same
#     connections on a service of the same flow without inspect: (the
#     ruleset alone, no queue);
#  2. build/perf/l7-bench: what zw-inspect does per connection in user
#     space alone (no NFQUEUE), beside the evaluator's lookup.
# Usage: perf/nft-l7-bench.sh [BUILDDIR] [SECONDS] [CONCURRENCY]
# (default build, 5 s, 64 connections in flight). Run it under the lab
# lock on a shared machine: flock /tmp/zw-root.lock perf/nft-l7-bench.sh
set -euo pipefail
cd "$(dirname "$0")/.."
B=${1:-build}; SECS=${2:-5}; CONC=${3:-64}
[ "$(id -u)" = 0 ] || { echo "nft-l7-bench: run as root"; exit 77; }
for x in perf/conn-load perf/l7-bench dataplane/nft/zw-nft-apply dataplane/nft/zw-inspect; do
	[ -x "$B/$x" ] || { echo "nft-l7-bench: $B/$x not built"; exit 3; }
done
grep -qw ssse3 /proc/cpuinfo || { echo "nft-l7-bench: this CPU lacks SSSE3 (Hyperscan)"; exit 77; }
TAG=zwlb$$
C=$TAG-c F=$TAG-f S=$TAG-s
T=$(mktemp -d)
PIDS=()
cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	ip netns exec $F "$B/dataplane/nft/zw-nft-apply" --destroy >/dev/null 2>&1 || true
	for n in $C $F $S; do ip netns del "$n" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

for n in $C $F $S; do ip netns add "$n"; done
ip link add "$TAG-a" netns $C type veth peer name fa netns $F
ip link add "$TAG-b" netns $S type veth peer name fb netns $F
ip -n $C link set "$TAG-a" name eth0
ip -n $S link set "$TAG-b" name eth0
ip -n $C addr add 10.72.1.2/24 dev eth0
ip -n $F addr add 10.72.1.1/24 dev fa
ip -n $F addr add 10.72.2.1/24 dev fb
ip -n $S addr add 10.72.2.2/24 dev eth0
for n in $C $F $S; do ip -n "$n" link set lo up; done
ip -n $C link set eth0 up; ip -n $S link set eth0 up
ip -n $F link set fa up; ip -n $F link set fb up
ip -n $C route add default via 10.72.1.1
ip -n $S route add default via 10.72.2.1
ip netns exec $F sysctl -qw net.ipv4.ip_forward=1
ip netns exec $C sysctl -qw net.ipv4.ip_local_port_range="10000 60999"

cat >"$T/m.yaml" <<'YAML'
zonewall: 1
name: l7-bench
zones:
  ops: {kind: operations, networks: [10.72.1.0/24], isolate: true}
  srv: {kind: servers, networks: [10.72.2.0/24]}
  adm: {kind: admin, networks: [10.72.3.0/24]}
  upd: {kind: update, networks: [10.72.4.0/24]}
  vpn: {kind: remote-access, networks: [10.72.5.0/24]}
  xchg: {kind: provider-exchange, networks: [10.72.6.0/24]}
services:
  ssh-plain: {proto: tcp, ports: [2222]}
flows:
  - {id: B-1, from: ops, to: srv, services: [ssh, ssh-plain], compensating: bench, justification: bench}
YAML
IMG=$T/inspect.img
ip netns exec $F "$B/dataplane/nft/zw-nft-apply" --l7 "inspect_image=$IMG" "$T/m.yaml" >/dev/null
ip netns exec $F "$B/dataplane/nft/zw-inspect" --queue 23 --image "$IMG" 2>"$T/inspect.err" &
INSP=$!
PIDS+=($INSP)
for port in 22 2222; do
	ip netns exec $S "$B/perf/conn-load" server $port &
	PIDS+=($!)
done
for _ in $(seq 50); do grep -q listening "$T/inspect.err" && break; sleep 0.1; done
sleep 0.3

echo "== connections/s through the nft engine, ${SECS} s each, $CONC in flight ($(nproc) cores, kernel $(uname -r)) =="
printf "%-44s %s\n" "flow B-1, ssh-plain (no inspect: baseline)" \
	"$(ip netns exec $C "$B/perf/conn-load" client 10.72.2.2 2222 "$SECS" "$CONC")"
printf "%-44s %s\n" "flow B-1, ssh (inspect: ssh, NFQUEUE)" \
	"$(ip netns exec $C "$B/perf/conn-load" client 10.72.2.2 22 "$SECS" "$CONC")"
cut=$(ip netns exec $F nft list counter inet zonewall zw_l7_mismatch 2>/dev/null | grep -o "packets [0-9]*" || true)
echo "(packets of cut connections: ${cut:-none}; per inspected connection the handshake and both banners go through NFQUEUE)"
# the control: without the inspector the same connections do not pass
# (fail closed), so the figure above went through it
kill "$INSP"; wait "$INSP" 2>/dev/null || true
printf "%-44s %s\n" "flow B-1, ssh, inspector stopped (control)" \
	"$(ip netns exec $C "$B/perf/conn-load" client 10.72.2.2 22 1 "$CONC")"
echo
echo "== the same judgement in user space only (build/perf/l7-bench) =="
"$B/perf/l7-bench" 100000
