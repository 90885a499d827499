#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Mirroring to probes with the nftables engine (docs/nft-engine.md,
# "Probes"), in a small lab of network namespaces:
#
#   A xchg 10.6.0.2 fd00:6::2 ─ra┐            ┌─ probe0 ── P (tcpdump)
#   B jump 10.2.0.2 fd00:2::2 ─rb┤ R (router) │
#   C ops  10.1.0.2           ─rc┘ zw-nft-apply --mirror ra+rb+rc
#
# Probe "ids" watches zone xchg. The capture on the probe interface must
# hold exactly the packets of the selected traffic, both directions, each
# once, and nothing else:
#  - traffic: all     A<->B pings (allowed), B->A and C->A requests
#                     (denied: seen before the verdict); nothing of C<->B
#  - traffic: allowed A<->B pings only, in both directions
#  - IPv6 likewise (A<->B ping6)
#  - drift: a rule removed by hand from the mirror table is reported by
#    --read-back; re-applying repairs it; a matrix without probes removes
#    the mirror table; a matrix with probes but no --mirror is refused at
#    prepare, naming the probe, and changes nothing; so is one while a
#    table of the mirror's name that is not ours exists (left alone);
#  - through zonewalld (--backend nft:mirror=...): the commit journals the
#    probe, the probe gets the same packets, and a mirror rule removed by
#    hand is put back by the enforcement watch (drift, then reconcile).
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
for c in nft tcpdump ping; do
	command -v $c >/dev/null || { echo "skip: needs $c (scripts/deps.sh)"; exit 77; }
done
B=${ZONEWALL_BUILDDIR:?run through meson test}
APPLY=$B/dataplane/nft/zw-nft-apply
ZONECTL=$B/control/zonectl
ZWD=$B/tests/control/zonewalld-test
PY=/usr/bin/python3
for x in "$APPLY" "$ZWD" "$ZONECTL" "$PY"; do
	[ -x "$x" ] || { echo "skip: $x not built or missing"; exit 77; }
done
. "${ZONEWALL_SRCDIR:?}/tests/lib/checks.sh"

TAG=zwm$$
R=${TAG}r A=${TAG}a BB=${TAG}b C=${TAG}c P=${TAG}p
T=$(mktemp -d)
DPID=
cleanup() {
	[ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
	for n in "$R" "$A" "$BB" "$C" "$P"; do ip netns delete "$n" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT
for n in "$R" "$A" "$BB" "$C" "$P"; do
	ip netns add "$n" || { echo "skip: cannot create network namespaces"; exit 77; }
	ip -n "$n" link set lo up
done
ns() { local n=$1; shift; ip netns exec "$n" "$@"; }
zw() { ns "$R" "$APPLY" --table zwm --l7 "queue=23,inspect_image=$T/inspect.img" "$@"; }

# hosts: NS RIF HIF V4 V6 (router .1 / ::1 on the same prefix)
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
# "SRC > DST TYPE" lines, sorted.
capture() { # NAME
	local pcap=$T/$1.pcap pid i
	# not through ns(): $! must be tcpdump's (timeout's) own process
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

# ---- a probe without --mirror: refused at prepare, nothing changes ----
matrix "$T/all.yaml" all
expect_rc 3 "a matrix with probes and no --mirror is refused" zw "$T/all.yaml"
check "the refusal names the probe and the option" grep -q "prepare: probe 'ids'.*nft:mirror=" "$T/err"
check "nothing was installed" bash -c "! ip netns exec $R nft list tables | grep -q zwm"

# ---- a table of the mirror's name that is not ours: refused, untouched ----
ns "$R" nft add table netdev zwm_mirror
expect_rc 1 "a foreign table netdev zwm_mirror is refused" zw --mirror ra+rb+rc "$T/all.yaml"
check "the refusal names it" grep -q "table netdev zwm_mirror exists and is not zonewall's" "$T/err"
check "it is left alone, nothing else installed" bash -c "ip netns exec $R nft list tables | grep -qx 'table netdev zwm_mirror' && ! ip netns exec $R nft list tables | grep -q 'inet zwm'"
ns "$R" nft delete table netdev zwm_mirror

# ---- traffic: all ----
expect_rc 0 "apply with probe ids (traffic all)" zw --mirror ra+rb+rc "$T/all.yaml"
check "table netdev zwm_mirror installed" ns "$R" nft list table netdev zwm_mirror >/dev/null
capture all >"$T/all.got"
cat >"$T/all.want" <<'EOF'
1 IP 10.1.0.2 > 10.6.0.2 echo request
2 IP 10.2.0.2 > 10.6.0.2 echo request
3 IP 10.2.0.2 > 10.6.0.2 echo reply
3 IP 10.6.0.2 > 10.2.0.2 echo request
2 IP6 fd00:2::2 > fd00:6::2 echo reply
2 IP6 fd00:6::2 > fd00:2::2 echo request
EOF
expect_capture all "$T/all.want"
expect_rc 0 "read-back: no drift" zw --mirror ra+rb+rc --read-back "$T/all.yaml"

# ---- drift on the mirror table ----
h=$(ns "$R" nft -a list chain netdev zwm_mirror in_ra | sed -n 's/.*probe ids.*# handle \([0-9]*\)$/\1/p' | head -1)
if [ -n "$h" ] && ns "$R" nft delete rule netdev zwm_mirror in_ra handle "$h"; then
	expect_rc 1 "read-back reports the mirror rule removed by hand" zw --mirror ra+rb+rc --read-back "$T/all.yaml"
	check "the drift names the mirror table" grep -q "mirror table zwm_mirror: missing" "$T/out"
	expect_rc 0 "re-apply repairs it" zw --mirror ra+rb+rc "$T/all.yaml"
	expect_rc 0 "read-back: no drift again" zw --mirror ra+rb+rc --read-back "$T/all.yaml"
else
	bad "no mirror rule to remove in chain in_ra"
fi

# ---- traffic: allowed ----
matrix "$T/allowed.yaml" allowed
expect_rc 0 "apply with probe ids (traffic allowed)" zw --mirror ra+rb+rc "$T/allowed.yaml"
capture allowed >"$T/allowed.got"
cat >"$T/allowed.want" <<'EOF'
3 IP 10.2.0.2 > 10.6.0.2 echo reply
3 IP 10.6.0.2 > 10.2.0.2 echo request
2 IP6 fd00:2::2 > fd00:6::2 echo reply
2 IP6 fd00:6::2 > fd00:2::2 echo request
EOF
expect_capture allowed "$T/allowed.want"

# ---- no probe: the mirror table goes, the probe gets nothing ----
matrix "$T/none.yaml" none
expect_rc 0 "apply without probes" zw --mirror ra+rb+rc "$T/none.yaml"
check "table netdev zwm_mirror removed" bash -c "! ip netns exec $R nft list table netdev zwm_mirror >/dev/null 2>&1"
capture none >"$T/none.got"
: >"$T/none.want"
expect_capture none "$T/none.want"

# ---- through zonewalld ----
zw --destroy >/dev/null
SOCK=$T/zw.sock
zc() { "$ZONECTL" --socket "$SOCK" "$@"; }
ip netns exec "$R" "$ZWD" --state "$T/state" --socket "$SOCK" \
	--backend "nft:table=zwm,mirror=ra+rb+rc,inspect_image=$T/inspect-zwd.img" --foreground --log "$T/zwd.log" &
DPID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
expect_rc 0 "zonewalld commits the matrix with the probe" zc commit "$T/all.yaml" -m "SOC probe"
check "journalled: probe-added ids" bash -c "'$ZONECTL' --socket '$SOCK' journal --format json |
	$PY -c \"import json,sys; sys.exit(not any(e['action']=='probe-added' and e['detail']=='probe ids' for e in json.load(sys.stdin)['entries']))\""
capture daemon >"$T/daemon.got"
expect_capture daemon "$T/all.want"
rules() { ns "$R" nft list chain netdev zwm_mirror in_ra 2>/dev/null | grep -c 'probe ids'; }
n0=$(rules)
h=$(ns "$R" nft -a list chain netdev zwm_mirror in_ra | sed -n 's/.*probe ids.*# handle \([0-9]*\)$/\1/p' | head -1)
ns "$R" nft delete rule netdev zwm_mirror in_ra handle "$h"
n1=$(rules)
# the watch repairs within a second or so; wait for it, up to 20 s
for _ in $(seq 200); do [ "$(rules)" = "$n0" ] && break; sleep 0.1; done
check "a mirror rule removed by hand ($n0 -> $n1) is put back by the watch ($(rules))" \
	[ "$n1" -lt "$n0" -a "$(rules)" = "$n0" ]
check "journalled: the drift names the mirror table" bash -c "'$ZONECTL' --socket '$SOCK' journal --format json | grep -q 'mirror table zwm_mirror'"
kill -TERM "$DPID"; wait "$DPID" 2>/dev/null; DPID=

# ---- destroy removes both tables ----
zw --mirror ra+rb+rc "$T/all.yaml" >/dev/null
expect_rc 0 "destroy" zw --destroy
check "no zonewall table left" bash -c "! ip netns exec $R nft list tables | grep -q zwm"

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
