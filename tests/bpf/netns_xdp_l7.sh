#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# L7 inspection with the XDP engine (docs/l7.md, "The XDP engine"), under
# zonewalld, in a lab of three network namespaces (client -- appliance --
# server), the XDP program on both appliance interfaces:
#  1. l7=off (the operator's waiver): the image with an `inspect:` flow is
#     committed, the status says inspect: is not enforced, no inspector is
#     started, a crisis block-file measure is refused;
#  2. by default (no queue= given: queue 23): the engine asks zonewalld for
#     the inspector; with one that does not listen (a stand-in given by
#     --inspector) an ssh connection fails (fail closed); with zw-inspect,
#     which zonewalld starts on the engine's queue and image, a real
#     OpenSSH client and server pass the `inspect: ssh` flow, an HTTP
#     request on the same port is cut (record, counter);
#  3. the L7 table deleted behind the daemon's back is drift, repaired;
#  4. `crisis block-file executable`: an HTTP download of an ELF is cut, a
#     text file passes; after `crisis end` the ELF passes.
# The test never starts zw-inspect itself: zonewalld does.
# Needs root, a bpffs of its own (tests/with_bpffs.sh), nft, OpenSSH, curl.
set -u

[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (network namespaces, XDP)"; exit 77; }
for c in ip nft sshd ssh ssh-keygen curl; do
	command -v "$c" >/dev/null || [ -x "/usr/sbin/$c" ] ||
		{ echo "FAIL: $c is missing (scripts/deps.sh installs it)"; exit 1; }
done
B=${ZONEWALL_BUILDDIR:?}
PY=/usr/bin/python3
INSPECT=$B/dataplane/nft/zw-inspect
ZWXDP=$B/dataplane/bpf/zw-xdp
ZD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
for x in "$INSPECT" "$ZWXDP" "$ZD" "$ZC"; do
	[ -x "$x" ] || { echo "FAIL: $x not built"; exit 1; }
done
grep -qw ssse3 /proc/cpuinfo || { echo "SKIP-HARDWARE: this CPU lacks SSSE3 (Hyperscan)"; exit 77; }
BPFFS=${ZONEWALL_TEST_BPFFS:-}
[ -n "$BPFFS" ] && grep -q " $BPFFS bpf " /proc/mounts ||
	{ echo "SKIP: no bpffs of its own: run it through tests/with_bpffs.sh (meson test does)"; exit 77; }

TAG=zx7$$
C=$TAG-c F=$TAG-f S=$TAG-s
T=$(mktemp -d)
QUEUE=23 # ZW_INSPECT_QUEUE_DEFAULT: the engine's default, not given
MPORT=$((19000 + $$ % 1000))
L7T=zwx7_$$
DIR=$BPFFS/zwx7-$$
IMG=$T/inspect.img
PIDS=()
ZDPID=
fails=0

stop_daemon() {
	[ -n "$ZDPID" ] || return 0
	kill "$ZDPID" 2>/dev/null
	wait "$ZDPID" 2>/dev/null
	ZDPID=
}
cleanup() {
	stop_daemon
	for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns exec $F nft delete table inet "$L7T" 2>/dev/null
	"$ZWXDP" --dir "$DIR" unload >/dev/null 2>&1
	"$ZWXDP" --dir "$DIR-r" unload >/dev/null 2>&1
	rm -rf "$DIR" "$DIR-r" 2>/dev/null
	for n in $C $F $S; do ip netns del "$n" 2>/dev/null; done
	rm -rf "$T"
}
trap cleanup EXIT INT TERM

ok() { echo "ok: $*"; }
bad() { echo "FAIL: $*"; fails=$((fails + 1)); }

# shellcheck source=../lib/three_ns.sh
. "$(dirname "$0")/../lib/three_ns.sh"
zw_three_ns $C $F $S "$TAG" 10.72 || exit 1
# veth: XDP in generic mode needs nothing of the peer; native mode on a
# veth needs an XDP program on the peer for its replies, so generic
mode=generic

cat >"$T/m.yaml" <<'EOF'
zonewall: 1
name: xdp-l7-lab
zones:
  ops: {kind: operations, networks: [10.72.1.0/24], isolate: true}
  srv: {kind: servers, networks: [10.72.2.0/24]}
  adm: {kind: admin, networks: [10.72.3.0/24]}
  upd: {kind: update, networks: [10.72.4.0/24]}
  vpn: {kind: remote-access, networks: [10.72.5.0/24]}
  xchg: {kind: provider-exchange, networks: [10.72.6.0/24]}
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

zc() { ip netns exec $F "$ZC" --socket "$T/zw.sock" "$@"; }
# a server is listening on 10.72.2.2:PORT (up to 30 s: python starts slowly
# on a loaded machine)
wait_listen() {
	for _ in $(seq 300); do
		ip netns exec $S ss -ltn | grep -q "10.72.2.2:$1 " && return 0
		sleep 0.1
	done
	bad "nothing listens on 10.72.2.2:$1"
}
start_daemon() { # SPEC-SUFFIX STATE-DIR [zonewalld options]
	local spec=$1 state=$2
	shift 2
	mkdir -p "$state"
	ip netns exec $F "$ZD" --state "$state" --socket "$T/zw.sock" \
		--backend "xdp:fa,fb,mode=$mode,$spec" --foreground \
		--metrics "127.0.0.1:$MPORT" --log "$T/zd.log" "$@" &
	ZDPID=$!
	for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
	zc status >/dev/null 2>&1 || { bad "zonewalld did not start: $(tail -5 "$T/zd.log")"; exit 1; }
}

# ---- 1. l7=off: inspect: waived, no inspector, block-file refused ----
start_daemon "dir=$DIR-r,l7=off" "$T/state-r"
zc commit "$T/m.yaml" -m "l7 lab" >"$T/waived.out" 2>&1 &&
	ok "with l7=off the inspect: flow is committed (waived)" ||
	bad "l7=off: commit refused: $(cat "$T/waived.out")"
zc status 2>&1 | grep -q "inspect: not enforced (l7=off)" &&
	ok "the status says inspect: is not enforced (l7=off)" ||
	bad "status with l7=off: $(zc status 2>&1 | grep -i xdp)"
grep -q "inspector-started" "$T/zd.log" &&
	bad "zonewalld started an inspector for l7=off" ||
	ok "no inspector for an engine with l7=off"
zc crisis block-file executable --from ops --to srv -m "C2 drill" >"$T/refused.out" 2>&1 &&
	bad "l7=off: a block-file measure was accepted" ||
	{ grep -q "block-file" "$T/refused.out" &&
		ok "l7=off: a block-file measure is refused" ||
		bad "block-file refusal: $(cat "$T/refused.out")"; }
stop_daemon
"$ZWXDP" --dir "$DIR-r" unload >/dev/null 2>&1
: >"$T/zd.log"

# ---- 2. by default: the kernel path, zonewalld runs the inspector ----
# first with a stand-in that never listens on the queue: fail closed
printf '#!/bin/sh\nexec sleep 600\n' >"$T/mute-inspect"
chmod +x "$T/mute-inspect"
start_daemon "dir=$DIR,inspect_image=$IMG,l7_table=$L7T" "$T/state" \
	--inspector "$T/mute-inspect"
zc commit "$T/m.yaml" -m "l7 lab" >"$T/commit.out" 2>&1 &&
	ok "commit through zonewalld, the XDP engine inspecting by default" ||
	{ bad "commit: $(cat "$T/commit.out") $(tail -5 "$T/zd.log")"; exit 1; }
grep -q "inspector-started pid=[0-9]* path=$T/mute-inspect queue=$QUEUE image=$IMG " "$T/zd.log" &&
	ok "the XDP engine makes zonewalld start the inspector (queue $QUEUE, its image)" ||
	bad "no inspector-started for the XDP engine: $(grep inspector "$T/zd.log")"
ip netns exec $F nft list table inet "$L7T" >"$T/l7t.txt" 2>&1
grep -q "policy accept" "$T/l7t.txt" && grep -q "ct mark" "$T/l7t.txt" &&
	ok "the L7 table: policy accept, ct mark rules" ||
	bad "L7 table: $(cat "$T/l7t.txt")"
grep -q "chain flow_L7-WEB" "$T/l7t.txt" &&
	bad "the L7 table has a chain for the uninspected flow L7-WEB" ||
	ok "only the inspected flow has a flow chain"
[ -s "$IMG" ] && ok "the image for zw-inspect is written" || bad "no image at $IMG"
"$ZWXDP" --dir "$DIR" status 2>/dev/null | grep -q "fa" &&
	ok "the XDP program enforces on the appliance" || bad "zw-xdp status: $("$ZWXDP" --dir "$DIR" status 2>&1)"

ssh-keygen -q -t ed25519 -N '' -f "$T/hostkey" || exit 1
ssh-keygen -q -t ed25519 -N '' -f "$T/userkey" || exit 1
cat "$T/userkey.pub" >"$T/authorized_keys"
chmod 600 "$T/authorized_keys"
cat >"$T/sshd_config" <<EOF
Port 2222
ListenAddress 10.72.2.2
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
wait_listen 2222
sshc() {
	ip netns exec $C ssh -i "$T/userkey" -o StrictHostKeyChecking=no \
		-o UserKnownHostsFile=/dev/null -o BatchMode=yes -o ConnectTimeout=4 \
		-p 2222 root@10.72.2.2 "$@" 2>>"$T/ssh.err"
}
out=$(sshc echo through 2>/dev/null)
[ "$out" != through ] && ok "no inspector listening: the connection does not pass (fail closed)" ||
	bad "an ssh connection passed with no inspector listening"

# the same state, zonewalld's own zw-inspect (the test build's default)
stop_daemon
start_daemon "dir=$DIR,inspect_image=$IMG,l7_table=$L7T" "$T/state"
for _ in $(seq 100); do grep -q 'zw-inspect: listening on NFQUEUE' "$T/zd.log" && break; sleep 0.1; done
IPID=$(pgrep -P "$ZDPID" -x zw-inspect)
[ -n "$IPID" ] && grep -q "inspector-started pid=$IPID path=$INSPECT queue=$QUEUE image=$IMG " "$T/zd.log" &&
	ok "zonewalld runs zw-inspect (pid $IPID) for the XDP engine" ||
	bad "zw-inspect not run by zonewalld: $(grep inspector "$T/zd.log")"
out=$(sshc echo through)
[ "$out" = through ] && ok "OpenSSH client and server pass the inspect: ssh flow" ||
	{ bad "ssh through the inspect: ssh flow failed: $(tail -3 "$T/ssh.err")"; grep zw-inspect "$T/zd.log" | tail -5; }
out=$(sshc echo again)
[ "$out" = again ] && ok "a second ssh connection passes" || bad "second ssh connection"

kill $SSHD; wait $SSHD 2>/dev/null
mkdir -p "$T/www"; echo hello >"$T/www/hello.txt"
ip netns exec $S $PY -m http.server 2222 --bind 10.72.2.2 --directory "$T/www" \
	>/dev/null 2>&1 &
PIDS+=($!)
wait_listen 2222
got=$(ip netns exec $C curl -s -m 4 http://10.72.2.2:2222/hello.txt)
[ "$got" != hello ] && ok "an HTTP request on the ssh port is cut" ||
	bad "HTTP passed through the inspect: ssh flow"
grep -q 'reason=l7-mismatch flow=L7-SSH .*seen=http' "$T/zd.log" &&
	ok "record: l7-mismatch, flow L7-SSH, http seen (in zonewalld's log)" ||
	{ bad "no l7-mismatch record naming http"; grep zw-inspect "$T/zd.log" | tail -5; }
# the XDP program never sees the kernel path's verdict: the inspector's
# record is what reaches the daemon's flow records (and the exporters)
for _ in $(seq 50); do
	zc flows --denied --format json >"$T/flows.json" 2>/dev/null
	grep -q '"seen"' "$T/flows.json" && break
	sleep 0.1
done
$PY - "$T/flows.json" <<'PYEOF' &&
import json, sys
d = json.load(open(sys.argv[1]))
recs = d["flows"] if isinstance(d, dict) and "flows" in d else d
sys.exit(0 if any(r.get("reason") == "l7-mismatch" and r.get("flow") == "L7-SSH"
                  and r.get("seen") == "http" for r in recs) else 1)
PYEOF
	ok "zonectl flows: the cut as a denied record, l7-mismatch, L7-SSH, seen http" ||
	bad "no inspector record in zonectl flows: $(head -c 600 "$T/flows.json")"
ip netns exec $F nft list counter inet "$L7T" drop_L7-SSH 2>/dev/null | grep -q "packets [1-9]" &&
	ok "later packets of the cut connection dropped by the L7 table (drop_L7-SSH)" ||
	bad "drop_L7-SSH counted nothing"
# the engine's statistics carry them (the metrics endpoint)
ip netns exec $F curl -s -m 4 "http://127.0.0.1:$MPORT/metrics" >"$T/metrics.txt"
grep -q 'zonewall_drops_total{.*reason="l7-mismatch"} [1-9]' "$T/metrics.txt" &&
	ok "the engine reports l7-mismatch drops" ||
	bad "no l7-mismatch drops in the metrics: $(grep -i l7 "$T/metrics.txt" | head -3)"

# ---- 3. the L7 table removed behind the daemon's back: repaired ----
ip netns exec $F nft delete table inet "$L7T"
back=0
for _ in $(seq 50); do
	ip netns exec $F nft list table inet "$L7T" >/dev/null 2>&1 && { back=1; break; }
	sleep 0.1
done
[ $back = 1 ] && ok "the deleted L7 table is seen as drift and repaired" ||
	bad "the L7 table did not come back: $(tail -5 "$T/zd.log")"
grep -qi "L7 table" "$T/zd.log" && ok "the daemon's log names the L7 table's drift" ||
	bad "no L7 table drift in the log: $(tail -5 "$T/zd.log")"

# ---- 4. crisis block-file through the XDP engine ----
ip netns exec $S $PY -m http.server 8080 --bind 10.72.2.2 --directory "$T/www" \
	>/dev/null 2>&1 &
PIDS+=($!)
cp /bin/true "$T/www/tool.elf"
wait_listen 8080
get() {
	rm -f "$T/got"
	ip netns exec $C curl -s -m 4 -o "$T/got" -w '%{http_code}' "http://10.72.2.2:8080/$1"
}
[ "$(get tool.elf)" = 200 ] && cmp -s "$T/got" "$T/www/tool.elf" &&
	ok "before the crisis the ELF downloads (L7-WEB not inspected)" || bad "ELF download before the crisis"
zc crisis block-file executable --from ops --to srv -m "C2 drill" >"$T/crisis.out" 2>&1 &&
	ok "crisis block-file executable in force" || bad "crisis block-file: $(cat "$T/crisis.out")"
[ "$(get tool.elf)" != 200 ] || ! cmp -s "$T/got" "$T/www/tool.elf" &&
	ok "during the crisis the ELF download is cut" ||
	{ bad "the ELF passed during the crisis"; ip netns exec $F nft list table inet "$L7T"; }
grep -q 'reason=file-type flow=L7-WEB .*file=elf' "$T/zd.log" &&
	ok "record: file-type, flow L7-WEB, elf" || bad "no file-type record: $(grep zw-inspect "$T/zd.log" | tail -5)"
[ "$(get hello.txt)" = 200 ] && [ "$(cat "$T/got")" = hello ] &&
	ok "during the crisis a text file passes" || bad "the text file did not pass"
zc crisis end -m "drill over" >"$T/end.out" 2>&1 && ok "crisis end" || bad "crisis end: $(cat "$T/end.out")"
[ "$(get tool.elf)" = 200 ] && cmp -s "$T/got" "$T/www/tool.elf" &&
	ok "after crisis end the ELF downloads" || bad "ELF after crisis end"

[ $fails = 0 ] && echo "netns-xdp-l7: all passed" || echo "netns-xdp-l7: $fails failure(s)"
[ $fails = 0 ]
