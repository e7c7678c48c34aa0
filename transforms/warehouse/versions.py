"""Every version kept: core.call_versions and core.incident_versions (sara issue 18).

One row per distinct version of a record, written by normalize.py in the load's own transaction, after the merge
(and after the geocoder placed the load's rows, so a version holds the point core holds):

    new or changed   a record the load wrote to core whose content hash differs from its open version: the open
                     version ends (valid_to = the new version's valid_from, ended_load_id = this load) and the
                     new one is added; a record with no open version just gets one
    identical        the same hash as the open version: nothing is added (a nightly full re-delivery, or an
                     extract-time-ordered feed re-sending unchanged records, costs no rows)
    late and older   a record the merge left alone because core holds a newer version (the stale rows): added as
                     superseded at arrival (valid_to = the next version's valid_from, ended_load_id = its own load), unless
                     a version of the record already has its hash (a re-delivered old version adds nothing)
    dropped          (replace_window) a record a replaced day no longer holds: its open version ends

Trade-off: a version row keeps the record's keys, its times, the load, a 64-bit hash of the canonical fields
(version_hash.HASHED: every core column but the load fields, the call nature fields a later crosswalk refreshes
and the raw_* columns; plus the version time on a feed with an updated_at column, see version_hash.hash_sql) and, in full, only
the fields a restatement needs (KEPT: category, disposition, countable, void, location key, point, time, beat,
district). That is enough to tell that a record changed and how its figures moved, and to rebuild those fields
as known on any past night (core.calls_as_known_at(ts)); a change in any other field (a unit time, an address
spelling, a status that is not void) shows as a new version whose kept fields are equal, and the old value
itself is not kept. The full row of the current version stays in core.calls / core.incidents, exactly as
before. A late older version is hashed as it was staged (the geocoder does not place stale rows).

As known at a time (core.calls_as_known_at, `sara query --as-known-at`): the versions whose load was published
by then (its run's finish time in meta.runs). `sara rebuild` loads every file in one run, so after a rebuild every
version is known from the rebuild on: the nights before it can no longer be replayed.

Existing warehouses: the first load of a source with current rows in core and no version rows seeds the history
with one version per current record (valid_from = its version_at, else its load's loaded_at; load_id = the load
that brought it).

The hash and its scheme: transforms/warehouse/version_hash.py. DuckDB's hash() may change with DuckDB's version,
so seed() first (before the merge, while core still holds every open version's row) computes the open versions'
hashes again whenever meta.version_hash says they were made by another scheme or DuckDB; a late older version is
also checked against the md5-text hashes closed versions of the first scheme keep (see that module).

Cost: the history is read once per load, for the load's records only (their open version and last version_seq
in one aggregate), and once more for the few stale records; no correlated subquery per record.
"""

from __future__ import annotations

from datetime import datetime

import duckdb

from transforms.config import SourceConfig
from transforms.warehouse.sqlutil import qident
from transforms.warehouse.version_hash import core_types, hash_sql, md5_sql, migrate, stored

KEPT = {
    "calls": ("agency", "event_at", "call_type_code", "call_category", "priority_level", "disposition",
              "disposition_category", "is_countable", "is_void", "location_key", "x", "y", "beat", "district"),
    "incidents": ("agency", "event_at", "offense_code", "offense_category", "crime_against", "is_void",
                  "location_key", "x", "y", "beat", "district"),
}
TABLES = {"calls": ("core.call_versions", "call_id"), "incidents": ("core.incident_versions", "incident_id")}


def _kept(kind: str, alias: str, have: set[str] | None = None) -> str:
    return ", ".join(f"{alias}.{qident(c)}" if have is None or c in have else f"NULL AS {qident(c)}"
                     for c in KEPT[kind])


def seed(con: duckdb.DuckDBPyConnection, src: SourceConfig) -> int:
    """Before the merge (core still holds every open version's row): bring the source's stored hashes to the
    running scheme (version_hash.migrate); then, on an existing warehouse's first load of a source, its current
    core rows become one version each. Returns the versions seeded (0 when the source has history already or
    no rows)."""
    table, id_col = TABLES[src.kind]
    core = f"core.{src.kind}"
    migrate(con, src, table, id_col)
    if con.execute(f"SELECT count(*) FROM {table} WHERE source = ?", [src.name]).fetchone()[0]:
        return 0
    con.execute(
        f"""INSERT INTO {table}
            SELECT c.{id_col}, c.source, 1, coalesce(c.version_at, l.loaded_at, now()), NULL, c.load_id, NULL,
                   {hash_sql(src, 'c', core_types(con, src.kind))}, {_kept(src.kind, 'c')}
            FROM {core} c LEFT JOIN meta.loads l ON l.load_id = c.load_id WHERE c.source = ?""",
        [src.name],
    )
    return con.execute(f"SELECT count(*) FROM {table} WHERE source = ?", [src.name]).fetchone()[0]


def record(con: duckdb.DuckDBPyConnection, src: SourceConfig, load_id: str, load_time: datetime) -> int:
    """Write the load's versions (see the module docstring). Needs the session's `_final` and `_stale` of the
    merge, and seed() run before the merge. Returns the version rows added."""
    kind = src.kind
    table, id_col = TABLES[kind]
    core = f"core.{kind}"
    scheme = stored(con, src.name)
    if scheme is None:
        raise RuntimeError(f"versions.record({src.name}): versions.seed must run before the merge")
    types = core_types(con, kind)
    before = con.execute(f"SELECT count(*) FROM {table} WHERE source = ?", [src.name]).fetchone()[0]
    # the records this load wrote, hashed as core now holds them, beside their open version and their last
    # version_seq (a late older version, superseded at arrival, may have a higher one than the open version):
    # one pass over the history, kept to the load's records
    con.execute(
        f"""CREATE OR REPLACE TEMP TABLE _vchg AS
            WITH n AS (
                SELECT c.{id_col} AS rid, coalesce(c.version_at, CAST(? AS TIMESTAMPTZ)) AS valid_from,
                       {hash_sql(src, 'c', types)} AS h, {_kept(kind, 'c')}
                FROM {core} c WHERE c.source = ? AND c.load_id = ?),
            prev AS (
                SELECT a.{id_col} AS rid, max(a.version_seq) AS last_seq,
                       max(a.version_seq) FILTER (WHERE a.ended_load_id IS NULL) AS open_seq,
                       max(a.row_hash) FILTER (WHERE a.ended_load_id IS NULL) AS open_hash
                FROM {table} a WHERE a.source = ? AND a.{id_col} IN (
                    SELECT c.{id_col} FROM {core} c WHERE c.source = ? AND c.load_id = ?)
                GROUP BY ALL)
            SELECT n.*, p.open_seq, coalesce(p.last_seq, 0) AS last_seq
            FROM n LEFT JOIN prev p USING (rid)
            WHERE p.open_hash IS DISTINCT FROM n.h""",
        [load_time, src.name, load_id, src.name, src.name, load_id],
    )
    con.execute(
        f"""UPDATE {table} AS o SET valid_to = g.valid_from, ended_load_id = ?
            FROM _vchg g WHERE o.source = ? AND o.{id_col} = g.rid AND o.version_seq = g.open_seq""",
        [load_id, src.name],
    )
    con.execute(
        f"""INSERT INTO {table}
            SELECT rid, ?, last_seq + 1, valid_from, NULL, ?, NULL, h, {_kept(kind, 'g')} FROM _vchg g""",
        [src.name, load_id],
    )
    # late older versions: superseded at arrival (valid_to: the next version's valid_from), unless the record
    # already had a version with that content (under the md5-text scheme too, while closed versions have it)
    if con.execute("SELECT count(*) FROM _stale").fetchone()[0]:
        have = {r[0] for r in con.execute("DESCRIBE _final").fetchall()}
        h_md5 = md5_sql(src, "f", have) if scheme[2] else "NULL"
        con.execute(
            f"""CREATE OR REPLACE TEMP TABLE _vold AS
                SELECT f.{id_col} AS rid, f.version_at, {hash_sql(src, 'f', types, have)} AS h,
                       CAST({h_md5} AS UBIGINT) AS h_md5, {_kept(kind, 'f', have)}
                FROM _final f WHERE f.{id_col} IN (SELECT record_id FROM _stale)""",
        )
        con.execute(
            f"""INSERT INTO {table}
                WITH prev AS (
                    SELECT o.rid, coalesce(max(a.version_seq), 0) AS last_seq,
                           min(a.valid_from) FILTER (WHERE a.valid_from > o.version_at) AS next_from,
                           coalesce(bool_or(a.row_hash = o.h OR a.row_hash = o.h_md5), false) AS seen
                    FROM _vold o LEFT JOIN {table} a ON a.source = ? AND a.{id_col} = o.rid GROUP BY o.rid)
                SELECT o.rid, ?, p.last_seq + 1, coalesce(o.version_at, CAST(? AS TIMESTAMPTZ)),
                       coalesce(p.next_from, c.version_at, CAST(? AS TIMESTAMPTZ)), ?, ?, o.h, {_kept(kind, 'o')}
                FROM _vold o JOIN prev p USING (rid) LEFT JOIN {core} c ON c.source = ? AND c.{id_col} = o.rid
                WHERE NOT p.seen""",
            [src.name, src.name, load_time, load_time, load_id, load_id, src.name],
        )
    if src.update_mode == "replace_window":  # records a replaced day dropped: their open version ends
        con.execute(
            f"""UPDATE {table} SET valid_to = coalesce((SELECT max(version_at) FROM _final),
                                                       CAST(? AS TIMESTAMPTZ)), ended_load_id = ?
                WHERE source = ? AND ended_load_id IS NULL
                  AND {id_col} NOT IN (SELECT {id_col} FROM {core} WHERE source = ?)""",
            [load_time, load_id, src.name, src.name],
        )
    for t in ("_vchg", "_vold"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return con.execute(f"SELECT count(*) FROM {table} WHERE source = ?", [src.name]).fetchone()[0] - before


def known_at_instant(text: str) -> datetime:
    """`sara query --as-known-at`: a date is the end of that day (UTC); a date and time is that instant (UTC
    unless it carries an offset). ValueError names what was given."""
    from datetime import UTC, date, time, timedelta

    text = text.strip()
    try:
        if len(text) == 10:
            d = date.fromisoformat(text)
            return datetime.combine(d, time(), UTC) + timedelta(days=1) - timedelta(microseconds=1)
        t = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--as-known-at {text!r}: give a date (2026-11-18) or a date and time "
                         "(2026-11-18T10:00:00, UTC unless an offset is given)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def define_known_at(con: duckdb.DuckDBPyConnection, ts: datetime) -> None:
    """Session views `calls` and `incidents`: the records as known at `ts` (core.calls_as_known_at /
    core.incidents_as_known_at), with the fields the history keeps. Works on a read-only connection. A warehouse
    written before the history existed has no such macros: a ValueError says so."""
    have = con.execute("SELECT count(*) FROM duckdb_functions() WHERE schema_name = 'core' "
                       "AND function_name IN ('calls_as_known_at', 'incidents_as_known_at')").fetchone()[0]
    if have < 2:
        raise ValueError("this warehouse has no version history yet (it was written by an earlier version of "
                         "sara): run `sara run` once, and the nights from then on can be queried --as-known-at")
    con.execute("CREATE OR REPLACE TEMP TABLE _known_at (ts TIMESTAMPTZ)")
    con.execute("INSERT INTO _known_at VALUES (?)", [ts])
    for name in ("calls", "incidents"):
        con.execute(f"CREATE OR REPLACE TEMP VIEW {qident(name)} AS "
                    f"SELECT * FROM core.{name}_as_known_at((SELECT ts FROM _known_at))")


def changes_last_night(con: duckdb.DuckDBPyConnection):
    """`sara status`: records changed by the loads of the last published night, per dataset and kind of change:
    from marts.changes (with the late arrivals) when the marts have it, else from core.version_changes (no late
    arrivals); no rows on a warehouse made before the history."""
    from transforms.warehouse.sqlutil import relation_exists
    from transforms.warehouse.status import Rows

    last_run = """SELECT run_id FROM meta.runs WHERE status IN ('ok', 'partial') ORDER BY started_at DESC LIMIT 1"""
    if relation_exists(con, "marts", "changes"):
        cur = con.execute(f"""SELECT dataset, kind AS change, count(DISTINCT (source, record_id)) AS records
                              FROM marts.changes WHERE run_id = ({last_run}) GROUP BY ALL ORDER BY 1, 2""")
    elif relation_exists(con, "core", "version_changes"):
        cur = con.execute(f"""SELECT record_kind || 's' AS dataset, change,
                                     count(DISTINCT (source, record_id)) AS records
                              FROM core.version_changes WHERE load_id IN (
                                SELECT load_id FROM meta.loads WHERE run_id = ({last_run}))
                              GROUP BY ALL ORDER BY 1, 2""")
    else:
        return Rows(["dataset", "change", "records"], [])
    return Rows([d[0] for d in cur.description], cur.fetchall())
