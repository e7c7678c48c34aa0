"""Normalize one load from `raw.<source>` into `core.calls` / `core.incidents`, driven by the source's YAML.

Steps, all in DuckDB SQL except two lookups computed on DISTINCT values in Python
(addresses, and coordinates -> projection, area test and polygon tags):

1. stage    the staging compiler (staging.py) turns the YAML into one query: rename, cast, parse times
            (local ones in the source zone -> UTC; instants kept), flag quarantine reasons and time issues
2. split    unusable rows -> core.quarantine with a reason
3. dedupe   exact duplicate rows (only when the source says `dedupe: true`)
4. version  rows of one record in one extract: the newest version wins, earlier ones are superseded
5. grain    unit rows -> one call (first dispatch, first arrival, last clear; other fields from the last row),
            each unit kept in core.call_units (sql/core/call_units.sql);
            offence rows -> one incident, classified by its most serious offence (sql/core/offense_rows.sql)
6. enrich   the same for every source (enrich.py, sql/core/calls.sql and incidents.sql): crosswalks,
            origin, intervals, address block, location key, coordinates, beat/district
7. merge    into core by update_mode; a version older than core's is stale and changes nothing
8. geocode  (sources with geocode.enabled) the load's rows with an address and no point, placed offline from the
            agency's own history and streets (geocoding.py); a row not placed keeps geocode_status as its reason
9. history  one row per distinct version in core.call_versions / core.incident_versions (versions.py), in the
            same transaction

Every row read is accounted for: rows_read = rows_loaded + rows_duplicate + rows_quarantined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import duckdb

from transforms.config import Settings, SourceConfig
from transforms.warehouse import enrich, geocoding, natures, versions
from transforms.warehouse.sqlutil import Params, qident, qstr
from transforms.warehouse.staging import build_stage_sql, needs_row_hash, raw_json_sql


@dataclass
class NormalizeResult:
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    records_upserted: int


def normalize_load(con: duckdb.DuckDBPyConnection, src: SourceConfig, settings: Settings, load_id: str,
                   raw_columns: list[str], n_rejects: int, extract_at: datetime | None,
                   load_time: datetime, begin: Callable[[], None] | None = None) -> NormalizeResult:
    """Normalize the rows of one load into core.

    Staging works in session temp tables; `begin()` (the caller's BEGIN TRANSACTION) is called just
    before the first write to the warehouse, so the transaction holds only the quarantine rows and the
    merge. `n_rejects` is the number of rows the file reader already quarantined for this load.
    """
    is_calls = src.kind == "calls"
    core = "core.calls" if is_calls else "core.incidents"
    id_col = "call_id" if is_calls else "incident_id"

    # 1. stage
    sql, params = build_stage_sql(src, raw_columns, settings, load_id, extract_at, load_time)
    con.execute(f"CREATE OR REPLACE TEMP TABLE _stg AS {sql}", params)
    n_stage, n_bad = con.execute("SELECT count(*), count(_q_reason) FROM _stg").fetchone()
    n_quar = n_bad + n_rejects

    # 2. exact duplicates (opt-in) and ids for feeds without ids (content hash + occurrence number)
    n_exact_dup = 0
    if needs_row_hash(src):
        dedupe_rank = "row_number() OVER (PARTITION BY _row_hash ORDER BY source_row)"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _ok AS
                SELECT * EXCLUDE (record_id, _q_reason),
                       coalesce(record_id, _row_hash || '-' || CAST({dedupe_rank} AS VARCHAR)) AS record_id,
                       {dedupe_rank} AS _dup_rank
                FROM _stg WHERE _q_reason IS NULL"""
        )
        if src.dedupe:
            n_exact_dup = con.execute("SELECT count(*) FROM _ok WHERE _dup_rank > 1").fetchone()[0]
        con.execute(f"CREATE OR REPLACE TEMP VIEW _okv AS SELECT * EXCLUDE (_dup_rank, _row_hash) FROM _ok "
                    f"WHERE {'_dup_rank = 1' if src.dedupe else 'true'}")
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _okv AS SELECT * EXCLUDE (_q_reason) FROM _stg WHERE _q_reason IS NULL")
    n_ok = n_stage - n_bad - n_exact_dup

    # 3. one version per record per extract: rows of an older version in the same extract are superseded
    # (every row of the newest version stays: unit rows and offence rows of one record share it).
    # The window only runs when the extract really repeats a record (rare; a cheap count tells).
    if src.event_grain == "record":
        repeats = con.execute("SELECT count(*) - count(DISTINCT record_id) FROM _okv").fetchone()[0]
        # ... and the same record id twice at the same version: the last row in the file wins
        window = """QUALIFY row_number() OVER (PARTITION BY record_id ORDER BY version_at DESC NULLS LAST,
                                                 source_row DESC) = 1"""
    else:
        repeats = con.execute(
            "SELECT count(DISTINCT (record_id, version_at)) - count(DISTINCT record_id) FROM _okv").fetchone()[0]
        window = "QUALIFY version_at IS NOT DISTINCT FROM max(version_at) OVER (PARTITION BY record_id)"
    con.execute(f"CREATE OR REPLACE TEMP VIEW _ok2 AS SELECT * FROM _okv {window if repeats else ''}")

    # 4. crosswalks and grain
    has = enrich.load_crosswalks(con, src, settings)
    if is_calls:
        _grain_calls(con, src)
    else:
        enrich.classify_offenses(con, has["offenses"])
        _grain_incidents(con)
    n_superseded = n_ok - con.execute("SELECT coalesce(sum(_nrows), 0) FROM _rec").fetchone()[0]

    # 5. enrich: lookups on distinct values, then the view `_final` that the INSERT reads
    enrich.define_final(con, src, settings, load_id, has)
    if is_calls and src.event_grain == "unit":
        # _final_units: every responding unit of the load's calls
        con.execute(f"CREATE OR REPLACE TEMP VIEW _unit_rows AS SELECT * FROM _ok2 WHERE {unit_row_rule(src)}")
        enrich.run_core_sql(con, "call_units")
    raw_cols = [c for c in _col_list(con, "_rec") if c.startswith("raw_")]

    # 6. write: quarantine, new raw_* columns, merge
    if begin is not None:
        begin()
    qp = Params()
    con.execute(
        f"""INSERT INTO core.quarantine
            SELECT {qp(load_id)}, {qp(src.name)}, s.source_row, s._q_reason, {raw_json_sql(raw_columns, qp)}
            FROM _stg s JOIN raw.{qident(src.name)} r ON r._load_id = {qp(load_id)} AND r._row_number = s.source_row
            WHERE s._q_reason IS NOT NULL""",
        qp.values,
    )
    add_raw_columns(con, core, raw_cols)
    n_stale_rows, n_records = _merge(con, src, core, id_col, load_id)
    if is_calls:  # calls loaded earlier take the natures of this load's crosswalk and taxonomy
        natures.refresh_calls(con, src.name, has["call_types"])
    if src.geocode.enabled:  # 7. place the load's unlocated rows with an address (geocoding.py)
        geocoding.place_unlocated(con, core, src, settings, load_id)
    versions.record(con, src, load_id, load_time)  # 8. the version history (versions.py)
    n_duplicate = n_exact_dup + n_superseded + n_stale_rows
    n_loaded = (n_stage + n_rejects) - n_quar - n_duplicate
    return NormalizeResult(
        rows_read=n_stage + n_rejects, rows_loaded=n_loaded, rows_duplicate=n_duplicate,
        rows_quarantined=n_quar, records_upserted=n_records,
    )


def add_raw_columns(con: duckdb.DuckDBPyConnection, core: str, names) -> None:
    """Give core.calls / core.incidents a text column (with its comment) for each unmapped source column."""
    for name in names:
        con.execute(f"ALTER TABLE {core} ADD COLUMN IF NOT EXISTS {qident(name)} VARCHAR")
        con.execute(f"COMMENT ON COLUMN {core}.{qident(name)} IS "
                    f"{qstr('unmapped source column, as delivered (text)')}")


def drop_temp(con: duckdb.DuckDBPyConnection) -> None:
    """Drop this module's session temp objects (after the caller's COMMIT or ROLLBACK)."""
    for v in ("_final", "_ok2", "_okv", "_rec"):
        try:
            con.execute(f"DROP VIEW IF EXISTS {v}")
        except duckdb.CatalogException:
            pass
    for t in ("_rec", "_ok", "_stg", *enrich.TEMP_TABLES, "_stale", "_days", "_newer_days", "_vnew", "_vchg"):
        try:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        except duckdb.CatalogException:
            pass


def _col_list(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _cols(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return set(_col_list(con, table))


def unit_row_rule(src: SourceConfig) -> str:
    """Which rows of a unit-grain feed are responding units (sql/core/call_units.sql): when the feed maps
    unit_id, the rows that name a unit or carry a unit time (a call no unit went to has one row with neither);
    otherwise every row."""
    if "unit_id" not in src.columns:
        return "true"
    return ("unit_id IS NOT NULL OR dispatched_at IS NOT NULL OR enroute_at IS NOT NULL OR onscene_at IS NOT NULL "
            "OR cleared_at IS NOT NULL")


def _grain_calls(con: duckdb.DuckDBPyConnection, src: SourceConfig) -> None:
    """One row per call. Unit-grain feeds: every row of the call's newest version is a responding unit, and
    the unit times give first entry, first dispatch, first en route, first arrival and last clear. Every
    other field (type, initial type, priority, disposition, address, coordinates, received time, raw_*)
    comes from the last of those rows in the file, as delivered (an empty value included), like the
    last row winning on a record-grain feed. `source_row` is the first unit row."""
    if src.event_grain == "unit":
        special = {
            "record_id": "record_id",
            "source_row": "min(source_row)",
            "version_at": "max(version_at)",
        }
        # first / last in wall-clock order: a time in a spring-forward gap (DST code > 0) was read with the
        # offset before the gap, so it sorts `code` seconds earlier than its instant; a unit time's DST code
        # comes from the row the time was taken from
        for t, agg in (("entered_at", "min"), ("dispatched_at", "min"), ("enroute_at", "min"),
                       ("onscene_at", "min"), ("cleared_at", "max"), ("updated_at", "max")):
            key = f"{t} - to_seconds(greatest(coalesce(_dst_{t}, 0), 0))"
            special[t] = f"arg_{agg}({t}, {key})"
            special[f"_dst_{t}"] = f"arg_{agg}_null(_dst_{t}, {key})"
        skip = {"_dup_rank", "_q_reason", "_row_hash", "unit_id"}
        parts = []
        for c in _col_list(con, "_ok2"):
            if c in skip or c.startswith("_txt_"):
                continue
            expr = special.get(c, f"arg_max_null({qident(c)}, source_row)")
            parts.append(f"{expr} AS {qident(c)}")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _rec AS
                SELECT {", ".join(parts)}, count(*) FILTER (WHERE {unit_row_rule(src)}) AS n_responding_units,
                       count(*) AS _nrows
                FROM _ok2 GROUP BY record_id"""
        )
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _rec AS SELECT *, 1 AS n_responding_units, 1 AS _nrows FROM _ok2")


def _grain_incidents(con: duckdb.DuckDBPyConnection) -> None:
    """One row per incident, classified by its most serious offence row of _offrows (lowest severity_rank, then
    offence seq, then file order)."""
    con.execute(
        """CREATE OR REPLACE TEMP TABLE _rec AS
           SELECT * EXCLUDE (offense, offense_n, severity_rank, _seq, _k, offense_seq),
                  offense_n AS offense, _n AS n_offenses, _n AS _nrows, _first_row AS source_row_first
           FROM (
             SELECT *, row_number() OVER (PARTITION BY record_id ORDER BY severity_rank, _seq, source_row) AS _k,
                    count(*) OVER (PARTITION BY record_id) AS _n,
                    min(source_row) OVER (PARTITION BY record_id) AS _first_row
             FROM _offrows)
           WHERE _k = 1"""
    )
    con.execute("ALTER TABLE _rec DROP COLUMN source_row")
    con.execute("ALTER TABLE _rec RENAME COLUMN source_row_first TO source_row")


def _merge(con: duckdb.DuckDBPyConnection, src: SourceConfig, core: str, id_col: str,
           load_id: str) -> tuple[int, int]:
    """Apply the load to core. Returns (raw rows not applied because stale, records written). A source with
    current rows and no history yet first seeds its history from them (versions.seed)."""
    versions.seed(con, src)
    if src.update_mode == "replace_window":
        # the extract replaces this source's rows on the local days it covers, except days where core
        # already holds a newer version (an older extract arriving late changes nothing newer)
        con.execute("CREATE OR REPLACE TEMP TABLE _days AS "
                    "SELECT DISTINCT CAST(timezone(?, event_at) AS DATE) AS d FROM _rec", [src.timezone])
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _newer_days AS
                SELECT DISTINCT CAST(timezone(?, c.event_at) AS DATE) AS d
                FROM {core} c WHERE c.source = ?
                  AND CAST(timezone(?, c.event_at) AS DATE) IN (SELECT d FROM _days)
                  AND c.version_at > (SELECT max(version_at) FROM _rec)""",
            [src.timezone, src.name, src.timezone],
        )
        con.execute(
            """CREATE OR REPLACE TEMP TABLE _stale AS SELECT record_id FROM _rec
               WHERE CAST(timezone(?, event_at) AS DATE) IN (SELECT d FROM _newer_days)""",
            [src.timezone],
        )
        con.execute(
            f"""DELETE FROM {core} WHERE source = ?
                AND CAST(timezone(?, event_at) AS DATE) IN (SELECT d FROM _days EXCEPT SELECT d FROM _newer_days)""",
            [src.name, src.timezone],
        )
        _delete_offenses_orphans(con, src, core)
        _delete_unit_orphans(con, src)
    else:
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _stale AS
                SELECT f.record_id FROM _rec f JOIN {core} c ON c.source = ? AND c.{id_col} = f.record_id
                WHERE c.version_at > f.version_at
                   OR (? AND c.version_at IS NOT DISTINCT FROM f.version_at)""",
            [src.name, src.update_mode == "append"],
        )
        n_stale = con.execute("SELECT count(*) FROM _stale").fetchone()[0]
        not_stale = " AND record_id NOT IN (SELECT record_id FROM _stale)" if n_stale else ""
        con.execute(
            f"""DELETE FROM {core} WHERE source = ? AND {id_col} IN
                (SELECT record_id FROM _rec WHERE true {not_stale})""",
            [src.name],
        )
        if src.kind == "incidents":
            con.execute(
                f"""DELETE FROM core.offenses WHERE source = ? AND incident_id IN
                   (SELECT record_id FROM _rec WHERE true {not_stale})""",
                [src.name],
            )
        elif src.event_grain == "unit":
            con.execute(
                f"""DELETE FROM core.call_units WHERE source = ? AND call_id IN
                   (SELECT record_id FROM _rec WHERE true {not_stale})""",
                [src.name],
            )
    stale_rows, n_stale = con.execute(
        "SELECT coalesce(sum(r._nrows), 0), count(*) FROM _rec r WHERE r.record_id IN (SELECT record_id FROM _stale)"
    ).fetchone()
    cols = [r[0] for r in con.execute(f"DESCRIBE {core}").fetchall()]
    have = _cols(con, "_final")
    select = ", ".join(qident(c) if c in have else f"NULL AS {qident(c)}" for c in cols)
    where = f"WHERE {id_col} NOT IN (SELECT record_id FROM _stale)" if n_stale else ""
    insert_unordered(con, f"INSERT INTO {core} SELECT {select} FROM _final {where}")
    n = con.execute("SELECT count(*) FROM _rec").fetchone()[0] - n_stale
    if src.kind == "incidents":
        con.execute(
            """INSERT INTO core.offenses
               SELECT o.record_id, ?, o._seq, o.offense_code, o.offense_n, o.offense_category, o.crime_against,
                      o.severity_rank, ?
               FROM _offrows o WHERE o.record_id NOT IN (SELECT record_id FROM _stale)""",
            [src.name, load_id],
        )
    elif src.event_grain == "unit":
        con.execute("INSERT INTO core.call_units BY NAME SELECT * FROM _final_units "
                    "WHERE call_id NOT IN (SELECT record_id FROM _stale)")
    return int(stale_rows), int(n)


def insert_unordered(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Run an INSERT whose rows may land in any physical order. With insertion order preserved, DuckDB runs an
    INSERT whose SELECT has a hash join (the lookups of `_final`) as one single-threaded pipeline: joins,
    expressions and the column writes on one core. Without it the pipeline runs on every thread (measured at
    1M calls: the busiest thread 4.7-5.0 CPU s instead of 6.6-7.3, and 9.4-9.9 in all instead of 11-13).
    The rows are the same; only their order in the file differs, which no reader relies on (a unit-grain
    load's rows come out of a GROUP BY, in no set order, already). The setting belongs to the database (every
    cursor of it sees it while the INSERT runs; sara runs one statement at a time per warehouse) and is set back
    at once, also on error: the CSV reader (readers.py) numbers a file's rows by insertion order."""
    before = con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]
    con.execute("SET preserve_insertion_order = false")
    try:
        con.execute(sql)
    finally:
        con.execute(f"SET preserve_insertion_order = {'true' if before else 'false'}")


def _delete_unit_orphans(con: duckdb.DuckDBPyConnection, src: SourceConfig) -> None:
    """Units of calls no longer in core.calls (a replaced day dropped them)."""
    if src.kind == "calls" and src.event_grain == "unit":
        con.execute("DELETE FROM core.call_units WHERE source = ? AND call_id NOT IN "
                    "(SELECT call_id FROM core.calls WHERE source = ?)", [src.name, src.name])


def _delete_offenses_orphans(con: duckdb.DuckDBPyConnection, src: SourceConfig, core: str) -> None:
    if src.kind == "incidents":
        con.execute(
            "DELETE FROM core.offenses WHERE source = ? AND incident_id NOT IN "
            "(SELECT incident_id FROM core.incidents WHERE source = ?)",
            [src.name, src.name],
        )
