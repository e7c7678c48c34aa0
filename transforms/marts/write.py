"""The one write path of the marts computed in Python: every such mart is declared (its columns with their
DuckDB types, in order, its comment and its columns' comments), created from that declaration and then
filled, so a mart with no rows still has its full schema and every comment.

Column comments (what `sara docs` prints): a declaration gives its own (`column_comments`); a column it
leaves out that is one of the shared dimensions (agency, dataset, category_group, origin, window_days, ...)
takes the one meaning of SHARED_COLUMNS. `comment_marts` does the same for the tables the SQL models make,
gives each view column the comment of the column it selects, and names the agencies' zones in the comment of
every local-time column (`*_local`, TIMESTAMP): build_all and the scale-out merge call it last.

The rows come as a Polars frame or an Arrow table whose columns are exactly the declared ones (in any
order). Each column is cast to its declared type; a GEOMETRY column is given as WKB. NaN in a DOUBLE column
(a statistic that is undefined, such as a ratio over nothing) is stored as NULL unless the mart keeps NaN.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import duckdb
import polars as pl
import pyarrow as pa

from transforms.warehouse.sqlutil import qident, qstr


@dataclass(frozen=True)
class Mart:
    """A mart table: name (in schema marts), columns as "name TYPE, name TYPE, ...", comment.
    nan_is_null=False keeps NaN in DOUBLE columns as NaN; column_comments: {column: its meaning, unit, zone}
    (a shared dimension column left out takes SHARED_COLUMNS' meaning)."""

    name: str
    schema: str
    comment: str
    nan_is_null: bool = True
    column_comments: Mapping[str, str] = field(default_factory=dict, hash=False, compare=False)

    def __post_init__(self) -> None:
        unknown = sorted(set(self.column_comments) - set(self.names))
        if unknown:
            raise ValueError(f"marts.{self.name}: comments for undeclared column(s) {unknown}")

    @property
    def comments(self) -> dict[str, str]:
        """Each column's comment: its own, else the shared dimension's; a column with neither is left out."""
        out = {}
        for c in self.names:
            text = self.column_comments.get(c) or SHARED_COLUMNS.get(c)
            if text:
                out[c] = text
        return out

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


# the meaning of a column shared by many marts, given once (a mart's own comment for the column wins)
SHARED_COLUMNS: dict[str, str] = {
    "agency": "agency code (config [agencies.<code>])",
    "dataset": "calls (CAD calls for service, core.calls) or incidents (RMS incident reports, core.incidents)",
    "source": "source feed name (config/sources/<source>.yaml)",
    "category_group": "named group of categories of the dataset (marts.category_groups; 'all' = every category)",
    "origin": "origin dimension: all (every event), community (calls from the public), officer "
              "(self-initiated) or unknown (no origin recorded; its own share, never folded in)",
    "unit_type": "kind of spatial unit: grid (square cells of cell_size_m), h3 (H3 hexes at h3_resolution), "
                 "street (centreline segments) or a polygon layer (beat, district, ...)",
    "unit_id": "the unit's id within its unit_type (marts.units): grid 'ix_iy', H3 index, segment id or polygon "
               "name",
    "window_days": "window length in whole local days (agency zone) ending at the agency's as_of (marts.windows)",
    "as_of": "the agency's as_of: the last local date (agency zone) of its windows (marts.periods)",
    "geom": "geometry in the agency's analysis CRS (metres)",
    "event_id": "call_id (calls) or incident_id (incidents) of the event in its source",
    "load_id": "the load (meta.loads.load_id) that wrote this version of the event",
    "local_date": "local date (agency zone) of the event's time",
    "location_key": "groups events at one place: premise name, else full address, else block, else the rounded "
                    "point 'XY <x> <y>' (analysis CRS)",
    "address_block": "block address (e.g. 1700 BLOCK JERROLD AVE) or intersection (A ST / B ST)",
    "x": "easting in the agency's analysis CRS, metres",
    "y": "northing in the agency's analysis CRS, metres",
    "lon": "longitude, WGS 84 (EPSG:4326), degrees",
    "lat": "latitude, WGS 84 (EPSG:4326), degrees",
    "beat": "police beat (core.calls.beat / core.incidents.beat: the feed's own value, else the beat polygon)",
    "district": "police district (the feed's own value, else the district polygon containing the point)",
}

_POLARS = {"VARCHAR": pl.String, "BIGINT": pl.Int64, "INTEGER": pl.Int32, "SMALLINT": pl.Int16, "TINYINT": pl.Int8,
           "DOUBLE": pl.Float64, "BOOLEAN": pl.Boolean, "DATE": pl.Date, "GEOMETRY": pl.Binary}


def create_mart(con: duckdb.DuckDBPyConnection, mart: Mart, replace: bool = True) -> None:
    """marts.<name> with its declared columns and comment, empty (replace=False: only when it is missing)."""
    cols = ", ".join(f"{qident(c)} {t}" for c, t in mart.columns)
    head = "CREATE OR REPLACE TABLE" if replace else "CREATE TABLE IF NOT EXISTS"
    con.execute(f"{head} {mart.table} ({cols})")
    con.execute(f"COMMENT ON TABLE {mart.table} IS {qstr(mart.comment)}")
    comment_columns(con, mart.table, mart.comments)


def comment_columns(con: duckdb.DuckDBPyConnection, relation: str, comments: Mapping[str, str]) -> None:
    """COMMENT ON COLUMN for each {column: text} of `relation` (already quoted: marts."name"); COMMENT ON takes
    no bound value, so the text goes in as a quoted literal."""
    _comment_all(con, [f"COMMENT ON COLUMN {relation}.{qident(col)} IS {qstr(text)}"
                       for col, text in comments.items()])


def _comment_all(con: duckdb.DuckDBPyConnection, statements: list[str]) -> None:
    """Run the COMMENT statements in one transaction (a few times faster than a commit each: 500 took 0.6 s
    against 2.1 s here), or in the caller's when one is open."""
    if not statements:
        return
    # NOTE: DuckDB has no "in a transaction?" call; in autocommit each statement is its own transaction, so two
    # reads of the transaction id differ, and inside a caller's transaction they are the same
    ids = [con.execute("SELECT txid_current()").fetchone()[0] for _ in range(2)]
    own = ids[0] != ids[1]
    if own:
        con.execute("BEGIN TRANSACTION")
    try:
        for st in statements:
            con.execute(st)
    except BaseException:
        if own:
            con.execute("ROLLBACK")
        raise
    if own:
        con.execute("COMMIT")


LOCAL_PREFIX = re.compile(r"^local time, [^:]*: ")


def comment_marts(con: duckdb.DuckDBPyConnection) -> None:
    """The comments every mart gets after it is built, whatever made it (a SQL model or write_mart):

    - a column of a table without a comment, named as a shared dimension: SHARED_COLUMNS' meaning;
    - a column of a view without a comment: the comment of the same-named column of the first mart table or
      view the view's SQL names (`select r.*, u.geom from marts.hotspot_stats ... marts.units`), else the
      shared meaning;
    - a local-time column (name ending in _local, type TIMESTAMP): "local time, <zone>: <what the model says>",
      the zone being the agencies' (marts.agency_zones.timezone), named once when they share it, else per
      agency. Run again (the scale-out merge), it names the zones of the merged file."""
    cols = con.execute(
        """SELECT c.table_name, c.column_name, c.data_type, c.comment, v.sql
           FROM duckdb_columns() c
           LEFT JOIN duckdb_views() v ON v.database_name = c.database_name AND v.schema_name = c.schema_name
                AND v.view_name = c.table_name
           WHERE c.database_name = current_database() AND c.schema_name = 'marts'""").fetchall()
    comments = {(t, c): cm for t, c, _, cm, _ in cols if cm}
    views = {t: sql for t, _, _, _, sql in cols if sql is not None}
    new: dict[tuple[str, str], str] = {}
    for table, col, _, comment, _ in cols:
        if not comment and table not in views and col in SHARED_COLUMNS:
            comments[(table, col)] = new[(table, col)] = SHARED_COLUMNS[col]
    for table, col, _, comment, _ in cols:
        if comment or table not in views:
            continue
        named = re.findall(r"marts\.\"?(\w+)", views[table])
        text = next((comments[(t, col)] for t in named if (t, col) in comments), SHARED_COLUMNS.get(col))
        if text:
            comments[(table, col)] = new[(table, col)] = text
    zones = _zone_words(con)
    for table, col, typ, _, _ in cols:
        text = comments.get((table, col))
        if zones and text and col.endswith("_local") and typ == "TIMESTAMP":
            local = f"local time, {zones}: " + LOCAL_PREFIX.sub("", text)
            if local != text:
                new[(table, col)] = local
    _comment_all(con, [f"COMMENT ON COLUMN marts.{qident(t)}.{qident(c)} IS {qstr(text)}"
                       for (t, c), text in new.items()])


def _zone_words(con: duckdb.DuckDBPyConnection) -> str | None:
    """The agencies' zone, once when they share one ("America/Los_Angeles"), else "the agency's zone (metro
    America/Los_Angeles, chi America/Chicago)"; None without marts.agency_zones."""
    try:
        rows = con.execute("SELECT agency, timezone FROM marts.agency_zones ORDER BY agency").fetchall()
    except duckdb.CatalogException:
        return None
    if not rows:
        return None
    if len({z for _, z in rows}) == 1:
        return rows[0][1]
    return "the agency's zone (" + ", ".join(f"{a} {z}" for a, z in rows) + ")"


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


def create_build_info(con: duckdb.DuckDBPyConnection) -> None:
    """marts.build_info (kept between nights, as marts.event_units), with its comments."""
    con.execute("CREATE TABLE IF NOT EXISTS marts.build_info (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("COMMENT ON TABLE marts.build_info IS 'what the marts kept between nights were built with; "
                "key unit_signature: the settings the units and marts.event_units depend on (a change reassigns "
                "every event); location_days_signature and response_months_signature: the agencies'' zones and "
                "the layout marts.location_days and the response-time months were built with (a change rebuilds "
                "them); repeat_places_state: what marts.repeat_places holds (windows, groups, the loads folded "
                "in, the as_of of each agency); events_state: the zones, core columns, first dates and "
                "placeholder points marts.events was made with; event_units_events: the generation of "
                "marts.events (its state and loads) marts.event_units follows; hotspot_counts_state: the "
                "category groups, windows and generation of marts.events marts.hotspot_count_rows was counted "
                "from; event_days_state: the generation of marts.events marts.event_days was counted from'")
    comment_columns(con, "marts.build_info", {"key": "setting name (unit_signature, location_days_signature, "
                                                     "response_months_signature, repeat_places_state, "
                                                     "events_state, event_units_events, "
                                                     "hotspot_counts_state, event_days_state)",
                                              "value": "its value (a JSON list or object)"})
