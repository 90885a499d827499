#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Traffic for the file test engine behind zonewalld-test, so the metrics
endpoint has moving series (tests/control/dashboard_test.sh and
contrib/grafana/render-screen.sh):

    dashboard_feed.py SECONDS ENGINE_PATH[:SCALE]...

Every second, for each engine PATH (backend file:PATH, see
tests/control/backend_file.c): rewrites PATH.counters (the eight flows of
matrix/examples/minimal.yaml, packets/bytes/new connections/drops growing at
rates that swing over a two-minute period, times SCALE), PATH.stats (drops
by reason, with a scan every 40 s; the connection table; early drops) and
appends to PATH.records a few created records of F-001 and denied records
(the record pump hands them to the --ipfix exporters). Deterministic: the
same run gives the same curves. Runs SECONDS, then exits."""
import math
import os
import sys
import time

FLOWS = [  # id, flow index, zone indices (from, to), pps, bytes/packet
    ("F-001", 0, 0, 1, 140, 420), ("F-002", 1, 1, 2, 60, 900),
    ("F-003", 2, 3, 5, 260, 1300), ("F-008", 3, 5, 7, 180, 1100),
    ("F-004", 4, 7, 4, 35, 200), ("F-005", 5, 4, 1, 80, 350),
    ("F-006", 6, 1, 3, 25, 600), ("F-007", 7, 6, 1, 12, 500),
]


def main():
    seconds = float(sys.argv[1])
    engines = []
    for a in sys.argv[2:]:
        path, _, scale = a.partition(":")
        engines.append({"path": path, "scale": float(scale or 1), "ctr": {},
                        "drops": {"no-flow": 0.0, "not-syn": 0.0, "rate": 0.0},
                        "early": 0.0})
    t0 = time.time()
    tick = 0
    while time.time() - t0 < seconds:
        for ei, e in enumerate(engines):
            k = e["scale"]
            lines = []
            for i, (fid, _, _, _, pps, size) in enumerate(FLOWS):
                w = 1 + 0.6 * math.sin(2 * math.pi * tick / 120 + i)
                p, b, n, d = e["ctr"].get(fid, (0.0, 0.0, 0.0, 0.0))
                dp = k * pps * w
                p, b = p + dp, b + dp * size
                n += k * pps * w / 30
                if fid == "F-002" and tick % 60 > 40:
                    d += k * 8  # its rate limit bites for a while
                e["ctr"][fid] = (p, b, n, d)
                lines.append(f"{fid} {int(p)} {int(b)} {int(n)} {int(d)}\n")
            with open(e["path"] + ".counters.new", "w") as f:
                f.writelines(lines)
            os.replace(e["path"] + ".counters.new", e["path"] + ".counters")
            scan = 40 if tick % 40 < 5 else 0
            e["drops"]["no-flow"] += k * (3 + scan)
            e["drops"]["not-syn"] += k * (1 + (tick % 7 == 0))
            e["drops"]["rate"] += k * (8 if tick % 60 > 40 else 0)
            e["early"] += k * (0.5 if scan else 0)
            used = int(k * (300 + 200 * math.sin(2 * math.pi * tick / 90)) + 50 * scan // 40)
            with open(e["path"] + ".stats.new", "w") as f:
                for r, v in e["drops"].items():
                    f.write(f"drop {r} {int(v)}\n")
                f.write(f"conns {used} 4096\nearly-drops {int(e['early'])}\n")
            os.replace(e["path"] + ".stats.new", e["path"] + ".stats")
            with open(e["path"] + ".records", "a") as f:
                for j in range(2 + tick % 3):
                    f.write(f"new 0 0 1 6 10.1.0.{5 + j} {30000 + (tick * 7 + j) % 20000}"
                            f" 10.2.0.7 22 0 0 none\n")
                if ei == 0:
                    f.write(f"drop -1 0 2 6 10.1.0.9 {40000 + tick % 1000} 10.3.0.{9 + scan % 3}"
                            f" {23 if not scan else 1 + tick % 1024} 1 60 no-flow\n")
        tick += 1
        time.sleep(max(0.0, t0 + tick - time.time()))


if __name__ == "__main__":
    main()
