#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-2-Clause
# Journal forwarding to a real rsyslog on loopback (its own config, pid and
# work directories in a temp dir, an unprivileged port): every entry arrives
# in order with its sequence number and hash; while rsyslog is stopped the
# entries queue on disk and arrive, in order and without gaps, when it is
# back; the same over TLS (RFC 5425) with a test CA made by certtool.
set -u
B=${ZONEWALL_BUILDDIR:?}
S=${ZONEWALL_SRCDIR:?}
ZWD=$B/tests/control/zonewalld-test
ZC=$B/control/zonectl
PY=/usr/bin/python3
RSYSLOGD=$(command -v rsyslogd || echo /usr/sbin/rsyslogd)
[ -x "$RSYSLOGD" ] || { echo "SKIP: rsyslogd is not installed (apt-get install rsyslog)"; exit 77; }
[ -x $PY ] || { echo "SKIP: $PY missing"; exit 77; }

T=$(mktemp -d /tmp/zwd-syslog.XXXXXX)
SOCK=$T/zw.sock
PID=
RPID=
fails=0
checks=0
cleanup() {
	[ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
	[ -n "$RPID" ] && kill -9 "$RPID" 2>/dev/null
	[ -z "${ZW_KEEP_TMP:-}" ] && rm -rf "$T"
}
trap cleanup EXIT
. "$(dirname "$0")/../lib/checks.sh"
zc() { "$ZC" --socket "$SOCK" "$@"; }
free_port() { $PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# rsyslog_conf NAME PORT [tls]
rsyslog_conf() {
	local d=$T/$1 port=$2
	mkdir -p "$d/work"
	{
		echo "global(workDirectory=\"$d/work\""
		if [ "${3:-}" = tls ]; then
			echo "  DefaultNetstreamDriver=\"gtls\""
			echo "  DefaultNetstreamDriverCAFile=\"$T/ca.pem\""
			echo "  DefaultNetstreamDriverCertFile=\"$T/server-cert.pem\""
			echo "  DefaultNetstreamDriverKeyFile=\"$T/server-key.pem\""
		fi
		echo ")"
		if [ "${3:-}" = tls ]; then
			echo "module(load=\"imtcp\" StreamDriver.Name=\"gtls\" StreamDriver.Mode=\"1\" StreamDriver.AuthMode=\"anon\")"
		else
			echo "module(load=\"imtcp\")"
		fi
		echo "input(type=\"imtcp\" address=\"127.0.0.1\" port=\"$port\")"
		echo "template(name=\"raw\" type=\"string\" string=\"%rawmsg%\\n\")"
		echo "*.* action(type=\"omfile\" file=\"$d/received.log\" template=\"raw\")"
	} >"$d/rsyslog.conf"
}
rsyslog_start() { # NAME
	"$RSYSLOGD" -n -f "$T/$1/rsyslog.conf" -i "$T/$1/rsyslog.pid" >>"$T/$1/rsyslogd.out" 2>&1 &
	RPID=$!
	# ready when the port accepts connections
	for _ in $(seq 100); do
		$PY -c "import socket,sys; socket.create_connection(('127.0.0.1',$2),0.2)" 2>/dev/null && return 0
		kill -0 $RPID 2>/dev/null || break
		sleep 0.05
	done
	echo "rsyslogd did not start:"; cat "$T/$1/rsyslogd.out"; return 1
}
rsyslog_stop() { kill -TERM "$RPID"; wait "$RPID" 2>/dev/null; RPID=; }
head_seq() { zc status --format json | $PY -c "import json,sys; print(json.load(sys.stdin)['journal']['head_seq'])"; }
# wait_for NAME SEQ: until received.log holds entry SEQ
wait_for() {
	for _ in $(seq 200); do
		grep -q "seq=\"$2\"" "$T/$1/received.log" 2>/dev/null && return 0
		sleep 0.05
	done
	return 1
}
# analyse NAME HEAD: every seq 1..HEAD present, first copies in order, hash
# of each MSG = its SD hash, prev of each = hash of the one before.
analyse() {
	$PY - "$T/$1/received.log" "$2" <<'EOF'
import hashlib, json, re, sys
path, head = sys.argv[1], int(sys.argv[2])
seen, order, hashes, bad = set(), [], {}, []
for line in open(path, encoding="utf-8"):
    line = line.rstrip("\n")
    m = re.search(r'\[zonewall@32473 seq="(\d+)" hash="([0-9a-f]{64})" prev="([0-9a-f]{64})"', line)
    if not m:
        bad.append("no zonewall SD: " + line[:80]); continue
    seq, h, prev = int(m.group(1)), m.group(2), m.group(3)
    if not re.match(r'<1(08|09)>1 \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z \S+ zonewalld \d+ \S+ \[timeQuality ', line):
        bad.append("header of %d: %s" % (seq, line[:100]))
    msg = line.split("] ", 1)[1] if "] " in line else ""
    # the MSG is BOM + canonical content; the rawmsg may keep the BOM
    msg = msg.lstrip("\ufeff")
    body = msg[msg.index("{"):]
    if hashlib.sha256(body.encode()).hexdigest() != h:
        bad.append("hash of %d does not match its message" % seq)
    if json.loads(body)["seq"] != seq:
        bad.append("seq of %d differs in body" % seq)
    hashes[seq] = (h, prev)
    if seq not in seen:
        seen.add(seq); order.append(seq)
missing = sorted(set(range(1, head + 1)) - seen)
if missing: bad.append("missing: %s" % missing[:20])
if order != sorted(order): bad.append("out of order")
for s in range(2, head + 1):
    if s in hashes and s - 1 in hashes and hashes[s][1] != hashes[s - 1][0]:
        bad.append("chain broken at %d" % s)
print("%d distinct entries, %d lines" % (len(seen), sum(1 for _ in open(path))))
for b in bad: print("  " + b)
sys.exit(1 if bad else 0)
EOF
}

M1=$S/matrix/examples/minimal.yaml
M2=$T/m2.yaml
sed 's/F-001/F-101/' "$M1" >"$M2"

# ---------- plain TCP ----------
PORT=$(free_port)
rsyslog_conf plain "$PORT"
rsyslog_start plain "$PORT" || exit 1
"$ZWD" --state "$T/st" --socket "$SOCK" --backend "file:$T/eng.img" \
	--syslog "127.0.0.1:$PORT" --foreground --log "$T/zwd.log" &
PID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done

check "commit v1" zc commit "$M1" -m "initial matrix" >/dev/null
H=$(head_seq)
check "all $H entries reach rsyslog" wait_for plain "$H"
check "in order, no gap, hashes and chain intact" analyse plain "$H"

rsyslog_stop
check "commit while the server is down" zc commit "$M2" -m "rename while syslog is down" >/dev/null
check "rollback while the server is down" zc rollback 1 -m "and back" >/dev/null
H2=$(head_seq)
sleep 0.5
Q=$(zc status --format json | $PY -c "import json,sys; s=json.load(sys.stdin)['syslog']; print(s['queued'], s['connected'])")
check "entries queue on disk while down (queued, connected: $Q)" [ "${Q%% *}" -ge 1 ]
# The daemon may restart too while the server is down: the queue is on disk.
kill -TERM "$PID"; wait "$PID"; PID=
"$ZWD" --state "$T/st" --socket "$SOCK" --backend "file:$T/eng.img" \
	--syslog "127.0.0.1:$PORT" --foreground --log "$T/zwd.log" &
PID=$!
for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
rsyslog_start plain "$PORT" || exit 1
check "queued entries arrive after the restart (up to $H2)" wait_for plain "$H2"
check "nothing lost across the rsyslog restart" analyse plain "$H2"
kill -TERM "$PID"; wait "$PID"; PID=
rsyslog_stop

# ---------- TLS ----------
if ! command -v certtool >/dev/null || [ ! -e /usr/lib/x86_64-linux-gnu/rsyslog/lmnsd_gtls.so ]; then
	echo "# TLS part skipped: certtool or rsyslog-gnutls missing"
else
	cat >"$T/ca.tmpl" <<EOF
cn = "zonewall test CA"
ca
cert_signing_key
expiration_days = 2
EOF
	cat >"$T/server.tmpl" <<EOF
cn = "localhost"
dns_name = "localhost"
ip_address = "127.0.0.1"
tls_www_server
encryption_key
signing_key
expiration_days = 2
EOF
	(cd "$T" &&
		certtool --generate-privkey --outfile ca-key.pem &&
		certtool --generate-self-signed --load-privkey ca-key.pem --template ca.tmpl --outfile ca.pem &&
		certtool --generate-privkey --outfile server-key.pem &&
		certtool --generate-certificate --load-privkey server-key.pem --load-ca-certificate ca.pem \
			--load-ca-privkey ca-key.pem --template server.tmpl --outfile server-cert.pem) >"$T/certtool.out" 2>&1 ||
		{ cat "$T/certtool.out"; bad "certtool"; }
	TPORT=$(free_port)
	rsyslog_conf tls "$TPORT" tls
	rsyslog_start tls "$TPORT" || exit 1
	"$ZWD" --state "$T/st-tls" --socket "$SOCK" --backend "file:$T/eng-tls.img" \
		--syslog "127.0.0.1:$TPORT" --syslog-tls --syslog-ca "$T/ca.pem" \
		--syslog-name localhost --foreground --log "$T/zwd-tls.log" &
	PID=$!
	for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
	check "TLS: commit" zc commit "$M1" -m "over TLS" >/dev/null
	check "TLS: second commit" zc commit "$M2" -m "again over TLS" >/dev/null
	H3=$(head_seq)
	check "TLS: every entry arrives (up to $H3)" wait_for tls "$H3"
	check "TLS: in order, hashes and chain intact" analyse tls "$H3"
	grep -q "event=syslog-up.*tls=yes" "$T/zwd-tls.log" && ok "TLS: connection logged as TLS" || bad "TLS: no syslog-up tls=yes in log"
	kill -TERM "$PID"; wait "$PID"; PID=
	# A server whose certificate the CA did not sign is refused.
	certtool --generate-privkey --outfile "$T/other-key.pem" >/dev/null 2>&1
	certtool --generate-self-signed --load-privkey "$T/other-key.pem" --template "$T/ca.tmpl" --outfile "$T/other-ca.pem" >/dev/null 2>&1
	"$ZWD" --state "$T/st2" --socket "$SOCK" --backend "file:$T/eng2.img" \
		--syslog "127.0.0.1:$TPORT" --syslog-tls --syslog-ca "$T/other-ca.pem" \
		--syslog-name localhost --foreground --log "$T/zwd-bad.log" &
	PID=$!
	for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
	zc commit "$M1" -m "to an untrusted server" >/dev/null
	sleep 1
	check "TLS: untrusted server refused, entries stay queued" \
		bash -c "'$ZC' --socket '$SOCK' status | grep -q 'DISCONNECTED.*TLS'"
	kill -TERM "$PID"; wait "$PID"; PID=
	# A server whose certificate the CA signed, but for another name.
	"$ZWD" --state "$T/st3" --socket "$SOCK" --backend "file:$T/eng3.img" \
		--syslog "127.0.0.1:$TPORT" --syslog-tls --syslog-ca "$T/ca.pem" \
		--syslog-name logs.example.net --foreground --log "$T/zwd-name.log" &
	PID=$!
	for _ in $(seq 100); do zc status >/dev/null 2>&1 && break; sleep 0.05; done
	zc commit "$M1" -m "to a server with another name" >/dev/null
	sleep 1
	check "TLS: certificate for another name refused" \
		bash -c "'$ZC' --socket '$SOCK' status | grep -q 'DISCONNECTED.*TLS'"
	kill -TERM "$PID"; wait "$PID"; PID=
	rsyslog_stop
fi

echo "$checks checks, $fails failed"
[ "$fails" = 0 ]
