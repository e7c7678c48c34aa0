"""Data dictionaries, as Markdown.

- `data_dictionary(con)`: the warehouse's, from the COMMENTs stored on every table, view and column of every
  schema (meta, raw, core, marts) (`sara docs`).
- `extract_dictionary(policy, dataset)`: a public extract's (`sara publish` writes it beside the files): the
  published columns, whose meanings are here (`DESCRIPTIONS`), and how the rows are protected.

They document different things (the warehouse an analyst queries, the files the public downloads), so they
are two functions; both print their columns with `markdown_table`, as does the GIS export's Shapefile
field-name README.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import duckdb

from transforms.config.publish import PublishPolicy

# what each column of a public extract means (a column not listed is "as in the warehouse")
DESCRIPTIONS: dict[str, str] = {
    "call_id": "the call id from the CAD source (unique per source)",
    "incident_id": "the incident (report) id from the RMS source",
    "agency": "agency code",
    "source": "source feed name",
    "event_hour": "the hour the call was received / the incident occurred, rounded DOWN to the hour, local "
                  "time with its UTC offset (ISO 8601, e.g. 2024-03-05T14:00:00-08:00)",
    "call_type": "call type as dispatched (final), decoded",
    "call_type_initial": "call type as first entered",
    "call_type_code": "call type code from the CAD source",
    "call_category": "sara call category (crosswalk)",
    "priority": "call priority as in the source",
    "priority_level": "call priority as a number (1 = most urgent)",
    "disposition": "how the call was closed",
    "disposition_category": "sara disposition category",
    "origin": "how the call came in (phone, on-view, ...)",
    "self_initiated": "officer-initiated (on-view) call",
    "offense": "most serious offense, decoded",
    "offense_code": "offense code from the RMS source",
    "offense_category": "sara offense category (crosswalk)",
    "crime_against": "Person, Property or Society (NIBRS)",
    "n_offenses": "number of offenses in the incident",
    "juvenile_flag": "the source marks a juvenile involved",
    "address_block": "block-level address, e.g. 1700 BLOCK JERROLD AVE (house number generalized to the "
                     "hundred block), or an intersection of two streets, e.g. 3RD ST / ELM ST; null for sensitive "
                     "rows, rows whose address is neither (masking_reason unparsed_address) and rows without one",
    "beat": "police beat; null for sensitive rows",
    "district": "police district; kept for sensitive rows when sensitive_location = district",
    "lon": "longitude (EPSG:4326) of the SNAPPED point, never the exact location; null for sensitive and "
           "unlocated rows",
    "lat": "latitude (EPSG:4326) of the SNAPPED point, never the exact location; null for sensitive and "
           "unlocated rows",
    "masking_reason": "why the location was generalized, reasons joined with '; ' "
                      "(sensitive_category:<category>, sensitive_type:<type, or the column name when that column is "
                      "not published>, juvenile_flag, unmapped_code: the code is not in the crosswalk or has no "
                      "category, unparsed_address: the address is not a block or an intersection); null otherwise",
    "time_precision": "exact, date_only or unknown_time (time of day unknown)",
    "response_s": "seconds from received to first unit on scene",
    "is_located": "the source location could be geocoded inside the agency area",
}


def markdown_table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> list[str]:
    """The lines of a Markdown table; a `|` inside a cell is escaped."""
    def cell(v: object) -> str:
        return str(v).replace("|", "\\|")

    return (["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
            + ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows])


SCHEMAS = ("meta", "raw", "core", "marts")


def data_dictionary(con: duckdb.DuckDBPyConnection, schemas: tuple[str, ...] = SCHEMAS) -> str:
    """The warehouse data dictionary: every table and view of `schemas` (schema.table, its comment), then each
    of its columns with its type and COMMENT. Every comment is stored in the file (a view's columns too), so
    the dictionary prints them as they are; tests/integration/test_comments.py fails on any one missing."""
    order = {s: i for i, s in enumerate(schemas)}
    marks = ", ".join("?" for _ in schemas)
    rels = con.execute(
        f"""SELECT schema_name, table_name, 'table', comment FROM duckdb_tables()
            WHERE database_name = current_database() AND schema_name IN ({marks})
            UNION ALL
            SELECT schema_name, view_name, 'view', comment FROM duckdb_views()
            WHERE database_name = current_database() AND NOT internal AND schema_name IN ({marks})""",
        list(schemas) * 2,
    ).fetchall()
    rels.sort(key=lambda r: (order[r[0]], r[1]))
    out = ["# sara warehouse data dictionary", "",
           "Every timestamp is stored in UTC (TIMESTAMPTZ); a column whose name ends in `_local` (TIMESTAMP) is the "
           "same time in the agency's zone; dates are local dates. x/y are metres in the agency analysis CRS.", ""]
    for schema, name, kind, comment in rels:
        out += [f"## {schema}.{name}", "", ("(view) " if kind == "view" else "") + (comment or "(no description)"),
                ""]
        cols = con.execute(
            """SELECT column_name, data_type, comment FROM duckdb_columns()
               WHERE database_name = current_database() AND schema_name = ? AND table_name = ?
               ORDER BY column_index""",
            [schema, name],
        ).fetchall()
        out += markdown_table(["column", "type", "description"],
                              [(col, dtype, (ccomment or "").replace("\n", " ")) for col, dtype, ccomment in cols])
        out.append("")
    return "\n".join(out)


def extract_dictionary(policy: PublishPolicy, dataset: str, extra_notes: Sequence[str] = ()) -> str:
    """The data dictionary of a public extract (`<name>_dictionary.md`): every published column and how the
    rows are protected."""
    cols = policy.allowlist(dataset)
    safe = policy.safe_unmapped_codes.get(dataset, [])
    loc = ("generalized to the district (district kept; block, beat, lon and lat null)"
           if policy.sensitive_location == "district" else "suppressed (district, block, beat, lon and lat null)")
    snap = (f"the centre of the {policy.grid_cell_m:g} m grid cell (cells aligned on the origin of the agency's "
            f"analysis CRS) containing the point" if policy.coordinate_snap == "grid" else
            f"the mean of the block's points (blocks with fewer than {policy.k_min} distinct points use the "
            f"centre of their {policy.grid_cell_m:g} m grid cell)")
    lines = [f"# Public extract: {dataset}", ""]
    lines += markdown_table(["column", "description"], [
        (c, DESCRIPTIONS.get(c, "published as in the warehouse (see sql/schema.sql)")) for c in cols])
    lines += ["", "## How the data are protected", "",
              "- Only the columns above are published; caller names, phone numbers, narratives, full addresses "
              "and exact coordinates never are.",
              "- Times are rounded down to the hour, local time with the UTC offset.",
              f"- Coordinates are never the exact location: each point is {snap}, converted to WGS 84 "
              "(EPSG:4326).",
              f"- Sensitive rows have their location {loc}. Sensitive means the category is one of: "
              + ", ".join(policy.sensitive_categories)
              + "; or a word of the call type / offense starts with one of: " + ", ".join(policy.sensitive_type_patterns)
              + "; or the source flags a juvenile; or the code is missing from the crosswalk or has no category "
              "(`unmapped_code`: an unmapped code may be anything, so it is treated as sensitive"
              + (f", except these codes listed safe: {', '.join(safe)}" if safe else "") + "). "
              "`masking_reason` says which rule applied.",
              "- The published address is a hundred block (`1200 BLOCK ELM ST`) or an intersection of two streets "
              "(`3RD ST / ELM ST`); the only numbers in it are block numbers, ordinal street names (`21ST AVE`) "
              "and route numbers (`HWY 101`). Any other address is not published: the row keeps only its "
              "district (`unparsed_address`).",
              "- Void records are left out.",
              f"- Published counts blank (null, suppressed = true) every cell with fewer than {policy.k_min} rows.",
              "- GeoJSON rows with no published location have a null geometry."]
    if extra_notes:
        lines += ["", "## Notes", ""] + [f"- {n}" for n in extra_notes]
    return "\n".join(lines) + "\n"
