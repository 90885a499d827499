#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""Flow records from a real engine to a real collector, through the netns
lab (suite netns, root): scripts/lab.sh up ... --collector (nfcapd for
NetFlow v9/NSEL, a tcpdump capture of IPFIX, in their own namespace);
zonewalld in the appliance namespace drives ENGINE and exports with
`--ipfix nsel+udp://...` and `--ipfix udp://...` toward it; real
connections between the lab's hosts (tests/netns/agent.py), each verdict
taken from `zonectl explain` (the oracle). Then, from `nfdump -o fmt:...`
over what nfcapd wrote:
  - every denied probe appears as a DENIED event with its source and
    destination addresses, protocol and destination port;
  - every allowed connection of a flow with `log: true` appears as exactly
    one created event (nfdump: ADD) with its addresses and port;
  - an allowed connection of a flow without `log: true` gives none;
and tshark decodes the IPFIX capture without a malformed packet, holding
the records' addresses.

    telemetry_lab.py --engine nft|xdp|dpdk

The engine modules are connectivity.py's (engine_ENGINE.py, backend_spec()).
Today only the XDP engine hands records to the daemon; meson enables this
test per engine (tests/netns/meson.build, telemetry_lab_engines)."""
import argparse
import importlib
import ipaddress
import json
import os
import re
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from connectivity import Agents, Ctx  # noqa: E402

S = os.environ.get("ZONEWALL_SRCDIR", os.path.join(HERE, "..", ".."))
B = os.environ.get("ZONEWALL_BUILDDIR", os.path.join(S, "build"))
LAB = os.path.join(S, "scripts", "lab.sh")
MATRIX = os.path.join(S, "tests", "netns", "matrices", "basic.yaml")
LOGGED = ("F-1", "F-3")  # given `log: true` below; F-2 is not

# (from, to, family, proto, port): allowed of logged flows, allowed of an
# unlogged one, denied; each (source, destination, proto, port) once
PROBES = [
    ("ops-1", "jump-1", 4, "tcp", 22), ("ops-1", "jump-1", 6, "tcp", 22),
    ("jump-1", "upd-1", 4, "tcp", 8001), ("jump-1", "upd-1", 4, "udp", 53),
    ("jump-1", "adm-1", 4, "tcp", 443),
    ("ops-1", "adm-1", 4, "tcp", 22), ("ops-1", "ops-2", 4, "tcp", 22),
    ("outside-1", "jump-1", 4, "tcp", 22), ("ops-1", "upd-1", 4, "udp", 53),
    ("ops-1", "upd-1", 6, "tcp", 8001),
]

checks = fails = 0


def check(cond, what):
    global checks, fails
    checks += 1
    fails += not cond
    print(f"{'ok' if cond else 'FAIL'} - {what}", flush=True)
    return cond


def run(cmd, **kw):
    return subprocess.run(cmd, capture_output=True, text=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--engine", choices=["nft", "xdp", "dpdk"], required=True)
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("SKIP: needs root (network namespaces, engines)")
        return 77
    for tool in ("nfcapd", "nfdump", "tcpdump", "socat", "tshark"):
        if not run(["sh", "-c", f"command -v {tool}"]).stdout:
            print(f"FAIL: {tool} missing (scripts/deps.sh installs it)")
            return 1
    tag = f"zwtl{os.getpid() % 100000}"
    tmp = tempfile.mkdtemp(prefix="zw-telemetry-lab.")
    os.chmod(tmp, 0o755)
    zwd = engine = agents = None
    try:
        # the matrix: basic.yaml with F-1 and F-3 logged
        text = open(MATRIX).read()
        for fid in LOGGED:
            text, n = re.subn(rf"(  - id: {fid}\n(?:    .*\n)*?    justification: .*\n)",
                              r"\1    log: true\n", text, count=1)
            assert n == 1, fid
        matrix = os.path.join(tmp, "m.yaml")
        with open(matrix, "w") as f:
            f.write(text)

        r = run([LAB, "up", matrix, "--engine", a.engine, "--prefix", tag,
                 "--collector", "--builddir", B])
        if not check(r.returncode == 0, f"lab up with a collector ({r.stderr.strip()[-300:]})"):
            return 1
        plan = json.loads(run([LAB, "status", "--prefix", tag, "--json"]).stdout)
        col = plan["collector"]
        hosts = {h["name"]: h for h in plan["hosts"]}

        ctx = Ctx()
        ctx.builddir, ctx.plan, ctx.tag, ctx.tmp = B, plan, tag, tmp
        mod = importlib.import_module(f"engine_{a.engine}")
        engine = mod.Engine(ctx)
        try:
            spec = engine.backend_spec()
        except mod.Skip as e:
            print(f"SKIP: {e}")
            return 77
        sock = os.path.join(tmp, "zw.sock")
        log = open(os.path.join(tmp, "zonewalld.log"), "w")
        zwd = subprocess.Popen(
            ["ip", "netns", "exec", plan["appliance"], os.path.join(B, "control", "zonewalld"),
             "--state", os.path.join(tmp, "state"), "--socket", sock, "--backend", spec,
             "--foreground", "--ipfix", col["nsel_url"], "--ipfix", col["ipfix_url"],
             # the build's zw-inspect, for an engine that inspects (docs/l7.md)
             "--inspector", os.path.join(B, "dataplane", "nft", "zw-inspect")],
            stdout=log, stderr=subprocess.STDOUT)
        zc = [os.path.join(B, "control", "zonectl"), "--socket", sock]
        for _ in range(100):
            if run(zc + ["status"]).returncode == 0:
                break
            time.sleep(0.1)
        r = run(zc + ["commit", matrix, "-m", "telemetry lab"])
        if not check(r.returncode == 0, f"zonewalld ({spec}) commits the matrix {r.stderr.strip()}"):
            return 1

        # the oracle, and the probes
        probes = []
        for i, (src, dst, fam, proto, port) in enumerate(PROBES):
            sa, da = hosts[src][f"ipv{fam}"], hosts[dst][f"ipv{fam}"]
            ex = run(zc[:1] + ["explain", matrix, sa, da, proto, str(port)]).stdout.strip()
            m = re.match(r"allow (\S+)", ex)
            probes.append({"id": i, "src": src, "dst": dst, "sa": sa, "da": da, "proto": proto,
                           "port": port, "allow": bool(m), "flow": m and m.group(1),
                           "what": f"{src} -> {dst} {proto}/{port} v{fam} ({ex})"})
        check(sum(p["allow"] and p["flow"] in LOGGED for p in probes) == 4 and
              sum(p["allow"] and p["flow"] not in LOGGED for p in probes) == 1 and
              sum(not p["allow"] for p in probes) == 5,
              "the oracle: 4 connections of logged flows, 1 of an unlogged flow, 5 denied")
        agents = Agents({"hosts": [hosts[n] for n in sorted({p[0] for p in PROBES} |
                                                             {p[1] for p in PROBES})]})
        for h, r in agents.call_all({p: {"op": "listen", "tcp": [22, 443, 8001], "udp": [53]}
                                     for p in sorted({p[1] for p in PROBES})}).items():
            check(r.get("ok"), f"{h} serves tcp/22, 443, 8001 and udp/53")
        by_src = {}
        for p in probes:
            by_src.setdefault(p["src"], []).append(
                {"id": p["id"], "kind": p["proto"], "dst": p["da"], "port": p["port"]})
        res = {}
        for h, r in agents.call_all({h: {"op": "probe", "timeout": 1.5, "probes": v}
                                     for h, v in by_src.items()}).items():
            res.update({int(k): v for k, v in r["results"].items()})
        for p in probes:
            got = res.get(p["id"])
            check(got == ("ok" if p["allow"] else "timeout"),
                  f"{p['what']}: {'passed' if got == 'ok' else got}")

        # what the collector received (after the denial fold's second)
        r = run([LAB, "collector", "--prefix", tag, "--settle", "2.5"])
        print(r.stdout + r.stderr)
        r = run([LAB, "collector", "--prefix", tag, "--nfdump-format",
                 "fmt:%evt %pr %sa %sp %da %dp %pkt"])
        events = []
        for line in r.stdout.splitlines():
            w = line.split()
            if len(w) >= 7 and w[0] in ("ADD", "CREATE", "DENIED", "DELETE", "UPDATE", "INVALID"):
                try:
                    events.append({"evt": w[0], "proto": w[1].lower(),
                                   "sa": ipaddress.ip_address(w[2]), "sp": int(w[3]),
                                   "da": ipaddress.ip_address(w[4]), "dp": int(w[5])})
                except ValueError:
                    pass
        check(events, f"nfcapd received NSEL records ({len(events)})")

        def match(p, evt):
            return [e for e in events if e["evt"] == evt and e["proto"] == p["proto"] and
                    e["sa"] == ipaddress.ip_address(p["sa"]) and
                    e["da"] == ipaddress.ip_address(p["da"]) and e["dp"] == p["port"]]
        for p in probes:
            if not p["allow"]:
                check(len(match(p, "DENIED")) >= 1, f"denied event for {p['what']}")
            elif p["flow"] in LOGGED:
                n = len(match(p, "ADD"))
                check(n == 1, f"one created event (ADD) for {p['what']}: {n}")
            else:
                n = len(match(p, "ADD"))
                check(n == 0, f"no created event for the unlogged {p['what']}: {n}")

        # the IPFIX capture, decoded by tshark
        t = run(["tshark", "-r", col["pcap"], "-d", "udp.port==4739,cflow", "-V"])
        check("Cisco NetFlow/IPFIX" in t.stdout and "Version: 10" in t.stdout,
              "tshark decodes the IPFIX capture")
        check(not re.search(r"[Mm]alformed", t.stdout), "tshark: no malformed packet")
        for p in probes:
            if not p["allow"] or p["flow"] in LOGGED:
                check(p["da"] in t.stdout and p["sa"] in t.stdout,
                      f"IPFIX: a record of {p['what']}")
    finally:
        if agents:
            agents.stop()
        if zwd:
            zwd.terminate()
            try:
                zwd.wait(timeout=10)
            except subprocess.TimeoutExpired:
                zwd.kill()
        if engine:
            engine.stop()
        r = run([LAB, "down", "--prefix", tag])
        left = [n for n in run(["ip", "netns", "list"]).stdout.split() if n.startswith(tag + "-")]
        check(r.returncode == 0 and not left and
              not os.path.exists(f"/run/zonewall-lab/{tag}-collector"),
              "lab down removes the collector's namespace, processes and directory")
        if fails and os.path.exists(os.path.join(tmp, "zonewalld.log")):
            print("--- zonewalld.log (last lines)")
            print("".join(open(os.path.join(tmp, "zonewalld.log")).readlines()[-15:]))
        subprocess.run(["rm", "-rf", tmp])
    print(f"{checks} checks, {fails} failed")
    return 1 if fails else 0


if __name__ == "__main__":
    sys.exit(main())
