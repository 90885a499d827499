#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Every long option a program prints in its --help (zonectl: its own help
# and each command's) is documented in its manual page: in the scdoc source
# (man/) and in the page meson built from it.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
fails=0
checks=0
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT

[ -f "$B/man/zonectl.8" ] || {
	echo "SKIP: the manual pages were not built (scdoc missing: scripts/deps.sh installs it)"
	exit 77
}

bad() { fails=$((fails + 1)); echo "FAIL - $*"; }

# PAGE HELPFILE: every --option of HELPFILE in man/PAGE.scd and build/man/PAGE
check_page() {
	local page=$1 help=$2 src=$S/man/$1.scd out=$B/man/$1 n=0 f0=$fails
	checks=$((checks + 1))
	# the built page without roff font escapes
	sed -e 's/\\f[BIRP]//g' -e 's/\\-/-/g' -e 's/\\(em/-/g' "$out" >"$T/page"
	for o in $(grep -o -E -- '--[a-z][a-z0-9-]*' "$help" | sort -u); do
		n=$((n + 1))
		grep -q -E -- "$o([^a-z0-9-]|\$)" "$src" || bad "$o ($page --help) is not in man/$page.scd"
		grep -q -E -- "$o([^a-z0-9-]|\$)" "$T/page" || bad "$o ($page --help) is not in the built $page"
	done
	[ "$n" -gt 0 ] || bad "no long option found in the help for $page"
	[ "$fails" -eq "$f0" ] && echo "ok - $page documents the $n long options of its --help"
}

ZC=$B/control/zonectl
"$ZC" --help >"$T/zonectl.help"
for c in $("$ZC" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p'); do
	"$ZC" "$c" --help >>"$T/zonectl.help" 2>/dev/null
	grep -q -E "^\*$c\*|^\*$c " "$S/man/zonectl.8.scd" || bad "command $c is not in man/zonectl.8.scd"
done
check_page zonectl.8 "$T/zonectl.help"

if [ -x "$B/control/zonewalld" ]; then
	"$B/control/zonewalld" --help >"$T/zonewalld.help"
	check_page zonewalld.8 "$T/zonewalld.help"
else
	echo "skip zonewalld.8: zonewalld is not in this build"
fi
if [ -x "$B/dataplane/dpdk/zonewall-dpdk" ]; then
	"$B/dataplane/dpdk/zonewall-dpdk" --help >"$T/dpdk.help" 2>&1
	check_page zonewall-dpdk.8 "$T/dpdk.help"
else
	echo "skip zonewall-dpdk.8: zonewall-dpdk is not in this build"
fi

# zonewall-matrix(5): every key of the language (from zonectl schema)
checks=$((checks + 1))
"$ZC" schema | /usr/bin/python3 -c '
import json, sys
s = json.load(sys.stdin)["definitions"]
print("\n".join(sorted({k for d in s.values() for k in d.get("properties", {})})))' >"$T/keys"
f0=$fails
for k in $(cat "$T/keys"); do
	grep -q -E "\*$k\*" "$S/man/zonewall-matrix.5.scd" || bad "key $k is not in man/zonewall-matrix.5.scd"
done
[ "$fails" -eq "$f0" ] && echo "ok - zonewall-matrix.5 documents the $(wc -l <"$T/keys") keys of the language"

# the pages render
for p in "$B"/man/*.[58]; do
	checks=$((checks + 1))
	if command -v man >/dev/null; then
		MANWIDTH=80 man -l "$p" >"$T/render" 2>"$T/err" && [ -s "$T/render" ] && ! [ -s "$T/err" ] ||
			{ bad "$(basename "$p") does not render cleanly:"; cat "$T/err"; }
	fi
done

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
