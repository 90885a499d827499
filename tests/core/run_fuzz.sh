#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run a libFuzzer harness for $FUZZ_SECONDS (default 30) from its built-in
# seeds plus the committed regression corpus. Usage: run_fuzz.sh HARNESS
set -eu
harness=$1
secs=${FUZZ_SECONDS:-30}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/corpus"
corpus_src="${ZONEWALL_SRCDIR:-.}/tests/core/fuzz-corpus"
[ -d "$corpus_src" ] && find "$corpus_src" -type f ! -name '.*' -exec cp {} "$work/corpus/" \;
ZW_FUZZ_SEED_DIR="$work/corpus" "$harness" -max_total_time="$secs" \
  -artifact_prefix="$work/" -print_final_stats=1 "$work/corpus" 2>&1 | tail -n 20
status=$?
if ls "$work"/crash-* "$work"/leak-* "$work"/timeout-* >/dev/null 2>&1; then
  echo "fuzz: failing input(s) kept in ${ZONEWALL_BUILDDIR:-.}/fuzz-artifacts" >&2
  mkdir -p "${ZONEWALL_BUILDDIR:-.}/fuzz-artifacts"
  cp "$work"/crash-* "$work"/leak-* "$work"/timeout-* "${ZONEWALL_BUILDDIR:-.}/fuzz-artifacts/" 2>/dev/null || true
  exit 1
fi
exit $status
