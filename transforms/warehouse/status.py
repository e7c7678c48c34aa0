"""What the command line reads from the published warehouse to print: every query is here, each returning its
column names and rows (Rows), or the values the command needs.

    `sara status`    last_runs, agency_periods, coverage, empty_marts, table_sizes, quarantine_by_reason,
                     located_share, located_by_method, placeholder_points, left_out_of_units,
                     unmapped_codes, unit_sources, unit_disagreements, failed_loads, held_files,
                     unmatched_last_run (the failed runs that were never published are in
                     runs.jsonl: transforms.warehouse.runs.failed_runs)
    `sara demo`      table_sizes, events_per_agency, quarantine_reasons, last_audits
    `sara publish`   source_events
    `sara near-repeat`  knox_per_agency, knox_categories, knox_points
    `sara assess`    assessment

Every connection here is a read-only one on the published file (transforms.warehouse.db.open_published).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

if TYPE_CHECKING:
    import numpy as np
    import pyarrow as pa


@dataclass(frozen=True)
class Rows:
    columns: list[str]
    rows: list[tuple]


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> Rows:
    cur = con.execute(sql, params or [])
    return Rows([d[0] for d in cur.description], cur.fetchall())


# ---- sara status ----

def last_runs(con: duckdb.DuckDBPyConnection, n: int = 5) -> Rows:
    return _rows(con, "SELECT run_id[:8] AS run, status, started_at, finished_at, rows_read, rows_loaded, "
                      "rows_duplicate, rows_quarantined, message FROM meta.runs ORDER BY started_at DESC LIMIT ?",
                 [n])


def _has(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> bool:
    return bool(con.execute("SELECT count(*) FROM duckdb_tables() WHERE schema_name = ? AND table_name = ?",
                            [schema, table]).fetchone()[0])


def agency_periods(con: duckdb.DuckDBPyConnection) -> Rows:
    """Each agency's as_of and how it was chosen (marts.periods; none before the first marts build)."""
    if not _has(con, "marts", "periods"):
        return Rows(["agency", "as_of"], [])
    return _rows(con, "SELECT agency, as_of, rule, last_event_day, last_complete_day, newest_extract_at "
                      "FROM marts.periods ORDER BY agency")


def coverage(con: duckdb.DuckDBPyConnection) -> Rows:
    """What each source covers: its period, volume, outage days, time precision and located share
    (marts.coverage)."""
    if not _has(con, "marts", "coverage"):
        return Rows(["agency", "source"], [])
    return _rows(con, """SELECT agency, dataset, source, first_day AS data_from, last_complete_day, n_events,
                                days_covered, n_outage_days AS outage_days, first_outage_day, last_outage_day,
                                round(100 * located_share, 1) AS located_pct, round(100 * share_exact, 1) AS exact_pct,
                                round(100 * share_date_only, 1) AS date_only_pct,
                                round(100 * share_unknown_time, 1) AS unknown_time_pct
                         FROM marts.coverage ORDER BY agency, dataset, source""")


def empty_marts(con: duckdb.DuckDBPyConnection) -> Rows:
    """The marts the last build left empty or partial for an agency, and why (marts.mart_status)."""
    if not _has(con, "marts", "mart_status"):
        return Rows(["mart", "agency"], [])
    return _rows(con, """SELECT agency, mart, category_group, state, reason FROM marts.mart_status
                         WHERE state IN ('empty', 'partial') ORDER BY agency, mart, category_group""")


def table_sizes(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = ("meta", "raw", "core", "marts")) -> Rows:
    """Rows per table (DuckDB's estimate) of the given schemas."""
    return _rows(con, "SELECT schema_name || '.' || table_name AS table_name, estimated_size AS rows "
                      "FROM duckdb_tables() WHERE list_contains(?, schema_name) ORDER BY 1", [list(schemas)])


def quarantine_by_reason(con: duckdb.DuckDBPyConnection) -> Rows:
    return _rows(con, "SELECT source, split_part(reason, ':', 1) AS reason, count(*) AS rows, "
                      "any_value(reason) AS example FROM core.quarantine GROUP BY ALL ORDER BY rows DESC")


def located_share(con: duckdb.DuckDBPyConnection) -> Rows:
    return _rows(con, """SELECT source, agency, count(*) AS events, round(avg(is_located::INT) * 100, 1) AS located_pct,
                  count(*) FILTER (WHERE location_issue = 'swapped_repaired') AS swapped_repaired
           FROM (SELECT source, agency, is_located, location_issue FROM core.calls
                 UNION ALL SELECT source, agency, is_located, location_issue FROM core.incidents)
           GROUP BY ALL ORDER BY source""")


def located_by_method(con: duckdb.DuckDBPyConnection) -> Rows:
    """How each source's countable events were placed: share by geocode method (feed, history, intersection,
    interpolated, block, street), at a placeholder point, or unlocated, with the median precision
    (marts.coverage_geocode)."""
    if not _has(con, "marts", "coverage_geocode"):
        return Rows(["agency", "source"], [])
    return _rows(con, """SELECT agency, dataset, source, method, n_events AS events, round(100 * share, 1) AS pct,
                                round(median_precision_m) AS median_precision_m
                         FROM marts.coverage_geocode ORDER BY agency, dataset, source, n_events DESC""")


def left_out_of_units(con: duckdb.DuckDBPyConnection) -> Rows:
    """Events in no unit of a type, and why: imprecise (precision above the unit type's limit) or placeholder
    (marts.event_units.left_out)."""
    if not _has(con, "marts", "event_units"):
        return Rows(["agency", "unit_type"], [])
    return _rows(con, """SELECT agency, unit_type, left_out AS reason, count(*) AS events FROM marts.event_units
                         WHERE left_out IS NOT NULL GROUP BY ALL ORDER BY agency, unit_type, reason""")


def placeholder_points(con: duckdb.DuckDBPyConnection, n: int = 10) -> Rows:
    """Points that are not locations (a station, a centroid, a geocoder default): events and distinct addresses
    on them and their share of the agency's located events (marts.placeholder_points)."""
    if not _has(con, "marts", "placeholder_points"):
        return Rows(["agency", "lon", "lat"], [])
    return _rows(con, """SELECT agency, round(lon, 6) AS lon, round(lat, 6) AS lat, n_events AS events,
                                n_addresses AS addresses, round(100 * share_of_events, 2) AS pct_of_located
                         FROM marts.placeholder_points ORDER BY n_events DESC LIMIT ?""", [n])


def unmapped_codes(con: duckdb.DuckDBPyConnection, n: int = 20) -> Rows:
    return _rows(con, """SELECT source, code, n FROM (
             SELECT source, call_type_code AS code, count(*) AS n FROM core.calls
             WHERE call_category = 'Unmapped' GROUP BY ALL
             UNION ALL SELECT source, offense_code, count(*) FROM core.incidents
             WHERE offense_category = 'Unmapped' GROUP BY ALL)
           ORDER BY n DESC LIMIT ?""", [n])


def unmapped_natures(con: duckdb.DuckDBPyConnection, n: int = 20) -> Rows:
    """Call-type codes whose calls have no nature (no reviewed crosswalk row): `sara crosswalk suggest`."""
    if not con.execute("SELECT count(*) FROM duckdb_columns() WHERE schema_name = 'core' AND table_name = 'calls' "
                       "AND column_name = 'call_nature'").fetchone()[0]:
        return Rows(["source", "code", "n"], [])
    return _rows(con, """SELECT source, call_type_code AS code, count(*) AS n FROM core.calls
           WHERE call_nature = 'Unmapped' GROUP BY ALL ORDER BY n DESC, code LIMIT ?""", [n])


# beat and district of every core row, one row per (row, unit): the value, where it came from and the polygon tag
_UNITS = """SELECT source, unit, value, src, polygon FROM (
        SELECT source, 'beat' AS unit, beat AS value, beat_source AS src, beat_polygon AS polygon FROM core.calls
        UNION ALL SELECT source, 'district', district, district_source, district_polygon FROM core.calls
        UNION ALL SELECT source, 'beat', beat, beat_source, beat_polygon FROM core.incidents
        UNION ALL SELECT source, 'district', district, district_source, district_polygon FROM core.incidents)"""
# a feed value and the polygon tag of the same row that differ (compared trimmed and case-insensitively)
_DISAGREE = "src = 'feed' AND polygon IS NOT NULL AND upper(trim(value)) <> upper(trim(polygon))"


def unit_sources(con: duckdb.DuckDBPyConnection) -> Rows:
    """Per source and unit (beat, district): rows whose value came from the feed, from the polygon layer, or from
    neither; of the feed values with a polygon tag too, how many differ from it (disagree_pct)."""
    return _rows(con, f"""SELECT source, unit,
               count(*) FILTER (WHERE src = 'feed') AS from_feed,
               count(*) FILTER (WHERE src = 'polygon') AS from_polygon,
               count(*) FILTER (WHERE src IS NULL) AS missing,
               count(*) FILTER (WHERE src = 'feed' AND polygon IS NOT NULL) AS feed_and_polygon,
               count(*) FILTER (WHERE {_DISAGREE}) AS disagree,
               round(100.0 * count(*) FILTER (WHERE {_DISAGREE})
                     / nullif(count(*) FILTER (WHERE src = 'feed' AND polygon IS NOT NULL), 0), 2) AS disagree_pct
           FROM ({_UNITS}) GROUP BY ALL HAVING count(src) > 0 ORDER BY source, unit""")


def unit_disagreements(con: duckdb.DuckDBPyConnection, n: int = 10) -> Rows:
    """The commonest pairs of a feed value and a different polygon tag (a naming difference, e.g. a district
    spelt 1 and 01, is fixed with a crosswalks.beats/districts CSV; the rest are points in another unit)."""
    return _rows(con, f"""SELECT source, unit, value AS feed, polygon, count(*) AS n FROM ({_UNITS})
           WHERE {_DISAGREE} GROUP BY ALL ORDER BY n DESC, source, unit, feed, polygon LIMIT ?""", [n])


def failed_loads(con: duckdb.DuckDBPyConnection, n: int = 10) -> Rows:
    return _rows(con, "SELECT source, path, message FROM meta.loads WHERE status = 'failed' "
                      "ORDER BY loaded_at DESC LIMIT ?", [n])


def held_files(con: duckdb.DuckDBPyConnection, landing_dir: Path) -> Rows:
    """Files still being written (held; tried again next run), named relative to the landing folder."""
    landing = str(landing_dir) + os.sep
    return _rows(con, "SELECT source, CASE WHEN starts_with(path, ?) THEN path[length(?) + 1:] ELSE path END AS file, "
                      "loaded_at AS last_seen, message FROM meta.loads WHERE status = 'waiting' ORDER BY path",
                 [landing, landing])


def unmatched_last_run(con: duckdb.DuckDBPyConnection) -> Rows:
    """The last run's landing files that match no file_pattern."""
    return _rows(con, "SELECT path AS file, bytes, modified_at FROM meta.landing_unmatched "
                      "WHERE run_id = (SELECT run_id FROM meta.runs ORDER BY started_at DESC LIMIT 1) ORDER BY path")


# ---- sara demo ----

# what the demo's summary suggests trying next (`sara query --config config/demo.toml "..."`)
DEMO_QUERY = ("SELECT agency, call_category, origin, count(*) AS calls FROM core.calls WHERE is_countable "
              "GROUP BY ALL ORDER BY calls DESC LIMIT 15")


def events_per_agency(con: duckdb.DuckDBPyConnection) -> Rows:
    return _rows(con, """SELECT agency, source, count(*) AS records, count(*) FILTER (WHERE is_located) AS located
               FROM (SELECT agency, source, is_located FROM core.calls
                     UNION ALL SELECT agency, source, is_located FROM core.incidents)
               GROUP BY ALL ORDER BY 1, 2""")


def quarantine_reasons(con: duckdb.DuckDBPyConnection) -> Rows:
    return _rows(con, "SELECT source, reason, count(*) AS rows FROM core.quarantine GROUP BY ALL ORDER BY rows DESC")


def last_audits(con: duckdb.DuckDBPyConnection) -> Rows:
    return _rows(con, """SELECT check_name, severity, rows, status FROM meta.audit_results
               WHERE run_id = (SELECT run_id FROM meta.runs ORDER BY started_at DESC LIMIT 1) ORDER BY 1""")


# ---- sara publish ----

def source_events(con: duckdb.DuckDBPyConnection, source: str, kind: str) -> pa.Table:
    """Every core row of one source (calls or incidents), as Arrow."""
    table = "core.calls" if kind == "calls" else "core.incidents"
    return con.execute(f"SELECT * FROM {table} WHERE source = ?", [source]).fetch_arrow_table()


# ---- sara near-repeat: located, non-void (calls: countable) events ----

def _knox_selection(dataset: str, categories: list[str]) -> tuple[str, str, str, list[str], list]:
    """table, category column, the rows kept, the conditions and their parameters."""
    if dataset == "incidents":
        table, cat_col, keep = "core.incidents", "offense_category", "is_located AND NOT is_void"
    else:
        table, cat_col, keep = "core.calls", "call_category", "is_located AND NOT is_void AND is_countable"
    where, params = [keep], []
    if categories:
        where.append(f"list_contains(?, lower(trim({cat_col})))")
        params.append(categories)
    return table, cat_col, keep, where, params


def knox_table(dataset: str) -> tuple[str, str]:
    """The table and category column of a dataset (incidents or calls)."""
    table, cat_col, *_ = _knox_selection(dataset, [])
    return table, cat_col


def knox_per_agency(con: duckdb.DuckDBPyConnection, dataset: str, categories: list[str]) -> dict[str, int]:
    """Selected events per agency, most first (categories: lower-case names; none = all)."""
    table, _, _, where, params = _knox_selection(dataset, categories)
    return dict(con.execute(
        f"SELECT agency, count(*) FROM {table} WHERE {' AND '.join(where)} GROUP BY agency ORDER BY 2 DESC",
        params).fetchall())


def knox_categories(con: duckdb.DuckDBPyConnection, dataset: str, n: int = 15) -> list[tuple[str, int]]:
    """The commonest categories of the kept events, with their counts."""
    table, cat_col, keep, _, _ = _knox_selection(dataset, [])
    return con.execute(
        f"SELECT {cat_col}, count(*) AS n FROM {table} WHERE {keep} GROUP BY 1 ORDER BY n DESC LIMIT ?", [n]
    ).fetchall()


def knox_points(con: duckdb.DuckDBPyConnection, dataset: str, categories: list[str], agency: str,
                timezone: str) -> dict[str, np.ndarray]:
    """x, y (metres, the agency's analysis CRS) and t (whole local days since 1970-01-01 in `timezone`) of one
    agency's selected events with coordinates."""
    table, _, _, where, params = _knox_selection(dataset, categories)
    return con.execute(
        f"SELECT x, y, CAST(CAST(timezone(?, event_at) AS DATE) - DATE '1970-01-01' AS DOUBLE) AS t "
        f"FROM {table} WHERE {' AND '.join(where)} AND agency = ? AND x IS NOT NULL AND y IS NOT NULL",
        [timezone, *params, agency]).fetchnumpy()


# ---- sara assess ----

def assessment(con: duckdb.DuckDBPyConnection, problem: str) -> tuple[dict | None, list[str]]:
    """A problem's row of marts.problem_assessment (None when it has none) and every assessed problem.
    Raises duckdb.CatalogException when the warehouse has no assessments yet."""
    df = con.execute("SELECT * FROM marts.problem_assessment WHERE problem = ?", [problem]).df()
    known = [r[0] for r in con.execute("SELECT problem FROM marts.problem_assessment ORDER BY problem").fetchall()]
    return (None if df.empty else df.iloc[0].to_dict()), known
