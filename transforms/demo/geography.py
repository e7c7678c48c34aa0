"""The geography of Riverton: boundaries, the street grid and its addresses, county roads, districts and
beats, and the GeoJSON layers written for them.

Geometry is built in a local metric plane (metres east/north of the city centre) and mapped to WGS84
with a fixed affine transform (local tangent-plane scale at the centre), so the street grid is aligned
with true north and containment tests in lon/lat are exact.

Locations are integer ids. Metro: every house number on the grid (id = (line * BLOCKS_PER_STREET + block)
* NUMBERS_PER_BLOCK + slot) followed by every intersection. County: addresses along a few rural roads.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl
import shapely
from shapely.geometry import mapping

# ------------------------------------------------------------------- local metric plane
LON0, LAT0 = -120.51, 46.60  # the city centre
_WGS84_A, _WGS84_E2 = 6378137.0, 6.69437999014e-3  # semi-major axis (m), first eccentricity squared
_SIN_LAT0 = math.sin(math.radians(LAT0))
M_PER_DEG_LAT = math.pi / 180 * _WGS84_A * (1 - _WGS84_E2) / (1 - _WGS84_E2 * _SIN_LAT0 * _SIN_LAT0) ** 1.5
M_PER_DEG_LON = (math.pi / 180 * _WGS84_A * math.cos(math.radians(LAT0))
                 / math.sqrt(1 - _WGS84_E2 * _SIN_LAT0 * _SIN_LAT0))


def to_lonlat(x, y):
    """Local metres -> (lon, lat) arrays."""
    return LON0 + np.asarray(x, float) / M_PER_DEG_LON, LAT0 + np.asarray(y, float) / M_PER_DEG_LAT


def geometry_to_lonlat(g, digits: int | None = None):
    """Map a geometry from the local plane to lon/lat (optionally rounded; polygons are not
    rounded so that districts and beats keep tiling the boundary exactly)."""

    def transform(coords):
        ll = np.column_stack(to_lonlat(coords[:, 0], coords[:, 1]))
        return ll if digits is None else np.round(ll, digits)

    return shapely.transform(g, transform)


# ------------------------------------------------------------------------ the city grid
# City: 12 km x 9 km octagon with a notch in the south edge.  County: east of it.
CITY_HALF_WIDTH_M, CITY_HALF_HEIGHT_M, BLOCK_M = 6000, 4500, 200
CITY_RING = [(-4500, -4500), (-1100, -4500), (-1100, -3800), (700, -3800), (700, -4500),
             (4500, -4500), (6000, -3000), (6000, 3000), (4500, 4500), (-4500, 4500),
             (-6000, 3000), (-6000, -3000)]
COUNTY_RING = [(6000, -4500), (16000, -4500), (16000, 3000), (14500, 4500), (6000, 4500)]
N_STREETS, N_AVENUES = 44, 59  # E-W streets, N-S avenues
BLOCKS_PER_STREET, BLOCKS_PER_AVENUE = 60, 45  # blocks along an E-W street / a N-S avenue
NUMBERS_PER_BLOCK = 50  # house-number slots on a block: 25 even, then 25 odd
HOUSE_OFFSET = np.r_[2 + 4 * np.arange(25), 1 + 4 * np.arange(25)]  # house number within the block, by slot
HOUSE_SIDE = np.r_[np.ones(25), -np.ones(25)]  # even numbers north/east side, odd south/west


def _ordinal(n: int) -> str:
    suffix = "TH" if 10 <= n % 100 <= 20 else {1: "ST", 2: "ND", 3: "RD"}.get(n % 10, "TH")
    return f"{n}{suffix}"


TREES = ["ALDER", "ASPEN", "BIRCH", "CEDAR", "CHERRY", "CHESTNUT", "CYPRESS", "DOGWOOD", "ELM",
         "FIR", "HAWTHORN", "HAZEL", "HEMLOCK", "HICKORY", "JUNIPER", "LARCH", "LAUREL", "LINDEN",
         "LOCUST", "MAGNOLIA", "MAPLE", "MULBERRY", "OAK", "PINE", "POPLAR", "SPRUCE", "SYCAMORE",
         "WALNUT"]
EASTS = ["ADAMS", "BAKER", "CASCADE", "COLUMBIA", "DIVISION", "FAIRVIEW", "FRUITVALE", "GARFIELD",
         "GRANT", "HARRISON", "JEFFERSON", "KENNEDY", "LINCOLN", "MADISON", "MCKINLEY", "MONROE",
         "NACHES", "OLYMPIC", "PACIFIC", "PIERCE", "RAINIER", "SUMMITVIEW", "TAHOMA", "TIETON",
         "UNION", "VIOLA", "WASHINGTON", "WILLOW", "YAKIMA"]
STREETS = [f"{_ordinal(i)} ST" for i in range(1, N_STREETS + 1)]  # i=1..44 at y=-4500+200i
AVENUES = ["RIVER RD"] + [f"{t} AVE" for t in TREES] + ["MAIN ST"] + [f"{e} AVE" for e in EASTS]
LINE_NAMES = STREETS + AVENUES  # line L: 0..43 E-W streets, 44..102 N-S avenues (j=L-43)


class CountyRoad(NamedTuple):
    name: str
    orientation: str  # "EW" or "NS"
    coordinate_m: float  # the fixed local y (EW roads) or x (NS roads)


COUNTY_ROADS = [CountyRoad("ORCHARD RD", "EW", -3000.0), CountyRoad("CANAL RD", "EW", -500.0),
                CountyRoad("RIDGE RD", "EW", 2200.0), CountyRoad("RTE 9", "NS", 8200.0),
                CountyRoad("RTE 24", "NS", 11300.0), CountyRoad("WAPATO RD", "NS", 14100.0)]


class Beat(NamedTuple):
    beat: str
    district: str
    geometry: shapely.Geometry


class StreetSegment(NamedTuple):
    segment_id: int
    street: str
    from_addr: int
    to_addr: int


def intersection_index(x: float, y: float) -> int:
    """Index (among the metro intersections) of the grid intersection at local (x, y)."""
    i, j = round((y + CITY_HALF_HEIGHT_M) / BLOCK_M), round((x + CITY_HALF_WIDTH_M) / BLOCK_M)
    return (i - 1) * N_AVENUES + (j - 1)


class Geography:
    """Boundaries, districts/beats and the two location tables (metro grid, county roads)."""

    def __init__(self):
        self.city = shapely.Polygon(CITY_RING)
        self.county = shapely.Polygon(COUNTY_RING)
        inner_city, inner_county = self.city.buffer(-25), self.county.buffer(-50)
        shapely.prepare(inner_city)
        shapely.prepare(inner_county)
        self.city_km2 = self.city.area / 1e6
        self._metro_locations(inner_city)
        self._county_locations(inner_county)

    # ---- metro: every house number on the grid plus every intersection
    def _metro_locations(self, inner):
        line, block, slot = np.meshgrid(np.arange(N_STREETS + N_AVENUES), np.arange(BLOCKS_PER_STREET),
                                        np.arange(NUMBERS_PER_BLOCK), indexing="ij")
        line, block, slot = line.ravel(), block.ravel(), slot.ravel()
        ew = line < N_STREETS
        along = 200.0 * block + 2.0 * HOUSE_OFFSET[slot]
        side = 8.0 * HOUSE_SIDE[slot]
        fixed_y = -CITY_HALF_HEIGHT_M + BLOCK_M * (line + 1.0)
        fixed_x = -CITY_HALF_WIDTH_M + BLOCK_M * (line - N_STREETS + 1.0)
        hx = np.where(ew, -CITY_HALF_WIDTH_M + along, fixed_x + side)
        hy = np.where(ew, fixed_y + side, -CITY_HALF_HEIGHT_M + along)
        n_blocks = np.where(ew, BLOCKS_PER_STREET, BLOCKS_PER_AVENUE)
        house_number = 100 * block + HOUSE_OFFSET[slot]
        house_valid = (block < n_blocks) & shapely.contains_xy(inner, hx, hy)
        self.n_houses = len(hx)
        self.house_line = line
        i, j = np.meshgrid(np.arange(1, N_STREETS + 1), np.arange(1, N_AVENUES + 1), indexing="ij")
        i, j = i.ravel(), j.ravel()
        ix, iy = -CITY_HALF_WIDTH_M + BLOCK_M * j * 1.0, -CITY_HALF_HEIGHT_M + BLOCK_M * i * 1.0
        intersection_valid = shapely.contains_xy(inner, ix, iy)
        self.x = np.r_[hx, ix]
        self.y = np.r_[hy, iy]
        self.valid = np.r_[house_valid, intersection_valid]
        self.is_intersection = np.r_[np.zeros(len(hx), bool), np.ones(len(ix), bool)]
        names = np.array(LINE_NAMES, dtype=object)
        addr = pl.DataFrame({"n": house_number, "s": names[line]}).select(
            pl.col("n").cast(pl.Utf8) + " " + pl.col("s")).to_series()
        inter = pl.DataFrame({"a": names[N_STREETS + j - 1], "s": names[i - 1]}).select(
            pl.col("a") + " & " + pl.col("s")).to_series()
        self.address = pl.concat([addr, inter]).to_numpy()
        self._address_index = None  # built lazily
        # district letter: wedges split by the lines y = +-0.75 x through the centre
        x, y = self.x, self.y
        self.district = np.where(y >= 0.75 * np.abs(x), "N", np.where(y <= -0.75 * np.abs(x), "S",
                                                                       np.where(x > 0, "E", "W")))
        self.house_ids = np.flatnonzero(self.valid & ~self.is_intersection)
        self.intersection_ids = np.flatnonzero(self.valid & self.is_intersection)

    def location_of(self, address: str) -> int:
        if self._address_index is None:
            self._address_index = {a: n for n, a in enumerate(self.address)}
        n = self._address_index[address]
        assert self.valid[n], address
        return n

    def snap_house(self, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Nearest house number on the grid to each point (may be invalid: check .valid)."""
        i = np.clip(np.rint((y + CITY_HALF_HEIGHT_M) / BLOCK_M), 1, N_STREETS).astype(int)
        j = np.clip(np.rint((x + CITY_HALF_WIDTH_M) / BLOCK_M), 1, N_AVENUES).astype(int)
        dy, dx = y - (-CITY_HALF_HEIGHT_M + BLOCK_M * i), x - (-CITY_HALF_WIDTH_M + BLOCK_M * j)
        ew = np.abs(dy) <= np.abs(dx)
        line = np.where(ew, i - 1, N_STREETS + j - 1)
        pos = np.where(ew, x + CITY_HALF_WIDTH_M, y + CITY_HALF_HEIGHT_M)
        block = np.clip(np.floor(pos / BLOCK_M), 0, BLOCKS_PER_STREET - 1).astype(int)
        offset = (pos - BLOCK_M * block) / 2.0
        even = np.where(ew, dy, dx) >= 0
        slot = np.where(even, np.clip(np.rint((offset - 2) / 4), 0, 24),
                        25 + np.clip(np.rint((offset - 1) / 4), 0, 24))
        return (line * BLOCKS_PER_STREET + block) * NUMBERS_PER_BLOCK + slot.astype(int)

    def sample(self, rng, n: int, p_intersection=0.05, within=None) -> np.ndarray:
        """Uniform locations (houses, or intersections with probability p_intersection), optionally
        restricted to a circle (cx, cy, r)."""
        houses, intersections = self.house_ids, self.intersection_ids
        if within is not None:
            cx, cy, r = within
            houses = houses[np.hypot(self.x[houses] - cx, self.y[houses] - cy) <= r]
            intersections = intersections[np.hypot(self.x[intersections] - cx, self.y[intersections] - cy) <= r]
        p = np.broadcast_to(np.asarray(p_intersection, float), (n,))
        use_intersection = (rng.random(n) < p) & (len(intersections) > 0)
        return np.where(use_intersection, intersections[rng.integers(0, max(len(intersections), 1), n)],
                        houses[rng.integers(0, len(houses), n)])

    # ---- county: rural addresses along a few roads, 5-digit numbers
    def _county_locations(self, inner):
        xs, ys, addrs = [], [], []
        for road in COUNTY_ROADS:
            ns = road.orientation == "NS"
            pos = np.arange(-4480.0 if ns else 6020.0, 16000.0, 40.0)
            base = pos + (4500 if ns else -6000)
            for parity, side in ((0, 15.0), (1, -15.0)):
                num = 10000 + 2 * np.rint(base * 0.4).astype(int) + parity
                x = pos if not ns else np.full_like(pos, road.coordinate_m + side)
                y = pos if ns else np.full_like(pos, road.coordinate_m + side)
                xs.append(x)
                ys.append(y)
                addrs += [f"{n} {road.name}" for n in num]
        ns_roads = [r for r in COUNTY_ROADS if r.orientation == "NS"]
        ew_roads = [r for r in COUNTY_ROADS if r.orientation == "EW"]
        for a in ns_roads:
            for e in ew_roads:
                xs.append(np.array([a.coordinate_m]))
                ys.append(np.array([e.coordinate_m]))
                addrs.append(f"{a.name} & {e.name}")
        x, y = np.concatenate(xs), np.concatenate(ys)
        ok = shapely.contains_xy(inner, x, y)
        self.county_x, self.county_y = x[ok], y[ok]
        self.county_address = np.array(addrs, dtype=object)[ok]
        self.county_is_intersection = np.char.find(self.county_address.astype(str), "&") >= 0
        self.county_house_ids = np.flatnonzero(~self.county_is_intersection)
        self.county_intersection_ids = np.flatnonzero(self.county_is_intersection)

    def sample_county(self, rng, n: int, p_intersection) -> np.ndarray:
        p = np.broadcast_to(np.asarray(p_intersection, float), (n,))
        use_intersection = rng.random(n) < p
        return np.where(use_intersection,
                        self.county_intersection_ids[rng.integers(0, len(self.county_intersection_ids), n)],
                        self.county_house_ids[rng.integers(0, len(self.county_house_ids), n)])

    # ---- layers
    def districts(self) -> dict[str, shapely.Geometry]:
        big = 20000.0
        wedges = {"NORTH": [(0, 0), (big, 0.75 * big), (-big, 0.75 * big)],
                  "EAST": [(0, 0), (big, -0.75 * big), (big, 0.75 * big)],
                  "SOUTH": [(0, 0), (-big, -0.75 * big), (big, -0.75 * big)],
                  "WEST": [(0, 0), (-big, 0.75 * big), (-big, -0.75 * big)]}
        return {k: shapely.intersection(self.city, shapely.Polygon(v)) for k, v in wedges.items()}

    def beats(self, districts: dict[str, shapely.Geometry]) -> list[Beat]:
        big = 20000.0

        def rect(x0, x1, y0, y1):
            return shapely.box(x0, y0, x1, y1)

        cuts = {  # beat number -> rectangle (outer/inner x left/right of the district axis)
            "NORTH": [rect(-big, 0, 2800, big), rect(0, big, 2800, big), rect(-big, 0, -big, 2800),
                      rect(0, big, -big, 2800)],
            "SOUTH": [rect(-big, 0, -big, -2800), rect(0, big, -big, -2800), rect(-big, 0, -2800, big),
                      rect(0, big, -2800, big)],
            "EAST": [rect(3800, big, 0, big), rect(3800, big, -big, 0), rect(-big, 3800, 0, big),
                     rect(-big, 3800, -big, 0)],
            "WEST": [rect(-big, -3800, 0, big), rect(-big, -3800, -big, 0), rect(-3800, big, 0, big),
                     rect(-3800, big, -big, 0)],
        }
        out = []
        for district, geom in districts.items():
            for n, r in enumerate(cuts[district], start=1):
                out.append(Beat(f"{district[0]}{n}", district, shapely.intersection(geom, r)))
        return out

    def county_beats(self) -> list[Beat]:
        big = 30000.0
        rects = [shapely.box(0, 0, 11000, big), shapely.box(11000, 0, big, big),
                 shapely.box(0, -big, 11000, 0), shapely.box(11000, -big, big, 0)]
        return [Beat(f"C{n}", "COUNTY", shapely.intersection(self.county, r)) for n, r in enumerate(rects, 1)]

    def street_segments(self) -> list[tuple[StreetSegment, shapely.Geometry]]:
        """One segment per block face of every line, clipped to the city (tiny pieces dropped)."""
        segments, ends = [], []  # ends: (x0, y0, x1, y1)
        for line, name in enumerate(LINE_NAMES):
            ew = line < N_STREETS
            for block in range(BLOCKS_PER_STREET if ew else BLOCKS_PER_AVENUE):
                a0, a1 = BLOCK_M * block, BLOCK_M * (block + 1)
                segments.append(StreetSegment(line * 100 + block, name, 100 * block, 100 * block + 99))
                if ew:
                    y = -CITY_HALF_HEIGHT_M + BLOCK_M * (line + 1)
                    ends.append((-CITY_HALF_WIDTH_M + a0, y, -CITY_HALF_WIDTH_M + a1, y))
                else:
                    x = -CITY_HALF_WIDTH_M + BLOCK_M * (line - N_STREETS + 1)
                    ends.append((x, -CITY_HALF_HEIGHT_M + a0, x, -CITY_HALF_HEIGHT_M + a1))
        coords = np.array(ends).reshape(-1, 2, 2)
        clipped = shapely.intersection(shapely.linestrings(coords), self.city)
        keep = (shapely.get_type_id(clipped) == 1) & (shapely.length(clipped) > 1.0)
        return [(s, g) for s, g, k in zip(segments, clipped, keep, strict=True) if k]


def write_geojson(path: Path, features: list[tuple[dict, object]], digits: int | None = None) -> None:
    parts = []
    for props, geom in features:
        parts.append(json.dumps({"type": "Feature", "properties": props,
                                 "geometry": mapping(geometry_to_lonlat(geom, digits))}, sort_keys=True,
                                separators=(",", ":")))
    path.write_text('{"type":"FeatureCollection","features":[\n' + ",\n".join(parts) + "\n]}\n",
                    encoding="utf-8")


def write_layers(geo: Geography, out: Path) -> dict:
    """Write the boundary, district, beat and street layers; return their manifest entry."""
    out.mkdir(parents=True, exist_ok=True)
    districts = geo.districts()
    beats = geo.beats(districts)
    write_geojson(out / "metro_boundary.geojson", [({"name": "City of Riverton"}, geo.city)])
    write_geojson(out / "metro_districts.geojson", [({"district": k}, g) for k, g in districts.items()])
    write_geojson(out / "metro_beats.geojson", [({"beat": b.beat, "district": b.district}, b.geometry)
                                                for b in beats])
    write_geojson(out / "county_boundary.geojson", [({"name": "Riverton County Sheriff"}, geo.county)])
    write_geojson(out / "county_beats.geojson",
                  [({"beat": b.beat, "district": b.district}, b.geometry) for b in geo.county_beats()])
    segments = geo.street_segments()
    write_geojson(out / "metro_streets.geojson", [(s._asdict(), g) for s, g in segments], digits=7)
    return {"metro_boundary": "layers/metro_boundary.geojson", "metro_districts": "layers/metro_districts.geojson",
            "metro_beats": "layers/metro_beats.geojson", "metro_streets": "layers/metro_streets.geojson",
            "county_boundary": "layers/county_boundary.geojson", "county_beats": "layers/county_beats.geojson",
            "n_street_segments": len(segments), "n_metro_beats": len(beats)}
