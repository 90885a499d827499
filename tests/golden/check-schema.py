#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
# `zonectl schema` against the parser, with a real validator (Debian's
# python3-jsonschema):
#  1. the schema is a valid draft-07 schema;
#  2. every matrix the parser accepts (matrix/examples/*.yaml and every
#     golden .yaml that `zonectl check` passes) validates;
#  3. the golden failures that are key or type errors are refused by the
#     schema too, and so is each mutation below of a valid matrix (an
#     unknown key or a wrong type at every level), which `zonectl check`
#     must refuse as well: the schema refuses what the parser refuses.
# The YAML is read as yaml-language-server reads it (YAML 1.2 core: a date
# stays a string, only true/false are booleans).
# Usage: check-schema.py ZONECTL
import copy
import glob
import json
import os
import re
import subprocess
import sys
import tempfile

try:
    import jsonschema
    import yaml
except ImportError as e:
    print("SKIP: %s (scripts/deps.sh installs python3-jsonschema, python3-yaml)" % e)
    sys.exit(77)

ZONECTL = os.path.abspath(sys.argv[1])
SRC = os.environ["ZONEWALL_SRCDIR"]


class Yaml12Loader(yaml.SafeLoader):
    pass


Yaml12Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
Yaml12Loader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|false)$"), list("tf"))


def load(path):
    with open(path) as f:
        return yaml.load(f, Loader=Yaml12Loader)


def check_cli(path):
    """zonectl check's exit code (0 valid, 1 refused)."""
    return subprocess.run([ZONECTL, "check", path], stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL,
                          cwd=os.path.dirname(path)).returncode


fails = 0
n = 0


def result(ok, what):
    global fails, n
    n += 1
    if not ok:
        fails += 1
    print("%s %s" % ("ok  " if ok else "FAIL", what))


out = subprocess.run([ZONECTL, "schema"], capture_output=True, text=True)
result(out.returncode == 0, "zonectl schema exits 0")
schema = json.loads(out.stdout)
try:
    jsonschema.Draft7Validator.check_schema(schema)
    result(True, "a valid draft-07 schema")
except jsonschema.SchemaError as e:
    result(False, "not a valid schema: %s" % e.message)
# "format": "date" checked too, as yaml-language-server does
validator = jsonschema.Draft7Validator(
    schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)

with tempfile.TemporaryDirectory() as tmp:
    o = subprocess.run([ZONECTL, "schema", "-o", tmp + "/s.json"])
    result(o.returncode == 0 and json.load(open(tmp + "/s.json")) == schema,
           "zonectl schema -o FILE writes the same schema")


def errors(doc):
    return sorted(validator.iter_errors(doc), key=lambda e: list(e.path))


# ---- 2. what the parser accepts, the schema accepts
valid = sorted(glob.glob(SRC + "/matrix/examples/*.yaml"))
for y in sorted(glob.glob(SRC + "/tests/golden/**/*.yaml", recursive=True)):
    if "/fail/" not in y and check_cli(y) == 0:
        valid.append(y)
result(len(valid) >= 8, "%d valid matrices found" % len(valid))
for y in valid:
    errs = errors(load(y))
    result(not errs, "valid: %s%s" % (os.path.relpath(y, SRC),
                                       "" if not errs else ": " + "; ".join(
                                           "%s: %s" % (list(e.path), e.message) for e in errs[:3])))

# ---- 3. key and type errors of the golden corpus
for name in ["unknown-flow-key", "unknown-top-key", "bool-yes", "missing-version",
             "wrong-version", "bad-rate", "unknown-kind", "ports-on-icmp",
             "missing-ports", "port-zero", "reserved-outside", "bad-date",
             "probe-unknown-key", "probe-bad-traffic", "probe-missing-interface",
             "probe-bad-interface", "probe-empty-zones", "probe-outside",
             "probe-duplicate-zone", "probe-bad-name"]:
    y = "%s/tests/golden/fail/%s.yaml" % (SRC, name)
    errs = errors(load(y))
    result(bool(errs) and check_cli(y) == 1,
           "refused by schema and parser: fail/%s.yaml (%s)" %
           (name, errs[0].message if errs else "schema accepts it"))

# ---- mutations of a valid matrix: each refused by both
base = load(SRC + "/matrix/examples/minimal.yaml")


def mutate(fn):
    m = copy.deepcopy(base)
    fn(m)
    return m


def svc(m, value):
    m.setdefault("services", {})["extra"] = value


mutations = {
    "unknown top-level key": lambda m: m.update(colour="blue"),
    "unknown zone key": lambda m: m["zones"]["ops"].update(vlan=12),
    "unknown flow key": lambda m: m["flows"][0].update(srcs=["10.1.0.1"]),
    "unknown service key": lambda m: svc(m, {"proto": "tcp", "ports": [1], "port": 2}),
    "zonewall as a string": lambda m: m.update(zonewall="1"),
    "zonewall 2": lambda m: m.update(zonewall=2),
    "zones as a list": lambda m: m.update(zones=[]),
    "flows as a mapping": lambda m: m.update(flows={}),
    "networks as a string": lambda m: m["zones"]["ops"].update(networks="10.1.0.0/24"),
    "isolate as a string": lambda m: m["zones"]["ops"].update(isolate="yes"),
    "kind unknown": lambda m: m["zones"]["ops"].update(kind="office"),
    "kind missing": lambda m: m["zones"]["ops"].pop("kind"),
    "zone named outside": lambda m: m["zones"].update(outside={"kind": "servers", "networks": ["10.9.0.0/24"]}),
    "services of a flow as a string": lambda m: m["flows"][0].update(services="ssh"),
    "flow without id": lambda m: m["flows"][0].pop("id"),
    "log as a number": lambda m: m["flows"][0].update(log=1),
    "rate as a number": lambda m: m["flows"][0].update(rate=5),
    "review not a date": lambda m: m["flows"][0].update(review="soon"),
    "ports as a number": lambda m: svc(m, {"proto": "tcp", "ports": 22}),
    "ports on udp missing": lambda m: svc(m, {"proto": "udp"}),
    "port out of range": lambda m: svc(m, {"proto": "tcp", "ports": [70000]}),
    "types on tcp": lambda m: svc(m, {"proto": "tcp", "ports": [1], "types": [0]}),
    "proto unknown": lambda m: svc(m, {"proto": "tcpp", "ports": [1]}),
    "inspect unknown": lambda m: svc(m, {"proto": "tcp", "ports": [1], "inspect": "ftp"}),
    "unsafe as a string": lambda m: svc(m, {"proto": "tcp", "ports": [1], "unsafe": "no"}),
    "service name with capitals": lambda m: m.setdefault("services", {}).update(
        {"Bad": {"proto": "tcp", "ports": [1]}}),
    "probes as a list": lambda m: m.update(probes=[]),
    "unknown probe key": lambda m: m.update(
        probes={"ids": {"interface": "p0", "zones": ["ops"], "mirror": True}}),
    "probe zones as a string": lambda m: m.update(
        probes={"ids": {"interface": "p0", "zones": "ops"}}),
    "probe interface too long": lambda m: m.update(
        probes={"ids": {"interface": "p0123456789abcdef", "zones": ["ops"]}}),
    "probe traffic unknown": lambda m: m.update(
        probes={"ids": {"interface": "p0", "zones": ["ops"], "traffic": "denied"}}),
}
with tempfile.TemporaryDirectory() as tmp:
    for what, fn in mutations.items():
        m = mutate(fn)
        path = tmp + "/m.yaml"
        with open(path, "w") as f:
            yaml.safe_dump(m, f, default_flow_style=False)
        # safe_dump quotes "yes" and dates as YAML 1.1 needs; both readers
        # then see the same types
        errs = errors(load(path))
        rc = check_cli(path)
        result(bool(errs) and rc == 1,
               "refused by schema and parser: %s (schema: %s; zonectl check exit %d)" %
               (what, errs[0].message[:80] if errs else "accepted", rc))
    # and the base matrix itself, through the same round trip, is accepted
    with open(tmp + "/m.yaml", "w") as f:
        yaml.safe_dump(base, f, default_flow_style=False)
    result(not errors(load(tmp + "/m.yaml")) and check_cli(tmp + "/m.yaml") == 0,
           "the unmutated matrix passes both after the same round trip")

print("%d checks, %d failed" % (n, fails))
sys.exit(1 if fails else 0)
