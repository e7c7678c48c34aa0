"""marts.emerging_hotspots: Esri's Emerging Hot Spot Analysis on grid cells x time steps ending at as_of.

The cube holds every grid cell of an agency (zero cells included) x ehsa_steps weekly or monthly steps; one
cube per dataset, category group and origin with events. The statistics are transforms.stats.ehsa.
"""

from __future__ import annotations

from datetime import date

import duckdb
import numpy as np
import polars as pl

from transforms.config import Settings
from transforms.marts.dimensions import ehsa_first_day
from transforms.marts.frames import groups
from transforms.marts.models import read_model, run_model
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
    "the rows of marts.emerging_hotspots without geometry")


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


def build_emerging(con: duckdb.DuckDBPyConnection, settings: Settings, as_of: date) -> int:
    """marts.emerging_hotspot_rows and the marts.emerging_hotspots view; returns the number of rows."""
    an = settings.sara.analysis
    T = an.ehsa_steps
    start = ehsa_first_day(settings, as_of)
    ev = _steps(read_model(con, "inputs/grid_events", start_date=start, end_date=as_of), settings, as_of)
    events = dict(groups(ev, ["agency"]))
    offsets = [tuple(o) for o in gi.grid_offsets(an.cell_size_m, an.gi_distance_m)]
    out = []
    for (agency,), c in groups(grid_cells(con), ["agency"]):
        pos = pl.DataFrame({"unit_id": c["unit_id"], "_pos": np.arange(len(c))})
        e = events.get((agency,))
        if e is None:
            continue
        for (dataset, group, origin), g in groups(e, ["dataset", "category_group", "origin"]):
            cube = np.zeros((len(c), T))
            agg = g.group_by(["unit_id", "step"]).len().join(pos, on="unit_id", how="left")
            cube[agg["_pos"].to_numpy(), agg["step"].to_numpy()] = agg["len"].to_numpy()
            res = ehsa.emerging_hot_spots(c["ix"].to_numpy(), c["iy"].to_numpy(), cube, offsets=offsets,
                                          k_time=an.ehsa_k, alpha=an.ehsa_alpha)
            out.append(res.cells.drop("ix", "iy").with_columns(
                agency=pl.lit(agency), dataset=pl.lit(dataset), category_group=pl.lit(group),
                origin=pl.lit(origin), unit_id=c["unit_id"], status=pl.lit(res.status),
                message=pl.lit(res.message), n_steps=pl.lit(T), step=pl.lit(an.ehsa_step),
                first_day=pl.lit(start), as_of=pl.lit(as_of),
                n=pl.Series(cube.sum(axis=1).astype(np.int64)), n_last_step=pl.Series(cube[:, -1].astype(np.int64))))
    n = write_mart(con, EMERGING_HOTSPOT_ROWS, pl.concat(out) if out else None)
    run_model(con, "emerging_hotspots")
    return n
