#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# L7 inspection through the nftables engine and zw-inspect (docs/l7.md),
# in a lab of three network namespaces (client -- appliance -- server):
#  1. an `inspect: ssh` flow: a real OpenSSH client and server pass; an
#     HTTP request on the same port is cut (counted as l7-mismatch);
#  2. under zonewalld, which runs zw-inspect itself: `crisis block-file
#     executable` from the client's zone to the server's: an HTTP download
#     of an ELF file is cut, a text file passes; after `crisis end` the
#     ELF passes; the inspector killed is restarted (and logged), and
#     stopped with the daemon.
# Needs root, nft, OpenSSH (sshd, ssh, ssh-keygen), python3, curl.
set -u

[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces, nftables)"; exit 77; }
for c in ip nft sshd ssh ssh-keygen curl; do
	command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] ||
		{ echo "FAIL: $c is missing (scripts/deps.sh installs it)"; exit 1; }
done
B=${ZONEWALL_BUILDDIR:?}
PY=/usr/bin/python3
APPLY=$B/dataplane/nft/zw-nft-apply
INSPECT=$B/dataplane/nft/zw-inspect
[ -x "$INSPECT" ] || { echo "FAIL: $INSPECT not built (libhyperscan-dev, libnetfilter-queue-dev, libnetfilter-conntrack-dev)"; exit 1; }
grep -qw ssse3 /proc/cpuinfo || { echo "SKIP-HARDWARE: this CPU lacks SSSE3 (Hyperscan)"; exit 77; }

TAG=zwl7$$
C=$TAG-c F=$TAG-f S=$TAG-s
T=$(mktemp -d)
QUEUE=$((3000 + $$ % 1000))
PIDS=()
fails=0

cleanup() {
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	for n in $C $F $S; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# shellcheck source=../lib/three_ns.sh
. "$(dirname "$0")/../lib/three_ns.sh"
zw_three_ns $C $F $S "$TAG" 10.71 || exit 1

cat >"$T/m.yaml" <<'EOF'
zonewall: 1
name: l7-lab
zones:
  ops: {kind: operations, networks: [10.71.1.0/24], isolate: true}
  srv: {kind: servers, networks: [10.71.2.0/24]}
  adm: {kind: admin, networks: [10.71.3.0/24]}
  upd: {kind: update, networks: [10.71.4.0/24]}
  vpn: {kind: remote-access, networks: [10.71.5.0/24]}
  xchg: {kind: provider-exchange, networks: [10.71.6.0/24]}
services:
  ssh-lab: {proto: tcp, ports: [2222], inspect: ssh}
  web: {proto: tcp, ports: [8080]}
flows:
  - id: L7-SSH
    from: ops
    to: srv
    services: [ssh-lab]
    justification: administration through the lab's ssh
  - id: L7-WEB
    from: ops
    to: srv
    services: [web]
    justification: downloads from the lab's web server
EOF

# ---- 1. inspect: ssh ----
IMG=$T/inspect.img
ip netns exec $F "$APPLY" --l7 "queue=$QUEUE,inspect_image=$IMG" "$T/m.yaml" >"$T/apply.out" 2>&1 ||
	{ cat "$T/apply.out"; bad "zw-nft-apply with --l7"; exit 1; }
ok "ruleset with the inspector's queue applied"
ip netns exec $F nft list table inet zonewall 2>/dev/null | grep -q "ct mark" ||
	bad "the flow chain does not look at the ct mark"

# without the inspector: fail closed
ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" || exit 1
ssh-keygen -q -t ed25519 -N '' -f "$T/userkey" || exit 1
cat "$T/userkey.pub" >"$T/authorized_keys"
chmod 600 "$T/authorized_keys"
cat >"$T/sshd_config" <<EOF
Port 2222
ListenAddress 10.71.2.2
HostKey $T/hostkey
AuthorizedKeysFile $T/authorized_keys
PidFile $T/sshd.pid
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
EOF
mkdir -p /run/sshd
ip netns exec $S /usr/sbin/sshd -D -e -f "$T/sshd_config" 2>"$T/sshd.log" &
PIDS+=($!)
SSHD=$!
sleep 0.5
sshc() {
	ip netns exec $C ssh -i "$T/userkey" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=4 \
		-p 2222 root@10.71.2.2 "$@" 2>>"$T/ssh.err"
}
out=$(sshc echo through 2>/dev/null)
[ "$out" != through ] && ok "no inspector: the connection does not pass (fail closed)" ||
	bad "an ssh connection passed with no inspector listening"

ip netns exec $F "$INSPECT" --queue $QUEUE --image "$IMG" --stats "$T/stats.json" \
	>"$T/inspect.out" 2>"$T/inspect.err" &
PIDS+=($!)
INSP1=$!
sleep 0.5
out=$(sshc echo through)
[ "$out" = through ] && ok "OpenSSH client and server pass the inspect: ssh flow" ||
	{ bad "ssh through the inspect: ssh flow failed: $(tail -3 "$T/ssh.err")"; cat "$T/inspect.err"; }
out=$(sshc echo again)
[ "$out" = again ] && ok "a second ssh connection passes" || bad "second ssh connection"

# HTTP on the same port: the server is now a web server
kill $SSHD; wait $SSHD 2>/dev/null
mkdir -p "$T/www"; echo hello >"$T/www/hello.txt"
ip netns exec $S $PY -m http.server 2222 --bind 10.71.2.2 --directory "$T/www" \
	>/dev/null 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do ip netns exec $S ss -ltn | grep -q 10.71.2.2:2222 && break; sleep 0.1; done
got=$(ip netns exec $C curl -s -m 4 http://10.71.2.2:2222/hello.txt)
[ "$got" != hello ] && ok "an HTTP request on the ssh port is cut" ||
	bad "HTTP passed through the inspect: ssh flow"
grep -q 'reason=l7-mismatch flow=L7-SSH .*seen=http' "$T/inspect.out" &&
	ok "record: l7-mismatch, flow L7-SSH, http seen" ||
	{ bad "no l7-mismatch record naming http"; cat "$T/inspect.out"; }
grep -q '"L7-SSH": {"judged": 2, "l7_mismatch": 1' "$T/stats.json" &&
	ok "counted per flow: 2 judged, 1 mismatch" || bad "stats: $(cat "$T/stats.json")"
ip netns exec $F nft list counter inet zonewall drop_L7-SSH 2>/dev/null | grep -q "packets [1-9]" &&
	ok "later packets of the cut connection dropped by the ruleset (drop_L7-SSH)" ||
	bad "drop_L7-SSH counted nothing"

ip netns exec $F "$APPLY" --destroy >/dev/null 2>&1
ip netns exec $F "$INSPECT" --queue $QUEUE --image "$IMG" 2>"$T/second.err" &&
	bad "a second inspector bound the same queue" ||
	grep -q "cannot bind NFQUEUE" "$T/second.err" &&
	ok "a second inspector on the same queue is refused, loudly" ||
	bad "second inspector: $(cat "$T/second.err")"
kill $INSP1; wait $INSP1 2>/dev/null

# ---- 2. crisis block-file through zonewalld ----
ZD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
if [ ! -x "$ZD" ]; then
	echo "FAIL: $ZD not built"; exit 1
fi
IMG2=$T/daemon.img
mkdir -p "$T/state"
ip netns exec $F "$ZD" --state "$T/state" --socket "$T/zw.sock" \
	--backend "nft:queue=$QUEUE,inspect_image=$IMG2" --foreground \
	--inspector "$INSPECT" --log "$T/zd.log" &
ZDPID=$!
PIDS+=($ZDPID)
zc() { ip netns exec $F "$ZC" --socket "$T/zw.sock" "$@"; }
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
zc commit "$T/m.yaml" -m "l7 lab" >"$T/commit.out" 2>&1 ||
	{ bad "commit: $(cat "$T/commit.out") $(tail -5 "$T/zd.log")"; exit 1; }
ok "commit through zonewalld with the nft engine's queue"
inspector_pid() { pgrep -P "$ZDPID" -x zw-inspect; }
for _ in $(seq 50); do grep -q 'zw-inspect: listening on NFQUEUE' "$T/zd.log" && break; sleep 0.1; done
IP1=$(inspector_pid)
[ -n "$IP1" ] && grep -q "inspector-started pid=$IP1 .*queue=$QUEUE image=$IMG2" "$T/zd.log" &&
	ok "zonewalld runs zw-inspect (pid $IP1) on the engine's queue and image" ||
	bad "no inspector under zonewalld: $(tail -5 "$T/zd.log")"
ip netns exec $S $PY -m http.server 8080 --bind 10.71.2.2 --directory "$T/www" \
	>/dev/null 2>&1 &
PIDS+=($!)
cp /bin/true "$T/www/tool.elf"
for _ in $(seq 50); do ip netns exec $S ss -ltn | grep -q 10.71.2.2:8080 && break; sleep 0.1; done
get() {
	rm -f "$T/got"
	ip netns exec $C curl -s -m 4 -o "$T/got" -w '%{http_code}' "http://10.71.2.2:8080/$1"
}
[ "$(get tool.elf)" = 200 ] && cmp -s "$T/got" "$T/www/tool.elf" &&
	ok "before the crisis the ELF downloads" || bad "ELF download before the crisis"

zc crisis block-file executable --from ops --to srv -m "C2 drill" >"$T/crisis.out" 2>&1 &&
	ok "crisis block-file executable in force" || bad "crisis block-file: $(cat "$T/crisis.out")"
[ "$(get tool.elf)" != 200 ] || ! cmp -s "$T/got" "$T/www/tool.elf" &&
	ok "during the crisis the ELF download is cut" ||
	{ bad "the ELF passed during the crisis"; tail -20 "$T/zd.log";
	  ip netns exec $F nft list chain inet zonewall flow_L7-WEB 2>/dev/null; }
grep -q 'reason=file-type flow=L7-WEB .*file=elf' "$T/zd.log" &&
	ok "record: file-type, flow L7-WEB, elf (in zonewalld's log)" ||
	bad "no file-type record: $(grep zw-inspect "$T/zd.log")"
# the inspector's record reaches the daemon's flow records (the pump
# reads STATE/inspector.rec every 100 ms)
for _ in $(seq 50); do
	zc flows --denied --format json >"$T/flows.json" 2>/dev/null
	grep -q '"seen"' "$T/flows.json" && break
	sleep 0.1
done
$PY - "$T/flows.json" <<'PYEOF' &&
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["flows"] if isinstance(d, dict) and "flows" in d else d
sys.exit(0 if any(r.get("reason") == "file-type" and r.get("flow") == "L7-WEB"
                  and r.get("seen") == "elf" for r in recs) else 1)
PYEOF
	ok "zonectl flows: the cut as a denied record, file-type, L7-WEB, seen elf" ||
	bad "no inspector record in zonectl flows: $(head -c 600 "$T/flows.json")"
# the inspector dies: logged, restarted; the measure still holds
kill -9 "$IP1"
for _ in $(seq 100); do IP2=$(inspector_pid); [ -n "$IP2" ] && [ "$IP2" != "$IP1" ] && break; sleep 0.05; done
grep -q "inspector-died pid=$IP1 signal=9" "$T/zd.log" &&
	ok "the inspector's death is logged" || bad "no inspector-died line: $(tail -5 "$T/zd.log")"
[ -n "$IP2" ] && [ "$IP2" != "$IP1" ] && grep -q "inspector-started pid=$IP2 .*restarts=1" "$T/zd.log" &&
	ok "zonewalld restarted the inspector (pid $IP2)" || bad "the inspector was not restarted"
for _ in $(seq 50); do [ "$(grep -c 'zw-inspect: listening on NFQUEUE' "$T/zd.log")" -ge 2 ] && break; sleep 0.1; done
[ "$(get tool.elf)" != 200 ] || ! cmp -s "$T/got" "$T/www/tool.elf" &&
	ok "after the restart the ELF download is still cut" || bad "the ELF passed after the inspector's restart"
[ "$(get hello.txt)" = 200 ] && [ "$(cat "$T/got")" = hello ] &&
	ok "after the restart a text file passes" || bad "the text file did not pass after the restart"
[ "$(get hello.txt)" = 200 ] && [ "$(cat "$T/got")" = hello ] &&
	ok "during the crisis a text file passes" || bad "the text file did not pass"
zc crisis end -m "drill over" >"$T/end.out" 2>&1 && ok "crisis end" || bad "crisis end: $(cat "$T/end.out")"
[ "$(get tool.elf)" = 200 ] && cmp -s "$T/got" "$T/www/tool.elf" &&
	ok "after crisis end the ELF downloads" || bad "ELF after crisis end"
zc journal --format json 2>/dev/null | grep -q 'crisis-block-file' &&
	ok "the measure is journalled" || bad "no crisis-block-file journal entry"

# zonewalld killed: the inspector stays (like the ruleset) and the next
# daemon adopts it
IP3=$(inspector_pid)
kill -9 "$ZDPID"; wait "$ZDPID" 2>/dev/null
[ -n "$IP3" ] && kill -0 "$IP3" 2>/dev/null &&
	ok "the inspector outlives a killed zonewalld" || bad "the inspector died with zonewalld (kill -9)"
[ "$(get hello.txt)" = 200 ] && [ "$(cat "$T/got")" = hello ] &&
	ok "with zonewalld killed, a new connection is still judged and passes" ||
	bad "no new connection without zonewalld"
ip netns exec $F "$ZD" --state "$T/state" --socket "$T/zw.sock" \
	--backend "nft:queue=$QUEUE,inspect_image=$IMG2" --foreground \
	--inspector "$INSPECT" --log "$T/zd.log" &
ZDPID=$!
PIDS+=($ZDPID)
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
grep -q "inspector-adopted pid=$IP3 " "$T/zd.log" && [ "$(inspector_pid)" = "" ] &&
	ok "the restarted zonewalld adopts the running inspector" ||
	bad "no adoption: $(grep inspector "$T/zd.log" | tail -3)"
kill -TERM "$ZDPID"; wait "$ZDPID" 2>/dev/null
# gone, or a zombie its new parent has not reaped yet (it was adopted)
gone() { ! kill -0 "$1" 2>/dev/null || [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" = Z ]; }
[ -n "$IP3" ] && gone "$IP3" && grep -q "inspector-stopped pid=$IP3" "$T/zd.log" &&
	ok "the inspector stops with zonewalld" ||
	bad "the inspector outlived zonewalld: $(grep inspector "$T/zd.log" | tail -2)"
ip netns exec $F "$APPLY" --destroy >/dev/null 2>&1
[ $fails = 0 ] && echo "l7-inspect: all passed" || echo "l7-inspect: $fails failure(s)"
[ $fails = 0 ]
