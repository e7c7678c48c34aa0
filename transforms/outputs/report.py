"""The scanning report: one self-contained HTML page for the weekly meeting.

`build_report(con, settings, as_of, out_dir)` reads the warehouse (read-only queries) and writes
`out_dir/index.html`: inline CSS, inline SVG charts and maps, no scripts, no network references, so
it opens offline and prints. Every section is built on its own; a missing table or column (or any
other error) turns that section into a short "not available yet" note, never a crash.
"""

from __future__ import annotations

import html
import math
from collections.abc import Callable, Sequence
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from transforms.config import Settings

SECTION_IDS = [
    "compstat", "response-times", "trends", "hotspot-map", "repeat-locations", "emerging-hotspots",
    "near-repeat", "hour-of-week", "demand-split", "problems", "data-quality",
]

GI_COLOURS = {-3: "#2166ac", -2: "#67a9cf", -1: "#d1e5f0", 0: "#f4f4f4", 1: "#fddbc7", 2: "#ef8a62",
              3: "#b2182b"}
GI_LABELS = {-3: "cold 99%", -2: "cold 95%", -1: "cold 90%", 0: "not significant", 1: "hot 90%",
             2: "hot 95%", 3: "hot 99%"}
SERIES_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]

CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;margin:0;color:#222;background:#fff}
header{background:#1d3557;color:#fff;padding:16px 24px}
header h1{margin:0 0 4px 0;font-size:22px}
header p{margin:2px 0;font-size:13px}
main{padding:8px 24px 40px 24px;max-width:1180px}
section{border-bottom:1px solid #ddd;padding:10px 0 18px 0}
h2{font-size:18px;margin:10px 0 4px 0;color:#1d3557}
h3{font-size:14px;margin:12px 0 4px 0}
p.how{font-size:12px;color:#555;margin:0 0 8px 0;font-style:italic}
p.na{font-size:13px;color:#8a6d3b;background:#fcf8e3;padding:6px 10px;border-radius:3px}
table{border-collapse:collapse;font-size:12px;margin:4px 0 10px 0}
th,td{border:1px solid #ccc;padding:2px 6px;text-align:right}
th{background:#f0f0f0}
td.t,th.t{text-align:left}
td.up{background:#f8d0c8}
td.down{background:#d0e0f4}
td.flag{background:#ffe08a;font-weight:bold}
.charts{display:flex;flex-wrap:wrap;gap:12px}
svg{background:#fff}
svg text{font-family:system-ui,Arial,sans-serif}
@media print{section{page-break-inside:avoid}}
"""


def esc(v: object) -> str:
    return html.escape("" if v is None else str(v), quote=True)


class _Missing(Exception):
    """A table or column the section needs is not in the warehouse (yet)."""


# ---------------------------------------------------------------------------------------------
# warehouse helpers
# ---------------------------------------------------------------------------------------------


def _columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    schema, table = qualified.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", [schema, table]).fetchall()
    return [r[0] for r in rows]


def _need(con: duckdb.DuckDBPyConnection, qualified: str, cols: Sequence[str] = ()) -> list[str]:
    have = _columns(con, qualified)
    if not have:
        raise _Missing(f"{qualified} is not in the warehouse")
    missing = [c for c in cols if c not in have]
    if missing:
        raise _Missing(f"{qualified} has no column {', '.join(missing)}")
    return have


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[dict]:
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def _pick(available: Sequence[object], preferred: Sequence[object]) -> object | None:
    for p in preferred:
        if p in available:
            return p
    return available[0] if available else None


def _nearest(available: Sequence[int], target: int) -> int | None:
    return min(available, key=lambda w: (abs(w - target), w)) if available else None


# ---------------------------------------------------------------------------------------------
# formatting helpers
# ---------------------------------------------------------------------------------------------


def _fmt(v: object) -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if math.isnan(v):
            return ""
        return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.2f}"
    if isinstance(v, int):
        return f"{v:,}"
    return str(v)


def _table(rows: list[dict], cols: Sequence[str] | None = None,
           cell_class: Callable[[str, object, dict], str] | None = None,
           fmt: Callable[[str, object], str] | None = None) -> str:
    if not rows:
        return '<p class="na">No rows.</p>'
    cols = list(cols or rows[0].keys())

    def is_text(c: str) -> bool:
        return not any(isinstance(r.get(c), int | float) and not isinstance(r.get(c), bool) for r in rows)

    text_cols = {c for c in cols if is_text(c)}
    out = ["<table><thead><tr>"]
    out += [f'<th class="{"t" if c in text_cols else ""}">{esc(c)}</th>' for c in cols]
    out.append("</tr></thead><tbody>")
    for r in rows:
        out.append("<tr>")
        for c in cols:
            v = r.get(c)
            classes = ["t"] if c in text_cols else []
            if cell_class:
                extra = cell_class(c, v, r)
                if extra:
                    classes.append(extra)
            cls = f' class="{" ".join(classes)}"' if classes else ""
            out.append(f"<td{cls}>{esc(fmt(c, v) if fmt else _fmt(v))}</td>")
        out.append("</tr>")
    out.append("</tbody></table>")
    return "".join(out)


def _pct(v: object) -> str:
    return "" if v is None else f"{100 * float(v):.0f}%"


# ---------------------------------------------------------------------------------------------
# SVG helpers
# ---------------------------------------------------------------------------------------------


def _svg(kind: str, w: float, h: float, body: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{esc(kind)}" role="img" '
            f'aria-label="{esc(label)}" width="{w:.0f}" height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}">'
            f"<title>{esc(label)}</title>{body}</svg>")


def _nice_max(v: float) -> float:
    if v <= 0:
        return 1.0
    mag = 10 ** math.floor(math.log10(v))
    for m in (1, 2, 2.5, 5, 10):
        if v <= m * mag:
            return m * mag
    return 10 * mag


def line_chart(series: dict[str, list[float]], x_labels: list[str], title: str,
               w: int = 360, h: int = 200, kind: str = "trend") -> str:
    """One polyline per series over the same x positions (x_labels), with a zero-based y axis."""
    left, right, top, bottom = 44, 10, 24, 34
    pw, ph = w - left - right, h - top - bottom
    n = max((len(v) for v in series.values()), default=0)
    ymax = _nice_max(max((max(v) for v in series.values() if v), default=0))
    parts = [f'<text x="{left}" y="15" font-size="12" font-weight="bold">{esc(title)}</text>']
    for i in range(5):
        yv = ymax * i / 4
        y = top + ph - ph * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{_fmt(yv)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>')

    def xpos(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    for i in sorted({0, n // 2, n - 1}) if n else []:
        if i < len(x_labels):
            parts.append(f'<text x="{xpos(i):.1f}" y="{top + ph + 13}" font-size="9" '
                         f'text-anchor="middle">{esc(x_labels[i])}</text>')
    for k, (name, vals) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        pts = " ".join(f"{xpos(i):.1f},{top + ph - ph * v / ymax:.1f}" for i, v in enumerate(vals))
        parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{pts}">'
                     f"<title>{esc(name)}</title></polyline>")
        lx = left + (k % 3) * (pw / 3)
        ly = h - 6 - 0 * (k // 3)
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 7}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{lx + 13:.1f}" y="{ly - 3}" font-size="9">{esc(name[:28])}</text>')
    return _svg(kind, w, h, "".join(parts), title)


def _geom_path(geom, tx: Callable[[float, float], tuple[float, float]]) -> str:
    polys = list(geom.geoms) if hasattr(geom, "geoms") else [geom]
    d = []
    for p in polys:
        if p.geom_type != "Polygon" or p.is_empty:
            continue
        for ring in [p.exterior, *p.interiors]:
            coords = list(ring.coords)
            if len(coords) < 3:
                continue
            pts = [tx(x, y) for x, y, *_ in coords]
            d.append("M" + "L".join(f"{x:.1f} {y:.1f}" for x, y in pts) + "Z")
    return "".join(d)


def hotspot_map(cells: list[tuple[object, int]], boundary, title: str, subtitle: str, w: int = 640) -> str:
    """Cells (shapely geometry, gi_bin) as paths coloured by gi_bin, the boundary on top, a legend."""
    geoms = [g for g, _ in cells if g is not None and not g.is_empty]
    if boundary is not None and not boundary.is_empty:
        geoms.append(boundary)
    if not geoms:
        raise _Missing("no geometry to draw")
    bx = [g.bounds for g in geoms]
    x0, y0 = min(b[0] for b in bx), min(b[1] for b in bx)
    x1, y1 = max(b[2] for b in bx), max(b[3] for b in bx)
    top, legend_h, pad = 40, 34, 8
    span_x, span_y = max(x1 - x0, 1e-9), max(y1 - y0, 1e-9)
    scale = (w - 2 * pad) / span_x
    map_h = span_y * scale
    if map_h > 720:
        scale = 720 / span_y
        map_h = 720
    h = top + map_h + legend_h + pad

    def tx(x: float, y: float) -> tuple[float, float]:
        return pad + (x - x0) * scale, top + (y1 - y) * scale

    parts = [f'<text x="{pad}" y="16" font-size="14" font-weight="bold">{esc(title)}</text>',
             f'<text x="{pad}" y="32" font-size="11" fill="#444">{esc(subtitle)}</text>']
    for g, b in sorted(cells, key=lambda c: abs(int(c[1] or 0))):
        if g is None or g.is_empty:
            continue
        b = max(-3, min(3, int(b or 0)))
        d = _geom_path(g, tx)
        if d:
            stroke = ' stroke="#fff" stroke-width="0.3"' if b else ""
            parts.append(f'<path d="{d}" fill="{GI_COLOURS[b]}"{stroke} data-gi="{b}"/>')
    if boundary is not None and not boundary.is_empty:
        parts.append(f'<path d="{_geom_path(boundary, tx)}" fill="none" stroke="#222" stroke-width="1.4" '
                     f'fill-rule="evenodd" data-role="boundary"/>')
    ly = top + map_h + 10
    box = (w - 2 * pad) / 7
    for i, b in enumerate(range(-3, 4)):
        lx = pad + i * box
        parts.append(f'<rect x="{lx:.1f}" y="{ly:.1f}" width="14" height="10" fill="{GI_COLOURS[b]}" '
                     f'stroke="#999" stroke-width="0.5"/><text x="{lx + 18:.1f}" y="{ly + 9:.1f}" '
                     f'font-size="10">{esc(GI_LABELS[b])}</text>')
    return _svg("map", w, h, "".join(parts), f"{title}: {subtitle}")


def lorenz_chart(points: list[tuple[float, float]], title: str, share80: float | None,
                 w: int = 260, h: int = 240) -> str:
    left, top, size = 40, 22, min(w - 50, h - 52)
    parts = [f'<text x="4" y="14" font-size="11" font-weight="bold">{esc(title)}</text>',
             f'<rect x="{left}" y="{top}" width="{size}" height="{size}" fill="none" stroke="#999"/>',
             f'<line x1="{left}" y1="{top + size}" x2="{left + size}" y2="{top}" stroke="#bbb" '
             f'stroke-dasharray="4 3"/>']

    def tx(px: float, py: float) -> tuple[float, float]:
        return left + px * size, top + size - py * size

    y80 = tx(0, 0.8)[1]
    parts.append(f'<line x1="{left}" y1="{y80:.1f}" x2="{left + size}" y2="{y80:.1f}" stroke="#d62728" '
                 f'stroke-width="0.8" stroke-dasharray="3 2"/>'
                 f'<text x="{left - 3}" y="{y80 + 3:.1f}" font-size="9" text-anchor="end">80%</text>')
    pts = " ".join("{:.1f},{:.1f}".format(*tx(x, y)) for x, y in [(0.0, 0.0), *points])
    parts.append(f'<polyline fill="none" stroke="#1f77b4" stroke-width="2" points="{pts}"/>')
    if share80 is not None:
        x80 = tx(share80, 0)[0]
        parts.append(f'<line x1="{x80:.1f}" y1="{y80:.1f}" x2="{x80:.1f}" y2="{top + size}" stroke="#d62728" '
                     f'stroke-width="0.8" stroke-dasharray="3 2"/>')
    parts.append(f'<text x="{left + size / 2}" y="{top + size + 14}" font-size="9" text-anchor="middle">'
                 f"share of locations (most events first)</text>"
                 f'<text x="{left + size / 2}" y="{top + size + 26}" font-size="9" text-anchor="middle">'
                 f"{esc(f'{share80:.0%} of locations hold 80% of events' if share80 is not None else '')}"
                 f"</text>")
    return _svg("lorenz", w, h, "".join(parts), title)


def heat_grid(weights: list[float], title: str, w: int = 560) -> str:
    """Hour-of-week heat map: 7 rows (Mon..Sun) x 24 columns; slot = day * 24 + hour."""
    left, top, cell = 34, 30, (w - 44) / 24
    vmax = max(weights) if weights and max(weights) > 0 else 1.0
    parts = [f'<text x="4" y="14" font-size="12" font-weight="bold">{esc(title)}</text>']
    for slot in range(168):
        d, hr = divmod(slot, 24)
        v = weights[slot] if slot < len(weights) else 0.0
        t = v / vmax
        r, g, b = int(255 - 20 * t), int(255 - 175 * t), int(255 - 235 * t)
        parts.append(f'<rect x="{left + hr * cell:.1f}" y="{top + d * cell:.1f}" width="{cell - 1:.1f}" '
                     f'height="{cell - 1:.1f}" fill="rgb({r},{g},{b})"><title>{DAYS[d]} {hr:02d}:00 '
                     f"{_fmt(float(v))}</title></rect>")
    for d, name in enumerate(DAYS):
        parts.append(f'<text x="{left - 4}" y="{top + d * cell + cell * 0.65:.1f}" font-size="10" '
                     f'text-anchor="end">{name}</text>')
    for hr in range(0, 24, 3):
        parts.append(f'<text x="{left + hr * cell + cell / 2:.1f}" y="{top - 4}" font-size="9" '
                     f'text-anchor="middle">{hr:02d}</text>')
    h = top + 7 * cell + 8
    return _svg("heatmap", w, h, "".join(parts), title)


def share_bar(shares: dict[str, float], w: int = 160, h: int = 14) -> str:
    colours = {"community": "#2ca02c", "officer": "#1f77b4", "unknown": "#bbbbbb"}
    x, parts = 0.0, []
    for k in ("community", "officer", "unknown"):
        s = shares.get(k, 0.0) or 0.0
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w * s:.1f}" height="{h}" fill="{colours[k]}">'
                     f"<title>{k} {s:.0%}</title></rect>")
        x += w * s
    return _svg("share", w, h, "".join(parts), "community / officer / unknown share")


# ---------------------------------------------------------------------------------------------
# sections
# ---------------------------------------------------------------------------------------------


class _Ctx:
    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date):
        self.con, self.settings, self.as_of = con, settings, as_of
        self.origin = settings.sara.analysis.default_origin
        self.names = {k: a.name for k, a in settings.sara.agencies.items()}

    def name(self, agency: object) -> str:
        return self.names.get(str(agency), str(agency))


def _sec_compstat(c: _Ctx) -> str:
    cols = _need(c.con, "marts.compstat", ["agency", "period", "n"])
    want = [k for k in ("agency", "unit_type", "unit_id", "dataset", "category_group", "period", "n",
                        "n_last_year", "change", "pct_change", "poisson_z") if k in cols]
    order = ", ".join(k for k in ("agency", "dataset", "category_group") if k in cols)
    period_order = "CASE period WHEN 'week' THEN 0 WHEN '28d' THEN 1 WHEN 'ytd' THEN 2 ELSE 3 END"
    where = "WHERE unit_type = 'agency'" if "unit_type" in cols else ""
    rows = _rows(c.con, f"SELECT {', '.join(want)} FROM marts.compstat {where} "
                        f"ORDER BY {order}, {period_order} LIMIT 300")
    if not rows and where:
        rows = _rows(c.con, f"SELECT {', '.join(want)} FROM marts.compstat ORDER BY {order}, {period_order} "
                            f"LIMIT 300")
    if not rows:
        raise _Missing("marts.compstat has no rows")

    def zclass(col: str, v: object, r: dict) -> str:
        if col not in ("poisson_z", "change", "pct_change"):
            return ""
        z = r.get("poisson_z")
        if z is None or (isinstance(z, float) and math.isnan(z)):
            return ""
        return "up" if z >= 2 else "down" if z <= -2 else ""

    def fmt(col: str, v: object) -> str:
        return f"{float(v):+.0f}%" if col == "pct_change" and v is not None else _fmt(v)  # already in percent

    out = [_table([{k: (c.name(v) if k == "agency" else v) for k, v in r.items()} for r in rows], want,
                  zclass, fmt)]
    if {"unit_type", "poisson_z"} <= set(cols):
        movers = _rows(c.con, f"SELECT {', '.join(want)} FROM marts.compstat WHERE unit_type <> 'agency' "
                              "AND period = '28d' AND poisson_z IS NOT NULL AND NOT isnan(poisson_z) "
                              "ORDER BY poisson_z DESC LIMIT 10")
        if movers:
            out.insert(0, "<h3>Largest 28-day increases below agency level</h3>"
                       + _table(movers, want, zclass, fmt) + "<h3>Agency totals</h3>")
    return "".join(out)


def _sec_response(c: _Ctx) -> str:
    cols = _need(c.con, "marts.response_times")
    keys = [k for k in ("agency", "priority_level", "district", "month") if k in cols]
    where = ""
    if "month" in cols:
        where = "WHERE month = (SELECT max(month) FROM marts.response_times)"
    order = ", ".join(keys) or "1"
    rows = _rows(c.con, f"SELECT * FROM marts.response_times {where} ORDER BY {order} LIMIT 120")
    if not rows:
        raise _Missing("marts.response_times has no rows")
    show = [k for k in cols if k != "geom"]
    out = []
    if "month" in cols:
        out.append(f"<p>Latest month: {esc(rows[0].get('month'))}.</p>")
        if {"agency", "response_s_median", "n_calls"} <= set(cols):
            trend = _rows(c.con, """SELECT agency, month,
                                           sum(response_s_median * n_calls) / nullif(sum(n_calls), 0) AS med
                                    FROM marts.response_times WHERE response_s_median IS NOT NULL
                                    GROUP BY ALL ORDER BY month""")
            months = sorted({r["month"] for r in trend})[-24:]
            series: dict[str, list[float]] = {}
            for ag in sorted({r["agency"] for r in trend}):
                by = {r["month"]: (r["med"] or 0.0) / 60 for r in trend if r["agency"] == ag}
                series[c.name(ag)] = [float(by.get(m, 0.0)) for m in months]
            if months:
                out.append(line_chart(series, [str(m)[:7] for m in months],
                                      "Median response, minutes (call-weighted)", w=520,
                                      kind="response"))
    out.append(_table([{k: (c.name(r[k]) if k == "agency" else r[k]) for k in show} for r in rows], show))
    return "".join(out)


def _sec_trends(c: _Ctx) -> str:
    _need(c.con, "marts.events", ["dataset", "agency", "category", "local_date"])
    _need(c.con, "marts.category_groups", ["dataset", "category_group", "category"])
    start = c.as_of - timedelta(days=26 * 7 - 1)
    rows = _rows(c.con, """
        SELECT e.dataset, g.category_group, e.agency,
               CAST(floor(date_diff('day', e.local_date, CAST(? AS DATE)) / 7) AS INTEGER) AS wk,
               count(*) AS n
        FROM marts.events e
        JOIN marts.category_groups g ON g.dataset = e.dataset AND (g.category = '*' OR g.category = e.category)
        WHERE e.local_date BETWEEN CAST(? AS DATE) AND CAST(? AS DATE)
        GROUP BY ALL""", [c.as_of, start, c.as_of])
    if not rows:
        raise _Missing("no events in the last 26 weeks")
    labels = [(c.as_of - timedelta(days=7 * (25 - i))).isoformat() for i in range(26)]
    charts = []
    for ds, grp in sorted({(r["dataset"], r["category_group"]) for r in rows},
                          key=lambda k: (k[0], k[1] != "all", k[1])):
        series = {}
        for ag in sorted({r["agency"] for r in rows if (r["dataset"], r["category_group"]) == (ds, grp)}):
            vals = [0.0] * 26
            for r in rows:
                if (r["dataset"], r["category_group"], r["agency"]) == (ds, grp, ag) and 0 <= r["wk"] < 26:
                    vals[25 - r["wk"]] = float(r["n"])
            series[c.name(ag)] = vals
        charts.append(line_chart(series, labels, f"{ds} / {grp}: events per week"))
    return f'<div class="charts">{"".join(charts)}</div>'


def _hot_choice(c: _Ctx, table: str, agency: str, origin_pref: Sequence[str]) -> tuple[str, int] | None:
    avail = _rows(c.con, f"""SELECT DISTINCT origin, window_days FROM {table}
                             WHERE agency = ? AND unit_type = 'grid' AND dataset = 'calls'
                               AND category_group = 'all'""", [agency])
    origin = _pick(sorted({r["origin"] for r in avail}), origin_pref)
    if origin is None:
        return None
    window = _nearest(sorted({int(r["window_days"]) for r in avail if r["origin"] == origin}), 28)
    return (str(origin), int(window)) if window is not None else None


def _sec_map(c: _Ctx) -> str:
    from shapely import wkb

    _need(c.con, "marts.hotspots", ["agency", "unit_type", "dataset", "category_group", "origin",
                                    "window_days", "gi_bin", "geom"])
    agencies = [r["agency"] for r in _rows(c.con, "SELECT DISTINCT agency FROM marts.hotspots ORDER BY 1")]
    if not agencies:
        raise _Missing("marts.hotspots has no rows")
    boundaries = {}
    if _columns(c.con, "meta.agency_areas"):
        for r in _rows(c.con, "SELECT agency, ST_AsWKB(geom) AS g FROM meta.agency_areas WHERE geom IS NOT NULL"):
            boundaries[r["agency"]] = wkb.loads(bytes(r["g"]))
    out = []
    for ag in agencies:
        choice = _hot_choice(c, "marts.hotspots", ag, [c.origin, "all"])
        if choice is None:
            out.append(f'<p class="na">{esc(c.name(ag))}: no grid hot spots for calls yet.</p>')
            continue
        origin, window = choice
        rows = _rows(c.con, """SELECT ST_AsWKB(geom) AS g, gi_bin FROM marts.hotspots
                               WHERE agency = ? AND unit_type = 'grid' AND dataset = 'calls'
                                 AND category_group = 'all' AND origin = ? AND window_days = ?
                                 AND geom IS NOT NULL""", [ag, origin, window])
        cells = [(wkb.loads(bytes(r["g"])), r["gi_bin"]) for r in rows]
        n_hot = sum(1 for _, b in cells if (b or 0) > 0)
        sub = (f"calls, all categories, {origin} origin, last {window} days to {c.as_of.isoformat()}; "
               f"{len(cells):,} cells, {n_hot:,} hot")
        out.append(hotspot_map(cells, boundaries.get(ag), c.name(ag), sub))
    return f'<div class="charts">{"".join(out)}</div>'


def _sec_repeat(c: _Ctx) -> str:
    cols = _need(c.con, "marts.repeat_location_rows", ["agency", "dataset", "category_group", "origin",
                                                        "n_repeat_window", "rank", "cum_share_events",
                                                        "cum_share_locations"])
    combos = _rows(c.con, """SELECT DISTINCT agency, dataset, origin FROM marts.repeat_location_rows
                             WHERE category_group = 'all' ORDER BY agency, dataset""")
    if not combos:
        raise _Missing("marts.repeat_location_rows has no rows")
    out = []
    for ag, ds in sorted({(r["agency"], r["dataset"]) for r in combos}):
        origin = _pick(sorted({r["origin"] for r in combos if (r["agency"], r["dataset"]) == (ag, ds)}),
                       [c.origin, "all"])
        base = ("FROM marts.repeat_location_rows WHERE agency = ? AND dataset = ? AND category_group = 'all' "
                "AND origin = ?")
        show = [k for k in ("rank", "address_block", "location_key", "n_repeat_window", "cum_share_events",
                            "is_repeat") if k in cols]
        top = _rows(c.con, f"SELECT {', '.join(show)} {base} ORDER BY rank, n_repeat_window DESC LIMIT 15",
                    [ag, ds, origin])
        curve = _rows(c.con, f"SELECT cum_share_locations AS x, cum_share_events AS y {base} "
                             "ORDER BY cum_share_locations", [ag, ds, origin])
        step = max(1, len(curve) // 200)
        pts = [(float(r["x"]), float(r["y"])) for r in curve[::step]]
        if curve:
            pts.append((float(curve[-1]["x"]), float(curve[-1]["y"])))
        share80 = next((float(r["x"]) for r in curve if float(r["y"]) >= 0.8), None)
        title = f"{c.name(ag)}: {ds}, {origin} origin"
        tbl = _table(top, show, fmt=lambda k, v: _pct(v) if k == "cum_share_events" else _fmt(v))
        out.append(f"<h3>{esc(title)}</h3><div class=\"charts\"><div>{tbl}</div>"
                   f"{lorenz_chart(pts, '80/20 curve', share80)}</div>")
    return "".join(out)


def _sec_emerging(c: _Ctx) -> str:
    table = "marts.emerging_hotspot_rows" if _columns(c.con, "marts.emerging_hotspot_rows") \
        else "marts.emerging_hotspots"
    cols = _need(c.con, table, ["agency", "pattern"])
    filt, params = [], []
    if "category_group" in cols:
        filt.append("category_group = 'all'")
    if "origin" in cols:
        origins = [r["origin"] for r in _rows(c.con, f"SELECT DISTINCT origin FROM {table}")]
        o = _pick(sorted(origins), [c.origin, "all"])
        if o is not None:
            filt.append("origin = ?")
            params.append(o)
    ds = ", dataset" if "dataset" in cols else ""
    where = f"WHERE {' AND '.join(filt)}" if filt else ""
    rows = _rows(c.con, f"SELECT agency{ds}, pattern, count(*) AS n FROM {table} {where} GROUP BY ALL",
                 params)
    if not rows:
        raise _Missing(f"{table} has no rows")
    patterns = sorted({r["pattern"] for r in rows}, key=lambda p: (p == "No Pattern Detected", p))
    keys = sorted({(r["agency"], r.get("dataset", "")) for r in rows})
    table_rows = []
    for ag, d in keys:
        row: dict[str, object] = {"agency": c.name(ag)}
        if ds:
            row["dataset"] = d
        for p in patterns:
            row[p] = sum(r["n"] for r in rows if (r["agency"], r.get("dataset", "")) == (ag, d)
                         and r["pattern"] == p)
        table_rows.append(row)
    note = f"<p>Origin: {esc(params[0])}, category group: all.</p>" if params else ""
    return note + _table(table_rows)


def _sec_knox(c: _Ctx) -> str:
    cols = _need(c.con, "marts.near_repeat", ["space_lo", "space_hi", "time_lo", "time_hi", "observed",
                                              "knox_ratio"])
    rows = _rows(c.con, "SELECT * FROM marts.near_repeat")
    if not rows:
        raise _Missing("marts.near_repeat has no rows")
    gkeys = [k for k in ("agency", "dataset", "category_group") if k in cols]
    out = []
    for key in sorted({tuple(r[k] for k in gkeys) for r in rows}, key=lambda t: tuple(map(str, t))):
        sub = [r for r in rows if tuple(r[k] for k in gkeys) == key]
        spaces = sorted({(r["space_lo"], r["space_hi"]) for r in sub}, key=lambda s: (s[0], s[1]))
        times = sorted({(r["time_lo"], r["time_hi"]) for r in sub}, key=lambda s: (s[0], s[1]))
        cell = {((r["space_lo"], r["space_hi"]), (r["time_lo"], r["time_hi"])): r for r in sub}
        label = ", ".join(c.name(v) if k == "agency" else str(v) for k, v in zip(gkeys, key, strict=True))
        t = [f"<h3>{esc(label or 'all events')}</h3><table><thead><tr><th class=\"t\">distance \\ days</th>"]
        t += [f"<th>{esc(_fmt(lo))}–{esc(_fmt(hi))}</th>" for lo, hi in times]
        t.append("</tr></thead><tbody>")
        for s in spaces:
            t.append(f'<tr><th class="t">{esc(_fmt(s[0]))}–{esc(_fmt(s[1]))} m</th>')
            for tm in times:
                r = cell.get((s, tm))
                if r is None:
                    t.append("<td></td>")
                    continue
                ratio, p = r.get("knox_ratio"), r.get("p_value")
                style = ""
                if ratio is not None and p is not None and ratio > 1 and p < 0.05:
                    a = min(1.0, (float(ratio) - 1) / 2) * 0.8 + 0.2
                    style = f' style="background:rgba(214,39,40,{a:.2f})"'
                ps = f"p={p:.3f}" if p is not None else ""
                t.append(f'<td{style} title="observed {esc(_fmt(r.get("observed")))}, expected '
                         f'{esc(_fmt(r.get("expected_mean")))}">{esc(_fmt(ratio))}<br>'
                         f'<small>{esc(ps)}</small></td>')
            t.append("</tr>")
        t.append("</tbody></table>")
        out.append("".join(t))
    return "".join(out)


def _sec_heat(c: _Ctx) -> str:
    cols = _need(c.con, "marts.temporal_profile", ["agency", "slot", "weight"])
    filt = [f for f, col in (("unit_type = 'agency'", "unit_type"), ("category_group = 'all'", "category_group"))
            if col in cols]
    ds = ", dataset" if "dataset" in cols else ""
    where = f"WHERE {' AND '.join(filt)}" if filt else ""
    rows = _rows(c.con, f"SELECT agency{ds}, slot, sum(weight) AS w FROM marts.temporal_profile {where} "
                        "GROUP BY ALL")
    if not rows:
        raise _Missing("marts.temporal_profile has no agency-wide rows")
    out = []
    for ag, d in sorted({(r["agency"], r.get("dataset", "")) for r in rows}):
        weights = [0.0] * 168
        for r in rows:
            if (r["agency"], r.get("dataset", "")) == (ag, d) and r["slot"] is not None and 0 <= r["slot"] < 168:
                weights[int(r["slot"])] += float(r["w"] or 0)
        out.append(heat_grid(weights, f"{c.name(ag)}: {d or 'events'}, all categories"))
    return f'<div class="charts">{"".join(out)}</div>'


def _sec_demand(c: _Ctx) -> str:
    stats = "marts.hotspot_stats" if _columns(c.con, "marts.hotspot_stats") else "marts.hotspots"
    _need(c.con, stats, ["agency", "unit_type", "unit_id", "origin", "window_days", "gi_bin", "z"])
    _need(c.con, "marts.hotspot_count_rows", ["agency", "unit_type", "unit_id", "origin", "window_days", "n"])
    agencies = [r["agency"] for r in _rows(c.con, f"SELECT DISTINCT agency FROM {stats} ORDER BY 1")]
    if not agencies:
        raise _Missing(f"{stats} has no rows")
    out = []
    for ag in agencies:
        choice = _hot_choice(c, stats, ag, ["all"])
        if choice is None or choice[0] != "all":
            out.append(f'<p class="na">{esc(c.name(ag))}: no all-origin grid hot spots yet.</p>')
            continue
        _, window = choice
        top = _rows(c.con, f"""SELECT unit_id, n, z, gi_bin FROM {stats}
                               WHERE agency = ? AND unit_type = 'grid' AND dataset = 'calls'
                                 AND category_group = 'all' AND origin = 'all' AND window_days = ?
                                 AND gi_bin > 0 ORDER BY z DESC, unit_id LIMIT 10""", [ag, window])
        if not top:
            out.append(f'<p class="na">{esc(c.name(ag))}: no hot cells in the last {window} days.</p>')
            continue
        counts = _rows(c.con, f"""SELECT unit_id, origin, sum(n) AS n FROM marts.hotspot_count_rows
                                 WHERE agency = ? AND unit_type = 'grid' AND dataset = 'calls'
                                   AND category_group = 'all' AND window_days = ?
                                   AND origin IN ('community', 'officer', 'unknown')
                                   AND unit_id IN ({', '.join('?' * len(top))})
                                 GROUP BY ALL""", [ag, window, *[r["unit_id"] for r in top]])
        t = ['<table><thead><tr><th class="t">cell</th><th>events</th><th>Gi* z</th><th>community</th>'
             '<th>officer</th><th>unknown</th><th class="t">split</th><th class="t">flag</th></tr></thead><tbody>']
        for r in top:
            by = {x["origin"]: float(x["n"] or 0) for x in counts if x["unit_id"] == r["unit_id"]}
            tot = sum(by.values())
            sh = {k: (by.get(k, 0.0) / tot if tot else 0.0) for k in ("community", "officer", "unknown")}
            flag = sh["officer"] > 0.5
            t.append(f'<tr><td class="t">{esc(r["unit_id"])}</td><td>{esc(_fmt(r["n"]))}</td>'
                     f'<td>{esc(_fmt(r["z"]))}</td><td>{_pct(sh["community"])}</td>'
                     f'<td{" class=flag" if flag else ""}>{_pct(sh["officer"])}</td><td>{_pct(sh["unknown"])}</td>'
                     f'<td class="t">{share_bar(sh)}</td>'
                     f'<td class="t{" flag" if flag else ""}">{"officer-initiated majority" if flag else ""}</td>'
                     "</tr>")
        t.append("</tbody></table>")
        out.append(f"<h3>{esc(c.name(ag))}: top {len(top)} hot cells, calls, last {window} days</h3>"
                   + "".join(t))
    return "".join(out)


def _sec_problems(c: _Ctx) -> str:
    cols = _need(c.con, "marts.problem_assessment")
    show = [k for k in cols if k != "geom"]
    first = [k for k in ("problem", "plain_language", "wdd", "z") if k in show]
    show = first + [k for k in show if k not in first]
    rows = _rows(c.con, f"SELECT {', '.join(show)} FROM marts.problem_assessment "
                        f"{'ORDER BY problem' if 'problem' in show else ''} LIMIT 100")
    if not rows:
        raise _Missing("no tracked problems yet")
    return _table(rows, show)


def _sec_quality(c: _Ctx) -> str:
    parts = []

    def sub(title: str, fn: Callable[[], str]) -> None:
        try:
            body = fn()
        except Exception as exc:  # noqa: BLE001 - one part failing must not hide the others
            body = _na(exc)
        parts.append(f"<h3>{esc(title)}</h3>{body}")

    def quarantine() -> str:
        _need(c.con, "core.quarantine", ["source", "reason"])
        rows = _rows(c.con, "SELECT source, reason, count(*) AS rows FROM core.quarantine GROUP BY ALL "
                            "ORDER BY rows DESC LIMIT 50")
        return _table(rows) if rows else "<p>Nothing quarantined.</p>"

    def unlocated() -> str:
        rows = []
        for t in ("core.calls", "core.incidents"):
            if _columns(c.con, t):
                _need(c.con, t, ["source", "is_located"])
                rows += _rows(c.con, f"""SELECT '{t.split('.')[1]}' AS dataset, source, count(*) AS rows,
                                          count(*) FILTER (WHERE NOT coalesce(is_located, false)) AS unlocated,
                                          avg(CASE WHEN coalesce(is_located, false) THEN 0.0 ELSE 1.0 END)
                                            AS unlocated_share
                                         FROM {t} GROUP BY ALL ORDER BY source""")
        if not rows:
            raise _Missing("core.calls and core.incidents are not in the warehouse")
        return _table(rows, fmt=lambda k, v: _pct(v) if k == "unlocated_share" else _fmt(v))

    def unmapped() -> str:
        rows = []
        if _columns(c.con, "core.calls"):
            _need(c.con, "core.calls", ["source", "call_category", "call_type_code", "call_type"])
            rows += _rows(c.con, """SELECT 'calls' AS dataset, source, call_type_code AS code, call_type AS label,
                                           count(*) AS rows FROM core.calls WHERE call_category = 'Unmapped'
                                    GROUP BY ALL ORDER BY rows DESC LIMIT 25""")
        if _columns(c.con, "core.incidents"):
            _need(c.con, "core.incidents", ["source", "offense_category", "offense_code", "offense"])
            rows += _rows(c.con, """SELECT 'incidents' AS dataset, source, offense_code AS code, offense AS label,
                                           count(*) AS rows FROM core.incidents WHERE offense_category = 'Unmapped'
                                    GROUP BY ALL ORDER BY rows DESC LIMIT 25""")
        return _table(rows) if rows else "<p>No unmapped codes.</p>"

    sub("Quarantined rows by reason", quarantine)
    sub("Unlocated share per source", unlocated)
    sub("Unmapped codes (most frequent)", unmapped)
    return "".join(parts)


SECTIONS: list[tuple[str, str, str, Callable[[_Ctx], str]]] = [
    ("compstat", "CompStat", "This period against the same period last year; red = Poisson z ≥ 2 "
     "(likely a real increase), blue = z ≤ −2.", _sec_compstat),
    ("response-times", "Response times", "Seconds from call received to first unit on scene, latest month; "
     "the p90 is the time nine calls in ten beat.", _sec_response),
    ("trends", "Weekly trends by category group", "Events per week over the last 26 weeks, one line per "
     "agency; the last point is the week ending on the as-of date.", _sec_trends),
    ("hotspot-map", "Hot spots (Gi*)", "Grid cells coloured by Getis-Ord Gi* confidence: red = more calls "
     "than chance around that cell, blue = fewer; the black line is the agency boundary.", _sec_map),
    ("repeat-locations", "Top repeat locations", "The locations with the most events in the repeat window; "
     "the curve shows how few locations account for 80% of events.", _sec_repeat),
    ("emerging-hotspots", "Emerging hot spot classes", "Cells per space-time pattern (Mann-Kendall trend "
     "of Gi* over the last steps): new, intensifying and persistent hot spots need attention.",
     _sec_emerging),
    ("near-repeat", "Near repeats (Knox test)", "Pairs of events close in space and time against chance; "
     "shaded cells have a ratio above 1 with p < 0.05 (darker = stronger).", _sec_knox),
    ("hour-of-week", "Hour of week", "Events per hour of the week (darker = busier), over the repeat window, "
     "local time.", _sec_heat),
    ("demand-split", "Demand split of hot cells", "For the hottest cells: who generates the calls. A cell "
     "where officers initiate the majority may reflect enforcement rather than public demand.", _sec_demand),
    ("problems", "Tracked problems", "Each tracked problem's before/after assessment (WDD = weighted "
     "displacement difference; negative is good).", _sec_problems),
    ("data-quality", "Data quality", "Rows set aside, events without a location and codes with no category: "
     "each makes the counts above lower than the truth.", _sec_quality),
]


def _na(exc: Exception) -> str:
    if isinstance(exc, _Missing | duckdb.CatalogException):
        why = str(exc).splitlines()[0][:200]
    else:
        why = f"{type(exc).__name__}: {str(exc).splitlines()[0][:200] if str(exc) else ''}"
    return f'<p class="na">Not available yet ({esc(why)}).</p>'


INTERNAL_NOTICE = ("Internal report, not for publication: it shows exact addresses (top repeat locations). "
                   "Open data comes from the public extract (sara publish).")


def render_report(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date,
                  generated_at: datetime | None = None) -> str:
    """The whole page as one HTML string."""
    c = _Ctx(con, settings, as_of)
    generated = (generated_at or datetime.now(tz=UTC)).astimezone(UTC)
    agencies = ", ".join(c.names.values())
    body = []
    for sid, title, how, fn in SECTIONS:
        try:
            content = fn(c)
        except Exception as exc:  # noqa: BLE001 - a section must degrade, never stop the report
            content = _na(exc)
        body.append(f'<section id="{esc(sid)}"><h2>{esc(title)}</h2><p class="how">How to read: {esc(how)}</p>'
                    f"{content}</section>")
    nav = " · ".join(f'<a href="#{esc(sid)}" style="color:#cfe">{esc(title)}</a>' for sid, title, _, _ in SECTIONS)
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(f'Scanning report {as_of.isoformat()}')}</title>"
        f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>{CSS}</style></head>"
        f"<body><header><h1>Scanning report</h1><p>{esc(agencies)}</p>"
        f'<p class="internal"><strong>{esc(INTERNAL_NOTICE)}</strong></p>'
        f"<p>Data as of {esc(as_of.isoformat())} · generated {esc(generated.strftime('%Y-%m-%d %H:%M UTC'))}"
        f" · profile {esc(settings.sara.profile)}</p><p style=\"font-size:11px\">{nav}</p></header>"
        f"<main>{''.join(body)}</main></body></html>\n")


def build_report(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date, out_dir: Path) -> Path:
    """Write out_dir/index.html (self-contained) and return its path."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / "index.html"
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_report(con, settings, as_of), encoding="utf-8")
    tmp.replace(path)
    return path
