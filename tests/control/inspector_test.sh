#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonewalld's supervision of the L7 inspector (docs/l7.md, control/daemon/
# inspector.c), with the file test engine saying it needs one
# ("file:PATH,inspect=N") and a stand-in inspector that records its
# arguments (no root, no NFQUEUE; the real zw-inspect under the daemon is
# tests/netns/l7_inspect.sh):
#  - started once for the engines that need it, with their queue and image;
#    its output in the daemon's log; none when no engine needs one;
#  - killed: logged (inspector-died) and started again; the metrics
#    zonewall_inspector_up and zonewall_inspector_restarts_total say so;
#  - stopped with the daemon (SIGTERM);
#  - not found (--inspector PATH), or engines naming different queues:
#    the daemon does not start, and says why; a start that fails later
#    stops the inspector it started.
set -u
B=${ZONEWALL_BUILDDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
T=$(mktemp -d /tmp/zwd-insp.XXXXXX)
SOCK=$T/zw.sock
PID=
fails=0
checks=0

cleanup() {
	[ -n "$PID" ] && kill -TERM "$PID" 2>/dev/null && wait "$PID" 2>/dev/null
	# a stand-in left by a failed check (it records its pid)
	for f in "$T"/insp.*.pid; do [ -f "$f" ] && kill "$(cat "$f")" 2>/dev/null; done
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/checks.sh"

# the stand-in: records its pid and arguments, says something, waits
FAKE=$T/fake-inspect
cat >"$FAKE" <<EOT
#!/bin/sh
echo \$\$ >"$T/insp.\$\$.pid"
echo "\$@" >"$T/insp.\$\$.args"
echo "fake-inspect: listening \$*"
trap 'rm -f "$T/insp.\$\$.pid"; exit 0' TERM
while :; do sleep 0.05; done
EOT
chmod +x "$FAKE"

start() { # BACKEND... (then zonewalld's options after --)
	local a=()
	while [ $# -gt 0 ] && [ "$1" != -- ]; do a+=(--backend "$1"); shift; done
	[ $# -gt 0 ] && shift
	"$ZWD" --state "$T/state" --socket "$SOCK" "${a[@]}" --foreground \
		--log "$T/zwd.log" "$@" &
	PID=$!
	for _ in $(seq 100); do
		"$ZC" --socket "$SOCK" status >/dev/null 2>&1; [ $? != 3 ] && return 0
		kill -0 "$PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}
stop() { kill -TERM "$PID"; wait "$PID"; PID=; }
live() { for f in "$T"/insp.*.pid; do [ -f "$f" ] && cat "$f"; done; }
wait_for() { # COMMAND...: up to 3 s
	for _ in $(seq 60); do "$@" && return 0; sleep 0.05; done
	return 1
}
one_live() { [ "$(live | wc -l)" = 1 ]; }
PORT=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
metric() { # NAME: its value on the endpoint, "-" if absent
	/usr/bin/python3 - "$PORT" "$1" <<'EOT'
import sys, urllib.request
page = urllib.request.urlopen(f"http://127.0.0.1:{sys.argv[1]}/metrics", timeout=10).read().decode()
print(next((l.split()[1] for l in page.splitlines() if l.split()[:1] == [sys.argv[2]]), "-"))
EOT
}

# ---- started for the engines that need it
start "file:$T/a.img,inspect=7" "file:$T/b.img" -- --inspector "$FAKE" \
	--metrics "127.0.0.1:$PORT" ||
	{ cat "$T/zwd.log"; exit 1; }
check "the inspector runs once" wait_for one_live
P1=$(live)
check "with the engine's queue and image, and the daemon's record socket" \
	grep -qx -- "--queue 7 --image $T/a.img --records $T/state/inspector.rec" "$T/insp.$P1.args"
check "the record socket is bound, owner only" \
	bash -c "[ -S '$T/state/inspector.rec' ] && [ \"\$(stat -c %a '$T/state/inspector.rec')\" = 600 ]"
check "started as zonewalld's child" [ "$(ps -o ppid= -p "$P1" | tr -d ' ')" = "$PID" ]
check "logged (inspector-started, its pid, queue, image)" \
	grep -q "inspector-started pid=$P1 path=$FAKE queue=7 image=$T/a.img restarts=0" "$T/zwd.log"
check "its output goes to the daemon's log" wait_for grep -q "fake-inspect: listening --queue 7" "$T/zwd.log"
check "its pid is in the state directory" [ "$(cat "$T/state/zw-inspect.pid")" = "$P1" ]
check "metrics: zonewall_inspector_up 1, no restart" \
	[ "$(metric zonewall_inspector_up) $(metric zonewall_inspector_restarts_total)" = "1 0" ]

# ---- killed: logged, started again
kill -9 "$P1"; rm -f "$T/insp.$P1.pid"
check "its death is logged" wait_for grep -q "inspector-died pid=$P1 signal=9" "$T/zwd.log"
check "it is started again" wait_for one_live
P2=$(live)
check "a new process, counted as a restart" \
	grep -q "inspector-started pid=$P2 .*restarts=1" "$T/zwd.log"
check "metrics: up again, one restart" \
	[ "$(metric zonewall_inspector_up) $(metric zonewall_inspector_restarts_total)" = "1 1" ]

# ---- stopped with the daemon
stop
check "stopped with the daemon" wait_for sh -c "! kill -0 $P2 2>/dev/null"
check "logged (inspector-stopped)" grep -q "inspector-stopped pid=$P2" "$T/zwd.log"
check "its pid file removed" [ ! -e "$T/state/zw-inspect.pid" ]

# ---- no engine needs one: none
start "file:$T/a.img" -- --inspector "$FAKE" --metrics "127.0.0.1:$PORT" ||
	{ cat "$T/zwd.log"; exit 1; }
sleep 0.3
check "no engine needs it: no inspector" [ -z "$(live)" ]
check "and no inspector metrics" [ "$(metric zonewall_inspector_up)" = - ]
stop

# ---- refusals at start
"$ZWD" --state "$T/state" --socket "$SOCK" --backend "file:$T/a.img,inspect=7" \
	--foreground --inspector "$T/nowhere" --log "$T/zwd2.log" 2>"$T/err"
rc=$?
check "not found: the daemon does not start (exit $rc)" [ $rc = 3 ]
check "and says why, naming --inspector" \
	grep -q "needs the L7 inspector (NFQUEUE 7) and zw-inspect was not found at $T/nowhere: give --inspector PATH" "$T/err"
"$ZWD" --state "$T/state" --socket "$SOCK" --backend "file:$T/a.img,inspect=7" \
	--backend "file:$T/b.img,inspect=8" --foreground --inspector "$FAKE" \
	--log "$T/zwd2.log" 2>"$T/err"
rc=$?
check "two queues: the daemon does not start (exit $rc)" [ $rc = 3 ]
check "and says one inspector per appliance" grep -q "one inspector per appliance" "$T/err"
check "no inspector left running" [ -z "$(live)" ]
# a start that fails after the inspector was started (the socket path is
# a plain file) stops it
: >"$T/not-a-socket"
"$ZWD" --state "$T/state" --socket "$T/not-a-socket" --backend "file:$T/a.img,inspect=7" \
	--foreground --inspector "$FAKE" --log "$T/zwd3.log" 2>"$T/err"
rc=$?
check "a later start failure: exit $rc" [ $rc = 3 ]
check "the inspector it started is stopped" \
	sh -c "grep -q inspector-started '$T/zwd3.log' && grep -q inspector-stopped '$T/zwd3.log'"
check "none left running" wait_for sh -c "[ -z \"\$(cat '$T'/insp.*.pid 2>/dev/null)\" ]"

echo "$checks checks, $fails failed"
[ $fails = 0 ]
