#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonewalld --metrics and --config, with the file test engine (no root):
# the endpoint is off by default; the page parses with a real Prometheus
# parser (Debian's python3-prometheus-client) and carries the documented
# families with the right types, labels and values (per-flow counters from
# the engine's counters op, drift from read_back, commits, active version,
# journal head, syslog backlog; drops by reason, connection table and early
# drops from the stats op; the record pump's exporters); a silent client holds up neither scrapes
# nor the control socket; errors (404, 405) are HTTP errors; a bad
# configuration line is a usage error; options override the file.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
$PY -c 'import prometheus_client.parser' 2>/dev/null ||
	{ echo "SKIP: python3-prometheus-client missing (scripts/deps.sh installs it)"; exit 77; }

T=$(mktemp -d /tmp/zwd-metrics.XXXXXX)
SOCK=$T/zw.sock
A=$T/engA.img
BB=$T/engB.img
PID=
SILENT=
COLPID=
fails=0
checks=0
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -n "$SILENT" ] && kill "$SILENT" 2>/dev/null
	[ -n "$COLPID" ] && kill "$COLPID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_up() {
	for _ in $(seq 100); do
		zc status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; PID=; }

# Fetch PATH from the endpoint: prints "STATUS" on line 1, then the body.
cat >"$T/get.py" <<'EOF'
import sys, urllib.request, urllib.error
req = urllib.request.Request(sys.argv[1], method=sys.argv[2] if len(sys.argv) > 2 else "GET")
try:
    r = urllib.request.urlopen(req, timeout=10)
    print(r.status); print(r.headers.get("Content-Type")); sys.stdout.write(r.read().decode())
except urllib.error.HTTPError as e:
    print(e.code); print(e.headers.get("Content-Type")); sys.stdout.write(e.read().decode())
EOF
# Parse a page with prometheus_client and answer questions about it:
#   q.py PAGE 'EXPR' -> prints eval(EXPR) with
#   fam[name] = (type, [(sample_name, labels, value)...]) and
#   val(sample_name, **labels) = the one matching sample's value.
cat >"$T/q.py" <<'EOF'
import sys
from prometheus_client.parser import text_string_to_metric_families
text = open(sys.argv[1]).read()
fam = {}
for f in text_string_to_metric_families(text):
    fam[f.name] = (f.type, [(s.name, s.labels, s.value) for s in f.samples])
def val(name, **labels):
    hits = [s[2] for t, ss in fam.values() for s in ss
            if s[0] == name and all(s[1].get(k) == v for k, v in labels.items())]
    if len(hits) != 1:
        raise SystemExit("%s %s: %d samples" % (name, labels, len(hits)))
    return hits[0]
print(eval(sys.argv[2]))
EOF
q() { $PY "$T/q.py" "$T/page" "$1" 2>&1; }
scrape() { $PY "$T/get.py" "http://127.0.0.1:$PORT/metrics" >"$T/resp" 2>&1 && tail -n +3 "$T/resp" >"$T/page"; }

# --- off by default
PORT=$(free_port)
"$ZWD" --state "$T/st0" --socket "$SOCK" --foreground --log "$T/zwd.log" &
PID=$!
wait_up
if $PY "$T/get.py" "http://127.0.0.1:$PORT/metrics" >/dev/null 2>&1; then
	bad "an endpoint answers without --metrics"
else
	ok "no endpoint without --metrics"
fi
stop

# --- a configuration file, overridden by the command line
PORT=$(free_port)
cat >"$T/zonewalld.conf" <<EOF
# a comment, then settings; keys are the long options
state = $T/state
socket = "$T/not-this.sock"
backend = file:$T/not-this.img
syslog = 127.0.0.1:1
metrics = 127.0.0.1:$PORT
EOF
printf 'state = %s\nbogus-key = 1\n' "$T/state" >"$T/bad.conf"
"$ZWD" --config "$T/bad.conf" --foreground >"$T/out" 2>&1
rc=$?
check "an unknown key in the configuration is a usage error (exit $rc)" [ "$rc" = 2 ]
check "... naming the file, line and key" grep -q "bad.conf:2: unknown key 'bogus-key'" "$T/out"
printf 'state = %s\nconfig = /etc/x\n' "$T/state" >"$T/bad.conf"
"$ZWD" --config "$T/bad.conf" --foreground >"$T/out" 2>&1
check "config = ... in a configuration file is refused (exit $?)" grep -q "cannot be set in a configuration file" "$T/out"

# two IPFIX exporters: one to a collector that listens, one to none
XUP=$(free_port)
XDOWN=$(free_port)
$PY "$S/tests/control/collector.py" tcp "$XUP" "$T/col.bin" &
COLPID=$!
for _ in $(seq 50); do
	$PY -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$XUP" 2>/dev/null && break
	sleep 0.1
done
"$ZWD" --config "$T/zonewalld.conf" --socket "$SOCK" --backend "file:$A" \
	--backend "file:$BB" --foreground --log "$T/zwd.log" \
	--ipfix "tcp://127.0.0.1:$XUP" --ipfix "tcp://127.0.0.1:$XDOWN" \
	--log-all-flows --on-drift alert &
PID=$!
wait_up
check "--socket on the command line overrides the file" [ -S "$SOCK" -a ! -e "$T/not-this.sock" ]
check "the file's state directory is used" [ -f "$T/state/zonewall.db" ]

check "scrape before any commit" scrape
check "HTTP 200" [ "$(head -1 "$T/resp")" = 200 ]
check "content type of the text format 0.0.4" grep -q '^text/plain; version=0.0.4' "$T/resp"
check "parses; no active version yet" [ "$(q 'val("zonewall_active_version")')" = 0.0 ]
check "--backend on the command line replaced the file's" \
	[ "$(q 'sorted(l["backend"] for n, l, v in fam["zonewall_engine_up"][1])')" = "['file:$A', 'file:$BB']" ]
check "no per-flow series without an active version" [ "$(q '"zonewall_flow_packets" in fam')" = False ]

zc commit "$S/matrix/examples/minimal.yaml" -m "first (CHG-1)" >/dev/null || bad "commit"
# F-002 is flow index 1 of minimal.yaml (jump -> adm)
printf 'F-002 120 34000 7 2\n' >"$A.counters"
printf 'drop no-flow 15\ndrop rate 4\nconns 40 1024\nearly-drops 3\n' >"$A.stats"
# a connection of F-001 (flow 0), exported by both exporters
echo "new 0 1 2 6 10.1.0.5 30001 10.2.0.7 22 0 0 none" >"$A.records"
for _ in $(seq 50); do
	scrape && [ "$(q 'int(val("zonewall_export_records_total", exporter="tcp://127.0.0.1:'"$XUP"'"))')" -ge 1 ] 2>/dev/null && break
	sleep 0.1
done
check "scrape after a commit" scrape
check "active version 1" [ "$(q 'val("zonewall_active_version")')" = 1.0 ]
check "one commit ok" [ "$(q 'val("zonewall_commits_total", result="ok")')" = 1.0 ]
check "last commit time is now" [ "$(q 'int(abs(__import__("time").time() - val("zonewall_last_commit_timestamp_seconds")) < 120)')" = 1 ]
check "per-flow packets from the engine's counters op, with flow, zones and engine" \
	[ "$(q 'val("zonewall_flow_packets_total", flow="F-002", src_zone="jump", dst_zone="adm", engine="file", backend="file:'"$A"'")')" = 120.0 ]
check "per-flow bytes" [ "$(q 'val("zonewall_flow_bytes_total", flow="F-002", backend="file:'"$A"'")')" = 34000.0 ]
check "per-flow new connections" [ "$(q 'val("zonewall_flow_new_connections_total", flow="F-002", backend="file:'"$A"'")')" = 7.0 ]
check "per-flow drops" [ "$(q 'val("zonewall_flow_drops_total", flow="F-002", backend="file:'"$A"'")')" = 2.0 ]
check "the other engine's F-002 is its own series" [ "$(q 'val("zonewall_flow_packets_total", flow="F-002", backend="file:'"$BB"'")')" = 0.0 ]
check "a series per flow and engine (8 flows x 2)" [ "$(q 'len(fam["zonewall_flow_packets"][1])')" = 16 ]
check "flow counters are counters" [ "$(q 'fam["zonewall_flow_bytes"][0]')" = counter ]
check "no drift" [ "$(q 'sum(v for n, l, v in fam["zonewall_engine_drift"][1])')" = 0.0 ]
check "journal head is the last entry" \
	[ "$(q 'int(val("zonewall_journal_head_sequence"))')" = "$(zc journal --format json | $PY -c 'import json,sys; print(json.load(sys.stdin)["entries"][-1]["seq"])')" ]
check "syslog backlog: the server is down, every entry queued" \
	[ "$(q 'int(val("zonewall_syslog_queued_entries"))')" = "$(q 'int(val("zonewall_journal_head_sequence"))')" ]
# engine statistics (the stats op of backend.h)
check "drops by reason per engine" \
	[ "$(q 'val("zonewall_drops_total", engine="file", backend="file:'"$A"'", reason="no-flow")')" = 15.0 ]
check "drops of another reason" [ "$(q 'val("zonewall_drops_total", backend="file:'"$A"'", reason="rate")')" = 4.0 ]
check "only the reasons the engine counts" \
	[ "$(q 'sorted(l["reason"] for n, l, v in fam["zonewall_drops"][1] if l["backend"] == "file:'"$A"'")')" = "['no-flow', 'rate']" ]
check "an engine that counts nothing has no drop series" \
	[ "$(q 'len([l for n, l, v in fam["zonewall_drops"][1] if l["backend"] == "file:'"$BB"'"])')" = 0 ]
check "drops by reason are a counter" [ "$(q 'fam["zonewall_drops"][0]')" = counter ]
check "connection table in use" [ "$(q 'val("zonewall_connections", engine="file", backend="file:'"$A"'")')" = 40.0 ]
check "connection table size" [ "$(q 'val("zonewall_connection_table_size", backend="file:'"$A"'")')" = 1024.0 ]
check "early drops" [ "$(q 'val("zonewall_early_drops_total", backend="file:'"$A"'")')" = 3.0 ]
check "connections is a gauge, early drops a counter" \
	[ "$(q 'fam["zonewall_connections"][0] + " " + fam["zonewall_early_drops"][0]')" = "gauge counter" ]
check "an engine without a connection table has no such series" \
	[ "$(q 'len(fam["zonewall_connections"][1]) + len(fam["zonewall_connection_table_size"][1]) + len(fam["zonewall_early_drops"][1])')" = 3 ]
# exporter counters (the record pump, zwd_tm__status())
check "records pulled from the engines" [ "$(q 'val("zonewall_records_pulled_total") >= 1')" = True ]
check "records sent by the exporter whose collector is up" \
	[ "$(q 'val("zonewall_export_records_total", exporter="tcp://127.0.0.1:'"$XUP"'") >= 1')" = True ]
check "collector up: 1" [ "$(q 'val("zonewall_export_collector_up", exporter="tcp://127.0.0.1:'"$XUP"'")')" = 1.0 ]
check "collector down: 0" [ "$(q 'val("zonewall_export_collector_up", exporter="tcp://127.0.0.1:'"$XDOWN"'")')" = 0.0 ]
check "records dropped by cause: down" \
	[ "$(q 'val("zonewall_export_dropped_records_total", exporter="tcp://127.0.0.1:'"$XDOWN"'", cause="down") >= 1')" = True ]
check "every cause is a series of every exporter (4 x 2)" \
	[ "$(q 'len(fam["zonewall_export_dropped_records"][1])')" = 8 ]
check "nothing dropped where the collector is up" \
	[ "$(q 'sum(v for n, l, v in fam["zonewall_export_dropped_records"][1] if l["exporter"] == "tcp://127.0.0.1:'"$XUP"'")')" = 0.0 ]
# the dashboard and the documentation name what the page carries
missing=
for m in $(grep -o 'zonewall_[a-z_]*' "$S/contrib/grafana/zonewall.json" | sort -u); do
	grep -q "^$m[{ ]" "$T/page" || missing="$missing $m"
done
check "every metric of contrib/grafana/zonewall.json is served${missing:+ (missing:$missing)}" [ -z "$missing" ]
undoc=
for m in $(grep -o '^# TYPE [a-z_]*' "$T/page" | cut -d' ' -f3); do
	grep -q "\`$m\`" "$S/docs/daemon.md" || undoc="$undoc $m"
done
check "every family served is documented in docs/daemon.md${undoc:+ (not:$undoc)}" [ -z "$undoc" ]
check "every family has HELP and TYPE" \
	[ "$(grep -c '^# HELP' "$T/page")" = "$(grep -c '^# TYPE' "$T/page")" ]
check "names follow the conventions (zonewall_ prefix, counters end in _total)" \
	[ "$(q 'all(n.startswith("zonewall_") and (t != "counter" or n.endswith("_total")) for t, ss in fam.values() for n, l, v in ss)')" = True ]

# drift: engine B's image replaced behind the daemon's back (--on-drift
# alert: the watch leaves it so, rather than repairing it before the
# scrape)
cp "$BB" "$T/b.keep"
printf 'not an image' >"$BB"
scrape
check "drift 1 for the tampered engine" [ "$(q 'val("zonewall_engine_drift", backend="file:'"$BB"'")')" = 1.0 ]
check "drift 0 for the other" [ "$(q 'val("zonewall_engine_drift", backend="file:'"$A"'")')" = 0.0 ]
cp "$T/b.keep" "$BB"

# a client that connects and says nothing holds up nobody
$PY -c 'import socket,sys,time; s=socket.create_connection(("127.0.0.1",int(sys.argv[1]))); time.sleep(30)' "$PORT" &
SILENT=$!
sleep 0.3
t0=$(date +%s%N)
scrape && zc status >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
check "scrape and status answer at once while a client stalls (${ms} ms)" [ "$ms" -lt 2000 ]
kill "$SILENT" 2>/dev/null; wait "$SILENT" 2>/dev/null; SILENT=

$PY "$T/get.py" "http://127.0.0.1:$PORT/nothing" >"$T/resp"
check "404 elsewhere" [ "$(head -1 "$T/resp")" = 404 ]
$PY "$T/get.py" "http://127.0.0.1:$PORT/metrics" POST >"$T/resp"
check "405 for POST" [ "$(head -1 "$T/resp")" = 405 ]
check "the daemon still serves" scrape
stop

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
