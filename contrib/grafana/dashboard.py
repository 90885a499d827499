#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""contrib/grafana/zonewall.json without Grafana: its panel queries,
interpolated as Grafana's Prometheus data source does, evaluated by a real
Prometheus through its HTTP API, and drawn as a page that headless Chromium
screenshots.

    dashboard.py queries --prometheus URL [--dashboard JSON]
        [--scrape-interval S] [--interval S] [--range S]
        every panel target: {"panel", "title", "type", "refId", "expr",
        "query" (interpolated), "legend"} as JSON lines; first one line per
        template variable {"variable", "values"}
    dashboard.py check --prometheus URL [...same]
        evaluates every target with /api/v1/query; prints one line per
        target ("ok N series" or the error) and exits 1 if any is invalid
        PromQL or returns no data
    dashboard.py render --prometheus URL --out PNG [--range S] [--end T]
        [--scrape-interval S] [--html FILE] [--width PX]
        lays the panels out by their gridPos, draws each panel from
        /api/v1/query_range (stat: its last value; table: /api/v1/query),
        as inline SVG in one HTML page, and screenshots it with
        `chromium --headless --screenshot`

Why its own code: Grafana is not packaged in Debian 12 and no registry this
project uses ships it, so the screen in the documentation cannot be taken
from Grafana itself. The interpolation follows Grafana 9/10's Prometheus
data source (interpolateQueryExpr, prometheusSpecialRegexEscape,
$__rate_interval = max($__interval + scrape interval, 4 x scrape interval));
the drawing follows the panel's type, unit, thresholds and value mappings
closely enough to read, not pixel for pixel. Only the Python standard
library (no plotting package) so it runs with Debian's /usr/bin/python3.
"""
import argparse
import html
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DASH = os.path.join(HERE, "zonewall.json")

# Grafana's layout constants (GRID_COLUMN_COUNT, GRID_CELL_HEIGHT,
# GRID_CELL_VMARGIN) and classic palette.
COLS, CELL_H, GAP = 24, 30, 8
PALETTE = ["#73BF69", "#F2CC0C", "#8AB8FF", "#FF780A", "#F2495C", "#5794F2",
           "#B877D9", "#705DA0", "#37872D", "#FADE2A", "#447EBC", "#C15C17"]
COLORS = {"green": "#73BF69", "red": "#F2495C", "orange": "#FF9830",
          "yellow": "#FADE2A", "blue": "#5794F2", "text": "#CCCCDC"}
# A panel without thresholds gets Grafana's default ones.
DEFAULT_THRESHOLDS = [{"color": "green", "value": None}, {"color": "red", "value": 80}]


class PromError(Exception):
    pass


def prom(url, path, **params):
    q = urllib.parse.urlencode(params, doseq=True)
    try:
        with urllib.request.urlopen(f"{url.rstrip('/')}{path}?{q}", timeout=30) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        try:
            body = json.load(e)
        except ValueError:
            raise PromError(f"HTTP {e.code}")
    if body.get("status") != "success":
        raise PromError(f"{body.get('errorType')}: {body.get('error')}")
    return body["data"]


def dur(seconds):
    """A PromQL duration, as Grafana writes it (whole ms at least)."""
    ms = max(1, int(round(seconds * 1000)))
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def regular_escape(v):
    return v.replace("\\", "\\\\").replace("'", "\\'")


def special_regex_escape(v):
    v = v.replace("\\", "\\\\\\\\")
    return re.sub(r"[$^*{}\[\]'+?.()|]", lambda m: "\\\\" + m.group(0), v)


class Context:
    """Template variables and Grafana's built-in ones for one dashboard
    view: a range of RANGE seconds ending at END, a panel interval
    ($__interval) and the data source's scrape interval."""

    def __init__(self, dash, url, scrape, interval, rng, end):
        self.url, self.scrape, self.interval, self.rng, self.end = url, scrape, interval, rng, end
        self.vars = {}
        for v in dash.get("templating", {}).get("list", []):
            self.vars[v["name"]] = (v, self.resolve(v))

    def resolve(self, v):
        cur = v.get("current", {}).get("value")
        if v["type"] == "query":
            q = v["query"] if isinstance(v["query"], str) else v["query"].get("query", "")
            m = re.fullmatch(r"\s*label_values\((?:\s*(.+?)\s*,)?\s*(\w+)\s*\)\s*", q)
            if not m:
                raise PromError(f"variable {v['name']}: query {q!r} not understood")
            params = {"start": self.end - self.rng, "end": self.end}
            if m.group(1):
                params["match[]"] = [self.interpolate(m.group(1))]
            options = prom(self.url, f"/api/v1/label/{m.group(2)}/values", **params)
        elif v["type"] == "custom":
            options = [o.strip() for o in v["query"].split(",") if o.strip()]
        else:
            raise PromError(f"variable {v['name']}: type {v['type']} not supported")
        if cur in ("$__all", ["$__all"]):
            return options
        return cur if isinstance(cur, list) else [cur]

    def builtin(self, name):
        rate = max(self.interval + self.scrape, 4 * self.scrape)
        return {"__interval": dur(self.interval),
                "__interval_ms": str(int(self.interval * 1000)),
                "__rate_interval": dur(rate),
                "__range": dur(self.rng), "__range_s": str(int(self.rng)),
                "__range_ms": str(int(self.rng * 1000))}.get(name)

    def value(self, name):
        b = self.builtin(name)
        if b is not None:
            return b
        if name not in self.vars:
            return None
        v, vals = self.vars[name]
        if not v.get("multi") and not v.get("includeAll"):
            return regular_escape(vals[0]) if vals else ""
        esc = [special_regex_escape(x) for x in vals]
        return esc[0] if len(esc) == 1 else "(" + "|".join(esc) + ")"

    def interpolate(self, expr):
        def sub(m):
            name = m.group(1) or m.group(2) or m.group(3)
            val = self.value(name)
            return m.group(0) if val is None else val
        return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", sub, expr)


def targets(dash, ctx):
    for p in dash["panels"]:
        for t in p.get("targets", []):
            if t.get("hide") or not t.get("expr"):
                continue
            yield {"panel": p["id"], "title": p.get("title", ""), "type": p["type"],
                   "refId": t.get("refId"), "expr": t["expr"],
                   "query": ctx.interpolate(t["expr"]), "legend": t.get("legendFormat", ""),
                   "instant": bool(t.get("instant"))}


def load(args):
    with open(args.dashboard) as f:
        return json.load(f)


# ---------------------------------------------------------------- drawing

def fmt_unit(v, unit):
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "No data"
    if unit == "percentunit":
        return f"{v * 100:.1f}%"
    if unit == "s":
        a = abs(v)
        if a < 60:
            return f"{v:.1f} s"
        if a < 3600:
            return f"{v / 60:.1f} min"
        return f"{v / 3600:.1f} hour"
    a = abs(v)
    num, prefix = v, ""
    for div, pfx in ((1e9, "G"), (1e6, "M"), (1e3, "K")):
        if a >= div:
            num, prefix = v / div, pfx
            break
    s = f"{num:.3g}" if abs(num) < 1000 else f"{num:.0f}"
    if unit == "Bps":
        return f"{s} {prefix}B/s"
    suffix = {"pps": "p/s", "cps": "c/s", "ops": "ops/s"}.get(unit, "")
    return f"{s} {prefix}{suffix}".strip() if (prefix or suffix) else s


def threshold_color(v, fc):
    steps = (fc.get("thresholds") or {}).get("steps") or DEFAULT_THRESHOLDS
    color = steps[0]["color"]
    for s in steps[1:]:
        if v is not None and s["value"] is not None and v >= s["value"]:
            color = s["color"]
    return COLORS.get(color, color)


def legend(fmt, metric, query):
    if fmt:
        return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: metric.get(m.group(1), ""), fmt).strip()
    labels = {k: v for k, v in metric.items() if k != "__name__"}
    if not labels and "__name__" not in metric:
        return query
    return metric.get("__name__", "") + "{" + ", ".join(f'{k}="{v}"' for k, v in labels.items()) + "}"


def draw_stat(p, series, w, h):
    fc = p.get("fieldConfig", {}).get("defaults", {})
    pts = series[0]["values"] if series else []
    v = float(pts[-1][1]) if pts else None
    text, color = fmt_unit(v, fc.get("unit")), threshold_color(v, fc)
    for m in fc.get("mappings", []):
        if m.get("type") == "value" and v is not None:
            hit = m["options"].get(str(int(v))) if v == int(v) else None
            if hit:
                text = hit.get("text", text)
                color = COLORS.get(hit.get("color"), color) if hit.get("color") else color
    out = []
    if len(pts) > 1:
        ys = [float(y) for _, y in pts]
        lo, hi = min(ys), max(ys)
        span = (hi - lo) or 1
        path = " ".join(f"{8 + (w - 16) * i / (len(ys) - 1):.1f},{h - 6 - (h * 0.35) * (y - lo) / span:.1f}"
                        for i, y in enumerate(ys))
        out.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-opacity="0.5" stroke-width="1.5"/>')
    size = min(h * 0.42, w / max(4, len(text)) * 1.7)
    out.append(f'<text x="{w / 2}" y="{h * 0.55}" fill="{color}" font-size="{size:.0f}" '
               f'font-weight="500" text-anchor="middle" dominant-baseline="middle">{html.escape(text)}</text>')
    return "".join(out)


def nice_ticks(lo, hi, n=4):
    if hi <= lo:
        hi = lo + 1
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw), default=raw)
    start = math.floor(lo / step) * step
    ticks = []
    t = start
    while True:
        ticks.append(round(t, 12))
        if t >= hi - step * 1e-9:
            return ticks
        t += step


def draw_timeseries(p, series, w, h, t0, t1):
    fc = p.get("fieldConfig", {}).get("defaults", {})
    unit = fc.get("unit")
    if not series:
        return (f'<text x="{w / 2}" y="{h / 2}" fill="#8e8e8e" font-size="14" '
                f'text-anchor="middle">No data</text>')
    rows = max(1, math.ceil(len(series) / 2)) if len(series) > 4 else len(series)
    leg_h = min(rows, 4) * 16 + 6
    left, right, top, bottom = 62, 10, 6, h - leg_h - 20
    ys = [float(v) for s in series for _, v in s["values"] if v not in ("NaN", "+Inf", "-Inf")]
    lo = min(0.0, min(ys)) if ys else 0.0
    hi = max(ys) if ys else 1.0
    ticks = nice_ticks(lo, hi if hi > lo else lo + 1)
    lo, hi = ticks[0], ticks[-1]
    X = lambda t: left + (right_x - left) * (t - t0) / ((t1 - t0) or 1)
    right_x = w - right
    Y = lambda v: bottom - (bottom - top) * (v - lo) / ((hi - lo) or 1)
    cid = f"c{p['id']}"
    out = [f'<clipPath id="{cid}"><rect x="{left}" y="{top - 2}" width="{right_x - left}" '
           f'height="{bottom - top + 4}"/></clipPath>']
    for tk in ticks:
        y = Y(tk)
        out.append(f'<line x1="{left}" x2="{right_x}" y1="{y:.1f}" y2="{y:.1f}" stroke="#2c3235"/>')
        out.append(f'<text x="{left - 6}" y="{y + 4:.1f}" fill="#8e8e8e" font-size="11" '
                   f'text-anchor="end">{html.escape(fmt_unit(tk, unit))}</text>')
    span = t1 - t0
    step = next((s for s in (10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600) if span / s <= 8), 7200)
    t = math.ceil(t0 / step) * step
    while t <= t1:
        x = X(t)
        out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{bottom}" stroke="#2c3235"/>')
        out.append(f'<text x="{x:.1f}" y="{bottom + 14}" fill="#8e8e8e" font-size="11" '
                   f'text-anchor="middle">{time.strftime("%H:%M:%S", time.gmtime(t))}</text>')
        t += step
    for i, s in enumerate(series):
        c = PALETTE[i % len(PALETTE)]
        segs, cur = [], []
        prev = None
        for ts, v in s["values"]:
            ts = float(ts)
            if v in ("NaN", "+Inf", "-Inf") or (prev is not None and ts - prev > 2.5 * s["step"]):
                if cur:
                    segs.append(cur)
                cur = []
            if v not in ("NaN", "+Inf", "-Inf"):
                cur.append(f"{X(ts):.1f},{Y(float(v)):.1f}")
            prev = ts
        if cur:
            segs.append(cur)
        for seg in segs:
            if len(seg) == 1:
                x, y = seg[0].split(",")
                out.append(f'<circle cx="{x}" cy="{y}" r="2" fill="{c}" clip-path="url(#{cid})"/>')
            else:
                out.append(f'<polyline points="{" ".join(seg)}" fill="none" stroke="{c}" '
                           f'stroke-width="1.5" clip-path="url(#{cid})"/>')
    # legend (list mode, under the graph)
    cols = 2 if len(series) > 4 else 1
    for i, s in enumerate(series[:8 if cols == 2 else 4]):
        c = PALETTE[i % len(PALETTE)]
        x = left + (i % cols) * (w - left) / cols
        y = bottom + 32 + (i // cols) * 16
        out.append(f'<rect x="{x:.1f}" y="{y - 4}" width="14" height="3" fill="{c}"/>')
        out.append(f'<text x="{x + 20:.1f}" y="{y}" fill="#ccccdc" font-size="12">'
                   f'{html.escape(s["name"])}</text>')
    return "".join(out)


def draw_table(p, frames, w, h):
    """The merge transformation: one row per label set, one column per
    query (named by its legend), label columns first."""
    rows, labels, cols = {}, [], []
    for name, result in frames:
        cols.append(name)
        for r in result:
            m = {k: v for k, v in r["metric"].items() if k != "__name__"}
            key = tuple(sorted(m.items()))
            rows.setdefault(key, {})[name] = r["value"][1]
            for k in m:
                if k not in labels:
                    labels.append(k)
    header = labels + cols
    cw = w / max(1, len(header))
    out = [f'<rect x="0" y="0" width="{w}" height="26" fill="#22252b"/>']
    for j, hname in enumerate(header):
        out.append(f'<text x="{j * cw + 6:.1f}" y="17" fill="#6e9fff" font-size="12" '
                   f'font-weight="500">{html.escape(hname)}</text>')
    for i, (key, vals) in enumerate(sorted(rows.items())):
        y = 26 + 24 * i + 16
        d = dict(key)
        cells = [d.get(k, "") for k in labels] + [vals.get(c, "") for c in cols]
        for j, cell in enumerate(cells):
            maxch = max(4, int((cw - 14) / 7.4))
            s = cell if len(cell) <= maxch else "…" + cell[-(maxch - 1):]
            out.append(f'<text x="{j * cw + 6:.1f}" y="{y}" fill="#ccccdc" font-size="12">'
                       f'{html.escape(s)}</text>')
        out.append(f'<line x1="0" x2="{w}" y1="{y + 8}" y2="{y + 8}" stroke="#2c3235"/>')
    return "".join(out)


def render(dash, args):
    end = args.end or time.time()
    t0, t1 = end - args.range, end
    width = args.width
    colw = (width - GAP) / COLS
    # $__interval: the range over the widest panel's plot width, at least the
    # scrape interval (Grafana: range / max data points, min interval)
    interval = max(args.scrape_interval, math.ceil(args.range / (colw * 12)))
    ctx = Context(dash, args.prometheus, args.scrape_interval, interval, args.range, end)
    bottom_units = max(p["gridPos"]["y"] + p["gridPos"]["h"] for p in dash["panels"])
    header_h = 56
    height = header_h + bottom_units * (CELL_H + GAP) + 40
    panels = []
    for p in dash["panels"]:
        g = p["gridPos"]
        x = GAP + g["x"] * colw
        y = header_h + g["y"] * (CELL_H + GAP)
        w = g["w"] * colw - GAP
        h = g["h"] * CELL_H + (g["h"] - 1) * GAP
        body_h = h - 30
        ts = [t for t in targets({"panels": [p]}, ctx)]
        if p["type"] == "table":
            frames = [(t["legend"] or t["refId"],
                       prom(args.prometheus, "/api/v1/query", query=t["query"], time=t1)["result"])
                      for t in ts]
            svg = draw_table(p, frames, w, body_h)
        else:
            series = []
            for t in ts:
                res = prom(args.prometheus, "/api/v1/query_range", query=t["query"],
                           start=t0, end=t1, step=interval)["result"]
                for r in res:
                    series.append({"name": legend(t["legend"], r["metric"], t["query"]),
                                   "values": r["values"], "step": interval})
            svg = (draw_stat(p, series, w, body_h) if p["type"] == "stat"
                   else draw_timeseries(p, series, w, body_h, t0, t1))
        panels.append(
            f'<div class="panel" style="left:{x:.1f}px;top:{y:.1f}px;width:{w:.1f}px;height:{h:.1f}px">'
            f'<div class="title">{html.escape(p.get("title", ""))}</div>'
            f'<svg width="{w:.1f}" height="{body_h:.1f}">{svg}</svg></div>')
    sel = "".join(f'<span class="var"><b>{html.escape(v.get("label") or n)}</b> '
                  f'{html.escape(v.get("current", {}).get("text", ""))}</span>'
                  for n, (v, _) in ctx.vars.items())
    when = (time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(t0)) + " to " +
            time.strftime("%H:%M:%S UTC", time.gmtime(t1)))
    build = prom(args.prometheus, "/api/v1/status/buildinfo").get("version", "?")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin:0; background:#111217; font-family:Inter,"DejaVu Sans",Helvetica,Arial,sans-serif; color:#ccccdc; }}
.head {{ position:absolute; left:{GAP}px; top:8px; right:{GAP}px; height:40px; }}
.head h1 {{ font-size:18px; font-weight:500; margin:0 18px 0 0; display:inline-block; }}
.var {{ font-size:12px; background:#181b1f; border:1px solid #2c3235; padding:5px 8px; margin-right:6px; }}
.var b {{ color:#6e9fff; font-weight:500; margin-right:4px; }}
.range {{ position:absolute; right:0; top:2px; font-size:12px; color:#8e8e8e; }}
.panel {{ position:absolute; background:#181b1f; border:1px solid #2c3235; border-radius:2px; box-sizing:border-box; overflow:hidden; }}
.title {{ height:30px; line-height:30px; padding-left:8px; font-size:14px; font-weight:500; }}
.foot {{ position:absolute; left:{GAP}px; top:{height - 30}px; font-size:12px; color:#8e8e8e; }}
</style></head><body>
<div class="head"><h1>{html.escape(dash.get("title", ""))}</h1>{sel}
<span class="range">{when} &middot; $__interval {dur(interval)}, $__rate_interval {ctx.value("__rate_interval")}</span></div>
{"".join(panels)}
<div class="foot">contrib/grafana/zonewall.json's own queries, evaluated by Prometheus {html.escape(build)} against a live zonewalld
and drawn by contrib/grafana/dashboard.py (Grafana cannot be installed here): importing the JSON into Grafana gives the same panels.</div>
</body></html>"""
    hpath = args.html or os.path.join(tempfile.mkdtemp(prefix="zw-dash."), "dashboard.html")
    with open(hpath, "w") as f:
        f.write(page)
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if not chromium:
        raise SystemExit("chromium not found (scripts/deps.sh installs it)")
    prof = tempfile.mkdtemp(prefix="zw-dash-chromium.")
    try:
        r = subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                            "--disable-background-networking", "--disable-component-update",
                            "--disable-sync", "--no-first-run", "--hide-scrollbars",
                            f"--user-data-dir={prof}", f"--window-size={width},{int(height)}",
                            f"--screenshot={os.path.abspath(args.out)}", f"file://{os.path.abspath(hpath)}"],
                           capture_output=True, text=True, timeout=180)
    finally:
        shutil.rmtree(prof, ignore_errors=True)
    if r.returncode != 0 or not os.path.exists(args.out):
        raise SystemExit(f"chromium failed: {r.stderr.strip()[-500:]}")
    print(f"{args.out}: {len(dash['panels'])} panels, {width}x{int(height)}, "
          f"{when}, interval {dur(interval)}")


def main():
    ap = argparse.ArgumentParser(prog="dashboard.py", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("cmd", choices=["queries", "check", "render"])
    ap.add_argument("--prometheus", required=True, help="base URL, e.g. http://127.0.0.1:9090")
    ap.add_argument("--dashboard", default=DEFAULT_DASH)
    ap.add_argument("--scrape-interval", type=float, default=15,
                    help="the data source's scrape interval (Grafana's default 15 s)")
    ap.add_argument("--interval", type=float, help="$__interval (default: the scrape interval)")
    ap.add_argument("--range", type=float, default=3600, help="seconds shown (default 1 h)")
    ap.add_argument("--end", type=float, help="end of the range, UNIX time (default now)")
    ap.add_argument("--out", help="render: the PNG")
    ap.add_argument("--html", help="render: keep the page here")
    ap.add_argument("--width", type=int, default=1600)
    a = ap.parse_args()
    dash = load(a)
    try:
        if a.cmd == "render":
            if not a.out:
                ap.error("render needs --out")
            render(dash, a)
            return 0
        end = a.end or time.time()
        ctx = Context(dash, a.prometheus, a.scrape_interval, a.interval or a.scrape_interval,
                      a.range, end)
    except PromError as e:
        print(f"dashboard.py: {e}", file=sys.stderr)
        return 1
    if a.cmd == "queries":
        for n, (v, vals) in ctx.vars.items():
            print(json.dumps({"variable": n, "values": vals}))
        for t in targets(dash, ctx):
            print(json.dumps(t))
        return 0
    bad = 0
    for t in targets(dash, ctx):
        try:
            res = prom(a.prometheus, "/api/v1/query", query=t["query"], time=end)["result"]
            msg = f"ok {len(res)} series" if res else "EMPTY: no data"
            bad += not res
        except PromError as e:
            msg, bad = f"INVALID: {e}", bad + 1
        print(f"panel {t['panel']} {t['title']!r} {t['refId']}: {msg}: {t['query']}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
