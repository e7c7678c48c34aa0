"""SARA problems: one YAML file per place-based intervention, assessed with WDD, WDQ, Poisson z and the E-test.

A problem file (`config/problems/<name>.yaml`, or the folder given by `problems_dir` in sara.toml) names
the events that make up the problem (dataset + categories and/or event types, optionally one origin),
the target area, a displacement buffer ring around it, a control area, the response date and the pre and
post windows (local dates, inclusive). `build_problem_marts` writes three marts:

- marts.problem_areas       one row per problem and area ('target', 'buffer', 'control') with its polygon
                            (analysis CRS of the agency)
- marts.problem_daily       one row per problem, area and local date of the pre and post windows, with the
                            count n (zeros included)
- marts.problem_assessment  one row per problem: pre/post counts of the three areas and the measures of
                            transforms.assessment

Areas are exclusive, in the order target, buffer, control: buffer = target grown by `buffer_m` minus the
target; control = the control shape minus (target and buffer) (with `rest_of_agency: true` the shape is
the agency area). An event counts in the first area whose polygon contains its point; events outside all
three, and events without coordinates, are not counted (except for a `location_keys` target, where an
event counts in the target by its location key, located or not).

Design of the tests (kept simple, documented):
- WDD (Wheeler & Ratcliffe 2018) with control C for the target and the buffer D as the displacement area,
  whose displacement control is the same control C (one control serving both, as ptools allows). A
  control (rest of the agency, say) is usually far larger than the target, so by default
  (`control_weighting: area`) its counts are scaled by area with ptools' area weights: to the target's
  area when compared with the target and to the buffer's area when compared with the buffer, i.e.
  area_weights = (A_C/A_T, 1, A_C/A_D, 1); the WDD then stays in counts of target + buffer
  (WDD = dT - dC A_T/A_C + dD - dC A_D/A_C). `control_weighting: none` uses raw control counts (for a
  control chosen to be comparable to the target). The time weights (default 1, 1: raw counts) scale both periods; give `time_weights: [pre_days, post_days]`
  to compare rates when the windows differ in length.
- WDQ (Bowers & Johnson 2003) with the same control for target and buffer; NULL when a control count is 0.
- Poisson z of the target, 2 (sqrt(post) - sqrt(pre)) (raw counts).
- E-test of the target: one-sided "did it drop" (pre rate > post rate) and two-sided, with the time
  weights as exposures.
"""

from __future__ import annotations

import math
import re
from datetime import date, timedelta
from pathlib import Path
from typing import Literal

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import shapely
from pydantic import Field, field_validator, model_validator

from transforms.config import IDENT_RE, ConfigError, Settings, Strict, load_named_yaml
from transforms.stats.wdd import e_test, plain_language, poisson_z, wdd, wdq

__all__ = [
    "AREAS",
    "ProblemConfig",
    "build_problem_marts",
    "load_problems",
    "problem_geometries",
    "problems_dir",
    "template",
]

AREAS = ("target", "buffer", "control")
CELL_RE = re.compile(r"^-?\d+_-?\d+$")


# ---------------------------------------------------------------------------------------------------------
# Config
# ---------------------------------------------------------------------------------------------------------


class Circle(Strict):
    x: float
    y: float
    radius_m: float = Field(gt=0)


class Window(Strict):
    start: date
    end: date

    @model_validator(mode="after")
    def _order(self) -> Window:
        if self.end < self.start:
            raise ValueError(f"end {self.end} is before start {self.start}")
        return self

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def dates(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range(self.days)]


_SHAPE_KEYS = ("wkt", "path", "cells", "location_keys", "circle")


def _check_wkt(v: str | None) -> str | None:
    if v is None:
        return v
    try:
        g = shapely.from_wkt(v)
    except Exception as exc:  # shapely raises GEOSException (or ValueError) on bad text
        raise ValueError(f"not valid WKT: {exc}") from None
    if g is None or g.is_empty or g.geom_type not in ("Polygon", "MultiPolygon"):
        raise ValueError("wkt must be a non-empty POLYGON or MULTIPOLYGON")
    return v


class Shape(Strict):
    """Exactly one of wkt (analysis CRS), path (polygon file, any CRS), cells (grid unit ids),
    location_keys, or circle {x, y, radius_m} (analysis CRS)."""

    wkt: str | None = None
    path: str | None = None
    layer: str | None = Field(default=None, description="layer of a multi-layer file (with path)")
    cells: list[str] | None = None
    location_keys: list[str] | None = None
    circle: Circle | None = None

    _wkt = field_validator("wkt")(_check_wkt)

    @field_validator("cells")
    def _cells(cls, v):
        if v is not None:
            if not v:
                raise ValueError("cells must list at least one grid cell id")
            bad = [c for c in v if not CELL_RE.match(c)]
            if bad:
                raise ValueError(f"cells {bad} are not grid cell ids like '31_38'")
        return v

    @field_validator("location_keys")
    def _keys(cls, v):
        if v is not None and not [k for k in v if k.strip()]:
            raise ValueError("location_keys must list at least one key")
        return v

    def given(self) -> list[str]:
        return [k for k in _SHAPE_KEYS if getattr(self, k) is not None]

    @model_validator(mode="after")
    def _one(self) -> Shape:
        self._check_one(allow_none=False)
        return self

    def _check_one(self, allow_none: bool) -> None:
        given = self.given()
        if len(given) > 1 or (not given and not allow_none):
            raise ValueError(f"give exactly one of {', '.join(_SHAPE_KEYS)} (got {given or 'none'})")
        if self.layer is not None and self.path is None:
            raise ValueError("layer goes with path")


class ControlShape(Shape):
    """One of the target's shape options, or rest_of_agency: true (the agency area minus target and buffer)."""

    rest_of_agency: bool = False

    @model_validator(mode="after")
    def _one(self) -> ControlShape:
        self._check_one(allow_none=True)
        given = self.given()
        if self.rest_of_agency and given:
            raise ValueError(f"rest_of_agency: true excludes {given}")
        if not self.rest_of_agency and not given:
            raise ValueError(f"give exactly one of {', '.join(_SHAPE_KEYS)}, or rest_of_agency: true")
        if self.location_keys is not None:
            raise ValueError("a control is an area: location_keys are for targets")
        return self


class ProblemConfig(Strict):
    name: str
    description: str = ""
    agency: str
    dataset: Literal["calls", "incidents"]
    categories: list[str] | None = Field(
        default=None, description="call_category / offense_category values; ['*'] = every category")
    event_types: list[str] | None = Field(default=None, description="call_type / offense values")
    origin: Literal["all", "community", "officer", "unknown"] = "all"
    target: Shape
    buffer_m: float = Field(gt=0)
    control: ControlShape
    response_date: date
    pre: Window
    post: Window
    time_weights: tuple[float, float] | None = None
    control_weighting: Literal["area", "none"] = Field(
        default="area", description="area: scale the control's counts to the target's and the buffer's area")

    @field_validator("name")
    def _name(cls, v: str) -> str:
        if not IDENT_RE.match(v):
            raise ValueError(f"name {v!r} must be letters, digits and _")
        return v

    @field_validator("time_weights")
    def _tw(cls, v):
        if v is not None and not all(math.isfinite(w) and w > 0 for w in v):
            raise ValueError("time_weights must be positive (pre, post)")
        return v

    @model_validator(mode="after")
    def _check(self) -> ProblemConfig:
        if not self.categories and not self.event_types:
            raise ValueError("give categories and/or event_types (categories: ['*'] counts every category)")
        if self.pre.end >= self.response_date:
            raise ValueError(f"pre.end {self.pre.end} must be before response_date {self.response_date}")
        if self.post.start < self.response_date:
            raise ValueError(f"post.start {self.post.start} must be on or after response_date {self.response_date}")
        return self

    @property
    def weights(self) -> tuple[float, float]:
        return self.time_weights or (1.0, 1.0)

    @property
    def all_categories(self) -> bool:
        return bool(self.categories) and "*" in self.categories


def problems_dir(settings: Settings) -> Path:
    """The problems folder: sara.toml `problems_dir`, else config/problems."""
    return settings.resolve(settings.sara.problems_dir)


def load_problem(settings: Settings, path: Path) -> ProblemConfig:
    p = load_named_yaml(path, ProblemConfig, settings)
    for key, shape in (("target", p.target), ("control", p.control)):
        if shape.path is not None and not settings.resolve(shape.path).exists():
            raise ConfigError(f"{path}: key {key}.path: file not found: {shape.path}")
    return p


def load_problems(settings: Settings, directory: str | Path | None = None) -> list[ProblemConfig]:
    """Validate every *.yaml in the folder (default: `problems_dir`). Raises ConfigError naming the file,
    the key and the reason. A missing folder means no problems."""
    d = problems_dir(settings) if directory is None else settings.resolve(directory)
    if not d.is_dir():
        return []
    return [load_problem(settings, f) for f in sorted(d.glob("*.yaml"))]


def template(name: str, agency: str = "metro") -> str:
    """A commented YAML template for `sara problem new NAME`."""
    if not IDENT_RE.match(name):
        raise ValueError(f"problem name {name!r} must be letters, digits and _")
    return f"""\
# SARA problem: {name}
# Edit, then run the nightly flow (or `sara demo`) and `sara assess {name}`.
# Coordinates are metres in the agency's analysis CRS (sara.toml agencies.<agency>.crs).
name: {name}                       # must equal the file name
description: "what the problem is and what the response was"
agency: {agency}                   # an agency of sara.toml
dataset: calls                     # calls | incidents

# Which events make up the problem: categories (call_category / offense_category) and/or event types
# (call_type / offense). An event counts when its category OR its type is listed. ['*'] = every category.
categories: ["Quality of Life", "Suspicion"]
# event_types: ["DISTURBANCE", "SUSPICIOUS PERSON"]
origin: community                  # all | community | officer | unknown

# The target: exactly one of
#   circle: {{x: ..., y: ..., radius_m: ...}}     analysis CRS
#   wkt: "POLYGON ((...))"                       analysis CRS
#   path: data/layers/target.geojson             polygon file, any CRS (layer: NAME for a multi-layer file)
#   cells: ["31_38", "31_39"]                    grid cells of marts.units
#   location_keys: ["123 MAIN ST"]               location keys of the events
target:
  circle: {{x: 0.0, y: 0.0, radius_m: 150}}

buffer_m: 400                      # displacement buffer: a ring this wide around the target

# The control: one of the target's options (not location_keys), or the rest of the agency area
control:
  rest_of_agency: true

response_date: 2026-06-01
pre: {{start: 2026-01-01, end: 2026-05-31}}     # local dates, inclusive, before the response
post: {{start: 2026-06-01, end: 2026-10-31}}    # local dates, inclusive, from the response on
# time_weights: [151, 153]          # period lengths when they differ (default: raw counts)
# control_weighting: area          # area (default): control counts scaled to target / buffer area; none
"""


# ---------------------------------------------------------------------------------------------------------
# Geometry
# ---------------------------------------------------------------------------------------------------------


def _read_polygon(settings: Settings, path: str, layer: str | None, crs: str):
    import geopandas as gpd

    p = str(settings.resolve(path))
    g = gpd.read_file(p, layer=layer) if layer else gpd.read_file(p)
    if g.crs is None:
        g = g.set_crs("EPSG:4326")
    return shapely.union_all(shapely.make_valid(g.to_crs(crs).geometry.values))


def _grid_cells(con: duckdb.DuckDBPyConnection, agency: str, cells: list[str]):
    rows = con.execute(
        "SELECT unit_id, ST_AsWKB(geom) FROM marts.units WHERE agency = ? AND unit_type = 'grid' "
        "AND list_contains(?, unit_id)", [agency, cells]).fetchall()
    missing = sorted(set(cells) - {r[0] for r in rows})
    if missing:
        raise ConfigError(f"cells {missing} are not grid cells of agency {agency!r} in marts.units")
    return shapely.union_all([shapely.from_wkb(bytes(r[1])) for r in rows])


def _key_points(con: duckdb.DuckDBPyConnection, p: ProblemConfig, round_m: float):
    rows = con.execute(
        "SELECT DISTINCT x, y FROM marts.events WHERE agency = ? AND dataset = ? AND is_located "
        "AND list_contains(?, location_key)", [p.agency, p.dataset, p.target.location_keys]).fetchall()
    if not rows:
        return shapely.Polygon()
    pts = shapely.points(np.array(rows, dtype=np.float64))
    return shapely.union_all(shapely.buffer(pts, max(round_m, 1.0)))


def _shape_geometry(con, settings: Settings, p: ProblemConfig, shape: Shape, crs: str):
    if shape.circle is not None:
        return shapely.Point(shape.circle.x, shape.circle.y).buffer(shape.circle.radius_m, quad_segs=32)
    if shape.wkt is not None:
        return shapely.make_valid(shapely.from_wkt(shape.wkt))
    if shape.path is not None:
        return _read_polygon(settings, shape.path, shape.layer, crs)
    if shape.cells is not None:
        return _grid_cells(con, p.agency, shape.cells)
    return _key_points(con, p, settings.sara.location_round_m)


def problem_geometries(con: duckdb.DuckDBPyConnection, settings: Settings, p: ProblemConfig) -> dict:
    """{'target', 'buffer', 'control'} -> shapely polygon in the agency analysis CRS (exclusive areas)."""
    from transforms.warehouse.geo import agency_area

    ag = settings.sara.agencies[p.agency]
    target = _shape_geometry(con, settings, p, p.target, ag.crs)
    grown = target.buffer(p.buffer_m, quad_segs=32)
    buffer = grown.difference(target)
    if p.control.rest_of_agency:
        boundary = str(settings.resolve(ag.boundary)) if ag.boundary else None
        area = agency_area(boundary, tuple(ag.bbox) if ag.bbox else None, ag.crs)
    else:
        area = _shape_geometry(con, settings, p, p.control, ag.crs)
    control = area.difference(grown)
    return {"target": target, "buffer": buffer, "control": control}


# ---------------------------------------------------------------------------------------------------------
# Marts
# ---------------------------------------------------------------------------------------------------------


def _events(con: duckdb.DuckDBPyConnection, p: ProblemConfig) -> pd.DataFrame:
    where = ["agency = ?", "dataset = ?", "(local_date BETWEEN ? AND ? OR local_date BETWEEN ? AND ?)"]
    params: list = [p.agency, p.dataset, p.pre.start, p.pre.end, p.post.start, p.post.end]
    if p.origin != "all":
        where.append("origin = ?")
        params.append(p.origin)
    if not p.all_categories:
        match = []
        if p.categories:
            match.append("list_contains(?, lower(trim(category)))")
            params.append([c.strip().lower() for c in p.categories])
        if p.event_types:
            match.append("list_contains(?, lower(trim(event_type)))")
            params.append([t.strip().lower() for t in p.event_types])
        where.append("(" + " OR ".join(match) + ")")
    return con.execute(
        f"SELECT local_date, x, y, is_located, location_key FROM marts.events WHERE {' AND '.join(where)}",
        params).df()


def _classify(ev: pd.DataFrame, geoms: dict, p: ProblemConfig) -> np.ndarray:
    """Area label per event (None outside all three areas)."""
    n = len(ev)
    out = np.full(n, None, dtype=object)
    located = ev["is_located"].fillna(False).to_numpy(dtype=bool) & ev["x"].notna().to_numpy() \
        & ev["y"].notna().to_numpy()
    x = ev["x"].to_numpy(dtype=np.float64, na_value=np.nan)
    y = ev["y"].to_numpy(dtype=np.float64, na_value=np.nan)
    free = np.ones(n, dtype=bool)
    if p.target.location_keys is not None:
        keys = set(p.target.location_keys)
        hit = ev["location_key"].isin(keys).to_numpy()
        out[hit] = "target"
        free &= ~hit
    for area in AREAS:
        if area == "target" and p.target.location_keys is not None:
            continue
        g = geoms[area]
        if g.is_empty:
            continue
        shapely.prepare(g)
        idx = np.flatnonzero(free & located)
        hit = np.zeros(n, dtype=bool)
        hit[idx] = shapely.contains_xy(g, x[idx], y[idx])
        out[hit] = area
        free &= ~hit
    return out


def _area_weights(p: ProblemConfig, geoms: dict) -> tuple[float, float, float, float] | None:
    """ptools area weights (control, treated, disp_control, disp_treated) that scale the control's counts
    to the target's area (for the target) and to the buffer's area (for the buffer), so the WDD stays in
    raw counts of target + buffer; None (unweighted) with control_weighting: none or a degenerate area."""
    a_t, a_d, a_c = (float(geoms[k].area) for k in AREAS)
    if p.control_weighting == "none" or min(a_t, a_d, a_c) <= 0:
        return None
    return (a_c / a_t, 1.0, a_c / a_d, 1.0)


def _assess(p: ProblemConfig, counts: dict[str, tuple[int, int]], geoms: dict) -> dict:
    t, b, c = counts["target"], counts["buffer"], counts["control"]
    tw = p.weights
    r = wdd(c, t, c, b, time_weights=tw, area_weights=_area_weights(p, geoms))
    try:
        q = wdq(t, b, c)
        success, measure, quotient, reading = q.success_measure, q.buffer_displacement_measure, q.wdq, \
            q.interpretation
    except ValueError:
        success = measure = quotient = None
        reading = "a control count is 0, so the WDQ is not defined"
    if quotient is not None and not math.isfinite(quotient):
        quotient = None
    drop = e_test(t[0], t[1], n1=tw[0], n2=tw[1], alternative="greater")
    two = e_test(t[0], t[1], n1=tw[0], n2=tw[1], alternative="two-sided")
    return {
        "problem": p.name, "description": p.description, "agency": p.agency, "dataset": p.dataset,
        "origin": p.origin, "response_date": p.response_date,
        "pre_start": p.pre.start, "pre_end": p.pre.end, "post_start": p.post.start, "post_end": p.post.end,
        "pre_days": p.pre.days, "post_days": p.post.days,
        "time_weight_pre": float(tw[0]), "time_weight_post": float(tw[1]),
        "control_weighting": p.control_weighting,
        "target_area_m2": float(geoms["target"].area), "buffer_area_m2": float(geoms["buffer"].area),
        "control_area_m2": float(geoms["control"].area),
        "target_pre": t[0], "target_post": t[1], "buffer_pre": b[0], "buffer_post": b[1],
        "control_pre": c[0], "control_post": c[1],
        "wdd": r.wdd, "wdd_local": r.est_local, "wdd_displace": r.est_displace,
        "wdd_se": r.se, "wdd_z": r.z, "wdd_ci_low": r.ci_low, "wdd_ci_high": r.ci_high, "wdd_p": r.p_value,
        "wdd_alpha": r.alpha, "displace_z": r.z_displace, "displace_p": r.p_displace,
        "wdq_success": success, "wdq_buffer_measure": measure, "wdq": quotient, "wdq_reading": reading,
        "poisson_z": float(poisson_z(t[0], t[1])),
        "etest_p_drop": drop.p_value, "etest_p_two_sided": two.p_value,
        "sentence": plain_language(r, noun=p.dataset),
    }


_EMPTY_DAILY = "problem VARCHAR, area VARCHAR, period VARCHAR, local_date DATE, n BIGINT"
_EMPTY_AREAS = "problem VARCHAR, area VARCHAR, area_m2 DOUBLE, geom GEOMETRY"


def build_problem_marts(con: duckdb.DuckDBPyConnection, settings: Settings,
                        problems: list[ProblemConfig]) -> int:
    """marts.problem_areas, marts.problem_daily and marts.problem_assessment from marts.events.
    Returns the number of problems assessed."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    areas, daily, rows = [], [], []
    for p in problems:
        geoms = problem_geometries(con, settings, p)
        ev = _events(con, p)
        ev["area"] = _classify(ev, geoms, p)
        ev = ev[ev["area"].notna()]
        got = ev.groupby(["area", "local_date"]).size().to_dict() if len(ev) else {}
        counts = {}
        for area in AREAS:
            per = []
            for period, win in (("pre", p.pre), ("post", p.post)):
                tot = 0
                for d in win.dates():
                    n = int(got.get((area, pd.Timestamp(d)), got.get((area, d), 0)))
                    daily.append((p.name, area, period, d, n))
                    tot += n
                per.append(tot)
            counts[area] = (per[0], per[1])
            areas.append((p.name, area, float(geoms[area].area), shapely.to_wkb(geoms[area])))
        rows.append(_assess(p, counts, geoms))

    if areas:
        df = pd.DataFrame(areas, columns=["problem", "area", "area_m2", "wkb"])
        con.register("_pa", pa.Table.from_pandas(df, preserve_index=False))
        con.execute("CREATE OR REPLACE TABLE marts.problem_areas AS "
                    "SELECT problem, area, area_m2, ST_GeomFromWKB(wkb) AS geom FROM _pa")
        con.unregister("_pa")
        df = pd.DataFrame(daily, columns=["problem", "area", "period", "local_date", "n"])
        df["local_date"] = pd.to_datetime(df["local_date"]).dt.date
        con.register("_pd", pa.Table.from_pandas(df, preserve_index=False))
        con.execute("CREATE OR REPLACE TABLE marts.problem_daily AS SELECT problem, area, period, "
                    "CAST(local_date AS DATE) AS local_date, CAST(n AS BIGINT) AS n FROM _pd "
                    "ORDER BY problem, area, local_date")
        con.unregister("_pd")
        con.register("_pas", pa.Table.from_pandas(pd.DataFrame(rows), preserve_index=False))
        con.execute("CREATE OR REPLACE TABLE marts.problem_assessment AS SELECT * FROM _pas ORDER BY problem")
        con.unregister("_pas")
    else:
        con.execute(f"CREATE OR REPLACE TABLE marts.problem_areas ({_EMPTY_AREAS})")
        con.execute(f"CREATE OR REPLACE TABLE marts.problem_daily ({_EMPTY_DAILY})")
        con.execute("CREATE OR REPLACE TABLE marts.problem_assessment (problem VARCHAR, sentence VARCHAR)")
    for table, comment in (
        ("problem_areas", "SARA problems: target, buffer (ring) and control polygons, agency analysis CRS"),
        ("problem_daily", "SARA problems: events per area and local date of the pre and post windows "
                          "(zeros included)"),
        ("problem_assessment", "SARA problems: pre/post counts and WDD, WDQ, Poisson z and E-test of the target; "
                               "WDD uses the control for both target and buffer"),
    ):
        con.execute(f"COMMENT ON TABLE marts.{table} IS '{comment}'")
    return len(rows)
