"""marts.location_labels: a name a person can read for every place that has no address.

A place without a premise or an address is keyed by its rounded point, `XY <x> <y>` (analysis CRS, metres;
sql/core/calls.sql and incidents.sql), which tells an analyst nothing: Chicago's feed has no address at all,
so each of its repeat locations would read `XY 358840 566710`. The label names the nearest named street of
the agency's streets layer within `street_label_max_m`, "near W 79TH ST (41.75130, -87.66830)"; without a
streets layer (or a street that close) it says so and gives the point as latitude, longitude.

The raw location_key is never changed; marts.repeat_location_rows carries the label beside it.
"""

from __future__ import annotations

import re

import duckdb
import numpy as np
import polars as pl
import shapely
from pyproj import Transformer

from transforms.config import Settings
from transforms.marts.frames import groups
from transforms.marts.models import read_model
from transforms.marts.units import UnitSet, static_units
from transforms.marts.write import Mart, write_mart

XY_KEY = re.compile(r"^XY (-?\d+(?:\.\d+)?) (-?\d+(?:\.\d+)?)$")
# numbered routes that a centreline layer often draws on top of the street they run along (TIGER: "State Hwy
# 243" over "Fountain St"); of two streets equally near, the one with a local name labels the place
ROUTE_NAME = re.compile(r"^(STATE HWY|STATE RTE|US HWY|US RTE|CO RD|COUNTY RD|INTERSTATE\b|I-)", re.IGNORECASE)

LOCATION_LABELS = Mart(
    "location_labels",
    "agency VARCHAR, location_key VARCHAR, lon DOUBLE, lat DOUBLE, street VARCHAR, street_distance_m DOUBLE, "
    "location_label VARCHAR",
    "one row per agency x place without an address (location_key 'XY <x> <y>', the rounded point in the analysis "
    "CRS) in marts.events: its point as lon/lat (WGS 84), the nearest named street of the agency's streets "
    "layer within street_label_max_m (street, street_distance_m in metres; null when none or no layer) and a "
    "label to show instead of the key: 'near <street> (lat, lon)', or 'no address: point at lat, lon; ...' "
    "saying why no street is named",
    column_comments={
        "location_key": "a place without an address: 'XY <x> <y>', its rounded point in the analysis CRS "
                        "(metres)",
        "lon": "longitude of that point, WGS 84 (EPSG:4326)",
        "lat": "latitude of that point, WGS 84 (EPSG:4326)",
        "street": "the nearest named street of the agency's streets layer within street_label_max_m; null "
                  "when none or no layer",
        "street_distance_m": "distance from the point to that street, metres; null when none",
        "location_label": "what to show instead of the key: 'near <street> (lat, lon)', or 'no address: "
                          "point at lat, lon; ...' saying why no street is named",
    })


def parse_xy_keys(keys: pl.Series) -> tuple[np.ndarray, np.ndarray]:
    """x, y (analysis CRS, metres) of 'XY <x> <y>' keys; NaN for any other key."""
    parts = keys.str.extract_groups(XY_KEY.pattern)
    x = parts.struct.field("1").cast(pl.Float64, strict=False).to_numpy()
    y = parts.struct.field("2").cast(pl.Float64, strict=False).to_numpy()
    return np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)


def nearest_named_street(x: np.ndarray, y: np.ndarray, streets: UnitSet | None,
                         max_m: float) -> tuple[np.ndarray, np.ndarray]:
    """The name of the nearest street segment that has one, within max_m metres, and its distance; None / NaN
    where there is none that near (or no layer, or no names). Of segments equally near, a local name wins over a
    numbered route, then the first name in alphabetical order (so the result never depends on layer order)."""
    name = np.full(len(x), None, dtype=object)
    dist = np.full(len(x), np.nan)
    if streets is None or streets.name is None:
        return name, dist
    names = np.asarray(streets.name, dtype=object)
    named = np.array([isinstance(n, str) and n.strip() != "" and n.lower() != "nan" for n in names], dtype=bool)
    ok = np.isfinite(x) & np.isfinite(y)
    if not named.any() or not ok.any():
        return name, dist
    geoms = np.asarray(streets.geometry, dtype=object)[named]
    names = names[named]
    tree = shapely.STRtree(geoms)
    idx = np.flatnonzero(ok)
    pi, gi = tree.query_nearest(shapely.points(x[ok], y[ok]), max_distance=max_m, all_matches=True)
    if len(pi) == 0:
        return name, dist
    cand = pl.DataFrame({"p": pi, "name": [str(n).strip() for n in names[gi]],
                         "d": shapely.distance(shapely.points(x[ok][pi], y[ok][pi]), geoms[gi])})
    cand = cand.with_columns(route=pl.col("name").str.contains("(?i)" + ROUTE_NAME.pattern))
    best = cand.sort(["p", "route", "name"]).group_by("p", maintain_order=True).first()
    rows = idx[best["p"].to_numpy()]
    name[rows] = best["name"].to_numpy()
    dist[rows] = best["d"].to_numpy()
    return name, dist


def no_street_reason(streets: UnitSet | None, max_m: float) -> str:
    """Why a place without an address gets no street name."""
    if streets is None:
        return "configure a streets layer for street names"
    if streets.name is None:
        return "give the streets layer a name_field for street names"
    return f"no named street within {max_m:g} m"


def label_text(lat: float, lon: float, street: str | None, reason: str) -> str:
    """The label of one place without an address: near its street, else its point and why no street."""
    point = f"{lat:.5f}, {lon:.5f}"
    return f"near {street} ({point})" if street else f"no address: point at {point}; {reason}"


def label_places(places: pl.DataFrame, crs: str, streets: UnitSet | None, max_m: float) -> pl.DataFrame:
    """The rows of marts.location_labels for the places (agency, location_key) of one agency."""
    x, y = parse_xy_keys(places["location_key"])
    lon, lat = Transformer.from_crs(crs, "EPSG:4326", always_xy=True).transform(x, y)
    street, dist = nearest_named_street(x, y, streets, max_m)
    reason = no_street_reason(streets, max_m)
    labels = [label_text(a, o, s, reason) if np.isfinite(a) else None
              for a, o, s in zip(lat, lon, street, strict=True)]
    return places.select("agency", "location_key").with_columns(
        lon=pl.Series(np.asarray(lon, dtype=np.float64)), lat=pl.Series(np.asarray(lat, dtype=np.float64)),
        street=pl.Series(list(street), dtype=pl.String), street_distance_m=pl.Series(dist),
        location_label=pl.Series(labels, dtype=pl.String))


def build_location_labels(con: duckdb.DuckDBPyConnection, settings: Settings) -> None:
    """marts.location_labels for every place of marts.events keyed by its point (after marts.events)."""
    places = read_model(con, "inputs/address_less_places")
    max_m = settings.sara.analysis.street_label_max_m
    frames = []
    for (agency,), g in groups(places, ["agency"]):
        ag = settings.sara.agencies.get(agency)
        if ag is None:
            continue
        g = g.filter(pl.col("location_key").str.contains(XY_KEY.pattern))
        if g.is_empty():
            continue
        streets = static_units(settings)[agency].get("street")
        frames.append(label_places(g, ag.crs, streets, max_m))
    write_mart(con, LOCATION_LABELS, pl.concat(frames) if frames else None)
