"""marts.emerging_hotspots: Esri's Emerging Hot Spot Analysis on grid cells x time steps ending at each agency's
as_of.

The cube holds every grid cell of an agency (zero cells included) x ehsa_steps weekly or monthly steps; one
cube per dataset, category group and origin with events. The statistics are transforms.stats.ehsa.

A step is covered when every local date in it is covered for the agency's dataset (inside a source's period
and not an outage day, marts.coverage_daily). A cube with fewer covered steps than configured (or than Esri's
minimum of 10) classifies nothing: its rows have a null pattern and status 'not_enough_covered_steps', and
their message says 'not enough covered steps (n of N)'.
"""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import numpy as np
import polars as pl

from transforms.config import Settings
from transforms.marts.dimensions import ehsa_first_day
from transforms.marts.frames import groups
from transforms.marts.models import read_model, run_model
from transforms.marts.periods import agency_ends, covered_dates, day_ranges
from transforms.marts.units import grid_cells
from transforms.marts.write import Mart, write_mart
from transforms.stats import ehsa
from transforms.stats import gi_star as gi

EMERGING_HOTSPOT_ROWS = Mart(
    "emerging_hotspot_rows",
    "agency VARCHAR, dataset VARCHAR, category_group VARCHAR, origin VARCHAR, unit_id VARCHAR, pattern VARCHAR, "
    "n_hot INTEGER, n_cold INTEGER, final_z DOUBLE, trend_s BIGINT, trend_z DOUBLE, trend_p DOUBLE, trend VARCHAR, "
    "status VARCHAR, message VARCHAR, n_steps BIGINT, step VARCHAR, first_day DATE, as_of DATE, n BIGINT, "
    "n_last_step BIGINT",
    "the rows of marts.emerging_hotspots without geometry",
    column_comments={
        "unit_id": "the grid cell (marts.units, unit_type grid)",
        "pattern": "Esri's emerging hot spot pattern (New, Consecutive, Intensifying, Persistent, "
                   "Diminishing, Sporadic, Oscillating, Historical Hot/Cold Spot, or No Pattern Detected); "
                   "null when not classified",
        "n_hot": "steps in which the cell is a significant hot spot (space-time Gi*, FDR over the cube)",
        "n_cold": "steps in which it is a significant cold spot",
        "final_z": "space-time Gi* z of the last step",
        "trend_s": "Mann-Kendall S of the cell's z series over the steps",
        "trend_z": "Mann-Kendall z of that trend",
        "trend_p": "two-sided p of the Mann-Kendall trend",
        "trend": "direction of the trend: up, down or none (at ehsa_alpha)",
        "status": "ok, too_few_steps (fewer than 10 steps) or not_enough_covered_steps (outages or days "
                  "outside the data): not classified, statistics null",
        "message": "status in words",
        "n_steps": "steps of the cube ([analysis] ehsa_steps)",
        "step": "the step length: week or month ([analysis] ehsa_step)",
        "first_day": "first local date (agency zone) of the cube",
        "as_of": "last local date of the cube: the agency's as_of",
        "n": "the cell's own events over the whole cube (a cell can be hot through its neighbours alone, n = "
             "0)",
        "n_last_step": "the cell's own events in the last step",
    })
NOT_COVERED = "not_enough_covered_steps"


def _steps(ev: pl.DataFrame, settings: Settings, as_of: date) -> pl.DataFrame:
    """Each event's time step: 0 (the first) .. ehsa_steps - 1 (the one ending at as_of)."""
    an = settings.sara.analysis
    T = an.ehsa_steps
    d = pl.col("local_date")
    if an.ehsa_step == "week":
        back = (pl.lit(as_of) - d).dt.total_days() // 7
    else:
        back = (as_of.year - d.dt.year().cast(pl.Int64)) * 12 + (as_of.month - d.dt.month().cast(pl.Int64))
    return ev.with_columns(step=(T - 1) - back)


def step_days(settings: Settings, as_of: date) -> list[list[date]]:
    """The local dates of each step, first to last (the last step ends at as_of)."""
    first = ehsa_first_day(settings, as_of)
    days = [first + timedelta(days=i) for i in range((as_of - first).days + 1)]
    out: list[list[date]] = []
    for d in days:
        if settings.sara.analysis.ehsa_step == "week":
            k = (d - first).days // 7
        else:
            k = (d.year - first.year) * 12 + d.month - first.month
        while len(out) <= k:
            out.append([])
        out[k].append(d)
    return out


def covered_steps(settings: Settings, as_of: date, covered: set[date]) -> int:
    """How many of the cube's steps have every local date covered."""
    return sum(all(d in covered for d in step) for step in step_days(settings, as_of))


def _unclassified(n_cells: int) -> dict:
    """The statistic columns of a cube that classifies nothing (all null)."""
    types = {"pattern": pl.String, "n_hot": pl.Int32, "n_cold": pl.Int32, "final_z": pl.Float64,
             "trend_s": pl.Int64, "trend_z": pl.Float64, "trend_p": pl.Float64, "trend": pl.String}
    return {c: pl.Series(c, [None] * n_cells, dtype=t) for c, t in types.items()}


def build_emerging(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date | None = None) -> int:
    """marts.emerging_hotspot_rows and the marts.emerging_hotspots view, each agency's cube ending at its as_of
    (or at the date given); returns the number of rows."""
    an = settings.sara.analysis
    T = an.ehsa_steps
    ends = agency_ends(con, as_of)
    ev = read_model(con, "inputs/grid_cell_days", ranges=day_ranges(ends, lambda end: ehsa_first_day(settings, end)))
    events = dict(groups(ev, ["agency"]))
    covered = covered_dates(con)
    offsets = [tuple(o) for o in gi.grid_offsets(an.cell_size_m, an.gi_distance_m)]
    out = []
    for (agency,), c in groups(grid_cells(con), ["agency"]):
        pos = pl.DataFrame({"unit_id": c["unit_id"], "_pos": np.arange(len(c))})
        e = events.get((agency,))
        if e is None:
            continue
        end = ends[agency]
        start = ehsa_first_day(settings, end)
        e = _steps(e, settings, end)
        for (dataset, group, origin), g in groups(e, ["dataset", "category_group", "origin"]):
            cube = np.zeros((len(c), T))
            agg = g.group_by(["unit_id", "step"]).agg(pl.col("n").sum()).join(pos, on="unit_id", how="left")
            cube[agg["_pos"].to_numpy(), agg["step"].to_numpy()] = agg["n"].to_numpy()
            n_covered = covered_steps(settings, end, covered.get((agency, dataset), set()))
            if n_covered < T:
                status, message = NOT_COVERED, f"not enough covered steps ({n_covered} of {T})"
                cells = pl.DataFrame(_unclassified(len(c)))
            else:
                res = ehsa.emerging_hot_spots(c["ix"].to_numpy(), c["iy"].to_numpy(), cube, offsets=offsets,
                                              k_time=an.ehsa_k, alpha=an.ehsa_alpha)
                status, message, cells = res.status, res.message, res.cells.drop("ix", "iy")
            out.append(cells.with_columns(
                agency=pl.lit(agency), dataset=pl.lit(dataset), category_group=pl.lit(group),
                origin=pl.lit(origin), unit_id=c["unit_id"], status=pl.lit(status),
                message=pl.lit(message), n_steps=pl.lit(T), step=pl.lit(an.ehsa_step),
                first_day=pl.lit(start), as_of=pl.lit(end),
                n=pl.Series(cube.sum(axis=1).astype(np.int64)), n_last_step=pl.Series(cube[:, -1].astype(np.int64))))
    n = write_mart(con, EMERGING_HOTSPOT_ROWS, pl.concat(out, how="vertical_relaxed") if out else None)
    run_model(con, "emerging_hotspots")
    return n
