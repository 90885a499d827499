#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The systemd units of dist/ as meson configured them pass
# `systemd-analyze verify` (no warning at all), with their ExecStart
# pointing at this build's programs and their man: links at its pages;
# and the daemon unit keeps its hardening (the checks below are what
# docs/daemon.md promises).
# Usage: units_test.sh [UNIT_DIR [PROGRAM_ROOT]] (deb_test.sh passes an
# installed root's units and root).
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
command -v systemd-analyze >/dev/null ||
	{ echo "SKIP: systemd-analyze missing (package systemd)"; exit 77; }
UNITS=${1:-}
ROOT=${2:-}
T=$(mktemp -d)
trap 'rm -rf "$T"' EXIT
fails=0
checks=0
. "$(dirname "$0")/../lib/checks.sh"

mkdir -p "$T/units" "$T/man"
if [ -z "$UNITS" ]; then
	# this build: units from build/dist and dist/systemd, programs and
	# pages from the build tree
	cp "$B"/dist/*.service "$S"/dist/systemd/*.service "$S"/dist/systemd/*.target "$T/units/"
	for p in "$B"/man/*.[58]; do
		mkdir -p "$T/man/man${p##*.}"
		cp "$p" "$T/man/man${p##*.}/"
	done
	sed -i -e "s|^ExecStart=[^ ]*/zonewalld |ExecStart=$B/control/zonewalld |" \
		-e "s|^ExecStart=[^ ]*/zonewall-dpdk |ExecStart=$B/dataplane/dpdk/zonewall-dpdk |" \
		"$T"/units/*.service
	[ -x "$B/dataplane/dpdk/zonewall-dpdk" ] || rm -f "$T/units/zonewall-dpdk@.service" "$T/units/zonewall-dpdk.target"
else
	cp "$UNITS"/* "$T/units/"
	cp -r "$ROOT/usr/share/man/." "$T/man/"
	sed -i -e "s|^ExecStart=/usr/|ExecStart=$ROOT/usr/|" "$T"/units/*.service
fi

names=()
for u in "$T"/units/*; do
	n=$(basename "$u")
	case "$n" in
	*@.service) names+=("${n%@.service}@test.service") ;;
	*) names+=("$n") ;;
	esac
done
(cd "$T/units" && MANPATH=$T/man SYSTEMD_UNIT_PATH=$T/units: \
	systemd-analyze verify "${names[@]}") >"$T/verify" 2>&1
rc=$?
if [ "$rc" = 0 ] && ! [ -s "$T/verify" ]; then
	ok "systemd-analyze verify ${names[*]}: clean"
else
	bad "systemd-analyze verify (exit $rc):"
	sed 's/^/    /' "$T/verify"
fi

D=$T/units/zonewalld.service
for want in 'ProtectSystem=strict' 'StateDirectory=zonewall' 'RuntimeDirectory=zonewall' \
	'Group=zonewall' 'NoNewPrivileges=yes' 'ConfigurationDirectory=zonewall' \
	'--config /etc/zonewall/zonewalld.conf' '--foreground'; do
	grep -q -- "$want" "$D" && ok "zonewalld.service: $want" || bad "zonewalld.service lacks $want"
done
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$D")
if [ "$caps" = "CAP_NET_ADMIN CAP_NET_RAW CAP_BPF CAP_PERFMON CAP_SYS_RESOURCE" ]; then
	ok "zonewalld.service: capabilities bounded to the engines' ($caps)"
else
	bad "zonewalld.service: capability bounding set is '$caps'"
fi
grep -q 'zonewall-bpffs.service' "$D" && ok "zonewalld.service pulls in the bpffs mount" ||
	bad "zonewalld.service does not ensure the bpffs"
if systemd-analyze security --help 2>/dev/null | grep -q -- '--offline'; then
	(cd "$T/units" && SYSTEMD_UNIT_PATH=$T/units: systemd-analyze security --offline=yes \
		--threshold=40 zonewalld.service) >"$T/sec" 2>&1 &&
		ok "systemd-analyze security: $(grep -o 'Overall exposure level.*' "$T/sec")" ||
		{ bad "systemd-analyze security above 4.0:"; tail -5 "$T/sec"; }
fi

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
