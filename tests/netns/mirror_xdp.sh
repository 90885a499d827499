#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Mirroring to probes with the XDP engine (docs/xdp-engine.md, "Probes"),
# through zonewalld (backend xdp), on a bpffs of its own
# (tests/with_bpffs.sh), in the lab of mirror_nft.sh:
#
#   A xchg 10.6.0.2 fd00:6::2 ─ra┐            ┌─ probe0 ── P (tcpdump)
#   B jump 10.2.0.2 fd00:2::2 ─rb┤ R (router) │
#   C ops  10.1.0.2           ─rc┘ zonewalld --backend xdp:ra,rb,rc
#
# Probe "ids" watches zone xchg. The capture on the probe interface must
# hold exactly the packets of the selected traffic, both directions, each
# once, and nothing else:
#  - traffic: all     refused at commit, naming the probe (the XDP program
#                     drops denied packets before anything can copy them);
#                     nothing installed
#  - traffic: allowed A<->B pings, IPv4 and IPv6, in both directions;
#                     nothing of C<->B (not watched), nothing of the denied
#                     B->A and C->A requests
#  - the classifier detached by hand (tc filter del) and a map entry
#    changed by hand (bpftool) are drift, journalled naming the mirror, and
#    put back by the enforcement watch; the probe gets the same packets
#  - a matrix without probes removes the classifiers; the probe gets nothing
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces, XDP)"; exit 77; }
for c in tcpdump ping tc bpftool; do
	command -v $c >/dev/null || { echo "FAIL: needs $c (scripts/deps.sh)"; exit 1; }
done
B=${ZONEWALL_BUILDDIR:?run through meson test}
ZONECTL=$B/control/zonectl
ZWD=$B/tests/control/zonewalld-test
PY=/usr/bin/python3
for x in "$ZWD" "$ZONECTL" "$PY"; do
	[ -x "$x" ] || { echo "FAIL: $x not built or missing"; exit 1; }
done
BPFFS=${ZONEWALL_TEST_BPFFS:-}
[ -n "$BPFFS" ] && grep -q " $BPFFS bpf " /proc/mounts ||
	{ echo "FAIL: no bpffs of its own: run it through tests/with_bpffs.sh (meson test does)"; exit 1; }
. "${ZONEWALL_SRCDIR:?}/tests/lib/checks.sh"
export ZONEWALL_CLOCK_SYNCED=1

TAG=zwx$$
R=${TAG}r A=${TAG}a BB=${TAG}b C=${TAG}c P=${TAG}p
T=$(mktemp -d)
DIR=$BPFFS/zwx-$$
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
	# the namespaces take their interfaces, and so the tc filters, with them
	for n in "$R" "$A" "$BB" "$C" "$P"; do ip netns delete "$n" 2>/dev/null; done
	rm -rf "$DIR" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
for n in "$R" "$A" "$BB" "$C" "$P"; do
	ip netns add "$n" || { echo "FAIL: cannot create network namespaces"; exit 1; }
	ip -n "$n" link set lo up
done
ns() { local n=$1; shift; ip netns exec "$n" "$@"; }

# hosts: NS RIF V4 V6 (router .1 / ::1 on the same prefix)
host() {
	local h=$1 rif=$2 v4=$3 v6=$4 hmac rmac
	ip link add "$rif" netns "$R" type veth peer name eth0 netns "$h"
	ns "$h" sysctl -qw net.ipv6.conf.eth0.accept_dad=0 net.ipv6.conf.all.accept_ra=0
	ns "$R" sysctl -qw "net.ipv6.conf.$rif.accept_dad=0"
	ip -n "$h" link set eth0 up
	ip -n "$R" link set "$rif" up
	ip -n "$h" addr add "$v4.2/24" dev eth0
	ip -n "$R" addr add "$v4.1/24" dev "$rif"
	ip -n "$h" route add default via "$v4.1"
	if [ -n "$v6" ]; then
		ip -n "$h" addr add "$v6::2/64" dev eth0 nodad
		ip -n "$R" addr add "$v6::1/64" dev "$rif" nodad
		ip -n "$h" -6 route add default via "$v6::1"
	fi
	# static neighbours: no ARP or neighbour discovery during the test
	hmac=$(ip -n "$h" -br link show eth0 | awk '{print $3}')
	rmac=$(ip -n "$R" -br link show "$rif" | awk '{print $3}')
	ip -n "$h" neigh replace "$v4.1" lladdr "$rmac" dev eth0 nud permanent
	ip -n "$R" neigh replace "$v4.2" lladdr "$hmac" dev "$rif" nud permanent
	if [ -n "$v6" ]; then
		ip -n "$h" neigh replace "$v6::1" lladdr "$rmac" dev eth0 nud permanent
		ip -n "$R" neigh replace "$v6::2" lladdr "$hmac" dev "$rif" nud permanent
	fi
}
ns "$R" sysctl -qw net.ipv4.ip_forward=1 net.ipv6.conf.all.forwarding=1 \
	net.ipv6.conf.all.accept_ra=0 net.ipv6.conf.default.accept_ra=0
host "$A" ra 10.6.0 fd00:6:0:0
host "$BB" rb 10.2.0 fd00:2:0:0
host "$C" rc 10.1.0 ""
# the probe interface: no address, no IPv6, so R never talks on it
ip link add probe0 netns "$R" type veth peer name p0 netns "$P"
ns "$R" sysctl -qw net.ipv6.conf.probe0.disable_ipv6=1
ns "$P" sysctl -qw net.ipv6.conf.p0.disable_ipv6=1
ip -n "$R" link set probe0 up
ip -n "$P" link set p0 up

matrix() { # FILE TRAFFIC|none
	cat >"$1" <<EOF
zonewall: 1
name: mirror-lab
zones:
  ops: {kind: operations, networks: [10.1.0.0/24], isolate: true}
  jump: {kind: servers, networks: [10.2.0.0/24, "fd00:2::/64"]}
  adm: {kind: admin, networks: [10.3.0.0/24]}
  upd: {kind: update, networks: [10.4.0.0/24]}
  vpn: {kind: remote-access, networks: [10.5.0.0/24]}
  xchg: {kind: provider-exchange, networks: [10.6.0.0/24, "fd00:6::/64"]}
flows:
  - {id: X1, from: xchg, to: jump, services: [icmp-echo, icmpv6-echo], justification: j}
  - {id: O1, from: ops, to: jump, services: [icmp-echo], justification: j}
EOF
	[ "$2" = none ] || printf 'probes:\n  ids: {interface: probe0, zones: [xchg], traffic: %s}\n' "$2" >>"$1"
}

# Capture on the probe, run the traffic, print what the probe got as
# "COUNT SRC > DST TYPE" lines, sorted.
capture() { # NAME
	local pcap=$T/$1.pcap pid i
	ip netns exec "$P" timeout -s INT 60 tcpdump -U -n -i p0 -w "$pcap" 2>"$T/$1.tcpdump" &
	pid=$!
	for i in $(seq 50); do grep -q listening "$T/$1.tcpdump" && break; sleep 0.1; done
	ns "$A" ping -q -c 3 -i 0.2 -W 1 10.2.0.2 >/dev/null      # allowed, watched
	ns "$A" ping -6 -q -c 2 -i 0.2 -W 1 fd00:2::2 >/dev/null  # allowed, watched
	ns "$C" ping -q -c 2 -i 0.2 -W 1 10.2.0.2 >/dev/null      # allowed, not watched
	ns "$BB" ping -q -c 2 -i 0.2 -W 1 10.6.0.2 >/dev/null     # denied, watched
	ns "$C" ping -q -c 1 -W 1 10.6.0.2 >/dev/null             # denied, watched
	sleep 0.5
	kill -INT "$pid"; wait "$pid" 2>/dev/null
	tcpdump -n -r "$pcap" 2>/dev/null |
		sed -E 's/^[0-9:.]+ //; s/, id [0-9]+.*//; s/, seq [0-9]+.*//; s/: ICMP6?,? / /' |
		sort | uniq -c | sed -E 's/^ +//'
}

expect_capture() { # NAME EXPECTED-FILE
	sort "$2" >"$T/$1.want.sorted"
	sort "$T/$1.got" >"$T/$1.got.sorted"
	if diff -u "$T/$1.want.sorted" "$T/$1.got.sorted" >"$T/$1.diff"; then
		ok "$1: the probe got exactly the selected packets ($(awk '{s+=$1} END {print s+0}' "$2"))"
	else
		bad "$1: the probe's capture differs from the selection"
		sed 's/^/    /' "$T/$1.diff"
	fi
}

# our classifiers: "IF PROG-ID" for each enforced interface that has one
classifiers() {
	local i id
	for i in ra rb rc; do
		id=$(ns "$R" tc filter show dev "$i" ingress 2>/dev/null |
			grep 'pref 1 .*handle 0x5a57 .*zw_mirror' |
			sed -n 's/.* id \([0-9]*\).*/\1/p' | head -1)
		[ -n "$id" ] && echo "$i $id"
	done
}

matrix "$T/all.yaml" all
matrix "$T/allowed.yaml" allowed
matrix "$T/none.yaml" none
mkdir -p "$DIR"
SOCK=$T/zw.sock
zc() { "$ZONECTL" --socket "$SOCK" "$@"; }
ip netns exec "$R" "$ZWD" --state "$T/state" --socket "$SOCK" \
	--backend "xdp:ra,rb,rc,dir=$DIR,l7=off" --foreground --log "$T/zwd.log" &
DPID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.1; done
zc status >/dev/null 2>&1 || { echo "FAIL: zonewalld did not start"; cat "$T/zwd.log"; exit 1; }

# ---- traffic: all: refused, naming the probe; nothing installed ----
expect_rc 3 "a probe with traffic: all is refused by the XDP engine" zc commit "$T/all.yaml" -m "probe all"
check "the refusal names the probe and traffic: all" grep -q "probe 'ids' (interface probe0): traffic: all cannot be mirrored by the XDP engine" "$T/err" "$T/out"
check "no classifier installed" [ -z "$(classifiers)" ]

# ---- traffic: allowed ----
expect_rc 0 "zonewalld commits the matrix with probe ids (traffic allowed)" zc commit "$T/allowed.yaml" -m "SOC probe"
check "a zw_mirror classifier on each enforced interface, one program" \
	[ "$(classifiers | wc -l)" = 3 -a "$(classifiers | awk '{print $2}' | sort -u | wc -l)" = 1 ]
check "journalled: probe-added ids" bash -c "'$ZONECTL' --socket '$SOCK' journal --format json |
	$PY -c \"import json,sys; sys.exit(not any(e['action']=='probe-added' and e['detail']=='probe ids' for e in json.load(sys.stdin)['entries']))\""
zc audit --format json >"$T/audit.json" 2>&1
check "audit: the mirror is the engine's own, not a foreign tc program" \
	bash -c "grep -q '\"enforcement\"' '$T/audit.json' && ! grep -q 'zw_mirror' '$T/audit.json'"
capture allowed >"$T/allowed.got"
cat >"$T/allowed.want" <<'EOF'
3 IP 10.2.0.2 > 10.6.0.2 echo reply
3 IP 10.6.0.2 > 10.2.0.2 echo request
2 IP6 fd00:2::2 > fd00:6::2 echo reply
2 IP6 fd00:6::2 > fd00:2::2 echo request
EOF
expect_capture allowed "$T/allowed.want"

# ---- drift: the classifier detached by hand, put back by the watch ----
drifts() { zc journal --format json | grep -c 'mirror to probes'; }
d0=$(drifts)
ns "$R" tc filter del dev ra ingress pref 1 handle 0x5a57 bpf
n1=$(classifiers | wc -l)
for _ in $(seq 200); do [ "$(classifiers | wc -l)" = 3 ] && break; sleep 0.1; done
check "the classifier removed by hand from ra ($n1 left) is put back by the watch" \
	[ "$n1" = 2 -a "$(classifiers | wc -l)" = 3 ]
for _ in $(seq 50); do [ "$(drifts)" -gt "$d0" ] && break; sleep 0.1; done
check "journalled: the drift names the mirror to probes" [ "$(drifts)" -gt "$d0" ]

# ---- drift: a map entry changed by hand (the probe's interface) ----
id=$(classifiers | awk '$1 == "ra" {print $2}')
map=$(bpftool -j prog show id "$id" | $PY -c "import json,sys; print(' '.join(map(str, json.load(sys.stdin).get('map_ids', []))))")
pm=
for m in $map; do
	bpftool -j map show id "$m" | grep -q '"name":"zw_m_probes"' && pm=$m
done
d1=$(drifts)
if [ -n "$pm" ] && bpftool map update id "$pm" key 0 0 0 0 value 0 0 0 0; then
	ok "bpftool cleared the probe's interface in zw_m_probes (map $pm)"
else
	bad "no zw_m_probes map to change (program $id, maps $map)"
fi
for _ in $(seq 200); do [ "$(classifiers | awk '$1 == "ra" {print $2}')" != "$id" ] && break; sleep 0.1; done
check "the changed map is repaired by the watch (program $id replaced)" \
	[ -n "$(classifiers | awk '$1 == "ra" {print $2}')" -a "$(classifiers | awk '$1 == "ra" {print $2}')" != "$id" ]
check "journalled: the map drift" [ "$(drifts)" -gt "$d1" ]
capture repaired >"$T/repaired.got"
expect_capture repaired "$T/allowed.want"

# ---- no probe: the classifiers go, the probe gets nothing ----
expect_rc 0 "commit without probes" zc commit "$T/none.yaml" -m "no probe"
check "no classifier left" [ -z "$(classifiers)" ]
capture none >"$T/none.got"
: >"$T/none.want"
expect_capture none "$T/none.want"

kill -TERM "$DPID"; wait "$DPID" 2>/dev/null; DPID=
echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
