"""The geocoding hook: after a load of a source with `geocode.enabled` is merged into core, place its rows that
have an address but no usable point, offline, from the agency's own data (README "Geocoding").

`place_unlocated` runs inside the load's transaction, after the merge:
1. todo      the load's rows in core (`load_id`) that are not located and have a cleaned address;
2. history   the agency's located rows with the feed's own point (core.calls and core.incidents, this load
             included): the addresses the geocoder learns from. Points already found to be placeholders
             (marts.placeholder_points, last night's) are left out, so a station does not teach its point to the
             addresses piled on it; geocoded points are left out, so a guess never teaches another;
3. geocode   the geocoder (default: transforms.warehouse.geocode.geocode) returns, per key, x/y in the analysis
             CRS, geocode_method, geocode_precision_m, geocode_source and geocode_status;
4. locate    each placed point goes through the same lookup a feed point does (geo.locate_points: lon/lat, the
             agency-area test, beat and district polygons); a point outside the area is not placed;
5. write     placed rows get x/y/lon/lat, is_located, location_issue null (geocode_method says how the point
             was found), the polygon beat/district where the feed gave none, a rounded-point location_key where
             the row had no key, and the geocode columns; the rest stay unlocated, geocode_status saying why.

Rows are matched on (source, record id, load_id). Every row the hook looks at ends placed or with its reason.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import lru_cache

import duckdb
import polars as pl

from transforms.config import Settings, SourceConfig
from transforms.warehouse.geo import locate_points
from transforms.warehouse.sqlutil import qident, relation_exists

OUTPUT_COLUMNS = ["key", "x", "y", "geocode_method", "geocode_precision_m", "geocode_source", "geocode_status"]
Geocoder = Callable[[pl.DataFrame, pl.DataFrame, object], pl.DataFrame]


@dataclass
class PlaceResult:
    """What the hook did with one load: rows tried, rows placed (per method), rows left (per status)."""

    n_todo: int = 0
    n_placed: int = 0
    by_method: dict[str, int] = field(default_factory=dict)
    not_placed: dict[str, int] = field(default_factory=dict)


@lru_cache(maxsize=8)
def _street_index(path: str, name_field: str, layer: str | None, crs: str):
    """The agency's centrelines as the geocoder's StreetIndex (read once per process and layer)."""
    import geopandas as gpd

    from transforms.warehouse.geocode import StreetIndex

    g = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    return StreetIndex.from_frame(g.to_crs(crs), name_field)


def street_index(settings: Settings, src: SourceConfig):
    """The StreetIndex of the source's agency, or None when it has no streets layer with a name field."""
    ag = settings.agency_of(src.name)
    s = ag.streets
    if s is None or not s.name_field:
        return None
    return _street_index(str(settings.resolve(s.path)), s.name_field, s.layer, ag.crs)


def todo_rows(con: duckdb.DuckDBPyConnection, table: str, src: SourceConfig, load_id: str) -> pl.DataFrame:
    """The load's unlocated rows with an address: key (the record id), address (cleaned)."""
    id_col = "call_id" if src.kind == "calls" else "incident_id"
    return con.execute(
        f"""SELECT {qident(id_col)} AS key, address FROM {table}
            WHERE source = ? AND load_id = ? AND NOT is_located AND address IS NOT NULL""",
        [src.name, load_id]).pl()


def located_history(con: duckdb.DuckDBPyConnection, agency: str) -> pl.DataFrame:
    """The agency's located addresses with the feed's own point (calls and incidents): address, x, y."""
    skip = ""
    if relation_exists(con, "marts", "placeholder_points"):
        skip = "AND (agency, x, y) NOT IN (SELECT (agency, x, y) FROM marts.placeholder_points)"
    parts = [f"""SELECT address, x, y FROM {t}
                 WHERE agency = $agency AND is_located AND address IS NOT NULL
                   AND coalesce(geocode_method, 'feed') = 'feed' {skip}"""
             for t in ("core.calls", "core.incidents")]
    return con.execute(" UNION ALL ".join(parts), {"agency": agency}).pl()


def place_unlocated(con: duckdb.DuckDBPyConnection, table: str, src: SourceConfig, settings: Settings,
                    load_id: str, geocoder: Geocoder | None = None, streets: object | None = None) -> PlaceResult:
    """Geocode the load's unlocated rows with an address in `table` (core.calls or core.incidents) and write the
    placed ones back. `geocoder` defaults to transforms.warehouse.geocode.geocode, `streets` to the agency's
    streets layer (street_index). Returns what was placed and why the rest was not."""
    todo = todo_rows(con, table, src, load_id)
    out = PlaceResult(n_todo=todo.height)
    if todo.is_empty():
        return out
    if geocoder is None:
        from transforms.warehouse.geocode import geocode as geocoder
    if streets is None:
        streets = street_index(settings, src)
    res = geocoder(todo, located_history(con, src.agency), streets)
    missing = [c for c in OUTPUT_COLUMNS if c not in res.columns]
    if missing:
        raise ValueError(f"geocoder returned no column(s) {missing} (columns: {res.columns})")
    res = todo.select("key").join(res.select(OUTPUT_COLUMNS).with_columns(pl.col("key").cast(pl.Utf8))
                                  .unique("key", keep="first"), on="key", how="left")
    placed = res.filter(pl.col("x").is_not_null() & pl.col("y").is_not_null()
                        & pl.col("geocode_method").is_not_null())
    loc = _locate(placed, src, settings)
    res = res.join(loc, on="key", how="left").with_columns(
        pl.col("is_located").fill_null(False),
        geocode_status=pl.when(pl.col("is_located").fill_null(False) | pl.col("_issue").is_null())
        .then(pl.col("geocode_status"))
        .otherwise(pl.lit("placed outside the agency area (") + pl.col("geocode_method") + pl.lit(")")))
    res = res.with_columns(pl.col("geocode_status").fill_null("not placed (the geocoder gave no reason)"))
    _write(con, table, src, settings, load_id, res)
    ok = res.filter(pl.col("is_located"))
    out.n_placed = ok.height
    out.by_method = dict(ok.group_by("geocode_method").len().iter_rows())
    out.not_placed = dict(res.filter(~pl.col("is_located")).group_by("geocode_status").len().iter_rows())
    return out


def _locate(placed: pl.DataFrame, src: SourceConfig, settings: Settings) -> pl.DataFrame:
    """key -> lon, lat, is_located, _issue (out_of_area ...), beat and district tags of the placed points."""
    cols = {"key": pl.Utf8, "lon": pl.Float64, "lat": pl.Float64, "is_located": pl.Boolean, "_issue": pl.Utf8,
            "_beat": pl.Utf8, "_district": pl.Utf8}
    if placed.is_empty():
        return pl.DataFrame(schema=cols)
    agency = settings.agency_of(src.name)
    # the points are already in the analysis CRS: the lookup reads them as text in that CRS (shortest
    # round-trip text of a float, so the point is the same double again)
    xs = placed["x"].cast(pl.Float64).cast(pl.Utf8).to_arrow()
    ys = placed["y"].cast(pl.Float64).cast(pl.Utf8).to_arrow()
    t = pl.from_arrow(locate_points(
        xs, ys, src_crs=agency.crs, agency=agency,
        polygons={k: (settings.resolve(v.path), v.field, v.layer) for k, v in src.polygons.items()},
        settings=settings))
    return pl.DataFrame({
        "key": placed["key"].cast(pl.Utf8), "lon": t["lon"], "lat": t["lat"], "is_located": t["is_located"],
        "_issue": t["location_issue"], "_beat": t["beat"], "_district": t["district"],
    }, schema=cols)


def _write(con: duckdb.DuckDBPyConnection, table: str, src: SourceConfig, settings: Settings, load_id: str,
           res: pl.DataFrame) -> None:
    """Write the geocoder's answer back to the load's rows: placed rows get their point and tags, the others the
    status only."""
    id_col = qident("call_id" if src.kind == "calls" else "incident_id")
    frame = res.select(
        pl.col("key").cast(pl.Utf8), pl.col("x").cast(pl.Float64), pl.col("y").cast(pl.Float64), "lon", "lat",
        "is_located", "_beat", "_district", pl.col("geocode_method").cast(pl.Utf8),
        pl.col("geocode_precision_m").cast(pl.Float64), pl.col("geocode_source").cast(pl.Utf8),
        pl.col("geocode_status").cast(pl.Utf8))
    con.register("_geocoded", frame.to_arrow())
    try:
        round_m = float(settings.sara.location_round_m)
        con.execute(
            f"""UPDATE {table} AS t SET
                  x = g.x, y = g.y, lon = g.lon, lat = g.lat, is_located = true, location_issue = NULL,
                  beat = coalesce(t.beat, g._beat), district = coalesce(t.district, g._district),
                  beat_source = coalesce(t.beat_source, CASE WHEN g._beat IS NOT NULL THEN 'polygon' END),
                  district_source = coalesce(t.district_source,
                                             CASE WHEN g._district IS NOT NULL THEN 'polygon' END),
                  beat_polygon = g._beat, district_polygon = g._district,
                  location_key = coalesce(t.location_key,
                      'XY ' || CAST(CAST(round(g.x / $round) * $round AS BIGINT) AS VARCHAR)
                      || ' ' || CAST(CAST(round(g.y / $round) * $round AS BIGINT) AS VARCHAR)),
                  geocode_method = g.geocode_method, geocode_precision_m = g.geocode_precision_m,
                  geocode_source = g.geocode_source, geocode_status = g.geocode_status
                FROM _geocoded g
                WHERE g.is_located AND t.source = $source AND t.load_id = $load AND t.{id_col} = g.key""",
            {"round": round_m, "source": src.name, "load": load_id})
        con.execute(
            f"""UPDATE {table} AS t SET geocode_status = g.geocode_status
                FROM _geocoded g
                WHERE NOT g.is_located AND t.source = $source AND t.load_id = $load AND t.{id_col} = g.key""",
            {"source": src.name, "load": load_id})
    finally:
        con.unregister("_geocoded")
