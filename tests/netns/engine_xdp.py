# SPDX-License-Identifier: BSD-2-Clause
"""The eBPF/XDP engine for tests/netns/connectivity.py (interface: see
engine_nft.py).

The XDP program is attached to every appliance-side interface of the lab
(h0, h1, ...). Its pins live in a directory of the bpf filesystem that
tests/with_bpffs.sh mounted for this run ($ZONEWALL_TEST_BPFFS; meson runs
the XDP connectivity tests through it): `ip netns exec` (used to run zw-xdp
and zonewalld in the appliance namespace) remounts /sys, so /sys/fs/bpf
would be a different, empty bpffs in every such session and pins would not
outlive the process that made them; a bpffs mounted outside /sys is seen
by every session, so enforcement survives the loader and the daemon.
"""
import json
import os
import shutil
import subprocess


class Skip(Exception):
    pass


class Engine:
    name = "xdp"
    lab_engine = "xdp"

    def __init__(self, ctx):
        self.ctx = ctx
        self.tool = os.path.join(ctx.builddir, "dataplane", "bpf", "zw-xdp")
        self.zonectl = os.path.join(ctx.builddir, "control", "zonectl")
        self.app = ctx.plan["appliance"]
        self.bpffs = os.environ.get("ZONEWALL_TEST_BPFFS", "")
        self.dir = os.path.join(self.bpffs, f"zonewall-{ctx.tag}")
        self.ifaces = [h["iface"] for h in ctx.plan["hosts"]]
        self.used = False
        self.n = 0

    def _run(self, *args):
        r = subprocess.run(["ip", "netns", "exec", self.app, self.tool,
                            "--dir", self.dir] + list(args),
                           capture_output=True, text=True)
        return r.returncode, (r.stdout + r.stderr).strip()

    def _image(self, policy):
        """An image path for POLICY (compiled when it is a matrix)."""
        if policy.endswith(".img"):
            return policy, None
        self.n += 1
        img = os.path.join(self.ctx.tmp, f"xdp-{self.n}.img")
        r = subprocess.run([self.zonectl, "compile", policy, "-o", img],
                           capture_output=True, text=True)
        if r.returncode != 0:
            return None, (r.stdout + r.stderr).strip()
        return img, None

    def _bpffs(self):
        if self.used:
            return
        if not os.access(self.tool, os.X_OK):
            raise Skip(f"{self.tool} not built (meson option bpf)")
        with open("/proc/self/mounts", encoding="utf-8") as f:
            mounted = any(line.split()[1:3] == [self.bpffs, "bpf"] for line in f)
        if not self.bpffs or not mounted:
            raise Skip("no bpffs of its own: run it through tests/with_bpffs.sh "
                       "(meson test does)")
        self.used = True

    def start(self, policy):
        self._bpffs()
        img, err = self._image(policy)
        if not img:
            raise RuntimeError(f"xdp engine: {err}")
        rc, out = self._run("load", "--policy", img, *self.ifaces)
        if rc != 0:
            raise RuntimeError(f"xdp engine: {out}")

    def apply(self, policy):
        img, err = self._image(policy)
        if not img:
            return False, err
        rc, out = self._run("apply", img)
        return rc == 0, out

    def apply_failing(self, policy):
        img, err = self._image(policy)
        if not img:
            return False, err
        rc, out = self._run("apply", "--inject-failure", img)
        return rc == 0, out

    def _status(self):
        rc, out = self._run("status", "--format", "json")
        if rc != 0:
            return None
        try:
            return json.loads(out)
        except ValueError:
            return None

    def enforced_sha(self):
        st = self._status()
        if not st or not st.get("enforcing"):
            return None
        # enforcing means every lab interface runs the program too
        attached = {l["ifname"] for l in st["links"] if l["mode"] != "detached"}
        if not set(self.ifaces) <= attached:
            return None
        return st["sha256"]

    def drift(self, policy):
        img, err = self._image(policy)
        if not img:
            return err
        rc, out = self._run("status", "--expect", img)
        return None if rc == 0 else out

    def backend_spec(self):
        self._bpffs()  # zonewalld opens the instance there
        # the engine inspects by default (docs/l7.md): zonewalld runs
        # zw-inspect on its queue (23), reading its image in our directory
        img = os.path.join(self.ctx.tmp, "xdp-inspect.img")
        return f"xdp:{','.join(self.ifaces)},dir={self.dir},inspect_image={img}"

    def snapshot(self):
        """Generation and the program each link runs: a restarted daemon
        that re-applied or re-attached would change one of them."""
        st = self._status()
        if not st:
            return None
        links = sorted((l["ifname"], l["prog_id"], l["mode"]) for l in st["links"])
        return json.dumps({"generation": st["generation"], "sha256": st["sha256"],
                           "links": links})

    def stop(self):
        if self.used:
            # the directory goes with its pins (unpinned links detach);
            # the bpffs is tests/with_bpffs.sh's to unmount
            self._run("unload")
            shutil.rmtree(self.dir, ignore_errors=True)
            self.used = False
