"""Coordinates -> WGS84 lon/lat and analysis-CRS x/y, the agency-area test, and polygon tags.

Works on the DISTINCT raw coordinate pairs of a load (vectorized pyproj and shapely), so the
cost grows with the number of distinct places, not rows.

location_issue codes (the row is always kept; only `is_located` says whether it can be mapped):
- missing           no coordinates delivered
- unparseable       not numbers
- zero              (0, 0): a placeholder, e.g. Vancouver's privacy offset
- out_of_area       outside the agency boundary (wrong CRS, bad geocode)
- swapped_repaired  lat/lon were swapped; the swapped point is inside the area and the point as
                    given is not, so the fix is unambiguous; is_located stays true
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import shapely
from pyproj import CRS, Transformer

from transforms.config import AgencyConfig


@lru_cache(maxsize=64)
def _transformer(src: str, dst: str) -> Transformer:
    return Transformer.from_crs(CRS.from_user_input(src), CRS.from_user_input(dst), always_xy=True)


@lru_cache(maxsize=32)
def agency_area(boundary: str | None, bbox: tuple | None, crs: str):
    """The agency area as one prepared polygon in the analysis CRS."""
    import geopandas as gpd
    from shapely.geometry import box

    if boundary:
        g = gpd.read_file(boundary)
        if g.crs is None:
            g = g.set_crs("EPSG:4326")
        geom = shapely.union_all(g.to_crs(crs).geometry.values)
    else:
        geom = gpd.GeoSeries([box(*bbox)], crs="EPSG:4326").to_crs(crs).iloc[0]
    geom = shapely.make_valid(geom)
    shapely.prepare(geom)
    return geom


@lru_cache(maxsize=64)
def polygon_layer(path: str, field: str, layer: str | None, crs: str):
    import geopandas as gpd

    g = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    if field not in g.columns:
        raise ValueError(f"{path}: polygon layer has no field {field!r} (fields: {list(g.columns)})")
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    g = g.to_crs(crs)
    g["geometry"] = shapely.make_valid(g.geometry.values)
    return g[[field, "geometry"]].reset_index(drop=True)


def parse_numbers(arr) -> np.ndarray:
    """Text -> float64, NaN where empty or not a number (vectorized via Arrow)."""
    import polars as pl

    s = pl.Series(arr if not isinstance(arr, pa.ChunkedArray) else arr.combine_chunks())
    return s.str.strip_chars().cast(pl.Float64, strict=False).to_numpy().astype(np.float64)


def tag_polygons(x: np.ndarray, y: np.ndarray, layer) -> np.ndarray:
    """The field value of the polygon containing each point (first match), None where none."""
    field = [c for c in layer.columns if c != "geometry"][0]
    out = np.full(len(x), None, dtype=object)
    ok = ~np.isnan(x)
    if not ok.any():
        return out
    pts = shapely.points(x[ok], y[ok])
    tree = shapely.STRtree(layer.geometry.values)
    pi, gi = tree.query(pts, predicate="intersects")
    vals = layer[field].astype(str).to_numpy()
    sub = np.full(ok.sum(), None, dtype=object)
    # first polygon per point (points on a shared edge go to the lowest-numbered polygon)
    order = np.lexsort((gi, pi))
    pi, gi = pi[order], gi[order]
    first = np.ones(len(pi), dtype=bool)
    first[1:] = pi[1:] != pi[:-1]
    sub[pi[first]] = vals[gi[first]]
    out[ok] = sub
    return out


def locate_points(xs, ys, src_crs: str, agency: AgencyConfig, polygons: dict, settings) -> pa.Table:
    """Lookup table: _x_raw, _y_raw -> lon, lat, x, y, is_located, location_issue, beat, district."""
    x_raw = xs if isinstance(xs, pa.ChunkedArray | pa.Array) else pa.array(xs, pa.string())
    y_raw = ys if isinstance(ys, pa.ChunkedArray | pa.Array) else pa.array(ys, pa.string())
    n = len(x_raw)
    x0 = parse_numbers(x_raw)
    y0 = parse_numbers(y_raw)
    x_null = np.asarray(pc.is_null(x_raw).to_numpy(zero_copy_only=False)) if n else np.zeros(0, bool)
    y_null = np.asarray(pc.is_null(y_raw).to_numpy(zero_copy_only=False)) if n else np.zeros(0, bool)

    issue = np.full(n, None, dtype=object)
    missing = x_null | y_null
    unparse = ~missing & (np.isnan(x0) | np.isnan(y0))
    zero = ~missing & ~unparse & (x0 == 0) & (y0 == 0)
    issue[missing] = "missing"
    issue[unparse] = "unparseable"
    issue[zero] = "zero"
    usable = ~(missing | unparse | zero)

    boundary = str(settings.resolve(agency.boundary)) if agency.boundary else None
    area = agency_area(boundary, tuple(agency.bbox) if agency.bbox else None, agency.crs)
    to_an = _transformer(src_crs, agency.crs)
    to_ll = _transformer(agency.crs, "EPSG:4326")

    def project(a: np.ndarray, b: np.ndarray):
        with np.errstate(invalid="ignore"):
            px, py = to_an.transform(np.where(usable, a, np.nan), np.where(usable, b, np.nan))
        px = np.asarray(px, dtype=np.float64)
        py = np.asarray(py, dtype=np.float64)
        bad = ~np.isfinite(px) | ~np.isfinite(py)
        px[bad] = np.nan
        py[bad] = np.nan
        inside = np.zeros(len(a), dtype=bool)
        ok = ~bad
        if ok.any():
            inside[ok] = shapely.contains_xy(area, px[ok], py[ok])
        return px, py, inside

    ax, ay, inside = project(x0, y0)
    # NOTE: swapped lat/lon is repaired only for geographic sources, and only when the swap lands inside
    # the area while the point as given does not (otherwise it is just out of area).
    if CRS.from_user_input(src_crs).is_geographic:
        cand = usable & ~inside
        if cand.any():
            sx, sy, s_inside = project(np.where(cand, y0, np.nan), np.where(cand, x0, np.nan))
            fix = cand & s_inside
            ax[fix], ay[fix] = sx[fix], sy[fix]
            inside |= fix
            issue[fix] = "swapped_repaired"
    out_area = usable & ~inside
    issue[out_area] = "out_of_area"
    located = usable & inside

    lon = np.full(n, np.nan)
    lat = np.full(n, np.nan)
    if located.any():
        lo, la = to_ll.transform(ax[located], ay[located])
        lon[located], lat[located] = lo, la
    ax = np.where(located, ax, np.nan)
    ay = np.where(located, ay, np.nan)

    cols = {
        "_x_raw": x_raw, "_y_raw": y_raw,
        "lon": pa.array(lon, from_pandas=True), "lat": pa.array(lat, from_pandas=True),
        "x": pa.array(ax, from_pandas=True), "y": pa.array(ay, from_pandas=True),
        "is_located": pa.array(located), "location_issue": pa.array(issue, pa.string()),
    }
    for key in ("beat", "district"):
        if key in polygons:
            path, field, layer = polygons[key]
            cols[key] = pa.array(tag_polygons(ax, ay, polygon_layer(str(path), field, layer, agency.crs)), pa.string())
        else:
            cols[key] = pa.nulls(n, pa.string())
    return pa.table(cols)


@lru_cache(maxsize=32)
def agency_tiles(boundary: str | None, bbox: tuple | None, crs: str, n: int = 64):
    """area_tiles of an agency area, cached per process (the demo runs several nights in one)."""
    return area_tiles(agency_area(boundary, bbox, crs), n)


def area_tiles(area, n: int = 64) -> tuple[float, float, float, list[tuple[int, int, bool, bytes]]]:
    """Cut an area into a regular grid of at most n x n tiles: (x0, y0, size, [(ix, iy, full, wkb)]).

    A point test against one small tile piece is cheap, where a test against a whole city outline
    (tens of thousands of vertices) is not; `full` marks tiles entirely inside, which need no test.
    """
    x0, y0, x1, y1 = area.bounds
    size = max(x1 - x0, y1 - y0) / n or 1.0
    nx, ny = int((x1 - x0) // size) + 1, int((y1 - y0) // size) + 1
    ix, iy = np.meshgrid(np.arange(nx), np.arange(ny), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    cells = shapely.box(x0 + ix * size, y0 + iy * size, x0 + (ix + 1) * size, y0 + (iy + 1) * size)
    pieces = shapely.intersection(cells, area)
    keep = ~shapely.is_empty(pieces)
    full = shapely.equals(pieces, cells)
    out = [(int(a), int(b), bool(f), shapely.to_wkb(p))
           for a, b, f, p in zip(ix[keep], iy[keep], full[keep], pieces[keep], strict=True)]
    return float(x0), float(y0), float(size), out


def write_agency_areas(con, settings) -> None:
    """meta.agency_areas and meta.agency_area_tiles from config (rewritten every night)."""
    import pyarrow as pa

    con.execute("DELETE FROM meta.agency_areas")
    con.execute("DELETE FROM meta.agency_area_tiles")
    for code, ag in settings.sara.agencies.items():
        geom = agency_area(str(settings.resolve(ag.boundary)) if ag.boundary else None,
                           tuple(ag.bbox) if ag.bbox else None, ag.crs)
        con.execute("INSERT INTO meta.agency_areas VALUES (?, ?, ?, ST_GeomFromWKB(?))",
                    [code, ag.name, ag.crs, geom.wkb])
        x0, y0, size, tiles = agency_tiles(str(settings.resolve(ag.boundary)) if ag.boundary else None,
                                           tuple(ag.bbox) if ag.bbox else None, ag.crs)
        t = pa.table({"ix": [r[0] for r in tiles], "iy": [r[1] for r in tiles], "is_full": [r[2] for r in tiles],
                      "wkb": pa.array([r[3] for r in tiles], pa.binary())})
        con.register("_tiles", t)
        con.execute("INSERT INTO meta.agency_area_tiles SELECT ?, ?, ?, ?, ix, iy, is_full, ST_GeomFromWKB(wkb) "
                    "FROM _tiles", [code, x0, y0, size])
        con.unregister("_tiles")
