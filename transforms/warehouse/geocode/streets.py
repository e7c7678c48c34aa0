"""Street centrelines by normalized name, and where two named streets meet.

`StreetIndex.from_frame(gdf, name_field)` takes centrelines in a metric CRS (the warehouse's analysis CRS).
Rows without a name are left out (TIGER has many: ramps, alleys). Lines of one normalized name are merged.

A name is found by its normalized form, or, when the asked name has no such street, by its base name
(AMITY -> AMITY RD; a base name shared by several streets, PARK ST and PARK AVE, matches them all and lets
the crossing test decide).

`meet(a, b)` is the point where two named streets meet:
- their crossings (and touching ends) are clustered: points closer than `cluster_m` are one meeting;
- one meeting: its centre; precision `MEET_PRECISION_M` plus half the cluster's spread;
- several meetings: ambiguous ("ambiguous intersection: 2 crossings 1.4 km apart"), never a guess;
- no meeting, but the lines pass within `snap_m` (TIGER lines that stop short of each other): the middle
  of the gap; farther apart: "streets do not meet".
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl
import shapely

from transforms.warehouse.geocode.names import base_names, normalize_streets

MEET_PRECISION_M = 15.0  # a crossing of two centrelines: about half a street's width from the corner
CLUSTER_M = 60.0  # crossings closer than this are one intersection (dual carriageways, small jogs)
SNAP_M = 12.0  # lines that stop this close to each other meet
# An address known only by one corner of its block (New Haven's "WELTON/INTERSECTION"): the corner, within a
# block's length. Measured on New Haven, 958 such incidents: error median 27 m, 90th percentile 119 m.
ONE_CORNER_M = 120.0


@dataclass(frozen=True)
class Meeting:
    x: float | None
    y: float | None
    precision_m: float | None
    status: str  # "ok", or why there is no point


def _fmt_m(d: float) -> str:
    return f"{d / 1000:.1f} km" if d >= 1000 else f"{d:.0f} m"


def cluster_points(xy: np.ndarray, tol: float) -> list[np.ndarray]:
    """Single-linkage clusters of points closer than tol (indices per cluster)."""
    n = len(xy)
    label = np.arange(n)
    for i in range(n):
        d = np.hypot(xy[:, 0] - xy[i, 0], xy[:, 1] - xy[i, 1])
        near = np.flatnonzero(d <= tol)
        lab = label[near].min()
        label[np.isin(label, label[near])] = lab
    return [np.flatnonzero(label == u) for u in np.unique(label)]


class StreetIndex:
    """Named centrelines: `names` (normalized), `geoms` (merged lines, metric CRS), `source` (a label)."""

    def __init__(self, names: list[str], geoms: list, source: str = "streets"):
        self.names = list(names)
        self.geoms = np.asarray(geoms, dtype=object)
        self.source = source
        self.by_name = {n: i for i, n in enumerate(self.names)}
        bases = base_names(pl.Series(self.names, dtype=pl.Utf8)).to_list()
        self.by_base: dict[str, list[int]] = {}
        for i, b in enumerate(bases):
            self.by_base.setdefault(b, []).append(i)
        self._geom: dict[str | None, object] = {}  # name -> its geometry (or None), filled as asked

    @classmethod
    def from_file(cls, path, name_field: str, crs: str, layer: str | None = None) -> StreetIndex:
        """From a line layer on disk (a shapefile without .prj is taken as lon/lat), reprojected to `crs`."""
        import geopandas as gpd

        g = gpd.read_file(path, layer=layer) if layer else gpd.read_file(path)
        if g.crs is None:
            g = g.set_crs("EPSG:4326")
        return cls.from_frame(g.to_crs(crs), name_field, source=f"streets: {Path(path).name}")

    @classmethod
    def from_frame(cls, gdf, name_field: str, source: str | None = None) -> StreetIndex:
        """From a GeoDataFrame of lines (metric CRS) with a street-name column."""
        if name_field not in gdf.columns:
            raise ValueError(f"streets layer has no field {name_field!r} (fields: {list(gdf.columns)})")
        if gdf.crs is not None and not gdf.crs.is_projected:
            raise ValueError(f"streets layer must be in a metric CRS, got {gdf.crs} (reproject it first)")
        names = normalize_streets(pl.Series([None if v is None or v != v else str(v) for v in gdf[name_field]],
                                            dtype=pl.Utf8))
        geoms = np.asarray(gdf.geometry.values, dtype=object)
        frame = pl.DataFrame({"name": names, "i": np.arange(len(names))}).drop_nulls("name")
        out_names, out_geoms = [], []
        for (name,), g in frame.group_by("name", maintain_order=True):
            merged = shapely.line_merge(shapely.union_all(geoms[g["i"].to_numpy()]))
            out_names.append(name)
            out_geoms.append(merged)
        return cls(out_names, out_geoms, source or f"streets: {name_field}")

    def lookup(self, street: str | None) -> list[int]:
        """Indices of the centrelines a normalized street name matches (empty: unmatched)."""
        if not street:
            return []
        if street in self.by_name:
            return [self.by_name[street]]
        b = base_names(pl.Series([street], dtype=pl.Utf8))[0]
        return list(self.by_base.get(b, []))

    def geometry(self, street: str | None):
        """The merged centreline(s) of a name, or None when unmatched."""
        if street not in self._geom:
            ids = self.lookup(street)
            self._geom[street] = (None if not ids else self.geoms[ids[0]] if len(ids) == 1
                                  else shapely.union_all(self.geoms[ids]))
        return self._geom[street]

    def meet(self, a: str, b: str, cluster_m: float = CLUSTER_M, snap_m: float = SNAP_M) -> Meeting:
        """Where streets a and b (normalized names) meet; see the module docstring."""
        ga, gb = self.geometry(a), self.geometry(b)
        for name, g in ((a, ga), (b, gb)):
            if g is None:
                return Meeting(None, None, None, f"unmatched street: {name}")
        cross = shapely.intersection(ga, gb)
        pts = shapely.get_coordinates(cross) if not cross.is_empty else np.empty((0, 2))
        if len(pts) == 0:
            d = shapely.distance(ga, gb)
            if d > snap_m:
                return Meeting(None, None, None, f"unmatched intersection: {a} and {b} do not meet "
                                                 f"(closest {_fmt_m(d)})")
            p1, p2 = shapely.get_coordinates(shapely.shortest_line(ga, gb))
            return Meeting(float((p1[0] + p2[0]) / 2), float((p1[1] + p2[1]) / 2), MEET_PRECISION_M + d / 2,
                           "ok")
        groups = cluster_points(pts, cluster_m)
        if len(groups) > 1:
            centres = np.array([pts[g].mean(axis=0) for g in groups])
            far = max(float(np.hypot(*(c - e))) for c in centres for e in centres)
            return Meeting(None, None, None, f"ambiguous intersection: {len(groups)} crossings {_fmt_m(far)} apart")
        c = pts.mean(axis=0)
        spread = float(np.hypot(pts[:, 0] - c[0], pts[:, 1] - c[1]).max())
        return Meeting(float(c[0]), float(c[1]), MEET_PRECISION_M + spread, "ok")

    def between(self, street: str, a: str, b: str) -> Meeting:
        """The middle of `street` between its meetings with cross streets a and b (New Haven's cross-street
        pair: the block the address is on). Precision: half the block's length plus the corner precision."""
        m1, m2 = self.meet(street, a), self.meet(street, b)
        for m in (m1, m2):
            if m.status != "ok":
                return m
        line = self.geometry(street)
        p1, p2 = shapely.points(m1.x, m1.y), shapely.points(m2.x, m2.y)
        parts = shapely.get_parts(line)
        d = shapely.distance(parts, p1) + shapely.distance(parts, p2)
        part = parts[int(np.argmin(d))]
        if d.min() < 2 * SNAP_M:
            s1, s2 = shapely.line_locate_point(part, p1), shapely.line_locate_point(part, p2)
            mid = shapely.line_interpolate_point(part, (s1 + s2) / 2)
            half = abs(s2 - s1) / 2
        else:  # the two corners are on different pieces of the street: the point nearest their middle
            mid = shapely.points((m1.x + m2.x) / 2, (m1.y + m2.y) / 2)
            mid = shapely.line_interpolate_point(line, shapely.line_locate_point(line, mid)) \
                if line.geom_type == "LineString" else shapely.get_point(shapely.shortest_line(line, mid), 0)
            half = float(np.hypot(m1.x - m2.x, m1.y - m2.y)) / 2
        return Meeting(float(shapely.get_x(mid)), float(shapely.get_y(mid)), MEET_PRECISION_M + half, "ok")

    def corner(self, street: str, a: str) -> Meeting:
        """Where `street` meets cross street a, for an address known only by that corner of its block."""
        m = self.meet(street, a)
        return m if m.status != "ok" else Meeting(m.x, m.y, m.precision_m + ONE_CORNER_M, "ok")

    def centre(self, street: str) -> Meeting:
        """The point of the street nearest its centroid; precision: the street's length."""
        g = self.geometry(street)
        if g is None:
            return Meeting(None, None, None, f"unmatched street: {street}")
        p = shapely.get_point(shapely.shortest_line(g, shapely.centroid(g)), 0)
        return Meeting(float(shapely.get_x(p)), float(shapely.get_y(p)), float(g.length), "ok")
