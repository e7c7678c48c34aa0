"""SARA problems (transforms/config/problems.py: one YAML file per place-based intervention), assessed with
WDD, WDQ, Poisson z and the E-test. `build_problem_marts` writes three marts:

- marts.problem_areas       one row per problem and area ('target', 'buffer', 'control') with its polygon
                            (analysis CRS of the agency)
- marts.problem_daily       one row per problem, area and local date of the pre and post windows, with the
                            count n (zeros included)
- marts.problem_assessment  one row per problem: pre/post counts of the three areas and the measures of
                            transforms.stats.wdd

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

import duckdb
import numpy as np
import polars as pl
import shapely

from transforms.config import ConfigError, Settings
from transforms.config.problems import ProblemConfig, Shape, load_problems
from transforms.marts.models import read_model
from transforms.marts.write import Mart, write_mart
from transforms.stats.wdd import e_test, plain_language, poisson_z, wdd, wdq

# load_problems (transforms/config/problems.py) is still imported from here by transforms/warehouse/parts.py
__all__ = ["AREAS", "build_problem_marts", "load_problems", "problem_geometries"]

AREAS = ("target", "buffer", "control")

PROBLEM_AREAS = Mart(
    "problem_areas", "problem VARCHAR, area VARCHAR, area_m2 DOUBLE, geom GEOMETRY",
    "SARA problems: target, buffer (ring) and control polygons, agency analysis CRS",
    column_comments={
        "problem": "the tracked problem's name (its file in the problems folder)",
        "area": "target, buffer (ring of buffer_m around the target) or control",
        "area_m2": "the area's area, m² (analysis CRS)",
        "geom": "the area's polygon, the agency's analysis CRS (metres)",
    })
PROBLEM_DAILY = Mart(
    "problem_daily", "problem VARCHAR, area VARCHAR, period VARCHAR, local_date DATE, n BIGINT",
    "SARA problems: events per area and local date of the pre and post windows (zeros included)",
    column_comments={
        "problem": "the tracked problem's name",
        "area": "target, buffer or control",
        "period": "pre or post (the windows before and after response_date)",
        "local_date": "the day, local date (agency zone)",
        "n": "events of the problem's dataset, categories and origin in the area that day (zeros included)",
    })
PROBLEM_ASSESSMENT = Mart(
    "problem_assessment",
    "problem VARCHAR, description VARCHAR, agency VARCHAR, dataset VARCHAR, origin VARCHAR, response_date DATE, "
    "pre_start DATE, pre_end DATE, post_start DATE, post_end DATE, pre_days BIGINT, post_days BIGINT, "
    "time_weight_pre DOUBLE, time_weight_post DOUBLE, control_weighting VARCHAR, target_area_m2 DOUBLE, "
    "buffer_area_m2 DOUBLE, control_area_m2 DOUBLE, target_pre BIGINT, target_post BIGINT, buffer_pre BIGINT, "
    "buffer_post BIGINT, control_pre BIGINT, control_post BIGINT, wdd DOUBLE, wdd_local DOUBLE, "
    "wdd_displace DOUBLE, wdd_se DOUBLE, wdd_z DOUBLE, wdd_ci_low DOUBLE, wdd_ci_high DOUBLE, wdd_p DOUBLE, "
    "wdd_alpha DOUBLE, displace_z DOUBLE, displace_p DOUBLE, wdq_success DOUBLE, wdq_buffer_measure DOUBLE, "
    "wdq DOUBLE, wdq_reading VARCHAR, poisson_z DOUBLE, etest_p_drop DOUBLE, etest_p_two_sided DOUBLE, "
    "sentence VARCHAR",
    "SARA problems: pre/post counts and WDD, WDQ, Poisson z and E-test of the target; WDD uses the control for "
    "both target and buffer",
    column_comments={
        "problem": "the tracked problem's name",
        "description": "the problem's description, from its file",
        "origin": "the origin counted (the problem's origin): all, community, officer or unknown",
        "response_date": "the local date the response started; the pre period ends before it, post starts "
                         "on or after it",
        "pre_start": "first local date of the pre period",
        "pre_end": "last local date of the pre period",
        "post_start": "first local date of the post period",
        "post_end": "last local date of the post period",
        "pre_days": "days in the pre period",
        "post_days": "days in the post period",
        "time_weight_pre": "weight of the pre period's counts (time_weights; 1 = raw counts)",
        "time_weight_post": "weight of the post period's counts",
        "control_weighting": "area (control counts scaled to the target's and the buffer's area) or none",
        "target_area_m2": "target area, m²",
        "buffer_area_m2": "buffer area, m²",
        "control_area_m2": "control area, m²",
        "target_pre": "events in the target, pre period",
        "target_post": "events in the target, post period",
        "buffer_pre": "events in the buffer, pre period",
        "buffer_post": "events in the buffer, post period",
        "control_pre": "events in the control, pre period",
        "control_post": "events in the control, post period",
        "wdd": "weighted displacement difference (Wheeler & Ratcliffe 2018) of target + buffer, events (< 0: "
               "fewer than the control predicts)",
        "wdd_local": "the target's part: its change net of the control",
        "wdd_displace": "the buffer's part: its change net of the control (> 0: displacement)",
        "wdd_se": "standard error of wdd (Poisson)",
        "wdd_z": "wdd / wdd_se",
        "wdd_ci_low": "lower bound of the 1 - wdd_alpha confidence interval of wdd",
        "wdd_ci_high": "upper bound of that interval",
        "wdd_p": "two-sided p of wdd_z",
        "wdd_alpha": "the interval's alpha",
        "displace_z": "z of the buffer's own change (wdd_displace)",
        "displace_p": "two-sided p of displace_z",
        "wdq_success": "WDQ success measure S = target_post/control_post - target_pre/control_pre (< 0: the "
                       "target improved; Bowers & Johnson 2003)",
        "wdq_buffer_measure": "buffer displacement measure M = buffer_post/control_post - "
                              "buffer_pre/control_pre",
        "wdq": "weighted displacement quotient M / S; null when a control count is 0",
        "wdq_reading": "what the WDQ says (meaningful only when S < 0)",
        "poisson_z": "2 (sqrt(target_post) - sqrt(target_pre)), raw counts",
        "etest_p_drop": "E-test p, one-sided: the target's rate dropped (time weights as exposures)",
        "etest_p_two_sided": "E-test p, two-sided",
        "sentence": "the result in one plain sentence",
    })


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


def _events(con: duckdb.DuckDBPyConnection, p: ProblemConfig) -> pl.DataFrame:
    """The problem's events on the dates of its pre and post windows (sql/marts/inputs/problem_events.sql)."""
    return read_model(
        con, "inputs/problem_events", agency=p.agency, dataset=p.dataset, origin=p.origin,
        pre_start=p.pre.start, pre_end=p.pre.end, post_start=p.post.start, post_end=p.post.end,
        all_categories=p.all_categories,
        categories=[c.strip().lower() for c in p.categories] if p.categories else None,
        event_types=[t.strip().lower() for t in p.event_types] if p.event_types else None)


def _classify(ev: pl.DataFrame, geoms: dict, p: ProblemConfig) -> np.ndarray:
    """Area label per event (None outside all three areas)."""
    n = len(ev)
    out = np.full(n, None, dtype=object)
    x = ev["x"].cast(pl.Float64).to_numpy()  # null -> NaN
    y = ev["y"].cast(pl.Float64).to_numpy()
    located = ev["is_located"].fill_null(False).to_numpy().astype(bool) & ~np.isnan(x) & ~np.isnan(y)
    free = np.ones(n, dtype=bool)
    if p.target.location_keys is not None:
        hit = ev["location_key"].is_in(list(set(p.target.location_keys))).fill_null(False).to_numpy()
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


def build_problem_marts(con: duckdb.DuckDBPyConnection, settings: Settings,
                        problems: list[ProblemConfig]) -> int:
    """marts.problem_areas, marts.problem_daily and marts.problem_assessment from marts.events.
    Returns the number of problems assessed."""
    con.execute("CREATE SCHEMA IF NOT EXISTS marts")
    areas, daily, rows = [], [], []
    for p in problems:
        geoms = problem_geometries(con, settings, p)
        ev = _events(con, p)
        ev = ev.with_columns(area=pl.Series(_classify(ev, geoms, p), dtype=pl.String)).filter(
            pl.col("area").is_not_null())
        got = {(a, d): n for a, d, n in ev.group_by(["area", "local_date"]).len().iter_rows()}
        counts = {}
        for area in AREAS:
            per = []
            for period, win in (("pre", p.pre), ("post", p.post)):
                tot = 0
                for d in win.dates():
                    n = int(got.get((area, d), 0))
                    daily.append((p.name, area, period, d, n))
                    tot += n
                per.append(tot)
            counts[area] = (per[0], per[1])
            areas.append((p.name, area, float(geoms[area].area), shapely.to_wkb(geoms[area])))
        rows.append(_assess(p, counts, geoms))
    write_mart(con, PROBLEM_AREAS, PROBLEM_AREAS.frame(areas))
    write_mart(con, PROBLEM_DAILY, PROBLEM_DAILY.frame(daily).sort(["problem", "area", "local_date"]))
    write_mart(con, PROBLEM_ASSESSMENT, PROBLEM_ASSESSMENT.frame(rows).sort("problem"))
    return len(rows)
