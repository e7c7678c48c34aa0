"""The version history's row hash (core.call_versions.row_hash, core.incident_versions.row_hash) and its scheme.

The hash: DuckDB's own `hash()` over the canonical fields (HASHED, plus version_at on a feed with its own
updated_at), each cast to its core column's type. It replaced md5 of the fields cast to text (the first scheme,
`md5-text`), which cost most of the history step: the text cast of 50 timestamps, doubles and strings a row.
A null field hashes to a constant of its own (not that of 0 or ''), and `hash(a, b)` folds the fields in order
(multiply-xor), so the same values in other fields give another hash.

DuckDB does not promise that `hash()` stays the same across its versions. So each source's row in
meta.version_hash records the scheme and the fingerprint of the running DuckDB (the hash of a fixed tuple of
every type hashed) that computed its stored hashes, and `migrate` (called by versions.seed at the start of each
load's merge, in the load's transaction) compares them with the running ones. When they differ (a warehouse of the md5 scheme,
which has no row there, or one written under another DuckDB version) the open versions' hashes are computed
again from core.calls / core.incidents, which hold their full current rows, before anything is compared: an
identical re-delivery still adds nothing and a changed record adds one version. This runs in seed(), before
the merge, while core still holds the open versions' rows; once per scheme or DuckDB change.

Scale-out (transforms/warehouse/parts.py): a worker's scratch file gets the source's core and version rows and
its meta.version_hash row, so it migrates only when the published file's hashes are of another scheme; then its
parts carry every version of the source and the new row (else only the versions of the night's loads), so the
build file's hashes are always all of the scheme its meta.version_hash records.

Closed versions cannot be rehashed (their full fields are not kept). They matter only to the rule that a
re-delivered late older version adds nothing when the record already had a version with its content:

    md5-text closed versions   the check computes the md5 hash of the staged stale rows too (a handful a night),
                               for as long as the source has them (meta.version_hash.closed_md5): the rule holds
                               (as long as DuckDB casts the fields to the same text; if not, as below)
    another DuckDB's hash()    cannot be computed: a late re-delivery of an old version that only such a closed
                               version matches is added once more, superseded at arrival. It is never current:
                               core, the figures, core.version_changes and as-known-at are the same; it shows as
                               a late arrival (marts.changes). Accepted: it needs a DuckDB upgrade and a late
                               re-delivery of a version older than the current one.
"""

from __future__ import annotations

import duckdb

from transforms.config import SourceConfig
from transforms.warehouse.sqlutil import qident

SCHEME = "duckdb-hash"
LEGACY = "md5-text"
# the canonical fields whose hash tells versions apart: a fixed list, so a column added to core later does not
# make every record look changed
HASHED = {
    "calls": ("agency", "received_at", "entered_at", "dispatched_at", "enroute_at", "onscene_at", "cleared_at",
              "event_at", "time_precision", "time_issue", "intake_s", "queue_s", "travel_s", "response_s",
              "on_scene_s", "interval_issue", "call_type_code", "call_type", "call_type_initial", "call_category",
              "priority", "priority_level", "disposition", "disposition_category", "origin", "self_initiated",
              "is_countable", "duplicate_of", "linked_to", "is_void", "n_responding_units", "juvenile_flag",
              "address", "address_block", "location_key", "lon", "lat", "x", "y", "is_located", "location_issue",
              "beat", "district", "beat_source", "district_source", "beat_polygon", "district_polygon",
              "geocode_method", "geocode_precision_m", "geocode_source"),
    "incidents": ("agency", "occurred_from", "occurred_to", "reported_at", "event_at", "time_precision",
                  "time_issue", "offense_code", "offense", "offense_category", "crime_against", "n_offenses",
                  "origin", "is_void", "juvenile_flag", "address", "address_block", "location_key", "lon", "lat",
                  "x", "y", "is_located", "location_issue", "beat", "district", "beat_source", "district_source",
                  "beat_polygon", "district_polygon", "geocode_method", "geocode_precision_m", "geocode_source"),
}
# one value of every type the hashed fields have, and a null: its hash changes when DuckDB's hash() does
_PROBE = ("CAST('sara ü 1' AS VARCHAR)", "CAST(-7 AS INTEGER)", "CAST(-1234.5678 AS DOUBLE)",
          "CAST('2024-06-01 12:34:56.789+00' AS TIMESTAMPTZ)", "CAST(true AS BOOLEAN)", "CAST(NULL AS VARCHAR)")


def _cols(src: SourceConfig) -> tuple[str, ...]:
    return (*HASHED[src.kind], *(("version_at",) if "updated_at" in src.timestamps else ()))


def core_types(con: duckdb.DuckDBPyConnection, kind: str) -> dict[str, str]:
    """The column types of core.calls / core.incidents, which the hashed fields are cast to."""
    return {r[0]: r[1] for r in con.execute(f"DESCRIBE core.{kind}").fetchall()}


def hash_sql(src: SourceConfig, alias: str, types: dict[str, str], have: set[str] | None = None) -> str:
    """The version hash of a core row (or a staged `_final` row, whose missing columns are null, as the merge
    writes them): DuckDB's hash() of the hashed fields, each cast to its core type (hash() tells an INTEGER -5
    from a BIGINT -5). A feed with its own version time (an updated_at column) says a new time is a new version,
    whatever changed: version_at is hashed too. A feed ordered by extract time re-sends unchanged records with a
    newer time: there the content alone counts."""
    fields = (f"CAST({f'{alias}.{qident(c)}' if have is None or c in have else 'NULL'} AS {types[c]})"
              for c in _cols(src))
    return f"hash({', '.join(fields)})"


def md5_sql(src: SourceConfig, alias: str, have: set[str] | None = None) -> str:
    """The first scheme's hash (md5-text), as it was written: md5 of the fields as text, lower 64 bits."""
    fields = (f"{alias}.{qident(c)}" if have is None or c in have else "NULL" for c in _cols(src))
    return f"md5_number_lower(CAST(row({', '.join(fields)}) AS VARCHAR))"


def fingerprint(con: duckdb.DuckDBPyConnection, scheme: str = SCHEME) -> int:
    """The running DuckDB's hash of the fixed probe tuple under `scheme`."""
    probe = ", ".join(_PROBE)
    expr = f"hash({probe})" if scheme == SCHEME else f"md5_number_lower(CAST(row({probe}) AS VARCHAR))"
    return con.execute(f"SELECT {expr}").fetchone()[0]


def stored(con: duckdb.DuckDBPyConnection, source: str) -> tuple[str, int | None, bool] | None:
    """(scheme, fingerprint, closed_md5) of a source's stored hashes; None when it has no row."""
    return con.execute("SELECT scheme, fingerprint, closed_md5 FROM meta.version_hash WHERE source = ?",
                       [source]).fetchone()


def _write(con: duckdb.DuckDBPyConnection, source: str, fp: int, closed_md5: bool) -> None:
    con.execute("DELETE FROM meta.version_hash WHERE source = ?", [source])
    con.execute("INSERT INTO meta.version_hash VALUES (?, ?, ?, ?, now())", [source, SCHEME, fp, closed_md5])


def migrate(con: duckdb.DuckDBPyConnection, src: SourceConfig, table: str, id_col: str) -> bool:
    """Make the source's stored open hashes those of the running scheme (see the module docstring); record it.
    Returns closed_md5: whether closed versions may still carry md5-text hashes."""
    fp = fingerprint(con)
    row = stored(con, src.name)
    has_versions = con.execute(f"SELECT count(*) > 0 FROM {table} WHERE source = ?", [src.name]).fetchone()[0]
    if row is None:  # a source new to the history, or one written by the md5-text scheme (no row then)
        row = (LEGACY, None, has_versions)
    scheme, old_fp, closed_md5 = row
    if (scheme, old_fp) == (SCHEME, fp):
        return closed_md5
    if has_versions:  # only the hashes that differ are written (none when only the record is missing)
        h = hash_sql(src, "c", core_types(con, src.kind))
        con.execute(
            f"""UPDATE {table} AS v SET row_hash = {h}
                FROM core.{src.kind} c
                WHERE v.source = ? AND v.ended_load_id IS NULL AND c.source = v.source AND c.{id_col} = v.{id_col}
                  AND v.row_hash IS DISTINCT FROM {h}""",
            [src.name],
        )
    _write(con, src.name, fp, bool(closed_md5))
    return bool(closed_md5)
