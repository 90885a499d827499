# SPDX-License-Identifier: BSD-2-Clause
"""The nftables engine for tests/netns/connectivity.py.

Engine plug-in interface (one module engine_<name>.py per engine, so each
engine's owner adds theirs without touching the driver):

    class Engine:
        name             engine name, as in --engine
        lab_engine       what to pass to lab.sh --engine
        __init__(ctx)    ctx: .builddir .srcdir .plan (the lab's JSON)
                         .tag (unique per run) .tmp (scratch directory)
        start(policy)    enforce POLICY (image path) for the first time;
                         raise Skip("why") if the engine cannot run here
        apply(policy)    replace the policy: (ok, message)
        apply_failing(policy)
                         a replacement the engine must refuse as a whole
                         (e.g. a failure injected into the batch): (ok,
                         message), or None when the engine cannot inject one
        enforced_sha()   SHA-256 (hex) of the image the engine enforces, read
                         back from the engine itself, or None
        stop()           remove what start() installed
        backend_spec()   the zonewalld --backend SPEC reaching this engine
                         (for connectivity.py --daemon)
        snapshot()       optional: the engine's state as text with object
                         identities (handles), to prove a daemon restart
                         re-added nothing
"""
import os
import subprocess
import time


class Skip(Exception):
    pass


class Engine:
    name = "nft"
    lab_engine = "nft"
    # nftables cannot count extension headers: an IPv6 chain longer than
    # ZW_IPV6_EXT_MAX is not dropped (docs/nft-engine.md, limits)
    ext_chain_limit = False

    def __init__(self, ctx):
        self.ctx = ctx
        self.tool = os.path.join(ctx.builddir, "dataplane", "nft", "zw-nft-apply")
        self.inspector = os.path.join(ctx.builddir, "dataplane", "nft", "zw-inspect")
        self.table = f"zw_{ctx.tag}"
        self.app = ctx.plan["appliance"]
        # the engine always inspects (docs/l7.md): its image for zw-inspect
        # goes to the run's scratch directory
        self.image = os.path.join(ctx.tmp, "nft-inspect.img")
        self.insp = None

    def _run(self, *args):
        r = subprocess.run(["ip", "netns", "exec", self.app, self.tool,
                            "--table", self.table, "--l7", f"inspect_image={self.image}"] +
                           list(args), capture_output=True, text=True)
        return r.returncode, (r.stdout + r.stderr).strip()

    def start(self, policy):
        if not os.access(self.tool, os.X_OK):
            raise Skip(f"{self.tool} not built (meson option nft)")
        ok, msg = self.apply(policy)
        if not ok:
            raise RuntimeError(f"nft engine: {msg}")
        # without the daemon, the inspector is ours to run (on the default
        # queue, 23): the services with inspect: are judged, not dropped
        if not os.access(self.inspector, os.X_OK):
            raise RuntimeError(f"{self.inspector} not built: the nft engine's "
                               "inspected connections would all be dropped")
        self.insp_log = open(os.path.join(self.ctx.tmp, "zw-inspect.log"), "a")
        self.insp = subprocess.Popen(
            ["ip", "netns", "exec", self.app, self.inspector, "--queue", "23",
             "--image", self.image], stdout=self.insp_log, stderr=self.insp_log)
        for _ in range(100):
            with open(self.insp_log.name) as f:
                if "listening on NFQUEUE" in f.read():
                    return
            if self.insp.poll() is not None:
                break
            time.sleep(0.05)
        raise RuntimeError(f"zw-inspect did not start (see {self.insp_log.name})")

    def apply(self, policy):
        rc, out = self._run(policy)
        return rc == 0, out

    def apply_failing(self, policy):
        rc, out = self._run("--inject-failure", policy)
        return rc == 0, out

    def enforced_sha(self):
        rc, out = self._run("--read-back")
        for line in out.splitlines():
            if line.startswith("sha256: ") and line[8:] != "-":
                return line[8:].strip()
        return None

    def drift(self, policy):
        rc, out = self._run("--read-back", policy)
        return None if rc == 0 else out

    def backend_spec(self):
        return f"nft:table={self.table},inspect_image={self.image}"

    def snapshot(self):
        r = subprocess.run(["ip", "netns", "exec", self.app, "nft", "-a", "-s", "list",
                            "table", "inet", self.table], capture_output=True, text=True)
        return r.stdout if r.returncode == 0 else None

    def stop(self):
        if self.insp:
            self.insp.terminate()
            try:
                self.insp.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.insp.kill()
            self.insp = None
        self._run("--destroy")
