"""The staging compiler: a source's YAML -> one SQL query over `raw.<source>` for one load.

The query renames and casts (canonical names, text trimmed to null), reads every configured time (a
local time in its zone -> UTC; an instant kept exactly; a typed Parquet timestamp before the formats),
applies the source's rules (origin, void, unknown time of day, sentinel dates), keeps every unmapped
column as raw_*, and gives each row its quarantine reason, event time, time precision, time issues and
version. Each time read from local text also gets its DST code `_dst_<time>` (see `dst_code_sql`), from
which sql/core/ flags gap and overlap times and reads the intervals that touch them by the DST interval rule.
It only renames, casts and converts: lookups, joins and the merge come after (normalize.py, sql/core/).
Identifiers are quoted and every configured value is a bound parameter.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from transforms.config import CALL_TIMES, INCIDENT_TIMES, Settings, SourceConfig, TimestampSpec
from transforms.warehouse.dst import (
    FIRST_YEAR,
    day_offset_sql,
    day_offsets_sql,
    dst_code_sql,
    local_to_utc_sql,
    transition_dates,
)
from transforms.warehouse.readers import TYPED_TS_FORMAT
from transforms.warehouse.sqlutil import Params, qident, raw_column_name


def _text(col: str) -> str:
    return f"nullif(trim({qident(col)}), '')"


# A typed Parquet timestamp as staged by readers.py (TYPED_TS_FORMAT): with '+00:00' it was
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


def reading_zone(spec: TimestampSpec, src: SourceConfig) -> str:
    """The zone a time's local reading is in: the time's own `timezone`, else the source's; an epoch is
    counted in UTC unless the time names a zone."""
    if spec.epoch:
        return spec.timezone or "UTC"
    return spec.timezone or src.timezone


def _ts_sql(spec: TimestampSpec, src: SourceConfig, p: Params) -> _TimeSql:
    zone = reading_zone(spec, src)
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
        return _TimeSql(raw_text, zone, local, None)
    text = raw_text
    for pat, rep in spec.replace:
        text = f"regexp_replace({text}, {p(pat)}, {p(rep)}, 'g')"
    # NOTE: DuckDB's strptime returns TIMESTAMPTZ when any format in the list has %z or %Z (and then reads
    # text without an offset as UTC), so formats with an offset or zone name are tried apart: their result
    # is an instant.
    local_fmts = [f for f in spec.formats if not _is_instant_format(f)]
    offset_fmts = [f for f in spec.formats if _is_instant_format(f)]
    local = f"try_strptime({text}, {p(local_fmts)}::VARCHAR[])" if local_fmts else None
    instant = f"try_strptime({text}, {p(offset_fmts)}::VARCHAR[])" if offset_fmts else None
    if src.format == "parquet":
        # a time-zone-aware typed timestamp is an instant; a naive one is a wall-clock time, read like local
        # text in the time's zone (with the DST rule and codes), or as UTC when naive_timestamps says so
        typed_instant = (f"CASE WHEN regexp_full_match({raw_text}, {p(_TYPED_INSTANT_RE)}) "
                         f"THEN try_strptime({raw_text}, {p(TYPED_TS_FORMAT + '%z')}) END")
        typed_naive = (f"CASE WHEN regexp_full_match({raw_text}, {p(_TYPED_NAIVE_RE)}) "
                       f"THEN try_strptime({raw_text}, {p(TYPED_TS_FORMAT)}) END")
        if src.naive_timestamps == "utc":
            typed_instant = f"coalesce({typed_instant}, timezone('UTC', {typed_naive}))"
        else:
            local = f"coalesce({typed_naive}, {local})" if local else typed_naive
        instant = f"coalesce({typed_instant}, {instant})" if instant else typed_instant
    return _TimeSql(raw_text, zone, local, instant)


def _is_instant_format(fmt: str) -> bool:
    return "%z" in fmt or "%Z" in fmt


@dataclass
class _TimeCols:
    """The select items of one time in the three steps of staging (see `build_stage_sql`)."""

    read: list[str]     # the text `_txt_t` and its readings `_l_t` (local) / `_i_t` (instant)
    temp: list[str]     # names of the columns that the last step drops (readings, `_o_t`, `_u_t`)
    timed: list[str]    # `_o_t`: the offset of the local reading's date from its zone's offset list (NULL
                        # when the list has none); `_u_t`: the local reading converted to UTC, once
    staged: list[str]   # the UTC value `t`, the sentinel flag `_sen_t` and the DST code `_dst_t`


def _ts_columns(t: str, ts: _TimeSql, p: Params, sentinels: list[date], offs: str, first: str) -> _TimeCols:
    """Staging of one time. An instant is kept exactly; a local reading is converted from its zone to UTC
    once. A sentinel date (the local date, or for an instant its date in UTC or in the zone) makes the time
    null and `_sen_t` true. `_dst_t` is the DST code of a value read from local text (transforms.warehouse.dst),
    NULL otherwise. The local reading is converted with the offset of its date from the offset list of its
    zone (the one-row relation `offs`, dst.day_offsets_sql, starting at the bound date `first`) when the
    list has one, by ICU otherwise."""
    readings = {f"_l_{t}": ts.local, f"_i_{t}": ts.instant}
    readings = {name: sql for name, sql in readings.items() if sql is not None}
    read = [f"{ts.raw_text} AS _txt_{t}", *(f"{sql} AS {name}" for name, sql in readings.items())]
    # NOTE: DST rule (ICU, tested): a local time in the spring-forward gap is read with the offset in force
    # before the gap (2019-03-10 02:30 America/Los_Angeles -> 10:30 UTC, i.e. 03:30 PDT); a time in the
    # autumn overlap takes the later, standard-time reading (2019-11-03 01:30 -> 09:30 UTC).
    timed = []
    if ts.local is not None:
        offset = day_offset_sql(f"_l_{t}", f"{offs}._offs", first)
        timed = [f"{offset} AS _o_{t}", f"{local_to_utc_sql(f'_l_{t}', p(ts.zone), offset)} AS _u_{t}"]
    temp = [*readings, *([f"_o_{t}", f"_u_{t}"] if timed else [])]
    from_local = f"_u_{t}"
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
    if ts.local is None:
        dst = "CAST(NULL AS INTEGER)"
    else:
        used = " AND ".join([f"_u_{t} IS NOT NULL", *([f"_i_{t} IS NULL"] if ts.instant is not None else []),
                             *([f"NOT coalesce({is_sen}, false)"] if is_sen else [])])
        dates = transition_dates(ts.zone)
        code = (dst_code_sql(f"_l_{t}", f"_u_{t}", p(ts.zone), f"{p(list(dates))}::DATE[]") if dates else "0")
        # a date with an offset in the list is not a transition date: its code is 0
        dst = f"CASE WHEN {used} THEN CASE WHEN _o_{t} IS NOT NULL THEN 0 ELSE {code} END END"
    if is_sen is None:
        staged = [f"{value} AS {t}", f"false AS _sen_{t}"]
    else:
        staged = [f"CASE WHEN {is_sen} THEN NULL ELSE {value} END AS {t}", f"coalesce({is_sen}, false) AS _sen_{t}"]
    return _TimeCols(read, temp, timed, [*staged, f"{dst} AS _dst_{t}"])


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
    temp: list[str] = []     # the readings and local instants, dropped by the last step
    timed: list[str] = []    # the second step: each local reading converted to UTC once
    staged: list[str] = []   # the third step: each time in UTC, its sentinel flag and its DST code
    # one offset list per zone of a local reading (transforms.warehouse.dst), over the local dates from a day
    # before the time floor (1900 at the earliest) to a day after the future tolerance: times outside it are
    # converted by ICU
    first_day = max(settings.sara.time.floor, date(FIRST_YEAR, 1, 1)) - timedelta(days=1)
    n_days = ((load_time + timedelta(hours=settings.sara.time.future_tolerance_hours)).date() - first_day).days + 2
    p_first = p(first_day)
    zones: dict[str, str] = {}  # zone -> the name of its one-row offset list `_tzd<i>`
    for t in times:
        spec = src.timestamps.get(t)
        if spec is None:
            sel.append(f"CAST(NULL AS TIMESTAMPTZ) AS {t}")
            sel.append(f"CAST(NULL AS VARCHAR) AS _txt_{t}")
            sel.append(f"false AS _sen_{t}")
            sel.append(f"CAST(NULL AS INTEGER) AS _dst_{t}")
            continue
        ts = _ts_sql(spec, src, p)
        offs = zones.setdefault(ts.zone, f"_tzd{len(zones)}") if ts.local is not None else ""
        cols = _ts_columns(t, ts, p, src.sentinel_dates, offs, p_first)
        sel.extend(cols.read)
        temp.extend(cols.temp)
        timed.extend(cols.timed)
        staged.extend(cols.staged)
        parsed_checks.append(t)

    fields = [
        "call_type_code", "call_type_initial", "priority", "disposition", "duplicate_of", "linked_to", "unit_id",
    ] if is_calls else ["offense_code", "offense", "offense_seq"]
    for f in [*fields, "address", "premise", "beat", "district"]:
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
    exclude_temp = f" EXCLUDE ({', '.join(temp)})" if temp else ""
    lists = []
    for zone, name in zones.items():
        dates = transition_dates(zone)
        bound = f"{p(list(dates))}::DATE[]" if dates else None
        lists.append(f"({day_offsets_sql(p(zone), bound, p_first, p(n_days))}) AS {name}")
    sql = f"""
    WITH read AS ({sql_stage}),
    timed AS (SELECT read.*{''.join(', ' + c for c in timed)} FROM read{''.join(', ' + x for x in lists)}),
    staged AS (SELECT *{exclude_temp}{''.join(', ' + c for c in staged)} FROM timed)
    SELECT * EXCLUDE ({", ".join(f"_txt_{t}, _sen_{t}" for t in times)}),
           {q_reason} AS _q_reason, {event_at} AS event_at, {precision} AS time_precision,
           {time_issue} AS time_issue, {version} AS version_at
    FROM staged
    """
    return sql, p.values
