"""Run the SQL models of sql/marts/: bind their variables, execute the file.

A model reads its parameters with `getvariable('name')`; `run_model` and `read_model` set each one with
`SET VARIABLE name = ?` and a bound value (never pasted into the text) and reset them afterwards, so a model
never sees a value left by another. `run_model` executes a file that creates marts (tables, views, comments);
`read_model` executes a file that is one query (the inputs of the Python statistics, sql/marts/inputs/)
and returns its rows as a Polars frame.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import duckdb
import polars as pl

from transforms.warehouse.db import SQL_DIR
from transforms.warehouse.sqlutil import qident

MODELS_DIR = SQL_DIR / "marts"
_INCLUDE = re.compile(r"/\*\{model ([A-Za-z0-9_/]+)\}\*/")


def model_text(name: str, fragments: dict[str, str] | None = None) -> str:
    """The text of sql/marts/<name>.sql (name may hold a sub-folder: 'inputs/grid_events'), each
    `/*{model other}*/` marker replaced by the query of sql/marts/<other>.sql (a model the file builds on, so
    the file says what it reads), then each `/*{key}*/` marker by its fragment: SQL the caller wrote from
    integers and names it checked (columns whose number comes from config), or another model's query
    (`model_query`), never from a value a variable could bind."""
    text = (MODELS_DIR / f"{name}.sql").read_text(encoding="utf-8")
    text = _INCLUDE.sub(lambda m: model_query(m.group(1)), text)
    for key, sql in (fragments or {}).items():
        marker = f"/*{{{key}}}*/"
        if text.count(marker) != 1:
            raise ValueError(f"sql/marts/{name}.sql: expected the marker {marker} once")
        text = text.replace(marker, sql)
    return text


def model_query(name: str) -> str:
    """The query of sql/marts/<name>.sql without its closing semicolon, to stand in another model's marker."""
    return model_text(name).rstrip().rstrip(";")


@contextmanager
def _bound(con: duckdb.DuckDBPyConnection, variables: dict[str, Any]) -> Iterator[None]:
    for key, value in variables.items():
        con.execute(f"SET VARIABLE {qident(key)} = ?", [value])
    try:
        yield
    finally:
        for key in variables:
            con.execute(f"RESET VARIABLE {qident(key)}")


def run_model(con: duckdb.DuckDBPyConnection, name: str, fragments: dict[str, str] | None = None,
              **variables: Any) -> None:
    """Execute sql/marts/<name>.sql with its variables bound (and its fragments in place: model_text)."""
    with _bound(con, variables):
        con.execute(model_text(name, fragments))


def read_model(con: duckdb.DuckDBPyConnection, name: str, fragments: dict[str, str] | None = None,
               **variables: Any) -> pl.DataFrame:
    """The rows of the query in sql/marts/<name>.sql, its variables bound (and its fragments in place:
    model_text), as a Polars frame."""
    with _bound(con, variables):
        return con.execute(model_text(name, fragments)).pl()


def insert_model(con: duckdb.DuckDBPyConnection, table: str, cols: list[str], name: str, **variables: Any) -> None:
    """Append the rows of the query in sql/marts/<name>.sql, its variables bound, to `table` (already quoted),
    column by column name."""
    names = ", ".join(qident(c) for c in cols)
    with _bound(con, variables):
        con.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM ({model_query(name)})")
