"""Settle a big load before its night is published, so that the next nights do not pay for it.

DuckDB stores a table as row groups of up to ROW_GROUP_ROWS rows. A big parallel insert (a history extract,
a rebuild) leaves some of them partly filled, and DuckDB merges those only on a checkpoint that writes
something, a bounded number per checkpoint. Left alone, that merge lands on the checkpoint of the first small
nights after the load: bench/big_city.py measured 13.5 s of night 1's publish at 2M calls (16.5 s over nights
1-3 as is, 5.3 s settled; bench/RESULTS.md "Big city").

The rule (issue 16, target 4): when the night read at least SETTLE_MIN_ROWS rows from its files, the flow
checkpoints the build file and then rewrites a one-row table and checkpoints again until the row-group count
of the tables the night wrote stops falling. The big night pays the merge once, before its publish; a
steady-state night (a day's delta, far below the threshold) does nothing here.

The threshold: on duckdb 1.5.5 with 2 threads, 300,000 rows left no partly filled row group after the first
checkpoint and 600,000 rows left one (tests/integration/test_settle_after_load.py loads 640,000); four row
groups' worth is below the second and costs a steady night nothing. A settle with nothing to merge costs one
checkpoint of a one-row table.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from transforms.warehouse.sqlutil import qident, qstr, relation_exists

ROW_GROUP_ROWS = 122_880  # DuckDB's default row-group size (duckdb 1.5.5)
SETTLE_MIN_ROWS = 4 * ROW_GROUP_ROWS  # rows read by one night from its files, every source together
MAX_ROUNDS = 8
_TICK = "meta._settle_tick"


@dataclass
class Settled:
    rows_read: int  # what the night read from its files (the trigger)
    rounds: int  # checkpoints after the first
    row_groups_before: int  # of the settled tables, after the first checkpoint
    row_groups_after: int


def night_rows_read(con: duckdb.DuckDBPyConnection, run_id: str) -> int:
    """Rows the night read from its files (meta.loads of this run, every source)."""
    return int(con.execute("SELECT coalesce(sum(rows_read), 0) FROM meta.loads WHERE run_id = ?",
                           [run_id]).fetchone()[0])


def loaded_tables(con: duckdb.DuckDBPyConnection, sources: list[str]) -> list[str]:
    """The tables a load writes: raw.<source> of each source, core's event tables and the quarantine."""
    out = [f"raw.{qident(s)}" for s in sources if relation_exists(con, "raw", s)]
    return out + [t for t in ("core.calls", "core.incidents", "core.offenses", "core.quarantine")
                  if relation_exists(con, *t.split("."))]


def row_groups(con: duckdb.DuckDBPyConnection, tables: list[str]) -> int:
    """Row groups of the tables, as DuckDB stores them (persistent segments only: call after a checkpoint)."""
    return sum(int(con.execute(f"SELECT count(DISTINCT row_group_id) FROM pragma_storage_info({qstr(t)})")
                   .fetchone()[0]) for t in tables)


def settle(con: duckdb.DuckDBPyConnection, tables: list[str], max_rounds: int = MAX_ROUNDS) -> Settled:
    """Checkpoint, then rewrite a one-row table and checkpoint until the tables' row-group count stops falling
    (at most max_rounds). The one-row table is dropped at the end (the publish's checkpoint writes the drop)."""
    con.execute("CHECKPOINT")
    first = n = row_groups(con, tables)
    rounds = 0
    while rounds < max_rounds:
        rounds += 1
        con.execute(f"CREATE OR REPLACE TABLE {_TICK} AS SELECT ?::INTEGER AS round", [rounds])
        con.execute("CHECKPOINT")
        m = row_groups(con, tables)
        if m >= n:
            break
        n = m
    con.execute(f"DROP TABLE IF EXISTS {_TICK}")
    return Settled(rows_read=0, rounds=rounds, row_groups_before=first, row_groups_after=n)


def settle_if_big(con: duckdb.DuckDBPyConnection, run_id: str, sources: list[str],
                  min_rows: int = SETTLE_MIN_ROWS) -> Settled | None:
    """The flow's rule: settle the loaded tables when the night read at least min_rows rows; else None."""
    rows = night_rows_read(con, run_id)
    if rows < min_rows:
        return None
    out = settle(con, loaded_tables(con, sources))
    out.rows_read = rows
    return out
