"""The report's interactive hot spot maps: one Leaflet map per agency and dataset (calls, incidents), drawn over
the agency's own layers (boundary, beat/district polygons, streets), with layers to toggle (Gi* hot spots,
KDE, repeat locations, near-repeat chains, problems' areas) and a popup per cell or point.

What ships in the page is small on purpose (the demo report stays under 5 MB):
- one slice per map: the default slice (transforms/outputs/slice.py: the 28-day window or the nearest
  configured one, all categories, [analysis] default_origin; 'all' where a dataset has no such origin, as
  incidents do) for the colours, never every window x group x origin;
- only the cells with an event, a non-zero Gi* bin or a density of at least KDE_SHOW_SHARE of the highest;
  the rest of the agency is the boundary, filled with the 'not significant' colour;
- per cell only its popup facts: counts per window, z and bin, origin split, its most frequent block
  addresses; the top TOP_LABELS hot cells are labelled with their most frequent address;
- geometry simplified in the analysis CRS (DISPLAY_TOLERANCE_M metres) before it is reprojected to WGS 84,
  coordinates rounded to DECIMALS decimals (about a metre).

Leaflet (vendor/leaflet, LEAFLET_VERSION, BSD 2-Clause) is inlined with the page's own script (webmap.js):
no tiles and no CDN, the agency's layers are the basemap; points are circle markers, so no image is asked for.
A layer a warehouse lacks (an older warehouse, a mart not built) is left out of the map, not the whole map.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from importlib.resources import files
from zoneinfo import ZoneInfo

from transforms.outputs.palette import GI_BIN_COLOURS, GI_BIN_LABELS
from transforms.outputs.report.markup import Missing, esc
from transforms.outputs.report.reads import Ctx, fetch, hot_choice, pick, qcols, require, table_columns
from transforms.outputs.slice import default_slice

LEAFLET_VERSION = "1.9.4"
DISPLAY_TOLERANCE_M = 5.0   # simplification of the context layers, metres, in the analysis CRS
DECIMALS = 5                # rounding of WGS 84 degrees: 1e-5 degree is about 1.1 m of latitude
KDE_SHOW_SHARE = 0.05       # a cell's density must reach this share of the map's highest to be drawn
TOP_LABELS = 5              # hot cells labelled with their most frequent block address
LABEL_CANDIDATES = 20       # the hottest cells (one per address) a drawn label may go to
LABEL_POOL = 50             # the hot cells those are chosen from
TOP_ADDRESSES = 3           # block addresses in a cell's popup
TOP_REPEATS = 50            # repeat locations drawn (by rank)
MAX_CHAINS = 100            # near-repeat chains drawn (the longest)
AREA_LABELS_MAX = 60        # polygon layers with more features than this are drawn without labels
MIN_HOLE_M2 = 50_000.0      # holes of the boundary smaller than this (5 ha) are slivers: not drawn
CONTEXT_TYPES = ("grid", "h3", "street")   # unit types of marts.units that are not polygon layers

_VENDOR = files(__package__).joinpath("vendor", "leaflet")


def leaflet_assets() -> tuple[str, str]:
    """(css, js) of the vendored Leaflet as inlined: the source-map comment dropped and the stylesheet's
    url(...) references (images that are not shipped) replaced by `none`, so nothing is requested."""
    css = _VENDOR.joinpath("leaflet.css").read_text(encoding="utf-8")
    js = _VENDOR.joinpath("leaflet.js").read_text(encoding="utf-8")
    css = re.sub(r"url\((?!data:)[^)]*\)", "none", css)
    js = re.sub(r"//# sourceMappingURL=\S*", "", js)
    if "</script" in js.lower() or "</style" in css.lower():
        raise ValueError("the vendored Leaflet cannot be inlined: it holds a closing tag")
    return css, js


# ------------------------------------------------------------------------------------------------ geometry

def _ring(coords) -> list:
    import numpy as np

    a = np.round(np.asarray(coords, dtype=float)[:, [1, 0]], DECIMALS)
    return a.tolist()


def _shape(g) -> list | None:
    """[lat, lon] nesting Leaflet takes: polygons as [[ring, hole...], ...], lines as [[point...], ...]."""
    if g is None or g.is_empty:
        return None
    t = g.geom_type
    if t == "Point":
        return _ring([(g.x, g.y)])[0]
    if t == "Polygon":
        return [[_ring(r.coords) for r in (g.exterior, *g.interiors)]]
    if t == "LineString":
        return [_ring(g.coords)]
    if t in ("MultiPolygon", "MultiLineString", "GeometryCollection"):
        parts = [p for part in g.geoms if (s := _shape(part)) for p in s]
        return parts or None
    return None


def to_latlng(geoms: list, crs: str, tolerance_m: float = 0.0) -> list:
    """Shapely geometries in `crs` (metres) as Leaflet coordinates: simplified by tolerance_m, then WGS 84."""
    import geopandas as gpd

    if not geoms:
        return []
    s = gpd.GeoSeries(geoms, crs=crs)
    if tolerance_m > 0:
        s = s.simplify(tolerance_m, preserve_topology=True)
    return [_shape(g) for g in s.to_crs("EPSG:4326")]


def polylabel_point(g):
    """A point well inside a polygon (the pole of inaccessibility of its largest part), for its label."""
    from shapely.ops import polylabel

    part = max(getattr(g, "geoms", [g]), key=lambda p: p.area)
    return polylabel(part, tolerance=max(1.0, part.length / 1000))


def _without_slivers(g):
    """The boundary without the holes smaller than MIN_HOLE_M2: the gaps a union of neighbourhoods or districts
    leaves between them, which would draw as stray dashes across the map (display only)."""
    from shapely.geometry import MultiPolygon, Polygon

    if g is None or g.geom_type not in ("Polygon", "MultiPolygon"):
        return g
    parts = [Polygon(p.exterior, [r for r in p.interiors if Polygon(r).area >= MIN_HOLE_M2])
             for p in getattr(g, "geoms", [g])]
    return parts[0] if len(parts) == 1 else MultiPolygon(parts)


def _wkb(rows: list[dict], key: str = "g") -> list:
    from shapely import wkb

    return [wkb.loads(bytes(r[key])) if r[key] is not None else None for r in rows]


# ------------------------------------------------------------------------------------------ agency context

def _crs(c: Ctx, agency: str) -> str | None:
    if table_columns(c.con, "meta.agency_areas"):
        r = fetch(c.con, "SELECT crs FROM meta.agency_areas WHERE agency = ? AND crs IS NOT NULL", [agency])
        if r:
            return str(r[0]["crs"])
    a = c.settings.sara.agencies.get(agency)
    return a.crs if a is not None else None


def _context(c: Ctx, agency: str, crs: str) -> dict:
    """The agency's boundary, polygon layers (beat, district...), streets and problems' areas."""
    out: dict = {"boundary": None, "areas": [], "streets": None, "problems": []}
    if table_columns(c.con, "meta.agency_areas"):
        rows = fetch(c.con, "SELECT ST_AsWKB(geom) AS g FROM meta.agency_areas WHERE agency = ? "
                            "AND geom IS NOT NULL", [agency])
        if rows:
            out["boundary"] = to_latlng([_without_slivers(g) for g in _wkb(rows)], crs, 2 * DISPLAY_TOLERANCE_M)[0]
    if table_columns(c.con, "marts.units"):
        rows = fetch(c.con, f"""SELECT unit_type, unit_id, name, ST_AsWKB(geom) AS g FROM marts.units
                               WHERE agency = ? AND unit_type NOT IN ({', '.join('?' * len(CONTEXT_TYPES))})
                                 AND geom IS NOT NULL AND ST_Dimension(geom) = 2
                               ORDER BY unit_type, unit_id""", [agency, *CONTEXT_TYPES])
        geoms = _wkb(rows)
        shapes = to_latlng(geoms, crs, DISPLAY_TOLERANCE_M)
        spots = to_latlng([polylabel_point(g) for g in geoms], crs)   # where each polygon's label goes
        by: dict[str, list] = defaultdict(list)
        for r, s, at in zip(rows, shapes, spots, strict=True):
            if s:
                by[r["unit_type"]].append({"id": r["unit_id"], "name": r["name"], "g": s, "at": at})
        out["areas"] = [{"type": t, "labels": len(f) <= AREA_LABELS_MAX, "features": f}
                        for t, f in sorted(by.items(), key=lambda kv: len(kv[1]))]
        streets = fetch(c.con, """SELECT ST_AsWKB(ST_Collect(list(geom))) AS g FROM marts.units
                                  WHERE agency = ? AND unit_type = 'street' AND geom IS NOT NULL
                                  HAVING count(*) > 0""", [agency])
        if streets:
            out["streets"] = to_latlng(_wkb(streets), crs, DISPLAY_TOLERANCE_M)[0]
    if table_columns(c.con, "marts.problem_areas") and "agency" in table_columns(c.con, "marts.problem_assessment"):
        rows = fetch(c.con, """SELECT a.problem, a.area, a.area_m2, ST_AsWKB(a.geom) AS g
                               FROM marts.problem_areas a
                               WHERE a.geom IS NOT NULL AND a.problem IN
                                     (SELECT problem FROM marts.problem_assessment WHERE agency = ?)
                               ORDER BY a.problem, CASE a.area WHEN 'control' THEN 0 WHEN 'buffer' THEN 1 ELSE 2 END
                            """, [agency])
        shapes = to_latlng(_wkb(rows), crs, DISPLAY_TOLERANCE_M)
        out["problems"] = [{"problem": r["problem"], "area": r["area"],
                            "km2": round(float(r["area_m2"] or 0) / 1e6, 3), "g": s}
                           for r, s in zip(rows, shapes, strict=True) if s]
    return out


# -------------------------------------------------------------------------------------------- one map's data

def _has(c: Ctx, table: str, cols: list[str]) -> bool:
    have = table_columns(c.con, table)
    return bool(have) and all(k in have for k in cols)


def _cells(c: Ctx, agency: str, dataset: str, origin: str, window: int, crs: str) -> tuple[list, dict]:
    """The cells a map ships (an event, a non-zero bin or a visible density) and the map's counts."""
    args = [agency, dataset, origin, window]
    kde = ("SELECT unit_id, density_km2 FROM marts.kde_rows WHERE agency = ? AND dataset = ? "
           "AND category_group = 'all' AND origin = ? AND window_days = ?")
    if not _has(c, "marts.kde_rows", ["agency", "unit_id", "dataset", "category_group", "origin", "window_days",
                                      "density_km2"]):
        kde, kargs = "SELECT NULL::VARCHAR AS unit_id, NULL::DOUBLE AS density_km2 WHERE false", []
    else:
        kargs = args
    head = f"""WITH h AS (SELECT unit_id, n, z, gi_bin, geom FROM marts.hotspots
                          WHERE agency = ? AND unit_type = 'grid' AND dataset = ? AND category_group = 'all'
                            AND origin = ? AND window_days = ? AND geom IS NOT NULL),
                    k AS ({kde}), m AS (SELECT max(density_km2) AS top FROM k)"""
    rows = fetch(c.con, f"""{head}
                           SELECT h.unit_id, h.n, h.z, h.gi_bin, k.density_km2 AS kde, ST_AsWKB(h.geom) AS g
                           FROM h LEFT JOIN k USING (unit_id) CROSS JOIN m
                           WHERE coalesce(h.n, 0) > 0 OR coalesce(h.gi_bin, 0) <> 0
                              OR k.density_km2 >= ? * m.top
                           ORDER BY abs(coalesce(h.gi_bin, 0)), h.z, h.unit_id""",
                 [*args, *kargs, KDE_SHOW_SHARE])
    stats = fetch(c.con, f"""{head}
                            SELECT count(*) AS cells, count_if(gi_bin > 0) AS hot,
                                   count_if(gi_bin > 0 AND coalesce(n, 0) = 0) AS hot_empty,
                                   (SELECT top FROM m) AS kde_max FROM h""", [*args, *kargs])[0]
    shapes = to_latlng(_wkb(rows), crs)
    cells = []
    for r, s in zip(rows, shapes, strict=True):
        if not s:
            continue
        cell = {"id": r["unit_id"], "g": s, "b": max(-3, min(3, int(r["gi_bin"] or 0))), "n": int(r["n"] or 0)}
        if r["z"] is not None and r["z"] == r["z"]:
            cell["z"] = round(float(r["z"]), 2)
        if r["kde"] is not None:
            cell["k"] = round(float(r["kde"]), 3)
        cells.append(cell)
    return cells, stats


def _facts(c: Ctx, agency: str, dataset: str, origin: str, window: int, cells: list[dict]) -> None:
    """Each cell's popup facts, in place: counts per window (w), origin split (o), top addresses (a); and the
    ranks (r) and labels (label) of the TOP_LABELS hottest cells (by z, with an event of their own); and the
    cells whose label the map may draw (tip): the hottest, one per address, LABEL_CANDIDATES at most. The
    page draws TOP_LABELS of them at a time, the hottest first, skipping any that would overlap one drawn
    at the current zoom (webmap.js), so the labels name distinct places."""
    by = {cell["id"]: cell for cell in cells}
    if _has(c, "marts.hotspot_count_rows", ["agency", "unit_type", "unit_id", "dataset", "category_group",
                                             "origin", "window_days", "n"]):
        for r in fetch(c.con, """SELECT unit_id, origin, window_days, n FROM marts.hotspot_count_rows
                                 WHERE agency = ? AND unit_type = 'grid' AND dataset = ?
                                   AND category_group = 'all' AND (origin = ? OR window_days = ?)""",
                       [agency, dataset, origin, window]):
            cell = by.get(r["unit_id"])
            if cell is None:
                continue
            if r["origin"] == origin:
                cell.setdefault("w", {})[str(int(r["window_days"]))] = int(r["n"])
            if int(r["window_days"]) == window and r["origin"] != "all":
                cell.setdefault("o", {})[r["origin"]] = int(r["n"])
    if (_has(c, "marts.events", ["dataset", "source", "event_id", "agency", "origin", "address_block",
                                 "local_date"])
            and _has(c, "marts.event_units", ["dataset", "source", "event_id", "unit_type", "unit_id"])
            and _has(c, "marts.windows", ["agency", "window_days", "start_date", "end_date"])):
        for r in fetch(c.con, """SELECT u.unit_id, e.address_block, count(*) AS n
                                 FROM marts.events e
                                 JOIN marts.event_units u ON u.dataset = e.dataset AND u.source = e.source
                                  AND u.event_id = e.event_id AND u.unit_type = 'grid'
                                 JOIN marts.windows w ON w.agency = e.agency AND w.window_days = ?
                                 WHERE e.agency = ? AND e.dataset = ? AND (? = 'all' OR e.origin = ?)
                                   AND e.local_date BETWEEN w.start_date AND w.end_date
                                   AND e.address_block IS NOT NULL
                                 GROUP BY u.unit_id, e.address_block
                                 QUALIFY row_number() OVER (PARTITION BY u.unit_id
                                                            ORDER BY count(*) DESC, e.address_block) <= ?
                                 ORDER BY u.unit_id, n DESC, e.address_block""",
                              [window, agency, dataset, origin, origin, TOP_ADDRESSES]):
            cell = by.get(r["unit_id"])
            if cell is not None:
                cell.setdefault("a", []).append([r["address_block"], int(r["n"])])
    hot = sorted((x for x in cells if x["b"] > 0 and x["n"] > 0 and "z" in x), key=lambda x: (-x["z"], x["id"]))
    hot = hot[:LABEL_POOL]
    areas = _area_names(c, agency, dataset, origin, window, [x["id"] for x in hot if not x.get("a")])
    seen: set[str] = set()
    for rank, cell in enumerate(hot, 1):
        label = cell["a"][0][0] if cell.get("a") else areas.get(cell["id"], f"hot cell {rank}")
        if rank <= TOP_LABELS:
            cell["r"], cell["label"] = rank, label
        if label not in seen and len(seen) < LABEL_CANDIDATES:
            cell["label"], cell["tip"] = label, 1
            seen.add(label)


def _area_names(c: Ctx, agency: str, dataset: str, origin: str, window: int, ids: list[str]) -> dict[str, str]:
    """A label for top cells whose events carry no block address (Chicago's feed has none): the most frequent
    beat (else district) of its events in the window (marts.events), e.g. 'beat 0421'."""
    if not ids or not (_has(c, "marts.events", ["dataset", "source", "event_id", "agency", "origin", "beat",
                                                 "district", "local_date"])
                       and _has(c, "marts.event_units", ["dataset", "source", "event_id", "unit_type", "unit_id"])
                       and _has(c, "marts.windows", ["agency", "window_days", "start_date", "end_date"])):
        return {}
    out = {}
    for col in ("beat", "district"):
        rows = fetch(c.con, f"""SELECT u.unit_id, e.{qcols([col])} AS v FROM marts.events e
                                JOIN marts.event_units u ON u.dataset = e.dataset AND u.source = e.source
                                 AND u.event_id = e.event_id AND u.unit_type = 'grid'
                                JOIN marts.windows w ON w.agency = e.agency AND w.window_days = ?
                                WHERE e.agency = ? AND e.dataset = ? AND (? = 'all' OR e.origin = ?)
                                  AND e.local_date BETWEEN w.start_date AND w.end_date
                                  AND e.{qcols([col])} IS NOT NULL AND u.unit_id IN ({', '.join('?' * len(ids))})
                                GROUP BY u.unit_id, v
                                QUALIFY row_number() OVER (PARTITION BY u.unit_id ORDER BY count(*) DESC, v) = 1""",
                     [window, agency, dataset, origin, origin, *ids])
        for r in rows:
            out.setdefault(r["unit_id"], f"{col} {r['v']}")
    return out


def _repeats(c: Ctx, agency: str, dataset: str, origin: str) -> list[dict]:
    """The top repeat locations (by rank) of the map's origin (else 'all'), all categories."""
    cols = table_columns(c.con, "marts.repeat_location_rows")
    if not all(k in cols for k in ("agency", "dataset", "category_group", "origin", "lon", "lat", "rank",
                                   "n_repeat_window")):
        return []
    avail = [r["origin"] for r in fetch(c.con, """SELECT DISTINCT origin FROM marts.repeat_location_rows
                                                 WHERE agency = ? AND dataset = ? AND category_group = 'all'""",
                                        [agency, dataset])]
    o = pick(sorted(avail), [origin, "all"])
    ag = c.settings.sara.agencies.get(agency)
    tz = ZoneInfo(ag.timezone) if ag is not None else None
    windows = [k for k in cols if re.fullmatch(r"n_\d+d", k)]
    extra = [k for k in ("address_block", "location_label", "n_repeat_window_all", "first_seen", "last_seen")
             if k in cols]
    pick_cols = qcols(["lon", "lat", "rank", "n_repeat_window", *extra, *windows])
    rows = fetch(c.con, f"""SELECT {pick_cols} FROM marts.repeat_location_rows
                            WHERE agency = ? AND dataset = ? AND category_group = 'all' AND origin = ?
                              AND lon IS NOT NULL AND lat IS NOT NULL AND n_repeat_window > 0
                            ORDER BY rank LIMIT ?""", [agency, dataset, o, TOP_REPEATS])
    out = []
    for r in rows:
        p = {"ll": [round(float(r["lat"]), DECIMALS), round(float(r["lon"]), DECIMALS)], "rank": int(r["rank"]),
             "n": int(r["n_repeat_window"]), "origin": o,
             "addr": r.get("location_label") or r.get("address_block") or "",
             "w": {k[2:-1]: int(r[k]) for k in windows if r[k] is not None}}
        if r.get("n_repeat_window_all") is not None:
            p["n_all"] = int(r["n_repeat_window_all"])
        for k in ("first_seen", "last_seen"):
            if r.get(k) is not None:
                p[k] = r[k].astimezone(tz).date().isoformat() if tz and r[k].tzinfo else r[k].date().isoformat()
        out.append(p)
    return out


def _chains(c: Ctx, agency: str, dataset: str) -> list[dict]:
    """The longest near-repeat chains (marts.near_repeat_events) of the dataset, their events in time order."""
    if not (_has(c, "marts.near_repeat_events", ["label", "chain_id", "n_in_chain", "source", "event_id",
                                                 "agency", "dataset", "category_group"])
            and _has(c, "marts.events", ["source", "event_id", "dataset", "lat", "lon", "event_at", "local_date"])):
        return []
    rows = fetch(c.con, """WITH ch AS (SELECT * FROM marts.near_repeat_events
                                       WHERE agency = ? AND dataset = ? AND n_in_chain >= 2),
                                top AS (SELECT DISTINCT category_group, chain_id, n_in_chain FROM ch
                                        ORDER BY n_in_chain DESC, category_group, chain_id LIMIT ?)
                           SELECT ch.category_group, ch.chain_id, ch.label, e.lat, e.lon, e.local_date
                           FROM ch JOIN top USING (category_group, chain_id)
                           JOIN marts.events e ON e.source = ch.source AND e.event_id = ch.event_id
                            AND e.dataset = ch.dataset
                           WHERE e.lat IS NOT NULL AND e.lon IS NOT NULL
                           ORDER BY top.n_in_chain DESC, ch.category_group, ch.chain_id, e.event_at""",
                 [agency, dataset, MAX_CHAINS])
    chains: dict[tuple, dict] = {}
    for r in rows:
        ch = chains.setdefault((r["category_group"], r["chain_id"]),
                               {"group": r["category_group"], "id": int(r["chain_id"]), "pts": []})
        ch["pts"].append([round(float(r["lat"]), DECIMALS), round(float(r["lon"]), DECIMALS),
                          r["local_date"].isoformat(), r["label"]])
    return [ch for ch in chains.values() if len(ch["pts"]) >= 2]


# ------------------------------------------------------------------------------------------------ the page

MAP_CSS = """
#map .sara-map{height:560px;border:1px solid #bbb;background:#fff;margin:4px 0}
#map .leaflet-container{background:#fff;font:12px/1.4 system-ui,Arial,sans-serif}
#map .leaflet-pane > svg{pointer-events:none;background:none}
#map .leaflet-control-layers-separator{display:none}
#map .sara-label{font-size:11px;padding:1px 4px;background:rgba(255,255,255,.9);border:1px solid #b2182b}
#map .sara-area-label{font-size:10px;color:#333;white-space:nowrap;text-align:center;text-shadow:0 0 3px #fff}
#map .sara-legend{background:#fff;padding:6px 8px;border:1px solid #bbb;border-radius:3px;line-height:1.5}
#map .sara-legend i{display:inline-block;width:12px;height:10px;margin-right:5px;border:1px solid #999}
#map .sara-popup table{margin:2px 0}
#map .sara-popup td,#map .sara-popup th{padding:1px 4px;white-space:nowrap}
#map ol.sara-top{font-size:12px;margin:2px 0 12px 0}
#map ol.sara-top button{font:inherit;background:none;border:none;color:#1d3557;text-decoration:underline;
  cursor:pointer;padding:0}
@media print{#map .leaflet-control-zoom,#map .leaflet-control-layers{display:none}}
"""


def _map_for(c: Ctx, agency: str, dataset: str, crs: str, idx: str) -> tuple[dict, str] | None:
    """One map's payload and its HTML (title, what it shows, the map's div, the list of its top cells)."""
    from transforms.outputs.slice import Slice

    sl = default_slice(c.settings)
    choice = hot_choice(c, "marts.hotspots", agency, [sl.origin, "all"], dataset, sl.window_days)
    if choice is None:
        return None
    origin, window = choice
    cells, stats = _cells(c, agency, dataset, origin, window, crs)
    _facts(c, agency, dataset, origin, window, cells)
    words = Slice(window, "all", origin).words(dataset)
    m = {"dataset": dataset, "origin": origin, "window_days": window, "words": words, "div": idx,
         "windows": sorted(c.settings.sara.windows_days),
         "cells": cells, "kde_max": stats["kde_max"], "repeats": _repeats(c, agency, dataset, origin),
         "chains": _chains(c, agency, dataset)}
    what = "calls" if dataset == "calls" else "events"
    sub = (f"{words} to {c.agency_as_of(agency).isoformat()}: {int(stats['cells']):,} cells, "
           f"{int(stats['hot']):,} hot, {int(stats['hot_empty']):,} of them with no {what} of their own.")
    top = sorted((x for x in cells if x.get("r")), key=lambda x: x["r"])
    items = "".join(f'<li><button type="button" data-cell="{esc(x["id"])}">{esc(x["label"])}</button> '
                    f'(z {x.get("z", "")}, {x["n"]:,} {esc(what)} in {window} days)</li>' for x in top)
    html = (f"<h4>{esc(c.name(agency))}: {esc(dataset)}</h4><p class=\"how\">{esc(sub)}</p>"
            f'<div class="sara-map" id="{esc(idx)}" role="region" aria-label="{esc(c.name(agency))} '
            f'{esc(dataset)} hot spot map"></div>'
            + (f'<p class="how">Top hot cells (click to zoom):</p><ol class="sara-top" data-map="{esc(idx)}">'
               f"{items}</ol>" if items else ""))
    return m, html


def map_section(c: Ctx) -> str:
    """The whole map section: one map per agency and dataset with grid hot spots, Leaflet inlined once."""
    require(c.con, "marts.hotspots", ["agency", "unit_type", "unit_id", "dataset", "category_group", "origin",
                                    "window_days", "n", "z", "gi_bin", "geom"])
    rows = fetch(c.con, """SELECT DISTINCT agency, dataset FROM marts.hotspots
                           WHERE unit_type = 'grid' AND category_group = 'all' ORDER BY 1, 2""")
    if not rows:
        raise Missing("marts.hotspots has no grid rows")
    agencies, parts = [], []
    order = list(c.names) + sorted({r["agency"] for r in rows} - set(c.names))
    for ag in order:
        datasets = [r["dataset"] for r in rows if r["agency"] == ag]
        if not datasets:
            if ag in c.names:
                why = c.status.get(("hotspots", ag), (None, "no grid hot spots in marts.hotspots"))[1]
                parts.append(f'<p class="na">Not available for {esc(c.name(ag))}: {esc(why)}.</p>')
            continue
        crs = _crs(c, ag)
        if crs is None:
            parts.append(f'<p class="na">Not available for {esc(c.name(ag))}: no analysis CRS known for the agency '
                         '(agencies.&lt;code&gt;.crs), so no map can be drawn.</p>')
            continue
        maps, html = [], []
        for ds in datasets:
            one = _map_for(c, ag, ds, crs, f"sara-map-{len(agencies)}-{len(maps)}")
            if one is not None:
                maps.append(one[0])
                html.append(one[1])
        if not maps:
            continue
        agencies.append({"agency": ag, "name": c.name(ag), **_context(c, ag, crs), "maps": maps})
        parts.append(f"<h3>{esc(c.name(ag))}</h3>{''.join(html)}")
    payload = {"palette": {str(b): GI_BIN_COLOURS[b] for b in range(-3, 4)},
               "bins": {str(b): GI_BIN_LABELS[b] for b in range(-3, 4)}, "top_labels": TOP_LABELS,
               "agencies": agencies}
    data = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).replace("<", "\\u003c")
    css, js = leaflet_assets()
    own = files(__package__).joinpath("webmap.js").read_text(encoding="utf-8")
    how = ("Drag to pan, scroll or +/- to zoom; tick layers on and off (top right); click a cell or a point for "
           "its counts by window, Gi* z and bin, top addresses and origin split. Cells are coloured by "
           "Getis-Ord Gi* confidence (red: more events around the cell than chance, blue: fewer); the "
           "agency's own boundary, beats, districts and streets are the background (no web tiles).")
    return (f'<section id="map"><style>{css}{MAP_CSS}</style><p class="how">{esc(how)}</p>{"".join(parts)}'
            f'<noscript><p class="how">The maps need JavaScript; the lists of top cells above read without it.</p></noscript>'
            f'<script type="application/json" id="sara-map-data">{data}</script>'
            f"<script>{js}</script><script>{own}</script></section>")
