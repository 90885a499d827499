# SPDX-License-Identifier: BSD-2-Clause
"""The DPDK engine for tests/netns/connectivity.py (interface: engine_nft.py).

The lab (scripts/lab.sh --engine dpdk) gives every host a pair of veths in
the appliance namespace, z<i> (towards the host) and r<i> (towards the
appliance's routing); zonewall-dpdk runs in the appliance namespace with
one net_af_packet port on each and bridges every pair (--pair), under
--no-huge. Policies go through its control socket (LOAD, STATUS: the
protocol of docs/dpdk-engine.md), exactly as zonewalld's dpdk backend
sends them.
"""
import os
import socket
import subprocess
import time


class Skip(Exception):
    pass


MAX_PORTS = 32  # RTE_MAX_ETHPORTS of Debian's DPDK build


class Engine:
    name = "dpdk"
    lab_engine = "dpdk"

    def __init__(self, ctx):
        self.ctx = ctx
        self.bin = os.path.join(ctx.builddir, "dataplane", "dpdk", "zonewall-dpdk")
        self.zonectl = os.path.join(ctx.builddir, "control", "zonectl")
        self.app = ctx.plan["appliance"]
        self.sock = os.path.join(ctx.tmp, "dpdk.sock")
        self.proc = None
        self.log = None

    # ---- the control protocol ----
    def _req(self, line, body=b"", timeout=60):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        s.connect(self.sock)
        s.sendall(line.encode() + b"\n" + body)
        f = s.makefile("rb")
        reply = f.readline().decode().strip()
        s.close()
        return reply

    def _status(self):
        try:
            r = self._req("STATUS", timeout=5)
        except OSError:
            return {}
        return dict(w.split("=", 1) for w in r.split()[1:] if "=" in w)

    # ---- the process ----
    def _launch(self, image):
        if self.proc:
            return
        if not os.access(self.bin, os.X_OK):
            raise Skip(f"{self.bin} not built (meson option dpdk)")
        hosts = self.ctx.plan["hosts"]
        if 2 * len(hosts) > MAX_PORTS:
            raise Skip(f"the lab has {len(hosts)} hosts, {2 * len(hosts)} DPDK "
                       f"ports: more than RTE_MAX_ETHPORTS ({MAX_PORTS})")
        cmd = ["ip", "netns", "exec", self.app, self.bin, "--no-huge", "-m", "1024",
               "--no-shconf", "--no-pci", "-l", "0-1", "--log-level", "lib.eal:error"]
        for i, h in enumerate(hosts):
            a, b = h["dpdk_pair"]
            cmd += [f"--vdev=net_af_packet{2 * i},iface={a}",
                    f"--vdev=net_af_packet{2 * i + 1},iface={b}"]
        # L7 inspection on, as in production: the lab's agents speak the
        # protocol of inspected services (tests/netns/agent.py)
        cmd += ["--", "--control", self.sock, "--conns", "65536"]
        if image:
            cmd += ["--policy", image]
        for i in range(len(hosts)):
            cmd += ["--pair", f"{2 * i}:{2 * i + 1}"]
        self.log = open(os.path.join(self.ctx.tmp, "zonewall-dpdk.log"), "a")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=self.log)
        for _ in range(300):
            if self.proc.poll() is not None:
                raise RuntimeError(f"zonewall-dpdk exited {self.proc.returncode} "
                                   f"(see {self.log.name})")
            if os.path.exists(self.sock) and self._status():
                return
            time.sleep(0.05)
        raise RuntimeError(f"zonewall-dpdk did not start (see {self.log.name})")

    def _image(self, matrix):
        """A policy image for MATRIX (a matrix or an image): (path, error)."""
        if matrix.endswith(".img"):
            return matrix, None
        out = os.path.join(self.ctx.tmp, "dpdk-policy.img")
        r = subprocess.run([self.zonectl, "compile", matrix, "-o", out],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None, (r.stderr or r.stdout).strip()
        return out, None

    def _day(self):
        t = os.environ.get("ZONEWALL_TODAY")
        if t:
            y, m, d = (int(x) for x in t.split("-"))
            import datetime
            return (datetime.date(y, m, d) - datetime.date(1970, 1, 1)).days
        return int(time.time() // 86400)

    def _load(self, data):
        try:
            r = self._req(f"LOAD {self._day()} {len(data)}", data)
        except OSError as e:
            return False, str(e)
        return r.startswith("OK"), r

    # ---- the interface ----
    def start(self, policy):
        img, err = self._image(policy)
        if not img:
            raise RuntimeError(f"dpdk engine: cannot compile {policy}: {err}")
        self._launch(img)
        if self._status().get("enforcing") != "1":
            raise RuntimeError("dpdk engine: not enforcing after start")

    def apply(self, policy):
        img, err = self._image(policy)
        if not img:
            return False, err
        with open(img, "rb") as f:
            return self._load(f.read())

    def apply_failing(self, policy):
        # An image damaged in transit: the engine must refuse it whole.
        img, err = self._image(policy)
        if not img:
            return False, err
        with open(img, "rb") as f:
            data = bytearray(f.read())
        data[len(data) // 2] ^= 0xFF
        return self._load(bytes(data))

    def enforced_sha(self):
        st = self._status()
        sha = st.get("sha256")
        return sha if st.get("enforcing") == "1" and sha != "-" else None

    def backend_spec(self):
        # zonewalld programs a running engine: start it without a policy
        # (fail closed until the first LOAD).
        self._launch(None)
        return f"dpdk:{self.sock}"

    def snapshot(self):
        st = self._status()
        return f"generation={st.get('generation')} sha256={st.get('sha256')}" if st else None

    def stop(self):
        if not self.proc:
            return
        if self.proc.poll() is not None:
            print(f"zonewall-dpdk died (exit {self.proc.returncode}); its log:")
            self.log.flush()
            with open(self.log.name) as f:
                print(f.read()[-3000:])
        try:
            # what the engine saw, for the test log
            st = self._status()
            print(f"zonewall-dpdk: rx={st.get('rx')} tx={st.get('tx')} "
                  f"dropped={st.get('dropped')} conns={st.get('conns')} "
                  f"generation={st.get('generation')}")
            s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            s.settimeout(5)
            s.connect(self.sock)
            s.sendall(b"PORTS\nDROPS\n")
            time.sleep(0.2)
            out = s.recv(65536).decode()
            s.close()
            bad = [l for l in out.splitlines()
                   if any(f"{k}=" in l and f"{k}=0 " not in l + " "
                          for k in ("imissed", "ierrors", "oerrors", "rx_nombuf"))]
            drops = [l for l in out.splitlines() if l and l[0].isdigit()
                     and not l.endswith(" 0")]
            print("zonewall-dpdk drops: " + "; ".join(drops))
            for l in bad:
                print("zonewall-dpdk port errors: " + l)
            self._req("SHUTDOWN", timeout=5)
        except OSError:
            pass
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
        if self.log:
            self.log.close()
