#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# contrib/grafana/zonewall.json against what zonewalld serves, without
# Grafana (not packaged in Debian 12): zonewalld-test with two file test
# engines fed moving counters, stats and records (dashboard_feed.py), an
# IPFIX exporter and a syslog server (the panels of both have series only
# when configured); a real Prometheus (Debian's) scraping its --metrics
# endpoint every second on loopback; then every panel query (expr) of the
# dashboard, with its template variables substituted as Grafana's
# Prometheus data source does ($instance and $engine from their
# label_values() queries, All selected; $top; $__rate_interval from the
# scrape interval), evaluated through Prometheus' /api/v1/query: each is
# valid PromQL and returns data, and the per-flow rates are not zero.
# contrib/grafana/dashboard.py's checker is shown to catch invalid and
# empty queries, and its renderer to produce the PNG (headless Chromium)
# that docs/img/grafana-dashboard.png is made with.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
PY=/usr/bin/python3
DASH=$S/contrib/grafana/dashboard.py
JSON=$S/contrib/grafana/zonewall.json
command -v prometheus >/dev/null ||
	{ echo "SKIP: prometheus missing (scripts/deps.sh installs it)"; exit 77; }
command -v chromium >/dev/null ||
	{ echo "SKIP: chromium missing (scripts/deps.sh installs it)"; exit 77; }

T=$(mktemp -d /tmp/zw-dashboard.XXXXXX)
fails=0
checks=0
. "$S/tests/control/dashboard_stack.sh"
cleanup() { stack_down; rm -rf "$T"; }
trap cleanup EXIT
trap 'exit 143' TERM INT
. "$S/tests/lib/checks.sh"

stack_up 1 300 || { bad "the stack did not start"; exit 1; }
# rate() over $__rate_interval (4 s at a 1 s scrape) needs a few samples
check "Prometheus scrapes zonewalld (8 samples)" stack_wait_samples 8

SCR=(--prometheus "$PROM" --scrape-interval 1 --range 300)
$PY "$DASH" queries "${SCR[@]}" >"$T/queries.jsonl" 2>"$T/queries.err"
check "the dashboard's variables and queries interpolate" [ $? = 0 ]
cat "$T/queries.err"
nexpr=$(jq '[.panels[].targets[] | select(.expr)] | length' "$JSON")
check "every target of the dashboard is there ($nexpr)" \
	[ "$(grep -c '"query"' "$T/queries.jsonl")" = "$nexpr" ]
check "\$instance: the appliance, from label_values(zonewall_build_info, instance)" \
	grep -qF '{"variable": "instance", "values": ["127.0.0.1:'"$MPORT"'"]}' "$T/queries.jsonl"
check "\$engine: from label_values(zonewall_engine_up, engine)" \
	grep -qF '{"variable": "engine", "values": ["file"]}' "$T/queries.jsonl"
check "no variable left unsubstituted" \
	[ "$(jq -r 'select(.query) | .query' "$T/queries.jsonl" | grep -c '\$')" = 0 ]
check "\$__rate_interval as Grafana: max(\$__interval + 1 s, 4 x 1 s) = 4s" \
	grep -qF '[4s]' "$T/queries.jsonl"
check "a multi-value variable as Grafana escapes it (127\\\\.0\\\\.0\\\\.1)" \
	grep -qF 'instance=~\"127\\\\.0\\\\.0\\\\.1:' "$T/queries.jsonl"

# Grafana colours a stat panel without thresholds green, then red from 80
# (its default): a version number, a journal sequence or seconds since the
# last commit would turn red on any appliance that lives
check "every stat panel sets its thresholds or value mappings (not Grafana's red-at-80)" \
	[ "$(jq '[.panels[] | select(.type == "stat") | select((.fieldConfig.defaults.thresholds // .fieldConfig.defaults.mappings) == null)] | length' "$JSON")" = 0 ]

# every query through /api/v1/query: valid, with data
$PY - "$PROM" "$T/queries.jsonl" >"$T/eval.txt" <<'PYEOF'
import json, sys, urllib.parse, urllib.request, urllib.error
prom = sys.argv[1]
for line in open(sys.argv[2]):
    t = json.loads(line)
    if "query" not in t:
        continue
    url = prom + "/api/v1/query?" + urllib.parse.urlencode({"query": t["query"]})
    try:
        body = json.load(urllib.request.urlopen(url, timeout=10))
    except urllib.error.HTTPError as e:
        body = json.load(e)
    if body["status"] != "success":
        verdict = "invalid " + body.get("error", "")
    else:
        res = body["data"]["result"]
        vals = [float(r["value"][1]) for r in res]
        verdict = "data %d max %g" % (len(res), max(vals)) if res else "empty"
    print("%s|%s|%s|%s" % (t["panel"], t["refId"], t["title"], verdict))
PYEOF
cat "$T/eval.txt"
while IFS='|' read -r panel ref title verdict; do
	check "panel $panel '$title' $ref: valid PromQL with data ($verdict)" \
		grep -q '^data [1-9]' <<<"$verdict"
done <"$T/eval.txt"
check "every query evaluated" [ "$(wc -l <"$T/eval.txt")" = "$nexpr" ]
for t in "Packets per flow" "Bytes per flow" "New connections per flow" "Drops by reason"; do
	check "'$t': the fed traffic shows (rate > 0)" \
		grep -qE "\|$t\|data [0-9]+ max [0-9.]*[1-9]" "$T/eval.txt"
done

# the checker of dashboard.py catches what it must
jq '.panels[0].targets[0].expr = "sum(rate(zonewall_flow_packets_total[$__rate_interval])"' \
	"$JSON" >"$T/broken.json"
$PY "$DASH" check "${SCR[@]}" --dashboard "$T/broken.json" >"$T/broken.out" 2>&1
rc=$?
check "dashboard.py check: invalid PromQL fails (exit $rc)" \
	bash -c "[ $rc = 1 ] && grep -q '^panel 1 .*INVALID: bad_data' '$T/broken.out'"
jq '.panels[0].targets[0].expr = "zonewall_no_such_metric"' "$JSON" >"$T/empty.json"
$PY "$DASH" check "${SCR[@]}" --dashboard "$T/empty.json" >"$T/empty.out" 2>&1
rc=$?
check "dashboard.py check: a query without data fails (exit $rc)" \
	bash -c "[ $rc = 1 ] && grep -q '^panel 1 .*EMPTY' '$T/empty.out'"
$PY "$DASH" check "${SCR[@]}" >"$T/check.out" 2>&1
check "dashboard.py check: the shipped dashboard passes (exit $?)" \
	[ "$(grep -c ': ok ' "$T/check.out")" = "$nexpr" ]

# the renderer: one PNG of every panel
$PY "$DASH" render "${SCR[@]}" --range 30 --out "$T/screen.png" --html "$T/screen.html" >"$T/render.out" 2>&1
check "dashboard.py render makes a PNG" bash -c "head -c 8 '$T/screen.png' | od -An -c | grep -q 'P   N   G'"
cat "$T/render.out"
check "... of every panel" [ "$(grep -o 'class="panel"' "$T/screen.html" | wc -l)" = "$(jq '.panels | length' "$JSON")" ]
check "... with drawn series (no panel says No data)" [ "$(grep -c 'No data' "$T/screen.html")" = 0 ]

stack_down
check "Prometheus' data directory is removed" [ ! -e "$T/prom-data" ]
echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
