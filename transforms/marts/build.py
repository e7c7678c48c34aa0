"""Build every mart from core, in dependency order (`build_all`), and count their rows.

The steps, each in its own module:
- dimensions         marts.agency_zones, category_groups, windows, horizon, events, the event_dims view
                     (dimensions.py)
- event_units, units which unit each located event falls in; every spatial unit (units.py)
- hotspot_counts, hotspots        non-zero counts per unit; Getis-Ord Gi* (hotspots.py)
- study_area                      how much of the area the data fill; a warning when most cells are empty
                                  (study_area.py)
- emerging_hotspots               Emerging Hot Spot Analysis on grid cells (emerging_hotspots.py)
- kde, hotspot_accuracy           kernel density; last period's hot spots against this period (density.py)
- repeat_locations                places that keep coming back (repeat_locations.py)
- concentration                   Gini and shares over units and places (place_concentration.py)
- temporal_profile                hour-of-week profile (temporal_profile.py)
- near_repeat                     Knox test and near-repeat labels (near_repeat.py)
- compstat, response_times        CompStat counts and top lists; response times (compstat.py)
- problems                        SARA problem assessments (problems.py)
The set logic is in sql/marts/ (one model per file); the statistics in transforms/stats/; every mart
computed in Python is written by write.py from its declared schema.
"""

from __future__ import annotations

import time
from datetime import date

import duckdb

from transforms.config import Settings
from transforms.config.problems import load_problems
from transforms.marts import (
    compstat,
    density,
    emerging_hotspots,
    hotspots,
    near_repeat,
    place_concentration,
    problems,
    repeat_locations,
    study_area,
    temporal_profile,
    units,
)
from transforms.marts.dimensions import as_of_date, build_dimensions
from transforms.marts.units import static_units
from transforms.warehouse.sqlutil import qident

KEEP = {"event_units", "build_info"}  # kept between nights (incremental); everything else is rebuilt


def drop_rebuilt(con: duckdb.DuckDBPyConnection) -> None:
    """Drop every mart object that is rebuilt each night, whatever kind it was (an older version of sara
    may have made a table where this one makes a view)."""
    for name, in con.execute("SELECT view_name FROM duckdb_views() WHERE schema_name = 'marts' "
                             "AND NOT internal").fetchall():
        con.execute(f"DROP VIEW IF EXISTS marts.{qident(name)}")
    for name, in con.execute("SELECT table_name FROM duckdb_tables() WHERE schema_name = 'marts'").fetchall():
        if name not in KEEP:
            con.execute(f"DROP TABLE IF EXISTS marts.{qident(name)}")


def build_all(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None,
              timings: dict | None = None) -> dict:
    """Every mart, in dependency order. Returns row counts per mart table (and seconds per step in `timings`)."""
    as_of = as_of or as_of_date(settings)
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    drop_rebuilt(con)
    unit_sets = static_units(settings)
    problem_list = [p for p in load_problems(settings) if p.agency in settings.sara.agencies]
    steps = [
        ("dimensions", lambda: build_dimensions(con, settings, as_of, problem_list)),
        ("event_units", lambda: units.build_event_units(con, settings, unit_sets)),
        ("units", lambda: units.write_units(con, settings, unit_sets)),
        ("hotspot_counts", lambda: hotspots.build_hotspot_counts(con)),
        ("hotspots", lambda: hotspots.build_hotspots(con, settings)),
        ("study_area", lambda: study_area.build_study_area(con, settings, as_of)),
        ("emerging_hotspots", lambda: emerging_hotspots.build_emerging(con, settings, as_of)),
        ("kde", lambda: density.build_kde(con, settings, as_of)),
        ("hotspot_accuracy", lambda: density.build_accuracy(con, settings, as_of)),
        ("repeat_locations", lambda: repeat_locations.build_repeat_locations(con, settings, as_of)),
        ("concentration", lambda: place_concentration.build_concentration(con, settings, as_of)),
        ("temporal_profile", lambda: temporal_profile.build_temporal_profile(con, settings, as_of)),
        ("near_repeat", lambda: near_repeat.build_near_repeat(con, settings, as_of)),
        ("compstat", lambda: compstat.build_compstat(con, as_of)),
        ("response_times", lambda: compstat.build_response_times(con)),
        ("problems", lambda: problems.build_problem_marts(con, settings, problem_list)),
    ]
    for name, step in steps:
        t = time.perf_counter()
        step()
        if timings is not None:
            timings[name] = round(time.perf_counter() - t, 3)
    return {"as_of": str(as_of), **mart_row_counts(con)}


def mart_row_counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows per mart table (DuckDB's estimate), for the run's report."""
    rows = con.execute("SELECT table_name, estimated_size FROM duckdb_tables() WHERE database_name = "
                       "current_database() AND schema_name = 'marts' ORDER BY 1").fetchall()
    return {t: int(n) for t, n in rows}
