#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Golden tests of `zonectl check`:
#  - check/NAME.yaml: stdout and exit code must equal check/NAME.out
#    (last line "# exit N"); UPDATE_GOLDEN=1 rewrites the .out files;
#  - fail/NAME.yaml: must be refused (exit 1) with every code named on its
#    "# expect: ZWnnn [ZWnnn...]" first line reported as an error;
#  - matrix/examples/*.yaml: no error.
# Usage: run-check.sh ZONECTL
set -u
ZONECTL=$(readlink -f "$1")
SRC=${ZONEWALL_SRCDIR:?}
HERE=$SRC/tests/golden
fail=0; n=0
tmp=$(mktemp) || exit 99
trap 'rm -f "$tmp"' EXIT

for y in "$HERE"/check/*.yaml; do
  name=$(basename "$y" .yaml); n=$((n + 1))
  (cd "$HERE/check" && "$ZONECTL" check "$name.yaml" >"$tmp" 2>/dev/null; echo "# exit $?" >>"$tmp")
  if [ "${UPDATE_GOLDEN:-0}" = 1 ]; then cp "$tmp" "$HERE/check/$name.out"; continue; fi
  if ! diff -u "$HERE/check/$name.out" "$tmp"; then
    echo "FAIL check/$name: output differs (above)"; fail=$((fail + 1))
  else
    echo "ok   check/$name"
  fi
done

for y in "$HERE"/fail/*.yaml; do
  name=$(basename "$y" .yaml); n=$((n + 1))
  codes=$(sed -n '1s/^# expect: *//p' "$y")
  if [ -z "$codes" ]; then echo "FAIL fail/$name: no '# expect:' line"; fail=$((fail + 1)); continue; fi
  (cd "$HERE/fail" && "$ZONECTL" check "$name.yaml" >"$tmp" 2>&1); rc=$?
  bad=
  [ $rc -eq 1 ] || bad="exit $rc, expected 1"
  for c in $codes; do
    grep -q "error\[$c\]" "$tmp" || bad="$bad; $c not reported"
  done
  if [ -n "$bad" ]; then
    echo "FAIL fail/$name: $bad"; cat "$tmp"; fail=$((fail + 1))
  else
    echo "ok   fail/$name ($codes)"
  fi
done

for y in "$SRC"/matrix/examples/*.yaml; do
  n=$((n + 1))
  if "$ZONECTL" check "$y" >"$tmp" 2>&1 && ! grep -q 'error\[' "$tmp"; then
    echo "ok   example $(basename "$y")"
  else
    echo "FAIL example $(basename "$y"):"; cat "$tmp"; fail=$((fail + 1))
  fi
done

echo "$n cases, $fail failed"
[ $fail -eq 0 ]
