"""Scale-out of one night, the marts side: each agency's marts in a worker process, one writer.

    prepare_partitions(con)    the writer, before the fan-out: each agency's as_of and coverage from all of
                               core (marts.periods, coverage, coverage_daily: transforms.marts.build.prepare),
                               and what the nights changed from all of the history (marts.changes, changes_summary)
    marts_partition(agency)    scratch <- the build file's rows of one agency (read-only ATTACH; the
                               writer has closed it), from its horizon on, with its periods and coverage;
                               build_all for that agency alone, every mart table written as
                               parts/marts/<table>/agency=<code>.parquet
    merge_marts(con, parts)    the writer: each mart table = the union of its agency parts; the night's mart
                               status recorded in meta.mart_status

The `agency` column is the partition key of the marts (every agency's marts depend on its own events
only). The scratch file and the Parquet parts are made as the ingest side makes them
(transforms/warehouse/parts.py). No Prefect here: flows/scaleout.py submits these as tasks to a Dask cluster.
"""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path

import duckdb

from transforms.config import Settings
from transforms.marts import build as marts
from transforms.marts import (
    dimensions,
    event_days,
    events,
    hotspots,
    location_days,
    problems,
    repeat_locations,
    response_months,
    restatements,
    status,
    units,
)
from transforms.marts.periods import agency_ends
from transforms.marts.write import comment_columns, comment_marts, create_build_info
from transforms.warehouse import db as wh
from transforms.warehouse.parts import copy_into, scratch, write_part
from transforms.warehouse.sqlutil import qident, qstr, relation_columns, relation_comments, relation_exists


def prepare_partitions(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """The writer, before handing the build file over: marts.periods and the coverage marts for every agency,
    from all of core (a partition holds only its horizon's rows, too few to find its period); and the per-day
    place aggregate kept between nights (marts.location_days, over all of core as a local night keeps it),
    which each partition copies instead of building it from its horizon's rows; and the response-time months
    kept between nights less the months this night touched (a partition has no version history), which each
    partition copies and completes."""
    marts.prepare(con, settings)
    location_days.build_location_days(con)
    response_months.sync(con)


def _copy_mart(con: duckdb.DuckDBPyConnection, name: str, agency: str | None) -> None:
    """marts.<name> of the attached build file, the agency's rows (every row when agency is None), with its
    comments."""
    t = f"marts.{qident(name)}"
    if agency is None:
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM b.{t}")
    else:
        con.execute(f"CREATE TABLE {t} AS SELECT * FROM b.{t} WHERE agency = ?", [agency])
    comment = con.execute("SELECT comment FROM duckdb_tables() WHERE database_name = 'b' AND schema_name = 'marts' "
                          "AND table_name = ?", [name]).fetchone()
    if comment and comment[0]:
        con.execute(f"COMMENT ON TABLE {t} IS {qstr(comment[0])}")
    comment_columns(con, t, relation_comments(con, "marts", name, "b"))


def marts_partition(settings: Settings, agency: str, build: Path, parts: Path) -> dict:
    """Build every mart of one agency in a scratch file from the build file's rows of that agency, with the
    periods and coverage the writer made (prepare_partitions).

    The build file must be closed by the writer (DuckDB lets many processes read a file that no process
    writes). Returns {"agency", "tables": {name: {path, rows, comment, columns}}, "views": [...], "timings"}.
    """
    t0 = time.perf_counter()
    part_settings = settings.for_agency(agency)
    scratch_path = parts / "scratch" / f"marts-{agency}.duckdb"
    con = scratch(scratch_path, settings)
    try:
        con.execute(f"ATTACH {qstr(str(build))} AS b (READ_ONLY)")
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        for name in marts.WHOLE_FILE_MARTS:  # the periods, coverage and changes, made from the whole file
            if relation_exists(con, "marts", name, "b"):
                _copy_mart(con, name, agency)
        for name in location_days.TABLES:  # brought up to date by prepare_partitions; the loads are every agency's
            _copy_mart(con, name, None if name == "location_day_loads" else agency)
        for name in response_months.TABLES:  # synced by prepare_partitions: the part computes its missing months
            _copy_mart(con, name, None if name == "response_month_loads" else agency)
        # only the rows the marts can read: this agency's, from a day before the marts' horizon on (none when
        # the agency has no as_of: its marts are empty)
        as_of = agency_ends(con).get(agency)
        plist = [p for p in problems.load_problems(part_settings) if p.agency == agency]
        first = None if as_of is None else \
            min(dimensions.horizon(part_settings, as_of, plist).values()) - timedelta(days=1)
        since = "agency = ? AND event_at >= CAST(? AS TIMESTAMP)"
        for table in ("core.calls", "core.incidents"):
            copy_into(con, "b", table, since, [agency, first])
        for table in ("meta.agency_areas", "meta.agency_area_tiles"):
            copy_into(con, "b", table, "agency = ?", [agency])
        copy_into(con, "b", "core.offenses",
                   f"(source, incident_id) IN (SELECT (source, incident_id) FROM b.core.incidents WHERE {since})",
                   [agency, first])
        copy_into(con, "b", "core.call_units",
                   f"(source, call_id) IN (SELECT (source, call_id) FROM b.core.calls WHERE {since})",
                   [agency, first])
        for table in ("meta.loads", "meta.runs"):
            copy_into(con, "b", table)
        if relation_exists(con, "marts", "event_units", "b"):  # kept between nights: incremental per agency too
            con.execute("CREATE TABLE marts.event_units AS SELECT * FROM b.marts.event_units WHERE agency = ?",
                        [agency])
            create_build_info(con)
            if relation_exists(con, "marts", "build_info", "b"):
                sig = con.execute("SELECT value FROM b.marts.build_info WHERE key = 'unit_signature'").fetchone()
                if sig and sig[0] == units.unit_signature(settings):  # same units as the whole config's
                    con.execute("INSERT INTO marts.build_info VALUES ('unit_signature', ?)",
                                [units.unit_signature(part_settings)])
        con.execute("DETACH b")
        timings: dict[str, float] = {}
        marts.build_all(con, part_settings, timings=timings, prepared=True)
        out = parts / "marts"
        tables = {}
        for name, comment in con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'marts' ORDER BY table_oid").fetchall():
            cols = con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE database_name = "
                               "current_database() AND schema_name = 'marts' AND table_name = ? "
                               "ORDER BY column_index", [name]).fetchall()
            path = out / name / f"agency={agency}.parquet"
            tables[name] = {"path": str(path), "rows": write_part(con, f"SELECT * FROM marts.{qident(name)}", path),
                            "comment": comment, "columns": [c[0] for c in cols],
                            "column_comments": {c: cm for c, cm in cols if cm}}
        views = [{"name": n, "sql": sql, "comment": cm, "column_comments": relation_comments(con, "marts", n)}
            for n, sql, cm in con.execute(
            "SELECT view_name, sql, comment FROM duckdb_views() WHERE database_name = current_database() "
            "AND schema_name = 'marts' AND NOT internal ORDER BY view_oid").fetchall()]
        return {"agency": agency, "tables": tables, "views": views, "timings": timings,
                "seconds": round(time.perf_counter() - t0, 3)}
    finally:
        con.close()
        wh.discard_build(scratch_path)


# tables without an agency column: config-derived (the same in every part) or keyed by something unique to
# one agency (a problem belongs to one agency)
SAME_IN_EVERY_PART = {"category_groups", "location_day_loads", "response_month_loads"}


def merge_marts(con: duckdb.DuckDBPyConnection, settings: Settings, manifests: list[dict]) -> dict:
    """The single writer: every mart table = the union of its agency parts; views and comments as built.

    Returns row counts per mart table and the as_of dates (as marts.build_all does)."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    marts.drop_rebuilt(con)
    for name in marts.KEEP:
        con.execute(f"DROP TABLE IF EXISTS marts.{qident(name)}")
    names: list[str] = []
    for m in manifests:
        names += [n for n in m["tables"] if n not in names]
    for name in names:
        parts = [m["tables"][name] for m in manifests if name in m["tables"]]
        if name == "build_info":
            create_build_info(con)
            con.execute("INSERT INTO marts.build_info VALUES ('unit_signature', ?)", [units.unit_signature(settings)])
            continue
        if name in SAME_IN_EVERY_PART:
            cols = ", ".join(qident(c) for c in parts[0]["columns"])
            sql = f"SELECT DISTINCT {cols} FROM read_parquet({qstr(parts[0]['path'])})"
            _check_same(con, name, parts)
        else:
            # an agency with nothing to put in a mart writes an empty part whose column types may be
            # placeholders: the types of the largest part win
            biggest = max(parts, key=lambda p: p["rows"])
            types = {r[0]: r[1] for r in con.execute(
                f"DESCRIBE SELECT * FROM read_parquet({qstr(biggest['path'])})").fetchall()}
            cols = ", ".join(f"CAST({qident(c)} AS {types[c]}) AS {qident(c)}" for c in biggest["columns"])
            files = "[" + ", ".join(qstr(p["path"]) for p in parts) + "]"
            sql = f"SELECT {cols} FROM read_parquet({files}, union_by_name = true)"
        con.execute(f"CREATE TABLE marts.{qident(name)} AS {sql}")
        if parts[0]["comment"]:
            con.execute(f"COMMENT ON TABLE marts.{qident(name)} IS {qstr(parts[0]['comment'])}")
        have = set(relation_columns(con, "marts", name))
        for c, cm in parts[0]["column_comments"].items():
            if c not in have:
                continue
            con.execute(f"COMMENT ON COLUMN marts.{qident(name)}.{qident(c)} IS {qstr(cm)}")
    for v in manifests[0]["views"]:
        con.execute(v["sql"])
        if v["comment"]:
            con.execute(f"COMMENT ON VIEW marts.{qident(v['name'])} IS {qstr(v['comment'])}")
        comment_columns(con, f"marts.{qident(v['name'])}", v.get("column_comments", {}))
    if relation_exists(con, "marts", "location_days"):  # the aggregate the parts copied is the whole file's
        create_build_info(con)
        con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)",
                    [location_days.SIGNATURE_KEY, location_days.signature(con)])
    if relation_exists(con, "marts", "events"):  # the parts' events are the whole file's
        events.record_merged(con)
        if relation_exists(con, "marts", "event_units"):  # each part's assignment followed its own events
            units.record_events_generation(con)
        if relation_exists(con, "marts", "hotspot_count_rows"):  # each part counted its own events
            hotspots.record_merged(con)
        if relation_exists(con, "marts", "event_days"):
            event_days.record_merged(con)
    if relation_exists(con, "marts", "repeat_places"):  # the places the parts made are the whole file's
        repeat_locations.record_merged(con, settings)
    if response_months.present(con):  # the months the parts kept and completed are the whole file's
        create_build_info(con)
        con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)",
                    [response_months.SIGNATURE_KEY, response_months.signature(con)])
    # the parts have no version history: restatements (and tonight's published figures) on the whole file
    restatements.build_restatements(con)
    comment_marts(con)  # the views' columns, and the local-time columns naming every merged agency's zone
    status.record_status(con)
    return {"as_of": marts.as_of_words(agency_ends(con)), **marts.mart_row_counts(con)}


def _check_same(con: duckdb.DuckDBPyConnection, name: str, parts: list[dict]) -> None:
    sums = {con.execute(f"SELECT count(*), sum(hash(t))::VARCHAR FROM read_parquet({qstr(p['path'])}) t").fetchone()
            for p in parts}
    if len(sums) > 1:
        raise RuntimeError(f"marts.{name}: the agency partitions disagree ({json.dumps(sorted(sums))}); "
                           "a table without an agency column must be the same in every part")
