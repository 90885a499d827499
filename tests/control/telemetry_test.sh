#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Flow telemetry end to end, with the file test engine replaying records
# (PATH.records) and real collectors: tshark decodes every template and
# field of the IPFIX/UDP export (no malformed packet, monotonic sequence
# numbers, templates resent when the collector comes back), nfcapd +
# 'nfdump -o nsel' shows the NSEL created/deleted/denied events, nfacctd
# (pmacct) receives the IPFIX stream, a TCP collector gets a session that
# starts with the templates; denials folded with their count; flows of
# 'log: false' exported only with --log-all-flows; zonectl flows and its
# filters, --follow and lines lost by a slow reader; status per exporter.
# No root needed: collectors listen on free loopback ports.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
COL=$S/tests/control/collector.py
for t in tshark nfcapd nfdump nfacctd; do
	command -v $t >/dev/null || { echo "SKIP: $t missing (scripts/deps.sh installs it)"; exit 77; }
done

T=$(mktemp -d /tmp/zw-telemetry.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
ENG=$T/eng.img
REC=$ENG.records
PIDS=()
ZPID=
fails=0
checks=0

cleanup() {
	[ -n "$ZPID" ] && kill -9 "$ZPID" 2>/dev/null
	for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null; done
	wait 2>/dev/null
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
start() {
	"$ZWD" --state "$T/state" --socket "$SOCK" --backend "file:$ENG" \
		--foreground --log "$T/zwd.log" "$@" &
	ZPID=$!
	for _ in $(seq 100); do
		zc status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1
}
stop() { kill "$ZPID"; wait "$ZPID" 2>/dev/null; ZPID=; }
# exporter N of the status, field F
xst() { zc status --format json | jq_ "d['telemetry']['exporters'][$1]$2"; }
read -r P1 P2 P3 P4 < <($PY -c '
import socket
ss = []
for t in (socket.SOCK_DGRAM,) * 3 + (socket.SOCK_STREAM,):
    s = socket.socket(socket.AF_INET, t); s.bind(("127.0.0.1", 0)); ss.append(s)
print(*[s.getsockname()[1] for s in ss])')

# F-001 (ops -> jump) logged, F-002 (jump -> adm) not
M=$T/m.yaml
$PY - "$S/matrix/examples/minimal.yaml" "$M" <<'PYEOF'
import sys
t = open(sys.argv[1]).read()
t = t.replace("    review: 2026-09-01\n", "    review: 2026-09-01\n    log: true\n", 1)
open(sys.argv[2], "w").write(t)
PYEOF

# --- usage errors
"$ZWD" --state "$T/x" --ipfix "sctp://h:1" --foreground >/dev/null 2>&1
check "--ipfix with an unknown scheme is a usage error" [ $? = 2 ]
"$ZWD" --state "$T/x" --ipfix-domain x --foreground >/dev/null 2>&1
check "--ipfix-domain must be a number" [ $? = 2 ]

start --ipfix "udp://127.0.0.1:$P1" --ipfix "nsel+udp://127.0.0.1:$P2" \
	--ipfix "127.0.0.1:$P3" --ipfix "tcp://127.0.0.1:$P4" --ipfix-domain 7
zc commit "$M" -m "telemetry test (CHG-1)" >/dev/null || { bad "commit"; exit 1; }

# --- phase 1: every collector down
for i in 1 2 3 4; do
	echo "new 0 1 2 6 10.1.0.5 3000$i 10.2.0.7 22 0 0 none" >>"$REC"
	sleep 0.25
done
sleep 0.3
D1=$(xst 0 "['dropped']['down']")
check "UDP collector down: records counted as dropped ($D1)" [ "$D1" -ge 1 ]
check "UDP collector down: state down" [ "$(xst 0 "['collector']")" = down ]
check "TCP collector down: every record dropped" [ "$(xst 3 "['dropped']['down']")" = 4 ]
zc status >"$T/status.txt"
grep -q "export tcp://127.0.0.1:$P4 (ipfix over tcp): collector " "$T/status.txt" &&
	ok "status prints each exporter" || { bad "status text"; cat "$T/status.txt"; }

# --- phase 2: collectors up
$PY "$COL" udp "$P1" "$T/p1.pcap" & PIDS+=($!)
mkdir -p "$T/nf"
nfcapd -w "$T/nf" -p "$P2" -b 127.0.0.1 -t 60 >"$T/nfcapd.log" 2>&1 & PIDS+=($!)
NFCAPD=$!
cat >"$T/nfacctd.conf" <<EOC
daemonize: false
nfacctd_ip: 127.0.0.1
nfacctd_port: $P3
plugins: print[p]
aggregate[p]: src_host, dst_host, src_port, dst_port, proto, fw_event
print_output[p]: csv
print_output_file[p]: $T/pmacct.csv
print_output_file_append[p]: true
print_refresh_time[p]: 1
EOC
nfacctd -f "$T/nfacctd.conf" >"$T/nfacctd.log" 2>&1 & PIDS+=($!)
$PY "$COL" tcp "$P4" "$T/p4.bin" & PIDS+=($!)
sleep 0.5
for _ in $(seq 80); do
	[ "$(xst 3 "['collector']")" = up ] && break
	sleep 0.1
done
check "TCP exporter reconnects with backoff" [ "$(xst 3 "['collector']")" = up ]

cat >>"$REC" <<'EOR'
new 0 1 2 6 10.1.0.5 40000 10.2.0.7 22 0 0 none
end 0 1 2 6 10.1.0.5 40000 10.2.0.7 22 12 3400 none rev=5/2000 start-ago-ms=1500
new 1 2 3 6 10.2.0.8 40010 10.3.0.4 22 0 0 none
drop -1 0 0 6 10.1.0.5 40001 10.3.0.9 23 0 0 no-flow
drop -1 0 0 6 10.1.0.5 40002 10.3.0.9 23 0 0 no-flow
drop -1 0 0 6 10.1.0.5 40003 10.3.0.9 23 0 0 no-flow
drop -1 0 0 1 10.1.0.5 7 10.3.0.9 2048 0 0 no-flow
new 0 1 2 6 fd00:1::5 40000 fd00:2::7 22 0 0 none
end 0 1 2 6 fd00:1::5 40000 fd00:2::7 22 4 400 none rev=2/200
EOR
sleep 2.5

# --- what the daemon says
J=$(zc status --format json)
check "IPFIX/UDP: collector up again" [ "$(xst 0 "['collector']")" = up ]
check "IPFIX/UDP: templates sent more than once (resent after the outage)" \
	[ "$(xst 0 "['template_sends']")" -ge 2 ]
check "not-logged flow F-002 counted, not exported" \
	[ "$(echo "$J" | jq_ "d['telemetry']['not_logged']")" = 1 ]

# --- tshark: every template and field, no malformed packet
tshark -r "$T/p1.pcap" -d "udp.port==$P1,cflow" -V >"$T/p1.txt" 2>&1
check "tshark decodes the IPFIX export" [ -s "$T/p1.txt" ]
grep -qiE "malformed|Expert Info \((Error|Warning)" "$T/p1.txt" &&
	{ bad "tshark: malformed packets"; grep -iE -m5 "malformed|Expert" "$T/p1.txt"; } ||
	ok "tshark: no malformed packet, no expert warning"
first=$(tshark -r "$T/p1.pcap" -d "udp.port==$P1,cflow" 2>/dev/null | head -1)
case "$first" in *Data-Template:256,257*) ok "the first message after the outage carries both templates" ;;
*) bad "first message: $first" ;; esac
for ie in flowId IP_SRC_ADDR IPV6_SRC_ADDR L4_SRC_PORT L4_DST_PORT PROTOCOL \
	ICMP_TYPE icmpTypeCodeIPv6 BYTES PKTS initiatorOctets responderOctets \
	initiatorPackets responderPackets flowStartMilliseconds \
	flowEndMilliseconds flowEndReason firewallEvent INPUT_SNMP OUTPUT_SNMP; do
	grep -q "Type: $ie (" "$T/p1.txt" || bad "template lacks $ie"
done
ok "both templates name every standard IE"
check "enterprise IEs under PEN 32473" [ "$(grep -c 'PEN: .*(32473)' "$T/p1.txt")" -ge 10 ]
check "observation domain 7" grep -q "Observation Domain Id: 7" "$T/p1.txt"
SEQ=$(tshark -r "$T/p1.pcap" -d "udp.port==$P1,cflow" -T fields -e cflow.sequence 2>/dev/null | tr '\n' ' ')
$PY -c "
import sys
s = [int(x) for x in sys.argv[1:]]
sys.exit(0 if len(s) >= 2 and all(a <= b for a, b in zip(s, s[1:])) else 1)" $SEQ &&
	ok "sequence numbers monotonic ($SEQ)" || bad "sequence numbers: $SEQ"
for v in 10.1.0.5 10.2.0.7 10.3.0.9 fd00:1::5 fd00:2::7; do
	grep -q "$v" "$T/p1.txt" || bad "tshark: no record with $v"
done
ok "tshark: the records' addresses"

# --- nfcapd / nfdump -o nsel
kill "$NFCAPD"; wait "$NFCAPD" 2>/dev/null
nfdump -R "$T/nf" -o nsel >"$T/nsel.txt" 2>&1
nfdump -R "$T/nf" -o "fmt:%evt %sap %dap %pkt" >"$T/nselfmt.txt" 2>&1
check "nfdump: created event (nfdump prints ADD)" grep -qE " ADD.*10.1.0.5:40000 .*10.2.0.7:22" "$T/nsel.txt"
check "nfdump: DELETE event" grep -qE "DELETE.*10.1.0.5:40000 .*10.2.0.7:22" "$T/nsel.txt"
check "nfdump: DENIED event, XEvent I-ACL" grep -qE "DENIED +I-ACL.*10.1.0.5:.* .*10.3.0.9:23" "$T/nsel.txt"
check "nfdump: the denials folded, count 3" grep -qE "DENIED .*10.3.0.9:23 +3$" "$T/nselfmt.txt"
check "nfdump: IPv6 events" grep -q "fd00:2::7" "$T/nsel.txt"
grep -q "10.3.0.4" "$T/nsel.txt" && bad "nfdump: the not-logged flow was exported" ||
	ok "nfdump: the not-logged flow is not there"

# --- pmacct (Debian 12's 1.7.7 reads `fw_event` as natEvent, IE 230: it
# decodes firewallEvent, IE 233, from 1.7.8 on; so reception is checked,
# and that the event column is natEvent's, not ours: docs/telemetry.md)
sleep 1.5
check "nfacctd receives the IPFIX stream" grep -q "10.1.0.5,10.2.0.7,40000,22,tcp" "$T/pmacct.csv"
if nfacctd -V 2>&1 | grep -q 'nfacctd 1\.7\.7'; then
	check "pmacct 1.7.7 heads the column NAT_EVENT (its fw_event is natEvent)" \
		grep -q '^SRC_IP,DST_IP,SRC_PORT,DST_PORT,PROTOCOL,NAT_EVENT,' "$T/pmacct.csv"
else
	check "pmacct decodes firewallEvent: created (1) for the allowed connection" \
		grep -qE "10.1.0.5,10.2.0.7,40000,22,tcp,1," "$T/pmacct.csv"
fi

# --- TCP collector: a session that starts with the templates
$PY - "$T/p4.bin" <<'PYEOF' && ok "TCP: IPFIX messages, templates first" || bad "TCP stream"
import struct, sys
b = open(sys.argv[1], "rb").read()
assert len(b) > 16
v, l = struct.unpack("!HH", b[:4])
assert v == 10 and struct.unpack("!H", b[16:18])[0] == 2
off = n = 0
while off < len(b):
    v, l = struct.unpack("!HH", b[off:off + 4]); assert v == 10 and l >= 16
    off += l; n += 1
assert off == len(b)
PYEOF

# --- zonectl flows
zc flows >"$T/flows.txt"
check "flows: created F-001" grep -qE "created F-001 +ops -> jump tcp 10.1.0.5:40000 -> 10.2.0.7:22" "$T/flows.txt"
check "flows: ended with counters" grep -qE "ended +F-001 .* packets 12 bytes 3400" "$T/flows.txt"
check "flows: denied with reason" grep -qE "denied +- +ops -> adm tcp 10.1.0.5:40001 -> 10.3.0.9:23 reason no-flow" "$T/flows.txt"
check "flows: not-logged flow absent" bash -c "! grep -q 10.3.0.4 '$T/flows.txt'"
check "flows --denied" bash -c "[ \$('$ZC' --socket '$SOCK' flows --denied | grep -vc ' denied ') = 0 ]"
check "flows --zone jump" bash -c "[ \$('$ZC' --socket '$SOCK' flows --zone jump | grep -c .) = 8 ]"
check "flows --flow F-001 --format json" \
	[ "$(zc flows --flow F-001 --format json | jq_ "len(d['flows'])")" = 8 ]
zc flows --follow --denied >"$T/follow.txt" &
FPID=$!
sleep 0.5
echo "drop -1 0 0 17 10.1.0.6 5353 10.3.0.9 53 0 0 no-flow" >>"$REC"
sleep 0.8
check "flows --follow prints new records" grep -q "10.1.0.6:5353" "$T/follow.txt"
# a reader that falls behind loses lines, counted
kill -STOP "$FPID"
$PY -c "
import sys
with open(sys.argv[1], 'a') as f:
    for i in range(20000):
        f.write('drop -1 0 0 6 10.1.0.7 %d 10.3.0.9 25 0 0 no-flow\n' % (1024 + i % 60000))" "$REC"
sleep 1.5
kill -CONT "$FPID"
sleep 0.8
kill "$FPID"; wait "$FPID" 2>/dev/null
check "flows --follow: lost lines counted" grep -qE "^# [0-9]+ line\(s\) lost" "$T/follow.txt"
check "the pump kept up (20000 more records pulled)" \
	[ "$(zc status --format json | jq_ "d['telemetry']['records_pulled']")" -ge 20014 ]
stop

# --- --log-all-flows: the not-logged flow too
start --log-all-flows
echo "new 1 2 3 6 10.2.0.8 40011 10.3.0.4 22 0 0 none" >>"$REC"
sleep 0.5
check "--log-all-flows: every flow's records" grep -q "10.3.0.4:22" <(zc flows --flow F-002)
stop

echo "# $checks checks, $fails failed"
[ "$fails" = 0 ]
