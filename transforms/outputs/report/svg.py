"""The report's chart kit: inline SVG line charts, Lorenz curves, hour-of-week grids, share bars (the hot spot
maps are interactive: webmap.py).

Each function returns one `<svg>` element (with a `<title>` and an aria-label, so a screen reader names it);
nothing here reads the warehouse.
"""

from __future__ import annotations

import math

from transforms.outputs.report.markup import esc, fmt_value

SERIES_COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf"]
DAYS = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"]


def _svg(kind: str, w: float, h: float, body: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" data-chart="{esc(kind)}" role="img" '
            f'aria-label="{esc(label)}" width="{w:.0f}" height="{h:.0f}" viewBox="0 0 {w:.0f} {h:.0f}">'
            f"<title>{esc(label)}</title>{body}</svg>")


def _nice_max(v: float, ticks: int = 4) -> float:
    """The top of a zero-based axis of `ticks` equal steps at or above v: the step is a whole number from
    1, 1.5, 2, 2.5, 3, 4, 5, 6, 8 times a power of ten (so counts get whole ticks: 8 for 5, 60 for 48)."""
    if v <= 0:
        return float(ticks)
    need = v / ticks
    mag = 10 ** max(0, math.floor(math.log10(need)))
    for m in (1, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10):
        step = m * mag
        if step >= need and float(step).is_integer():
            return step * ticks
    return 10 * mag * ticks


def _axis(v: float) -> str:
    """A y-axis tick: whole numbers with thousands separators, else one decimal."""
    return f"{v:,.0f}" if float(v).is_integer() else f"{v:,.1f}"


def line_chart(series: dict[str, list[float | None]], x_labels: list[str], title: str,
               w: int = 360, h: int = 200, kind: str = "trend", marks: dict[str, list[int]] | None = None) -> str:
    """One polyline per series over the same x positions (x_labels), with a zero-based y axis. A value of None
    is no data: the line breaks there (a gap, never a drop to 0). `marks` names, per series, the points its
    data does not cover (an outage or no data): each is drawn as an open circle (data-outage) whose title says
    so, so a drop to zero there is not read as a fall."""
    left, right, top, bottom = 44, 10, 24, 34
    pw, ph = w - left - right, h - top - bottom
    n = max((len(v) for v in series.values()), default=0)
    ymax = _nice_max(max((x for v in series.values() for x in v if x is not None), default=0))
    parts = [f'<text x="{left}" y="15" font-size="12" font-weight="bold">{esc(title)}</text>']
    for i in range(5):
        yv = ymax * i / 4
        y = top + ph - ph * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>')
        parts.append(f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">{_axis(yv)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>')

    def xpos(i: int) -> float:
        return left + (pw * i / (n - 1) if n > 1 else pw / 2)

    for i in sorted({0, n // 2, n - 1}) if n else []:
        if i < len(x_labels):
            anchor = "start" if i == 0 and n > 1 else "end" if i == n - 1 and n > 1 else "middle"
            parts.append(f'<text x="{xpos(i):.1f}" y="{top + ph + 13}" font-size="9" '
                         f'text-anchor="{anchor}">{esc(x_labels[i])}</text>')
    for k, (name, vals) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        runs: list[list[int]] = []
        for i, v in enumerate(vals):
            if v is None:
                continue
            if runs and runs[-1][-1] == i - 1:
                runs[-1].append(i)
            else:
                runs.append([i])
        for run in runs:
            pts = " ".join(f"{xpos(i):.1f},{top + ph - ph * vals[i] / ymax:.1f}" for i in run)
            if len(run) == 1:  # a lone point between gaps
                parts.append(f'<circle cx="{xpos(run[0]):.1f}" cy="{top + ph - ph * vals[run[0]] / ymax:.1f}" '
                             f'r="2" fill="{colour}"><title>{esc(name)}</title></circle>')
            values = " ".join(f"{vals[i]:.2f}" for i in run)  # the plotted figures, for a reader or a test
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{pts}" '
                         f'data-values="{values}"><title>{esc(name)}</title></polyline>')
        for i in (marks or {}).get(name, []):
            if 0 <= i < len(vals) and vals[i] is not None:
                parts.append(f'<circle cx="{xpos(i):.1f}" cy="{top + ph - ph * vals[i] / ymax:.1f}" r="3.5" '
                             f'fill="#fff" stroke="{colour}" stroke-width="1.5" data-outage="1"><title>'
                             f"{esc(name)}: outage or no data this week (not a fall)</title></circle>")
        per_row = max(1, min(len(series), 5))
        fit = max(6, int(pw / per_row / 5.2) - 3)  # characters of a legend entry at 9 px
        lx = left + (k % per_row) * (pw / per_row)
        ly = h - 6
        parts.append(f'<rect x="{lx:.1f}" y="{ly - 7}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{lx + 13:.1f}" y="{ly - 3}" font-size="9">{esc(name[:fit])}</text>')
    return _svg(kind, w, h, "".join(parts), title)


def lorenz_chart(points: list[tuple[float, float]], title: str, share80: float | None,
                 w: int = 260, h: int = 240) -> str:
    """The concentration curve: (share of locations, share of events) points, most events first, with the
    diagonal of no concentration and the 80% line; `share80` is the share of locations holding 80% of events."""
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
                     f"{fmt_value(float(v))}</title></rect>")
    for d, name in enumerate(DAYS):
        parts.append(f'<text x="{left - 4}" y="{top + d * cell + cell * 0.65:.1f}" font-size="10" '
                     f'text-anchor="end">{name}</text>')
    for hr in range(0, 24, 3):
        parts.append(f'<text x="{left + hr * cell + cell / 2:.1f}" y="{top - 4}" font-size="9" '
                     f'text-anchor="middle">{hr:02d}</text>')
    h = top + 7 * cell + 8
    return _svg("heatmap", w, h, "".join(parts), title)


def share_bar(shares: dict[str, float], w: int = 160, h: int = 14) -> str:
    """One stacked bar of the community / officer / unknown shares of a cell's calls."""
    colours = {"community": "#2ca02c", "officer": "#1f77b4", "unknown": "#bbbbbb"}
    x, parts = 0.0, []
    for k in ("community", "officer", "unknown"):
        s = shares.get(k, 0.0) or 0.0
        parts.append(f'<rect x="{x:.1f}" y="0" width="{w * s:.1f}" height="{h}" fill="{colours[k]}">'
                     f"<title>{k} {s:.0%}</title></rect>")
        x += w * s
    return _svg("share", w, h, "".join(parts), "community / officer / unknown share")
