"""Build every mart from core, in dependency order (`build_all`), and count their rows.

The steps, each in its own module:
- dimensions         marts.agency_zones, agency_utc_offsets, category_groups (dimensions.py)
- periods            each agency's as_of (marts.periods) and what its data covers (marts.coverage,
                     coverage_daily), from all of core (periods.py)
- changes            what the nights changed: marts.changes, changes_summary, from the version history
                     (changes.py); made with the periods on a scaled-out night
- windows            marts.windows, horizon, the event_dims view, per agency (dimensions.py); marts.events,
                     kept between nights: only the records a night touched are taken again (events.py);
                     marts.event_days, its counts per day, kept the same way (event_days.py, counts.py)
- event_units, units which unit each located event falls in; every spatial unit (units.py)
- hotspot_counts, hotspots        non-zero counts per unit, kept between nights; Getis-Ord Gi* (hotspots.py)
- study_area                      how much of the area the data fill; a warning when most cells are empty
                                  (study_area.py)
- emerging_hotspots               Emerging Hot Spot Analysis on grid cells (emerging_hotspots.py)
- kde, hotspot_accuracy           kernel density; last period's hot spots against this period (density.py)
- location_days                   per-day counts per place, kept between nights: only the days a night
                                  touched are rebuilt (location_days.py)
- repeat_locations                places that keep coming back, from location_days; the places kept between
                                  nights, only those whose days in a window changed made again
                                  (repeat_locations.py)
- hotspot_audit                   who drives the map: officer share of hot cells and top places (audit.py)
- concentration                   Gini and shares over units and places (place_concentration.py)
- temporal_profile                hour-of-week profile (temporal_profile.py)
- near_repeat                     Knox test and near-repeat labels (near_repeat.py)
- compstat, response_times        CompStat counts and top lists; response times, kept per month: only the
                                  months a night touched are computed (compstat.py, response_months.py)
- restatements                    past nights' published CompStat figures against now, the records that
                                  moved them; tonight's figures kept (restatements.py)
- problems                        SARA problem assessments (problems.py)
- status                          why a mart is empty, per agency: marts.mart_status, meta.mart_status
                                  (status.py)
- comments                        the shared columns' comments, each view column's, the local-time
                                  columns' zones (write.py: comment_marts)
The set logic is in sql/marts/ (one model per file); the statistics in transforms/stats/; every mart
computed in Python is written by write.py from its declared schema.
"""

from __future__ import annotations

import time
from datetime import date, datetime

import duckdb

from transforms.config import Settings
from transforms.config.problems import load_problems
from transforms.marts import (
    audit,
    changes,
    compstat,
    demand,
    density,
    emerging_hotspots,
    events,
    hotspots,
    location_days,
    near_repeat,
    place_concentration,
    problems,
    repeat_locations,
    response_months,
    restatements,
    status,
    study_area,
    temporal_profile,
    units,
    workload,
)
from transforms.marts.dimensions import build_dimensions, write_config_dimensions
from transforms.marts.periods import PERIOD_MARTS, agency_ends, build_periods
from transforms.marts.units import static_units
from transforms.marts.write import comment_marts
from transforms.warehouse.sqlutil import qident

# made once on the whole build file before a scaled-out night's fan-out (prepare), copied into each agency's part
WHOLE_FILE_MARTS = (*PERIOD_MARTS, *changes.TABLES)
# kept between nights (incremental); everything else is rebuilt
KEEP = {"event_units", "build_info", *events.TABLES, *location_days.TABLES, *response_months.TABLES,
        "repeat_places", "hotspot_count_rows", "event_days"}


def drop_rebuilt(con: duckdb.DuckDBPyConnection, keep: tuple[str, ...] = ()) -> None:
    """Drop every mart object that is rebuilt each night, whatever kind it was (an older version of sara
    may have made a table where this one makes a view); the tables named in `keep` stay too."""
    for name, in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts' "
                             "AND NOT internal").fetchall():
        con.execute(f"DROP VIEW IF EXISTS marts.{qident(name)}")
    for name, in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall():
        if name not in KEEP and name not in keep:
            con.execute(f"DROP TABLE IF EXISTS marts.{qident(name)}")


def prepare(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
            now: datetime | None = None) -> None:
    """The marts every later step reads its dates from: marts.agency_zones, category_groups, periods, coverage
    and coverage_daily (from all of core); and marts.changes, changes_summary (from all of the history). A
    scaled-out night makes them once on the whole build file."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    write_config_dimensions(con, settings)
    build_periods(con, settings, as_of, now)
    changes.build_changes(con, settings)


def build_all(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
              timings: dict | None = None, prepared: bool = False, details: dict | None = None) -> dict:
    """Every mart, in dependency order, each agency's windows ending at its own as_of (marts.periods); a date
    given as `as_of` ends every agency's. prepared=True: marts.periods, the coverage marts, marts.changes and
    changes_summary are already there (a scaled-out agency, transforms/marts/parts.py). Returns row counts per
    mart table, with the as_of dates (one date, or "agency date, ..." when they differ), seconds per step in
    `timings`, and what each step kept between nights did in `details` (run_steps)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    drop_rebuilt(con, WHOLE_FILE_MARTS if prepared else ())
    unit_sets = static_units(settings)
    problem_list = [p for p in load_problems(settings) if p.agency in settings.sara.agencies]
    steps = [
        ("dimensions", lambda: write_config_dimensions(con, settings)),
        ("periods", (lambda: None) if prepared else (lambda: build_periods(con, settings, as_of))),
        ("changes", (lambda: None) if prepared else (lambda: changes.build_changes(con, settings))),
        ("windows", lambda: build_dimensions(con, settings, problem_list)),
        ("event_units", lambda: units.build_event_units(con, settings, unit_sets)),
        ("units", lambda: units.write_units(con, settings, unit_sets)),
        ("hotspot_counts", lambda: hotspots.build_hotspot_counts(con)),
        ("hotspots", lambda: hotspots.build_hotspots(con, settings)),
        ("study_area", lambda: study_area.build_study_area(con, settings)),
        ("emerging_hotspots", lambda: emerging_hotspots.build_emerging(con, settings)),
        ("kde", lambda: density.build_kde(con, settings)),
        ("hotspot_accuracy", lambda: density.build_accuracy(con, settings)),
        # a scaled-out agency copied the aggregate the writer brought up to date (transforms/marts/parts.py)
        ("location_days", (lambda: None) if prepared and location_days.present(con)
         else (lambda: location_days.build_location_days(con))),
        ("repeat_locations", lambda: repeat_locations.build_repeat_locations(con, settings)),
        ("hotspot_audit", lambda: audit.build_audit(con, settings)),
        ("concentration", lambda: place_concentration.build_concentration(con, settings)),
        ("temporal_profile", lambda: temporal_profile.build_temporal_profile(con, settings)),
        ("near_repeat", lambda: near_repeat.build_near_repeat(con, settings)),
        ("compstat", lambda: compstat.build_compstat(con)),
        # against the figures past nights published; a scaled-out agency's part has no version history: the
        # writer builds them after the merge (transforms/marts/parts.py)
        ("restatements", (lambda: None) if prepared else (lambda: restatements.build_restatements(con))),
        # kept per month; a scaled-out agency copied tables the writer synced (transforms/marts/parts.py)
        ("response_times", lambda: compstat.build_response_times(
            con, synced=prepared and response_months.present(con))),
        ("demand", lambda: demand.build_demand(con)),
        ("workload", lambda: workload.build_workload(con, settings)),
        ("problems", lambda: problems.build_problem_marts(con, settings, problem_list)),
        ("status", lambda: status.build_status(con, settings, problem_list)),
        ("comments", lambda: comment_marts(con)),
    ]
    return run_steps(con, steps, timings, details)


def build_figures(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
                  timings: dict | None = None) -> dict:
    """Only the figures a night publishes: the dimensions, the periods, the windows and CompStat, kept in
    meta.published_compstat (and marts.restatements against the nights before), so that a later night can
    say how they were restated. The demo's first night (`sara demo`): a night built this way is
    published without its other marts, so every other mart is dropped, the tables kept between nights too
    (they would miss this night's changes; the next full build makes them again). Returns what build_all
    returns."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    drop_rebuilt(con)
    for name in KEEP:
        con.execute(f"DROP TABLE IF EXISTS marts.{qident(name)}")
    problem_list = [p for p in load_problems(settings) if p.agency in settings.sara.agencies]
    steps = [
        ("dimensions", lambda: write_config_dimensions(con, settings)),
        ("periods", lambda: build_periods(con, settings, as_of)),
        ("changes", lambda: changes.build_changes(con, settings)),
        ("windows", lambda: build_dimensions(con, settings, problem_list)),
        ("compstat", lambda: compstat.build_compstat(con)),
        ("restatements", lambda: restatements.build_restatements(con)),
        ("comments", lambda: comment_marts(con)),
    ]
    return run_steps(con, steps, timings)


def run_steps(con: duckdb.DuckDBPyConnection, steps: list, timings: dict | None, details: dict | None = None) -> dict:
    """Run (name, step) in order, the seconds of each in `timings` and what a step kept between nights did
    (rebuilt or updated, and how much: the dict it returns) in `details`; returns the as_of dates and the row
    counts."""
    for name, step in steps:
        t = time.perf_counter()
        did = step()
        if timings is not None:
            timings[name] = round(time.perf_counter() - t, 3)
        if details is not None and isinstance(did, dict):
            details[name] = did
    return {"as_of": as_of_words(agency_ends(con)), **mart_row_counts(con)}


def as_of_words(ends: dict[str, date]) -> str | None:
    """The as_of dates for a run's summary: one date when every agency has it, else "agency date, ..."."""
    if len(set(ends.values())) <= 1:
        return next((str(d) for d in ends.values()), None)
    return ", ".join(f"{a} {d}" for a, d in ends.items())


def mart_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per mart table (DuckDB's estimate), for the run's report."""
    rows = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() WHERE database_name = "
                       "current_database() AND schema_name = 'marts' ORDER BY 1").fetchall()
    return {t: int(n) for t, n in rows}
