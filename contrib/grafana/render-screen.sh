#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# The screen of contrib/grafana/zonewall.json in the documentation,
# without Grafana (not in Debian 12, nor in any registry the project uses):
#   contrib/grafana/render-screen.sh [--seconds N] [--out PNG] [BUILDDIR]
# starts the tests' zonewalld (build/tests/control/zonewalld-test) with two
# file test engines fed moving counters and records
# (tests/control/dashboard_feed.py), an IPFIX collector and a syslog server,
# and a real Prometheus scraping its --metrics endpoint every 2 s, all on
# loopback; two commits during the run (one an engine refuses); after N seconds (default 300) contrib/grafana/dashboard.py
# evaluates the dashboard's own queries over that range through Prometheus'
# query_range API, lays the panels out by their gridPos and screenshots the
# page with headless Chromium. Default output: docs/img/grafana-dashboard.png.
# No root needed; everything is removed at exit.
set -euo pipefail
S=$(cd "$(dirname "$0")/../.." && pwd)
SECONDS_RUN=300
OUT=$S/docs/img/grafana-dashboard.png
B=$S/build
while [ $# -gt 0 ]; do
	case $1 in
	--seconds) SECONDS_RUN=$2; shift 2 ;;
	--out) OUT=$2; shift 2 ;;
	-h|--help) sed -n '2,14p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) B=$1; shift ;;
	esac
done
B=$(cd "$B" && pwd)
[ -x "$B/tests/control/zonewalld-test" ] || { echo "render-screen: build first (ninja -C $B)" >&2; exit 3; }
command -v prometheus >/dev/null || { echo "render-screen: prometheus missing (scripts/deps.sh)" >&2; exit 3; }
T=$(mktemp -d /tmp/zw-screen.XXXXXX)
. "$S/tests/control/dashboard_stack.sh"
trap 'stack_down; rm -rf "$T"' EXIT
trap 'exit 143' TERM INT
stack_up 2 $((SECONDS_RUN + 60))
stack_wait_samples 3
echo "render-screen: feeding zonewalld for ${SECONDS_RUN} s (Prometheus at $PROM)"
START=$(date +%s)
# the Commits panel: a change at a third of the run (ok), and one an
# engine refuses at two thirds (the file engine fails while PATH.fail exists)
sed 's/Update mirror$/Update mirror (new host)/' "$S/matrix/examples/minimal.yaml" >"$T/m2.yaml"
sed 's/Update mirror$/Update mirror (second host)/' "$S/matrix/examples/minimal.yaml" >"$T/m3.yaml"
sleep $((SECONDS_RUN / 3))
"$B/control/zonectl" --socket "$SOCK" commit "$T/m2.yaml" -m "update mirror renamed (CHG-2)" >/dev/null
sleep $((SECONDS_RUN / 3))
echo "disk full" >"$T/engB.img.fail"
"$B/control/zonectl" --socket "$SOCK" commit "$T/m3.yaml" -m "again (CHG-3)" >/dev/null 2>&1 || true
rm -f "$T/engB.img.fail"
sleep $((SECONDS_RUN - 2 * (SECONDS_RUN / 3)))
/usr/bin/python3 "$S/contrib/grafana/dashboard.py" check --prometheus "$PROM" \
	--scrape-interval 2 --range "$SECONDS_RUN" | sed 's/^/  /'
/usr/bin/python3 "$S/contrib/grafana/dashboard.py" render --prometheus "$PROM" \
	--scrape-interval 2 --range "$(($(date +%s) - START))" --out "$OUT"
