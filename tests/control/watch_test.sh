#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The enforcement watch and the clock watch of zonewalld, with the file test
# engine (no root needed; docs/daemon.md):
#  - an engine changed behind the daemon's back (image replaced, removed)
#    is seen within a second, journalled as drift in matrix terms and
#    re-applied; --on-drift alert journals once and leaves it, and
#    'zonectl status' then exits 4;
#  - a ruleset removed while the daemon is down is re-applied and
#    journalled at start-up;
#  - a wall-clock step (test hook ZONEWALL_CLOCK_OFFSET_FILE) is journalled
#    as clock-step and shown in status; the journal stays in order
#    (verify intact) with entries written after a step back;
#  - the day never goes back: a clock behind the latest day applied does
#    not bring an expired flow back, running or restarted.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }

T=$(mktemp -d /tmp/zwd-watch.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
ST=$T/state
A=$T/engA.img
PID=
fails=0
checks=0

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
start() { # STATE ENGINE-PATH [OPTIONS...]
	local st=$1 eng=$2; shift 2
	"$ZWD" --state "$st" --socket "$SOCK" --backend "file:$eng" \
		--foreground --log "$T/zwd.log" "$@" &
	PID=$!
	for _ in $(seq 100); do
		"$ZC" --socket "$SOCK" status >/dev/null 2>&1
		[ $? != 3 ] && return 0
		sleep 0.05
	done
	echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1
}
stop() { kill -TERM "$PID"; wait "$PID"; PID=; }
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
count_action() { zc journal --format json | jq_ "sum(1 for e in d['entries'] if e['action']=='$1')"; }
# wait up to 2 s for COMMAND to succeed; prints the time it took
within() { # COMMAND...
	local t0 t1
	t0=$(date +%s%N)
	for _ in $(seq 40); do
		if "$@"; then t1=$(date +%s%N); echo $(((t1 - t0) / 1000000)); return 0; fi
		sleep 0.05
	done
	return 1
}
quiet() { "$@" >/dev/null; }
same_as_v1() { cmp -s "$A" "$T/v1.img"; }
n_drift_is() { [ "$(count_action drift)" = "$1" ]; }

M1=$S/matrix/examples/minimal.yaml
M2=$T/m2.yaml
sed 's/F-001/F-101/' "$M1" >"$M2"

# --- repair (default): the image replaced, then removed
start "$ST" "$A"
expect_rc 0 "commit v1" zc commit "$M1" -m "initial matrix"
cp "$A" "$T/v1.img"
expect_rc 0 "status: every engine enforces the active version" zc status
echo "not an image" >"$A"
if ms=$(within same_as_v1); then ok "a garbled engine is re-applied within 2 s (${ms} ms)"; else bad "garbled engine not repaired"; fi
check "... and journalled as drift" quiet within n_drift_is 1
zc journal --format json >"$T/j.json"
check "the drift entry names the engine; the repair is journalled" \
	$PY -c "
import json,sys
e=[e for e in json.load(open('$T/j.json'))['entries'] if e['action']=='drift'][-1]
a=e['after']
assert a['backend']=='file:$A' and a['action']=='re-apply' and a['on_drift']=='repair', a
assert 'changed behind' in e['detail'], e['detail']
r=[e for e in json.load(open('$T/j.json'))['entries'] if e['action']=='reconcile'][-1]
assert 'after drift: in sync again' in r['detail'], r['detail']
"
rm -f "$A" "$A.day"
if ms=$(within same_as_v1); then ok "a removed engine is re-applied within 2 s (${ms} ms)"; else bad "removed engine not repaired"; fi
check "... journalled: the rules of the active version missing, in matrix terms" \
	quiet within bash -c "'$ZC' --socket '$SOCK' journal --format json | $PY -c \"
import json,sys
e=[e for e in json.load(sys.stdin)['entries'] if e['action']=='drift']
a=e[-1]['after']
assert len(e)==2 and a['enforcing'] is False and a['rules_missing_count']>0, a
assert any(' -> ' in r for r in a['rules_missing']), a
\""
check "status back to exit 0" quiet within "$ZC" --socket "$SOCK" status
grep -q "event=drift " "$T/zwd.log" && ok "drift alert in the daemon's log" || bad "no drift line in the log"
# our own commits are not drift
expect_rc 0 "commit v2" zc commit "$M2" -m "rename F-001"
sleep 0.6
check "a commit of ours is not drift" n_drift_is 2
expect_rc 0 "journal verify" zc journal verify

# --- alert only: journalled once, not repaired, status exits 4
stop
cp "$A" "$T/v2.img"
start "$ST" "$A" --on-drift alert
cp "$T/v1.img" "$A"
check "alert: drift journalled within 2 s" quiet within n_drift_is 3
sleep 0.8
check "alert: the engine is left as it was" cmp -s "$A" "$T/v1.img"
check "alert: journalled once while it lasts" n_drift_is 3
check "alert: the entry says it was not repaired" \
	bash -c "'$ZC' --socket '$SOCK' journal --format json | grep -q 'NOT repaired (--on-drift alert)'"
expect_rc 4 "status exits 4 while an engine is not on the active version" zc status
grep -q "NOT ENFORCING THE ACTIVE VERSION" "$T/out" && ok "status says so" || bad "status text: $(cat "$T/out")"
expect_rc 4 "status --format json exits 4 too" zc status --format json
grep -q '"on_drift": "alert"' "$T/out" && ok "status shows the watch mode" || bad "status json: no watch"

# --- removed while the daemon is down: repaired and journalled at start-up
NR=$(count_action reconcile)
stop
rm -f "$A" "$A.day"
start "$ST" "$A"
check "removed while down: re-applied at start-up" cmp -s "$A" "$T/v2.img"
check "... and journalled (reconcile)" [ "$(count_action reconcile)" = $((NR + 1)) ]
expect_rc 0 "status exit 0 after the start-up repair" zc status
stop

# --- clock steps (test hook: an offset read from a file)
echo 0 >"$T/offset"
export ZONEWALL_CLOCK_OFFSET_FILE=$T/offset
start "$ST" "$A"
N0=$(count_action clock-step)
echo -172800 >"$T/offset"
check "a step back of two days is journalled within 2 s" quiet within bash -c "[ \$('$ZC' --socket '$SOCK' journal --format json | $PY -c \"import json,sys; print(sum(1 for e in json.load(sys.stdin)['entries'] if e['action']=='clock-step'))\") = $((N0 + 1)) ]"
zc journal --format json >"$T/j.json"
check "the clock-step entry records both clocks" $PY -c "
import json
e=[e for e in json.load(open('$T/j.json'))['entries'] if e['action']=='clock-step'][-1]
a=e['after']
assert a['step_us'] < -172000000000 and a['boottime_elapsed_us'] >= 0, a
assert 'stepped back' in e['detail'], e['detail']
"
expect_rc 0 "status after the step" zc status
grep -q "CLOCK STEPPED BACK" "$T/out" && ok "status shows the step" || bad "status text: $(cat "$T/out")"
expect_rc 0 "a commit after the step back" zc commit "$M1" -m "after the clock went back"
expect_rc 0 "journal verify: intact, entries in order across the step" zc journal verify
echo 0 >"$T/offset"
check "a step forward is journalled too" quiet within bash -c "[ \$('$ZC' --socket '$SOCK' journal --format json | $PY -c \"import json,sys; print(sum(1 for e in json.load(sys.stdin)['entries'] if e['action']=='clock-step'))\") = $((N0 + 2)) ]"
stop
# back while down: said at start-up
echo -86400 >"$T/offset"
start "$ST" "$A"
check "a clock behind the newest entry at start-up is journalled" [ "$(count_action clock-step)" = $((N0 + 3)) ]
expect_rc 0 "journal verify after it" zc journal verify
stop
unset ZONEWALL_CLOCK_OFFSET_FILE

# --- the day never goes back (expired flows stay expired)
echo 2026-11-01 >"$T/today"
sed '/id: F-003/,/review:/ s/^    review: 2026-09-01$/    review: 2026-09-01\n    expires: 2026-11-01/' "$M1" >"$T/m-exp.yaml"
check "test matrix has an expiring flow" grep -q "expires: 2026-11-01" "$T/m-exp.yaml"
export ZONEWALL_TODAY_FILE=$T/today ZONEWALL_TICK_MS=100
start "$T/st-day" "$T/day.img"
expect_rc 0 "commit a matrix with a flow expiring today" zc commit "$T/m-exp.yaml" -m "temporary flow"
D0=$(cat "$T/day.img.day")
echo 2026-11-02 >"$T/today"
check "the flow expires at the new day" quiet within bash -c "[ \"\$(cat '$T/day.img.day')\" = $((D0 + 1)) ]"
echo 2026-10-31 >"$T/today"
sleep 1
check "clock two days back: the engine stays on the latest day" [ "$(cat "$T/day.img.day")" = $((D0 + 1)) ]
check "... the flow is not resumed" [ "$(count_action flow-resumed)" = 0 ]
check "status says the clock is behind the day applied" bash -c "'$ZC' --socket '$SOCK' status | grep -q 'CLOCK BEHIND'"
expect_rc 0 "a commit while the clock is behind" zc commit "$T/m-exp.yaml" -m "same again"
check "... programs the latest day, not today" [ "$(cat "$T/day.img.day")" = $((D0 + 1)) ]
stop
start "$T/st-day" "$T/day.img"
sleep 0.5
check "restarted with the clock behind: still the latest day" [ "$(cat "$T/day.img.day")" = $((D0 + 1)) ]
stop

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
