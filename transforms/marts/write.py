"""The one write path of the marts computed in Python: every such mart is declared (its columns with their
DuckDB types, in order, and its comment), created from that declaration and then filled, so a mart with no
rows still has its full schema.

The rows come as a Polars frame or an Arrow table whose columns are exactly the declared ones (in any
order). Each column is cast to its declared type; a GEOMETRY column is given as WKB. NaN in a DOUBLE column
(a statistic that is undefined, such as a ratio over nothing) is stored as NULL unless the mart keeps NaN.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb
import polars as pl
import pyarrow as pa

from transforms.warehouse.sqlutil import qident, qstr


@dataclass(frozen=True)
class Mart:
    """A mart table: name (in schema marts), columns as "name TYPE, name TYPE, ...", comment.
    nan_is_null=False keeps NaN in DOUBLE columns as NaN."""

    name: str
    schema: str
    comment: str
    nan_is_null: bool = True

    @property
    def columns(self) -> list[tuple[str, str]]:
        out = []
        for part in self.schema.split(","):
            col, typ = part.strip().split(None, 1)
            out.append((col, typ.strip()))
        return out

    @property
    def names(self) -> list[str]:
        return [c for c, _ in self.columns]

    @property
    def table(self) -> str:
        return f"marts.{qident(self.name)}"

    def frame(self, rows: list) -> pl.DataFrame:
        """Rows (dicts, or tuples in column order) as a Polars frame of the declared columns and types."""
        schema = {c: _POLARS[t] for c, t in self.columns}
        if rows and not isinstance(rows[0], dict):
            return pl.DataFrame(rows, schema=schema, orient="row", strict=False)
        return pl.DataFrame(rows, schema=schema, strict=False)


_POLARS = {"VARCHAR": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "SMALLINT": pl.Int16, "TINYINT": pl.Int8,
           "DOUBLE": pl.Float64, "BOOLEAN": pl.Boolean, "DATE": pl.Date, "GEOMETRY": pl.Binary}


def create_mart(con: duckdb.DuckDBPyConnection, mart: Mart, replace: bool = True) -> None:
    """marts.<name> with its declared columns and comment, empty (replace=False: only when it is missing)."""
    cols = ", ".join(f"{qident(c)} {t}" for c, t in mart.columns)
    head = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    con.execute(f"{head} {mart.table} ({cols})")
    con.execute(f"COMMENT ON TABLE {mart.table} IS {qstr(mart.comment)}")


def _expr(mart: Mart, col: str, typ: str) -> str:
    q = qident(col)
    if typ == "GEOMETRY":
        return f"ST_GeomFromWKB({q})"
    if typ == "DOUBLE" and mart.nan_is_null:
        return f"CAST(CASE WHEN isnan(CAST({q} AS DOUBLE)) THEN NULL ELSE {q} END AS DOUBLE)"
    return f"CAST({q} AS {typ})"


def insert_rows(con: duckdb.DuckDBPyConnection, mart: Mart, rows: pl.DataFrame | pa.Table | None) -> int:
    """Append rows to marts.<name> (which must exist); returns the number of rows."""
    if rows is None or rows.shape[0] == 0:
        return 0
    have = list(rows.columns) if isinstance(rows, pl.DataFrame) else rows.column_names
    if sorted(have) != sorted(mart.names):
        raise ValueError(f"marts.{mart.name}: rows have columns {sorted(have)}, the mart declares "
                         f"{sorted(mart.names)}")
    con.register("_mart_rows", rows.to_arrow() if isinstance(rows, pl.DataFrame) else rows)
    try:
        exprs = ", ".join(_expr(mart, c, t) for c, t in mart.columns)
        con.execute(f"INSERT INTO {mart.table} SELECT {exprs} FROM _mart_rows")
    finally:
        con.unregister("_mart_rows")
    return rows.shape[0]


def write_mart(con: duckdb.DuckDBPyConnection, mart: Mart, rows: pl.DataFrame | pa.Table | None) -> int:
    """marts.<name> created from its declaration and filled with rows; returns the number of rows."""
    create_mart(con, mart)
    return insert_rows(con, mart, rows)
