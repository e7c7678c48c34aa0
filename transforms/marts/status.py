"""Why a mart is empty: marts.mart_status (this build) and meta.mart_status (every build, with its run).

After the steps, each product mart gets one row per agency: `ok` (it has rows), `partial` (it has rows, but
some of them say "no comparison" or "not classified"), `empty` (no rows, or none usable) or `not applicable`
(the agency has no input of that kind: no calls feed for response times, no tracked problem). An empty or
partial row says why, in words, from the first reason that holds:

1. the agency has no events at all (marts.periods rule 'no events');
2. the agency has no events in its period (an as_of set in config outside its data);
3. the mart's own reason: no events, or no located events, in the mart's window; not enough covered steps
   (EHSA); too few events of a Knox group; no whole month of calls (response times); no district recorded
   (CompStat top lists); a comparison against a period the data does not cover (CompStat, partial);
4. the generic one: no events in the agency's windows that the mart can use.

A configured category group that matches no event of the agency's period gets a row of its own (mart
`category_groups`). The night prints one warning per empty mart x agency (transforms.warehouse.runs).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from transforms.config import Settings
from transforms.marts.category_groups import unmatched_groups
from transforms.marts.dimensions import ehsa_first_day, last_year
from transforms.marts.models import read_model
from transforms.marts.periods import covered_dates
from transforms.marts.write import Mart, write_mart
from transforms.warehouse.sqlutil import qident, relation_exists

MART_STATUS = Mart(
    "mart_status", "mart VARCHAR, agency VARCHAR, category_group VARCHAR, state VARCHAR, reason VARCHAR",
    "one row per product mart x agency (x category group where it matters) of this build: state ok (rows), partial "
    "(rows, but some say no comparison or not classified), empty (no rows, or none usable) or not applicable (no "
    "input of that kind), and the reason in words; mart category_groups: a configured group matching no event. "
    "meta.mart_status keeps every build's rows",
    column_comments={
        "mart": "the product mart (hotspots, emerging_hotspots, repeat_locations, ...; category_groups: a "
                "configured group)",
        "category_group": "the category group where it matters (mart category_groups), else null",
        "state": "ok (rows), partial (rows, but some say no comparison or not classified), empty or not "
                 "applicable",
        "reason": "why, in words; null when ok",
    })

# each product mart -> the table that holds its rows (with an agency column)
PRODUCTS = {
    "coverage": "coverage",
    "hotspots": "hotspot_stats",
    "hotspot_audit": "hotspot_audit",
    "emerging_hotspots": "emerging_hotspot_rows",
    "kde": "kde_rows",
    "hotspot_accuracy": "hotspot_accuracy",
    "repeat_locations": "repeat_location_rows",
    "concentration": "concentration",
    "temporal_profile": "temporal_profile",
    "near_repeat": "near_repeat",
    "compstat": "compstat",
    "compstat_top": "compstat_top",
    "response_times": "response_times",
    "demand": "demand",
    "workload": "workload",
    "occupancy": "occupancy",
    "problem_assessment": "problem_assessment",
}
# product marts read from calls only: not applicable to an agency without a calls (CAD) feed
CALLS_ONLY = {"response_times", "demand", "workload", "occupancy"}
LOCATED = {"hotspots", "hotspot_audit", "emerging_hotspots", "kde", "hotspot_accuracy", "concentration",
           "near_repeat"}
KNOX_MIN_EVENTS = 3  # transforms/marts/near_repeat.py tests a group from three located events on


def _window_days(settings: Settings, mart: str, as_of: date) -> tuple[str, date]:
    """The words for a mart's window and its first local date (it ends at as_of)."""
    an = settings.sara.analysis
    longest = max(settings.sara.windows_days)
    days = {"hotspots": longest, "hotspot_audit": longest, "demand": longest, "workload": longest,
            "occupancy": longest, "kde": max(an.kde_windows_days, default=1),
            "hotspot_accuracy": 2 * an.prediction_period_days}.get(mart, an.repeat_window_days)
    if mart == "emerging_hotspots":
        return f"{an.ehsa_steps} {an.ehsa_step}s", ehsa_first_day(settings, as_of)
    if mart == "compstat":
        return "CompStat periods", last_year(date(as_of.year, 1, 1))
    return f"last {days} days", as_of - timedelta(days=days - 1)


class _Facts:
    """What the reasons are read from: periods, horizon, events per day, rows per mart."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings):
        self.con, self.settings = con, settings
        self.periods = {r["agency"]: r for r in con.execute("SELECT * FROM marts.periods").pl()
                        .iter_rows(named=True)}
        self.horizon = dict(con.execute("SELECT agency, min(first_date) FROM marts.horizon GROUP BY 1").fetchall())
        self.days = read_model(con, "inputs/status_days")
        self.rows: dict[str, dict[str, int]] = {}
        for mart, table in PRODUCTS.items():
            if relation_exists(con, "marts", table):
                self.rows[mart] = dict(con.execute(
                    f"SELECT agency, count(*) FROM marts.{qident(table)} GROUP BY agency").fetchall())

    def count(self, agency: str, start: date, end: date, col: str = "n", group: str = "all",
              dataset: str | None = None) -> int:
        d = self.days.filter((pl.col("agency") == agency) & (pl.col("category_group") == group)
                             & pl.col("local_date").is_between(start, end))
        if dataset is not None:
            d = d.filter(pl.col("dataset") == dataset)
        return int(d[col].sum() or 0)


def _span(p: dict) -> str:
    return f"its data runs from {p['first_event_day']} to {p['last_event_day']}"


def _agency_reason(f: _Facts, agency: str) -> str | None:
    """Why every mart of the agency is empty, if one reason covers them all."""
    p = f.periods.get(agency)
    if p is None or p["rule"] == "no events" or p["as_of"] is None:
        return "no events: the agency has no countable, non-void events in core"
    first = f.horizon.get(agency)
    if first is None or f.count(agency, first, p["as_of"]) == 0:
        return f"no events in the agency's period ({first} to {p['as_of']}, as_of by {p['rule']}): {_span(p)}"
    return None


def _empty_reason(f: _Facts, mart: str, agency: str) -> tuple[str, str]:
    """(state, reason) of a product mart with no rows for the agency."""
    p, s = f.periods[agency], f.settings
    as_of = p["as_of"]
    words, start = _window_days(s, mart, as_of)
    where = f"the agency's {words} ({start} to {as_of})"
    if mart == "response_times":
        return "empty", _response_reason(f.con, agency, as_of)
    if mart in CALLS_ONLY and f.count(agency, start, as_of, dataset="calls") == 0:
        return "empty", f"no calls in {where}: {_span(p)}"
    if f.count(agency, start, as_of) == 0:
        return "empty", f"no events in {where}: {_span(p)}"
    if mart in LOCATED and f.count(agency, start, as_of, "n_located") == 0:
        return "empty", f"no located events in {where}"
    if mart == "temporal_profile" and f.count(agency, start, as_of, "n_exact") == 0:
        return "empty", f"no events with a time of day in {where}"
    if mart == "near_repeat":
        why = []
        for g in s.sara.analysis.knox_groups:
            n = f.count(agency, start, as_of, "n_located", group=g)
            why.append(f"category group {g}: {n} located events (at least {KNOX_MIN_EVENTS} needed)")
        return "empty", f"too few events for the Knox test in {where}: " + "; ".join(why)
    if mart == "hotspot_accuracy":
        days = s.sara.analysis.prediction_period_days
        return "empty", f"no located events in both the last and this {days}-day period ({start} to {as_of})"
    if mart == "compstat_top":
        with_district = f.con.execute(
            "SELECT count(*) FROM marts.events WHERE agency = ? AND district IS NOT NULL", [agency]).fetchone()[0]
        if not with_district:
            return "empty", ("no top list per district: none of the agency's events in the marts' horizon has a "
                             "district (map one from the feed, or configure a district polygon layer)")
        return "empty", (f"no top list: no hot cell (28-day Gi* z > 0), repeat place or growing call type in a "
                         f"district in {where}")
    return "empty", f"no events in {where} that the mart can use"


def _response_reason(con: duckdb.DuckDBPyConnection, agency: str, as_of: date) -> str:
    """Why no call counts in the response times: the calls of its whole months, by the reason each was left
    out (marts.response_times_excluded), or that no whole month of calls ends by as_of."""
    rows = con.execute("SELECT reason, sum(n_calls), min(month), max(month) FROM marts.response_times_excluded "
                       "WHERE agency = ? GROUP BY 1 ORDER BY 2 DESC, 1", [agency]).fetchall() \
        if relation_exists(con, "marts", "response_times_excluded") else []
    if not rows:
        return (f"no whole month of calls inside the agency's period ending on or before its as_of {as_of} "
                "(a partial first or last month is left out)")
    first, last = min(r[2] for r in rows), max(r[3] for r in rows)
    months = f"month {first:%Y-%m}" if first == last else f"months {first:%Y-%m} to {last:%Y-%m}"
    return (f"no call counts in the whole {months}: "
            + ", ".join(f"{int(n):,} {reason.replace('_', ' ')}" for reason, n, _, _ in rows))


def _not_applicable(settings: Settings, problems: list, mart: str, agency: str) -> str | None:
    """Why the mart has no input of its kind for the agency, if it has none."""
    if mart in CALLS_ONLY and not any(src.agency == agency and src.kind == "calls"
                                      for src in settings.sources.values()):
        return "the agency has no calls (CAD) feed"
    if mart == "problem_assessment" and not any(p.agency == agency for p in problems):
        return "no tracked problem for the agency"
    return None


def _partial_reason(f: _Facts, mart: str, agency: str, problems: list) -> tuple[str, str | None]:
    """(state, reason) of a product mart with rows for the agency: ok, or partial/empty and why."""
    con = f.con
    if mart == "compstat":
        rows = con.execute("SELECT DISTINCT dataset, period, comparison FROM marts.compstat WHERE agency = ? "
                           "AND unit_type = 'agency' AND comparison <> 'ok' ORDER BY 1, 2", [agency]).fetchall()
        if rows:
            return "partial", "; ".join(f"{ds} {per}: {cmp}" for ds, per, cmp in rows)
    if mart == "emerging_hotspots":
        rows = con.execute("SELECT status, message, count(*) FROM marts.emerging_hotspot_rows WHERE agency = ? "
                           "GROUP BY ALL ORDER BY 1, 2", [agency]).fetchall()
        bad = [m for st, m, _ in rows if st != "ok"]
        if bad:
            state = "partial" if len(bad) < len(rows) else "empty"
            return state, "nothing classified: " + "; ".join(sorted(set(bad)))
    if mart == "problem_assessment":
        return _problem_coverage(f, agency, problems)
    return "ok", None


def _problem_coverage(f: _Facts, agency: str, problems: list) -> tuple[str, str | None]:
    """A tracked problem whose pre or post window reaches outside its agency's covered days is partial."""
    covered = covered_dates(f.con)
    why = []
    for p in problems:
        if p.agency != agency:
            continue
        cov = covered.get((agency, p.dataset), set())
        missing = {k: sum(d not in cov for d in win.dates()) for k, win in (("pre", p.pre), ("post", p.post))}
        if any(missing.values()):
            days = ", ".join(f"{n} of the {k} window's days" for k, n in missing.items() if n)
            why.append(f"problem {p.name}: {days} not covered ({_span(f.periods[agency])})")
    return ("partial", "; ".join(why)) if why else ("ok", None)


def _groups(con: duckdb.DuckDBPyConnection, f: _Facts) -> dict[str, list[tuple]]:
    """agency -> a row per configured category group that matches no event of the agency's period, of a dataset
    it has (transforms/marts/category_groups.py)."""
    out: dict[str, list[tuple]] = {}
    for agency, dataset, group, cats in unmatched_groups(con).iter_rows():
        first, as_of = f.horizon.get(agency), f.periods.get(agency, {}).get("as_of")
        out.setdefault(agency, []).append((
            "category_groups", agency, group, "empty",
            f"category group {group} ({', '.join(cats)}) matches no {dataset} event of the agency "
            f"from {first} to {as_of}"))
    return out


def collect(con: duckdb.DuckDBPyConnection, settings: Settings, problems: list) -> list[tuple]:
    """The rows of marts.mart_status: (mart, agency, category_group, state, reason)."""
    f = _Facts(con, settings)
    unmatched = _groups(con, f)
    rows = []
    for agency in settings.sara.agencies:
        common = _agency_reason(f, agency)
        for mart in PRODUCTS:
            na = _not_applicable(settings, problems, mart, agency)
            if f.rows.get(mart, {}).get(agency, 0):
                state, reason = _partial_reason(f, mart, agency, problems)
            elif na is not None:
                state, reason = "not applicable", na
            elif common is not None:
                state, reason = "empty", common
            elif mart == "coverage":
                state, reason = "empty", "no events: the agency has no countable, non-void events in core"
            else:
                state, reason = _empty_reason(f, mart, agency)
            rows.append((mart, agency, None, state, reason))
        if common is None:
            rows += unmatched.get(agency, [])
    return rows


def build_status(con: duckdb.DuckDBPyConnection, settings: Settings, problems: list) -> int:
    """marts.mart_status for this build, appended to meta.mart_status; returns the number of rows."""
    n = write_mart(con, MART_STATUS, MART_STATUS.frame(collect(con, settings, problems)))
    record_status(con)
    return n


def record_status(con: duckdb.DuckDBPyConnection) -> None:
    """Append marts.mart_status to meta.mart_status with the running night (meta.runs) and the time, UTC."""
    if not relation_exists(con, "meta", "mart_status"):
        return
    run = con.execute("SELECT run_id FROM meta.runs WHERE status = 'running' ORDER BY started_at DESC LIMIT 1"
                      ).fetchone() if relation_exists(con, "meta", "runs") else None
    con.execute("INSERT INTO meta.mart_status SELECT ?, ?, mart, agency, category_group, state, reason "
                "FROM marts.mart_status ORDER BY agency, mart, category_group",
                [run[0] if run else None, datetime.now(UTC)])
