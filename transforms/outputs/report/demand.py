"""The "Demand and workload" section: per agency with a calls feed, what the calls ask for and what they cost
in unit time, over the default window (transforms/outputs/slice.py, e.g. 28 days):

1. the top natures by calls (marts.demand) and by unit-hours (marts.workload), in the taxonomy's words;
2. the share of community calls an alternative responder could take, by local hour of day
   (marts.demand_alternative_by_hour), with the calls behind each bar;
3. the staffing curve: calls received and units busy per hour over the 168 hours of the week (marts.occupancy);
4. what a unit-hour is for the agency's CAD (marts.workload.unit_basis);
5. any sentences the caller adds (`extra_sentences`).

An agency without a calls feed gets one line saying so.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import lru_cache

from transforms.outputs.report.markup import (
    MIN_COUNT,
    MISSING,
    Missing,
    esc,
    fmt_value,
    html_table,
    is_missing,
    pct,
)
from transforms.outputs.report.reads import Ctx, fetch, nearest, require, table_columns
from transforms.outputs.report.svg import DAYS, SERIES_COLOURS, _axis, _nice_max, _svg
from transforms.outputs.slice import default_slice

TOP = 10
RESPONSE_WORDS = {
    "police_required": "police",
    "co_response": "police with a clinician or medic",
    "alternative": "alternative responder",
    "administrative": "no field response (phone or online report)",
    "unknown": "unknown (no nature)",
}
SPECIAL_NATURES = {
    "Unmapped": "Unmapped call types (no reviewed crosswalk row)",
    "Unknown": "No call type",
    "(not classified)": "Not classified (loaded before natures existed)",
}
UNIT_ROWS = "unit rows"


@lru_cache(maxsize=1)
def nature_labels() -> dict[str, str]:
    """nature code -> its label (config/taxonomy/call_natures.csv); none when the taxonomy cannot be read (the
    table then shows the codes)."""
    from transforms.warehouse.natures import taxonomy

    try:
        t = taxonomy()
    except (OSError, ValueError):
        return {}
    return dict(zip(t["code"].to_list(), t["label"].to_list(), strict=True))


def nature_words(code: object) -> str:
    code = str(code)
    return SPECIAL_NATURES.get(code) or nature_labels().get(code, code)


def fmt_hours(v: object) -> str:
    """Unit-hours with one decimal and thousands separators (1,234.5); no data MISSING."""
    return MISSING if is_missing(v) else f"{float(v):,.1f}"


def calls_feeds(c: Ctx) -> set[str]:
    """The agencies with a calls (CAD) source in the configuration."""
    return {s.agency for s in c.settings.sources.values() if s.kind == "calls"}


def section_demand_workload(c: Ctx, extra_sentences: Callable[[Ctx, str], Sequence[str]] | None = None) -> str:
    """The section. `extra_sentences(c, agency)`: more sentences for an agency's block (after the unit basis)."""
    feeds = calls_feeds(c)
    parts = []
    with_calls = [a for a in c.names if a in feeds]
    if with_calls:
        require(c.con, "marts.demand", ["agency", "window_days", "call_nature", "response_model", "n_calls"])
    target = default_slice(c.settings).window_days
    for ag in c.names:
        if ag not in feeds:
            parts.append(f'<div class="agency demand-agency"><h3>{esc(c.name(ag))}</h3><p>{esc(c.name(ag))} has no calls feed: '
                         "no demand or workload figures.</p></div>")
            continue
        parts.append(_agency(c, ag, target, extra_sentences))
    if not parts:
        raise Missing("no agency is configured")
    return "".join(parts)


def _agency(c: Ctx, ag: str, target: int, extra: Callable[[Ctx, str], Sequence[str]] | None) -> str:
    name = c.name(ag)
    head = f'<div class="agency demand-agency"><h3>{esc(name)}</h3>'
    wins = fetch(c.con, "SELECT window_days, min(start_date) AS s, max(end_date) AS e FROM marts.demand "
                        "WHERE agency = ? GROUP BY ALL ORDER BY 1", [ag])
    w = nearest([int(r["window_days"]) for r in wins], target)
    if w is None:
        return head + f'<p class="na">No calls of {esc(name)} in any window of marts.demand.</p></div>'
    span = next(r for r in wins if int(r["window_days"]) == w)
    demand = fetch(c.con, "SELECT call_nature, response_model, sum(n_calls) AS n FROM marts.demand "
                          "WHERE agency = ? AND window_days = ? GROUP BY ALL", [ag, w])
    has_workload = bool(table_columns(c.con, "marts.workload"))
    work = fetch(c.con, "SELECT call_nature, response_model, unit_basis, sum(n_calls) AS n, "
                        "sum(unit_hours) AS unit_hours, sum(n_units_timed) AS n_timed FROM marts.workload "
                        "WHERE agency = ? AND window_days = ? GROUP BY ALL", [ag, w]) if has_workload else []
    n_calls = sum(int(r["n"]) for r in demand)
    hours = sum(float(r["unit_hours"] or 0) for r in work) if work else None
    sentences = [f"{n_calls:,} calls in the last {w} days ({span['s']} to {span['e']}), every origin; "
                 f"{fmt_hours(hours)} unit-hours spent on calls."]
    sentences.append(_basis_sentence(name, work) if work else
                     "No unit-hours: marts.workload has no calls of the agency in this window.")
    sentences += list(extra(c, ag)) if extra else []
    body = "".join(f"<p>{esc(s)}</p>" for s in sentences)
    body += _natures(demand, work)
    charts = []
    for part in (lambda: _alternative_chart(c, ag, w, name), lambda: _occupancy_chart(c, ag, w, name)):
        try:
            charts.append(part())
        except Missing as exc:
            charts.append(f'<p class="na">Not available: {esc(exc)}.</p>')
    return head + body + f'<div class="charts">{"".join(charts)}</div></div>'


def _basis_sentence(name: str, work: list[dict]) -> str:
    """What a unit-hour is for this agency's CAD: one row per unit, or one row per call (one unit assumed)."""
    by = {}
    for r in work:
        by[r["unit_basis"]] = by.get(r["unit_basis"], 0) + int(r["n"])
    if set(by) == {UNIT_ROWS}:
        return f"{name}'s CAD gives one row per unit: unit-hours are per unit, assignment to clear."
    if UNIT_ROWS not in by:
        return (f"{name}'s CAD gives one row per call: one unit assumed, so a call's unit-hours are its dispatch to "
                "clear time.")
    per_call = sum(n for b, n in by.items() if b != UNIT_ROWS)
    return (f"{name}'s CAD feeds differ: {by[UNIT_ROWS]:,} calls come with one row per unit, {per_call:,} with one "
            "row per call (one unit assumed).")


def _model_words(models: dict[str, int]) -> str:
    """The response model of a nature's calls: its words, or the commonest one with its share when they differ
    (a call flagged for a weapon is never alternative, whatever its nature)."""
    if not models:
        return MISSING
    top = max(sorted(models), key=lambda m: models[m])
    total = sum(models.values())
    words = RESPONSE_WORDS.get(top, top)
    return words if models[top] == total or not total else f"mostly {words} ({models[top] / total:.0%})"


def _natures(demand: list[dict], work: list[dict]) -> str:
    """Two tables: the top natures by calls and by unit-hours."""
    rows: dict[str, dict] = {}
    for r in demand:
        x = rows.setdefault(r["call_nature"], {"calls": 0, "models": {}, "hours": None, "timed": 0, "wmodels": {}})
        x["calls"] += int(r["n"])
        x["models"][r["response_model"]] = x["models"].get(r["response_model"], 0) + int(r["n"])
    for r in work:
        x = rows.setdefault(r["call_nature"], {"calls": 0, "models": {}, "hours": None, "timed": 0, "wmodels": {}})
        x["hours"] = (x["hours"] or 0.0) + float(r["unit_hours"] or 0)
        x["timed"] += int(r["n_timed"] or 0)
        x["wmodels"][r["response_model"]] = x["wmodels"].get(r["response_model"], 0) + int(r["n"])
    total_calls = sum(x["calls"] for x in rows.values())
    total_hours = sum(x["hours"] or 0.0 for x in rows.values()) if work else None

    def row(code: str, x: dict) -> dict:
        hours = x["hours"] if work else None
        return {"nature": nature_words(code), "calls": x["calls"],
                "share": x["calls"] / total_calls if total_calls else None,
                "hours": hours, "hshare": hours / total_hours if hours is not None and total_hours else None,
                "minutes": 60 * hours / x["timed"] if hours is not None and x["timed"] else None,
                "model": _model_words(x["models"] or x["wmodels"])}

    def fmt(k: str, v: object) -> str:
        if is_missing(v):
            return MISSING
        return {"share": pct, "hshare": pct, "hours": fmt_hours,
                "minutes": lambda m: f"{float(m):,.1f}"}.get(k, fmt_value)(v)

    heads = {"nature": "Nature", "calls": "Calls", "share": "Share of calls", "hours": "Unit-hours",
             "hshare": "Share of unit-hours", "minutes": "Minutes per unit", "model": "Who could answer"}
    by_calls = sorted(rows.items(), key=lambda kv: (-kv[1]["calls"], nature_words(kv[0])))[:TOP]
    out = [f"<div><h4>Top {TOP} natures by calls</h4>"
           + html_table([row(k, x) for k, x in by_calls], fmt=fmt, headers=heads) + "</div>"]
    if work:
        by_hours = sorted(rows.items(), key=lambda kv: (-(kv[1]["hours"] or 0.0), nature_words(kv[0])))[:TOP]
        out.append(f"<div><h4>Top {TOP} natures by unit-hours</h4>"
                   + html_table([row(k, x) for k, x in by_hours], fmt=fmt, headers=heads) + "</div>")
    return f'<div class="tables demand">{"".join(out)}</div>'


def _alternative_chart(c: Ctx, ag: str, w: int, name: str) -> str:
    require(c.con, "marts.demand_alternative_by_hour", ["agency", "window_days", "hour", "n_calls",
                                                         "share_alternative"])
    rows = {int(r["hour"]): r for r in fetch(
        c.con, "SELECT hour, n_calls, n_alternative, share_alternative FROM marts.demand_alternative_by_hour "
               "WHERE agency = ? AND window_days = ? ORDER BY hour", [ag, w])}
    if not rows:
        raise Missing(f"no community calls with a time of day for {name} in the last {w} days")
    bars = [(int(rows[h]["n_calls"]) if h in rows else 0,
             None if h not in rows or is_missing(rows[h]["share_alternative"]) else float(rows[h]["share_alternative"]))
            for h in range(24)]
    return alternative_bars(bars, "Share of community calls an alternative responder could take, by hour",
                            f"{name}: share of community calls an alternative responder could take, by local hour of "
                            f"day, last {w} days")


def alternative_bars(bars: list[tuple[int, float | None]], title: str, label: str, w: int = 560,
                     h: int = 230) -> str:
    """24 bars (local hour 0..23) of a share (0..1), each with its number of calls under it; an hour of fewer
    than MIN_COUNT calls is drawn hollow (data-few), an hour without calls has an empty bar and a dash."""
    left, right, top, bottom = 40, 8, 24, 56
    pw, ph = w - left - right, h - top - bottom
    ymax = min(1.0, _nice_max(100 * max((s for _, s in bars if s is not None), default=0.0)) / 100) or 1.0
    colour = SERIES_COLOURS[2]
    parts = [f'<text x="4" y="14" font-size="12" font-weight="bold">{esc(title)}</text>']
    for i in range(5):
        y = top + ph - ph * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">'
                     f"{_axis(100 * ymax * i / 4)}%</text>")
    step = pw / 24
    for hr, (n, share) in enumerate(bars):
        x = left + hr * step + 1.5
        bh = 0.0 if share is None else ph * min(share, ymax) / ymax
        few = n < MIN_COUNT
        fill = f'fill="#fff" stroke="{colour}" stroke-width="1.2"' if few else f'fill="{colour}"'
        tip = (f"{hr:02d}:00-{hr + 1:02d}:00: {pct(share)} of {n:,} community call{'s' if n != 1 else ''}"
               + (f" (fewer than {MIN_COUNT}: unreliable)" if few and n else ""))
        mark = ' data-few="1"' if few else ""
        parts.append(f'<rect data-bar="{hr}" data-n="{n}"{mark} x="{x:.1f}" '
                     f'y="{top + ph - bh:.1f}" width="{step - 3:.1f}" height="{bh:.1f}" {fill}>'
                     f"<title>{esc(tip)}</title></rect>")
        parts.append(f'<text x="{x + (step - 3) / 2:.1f}" y="{top + ph + 10}" font-size="7" text-anchor="middle">'
                     f"{esc(f'{n:,}' if n else MISSING)}</text>")
        if hr % 3 == 0:
            parts.append(f'<text x="{x + (step - 3) / 2:.1f}" y="{top + ph + 22}" font-size="9" '
                         f'text-anchor="middle">{hr:02d}</text>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>'
                 f'<text x="{left}" y="{h - 18}" font-size="9">Under each bar: community calls in that hour '
                 f"(local time). Open bars: fewer than {MIN_COUNT} calls, the share is unreliable.</text>"
                 f'<text x="{left}" y="{h - 6}" font-size="9">A call with no response model (unmapped nature) '
                 f"counts as not alternative.</text>")
    return _svg("alternative", w, h, "".join(parts), label)


def _occupancy_chart(c: Ctx, ag: str, w: int, name: str) -> str:
    require(c.con, "marts.occupancy", ["agency", "district", "window_days", "slot", "calls_per_hour", "units_busy"])
    rows = fetch(c.con, "SELECT slot, calls_per_hour, units_busy FROM marts.occupancy WHERE agency = ? "
                        "AND district = '(all)' AND window_days = ? ORDER BY slot", [ag, w])
    if not rows:
        raise Missing(f"marts.occupancy has no agency-wide rows for {name} in the last {w} days")
    calls: list[float | None] = [None] * 168
    busy: list[float | None] = [None] * 168
    for r in rows:
        if 0 <= int(r["slot"]) < 168:
            calls[int(r["slot"])] = None if is_missing(r["calls_per_hour"]) else float(r["calls_per_hour"])
            busy[int(r["slot"])] = None if is_missing(r["units_busy"]) else float(r["units_busy"])
    return week_lines({"Calls received per hour": calls, "Units busy (average)": busy},
                      "Calls received and units busy, by hour of the week",
                      f"{name}: calls received and units busy per hour, by local hour of the week, last {w} days")


def _small_max(v: float) -> float:
    """The top of a zero-based axis of four ticks: below 4, a top whose ticks have one decimal (0.1 ... 1)."""
    for top in (0.4, 0.8, 1.2, 1.6, 2.0, 2.4, 3.2, 4.0):
        if v <= top:
            return top
    return _nice_max(v)


def week_lines(series: dict[str, list[float | None]], title: str, label: str, w: int = 560, h: int = 220) -> str:
    """Lines over the 168 hours of the week (Monday 00:00 first), with a tick and a gridline at each day."""
    left, right, top, bottom = 40, 8, 24, 40
    pw, ph = w - left - right, h - top - bottom
    ymax = _small_max(max((v for vals in series.values() for v in vals if v is not None), default=0.0))
    parts = [f'<text x="4" y="14" font-size="12" font-weight="bold">{esc(title)}</text>']
    for i in range(5):
        y = top + ph - ph * i / 4
        parts.append(f'<line x1="{left}" y1="{y:.1f}" x2="{left + pw}" y2="{y:.1f}" stroke="#e4e4e4"/>'
                     f'<text x="{left - 4}" y="{y + 3:.1f}" font-size="9" text-anchor="end">'
                     f"{_axis(ymax * i / 4)}</text>")

    def xpos(slot: float) -> float:
        return left + pw * slot / 168

    for d, day in enumerate(DAYS):
        parts.append(f'<line x1="{xpos(24 * d):.1f}" y1="{top}" x2="{xpos(24 * d):.1f}" y2="{top + ph}" '
                     f'stroke="#ccc"/><text x="{xpos(24 * d + 12):.1f}" y="{top + ph + 12}" font-size="9" '
                     f'text-anchor="middle">{day}</text>')
    for k, (label, vals) in enumerate(series.items()):
        colour = SERIES_COLOURS[k % len(SERIES_COLOURS)]
        runs: list[list[int]] = []
        for i, v in enumerate(vals):
            if v is not None:
                if runs and runs[-1][-1] == i - 1:
                    runs[-1].append(i)
                else:
                    runs.append([i])
        for run in runs:
            pts = " ".join(f"{xpos(i + 0.5):.1f},{top + ph - ph * vals[i] / ymax:.1f}" for i in run)
            values = " ".join(f"{vals[i]:.3f}" for i in run)
            parts.append(f'<polyline fill="none" stroke="{colour}" stroke-width="1.4" points="{pts}" '
                         f'data-values="{values}"><title>{esc(label)}</title></polyline>')
        lx = left + k * pw / 2
        parts.append(f'<rect x="{lx:.1f}" y="{h - 12}" width="10" height="3" fill="{colour}"/>'
                     f'<text x="{lx + 13:.1f}" y="{h - 8}" font-size="9">{esc(label)}</text>')
    parts.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" stroke="#888"/>')
    return _svg("occupancy", w, h, "".join(parts), label)
