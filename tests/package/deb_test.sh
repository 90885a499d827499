#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The Debian packages, end to end:
#  1. dpkg-buildpackage -us -uc -b builds zonewall and zonewall-dpdk from
#     a copy of the tree (the tracked files) in build/tests/package/work;
#     its meson build directory is kept there, so a second run rebuilds
#     only what changed (debian/rules: ZW_DEB_BUILDDIR);
#  2. lintian reports no error;
#  3. dpkg --root installs them into a scratch root (unpacked: maintainer
#     scripts run on the target system, not here; they are checked with
#     sh -n and for what they must do);
#  4. the files are where docs/daemon.md says, the configuration is a
#     conffile, the units pass systemd-analyze verify (units_test.sh on the
#     installed root), the man pages render, the bash completion works;
#  5. the installed zonewalld starts with the shipped example configuration
#     (--config /etc/zonewall/zonewalld.conf, state and socket pointed into
#     a temporary directory) in a network namespace of its own, so that its
#     nft backend programs that namespace only; the installed zonectl
#     commits the shipped example matrix; the nft table is there; the
#     metrics answer.
# Needs root (dpkg --root, the namespace, nftables).
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
HERE=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3

if [ "$(id -u)" != 0 ]; then
	echo "SKIP: needs root (dpkg --root, a network namespace, nftables)"
	exit 77
fi
for t in dpkg-buildpackage dh lintian systemd-analyze scdoc unshare nsenter nft; do
	command -v "$t" >/dev/null ||
		{ echo "SKIP: $t missing (scripts/deps.sh installs it)"; exit 77; }
done

VERSION=$(dpkg-parsechangelog -l "$S/debian/changelog" -S Version)
ARCH=$(dpkg --print-architecture)
W=$B/tests/package/work
SRCDIR=$W/zonewall-$VERSION
T=$(mktemp -d /tmp/zw-deb.XXXXXX)
# the shipped configuration's nft engine writes the image for the L7
# inspector to its default path: removed after if we made it
IMG=/run/zonewall/zonewall.img
IMG_WAS=; [ -e "$IMG" ] && IMG_WAS=1
PID=
fails=0
checks=0
cleanup() {
	# SIGTERM: the daemon stops its L7 inspector (a killed one leaves it)
	[ -n "$PID" ] && kill "$PID" 2>/dev/null && sleep 1 && kill -9 "$PID" 2>/dev/null
	[ -z "$IMG_WAS" ] && rm -f "$IMG"
	rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/checks.sh"
die() { bad "$*"; echo "$checks checks, $fails failed"; exit 1; }

# ---- 1. build
mkdir -p "$W"
rm -rf "$SRCDIR" "$W"/*.deb "$W"/*.changes "$W"/*.buildinfo
mkdir -p "$SRCDIR"
if git -C "$S" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
	# tracked files and new ones not ignored (a tree being worked on)
	(cd "$S" && git ls-files -z --cached --others --exclude-standard |
		xargs -0 -r sh -c 'for f; do [ -e "$f" ] && printf "%s\0" "$f"; done' sh |
		tar --null -T - -cf -) | tar -xf - -C "$SRCDIR"
else
	(cd "$S" && tar --exclude='./build*' --exclude=./.git -cf - .) | tar -xf - -C "$SRCDIR"
fi
t0=$(date +%s)
(cd "$SRCDIR" && DEB_BUILD_OPTIONS="nocheck parallel=2" ZW_DEB_BUILDDIR="$W/obj" \
	dpkg-buildpackage -us -uc -b -nc) >"$W/build.log" 2>&1
rc=$?
if [ "$rc" != 0 ]; then
	tail -40 "$W/build.log"
	die "dpkg-buildpackage -us -uc -b failed (exit $rc; $W/build.log)"
fi
ok "dpkg-buildpackage -us -uc -b ($(($(date +%s) - t0)) s)"
DEB=$W/zonewall_${VERSION}_$ARCH.deb
DPDK=$W/zonewall-dpdk_${VERSION}_$ARCH.deb
check "zonewall package built" [ -f "$DEB" ]
check "zonewall-dpdk package built" [ -f "$DPDK" ]
[ -f "$DEB" ] || die "no package to go on with"

# ---- 2. lintian
lintian --fail-on error "$DEB" ${DPDK:+"$DPDK"} >"$T/lintian" 2>&1
rc=$?
if [ "$rc" = 0 ] && ! grep -q '^E:' "$T/lintian"; then
	ok "lintian: no error ($(grep -c '^W:' "$T/lintian") warning(s))"
else
	bad "lintian (exit $rc):"
	cat "$T/lintian"
fi

# ---- 3. install into a scratch root
# The root has no shell to run maintainer scripts in: dpkg runs them from
# here with DPKG_ROOT set (--force-script-chrootless). Unpacking runs only
# the preinst, whose debhelper snippets do nothing under DPKG_ROOT; make
# sure nothing else was added to it before letting it run here.
for d in "$DEB" "$DPDK"; do
	rm -rf "$T/pre" && dpkg-deb -e "$d" "$T/pre"
	[ -f "$T/pre/preinst" ] || continue
	other=$(awk '/^# Automatically added/{s=1} !s && !/^(#!\/bin\/sh|set -e|exit 0|#.*|)$/{print} /^# End automatically added/{s=0}' "$T/pre/preinst")
	[ -z "$other" ] || die "$(basename "$d")'s preinst does more than debhelper's DPKG_ROOT-aware snippets: $other"
done
R=$T/root
mkdir -p "$R/var/lib/dpkg/info" "$R/var/lib/dpkg/updates"
touch "$R/var/lib/dpkg/status"
dpkg --root="$R" --force-depends --force-unsafe-io --force-script-chrootless \
	--log="$T/dpkg.log" --unpack "$DEB" "$DPDK" >"$T/dpkg.out" 2>&1 ||
	{ cat "$T/dpkg.out"; die "dpkg --root --unpack failed"; }
ok "dpkg --root $R --unpack zonewall zonewall-dpdk"
st=$(dpkg-query --admindir="$R/var/lib/dpkg" -W -f='${Package}:${Status} ' zonewall zonewall-dpdk)
check "both registered in the root's dpkg database ($st)" \
	[ "$st" = "zonewall:install ok unpacked zonewall-dpdk:install ok unpacked " ]

# ---- 4. files, conffile, scripts, units, man pages, completion
# unpacked conffiles wait as .dpkg-new until dpkg configures the package
check "the configuration is unpacked as a conffile" [ -f "$R/etc/zonewall/zonewalld.conf.dpkg-new" ]
mv "$R/etc/zonewall/zonewalld.conf.dpkg-new" "$R/etc/zonewall/zonewalld.conf"
f0=$fails
for f in usr/bin/zonectl usr/sbin/zonewalld usr/bin/zw-nft-apply usr/bin/zw-xdp \
	usr/bin/zonewall-dpdk etc/zonewall/zonewalld.conf \
	lib/systemd/system/zonewalld.service lib/systemd/system/zonewall-bpffs.service \
	lib/systemd/system/zonewall-dpdk@.service lib/systemd/system/zonewall-dpdk.target \
	usr/share/man/man8/zonectl.8.gz usr/share/man/man8/zonewalld.8.gz \
	usr/share/man/man8/zonewall-dpdk.8.gz usr/share/man/man5/zonewall-matrix.5.gz \
	usr/share/bash-completion/completions/zonectl usr/share/zonewall/matrix.schema.json \
	usr/share/zonewall/examples/minimal.yaml usr/share/zonewall/examples/piams.yaml \
	usr/share/zonewall/examples/dpdk-example.conf \
	usr/lib/sysusers.d/zonewall.conf usr/lib/tmpfiles.d/zonewall.conf; do
	[ -e "$R/$f" ] || bad "/$f is not installed"
done
[ "$fails" = "$f0" ] && ok "every file in place (programs, units, conffile, man pages, completion, schema, examples)"
dpkg-deb -c "$DEB" >"$T/deb.list"
dpkg-deb -c "$DPDK" >"$T/dpdk.list"
check "zonewall-dpdk in its own package" \
	sh -c "grep -q ' ./usr/bin/zonewall-dpdk\$' '$T/dpdk.list' && ! grep -q zonewall-dpdk '$T/deb.list'"
check "/etc/zonewall/zonewalld.conf is a conffile" \
	sh -c "dpkg-deb -I '$DEB' conffiles | grep -qx /etc/zonewall/zonewalld.conf"
check "the installed zonewalld runs ($("$R/usr/sbin/zonewalld" --version))" "$R/usr/sbin/zonewalld" --version
check "the installed zonectl runs" "$R/usr/bin/zonectl" --version
dpkg-deb -e "$DEB" "$T/ctl"
check "postinst is valid sh" sh -n "$T/ctl/postinst"
check "postinst creates the zonewall group" grep -q 'addgroup --system --quiet zonewall' "$T/ctl/postinst"
check "postinst enables zonewalld.service (not started before it is configured)" \
	sh -c "grep -q 'deb-systemd-helper.*enable.*zonewalld.service' '$T/ctl/postinst' && ! grep -q 'deb-systemd-invoke start.*zonewalld.service' '$T/ctl/postinst'"
check "the state directory is made by tmpfiles.d for the group" \
	grep -q '^d /var/lib/zonewall 0750 root zonewall' "$R/usr/lib/tmpfiles.d/zonewall.conf"
"$HERE/units_test.sh" "$R/lib/systemd/system" "$R" >"$T/units" 2>&1 &&
	ok "installed units: $(tail -1 "$T/units")" || { bad "installed units:"; cat "$T/units"; }
for p in "$R"/usr/share/man/man*/*.gz; do
	MANWIDTH=80 man -l "$p" >/dev/null 2>"$T/err" && ! [ -s "$T/err" ] ||
		bad "$(basename "$p") does not render: $(cat "$T/err")"
done
ok "the man pages render (man -l)"
"$HERE/completion_test.sh" "$R/usr/share/bash-completion/completions/zonectl" "$R/usr/bin/zonectl" >"$T/comp" 2>&1 &&
	ok "installed completion: $(tail -1 "$T/comp")" || { bad "installed completion:"; cat "$T/comp"; }
check "the installed schema is zonectl schema's" \
	sh -c "'$R/usr/bin/zonectl' schema | cmp -s - '$R/usr/share/zonewall/matrix.schema.json'"

# ---- 5. run it with the shipped configuration
CONF=$R/etc/zonewall/zonewalld.conf
check "the shipped configuration enables the nft engine" grep -qx 'backend = nft' "$CONF"
SOCK=$T/zw.sock
PORT=9465
extra=()
# the example gives the socket to the group zonewall, which the postinst
# creates on a real system; here the host may not have it
getent group zonewall >/dev/null || extra+=(--socket-group root)
unshare --net sh -c 'ip link set lo up && exec "$@"' sh \
	"$R/usr/sbin/zonewalld" --config "$CONF" --state "$T/state" --socket "$SOCK" \
	--metrics "127.0.0.1:$PORT" --foreground "${extra[@]}" 2>"$T/zwd.log" &
PID=$!
up=
for _ in $(seq 100); do
	"$R/usr/bin/zonectl" --socket "$SOCK" status >/dev/null 2>&1 && { up=1; break; }
	kill -0 "$PID" 2>/dev/null || break
	sleep 0.1
done
if [ -z "$up" ]; then
	cat "$T/zwd.log"
	die "the installed zonewalld did not start with the shipped configuration"
fi
ok "zonewalld --config /etc/zonewall/zonewalld.conf starts (state and socket in $T)"
check "it uses the configured nft backend" grep -q 'backend-open backend=nft engine=nft' "$T/zwd.log"
"$R/usr/bin/zonectl" --socket "$SOCK" commit "$R/usr/share/zonewall/examples/minimal.yaml" \
	-m "package test" >"$T/commit" 2>&1
check "the installed zonectl commits the shipped example ($(head -1 "$T/commit"))" grep -q 'version 1 active' "$T/commit"
check "the nft table is in the daemon's namespace" \
	sh -c "nsenter --net=/proc/$PID/ns/net nft list tables | grep -q zonewall"
"$R/usr/bin/zonectl" --socket "$SOCK" status --format json >"$T/status"
check "status: the nft engine is in sync" \
	$PY -c "import json,sys; d=json.load(open('$T/status')); sys.exit(0 if d['backends'][0]['in_sync'] else 1)"
nsenter --net=/proc/$PID/ns/net $PY -c "
import urllib.request
print(urllib.request.urlopen('http://127.0.0.1:$PORT/metrics', timeout=10).read().decode())" >"$T/metrics" 2>&1
check "metrics: active version 1, per-flow series of the nft engine" \
	sh -c "grep -qx 'zonewall_active_version 1' '$T/metrics' && grep -q 'zonewall_flow_packets_total{flow=\"F-001\",src_zone=\"ops\",dst_zone=\"jump\",engine=\"nft\"' '$T/metrics'"
kill "$PID"
wait "$PID" 2>/dev/null
rc=$?
PID=
check "SIGTERM stops it cleanly (exit $rc)" [ "$rc" = 0 ]

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
