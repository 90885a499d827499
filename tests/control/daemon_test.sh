#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonewalld end to end with the file test engine (no root needed): commit,
# versions, refused commits (bad reason, invalid matrix, backend failure ->
# previous version restored everywhere and journalled), rollback, crisis
# measures, kill -9 and restart (no blind re-apply), reconciliation of a
# tampered engine, an interrupted commit, journal verify (and tampering),
# rules --deleted-within, read-only --state access, peer credentials,
# clean SIGTERM.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 CLI missing"; exit 77; }
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }

T=$(mktemp -d /tmp/zwd-test.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
ST=$T/state
A=$T/engA.img
BB=$T/engB.img
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
start() {
	"$ZWD" --state "$ST" --socket "$SOCK" --backend "file:$A" \
		--backend "file:$BB" --foreground --log "$T/zwd.log" "$@" &
	PID=$!
	for _ in $(seq 100); do
		"$ZC" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "zonewalld did not start"; cat "$T/zwd.log"; exit 1
}
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
sha() { sha256sum "$1" | cut -c1-64; }
count_action() { zc journal --format json | jq_ "sum(1 for e in d['entries'] if e['action']=='$1')"; }

M1=$S/matrix/examples/minimal.yaml
M2=$T/m2.yaml
sed 's/F-001/F-101/' "$M1" >"$M2"

start
check "socket is mode 0660" [ "$(stat -c %a "$SOCK")" = 660 ]

# --- a client that connects and sends nothing, and one that trickles its
# request a byte at a time, block nobody; both are cut 10 s after they
# connected (checked below, once they are done)
cat >"$T/slow.py" <<'EOF'
import socket, struct, sys, time
path, mode = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX)
s.connect(path)
t0 = time.time()
req = b'{"op":"status"}'
frame = struct.pack(">I", len(req)) + req
s.settimeout(30)
if mode == "trickle":
    for b in frame:
        try:
            s.send(bytes([b]))
        except OSError:
            break
        time.sleep(0.9)
data = b""
try:
    while True:
        x = s.recv(65536)
        if not x:
            break
        data += x
except OSError:
    pass
print("%d %s" % (int(time.time() - t0), data[4:300].decode(errors="replace")))
EOF
$PY "$T/slow.py" "$SOCK" silent >"$T/silent.out" 2>&1 &
SILENT=$!
$PY "$T/slow.py" "$SOCK" trickle >"$T/trickle.out" 2>&1 &
TRICKLE=$!
sleep 0.5
t0=$(date +%s%N)
zc status >/dev/null
ms=$((($(date +%s%N) - t0) / 1000000))
check "status answers at once while two clients stall (${ms} ms)" [ "$ms" -lt 2000 ]
expect_rc 0 "status with no version" zc status
grep -q "no active version" "$T/out" && ok "status says no active version" || bad "status text"

# --- commit
expect_rc 0 "commit v1" zc commit "$M1" -m "initial matrix (CHG-1)"
grep -q "version 1 active" "$T/out" && ok "commit prints the version" || bad "commit output"
V1SHA=$(zc status --format json | jq_ "d['active']['image_sha256']")
check "engine A holds v1" [ "$(zc status --format json | jq_ "d['backends'][0]['sha256']")" = "$V1SHA" ]
check "both engines in sync" [ "$(zc status --format json | jq_ "all(b['in_sync'] for b in d['backends'])")" = True ]
cp "$A" "$T/v1.img"

wait "$SILENT" "$TRICKLE"
read -r secs msg <"$T/silent.out"
check "a silent client is cut after 10 s ($secs s: $msg)" [ "$secs" -ge 9 -a "$secs" -le 12 ]
check "... with an error saying why" grep -q '"status":2' "$T/silent.out"
read -r secs msg <"$T/trickle.out"
check "a trickling client is cut 10 s after it connected ($secs s: $msg)" [ "$secs" -ge 9 -a "$secs" -le 12 ]
check "... and gets no answer to its request" bash -c "! grep -q '\"ok\":true' '$T/trickle.out'"

# --- refusals
expect_rc 1 "empty reason refused" zc commit "$M2" -m "   "
expect_rc 2 "missing reason is a usage error" zc commit "$M2"
expect_rc 1 "reason with a password refused" zc commit "$M2" -m "new db password=Hunter2x"
if zc journal --format csv | grep -q Hunter2x; then bad "secret reached the journal"; else ok "secret never in the journal"; fi
printf 'zonewall: 1\nname: broken\nzones: {}\nflows: []\nbogus: 1\n' >"$T/bad.yaml"
expect_rc 1 "invalid matrix refused" zc commit "$T/bad.yaml" -m "try a broken one"
grep -q "error\[ZW" "$T/err" && ok "diagnostics printed" || bad "no diagnostics on stderr"
check "refusals journalled" [ "$(count_action commit-refused)" = 3 ]

# --- backend failure: B refuses at prepare: A is never switched (two phases), stays on v1
echo "disk full (simulated)" >"$BB.fail"
expect_rc 3 "commit with a failing backend" zc commit "$M2" -m "rename F-001"
grep -q "version 1 stays active" "$T/err" && ok "error says v1 stays active" || bad "error text"
check "engine A still on v1" cmp -s "$A" "$T/v1.img"
check "engine A never switched (one commit counted)" [ "$(wc -l <"$A.applied")" = 1 ]
check "v1 still active" [ "$(zc versions --format json | jq_ "d['active']")" = 1 ]
check "v2 stored as refused" [ "$(zc versions --format json | jq_ "d['versions'][1]['state']")" = refused ]
check "refusal journalled with the backend error" \
	bash -c "'$ZC' --socket '$SOCK' journal --format json | grep -q 'disk full (simulated)'"
rm -f "$BB.fail"

# --- success, rollback
expect_rc 0 "commit v3" zc commit "$M2" -m "rename F-001 to F-101"
check "v3 removed F-001 and added F-101" [ "$(zc journal --flow F-101 --format json | jq_ "d['entries'][0]['action']")" = flow-added ]
expect_rc 1 "rollback to a refused version refused" zc rollback 2 -m "try"
expect_rc 1 "rollback to an unknown version refused" zc rollback 99 -m "try"
expect_rc 1 "rollback to the active version refused" zc rollback 3 -m "try"
expect_rc 0 "rollback to v1" zc rollback 1 -m "back out the rename"
check "v4 is a rollback of v1" [ "$(zc versions --format json | jq_ "(d['versions'][3]['kind'], d['versions'][3]['rollback_of'])")" = "('rollback', 1)" ]
check "engines enforce v1's image again" cmp -s "$A" "$T/v1.img"
check "rollback journalled" [ "$(count_action rollback)" = 1 ]

# --- rules (L1): F-101 deleted by v4, F-001 back in force
zc rules --format json >"$T/rules.json"
check "rules: F-001 in force" [ "$(jq_ "[r['status'] for r in d['rules'] if r['flow']=='F-001'][0]" <"$T/rules.json")" = in-force ]
check "rules: F-101 deleted, listed with its deletion" [ "$(jq_ "[r['deleted']['version'] for r in d['rules'] if r['flow']=='F-101'][0]" <"$T/rules.json")" = 4 ]
check "rules: implementation per backend" [ "$(jq_ "sorted(d['rules'][0]['implementation'].keys())" <"$T/rules.json")" = "['file']" ]
zc rules --deleted-within 0 --format json >"$T/rules0.json"
check "rules --deleted-within 0 drops deleted flows" [ "$(jq_ "any(r['flow']=='F-101' for r in d['rules'])" <"$T/rules0.json")" = False ]
zc rules --format csv >"$T/rules.csv"
check "rules csv parses, one row per rule" [ "$($PY -c "import csv; r=list(csv.DictReader(open('$T/rules.csv'))); print(len(r), [x['status'] for x in r if x['flow']=='F-101'][0], [x['created_reason'] for x in r if x['flow']=='F-001'][0])")" = "9 deleted back out the rename" ]
zc journal --format csv >"$T/j.csv"
check "journal csv parses, reasons intact" [ "$($PY -c "import csv; r=list(csv.DictReader(open('$T/j.csv'))); print(r[0]['action'], r[0]['reason'], r[0]['user'])")" = "commit initial matrix (CHG-1) $(id -un)" ]
check "journal --since 1 keeps today's entries" [ "$(zc journal --since 1 --format json | jq_ "d['count']")" = "$(zc journal --format json | jq_ "d['count']")" ]

# --- crisis measures
expect_rc 0 "crisis isolate-internet" zc crisis isolate-internet -m "ransomware on the internet side"
check "flows to internet-access/outside suspended" [ "$(count_action flow-suspended)" -ge 1 ]
check "status shows the crisis" bash -c "'$ZC' --socket '$SOCK' status | grep -q 'CRISIS MEASURES IN FORCE: isolate-internet'"
ENF=$(zc status --format json | jq_ "d['active']['enforced_sha256']")
check "engines enforce the crisis image" [ "$(sha "$A")" != "$(sha "$T/v1.img")" ] 
expect_rc 1 "isolate twice refused" zc crisis isolate-internet -m "again"
expect_rc 0 "crisis block" zc crisis block 203.0.113.0/24 -m "attacker range"
expect_rc 1 "crisis block of a bad prefix refused" zc crisis block 203.0.113.1/24 -m "x"
expect_rc 0 "crisis end" zc crisis end -m "incident closed"
check "suspended flows resumed" [ "$(count_action flow-resumed)" = "$(count_action flow-suspended)" ]
check "back on the committed image" cmp -s "$A" "$T/v1.img"
expect_rc 1 "crisis end with no crisis refused" zc crisis end -m "x"

# --- archiving: never anything younger than 365 days
expect_rc 1 "archive of entries younger than a year refused" zc journal archive --older-than 100 -m "tidy up"
expect_rc 0 "archive with nothing old enough" zc journal archive --older-than 400 -m "tidy up"
grep -q "nothing older than 400 days" "$T/out" && ok "archive says nothing was old enough" || bad "archive output"
expect_rc 2 "archive needs the daemon" "$ZC" --state "$ST" journal archive --older-than 400 -m x

# --- journal verify, online and offline
expect_rc 0 "journal verify" zc journal verify
expect_rc 0 "offline versions (--state)" "$ZC" --state "$ST" versions
expect_rc 2 "offline commit is a usage error" "$ZC" --state "$ST" commit "$M1" -m x
expect_rc 0 "global option after the command" "$ZC" journal verify --socket "$SOCK"

# --- kill -9: enforcement stays, restart does not re-apply blindly
HEAD=$(zc status --format json | jq_ "d['journal']['head_seq']")
MT=$(stat -c %Y.%N "$A" 2>/dev/null || stat -c %Y "$A")
MTIME_A=$(stat -c %y "$A")
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
check "engine A still holds v1 after kill -9" cmp -s "$A" "$T/v1.img"
sleep 1
start
check "active version survives kill -9" [ "$(zc versions --format json | jq_ "d['active']")" = 4 ]
check "no blind re-apply: engine file untouched" [ "$(stat -c %y "$A")" = "$MTIME_A" ]
check "no reconcile entry when engines agree" [ "$(count_action reconcile)" = 0 ]
grep -q "event=reconcile-ok" "$T/zwd.log" && ok "restart logs reconcile-ok" || bad "no reconcile-ok in log"

# --- an engine changed behind our back is reconciled and journalled
kill -TERM "$PID"; wait "$PID"; RC=$?; PID=
check "SIGTERM: clean exit 0" [ "$RC" = 0 ]
check "SIGTERM: socket removed" [ ! -e "$SOCK" ]
cp "$T/engB.img" "$T/keep.img"
rm -f "$BB"
# ... and a commit interrupted mid-way (stored as pending, never active)
sqlite3 "$ST/zonewall.db" "INSERT INTO versions (n,time_us,uid,user,reason,kind,file,matrix_sha256,image_sha256,matrix,image,state) SELECT 99,time_us,uid,user,'interrupted',kind,file,matrix_sha256,image_sha256,matrix,image,'pending' FROM versions WHERE n=3"
start
check "engine B re-applied" cmp -s "$BB" "$T/v1.img"
check "reconcile journalled" [ "$(count_action reconcile)" = 1 ]
check "interrupted commit marked abandoned" [ "$(zc versions --format json | jq_ "[v['state'] for v in d['versions'] if v['version']==99][0]")" = abandoned ]
check "active version unchanged" [ "$(zc versions --format json | jq_ "d['active']")" = 4 ]

# --- peer credentials: the author is who is on the other end
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null && getent group nogroup >/dev/null; then
	kill -TERM "$PID"; wait "$PID"; PID=
	start --socket-group nogroup
	chmod 644 "$M2"
	if setpriv --reuid=nobody --regid=nogroup --clear-groups "$ZC" --socket "$SOCK" commit "$M2" -m "as nobody" >"$T/out" 2>&1; then
		check "author from SO_PEERCRED" [ "$(zc journal --format json | jq_ "d['entries'][-1]['user'], d['entries'][-1]['uid']")" = "nobody 65534" ]
	else
		echo "# setpriv commit failed (build tree not readable by nobody?):"; sed 's/^/#   /' "$T/out"
	fi
else
	echo "# skipping the peer-credential check (needs root, setpriv, nogroup)"
fi

# --- tampering is detected and named (offline, daemon stopped)
kill -TERM "$PID"; wait "$PID"; PID=
expect_rc 0 "offline verify of the intact journal" "$ZC" --state "$ST" journal verify
sqlite3 "$ST/zonewall.db" "DROP TRIGGER journal_no_update; UPDATE journal SET content=replace(content,'initial matrix','harmless edit') WHERE seq=1;"
expect_rc 1 "verify detects the modified entry" "$ZC" --state "$ST" journal verify
grep -q "entry 1" "$T/out" && ok "verify names entry 1" || bad "verify output: $(cat "$T/out")"

# --- midnight: a flow past its expires date stops being enforced, and
# that is journalled (test hooks: the day from a file, a 100 ms tick)
echo 2026-11-01 >"$T/today"
sed 's/^    review: 2026-09-01$/&/; /id: F-003/,/review:/ s/^    review: 2026-09-01$/    review: 2026-09-01\n    expires: 2026-11-01/' "$M1" >"$T/m-exp.yaml"
check "test matrix has an expiring flow" grep -q "expires: 2026-11-01" "$T/m-exp.yaml"
ZONEWALL_TODAY_FILE=$T/today ZONEWALL_TICK_MS=100 "$ZWD" --state "$T/st-day" --socket "$SOCK" \
	--backend "file:$T/day.img" --foreground --log "$T/zwd-day.log" &
PID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
expect_rc 0 "commit a matrix with a flow expiring today" zc commit "$T/m-exp.yaml" -m "temporary proxy flow"
D0=$(cat "$T/day.img.day")
echo 2026-11-02 >"$T/today"
for _ in $(seq 60); do [ "$(count_action flow-expired)" = 1 ] && break; sleep 0.1; done
check "flow-expired journalled at the new day" [ "$(zc journal --flow F-003 --format json | jq_ "d['entries'][-1]['action']")" = flow-expired ]
check "engine re-applied for the new day" [ "$(cat "$T/day.img.day")" = $((D0 + 1)) ]
check "rules shows the flow expired" [ "$(zc rules --format json | jq_ "[r['status'] for r in d['rules'] if r['flow']=='F-003'][0]")" = expired ]
kill -TERM "$PID"; wait "$PID"; PID=

# --- daemon mode: detaches, answers, writes its pid, stops on SIGTERM
rm -f "$ST/lock.test"
expect_rc 0 "daemon mode starts and returns" "$ZWD" --state "$ST" --socket "$SOCK" --backend "file:$A"
expect_rc 0 "daemon mode answers" zc versions
check "status reports the journal altered at start" bash -c "'$ZC' --socket '$SOCK' status | grep -q 'JOURNAL ALTERED'"
grep -q "event=journal-altered bad_seq=1" "$ST/zonewalld.log" && ok "start-up logs the alteration" || bad "no journal-altered in the log"
check "daemon mode wrote its pid and log" [ -s "$ST/zonewalld.pid" -a -s "$ST/zonewalld.log" ]
expect_rc 3 "a second daemon on the same state is refused" "$ZWD" --state "$ST" --socket "$T/other.sock" --backend "file:$A"
DPID=$(cat "$ST/zonewalld.pid")
kill -TERM "$DPID"
for _ in $(seq 100); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
check "daemon mode stops on SIGTERM" bash -c "! kill -0 $DPID 2>/dev/null"
expect_rc 3 "a missing backend engine fails the start" "$ZWD" --state "$ST" --socket "$SOCK" --backend "nope:x" --foreground
grep -q "no engine 'nope'" "$T/err" && ok "start failure says why" || bad "start failure message: $(cat "$T/err")"
echo "precious" >"$T/not-a-socket"
expect_rc 3 "a --socket path that is not a socket is refused" "$ZWD" --state "$T/st-x" --socket "$T/not-a-socket" --foreground
check "... and left alone" grep -q precious "$T/not-a-socket"

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
