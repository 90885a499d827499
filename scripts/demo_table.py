#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""The demo's traffic (scripts/demo.sh): real connections between the lab's
hosts, each compared with what `zonectl explain` says, and a live
connection cut by a commit that removes its flow.

    demo_table.py table --lab TAG --matrix M.yaml --zonectl PATH
    demo_table.py cut --lab TAG --matrix M.yaml --zonectl PATH --socket S --flow ID
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "netns"))
from connectivity import Agents  # noqa: E402

# (from host, to host, family, proto, port, what it shows)
ROWS = [
    ("ops-1", "jump-1", 4, "tcp", 22, "admin workstation -> jump host, ssh"),
    ("ops-1", "jump-1", 6, "tcp", 3389, "same over IPv6, rdp"),
    ("ops-1", "jump-1", 4, "icmp", 8, "ping of the jump host"),
    ("ops-1", "platadm-1", 4, "tcp", 22, "workstation straight to the admin zone"),
    ("ops-1", "ops-2", 4, "tcp", 22, "workstation to workstation (isolated)"),
    ("ops-1", "ops-2", 6, "icmp", 128, "workstation pings workstation (isolated)"),
    ("jump-1", "ops-1", 4, "tcp", 22, "jump host opening towards a workstation"),
    ("jump-1", "platadm-1", 4, "tcp", 443, "jump host -> admin console"),
    ("jump-1", "svc-1", 4, "tcp", 9102, "backup agent, inside a port range"),
    ("jump-1", "svc-1", 4, "tcp", 9104, "one port past that range"),
    ("upd-1", "inet-1", 4, "tcp", 3128, "update mirror -> proxy"),
    ("inet-1", "outside-1", 4, "tcp", 443, "proxy -> vendor site"),
    ("upd-1", "outside-1", 4, "tcp", 443, "update mirror straight to the internet"),
    ("outside-1", "nomad-1", 4, "udp", 500, "nomad admin's IPsec (IKE)"),
    ("outside-1", "jump-1", 4, "tcp", 22, "internet -> jump host ssh"),
    ("nomad-1", "jump-1", 4, "tcp", 22, "VPN endpoint itself -> jump host (only tunnel clients may)"),
    ("ops-1", "infra-1", 4, "udp", 53, "workstation DNS"),
    ("vendor-1", "jump-1", 4, "tcp", 22, "vendor -> a jump host that is not its dedicated one"),
    ("vendor-1", "platadm-1", 4, "tcp", 22, "third-party admin -> admin zone"),
]

# the unsolicited segment: (from, to, tcp port) of the first row
ACK = ("ops-1", "jump-1", 22)

GREEN, RED, BOLD, DIM, END = "\033[32m", "\033[31m", "\033[1m", "\033[2m", "\033[0m"
if not sys.stdout.isatty():
    GREEN = RED = BOLD = DIM = END = ""


def lab_plan(tag):
    r = subprocess.run([os.path.join(HERE, "lab.sh"), "status", "--prefix", tag, "--json"],
                       capture_output=True, text=True, check=True)
    return json.loads(r.stdout)


def explain(zonectl, matrix, src, dst, proto, port):
    words = [proto if proto != "icmp" or ":" not in dst else "icmpv6", str(port)]
    r = subprocess.run([zonectl, "explain", matrix, src, dst] + words,
                       capture_output=True, text=True)
    return r.stdout.strip()


def table(a):
    plan = lab_plan(a.lab)
    hosts = {h["name"]: h for h in plan["hosts"]}
    rows = [r for r in ROWS if r[0] in hosts and r[1] in hosts and
            f"ipv{r[2]}" in hosts[r[0]] and f"ipv{r[2]}" in hosts[r[1]]]
    agents = Agents({"hosts": [hosts[n] for n in {r[1] for r in rows} | {r[0] for r in rows}]})
    try:
        tcp = sorted({r[4] for r in rows if r[3] == "tcp"})
        udp = sorted({r[4] for r in rows if r[3] == "udp"})
        for h, r in agents.call_all({n: {"op": "listen", "tcp": tcp, "udp": udp}
                                     for n in agents.p}).items():
            if not r.get("ok"):
                # a port nobody serves refuses what reached it: the table
                # could not tell blocked from passed
                print(f"demo: {h} cannot serve every port: {r}", file=sys.stderr)
                return 1
        probes = {}
        for i, (s, d, fam, proto, port, _) in enumerate(rows):
            probes.setdefault(s, []).append({"id": i, "kind": proto,
                                             "dst": hosts[d][f"ipv{fam}"], "port": port})
        res = {}
        for h, r in agents.call_all({h: {"op": "probe", "timeout": 1.5, "probes": v}
                                     for h, v in probes.items()}).items():
            res.update({int(k): v for k, v in r["results"].items()})
        # an unsolicited segment: a bare ACK to a service a flow allows and
        # a host serves (its SYN passed above), so that only state drops it
        ack = agents.call(ACK[0], {"op": "craft", "flags": "A",
                                   "dst": hosts[ACK[1]]["ipv4"], "port": ACK[2]}) \
            if ACK[0] in hosts and ACK[1] in hosts else None
    finally:
        agents.stop()

    bad = 0
    print(f"{BOLD}{'from':<10} {'to':<10} {'service':<15} {'observed':<9} "
          f"{'zonectl explain (the oracle)':<48} what it shows{END}")
    for i, (s, d, fam, proto, port, what) in enumerate(rows):
        ex = explain(a.zonectl, a.matrix, hosts[s][f"ipv{fam}"], hosts[d][f"ipv{fam}"], proto, port)
        # passed: the request got to the server and its answer came back;
        # blocked: nothing came back. A refusal or an error means the
        # packet got somewhere: neither, and never as the matrix says.
        got = res.get(i, "missing")
        passed, blocked = got == "ok", got == "timeout"
        agree = (passed and ex.startswith("allow")) or (blocked and ex.startswith("deny"))
        bad += not agree
        svc = f"{'icmpv6' if proto == 'icmp' and fam == 6 else proto}/{port}" + (" v6" if fam == 6 else "")
        obs = f"{GREEN}passed{END}  " if passed else f"{RED}blocked{END} " if blocked else \
            f"{RED}{got.split()[0][:8]:<8}{END}"
        mark = "" if agree else f"  {RED}<-- DISAGREES WITH THE ORACLE ({got}){END}"
        print(f"{s:<10} {d:<10} {svc:<15} {obs:<9} {ex[:48]:<48} {DIM}{what}{END}{mark}")
    if ack is not None:
        s, d, port = ACK
        ex = explain(a.zonectl, a.matrix, hosts[s]["ipv4"], hosts[d]["ipv4"], "tcp", port)
        silent = ack.get("answer") == "silent"
        obs = f"{GREEN}blocked{END} " if silent else f"{RED}passed{END}  "
        print(f"{s:<10} {d:<10} {'tcp ACK/' + str(port):<15} {obs:<9} "
              f"{ex[:48]:<48} {DIM}a bare ACK of it: no connection, state drops it{END}"
              f"{'' if silent else '  ' + RED + '<-- A SEGMENT WITHOUT CONNECTION PASSED' + END}")
        bad += not silent
    print(f"\n{len(rows) + (ack is not None)} checks, "
          f"{'all as the matrix says' if not bad else f'{bad} disagree'}")
    return 1 if bad else 0


def cut(a):
    import yaml
    plan = lab_plan(a.lab)
    hosts = {h["name"]: h for h in plan["hosts"]}
    src, dst, port = "ops-1", "jump-1", 22
    agents = Agents({"hosts": [hosts[src], hosts[dst]]})
    try:
        agents.call(dst, {"op": "listen", "tcp": [port]})
        r = agents.call(src, {"op": "hold", "id": 1, "dst": hosts[dst]["ipv4"], "port": port})
        if not r.get("ok"):
            print(f"cannot open the ssh connection ops-1 -> jump-1: {r}")
            return 1
        print(f"live connection {src} -> {dst} tcp/{port} (flow {a.flow}) open; echoing every 0.5 s:")
        for _ in range(3):
            r = agents.call(src, {"op": "ping_held", "id": 1, "timeout": 1})
            print(f"  {time.strftime('%H:%M:%S')}  {'echo answered' if r.get('ok') else 'NO ANSWER'}")
            time.sleep(0.5)
        with open(a.matrix) as f:
            y = yaml.safe_load(f)
        y["flows"] = [f for f in y["flows"] if f.get("id") != a.flow]
        reason = f"Remove {a.flow}: workstations now reach jump hosts through the VPN only (demo)"
        with tempfile.TemporaryDirectory(prefix="zwdemo") as tmp:
            new = os.path.join(tmp, "matrix-without-" + a.flow + ".yaml")
            with open(new, "w") as f:
                yaml.safe_dump(y, f, sort_keys=False)
            print(f"\n$ zonectl commit {os.path.basename(new)} -m \"{reason}\"")
            r = subprocess.run([a.zonectl, "--socket", a.socket, "commit", new, "-m", reason],
                               capture_output=True, text=True)
        print("  " + (r.stdout + r.stderr).strip().replace("\n", "\n  "))
        committed = r.returncode == 0
        cut_ok = True
        for _ in range(3):
            r = agents.call(src, {"op": "ping_held", "id": 1, "timeout": 1})
            # cut: the echo is dropped, nothing comes back (a reset or a
            # close would mean the packets got to the server)
            err = r.get("error") or "timeout"
            print(f"  {time.strftime('%H:%M:%S')}  "
                  f"{'echo answered' if r.get('ok') else 'no answer: connection cut' if err == 'timeout' else 'connection ' + err}")
            cut_ok &= not r.get("ok") and err == "timeout"
        r = agents.call(src, {"op": "probe", "timeout": 1,
                              "probes": [{"id": 2, "kind": "tcp", "dst": hosts[dst]["ipv4"],
                                          "port": port}]})
        fresh = r["results"]["2"]
        print(f"  new connection {src} -> {dst} tcp/{port}: "
              f"{'blocked' if fresh == 'timeout' else 'PASSED' if fresh == 'ok' else fresh}")
        print(f"\n$ zonectl journal --flow {a.flow}")
        r = subprocess.run([a.zonectl, "--socket", a.socket, "journal", "--flow", a.flow],
                           capture_output=True, text=True)
        print("  " + r.stdout.strip().replace("\n", "\n  "))
        print(f"\n$ zonectl rules --deleted-within 1    # (the {a.flow} entry: L1's list, "
              f"with the nftables rules it was)")
        r = subprocess.run([a.zonectl, "--socket", a.socket, "rules", "--deleted-within", "1"],
                           capture_output=True, text=True)
        block, on = [], False
        for line in r.stdout.splitlines():
            if line.startswith(a.flow + " "):
                on = True
            elif on and line and not line[0].isspace():
                break
            if on:
                block.append(line)
        print("  " + "\n  ".join(block))
        return 0 if committed and cut_ok and fresh == "timeout" else 1
    finally:
        agents.stop()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("cmd", choices=["table", "cut"])
    ap.add_argument("--lab", required=True)
    ap.add_argument("--matrix", required=True)
    ap.add_argument("--zonectl", required=True)
    ap.add_argument("--socket")
    ap.add_argument("--flow", default="OPS-001")
    a = ap.parse_args()
    try:
        return table(a) if a.cmd == "table" else cut(a)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
