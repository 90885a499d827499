#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run one harness: HARNESS KIND(matrix|image|diff) ZONECTL MODE(fuzz|replay).
# Builds a seed corpus in a temp dir (the example and golden matrices, and
# for images their compiled images), then either replays it or runs
# libFuzzer for $FUZZ_SECONDS (default 30) seconds.
set -u
H=$(readlink -f "$1") KIND=$2 ZONECTL=$(readlink -f "$3") MODE=$4
SRC=${ZONEWALL_SRCDIR:?}
dir=$(mktemp -d) || exit 99
trap 'rm -rf "$dir"' EXIT
mkdir -p "$dir/corpus"
i=0
for y in "$SRC"/matrix/examples/*.yaml "$SRC"/tests/golden/check/*.yaml "$SRC"/tests/golden/fail/*.yaml; do
  i=$((i + 1))
  if [ "$KIND" = matrix ]; then
    cp "$y" "$dir/corpus/seed$i.yaml"
  elif [ "$KIND" = diff ]; then
    cp "$y" "$dir/corpus/seed$i.yaml"
  else
    "$ZONECTL" compile "$y" -o "$dir/corpus/seed$i.img" >/dev/null 2>&1 || true
  fi
done
# diff: also the golden pairs, old and new split by a "#%%new%%" line
if [ "$KIND" = diff ]; then
  for o in "$SRC"/tests/golden/diff/*.old.yaml; do
    i=$((i + 1))
    { cat "$o"; printf '\n#%%%%new%%%%\n'; cat "${o%.old.yaml}.new.yaml"; } >"$dir/corpus/seed$i.yaml"
  done
fi
if [ "$MODE" = replay ]; then
  exec "$H" "$dir/corpus"
fi
# -rss_limit_mb guards against a memory blow-up being reported as a leak.
"$H" -max_total_time="${FUZZ_SECONDS:-30}" -rss_limit_mb=2048 -max_len=65536 \
  -print_final_stats=1 -artifact_prefix="$dir/" "$dir/corpus" >"$dir/log" 2>&1
rc=$?
tail -25 "$dir/log"
found=0
for f in "$dir"/crash-* "$dir"/leak-* "$dir"/timeout-* "$dir"/oom-*; do
  [ -e "$f" ] || continue
  found=1
  echo "fuzz: $H found a failing input: $f"
  od -c "$f" | head -20
  cp "$f" "${ZONEWALL_BUILDDIR:-.}/" 2>/dev/null
done
if [ $found -eq 1 ] || [ $rc -ne 0 ]; then
  echo "fuzz: failed (exit $rc); inputs copied to ${ZONEWALL_BUILDDIR:-.}"
  exit 1
fi
exit 0
