"""Kernel density on grid cells, and how well last period's hot spots predicted this period's events.

- marts.kde                quartic kernel density (events per km²) at grid cell centres, per window and
                           dimension (transforms.stats.kde)
- marts.hotspot_accuracy   hit rate, PAI (Chainey et al. 2008) and PEI at 1, 5 and 10 % of the area for last
                           period's top cells by Gi* z and by KDE (transforms.stats.accuracy)
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from transforms.config import Settings
from transforms.marts.frames import groups
from transforms.marts.models import read_model, run_model
from transforms.marts.periods import agency_ends, day_ranges
from transforms.marts.units import cell_centres, grid_cells
from transforms.marts.write import Mart, write_mart
from transforms.stats import gi_star as gi
from transforms.stats.accuracy import prediction_accuracy
from transforms.stats.kde import quartic_kde_sets

DIMS = ["dataset", "category_group", "origin"]

KDE_ROWS = Mart(
    "kde_rows",
    "agency VARCHAR, unit_id VARCHAR, dataset VARCHAR, category_group VARCHAR, origin VARCHAR, window_days BIGINT, "
    "bandwidth_m DOUBLE, events BIGINT, density_km2 DOUBLE",
    "the rows of marts.kde without geometry",
    column_comments={
        "unit_id": "the grid cell (marts.units, unit_type grid) at whose centre the density is estimated",
        "bandwidth_m": "kernel bandwidth, metres ([analysis] kde_bandwidth_m)",
        "events": "located events of the combination in the window (the kernel's input)",
        "density_km2": "quartic kernel density at the cell centre, events per km²",
    })
HOTSPOT_ACCURACY = Mart(
    "hotspot_accuracy",
    "agency VARCHAR, dataset VARCHAR, category_group VARCHAR, origin VARCHAR, method VARCHAR, coverage DOUBLE, "
    "n_cells BIGINT, area DOUBLE, area_share DOUBLE, n_events DOUBLE, total_events DOUBLE, hit_rate DOUBLE, "
    "pai DOUBLE, n_best DOUBLE, pai_best DOUBLE, pei DOUBLE, last_period VARCHAR, this_period VARCHAR",
    "prediction accuracy of last period's top grid cells (by Gi* z and by KDE) for this period's events: hit "
    "rate, PAI = (n/N)/(a/A) (Chainey et al. 2008), PEI = PAI / best possible PAI, at 1, 5 and 10 % area "
    "coverage; periods of prediction_period_days ending at the agency's as_of",
    column_comments={
        "method": "how last period's cells were ranked: gi_star (Gi* z) or kde (kernel density)",
        "coverage": "the share of the study area selected (0.01, 0.05, 0.10): the top cells whose area "
                    "reaches it",
        "n_cells": "grid cells selected",
        "area": "area of the selected cells, m²",
        "area_share": "area / the study area (a / A), 0..1",
        "n_events": "this period's events in the selected cells (n)",
        "total_events": "this period's events in every cell (N)",
        "hit_rate": "n / N, 0..1",
        "pai": "Prediction Accuracy Index (n/N)/(a/A) (Chainey, Tompson & Uhlig 2008)",
        "n_best": "this period's events in the same number of cells with the most events this period (n*)",
        "pai_best": "the best possible PAI for that number of cells, (n*/N)/(a/A)",
        "pei": "Prediction Efficiency Index PAI / best PAI = n / n* (Hunt 2016), 0..1; null when n* = 0",
        "last_period": "the period the cells were ranked on: 'first..last' local dates "
                       "(prediction_period_days)",
        "this_period": "the period whose events are predicted: 'first..last' local dates, ending at as_of",
    })


def build_kde(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> int:
    """marts.kde_rows and the marts.kde view, each agency's windows ending at its as_of (or at the date
    given); returns the number of rows."""
    an = settings.sara.analysis
    ends = agency_ends(con, as_of)
    cells = list(groups(grid_cells(con), ["agency"]))
    out = []
    for w in an.kde_windows_days:
        ranges = day_ranges(ends, lambda end, w=w: end - timedelta(days=w - 1))
        pts = read_model(con, "inputs/grid_points", ranges=ranges)
        ev = dict(groups(pts, ["agency"]))
        for (agency,), c in cells:
            cx, cy = cell_centres(c, settings, agency)
            e = ev.get((agency,))
            if e is None:
                continue
            e, keys = _set_codes(e)
            # one term per point, weighted by its events (inputs/grid_points.sql); every combination at once
            dens = quartic_kde_sets(e["x"].to_numpy(), e["y"].to_numpy(), cx, cy, an.kde_bandwidth_m,
                                    weights=e["n"].to_numpy(), sets=e["_set"].to_numpy(), n_sets=len(keys),
                                    unit="km2")
            n_events = e.group_by("_set").agg(pl.col("n").sum()).sort("_set")["n"].to_list()
            for code, (dataset, group, origin) in enumerate(keys):
                out.append(pl.DataFrame({"agency": agency, "unit_id": c["unit_id"], "dataset": dataset,
                                         "category_group": group, "origin": origin, "window_days": w,
                                         "bandwidth_m": float(an.kde_bandwidth_m), "events": n_events[code],
                                         "density_km2": dens[:, code]}))
    n = write_mart(con, KDE_ROWS, pl.concat(out) if out else None)
    run_model(con, "kde")
    return n


def build_accuracy(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> int:
    """marts.hotspot_accuracy, each agency's periods ending at its as_of (or at the date given); returns the
    number of rows."""
    an = settings.sara.analysis
    L = an.prediction_period_days
    ends = agency_ends(con, as_of)
    ev = read_model(con, "inputs/grid_events", ranges=day_ranges(ends, lambda end: end - timedelta(days=2 * L - 1)))
    events = dict(groups(ev, ["agency"]))
    offsets = gi.grid_offsets(an.cell_size_m, an.gi_distance_m)
    out = []
    for (agency,), c in groups(grid_cells(con), ["agency"]):
        pos = pl.DataFrame({"unit_id": c["unit_id"], "_pos": np.arange(len(c))})
        cx, cy = cell_centres(c, settings, agency)
        e = events.get((agency,))
        if e is None:
            continue
        end = ends[agency]
        this_start, last_end = end - timedelta(days=L - 1), end - timedelta(days=L)
        last_start = last_end - timedelta(days=L - 1)
        e, keys = _set_codes(e.with_columns(is_this=pl.col("local_date") >= this_start))
        before = e.filter(~pl.col("is_this"))
        # last period's density of every combination at once
        kde_last = quartic_kde_sets(before["x"].to_numpy(), before["y"].to_numpy(), cx, cy, an.kde_bandwidth_m,
                                    sets=before["_set"].to_numpy(), n_sets=len(keys))
        for (code,), g in groups(e, ["_set"]):
            dataset, group, origin = keys[code]
            last, this = g.filter(~pl.col("is_this")), g.filter(pl.col("is_this"))
            if last.is_empty() or this.is_empty():
                continue
            y_last = np.bincount(last.join(pos, on="unit_id", how="left")["_pos"].to_numpy(),
                                 minlength=len(c)).astype(float)
            y_this = np.bincount(this.join(pos, on="unit_id", how="left")["_pos"].to_numpy(),
                                 minlength=len(c)).astype(float)
            scores = {
                "gi_star": gi.gi_star_grid(c["ix"].to_numpy(), c["iy"].to_numpy(), y_last, offsets).z,
                "kde": kde_last[:, code],
            }
            for method, sc in scores.items():
                acc = prediction_accuracy(sc, y_this, c["area_m2"].to_numpy(), cell_id=np.arange(len(c)))
                out.append(acc.with_columns(
                    agency=pl.lit(agency), dataset=pl.lit(dataset), category_group=pl.lit(group),
                    origin=pl.lit(origin), method=pl.lit(method), last_period=pl.lit(f"{last_start}..{last_end}"),
                    this_period=pl.lit(f"{this_start}..{end}")))
    return write_mart(con, HOTSPOT_ACCURACY, pl.concat(out, how="vertical_relaxed") if out else None)


def _set_codes(e: pl.DataFrame) -> tuple[pl.DataFrame, list[tuple]]:
    """The rows with a null dimension left out, each coded by its combination of DIMS (column _set, 0 .. n-1
    in ascending key order), and the combinations in code order."""
    e = e.drop_nulls(DIMS)
    keys = sorted(e.select(DIMS).unique().iter_rows())
    code = pl.DataFrame([pl.Series(d, [k[i] for k in keys], dtype=e.schema[d]) for i, d in enumerate(DIMS)]
                        + [pl.Series("_set", range(len(keys)), dtype=pl.Int64)])
    return e.join(code, on=DIMS, how="left", maintain_order="left"), keys
