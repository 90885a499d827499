#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The repository carries its own contracts; this keeps them there and true:
#  1. no tracked file points at documents outside the repository (the
#     team's shared folder, its spec, requirements, style or design files);
#  2. every ZW code `zonectl check --explain all` knows is documented in
#     docs/matrix-language.md;
#  3. every command `zonectl --help` lists, and every long option printed
#     by `zonectl --help` and by each `zonectl COMMAND --help`, is
#     documented in docs/cli.md.
# Usage: check-docs.sh ZONECTL
set -u
ZONECTL=$(readlink -f "$1")
SRC=${ZONEWALL_SRCDIR:?}
fail=0
tmp=$(mktemp -d) || exit 99
trap 'rm -rf "$tmp"' EXIT

bad() { echo "FAIL $*"; fail=$((fail + 1)); }

# ---- 1. references outside the repository ----
# The patterns are written so that this file does not match them itself.
pat='\.\./shared|shared/spe[c]|spec/(matrix|cli)[.]md|REQUIREMENTS[.]md|STYLE[.]md|DESIGN[.]md'
if git -C "$SRC" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$SRC" && git ls-files -z | xargs -0 grep -s -n -I -E "$pat" --) \
    >"$tmp/refs"
else
  # Not a git checkout (a release tarball): every file but build trees.
  (cd "$SRC" && grep -r -s -n -I -E "$pat" --exclude-dir=.git \
    --exclude-dir='build*' .) >"$tmp/refs"
fi
if [ -s "$tmp/refs" ]; then
  bad "references to documents outside the repository (cite docs/ instead):"
  cat "$tmp/refs"
else
  echo "ok   no reference outside the repository"
fi

# ---- 2. ZW codes ----
LANG_DOC=$SRC/docs/matrix-language.md
"$ZONECTL" check --explain all >"$tmp/explain" 2>&1 ||
  bad "zonectl check --explain all failed"
sed -n 's/^\(ZW[0-9][0-9][0-9]\) (.*/\1/p' "$tmp/explain" >"$tmp/codes"
if [ ! -s "$tmp/codes" ]; then
  bad "no ZW code found in 'zonectl check --explain all'"
elif [ ! -f "$LANG_DOC" ]; then
  bad "docs/matrix-language.md is missing"
else
  n=0 f0=$fail
  for c in $(cat "$tmp/codes"); do
    n=$((n + 1))
    grep -q "$c" "$LANG_DOC" || bad "$c is not documented in docs/matrix-language.md"
  done
  [ $fail -eq $f0 ] && echo "ok   $n ZW codes documented in docs/matrix-language.md"
fi

# ---- 3. commands and long options ----
CLI_DOC=$SRC/docs/cli.md
"$ZONECTL" --help >"$tmp/help" 2>&1 || bad "zonectl --help failed"
cmds=$(sed -n '/^Commands:/,/^$/s/^  \([a-z][a-z-]*\) .*/\1/p' "$tmp/help")
[ -n "$cmds" ] || bad "no command found in 'zonectl --help'"
for c in $cmds; do
  # A build without the daemon has no help for the daemon commands.
  "$ZONECTL" "$c" --help >"$tmp/help-$c" 2>/dev/null ||
    echo "skip zonectl $c --help (not in this build)"
done
if [ ! -f "$CLI_DOC" ]; then
  bad "docs/cli.md is missing"
else
  f0=$fail
  for c in $cmds; do
    grep -q "zonectl $c\b" "$CLI_DOC" || bad "command '$c' is not documented in docs/cli.md"
  done
  opts=$(cat "$tmp"/help* | grep -o -E -- '--[a-z][a-z0-9-]*' | sort -u)
  [ -n "$opts" ] || bad "no long option found in zonectl's help"
  n=0
  for o in $opts; do
    n=$((n + 1))
    grep -q -E -- "$o([^a-z0-9-]|\$)" "$CLI_DOC" ||
      bad "option $o (zonectl help) is not documented in docs/cli.md"
  done
  [ $fail -eq $f0 ] &&
    echo "ok   $(echo "$cmds" | wc -w) commands and $n long options documented in docs/cli.md"
fi

if [ $fail -ne 0 ]; then
  echo "$fail problem(s)"
  exit 1
fi
exit 0
