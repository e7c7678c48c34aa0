"""Small helpers for building SQL safely: identifiers are quoted, values are bound as parameters."""

from __future__ import annotations

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
