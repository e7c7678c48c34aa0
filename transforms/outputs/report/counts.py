"""CompStat and response times in the report: compact tables per district, in words and minutes.

CompStat (marts.compstat): per agency, the agency totals first, then one table per district; rows are what is
counted (calls for service or recorded crimes x category group), columns the last 7 days, the last 28 days and
the year to date, each as now / last year / change. A change is coloured only where the Poisson z and the
minimum count both say so (markup.change_class); a period the data do not cover keeps the marts' "no comparison
(...)" text. Beats stay in the mart.

Response times (marts.response_times per district, marts.response_times_agency agency-wide): minutes, by
priority, for the latest whole month; the chart plots the agency-wide medians of the calls themselves.
"""

from __future__ import annotations

from transforms.outputs.report.markup import (
    CHANGE_RULE,
    MISSING,
    PERIOD_WORDS,
    Missing,
    change_class,
    esc,
    fmt_change,
    fmt_minutes,
    fmt_value,
    html_table,
    is_missing,
    month_words,
    what_words,
)
from transforms.outputs.report.reads import Ctx, fetch, qcols, require, table_columns
from transforms.outputs.report.svg import line_chart

PERIODS = ("week", "28d", "ytd")
ALL_DISTRICTS = "(all districts)"
# seconds in the marts -> the page's columns, in minutes
MINUTES = {"response_s_median": "Median (min)", "response_s_p90": "90th percentile (min)",
           "queue_s_median": "Median wait for dispatch (min)", "travel_s_median": "Median travel (min)"}


def _unit_title(unit_type: str, unit_id: str) -> str:
    if unit_type == "agency":
        return "Agency totals"
    return "No district recorded" if unit_id == "(unassigned)" else f"District {unit_id}"


def compstat_table(rows: list[dict]) -> str:
    """One unit's table: a row per dataset x category group, now / last year / change per period."""
    by = {(r["dataset"], r["category_group"], r["period"]): r for r in rows}
    keys = sorted({(r["dataset"], r["category_group"]) for r in rows}, key=lambda k: (k[0], k[1] != "all", k[1]))
    # a period whose every row has the same "no comparison (...)": said once, under the period's name
    shared = {}
    for p in PERIODS:
        said = {(r["dataset"], r.get("comparison") or "ok") for r in rows if r["period"] == p}
        if said and all(cmp != "ok" for _, cmp in said):
            texts = sorted({cmp for _, cmp in said})
            shared[p] = texts[0] if len(texts) == 1 else "; ".join(
                f"{what_words(ds, 'all').split(',')[0]}: {cmp}" for ds, cmp in sorted(said))
    head = ('<table class="cs"><thead><tr><th class="t" rowspan="2">What is counted</th>'
            + "".join(f'<th colspan="3">{esc(PERIOD_WORDS[p].capitalize())}'
                      + (f'<br><span class="nc">{esc(shared[p])}</span>' if p in shared else "") + "</th>"
                      for p in PERIODS)
            + "</tr><tr>" + "<th>Now</th><th>Last year</th><th>Change</th>" * len(PERIODS) + "</tr></thead><tbody>")
    body = []
    for ds, grp in keys:
        cells = [f'<td class="t">{esc(what_words(ds, grp))}</td>']
        for p in PERIODS:
            r = by.get((ds, grp, p))
            if r is None:
                cells.append(f'<td>{MISSING}</td><td>{MISSING}</td><td title="no row">{MISSING}</td>')
                continue
            cmp = r.get("comparison") or "ok"
            if p in shared:
                change = f'<td title="{esc(cmp)}">{MISSING}</td>'
            elif cmp != "ok":
                change = f'<td class="nc">{esc(cmp)}</td>'
            else:
                cls = change_class(r.get("poisson_z"), r["n"], r["n_last_year"])
                z = r.get("poisson_z")
                title = "" if is_missing(z) else f' title="Poisson z {float(z):.2f}"'
                change = (f'<td{f" class={cls}" if cls else ""}{title}>'
                          f'{esc(fmt_change(r.get("change"), r["n_last_year"]))}</td>')
            cells.append(f"<td>{esc(fmt_value(r['n']))}</td><td>{esc(fmt_value(r['n_last_year']))}</td>{change}")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return head + "".join(body) + "</tbody></table>"


def section_compstat(c: Ctx) -> str:
    cols = require(c.con, "marts.compstat", ["agency", "unit_type", "unit_id", "dataset", "category_group",
                                             "period", "n", "n_last_year", "change", "poisson_z"])
    read = ["agency", "unit_type", "unit_id", "dataset", "category_group", "period", "n", "n_last_year", "change",
            "poisson_z"] + (["comparison"] if "comparison" in cols else [])
    rows = fetch(c.con, f"SELECT {qcols(read)} FROM marts.compstat WHERE unit_type IN ('agency', 'district')")
    if not rows:
        raise Missing("marts.compstat has no agency or district rows")
    out = []
    for ag in [a for a in c.names if any(r["agency"] == a for r in rows)]:
        mine = [r for r in rows if r["agency"] == ag]
        units = sorted({(r["unit_type"], r["unit_id"]) for r in mine},
                       key=lambda u: (u[0] != "agency", u[1] == "(unassigned)", str(u[1])))
        tables = [f"<div><h4>{esc(_unit_title(ut, uid))}</h4>"
                  f"{compstat_table([r for r in mine if (r['unit_type'], r['unit_id']) == (ut, uid)])}</div>"
                  for ut, uid in units]
        out.append(f"<h3>{esc(c.name(ag))}, to {esc(c.agency_as_of(ag).isoformat())}</h3>"
                   f'<div class="tables">{"".join(tables)}</div><p class="how">{esc(CHANGE_RULE)}</p>')
    return "".join(out)


def _priority(p: object) -> str:
    return "No priority" if is_missing(p) else f"Priority {p}"


def section_response(c: Ctx) -> str:
    need = ["agency", "priority_level", "district", "month", "n_calls", "response_s_median", "response_s_p90"]
    cols = require(c.con, "marts.response_times", need)
    extra = [k for k in ("queue_s_median", "travel_s_median") if k in cols]
    district = fetch(c.con, f"SELECT {qcols(need + extra)} FROM marts.response_times")
    agency_wide = []
    if table_columns(c.con, "marts.response_times_agency"):
        require(c.con, "marts.response_times_agency", need + extra)
        agency_wide = fetch(c.con, f"SELECT {qcols(need + extra)} FROM marts.response_times_agency")
    if not district and not agency_wide:
        raise Missing("marts.response_times has no rows")
    out = []
    for ag in [a for a in c.names if any(r["agency"] == a for r in district + agency_wide)]:
        wide = [r for r in agency_wide if r["agency"] == ag]
        per = [r for r in district if r["agency"] == ag]
        latest = max(r["month"] for r in wide + per)
        out.append(f"<h3>{esc(c.name(ag))}: {esc(month_words(latest))}</h3>")
        if wide:
            out.append(_chart(c, ag, wide))
        else:
            out.append('<p class="na">Not available agency-wide: marts.response_times_agency is not in the '
                       "warehouse (built before it); the districts' rows are below.</p>")
        table = []
        for r in sorted([r for r in wide + per if r["month"] == latest],
                        key=lambda r: (r["district"] != ALL_DISTRICTS, str(r["district"]),
                                       is_missing(r["priority_level"]), r["priority_level"] or 0)):
            table.append({
                "Area": "All districts" if r["district"] == ALL_DISTRICTS else
                ("No district recorded" if is_missing(r["district"]) else f"District {r['district']}"),
                "Priority": _priority(r["priority_level"]), "Calls": r["n_calls"],
                **{head: r.get(col) for col, head in MINUTES.items() if col in r}})
        out.append(html_table(table, fmt=lambda k, v: fmt_minutes(v) if k in MINUTES.values() else fmt_value(v)))
    return "".join(out)


def _chart(c: Ctx, agency: str, rows: list[dict]) -> str:
    """The agency-wide median per priority over the last 24 whole months; a month without calls is a gap."""
    months = sorted({r["month"] for r in rows})[-24:]
    series: dict[str, list[float | None]] = {}
    for p in sorted({r["priority_level"] for r in rows}, key=lambda p: (is_missing(p), p or 0)):
        by = {r["month"]: r["response_s_median"] for r in rows if r["priority_level"] == p}
        series[_priority(p)] = [None if is_missing(by.get(m)) else float(by[m]) / 60 for m in months]
    return line_chart(series, [m.strftime("%b %Y") for m in months],
                      f"{c.name(agency)}: median response, minutes, all districts", w=560, kind="response")
