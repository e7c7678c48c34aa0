"""Normalize one load from `raw.<source>` into `core.calls` / `core.incidents`, driven by the source's YAML.

Steps, all in DuckDB SQL except two lookups computed on DISTINCT values in Python
(addresses, and coordinates -> projection, area test and polygon tags):

1. stage    rename, cast, parse times (local ones in the source zone -> UTC; instants kept), flag quarantine
            reasons and time issues
2. split    unusable rows -> core.quarantine with a reason
3. dedupe   exact duplicate rows (only when the source says `dedupe: true`)
4. version  rows of one record in one extract: the newest version wins, earlier ones are superseded
5. grain    unit rows -> one call (first dispatch, first arrival, last clear; other fields from the last row);
            offence rows -> one incident
6. enrich   crosswalks, origin, intervals, address block, location key, coordinates, beat/district
7. merge    into core by update_mode; a version older than core's is stale and changes nothing

Every row read is accounted for: rows_read = rows_loaded + rows_duplicate + rows_quarantined.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import duckdb
import polars as pl

from transforms.config import CALL_TIMES, INCIDENT_TIMES, Settings, SourceConfig, TimestampSpec
from transforms.stats import address as addr
from transforms.warehouse.geo import locate_points
from transforms.warehouse.readers import TYPED_TS_FORMAT
from transforms.warehouse.sqlutil import Params, qident, qstr, raw_column_name


@dataclass
class NormalizeResult:
    rows_read: int
    rows_loaded: int
    rows_duplicate: int
    rows_quarantined: int
    records_upserted: int


def _text(col: str) -> str:
    return f"nullif(trim({qident(col)}), '')"


# A typed Parquet timestamp as staged by transforms.ingest (TYPED_TS_FORMAT): with '+00:00' it was
# time-zone-aware in the file (an instant); without an offset it was naive.
_TYPED_INSTANT_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$"
_TYPED_NAIVE_RE = r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}$"


@dataclass
class _TimeSql:
    """How one canonical time is read: SQL for the text as delivered, a local (naive) reading in `zone`,
    and an instant reading (TIMESTAMPTZ: a typed Parquet timestamp or a `%z` format); either may be None."""

    raw_text: str
    zone: str
    local: str | None
    instant: str | None


def _ts_sql(spec: TimestampSpec, src: SourceConfig, p: Params) -> _TimeSql:
    zone = spec.timezone or src.timezone
    if spec.parts:
        parts = {k: f"try_cast(trim({qident(c)}) AS DOUBLE)" for k, c in spec.parts.items()}
        raw_text = " || '-' || ".join(f"coalesce(trim({qident(c)}), '')" for c in spec.parts.values())
        raw_text = f"nullif(regexp_replace({raw_text}, '^-*$', ''), '')"
        local = (
            f"try(make_timestamp(CAST({parts['year']} AS BIGINT), CAST({parts['month']} AS BIGINT), "
            f"CAST({parts['day']} AS BIGINT), CAST(coalesce({parts.get('hour', '0')}, 0) AS BIGINT), "
            f"CAST(coalesce({parts.get('minute', '0')}, 0) AS BIGINT), coalesce({parts.get('second', '0')}, 0)))"
        )
        return _TimeSql(raw_text, zone, local, None)
    if len(spec.columns) == 1:
        raw_text = _text(spec.columns[0])
    else:
        raw_text = "nullif(trim(concat_ws(' ', " + ", ".join(_text(c) for c in spec.columns) + ")), '')"
    if spec.epoch:
        num = f"try_cast({raw_text} AS BIGINT)"
        local = (f"epoch_ms({num})" if spec.epoch == "ms"
                 else f"CAST(to_timestamp({num}) AT TIME ZONE 'UTC' AS TIMESTAMP)")
        return _TimeSql(raw_text, spec.timezone or "UTC", local, None)
    text = raw_text
    for pat, rep in spec.replace:
        text = f"regexp_replace({text}, {p(pat)}, {p(rep)}, 'g')"
    # NOTE: DuckDB's strptime returns TIMESTAMPTZ when any format in the list has %z (and then reads text
    # without an offset as UTC), so formats with an offset are tried apart: their result is an instant.
    local_fmts = [f for f in spec.formats if "%z" not in f]
    offset_fmts = [f for f in spec.formats if "%z" in f]
    local = f"try_strptime({text}, {p(local_fmts)}::VARCHAR[])" if local_fmts else None
    instant = f"try_strptime({text}, {p(offset_fmts)}::VARCHAR[])" if offset_fmts else None
    if src.format == "parquet":
        naive_zone = "UTC" if src.naive_timestamps == "utc" else zone
        typed = (f"CASE WHEN regexp_full_match({raw_text}, {p(_TYPED_INSTANT_RE)}) "
                 f"THEN try_strptime({raw_text}, {p(TYPED_TS_FORMAT + '%z')}) "
                 f"WHEN regexp_full_match({raw_text}, {p(_TYPED_NAIVE_RE)}) "
                 f"THEN timezone({p(naive_zone)}, try_strptime({raw_text}, {p(TYPED_TS_FORMAT)})) END")
        instant = f"coalesce({typed}, {instant})" if instant else typed
    return _TimeSql(raw_text, zone, local, instant)


def _ts_columns(t: str, ts: _TimeSql, p: Params, sentinels: list[date]) -> tuple[list[str], list[str], list[str]]:
    """Staging of one time in two steps: (select items of the first step: the text `_txt_t` and its readings
    `_l_t` / `_i_t`; the names of those readings; select items of the second step: the UTC value `t` and
    the sentinel flag `_sen_t`).

    An instant is kept exactly; a local reading is converted from its zone to UTC once. A sentinel date
    (the local date, or for an instant its date in UTC or in the zone) makes the time null and `_sen_t` true."""
    readings = {f"_l_{t}": ts.local, f"_i_{t}": ts.instant}
    readings = {name: sql for name, sql in readings.items() if sql is not None}
    first = [f"{ts.raw_text} AS _txt_{t}", *(f"{sql} AS {name}" for name, sql in readings.items())]
    # NOTE: DST rule (ICU, tested): a local time in the spring-forward gap is read with the offset in force
    # before the gap (2019-03-10 02:30 America/Los_Angeles -> 10:30 UTC, i.e. 03:30 PDT); a time in the
    # autumn overlap takes the later, standard-time reading (2019-11-03 01:30 -> 09:30 UTC).
    from_local = f"timezone({p(ts.zone)}, _l_{t})" if ts.local is not None else None
    sen = ", ".join(p(d) for d in sentinels)
    sen_local = f"CAST(_l_{t} AS DATE) IN ({sen})" if sentinels and ts.local is not None else None
    sen_inst = (f"(CAST(timezone('UTC', _i_{t}) AS DATE) IN ({sen}) OR "
                f"CAST(timezone({p(ts.zone)}, _i_{t}) AS DATE) IN ({sen}))"
                if sentinels and ts.instant is not None else None)
    if ts.instant is None:
        value, is_sen = from_local, sen_local
    elif ts.local is None:
        value, is_sen = f"_i_{t}", sen_inst
    else:
        value = f"coalesce(_i_{t}, {from_local})"
        is_sen = (f"CASE WHEN _i_{t} IS NOT NULL THEN {sen_inst} ELSE {sen_local} END" if sentinels else None)
    if is_sen is None:
        return first, list(readings), [f"{value} AS {t}", f"false AS _sen_{t}"]
    return first, list(readings), [f"CASE WHEN {is_sen} THEN NULL ELSE {value} END AS {t}",
                                   f"coalesce({is_sen}, false) AS _sen_{t}"]


def _condition(c, p: Params) -> str:
    col = f"trim({qident(c.column)})"
    if c.equals is not None:
        return f"({col} = {p(c.equals)})"
    if c.in_ is not None:
        return f"({col} IN ({', '.join(p(v) for v in c.in_)}))"
    return f"regexp_matches({col}, {p(c.matches)})"


def _bool_flag(col: str) -> str:
    return f"(upper(trim({qident(col)})) IN ('Y', 'YES', 'TRUE', 'T', '1'))"


def needs_row_hash(src: SourceConfig) -> bool:
    return src.dedupe or not src.record_id


def raw_json_sql(raw_columns: list[str], p: Params) -> str:
    """The raw row as a JSON object (for quarantine rows)."""
    return "json_object(" + ", ".join(f"{p(c)}, r.{qident(c)}" for c in raw_columns) + ")"


def build_stage_sql(src: SourceConfig, raw_columns: list[str], settings: Settings, load_id: str,
                    extract_at: datetime | None, load_time: datetime) -> tuple[str, list]:
    """The staging query: one row per raw row, canonical names, UTC times, and a quarantine reason."""
    p = Params()
    is_calls = src.kind == "calls"
    times = CALL_TIMES if is_calls else INCIDENT_TIMES
    sel: list[str] = ["_row_number AS source_row"]

    # record id
    if src.record_id:
        if len(src.record_id) == 1:
            rid = _text(src.record_id[0])
        else:
            rid = "nullif(concat_ws('|', " + ", ".join(_text(c) for c in src.record_id) + "), '')"
    else:
        rid = "CAST(NULL AS VARCHAR)"
    sel.append(f"{rid} AS record_id")

    # content hash of the whole raw row: exact-duplicate detection, and ids for feeds without ids
    if needs_row_hash(src):
        hash_cols = ", ".join(f"coalesce({qident(c)}, '\x1e')" for c in raw_columns)
        sel.append(f"md5(concat_ws('\x1f', {hash_cols})) AS _row_hash")

    parsed_checks: list[str] = []
    readings: list[str] = []   # the _l_ / _i_ columns of the first step
    timed: list[str] = []      # the second step: each time in UTC, and its sentinel flag
    for t in times:
        spec = src.timestamps.get(t)
        if spec is None:
            sel.append(f"CAST(NULL AS TIMESTAMPTZ) AS {t}")
            sel.append(f"CAST(NULL AS VARCHAR) AS _txt_{t}")
            sel.append(f"false AS _sen_{t}")
            continue
        ts = _ts_sql(spec, src, p)
        first, names, second = _ts_columns(t, ts, p, src.sentinel_dates)
        sel.extend(first)
        readings.extend(names)
        timed.extend(second)
        parsed_checks.append(t)

    fields = [
        "call_type_code", "call_type_initial", "priority", "disposition", "duplicate_of", "linked_to",
    ] if is_calls else ["offense_code", "offense", "offense_seq"]
    for f in [*fields, "address", "premise"]:
        if f in src.columns:
            sel.append(f"{_text(src.columns[f])} AS {f}")
        elif f in src.constants:
            sel.append(f"{p(src.constants[f])} AS {f}")
        else:
            sel.append(f"CAST(NULL AS VARCHAR) AS {f}")
    if "juvenile_flag" in src.columns:
        sel.append(f"{_bool_flag(src.columns['juvenile_flag'])} AS juvenile_flag")
    else:
        sel.append("CAST(NULL AS BOOLEAN) AS juvenile_flag")

    if src.coordinates:
        cx = "geometry_x" if src.coordinates.geometry else src.coordinates.x
        cy = "geometry_y" if src.coordinates.geometry else src.coordinates.y
        sel.append(f"{_text(cx)} AS _x_raw")
        sel.append(f"{_text(cy)} AS _y_raw")
    else:
        sel.append("CAST(NULL AS VARCHAR) AS _x_raw, CAST(NULL AS VARCHAR) AS _y_raw")

    if src.unknown_time:
        rules = [" AND ".join(_condition(c, p) for c in rule) for rule in src.unknown_time]
        sel.append("coalesce(" + " OR ".join(f"({r})" for r in rules) + ", false) AS _unknown_time")
    else:
        sel.append("false AS _unknown_time")

    if src.void:
        vals = ", ".join(p(v.upper()) for v in src.void.values)
        sel.append(f"coalesce(upper(trim({qident(src.void.column)})) IN ({vals}), false) AS _void_src")
    else:
        sel.append("false AS _void_src")

    if src.origin:
        col = f"upper(trim({qident(src.origin.column)}))"
        off = ", ".join(p(v.upper()) for v in src.origin.officer_values)
        com = ", ".join(p(v.upper()) for v in src.origin.community_values) or "NULL"
        sel.append(f"CASE WHEN {col} IN ({off}) THEN 'officer' WHEN {col} IN ({com}) THEN 'community' END AS _origin_src")
    else:
        sel.append("CAST(NULL AS VARCHAR) AS _origin_src")

    # unmapped columns survive as raw_*
    used = src.referenced_columns() | set(src.drop_columns)
    if src.coordinates and src.coordinates.geometry:
        used |= {"geometry_x", "geometry_y"}
    for c in raw_columns:
        if c not in used:
            sel.append(f"{qident(c)} AS {qident(raw_column_name(c))}")

    sql_stage = "SELECT " + ",\n  ".join(sel) + f"\nFROM raw.{qident(src.name)} WHERE _load_id = {p(load_id)}"

    # quarantine reason + derived time columns. Every primary time that was delivered but is null ends in
    # quarantine (no primary time left) or in time_issue (unparseable_<t>, sentinel_<t>): never silently null.
    primary = [t for t in (["received_at"] if is_calls else ["occurred_from", "reported_at"]) if t in src.timestamps]
    prim_null = " AND ".join(f"{t} IS NULL" for t in primary)
    prim_txt_null = " AND ".join(f"_txt_{t} IS NULL" for t in primary)
    prim_none = " AND ".join(f"(_txt_{t} IS NULL OR _sen_{t})" for t in primary)
    prim_names = " or ".join(f"{t} ({', '.join(src.timestamps[t].source_columns())})" for t in primary)
    sen_txt = ", ".join(f"CASE WHEN _sen_{t} THEN _txt_{t} END" for t in primary)
    bad_txt = ", ".join(f"CASE WHEN NOT _sen_{t} THEN _txt_{t} END" for t in primary)
    reasons = [
        f"WHEN {prim_txt_null} THEN {p('no_timestamp: ' + prim_names + ' is empty')}",
        f"WHEN {prim_null} AND {prim_none} THEN 'no_timestamp: ' || {p(prim_names)} || ' value ' || "
        f"coalesce({sen_txt}) || ' is a sentinel date (none)'",
        f"WHEN {prim_null} THEN 'bad_timestamp: ' || {p(prim_names)} || ' value ' || "
        f"coalesce({bad_txt}) || ' does not parse'",
    ]
    if src.record_id:
        reasons.insert(0, f"WHEN record_id IS NULL THEN {p('no_record_id: ' + ', '.join(src.record_id) + ' is empty')}")
    q_reason = "CASE " + " ".join(reasons) + " END"

    event_at = "received_at" if is_calls else "coalesce(occurred_from, reported_at)"
    precision_spec = src.timestamps.get("received_at" if is_calls else "occurred_from") or src.timestamps.get(
        "reported_at")
    date_only = precision_spec is not None and precision_spec.precision == "date_only"
    precision = (
        "CASE WHEN _unknown_time THEN 'unknown_time' " + ("ELSE 'date_only' END" if date_only else "ELSE 'exact' END")
    )
    floor = datetime.combine(settings.sara.time.floor, datetime.min.time(), tzinfo=UTC)
    future = load_time + timedelta(hours=settings.sara.time.future_tolerance_hours)
    # a time delivered but not read is flagged (primary ones too, when the row is kept on another primary);
    # a sentinel is "never": null without a flag, except on a primary time
    issues = [f"CASE WHEN _txt_{t} IS NOT NULL AND {t} IS NULL AND NOT _sen_{t} THEN 'unparseable_{t}' END"
              for t in parsed_checks]
    issues += [f"CASE WHEN _sen_{t} THEN 'sentinel_{t}' END" for t in primary]
    time_issue = (
        "nullif(concat_ws(',', "
        f"CASE WHEN {event_at} > {p(future)} THEN 'future' END, "
        f"CASE WHEN {event_at} < {p(floor)} THEN 'before_floor' END"
        + "".join(", " + b for b in issues) + "), '')"
    )
    version = f"coalesce(updated_at, {p(extract_at)}::TIMESTAMPTZ)"
    exclude_read = f" EXCLUDE ({', '.join(readings)})" if readings else ""
    sql = f"""
    WITH read AS ({sql_stage}),
    staged AS (SELECT *{exclude_read}{''.join(', ' + c for c in timed)} FROM read)
    SELECT * EXCLUDE ({", ".join(f"_txt_{t}, _sen_{t}" for t in times)}),
           {q_reason} AS _q_reason, {event_at} AS event_at, {precision} AS time_precision,
           {time_issue} AS time_issue, {version} AS version_at
    FROM staged
    """
    return sql, p.values


def _load_crosswalk(con: duckdb.DuckDBPyConnection, settings: Settings, rel: str | None, name: str,
                    columns: list[str]) -> bool:
    """Crosswalk CSV -> temp table with key = upper(trim(code)). Returns False if not configured."""
    if not rel:
        return False
    path = settings.resolve(rel)
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT upper(trim(code)) AS _key, * EXCLUDE (code) "
        f"FROM read_csv(?, header = true, all_varchar = true)",
        [str(path)],
    )
    have = {r[0] for r in con.execute(f"DESCRIBE {name}").fetchall()}
    missing = [c for c in columns if c not in have]
    if missing:
        raise ValueError(f"{path}: crosswalk is missing column(s) {missing}")
    dups = con.execute(f"SELECT _key FROM {name} GROUP BY _key HAVING count(*) > 1 LIMIT 3").fetchall()
    if dups:
        raise ValueError(f"{path}: code(s) {[d[0] for d in dups]} listed more than once")
    return True


def _address_lookup(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Distinct address/premise strings -> cleaned address, block address, premise key."""
    df = con.execute(f"SELECT DISTINCT address FROM {table} WHERE address IS NOT NULL").pl()
    s = df["address"]
    out = pl.DataFrame({
        "address": s,
        "address_clean": addr.clean_address(s),
        "address_block": addr.block_address(s),
    })
    con.register("_addr_lookup_df", out.to_arrow())
    con.execute("CREATE OR REPLACE TEMP TABLE _addr_lookup AS SELECT * FROM _addr_lookup_df")
    con.unregister("_addr_lookup_df")


def _location_lookup(con: duckdb.DuckDBPyConnection, table: str, src: SourceConfig, settings: Settings) -> bool:
    """Distinct raw coordinate pairs -> location; True when the pair hash is unique (the fast join is exact)."""
    pts = con.execute(f"SELECT DISTINCT _x_raw, _y_raw FROM {table}").fetch_arrow_table()
    agency = settings.agency_of(src.name)
    res = locate_points(
        pts.column("_x_raw"),
        pts.column("_y_raw"),
        src_crs=src.coordinates.crs if src.coordinates else "EPSG:4326",
        agency=agency,
        polygons={k: (settings.resolve(v.path), v.field, v.layer) for k, v in src.polygons.items()},
        settings=settings,
    )
    con.register("_loc_df", res)
    # joined on one 64-bit hash of the pair (much cheaper than two text keys); exact, because a
    # collision between two distinct pairs is detected here and the join falls back to the text keys
    con.execute("CREATE OR REPLACE TEMP TABLE _loc_lookup AS SELECT hash(_x_raw, _y_raw) AS _xy, * FROM _loc_df")
    con.unregister("_loc_df")
    return con.execute("SELECT count(*) = count(DISTINCT _xy) FROM _loc_lookup").fetchone()[0]


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
    xw = src.crosswalks
    has_ct = _load_crosswalk(con, settings, xw.call_types, "_xw_ct", ["call_type", "call_category"])
    has_disp = _load_crosswalk(con, settings, xw.dispositions, "_xw_disp", ["disposition_category"])
    has_prio = _load_crosswalk(con, settings, xw.priorities, "_xw_prio", ["priority_level"])
    has_off = _load_crosswalk(con, settings, xw.offenses, "_xw_off",
                              ["offense", "offense_category", "crime_against", "severity_rank"])
    if is_calls:
        _grain_calls(con, src)
    else:
        _grain_incidents(con, src, has_off)
    n_superseded = n_ok - con.execute("SELECT coalesce(sum(_nrows), 0) FROM _rec").fetchone()[0]

    # 5. enrich: lookups on distinct values, then one SELECT that the INSERT reads
    _address_lookup(con, "_rec")
    hash_join = _location_lookup(con, "_rec", src, settings)
    raw_cols = [c for c in _col_list(con, "_rec") if c.startswith("raw_")]
    final_sql = _final_sql(con, src, settings, load_id, raw_cols, has_ct, has_disp, has_prio, hash_join)
    con.execute(f"CREATE OR REPLACE TEMP VIEW _final AS {final_sql}")

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
    for t in ("_rec", "_ok", "_stg", "_addr_lookup", "_loc_lookup", "_xw_ct", "_xw_disp", "_xw_prio", "_xw_off",
              "_offrows", "_stale", "_days", "_newer_days"):
        try:
            con.execute(f"DROP TABLE IF EXISTS {t}")
        except duckdb.CatalogException:
            pass


def _final_sql(con, src: SourceConfig, settings: Settings, load_id: str, raw_cols: list[str],
               has_ct: bool, has_disp: bool, has_prio: bool, hash_join: bool) -> str:
    """The enriched core rows, as one SELECT over _rec and the lookups (literals are quoted constants)."""
    r = float(settings.sara.location_round_m)
    raw_select = "".join(f", f.{qident(c)}" for c in raw_cols)
    loc_key = (
        "coalesce(upper(regexp_replace(trim(f.premise), '\\s+', ' ', 'g')), a.address_clean, a.address_block, "
        f"CASE WHEN l.is_located THEN 'XY ' || CAST(CAST(round(l.x / {r}) * {r} AS BIGINT) AS VARCHAR) "
        f"|| ' ' || CAST(CAST(round(l.y / {r}) * {r} AS BIGINT) AS VARCHAR) END)"
    )
    common_tail = f"""
        a.address_clean AS address, a.address_block, {loc_key} AS location_key,
        l.lon, l.lat, l.x, l.y, coalesce(l.is_located, false) AS is_located,
        l.location_issue, l.beat, l.district, f.version_at, {qstr(load_id)} AS load_id, f.source_row {raw_select}
    """
    loc_on = ("l._xy = hash(f._x_raw, f._y_raw)" if hash_join else
              "l._x_raw IS NOT DISTINCT FROM f._x_raw AND l._y_raw IS NOT DISTINCT FROM f._y_raw")
    loc_join = f"""
        LEFT JOIN _addr_lookup a ON a.address = f.address
        LEFT JOIN _loc_lookup l ON {loc_on}
    """
    ident = f"{qstr(src.name)} AS source, {qstr(src.agency)} AS agency"
    if src.kind == "incidents":
        return f"""
        SELECT f.record_id AS incident_id, {ident},
          f.occurred_from, f.occurred_to, f.reported_at, f.event_at, f.time_precision, f.time_issue,
          f.offense_code, f.offense, f.offense_category, f.crime_against, f.n_offenses,
          coalesce(f._origin_src, 'unknown') AS origin, f._void_src AS is_void, f.juvenile_flag,
          {common_tail}
        FROM _rec f {loc_join}
        """
    ct = "LEFT JOIN _xw_ct ct ON ct._key = upper(f.call_type_code) " if has_ct else ""
    cti = "LEFT JOIN _xw_ct cti ON cti._key = upper(f.call_type_initial) " if has_ct else ""
    dp = "LEFT JOIN _xw_disp dp ON dp._key = upper(f.disposition) " if has_disp else ""
    pr = "LEFT JOIN _xw_prio pr ON pr._key = upper(f.priority) " if has_prio else ""
    ct_origin = "ct.origin" if has_ct and "origin" in _cols(con, "_xw_ct") else "NULL"
    disp_cols = _cols(con, "_xw_disp") if has_disp else set()
    disp_void = "coalesce(lower(dp.void) IN ('true', '1', 'yes'), false)" if "void" in disp_cols else "false"
    disp_countable = ("coalesce(lower(dp.countable) NOT IN ('false', '0', 'no'), true)"
                      if "countable" in disp_cols else "true")
    prio_level = "try_cast(pr.priority_level AS INTEGER)" if has_prio else \
        "CASE WHEN try_cast(f.priority AS INTEGER) BETWEEN 1 AND 5 THEN try_cast(f.priority AS INTEGER) END"
    call_type = "coalesce(ct.call_type, f.call_type_code)" if has_ct else "f.call_type_code"
    call_type_initial = "coalesce(cti.call_type, f.call_type_initial)" if has_ct else "f.call_type_initial"
    category = ("CASE WHEN f.call_type_code IS NULL THEN 'Unknown' ELSE coalesce(ct.call_category, 'Unmapped') END"
                if has_ct else "'Unmapped'")
    disp_category = ("CASE WHEN f.disposition IS NULL THEN NULL ELSE coalesce(dp.disposition_category, 'Unmapped') END"
                     if has_disp else "NULL")
    return f"""
    WITH base AS (
      SELECT f.record_id AS call_id, {ident},
        f.received_at, f.entered_at, f.dispatched_at, f.enroute_at, f.onscene_at, f.cleared_at,
        f.event_at, f.time_precision, f.time_issue,
        f.call_type_code, {call_type} AS call_type, {call_type_initial} AS call_type_initial,
        {category} AS call_category,
        f.priority, {prio_level} AS priority_level,
        f.disposition, {disp_category} AS disposition_category,
        coalesce(f._origin_src, {ct_origin}, 'unknown') AS origin,
        f.duplicate_of, f.linked_to,
        (f._void_src OR {disp_void}) AS is_void,
        {disp_countable} AS _disp_countable,
        f.n_units, f.juvenile_flag,
        {common_tail}
      FROM _rec f {ct}{cti}{dp}{pr}{loc_join}),
    flags AS (
      SELECT * EXCLUDE (_disp_countable),
        CASE WHEN origin = 'officer' THEN true WHEN origin = 'community' THEN false END AS self_initiated,
        NOT is_void AND duplicate_of IS NULL AND linked_to IS NULL AND _disp_countable AS is_countable,
        epoch(entered_at) - epoch(received_at) AS _intake,
        epoch(dispatched_at) - epoch(coalesce(entered_at, received_at)) AS _queue,
        epoch(onscene_at) - epoch(dispatched_at) AS _travel,
        epoch(onscene_at) - epoch(received_at) AS _response,
        epoch(cleared_at) - epoch(onscene_at) AS _on_scene
      FROM base)
    SELECT * EXCLUDE (_intake, _queue, _travel, _response, _on_scene),
      CASE WHEN _intake >= 0 THEN _intake END AS intake_s,
      CASE WHEN _queue >= 0 THEN _queue END AS queue_s,
      CASE WHEN _travel >= 0 THEN _travel END AS travel_s,
      CASE WHEN _response >= 0 THEN _response END AS response_s,
      CASE WHEN _on_scene >= 0 THEN _on_scene END AS on_scene_s,
      nullif(concat_ws(',',
        CASE WHEN _intake < 0 THEN 'intake_s<0' END, CASE WHEN _queue < 0 THEN 'queue_s<0' END,
        CASE WHEN _travel < 0 THEN 'travel_s<0' END, CASE WHEN _response < 0 THEN 'response_s<0' END,
        CASE WHEN _on_scene < 0 THEN 'on_scene_s<0' END), '') AS interval_issue
    FROM flags
    """


def _col_list(con: duckdb.DuckDBPyConnection, table: str) -> list[str]:
    return [r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()]


def _cols(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    return set(_col_list(con, table))


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
            "entered_at": "min(entered_at)", "dispatched_at": "min(dispatched_at)",
            "enroute_at": "min(enroute_at)", "onscene_at": "min(onscene_at)", "cleared_at": "max(cleared_at)",
            "updated_at": "max(updated_at)", "version_at": "max(version_at)",
        }
        skip = {"_dup_rank", "_q_reason", "_row_hash"}
        parts = []
        for c in _col_list(con, "_ok2"):
            if c in skip or c.startswith("_txt_"):
                continue
            expr = special.get(c, f"arg_max_null({qident(c)}, source_row)")
            parts.append(f"{expr} AS {qident(c)}")
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _rec AS
                SELECT {", ".join(parts)}, count(*) AS n_units, count(*) AS _nrows
                FROM _ok2 GROUP BY record_id"""
        )
    else:
        con.execute("CREATE OR REPLACE TEMP VIEW _rec AS SELECT *, 1 AS n_units, 1 AS _nrows FROM _ok2")


def _grain_incidents(con: duckdb.DuckDBPyConnection, src: SourceConfig, has_off: bool) -> None:
    """One row per incident, classified by its most serious offence (lowest severity_rank, then offence seq)."""
    if has_off:
        cls = """coalesce(x.offense, o.offense, o.offense_code) AS offense_n,
                 CASE WHEN o.offense_code IS NULL THEN 'Unknown' ELSE coalesce(x.offense_category, 'Unmapped') END
                   AS offense_category,
                 x.crime_against, coalesce(try_cast(x.severity_rank AS INTEGER), 999) AS severity_rank"""
        join = "LEFT JOIN _xw_off x ON x._key = upper(o.offense_code)"
    else:
        cls = """coalesce(o.offense, o.offense_code) AS offense_n, 'Unmapped' AS offense_category,
                 CAST(NULL AS VARCHAR) AS crime_against, 999 AS severity_rank"""
        join = ""
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _offrows AS
            SELECT o.*, {cls},
              coalesce(try_cast(o.offense_seq AS INTEGER),
                       CAST(row_number() OVER (PARTITION BY o.record_id ORDER BY o.source_row) AS INTEGER)) AS _seq
            FROM _ok2 o {join}"""
    )
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
    """Apply the load to core. Returns (raw rows not applied because stale, records written)."""
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
    stale_rows, n_stale = con.execute(
        "SELECT coalesce(sum(r._nrows), 0), count(*) FROM _rec r WHERE r.record_id IN (SELECT record_id FROM _stale)"
    ).fetchone()
    cols = [r[0] for r in con.execute(f"DESCRIBE {core}").fetchall()]
    have = _cols(con, "_final")
    select = ", ".join(qident(c) if c in have else f"NULL AS {qident(c)}" for c in cols)
    where = f"WHERE {id_col} NOT IN (SELECT record_id FROM _stale)" if n_stale else ""
    con.execute(f"INSERT INTO {core} SELECT {select} FROM _final {where}")
    n = con.execute("SELECT count(*) FROM _rec").fetchone()[0] - n_stale
    if src.kind == "incidents":
        con.execute(
            """INSERT INTO core.offenses
               SELECT o.record_id, ?, o._seq, o.offense_code, o.offense_n, o.offense_category, o.crime_against,
                      o.severity_rank, ?
               FROM _offrows o WHERE o.record_id NOT IN (SELECT record_id FROM _stale)""",
            [src.name, load_id],
        )
    return int(stale_rows), int(n)


def _delete_offenses_orphans(con: duckdb.DuckDBPyConnection, src: SourceConfig, core: str) -> None:
    if src.kind == "incidents":
        con.execute(
            "DELETE FROM core.offenses WHERE source = ? AND incident_id NOT IN "
            "(SELECT incident_id FROM core.incidents WHERE source = ?)",
            [src.name, src.name],
        )
