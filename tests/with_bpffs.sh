#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# with_bpffs.sh COMMAND [ARG...]: run one test on a bpf filesystem of its own.
#
# The one way the tests get a bpffs (meson wraps every test that pins XDP
# objects in it): a fresh directory under $TMPDIR with `mount -t bpf bpf`
# on it, exported as ZONEWALL_TEST_BPFFS (tests make their instance
# directories below it) and ZONEWALL_XDP_DIR=$ZONEWALL_TEST_BPFFS/zonewall
# (so a zw-xdp run without --dir can never touch the host's instance).
# It is outside /sys on purpose: `ip netns exec` remounts /sys, so pins under
# /sys/fs/bpf would be invisible there, while this mount is seen by every
# process of the test (the approach of scripts/demo.sh). It does not need,
# use or mount /sys/fs/bpf, so a fresh machine runs the XDP tests too.
#
# Unmounted and removed on every exit: COMMAND's, an error, INT or TERM
# (meson's timeout signals the whole process group, then kills it half a
# second later: on a signal the mount is detached at once, lazily, so
# that even a SIGKILL leaves nothing mounted). Unmounting a bpffs releases
# its pins, and so detaches the XDP links pinned there.
#
# Not root: runs COMMAND as it is (it skips, saying why). Exit: COMMAND's;
# 77 with a reason when no bpffs can be mounted.
set -u
[ $# -ge 1 ] || { echo "usage: with_bpffs.sh COMMAND [ARG...]" >&2; exit 2; }
[ "$(id -u)" = 0 ] || exec "$@"

BPFFS=$(mktemp -d "${TMPDIR:-/tmp}/zw-bpffs.XXXXXX") || exit 1
if ! err=$(mount -t bpf bpf "$BPFFS" 2>&1); then
	rmdir "$BPFFS"
	echo "SKIP: cannot mount a bpf filesystem on $BPFFS: $err"
	exit 77
fi

child=
release() { # unmount (lazily if still busy) and remove, once
	[ -n "$BPFFS" ] || return 0
	if grep -q " $BPFFS bpf " /proc/self/mounts; then
		umount "$BPFFS" 2>/dev/null || umount -l "$BPFFS" ||
			echo "with_bpffs: cannot unmount $BPFFS" >&2
	fi
	# unmounted: what is left is mktemp's directory (and, after a signal,
	# whatever the test still wrote there)
	rmdir "$BPFFS" 2>/dev/null || rm -rf --one-file-system "$BPFFS"
	BPFFS=
}
on_signal() { # SIG
	trap '' INT TERM
	# Ctrl-C and meson's timeout signal the whole process group: the test
	# has the signal too. Leave the mount namespace at once (a SIGKILL may
	# follow), then give the test the time it takes to remove the rest.
	umount -l "$BPFFS" 2>/dev/null && rmdir "$BPFFS" 2>/dev/null
	[ -n "$child" ] && wait "$child"
	release
	exit $((128 + $(kill -l "$1")))
}
trap release EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

export ZONEWALL_TEST_BPFFS=$BPFFS ZONEWALL_XDP_DIR=$BPFFS/zonewall
# in the background so that a signal is handled now, not after the test;
# with SIGINT and SIGQUIT as the test would have them in the foreground
( trap - INT QUIT; exec "$@" ) &
child=$!
wait "$child"
rc=$?
child=
exit $rc
