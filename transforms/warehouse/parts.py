"""Scale-out of one night: per-source ingest and per-agency marts in worker processes, one writer.

DuckDB allows one writer per file, so a worker never writes the warehouse. It works in a scratch
DuckDB file of its own and hands back Parquet parts; the flow's single writer merges them into the
build file. No Prefect here: flows/nightly.py submits these functions as tasks to a Dask cluster.

    ingest_partition(source)   scratch <- the published file's state for that source (read-only ATTACH)
                               load + normalize the source's new files there (the same loader as a
                               local run), then write what changed as Parquet parts:
                               parts/ingest/<source>/<table>.parquet (+ <table>.deleted.parquet keys)
    merge_ingest(con, part)    the writer: delete changed/deleted keys, insert the changed rows

    marts_partition(agency)    scratch <- the build file's rows of one agency (read-only ATTACH; the
                               writer has closed it), marts.build_all for that agency alone, every mart
                               table written as parts/marts/<table>/agency=<code>.parquet
    merge_marts(con, parts)    the writer: each mart table = the union of its agency parts

The `agency` column is the partition key of the marts (every agency's marts depend on its own events
only), the `source` column that of core. Workers must see the project folder at the same path (one
machine, or shared storage on a cluster).
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import asdict
from datetime import date, timedelta
from pathlib import Path

import duckdb

from transforms.config import Settings
from transforms.warehouse import db as wh
from transforms.warehouse import loader
from transforms.warehouse.normalize import add_raw_columns
from transforms.warehouse.sqlutil import qident, qstr, relation_columns, relation_exists

# core tables synced per source: table -> key columns (each row of a source's table has that source)
CORE_KEYS = {
    "core.calls": ("source", "call_id"),
    "core.incidents": ("source", "incident_id"),
    "core.offenses": ("source", "incident_id", "offense_seq"),
}
IO_RETRIES = 2  # as the load_file task's retries in a local run


def parts_root(published: Path, run_id: str) -> Path:
    """parts of one run, beside the warehouse: <warehouse>.parts/<run_id>/."""
    return published.with_name(published.name + ".parts") / run_id.replace("/", "_")


def remove_parts(parts: Path) -> None:
    """Remove one run's parts, and the parts folder when nothing else is in it."""
    shutil.rmtree(parts, ignore_errors=True)
    try:
        parts.parent.rmdir()
    except OSError:  # absent, or another run's parts
        pass


def clear_parts(published: Path) -> None:
    """Remove every leftover part folder (a killed run's parts were never merged into a published night)."""
    shutil.rmtree(published.with_name(published.name + ".parts"), ignore_errors=True)


def _scratch(path: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    for p in (path, path.with_name(path.name + ".wal")):
        if p.exists():
            p.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    w = settings.sara.warehouse
    con = wh.connect(path, threads=w.threads, memory_limit=w.memory_limit)
    wh.apply_schema(con)
    return con


def _copy_into(con: duckdb.DuckDBPyConnection, src_db: str, table: str, where: str = "true",
               params: list | None = None) -> None:
    """Fill the scratch's (already created) table from the attached file, adding any raw_* columns it has."""
    schema, name = table.split(".")
    mine = set(relation_columns(con, schema, name))
    add_raw_columns(con, table, [c for c in relation_columns(con, schema, name, src_db) if c not in mine])
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {src_db}.{table} WHERE {where}", params or [])


def _write_part(con: duckdb.DuckDBPyConnection, sql: str, path: Path, params: list | None = None) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    return int(con.execute(f"COPY ({sql}) TO {qstr(str(path))} (FORMAT parquet)", params or []).fetchone()[0])


# ---------------------------------------------------------------------------------------------------
# ingest: one source per worker
# ---------------------------------------------------------------------------------------------------


def ingest_partition(settings: Settings, source: str, published: Path, parts: Path, run_id: str) -> dict:
    """Load and normalize one source's new files in a scratch file; write the changes as Parquet parts.

    Returns {"source", "touched_loads", "tables": {table: part}, "raw": [FileOutcome], "normalized": [...], "seconds"}.
    """
    from transforms.warehouse.geo import write_agency_areas

    t0 = time.perf_counter()
    out_dir = parts / "ingest" / source
    shutil.rmtree(out_dir, ignore_errors=True)
    scratch_path = parts / "scratch" / f"ingest-{source}.duckdb"
    con = _scratch(scratch_path, settings)
    try:
        src = settings.sources[source]
        core = "core.calls" if src.kind == "calls" else "core.incidents"
        write_agency_areas(con, settings)  # the located-in-area rule reads them; config, not state
        has_pub = published.exists()
        if has_pub:
            con.execute(f"ATTACH {qstr(str(published))} AS pub (READ_ONLY)")
            # meta.loads of every source: the same bytes are skipped under any name, in any source
            _copy_into(con, "pub", "meta.loads")
            _copy_into(con, "pub", core, "source = ?", [source])
            if src.kind == "incidents":
                _copy_into(con, "pub", "core.offenses", "source = ?", [source])
            if relation_exists(con, "raw", source, "pub"):  # raw rows of loads not normalized yet (a failed night)
                con.execute(f"CREATE TABLE raw.{qident(source)} AS SELECT * FROM pub.raw.{qident(source)} "
                            "WHERE _load_id IN (SELECT load_id FROM pub.meta.loads WHERE status = 'raw')")
        raw_results = []
        loader.forget_vanished(con, settings, source)
        for path in loader.discover_files(settings, source):
            for attempt in range(IO_RETRIES + 1):
                try:
                    res = loader.load_raw_file(con, settings, source, path, run_id)
                    break
                except OSError as exc:
                    if attempt == IO_RETRIES:
                        res = loader.fail_file(con, source, path, run_id, exc)
                    else:
                        time.sleep(2)
            raw_results.append(asdict(res))
        norm_results = [asdict(o) for o in loader.normalize_pending(con, settings, source, run_id)]

        # what changed: meta.loads rows that differ from the published ones, and the rows of those loads
        before = "SELECT * FROM pub.meta.loads" if has_pub else "SELECT * FROM meta.loads WHERE false"
        con.execute(f"CREATE TEMP TABLE _touched AS SELECT * FROM meta.loads EXCEPT {before}")
        touched = [r[0] for r in con.execute("SELECT load_id FROM _touched ORDER BY load_id").fetchall()]
        if has_pub:  # loads this worker removed (a held file's `waiting` row, once it loads or vanishes)
            touched += [r[0] for r in con.execute(
                "SELECT load_id FROM pub.meta.loads EXCEPT SELECT load_id FROM meta.loads ORDER BY 1").fetchall()]
        manifest: dict = {"source": source, "touched_loads": touched, "tables": {}}
        if touched:
            files = manifest["tables"]
            files["meta.loads"] = _part(con, "SELECT * FROM _touched", out_dir / "meta.loads.parquet")
            files["core.quarantine"] = _part(
                con, "SELECT * FROM core.quarantine WHERE load_id IN (SELECT load_id FROM _touched)",
                out_dir / "core.quarantine.parquet")
            if relation_exists(con, "raw", source):
                files[f"raw.{source}"] = _part(
                    con, f"SELECT * FROM raw.{qident(source)} WHERE _load_id IN (SELECT load_id FROM _touched)",
                    out_dir / f"raw.{source}.parquet")
            for table in (core, "core.offenses") if src.kind == "incidents" else (core,):
                key = ", ".join(CORE_KEYS[table])
                files[table] = _part(
                    con, f"SELECT * FROM {table} WHERE load_id IN (SELECT load_id FROM _touched)",
                    out_dir / f"{table}.parquet")
                if has_pub:  # rows a newer version replaced or a replaced day dropped
                    files[table]["deleted"] = str(out_dir / f"{table}.deleted.parquet")
                    files[table]["n_deleted"] = _write_part(
                        con, f"SELECT {key} FROM pub.{table} WHERE source = ? EXCEPT SELECT {key} FROM {table}",
                        out_dir / f"{table}.deleted.parquet", [source])
        manifest.update(raw=raw_results, normalized=norm_results, seconds=round(time.perf_counter() - t0, 3))
        return manifest
    finally:
        con.close()
        wh.discard_build(scratch_path)


def _part(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> dict:
    return {"path": str(path), "rows": _write_part(con, sql, path)}


def merge_ingest(con: duckdb.DuckDBPyConnection, manifest: dict) -> None:
    """The single writer: apply one source's parts to the build file, in one transaction."""
    files = manifest["tables"]
    if not files:
        return
    touched = manifest["touched_loads"]
    con.execute("BEGIN TRANSACTION")
    try:
        for table, part in files.items():
            schema, name = table.split(".")
            path = qstr(part["path"])
            t = f"{schema}.{qident(name)}"
            if schema == "raw" and not relation_exists(con, "raw", name):
                con.execute(f"CREATE TABLE {t} AS SELECT * FROM read_parquet({path}) LIMIT 0")
            have = set(relation_columns(con, schema, name))
            new = [c[0] for c in con.execute(f"DESCRIBE SELECT * FROM read_parquet({path})").fetchall()
                   if c[0] not in have]
            if schema == "raw":  # a file with a column the earlier ones lacked
                for c in new:
                    con.execute(f"ALTER TABLE {t} ADD COLUMN {qident(c)} VARCHAR")
            else:  # core: only unmapped source columns (raw_*) come and go
                add_raw_columns(con, t, new)
            if table in CORE_KEYS:
                key = ", ".join(CORE_KEYS[table])
                con.execute(f"DELETE FROM {t} WHERE ({key}) IN (SELECT ({key}) FROM read_parquet({path}))")
                if part.get("deleted"):
                    con.execute(f"DELETE FROM {t} WHERE ({key}) IN "
                                f"(SELECT ({key}) FROM read_parquet({qstr(part['deleted'])}))")
            else:  # meta.loads, core.quarantine, raw.<source>: whole loads are replaced
                col = "_load_id" if schema == "raw" else "load_id"
                con.execute(f"DELETE FROM {t} WHERE {col} IN (SELECT unnest(?))", [touched])
            con.execute(f"INSERT INTO {t} BY NAME SELECT * FROM read_parquet({path})")
        con.execute("COMMIT")
    except BaseException:
        con.execute("ROLLBACK")
        raise


# ---------------------------------------------------------------------------------------------------
# marts: one agency per worker
# ---------------------------------------------------------------------------------------------------


def marts_partition(settings: Settings, agency: str, build: Path, parts: Path, as_of: date) -> dict:
    """Build every mart of one agency in a scratch file from the build file's rows of that agency.

    The build file must be closed by the writer (DuckDB lets many processes read a file that no process
    writes). Returns {"agency", "tables": {name: {path, rows, comment, columns}}, "views": [...], "timings"}.
    """
    from transforms.marts import build as marts
    from transforms.marts import problems

    t0 = time.perf_counter()
    part_settings = settings.for_agency(agency)
    scratch_path = parts / "scratch" / f"marts-{agency}.duckdb"
    con = _scratch(scratch_path, settings)
    try:
        con.execute(f"ATTACH {qstr(str(build))} AS b (READ_ONLY)")
        # only the rows the marts can read: this agency's, from a day before the marts' horizon on
        plist = [p for p in problems.load_problems(part_settings) if p.agency == agency]
        first = min(marts.horizon(part_settings, as_of, plist).values()) - timedelta(days=1)
        since = "agency = ? AND event_at >= CAST(? AS TIMESTAMP)"
        for table in ("core.calls", "core.incidents"):
            _copy_into(con, "b", table, since, [agency, first])
        for table in ("meta.agency_areas", "meta.agency_area_tiles"):
            _copy_into(con, "b", table, "agency = ?", [agency])
        _copy_into(con, "b", "core.offenses",
                   f"(source, incident_id) IN (SELECT (source, incident_id) FROM b.core.incidents WHERE {since})",
                   [agency, first])
        for table in ("meta.loads", "meta.runs"):
            _copy_into(con, "b", table)
        con.execute("CREATE SCHEMA IF NOT EXISTS marts")
        if relation_exists(con, "marts", "event_units", "b"):  # kept between nights: incremental per agency too
            con.execute("CREATE TABLE marts.event_units AS SELECT * FROM b.marts.event_units WHERE agency = ?",
                        [agency])
            con.execute("CREATE TABLE marts.build_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
            if relation_exists(con, "marts", "build_info", "b"):
                sig = con.execute("SELECT value FROM b.marts.build_info WHERE key = 'unit_signature'").fetchone()
                if sig and sig[0] == marts.unit_signature(settings):  # same units as the whole config's
                    con.execute("INSERT INTO marts.build_info VALUES ('unit_signature', ?)",
                                [marts.unit_signature(part_settings)])
        con.execute("DETACH b")
        timings: dict[str, float] = {}
        marts.build_all(con, part_settings, as_of, timings)
        out = parts / "marts"
        tables = {}
        for name, comment in con.execute(
                "SELECT table_name, comment FROM duckdb_tables() WHERE database_name = current_database() "
                "AND schema_name = 'marts' ORDER BY table_oid").fetchall():
            cols = con.execute("SELECT column_name, comment FROM duckdb_columns() WHERE database_name = "
                               "current_database() AND schema_name = 'marts' AND table_name = ? "
                               "ORDER BY column_index", [name]).fetchall()
            path = out / name / f"agency={agency}.parquet"
            tables[name] = {"path": str(path), "rows": _write_part(con, f"SELECT * FROM marts.{qident(name)}", path),
                            "comment": comment, "columns": [c[0] for c in cols],
                            "column_comments": {c: cm for c, cm in cols if cm}}
        views = [{"name": n, "sql": sql, "comment": cm} for n, sql, cm in con.execute(
            "SELECT view_name, sql, comment FROM duckdb_views() WHERE database_name = current_database() "
            "AND schema_name = 'marts' AND NOT internal ORDER BY view_oid").fetchall()]
        return {"agency": agency, "tables": tables, "views": views, "timings": timings,
                "seconds": round(time.perf_counter() - t0, 3)}
    finally:
        con.close()
        wh.discard_build(scratch_path)


# tables without an agency column: config-derived (the same in every part) or keyed by something unique to
# one agency (a problem belongs to one agency)
SAME_IN_EVERY_PART = {"windows", "category_groups"}


def merge_marts(con: duckdb.DuckDBPyConnection, settings: Settings, manifests: list[dict]) -> dict:
    """The single writer: every mart table = the union of its agency parts; views and comments as built.

    Returns row counts per mart table (as marts.build_all does)."""
    from transforms.marts import build as marts

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
            con.execute("CREATE TABLE marts.build_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
            con.execute("INSERT INTO marts.build_info VALUES ('unit_signature', ?)", [marts.unit_signature(settings)])
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
    return marts.mart_row_counts(con)


def _check_same(con: duckdb.DuckDBPyConnection, name: str, parts: list[dict]) -> None:
    sums = {con.execute(f"SELECT count(*), sum(hash(t))::VARCHAR FROM read_parquet({qstr(p['path'])}) t").fetchone()
            for p in parts}
    if len(sums) > 1:
        raise RuntimeError(f"marts.{name}: the agency partitions disagree ({json.dumps(sorted(sums))}); "
                           "a table without an agency column must be the same in every part")
