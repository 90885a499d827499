#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The nftables engine in a fresh network namespace (no traffic needed):
#  - apply, read back: the image SHA-256, no drift; `nft` itself can list it
#  - drift: a rule, an element, a chain added by hand and a rule deleted by
#    hand are each reported; re-applying repairs them
#  - read-back as data: a rule added by hand is held with no flow, the
#    bystander's forward chain is foreign
#  - a batch that fails (injected failure, a different image) is refused
#    at prepare and changes nothing: same ruleset byte for byte, same SHA-256
#  - another table in the namespace is never touched (apply, re-apply,
#    destroy), and a table of our name without our mark is refused
#  - counters of flows that stay keep their values across a re-apply
#  - destroy removes the table
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
command -v nft >/dev/null || { echo "skip: needs the nft command"; exit 77; }
B=${ZONEWALL_BUILDDIR:?run through meson test}
S=${ZONEWALL_SRCDIR:?run through meson test}
APPLY=$B/dataplane/nft/zw-nft-apply
[ -x "$APPLY" ] || { echo "skip: zw-nft-apply not built"; exit 77; }

TAG=zwe$$$RANDOM
NS=$TAG
T=zw_$TAG
TMP=$(mktemp -d)
cleanup() { ip netns delete "$NS" 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT
trap 'exit 143' TERM INT
ip netns add "$NS" || { echo "skip: cannot create a network namespace"; exit 77; }

fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
in_ns() { ip netns exec "$NS" "$@"; }
# the image for the L7 inspector (the engine writes it at each apply) in
# the test's directory, not /run/zonewall
zw() { in_ns "$APPLY" --table "$T" --l7 "inspect_image=$TMP/inspect.img" "$@"; }
ruleset() { in_ns nft -s list ruleset; }

M1=$S/matrix/examples/piams.yaml
M2=$S/matrix/examples/minimal.yaml
SHA1=$("$B/control/zonectl" compile "$M1" -o "$TMP/1.img" | cut -d' ' -f1)
SHA2=$("$B/control/zonectl" compile "$M2" -o "$TMP/2.img" | cut -d' ' -f1)

# options in any order (--table once reset the others)
for args in "--priority -5 --log-group 7 --table x1" "--table x1 --priority -5 --log-group 7"; do
	# shellcheck disable=SC2086
	out=$("$APPLY" $args --print "$S/tests/netns/matrices/basic.yaml" 2>&1)
	grep -q "priority filter - 5; policy drop" <<<"$out" && grep -q "table inet x1 " <<<"$out" &&
		ok "options kept: $args" || fail "options lost: $args: $(head -3 <<<"$out")"
done

# a table that is not ours, before and after everything
in_ns nft -f - <<'EOF'
table inet bystander {
	set keep { type ipv4_addr; elements = { 192.0.2.1 } }
	chain watch { type filter hook forward priority 10; policy accept; ip saddr @keep counter; }
}
EOF
BYSTANDER=$(in_ns nft -s list table inet bystander) || { echo "FAIL: cannot set up the bystander table"; exit 1; }

# apply and read back
zw "$TMP/1.img" >/dev/null && ok "applied piams" || fail "apply piams"
out=$(zw --read-back "$TMP/1.img"); rc=$?
[ $rc = 0 ] && grep -q "sha256: $SHA1" <<<"$out" && grep -q "drift: none" <<<"$out" &&
	ok "read-back: image $SHA1, no drift" || fail "read-back after apply: rc $rc: $out"
n=$(grep -c "^held, no flow:" <<<"$out")
grep -q "^rules held: [1-9][0-9]* (0 of no flow)$" <<<"$out" && [ "$n" = 0 ] &&
	ok "read-back: $(grep '^rules held' <<<"$out")" || fail "rules held after apply: $out"
in_ns nft list table inet "$T" >/dev/null && ok "nft lists the table" || fail "nft cannot list the table"
n=$(in_ns nft -a list table inet "$T" | grep -c ' # handle ')
[ "$n" -gt 100 ] && ok "$n objects in the table" || fail "only $n objects in the table"

# drift, one kind at a time
check_drift() { # WHAT PATTERN
	local out rc
	out=$(zw --read-back "$TMP/1.img"); rc=$?
	if [ $rc = 1 ] && grep -q -- "$2" <<<"$out"; then ok "drift reported: $1"
	else fail "drift not reported ($1): rc $rc: $out"; fi
	zw "$TMP/1.img" >/dev/null
	out=$(zw --read-back "$TMP/1.img"); rc=$?
	[ $rc = 0 ] && ok "re-apply repaired: $1" || fail "re-apply did not repair $1: $out"
}
in_ns nft add rule inet "$T" pair_ops_jump tcp dport 9999 accept
# read back as data, from the kernel's objects: the rule by hand is held
# with no flow explaining it; the bystander's forward chain is foreign
out=$(zw --read-back "$TMP/1.img")
grep -q "^held, no flow: ops -> jump proto 6 9999-9999 src zone dst zone$" <<<"$out" &&
	grep -q "^rules held: [0-9]* (1 of no flow)$" <<<"$out" &&
	ok "rule by hand held, no flow explains it" || fail "rule by hand not read back as data: $out"
grep -q "^foreign: table inet bystander chain watch: type filter hook forward priority 10 policy accept (runs after zonewall's)$" <<<"$out" &&
	ok "bystander's forward chain is foreign" || fail "foreign base chain not listed: $out"
check_drift "rule added" "rule added by hand in chain pair_ops_jump"
h=$(in_ns nft -a list chain inet "$T" forward | awk '/zw_invalid/ {print $NF}')
in_ns nft delete rule inet "$T" forward handle "$h"
check_drift "rule deleted" "rule removed from chain forward"
in_ns nft add element inet "$T" dst4_ops '{ 10.200.0.0/24 : goto pair_ops_jump }'
check_drift "element added" "element added to set dst4_ops: 10.200.0.0 : goto pair_ops_jump"
in_ns nft add chain inet "$T" handmade
check_drift "chain added" "chain handmade added by hand"
in_ns nft add counter inet "$T" handmade_ctr
check_drift "counter added" "object added by hand: counter handmade_ctr"
in_ns nft chain inet "$T" forward '{ policy accept; }'
check_drift "base chain policy" "chain forward changed"
in_ns nft add table inet "$T" '{ flags dormant; }'
check_drift "table made dormant" "dormant: NOT FILTERING"

# a failing batch changes nothing
before=$(ruleset)
out=$(zw --inject-failure "$TMP/2.img" 2>&1); rc=$?
after=$(ruleset)
[ $rc = 3 ] && grep -q "nothing was changed" <<<"$out" && ok "failing batch refused: $out" ||
	fail "failing batch: rc $rc: $out"
# refused at prepare (the kernel's check), before any commit
grep -q "prepare: kernel refused the batch at" <<<"$out" && ok "refused at prepare" ||
	fail "the failing batch was not refused at prepare: $out"
[ "$before" = "$after" ] && ok "ruleset unchanged by the failed batch" ||
	fail "the failed batch changed the ruleset: $(diff <(echo "$before") <(echo "$after") | head)"
zw --read-back | grep -q "sha256: $SHA1" && ok "still enforcing $SHA1" || fail "enforced image changed"

# counters of flows that stay keep counting across a re-apply; those of a
# flow that left are gone
bump() { # send 3 packets through our counter flow_OPS-001 (no traffic needed)
	in_ns nft add chain inet "$T" bump '{ type filter hook output priority 0; }'
	in_ns nft add rule inet "$T" bump counter name flow_OPS-001
	in_ns ping -c 3 -i 0.2 -W 1 127.0.0.1 >/dev/null 2>&1
}
ctr() { in_ns nft list counter inet "$T" flow_OPS-001 2>/dev/null | awk '/packets/ {print $2}'; }
in_ns ip link set lo up
bump
pk=$(ctr)
zw "$TMP/1.img" >/dev/null
pk2=$(ctr)
[ -n "$pk" ] && [ "$pk" -ge 3 ] && [ "$pk2" = "$pk" ] && ok "counter kept across re-apply ($pk packets)" ||
	fail "counter flow_OPS-001: $pk before the re-apply, $pk2 after"
# a rate limit's refusals are its flow's drops (INF-005: rate 200/s)
in_ns nft add chain inet "$T" bump '{ type filter hook output priority 0; }'
in_ns nft add rule inet "$T" bump counter name drop_INF-005
in_ns ping -c 2 -i 0.2 -W 1 127.0.0.1 >/dev/null 2>&1
out=$(zw --counters "$TMP/1.img")
awk '$1 == "INF-005" && $5 >= 2 {f=1} END {exit !f}' <<<"$out" &&
	awk '$1 == "OPS-001" && $2 >= 3 && $5 == 0 {f=1} END {exit !f}' <<<"$out" &&
	ok "counters per flow: packets, and rate-limit drops" ||
	fail "counters: INF-005 drops (drop_INF-005) or OPS-001 packets not read back: $out"
zw "$TMP/2.img" >/dev/null
[ -z "$(ctr)" ] && ok "counter of a flow that left is gone" || fail "counter flow_OPS-001 survived its flow"
zw "$TMP/1.img" >/dev/null
[ "$(ctr)" = 0 ] && ok "counter of a returning flow starts at 0" || fail "counter flow_OPS-001: $(ctr)"

# a table of our name without our mark is refused, and left alone
in_ns nft add table inet "${T}_x"
in_ns nft add chain inet "${T}_x" c
X=$(in_ns nft -s list table inet "${T}_x")
out=$(in_ns "$APPLY" --table "${T}_x" "$TMP/2.img" 2>&1); rc=$?
[ $rc = 1 ] && grep -q "not zonewall's" <<<"$out" && ok "foreign table refused" || fail "foreign table: rc $rc: $out"
[ "$X" = "$(in_ns nft -s list table inet "${T}_x")" ] && ok "foreign table untouched" || fail "foreign table changed"

# destroy
zw --destroy && ! in_ns nft list table inet "$T" >/dev/null 2>&1 && ok "destroyed" || fail "destroy"
[ "$BYSTANDER" = "$(in_ns nft -s list table inet bystander)" ] && ok "bystander table untouched" ||
	fail "bystander table changed"

echo "$fails failures"
[ $fails = 0 ]
