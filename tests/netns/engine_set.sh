#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The engine set's transaction (include/zonewall/backend.h,
# control/daemon/engines.c) with a real engine: zonewalld-test drives the
# nft engine and the file test engine, in a private network namespace
# (unshare -n: the nft table and its generation are ours alone).
#  1. nft, then file: both take v1; the file engine refuses v2 at prepare:
#     the commit is refused and nft was not re-applied: the same table
#     (rule handles, image marker), the same ruleset generation id, not one
#     netlink event (nft monitor); the file engine was programmed once;
#     status shows both engines on v1; the journal has the refusal naming
#     the file engine.
#  2. file, then nft: both take v1; nft refuses v2 at prepare (its table
#     was replaced by one of the same name without zonewall's owner
#     comment): the file engine still holds v1, programmed once; the
#     foreign table is untouched.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespace, nftables)"; exit 77; }
B=${ZONEWALL_BUILDDIR:?run through meson test}
S=${ZONEWALL_SRCDIR:?run through meson test}

# Re-run in a private network namespace; it goes away with its last
# process (the daemon is killed on exit).
if [ -z "${ZW_ENGINE_SET_PARENT_NS:-}" ]; then
	ZW_ENGINE_SET_PARENT_NS=$(readlink /proc/self/ns/net) \
		exec unshare -n -- "$(readlink -f "$0")" "$@"
	echo "FAIL: cannot unshare the network namespace"
	exit 1
fi
if [ "$(readlink /proc/self/ns/net)" = "$ZW_ENGINE_SET_PARENT_NS" ]; then
	echo "FAIL: not in a private network namespace; refusing to touch nftables"
	exit 1
fi

ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
for x in "$ZWD" "$ZC" "$PY"; do
	[ -x "$x" ] || { echo "FAIL: $x missing"; exit 1; }
done
command -v nft >/dev/null || { echo "FAIL: the nft command is missing"; exit 1; }

T=$(mktemp -d /tmp/zw-engine-set.XXXXXX)
# the nft engine's image for the L7 inspector, at its default path (the
# spec stays "nft": the refusals name it): removed after if we made it
IMG=/run/zonewall/zonewall.img
IMG_WAS=; [ -e "$IMG" ] && IMG_WAS=1
SOCK=$T/zw.sock
PID=
MON=
fails=0
cleanup() {
	[ -n "$MON" ] && kill "$MON" 2>/dev/null
	# SIGTERM: the daemon stops its L7 inspector (a killed one leaves it)
	[ -n "$PID" ] && kill "$PID" 2>/dev/null
	wait 2>/dev/null
	nft delete table inet zonewall 2>/dev/null
	[ -z "$IMG_WAS" ] && rm -f "$IMG"
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 143' TERM INT

ok() { echo "ok - $*"; }
bad() { fails=$((fails + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION COMMAND...
	local d=$1
	shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
zc() { "$ZC" --socket "$SOCK" "$@"; }
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }
start() { # STATE BACKEND...
	local st=$1 a=()
	shift
	for b in "$@"; do a+=(--backend "$b"); done
	# --on-drift alert: the tables this test swaps behind the daemon's
	# back must stay as the test leaves them (the default repair would race
	# with the swap and put zonewall's table back in between)
	"$ZWD" --state "$st" --socket "$SOCK" "${a[@]}" --foreground \
		--log "$T/zwd.log" --on-drift alert &
	PID=$!
	for _ in $(seq 100); do
		zc status >/dev/null 2>&1 && return 0
		sleep 0.05
	done
	echo "FAIL: zonewalld did not start"
	cat "$T/zwd.log"
	exit 1
}
stop() {
	kill -TERM "$PID"
	wait "$PID"
	PID=
}
# The nft ruleset's generation id (NFT_MSG_GETGEN): it moves with every
# committed nftables transaction in the namespace.
cat >"$T/genid.py" <<'EOF'
import socket, struct
s = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 12)  # NETLINK_NETFILTER
s.bind((0, 0))
s.send(struct.pack("=LHHLL", 20, (10 << 8) | 16, 1, 1, 0)  # NFT_MSG_GETGEN
       + struct.pack("=BBH", 0, 0, 0))
data = s.recv(65536)
ln, typ = struct.unpack_from("=LH", data)
off = 20
while off < ln:
    alen, atyp = struct.unpack_from("=HH", data, off)
    if atyp & 0x7fff == 1:  # NFTA_GEN_ID
        print(struct.unpack_from(">L", data, off + 4)[0])
        break
    off += (alen + 3) & ~3
else:
    raise SystemExit("no NFTA_GEN_ID in the answer")
EOF
genid() { $PY "$T/genid.py"; }
# A table added and deleted: two events the monitor must show.
probe() { nft add table inet "$1" && nft delete table inet "$1"; }
mon_has() { # PATTERN: wait for it in the monitor's output
	for _ in $(seq 100); do
		grep -q -- "$1" "$T/monitor" && return 0
		sleep 0.05
	done
	return 1
}
backend() { # N FIELD: of zonectl status
	zc status --format json | jq_ "d['backends'][$1]['$2']"
}
refusals() { # PATTERN...: commit-refused entries whose JSON has them all
	zc journal --format json | $PY -c '
import json, sys
d = json.load(sys.stdin)
print(sum(1 for e in d["entries"] if e["action"] == "commit-refused"
          and all(p in json.dumps(e) for p in sys.argv[1:])))' "$@"
}

M1=$S/matrix/examples/minimal.yaml
M2=$T/m2.yaml
sed 's/F-001/F-101/' "$M1" >"$M2"
cmp -s "$M1" "$M2" && { echo "FAIL: the second matrix is the first"; exit 1; }

# ---- 1. nft first, the file engine (last) refuses at prepare ----
F=$T/one.img
start "$T/state1" nft "file:$F"
zc commit "$M1" -m "v1" >"$T/out" 2>&1 && ok "commit v1 on nft and file" ||
	bad "commit v1: $(cat "$T/out")"
V1=$(zc status --format json | jq_ "d['active']['image_sha256']")
check "nft holds v1" [ "$(backend 0 sha256)" = "$V1" -a "$(backend 0 in_sync)" = True ]
check "the file engine holds v1" [ "$(backend 1 sha256)" = "$V1" -a "$(backend 1 in_sync)" = True ]
check "the file engine programmed once" [ "$(wc -l <"$F.applied")" = 1 ]
nft --handle list table inet zonewall >"$T/handles.before"
check "the nft table carries v1's image marker" grep -q "$V1" "$T/handles.before"
G1=$(genid)
check "generation id readable ($G1)" [ -n "$G1" ]

stdbuf -oL nft monitor >"$T/monitor" 2>&1 &
MON=$!
for _ in $(seq 50); do # until the monitor listens
	probe zw_ready
	grep -q zw_ready "$T/monitor" && break
	sleep 0.1
done
mon_has "delete table inet zw_ready" || { bad "nft monitor shows nothing"; cat "$T/monitor"; exit 1; }
G1=$(genid) # (the probes moved it)

echo "disk full (simulated)" >"$F.fail"
zc commit "$M2" -m "v2" >"$T/out" 2>"$T/err"
rc=$?
check "commit v2 refused (exit $rc)" [ $rc = 3 ]
grep -q "version 1 stays active" "$T/err" && grep -q "backend file:" "$T/err" &&
	grep -q "disk full (simulated)" "$T/err" && grep -q "no engine was changed" "$T/err" &&
	ok "the error names the file engine and its reason" || bad "error text: $(cat "$T/err")"
nft --handle list table inet zonewall >"$T/handles.after"
check "nft table unchanged: same rules, same handles, same marker" \
	cmp -s "$T/handles.before" "$T/handles.after"
G2=$(genid)
check "nft generation id unchanged ($G1 -> $G2): nothing committed" [ "$G2" = "$G1" ]
probe zw_probe
if mon_has zw_probe; then
	# what the monitor saw between the last ready probe and this one,
	# but the probes' own generation lines
	awk '/zw_probe/ {exit} /zw_ready/ {n = 0; next} {l[n++] = $0}
		END {for (i = 0; i < n; i++) print l[i]}' "$T/monitor" |
		grep -v '^# new generation [0-9]* by process [0-9]* (nft)$' >"$T/events"
	check "nft monitor: not one event during the refused commit" [ ! -s "$T/events" ]
	sed 's/^/    event: /' "$T/events"
else
	bad "nft monitor lost the probe"
fi
kill "$MON" 2>/dev/null
wait "$MON" 2>/dev/null
MON=
check "the file engine still programmed once" [ "$(wc -l <"$F.applied")" = 1 ]
check "no prepared file left" [ ! -e "$F.new" -a ! -e "$F.day.new" ]
check "status: nft on v1" [ "$(backend 0 sha256)" = "$V1" -a "$(backend 0 in_sync)" = True ]
check "status: file on v1" [ "$(backend 1 sha256)" = "$V1" -a "$(backend 1 in_sync)" = True ]
check "v1 still active" [ "$(zc versions --format json | jq_ "d['active']")" = 1 ]
check "v2 stored as refused" [ "$(zc versions --format json | jq_ "d['versions'][1]['state']")" = refused ]
# (the journal redacts the random part of the test's paths)
check "journal: the refusal names the file engine" \
	[ "$(refusals "backend file:" "disk full (simulated)" "no engine was changed")" = 1 ]
check "log: prepare-failed for the file engine" \
	grep -q "event=prepare-failed backend=file:$F " "$T/zwd.log"
rm -f "$F.fail"
stop

# ---- 2. the file engine first, nft (last) refuses at prepare ----
nft delete table inet zonewall
F=$T/two.img
start "$T/state2" "file:$F" nft
zc commit "$M1" -m "v1" >"$T/out" 2>&1 && ok "commit v1 on file and nft" ||
	bad "commit v1: $(cat "$T/out")"
V1=$(zc status --format json | jq_ "d['active']['image_sha256']")
check "the file engine holds v1" [ "$(backend 0 sha256)" = "$V1" -a "$(backend 0 in_sync)" = True ]
check "nft holds v1" [ "$(backend 1 sha256)" = "$V1" -a "$(backend 1 in_sync)" = True ]
cp "$F" "$T/v1.img"
# zonewall's table replaced by one of the same name that is not zonewall's
nft delete table inet zonewall
nft add table inet zonewall
nft add chain inet zonewall c
nft -s list table inet zonewall >"$T/foreign.before"
zc commit "$M2" -m "v2" >"$T/out" 2>"$T/err"
rc=$?
check "commit v2 refused (exit $rc)" [ $rc = 3 ]
grep -q "backend nft refused" "$T/err" && grep -q "not zonewall's" "$T/err" &&
	grep -q "no engine was changed" "$T/err" &&
	ok "the error names nft and its reason" || bad "error text: $(cat "$T/err")"
check "the file engine holds v1, the same bytes" cmp -s "$F" "$T/v1.img"
check "the file engine programmed once" [ "$(wc -l <"$F.applied")" = 1 ]
check "no prepared file left" [ ! -e "$F.new" -a ! -e "$F.day.new" ]
check "status: file on v1" [ "$(backend 0 sha256)" = "$V1" -a "$(backend 0 in_sync)" = True ]
nft -s list table inet zonewall >"$T/foreign.after"
check "the foreign table untouched" cmp -s "$T/foreign.before" "$T/foreign.after"
check "v1 still active" [ "$(zc versions --format json | jq_ "d['active']")" = 1 ]
check "journal: the refusal names nft" \
	[ "$(refusals "backend nft refused" "not zonewall's" "no engine was changed")" = 1 ]
stop

echo "$fails failures"
[ "$fails" = 0 ]
