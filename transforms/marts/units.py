"""Spatial units for hot spots and concentration: grid cells, H3 hexes, polygons, street segments.

marts.units holds every unit of every type per agency; marts.event_units assigns every located event to
every configured unit type:
- grid      square cells of `cell_size_m`, ids (ix, iy) counted from a fixed origin, so a cell keeps its id
            night after night; only cells that touch the agency area exist, and each is clipped to it
            (no cells in the sea or outside the city);
- h3        H3 hexes at `h3_resolution` covering the area (plus any hex holding a located event);
- polygons  the agency's `unit_layers` (beats, districts), by point in polygon;
- street    segments of the agency's centreline layer; an event snaps to its nearest segment within
            `snap_tolerance_m`, and an event farther away stays unsnapped (counted as such).

An event enters a unit type only when its point is good enough for it (`unit_precision_limits`): a
geocode_precision_m above the unit type's limit leaves it out of that type (`left_out` 'imprecise'), and a
placeholder point (marts.placeholder_points) leaves it out of every type unless `keep_placeholders`
(`left_out` 'placeholder'). A 250 m grid does not take a point known only within 2 km; a district layer may.
"""

from __future__ import annotations

import json
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import duckdb
import geopandas as gpd
import h3
import numpy as np
import polars as pl
import pyarrow as pa
import shapely
from pyproj import Transformer
from shapely.ops import transform

from transforms.config import Settings
from transforms.marts import events
from transforms.marts.models import read_model, run_model
from transforms.marts.write import (
    Mart,
    comment_columns,
    create_build_info,
    create_mart,
    insert_rows,
    write_mart,
)
from transforms.warehouse.geo import agency_area, tag_polygons
from transforms.warehouse.sqlutil import relation_exists


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


def text_array(values) -> pa.Array:
    """Ids or names as Arrow strings; a missing value (None, or NaN from a layer's empty field) is null."""
    return pa.array(np.asarray(values, dtype=object), pa.string(), from_pandas=True)


def to_arrow(units: UnitSet, agency: str) -> pa.Table:
    """The rows of marts.units for one unit set (geometry as WKB)."""
    n = len(units.unit_id)
    return pa.table({
        "agency": pa.array([agency] * n, pa.string()),
        "unit_type": pa.array([units.unit_type] * n, pa.string()),
        "unit_id": text_array(units.unit_id),
        "ix": pa.array(units.ix if units.ix is not None else [None] * n, pa.int64()),
        "iy": pa.array(units.iy if units.iy is not None else [None] * n, pa.int64()),
        "name": text_array(units.name if units.name is not None else [None] * n),
        "area_m2": pa.array(units.area_m2, pa.float64()),
        "geom": pa.array(shapely.to_wkb(units.geometry), pa.binary()),
    })


# ---------------------------------------------------------------------------------------------------------
# The unit sets of a configuration (built once per process and configuration)
# ---------------------------------------------------------------------------------------------------------


def unit_signature(settings: Settings) -> str:
    """The settings the units and the event-unit assignment depend on (stored in marts.build_info: a change
    reassigns every event)."""
    an = settings.sara.analysis
    return json.dumps([str(settings.project_dir), an.cell_size_m, an.h3_resolution, an.snap_tolerance_m,
                       {k: a.model_dump() for k, a in settings.sara.agencies.items()},
                       an.max_precision_m, an.keep_placeholders], sort_keys=True, default=str)


def unit_precision_limits(settings: Settings, code: str, sets: dict[str, UnitSet]) -> dict[str, float]:
    """Unit type -> the largest geocode_precision_m an event may have to enter it, metres.

    The default rule: a point may be off by at most the size of the units it is counted in, so
    - grid: cell_size_m (a 250 m grid does not take a point known within 2 km);
    - h3: the hexagon's mean edge length at h3_resolution (its centre-to-corner distance);
    - street: snap_tolerance_m (the distance a point may lie from its segment anyway);
    - a polygon layer: half the square root of its median unit area, the radius of a typical unit (a 1 km beat
      takes points within 500 m, a 5 km district points within 2.5 km).
    [analysis] max_precision_m overrides any of them by unit type name."""
    an = settings.sara.analysis
    limits = {"grid": float(an.cell_size_m),
              "h3": float(h3.average_hexagon_edge_length(an.h3_resolution, unit="m")),
              "street": float(an.snap_tolerance_m)}
    for name in settings.sara.agencies[code].unit_layers:
        areas = sets[name].area_m2 if name in sets else np.zeros(0)
        limits[name] = float(np.sqrt(np.median(areas)) / 2) if len(areas) else 0.0
    limits.update({k: float(v) for k, v in an.max_precision_m.items()})
    return limits


def _layer_files(settings: Settings) -> list[Path]:
    files = []
    for ag in settings.sara.agencies.values():
        files += [settings.resolve(p) for p in (ag.boundary, *(v.path for v in ag.unit_layers.values()),
                                                ag.streets.path if ag.streets else None) if p]
    return files


def _cache_key(settings: Settings) -> str:
    """unit_signature plus the size and modification time of every layer file the units are read from."""
    stats = [(str(f), *((f.stat().st_size, f.stat().st_mtime_ns) if f.exists() else ())) for f in _layer_files(settings)]
    return json.dumps([unit_signature(settings), stats])


_UNIT_SETS: OrderedDict[str, dict[str, dict[str, UnitSet]]] = OrderedDict()
_UNIT_SETS_KEPT = 8


def static_units(settings: Settings) -> dict[str, dict[str, UnitSet]]:
    """Grid, polygon and street units and the H3 cover of each agency's area, per agency and unit type.
    They depend on config and layer files only, so one process (the demo's several nights) builds them once
    per configuration (keyed by value: the unit settings and the layer files' sizes and times)."""
    key = _cache_key(settings)
    if key in _UNIT_SETS:
        _UNIT_SETS.move_to_end(key)
        return _UNIT_SETS[key]
    an = settings.sara.analysis
    out: dict[str, dict[str, UnitSet]] = {}
    for code, ag in settings.sara.agencies.items():
        area = agency_area(str(settings.resolve(ag.boundary)) if ag.boundary else None,
                           tuple(ag.bbox) if ag.bbox else None, ag.crs)
        sets = {"grid": grid_units(area, an.cell_size_m, grid_origin(area, an.cell_size_m, ag.grid_origin)),
                "h3": h3_units(area, ag.crs, an.h3_resolution)}
        for name, layer in ag.unit_layers.items():
            sets[name] = polygon_units(str(settings.resolve(layer.path)), layer.field, layer.layer, ag.crs, name)
        if ag.streets:
            s = ag.streets
            sets["street"] = street_units(str(settings.resolve(s.path)), s.id_field, s.name_field, s.layer, ag.crs)
        out[code] = sets
    _UNIT_SETS[key] = out
    while len(_UNIT_SETS) > _UNIT_SETS_KEPT:
        _UNIT_SETS.popitem(last=False)
    return out


# ---------------------------------------------------------------------------------------------------------
# marts.units and marts.event_units
# ---------------------------------------------------------------------------------------------------------

UNITS = Mart("units", "agency VARCHAR, unit_type VARCHAR, unit_id VARCHAR, ix INTEGER, iy INTEGER, name VARCHAR, "
             "area_m2 DOUBLE, geom GEOMETRY",
             "every spatial unit (grid cell, h3 hex, polygon, street segment) of every agency, geometry in the "
             "agency analysis CRS",
    column_comments={
        "ix": "grid: the cell's column index from the grid origin (null for other unit types)",
        "iy": "grid: the cell's row index (null for other unit types)",
        "name": "street segment: its street name (the streets layer's name_field); null otherwise",
        "area_m2": "area of the unit, m² (a grid cell clipped to the agency area; 0 for a street segment)",
        "geom": "the unit's shape in the agency's analysis CRS: the cell, hex or polygon, or the street "
                "segment",
    })
EVENTS_KEY = "event_units_events"  # build_info: the generation of marts.events the assignment follows
FOLLOWED_TABLES = ("event_units_removed", "event_units_followed")  # left by a night that followed (followed_span)
EVENT_UNITS = Mart("event_units", "dataset VARCHAR, source VARCHAR, event_id VARCHAR, agency VARCHAR, "
                   "unit_type VARCHAR, unit_id VARCHAR, load_id VARCHAR, left_out VARCHAR",
                   "one row per located event and unit type: the unit it falls in (street: the nearest segment "
                   "within snap_tolerance_m, null when farther; null with left_out when its point is too "
                   "imprecise for the unit type or a placeholder); kept incrementally by load_id",
    column_comments={
        "unit_id": "the unit the event falls in (street: the nearest segment within snap_tolerance_m; null "
                   "when farther, or when left_out says why not)",
        "load_id": "the load of the event's version that was assigned (reassigned when it changes)",
        "left_out": "why the event is in no unit of this type: imprecise (geocode_precision_m above the unit "
                    "type's limit: [analysis] max_precision_m, else the default rule in transforms/marts/units.py) "
                    "or placeholder (its point is in marts.placeholder_points; kept with [analysis] "
                    "keep_placeholders); null when assigned, or outside every unit / unsnapped",
    })


def write_units(con: duckdb.DuckDBPyConnection, settings: Settings, unit_sets: dict[str, dict[str, UnitSet]]) -> None:
    """marts.units: every unit of every type per agency, with its geometry (analysis CRS) and area.

    The H3 universe is the cover of the area plus any hex holding a located event (a hex whose centre
    lies outside the boundary can still hold events near it)."""
    tables = []
    for code, sets in unit_sets.items():
        ag = settings.sara.agencies[code]
        have = set(sets["h3"].unit_id)
        extra = [r[0] for r in con.execute(
            "SELECT DISTINCT unit_id FROM marts.event_units WHERE agency = ? AND unit_type = 'h3' "
            "AND unit_id IS NOT NULL", [code]).fetchall() if r[0] not in have]
        for name, u in sets.items():
            if name == "h3" and extra:
                u = h3_units_from_cells(sorted(have | set(extra)), ag.crs)
            tables.append(to_arrow(u, code))
    write_mart(con, UNITS, pa.concat_tables(tables) if tables else None)


def gpd_frame(u: UnitSet) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"unit_id": u.unit_id}, geometry=list(u.geometry))


def _assign(ev: pl.DataFrame, code: str, settings: Settings, sets: dict[str, UnitSet]) -> list[pl.DataFrame]:
    """One frame per unit type: the events of one agency with the unit each falls in (None: none)."""
    an = settings.sara.analysis
    x, y = ev["x"].to_numpy().astype(float), ev["y"].to_numpy().astype(float)
    base = ev.select("dataset", "source", "event_id", "load_id")
    limits = unit_precision_limits(settings, code, sets)
    precision = ev["geocode_precision_m"].cast(pl.Float64).fill_null(0.0).to_numpy()
    placeholder = (ev["location_issue"] == "placeholder").fill_null(False).to_numpy() & (not an.keep_placeholders)

    def tagged(unit_type: str, unit_id) -> pl.DataFrame:
        imprecise = precision > limits.get(unit_type, np.inf)
        why = np.where(placeholder, "placeholder", np.where(imprecise, "imprecise", "")).astype(object)
        why[why == ""] = None
        ids = np.asarray(unit_id, dtype=object).copy()
        ids[placeholder | imprecise] = None
        return base.with_columns(agency=pl.lit(code), unit_type=pl.lit(unit_type),
                                 unit_id=pl.Series("unit_id", text_array(ids)),
                                 left_out=pl.Series("left_out", text_array(why)))

    g = sets["grid"]
    ix, iy = grid_cell_of(x, y, an.cell_size_m, g.origin)
    gid = np.char.add(np.char.add(ix.astype(str), "_"), iy.astype(str)).astype(object)
    known = set(g.unit_id)
    out = [tagged("grid", [c if c in known else None for c in gid]),
           tagged("h3", h3_cells_of(ev["lat"].to_numpy(), ev["lon"].to_numpy(), an.h3_resolution))]
    for name in settings.sara.agencies[code].unit_layers:
        out.append(tagged(name, tag_polygons(x, y, gpd_frame(sets[name]))))
    if "street" in sets:
        out.append(tagged("street", snap_to_segments(x, y, sets["street"], an.snap_tolerance_m)))
    return out


def build_event_units(con: duckdb.DuckDBPyConnection, settings: Settings,
                      unit_sets: dict[str, dict[str, UnitSet]]) -> dict:
    """marts.event_units: each located event's unit for every unit type (street: null when unsnapped).

    Incremental: only events that are new or were reloaded since (a different load_id) are assigned;
    rows of events that left marts.events are deleted; a change of the unit settings reassigns everything.
    When marts.events was updated in this connection from the generation the assignment last followed, only the
    records it took again are looked at (events_changed: transforms/marts/events.py); else every event is
    compared with its row. Returns {"assigned": events assigned in this run, "followed": whether only the records
    marts.events took again were looked at}.
    """
    signature = unit_signature(settings)
    create_mart(con, EVENT_UNITS, replace=False)
    if "left_out" not in {r[0] for r in con.execute("DESCRIBE marts.event_units").fetchall()}:
        # a warehouse from before the precision rule: the column is added (the signature differs, so every event
        # is assigned again below)
        con.execute("ALTER TABLE marts.event_units ADD COLUMN left_out VARCHAR")
        comment_columns(con, EVENT_UNITS.table, {"left_out": EVENT_UNITS.comments["left_out"]})
    create_build_info(con)
    old = con.execute("SELECT value FROM marts.build_info WHERE key = 'unit_signature'").fetchone()
    kept = con.execute("SELECT value FROM marts.build_info WHERE key = ?", [EVENTS_KEY]).fetchone()
    if old is None or old[0] != signature:
        con.execute("DELETE FROM marts.event_units")
        con.execute("INSERT OR REPLACE INTO marts.build_info VALUES ('unit_signature', ?)", [signature])
        kept = None
    for t in FOLLOWED_TABLES:
        con.execute(f"DROP TABLE IF EXISTS temp.{t}")
    followed = events.changed_since(con, kept[0] if kept else None)
    if followed:
        # the rows taken away are kept for the steps that keep counts per unit (transforms/marts/hotspots.py),
        # with the span of marts.events' generations this follows
        con.execute("CREATE TEMP TABLE event_units_removed AS SELECT u.* FROM marts.event_units u SEMI JOIN "
                    "events_changed c ON u.dataset = c.dataset AND u.source = c.source AND u.event_id = c.event_id")
        con.execute("CREATE TEMP TABLE event_units_followed AS SELECT * FROM events_changed_span")
        con.execute("DELETE FROM marts.event_units u USING events_changed c "
                    "WHERE u.dataset = c.dataset AND u.source = c.source AND u.event_id = c.event_id")
        scope = "semi join events_changed c on c.dataset = e.dataset and c.source = e.source and c.event_id = e.event_id"
    else:
        run_model(con, "event_units_prune", keep_placeholders=settings.sara.analysis.keep_placeholders)
        scope = ""
    frames = []
    n_new = 0
    for code, sets in unit_sets.items():
        ev = read_model(con, "inputs/unassigned_events", fragments={"scope": scope}, agency=code)
        if ev.is_empty():
            continue
        n_new += len(ev)
        frames += _assign(ev, code, settings, sets)
    if frames:
        insert_rows(con, EVENT_UNITS, pl.concat(frames, how="vertical_relaxed"))
    record_events_generation(con)
    return {"assigned": n_new, "followed": followed}


def followed_span(con: duckdb.DuckDBPyConnection) -> tuple[str, str] | None:
    """The generations of marts.events (before, after) that marts.event_units followed in this connection with
    the records marts.events took again, keeping the rows it took away in the temporary table
    event_units_removed; None when it did not follow (every event was compared, or nothing ran)."""
    if not relation_exists(con, "main", "event_units_followed", "temp"):
        return None
    return con.execute("SELECT generation_before, generation_after FROM event_units_followed").fetchone()


def record_events_generation(con: duckdb.DuckDBPyConnection) -> None:
    """marts.event_units now follows marts.events as it is: its generation, from which the next update of
    marts.events can be followed with the records it took again."""
    con.execute("INSERT OR REPLACE INTO marts.build_info VALUES (?, ?)", [EVENTS_KEY, events.generation(con)])


# ---------------------------------------------------------------------------------------------------------
# Grid cells for the grid-cell statistics
# ---------------------------------------------------------------------------------------------------------


def grid_cells(con: duckdb.DuckDBPyConnection) -> pl.DataFrame:
    """Every grid cell of marts.units (agency, unit_id, ix, iy, area_m2), ordered by agency and unit_id."""
    return con.execute("SELECT agency, unit_id, ix, iy, area_m2 FROM marts.units WHERE unit_type = 'grid' "
                       "ORDER BY agency, unit_id").pl()


def cell_centres(cells: pl.DataFrame, settings: Settings, agency: str) -> tuple[np.ndarray, np.ndarray]:
    """Centres of the full (unclipped) squares: origin + (i + 0.5) * cell size."""
    cs = settings.sara.analysis.cell_size_m
    origin = static_units(settings)[agency]["grid"].origin
    return (origin[0] + (cells["ix"].to_numpy() + 0.5) * cs, origin[1] + (cells["iy"].to_numpy() + 0.5) * cs)
