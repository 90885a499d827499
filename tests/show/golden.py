#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Golden and property tests of `zonectl show` and `zonectl diff`.

  golden.py show ZONECTL MATRIX.yaml     every format against MATRIX.{text,csv,json,dot},
                                         plus the checks below
  golden.py smoke ZONECTL MATRIX.yaml    the checks below only (examples that change)
  golden.py diff ZONECTL NAME            NAME.old.yaml vs NAME.new.yaml against
                                         NAME.text and NAME.json, plus the checks below
  golden.py refuse ZONECTL MATRIX.yaml   an invalid matrix: show and diff exit 1
  golden.py cli ZONECTL MATRIX.yaml      usage and environment errors, --output

Checks: the JSON parses and follows the documented schema; the CSV parses
(RFC 4180) with one row per flow and service, each agreeing with the JSON;
the DOT is accepted by Graphviz (when installed); the HTML is one
self-contained page (no script, no external resource, only known tags, links
only to anchors) in which every text of the matrix appears, escaped; for
diff, a sample connection of every traffic change gets the verdict the
change says from `zonectl explain` on both matrices.

UPDATE_GOLDEN=1 rewrites the expected files instead of comparing them
(then review them with git diff before committing).
Matrices are run from their own directory with their base name, so the
outputs do not depend on where the tree is. ZONEWALL_TODAY must be set.
"""
import csv
import difflib
import html.parser
import io
import ipaddress
import json
import os
import re
import shutil
import subprocess
import sys

FAILS = []
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"

CSV_HEADER = ["id", "from", "from_kind", "to", "to_kind", "src", "dst", "service",
              "protocol", "ports/types", "unsafe", "justification", "compensating",
              "review", "expires", "owner", "log", "rate"]
HTML_TAGS = {"html", "head", "meta", "title", "style", "body", "header", "footer",
             "section", "div", "h1", "h2", "h3", "p", "ul", "li", "table", "tr", "th",
             "td", "em", "strong", "span", "a", "sup", "br"}


def fail(msg):
    FAILS.append(msg)
    print("FAIL: " + msg)


def check(cond, msg):
    if not cond:
        fail(msg)
    return cond


def run(zonectl, args, cwd, expect_rc=0):
    p = subprocess.run([zonectl] + args, cwd=cwd, capture_output=True)
    if expect_rc is not None and p.returncode != expect_rc:
        fail("zonectl %s: exit %d, expected %d\n%s" % (" ".join(args), p.returncode,
                                                      expect_rc, p.stderr.decode()))
    return p


def golden(path, got):
    """Compare bytes with the expected file, or write it with UPDATE_GOLDEN=1."""
    if UPDATE:
        old = open(path, "rb").read() if os.path.exists(path) else None
        if old != got:
            with open(path, "wb") as f:
                f.write(got)
            print("updated " + path)
        return
    if not os.path.exists(path):
        fail("%s missing (run with UPDATE_GOLDEN=1 to create it)" % path)
        return
    want = open(path, "rb").read()
    if want != got:
        d = difflib.unified_diff(want.decode(errors="replace").splitlines(True),
                                 got.decode(errors="replace").splitlines(True),
                                 path, "zonectl output")
        fail("%s differs from the output:\n%s" % (path, "".join(list(d)[:80])))


# ---- show ----

def check_json(doc, where):
    for k, t in (("name", str), ("profile", str), ("lang_version", int),
                 ("source_sha256", str), ("zones", list), ("services", list),
                 ("flows", list)):
        check(isinstance(doc.get(k), t), "%s: key %s missing or not %s" % (where, k, t.__name__))
    check(len(doc.get("source_sha256", "")) == 64, where + ": source_sha256 is not 64 hex digits")
    names = set()
    for z in doc["zones"]:
        for k in ("name", "kind", "networks", "isolate", "description"):
            check(k in z, "%s: zone without %s" % (where, k))
        check(z["name"] != "outside", where + ": the implicit outside zone is listed")
        check(z["name"] not in names, where + ": zone listed twice")
        names.add(z["name"])
        for n in z["networks"]:
            ipaddress.ip_network(n)  # raises if malformed
    svcs = {}
    for s in doc["services"]:
        for k in ("name", "builtin", "unsafe", "inspect", "entries"):
            check(k in s, "%s: service without %s" % (where, k))
        for e in s["entries"]:
            check(set(e) >= {"proto", "ports", "types"}, where + ": service entry keys")
        svcs[s["name"]] = s
    ids = set()
    for f in doc["flows"]:
        for k in ("id", "from", "to", "src", "dst", "services", "justification",
                  "compensating", "review", "expires", "owner", "log", "rate"):
            check(k in f, "%s: flow without %s" % (where, k))
        check(f["id"] not in ids, where + ": flow id twice")
        ids.add(f["id"])
        for z in (f["from"], f["to"]):
            check(z in names or z == "outside", "%s: flow %s names unknown zone %s" % (where, f["id"], z))
        for s in f["services"]:
            check(s in svcs, "%s: flow %s uses service %s not in services" % (where, f["id"], s))


def check_csv(data, doc, where):
    text = data.decode("utf-8")
    if text.startswith("\ufeff"):
        text = text[1:]
    check(text.endswith("\r\n"), where + ": CSV records must end in CRLF")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    check(rows and rows[0] == CSV_HEADER, where + ": CSV header is %r" % (rows[:1],))
    rows = rows[1:]
    want = sum(len(f["services"]) for f in doc["flows"])
    check(len(rows) == want, "%s: %d CSV rows, expected flows x services = %d" % (where, len(rows), want))
    flows = {f["id"]: f for f in doc["flows"]}
    k = 0
    for f in doc["flows"]:
        for s in f["services"]:
            if k >= len(rows):
                break
            r = dict(zip(CSV_HEADER, rows[k]))
            k += 1
            check(len(rows[k - 1]) == len(CSV_HEADER), where + ": CSV row width")
            check(r["id"] == f["id"] and r["service"] == s,
                  "%s: CSV row %d is %s/%s, expected %s/%s" % (where, k, r["id"], r["service"], f["id"], s))
            for col in ("justification", "compensating", "owner"):
                v = f[col] or ""
                got = r[col]
                if v[:1] in ("=", "+", "-", "@", "\t", "\r"):
                    check(got == "'" + v, "%s: %s of %s not guarded as text: %r" % (where, col, f["id"], got))
                else:
                    check(got == v, "%s: %s of %s is %r in CSV, %r in JSON" % (where, col, f["id"], got, v))
            check(r["src"].split() == f["src"] and r["dst"].split() == f["dst"],
                  where + ": CSV src/dst of " + f["id"])
            check(r["from"] == f["from"] and r["to"] == f["to"], where + ": CSV zones of " + f["id"])
    check(set(r[0] for r in rows) <= set(flows), where + ": CSV row of an unknown flow")


class Page(html.parser.HTMLParser):
    """Tags, attributes (the markup), style sheet and text of a page."""

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.tags, self.text, self.bad, self.markup, self.style = [], [], [], [], []
        self.in_style = False

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.in_style = tag == "style"
        self.markup.append(tag + " " + " ".join("%s=%s" % (k, v) for k, v in attrs))
        for k, v in attrs:
            if k in ("src", "srcset", "background", "action", "formaction") or k.startswith("on"):
                self.bad.append("%s %s=%r" % (tag, k, v))
            if k == "href" and not (v or "").startswith("#"):
                self.bad.append("%s href=%r" % (tag, v))
            if k == "style":
                self.bad.append("inline style attribute")

    def handle_endtag(self, tag):
        self.in_style = False

    def handle_data(self, data):
        (self.style if self.in_style else self.text).append(data)


def check_html(data, doc, where):
    page = data.decode("utf-8")
    low = page.lower()
    check(low.startswith("<!doctype html>"), where + ": no doctype")
    check(low.rstrip().endswith("</html>"), where + ": does not end with </html>")
    # No element that loads or runs anything, whatever the matrix says ("<"
    # of the matrix's text is escaped, so these cannot come from text).
    for bad in ("<script", "<link", "<img", "<iframe", "<object", "<embed", "<base",
                "<form", "<svg", "<a href=\"http"):
        check(bad not in low, "%s: HTML contains %r (must be self-contained and escaped)" % (where, bad))
    p = Page()
    p.feed(page)
    p.close()
    check(not p.bad, "%s: HTML attributes not allowed: %s" % (where, p.bad))
    extra = set(p.tags) - HTML_TAGS
    check(not extra, "%s: unexpected HTML tags %s (unescaped matrix text?)" % (where, sorted(extra)))
    # Nothing external in the markup or the style sheet (the text may
    # mention URLs: it is text).
    code = (" ".join(p.markup) + " " + " ".join(p.style)).lower()
    for bad in ("http", "src=", "url(", "@import", "//"):
        check(bad not in code, "%s: markup or style contains %r" % (where, bad))
    check(p.tags.count("style") == 1, where + ": one inline style sheet expected")
    text = " ".join(" ".join(p.text).split())
    check(doc["name"] in text, where + ": matrix name not in the page")
    check(doc["source_sha256"] in text, where + ": source SHA-256 not in the page")
    for z in doc["zones"]:
        for v in [z["name"], z["description"]] + z["networks"]:
            if v:
                check(" ".join(v.split()) in text, "%s: zone text %r not in the page" % (where, v))
    for f in doc["flows"]:
        for k in ("id", "justification", "compensating", "owner", "review", "expires"):
            v = f[k]
            if v:
                check(" ".join(v.split()) in text, "%s: flow %s %s %r not in the page" % (where, f["id"], k, v))
        if not f.get("live", True):
            check("expired" in text, where + ": expired flow not flagged")
        if f.get("review_stale"):
            check("review due" in text, where + ": stale review not flagged")


def check_dot(data, where):
    dot = shutil.which("dot")
    if not dot:
        print("note: Graphviz 'dot' not installed (scripts/deps.sh installs it); DOT not validated")
        return
    p = subprocess.run([dot, "-Tsvg"], input=data, capture_output=True)
    check(p.returncode == 0 and b"<svg" in p.stdout,
          "%s: dot -Tsvg rejects the graph: %s" % (where, p.stderr.decode()))


def show(zonectl, matrix, with_golden):
    d, base = os.path.split(os.path.abspath(matrix))
    stem = os.path.splitext(base)[0]
    out = {}
    for fmt in ("text", "csv", "json", "dot", "html"):
        p = run(zonectl, ["show", base, "--format", fmt], d)
        out[fmt] = p.stdout
        check(p.stdout, "show --format %s printed nothing" % fmt)
        if with_golden and fmt != "html":
            golden(os.path.join(d, stem + "." + fmt), p.stdout)
    try:
        doc = json.loads(out["json"])
    except ValueError as e:
        fail("%s: JSON does not parse: %s" % (base, e))
        return
    subprocess.run(["/usr/bin/python3", "-m", "json.tool"], input=out["json"],
                   capture_output=True, check=False).returncode == 0 or fail(base + ": json.tool rejects the JSON")
    check_json(doc, base)
    check_csv(out["csv"], doc, base)
    check_html(out["html"], doc, base)
    check_dot(out["dot"], base)
    # The text names every zone and flow.
    text = out["text"].decode()
    for z in doc["zones"]:
        check(z["name"] in text, "%s: zone %s not in the text" % (base, z["name"]))
    for f in doc["flows"]:
        check(f["id"] in text, "%s: flow %s not in the text" % (base, f["id"]))
    width = max(len(line) for line in text.splitlines())
    check(width <= 100, "%s: text is %d columns wide, more than 100" % (base, width))


# ---- diff ----

def sample(line):
    """One connection inside a traffic line: (src, dst, proto, port)."""
    src = str(ipaddress.ip_network(line["src"][0]).network_address)
    dst = str(ipaddress.ip_network(line["dst"][-1])[-1])
    proto, port = line["proto"], None
    if proto == "any":
        proto, port = "tcp", "7"
    elif line["ports"]:
        port = line["ports"][0]
        if re.fullmatch(r"[0-9]+-[0-9]+", port):
            port = port.split("-")[1]
    elif proto in ("icmp", "icmpv6"):
        port = "255" if proto == "icmp" else "200"
    return src, dst, proto, port


def explain(zonectl, cwd, m, conn):
    args = ["explain", m, conn[0], conn[1], conn[2]] + ([conn[3]] if conn[3] else [])
    p = run(zonectl, args + ["--format", "json"], cwd)
    try:
        return json.loads(p.stdout)
    except ValueError:
        fail("explain %s: not JSON" % " ".join(args))
        return {}


def diff(zonectl, name):
    d, stem = os.path.split(os.path.abspath(name))
    old, new = stem + ".old.yaml", stem + ".new.yaml"
    pt = run(zonectl, ["diff", old, new], d)
    pj = run(zonectl, ["diff", old, new, "--format", "json"], d)
    golden(os.path.join(d, stem + ".text"), pt.stdout)
    golden(os.path.join(d, stem + ".json"), pj.stdout)
    try:
        doc = json.loads(pj.stdout)
    except ValueError as e:
        fail("%s: diff JSON does not parse: %s" % (stem, e))
        return
    for k in ("old", "new", "date", "different", "matrix", "zones", "services", "flows", "traffic"):
        check(k in doc, "%s: diff JSON without %s" % (stem, k))
    pe = run(zonectl, ["diff", old, new, "--exit-code"], d, expect_rc=None)
    check(pe.returncode == (1 if doc["different"] else 0),
          "%s: --exit-code gave %d with different=%s" % (stem, pe.returncode, doc["different"]))
    same = run(zonectl, ["diff", new, new, "--format", "json", "--exit-code"], d)
    check(json.loads(same.stdout)["different"] is False, stem + ": NEW differs from itself")
    # Every traffic change holds a connection with the verdicts it claims.
    n = 0
    for key, allow_in, deny_in in (("now_allowed", new, old), ("no_longer_allowed", old, new)):
        for pair in doc["traffic"][key]:
            for c in pair["changes"]:
                excepted = {e["flow"] for e in c["except"]}
                for line in c["traffic"]:
                    conn = sample(line)
                    a = explain(zonectl, d, allow_in, conn)
                    b = explain(zonectl, d, deny_in, conn)
                    if a.get("flow") in excepted or b.get("flow") in excepted:
                        continue  # the sample fell in what a flow allows instead
                    n += 1
                    check(a.get("verdict") == "allow", "%s %s: %s should be allowed by %s: %s" % (stem, key, conn, allow_in, a))
                    check(b.get("verdict") == "deny", "%s %s: %s should be denied by %s: %s" % (stem, key, conn, deny_in, b))
                    check(a.get("from") == pair["from"] and a.get("to") == pair["to"],
                          "%s %s: %s is %s -> %s, listed under %s -> %s" % (
                              stem, key, conn, a.get("from"), a.get("to"), pair["from"], pair["to"]))
                    if not c["flow"]:
                        check(a.get("reason") == "same-zone", "%s %s: %s allowed by %s, listed as same zone" % (
                            stem, key, conn, a.get("flow")))
                    else:
                        check(a.get("flow") == c["flow"] and a.get("service") == c["service"],
                              "%s %s: %s decided by %s/%s, listed as %s/%s" % (
                                  stem, key, conn, a.get("flow"), a.get("service"), c["flow"], c["service"]))
    if doc["traffic"]["now_allowed"] or doc["traffic"]["no_longer_allowed"]:
        check(n > 0, stem + ": no traffic line could be checked with zonectl explain")
    print("%s: %d traffic lines checked with zonectl explain" % (stem, n))


# ---- refusals and command line ----

def refuse(zonectl, matrix):
    d, base = os.path.split(os.path.abspath(matrix))
    for fmt in ("text", "csv", "json", "dot", "html"):
        p = run(zonectl, ["show", base, "--format", fmt], d, expect_rc=1)
        check(p.stdout == b"", "show %s of an invalid matrix printed on stdout" % fmt)
        err = p.stderr.decode()
        check("error[ZW" in err, "show: no diagnostic on stderr: %r" % err)
        check(err.rstrip().splitlines()[-1].startswith("zonectl: "), "show: no 'zonectl:' line last")
    p = run(zonectl, ["diff", base, base], d, expect_rc=1)
    check(p.stdout == b"" and "error[ZW" in p.stderr.decode(), "diff of an invalid matrix")


def cli(zonectl, matrix):
    d, base = os.path.split(os.path.abspath(matrix))
    run(zonectl, ["show", "--help"], d, expect_rc=0)
    run(zonectl, ["diff", "--help"], d, expect_rc=0)
    run(zonectl, ["show"], d, expect_rc=2)
    run(zonectl, ["show", base, "--format", "pdf"], d, expect_rc=2)
    run(zonectl, ["show", base, "--width", "7"], d, expect_rc=2)
    run(zonectl, ["show", base, "--date", "2026-13-01"], d, expect_rc=2)
    run(zonectl, ["diff", base], d, expect_rc=2)
    run(zonectl, ["diff", base, base, "--format", "csv"], d, expect_rc=2)
    p = run(zonectl, ["show", "no-such-file.yaml"], d, expect_rc=3)
    check(len(p.stderr.decode().strip().splitlines()) == 1, "unreadable file: one error line")
    run(zonectl, ["diff", base, "no-such-file.yaml"], d, expect_rc=3)
    tmp = os.path.join(os.environ.get("TMPDIR", "/tmp"), "zw-show-%d.csv" % os.getpid())
    try:
        p = run(zonectl, ["show", base, "--format", "csv", "--output", tmp, "--bom"], d)
        check(p.stdout == b"", "--output still printed on stdout")
        data = open(tmp, "rb").read()
        check(data.startswith(b"\xef\xbb\xbfid,from,"), "--bom / --output: file does not start with BOM + header")
        run(zonectl, ["show", base, "-o", "/nonexistent-dir/x.csv"], d, expect_rc=3)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


def main():
    if len(sys.argv) != 4:
        print(__doc__)
        return 2
    if not os.environ.get("ZONEWALL_TODAY"):
        print("ZONEWALL_TODAY is not set: outputs depend on the date; run through meson test")
        return 77
    mode, zonectl, arg = sys.argv[1:]
    zonectl = os.path.abspath(zonectl)
    {"show": lambda: show(zonectl, arg, True),
     "smoke": lambda: show(zonectl, arg, False),
     "diff": lambda: diff(zonectl, arg),
     "refuse": lambda: refuse(zonectl, arg),
     "cli": lambda: cli(zonectl, arg)}[mode]()
    if FAILS:
        print("%d failure(s)" % len(FAILS))
        return 1
    print("ok")
    return 0


if __name__ == "__main__":
    sys.exit(main())
