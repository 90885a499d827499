#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonectl audit end to end with zonewalld-test and the file engine (no
# root): a clean audit exits 0; an engine image tampered with exits 1 and
# names the difference in matrix terms; usage from the engine's counters
# (PATH.counters), kept across a re-apply (counter reset) and a daemon
# restart, and the recertification list; cartography template and
# comparison; --since with the allowed-traffic change; explain --at across
# three versions against the oracle (explain on each version's matrix);
# JSON validated against the schema of docs/audit.md; CSV parsed back
# (formula injection neutralised); HTML rendered by headless Chromium
# (screenshot, page text); the Firewall Orchestrator export; read-only
# --state (exit 3, says which evidence is missing).
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 CLI missing"; exit 77; }
$PY -c 'import jsonschema' 2>/dev/null || { echo "FAIL: python3-jsonschema missing (scripts/deps.sh)"; exit 1; }
command -v chromium >/dev/null || { echo "FAIL: chromium missing (scripts/deps.sh)"; exit 1; }

T=$(mktemp -d /tmp/zw-audit-test.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
ST=$T/state
A=$T/engA.img
PID=
fails=0
checks=0
# The host clock of a container is often not synchronised; the report
# says this value comes from the test hook.
export ZONEWALL_CLOCK_SYNCED=1

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
start() {
	# --on-drift alert: the engine tampered with below must stay so for
	# the audit to see it (the default repairs it within a second)
	"$ZWD" --state "$ST" --socket "$SOCK" --backend "file:$A" \
		--foreground --log "$T/zwd.log" --usage-interval 1 \
		--on-drift alert &
	PID=$!
	for _ in $(seq 100); do
		"$ZC" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1
}
stop() { kill "$PID"; wait "$PID" 2>/dev/null; PID=; }
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
# the report's field, from the last audit --format json in $T/out
rep() { jq_ "$1" <"$T/out"; }

M1=$S/matrix/examples/minimal.yaml
M2=$T/m2.yaml
M3=$T/m3.yaml
# v2: F-001 also allows https; v3: F-006 removed, F-005 owned
sed 's/services: \[ssh, rdp\]/services: [ssh, rdp, https]/' "$M1" >"$M2"
$PY - "$M2" "$M3" <<'PYEOF'
import sys
t = open(sys.argv[1]).read()
i = t.index("  - id: F-006")
j = t.index("  - id: F-007")
t = t[:i] + t[j:]
t = t.replace("    justification: Authenticated VPN users reach the jump hosts.\n",
              "    justification: Authenticated VPN users reach the jump hosts.\n    owner: secops\n")
open(sys.argv[2], "w").write(t)
PYEOF

start
expect_rc 3 "audit with no active version: evidence missing" zc audit
grep -q "no active version" "$T/err" && ok "... and says which" || bad "missing evidence not named"

# --- clean
expect_rc 0 "commit v1" zc commit "$M1" -m "initial matrix (CHG-1)"
sleep 1.1; T1=$(date -u +%Y-%m-%dT%H:%M:%SZ)
expect_rc 0 "clean audit" zc audit
grep -q "VERDICT: CLEAN" "$T/out" && ok "text verdict clean" || bad "text verdict"
expect_rc 0 "clean audit, json" zc audit --format json
check "json: verdict clean, one engine read, rules compared" \
	[ "$(rep "(d['verdict'], d['enforcement'][0]['held'] == d['enforcement'][0]['declared'] > 0)")" = "('clean', True)" ]
cp "$T/out" "$T/clean.json"

# --- the schema of docs/audit.md
$PY - "$S/docs/audit.md" >"$T/schema.json" <<'PYEOF'
import re, sys
t = open(sys.argv[1]).read()
m = re.search(r"<!-- report-schema -->\s*```json\n(.*?)```", t, re.S)
print(m.group(1) if m else "")
PYEOF
check "docs/audit.md holds the report's JSON schema" [ -s "$T/schema.json" ]
validate() { $PY -c "
import json, sys, jsonschema
jsonschema.validate(json.load(open('$1')), json.load(open('$T/schema.json')))
"; }
check "clean report validates against the schema" validate "$T/clean.json"

# --- tamper with the engine: it holds another image (v2's rules)
cp "$A" "$T/v1.img"
"$ZC" compile "$M2" -o "$T/v2.img" >/dev/null 2>&1
cp "$T/v2.img" "$A"
expect_rc 1 "audit of a tampered engine" zc audit --format json
cp "$T/out" "$T/tampered.json"
check "names the engine on another image" [ "$(rep "any(f['kind']=='engine-image' for f in d['findings'])")" = True ]
check "names the added rule in matrix terms" \
	[ "$(rep "[f['message'] for f in d['findings'] if f['kind']=='rule-added'][0]")" = \
	  "file:$A: file allows ops -> jump tcp/443: no flow of version 1 allows it (the engine attributes it to flow F-001)" ]
check "tampered report validates against the schema" validate "$T/tampered.json"
expect_rc 1 "audit of a tampered engine, text" zc audit
grep -q "FINDING \[high\] .*allows ops -> jump tcp/443: no flow of version 1 allows it" "$T/out" \
	&& ok "text names it" || bad "text does not name it"
zc audit --format html -o "$T/tampered.html"
zc audit --format csv -o "$T/tampered.csv"
cp "$T/v1.img" "$A"
expect_rc 0 "engine put back: clean again" zc audit

# --- HTML through headless Chromium: screenshot and page text
CHR="chromium --headless --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run --user-data-dir=$T/chromium"
timeout 120 $CHR --window-size=1280,2400 --screenshot="$T/tampered.png" "file://$T/tampered.html" >"$T/chr.log" 2>&1
check "chromium took a screenshot of the report" [ -s "$T/tampered.png" ]
check "... a PNG" bash -c "head -c 8 '$T/tampered.png' | od -An -c | grep -q 'P   N   G'"
timeout 120 $CHR --dump-dom "file://$T/tampered.html" >"$T/dom.html" 2>>"$T/chr.log"
$PY - "$T/dom.html" >"$T/page.txt" <<'PYEOF'
import html.parser, sys
class P(html.parser.HTMLParser):
    def __init__(s): super().__init__(); s.out = []; s.skip = False
    def handle_starttag(s, t, a): s.skip = t == "style"
    def handle_endtag(s, t): s.skip = False
    def handle_data(s, d):
        if not s.skip: s.out.append(d)
p = P(); p.feed(open(sys.argv[1]).read()); print(" ".join(p.out))
PYEOF
check "page text: the verdict first" bash -c "grep -o 'Verdict: [A-Z]*' '$T/page.txt' | head -1 | grep -q FINDINGS"
check "page text: the drift in matrix terms" grep -q "allows ops -> jump tcp/443: no flow of version 1 allows it" "$T/page.txt"
check "page text: the zone grid" grep -q "Zone grid" "$T/page.txt"
check "drift is in red (class drift)" grep -q 'class="drift"' "$T/dom.html"
check "the page is self-contained (no script, no external resource)" \
	bash -c "! grep -E -q '<script|src=|href=\"http' '$T/tampered.html'"

# --- CSV: one finding per row, parsed back
check "csv parses: one row per finding, note and missing piece" [ "$($PY -c "
import csv, json
rows = list(csv.DictReader(open('$T/tampered.csv', newline='')))
d = json.load(open('$T/tampered.json'))
print(len(rows) == len(d['findings']) + len(d['notes']) + len(d['missing']),
      sum(r['type'] == 'finding' for r in rows) == len(d['findings']))
")" = "True True" ]

# --- usage: counters for F-001 only
echo "F-001 10 1000" >"$A.counters"
sleep 2.5
expect_rc 1 "recertification with --unused-days 0" zc audit --unused-days 0 --format json
check "F-001 was hit, has a last-hit time" [ "$(rep "[(f['packets'], f['last_hit'] is not None) for f in d['usage']['flows'] if f['flow']=='F-001'][0]")" = "(10, True)" ]
check "the other flows are on the recertification list, marked never hit" \
	[ "$(rep "sorted(f['flow'] for f in d['usage']['flows'] if f['recertify'] and f['never_hit'])")" = "['F-002', 'F-003', 'F-004', 'F-005', 'F-006', 'F-007', 'F-008']" ]
check "... each with its justification" [ "$(rep "all(f['justification'] for f in d['usage']['flows'] if f['recertify'])")" = True ]
expect_rc 0 "with the default 90 days, nothing to recertify yet" zc audit

# re-apply (v2): the engine's counter restarts lower (a reset)
expect_rc 0 "commit v2" zc commit "$M2" -m "F-001 also https (CHG-2)"
sleep 1.1; T2=$(date -u +%Y-%m-%dT%H:%M:%SZ)
echo "F-001 4 400" >"$A.counters"
sleep 2.5
zc audit --unused-days 0 --format json >"$T/out"
check "counters survive a re-apply (10 + 4 after a reset)" [ "$(rep "[f['packets'] for f in d['usage']['flows'] if f['flow']=='F-001'][0]")" = 14 ]
stop
echo "F-001 6 600" >"$A.counters"
start
zc audit --unused-days 0 --format json >"$T/out"
check "... and a daemon restart (14 + 2)" [ "$(rep "[f['packets'] for f in d['usage']['flows'] if f['flow']=='F-001'][0]")" = 16 ]
check "samples are in the state database" [ "$(sqlite3 "$ST/zonewall.db" "SELECT SUM(packets) FROM usage_sample WHERE flow='F-001'")" = 16 ]
rm -f "$A.counters"

# --- v3, then explain --at across the three versions against the oracle
sleep 1.1
expect_rc 0 "commit v3" zc commit "$M3" -m "remove F-006 (CHG-3)"
sleep 1.1; T3=$(date -u +%Y-%m-%dT%H:%M:%SZ)
oracle_ok=1
for q in "10.1.0.5 10.2.0.9 tcp 443" "10.1.0.5 10.2.0.9 tcp 22" "10.2.0.7 10.4.0.1 tcp 443" \
	 "10.5.0.3 10.2.0.1 tcp 22" "10.2.0.7 10.3.0.1 tcp 22" "10.1.0.5 10.1.0.6 tcp 22"; do
	for v in 1 2 3; do
		eval "m=\$M$v"
		want=$("$ZC" explain "$m" $q)
		got=$(zc explain --at "v$v" $q 2>/dev/null)
		[ "$got" = "$want" ] || { oracle_ok=0; echo "    v$v $q: got '$got', oracle '$want'"; }
	done
	# by time: each version's own activation time
	for v in 1 2 3; do
		eval "m=\$M$v; t=\$T$v"
		got=$(zc explain --at "$t" $q 2>/dev/null)
		[ "$got" = "$("$ZC" explain "$m" $q)" ] || { oracle_ok=0; echo "    at $t (v$v) $q: got '$got'"; }
	done
done
check "explain --at vN and --at TIME agree with the oracle on each version's matrix" [ $oracle_ok = 1 ]
check "explain --at a date: the version in force at the end of that day (v3)" \
	[ "$(zc explain --at "$(date -u +%Y-%m-%d)" 10.2.0.7 10.4.0.1 tcp 443 2>/dev/null)" = "$("$ZC" explain "$M3" 10.2.0.7 10.4.0.1 tcp 443)" ]
expect_rc 1 "explain --at before the first version" zc explain --at 2000-01-01 10.1.0.5 10.2.0.9 tcp 22
expect_rc 2 "explain --at a bad time" zc explain --at yesterday 10.1.0.5 10.2.0.9 tcp 22
check "explain --at works read-only from --state" \
	[ "$("$ZC" --state "$ST" explain --at v2 10.1.0.5 10.2.0.9 tcp 443 2>/dev/null)" = "$("$ZC" explain "$M2" 10.1.0.5 10.2.0.9 tcp 443)" ]

# --- history: --since
expect_rc 0 "audit --since today" zc audit --since "$(date -u +%Y-%m-%d)" --format json
check "history lists the changes with reason and author" \
	[ "$(rep "[(c['version'], c['reason']) for c in d['history']['changes'] if c['action']=='flow-removed'][0]")" = "(3, 'remove F-006 (CHG-3)')" ]
check "history: the allowed-traffic change of v2 (F-001 now allows https)" \
	[ "$(rep "[(c['flow'], c['service']) for t in d['history']['traffic'] if t['version']==2 for c in t['added']]")" = "[('F-001', 'https')]" ]
check "history: v3 no longer allows F-006" \
	[ "$(rep "[c['flow'] for t in d['history']['traffic'] if t['version']==3 for c in t['removed']]")" = "['F-006']" ]
cp "$T/out" "$T/since.json"
check "history report validates against the schema" validate "$T/since.json"

# --- cartography
expect_rc 0 "cartography template" zc audit --cartography-template -o "$T/carto.csv"
check "template: header first, one row per zone network" \
	[ "$($PY -c "
import csv; r = list(csv.reader(open('$T/carto.csv', newline='')))
print(r[0][:3], len(r) - 1)")" = "['zone', 'kind', 'network'] 9" ]
expect_rc 0 "the template passed back finds nothing" zc audit --cartography "$T/carto.csv"
$PY - "$T/carto.csv" "$T/carto2.csv" <<'PYEOF'
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
out = [rows[0]]
for r in rows[1:]:
    if r[2] == "10.4.0.0/24":
        continue                        # a network missing from the cartography
    if r[0] == "vpn":
        r[1] = "servers"                # a kind mismatch
    out.append(r)
out.append(["ops", "operations", "10.99.0.0/24", "", "", "", "not in the matrix"])
out.append(["xchg", "provider-exchange", "10.6.0.0/24", "provider link", "", "DC1", "no device"])
out.append(["=HYPERLINK(\"http://x\")", "", "10.7.0.0/24", "", "", "", ""])
csv.writer(open(sys.argv[2], "w", newline="")).writerows(out)
PYEOF
expect_rc 1 "an edited cartography" zc audit --cartography "$T/carto2.csv" --format json
check "cartography findings: missing, undeclared, kind, unfiltered, unknown zone" \
	[ "$(rep "sorted(set(f['kind'] for f in d['findings'] if f['section']=='cartography'))")" = \
	  "['carto-kind-mismatch', 'carto-network-missing', 'carto-network-undeclared', 'carto-unfiltered', 'carto-zone-unknown']" ]
zc audit --cartography "$T/carto2.csv" --format csv >"$T/carto.out.csv"
check "csv cells are protected against formula injection" \
	[ "$($PY -c "
import csv
rows = list(csv.DictReader(open('$T/carto.out.csv', newline='')))
print(any(r['subject'].startswith(\"'=HYPERLINK\") for r in rows),
      any(c.startswith('=') for r in rows for c in r.values()))")" = "True False" ]

# --- Firewall Orchestrator's compliance-matrix import format
expect_rc 0 "fwo export" zc audit --format fwo -o "$T/fwo.json"
check "fwo: name, areas with unique id_string, destinations known" [ "$($PY -c "
import json
d = json.load(open('$T/fwo.json'))
ids = [a['id_string'] for a in d['areas']]
print(bool(d['name']), len(ids) == len(set(ids)),
      all(c['id_string'] in ids for a in d['areas'] for c in a['communication_to']),
      all('ip' in s for a in d['areas'] for s in a['subnets']),
      [c['id_string'] for a in d['areas'] if a['id_string'] == 'ops' for c in a['communication_to']])")" = "True True True True ['jump']" ]

# --- read-only --state: what needs no engine; says what is missing
expect_rc 3 "audit from --state (no engine read)" "$ZC" --state "$ST" audit
grep -q "evidence not gathered (enforcement): offline" "$T/err" && ok "--state says the engines were not read" || bad "--state message"
"$ZC" --state "$ST" audit --format json >"$T/out" 2>/dev/null
check "--state: usage read from the database" [ "$(rep "[f['packets'] for f in d['usage']['flows'] if f['flow']=='F-001'][0]")" = 16 ]

stop
echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
