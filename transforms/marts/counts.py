"""Tables of counts kept between nights: a night adds its signed changes instead of counting everything again.

A step that keeps counts (marts.hotspot_count_rows, marts.event_days) writes what changed into a temporary table
with the same key columns and a signed n (the events that entered minus those that left), and `apply_delta`
adds it: the rows that exist are updated, the others inserted, and the rows that fall to zero deleted (zeros are
not stored). Counts are integers, so the table equals one counted from scratch when the changes are complete; a
count below zero shows they were not, and the caller then counts from scratch.
"""

from __future__ import annotations

import duckdb

from transforms.warehouse.sqlutil import qident


def apply_delta(con: duckdb.DuckDBPyConnection, table: str, delta: str, keys: list[str]) -> bool:
    """Add the n of the temporary table `delta` to marts.<table> (its column n), matched on `keys` (a null key
    matches a null); returns False when a count fell below zero (the table no longer holds what its state said:
    count it from scratch)."""
    t, d = f"marts.{qident(table)}", qident(delta)
    on = " AND ".join(f"t.{qident(k)} IS NOT DISTINCT FROM d.{qident(k)}" for k in keys)
    con.execute(f"UPDATE {t} AS t SET n = t.n + d.n FROM {d} AS d WHERE {on}")
    con.execute(f"INSERT INTO {t} BY NAME SELECT d.* FROM {d} AS d ANTI JOIN {t} AS t ON {on}")
    con.execute(f"DELETE FROM {t} AS t USING {d} AS d WHERE {on} AND t.n = 0")
    return con.execute(f"SELECT count(*) FROM {t} WHERE n < 0").fetchone()[0] == 0
