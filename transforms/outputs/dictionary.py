"""The data dictionary: the COMMENTs stored in the warehouse, printed as Markdown."""

from __future__ import annotations

import duckdb


def data_dictionary(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = ("meta", "core", "marts")) -> str:
    marks = ", ".join("?" for _ in schemas)
    tables = con.execute(
        f"""SELECT schema_name, table_name, comment FROM duckdb_tables()
            WHERE schema_name IN ({marks}) ORDER BY schema_name, table_name""",
        list(schemas),
    ).fetchall()
    out = ["# sara warehouse data dictionary", "",
           "Every timestamp is stored in UTC (TIMESTAMPTZ); x/y are metres in the agency analysis CRS.", ""]
    for schema, table, comment in tables:
        out += [f"## {schema}.{table}", "", comment or "(no description)", "",
                "| column | type | description |", "|---|---|---|"]
        cols = con.execute(
            """SELECT column_name, data_type, comment FROM duckdb_columns()
               WHERE schema_name = ? AND table_name = ? ORDER BY column_index""",
            [schema, table],
        ).fetchall()
        for name, dtype, ccomment in cols:
            text = (ccomment or "").replace("|", "\\|")
            out.append(f"| {name} | {dtype} | {text} |")
        out.append("")
    return "\n".join(out)
