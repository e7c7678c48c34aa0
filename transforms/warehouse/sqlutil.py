"""Small helpers for building SQL safely: identifiers are quoted, values are bound as parameters."""

from __future__ import annotations

import re
from typing import Any


def qident(name: str) -> str:
    """Quote an identifier for DuckDB (double quotes, embedded quotes doubled)."""
    return '"' + str(name).replace('"', '""') + '"'


def qstr(value: str) -> str:
    """A SQL string literal, for the few statements that cannot bind parameters (COMMENT ON)."""
    return "'" + str(value).replace("'", "''") + "'"


class Params:
    """Collects bound values while a query is built; `p(value)` returns its numbered placeholder ($n),
    so the text order of placeholders never has to match the order values were added."""

    def __init__(self) -> None:
        self.values: list[Any] = []

    def __call__(self, value: Any) -> str:
        self.values.append(value)
        return f"${len(self.values)}"


def relation_exists(con, schema: str, name: str, database: str | None = None) -> bool:
    """Whether table or view schema.name exists in `database` (default: the connection's own database, so
    a file ATTACHed beside it is never mistaken for it)."""
    return bool(con.execute(
        "SELECT count(*) FROM information_schema.tables WHERE table_catalog = coalesce(?, current_database()) "
        "AND table_schema = ? AND table_name = ?", [database, schema, name]).fetchone()[0])


def relation_columns(con, schema: str, name: str, database: str | None = None) -> list[str]:
    """Column names of schema.name in `database` (default: the connection's own), in table order."""
    return [r[0] for r in con.execute(
        "SELECT column_name FROM duckdb_columns() WHERE database_name = coalesce(?, current_database()) "
        "AND schema_name = ? AND table_name = ? ORDER BY column_index", [database, schema, name]).fetchall()]


def relation_comments(con, schema: str, name: str, database: str | None = None) -> dict[str, str]:
    """{column: comment} of the commented columns of schema.name in `database` (default: the connection's own)."""
    return dict(con.execute(
        "SELECT column_name, comment FROM duckdb_columns() WHERE database_name = coalesce(?, current_database()) "
        "AND schema_name = ? AND table_name = ? AND comment IS NOT NULL", [database, schema, name]).fetchall())


def raw_column_name(col: str) -> str:
    """The core column that keeps an unmapped source column: raw_<name>, lower case, [a-z0-9_] only."""
    return "raw_" + (re.sub(r"[^a-z0-9]+", "_", col.lower()).strip("_") or "col")


def set_variables(con, **values: Any) -> None:
    """Bind each value to a session variable of that name, for SQL files that read it with getvariable()."""
    for name, value in values.items():
        con.execute(f"SET VARIABLE {qident(name)} = ?", [value])
