#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# scripts/lab.sh itself: a failed or interrupted `up` leaves nothing behind
# (namespaces, state file), a second `up` of the same tag is refused and
# leaves the first alone, `down` removes everything, tags that could
# collide with another lab's names are refused.
set -uo pipefail
[ "$(id -u)" = 0 ] || { echo "skip: needs root (network namespaces)"; exit 77; }
S=${ZONEWALL_SRCDIR:?run through meson test}
B=${ZONEWALL_BUILDDIR:?run through meson test}
LAB=$S/scripts/lab.sh
M=$S/tests/netns/matrices/basic.yaml
BIG=$S/matrix/examples/piams.yaml
TAG=zwlt$$$RANDOM
cleanup() { for t in "$TAG"a "$TAG"b "$TAG"c "$TAG"d-x; do "$LAB" down --prefix "$t" >/dev/null 2>&1; done; }
trap cleanup EXIT
trap 'exit 143' TERM INT

fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }
left() { ip netns list | awk '{print $1}' | grep -c "^$1-"; }
state() { [ -e "/run/zonewall-lab/$1.json" ]; }

# a failed up: the lab is built, then --apply fails (the engine refuses
# a matrix that does not validate: the operations zone is not isolated)
TMP=$(mktemp -d)
trap 'cleanup; rm -rf "$TMP"' EXIT
grep -v "isolate: true" "$M" >"$TMP/bad.yaml"
out=$("$LAB" up "$TMP/bad.yaml" --engine nft --apply --prefix "$TAG"a --builddir "$B" 2>&1); rc=$?
[ $rc != 0 ] && grep -q "lab removed" <<<"$out" && [ "$(left "$TAG"a)" = 0 ] && ! state "$TAG"a &&
	ok "failed --apply left nothing" ||
	fail "failed up: rc $rc, $(left "$TAG"a) namespaces left, state $(state "$TAG"a && echo kept): $out"
out=$("$LAB" up "$M" --engine xdp --apply --prefix "$TAG"a --builddir "$B" 2>&1); rc=$?
[ $rc = 2 ] && [ "$(left "$TAG"a)" = 0 ] && ok "--apply without nft refused before anything" ||
	fail "--apply --engine xdp: rc $rc, $(left "$TAG"a) namespaces: $out"

# an interrupted up (Ctrl-C, then SIGTERM): nothing left once it exits
for sig in INT TERM; do
	t="$TAG"b
	# job control: the job gets its own process group and SIGINT is not
	# ignored in it (as for a command run from a terminal)
	set -m
	"$LAB" up "$BIG" --hosts 3 --prefix "$t" --builddir "$B" >"$TMP/up.log" 2>&1 &
	pid=$!
	set +m
	for _ in $(seq 200); do [ "$(left "$t")" -gt 2 ] && break; sleep 0.01; done
	n=$(left "$t")
	kill -"$sig" "$pid"
	wait "$pid"; rc=$?
	[ "$n" -gt 0 ] && [ $rc != 0 ] && [ "$(left "$t")" = 0 ] && ! state "$t" &&
		ok "up interrupted by SIG$sig with $n namespaces made: all removed (rc $rc)" || { cat "$TMP/up.log";
		fail "up interrupted by SIG$sig ($n namespaces made): rc $rc, $(left "$t") left"; }
	"$LAB" down --prefix "$t" >/dev/null 2>&1
done

# up twice: refused, the first lab untouched
"$LAB" up "$M" --prefix "$TAG"c --builddir "$B" >/dev/null 2>&1 || fail "up"
n=$(left "$TAG"c)
out=$("$LAB" up "$M" --prefix "$TAG"c --builddir "$B" 2>&1); rc=$?
[ $rc != 0 ] && grep -q "already exists" <<<"$out" && [ "$(left "$TAG"c)" = "$n" ] && state "$TAG"c &&
	ok "second up refused, first lab intact ($n namespaces)" || fail "second up: rc $rc: $out"
"$LAB" down --prefix "$TAG"c >/dev/null 2>&1
[ "$(left "$TAG"c)" = 0 ] && ! state "$TAG"c && ok "down removed everything" || fail "down left $(left "$TAG"c)"

# a tag with the names' separator: 'down --prefix X' would take X-y's lab
out=$("$LAB" up "$M" --prefix "$TAG"d-x --builddir "$B" 2>&1); rc=$?
[ $rc = 2 ] && [ "$(left "$TAG"d)" = 0 ] && ok "tag with '-' refused" || fail "tag with '-': rc $rc: $out"

# addressing: every host gets an address of each family its zone has, even
# when narrowings name every address of a network (then hosts share the
# narrowed side); a zone's hosts spread over its networks
out=$(cd "$S/scripts" && /usr/bin/python3 - <<'EOT'
import lab
m = {"name": "t", "zones": [
    {"name": "ops", "networks": ["10.1.0.0/30", "fd00:1::/126"], "isolate": True},
    {"name": "jump", "networks": ["10.2.0.0/24", "10.9.0.0/24", "fd00:2::/64"], "isolate": False}],
    "flows": [{"id": "F", "from": "ops", "to": "jump", "src": [], "dst": ["10.2.0.0/24"]},
              {"id": "G", "from": "jump", "to": "ops", "src": [], "dst": ["10.1.0.0/30"]}]}
bad = []
for h in lab.make_plan(m, "x", "none", 3, "/dev/null")["hosts"]:
    if h["zone"] != "outside" and not ("ipv4" in h and "ipv6" in h):
        bad.append(h)
jump = [h["ipv4"] for h in lab.make_plan(m, "x", "none", 3, "/dev/null")["hosts"] if h["zone"] == "jump"]
if not any(a.startswith("10.2.") for a in jump) or not any(a.startswith("10.9.") for a in jump):
    bad.append({"jump": jump})
print(bad or "ok")
EOT
)
[ "$out" = ok ] && ok "lab addresses: every host has both families" || fail "lab addresses: $out"

echo "$fails failures"
[ $fails = 0 ]
