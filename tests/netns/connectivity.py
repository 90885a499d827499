#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""netns connectivity test, shared by every engine (--engine nft|xdp|dpdk).

For each matrix: bring up the lab (scripts/lab.sh), enforce the matrix with
the engine (tests/netns/engine_<name>.py), start an agent in every host
namespace (echo servers on every port the matrix uses), then:
  1. every (zone pair, service) probe the reference evaluator allows
     connects AND its answer comes back; every one it denies does not;
  2. unsolicited TCP segments (bare ACK) of an allowed service do not
     pass; a SYN of the same service does (control); IPv6 extension
     headers: a SYN of an allowed service passes behind benign ones, an
     AH-wrapped one is judged as protocol 51 (as every engine's parser
     says), a routing header of type 0 and a misplaced hop-by-hop header
     are dropped (seen or not at the destination's link);
  3. removing a flow cuts its live connection at the next packet, and
     leaves a connection of another flow alone;
  4. a policy the engine refuses (invalid matrix; a failure injected into
     the engine's transaction) leaves enforcement unchanged: same image
     SHA-256 read back, the live connection still passes.
With --daemon the policy goes through zonewalld/zonectl instead, and
kill -9 of the daemon must leave enforcement unchanged.

Exit 0 all passed, 1 something failed, 77 cannot run here (why printed).
"""
import argparse
import importlib
import json
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
SKIP = 77
PORT_PROTOS = {6: "tcp", 17: "udp"}


class Failures:
    def __init__(self):
        self.n = 0

    def check(self, ok, what):
        if not ok:
            self.n += 1
            print(f"FAIL: {what}")
        return ok


def sh(cmd, input=None, check=True):
    r = subprocess.run(cmd, input=input, capture_output=True, text=True)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)}: {(r.stderr or r.stdout).strip()}")
    return r


class Ctx:
    pass


T0 = time.time()


def tlog(what):
    if os.environ.get("ZW_NETNS_VERBOSE"):
        print(f"  [{time.time() - T0:6.1f}s] {what}")


class Agents:
    def __init__(self, plan):
        self.p = {}
        for h in plan["hosts"]:
            self.p[h["name"]] = subprocess.Popen(
                ["ip", "netns", "exec", h["ns"], "/usr/bin/python3",
                 os.path.join(HERE, "agent.py")],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)

    def call_all(self, cmds):
        """{host: cmd} -> {host: answer}; all agents work at once."""
        for h, c in cmds.items():
            self.p[h].stdin.write(json.dumps(c) + "\n")
            self.p[h].stdin.flush()
        out = {}
        for h in cmds:
            line = self.p[h].stdout.readline()
            if not line:
                raise RuntimeError(f"agent {h} died")
            out[h] = json.loads(line)
        return out

    def call(self, host, cmd):
        return self.call_all({host: cmd})[host]

    def stop(self):
        for p in self.p.values():
            try:
                p.stdin.write('{"op": "quit"}\n')
                p.stdin.flush()
            except (BrokenPipeError, OSError):
                pass
        for p in self.p.values():
            try:
                p.wait(timeout=3)
            except subprocess.TimeoutExpired:
                p.kill()


def oracle_rules(oracle, policy):
    rules = []
    for line in sh([oracle, "rules", policy]).stdout.splitlines():
        f, t, proto, lo, hi, any_, svc, flow = line.split()
        rules.append({"from": f, "to": t, "proto": int(proto), "lo": int(lo),
                      "hi": int(hi), "any": any_ == "1", "service": svc, "flow": flow})
    return rules


def candidates(rules):
    """(proto, port) to try, per zone pair, from the rules: range edges and
    one step outside them; ICMP echo; protocols without ports."""
    per = {}
    for r in rules:
        c = per.setdefault((r["from"], r["to"]), set())
        p = r["proto"]
        if p in PORT_PROTOS and not r["any"]:
            for port in {r["lo"], r["hi"], r["lo"] - 1, r["hi"] + 1}:
                if 0 < port < 65536:
                    c.add((p, port))
        elif p in (1, 58):
            c.add((p, 8 if p == 1 else 128))
        elif p not in PORT_PROTOS and p != 132:
            c.add((p, None))
    return per


def query_words(kind_proto, port):
    if kind_proto == 1:
        return "icmp 8"
    if kind_proto == 58:
        return "icmpv6 128"
    if kind_proto in PORT_PROTOS:
        return f"{PORT_PROTOS[kind_proto]} {port}"
    return f"{kind_proto}"


def probe_kind(proto):
    if proto in PORT_PROTOS:
        return PORT_PROTOS[proto]
    if proto in (1, 58):
        return "icmp"
    return "raw"


def plan_probes(plan, rules, full, rng):
    """Probes (src host, dst host, family, proto, port) covering every zone
    pair: the pair's own services plus services of the whole matrix."""
    per = candidates(rules)
    union = sorted(set().union(*per.values())) if per else []
    union = sorted(set(union) | {(6, 22), (6, 443), (17, 53), (1, 8), (58, 128)},
                   key=lambda x: (x[0], x[1] or 0))
    by_zone = {}
    for h in plan["hosts"]:
        by_zone.setdefault(h["zone"], []).append(h)
    probes = []
    for za, ha in by_zone.items():
        for zb, hb in by_zone.items():
            pairs = [(ha[0], hb[0])] if za != zb else \
                [(ha[i], ha[j]) for i in range(len(ha)) for j in range(len(ha)) if i != j][:2]
            own = per.get((za, zb), set())
            if full or len(union) <= 24:
                cand = set(union) | own
            else:
                cand = own | set(rng.sample(union, 10))
            for a, b in pairs:
                for fam in (4, 6):
                    k = f"ipv{fam}"
                    if k not in a or k not in b:
                        continue
                    for proto, port in sorted(cand, key=lambda x: (x[0], x[1] or 0)):
                        if proto == 1 and fam != 4 or proto == 58 and fam != 6:
                            continue
                        # in IPv6, AH is an extension header: a raw
                        # socket's payload is no AH header (step 2b
                        # sends real ones)
                        if proto == 51 and fam == 6:
                            continue
                        probes.append({"src": a["name"], "dst": b["name"], "addr": b[k],
                                       "saddr": a[k], "proto": proto, "port": port})
    for i, p in enumerate(probes):
        p["id"] = i
    return probes


def ask_oracle(oracle, policy, probes):
    lines = "".join(f"{p['saddr']} {p['addr']} {query_words(p['proto'], p['port'])}\n"
                    for p in probes)
    out = sh([oracle, "explain", policy], input=lines).stdout.splitlines()
    if len(out) != len(probes):
        raise RuntimeError("oracle answered a different number of questions")
    for p, o in zip(probes, out):
        w = o.split()
        if w[0] == "error":
            raise RuntimeError(f"oracle: {o}")
        p["allow"] = w[0] == "allow"
        p["flow"] = w[1]
        p["reason"] = w[2]
        # the protocol the connection must speak (inspect:), None if free
        p["l7"] = w[3] if len(w) > 3 and w[3] != "-" else None


def cross_check_zonectl(zonectl, policy, probes, rng, fail):
    """zw-oracle must say what `zonectl explain` says (first word)."""
    for p in rng.sample(probes, min(25, len(probes))):
        r = sh([zonectl, "explain", policy, p["saddr"], p["addr"]] +
               query_words(p["proto"], p["port"]).split(), check=False)
        word = r.stdout.split()[0] if r.stdout.split() else "?"
        fail.check(word == ("allow" if p["allow"] else "deny"),
                   f"zonectl explain disagrees with zw-oracle on {p}: {r.stdout.strip()}")


def run_probes(agents, probes, timeout=1.5):
    by_src = {}
    for p in probes:
        by_src.setdefault(p["src"], []).append(
            {"id": p["id"], "kind": probe_kind(p["proto"]), "dst": p["addr"],
             "port": p["port"] if p["proto"] in PORT_PROTOS else p["proto"],
             "l7": p.get("l7")})
    res = agents.call_all({h: {"op": "probe", "timeout": timeout, "probes": v}
                           for h, v in by_src.items()})
    out = {}
    for h, r in res.items():
        if "results" not in r:
            raise RuntimeError(f"agent {h}: {r}")
        out.update({int(k): v for k, v in r["results"].items()})
    return out


def describe(p):
    return (f"{p['src']} -> {p['dst']} ({p['saddr']} -> {p['addr']}) "
            f"{query_words(p['proto'], p['port'])}: oracle {'allow' if p['allow'] else 'deny'} "
            f"{p['flow']} {p['reason']}")


def check_probes(probes, results, fail, label):
    n_ok = 0
    for p in probes:
        got = results.get(p["id"], "missing")
        good = got == "ok" if p["allow"] else got == "timeout"
        if fail.check(good, f"{label}: {describe(p)}, got {got}"):
            n_ok += 1
    return n_ok


def ext6_checks(agents, plan, oracle, policy, probes, rules, chain_limit, fail, name):
    """IPv6 extension headers (step 2b): SYNs carrying a marker, sent behind
    extension chains; whether each reaches the destination's link."""
    hosts = {h["name"]: h for h in plan["hosts"]}
    cases = []
    # a port nothing inspects if there is one: the SYNs carry their marker
    # as data, which an inspector drops before the handshake ends
    p = next((p for p in sorted(probes, key=lambda p: p.get("l7") is not None)
              if p["allow"] and p["proto"] == 6 and
              p["reason"] == "flow" and ":" in p["addr"]), None)
    if p:
        ah = [{"saddr": p["saddr"], "addr": p["addr"], "proto": 51, "port": None}]
        ask_oracle(oracle, policy, ah)
        for kind, want in (("plain", True), ("dstopt", True), ("hbh", True),
                           ("ah", ah[0]["allow"]), ("rh0", False), ("hbh_late", False),
                           ("long", False)):
            if kind == "long" and not chain_limit:
                continue  # the engine's documented limit
            cases.append((p["src"], p["dst"], p["addr"], p["port"], kind, want,
                          f"{describe(p)}; AH: oracle (proto 51) "
                          f"{'allow' if ah[0]['allow'] else 'deny'}"))
    # AH allowed by a flow: it passes, whatever it carries
    for r in rules:
        if r["proto"] != 51:
            continue
        src = next((h for h in plan["hosts"] if h["zone"] == r["from"] and "ipv6" in h), None)
        dst = next((h for h in plan["hosts"] if h["zone"] == r["to"] and "ipv6" in h and
                    h is not src), None)
        if not src or not dst:
            continue
        q = [{"saddr": src["ipv6"], "addr": dst["ipv6"], "proto": 51, "port": None}]
        ask_oracle(oracle, policy, q)
        if q[0]["allow"]:
            for kind in ("ah", "rh0"):
                cases.append((src["name"], dst["name"], dst["ipv6"], 9, kind, kind == "ah",
                              f"{src['name']} -> {dst['name']} AH allowed by {q[0]['flow']}"))
            break
    by_pair = {}
    for c in cases:
        by_pair.setdefault(c[:4], []).append(c[4:] + (os.urandom(8).hex(),))
    for (src, dst, addr, port), v in by_pair.items():
        r = {dst: agents.call(dst, {"op": "sniff_start", "markers": [x[3] for x in v]})}
        r[src] = agents.call(src, {"op": "craft6", "dst": addr, "port": port,
                                   "packets": [{"kind": x[0], "marker": x[3]} for x in v]})
        time.sleep(0.5)  # in flight (the allowed ones are the control)
        r[dst] = agents.call(dst, {"op": "sniff_stop"})
        fail.check(r[src].get("sent") == len(v) and "seen" in r[dst],
                   f"{name}: IPv6 extension header probes {src} -> {dst}: {r}")
        seen = set(r[dst].get("seen", []))
        for kind, want, what, marker in v:
            got = marker in seen
            fail.check(got == want,
                       f"{name}: IPv6 SYN behind '{kind}' headers {src} -> {dst} tcp/{port}: "
                       f"{'arrived' if got else 'dropped'}, want "
                       f"{'arrived' if want else 'dropped'} ({what})")
    tlog(f"{name}: IPv6 extension headers, {len(cases)} cases")


def listen_all(agents, plan, probes):
    tcp = sorted({p["port"] for p in probes if p["proto"] == 6})
    udp = sorted({p["port"] for p in probes if p["proto"] == 17})
    raw = sorted({p["proto"] for p in probes if probe_kind(p["proto"]) == "raw"})
    res = agents.call_all({h["name"]: {"op": "listen", "tcp": tcp, "udp": udp, "raw": raw}
                           for h in plan["hosts"]})
    for h, r in res.items():
        if not r.get("ok"):
            raise RuntimeError(f"agent {h} cannot listen: {r}")


def without_flow(matrix, flow_id, out_path):
    import yaml
    with open(matrix) as f:
        y = yaml.safe_load(f)
    y["flows"] = [f for f in y["flows"] if str(f.get("id")) != flow_id]
    with open(out_path, "w") as f:
        yaml.safe_dump(y, f, sort_keys=False)


def compile_policy(zonectl, matrix, out):
    sh([zonectl, "compile", matrix, "-o", out])
    return out


def run_matrix(args, matrix, k, fail):
    ctx = Ctx()
    ctx.builddir, ctx.srcdir = args.builddir, args.srcdir
    ctx.tag = f"{os.getpid() % 100000}{k}"
    ctx.tmp = tempfile.mkdtemp(prefix=f"zwnetns{ctx.tag}")
    prefix = f"zwt{ctx.tag}"
    zonectl = os.path.join(args.builddir, "control", "zonectl")
    oracle = os.path.join(args.builddir, "tests", "netns", "zw-oracle")
    eng_mod = importlib.import_module(f"engine_{args.engine}")
    lab = os.path.join(args.srcdir, "scripts", "lab.sh")
    rng = random.Random(k)
    agents = engine = None
    name = os.path.basename(matrix)
    t0 = time.time()
    try:
        policy = compile_policy(zonectl, matrix, os.path.join(ctx.tmp, "policy.img"))
        r = sh([lab, "up", matrix, "--engine", eng_mod.Engine.lab_engine, "--prefix", prefix,
                "--hosts", str(args.hosts), "--json", "--builddir", args.builddir])
        ctx.plan = json.loads(r.stdout)
        tlog(f"{name}: lab up")
        engine = eng_mod.Engine(ctx)
        if args.daemon:
            from daemon_mode import Daemon
            engine = Daemon(ctx, engine, eng_mod.Skip)
        engine.start(matrix)
        tlog(f"{name}: engine started ({'zonewalld' if args.daemon else 'loader'})")
        sha0 = engine.enforced_sha()
        fail.check(sha0 == sh([zonectl, "compile", matrix, "-o", os.path.join(ctx.tmp, "x.img")])
                   .stdout.split()[0], f"{name}: engine enforces {sha0}, not the compiled image")

        rules = oracle_rules(oracle, policy)
        probes = plan_probes(ctx.plan, rules, args.full, rng)
        ask_oracle(oracle, policy, probes)
        cross_check_zonectl(zonectl, policy, probes, rng, fail)
        tlog(f"{name}: engine started, oracle asked")
        agents = Agents(ctx.plan)
        listen_all(agents, ctx.plan, probes)
        tlog(f"{name}: agents listening")
        # A protocol without ports is tracked by addresses only: once an
        # allowed A->B exchange exists, B->A of that protocol is its reply.
        # Send the denied ones first, before any such exchange exists.
        first = [p for p in probes if probe_kind(p["proto"]) == "raw" and not p["allow"]]
        results = run_probes(agents, first)
        results.update(run_probes(agents, [p for p in probes if p not in first]))
        tlog(f"{name}: probes")
        n_allow = sum(p["allow"] for p in probes)
        n_good = check_probes(probes, results, fail, f"{name} {args.engine}")
        n_l7 = sum(bool(p["allow"] and p.get("l7")) for p in probes)
        print(f"{name}: {len(probes)} probes ({n_allow} allowed, {n_l7} of them speaking "
              f"their service's inspect: protocol, {len(probes) - n_allow} denied), "
              f"{n_good} as the oracle says")
        fail.check(n_allow > 0 and n_allow < len(probes), f"{name}: degenerate probe mix")
        records = args.daemon and getattr(engine, "telemetry", False)
        if records:
            # the engine's records reached the daemon: a created record
            # for an allowed TCP connection, a denied one for a denied probe
            ok_tcp = [p for p in probes if p["allow"] and p["proto"] == 6 and p["reason"] == "flow"
                      and results.get(p["id"]) == "ok"]
            no_tcp = [p for p in probes if not p["allow"] and p["proto"] == 6]
            if fail.check(ok_tcp and no_tcp, f"{name}: no allowed and denied TCP probes"):
                p = ok_tcp[0]
                fail.check(engine.wait_record("created", p["addr"], p["port"]),
                           f"{name}: no created record for {describe(p)}")
                p = no_tcp[0]
                fail.check(engine.wait_record("denied", p["addr"], p["port"]),
                           f"{name}: no denied record for {describe(p)}")
            # and went out to the IPFIX collector
            for _ in range(50):
                st = engine.telemetry_status()
                x = (st.get("exporters") or [{}])[0]
                if x.get("records_sent", 0) > 0:
                    break
                time.sleep(0.2)
            fail.check(st.get("records_pulled", 0) > 0 and x.get("records_sent", 0) > 0
                       and x.get("records_dropped", 1) == 0,
                       f"{name}: records not exported: {st}")
            tlog(f"{name}: records")

        # 2. unsolicited segments
        tcp_ok = [p for p in probes if p["allow"] and p["proto"] == 6 and p["reason"] == "flow"]
        if fail.check(tcp_ok, f"{name}: no allowed TCP flow to test state with"):
            p = tcp_ok[0]
            a = agents.call(p["src"], {"op": "craft", "flags": "A", "dst": p["addr"],
                                       "port": p["port"]})
            fail.check(a.get("answer") == "silent",
                       f"{name}: bare ACK passed ({describe(p)}): {a}")
            a = agents.call(p["src"], {"op": "craft", "flags": "S", "dst": p["addr"],
                                       "port": p["port"]})
            fail.check(a.get("answer") == "answered" and a.get("flags") == "SA",
                       f"{name}: control SYN of an allowed flow not answered: {a}")

        ext6_checks(agents, ctx.plan, oracle, policy, probes, rules,
                    getattr(eng_mod.Engine, "ext_chain_limit", True), fail, name)

        # ICMP errors about an allowed exchange come back: an allowed UDP
        # port nobody listens on (inside a range, off the probed edges)
        listened = {p["port"] for p in probes if p["proto"] == 17}
        closed = None
        for r in rules:
            if r["proto"] == 17 and not r["any"] and r["hi"] - r["lo"] >= 2:
                port = (r["lo"] + r["hi"]) // 2
                if port not in listened:
                    closed = (r, port)
                    break
        if closed:
            r, port = closed
            src = next(h for h in ctx.plan["hosts"] if h["zone"] == r["from"])
            dst = next(h for h in ctx.plan["hosts"] if h["zone"] == r["to"] and h is not src)
            fam = "ipv4" if "ipv4" in src and "ipv4" in dst else "ipv6"
            q = [{"src": src["name"], "dst": dst["name"], "addr": dst[fam], "saddr": src[fam],
                  "proto": 17, "port": port, "id": 200000}]
            ask_oracle(oracle, policy, q)
            res = agents.call(src["name"], {"op": "probe", "timeout": 1.5, "probes": [
                {"id": 200000, "kind": "udp_closed", "dst": dst[fam], "port": port}]})
            got = res["results"]["200000"]
            tlog(f"{name}: ICMP error about {describe(q[0])}: {got}")
            fail.check(got == ("refused" if q[0]["allow"] else "timeout"),
                       f"{name}: ICMP port unreachable about {describe(q[0])}: got {got}")
        tlog(f"{name}: unsolicited")
        # 3. removing a flow cuts its connections, and only those
        cut = tcp_ok[0] if tcp_ok else None
        keep = next((p for p in tcp_ok if cut and p["flow"] != cut["flow"]), None)
        if fail.check(cut and keep, f"{name}: need two allowed TCP flows for the cut test"):
            for p in (cut, keep):
                r = agents.call(p["src"], {"op": "hold", "id": p["id"], "dst": p["addr"],
                                           "port": p["port"]})
                fail.check(r.get("ok"), f"{name}: cannot hold {describe(p)}: {r}")
            m2 = os.path.join(ctx.tmp, "without.yaml")
            without_flow(matrix, cut["flow"], m2)
            p2 = compile_policy(zonectl, m2, os.path.join(ctx.tmp, "without.img"))
            ok, msg = engine.apply(m2)
            fail.check(ok, f"{name}: applying the matrix without {cut['flow']}: {msg}")
            r = agents.call(cut["src"], {"op": "ping_held", "id": cut["id"], "timeout": 1.5})
            # cut = its packets dropped: the echo times out (a reset or a
            # close would mean they got to the other end)
            fail.check(not r.get("ok") and r.get("error") == "timeout",
                       f"{name}: connection of removed flow {cut['flow']} not cut: {r}")
            r = agents.call(keep["src"], {"op": "ping_held", "id": keep["id"]})
            fail.check(r.get("ok"), f"{name}: connection of flow {keep['flow']} was cut "
                       f"when {cut['flow']} was removed: {r}")
            if records:
                e = engine.wait_record("ended", cut["addr"], cut["port"])
                fail.check(e and e.get("packets", 0) >= 3,
                           f"{name}: no ended record with its packets for the cut "
                           f"connection {describe(cut)}: {e}")
            again = [dict(cut)]
            ask_oracle(oracle, p2, again)
            fail.check(not again[0]["allow"], f"{name}: oracle still allows {describe(cut)}")
            res = run_probes(agents, again)
            check_probes(again, res, fail, f"{name} after removing {cut['flow']}")

            tlog(f"{name}: cut")
            # 4. refused policies change nothing
            sha1 = engine.enforced_sha()
            bad = os.path.join(ctx.tmp, "bad.yaml")
            with open(bad, "w") as f:
                f.write("zonewall: 1\nname: broken\nzones: {}\nflows: [{id: X}]\n")
            ok, msg = engine.apply(bad)
            fail.check(not ok, f"{name}: an invalid matrix was accepted")
            ok, msg = engine.apply_failing(matrix) or (False, "not supported")
            fail.check(not ok, f"{name}: a failing transaction reported success: {msg}")
            fail.check(engine.enforced_sha() == sha1,
                       f"{name}: enforcement changed after refused policies")
            r = agents.call(keep["src"], {"op": "ping_held", "id": keep["id"]})
            fail.check(r.get("ok"), f"{name}: live connection cut by a refused policy: {r}")
            sample = [dict(p) for p in rng.sample(probes, min(60, len(probes)))
                      if probe_kind(p["proto"]) != "raw"]
            ask_oracle(oracle, p2, sample)
            for p in sample:
                p["id"] += 100000
            res = run_probes(agents, sample)
            check_probes(sample, res, fail, f"{name} after refused policies")

            tlog(f"{name}: refused policies")

            # 5. the daemon dies: enforcement stays; it comes back: nothing re-added
            if args.daemon:
                snap = engine.snapshot()
                engine.kill9()
                fail.check(engine.enforced_sha() == sha1,
                           f"{name}: enforcement changed when zonewalld was killed")
                r = agents.call(keep["src"], {"op": "ping_held", "id": keep["id"]})
                fail.check(r.get("ok"), f"{name}: live connection cut by kill -9 of zonewalld: {r}")
                for p in sample:
                    p["id"] += 100000
                res = run_probes(agents, sample)
                check_probes(sample, res, fail, f"{name} with zonewalld killed")
                engine.launch()
                rc, st = engine.status()
                fail.check(rc == 0 and "in sync" in st, f"{name}: after restart: {st}")
                if snap is not None:
                    fail.check(engine.snapshot() == snap,
                               f"{name}: the restarted daemon re-programmed the engine")
                tlog(f"{name}: kill -9 and restart")
        print(f"{name}: done in {time.time() - t0:.1f}s")
    finally:
        if agents:
            agents.stop()
        if engine:
            try:
                engine.stop()
            except Exception as e:  # keep cleaning up
                print(f"engine stop: {e}")
        sh([lab, "down", "--prefix", prefix], check=False)
        shutil.rmtree(ctx.tmp, ignore_errors=True)


def main():
    # meson's timeout sends SIGTERM: unwind so every lab is removed
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--engine", required=True)
    ap.add_argument("--matrix", action="append",
                    help="matrix to test (default: tests/netns/matrices/*.yaml and the examples)")
    ap.add_argument("--hosts", type=int, default=2)
    ap.add_argument("--daemon", action="store_true",
                    help="program the engine through zonewalld and zonectl")
    ap.add_argument("--full", action="store_true",
                    help="every service of the matrix on every zone pair")
    ap.add_argument("--builddir", default=os.environ.get("ZONEWALL_BUILDDIR"))
    ap.add_argument("--srcdir", default=os.environ.get("ZONEWALL_SRCDIR",
                                                       os.path.dirname(os.path.dirname(HERE))))
    a = ap.parse_args()
    if os.geteuid() != 0:
        print("skip: needs root (network namespaces)")
        return SKIP
    if not a.builddir:
        print("skip: ZONEWALL_BUILDDIR not set (run through meson test)")
        return SKIP
    try:
        import yaml  # noqa: F401
    except ImportError:
        print("skip: needs python3-yaml")
        return SKIP
    try:
        eng = importlib.import_module(f"engine_{a.engine}")
    except ImportError:
        print(f"skip: no tests/netns/engine_{a.engine}.py")
        return SKIP
    matrices = a.matrix or (
        sorted(os.path.join(HERE, "matrices", f) for f in os.listdir(os.path.join(HERE, "matrices"))
               if f.endswith(".yaml")) +
        [os.path.join(a.srcdir, "matrix", "examples", f) for f in ("minimal.yaml", "piams.yaml")])
    fail = Failures()
    for k, m in enumerate(matrices):
        try:
            run_matrix(a, m, k, fail)
        except eng.Skip as e:
            print(f"skip: {e}")
            return SKIP
        except (RuntimeError, OSError, ValueError) as e:
            fail.check(False, f"{os.path.basename(m)}: {e}")
    print(f"{len(matrices)} matrices, {fail.n} failures")
    return 1 if fail.n else 0


if __name__ == "__main__":
    sys.exit(main())
