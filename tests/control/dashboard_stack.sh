# SPDX-License-Identifier: BSD-2-Clause
# Sourced by tests/control/dashboard_test.sh and
# contrib/grafana/render-screen.sh: a live zonewalld (the tests' daemon,
# zonewalld-test, with two file test engines fed by dashboard_feed.py), its
# metrics endpoint scraped by a real Prometheus (Debian's), all on
# loopback, all under $T. Needs B (build dir), S (source dir), T (a
# scratch dir the caller removes).
#   stack_up SCRAPE_S FEED_S   start everything; sets PROM (its base URL)
#   stack_wait_samples N       until Prometheus holds N scrapes of zonewalld
#   stack_down                 stop what stack_up started (safe to call twice)
STACK_PIDS=()
stack_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
stack_down() {
	local p
	for p in "${STACK_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${STACK_PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
	STACK_PIDS=()
	rm -rf "$T/prom-data"
}
stack_up() {
	local scrape=$1 feed=$2 i
	MPORT=$(stack_port); PPORT=$(stack_port); XPORT=$(stack_port); LPORT=$(stack_port)
	SOCK=$T/zw.sock
	# an IPFIX collector and a syslog server (TCP, it keeps what it gets):
	# the exporter and syslog-backlog panels have series only with them
	/usr/bin/python3 "$S/tests/control/collector.py" udp "$XPORT" "$T/ipfix.pcap" &
	STACK_PIDS+=($!)
	/usr/bin/python3 "$S/tests/control/collector.py" tcp "$LPORT" "$T/syslog.bin" &
	STACK_PIDS+=($!)
	for i in $(seq 50); do
		/usr/bin/python3 -c 'import socket,sys; socket.create_connection(("127.0.0.1",int(sys.argv[1])),1).close()' "$LPORT" 2>/dev/null && break
		sleep 0.1
	done
	"$B/tests/control/zonewalld-test" --state "$T/state" --socket "$SOCK" \
		--backend "file:$T/engA.img" --backend "file:$T/engB.img" \
		--metrics "127.0.0.1:$MPORT" --ipfix "udp://127.0.0.1:$XPORT" \
		--syslog "127.0.0.1:$LPORT" \
		--log-all-flows --foreground --log "$T/zwd.log" &
	STACK_PIDS+=($!)
	for i in $(seq 100); do
		"$B/control/zonectl" --socket "$SOCK" status >/dev/null 2>&1 && break
		sleep 0.1
	done
	"$B/control/zonectl" --socket "$SOCK" commit "$S/matrix/examples/minimal.yaml" \
		-m "dashboard (CHG-1)" >/dev/null || { echo "stack: commit failed"; cat "$T/zwd.log"; return 1; }
	/usr/bin/python3 "$S/tests/control/dashboard_feed.py" "$feed" "$T/engA.img" "$T/engB.img:0.35" &
	STACK_PIDS+=($!)
	cat >"$T/prometheus.yml" <<EOT
global:
  scrape_interval: ${scrape}s
  evaluation_interval: ${scrape}s
scrape_configs:
  - job_name: zonewall
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOT
	prometheus --config.file="$T/prometheus.yml" --storage.tsdb.path="$T/prom-data" \
		--web.listen-address="127.0.0.1:$PPORT" >"$T/prometheus.log" 2>&1 &
	STACK_PIDS+=($!)
	PROM=http://127.0.0.1:$PPORT
}
# the number of samples of up{job="zonewall"} == 1 Prometheus holds
stack_samples() {
	/usr/bin/python3 - "$PROM" <<'EOT' 2>/dev/null
import json, sys, urllib.parse, urllib.request
q = urllib.parse.urlencode({"query": 'sum_over_time(up{job="zonewall"}[1h])'})
r = json.load(urllib.request.urlopen(sys.argv[1] + "/api/v1/query?" + q, timeout=5))
print(int(float(r["data"]["result"][0]["value"][1])) if r["data"]["result"] else 0)
EOT
}
stack_wait_samples() {
	local n=$1 i
	for i in $(seq 600); do
		[ "$(stack_samples)" -ge "$n" ] 2>/dev/null && return 0
		sleep 0.5
	done
	echo "stack: Prometheus has not scraped zonewalld $n times"; tail -5 "$T/prometheus.log"
	return 1
}
