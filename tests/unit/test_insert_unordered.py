"""normalize.insert_unordered: the merge's INSERT runs without insertion order, and the database's setting is back
as it was afterwards, also when the INSERT fails. The setting is global to the database: the CSV reader
(readers.py) numbers a file's rows by rowid and needs insertion order on."""

from __future__ import annotations

import duckdb
import pytest

from transforms.warehouse.normalize import insert_unordered


def _setting(con: duckdb.DuckDBPyConnection) -> bool:
    return con.execute("SELECT current_setting('preserve_insertion_order')").fetchone()[0]


def test_rows_inserted_and_setting_restored():
    con = duckdb.connect()
    con.execute("CREATE TABLE k AS SELECT range AS id, range % 7 AS g FROM range(50000)")
    con.execute("CREATE TABLE names AS SELECT range AS g, 'g' || range AS name FROM range(7)")
    con.execute("CREATE TABLE out (id BIGINT, name VARCHAR)")
    assert _setting(con) is True
    insert_unordered(con, "INSERT INTO out SELECT k.id, n.name FROM k LEFT JOIN names n USING (g)")
    assert _setting(con) is True
    # every row once, with its own lookup value (the order in the table is not part of the contract)
    assert con.execute("SELECT count(*), count(DISTINCT id), min(id), max(id) FROM out").fetchone() == (
        50000, 50000, 0, 49999)
    assert con.execute("SELECT count(*) FROM out WHERE name <> 'g' || (id % 7)").fetchone()[0] == 0


def test_setting_restored_after_a_failed_insert_and_kept_when_off():
    con = duckdb.connect()
    con.execute("CREATE TABLE out (id BIGINT NOT NULL)")
    with pytest.raises(duckdb.ConstraintException):
        insert_unordered(con, "INSERT INTO out SELECT NULL")
    assert _setting(con) is True
    assert con.execute("SELECT count(*) FROM out").fetchone()[0] == 0
    con.execute("SET preserve_insertion_order = false")  # a caller that had it off keeps it off
    insert_unordered(con, "INSERT INTO out VALUES (1)")
    assert _setting(con) is False
