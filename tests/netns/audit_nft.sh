#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonectl audit with the nft engine (suite netns, root): zonewalld-test in
# an appliance namespace whose interfaces each route one zone network (the
# lab of audit_xdp.sh; JUMP-ADM narrowed to two hosts, so its rule looks
# up a set), the nft engine in that namespace, --on-drift alert so that
# what is changed by hand stays for the audit to see. A clean audit exits
# 0; then each tampering makes it exit 1 and names it in matrix terms and
# in the engine's words:
#  - a rule added by hand in zonewall's table (ops -> jump tcp/23);
#  - a rule deleted by hand (RA-JUMP's);
#  - an element added to a narrowing set (JUMP-ADM to one more host);
#  - a base chain of another table on the forward hook, before zonewall's.
# Between cases the daemon is restarted: its start-up reconciliation
# re-applies the active version (docs/daemon.md).
# Everything it creates carries a per-run tag and is removed on exit.
set -uo pipefail

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, nftables)"; exit 77; }
for t in ip nft; do
  command -v $t >/dev/null || { echo "FAIL: $t not installed (scripts/deps.sh)"; exit 1; }
done
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3

TAG=n$$$(printf %04x $((RANDOM % 65536)))
TAG=${TAG:0:8}
APP=zwa-$TAG-app
T=$(mktemp -d /tmp/zw-audit-nft.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
PID=
NS=()
export ZONEWALL_CLOCK_SYNCED=1

cleanup() {
  [ -n "$PID" ] && kill "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
  # the tables live in the appliance namespace: they go with it
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
nftx() { ip netns exec "$APP" nft "$@"; }
findings() { rep "[f['kind'] + ': ' + f['message'] + ' | ' + f.get('engine_text', '') for f in d['findings']]" | sed 's/^/    /'; }

start_zwd() {
  ip netns exec "$APP" "$ZWD" --state "$T/state" --socket "$SOCK" \
    --backend "nft:inspect_image=$T/inspect.img" --foreground --log "$T/zwd.log" --on-drift alert &
  PID=$!
  for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.1; done
  zc status >/dev/null 2>&1 || { echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1; }
}
# restore: a restart re-applies the active version where it drifted
restart_zwd() {
  kill "$PID" && wait "$PID" 2>/dev/null
  PID=
  start_zwd
}

# the appliance: one interface per zone, its network routed through it
ip netns add "$APP" || exit 1
ip -n "$APP" link set lo up
for i in 1 2 3 4 5 6 7; do
  ns=zwa-$TAG-z$i
  ip netns add "$ns" || exit 1
  NS+=("$ns")
  ip link add "a$TAG$i" netns "$APP" type veth peer name eth0 netns "$ns" || exit 1
  ip -n "$ns" link set eth0 up
  ip -n "$APP" link set "a$TAG$i" up
  ip -n "$APP" route add "10.212.$i.0/24" dev "a$TAG$i" || exit 1
done
# JUMP-ADM to two hosts only: its rule looks up a narrowing set
sed '/to: adm/a\    dst: [10.212.3.10/32, 10.212.3.20/32]' \
  "$S/tests/netns/audit-lab.yaml" >"$T/lab.yaml"

start_zwd
expect_rc 0 "commit the lab matrix" zc commit "$T/lab.yaml" -m "audit lab"
expect_rc 0 "clean audit with the nft engine" zc audit --format json
check "the engine's rules were decoded and compared" \
  [ "$(rep "(d['enforcement'][0]['rules_known'], d['enforcement'][0]['held'] == d['enforcement'][0]['declared'] > 0)")" = "(True, True)" ]
check "appliance checked: each zone network through one interface" \
  [ "$(rep "(d['appliance']['checked'], sorted(z['interfaces'] for z in d['appliance']['zones']) == sorted('a$TAG%d' % i for i in range(1, 8)))")" = "(True, True)" ]

# --- a rule added by hand in zonewall's table: ops -> jump tcp/23
if nftx add rule inet zonewall pair_ops_jump tcp dport 23 accept; then
  ok "nft added a rule to chain pair_ops_jump"
else
  bad "nft add rule inet zonewall pair_ops_jump"
fi
HANDLE=$(nftx -a list chain inet zonewall pair_ops_jump | sed -n 's/.*tcp dport 23 accept # handle \([0-9]*\)$/\1/p')
expect_rc 1 "audit after a rule added by hand" zc audit --format json
check "named in matrix terms" \
  [ "$(rep "[f['subject'] for f in d['findings'] if f['kind']=='rule-added' and 'no flow of version 1 allows it' in f['message']]")" = "['ops -> jump tcp/23']" ]
check "... in nft's own syntax, as nft -a lists it" \
  [ "$(rep "any(f['kind']=='rule-added' and f.get('engine_text', '').startswith('tcp dport 23 accept') for f in d['findings'])")" = True ]
check "... and in the engine's words (chain and handle)" \
  [ "$(rep "any(f['kind']=='rule-added' and 'pair_ops_jump' in f.get('engine_text', '') and 'handle $HANDLE' in f.get('engine_text', '') for f in d['findings'])")" = True ]
check "... and nothing else" \
  [ "$(rep "[f['kind'] for f in d['findings']]")" = "['rule-added']" ]
findings
if [ -n "$HANDLE" ] && nftx delete rule inet zonewall pair_ops_jump handle "$HANDLE"; then
  ok "the added rule deleted (handle $HANDLE)"
else
  bad "nft delete rule inet zonewall pair_ops_jump handle '$HANDLE'"
fi
expect_rc 0 "rule removed: clean again" zc audit

# --- a rule deleted by hand: RA-JUMP's (ra -> jump tcp/22)
HANDLE=$(nftx -a list chain inet zonewall pair_ra_jump | sed -n 's/.*goto flow_RA-JUMP .*# handle \([0-9]*\)$/\1/p')
if [ -n "$HANDLE" ] && nftx delete rule inet zonewall pair_ra_jump handle "$HANDLE"; then
  ok "RA-JUMP's rule deleted (handle $HANDLE)"
else
  bad "no rule of RA-JUMP in chain pair_ra_jump to delete ('$HANDLE')"
fi
expect_rc 1 "audit after a rule deleted by hand" zc audit --format json
check "named in matrix terms: the flow and what it no longer allows" \
  [ "$(rep "[(f['subject'], f.get('flow')) for f in d['findings'] if f['kind']=='rule-missing']")" = "[('ra -> jump tcp/22', 'RA-JUMP')]" ]
check "... and in the engine's words (the rule removed from pair_ra_jump)" \
  [ "$(rep "any(f['kind']=='rule-missing' and 'pair_ra_jump' in f.get('engine_text', '') for f in d['findings'])")" = True ]
check "... and nothing else" \
  [ "$(rep "[f['kind'] for f in d['findings']]")" = "['rule-missing']" ]
findings
restart_zwd
expect_rc 0 "restarted, the rule re-applied: clean again" zc audit

# --- an element added to JUMP-ADM's narrowing set: one more host in adm
SET=$(nftx list chain inet zonewall pair_jump_adm | sed -n 's/.*daddr @\([A-Za-z0-9_]*\) .*JUMP-ADM.*/\1/p' | head -1)
if [ -n "$SET" ] && nftx add element inet zonewall "$SET" '{ 10.212.3.99 }'; then
  ok "element 10.212.3.99 added to set $SET"
else
  bad "no narrowing set in chain pair_jump_adm ('$SET')"
fi
expect_rc 1 "audit after a set element added by hand" zc audit --format json
check "named in matrix terms: only the host added" \
  [ "$(rep "[(f['kind'], f['subject'], f.get('flow')) for f in d['findings']]")" = "[('rule-added', 'jump -> adm tcp/443 dst 10.212.3.99/32', 'JUMP-ADM')]" ]
check "... and in the engine's words (the rule that looks the set up)" \
  [ "$(rep "any('pair_jump_adm' in f.get('engine_text', '') and '$SET' in f.get('engine_text', '') for f in d['findings'])")" = True ]
findings
restart_zwd
expect_rc 0 "restarted, the set re-applied: clean again" zc audit

# --- a base chain of another table on the forward hook, before zonewall's
if nftx add table inet "zwa_$TAG" &&
   nftx add chain inet "zwa_$TAG" early '{ type filter hook forward priority -10; policy accept; }' &&
   nftx add rule inet "zwa_$TAG" early tcp dport 23 accept; then
  ok "table inet zwa_$TAG with a forward chain at priority -10"
else
  bad "nft add table/chain inet zwa_$TAG"
fi
expect_rc 1 "audit with a foreign base chain on the forward hook" zc audit --format json
check "the foreign chain is named with its hook, priority and policy" \
  [ "$(rep "[all(w in f['subject'] + f.get('engine_text', '') for w in ('table inet zwa_$TAG chain early', 'hook forward priority -10', 'policy accept', 'runs before')) for f in d['findings'] if f['kind']=='foreign']")" = "[True]" ]
check "... and nothing else" \
  [ "$(rep "[f['kind'] for f in d['findings']]")" = "['foreign']" ]
findings
nftx delete table inet "zwa_$TAG"
expect_rc 0 "foreign table removed: clean again" zc audit
zc audit >"$T/out.txt" 2>&1
sed -n '/^1\./,/^2\./p' "$T/out.txt" | sed 's/^/    /'

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
