#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Sum meson testlog.json files into 'N passed, N failed, N skipped'.

Every skipped test is listed first, with its reason: the last lines it
printed. As root a skip counts as a failure (everything a test needs is
installed by scripts/deps.sh or set up by the test itself), unless the
test printed a line starting with SKIP-HARDWARE: (it needs hardware this
machine does not have; see scripts/test.sh). Not root, a skip is a skip.
The counts are always the last line.
"""
import json
import os
import sys

HARDWARE = "SKIP-HARDWARE:"
REASON_LINES = 3

as_root = os.geteuid() == 0
passed = failed = skipped = 0
skips = []  # (counted as failed, name, build dir, reason lines)
for path in sys.argv[1:]:
    try:
        lines = open(path, encoding="utf-8").read().splitlines()
    except OSError:
        failed += 1  # a suite whose log is missing did not run: count it
        print(f"summary: no test log at {path}", file=sys.stderr)
        continue
    build = os.path.basename(os.path.dirname(os.path.dirname(os.path.abspath(path))))
    for line in lines:
        if not line.strip():
            continue
        t = json.loads(line)
        result = t.get("result", "")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            out = [o.rstrip() for o in (t.get("stdout") or "").splitlines() +
                   (t.get("stderr") or "").splitlines() if o.strip()]
            hw = [o for o in out if o.startswith(HARDWARE)]
            honest = bool(hw) or not as_root
            if honest:
                skipped += 1
            else:
                failed += 1
            skips.append((not honest, t.get("name", "?"), build,
                          hw[-1:] if hw else out[-REASON_LINES:]))
        else:
            failed += 1

if skips:
    print(f"skipped tests ({len(skips)})" +
          (f"; as root a skip counts as failed unless the test printed a "
           f"'{HARDWARE}' line" if as_root else "") + ":")
    for bad, name, build, reason in skips:
        print(f"  {'FAILED' if bad else 'skipped'}: {name} [{build}]")
        for o in reason or ["(printed nothing)"]:
            print(f"      | {o}")
print(f"{passed} passed, {failed} failed, {skipped} skipped")
