"""Spatial units for hot spots and concentration: grid cells, H3 hexes, polygons, street segments.

Every located event is assigned to every configured unit type:
- grid      square cells of `cell_size_m`, ids (ix, iy) counted from a fixed origin, so a cell keeps its id
            night after night; only cells that touch the agency area exist, and each is clipped to it
            (no cells in the sea or outside the city);
- h3        H3 hexes at `h3_resolution` covering the area (plus any hex holding a located event);
- polygons  the agency's `unit_layers` (beats, districts), by point in polygon;
- street    segments of the agency's centreline layer; an event snaps to its nearest segment within
            `snap_tolerance_m`, and an event farther away stays unsnapped (counted as such).
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import h3
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from shapely.ops import transform


@dataclass
class UnitSet:
    """One unit type of one agency: ids, geometries (analysis CRS) and areas."""

    unit_type: str
    unit_id: np.ndarray  # str
    geometry: np.ndarray  # shapely geometries, analysis CRS
    ix: np.ndarray | None = None
    iy: np.ndarray | None = None
    name: np.ndarray | None = None
    origin: tuple[float, float] | None = None  # grid only

    @property
    def area_m2(self) -> np.ndarray:
        return shapely.area(self.geometry)


def grid_origin(area, cell_size_m: float, origin: tuple[float, float] | None) -> tuple[float, float]:
    if origin is not None:
        return float(origin[0]), float(origin[1])
    x0, y0, _, _ = area.bounds
    step = 1000.0  # NOTE: floored to 1 km, so a slightly redrawn boundary keeps the same cell ids
    return float(np.floor(x0 / step) * step), float(np.floor(y0 / step) * step)


def grid_units(area, cell_size_m: float, origin: tuple[float, float]) -> UnitSet:
    x0, y0 = origin
    bx0, by0, bx1, by1 = area.bounds
    i0, j0 = int(np.floor((bx0 - x0) / cell_size_m)), int(np.floor((by0 - y0) / cell_size_m))
    i1, j1 = int(np.floor((bx1 - x0) / cell_size_m)), int(np.floor((by1 - y0) / cell_size_m))
    ix, iy = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
    ix, iy = ix.ravel(), iy.ravel()
    cells = shapely.box(x0 + ix * cell_size_m, y0 + iy * cell_size_m,
                        x0 + (ix + 1) * cell_size_m, y0 + (iy + 1) * cell_size_m)
    shapely.prepare(area)
    keep = shapely.intersects(area, cells)
    clipped = shapely.intersection(cells[keep], area)
    ok = shapely.area(clipped) > 0
    ix, iy, clipped = ix[keep][ok], iy[keep][ok], clipped[ok]
    ids = np.char.add(np.char.add(ix.astype(str), "_"), iy.astype(str)).astype(object)
    return UnitSet("grid", ids, clipped, ix=ix, iy=iy, origin=(x0, y0))


def grid_cell_of(x: np.ndarray, y: np.ndarray, cell_size_m: float, origin: tuple[float, float]):
    ix = np.floor((x - origin[0]) / cell_size_m).astype(np.int64)
    iy = np.floor((y - origin[1]) / cell_size_m).astype(np.int64)
    return ix, iy


def h3_cells_of(lat: np.ndarray, lon: np.ndarray, resolution: int) -> np.ndarray:
    out = np.empty(len(lat), dtype=object)
    for i, (a, b) in enumerate(zip(lat, lon, strict=True)):  # h3 has no vectorized API; ~1 µs a point
        out[i] = h3.latlng_to_cell(a, b, resolution)
    return out


def h3_units(area, crs: str, resolution: int, extra_cells=()) -> UnitSet:
    to_ll = Transformer.from_crs(crs, "EPSG:4326", always_xy=True)
    ll = transform(to_ll.transform, area)
    cells = set(h3.geo_to_cells(shapely.geometry.mapping(ll), resolution))
    cells.update(c for c in extra_cells if c)
    return h3_units_from_cells(sorted(cells), crs)


def h3_units_from_cells(cells: list[str], crs: str) -> UnitSet:
    to_an = Transformer.from_crs("EPSG:4326", crs, always_xy=True)
    geoms = []
    for c in cells:
        ring = [(lng, lat) for lat, lng in h3.cell_to_boundary(c)]
        geoms.append(transform(to_an.transform, shapely.Polygon(ring)))
    return UnitSet("h3", np.array(cells, dtype=object), np.array(geoms, dtype=object))


def polygon_units(path: str, field: str, layer: str | None, crs: str, unit_type: str) -> UnitSet:
    g = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    g = g.to_crs(crs)
    g["_id"] = g[field].astype(str)
    g = g.dissolve("_id", as_index=False)  # one unit per id (a beat drawn in parts is one beat)
    geoms = shapely.make_valid(g.geometry.values)
    return UnitSet(unit_type, g["_id"].to_numpy(dtype=object), np.asarray(geoms, dtype=object))


def street_units(path: str, id_field: str | None, name_field: str | None, layer: str | None, crs: str,
                 area=None) -> UnitSet:
    g = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    g = g.to_crs(crs)
    g = g[~g.geometry.is_empty & g.geometry.notna()].reset_index(drop=True)
    ids = g[id_field].astype(str).to_numpy(dtype=object) if id_field else \
        np.array([f"s{i}" for i in range(len(g))], dtype=object)
    names = g[name_field].astype(str).to_numpy(dtype=object) if name_field else None
    return UnitSet("street", ids, np.asarray(g.geometry.values, dtype=object), name=names)


def snap_to_segments(x: np.ndarray, y: np.ndarray, segments: UnitSet, tolerance_m: float) -> np.ndarray:
    """Nearest segment id within the tolerance; None where farther (unsnapped) or not located."""
    out = np.full(len(x), None, dtype=object)
    ok = np.isfinite(x) & np.isfinite(y)
    if not ok.any() or len(segments.unit_id) == 0:
        return out
    tree = shapely.STRtree(segments.geometry)
    pts = shapely.points(x[ok], y[ok])
    (pi, gi) = tree.query_nearest(pts, max_distance=tolerance_m, all_matches=False)
    sub = np.full(ok.sum(), None, dtype=object)
    sub[pi] = segments.unit_id[gi]
    out[ok] = sub
    return out


def to_frame(units: UnitSet, agency: str) -> pd.DataFrame:
    return pd.DataFrame({
        "agency": agency,
        "unit_type": units.unit_type,
        "unit_id": units.unit_id,
        "ix": units.ix if units.ix is not None else pd.array([None] * len(units.unit_id), dtype="Int64"),
        "iy": units.iy if units.iy is not None else pd.array([None] * len(units.unit_id), dtype="Int64"),
        "name": units.name if units.name is not None else None,
        "area_m2": units.area_m2,
        "wkb": shapely.to_wkb(units.geometry),
    })
