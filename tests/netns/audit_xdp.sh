#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonectl audit with a real engine (suite netns, root, on a bpffs of its
# own: tests/with_bpffs.sh): zonewalld-test in an appliance namespace whose
# interfaces each route one zone network, the XDP engine on all of them.
# A clean audit exits 0; then each tampering makes it exit 1 and names it:
#  - a BPF map entry added with bpftool (ops -> jump tcp/23), in matrix
#    terms and in the engine's words (the map key);
#  - a route to a network no zone declares;
#  - the XDP program detached from an enforced interface.
# Everything it creates carries a per-run tag and is removed on exit.
set -uo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, XDP)"; exit 77; }
for t in ip bpftool; do
  command -v $t >/dev/null || { echo "FAIL: $t not installed (scripts/deps.sh)"; exit 1; }
done
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
ZWXDP=$B/dataplane/bpf/zw-xdp
PY=/usr/bin/python3
BPFFS=${ZONEWALL_TEST_BPFFS:-}
[ -n "$BPFFS" ] && grep -q " $BPFFS bpf " /proc/mounts ||
  { echo "FAIL: no bpffs of its own: run it through tests/with_bpffs.sh (meson test does)"; exit 1; }

TAG=a$$$(printf %04x $((RANDOM % 65536)))
TAG=${TAG:0:8}
APP=zwa-$TAG-app
DIR=$BPFFS/zwa-$TAG
T=$(mktemp -d /tmp/zw-audit-xdp.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
PID=
NS=()
export ZONEWALL_CLOCK_SYNCED=1

cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  "$ZWXDP" --dir "$DIR" unload >/dev/null 2>&1
  rm -rf "$DIR" 2>/dev/null
  for n in "${NS[@]}"; do ip netns del "$n" 2>/dev/null; done
  ip netns del "$APP" 2>/dev/null
  [ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT INT TERM

fails=0
checks=0
. "$(dirname "$0")/../lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
rep() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)" <"$T/out"; }

# the appliance: one interface per zone, its network routed through it
ip netns add "$APP" || exit 1
ip -n "$APP" link set lo up
IFACES=
for i in 1 2 3 4 5 6 7; do
  ns=zwa-$TAG-z$i
  ip netns add "$ns" || exit 1
  NS+=("$ns")
  ip link add "a$TAG$i" netns "$APP" type veth peer name eth0 netns "$ns" || exit 1
  ip -n "$ns" link set eth0 up
  ip -n "$APP" link set "a$TAG$i" up
  ip -n "$APP" route add "10.212.$i.0/24" dev "a$TAG$i" || exit 1
  IFACES=${IFACES:+$IFACES,}a$TAG$i
done
mkdir -p "$DIR"

# --on-drift alert: the tampering below must stay for the audit to see it
# (the default repairs within a second)
ip netns exec "$APP" "$ZWD" --state "$T/state" --socket "$SOCK" \
  --backend "xdp:$IFACES,dir=$DIR,inspect_image=$T/inspect.img" --foreground --log "$T/zwd.log" \
  --usage-interval 1 --on-drift alert &
PID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.1; done
zc status >/dev/null 2>&1 || { echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1; }

expect_rc 0 "commit the lab matrix" zc commit "$S/tests/netns/audit-lab.yaml" -m "audit lab"
expect_rc 0 "clean audit with the XDP engine" zc audit --format json
check "appliance checked: each zone network through one interface" \
  [ "$(rep "(d['appliance']['checked'], sorted(z['interfaces'] for z in d['appliance']['zones']) == sorted('a$TAG%d' % i for i in range(1, 8)))")" = "(True, True)" ]
check "the engine's rules were decoded and compared" \
  [ "$(rep "(d['enforcement'][0]['rules_known'], d['enforcement'][0]['held'] == d['enforcement'][0]['declared'] > 0)")" = "(True, True)" ]

# --- a BPF map entry added with bpftool: ops (zone 1) -> jump (zone 2) tcp/23
SLOT=$("$ZWXDP" --dir "$DIR" status --format json | $PY -c "import json,sys; print(json.load(sys.stdin)['slot'])")
MAP=$DIR/maps/zw_ports_$SLOT
KEY="01 00 02 00 06 00 17 00"
if bpftool map update pinned "$MAP" key hex $KEY value hex 00 00 00 00 01 00 00 00; then
  ok "bpftool added an entry to $MAP"
else
  bad "bpftool map update $MAP"
fi
expect_rc 1 "audit after a map entry added by hand" zc audit --format json
check "named in matrix terms" \
  [ "$(rep "any(f['kind']=='rule-added' and f['subject'].startswith('ops -> jump tcp/23') and 'no flow of version 1 allows it' in f['message'] for f in d['findings'])")" = True ]
check "... and in the engine's words (the map key)" \
  [ "$(rep "any(f['kind']=='rule-added' and '$KEY' in f.get('engine_text', '') for f in d['findings'])")" = True ]
rep "[f['message'] + ' | ' + f.get('engine_text', '') for f in d['findings']]" | sed 's/^/    /'
bpftool map delete pinned "$MAP" key hex $KEY
expect_rc 0 "entry removed: clean again" zc audit

# --- a route to a network no zone declares
ip -n "$APP" route add 198.51.100.0/24 dev "a${TAG}1"
expect_rc 1 "audit with a route to an undeclared network" zc audit --format json
check "the route is named" \
  [ "$(rep "[f['subject'] for f in d['findings'] if f['kind']=='route-undeclared']")" = "['198.51.100.0/24']" ]
ip -n "$APP" route del 198.51.100.0/24 dev "a${TAG}1"
expect_rc 0 "route removed: clean again" zc audit

# --- the XDP program detached from one interface
# (the engine pins one link per interface, named after it)
if bpftool link detach pinned "$DIR/links/a${TAG}3"; then
  ok "bpftool detached the XDP link of a${TAG}3"
else
  bad "bpftool link detach pinned $DIR/links/a${TAG}3"
fi
expect_rc 1 "audit with the program detached" zc audit --format json
check "the detached interface is named" \
  [ "$(rep "any('a${TAG}3' in f['message'] + f.get('engine_text', '') for f in d['findings'] if f['section']=='enforcement')")" = True ]
zc audit >"$T/out.txt" 2>&1
sed -n '/^1\./,/^2\./p' "$T/out.txt" | sed 's/^/    /'

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
