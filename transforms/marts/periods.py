"""Each agency's own period: the date its marts end at (marts.periods) and what its data covers
(marts.coverage, marts.coverage_daily). Built first, from all of core, before any window is set.

- marts.periods         per agency: as_of and the rule that chose it (sql/marts/periods.sql, the one place the
                        rule is computed): the last complete local day of its data, or local today - 1 if
                        earlier, minus data_lag_days; [agencies.<code>] as_of, [time] as_of or a date given to
                        the build override it
- marts.coverage_daily  per agency x dataset x source x local date in the source's period: n, typical volume,
                        outage days (no events, or far below typical: transforms.stats.coverage)
- marts.coverage        per agency x dataset x source: first / last event, last complete day, days covered,
                        volume, time precision mix, located share, outage days
- marts.placeholder_points, marts.coverage_geocode   points that are not locations (sql/marts/placeholder_points.sql)
                        and how each source's events were placed (located share by geocode method)

`agency_ends` gives every mart its agencies' as_of dates; `covered_dates` the local dates a comparison may use.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, date, datetime

import duckdb
import polars as pl

from transforms.config import Settings
from transforms.marts.frames import groups
from transforms.marts.models import read_model, run_model
from transforms.marts.write import Mart, write_mart
from transforms.stats.coverage import outage_days
from transforms.warehouse.sqlutil import relation_exists

# the marts this step makes; a scaled-out night makes them once, on the whole build file, before the fan-out
PERIOD_MARTS = ("periods", "coverage_daily", "coverage", "placeholder_points", "coverage_geocode")

COVERAGE_DAILY = Mart(
    "coverage_daily",
    "agency VARCHAR, dataset VARCHAR, source VARCHAR, local_date DATE, n BIGINT, typical DOUBLE, is_outage BOOLEAN, "
    "reason VARCHAR",
    "one row per agency x dataset x source x local date inside the source's period (first event day .. last "
    "complete day, zero days included): n events (countable, not void), typical = median of the last 28 days "
    "before it that were not outages (null with none), is_outage and reason: no events (a run of empty days over "
    "which typical expects at least 5 events), or far below typical (n < 20 % of typical, typical >= 5); "
    "transforms.stats.coverage",
    column_comments={
        "local_date": "the day, local date (agency zone), inside the source's period (first event day .. "
                      "last complete day)",
        "n": "countable, non-void events of the source that day (zero days included)",
        "typical": "median of n over the last 28 days before it that were not outages; null with none",
        "is_outage": "the day is an outage (see reason); a day outside the period is never one",
        "reason": "no events (a run of empty days over which typical expects at least 5 events), far below "
                  "typical (n < 20 % of typical, typical >= 5), or null",
    })


def build_periods(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
                  now: datetime | None = None) -> None:
    """marts.periods, marts.coverage_daily and marts.coverage from all of core (after marts.agency_zones).
    as_of, when given, is every agency's as_of (rule 'given'); now is the run's clock (default: now)."""
    clock = {"now_utc": (now or datetime.now(UTC)).astimezone(UTC),
             "source_agencies": [{"source": name, "agency": src.agency} for name, src in settings.sources.items()]}
    run_model(con, "coverage_days")
    try:
        run_model(con, "periods", given_as_of=as_of, global_as_of=settings.sara.time.as_of,
                  overrides=[{"agency": code, "agency_as_of": a.as_of}
                             for code, a in settings.sara.agencies.items()],
                  data_lag_days=settings.sara.time.data_lag_days, **clock)
        _coverage_daily(con, clock)
        run_model(con, "coverage")
        an = settings.sara.analysis
        run_model(con, "placeholder_points", min_events=an.placeholder_min_events,
                  min_addresses=an.placeholder_min_addresses)
        run_model(con, "coverage_geocode")
    finally:
        con.execute("DROP TABLE IF EXISTS temp.coverage_days")


def _coverage_daily(con: duckdb.DuckDBPyConnection, clock: dict) -> None:
    """marts.coverage_daily: each source's days with their outage flags."""
    days = read_model(con, "inputs/coverage_calendar", **clock)
    parts = []
    for _, g in groups(days, ["agency", "dataset", "source"]):
        typical, outage, reason = outage_days(g["n"].to_numpy())
        parts.append(g.with_columns(typical=pl.Series(typical, dtype=pl.Float64),
                                    is_outage=pl.Series(outage, dtype=pl.Boolean),
                                    reason=pl.Series(reason, dtype=pl.String)))
    write_mart(con, COVERAGE_DAILY, pl.concat(parts) if parts else None)


def agency_ends(con: duckdb.DuckDBPyConnection, as_of: date | None = None) -> dict[str, date]:
    """agency -> the as_of its marts end at (marts.periods; agencies without one are left out). A date given
    here is every agency's of marts.agency_zones instead (a mart built on its own, by a test or a bench)."""
    if as_of is not None:
        return {a: as_of for a, in con.execute("SELECT agency FROM marts.agency_zones ORDER BY 1").fetchall()}
    return dict(con.execute("SELECT agency, as_of FROM marts.periods WHERE as_of IS NOT NULL ORDER BY 1").fetchall())


def covered_dates(con: duckdb.DuckDBPyConnection) -> dict[tuple[str, str], set[date]]:
    """(agency, dataset) -> the local dates a comparison may use: inside the period of one of the dataset's
    sources and not an outage day of it (marts.coverage_daily). Empty without that mart."""
    if not relation_exists(con, "marts", "coverage_daily"):
        return {}
    out: dict[tuple[str, str], set[date]] = {}
    for agency, dataset, d in con.execute("SELECT DISTINCT agency, dataset, local_date FROM marts.coverage_daily "
                                          "WHERE NOT is_outage").fetchall():
        out.setdefault((agency, dataset), set()).add(d)
    return out


def day_ranges(ends: dict[str, date], first: Callable[[date], date]) -> list[dict]:
    """The `ranges` variable of the input models: per agency, local dates first(as_of)..as_of."""
    return [{"agency": a, "start_date": first(end), "end_date": end} for a, end in ends.items()]
