#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonectl's bash completion (dist/bash-completion/zonectl), sourced in a
# plain bash: commands, verbs, options and --format choices come from
# zonectl's own --help.
# Usage: completion_test.sh [COMPLETION_FILE [ZONECTL]]
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
FILE=${1:-$S/dist/bash-completion/zonectl}
ZC=${2:-$B/control/zonectl}
fails=0
checks=0

# shellcheck source=/dev/null
source "$FILE"
complete -p zonectl >/dev/null || { echo "FAIL - no completion registered for zonectl"; exit 1; }

expect() { # EXPECTED WORD...
	local want=$1
	shift
	COMP_WORDS=("$ZC" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_zonectl
	local got
	got=$(printf '%s\n' "${COMPREPLY[@]}" | sort | tr '\n' ' ')
	checks=$((checks + 1))
	if [ "$got" = "$want" ]; then
		echo "ok - zonectl $* -> $got"
	else
		fails=$((fails + 1))
		echo "FAIL - zonectl $*: got '$got', wanted '$want'"
	fi
}

expect "commit compile " co
expect "check commit compile crisis " c
expect "schema show status " s
expect "isolate-internet " crisis i
expect "verify " journal v
expect "json text " status --format ""
expect "csv dot html json text " show --format ""
expect "--output " schema --ou
expect "--exit-code " diff --ex
expect "--socket --state " --s
expect "status " --socket /tmp/zw.sock st
cd "$S/matrix/examples" && expect "minimal.yaml " check mi

echo "$checks checks, $fails failed"
[ "$fails" -eq 0 ]
