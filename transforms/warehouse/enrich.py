"""The enrichment of one load that is the same for every source: crosswalks, addresses, locations, and the
static SQL in sql/core/ that turns the load's records into core rows.

- Crosswalk CSVs -> the six session tables of sql/core/crosswalks.sql (always there; empty when the
  source has no such crosswalk). A crosswalk without a required column, or with a code listed twice
  (after trimming and upper-casing), fails the load with the file and the reason.
- Addresses and coordinates are looked up on their DISTINCT values in Python (transforms.stats.address;
  projection, area test and polygon tags in geo.py), so the cost grows with the number of places.
- sql/core/offense_rows.sql classifies offence rows; sql/core/calls.sql and incidents.sql define the view
  `_final` the merge inserts from. Their values are bound as variables (getvariable()), never pasted.
"""

from __future__ import annotations

import duckdb
import polars as pl

from transforms.config import Settings, SourceConfig
from transforms.stats import address as addr
from transforms.warehouse import natures
from transforms.warehouse.db import SQL_DIR
from transforms.warehouse.geo import locate_points
from transforms.warehouse.sqlutil import qident, set_variables

CORE_SQL = SQL_DIR / "core"

# crosswalk key in a source's YAML -> (table, columns it must have, columns it may have)
CROSSWALKS: dict[str, tuple[str, list[str], list[str]]] = {
    "call_types": ("_xw_call_types", ["call_type", "call_category"], ["origin", "call_nature", "nature_status"]),
    "dispositions": ("_xw_dispositions", ["disposition_category"], ["countable", "void"]),
    "priorities": ("_xw_priorities", ["priority_level"], []),
    "offenses": ("_xw_offenses", ["offense", "offense_category", "crime_against", "severity_rank"], []),
    "beats": ("_xw_beats", ["beat"], []),
    "districts": ("_xw_districts", ["district"], []),
}
TEMP_TABLES = ("_xw_csv", *(table for table, _, _ in CROSSWALKS.values()), "_xw_natures", "_addr_lookup",
               "_loc_lookup", "_offrows")


def run_core_sql(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute((CORE_SQL / f"{name}.sql").read_text(encoding="utf-8"))


def load_crosswalks(con: duckdb.DuckDBPyConnection, src: SourceConfig, settings: Settings) -> dict[str, bool]:
    """Fill the crosswalk tables from the source's CSVs; returns which crosswalks the source has."""
    run_core_sql(con, "crosswalks")
    configured = src.crosswalks.model_dump()
    has = {}
    for key, (table, required, optional) in CROSSWALKS.items():
        rel = configured[key]
        has[key] = bool(rel)
        if not rel:
            continue
        path = settings.resolve(rel)
        con.execute(
            "CREATE OR REPLACE TEMP TABLE _xw_csv AS SELECT upper(trim(code)) AS _key, * EXCLUDE (code) "
            "FROM read_csv(?, header = true, all_varchar = true)",
            [str(path)],
        )
        have = {r[0] for r in con.execute("DESCRIBE _xw_csv").fetchall()}
        missing = [c for c in required if c not in have]
        if missing:
            raise ValueError(f"{path}: crosswalk is missing column(s) {missing}")
        dups = con.execute("SELECT _key FROM _xw_csv GROUP BY _key HAVING count(*) > 1 LIMIT 3").fetchall()
        if dups:
            raise ValueError(f"{path}: code(s) {[d[0] for d in dups]} listed more than once")
        cols = ", ".join(qident(c) for c in ["_key", *required, *(c for c in optional if c in have)])
        con.execute(f"INSERT INTO {table} BY NAME SELECT {cols} FROM _xw_csv")
    if src.kind == "calls":
        natures.load_natures(con, settings, src, settings.resolve(configured["call_types"])
                             if configured["call_types"] else None)
    return has


def address_lookup(con: duckdb.DuckDBPyConnection, table: str) -> None:
    """Distinct address/premise strings -> cleaned address, block address, premise key."""
    df = con.execute(f"SELECT DISTINCT address FROM {table} WHERE address IS NOT NULL").pl()
    s = df["address"]
    out = pl.DataFrame({
        "address": s,
        "address_clean": addr.clean_address(s),
        "address_block": addr.block_address(s),
    })
    con.register("_addr_lookup_df", out.to_arrow())
    con.execute("CREATE OR REPLACE TEMP TABLE _addr_lookup AS SELECT * FROM _addr_lookup_df")
    con.unregister("_addr_lookup_df")


def location_lookup(con: duckdb.DuckDBPyConnection, table: str, src: SourceConfig, settings: Settings) -> None:
    """Distinct raw coordinate pairs -> location (lon/lat, analysis x/y, area test, beat and district)."""
    pts = con.execute(f"SELECT DISTINCT _x_raw, _y_raw FROM {table}").fetch_arrow_table()
    agency = settings.agency_of(src.name)
    res = locate_points(
        pts.column("_x_raw"),
        pts.column("_y_raw"),
        src_crs=src.coordinates.crs if src.coordinates else "EPSG:4326",
        agency=agency,
        polygons={k: (settings.resolve(v.path), v.field, v.layer) for k, v in src.polygons.items()},
        settings=settings,
    )
    con.register("_loc_df", res)
    con.execute("CREATE OR REPLACE TEMP TABLE _loc_lookup AS SELECT * FROM _loc_df")
    con.unregister("_loc_df")


def classify_offenses(con: duckdb.DuckDBPyConnection, has_offenses: bool) -> None:
    """_offrows: every offence row of the load, classified through the offence crosswalk."""
    set_variables(con, sara_has_offenses=has_offenses)
    run_core_sql(con, "offense_rows")


def interval_variables(src: SourceConfig) -> dict[str, str]:
    """What sql/core/calls.sql needs to know of the source's times to compute intervals: the times whose
    precision is date_only (comma-separated)."""
    return {"sara_date_only_times": ",".join(t for t, s in src.timestamps.items() if s.precision == "date_only")}


def define_final(con: duckdb.DuckDBPyConnection, src: SourceConfig, settings: Settings, load_id: str,
                 has: dict[str, bool]) -> None:
    """The view `_final`: the load's records (`_rec`) as core rows. Looks up the addresses and locations of
    `_rec` first."""
    address_lookup(con, "_rec")
    location_lookup(con, "_rec", src, settings)
    set_variables(con, sara_source=src.name, sara_agency=src.agency, sara_load_id=load_id,
                  sara_location_round_m=float(settings.sara.location_round_m),
                  sara_feed_precision_m=src.geocode.feed_precision_m)
    if src.kind == "calls":
        set_variables(con, sara_has_call_types=has["call_types"], sara_has_dispositions=has["dispositions"],
                      sara_has_priorities=has["priorities"], **interval_variables(src))
    run_core_sql(con, src.kind)
