"""How the sections read the warehouse: read-only queries with bound values, and what a section needs first.

A section asks for its table and columns with `require`; when they are not there (an older warehouse, a mart
not built yet) it raises `Missing`, and the page shows a short note instead of the section.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

import duckdb

from transforms.config import Settings
from transforms.outputs.report.markup import Missing
from transforms.warehouse.sqlutil import qident


class Ctx:
    """What every section gets: the connection, the settings, the as-of date and the agencies' names."""

    def __init__(self, con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date):
        self.con, self.settings, self.as_of = con, settings, as_of
        self.origin = settings.sara.analysis.default_origin
        self.names = {k: a.name for k, a in settings.sara.agencies.items()}

    def name(self, agency: object) -> str:
        return self.names.get(str(agency), str(agency))


def qtable(qualified: str) -> str:
    """`schema.table` with both parts quoted."""
    return ".".join(qident(part) for part in qualified.split("."))


def qcols(cols: Sequence[str]) -> str:
    """A quoted column list for SELECT."""
    return ", ".join(qident(c) for c in cols)


def table_columns(con: duckdb.DuckDBPyConnection, qualified: str) -> list[str]:
    """The columns of `schema.table` in order; empty when the table does not exist."""
    schema, table = qualified.split(".")
    rows = con.execute(
        "SELECT column_name FROM information_schema.columns WHERE table_schema = ? AND table_name = ? "
        "ORDER BY ordinal_position", [schema, table]).fetchall()
    return [r[0] for r in rows]


def require(con: duckdb.DuckDBPyConnection, qualified: str, cols: Sequence[str] = ()) -> list[str]:
    """The table's columns; Missing when the table or one of `cols` is not there."""
    have = table_columns(con, qualified)
    if not have:
        raise Missing(f"{qualified} is not in the warehouse")
    missing = [c for c in cols if c not in have]
    if missing:
        raise Missing(f"{qualified} has no column {', '.join(missing)}")
    return have


def fetch(con: duckdb.DuckDBPyConnection, sql: str, params: Sequence[object] = ()) -> list[dict]:
    """Rows of a query as dicts; values are bound from `params`."""
    cur = con.execute(sql, list(params))
    names = [d[0] for d in cur.description]
    return [dict(zip(names, r, strict=True)) for r in cur.fetchall()]


def pick(available: Sequence[object], preferred: Sequence[object]) -> object | None:
    """The first of `preferred` that is available, else the first available."""
    for p in preferred:
        if p in available:
            return p
    return available[0] if available else None


def nearest(available: Sequence[int], target: int) -> int | None:
    """The available value closest to target (the smaller one on a tie)."""
    return min(available, key=lambda w: (abs(w - target), w)) if available else None
