"""CompStat-style marts: period counts against the same period last year, top-N lists, response times.

marts.compstat
    Counts of marts.events per agency x unit (district and beat) x dataset x category group for three
    periods ending at the agency's as_of (local dates, inclusive): week (last 7 days), 28d (last 28 days)
    and ytd (Jan 1 of as_of's year .. as_of). Each is compared with the same dates one year earlier (every
    date shifted back one calendar year; Feb 29 becomes Feb 28, so a last-year period can be one day
    shorter than this year's when it spans a leap day). Every unit x dataset x group with an event in any
    of the compared ranges gets all three periods (0 / 0 rows included), so zero-now-but-some-last-year
    groups and the reverse are both present. unit_id '(unassigned)' counts the events without a recorded
    district / beat; a unit type no event of the agency's dataset has is left out.
    No comparison where there is no data: a period is covered when every date in it is a day of
    marts.coverage_daily that is not an outage. An uncovered period's count is null, and change, pct_change
    and poisson_z are null unless both periods are covered; `comparison` says 'ok' or why not ('no
    comparison (data from <first day> to <last complete day>)', 'no comparison (outage on N days)').
    pct_change is a percentage (100 * change / n_last_year), null when n_last_year is 0;
    poisson_z = 2 (sqrt(n) - sqrt(n_last_year)) (transforms.stats.wdd.poisson_z).

marts.compstat_top
    Top-5 lists per agency x dataset x district (rows with no district are skipped), kind:
    - hotspot: grid cells of marts.hotspot_stats (calls and incidents apart, category group all,
      origin all, window_days 28) with z > 0, by z. A cell's district is the most common district of the
      events assigned to it (marts.event_units unit_type 'grid' joined to marts.events, any date and
      dataset; ties to the smaller district name); cells with no such event are skipped.
    - repeat_location: location_keys of marts.repeat_location_rows (each dataset, all, origin all) by
      n_repeat_window; the district is the most common district of marts.events at that location_key.
    - call_type_growth: call types (event_type of dataset calls) with the largest positive change from the
      same 28 days last year to the last 28 days; only for an agency whose 28-day calls comparison is 'ok'.
    A kind whose input mart (marts.hotspot_stats, marts.repeat_location_rows) is missing is skipped.

marts.response_times / marts.response_times_excluded
    Median and 90th percentile (DuckDB quantile_cont: linear interpolation, median = quantile_cont 0.5) of
    response_s, queue_s and travel_s per agency x priority_level x district x local month of event_at,
    over community calls that are countable, not void, not cancelled and have a response time (response_s
    not null), in whole local months inside the agency's period: from the first month that starts on or
    after both its first date in marts.horizon (so the nightly cost is bounded by the horizon instead of
    growing with history) and the first day of its calls (marts.coverage), to the last month that ends on
    or before its as_of; never a month after as_of, never a partial month. Every other call is counted in
    marts.response_times_excluded under the first reason that applies, in this order: void, not_countable,
    officer_initiated, unknown_origin (any origin other than community/officer), cancelled, unknown_time,
    date_only_time (a date without a time of day gives no interval, never 0 s), no_onscene_time.

marts.response_times_agency
    The same figures agency-wide (district '(all districts)') per agency x priority_level x month, computed
    from the counted calls themselves: the median of all calls is not a call-weighted mean of the district
    medians (calls of 100, 200 and 900 s in one district and 300 s in another: median 250 s; the call-weighted
    mean of the district medians, 200 and 300, is 225 s).

The response-time marts are kept between nights per agency x month: a night computes only the months whose
calls it changed and the months new in the agency's period (transforms/marts/response_months.py).
The set logic is in sql/marts/compstat.sql, compstat_top/*.sql, response_month*.sql, response_time_calls.sql,
response_times.sql, response_times_agency.sql and response_times_excluded.sql.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from transforms.marts import response_months
from transforms.marts.dimensions import last_year, periods
from transforms.marts.models import read_model
from transforms.marts.periods import agency_ends
from transforms.marts.write import Mart, write_mart
from transforms.stats.wdd import poisson_z
from transforms.warehouse.sqlutil import relation_exists

TOP_N = 5

COMPSTAT = Mart(
    "compstat",
    "agency VARCHAR, unit_type VARCHAR, unit_id VARCHAR, dataset VARCHAR, category_group VARCHAR, period VARCHAR, "
    "period_start DATE, period_end DATE, last_year_start DATE, last_year_end DATE, n BIGINT, n_last_year BIGINT, "
    "change BIGINT, pct_change DOUBLE, poisson_z DOUBLE, comparison VARCHAR, as_of DATE",
    "CompStat counts per agency x unit (unit_type agency (the whole agency), district or beat; unit_id "
    "'(unassigned)' = not recorded) x dataset x category group for week (7 days), 28d and ytd ending at the "
    "agency's as_of (local dates, inclusive) against the same dates last year (shifted one year, Feb 29 -> Feb 28): "
    "n, n_last_year, change, pct_change = 100*change/n_last_year (null when n_last_year = 0), poisson_z = "
    "2(sqrt(n) - sqrt(n_last_year)). A period not covered by the data (a date outside the sources' periods or an "
    "outage day, marts.coverage_daily) has a null count, and change, pct_change and poisson_z are null unless both "
    "are covered; comparison = 'ok' or 'no comparison (...)' saying why. All three periods for every unit/group "
    "seen in any compared range.",
    column_comments={
        "unit_type": "agency (the whole agency), district or beat",
        "unit_id": "the district or beat ('(unassigned)' = not recorded); the agency code for unit_type "
                   "agency",
        "period": "week (the last 7 days), 28d (the last 28 days) or ytd (1 January to as_of)",
        "period_start": "first local date (agency zone) of the period, inclusive",
        "period_end": "last local date of the period, inclusive (the agency's as_of)",
        "last_year_start": "period_start shifted one year back (Feb 29 -> Feb 28)",
        "last_year_end": "period_end shifted one year back (Feb 29 -> Feb 28)",
        "n": "events in the period; null when the period is not covered by the data (marts.coverage_daily)",
        "n_last_year": "events in the same dates last year; null when those dates are not covered",
        "change": "n - n_last_year, events; null unless both periods are covered",
        "pct_change": "100 * change / n_last_year, percent; null when n_last_year = 0 or not compared",
        "poisson_z": "2 (sqrt(n) - sqrt(n_last_year)), the square-root z of the change; null unless both "
                     "periods are covered",
        "comparison": "ok, or 'no comparison (...)' saying why (data from <first day> to <last complete "
                      "day>, or outage on N days)",
    })
COMPSTAT_TOP = Mart(
    "compstat_top",
    "agency VARCHAR, dataset VARCHAR, district VARCHAR, kind VARCHAR, rank INTEGER, item VARCHAR, label VARCHAR, "
    "score DOUBLE, n BIGINT, n_compare BIGINT, as_of DATE",
    f"top {TOP_N} per agency x dataset x district and kind: hotspot (grid cells, category group all, origin all, "
    "28-day Gi* z > 0, "
    "score = z; a cell's district = most common district of its events, cells without one skipped), "
    "repeat_location (location_key, score = n_repeat_window; district = most common district of its events), "
    "call_type_growth (event_type, score = n - n_compare, last 28 days vs the same days last year, increases "
    "only). A kind whose input mart is missing is skipped.",
    column_comments={
        "district": "the district the item belongs to: the most common district of its events",
        "kind": "hotspot (grid cells by 28-day Gi* z), repeat_location (places by n_repeat_window) or "
                "call_type_growth (call types by growth over the same 28 days last year)",
        "rank": "1 = top, within agency x district x kind",
        "item": "hotspot: the grid cell's unit_id; repeat_location: the location_key; call_type_growth: the "
                "call type",
        "label": "what to show for the item: repeat_location the block address, call_type_growth the call "
                 "type; null for hot spots",
        "score": "what ranks the items: hotspot Gi* z, repeat_location n_repeat_window, call_type_growth n - "
                 "n_compare",
        "n": "events: hotspot the cell's own 28-day calls (0 = hot through its neighbours alone), "
             "repeat_location n_repeat_window, call_type_growth the last 28 days' calls",
        "n_compare": "call_type_growth: calls of the type in the same 28 days last year; null for the other "
                     "kinds",
    })
# each kind of top list and the marts it reads
TOP_KINDS = {
    "hotspot": ("events", "hotspot_stats", "event_units"),
    "repeat_location": ("events", "repeat_location_rows"),
    "call_type_growth": ("events",),
}


def build_compstat(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> int:
    """marts.compstat and marts.compstat_top, each agency's periods ending at its as_of (or at the date given);
    returns the number of marts.compstat rows."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    ends = agency_ends(con, as_of)
    df = read_model(con, "compstat", periods=[
        {"agency": a, "period": p, "period_start": s, "period_end": e, "ly_start": ls, "ly_end": le, "as_of": end}
        for a, end in ends.items() for p, s, e, ls, le in periods(end)])
    both = (df["n"].is_not_null() & df["n_last_year"].is_not_null()).to_numpy()
    z = np.full(len(df), np.nan)
    if both.any():
        z[both] = poisson_z(df["n_last_year"].to_numpy()[both], df["n"].to_numpy()[both])
    n = write_mart(con, COMPSTAT, df.with_columns(poisson_z=pl.Series(z, dtype=pl.Float64)))
    # the growth list compares the last 28 days with last year's: only where that comparison holds
    ok = set(df.filter((pl.col("unit_type") == "agency") & (pl.col("dataset") == "calls")
                       & (pl.col("period") == "28d") & (pl.col("comparison") == "ok"))["agency"].to_list())
    _build_top(con, {a: end for a, end in ends.items() if a in ok}, ends)
    return n


def _build_top(con: duckdb.DuckDBPyConnection, growth_ends: dict[str, date], ends: dict[str, date]) -> None:
    ranges = [{"agency": a, "period_start": e - timedelta(days=27), "period_end": e,
               "ly_start": last_year(e - timedelta(days=27)), "ly_end": last_year(e)} for a, e in growth_ends.items()]
    frames = [read_model(con, f"compstat_top/{kind}", top_n=TOP_N,
                         **({"ranges": ranges} if kind == "call_type_growth" else {}))
              for kind, needs in TOP_KINDS.items() if all(relation_exists(con, "marts", m) for m in needs)]
    top = pl.concat(frames, how="vertical_relaxed") if frames else None
    if top is not None:
        top = (top.filter(pl.col("agency").is_in(list(ends)))
               .join(pl.DataFrame({"agency": list(ends), "as_of": list(ends.values())},
                                  schema={"agency": pl.String, "as_of": pl.Date}), on="agency", how="left")
               .sort(["agency", "dataset", "district", "kind", "rank"], nulls_last=True))
    write_mart(con, COMPSTAT_TOP, top)


def build_response_times(con: duckdb.DuckDBPyConnection, synced: bool = False) -> int:
    """marts.response_times, marts.response_times_agency and marts.response_times_excluded from core.calls, in
    whole local months inside each agency's period (marts.horizon, marts.coverage, marts.periods), kept between
    nights: only the months a night touched or that entered the period are computed (response_months.py;
    synced=True: the touched months were already deleted by a scale-out writer). Returns the number of
    marts.response_times rows."""
    response_months.build_response_months(con, synced=synced)
    return con.execute("SELECT count(*) FROM marts.response_times").fetchone()[0]
