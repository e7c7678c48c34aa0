"""The report's sections: each one reads the marts (read-only, values bound) and returns its HTML.

The counts and quality sections are here, with the list of all sections in page order (`SECTIONS`); the
place-based ones (hot spots, repeat locations, emerging hot spots, near repeats, demand split) are in places.py.
A section raises `Missing` (or any error) when it cannot be built; the page turns that into a short note.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import timedelta

from transforms.outputs.report.coverage import outage_weeks, section_coverage
from transforms.outputs.report.markup import Missing, esc, fmt_value, html_table, not_available, pct
from transforms.outputs.report.places import (
    section_demand,
    section_emerging,
    section_knox,
    section_map,
    section_repeat,
)
from transforms.outputs.report.reads import Ctx, fetch, qcols, qtable, require, table_columns
from transforms.outputs.report.svg import heat_grid, line_chart

SECTION_IDS = [
    "coverage", "compstat", "response-times", "trends", "hotspot-map", "repeat-locations", "emerging-hotspots",
    "near-repeat", "hour-of-week", "demand-split", "problems", "data-quality",
]


# the mart whose marts.mart_status rows a section shows when it is empty or partial for an agency
SECTION_MARTS = {
    "coverage": "coverage", "compstat": "compstat", "response-times": "response_times",
    "hotspot-map": "hotspots", "repeat-locations": "repeat_locations", "emerging-hotspots": "emerging_hotspots",
    "near-repeat": "near_repeat", "hour-of-week": "temporal_profile", "demand-split": "hotspots",
    "problems": "problem_assessment",
}


def _no_comparison(r: dict) -> dict:
    """A CompStat row whose periods the data does not both cover: the reason in place of the change."""
    cmp = r.pop("comparison", None)
    if cmp is None or cmp == "ok":
        return r
    return {**r, "change": cmp, "pct_change": None, "poisson_z": None}


def section_compstat(c: Ctx) -> str:
    cols = require(c.con, "marts.compstat", ["agency", "period", "n"])
    want = [k for k in ("agency", "unit_type", "unit_id", "dataset", "category_group", "period", "n",
                        "n_last_year", "change", "pct_change", "poisson_z") if k in cols]
    read = want + (["comparison"] if "comparison" in cols else [])
    order = qcols([k for k in ("agency", "dataset", "category_group") if k in cols])
    period_order = "CASE period WHEN 'week' THEN 0 WHEN '28d' THEN 1 WHEN 'ytd' THEN 2 ELSE 3 END"
    where = "WHERE unit_type = 'agency'" if "unit_type" in cols else ""
    rows = fetch(c.con, f"SELECT {qcols(read)} FROM marts.compstat {where} "
                        f"ORDER BY {order}, {period_order} LIMIT 300")
    if not rows and where:
        rows = fetch(c.con, f"SELECT {qcols(read)} FROM marts.compstat ORDER BY {order}, {period_order} LIMIT 300")
    if not rows:
        raise Missing("marts.compstat has no rows")

    def zclass(col: str, v: object, r: dict) -> str:
        if col not in ("poisson_z", "change", "pct_change"):
            return ""
        z = r.get("poisson_z")
        if z is None or (isinstance(z, float) and math.isnan(z)):
            return ""
        return "up" if z >= 2 else "down" if z <= -2 else ""

    def fmt(col: str, v: object) -> str:
        return f"{float(v):+.0f}%" if col == "pct_change" and v is not None else fmt_value(v)  # already in percent

    out = [html_table([_no_comparison({k: (c.name(v) if k == "agency" else v) for k, v in r.items()}) for r in rows],
                      want, zclass, fmt)]
    if {"unit_type", "poisson_z"} <= set(cols):
        movers = fetch(c.con, f"SELECT {qcols(want)} FROM marts.compstat WHERE unit_type <> 'agency' "
                              "AND period = '28d' AND poisson_z IS NOT NULL AND NOT isnan(poisson_z) "
                              "ORDER BY poisson_z DESC LIMIT 10")
        if movers:
            out.insert(0, "<h3>Largest 28-day increases below agency level</h3>"
                       + html_table(movers, want, zclass, fmt) + "<h3>Agency totals</h3>")
    return "".join(out)


def section_response(c: Ctx) -> str:
    cols = require(c.con, "marts.response_times")
    keys = [k for k in ("agency", "priority_level", "district", "month") if k in cols]
    where = ""
    if "month" in cols:
        where = "WHERE month = (SELECT max(month) FROM marts.response_times)"
    order = qcols(keys) or "1"
    rows = fetch(c.con, f"SELECT * FROM marts.response_times {where} ORDER BY {order} LIMIT 120")
    if not rows:
        raise Missing("marts.response_times has no rows")
    show = [k for k in cols if k != "geom"]
    out = []
    if "month" in cols:
        out.append(f"<p>Latest month: {esc(rows[0].get('month'))}.</p>")
        if {"agency", "response_s_median", "n_calls"} <= set(cols):
            trend = fetch(c.con, """SELECT agency, month,
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
    out.append(html_table([{k: (c.name(r[k]) if k == "agency" else r[k]) for k in show} for r in rows], show))
    return "".join(out)


def section_trends(c: Ctx) -> str:
    """One chart per dataset x category group (and per as_of, when agencies end on different days); a week the
    data does not cover (an outage or no data) is marked on its line."""
    require(c.con, "marts.events", ["dataset", "agency", "category", "local_date"])
    require(c.con, "marts.category_groups", ["dataset", "category_group", "category"])
    rows = []
    for ag in c.names:
        end = c.agency_as_of(ag)
        rows += fetch(c.con, """
            SELECT e.dataset, g.category_group, e.agency,
                   CAST(floor(date_diff('day', e.local_date, CAST(? AS DATE)) / 7) AS INTEGER) AS wk,
                   count(*) AS n
            FROM marts.events e
            JOIN marts.category_groups g ON g.dataset = e.dataset AND (g.category = '*' OR g.category = e.category)
            WHERE e.agency = ? AND e.local_date BETWEEN CAST(? AS DATE) - 26 * 7 + 1 AND CAST(? AS DATE)
            GROUP BY ALL""", [end, ag, end, end])
    if not rows:
        raise Missing("no events in the last 26 weeks")
    charts = []
    for end in sorted({c.agency_as_of(r["agency"]) for r in rows}):
        labels = [(end - timedelta(days=7 * (25 - i))).isoformat() for i in range(26)]
        part = [r for r in rows if c.agency_as_of(r["agency"]) == end]
        for ds, grp in sorted({(r["dataset"], r["category_group"]) for r in part},
                              key=lambda k: (k[0], k[1] != "all", k[1])):
            series, marks = {}, {}
            for ag in sorted({r["agency"] for r in part if (r["dataset"], r["category_group"]) == (ds, grp)}):
                vals = [0.0] * 26
                for r in part:
                    if (r["dataset"], r["category_group"], r["agency"]) == (ds, grp, ag) and 0 <= r["wk"] < 26:
                        vals[25 - r["wk"]] = float(r["n"])
                series[c.name(ag)] = vals
                marks[c.name(ag)] = outage_weeks(c, ag, ds, end, 26)
            charts.append(line_chart(series, labels, f"{ds} / {grp}: events per week", marks=marks))
    return f'<div class="charts">{"".join(charts)}</div>'


def section_heat(c: Ctx) -> str:
    cols = require(c.con, "marts.temporal_profile", ["agency", "slot", "weight"])
    filt = [f for f, col in (("unit_type = 'agency'", "unit_type"), ("category_group = 'all'", "category_group"))
            if col in cols]
    ds = ", dataset" if "dataset" in cols else ""
    where = f"WHERE {' AND '.join(filt)}" if filt else ""
    rows = fetch(c.con, f"SELECT agency{ds}, slot, sum(weight) AS w FROM marts.temporal_profile {where} "
                        "GROUP BY ALL")
    if not rows:
        raise Missing("marts.temporal_profile has no agency-wide rows")
    out = []
    for ag, d in sorted({(r["agency"], r.get("dataset", "")) for r in rows}):
        weights = [0.0] * 168
        for r in rows:
            if (r["agency"], r.get("dataset", "")) == (ag, d) and r["slot"] is not None and 0 <= r["slot"] < 168:
                weights[int(r["slot"])] += float(r["w"] or 0)
        out.append(heat_grid(weights, f"{c.name(ag)}: {d or 'events'}, all categories"))
    return f'<div class="charts">{"".join(out)}</div>'


def section_problems(c: Ctx) -> str:
    cols = require(c.con, "marts.problem_assessment")
    show = [k for k in cols if k != "geom"]
    first = [k for k in ("problem", "plain_language", "wdd", "z") if k in show]
    show = first + [k for k in show if k not in first]
    rows = fetch(c.con, f"SELECT {qcols(show)} FROM marts.problem_assessment "
                        f"{'ORDER BY problem' if 'problem' in show else ''} LIMIT 100")
    if not rows:
        raise Missing("no tracked problems yet")
    return html_table(rows, show)


def section_quality(c: Ctx) -> str:
    parts = []

    def sub(title: str, fn: Callable[[], str]) -> None:
        try:
            body = fn()
        except Exception as exc:  # one part failing must not hide the others
            body = not_available(exc)
        parts.append(f"<h3>{esc(title)}</h3>{body}")

    def quarantine() -> str:
        require(c.con, "core.quarantine", ["source", "reason"])
        rows = fetch(c.con, "SELECT source, reason, count(*) AS rows FROM core.quarantine GROUP BY ALL "
                            "ORDER BY rows DESC LIMIT 50")
        return html_table(rows) if rows else "<p>Nothing quarantined.</p>"

    def unlocated() -> str:
        rows = []
        for t in ("core.calls", "core.incidents"):
            if table_columns(c.con, t):
                require(c.con, t, ["source", "is_located"])
                rows += fetch(c.con, f"""SELECT ? AS dataset, source, count(*) AS rows,
                                          count(*) FILTER (WHERE NOT coalesce(is_located, false)) AS unlocated,
                                          avg(CASE WHEN coalesce(is_located, false) THEN 0.0 ELSE 1.0 END)
                                            AS unlocated_share
                                         FROM {qtable(t)} GROUP BY ALL ORDER BY source""",
                              [t.split(".")[1]])
        if not rows:
            raise Missing("core.calls and core.incidents are not in the warehouse")
        return html_table(rows, fmt=lambda k, v: pct(v) if k == "unlocated_share" else fmt_value(v))

    def unmapped() -> str:
        rows = []
        if table_columns(c.con, "core.calls"):
            require(c.con, "core.calls", ["source", "call_category", "call_type_code", "call_type"])
            rows += fetch(c.con, """SELECT 'calls' AS dataset, source, call_type_code AS code, call_type AS label,
                                           count(*) AS rows FROM core.calls WHERE call_category = 'Unmapped'
                                    GROUP BY ALL ORDER BY rows DESC LIMIT 25""")
        if table_columns(c.con, "core.incidents"):
            require(c.con, "core.incidents", ["source", "offense_category", "offense_code", "offense"])
            rows += fetch(c.con, """SELECT 'incidents' AS dataset, source, offense_code AS code, offense AS label,
                                           count(*) AS rows FROM core.incidents WHERE offense_category = 'Unmapped'
                                    GROUP BY ALL ORDER BY rows DESC LIMIT 25""")
        return html_table(rows) if rows else "<p>No unmapped codes.</p>"

    sub("Quarantined rows by reason", quarantine)
    sub("Unlocated share per source", unlocated)
    sub("Unmapped codes (most frequent)", unmapped)
    return "".join(parts)



# (id, title, how to read it, builder), in page order
SECTIONS: list[tuple[str, str, str, Callable[[Ctx], str]]] = [
    ("coverage", "Data coverage", "What each agency's data covers: its as-of date (the last day every section "
     "below counts to) and how it was chosen; per source, the days from its first event to its last complete "
     "day, the outage days (no events, or under 20% of the median of the 28 days before), the time precision "
     "and the located share. A comparison or a trend week over an uncovered day is not shown as a change.",
     section_coverage),
    ("compstat", "CompStat", "This period against the same period last year, each agency to its own as-of "
     "date; red = Poisson z ≥ 2 (likely a real increase), blue = z ≤ −2. Where the data does not cover one of "
     "the two periods the change says \"no comparison\" and why.", section_compstat),
    ("response-times", "Response times", "Seconds from call received to first unit on scene, latest month; "
     "the p90 is the time nine calls in ten beat.", section_response),
    ("trends", "Weekly trends by category group", "Events per week over the last 26 weeks, one line per "
     "agency; the last point is the week ending on the as-of date.", section_trends),
    ("hotspot-map", "Hot spots (Gi*)", "Grid cells coloured by Getis-Ord Gi* confidence: red = more calls "
     "than chance around that cell, blue = fewer; the black line is the agency boundary.", section_map),
    ("repeat-locations", "Top repeat locations", "The locations with the most events in the repeat window; "
     "the curve shows how few locations account for 80% of events.", section_repeat),
    ("emerging-hotspots", "Emerging hot spot classes", "Cells per space-time pattern (Mann-Kendall trend "
     "of Gi* over the last steps): new, intensifying and persistent hot spots need attention.",
     section_emerging),
    ("near-repeat", "Near repeats (Knox test)", "Pairs of events close in space and time against chance; "
     "shaded cells have a ratio above 1 with p ≤ 0.05 (darker = stronger).", section_knox),
    ("hour-of-week", "Hour of week", "Events per hour of the week (darker = busier), over the repeat window, "
     "local time.", section_heat),
    ("demand-split", "Demand split of hot cells", "For the hottest cells: who generates the calls. A cell "
     "where officers initiate the majority may reflect enforcement rather than public demand.", section_demand),
    ("problems", "Tracked problems", "Each tracked problem's before/after assessment (WDD = weighted "
     "displacement difference; negative is good).", section_problems),
    ("data-quality", "Data quality", "Rows set aside, events without a location and codes with no category: "
     "each makes the counts above lower than the truth.", section_quality),
]
