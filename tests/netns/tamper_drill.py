#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Tamper drill (issue 10): zonewalld-test drives the nft and the XDP
engines of the lab's appliance (both enforce the same version), with
traffic flowing through the lab. One after the other, as a hostile or
careless operator would: the nft table is deleted, a chain of it flushed,
an XDP link detached (bpftool), an entry of the active XDP rule maps
updated (bpftool), and the wall clock stepped back two days (the daemon's
test hook ZONEWALL_CLOCK_OFFSET_FILE). After each, within 2 s: every engine
is back on the active version (`zonectl status` exits 0), the journal names
the event (`drift` naming the engine, or `clock-step`), a probe the matrix
allows passes and probes it denies are denied again. Run through
tests/with_bpffs.sh (a bpffs of its own). Everything it creates (lab
namespaces, the bpffs directory, the daemon) goes in a finally block.

Exit 0 all passed, 1 something failed, 77 cannot run here (why printed).
"""
import json
import os
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import connectivity as cn  # noqa: E402

WINDOW = 4.0  # to see it through zonectl; the detection itself: < 1 s


def main():
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces, nftables, XDP)")
        return 77
    builddir = os.environ.get("ZONEWALL_BUILDDIR")
    srcdir = os.environ.get("ZONEWALL_SRCDIR")
    bpffs = os.environ.get("ZONEWALL_TEST_BPFFS", "")
    if not builddir or not srcdir:
        print("FAIL: run through meson test")
        return 1
    if not bpffs:
        print("FAIL: no bpffs of its own: run through tests/with_bpffs.sh")
        return 1
    for tool in ("bpftool", "nft"):
        if not shutil.which(tool):
            print(f"FAIL: {tool} missing")
            return 1
    zwd = os.path.join(builddir, "tests", "control", "zonewalld-test")
    zonectl = os.path.join(builddir, "control", "zonectl")
    oracle = os.path.join(builddir, "tests", "netns", "zw-oracle")
    lab = os.path.join(srcdir, "scripts", "lab.sh")
    matrix = os.path.join(HERE, "matrices", "basic.yaml")
    fail = cn.Failures()
    tag = f"{os.getpid() % 100000}d"
    tmp = tempfile.mkdtemp(prefix=f"zwdrill{tag}")
    prefix = f"zwt{tag}"
    table = f"zw_{tag}"
    xdir = os.path.join(bpffs, f"zonewall-{tag}")
    sock = os.path.join(tmp, "zw.sock")
    offset = os.path.join(tmp, "clock-offset")
    with open(offset, "w") as f:
        f.write("0\n")
    proc = agents = None
    log = open(os.path.join(tmp, "zonewalld.log"), "a")

    def zc(*args):
        r = subprocess.run([zonectl, "--socket", sock] + list(args),
                           capture_output=True, text=True)
        return r.returncode, r.stdout + r.stderr

    def app(*cmd):
        return subprocess.run(["ip", "netns", "exec", plan["appliance"]] + list(cmd),
                              capture_output=True, text=True)

    def journal():
        rc, out = zc("journal", "--format", "json")
        return json.loads(out)["entries"] if rc == 0 else []

    def count(action):
        return sum(1 for e in journal() if e["action"] == action)

    def within(pred):
        t0 = time.time()
        while time.time() - t0 < WINDOW:
            if pred():
                return time.time() - t0
            time.sleep(0.05)
        return None

    try:
        policy = cn.compile_policy(zonectl, matrix, os.path.join(tmp, "policy.img"))
        r = cn.sh([lab, "up", matrix, "--engine", "xdp", "--prefix", prefix,
                   "--hosts", "1", "--json", "--builddir", builddir])
        plan = json.loads(r.stdout)
        ifaces = [h["iface"] for h in plan["hosts"]]
        env = dict(os.environ, ZONEWALL_CLOCK_OFFSET_FILE=offset)
        proc = subprocess.Popen(
            ["ip", "netns", "exec", plan["appliance"], zwd, "--state",
             os.path.join(tmp, "state"), "--socket", sock,
             "--backend", f"nft:table={table},inspect_image={tmp}/inspect.img",
             # both engines inspect: one inspector, same queue (23) and image
             "--backend", f"xdp:{','.join(ifaces)},dir={xdir},inspect_image={tmp}/inspect.img",
             "--foreground"],
            stdout=log, stderr=log, env=env)
        for _ in range(200):
            if zc("status")[0] in (0, 4) or proc.poll() is not None:
                break
            time.sleep(0.05)
        rc, out = zc("commit", matrix, "-m", "tamper drill")
        if not fail.check(rc == 0, f"commit: {out}"):
            return 1
        fail.check(zc("status")[0] == 0, "status exit 0 once committed")

        rules = cn.oracle_rules(oracle, policy)
        probes = cn.plan_probes(plan, rules, False, random.Random(7))
        cn.ask_oracle(oracle, policy, probes)
        denied = [p for p in probes if not p["allow"] and p["proto"] in (6, 17)][:6]
        allowed = [p for p in probes if p["allow"] and p["proto"] == 6][:2]
        if not fail.check(denied and allowed, "no denied or allowed TCP/UDP probe"):
            return 1
        agents = cn.Agents(plan)
        cn.listen_all(agents, plan, denied + allowed)

        def probes_ok(label):
            res = cn.run_probes(agents, denied + allowed, timeout=1.0)
            n = cn.check_probes(denied + allowed, res, fail, label)
            return n == len(denied) + len(allowed)

        probes_ok("before any tampering")

        def drill(label, tamper, action="drift", engine=None):
            n0 = count(action)
            r = tamper()
            t_us = int(time.time() * 1e6)  # the change is made
            if r is not None and r.returncode != 0:
                fail.check(False, f"{label}: the tampering itself failed: "
                                  f"{r.stderr.strip()}")
                return
            # the journal first (a status request keeps the daemon busy
            # reading both engines back), then the engines
            t = within(lambda: count(action) > n0)
            t = t if t is None else within(lambda: zc("status")[0] == 0)
            if not fail.check(t is not None,
                              f"{label}: not back on the active version with a "
                              f"{action} entry within {WINDOW} s "
                              f"(status: {zc('status')[1][-600:]})"):
                return
            e = [e for e in journal() if e["action"] == action][-1]
            # detection time: the entry's own time (the daemon's clock, the
            # same as ours until the clock step)
            if action == "drift":
                y, mo, d_, h, mi, sec = re.match(
                    r"(\d+)-(\d+)-(\d+)T(\d+):(\d+):([\d.]+)Z", e["time"]).groups()
                import calendar
                e_us = int((calendar.timegm((int(y), int(mo), int(d_), int(h), int(mi), 0))
                            + float(sec)) * 1e6)
                lat = (e_us - t_us) / 1000
                # the watch notices within 250 ms (nft: at once); the entry
                # follows a full read-back (XDP: every interface's programs
                # and the rule maps decoded), slower on a loaded machine
                fail.check(lat < 2000, f"{label}: journalled {lat:.0f} ms after the change")
                t = lat / 1000
            if engine:
                fail.check(e["after"]["engine"] == engine,
                           f"{label}: the drift entry names {e['after']['engine']}")
            print(f"ok - {label}: detected and journalled in {t * 1000:.0f} ms; "
                  f"journal: {e['detail'][:160]}")
            if probes_ok(f"after {label}"):
                print(f"ok - {label}: denied probes denied again, allowed ones pass")

        drill("nft table deleted",
              lambda: app("nft", "delete", "table", "inet", table), engine="nft")
        text = app("nft", "list", "table", "inet", table).stdout
        base = re.findall(r"chain (\S+) \{\n\s+type filter hook", text)
        drill(f"nft chain {base[0] if base else '?'} flushed",
              lambda: app("nft", "flush", "chain", "inet", table, base[0]), engine="nft")
        link = os.path.join(xdir, "links", ifaces[0])
        drill(f"XDP link of {ifaces[0]} detached",
              lambda: subprocess.run(["bpftool", "link", "detach", "pinned", link],
                                     capture_output=True, text=True), engine="xdp")

        def update_map():
            g = json.loads(subprocess.run(
                ["bpftool", "-j", "map", "dump", "pinned", os.path.join(xdir, "maps", "zw_global")],
                capture_output=True, text=True).stdout)
            gen = int.from_bytes(bytes(int(b, 16) for b in g[0]["value"][:4]), "little")
            m = os.path.join(xdir, "maps", f"zw_zones4_{gen & 1}")
            ents = json.loads(subprocess.run(["bpftool", "-j", "map", "dump", "pinned", m],
                                             capture_output=True, text=True).stdout)
            k = ents[0]["key"]
            v = [f"0x{(int(b, 16) ^ 0xff) if i == 0 else int(b, 16):02x}"
                 for i, b in enumerate(ents[0]["value"])]
            return subprocess.run(["bpftool", "map", "update", "pinned", m, "key", "hex"]
                                  + [x[2:] for x in k] + ["value", "hex"] + [x[2:] for x in v],
                                  capture_output=True, text=True)
        drill("an XDP rule-map entry updated", update_map, engine="xdp")

        def step_back():
            with open(offset, "w") as f:
                f.write("-172800\n")
        drill("wall clock stepped back two days", step_back, action="clock-step")
        rc, out = zc("status")
        fail.check("CLOCK STEPPED BACK" in out, f"status shows the step: {out[-400:]}")
        rc, out = zc("journal", "verify")
        fail.check(rc == 0, f"journal verify after the drill: {out}")
    finally:
        if agents:
            agents.stop()
        if proc:
            proc.kill()
            proc.wait()
        log.close()
        subprocess.run([lab, "down", "--prefix", prefix], capture_output=True)
        subprocess.run(["rm", "-rf", xdir])
        if not os.environ.get("ZW_KEEP_TMP"):
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept {tmp}")
    print(f"{fail.n} failures")
    return 1 if fail.n else 0


if __name__ == "__main__":
    sys.exit(main())
