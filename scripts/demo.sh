#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonewall demo, on a fresh Debian 12 machine (as root):
#   ./scripts/demo.sh [--engine nft|xdp|dpdk] [--keep]
# installs what is missing, builds, brings up the netns lab for
# matrix/examples/piams.yaml with a flow collector (nfcapd, IPFIX capture),
# starts zonewalld with the engine exporting flow records to it, commits the
# matrix, drives real connections (allowed, denied, replies, isolated
# workstations, an unsolicited segment) and prints what passed and what
# was blocked beside `zonectl explain`, then the same connections as the
# collector saw them (nfdump -o nsel); then commits a change removing a
# flow and shows its live connection cut and the journal entry; then tears
# everything down (also on failure or Ctrl-C; --keep leaves the lab up).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ENGINE=nft
INSPECTOR=()
KEEP=0
while [ $# -gt 0 ]; do
	case $1 in
	--engine) ENGINE=${2:?--engine needs nft, xdp or dpdk}; shift 2 ;;
	--engine=*) ENGINE=${1#--engine=}; shift ;;
	--keep) KEEP=1; shift ;;
	-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "demo: unknown argument $1 (see --help)" >&2; exit 2 ;;
	esac
done
case $ENGINE in nft|xdp|dpdk) ;; *) echo "demo: --engine nft|xdp|dpdk" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "demo: run as root (network namespaces, nftables)" >&2; exit 3; }

B=$ROOT/build
MATRIX=$ROOT/matrix/examples/piams.yaml
TAG=zwdemo
TMP=$(mktemp -d /tmp/zwdemo.XXXXXX)
SOCK=$TMP/zw.sock
ZWD_PID=
DPDK_PID=
BPFFS=
bold=$(tput bold 2>/dev/null || true); norm=$(tput sgr0 2>/dev/null || true)
step() { echo; echo "${bold}== $* ==${norm}"; }
zc() { "$B/control/zonectl" --socket "$SOCK" "$@"; }

die() { echo "demo: $*" >&2; exit 1; }

# Runs once, at exit (an error, Ctrl-C and SIGTERM exit through it too).
cleanup() {
	local rc=$?
	set +e # tear everything down, whatever fails
	trap '' INT TERM
	[ "$KEEP" = 1 ] && [ $rc = 0 ] && {
		echo; echo "lab left up (--keep): zonewalld pid $ZWD_PID, socket $SOCK;"
		echo "tear down with: kill $ZWD_PID; ./scripts/lab.sh down --prefix $TAG"; return; }
	if [ $rc != 0 ]; then
		echo; echo "${bold}demo FAILED (exit $rc)${norm}" >&2
		for l in "$TMP/zonewalld.log" "$TMP/dpdk.log"; do
			[ -s "$l" ] && { echo "--- last lines of $(basename "$l"):"; tail -n 15 "$l"; } >&2
		done
	fi
	step "teardown"
	[ -n "$ZWD_PID" ] && kill "$ZWD_PID" 2>/dev/null && wait "$ZWD_PID" 2>/dev/null
	[ -n "$DPDK_PID" ] && kill "$DPDK_PID" 2>/dev/null && wait "$DPDK_PID" 2>/dev/null
	./scripts/lab.sh down --prefix "$TAG" && echo "lab $TAG removed"
	# the XDP pins live on the demo's own bpffs: unmounting releases them
	[ -n "$BPFFS" ] && umount "$BPFFS" 2>/dev/null
	rm -rf "$TMP"
	exit $rc
}

step "1/8 dependencies (scripts/deps.sh)"
./scripts/deps.sh

step "2/8 build"
if [ ! -d "$B" ]; then meson setup "$B" >/dev/null; fi
ninja -C "$B" >/dev/null
echo "built: $B/control/zonewalld, $B/control/zonectl, $B/dataplane/nft/zw-nft-apply"

# One demo at a time: the lab's names are fixed. A lab left by a run that
# is gone (killed) is removed; one of a running demo is not touched.
mkdir -p /run/zonewall-lab
exec 9>/run/zonewall-lab/$TAG.lock
flock -n 9 || { echo "demo: another demo is running, or its lab was kept (--keep): lab $TAG" >&2; exit 3; }
./scripts/lab.sh down --prefix "$TAG" 2>/dev/null || true
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

step "3/8 the lab: one namespace per host, routed through the appliance, and a flow collector"
./scripts/lab.sh up "$MATRIX" --engine "$ENGINE" --prefix "$TAG" --builddir "$B" --collector
APP=$TAG-app
# where zonewalld exports: nfcapd (NetFlow v9/NSEL) and an IPFIX capture
read -r NSEL_URL IPFIX_URL < <(./scripts/lab.sh status --prefix "$TAG" --json |
	/usr/bin/python3 -c 'import json,sys; c=json.load(sys.stdin)["collector"]; print(c["nsel_url"], c["ipfix_url"])')

case $ENGINE in
nft)
	# the engine inspects the services with inspect: (docs/l7.md) through
	# zw-inspect, which zonewalld runs; its image in the demo's directory
	SPEC="nft:inspect_image=$TMP/inspect.img"
	INSPECTOR=(--inspector "$B/dataplane/nft/zw-inspect") ;;
xdp)
	# 'ip netns exec' remounts /sys, so the pins that keep enforcement alive
	# without the daemon go on a bpffs of the demo's own (docs/xdp-engine.md).
	# The engine inspects like nft (docs/l7.md, the kernel path): its L7
	# table queues to zw-inspect, which zonewalld runs
	BPFFS=$TMP/bpffs
	mkdir -p "$BPFFS" && mount -t bpf bpf "$BPFFS"
	SPEC="xdp:$(./scripts/lab.sh status --prefix $TAG --json |
	/usr/bin/python3 -c 'import json,sys; print(",".join(h["iface"] for h in json.load(sys.stdin)["hosts"]))'),dir=$BPFFS/zonewall,inspect_image=$TMP/inspect.img"
	INSPECTOR=(--inspector "$B/dataplane/nft/zw-inspect") ;;
dpdk)
	# zonewall-dpdk bridges each z<N>:r<N> pair (docs/lab.md); it must be
	# running with a control socket before zonewalld can program it.
	DPDK_SOCK=$TMP/dpdk.sock
	[ -x "$B/dataplane/dpdk/zonewall-dpdk" ] || { echo "demo: zonewall-dpdk not built" >&2; exit 3; }
	PAIRS=$(./scripts/lab.sh status --prefix $TAG --json | /usr/bin/python3 -c '
import json, sys
hs = json.load(sys.stdin)["hosts"]
print(" ".join(f"--vdev=net_af_packet{2*i},iface={h['"'"'dpdk_pair'"'"'][0]} --vdev=net_af_packet{2*i+1},iface={h['"'"'dpdk_pair'"'"'][1]}" for i, h in enumerate(hs)))
print(" ".join(f"--pair {2*i}:{2*i+1}" for i in range(len(hs))))')
	EAL=$(sed -n 1p <<<"$PAIRS"); PP=$(sed -n 2p <<<"$PAIRS")
	# shellcheck disable=SC2086
	ip netns exec "$APP" "$B/dataplane/dpdk/zonewall-dpdk" --no-huge -m 1024 \
		--no-shconf --no-pci -l 0-1 $EAL -- \
		--control "$DPDK_SOCK" $PP >"$TMP/dpdk.log" 2>&1 &
	DPDK_PID=$!
	for _ in $(seq 100); do [ -S "$DPDK_SOCK" ] && break; sleep 0.1; done
	[ -S "$DPDK_SOCK" ] || die "zonewall-dpdk did not start (no control socket after 10 s)"
	SPEC="dpdk:$DPDK_SOCK" ;;
esac

step "4/8 zonewalld in the appliance namespace, backend $SPEC"
# --log-all-flows: created records of every flow, not only those with
# 'log: true', so the collector sees every connection of the table
echo "exporting flow records to $NSEL_URL and $IPFIX_URL"
ip netns exec "$APP" "$B/control/zonewalld" --state "$TMP/state" --socket "$SOCK" \
	--backend "$SPEC" "${INSPECTOR[@]}" --foreground --log "$TMP/zonewalld.log" \
	--ipfix "$NSEL_URL" --ipfix "$IPFIX_URL" --log-all-flows &
ZWD_PID=$!
for _ in $(seq 100); do
	zc status >/dev/null 2>&1 && break
	kill -0 "$ZWD_PID" 2>/dev/null || { st=0; wait "$ZWD_PID" || st=$?; die "zonewalld exited at start (status $st)"; }
	sleep 0.05
done
zc status >/dev/null 2>&1 || die "zonewalld does not answer on $SOCK"
zc status | head -3

step "5/8 commit the matrix"
echo "\$ zonectl commit piams.yaml -m \"Initial matrix of the admin platform\""
zc commit "$MATRIX" -m "Initial matrix of the admin platform (demo)"
zc status | sed -n '/^backend/,/^syslog/p' | grep -v '^syslog'

step "6/8 real connections: what passed, what was blocked, and why"
/usr/bin/python3 scripts/demo_table.py table --lab "$TAG" --matrix "$MATRIX" --zonectl "$B/control/zonectl"

step "7/8 the same connections as the flow collector saw them (nfcapd, nfdump -o nsel)"
# ADD: a connection created (allowed); DENIED I-ACL: refused, no flow allows
# it (folded per source, destination, protocol and port over a second)
COL=$(./scripts/lab.sh collector --prefix "$TAG" --settle 2.5)
echo "$COL"
if grep -q ': 0 record(s)' <<<"$COL"; then
	echo "(the collector received nothing: the $ENGINE engine hands no flow records to zonewalld yet; see docs/telemetry.md)"
elif ! grep -qE '^[0-9-]+ [0-9:.]+ +ADD ' <<<"$COL"; then
	echo "(no created events: the $ENGINE engine emits them only for flows with 'log: true'"
	echo " so far, whatever --log-all-flows says, and none of the table's connections is of one)"
fi

step "8/8 a commit removes a flow: its live connection is cut"
/usr/bin/python3 scripts/demo_table.py cut --lab "$TAG" --matrix "$MATRIX" \
	--zonectl "$B/control/zonectl" --socket "$SOCK" --flow OPS-001
echo
echo "\$ zonectl journal verify"
zc journal verify
