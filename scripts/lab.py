#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""zonewall netns lab: one network namespace per host of each zone of a
matrix (plus hosts in `outside`), every host on its own veth to one
appliance namespace that routes between them. See docs/lab.md.

    lab.py up MATRIX [--engine nft|xdp|dpdk|none] [--prefix TAG] [--hosts N]
                     [--apply] [--collector] [--builddir DIR]
    lab.py down [MATRIX] [--prefix TAG]
    lab.py status [MATRIX] [--prefix TAG] [--json]
    lab.py collector [--prefix TAG] [--settle S] [--nfdump-format FMT]

--collector adds a flow collector namespace TAG-col, linked to the
appliance (169.254.200.1 there, 169.254.200.2 in it), running nfcapd for
NetFlow v9/NSEL on udp/2055 and a tcpdump capture of IPFIX on udp/4739 (a
socat sink listens there, so the exporter is not told "port unreachable").
zonewalld in the appliance namespace then exports with
`--ipfix nsel+udp://169.254.200.2:2055 --ipfix udp://169.254.200.2:4739`
(the URLs are in `status --json`, "collector"). `collector` prints what the
collector received so far: nfcapd is restarted to close its file (it has no
other way to flush; datagrams of those few milliseconds are lost), then
`nfdump -R DIR -o nsel` (or FMT) over every file, and the capture's IPFIX
message count.

Every name the lab creates starts with TAG (default zwlab): namespaces
TAG-app and TAG-<zone>-<n>, state file /run/zonewall-lab/TAG.json.
`down` removes every namespace whose name starts with TAG- (and the
processes in them), whether `up` finished or not. `--apply` also runs the
nft engine's L7 inspector, zw-inspect, in TAG-app (the engine queues the
connections of `inspect:` services to it; without it they are dropped),
its image and log at /run/zonewall-lab/TAG.img and TAG.inspect.log.
"""
import argparse
import ipaddress
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

STATE_DIR = "/run/zonewall-lab"
# the collector link (--collector): appliance side, collector side
COL_APP4, COL4 = "169.254.200.1", "169.254.200.2"
NSEL_PORT, IPFIX_PORT = 2055, 4739
GW4 = "169.254.0.1"  # the appliance on every host link
GW6 = "fe80::1"

# Addresses for hosts of `outside`: the first candidate of these pools
# that no zone declares.
OUTSIDE4 = ["198.51.100.0/24", "203.0.113.0/24", "192.0.2.0/24",
            "100.64.0.0/10", "172.16.0.0/12", "11.0.0.0/8"]
OUTSIDE6 = ["2001:db8:ffff::/48", "2001:db8:fffe::/48", "2001:db9::/32"]


def die(msg, code=3):
    print(f"lab: {msg}", file=sys.stderr)
    sys.exit(code)


def run(cmd, input=None, check=True):
    r = subprocess.run(cmd, input=input, text=True, capture_output=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {r.stderr.strip() or r.stdout.strip()}")
    return r


# ---------------------------------------------------------------- matrix

def find_zonectl(builddir):
    for d in [builddir, os.environ.get("ZONEWALL_BUILDDIR"),
              os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build")]:
        if d and os.access(os.path.join(d, "control", "zonectl"), os.X_OK):
            return os.path.join(d, "control", "zonectl")
    return shutil.which("zonectl")


def load_matrix(path, builddir=None):
    """zones [{name, kind, networks, isolate}] and flows [{id, from, to,
    src, dst}], from `zonectl show --format json` when it can, else from
    the YAML itself."""
    zonectl = find_zonectl(builddir)
    if zonectl:
        r = subprocess.run([zonectl, "show", path, "--format", "json"],
                           capture_output=True, text=True)
        if r.returncode == 0:
            try:
                m = json.loads(r.stdout)
                if isinstance(m.get("zones"), list):
                    return normalize(m)
            except ValueError:
                pass
    try:
        import yaml
    except ImportError:
        die("need zonectl show --format json or python3-yaml to read the matrix")
    with open(path) as f:
        y = yaml.safe_load(f)
    zones = [{"name": n, "kind": z.get("kind"), "networks": z.get("networks", []),
              "isolate": bool(z.get("isolate", False))}
             for n, z in (y.get("zones") or {}).items()]
    return normalize({"name": y.get("name"), "zones": zones,
                      "flows": y.get("flows") or []})


def normalize(m):
    zones = []
    for z in m["zones"]:
        if z["name"] == "outside":
            continue
        zones.append({"name": z["name"], "kind": z.get("kind"),
                      "networks": [str(n) for n in z.get("networks", [])],
                      "isolate": bool(z.get("isolate", False))})
    flows = []
    for f in m.get("flows", []):
        flows.append({"id": str(f.get("id")), "from": f.get("from"), "to": f.get("to"),
                      "src": [str(a) for a in (f.get("src") or [])],
                      "dst": [str(a) for a in (f.get("dst") or [])]})
    return {"name": m.get("name"), "zones": zones, "flows": flows}


# ---------------------------------------------------------------- plan

def first_host(net):
    if net.num_addresses <= 2:
        return net.network_address
    return net.network_address + 1


def zone_plan(zone, flows, declared, n_hosts):
    """Addresses for the hosts of one zone, per family: the first host on
    an address some flow narrows to (if any), the others on addresses no
    narrowing names, so both sides of a narrowing edge get exercised."""
    name = zone["name"]
    hosts = [dict() for _ in range(n_hosts)]
    for fam in (4, 6):
        if name == "outside":
            pool = OUTSIDE4 if fam == 4 else OUTSIDE6
            nets = [ipaddress.ip_network(p) for p in pool]
            nets = [n for n in nets if not any(n.overlaps(d) for d in declared
                                                 if d.version == fam)] or nets
        else:
            nets = [ipaddress.ip_network(n) for n in zone["networks"]]
            nets = [n for n in nets if n.version == fam]
        if not nets:
            continue
        narrowed = []
        for f in flows:
            for key, end in (("src", "from"), ("dst", "to")):
                if f[end] != name:
                    continue
                for a in f[key]:
                    n = ipaddress.ip_network(a, strict=False)
                    if n.version == fam:
                        narrowed.append(n)
        used = set()
        cand = []
        if narrowed:
            a = first_host(narrowed[0])
            if name != "outside" or not any(a in d for d in declared):
                cand.append(a)
        for i in range(4096):
            net = nets[i % len(nets)]
            off = 10 + i // len(nets)
            if off >= net.num_addresses:
                off = i // len(nets) % net.num_addresses
            a = net.network_address + off
            if any(a in n for n in narrowed):
                continue
            if name == "outside" and any(a in d for d in declared):
                continue
            cand.append(a)
            if len(cand) >= n_hosts * 2:
                break
        # narrowings naming every address of the zone's networks: the
        # other hosts go on the narrowed side too rather than nowhere
        if len(set(cand)) < n_hosts:
            for net in nets:
                for off in range(min(net.num_addresses, n_hosts * 2)):
                    a = net.network_address + off
                    if name != "outside" or not any(a in d for d in declared):
                        cand.append(a)
        for h in hosts:
            for a in cand:
                if a not in used:
                    used.add(a)
                    h[f"ipv{fam}"] = str(a)
                    break
    return hosts


def make_plan(m, prefix, engine, min_hosts, matrix_path):
    declared = [ipaddress.ip_network(n) for z in m["zones"] for n in z["networks"]]
    zones = m["zones"] + [{"name": "outside", "networks": [], "isolate": False}]
    hosts = []
    for z in zones:
        n = max(min_hosts, 2 if (z["isolate"] or z["name"] == "outside") else 1)
        for i, addr in enumerate(zone_plan(z, m["flows"], declared, n)):
            if not addr:
                continue
            idx = len(hosts)
            h = {"name": f"{z['name']}-{i + 1}", "zone": z["name"],
                 "ns": f"{prefix}-{z['name']}-{i + 1}", "index": idx,
                 "iface": f"h{idx}", "host_iface": "eth0"}
            h.update(addr)
            if engine == "dpdk":
                h["dpdk_pair"] = [f"z{idx}", f"r{idx}"]
            hosts.append(h)
    return {"prefix": prefix, "engine": engine, "matrix": os.path.abspath(matrix_path),
            "matrix_name": m.get("name"), "appliance": f"{prefix}-app",
            "gateway4": GW4, "gateway6": GW6, "hosts": hosts}


# ---------------------------------------------------------------- up/down

def state_path(prefix):
    return os.path.join(STATE_DIR, f"{prefix}.json")


def lab_namespaces(prefix):
    r = run(["ip", "netns", "list"], check=False)
    out = []
    for line in r.stdout.splitlines():
        name = line.split()[0] if line.split() else ""
        if name.startswith(prefix + "-"):
            out.append(name)
    return out


def down(prefix):
    # the inspector of --apply, in the appliance namespace, ends with it
    for name in (f"{prefix}.img", f"{prefix}.inspect.log"):
        try:
            os.unlink(os.path.join(STATE_DIR, name))
        except FileNotFoundError:
            pass
    # The collector's nfcapd first, with SIGTERM: it then releases its
    # bookkeeping (shared memory keyed by its directory). Killed with
    # SIGKILL it leaves it naming its pid, and while that pid is an
    # unreaped zombie the next lab's nfcapd on the same directory refuses
    # to start ("another collector ... is already running").
    try:
        with open(state_path(prefix)) as f:
            pid = (json.load(f).get("collector") or {}).get("pids", {}).get("nfcapd")
    except (OSError, ValueError, AttributeError):
        pid = None
    if pid:
        stop_quietly(pid)
    # A few rounds: an `ip netns add` of an interrupted `up` may still be
    # finishing when the first round looks.
    for attempt in range(20):
        for ns in lab_namespaces(prefix):
            pids = run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for p in pids:
                try:
                    os.kill(int(p), 9)
                except (ProcessLookupError, ValueError):
                    pass
            run(["ip", "netns", "delete", ns], check=False)
        if not lab_namespaces(prefix):
            break
        time.sleep(0.1)
    try:
        os.unlink(state_path(prefix))
    except FileNotFoundError:
        pass
    shutil.rmtree(collector_dir(prefix), ignore_errors=True)
    left = lab_namespaces(prefix)
    if left:
        die(f"could not remove {' '.join(left)}")


SYSCTL_HOST = ["net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0",
               "net.ipv6.conf.all.forwarding=0"]
SYSCTL_APP = ["net.ipv4.ip_forward=1", "net.ipv6.conf.all.forwarding=1",
              "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0",
              "net.ipv6.conf.all.accept_dad=0", "net.ipv6.conf.default.accept_dad=0"]


def up(plan):
    app = plan["appliance"]
    for ns in [app] + [h["ns"] for h in plan["hosts"]]:
        run(["ip", "netns", "add", ns])
    run(["ip", "netns", "exec", app, "sysctl", "-qw"] + SYSCTL_APP)
    for h in plan["hosts"]:
        run(["ip", "netns", "exec", h["ns"], "sysctl", "-qw"] + SYSCTL_HOST)

    # links and the appliance side, in one batch
    b = ["link set lo up"]
    for h in plan["hosts"]:
        i = h["index"]
        if plan["engine"] == "dpdk":
            # host eth0 <-> z<i> (DPDK port) ... r<i> (DPDK port) <-> h<i>
            b.append(f"link add z{i} type veth peer name eth0 netns {h['ns']}")
            b.append(f"link add r{i} type veth peer name h{i}")
            b.append(f"link set z{i} up")
            b.append(f"link set r{i} up")
        else:
            b.append(f"link add h{i} type veth peer name eth0 netns {h['ns']}")
        b.append(f"link set h{i} up")
        b.append(f"addr add {GW4}/32 dev h{i}")
        b.append(f"addr add {GW6}/64 dev h{i} nodad")
        if "ipv4" in h:
            b.append(f"route add {h['ipv4']}/32 dev h{i}")
        if "ipv6" in h:
            b.append(f"route add {h['ipv6']}/128 dev h{i}")
    run(["ip", "-n", app, "-batch", "-"], input="\n".join(b) + "\n")

    for h in plan["hosts"]:
        b = ["link set lo up", "link set eth0 up"]
        if "ipv4" in h:
            b += [f"addr add {h['ipv4']}/32 dev eth0",
                  f"route add {GW4}/32 dev eth0 scope link",
                  f"route add default via {GW4} dev eth0 src {h['ipv4']}"]
        if "ipv6" in h:
            b += [f"addr add {h['ipv6']}/128 dev eth0 nodad",
                  f"route add default via {GW6} dev eth0"]
        run(["ip", "-n", h["ns"], "-batch", "-"], input="\n".join(b) + "\n")
    ethtool = shutil.which("ethtool") or next(
        (p for p in ("/usr/sbin/ethtool", "/sbin/ethtool") if os.access(p, os.X_OK)), None)
    if plan["engine"] == "dpdk" and ethtool:
        # af_packet sees frames as the kernel left them: no checksum
        # offload on the links the DPDK ports bridge.
        for h in plan["hosts"]:
            for ns, dev in ((h["ns"], "eth0"), (app, f"h{h['index']}"),
                            (app, f"z{h['index']}"), (app, f"r{h['index']}")):
                run(["ip", "netns", "exec", ns, ethtool, "-K", dev, "tx", "off"], check=False)


# ---------------------------------------------------------------- collector

def collector_dir(prefix):
    return os.path.join(STATE_DIR, f"{prefix}-collector")


def collector_plan(plan):
    declared = [ipaddress.ip_network(n) for h in plan["hosts"] for n in
                ([h["ipv4"] + "/32"] if "ipv4" in h else [])]
    link = ipaddress.ip_network("169.254.200.0/30")
    if any(link.overlaps(d) for d in declared):
        die("--collector: a host of the lab is in 169.254.200.0/30, the collector link")
    d = collector_dir(plan["prefix"])
    return {"ns": f"{plan['prefix']}-col", "address": COL4, "appliance_address": COL_APP4,
            "appliance_iface": "hcol", "dir": d, "nfcapd_dir": os.path.join(d, "nfcapd"),
            "pcap": os.path.join(d, "ipfix.pcap"),
            "nsel_url": f"nsel+udp://{COL4}:{NSEL_PORT}",
            "ipfix_url": f"udp://{COL4}:{IPFIX_PORT}", "pids": {}}


def spawn(c, name, cmd):
    log = open(os.path.join(c["dir"], f"{name}.log"), "w")
    # `ip netns exec` execs the command: the pid is the collector's own
    p = subprocess.Popen(["ip", "netns", "exec", c["ns"]] + cmd, stdin=subprocess.DEVNULL,
                         stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    c["pids"][name] = p.pid
    return p


def listening(c, proto, port):
    r = run(["ip", "netns", "exec", c["ns"], "ss", "-Hln", f"-{proto[0]}", f"sport = :{port}"],
            check=False)
    return bool(r.stdout.strip())


def start_nfcapd(c):
    # up to three attempts: an nfcapd that exits at once (seen once, right
    # after another lab's collector went down) is started again
    for _ in range(3):
        p = spawn(c, "nfcapd", ["nfcapd", "-w", c["nfcapd_dir"], "-b", c["address"],
                                "-p", str(NSEL_PORT), "-t", "3600"])
        for _ in range(100):
            if listening(c, "udp", NSEL_PORT):
                return
            if p.poll() is not None:
                break
            time.sleep(0.05)
        if p.poll() is None:
            break  # running but not listening after 5 s: give up
        time.sleep(0.2)
    try:
        tail = open(os.path.join(c["dir"], "nfcapd.log")).read()[-400:].strip()
    except OSError:
        tail = ""
    raise RuntimeError(f"nfcapd did not start: {tail or 'no output'}")


def collector_up(plan):
    c = plan["collector"]
    for tool in ("nfcapd", "nfdump", "tcpdump", "socat"):
        if not shutil.which(tool):
            raise RuntimeError(f"--collector needs {tool} (scripts/deps.sh installs it)")
    os.makedirs(c["nfcapd_dir"], exist_ok=True)
    run(["ip", "netns", "add", c["ns"]])
    run(["ip", "-n", plan["appliance"], "-batch", "-"], input="\n".join([
        f"link add hcol type veth peer name eth0 netns {c['ns']}",
        "link set hcol up", f"addr add {COL_APP4}/30 dev hcol"]) + "\n")
    run(["ip", "-n", c["ns"], "-batch", "-"], input="\n".join([
        "link set lo up", "link set eth0 up", f"addr add {COL4}/30 dev eth0"]) + "\n")
    start_nfcapd(c)
    p = spawn(c, "tcpdump", ["tcpdump", "-Z", "root", "-i", "eth0", "-U", "-n", "-w", c["pcap"],
                             "udp", "port", str(IPFIX_PORT)])
    for _ in range(100):
        with open(os.path.join(c["dir"], "tcpdump.log")) as f:
            if "listening on" in f.read():
                break
        if p.poll() is not None:
            raise RuntimeError(f"tcpdump did not start (see {c['dir']}/tcpdump.log)")
        time.sleep(0.05)
    spawn(c, "sink", ["socat", "-u", f"UDP4-RECV:{IPFIX_PORT},bind={COL4}", "/dev/null"])
    for _ in range(100):
        if listening(c, "udp", IPFIX_PORT):
            break
        time.sleep(0.05)
    else:
        raise RuntimeError("the IPFIX sink (socat) did not start")


def stop_quietly(pid):
    """SIGTERM, then wait (up to 10 s) until the process is gone or a
    zombie its (gone) parent will never reap."""
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(200):
            os.kill(pid, 0)
            with open(f"/proc/{pid}/stat") as f:
                if f.read().split(") ")[1].startswith("Z"):
                    return
            time.sleep(0.05)
    except (ProcessLookupError, FileNotFoundError, IndexError):
        pass


def collector_show(plan, settle, fmt):
    c = plan.get("collector")
    if not c:
        die(f"lab {plan['prefix']} has no collector (lab.sh up ... --collector)", 1)
    time.sleep(settle)
    pid = c["pids"].get("nfcapd")
    if pid:
        stop_quietly(pid)
    start_nfcapd(c)
    with open(state_path(plan["prefix"]), "w") as f:
        json.dump(plan, f, indent=1)
    # fmt: output is for programs: IPv6 addresses in full (-6)
    r = run(["nfdump"] + (["-6"] if fmt.startswith("fmt:") else []) +
            ["-R", c["nfcapd_dir"], "-O", "tstart", "-o", fmt], check=False)
    out = r.stdout.rstrip("\n")
    records = len(re.findall(r"^\s*\d{4}-\d\d-\d\d ", out, re.M))
    if r.returncode != 0 and not records:
        # no file closed yet, or nfdump refused the format
        out = (r.stderr or r.stdout).strip()
    if out:
        print(out)
    n = run(["tcpdump", "-n", "-r", c["pcap"]], check=False).stdout.count("\n")
    print(f"# nfcapd (NetFlow v9/NSEL, {c['nsel_url']}): {records} record(s); "
          f"IPFIX capture ({c['ipfix_url']}): {n} message(s) in {c['pcap']}")
    return records


def apply_nft(plan, builddir):
    tool = None
    for d in [builddir, os.environ.get("ZONEWALL_BUILDDIR"),
              os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "build")]:
        if d and os.access(os.path.join(d, "dataplane", "nft", "zw-nft-apply"), os.X_OK):
            tool = os.path.join(d, "dataplane", "nft", "zw-nft-apply")
            break
    if not tool:
        die("zw-nft-apply not found (build first, or pass --builddir)")
    inspector = os.path.join(os.path.dirname(tool), "zw-inspect")
    if not os.access(inspector, os.X_OK):
        die(f"{inspector} not built: the services with inspect: would be dropped")
    image = os.path.join(STATE_DIR, f"{plan['prefix']}.img")
    r = run(["ip", "netns", "exec", plan["appliance"], tool, "--l7",
             f"inspect_image={image}", plan["matrix"]], check=False)
    if r.returncode != 0:
        die(f"applying the matrix with the nft engine: {r.stderr.strip()}")
    print(r.stdout.strip())
    # the inspector lives in the appliance namespace: `down` ends it
    log_path = os.path.join(STATE_DIR, f"{plan['prefix']}.inspect.log")
    with open(log_path, "a") as log:
        p = subprocess.Popen(["ip", "netns", "exec", plan["appliance"], inspector,
                              "--queue", "23", "--image", image],
                             stdout=log, stderr=log, stdin=subprocess.DEVNULL,
                             start_new_session=True)
    for _ in range(100):
        with open(log_path) as f:
            if "listening on NFQUEUE" in f.read():
                return
        if p.poll() is not None:
            break
        time.sleep(0.05)
    with open(log_path) as f:
        raise RuntimeError(f"zw-inspect did not start: {f.read().strip()}")


def print_status(plan, as_json):
    if as_json:
        json.dump(plan, sys.stdout, indent=1)
        print()
        return
    print(f"lab {plan['prefix']}: matrix {plan['matrix_name']} ({plan['matrix']}), "
          f"engine {plan['engine']}, appliance namespace {plan['appliance']}")
    print(f"{'host':<18} {'namespace':<28} {'iface':<8} {'ipv4':<16} ipv6")
    for h in plan["hosts"]:
        iface = h["iface"] if "dpdk_pair" not in h else \
            f"{h['iface']}({h['dpdk_pair'][0]}:{h['dpdk_pair'][1]})"
        print(f"{h['name']:<18} {h['ns']:<28} {iface:<8} {h.get('ipv4', '-'):<16} "
              f"{h.get('ipv6', '-')}")
    c = plan.get("collector")
    if c:
        print(f"collector          {c['ns']:<28} {c['appliance_iface']:<8} {c['address']:<16} "
              f"nfcapd {c['nsel_url']}, IPFIX capture {c['ipfix_url']}")


def main():
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(prog="lab.sh", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["up", "down", "status", "collector"])
    ap.add_argument("matrix", nargs="?")
    ap.add_argument("--engine", choices=["nft", "xdp", "dpdk", "none"], default="none")
    ap.add_argument("--prefix", default="zwlab")
    ap.add_argument("--hosts", type=int, default=1,
                    help="hosts per zone at least (isolated zones and outside get 2)")
    ap.add_argument("--apply", action="store_true",
                    help="with --engine nft: enforce the matrix with zw-nft-apply")
    ap.add_argument("--collector", action="store_true",
                    help="up: a collector namespace (nfcapd NSEL, IPFIX capture)")
    ap.add_argument("--settle", type=float, default=0,
                    help="collector: wait S seconds first (the exporter's pace)")
    ap.add_argument("--nfdump-format", default="nsel",
                    help="collector: nfdump -o FORMAT (default nsel)")
    ap.add_argument("--builddir")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    # no '-': it separates the tag from the rest of each name, and `down`
    # removes every TAG-* namespace (TAG "a" would take lab "a-b"'s)
    if not a.prefix.replace("_", "").isalnum() or not a.prefix.isascii() or \
            len(a.prefix) > 24:
        die("--prefix: letters, digits and _ only, at most 24", 2)

    if a.cmd == "down":
        if os.geteuid() != 0 and lab_namespaces(a.prefix):
            die("down needs root (network namespaces)")
        down(a.prefix)
        return
    if a.cmd in ("status", "collector"):
        try:
            with open(state_path(a.prefix)) as f:
                plan = json.load(f)
        except FileNotFoundError:
            left = lab_namespaces(a.prefix)
            die(f"no lab {a.prefix}" + (f" (stray namespaces: {' '.join(left)})" if left else ""), 1)
        if a.cmd == "collector":
            if os.geteuid() != 0:
                die("collector needs root (network namespaces)")
            collector_show(plan, a.settle, a.nfdump_format)
            return
        print_status(plan, a.json)
        return

    if os.geteuid() != 0:
        die("up needs root (network namespaces)")
    if not a.matrix:
        die("up needs a MATRIX", 2)
    if a.apply and a.engine != "nft":
        die("--apply only drives the nft engine", 2)
    if lab_namespaces(a.prefix):
        die(f"lab {a.prefix} already exists: lab.sh down --prefix {a.prefix} first", 1)
    plan = make_plan(load_matrix(a.matrix, a.builddir), a.prefix, a.engine,
                     a.hosts, a.matrix)
    if a.collector:
        plan["collector"] = collector_plan(plan)
    # From the first namespace on, whatever ends `up` early (an error, a
    # failed --apply, Ctrl-C, SIGTERM) removes what it made.
    try:
        up(plan)
        os.makedirs(STATE_DIR, exist_ok=True)
        if a.collector:
            collector_up(plan)
        with open(state_path(a.prefix), "w") as f:
            json.dump(plan, f, indent=1)
        if a.apply:
            apply_nft(plan, a.builddir)
    except BaseException as e:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        down(a.prefix)
        if isinstance(e, (RuntimeError, OSError)):
            die(f"up failed, lab removed: {e}")
        if isinstance(e, KeyboardInterrupt):
            die("interrupted, lab removed", 130)
        if isinstance(e, SystemExit) and e.code == 143:
            die("terminated, lab removed", 143)
        print("lab: up failed, lab removed", file=sys.stderr)
        raise
    print_status(plan, a.json)


if __name__ == "__main__":
    main()
