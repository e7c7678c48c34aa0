"""Scale-out of one night, the ingest side: per-source load + normalize in worker processes, one writer.

DuckDB allows one writer per file, so a worker never writes the warehouse. It works in a scratch
DuckDB file of its own and hands back Parquet parts; the flow's single writer merges them into the
build file. No Prefect here: flows/scaleout.py submits these functions as tasks to a Dask cluster.

    ingest_partition(source)   scratch <- the published file's state for that source (read-only ATTACH)
                               load + normalize the source's new files there (the same loader, and the
                               same retry policy, as a local run), then write what changed as Parquet parts:
                               parts/ingest/<source>/<table>.parquet (+ <table>.deleted.parquet keys)
    merge_ingest(con, part)    the writer: delete changed/deleted keys, insert the changed rows

The marts side (one agency per worker) is transforms/marts/parts.py; it uses the scratch and part helpers
here (scratch, copy_into, write_part). The `source` column is the partition key of core. Workers must see
the project folder at the same path (one machine, or shared storage on a cluster).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
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
    "core.call_units": ("source", "call_id", "unit_seq"),
    "core.call_versions": ("source", "call_id", "version_seq"),
    "core.incident_versions": ("source", "incident_id", "version_seq"),
    "meta.version_hash": ("source",),  # the scheme of the source's version hashes (version_hash.py)
}
# the version history of a source's records (transforms/warehouse/versions.py): a part holds the versions its
# loads added or ended (every row of the source when the published file had none: the history was seeded)
VERSION_TABLES = {"calls": "core.call_versions", "incidents": "core.incident_versions"}


# the core tables that hang off a source's records, by (kind, event grain)
CHILD_TABLES = {("incidents", "offense"): ("core.offenses",), ("incidents", "record"): ("core.offenses",),
                ("calls", "unit"): ("core.call_units",)}


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


def checkpoint_and_close(con: duckdb.DuckDBPyConnection) -> None:
    """The writer hands the build file to the workers: checkpointed (nothing left in the WAL) and closed, since
    DuckDB lets many processes read a file only while no process writes it."""
    con.execute("CHECKPOINT")
    con.close()


def clear_parts(published: Path) -> None:
    """Remove every leftover part folder (a killed run's parts were never merged into a published night)."""
    shutil.rmtree(published.with_name(published.name + ".parts"), ignore_errors=True)


def scratch(path: Path, settings: Settings) -> duckdb.DuckDBPyConnection:
    for p in (path, path.with_name(path.name + ".wal")):
        if p.exists():
            p.unlink()
    path.parent.mkdir(parents=True, exist_ok=True)
    w = settings.sara.warehouse
    con = wh.connect(path, threads=w.threads, memory_limit=w.memory_limit)
    wh.apply_schema(con)
    return con


def copy_into(con: duckdb.DuckDBPyConnection, src_db: str, table: str, where: str = "true",
               params: list | None = None) -> None:
    """Fill the scratch's (already created) table from the attached file, adding any raw_* columns it has."""
    schema, name = table.split(".")
    mine = set(relation_columns(con, schema, name))
    add_raw_columns(con, table, [c for c in relation_columns(con, schema, name, src_db) if c not in mine])
    con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM {src_db}.{table} WHERE {where}", params or [])


def write_part(con: duckdb.DuckDBPyConnection, sql: str, path: Path, params: list | None = None) -> int:
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
    con = scratch(scratch_path, settings)
    try:
        src = settings.sources[source]
        core = "core.calls" if src.kind == "calls" else "core.incidents"
        write_agency_areas(con, settings)  # the located-in-area rule reads them; config, not state
        has_pub = published.exists()
        if has_pub:
            con.execute(f"ATTACH {qstr(str(published))} AS pub (READ_ONLY)")
            # meta.loads of every source: the same bytes are skipped under any name, in any source
            copy_into(con, "pub", "meta.loads")
            copy_into(con, "pub", core, "source = ?", [source])
            if src.kind == "incidents":
                copy_into(con, "pub", "core.offenses", "source = ?", [source])
            elif src.event_grain == "unit":
                copy_into(con, "pub", "core.call_units", "source = ?", [source])
            if relation_exists(con, "core", VERSION_TABLES[src.kind].split(".")[1], "pub"):
                copy_into(con, "pub", VERSION_TABLES[src.kind], "source = ?", [source])
            # the scheme of those hashes (version_hash.py), so the scratch does not take them for md5-text ones
            if relation_exists(con, "meta", "version_hash", "pub"):
                copy_into(con, "pub", "meta.version_hash", "source = ?", [source])
            if relation_exists(con, "raw", source, "pub"):  # raw rows of loads not normalized yet (a failed night)
                con.execute(f"CREATE TABLE raw.{qident(source)} AS SELECT * FROM pub.raw.{qident(source)} "
                            "WHERE _load_id IN (SELECT load_id FROM pub.meta.loads WHERE status = 'raw')")
        raw_results = []
        loader.forget_vanished(con, settings, source)
        for path in loader.discover_files(settings, source):
            raw_results.append(asdict(loader.load_with_retries(con, settings, source, path, run_id)))
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
            for table in (core, *CHILD_TABLES.get((src.kind, src.event_grain), ())):
                key = ", ".join(CORE_KEYS[table])
                files[table] = _part(
                    con, f"SELECT * FROM {table} WHERE load_id IN (SELECT load_id FROM _touched)",
                    out_dir / f"{table}.parquet")
                if has_pub:  # rows a newer version replaced or a replaced day dropped
                    files[table]["deleted"] = str(out_dir / f"{table}.deleted.parquet")
                    files[table]["n_deleted"] = write_part(
                        con, f"SELECT {key} FROM pub.{table} WHERE source = ? EXCEPT SELECT {key} FROM {table}",
                        out_dir / f"{table}.deleted.parquet", [source])
            vt = VERSION_TABLES[src.kind]
            seeded = not (has_pub and relation_exists(con, "core", vt.split(".")[1], "pub") and con.execute(
                f"SELECT count(*) FROM pub.{vt} WHERE source = ?", [source]).fetchone()[0])
            # hashes migrated to another scheme here (version_hash.migrate): every version of the source goes
            # back, with the scheme's row, so the build file's hashes are all of the scheme it records
            scheme = "SELECT scheme, fingerprint, closed_md5 FROM {}meta.version_hash WHERE source = ?"
            migrated = con.execute(scheme.format(""), [source]).fetchall() != (
                con.execute(scheme.format("pub."), [source]).fetchall()
                if has_pub and relation_exists(con, "meta", "version_hash", "pub") else [])
            if migrated:
                files["meta.version_hash"] = _part(
                    con, f"SELECT * FROM meta.version_hash WHERE source = {qstr(source)}",
                    out_dir / "meta.version_hash.parquet")
            seeded = seeded or migrated
            vpath = out_dir / f"{vt}.parquet"
            files[vt] = {"path": str(vpath), "rows": write_part(
                con, f"SELECT * FROM {vt} WHERE source = ?" + (
                    "" if seeded else " AND (load_id IN (SELECT load_id FROM _touched) "
                                      "OR ended_load_id IN (SELECT load_id FROM _touched))"), vpath, [source])}
        manifest.update(raw=raw_results, normalized=norm_results, seconds=round(time.perf_counter() - t0, 3))
        return manifest
    finally:
        con.close()
        wh.discard_build(scratch_path)


def _part(con: duckdb.DuckDBPyConnection, sql: str, path: Path) -> dict:
    return {"path": str(path), "rows": write_part(con, sql, path)}


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
