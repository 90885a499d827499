#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# zonewall's one test command: install what is missing, build with warnings
# as errors, run every meson suite, rebuild with ASan+UBSan and run the unit
# and golden suites there, run the fuzzers for a bounded time, then list
# every skipped test with its reason and print, as the last line,
#   N passed, N failed, N skipped
# over everything and exit non-zero if anything failed.
#
# Skips (scripts/test-summary.py): a test that cannot run here exits 77
# and says why. As root that is a failure: deps.sh installs every package
# and each test sets up what else it needs (network namespaces, its own
# bpffs: tests/with_bpffs.sh), so a skip would hide an engine that was
# never tested. The one exception is hardware the machine lacks: such a
# test prints a line starting with
#   SKIP-HARDWARE: what it needs
# before it exits 77, and stays a skip. Not root, every skip is a skip.
#
# Environment: FUZZ_SECONDS (per harness, default 60), SKIP_SAN=1,
# SKIP_FUZZ=1, SUITES="unit golden ..." (default: all), MESON_TEST_ARGS.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

./scripts/deps.sh || exit 3

FUZZ_SECONDS=${FUZZ_SECONDS:-60}
export FUZZ_SECONDS
failed_steps=()
logs=()

run_suites() { # BUILDDIR SUITE...
  local dir=$1; shift
  local args=()
  for s in "$@"; do args+=(--suite "$s"); done
  meson test -C "$dir" --print-errorlogs --num-processes 2 ${MESON_TEST_ARGS:-} "${args[@]}"
  local rc=$?
  logs+=("$dir/meson-logs/testlog.json")
  return $rc
}

setup() { # BUILDDIR ARGS...
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null || meson setup --wipe "$dir" "$@"
  else
    meson setup "$dir" "$@"
  fi
}

echo "== build (werror) =="
if setup build -Dwerror=true && ninja -C build; then
  echo "== tests =="
  if [ -n "${SUITES:-}" ]; then
    read -r -a suites <<<"$SUITES"
    run_suites build "${suites[@]}" || failed_steps+=("tests")
  else
    run_suites build || failed_steps+=("tests")
  fi
else
  failed_steps+=("build")
fi

if [ "${SKIP_SAN:-0}" != 1 ]; then
  echo "== build (ASan+UBSan) =="
  if setup build-san -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbpf=disabled -Ddpdk=disabled && ninja -C build-san; then
    run_suites build-san unit golden || failed_steps+=("sanitizer tests")
  else
    failed_steps+=("sanitizer build")
  fi
fi

if [ "${SKIP_FUZZ:-0}" != 1 ]; then
  echo "== fuzz (libFuzzer, ${FUZZ_SECONDS}s per harness) =="
  if CC=clang setup build-fuzz -Dfuzz=true -Db_sanitize=address,undefined -Db_lundef=false \
      -Dbpf=disabled -Ddpdk=disabled -Dnft=disabled -Ddaemon=disabled && ninja -C build-fuzz; then
    run_suites build-fuzz fuzz || failed_steps+=("fuzz")
  else
    failed_steps+=("fuzz build")
  fi
fi

summary=$(/usr/bin/python3 "$ROOT/scripts/test-summary.py" "${logs[@]}")
echo
[ ${#failed_steps[@]} -gt 0 ] && echo "failed steps: ${failed_steps[*]}"
echo "$summary"
# the counts are its last line (the skipped tests and their reasons above)
case "${summary##*$'\n'}" in
  *" 0 failed,"*) [ ${#failed_steps[@]} -eq 0 ] && exit 0 ;;
esac
exit 1
