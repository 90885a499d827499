# SPDX-License-Identifier: BSD-2-Clause
"""Drive an engine through zonewalld and zonectl (connectivity.py --daemon).

The engine module provides `backend_spec(engine)` (the --backend SPEC for
zonewalld, e.g. "nft:table=zw_123"); zonewalld runs in the lab's appliance
namespace with that backend plus the `file:` test double, which fails on
demand (PATH.fail): a commit that one backend refuses must leave every
engine on the previous version. What the engine enforces is always read
back from the engine itself, never from the daemon.

With an engine that hands its flow records to the daemon (DPDK: RECORDS on
its control socket), zonewalld also runs with --log-all-flows and
--ipfix to a UDP collector in the appliance namespace
(tests/control/collector.py): flows() shows what the daemon received
(`zonectl flows`), telemetry_status() what it exported (`zonectl status`).
"""
import json
import os
import signal
import subprocess
import time


class Daemon:
    def __init__(self, ctx, engine, skip):
        self.ctx = ctx
        self.skip = skip
        self.engine = engine  # the engine's own (loader) object: read-back, stop
        # the tests' daemon: zonewalld plus the "file" test engine
        self.zwd = os.path.join(ctx.builddir, "tests", "control", "zonewalld-test")
        self.zc = os.path.join(ctx.builddir, "control", "zonectl")
        self.state = os.path.join(ctx.tmp, "state")
        self.sock = os.path.join(ctx.tmp, "zw.sock")
        self.fileimg = os.path.join(ctx.tmp, "file-engine.img")
        self.spec = engine.backend_spec()
        self.proc = None
        self.telemetry = getattr(engine, "name", "") == "dpdk"
        self.collector = None
        self.ipfix_port = 20000 + os.getpid() % 20000

    def _zc(self, *args):
        r = subprocess.run([self.zc, "--socket", self.sock] + list(args),
                           capture_output=True, text=True)
        return r.returncode, (r.stdout + r.stderr).strip()

    def launch(self):
        self.log = open(os.path.join(self.ctx.tmp, "zonewalld.log"), "a")
        extra = []
        if self.telemetry:
            extra = ["--ipfix", f"udp://127.0.0.1:{self.ipfix_port}", "--log-all-flows"]
        self.proc = subprocess.Popen(
            ["ip", "netns", "exec", self.ctx.plan["appliance"], self.zwd,
             "--state", self.state, "--socket", self.sock, "--backend", self.spec,
             "--backend", f"file:{self.fileimg}", "--foreground"] + extra,
            stdout=self.log, stderr=self.log)
        for _ in range(200):
            if self._zc("status")[0] == 0:
                return
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"zonewalld did not start (see {self.log.name})")

    def start(self, matrix):
        if not os.access(self.zwd, os.X_OK):
            raise self.skip("zonewalld not built (meson option daemon)")
        if self.telemetry:
            col = os.path.join(self.ctx.srcdir, "tests", "control", "collector.py")
            self.collector = subprocess.Popen(
                ["ip", "netns", "exec", self.ctx.plan["appliance"], "/usr/bin/python3",
                 col, "udp", str(self.ipfix_port), os.path.join(self.ctx.tmp, "ipfix.pcap")])
        self.launch()
        ok, msg = self.apply(matrix)
        if not ok:
            raise RuntimeError(f"first commit: {msg}")

    def apply(self, matrix):
        rc, out = self._zc("commit", matrix, "-m", "netns connectivity test")
        return rc == 0, out

    def apply_failing(self, matrix):
        open(self.fileimg + ".fail", "w").close()
        try:
            rc, out = self._zc("commit", matrix, "-m", "netns test: a backend fails")
        finally:
            os.unlink(self.fileimg + ".fail")
        return rc == 0, out

    def enforced_sha(self):
        return self.engine.enforced_sha()

    def snapshot(self):
        return self.engine.snapshot() if hasattr(self.engine, "snapshot") else None

    def status(self):
        return self._zc("status")

    def flows(self):
        """What the daemon received from its engines (the live buffer)."""
        rc, out = self._zc("flows", "--format", "json")
        if rc != 0:
            return []
        d = json.loads(out)
        return d.get("flows", []) if isinstance(d, dict) else d

    def wait_record(self, event, dst, port, timeout=5.0):
        """The first record of @event to @dst:@port (TCP), or None."""
        end = time.time() + timeout
        while True:
            for f in self.flows():
                if (f.get("event") == event and f.get("dst") == dst and
                        f.get("dport") == port and f.get("proto") == "tcp"):
                    return f
            if time.time() > end:
                return None
            time.sleep(0.2)

    def telemetry_status(self):
        rc, out = self._zc("status", "--format", "json")
        if rc != 0:
            return {}
        return json.loads(out).get("telemetry") or {}

    def kill9(self):
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self):
        if self.proc:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None
        if self.collector:
            self.collector.terminate()
            self.collector.wait()
            self.collector = None
        self.engine.stop()
