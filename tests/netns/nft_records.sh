#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The nftables engine's flow records (docs/telemetry.md) through zonewalld,
# in a lab of three network namespaces (client -- appliance -- server):
#  - an HTTP download through a `log: true` flow gives exactly one created
#    and one ended record, with the connection's 5-tuple and packets and
#    bytes in both directions (zonectl flows, and the IPFIX export decoded
#    by tshark: firewall events 1 and 2, initiator and responder counts);
#  - a connection held open for 7 s gives update records (active timeout
#    of 2 s: the engine's conntrack dump);
#  - a connection of a flow without `log: true` gives none;
#  - a denied probe gives a denied record (reason no-flow, zones named);
#  - nothing lost silently: none lost in a quiet run, and a flood of
#    denials while the daemon is stopped gives counted overruns (status);
#  - nf_conntrack_acct, off in the appliance's namespace, is on while the
#    daemon runs and off again when it stops.
# Needs root, nft, curl, python3, tshark.
set -u

[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces, nftables)"; exit 77; }
for c in ip nft curl tshark; do
	command -v "$c" >/dev/null ||
		{ echo "FAIL: $c is missing (scripts/deps.sh installs it)"; exit 1; }
done
B=${ZONEWALL_BUILDDIR:?}
SRC=$(cd "$(dirname "$0")/../.." && pwd)
PY=/usr/bin/python3
ZD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
COL=$SRC/tests/control/collector.py
[ -x "$ZD" ] || { echo "FAIL: $ZD not built"; exit 1; }

TAG=zwrec$$
C=$TAG-c F=$TAG-f S=$TAG-s
T=$(mktemp -d)
PIDS=()
fails=0
PORT=4739

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns exec $F nft delete table inet zonewall 2>/dev/null
	for n in $C $F $S; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# shellcheck source=../lib/three_ns.sh
. "$(dirname "$0")/../lib/three_ns.sh"
zw_three_ns $C $F $S "$TAG" 10.73 || exit 1
# a closed connection goes after a second of TIME_WAIT (its DESTROY event
# is the ended record)
ip netns exec $F sysctl -qw net.netfilter.nf_conntrack_tcp_timeout_time_wait=1 ||
	{ echo "FAIL: no conntrack sysctls in the namespace (nf_conntrack)"; exit 1; }
acct() { ip netns exec $F cat /proc/sys/net/netfilter/nf_conntrack_acct; }
ACCT0=$(acct)
[ "$ACCT0" = 0 ] || ip netns exec $F sysctl -qw net.netfilter.nf_conntrack_acct=0

cat >"$T/m.yaml" <<'EOF'
zonewall: 1
name: records-lab
zones:
  ops: {kind: operations, networks: [10.73.1.0/24], isolate: true}
  srv: {kind: servers, networks: [10.73.2.0/24]}
  adm: {kind: admin, networks: [10.73.3.0/24]}
  upd: {kind: update, networks: [10.73.4.0/24]}
  vpn: {kind: remote-access, networks: [10.73.5.0/24]}
  xchg: {kind: provider-exchange, networks: [10.73.6.0/24]}
services:
  web: {proto: tcp, ports: [8080]}
  quiet: {proto: tcp, ports: [8081]}
flows:
  - id: REC-WEB
    from: ops
    to: srv
    services: [web]
    justification: downloads from the lab's web server, recorded
    log: true
  - id: REC-QUIET
    from: ops
    to: srv
    services: [quiet]
    justification: a flow without records
EOF

ip netns exec $F "$PY" "$COL" udp $PORT "$T/ipfix.pcap" &
PIDS+=($!)
mkdir -p "$T/state"
ip netns exec $F "$ZD" --state "$T/state" --socket "$T/zw.sock" \
	--backend nft --ipfix "udp://127.0.0.1:$PORT" --flow-active-timeout 2 \
	--foreground \
	--log "$T/zd.log" &
ZPID=$!
PIDS+=($ZPID)
zc() { ip netns exec $F "$ZC" --socket "$T/zw.sock" "$@"; }
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
zc commit "$T/m.yaml" -m "records lab" >"$T/commit.out" 2>&1 ||
	{ bad "commit: $(cat "$T/commit.out") $(tail -5 "$T/zd.log")"; exit 1; }
ok "commit through zonewalld with the nft engine"
ip netns exec $F nft list chain inet zonewall flow_REC-WEB 2>/dev/null |
	grep -q "ct mark set" && ok "the log: true flow marks its connections" ||
	bad "flow_REC-WEB sets no ct mark"
ip netns exec $F nft list chain inet zonewall flow_REC-QUIET 2>/dev/null |
	grep -q "ct mark set" && bad "the flow without log: true marks its connections" ||
	ok "the flow without log: true marks nothing"
for _ in $(seq 50); do [ "$(acct)" = 1 ] && break; sleep 0.1; done
[ "$(acct)" = 1 ] && ok "nf_conntrack_acct on while the daemon records" ||
	bad "nf_conntrack_acct is $(acct)"

# a file of 200 KB to download, both ways non-zero
mkdir -p "$T/www"
head -c 200000 /dev/urandom >"$T/www/blob"
for p in 8080 8081; do
	ip netns exec $S "$PY" -m http.server $p --bind 10.73.2.2 --directory "$T/www" \
		>/dev/null 2>&1 &
	PIDS+=($!)
done
for _ in $(seq 50); do
	[ "$(ip netns exec $S ss -ltn | grep -c '10.73.2.2:808[01]')" = 2 ] && break
	sleep 0.1
done
# a long-lived connection of REC-WEB, idle
ip netns exec $C "$PY" -c "
import socket, time
s = socket.socket()
s.bind(('10.73.1.2', 41003))
s.connect(('10.73.2.2', 8080))
time.sleep(7)
s.close()" &
HELD=$!
get() { ip netns exec $C curl -s -m 5 --local-port "$2" -o "$T/got" -w '%{http_code}' "http://10.73.2.2:$1/blob"; }
[ "$(get 8080 41000)" = 200 ] && cmp -s "$T/got" "$T/www/blob" &&
	ok "download through REC-WEB (log: true)" || bad "download through REC-WEB"
[ "$(get 8081 41001)" = 200 ] && ok "download through REC-QUIET" || bad "download through REC-QUIET"
ip netns exec $C curl -s -m 2 --local-port 41002 http://10.73.2.2:9999/ >/dev/null 2>&1 &&
	bad "a probe of port 9999 passed" || ok "the probe of port 9999 is dropped"

# the ended record comes when conntrack forgets the connection (TIME_WAIT
# of 1 s, then conntrack's garbage collector: up to a minute)
wait $HELD
jflows() { zc flows --format json 2>/dev/null; }
ended=0
for _ in $(seq 900); do
	jflows >"$T/flows.json"
	if "$PY" - "$T/flows.json" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
sys.exit(0 if any(f["event"] == "ended" and f.get("sport") == 41000 for f in d["flows"]) else 1)
PYEOF
	then ended=1; break; fi
	sleep 0.1
done
[ $ended = 1 ] && ok "the ended record came" ||
	{ bad "no ended record within 90 s"; cat "$T/flows.json"; }

"$PY" - "$T/flows.json" <<'PYEOF'
import json, sys
fl = json.load(open(sys.argv[1]))["flows"]
fails = 0
def check(what, cond):
    global fails
    print(("ok: " if cond else "FAIL: ") + what)
    fails += 0 if cond else 1
def tuple_ok(f, sport, dport):
    return (f["proto"] == "tcp" and f["src"] == "10.73.1.2" and f["dst"] == "10.73.2.2"
            and f.get("sport") == sport and f.get("dport") == dport)
web = [f for f in fl if f.get("flow") == "REC-WEB" and f.get("sport") == 41000]
created = [f for f in web if f["event"] == "created"]
ended = [f for f in web if f["event"] == "ended"]
check("exactly one created record for REC-WEB (%d)" % len(created), len(created) == 1)
check("exactly one ended record for REC-WEB (%d)" % len(ended), len(ended) == 1)
check("no other record for REC-WEB", len(web) == len(created) + len(ended))
if created:
    c = created[0]
    check("created: 5-tuple tcp 10.73.1.2:41000 -> 10.73.2.2:8080", tuple_ok(c, 41000, 8080))
    check("created: zones ops -> srv", c["from"] == "ops" and c["to"] == "srv")
if ended:
    e = ended[0]
    check("ended: same 5-tuple", tuple_ok(e, 41000, 8080))
    check("ended: zones ops -> srv", e["from"] == "ops" and e["to"] == "srv")
    check("ended: packets and bytes of the download (%d packets, %d bytes)"
          % (e["packets"], e["bytes"]), e["packets"] > 10 and e["bytes"] > 200000)
upd = [f for f in fl if f["event"] == "update" and f.get("sport") == 41003]
check("the connection held open gave update records (%d)" % len(upd), len(upd) >= 1)
if upd:
    check("update: REC-WEB, 10.73.1.2:41003 -> 10.73.2.2:8080, packets counted",
          upd[0].get("flow") == "REC-WEB" and tuple_ok(upd[0], 41003, 8080)
          and upd[0]["packets"] >= 3)
check("no record of the flow without log: true",
      not any(f.get("sport") == 41001 for f in fl))
den = [f for f in fl if f["event"] == "denied" and f.get("sport") == 41002]
check("the probe gave a denied record", len(den) >= 1)
if den:
    d = den[0]
    check("denied: 10.73.1.2:41002 -> 10.73.2.2:9999 tcp, reason no-flow, ops -> srv",
          tuple_ok(d, 41002, 9999) and d["reason"] == "no-flow"
          and d["from"] == "ops" and d["to"] == "srv")
sys.exit(1 if fails else 0)
PYEOF
[ $? = 0 ] || { bad "zonectl flows records (above)"; cat "$T/flows.json"; }

# the IPFIX export: both directions' counts of the ended connection
sleep 0.5
tshark -r "$T/ipfix.pcap" -d "udp.port==$PORT,cflow" -T fields -E separator=' ' \
	-e cflow.firewall_event -e cflow.srcport -e cflow.dstport \
	-e cflow.initiator_packets -e cflow.responder_packets \
	-e cflow.initiator_octets -e cflow.responder_octets \
	>"$T/ipfix.txt" 2>"$T/tshark.err"
"$PY" - "$T/ipfix.txt" <<'PYEOF'
import sys
rows = []
for line in open(sys.argv[1]):
    f = line.split()
    if not f:
        continue
    # one packet may hold several records: fields are comma-separated lists
    cols = [c.split(",") for c in f]
    for i in range(len(cols[0])):
        try:
            rows.append([int(c[i]) for c in cols])
        except (IndexError, ValueError):
            pass
fails = 0
def check(what, cond):
    global fails
    print(("ok: " if cond else "FAIL: ") + what)
    fails += 0 if cond else 1
mine = [r for r in rows if r[1] == 41000 and r[2] == 8080]
created = [r for r in mine if r[0] == 1]
deleted = [r for r in mine if r[0] == 2]
check("IPFIX: one created event (firewallEvent 1) for the download (%d)" % len(created), len(created) == 1)
check("IPFIX: one deleted event (firewallEvent 2) for the download (%d)" % len(deleted), len(deleted) == 1)
if deleted:
    _, _, _, ip, rp, io, ro = deleted[0]
    check("IPFIX: initiator and responder packets non-zero (%d, %d)" % (ip, rp), ip > 0 and rp > 0)
    check("IPFIX: responder octets hold the download (%d), initiator's the request (%d)" % (ro, io),
          ro > 200000 and io > 0)
check("IPFIX: a denied event (firewallEvent 3) for the probe",
      any(r[0] == 3 and r[1] == 41002 and r[2] == 9999 for r in rows))
sys.exit(1 if fails else 0)
PYEOF
[ $? = 0 ] || { bad "IPFIX records (above)"; cat "$T/ipfix.txt" "$T/tshark.err"; }

# nothing lost in the engine (socket overruns, full queue), said by status
zc status --format json >"$T/status.json" 2>/dev/null
"$PY" -c "
import json, sys
t = json.load(open(sys.argv[1]))['telemetry']
sys.exit(0 if t.get('engine_lost') == 0 and t['records_pulled'] >= 5 else 1)" "$T/status.json" &&
	ok "status: records pulled from the engine, none lost in it" ||
	bad "status: $(cat "$T/status.json")"
# a flood of denials while the daemon does not read: the kernel drops
# NFLOG messages (ENOBUFS), the engine counts them, status shows them
# (until the kernel says it dropped some: Drops of /proc/net/netlink)
nl_drops() { ip netns exec $F awk 'NR > 1 && $2 == 12 { d += $9 } END { print d + 0 }' /proc/net/netlink; }
kill -STOP "$ZPID"
for _ in $(seq 10); do
	ip netns exec $C "$PY" -c "
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(100000):
    s.sendto(b'x', ('10.73.2.2', 9998))" 2>/dev/null
	[ "$(nl_drops)" -gt 0 ] && break
done
kill -CONT "$ZPID"
lost=0
for _ in $(seq 50); do
	zc status --format json >"$T/status2.json" 2>/dev/null
	lost=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['telemetry'].get('engine_lost', 0))" "$T/status2.json" 2>/dev/null || echo 0)
	[ "${lost:-0}" -ge 1 ] 2>/dev/null && break
	sleep 0.1
done
[ "${lost:-0}" -ge 1 ] 2>/dev/null && ok "a denial flood the daemon did not read: $lost lost message(s) counted" ||
	bad "no overrun counted after a flood of denials ($lost; kernel drops $(nl_drops))"
zc status 2>/dev/null | grep -q "lost in the engines" &&
	ok "zonectl status says records were lost in the engine" ||
	bad "zonectl status does not show the engine's losses"
zc flows --denied --format json >"$T/denied.json" 2>/dev/null
grep -q '"dport": 9998' "$T/denied.json" && ok "denials of the flood still recorded" ||
	bad "no denial of the flood recorded"
kill "$ZPID"; wait "$ZPID" 2>/dev/null
[ "$(acct)" = 0 ] && ok "nf_conntrack_acct put back when the daemon stops" ||
	bad "nf_conntrack_acct left at $(acct)"

ip netns exec $F nft delete table inet zonewall 2>/dev/null
[ $fails = 0 ] && echo "nft-records: all passed" || echo "nft-records: $fails failure(s)"
[ $fails = 0 ]
