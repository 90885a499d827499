#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Benchmark (not a test): `zonectl audit` of an N-flow matrix (default
# 10 000) beside `zonectl commit` of the same matrix, through
# zonewalld-test with the file engine: wall time of each request, and the
# daemon's peak resident memory (VmHWM) after each. With --nft, the
# nftables engine instead, in a network namespace of the bench's own
# (root). Goal (issue 12): under 2 s and 200 MB.
# Usage: perf/audit-bench.sh [--nft] [BUILDDIR] [N]
set -eu
ENGINE=file
if [ "${1:-}" = --nft ]; then ENGINE=nft; shift; fi
B=$(readlink -f "${1:-build}")
N=${2:-10000}
NS=
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
T=$(mktemp -d /tmp/zw-audit-bench.XXXXXX)
PID=
trap '[ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; [ -n "$NS" ] && ip netns delete "$NS" 2>/dev/null; rm -rf "$T"' EXIT

/usr/bin/python3 - "$N" >"$T/m.yaml" <<'PYEOF'
import sys
n = int(sys.argv[1])
z = 200
kinds = ["admin", "operations", "remote-access", "update", "client-exchange"]
print("zonewall: 1\nname: audit-bench\nzones:")
for i in range(z):
    kind = kinds[i] if i < len(kinds) else "servers"
    iso = "\n    isolate: true" if kind == "operations" else ""
    print(f"  z{i}:\n    kind: {kind}\n    networks: [10.{i // 250}.{i % 250}.0/24]{iso}")
print("flows:")
k = 0
# the mandatory kinds carry no flow (the profile's rules about them are not
# what is measured)
for a in range(len(kinds), z):
    for b in range(len(kinds), z):
        if a == b or k == n:
            continue
        print(f"  - id: F-{k:05d}\n    from: z{a}\n    to: z{b}\n    services: [ssh]\n"
              f"    justification: bench flow {k}\n    review: 2026-09-01\n    owner: team{k % 17}")
        k += 1
PYEOF

ms() { date +%s%N | cut -c1-13; }
hwm() { awk '/VmHWM/ {print int($2 / 1024)}' /proc/"$PID"/status; }
if [ "$ENGINE" = nft ]; then
	[ "$(id -u)" = 0 ] || { echo "audit-bench --nft: run as root"; exit 77; }
	NS=zwab$$
	ip netns add "$NS"
	ip netns exec "$NS" "$ZWD" --state "$T/st" --socket "$T/s" --backend nft \
		--foreground --log "$T/log" &
else
	"$ZWD" --state "$T/st" --socket "$T/s" --backend "file:$T/e.img" --foreground \
		--log "$T/log" &
fi
PID=$!
[ -n "$NS" ] && { sleep 0.3; PID=$(pgrep -n -f "zonewalld-test --state $T/st") || true; }
for _ in $(seq 100); do "$ZC" --socket "$T/s" status >/dev/null 2>&1 && break; sleep 0.05; done
base=$(hwm)
t0=$(ms); "$ZC" --socket "$T/s" commit "$T/m.yaml" -m "bench" >/dev/null; t1=$(ms)
commit_ms=$((t1 - t0)); commit_mb=$(hwm)
t0=$(ms); "$ZC" --socket "$T/s" audit --format json -o "$T/r.json" || true; t1=$(ms)
audit_ms=$((t1 - t0)); audit_mb=$(hwm)
t0=$(ms); "$ZC" --socket "$T/s" audit --format html -o "$T/r.html" >/dev/null 2>&1 || true; t1=$(ms)
html_ms=$((t1 - t0))
printf 'flows %d (%s engine; %s cores, load %s)\n' "$N" "$ENGINE" "$(nproc)" "$(cut -d' ' -f1 /proc/loadavg)"
printf '%-22s %8s %14s\n' what ms "daemon peak MB"
printf '%-22s %8s %14s\n' "daemon started" - "$base"
printf '%-22s %8d %14s\n' "commit" "$commit_ms" "$commit_mb"
printf '%-22s %8d %14s\n' "audit (json)" "$audit_ms" "$audit_mb"
printf '%-22s %8d %14s\n' "audit (html)" "$html_ms" "$(hwm)"
printf 'report: %s bytes json, %s bytes html\n' "$(stat -c %s "$T/r.json")" "$(stat -c %s "$T/r.html")"
