#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The demo's table (scripts/demo_table.py) says what really happened:
#  - on the lab enforcing piams.yaml with the nft engine every row agrees
#    with zonectl explain, and the unsolicited-ACK row is about a service
#    a flow allows (so that only state can drop it);
#  - without the engine, a denied connection refused by its destination
#    (it got there) is not shown as blocked: the table disagrees and says
#    so, and exits 1.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
S=${ZONEWALL_SRCDIR:?run through meson test}
B=${ZONEWALL_BUILDDIR:?run through meson test}
command -v nft >/dev/null || { echo "skip: needs the nft command"; exit 77; }
/usr/bin/python3 -c 'import scapy, yaml' 2>/dev/null || { echo "skip: needs python3-scapy and python3-yaml"; exit 77; }
[ -x "$B/dataplane/nft/zw-nft-apply" ] || { echo "skip: zw-nft-apply not built"; exit 77; }
TAG=zwdt$$$RANDOM
M=$S/matrix/examples/piams.yaml
cleanup() { "$S/scripts/lab.sh" down --prefix "$TAG" >/dev/null 2>&1; }
trap cleanup EXIT
trap 'exit 143' TERM INT
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
table() { /usr/bin/python3 "$S/scripts/demo_table.py" table --lab "$TAG" --matrix "$M" \
	--zonectl "$B/control/zonectl"; }

"$S/scripts/lab.sh" up "$M" --engine nft --apply --prefix "$TAG" --builddir "$B" >/dev/null ||
	{ echo "FAIL: lab up"; exit 1; }
out=$(table); rc=$?
echo "$out"
[ $rc = 0 ] && grep -q "all as the matrix says" <<<"$out" && ok "nft engine: every row as zonectl explain" ||
	fail "nft engine: rc $rc"
ack=$(grep "tcp ACK" <<<"$out")
grep -q " allow " <<<"$ack" && grep -q "blocked" <<<"$ack" &&
	ok "the unsolicited ACK is of an allowed service, and blocked" || fail "ACK row: $ack"

# no filter, and platadm-1 refuses ssh itself: ops-1 -> platadm-1 ssh (a
# denied row) reaches it and is refused: that is not "blocked"
ip netns exec "$TAG-app" "$B/dataplane/nft/zw-nft-apply" --destroy
ip netns exec "$TAG-platadm-1" nft -f - <<'EOT' || fail "cannot make platadm-1 refuse ssh"
table inet refuse {
	chain input {
		type filter hook input priority 0;
		tcp dport 22 reject with tcp reset
	}
}
EOT
out=$(table); rc=$?
echo "$out"
row=$(grep -E "^ops-1 +platadm-1 +tcp/22 " <<<"$out")
[ $rc = 1 ] && grep -q "DISAGREES" <<<"$row" && ! grep -q "blocked" <<<"$row" &&
	ok "a refusal at the destination is not shown as blocked: $row" ||
	fail "refused connection: rc $rc: $row"
echo "$fails failures"
[ $fails = 0 ]
