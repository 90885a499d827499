#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonectl audit with the DPDK engine (suite netns, root): zonewall-dpdk in
# an appliance namespace, one net_af_packet port on each of two veths
# bridged as a pair, under --no-huge (as tests/netns/engine_dpdk.py starts
# it), programmed by zonewalld-test (--backend dpdk:SOCKET, --on-drift
# alert so that what is changed behind its back stays for the audit). A
# clean audit exits 0; then another image LOADed directly on the engine's
# control socket (docs/dpdk-engine.md) makes it exit 1 and name it: the
# image held and the one of the active version, in the engine's words
# (its STATUS line); the active image LOADed back makes it clean again.
# Everything it creates carries a per-run tag and is removed on exit.
set -uo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, DPDK EAL)"; exit 77; }
command -v ip >/dev/null || { echo "FAIL: ip not installed (scripts/deps.sh)"; exit 1; }
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
DPDK=$B/dataplane/dpdk/zonewall-dpdk
PY=/usr/bin/python3
[ -x "$DPDK" ] || { echo "FAIL: $DPDK not built"; exit 1; }

TAG=d$$$(printf %04x $((RANDOM % 65536)))
TAG=${TAG:0:8}
APP=zwa-$TAG-app
T=$(mktemp -d /tmp/zw-audit-dpdk.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
DSOCK=$T/dpdk.sock
PID=
DPID=
NS=()
export ZONEWALL_CLOCK_SYNCED=1

cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  [ -n "$DPID" ] && kill "$DPID" 2>/dev/null && wait "$DPID" 2>/dev/null
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
# LOAD IMAGE directly on zonewall-dpdk's control socket, for the day the
# daemon programs (ZONEWALL_TODAY, else today): its reply line
load() {
  $PY - "$DSOCK" "$1" <<'EOF'
import datetime, os, socket, sys, time
data = open(sys.argv[2], "rb").read()
t = os.environ.get("ZONEWALL_TODAY")
day = ((datetime.date.fromisoformat(t) - datetime.date(1970, 1, 1)).days
       if t else int(time.time() // 86400))
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.settimeout(60)
s.connect(sys.argv[1])
s.sendall(f"LOAD {day} {len(data)}\n".encode() + data)
print(s.makefile("rb").readline().decode().strip())
EOF
}

# the appliance: two veths to two hosts, one DPDK port on each, a pair
ip netns add "$APP" || exit 1
ip -n "$APP" link set lo up
for i in 1 2; do
  ns=zwa-$TAG-z$i
  ip netns add "$ns" || exit 1
  NS+=("$ns")
  ip link add "a$TAG$i" netns "$APP" type veth peer name eth0 netns "$ns" || exit 1
  ip -n "$ns" link set eth0 up
  ip -n "$APP" link set "a$TAG$i" up
done
ip netns exec "$APP" "$DPDK" --no-huge -m 1024 --no-shconf --no-pci -l 0-1 \
  --log-level lib.eal:error \
  "--vdev=net_af_packet0,iface=a${TAG}1" "--vdev=net_af_packet1,iface=a${TAG}2" \
  -- --control "$DSOCK" --conns 4096 --pair 0:1 >"$T/dpdk.log" 2>&1 &
DPID=$!
for _ in $(seq 200); do [ -S "$DSOCK" ] && break; kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
[ -S "$DSOCK" ] || { echo "zonewall-dpdk did not start"; cat "$T/dpdk.log"; exit 1; }

ip netns exec "$APP" "$ZWD" --state "$T/state" --socket "$SOCK" \
  --backend "dpdk:$DSOCK" --foreground --log "$T/zwd.log" --on-drift alert &
PID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.1; done
zc status >/dev/null 2>&1 || { echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1; }

expect_rc 0 "commit the lab matrix" zc commit "$S/tests/netns/audit-lab.yaml" -m "audit lab"
expect_rc 0 "clean audit with the DPDK engine" zc audit --format json
check "the engine enforces the active image" \
  [ "$(rep "(d['enforcement'][0]['engine'], d['enforcement'][0]['image_matches'])")" = "('dpdk', True)" ]
ACTIVE=$(rep "d['active']['image_sha256']")

# --- another image LOADed behind the daemon's back: JUMP-ADM narrowed
sed '/to: adm/a\    dst: [10.212.3.10/32]' "$S/tests/netns/audit-lab.yaml" >"$T/other.yaml"
# (zonectl compile prints the image's SHA-256, which covers its body)
OTHER=$("$ZC" compile "$T/other.yaml" -o "$T/other.img" | cut -d' ' -f1)
check "another matrix compiled ($OTHER)" [ -n "$OTHER" -a "$OTHER" != "$ACTIVE" ]
check "the active image compiles to the same image" \
  [ "$("$ZC" compile "$S/tests/netns/audit-lab.yaml" -o "$T/active.img" | cut -d' ' -f1)" = "$ACTIVE" ]
R=$(load "$T/other.img")
check "zonewall-dpdk took the other image ($R)" [ "${R%% *}" = OK ]
expect_rc 1 "audit with zonewall-dpdk running another image" zc audit --format json
check "named: the image held and the active version's" \
  [ "$(rep "[(f['kind'], '$OTHER' in f['message'], '$ACTIVE' in f['message']) for f in d['findings']]")" = "[('engine-image', True, True)]" ]
check "... in the engine's words (its STATUS: sha256 and matrix name)" \
  [ "$(rep "all('sha256=$OTHER' in f.get('engine_text', '') and 'name=audit-netns-lab' in f.get('engine_text', '') for f in d['findings'])")" = True ]
check "... and the engine's section says so" \
  [ "$(rep "(d['enforcement'][0]['image_matches'], d['enforcement'][0]['sha256'] == '$OTHER')")" = "(False, True)" ]
rep "[f['message'] + ' | ' + f.get('engine_text', '') for f in d['findings']]" | sed 's/^/    /'
zc audit >"$T/out.txt" 2>&1
sed -n '/^1\./,/^2\./p' "$T/out.txt" | sed 's/^/    /'

R=$(load "$T/active.img")
check "the active image LOADed back ($R)" [ "${R%% *}" = OK ]
expect_rc 0 "the active image again: clean" zc audit

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
