# SPDX-License-Identifier: BSD-2-Clause
# The assertions every shell test shares (sourced, not run): each check
# prints "ok - ..." or "FAIL - ...", counts into $checks and $fails; the
# test ends by printing them and exiting non-zero on a failure.
# expect_rc keeps the command's output in $T/out and $T/err (T: the test's
# temporary directory). A test may define its own variant after sourcing.
checks=${checks:-0}
fails=${fails:-0}

ok() { checks=$((checks + 1)); echo "ok - $*"; }
bad() { checks=$((checks + 1)); fails=$((fails + 1)); echo "FAIL - $*"; }
check() { # DESCRIPTION COMMAND...
	local d=$1; shift
	if "$@"; then ok "$d"; else bad "$d"; fi
}
expect_rc() { # RC DESCRIPTION COMMAND...
	local want=$1 d=$2; shift 2
	"$@" >"$T/out" 2>"$T/err"
	local rc=$?
	if [ "$rc" = "$want" ]; then ok "$d (exit $rc)"; else
		bad "$d: exit $rc, wanted $want"
		sed 's/^/    /' "$T/out" "$T/err" | head -40
	fi
}
