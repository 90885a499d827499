#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The XDP engine with real traffic (suite netns, root): a small lab of
# network namespaces, one per host, each joined to an appliance namespace
# by its own veth (so even two hosts of one zone talk through the
# appliance), the XDP program attached to every appliance interface, the
# kernel routing between them. Real TCP handshakes, UDP exchanges, pings,
# ARP and IPv6 neighbour discovery go through the engine.
#
# Asserts, for every ordered host pair and probe (tcp/22, tcp/443, tcp/80,
# udp/53, icmp echo; IPv4 and IPv6), that the exchange succeeds exactly
# when `zonectl explain` (the reference evaluator) allows it (a success
# needs the reply: state works); that removing a flow cuts a live TCP
# connection at its next packet; that the engine keeps enforcing after
# the loader exited and reads back with no drift.
#
# Everything it creates carries a per-run tag and is removed on exit.
set -uo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, XDP)"; exit 77; }
for t in ip nsenter socat ping timeout; do
  command -v $t >/dev/null || { echo "SKIP: $t not installed"; exit 77; }
done
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWXDP=$B/dataplane/bpf/zw-xdp
ZONECTL=$B/control/zonectl
[ -x "$ZWXDP" ] && [ -x "$ZONECTL" ] || { echo "SKIP: zw-xdp or zonectl not built"; exit 77; }
# the pins go on the bpffs tests/with_bpffs.sh mounted for this run (meson
# runs it so): outside /sys, which `ip netns exec` remounts
BPFFS=${ZONEWALL_TEST_BPFFS:-}
[ -n "$BPFFS" ] && grep -q " $BPFFS bpf " /proc/mounts ||
  { echo "SKIP: no bpffs of its own: run it through tests/with_bpffs.sh (meson test does)"; exit 77; }

TAG=x$$$(printf %04x $((RANDOM % 65536)))
TAG=${TAG:0:8}
APP=zwx-$TAG-app
DIR=$BPFFS/zwx-$TAG
WORK=$(mktemp -d)
HOSTS=()

cleanup() {
  "$ZWXDP" --dir "$DIR" unload >/dev/null 2>&1
  rm -rf "$DIR" 2>/dev/null
  for h in "${HOSTS[@]}"; do
    ip netns pids "zwx-$TAG-$h" 2>/dev/null | xargs -r kill 2>/dev/null
    ip netns del "zwx-$TAG-$h" 2>/dev/null
  done
  ip netns pids "$APP" 2>/dev/null | xargs -r kill 2>/dev/null
  ip netns del "$APP" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

fail=0
note() { printf '%s\n' "$*"; }
bad() { printf 'FAIL: %s\n' "$*"; fail=$((fail + 1)); }

"$ZONECTL" compile "$S/tests/bpf/lab-xdp.yaml" -o "$WORK/lab.img" >/dev/null || { echo "cannot compile the lab matrix"; exit 1; }
"$ZONECTL" compile "$S/tests/bpf/lab-xdp-cut.yaml" -o "$WORK/cut.img" >/dev/null || exit 1

# name ipv4 ipv6(or -)
HOSTDEFS=(
  "ops1 10.210.1.10 fd00:210:1::10"
  "ops2 10.210.1.11 fd00:210:1::11"
  "jump1 10.210.2.10 fd00:210:2::10"
  "jump2 10.210.2.11 -"
  "inet1 10.210.6.10 fd00:210:6::10"
  "out1 198.51.100.10 2001:db8:5::10"
)

ip netns add "$APP" || exit 1
ip netns exec "$APP" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1
ip -n "$APP" link set lo up
i=0
for def in "${HOSTDEFS[@]}"; do
  set -- $def
  h=$1 v4=$2 v6=$3
  ns=zwx-$TAG-$h
  HOSTS+=("$h")
  ip netns add "$ns" || exit 1
  ip -n "$ns" link set lo up
  ip link add "a$TAG$i" netns "$APP" type veth peer name eth0 netns "$ns" || exit 1
  ip -n "$APP" link set "a$TAG$i" up
  ip -n "$APP" addr add 169.254.0.1/32 dev "a$TAG$i"
  ip -n "$APP" addr add fe80::1/64 dev "a$TAG$i"
  ip -n "$ns" link set eth0 up
  ip -n "$ns" addr add "$v4/32" dev eth0
  ip -n "$ns" route add 169.254.0.1/32 dev eth0
  ip -n "$ns" route add default via 169.254.0.1 dev eth0 onlink
  ip -n "$APP" route add "$v4/32" dev "a$TAG$i" src 169.254.0.1
  if [ "$v6" != - ]; then
    ip -n "$ns" addr add "$v6/128" dev eth0 nodad
    ip -n "$ns" -6 route add default via fe80::1 dev eth0
    ip -n "$APP" -6 route add "$v6/128" dev "a$TAG$i"
  fi
  # dual-stack echo servers
  for p in 22 443 80; do
    ip netns exec "$ns" socat TCP6-LISTEN:$p,ipv6only=0,fork,reuseaddr EXEC:cat </dev/null >/dev/null 2>&1 &
  done
  ip netns exec "$ns" socat UDP6-RECVFROM:53,ipv6only=0,fork EXEC:cat </dev/null >/dev/null 2>&1 &
  i=$((i + 1))
done
IFACES=$(ip -n "$APP" -br link | awk '{print $1}' | sed 's/@.*//' | grep "^a$TAG" | paste -sd' ')

# load and attach, then let the loader go: the pins keep enforcing
out=$(nsenter --net=/run/netns/"$APP" "$ZWXDP" --dir "$DIR" load --policy "$WORK/lab.img" $IFACES 2>&1) ||
  { echo "$out"; echo "cannot load the XDP engine"; exit 1; }
note "$(echo "$out" | head -2)"
echo "$out" | grep -q "(native)" && note "mode: native" || note "mode: $(echo "$out" | grep -o '([a-z]*)' | sort -u | paste -sd' ')"
sleep 1

# address of host $H in family $FAM ("-" when it has none)
addr_of() {
  local def
  for def in "${HOSTDEFS[@]}"; do
    set -- $def
    if [ "$1" = "$H" ]; then
      if [ "$FAM" = 4 ]; then echo "$2"; else echo "$3"; fi
      return
    fi
  done
}

# one probe: prints "src dst fam proto port expected got"
probe() {
  local s=$1 d=$2 fam=$3 proto=$4 port=$5 sa da exp got=deny ns=zwx-$TAG-$1
  sa=$(H=$s FAM=$fam addr_of); da=$(H=$d FAM=$fam addr_of)
  [ -n "$sa" ] && [ "$sa" != - ] && [ -n "$da" ] && [ "$da" != - ] || return 0
  if [ "$proto" = icmp ]; then
    if [ "$fam" = 4 ]; then
      exp=$("$ZONECTL" explain "$WORK/lab.img" "$sa" "$da" icmp echo-request | awk '{print $1}')
      ip netns exec "$ns" ping -4 -c1 -W1 "$da" >/dev/null 2>&1 && got=allow
    else
      exp=$("$ZONECTL" explain "$WORK/lab.img" "$sa" "$da" icmpv6 echo-request | awk '{print $1}')
      ip netns exec "$ns" ping -6 -c1 -W1 "$da" >/dev/null 2>&1 && got=allow
    fi
  else
    exp=$("$ZONECTL" explain "$WORK/lab.img" "$sa" "$da" "$proto" "$port" | awk '{print $1}')
    local target=$da
    [ "$fam" = 6 ] && target="[$da]"
    local r
    if [ "$proto" = tcp ]; then
      r=$(echo ok | ip netns exec "$ns" timeout 3 socat -T2 - "TCP:$target:$port,connect-timeout=2" 2>/dev/null)
    else
      r=$(echo ok | ip netns exec "$ns" timeout 3 socat -T2 - "UDP:$target:$port" 2>/dev/null)
    fi
    [ "$r" = ok ] && got=allow
  fi
  echo "$s $d ipv$fam $proto $port $exp $got"
}
export -f probe addr_of
export TAG WORK ZONECTL

jobs_file=$WORK/jobs
: >"$jobs_file"
for s in "${HOSTS[@]}"; do
  for d in "${HOSTS[@]}"; do
    [ "$s" = "$d" ] && continue
    for fam in 4 6; do
      for pp in "tcp 22" "tcp 443" "tcp 80" "udp 53" "icmp -"; do
        echo "$s $d $fam $pp" >>"$jobs_file"
      done
    done
  done
done
# HOSTDEFS is an array: rebuild it in the sub-shells
probe_job() {
  IFS=';' read -r -a HOSTDEFS <<<"$HOSTDEFS_SEMI"
  probe "$@"
}
export -f probe_job
export HOSTDEFS_SEMI=$(IFS=';'; echo "${HOSTDEFS[*]}")
xargs -P 16 -L 1 bash -c 'probe_job "$@"' _ <"$jobs_file" >"$WORK/results"

n=0; nallow=0
while read -r s d fam proto port exp got; do
  n=$((n + 1))
  [ "$got" = allow ] && nallow=$((nallow + 1))
  [ "$exp" = "$got" ] || bad "$s -> $d $fam $proto/$port: oracle says $exp, traffic $got"
done <"$WORK/results"
note "connectivity: $n probes ($nallow allowed) compared with the oracle"
[ "$n" -ge 100 ] || bad "only $n probes ran"
[ "$nallow" -ge 5 ] || bad "only $nallow probes were allowed: the lab does not forward"

# enforcement without the loader, read back with no drift
nsenter --net=/run/netns/"$APP" "$ZWXDP" --dir "$DIR" status --expect "$WORK/lab.img" >"$WORK/status" 2>&1 ||
  { cat "$WORK/status"; bad "read-back reports drift or fails"; }

# a removed flow cuts a live connection at its next packet
ops1=$(H=ops1 FAM=4 addr_of) jump1=$(H=jump1 FAM=4 addr_of)
( echo first; sleep 3; echo second; sleep 3 ) |
  ip netns exec "zwx-$TAG-ops1" timeout 10 socat -T8 - "TCP:$jump1:22" >"$WORK/cut.out" 2>/dev/null &
cpid=$!
sleep 1.5
nsenter --net=/run/netns/"$APP" "$ZWXDP" --dir "$DIR" apply "$WORK/cut.img" >/dev/null || bad "cannot apply the cut policy"
wait $cpid
grep -q '^first$' "$WORK/cut.out" || bad "the connection did not work before the cut"
grep -q '^second$' "$WORK/cut.out" && bad "the connection survived the removal of its flow"
removed=$(nsenter --net=/run/netns/"$APP" "$ZWXDP" --dir "$DIR" status --format json | grep -o '"flow-removed":[0-9]*' | cut -d: -f2)
[ "${removed:-0}" -ge 1 ] || bad "no packet counted as flow-removed"
r=$(echo ok | ip netns exec "zwx-$TAG-ops1" timeout 3 socat -T2 - "TCP:$jump1:22,connect-timeout=2" 2>/dev/null)
[ "$r" = ok ] && bad "a new connection of the removed flow passed"
nsenter --net=/run/netns/"$APP" "$ZWXDP" --dir "$DIR" apply "$WORK/lab.img" >/dev/null
r=$(echo ok | ip netns exec "zwx-$TAG-ops1" timeout 3 socat -T2 - "TCP:$jump1:22,connect-timeout=2" 2>/dev/null)
[ "$r" = ok ] || bad "the flow does not work again once restored"
note "flow removal: live connection cut ($removed packet(s) dropped as flow-removed), restored afterwards"

[ $fail = 0 ] && { echo "netns-xdp: all checks passed"; exit 0; }
echo "netns-xdp: $fail failure(s)"
exit 1
