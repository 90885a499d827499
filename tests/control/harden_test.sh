#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonewalld under a hostile or careless operator (issue 10, items 4, 6, 7,
# 8, 11, 12), with the file test engine:
#  - 11: 64 idle connections do not lock the other clients out;
#  - 12: an unsafe state directory is refused; zonewalld.pid and
#    zonewalld.log planted as symbolic links never lead to another file;
#  - 6: free text is bounded and plain at the door (zonectl and daemon),
#    a refused reason is journalled bounded, and what the database holds
#    is escaped on the terminal;
#  - 7: a commit on a full disk says ENOSPC and its refusal is journalled
#    once space returns (root: a small tmpfs);
#  - 4: a version edited in the database is named by verify and never
#    used (rollback refused, start refused when it is the active one);
#  - 8: a cut tail or an emptied database is reported, with the checkpoint
#    file or with the syslog copy.
# ZW_TEST_ZWD / ZW_TEST_ZC run other binaries (to show a test failing).
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=${ZW_TEST_ZWD:-$B/tests/control/zonewalld-test}
ZC=${ZW_TEST_ZC:-$B/control/zonectl}
PY=/usr/bin/python3
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 CLI missing"; exit 77; }
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }

T=$(mktemp -d /tmp/zwd-harden.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
ST=$T/state
A=$T/eng.img
PID=
MNT=
fails=0
checks=0

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	[ -n "$MNT" ] && umount -l "$MNT" 2>/dev/null
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
start() { # STATE [OPTIONS...]
	local st=$1; shift
	"$ZWD" --state "$st" --socket "$SOCK" --backend "file:$A" \
		--foreground --log "$T/zwd.log" "$@" &
	PID=$!
	for _ in $(seq 100); do
		"$ZC" --socket "$SOCK" status >/dev/null 2>&1 && return 0
		kill -0 "$PID" 2>/dev/null || break
		sleep 0.05
	done
	echo "zonewalld did not start"; tail -5 "$T/zwd.log"; PID=; return 1
}
stop() { [ -n "$PID" ] && kill -TERM "$PID" && wait "$PID"; PID=; }
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
count_action() { zc journal --format json | jq_ "sum(1 for e in d['entries'] if e['action']=='$1')"; }
root() { [ "$(id -u)" = 0 ]; }

M1=$S/matrix/examples/minimal.yaml
M2=$T/m2.yaml
sed 's/F-001/F-101/' "$M1" >"$M2"

# ---------------------------------------------------------------- item 12
echo "# item 12: the state directory"
mkdir -m 0777 "$T/st-open"
chmod 0777 "$T/st-open"
expect_rc 3 "a world-writable state directory is refused" \
	timeout -s KILL 5 "$ZWD" --state "$T/st-open" --socket "$SOCK" --foreground
grep -q "writable by every user" "$T/err" && ok "... saying why" || bad "message: $(cat "$T/err")"
mkdir -m 0770 "$T/st-group"
chmod 0770 "$T/st-group"
expect_rc 3 "a group-writable state directory is refused" \
	timeout -s KILL 5 "$ZWD" --state "$T/st-group" --socket "$SOCK" --foreground
if root; then
	mkdir -m 0750 "$T/st-other"
	chown nobody "$T/st-other"
	expect_rc 3 "a state directory owned by another user is refused" \
		timeout -s KILL 5 "$ZWD" --state "$T/st-other" --socket "$SOCK" --foreground
	grep -q "belongs to uid" "$T/err" && ok "... saying why" || bad "message: $(cat "$T/err")"
else
	echo "# not root: the other-owner check is not run"
fi
# symbolic links planted where the daemon writes its pid and log
mkdir -m 0750 "$T/st-link"
echo "precious pid" >"$T/victim-pid"
echo "precious log" >"$T/victim-log"
ln -s "$T/victim-log" "$T/st-link/zonewalld.log"
timeout -s KILL 10 "$ZWD" --state "$T/st-link" --socket "$SOCK" --backend "file:$A" >"$T/out" 2>&1
rc=$?
check "daemon mode with zonewalld.log a symlink refuses to start (exit $rc)" [ "$rc" = 3 ]
grep -q "symbolic link" "$T/out" && ok "... saying why" || bad "message: $(cat "$T/out")"
check "the log's target is untouched" [ "$(cat "$T/victim-log")" = "precious log" ]
# (stop what a daemon that did start left running)
[ -s "$T/st-link/zonewalld.pid" ] && kill -TERM "$(cat "$T/st-link/zonewalld.pid")" 2>/dev/null && sleep 0.5
rm -f "$T/st-link/zonewalld.log" "$T/st-link/zonewalld.pid"
echo "precious pid" >"$T/victim-pid"
ln -s "$T/victim-pid" "$T/st-link/zonewalld.pid"
expect_rc 0 "daemon mode starts with zonewalld.pid a symlink" \
	"$ZWD" --state "$T/st-link" --socket "$SOCK" --backend "file:$A"
check "the pid file's target is untouched" [ "$(cat "$T/victim-pid")" = "precious pid" ]
check "zonewalld.pid is now a plain file" [ -f "$T/st-link/zonewalld.pid" -a ! -L "$T/st-link/zonewalld.pid" ]
DPID=$(cat "$T/st-link/zonewalld.pid" 2>/dev/null)
[ -n "$DPID" ] && kill -TERM "$DPID"
for _ in $(seq 100); do [ -n "$DPID" ] && kill -0 "$DPID" 2>/dev/null || break; sleep 0.05; done
check "the victim pid file survives the daemon's stop" [ -e "$T/victim-pid" ]

# ---------------------------------------------------------------- item 11
echo "# item 11: 64 idle connections"
start "$ST" || exit 1
cat >"$T/idle.py" <<'EOF'
import socket, sys, time
socks = []
for _ in range(int(sys.argv[2])):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
print("connected", flush=True)
time.sleep(float(sys.argv[3]))
EOF
$PY "$T/idle.py" "$SOCK" 64 8 >"$T/idle.out" 2>&1 &
IDLE=$!
for _ in $(seq 50); do grep -q connected "$T/idle.out" && break; sleep 0.1; done
sleep 0.3
t0=$(date +%s%N)
zc status >/dev/null 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "status answers while 64 idle connections are open ($ms ms, exit $rc)" [ "$rc" = 0 -a "$ms" -lt 2000 ]
t0=$(date +%s%N)
zc commit "$M1" -m "initial matrix (CHG-1)" >/dev/null 2>&1
rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
check "a commit goes through meanwhile ($ms ms, exit $rc)" [ "$rc" = 0 -a "$ms" -lt 3000 ]
kill "$IDLE" 2>/dev/null; wait "$IDLE" 2>/dev/null
[ "$(zc versions --format json | jq_ "d['active']")" = 1 ] || zc commit "$M1" -m "initial matrix (CHG-1)" >/dev/null

# ---------------------------------------------------------------- item 6
echo "# item 6: free text at the door and on the terminal"
BASE_REFUSED=$(count_action commit-refused)
for r in $'two\nlines' $'carriage\rreturn' $'escape \e[2J' $'c1 \xc2\x9b' $'bidi \xe2\x80\xae' $'tab\there'; do
	expect_rc 1 "zonectl refuses the reason $(printf %q "$r")" zc commit "$M2" -m "$r"
done
head -c 3000 /dev/zero | tr '\0' a >"$T/long"
expect_rc 1 "zonectl refuses a reason over 1024 bytes" zc commit "$M2" -m "$(cat "$T/long")"
# the daemon is the authority: the same through the protocol directly
cat >"$T/raw.py" <<'EOF'
import json, socket, struct, sys
path, reason, mfile = sys.argv[1], sys.argv[2], sys.argv[3]
req = {"op": "commit", "matrix": open(mfile).read(), "file": sys.argv[4] if len(sys.argv) > 4 else "m.yaml", "reason": reason}
if reason == "@big":
    req["reason"] = "x" * (10 << 20)
if reason.startswith("@esc"):
    req["reason"] = "forged\n0042 2026-01-01T00:00:00Z  v1 commit \x1b[31mroot\x1b[0m"
b = json.dumps(req).encode()
s = socket.socket(socket.AF_UNIX)
s.connect(path)
s.sendall(struct.pack(">I", len(b)) + b)
h = b""
while len(h) < 4:
    x = s.recv(4 - len(h))
    if not x: break
    h += x
n = struct.unpack(">I", h)[0]
d = b""
while len(d) < n:
    x = s.recv(n - len(d))
    if not x: break
    d += x
r = json.loads(d)
print(r.get("status", 0), r.get("error", ""))
EOF
$PY "$T/raw.py" "$SOCK" "@esc" "$M2" >"$T/out" 2>&1
check "the daemon refuses a reason with control characters ($(cat "$T/out" | head -c 120))" grep -q "^1 " "$T/out"
$PY "$T/raw.py" "$SOCK" "@big" "$M2" >"$T/out" 2>&1
check "the daemon refuses a 10 MiB reason" grep -q "^1 " "$T/out"
$PY "$T/raw.py" "$SOCK" "fine reason" "$M2" $'m\e[2J.yaml' >"$T/out" 2>&1
check "the daemon refuses a file name with control characters" grep -q "^1 " "$T/out"
check "the refusals are journalled" [ "$(count_action commit-refused)" = $((BASE_REFUSED + 3)) ]
LONGEST=$(zc journal --format json | jq_ "max(len(e['reason']) for e in d['entries'])")
check "no journalled reason is longer than 1024 characters (longest $LONGEST)" [ "$LONGEST" -le 1024 ]
if zc journal --format json | grep -q '\\u001b'; then bad "an escape character reached the journal"; else ok "no escape character in the journal"; fi
# what the database holds (edited by hand) is escaped on the terminal
stop
cp "$ST/zonewall.db" "$T/db.keep"
sqlite3 "$ST/zonewall.db" "UPDATE versions SET reason='x'||char(10)||'*  9  forged'||char(27)||'[2J'||char(0x202e) WHERE n=1;
INSERT INTO journal (seq,time_us,action,version,flow,content,prev,hash) SELECT seq+1,time_us,action,version,flow,replace(content,'\"reason\":\"','\"reason\":\"z\\n9999 forged \\u001b[2J'),prev,hash FROM journal WHERE seq=(SELECT max(seq) FROM journal);"
"$ZC" --state "$ST" versions >"$T/out" 2>&1
raw_ctl() { # FILE: true if it holds a control or bidi character besides newlines
	$PY -c "import sys; t=open(sys.argv[1], encoding='utf-8', errors='replace').read(); sys.exit(0 if any((ord(c) < 32 and c != '\n') or 0x7f <= ord(c) <= 0x9f or c in '\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069' for c in t) else 1)" "$1"
}
no_raw_ctl() { ! raw_ctl "$1"; }
check "versions: no raw control character on the terminal" no_raw_ctl "$T/out"
check "versions: the newline is shown escaped" grep -q 'x\\n\*  9  forged\\x1b\[2J\\u202e' "$T/out"
check "versions: one line per version" [ "$(grep -c '^[ *] [0-9]' "$T/out")" = "$(sqlite3 "$ST/zonewall.db" 'SELECT count(*) FROM versions')" ]
"$ZC" --state "$ST" journal >"$T/out" 2>&1
check "journal: no raw control character on the terminal" no_raw_ctl "$T/out"
check "journal: the forged entry stays on its line" bash -c "! grep -q '^9999 forged' '$T/out'"
cp "$T/db.keep" "$ST/zonewall.db"
rm -f "$ST/zonewall.db-wal" "$ST/zonewall.db-shm"

# ---------------------------------------------------------------- item 4
echo "# item 4: versions edited in the database"
start "$ST" || exit 1
expect_rc 0 "commit v2" zc commit "$M2" -m "rename F-001 (CHG-2)"
V2=$(zc versions --format json | jq_ "d['active']")
cp "$A" "$T/v2.img"
stop
cp "$ST/zonewall.db" "$T/db.keep"
expect_rc 0 "verify: intact before any edit" "$ZC" --state "$ST" journal verify
sqlite3 "$ST/zonewall.db" "UPDATE versions SET matrix=replace(matrix,'F-002','F-666') WHERE n=1"
expect_rc 1 "verify: the matrix text of version 1 edited" "$ZC" --state "$ST" journal verify
grep -q "version 1" "$T/out" && ok "... names version 1" || bad "verify output: $(cat "$T/out")"
start "$ST" || exit 1
expect_rc 1 "rollback to the edited version 1 is refused" zc rollback 1 -m "back to v1"
grep -qi "version 1" "$T/err" && ok "... naming version 1" || bad "rollback output: $(cat "$T/err")"
check "the engine still enforces version $V2" cmp -s "$A" "$T/v2.img"
stop
cp "$T/db.keep" "$ST/zonewall.db"
sqlite3 "$ST/zonewall.db" "UPDATE versions SET user='ceo', reason='approved by the board' WHERE n=$V2"
expect_rc 1 "verify: author and reason of version $V2 edited" "$ZC" --state "$ST" journal verify
grep -q "version $V2" "$T/out" && ok "... names version $V2" || bad "verify output: $(cat "$T/out")"
cp "$T/db.keep" "$ST/zonewall.db"
sqlite3 "$ST/zonewall.db" "UPDATE versions SET matrix=replace(matrix,'F-002','F-666') WHERE n=$V2"
expect_rc 3 "start with the active version's matrix edited is refused" \
	timeout -s KILL 5 "$ZWD" --state "$ST" --socket "$SOCK" --backend "file:$A" --foreground
grep -q "version $V2" "$T/err" && ok "... naming version $V2" || bad "start output: $(cat "$T/err")"
check "the engine was left on version $V2" cmp -s "$A" "$T/v2.img"
cp "$T/db.keep" "$ST/zonewall.db"
sqlite3 "$ST/zonewall.db" "UPDATE versions SET state='ok' WHERE state='refused'; UPDATE versions SET time_us=time_us+1 WHERE n=1"
expect_rc 1 "verify: a version's time edited" "$ZC" --state "$ST" journal verify
cp "$T/db.keep" "$ST/zonewall.db"
expect_rc 0 "verify: intact again once restored" "$ZC" --state "$ST" journal verify

# ---------------------------------------------------------------- item 8
echo "# item 8: the chain's head anchored outside the database"
cat >"$T/syslogd.py" <<'EOF'
import socket, sys
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", 0)); srv.listen(4)
open(sys.argv[2], "w").write(str(srv.getsockname()[1]))
out = open(sys.argv[1], "a")
while True:
    c, _ = srv.accept()
    buf = b""
    while True:
        x = c.recv(65536)
        if not x: break
        buf += x
        while b" " in buf:
            n, rest = buf.split(b" ", 1)
            if len(rest) < int(n): break
            out.write(rest[:int(n)].decode(errors="replace") + "\n"); out.flush()
            buf = rest[int(n):]
EOF
rm -f "$T/port"
$PY "$T/syslogd.py" "$T/syslog.copy" "$T/port" &
SYSLOGD=$!
for _ in $(seq 50); do [ -s "$T/port" ] && break; sleep 0.1; done
start "$ST" --syslog "127.0.0.1:$(cat "$T/port")" || exit 1
expect_rc 0 "crisis block (more entries)" zc crisis block 203.0.113.0/24 -m "attacker range"
expect_rc 0 "crisis end" zc crisis end -m "incident closed"
HEAD=$(zc status --format json | jq_ "d['journal']['head_seq']")
for _ in $(seq 100); do grep -q "seq=\"$HEAD\"" "$T/syslog.copy" 2>/dev/null && break; sleep 0.1; done
check "the syslog copy has the head entry $HEAD" grep -q "seq=\"$HEAD\"" "$T/syslog.copy"
check "syslog messages carry the head" grep -q "head_seq=\"$HEAD\" head_hash=\"[0-9a-f]\{64\}\"" "$T/syslog.copy"
check "status shows the checkpoint" [ "$(zc status --format json | jq_ "d['journal']['checkpoint_seq']")" = "$HEAD" ]
zc status >"$T/out"
grep -q "checkpoint" "$T/out" && ok "status text names the checkpoint" || bad "status text: $(grep journal "$T/out")"
stop
kill "$SYSLOGD" 2>/dev/null; wait "$SYSLOGD" 2>/dev/null
check "a checkpoint file in the state directory" grep -q "$HEAD" "$ST/journal.head"
cp "$ST/zonewall.db" "$T/db.keep"
expect_rc 0 "verify with the checkpoint: intact" "$ZC" --state "$ST" journal verify
expect_rc 0 "verify with the syslog copy: intact" "$ZC" --state "$ST" journal verify --syslog-copy "$T/syslog.copy"
sqlite3 "$ST/zonewall.db" "DROP TRIGGER journal_keep_a_year; DELETE FROM journal WHERE seq > $HEAD - 3"
expect_rc 1 "verify: a cut tail is reported (checkpoint)" "$ZC" --state "$ST" journal verify
grep -q "$HEAD" "$T/out" && ok "... naming the last entry $HEAD" || bad "verify output: $(cat "$T/out")"
mv "$ST/journal.head" "$T/journal.head.keep"
expect_rc 1 "verify: a cut tail is reported (syslog copy, no checkpoint)" "$ZC" --state "$ST" journal verify --syslog-copy "$T/syslog.copy"
mv "$T/journal.head.keep" "$ST/journal.head"
sqlite3 "$ST/zonewall.db" "DELETE FROM journal"
expect_rc 1 "verify: an emptied database is reported" "$ZC" --state "$ST" journal verify
if grep -q "intact" "$T/out" && ! grep -q "ALTERED" "$T/out"; then bad "verify says intact: $(cat "$T/out")"; else ok "verify does not say intact"; fi
cp "$T/db.keep" "$ST/zonewall.db"

# ---------------------------------------------------------------- item 7
echo "# item 7: disk full during a commit"
if root; then
	MNT=$T/full
	mkdir -p "$MNT"
	if mount -t tmpfs -o size=3m,mode=0750 zwtest "$MNT"; then
		rm -f "$A"
		ZONEWALL_TICK_MS=200 start "$MNT/st" || exit 1
		expect_rc 0 "commit v1 on the small file system" zc commit "$M1" -m "initial (CHG-1)"
		dd if=/dev/zero of="$MNT/fill" bs=4k 2>/dev/null
		expect_rc 3 "commit with the disk full is refused" zc commit "$M2" -m "rename on a full disk"
		grep -q "No space left on device" "$T/err" && ok "... saying ENOSPC" || bad "error: $(cat "$T/err")"
		check "... not 'not an error'" bash -c "! grep -q 'not an error' '$T/err'"
		check "version 1 stays active" [ "$(zc status --format json | jq_ "d['active']['version']")" = 1 ]
		rm -f "$MNT/fill"
		for _ in $(seq 50); do [ "$(count_action commit-refused)" = 1 ] && break; sleep 0.1; done
		check "the refusal is journalled once space returns" [ "$(count_action commit-refused)" = 1 ]
		check "... with its cause" bash -c "'$ZC' --socket '$SOCK' journal --format json | grep -q 'No space left on device'"
		check "... and its reason" bash -c "'$ZC' --socket '$SOCK' journal --format json | grep -q 'rename on a full disk'"
		expect_rc 0 "verify after the full disk" zc journal verify
		expect_rc 0 "a commit works again" zc commit "$M2" -m "rename, disk freed"
		stop
		umount "$MNT" && MNT=
	else
		bad "cannot mount a tmpfs"
	fi
else
	echo "# not root: the full-disk check is not run"
fi

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
