#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Probes through zonewalld (file test engine, no root): a commit that adds
# probes journals one probe-added entry each (the probe as "after", named
# in the detail); a commit that changes one, removes one and adds one
# journals probe-changed, probe-removed, probe-added; the flow entries are
# unaffected (no flow changed); the chain verifies.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }
T=$(mktemp -d /tmp/zwp-test.XXXXXX)
SOCK=$T/zw.sock
PID=
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
. "$S/tests/lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
"$ZWD" --state "$T/state" --socket "$SOCK" --backend "file:$T/eng.img" \
	--foreground --log "$T/zwd.log" &
PID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
zc status >/dev/null 2>&1 || { echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1; }
entries() { # ACTION: "detail|after" lines of the entries of ACTION
	zc journal --format json | $PY -c "
import json, sys
for e in json.load(sys.stdin)['entries']:
    if e['action'] == '$1':
        print('%s|%s' % (e.get('detail'), json.dumps(e.get('after'), sort_keys=True)))"
}

M=$S/matrix/examples/minimal.yaml
zones=$($PY -c "import yaml; print(' '.join(list(yaml.safe_load(open('$M'))['zones'])[:2]))" 2>/dev/null) ||
	{ echo "SKIP: python3-yaml missing (scripts/deps.sh)"; exit 77; }
set -- $zones
Z1=$1 Z2=$2
{ cat "$M"; printf 'probes:\n  ids: {interface: probe0, zones: [%s]}\n  old: {interface: probe1, zones: [%s]}\n' "$Z1" "$Z2"; } >"$T/p1.yaml"
{ cat "$M"; printf 'probes:\n  ids: {interface: probe0, zones: [%s, %s], traffic: allowed}\n  soc: {interface: probe1, zones: [%s]}\n' "$Z1" "$Z2" "$Z2"; } >"$T/p2.yaml"

expect_rc 0 "commit the matrix without probes" zc commit "$M" -m "base"
flows=$(zc journal --format json | $PY -c "import json,sys; print(sum(1 for e in json.load(sys.stdin)['entries'] if e['action'].startswith('flow-')))")
expect_rc 0 "commit with two probes" zc commit "$T/p1.yaml" -m "probes for the SOC"
entries probe-added >"$T/added"
check "two probe-added entries" [ "$(wc -l <"$T/added")" = 2 ]
check "named in the detail, described in after" grep -q '^probe ids|.*"interface": "probe0".*"traffic": "all"' "$T/added"
expect_rc 0 "commit: one probe changed, one removed, one added" zc commit "$T/p2.yaml" -m "rework the probes"
check "probe-changed ids (traffic allowed)" bash -c "$(declare -f zc entries); ZC='$ZC' SOCK='$SOCK' PY=$PY; entries probe-changed | grep -q '^probe ids|.*\"traffic\": \"allowed\"'"
check "probe-removed old" bash -c "$(declare -f zc entries); ZC='$ZC' SOCK='$SOCK' PY=$PY; entries probe-removed | grep -q '^probe old|null'"
check "probe-added soc" bash -c "$(declare -f zc entries); ZC='$ZC' SOCK='$SOCK' PY=$PY; entries probe-added | grep -q '^probe soc|'"
now=$(zc journal --format json | $PY -c "import json,sys; print(sum(1 for e in json.load(sys.stdin)['entries'] if e['action'].startswith('flow-')))")
check "no flow entry for probe changes ($flows, $now)" [ "$flows" = "$now" ]
expect_rc 0 "journal verifies" zc journal verify
echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
