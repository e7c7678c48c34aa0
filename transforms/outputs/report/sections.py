"""The report's sections: each one reads the marts (read-only, values bound) and returns its HTML.

The counts and quality sections are here, with the list of all sections in page order (`SECTIONS`); the
place-based ones (hot spots, repeat locations, emerging hot spots, near repeats, demand split) are in places.py.
A section raises `Missing` (or any error) when it cannot be built; the page turns that into a short note.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from transforms.outputs.report.counts import section_compstat, section_response
from transforms.outputs.report.coverage import outage_weeks, placeholders, placement, section_coverage
from transforms.outputs.report.demand import section_demand_workload
from transforms.outputs.report.markup import (
    Missing,
    esc,
    fmt_value,
    html_table,
    is_missing,
    not_available,
    pct,
    what_words,
)
from transforms.outputs.report.places import (
    section_demand,
    section_emerging,
    section_knox,
    section_map,
    section_repeat,
)
from transforms.outputs.report.reads import Ctx, fetch, qtable, require, table_columns
from transforms.outputs.report.restatements import section_restatements
from transforms.outputs.report.summary import audit_sentence, section_summary
from transforms.outputs.report.svg import heat_grid, line_chart

SECTION_IDS = [
    "summary", "compstat", "restatements", "response-times", "hotspot-map", "trends", "repeat-locations", "emerging-hotspots",
    "near-repeat", "hour-of-week", "demand-split", "demand-workload", "problems", "coverage", "data-quality", "about",
]


# the mart whose marts.mart_status rows a section shows when it is empty or partial for an agency
SECTION_MARTS = {
    "coverage": "coverage", "compstat": "compstat", "response-times": "response_times",
    "hotspot-map": "hotspots", "repeat-locations": "repeat_locations", "emerging-hotspots": "emerging_hotspots",
    "near-repeat": "near_repeat", "hour-of-week": "temporal_profile", "demand-split": "hotspots",
    "problems": "problem_assessment",
}


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
            charts.append(line_chart(series, labels, f"{what_words(ds, grp)}, per week", marks=marks))
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
        out.append(heat_grid(weights, f"{c.name(ag)}: {what_words(d or 'events', 'all')}"))
    return f'<div class="charts">{"".join(out)}</div>'


def _span(r: dict, a: str, b: str) -> str:
    return f"{r[a]} to {r[b]}" if not is_missing(r.get(a)) else "—"


def _before_after(r: dict, pre: str, post: str) -> str:
    return f"{fmt_value(r.get(pre))} → {fmt_value(r.get(post))}"


# (heading, the columns it needs, the cell): the problem table in words, whatever columns the mart has
PROBLEM_COLUMNS: list[tuple[str, tuple[str, ...], Callable[[dict], object]]] = [
    ("Problem", ("problem",), lambda r: r["problem"]),
    ("What", ("description",), lambda r: r["description"]),
    ("Response date", ("response_date",), lambda r: r["response_date"]),
    ("Before", ("pre_start", "pre_end"), lambda r: _span(r, "pre_start", "pre_end")),
    ("After", ("post_start", "post_end"), lambda r: _span(r, "post_start", "post_end")),
    ("Target, before → after", ("target_pre", "target_post"), lambda r: _before_after(r, "target_pre", "target_post")),
    ("Buffer, before → after", ("buffer_pre", "buffer_post"), lambda r: _before_after(r, "buffer_pre", "buffer_post")),
    ("Control, before → after", ("control_pre", "control_post"),
     lambda r: _before_after(r, "control_pre", "control_post")),
    ("WDD", ("wdd",), lambda r: fmt_value(r["wdd"])),
    ("WDD 95% interval", ("wdd_ci_low", "wdd_ci_high"),
     lambda r: f"{fmt_value(r['wdd_ci_low'])} to {fmt_value(r['wdd_ci_high'])}"),
    ("z", ("z",), lambda r: fmt_value(r["z"])),
    ("Reading", ("sentence",), lambda r: r["sentence"]),
    ("Reading", ("plain_language",), lambda r: r["plain_language"]),
]


def section_problems(c: Ctx) -> str:
    cols = require(c.con, "marts.problem_assessment", ["problem"])
    show = [(h, need, f) for h, need, f in PROBLEM_COLUMNS if all(k in cols for k in need)]
    rows = fetch(c.con, "SELECT * EXCLUDE (geom) FROM marts.problem_assessment ORDER BY problem LIMIT 100"
                 if "geom" in cols else "SELECT * FROM marts.problem_assessment ORDER BY problem LIMIT 100")
    if not rows:
        raise Missing("no tracked problems yet")
    table = []
    for r in rows:
        row = {"Agency": c.name(r["agency"])} if "agency" in cols else {}
        row.update({h: f(r) for h, _, f in show})
        table.append(row)
    return html_table(table, fmt=lambda k, v: fmt_value(v) if not isinstance(v, str) else v)


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
        rows = fetch(c.con, 'SELECT source AS "Source", reason AS "Reason", count(*) AS "Rows" FROM core.quarantine '
                            'GROUP BY ALL ORDER BY "Rows" DESC LIMIT 50')
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
        rows = [{**r, "dataset": what_words(r["dataset"], "all").split(",")[0]} for r in rows]
        return html_table(rows, fmt=lambda k, v: pct(v) if k == "unlocated_share" else fmt_value(v),
                          headers={"dataset": "Data", "source": "Source", "rows": "Rows", "unlocated": "Unlocated",
                                   "unlocated_share": "Unlocated share"})

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
        rows = [{**r, "dataset": what_words(r["dataset"], "all").split(",")[0]} for r in rows]
        return html_table(rows, headers={"dataset": "Data", "source": "Source", "code": "Code", "label": "Label",
                                         "rows": "Rows"}) if rows else "<p>No unmapped codes.</p>"

    def reclassified() -> str:
        require(c.con, "marts.changes_summary", ["agency", "records_loaded", "records_reclassified",
                                                 "reclassified_share", "warn_share", "is_warning"])
        rows = fetch(c.con, """SELECT agency, records_loaded, records_reclassified, late_arrivals,
                                      reclassified_share, is_warning FROM marts.changes_summary ORDER BY agency""")
        if not rows:
            raise Missing("marts.changes_summary has no agency")
        warn = [r for r in rows if r["is_warning"]]
        share = fetch(c.con, "SELECT max(warn_share) AS w FROM marts.changes_summary")[0]["w"]

        def share_words(v: object) -> str:  # a small share is not shown as 0%
            return f"{float(v) * 100:.2f}%" if isinstance(v, float) and 0 < v < 0.01 else pct(v)

        head = "".join(f'<p class="na">Warning: {esc(c.name(r["agency"]))} had {r["records_reclassified"]:,} of '
                       f'{r["records_loaded"]:,} recently loaded records reclassified ({share_words(r["reclassified_share"])}, '
                       f'above {pct(share)}). That is usually a process problem (coding at intake, a crosswalk '
                       'change) worth a look.</p>' for r in warn)
        how = (f'<p class="how">Records new or changed in the loads of the recent days ([versions] '
               f'reclassified_window_days, 28 by default), and the share whose category or code changed; a warning above '
               f'{pct(share)} (a project choice, [versions] reclassified_warn_share). The records: marts.changes.</p>')
        table = html_table([{**r, "agency": c.name(r["agency"]), "is_warning": "yes" if r["is_warning"] else "no"}
                            for r in rows],
                           fmt=lambda k, v: share_words(v) if k == "reclassified_share" else fmt_value(v),
                           cell_class=lambda k, v, r: "flag" if k == "is_warning" and v == "yes" else "",
                           headers={"agency": "Agency", "records_loaded": "Records loaded",
                                    "records_reclassified": "Reclassified", "late_arrivals": "Late arrivals",
                                    "reclassified_share": "Reclassified share", "is_warning": "Warning"})
        return head + table + how

    sub("Quarantined rows by reason", quarantine)
    sub("Unlocated share per source", unlocated)
    sub("How events were placed (share per geocode method)", lambda: placement(c))
    sub("Placeholder points", lambda: placeholders(c))
    sub("Unmapped codes (most frequent)", unmapped)
    sub("Reclassified records per agency", reclassified)
    return "".join(parts)



# what this page no longer shows, or shows merged, against the report before it: said on the page itself
DROPPED = [
    "CompStat by beat: the page shows the agency and its districts; the beats stay in marts.compstat "
    "(sara query).",
    "The list of the largest 28-day increases below agency level: merged into the first screen, agency-wide and "
    "by district, ranked by Poisson z.",
    "Percentages of small counts: a change is shown as a count, with a percentage only when last year had at "
    "least 10 events.",
    "The raw columns of marts.response_times (seconds, every month): the page shows the latest whole month in "
    "minutes; the chart plots the agency-wide median of the calls themselves (marts.response_times_agency), "
    "where the old chart plotted a call-weighted mean of the district medians, which is not a median.",
    "The raw columns of marts.problem_assessment (WDQ, E-test, weights): the page keeps the counts, WDD with "
    "its interval and the reading; sara assess prints the rest.",
    "Demand and workload by district: the page shows each agency as a whole; marts.demand, marts.workload and "
    "marts.occupancy keep the districts (sara query), and sara export writes a demand layer by district.",
    "Data coverage moves to the end of the page; its headline (each feed's last complete day, recent outages, "
    "incomplete marts) is on the first screen.",
]


def section_about(c: Ctx) -> str:
    return ("<p>This page was rewritten for its readers. Left out or merged, and why:</p><ul>"
            + "".join(f"<li>{esc(x)}</li>" for x in DROPPED) + "</ul>"
            "<p>Every figure comes from the marts of the warehouse named in the header; a dash (—) is a figure the "
            "data do not give, never a zero.</p>")


# (id, title, how to read it, builder), in page order
SECTIONS: list[tuple[str, str, str, Callable[[Ctx], str]]] = [
    ("summary", "What changed", "Per agency, in sentences: the biggest increases against the same days last "
     "year, new and emerging hot spots, the busiest repeat addresses, tracked problems and the state of the "
     "feeds.", section_summary),
    ("compstat", "CompStat by district", "Counts now against the same dates last year, each agency to its own "
     "as-of date: the agency totals, then each district. Where the data do not cover one of the two periods "
     "the change says \"no comparison\" and why.", section_compstat),
    ("restatements", "Restated since last week's report", "Counts published a week ago (agency and district) "
     "that are different now, counted over the same dates on today's data, and why: records reclassified, voided, "
     "retimed, relocated or reported late. Police data change after the fact; this is where it shows.",
     section_restatements),
    ("response-times", "Response times", "Minutes from the call to the first unit on scene, community calls, "
     "by priority, the latest whole month: the median (half the calls were faster) and the 90th percentile "
     "(nine calls in ten were faster), of the calls themselves.", section_response),
    ("hotspot-map", "Hot spots (Gi*)", "Grid cells coloured by Getis-Ord Gi* confidence: red = more calls "
     "than chance around that cell, blue = fewer; the black line is the agency boundary.", section_map),
    ("trends", "Weekly trends", "Events per week over the last 26 weeks, one line per agency; the last point "
     "is the week ending on the as-of date. An open circle is a week the data do not fully cover.",
     section_trends),
    ("repeat-locations", "Top repeat locations", "The places with the most events in the repeat window; "
     "the curve shows how few places account for 80% of events.", section_repeat),
    ("emerging-hotspots", "Emerging hot spot classes", "Grid cells per space-time pattern (Mann-Kendall trend "
     "of Gi* over the last steps): new, intensifying and persistent hot spots need attention.",
     section_emerging),
    ("near-repeat", "Near repeats (Knox test)", "Pairs of events close in space and time against chance; "
     "shaded cells have a ratio above 1 with p ≤ 0.05 (darker = stronger).", section_knox),
    ("hour-of-week", "Hour of week", "Events per hour of the week (darker = busier), over the repeat window, "
     "local time.", section_heat),
    ("demand-split", "Who generates the calls in hot cells", "For the hottest cells: community-generated against "
     "officer-initiated calls. A cell where officers initiate the majority may reflect enforcement rather than "
     "public demand.", section_demand),
    ("demand-workload", "Demand and workload", "Per agency, the default window: what the calls ask for (their "
     "nature, every origin) and what they cost in unit-hours (assignment to clear, summed over units; cancelled "
     "and duplicate calls count here, as their units' time was spent, but not among the calls); the share of "
     "community calls an alternative responder could take, by hour of day; and calls received against units "
     "busy over the hours of the week.",
     lambda c: section_demand_workload(c, extra_sentences=lambda c2, ag: audit_sentence(c2, ag, "calls"))),
    ("problems", "Tracked problems", "Each tracked problem's counts before and after its response date, and "
     "the weighted displacement difference (WDD; negative is good) with its 95% interval.", section_problems),
    ("coverage", "Data coverage", "What each agency's data covers: its as-of date (the last day every section "
     "counts to) and how it was chosen; per source, the days from its first event to its last complete "
     "day, the outage days (no events, or under 20% of the median of the 28 days before), the time precision "
     "and the located share. A comparison or a trend week over an uncovered day is not shown as a change.",
     section_coverage),
    ("data-quality", "Data quality", "Rows set aside, events without a location and codes with no category: "
     "each makes the counts above lower than the truth.", section_quality),
    ("about", "About this page", "What the page leaves out, and why.", section_about),
]
